/* Broken on purpose: defines PUFFER_SELF_RESET but has no final_observations member. */
#include "puffer.h"
#define PUFFER_SELF_RESET 1
typedef struct { float n; } Log;
typedef struct {
    Log log; float* observations; int* actions; float* rewards;
    unsigned char* terminals; unsigned char* truncations; uint64_t rng; int level;
} Env;
void c_init(Env* env) { (void)env; }
void c_reset(Env* env) { env->observations[0] = 0.0f; }
void c_step(Env* env) { env->rewards[0] = 0.0f; env->terminals[0] = env->truncations[0] = 0; }
void c_close(Env* env) { (void)env; }

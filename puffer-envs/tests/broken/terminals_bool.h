/* Broken on purpose: _Bool* terminals (bool is not the uint8 buffer convention) */
#include "puffer.h"

typedef struct {
    float episode_return; float n;
} Log;

typedef struct {
    Log log;
    float* observations;
    int* actions;
    float* rewards;
    _Bool* terminals;
    unsigned char* truncations;
    uint64_t rng;
    int level;
} Env;

void c_init(Env* env) { (void)env; }
void c_reset(Env* env) { for (int i = 0; i < 3; i++) env->observations[i] = 0; }
void c_step(Env* env) { env->rewards[0] = 0; env->terminals[0] = 0; env->truncations[0] = 0; }
void c_close(Env* env) { (void)env; }

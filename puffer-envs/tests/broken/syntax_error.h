/* Broken on purpose: does not compile. */
#include "puffer.h"
typedef struct { float n; } Log;
typedef struct {
    Log log; float* observations; int* actions; float* rewards;
    unsigned char* terminals; unsigned char* truncations; uint64_t rng;
} Env;
void c_init(Env* env) { (void)env; }
void c_reset(Env* env) { env->observations[0] = undeclared_variable; }
void c_step(Env* env) { (void)env; }
void c_close(Env* env) { (void)env; }

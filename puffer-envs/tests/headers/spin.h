/* For the GIL test: c_step spins until Python sets `go` from another thread (which needs the GIL),
 * or gives up after `limit` spins. `saw_go` records which happened. */
#include "puffer.h"

typedef struct { float n; } Log;

typedef struct {
    Log log;
    float* observations;
    int* actions;
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    uint64_t rng;
    int go;
    int saw_go;
    int closes;
    int inits;
    long long limit;
} Spin;

void c_init(Spin* env) { env->inits += 1; }
void c_reset(Spin* env) { env->observations[0] = 0.0f; }
void c_step(Spin* env) {
    volatile int* go = &env->go;
    for (long long i = 0; i < env->limit && !*go; i++) {}
    env->saw_go = *go;
    env->rewards[0] = 0.0f;
    env->terminals[0] = 0;
    env->truncations[0] = 0;
}
void c_close(Spin* env) { env->closes += 1; }

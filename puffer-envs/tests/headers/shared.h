/* For the shared-data hook: every env reads one table that c_shared_init fills once per process.
 * `c_init` records the table's first entry, so a test sees that it ran after the hook. */
#include "puffer.h"

typedef struct { float n; } Log;

typedef struct {
    int squares[16];
    int builds;     /* how often c_shared_init ran */
    int fail_with;  /* set from Python to make it fail */
} Table;

typedef struct {
    Log log;
    float* observations;
    int* actions;
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    uint64_t rng;
    const Table* table;
    int seen_at_init;
} Shared;

int c_shared_init(Table* t) {
    if (t->fail_with) return t->fail_with;
    for (int i = 0; i < 16; i++) t->squares[i] = i * i;
    t->builds += 1;
    return 0;
}

void c_init(Shared* env) { env->seen_at_init = env->table->squares[3]; }
void c_reset(Shared* env) { env->observations[0] = 0.0f; }
void c_step(Shared* env) {
    env->observations[0] = (float)env->table->squares[env->actions[0] & 15];
    env->rewards[0] = 0.0f;
    env->terminals[0] = 0;
    env->truncations[0] = 0;
}
void c_close(Shared* env) { (void)env; }

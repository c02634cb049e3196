/* A small env with one deliberate bug at a time, chosen by the config field `bug`
 * (0 = no bug: the control that passes every conformance check). 3 float observations in
 * [-1, 1], Discrete(2) actions, episodes of 3 to 7 steps. */
#include <stdlib.h>
#include "puffer.h"

#define OBS 3

enum {
    NO_BUG, WRITES_PAST_ROWS, OBS_OUT_OF_BOUNDS, NAN_REWARD, TERMINAL_TWO, USES_RAND, OBS_PARTLY_WRITTEN,
    COUNTS_N_TWICE, IGNORES_SEED, INDEXES_BY_ACTION
};

typedef struct {
    float episode_return;
    float episode_length;
    float n;
} Log;

typedef struct {
    Log log;
    float* observations;
    int* actions;
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    uint64_t rng;
    int bug;
    int tick;
    int length;
    float episode_return;
} Bugs;

static float next_value(Bugs* env) {
    if (env->bug == USES_RAND) return (float)rand() / (float)RAND_MAX;  /* global state: nondeterministic */
    return puffer_uniform(&env->rng, -1.0f, 1.0f);
}

static void observe(Bugs* env) {
    int count = env->bug == OBS_PARTLY_WRITTEN ? OBS - 1 : OBS;
    for (int i = 0; i < count; i++) env->observations[i] = next_value(env);
    if (env->bug == WRITES_PAST_ROWS) env->observations[OBS] = 0.5f;  /* the next agent's row */
    if (env->bug == OBS_OUT_OF_BOUNDS && env->tick == 2) env->observations[1] = 2.0f;
}

void c_init(Bugs* env) { (void)env; }

void c_reset(Bugs* env) {
    if (env->bug == IGNORES_SEED) env->rng = 42;
    env->tick = 0;
    env->length = 3 + puffer_randint(&env->rng, 5);
    env->episode_return = 0.0f;
    observe(env);
}

void c_step(Bugs* env) {
    int action = env->actions[0];
    if (env->bug == INDEXES_BY_ACTION) env->observations[action % 8] = 0.0f;  /* unchecked index */
    env->tick += 1;
    float reward = action == 1 ? 1.0f : 0.0f;
    if (env->bug == NAN_REWARD && env->tick == 3) reward = NAN;
    env->rewards[0] = reward;
    env->episode_return += reward;
    int done = env->tick >= env->length;
    env->terminals[0] = (unsigned char)(done ? (env->bug == TERMINAL_TWO ? 2 : 1) : 0);
    env->truncations[0] = 0;
    if (done) {
        env->log.episode_return += env->episode_return;
        env->log.episode_length += (float)env->tick;
        env->log.n += env->bug == COUNTS_N_TWICE ? 2.0f : 1.0f;  /* the SDK resets the env after this step */
    }
    observe(env);
}

void c_close(Bugs* env) { (void)env; }

/* For the trainer's NaN check: a one-step bandit (the observation is a one-hot cue of the arm that
 * pays) whose env number `bad_env` starts writing a bad value into its observation after
 * `good_steps` steps: NaN (bad_kind 0) or +inf (1). */
#include "puffer.h"

typedef struct {
    float episode_return;
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
    int env_id;       /* set from Python per env */
    int bad_env;
    int good_steps;
    int bad_kind;
    int cue;
    int steps;
} NanObs;

void c_init(NanObs* env) { (void)env; }

void c_reset(NanObs* env) {
    env->cue = puffer_randint(&env->rng, 2);
    env->observations[0] = (float)(env->cue == 0);
    env->observations[1] = (float)(env->cue == 1);
    if (env->env_id == env->bad_env && env->steps >= env->good_steps) env->observations[1] = env->bad_kind == 0 ? NAN : INFINITY;
}

void c_step(NanObs* env) {
    float reward = env->actions[0] == env->cue ? 1.0f : 0.0f;
    env->rewards[0] = reward;
    env->terminals[0] = 1;
    env->truncations[0] = 0;
    env->log.episode_return += reward;
    env->log.n += 1.0f;
    env->steps += 1;  /* every step ends an episode: the SDK calls c_reset */
}

void c_close(NanObs* env) { (void)env; }

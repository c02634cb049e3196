/* {{ cookiecutter.class_name }}: {{ cookiecutter._description_c }}
 *
 * The game: walk to the target on a size x size grid.
 *
 * Observations: two size*size float planes, flattened: plane 0 has a 1 where the agent is,
 * plane 1 a 1 where the target is. Actions: 0 stay, 1 up, 2 down, 3 left, 4 right.
 * Reward +1 on reaching the target (terminal); truncated after max_steps.
 * The convention (see puffer.h): a Log of floats with n last, the buffer pointers, rng, and
 * c_init/c_reset/c_step/c_close. c_step only flags an episode's end: the SDK resets the env.
 */
#include "puffer.h"

typedef struct {
    float episode_return;
    float episode_length;
    float score;          /* 1 when the episode reached the target */
    float n;              /* episodes summed in: always last */
} Log;

typedef struct {
    Log log;
    float* observations;
    int* actions;
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    uint64_t rng;
    /* config (set from Python kwargs before c_init) */
    int size;
    int max_steps;
    /* state */
    int agent_x, agent_y;
    int target_x, target_y;
    int tick;
    float episode_return;
} {{ cookiecutter.class_name }};

static const int MOVE_X[5] = {0, 0, 0, -1, 1};
static const int MOVE_Y[5] = {0, -1, 1, 0, 0};

static inline void mark(float* obs, int size, int plane, int x, int y, float value) {
    obs[plane * size * size + y * size + x] = value;
}

void c_init({{ cookiecutter.class_name }}* env) { (void)env; }

void c_reset({{ cookiecutter.class_name }}* env) {
    int size = env->size;
    env->agent_x = puffer_randint(&env->rng, size);
    env->agent_y = puffer_randint(&env->rng, size);
    do {  /* a target on another cell */
        env->target_x = puffer_randint(&env->rng, size);
        env->target_y = puffer_randint(&env->rng, size);
    } while (env->target_x == env->agent_x && env->target_y == env->agent_y);
    env->tick = 0;
    env->episode_return = 0.0f;
    memset(env->observations, 0, sizeof(float) * (size_t)(2 * size * size));
    mark(env->observations, size, 0, env->agent_x, env->agent_y, 1);
    mark(env->observations, size, 1, env->target_x, env->target_y, 1);
}

static void end_episode({{ cookiecutter.class_name }}* env, float score) {
    env->log.episode_return += env->episode_return;
    env->log.episode_length += (float)env->tick;
    env->log.score += score;
    env->log.n += 1.0f;
}

void c_step({{ cookiecutter.class_name }}* env) {
    int size = env->size;
    unsigned int action = (unsigned int)env->actions[0];
    if (action > 4) action = 0;  /* any int is safe: out-of-range actions stay put */
    mark(env->observations, size, 0, env->agent_x, env->agent_y, 0);
    env->agent_x = puffer_clampi(env->agent_x + MOVE_X[action], 0, size - 1);
    env->agent_y = puffer_clampi(env->agent_y + MOVE_Y[action], 0, size - 1);
    mark(env->observations, size, 0, env->agent_x, env->agent_y, 1);
    env->tick += 1;

    int reached = env->agent_x == env->target_x && env->agent_y == env->target_y;
    env->rewards[0] = reached ? 1.0f : 0.0f;
    env->terminals[0] = (unsigned char)reached;
    env->truncations[0] = (unsigned char)(!reached && env->tick >= env->max_steps);
    env->episode_return += env->rewards[0];
    if (reached || env->tick >= env->max_steps) end_episode(env, (float)reached);
}

void c_close({{ cookiecutter.class_name }}* env) { (void)env; }

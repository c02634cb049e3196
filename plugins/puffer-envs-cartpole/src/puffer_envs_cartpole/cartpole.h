/* CartPole with exactly Gymnasium CartPole-v1's dynamics (Barto, Sutton & Anderson 1983):
 * Euler integration, the same constants and thresholds, a uniform(-0.05, 0.05) start state,
 * reward 1 on every step including the one that ends the episode, terminated when the pole
 * tilts past 12 degrees or the cart leaves [-2.4, 2.4], truncated after max_steps (500).
 * Like Gymnasium's TimeLimit, step 500 is truncated even if it is also terminal.
 *
 * The arithmetic is Gymnasium's, operation for operation, in float32 (Gymnasium computes in
 * float64 and returns float32 observations): from the same state and action the next state agrees
 * with Gymnasium's to float32 rounding (tests/test_cartpole.py checks it). float32 keeps c_step
 * fast: double-precision sincos alone would cost a third of the step.
 *
 * continuous = 1 takes a Box(-1, 1, (1,)) action instead: force = 10 * clip(action, -1, 1) (NaN: 0).
 */
#include "puffer.h"

#define CARTPOLE_OBS_SIZE 4

static const float GRAVITY = 9.8f;
static const float MASSPOLE = 0.1f;
static const float TOTAL_MASS = 1.1f;             /* masspole + masscart (1.0) */
static const float LENGTH = 0.5f;                 /* half the pole's length */
static const float POLEMASS_LENGTH = 0.05f;       /* masspole * length */
static const float FORCE_MAG = 10.0f;
static const float TAU = 0.02f;                   /* seconds between state updates */
static const float X_THRESHOLD = 2.4f;
static const float THETA_THRESHOLD = (float)(12 * 2 * 3.141592653589793 / 360);

typedef struct {
    float episode_return;
    float episode_length;
    float n;
} Log;

typedef struct {
    Log log;
    float* observations;
    union {                      /* the SDK points whichever matches the action space */
        int* actions;            /* Discrete(2): 1 pushes right, anything else pushes left */
        float* continuous_actions;
    };
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    uint64_t rng;
    /* config */
    int continuous;
    int max_steps;
    /* state */
    float x, x_dot, theta, theta_dot;
    int tick;
} CartPole;

static inline void cartpole_observe(CartPole* env) {
    float* obs = env->observations;
    obs[0] = env->x;
    obs[1] = env->x_dot;
    obs[2] = env->theta;
    obs[3] = env->theta_dot;
}

static inline float cartpole_uniform(uint64_t* rng) {
    return puffer_uniform(rng, -0.05f, 0.05f);
}

void c_init(CartPole* env) { (void)env; }

void c_reset(CartPole* env) {
    env->x = cartpole_uniform(&env->rng);
    env->x_dot = cartpole_uniform(&env->rng);
    env->theta = cartpole_uniform(&env->rng);
    env->theta_dot = cartpole_uniform(&env->rng);
    env->tick = 0;
    cartpole_observe(env);
}

void c_step(CartPole* env) {
    float force;
    if (env->continuous) {
        force = FORCE_MAG * puffer_action(env->continuous_actions[0], -1.0f, 1.0f);
    } else {
        force = env->actions[0] == 1 ? FORCE_MAG : -FORCE_MAG;
    }
    /* Gymnasium's operations in Gymnasium's order (rounding follows the order). */
    float x = env->x, x_dot = env->x_dot, theta = env->theta, theta_dot = env->theta_dot;
    float costheta = cosf(theta);
    float sintheta = sinf(theta);
    float temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
    float thetaacc = (GRAVITY * sintheta - costheta * temp)
                      / (LENGTH * (4.0f / 3.0f - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
    float xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
    x = x + TAU * x_dot;
    x_dot = x_dot + TAU * xacc;
    theta = theta + TAU * theta_dot;
    theta_dot = theta_dot + TAU * thetaacc;
    int tick = env->tick + 1;

    int terminated = (fabsf(x) > X_THRESHOLD) | (fabsf(theta) > THETA_THRESHOLD);
    int truncated = tick >= env->max_steps;
    env->rewards[0] = 1.0f;
    env->terminals[0] = (unsigned char)terminated;
    env->truncations[0] = (unsigned char)truncated;
    if (terminated | truncated) {  /* the SDK resets the env after this step */
        env->log.episode_return += (float)tick;  /* reward 1 per step */
        env->log.episode_length += (float)tick;
        env->log.n += 1.0f;
    }
    env->x = x; env->x_dot = x_dot; env->theta = theta; env->theta_dot = theta_dot; env->tick = tick;
    float* obs = env->observations;
    obs[0] = x; obs[1] = x_dot; obs[2] = theta; obs[3] = theta_dot;
}

void c_close(CartPole* env) { (void)env; }

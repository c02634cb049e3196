/* Pong: the agent's paddle on the right against a scripted paddle on the left that tracks the
 * ball at a limited speed (so steep shots beat it).
 *
 * Screen coordinates: x grows to the right, y grows downwards; positions are top-left corners.
 * Observations (8 floats): own paddle y, opponent paddle y, ball x, ball y (all centers, in
 * [-1, 1]), ball vx, vy (in [-1, 1]), own score, opponent score (in [0, 1]).
 * Actions: Discrete(3) = noop, up, down. Reward +1 per point won, -1 per point lost.
 * The episode ends (terminal) when either side reaches max_score, or is truncated at max_steps.
 */
#include "puffer.h"

typedef struct {
    float score;           /* points the agent won in the episode */
    float opponent_score;  /* points the scripted opponent won */
    float episode_return;
    float episode_length;
    float win_fraction;    /* score / (score + opponent_score); 0.5 when no point was played */
    float wins;            /* 1 when the agent reached max_score first */
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

    /* config, set from Python kwargs before c_init */
    int frameskip;          /* frames simulated per agent step, same action */
    float width;            /* field size in pixels */
    float height;
    float paddle_width;
    float paddle_height;
    float ball_size;
    float paddle_speed;     /* agent paddle, pixels per frame */
    float opponent_speed;   /* scripted paddle's max speed, pixels per frame */
    float ball_speed;       /* horizontal speed at a serve */
    float ball_speedup;     /* added to the horizontal speed by every paddle hit */
    float ball_max_speed;   /* cap on the horizontal speed */
    float bounce_speed;     /* |vy| after a hit at the very edge of a paddle; serves use up to half */
    int max_score;          /* first side to reach it wins the game */
    int max_steps;          /* agent steps before the episode is truncated */

    /* state */
    float paddle_y;         /* agent paddle (right), top edge */
    float opponent_y;       /* scripted paddle (left), top edge */
    float ball_x;
    float ball_y;
    float ball_vx;
    float ball_vy;
    int score;
    int opponent_score;
    int steps;

    /* derived in c_init so c_step needs no divisions */
    float left_face;        /* x of the scripted paddle's front face */
    float right_face;       /* x of the agent paddle's front face */
    float max_paddle_y;
    float max_ball_y;
    float inv_half_width;
    float inv_half_height;
    float inv_max_speed;
    float inv_bounce_speed;
    float inv_max_score;
    float inv_hit_span;     /* 1 / (half paddle + half ball): hit offset to [-1, 1] */
} Pong;

/* Ball to the center, random horizontal direction and random angle. */
static void pong_serve(Pong* env) {
    env->ball_x = 0.5f * (env->width - env->ball_size);
    env->ball_y = puffer_uniform(&env->rng, 0.25f, 0.75f) * (env->height - env->ball_size);
    env->ball_vx = (puffer_rand(&env->rng) & 1) ? env->ball_speed : -env->ball_speed;
    env->ball_vy = puffer_uniform(&env->rng, -0.5f, 0.5f) * env->bounce_speed;
}

static inline void pong_observe(Pong* env) {
    float* obs = env->observations;
    float half_paddle = 0.5f * env->paddle_height;
    float half_ball = 0.5f * env->ball_size;
    obs[0] = (env->paddle_y + half_paddle) * env->inv_half_height - 1.0f;
    obs[1] = (env->opponent_y + half_paddle) * env->inv_half_height - 1.0f;
    /* A missed ball runs a little past the field's edge before the point is scored. */
    obs[2] = puffer_clampf((env->ball_x + half_ball) * env->inv_half_width - 1.0f, -1.0f, 1.0f);
    obs[3] = (env->ball_y + half_ball) * env->inv_half_height - 1.0f;
    obs[4] = env->ball_vx * env->inv_max_speed;
    obs[5] = env->ball_vy * env->inv_bounce_speed;
    obs[6] = (float)env->score * env->inv_max_score;
    obs[7] = (float)env->opponent_score * env->inv_max_score;
}

void c_init(Pong* env) {
    /* Guard the divisions below against nonsense config (the SDK passes kwargs through as-is). */
    if (env->frameskip < 1) env->frameskip = 1;
    if (env->max_score < 1) env->max_score = 1;
    if (env->ball_max_speed < env->ball_speed) env->ball_max_speed = env->ball_speed;
    float margin = 2.0f * env->paddle_width;
    env->left_face = margin + env->paddle_width;
    env->right_face = env->width - margin - env->paddle_width;
    env->max_paddle_y = env->height - env->paddle_height;
    env->max_ball_y = env->height - env->ball_size;
    env->inv_half_width = 2.0f / env->width;
    env->inv_half_height = 2.0f / env->height;
    env->inv_max_speed = env->ball_max_speed > 0 ? 1.0f / env->ball_max_speed : 0.0f;
    env->inv_bounce_speed = env->bounce_speed > 0 ? 1.0f / env->bounce_speed : 0.0f;
    env->inv_max_score = 1.0f / (float)env->max_score;
    env->inv_hit_span = 2.0f / (env->paddle_height + env->ball_size);
}

void c_reset(Pong* env) {
    env->score = 0;
    env->opponent_score = 0;
    env->steps = 0;
    env->paddle_y = 0.5f * env->max_paddle_y;
    env->opponent_y = 0.5f * env->max_paddle_y;
    pong_serve(env);
    pong_observe(env);
}

/* vy after a paddle hit: steeper the further from the paddle's center the ball hits. */
static inline float pong_bounce_vy(Pong* env, float paddle_y) {
    float offset = (env->ball_y + 0.5f * env->ball_size) - (paddle_y + 0.5f * env->paddle_height);
    return puffer_clampf(offset * env->inv_hit_span, -1.0f, 1.0f) * env->bounce_speed;
}

static inline float pong_faster(Pong* env, float speed) {
    speed += env->ball_speedup;
    return speed < env->ball_max_speed ? speed : env->ball_max_speed;
}

static void pong_end_episode(Pong* env, float reward, int truncated) {
    float won = (float)env->score, lost = (float)env->opponent_score;
    float points = won + lost;
    env->log.score += won;
    env->log.opponent_score += lost;
    env->log.episode_return += won - lost;
    env->log.episode_length += (float)env->steps;
    env->log.win_fraction += points > 0 ? won / points : 0.5f;
    env->log.wins += env->score >= env->max_score ? 1.0f : 0.0f;
    env->log.n += 1.0f;
    /* The episode's last observation (final score, the ball past the edge on a game point); the SDK
     * resets the env after this step. */
    pong_observe(env);
    env->rewards[0] = reward;
    env->terminals[0] = (unsigned char)!truncated;
    env->truncations[0] = (unsigned char)truncated;
}

void c_step(Pong* env) {
    /* Any action value is safe: anything but 1 (up) or 2 (down) is a noop. */
    int action = env->actions[0];
    float move = action == 1 ? -env->paddle_speed : (action == 2 ? env->paddle_speed : 0.0f);
    float reward = 0.0f;
    env->terminals[0] = 0;
    env->truncations[0] = 0;
    env->steps += 1;

    for (int frame = 0; frame < env->frameskip; frame++) {
        env->paddle_y = puffer_clampf(env->paddle_y + move, 0.0f, env->max_paddle_y);

        /* Scripted opponent: toward the ball's center at most opponent_speed per frame. */
        float chase = env->ball_y + 0.5f * (env->ball_size - env->paddle_height) - env->opponent_y;
        chase = puffer_clampf(chase, -env->opponent_speed, env->opponent_speed);
        env->opponent_y = puffer_clampf(env->opponent_y + chase, 0.0f, env->max_paddle_y);

        float x = env->ball_x + env->ball_vx;
        float y = env->ball_y + env->ball_vy;

        /* Top and bottom walls reflect. */
        if (y < 0.0f) {
            y = -y;
            env->ball_vy = -env->ball_vy;
        } else if (y > env->max_ball_y) {
            y = 2.0f * env->max_ball_y - y;
            env->ball_vy = -env->ball_vy;
        }
        env->ball_y = y;

        /* Paddles: only on the frame the ball crosses a paddle's face, so a missed ball stays missed. */
        if (x < env->left_face && env->ball_x >= env->left_face
                && y + env->ball_size > env->opponent_y && y < env->opponent_y + env->paddle_height) {
            x = 2.0f * env->left_face - x;
            env->ball_vx = pong_faster(env, -env->ball_vx);
            env->ball_vy = pong_bounce_vy(env, env->opponent_y);
        } else if (x + env->ball_size > env->right_face && env->ball_x + env->ball_size <= env->right_face
                && y + env->ball_size > env->paddle_y && y < env->paddle_y + env->paddle_height) {
            x = 2.0f * (env->right_face - env->ball_size) - x;
            env->ball_vx = -pong_faster(env, env->ball_vx);
            env->ball_vy = pong_bounce_vy(env, env->paddle_y);
        }
        env->ball_x = x;

        /* A ball fully past either edge is a point; the game goes on with a new serve. */
        if (x + env->ball_size < 0.0f || x > env->width) {
            int agent_point = x < 0.0f;
            env->score += agent_point;
            env->opponent_score += !agent_point;
            reward += agent_point ? 1.0f : -1.0f;
            if (env->score >= env->max_score || env->opponent_score >= env->max_score) {
                pong_end_episode(env, reward, 0);
                return;
            }
            pong_serve(env);
        }
    }

    if (env->steps >= env->max_steps && env->max_steps > 0) {
        pong_end_episode(env, reward, 1);
        return;
    }
    env->rewards[0] = reward;
    pong_observe(env);
}

void c_close(Pong* env) {
    (void)env;
}

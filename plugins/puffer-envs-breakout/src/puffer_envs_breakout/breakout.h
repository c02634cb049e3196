/* breakout.h: Atari-style Breakout for Puffer (one player, one agent per env struct).
 *
 * The rules follow Atari 2600 Breakout, without the FIRE button (a new ball is served at once):
 *   - 18 x 6 bricks; rows score 1,1,4,4,7,7 from the bottom row to the top row.
 *   - 5 lives; the ball is lost below the paddle.
 *   - The ball speeds up after the 4th and the 12th brick hit of a ball, and the first time a ball
 *     hits an orange (row 5) and a red (row 6) brick; each serve starts at the base speed again.
 *   - The paddle shrinks to half its width the first time the ball hits the top wall (it can only
 *     get there by breaking through the wall) and stays small until the next wall.
 *   - Clearing the wall brings a second wall (as in the original, max score 2 * 432 = 864);
 *     clearing that one ends the game.
 * Coordinates are pixels of a 576 x 330 playfield, y pointing down. One env step is `frameskip`
 * game ticks with the same action; the reward is the brick score gained during them.
 *
 * Actions: Discrete(3) {0 noop, 1 left, 2 right}, or with `continuous` a Box(-1, 1, (1,)) paddle
 * velocity (fraction of the top speed). Observation (float32, 6 + 108):
 *   paddle x (center / width), paddle width / full width, ball x, ball y (center / size),
 *   ball vx, vy (/ top ball speed), then one 0/1 entry per brick, top row first.
 * The action buffer is int32 for the discrete game and float32 for the continuous one: the struct
 * offers both pointer types in an anonymous union and `continuous` picks which one c_step reads.
 */
#include "puffer.h"

#define BK_WIDTH 576.0f
#define BK_HEIGHT 330.0f
#define BK_COLS 18
#define BK_ROWS 6
#define BK_BRICKS 108
#define BK_BRICK_W 32.0f
#define BK_BRICK_H 12.0f
#define BK_BRICK_TOP 70.0f
#define BK_PADDLE_Y 310.0f
#define BK_PADDLE_H 8.0f
#define BK_PADDLE_W 62.0f
#define BK_PADDLE_SPEED 8.0f
#define BK_BALL 8.0f
#define BK_BASE_SPEED 3.0f
#define BK_SPEED_STEP 1.0f
#define BK_MAX_SPEED 7.0f  /* base + 4 speed-ups */
#define BK_MAX_SUBSTEP 4.0f /* < ball size: the ball cannot tunnel through a brick or the paddle */
#define BK_LIVES 5
#define BREAKOUT_OBS_SIZE 114 /* checked by the SDK against the observation space */

typedef struct {
    float score;
    float episode_return;
    float episode_length;
    float lives_lost;
    float n;
} Log;

typedef struct {
    Log log;
    float* observations;
    union {                        /* one action buffer: int32 (Discrete) or float32 (`continuous`) */
        int* actions;
        float* continuous_actions;
    };
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    uint64_t rng;
    /* config */
    int frameskip;
    int continuous;
    int max_steps;
    /* state (public for tests and the renderer) */
    float paddle_x;  /* left edge */
    float paddle_w;
    float ball_x;    /* top-left corner */
    float ball_y;
    float ball_vx;
    float ball_vy;
    float ball_speed;
    int hits;        /* bricks hit by the current ball */
    int hit_orange;  /* the current ball has hit an orange / red brick (its speed-up is spent) */
    int hit_red;
    int shrunk;
    int wall;        /* 0 first wall, 1 second wall */
    int bricks_left;
    int lives;
    int score;
    int tick;        /* env steps in this episode */
    float episode_return;
    int lives_lost;
    unsigned char bricks[108]; /* row-major, row 0 at the top */
} Breakout;

/* Points by row, top row first. */
static const int BK_ROW_POINTS[BK_ROWS] = {7, 7, 4, 4, 1, 1};

static inline int bk_overlap(float ax, float ay, float aw, float ah, float bx, float by, float bw, float bh) {
    return ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah;
}

static void bk_set_speed(Breakout* env, float speed) {
    float old = sqrtf(env->ball_vx * env->ball_vx + env->ball_vy * env->ball_vy);
    env->ball_speed = speed;
    if (old > 0.0f) {
        env->ball_vx *= speed / old;
        env->ball_vy *= speed / old;
    }
}

/* A new ball from a random point below the wall, heading down at up to 45 degrees off vertical. */
static void bk_serve(Breakout* env) {
    env->ball_x = puffer_uniform(&env->rng, 0.1f * BK_WIDTH, 0.9f * BK_WIDTH - BK_BALL);
    env->ball_y = BK_BRICK_TOP + BK_ROWS * BK_BRICK_H + 30.0f;
    float angle = puffer_uniform(&env->rng, -0.785f, 0.785f);
    env->ball_speed = BK_BASE_SPEED;
    env->ball_vx = BK_BASE_SPEED * sinf(angle);
    env->ball_vy = BK_BASE_SPEED * cosf(angle);
    env->hits = 0;
    env->hit_orange = 0;
    env->hit_red = 0;
}

/* A full wall; a shrunk paddle grows back around its center. */
static void bk_new_wall(Breakout* env) {
    memset(env->bricks, 1, sizeof(env->bricks));
    env->bricks_left = BK_BRICKS;
    if (env->shrunk) env->paddle_x -= 0.5f * (BK_PADDLE_W - env->paddle_w);
    env->paddle_x = puffer_clampf(env->paddle_x, 0.0f, BK_WIDTH - BK_PADDLE_W);
    env->shrunk = 0;
    env->paddle_w = BK_PADDLE_W;
}

void c_init(Breakout* env) { (void)env; }

void c_close(Breakout* env) { (void)env; }

/* The observation of the current state, into `obs` (the env's row, or its final-observations row). */
static void bk_write_obs(const Breakout* env, float* obs) {
    obs[0] = (env->paddle_x + 0.5f * env->paddle_w) / BK_WIDTH;
    obs[1] = env->paddle_w / BK_PADDLE_W;
    obs[2] = (env->ball_x + 0.5f * BK_BALL) / BK_WIDTH;
    obs[3] = puffer_clampf((env->ball_y + 0.5f * BK_BALL) / BK_HEIGHT, 0.0f, 1.0f); /* a falling ball passes y = 1 */
    obs[4] = puffer_clampf(env->ball_vx / BK_MAX_SPEED, -1.0f, 1.0f);  /* clamp: rounding of the rescaled speed */
    obs[5] = puffer_clampf(env->ball_vy / BK_MAX_SPEED, -1.0f, 1.0f);
    for (int i = 0; i < BK_BRICKS; i++) obs[6 + i] = (float)env->bricks[i];
}

void c_reset(Breakout* env) {
    env->wall = 0;
    bk_new_wall(env);
    /* Desync: the paddle starts anywhere and the serve is random, so copies diverge at once. */
    env->paddle_x = puffer_uniform(&env->rng, 0.0f, BK_WIDTH - BK_PADDLE_W);
    bk_serve(env);
    env->lives = BK_LIVES;
    env->score = 0;
    env->tick = 0;
    env->episode_return = 0.0f;
    env->lives_lost = 0;
    bk_write_obs(env, env->observations);
}

/* Remove brick `b`, apply the speed rules and return its points. Row 0 is red, row 1 orange. */
static int bk_hit_brick(Breakout* env, int b) {
    int row = b / BK_COLS;
    env->bricks[b] = 0;
    env->bricks_left--;
    env->hits++;
    int speedups = (env->hits == 4) + (env->hits == 12);
    if (row == 0 && !env->hit_red) { env->hit_red = 1; speedups++; }
    if (row == 1 && !env->hit_orange) { env->hit_orange = 1; speedups++; }
    if (speedups > 0) bk_set_speed(env, env->ball_speed + BK_SPEED_STEP * speedups);
    return BK_ROW_POINTS[row];
}

/* The first brick the ball overlaps (at most 2 x 2 candidates), or -1. */
static int bk_find_brick(Breakout* env) {
    float top = env->ball_y - BK_BRICK_TOP, bottom = top + BK_BALL;
    if (bottom <= 0.0f || top >= BK_ROWS * BK_BRICK_H) return -1;
    int r0 = (int)floorf(top / BK_BRICK_H), r1 = (int)floorf((bottom - 1e-4f) / BK_BRICK_H);
    int c0 = (int)floorf(env->ball_x / BK_BRICK_W), c1 = (int)floorf((env->ball_x + BK_BALL - 1e-4f) / BK_BRICK_W);
    r0 = puffer_clampi(r0, 0, BK_ROWS - 1);
    r1 = puffer_clampi(r1, 0, BK_ROWS - 1);
    c0 = puffer_clampi(c0, 0, BK_COLS - 1);
    c1 = puffer_clampi(c1, 0, BK_COLS - 1);
    /* Prefer the brick the ball's center is in, then any other it touches. */
    float cx = env->ball_x + 0.5f * BK_BALL, cy = top + 0.5f * BK_BALL;
    if (cy >= 0.0f && cy < BK_ROWS * BK_BRICK_H) {
        int b = puffer_clampi((int)(cy / BK_BRICK_H), 0, BK_ROWS - 1) * BK_COLS
                + puffer_clampi((int)(cx / BK_BRICK_W), 0, BK_COLS - 1);
        if (env->bricks[b]) return b;
    }
    for (int r = r0; r <= r1; r++)
        for (int c = c0; c <= c1; c++)
            if (env->bricks[r * BK_COLS + c]) return r * BK_COLS + c;
    return -1;
}

/* One game tick: move the paddle, move the ball in small substeps, resolve collisions.
 * Returns the points scored; sets *lost when the ball fell past the paddle. */
static int bk_tick(Breakout* env, float paddle_v, int* lost) {
    env->paddle_x = puffer_clampf(env->paddle_x + paddle_v, 0.0f, BK_WIDTH - env->paddle_w);
    int points = 0;
    int substeps = (int)ceilf(env->ball_speed / BK_MAX_SUBSTEP);
    for (int s = 0; s < substeps; s++) {
        float px = env->ball_x, py = env->ball_y;
        env->ball_x += env->ball_vx / substeps;
        env->ball_y += env->ball_vy / substeps;
        /* Side and top walls. */
        if (env->ball_x < 0.0f) { env->ball_x = -env->ball_x; env->ball_vx = fabsf(env->ball_vx); }
        if (env->ball_x > BK_WIDTH - BK_BALL) {
            env->ball_x = 2.0f * (BK_WIDTH - BK_BALL) - env->ball_x;
            env->ball_vx = -fabsf(env->ball_vx);
        }
        if (env->ball_y < 0.0f) {
            env->ball_y = -env->ball_y;
            env->ball_vy = fabsf(env->ball_vy);
            if (!env->shrunk) {  /* broke through to the top wall: the paddle halves, keeping its center */
                env->shrunk = 1;
                env->paddle_x += 0.25f * env->paddle_w;
                env->paddle_w *= 0.5f;
            }
        }
        /* One brick per substep. The bounce axis is the one the ball crossed into the brick:
         * if it already overlapped the brick's rows before this move it came from the side. */
        int b = bk_find_brick(env);
        if (b >= 0) {
            float by = BK_BRICK_TOP + (b / BK_COLS) * BK_BRICK_H;
            int from_side = py < by + BK_BRICK_H && by < py + BK_BALL;
            points += bk_hit_brick(env, b);
            env->ball_x = px;
            env->ball_y = py;
            if (from_side) env->ball_vx = -env->ball_vx;
            else env->ball_vy = -env->ball_vy;
            if (env->bricks_left == 0) return points;  /* the caller brings the next wall or ends */
            continue;
        }
        /* Paddle: the bounce angle depends on where the ball hits (up to 60 degrees off vertical). */
        if (env->ball_vy > 0.0f
            && bk_overlap(env->ball_x, env->ball_y, BK_BALL, BK_BALL, env->paddle_x, BK_PADDLE_Y, env->paddle_w, BK_PADDLE_H)
            && py + BK_BALL <= BK_PADDLE_Y + BK_PADDLE_H) {
            float offset = (env->ball_x + 0.5f * BK_BALL - env->paddle_x - 0.5f * env->paddle_w)
                           / (0.5f * (env->paddle_w + BK_BALL));
            float angle = puffer_clampf(offset, -1.0f, 1.0f) * 1.047f;
            env->ball_vx = env->ball_speed * sinf(angle);
            env->ball_vy = -env->ball_speed * cosf(angle);
            env->ball_y = BK_PADDLE_Y - BK_BALL;
        }
        if (env->ball_y > BK_HEIGHT) {
            *lost = 1;
            return points;
        }
    }
    return points;
}

static void bk_end_episode(Breakout* env) {
    env->log.score += (float)env->score;
    env->log.episode_return += env->episode_return;
    env->log.episode_length += (float)env->tick;
    env->log.lives_lost += (float)env->lives_lost;
    env->log.n += 1.0f;
}

void c_step(Breakout* env) {
    float paddle_v;
    if (env->continuous) {
        paddle_v = puffer_action(env->continuous_actions[0], -1.0f, 1.0f) * BK_PADDLE_SPEED;  /* NaN: no move */
    } else {
        int a = env->actions[0];  /* anything but 1 or 2 is noop */
        paddle_v = a == 1 ? -BK_PADDLE_SPEED : (a == 2 ? BK_PADDLE_SPEED : 0.0f);
    }
    env->rewards[0] = 0.0f;
    env->terminals[0] = 0;
    env->truncations[0] = 0;
    env->tick++;
    int points = 0, done = 0;
    int frames = env->frameskip > 0 ? env->frameskip : 1;
    for (int f = 0; f < frames && !done; f++) {
        int lost = 0;
        points += bk_tick(env, paddle_v, &lost);
        if (env->bricks_left == 0) {
            if (env->wall == 0) {
                env->wall = 1;
                bk_new_wall(env);
            } else {
                done = 1;
            }
        }
        if (lost) {
            env->lives--;
            env->lives_lost++;
            if (env->lives <= 0) done = 1;
            else bk_serve(env);
        }
    }
    env->score += points;
    env->episode_return += (float)points;
    env->rewards[0] = (float)points;
    if (done) {
        env->terminals[0] = 1;
        bk_end_episode(env);
    } else if (env->max_steps > 0 && env->tick >= env->max_steps) {
        env->truncations[0] = 1;
        bk_end_episode(env);
    }
    /* At an episode's end its last observation (the ball below the paddle, or the cleared second
     * wall): the SDK resets the env after this step. */
    bk_write_obs(env, env->observations);
}

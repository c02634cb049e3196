/* snake.h: multi-agent Snake for Puffer. One env struct is one shared world with `num_snakes`
 * snakes (agents) and `num_food` pieces of food on a `width` x `height` grid.
 *
 * Rules (after PufferLib's snake):
 *   - Snakes move one cell per step, in index order; each sees the world as the earlier ones left it.
 *   - Actions Discrete(4): 0 up, 1 down, 2 left, 3 right. Turning back onto the neck (or a value
 *     outside 0..3) keeps the current direction.
 *   - Eating food or corpse grows the snake by one cell (up to `max_snake_length`) and pays
 *     `reward_food` / `reward_corpse`; eaten food reappears at a random empty cell.
 *   - Hitting a wall, any snake's body or head (its own included) kills the snake: `reward_death`,
 *     terminal=1, and, with `leave_corpse_on_death`, every other cell of its body (from the head)
 *     becomes corpse, so corpses feed others without flooding the grid. The snake respawns at once,
 *     length 1, at a random free cell; the observation of that step is already the new life's.
 *     A snake moving into the cell its own tail is leaving does not die.
 *   - Each life is one episode in the Log (score = the length the snake reached).
 *
 * Observation: uint8 (2v+1) x (2v+1) crop of cell codes centered on the head (v = `vision`):
 *   0 empty, 1 food, 2 corpse, 3 wall (or outside the grid), 4 other snake's body,
 *   5 other snake's head, 6 own body, 7 own head (always the center).
 * The grid is stored padded by `vision` wall cells on every side, so a crop is 2v+1 row memcpys;
 * the viewer's own body cells are then relabeled by walking its body.
 *
 * Final observations (opt-in, puffer.h): a dying snake's row gets its view at the moment of death,
 * before its body is cleared and it respawns: the world as it met the obstacle (the snakes before it
 * in index order have moved), its head still on the cell it could not leave.
 *
 * Memory: the grid and all snake arrays are allocated once in c_init (sized by the config) and
 * freed in c_close; c_step allocates nothing. Bodies are ring buffers of cell indices.
 */
#include <stdlib.h>

#include "puffer.h"

/* Each snake dies and respawns on its own: c_step resets its agents itself (puffer.h). */
#define PUFFER_SELF_RESET 1

#define SN_EMPTY 0
#define SN_FOOD 1
#define SN_CORPSE 2
#define SN_WALL 3
#define SN_BODY 4
#define SN_HEAD 5
#define SN_OWN_BODY 6
#define SN_OWN_HEAD 7

typedef struct {
    float score;
    float episode_return;
    float episode_length;
    float n;
} Log;

typedef struct {
    Log log;
    unsigned char* observations;
    int* actions;
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    unsigned char* final_observations;  /* NULL unless final observations are on (PUFFER_SELF_RESET) */
    uint64_t rng;
    /* config */
    int width;
    int height;
    int num_snakes;
    int num_food;
    int vision;
    int max_snake_length;
    int leave_corpse_on_death;
    float reward_food;
    float reward_corpse;
    float reward_death;
    /* world, allocated in c_init */
    int stride;             /* width + 2 * vision: padded row length */
    unsigned char* grid;    /* (height + 2v) x stride cell codes */
    int* body;              /* num_snakes x max_snake_length padded cell indices, a ring per snake */
    int* head;              /* ring position of each snake's head */
    int* length;
    int* direction;
    float* episode_return;  /* per snake, current life */
    int* episode_length;
    int food;               /* food cells on the grid */
} Snake;

/* Cell offsets of the four directions, for a padded row length `stride`. */
static inline int sn_offset(int direction, int stride) {
    switch (direction) {
        case 0: return -stride;
        case 1: return stride;
        case 2: return -1;
        default: return 1;
    }
}

void c_init(Snake* env) {
    int v = env->vision;
    env->stride = env->width + 2 * v;
    size_t cells = (size_t)(env->height + 2 * v) * (size_t)env->stride;
    size_t n = (size_t)env->num_snakes;
    env->grid = (unsigned char*)calloc(cells, 1);
    env->body = (int*)calloc(n * (size_t)env->max_snake_length, sizeof(int));
    env->head = (int*)calloc(n, sizeof(int));
    env->length = (int*)calloc(n, sizeof(int));
    env->direction = (int*)calloc(n, sizeof(int));
    env->episode_return = (float*)calloc(n, sizeof(float));
    env->episode_length = (int*)calloc(n, sizeof(int));
}

void c_close(Snake* env) {
    free(env->grid);
    free(env->body);
    free(env->head);
    free(env->length);
    free(env->direction);
    free(env->episode_return);
    free(env->episode_length);
    env->grid = NULL;
    env->body = NULL;
    env->head = NULL;
    env->length = NULL;
    env->direction = NULL;
    env->episode_return = NULL;
    env->episode_length = NULL;
}

static inline int sn_random_cell(Snake* env) {
    int r = env->vision + puffer_randint(&env->rng, env->height);
    int c = env->vision + puffer_randint(&env->rng, env->width);
    return r * env->stride + c;
}

/* A random cell whose code is EMPTY (or CORPSE when `corpse_ok`): random tries, then a scan from a
 * random start. -1 only when no such cell exists (the Python side sizes the grid so that a
 * respawning snake always finds one). */
static int sn_free_cell(Snake* env, int corpse_ok, int tries, int scan) {
    for (int t = 0; t < tries; t++) {
        int cell = sn_random_cell(env);
        unsigned char code = env->grid[cell];
        if (code == SN_EMPTY || (corpse_ok && code == SN_CORPSE)) return cell;
    }
    if (!scan) return -1;
    int total = env->width * env->height;
    int start = puffer_randint(&env->rng, total);
    for (int k = 0; k < total; k++) {
        int i = (start + k) % total;
        int cell = (env->vision + i / env->width) * env->stride + env->vision + i % env->width;
        unsigned char code = env->grid[cell];
        if (code == SN_EMPTY || (corpse_ok && code == SN_CORPSE)) return cell;
    }
    return -1;
}

/* Top up the food to num_food. A few random tries per piece: on a crowded grid food waits a step. */
static void sn_spawn_food(Snake* env) {
    while (env->food < env->num_food) {
        int cell = sn_free_cell(env, 0, 16, 0);
        if (cell < 0) return;
        env->grid[cell] = SN_FOOD;
        env->food++;
    }
}

static void sn_spawn_snake(Snake* env, int i) {
    int cell = sn_free_cell(env, 1, 64, 1);
    int* ring = env->body + (size_t)i * env->max_snake_length;
    env->head[i] = 0;
    if (cell < 0) {  /* no free cell at all: unreachable with a validated config; park the snake */
        env->length[i] = 0;
        return;
    }
    ring[0] = cell;
    env->grid[cell] = SN_HEAD;
    env->length[i] = 1;
    env->direction[i] = puffer_randint(&env->rng, 4);
    env->episode_return[i] = 0.0f;
    env->episode_length[i] = 0;
}

/* Write snake i's crop into its row of `rows` (observations or final_observations): copy the padded
 * grid rows, then relabel its own cells. */
static void sn_write_crop(Snake* env, int i, unsigned char* rows) {
    int v = env->vision, side = 2 * v + 1, stride = env->stride;
    unsigned char* obs = rows + (size_t)i * side * side;
    if (env->length[i] == 0) {
        memset(obs, SN_WALL, (size_t)side * side);
        return;
    }
    int max_len = env->max_snake_length;
    const int* ring = env->body + (size_t)i * max_len;
    int h = env->head[i];
    int head = ring[h];
    const unsigned char* src = env->grid + (head - v * stride - v);
    if (side >= 8 && side <= 16) {
        /* Fixed 16-byte copies compile to one load/store each; a row's spill past `side` bytes is
         * overwritten by the next row, and the last row is copied exactly, so nothing is written
         * outside this agent's observation (side >= 8 makes the spill end inside it). Reads stay
         * inside the grid: every row but the crop's last has a whole grid row after it. */
        for (int r = 0; r < side - 1; r++) memcpy(obs + r * side, src + (size_t)r * stride, 16);
        memcpy(obs + (side - 1) * side, src + (size_t)(side - 1) * stride, (size_t)side);
    } else {
        for (int r = 0; r < side; r++) memcpy(obs + r * side, src + (size_t)r * stride, (size_t)side);
    }
    /* Consecutive body cells are neighbours, so each one's offset from the head follows from the
     * previous one without a division. */
    int len = env->length[i], dr = 0, dc = 0, prev = head;
    for (int k = 1; k < len; k++) {
        int idx = h - k;
        if (idx < 0) idx += max_len;
        int cell = ring[idx], diff = cell - prev;
        prev = cell;
        if (diff == 1) dc++;
        else if (diff == -1) dc--;
        else if (diff > 0) dr++;
        else dr--;
        if (dr >= -v && dr <= v && dc >= -v && dc <= v) obs[(dr + v) * side + dc + v] = SN_OWN_BODY;
    }
    obs[v * side + v] = SN_OWN_HEAD;
}

static inline void sn_write_obs(Snake* env, int i) { sn_write_crop(env, i, env->observations); }

void c_reset(Snake* env) {
    int v = env->vision, rows = env->height + 2 * v;
    memset(env->grid, SN_WALL, (size_t)rows * env->stride);
    for (int r = v; r < v + env->height; r++) memset(env->grid + (size_t)r * env->stride + v, SN_EMPTY, env->width);
    env->food = 0;
    for (int i = 0; i < env->num_snakes; i++) sn_spawn_snake(env, i);
    sn_spawn_food(env);
    for (int i = 0; i < env->num_snakes; i++) {
        env->rewards[i] = 0.0f;
        env->terminals[i] = 0;
        env->truncations[i] = 0;
        sn_write_obs(env, i);
    }
}

static void sn_kill(Snake* env, int i) {
    int* ring = env->body + (size_t)i * env->max_snake_length;
    int len = env->length[i], max_len = env->max_snake_length;
    for (int k = 0; k < len; k++) {
        int cell = ring[(env->head[i] - k + max_len) % max_len];
        env->grid[cell] = (env->leave_corpse_on_death && k % 2 == 0) ? SN_CORPSE : SN_EMPTY;
    }
    env->log.score += (float)len;
    env->log.episode_return += env->episode_return[i];
    env->log.episode_length += (float)env->episode_length[i];
    env->log.n += 1.0f;
    env->terminals[i] = 1;
    sn_spawn_snake(env, i);
}

static void sn_move(Snake* env, int i) {
    int len = env->length[i];
    if (len == 0) {  /* parked (grid full): try to come back */
        sn_spawn_snake(env, i);
        return;
    }
    int max_len = env->max_snake_length;
    int* ring = env->body + (size_t)i * max_len;
    int h = env->head[i];
    int a = env->actions[i];
    int dir = env->direction[i];
    /* 0<->1 and 2<->3 are opposite: a reversal onto the neck keeps going straight. */
    if (a >= 0 && a < 4 && !(len > 1 && (a ^ 1) == dir)) dir = a;
    env->direction[i] = dir;
    int head = ring[h];
    int next = head + sn_offset(dir, env->stride);
    int tail = ring[(h - len + 1 + max_len) % max_len];
    unsigned char code = env->grid[next];
    int eats = code == SN_FOOD || code == SN_CORPSE;
    int grow = eats && len < max_len;
    env->episode_length[i]++;

    /* The tail leaves first unless the snake grows, so following one's own tail is legal. */
    if (!grow) env->grid[tail] = SN_EMPTY;
    code = env->grid[next];
    if (code == SN_WALL || code == SN_BODY || code == SN_HEAD) {
        if (!grow) env->grid[tail] = len == 1 ? SN_HEAD : SN_BODY;  /* the corpse is the whole body */
        env->episode_return[i] += env->reward_death;
        env->rewards[i] = env->reward_death;
        /* The head did not move and the tail is back: the grid is this snake's world at death. */
        if (env->final_observations) sn_write_crop(env, i, env->final_observations);
        sn_kill(env, i);
        return;
    }
    float reward = 0.0f;
    if (code == SN_FOOD) {
        reward = env->reward_food;
        env->food--;
    } else if (code == SN_CORPSE) {
        reward = env->reward_corpse;
    }
    int new_len = grow ? len + 1 : len;
    if (new_len > 1) env->grid[head] = SN_BODY;
    h = (h + 1) % max_len;
    env->head[i] = h;
    ring[h] = next;
    env->grid[next] = SN_HEAD;
    env->length[i] = new_len;
    env->episode_return[i] += reward;
    env->rewards[i] = reward;
}

void c_step(Snake* env) {
    int n = env->num_snakes;
    for (int i = 0; i < n; i++) {
        env->rewards[i] = 0.0f;
        env->terminals[i] = 0;
        env->truncations[i] = 0;
    }
    for (int i = 0; i < n; i++) sn_move(env, i);
    sn_spawn_food(env);
    for (int i = 0; i < n; i++) sn_write_obs(env, i);
}

/* connect4.h: Connect Four (6 rows x 7 columns) on bitboards, for Puffer.
 *
 * Bitboard layout (as in Pons' solver): column c uses bits 7c .. 7c+5, bottom row first; bit 7c+6
 * is an always-empty sentinel, so the shift tests for four in a row never wrap across columns.
 *
 * Sides: side 0 is the learning agent (agent row 0); side 1 is the scripted opponent, or agent
 * row 1 when `two_player` is set (self-play). Who starts each game is `agent_side`:
 * 0 random, 1 side 0 starts, 2 side 1 starts, 3 alternate (random first game per env copy).
 *
 * Opponent strength (`opponent`): 0 random legal column; 1 one-ply: win if it can, else block the
 * agent's immediate win, else random; N >= 2: negamax to depth N plies with alpha-beta, a
 * positional leaf score, and a random choice among equally good moves.
 *
 * Actions Discrete(7): the column to drop a piece in. A move into a full column (or a column
 * number outside 0..6) is illegal and ends the game at once as a loss for the side that made it:
 * reward -1 for it (+1 for the other agent in two-player mode), counted in the Log's
 * `illegal_moves` and `loss` (or `win`, when side 1 made it).
 * Rewards: +1 win, -1 loss, 0 draw, given on the step that ends the game.
 *
 * Observation: uint8 (2, 6, 7): plane 0 the viewer's own pieces, plane 1 the other side's, row 0
 * the top row. In two-player mode each agent row sees the board from its own side, and
 * masks[k] = 1 only for the side to move (the other row's action is ignored); at the end of a
 * game both rows get their reward and terminal=1.
 * When a game ends, every agent row's observation is the final board (the winning four, the full
 * board, or the board the illegal move was refused on); the SDK then resets the env (puffer.h).
 *
 * Log (side 0's view): win, loss, draw, illegal_moves, score (1 win, 0.5 draw, 0 loss: the Elo
 * outcome), episode_length (side 0's moves; all plies in two-player mode), episode_return, n.
 */
#include "puffer.h"

#define C4_COLS 7
#define C4_ROWS 6
#define C4_WIN_SCORE 10000
#define C4_INF 1000000

typedef struct {
    float win;
    float loss;
    float draw;
    float illegal_moves;
    float score;
    float episode_length;
    float episode_return;
    float n;
} Log;

typedef struct {
    Log log;
    unsigned char* observations;
    int* actions;
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    unsigned char* masks;
    uint64_t rng;
    /* config */
    int opponent;
    int agent_side;
    int two_player;
    /* state (public for tests and the renderer) */
    uint64_t pieces[2];  /* bitboard of each side */
    int heights[7];      /* pieces in each column */
    int to_move;         /* side to move next */
    int starter;         /* side that moved first this game */
    int plies;
    int games;           /* games started, for alternating sides */
    int agent_moves;     /* side 0's moves this game */
    int last_column;     /* last column played (-1 at the start), for the renderer */
} Connect4;

/* Center-first move order: alpha-beta prunes far more when good moves come first. */
static const int C4_ORDER[7] = {3, 2, 4, 1, 5, 0, 6};

#define C4_BOTTOM 0x40810204081ull  /* the bottom cell of every column */
#define C4_BOARD 0xfdfbf7efdfbfull  /* every playable cell (no sentinels) */

/* The positional leaf score weighs each cell by how many four-in-a-row lines pass through it
 * (3 in the corners .. 13 in the middle). These are the weights' binary digits as cell masks, so a
 * side's total is four bit counts: sum over k of 2^k * popcount(pieces & C4_WEIGHT_BITS[k]). */
static const uint64_t C4_WEIGHT_BITS[4] = {0xb402d5ab402dull, 0x8490c6630921ull, 0x799a15a8599eull, 0x61e3c78600ull};

/* Branch-free (SWAR) bit count: portable C99 and fast without a popcnt instruction. */
static inline int c4_popcount(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

static inline int c4_won(uint64_t b) {
    uint64_t m = b & (b >> 7);  /* horizontal */
    if (m & (m >> 14)) return 1;
    m = b & (b >> 1);           /* vertical */
    if (m & (m >> 2)) return 1;
    m = b & (b >> 6);           /* diagonal going down to the right */
    if (m & (m >> 12)) return 1;
    m = b & (b >> 8);           /* diagonal going up to the right */
    if (m & (m >> 16)) return 1;
    return 0;
}

/* Empty cells where a piece would complete four for `own` (Pons' method); `mask` is both sides. */
static inline uint64_t c4_winning_cells(uint64_t own, uint64_t mask) {
    uint64_t r = (own << 1) & (own << 2) & (own << 3);  /* vertical: three below */
    for (int d = 6; d <= 8; d++) {                       /* the two diagonals (6, 8) and horizontal (7) */
        uint64_t p = (own << d) & (own << 2 * d);
        r |= p & (own << 3 * d);
        r |= p & (own >> d);
        p = (own >> d) & (own >> 2 * d);
        r |= p & (own << d);
        r |= p & (own >> 3 * d);
    }
    return r & (C4_BOARD ^ mask);
}

/* The cell a piece dropped now would land in, per column, as one mask. */
static inline uint64_t c4_playable(uint64_t mask) { return (mask + C4_BOTTOM) & C4_BOARD; }

static inline uint64_t c4_column(int col) { return 0x3full << (7 * col); }

static inline uint64_t c4_bit(const int* heights, int col) { return 1ull << (7 * col + heights[col]); }

static inline int c4_legal(const Connect4* env, int col) {
    return col >= 0 && col < C4_COLS && env->heights[col] < C4_ROWS;
}

static inline int c4_eval(uint64_t own, uint64_t other) {
    int score = 0;
    for (int k = 0; k < 4; k++)
        score += (c4_popcount(own & C4_WEIGHT_BITS[k]) - c4_popcount(other & C4_WEIGHT_BITS[k])) * (1 << k);
    return score;
}

/* Negamax with alpha-beta from the view of the side owning `own`, which is to move. */
static int c4_negamax(uint64_t own, uint64_t mask, int plies, int depth, int alpha, int beta) {
    uint64_t playable = c4_playable(mask);
    if (c4_winning_cells(own, mask) & playable) return C4_WIN_SCORE + depth;
    if (plies >= C4_ROWS * C4_COLS) return 0;
    if (depth <= 0) return c4_eval(own, mask ^ own);
    int best = -C4_INF;
    for (int k = 0; k < C4_COLS; k++) {
        uint64_t move = playable & c4_column(C4_ORDER[k]);
        if (!move) continue;
        /* The other side moves next: its pieces are (mask ^ own), the board gains `move`. */
        int v = -c4_negamax(mask ^ own, mask | move, plies + 1, depth - 1, -beta, -alpha);
        if (v > best) best = v;
        if (v > alpha) alpha = v;
        if (alpha >= beta) break;
    }
    return best;
}

static int c4_random_move(Connect4* env) {
    int choice = -1, seen = 0;
    for (int c = 0; c < C4_COLS; c++)
        if (c4_legal(env, c) && puffer_randint(&env->rng, ++seen) == 0) choice = c;
    return choice;
}

/* The first column (0..6) with a cell in `cells`; -1 if none. */
static inline int c4_first_column(uint64_t cells) {
    for (int c = 0; c < C4_COLS; c++)
        if (cells & c4_column(c)) return c;
    return -1;
}

/* The scripted opponent's column for side `side` (the board is never full here). */
static int c4_opponent_move(Connect4* env, int side) {
    uint64_t own = env->pieces[side], other = env->pieces[1 - side];
    if (env->opponent <= 0) return c4_random_move(env);
    uint64_t mask = own | other, playable = c4_playable(mask);
    uint64_t wins = c4_winning_cells(own, mask) & playable;
    if (wins) return c4_first_column(wins);  /* win now */
    if (env->opponent == 1) {
        uint64_t threats = c4_winning_cells(other, mask) & playable;
        if (threats) return c4_first_column(threats);  /* block the other side's win */
        return c4_random_move(env);
    }
    /* Negamax: ties are searched exactly (window starts at best - 1) so the pick among them is fair. */
    int best = -C4_INF, choice = -1, ties = 0;
    for (int c = 0; c < C4_COLS; c++) {
        uint64_t move = playable & c4_column(c);
        if (!move) continue;
        int v = -c4_negamax(other, mask | move, env->plies + 1, env->opponent - 1, -C4_INF, -(best - 1));
        if (v > best) {
            best = v;
            choice = c;
            ties = 1;
        } else if (v == best && puffer_randint(&env->rng, ++ties) == 0) {
            choice = c;
        }
    }
    return choice;
}

static void c4_play(Connect4* env, int side, int col) {
    env->pieces[side] |= c4_bit(env->heights, col);
    env->heights[col]++;
    env->plies++;
    env->to_move = 1 - side;
    env->last_column = col;
}

/* Each agent row's view of the board into `dest` (observations or final_observations). */
static void c4_write_boards(Connect4* env, unsigned char* dest) {
    int rows = env->two_player ? 2 : 1;
    for (int k = 0; k < rows; k++) {
        unsigned char* obs = dest + k * 2 * C4_ROWS * C4_COLS;
        uint64_t own = env->pieces[k], other = env->pieces[1 - k];
        for (int r = 0; r < C4_ROWS; r++) {
            for (int c = 0; c < C4_COLS; c++) {
                int bit = 7 * c + (C4_ROWS - 1 - r);
                obs[r * C4_COLS + c] = (unsigned char)((own >> bit) & 1);
                obs[C4_ROWS * C4_COLS + r * C4_COLS + c] = (unsigned char)((other >> bit) & 1);
            }
        }
    }
}

static void c4_write_obs(Connect4* env) {
    c4_write_boards(env, env->observations);
    int rows = env->two_player ? 2 : 1;
    for (int k = 0; k < rows; k++) {
        if (env->masks) env->masks[k] = !env->two_player || env->to_move == k;
    }
}

/* A fresh board; with a scripted opponent that starts, it makes its first move. */
static void c4_new_game(Connect4* env) {
    env->pieces[0] = env->pieces[1] = 0;
    memset(env->heights, 0, sizeof(env->heights));
    env->plies = 0;
    env->agent_moves = 0;
    env->last_column = -1;
    switch (env->agent_side) {
        case 1: env->starter = 0; break;
        case 2: env->starter = 1; break;
        case 3: env->starter = env->games % 2; break;
        default: env->starter = puffer_randint(&env->rng, 2);
    }
    env->games++;
    env->to_move = env->starter;
    if (!env->two_player && env->to_move == 1) c4_play(env, 1, c4_opponent_move(env, 1));
}

void c_init(Connect4* env) { (void)env; }

void c_close(Connect4* env) { (void)env; }

void c_reset(Connect4* env) {
    /* On reset() (terminals zeroed) a random game count desyncs which copies start when alternating;
     * after a finished game (its terminal still set) the count just goes on. */
    if (!env->terminals[0]) env->games = puffer_randint(&env->rng, 2);
    c4_new_game(env);
    c4_write_obs(env);
}

/* Side 0's result: 1 win, 0 loss, 0.5 draw. */
static void c4_end_game(Connect4* env, float result, int illegal) {
    env->log.win += result == 1.0f;
    env->log.loss += result == 0.0f;
    env->log.draw += result == 0.5f;
    env->log.illegal_moves += (float)illegal;
    env->log.score += result;
    env->log.episode_length += (float)(env->two_player ? env->plies : env->agent_moves);
    env->log.episode_return += 2.0f * result - 1.0f;
    env->log.n += 1.0f;
    env->rewards[0] = 2.0f * result - 1.0f;
    env->terminals[0] = 1;
    if (env->two_player) {
        env->rewards[1] = 1.0f - 2.0f * result;
        env->terminals[1] = 1;
    }
}

/* `side` plays `col`; returns 1 if that ended the game. */
static int c4_move(Connect4* env, int side, int col) {
    if (!c4_legal(env, col)) {
        c4_end_game(env, side == 0 ? 0.0f : 1.0f, 1);
        return 1;
    }
    c4_play(env, side, col);
    if (c4_won(env->pieces[side])) {
        c4_end_game(env, side == 0 ? 1.0f : 0.0f, 0);
        return 1;
    }
    if (env->plies >= C4_ROWS * C4_COLS) {
        c4_end_game(env, 0.5f, 0);
        return 1;
    }
    return 0;
}

void c_step(Connect4* env) {
    int rows = env->two_player ? 2 : 1;
    for (int k = 0; k < rows; k++) {
        env->rewards[k] = 0.0f;
        env->terminals[k] = 0;
        env->truncations[k] = 0;
    }
    if (env->two_player) {
        int side = env->to_move;
        c4_move(env, side, env->actions[side]);
    } else {
        env->agent_moves++;
        if (!c4_move(env, 0, env->actions[0])) c4_move(env, 1, c4_opponent_move(env, 1));
    }
    c4_write_obs(env);
}

/* moba.h: a 5v5 DOTA-style game on a 128x128 tile map.
 *
 * One Moba struct is one game with 10 heroes (self-play: 10 agent rows, 0-4 Radiant, 5-9 Dire) or
 * 5 (script_opponents: agent rows are the Radiant heroes, Dire's heroes are scripted).
 *
 * The map (terrain, lanes, towers, camps, flow fields) lives in one MobaMap per process, built
 * once by moba_map_build from map.txt and shared read-only by every env (`const MobaMap* map`).
 *
 * Speed: every unit sits on one tile of a per-env occupancy grid (uint8 unit id + 1, padded so
 * neighbourhood reads never bounds-check), and per-team row bitboards answer "nearest enemy within
 * r" from 2r + 1 word reads, without scanning units or tiles. Observation crops are memcpy'd from
 * prebuilt terrain rows and then overlaid with the units found in the grid.
 *
 * The map is made for the game to be fair: it is its own transpose, and every tie (target choice,
 * sliding along walls, spawn spots, flow directions, unit order) is broken in the unit's own frame
 * or alternated between steps.
 *
 * Dire sees the world transposed ((y, x) -> (x, y)) and its move actions are transposed back, so
 * both teams see the same game from their own side and one shared policy can play both.
 *
 * Final observations (opt-in, puffer.h): a game is every agent's episode; when it ends (a destroyed
 * ancient or the time limit), every agent row gets the observation of the final state, before the
 * new game starts. A hero's death is not an episode end.
 */
#ifndef MOBA_H
#define MOBA_H

#include <stdlib.h>
#include "puffer.h"

#define MOBA_SIZE 128
#define MOBA_CELLS 16384
#define MOBA_PAD 8
#define MOBA_PSIZE 144
#define MOBA_PCELLS 20736
#define MOBA_CROP 11
#define MOBA_SELF 26
#define MOBA_OBS_SIZE 510
#define MOBA_HEROES 10
#define MOBA_TOWERS 24
#define MOBA_NEUTRALS 72
#define MOBA_CREEPS 100
#define MOBA_UNITS 206
#define MOBA_CAMPS 18
#define MOBA_COARSE 256
#define MOBA_MAX_LEVEL 30

/* Unit index ranges. */
#define FIRST_TOWER 10
#define FIRST_NEUTRAL 34
#define FIRST_CREEP 106

/* Unit kinds. */
#define KIND_HERO 0
#define KIND_TOWER 1
#define KIND_NEUTRAL 2
#define KIND_CREEP 3

/* Teams. */
#define RADIANT 0
#define DIRE 1
#define NEUTRAL 2

/* Terrain. */
#define TER_FLOOR 0
#define TER_WALL 1
#define TER_RIVER 2
#define TER_LANE 3
#define TER_BASE 4

/* Entity-type channel of the observation (one-hot encoded by the policy). */
#define ENT_FLOOR 0
#define ENT_WALL 1
#define ENT_HERO 2 /* + role: 2..6 */
#define ENT_CREEP 7
#define ENT_NEUTRAL 8
#define ENT_TOWER 9
#define ENT_ANCIENT 10
#define MOBA_ENTITY_TYPES 11

/* Hero roles. */
#define ROLE_SUPPORT 0
#define ROLE_ASSASSIN 1
#define ROLE_BURST 2
#define ROLE_TANK 3
#define ROLE_CARRY 4

typedef struct {
    /* Per-role means over the agent-controlled heroes of a game (role order: support, assassin,
     * burst, tank, carry). */
    float level_support, level_assassin, level_burst, level_tank, level_carry;
    float kills_support, kills_assassin, kills_burst, kills_tank, kills_carry;
    float deaths_support, deaths_assassin, deaths_burst, deaths_tank, deaths_carry;
    float damage_support, damage_assassin, damage_burst, damage_tank, damage_carry;
    float healing_support, healing_assassin, healing_burst, healing_tank, healing_carry;
    float q_support, q_assassin, q_burst, q_tank, q_carry;
    float w_support, w_assassin, w_burst, w_tank, w_carry;
    float e_support, e_assassin, e_burst, e_tank, e_carry;
    float radiant_towers_taken; /* Dire towers destroyed by Radiant in the game */
    float dire_towers_taken;
    float radiant_win; /* 1 win, 0 loss, 0.5 draw; at the time limit: more towers taken, then more tower damage */
    float dire_win;
    float timeout;
    float game_length;
    float episode_return; /* mean over the agent heroes */
    float n;
} Log;

/* Shared, read-only after moba_map_build: one per process. */
typedef struct {
    unsigned char terrain[16384];     /* TER_* */
    unsigned char lane[16384];        /* 0 none, 1 top, 2 mid, 3 bot */
    unsigned char walk[20736];        /* padded (MOBA_PAD): 1 where units may stand */
    unsigned char crop_type[2][20736];  /* padded entity-type channel of the terrain; [1] is transposed */
    unsigned char crop_class[2][20736]; /* padded terrain-class channel; [1] is transposed */
    unsigned short lane_dist[2][3][16384]; /* team, lane: cost to the enemy ancient along that lane */
    unsigned char lane_flow[2][3][16384];  /* direction 0..7 toward it, 8 = none */
    unsigned short goal_dist[2][16384];    /* team: walking distance to the enemy ancient */
    unsigned char goal_flow[2][16384];
    unsigned short home_dist[2][16384];    /* team: walking distance to the own fountain */
    unsigned char home_flow[2][16384];
    int tower_y[24], tower_x[24], tower_tier[24], tower_lane[24]; /* slot = team*12 + lane*3 + tier-1; 9,10 base; 11 ancient */
    int camp_y[18], camp_x[18];
    int fountain_y[2], fountain_x[2];
    int spawn_y[2][3], spawn_x[2][3];
    const char* text; /* map.txt, set by the Python side before c_shared_init */
} MobaMap;

typedef struct {
    float y, x;
    int ty, tx; /* the tile the unit occupies (set when it is placed on the grid) */
    float hp, max_hp, mana, max_mana;
    float damage, speed, hp_regen, mana_regen;
    float shield, buff; /* shield hit points; damage bonus fraction while buff_t > 0 */
    float xp;
    int target; /* unit index or -1 */
    int range;  /* attack range in tiles (Chebyshev) */
    int attack_period, attack_cd;
    int stun_t, slow_t, buff_t, shield_t, aggro_t;
    int respawn_t;
    int cd[3];
    int home_y, home_x; /* neutrals: their camp spot */
    int camp;
    int level;
    int retreat; /* scripted heroes: going home to heal */
    unsigned char kind, team, alive, role, lane, tier, entity, pad;
} Unit;

typedef struct {
    float kills, deaths, damage, healing, q, w, e, ret;
    int prev_dist;
} HeroStats;

typedef struct {
    Log log;
    unsigned char* observations;
    int* actions;
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    uint64_t rng;
    /* config */
    int script_opponents;
    int max_steps;
    int randomize_start;
    int wave_period;
    int camp_respawn;
    float reward_death;
    float reward_xp;
    float reward_distance;
    float reward_tower_damage;
    float reward_tower_kill;
    float reward_win;
    /* shared map, set by the Python side before c_init */
    const MobaMap* map;
    /* state */
    int tick;
    int game_steps;
    int num_agents;
    int towers_taken[2];
    int winner; /* -1 while playing */
    int wave_timer; /* steps until the next creep wave */
    int rebuild_grid; /* set after editing units from Python (tests): the grid is rebuilt before the next step */
    int camp_alive[18];
    int camp_timer[18];
    int camp_awake[18]; /* a camp whose neutrals may need to act (fighting, walking home, healing) */
    int script_actions[60];
    float reward_acc[10];
    HeroStats stats[10];
    Unit units[206];
    unsigned char grid[20736];       /* padded occupancy: unit index + 1, 0 empty */
    unsigned char bits[3][128][24];  /* per team and row: bit x set where a unit of the team stands (+8 bytes slack) */
} Moba;

/* ---- static tables ------------------------------------------------------------------------ */

static const int MOBA_DY[9] = {-1, -1, 0, 1, 1, 1, 0, -1, 0};
static const int MOBA_DX[9] = {0, 1, 1, 1, 0, -1, -1, -1, 0};

typedef struct {
    float hp, mana, damage, speed, hp_regen, mana_regen;
    int range, attack_period;
    float hp_growth, mana_growth, damage_growth;
} RoleStats;

static const RoleStats MOBA_ROLES[5] = {
    /* hp   mana  dmg  speed regen mregen range period | growth hp mana dmg */
    {450, 320, 26, 0.80f, 0.5f, 1.2f, 5, 4, 40, 28, 2.0f},  /* support */
    {500, 220, 44, 1.00f, 0.6f, 0.6f, 1, 3, 45, 16, 4.0f},  /* assassin */
    {420, 360, 30, 0.80f, 0.4f, 1.3f, 5, 4, 35, 32, 2.5f},  /* burst */
    {760, 200, 34, 0.75f, 1.3f, 0.5f, 1, 4, 85, 15, 2.5f},  /* tank */
    {520, 160, 40, 0.90f, 0.6f, 0.5f, 4, 3, 50, 12, 5.0f},  /* carry */
};

#define SK_HOSTILE 0 /* damage / stun / slow a target (range > 0) or an area (radius > 0) */
#define SK_HEAL 1    /* heal allied heroes within radius (self included) */
#define SK_AURA 2    /* damage bonus for allied heroes within radius */
#define SK_BUFF 3    /* damage bonus for self */
#define SK_SHIELD 4  /* absorb damage */
#define SK_DASH 5    /* jump up to `range` tiles in the move direction */

typedef struct {
    int type, mana, cooldown, range, radius;
    float amount; /* damage, heal, shield or bonus fraction */
    int stun, slow, duration;
} Skill;

static const Skill MOBA_SKILLS[5][3] = {
    { /* support: heal, slowing bolt, war-cry aura */
        {SK_HEAL, 60, 30, 0, 4, 130, 0, 0, 0},
        {SK_HOSTILE, 50, 24, 6, 0, 70, 0, 20, 0},
        {SK_AURA, 100, 80, 0, 5, 0.4f, 0, 0, 40},
    },
    { /* assassin: dash, strike, frenzy */
        {SK_DASH, 40, 20, 5, 0, 0, 0, 0, 0},
        {SK_HOSTILE, 70, 25, 2, 0, 190, 0, 0, 0},
        {SK_BUFF, 60, 60, 0, 0, 0.6f, 0, 0, 30},
    },
    { /* burst: fireball (area), bolt (stun), nuke */
        {SK_HOSTILE, 80, 20, 6, 2, 140, 0, 0, 0},
        {SK_HOSTILE, 70, 30, 6, 0, 40, 12, 0, 0},
        {SK_HOSTILE, 150, 90, 6, 0, 420, 0, 0, 0},
    },
    { /* tank: stomp (area stun around self), shield, slowing roar */
        {SK_HOSTILE, 80, 35, 0, 2, 60, 10, 0, 0},
        {SK_SHIELD, 50, 40, 0, 0, 260, 0, 0, 40},
        {SK_HOSTILE, 60, 30, 0, 3, 50, 0, 20, 0},
    },
    { /* carry: rage, crippling shot, volley */
        {SK_BUFF, 50, 40, 0, 0, 0.5f, 0, 0, 30},
        {SK_HOSTILE, 40, 20, 5, 0, 60, 0, 15, 0},
        {SK_HOSTILE, 100, 60, 5, 2, 220, 0, 0, 0},
    },
};

/* Which lane each role's scripted hero pushes. */
static const int MOBA_SCRIPT_LANE[5] = {2, 1, 0, 0, 2};

#define TOWER_RANGE 6
#define CREEP_AGGRO 5
#define NEUTRAL_LEASH 6
#define XP_RADIUS 8
#define FOUNTAIN_RADIUS 5
#define RESPAWN_BASE 20

static inline int moba_tile(float v) { return puffer_clampi((int)v, 0, MOBA_SIZE - 1); }
static inline int moba_pidx(int y, int x) { return (y + MOBA_PAD) * MOBA_PSIZE + x + MOBA_PAD; }
static inline int moba_iabs(int v) { return v < 0 ? -v : v; }
static inline int moba_imax(int a, int b) { return a > b ? a : b; }

/* (y, x) within MOBA_PAD of the map; the padding is not walkable. */
static inline int moba_pidx(int y, int x);
static inline int moba_walkable(const MobaMap* m, int y, int x) { return m->walk[moba_pidx(y, x)]; }

/* Which frame a unit sees the world in: Dire's is transposed; neutrals take their half's. */
static inline int moba_frame(const Unit* u) {
    return u->team == DIRE || (u->team == NEUTRAL && u->home_y < u->home_x);
}

static inline float moba_xp_needed(int level) { return 50.0f + 50.0f * (float)level; }

/* ---- map: parsed once per process ---------------------------------------------------------- */

/* Dijkstra over walkable tiles (8-connected, no wall-corner cutting) from `goal`; `lane` > 0
 * makes tiles off that lane (and outside bases) cost 5, so paths stick to the lane. */
static void moba_field(MobaMap* m, int goal, int lane, unsigned short* dist, unsigned char* flow, int* heap) {
    for (int i = 0; i < MOBA_CELLS; i++) dist[i] = 65535;
    int size = 0;
    dist[goal] = 0;
    heap[size++] = goal; /* heap entries: dist << 16 | tile, ordered by the packed value */
    while (size > 0) {
        int top = heap[0];
        heap[0] = heap[--size];
        for (int i = 0;;) { /* sift down */
            int l = 2 * i + 1, r = l + 1, s = i;
            if (l < size && heap[l] < heap[s]) s = l;
            if (r < size && heap[r] < heap[s]) s = r;
            if (s == i) break;
            int t = heap[i]; heap[i] = heap[s]; heap[s] = t; i = s;
        }
        int d = top >> 14, tile = top & 16383;
        if (d != dist[tile]) continue;
        int y = tile / MOBA_SIZE, x = tile % MOBA_SIZE;
        for (int k = 0; k < 8; k++) {
            int ny = y + MOBA_DY[k], nx = x + MOBA_DX[k];
            if (!moba_walkable(m, ny, nx)) continue;
            if (MOBA_DY[k] && MOBA_DX[k] && (!moba_walkable(m, y + MOBA_DY[k], x) || !moba_walkable(m, y, x + MOBA_DX[k])))
                continue;
            int n = ny * MOBA_SIZE + nx;
            int cost = (lane && m->lane[n] != lane && m->terrain[n] != TER_BASE) ? 5 : 1;
            int nd = d + cost;
            if (nd >= dist[n] || nd > 16000) continue;
            dist[n] = (unsigned short)nd;
            int i = size++;
            heap[i] = (nd << 14) | n;
            while (i > 0 && heap[(i - 1) / 2] > heap[i]) { /* sift up */
                int p = (i - 1) / 2, t = heap[i]; heap[i] = heap[p]; heap[p] = t; i = p;
            }
        }
    }
    for (int tile = 0; tile < MOBA_CELLS; tile++) {
        int y = tile / MOBA_SIZE, x = tile % MOBA_SIZE, best = 8, bd = dist[tile];
        for (int k = 0; k < 8 && bd < 65535; k++) {
            int ny = y + MOBA_DY[k], nx = x + MOBA_DX[k];
            if (!moba_walkable(m, ny, nx)) continue;
            if (MOBA_DY[k] && MOBA_DX[k] && (!moba_walkable(m, y + MOBA_DY[k], x) || !moba_walkable(m, y, x + MOBA_DX[k])))
                continue;
            if (dist[ny * MOBA_SIZE + nx] < bd) { bd = dist[ny * MOBA_SIZE + nx]; best = k; }
        }
        flow[tile] = (unsigned char)best;
    }
}

/* Parse map.txt (128 lines of 128 characters, legend in mapgen.py) and compute every shared
 * table. Returns 0, or a positive line number / negative code saying what was wrong. */
static int moba_map_build(MobaMap* m) {
    const char* text = m->text;
    memset(m, 0, sizeof(*m));
    m->text = text;
    int ntower[2] = {0, 0}, ncamp = 0, found = 0;
    int ty[2][12], tx[2][12], ancient[2] = {-1, -1};
    const char* p = text;
    for (int y = 0; y < MOBA_SIZE; y++) {
        for (int x = 0; x < MOBA_SIZE; x++, p++) {
            char c = *p;
            if (c == '\0' || c == '\n' || c == '\r') return y + 1;
            int i = y * MOBA_SIZE + x, ter = TER_FLOOR;
            switch (c) {
                case '#': ter = TER_WALL; break;
                case '.': case 'N': case 'T': case 't': break;
                case '~': ter = TER_RIVER; break;
                case '1': case '2': case '3': ter = TER_LANE; m->lane[i] = (unsigned char)(c - '0'); break;
                case '+': case 'A': case 'a': case 'F': case 'f': case 'X': case 'x': case 'Y': case 'y':
                case 'Z': case 'z': ter = TER_BASE; break;
                default: return -(y * MOBA_SIZE + x + 1000);
            }
            m->terrain[i] = (unsigned char)ter;
            int team = (c >= 'a' && c <= 'z') ? DIRE : RADIANT;
            if (c == 'T' || c == 't') {
                if (ntower[team] >= 11) return -2;
                ty[team][ntower[team]] = y; tx[team][ntower[team]] = x; ntower[team]++;
            } else if (c == 'N') {
                if (ncamp >= MOBA_CAMPS) return -3;
                m->camp_y[ncamp] = y; m->camp_x[ncamp] = x; ncamp++;
            } else if (c == 'A' || c == 'a') {
                ancient[team] = i;
            } else if (c == 'F' || c == 'f') {
                m->fountain_y[team] = y; m->fountain_x[team] = x; found |= 1 << team;
            } else if (c == 'X' || c == 'x' || c == 'Y' || c == 'y' || c == 'Z' || c == 'z') {
                int lane = (c == 'X' || c == 'x') ? 0 : (c == 'Y' || c == 'y') ? 1 : 2;
                m->spawn_y[team][lane] = y; m->spawn_x[team][lane] = x; found |= 4 << (team * 3 + lane);
            }
        }
        while (*p == '\r') p++;
        if (*p == '\n') p++;
        else if (y < MOBA_SIZE - 1) return y + 1;
    }
    if (ntower[0] != 11 || ntower[1] != 11 || ncamp != MOBA_CAMPS || ancient[0] < 0 || ancient[1] < 0 || found != 255)
        return -4;
    /* The game is only fair on a map that is its own transpose (Dire's fields are transposes). */
    for (int y = 0; y < MOBA_SIZE; y++)
        for (int x = 0; x < MOBA_SIZE; x++)
            if (m->terrain[y * MOBA_SIZE + x] != m->terrain[x * MOBA_SIZE + y] ||
                m->lane[y * MOBA_SIZE + x] != m->lane[x * MOBA_SIZE + y])
                return -7;
    if (ancient[DIRE] != (ancient[RADIANT] % MOBA_SIZE) * MOBA_SIZE + ancient[RADIANT] / MOBA_SIZE) return -7;

    for (int y = 0; y < MOBA_SIZE; y++)
        for (int x = 0; x < MOBA_SIZE; x++) m->walk[moba_pidx(y, x)] = m->terrain[y * MOBA_SIZE + x] != TER_WALL;
    int* heap = (int*)malloc(sizeof(int) * MOBA_CELLS * 8);
    if (!heap) return -5;
    /* Radiant's fields; Dire's are their transposes (exact mirror images, ties included). */
    for (int lane = 0; lane < 3; lane++)
        moba_field(m, ancient[DIRE], lane + 1, m->lane_dist[RADIANT][lane], m->lane_flow[RADIANT][lane], heap);
    moba_field(m, ancient[DIRE], 0, m->goal_dist[RADIANT], m->goal_flow[RADIANT], heap);
    moba_field(m, m->fountain_y[RADIANT] * MOBA_SIZE + m->fountain_x[RADIANT], 0, m->home_dist[RADIANT],
               m->home_flow[RADIANT], heap);
    free(heap);
    static const unsigned char TRANSPOSED_DIR[9] = {6, 5, 4, 3, 2, 1, 0, 7, 8};
    for (int y = 0; y < MOBA_SIZE; y++)
        for (int x = 0; x < MOBA_SIZE; x++) {
            int i = y * MOBA_SIZE + x, t = x * MOBA_SIZE + y;
            for (int lane = 0; lane < 3; lane++) {
                m->lane_dist[DIRE][lane][t] = m->lane_dist[RADIANT][lane][i];
                m->lane_flow[DIRE][lane][t] = TRANSPOSED_DIR[m->lane_flow[RADIANT][lane][i]];
            }
            m->goal_dist[DIRE][t] = m->goal_dist[RADIANT][i];
            m->goal_flow[DIRE][t] = TRANSPOSED_DIR[m->goal_flow[RADIANT][i]];
            m->home_dist[DIRE][t] = m->home_dist[RADIANT][i];
            m->home_flow[DIRE][t] = TRANSPOSED_DIR[m->home_flow[RADIANT][i]];
        }

    /* Tower slots: lane towers ordered by tier (farthest from the own ancient is tier 1), then
     * the two base towers, then the ancient. */
    for (int team = 0; team < 2; team++) {
        const unsigned short* own = m->goal_dist[1 - team]; /* distance to this team's ancient */
        int used[11] = {0}, base_slot = 9;
        for (int lane = 1; lane <= 3; lane++) {
            for (int tier = 1; tier <= 3; tier++) {
                int best = -1;
                for (int k = 0; k < 11; k++) {
                    if (used[k]) continue;
                    int on_lane = 0;
                    for (int dy = -2; dy <= 2; dy++)
                        for (int dx = -2; dx <= 2; dx++) {
                            int y = ty[team][k] + dy, x = tx[team][k] + dx;
                            if (y >= 0 && x >= 0 && y < MOBA_SIZE && x < MOBA_SIZE && m->lane[y * MOBA_SIZE + x] == lane)
                                on_lane = 1;
                        }
                    if (!on_lane) continue;
                    int d = own[ty[team][k] * MOBA_SIZE + tx[team][k]];
                    if (best < 0 || d > own[ty[team][best] * MOBA_SIZE + tx[team][best]]) best = k;
                }
                if (best < 0) return -6;
                used[best] = 1;
                int slot = team * 12 + (lane - 1) * 3 + tier - 1;
                m->tower_y[slot] = ty[team][best]; m->tower_x[slot] = tx[team][best];
                m->tower_tier[slot] = tier; m->tower_lane[slot] = lane;
            }
        }
        for (int k = 0; k < 11; k++) {
            if (used[k]) continue;
            int slot = team * 12 + base_slot++;
            m->tower_y[slot] = ty[team][k]; m->tower_x[slot] = tx[team][k];
            m->tower_tier[slot] = 4; m->tower_lane[slot] = 0;
        }
        int slot = team * 12 + 11;
        m->tower_y[slot] = ancient[team] / MOBA_SIZE; m->tower_x[slot] = ancient[team] % MOBA_SIZE;
        m->tower_tier[slot] = 5; m->tower_lane[slot] = 0;
    }

    /* Padded observation rows: the entity-type and terrain-class channels of the bare map, in
     * both frames, so a crop row is one memcpy. Padding is wall. */
    static const unsigned char CLASS[5] = {0, 0, 170, 85, 255};
    for (int f = 0; f < 2; f++) {
        memset(m->crop_type[f], ENT_WALL, MOBA_PCELLS);
        memset(m->crop_class[f], 0, MOBA_PCELLS);
    }
    for (int y = 0; y < MOBA_SIZE; y++)
        for (int x = 0; x < MOBA_SIZE; x++) {
            int ter = m->terrain[y * MOBA_SIZE + x];
            unsigned char type = ter == TER_WALL ? ENT_WALL : ENT_FLOOR;
            m->crop_type[0][moba_pidx(y, x)] = type;
            m->crop_type[1][moba_pidx(x, y)] = type;
            m->crop_class[0][moba_pidx(y, x)] = CLASS[ter];
            m->crop_class[1][moba_pidx(x, y)] = CLASS[ter];
        }
    return 0;
}

/* ---- occupancy grid ---------------------------------------------------------------------------- */

static inline void moba_place(Moba* env, int id) {
    Unit* u = &env->units[id];
    int y = u->ty = (int)u->y, x = u->tx = (int)u->x;
    env->grid[moba_pidx(y, x)] = (unsigned char)(id + 1);
    env->bits[u->team][y][x >> 3] |= (unsigned char)(1u << (x & 7));
}

static inline void moba_unplace(Moba* env, int id) {
    Unit* u = &env->units[id];
    int y = u->ty, x = u->tx;
    env->grid[moba_pidx(y, x)] = 0;
    env->bits[u->team][y][x >> 3] &= (unsigned char)~(1u << (x & 7));
}

static inline int moba_free(const Moba* env, int y, int x) {
    return moba_walkable(env->map, y, x) && env->grid[moba_pidx(y, x)] == 0;
}

/* A free tile near (y, x) in growing squares, or -1. */
static int moba_find_free(const Moba* env, int y, int x, int radius, int frame) {
    for (int r = 0; r <= radius; r++)
        for (int i = -r; i <= r; i++)
            for (int j = -r; j <= r; j++) {
                if (moba_imax(moba_iabs(i), moba_iabs(j)) != r) continue;
                int dy = frame ? j : i, dx = frame ? i : j;
                if (moba_free(env, y + dy, x + dx)) return (y + dy) * MOBA_SIZE + x + dx;
            }
    return -1;
}

/* Move by (vy, vx) tiles (|v| <= 1 per axis); blocked moves slide along one axis. */
static void moba_move(Moba* env, int id, float vy, float vx) {
    Unit* u = &env->units[id];
    int oy = u->ty, ox = u->tx;
    /* Blocked: slide along y first (x first for Dire, the mirror image). */
    int f = moba_frame(u);
    float tries[3][2] = {{vy, vx}, {f ? 0 : vy, f ? vx : 0}, {f ? vy : 0, f ? 0 : vx}};
    for (int t = 0; t < 3; t++) {
        float ny = u->y + tries[t][0], nx = u->x + tries[t][1];
        if (ny < 0 || nx < 0 || ny >= MOBA_SIZE || nx >= MOBA_SIZE) continue;
        int ty = (int)ny, tx = (int)nx;
        if (ty == oy && tx == ox) { u->y = ny; u->x = nx; return; }
        if (!moba_free(env, ty, tx)) continue;
        if (ty != oy && tx != ox && (!moba_walkable(env->map, ty, ox) || !moba_walkable(env->map, oy, tx))) continue;
        moba_unplace(env, id);
        u->y = ny; u->x = nx;
        moba_place(env, id);
        return;
    }
}

static inline int moba_dist(const Unit* a, const Unit* b) {
    return moba_imax(moba_iabs(a->ty - b->ty), moba_iabs(a->tx - b->tx));
}

/* Bits x0 .. x0 + len - 1 (len <= 57) of row y of `team`'s bitboard, shifted down to bit 0: one
 * unaligned 8-byte load (the bit order within the row is little-endian, as on x86 and ARM). */
static inline uint64_t moba_row_bits(const Moba* env, int team, int y, int x0, int len) {
    uint64_t w;
    memcpy(&w, env->bits[team][y] + (x0 >> 3), sizeof(w));
    return (w >> (x0 & 7)) & ((1ull << len) - 1);
}

/* Whether any unit of a team in team_mask stands within `radius` (Chebyshev) of (y, x): a few
 * word operations per row of the square, no tile reads. */
static inline int moba_any_near(const Moba* env, int y, int x, int radius, int team_mask) {
    int y0 = moba_imax(y - radius, 0), y1 = y + radius < MOBA_SIZE ? y + radius : MOBA_SIZE - 1;
    int x0 = moba_imax(x - radius, 0), len = (x + radius < MOBA_SIZE ? x + radius : MOBA_SIZE - 1) - x0 + 1;
    for (int t = 0; t < 3; t++) {
        if (!(team_mask >> t & 1)) continue;
        for (int r = y0; r <= y1; r++)
            if (moba_row_bits(env, t, r, x0, len)) return 1;
    }
    return 0;
}

/* Nearest unit (Chebyshev distance) of a team in team_mask and a kind in kind_mask within
 * `radius` of (y, x), the center excluded, or -1. Candidates come from the teams' row bitboards.
 * Ties go to the Euclidean nearest, then to the first in reading order of the caller's frame
 * (transposed for Dire), so both teams choose mirror-image targets in mirror-image situations. */
static int moba_nearest(const Moba* env, int y, int x, int radius, int team_mask, int kind_mask, int frame) {
    int y0 = moba_imax(y - radius, 0), y1 = y + radius < MOBA_SIZE ? y + radius : MOBA_SIZE - 1;
    int x0 = moba_imax(x - radius, 0), len = (x + radius < MOBA_SIZE ? x + radius : MOBA_SIZE - 1) - x0 + 1;
    int best = -1, best_key = 1 << 30;
    for (int t = 0; t < 3; t++) {
        if (!(team_mask >> t & 1)) continue;
        for (int r = y0; r <= y1; r++) {
            uint64_t w = moba_row_bits(env, t, r, x0, len);
            while (w) {
                int c = x0 + __builtin_ctzll(w);
                w &= w - 1;
                int dy = r - y, dx = c - x;
                if (!dy && !dx) continue;
                int id = env->grid[moba_pidx(r, c)] - 1;
                if (!(kind_mask >> env->units[id].kind & 1)) continue;
                int cheb = moba_imax(moba_iabs(dy), moba_iabs(dx));
                int order = frame ? (dx + 8) * 32 + dy + 8 : (dy + 8) * 32 + dx + 8;
                int key = (cheb << 20) | ((dy * dy + dx * dx) << 10) | order;
                if (key < best_key) { best_key = key; best = id; }
            }
        }
    }
    return best;
}

static inline int moba_enemies(int team) { return team == NEUTRAL ? 3 : (1 << (1 - team)) | (1 << NEUTRAL); }

/* ---- combat --------------------------------------------------------------------------------- */

static int moba_invulnerable(const Moba* env, int id) {
    const Unit* u = &env->units[id];
    if (u->kind != KIND_TOWER) return 0;
    int base = u->team * 12, slot = id - FIRST_TOWER - base;
    if (u->tier == 2 || u->tier == 3) return env->units[FIRST_TOWER + base + slot - 1].alive;
    if (u->tier == 4) {
        for (int lane = 0; lane < 3; lane++)
            if (!env->units[FIRST_TOWER + base + lane * 3 + 2].alive) return 0;
        return 1;
    }
    if (u->tier == 5) return env->units[FIRST_TOWER + base + 9].alive || env->units[FIRST_TOWER + base + 10].alive;
    return 0;
}

static void moba_add_xp(Moba* env, int hero, float xp) {
    Unit* h = &env->units[hero];
    if (h->level >= MOBA_MAX_LEVEL) return;
    h->xp += xp;
    env->reward_acc[hero] += env->reward_xp * xp;
    const RoleStats* rs = &MOBA_ROLES[h->role];
    while (h->level < MOBA_MAX_LEVEL && h->xp >= moba_xp_needed(h->level)) {
        h->xp -= moba_xp_needed(h->level);
        h->level++;
        h->max_hp += rs->hp_growth; h->hp += rs->hp_growth;
        h->max_mana += rs->mana_growth; h->mana += rs->mana_growth;
        h->damage += rs->damage_growth;
        h->hp_regen += 0.05f; h->mana_regen += 0.05f;
    }
    if (h->level >= MOBA_MAX_LEVEL) h->xp = 0;
}

static float moba_xp_value(const Unit* u) {
    switch (u->kind) {
        case KIND_HERO: return 100.0f + 20.0f * (float)u->level;
        case KIND_TOWER: return 150.0f;
        case KIND_NEUTRAL: return 50.0f;
        default: return 40.0f;
    }
}

static void moba_kill(Moba* env, int id, int killer) {
    Unit* u = &env->units[id];
    Unit* k = &env->units[killer];
    moba_unplace(env, id);
    u->alive = 0;
    u->target = -1;
    int team = k->team;
    /* XP: the killing hero gets the full value, its allies near the death half each. */
    if (team != NEUTRAL) {
        float xp = moba_xp_value(u);
        for (int h = team * 5; h < team * 5 + 5; h++) {
            Unit* ally = &env->units[h];
            if (!ally->alive) continue;
            if (h == killer) moba_add_xp(env, h, xp);
            else if (moba_dist(ally, u) <= XP_RADIUS) moba_add_xp(env, h, 0.5f * xp);
        }
    }
    if (u->kind == KIND_HERO) {
        u->respawn_t = RESPAWN_BASE + 2 * u->level;
        env->stats[id].deaths += 1;
        env->reward_acc[id] += env->reward_death;
        if (k->kind == KIND_HERO) env->stats[killer].kills += 1;
    } else if (u->kind == KIND_TOWER) {
        if (team != NEUTRAL) {
            env->towers_taken[team]++;
            for (int h = team * 5; h < team * 5 + 5; h++) env->reward_acc[h] += env->reward_tower_kill;
        }
        if (u->tier == 5 && env->winner < 0) env->winner = 1 - u->team;
    } else if (u->kind == KIND_NEUTRAL) {
        if (--env->camp_alive[u->camp] == 0) env->camp_timer[u->camp] = env->camp_respawn;
    }
}

/* Tower rule: a hero that hurts an enemy hero standing under that hero's tower draws the tower. */
static void moba_tower_aggro(Moba* env, int attacker, int victim) {
    Unit* a = &env->units[attacker];
    Unit* v = &env->units[victim];
    int base = FIRST_TOWER + v->team * 12;
    for (int t = base; t < base + 12; t++) {
        Unit* tower = &env->units[t];
        if (tower->alive && moba_dist(tower, v) <= tower->range && moba_dist(tower, a) <= tower->range) {
            tower->target = attacker;
            tower->aggro_t = 20;
        }
    }
}

static void moba_damage(Moba* env, int attacker, int target, float amount) {
    Unit* t = &env->units[target];
    Unit* a = &env->units[attacker];
    if (!t->alive || amount <= 0 || moba_invulnerable(env, target)) return;
    if (t->shield_t > 0 && t->shield > 0) {
        float absorbed = t->shield < amount ? t->shield : amount;
        t->shield -= absorbed;
        amount -= absorbed;
    }
    float dealt = t->hp < amount ? t->hp : amount;
    t->hp -= amount;
    if (a->kind == KIND_HERO) {
        env->stats[attacker].damage += dealt;
        if (t->kind == KIND_TOWER) env->reward_acc[attacker] += env->reward_tower_damage * dealt;
        if (t->kind == KIND_HERO) moba_tower_aggro(env, attacker, target);
    }
    if (t->kind == KIND_NEUTRAL) {
        env->camp_awake[t->camp] = 1;
        if (t->target < 0 || !env->units[t->target].alive) t->target = attacker;
    }
    if (t->hp <= 0) moba_kill(env, target, attacker);
}

static inline float moba_attack_damage(const Unit* u) {
    return u->damage * (u->buff_t > 0 ? 1.0f + u->buff : 1.0f);
}

/* Basic attack if off cooldown and in range; returns 1 if it attacked. */
static int moba_attack(Moba* env, int id, int target) {
    Unit* u = &env->units[id];
    if (u->attack_cd > 0 || target < 0 || moba_dist(u, &env->units[target]) > u->range) return 0;
    u->attack_cd = u->attack_period;
    moba_damage(env, id, target, moba_attack_damage(u));
    return 1;
}

/* Step toward a unit: one tile per axis at most, scaled by speed. */
static void moba_chase(Moba* env, int id, int target) {
    Unit* u = &env->units[id];
    Unit* t = &env->units[target];
    float speed = u->slow_t > 0 ? 0.5f * u->speed : u->speed;
    int dy = t->ty - u->ty, dx = t->tx - u->tx;
    moba_move(env, id, (float)((dy > 0) - (dy < 0)) * speed, (float)((dx > 0) - (dx < 0)) * speed);
}

static void moba_follow(Moba* env, int id, const unsigned char* flow) {
    Unit* u = &env->units[id];
    int k = flow[u->ty * MOBA_SIZE + u->tx];
    if (k == 8) return;
    float speed = u->slow_t > 0 ? 0.5f * u->speed : u->speed;
    moba_move(env, id, MOBA_DY[k] * speed, MOBA_DX[k] * speed);
}

/* ---- skills ---------------------------------------------------------------------------------- */

#define KINDS_ALL 15

/* Skill target: the nearest enemy hero in range, else the nearest creep or neutral. */
static int moba_skill_target(const Moba* env, int id, int range) {
    const Unit* u = &env->units[id];
    int y = u->ty, x = u->tx;
    int f = moba_frame(u);
    int t = moba_nearest(env, y, x, range, 1 << (1 - u->team), 1 << KIND_HERO, f);
    if (t < 0) t = moba_nearest(env, y, x, range, moba_enemies(u->team), (1 << KIND_CREEP) | (1 << KIND_NEUTRAL), f);
    return t;
}

static void moba_hit(Moba* env, int id, int target, const Skill* s) {
    Unit* t = &env->units[target];
    if (s->stun > t->stun_t) t->stun_t = s->stun;
    if (s->slow > t->slow_t) t->slow_t = s->slow;
    moba_damage(env, id, target, s->amount);
}

/* Cast skill `slot`; returns 1 if it went off (mana spent, cooldown started). */
static int moba_cast(Moba* env, int id, int slot, float my, float mx) {
    Unit* u = &env->units[id];
    const Skill* s = &MOBA_SKILLS[u->role][slot];
    if (u->cd[slot] > 0 || u->mana < (float)s->mana) return 0;
    int y = u->ty, x = u->tx;
    switch (s->type) {
        case SK_HOSTILE: {
            int cy = y, cx = x, target = -1;
            if (s->range > 0) {
                target = moba_skill_target(env, id, s->range);
                if (target < 0) return 0;
                cy = env->units[target].ty;
                cx = env->units[target].tx;
            }
            if (s->radius == 0) {
                moba_hit(env, id, target, s);
                break;
            }
            if (target < 0 && !moba_any_near(env, cy, cx, s->radius, moba_enemies(u->team))) return 0;
            int hits[64], n = 0; /* collect first: kills edit the grid */
            for (int dy = -s->radius; dy <= s->radius; dy++)
                for (int dx = -s->radius; dx <= s->radius; dx++) {
                    int o = env->grid[moba_pidx(cy, cx) + dy * MOBA_PSIZE + dx];
                    if (!o || n >= 64) continue;
                    const Unit* v = &env->units[o - 1];
                    if (v->team != u->team && v->kind != KIND_TOWER) hits[n++] = o - 1;
                }
            if (n == 0) return 0;
            for (int i = 0; i < n; i++) moba_hit(env, id, hits[i], s);
            break;
        }
        case SK_HEAL:
        case SK_AURA:
            for (int h = u->team * 5; h < u->team * 5 + 5; h++) {
                Unit* a = &env->units[h];
                if (!a->alive || moba_dist(a, u) > s->radius) continue;
                if (s->type == SK_HEAL) {
                    float healed = a->max_hp - a->hp < s->amount ? a->max_hp - a->hp : s->amount;
                    a->hp += healed;
                    env->stats[id].healing += healed;
                } else {
                    a->buff = s->amount;
                    a->buff_t = s->duration;
                }
            }
            break;
        case SK_BUFF:
            u->buff = s->amount;
            u->buff_t = s->duration;
            break;
        case SK_SHIELD:
            u->shield = s->amount;
            u->shield_t = s->duration;
            break;
        case SK_DASH: {
            int dy = (my > 0) - (my < 0), dx = (mx > 0) - (mx < 0);
            if (!dy && !dx) return 0;
            for (int i = 0; i < s->range; i++) {
                int ty = u->ty, tx = u->tx;
                if (!moba_free(env, ty + dy, tx + dx)) break;
                moba_unplace(env, id);
                u->y += (float)dy;
                u->x += (float)dx;
                moba_place(env, id);
            }
            break;
        }
    }
    u->mana -= (float)s->mana;
    u->cd[slot] = s->cooldown;
    float* count = slot == 0 ? &env->stats[id].q : slot == 1 ? &env->stats[id].w : &env->stats[id].e;
    *count += 1;
    return 1;
}

/* ---- units ----------------------------------------------------------------------------------- */

static void moba_init_unit(Unit* u, int kind, int team, float hp, float damage, int range, int period, float speed) {
    memset(u, 0, sizeof(*u));
    u->kind = (unsigned char)kind;
    u->team = (unsigned char)team;
    u->alive = 1;
    u->hp = u->max_hp = hp;
    u->damage = damage;
    u->range = range;
    u->attack_period = period;
    u->speed = speed;
    u->target = -1;
    u->camp = -1;
}

static void moba_spawn_hero(Moba* env, int id) {
    const MobaMap* m = env->map;
    Unit* u = &env->units[id];
    int team = id / 5;
    int spot = moba_find_free(env, m->fountain_y[team], m->fountain_x[team], 6, team);
    if (spot < 0) { u->respawn_t = 1; return; } /* try again next step */
    u->alive = 1;
    u->hp = u->max_hp;
    u->mana = u->max_mana;
    u->y = (float)(spot / MOBA_SIZE) + 0.5f;
    u->x = (float)(spot % MOBA_SIZE) + 0.5f;
    u->stun_t = u->slow_t = u->buff_t = u->shield_t = 0;
    u->shield = 0;
    u->target = -1;
    u->retreat = 0;
    moba_place(env, id);
    env->stats[id].prev_dist = -1;
}

static void moba_spawn_creeps(Moba* env) {
    const MobaMap* m = env->map;
    /* Creeps come in pairs (one per team), so a full creep table never favours a side; which
     * side takes the lower slot (and so acts first in the even-tick order) alternates by wave. */
    int first = env->game_steps / env->wave_period & 1;
    int slot[2] = {FIRST_CREEP, FIRST_CREEP};
    for (int lane = 0; lane < 3; lane++) {
        for (int c = 0; c < 4; c++) {
            int spots[2];
            for (int k = 0; k < 2; k++) {
                int team = k ^ first;
                spots[team] = moba_find_free(env, m->spawn_y[team][lane], m->spawn_x[team][lane], 3, team);
            }
            if (spots[0] < 0 || spots[1] < 0) continue;
            int ids[2];
            int s = slot[0] > slot[1] ? slot[0] : slot[1];
            for (int k = 0; k < 2; k++) {
                while (s < MOBA_UNITS && env->units[s].alive) s++;
                if (s >= MOBA_UNITS) return;
                ids[k] = s++;
            }
            slot[0] = slot[1] = s;
            for (int k = 0; k < 2; k++) {
                int team = k ^ first, ranged = c == 3;
                Unit* u = &env->units[ids[k]];
                moba_init_unit(u, KIND_CREEP, team, ranged ? 260.0f : 360.0f, ranged ? 20.0f : 14.0f, ranged ? 4 : 1,
                               ranged ? 4 : 3, 0.6f);
                u->lane = (unsigned char)lane;
                u->role = (unsigned char)ranged;
                u->entity = ENT_CREEP;
                u->y = (float)(spots[team] / MOBA_SIZE) + 0.5f;
                u->x = (float)(spots[team] % MOBA_SIZE) + 0.5f;
                moba_place(env, ids[k]);
            }
        }
    }
}

static void moba_spawn_camp(Moba* env, int camp) {
    const MobaMap* m = env->map;
    static const int OFF[4][2] = {{-1, -1}, {-1, 1}, {1, -1}, {1, 1}};
    env->camp_alive[camp] = 0;
    env->camp_awake[camp] = 0;
    for (int k = 0; k < 4; k++) {
        int id = FIRST_NEUTRAL + camp * 4 + k;
        Unit* u = &env->units[id];
        int spot = moba_find_free(env, m->camp_y[camp] + OFF[k][0], m->camp_x[camp] + OFF[k][1], 2,
                                 m->camp_y[camp] < m->camp_x[camp]);
        if (spot < 0) { u->alive = 0; continue; }
        moba_init_unit(u, KIND_NEUTRAL, NEUTRAL, 420.0f, 22.0f, 1, 4, 0.7f);
        u->entity = ENT_NEUTRAL;
        u->camp = camp;
        u->home_y = spot / MOBA_SIZE;
        u->home_x = spot % MOBA_SIZE;
        u->y = (float)u->home_y + 0.5f;
        u->x = (float)u->home_x + 0.5f;
        moba_place(env, id);
        env->camp_alive[camp]++;
    }
    if (env->camp_alive[camp] == 0) env->camp_timer[camp] = env->camp_respawn;
}

/* A new game: towers, heroes at their fountains, full camps, no creeps. */
static void moba_new_game(Moba* env, int random_start) {
    const MobaMap* m = env->map;
    memset(env->grid, 0, sizeof(env->grid));
    memset(env->bits, 0, sizeof(env->bits));
    memset(env->stats, 0, sizeof(env->stats));
    for (int i = 0; i < MOBA_UNITS; i++) { env->units[i].alive = 0; env->units[i].target = -1; }
    static const float TOWER_HP[6] = {0, 1600, 1900, 2200, 2500, 4500};
    for (int t = 0; t < MOBA_TOWERS; t++) {
        int id = FIRST_TOWER + t, tier = m->tower_tier[t];
        Unit* u = &env->units[id];
        moba_init_unit(u, KIND_TOWER, t / 12, TOWER_HP[tier], tier == 5 ? 120.0f : 90.0f, TOWER_RANGE, 5, 0.0f);
        u->tier = (unsigned char)tier;
        u->lane = (unsigned char)m->tower_lane[t];
        u->entity = tier == 5 ? ENT_ANCIENT : ENT_TOWER;
        u->y = (float)m->tower_y[t] + 0.5f;
        u->x = (float)m->tower_x[t] + 0.5f;
        moba_place(env, id);
    }
    for (int h = 0; h < MOBA_HEROES; h++) {
        Unit* u = &env->units[h];
        const RoleStats* rs = &MOBA_ROLES[h % 5];
        moba_init_unit(u, KIND_HERO, h / 5, rs->hp, rs->damage, rs->range, rs->attack_period, rs->speed);
        u->role = (unsigned char)(h % 5);
        u->entity = (unsigned char)(ENT_HERO + h % 5);
        u->max_mana = u->mana = rs->mana;
        u->hp_regen = rs->hp_regen;
        u->mana_regen = rs->mana_regen;
        u->level = 1;
        u->alive = 0;
        moba_spawn_hero(env, h);
    }
    for (int c = 0; c < MOBA_CAMPS; c++) {
        env->camp_timer[c] = 0;
        moba_spawn_camp(env, c);
    }
    env->towers_taken[0] = env->towers_taken[1] = 0;
    env->winner = -1;
    env->game_steps = 0;
    env->wave_timer = 1; /* the first wave leaves on the first step */
    /* Thousands of games started together would stay in lockstep: start the first one at a
     * random time (later games then end at different times on their own). */
    env->tick = random_start && env->max_steps > 2 ? puffer_randint(&env->rng, env->max_steps / 2) : 0;
    for (int h = 0; h < MOBA_HEROES; h++) env->reward_acc[h] = 0;
}

/* ---- per-step behaviour ------------------------------------------------------------------------- */

static void moba_tick_status(Unit* u) {
    if (u->attack_cd > 0) u->attack_cd--;
    if (u->stun_t > 0) u->stun_t--;
    if (u->slow_t > 0) u->slow_t--;
    if (u->buff_t > 0) u->buff_t--;
    if (u->shield_t > 0 && --u->shield_t == 0) u->shield = 0;
    if (u->aggro_t > 0) u->aggro_t--;
}

static void moba_hero_step(Moba* env, int id, const int* act) {
    Unit* u = &env->units[id];
    const MobaMap* m = env->map;
    if (!u->alive) {
        if (--u->respawn_t <= 0) moba_spawn_hero(env, id);
        return;
    }
    moba_tick_status(u);
    for (int s = 0; s < 3; s++) if (u->cd[s] > 0) u->cd[s]--;
    u->hp = u->hp + u->hp_regen < u->max_hp ? u->hp + u->hp_regen : u->max_hp;
    u->mana = u->mana + u->mana_regen < u->max_mana ? u->mana + u->mana_regen : u->max_mana;
    int y = u->ty, x = u->tx;
    for (int team = 0; team < 2; team++) {
        if (moba_imax(moba_iabs(y - m->fountain_y[team]), moba_iabs(x - m->fountain_x[team])) > FOUNTAIN_RADIUS) continue;
        if (team == u->team) { /* the fountain heals its own side and burns the other */
            u->hp = u->hp + 0.04f * u->max_hp < u->max_hp ? u->hp + 0.04f * u->max_hp : u->max_hp;
            u->mana = u->mana + 0.04f * u->max_mana < u->max_mana ? u->mana + 0.04f * u->max_mana : u->max_mana;
        } else {
            u->hp -= 100.0f;
            if (u->hp <= 0) { moba_kill(env, id, FIRST_TOWER + team * 12 + 11); return; }
        }
    }
    if (u->stun_t > 0) return;
    /* Actions are in the hero's frame: Dire's world is transposed. Out-of-range values clamp. */
    float ay = (float)(puffer_clampi(act[0], 0, 6) - 3) / 3.0f;
    float ax = (float)(puffer_clampi(act[1], 0, 6) - 3) / 3.0f;
    float my = u->team == DIRE ? ax : ay, mx = u->team == DIRE ? ay : ax;
    float speed = u->slow_t > 0 ? 0.5f * u->speed : u->speed;
    float norm = sqrtf(my * my + mx * mx);
    if (norm > 0) {
        float scale = speed / (norm > 1.0f ? norm : 1.0f);
        moba_move(env, id, my * scale, mx * scale);
    }
    for (int s = 0; s < 3; s++)
        if (act[3 + s] == 1 && u->alive) moba_cast(env, id, s, my, mx);
    int mode = act[2];
    if (mode == 1 || mode == 2) {
        if (u->attack_cd > 0 || !u->alive) return;
        y = u->ty; x = u->tx;
        int f = moba_frame(u);
        int target = mode == 1 ? moba_nearest(env, y, x, u->range, moba_enemies(u->team), KINDS_ALL, f)
                               : moba_nearest(env, y, x, u->range, 1 << (1 - u->team), (1 << KIND_HERO) | (1 << KIND_TOWER), f);
        moba_attack(env, id, target);
    }
}

static void moba_tower_step(Moba* env, int id) {
    Unit* u = &env->units[id];
    if (u->attack_cd > 0) u->attack_cd--;
    if (u->aggro_t > 0) u->aggro_t--;
    int enemy = 1 << (1 - u->team);
    int y = u->ty, x = u->tx;
    int t = u->target;
    /* Keep the target while it is alive and in range; a drawn hero is kept while aggro lasts. */
    if (t >= 0) {
        Unit* v = &env->units[t];
        if (!v->alive || moba_dist(u, v) > u->range || (v->kind == KIND_HERO && u->aggro_t == 0)) t = -1;
    }
    if (t < 0 && u->attack_cd == 0 && moba_any_near(env, y, x, u->range, enemy)) { /* only when it can shoot */
        t = moba_nearest(env, y, x, u->range, enemy, 1 << KIND_CREEP, u->team);
        if (t < 0) t = moba_nearest(env, y, x, u->range, enemy, KINDS_ALL, u->team);
        if (t >= 0 && env->units[t].kind == KIND_HERO) u->aggro_t = 1 << 20; /* no creep to shoot: keep the hero */
    }
    u->target = t;
    if (t >= 0) moba_attack(env, id, t);
}

static void moba_creep_step(Moba* env, int id) {
    Unit* u = &env->units[id];
    if (u->attack_cd > 0) u->attack_cd--;
    if (u->stun_t > 0) { u->stun_t--; return; }
    if (u->slow_t > 0) u->slow_t--;
    int t = u->target;
    if (t >= 0 && (!env->units[t].alive || moba_dist(u, &env->units[t]) > CREEP_AGGRO)) t = -1;
    if (t < 0 && (env->tick & 1) == 0) { /* looking every other step is soon enough, and halves the cost */
        t = moba_nearest(env, u->ty, u->tx, CREEP_AGGRO, 1 << (1 - u->team),
                         (1 << KIND_CREEP) | (1 << KIND_HERO) | (1 << KIND_TOWER), u->team);
    }
    u->target = t;
    if (t >= 0) {
        if (moba_dist(u, &env->units[t]) <= u->range) moba_attack(env, id, t);
        else moba_chase(env, id, t);
    } else {
        moba_follow(env, id, env->map->lane_flow[u->team][u->lane]);
    }
}

static void moba_neutral_step(Moba* env, int id) {
    Unit* u = &env->units[id];
    if (u->attack_cd > 0) u->attack_cd--;
    if (u->stun_t > 0) { u->stun_t--; return; }
    if (u->slow_t > 0) u->slow_t--;
    int y = u->ty, x = u->tx;
    int away = moba_imax(moba_iabs(y - u->home_y), moba_iabs(x - u->home_x));
    int t = u->target;
    if (t >= 0 && (!env->units[t].alive || away > NEUTRAL_LEASH || moba_dist(u, &env->units[t]) > NEUTRAL_LEASH)) {
        t = -1;
    }
    u->target = t;
    if (t >= 0) {
        if (moba_dist(u, &env->units[t]) <= u->range) moba_attack(env, id, t);
        else moba_chase(env, id, t);
    } else if (away > 0) { /* walk home, healing: leashing resets the camp */
        int dy = u->home_y - y, dx = u->home_x - x;
        moba_move(env, id, (float)((dy > 0) - (dy < 0)) * u->speed, (float)((dx > 0) - (dx < 0)) * u->speed);
        u->hp = u->hp + 0.05f * u->max_hp < u->max_hp ? u->hp + 0.05f * u->max_hp : u->max_hp;
    } else if (u->hp < u->max_hp) {
        u->hp = u->hp + 0.02f * u->max_hp < u->max_hp ? u->hp + 0.02f * u->max_hp : u->max_hp;
    }
}

/* Scripted hero: push its lane, fight what it meets, use its skills on heroes, retreat to the
 * fountain when low, and stay out of tower range when no allied creep tanks for it. */
static void moba_script(Moba* env, int id, int* act) {
    Unit* u = &env->units[id];
    const MobaMap* m = env->map;
    act[0] = act[1] = 3;
    act[2] = act[3] = act[4] = act[5] = 0;
    if (!u->alive) return;
    int y = u->ty, x = u->tx, tile = y * MOBA_SIZE + x;
    if (u->hp < 0.3f * u->max_hp) u->retreat = 1;
    if (u->retreat && u->hp > 0.9f * u->max_hp) u->retreat = 0;
    int dir = 8;
    int f = u->team;
    int enemy_hero = moba_nearest(env, y, x, 6, 1 << (1 - u->team), 1 << KIND_HERO, f);
    if (u->retreat) {
        dir = m->home_flow[u->team][tile];
        act[2] = 1;
        act[3] = act[4] = act[5] = u->role == ROLE_SUPPORT || u->role == ROLE_TANK; /* heal / stun / shield */
    } else {
        int target = moba_nearest(env, y, x, 6, moba_enemies(u->team) & 3, KINDS_ALL, f);
        int tower = moba_nearest(env, y, x, TOWER_RANGE + 1, 1 << (1 - u->team), 1 << KIND_TOWER, f);
        int covered = moba_nearest(env, y, x, 5, 1 << u->team, 1 << KIND_CREEP, f) >= 0;
        if (tower >= 0 && !covered) {
            dir = m->home_flow[u->team][tile]; /* do not tank a tower alone */
        } else if (target >= 0) {
            act[2] = 1;
            if (moba_dist(u, &env->units[target]) > u->range) {
                int dy = env->units[target].ty - y, dx = env->units[target].tx - x;
                act[0] = 3 + 3 * ((dy > 0) - (dy < 0));
                act[1] = 3 + 3 * ((dx > 0) - (dx < 0));
                if (u->team == DIRE) { int t = act[0]; act[0] = act[1]; act[1] = t; }
            }
            if (enemy_hero >= 0) act[3] = act[4] = act[5] = 1;
        } else {
            /* Push with the creeps: past the middle of the map, only advance next to an allied creep. */
            int own_half = m->goal_dist[u->team][tile] > m->goal_dist[1 - u->team][tile];
            int wave = moba_nearest(env, y, x, 8, 1 << u->team, 1 << KIND_CREEP, f) >= 0;
            if (own_half || wave) dir = m->lane_flow[u->team][MOBA_SCRIPT_LANE[u->role]][tile];
        }
    }
    if (dir != 8) {
        int dy = MOBA_DY[dir], dx = MOBA_DX[dir];
        if (u->team == DIRE) { int t = dy; dy = dx; dx = t; }
        act[0] = 3 + 3 * dy;
        act[1] = 3 + 3 * dx;
    }
}

/* ---- observations ------------------------------------------------------------------------------- */

static void moba_write_obs(Moba* env, int hero, unsigned char* obs) {
    const MobaMap* m = env->map;
    const Unit* u = &env->units[hero];
    int frame = u->team == DIRE;
    int cy = u->alive ? u->ty : m->fountain_y[u->team];
    int cx = u->alive ? u->tx : m->fountain_x[u->team];
    const int half = MOBA_CROP / 2, plane = MOBA_CROP * MOBA_CROP;
    /* Terrain channels: one memcpy per crop row from the prebuilt padded rows of this frame. */
    int a = frame ? cx : cy, b = frame ? cy : cx;
    for (int i = 0; i < MOBA_CROP; i++) {
        int src = moba_pidx(a - half + i, b - half);
        memcpy(obs + i * MOBA_CROP, m->crop_type[frame] + src, MOBA_CROP);
        memcpy(obs + 3 * plane + i * MOBA_CROP, m->crop_class[frame] + src, MOBA_CROP);
    }
    memset(obs + plane, 0, 2 * plane);
    /* Units: overlay entity type, health fraction and side; most crop rows are empty, and a row is
     * tested 8 + 3 bytes at a time. */
    for (int dy = 0; dy < MOBA_CROP; dy++) {
        const unsigned char* g = env->grid + moba_pidx(cy - half + dy, cx - half);
        uint64_t head, tail = 0;
        memcpy(&head, g, 8);
        memcpy(&tail, g + 8, 3);
        if (!(head | tail)) continue;
        for (int dx = 0; dx < MOBA_CROP; dx++) {
            int id = g[dx];
            if (!id) continue;
            const Unit* v = &env->units[id - 1];
            int o = frame ? dx * MOBA_CROP + dy : dy * MOBA_CROP + dx;
            obs[o] = v->entity;
            obs[plane + o] = (unsigned char)(255.0f * puffer_clampf(v->hp / v->max_hp, 0.0f, 1.0f));
            obs[2 * plane + o] = v->team == NEUTRAL ? 85 : v->team == u->team ? 170 : 255;
        }
    }
    unsigned char* s = obs + 4 * plane;
    const Skill* sk = MOBA_SKILLS[u->role];
    int ty = u->ty, tx = u->tx;
    int py = frame ? tx : ty, px = frame ? ty : tx;
    s[0] = (unsigned char)(255.0f * puffer_clampf(u->hp / u->max_hp, 0.0f, 1.0f));
    s[1] = (unsigned char)(255.0f * puffer_clampf(u->mana / u->max_mana, 0.0f, 1.0f));
    s[2] = (unsigned char)(u->level * 255 / MOBA_MAX_LEVEL);
    for (int r = 0; r < 5; r++) s[3 + r] = u->role == r ? 255 : 0;
    s[8] = frame ? 255 : 0;
    s[9] = (unsigned char)(2 * py);
    s[10] = (unsigned char)(2 * px);
    for (int k = 0; k < 3; k++) {
        s[11 + k] = (unsigned char)(u->cd[k] * 255 / sk[k].cooldown);
        s[14 + k] = (u->alive && u->cd[k] == 0 && u->mana >= (float)sk[k].mana) ? 255 : 0;
    }
    s[17] = u->stun_t > 0 ? 255 : 0;
    s[18] = u->slow_t > 0 ? 255 : 0;
    s[19] = (unsigned char)(255.0f * puffer_clampf(u->shield / u->max_hp, 0.0f, 1.0f));
    s[20] = (unsigned char)(u->alive ? 0 : u->respawn_t >= 63 ? 255 : 4 * u->respawn_t);
    s[21] = u->buff_t > 0 ? 255 : 0;
    s[22] = (unsigned char)puffer_clampi(env->max_steps > 0 ? (int)(255LL * env->tick / env->max_steps) : 0, 0, 255);
    s[23] = (unsigned char)(255.0f * puffer_clampf(u->xp / moba_xp_needed(u->level), 0.0f, 1.0f));
    s[24] = u->attack_cd == 0 ? 255 : 0;
    s[25] = (unsigned char)puffer_clampi(m->goal_dist[u->team][ty * MOBA_SIZE + tx] / 2, 0, 255);
}

/* Every agent row into `rows`. */
static void moba_write_all_obs(Moba* env, unsigned char* rows) {
    for (int a = 0; a < env->num_agents; a++) moba_write_obs(env, a, rows + a * MOBA_OBS_SIZE);
}

/* ---- the env API ------------------------------------------------------------------------------- */

void c_init(Moba* env) {
    env->num_agents = env->script_opponents ? 5 : MOBA_HEROES;
    if (env->wave_period < 1) env->wave_period = 1;
    if (env->max_steps < 1) env->max_steps = 1;
}

/* The map every env of the process shares, built once before any c_init (the SDK's shared-data hook);
 * read-only from then on. */
int c_shared_init(MobaMap* m) { return moba_map_build(m); }

/* Occupancy grid, block counts and camp counts from the unit table, after Python edited units. */
static void moba_rebuild(Moba* env) {
    memset(env->grid, 0, sizeof(env->grid));
    memset(env->bits, 0, sizeof(env->bits));
    for (int c = 0; c < MOBA_CAMPS; c++) env->camp_alive[c] = 0, env->camp_awake[c] = 1;
    for (int i = 0; i < MOBA_UNITS; i++) {
        Unit* u = &env->units[i];
        if (!u->alive) continue;
        u->y = puffer_clampf(u->y, 0.0f, MOBA_SIZE - 0.01f);
        u->x = puffer_clampf(u->x, 0.0f, MOBA_SIZE - 0.01f);
        if (u->team > NEUTRAL || !moba_free(env, moba_tile(u->y), moba_tile(u->x))) { u->alive = 0; continue; }
        moba_place(env, i);
        if (u->kind == KIND_NEUTRAL && u->camp >= 0 && u->camp < MOBA_CAMPS) env->camp_alive[u->camp]++;
    }
    for (int c = 0; c < MOBA_CAMPS; c++)
        if (env->camp_alive[c] == 0 && env->camp_timer[c] <= 0) env->camp_timer[c] = env->camp_respawn;
    env->rebuild_grid = 0;
}

void c_reset(Moba* env) {
    /* Only reset() (flags zeroed) may start at a random time; after a finished game (its flags still
     * set) the next game starts at 0. */
    int after_game = env->terminals[0] | env->truncations[0];
    moba_new_game(env, after_game ? 0 : env->randomize_start);
    moba_write_all_obs(env, env->observations);
}

static void moba_end_game(Moba* env, int truncated) {
    Log* log = &env->log;
    int agents = env->num_agents;
    float per_role = agents == MOBA_HEROES ? 0.5f : 1.0f;
    float* level = &log->level_support;
    float* kills = &log->kills_support;
    float* deaths = &log->deaths_support;
    float* damage = &log->damage_support;
    float* healing = &log->healing_support;
    float* q = &log->q_support;
    float* w = &log->w_support;
    float* e = &log->e_support;
    float ret = 0;
    for (int a = 0; a < agents; a++) {
        int r = a % 5;
        const HeroStats* st = &env->stats[a];
        level[r] += per_role * (float)env->units[a].level;
        kills[r] += per_role * st->kills;
        deaths[r] += per_role * st->deaths;
        damage[r] += per_role * st->damage;
        healing[r] += per_role * st->healing;
        q[r] += per_role * st->q;
        w[r] += per_role * st->w;
        e[r] += per_role * st->e;
        ret += st->ret;
    }
    log->radiant_towers_taken += (float)env->towers_taken[RADIANT];
    log->dire_towers_taken += (float)env->towers_taken[DIRE];
    int winner = env->winner;
    if (winner < 0) { /* time limit: more towers taken wins, then more damage dealt to towers */
        float lost[2] = {0, 0};
        for (int t = FIRST_TOWER; t < FIRST_NEUTRAL; t++) {
            const Unit* u = &env->units[t];
            lost[u->team] += u->alive ? u->max_hp - u->hp : u->max_hp;
        }
        if (env->towers_taken[RADIANT] != env->towers_taken[DIRE])
            winner = env->towers_taken[RADIANT] > env->towers_taken[DIRE] ? RADIANT : DIRE;
        else if (lost[RADIANT] != lost[DIRE])
            winner = lost[DIRE] > lost[RADIANT] ? RADIANT : DIRE;
    }
    float radiant = winner == RADIANT ? 1.0f : winner == DIRE ? 0.0f : 0.5f;
    log->radiant_win += radiant;
    log->dire_win += 1.0f - radiant;
    log->timeout += truncated ? 1.0f : 0.0f;
    log->game_length += (float)env->game_steps;
    log->episode_return += ret / (float)agents;
    log->n += 1.0f;
}

void c_step(Moba* env) {
    const MobaMap* m = env->map;
    if (env->rebuild_grid) moba_rebuild(env);
    env->tick++;
    env->game_steps++;
    for (int h = 0; h < MOBA_HEROES; h++) env->reward_acc[h] = 0;
    if (env->script_opponents)
        for (int h = 5; h < MOBA_HEROES; h++) moba_script(env, h, env->script_actions + h * 6);
    /* Heroes act in alternating order so neither side always moves first. */
    for (int k = 0; k < MOBA_HEROES; k++) {
        int h = (env->tick & 1) ? MOBA_HEROES - 1 - k : k;
        const int* act = h < env->num_agents ? env->actions + h * 6 : env->script_actions + h * 6;
        moba_hero_step(env, h, act);
    }
    int odd = env->tick & 1;
    for (int k = 0; k < MOBA_TOWERS; k++) {
        int t = odd ? FIRST_NEUTRAL - 1 - k : FIRST_TOWER + k;
        if (env->units[t].alive) moba_tower_step(env, t);
    }
    for (int k = 0; k < MOBA_CREEPS; k++) {
        int c = odd ? MOBA_UNITS - 1 - k : FIRST_CREEP + k;
        if (env->units[c].alive) moba_creep_step(env, c);
    }
    /* Neutrals idle at home until attacked: only awake camps are stepped. */
    for (int c = 0; c < MOBA_CAMPS; c++) {
        if (!env->camp_awake[c]) continue;
        int awake = 0;
        for (int n = FIRST_NEUTRAL + 4 * c; n < FIRST_NEUTRAL + 4 * c + 4; n++) {
            Unit* u = &env->units[n];
            if (!u->alive || (u->target < 0 && u->hp >= u->max_hp && u->ty == u->home_y && u->tx == u->home_x &&
                              u->stun_t == 0 && u->slow_t == 0))
                continue;
            moba_neutral_step(env, n);
            awake = 1;
        }
        env->camp_awake[c] = awake;
    }
    for (int c = 0; c < MOBA_CAMPS; c++)
        if (env->camp_alive[c] == 0 && --env->camp_timer[c] <= 0) moba_spawn_camp(env, c);
    if (--env->wave_timer <= 0) {
        moba_spawn_creeps(env);
        env->wave_timer = env->wave_period;
    }

    /* Progress toward the enemy ancient, counted only between two live steps. */
    for (int h = 0; h < MOBA_HEROES; h++) {
        Unit* u = &env->units[h];
        HeroStats* st = &env->stats[h];
        if (!u->alive) { st->prev_dist = -1; continue; }
        int d = m->goal_dist[u->team][u->ty * MOBA_SIZE + u->tx];
        if (st->prev_dist >= 0) env->reward_acc[h] += env->reward_distance * (float)(st->prev_dist - d);
        st->prev_dist = d;
    }

    int over = env->winner >= 0, truncated = !over && env->tick >= env->max_steps;
    if (over) {
        for (int h = 0; h < MOBA_HEROES; h++)
            env->reward_acc[h] += env->units[h].team == env->winner ? env->reward_win : -env->reward_win;
    }
    for (int a = 0; a < env->num_agents; a++) {
        env->rewards[a] = env->reward_acc[a];
        env->stats[a].ret += env->reward_acc[a];
        env->terminals[a] = (unsigned char)over;
        env->truncations[a] = (unsigned char)truncated;
    }
    if (over || truncated) moba_end_game(env, truncated);  /* the SDK resets the env after this step */
    moba_write_all_obs(env, env->observations);
}

void c_close(Moba* env) { (void)env; }

#endif /* MOBA_H */

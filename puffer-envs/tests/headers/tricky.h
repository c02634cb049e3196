/* A header that exercises the cdef generator: nested and anonymous structs, arrays of structs,
 * macro-sized and multi-dimensional arrays, enums, unions, comments in awkward places. */
#ifndef TRICKY_H
#define TRICKY_H
#include "puffer.h"

#define GRID_W 5
#define GRID_H (GRID_W * 2)          /* expression over another constant */
#define MAX_UNITS 0x4
#define NEG_ONE -1
#define SPEED 2.5f                   /* float: not an integer constant, skipped */
#define NAME "tricky // not a comment"
#define SQUARE(x) ((x) * (x))        /* function-like: skipped */

typedef enum { EMPTY, WALL = 3, FOOD /* = 4 */ } Cell;

typedef struct {
    float episode_return; /* { a brace in a comment } */
    float n;
} Log;

// typedef struct { int fake; } NotReal;   (a commented-out struct)

typedef struct {
    int x, y;
    float hp[MAX_UNITS];
    struct { unsigned char r, g, b; } color;  // nested anonymous struct
} Unit;

typedef struct Tagged { int a; } Tagged;
struct Plain { int b; };
typedef struct Plain Plain;
typedef float vec2[2];

typedef struct {
    Log log;
    float* observations;
    union { int* actions; float* continuous_actions; };
    float* rewards;
    unsigned char* terminals;
    unsigned char* truncations;
    unsigned char* masks;
    uint64_t rng;
    int level;
    float gravity;
    unsigned char flag;
    Cell cells[GRID_H][GRID_W];
    Unit units[MAX_UNITS];
    Tagged tagged;
    Plain plain;
    vec2 velocity;
    int bits[3];
} Tricky;

static inline int helper(Tricky* env) {
    struct { int inner; } local = {1};   /* a struct inside a function: not declared */
    return local.inner + env->level;
}

void c_init(Tricky* env) { env->gravity += 0.0f; }
void c_reset(Tricky* env) {
    for (int i = 0; i < 3; i++) env->observations[i] = (float)(env->units[0].x + i);
    env->masks[0] = 1;
}
void c_step(Tricky* env) {
    env->observations[0] = (float)helper(env);
    env->rewards[0] = env->units[MAX_UNITS - 1].hp[MAX_UNITS - 1];
    env->terminals[0] = 0;
    env->truncations[0] = 0;
}
void c_close(Tricky* env) { (void)env; }
#endif

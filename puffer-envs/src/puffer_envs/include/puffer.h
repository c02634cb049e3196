/* puffer.h: what every Puffer C environment shares.
 *
 * An env is one header with a struct `Env` (any name; the SDK is told it) holding, by convention:
 *
 *     Log log;                      // float fields only, `n` last (the log-struct ABI)
 *     <obs type>* observations;     // this env's agent rows, set by the SDK
 *     <int or float>* actions;
 *     float* rewards;
 *     unsigned char* terminals;
 *     unsigned char* truncations;
 *     uint64_t rng;                 // per-env RNG state, seeded by puffer_vec_reset
 *     ... config fields (set by name from Python kwargs) and game state ...
 *
 * and four functions taking `Env*`: c_init (once, after config is set), c_reset (new episode,
 * called with a freshly seeded rng), c_step (auto-resets finished episodes itself), c_close.
 * No globals, no heap allocation in c_step, no rand(): use puffer_rand* with &env->rng.
 *
 * Optional: `unsigned char* masks;` (the SDK points it at the masks rows, which start at 1, for
 * envs whose agents are not all live every step); `#define <ENV>_OBS_SIZE n` (or OBS_SIZE), which
 * the SDK checks against the observation space; an env whose action type depends on a config
 * field declares both pointers in an anonymous union, and the SDK sets the one that matches:
 *
 *     union { int* actions; float* continuous_actions; };
 *
 * The SDK generates the cffi declarations from this header (typedef'd structs, enums and integer
 * #defines; array sizes may be macros), so nothing else is written for Python.
 *
 * PUFFER_VEC_LOOPS(Env) at the end of the header defines the generic loops over an array of
 * envs that the Python runtime calls (with the GIL released):
 *     puffer_vec_init, puffer_vec_reset, puffer_vec_step, puffer_vec_close, puffer_vec_log.
 */
#ifndef PUFFER_H
#define PUFFER_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- RNG: PCG32 (O'Neill) on a 64-bit state; seeds mixed with SplitMix64 ---------------- */

static inline uint64_t puffer_splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* State for copy `index` of a batch seeded with `seed`: distinct, well-mixed streams. */
static inline uint64_t puffer_seed(uint64_t seed, uint64_t index) {
    return puffer_splitmix64(puffer_splitmix64(seed) ^ puffer_splitmix64(index + 0x632BE59BD9B4E019ull));
}

static inline uint32_t puffer_rand(uint64_t* state) {
    uint64_t old = *state;
    *state = old * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-32 * n). */
static inline int puffer_randint(uint64_t* state, int n) {
    return (int)(((uint64_t)puffer_rand(state) * (uint64_t)(uint32_t)n) >> 32);
}

/* Uniform float in [0, 1). */
static inline float puffer_randf(uint64_t* state) {
    return (float)(puffer_rand(state) >> 8) * (1.0f / 16777216.0f);
}

static inline float puffer_uniform(uint64_t* state, float lo, float hi) {
    return lo + (hi - lo) * puffer_randf(state);
}

/* ---- small helpers ---------------------------------------------------------------------- */

static inline float puffer_clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
static inline int puffer_clampi(int x, int lo, int hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* ---- the generic vector loops ----------------------------------------------------------- */

#define PUFFER_VEC_LOOPS(Env)                                                                  \
    void puffer_vec_init(Env* envs, int n) {                                                   \
        for (int i = 0; i < n; i++) c_init(&envs[i]);                                          \
    }                                                                                          \
    void puffer_vec_reset(Env* envs, int n, uint64_t seed, uint64_t first_index) {             \
        for (int i = 0; i < n; i++) {                                                          \
            envs[i].rng = puffer_seed(seed, first_index + (uint64_t)i);                        \
            c_reset(&envs[i]);                                                                 \
        }                                                                                      \
    }                                                                                          \
    void puffer_vec_step(Env* envs, int n) {                                                   \
        for (int i = 0; i < n; i++) c_step(&envs[i]);                                          \
    }                                                                                          \
    void puffer_vec_close(Env* envs, int n) {                                                  \
        for (int i = 0; i < n; i++) c_close(&envs[i]);                                         \
    }                                                                                          \
    /* Sum every env's Log into out[nfields] (doubles) and zero the Logs. */                   \
    void puffer_vec_log(Env* envs, int n, double* out) {                                       \
        const int nfields = (int)(sizeof(envs[0].log) / sizeof(float));                       \
        for (int i = 0; i < n; i++) {                                                          \
            float* fields = (float*)&envs[i].log;                                              \
            for (int f = 0; f < nfields; f++) out[f] += fields[f];                             \
            memset(&envs[i].log, 0, sizeof(envs[i].log));                                      \
        }                                                                                      \
    }

#endif /* PUFFER_H */

/* puffer.h: what every Puffer C environment shares.
 *
 * An env is one header with a struct (any name; the env class's `struct` says which) holding:
 *
 *     Log log;                      // float fields only, `n` last (the log-struct ABI)
 *     <obs type>* observations;     // this env's agent rows, set by the SDK
 *     <int or float>* actions;
 *     float* rewards;
 *     unsigned char* terminals;
 *     unsigned char* truncations;
 *     uint64_t rng;                 // per-env RNG state, seeded before every reset(seed)
 *     ... config fields (set by name from Python kwargs) and game state ...
 *
 * and four functions taking a pointer to it, which is all the SDK needs (it compiles its vector loops
 * together with the header; the struct is the one `c_step` takes):
 *   c_init   once, after the config fields and pointers are set;
 *   c_reset  a new episode: write its first observation. Leave rewards, terminals and truncations
 *            alone (the SDK zeroes them on reset(); after a finished episode they are the last step's);
 *   c_step   one step: write observations, rewards, terminals, truncations. When the episode ends, set
 *            terminals/truncations of EVERY agent row of the struct, write the episode's last
 *            observation into `observations` as on any step, and return without resetting: the SDK
 *            sees the first row's flag, copies the observation rows to the final observations (when
 *            Python asked for them) and calls c_reset;
 *   c_close  release what c_init took.
 * No globals, no heap allocation in c_step, no rand(): use puffer_rand* with &env->rng.
 *
 * Agents that end episodes on their own inside one struct (snake: each snake respawns alone) cannot
 * be reset by the struct: such an env writes `#define PUFFER_SELF_RESET 1`, resets its agents itself in
 * c_step, and for final observations declares `<obs type>* final_observations;` (NULL unless they are
 * on) and writes a finished agent's last observation there before respawning it. A #define because it
 * is a property of the env's code, not of an instance: the SDK's step loop is compiled without the
 * reset, so neither kind of env pays a per-step branch for the other.
 *
 * A NaN in a continuous action means 0 (then clipped to the action's range like any value): read
 * continuous actions through puffer_action(). Integer actions outside the space are the env's to
 * handle safely (the conformance kit writes garbage into them).
 *
 * Optional: `unsigned char* masks;` (the SDK points it at the masks rows, which start at 1, for
 * envs whose agents are not all live every step); `#define <ENV>_OBS_SIZE n` (or OBS_SIZE), which
 * the SDK checks against the observation space; an env whose action type depends on a config
 * field declares both pointers in an anonymous union, and the SDK sets the one that matches:
 *
 *     union { int* actions; float* continuous_actions; };
 *
 * Data every env of a process shares (a map, lookup tables; moba.h): define
 *
 *     int c_shared_init(Shared* shared);   // Shared: any struct; return 0, or an error code
 *
 * and give the env struct one `const Shared* <name>;` member. The SDK allocates one zeroed Shared per
 * process, calls c_shared_init on it once (the env class's init_shared may set inputs first), and
 * points that member at it in every struct before c_init.
 *
 * The SDK generates the cffi declarations from this header (typedef'd structs, enums and integer
 * #defines; array sizes may be macros), so nothing else is written for Python.
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

/* A continuous action component clipped to [lo, hi], NaN read as 0 (the one meaning of a NaN action). */
static inline float puffer_action(float a, float lo, float hi) { return puffer_clampf(a == a ? a : 0.0f, lo, hi); }

#endif /* PUFFER_H */

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
 * Final observations (optional, off unless Python asks for them): declare
 *
 *     <obs type>* final_observations;   // same type as observations
 *
 * and, where c_step ends an agent's episode, write that episode's last observation there before the
 * auto-reset overwrites the state, guarded by `if (env->final_observations)`: the SDK points it at
 * the final-observations rows when they are on and leaves it NULL when off, so an env that is not
 * asked pays one branch per finished episode and nothing per step. The SDK cannot do this for the
 * env: c_step resets finished episodes itself, and many envs never store the final state anywhere
 * (cartpole.h keeps it in locals), so only the env knows it at the moment of reset.
 *
 * The SDK generates the cffi declarations from this header (typedef'd structs, enums and integer
 * #defines; array sizes may be macros), so nothing else is written for Python.
 *
 * PUFFER_VEC_LOOPS(Env) at the end of the header defines the generic loops over an array of
 * envs that the Python runtime calls (with the GIL released):
 *     puffer_vec_init, puffer_vec_reset, puffer_vec_step, puffer_vec_close, puffer_vec_log,
 * and puffer_vec_serve, which with puffer_gate_open/puffer_gate_wait lets the threads backend hand
 * steps to its threads without the GIL (see "step serving" below).
 */
#ifndef PUFFER_H
#define PUFFER_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

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

/* ---- step serving ------------------------------------------------------------------------
 * A thread of the threads backend that waits for its next step in Python must take the GIL to
 * look, and a thread that waits for the GIL sleeps: on a VM, waking it costs tens of microseconds
 * per step. Instead the thread serves steps here, with the GIL released: it spins on a gate of
 * three int64s, gate[0] = go (the generation the caller asks for; negative: stop serving),
 * gate[1] = done (the last generation stepped), gate[2] = serving (1 while a thread is in
 * puffer_vec_serve). Every access is a sequentially consistent atomic, so a caller that publishes
 * `go` and then sees serving == 0 knows the server left without seeing it and must be woken.
 */

static inline int64_t puffer_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_nsec;
}

static inline void puffer_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Publish generation `go`; returns whether a thread is serving (if not, the caller wakes one). */
static inline int puffer_gate_open(int64_t* gate, int64_t go) {
    __atomic_store_n(&gate[0], go, __ATOMIC_SEQ_CST);
    return (int)__atomic_load_n(&gate[2], __ATOMIC_SEQ_CST);
}

/* Wait until generation `go` is done: spin for spin_ns, then nap 50 us at a time, for at most
 * timeout_ns (negative: forever). Returns 1 when done, 0 on timeout. */
static inline int puffer_gate_wait(int64_t* gate, int64_t go, int64_t spin_ns, int64_t timeout_ns) {
    const struct timespec nap = {0, 50000};
    int64_t start = puffer_now_ns();
    for (unsigned i = 1;; i++) {
        if (__atomic_load_n(&gate[1], __ATOMIC_SEQ_CST) == go) return 1;
        if (i % 64) {
            puffer_cpu_relax();
            continue;
        }
        int64_t waited = puffer_now_ns() - start;
        if (timeout_ns >= 0 && waited > timeout_ns) return 0;
        if (waited > spin_ns) nanosleep(&nap, NULL);
    }
}

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
    /* Step each generation published on the gate, group by group (groups[g] holds sizes[g]   \
     * envs), until none comes for spin_ns, or go < 0. */                                      \
    void puffer_vec_serve(Env** groups, const int* sizes, int count, int64_t* gate,            \
                          int64_t spin_ns) {                                                   \
        __atomic_store_n(&gate[2], 1, __ATOMIC_SEQ_CST);                                       \
        int64_t idle_since = puffer_now_ns();                                                  \
        for (unsigned i = 1;; i++) {                                                           \
            int64_t go = __atomic_load_n(&gate[0], __ATOMIC_SEQ_CST);                          \
            if (go < 0) break;                                                                 \
            if (go != __atomic_load_n(&gate[1], __ATOMIC_SEQ_CST)) {                           \
                for (int g = 0; g < count; g++) puffer_vec_step(groups[g], sizes[g]);          \
                __atomic_store_n(&gate[1], go, __ATOMIC_SEQ_CST);                              \
                idle_since = puffer_now_ns();                                                  \
                continue;                                                                      \
            }                                                                                  \
            if (i % 64) {                                                                      \
                puffer_cpu_relax();                                                            \
                continue;                                                                      \
            }                                                                                  \
            if (puffer_now_ns() - idle_since <= spin_ns) continue;                             \
            /* Leave, unless a generation came in meanwhile (see puffer_gate_open). */          \
            __atomic_store_n(&gate[2], 0, __ATOMIC_SEQ_CST);                                   \
            go = __atomic_load_n(&gate[0], __ATOMIC_SEQ_CST);                                  \
            if (go < 0 || go == __atomic_load_n(&gate[1], __ATOMIC_SEQ_CST)) return;           \
            __atomic_store_n(&gate[2], 1, __ATOMIC_SEQ_CST);                                   \
        }                                                                                      \
        __atomic_store_n(&gate[2], 0, __ATOMIC_SEQ_CST);                                       \
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

/* puffer_vec.h: SDK-internal, never included by an env. The build compiles one source per env header:
 *
 *     #include "<env>.h"
 *     #define PUFFER_ENV <Struct>
 *     #include "puffer_vec.h"
 *
 * which defines the loops over an array of env structs that the Python runtime calls (with the GIL
 * released): puffer_vec_init/reset/step/close/log, and the threads backend's step serving
 * (puffer_vec_serve, puffer_gate_open, puffer_gate_wait). Their prototypes are cdef.VEC_PROTOTYPES.
 */
#include <time.h>

typedef PUFFER_ENV PufferEnv;

void puffer_vec_init(PufferEnv* envs, int n) {
    for (int i = 0; i < n; i++) c_init(&envs[i]);
}

void puffer_vec_reset(PufferEnv* envs, int n, uint64_t seed, uint64_t first_index) {
    for (int i = 0; i < n; i++) {
        envs[i].rng = puffer_seed(seed, first_index + (uint64_t)i);
        c_reset(&envs[i]);
    }
}

/* Step every env; an env whose episode ended (its first agent row is terminal or truncated: all rows of
 * a struct end together) has its final observation, which c_step left in its observation rows, copied
 * to its final-observations rows (env_obs_bytes each, when final_observations is not NULL) and is
 * reset. An env defining PUFFER_SELF_RESET resets its agents inside c_step (puffer.h). */
void puffer_vec_step(PufferEnv* envs, int n, unsigned char* final_observations, size_t env_obs_bytes) {
    for (int i = 0; i < n; i++) {
        PufferEnv* env = &envs[i];
        c_step(env);
#ifndef PUFFER_SELF_RESET
        if (env->terminals[0] | env->truncations[0]) {
            if (final_observations)
                memcpy(final_observations + (size_t)i * env_obs_bytes, env->observations, env_obs_bytes);
            c_reset(env);
        }
#else
        (void)final_observations;
        (void)env_obs_bytes;
#endif
    }
}

void puffer_vec_close(PufferEnv* envs, int n) {
    for (int i = 0; i < n; i++) c_close(&envs[i]);
}

/* Sum every env's Log into out[nfields] (doubles) and zero the Logs. */
void puffer_vec_log(PufferEnv* envs, int n, double* out) {
    const int nfields = (int)(sizeof(envs[0].log) / sizeof(float));
    for (int i = 0; i < n; i++) {
        float* fields = (float*)&envs[i].log;
        for (int f = 0; f < nfields; f++) out[f] += fields[f];
        memset(&envs[i].log, 0, sizeof(envs[i].log));
    }
}

/* ---- step serving ------------------------------------------------------------------------
 * A thread of the threads backend that waits for its next step in Python must take the GIL to
 * look, and a thread that waits for the GIL sleeps, which is slow to wake. Instead the thread
 * serves steps here, with the GIL released: it spins on a gate of three int64s, gate[0] = go (the
 * generation the caller asks for; negative: stop serving), gate[1] = done (the last generation
 * stepped), gate[2] = serving (1 while a thread is in puffer_vec_serve). Every access is a
 * sequentially consistent atomic, so a caller that publishes `go` and then sees serving == 0 knows
 * the server left without seeing it and must be woken.
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
int puffer_gate_open(int64_t* gate, int64_t go) {
    __atomic_store_n(&gate[0], go, __ATOMIC_SEQ_CST);
    return (int)__atomic_load_n(&gate[2], __ATOMIC_SEQ_CST);
}

/* Wait until generation `go` is done: spin for spin_ns, then nap 50 us at a time, for at most
 * timeout_ns (negative: forever). Returns 1 when done, 0 on timeout. */
int puffer_gate_wait(int64_t* gate, int64_t go, int64_t spin_ns, int64_t timeout_ns) {
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

/* Step each generation published on the gate, group by group (groups[g] holds sizes[g] envs, with
 * final observations as puffer_vec_step takes them), until none comes for spin_ns, or go < 0. */
void puffer_vec_serve(PufferEnv** groups, const int* sizes, unsigned char** finals, const size_t* obs_bytes,
                      int count, int64_t* gate, int64_t spin_ns) {
    __atomic_store_n(&gate[2], 1, __ATOMIC_SEQ_CST);
    int64_t idle_since = puffer_now_ns();
    for (unsigned i = 1;; i++) {
        int64_t go = __atomic_load_n(&gate[0], __ATOMIC_SEQ_CST);
        if (go < 0) break;
        if (go != __atomic_load_n(&gate[1], __ATOMIC_SEQ_CST)) {
            for (int g = 0; g < count; g++) puffer_vec_step(groups[g], sizes[g], finals[g], obs_bytes[g]);
            __atomic_store_n(&gate[1], go, __ATOMIC_SEQ_CST);
            idle_since = puffer_now_ns();
            continue;
        }
        if (i % 64) {
            puffer_cpu_relax();
            continue;
        }
        if (puffer_now_ns() - idle_since <= spin_ns) continue;
        /* Leave, unless a generation came in meanwhile (see puffer_gate_open). */
        __atomic_store_n(&gate[2], 0, __ATOMIC_SEQ_CST);
        go = __atomic_load_n(&gate[0], __ATOMIC_SEQ_CST);
        if (go < 0 || go == __atomic_load_n(&gate[1], __ATOMIC_SEQ_CST)) return;
        __atomic_store_n(&gate[2], 1, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&gate[2], 0, __ATOMIC_SEQ_CST);
}

#include "kernels/cpu/pool.h"
#include "kernels/platform/tb_platform.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Spin this long for the next run before sleeping: covers the gap between
 * evals (sampling, bookkeeping) without burning a core when idle. */
#define POOL_SPIN_NS 2000000ull
/* Pauses before a barrier waiter starts yielding (the host may be shared). */
#define BARRIER_SPINS 2048

struct tb_cpu_pool {
    int n;
    struct tb_thread **threads; /* [n], 0 is the caller's (NULL) */
    /* written by the caller before gen is bumped */
    tb_cpu_pool_fn fn;
    void *arg;
    alignas(64) atomic_uint gen;
    atomic_int stop;
    atomic_int n_sleeping;
    alignas(64) atomic_int arrived;
    alignas(64) atomic_uint phase;
    struct tb_mutex *mu;
    struct tb_cond *cv;
    int *bind;             /* [n] OS CPU per thread, or NULL */
    int *observed;         /* [n] tb_thread_current_cpu() after pinning */
    atomic_int n_pinned;   /* workers done pinning (create waits for all) */
    atomic_int pin_failed; /* first failing errno, 0 if none */
};

struct worker_arg {
    struct tb_cpu_pool *p;
    int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    _mm_pause();
#endif
}

void tb_cpu_pool_barrier(struct tb_cpu_pool *p)
{
    if (p->n == 1)
        return;
    const unsigned ph = atomic_load_explicit(&p->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->arrived, 1, memory_order_acq_rel) == p->n - 1) {
        atomic_store_explicit(&p->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->phase, 1, memory_order_acq_rel);
        return;
    }
    for (int spins = 0; atomic_load_explicit(&p->phase, memory_order_acquire) == ph; spins++) {
        if (spins < BARRIER_SPINS)
            cpu_relax();
        else
            tb_thread_yield();
    }
}

static void *worker_main(void *vp)
{
    struct worker_arg wa = *(struct worker_arg *)vp;
    free(vp);
    struct tb_cpu_pool *p = wa.p;
    if (p->bind) {
        const int e = tb_thread_pin_self(p->bind[wa.ith]);
        if (e) {
            int zero = 0;
            atomic_compare_exchange_strong(&p->pin_failed, &zero, e);
        }
        p->observed[wa.ith] = tb_thread_current_cpu();
        atomic_fetch_add(&p->n_pinned, 1);
    }
    unsigned seen = 0; /* gen at creation: a run may start before this thread does */
    for (;;) {
        /* wait for the next run: spin, then sleep */
        const uint64_t t0 = tb_now_ns();
        unsigned g;
        for (int it = 0; (g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
                         !atomic_load(&p->stop);
             it++) {
            cpu_relax();
            if ((it & 1023) == 1023) {
                if (tb_now_ns() - t0 > POOL_SPIN_NS) {
                    tb_mutex_lock(p->mu);
                    atomic_fetch_add(&p->n_sleeping, 1);
                    while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                        tb_cond_wait(p->cv, p->mu);
                    atomic_fetch_sub(&p->n_sleeping, 1);
                    tb_mutex_unlock(p->mu);
                } else {
                    tb_thread_yield();
                }
            }
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        p->fn(p->arg, wa.ith, p->n);
        tb_cpu_pool_barrier(p);
    }
}

int tb_cpu_pool_create(int n_threads, const int *bind_cpus, struct tb_cpu_pool **out,
                       struct tb_err *err)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return tb_err_set(err, TB_EINVAL, "cpu pool: thread count %d outside [1, 1024]", n_threads);
    struct tb_cpu_pool *p = aligned_alloc(64, (sizeof *p + 63) & ~(size_t)63);
    if (!p)
        return tb_err_set(err, TB_ENOMEM, "cpu pool: out of memory");
    memset(p, 0, sizeof *p);
    p->n = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->arrived, 0);
    atomic_init(&p->phase, 0);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    const int sync_rc = tb_mutex_create(&p->mu, NULL) || tb_cond_create(&p->cv, NULL);
    if (bind_cpus) {
        p->bind = malloc(sizeof *p->bind * (size_t)n_threads);
        p->observed = malloc(sizeof *p->observed * (size_t)n_threads);
        if (p->bind && p->observed) {
            memcpy(p->bind, bind_cpus, sizeof *p->bind * (size_t)n_threads);
            p->observed[0] = tb_thread_current_cpu();
        }
    }
    atomic_init(&p->n_pinned, 0);
    atomic_init(&p->pin_failed, 0);
    if (!p->threads || sync_rc || (bind_cpus && (!p->bind || !p->observed))) {
        tb_cpu_pool_free(p);
        return tb_err_set(err, TB_ENOMEM, "cpu pool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        int rc = wa ? 0 : -1;
        if (wa) {
            wa->p = p;
            wa->ith = i;
            rc = tb_thread_start(worker_main, wa, &p->threads[i], NULL);
            if (rc)
                free(wa);
        }
        if (rc) {
            p->n = i; /* join only the ones that started */
            tb_cpu_pool_free(p);
            return tb_err_set(err, TB_EBACKEND, "cpu pool: cannot start thread %d of %d", i,
                              n_threads);
        }
    }
    while (p->bind && atomic_load(&p->n_pinned) < n_threads - 1)
        tb_thread_yield();
    const int pe = atomic_load(&p->pin_failed);
    if (pe) {
        tb_cpu_pool_free(p);
        return tb_err_set(err, TB_EBACKEND, "cpu pool: cannot pin a worker: %s", strerror(pe));
    }
    *out = p;
    return TB_OK;
}

void tb_cpu_pool_free(struct tb_cpu_pool *p)
{
    if (!p)
        return;
    if (p->threads && p->mu && p->cv) {
        tb_mutex_lock(p->mu);
        atomic_store(&p->stop, 1);
        tb_cond_broadcast(p->cv);
        tb_mutex_unlock(p->mu);
        for (int i = 1; i < p->n; i++)
            tb_thread_join(p->threads[i]);
    }
    free(p->threads);
    tb_mutex_free(p->mu);
    tb_cond_free(p->cv);
    free(p->bind);
    free(p->observed);
    free(p);
}

int tb_cpu_pool_observed_cpus(const struct tb_cpu_pool *p, int *cpus, int n)
{
    if (!p->observed)
        return 0;
    const int k = n < p->n ? n : p->n;
    memcpy(cpus, p->observed, sizeof *cpus * (size_t)k);
    return k;
}

int tb_cpu_pool_size(const struct tb_cpu_pool *p)
{
    return p->n;
}

void tb_cpu_pool_run(struct tb_cpu_pool *p, tb_cpu_pool_fn fn, void *arg)
{
    if (p->n > 1) {
        p->fn = fn;
        p->arg = arg;
        atomic_fetch_add(&p->gen, 1); /* seq_cst: pairs with n_sleeping below */
        if (atomic_load(&p->n_sleeping) > 0) {
            tb_mutex_lock(p->mu);
            tb_cond_broadcast(p->cv);
            tb_mutex_unlock(p->mu);
        }
    }
    fn(arg, 0, p->n);
    tb_cpu_pool_barrier(p);
}

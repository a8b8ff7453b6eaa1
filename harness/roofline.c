/* Roofline ceilings: a team of pthreads runs one kernel in barrier-separated
 * passes; thread 0 (the caller) times each pass between the barriers. */
#include "harness/tb_roofline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/tb_stats.h"
#include "kernels/platform/tb_platform.h"

#define DEFAULT_ARRAY_BYTES (80u << 20)
#define DEFAULT_PASSES 5
#define DEFAULT_PASS_S 0.02
#define SCALAR_CHAINS 12

typedef double (*compute_fn)(int64_t iters, float *sink);

enum job_kind { JOB_TRIAD, JOB_READ, JOB_COMPUTE };

/* One slot per thread, a cache line each so threads do not share lines. */
struct slot {
    double ops;
    double sink;
    char pad[48];
};

struct job {
    enum job_kind kind;
    double *a, *b, *c; /* memory tests: n elements each, sliced per thread */
    size_t n;
    compute_fn fn; /* compute tests */
    int64_t iters;
    int n_threads, passes;
    pthread_barrier_t bar;
    /* start gate: workers wait until every thread exists (1) or abort (-1) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate;
    double *pass_s; /* [passes] */
    struct slot *slots;
};

struct worker {
    struct job *job;
    int tid;
};

/* Plain C built with the library's generic flags, as the scalar kernels are
 * (the compiler may pack chains into SSE2 registers just as it may there). */
static double fma_scalar(int64_t iters, float *sink)
{
    float acc[SCALAR_CHAINS];
    const float m = 0.999f, a = 1e-3f;
    for (int j = 0; j < SCALAR_CHAINS; j++)
        acc[j] = 0.01f * (float)j;
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < SCALAR_CHAINS; j++)
            acc[j] = acc[j] * m + a;
    float s = 0;
    for (int j = 0; j < SCALAR_CHAINS; j++)
        s += acc[j];
    *sink = s;
    return (double)iters * SCALAR_CHAINS * 2;
}

static void run_pass(struct job *j, int tid, int first_touch)
{
    size_t lo = j->n * (size_t)tid / (size_t)j->n_threads;
    size_t hi = j->n * (size_t)(tid + 1) / (size_t)j->n_threads;
    struct slot *s = &j->slots[tid];
    switch (j->kind) {
    case JOB_TRIAD:
        if (first_touch)
            for (size_t i = lo; i < hi; i++) {
                j->a[i] = 0;
                j->b[i] = 1;
                j->c[i] = 2;
            }
        for (size_t i = lo; i < hi; i++)
            j->a[i] = j->b[i] + 3.0 * j->c[i];
        s->sink += j->a[lo];
        break;
    case JOB_READ: {
        /* integer sum: vectorizes freely and is never latency-bound */
        const uint64_t *x = (const uint64_t *)j->a;
        if (first_touch)
            memset(j->a + lo, 1, (hi - lo) * sizeof(double));
        uint64_t sum = 0;
        for (size_t i = lo; i < hi; i++)
            sum += x[i];
        s->sink += (double)sum;
        break;
    }
    case JOB_COMPUTE: {
        float sink;
        s->ops += j->fn(j->iters, &sink);
        s->sink += sink;
        break;
    }
    }
}

/* Pass -1 is untimed: it first-touches the memory (pages land near the
 * thread that uses them) and warms up clocks and caches. */
static void team_loop(struct job *j, int tid)
{
    for (int p = -1; p < j->passes; p++) {
        pthread_barrier_wait(&j->bar);
        uint64_t t0 = tid == 0 ? tb_now_ns() : 0;
        run_pass(j, tid, p < 0);
        pthread_barrier_wait(&j->bar);
        if (tid == 0 && p >= 0)
            j->pass_s[p] = (double)(tb_now_ns() - t0) * 1e-9;
    }
}

static void open_gate(struct job *j, int value)
{
    pthread_mutex_lock(&j->mu);
    j->gate = value;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->job->mu);
    while (w->job->gate == 0)
        pthread_cond_wait(&w->job->cv, &w->job->mu);
    int go = w->job->gate > 0;
    pthread_mutex_unlock(&w->job->mu);
    if (go)
        team_loop(w->job, w->tid);
    return NULL;
}

/* Runs j on its team and turns the pass times into rates: bytes per pass are
 * given for memory jobs; compute jobs count their operations in the slots. */
static int run_team(struct job *j, double mem_bytes_per_pass, struct tb_roofline_result *out,
                    struct tb_err *err)
{
    int rc = TB_OK, started = 0;
    pthread_t *th = calloc((size_t)j->n_threads, sizeof *th);
    struct worker *w = calloc((size_t)j->n_threads, sizeof *w);
    j->pass_s = calloc((size_t)j->passes, sizeof *j->pass_s);
    j->slots = aligned_alloc(64, (size_t)j->n_threads * sizeof *j->slots);
    if (!th || !w || !j->pass_s || !j->slots) {
        rc = tb_err_set(err, TB_ENOMEM, "roofline: out of memory for %d threads", j->n_threads);
        goto done;
    }
    memset(j->slots, 0, (size_t)j->n_threads * sizeof *j->slots);
    if (pthread_barrier_init(&j->bar, NULL, (unsigned)j->n_threads)) {
        rc = tb_err_set(err, TB_ENOMEM, "roofline: cannot create a barrier for %d threads",
                        j->n_threads);
        goto done;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->gate = 0;
    for (started = 1; started < j->n_threads; started++) {
        w[started] = (struct worker){j, started};
        if (pthread_create(&th[started], NULL, worker_main, &w[started]))
            break;
    }
    int ok = started == j->n_threads;
    open_gate(j, ok ? 1 : -1);
    if (ok)
        team_loop(j, 0);
    for (int i = 1; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&j->bar);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    if (!ok) {
        rc = tb_err_set(err, TB_ENOMEM, "roofline: cannot start thread %d of %d", started,
                        j->n_threads);
        goto done;
    }

    /* compute jobs: ops over warm-up + passes, all threads, equal per pass */
    double ops = mem_bytes_per_pass;
    if (j->kind == JOB_COMPUTE) {
        ops = 0;
        for (int i = 0; i < j->n_threads; i++)
            ops += j->slots[i].ops;
        ops /= (double)(j->passes + 1);
    }
    for (int p = 0; p < j->passes; p++)
        j->pass_s[p] = ops / j->pass_s[p] * 1e-9; /* now a rate */
    qsort(j->pass_s, (size_t)j->passes, sizeof *j->pass_s, tb_cmp_double);
    out->best = j->pass_s[j->passes - 1];
    out->median = tb_percentile_sorted(j->pass_s, (size_t)j->passes, 50);
    out->n_threads = j->n_threads;
    out->passes = j->passes;
done:
    free(th);
    free(w);
    free(j->pass_s);
    free(j->slots);
    return rc;
}

static int resolve_opts(const struct tb_roofline_opts *o, struct job *j, struct tb_err *err)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    j->n_threads = o && o->n_threads > 0 ? o->n_threads : (online > 0 ? (int)online : 1);
    j->passes = o && o->passes > 0 ? o->passes : DEFAULT_PASSES;
    if ((o && (o->n_threads < 0 || o->passes < 0 || o->pass_s < 0)) || j->n_threads > 1024)
        return tb_err_set(err, TB_EINVAL, "roofline: bad options (threads %d, passes %d)",
                          o ? o->n_threads : 0, o ? o->passes : 0);
    return TB_OK;
}

const char *tb_roofline_mem_name(enum tb_roofline_mem k)
{
    return k == TB_ROOFLINE_TRIAD ? "triad" : k == TB_ROOFLINE_READ ? "read" : "unknown";
}

int tb_roofline_membw(enum tb_roofline_mem kind, const struct tb_roofline_opts *opts,
                      struct tb_roofline_result *out, struct tb_err *err)
{
    struct job j = {.kind = kind == TB_ROOFLINE_TRIAD ? JOB_TRIAD : JOB_READ};
    if (kind != TB_ROOFLINE_TRIAD && kind != TB_ROOFLINE_READ)
        return tb_err_set(err, TB_EINVAL, "roofline: unknown memory kernel %d", (int)kind);
    int rc = resolve_opts(opts, &j, err);
    if (rc)
        return rc;
    size_t bytes = opts && opts->array_bytes ? opts->array_bytes : DEFAULT_ARRAY_BYTES;
    j.n = bytes / sizeof(double);
    if (j.n < (size_t)j.n_threads)
        return tb_err_set(err, TB_EINVAL, "roofline: %zu-byte arrays are too small for %d threads",
                          bytes, j.n_threads);
    size_t alloc = (j.n * sizeof(double) + 63) & ~(size_t)63;
    int n_arrays = kind == TB_ROOFLINE_TRIAD ? 3 : 1;
    double *mem[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n_arrays; i++)
        if (!(mem[i] = aligned_alloc(64, alloc))) {
            rc = tb_err_set(err, TB_ENOMEM, "roofline: cannot allocate %d x %zu bytes", n_arrays,
                            alloc);
            goto done;
        }
    j.a = mem[0];
    j.b = mem[1];
    j.c = mem[2];
    rc = run_team(&j, (double)j.n * sizeof(double) * (kind == TB_ROOFLINE_TRIAD ? 3 : 1), out, err);
done:
    for (int i = 0; i < 3; i++)
        free(mem[i]);
    return rc;
}

/* Chooses iterations so one pass on one thread lasts about pass_s. */
static int64_t calibrate(compute_fn fn, double pass_s)
{
    int64_t iters = 1024;
    for (;;) {
        float sink;
        uint64_t t0 = tb_now_ns();
        fn(iters, &sink);
        double s = (double)(tb_now_ns() - t0) * 1e-9;
        if (s >= pass_s / 4 || iters >= ((int64_t)1 << 40))
            return s > 0 ? (int64_t)((double)iters * pass_s / s) + 1 : iters;
        iters *= 2;
    }
}

static int run_compute(compute_fn fn, const char *what, enum tb_isa need,
                       const struct tb_roofline_opts *opts, struct tb_roofline_result *out,
                       struct tb_err *err)
{
    if (tb_isa_detect() < need)
        return tb_err_set(err, TB_EUNSUPPORTED, "roofline: %s needs %s, this CPU has %s", what,
                          tb_isa_name(need), tb_isa_name(tb_isa_detect()));
    struct job j = {.kind = JOB_COMPUTE, .fn = fn};
    int rc = resolve_opts(opts, &j, err);
    if (rc)
        return rc;
    j.iters = calibrate(fn, opts && opts->pass_s > 0 ? opts->pass_s : DEFAULT_PASS_S);
    return run_team(&j, 0, out, err);
}

int tb_roofline_fma(enum tb_isa isa, const struct tb_roofline_opts *opts,
                    struct tb_roofline_result *out, struct tb_err *err)
{
    static const compute_fn k_fma[TB_ISA_COUNT] = {
        [TB_ISA_SCALAR] = fma_scalar,
        [TB_ISA_AVX2] = tb_roofline_fma_avx2,
        [TB_ISA_AVX512] = tb_roofline_fma_avx512,
    };
    if ((int)isa < 0 || isa >= TB_ISA_COUNT)
        return tb_err_set(err, TB_EINVAL, "roofline: unknown ISA %d", (int)isa);
    return run_compute(k_fma[isa], "f32 fma", isa, opts, out, err);
}

int tb_roofline_int8(const struct tb_roofline_opts *opts, struct tb_roofline_result *out,
                     struct tb_err *err)
{
    return run_compute(tb_roofline_vnni_avx512, "int8 vpdpbusd", TB_ISA_AVX512, opts, out, err);
}

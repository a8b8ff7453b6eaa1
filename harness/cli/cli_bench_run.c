/* tierbench bench: the tests of one model at one thread count. The model is
 * loaded once; the STREAM triad runs before and after its tests (same
 * thread count); each test (pp P, tg N or pp P + tg N, at depth D) runs one
 * untimed warm-up and R timed repetitions. Depth: the KV cache's first D
 * positions hold the prompt's first D tokens before the test starts
 * (prefilled untimed, in batches; every test continues the same token
 * sequence, so positions already written stay valid and are not refilled). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness/cli/cli_bench.h"
#include "harness/tb_env.h"
#include "harness/tb_roofline.h"
#include "harness/tb_run.h"
#include "harness/tb_stats.h"
#include "kernels/platform/tb_platform.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_util.h"
#include "workloads/tb_llama.h"
#include "workloads/tb_workload.h"

#define DEPTH_BATCH_MAX 256 /* prefill batch for -d when no pp test is larger */

struct test_spec {
    int pp, tg, depth;
};

struct group {
    const struct tb_cbench_args *a;
    const char *spec;
    int threads, index, n_groups;
    char path[1024];
    struct tb_llama_model *m;
    struct tb_llama_state *s;
    struct tb_backend *b;
    int32_t *toks;
    int n_ctx, max_batch, filled;
    struct test_spec *tests;
    struct tb_cbench_row *rows;
    int n_tests;
};

/* Bytes of matmul weights one eval of the current graph streams. */
static double weight_bytes(const struct tb_graph *g)
{
    double b = 0;
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].kind == TB_OP_MATMUL)
            b += (double)tb_tensor_nbytes(g->ops[i].src[0]);
    return b;
}

static double graph_flops(const struct tb_graph *g)
{
    double f = 0;
    for (int i = 0; i < g->n_ops; i++)
        f += g->ops[i].flops;
    return f;
}

/* STREAM triad GB/s at this thread count; NaN with the reason in why. */
static double triad(int threads, char *why, size_t n)
{
    struct tb_roofline_opts o = {.n_threads = threads, .passes = 5};
    struct tb_roofline_result r;
    struct tb_err err = {0};
    if (tb_roofline_membw(TB_ROOFLINE_TRIAD, &o, &r, &err)) {
        snprintf(why, n, "STREAM triad failed: %.170s", err.msg);
        return NAN;
    }
    return r.median;
}

static void progress(const struct group *g, int test, const char *what)
{
    if (!g->a->progress)
        return;
    if (test < 0)
        fprintf(stderr, "tierbench bench: model %d/%d (%s, %d threads): %s\n", g->index,
                g->n_groups, g->spec, g->threads, what);
    else
        fprintf(stderr, "tierbench bench: model %d/%d (%s, %d threads): test %d/%d %s: %s\n",
                g->index, g->n_groups, g->spec, g->threads, test + 1, g->n_tests,
                g->rows[test].test, what);
}

/* The tests in llama-bench's order: per depth, every pp, every tg, every pg. */
static int plan_tests(struct group *g, struct tb_err *err)
{
    const struct tb_cbench_args *a = g->a;
    const int per_depth = a->n_pp + a->n_tg + a->n_pg;
    g->tests = calloc((size_t)(per_depth * a->n_depth) + 1, sizeof *g->tests);
    if (!g->tests)
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    int max_pp = 0, max_depth = 0;
    for (int d = 0; d < a->n_depth; d++) {
        const int dep = a->depth[d];
        for (int i = 0; i < per_depth; i++) {
            struct test_spec t = {.depth = dep};
            if (i < a->n_pp)
                t.pp = a->pp[i];
            else if (i < a->n_pp + a->n_tg)
                t.tg = a->tg[i - a->n_pp];
            else
                t = (struct test_spec){a->pg[i - a->n_pp - a->n_tg].pp,
                                       a->pg[i - a->n_pp - a->n_tg].tg, dep};
            if (t.pp == 0 && t.tg == 0)
                continue; /* -p 0 / -n 0: no such test (llama-bench) */
            g->tests[g->n_tests++] = t;
            const int end = t.depth + t.pp + t.tg;
            g->n_ctx = end > g->n_ctx ? end : g->n_ctx;
            max_pp = t.pp > max_pp ? t.pp : max_pp;
            max_depth = t.depth > max_depth ? t.depth : max_depth;
        }
    }
    if (!g->n_tests)
        return tb_err_set(err, TB_EINVAL, "no test to run: -p and -n are 0 and no -pg was given");
    const int dep_batch = max_depth < DEPTH_BATCH_MAX ? max_depth : DEPTH_BATCH_MAX;
    g->max_batch = max_pp > dep_batch ? max_pp : dep_batch;
    g->max_batch = g->max_batch > 0 ? g->max_batch : 1;
    return TB_OK;
}

/* "synth:SHAPE" for synth:SHAPE:TYPE, else the file name without .gguf. */
static void model_type(const char *spec, char *buf, size_t n)
{
    if (!strncmp(spec, "synth:", 6)) {
        const char *last = strrchr(spec, ':');
        snprintf(buf, n, "%.*s", (int)(last > spec + 5 ? last - spec : (long)strlen(spec)), spec);
        return;
    }
    const char *base = strrchr(spec, '/');
    base = base ? base + 1 : spec;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".gguf"))
        len -= 5;
    snprintf(buf, n, "%.*s", (int)len, base);
}

static uint64_t model_params(const struct tb_llama_model *m)
{
    uint64_t p = 0;
    for (int64_t i = 0; i < tb_gguf_n_tensors(m->gguf); i++) {
        const struct tb_gguf_tensor_info *t = tb_gguf_tensor(m->gguf, i);
        uint64_t e = 1;
        for (int d = 0; d < TB_MAX_DIMS; d++)
            e *= (uint64_t)t->ne[d];
        p += e;
    }
    return p;
}

static void row_init(const struct group *g, const struct test_spec *t, struct tb_cbench_row *r)
{
    const struct tb_cbench_args *a = g->a;
    r->model = g->spec;
    model_type(g->spec, r->model_type, sizeof r->model_type);
    snprintf(r->weight_type, sizeof r->weight_type, "%s", tb_type_name(g->m->weights.weight_type));
    r->model_size = g->m->weights.weight_bytes;
    r->model_n_params = model_params(g->m);
    struct stat st;
    r->model_file_bytes = stat(g->path, &st) == 0 ? (long long)st.st_size : -1;
    r->backend = a->backend;
    const enum tb_isa isa = tb_backend_isa(g->b);
    snprintf(r->isa, sizeof r->isa, "%s", isa == TB_ISA_COUNT ? "none" : tb_isa_name(isa));
    r->threads = g->threads;
    snprintf(r->kv_type, sizeof r->kv_type, "%s", tb_type_name(a->kv_type));
    r->repack = !a->no_repack;
    r->n_prompt = t->pp;
    r->n_gen = t->tg;
    r->n_depth = t->depth;
    if (t->pp && t->tg)
        snprintf(r->test, sizeof r->test, "pp%d+tg%d", t->pp, t->tg);
    else
        snprintf(r->test, sizeof r->test, "%s%d", t->pp ? "pp" : "tg", t->pp ? t->pp : t->tg);
    if (t->depth > 0) {
        const size_t len = strlen(r->test);
        snprintf(r->test + len, sizeof r->test - len, " @ d%d", t->depth);
    }
    r->reps = a->reps;
    r->kv_bytes = g->s->kv_bytes;
    r->stream_share = NAN;
}

/* Positions [filled, depth) of the KV cache get the prompt's tokens. */
static int fill_depth(struct group *g, int depth, struct tb_err *err)
{
    while (g->filled < depth) {
        int n = depth - g->filled;
        n = n < g->max_batch ? n : g->max_batch;
        int rc = tb_llama_eval(g->m, g->s, g->b, &g->toks[g->filled], n, g->filled, 0, NULL, err);
        if (rc)
            return rc;
        g->filled += n;
    }
    return TB_OK;
}

/* The timed part of one repetition; work (flops, weight bytes) on request. */
static int run_once(struct group *g, const struct test_spec *t, double *flops, double *bytes,
                    struct tb_err *err)
{
    int rc = TB_OK;
    if (t->pp > 0) {
        rc = tb_llama_eval(g->m, g->s, g->b, &g->toks[t->depth], t->pp, t->depth, 0, NULL, err);
        if (!rc && flops) {
            *flops += graph_flops(&g->s->graph);
            *bytes += weight_bytes(&g->s->graph);
        }
    }
    for (int i = 0; i < t->tg && !rc; i++) {
        const int pos = t->depth + t->pp + i;
        rc = tb_llama_eval(g->m, g->s, g->b, &g->toks[pos], 1, pos, 0, NULL, err);
        if (!rc && flops) {
            *flops += graph_flops(&g->s->graph);
            *bytes += weight_bytes(&g->s->graph);
        }
    }
    return rc;
}

static void summarize(struct tb_cbench_row *r, double flops, double bytes)
{
    const int n = r->reps;
    struct tb_stats st;
    struct tb_stats_opts so;
    tb_stats_opts_default(&so);
    so.bootstrap_resamples = 0;
    tb_stats_compute(r->samples_ts, (size_t)n, &so, &st, NULL);
    r->avg_ts = st.mean;
    r->stddev_ts = st.stddev;
    r->median_ts = st.median;
    r->min_ts = st.min;
    r->max_ts = st.max;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += (double)r->samples_ns[i];
    r->avg_ns = sum / n;
    for (int i = 0; i < n; i++)
        sq += ((double)r->samples_ns[i] - r->avg_ns) * ((double)r->samples_ns[i] - r->avg_ns);
    r->stddev_ns = n > 1 ? sqrt(sq / (n - 1)) : 0;
    const double s = (r->n_prompt + r->n_gen) / st.median; /* seconds at the median */
    r->gflops = flops / s * 1e-9;
    r->weight_gbs = bytes / s * 1e-9;
}

static int run_test(struct group *g, int i, struct tb_err *err)
{
    const struct test_spec *t = &g->tests[i];
    struct tb_cbench_row *r = &g->rows[i];
    row_init(g, t, r);
    r->samples_ns = calloc((size_t)r->reps, sizeof *r->samples_ns);
    r->samples_ts = calloc((size_t)r->reps, sizeof *r->samples_ts);
    if (!r->samples_ns || !r->samples_ts)
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    const time_t now = time(NULL);
    struct tm tm;
    strftime(r->test_time, sizeof r->test_time, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    if (t->depth > g->filled)
        progress(g, i, "prefilling the depth (untimed)");
    int rc = fill_depth(g, t->depth, err);
    double flops = 0, bytes = 0;
    for (int rep = -1; rep < r->reps && !rc; rep++) { /* rep -1: warm-up */
        char what[48];
        snprintf(what, sizeof what, rep < 0 ? "warm-up" : "run %d/%d", rep + 1, r->reps);
        progress(g, i, what);
        const uint64_t t0 = tb_now_ns();
        rc = run_once(g, t, rep == 0 ? &flops : NULL, rep == 0 ? &bytes : NULL, err);
        const uint64_t dt = tb_now_ns() - t0;
        if (rep >= 0) {
            r->samples_ns[rep] = dt > 0 ? dt : 1;
            r->samples_ts[rep] = (t->pp + t->tg) / ((double)r->samples_ns[rep] * 1e-9);
        }
    }
    if (rc)
        return rc;
    const int end = t->depth + t->pp + t->tg;
    g->filled = end > g->filled ? end : g->filled;
    summarize(r, flops, bytes);
    return TB_OK;
}

static int load(struct group *g, struct tb_err *err)
{
    const struct tb_cbench_args *a = g->a;
    int rc = tb_run_resolve_model(g->spec, a->cache, 1, g->path, sizeof g->path, err);
    if (!rc)
        rc = tb_llama_load(g->path, &g->m, err);
    if (!rc && g->n_ctx > g->m->config.ctx_len)
        rc = tb_err_set(err, TB_EINVAL,
                        "%s: depth + prompt + generated tokens = %d exceed the context length %d "
                        "(-d/-p/-n/-pg)",
                        g->path, g->n_ctx, g->m->config.ctx_len);
    if (!rc)
        rc = tb_llama_state_build_kv(g->m, g->max_batch, g->n_ctx, (enum tb_type)a->kv_type, &g->s,
                                     err);
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = g->threads;
    if (a->isa_cap >= 0)
        cfg.isa_cap = (enum tb_isa)a->isa_cap;
    cfg.no_repack = a->no_repack;
    if (!rc)
        rc = tb_backend_create(a->backend, &cfg, &g->b, err);
    if (!rc && !(g->toks = malloc(sizeof *g->toks * (size_t)g->n_ctx)))
        rc = tb_err_set(err, TB_ENOMEM, "out of memory");
    if (!rc && !(g->rows = calloc((size_t)g->n_tests, sizeof *g->rows)))
        rc = tb_err_set(err, TB_ENOMEM, "out of memory");
    if (!rc)
        tb_workload_prompt(7, g->m->config.vocab_size, g->toks, g->n_ctx);
    return rc;
}

/* Peak RSS against model file + KV cache + 100 MiB, and the STREAM figures,
 * into every row; then the rows go to the sinks. */
static void finish(struct group *g, double bw0, double bw1, const char *why, int hwm_reset,
                   long long hwm, struct tb_cbench_sinks *k)
{
    const double bw = isnan(bw0) ? bw1 : isnan(bw1) ? bw0 : (bw0 + bw1) / 2;
    const struct tb_cbench_row *r0 = &g->rows[0];
    const long long limit = (r0->model_file_bytes >= 0 ? r0->model_file_bytes / 1024 : 0) +
                            (long long)(g->s->kv_bytes / 1024) + 100 * 1024;
    for (int i = 0; i < g->n_tests; i++) {
        struct tb_cbench_row *r = &g->rows[i];
        r->stream_before = bw0;
        r->stream_after = bw1;
        r->stream = bw;
        snprintf(r->stream_reason, sizeof r->stream_reason, "%.*s",
                 (int)sizeof r->stream_reason - 1,
                 isnan(bw) ? why : ""); /* cut, not a -Wformat-truncation error */
        r->stream_share =
            r->n_gen > 0 && r->n_prompt == 0 && !isnan(bw) && bw > 0 ? r->weight_gbs / bw : NAN;
        r->peak_rss_kib = hwm;
        r->rss_limit_kib = limit;
        r->rss_reset = hwm_reset;
        for (int s = 0; s < k->n; s++)
            tb_cbench_out_row(&k->out[s], r);
    }
    char line[512];
    if (hwm < 0)
        snprintf(line, sizeof line,
                 "%s, %d threads: peak RSS unavailable: /proc/self/status "
                 "has no VmHWM",
                 g->spec, g->threads);
    else
        snprintf(line, sizeof line,
                 "%s, %d threads: peak RSS %.1f MiB%s; model file %.1f MiB + KV cache %.1f MiB "
                 "+ 100 MiB = %.1f MiB limit: %s",
                 g->spec, g->threads, hwm / 1024.0,
                 hwm_reset ? "" : " (process peak: reset unavailable)",
                 r0->model_file_bytes / 1048576.0, g->s->kv_bytes / 1048576.0, limit / 1024.0,
                 hwm <= limit ? "within" : "OVER");
    tb_cbench_out_note(&k->out[0], line);
}

static void group_free(struct group *g)
{
    for (int i = 0; g->rows && i < g->n_tests; i++) {
        free(g->rows[i].samples_ns);
        free(g->rows[i].samples_ts);
    }
    free(g->rows);
    free(g->tests);
    free(g->toks);
    tb_backend_free(g->b);
    tb_llama_state_free(g->s);
    tb_llama_free(g->m);
}

int tb_cbench_run_model(const struct tb_cbench_args *a, const char *spec, int threads, int index,
                        int n_groups, struct tb_cbench_sinks *k, struct tb_err *err)
{
    struct group g = {
        .a = a, .spec = spec, .threads = threads, .index = index, .n_groups = n_groups};
    int rc = plan_tests(&g, err);
    if (!rc)
        rc = load(&g, err);
    char why[256] = "--no-stream given";
    double bw0 = NAN, bw1 = NAN;
    if (!rc && !a->no_stream) {
        progress(&g, -1, "STREAM triad (before)");
        bw0 = triad(threads, why, sizeof why);
    }
    /* the STREAM arrays are freed now: restart the peak-RSS mark so it
     * covers the engine only (Linux: writing 5 to clear_refs) */
    FILE *cr = rc ? NULL : fopen("/proc/self/clear_refs", "w");
    const int hwm_reset = cr && fputs("5", cr) >= 0;
    if (cr)
        fclose(cr);
    for (int i = 0; !rc && i < g.n_tests; i++)
        rc = run_test(&g, i, err);
    if (!rc) {
        const long long hwm = tb_proc_kib("/proc/self/status", "VmHWM"); /* before the triad */
        if (!a->no_stream) {
            progress(&g, -1, "STREAM triad (after)");
            char why1[256] = "";
            bw1 = triad(threads, why1, sizeof why1);
            if (isnan(bw0) && isnan(bw1))
                snprintf(why, sizeof why, "%s", why1);
        }
        finish(&g, bw0, bw1, why, hwm_reset, hwm, k);
    }
    group_free(&g);
    return rc;
}

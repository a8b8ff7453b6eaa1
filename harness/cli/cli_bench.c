/* tierbench bench: engine throughput in the style of llama-bench (pp = prompt
 * processing of P tokens in one batch from an empty context, tg = N single-
 * token decode steps from an empty context), with the host's STREAM-triad
 * bandwidth measured in the same invocation (before and after each model) so
 * decode can be judged against the memory roofline on a noisy machine.
 * Prints a Markdown table; --json FILE appends one JSON object per row. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/cli/tb_cli.h"
#include "harness/tb_results.h" /* tb_json_number */
#include "harness/tb_env.h"
#include "harness/tb_roofline.h"
#include "harness/tb_run.h"
#include "harness/tb_stats.h"
#include "kernels/platform/tb_platform.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_util.h"
#include "workloads/tb_llama.h"
#include "workloads/tb_workload.h"

struct bench_args {
    const char *models, *backend, *cache, *json;
    int pp, tg, reps, isa_cap, kv_type;
    char threads[64];
    int no_stream, no_repack;
};

static void usage(FILE *f)
{
    char types[TB_WTYPE_NAMES_MAX];
    fprintf(f,
            "usage: tierbench bench --model SPEC[,SPEC...] [-p 128] [-n 64] [-r 5] [-t 2[,1...]]\n"
            "                       [--backend cpu] [--isa scalar|avx2|avx512] [--cache DIR]\n"
            "                       [--json FILE] [--no-stream] [--no-repack] [--kv f32|f16]\n"
            "  SPEC is synth:SHAPE:TYPE (TYPE %s; generated on first use, cached)\n"
            "  or FILE.gguf.\n"
            "  pp: P tokens in one batch from position 0; tg: N decode steps from position 0.\n"
            "  Each test: one warm-up, then R timed repetitions; median and min..max of tok/s.\n"
            "  STREAM triad (same thread count) is measured before and after every model.\n"
            "  --no-repack keeps the weights in the file's layout (the cpu backend\n"
            "  otherwise repacks them into 16-row groups on first use: docs/engine.md).\n"
            "  --kv f16 keeps the KV cache in f16 (llama-bench's default) instead of f32.\n",
            tb_wtype_names(types, sizeof types, "|"));
}

/* tb_parse_int with this command's message naming the option. */
static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    if (tb_parse_int(v, lo, hi, out) == 0)
        return 0;
    fprintf(stderr, "tierbench bench: %s '%s' must be an integer in [%d, %d]\n", opt, v, lo, hi);
    return -1;
}

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

static double triad(int threads)
{
    struct tb_roofline_opts o = {.n_threads = threads, .passes = 5};
    struct tb_roofline_result r;
    struct tb_err err = {0};
    if (tb_roofline_membw(TB_ROOFLINE_TRIAD, &o, &r, &err)) {
        fprintf(stderr, "tierbench bench: STREAM triad: %s\n", err.msg);
        return NAN;
    }
    return r.median;
}

struct test_result {
    double med, lo, hi;    /* tok/s */
    double gflops, gbytes; /* per second at the median */
};

static void summarize(double *tps, int n, double work_flops, double work_bytes, double tokens,
                      struct test_result *r)
{
    struct tb_stats st;
    struct tb_stats_opts so;
    tb_stats_opts_default(&so);
    so.bootstrap_resamples = 0;
    tb_stats_compute(tps, (size_t)n, &so, &st, NULL);
    r->med = st.median;
    r->lo = st.min;
    r->hi = st.max;
    const double s = tokens / st.median; /* seconds per test at the median */
    r->gflops = work_flops / s * 1e-9;
    r->gbytes = work_bytes / s * 1e-9;
}

static int bench_model(const struct bench_args *a, const char *spec, int threads, FILE *json,
                       struct tb_err *err)
{
    char path[1024];
    int rc = tb_run_resolve_model(spec, a->cache, 1, path, sizeof path, err);
    if (rc)
        return rc;
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_backend *b = NULL;
    int32_t *toks = NULL;
    double *pp_tps = NULL, *tg_tps = NULL;
    rc = tb_llama_load(path, &m, err);
    const int n_ctx = a->pp > a->tg ? a->pp : a->tg;
    if (!rc && n_ctx > m->config.ctx_len)
        rc = tb_err_set(err, TB_EINVAL, "%s: -p/-n %d exceed the context length %d", path, n_ctx,
                        m->config.ctx_len);
    if (!rc)
        rc = tb_llama_state_build_kv(m, a->pp > 0 ? a->pp : 1, n_ctx, (enum tb_type)a->kv_type, &s,
                                     err);
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = threads;
    if (a->isa_cap >= 0)
        cfg.isa_cap = (enum tb_isa)a->isa_cap;
    cfg.no_repack = a->no_repack;
    if (!rc)
        rc = tb_backend_create(a->backend, &cfg, &b, err);
    toks = malloc(sizeof *toks * (size_t)n_ctx);
    pp_tps = calloc((size_t)a->reps, sizeof *pp_tps);
    tg_tps = calloc((size_t)a->reps, sizeof *tg_tps);
    if (!rc && (!toks || !pp_tps || !tg_tps))
        rc = tb_err_set(err, TB_ENOMEM, "out of memory");
    if (rc)
        goto out;
    tb_workload_prompt(7, m->config.vocab_size, toks, n_ctx);
    const double bw0 = a->no_stream ? NAN : triad(threads);
    /* the STREAM arrays are freed now: restart the peak-RSS mark so it
     * covers the engine only (Linux: writing 5 to clear_refs) */
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    const int hwm_reset = cr && fputs("5", cr) >= 0;
    if (cr)
        fclose(cr);
    struct test_result pp = {0}, tg = {0};
    double pp_flops = 0, tg_flops = 0, tg_bytes = 0;
    if (a->pp > 0) {
        for (int r = -1; r < a->reps && !rc; r++) { /* r = -1: warm-up */
            const uint64_t t0 = tb_now_ns();
            rc = tb_llama_eval(m, s, b, toks, a->pp, 0, 0, NULL, err);
            const double dt = (double)(tb_now_ns() - t0) * 1e-9;
            if (r >= 0)
                pp_tps[r] = a->pp / dt;
        }
        pp_flops = graph_flops(&s->graph);
        if (!rc)
            summarize(pp_tps, a->reps, pp_flops, weight_bytes(&s->graph), a->pp, &pp);
    }
    if (a->tg > 0) {
        for (int r = -1; r < a->reps && !rc; r++) {
            const uint64_t t0 = tb_now_ns();
            for (int i = 0; i < a->tg && !rc; i++) {
                rc = tb_llama_eval(m, s, b, &toks[i], 1, i, 0, NULL, err);
                tg_flops += r == 0 ? graph_flops(&s->graph) : 0;
                tg_bytes += r == 0 ? weight_bytes(&s->graph) : 0;
            }
            const double dt = (double)(tb_now_ns() - t0) * 1e-9;
            if (r >= 0)
                tg_tps[r] = a->tg / dt;
        }
        if (!rc)
            summarize(tg_tps, a->reps, tg_flops, tg_bytes, a->tg, &tg);
    }
    if (rc)
        goto out;
    const long long hwm = tb_proc_kib("/proc/self/status", "VmHWM"); /* before the second triad */
    const double bw1 = a->no_stream ? NAN : triad(threads);
    const double bw = isnan(bw0) ? bw1 : isnan(bw1) ? bw0 : (bw0 + bw1) / 2;
    struct stat st;
    const double file_mib = stat(path, &st) == 0 ? (double)st.st_size / 1048576.0 : NAN;
    const double kv_mib = (double)s->kv_bytes / 1048576.0;
    const char *isa = tb_isa_name(tb_backend_isa(b));
    if (a->pp > 0)
        printf("| %-28s | %-7s | %6s | %2d | %-6s | pp%-4d | %9.2f | %9.2f..%-9.2f | %8.1f GFLOP/s "
               "|           |\n",
               spec, a->backend, isa, threads, tb_type_name(m->weights.weight_type), a->pp, pp.med,
               pp.lo, pp.hi, pp.gflops);
    if (a->tg > 0)
        printf("| %-28s | %-7s | %6s | %2d | %-6s | tg%-4d | %9.2f | %9.2f..%-9.2f | %8.2f GB/s    "
               "| %5.1f%% of %.1f GB/s |\n",
               spec, a->backend, isa, threads, tb_type_name(m->weights.weight_type), a->tg, tg.med,
               tg.lo, tg.hi, tg.gbytes, 100.0 * tg.gbytes / bw, bw);
    printf("|   memory: peak RSS %.1f MiB%s; model file %.1f MiB + KV cache %.1f MiB + 100 MiB = "
           "%.1f MiB limit: %s\n",
           hwm / 1024.0, hwm_reset ? "" : " (process peak: reset unavailable)", file_mib, kv_mib,
           file_mib + kv_mib + 100, hwm / 1024.0 <= file_mib + kv_mib + 100 ? "within" : "OVER");
    fflush(stdout);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:i, s:I, s:s, s:b}", "model",
                              spec, "backend", a->backend, "isa", isa, "threads", threads, "type",
                              tb_type_name(m->weights.weight_type), "pp", a->pp, "tg", a->tg,
                              "reps", a->reps, "peak_rss_kib", (json_int_t)hwm, "kv_type",
                              tb_type_name(a->kv_type), "repack", !a->no_repack);
        const struct {
            const char *key;
            double v;
        } nums[] = {{"pp_tps_median", pp.med},
                    {"pp_tps_min", pp.lo},
                    {"pp_tps_max", pp.hi},
                    {"pp_gflops", pp.gflops},
                    {"tg_tps_median", tg.med},
                    {"tg_tps_min", tg.lo},
                    {"tg_tps_max", tg.hi},
                    {"tg_weight_gbytes_per_s", tg.gbytes},
                    {"stream_triad_gbs_before", bw0},
                    {"stream_triad_gbs_after", bw1},
                    {"tg_share_of_stream", tg.gbytes / bw},
                    {"model_file_mib", file_mib}};
        for (size_t k = 0; o && k < sizeof nums / sizeof nums[0]; k++)
            json_object_set_new(o, nums[k].key, tb_json_number(nums[k].v)); /* NaN -> null */
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (line)
            fprintf(json, "%s\n", line);
        free(line);
        json_decref(o);
    }
out:
    free(toks);
    free(pp_tps);
    free(tg_tps);
    tb_backend_free(b);
    tb_llama_state_free(s);
    tb_llama_free(m);
    return rc;
}

int tb_cli_bench(int argc, char **argv)
{
    struct bench_args a = {
        .backend = "cpu", .pp = 128, .tg = 64, .reps = 5, .isa_cap = -1, .kv_type = TB_TYPE_F32};
    snprintf(a.threads, sizeof a.threads, "2");
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return TB_EXIT_OK;
        }
        if (!strcmp(o, "--no-stream")) {
            a.no_stream = 1;
            continue;
        }
        if (!strcmp(o, "--no-repack")) {
            a.no_repack = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "tierbench bench: %s needs a value (see --help)\n", o);
            return TB_EXIT_USAGE;
        }
        int bad = 0;
        if (!strcmp(o, "--model") || !strcmp(o, "-m"))
            a.models = v;
        else if (!strcmp(o, "-p"))
            bad = parse_int(o, v, 0, 1 << 20, &a.pp);
        else if (!strcmp(o, "-n"))
            bad = parse_int(o, v, 0, 1 << 20, &a.tg);
        else if (!strcmp(o, "-r"))
            bad = parse_int(o, v, 1, 1000, &a.reps);
        else if (!strcmp(o, "-t"))
            snprintf(a.threads, sizeof a.threads, "%s", v);
        else if (!strcmp(o, "--backend"))
            a.backend = v;
        else if (!strcmp(o, "--cache"))
            a.cache = v;
        else if (!strcmp(o, "--json"))
            a.json = v;
        else if (!strcmp(o, "--kv")) {
            a.kv_type = tb_type_from_name(v);
            bad = a.kv_type != TB_TYPE_F32 && a.kv_type != TB_TYPE_F16;
            if (bad)
                fprintf(stderr, "tierbench bench: --kv '%s' must be f32 or f16\n", v);
        } else if (!strcmp(o, "--isa")) {
            a.isa_cap = tb_isa_from_name(v);
            bad = a.isa_cap < 0;
            if (bad)
                fprintf(stderr, "tierbench bench: unknown --isa '%s'\n", v);
        } else {
            fprintf(stderr, "tierbench bench: unknown option '%s' (see --help)\n", o);
            return TB_EXIT_USAGE;
        }
        if (bad)
            return TB_EXIT_USAGE;
        i++;
    }
    if (!a.models) {
        usage(stderr);
        return TB_EXIT_USAGE;
    }
    if (!a.cache) {
        const char *e = getenv("TB_CACHE_DIR");
        a.cache = e && *e ? e : ".tb-cache";
    }
    FILE *json = NULL;
    if (a.json && !(json = fopen(a.json, "a"))) {
        fprintf(stderr, "tierbench bench: %s: %s\n", a.json, strerror(errno));
        return TB_EXIT_USAGE;
    }
    printf("| %-28s | %-7s | %6s | %2s | %-6s | %-6s | %9s | %-20s | %-20s | %-9s |\n", "model",
           "backend", "isa", "t", "type", "test", "tok/s", "min..max", "rate", "roofline");
    printf("|------------------------------|---------|--------|----|--------|--------|-----------|"
           "----------------------|----------------------|-----------|\n");
    int code = TB_EXIT_OK;
    char models[1024];
    snprintf(models, sizeof models, "%s", a.models);
    for (char *save = NULL, *spec = strtok_r(models, ",", &save); spec && !code;
         spec = strtok_r(NULL, ",", &save)) {
        char th[64];
        snprintf(th, sizeof th, "%s", a.threads);
        for (char *s2 = NULL, *t = strtok_r(th, ",", &s2); t && !code;
             t = strtok_r(NULL, ",", &s2)) {
            int threads;
            if (parse_int("-t", t, 1, 1024, &threads))
                code = TB_EXIT_USAGE;
            struct tb_err err = {0};
            if (!code && bench_model(&a, spec, threads, json, &err)) {
                fprintf(stderr, "tierbench bench: %s\n", err.msg);
                code = TB_EXIT_USAGE;
            }
        }
    }
    if (json && fclose(json)) {
        fprintf(stderr, "tierbench bench: %s: %s\n", a.json, strerror(errno));
        code = TB_EXIT_USAGE;
    }
    return code;
}

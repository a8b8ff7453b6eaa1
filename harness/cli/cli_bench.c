/* tierbench bench: engine throughput in the style of llama-bench (pp = prompt
 * processing of P tokens in one batch, tg = N single-token decode steps,
 * pp+tg = both as one test, each after D tokens of context depth), with the
 * host's STREAM-triad bandwidth measured in the same invocation (before and
 * after each model) so decode can be judged against the memory roofline on
 * a noisy machine. This file: the options (getopt_long, llama-bench's
 * spellings) and the loop over models and thread counts; cli_bench_run.c
 * runs the tests, cli_bench_out.c prints the rows (-o md|csv|json|jsonl|sql). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/cli/cli_bench.h"
#include "harness/cli/tb_cli.h"
#include "harness/tb_topo.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_types.h"
#include "kernels/tb_util.h"
#include "kernels/tb_wtypes.h"

static void usage(FILE *f)
{
    char types[TB_WTYPE_NAMES_MAX];
    fprintf(f,
            "usage: tierbench bench -m SPEC[,SPEC...] [options]\n"
            "  -m, --model SPEC       synth:SHAPE:TYPE (TYPE %s; generated on first\n"
            "                         use, cached) or FILE.gguf; a comma list runs each\n"
            "  -p, --n-prompt N       pp test: N prompt tokens in one batch (default 128)\n"
            "  -n, --n-gen N          tg test: N single-token decode steps (default 64)\n"
            "  -pg, --pg PP,TG        pp+tg test: PP prompt tokens, then TG decode steps;\n"
            "                         tokens/s over PP+TG (repeat -pg for more pairs)\n"
            "  -d, --n-depth N        tokens already in the KV cache when each test\n"
            "                         starts (prefilled, untimed; default 0)\n"
            "  -t, --threads N        threads (default: the physical cores hwloc finds)\n"
            "  -r, --repetitions N    timed repetitions after one warm-up (default 5)\n"
            "  -o, --output FMT       stdout as md (default), csv, json (one array),\n"
            "                         jsonl (JSON Lines) or sql (CREATE TABLE + INSERTs)\n"
            "  --json FILE            also write the rows to FILE as one JSON array\n"
            "  --jsonl FILE           also append the rows to FILE as JSON Lines\n"
            "  --progress             progress lines on stderr\n"
            "  --backend NAME         backend (default cpu)\n"
            "  --isa scalar|avx2|avx512  cap the cpu backend's ISA\n"
            "  --kv f32|f16           KV cache type (f16 is llama-bench's default; here f32)\n"
            "  --no-repack            keep the weights in the file's layout (the cpu\n"
            "                         backend otherwise repacks them into 16-row groups\n"
            "                         on first use: docs/engine.md)\n"
            "  --no-stream            skip the STREAM triad (its column says unavailable)\n"
            "  --cache DIR            synthetic model cache (default $TB_CACHE_DIR or .tb-cache)\n"
            "-p, -n, -t and -d take comma lists and ranges, as llama-bench: 16,32 or\n"
            "first-last, first-last+step, first-last*mult; repeating an option adds values.\n"
            "Each row: mean ± sd and median of tokens/s over the repetitions, model size\n"
            "and parameters, GFLOP/s (pp) or weight GB/s (tg), and the STREAM triad of\n"
            "this host at the same thread count (tg: the share of it the weights stream).\n",
            tb_wtype_names(types, sizeof types, "|"));
}

int tb_cbench_fmt_from_name(const char *name)
{
    static const char *const names[] = {"md", "csv", "json", "jsonl", "sql"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

/* One item of a list: "A", "A-B", "A-B+S" or "A-B*M" (digits only). */
static int parse_item(const char *opt, const char *item, int lo, int hi, int *out, int max, int *n,
                      struct tb_err *err)
{
    char first[64] = "", last[64] = "", step[64] = "";
    char op = 0;
    const char *dash = strchr(item, '-');
    if (!dash) {
        snprintf(first, sizeof first, "%s", item);
    } else {
        snprintf(first, sizeof first, "%.*s", (int)(dash - item), item);
        const char *rest = dash + 1, *s = strpbrk(rest, "+*");
        if (s) {
            op = *s;
            snprintf(last, sizeof last, "%.*s", (int)(s - rest), rest);
            snprintf(step, sizeof step, "%s", s + 1);
        } else {
            snprintf(last, sizeof last, "%s", rest);
        }
    }
    int a, b = 0, st = 1;
    const int digits = first[strspn(first, "0123456789")] == 0 &&
                       last[strspn(last, "0123456789")] == 0 &&
                       step[strspn(step, "0123456789")] == 0;
    if (!digits || tb_parse_int(first, lo, hi, &a) || (dash && tb_parse_int(last, lo, hi, &b)) ||
        (op && tb_parse_int(step, op == '*' ? 2 : 1, 1 << 20, &st)))
        return tb_err_set(err, TB_EINVAL,
                          "%s '%s': expected N, first-last, first-last+step or first-last*mult "
                          "(values in [%d, %d], step >= 1, mult >= 2)",
                          opt, item, lo, hi);
    if (!dash)
        b = a;
    if (b < a)
        return tb_err_set(err, TB_EINVAL, "%s '%s': the range is empty (last < first)", opt, item);
    if (op == '*' && a == 0)
        return tb_err_set(err, TB_EINVAL, "%s '%s': a multiplied range cannot start at 0", opt,
                          item);
    for (long long v = a; v <= b; v = op == '*' ? v * st : v + st) {
        if (*n == max)
            return tb_err_set(err, TB_EINVAL, "%s: more than %d values", opt, max);
        out[(*n)++] = (int)v;
    }
    return TB_OK;
}

int tb_cbench_parse_list(const char *opt, const char *s, int lo, int hi, int *out, int max, int *n,
                         struct tb_err *err)
{
    if (!*s)
        return tb_err_set(err, TB_EINVAL, "%s: empty value", opt);
    if (s[strspn(s, "0123456789,-+*")])
        return tb_err_set(err, TB_EINVAL, "%s '%s': only digits, ',', '-', '+' and '*' are allowed",
                          opt, s);
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        const size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item)
            return tb_err_set(err, TB_EINVAL, "%s '%s': empty or overlong item in the list", opt,
                              s);
        memcpy(item, p, len);
        item[len] = '\0';
        int rc = parse_item(opt, item, lo, hi, out, max, n, err);
        if (rc)
            return rc;
        if (!comma)
            return TB_OK;
        p = comma + 1;
    }
}

/* -pg PP,TG: exactly two integers, not both 0. */
static int parse_pg(const char *v, struct tb_cbench_args *a, struct tb_err *err)
{
    int two[2], n = 0;
    struct tb_err e2 = {0};
    const char *comma = strchr(v, ',');
    if (!comma || strchr(comma + 1, ',') ||
        tb_cbench_parse_list("-pg", v, 0, 1 << 20, two, 2, &n, &e2) || n != 2 || strpbrk(v, "+*") ||
        strchr(v, '-'))
        return tb_err_set(err, TB_EINVAL, "-pg '%s': expected PP,TG (two integers in [0, %d])", v,
                          1 << 20);
    if (two[0] == 0 && two[1] == 0)
        return tb_err_set(err, TB_EINVAL, "-pg '%s': PP and TG are both 0", v);
    if (a->n_pg == TB_CBENCH_LIST_MAX)
        return tb_err_set(err, TB_EINVAL, "-pg: more than %d pairs", TB_CBENCH_LIST_MAX);
    a->pg[a->n_pg++] = (struct tb_cbench_pg){two[0], two[1]};
    return TB_OK;
}

/* Splits a -m value on commas into a->models (the strings live in store). */
static int add_models(char *store, struct tb_cbench_args *a, struct tb_err *err)
{
    for (char *save = NULL, *m = strtok_r(store, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (a->n_models == TB_CBENCH_LIST_MAX)
            return tb_err_set(err, TB_EINVAL, "-m: more than %d models", TB_CBENCH_LIST_MAX);
        a->models[a->n_models++] = m;
    }
    return TB_OK;
}

/* llama-bench's single-dash long option -pg becomes --pg for getopt_long. */
static char **rewrite_argv(int argc, char **argv)
{
    char **v = calloc((size_t)argc + 1, sizeof *v);
    for (int i = 0; v && i < argc; i++)
        v[i] = !strcmp(argv[i], "-pg") ? "--pg" : argv[i];
    return v;
}

enum {
    OPT_PG = 256,
    OPT_JSON,
    OPT_JSONL,
    OPT_PROGRESS,
    OPT_BACKEND,
    OPT_ISA,
    OPT_KV,
    OPT_NO_REPACK,
    OPT_NO_STREAM,
    OPT_CACHE
};

static const struct option k_long[] = {
    {"help", no_argument, NULL, 'h'},
    {"model", required_argument, NULL, 'm'},
    {"n-prompt", required_argument, NULL, 'p'},
    {"n-gen", required_argument, NULL, 'n'},
    {"pg", required_argument, NULL, OPT_PG},
    {"n-depth", required_argument, NULL, 'd'},
    {"threads", required_argument, NULL, 't'},
    {"repetitions", required_argument, NULL, 'r'},
    {"output", required_argument, NULL, 'o'},
    {"json", required_argument, NULL, OPT_JSON},
    {"jsonl", required_argument, NULL, OPT_JSONL},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"isa", required_argument, NULL, OPT_ISA},
    {"kv", required_argument, NULL, OPT_KV},
    {"no-repack", no_argument, NULL, OPT_NO_REPACK},
    {"no-stream", no_argument, NULL, OPT_NO_STREAM},
    {"cache", required_argument, NULL, OPT_CACHE},
    {NULL, 0, NULL, 0},
};

/* The name of the option getopt_long just returned c for (for messages). */
static void opt_name(int c, int long_index, char *buf, size_t n)
{
    if (long_index >= 0)
        snprintf(buf, n, "--%s", k_long[long_index].name);
    else if (c == OPT_PG)
        snprintf(buf, n, "-pg");
    else
        snprintf(buf, n, "-%c", c);
}

/* Handles one option with a value; 0 or TB_EINVAL with the reason. */
static int apply_opt(int c, const char *name, const char *v, struct tb_cbench_args *a,
                     char **model_store, int *n_store, struct tb_err *err)
{
    const int big = 1 << 20;
    switch (c) {
    case 'm':
        if (*n_store == TB_CBENCH_LIST_MAX)
            return tb_err_set(err, TB_EINVAL, "-m given more than %d times", TB_CBENCH_LIST_MAX);
        model_store[*n_store] = strdup(v);
        if (!model_store[*n_store])
            return tb_err_set(err, TB_ENOMEM, "out of memory");
        return add_models(model_store[(*n_store)++], a, err);
    case 'p':
        return tb_cbench_parse_list(name, v, 0, big, a->pp, TB_CBENCH_LIST_MAX, &a->n_pp, err);
    case 'n':
        return tb_cbench_parse_list(name, v, 0, big, a->tg, TB_CBENCH_LIST_MAX, &a->n_tg, err);
    case 'd':
        return tb_cbench_parse_list(name, v, 0, big, a->depth, TB_CBENCH_LIST_MAX, &a->n_depth,
                                    err);
    case 't':
        return tb_cbench_parse_list(name, v, 1, 1024, a->threads, TB_CBENCH_LIST_MAX, &a->n_threads,
                                    err);
    case 'r':
        return tb_parse_int(v, 1, 1000, &a->reps)
                   ? tb_err_set(err, TB_EINVAL, "%s '%s' must be an integer in [1, 1000]", name, v)
                   : TB_OK;
    case 'o': {
        const int f = tb_cbench_fmt_from_name(v);
        if (f < 0)
            return tb_err_set(err, TB_EINVAL, "%s '%s': expected md, csv, json, jsonl or sql", name,
                              v);
        a->fmt = (enum tb_cbench_fmt)f;
        return TB_OK;
    }
    case OPT_PG: return parse_pg(v, a, err);
    case OPT_JSON: a->json = v; return TB_OK;
    case OPT_JSONL: a->jsonl = v; return TB_OK;
    case OPT_BACKEND: a->backend = v; return TB_OK;
    case OPT_CACHE: a->cache = v; return TB_OK;
    case OPT_KV:
        a->kv_type = tb_type_from_name(v);
        return a->kv_type != TB_TYPE_F32 && a->kv_type != TB_TYPE_F16
                   ? tb_err_set(err, TB_EINVAL, "--kv '%s' must be f32 or f16", v)
                   : TB_OK;
    case OPT_ISA:
        a->isa_cap = tb_isa_from_name(v);
        return a->isa_cap < 0
                   ? tb_err_set(err, TB_EINVAL, "--isa '%s': expected scalar, avx2 or avx512", v)
                   : TB_OK;
    default: return tb_err_set(err, TB_EINVAL, "%s: not handled", name);
    }
}

/* 1: --help printed; 0: parsed; TB_EINVAL: err says why. */
static int parse_args(int argc, char **argv, struct tb_cbench_args *a, char **model_store,
                      struct tb_err *err)
{
    int n_store = 0;
    opterr = 0;
    optind = 0; /* glibc: full re-initialisation (another command may have parsed) */
    for (;;) {
        int li = -1;
        const int c = getopt_long(argc, argv, ":hm:p:n:d:t:r:o:", k_long, &li);
        if (c == -1)
            break;
        char name[40];
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == '?') { /* unknown: optopt is the short option, 0 for a long one */
            if (optopt > 0 && optopt < 128)
                return tb_err_set(err, TB_EINVAL, "unknown option '-%c' (see --help)", optopt);
            if (optopt >= 256) /* a long option without a value given one */
                return tb_err_set(err, TB_EINVAL, "%.*s takes no value (see --help)",
                                  (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
            return tb_err_set(err, TB_EINVAL, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
        if (c == ':') {
            const char *o = argv[optind - 1];
            return tb_err_set(err, TB_EINVAL, "%s needs a value (see --help)",
                              !strcmp(o, "--pg") ? "-pg" : o);
        }
        opt_name(c, li, name, sizeof name);
        if (c == OPT_PROGRESS || c == OPT_NO_REPACK || c == OPT_NO_STREAM) {
            *(c == OPT_PROGRESS    ? &a->progress
              : c == OPT_NO_REPACK ? &a->no_repack
                                   : &a->no_stream) = 1;
            continue;
        }
        int rc = apply_opt(c, name, optarg, a, model_store, &n_store, err);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return tb_err_set(err, TB_EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
    if (!a->n_models)
        return tb_err_set(err, TB_EINVAL, "no model: give -m SPEC[,SPEC...] (see --help)");
    return TB_OK;
}

/* -t default: the physical cores hwloc finds (llama-bench: the machine's
 * math cores), else the online CPUs, saying why. */
static int default_threads(char *note, size_t n)
{
    struct tb_topo *t = NULL;
    struct tb_err err = {0};
    if (tb_topo_open_host(&t, &err) == TB_OK) {
        struct tb_topo_summary s;
        tb_topo_summarize(t, &s);
        tb_topo_free(t);
        if (s.cores > 0) {
            snprintf(note, n, "-t default %d: physical cores (hwloc)", s.cores);
            return s.cores;
        }
        snprintf(err.msg, sizeof err.msg, "hwloc found no cores");
    }
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    const int c = online > 0 ? (int)online : 1;
    snprintf(note, n, "-t default %d: online CPUs (hwloc topology unavailable: %.150s)", c,
             err.msg);
    fprintf(stderr, "tierbench bench: %s\n", note);
    return c;
}

/* Opens --json (replaced) and --jsonl (appended) as extra sinks. */
static int open_files(const struct tb_cbench_args *a, struct tb_cbench_sinks *k, FILE **files,
                      struct tb_err *err)
{
    const char *paths[2] = {a->json, a->jsonl};
    for (int i = 0; i < 2; i++) {
        if (!paths[i])
            continue;
        files[i] = fopen(paths[i], i == 0 ? "w" : "a");
        if (!files[i])
            return tb_err_set(err, TB_EIO, "%s: %s", paths[i], strerror(errno));
        tb_cbench_out_begin(&k->out[k->n++], files[i], i == 0 ? TB_CBENCH_JSON : TB_CBENCH_JSONL);
    }
    return TB_OK;
}

static int run_all(const struct tb_cbench_args *a, struct tb_cbench_sinks *k)
{
    const int n_groups = a->n_models * a->n_threads;
    int group = 0;
    for (int m = 0; m < a->n_models; m++)
        for (int t = 0; t < a->n_threads; t++) {
            struct tb_err err = {0};
            if (tb_cbench_run_model(a, a->models[m], a->threads[t], ++group, n_groups, k, &err)) {
                fprintf(stderr, "tierbench bench: %s\n", err.msg);
                return TB_EXIT_USAGE;
            }
        }
    return TB_EXIT_OK;
}

int tb_cli_bench(int argc, char **argv)
{
    struct tb_cbench_args a = {
        .backend = "cpu", .reps = 5, .isa_cap = -1, .kv_type = TB_TYPE_F32, .fmt = TB_CBENCH_MD};
    char *model_store[TB_CBENCH_LIST_MAX] = {0};
    char **av = rewrite_argv(argc, argv);
    struct tb_err err = {0};
    int rc = av ? parse_args(argc, av, &a, model_store, &err)
                : tb_err_set(&err, TB_ENOMEM, "out of memory");
    free(av);
    int code = rc == 1 ? TB_EXIT_OK : rc ? TB_EXIT_USAGE : -1;
    if (rc < 0)
        fprintf(stderr, "tierbench bench: %s\n", err.msg);
    if (code < 0) {
        if (!a.n_pp)
            a.pp[a.n_pp++] = 128;
        if (!a.n_tg)
            a.tg[a.n_tg++] = 64;
        if (!a.n_depth)
            a.depth[a.n_depth++] = 0;
        if (!a.n_threads)
            a.threads[a.n_threads++] = default_threads(a.threads_note, sizeof a.threads_note);
        if (!a.cache) {
            const char *e = getenv("TB_CACHE_DIR");
            a.cache = e && *e ? e : ".tb-cache";
        }
        struct tb_cbench_sinks k = {0};
        FILE *files[2] = {NULL, NULL};
        tb_cbench_out_begin(&k.out[k.n++], stdout, a.fmt);
        if (open_files(&a, &k, files, &err)) {
            fprintf(stderr, "tierbench bench: %s\n", err.msg);
            code = TB_EXIT_USAGE;
        } else {
            if (a.progress && a.threads_note[0])
                fprintf(stderr, "tierbench bench: %s\n", a.threads_note);
            code = run_all(&a, &k);
        }
        for (int i = 0; i < k.n; i++)
            if (tb_cbench_out_end(&k.out[i]) && code == TB_EXIT_OK) {
                fprintf(stderr, "tierbench bench: writing the %s output failed\n",
                        i == 0 ? "stdout" : "--json/--jsonl");
                code = TB_EXIT_USAGE;
            }
        for (int i = 0; i < 2; i++)
            if (files[i] && fclose(files[i]) && code == TB_EXIT_OK) {
                fprintf(stderr, "tierbench bench: %s: %s\n", i == 0 ? a.json : a.jsonl,
                        strerror(errno));
                code = TB_EXIT_USAGE;
            }
    }
    for (size_t i = 0; i < sizeof model_store / sizeof model_store[0]; i++)
        free(model_store[i]);
    return code;
}

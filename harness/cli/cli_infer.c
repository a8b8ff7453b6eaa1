/* tierbench infer: greedy decoding of a llama GGUF on one backend, with
 * prefill/decode throughput (median over repetitions) and optional raw
 * logits output for accuracy comparisons. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "harness/tb_run.h"
#include "harness/tb_stats.h"
#include "kernels/platform/tb_platform.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_util.h"
#include "workloads/tb_llama.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tierbench infer --model SPEC --tokens ID,ID,... [--n-predict N]\n"
               "                       [--backend cpu|cpu-ref] [--threads N] [--logits OUT.f32]\n"
               "                       [--reps R] [--cache DIR]\n"
               "  SPEC: FILE.gguf or synth:SHAPE:TYPE (generated on first use into --cache,\n"
               "  default $TB_CACHE_DIR or .tb-cache, as `run` does).\n"
               "  greedy decoding; prints the generated token ids, then prefill and decode\n"
               "  tokens/s (median of R repetitions, each from position 0).\n"
               "  --logits writes little-endian float32 logits [n_positions x vocab]: every\n"
               "  prompt position, then every decoded token (n_prompt + N - 1 rows).\n");
}

struct infer_args {
    const char *model, *backend, *logits, *cache;
    int32_t *tokens;
    int n_tokens;
    long n_predict, threads, reps;
};

/* tb_parse_int (every range here fits an int) with this command's message. */
static int parse_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    int x;
    if (tb_parse_int(v, lo, hi, &x) == 0) {
        *out = x;
        return 0;
    }
    fprintf(stderr, "tierbench infer: %s '%s' must be an integer in [%ld, %ld]\n", opt, v, lo, hi);
    return -1;
}

/* "1,2,3" -> malloc'ed ids; -1 with a message on malformed input. */
static int parse_tokens(const char *v, struct infer_args *a)
{
    int n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    a->tokens = malloc((size_t)n * sizeof *a->tokens);
    if (!a->tokens) {
        fprintf(stderr, "tierbench infer: out of memory\n");
        return -1;
    }
    const char *p = v;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x > INT32_MAX || (*end != ',' && *end != '\0')) {
            fprintf(stderr, "tierbench infer: --tokens '%s': item %d is not a token id\n", v,
                    i + 1);
            return -1;
        }
        a->tokens[i] = (int32_t)x;
        p = end + 1;
    }
    a->n_tokens = n;
    return 0;
}

static int parse_args(int argc, char **argv, struct infer_args *a)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"backend", required_argument, NULL, 'b'},
                                         {"logits", required_argument, NULL, 'l'},
                                         {"tokens", required_argument, NULL, 'k'},
                                         {"n-predict", required_argument, NULL, 'n'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"reps", required_argument, NULL, 'r'},
                                         {"cache", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    a->backend = "cpu";
    a->n_predict = 16;
    a->threads = 0;
    a->reps = 1;
    optind = 0;
    opterr = 0;
    int c;
    /* long options only: no short letters are documented */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *v = optarg;
        int bad = 0;
        switch (c) {
        case 'h': usage(stdout); return 1;
        case 'm': a->model = v; break;
        case 'b': a->backend = v; break;
        case 'l': a->logits = v; break;
        case 'c': a->cache = v; break;
        case 'k':
            free(a->tokens);
            a->tokens = NULL;
            bad = parse_tokens(v, a);
            break;
        case 'n': bad = parse_long("--n-predict", v, 1, 1 << 20, &a->n_predict); break;
        case 't': bad = parse_long("--threads", v, 0, 4096, &a->threads); break;
        case 'r': bad = parse_long("--reps", v, 1, 1000, &a->reps); break;
        default: tb_cli_opt_error("infer", c, argv); return -1;
        }
        if (bad)
            return -1;
    }
    if (tb_cli_no_args("infer", argc, argv))
        return -1;
    if (!a->model || !a->tokens) {
        fprintf(stderr, "tierbench infer: --model and --tokens are required (see --help)\n");
        return -1;
    }
    return 0;
}

static int32_t argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* One repetition: prefill from position 0, then n_predict - 1 decode steps.
 * gen receives the generated ids; lf (optional) the logits rows. */
static int run_once(const struct tb_llama_model *m, struct tb_llama_state *s, struct tb_backend *b,
                    const struct infer_args *a, int32_t *gen, FILE *lf, double *prefill_s,
                    double *decode_s, struct tb_err *err)
{
    const int32_t V = m->config.vocab_size, np = a->n_tokens;
    const int all = lf != NULL;
    uint64_t t0 = tb_now_ns();
    int rc = tb_llama_eval(m, s, b, a->tokens, np, 0, all, NULL, err);
    if (rc)
        return rc;
    *prefill_s = (double)(tb_now_ns() - t0) * 1e-9;
    const int32_t last = all ? np - 1 : 0;
    if (lf && fwrite(tb_llama_logits(s, 0), sizeof(float), (size_t)np * (size_t)V, lf) !=
                  (size_t)np * (size_t)V)
        return tb_err_set(err, TB_EIO, "%s: write failed", a->logits);
    gen[0] = argmax(tb_llama_logits(s, last), V);
    t0 = tb_now_ns();
    for (long i = 1; i < a->n_predict; i++) {
        if ((rc = tb_llama_eval(m, s, b, &gen[i - 1], 1, np + (int32_t)i - 1, 0, NULL, err)))
            return rc;
        if (lf && fwrite(tb_llama_logits(s, 0), sizeof(float), (size_t)V, lf) != (size_t)V)
            return tb_err_set(err, TB_EIO, "%s: write failed", a->logits);
        gen[i] = argmax(tb_llama_logits(s, 0), V);
    }
    *decode_s = (double)(tb_now_ns() - t0) * 1e-9;
    return TB_OK;
}

int tb_cli_infer(int argc, char **argv)
{
    struct infer_args a = {0};
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        free(a.tokens);
        return prc > 0 ? TB_EXIT_OK : TB_EXIT_USAGE;
    }
    struct tb_err err = {0};
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_backend *b = NULL;
    int32_t *gen = NULL, *gen_rep = NULL;
    double *pf = NULL, *dc = NULL;
    FILE *lf = NULL;
    int code = TB_EXIT_USAGE;
    /* the same model check and synth cache as `run` (exit 2 up front) */
    char path[4096];
    const char *cache = a.cache ? a.cache : getenv("TB_CACHE_DIR");
    if (tb_run_check_model("--model", a.model, 1, &err) ||
        tb_run_resolve_model(a.model, cache && *cache ? cache : ".tb-cache", 1, path, sizeof path,
                             &err)) {
        fprintf(stderr, "tierbench infer: %s\n", err.msg);
        goto done;
    }
    if (tb_llama_load(path, &m, &err)) {
        fprintf(stderr, "tierbench infer: %s\n", err.msg);
        goto done;
    }
    const struct tb_llama_config *c = &m->config;
    for (int i = 0; i < a.n_tokens; i++)
        if (a.tokens[i] >= c->vocab_size) {
            fprintf(stderr, "tierbench infer: token %d is outside the vocabulary [0, %d)\n",
                    a.tokens[i], c->vocab_size);
            goto done;
        }
    /* the last generated token is not evaluated */
    const long n_ctx = a.n_tokens + a.n_predict - 1;
    if (n_ctx > c->ctx_len) {
        fprintf(stderr,
                "tierbench infer: %d prompt + %ld predicted tokens exceed the context "
                "length %d\n",
                a.n_tokens, a.n_predict, c->ctx_len);
        goto done;
    }
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = (int)a.threads;
    if (tb_backend_create(a.backend, &cfg, &b, &err)) {
        fprintf(stderr, "tierbench infer: backend '%s': %s\n", a.backend, err.msg);
        goto done;
    }
    if (tb_llama_state_build(m, a.n_tokens, (int32_t)n_ctx, &s, &err)) {
        fprintf(stderr, "tierbench infer: %s\n", err.msg);
        goto done;
    }
    if (a.logits && !(lf = fopen(a.logits, "wb"))) {
        fprintf(stderr, "tierbench infer: %s: cannot open for writing: %s\n", a.logits,
                strerror(errno));
        goto done;
    }
    gen = calloc((size_t)a.n_predict, sizeof *gen);
    gen_rep = calloc((size_t)a.n_predict, sizeof *gen_rep);
    pf = calloc((size_t)a.reps, sizeof *pf);
    dc = calloc((size_t)a.reps, sizeof *dc);
    if (!gen || !gen_rep || !pf || !dc) {
        fprintf(stderr, "tierbench infer: out of memory\n");
        goto done;
    }
    printf("model: %s (llama, dim %d, %d layers, vocab %d, %s, %.1f MB)\n", a.model, c->dim,
           c->n_layers, c->vocab_size, tb_type_name(m->weights.weight_type),
           (double)m->weights.weight_bytes / 1e6);
    printf("backend: %s (%s, %d threads, isa %s)\n", tb_backend_name(b), tb_backend_device_name(b),
           tb_backend_n_threads(b), tb_isa_name(tb_backend_isa(b)));
    code = TB_EXIT_FAIL;
    for (long r = 0; r < a.reps; r++) {
        /* logits only from the first repetition; the others are timing runs */
        if (run_once(m, s, b, &a, r ? gen_rep : gen, r ? NULL : lf, &pf[r], &dc[r], &err)) {
            fprintf(stderr, "tierbench infer: %s\n", err.msg);
            goto done;
        }
        if (r && memcmp(gen, gen_rep, (size_t)a.n_predict * sizeof *gen) != 0) {
            fprintf(stderr,
                    "tierbench infer: repetition %ld generated different tokens "
                    "(backend is not deterministic)\n",
                    r + 1);
            goto done;
        }
    }
    if (lf) {
        const int bad = fclose(lf) != 0;
        lf = NULL;
        if (bad) {
            fprintf(stderr, "tierbench infer: %s: write failed\n", a.logits);
            goto done;
        }
    }
    printf("generated:");
    for (long i = 0; i < a.n_predict; i++)
        printf("%s%d", i ? "," : " ", gen[i]);
    printf("\n");
    const double pf_med = tb_median(pf, (size_t)a.reps);
    printf("prefill: %d tokens, %.2f tok/s (median of %ld rep%s%s)\n", a.n_tokens,
           pf_med > 0 ? a.n_tokens / pf_med : 0.0, a.reps, a.reps > 1 ? "s" : "",
           a.logits ? ", all-position logits" : "");
    if (a.n_predict > 1) {
        const double dc_med = tb_median(dc, (size_t)a.reps);
        printf("decode: %ld tokens, %.2f tok/s (median of %ld rep%s)\n", a.n_predict - 1,
               dc_med > 0 ? (double)(a.n_predict - 1) / dc_med : 0.0, a.reps,
               a.reps > 1 ? "s" : "");
    } else {
        printf("decode: 0 tokens (--n-predict 1 needs no decode step)\n");
    }
    if (a.logits)
        printf("logits: %s (%ld x %d float32)\n", a.logits, a.n_tokens + a.n_predict - 1,
               c->vocab_size);
    code = TB_EXIT_OK;
done:
    if (lf)
        fclose(lf);
    free(gen);
    free(gen_rep);
    free(pf);
    free(dc);
    tb_llama_state_free(s);
    tb_backend_free(b);
    tb_llama_free(m);
    free(a.tokens);
    return code;
}

/* Proves tb_engine stands alone: this program links only libtb_engine.a
 * (and libm; threads come with the platform layer) and goes through the
 * whole engine: synth writes a GGUF with the engine's writer into
 * $TB_TEST_TMP, the reader maps it back, and one prefill runs on cpu-ref
 * and on cpu (two pool threads). The logits must be finite and agree.
 * Nothing from harness/, reports/ or tests/tb_test.c. Exit 77: skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/platform/tb_platform.h"
#include "workloads/tb_llama.h"

enum { N_TOK = 6 };
#define SHAPE "mcu-260k" /* dim 64, 5 layers, 512 tokens: a few hundred KB */
#define REL_TOL 1e-4     /* f32 weights: the two backends differ by rounding only */

static int fail(const char *what, const struct tb_err *err)
{
    fprintf(stderr, "engine_standalone: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

/* Prefill of tok on b; all N_TOK rows of logits into out. */
static int prefill(const struct tb_llama_model *m, struct tb_backend *b, const int32_t *tok,
                   float *out, struct tb_err *err)
{
    struct tb_llama_state *s = NULL;
    int rc = tb_llama_state_build(m, N_TOK, N_TOK, &s, err);
    if (!rc)
        rc = tb_llama_eval(m, s, b, tok, N_TOK, 0, TB_LLAMA_ALL_LOGITS, NULL, err);
    const size_t n = (size_t)N_TOK * (size_t)m->config.vocab_size;
    for (size_t i = 0; !rc && i < n; i++)
        out[i] = tb_llama_logits(s, 0)[i];
    tb_llama_state_free(s);
    return rc;
}

/* Logits finite, not all equal, and cpu within REL_TOL of cpu-ref's scale. */
static int compare(const float *ref, const float *got, size_t n)
{
    double scale = 0.0, diff = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ref[i]) || !isfinite(got[i])) {
            fprintf(stderr, "engine_standalone: logit %zu not finite (%g, %g)\n", i, ref[i],
                    got[i]);
            return 1;
        }
        scale = fmax(scale, fabs(ref[i]));
        diff = fmax(diff, fabs((double)ref[i] - got[i]));
    }
    printf("engine_standalone: %zu logits, max |ref| %.4g, max |cpu - ref| %.3g\n", n, scale, diff);
    if (scale == 0.0 || diff > REL_TOL * scale) {
        fprintf(stderr, "engine_standalone: cpu and cpu-ref disagree (tolerance %.1e x %.4g)\n",
                REL_TOL, scale);
        return 1;
    }
    return 0;
}

static int run(const char *path, struct tb_backend *ref, struct tb_backend *cpu)
{
    struct tb_err err = {0};
    if (tb_synth_write(SHAPE, TB_TYPE_F32, 42, path, &err))
        return fail("synth", &err);
    struct tb_llama_model *m = NULL;
    if (tb_llama_load(path, &m, &err))
        return fail("load", &err);
    const int32_t tok[N_TOK] = {1, 17, 300, 4, 511, 259};
    const size_t n = (size_t)N_TOK * (size_t)m->config.vocab_size;
    float *lr = malloc(n * sizeof *lr), *lc = malloc(n * sizeof *lc);
    int bad = !lr || !lc ? fail("out of memory", NULL) : 0;
    if (!bad && prefill(m, ref, tok, lr, &err))
        bad = fail("prefill on cpu-ref", &err);
    if (!bad && prefill(m, cpu, tok, lc, &err))
        bad = fail("prefill on cpu", &err);
    if (!bad)
        bad = compare(lr, lc, n);
    free(lr);
    free(lc);
    tb_llama_free(m);
    return bad;
}

int main(void)
{
    const char *dir = getenv("TB_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/tb-standalone-%llu.gguf", dir && *dir ? dir : "/tmp",
             (unsigned long long)tb_now_ns());
    struct tb_err err = {0};
    struct tb_backend *ref = NULL, *cpu = NULL;
    if (tb_backend_create("cpu-ref", NULL, &ref, &err))
        return fail("cpu-ref backend", &err);
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = 2;
    if (tb_backend_create("cpu", &cfg, &cpu, &err)) {
        tb_backend_free(ref);
        if (err.code == TB_EUNSUPPORTED) {
            printf("engine_standalone: skipped: %s\n", err.msg);
            return 77;
        }
        return fail("cpu backend", &err);
    }
    const int bad = run(path, ref, cpu);
    remove(path);
    tb_backend_free(cpu);
    tb_backend_free(ref);
    if (!bad)
        printf("engine_standalone: ok\n");
    return bad;
}

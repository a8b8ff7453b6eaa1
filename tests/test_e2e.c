/* End to end: synthetic llama models, every weight type, the fast "cpu"
 * backend against the "cpu-ref" ground truth over 128 teacher-forced
 * positions, as one prefill batch and as token-by-token decode. Bounds and
 * the measured values behind them: docs/accuracy.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "kernels/tb_wtypes.h"
#include "kernels/platform/tb_platform.h"
#include "tb_test.h"
#include "harness/tb_accuracy.h"
#include "workloads/tb_llama.h"
#include "workloads/tb_workload.h"

enum { N_POS = 128, MAX_VOCAB = 32000 }; /* positions; largest vocabulary tested */

/* Mean-KL bounds per weight type (nats), KL(softmax(ref) || softmax(cpu)). */
struct type_bound {
    int type;
    double kl_mean;
};
static const struct type_bound k_bounds[] = {
    {TB_TYPE_F32, 1e-9},  {TB_TYPE_F16, 1e-9},  {TB_TYPE_Q8_0, 5e-4}, {TB_TYPE_Q4_0, 5e-4},
    {TB_TYPE_Q4_1, 5e-4}, {TB_TYPE_Q5_0, 5e-4}, {TB_TYPE_Q5_1, 5e-4}, {TB_TYPE_BF16, 1e-9},
    {TB_TYPE_Q6_K, 5e-4}, {TB_TYPE_Q4_K, 5e-4}, {TB_TYPE_Q5_K, 5e-4},
};
#define MIN_TOP1 0.99

/* Whether the shape's rows are whole blocks of the type (tb_synth_check). */
static bool fits(const char *shape, int type)
{
    struct tb_err err = {0};
    return tb_synth_check(shape, type, &err) == TB_OK;
}

/* The harness's accuracy metrics (one implementation for run and tests). */
static struct tb_accuracy compare(const float *ref, const float *got, int n_pos, int32_t V)
{
    struct tb_accuracy a;
    struct tb_err err = {0};
    CHECKF(tb_accuracy_compare(ref, got, n_pos, V, &a, &err) == TB_OK, "%s", err.msg);
    return a;
}

/* Teacher-forced logits for tok[0..n): one batch, or one token per eval. */
static int run(const struct tb_llama_model *m, struct tb_llama_state *s, struct tb_backend *b,
               const int32_t *tok, int n, int decode, float *out, double *ms, struct tb_err *err)
{
    const size_t V = (size_t)m->config.vocab_size;
    const uint64_t t0 = tb_now_ns();
    int rc = TB_OK;
    if (!decode) {
        rc = tb_llama_eval(m, s, b, tok, n, 0, 1, NULL, err);
        if (!rc)
            memcpy(out, tb_llama_logits(s, 0), (size_t)n * V * sizeof *out);
    }
    for (int i = 0; decode && !rc && i < n; i++) {
        rc = tb_llama_eval(m, s, b, &tok[i], 1, i, 0, NULL, err);
        if (!rc)
            memcpy(out + (size_t)i * V, tb_llama_logits(s, 0), V * sizeof *out);
    }
    *ms = (double)(tb_now_ns() - t0) * 1e-6;
    return rc;
}

static void report(const char *shape, int type, const char *what, int n, struct tb_accuracy a,
                   double ms)
{
    printf("%-10s %-5s %-29s n=%3d top1 %6.2f%%  KL mean %.3e max %.3e  max|dlogit| %.3e  "
           "%.0f ms\n",
           shape, tb_type_name(type), what, n, 100.0 * a.top1_agreement, a.kl_mean, a.kl_max,
           a.max_abs_err, ms);
}

/* n_ref_decode: positions of the (slow, scalar) cpu-ref decode check. */
static void check_model(const char *shape, int type, struct tb_backend *ref,
                        struct tb_backend *const *cpu, int n_cpu, int n_ref_decode,
                        float *f32_logits)
{
    char path[512];
    tb_test_path(path, sizeof path, "e2e", ".gguf");
    struct tb_err err = {0};
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    float *lr = NULL, *lx = NULL;
    CHECKF(tb_synth_write(shape, type, 1234, path, &err) == 0, "%s", err.msg);
    CHECKF(tb_llama_load(path, &m, &err) == 0, "%s", err.msg);
    if (!m || tb_llama_state_build(m, N_POS, N_POS, &s, &err)) {
        CHECKF(0, "%s %s setup: %s", shape, tb_type_name(type), err.msg);
        goto done;
    }
    const int32_t V = m->config.vocab_size;
    int32_t tok[N_POS];
    CHECK(V <= MAX_VOCAB);
    if (V > MAX_VOCAB)
        goto done;
    uint64_t x = 0x243F6A8885A308D3ull; /* fixed sequence: BOS then LCG draws */
    tok[0] = 1;
    for (int i = 1; i < N_POS; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((x >> 33) % (uint64_t)V);
    }
    lr = malloc((size_t)N_POS * V * sizeof *lr);
    lx = malloc((size_t)N_POS * V * sizeof *lx);
    if (!lr || !lx) {
        CHECK(!"out of memory");
        goto done;
    }
    double ms_ref = 0.0, ms = 0.0;
    double kl_bound = -1.0; /* a listed type without a bound fails below */
    for (size_t i = 0; i < sizeof k_bounds / sizeof k_bounds[0]; i++)
        if (k_bounds[i].type == type)
            kl_bound = k_bounds[i].kl_mean;
    CHECKF(kl_bound >= 0, "%s: no accuracy bound in k_bounds (docs/accuracy.md)",
           tb_type_name(type));

    CHECKF(run(m, s, ref, tok, N_POS, 0, lr, &ms_ref, &err) == 0, "%s", err.msg);
    int finite = 1;
    for (size_t i = 0; i < (size_t)N_POS * V; i++)
        finite &= isfinite(lr[i]) != 0;
    CHECKF(finite, "%s %s: cpu-ref logits not finite", shape, tb_type_name(type));

    /* Scale of the weight quantization itself (same seed, f32 weights, both on
     * cpu-ref): far above the kernel bounds, so those bounds can detect a
     * kernel that is off by a quantization step. */
    if (type == TB_TYPE_F32) {
        memcpy(f32_logits, lr, (size_t)N_POS * V * sizeof *lr);
    } else {
        struct tb_accuracy q = compare(f32_logits, lr, N_POS, V);
        report(shape, type, "cpu-ref vs its f32 weights", N_POS, q, 0.0);
        if (type == TB_TYPE_Q4_0)
            CHECKF(q.kl_mean > 10.0 * kl_bound,
                   "%s: q4_0 weights barely change the logits "
                   "(KL %.3e): the comparison is not sensitive",
                   shape, q.kl_mean);
    }

    /* cpu-ref decode must reproduce its own prefill (same scalar math) */
    CHECKF(run(m, s, ref, tok, n_ref_decode, 1, lx, &ms, &err) == 0, "%s", err.msg);
    struct tb_accuracy a = compare(lr, lx, n_ref_decode, V);
    report(shape, type, "cpu-ref decode vs prefill", n_ref_decode, a, ms);
    printf("%-10s %-5s cpu-ref prefill: %.0f ms\n", shape, tb_type_name(type), ms_ref);
    CHECKF(a.top1_agreement == 1.0 && a.kl_mean < 1e-9 && a.max_abs_err < 1e-4,
           "%s %s: cpu-ref decode differs from prefill", shape, tb_type_name(type));

    /* cpu[0] is the best ISA: prefill and decode; lower ISA caps: prefill */
    for (int c = 0; c < n_cpu; c++) {
        for (int decode = 0; decode <= (c == 0); decode++) {
            char what[64];
            snprintf(what, sizeof what, "cpu/%s %s vs cpu-ref", tb_isa_name(tb_backend_isa(cpu[c])),
                     decode ? "decode" : "prefill");
            CHECKF(run(m, s, cpu[c], tok, N_POS, decode, lx, &ms, &err) == 0, "%s", err.msg);
            a = compare(lr, lx, N_POS, V);
            report(shape, type, what, N_POS, a, ms);
            CHECKF(a.top1_agreement >= MIN_TOP1, "%s %s %s: top-1 agreement %.2f%% < %.0f%%", shape,
                   tb_type_name(type), what, 100.0 * a.top1_agreement, 100.0 * MIN_TOP1);
            CHECKF(a.kl_mean < kl_bound, "%s %s %s: mean KL %.3e >= bound %.1e", shape,
                   tb_type_name(type), what, a.kl_mean, kl_bound);
        }
    }
done:
    free(lr);
    free(lx);
    tb_llama_state_free(s);
    tb_llama_free(m);
    remove(path);
}

/* The infer CLI end to end on cpu-ref: its --logits file must equal a
 * teacher-forced prefill over the prompt plus the greedy tokens it chose. */
static void check_cli(struct tb_backend *ref)
{
    char model[512], lpath[512];
    tb_test_path(model, sizeof model, "e2e-cli", ".gguf");
    tb_test_path(lpath, sizeof lpath, "e2e-cli", ".f32");
    struct tb_err err = {0};
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q8_0, 5, model, &err) == 0, "%s", err.msg);
    enum { NP = 5, NPRED = 6, ROWS = NP + NPRED - 1 };
    char *argv[] = {"infer",       "--model", model,       "--tokens", "1,17,300,42,7",
                    "--n-predict", "6",       "--backend", "cpu-ref",  "--logits",
                    lpath,         "--reps",  "2",         NULL};
    CHECK(tb_cli_infer(13, argv) == TB_EXIT_OK);
    char *bad_argv[] = {"infer", "--model", model, "--tokens", "1,99999", NULL};
    CHECK(tb_cli_infer(5, bad_argv) == TB_EXIT_USAGE);
    char *bad_argv2[] = {"infer", "--model", model, "--tokens", "1", "--reps", "x", NULL};
    CHECK(tb_cli_infer(7, bad_argv2) == TB_EXIT_USAGE);

    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    float *file = NULL;
    FILE *f = fopen(lpath, "rb");
    CHECKF(tb_llama_load(model, &m, &err) == 0, "%s", err.msg);
    if (!f || !m || tb_llama_state_build(m, ROWS, ROWS, &s, &err)) {
        CHECKF(0, "cli setup: %s", err.msg);
        goto done;
    }
    const int32_t V = m->config.vocab_size;
    file = malloc((size_t)(ROWS + 1) * V * sizeof *file);
    CHECK(file != NULL);
    if (!file)
        goto done;
    CHECK(fread(file, sizeof *file, (size_t)(ROWS + 1) * V, f) == (size_t)ROWS * V);
    int32_t tok[ROWS] = {1, 17, 300, 42, 7};
    for (int i = NP; i < ROWS; i++) /* the greedy chain the CLI followed */
        tok[i] = tb_argmax(file + (size_t)(i - 1) * V, V);
    CHECKF(tb_llama_eval(m, s, ref, tok, ROWS, 0, 1, NULL, &err) == 0, "%s", err.msg);
    CHECK(memcmp(tb_llama_logits(s, 0), file, (size_t)ROWS * V * sizeof *file) == 0);
done:
    if (f)
        fclose(f);
    free(file);
    tb_llama_state_free(s);
    tb_llama_free(m);
    remove(model);
    remove(lpath);
}

/* An f16 KV cache (bench --kv f16): decode on the fast backend against
 * cpu-ref with the same cache type, and against its own f32-cache logits. */
static void check_kv_f16(struct tb_backend *ref, struct tb_backend *cpu)
{
    char path[512];
    tb_test_path(path, sizeof path, "e2e-kv", ".gguf");
    struct tb_err err = {0};
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s16 = NULL, *s32 = NULL;
    enum { N = 48 };
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q8_0, 99, path, &err) == 0, "%s", err.msg);
    CHECKF(tb_llama_load(path, &m, &err) == 0, "%s", err.msg);
    if (!m || tb_llama_state_build_kv(m, 1, N, TB_TYPE_F16, &s16, &err) ||
        tb_llama_state_build_kv(m, 1, N, TB_TYPE_F32, &s32, &err)) {
        CHECKF(0, "kv f16 setup: %s", err.msg);
        goto done;
    }
    CHECK(s16->kv_bytes * 2 == s32->kv_bytes);
    CHECK(s16->k_cache[0].type == TB_TYPE_F16);
    const int32_t V = m->config.vocab_size;
    int32_t tok[N];
    for (int i = 0; i < N; i++)
        tok[i] = (int32_t)((i * 7919 + 1) % V);
    float *a = malloc((size_t)N * V * sizeof *a), *b = malloc((size_t)N * V * sizeof *b),
          *c = malloc((size_t)N * V * sizeof *c);
    double ms = 0;
    if (a && b && c) {
        CHECKF(run(m, s16, ref, tok, N, 1, a, &ms, &err) == 0, "%s", err.msg);
        CHECKF(run(m, s16, cpu, tok, N, 1, b, &ms, &err) == 0, "%s", err.msg);
        CHECKF(run(m, s32, cpu, tok, N, 1, c, &ms, &err) == 0, "%s", err.msg);
        const struct tb_accuracy same = compare(a, b, N, V), vs32 = compare(c, b, N, V);
        report("mcu-260k", TB_TYPE_Q8_0, "kv f16 cpu vs cpu-ref", N, same, ms);
        report("mcu-260k", TB_TYPE_Q8_0, "kv f16 vs kv f32", N, vs32, ms);
        CHECKF(same.top1_agreement == 1.0 && same.kl_mean <= 5e-4, "kv f16: top1 %.3f KL %.3g",
               same.top1_agreement, same.kl_mean);
        CHECKF(vs32.top1_agreement >= 0.95 && vs32.kl_mean <= 1e-3,
               "kv f16 vs f32: top1 %.3f KL %.3g", vs32.top1_agreement, vs32.kl_mean);
    }
    free(a);
    free(b);
    free(c);
done:
    tb_llama_state_free(s16);
    tb_llama_state_free(s32);
    tb_llama_free(m);
    remove(path);
}

int main(void)
{
    struct tb_err err = {0};
    struct tb_backend *ref = NULL, *cpu[TB_ISA_COUNT] = {NULL};
    int n_cpu = 0;
    if (tb_backend_create("cpu-ref", NULL, &ref, &err)) {
        fprintf(stderr, "cpu-ref: %s\n", err.msg);
        return 1;
    }
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = 2;
    /* every ISA variant this host runs, best first */
    for (int isa = (int)tb_isa_detect(); isa >= 0; isa--) {
        cfg.isa_cap = (enum tb_isa)isa;
        CHECKF(tb_backend_create("cpu", &cfg, &cpu[n_cpu], &err) == 0, "cpu backend: %s", err.msg);
        if (!cpu[n_cpu])
            break;
        printf("cpu backend: %s, isa %s, %d threads\n", tb_backend_device_name(cpu[n_cpu]),
               tb_isa_name(tb_backend_isa(cpu[n_cpu])), tb_backend_n_threads(cpu[n_cpu]));
        CHECK(tb_backend_isa(cpu[n_cpu]) == (enum tb_isa)isa);
        n_cpu++;
    }
    static const int types[] = {TB_WTYPES(TB_WTYPE_ID)};
    /* f32 reference logits of the current shape (the list starts with f32) */
    CHECK(types[0] == TB_TYPE_F32);
    float *f32_logits = malloc((size_t)N_POS * MAX_VOCAB * sizeof *f32_logits);
    CHECK(f32_logits != NULL);
    /* the K-quants need rows of whole 256-blocks: tiny-256, every ISA */
    for (int t = 0; f32_logits && t < TB_WTYPE_COUNT; t++)
        if (fits("mcu-260k", types[t]))
            check_model("mcu-260k", types[t], ref, cpu, n_cpu, N_POS, f32_logits);
    for (int t = 0; f32_logits && t < TB_WTYPE_COUNT; t++)
        if (tb_type_traits(types[t])->block_size > 32 || types[t] == TB_TYPE_F32 ||
            types[t] == TB_TYPE_Q8_0)
            check_model("tiny-256", types[t], ref, cpu, n_cpu, N_POS, f32_logits);
    /* stories15m: the best ISA only (lower ones are covered on mcu-260k), and
     * cpu-ref decode on a prefix (it re-reads all weights per token) */
    for (int t = 0; f32_logits && t < TB_WTYPE_COUNT; t++)
        if (fits("stories15m", types[t]))
            check_model("stories15m", types[t], ref, cpu, n_cpu > 0, 16, f32_logits);
    if (n_cpu > 0)
        check_kv_f16(ref, cpu[0]);
    check_cli(ref);
    free(f32_logits);
    for (int c = 0; c < n_cpu; c++)
        tb_backend_free(cpu[c]);
    tb_backend_free(ref);
    return tb_test_result("test_e2e");
}

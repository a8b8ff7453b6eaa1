/* The embed workload on the synthetic mcu-260k model (GQA 8/4 heads):
 * bidirectional pass + final norm + mean pooling. The fast "cpu" backend
 * against "cpu-ref"; non-causal attention visibly differs from causal
 * (row 0 sees later tokens only in embed mode); pooling equals a manual
 * mean of cpu-ref's per-row hidden states; token order matters (RoPE);
 * repeated runs are bit-identical; tb_embed_run matches tb_llama_embed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"
#include "workloads/tb_llama.h"
#include "workloads/tb_workload.h"

enum { N = 32 }; /* tokens per sequence */

static double max_abs_diff(const float *a, const float *b, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        m = d > m || isnan(d) ? d : m;
    }
    return m;
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

/* Row 0 of the final-normed hidden states after an eval of tok in `mode`. */
static int row0(const struct tb_llama_model *m, struct tb_llama_state *s, struct tb_backend *b,
                const int32_t *tok, int mode, float *out, struct tb_err *err)
{
    int rc = tb_llama_eval(m, s, b, tok, N, 0, mode, NULL, err);
    if (!rc)
        memcpy(out, tb_llama_hidden(s, 0), (size_t)m->config.dim * sizeof *out);
    return rc;
}

/* Row 0 must change with the last token under non-causal attention and
 * must not under causal attention (unchanged = within same_tol). */
static void check_causality(const struct tb_llama_model *m, struct tb_llama_state *s,
                            struct tb_backend *b, const int32_t *tok, double same_tol)
{
    const int dim = m->config.dim;
    struct tb_err err = {0};
    int32_t tok2[N];
    memcpy(tok2, tok, sizeof tok2);
    tok2[N - 1] = (tok[N - 1] + 101) % m->config.vocab_size;
    float *a = malloc((size_t)dim * sizeof *a), *c = malloc((size_t)dim * sizeof *c);
    CHECKF(row0(m, s, b, tok, TB_LLAMA_EMBED, a, &err) == 0, "%s", err.msg);
    CHECKF(row0(m, s, b, tok2, TB_LLAMA_EMBED, c, &err) == 0, "%s", err.msg);
    const double d_embed = max_abs_diff(a, c, dim);
    CHECKF(d_embed > 1e-3, "%s: non-causal row 0 ignores the last token (diff %g)",
           tb_backend_name(b), d_embed);
    CHECKF(row0(m, s, b, tok, TB_LLAMA_ALL_LOGITS, a, &err) == 0, "%s", err.msg);
    CHECKF(row0(m, s, b, tok2, TB_LLAMA_ALL_LOGITS, c, &err) == 0, "%s", err.msg);
    const double d_causal = max_abs_diff(a, c, dim);
    CHECKF(d_causal <= same_tol, "%s: causal row 0 depends on the last token (diff %g)",
           tb_backend_name(b), d_causal);
    printf("%-8s row-0 change from the last token: non-causal %.3e, causal %.3e\n",
           tb_backend_name(b), d_embed, d_causal);
    free(a);
    free(c);
}

/* Graph shape: non-causal attention in every layer, ends at output_norm. */
static void check_graph(const struct tb_llama_model *m, struct tb_llama_state *s)
{
    struct tb_err err = {0};
    const struct tb_graph *g = &s->graph;
    for (int mode = TB_LLAMA_LAST_LOGITS; mode <= TB_LLAMA_EMBED; mode++) {
        CHECKF(tb_llama_build_graph(m, s, N, 0, mode, &err) == 0, "%s", err.msg);
        int n_attn = 0, n_nc = 0;
        for (int i = 0; i < g->n_ops; i++)
            if (g->ops[i].kind == TB_OP_ATTENTION) {
                n_attn++;
                n_nc += g->ops[i].p.non_causal;
            }
        CHECK(n_attn == m->config.n_layers);
        CHECKF(n_nc == (mode == TB_LLAMA_EMBED ? n_attn : 0), "mode %d: %d non-causal", mode, n_nc);
        const char *last = g->ops[g->n_ops - 1].name;
        CHECKF(strcmp(last, mode == TB_LLAMA_EMBED ? "output_norm" : "output") == 0,
               "mode %d ends with %s", mode, last);
    }
    CHECK(tb_llama_build_graph(m, s, N, 0, 3, &err) == TB_EINVAL);
    CHECK(tb_llama_build_graph(m, s, N, 0, -1, &err) == TB_EINVAL);
}

static void check_model(int type, struct tb_backend *ref, struct tb_backend *cpu)
{
    char path[512];
    tb_test_path(path, sizeof path, "embed", ".gguf");
    struct tb_err err = {0};
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    CHECKF(tb_synth_write("mcu-260k", type, 77, path, &err) == 0, "%s", err.msg);
    CHECKF(tb_llama_load(path, &m, &err) == 0, "%s", err.msg);
    remove(path);
    if (!m || tb_llama_state_build(m, N, N, &s, &err)) {
        CHECKF(0, "%s setup: %s", tb_type_name(type), err.msg);
        tb_llama_free(m);
        return;
    }
    const int dim = m->config.dim;
    int32_t tok[N], rev[N];
    tb_workload_prompt(5, m->config.vocab_size, tok, N);
    for (int i = 0; i < N; i++)
        rev[i] = tok[N - 1 - i];
    float *e_ref = calloc((size_t)dim, sizeof(float)), *e_cpu = calloc((size_t)dim, sizeof(float));
    float *e2 = calloc((size_t)dim, sizeof(float)), *e_rev = calloc((size_t)dim, sizeof(float));

    /* pooling: cpu-ref's embedding is the mean of its hidden rows */
    CHECKF(tb_llama_embed(m, s, ref, tok, N, e_ref, NULL, &err) == 0, "%s", err.msg);
    double max_pool = 0.0, max_e = 0.0;
    for (int j = 0; j < dim; j++) {
        double sum = 0.0;
        for (int i = 0; i < N; i++)
            sum += tb_llama_hidden(s, i)[j];
        max_pool = fmax(max_pool, fabs(sum / N - e_ref[j]));
        max_e = fmax(max_e, fabs(e_ref[j]));
    }
    CHECKF(max_pool <= 1e-6 * fmax(1.0, max_e), "mean pooling off by %g", max_pool);
    /* rows differ from each other, so pooling is not just row 0 */
    CHECK(max_abs_diff(tb_llama_hidden(s, 0), tb_llama_hidden(s, N - 1), dim) > 1e-3);
    CHECK(max_abs_diff(tb_llama_hidden(s, 0), e_ref, dim) > 1e-3);

    /* cpu against cpu-ref */
    CHECKF(tb_llama_embed(m, s, cpu, tok, N, e_cpu, NULL, &err) == 0, "%s", err.msg);
    const double d = max_abs_diff(e_ref, e_cpu, dim), cs = cosine(e_ref, e_cpu, dim);
    const double tol = type == TB_TYPE_F32 ? 1e-5 : 2e-2; /* q8_0: activations quantized */
    CHECKF(d <= tol * fmax(1.0, max_e) && cs >= 0.9999, "%s cpu vs cpu-ref: max diff %g, cos %.8f",
           tb_type_name(type), d, cs);
    printf("%-5s cpu vs cpu-ref: max|diff| %.3e (max|e| %.3f), cosine %.9f\n", tb_type_name(type),
           d, max_e, cs);

    /* determinism: same result after another sequence ran in between */
    CHECKF(tb_llama_embed(m, s, cpu, rev, N, e_rev, NULL, &err) == 0, "%s", err.msg);
    CHECKF(tb_llama_embed(m, s, cpu, tok, N, e2, NULL, &err) == 0, "%s", err.msg);
    CHECK(memcmp(e2, e_cpu, (size_t)dim * sizeof *e2) == 0);
    /* order matters (RoPE positions), on both backends */
    CHECKF(max_abs_diff(e_rev, e_cpu, dim) > 1e-3, "reversed tokens, same embedding (%g)",
           max_abs_diff(e_rev, e_cpu, dim));
    CHECKF(tb_llama_embed(m, s, ref, rev, N, e2, NULL, &err) == 0, "%s", err.msg);
    CHECK(max_abs_diff(e2, e_ref, dim) > 1e-3);

    check_causality(m, s, ref, tok, 0.0);
    check_causality(m, s, cpu, tok, 1e-6);
    check_graph(m, s);

    /* the workload entry: same numbers as tb_llama_embed, timed, op times kept */
    uint64_t *op_ns = calloc((size_t)s->graph.cap, sizeof *op_ns);
    uint64_t *op_sum = calloc((size_t)s->graph.cap, sizeof *op_sum);
    struct tb_llm_session ss = {.m = m,
                                .s = s,
                                .b = cpu,
                                .prompt = tok,
                                .n_prompt = N,
                                .op_ns = op_ns,
                                .op_ns_sum = op_sum};
    double sec = -1.0;
    CHECKF(tb_embed_run(&ss, e2, &sec, &err) == 0, "%s", err.msg);
    CHECK(memcmp(e2, e_cpu, (size_t)dim * sizeof *e2) == 0);
    CHECK(sec > 0.0 && ss.n_evals == 1);
    CHECK(s->graph.n_ops == 18 * m->config.n_layers + 2);

    /* errors: too many tokens, a token outside the vocabulary */
    int32_t bad[N + 1];
    memcpy(bad, tok, sizeof tok);
    bad[N] = 3;
    CHECK(tb_llama_embed(m, s, cpu, bad, N + 1, e2, NULL, &err) == TB_EINVAL);
    bad[0] = m->config.vocab_size;
    CHECK(tb_llama_embed(m, s, cpu, bad, N, e2, NULL, &err) == TB_EINVAL);

    free(op_ns);
    free(op_sum);
    free(e_ref);
    free(e_cpu);
    free(e2);
    free(e_rev);
    tb_llama_state_free(s);
    tb_llama_free(m);
}

int main(void)
{
    struct tb_err err = {0};
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    struct tb_backend *ref = NULL, *cpu = NULL;
    CHECKF(tb_backend_create("cpu-ref", &cfg, &ref, &err) == 0, "%s", err.msg);
    CHECKF(tb_backend_create("cpu", &cfg, &cpu, &err) == 0, "%s", err.msg);
    if (ref && cpu) {
        check_model(TB_TYPE_F32, ref, cpu);
        check_model(TB_TYPE_Q8_0, ref, cpu);
    }
    tb_backend_free(cpu);
    tb_backend_free(ref);
    return tb_test_result("test_embed");
}

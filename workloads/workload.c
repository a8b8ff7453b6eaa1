#include "workloads/tb_workload.h"

#include "kernels/platform/tb_platform.h"
#include "kernels/tb_backend.h"

void tb_workload_prompt(uint64_t seed, int32_t vocab, int32_t *out, int32_t n)
{
    uint64_t x = seed ^ 0x70726f6d7074ull; /* "prompt" */
    for (int32_t i = 0; i < n; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        out[i] = vocab > 3 ? 3 + (int32_t)(z % (uint64_t)(vocab - 3)) : 0;
    }
}

int32_t tb_argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

/* Folds the per-op times of the eval that just ran into the session's sums. */
static void fold_op_ns(struct tb_llm_session *ss)
{
    if (ss->op_ns && ss->op_ns_sum) {
        for (int i = 0; i < ss->s->graph.n_ops; i++)
            ss->op_ns_sum[i] += ss->op_ns[i];
        ss->n_evals++;
    }
}

static int eval(struct tb_llm_session *ss, const int32_t *tokens, int32_t n, int32_t pos0,
                struct tb_err *err)
{
    int rc = ss->run ? tb_llama_eval_with(ss->m, ss->s, ss->run, ss->run_ctx, tokens, n, pos0,
                                          TB_LLAMA_LAST_LOGITS, ss->op_ns, err)
                     : tb_llama_eval(ss->m, ss->s, ss->b, tokens, n, pos0, TB_LLAMA_LAST_LOGITS,
                                     ss->op_ns, err);
    if (rc == TB_OK)
        fold_op_ns(ss);
    return rc;
}

int tb_llm_prefill(struct tb_llm_session *ss, double *seconds, int32_t *first_token,
                   struct tb_err *err)
{
    const uint64_t t0 = tb_now_ns();
    int rc = eval(ss, ss->prompt, ss->n_prompt, 0, err);
    if (rc)
        return rc;
    *first_token = tb_argmax(tb_llama_logits(ss->s, 0), ss->m->config.vocab_size);
    *seconds = (double)(tb_now_ns() - t0) * 1e-9;
    return TB_OK;
}

int tb_llm_decode_step(struct tb_llm_session *ss, int32_t pos, int32_t token, int32_t *next,
                       double *seconds, struct tb_err *err)
{
    const uint64_t t0 = tb_now_ns();
    int rc = eval(ss, &token, 1, pos, err);
    if (rc)
        return rc;
    *next = tb_argmax(tb_llama_logits(ss->s, 0), ss->m->config.vocab_size);
    *seconds = (double)(tb_now_ns() - t0) * 1e-9;
    return TB_OK;
}

int tb_llm_generate(struct tb_llm_session *ss, struct tb_gen_timing *t, int32_t *tokens_out,
                    struct tb_err *err)
{
    t->decode_s = 0;
    t->n_decoded = 0;
    int32_t tok;
    int rc = tb_llm_prefill(ss, &t->ttft_s, &tok, err);
    if (rc)
        return rc;
    if (tokens_out && ss->n_predict > 0)
        tokens_out[0] = tok;
    for (int32_t i = 1; i < ss->n_predict; i++) {
        double dt;
        rc = tb_llm_decode_step(ss, ss->n_prompt + i - 1, tok, &tok, &dt, err);
        if (rc)
            return rc;
        t->decode_s += dt;
        t->n_decoded++;
        if (tokens_out)
            tokens_out[i] = tok;
    }
    t->total_s = t->ttft_s + t->decode_s;
    return TB_OK;
}

int tb_embed_run(struct tb_llm_session *ss, float *out, double *seconds, struct tb_err *err)
{
    const uint64_t t0 = tb_now_ns();
    int rc = ss->run ? tb_llama_embed_with(ss->m, ss->s, ss->run, ss->run_ctx, ss->prompt,
                                           ss->n_prompt, out, ss->op_ns, err)
                     : tb_llama_embed(ss->m, ss->s, ss->b, ss->prompt, ss->n_prompt, out, ss->op_ns,
                                      err);
    if (rc)
        return rc;
    *seconds = (double)(tb_now_ns() - t0) * 1e-9;
    fold_op_ns(ss);
    return TB_OK;
}

/* LLM workloads: what one measured sample is. The harness (harness/run.c)
 * drives these through its measurement loop; they only run the engine and
 * time it.
 *   llm-prefill   one sample = prompt of P tokens from position 0 until the
 *                 first generated token is known (TTFT).
 *   llm-decode    the prompt is evaluated once; one sample = one decode step
 *                 at context position P (the same position each time, so the
 *                 context length the figure describes stays fixed): ITL.
 *   llm-generate  one sample = prompt P + N new tokens end to end (TTFT,
 *                 mean time per output token, total).
 *   embed         one sample = the prompt as one sequence: bidirectional pass
 *                 from position 0, final norm, mean pooling (sequences/s =
 *                 1 / median seconds).
 * Prompts are deterministic pseudo-random token ids (ids < 3 are the
 * special tokens and are avoided). */
#ifndef TB_WORKLOAD_H
#define TB_WORKLOAD_H

#include <stdint.h>

#include "workloads/tb_llama.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tb_llm_session {
    const struct tb_llama_model *m;
    struct tb_llama_state *s;  /* max_batch >= n_prompt, n_ctx >= n_prompt + n_predict */
    struct tb_backend *b;      /* runs the graph, unless run is set */
    tb_llama_graph_runner run; /* optional: e.g. the placement scheduler */
    void *run_ctx;
    const int32_t *prompt; /* [n_prompt] */
    int32_t n_prompt, n_predict;
    uint64_t *op_ns;     /* optional scratch [s->graph.cap] for per-op times */
    uint64_t *op_ns_sum; /* optional per-op-index accumulation over samples */
    uint64_t n_evals;    /* evals accumulated into op_ns_sum */
};

/* Fills out[n] with ids in [3, vocab) from seed (splitmix64). */
void tb_workload_prompt(uint64_t seed, int32_t vocab, int32_t *out, int32_t n);
int32_t tb_argmax(const float *x, int64_t n);

/* Prompt from position 0; *first_token = argmax of the last row. */
int tb_llm_prefill(struct tb_llm_session *ss, double *seconds, int32_t *first_token,
                   struct tb_err *err);
/* One token at position pos; *next = argmax. */
int tb_llm_decode_step(struct tb_llm_session *ss, int32_t pos, int32_t token, int32_t *next,
                       double *seconds, struct tb_err *err);

struct tb_gen_timing {
    double ttft_s;   /* prefill + first token */
    double decode_s; /* n_predict - 1 decode steps */
    double total_s;
    int32_t n_decoded; /* decode steps timed */
};
/* Prompt + n_predict tokens (greedy). tokens_out (optional) [n_predict]. */
int tb_llm_generate(struct tb_llm_session *ss, struct tb_gen_timing *t, int32_t *tokens_out,
                    struct tb_err *err);

/* Embedding of the prompt (n_prompt tokens, tb_llama_embed) into out [dim]. */
int tb_embed_run(struct tb_llm_session *ss, float *out, double *seconds, struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

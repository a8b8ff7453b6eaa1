/* Llama-architecture model: config, weights and run state as separate
 * structs (shapes in comments), build/free pairs, and a forward pass
 * expressed as a tb_graph executed by any backend. */
#ifndef TB_LLAMA_H
#define TB_LLAMA_H

#include <stdint.h>

#include "kernels/tb_backend.h"
#include "kernels/tb_graph.h"
#include "workloads/tb_gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tb_llama_config {
    int32_t dim; /* embedding size */
    int32_t n_layers;
    int32_t n_heads;    /* query heads */
    int32_t n_kv_heads; /* key/value heads (GQA when < n_heads) */
    int32_t head_dim;   /* dim / n_heads */
    int32_t ffn_dim;    /* feed-forward hidden size */
    int32_t vocab_size;
    int32_t ctx_len; /* training context length */
    float rope_theta;
    float rms_eps;
};

struct tb_llama_layer {
    struct tb_tensor attn_norm; /* f32 [dim] */
    struct tb_tensor wq;        /* [dim x dim]              (ne0 = dim in) */
    struct tb_tensor wk;        /* [dim x kv_dim] */
    struct tb_tensor wv;        /* [dim x kv_dim] */
    struct tb_tensor wo;        /* [dim x dim] */
    struct tb_tensor ffn_norm;  /* f32 [dim] */
    struct tb_tensor w_gate;    /* [dim x ffn_dim]  ffn_gate */
    struct tb_tensor w_up;      /* [dim x ffn_dim]  ffn_up */
    struct tb_tensor w_down;    /* [ffn_dim x dim]  ffn_down */
};

struct tb_llama_weights {
    struct tb_tensor token_embd;   /* [dim x vocab] */
    struct tb_llama_layer *layers; /* [n_layers], owned */
    struct tb_tensor output_norm;  /* f32 [dim] */
    struct tb_tensor output;       /* [dim x vocab]; token_embd when tied */
    int tied_output;
    int weight_type;       /* dominant 2-D weight type (enum tb_type) */
    uint64_t weight_bytes; /* bytes of all tensors (mapped, not copied) */
};

struct tb_llama_model {
    struct tb_llama_config config;
    struct tb_llama_weights weights;
    struct tb_gguf *gguf; /* owns the mapping the weights point into */
};

/* Loads and validates (metadata consistent with tensors, shapes, types). */
int tb_llama_load(const char *path, struct tb_llama_model **out, struct tb_err *err);
void tb_llama_free(struct tb_llama_model *m);

/* Activation arena and KV cache for up to max_batch tokens per eval and
 * n_ctx positions. One allocation at build time; eval allocates nothing. */
struct tb_llama_state {
    int32_t max_batch, n_ctx;
    struct tb_tensor tokens;   /* i32 [max_batch] */
    struct tb_tensor x;        /* f32 [dim x B] residual stream */
    struct tb_tensor xb;       /* f32 [dim x B] normed input */
    struct tb_tensor q;        /* f32 [dim x B] */
    struct tb_tensor k, v;     /* f32 [kv_dim x B] */
    struct tb_tensor att;      /* f32 [dim x B] attention output */
    struct tb_tensor xo;       /* f32 [dim x B] projection output */
    struct tb_tensor hg, hu;   /* f32 [ffn_dim x B] gate / up */
    struct tb_tensor logits;   /* f32 [vocab x B] */
    struct tb_tensor *k_cache; /* [n_layers] f32 or f16 [kv_dim x n_ctx] */
    struct tb_tensor *v_cache; /* [n_layers] */
    void *arena;               /* owned: backs everything above */
    size_t arena_bytes;        /* activations */
    size_t kv_bytes;           /* KV cache */
    struct tb_graph graph;     /* rebuilt per eval in place (no allocation) */
};

/* Bytes tb_llama_state_build would allocate (activations, KV cache), for
 * memory-budget checks before allocating anything. */
int tb_llama_state_bytes(const struct tb_llama_config *c, int32_t max_batch, int32_t n_ctx,
                         uint64_t *act_bytes, uint64_t *kv_bytes, struct tb_err *err);
int tb_llama_state_build(const struct tb_llama_model *m, int32_t max_batch, int32_t n_ctx,
                         struct tb_llama_state **out, struct tb_err *err);
/* The same with the KV cache in kv_type (f32, the default above, or f16 as
 * llama.cpp keeps it by default: half the bytes attention reads). */
int tb_llama_state_bytes_kv(const struct tb_llama_config *c, int32_t max_batch, int32_t n_ctx,
                            enum tb_type kv_type, uint64_t *act_bytes, uint64_t *kv_bytes,
                            struct tb_err *err);
int tb_llama_state_build_kv(const struct tb_llama_model *m, int32_t max_batch, int32_t n_ctx,
                            enum tb_type kv_type, struct tb_llama_state **out, struct tb_err *err);
void tb_llama_state_free(struct tb_llama_state *s);

/* Memory need: the resident bytes one configuration takes, as
 * tb_llama_state_build_kv allocates them plus the mapped weights. The ONE
 * figure that profile validation, the run's budget check and its records
 * use, so a profile that validates also fits when it runs. */
struct tb_memory_need {
    uint64_t weights;     /* weight_bytes as given (mapped, not copied) */
    uint64_t activations; /* arena for max_batch tokens per eval */
    uint64_t kv;          /* K and V caches for n_ctx positions in kv_type */
    uint64_t total;
};
/* kv_type: TB_TYPE_F32 or TB_TYPE_F16; 1 <= max_batch <= n_ctx <= ctx_len. */
int tb_llama_memory_need(const struct tb_llama_config *c, uint64_t weight_bytes,
                         enum tb_type kv_type, int32_t max_batch, int32_t n_ctx,
                         struct tb_memory_need *out, struct tb_err *err);
/* "TOTAL (weights W + activations A + KV cache K)" with tb_format_bytes;
 * returns what snprintf does. */
int tb_memory_need_format(const struct tb_memory_need *need, char *buf, size_t n);

/* What a graph ends with (values 0 and 1 are the old all_logits flag). */
enum tb_llama_graph_mode {
    TB_LLAMA_LAST_LOGITS = 0, /* logits of the last row only (generation) */
    TB_LLAMA_ALL_LOGITS = 1,  /* logits of every row (teacher forcing) */
    TB_LLAMA_EMBED = 2        /* non-causal attention, no output projection:
                                 normed hidden rows at tb_llama_hidden(s, i) */
};

/* Builds the graph for n tokens at positions pos0..pos0+n-1 into s->graph;
 * mode is an enum tb_llama_graph_mode. */
int tb_llama_build_graph(const struct tb_llama_model *m, struct tb_llama_state *s, int32_t n,
                         int32_t pos0, int mode, struct tb_err *err);

/* Copies tokens in, builds the graph (mode: enum tb_llama_graph_mode), runs
 * it on backend b. Logits of row i are at tb_llama_logits(s, i) (only the
 * last row, at row 0, for TB_LLAMA_LAST_LOGITS; none for TB_LLAMA_EMBED).
 * op_ns (optional, >= s->graph.n_ops entries) receives per-op times. */
int tb_llama_eval(const struct tb_llama_model *m, struct tb_llama_state *s, struct tb_backend *b,
                  const int32_t *tokens, int32_t n, int32_t pos0, int mode, uint64_t *op_ns,
                  struct tb_err *err);
static inline float *tb_llama_logits(const struct tb_llama_state *s, int32_t row)
{
    return (float *)tb_tensor_row(&s->logits, row);
}
/* Final-normed hidden state of row i after a TB_LLAMA_EMBED eval [dim]. */
static inline float *tb_llama_hidden(const struct tb_llama_state *s, int32_t row)
{
    return (float *)tb_tensor_row(&s->xb, row);
}

/* Sentence embedding of tokens[0..n-1] (n <= s->max_batch): one
 * TB_LLAMA_EMBED graph from position 0 (bidirectional attention, final
 * norm on every row), then mean pooling of the n rows into out [dim] on
 * the host (double sums), after the graph. op_ns as for tb_llama_eval. */
int tb_llama_embed(const struct tb_llama_model *m, struct tb_llama_state *s, struct tb_backend *b,
                   const int32_t *tokens, int32_t n, float *out, uint64_t *op_ns,
                   struct tb_err *err);

/* Executes a built graph (one backend, or the placement scheduler's
 * tb_sched_graph_runner). op_ns as for tb_llama_eval. */
typedef int (*tb_llama_graph_runner)(void *ctx, const struct tb_graph *g, uint64_t *op_ns,
                                     struct tb_err *err);
/* tb_llama_eval with the execution handed to run(ctx, ...): same input
 * checks and graph; tb_llama_eval is this with a single backend. */
int tb_llama_eval_with(const struct tb_llama_model *m, struct tb_llama_state *s,
                       tb_llama_graph_runner run, void *ctx, const int32_t *tokens, int32_t n,
                       int32_t pos0, int mode, uint64_t *op_ns, struct tb_err *err);
/* tb_llama_embed through a graph runner (e.g. the placement scheduler). */
int tb_llama_embed_with(const struct tb_llama_model *m, struct tb_llama_state *s,
                        tb_llama_graph_runner run, void *ctx, const int32_t *tokens, int32_t n,
                        float *out, uint64_t *op_ns, struct tb_err *err);

/* ---- Synthetic models (workloads/synth.c) ---- */
struct tb_synth_shape {
    const char *name;
    struct tb_llama_config config;
};
/* NULL-terminated list of built-in shapes (mcu-260k, stories15m, ...). */
const struct tb_synth_shape *tb_synth_shapes(void);
const struct tb_synth_shape *tb_synth_find(const char *name);
/* TB_OK if the shape and weight type are known and every weight row of the
 * shape is whole blocks of the type (K-quants: 256); else TB_EINVAL with
 * a one-line message naming the first tensor whose rows are not. */
int tb_synth_check(const char *shape, int weight_type, struct tb_err *err);
/* Writes a deterministic model (byte-identical for equal arguments);
 * tb_synth_check first. */
int tb_synth_write(const char *shape, int weight_type, uint64_t seed, const char *path,
                   struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

/* The forward pass as an explicit op graph. An op names its kind, inputs,
 * output and params, and carries its FLOP count and bytes moved, so every
 * backend, scheduler and report sees the same accounting.
 *
 * Op semantics (activations are contiguous f32, one row per token, n = rows):
 *   GET_ROWS   src0 table [K x V] (any compute type), src1 I32 ids [n]
 *              -> dst f32 [K x n]: row ids[i] of the table, dequantized.
 *   RMS_NORM   src0 x [K x n], src1 weight f32 [K]
 *              -> dst[i] = x[i] / sqrt(mean(x[i]^2) + eps) * w.
 *   MATMUL     src0 W [K x N] (a compute type, tb_wtypes.h; K = row length), src1 X [K x n]
 *              -> dst [N x n], dst[i][j] = dot(W row j, X row i).
 *   ROPE       src0 x [head_dim*n_head x n] -> dst same shape (may alias src0);
 *              llama "normal" mode: pairs (2k, 2k+1) of each head rotated by
 *              angle (pos0+i) * theta^(-2k/head_dim).
 *   KV_STORE   src0 x [kv_dim x n] -> dst cache [kv_dim x n_ctx] (f32 or f16),
 *              rows pos0 .. pos0+n-1 overwritten (converted to dst type).
 *   ATTENTION  src0 q [head_dim*n_head x n], src1 K cache, src2 V cache
 *              [head_dim*n_head_kv x n_ctx] -> dst [head_dim*n_head x n].
 *              Query row i (position pos0+i) attends causally to cache rows
 *              0..pos0+i: softmax(scale * q.k) weighted sum of v. Grouped
 *              query heads: head h reads kv head h / (n_head / n_head_kv).
 *              With p.non_causal = 1 every row attends to cache rows
 *              0..pos0+n-1 instead (bidirectional encoder, embeddings).
 *   SILU       src0 x -> dst = x * sigmoid(x)
 *   MUL, ADD   src0, src1 same shape -> elementwise product / sum.
 */
#ifndef TB_GRAPH_H
#define TB_GRAPH_H

#include <stdint.h>

#include "tb_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tb_op_kind {
    TB_OP_GET_ROWS,
    TB_OP_RMS_NORM,
    TB_OP_MATMUL,
    TB_OP_ROPE,
    TB_OP_KV_STORE,
    TB_OP_ATTENTION,
    TB_OP_SILU,
    TB_OP_MUL,
    TB_OP_ADD,
    TB_OP_COUNT
};

struct tb_op_params {
    float eps;          /* RMS_NORM */
    float rope_theta;   /* ROPE */
    float scale;        /* ATTENTION: usually 1/sqrt(head_dim) */
    int32_t pos0;       /* ROPE, KV_STORE, ATTENTION: position of row 0 */
    int32_t n_head;     /* ROPE, ATTENTION */
    int32_t n_head_kv;  /* ATTENTION */
    int32_t head_dim;   /* ROPE, ATTENTION */
    int32_t non_causal; /* ATTENTION: 1 = every query row attends to all cache rows 0..pos0+n-1
                           (bidirectional, embeddings); 0 = causal */
};

#define TB_OP_MAX_SRC 3

struct tb_op {
    enum tb_op_kind kind;
    const struct tb_tensor *src[TB_OP_MAX_SRC]; /* unused slots NULL */
    struct tb_tensor *dst;
    struct tb_op_params p;
    int32_t layer; /* transformer block index, -1 outside blocks */
    double flops;  /* floating-point (or int) operations, multiply-add = 2 */
    double bytes;  /* bytes read + written (weights included) */
    char name[48]; /* e.g. "blk.3.attn_q" */
};

struct tb_graph {
    struct tb_op *ops; /* owned */
    int n_ops;
    int cap;
};

int tb_graph_init(struct tb_graph *g, int cap);
void tb_graph_free(struct tb_graph *g);
void tb_graph_reset(struct tb_graph *g); /* n_ops = 0, keeps storage */
/* Appends an op (params p may be NULL = all zero) and fills its flops/bytes
 * from kind, shapes, types and params. Returns the op (owned by g) or NULL
 * when the graph is full. */
struct tb_op *tb_graph_add(struct tb_graph *g, enum tb_op_kind kind, const char *name,
                           int32_t layer, const struct tb_op_params *p, struct tb_tensor *dst,
                           const struct tb_tensor *src0, const struct tb_tensor *src1,
                           const struct tb_tensor *src2);
/* Recomputes op->flops and op->bytes (call after changing params such as pos0). */
void tb_op_account(struct tb_op *op);

const char *tb_op_kind_name(enum tb_op_kind k); /* "matmul", "rms_norm", ... */

#ifdef __cplusplus
}
#endif
#endif

#include "tb_graph.h"
#include "tb_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_op_names[TB_OP_COUNT] = {
    [TB_OP_GET_ROWS] = "get_rows", [TB_OP_RMS_NORM] = "rms_norm", [TB_OP_MATMUL] = "matmul",
    [TB_OP_ROPE] = "rope",         [TB_OP_KV_STORE] = "kv_store", [TB_OP_ATTENTION] = "attention",
    [TB_OP_SILU] = "silu",         [TB_OP_MUL] = "mul",           [TB_OP_ADD] = "add",
};

const char *tb_op_kind_name(enum tb_op_kind k)
{
    return (k >= 0 && k < TB_OP_COUNT) ? k_op_names[k] : "unknown";
}

int tb_graph_init(struct tb_graph *g, int cap)
{
    memset(g, 0, sizeof *g);
    g->ops = calloc((size_t)cap, sizeof *g->ops);
    if (!g->ops)
        return TB_ENOMEM;
    g->cap = cap;
    return TB_OK;
}

void tb_graph_free(struct tb_graph *g)
{
    free(g->ops);
    memset(g, 0, sizeof *g);
}

void tb_graph_reset(struct tb_graph *g)
{
    g->n_ops = 0;
}

void tb_op_account(struct tb_op *op)
{
    const struct tb_tensor *a = op->src[0], *b = op->src[1];
    const double n_dst = (double)tb_tensor_nelements(op->dst);
    const double rows = (double)tb_tensor_nrows(op->dst);
    double flops = 0, bytes = (double)tb_tensor_nbytes(op->dst);
    switch (op->kind) {
    case TB_OP_GET_ROWS: bytes += rows * (double)a->nb[1] + (double)tb_tensor_nbytes(b); break;
    case TB_OP_RMS_NORM:
        flops = 4.0 * n_dst; /* square+add, scale, weight */
        bytes += (double)tb_tensor_nbytes(a) + (double)tb_tensor_nbytes(b);
        break;
    case TB_OP_MATMUL: /* 2*K*N*n; weights read once per op */
        flops = 2.0 * (double)a->ne[0] * (double)a->ne[1] * (double)b->ne[1];
        bytes += (double)tb_tensor_nbytes(a) + (double)tb_tensor_nbytes(b);
        break;
    case TB_OP_ROPE:
        flops = 3.0 * n_dst; /* 4 mul + 2 add per pair */
        bytes += (double)tb_tensor_nbytes(a);
        break;
    case TB_OP_KV_STORE: /* dst is the whole cache; count only rows written */
        bytes = 2.0 * (double)tb_tensor_nbytes(a);
        break;
    case TB_OP_ATTENTION: {
        /* per query row i: (pos0+i+1) keys (causal) or pos0+n keys (non-causal),
         * QK and PV each 2*head_dim per head */
        const double n = (double)a->ne[1], hd = op->p.head_dim, nh = op->p.n_head;
        const double kv_rows =
            op->p.non_causal ? n * (op->p.pos0 + n) : n * op->p.pos0 + n * (n + 1) / 2.0;
        flops = kv_rows * nh * (4.0 * hd + 5.0);
        const double kv_row_bytes = (double)op->src[1]->nb[1];
        bytes += (double)tb_tensor_nbytes(a) + 2.0 * (double)(op->p.pos0 + n) * kv_row_bytes;
        break;
    }
    case TB_OP_SILU:
        flops = 4.0 * n_dst;
        bytes += (double)tb_tensor_nbytes(a);
        break;
    case TB_OP_MUL:
    case TB_OP_ADD:
        flops = n_dst;
        bytes += (double)tb_tensor_nbytes(a) + (double)tb_tensor_nbytes(b);
        break;
    case TB_OP_COUNT: break;
    }
    op->flops = flops;
    op->bytes = bytes;
}

struct tb_op *tb_graph_add(struct tb_graph *g, enum tb_op_kind kind, const char *name,
                           int32_t layer, const struct tb_op_params *p, struct tb_tensor *dst,
                           const struct tb_tensor *src0, const struct tb_tensor *src1,
                           const struct tb_tensor *src2)
{
    if (g->n_ops >= g->cap)
        return NULL;
    struct tb_op *op = &g->ops[g->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->dst = dst;
    op->src[0] = src0;
    op->src[1] = src1;
    op->src[2] = src2;
    op->layer = layer;
    if (p)
        op->p = *p;
    snprintf(op->name, sizeof op->name, "%s", name ? name : tb_op_kind_name(kind));
    tb_op_account(op);
    return op;
}

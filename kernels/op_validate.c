/* The one check of an op against the semantics in tb_graph.h, shared by the
 * fast backends (cpu, opencl, cuda): shapes, strides, params and types, with
 * the weight/table types a backend accepts given as a mask. (cpu-ref keeps
 * its own plainly written checks: the ground truth does not share code with
 * what it judges.) */
#include "kernels/tb_backend_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

static int fail(struct tb_err *err, int code, const char *backend, const struct tb_op *op,
                const char *what)
{
    return tb_err_set(err, code, "%s %s '%s': %s", backend, tb_op_kind_name(op->kind), op->name,
                      what);
}

static bool is_f32(const struct tb_tensor *t)
{
    return t->type == TB_TYPE_F32;
}

static bool is_cache(const struct tb_tensor *t)
{
    return t->type == TB_TYPE_F32 || t->type == TB_TYPE_F16;
}

/* A weight type tb_graph.h allows but this backend lacks is TB_EUNSUPPORTED
 * (the scheduler places the op elsewhere); anything else wrong is TB_EINVAL. */
static int weight_type(const char *backend, const struct tb_op *op, enum tb_type t, unsigned mask,
                       struct tb_err *err)
{
    if (!tb_wtype_ok(t)) {
        char what[TB_WTYPE_NAMES_MAX + 32], names[TB_WTYPE_NAMES_MAX];
        snprintf(what, sizeof what, "weight / table must be one of %s",
                 tb_wtype_names(names, sizeof names, ", "));
        return fail(err, TB_EINVAL, backend, op, what);
    }
    if (!(mask & TB_WTYPE_BIT(t))) {
        char what[96];
        snprintf(what, sizeof what, "%s weights are not supported by this backend",
                 tb_type_name(t));
        return fail(err, TB_EUNSUPPORTED, backend, op, what);
    }
    return TB_OK;
}

int tb_op_validate(const char *backend, const struct tb_op *op, unsigned wtype_mask,
                   struct tb_err *err)
{
    const struct tb_tensor *a = op->src[0], *b = op->src[1], *c = op->src[2], *d = op->dst;
    const struct tb_op_params *p = &op->p;
    if (!tb_tensor_rows_ok(a) || !tb_tensor_rows_ok(d))
        return fail(err, TB_EINVAL, backend, op,
                    "src0 or dst missing, empty or not row-contiguous");
    const int64_t n = tb_tensor_nrows(d);
    switch (op->kind) {
    case TB_OP_GET_ROWS:
        if (!tb_tensor_rows_ok(b) || b->type != TB_TYPE_I32 || !is_f32(d))
            return fail(err, TB_EINVAL, backend, op, "needs a table, i32 ids, f32 dst");
        if (d->ne[0] != a->ne[0] || tb_tensor_nelements(b) != n)
            return fail(err, TB_EINVAL, backend, op, "dst must be [table row x number of ids]");
        return weight_type(backend, op, a->type, wtype_mask, err);
    case TB_OP_RMS_NORM:
        if (!tb_tensor_rows_ok(b) || !is_f32(a) || !is_f32(b) || !is_f32(d))
            return fail(err, TB_EINVAL, backend, op, "needs f32 x, weight and dst");
        if (d->ne[0] != a->ne[0] || tb_tensor_nrows(a) != n || tb_tensor_nelements(b) != a->ne[0] ||
            !(p->eps >= 0.0f))
            return fail(err, TB_EINVAL, backend, op, "x, weight, dst shapes differ or eps < 0");
        return TB_OK;
    case TB_OP_MATMUL:
        if (!tb_tensor_rows_ok(b) || !is_f32(b) || !is_f32(d))
            return fail(err, TB_EINVAL, backend, op, "needs a weight, f32 x and dst");
        if (b->ne[0] != a->ne[0] || d->ne[0] != tb_tensor_nrows(a) || tb_tensor_nrows(b) != n)
            return fail(err, TB_EINVAL, backend, op,
                        "shapes must be W [K x N], x [K x n], dst [N x n]");
        return weight_type(backend, op, a->type, wtype_mask, err);
    case TB_OP_ROPE:
        if (!is_f32(a) || !is_f32(d))
            return fail(err, TB_EINVAL, backend, op, "needs f32 x and dst");
        if (p->head_dim < 2 || p->head_dim % 2 || p->n_head < 1 ||
            (int64_t)p->head_dim * p->n_head != a->ne[0] || d->ne[0] != a->ne[0] ||
            tb_tensor_nrows(a) != n || p->pos0 < 0 || !(p->rope_theta > 0.0f))
            return fail(err, TB_EINVAL, backend, op,
                        "x/dst must be [head_dim*n_head x n], even head_dim, pos0 >= 0");
        return TB_OK;
    case TB_OP_KV_STORE:
        if (!is_f32(a) || !is_cache(d))
            return fail(err, TB_EINVAL, backend, op, "needs f32 x and a f32/f16 cache");
        if (d->ne[0] != a->ne[0] || p->pos0 < 0 || p->pos0 + tb_tensor_nrows(a) > n)
            return fail(err, TB_EINVAL, backend, op,
                        "rows pos0..pos0+n-1 must fit the cache, same row length");
        return TB_OK;
    case TB_OP_ATTENTION: {
        if (!tb_tensor_rows_ok(b) || !tb_tensor_rows_ok(c) || !is_f32(a) || !is_cache(b) ||
            !is_cache(c) || !is_f32(d))
            return fail(err, TB_EINVAL, backend, op, "needs f32 q and dst, f32/f16 K and V caches");
        const int64_t n_ctx = tb_tensor_nrows(b);
        if (p->head_dim < 1 || p->n_head < 1 || p->n_head_kv < 1 || p->n_head % p->n_head_kv ||
            (int64_t)p->head_dim * p->n_head != a->ne[0] ||
            (int64_t)p->head_dim * p->n_head_kv != b->ne[0] || c->ne[0] != b->ne[0] ||
            tb_tensor_nrows(c) != n_ctx || d->ne[0] != a->ne[0] || tb_tensor_nrows(a) != n ||
            p->pos0 < 0 || p->pos0 + n > n_ctx || !isfinite(p->scale))
            return fail(err, TB_EINVAL, backend, op,
                        "q/dst [head_dim*n_head x n], caches [head_dim*n_head_kv x n_ctx] with "
                        "pos0+n <= n_ctx, n_head multiple of n_head_kv");
        return TB_OK;
    }
    case TB_OP_SILU:
    case TB_OP_MUL:
    case TB_OP_ADD:
        if (!is_f32(a) || !is_f32(d) ||
            (op->kind != TB_OP_SILU && (!tb_tensor_rows_ok(b) || !is_f32(b))))
            return fail(err, TB_EINVAL, backend, op, "needs f32 inputs and dst");
        if (d->ne[0] != a->ne[0] || tb_tensor_nrows(a) != n ||
            (op->kind != TB_OP_SILU && (b->ne[0] != a->ne[0] || tb_tensor_nrows(b) != n)))
            return fail(err, TB_EINVAL, backend, op, "inputs and dst must have the same shape");
        return TB_OK;
    case TB_OP_COUNT: break;
    }
    return tb_err_set(err, TB_EUNSUPPORTED, "%s: unknown op kind %d ('%s')", backend, (int)op->kind,
                      op->name);
}

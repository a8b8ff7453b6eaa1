/* cpu-ref: the scalar ground-truth backend. Every op is written the plain
 * way (one loop per formula, like llama2.c's run.c) with f32 storage and
 * double accumulation for dot products, RMS sums, softmax sums and
 * attention weighted sums. Weights are dequantized row by row to f32;
 * activations are never quantized. Fast backends are tested against this. */
#include "kernels/tb_backend_impl.h"
#include "kernels/tb_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cpu_ref_ctx {
    /* per-row scratch, grown on demand and reused across ops */
    float *fbuf;     /* a dequantized weight / K / V row */
    size_t fbuf_cap; /* floats */
    double *dbuf;    /* attention scores then weighted sums */
    size_t dbuf_cap; /* doubles */
};

static const char *ref_name(void *ctx)
{
    (void)ctx;
    return "cpu-ref";
}

static const char *ref_device_name(void *ctx)
{
    (void)ctx;
    return "host CPU (scalar reference)";
}

static enum tb_device_kind ref_device_kind(void *ctx)
{
    (void)ctx;
    return TB_DEVICE_CPU;
}

static enum tb_isa ref_isa(void *ctx)
{
    (void)ctx;
    return TB_ISA_SCALAR;
}

static int ref_n_threads(void *ctx)
{
    (void)ctx;
    return 1;
}

static int grow_fbuf(struct cpu_ref_ctx *c, size_t n, struct tb_err *err)
{
    if (n <= c->fbuf_cap)
        return TB_OK;
    float *p = realloc(c->fbuf, n * sizeof *p);
    if (!p)
        return tb_err_set(err, TB_ENOMEM, "cpu-ref: cannot allocate %zu-float scratch row", n);
    c->fbuf = p;
    c->fbuf_cap = n;
    return TB_OK;
}

static int grow_dbuf(struct cpu_ref_ctx *c, size_t n, struct tb_err *err)
{
    if (n <= c->dbuf_cap)
        return TB_OK;
    double *p = realloc(c->dbuf, n * sizeof *p);
    if (!p)
        return tb_err_set(err, TB_ENOMEM, "cpu-ref: cannot allocate %zu-double scratch", n);
    c->dbuf = p;
    c->dbuf_cap = n;
    return TB_OK;
}

/* ---- validation: one function per op, shared by supports_op (err NULL)
 * and compute_op (err filled with a message naming the op). */

/* Rows reachable as data + i*nb[1] for i < nrows (what tb_tensor_row assumes). */
static int check_tensor(const struct tb_op *op, const struct tb_tensor *t, const char *what,
                        struct tb_err *err)
{
    if (!t)
        return tb_err_set(err, TB_EINVAL, "cpu-ref %s '%s': %s missing", tb_op_kind_name(op->kind),
                          op->name, what);
    const struct tb_type_traits *tr = tb_type_traits(t->type);
    if (!tr || !t->data)
        return tb_err_set(err, TB_EINVAL, "cpu-ref %s '%s': %s has unknown type or no data",
                          tb_op_kind_name(op->kind), op->name, what);
    for (int d = 0; d < TB_MAX_DIMS; d++)
        if (t->ne[d] < 1)
            return tb_err_set(err, TB_EINVAL, "cpu-ref %s '%s': %s ne[%d] = %lld < 1",
                              tb_op_kind_name(op->kind), op->name, what, d, (long long)t->ne[d]);
    const size_t row = tb_row_size(t->type, t->ne[0]);
    if (row == 0 || t->nb[0] != tr->type_size || t->nb[1] < row ||
        (t->ne[2] > 1 && t->nb[2] != t->nb[1] * (size_t)t->ne[1]) ||
        (t->ne[3] > 1 && t->nb[3] != t->nb[2] * (size_t)t->ne[2]))
        return tb_err_set(err, TB_EINVAL,
                          "cpu-ref %s '%s': %s (%s, ne0 %lld) is not row-contiguous",
                          tb_op_kind_name(op->kind), op->name, what, tr->name, (long long)t->ne[0]);
    return TB_OK;
}

static int check_type(const struct tb_op *op, const struct tb_tensor *t, const char *what, bool ok,
                      struct tb_err *err)
{
    if (ok)
        return TB_OK;
    return tb_err_set(err, TB_EINVAL, "cpu-ref %s '%s': %s has unsupported type %s",
                      tb_op_kind_name(op->kind), op->name, what, tb_type_name(t->type));
}

#define SHAPE_FAIL(...) tb_err_set(err, TB_EINVAL, __VA_ARGS__)

static int validate(const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *a = op->src[0], *b = op->src[1], *c = op->src[2], *d = op->dst;
    const char *kn = tb_op_kind_name(op->kind);
    const struct tb_op_params *p = &op->p;
    int rc;
    if ((rc = check_tensor(op, a, "src0", err)) || (rc = check_tensor(op, d, "dst", err)))
        return rc;
    const int64_t n = tb_tensor_nrows(d);
    switch (op->kind) {
    case TB_OP_GET_ROWS:
        if ((rc = check_tensor(op, b, "src1 (ids)", err)) ||
            (rc = check_type(op, a, "table", tb_wtype_ok(a->type), err)) ||
            (rc = check_type(op, b, "ids", b->type == TB_TYPE_I32, err)) ||
            (rc = check_type(op, d, "dst", d->type == TB_TYPE_F32, err)))
            return rc;
        if (d->ne[0] != a->ne[0] || tb_tensor_nelements(b) != n)
            return SHAPE_FAIL("cpu-ref %s '%s': table row %lld, dst [%lld x %lld], %lld ids", kn,
                              op->name, (long long)a->ne[0], (long long)d->ne[0], (long long)n,
                              (long long)tb_tensor_nelements(b));
        return TB_OK;
    case TB_OP_RMS_NORM:
        if ((rc = check_tensor(op, b, "src1 (weight)", err)) ||
            (rc = check_type(op, a, "x", a->type == TB_TYPE_F32, err)) ||
            (rc = check_type(op, b, "weight", b->type == TB_TYPE_F32, err)) ||
            (rc = check_type(op, d, "dst", d->type == TB_TYPE_F32, err)))
            return rc;
        if (d->ne[0] != a->ne[0] || tb_tensor_nrows(a) != n || tb_tensor_nelements(b) != a->ne[0] ||
            !(p->eps >= 0.0f))
            return SHAPE_FAIL("cpu-ref %s '%s': x [%lld x %lld], weight %lld, dst [%lld x %lld], "
                              "eps %g",
                              kn, op->name, (long long)a->ne[0], (long long)tb_tensor_nrows(a),
                              (long long)tb_tensor_nelements(b), (long long)d->ne[0], (long long)n,
                              (double)p->eps);
        return TB_OK;
    case TB_OP_MATMUL:
        if ((rc = check_tensor(op, b, "src1 (x)", err)) ||
            (rc = check_type(op, a, "weight", tb_wtype_ok(a->type), err)) ||
            (rc = check_type(op, b, "x", b->type == TB_TYPE_F32, err)) ||
            (rc = check_type(op, d, "dst", d->type == TB_TYPE_F32, err)))
            return rc;
        if (b->ne[0] != a->ne[0] || d->ne[0] != tb_tensor_nrows(a) || tb_tensor_nrows(b) != n)
            return SHAPE_FAIL(
                "cpu-ref %s '%s': W [%lld x %lld], x [%lld x %lld], dst [%lld x %lld]", kn,
                op->name, (long long)a->ne[0], (long long)tb_tensor_nrows(a), (long long)b->ne[0],
                (long long)tb_tensor_nrows(b), (long long)d->ne[0], (long long)n);
        return TB_OK;
    case TB_OP_ROPE:
        if ((rc = check_type(op, a, "x", a->type == TB_TYPE_F32, err)) ||
            (rc = check_type(op, d, "dst", d->type == TB_TYPE_F32, err)))
            return rc;
        if (p->head_dim < 2 || p->head_dim % 2 != 0 || p->n_head < 1 ||
            (int64_t)p->head_dim * p->n_head != a->ne[0] || d->ne[0] != a->ne[0] ||
            tb_tensor_nrows(a) != n || p->pos0 < 0 || !(p->rope_theta > 0.0f))
            return SHAPE_FAIL("cpu-ref %s '%s': x [%lld x %lld], dst [%lld x %lld], head_dim %d, "
                              "n_head %d, pos0 %d, theta %g",
                              kn, op->name, (long long)a->ne[0], (long long)tb_tensor_nrows(a),
                              (long long)d->ne[0], (long long)n, p->head_dim, p->n_head, p->pos0,
                              (double)p->rope_theta);
        return TB_OK;
    case TB_OP_KV_STORE: {
        if ((rc = check_type(op, a, "x", a->type == TB_TYPE_F32, err)) ||
            (rc =
                 check_type(op, d, "cache", d->type == TB_TYPE_F32 || d->type == TB_TYPE_F16, err)))
            return rc;
        const int64_t rows = tb_tensor_nrows(a);
        if (d->ne[0] != a->ne[0] || p->pos0 < 0 || p->pos0 + rows > n)
            return SHAPE_FAIL(
                "cpu-ref %s '%s': x [%lld x %lld] at pos0 %d into cache [%lld x %lld]", kn,
                op->name, (long long)a->ne[0], (long long)rows, p->pos0, (long long)d->ne[0],
                (long long)n);
        return TB_OK;
    }
    case TB_OP_ATTENTION: {
        if ((rc = check_tensor(op, b, "src1 (K cache)", err)) ||
            (rc = check_tensor(op, c, "src2 (V cache)", err)) ||
            (rc = check_type(op, a, "q", a->type == TB_TYPE_F32, err)) ||
            (rc = check_type(op, b, "K cache", b->type == TB_TYPE_F32 || b->type == TB_TYPE_F16,
                             err)) ||
            (rc = check_type(op, c, "V cache", c->type == TB_TYPE_F32 || c->type == TB_TYPE_F16,
                             err)) ||
            (rc = check_type(op, d, "dst", d->type == TB_TYPE_F32, err)))
            return rc;
        const int64_t n_ctx = tb_tensor_nrows(b);
        if (p->head_dim < 1 || p->n_head < 1 || p->n_head_kv < 1 || p->n_head % p->n_head_kv != 0 ||
            (int64_t)p->head_dim * p->n_head != a->ne[0] ||
            (int64_t)p->head_dim * p->n_head_kv != b->ne[0] || c->ne[0] != b->ne[0] ||
            tb_tensor_nrows(c) != n_ctx || d->ne[0] != a->ne[0] || tb_tensor_nrows(a) != n ||
            p->pos0 < 0 || p->pos0 + n > n_ctx || !isfinite(p->scale))
            return SHAPE_FAIL("cpu-ref %s '%s': q [%lld x %lld], K [%lld x %lld], V [%lld x %lld], "
                              "dst [%lld x %lld], head_dim %d, n_head %d, n_head_kv %d, pos0 %d",
                              kn, op->name, (long long)a->ne[0], (long long)tb_tensor_nrows(a),
                              (long long)b->ne[0], (long long)n_ctx, (long long)c->ne[0],
                              (long long)tb_tensor_nrows(c), (long long)d->ne[0], (long long)n,
                              p->head_dim, p->n_head, p->n_head_kv, p->pos0);
        return TB_OK;
    }
    case TB_OP_SILU:
    case TB_OP_MUL:
    case TB_OP_ADD:
        if (op->kind != TB_OP_SILU && (rc = check_tensor(op, b, "src1", err)))
            return rc;
        if ((rc = check_type(op, a, "src0", a->type == TB_TYPE_F32, err)) ||
            (b && op->kind != TB_OP_SILU &&
             (rc = check_type(op, b, "src1", b->type == TB_TYPE_F32, err))) ||
            (rc = check_type(op, d, "dst", d->type == TB_TYPE_F32, err)))
            return rc;
        if (d->ne[0] != a->ne[0] || tb_tensor_nrows(a) != n ||
            (op->kind != TB_OP_SILU && (b->ne[0] != a->ne[0] || tb_tensor_nrows(b) != n)))
            return SHAPE_FAIL("cpu-ref %s '%s': src0 [%lld x %lld], dst [%lld x %lld]%s", kn,
                              op->name, (long long)a->ne[0], (long long)tb_tensor_nrows(a),
                              (long long)d->ne[0], (long long)n,
                              op->kind == TB_OP_SILU ? "" : " (src1 must match)");
        return TB_OK;
    case TB_OP_COUNT: break;
    }
    return tb_err_set(err, TB_EUNSUPPORTED, "cpu-ref: unknown op kind %d ('%s')", (int)op->kind,
                      op->name);
}

static bool ref_supports_op(void *ctx, const struct tb_op *op)
{
    (void)ctx;
    return validate(op, NULL) == TB_OK;
}

/* ---- the ops */

static double dot_f32(const float *x, const float *y, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i] * (double)y[i];
    return s;
}

static int op_get_rows(const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *table = op->src[0], *ids = op->src[1];
    const int64_t n = tb_tensor_nrows(op->dst), n_rows = tb_tensor_nrows(table);
    const int32_t *id = ids->data;
    for (int64_t i = 0; i < n; i++) {
        if (id[i] < 0 || id[i] >= n_rows)
            return tb_err_set(err, TB_EINVAL,
                              "cpu-ref get_rows '%s': id %d at %lld outside [0, %lld)", op->name,
                              id[i], (long long)i, (long long)n_rows);
        tb_dequantize_row(table->type, tb_tensor_row(table, id[i]), tb_tensor_row(op->dst, i),
                          table->ne[0]);
    }
    return TB_OK;
}

static void op_rms_norm(const struct tb_op *op)
{
    const struct tb_tensor *x = op->src[0];
    const float *w = op->src[1]->data;
    const int64_t K = x->ne[0], n = tb_tensor_nrows(op->dst);
    for (int64_t i = 0; i < n; i++) {
        const float *xi = tb_tensor_row(x, i);
        float *yi = tb_tensor_row(op->dst, i);
        const double mean = dot_f32(xi, xi, K) / (double)K;
        const double scale = 1.0 / sqrt(mean + (double)op->p.eps);
        for (int64_t j = 0; j < K; j++)
            yi[j] = (float)((double)xi[j] * scale * (double)w[j]);
    }
}

static int op_matmul(struct cpu_ref_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *W = op->src[0], *X = op->src[1];
    const int64_t K = W->ne[0], N = tb_tensor_nrows(W), n = tb_tensor_nrows(X);
    int rc = grow_fbuf(c, (size_t)K, err);
    if (rc)
        return rc;
    for (int64_t j = 0; j < N; j++) {
        tb_dequantize_row(W->type, tb_tensor_row(W, j), c->fbuf, K);
        for (int64_t i = 0; i < n; i++)
            ((float *)tb_tensor_row(op->dst, i))[j] =
                (float)dot_f32(c->fbuf, tb_tensor_row(X, i), K);
    }
    return TB_OK;
}

static void op_rope(const struct tb_op *op)
{
    const struct tb_tensor *x = op->src[0];
    const int64_t n = tb_tensor_nrows(op->dst);
    const int hd = op->p.head_dim;
    for (int64_t i = 0; i < n; i++) {
        const float *xi = tb_tensor_row(x, i);
        float *yi = tb_tensor_row(op->dst, i); /* may be xi */
        const double pos = (double)op->p.pos0 + (double)i;
        for (int h = 0; h < op->p.n_head; h++) {
            for (int k = 0; k < hd / 2; k++) {
                const double angle =
                    pos * pow((double)op->p.rope_theta, -2.0 * (double)k / (double)hd);
                const double cs = cos(angle), sn = sin(angle);
                const double x0 = xi[h * hd + 2 * k], x1 = xi[h * hd + 2 * k + 1];
                yi[h * hd + 2 * k] = (float)(x0 * cs - x1 * sn);
                yi[h * hd + 2 * k + 1] = (float)(x0 * sn + x1 * cs);
            }
        }
    }
}

static void op_kv_store(const struct tb_op *op)
{
    const struct tb_tensor *x = op->src[0], *cache = op->dst;
    const int64_t n = tb_tensor_nrows(x);
    for (int64_t i = 0; i < n; i++)
        tb_quantize_row(cache->type, tb_tensor_row(x, i), tb_tensor_row(cache, op->p.pos0 + i),
                        x->ne[0]);
}

/* head_dim values of kv head `kvh` in cache row t, as f32 */
static void load_head(const struct tb_tensor *cache, int64_t t, int kvh, int hd, float *out)
{
    const char *row = tb_tensor_row(cache, t);
    const size_t esz = tb_type_traits(cache->type)->type_size;
    tb_dequantize_row(cache->type, row + (size_t)kvh * (size_t)hd * esz, out, hd);
}

static int op_attention(struct cpu_ref_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *q = op->src[0], *kc = op->src[1], *vc = op->src[2];
    const int64_t n = tb_tensor_nrows(op->dst);
    const int hd = op->p.head_dim, group = op->p.n_head / op->p.n_head_kv;
    const int64_t n_kv_max = op->p.pos0 + n;
    int rc;
    if ((rc = grow_fbuf(c, (size_t)hd, err)) ||
        (rc = grow_dbuf(c, (size_t)n_kv_max + (size_t)hd, err)))
        return rc;
    double *score = c->dbuf, *acc = c->dbuf + n_kv_max;
    for (int64_t i = 0; i < n; i++) {
        /* causal: rows 0..pos0+i; non-causal: every row sees 0..pos0+n-1 */
        const int64_t n_kv = op->p.non_causal ? n_kv_max : op->p.pos0 + i + 1;
        const float *qi = tb_tensor_row(q, i);
        float *yi = tb_tensor_row(op->dst, i);
        for (int h = 0; h < op->p.n_head; h++) {
            const int kvh = h / group;
            const float *qh = qi + (size_t)h * (size_t)hd;
            double max = -INFINITY;
            for (int64_t t = 0; t < n_kv; t++) {
                load_head(kc, t, kvh, hd, c->fbuf);
                score[t] = (double)op->p.scale * dot_f32(qh, c->fbuf, hd);
                if (score[t] > max)
                    max = score[t];
            }
            double sum = 0.0;
            for (int64_t t = 0; t < n_kv; t++) {
                score[t] = exp(score[t] - max);
                sum += score[t];
            }
            for (int d = 0; d < hd; d++)
                acc[d] = 0.0;
            for (int64_t t = 0; t < n_kv; t++) {
                load_head(vc, t, kvh, hd, c->fbuf);
                for (int d = 0; d < hd; d++)
                    acc[d] += score[t] * (double)c->fbuf[d];
            }
            for (int d = 0; d < hd; d++)
                yi[(size_t)h * (size_t)hd + d] = (float)(acc[d] / sum);
        }
    }
    return TB_OK;
}

static void op_elementwise(const struct tb_op *op)
{
    const struct tb_tensor *a = op->src[0], *b = op->src[1];
    const int64_t K = a->ne[0], n = tb_tensor_nrows(op->dst);
    for (int64_t i = 0; i < n; i++) {
        const float *x = tb_tensor_row(a, i);
        const float *y = op->kind == TB_OP_SILU ? NULL : tb_tensor_row(b, i);
        float *z = tb_tensor_row(op->dst, i);
        for (int64_t j = 0; j < K; j++) {
            const double v = x[j];
            switch (op->kind) {
            case TB_OP_SILU: z[j] = (float)(v / (1.0 + exp(-v))); break;
            case TB_OP_MUL: z[j] = x[j] * y[j]; break;
            default: z[j] = x[j] + y[j]; break;
            }
        }
    }
}

static int ref_compute_op(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    struct cpu_ref_ctx *c = ctx;
    int rc = validate(op, err);
    if (rc)
        return rc;
    switch (op->kind) {
    case TB_OP_GET_ROWS: return op_get_rows(op, err);
    case TB_OP_RMS_NORM: op_rms_norm(op); return TB_OK;
    case TB_OP_MATMUL: return op_matmul(c, op, err);
    case TB_OP_ROPE: op_rope(op); return TB_OK;
    case TB_OP_KV_STORE: op_kv_store(op); return TB_OK;
    case TB_OP_ATTENTION: return op_attention(c, op, err);
    case TB_OP_SILU:
    case TB_OP_MUL:
    case TB_OP_ADD: op_elementwise(op); return TB_OK;
    case TB_OP_COUNT: break;
    }
    return tb_err_set(err, TB_EUNSUPPORTED, "cpu-ref: unknown op kind %d", (int)op->kind);
}

static void ref_free(void *ctx)
{
    struct cpu_ref_ctx *c = ctx;
    if (!c)
        return;
    free(c->fbuf);
    free(c->dbuf);
    free(c);
}

int tb_backend_cpu_ref_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                              struct tb_err *err)
{
    (void)cfg; /* always scalar, single-threaded */
    *out = NULL;
    struct tb_backend *b = calloc(1, sizeof *b);
    struct cpu_ref_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return tb_err_set(err, TB_ENOMEM, "cpu-ref: cannot allocate backend");
    }
    b->iface = (struct tb_backend_i){
        .name = ref_name,
        .device_kind = ref_device_kind,
        .supports_op = ref_supports_op,
        .compute_op = ref_compute_op,
        .free = ref_free,
        .device_name = ref_device_name,
        .n_threads = ref_n_threads,
        .isa = ref_isa,
    };
    b->context = c;
    *out = b;
    return TB_OK;
}

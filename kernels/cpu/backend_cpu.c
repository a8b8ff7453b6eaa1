/* "cpu": the fast CPU backend. Kernels come from one table chosen at create
 * time (min(tb_isa_detect(), cfg->isa_cap), see cpu_kernels.h); a
 * persistent pool runs a whole op range with one barrier per op (matmul
 * with quantized weights takes one more, after quantizing activations).
 * Every op is validated and every scratch buffer sized on the calling
 * thread before the pool starts, so workers cannot fail and the steady
 * state allocates nothing. */
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/pool.h"
#include "kernels/platform/tb_platform.h"
#include "kernels/tb_backend_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A repacked copy of one constant weight (see cpu_kernels.h). */
struct packed_w {
    const void *src;
    size_t src_bytes;
    enum tb_type type;
    int64_t K;
    uint64_t fp; /* of the source edges: a new mapping at the same address differs */
    void *data;
    size_t bytes;
};

struct cpu_ctx {
    const struct tb_cpu_kernels *k;
    struct tb_cpu_pool *pool;
    int no_repack;
    /* repacked weights, kept for the backend's life */
    struct packed_w *pw;
    int n_pw, cap_pw;
    /* [count] packed copy of each op's weight for the current run (NULL: none) */
    const void **op_w;
    int op_w_cap;
    char device[160];
    /* activations converted for the matmul kernels, grown only */
    void *act;
    size_t act_cap;
    /* per-thread float scratch (attention scores, rope tables), grown only */
    float *tmp;
    size_t tmp_cap;    /* bytes */
    size_t tmp_stride; /* floats per thread for the current run */
    /* the current run, read by all pool threads */
    const struct tb_op *ops;
    int count;
    uint64_t *op_ns;
    /* [count] per op of the run: matmul chunks handed out (see run_matmul),
     * and whether the threads meet after it (see plan_barriers) */
    atomic_llong *chunk;
    unsigned char *sync;
    int run_cap;
};

/* ---- validation ---- */

static int validate(const struct tb_op *op, struct tb_err *err)
{
    return tb_op_validate("cpu", op, TB_WTYPE_ALL, err);
}

/* ---- repacked weights ---- */

static uint64_t edge_fingerprint(const void *p, size_t n)
{
    const unsigned char *b = p;
    const size_t e = n < 64 ? n : 64;
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < e; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    for (size_t i = n - e; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

struct pack_job {
    const struct tb_cpu_mm_packed *pk;
    const struct tb_tensor *w;
    int64_t groups;
    void *dst;
};

static void pack_range(void *arg, int ith, int nth)
{
    const struct pack_job *j = arg;
    const int64_t g0 = j->groups * ith / nth, g1 = j->groups * (ith + 1) / nth;
    j->pk->pack(j->w->data, j->w->nb[1], j->w->ne[0], g0, g1, j->dst);
}

/* The packed copy of weight w, made on first use; NULL when the ISA has no
 * packed layout for the type or shape, when repacking is off, or when
 * memory runs out (the file's layout still works). */
static const void *packed_weight(struct cpu_ctx *c, const struct tb_tensor *w)
{
    const struct tb_cpu_mm_packed *pk = &c->k->packed[tb_cpu_wtype(w->type)];
    if (c->no_repack || !(w->flags & TB_TENSOR_CONST) || !pk->bytes)
        return NULL;
    const int64_t N = tb_tensor_nrows(w), K = w->ne[0];
    const size_t bytes = pk->bytes(N, K), src_bytes = (size_t)N * w->nb[1];
    if (!bytes)
        return NULL;
    const uint64_t fp = edge_fingerprint(w->data, src_bytes);
    int slot = -1;
    for (int i = 0; i < c->n_pw; i++) {
        struct packed_w *e = &c->pw[i];
        if (e->src != w->data)
            continue;
        if (e->src_bytes == src_bytes && e->type == w->type && e->K == K && e->fp == fp)
            return e->data;
        slot = i; /* same address, other data: a new mapping there */
    }
    if (slot < 0 && c->n_pw == c->cap_pw) {
        const int cap = c->cap_pw ? 2 * c->cap_pw : 64;
        struct packed_w *pw = realloc(c->pw, (size_t)cap * sizeof *pw);
        if (!pw)
            return NULL;
        c->pw = pw;
        c->cap_pw = cap;
    }
    void *data = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!data)
        return NULL;
    struct pack_job job = {pk, w, N / pk->rows, data};
    tb_cpu_pool_run(c->pool, pack_range, &job);
    if (w->flags & TB_TENSOR_MAPPED)
        tb_pages_drop(w->data,
                      src_bytes); /* the copy replaces the file's pages in the resident set */
    /* copies of memory that has been freed and reused since go now */
    for (int i = 0; i < c->n_pw; i++) {
        const char *a = c->pw[i].src, *b = w->data;
        if (i != slot && a < b + src_bytes && b < a + c->pw[i].src_bytes) {
            free(c->pw[i].data);
            c->pw[i] = c->pw[--c->n_pw];
            if (slot == c->n_pw)
                slot = i;
            i--;
        }
    }
    if (slot >= 0)
        free(c->pw[slot].data);
    else
        slot = c->n_pw++;
    c->pw[slot] = (struct packed_w){w->data, src_bytes, w->type, K, fp, data, bytes};
    return data;
}

/* The kernel for op (a matmul) given its weight's packed copy or NULL. */
static const struct tb_cpu_mm_kernel *mm_kernel(const struct cpu_ctx *c, const struct tb_op *op,
                                                const void *packed)
{
    const int t = tb_cpu_wtype(op->src[0]->type);
    return packed ? &c->k->packed[t].mm : &c->k->mm[t];
}

/* Data-dependent checks (ids) and scratch needs of op o of the run. */
static int prepare(struct cpu_ctx *c, const struct tb_op *op, int o, size_t *act_bytes,
                   size_t *tmp_floats, struct tb_err *err)
{
    int rc = validate(op, err);
    if (rc)
        return rc;
    const int64_t n = tb_tensor_nrows(op->dst);
    switch (op->kind) {
    case TB_OP_GET_ROWS: {
        const int32_t *id = op->src[1]->data;
        const int64_t rows = tb_tensor_nrows(op->src[0]);
        for (int64_t i = 0; i < n; i++)
            if (id[i] < 0 || id[i] >= rows)
                return tb_err_set(err, TB_EINVAL,
                                  "cpu get_rows '%s': id %d at %lld outside [0, %lld)", op->name,
                                  id[i], (long long)i, (long long)rows);
        break;
    }
    case TB_OP_MATMUL: {
        c->op_w[o] = packed_weight(c, op->src[0]);
        const struct tb_cpu_mm_kernel *mk = mm_kernel(c, op, c->op_w[o]);
        if (mk->pack_x && n > 1) {
            const size_t need =
                (size_t)((n + 15) / 16) * 16 * (size_t)op->src[0]->ne[0] * sizeof(float);
            if (need > *act_bytes)
                *act_bytes = need;
        } else if (mk->act_row_bytes) {
            /* decode (n = 1): one private copy per thread, see run_matmul */
            const int64_t rows = n == 1 ? tb_cpu_pool_size(c->pool) : n;
            const size_t need = mk->act_row_bytes(op->src[0]->ne[0]) * (size_t)rows;
            if (need > *act_bytes)
                *act_bytes = need;
        }
        break;
    }
    case TB_OP_ROPE:
        if ((size_t)op->p.head_dim > *tmp_floats)
            *tmp_floats = (size_t)op->p.head_dim;
        break;
    case TB_OP_ATTENTION: { /* scores of a kv group */
        const size_t need = (size_t)(op->p.n_head / op->p.n_head_kv) * (size_t)(op->p.pos0 + n);
        if (need > *tmp_floats)
            *tmp_floats = need;
        break;
    }
    default: break;
    }
    return TB_OK;
}

static int grow(void **buf, size_t *cap, size_t need, const char *what, struct tb_err *err)
{
    if (need <= *cap)
        return TB_OK;
    const size_t bytes = (need + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (!p)
        return tb_err_set(err, TB_ENOMEM, "cpu: cannot allocate %zu bytes of %s scratch", bytes,
                          what);
    free(*buf);
    *buf = p;
    *cap = bytes;
    return TB_OK;
}

/* ---- op bodies: each thread ith of nth does its share ---- */

/* [*lo, *hi) = share ith of nth of [0, total), chunk ends aligned to `align`. */
static void split(int64_t total, int ith, int nth, int64_t align, int64_t *lo, int64_t *hi)
{
    const int64_t units = (total + align - 1) / align;
    const int64_t u0 = units * ith / nth, u1 = units * (ith + 1) / nth;
    *lo = u0 * align < total ? u0 * align : total;
    *hi = u1 * align < total ? u1 * align : total;
}

static void run_get_rows(struct cpu_ctx *c, const struct tb_op *op, int ith, int nth)
{
    const struct tb_tensor *table = op->src[0];
    const int32_t *id = op->src[1]->data;
    int64_t i0, i1;
    split(tb_tensor_nrows(op->dst), ith, nth, 1, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) {
        const void *row = tb_tensor_row(table, id[i]);
        float *y = tb_tensor_row(op->dst, i);
        if (table->type == TB_TYPE_F16)
            c->k->from_f16(y, row, table->ne[0]);
        else
            tb_dequantize_row(table->type, row, y, table->ne[0]);
    }
}

static void run_rms_norm(struct cpu_ctx *c, const struct tb_op *op, int ith, int nth)
{
    int64_t i0, i1;
    split(tb_tensor_nrows(op->dst), ith, nth, 1, &i0, &i1);
    for (int64_t i = i0; i < i1; i++)
        c->k->rms_norm(tb_tensor_row(op->dst, i), tb_tensor_row(op->src[0], i), op->src[1]->data,
                       op->src[0]->ne[0], op->p.eps);
}

static void run_matmul(struct cpu_ctx *c, const struct tb_op *op, const void *packed,
                       atomic_llong *ctr, int ith, int nth)
{
    const struct tb_tensor *W = op->src[0], *X = op->src[1];
    const struct tb_cpu_mm_kernel *mk = mm_kernel(c, op, packed);
    struct tb_cpu_gemm g = {
        .w = packed ? packed : W->data,
        .w_row = W->nb[1],
        .x = X->data,
        .x_row = X->nb[1],
        .dst = op->dst->data,
        .d_row = op->dst->nb[1] / sizeof(float),
        .K = W->ne[0],
        .N = tb_tensor_nrows(W),
        .n = tb_tensor_nrows(X),
    };
    if (mk->pack_x && g.n > 1) {
        /* a batch: activation tiles of 16 rows in k-major order, shared */
        int64_t t0, t1;
        split((g.n + 15) / 16, ith, nth, 1, &t0, &t1);
        mk->pack_x(X->data, X->nb[1], g.n, g.K, c->act, t0, t1);
        tb_cpu_pool_barrier(c->pool);
        g.x = c->act;
        g.x_row = (size_t)g.K * sizeof(float);
    } else if (mk->act_row_bytes && g.n == 1) {
        /* Decode: every thread quantizes the one row into its own copy
         * (a few hundred ns), which saves the barrier of the shared path. */
        const size_t xr = mk->act_row_bytes(g.K);
        g.x = (char *)c->act + (size_t)ith * xr;
        g.x_row = xr;
        mk->quantize_act(tb_tensor_row(X, 0), (void *)g.x, g.K);
    } else if (mk->act_row_bytes) {
        /* Quantize the activation rows once per op (llama.cpp's
         * vec_dot_type), shared by all threads: split rows, then meet. */
        const size_t xr = mk->act_row_bytes(g.K);
        int64_t i0, i1;
        split(g.n, ith, nth, 1, &i0, &i1);
        for (int64_t i = i0; i < i1; i++)
            mk->quantize_act(tb_tensor_row(X, i), (char *)c->act + (size_t)i * xr, g.K);
        tb_cpu_pool_barrier(c->pool);
        g.x = c->act;
        g.x_row = xr;
    }
    /* Output rows in about 8 chunks per thread, taken first come first
     * served so a thread the OS delays does not hold the op up; chunks are
     * multiples of 16 rows so kernel tiles stay whole. */
    int64_t chunk = (g.N + 8 * nth - 1) / (8 * nth);
    chunk = (chunk + 15) / 16 * 16;
    const int64_t n_chunks = (g.N + chunk - 1) / chunk;
    for (;;) {
        const int64_t k = atomic_fetch_add_explicit(ctr, 1, memory_order_relaxed);
        if (k >= n_chunks)
            break;
        (mk->pack_x && g.n > 1 ? mk->gemm_tiles : mk->gemm)(
            &g, k * chunk, (k + 1) * chunk < g.N ? (k + 1) * chunk : g.N);
    }
}

static void run_rope(struct cpu_ctx *c, const struct tb_op *op, int ith, int nth)
{
    const int hd = op->p.head_dim, half = hd / 2;
    float *cs = c->tmp + (size_t)ith * c->tmp_stride, *sn = cs + half;
    int64_t i0, i1;
    split(tb_tensor_nrows(op->dst), ith, nth, 1, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) {
        /* angles in double, as the reference does, once per row */
        const double pos = (double)op->p.pos0 + (double)i;
        for (int k = 0; k < half; k++) {
            const double a = pos * pow((double)op->p.rope_theta, -2.0 * k / (double)hd);
            cs[k] = (float)cos(a);
            sn[k] = (float)sin(a);
        }
        const float *x = tb_tensor_row(op->src[0], i);
        float *y = tb_tensor_row(op->dst, i); /* may alias x: read both before writing */
        for (int h = 0; h < op->p.n_head; h++)
            for (int k = 0; k < half; k++) {
                const size_t e = (size_t)h * (size_t)hd + 2 * (size_t)k;
                const float x0 = x[e], x1 = x[e + 1];
                y[e] = x0 * cs[k] - x1 * sn[k];
                y[e + 1] = x0 * sn[k] + x1 * cs[k];
            }
    }
}

static void run_kv_store(struct cpu_ctx *c, const struct tb_op *op, int ith, int nth)
{
    const struct tb_tensor *x = op->src[0], *cache = op->dst;
    int64_t i0, i1;
    split(tb_tensor_nrows(x), ith, nth, 1, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) {
        void *dst = tb_tensor_row(cache, op->p.pos0 + i);
        if (cache->type == TB_TYPE_F16)
            c->k->to_f16(dst, tb_tensor_row(x, i), x->ne[0]);
        else
            memcpy(dst, tb_tensor_row(x, i), (size_t)x->ne[0] * sizeof(float));
    }
}

/* One query row, the G heads of one kv group, with the table's row kernels
 * (any ISA, any head_dim). */
static void attn_group_generic(const struct tb_cpu_kernels *k, const struct tb_cpu_attn *a)
{
    for (int h = 0; h < a->G; h++) {
        const float *q = a->q + (size_t)h * a->hd;
        float *y = a->y + (size_t)h * a->hd, *score = a->scores;
        float max = -INFINITY;
        for (int64_t t = 0; t < a->n_kv; t++) {
            const void *kr = (const char *)a->k + (size_t)t * a->k_row;
            const float s =
                a->scale * (a->k16 ? k->dot_f16(q, kr, a->hd) : k->dot_f32(q, kr, a->hd));
            score[t] = s;
            max = s > max ? s : max;
        }
        const float sum = k->exp_sum(score, max, a->n_kv);
        memset(y, 0, (size_t)a->hd * sizeof *y);
        for (int64_t t = 0; t < a->n_kv; t++) {
            const void *vr = (const char *)a->v + (size_t)t * a->v_row;
            if (a->v16)
                k->axpy_f16(y, score[t], vr, a->hd);
            else
                k->axpy_f32(y, score[t], vr, a->hd);
        }
        k->scale(y, 1.0f / sum, a->hd);
    }
}

/* Tasks are (query row, kv head) pairs in contiguous chunks per thread, so
 * the query heads of a group share each K/V row they read. */
static void run_attention(struct cpu_ctx *c, const struct tb_op *op, int ith, int nth)
{
    const struct tb_tensor *kc = op->src[1], *vc = op->src[2];
    const int hd = op->p.head_dim, nkv = op->p.n_head_kv, G = op->p.n_head / nkv;
    struct tb_cpu_attn a = {
        .k_row = kc->nb[1],
        .v_row = vc->nb[1],
        .k16 = kc->type == TB_TYPE_F16,
        .v16 = vc->type == TB_TYPE_F16,
        .hd = hd,
        .G = G,
        .scale = op->p.scale,
        .scores = c->tmp + (size_t)ith * c->tmp_stride,
    };
    const size_t kes = a.k16 ? 2 : 4, ves = a.v16 ? 2 : 4;
    int64_t t0, t1;
    split(tb_tensor_nrows(op->dst) * nkv, ith, nth, 1, &t0, &t1);
    for (int64_t task = t0; task < t1; task++) {
        const int64_t i = task / nkv;
        const int g = (int)(task % nkv);
        /* causal: rows 0..pos0+i; non-causal: all rows 0..pos0+n-1 */
        a.n_kv = op->p.non_causal ? op->p.pos0 + tb_tensor_nrows(op->dst) : op->p.pos0 + i + 1;
        a.q = (const float *)tb_tensor_row(op->src[0], i) + (size_t)g * G * hd;
        a.y = (float *)tb_tensor_row(op->dst, i) + (size_t)g * G * hd;
        a.k = (const char *)kc->data + (size_t)g * hd * kes;
        a.v = (const char *)vc->data + (size_t)g * hd * ves;
        if (!c->k->attn_group || !c->k->attn_group(&a))
            attn_group_generic(c->k, &a);
    }
}

/* Elementwise ops over the flat element range (rows may be strided). */
static void run_elementwise(struct cpu_ctx *c, const struct tb_op *op, int ith, int nth)
{
    const struct tb_tensor *a = op->src[0], *b = op->src[1], *d = op->dst;
    const int64_t K = a->ne[0];
    int64_t e0, e1;
    split(tb_tensor_nrows(d) * K, ith, nth, 64, &e0, &e1);
    while (e0 < e1) {
        const int64_t r = e0 / K, col = e0 % K;
        const int64_t len = (K - col) < (e1 - e0) ? (K - col) : (e1 - e0);
        const float *x = (const float *)tb_tensor_row(a, r) + col;
        float *z = (float *)tb_tensor_row(d, r) + col;
        switch (op->kind) {
        case TB_OP_SILU: c->k->silu(z, x, len); break;
        case TB_OP_MUL: c->k->mul(z, x, (const float *)tb_tensor_row(b, r) + col, len); break;
        default: c->k->add(z, x, (const float *)tb_tensor_row(b, r) + col, len); break;
        }
        e0 += len;
    }
}

static void run_op(struct cpu_ctx *c, int o, int ith, int nth)
{
    const struct tb_op *op = &c->ops[o];
    switch (op->kind) {
    case TB_OP_GET_ROWS: run_get_rows(c, op, ith, nth); break;
    case TB_OP_RMS_NORM: run_rms_norm(c, op, ith, nth); break;
    case TB_OP_MATMUL: run_matmul(c, op, c->op_w[o], &c->chunk[o], ith, nth); break;
    case TB_OP_ROPE: run_rope(c, op, ith, nth); break;
    case TB_OP_KV_STORE: run_kv_store(c, op, ith, nth); break;
    case TB_OP_ATTENTION: run_attention(c, op, ith, nth); break;
    case TB_OP_SILU:
    case TB_OP_MUL:
    case TB_OP_ADD: run_elementwise(c, op, ith, nth); break;
    case TB_OP_COUNT: break;
    }
}

static void run_range(void *arg, int ith, int nth)
{
    struct cpu_ctx *c = arg;
    uint64_t t_prev = ith == 0 && c->op_ns ? tb_now_ns() : 0;
    for (int o = 0; o < c->count; o++) {
        run_op(c, o, ith, nth);
        if (c->sync[o])
            tb_cpu_pool_barrier(c->pool);
        if (ith == 0 && c->op_ns) {
            const uint64_t t = tb_now_ns();
            c->op_ns[o] = t - t_prev;
            t_prev = t;
        }
    }
}

/* ---- which ops need a barrier after them ---- */

/* Bytes an op may touch through t (whole rows: conservative for views). */
struct span {
    const char *lo, *hi;
    int64_t ew; /* elements of an elementwise op's dst (its split), else -1 */
};

static struct span span_of(const struct tb_tensor *t, int64_t ew)
{
    const char *lo = t->data;
    return (struct span){lo, lo + tb_tensor_nbytes(t), ew};
}

static bool overlaps(struct span a, struct span b)
{
    return a.lo < b.hi && b.lo < a.hi;
}

static bool elementwise(enum tb_op_kind k)
{
    return k == TB_OP_SILU || k == TB_OP_MUL || k == TB_OP_ADD;
}

#define MAX_SPANS 32

/* The threads must meet between two ops only when the second reads what
 * the first ones wrote since the last meeting, or writes what they read or
 * wrote: decode's K/V matmuls after Q, rope of K after rope of Q, or MUL
 * after SILU on the same element split then run without a barrier (a
 * barrier costs about a microsecond of waiting with 2 threads, and a layer
 * has 15 ops). Kept everywhere when per-op times are asked for, and before
 * a batched quantized matmul, whose activation buffer is shared. */
static void plan_barriers(struct cpu_ctx *c, const struct tb_op *ops, int count, bool timed)
{
    struct span wr[MAX_SPANS], rd[MAX_SPANS];
    int nw = 0, nr = 0;
    for (int o = 0; o < count; o++) {
        const struct tb_op *op = &ops[o];
        const int64_t ew = elementwise(op->kind) ? tb_tensor_nelements(op->dst) : -1;
        bool hazard = timed || nw + 1 > MAX_SPANS || nr + 3 > MAX_SPANS;
        if (op->kind == TB_OP_MATMUL && tb_tensor_nrows(op->src[1]) > 1)
            hazard = true; /* the shared activation buffer (quantized or tiles) */
        const struct span d = span_of(op->dst, ew);
        for (int i = 0; i < 3 && !hazard; i++) {
            if (!op->src[i])
                continue;
            const struct span r = span_of(op->src[i], ew);
            for (int w = 0; w < nw && !hazard; w++)
                /* same elementwise split: each thread reads what it wrote */
                hazard = overlaps(r, wr[w]) && !(ew >= 0 && wr[w].ew == ew);
        }
        for (int i = 0; i < nr && !hazard; i++)
            hazard = overlaps(d, rd[i]) && !(ew >= 0 && rd[i].ew == ew);
        for (int w = 0; w < nw && !hazard; w++)
            hazard = overlaps(d, wr[w]) && !(ew >= 0 && wr[w].ew == ew);
        if (o > 0 && hazard) {
            c->sync[o - 1] = 1;
            nw = nr = 0;
        }
        c->sync[o] = 0;
        wr[nw++] = d;
        for (int i = 0; i < 3; i++)
            if (op->src[i])
                rd[nr++] = span_of(op->src[i], ew);
    }
    if (count > 0)
        c->sync[count - 1] = 1;
}

static int run_ops(struct cpu_ctx *c, const struct tb_op *ops, int count, uint64_t *op_ns,
                   struct tb_err *err)
{
    size_t act = 0, tmp = 0;
    if (count > c->op_w_cap) {
        const void **w = realloc(c->op_w, (size_t)count * sizeof *w);
        if (!w)
            return tb_err_set(err, TB_ENOMEM, "cpu: cannot allocate %d op slots", count);
        c->op_w = w;
        c->op_w_cap = count;
    }
    if (count > c->run_cap) {
        atomic_llong *ch = realloc(c->chunk, (size_t)count * sizeof *ch);
        if (ch)
            c->chunk = ch;
        unsigned char *sy = ch ? realloc(c->sync, (size_t)count) : NULL;
        if (!sy)
            return tb_err_set(err, TB_ENOMEM, "cpu: cannot allocate %d op slots", count);
        c->sync = sy;
        c->run_cap = count;
    }
    for (int o = 0; o < count; o++) {
        c->op_w[o] = NULL;
        atomic_init(&c->chunk[o], 0);
        int rc = prepare(c, &ops[o], o, &act, &tmp, err);
        if (rc)
            return rc;
    }
    const int nth = tb_cpu_pool_size(c->pool);
    const size_t stride = (tmp + 15) & ~(size_t)15; /* 64-byte apart per thread */
    int rc;
    if ((rc = grow(&c->act, &c->act_cap, act, "activation", err)) ||
        (rc = grow((void **)&c->tmp, &c->tmp_cap, stride * (size_t)nth * sizeof(float),
                   "per-thread", err)))
        return rc;
    c->tmp_stride = stride;
    c->ops = ops;
    c->count = count;
    c->op_ns = op_ns;
    plan_barriers(c, ops, count, op_ns != NULL);
    tb_cpu_pool_run(c->pool, run_range, c);
    c->ops = NULL;
    return TB_OK;
}

/* ---- vtable ---- */

static const char *cpu_name(void *ctx)
{
    (void)ctx;
    return "cpu";
}

static const char *cpu_device_name(void *ctx)
{
    return ((struct cpu_ctx *)ctx)->device;
}

static enum tb_device_kind cpu_device_kind(void *ctx)
{
    (void)ctx;
    return TB_DEVICE_CPU;
}

static bool cpu_supports_op(void *ctx, const struct tb_op *op)
{
    (void)ctx;
    return validate(op, NULL) == TB_OK;
}

static int cpu_compute_op(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    return run_ops(ctx, op, 1, NULL, err);
}

static int cpu_compute_graph(void *ctx, const struct tb_graph *g, int first, int count,
                             uint64_t *op_ns, struct tb_err *err)
{
    return run_ops(ctx, g->ops + first, count, op_ns, err);
}

static int cpu_n_threads(void *ctx)
{
    return tb_cpu_pool_size(((struct cpu_ctx *)ctx)->pool);
}

static int cpu_set_n_threads(void *ctx, int n, struct tb_err *err)
{
    struct cpu_ctx *c = ctx;
    if (n == tb_cpu_pool_size(c->pool))
        return TB_OK;
    struct tb_cpu_pool *p;
    /* a binding given at create was for the old thread count: drop it */
    int rc = tb_cpu_pool_create(n, NULL, &p, err);
    if (rc)
        return rc;
    tb_cpu_pool_free(c->pool);
    c->pool = p;
    return TB_OK;
}

static int cpu_thread_cpus(void *ctx, int *cpus, int n)
{
    return tb_cpu_pool_observed_cpus(((struct cpu_ctx *)ctx)->pool, cpus, n);
}

static enum tb_isa cpu_isa(void *ctx)
{
    return ((struct cpu_ctx *)ctx)->k->isa;
}

bool tb_cpu_weight_packed(const struct tb_backend *b, const struct tb_tensor *w)
{
    if (!b || b->iface.name != cpu_name)
        return false;
    const struct cpu_ctx *c = b->context;
    for (int i = 0; i < c->n_pw; i++)
        if (c->pw[i].src == w->data && c->pw[i].type == w->type && c->pw[i].K == w->ne[0])
            return true;
    return false;
}

size_t tb_cpu_packed_bytes(const struct tb_backend *b)
{
    if (!b || b->iface.name != cpu_name)
        return 0;
    const struct cpu_ctx *c = b->context;
    size_t n = 0;
    for (int i = 0; i < c->n_pw; i++)
        n += c->pw[i].bytes;
    return n;
}

static void cpu_free(void *ctx)
{
    struct cpu_ctx *c = ctx;
    if (!c)
        return;
    tb_cpu_pool_free(c->pool);
    for (int i = 0; i < c->n_pw; i++)
        free(c->pw[i].data);
    free(c->pw);
    free(c->op_w);
    free(c->chunk);
    free(c->sync);
    free(c->act);
    free(c->tmp);
    free(c);
}

/* The CPU's model name when the OS says it. */
static void describe_cpu(char *buf, size_t n, enum tb_isa isa, int threads)
{
    char model[96] = "CPU";
    (void)tb_cpu_model(model, sizeof model);
    snprintf(buf, n, "%s (%s, %d threads at create)", model, tb_isa_name(isa), threads);
}

int tb_backend_cpu_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                          struct tb_err *err)
{
    *out = NULL;
    enum tb_isa isa = tb_isa_detect();
    if (cfg->isa_cap < isa)
        isa = cfg->isa_cap;
    const struct tb_cpu_kernels *k = tb_cpu_kernels_get(isa);
    if (!k)
        return tb_err_set(err, TB_EUNSUPPORTED, "cpu: no %s kernels in this build",
                          tb_isa_name(isa));
    int threads = cfg->n_threads;
    if (threads <= 0) {
        const int online = tb_cpu_count();
        threads = online < 1024 ? online : 1024;
    }
    struct cpu_ctx *c = calloc(1, sizeof *c);
    struct tb_backend *b = calloc(1, sizeof *b);
    if (!c || !b) {
        free(c);
        free(b);
        return tb_err_set(err, TB_ENOMEM, "cpu: out of memory creating backend");
    }
    c->k = k;
    c->no_repack = cfg->no_repack;
    int rc = tb_cpu_pool_create(threads, cfg->bind_cpus, &c->pool, err);
    if (rc) {
        free(c);
        free(b);
        return tb_err_wrap(err, rc, "cpu");
    }
    describe_cpu(c->device, sizeof c->device, isa, threads);
    b->iface = (struct tb_backend_i){
        .name = cpu_name,
        .device_kind = cpu_device_kind,
        .supports_op = cpu_supports_op,
        .compute_op = cpu_compute_op,
        .free = cpu_free,
        .device_name = cpu_device_name,
        .compute_graph = cpu_compute_graph,
        .n_threads = cpu_n_threads,
        .set_n_threads = cpu_set_n_threads,
        .isa = cpu_isa,
        .thread_cpus = cpu_thread_cpus,
    };
    b->context = c;
    *out = b;
    return TB_OK;
}

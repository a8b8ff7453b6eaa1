/* "cuda": ops as CUDA kernels (cuda_kernels.cu) on device 0. The CUDA
 * runtime is linked statically and loads the driver (libcuda.so.1) itself,
 * so a host without a driver or GPU still starts the program and creation
 * fails with the runtime's reason (e.g. "cudaGetDeviceCount: CUDA driver
 * version is insufficient ...", "no CUDA-capable device is detected").
 *
 * Memory, as in the opencl backend: weights (MATMUL W, GET_ROWS table,
 * RMS_NORM weight) keep a device copy (accel_op.h weight cache). Within a
 * compute_op / compute_graph call work goes to one stream; each op's dst
 * lands in a pooled device buffer that stays a mirror of the host rows it
 * was copied to (accel_op.h range residency), so a later op of the call
 * reading exactly those rows (the next op's activations, the KV rows a
 * KV_STORE wrote when attention starts at row 0) reads device memory.
 * Downloads go to pageable host memory, which the runtime completes before
 * the copy call returns. KV caches stay resident across calls (accel_op.h
 * KV residency: KV_STORE rows copied device-to-device into the resident
 * copy, ATTENTION uploading only rows not known current). Buffers
 * (tb_backend_buffer_*) are cudaMalloc'ed, copied in stream order and
 * waited for. Device time: a cudaEvent pair around each kernel. */
#include "kernels/tb_backend_impl.h"

#ifdef TB_HAVE_CUDA

#include "kernels/accel/accel_op.h"
#include "kernels/cuda/cuda_kernels.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "cuda"

/* uploaded sources and attention scores, reused op after op (stream order) */
enum { S_SRC0, S_SRC1, S_SRC2, S_AUX, S_COUNT };

struct cu_ctx {
    cudaStream_t s;
    bool have_stream;
    char device[384];
    struct {
        void *p;
        size_t cap;
    } scr[S_COUNT];
    struct tb_accel_wcache wc;
    struct tb_accel_res res;
    struct tb_accel_kv kv; /* resident KV caches (across ranges) */
    /* RoPE frequencies for (freq_hd, freq_theta), kept on the device */
    void *freq;
    int freq_hd;
    float freq_theta;
    /* event pairs around the kernels of the range: 2*i start, 2*i+1 end;
     * created on demand, reused across ranges */
    cudaEvent_t *ev;
    int n_ev_made, n_launch, cap_ev;
    struct tb_op_evidence evd;
};

static const unsigned k_wtypes = TB_WTYPE_BIT(TB_TYPE_F32) | TB_WTYPE_BIT(TB_TYPE_F16) |
                                 TB_WTYPE_BIT(TB_TYPE_Q8_0) | TB_WTYPE_BIT(TB_TYPE_Q4_0);

static int cu_fail(struct tb_err *err, cudaError_t e, const char *what)
{
    return tb_err_set(err, TB_EBACKEND, NAME ": %s: %s (%s)", what, cudaGetErrorString(e),
                      cudaGetErrorName(e));
}

/* ---- device buffers */

static void release_mem(void *user, void *dev)
{
    (void)user;
    cudaFree(dev);
}

static void *new_buffer(size_t bytes, const char *what, struct tb_err *err)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 4);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* else the next launch check reports this failure */
        tb_err_set(err, TB_ENOMEM, NAME ": cannot allocate %zu device bytes for %s: %s", bytes,
                   what, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

static void *res_alloc(void *user, size_t bytes, struct tb_err *err)
{
    (void)user;
    return new_buffer(bytes, "an op output", err);
}

static int res_wait(void *user, struct tb_err *err)
{
    cudaError_t e = cudaStreamSynchronize(((struct cu_ctx *)user)->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, "cudaStreamSynchronize");
}

static void *scratch(struct cu_ctx *c, int slot, size_t bytes, struct tb_err *err)
{
    if (c->scr[slot].p && c->scr[slot].cap >= bytes)
        return c->scr[slot].p;
    if (c->scr[slot].p) {
        cudaStreamSynchronize(c->s); /* queued kernels may still read it */
        cudaFree(c->scr[slot].p);
    }
    c->scr[slot].cap = bytes + bytes / 2; /* amortise growth */
    c->scr[slot].p = new_buffer(c->scr[slot].cap, "scratch", err);
    if (!c->scr[slot].p)
        c->scr[slot].cap = 0;
    return c->scr[slot].p;
}

/* Queues nrows host rows (stride nb1, `row` bytes each) to dev + off,
 * packed; booked as host->device bytes. */
static int upload_rows(struct cu_ctx *c, void *dev, size_t off, const void *host, size_t nb1,
                       size_t row, int64_t nrows, struct tb_err *err)
{
    cudaError_t e = cudaMemcpy2DAsync((char *)dev + off, row, host, nb1, row, (size_t)nrows,
                                      cudaMemcpyHostToDevice, c->s);
    if (e != cudaSuccess)
        return cu_fail(err, e, "upload");
    tb_accel_book_h2d(&c->evd, (uint64_t)row * (uint64_t)nrows);
    return TB_OK;
}

static int upload(struct cu_ctx *c, void *dev, const struct tb_tensor *t, int64_t row0,
                  int64_t nrows, struct tb_err *err)
{
    return upload_rows(c, dev, 0, tb_tensor_row(t, row0), t->nb[1], tb_accel_row_bytes(t), nrows,
                       err);
}

/* tb_accel_kv callbacks */
static void kv_release(void *user, void *dev)
{
    cudaStreamSynchronize(((struct cu_ctx *)user)->s); /* queued kernels may read it */
    cudaFree(dev);
}

static int kv_upload(void *user, void *dev, size_t off, const void *host, size_t nb1, size_t row,
                     int64_t rows, struct tb_err *err)
{
    return upload_rows(user, dev, off, host, nb1, row, rows, err);
}

static int kv_copy(void *user, void *dst, size_t off, void *src, size_t bytes, struct tb_err *err)
{
    cudaError_t e = cudaMemcpyAsync((char *)dst + off, src, bytes, cudaMemcpyDeviceToDevice,
                                    ((struct cu_ctx *)user)->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, "KV rows into the resident cache");
}

/* Rows [row0, row0 + nrows) of t, packed, on the device: a mirror with
 * exactly those rows, else uploaded into scratch `slot`. */
static void *src_rows(struct cu_ctx *c, int slot, const struct tb_tensor *t, int64_t row0,
                      int64_t nrows, struct tb_err *err)
{
    const size_t row = tb_accel_row_bytes(t);
    const char *host = tb_tensor_row(t, row0);
    void *p = tb_accel_res_find(&c->res, host, t->nb[1], row, nrows);
    if (p)
        return p;
    if (tb_accel_res_readable(&c->res, host, tb_accel_span(t->nb[1], row, nrows), err) ||
        !(p = scratch(c, slot, row * (size_t)nrows, err)) || upload(c, p, t, row0, nrows, err))
        return NULL;
    return p;
}

/* dst buffer p (nrows packed rows) to host rows [row0, row0 + nrows) of t;
 * p becomes their mirror. */
static int store_dst(struct cu_ctx *c, void *p, const struct tb_tensor *t, int64_t row0,
                     int64_t nrows, struct tb_err *err)
{
    const size_t row = tb_accel_row_bytes(t);
    char *host = tb_tensor_row(t, row0);
    cudaError_t e =
        cudaMemcpy2DAsync(host, t->nb[1], p, row, row, (size_t)nrows, cudaMemcpyDeviceToHost, c->s);
    if (e != cudaSuccess) {
        tb_accel_res_put(&c->res, p);
        return cu_fail(err, e, "download");
    }
    tb_accel_book_d2h(&c->evd, (uint64_t)row * (uint64_t)nrows);
    return tb_accel_res_stored(&c->res, p, host, t->nb[1], row, nrows, err);
}

static void *weight(struct cu_ctx *c, const struct tb_tensor *t, struct tb_err *err)
{
    const int64_t rows = tb_tensor_nrows(t);
    const size_t row = tb_accel_row_bytes(t);
    const size_t span = tb_accel_span(t->nb[1], row, rows);
    if (tb_accel_res_readable(&c->res, t->data, span, err))
        return NULL;
    const uint64_t fp = tb_accel_fingerprint(t->data, span);
    void *p = tb_accel_wcache_find(&c->wc, t->data, span, fp);
    if (p)
        return p;
    tb_accel_wcache_make_room(&c->wc, span);
    if (!(p = new_buffer(row * (size_t)rows, t->name, err)))
        return NULL;
    if (upload(c, p, t, 0, rows, err)) {
        cudaFree(p);
        return NULL;
    }
    /* the cache owns p from here, also when the insert fails */
    return tb_accel_wcache_insert(&c->wc, t->data, span, fp, p, err) ? NULL : p;
}

/* theta^(-2k/hd) on the device, rebuilt when (hd, theta) changes */
static void *rope_freqs(struct cu_ctx *c, int hd, float theta, struct tb_err *err)
{
    if (c->freq && c->freq_hd == hd && c->freq_theta == theta)
        return c->freq;
    if (c->freq) {
        cudaStreamSynchronize(c->s);
        cudaFree(c->freq);
        c->freq = NULL;
    }
    const size_t bytes = (size_t)(hd / 2) * sizeof(float);
    float *f = malloc(bytes);
    if (!f) {
        tb_err_set(err, TB_ENOMEM, NAME ": rope frequency table");
        return NULL;
    }
    tb_accel_rope_freqs(f, hd, theta);
    void *p = new_buffer(bytes, "rope frequencies", err);
    cudaError_t e = p ? cudaMemcpy(p, f, bytes, cudaMemcpyHostToDevice) : cudaSuccess;
    free(f);
    if (!p)
        return NULL;
    if (e != cudaSuccess) {
        cudaFree(p);
        cu_fail(err, e, "rope frequency table");
        return NULL;
    }
    tb_accel_book_h2d(&c->evd, bytes);
    c->freq = p;
    c->freq_hd = hd;
    c->freq_theta = theta;
    return p;
}

/* ---- launches: each op is one kernel between an event pair */

static int begin_launch(struct cu_ctx *c, struct tb_err *err)
{
    const int need = 2 * (c->n_launch + 1);
    if (need > c->cap_ev) {
        const int cap = c->cap_ev ? 2 * c->cap_ev : 64;
        cudaEvent_t *p = realloc(c->ev, (size_t)cap * sizeof *p);
        if (!p)
            return tb_err_set(err, TB_ENOMEM, NAME ": cannot grow the event list");
        c->ev = p;
        c->cap_ev = cap;
    }
    for (; c->n_ev_made < need; c->n_ev_made++) {
        cudaError_t e = cudaEventCreate(&c->ev[c->n_ev_made]);
        if (e != cudaSuccess)
            return cu_fail(err, e, "cudaEventCreate");
    }
    cudaError_t e = cudaEventRecord(c->ev[2 * c->n_launch], c->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, "cudaEventRecord");
}

static int end_launch(struct cu_ctx *c, cudaError_t launch, const char *what, struct tb_err *err)
{
    if (launch != cudaSuccess)
        return cu_fail(err, launch, what);
    cudaError_t e = cudaEventRecord(c->ev[2 * c->n_launch + 1], c->s);
    if (e != cudaSuccess)
        return cu_fail(err, e, "cudaEventRecord");
    c->n_launch++;
    return TB_OK;
}

#define LAUNCH(what, call)                                                                         \
    do {                                                                                           \
        int rc_ = begin_launch(c, err);                                                            \
        if (!rc_)                                                                                  \
            rc_ = end_launch(c, (call), what, err);                                                \
        if (rc_) {                                                                                 \
            tb_accel_res_put(&c->res, md);                                                         \
            return rc_;                                                                            \
        }                                                                                          \
    } while (0)

#define NEED(p)                                                                                    \
    do {                                                                                           \
        if (!(p))                                                                                  \
            return err ? err->code : TB_ENOMEM;                                                    \
    } while (0)

/* Ends a range: waits, books the kernels' device time, drops the mirrors. */
static int end_range(struct cu_ctx *c, struct tb_err *err)
{
    int rc = tb_accel_res_wait(&c->res, err);
    for (int i = 0; i < c->n_launch; i++) {
        float ms = 0.0f;
        if (rc == TB_OK) {
            cudaError_t e = cudaEventElapsedTime(&ms, c->ev[2 * i], c->ev[2 * i + 1]);
            if (e != cudaSuccess)
                rc = cu_fail(err, e, "cudaEventElapsedTime");
        }
        const uint64_t ns = (uint64_t)((double)ms * 1e6);
        c->evd.last_device_ns += ns;
        c->evd.total_device_ns += ns;
    }
    c->evd.last_launches += (uint64_t)c->n_launch;
    c->evd.total_launches += (uint64_t)c->n_launch;
    c->n_launch = 0;
    tb_accel_res_end(&c->res);
    return rc;
}

/* ---- the ops */

static int op_get_rows(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *tab = op->src[0], *ids = op->src[1], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    /* ids are checked on the host: their bytes must be there */
    int rc = tb_accel_res_readable(&c->res, ids->data, tb_tensor_nbytes(ids), err);
    if (rc || (rc = tb_accel_check_ids(NAME, op, err)))
        return rc;
    void *mt = weight(c, tab, err);
    NEED(mt);
    void *mi = src_rows(c, S_SRC1, ids, 0, tb_tensor_nrows(ids), err);
    NEED(mi);
    void *md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    LAUNCH("get_rows", tb_cuda_get_rows(c->s, mt, tb_accel_row_bytes(tab), mi, md, (int)tab->ne[0],
                                        (int)n, (int)tab->type));
    return store_dst(c, md, d, 0, n, err);
}

static int op_rms_norm(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *x = op->src[0], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    void *mw = weight(c, op->src[1], err);
    NEED(mw);
    void *mx = src_rows(c, S_SRC0, x, 0, n, err);
    NEED(mx);
    void *md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    LAUNCH("rms_norm", tb_cuda_rms_norm(c->s, mx, mw, md, (int)x->ne[0], (int)n, op->p.eps));
    return store_dst(c, md, d, 0, n, err);
}

static int op_matmul(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *W = op->src[0], *X = op->src[1], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d), N = tb_tensor_nrows(W);
    void *mw = weight(c, W, err);
    NEED(mw);
    void *mx = src_rows(c, S_SRC1, X, 0, n, err);
    NEED(mx);
    void *md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    LAUNCH("matmul", tb_cuda_matmul(c->s, mw, tb_accel_row_bytes(W), mx, md, (int)W->ne[0], (int)N,
                                    (int)n, (int)W->type));
    return store_dst(c, md, d, 0, n, err);
}

static int op_rope(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *x = op->src[0], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    void *mf = rope_freqs(c, op->p.head_dim, op->p.rope_theta, err);
    NEED(mf);
    void *mx = src_rows(c, S_SRC0, x, 0, n, err);
    NEED(mx);
    void *md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    LAUNCH("rope",
           tb_cuda_rope(c->s, mx, md, mf, op->p.head_dim, op->p.n_head, (int)n, op->p.pos0));
    return store_dst(c, md, d, 0, n, err);
}

static int op_kv_store(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *x = op->src[0], *cache = op->dst;
    const int64_t n = tb_tensor_nrows(x);
    void *mx = src_rows(c, S_SRC0, x, 0, n, err);
    NEED(mx);
    void *md = tb_accel_res_get(&c->res, tb_accel_row_bytes(cache) * (size_t)n, err);
    NEED(md);
    LAUNCH("kv_store",
           tb_cuda_kv_store(c->s, mx, md, (int)x->ne[0], (int)n, cache->type == TB_TYPE_F16));
    /* the resident copy gets the rows on the device */
    int rc = tb_accel_kv_stored(&c->kv, cache, op->p.pos0, n, md, err);
    if (rc) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    /* only the rows written travel back; the others keep their host values */
    return store_dst(c, md, cache, op->p.pos0, n, err);
}

static int op_attention(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *q = op->src[0], *kc = op->src[1], *vc = op->src[2], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d), n_kv = op->p.pos0 + n; /* rows anyone sees */
    void *mq = src_rows(c, S_SRC0, q, 0, n, err);
    NEED(mq);
    /* the resident caches when kept, else rows uploaded per call */
    void *mk = NULL, *mv = NULL;
    int rc = tb_accel_kv_rows(&c->kv, kc, n_kv, &mk, err);
    if (rc || (rc = tb_accel_kv_rows(&c->kv, vc, n_kv, &mv, err)))
        return rc;
    if (!mk)
        mk = src_rows(c, S_SRC1, kc, 0, n_kv, err);
    NEED(mk);
    if (!mv)
        mv = src_rows(c, S_SRC2, vc, 0, n_kv, err);
    NEED(mv);
    void *ms =
        scratch(c, S_AUX, (size_t)n * (size_t)op->p.n_head * (size_t)n_kv * sizeof(float), err);
    NEED(ms);
    void *md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    LAUNCH("attention",
           tb_cuda_attention(c->s, mq, mk, mv, md, ms, op->p.head_dim, op->p.n_head,
                             op->p.n_head_kv, (int)n, op->p.pos0, (int)n_kv, op->p.non_causal != 0,
                             op->p.scale, kc->type == TB_TYPE_F16, vc->type == TB_TYPE_F16));
    return store_dst(c, md, d, 0, n, err);
}

static int op_eltwise(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *a = op->src[0], *b = op->src[1], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    void *ma = src_rows(c, S_SRC0, a, 0, n, err);
    NEED(ma);
    void *mb = op->kind == TB_OP_SILU ? ma : src_rows(c, S_SRC1, b, 0, n, err);
    NEED(mb);
    void *md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    const int code = op->kind == TB_OP_SILU ? 0 : op->kind == TB_OP_MUL ? 1 : 2;
    LAUNCH("eltwise", tb_cuda_eltwise(c->s, ma, mb, md, (size_t)a->ne[0] * (size_t)n, code));
    return store_dst(c, md, d, 0, n, err);
}

static int run_op(struct cu_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    int rc = tb_op_validate(NAME, op, k_wtypes, err);
    if (rc)
        return rc;
    switch (op->kind) {
    case TB_OP_GET_ROWS: return op_get_rows(c, op, err);
    case TB_OP_RMS_NORM: return op_rms_norm(c, op, err);
    case TB_OP_MATMUL: return op_matmul(c, op, err);
    case TB_OP_ROPE: return op_rope(c, op, err);
    case TB_OP_KV_STORE: return op_kv_store(c, op, err);
    case TB_OP_ATTENTION: return op_attention(c, op, err);
    case TB_OP_SILU:
    case TB_OP_MUL:
    case TB_OP_ADD: return op_eltwise(c, op, err);
    case TB_OP_COUNT: break;
    }
    return tb_err_set(err, TB_EUNSUPPORTED, NAME ": unknown op kind");
}

/* One range: ops queued back to back; with op_ns, each is waited for. */
static int run_range(struct cu_ctx *c, const struct tb_op *ops, int count, uint64_t *op_ns,
                     struct tb_err *err)
{
    tb_accel_evidence_begin(&c->evd);
    int rc = TB_OK;
    for (int i = 0; i < count && !rc; i++) {
        const uint64_t t0 = op_ns ? tb_now_ns() : 0;
        rc = run_op(c, &ops[i], err);
        if (!rc && op_ns) {
            rc = tb_accel_res_wait(&c->res, err);
            op_ns[i] = tb_now_ns() - t0;
        }
    }
    const int rc2 = end_range(c, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- vtable */

static const char *cu_name(void *ctx)
{
    (void)ctx;
    return NAME;
}

static const char *cu_device_name(void *ctx)
{
    return ((struct cu_ctx *)ctx)->device;
}

static const char *cu_device_vendor(void *ctx)
{
    (void)ctx;
    return "NVIDIA";
}

static enum tb_device_kind cu_device_kind(void *ctx)
{
    (void)ctx;
    return TB_DEVICE_GPU;
}

static bool cu_supports_op(void *ctx, const struct tb_op *op)
{
    (void)ctx;
    return tb_op_validate(NAME, op, k_wtypes, NULL) == TB_OK;
}

static int cu_compute_op(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    return run_range(ctx, op, 1, NULL, err);
}

static int cu_compute_graph(void *ctx, const struct tb_graph *g, int first, int count,
                            uint64_t *op_ns, struct tb_err *err)
{
    return run_range(ctx, g->ops + first, count, op_ns, err);
}

static int cu_op_evidence(void *ctx, struct tb_op_evidence *out)
{
    *out = ((struct cu_ctx *)ctx)->evd;
    return TB_OK;
}

static int cu_synchronize(void *ctx, struct tb_err *err)
{
    return res_wait(ctx, err);
}

/* ---- buffers: device memory, copies in stream order, then waited for */

static int cu_buffer_alloc(void *ctx, size_t nbytes, void **dev, struct tb_err *err)
{
    (void)ctx;
    *dev = new_buffer(nbytes, "a buffer", err);
    return *dev ? TB_OK : TB_ENOMEM;
}

static void cu_buffer_free(void *ctx, void *dev)
{
    kv_release(ctx, dev);
}

/* One synchronous copy on the backend's stream (after its queued work). */
static int buffer_copy(struct cu_ctx *c, void *dst, const void *src, size_t n,
                       enum cudaMemcpyKind kind, const char *what, struct tb_err *err)
{
    cudaError_t e = cudaMemcpyAsync(dst, src, n, kind, c->s);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(c->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, what);
}

static int cu_buffer_set(void *ctx, void *dev, size_t offset, const void *src, size_t n,
                         struct tb_err *err)
{
    struct cu_ctx *c = ctx;
    int rc =
        buffer_copy(c, (char *)dev + offset, src, n, cudaMemcpyHostToDevice, "buffer_set", err);
    if (!rc)
        tb_accel_book_h2d(&c->evd, n);
    return rc;
}

static int cu_buffer_get(void *ctx, void *dev, size_t offset, void *dst, size_t n,
                         struct tb_err *err)
{
    struct cu_ctx *c = ctx;
    int rc = buffer_copy(c, dst, (const char *)dev + offset, n, cudaMemcpyDeviceToHost,
                         "buffer_get", err);
    if (!rc)
        tb_accel_book_d2h(&c->evd, n);
    return rc;
}

static void cu_host_written(void *ctx, const void *host, size_t nbytes)
{
    tb_accel_kv_host_written(&((struct cu_ctx *)ctx)->kv, host, nbytes);
}

static void cu_free(void *ctx)
{
    struct cu_ctx *c = ctx;
    if (!c)
        return;
    if (c->have_stream)
        end_range(c, NULL);
    tb_accel_wcache_free(&c->wc);
    tb_accel_kv_free(&c->kv);
    tb_accel_res_free(&c->res);
    for (int i = 0; i < S_COUNT; i++)
        if (c->scr[i].p)
            cudaFree(c->scr[i].p);
    if (c->freq)
        cudaFree(c->freq);
    for (int i = 0; i < c->n_ev_made; i++)
        cudaEventDestroy(c->ev[i]);
    free(c->ev);
    if (c->have_stream)
        cudaStreamDestroy(c->s);
    free(c);
}

static int setup(struct cu_ctx *c, struct tb_err *err)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
        return cu_fail(err, e, "cudaGetDeviceCount");
    if (count == 0)
        return tb_err_set(err, TB_EBACKEND, NAME ": cudaGetDeviceCount: no CUDA-capable device");
    struct cudaDeviceProp prop;
    if ((e = cudaSetDevice(0)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess)
        return cu_fail(err, e, "device 0");
    snprintf(c->device, sizeof c->device, "%.256s (sm_%d%d, %.1f GiB)", prop.name, prop.major,
             prop.minor, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    if ((e = cudaStreamCreateWithFlags(&c->s, cudaStreamNonBlocking)) != cudaSuccess)
        return cu_fail(err, e, "cudaStreamCreate");
    c->have_stream = true;
    c->wc = (struct tb_accel_wcache){.budget = prop.totalGlobalMem / 2, .release = release_mem};
    c->res = (struct tb_accel_res){.ops = {res_alloc, release_mem, res_wait}, .user = c};
    c->kv = (struct tb_accel_kv){.ops = {res_alloc, kv_release, kv_upload, kv_copy},
                                 .user = c,
                                 .res = &c->res,
                                 .evd = &c->evd,
                                 .budget = tb_accel_kv_budget(prop.totalGlobalMem)};
    return TB_OK;
}

int tb_backend_cuda_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                           struct tb_err *err)
{
    (void)cfg; /* the device schedules its own threads */
    *out = NULL;
    struct tb_backend *b = calloc(1, sizeof *b);
    struct cu_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return tb_err_set(err, TB_ENOMEM, NAME ": cannot allocate backend");
    }
    int rc = setup(c, err);
    if (rc) {
        cu_free(c);
        free(b);
        return rc;
    }
    b->iface = (struct tb_backend_i){
        .name = cu_name,
        .device_kind = cu_device_kind,
        .supports_op = cu_supports_op,
        .compute_op = cu_compute_op,
        .free = cu_free,
        .device_name = cu_device_name,
        .compute_graph = cu_compute_graph,
        .device_vendor = cu_device_vendor,
        .op_evidence = cu_op_evidence,
        .synchronize = cu_synchronize,
        .buffer_alloc = cu_buffer_alloc,
        .buffer_free = cu_buffer_free,
        .buffer_set = cu_buffer_set,
        .buffer_get = cu_buffer_get,
        .host_written = cu_host_written,
    };
    b->context = c;
    *out = b;
    return TB_OK;
}

#else /* !TB_HAVE_CUDA */

int tb_backend_cuda_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                           struct tb_err *err)
{
    (void)cfg;
    *out = NULL;
    return tb_err_set(err, TB_EUNSUPPORTED, "cuda: built without CUDA");
}

#endif

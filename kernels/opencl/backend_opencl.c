/* "opencl": ops as OpenCL kernels (cl_source.c) on one device: a GPU if any
 * platform has one, else the first device (PoCL gives a CPU device), or the
 * one TB_OPENCL_DEVICE=platform:device names. The program is built once at
 * create time; TB_OPENCL_EXTRA_BUILD_OPTIONS is appended to the build
 * options (a test uses it to break the build on purpose).
 *
 * Memory: weights (MATMUL W, GET_ROWS table, RMS_NORM weight) are immutable
 * host memory and keep a device copy (accel_op.h weight cache). Within one
 * compute_op / compute_graph call ("range") everything is queued in order
 * without waiting: each op's dst is computed into its own device buffer and
 * its download to host enqueued at once; that buffer stays a "mirror" of
 * the host rows, so a later op of the range reading exactly those rows uses
 * it instead of uploading. A source that overlaps a mirror only partly
 * waits for the queue first, then uploads from host. Mirrors end with the
 * range: when the call returns every dst is in host memory and nothing is
 * queued. KV caches are the exception that outlives ranges: each keeps a
 * resident device copy (accel_op.h KV residency) that KV_STORE updates on
 * the device and ATTENTION reads, uploading only rows not known current;
 * host writes by others arrive through tb_backend_host_written. Buffers
 * (tb_backend_buffer_*) are cl_mem with blocking copies. Bytes moved each
 * way are counted in the evidence.
 * With op_ns requested, each op is waited for, so its wall time is real.
 *
 * Every kernel runs with a profiling event: launches and device time are
 * kept as evidence (tb_backend_op_evidence). Q4_0 weights are not supported
 * (supports_op says so; the scheduler places those ops elsewhere). */
#include "kernels/tb_backend_impl.h"

#ifdef TB_HAVE_OPENCL

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "kernels/accel/accel_op.h"
#include "kernels/opencl/cl_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "opencl"

enum { K_GET_ROWS, K_MATMUL, K_RMS_NORM, K_ROPE, K_KV_STORE, K_ATTENTION, K_ELTWISE, K_COUNT };
static const char *const k_kernel_names[K_COUNT] = {"get_rows", "matmul",    "rms_norm", "rope",
                                                    "kv_store", "attention", "eltwise"};

/* uploaded sources and attention scores; reused op after op (the in-order
 * queue runs a later upload only after the earlier kernel read the buffer) */
enum { S_SRC0, S_SRC1, S_SRC2, S_AUX, S_COUNT };

struct ocl_ctx {
    cl_device_id dev;
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k[K_COUNT];
    enum tb_device_kind kind;
    char device[640];
    char vendor[128];
    struct {
        cl_mem m;
        size_t cap;
    } scr[S_COUNT];
    struct tb_accel_wcache wc;
    struct tb_accel_res res; /* op outputs: pool, mirrors, pending downloads */
    struct tb_accel_kv kv;   /* resident KV caches (across ranges) */
    /* RoPE frequencies for (freq_hd, freq_theta), kept on the device */
    cl_mem freq;
    int freq_hd;
    float freq_theta;
    cl_event *ev; /* kernels of the range in flight */
    int n_ev, cap_ev;
    struct tb_op_evidence evd;
};

static const unsigned k_wtypes =
    TB_WTYPE_BIT(TB_TYPE_F32) | TB_WTYPE_BIT(TB_TYPE_F16) | TB_WTYPE_BIT(TB_TYPE_Q8_0);

static const char *cl_errname(cl_int e)
{
    switch (e) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform installed)";
    default: return "OpenCL error";
    }
}

static int cl_fail(struct tb_err *err, cl_int e, const char *what)
{
    return tb_err_set(err, TB_EBACKEND, NAME ": %s: %s (%d)", what, cl_errname(e), (int)e);
}

/* ---- device buffers */

static void release_mem(void *user, void *dev)
{
    (void)user;
    clReleaseMemObject((cl_mem)dev);
}

static cl_mem new_buffer(struct ocl_ctx *c, cl_mem_flags flags, size_t bytes, const char *what,
                         struct tb_err *err)
{
    cl_int e;
    cl_mem m = clCreateBuffer(c->ctx, flags, bytes ? bytes : 4, NULL, &e);
    if (!m)
        tb_err_set(err, TB_ENOMEM, NAME ": cannot allocate %zu device bytes for %s: %s", bytes,
                   what, cl_errname(e));
    return m;
}

static cl_mem scratch(struct ocl_ctx *c, int slot, size_t bytes, struct tb_err *err)
{
    if (c->scr[slot].cap >= bytes && c->scr[slot].m)
        return c->scr[slot].m;
    if (c->scr[slot].m)
        clReleaseMemObject(c->scr[slot].m); /* queued commands keep it alive */
    c->scr[slot].cap = bytes + bytes / 2;   /* amortise growth */
    c->scr[slot].m = new_buffer(c, CL_MEM_READ_WRITE, c->scr[slot].cap, "scratch", err);
    if (!c->scr[slot].m)
        c->scr[slot].cap = 0;
    return c->scr[slot].m;
}

/* tb_accel_res callbacks */
static void *res_alloc(void *user, size_t bytes, struct tb_err *err)
{
    return new_buffer(user, CL_MEM_READ_WRITE, bytes, "an op output", err);
}

static int res_wait(void *user, struct tb_err *err)
{
    cl_int e = clFinish(((struct ocl_ctx *)user)->q);
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "clFinish");
}

/* Waits for everything queued; host memory is then current. */
static int wait_queue(struct ocl_ctx *c, struct tb_err *err)
{
    return tb_accel_res_wait(&c->res, err);
}

/* Host memory [host, host+span) is about to be read from the host side:
 * downloads into it must have landed. */
static int host_readable(struct ocl_ctx *c, const void *host, size_t span, struct tb_err *err)
{
    return tb_accel_res_readable(&c->res, host, span, err);
}

/* Queues nrows host rows (stride nb1, `row` bytes each) into m at byte
 * off, packed; booked as host->device bytes. */
static int upload_rows(struct ocl_ctx *c, cl_mem m, size_t off, const void *host, size_t nb1,
                       size_t row, int64_t nrows, struct tb_err *err)
{
    cl_int e;
    if (nb1 == row || nrows == 1) {
        e = clEnqueueWriteBuffer(c->q, m, CL_FALSE, off, row * (size_t)nrows, host, 0, NULL, NULL);
    } else {
        const size_t origin[3] = {0, 0, 0}, dorg[3] = {off, 0, 0},
                     region[3] = {row, (size_t)nrows, 1};
        e = clEnqueueWriteBufferRect(c->q, m, CL_FALSE, dorg, origin, region, row, 0, nb1, 0, host,
                                     0, NULL, NULL);
    }
    if (e != CL_SUCCESS)
        return cl_fail(err, e, "upload");
    tb_accel_book_h2d(&c->evd, (uint64_t)row * (uint64_t)nrows);
    return TB_OK;
}

/* Rows [row0, row0 + nrows) of t, packed, as a device buffer: a mirror
 * with exactly those rows, else uploaded into scratch `slot`. */
static cl_mem src_rows(struct ocl_ctx *c, int slot, const struct tb_tensor *t, int64_t row0,
                       int64_t nrows, struct tb_err *err)
{
    const size_t row = tb_accel_row_bytes(t);
    const char *host = tb_tensor_row(t, row0);
    cl_mem m = tb_accel_res_find(&c->res, host, t->nb[1], row, nrows);
    if (m)
        return m;
    if (host_readable(c, host, tb_accel_span(t->nb[1], row, nrows), err))
        return NULL;
    m = scratch(c, slot, row * (size_t)nrows, err);
    if (!m || upload_rows(c, m, 0, host, t->nb[1], row, nrows, err))
        return NULL;
    return m;
}

/* dst buffer m (nrows packed rows) goes to host rows [row0, row0 + nrows)
 * of t without waiting, and becomes their mirror. */
static int store_dst(struct ocl_ctx *c, cl_mem m, const struct tb_tensor *t, int64_t row0,
                     int64_t nrows, struct tb_err *err)
{
    const size_t row = tb_accel_row_bytes(t);
    char *host = tb_tensor_row(t, row0);
    cl_int e;
    if (t->nb[1] == row || nrows == 1) {
        e = clEnqueueReadBuffer(c->q, m, CL_FALSE, 0, row * (size_t)nrows, host, 0, NULL, NULL);
    } else {
        const size_t origin[3] = {0, 0, 0}, region[3] = {row, (size_t)nrows, 1};
        e = clEnqueueReadBufferRect(c->q, m, CL_FALSE, origin, origin, region, row, 0, t->nb[1], 0,
                                    host, 0, NULL, NULL);
    }
    if (e != CL_SUCCESS) {
        tb_accel_res_put(&c->res, m);
        return cl_fail(err, e, "download");
    }
    tb_accel_book_d2h(&c->evd, (uint64_t)row * (uint64_t)nrows);
    return tb_accel_res_stored(&c->res, m, host, t->nb[1], row, nrows, err);
}

/* tb_accel_kv callbacks */
static int kv_upload(void *user, void *dev, size_t off, const void *host, size_t nb1, size_t row,
                     int64_t rows, struct tb_err *err)
{
    return upload_rows(user, (cl_mem)dev, off, host, nb1, row, rows, err);
}

static int kv_copy(void *user, void *dst, size_t off, void *src, size_t bytes, struct tb_err *err)
{
    cl_int e = clEnqueueCopyBuffer(((struct ocl_ctx *)user)->q, (cl_mem)src, (cl_mem)dst, 0, off,
                                   bytes, 0, NULL, NULL);
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "KV rows into the resident cache");
}

/* The device copy of weight tensor t (packed rows), uploaded on first use. */
static cl_mem weight(struct ocl_ctx *c, const struct tb_tensor *t, struct tb_err *err)
{
    const int64_t rows = tb_tensor_nrows(t);
    const size_t row = tb_accel_row_bytes(t);
    const size_t span = tb_accel_span(t->nb[1], row, rows); /* host bytes covered */
    if (host_readable(c, t->data, span, err))
        return NULL;
    const uint64_t fp = tb_accel_fingerprint(t->data, span);
    cl_mem m = tb_accel_wcache_find(&c->wc, t->data, span, fp);
    if (m)
        return m;
    tb_accel_wcache_make_room(&c->wc, span);
    if (!(m = new_buffer(c, CL_MEM_READ_ONLY, row * (size_t)rows, t->name, err)))
        return NULL;
    if (upload_rows(c, m, 0, t->data, t->nb[1], row, rows, err)) {
        clReleaseMemObject(m);
        tb_err_prefix(err, "weight %s", t->name);
        return NULL;
    }
    /* the cache owns m from here, also when the insert fails */
    return tb_accel_wcache_insert(&c->wc, t->data, span, fp, m, err) ? NULL : m;
}

/* ---- launches */

struct karg {
    size_t size;
    const void *p;
};

static int launch(struct ocl_ctx *c, int kid, const struct karg *args, int n_args, cl_uint dims,
                  const size_t *gws, const size_t *lws, struct tb_err *err)
{
    cl_kernel k = c->k[kid];
    for (int i = 0; i < n_args; i++) {
        cl_int e = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].p);
        if (e != CL_SUCCESS)
            return tb_err_set(err, TB_EBACKEND, NAME ": %s argument %d: %s (%d)",
                              k_kernel_names[kid], i, cl_errname(e), (int)e);
    }
    if (c->n_ev == c->cap_ev) {
        const int cap = c->cap_ev ? 2 * c->cap_ev : 64;
        cl_event *p = realloc(c->ev, (size_t)cap * sizeof *p);
        if (!p)
            return tb_err_set(err, TB_ENOMEM, NAME ": cannot grow the event list");
        c->ev = p;
        c->cap_ev = cap;
    }
    cl_int e = clEnqueueNDRangeKernel(c->q, k, dims, NULL, gws, lws, 0, NULL, &c->ev[c->n_ev]);
    if (e != CL_SUCCESS)
        return tb_err_set(err, TB_EBACKEND, NAME ": launching %s: %s (%d)", k_kernel_names[kid],
                          cl_errname(e), (int)e);
    c->n_ev++;
    return TB_OK;
}

#define ARG(v)                                                                                     \
    {                                                                                              \
        sizeof(v), &(v)                                                                            \
    }
#define LAUNCH(kid, dims, gws, lws, ...)                                                           \
    launch(c, kid, (const struct karg[]){__VA_ARGS__},                                             \
           (int)(sizeof((const struct karg[]){__VA_ARGS__}) / sizeof(struct karg)), dims, gws,     \
           lws, err)

/* Ends a range: waits, books the kernels' device time as evidence, drops
 * the mirrors. Runs after failures too, so nothing outlives the call. */
static int end_range(struct ocl_ctx *c, struct tb_err *err)
{
    int rc = wait_queue(c, err);
    for (int i = 0; i < c->n_ev; i++) {
        cl_ulong t0 = 0, t1 = 0;
        if (rc == TB_OK &&
            (clGetEventProfilingInfo(c->ev[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) ||
             clGetEventProfilingInfo(c->ev[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL)))
            rc = tb_err_set(err, TB_EBACKEND, NAME ": no profiling info for a kernel");
        c->evd.last_launches++;
        c->evd.total_launches++;
        if (t1 > t0) {
            c->evd.last_device_ns += t1 - t0;
            c->evd.total_device_ns += t1 - t0;
        }
        clReleaseEvent(c->ev[i]);
    }
    c->n_ev = 0;
    tb_accel_res_end(&c->res);
    return rc;
}

/* ---- the ops: sources via src_rows / weight, dst into a pooled buffer
 * handed to store_dst (on failure the caller's end_range cleans up) */

#define NEED(p)                                                                                    \
    do {                                                                                           \
        if (!(p))                                                                                  \
            return err ? err->code : TB_ENOMEM;                                                    \
    } while (0)

static int op_get_rows(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *tab = op->src[0], *ids = op->src[1], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    /* ids are checked on the host: their bytes must be there */
    int rc = host_readable(c, ids->data, tb_tensor_nbytes(ids), err);
    if (rc || (rc = tb_accel_check_ids(NAME, op, err)))
        return rc;
    cl_mem mt = weight(c, tab, err);
    NEED(mt);
    cl_mem mi = src_rows(c, S_SRC1, ids, 0, tb_tensor_nrows(ids), err);
    NEED(mi);
    cl_mem md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    const cl_ulong nb1 = tb_accel_row_bytes(tab);
    const cl_int K = (cl_int)tab->ne[0], type = (cl_int)tab->type;
    const size_t gws[2] = {(size_t)K, (size_t)n};
    if ((rc = LAUNCH(K_GET_ROWS, 2, gws, NULL, ARG(mt), ARG(nb1), ARG(mi), ARG(md), ARG(K),
                     ARG(type)))) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    return store_dst(c, md, d, 0, n, err);
}

static int op_rms_norm(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *x = op->src[0], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    cl_mem mw = weight(c, op->src[1], err);
    NEED(mw);
    cl_mem mx = src_rows(c, S_SRC0, x, 0, n, err);
    NEED(mx);
    cl_mem md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    const cl_int K = (cl_int)x->ne[0];
    const cl_float eps = op->p.eps;
    const size_t gws[1] = {(size_t)n * TB_CL_WG}, lws[1] = {TB_CL_WG};
    int rc = LAUNCH(K_RMS_NORM, 1, gws, lws, ARG(mx), ARG(mw), ARG(md), ARG(K), ARG(eps));
    if (rc) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    return store_dst(c, md, d, 0, n, err);
}

static int op_matmul(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *W = op->src[0], *X = op->src[1], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d), N = tb_tensor_nrows(W);
    cl_mem mw = weight(c, W, err);
    NEED(mw);
    cl_mem mx = src_rows(c, S_SRC1, X, 0, n, err);
    NEED(mx);
    cl_mem md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    const cl_ulong nb1 = tb_accel_row_bytes(W);
    const cl_int K = (cl_int)W->ne[0], cN = (cl_int)N, cn = (cl_int)n, type = (cl_int)W->type;
    const size_t gws[2] = {(size_t)N * TB_CL_WG, (size_t)((n + TB_CL_MM_ROWS - 1) / TB_CL_MM_ROWS)};
    const size_t lws[2] = {TB_CL_WG, 1};
    int rc = LAUNCH(K_MATMUL, 2, gws, lws, ARG(mw), ARG(nb1), ARG(mx), ARG(md), ARG(K), ARG(cN),
                    ARG(cn), ARG(type));
    if (rc) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    return store_dst(c, md, d, 0, n, err);
}

/* theta^(-2k/hd) on the device, rebuilt when (hd, theta) changes */
static cl_mem rope_freqs(struct ocl_ctx *c, int hd, float theta, struct tb_err *err)
{
    if (c->freq && c->freq_hd == hd && c->freq_theta == theta)
        return c->freq;
    if (c->freq)
        clReleaseMemObject(c->freq);
    c->freq = NULL;
    float *f = malloc((size_t)(hd / 2) * sizeof *f);
    if (!f) {
        tb_err_set(err, TB_ENOMEM, NAME ": rope frequency table");
        return NULL;
    }
    tb_accel_rope_freqs(f, hd, theta);
    cl_int e;
    c->freq = clCreateBuffer(c->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             (size_t)(hd / 2) * sizeof *f, f, &e);
    free(f);
    if (!c->freq) {
        cl_fail(err, e, "rope frequency table");
        return NULL;
    }
    tb_accel_book_h2d(&c->evd, (uint64_t)(hd / 2) * sizeof(float));
    c->freq_hd = hd;
    c->freq_theta = theta;
    return c->freq;
}

static int op_rope(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *x = op->src[0], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    const int hd = op->p.head_dim;
    cl_mem mf = rope_freqs(c, hd, op->p.rope_theta, err);
    NEED(mf);
    cl_mem mx = src_rows(c, S_SRC0, x, 0, n, err);
    NEED(mx);
    cl_mem md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    const cl_int chd = hd, pos0 = op->p.pos0;
    const size_t gws[2] = {(size_t)op->p.n_head * (size_t)(hd / 2), (size_t)n};
    int rc = LAUNCH(K_ROPE, 2, gws, NULL, ARG(mx), ARG(md), ARG(mf), ARG(chd), ARG(pos0));
    if (rc) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    return store_dst(c, md, d, 0, n, err);
}

static int op_kv_store(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *x = op->src[0], *cache = op->dst;
    const int64_t n = tb_tensor_nrows(x);
    cl_mem mx = src_rows(c, S_SRC0, x, 0, n, err);
    NEED(mx);
    cl_mem md = tb_accel_res_get(&c->res, tb_accel_row_bytes(cache) * (size_t)n, err);
    NEED(md);
    const cl_int dim = (cl_int)x->ne[0], f16 = cache->type == TB_TYPE_F16;
    const size_t gws[2] = {(size_t)dim, (size_t)n};
    int rc = LAUNCH(K_KV_STORE, 2, gws, NULL, ARG(mx), ARG(md), ARG(dim), ARG(f16));
    if (!rc) /* the resident copy gets the rows on the device */
        rc = tb_accel_kv_stored(&c->kv, cache, op->p.pos0, n, md, err);
    if (rc) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    /* only the rows written travel back; the others keep their host values */
    return store_dst(c, md, cache, op->p.pos0, n, err);
}

static int op_attention(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *q = op->src[0], *kc = op->src[1], *vc = op->src[2], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d), n_kv = op->p.pos0 + n; /* rows anyone sees */
    cl_mem mq = src_rows(c, S_SRC0, q, 0, n, err);
    NEED(mq);
    /* the resident caches when kept, else rows uploaded per call */
    void *rk = NULL, *rv = NULL;
    int rc = tb_accel_kv_rows(&c->kv, kc, n_kv, &rk, err);
    if (rc || (rc = tb_accel_kv_rows(&c->kv, vc, n_kv, &rv, err)))
        return rc;
    cl_mem mk = rk ? (cl_mem)rk : src_rows(c, S_SRC1, kc, 0, n_kv, err);
    NEED(mk);
    cl_mem mv = rv ? (cl_mem)rv : src_rows(c, S_SRC2, vc, 0, n_kv, err);
    NEED(mv);
    cl_mem ms =
        scratch(c, S_AUX, (size_t)n * (size_t)op->p.n_head * (size_t)n_kv * sizeof(float), err);
    NEED(ms);
    cl_mem md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    const cl_int hd = op->p.head_dim, nh = op->p.n_head, nkv = op->p.n_head_kv, pos0 = op->p.pos0,
                 n_kv_max = (cl_int)n_kv, nc = op->p.non_causal != 0,
                 kf16 = kc->type == TB_TYPE_F16, vf16 = vc->type == TB_TYPE_F16;
    const cl_float scale = op->p.scale;
    const size_t gws[2] = {(size_t)nh * TB_CL_WG, (size_t)n}, lws[2] = {TB_CL_WG, 1};
    rc = LAUNCH(K_ATTENTION, 2, gws, lws, ARG(mq), ARG(mk), ARG(mv), ARG(md), ARG(ms), ARG(hd),
                ARG(nh), ARG(nkv), ARG(pos0), ARG(n_kv_max), ARG(nc), ARG(scale), ARG(kf16),
                ARG(vf16));
    if (rc) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    return store_dst(c, md, d, 0, n, err);
}

static int op_eltwise(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *a = op->src[0], *b = op->src[1], *d = op->dst;
    const int64_t n = tb_tensor_nrows(d);
    cl_mem ma = src_rows(c, S_SRC0, a, 0, n, err);
    NEED(ma);
    cl_mem mb = op->kind == TB_OP_SILU ? ma : src_rows(c, S_SRC1, b, 0, n, err);
    NEED(mb);
    cl_mem md = tb_accel_res_get(&c->res, tb_accel_row_bytes(d) * (size_t)n, err);
    NEED(md);
    const cl_int code = op->kind == TB_OP_SILU ? 0 : op->kind == TB_OP_MUL ? 1 : 2;
    const size_t gws[1] = {(size_t)a->ne[0] * (size_t)n};
    int rc = LAUNCH(K_ELTWISE, 1, gws, NULL, ARG(ma), ARG(mb), ARG(md), ARG(code));
    if (rc) {
        tb_accel_res_put(&c->res, md);
        return rc;
    }
    return store_dst(c, md, d, 0, n, err);
}

static int run_op(struct ocl_ctx *c, const struct tb_op *op, struct tb_err *err)
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
static int run_range(struct ocl_ctx *c, const struct tb_op *ops, int count, uint64_t *op_ns,
                     struct tb_err *err)
{
    tb_accel_evidence_begin(&c->evd);
    int rc = TB_OK;
    for (int i = 0; i < count && !rc; i++) {
        const uint64_t t0 = op_ns ? tb_now_ns() : 0;
        rc = run_op(c, &ops[i], err);
        if (!rc && op_ns) {
            rc = wait_queue(c, err);
            op_ns[i] = tb_now_ns() - t0;
        }
    }
    const int rc2 = end_range(c, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- vtable */

static const char *ocl_name(void *ctx)
{
    (void)ctx;
    return NAME;
}

static const char *ocl_device_name(void *ctx)
{
    return ((struct ocl_ctx *)ctx)->device;
}

static const char *ocl_device_vendor(void *ctx)
{
    return ((struct ocl_ctx *)ctx)->vendor;
}

static enum tb_device_kind ocl_device_kind(void *ctx)
{
    return ((struct ocl_ctx *)ctx)->kind;
}

static bool ocl_supports_op(void *ctx, const struct tb_op *op)
{
    (void)ctx;
    return tb_op_validate(NAME, op, k_wtypes, NULL) == TB_OK;
}

static int ocl_compute_op(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    return run_range(ctx, op, 1, NULL, err);
}

static int ocl_compute_graph(void *ctx, const struct tb_graph *g, int first, int count,
                             uint64_t *op_ns, struct tb_err *err)
{
    return run_range(ctx, g->ops + first, count, op_ns, err);
}

static int ocl_op_evidence(void *ctx, struct tb_op_evidence *out)
{
    *out = ((struct ocl_ctx *)ctx)->evd;
    return TB_OK;
}

static int ocl_synchronize(void *ctx, struct tb_err *err)
{
    return wait_queue(ctx, err);
}

/* ---- buffers: cl_mem, copies blocking and in queue order */

static int ocl_buffer_alloc(void *ctx, size_t nbytes, void **dev, struct tb_err *err)
{
    struct ocl_ctx *c = ctx;
    cl_ulong max = 0;
    clGetDeviceInfo(c->dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max, &max, NULL);
    if (max && (cl_ulong)nbytes > max)
        return tb_err_set(err, TB_ENOMEM,
                          NAME ": buffer of %zu bytes exceeds the device's largest allocation "
                               "(%llu bytes) on %s",
                          nbytes, (unsigned long long)max, c->device);
    *dev = new_buffer(c, CL_MEM_READ_WRITE, nbytes, "a buffer", err);
    return *dev ? TB_OK : TB_ENOMEM;
}

static void ocl_buffer_free(void *ctx, void *dev)
{
    release_mem(ctx, dev);
}

static int ocl_buffer_set(void *ctx, void *dev, size_t offset, const void *src, size_t n,
                          struct tb_err *err)
{
    struct ocl_ctx *c = ctx;
    cl_int e = clEnqueueWriteBuffer(c->q, (cl_mem)dev, CL_TRUE, offset, n, src, 0, NULL, NULL);
    if (e != CL_SUCCESS)
        return cl_fail(err, e, "buffer_set");
    tb_accel_book_h2d(&c->evd, n);
    return TB_OK;
}

static int ocl_buffer_get(void *ctx, void *dev, size_t offset, void *dst, size_t n,
                          struct tb_err *err)
{
    struct ocl_ctx *c = ctx;
    cl_int e = clEnqueueReadBuffer(c->q, (cl_mem)dev, CL_TRUE, offset, n, dst, 0, NULL, NULL);
    if (e != CL_SUCCESS)
        return cl_fail(err, e, "buffer_get");
    tb_accel_book_d2h(&c->evd, n);
    return TB_OK;
}

static void ocl_host_written(void *ctx, const void *host, size_t nbytes)
{
    tb_accel_kv_host_written(&((struct ocl_ctx *)ctx)->kv, host, nbytes);
}

static void ocl_free(void *ctx)
{
    struct ocl_ctx *c = ctx;
    if (!c)
        return;
    if (c->q && c->res.ops.wait) /* set up together with the queue */
        end_range(c, NULL);
    tb_accel_wcache_free(&c->wc);
    tb_accel_kv_free(&c->kv);
    for (int i = 0; i < S_COUNT; i++)
        if (c->scr[i].m)
            clReleaseMemObject(c->scr[i].m);
    tb_accel_res_free(&c->res);
    if (c->freq)
        clReleaseMemObject(c->freq);
    for (int i = 0; i < K_COUNT; i++)
        if (c->k[i])
            clReleaseKernel(c->k[i]);
    if (c->prog)
        clReleaseProgram(c->prog);
    if (c->q)
        clReleaseCommandQueue(c->q);
    if (c->ctx)
        clReleaseContext(c->ctx);
    free(c->ev);
    free(c);
}

/* ---- creation */

/* Device `want` (TB_OPENCL_DEVICE "p:d"), else the first GPU, else the first
 * device of any platform. */
static int pick_device(cl_device_id *out, struct tb_err *err)
{
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e != CL_SUCCESS || np == 0)
        return tb_err_set(err, TB_EBACKEND, NAME ": no OpenCL platform (clGetPlatformIDs: %s)",
                          e != CL_SUCCESS ? cl_errname(e) : "0 platforms");
    cl_platform_id plats[16];
    if (np > 16)
        np = 16;
    if ((e = clGetPlatformIDs(np, plats, NULL)) != CL_SUCCESS)
        return cl_fail(err, e, "clGetPlatformIDs");
    const char *want = getenv("TB_OPENCL_DEVICE");
    if (want && *want) {
        unsigned p, d;
        char tail;
        if (sscanf(want, "%u:%u%c", &p, &d, &tail) != 2)
            return tb_err_set(err, TB_EINVAL,
                              NAME ": TB_OPENCL_DEVICE='%s' is not platform:device (e.g. 0:0)",
                              want);
        cl_device_id devs[64];
        cl_uint nd = 0;
        if (p >= np || clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS ||
            d >= nd)
            return tb_err_set(err, TB_EBACKEND,
                              NAME ": TB_OPENCL_DEVICE=%u:%u names no device (%u platform(s))", p,
                              d, np);
        *out = devs[d];
        return TB_OK;
    }
    static const cl_device_type order[2] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ALL};
    for (int o = 0; o < 2; o++)
        for (cl_uint p = 0; p < np; p++) {
            cl_uint nd = 0;
            if (clGetDeviceIDs(plats[p], order[o], 1, out, &nd) == CL_SUCCESS && nd > 0)
                return TB_OK;
        }
    return tb_err_set(err, TB_EBACKEND, NAME ": %u OpenCL platform(s) but no device", np);
}

static int build_program(struct ocl_ctx *c, struct tb_err *err)
{
    const char *src = tb_cl_source;
    cl_int e;
    c->prog = clCreateProgramWithSource(c->ctx, 1, &src, NULL, &e);
    if (!c->prog)
        return cl_fail(err, e, "clCreateProgramWithSource");
    char opts[1024];
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(c->dev, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    const char *extra = getenv("TB_OPENCL_EXTRA_BUILD_OPTIONS");
    snprintf(opts, sizeof opts, "-DWG=%d -DMM_ROWS=%d%s %s", TB_CL_WG, TB_CL_MM_ROWS,
             (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) ? " -cl-fp32-correctly-rounded-divide-sqrt"
                                                        : "",
             extra ? extra : "");
    e = clBuildProgram(c->prog, 1, &c->dev, opts, NULL, NULL);
    if (e != CL_SUCCESS) {
        /* the log's first lines are the disabled reason */
        char log[400] = "";
        size_t len = 0;
        clGetProgramBuildInfo(c->prog, c->dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
        char *full = len ? malloc(len + 1) : NULL;
        if (full && clGetProgramBuildInfo(c->prog, c->dev, CL_PROGRAM_BUILD_LOG, len, full, NULL) ==
                        CL_SUCCESS) {
            full[len] = '\0';
            snprintf(log, sizeof log, "%s", full);
        }
        free(full);
        int lines = 0;
        for (char *p = log; *p; p++)
            if (*p == '\n' && ++lines < 3)
                *p = ' ';
            else if (*p == '\n' || *p == '\r') {
                *p = '\0';
                break;
            }
        return tb_err_set(err, TB_EBACKEND, NAME ": kernel build failed on %s (%s): %s", c->device,
                          cl_errname(e), log[0] ? log : "no build log");
    }
    for (int i = 0; i < K_COUNT; i++) {
        c->k[i] = clCreateKernel(c->prog, k_kernel_names[i], &e);
        if (!c->k[i])
            return cl_fail(err, e, k_kernel_names[i]);
        size_t wg = 0;
        clGetKernelWorkGroupInfo(c->k[i], c->dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
        if (wg < TB_CL_WG)
            return tb_err_set(err, TB_EBACKEND,
                              NAME ": kernel %s allows work-groups of %zu, needs %d on %s",
                              k_kernel_names[i], wg, TB_CL_WG, c->device);
    }
    return TB_OK;
}

static int setup(struct ocl_ctx *c, struct tb_err *err)
{
    int rc = pick_device(&c->dev, err);
    if (rc)
        return rc;
    char name[256] = "", version[128] = "";
    cl_device_type type = 0;
    cl_ulong mem = 0;
    clGetDeviceInfo(c->dev, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_VENDOR, sizeof c->vendor - 1, c->vendor, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_VERSION, sizeof version - 1, version, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    /* the type the runtime reports, so a CPU runtime (PoCL) is not a GPU */
    c->kind = (type & CL_DEVICE_TYPE_GPU)   ? TB_DEVICE_GPU
              : (type & CL_DEVICE_TYPE_CPU) ? TB_DEVICE_CPU
                                            : TB_DEVICE_OTHER;
    snprintf(c->device, sizeof c->device, "%s (%s; %s)", name, c->vendor, version);
    cl_int e;
    c->ctx = clCreateContext(NULL, 1, &c->dev, NULL, NULL, &e);
    if (!c->ctx)
        return cl_fail(err, e, "clCreateContext");
    c->q = clCreateCommandQueue(c->ctx, c->dev, CL_QUEUE_PROFILING_ENABLE, &e);
    if (!c->q)
        return cl_fail(err, e, "clCreateCommandQueue");
    c->wc = (struct tb_accel_wcache){.budget = (size_t)(mem / 2), .release = release_mem};
    c->res = (struct tb_accel_res){.ops = {res_alloc, release_mem, res_wait}, .user = c};
    c->kv = (struct tb_accel_kv){.ops = {res_alloc, release_mem, kv_upload, kv_copy},
                                 .user = c,
                                 .res = &c->res,
                                 .evd = &c->evd,
                                 .budget = tb_accel_kv_budget(mem)};
    return build_program(c, err);
}

int tb_backend_opencl_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                             struct tb_err *err)
{
    (void)cfg; /* the device schedules its own threads */
    *out = NULL;
    struct tb_backend *b = calloc(1, sizeof *b);
    struct ocl_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return tb_err_set(err, TB_ENOMEM, NAME ": cannot allocate backend");
    }
    int rc = setup(c, err);
    if (rc) {
        ocl_free(c);
        free(b);
        return rc;
    }
    b->iface = (struct tb_backend_i){
        .name = ocl_name,
        .device_kind = ocl_device_kind,
        .supports_op = ocl_supports_op,
        .compute_op = ocl_compute_op,
        .free = ocl_free,
        .device_name = ocl_device_name,
        .compute_graph = ocl_compute_graph,
        .device_vendor = ocl_device_vendor,
        .op_evidence = ocl_op_evidence,
        .synchronize = ocl_synchronize,
        .buffer_alloc = ocl_buffer_alloc,
        .buffer_free = ocl_buffer_free,
        .buffer_set = ocl_buffer_set,
        .buffer_get = ocl_buffer_get,
        .host_written = ocl_host_written,
    };
    b->context = c;
    *out = b;
    return TB_OK;
}

#else /* !TB_HAVE_OPENCL */

#include <stddef.h>

int tb_backend_opencl_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                             struct tb_err *err)
{
    (void)cfg;
    *out = NULL;
    return tb_err_set(err, TB_EUNSUPPORTED, "opencl: built without OpenCL");
}

#endif

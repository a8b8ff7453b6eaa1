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
 * waited for. Device time: a cudaEvent pair around each kernel. The
 * dispatch (validation, residency, evidence) is the shared accelerator
 * glue (kernels/accel/accel_backend.h); this file has the device calls. */
#include "kernels/tb_backend_impl.h"

#ifdef TB_HAVE_CUDA

#include "kernels/accel/accel_backend.h"
#include "kernels/accel/accel_op.h"
#include "kernels/cuda/cuda_kernels.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "cuda"

struct cu_ctx {
    cudaStream_t s;
    bool have_stream;
    char device[384];
    /* event pairs around the kernels of the range: 2*i start, 2*i+1 end;
     * created on demand, reused across ranges */
    cudaEvent_t *ev;
    int n_ev_made, n_launch, cap_ev;
};

static const unsigned k_wtypes = TB_WTYPE_BIT(TB_TYPE_F32) | TB_WTYPE_BIT(TB_TYPE_F16) |
                                 TB_WTYPE_BIT(TB_TYPE_Q8_0) | TB_WTYPE_BIT(TB_TYPE_Q4_0);

static int cu_fail(struct tb_err *err, cudaError_t e, const char *what)
{
    return tb_err_set(err, TB_EBACKEND, NAME ": %s: %s (%s)", what, cudaGetErrorString(e),
                      cudaGetErrorName(e));
}

/* ---- device calls (struct tb_accel_device_i) */

static void *cu_alloc(void *dev, size_t bytes, bool read_only, const char *what, struct tb_err *err)
{
    (void)dev;
    (void)read_only;
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

static void cu_release(void *dev, void *mem)
{
    cudaStreamSynchronize(((struct cu_ctx *)dev)->s); /* queued kernels may read it */
    cudaFree(mem);
}

static int cu_wait(void *dev, struct tb_err *err)
{
    cudaError_t e = cudaStreamSynchronize(((struct cu_ctx *)dev)->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, "cudaStreamSynchronize");
}

static int cu_upload(void *dev, void *mem, size_t off, const void *host, size_t nb1, size_t row,
                     int64_t rows, struct tb_err *err)
{
    cudaError_t e = cudaMemcpy2DAsync((char *)mem + off, row, host, nb1, row, (size_t)rows,
                                      cudaMemcpyHostToDevice, ((struct cu_ctx *)dev)->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, "upload");
}

/* to pageable host memory: the runtime completes it before returning */
static int cu_download(void *dev, void *host, size_t nb1, void *mem, size_t row, int64_t rows,
                       struct tb_err *err)
{
    cudaError_t e = cudaMemcpy2DAsync(host, nb1, mem, row, row, (size_t)rows,
                                      cudaMemcpyDeviceToHost, ((struct cu_ctx *)dev)->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, "download");
}

static int cu_copy(void *dev, void *dst, size_t off, void *src, size_t bytes, struct tb_err *err)
{
    cudaError_t e = cudaMemcpyAsync((char *)dst + off, src, bytes, cudaMemcpyDeviceToDevice,
                                    ((struct cu_ctx *)dev)->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, "KV rows into the resident cache");
}

/* One synchronous copy on the stream (after its queued work). */
static int sync_copy(struct cu_ctx *c, void *dst, const void *src, size_t n,
                     enum cudaMemcpyKind kind, const char *what, struct tb_err *err)
{
    cudaError_t e = cudaMemcpyAsync(dst, src, n, kind, c->s);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(c->s);
    return e == cudaSuccess ? TB_OK : cu_fail(err, e, what);
}

static int cu_write_sync(void *dev, void *mem, size_t off, const void *src, size_t n,
                         struct tb_err *err)
{
    return sync_copy(dev, (char *)mem + off, src, n, cudaMemcpyHostToDevice, "buffer_set", err);
}

static int cu_read_sync(void *dev, void *mem, size_t off, void *dst, size_t n, struct tb_err *err)
{
    return sync_copy(dev, dst, (const char *)mem + off, n, cudaMemcpyDeviceToHost, "buffer_get",
                     err);
}

/* the range's event pairs: launches and elapsed device time */
static int cu_collect(void *dev, bool ok, uint64_t *launches, uint64_t *device_ns,
                      struct tb_err *err)
{
    struct cu_ctx *c = dev;
    int rc = TB_OK;
    for (int i = 0; i < c->n_launch; i++) {
        float ms = 0.0f;
        if (ok && rc == TB_OK) {
            cudaError_t e = cudaEventElapsedTime(&ms, c->ev[2 * i], c->ev[2 * i + 1]);
            if (e != cudaSuccess)
                rc = cu_fail(err, e, "cudaEventElapsedTime");
        }
        *device_ns += (uint64_t)((double)ms * 1e6);
    }
    *launches += (uint64_t)c->n_launch;
    c->n_launch = 0;
    return rc;
}

static void cu_destroy(void *dev)
{
    struct cu_ctx *c = dev;
    if (!c)
        return;
    for (int i = 0; i < c->n_ev_made; i++)
        cudaEventDestroy(c->ev[i]);
    free(c->ev);
    if (c->have_stream)
        cudaStreamDestroy(c->s);
    free(c);
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

/* call (a tb_cuda_* launcher) between the event pair */
#define LAUNCH(what, call)                                                                         \
    do {                                                                                           \
        struct cu_ctx *c_ = dev;                                                                   \
        int rc_ = begin_launch(c_, err);                                                           \
        return rc_ ? rc_ : end_launch(c_, (call), what, err);                                      \
    } while (0)
#define S (((struct cu_ctx *)dev)->s)

static int k_get_rows(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                      struct tb_err *err)
{
    const struct tb_tensor *tab = op->src[0];
    LAUNCH("get_rows", tb_cuda_get_rows(S, b->src[0], tb_accel_row_bytes(tab), b->src[1], b->dst,
                                        (int)tab->ne[0], (int)b->n, (int)tab->type));
}

static int k_rms_norm(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                      struct tb_err *err)
{
    LAUNCH("rms_norm", tb_cuda_rms_norm(S, b->src[0], b->src[1], b->dst, (int)op->src[0]->ne[0],
                                        (int)b->n, op->p.eps));
}

static int k_matmul(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                    struct tb_err *err)
{
    const struct tb_tensor *W = op->src[0];
    LAUNCH("matmul",
           tb_cuda_matmul(S, b->src[0], tb_accel_row_bytes(W), b->src[1], b->dst, (int)W->ne[0],
                          (int)tb_tensor_nrows(W), (int)b->n, (int)W->type));
}

static int k_rope(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                  struct tb_err *err)
{
    LAUNCH("rope", tb_cuda_rope(S, b->src[0], b->dst, b->aux, op->p.head_dim, op->p.n_head,
                                (int)b->n, op->p.pos0));
}

static int k_kv_store(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                      struct tb_err *err)
{
    LAUNCH("kv_store", tb_cuda_kv_store(S, b->src[0], b->dst, (int)op->src[0]->ne[0], (int)b->n,
                                        op->dst->type == TB_TYPE_F16));
}

static int k_attention(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                       struct tb_err *err)
{
    LAUNCH("attention",
           tb_cuda_attention(S, b->src[0], b->src[1], b->src[2], b->dst, b->aux, op->p.head_dim,
                             op->p.n_head, op->p.n_head_kv, (int)b->n, op->p.pos0, (int)b->n_kv,
                             op->p.non_causal != 0, op->p.scale, op->src[1]->type == TB_TYPE_F16,
                             op->src[2]->type == TB_TYPE_F16));
}

static int k_eltwise(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                     struct tb_err *err)
{
    const int code = op->kind == TB_OP_SILU ? 0 : op->kind == TB_OP_MUL ? 1 : 2;
    LAUNCH("eltwise", tb_cuda_eltwise(S, b->src[0], b->src[1], b->dst,
                                      (size_t)op->src[0]->ne[0] * (size_t)b->n, code));
}

#undef S

static int setup(void *dev, struct tb_accel_info *info, struct tb_err *err);

static const struct tb_accel_device_i k_device = {
    NAME,       sizeof(struct cu_ctx), setup,   cu_alloc,      cu_release,   cu_wait,
    cu_upload,  cu_download,           cu_copy, cu_write_sync, cu_read_sync, cu_collect,
    cu_destroy,
};

static const struct tb_accel_kernels_i k_kernels = {
    k_get_rows, k_rms_norm, k_matmul, k_rope, k_kv_store, k_attention, k_eltwise,
};

/* ---- creation */

static int setup(void *dev, struct tb_accel_info *info, struct tb_err *err)
{
    struct cu_ctx *c = dev;
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
    *info = (struct tb_accel_info){.device = c->device,
                                   .vendor = "NVIDIA",
                                   .kind = TB_DEVICE_GPU,
                                   .wtypes = k_wtypes,
                                   .mem = prop.totalGlobalMem};
    return TB_OK;
}

int tb_backend_cuda_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                           struct tb_err *err)
{
    (void)cfg; /* the device schedules its own threads */
    return tb_accel_backend_create(&k_device, &k_kernels, out, err);
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

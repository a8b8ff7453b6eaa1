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
 * (supports_op says so; the scheduler places those ops elsewhere). The
 * dispatch (validation, residency, evidence) is the shared accelerator
 * glue (kernels/accel/accel_backend.h); this file has the device calls. */
#include "kernels/tb_backend_impl.h"

#ifdef TB_HAVE_OPENCL

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "kernels/accel/accel_backend.h"
#include "kernels/accel/accel_op.h"
#include "kernels/opencl/cl_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "opencl"

enum { K_GET_ROWS, K_MATMUL, K_RMS_NORM, K_ROPE, K_KV_STORE, K_ATTENTION, K_ELTWISE, K_COUNT };
static const char *const k_kernel_names[K_COUNT] = {"get_rows", "matmul",    "rms_norm", "rope",
                                                    "kv_store", "attention", "eltwise"};

struct ocl_ctx {
    cl_device_id dev;
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k[K_COUNT];
    char device[640];
    char vendor[128];
    cl_event *ev; /* kernels of the range in flight */
    int n_ev, cap_ev;
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

/* ---- device calls (struct tb_accel_device_i) */

static void *ocl_alloc(void *dev, size_t bytes, bool read_only, const char *what,
                       struct tb_err *err)
{
    cl_int e;
    cl_mem m = clCreateBuffer(((struct ocl_ctx *)dev)->ctx,
                              read_only ? CL_MEM_READ_ONLY : CL_MEM_READ_WRITE, bytes ? bytes : 4,
                              NULL, &e);
    if (!m)
        tb_err_set(err, TB_ENOMEM, NAME ": cannot allocate %zu device bytes for %s: %s", bytes,
                   what, cl_errname(e));
    return m;
}

static void ocl_release(void *dev, void *mem)
{
    (void)dev;
    clReleaseMemObject((cl_mem)mem); /* queued commands keep it alive */
}

static int ocl_wait(void *dev, struct tb_err *err)
{
    cl_int e = clFinish(((struct ocl_ctx *)dev)->q);
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "clFinish");
}

static int ocl_upload(void *dev, void *mem, size_t off, const void *host, size_t nb1, size_t row,
                      int64_t rows, struct tb_err *err)
{
    cl_command_queue q = ((struct ocl_ctx *)dev)->q;
    cl_int e;
    if (nb1 == row || rows == 1) {
        e = clEnqueueWriteBuffer(q, (cl_mem)mem, CL_FALSE, off, row * (size_t)rows, host, 0, NULL,
                                 NULL);
    } else {
        const size_t origin[3] = {0, 0, 0}, dorg[3] = {off, 0, 0},
                     region[3] = {row, (size_t)rows, 1};
        e = clEnqueueWriteBufferRect(q, (cl_mem)mem, CL_FALSE, dorg, origin, region, row, 0, nb1, 0,
                                     host, 0, NULL, NULL);
    }
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "upload");
}

static int ocl_download(void *dev, void *host, size_t nb1, void *mem, size_t row, int64_t rows,
                        struct tb_err *err)
{
    cl_command_queue q = ((struct ocl_ctx *)dev)->q;
    cl_int e;
    if (nb1 == row || rows == 1) {
        e = clEnqueueReadBuffer(q, (cl_mem)mem, CL_FALSE, 0, row * (size_t)rows, host, 0, NULL,
                                NULL);
    } else {
        const size_t origin[3] = {0, 0, 0}, region[3] = {row, (size_t)rows, 1};
        e = clEnqueueReadBufferRect(q, (cl_mem)mem, CL_FALSE, origin, origin, region, row, 0, nb1,
                                    0, host, 0, NULL, NULL);
    }
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "download");
}

static int ocl_copy(void *dev, void *dst, size_t off, void *src, size_t bytes, struct tb_err *err)
{
    cl_int e = clEnqueueCopyBuffer(((struct ocl_ctx *)dev)->q, (cl_mem)src, (cl_mem)dst, 0, off,
                                   bytes, 0, NULL, NULL);
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "KV rows into the resident cache");
}

static int ocl_write_sync(void *dev, void *mem, size_t off, const void *src, size_t n,
                          struct tb_err *err)
{
    cl_int e = clEnqueueWriteBuffer(((struct ocl_ctx *)dev)->q, (cl_mem)mem, CL_TRUE, off, n, src,
                                    0, NULL, NULL);
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "buffer_set");
}

static int ocl_read_sync(void *dev, void *mem, size_t off, void *dst, size_t n, struct tb_err *err)
{
    cl_int e = clEnqueueReadBuffer(((struct ocl_ctx *)dev)->q, (cl_mem)mem, CL_TRUE, off, n, dst, 0,
                                   NULL, NULL);
    return e == CL_SUCCESS ? TB_OK : cl_fail(err, e, "buffer_get");
}

/* the range's profiling events: launches and device time */
static int ocl_collect(void *dev, bool ok, uint64_t *launches, uint64_t *device_ns,
                       struct tb_err *err)
{
    struct ocl_ctx *c = dev;
    int rc = TB_OK;
    for (int i = 0; i < c->n_ev; i++) {
        cl_ulong t0 = 0, t1 = 0;
        if (ok && rc == TB_OK &&
            (clGetEventProfilingInfo(c->ev[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) ||
             clGetEventProfilingInfo(c->ev[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL)))
            rc = tb_err_set(err, TB_EBACKEND, NAME ": no profiling info for a kernel");
        (*launches)++;
        if (t1 > t0)
            *device_ns += t1 - t0;
        clReleaseEvent(c->ev[i]);
    }
    c->n_ev = 0;
    return rc;
}

static void ocl_destroy(void *dev)
{
    struct ocl_ctx *c = dev;
    if (!c)
        return;
    for (int i = 0; i < c->n_ev; i++)
        clReleaseEvent(c->ev[i]);
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
/* in a launcher: dev is the context */
#define LAUNCH(kid, dims, gws, lws, ...)                                                           \
    launch((struct ocl_ctx *)dev, kid, (const struct karg[]){__VA_ARGS__},                         \
           (int)(sizeof((const struct karg[]){__VA_ARGS__}) / sizeof(struct karg)), dims, gws,     \
           lws, err)

/* ---- the kernels (struct tb_accel_kernels_i) */

static int k_get_rows(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                      struct tb_err *err)
{
    const struct tb_tensor *tab = op->src[0];
    const cl_mem mt = b->src[0], mi = b->src[1], md = b->dst;
    const cl_ulong nb1 = tb_accel_row_bytes(tab);
    const cl_int K = (cl_int)tab->ne[0], type = (cl_int)tab->type;
    const size_t gws[2] = {(size_t)K, (size_t)b->n};
    return LAUNCH(K_GET_ROWS, 2, gws, NULL, ARG(mt), ARG(nb1), ARG(mi), ARG(md), ARG(K), ARG(type));
}

static int k_rms_norm(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                      struct tb_err *err)
{
    const cl_mem mx = b->src[0], mw = b->src[1], md = b->dst;
    const cl_int K = (cl_int)op->src[0]->ne[0];
    const cl_float eps = op->p.eps;
    const size_t gws[1] = {(size_t)b->n * TB_CL_WG}, lws[1] = {TB_CL_WG};
    return LAUNCH(K_RMS_NORM, 1, gws, lws, ARG(mx), ARG(mw), ARG(md), ARG(K), ARG(eps));
}

static int k_matmul(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                    struct tb_err *err)
{
    const struct tb_tensor *W = op->src[0];
    const int64_t N = tb_tensor_nrows(W);
    const cl_mem mw = b->src[0], mx = b->src[1], md = b->dst;
    const cl_ulong nb1 = tb_accel_row_bytes(W);
    const cl_int K = (cl_int)W->ne[0], cN = (cl_int)N, cn = (cl_int)b->n, type = (cl_int)W->type;
    const size_t gws[2] = {(size_t)N * TB_CL_WG,
                           (size_t)((b->n + TB_CL_MM_ROWS - 1) / TB_CL_MM_ROWS)};
    const size_t lws[2] = {TB_CL_WG, 1};
    return LAUNCH(K_MATMUL, 2, gws, lws, ARG(mw), ARG(nb1), ARG(mx), ARG(md), ARG(K), ARG(cN),
                  ARG(cn), ARG(type));
}

static int k_rope(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                  struct tb_err *err)
{
    const cl_mem mx = b->src[0], md = b->dst, mf = b->aux;
    const cl_int chd = op->p.head_dim, pos0 = op->p.pos0;
    const size_t gws[2] = {(size_t)op->p.n_head * (size_t)(chd / 2), (size_t)b->n};
    return LAUNCH(K_ROPE, 2, gws, NULL, ARG(mx), ARG(md), ARG(mf), ARG(chd), ARG(pos0));
}

static int k_kv_store(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                      struct tb_err *err)
{
    const cl_mem mx = b->src[0], md = b->dst;
    const cl_int dim = (cl_int)op->src[0]->ne[0], f16 = op->dst->type == TB_TYPE_F16;
    const size_t gws[2] = {(size_t)dim, (size_t)b->n};
    return LAUNCH(K_KV_STORE, 2, gws, NULL, ARG(mx), ARG(md), ARG(dim), ARG(f16));
}

static int k_attention(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                       struct tb_err *err)
{
    const cl_mem mq = b->src[0], mk = b->src[1], mv = b->src[2], md = b->dst, ms = b->aux;
    const cl_int hd = op->p.head_dim, nh = op->p.n_head, nkv = op->p.n_head_kv, pos0 = op->p.pos0,
                 n_kv_max = (cl_int)b->n_kv, nc = op->p.non_causal != 0,
                 kf16 = op->src[1]->type == TB_TYPE_F16, vf16 = op->src[2]->type == TB_TYPE_F16;
    const cl_float scale = op->p.scale;
    const size_t gws[2] = {(size_t)nh * TB_CL_WG, (size_t)b->n}, lws[2] = {TB_CL_WG, 1};
    return LAUNCH(K_ATTENTION, 2, gws, lws, ARG(mq), ARG(mk), ARG(mv), ARG(md), ARG(ms), ARG(hd),
                  ARG(nh), ARG(nkv), ARG(pos0), ARG(n_kv_max), ARG(nc), ARG(scale), ARG(kf16),
                  ARG(vf16));
}

static int k_eltwise(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                     struct tb_err *err)
{
    const cl_mem ma = b->src[0], mb = b->src[1], md = b->dst;
    const cl_int code = op->kind == TB_OP_SILU ? 0 : op->kind == TB_OP_MUL ? 1 : 2;
    const size_t gws[1] = {(size_t)op->src[0]->ne[0] * (size_t)b->n};
    return LAUNCH(K_ELTWISE, 1, gws, NULL, ARG(ma), ARG(mb), ARG(md), ARG(code));
}

static int setup(void *dev, struct tb_accel_info *info, struct tb_err *err);

static const struct tb_accel_device_i k_device = {
    NAME,        sizeof(struct ocl_ctx), setup,    ocl_alloc,      ocl_release,   ocl_wait,
    ocl_upload,  ocl_download,           ocl_copy, ocl_write_sync, ocl_read_sync, ocl_collect,
    ocl_destroy,
};

static const struct tb_accel_kernels_i k_kernels = {
    k_get_rows, k_rms_norm, k_matmul, k_rope, k_kv_store, k_attention, k_eltwise,
};

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

static int setup(void *dev, struct tb_accel_info *info, struct tb_err *err)
{
    struct ocl_ctx *c = dev;
    int rc = pick_device(&c->dev, err);
    if (rc)
        return rc;
    char name[256] = "", version[128] = "";
    cl_device_type type = 0;
    cl_ulong mem = 0, max_alloc = 0;
    clGetDeviceInfo(c->dev, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_VENDOR, sizeof c->vendor - 1, c->vendor, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_VERSION, sizeof version - 1, version, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    clGetDeviceInfo(c->dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL);
    snprintf(c->device, sizeof c->device, "%s (%s; %s)", name, c->vendor, version);
    /* the type the runtime reports, so a CPU runtime (PoCL) is not a GPU */
    *info = (struct tb_accel_info){.device = c->device,
                                   .vendor = c->vendor,
                                   .kind = (type & CL_DEVICE_TYPE_GPU)   ? TB_DEVICE_GPU
                                           : (type & CL_DEVICE_TYPE_CPU) ? TB_DEVICE_CPU
                                                                         : TB_DEVICE_OTHER,
                                   .wtypes = k_wtypes,
                                   .mem = mem,
                                   .max_alloc = max_alloc};
    cl_int e;
    c->ctx = clCreateContext(NULL, 1, &c->dev, NULL, NULL, &e);
    if (!c->ctx)
        return cl_fail(err, e, "clCreateContext");
    c->q = clCreateCommandQueue(c->ctx, c->dev, CL_QUEUE_PROFILING_ENABLE, &e);
    if (!c->q)
        return cl_fail(err, e, "clCreateCommandQueue");
    return build_program(c, err);
}

int tb_backend_opencl_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                             struct tb_err *err)
{
    (void)cfg; /* the device schedules its own threads */
    return tb_accel_backend_create(&k_device, &k_kernels, out, err);
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

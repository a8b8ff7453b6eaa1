/* For backend implementers only. Slots marked (optional) may be NULL; the
 * tb_backend_* wrappers check them and fall back or return TB_EUNSUPPORTED. */
#ifndef TB_BACKEND_IMPL_H
#define TB_BACKEND_IMPL_H

#include "tb_backend.h"

struct tb_backend_i {
    const char *(*name)(void *ctx);
    enum tb_device_kind (*device_kind)(void *ctx);
    bool (*supports_op)(void *ctx, const struct tb_op *op);
    int (*compute_op)(void *ctx, const struct tb_op *op, struct tb_err *err);
    void (*free)(void *ctx);

    /* (optional) device description; default: tb_backend name */
    const char *(*device_name)(void *ctx);
    /* (optional) run a range of ops at once (lets a thread pool stay hot);
     * default: compute_op in a loop with host timing */
    int (*compute_graph)(void *ctx, const struct tb_graph *g, int first, int count, uint64_t *op_ns,
                         struct tb_err *err);
    /* (optional) thread count; default: 1 and not settable */
    int (*n_threads)(void *ctx);
    int (*set_n_threads)(void *ctx, int n, struct tb_err *err);
    /* (optional) ISA variant in use; default TB_ISA_COUNT (not a CPU backend) */
    enum tb_isa (*isa)(void *ctx);
    /* (optional) observed CPU of each bound worker; default: none */
    int (*thread_cpus)(void *ctx, int *cpus, int n);
    /* (optional) device vendor; default "" */
    const char *(*device_vendor)(void *ctx);
    /* (optional) launch / device-time evidence; default TB_EUNSUPPORTED */
    int (*op_evidence)(void *ctx, struct tb_op_evidence *out);
    /* (optional) wait for queued device work; default: nothing to wait for */
    int (*synchronize)(void *ctx, struct tb_err *err);
    /* (optional) buffers; default: 64-byte aligned host memory. *dev is the
     * backend's handle (cl_mem, device pointer). set/get are synchronous
     * and only called with a non-empty range inside the buffer. */
    int (*buffer_alloc)(void *ctx, size_t nbytes, void **dev, struct tb_err *err);
    void (*buffer_free)(void *ctx, void *dev);
    int (*buffer_set)(void *ctx, void *dev, size_t offset, const void *src, size_t n,
                      struct tb_err *err);
    int (*buffer_get)(void *ctx, void *dev, size_t offset, void *dst, size_t n, struct tb_err *err);
    /* (optional) host bytes written elsewhere (tb_backend_host_written);
     * default: the backend keeps no device copies across calls */
    void (*host_written)(void *ctx, const void *host, size_t nbytes);
};

struct tb_backend {
    struct tb_backend_i iface;
    void *context;
};

/* Constructors of the built-in backends (registry in kernels/backend.c). */
int tb_backend_cpu_ref_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                              struct tb_err *err);
int tb_backend_cpu_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                          struct tb_err *err);
/* Accelerator backends: always linked; without the SDK at build time they
 * fail with "built without OpenCL" / "built without CUDA". */
int tb_backend_opencl_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                             struct tb_err *err);
int tb_backend_cuda_create(const struct tb_backend_config *cfg, struct tb_backend **out,
                           struct tb_err *err);

/* Weight/table type bit for tb_op_validate masks. */
#define TB_WTYPE_BIT(t) (1u << (unsigned)(t))
#define TB_WTYPE_ALL TB_WTYPE_MASK /* every type in kernels/tb_wtypes.h */

/* 0 when op is well formed (tb_graph.h semantics) and its weight / table
 * type is in wtype_mask; else TB_EINVAL (bad shapes, params or types) or
 * TB_EUNSUPPORTED (a valid op whose weight type this backend lacks: the
 * scheduler places it elsewhere), with "BACKEND KIND 'name': what" in err. */
int tb_op_validate(const char *backend, const struct tb_op *op, unsigned wtype_mask,
                   struct tb_err *err);

#include "kernels/platform/tb_platform.h" /* tb_now_ns */

#endif

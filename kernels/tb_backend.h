/* Backends: the one interface through which ops run. A backend is an opaque
 * handle (struct tb_backend) over a vtable (tb_backend_impl.h) plus a private
 * context. Backends are created by name from a fixed registry; one that
 * cannot run on this host still has a handle-less entry whose
 * disabled_reason says why (tb_backend_probe).
 *
 * Built-in names: "cpu-ref" (scalar ground truth), "cpu" (SIMD + thread pool),
 * "opencl" and "cuda" (always listed; creation fails with the reason, e.g.
 * "built without CUDA", when the build or the host lacks them).
 */
#ifndef TB_BACKEND_H
#define TB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_error.h"
#include "tb_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tb_device_kind { TB_DEVICE_CPU, TB_DEVICE_GPU, TB_DEVICE_NPU, TB_DEVICE_OTHER };
const char *tb_device_kind_name(enum tb_device_kind k);

/* CPU ISA levels, ordered: a cap at level L allows every variant <= L. */
enum tb_isa { TB_ISA_SCALAR = 0, TB_ISA_AVX2 = 1, TB_ISA_AVX512 = 2, TB_ISA_COUNT };
const char *tb_isa_name(enum tb_isa isa); /* "scalar", "avx2", "avx512" */
int tb_isa_from_name(const char *name);   /* -1 if unknown */
enum tb_isa tb_isa_detect(void);          /* best level this CPU + OS support */

struct tb_backend_config {
    int n_threads;        /* 0 = one per online CPU */
    enum tb_isa isa_cap;  /* highest ISA variant allowed (TB_ISA_COUNT = no cap) */
    const int *bind_cpus; /* NULL, or [n_threads] OS CPU index for worker i (worker 0 is
                             the calling thread; the caller binds it) */
    int no_repack;        /* cpu: keep TB_TENSOR_CONST weights in the file's layout
                             instead of a repacked copy (for comparisons) */
};
void tb_backend_config_default(struct tb_backend_config *cfg);

struct tb_backend;

/* Creates backend `name`. On failure returns a negative code and err holds
 * the disabled reason (e.g. "cuda: no CUDA device found"). */
int tb_backend_create(const char *name, const struct tb_backend_config *cfg,
                      struct tb_backend **out, struct tb_err *err);
void tb_backend_free(struct tb_backend *b);

/* Names of all compiled-in backends, NULL-terminated, static storage. */
const char *const *tb_backend_names(void);

const char *tb_backend_name(const struct tb_backend *b);
const char *tb_backend_device_name(const struct tb_backend *b); /* e.g. CPU model */
enum tb_device_kind tb_backend_device_kind(const struct tb_backend *b);
bool tb_backend_supports_op(const struct tb_backend *b, const struct tb_op *op);
/* ISA variant the backend actually dispatches to (CPU backends), else TB_ISA_COUNT. */
enum tb_isa tb_backend_isa(const struct tb_backend *b);
int tb_backend_n_threads(const struct tb_backend *b);
int tb_backend_set_n_threads(struct tb_backend *b, int n, struct tb_err *err);
/* OS CPU each worker thread was last seen on after binding (sched_getcpu),
 * up to n entries; returns the count written, 0 when the backend has no
 * host workers or did not bind. */
int tb_backend_thread_cpus(const struct tb_backend *b, int *cpus, int n);

int tb_backend_compute_op(struct tb_backend *b, const struct tb_op *op, struct tb_err *err);
/* Runs ops [first, first+count) in order. If op_ns is non-NULL it receives
 * the wall time of each op in nanoseconds (op_ns[0] is op `first`). */
int tb_backend_compute_graph(struct tb_backend *b, const struct tb_graph *g, int first, int count,
                             uint64_t *op_ns, struct tb_err *err);

/* ---- accelerator evidence (additive; CPU backends leave these unset) */

/* Device vendor string (e.g. OpenCL CL_DEVICE_VENDOR); "" when not known. */
const char *tb_backend_device_vendor(const struct tb_backend *b);

/* Proof that ops really ran on the device: kernel launches and device-side
 * time (profiling events / cudaEvents) of the last compute_op or
 * compute_graph call, and since the backend was created. A silent host
 * fallback shows up as launches == 0. */
struct tb_op_evidence {
    uint64_t last_launches;
    uint64_t last_device_ns;
    uint64_t total_launches;
    uint64_t total_device_ns;
    /* bytes copied host->device (inputs, weights, KV rows, buffer_set) and
     * device->host (outputs, buffer_get); last_* since the last compute call
     * began */
    uint64_t last_h2d_bytes, last_d2h_bytes;
    uint64_t total_h2d_bytes, total_d2h_bytes;
    /* of the host->device bytes: KV-cache rows uploaded into the resident
     * device copy (docs/backends.md) */
    uint64_t last_kv_h2d_bytes, total_kv_h2d_bytes;
};
/* TB_EUNSUPPORTED (message in err) for backends that keep no evidence. */
int tb_backend_op_evidence(const struct tb_backend *b, struct tb_op_evidence *out,
                           struct tb_err *err);
/* Waits until all work queued on the device is done (no-op for synchronous
 * backends). */
int tb_backend_synchronize(struct tb_backend *b, struct tb_err *err);

/* ---- buffers (additive): memory owned by a backend, host memory for CPU
 * backends, device memory (cl_mem, cudaMalloc) for accelerators. Copies are
 * synchronous and ordered after work already queued on the backend. A
 * buffer must be freed before its backend. Compute still takes host
 * tensors; buffers are for explicit staging and transfer measurements. */
struct tb_backend_buffer;
/* TB_ENOMEM (one-line message) when the backend cannot hold nbytes. */
int tb_backend_buffer_alloc(struct tb_backend *b, size_t nbytes, struct tb_backend_buffer **out,
                            struct tb_err *err);
void tb_backend_buffer_free(struct tb_backend_buffer *buf);
size_t tb_backend_buffer_size(const struct tb_backend_buffer *buf);
/* true: the bytes are host memory at tb_backend_buffer_host_ptr (else NULL) */
bool tb_backend_buffer_is_host(const struct tb_backend_buffer *buf);
void *tb_backend_buffer_host_ptr(struct tb_backend_buffer *buf);
/* Host -> buffer bytes [offset, offset + n) / buffer -> host. TB_EINVAL
 * when the range is outside the buffer. */
int tb_backend_buffer_set(struct tb_backend_buffer *buf, size_t offset, const void *src, size_t n,
                          struct tb_err *err);
int tb_backend_buffer_get(const struct tb_backend_buffer *buf, size_t offset, void *dst, size_t n,
                          struct tb_err *err);

/* Host memory [host, host + nbytes) was written outside backend b (another
 * backend's op, a memcpy into a KV cache): b drops device copies it keeps
 * of those bytes across calls (the resident KV cache). host == NULL: all.
 * tb_sched calls it for every op output of a segment on the other
 * backends; whoever writes such memory otherwise must call it. */
void tb_backend_host_written(struct tb_backend *b, const void *host, size_t nbytes);

#ifdef __cplusplus
}
#endif
#endif

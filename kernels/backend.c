#include "tb_backend_impl.h"
#include "kernels/platform/tb_platform.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* CPUID.1:ECX.F16C; clang 14 has no "f16c" for __builtin_cpu_supports */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

const char *tb_device_kind_name(enum tb_device_kind k)
{
    switch (k) {
    case TB_DEVICE_CPU: return "cpu";
    case TB_DEVICE_GPU: return "gpu";
    case TB_DEVICE_NPU: return "npu";
    default: return "other";
    }
}

static const char *const k_isa_names[TB_ISA_COUNT] = {"scalar", "avx2", "avx512"};

const char *tb_isa_name(enum tb_isa isa)
{
    return (isa >= 0 && isa < TB_ISA_COUNT) ? k_isa_names[isa] : "none";
}

int tb_isa_from_name(const char *name)
{
    for (int i = 0; i < TB_ISA_COUNT; i++)
        if (strcmp(name, k_isa_names[i]) == 0)
            return i;
    return -1;
}

/* The one place ISA levels are decided. libgcc's checks include the OS
 * (XSAVE) support for the wider registers. The avx512 level requires VNNI,
 * which its int8 kernels use. */
enum tb_isa tb_isa_detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni"))
        return TB_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c())
        return TB_ISA_AVX2;
#endif
    return TB_ISA_SCALAR;
}

void tb_backend_config_default(struct tb_backend_config *cfg)
{
    *cfg = (struct tb_backend_config){.isa_cap = TB_ISA_COUNT};
}

typedef int (*tb_backend_ctor)(const struct tb_backend_config *, struct tb_backend **,
                               struct tb_err *);
struct backend_entry {
    const char *name;
    tb_backend_ctor create;
};

/* Accelerators first (always listed; creation says why one is unavailable);
 * the CPU backends come last: they are always there. */
static const struct backend_entry k_registry[] = {
    {"opencl", tb_backend_opencl_create},
    {"cuda", tb_backend_cuda_create},
    {"cpu", tb_backend_cpu_create},
    {"cpu-ref", tb_backend_cpu_ref_create},
};
static const char *const k_registry_names[] = {"opencl", "cuda", "cpu", "cpu-ref", NULL};

const char *const *tb_backend_names(void)
{
    return k_registry_names;
}

int tb_backend_create(const char *name, const struct tb_backend_config *cfg,
                      struct tb_backend **out, struct tb_err *err)
{
    struct tb_backend_config def;
    if (!cfg) {
        tb_backend_config_default(&def);
        cfg = &def;
    }
    *out = NULL;
    for (size_t i = 0; i < sizeof k_registry / sizeof k_registry[0]; i++)
        if (strcmp(k_registry[i].name, name) == 0)
            return k_registry[i].create(cfg, out, err);
    return tb_err_set(err, TB_EINVAL, "unknown backend '%s'", name);
}

void tb_backend_free(struct tb_backend *b)
{
    if (!b)
        return;
    b->iface.free(b->context);
    free(b);
}

const char *tb_backend_name(const struct tb_backend *b)
{
    return b->iface.name(b->context);
}

const char *tb_backend_device_name(const struct tb_backend *b)
{
    return b->iface.device_name ? b->iface.device_name(b->context) : tb_backend_name(b);
}

enum tb_device_kind tb_backend_device_kind(const struct tb_backend *b)
{
    return b->iface.device_kind(b->context);
}

bool tb_backend_supports_op(const struct tb_backend *b, const struct tb_op *op)
{
    return b->iface.supports_op(b->context, op);
}

enum tb_isa tb_backend_isa(const struct tb_backend *b)
{
    return b->iface.isa ? b->iface.isa(b->context) : TB_ISA_COUNT;
}

int tb_backend_n_threads(const struct tb_backend *b)
{
    return b->iface.n_threads ? b->iface.n_threads(b->context) : 1;
}

int tb_backend_thread_cpus(const struct tb_backend *b, int *cpus, int n)
{
    return b->iface.thread_cpus ? b->iface.thread_cpus(b->context, cpus, n) : 0;
}

int tb_backend_set_n_threads(struct tb_backend *b, int n, struct tb_err *err)
{
    if (!b->iface.set_n_threads)
        return tb_err_set(err, TB_EUNSUPPORTED, "backend %s has no thread setting",
                          tb_backend_name(b));
    return b->iface.set_n_threads(b->context, n, err);
}

int tb_backend_compute_op(struct tb_backend *b, const struct tb_op *op, struct tb_err *err)
{
    if (!b->iface.supports_op(b->context, op))
        return tb_err_set(err, TB_EUNSUPPORTED, "backend %s does not support op %s (%s)",
                          tb_backend_name(b), op->name, tb_op_kind_name(op->kind));
    return b->iface.compute_op(b->context, op, err);
}

int tb_backend_compute_graph(struct tb_backend *b, const struct tb_graph *g, int first, int count,
                             uint64_t *op_ns, struct tb_err *err)
{
    if (first < 0 || count < 0 || first + count > g->n_ops)
        return tb_err_set(err, TB_EINVAL, "op range [%d, %d) outside graph of %d ops", first,
                          first + count, g->n_ops);
    if (b->iface.compute_graph)
        return b->iface.compute_graph(b->context, g, first, count, op_ns, err);
    for (int i = 0; i < count; i++) {
        const uint64_t t0 = op_ns ? tb_now_ns() : 0;
        int rc = tb_backend_compute_op(b, &g->ops[first + i], err);
        if (rc)
            return rc;
        if (op_ns)
            op_ns[i] = tb_now_ns() - t0;
    }
    return TB_OK;
}

const char *tb_backend_device_vendor(const struct tb_backend *b)
{
    return b->iface.device_vendor ? b->iface.device_vendor(b->context) : "";
}

int tb_backend_op_evidence(const struct tb_backend *b, struct tb_op_evidence *out,
                           struct tb_err *err)
{
    if (!b->iface.op_evidence)
        return tb_err_set(err, TB_EUNSUPPORTED, "backend %s keeps no launch evidence",
                          tb_backend_name(b));
    return b->iface.op_evidence(b->context, out);
}

int tb_backend_synchronize(struct tb_backend *b, struct tb_err *err)
{
    return b->iface.synchronize ? b->iface.synchronize(b->context, err) : TB_OK;
}

/* ---- buffers */

struct tb_backend_buffer {
    struct tb_backend *b;
    void *dev; /* the backend's handle, or host memory (host = true) */
    size_t size;
    bool host;
};

/* Host-memory buffers (backends without buffer slots): refuse sizes beyond
 * physical memory up front, so an absurd request fails with a message
 * instead of relying on the allocator (ASan aborts on huge mallocs). */
static void *host_buffer_alloc(const char *backend, size_t nbytes, struct tb_err *err)
{
    const uint64_t known = tb_phys_mem_bytes(), phys = known ? known : UINT64_MAX;
    void *p = NULL;
    if ((uint64_t)nbytes <= phys)
        p = aligned_alloc(64, (nbytes + 63) / 64 * 64 + (nbytes == 0 ? 64 : 0));
    if (!p)
        tb_err_set(err, TB_ENOMEM, "backend %s: cannot allocate a host buffer of %zu bytes%s",
                   backend, nbytes, (uint64_t)nbytes > phys ? " (more than physical memory)" : "");
    return p;
}

int tb_backend_buffer_alloc(struct tb_backend *b, size_t nbytes, struct tb_backend_buffer **out,
                            struct tb_err *err)
{
    *out = NULL;
    struct tb_backend_buffer *buf = calloc(1, sizeof *buf);
    if (!buf)
        return tb_err_set(err, TB_ENOMEM, "backend %s: cannot allocate a buffer handle",
                          tb_backend_name(b));
    *buf = (struct tb_backend_buffer){.b = b, .size = nbytes, .host = !b->iface.buffer_alloc};
    if (buf->host) {
        buf->dev = host_buffer_alloc(tb_backend_name(b), nbytes, err);
        if (!buf->dev) {
            free(buf);
            return err ? err->code : TB_ENOMEM;
        }
    } else {
        int rc = b->iface.buffer_alloc(b->context, nbytes, &buf->dev, err);
        if (rc) {
            free(buf);
            return rc;
        }
    }
    *out = buf;
    return TB_OK;
}

void tb_backend_buffer_free(struct tb_backend_buffer *buf)
{
    if (!buf)
        return;
    if (buf->host)
        free(buf->dev);
    else
        buf->b->iface.buffer_free(buf->b->context, buf->dev);
    free(buf);
}

size_t tb_backend_buffer_size(const struct tb_backend_buffer *buf)
{
    return buf->size;
}

bool tb_backend_buffer_is_host(const struct tb_backend_buffer *buf)
{
    return buf->host;
}

void *tb_backend_buffer_host_ptr(struct tb_backend_buffer *buf)
{
    return buf->host ? buf->dev : NULL;
}

/* 0 when [offset, offset + n) lies inside buf and p is usable. */
static int buffer_range(const struct tb_backend_buffer *buf, const char *what, size_t offset,
                        const void *p, size_t n, struct tb_err *err)
{
    if (offset > buf->size || n > buf->size - offset)
        return tb_err_set(err, TB_EINVAL,
                          "backend %s: %s of bytes [%zu, +%zu) outside a buffer of %zu bytes",
                          tb_backend_name(buf->b), what, offset, n, buf->size);
    if (n > 0 && !p)
        return tb_err_set(err, TB_EINVAL, "backend %s: %s of %zu bytes from a NULL pointer",
                          tb_backend_name(buf->b), what, n);
    return TB_OK;
}

int tb_backend_buffer_set(struct tb_backend_buffer *buf, size_t offset, const void *src, size_t n,
                          struct tb_err *err)
{
    int rc = buffer_range(buf, "buffer_set", offset, src, n, err);
    if (rc || n == 0)
        return rc;
    if (buf->host) {
        memcpy((char *)buf->dev + offset, src, n);
        return TB_OK;
    }
    return buf->b->iface.buffer_set(buf->b->context, buf->dev, offset, src, n, err);
}

int tb_backend_buffer_get(const struct tb_backend_buffer *buf, size_t offset, void *dst, size_t n,
                          struct tb_err *err)
{
    int rc = buffer_range(buf, "buffer_get", offset, dst, n, err);
    if (rc || n == 0)
        return rc;
    if (buf->host) {
        memcpy(dst, (const char *)buf->dev + offset, n);
        return TB_OK;
    }
    return buf->b->iface.buffer_get(buf->b->context, buf->dev, offset, dst, n, err);
}

void tb_backend_host_written(struct tb_backend *b, const void *host, size_t nbytes)
{
    if (b->iface.host_written)
        b->iface.host_written(b->context, host, nbytes);
}

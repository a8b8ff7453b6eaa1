#include "tb_backend_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* CPUID.1:ECX.F16C; clang 14 has no "f16c" for __builtin_cpu_supports */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

uint64_t tb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        cpu_has_f16c())
        return TB_ISA_AVX2;
#endif
    return TB_ISA_SCALAR;
}

void tb_backend_config_default(struct tb_backend_config *cfg)
{
    cfg->n_threads = 0;
    cfg->isa_cap = TB_ISA_COUNT;
    cfg->bind_cpus = NULL;
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

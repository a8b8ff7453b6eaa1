/* tierbench-kernels: one-op graphs run through the public backend API,
 * registered with the C benchmark shim from one table of cases (decode
 * GEMV at the synthetic models' shapes, prefill GEMM, RMSNorm, RoPE,
 * attention) crossed with weight types and backend variants ("cpu-ref",
 * "cpu-scalar", "cpu-avx2", "cpu-avx512", "cpu-avx512-filelayout", "opencl",
 * "cuda"), plus the roofline ceilings as "roofline/..." benchmarks and an
 * empty loop for the per-iteration overhead.
 *
 * Only what can run here is registered. The report's context (Google
 * Benchmark's custom context) says the rest and why:
 *   tb_disabled/VARIANT              the backend cannot be created here, or
 *                                    the CPU lacks the variant's ISA
 *   tb_unsupported/VARIANT/OP/TYPE   the backend does not run that op/type
 *   tb_ceiling/KIND[/ISA]/tN         every ceiling (membw_triad, membw_read,
 *                                    fma_f32 per ISA, int8_vpdpbusd) at 1
 *                                    thread and the cpu backend's count:
 *                                    "VALUE UNIT, median M, ...", or
 *                                    "unavailable: REASON"; measured before
 *                                    any benchmark, whatever the filter
 * pct_membw / pct_fma_peak (percent of the tb_ceiling/ membw_read and
 * fma_f32 entries) are plain counters, not rates.
 *
 * Names: op/type/backend/shape/nN, e.g. "matmul/q4_0/cpu-avx512/4096x14336/n1"
 * (matmul shapes are K x N = weight ne0 x ne1, i.e. inputs x outputs). */
#ifndef TB_KERNELS_BENCH_H
#define TB_KERNELS_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/tb_error.h"

struct tb_kbench_opts {
    int n_threads;      /* "cpu" backend threads; 0 = one per online CPU */
    bool roofline;      /* ceilings in the context, roofline/ benchmarks, pct_* */
    const char *events; /* PAPI events counted per iteration ("papi:NAME"); NULL/"" = none */
    /* GEMV weights rotate through copies until they span this many bytes, so
     * a decode-shaped matmul streams from DRAM as in a model too big for the
     * caches; 0 = one copy (cache-warm). tb_kbench_default_cold_bytes(). */
    uint64_t cold_bytes;
};

/* 8 x the host's L3 (hwloc), or 256 MiB when it cannot be read. */
uint64_t tb_kbench_default_cold_bytes(void);

/* Owns everything the registered benchmarks point to: free it only after
 * tb_bench_run_all(). */
struct tb_kbench;

int tb_kbench_create(const struct tb_kbench_opts *opts, struct tb_kbench **out, struct tb_err *err);
/* Registers every benchmark with the shim (tb_bench_register). */
int tb_kbench_register(struct tb_kbench *kb, struct tb_err *err);
void tb_kbench_free(struct tb_kbench *kb);

#endif

/* Roofline ceilings of this host, measured natively: sustained memory
 * bandwidth (STREAM-like, arrays far larger than the last-level cache) and
 * peak arithmetic throughput per ISA variant (independent FMA chains; int8
 * VPDPBUSD). Kernel results are reported as a percentage of these: memory
 * for GEMV / norms (decode), compute for GEMM (prefill).
 *
 * Each measurement runs n_threads threads (the caller is thread 0) over
 * `passes` timed passes separated by barriers and reports the best and the
 * median pass. Figures use 1e9 units (GB/s, GFLOP/s, GOP/s). */
#ifndef TB_ROOFLINE_H
#define TB_ROOFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/tb_backend.h"
#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tb_roofline_mem {
    TB_ROOFLINE_TRIAD, /* a[i] = b[i] + s*c[i] over doubles: 24 B/elem (STREAM
                          convention: write-allocate traffic not counted) */
    TB_ROOFLINE_READ,  /* sum of a[]: 8 B/elem, read only, like streaming weights */
};
const char *tb_roofline_mem_name(enum tb_roofline_mem k); /* "triad", "read" */

struct tb_roofline_opts {
    int n_threads;      /* 0: one per online CPU */
    size_t array_bytes; /* per array, memory tests; 0: 80 MiB */
    int passes;         /* timed passes; 0: 5 */
    double pass_s;      /* compute tests: target seconds per pass; 0: 0.02 */
};

struct tb_roofline_result {
    double best;   /* highest pass rate (1e9 units / s) */
    double median; /* median pass rate */
    int n_threads;
    int passes;
};

/* Memory bandwidth in GB/s. */
int tb_roofline_membw(enum tb_roofline_mem kind, const struct tb_roofline_opts *opts,
                      struct tb_roofline_result *out, struct tb_err *err);
/* Peak f32 FMA GFLOP/s (multiply-add = 2) of the given ISA variant; "scalar"
 * is plain C built like the scalar kernels. TB_EUNSUPPORTED when the CPU
 * lacks the ISA (tb_isa_detect). */
int tb_roofline_fma(enum tb_isa isa, const struct tb_roofline_opts *opts,
                    struct tb_roofline_result *out, struct tb_err *err);
/* Peak int8 dot-product GOP/s with AVX-512 VNNI VPDPBUSD (u8 x s8 multiply
 * + add = 2 ops); TB_EUNSUPPORTED below TB_ISA_AVX512. */
int tb_roofline_int8(const struct tb_roofline_opts *opts, struct tb_roofline_result *out,
                     struct tb_err *err);

/* ---- per-ISA kernels (harness/roofline_fma_*.c); internal to roofline.c.
 * Each runs `iters` iterations of independent accumulator chains, stores a
 * value derived from every chain in *sink (so nothing is optimized away) and
 * returns the operations performed. */
double tb_roofline_fma_avx2(int64_t iters, float *sink);
double tb_roofline_fma_avx512(int64_t iters, float *sink);
double tb_roofline_vnni_avx512(int64_t iters, float *sink);

#ifdef __cplusplus
}
#endif
#endif

/* The one list of weight types the engine computes with (matmul weights,
 * get_rows tables). Everything that depends on the set is generated from
 * TB_WTYPES: the traits' compute flag, tb_type_from_name, the row
 * (de)quantizers behind tb_quantize_row, op validation masks, cpu-ref, the
 * cpu backend's kernel prototypes and per-ISA tables, synth's file types,
 * the op tests' and kernel benchmarks' cases, and the type names in usage
 * and error strings (tb_wtype_names). Adding a type: docs/engine.md.
 *
 * X(ENUM, t, FTYPE, ACT, AVX2, AVX512, X16), one row per type:
 *   ENUM    TB_TYPE_##ENUM (kernels/tb_types.h, ggml's id; below 32)
 *   t       the suffix of its functions: tb_quantize_row_##t,
 *           tb_dequantize_row_##t (kernels/types.c), tb_cpu_gemm_##t##_ISA
 *   FTYPE   llama.cpp's general.file_type for a model all in this type
 *   ACT     what a fast matmul may turn the f32 activations into, which is
 *           both the cpu kernels' activation format and the test contract's
 *           rounding allowance (tests/op_contract.h): F32 (read as is), F16
 *           (may round to fp16), Q8 (q8_0-style blocks of 32, int8 + scale)
 *   AVX2    Y: kernels/cpu/matmul_##t##_avx2.c exists; N: the scalar kernel
 *   AVX512  Y: matmul_##t##_avx512.c exists; N: the AVX2 (else scalar) one
 *   X16     Y: matmul_##t##x16_avx512.c (16-row repacked layout) exists
 * The N fallbacks are resolved in one place, kernels/cpu/cpu_kernels.c. */
#ifndef TB_WTYPES_H
#define TB_WTYPES_H

#include <stdbool.h>
#include <stddef.h>

#include "tb_types.h"

/* clang-format off */
#define TB_WTYPES(X)                          \
    X(F32,  f32,  0, F32, Y, Y, Y)            \
    X(F16,  f16,  1, F16, Y, Y, Y)            \
    X(Q8_0, q8_0, 7, Q8,  Y, Y, Y)            \
    X(Q4_0, q4_0, 2, Q8,  Y, Y, Y)            \
    X(Q4_1, q4_1, 3, Q8,  N, N, N)            \
    X(Q5_0, q5_0, 8, Q8,  N, N, N)            \
    X(Q5_1, q5_1, 9, Q8,  N, N, N)            \
    X(BF16, bf16, 32, F32, N, N, N)           \
    X(Q6_K, q6_K, 18, Q8,  N, N, N)           \
    X(Q4_K, q4_K, 14, Q8,  N, N, N)           \
    X(Q5_K, q5_K, 16, Q8,  N, N, N)
/* clang-format on */

/* Helpers for the columns: TB_WTYPES(TB_WTYPE_ID) is an initializer list of
 * the type ids, in list order. */
#define TB_WTYPE_ID(T, ...) TB_TYPE_##T,
#define TB_WTYPE_BIT_OF(T, ...) | (1u << (unsigned)TB_TYPE_##T)
/* Bit t set for each compute type t (ids are below 32: types.c checks). */
#define TB_WTYPE_MASK (0u TB_WTYPES(TB_WTYPE_BIT_OF))
#define TB_WTYPE_COUNT_ONE(T, ...) +1
#define TB_WTYPE_COUNT (0 TB_WTYPES(TB_WTYPE_COUNT_ONE))

/* Whether type id t is in the list. */
static inline bool tb_wtype_ok(int t)
{
    return t >= 0 && t < 32 && ((TB_WTYPE_MASK >> (unsigned)t) & 1u);
}

/* The list's names ("f32", "f16", ...) joined by sep into buf (always
 * terminated, cut after a whole name if n is too small); returns buf. For
 * usage and error strings, so they follow the list. TB_WTYPE_NAMES_MAX
 * holds about 40 names with ", " between them. */
#define TB_WTYPE_NAMES_MAX 256
char *tb_wtype_names(char *buf, size_t n, const char *sep);

#endif

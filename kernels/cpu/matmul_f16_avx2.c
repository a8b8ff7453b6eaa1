/* F16 weights x f32 activations, AVX2: F16C conversion, FMA in f32 (tile in
 * gemm_f_avx2.h). */
#include "kernels/cpu/gemm_f_avx2.h"

static inline __attribute__((always_inline)) __m256 load_f16(const void *row, int64_t k)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const tb_fp16 *)row + k)));
}

static inline __attribute__((always_inline)) __m256 tail_f16(const void *row, int64_t k,
                                                             int64_t len)
{
    tb_fp16 buf[8] = {0};
    memcpy(buf, (const tb_fp16 *)row + k, (size_t)len * sizeof(tb_fp16));
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)buf));
}

TB_F_TILE_DISPATCH_AVX2(tile, load_f16, tail_f16)

void tb_cpu_gemm_f16_avx2(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 4, 2, 0, tile);
}

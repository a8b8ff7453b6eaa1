/* F16 weights x f32 activations, AVX-512: F16C-style conversion, FMA in f32
 * (tile in gemm_f_avx512.h). */
#include "kernels/cpu/gemm_f_avx512.h"

static inline __attribute__((always_inline)) __m512 load_f16(const void *row, int64_t k,
                                                             __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const tb_fp16 *)row + k));
}

TB_F_TILE_DISPATCH_AVX512(tile, load_f16)

void tb_cpu_gemm_f16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 4, 6, 1, tile);
}

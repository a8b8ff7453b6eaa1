/* F32 weights x f32 activations, AVX-512 FMA (tile in gemm_f_avx512.h). */
#include "kernels/cpu/gemm_f_avx512.h"

static inline __attribute__((always_inline)) __m512 load_f32(const void *row, int64_t k,
                                                             __mmask16 m)
{
    return _mm512_maskz_loadu_ps(m, (const float *)row + k);
}

TB_F_TILE_DISPATCH_AVX512(tile, load_f32)

void tb_cpu_gemm_f32_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 4, 6, 1, tile);
}

/* F32 weights x f32 activations, AVX2 FMA (tile in gemm_f_avx2.h). */
#include "kernels/cpu/gemm_f_avx2.h"

static inline __attribute__((always_inline)) __m256 load_f32(const void *row, int64_t k)
{
    return _mm256_loadu_ps((const float *)row + k);
}

static inline __attribute__((always_inline)) __m256 tail_f32(const void *row, int64_t k,
                                                             int64_t len)
{
    float buf[8] = {0};
    memcpy(buf, (const float *)row + k, (size_t)len * sizeof(float));
    return _mm256_loadu_ps(buf);
}

TB_F_TILE_DISPATCH_AVX2(tile, load_f32, tail_f32)

void tb_cpu_gemm_f32_avx2(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 4, 2, 0, tile);
}

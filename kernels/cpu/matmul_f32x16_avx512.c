/* F32 weights repacked into 16-row groups, AVX-512 FMA (layout and scheme
 * in gemm_fx16_avx512.h): a column is one 64-byte load. */
#include "kernels/cpu/gemm_fx16_avx512.h"

size_t tb_cpu_pack_bytes_f32x16(int64_t N, int64_t K)
{
    return tb_fx16_bytes(N, K, sizeof(float));
}

void tb_cpu_pack_f32x16(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1, void *dst)
{
    tb_fx16_pack(w, w_row, K, g0, g1, dst, sizeof(float));
}

static inline __attribute__((always_inline)) __m512 load_f32(const void *grp, int64_t k)
{
    return _mm512_load_ps((const float *)grp + (size_t)k * TB_FX16_ROWS);
}

TB_FX16_TILE_DISPATCH(tile, sizeof(float), load_f32)

void tb_cpu_gemm_f32x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, TB_FX16_ROWS, 16, 1, tile);
}

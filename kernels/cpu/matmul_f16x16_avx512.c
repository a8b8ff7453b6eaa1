/* F16 weights repacked into 16-row groups, AVX-512 FMA (layout and scheme
 * in gemm_fx16_avx512.h): a column is one 32-byte load and a conversion. */
#include "kernels/cpu/gemm_fx16_avx512.h"

size_t tb_cpu_pack_bytes_f16x16(int64_t N, int64_t K)
{
    return tb_fx16_bytes(N, K, sizeof(tb_fp16));
}

void tb_cpu_pack_f16x16(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1, void *dst)
{
    tb_fx16_pack(w, w_row, K, g0, g1, dst, sizeof(tb_fp16));
}

static inline __attribute__((always_inline)) __m512 load_f16(const void *grp, int64_t k)
{
    return _mm512_cvtph_ps(
        _mm256_load_si256((const __m256i *)((const tb_fp16 *)grp + (size_t)k * TB_FX16_ROWS)));
}

TB_FX16_TILE_DISPATCH(tile, sizeof(tb_fp16), load_f16)
TB_FX16_TILES_DISPATCH(tile16, sizeof(tb_fp16), load_f16)

void tb_cpu_gemm_f16x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, TB_FX16_ROWS, 8, 1, tile);
}

void tb_cpu_gemm_tiles_f16x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, TB_FX16_ROWS, 16, 1, tile16);
}

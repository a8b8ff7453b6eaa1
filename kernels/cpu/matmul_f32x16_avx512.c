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
TB_FX16_TILES_DISPATCH(tile16, sizeof(float), load_f32)

void tb_cpu_gemm_f32x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, TB_FX16_ROWS, 8, 1, tile);
}

void tb_cpu_gemm_tiles_f32x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, TB_FX16_ROWS, 16, 1, tile16);
}

void tb_cpu_pack_x16(const float *x, size_t x_row, int64_t n, int64_t K, float *dst, int64_t t0,
                     int64_t t1)
{
    for (int64_t t = t0; t < t1; t++) {
        float *o = dst + (size_t)t * (size_t)K * 16;
        for (int r = 0; r < 16; r++) {
            const int64_t row = t * 16 + r;
            const float *src =
                row < n ? (const float *)((const char *)x + (size_t)row * x_row) : NULL;
            for (int64_t k = 0; k < K; k++)
                o[(size_t)k * 16 + (size_t)r] = src ? src[k] : 0.0f;
        }
    }
}

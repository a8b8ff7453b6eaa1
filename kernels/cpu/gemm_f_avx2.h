/* AVX2 FMA tile shared by the f32 and f16 weight kernels (included only by
 * *_avx2.c files); K tails go through a zero-padded stack copy. */
#ifndef TB_CPU_GEMM_F_AVX2_H
#define TB_CPU_GEMM_F_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/gemm_drive.h"

/* 8 weights from element k of a row (k + 8 <= K) */
typedef __m256 (*tb_f2_load_fn)(const void *row, int64_t k);
/* the last len < 8 weights from element k, zero padded */
typedef __m256 (*tb_f2_tail_fn)(const void *row, int64_t k, int64_t len);

static inline __attribute__((always_inline)) void tb_f_tile_avx2(const struct tb_cpu_gemm *g,
                                                                 int64_t j, int64_t i, const int RW,
                                                                 const int RX, tb_f2_load_fn load,
                                                                 tb_f2_tail_fn tail)
{
    const void *wr[4];
    const float *xr[2];
    __m256 acc[4][2];
    _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) wr[r] =
        (const char *)g->w + (size_t)(j + r) * g->w_row;
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
    {
        xr[x] = (const float *)((const char *)g->x + (size_t)(i + x) * g->x_row);
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) acc[r][x] = _mm256_setzero_ps();
    }
    int64_t k = 0;
    for (; k + 8 <= g->K; k += 8) {
        __m256 w[4];
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) w[r] = load(wr[r], k);
        _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        {
            const __m256 xv = _mm256_loadu_ps(xr[x] + k);
            _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) acc[r][x] =
                _mm256_fmadd_ps(w[r], xv, acc[r][x]);
        }
    }
    if (k < g->K) {
        const int64_t len = g->K - k;
        _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        {
            float buf[8] = {0};
            memcpy(buf, xr[x] + k, (size_t)len * sizeof(float));
            const __m256 xv = _mm256_loadu_ps(buf);
            _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) acc[r][x] =
                _mm256_fmadd_ps(tail(wr[r], k, len), xv, acc[r][x]);
        }
    }
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++)
    {
        __m128 s =
            _mm_add_ps(_mm256_castps256_ps128(acc[r][x]), _mm256_extractf128_ps(acc[r][x], 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        g->dst[(size_t)(i + x) * g->d_row + (size_t)(j + r)] = _mm_cvtss_f32(s);
    }
}

#define TB_F_TILE_DISPATCH_AVX2(fn, load, tail)                                                    \
    static void fn(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)              \
    {                                                                                              \
        if (rw == 4 && rx == 2)                                                                    \
            tb_f_tile_avx2(g, j, i, 4, 2, load, tail);                                             \
        else if (rw == 4)                                                                          \
            tb_f_tile_avx2(g, j, i, 4, 1, load, tail);                                             \
        else if (rx == 2)                                                                          \
            tb_f_tile_avx2(g, j, i, 1, 2, load, tail);                                             \
        else                                                                                       \
            tb_f_tile_avx2(g, j, i, 1, 1, load, tail);                                             \
    }

#endif

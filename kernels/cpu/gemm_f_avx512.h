/* AVX-512 FMA tile shared by the f32 and f16 weight kernels (included only
 * by *_avx512.c files): activations stay f32, weights are loaded (and for
 * f16 converted with vcvtph2ps) once per tile and reused RX times. */
#ifndef TB_CPU_GEMM_F_AVX512_H
#define TB_CPU_GEMM_F_AVX512_H

#include <immintrin.h>

#include "kernels/cpu/gemm_drive.h"

/* 16 weights from element k of a row, lanes outside m zero */
typedef __m512 (*tb_f_load_fn)(const void *row, int64_t k, __mmask16 m);

static inline __attribute__((always_inline)) void tb_f_tile_avx512(const struct tb_cpu_gemm *g,
                                                                   int64_t j, int64_t i,
                                                                   const int RW, const int RX,
                                                                   tb_f_load_fn load)
{
    const void *wr[4];
    const float *xr[6];
    __m512 acc[4][6];
    _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) wr[r] =
        (const char *)g->w + (size_t)(j + r) * g->w_row;
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
    {
        xr[x] = (const float *)((const char *)g->x + (size_t)(i + x) * g->x_row);
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) acc[r][x] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < g->K; k += 16) {
        const __mmask16 m =
            g->K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (g->K - k)) - 1u);
        __m512 w[4];
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) w[r] = load(wr[r], k, m);
        _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        {
            const __m512 xv = _mm512_maskz_loadu_ps(m, xr[x] + k);
            _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) acc[r][x] =
                _mm512_fmadd_ps(w[r], xv, acc[r][x]);
        }
    }
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++)
            g->dst[(size_t)(i + x) * g->d_row + (size_t)(j + r)] = _mm512_reduce_add_ps(acc[r][x]);
}

/* rw in {4, 1} x every rx in 1..6 (the drive's rx_any). */
#define TB_F_TILE_RX_AVX512(g, j, i, RW, rx, load)                                                 \
    switch (rx) {                                                                                  \
    case 6: tb_f_tile_avx512(g, j, i, RW, 6, load); break;                                         \
    case 5: tb_f_tile_avx512(g, j, i, RW, 5, load); break;                                         \
    case 4: tb_f_tile_avx512(g, j, i, RW, 4, load); break;                                         \
    case 3: tb_f_tile_avx512(g, j, i, RW, 3, load); break;                                         \
    case 2: tb_f_tile_avx512(g, j, i, RW, 2, load); break;                                         \
    default: tb_f_tile_avx512(g, j, i, RW, 1, load); break;                                        \
    }
#define TB_F_TILE_DISPATCH_AVX512(fn, load)                                                        \
    static void fn(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)              \
    {                                                                                              \
        if (rw == 4)                                                                               \
            TB_F_TILE_RX_AVX512(g, j, i, 4, rx, load)                                              \
        else                                                                                       \
            TB_F_TILE_RX_AVX512(g, j, i, 1, rx, load)                                              \
    }

#endif

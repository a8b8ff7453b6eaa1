/* AVX2 tile shared by the q8_0 and q4_0 kernels (included only by
 * *_avx2.c files). Activations use the scalar format (int8 quants[K], f32
 * scales[K/32]: q8_0 blocks, llama.cpp's vec_dot_type). Without VNNI the
 * int8 dot is maddubs with the sign trick (|w| unsigned, x * sign(w)), so
 * the int16 pair sums cannot saturate; weights arrive as signed bytes. */
#ifndef TB_CPU_GEMM_Q_AVX2_H
#define TB_CPU_GEMM_Q_AVX2_H

#include <immintrin.h>

#include "kernels/cpu/gemm_drive.h"

/* Block b of a weight row: 32 signed quants and the f32 scale. */
typedef void (*tb_q2_load_fn)(const char *row, int64_t b, __m256i *w, float *d);

static inline __attribute__((always_inline)) void tb_q_tile_avx2(const struct tb_cpu_gemm *g,
                                                                 int64_t j, int64_t i, const int RW,
                                                                 const int RX, tb_q2_load_fn load)
{
    const int64_t nb = g->K / 32;
    const char *wr[2];
    const int8_t *xq[4];
    const float *xd[4];
    __m256 acc[2][4];
    _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) wr[r] =
        (const char *)g->w + (size_t)(j + r) * g->w_row;
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
    {
        xq[x] = (const int8_t *)((const char *)g->x + (size_t)(i + x) * g->x_row);
        xd[x] = (const float *)(xq[x] + g->K);
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) acc[r][x] = _mm256_setzero_ps();
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        __m256i w[2], aw[2];
        float dw[2];
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++)
        {
            load(wr[r], b, &w[r], &dw[r]);
            aw[r] = _mm256_sign_epi8(w[r], w[r]);
        }
        _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(xq[x] + b * 32));
            _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++)
            {
                const __m256i p =
                    _mm256_madd_epi16(_mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(q, w[r])), ones);
                acc[r][x] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[r] * xd[x][b]),
                                            acc[r][x]);
            }
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

/* The four (rw, rx) specialisations tb_cpu_gemm_drive asks for. */
#define TB_Q_TILE_DISPATCH_AVX2(fn, load)                                                          \
    static void fn(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)              \
    {                                                                                              \
        if (rw == 2 && rx == 4)                                                                    \
            tb_q_tile_avx2(g, j, i, 2, 4, load);                                                   \
        else if (rw == 2)                                                                          \
            tb_q_tile_avx2(g, j, i, 2, 1, load);                                                   \
        else if (rx == 4)                                                                          \
            tb_q_tile_avx2(g, j, i, 1, 4, load);                                                   \
        else                                                                                       \
            tb_q_tile_avx2(g, j, i, 1, 1, load);                                                   \
    }

#endif

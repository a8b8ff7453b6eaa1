/* AVX-512 VNNI tile shared by the q8_0 and q4_0 kernels (included only by
 * *_avx512.c files).
 *
 * Activations are quantized per op to q8_0-style blocks of 32 (llama.cpp's
 * vec_dot_type) in this private layout, one 192-byte record per 64
 * elements (two blocks a, b; a missing last b is all zero):
 *   int8  q[64]     quants, ordered to match the weight unpacking
 *   f32   d[16]     block scales, one per int32 lane of the dot product
 *   int32 init[16]  -off * sum(q of block) in one lane per block
 * Weights are turned into unsigned bytes u = w + off (q8_0: w ^ 0x80,
 * off 128; q4_0: the raw nibble, off 8), so one vpdpbusd(init, u, q) gives
 * the exact signed dot product; the correction is paid per activation,
 * not per weight, which keeps decode (n = 1) lean. */
#ifndef TB_CPU_GEMM_Q_AVX512_H
#define TB_CPU_GEMM_Q_AVX512_H

#include <immintrin.h>

#include "kernels/cpu/gemm_drive.h"

#define TB_Q_AVX512_REC 192

enum tb_q_layout { TB_Q_LAYOUT_Q8, TB_Q_LAYOUT_Q4 };

/* Quantizes one activation block of 32 (q8_0 rounding): quants in two
 * halves of 16, scale, sum of quants (|q| <= 127 whatever x holds: see
 * tb_cpu_act_scale). */
static inline void tb_q_quant_block_avx512(const float *x, __m128i *lo, __m128i *hi, float *d,
                                           int *sum)
{
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
    const __m512 inf = _mm512_set1_ps(__builtin_inff());
    const int finite = !(_mm512_cmp_ps_mask(a0, inf, _CMP_NLT_UQ) | /* NaN or Inf */
                         _mm512_cmp_ps_mask(a1, inf, _CMP_NLT_UQ));
    float s, id;
    tb_cpu_act_scale(finite, _mm512_reduce_max_ps(_mm512_max_ps(a0, a1)), &s, &id);
    /* NaN * 0 is NaN: a non-finite block's quants are set to 0, not converted */
    const __m512i z = _mm512_setzero_si512();
    const __m512i q0 = finite ? _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(id))) : z;
    const __m512i q1 = finite ? _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(id))) : z;
    *lo = _mm512_cvtsepi32_epi8(q0);
    *hi = _mm512_cvtsepi32_epi8(q1);
    *d = s;
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
}

void tb_cpu_quantize_act_avx512_layout(const float *x, void *dst, int64_t K, enum tb_q_layout l);

/* Loads chunk c (blocks 2c, 2c+1; `two` = 0: only 2c exists) of a weight
 * row as unsigned bytes and its lane-expanded scales. */
typedef void (*tb_q_load_fn)(const char *row, int64_t c, int two, __m512i *u, __m512 *d);

static inline __attribute__((always_inline)) void tb_q_tile_avx512(const struct tb_cpu_gemm *g,
                                                                   int64_t j, int64_t i,
                                                                   const int RW, const int RX,
                                                                   tb_q_load_fn load)
{
    const int64_t nb = g->K / 32, nc = nb / 2;
    const char *wr[4];
    const char *xr[4];
    __m512 acc[4][4];
    _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) wr[r] =
        (const char *)g->w + (size_t)(j + r) * g->w_row;
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
    {
        xr[x] = (const char *)g->x + (size_t)(i + x) * g->x_row;
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) acc[r][x] = _mm512_setzero_ps();
    }
    /* main chunks, then the odd last block */
    for (int64_t c = 0; c < nc + (nb & 1); c++) {
        const int two = c < nc;
        __m512i u[4];
        __m512 dw[4];
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++) load(wr[r], c, two, &u[r], &dw[r]);
        _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        {
            const char *rec = xr[x] + (size_t)c * TB_Q_AVX512_REC;
            const __m512i q = _mm512_load_si512((const void *)rec);
            const __m512 dx = _mm512_load_ps((const float *)(rec + 64));
            const __m512i init = _mm512_load_si512((const void *)(rec + 128));
            _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++)
            {
                const __m512i dot = _mm512_dpbusd_epi32(init, u[r], q);
                acc[r][x] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw[r], dx), acc[r][x]);
            }
        }
    }
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        _Pragma("GCC unroll 8") for (int r = 0; r < RW; r++)
            g->dst[(size_t)(i + x) * g->d_row + (size_t)(j + r)] = _mm512_reduce_add_ps(acc[r][x]);
}

/* The four (rw, rx) specialisations tb_cpu_gemm_drive asks for. */
#define TB_Q_TILE_DISPATCH_AVX512(fn, load)                                                        \
    static void fn(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)              \
    {                                                                                              \
        if (rw == 4 && rx == 4)                                                                    \
            tb_q_tile_avx512(g, j, i, 4, 4, load);                                                 \
        else if (rw == 4)                                                                          \
            tb_q_tile_avx512(g, j, i, 4, 1, load);                                                 \
        else if (rx == 4)                                                                          \
            tb_q_tile_avx512(g, j, i, 1, 4, load);                                                 \
        else                                                                                       \
            tb_q_tile_avx512(g, j, i, 1, 1, load);                                                 \
    }

#endif

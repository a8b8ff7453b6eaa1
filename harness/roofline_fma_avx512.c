/* Peak throughput, AVX-512: f32 FMA (16 lanes) and int8 VPDPBUSD (VNNI).
 * Sixteen independent chains hide the latency within the 32 zmm registers. */
#include <immintrin.h>

#include "harness/tb_roofline.h"

#define CHAINS 16

double tb_roofline_fma_avx512(int64_t iters, float *sink)
{
    /* acc = acc*m + a converges (|m| < 1): no overflow or denormals */
    const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(1e-3f);
    __m512 acc[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm512_set1_ps(0.01f * (float)j);
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS; j++)
            acc[j] = _mm512_fmadd_ps(acc[j], m, a);
    __m512 s = acc[0];
    for (int j = 1; j < CHAINS; j++)
        s = _mm512_add_ps(s, acc[j]);
    *sink = _mm512_reduce_add_ps(s);
    return (double)iters * CHAINS * 16 * 2;
}

double tb_roofline_vnni_avx512(int64_t iters, float *sink)
{
    /* 16 int32 lanes, each += 4 u8*s8 products: 128 ops per instruction.
     * The int32 sums may wrap on long runs; only the rate matters. */
    const __m512i u = _mm512_set1_epi8(1), s8 = _mm512_set1_epi8(3);
    __m512i acc[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm512_set1_epi32(j);
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS; j++)
            acc[j] = _mm512_dpbusd_epi32(acc[j], u, s8);
    __m512i s = acc[0];
    for (int j = 1; j < CHAINS; j++)
        s = _mm512_xor_si512(s, acc[j]);
    *sink = (float)_mm512_reduce_add_epi32(s);
    return (double)iters * CHAINS * 16 * 4 * 2;
}

/* Peak FMA throughput, AVX2 (8 x f32 lanes). Twelve independent chains hide
 * the FMA latency (4-5 cycles x 2 ports) within the 16 ymm registers. */
#include <immintrin.h>

#include "harness/tb_roofline.h"

#define CHAINS 12

double tb_roofline_fma_avx2(int64_t iters, float *sink)
{
    /* acc = acc*m + a converges (|m| < 1): no overflow or denormals */
    const __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(1e-3f);
    __m256 acc[CHAINS];
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm256_set1_ps(0.01f * (float)j);
    for (int64_t i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS; j++)
            acc[j] = _mm256_fmadd_ps(acc[j], m, a);
    __m256 s = acc[0];
    for (int j = 1; j < CHAINS; j++)
        s = _mm256_add_ps(s, acc[j]);
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    *sink = lanes[0] + lanes[7];
    return (double)iters * CHAINS * 8 * 2;
}

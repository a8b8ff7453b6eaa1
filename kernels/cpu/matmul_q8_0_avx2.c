/* Q8_0 weights, AVX2 (tile in gemm_q_avx2.h), plus the AVX2 activation
 * quantizer (scalar format, see matmul_q8_0_scalar.c). */
#include "kernels/cpu/gemm_q_avx2.h"

void tb_cpu_quantize_act_avx2(const float *x, void *dst, int64_t K)
{
    int8_t *q = dst;
    float *d = (float *)(q + K);
    const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(__builtin_inff());
    for (int64_t b = 0; b < K / 32; b++) {
        const float *xb = x + b * 32;
        __m256 v[4], m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(xb + 8 * k);
            const __m256 a = _mm256_andnot_ps(sign, v[k]);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ)); /* NaN or Inf */
            m = _mm256_max_ps(m, a);
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float id;
        const int finite = !_mm256_movemask_ps(bad);
        tb_cpu_act_scale(finite, _mm_cvtss_f32(m4), &d[b], &id);
        __m256i i32[4];
        for (int k = 0; k < 4; k++) /* NaN * 0 is NaN: a non-finite block's quants are 0 */
            i32[k] = finite ? _mm256_cvtps_epi32(_mm256_mul_ps(v[k], _mm256_set1_ps(id)))
                            : _mm256_setzero_si256();
        /* packs interleave 128-bit lanes; the permute restores element order */
        const __m256i p16a = _mm256_packs_epi32(i32[0], i32[1]);
        const __m256i p16b = _mm256_packs_epi32(i32[2], i32[3]);
        const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        _mm256_storeu_si256(
            (__m256i *)(q + b * 32),
            _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
}

static inline __attribute__((always_inline)) void load_q8(const char *row, int64_t b, __m256i *w,
                                                          float *d)
{
    const struct tb_block_q8_0 *blk = (const struct tb_block_q8_0 *)row + b;
    *w = _mm256_loadu_si256((const __m256i *)blk->qs);
    *d = _cvtsh_ss(blk->d);
}

TB_Q_TILE_DISPATCH_AVX2(tile, load_q8)

void tb_cpu_gemm_q8_0_avx2(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 2, 4, 0, tile);
}

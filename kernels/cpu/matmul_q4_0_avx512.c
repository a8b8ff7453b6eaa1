/* Q4_0 weights, AVX-512 VNNI (see gemm_q_avx512.h): the raw nibbles are the
 * unsigned operand, activations are laid out in the nibble order. */
#include "kernels/cpu/gemm_q_avx512.h"

void tb_cpu_quantize_act_q4_0_avx512(const float *x, void *dst, int64_t K)
{
    tb_cpu_quantize_act_avx512_layout(x, dst, K, TB_Q_LAYOUT_Q4);
}

static inline __attribute__((always_inline)) void load_q4(const char *row, int64_t c, int two,
                                                          __m512i *u, __m512 *d)
{
    /* both blocks (36 bytes, 18 words; 9 without b) in one masked load,
     * which cannot fault past the end of the row; word permutes then pick
     * the quants as [a b a b] and the scales as [a x4, b x4, a x4, b x4] */
    const __m512i raw = _mm512_maskz_loadu_epi16(two ? 0x3ffffu : 0x1ffu, row + (size_t)c * 36);
    const __m512i qidx = _mm512_set_epi16(17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4, 3, 2, 1,
                                          17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4, 3, 2, 1);
    __m512i z = _mm512_permutexvar_epi16(qidx, raw);
    z = _mm512_mask_srli_epi16(z, 0xffff0000u, z, 4); /* high nibbles in the upper half */
    *u = _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
    const __m512i didx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9,
                                          9, 0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0);
    *d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, raw)));
}

TB_Q_TILE_DISPATCH_AVX512(tile, load_q4)

void tb_cpu_gemm_q4_0_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 4, 4, 0, tile);
}

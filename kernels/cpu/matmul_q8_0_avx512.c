/* Q8_0 weights, AVX-512 VNNI (see gemm_q_avx512.h for the scheme), plus the
 * activation quantizer shared with matmul_q4_0_avx512.c. */
#include "kernels/cpu/gemm_q_avx512.h"

#include <string.h>

size_t tb_cpu_act_bytes_avx512(int64_t K)
{
    return (size_t)((K / 32 + 1) / 2) * TB_Q_AVX512_REC;
}

void tb_cpu_quantize_act_avx512_layout(const float *x, void *dst, int64_t K, enum tb_q_layout l)
{
    const int64_t nb = K / 32;
    const int off = l == TB_Q_LAYOUT_Q8 ? 128 : 8;
    for (int64_t c = 0; c < (nb + 1) / 2; c++) {
        char *rec = (char *)dst + (size_t)c * TB_Q_AVX512_REC;
        __m128i alo, ahi, blo = _mm_setzero_si128(), bhi = _mm_setzero_si128();
        float da, db = 0.0f;
        int sa, sb = 0;
        tb_q_quant_block_avx512(x + c * 64, &alo, &ahi, &da, &sa);
        if (2 * c + 1 < nb)
            tb_q_quant_block_avx512(x + c * 64 + 32, &blo, &bhi, &db, &sb);
        float d[16];
        int32_t init[16] = {0};
        __m128i *q = (__m128i *)rec;
        if (l == TB_Q_LAYOUT_Q8) { /* natural order: lanes 0-7 a, 8-15 b */
            q[0] = alo, q[1] = ahi, q[2] = blo, q[3] = bhi;
            for (int k = 0; k < 16; k++)
                d[k] = k < 8 ? da : db;
            init[0] = -off * sa;
            init[8] = -off * sb;
        } else { /* q4_0 nibble order: a lo, b lo, a hi, b hi */
            q[0] = alo, q[1] = blo, q[2] = ahi, q[3] = bhi;
            for (int k = 0; k < 16; k++)
                d[k] = (k & 4) ? db : da;
            init[0] = -off * sa;
            init[4] = -off * sb;
        }
        memcpy(rec + 64, d, sizeof d);
        memcpy(rec + 128, init, sizeof init);
    }
}

void tb_cpu_quantize_act_q8_0_avx512(const float *x, void *dst, int64_t K)
{
    tb_cpu_quantize_act_avx512_layout(x, dst, K, TB_Q_LAYOUT_Q8);
}

static inline __attribute__((always_inline)) void load_q8(const char *row, int64_t c, int two,
                                                          __m512i *u, __m512 *d)
{
    /* the two blocks are 68 bytes: words 0..31 and 32..33 (masked loads
     * cannot fault past the end of the row); a two-source word permute
     * picks the quants, another the scales as [a x8, b x8] */
    const char *p = row + (size_t)c * 68;
    const __m512i lo = _mm512_maskz_loadu_epi16(two ? 0xffffffffu : 0x1ffffu, p);
    const __m512i hi = _mm512_maskz_loadu_epi16(two ? 0x3u : 0x0u, p + 64);
    const __m512i qidx =
        _mm512_set_epi16(33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 16, 15, 14,
                         13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    *u = _mm512_xor_si512(_mm512_permutex2var_epi16(lo, qidx, hi), _mm512_set1_epi8((char)0x80));
    const __m512i didx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 17,
                                          17, 17, 17, 17, 17, 17, 0, 0, 0, 0, 0, 0, 0, 0);
    *d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, lo)));
}

TB_Q_TILE_DISPATCH_AVX512(tile, load_q8)

void tb_cpu_gemm_q8_0_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 4, 4, 0, tile);
}

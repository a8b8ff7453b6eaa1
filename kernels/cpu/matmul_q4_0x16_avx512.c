/* Q4_0 weights repacked into 16-row groups, AVX-512 VNNI (layout and
 * scheme in gemm_qx16_avx512.h). */
#include "kernels/cpu/gemm_qx16_avx512.h"

#define REC 576 /* 64 bytes of scales + 2 blocks x 4 vectors x 64 */

void tb_cpu_quantize_act_q4_0x16_avx512(const float *x, void *dst, int64_t K)
{
    tb_qx16_quantize_act(x, dst, K, 8);
}

size_t tb_cpu_pack_bytes_q4_0x16(int64_t N, int64_t K)
{
    return tb_qx16_bytes(N, K, REC);
}

/* lane r of vector v: the file's bytes 4v..4v+3 (both nibbles) */
static void put_q4(unsigned char *q, int r, const unsigned char *qs)
{
    for (int v = 0; v < 4; v++)
        memcpy(q + 64 * v + 4 * r, qs + 4 * v, 4);
}

void tb_cpu_pack_q4_0x16(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1, void *dst)
{
    tb_qx16_pack(w, w_row, K, g0, g1, dst, 18, REC, put_q4);
}

/* Vectors 0-3 hold weights 4v..4v+3 (low nibbles), 4-7 weights 16+4v..
 * (high nibbles); tb_qx16_dot pairs vector v with quants 4v.. of the
 * activation, so the high halves go to slots that meet quants 16+4v. */
static inline __attribute__((always_inline)) void load_q4(const char *rec, int h, __m512i *w)
{
    const __m512i m = _mm512_set1_epi8(0x0f);
    _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)
    {
        const __m512i q = _mm512_load_si512((const void *)(rec + 64 + 256 * h + 64 * v));
        w[v] = _mm512_and_si512(q, m);
        w[4 + v] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m);
    }
}

TB_QX16_TILE_DISPATCH(tile, REC, load_q4)

void tb_cpu_gemm_q4_0x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, TB_QX16_ROWS, 8, 1, tile);
}

/* Q8_0 weights repacked into 16-row groups, AVX-512 VNNI (layout and
 * scheme in gemm_qx16_avx512.h). */
#include "kernels/cpu/gemm_qx16_avx512.h"

#define REC 1088 /* 64 bytes of scales + 2 blocks x 8 vectors x 64 */

size_t tb_cpu_qx16_act_bytes_avx512(int64_t K)
{
    return (size_t)(K / 32) * TB_QX16_ACT_REC;
}

void tb_cpu_quantize_act_q8_0x16_avx512(const float *x, void *dst, int64_t K)
{
    tb_qx16_quantize_act(x, dst, K, 128);
}

size_t tb_cpu_pack_bytes_q8_0x16(int64_t N, int64_t K)
{
    return tb_qx16_bytes(N, K, REC);
}

/* lane r of vector v: quants 4v..4v+3, made unsigned */
static void put_q8(unsigned char *q, int r, const unsigned char *qs)
{
    for (int v = 0; v < 8; v++)
        for (int k = 0; k < 4; k++)
            q[64 * v + 4 * r + k] = qs[4 * v + k] ^ 0x80;
}

void tb_cpu_pack_q8_0x16(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1, void *dst)
{
    tb_qx16_pack(w, w_row, K, g0, g1, dst, 34, REC, put_q8);
}

static inline __attribute__((always_inline)) void load_q8(const char *rec, int h, __m512i *w)
{
    _Pragma("GCC unroll 8") for (int v = 0; v < 8; v++) w[v] =
        _mm512_load_si512((const void *)(rec + 64 + 512 * h + 64 * v));
}

TB_QX16_TILE_DISPATCH(tile, REC, load_q8)

void tb_cpu_gemm_q8_0x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, TB_QX16_ROWS, 8, 1, tile);
}

/* Q4_0 weights, AVX2 (tile in gemm_q_avx2.h): nibbles unpacked to signed
 * bytes (q - 8) in element order. */
#include "kernels/cpu/gemm_q_avx2.h"

static inline __attribute__((always_inline)) void load_q4(const char *row, int64_t b, __m256i *w,
                                                          float *d)
{
    const struct tb_block_q4_0 *blk = (const struct tb_block_q4_0 *)row + b;
    const __m128i t = _mm_loadu_si128((const __m128i *)blk->qs);
    const __m256i both =
        _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    *w = _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
    *d = _cvtsh_ss(blk->d);
}

TB_Q_TILE_DISPATCH_AVX2(tile, load_q4)

void tb_cpu_gemm_q4_0_avx2(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, 2, 4, 0, tile);
}

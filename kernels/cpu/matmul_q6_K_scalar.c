/* Q6_K weights x q8_0-quantized activations (the scalar activation format,
 * see matmul_q8_0_scalar.c), portable C. ggml pairs q6_K with q8_K
 * activations (one f32 scale per 256); here the activations keep their
 * q8_0-style blocks of 32, each of which covers two of the super-block's
 * 16-element sub-blocks: the int sums per sub-block are exact, scaled by
 * their int8 scales, then by the fp16 super-block d and the block's d_a. */
#include "kernels/cpu/cpu_kernels.h"

void tb_cpu_gemm_q6_K_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    const int64_t nb = g->K / TB_QK_K;
    for (int64_t j = j0; j < j1; j++) {
        const struct tb_block_q6_K *w = (const void *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++) {
            const int8_t *q = (const int8_t *)((const char *)g->x + (size_t)i * g->x_row);
            const float *da = (const float *)(q + g->K);
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; b++, q += TB_QK_K, da += TB_QK_K / 32) {
                float bsum = 0.0f;
                /* element 128h + 32r + l: the nibble 4 (r / 2) of ql[64h + 32 (r % 2) + l],
                 * bits 2r of qh[32h + l], scale 8h + 2r + l / 16 */
                for (int e32 = 0; e32 < 8; e32++) {
                    const int h = e32 / 4, r = e32 % 4; /* r: the 32-row of the half */
                    const uint8_t *ql = w[b].ql + 64 * h + 32 * (r & 1);
                    const uint8_t *qh = w[b].qh + 32 * h;
                    const int sl = 4 * (r >> 1), sh = 2 * r;
                    int32_t s[2] = {0, 0};
                    for (int half = 0; half < 2; half++) { /* two sub-blocks of 16 */
                        int32_t acc = 0;
                        for (int l = 16 * half; l < 16 * half + 16; l++) {
                            const int v = (((ql[l] >> sl) & 0xF) | (((qh[l] >> sh) & 3) << 4)) - 32;
                            acc += v * q[32 * e32 + l];
                        }
                        s[half] = acc;
                    }
                    const int8_t *sc = w[b].scales + 8 * h + 2 * r;
                    bsum += (float)(s[0] * sc[0] + s[1] * sc[1]) * da[e32];
                }
                sum += tb_fp16_to_fp32(w[b].d) * bsum;
            }
            g->dst[(size_t)i * g->d_row + (size_t)j] = sum;
        }
    }
}

/* Q5_K weights x q8_0-quantized activations, portable C: as q4_K
 * (matmul_q4_K_scalar.c) with the 5th bit of each quant from qh. */
#include "kernels/cpu/cpu_kernels.h"

void tb_cpu_gemm_q5_K_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    const int64_t nb = g->K / TB_QK_K;
    for (int64_t j = j0; j < j1; j++) {
        const struct tb_block_q5_K *w = (const void *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++) {
            const int8_t *q = (const int8_t *)((const char *)g->x + (size_t)i * g->x_row);
            const float *da = (const float *)(q + g->K);
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; b++, q += TB_QK_K, da += TB_QK_K / 32) {
                const float d = tb_fp16_to_fp32(w[b].d), dmin = tb_fp16_to_fp32(w[b].dmin);
                for (int s = 0; s < 8; s++) { /* sub-block s: qh bit s of byte l */
                    uint8_t sc, m;
                    tb_scale_min_k4(s, w[b].scales, &sc, &m);
                    const uint8_t *qs = w[b].qs + 32 * (s / 2);
                    const int sh = 4 * (s % 2);
                    int32_t dot = 0, sa = 0;
                    for (int l = 0; l < 32; l++) {
                        const int v = ((qs[l] >> sh) & 0xF) | (((w[b].qh[l] >> s) & 1) << 4);
                        dot += v * q[32 * s + l];
                        sa += q[32 * s + l];
                    }
                    sum += (d * sc * (float)dot - dmin * m * (float)sa) * da[s];
                }
            }
            g->dst[(size_t)i * g->d_row + (size_t)j] = sum;
        }
    }
}

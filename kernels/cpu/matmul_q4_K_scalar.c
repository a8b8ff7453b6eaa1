/* Q4_K weights x q8_0-quantized activations (the scalar activation format,
 * see matmul_q8_0_scalar.c), portable C. ggml pairs q4_K with q8_K
 * activations; here each of the super-block's 8 sub-blocks of 32 meets one
 * q8_0-style activation block: d_a (d sc_j sum q_w a + (-dmin m_j) sum a),
 * both sums exact in int32 (the minimum term as for q4_1). */
#include "kernels/cpu/cpu_kernels.h"

void tb_cpu_gemm_q4_K_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    const int64_t nb = g->K / TB_QK_K;
    for (int64_t j = j0; j < j1; j++) {
        const struct tb_block_q4_K *w = (const void *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++) {
            const int8_t *q = (const int8_t *)((const char *)g->x + (size_t)i * g->x_row);
            const float *da = (const float *)(q + g->K);
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; b++, q += TB_QK_K, da += TB_QK_K / 32) {
                const float d = tb_fp16_to_fp32(w[b].d), dmin = tb_fp16_to_fp32(w[b].dmin);
                for (int s = 0; s < 8; s++) { /* sub-block s: nibble s % 2 of qs[32 (s / 2) + l] */
                    uint8_t sc, m;
                    tb_scale_min_k4(s, w[b].scales, &sc, &m);
                    const uint8_t *qs = w[b].qs + 32 * (s / 2);
                    const int sh = 4 * (s % 2);
                    int32_t dot = 0, sa = 0;
                    for (int l = 0; l < 32; l++) {
                        dot += ((qs[l] >> sh) & 0xF) * q[32 * s + l];
                        sa += q[32 * s + l];
                    }
                    sum += (d * sc * (float)dot - dmin * m * (float)sa) * da[s];
                }
            }
            g->dst[(size_t)i * g->d_row + (size_t)j] = sum;
        }
    }
}

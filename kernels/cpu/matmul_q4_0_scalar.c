/* Q4_0 weights x q8_0-quantized activations (scalar activation format, see
 * matmul_q8_0_scalar.c), portable C. */
#include "kernels/cpu/cpu_kernels.h"

void tb_cpu_gemm_q4_0_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    const int64_t nb = g->K / 32;
    for (int64_t j = j0; j < j1; j++) {
        const struct tb_block_q4_0 *w = (const void *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++) {
            const int8_t *q = (const int8_t *)((const char *)g->x + (size_t)i * g->x_row);
            const float *d = (const float *)(q + g->K);
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const int8_t *qb = q + b * 32;
                int32_t s = 0;
                for (int k = 0; k < 16; k++)
                    s += ((w[b].qs[k] & 0x0f) - 8) * qb[k] + ((w[b].qs[k] >> 4) - 8) * qb[k + 16];
                sum += (float)s * tb_fp16_to_fp32(w[b].d) * d[b];
            }
            g->dst[(size_t)i * g->d_row + (size_t)j] = sum;
        }
    }
}

/* Q5_1 weights x q8_0-quantized activations (the scalar activation format,
 * see matmul_q8_0_scalar.c), portable C. As for q4_1 (matmul_q4_1_scalar.c)
 * the min term uses the exact int sum of the block's activation quants
 * where ggml's q8_1 stores it in fp16. */
#include "kernels/cpu/cpu_kernels.h"

#include <string.h>

void tb_cpu_gemm_q5_1_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    const int64_t nb = g->K / 32;
    for (int64_t j = j0; j < j1; j++) {
        const struct tb_block_q5_1 *w = (const void *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++) {
            const int8_t *q = (const int8_t *)((const char *)g->x + (size_t)i * g->x_row);
            const float *d = (const float *)(q + g->K);
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const int8_t *qb = q + b * 32;
                uint32_t qh;
                memcpy(&qh, w[b].qh, 4); /* little-endian, as ggml reads it */
                int32_t s = 0, sa = 0;
                for (int k = 0; k < 16; k++) {
                    const int lo = (w[b].qs[k] & 0x0f) | (int)(((qh >> k) << 4) & 0x10u);
                    const int hi = (w[b].qs[k] >> 4) | (int)((qh >> (k + 12)) & 0x10u);
                    s += lo * qb[k] + hi * qb[k + 16];
                    sa += qb[k] + qb[k + 16];
                }
                sum += ((float)s * tb_fp16_to_fp32(w[b].d) + (float)sa * tb_fp16_to_fp32(w[b].m)) *
                       d[b];
            }
            g->dst[(size_t)i * g->d_row + (size_t)j] = sum;
        }
    }
}

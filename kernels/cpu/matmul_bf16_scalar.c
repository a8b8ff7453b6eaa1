/* BF16 weights x f32 activations, portable C: bf16 -> f32 is exact (a
 * shift), then f32 math; the activations are not rounded (ACT F32). */
#include "kernels/cpu/cpu_kernels.h"

void tb_cpu_gemm_bf16_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; j++) {
        const tb_bf16 *w = (const tb_bf16 *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++) {
            const float *x = (const float *)((const char *)g->x + (size_t)i * g->x_row);
            float s = 0.0f;
            for (int64_t k = 0; k < g->K; k++)
                s += x[k] * tb_bf16_to_fp32(w[k]);
            g->dst[(size_t)i * g->d_row + (size_t)j] = s;
        }
    }
}

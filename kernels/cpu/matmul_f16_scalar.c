/* F16 weights x f32 activations, portable C: f16 -> f32 then f32 math. */
#include "kernels/cpu/cpu_kernels.h"

void tb_cpu_gemm_f16_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; j++) {
        const tb_fp16 *w = (const tb_fp16 *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++)
            g->dst[(size_t)i * g->d_row + (size_t)j] = tb_cpu_dot_f16_scalar(
                (const float *)((const char *)g->x + (size_t)i * g->x_row), w, g->K);
    }
}

/* F32 weights x f32 activations, portable C. */
#include "kernels/cpu/cpu_kernels.h"

void tb_cpu_gemm_f32_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; j++) {
        const float *w = (const float *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++)
            g->dst[(size_t)i * g->d_row + (size_t)j] = tb_cpu_dot_f32_scalar(
                w, (const float *)((const char *)g->x + (size_t)i * g->x_row), g->K);
    }
}

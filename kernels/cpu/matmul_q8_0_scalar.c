/* Q8_0 weights x activations quantized to q8_0 blocks (llama.cpp's
 * vec_dot_type for q8_0/q4_0), portable C. The scalar activation format,
 * also used by the avx2 kernels: int8 quants[K], then f32 scales[K/32],
 * padded to 64 bytes. An f32 scale (not fp16) keeps the only extra error
 * the rounding of the quants. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>
#include <string.h>

size_t tb_cpu_act_q8_bytes_scalar(int64_t K)
{
    const size_t b = (size_t)K + (size_t)(K / 32) * sizeof(float);
    return (b + 63) & ~(size_t)63;
}

void tb_cpu_quantize_act_scalar(const float *x, void *dst, int64_t K)
{
    int8_t *q = dst;
    float *d = (float *)(q + K);
    for (int64_t b = 0; b < K / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0.0f, id;
        int finite = 1;
        for (int j = 0; j < 32; j++) {
            const float a = fabsf(xb[j]);
            finite &= a <= 3.40282347e+38f; /* false for NaN and Inf */
            amax = fmaxf(amax, a);
        }
        tb_cpu_act_scale(finite, amax, &d[b], &id);
        for (int j = 0; j < 32; j++)
            q[b * 32 + j] = finite ? (int8_t)lrintf(xb[j] * id) : 0; /* NaN * 0 is NaN */
    }
}

void tb_cpu_gemm_q8_0_scalar(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    const int64_t nb = g->K / 32;
    for (int64_t j = j0; j < j1; j++) {
        const struct tb_block_q8_0 *w = (const void *)((const char *)g->w + (size_t)j * g->w_row);
        for (int64_t i = 0; i < g->n; i++) {
            const int8_t *q = (const int8_t *)((const char *)g->x + (size_t)i * g->x_row);
            const float *d = (const float *)(q + g->K);
            float sum = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int32_t s = 0;
                for (int k = 0; k < 32; k++)
                    s += (int32_t)w[b].qs[k] * q[b * 32 + k];
                sum += (float)s * tb_fp16_to_fp32(w[b].d) * d[b];
            }
            g->dst[(size_t)i * g->d_row + (size_t)j] = sum;
        }
    }
}

/* Row kernels (dot, axpy, rms_norm, silu, mul, add, f16 conversion),
 * portable C. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>

float tb_cpu_dot_f32_scalar(const float *a, const float *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

float tb_cpu_dot_f16_scalar(const float *a, const tb_fp16 *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * tb_fp16_to_fp32(b[i]);
    return s;
}

void tb_cpu_axpy_f32_scalar(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void tb_cpu_axpy_f16_scalar(float *y, float a, const tb_fp16 *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * tb_fp16_to_fp32(x[i]);
}

void tb_cpu_scale_scalar(float *y, float a, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] *= a;
}

void tb_cpu_rms_norm_scalar(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    const float s = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * s * w[i];
}

void tb_cpu_silu_scalar(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

void tb_cpu_mul_scalar(float *z, const float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        z[i] = x[i] * y[i];
}

void tb_cpu_add_scalar(float *z, const float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        z[i] = x[i] + y[i];
}

void tb_cpu_to_f16_scalar(tb_fp16 *y, const float *x, int64_t n)
{
    tb_convert_row_f16(x, y, n);
}

void tb_cpu_from_f16_scalar(float *y, const tb_fp16 *x, int64_t n)
{
    tb_dequantize_row_f16(x, y, n);
}

float tb_cpu_exp_sum_scalar(float *y, float max, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(y[i] - max);
        s += y[i];
    }
    return s;
}

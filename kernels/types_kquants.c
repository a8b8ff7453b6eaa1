/* K-quant super-blocks (256 elements): ggml's reference quantizers
 * (quantize_row_q6_K_ref and its helper make_qx_quants, ggml/src/ggml-quants.c)
 * and dequantizers, bit for bit: the same float expressions in the same
 * order, so the bytes of a quantized row and the floats of a dequantized one
 * equal ggml's (tests/quant_kat_k.h). No FMA contraction may fuse them: the
 * library is built without -ffast-math and this file without ISA flags. */
#include "tb_types.h"

#include <math.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f
#define KMIN(a, b) ((a) < (b) ? (a) : (b))
#define KMAX(a, b) ((a) > (b) ? (a) : (b))

/* ggml's nearest_int: round to nearest even through the float mantissa
 * (valid for |f| <= 4194303; outside that ggml asserts in debug builds and
 * computes the same bits as this in release ones). */
static inline int nearest_int(float f)
{
    const float v = f + 12582912.f;
    int i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* ggml's make_qx_quants for rmse_type 1 without weights (the only call the
 * reference q6_K quantizer makes): a signed scale for n values in
 * [-nmax, nmax-1], tried at 19 candidate scales, L[i] = q + nmax. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = KMAX(-nmax, KMIN(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = KMAX(-nmax, KMIN(nmax - 1, l));
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                const int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + KMAX(-nmax, KMIN(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Packs 256 6-bit quants L (0..63) into ql / qh as ggml does. */
static void pack_q6_K(const int8_t *L, struct tb_block_q6_K *y)
{
    uint8_t *ql = y->ql, *qh = y->qh;
    for (int j = 0; j < TB_QK_K; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
            const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
            ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                              ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

void tb_quantize_row_q6_K(const float *x, struct tb_block_q6_K *y, int64_t n)
{
    const int64_t nb = n / TB_QK_K;
    int8_t L[TB_QK_K];
    float scales[TB_QK_K / 16];
    for (int64_t i = 0; i < nb; i++, x += TB_QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < TB_QK_K / 16; ++ib) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            const float abs_scale = fabsf(scale);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            y[i].d = tb_fp32_to_fp16(0.f);
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[i].d = tb_fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < TB_QK_K / 16; ++ib)
            y[i].scales[ib] = (int8_t)KMIN(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < TB_QK_K / 16; ++j) {
            const float d = tb_fp16_to_fp32(y[i].d) * y[i].scales[j];
            if (!d)
                continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int(x[16 * j + ii] / d);
                l = KMAX(-32, KMIN(31, l));
                L[16 * j + ii] = (int8_t)(l + 32);
            }
        }
        pack_q6_K(L, &y[i]);
    }
}

void tb_dequantize_row_q6_K(const struct tb_block_q6_K *x, float *y, int64_t n)
{
    const int64_t nb = n / TB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = tb_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int k = 0; k < TB_QK_K; k += 128) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

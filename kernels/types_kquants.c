/* K-quant super-blocks (256 elements): ggml's reference quantizers
 * (quantize_row_q6_K_ref, q4_K_ref, q5_K_ref and their helpers make_qx_quants,
 * make_qkx2_quants, get_scale_min_k4; ggml/src/ggml-quants.c)
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

/* ggml's make_qkx2_quants with use_mad = false: an unsigned scale and a
 * minimum for n weighted values in [0, nmax], refined over nstep + 1
 * candidate scales; returns the scale, *the_min = -min. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)KMAX(0, KMIN(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * (x[i] - min));
            l = KMAX(0, KMIN(nmax, l));
            Laux[i] = (uint8_t)l;
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i)
                    L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* The part quantize_row_q4_K_ref and quantize_row_q5_K_ref share: 8
 * sub-blocks of 32 quantized to [0, nmax] with 6-bit scales and minimums
 * packed into sc[12], the fp16 d and dmin, and the final quants L. */
static void quantize_super_qkx(const float *x, int nmax, float rmin, int nstep, uint8_t *L,
                               uint8_t *sc, tb_fp16 *dd, tb_fp16 *dmin)
{
    uint8_t Laux[32];
    float weights[32], mins[TB_QK_K / 32], scales[TB_QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < TB_QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                     rmin, 0.1f, nstep);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < TB_QK_K / 32; ++j) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = KMIN(63, ls);
        lm = KMIN(63, lm);
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc[j - 0] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *dd = tb_fp32_to_fp16(max_scale / 63.f);
    *dmin = tb_fp32_to_fp16(max_min / 63.f);
    for (int j = 0; j < TB_QK_K / 32; ++j) {
        uint8_t s, m;
        tb_scale_min_k4(j, sc, &s, &m);
        const float d = tb_fp16_to_fp32(*dd) * s;
        if (!d)
            continue;
        const float dm = tb_fp16_to_fp32(*dmin) * m;
        for (int ii = 0; ii < 32; ++ii) {
            const int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)KMAX(0, KMIN(nmax, l));
        }
    }
}

void tb_quantize_row_q4_K(const float *x, struct tb_block_q4_K *y, int64_t n)
{
    uint8_t L[TB_QK_K];
    for (int64_t i = 0; i < n / TB_QK_K; i++, x += TB_QK_K) {
        quantize_super_qkx(x, 15, -1.f, 20, L, y[i].scales, &y[i].d, &y[i].dmin);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < TB_QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; ++l)
                q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void tb_dequantize_row_q4_K(const struct tb_block_q4_K *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK_K; i++) {
        const uint8_t *q = x[i].qs;
        const float d = tb_fp16_to_fp32(x[i].d), min = tb_fp16_to_fp32(x[i].dmin);
        uint8_t sc, m;
        for (int j = 0, is = 0; j < TB_QK_K; j += 64, q += 32, is += 2) {
            tb_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            tb_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

void tb_quantize_row_q5_K(const float *x, struct tb_block_q5_K *y, int64_t n)
{
    uint8_t L[TB_QK_K];
    for (int64_t i = 0; i < n / TB_QK_K; i++, x += TB_QK_K) {
        quantize_super_qkx(x, 31, -0.5f, 15, L, y[i].scales, &y[i].d, &y[i].dmin);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, TB_QK_K / 8);
        uint8_t m1 = 1, m2 = 2;
        for (int k = 0; k < TB_QK_K; k += 64, ql += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[k + j], l2 = L[k + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
            m1 = (uint8_t)(m1 << 2);
            m2 = (uint8_t)(m2 << 2);
        }
    }
}

void tb_dequantize_row_q5_K(const struct tb_block_q5_K *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK_K; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        const float d = tb_fp16_to_fp32(x[i].d), min = tb_fp16_to_fp32(x[i].dmin);
        uint8_t sc, m, u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < TB_QK_K; j += 64, ql += 32, is += 2) {
            tb_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            tb_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

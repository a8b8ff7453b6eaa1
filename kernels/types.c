#include "tb_types.h"
#include "tb_error.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* compute = in the list of kernels/tb_wtypes.h */
#define TR(T, name, bs, ts) [TB_TYPE_##T] = {name, bs, ts, (TB_WTYPE_MASK >> TB_TYPE_##T) & 1u}

static const struct tb_type_traits k_traits[TB_TYPE_ID_LIMIT] = {
    TR(F32, "f32", 1, 4),       TR(F16, "f16", 1, 2),       TR(Q4_0, "q4_0", 32, 18),
    TR(Q4_1, "q4_1", 32, 20),   TR(Q5_0, "q5_0", 32, 22),   TR(Q5_1, "q5_1", 32, 24),
    TR(Q8_0, "q8_0", 32, 34),   TR(Q8_1, "q8_1", 32, 36),   TR(Q2_K, "q2_K", 256, 84),
    TR(Q3_K, "q3_K", 256, 110), TR(Q4_K, "q4_K", 256, 144), TR(Q5_K, "q5_K", 256, 176),
    TR(Q6_K, "q6_K", 256, 210), TR(Q8_K, "q8_K", 256, 292), TR(I8, "i8", 1, 1),
    TR(I16, "i16", 1, 2),       TR(I32, "i32", 1, 4),       TR(I64, "i64", 1, 8),
    TR(F64, "f64", 1, 8),       TR(BF16, "bf16", 1, 2),
};

/* The mask holds the ids in 32 bits. */
#define ID_FITS(T, ...) _Static_assert(TB_TYPE_##T < 32, "weight type id must be below 32");
TB_WTYPES(ID_FITS)

char *tb_wtype_names(char *buf, size_t n, const char *sep)
{
    static const int ids[] = {TB_WTYPES(TB_WTYPE_ID)};
    size_t len = 0;
    if (n == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int w = snprintf(buf + len, n - len, "%s%s", i ? sep : "", tb_type_name(ids[i]));
        if (w < 0 || (size_t)w >= n - len) {
            buf[len] = '\0'; /* whole names only */
            break;
        }
        len += (size_t)w;
    }
    return buf;
}

const struct tb_type_traits *tb_type_traits(int t)
{
    if (t < 0 || t >= TB_TYPE_ID_LIMIT || k_traits[t].name == NULL)
        return NULL;
    return &k_traits[t];
}

const char *tb_type_name(int t)
{
    const struct tb_type_traits *tr = tb_type_traits(t);
    return tr ? tr->name : "unknown";
}

/* ASCII case-insensitive equality ("q6_k" and "Q6_K" name ggml's q6_K). */
static bool name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        const char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        const char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

int tb_type_from_name(const char *name)
{
    for (int t = 0; t < TB_TYPE_ID_LIMIT; t++)
        if (k_traits[t].name && k_traits[t].compute && name_eq(k_traits[t].name, name))
            return t;
    return -1;
}

size_t tb_row_size(int t, int64_t n)
{
    const struct tb_type_traits *tr = tb_type_traits(t);
    if (!tr || n < 0 || n % tr->block_size != 0)
        return 0;
    return (size_t)(n / tr->block_size) * tr->type_size;
}

/* Bit-exact IEEE-754 binary16 conversion (round to nearest even), the same
 * results as ggml's scalar reference / F16C. */
tb_fp16 tb_fp32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) /* inf or nan */
        return (tb_fp16)(sign | (mag > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (mag >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (tb_fp16)(sign | 0x7c00u);
    if (mag < 0x38800000u) {   /* result is subnormal or zero */
        if (mag < 0x33000000u) /* below half of the smallest subnormal */
            return (tb_fp16)sign;
        uint32_t e = mag >> 23;
        uint32_t m = (mag & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (tb_fp16)(sign | r);
    }
    uint32_t r = ((mag >> 13) - ((127 - 15) << 10));
    uint32_t rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1)))
        r++;
    return (tb_fp16)(sign | r);
}

float tb_fp16_to_fp32(tb_fp16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1f;
    uint32_t m = h & 0x3ffu;
    uint32_t x;
    if (e == 0) {
        if (m == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            int sh = 0;
            while (!(m & 0x400u)) {
                m <<= 1;
                sh++;
            }
            m &= 0x3ffu;
            x = sign | ((uint32_t)(127 - 15 + 1 - sh) << 23) | (m << 13);
        }
    } else if (e == 31) { /* inf, or NaN made quiet as ggml's float math and F16C do */
        x = sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0);
    } else {
        x = sign | ((e + 127 - 15) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

void tb_quantize_row_q8_0(const float *x, struct tb_block_q8_0 *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK8_0; i++) {
        const float *xb = x + i * TB_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < TB_QK8_0; j++)
            amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = tb_fp32_to_fp16(d);
        for (int j = 0; j < TB_QK8_0; j++)
            y[i].qs[j] = (int8_t)roundf(xb[j] * id);
    }
}

void tb_quantize_row_q4_0(const float *x, struct tb_block_q4_0 *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float *xb = x + i * TB_QK4_0;
        float amax = 0.0f, max = 0.0f; /* signed value of largest magnitude */
        for (int j = 0; j < TB_QK4_0; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = tb_fp32_to_fp16(d);
        for (int j = 0; j < TB_QK4_0 / 2; j++) {
            const int8_t a = (int8_t)(xb[j] * id + 8.5f);
            const int8_t b = (int8_t)(xb[j + TB_QK4_0 / 2] * id + 8.5f);
            const uint8_t qa = (uint8_t)(a < 15 ? a : 15);
            const uint8_t qb = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(qa | (qb << 4));
        }
    }
}

void tb_dequantize_row_q8_0(const struct tb_block_q8_0 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK8_0; i++) {
        const float d = tb_fp16_to_fp32(x[i].d);
        for (int j = 0; j < TB_QK8_0; j++)
            y[i * TB_QK8_0 + j] = x[i].qs[j] * d;
    }
}

void tb_dequantize_row_q4_0(const struct tb_block_q4_0 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float d = tb_fp16_to_fp32(x[i].d);
        for (int j = 0; j < TB_QK4_0 / 2; j++) {
            y[i * TB_QK4_0 + j] = ((x[i].qs[j] & 0x0f) - 8) * d;
            y[i * TB_QK4_0 + j + TB_QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* The min and max of one 32-value block, scanned as ggml's q4_1/q5_1
 * reference quantizers scan it. */
static void block_min_max(const float *xb, float *min, float *max)
{
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < TB_QK4_0; j++) {
        if (xb[j] < *min)
            *min = xb[j];
        if (xb[j] > *max)
            *max = xb[j];
    }
}

/* ggml's quantize_row_q4_1_ref: min and max of the block, 15 steps between. */
void tb_quantize_row_q4_1(const float *x, struct tb_block_q4_1 *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float *xb = x + i * TB_QK4_0;
        float min, max;
        block_min_max(xb, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = tb_fp32_to_fp16(d);
        y[i].m = tb_fp32_to_fp16(min);
        for (int j = 0; j < TB_QK4_0 / 2; j++) {
            const int8_t a = (int8_t)((xb[j] - min) * id + 0.5f);
            const int8_t b = (int8_t)((xb[j + TB_QK4_0 / 2] - min) * id + 0.5f);
            const uint8_t qa = (uint8_t)(a < 15 ? a : 15);
            const uint8_t qb = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(qa | (qb << 4));
        }
    }
}

void tb_dequantize_row_q4_1(const struct tb_block_q4_1 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float d = tb_fp16_to_fp32(x[i].d), m = tb_fp16_to_fp32(x[i].m);
        for (int j = 0; j < TB_QK4_0 / 2; j++) {
            y[i * TB_QK4_0 + j] = (x[i].qs[j] & 0x0f) * d + m;
            y[i * TB_QK4_0 + j + TB_QK4_0 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

/* 5-bit quants q[32] -> the low nibbles and the 5th bits of a q5 block. */
static void pack_q5(const uint8_t *q, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < TB_QK4_0 / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
        h |= ((q[j] & 0x10u) >> 4) << j;
        h |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int b = 0; b < 4; b++) /* ggml memcpy's a uint32_t: little-endian */
        qh[b] = (uint8_t)(h >> (8 * b));
}

/* The 5-bit quant of element j (0..31) of a q5 block. */
static inline int q5_quant(const uint8_t *qs, uint32_t qh, int j)
{
    const int lo = j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
    return lo | (int)(((qh >> j) << 4) & 0x10u);
}

static inline uint32_t q5_qh(const uint8_t *qh)
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

/* ggml's quantize_row_q5_0_ref: as q4_0 with 32 steps (d = max / -16). */
void tb_quantize_row_q5_0(const float *x, struct tb_block_q5_0 *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float *xb = x + i * TB_QK4_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < TB_QK4_0; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t q[TB_QK4_0];
        y[i].d = tb_fp32_to_fp16(d);
        for (int j = 0; j < TB_QK4_0; j++) {
            const int8_t v = (int8_t)(xb[j] * id + 16.5f);
            q[j] = (uint8_t)(v < 31 ? v : 31);
        }
        pack_q5(q, y[i].qs, y[i].qh);
    }
}

void tb_dequantize_row_q5_0(const struct tb_block_q5_0 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float d = tb_fp16_to_fp32(x[i].d);
        const uint32_t qh = q5_qh(x[i].qh);
        for (int j = 0; j < TB_QK4_0; j++)
            y[i * TB_QK4_0 + j] = (q5_quant(x[i].qs, qh, j) - 16) * d;
    }
}

/* ggml's quantize_row_q5_1_ref: as q4_1 with 31 steps (no clamp: ggml has
 * none; (max - min) / d rounds to at most 31.5). */
void tb_quantize_row_q5_1(const float *x, struct tb_block_q5_1 *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float *xb = x + i * TB_QK4_0;
        float min, max;
        block_min_max(xb, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t q[TB_QK4_0];
        y[i].d = tb_fp32_to_fp16(d);
        y[i].m = tb_fp32_to_fp16(min);
        for (int j = 0; j < TB_QK4_0; j++)
            q[j] = (uint8_t)((xb[j] - min) * id + 0.5f);
        pack_q5(q, y[i].qs, y[i].qh);
    }
}

void tb_dequantize_row_q5_1(const struct tb_block_q5_1 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / TB_QK4_0; i++) {
        const float d = tb_fp16_to_fp32(x[i].d), m = tb_fp16_to_fp32(x[i].m);
        const uint32_t qh = q5_qh(x[i].qh);
        for (int j = 0; j < TB_QK4_0; j++)
            y[i * TB_QK4_0 + j] = q5_quant(x[i].qs, qh, j) * d + m;
    }
}

/* ggml_compute_fp32_to_bf16: NaN keeps its top bits and is made quiet;
 * everything else rounds to nearest even (overflow gives Inf). */
tb_bf16 tb_fp32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (tb_bf16)((u >> 16) | 64);
    return (tb_bf16)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

float tb_bf16_to_fp32(tb_bf16 h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void tb_quantize_row_bf16(const float *x, tb_bf16 *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tb_fp32_to_bf16(x[i]);
}

void tb_dequantize_row_bf16(const tb_bf16 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tb_bf16_to_fp32(x[i]);
}

void tb_quantize_row_f16(const float *x, tb_fp16 *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tb_fp32_to_fp16(x[i]);
}

void tb_convert_row_f16(const float *x, tb_fp16 *y, int64_t n)
{
    tb_quantize_row_f16(x, y, n);
}

void tb_dequantize_row_f16(const tb_fp16 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tb_fp16_to_fp32(x[i]);
}

void tb_quantize_row_f32(const float *x, float *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

void tb_dequantize_row_f32(const float *x, float *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

/* Untyped entry points per compute type, indexed by type id. */
struct row_conv {
    void (*quantize)(const float *x, void *y, int64_t n);
    void (*dequantize)(const void *x, float *y, int64_t n);
};

#define CONV_FNS(T, t, ...)                                                                        \
    static void quantize_##t(const float *x, void *y, int64_t n)                                   \
    {                                                                                              \
        tb_quantize_row_##t(x, y, n);                                                              \
    }                                                                                              \
    static void dequantize_##t(const void *x, float *y, int64_t n)                                 \
    {                                                                                              \
        tb_dequantize_row_##t(x, y, n);                                                            \
    }
TB_WTYPES(CONV_FNS)
#define CONV_ROW(T, t, ...) [TB_TYPE_##T] = {quantize_##t, dequantize_##t},
static const struct row_conv k_conv[TB_TYPE_ID_LIMIT] = {TB_WTYPES(CONV_ROW)};

int tb_quantize_row(int type, const float *x, void *y, int64_t n)
{
    if (!tb_wtype_ok(type))
        return TB_EUNSUPPORTED;
    k_conv[type].quantize(x, y, n);
    return TB_OK;
}

int tb_dequantize_row(int type, const void *x, float *y, int64_t n)
{
    if (!tb_wtype_ok(type))
        return TB_EUNSUPPORTED;
    k_conv[type].dequantize(x, y, n);
    return TB_OK;
}

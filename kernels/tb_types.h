/* Element types with ggml's numeric ids and exact block layouts, so GGUF
 * files written by llama.cpp load and compute the same numbers here. */
#ifndef TB_TYPES_H
#define TB_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values are ggml's type ids (they appear on disk in GGUF tensor infos). */
enum tb_type {
    TB_TYPE_F32 = 0,
    TB_TYPE_F16 = 1,
    TB_TYPE_Q4_0 = 2,
    TB_TYPE_Q4_1 = 3,
    TB_TYPE_Q5_0 = 6,
    TB_TYPE_Q5_1 = 7,
    TB_TYPE_Q8_0 = 8,
    TB_TYPE_Q8_1 = 9,
    TB_TYPE_Q2_K = 10,
    TB_TYPE_Q3_K = 11,
    TB_TYPE_Q4_K = 12,
    TB_TYPE_Q5_K = 13,
    TB_TYPE_Q6_K = 14,
    TB_TYPE_Q8_K = 15,
    TB_TYPE_I8 = 24,
    TB_TYPE_I16 = 25,
    TB_TYPE_I32 = 26,
    TB_TYPE_I64 = 27,
    TB_TYPE_F64 = 28,
    TB_TYPE_BF16 = 30,
    TB_TYPE_ID_LIMIT = 40, /* ids at or above this are out of range */
};

typedef uint16_t tb_fp16;

#define TB_QK8_0 32
#define TB_QK4_0 32

/* ggml block_q8_0: fp16 scale then 32 int8 quants. */
struct tb_block_q8_0 {
    tb_fp16 d;
    int8_t qs[TB_QK8_0];
};
/* ggml block_q4_0: fp16 scale then 16 bytes; byte j holds element j in the
 * low nibble and element j+16 in the high nibble, both offset by 8. */
struct tb_block_q4_0 {
    tb_fp16 d;
    uint8_t qs[TB_QK4_0 / 2];
};

/* ggml block_q4_1: fp16 scale d and minimum m, then nibbles as in q4_0
 * (unsigned, no offset): x = q * d + m. */
struct tb_block_q4_1 {
    tb_fp16 d;
    tb_fp16 m;
    uint8_t qs[TB_QK4_0 / 2];
};
/* ggml block_q5_0: fp16 scale, then qh (bit j = the 5th bit of element j,
 * little-endian), then the low nibbles as in q4_0; x = (q - 16) * d. */
struct tb_block_q5_0 {
    tb_fp16 d;
    uint8_t qh[4];
    uint8_t qs[TB_QK4_0 / 2];
};
/* ggml block_q5_1: fp16 d and m, qh and nibbles as q5_0; x = q * d + m. */
struct tb_block_q5_1 {
    tb_fp16 d;
    tb_fp16 m;
    uint8_t qh[4];
    uint8_t qs[TB_QK4_0 / 2];
};
/* K-quants: super-blocks of TB_QK_K elements. */
#define TB_QK_K 256
/* ggml block_q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16
 * int8 scales (one per 16 elements), then the fp16 super-block scale (last,
 * at byte 208): x = d * scales[i / 16] * (q - 32). Within each half of 128
 * elements, ql[l] holds elements l (low nibble) and l+64 (high), ql[l+32]
 * elements l+32 and l+96, qh[l] bits 2k..2k+1 the highs of element l+32k. */
struct tb_block_q6_K {
    uint8_t ql[TB_QK_K / 2];
    uint8_t qh[TB_QK_K / 4];
    int8_t scales[TB_QK_K / 16];
    tb_fp16 d;
};
/* ggml block_q4_K: fp16 d and dmin, 12 bytes of 6-bit scales and minimums
 * of the 8 sub-blocks of 32 (get_scale_min_k4's packing), then 128 bytes of
 * nibbles: byte l of the 32-byte group g holds element 64g + l (low) and
 * 64g + 32 + l (high). x = d * sc_j * q - dmin * m_j. */
struct tb_block_q4_K {
    tb_fp16 d;
    tb_fp16 dmin;
    uint8_t scales[12];
    uint8_t qs[TB_QK_K / 2];
};
/* ggml's get_scale_min_k4: the 6-bit scale d and minimum m of sub-block j
 * (0..7) from the 12 packed bytes of a q4_K / q5_K block. */
static inline void tb_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
/* ggml block_q5_K: as q4_K plus qh, whose bit 2g (2g+1) of byte l is the 5th
 * bit of element 64g + l (64g + 32 + l); x = d * sc_j * q - dmin * m_j. */
struct tb_block_q5_K {
    tb_fp16 d;
    tb_fp16 dmin;
    uint8_t scales[12];
    uint8_t qh[TB_QK_K / 8];
    uint8_t qs[TB_QK_K / 2];
};
/* bfloat16: the top 16 bits of an IEEE binary32. */
typedef uint16_t tb_bf16;

_Static_assert(sizeof(struct tb_block_q8_0) == 34, "q8_0 block must be 34 bytes");
_Static_assert(sizeof(struct tb_block_q4_0) == 18, "q4_0 block must be 18 bytes");
_Static_assert(sizeof(struct tb_block_q4_1) == 20, "q4_1 block must be 20 bytes");
_Static_assert(sizeof(struct tb_block_q5_0) == 22, "q5_0 block must be 22 bytes");
_Static_assert(sizeof(struct tb_block_q5_1) == 24, "q5_1 block must be 24 bytes");
_Static_assert(sizeof(struct tb_block_q4_K) == 144, "q4_K block must be 144 bytes");
_Static_assert(sizeof(struct tb_block_q5_K) == 176, "q5_K block must be 176 bytes");
_Static_assert(sizeof(struct tb_block_q6_K) == 210, "q6_K block must be 210 bytes");
_Static_assert(sizeof(tb_bf16) == 2, "bf16 must be 2 bytes");

struct tb_type_traits {
    const char *name;   /* ggml's name: "f32", "q4_0", ... */
    int64_t block_size; /* elements per block */
    size_t type_size;   /* bytes per block */
    bool compute;       /* the engine can compute with it (weights) */
};

/* NULL if t is not a type id this build knows. */
const struct tb_type_traits *tb_type_traits(int t);
const char *tb_type_name(int t); /* "unknown" when not known */
/* Parses the name of a compute type (tb_wtypes.h), ignoring ASCII case
 * ("q6_k", "Q6_K" and ggml's "q6_K" alike); -1 if unknown. */
int tb_type_from_name(const char *name);

/* Bytes of a row of n elements; 0 if n is not a multiple of the block size
 * or the type is unknown. */
size_t tb_row_size(int t, int64_t n);

/* IEEE half <-> float, round-to-nearest-even, exact like ggml's reference. */
tb_fp16 tb_fp32_to_fp16(float f);
float tb_fp16_to_fp32(tb_fp16 h);
/* float -> bfloat16 rounding to nearest even, NaN kept NaN (made quiet), as
 * ggml_compute_fp32_to_bf16; bf16 -> float is exact. */
tb_bf16 tb_fp32_to_bf16(float f);
float tb_bf16_to_fp32(tb_bf16 h);

/* ggml reference quantization (quantize_row_*_ref) and dequantization.
 * n must be a multiple of the block size (32; 256 for K-quants). Each compute type t has
 * tb_quantize_row_<t> and tb_dequantize_row_<t> (tb_quantize_row finds them via tb_wtypes.h). */
void tb_quantize_row_q8_0(const float *x, struct tb_block_q8_0 *y, int64_t n);
void tb_quantize_row_q4_0(const float *x, struct tb_block_q4_0 *y, int64_t n);
void tb_dequantize_row_q8_0(const struct tb_block_q8_0 *x, float *y, int64_t n);
void tb_dequantize_row_q4_0(const struct tb_block_q4_0 *x, float *y, int64_t n);
void tb_quantize_row_q4_1(const float *x, struct tb_block_q4_1 *y, int64_t n);
void tb_dequantize_row_q4_1(const struct tb_block_q4_1 *x, float *y, int64_t n);
void tb_quantize_row_q5_0(const float *x, struct tb_block_q5_0 *y, int64_t n);
void tb_dequantize_row_q5_0(const struct tb_block_q5_0 *x, float *y, int64_t n);
void tb_quantize_row_q5_1(const float *x, struct tb_block_q5_1 *y, int64_t n);
void tb_dequantize_row_q5_1(const struct tb_block_q5_1 *x, float *y, int64_t n);
/* K-quants (kernels/types_kquants.c): n must be a multiple of 256. */
void tb_quantize_row_q6_K(const float *x, struct tb_block_q6_K *y, int64_t n);
void tb_dequantize_row_q6_K(const struct tb_block_q6_K *x, float *y, int64_t n);
void tb_quantize_row_q4_K(const float *x, struct tb_block_q4_K *y, int64_t n);
void tb_dequantize_row_q4_K(const struct tb_block_q4_K *x, float *y, int64_t n);
void tb_quantize_row_q5_K(const float *x, struct tb_block_q5_K *y, int64_t n);
void tb_dequantize_row_q5_K(const struct tb_block_q5_K *x, float *y, int64_t n);
void tb_quantize_row_bf16(const float *x, tb_bf16 *y, int64_t n); /* any n */
void tb_dequantize_row_bf16(const tb_bf16 *x, float *y, int64_t n);
void tb_quantize_row_f16(const float *x, tb_fp16 *y, int64_t n);
void tb_dequantize_row_f16(const tb_fp16 *x, float *y, int64_t n);
void tb_convert_row_f16(const float *x, tb_fp16 *y, int64_t n); /* = tb_quantize_row_f16 */
void tb_quantize_row_f32(const float *x, float *y, int64_t n);  /* copies */
void tb_dequantize_row_f32(const float *x, float *y, int64_t n);

/* Any compute type <-> f32 rows. Returns 0 or TB_EUNSUPPORTED. */
int tb_quantize_row(int type, const float *x, void *y, int64_t n);
int tb_dequantize_row(int type, const void *x, float *y, int64_t n);

#include "tb_wtypes.h"

#ifdef __cplusplus
}
#endif
#endif

/* The "cpu" backend's kernel table: one struct of function pointers per ISA
 * level (scalar, avx2, avx512), XNNPACK style. Each kernel lives in a file
 * named after its op family and ISA (matmul_q4_0_avx512.c, vec_avx2.c, ...);
 * cpu_kernels.c holds the three tables and the one dispatch point,
 * tb_cpu_kernels_get(). Benchmarks normally go through the backend API with
 * cfg.isa_cap. To time one variant directly (single thread, no pool):
 *   const struct tb_cpu_kernels *k = tb_cpu_kernels_get(TB_ISA_AVX2);
 *   const struct tb_cpu_mm_kernel *mk = &k->mm[tb_cpu_wtype(W->type)];
 *   if mk->act_row_bytes: quantize_act each X row into a 64-byte aligned
 *   buffer of n * act_row_bytes(K) bytes and point g.x/g.x_row at it;
 *   mk->gemm(&g, 0, g.N);
 * The caller must clamp the level to tb_isa_detect() first. */
#ifndef TB_CPU_KERNELS_H
#define TB_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/tb_backend.h"
#include "kernels/tb_types.h"

/* Weight types with a matmul kernel (kernels/tb_wtypes.h), the index into
 * tb_cpu_kernels.mm: TB_CPU_W_F32, ... */
#define TB_CPU_W_ENUM(T, ...) TB_CPU_W_##T,
enum tb_cpu_wtype { TB_WTYPES(TB_CPU_W_ENUM) TB_CPU_W_COUNT };
int tb_cpu_wtype(enum tb_type t); /* -1 when not a matmul weight type */

/* One matmul: dst[i][j] = dot(W row j, X row i), j < N, i < n, rows of K.
 * x is the f32 activation (f32/f16 weights) or the activation rows already
 * converted by the kernel's quantize_act (quantized weights). */
struct tb_cpu_gemm {
    const void *w; /* N rows of w_row bytes */
    size_t w_row;
    const void *x; /* n rows of x_row bytes */
    size_t x_row;
    float *dst; /* n rows of d_row floats */
    size_t d_row;
    int64_t K, N, n;
};

/* Scale d and inverse id of one activation block of 32 quantized to
 * q8_0-style int8 (every ISA's quantize_act): finite = the block holds no
 * NaN/Inf, amax = its largest |x|. A non-finite block gets d = NaN and
 * id = 0: the caller stores 0 quants (x * 0 is still NaN: it must not
 * convert them) and the NaN reaches the matmul's output through
 * the scale (never INT_MIN from a float->int conversion, never laundered
 * into a finite result). A block so small that 1/d overflows gets d = id = 0
 * (it rounds to 0 anyway). Otherwise |x * id| <= 127. */
static inline void tb_cpu_act_scale(int finite, float amax, float *d, float *id)
{
    const float s = amax / 127.0f, inv = s != 0.0f ? 1.0f / s : 0.0f;
    if (!finite) {
        *d = __builtin_nanf("");
        *id = 0.0f;
    } else if (!(inv <= 3.40282347e+38f)) {
        *d = 0.0f;
        *id = 0.0f;
    } else {
        *d = s;
        *id = inv;
    }
}

struct tb_cpu_mm_kernel {
    /* Bytes of one converted activation row of K elements (a multiple of
     * 64); NULL = the kernel reads f32 activations directly. */
    size_t (*act_row_bytes)(int64_t K);
    /* f32 row of K -> the kernel's activation format (quantized weights:
     * q8_0-style blocks of 32 with an f32 scale, like llama.cpp's
     * vec_dot_type; the layout is private to the ISA variant). */
    void (*quantize_act)(const float *x, void *dst, int64_t K);
    /* Output rows j0..j1 (weights) for all n activation rows. */
    void (*gemm)(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1);
    /* (optional) batches (n > 1) of f32 activations: tiles [t0, t1) of 16
     * rows each (rows past n zero) to k-major order, dst[t][k][16], then
     * gemm_tiles runs over them (g.x = the tiles, g.x_row = K floats).
     * Lets a kernel keep 16 rows in registers with one pointer. */
    void (*pack_x)(const float *x, size_t x_row, int64_t n, int64_t K, float *dst, int64_t t0,
                   int64_t t1);
    void (*gemm_tiles)(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1);
};

/* A weight layout repacked once at load time for one type and ISA: the
 * backend keeps the packed copy and runs mm over it (g.w = the copy,
 * g.w_row unused). */
struct tb_cpu_mm_packed {
    /* bytes of the packed copy of an N x K weight; 0: the shape does not fit */
    size_t (*bytes)(int64_t N, int64_t K);
    /* packs row groups [g0, g1) (`rows` rows each) from the file's layout */
    void (*pack)(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1, void *dst);
    int64_t rows;
    struct tb_cpu_mm_kernel mm;
};

/* Attention of one query row for the G query heads sharing one kv head. */
struct tb_cpu_attn {
    const float *q;      /* G heads of hd floats, contiguous */
    float *y;            /* G output heads, contiguous */
    const void *k, *v;   /* this kv head in cache row 0 */
    size_t k_row, v_row; /* bytes between cache rows */
    int k16, v16;        /* caches hold f16 (else f32) */
    int hd, G;
    int64_t n_kv; /* cache rows 0..n_kv-1 are attended */
    float scale;
    float *scores; /* scratch of G * n_kv floats */
};

struct tb_cpu_kernels {
    enum tb_isa isa;
    struct tb_cpu_mm_kernel mm[TB_CPU_W_COUNT];
    /* (optional, per type) repacked layout; bytes == NULL: none */
    struct tb_cpu_mm_packed packed[TB_CPU_W_COUNT];
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    float (*dot_f16)(const float *a, const tb_fp16 *b, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n); /* y += a*x */
    void (*axpy_f16)(float *y, float a, const tb_fp16 *x, int64_t n);
    void (*scale)(float *y, float a, int64_t n); /* y *= a */
    /* y = exp(y - max) in place; returns the sum (softmax numerator). */
    float (*exp_sum)(float *y, float max, int64_t n);
    void (*rms_norm)(float *y, const float *x, const float *w, int64_t n, float eps);
    void (*silu)(float *y, const float *x, int64_t n);
    void (*mul)(float *z, const float *x, const float *y, int64_t n);
    void (*add)(float *z, const float *x, const float *y, int64_t n);
    void (*to_f16)(tb_fp16 *y, const float *x, int64_t n);
    void (*from_f16)(float *y, const tb_fp16 *x, int64_t n);
    /* (optional) whole-group attention; returns 0 when it does not handle
     * a->hd, and the backend then composes dot/exp_sum/axpy per head */
    int (*attn_group)(const struct tb_cpu_attn *a);
};

/* Bytes of repacked weight copies a "cpu" backend holds (0 for others);
 * whether it holds one of w. Copies live as long as the backend (or until
 * the memory they came from is seen reused). */
size_t tb_cpu_packed_bytes(const struct tb_backend *b);
bool tb_cpu_weight_packed(const struct tb_backend *b, const struct tb_tensor *w);

/* The table for exactly `isa` (no CPU check: callers clamp with
 * tb_isa_detect()). NULL when that level is not compiled in. */
const struct tb_cpu_kernels *tb_cpu_kernels_get(enum tb_isa isa);

/* ---- kernel entry points, grouped by file ---- */
/* The matmul kernels of each weight type, named by its row of
 * kernels/tb_wtypes.h (only the variants it says exist):
 *   matmul_T_scalar.c     tb_cpu_gemm_T_scalar
 *   matmul_T_avx2.c       tb_cpu_gemm_T_avx2
 *   matmul_T_avx512.c     tb_cpu_gemm_T_avx512 (+ tb_cpu_quantize_act_T_avx512, ACT Q8)
 *   matmul_Tx16_avx512.c  tb_cpu_pack_bytes_Tx16, tb_cpu_pack_Tx16, tb_cpu_gemm_Tx16_avx512
 *                         (+ ACT Q8: tb_cpu_quantize_act_Tx16_avx512,
 *                         ACT F32/F16: tb_cpu_gemm_tiles_Tx16_avx512) */
#define TB_CPU_IF_Y(...) __VA_ARGS__
#define TB_CPU_IF_N(...)
#define TB_CPU_GEMM_PROTO(name) void name(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1);
#define TB_CPU_ACT_PROTO(name) void name(const float *x, void *dst, int64_t K);
#define TB_CPU_X512_F32(t)
#define TB_CPU_X512_F16(t)
#define TB_CPU_X512_Q8(t) TB_CPU_ACT_PROTO(tb_cpu_quantize_act_##t##_avx512)
#define TB_CPU_X16_F32(t) TB_CPU_GEMM_PROTO(tb_cpu_gemm_tiles_##t##x16_avx512)
#define TB_CPU_X16_F16(t) TB_CPU_X16_F32(t)
#define TB_CPU_X16_Q8(t) TB_CPU_ACT_PROTO(tb_cpu_quantize_act_##t##x16_avx512)
/* clang-format off */
#define TB_CPU_MM_PROTOS(T, t, FT, ACT, AVX2, AVX512, X16)                                         \
    TB_CPU_GEMM_PROTO(tb_cpu_gemm_##t##_scalar)                                                    \
    TB_CPU_IF_##AVX2(TB_CPU_GEMM_PROTO(tb_cpu_gemm_##t##_avx2))                                    \
    TB_CPU_IF_##AVX512(TB_CPU_GEMM_PROTO(tb_cpu_gemm_##t##_avx512) TB_CPU_X512_##ACT(t))           \
    TB_CPU_IF_##X16(size_t tb_cpu_pack_bytes_##t##x16(int64_t N, int64_t K);                       \
                    void tb_cpu_pack_##t##x16(const void *w, size_t w_row, int64_t K, int64_t g0,  \
                                              int64_t g1, void *dst);                              \
                    TB_CPU_GEMM_PROTO(tb_cpu_gemm_##t##x16_avx512) TB_CPU_X16_##ACT(t))
/* clang-format on */
TB_WTYPES(TB_CPU_MM_PROTOS)

/* scalar */
size_t tb_cpu_act_q8_bytes_scalar(int64_t K);
void tb_cpu_quantize_act_scalar(const float *x, void *dst, int64_t K);
float tb_cpu_dot_f32_scalar(const float *a, const float *b, int64_t n);
float tb_cpu_dot_f16_scalar(const float *a, const tb_fp16 *b, int64_t n);
void tb_cpu_axpy_f32_scalar(float *y, float a, const float *x, int64_t n);
void tb_cpu_axpy_f16_scalar(float *y, float a, const tb_fp16 *x, int64_t n);
void tb_cpu_scale_scalar(float *y, float a, int64_t n);
float tb_cpu_exp_sum_scalar(float *y, float max, int64_t n);
void tb_cpu_rms_norm_scalar(float *y, const float *x, const float *w, int64_t n, float eps);
void tb_cpu_silu_scalar(float *y, const float *x, int64_t n);
void tb_cpu_mul_scalar(float *z, const float *x, const float *y, int64_t n);
void tb_cpu_add_scalar(float *z, const float *x, const float *y, int64_t n);
void tb_cpu_to_f16_scalar(tb_fp16 *y, const float *x, int64_t n);
void tb_cpu_from_f16_scalar(float *y, const tb_fp16 *x, int64_t n);

/* avx2 (the scalar activation format is shared: int8 quants + f32 scales) */
void tb_cpu_quantize_act_avx2(const float *x, void *dst, int64_t K);
float tb_cpu_dot_f32_avx2(const float *a, const float *b, int64_t n);
float tb_cpu_dot_f16_avx2(const float *a, const tb_fp16 *b, int64_t n);
void tb_cpu_axpy_f32_avx2(float *y, float a, const float *x, int64_t n);
void tb_cpu_axpy_f16_avx2(float *y, float a, const tb_fp16 *x, int64_t n);
void tb_cpu_scale_avx2(float *y, float a, int64_t n);
float tb_cpu_exp_sum_avx2(float *y, float max, int64_t n);
void tb_cpu_rms_norm_avx2(float *y, const float *x, const float *w, int64_t n, float eps);
void tb_cpu_silu_avx2(float *y, const float *x, int64_t n);
void tb_cpu_mul_avx2(float *z, const float *x, const float *y, int64_t n);
void tb_cpu_add_avx2(float *z, const float *x, const float *y, int64_t n);
void tb_cpu_to_f16_avx2(tb_fp16 *y, const float *x, int64_t n);
void tb_cpu_from_f16_avx2(float *y, const tb_fp16 *x, int64_t n);

/* avx512 (its own activation formats, one per quantized weight type) */
size_t tb_cpu_act_bytes_avx512(int64_t K);
float tb_cpu_dot_f32_avx512(const float *a, const float *b, int64_t n);
float tb_cpu_dot_f16_avx512(const float *a, const tb_fp16 *b, int64_t n);
void tb_cpu_axpy_f32_avx512(float *y, float a, const float *x, int64_t n);
void tb_cpu_axpy_f16_avx512(float *y, float a, const tb_fp16 *x, int64_t n);
void tb_cpu_scale_avx512(float *y, float a, int64_t n);
float tb_cpu_exp_sum_avx512(float *y, float max, int64_t n);
void tb_cpu_rms_norm_avx512(float *y, const float *x, const float *w, int64_t n, float eps);
void tb_cpu_silu_avx512(float *y, const float *x, int64_t n);
void tb_cpu_mul_avx512(float *z, const float *x, const float *y, int64_t n);
void tb_cpu_add_avx512(float *z, const float *x, const float *y, int64_t n);
void tb_cpu_to_f16_avx512(tb_fp16 *y, const float *x, int64_t n);
void tb_cpu_from_f16_avx512(float *y, const tb_fp16 *x, int64_t n);
int tb_cpu_attn_group_avx512(const struct tb_cpu_attn *a);
/* avx512, weights repacked into 16-row groups (gemm_qx16_avx512.h) */
size_t tb_cpu_qx16_act_bytes_avx512(int64_t K);
void tb_cpu_pack_x16(const float *x, size_t x_row, int64_t n, int64_t K, float *dst, int64_t t0,
                     int64_t t1);

#endif

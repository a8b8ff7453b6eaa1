/* The one dispatch point of the cpu backend: a const kernel table per ISA
 * level. The backend picks a table once, at create time. */
#include "kernels/cpu/cpu_kernels.h"

int tb_cpu_wtype(enum tb_type t)
{
    switch (t) {
#define W_CASE(T, ...)                                                                             \
    case TB_TYPE_##T: return TB_CPU_W_##T;
        TB_WTYPES(W_CASE)
#undef W_CASE
    default: return -1;
    }
}

/* ---- the mm entries of a type per ISA, from its row of kernels/tb_wtypes.h.
 * One entry shape per activation format (ACT) and ISA: */
/* clang-format off */
#define MM_SCALAR_F32(t) {NULL, NULL, tb_cpu_gemm_##t##_scalar, NULL, NULL}
#define MM_SCALAR_F16 MM_SCALAR_F32
#define MM_SCALAR_Q8(t) {tb_cpu_act_q8_bytes_scalar, tb_cpu_quantize_act_scalar, \
                         tb_cpu_gemm_##t##_scalar, NULL, NULL}
#define MM_AVX2_F32(t) {NULL, NULL, tb_cpu_gemm_##t##_avx2, NULL, NULL}
#define MM_AVX2_F16 MM_AVX2_F32
#define MM_AVX2_Q8(t) {tb_cpu_act_q8_bytes_scalar, tb_cpu_quantize_act_avx2, \
                       tb_cpu_gemm_##t##_avx2, NULL, NULL}
#define MM_AVX512_F32(t) {NULL, NULL, tb_cpu_gemm_##t##_avx512, NULL, NULL}
#define MM_AVX512_F16 MM_AVX512_F32
#define MM_AVX512_Q8(t) {tb_cpu_act_bytes_avx512, tb_cpu_quantize_act_##t##_avx512, \
                         tb_cpu_gemm_##t##_avx512, NULL, NULL}
#define PK_F32(t) {tb_cpu_pack_bytes_##t##x16, tb_cpu_pack_##t##x16, 16,                \
                   {NULL, NULL, tb_cpu_gemm_##t##x16_avx512, tb_cpu_pack_x16,          \
                    tb_cpu_gemm_tiles_##t##x16_avx512}}
#define PK_F16 PK_F32
#define PK_Q8(t) {tb_cpu_pack_bytes_##t##x16, tb_cpu_pack_##t##x16, 16,                 \
                  {tb_cpu_qx16_act_bytes_avx512, tb_cpu_quantize_act_##t##x16_avx512,  \
                   tb_cpu_gemm_##t##x16_avx512, NULL, NULL}}
/* clang-format on */

/* The one place a missing ISA variant (N in the list) falls back: AVX2 to
 * the scalar kernel, AVX-512 to the AVX2 (else scalar) one; no 16-row
 * layout leaves packed[] empty (the file's layout is used). */
#define AVX2_Y(t, A) MM_AVX2_##A(t)
#define AVX2_N(t, A) MM_SCALAR_##A(t)
#define AVX512_Y(t, A, a2) MM_AVX512_##A(t)
#define AVX512_N(t, A, a2) AVX2_##a2(t, A)
#define X16_Y(T, t, A) [TB_CPU_W_##T] = PK_##A(t),
#define X16_N(T, t, A)

#define ROW_SCALAR(T, t, FT, A, a2, a5, x16) [TB_CPU_W_##T] = MM_SCALAR_##A(t),
#define ROW_AVX2(T, t, FT, A, a2, a5, x16) [TB_CPU_W_##T] = AVX2_##a2(t, A),
#define ROW_AVX512(T, t, FT, A, a2, a5, x16) [TB_CPU_W_##T] = AVX512_##a5(t, A, a2),
#define ROW_X16(T, t, FT, A, a2, a5, x16) X16_##x16(T, t, A)

static const struct tb_cpu_kernels k_scalar = {
    .isa = TB_ISA_SCALAR,
    .mm = {TB_WTYPES(ROW_SCALAR)},
    .dot_f32 = tb_cpu_dot_f32_scalar,
    .dot_f16 = tb_cpu_dot_f16_scalar,
    .axpy_f32 = tb_cpu_axpy_f32_scalar,
    .axpy_f16 = tb_cpu_axpy_f16_scalar,
    .scale = tb_cpu_scale_scalar,
    .exp_sum = tb_cpu_exp_sum_scalar,
    .rms_norm = tb_cpu_rms_norm_scalar,
    .silu = tb_cpu_silu_scalar,
    .mul = tb_cpu_mul_scalar,
    .add = tb_cpu_add_scalar,
    .to_f16 = tb_cpu_to_f16_scalar,
    .from_f16 = tb_cpu_from_f16_scalar,
};

#if defined(__x86_64__)
static const struct tb_cpu_kernels k_avx2 = {
    .isa = TB_ISA_AVX2,
    .mm = {TB_WTYPES(ROW_AVX2)},
    .dot_f32 = tb_cpu_dot_f32_avx2,
    .dot_f16 = tb_cpu_dot_f16_avx2,
    .axpy_f32 = tb_cpu_axpy_f32_avx2,
    .axpy_f16 = tb_cpu_axpy_f16_avx2,
    .scale = tb_cpu_scale_avx2,
    .exp_sum = tb_cpu_exp_sum_avx2,
    .rms_norm = tb_cpu_rms_norm_avx2,
    .silu = tb_cpu_silu_avx2,
    .mul = tb_cpu_mul_avx2,
    .add = tb_cpu_add_avx2,
    .to_f16 = tb_cpu_to_f16_avx2,
    .from_f16 = tb_cpu_from_f16_avx2,
};

static const struct tb_cpu_kernels k_avx512 = {
    .isa = TB_ISA_AVX512,
    .mm = {TB_WTYPES(ROW_AVX512)},
    .packed = {TB_WTYPES(ROW_X16)},
    .dot_f32 = tb_cpu_dot_f32_avx512,
    .dot_f16 = tb_cpu_dot_f16_avx512,
    .axpy_f32 = tb_cpu_axpy_f32_avx512,
    .axpy_f16 = tb_cpu_axpy_f16_avx512,
    .scale = tb_cpu_scale_avx512,
    .exp_sum = tb_cpu_exp_sum_avx512,
    .rms_norm = tb_cpu_rms_norm_avx512,
    .silu = tb_cpu_silu_avx512,
    .mul = tb_cpu_mul_avx512,
    .add = tb_cpu_add_avx512,
    .to_f16 = tb_cpu_to_f16_avx512,
    .from_f16 = tb_cpu_from_f16_avx512,
    .attn_group = tb_cpu_attn_group_avx512,
};
#endif

const struct tb_cpu_kernels *tb_cpu_kernels_get(enum tb_isa isa)
{
    switch (isa) {
    case TB_ISA_SCALAR: return &k_scalar;
#if defined(__x86_64__)
    case TB_ISA_AVX2: return &k_avx2;
    case TB_ISA_AVX512: return &k_avx512;
#endif
    default: return NULL;
    }
}

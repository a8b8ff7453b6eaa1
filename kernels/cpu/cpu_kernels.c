/* The one dispatch point of the cpu backend: a const kernel table per ISA
 * level. The backend picks a table once, at create time. */
#include "kernels/cpu/cpu_kernels.h"

int tb_cpu_wtype(enum tb_type t)
{
    switch (t) {
    case TB_TYPE_F32: return TB_CPU_W_F32;
    case TB_TYPE_F16: return TB_CPU_W_F16;
    case TB_TYPE_Q8_0: return TB_CPU_W_Q8_0;
    case TB_TYPE_Q4_0: return TB_CPU_W_Q4_0;
    default: return -1;
    }
}

static const struct tb_cpu_kernels k_scalar = {
    .isa = TB_ISA_SCALAR,
    .mm =
        {
            [TB_CPU_W_F32] = {NULL, NULL, tb_cpu_gemm_f32_scalar},
            [TB_CPU_W_F16] = {NULL, NULL, tb_cpu_gemm_f16_scalar},
            [TB_CPU_W_Q8_0] = {tb_cpu_act_q8_bytes_scalar, tb_cpu_quantize_act_scalar,
                               tb_cpu_gemm_q8_0_scalar},
            [TB_CPU_W_Q4_0] = {tb_cpu_act_q8_bytes_scalar, tb_cpu_quantize_act_scalar,
                               tb_cpu_gemm_q4_0_scalar},
        },
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
    .mm =
        {
            [TB_CPU_W_F32] = {NULL, NULL, tb_cpu_gemm_f32_avx2},
            [TB_CPU_W_F16] = {NULL, NULL, tb_cpu_gemm_f16_avx2},
            [TB_CPU_W_Q8_0] = {tb_cpu_act_q8_bytes_scalar, tb_cpu_quantize_act_avx2,
                               tb_cpu_gemm_q8_0_avx2},
            [TB_CPU_W_Q4_0] = {tb_cpu_act_q8_bytes_scalar, tb_cpu_quantize_act_avx2,
                               tb_cpu_gemm_q4_0_avx2},
        },
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
    .mm =
        {
            [TB_CPU_W_F32] = {NULL, NULL, tb_cpu_gemm_f32_avx512},
            [TB_CPU_W_F16] = {NULL, NULL, tb_cpu_gemm_f16_avx512},
            [TB_CPU_W_Q8_0] = {tb_cpu_act_bytes_avx512, tb_cpu_quantize_act_q8_0_avx512,
                               tb_cpu_gemm_q8_0_avx512},
            [TB_CPU_W_Q4_0] = {tb_cpu_act_bytes_avx512, tb_cpu_quantize_act_q4_0_avx512,
                               tb_cpu_gemm_q4_0_avx512},
        },
    .packed =
        {
            [TB_CPU_W_F32] = {tb_cpu_pack_bytes_f32x16,
                              tb_cpu_pack_f32x16,
                              16,
                              {NULL, NULL, tb_cpu_gemm_f32x16_avx512, tb_cpu_pack_x16,
                               tb_cpu_gemm_tiles_f32x16_avx512}},
            [TB_CPU_W_F16] = {tb_cpu_pack_bytes_f16x16,
                              tb_cpu_pack_f16x16,
                              16,
                              {NULL, NULL, tb_cpu_gemm_f16x16_avx512, tb_cpu_pack_x16,
                               tb_cpu_gemm_tiles_f16x16_avx512}},
            [TB_CPU_W_Q8_0] = {tb_cpu_pack_bytes_q8_0x16,
                               tb_cpu_pack_q8_0x16,
                               16,
                               {tb_cpu_qx16_act_bytes_avx512, tb_cpu_quantize_act_q8_0x16_avx512,
                                tb_cpu_gemm_q8_0x16_avx512}},
            [TB_CPU_W_Q4_0] = {tb_cpu_pack_bytes_q4_0x16,
                               tb_cpu_pack_q4_0x16,
                               16,
                               {tb_cpu_qx16_act_bytes_avx512, tb_cpu_quantize_act_q4_0x16_avx512,
                                tb_cpu_gemm_q4_0x16_avx512}},
        },
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

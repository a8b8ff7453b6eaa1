/* The accuracy contract of every fast backend (cpu at each ISA, opencl,
 * cuda) against cpu-ref, the scalar double-accumulating ground truth: one
 * allowed error per output element, derived from the problem, used by
 * test_ops.c and accel_cases.h (test_opencl, test_cuda). Included, static.
 *
 * eps = FLT_EPSILON (2^-23), u16 = 2^-11 (fp16 unit roundoff).
 *   GET_ROWS, KV_STORE, MUL, ADD, and any non-f32 dst: exact (one rounding
 *     or an exact conversion on both sides), compared as bytes or values.
 *   MATMUL y = sum_k w_k x_k over K (w = the dequantized weight row, the same
 *     on both sides). A backend may accumulate in f32 in any order and may
 *     round the activations x as the weight type's ACT column in
 *     kernels/tb_wtypes.h allows (F32: not at all; F16: to fp16; Q8: to
 *     q8_0-style blocks b of 32, as ggml's vec_dot_type):
 *       S   = sum_k |w_k x_k|, sw = sum_k |w_k|
 *       R   = sqrt(sum_k (w_k dmax_k)^2 / 3), the standard deviation of the
 *             rounding error when each x_k moves by at most dmax_k (uniform):
 *             dmax_k = 0 (F32), u16 |x_k| (F16), amax_b / 254 (Q8)
 *       Sys = u16 S + 2^-18 sw for any weight type but f32 (fp16 block
 *             scales, or activations held as fp16 on an accelerator: a
 *             systematic relative error, plus the fp16 subnormal floor)
 *       tol = 6 R + Sys + 8 sqrt(K) eps S
 *     (6 sigma for the random part; an f32 sum of K terms in any order,
 *     tree or fma, is off by about sqrt(K) eps S).
 *   RMS_NORM: (2 sqrt(K) + 8) eps |y| (f32 sum of squares, rsqrt).
 *   SILU: 16 eps |y| (a vector expf is good to a few ulp).
 *   ROPE, pair k at position p, angle a = p theta^(-2k/hd): a backend may
 *     build theta^(-2k/hd) by k float multiplies (ggml does) and round
 *     p * theta (|da| <= (2k + 4) eps a), or form the angle from p in f32
 *     (|da| <= 8 eps (p + 1)); sin/cos add 4 eps:
 *       tol = (|x0| + |x1|) eps (max((2k + 4) a, 8 (p + 1)) + 4).
 *   ATTENTION, query row i, head h, n_kv = pos0 + i + 1 keys (pos0 + n when
 *     non_causal), ss = scale max_t sum_d |q_d k_td|, vmax = max |v| read,
 *     u = u16 when a cache is f16 (q, k and the softmax weights may be held
 *     as fp16), else 0: the score error is ds = ss (u + 4 sqrt(hd) eps) and
 *     a softmax output moves by at most 2 ds vmax:
 *       tol = vmax (2 ds + u + 8 sqrt(n_kv) eps).
 * Every output must be finite, as the reference is. */
#ifndef TB_OP_CONTRACT_H
#define TB_OP_CONTRACT_H

#include "kernels/tb_graph.h"
#include "kernels/tb_tensor.h"
#include "kernels/tb_types.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#define OPC_EPS ((double)FLT_EPSILON)
#define OPC_U16 (1.0 / 2048.0)

/* How a fast matmul over weights of type t may round its activations
 * (the ACT column of kernels/tb_wtypes.h). */
enum opc_act { OPC_ACT_F32, OPC_ACT_F16, OPC_ACT_Q8 };

static inline enum opc_act opc_act(enum tb_type t)
{
    switch (t) {
#define OPC_ACT_CASE(T, t_, FT, ACT, ...)                                                          \
    case TB_TYPE_##T: return OPC_ACT_##ACT;
        TB_WTYPES(OPC_ACT_CASE)
#undef OPC_ACT_CASE
    default: return OPC_ACT_F32;
    }
}

/* Ops whose output must match cpu-ref exactly. */
static inline bool opc_exact(const struct tb_op *op)
{
    return op->dst->type != TB_TYPE_F32 || op->kind == TB_OP_GET_ROWS ||
           op->kind == TB_OP_KV_STORE || op->kind == TB_OP_MUL || op->kind == TB_OP_ADD;
}

/* The MATMUL bound for one output: weight type wt, reduction length K, the
 * sums S, sw and sum_k (w_k dmax_k)^2 (r2) of the header. */
static inline double opc_matmul_tol(enum tb_type wt, int64_t K, double S, double sw, double r2)
{
    const double sys = wt == TB_TYPE_F32 ? 0.0 : OPC_U16 * S + ldexp(1.0, -18) * sw;
    return 6.0 * sqrt(r2 / 3.0) + sys + 8.0 * sqrt((double)K) * OPC_EPS * S;
}

/* dmax_k of activation row x for weights of type wt */
static inline void opc_act_dmax(enum tb_type wt, const float *x, int64_t K, double *dmax)
{
    const enum opc_act act = opc_act(wt);
    for (int64_t k0 = 0; k0 < K; k0 += 32) {
        const int64_t k1 = k0 + 32 < K ? k0 + 32 : K;
        double amax = 0;
        for (int64_t k = k0; k < k1; k++)
            amax = fmax(amax, fabs(x[k]));
        for (int64_t k = k0; k < k1; k++)
            dmax[k] = act == OPC_ACT_F32   ? 0.0
                      : act == OPC_ACT_F16 ? OPC_U16 * fabs(x[k])
                                           : amax / 254.0;
    }
}

static inline void opc_tol_matmul(const struct tb_op *op, double *tol)
{
    const struct tb_tensor *W = op->src[0], *X = op->src[1];
    const int64_t K = W->ne[0], N = tb_tensor_nrows(W), n = tb_tensor_nrows(X);
    float *w = malloc((size_t)K * sizeof *w);
    double *dmax = malloc((size_t)(K * n) * sizeof *dmax);
    for (int64_t i = 0; i < n; i++)
        opc_act_dmax(W->type, tb_tensor_row(X, i), K, dmax + i * K);
    for (int64_t j = 0; j < N; j++) {
        tb_dequantize_row(W->type, tb_tensor_row(W, j), w, K);
        for (int64_t i = 0; i < n; i++) {
            const float *x = tb_tensor_row(X, i);
            double S = 0, r2 = 0, sw = 0;
            for (int64_t k = 0; k < K; k++) {
                const double wd = (double)w[k] * dmax[i * K + k];
                S += fabs((double)w[k] * x[k]);
                r2 += wd * wd;
                sw += fabs(w[k]);
            }
            tol[i * N + j] = opc_matmul_tol(W->type, K, S, sw, r2);
        }
    }
    free(w);
    free(dmax);
}

/* x: the input rows, packed */
static inline void opc_tol_rope(const struct tb_op *op, const float *x, double *tol)
{
    const struct tb_op_params *p = &op->p;
    const int hd = p->head_dim;
    const int64_t N = op->dst->ne[0];
    for (int64_t i = 0; i < tb_tensor_nrows(op->dst); i++) {
        const double pos = (double)p->pos0 + (double)i;
        for (int h = 0; h < p->n_head; h++)
            for (int k = 0; k < hd / 2; k++) {
                const double a = pos * pow(p->rope_theta, -2.0 * k / hd);
                const int64_t e = i * N + (int64_t)h * hd + 2 * k;
                const double t = (fabs(x[e]) + fabs(x[e + 1])) * OPC_EPS *
                                 (fmax((2.0 * k + 4.0) * a, 8.0 * (pos + 1.0)) + 4.0);
                tol[e] = tol[e + 1] = t;
            }
    }
}

/* head_dim values of kv head kvh in cache row t, as floats */
static inline void opc_cache_head(const struct tb_tensor *cache, int64_t t, int kvh, int hd,
                                  float *out)
{
    const size_t esz = tb_type_traits(cache->type)->type_size;
    tb_dequantize_row(cache->type, (const char *)tb_tensor_row(cache, t) + (size_t)kvh * hd * esz,
                      out, hd);
}

static inline void opc_tol_attention(const struct tb_op *op, double *tol)
{
    const struct tb_op_params *p = &op->p;
    const struct tb_tensor *Q = op->src[0], *Kc = op->src[1], *Vc = op->src[2];
    const int hd = p->head_dim, group = p->n_head / p->n_head_kv;
    const int64_t n = tb_tensor_nrows(Q), N = op->dst->ne[0];
    const double u = Kc->type == TB_TYPE_F16 || Vc->type == TB_TYPE_F16 ? OPC_U16 : 0.0;
    float *kv = malloc((size_t)hd * sizeof *kv);
    for (int64_t i = 0; i < n; i++) {
        const int64_t n_kv = p->non_causal ? p->pos0 + n : p->pos0 + i + 1;
        const float *q = tb_tensor_row(Q, i);
        for (int h = 0; h < p->n_head; h++) {
            double smax = 0, vmax = 0;
            for (int64_t t = 0; t < n_kv; t++) {
                opc_cache_head(Kc, t, h / group, hd, kv);
                double s = 0;
                for (int d = 0; d < hd; d++)
                    s += fabs((double)q[h * hd + d] * kv[d]);
                smax = fmax(smax, s);
                opc_cache_head(Vc, t, h / group, hd, kv);
                for (int d = 0; d < hd; d++)
                    vmax = fmax(vmax, fabs(kv[d]));
            }
            const double ds = fabs(p->scale) * smax * (u + 4.0 * sqrt((double)hd) * OPC_EPS);
            const double t = vmax * (2.0 * ds + u + 8.0 * sqrt((double)n_kv) * OPC_EPS);
            for (int d = 0; d < hd; d++)
                tol[i * N + h * hd + d] = t;
        }
    }
    free(kv);
}

/* tol[i * ne0 + e] for each element of op's f32 dst (0 = exact). ref:
 * cpu-ref's output and x_in: ROPE's input (src0, or dst's bytes before an
 * in-place run), both packed [ne0 x rows]; x_in is only read for ROPE. */
static inline void opc_tolerance(const struct tb_op *op, const float *ref, const float *x_in,
                                 double *tol)
{
    const int64_t n = op->dst->ne[0] * tb_tensor_nrows(op->dst);
    for (int64_t i = 0; i < n; i++)
        tol[i] = 0.0;
    switch (op->kind) {
    case TB_OP_MATMUL: opc_tol_matmul(op, tol); break;
    case TB_OP_ROPE: opc_tol_rope(op, x_in, tol); break;
    case TB_OP_ATTENTION: opc_tol_attention(op, tol); break;
    case TB_OP_RMS_NORM:
        for (int64_t i = 0; i < n; i++)
            tol[i] = (2.0 * sqrt((double)op->dst->ne[0]) + 8.0) * OPC_EPS * fabs(ref[i]);
        break;
    case TB_OP_SILU:
        for (int64_t i = 0; i < n; i++)
            tol[i] = 16.0 * OPC_EPS * fabs(ref[i]);
        break;
    default: break; /* exact */
    }
}

/* The largest |out - ref| / tol over n rows of N (out rows out_row floats
 * apart; ref and tol packed): 0 when equal, INFINITY for a non-finite out
 * or any error where tol is 0. *worst_i: its packed index (0 if none);
 * *nonfinite: how many outputs were not finite. */
static inline double opc_worst(const float *out, size_t out_row, const float *ref,
                               const double *tol, int64_t N, int64_t n, int64_t *worst_i,
                               int *nonfinite)
{
    double worst = 0;
    *worst_i = 0;
    *nonfinite = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t e = 0; e < N; e++) {
            const float o = out[(size_t)i * out_row + (size_t)e];
            const double r = ref[i * N + e], t = tol[i * N + e];
            *nonfinite += !isfinite(o);
            const double ratio = !isfinite(o) ? INFINITY
                                 : o == r     ? 0.0
                                 : t > 0      ? fabs(o - r) / t
                                              : INFINITY;
            if (ratio > worst) {
                worst = ratio;
                *worst_i = i * N + e;
            }
        }
    return worst;
}

/* ATTENTION params of the test cases (scale 1/sqrt(hd)). */
static inline struct tb_op_params opc_attention_params(int hd, int nh, int nkv, int pos0,
                                                       int non_causal)
{
    const struct tb_op_params p = {.scale = 1.0f / sqrtf((float)hd),
                                   .pos0 = pos0,
                                   .n_head = nh,
                                   .n_head_kv = nkv,
                                   .head_dim = hd,
                                   .non_causal = non_causal};
    return p;
}

#endif

/* Attention of one query row for a group of query heads sharing a kv head,
 * AVX-512, head_dim 64 or 128 (other sizes: the backend's generic path).
 * Each K and V row is read once per group; q.k sums and the output rows
 * stay in registers (no per-key calls, no load/store of the output). */
#include "kernels/cpu/cpu_kernels.h"

#include <immintrin.h>
#include <math.h>

static inline __attribute__((always_inline)) __m512 load_row(const void *row, int v, int f16)
{
    return f16 ? _mm512_cvtph_ps(
                     _mm256_loadu_si256((const __m256i *)((const tb_fp16 *)row + 16 * v)))
               : _mm512_loadu_ps((const float *)row + 16 * v);
}

/* out[h] += sum_t p[h][t] v_t for heads h0..h0+HB-1, then scaled by inv[h] */
static inline __attribute__((always_inline)) void pv(const struct tb_cpu_attn *a, int h0,
                                                     const int HB, const int NV, const float *inv)
{
    __m512 acc[4][8];
    _Pragma("GCC unroll 8") for (int h = 0; h < HB; h++)
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[h][v] = _mm512_setzero_ps();
    for (int64_t t = 0; t < a->n_kv; t++) {
        const void *vr = (const char *)a->v + (size_t)t * a->v_row;
        __m512 p[4];
        _Pragma("GCC unroll 8") for (int h = 0; h < HB; h++) p[h] =
            _mm512_set1_ps(a->scores[(size_t)(h0 + h) * a->n_kv + t]);
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
        {
            const __m512 vv = load_row(vr, v, a->v16);
            _Pragma("GCC unroll 8") for (int h = 0; h < HB; h++) acc[h][v] =
                _mm512_fmadd_ps(p[h], vv, acc[h][v]);
        }
    }
    _Pragma("GCC unroll 8") for (int h = 0; h < HB; h++)
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(a->y + (size_t)(h0 + h) * a->hd + 16 * v,
                             _mm512_mul_ps(acc[h][v], _mm512_set1_ps(inv[h0 + h])));
}

static inline __attribute__((always_inline)) void group(const struct tb_cpu_attn *a, const int NV)
{
    /* scores: each K row converted once, dotted with every head's q */
    for (int64_t t = 0; t < a->n_kv; t++) {
        const void *kr = (const char *)a->k + (size_t)t * a->k_row;
        __m512 kv[8];
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) kv[v] = load_row(kr, v, a->k16);
        for (int h = 0; h < a->G; h++) {
            const float *q = a->q + (size_t)h * a->hd;
            __m512 s = _mm512_mul_ps(_mm512_loadu_ps(q), kv[0]);
            _Pragma("GCC unroll 8") for (int v = 1; v < NV; v++) s =
                _mm512_fmadd_ps(_mm512_loadu_ps(q + 16 * v), kv[v], s);
            a->scores[(size_t)h * a->n_kv + t] = a->scale * _mm512_reduce_add_ps(s);
        }
    }
    float inv[256];
    for (int h = 0; h < a->G; h++) {
        float *s = a->scores + (size_t)h * a->n_kv;
        __m512 m = _mm512_set1_ps(-INFINITY);
        int64_t t = 0;
        for (; t + 16 <= a->n_kv; t += 16)
            m = _mm512_max_ps(m, _mm512_loadu_ps(s + t));
        float max = _mm512_reduce_max_ps(m);
        for (; t < a->n_kv; t++)
            max = s[t] > max ? s[t] : max;
        inv[h] = 1.0f / tb_cpu_exp_sum_avx512(s, max, a->n_kv);
    }
    /* weighted V sums, 16 accumulators at a time */
    const int HB = 16 / NV;
    int h0 = 0;
    for (; h0 + HB <= a->G; h0 += HB)
        pv(a, h0, HB, NV, inv);
    for (; h0 < a->G; h0++)
        pv(a, h0, 1, NV, inv);
}

int tb_cpu_attn_group_avx512(const struct tb_cpu_attn *a)
{
    if (a->G > 256)
        return 0;
    switch (a->hd) {
    case 64: group(a, 4); return 1;
    case 128: group(a, 8); return 1;
    default: return 0;
    }
}

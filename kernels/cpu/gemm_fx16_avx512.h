/* AVX-512 FMA kernels over f32 / f16 weights repacked at load time into
 * groups of 16 rows (included only by matmul_f*x16_avx512.c).
 *
 * Layout: groups of 16 rows, each K x 16 elements: element k of row r at
 * [k][r], so one load is column k of the group and fills the 16 lanes of a
 * vector, one per row. A dot product is then K FMAs with the activation
 * broadcast, all 16 outputs in one accumulator: the weights are one
 * sequential stream and there is no horizontal reduction (in the file's
 * layout a decode GEMV read 4 rows at once and reduced each). A weight
 * qualifies when N % 16 == 0. Activations are the f32 rows. */
#ifndef TB_CPU_GEMM_FX16_AVX512_H
#define TB_CPU_GEMM_FX16_AVX512_H

#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/gemm_drive.h"

#define TB_FX16_ROWS 16

static inline size_t tb_fx16_bytes(int64_t N, int64_t K, size_t elem)
{
    return N > 0 && K > 0 && N % TB_FX16_ROWS == 0 ? (size_t)N * (size_t)K * elem : 0;
}

/* Transposes row groups [g0, g1) of elem-byte elements into dst. */
static inline void tb_fx16_pack(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1,
                                void *dst, size_t elem)
{
    for (int64_t gi = g0; gi < g1; gi++) {
        char *out = (char *)dst + (size_t)gi * (size_t)K * TB_FX16_ROWS * elem;
        for (int r = 0; r < TB_FX16_ROWS; r++) {
            const char *row = (const char *)w + (size_t)(gi * TB_FX16_ROWS + r) * w_row;
            for (int64_t k = 0; k < K; k++)
                memcpy(out + ((size_t)k * TB_FX16_ROWS + (size_t)r) * elem, row + (size_t)k * elem,
                       elem);
        }
    }
}

/* columns prefetched ahead when a pass reads a step first */
#define TB_FX16_PF 192

/* Column k of a group (16 weights as f32). */
typedef __m512 (*tb_fx16_load_fn)(const void *grp, int64_t k);

/* Rows j..j+15 against activation rows i..i+RX-1 (RX <= 8). One row (decode) keeps four
 * accumulators over k to hide the FMA latency; several rows already give independent chains. */
static inline __attribute__((always_inline)) void tb_fx16_tile(const struct tb_cpu_gemm *g,
                                                               int64_t j, int64_t i, const int RX,
                                                               size_t elem, tb_fx16_load_fn load)
{
    const char *grp =
        (const char *)g->w + (size_t)(j / TB_FX16_ROWS) * (size_t)g->K * TB_FX16_ROWS * elem;
    if (RX == 1) {
        const float *x = (const float *)((const char *)g->x + (size_t)i * g->x_row);
        float *y = g->dst + (size_t)i * g->d_row + (size_t)j;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t k = 0;
        for (; k + 4 <= g->K; k += 4) {
            a0 = _mm512_fmadd_ps(load(grp, k), _mm512_set1_ps(x[k]), a0);
            a1 = _mm512_fmadd_ps(load(grp, k + 1), _mm512_set1_ps(x[k + 1]), a1);
            a2 = _mm512_fmadd_ps(load(grp, k + 2), _mm512_set1_ps(x[k + 2]), a2);
            a3 = _mm512_fmadd_ps(load(grp, k + 3), _mm512_set1_ps(x[k + 3]), a3);
        }
        for (; k < g->K; k++)
            a0 = _mm512_fmadd_ps(load(grp, k), _mm512_set1_ps(x[k]), a0);
        _mm512_storeu_ps(y, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        return;
    }
    const float *xr[8];
    __m512 acc[8];
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
    {
        xr[x] = (const float *)((const char *)g->x + (size_t)(i + x) * g->x_row);
        acc[x] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < g->K; k++) {
        const __m512 w = load(grp, k);
        _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++) acc[x] =
            _mm512_fmadd_ps(w, _mm512_set1_ps(xr[x][k]), acc[x]);
    }
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        _mm512_storeu_ps(g->dst + (size_t)(i + x) * g->d_row + (size_t)j, acc[x]);
}

/* rx <= 8 rows */
#define TB_FX16_RX(g, j, i, rx, elem, load)                                                        \
    switch (rx) {                                                                                  \
    case 8: tb_fx16_tile(g, j, i, 8, elem, load); break;                                           \
    case 7: tb_fx16_tile(g, j, i, 7, elem, load); break;                                           \
    case 6: tb_fx16_tile(g, j, i, 6, elem, load); break;                                           \
    case 5: tb_fx16_tile(g, j, i, 5, elem, load); break;                                           \
    case 4: tb_fx16_tile(g, j, i, 4, elem, load); break;                                           \
    case 3: tb_fx16_tile(g, j, i, 3, elem, load); break;                                           \
    case 2: tb_fx16_tile(g, j, i, 2, elem, load); break;                                           \
    default: tb_fx16_tile(g, j, i, 1, elem, load); break;                                          \
    }

/* tb_cpu_gemm_drive tile with RW = 16 (N and the backend's chunks are
 * multiples of 16) and rx in 1..8 (rx_any). The backend runs batches
 * through tb_fx16_tile16 instead; this path serves decode (rx = 1) and
 * direct callers. */
#define TB_FX16_TILE_DISPATCH(fn, elem, load)                                                      \
    static void fn(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)              \
    {                                                                                              \
        (void)rw;                                                                                  \
        TB_FX16_RX(g, j, i, rx, elem, load)                                                        \
    }

/* Rows j..j+15 against one k-major activation tile (tb_cpu_pack_x16) of
 * 16 rows starting at i (a multiple of 16), storing the first rx: all 16
 * accumulators live in registers and one pointer walks the tile, so each
 * weight column is read once for the whole batch. */
static inline __attribute__((always_inline)) void tb_fx16_tile16(const struct tb_cpu_gemm *g,
                                                                 int64_t j, int64_t i, int rx,
                                                                 size_t elem, tb_fx16_load_fn load)
{
    const int64_t K = g->K;
    const char *grp =
        (const char *)g->w + (size_t)(j / TB_FX16_ROWS) * (size_t)K * TB_FX16_ROWS * elem;
    const float *xt = (const float *)g->x + (size_t)i * (size_t)K;
    __m512 acc[16];
    _Pragma("GCC unroll 16") for (int x = 0; x < 16; x++) acc[x] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        _mm_prefetch(grp + (size_t)(k + TB_FX16_PF) * TB_FX16_ROWS * elem, _MM_HINT_T0);
        const __m512 w = load(grp, k);
        _Pragma("GCC unroll 16") for (int x = 0; x < 16; x++) acc[x] =
            _mm512_fmadd_ps(w, _mm512_set1_ps(xt[(size_t)k * 16 + (size_t)x]), acc[x]);
    }
    for (int x = 0; x < rx; x++)
        _mm512_storeu_ps(g->dst + (size_t)(i + x) * g->d_row + (size_t)j, acc[x]);
}

#define TB_FX16_TILES_DISPATCH(fn, elem, load)                                                     \
    static void fn(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)              \
    {                                                                                              \
        (void)rw;                                                                                  \
        tb_fx16_tile16(g, j, i, rx, elem, load);                                                   \
    }

#endif

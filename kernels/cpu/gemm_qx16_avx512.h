/* AVX-512 VNNI kernels over q8_0 / q4_0 weights repacked at load time into
 * groups of 16 rows (included only by matmul_*x16_avx512.c).
 *
 * Why: in the file's layout a decode GEMV reads 4 rows at once (4 streams
 * with a 34- or 18-byte stride) and spends most of its instructions
 * unpacking blocks and reducing lanes; it streamed 10-13 GB/s per core
 * from DRAM against about 24 GB/s the core can read. Interleaving 16 rows
 * so that int32 lane r of every vector belongs to row r makes the weights
 * one sequential stream, needs no permutes, and leaves the 16 outputs of a
 * group in the 16 lanes of one accumulator (no horizontal reductions).
 *
 * Packed weight layout (same byte count as the file's): groups of 16 rows,
 * each group K/64 records of one block pair (blocks 2p, 2p+1):
 *   f16   d[2][16]            scale of block h of row r at d[h][r]
 *   quants[2][V][16][4]       vector v of block h: 4 bytes of row r in lane r
 * q8_0: V = 8, byte k of lane r = quant 4v+k of row r, stored as w ^ 0x80
 *       (unsigned, offset 128): 64 + 1024 = 1088 bytes per record.
 * q4_0: V = 4, byte k of lane r = the file's byte 4v+k of row r: its low
 *       nibble is weight 4v+k, its high nibble weight 16+4v+k (offset 8):
 *       64 + 512 = 576 bytes per record.
 * A weight qualifies when N % 16 == 0 and K % 64 == 0.
 *
 * Activation layout: one 64-byte record per block of 32:
 *   int8 q[32], f32 d, int32 corr = -off * sum(q), 24 bytes of padding.
 * One vpdpbusd of a weight vector with the broadcast dword q[4v..4v+3]
 * adds that slice of the dot product for all 16 rows at once; corr turns
 * the unsigned weights back into signed ones. */
#ifndef TB_CPU_GEMM_QX16_AVX512_H
#define TB_CPU_GEMM_QX16_AVX512_H

#include <string.h>

#include "kernels/cpu/gemm_q_avx512.h"

#define TB_QX16_ROWS 16
#define TB_QX16_ACT_REC 64

static inline int64_t tb_qx16_fits(int64_t N, int64_t K)
{
    return N > 0 && K > 0 && N % TB_QX16_ROWS == 0 && K % 64 == 0;
}

/* Activation row of K elements -> K/32 records; corr uses offset `off`. */
static inline void tb_qx16_quantize_act(const float *x, void *dst, int64_t K, int off)
{
    for (int64_t b = 0; b < K / 32; b++) {
        char *rec = (char *)dst + (size_t)b * TB_QX16_ACT_REC;
        __m128i lo, hi;
        float d;
        int sum;
        tb_q_quant_block_avx512(x + b * 32, &lo, &hi, &d, &sum);
        const int32_t corr = -off * sum;
        _mm_store_si128((__m128i *)rec, lo);
        _mm_store_si128((__m128i *)(rec + 16), hi);
        memcpy(rec + 32, &d, 4);
        memcpy(rec + 36, &corr, 4);
        memset(rec + 40, 0, 24);
    }
}

/* Copies the quants `qs` of one file block of row r into the V vectors of
 * block h of a record (q: its first vector). */
typedef void (*tb_qx16_put_fn)(unsigned char *q, int r, const unsigned char *qs);

/* Packed bytes of an N x K weight with records of rec_bytes; 0 if it does
 * not fit the layout. */
static inline size_t tb_qx16_bytes(int64_t N, int64_t K, size_t rec_bytes)
{
    return tb_qx16_fits(N, K) ? (size_t)(N / TB_QX16_ROWS) * (size_t)(K / 64) * rec_bytes : 0;
}

/* Packs row groups [g0, g1) of a file-layout weight (blocks of blk_bytes:
 * f16 scale, then quants) into dst. */
static inline void tb_qx16_pack(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1,
                                void *dst, size_t blk_bytes, size_t rec_bytes, tb_qx16_put_fn put)
{
    const int64_t np = K / 64;
    const size_t half = (rec_bytes - 64) / 2; /* quant bytes of one block */
    for (int64_t gi = g0; gi < g1; gi++)
        for (int64_t p = 0; p < np; p++) {
            unsigned char *rec =
                (unsigned char *)dst + ((size_t)gi * (size_t)np + (size_t)p) * rec_bytes;
            for (int h = 0; h < 2; h++)
                for (int r = 0; r < TB_QX16_ROWS; r++) {
                    const unsigned char *blk = (const unsigned char *)w +
                                               (size_t)(gi * TB_QX16_ROWS + r) * w_row +
                                               (size_t)(2 * p + h) * blk_bytes;
                    memcpy(rec + 32 * h + 2 * r, blk, 2);
                    put(rec + 64 + half * (size_t)h, r, blk + 2);
                }
        }
}

/* Fills the V weight vectors of block h of a record (unsigned bytes). */
typedef void (*tb_qx16_load_fn)(const char *rec, int h, __m512i *w);

static inline __attribute__((always_inline)) __m512i tb_qx16_bcast(const char *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Sum over the block of row-lane dot products, plus corr: 8 vpdpbusd in
 * two chains so consecutive ones do not wait on each other. */
static inline __attribute__((always_inline)) __m512i tb_qx16_dot(const __m512i *w, const char *x)
{
    __m512i a = _mm512_set1_epi32(*(const int32_t *)(x + 36)), b = _mm512_setzero_si512();
    _Pragma("GCC unroll 8") for (int v = 0; v < 8; v += 2)
    {
        a = _mm512_dpbusd_epi32(a, w[v], tb_qx16_bcast(x + 4 * v));
        b = _mm512_dpbusd_epi32(b, w[v + 1], tb_qx16_bcast(x + 4 * v + 4));
    }
    return _mm512_add_epi32(a, b);
}

/* Rows j..j+15 (one group) against activation rows i..i+RX-1. The weight
 * vectors of a block are loaded (and unpacked) once for all RX rows. */
static inline __attribute__((always_inline)) void tb_qx16_tile(const struct tb_cpu_gemm *g,
                                                               int64_t j, int64_t i, const int RX,
                                                               size_t rec_bytes,
                                                               tb_qx16_load_fn load)
{
    const int64_t np = g->K / 64;
    const char *grp = (const char *)g->w + (size_t)(j / TB_QX16_ROWS) * (size_t)np * rec_bytes;
    const char *xr[8];
    __m512 acc[8];
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
    {
        xr[x] = (const char *)g->x + (size_t)(i + x) * g->x_row;
        acc[x] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < np; p++) {
        const char *rec = grp + (size_t)p * rec_bytes;
        _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
        {
            __m512i w[8];
            load(rec, h, w);
            const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(rec + 32 * h)));
            _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
            {
                const char *xb = xr[x] + (size_t)(2 * p + h) * TB_QX16_ACT_REC;
                const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(*(const float *)(xb + 32)));
                acc[x] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(tb_qx16_dot(w, xb)), d, acc[x]);
            }
        }
    }
    _Pragma("GCC unroll 8") for (int x = 0; x < RX; x++)
        _mm512_storeu_ps(g->dst + (size_t)(i + x) * g->d_row + (size_t)j, acc[x]);
}

/* tb_cpu_gemm_drive tile with RW = 16 and every rx in 1..8 (rx_any): j0,
 * j1 and N are multiples of 16 (tb_qx16_fits, and the backend hands out
 * 16-row chunks). */
#define TB_QX16_TILE_DISPATCH(fn, rec_bytes, load)                                                 \
    static void fn(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)              \
    {                                                                                              \
        (void)rw;                                                                                  \
        switch (rx) {                                                                              \
        case 8: tb_qx16_tile(g, j, i, 8, rec_bytes, load); break;                                  \
        case 7: tb_qx16_tile(g, j, i, 7, rec_bytes, load); break;                                  \
        case 6: tb_qx16_tile(g, j, i, 6, rec_bytes, load); break;                                  \
        case 5: tb_qx16_tile(g, j, i, 5, rec_bytes, load); break;                                  \
        case 4: tb_qx16_tile(g, j, i, 4, rec_bytes, load); break;                                  \
        case 3: tb_qx16_tile(g, j, i, 3, rec_bytes, load); break;                                  \
        case 2: tb_qx16_tile(g, j, i, 2, rec_bytes, load); break;                                  \
        default: tb_qx16_tile(g, j, i, 1, rec_bytes, load); break;                                 \
        }                                                                                          \
    }

#endif

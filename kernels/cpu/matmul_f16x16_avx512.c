/* F16 weights repacked into 16-row groups, AVX-512 FMA.
 *
 * Layout: groups of 16 rows, each K x 16 f16: element k of row r at
 * [k][r], so one 32-byte load is column k of the group and converts to
 * the 16 lanes of a vector, one per row. A dot product is then K FMAs with
 * the activation broadcast, all 16 outputs in one accumulator: the weights
 * are one sequential stream and there is no horizontal reduction (in the
 * file's layout a decode GEMV read 4 rows at once and reduced each). A
 * weight qualifies when N % 16 == 0. Activations are the f32 rows. */
#include "kernels/cpu/gemm_drive.h"

#include <immintrin.h>

#define ROWS 16

size_t tb_cpu_pack_bytes_f16x16(int64_t N, int64_t K)
{
    return N > 0 && K > 0 && N % ROWS == 0 ? (size_t)N * (size_t)K * sizeof(tb_fp16) : 0;
}

void tb_cpu_pack_f16x16(const void *w, size_t w_row, int64_t K, int64_t g0, int64_t g1, void *dst)
{
    for (int64_t gi = g0; gi < g1; gi++) {
        tb_fp16 *out = (tb_fp16 *)dst + (size_t)gi * (size_t)K * ROWS;
        for (int r = 0; r < ROWS; r++) {
            const tb_fp16 *row = (const tb_fp16 *)((const char *)w + (size_t)(gi * ROWS + r) * w_row);
            for (int64_t k = 0; k < K; k++)
                out[(size_t)k * ROWS + (size_t)r] = row[k];
        }
    }
}

/* Rows j..j+15 against activation rows i..i+RX-1; for one row (decode)
 * four accumulators over k hide the FMA latency. */
static inline __attribute__((always_inline)) void tile_rx(const struct tb_cpu_gemm *g, int64_t j,
                                                          int64_t i, const int RX)
{
    const tb_fp16 *grp = (const tb_fp16 *)g->w + (size_t)(j / ROWS) * (size_t)g->K * ROWS;
    const float *xr[8];
    enum { NA = 4 };
    __m512 acc[8][NA];
    _Pragma("GCC unroll 8")
    for (int x = 0; x < RX; x++) {
        xr[x] = (const float *)((const char *)g->x + (size_t)(i + x) * g->x_row);
        _Pragma("GCC unroll 4")
        for (int a = 0; a < NA; a++)
            acc[x][a] = _mm512_setzero_ps();
    }
    const int na = RX == 1 ? NA : 1; /* several rows already give independent chains */
    int64_t k = 0;
    for (; k + na <= g->K; k += na) {
        _Pragma("GCC unroll 4")
        for (int a = 0; a < na; a++) {
            const __m512 w =
                _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(grp + (size_t)(k + a) * ROWS)));
            _Pragma("GCC unroll 8")
            for (int x = 0; x < RX; x++)
                acc[x][a] = _mm512_fmadd_ps(w, _mm512_set1_ps(xr[x][k + a]), acc[x][a]);
        }
    }
    for (; k < g->K; k++) {
        const __m512 w =
            _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(grp + (size_t)k * ROWS)));
        _Pragma("GCC unroll 8")
        for (int x = 0; x < RX; x++)
            acc[x][0] = _mm512_fmadd_ps(w, _mm512_set1_ps(xr[x][k]), acc[x][0]);
    }
    _Pragma("GCC unroll 8")
    for (int x = 0; x < RX; x++) {
        const __m512 s = _mm512_add_ps(_mm512_add_ps(acc[x][0], acc[x][1]),
                                       _mm512_add_ps(acc[x][2], acc[x][3]));
        _mm512_storeu_ps(g->dst + (size_t)(i + x) * g->d_row + (size_t)j, s);
    }
}

static void tile(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx)
{
    (void)rw; /* always 16: N and the backend's chunks are multiples of 16 */
    switch (rx) {
    case 8: tile_rx(g, j, i, 8); break;
    case 7: tile_rx(g, j, i, 7); break;
    case 6: tile_rx(g, j, i, 6); break;
    case 5: tile_rx(g, j, i, 5); break;
    case 4: tile_rx(g, j, i, 4); break;
    case 3: tile_rx(g, j, i, 3); break;
    case 2: tile_rx(g, j, i, 2); break;
    default: tile_rx(g, j, i, 1); break;
    }
}

void tb_cpu_gemm_f16x16_avx512(const struct tb_cpu_gemm *g, int64_t j0, int64_t j1)
{
    tb_cpu_gemm_drive(g, j0, j1, ROWS, 8, 1, tile);
}

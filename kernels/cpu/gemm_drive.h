/* The loop nest shared by every tiled matmul kernel (any ISA): activation
 * rows in L2-sized chunks, inside them weight-row tiles of RW, inside those
 * activation tiles of RX, so a weight tile is reused from L1 across the
 * chunk (prefill is compute-bound) and decode (n = 1) streams each weight
 * row once. A kernel supplies tile(g, j, i, RW/1, RX/1): rows j.. of W
 * against rows i.. of X, written to dst. */
#ifndef TB_CPU_GEMM_DRIVE_H
#define TB_CPU_GEMM_DRIVE_H

#include "kernels/cpu/cpu_kernels.h"

/* activation bytes per chunk: about a quarter of a 1 MiB L2 */
#define TB_CPU_ACT_CHUNK_BYTES (256u * 1024u)

typedef void (*tb_cpu_tile_fn)(const struct tb_cpu_gemm *g, int64_t j, int64_t i, int rw, int rx);

/* tile is called with rw in {RW, 1} and rx in {RX, 1}: remainders go one
 * row at a time, so a kernel needs just four specialisations; with rx_any
 * the activation remainder comes as one tile of rx < RX instead (a kernel
 * that specialises every rx, so 16 rows run as 6 + 6 + 4, not 6 + 6 + 4 x 1). */
static inline __attribute__((always_inline)) void tb_cpu_gemm_drive(const struct tb_cpu_gemm *g,
                                                                    int64_t j0, int64_t j1, int RW,
                                                                    int RX, int rx_any,
                                                                    tb_cpu_tile_fn tile)
{
    int64_t ic = (int64_t)(TB_CPU_ACT_CHUNK_BYTES / (g->x_row ? g->x_row : 1)) / RX * RX;
    if (ic < RX)
        ic = RX;
    for (int64_t i0 = 0; i0 < g->n; i0 += ic) {
        const int64_t i1 = i0 + ic < g->n ? i0 + ic : g->n;
        for (int64_t j = j0; j < j1;) {
            const int rw = j1 - j >= RW ? RW : 1;
            for (int64_t i = i0; i < i1;) {
                const int rx = i1 - i >= RX ? RX : rx_any ? (int)(i1 - i) : 1;
                tile(g, j, i, rw, rx);
                i += rx;
            }
            j += rw;
        }
    }
}

#endif

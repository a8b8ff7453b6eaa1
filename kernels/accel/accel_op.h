/* Shared by the accelerator backends (opencl, cuda; op validation is the
 * core's tb_op_validate): GET_ROWS id checks, RoPE frequency tables and
 * a device-side weight cache keyed by host pointer. */
#ifndef TB_ACCEL_OP_H
#define TB_ACCEL_OP_H

#include "kernels/tb_error.h"
#include "kernels/tb_graph.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


/* GET_ROWS: every id inside the table (ids live in host memory). */
int tb_accel_check_ids(const char *backend, const struct tb_op *op, struct tb_err *err);

/* theta^(-2k/head_dim) for k < head_dim/2, computed in double, rounded once. */
void tb_accel_rope_freqs(float *out, int head_dim, float theta);

/* Bytes of one packed row of t (what a device copy of the tensor holds). */
size_t tb_accel_row_bytes(const struct tb_tensor *t);

/* ---- weight cache: immutable host tensors (mmap'ed weights) keep one
 * device copy. A key is (host pointer, bytes, fingerprint): the fingerprint
 * hashes all of a small tensor, and for a large one its first and last 4 KiB
 * plus 256 spread 16-byte samples, so a host buffer that was freed and
 * reused for other data at the same address is not mistaken for the old
 * one. Least recently used entries are dropped past the byte budget. */
struct tb_accel_wcache_entry {
    const void *host;
    size_t nbytes;
    uint64_t fp;
    void *dev;
    uint64_t last_use;
};

struct tb_accel_wcache {
    struct tb_accel_wcache_entry *e;
    int n, cap;
    size_t bytes, budget;
    uint64_t tick;
    void (*release)(void *user, void *dev); /* frees one device copy */
    void *user;
};

uint64_t tb_accel_fingerprint(const void *p, size_t n);
/* Device copy for (host, nbytes, fp) or NULL. */
void *tb_accel_wcache_find(struct tb_accel_wcache *c, const void *host, size_t nbytes, uint64_t fp);
/* Drops least recently used entries until `need` more bytes fit the budget. */
void tb_accel_wcache_make_room(struct tb_accel_wcache *c, size_t need);
/* Records a new device copy (the cache owns dev from now on, also on failure). */
int tb_accel_wcache_insert(struct tb_accel_wcache *c, const void *host, size_t nbytes, uint64_t fp,
                           void *dev, struct tb_err *err);
void tb_accel_wcache_free(struct tb_accel_wcache *c);

/* ---- range residency: within one compute_op / compute_graph call (a
 * "range") a backend queues work without waiting. Each op's dst goes to a
 * pooled device buffer whose download to host is queued at once; the buffer
 * stays a "mirror" of those host rows, so a later op reading exactly those
 * rows uses it instead of uploading. Host bytes with a download still
 * queued are "pending": before the host side reads them (an upload may read
 * its host memory at any time after it is queued, a fingerprint or id check
 * reads them at once) the backend waits for its queue. A dst drops the
 * mirrors its host bytes overlap. The range ends with a wait; mirrors end
 * with it, since host memory may change between calls. */
struct tb_accel_res_ops {
    void *(*alloc)(void *user, size_t bytes, struct tb_err *err); /* device buffer */
    void (*release)(void *user, void *dev);
    int (*wait)(void *user, struct tb_err *err); /* all queued work done */
};

struct tb_accel_res {
    struct tb_accel_res_ops ops;
    void *user;
    struct tb_accel_res_buf {
        void *dev;
        size_t cap;
        bool busy;
    } *pool; /* dst buffers, recycled across ops and ranges */
    int n_pool, cap_pool;
    struct tb_accel_res_mirror {
        const char *host;
        size_t nb1, row; /* host row stride, bytes per (packed) row */
        int64_t rows;
        void *dev;
    } *mir;
    int n_mir, cap_mir;
    struct tb_accel_res_span {
        const char *p;
        size_t n;
    } *pend;
    int n_pend, cap_pend;
};

/* Host bytes rows [0, rows) cover at stride nb1. */
size_t tb_accel_span(size_t nb1, size_t row, int64_t rows);
/* A free pooled buffer of at least bytes (the smallest fit) or a new one. */
void *tb_accel_res_get(struct tb_accel_res *r, size_t bytes, struct tb_err *err);
void tb_accel_res_put(struct tb_accel_res *r, void *dev);
/* The mirror holding host rows [host, +rows) at stride nb1, or NULL. */
void *tb_accel_res_find(const struct tb_accel_res *r, const void *host, size_t nb1, size_t row,
                        int64_t rows);
/* Waits when [host, host+span) has a download pending. */
int tb_accel_res_readable(struct tb_accel_res *r, const void *host, size_t span,
                          struct tb_err *err);
/* dev (from tb_accel_res_get) now has its download to these host rows
 * queued: it becomes their mirror (the tracker owns dev from here). */
int tb_accel_res_stored(struct tb_accel_res *r, void *dev, void *host, size_t nb1, size_t row,
                        int64_t rows, struct tb_err *err);
int tb_accel_res_wait(struct tb_accel_res *r, struct tb_err *err);
/* After the range's final wait: all mirrors go back to the pool. */
void tb_accel_res_end(struct tb_accel_res *r);
void tb_accel_res_free(struct tb_accel_res *r);

#endif

/* Shared by the accelerator backends (opencl, cuda; op validation is the
 * core's tb_op_validate): GET_ROWS id checks, RoPE frequency tables, a
 * device-side weight cache keyed by host pointer, range residency of op
 * outputs, KV caches resident across calls and transfer byte accounting
 * (docs/backends.md). */
#ifndef TB_ACCEL_OP_H
#define TB_ACCEL_OP_H

#include "kernels/tb_backend.h"
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
    } * pool; /* dst buffers, recycled across ops and ranges */
    int n_pool, cap_pool;
    struct tb_accel_res_mirror {
        const char *host;
        size_t nb1, row; /* host row stride, bytes per (packed) row */
        int64_t rows;
        void *dev;
    } * mir;
    int n_mir, cap_mir;
    struct tb_accel_res_span {
        const char *p;
        size_t n;
    } * pend;
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

/* ---- transfer accounting (tb_op_evidence byte counters) */
/* Start of a compute call: the last_* counters restart. */
void tb_accel_evidence_begin(struct tb_op_evidence *e);
void tb_accel_book_h2d(struct tb_op_evidence *e, uint64_t bytes);
void tb_accel_book_d2h(struct tb_op_evidence *e, uint64_t bytes);

/* ---- KV residency: a device copy of each KV cache tensor (KV_STORE dst,
 * ATTENTION src1/src2) flagged TB_TENSOR_STATE (the llama state's caches;
 * others are uploaded per call) that outlives ranges, so decoding does not
 * upload the whole cache per token. Host memory stays current: a KV_STORE still
 * downloads the rows it wrote before its range returns. The one invariant:
 * device rows [0, valid) equal host rows [0, valid). A KV_STORE on this
 * backend writes both copies (extending valid when it starts at or below
 * it); ATTENTION uploads only rows [valid, n_kv); a host write by anyone
 * else (tb_backend_host_written, which tb_sched calls for other backends'
 * op outputs) lowers valid to the first row it touches. A new sequence at
 * position 0 in the same host buffer needs nothing: the rows it reads were
 * all rewritten by its own KV_STOREs. Caches are keyed by host pointer and
 * geometry; least recently used copies go past the byte budget, and a
 * cache larger than the budget (budget 0: residency off) is not kept,
 * the op then uploads per call as before. */
struct tb_accel_kv_ops {
    void *(*alloc)(void *user, size_t bytes, struct tb_err *err);
    void (*release)(void *user, void *dev); /* after queued work using dev */
    /* queue: rows packed rows of `row` bytes from host (stride nb1) to dev +
     * off, booked as host->device bytes by the backend */
    int (*upload)(void *user, void *dev, size_t off, const void *host, size_t nb1, size_t row,
                  int64_t rows, struct tb_err *err);
    /* queue: bytes from device src (offset 0) to device dst + off */
    int (*copy)(void *user, void *dst, size_t off, void *src, size_t bytes, struct tb_err *err);
};

struct tb_accel_kv {
    struct tb_accel_kv_ops ops;
    void *user;
    struct tb_accel_res *res;   /* waited on before uploading rows with downloads pending */
    struct tb_op_evidence *evd; /* KV uploads are booked here (kv_h2d) */
    struct tb_accel_kv_entry {
        const char *host;
        size_t nb1, row;
        int64_t rows, valid;
        void *dev;
        uint64_t last_use;
    } * e;
    int n, cap;
    size_t bytes, budget;
    uint64_t tick;
};

/* *dev = the resident copy of cache with rows [0, n_rows) current (rows
 * not known current are uploaded), or NULL when the cache is not kept
 * (over budget): the caller uploads as before. */
int tb_accel_kv_rows(struct tb_accel_kv *kv, const struct tb_tensor *cache, int64_t n_rows,
                     void **dev, struct tb_err *err);
/* A KV_STORE computed n packed rows into device buffer src and queued
 * their download to host rows [pos0, pos0 + n) of cache: the resident
 * copy (made here when the cache fits) gets them too. */
int tb_accel_kv_stored(struct tb_accel_kv *kv, const struct tb_tensor *cache, int64_t pos0,
                       int64_t n, void *src, struct tb_err *err);
/* Host bytes [host, host + nbytes) changed elsewhere (host NULL: all). */
void tb_accel_kv_host_written(struct tb_accel_kv *kv, const void *host, size_t nbytes);
void tb_accel_kv_free(struct tb_accel_kv *kv);
/* Byte budget for resident KV caches on a device of mem bytes: a quarter;
 * 0 (residency off, per-call uploads as before) when the environment has
 * TB_ACCEL_KV_RESIDENT=0, for comparisons. */
size_t tb_accel_kv_budget(uint64_t mem);

#endif

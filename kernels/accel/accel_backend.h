/* The dispatch glue every accelerator backend shares (opencl, cuda, and a
 * third one without a third copy): a backend supplies its device calls
 * (struct tb_accel_device_i: memory, queued copies, waiting, launch
 * accounting) and one launcher per op kind (struct tb_accel_kernels_i);
 * tb_accel_backend_create wraps them in a struct tb_backend whose
 * compute_op / compute_graph do validation, residency (weight cache, range
 * mirrors, resident KV caches: accel_op.h), evidence counting and dispatch.
 *
 * A compute_op / compute_graph call is one "range": every op's sources come
 * from a mirror, the weight cache or a resident KV cache, else are uploaded
 * into a scratch slot; its dst goes to a pooled buffer whose download is
 * queued at once; the range ends with a wait, after which the backend
 * reports the range's launches and their device time (collect). With op_ns
 * requested, each op is waited for, so its wall time is real. */
#ifndef TB_ACCEL_BACKEND_H
#define TB_ACCEL_BACKEND_H

#include "kernels/tb_backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Device buffers of one launch (device pointers or handles). */
struct tb_accel_bufs {
    void *src[3]; /* packed rows; get_rows: table, ids; rms_norm: x, weight;
                     matmul: W, X; attention: q, K cache, V cache; eltwise: a, b */
    void *aux;    /* rope: frequency table; attention: scores scratch */
    void *dst;    /* the op's output rows, packed */
    int64_t n;    /* output rows (kv_store: rows written) */
    int64_t n_kv; /* attention: KV rows attended (pos0 + n) */
};

/* Queues one op's kernel(s) on the device; dev is the backend's context. */
typedef int (*tb_accel_launch_fn)(void *dev, const struct tb_op *op, const struct tb_accel_bufs *b,
                                  struct tb_err *err);

struct tb_accel_kernels_i {
    tb_accel_launch_fn get_rows, rms_norm, matmul, rope, kv_store, attention;
    tb_accel_launch_fn eltwise; /* silu, mul, add (op->kind tells) */
};

struct tb_accel_info {
    const char *device; /* strings that live as long as dev */
    const char *vendor;
    enum tb_device_kind kind;
    unsigned wtypes;    /* weight types supported (TB_WTYPE_BIT) */
    uint64_t mem;       /* device memory: cache budgets */
    uint64_t max_alloc; /* largest buffer; 0 when not known */
};

struct tb_accel_device_i {
    const char *name; /* "cuda": backend name and error prefix */
    size_t ctx_size;  /* the device context, zeroed before setup */
    /* opens the device into the context and describes it */
    int (*setup)(void *dev, struct tb_accel_info *info, struct tb_err *err);
    void *(*alloc)(void *dev, size_t bytes, bool read_only, const char *what, struct tb_err *err);
    void (*release)(void *dev, void *mem);      /* safe while queued work still uses mem */
    int (*wait)(void *dev, struct tb_err *err); /* all queued work done */
    /* queue: rows packed rows of `row` bytes from host (stride nb1) to mem + off */
    int (*upload)(void *dev, void *mem, size_t off, const void *host, size_t nb1, size_t row,
                  int64_t rows, struct tb_err *err);
    /* queue: rows packed rows of `row` bytes from mem to host (stride nb1) */
    int (*download)(void *dev, void *host, size_t nb1, void *mem, size_t row, int64_t rows,
                    struct tb_err *err);
    /* queue: bytes from device src (offset 0) to device dst + off */
    int (*copy)(void *dev, void *dst, size_t off, void *src, size_t bytes, struct tb_err *err);
    /* blocking, after queued work: tb_backend_buffer_set / _get */
    int (*write_sync)(void *dev, void *mem, size_t off, const void *src, size_t n,
                      struct tb_err *err);
    int (*read_sync)(void *dev, void *mem, size_t off, void *dst, size_t n, struct tb_err *err);
    /* After the range's wait (ok: it succeeded): how many launches the range
     * made and their device time; forgets them. */
    int (*collect)(void *dev, bool ok, uint64_t *launches, uint64_t *device_ns, struct tb_err *err);
    void (*destroy)(void *dev); /* the device context, after the shared state */
};

/* A backend on a new device context (zeroed, di->setup; di->destroy when
 * anything fails, or at tb_backend_free). di, ki: static tables. */
int tb_accel_backend_create(const struct tb_accel_device_i *di, const struct tb_accel_kernels_i *ki,
                            struct tb_backend **out, struct tb_err *err);

#endif

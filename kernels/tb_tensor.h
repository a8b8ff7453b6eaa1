/* A tensor is a typed view: it never owns its data (the owner is the GGUF
 * mapping, the model's run state arena, or a test). ne[0] is the innermost
 * (contiguous) dimension, as in ggml; nb[] are byte strides. */
#ifndef TB_TENSOR_H
#define TB_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_MAX_DIMS 4
#define TB_NAME_MAX 64

struct tb_tensor {
    enum tb_type type;
    int64_t ne[TB_MAX_DIMS]; /* elements per dim; unused dims are 1 */
    size_t nb[TB_MAX_DIMS];  /* byte stride per dim; nb[1] = row size */
    void *data;              /* not owned */
    char name[TB_NAME_MAX];
    unsigned flags; /* TB_TENSOR_* */
};

/* The data never changes while any backend may use the tensor (model
 * weights): a backend may keep a derived copy (a repacked layout). */
#define TB_TENSOR_CONST 1u
/* The data lies in a read-only file mapping: a backend holding its own copy
 * may drop these pages (they refault from the file when read again). */
#define TB_TENSOR_MAPPED 2u
/* Backend-managed state (a workload's KV cache): written on the host only
 * by ops run on backends, and any other host write is announced with
 * tb_backend_host_written (tb_sched does so for its segments), so an
 * accelerator may keep a device copy across calls (docs/backends.md). */
#define TB_TENSOR_STATE 4u

/* Fills a contiguous view (strides from type and shape). Returns 0, or
 * TB_EINVAL when ne[0] is not a multiple of the type's block size. */
int tb_tensor_init(struct tb_tensor *t, enum tb_type type, int n_dims, const int64_t *ne,
                   void *data, const char *name);
int64_t tb_tensor_nelements(const struct tb_tensor *t);
size_t tb_tensor_nbytes(const struct tb_tensor *t);
int64_t tb_tensor_nrows(const struct tb_tensor *t); /* ne[1]*ne[2]*ne[3] */
/* A backend can address it: data present, known type, every dim >= 1, rows
 * reachable as data + i*nb[1] (row stride a whole number of elements,
 * higher dims packed). */
bool tb_tensor_rows_ok(const struct tb_tensor *t);
/* Pointer to row i (i over ne[1..3] flattened, contiguous tensors only). */
static inline void *tb_tensor_row(const struct tb_tensor *t, int64_t i)
{
    return (char *)t->data + (size_t)i * t->nb[1];
}

#ifdef __cplusplus
}
#endif
#endif

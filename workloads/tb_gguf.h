/* GGUF v2/v3 reader (mmap, zero-copy views, strict validation) and writer.
 * Every rejection is a one-line message "FILE: offset N: what is wrong" in
 * the tb_err, code TB_EFORMAT (TB_EIO for open/read failures). Nothing is
 * allocated with a size read from the file before that size is checked
 * against the bytes left in the file. */
#ifndef TB_GGUF_H
#define TB_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/tb_error.h"
#include "kernels/tb_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* On-disk metadata value types (GGUF spec ids). */
enum tb_gguf_type {
    TB_GGUF_UINT8 = 0,
    TB_GGUF_INT8 = 1,
    TB_GGUF_UINT16 = 2,
    TB_GGUF_INT16 = 3,
    TB_GGUF_UINT32 = 4,
    TB_GGUF_INT32 = 5,
    TB_GGUF_FLOAT32 = 6,
    TB_GGUF_BOOL = 7,
    TB_GGUF_STRING = 8,
    TB_GGUF_ARRAY = 9,
    TB_GGUF_UINT64 = 10,
    TB_GGUF_INT64 = 11,
    TB_GGUF_FLOAT64 = 12,
    TB_GGUF_TYPE_COUNT
};
const char *tb_gguf_type_name(enum tb_gguf_type t);

#define TB_GGUF_DEFAULT_ALIGNMENT 32

/* A string inside the mapping: not NUL-terminated. */
struct tb_gguf_str {
    const char *ptr;
    uint64_t len;
};

struct tb_gguf_tensor_info {
    struct tb_gguf_str name;
    uint32_t n_dims;
    int64_t ne[TB_MAX_DIMS]; /* unused dims 1 */
    int type;                /* ggml type id (enum tb_type) */
    uint64_t offset;         /* relative to the data section */
    uint64_t size;           /* bytes */
    const void *data;        /* into the mapping */
};

struct tb_gguf;

int tb_gguf_open(const char *path, struct tb_gguf **out, struct tb_err *err);
/* Same validation over a caller-owned buffer (tests, fuzzers); `label` names it in errors. */
int tb_gguf_open_memory(const void *buf, size_t size, const char *label, struct tb_gguf **out,
                        struct tb_err *err);
void tb_gguf_close(struct tb_gguf *g);

const char *tb_gguf_path(const struct tb_gguf *g);
uint32_t tb_gguf_version(const struct tb_gguf *g);
uint32_t tb_gguf_alignment(const struct tb_gguf *g);
uint64_t tb_gguf_data_offset(const struct tb_gguf *g);
uint64_t tb_gguf_file_size(const struct tb_gguf *g);

/* Metadata */
int64_t tb_gguf_n_kv(const struct tb_gguf *g);
int64_t tb_gguf_find_key(const struct tb_gguf *g, const char *key); /* -1 if absent */
struct tb_gguf_str tb_gguf_kv_key(const struct tb_gguf *g, int64_t i);
enum tb_gguf_type tb_gguf_kv_type(const struct tb_gguf *g, int64_t i);
uint64_t tb_gguf_kv_offset(const struct tb_gguf *g, int64_t i); /* file offset of the KV */
/* Scalar getters by key; integers convert between integer types when the
 * value fits, floats accept f32/f64. Missing key or incompatible type:
 * TB_EFORMAT with "FILE: key 'K' ..." in err. */
int tb_gguf_get_u32(const struct tb_gguf *g, const char *key, uint32_t *out, struct tb_err *err);
int tb_gguf_get_u64(const struct tb_gguf *g, const char *key, uint64_t *out, struct tb_err *err);
int tb_gguf_get_f32(const struct tb_gguf *g, const char *key, float *out, struct tb_err *err);
int tb_gguf_get_str(const struct tb_gguf *g, const char *key, struct tb_gguf_str *out,
                    struct tb_err *err);
/* Raw value access by index (for dumps). */
const void *tb_gguf_kv_scalar(const struct tb_gguf *g, int64_t i); /* numeric/bool value */
struct tb_gguf_str tb_gguf_kv_str(const struct tb_gguf *g, int64_t i);
enum tb_gguf_type tb_gguf_kv_arr_type(const struct tb_gguf *g, int64_t i);
uint64_t tb_gguf_kv_arr_n(const struct tb_gguf *g, int64_t i);
const void *tb_gguf_kv_arr_data(const struct tb_gguf *g, int64_t i); /* numeric arrays */
struct tb_gguf_str tb_gguf_kv_arr_str(const struct tb_gguf *g, int64_t i, uint64_t j);

/* Tensors */
int64_t tb_gguf_n_tensors(const struct tb_gguf *g);
const struct tb_gguf_tensor_info *tb_gguf_tensor(const struct tb_gguf *g, int64_t i);
int64_t tb_gguf_find_tensor(const struct tb_gguf *g, const char *name); /* -1 if absent */
/* Fills a tb_tensor view over tensor i's data (read-only by contract). */
int tb_gguf_tensor_view(const struct tb_gguf *g, int64_t i, struct tb_tensor *out,
                        struct tb_err *err);

/* gguf-dump style listing: header, every KV (arrays abbreviated), tensor table. */
void tb_gguf_print_info(const struct tb_gguf *g, FILE *f);

/* ---- Writer: collects KVs and tensors, writes GGUF v3 atomically
 * (temp file + fsync + rename). Tensor data is referenced, not copied: it
 * must stay valid until tb_gguf_writer_write returns. */
struct tb_gguf_writer;
int tb_gguf_writer_create(struct tb_gguf_writer **out, struct tb_err *err);
void tb_gguf_writer_free(struct tb_gguf_writer *w);
int tb_gguf_writer_set_alignment(struct tb_gguf_writer *w, uint32_t alignment, struct tb_err *err);
int tb_gguf_writer_add_u32(struct tb_gguf_writer *w, const char *key, uint32_t v,
                           struct tb_err *err);
int tb_gguf_writer_add_i32(struct tb_gguf_writer *w, const char *key, int32_t v,
                           struct tb_err *err);
int tb_gguf_writer_add_u64(struct tb_gguf_writer *w, const char *key, uint64_t v,
                           struct tb_err *err);
int tb_gguf_writer_add_f32(struct tb_gguf_writer *w, const char *key, float v, struct tb_err *err);
int tb_gguf_writer_add_bool(struct tb_gguf_writer *w, const char *key, bool v, struct tb_err *err);
int tb_gguf_writer_add_str(struct tb_gguf_writer *w, const char *key, const char *v,
                           struct tb_err *err);
/* Numeric array (elem_type not STRING/ARRAY), values copied. */
int tb_gguf_writer_add_arr(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type elem_type,
                           const void *data, uint64_t n, struct tb_err *err);
int tb_gguf_writer_add_arr_str(struct tb_gguf_writer *w, const char *key, const char *const *v,
                               uint64_t n, struct tb_err *err);
/* Any numeric or bool scalar type (the typed adders above cover the common
 * ones); v points to one value of that type. */
int tb_gguf_writer_add_scalar(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type type,
                              const void *v, struct tb_err *err);
int tb_gguf_writer_add_tensor(struct tb_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                              const int64_t *ne, const void *data, struct tb_err *err);
int tb_gguf_writer_write(struct tb_gguf_writer *w, const char *path, struct tb_err *err);
/* Serialises to a malloc'ed buffer (tests, fuzz seeds); caller frees *buf. */
int tb_gguf_writer_write_memory(struct tb_gguf_writer *w, void **buf, size_t *size,
                                struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

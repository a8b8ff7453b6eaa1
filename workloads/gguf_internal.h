/* Internals shared by the GGUF reader (gguf_read.c), its lookups
 * (gguf_access.c), the dump (gguf_print.c) and the writer (gguf_write.c).
 * Not part of tb_gguf.h's API. */
#ifndef TB_GGUF_INTERNAL_H
#define TB_GGUF_INTERNAL_H

#include "kernels/platform/tb_platform.h"
#include "workloads/tb_gguf.h"

#define ALIGNMENT_KEY "general.alignment"

/* Encoded size of each scalar type (0: string, array). */
extern const size_t tb_gguf_scalar_size[TB_GGUF_TYPE_COUNT];

static inline bool is_numeric_type(uint32_t t)
{
    return t < TB_GGUF_TYPE_COUNT && t != TB_GGUF_STRING && t != TB_GGUF_ARRAY;
}

static inline bool is_pow2(uint64_t a)
{
    return a != 0 && (a & (a - 1)) == 0;
}

/* Rounds x up to a multiple of a (a power of two); false on overflow. */
static inline bool align_up(uint64_t x, uint64_t a, uint64_t *out)
{
    if (x > UINT64_MAX - (a - 1))
        return false;
    *out = (x + a - 1) & ~(a - 1);
    return true;
}

static inline bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Byte size of a tensor whose dims are >= 1 and whose row is a whole number
 * of blocks. Returns 0, or 1 when the element count overflows int64 (at
 * dimension *bad_dim), or 2 when the byte size overflows int64. One place
 * for this arithmetic, shared by the reader and the writer. */
int tb_gguf_tensor_nbytes(const struct tb_type_traits *tr, uint32_t n_dims, const int64_t *ne,
                          uint64_t *size, uint32_t *bad_dim);

/* Numeric/bool KV values are copied here so tb_gguf_kv_scalar can return an
 * aligned pointer whatever the value's position in the file. */
union kv_scalar {
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    uint32_t u32;
    int32_t i32;
    float f32;
    uint64_t u64;
    int64_t i64;
    double f64;
    unsigned char raw[8];
};

struct gguf_kv {
    struct tb_gguf_str key;
    enum tb_gguf_type type;
    uint64_t offset;     /* file offset of the KV (its key length) */
    uint64_t val_offset; /* file offset of the value */
    union kv_scalar val;
    struct tb_gguf_str str;
    enum tb_gguf_type arr_type;
    uint64_t arr_n;
    const void *arr_data;  /* numeric arrays: the elements, in the mapping */
    uint64_t *arr_str_off; /* string arrays: file offset of each string */
};

/* Open-addressing hash of names -> index, shared by keys and tensor names. */
struct str_index {
    int64_t *slots; /* -1 = empty */
    uint64_t mask;
};

struct tb_gguf {
    char *path;
    const uint8_t *base;
    uint64_t size;
    struct tb_file_map map; /* the file's mapping when opened from a path */
    bool mapped;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    int64_t n_tensors;
    struct gguf_kv *kvs;
    struct tb_gguf_tensor_info *tensors;
    struct str_index kv_index;
    struct str_index tensor_index;
};

typedef struct tb_gguf_str (*name_at_fn)(const struct tb_gguf *g, int64_t i);

static inline struct tb_gguf_str kv_name_at(const struct tb_gguf *g, int64_t i)
{
    return g->kvs[i].key;
}

static inline struct tb_gguf_str tensor_name_at(const struct tb_gguf *g, int64_t i)
{
    return g->tensors[i].name;
}

/* Returns the index with that name, or -1; *slot gets the probe end (the
 * free slot to insert into when absent). */
int64_t tb_gguf_index_find(const struct tb_gguf *g, const struct str_index *ix, name_at_fn name_at,
                           const char *p, uint64_t n, uint64_t *slot);

#endif

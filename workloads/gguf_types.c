/* GGUF value types (sizes, names) and tensor byte sizes, shared by the
 * reader and the writer. */
#include "workloads/gguf_internal.h"

const size_t tb_gguf_scalar_size[TB_GGUF_TYPE_COUNT] = {
    [TB_GGUF_UINT8] = 1,   [TB_GGUF_INT8] = 1,  [TB_GGUF_UINT16] = 2,  [TB_GGUF_INT16] = 2,
    [TB_GGUF_UINT32] = 4,  [TB_GGUF_INT32] = 4, [TB_GGUF_FLOAT32] = 4, [TB_GGUF_BOOL] = 1,
    [TB_GGUF_STRING] = 0,  [TB_GGUF_ARRAY] = 0, [TB_GGUF_UINT64] = 8,  [TB_GGUF_INT64] = 8,
    [TB_GGUF_FLOAT64] = 8,
};

static const char *const k_type_names[TB_GGUF_TYPE_COUNT] = {
    [TB_GGUF_UINT8] = "uint8",     [TB_GGUF_INT8] = "int8",     [TB_GGUF_UINT16] = "uint16",
    [TB_GGUF_INT16] = "int16",     [TB_GGUF_UINT32] = "uint32", [TB_GGUF_INT32] = "int32",
    [TB_GGUF_FLOAT32] = "float32", [TB_GGUF_BOOL] = "bool",     [TB_GGUF_STRING] = "string",
    [TB_GGUF_ARRAY] = "array",     [TB_GGUF_UINT64] = "uint64", [TB_GGUF_INT64] = "int64",
    [TB_GGUF_FLOAT64] = "float64",
};

const char *tb_gguf_type_name(enum tb_gguf_type t)
{
    if ((unsigned)t >= TB_GGUF_TYPE_COUNT)
        return "unknown";
    return k_type_names[t];
}

/* See gguf_internal.h. */
int tb_gguf_tensor_nbytes(const struct tb_type_traits *tr, uint32_t n_dims, const int64_t *ne,
                          uint64_t *size, uint32_t *bad_dim)
{
    uint64_t nel = 1, row_bytes;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (!mul_u64(nel, (uint64_t)ne[d], &nel) || nel > INT64_MAX) {
            *bad_dim = d;
            return 1;
        }
    }
    if (!mul_u64((uint64_t)(ne[0] / tr->block_size), tr->type_size, &row_bytes) ||
        !mul_u64(row_bytes, nel / (uint64_t)ne[0], size) || *size > INT64_MAX)
        return 2;
    return 0;
}

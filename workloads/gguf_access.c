/* Lookups and getters over a parsed GGUF file: the name index, metadata
 * by key or index, tensor infos and views. */
#include "workloads/gguf_internal.h"

#include <inttypes.h>
#include <string.h>

static uint64_t str_hash(const char *p, uint64_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int64_t tb_gguf_index_find(const struct tb_gguf *g, const struct str_index *ix, name_at_fn name_at,
                           const char *p, uint64_t n, uint64_t *slot)
{
    if (!ix->slots)
        return -1;
    uint64_t s = str_hash(p, n) & ix->mask;
    for (;; s = (s + 1) & ix->mask) {
        int64_t i = ix->slots[s];
        if (i < 0)
            break;
        struct tb_gguf_str nm = name_at(g, i);
        if (nm.len == n && memcmp(nm.ptr, p, n) == 0) {
            if (slot)
                *slot = s;
            return i;
        }
    }
    if (slot)
        *slot = s;
    return -1;
}

const char *tb_gguf_path(const struct tb_gguf *g)
{
    return g->path;
}
uint32_t tb_gguf_version(const struct tb_gguf *g)
{
    return g->version;
}
uint32_t tb_gguf_alignment(const struct tb_gguf *g)
{
    return g->alignment;
}
uint64_t tb_gguf_data_offset(const struct tb_gguf *g)
{
    return g->data_offset;
}
uint64_t tb_gguf_file_size(const struct tb_gguf *g)
{
    return g->size;
}
int64_t tb_gguf_n_kv(const struct tb_gguf *g)
{
    return g->n_kv;
}
int64_t tb_gguf_n_tensors(const struct tb_gguf *g)
{
    return g->n_tensors;
}

int64_t tb_gguf_find_key(const struct tb_gguf *g, const char *key)
{
    return tb_gguf_index_find(g, &g->kv_index, kv_name_at, key, strlen(key), NULL);
}

int64_t tb_gguf_find_tensor(const struct tb_gguf *g, const char *name)
{
    return tb_gguf_index_find(g, &g->tensor_index, tensor_name_at, name, strlen(name), NULL);
}

static const struct gguf_kv *kv_at(const struct tb_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

static const struct tb_gguf_str k_no_str = {"", 0};

struct tb_gguf_str tb_gguf_kv_key(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : k_no_str;
}

enum tb_gguf_type tb_gguf_kv_type(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : TB_GGUF_TYPE_COUNT;
}

uint64_t tb_gguf_kv_offset(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv ? kv->offset : 0;
}

const void *tb_gguf_kv_scalar(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv && is_numeric_type(kv->type) ? kv->val.raw : NULL;
}

struct tb_gguf_str tb_gguf_kv_str(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == TB_GGUF_STRING ? kv->str : k_no_str;
}

enum tb_gguf_type tb_gguf_kv_arr_type(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == TB_GGUF_ARRAY ? kv->arr_type : TB_GGUF_TYPE_COUNT;
}

uint64_t tb_gguf_kv_arr_n(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == TB_GGUF_ARRAY ? kv->arr_n : 0;
}

const void *tb_gguf_kv_arr_data(const struct tb_gguf *g, int64_t i)
{
    const struct gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == TB_GGUF_ARRAY && kv->arr_type != TB_GGUF_STRING ? kv->arr_data : NULL;
}

struct tb_gguf_str tb_gguf_kv_arr_str(const struct tb_gguf *g, int64_t i, uint64_t j)
{
    const struct gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != TB_GGUF_ARRAY || kv->arr_type != TB_GGUF_STRING || j >= kv->arr_n)
        return k_no_str;
    struct tb_gguf_str s;
    memcpy(&s.len, g->base + kv->arr_str_off[j], 8); /* validated at open */
    s.ptr = (const char *)g->base + kv->arr_str_off[j] + 8;
    return s;
}

/* Finds key for a getter; errors name the file and key. */
static const struct gguf_kv *kv_for_get(const struct tb_gguf *g, const char *key,
                                        struct tb_err *err)
{
    int64_t i = tb_gguf_find_key(g, key);
    if (i < 0)
        tb_err_set(err, TB_EFORMAT, "%s: key '%s' not found", g->path, key);
    return i < 0 ? NULL : &g->kvs[i];
}

/* Integer value as unsigned, for targets up to max; signed values must be
 * non-negative. */
static int get_uint(const struct tb_gguf *g, const char *key, uint64_t max, const char *target,
                    uint64_t *out, struct tb_err *err)
{
    const struct gguf_kv *kv = kv_for_get(g, key, err);
    if (!kv)
        return TB_EFORMAT;
    int64_t s = 0;
    uint64_t u = 0;
    bool is_signed = false;
    switch (kv->type) {
    case TB_GGUF_UINT8: u = kv->val.u8; break;
    case TB_GGUF_UINT16: u = kv->val.u16; break;
    case TB_GGUF_UINT32: u = kv->val.u32; break;
    case TB_GGUF_UINT64: u = kv->val.u64; break;
    case TB_GGUF_INT8:
        s = kv->val.i8;
        is_signed = true;
        break;
    case TB_GGUF_INT16:
        s = kv->val.i16;
        is_signed = true;
        break;
    case TB_GGUF_INT32:
        s = kv->val.i32;
        is_signed = true;
        break;
    case TB_GGUF_INT64:
        s = kv->val.i64;
        is_signed = true;
        break;
    default:
        return tb_err_set(err, TB_EFORMAT,
                          "%s: key '%s' at offset %" PRIu64 ": type %s is not an integer", g->path,
                          key, kv->offset, tb_gguf_type_name(kv->type));
    }
    if (is_signed) {
        if (s < 0)
            return tb_err_set(err, TB_EFORMAT,
                              "%s: key '%s' at offset %" PRIu64 ": value %" PRId64
                              " does not fit %s",
                              g->path, key, kv->offset, s, target);
        u = (uint64_t)s;
    }
    if (u > max)
        return tb_err_set(err, TB_EFORMAT,
                          "%s: key '%s' at offset %" PRIu64 ": value %" PRIu64 " does not fit %s",
                          g->path, key, kv->offset, u, target);
    *out = u;
    return TB_OK;
}

int tb_gguf_get_u32(const struct tb_gguf *g, const char *key, uint32_t *out, struct tb_err *err)
{
    uint64_t v = 0;
    int rc = get_uint(g, key, UINT32_MAX, "uint32", &v, err);
    if (rc == TB_OK)
        *out = (uint32_t)v;
    return rc;
}

int tb_gguf_get_u64(const struct tb_gguf *g, const char *key, uint64_t *out, struct tb_err *err)
{
    return get_uint(g, key, UINT64_MAX, "uint64", out, err);
}

int tb_gguf_get_f32(const struct tb_gguf *g, const char *key, float *out, struct tb_err *err)
{
    const struct gguf_kv *kv = kv_for_get(g, key, err);
    if (!kv)
        return TB_EFORMAT;
    if (kv->type == TB_GGUF_FLOAT32)
        *out = kv->val.f32;
    else if (kv->type == TB_GGUF_FLOAT64)
        *out = (float)kv->val.f64;
    else
        return tb_err_set(err, TB_EFORMAT,
                          "%s: key '%s' at offset %" PRIu64 ": type %s is not a float", g->path,
                          key, kv->offset, tb_gguf_type_name(kv->type));
    return TB_OK;
}

int tb_gguf_get_str(const struct tb_gguf *g, const char *key, struct tb_gguf_str *out,
                    struct tb_err *err)
{
    const struct gguf_kv *kv = kv_for_get(g, key, err);
    if (!kv)
        return TB_EFORMAT;
    if (kv->type != TB_GGUF_STRING)
        return tb_err_set(err, TB_EFORMAT,
                          "%s: key '%s' at offset %" PRIu64 ": type %s is not a string", g->path,
                          key, kv->offset, tb_gguf_type_name(kv->type));
    *out = kv->str;
    return TB_OK;
}

const struct tb_gguf_tensor_info *tb_gguf_tensor(const struct tb_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

int tb_gguf_tensor_view(const struct tb_gguf *g, int64_t i, struct tb_tensor *out,
                        struct tb_err *err)
{
    const struct tb_gguf_tensor_info *t = tb_gguf_tensor(g, i);
    if (!t)
        return tb_err_set(err, TB_EINVAL,
                          "%s: tensor index %" PRId64 " out of range (%" PRId64 " tensors)",
                          g->path, i, g->n_tensors);
    char name[TB_NAME_MAX];
    size_t n = t->name.len < TB_NAME_MAX - 1 ? (size_t)t->name.len : TB_NAME_MAX - 1;
    memcpy(name, t->name.ptr, n);
    name[n] = '\0';
    /* read-only by contract; tb_tensor has no const data pointer */
    int rc = tb_tensor_init(out, (enum tb_type)t->type, (int)t->n_dims, t->ne,
                            (void *)(uintptr_t)t->data, name);
    if (rc)
        return tb_err_set(err, rc, "%s: tensor '%s': cannot make a view of type %s", g->path, name,
                          tb_type_name(t->type));
    out->flags = TB_TENSOR_CONST | (g->mapped ? TB_TENSOR_MAPPED : 0u);
    return TB_OK;
}

/* GGUF v3 writer: KVs and tensor descriptions are collected, then one
 * serializer writes them to a byte counter, a memory buffer or a FILE, so
 * the sizes, the memory image and the file are the same bytes by
 * construction. Files are replaced atomically through the platform layer. */
#include "workloads/gguf_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct wkv {
    char *key;
    enum tb_gguf_type type;
    union kv_scalar val;
    char *str;
    enum tb_gguf_type arr_type;
    uint64_t arr_n;
    void *arr;   /* numeric arrays: copied elements */
    char **strs; /* string arrays: copied strings */
};

struct wtensor {
    char name[TB_NAME_MAX];
    int type;
    uint32_t n_dims;
    int64_t ne[TB_MAX_DIMS];
    const void *data;
    uint64_t size;
};

struct tb_gguf_writer {
    struct wkv *kvs;
    size_t n_kv, cap_kv;
    struct wtensor *tensors;
    size_t n_tensors, cap_tensors;
    uint32_t alignment;
};

int tb_gguf_writer_create(struct tb_gguf_writer **out, struct tb_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory");
    (*out)->alignment = TB_GGUF_DEFAULT_ALIGNMENT;
    return TB_OK;
}

static void wkv_free(struct wkv *kv)
{
    free(kv->key);
    free(kv->str);
    free(kv->arr);
    if (kv->strs)
        for (uint64_t j = 0; j < kv->arr_n; j++)
            free(kv->strs[j]);
    free(kv->strs);
}

void tb_gguf_writer_free(struct tb_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++)
        wkv_free(&w->kvs[i]);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc > SIZE_MAX / elem)
        return false;
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

static struct wkv *writer_find_kv(struct tb_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kvs[i].key, key) == 0)
            return &w->kvs[i];
    return NULL;
}

/* Validates the key and appends an empty KV of `type` to *out; the caller
 * fills the value and, on failure, drops it with writer_drop_last(). Returns
 * the code itself, so it is not lost when err is NULL. */
static int writer_new_kv(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type type,
                         struct wkv **out, struct tb_err *err)
{
    *out = NULL;
    if (!key || !*key)
        return tb_err_set(err, TB_EINVAL, "gguf writer: empty key");
    if (writer_find_kv(w, key))
        return tb_err_set(err, TB_EINVAL, "gguf writer: duplicate key '%s'", key);
    if (strcmp(key, ALIGNMENT_KEY) == 0 && type != TB_GGUF_UINT32)
        return tb_err_set(err, TB_EINVAL, "gguf writer: '%s' must be uint32, not %s", key,
                          tb_gguf_type_name(type));
    char *k = strdup(key);
    if (!k || !grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof *w->kvs)) {
        free(k);
        return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory adding key '%s'", key);
    }
    struct wkv *kv = &w->kvs[w->n_kv++];
    memset(kv, 0, sizeof *kv);
    kv->key = k;
    kv->type = type;
    *out = kv;
    return TB_OK;
}

static void writer_drop_last(struct tb_gguf_writer *w)
{
    wkv_free(&w->kvs[--w->n_kv]);
}

static int writer_add_scalar(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type type,
                             const void *v, struct tb_err *err)
{
    struct wkv *kv;
    int rc = writer_new_kv(w, key, type, &kv, err);
    if (rc)
        return rc;
    memcpy(kv->val.raw, v, tb_gguf_scalar_size[type]);
    return TB_OK;
}

int tb_gguf_writer_set_alignment(struct tb_gguf_writer *w, uint32_t alignment, struct tb_err *err)
{
    struct wkv *kv = writer_find_kv(w, ALIGNMENT_KEY);
    if (!kv)
        return tb_gguf_writer_add_u32(w, ALIGNMENT_KEY, alignment, err);
    if (!is_pow2(alignment))
        return tb_err_set(err, TB_EINVAL,
                          "gguf writer: alignment %" PRIu32 " is not a non-zero power of two",
                          alignment);
    kv->val.u32 = alignment;
    w->alignment = alignment;
    return TB_OK;
}

int tb_gguf_writer_add_u32(struct tb_gguf_writer *w, const char *key, uint32_t v,
                           struct tb_err *err)
{
    bool is_align = key && strcmp(key, ALIGNMENT_KEY) == 0;
    if (is_align && !is_pow2(v))
        return tb_err_set(err, TB_EINVAL,
                          "gguf writer: alignment %" PRIu32 " is not a non-zero power of two", v);
    int rc = writer_add_scalar(w, key, TB_GGUF_UINT32, &v, err);
    if (rc == TB_OK && is_align)
        w->alignment = v;
    return rc;
}

int tb_gguf_writer_add_i32(struct tb_gguf_writer *w, const char *key, int32_t v, struct tb_err *err)
{
    return writer_add_scalar(w, key, TB_GGUF_INT32, &v, err);
}

int tb_gguf_writer_add_u64(struct tb_gguf_writer *w, const char *key, uint64_t v,
                           struct tb_err *err)
{
    return writer_add_scalar(w, key, TB_GGUF_UINT64, &v, err);
}

int tb_gguf_writer_add_f32(struct tb_gguf_writer *w, const char *key, float v, struct tb_err *err)
{
    return writer_add_scalar(w, key, TB_GGUF_FLOAT32, &v, err);
}

int tb_gguf_writer_add_bool(struct tb_gguf_writer *w, const char *key, bool v, struct tb_err *err)
{
    uint8_t b = v ? 1 : 0;
    return writer_add_scalar(w, key, TB_GGUF_BOOL, &b, err);
}

int tb_gguf_writer_add_scalar(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type type,
                              const void *v, struct tb_err *err)
{
    if (!is_numeric_type((uint32_t)type) || !v)
        return tb_err_set(err, TB_EINVAL, "gguf writer: key '%s': type %s is not a numeric scalar",
                          key ? key : "", tb_gguf_type_name(type));
    if (type == TB_GGUF_UINT32) { /* keeps the alignment bookkeeping in one place */
        uint32_t u;
        memcpy(&u, v, 4);
        return tb_gguf_writer_add_u32(w, key, u, err);
    }
    if (type == TB_GGUF_BOOL && *(const uint8_t *)v > 1)
        return tb_err_set(err, TB_EINVAL, "gguf writer: key '%s': bool value is not 0/1",
                          key ? key : "");
    return writer_add_scalar(w, key, type, v, err);
}

int tb_gguf_writer_add_str(struct tb_gguf_writer *w, const char *key, const char *v,
                           struct tb_err *err)
{
    if (!v)
        return tb_err_set(err, TB_EINVAL, "gguf writer: key '%s': NULL string", key ? key : "");
    struct wkv *kv;
    int rc = writer_new_kv(w, key, TB_GGUF_STRING, &kv, err);
    if (rc)
        return rc;
    if (!(kv->str = strdup(v))) {
        writer_drop_last(w);
        return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory for key '%s'", key);
    }
    return TB_OK;
}

int tb_gguf_writer_add_arr(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type elem_type,
                           const void *data, uint64_t n, struct tb_err *err)
{
    if (!is_numeric_type((uint32_t)elem_type))
        return tb_err_set(err, TB_EINVAL,
                          "gguf writer: key '%s': array element type %s is not numeric",
                          key ? key : "", tb_gguf_type_name(elem_type));
    size_t esz = tb_gguf_scalar_size[elem_type];
    if (n > SIZE_MAX / esz || (n > 0 && !data))
        return tb_err_set(err, TB_EINVAL, "gguf writer: key '%s': bad array (%" PRIu64 " elements)",
                          key ? key : "", n);
    if (elem_type == TB_GGUF_BOOL)
        for (uint64_t j = 0; j < n; j++)
            if (((const uint8_t *)data)[j] > 1)
                return tb_err_set(err, TB_EINVAL,
                                  "gguf writer: key '%s': bool element %" PRIu64 " is not 0/1",
                                  key ? key : "", j);
    struct wkv *kv;
    int rc = writer_new_kv(w, key, TB_GGUF_ARRAY, &kv, err);
    if (rc)
        return rc;
    kv->arr_type = elem_type;
    kv->arr = malloc(n ? (size_t)n * esz : 1);
    if (!kv->arr) {
        writer_drop_last(w);
        return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory for key '%s'", key);
    }
    if (n)
        memcpy(kv->arr, data, (size_t)n * esz);
    kv->arr_n = n;
    return TB_OK;
}

int tb_gguf_writer_add_arr_str(struct tb_gguf_writer *w, const char *key, const char *const *v,
                               uint64_t n, struct tb_err *err)
{
    if ((n > 0 && !v) || n > SIZE_MAX / sizeof(char *))
        return tb_err_set(err, TB_EINVAL, "gguf writer: key '%s': bad string array",
                          key ? key : "");
    for (uint64_t j = 0; j < n; j++)
        if (!v[j])
            return tb_err_set(err, TB_EINVAL, "gguf writer: key '%s': string %" PRIu64 " is NULL",
                              key ? key : "", j);
    struct wkv *kv;
    int rc = writer_new_kv(w, key, TB_GGUF_ARRAY, &kv, err);
    if (rc)
        return rc;
    kv->arr_type = TB_GGUF_STRING;
    kv->strs = calloc(n ? (size_t)n : 1, sizeof *kv->strs);
    if (!kv->strs) {
        writer_drop_last(w);
        return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory for key '%s'", key);
    }
    for (uint64_t j = 0; j < n; j++) {
        kv->arr_n = j; /* strings copied so far, for cleanup */
        if (!(kv->strs[j] = strdup(v[j]))) {
            writer_drop_last(w);
            return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory for key '%s'", key);
        }
    }
    kv->arr_n = n;
    return TB_OK;
}

int tb_gguf_writer_add_tensor(struct tb_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                              const int64_t *ne, const void *data, struct tb_err *err)
{
    if (!name || !*name || strlen(name) > TB_NAME_MAX - 1)
        return tb_err_set(err, TB_EINVAL, "gguf writer: tensor name '%.64s' must be 1..%d bytes",
                          name ? name : "", TB_NAME_MAX - 1);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return tb_err_set(err, TB_EINVAL, "gguf writer: duplicate tensor name '%s'", name);
    const struct tb_type_traits *tr = tb_type_traits(type);
    if (!tr)
        return tb_err_set(err, TB_EINVAL, "gguf writer: tensor '%s': unknown type id %d", name,
                          type);
    if (n_dims < 1 || n_dims > TB_MAX_DIMS || !ne || !data)
        return tb_err_set(err, TB_EINVAL,
                          "gguf writer: tensor '%s': need 1..%d dims, a shape and data", name,
                          TB_MAX_DIMS);
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] < 1)
            return tb_err_set(err, TB_EINVAL,
                              "gguf writer: tensor '%s': bad dimension %" PRIu32 " (%" PRId64 ")",
                              name, d, ne[d]);
    if (ne[0] % tr->block_size != 0)
        return tb_err_set(err, TB_EINVAL,
                          "gguf writer: tensor '%s': row length %" PRId64
                          " is not a multiple of the %s block size %" PRId64,
                          name, ne[0], tr->name, tr->block_size);
    uint64_t size;
    uint32_t bad_dim = 0;
    if (tb_gguf_tensor_nbytes(tr, n_dims, ne, &size, &bad_dim) != 0)
        return tb_err_set(err, TB_EINVAL, "gguf writer: tensor '%s': size overflows", name);
    if (!grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors))
        return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory adding tensor '%s'", name);
    struct wtensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < TB_MAX_DIMS; d++)
        t->ne[d] = d < (int)n_dims ? ne[d] : 1;
    t->data = data;
    t->size = size;
    return TB_OK;
}

/* Byte sink: counts only (buf and f NULL), fills a buffer, or writes a FILE. */
struct sink {
    uint8_t *buf;
    FILE *f;
    uint64_t pos;
    int err_no; /* first write error */
};

static void put(struct sink *s, const void *p, uint64_t n)
{
    if (n == 0)
        return;
    if (s->buf) {
        memcpy(s->buf + s->pos, p, (size_t)n);
    } else if (s->f && !s->err_no) {
        if (fwrite(p, 1, (size_t)n, s->f) != n)
            s->err_no = errno ? errno : EIO;
    }
    s->pos += n;
}

static void put_u32(struct sink *s, uint32_t v)
{
    put(s, &v, 4);
}
static void put_u64(struct sink *s, uint64_t v)
{
    put(s, &v, 8);
}

static void put_str(struct sink *s, const char *str)
{
    uint64_t n = strlen(str);
    put_u64(s, n);
    put(s, str, n);
}

static void put_pad(struct sink *s, uint32_t alignment)
{
    static const uint8_t zeros[256];
    uint64_t target = s->pos;
    align_up(s->pos, alignment, &target); /* sizes stay far below overflow */
    while (s->pos < target) {
        uint64_t n = target - s->pos < sizeof zeros ? target - s->pos : sizeof zeros;
        put(s, zeros, n);
    }
}

static void serialize(const struct tb_gguf_writer *w, struct sink *s)
{
    put(s, "GGUF", 4);
    put_u32(s, 3);
    put_u64(s, w->n_tensors);
    put_u64(s, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        const struct wkv *kv = &w->kvs[i];
        put_str(s, kv->key);
        put_u32(s, kv->type);
        if (kv->type == TB_GGUF_STRING) {
            put_str(s, kv->str);
        } else if (kv->type == TB_GGUF_ARRAY) {
            put_u32(s, kv->arr_type);
            put_u64(s, kv->arr_n);
            if (kv->arr_type == TB_GGUF_STRING)
                for (uint64_t j = 0; j < kv->arr_n; j++)
                    put_str(s, kv->strs[j]);
            else
                put(s, kv->arr, kv->arr_n * tb_gguf_scalar_size[kv->arr_type]);
        } else {
            put(s, kv->val.raw, tb_gguf_scalar_size[kv->type]);
        }
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const struct wtensor *t = &w->tensors[i];
        put_str(s, t->name);
        put_u32(s, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_u64(s, (uint64_t)t->ne[d]);
        put_u32(s, (uint32_t)t->type);
        put_u64(s, off);
        align_up(off + t->size, w->alignment, &off);
    }
    put_pad(s, w->alignment);
    for (size_t i = 0; i < w->n_tensors; i++) {
        put(s, w->tensors[i].data, w->tensors[i].size);
        put_pad(s, w->alignment);
    }
}

int tb_gguf_writer_write_memory(struct tb_gguf_writer *w, void **buf, size_t *size,
                                struct tb_err *err)
{
    struct sink count = {0};
    serialize(w, &count);
    if (count.pos > SIZE_MAX)
        return tb_err_set(err, TB_ENOMEM, "gguf writer: %" PRIu64 " bytes do not fit memory",
                          count.pos);
    struct sink s = {.buf = malloc(count.pos ? (size_t)count.pos : 1)};
    if (!s.buf)
        return tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory for %" PRIu64 " bytes",
                          count.pos);
    serialize(w, &s);
    *buf = s.buf;
    *size = (size_t)s.pos;
    return TB_OK;
}

int tb_gguf_writer_write(struct tb_gguf_writer *w, const char *path, struct tb_err *err)
{
    struct tb_file_replace r;
    int rc = tb_file_replace_open(path, &r, err);
    if (rc)
        return rc;
    struct sink s = {.f = r.f};
    serialize(w, &s);
    return tb_file_replace_commit(&r, s.err_no, err);
}

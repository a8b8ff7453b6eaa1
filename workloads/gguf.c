/* GGUF v2/v3 reader and v3 writer.
 *
 * Reader: the whole file is mapped (or a caller buffer is used) and parsed
 * once; every field is read through rd_take(), the single place that checks
 * bounds. Counts read from the file are checked against the bytes left
 * before anything is allocated with them. Strings, numeric arrays and tensor
 * data stay in the mapping (zero copy).
 *
 * Writer: KVs and tensor descriptions are collected, then one serializer
 * writes them to a byte counter, a memory buffer or a FILE, so the sizes,
 * the memory image and the file are the same bytes by construction. */
#include "workloads/tb_gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Smallest possible KV: u64 key length, 1 key byte (keys are non-empty),
 * u32 type, 1 value byte. */
#define MIN_KV_BYTES 14u
/* Smallest tensor info: u64 name length + 1 byte, u32 n_dims, one u64 dim,
 * u32 type, u64 offset. */
#define MIN_TENSOR_BYTES 33u
#define ALIGNMENT_KEY "general.alignment"
/* How much of a file-provided name goes into an error message. */
#define MSG_NAME_MAX 64

static const size_t k_scalar_size[TB_GGUF_TYPE_COUNT] = {
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

static bool is_numeric_type(uint32_t t)
{
    return t < TB_GGUF_TYPE_COUNT && t != TB_GGUF_STRING && t != TB_GGUF_ARRAY;
}

static bool is_pow2(uint64_t a)
{
    return a != 0 && (a & (a - 1)) == 0;
}

/* Rounds x up to a multiple of a (a power of two); false on overflow. */
static bool align_up(uint64_t x, uint64_t a, uint64_t *out)
{
    if (x > UINT64_MAX - (a - 1))
        return false;
    *out = (x + a - 1) & ~(a - 1);
    return true;
}

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static bool add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Byte size of a tensor whose dims are >= 1 and whose row is a whole number
 * of blocks. Returns 0, or 1 when the element count overflows int64 (at
 * dimension *bad_dim), or 2 when the byte size overflows int64. One place
 * for this arithmetic, shared by the reader and the writer. */
static int tensor_nbytes(const struct tb_type_traits *tr, uint32_t n_dims, const int64_t *ne,
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

/* ------------------------------------------------------------------ reader */

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
    void *map; /* non-NULL when we own an mmap */
    size_t map_len;
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

static struct tb_gguf_str kv_name_at(const struct tb_gguf *g, int64_t i)
{
    return g->kvs[i].key;
}

static struct tb_gguf_str tensor_name_at(const struct tb_gguf *g, int64_t i)
{
    return g->tensors[i].name;
}

static uint64_t str_hash(const char *p, uint64_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* n is already validated against the file size, so the table is bounded. */
static int index_init(struct str_index *ix, int64_t n)
{
    uint64_t cap = 2;
    while (cap < (uint64_t)n * 2)
        cap *= 2;
    ix->slots = malloc(cap * sizeof *ix->slots);
    if (!ix->slots)
        return TB_ENOMEM;
    for (uint64_t i = 0; i < cap; i++)
        ix->slots[i] = -1;
    ix->mask = cap - 1;
    return TB_OK;
}

/* Returns the index with that name, or -1; *slot gets the probe end (the
 * free slot to insert into when absent). */
static int64_t index_find(const struct tb_gguf *g, const struct str_index *ix, name_at_fn name_at,
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

/* Cursor over the file bytes; every read goes through rd_take_at(). */
struct rd {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    const char *label;
    struct tb_err *err;
};

static int rd_fail(const struct rd *r, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rd_fail(const struct rd *r, uint64_t off, const char *fmt, ...)
{
    if (r->err) {
        char what[TB_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        tb_err_set(r->err, TB_EFORMAT, "%s: offset %" PRIu64 ": %s", r->label, off, what);
    }
    return TB_EFORMAT;
}

static uint64_t rd_left(const struct rd *r)
{
    return r->size - r->pos;
}

/* Takes n bytes at the cursor; a shortfall is reported at field_off (the
 * start of the field being read, which may precede the cursor). */
static int rd_take_at(struct rd *r, uint64_t n, const uint8_t **p, const char *what,
                      uint64_t field_off)
{
    if (n > rd_left(r))
        return rd_fail(r, field_off, "truncated: %s needs %" PRIu64 " bytes, %" PRIu64 " left",
                       what, n, rd_left(r));
    *p = r->base + r->pos;
    r->pos += n;
    return TB_OK;
}

static int rd_take(struct rd *r, uint64_t n, const uint8_t **p, const char *what)
{
    return rd_take_at(r, n, p, what, r->pos);
}

static int rd_u32(struct rd *r, uint32_t *v, const char *what)
{
    const uint8_t *p = NULL;
    int rc = rd_take(r, 4, &p, what);
    if (rc == TB_OK)
        memcpy(v, p, 4);
    return rc;
}

static int rd_u64(struct rd *r, uint64_t *v, const char *what)
{
    const uint8_t *p = NULL;
    int rc = rd_take(r, 8, &p, what);
    if (rc == TB_OK)
        memcpy(v, p, 8);
    return rc;
}

static int rd_str(struct rd *r, struct tb_gguf_str *s, const char *what)
{
    uint64_t off = r->pos;
    uint64_t len;
    const uint8_t *p = NULL;
    int rc = rd_u64(r, &len, what);
    if (rc)
        return rc;
    if (len > rd_left(r))
        return rd_fail(r, off, "%s length %" PRIu64 " exceeds the %" PRIu64 " bytes left", what,
                       len, rd_left(r));
    if ((rc = rd_take_at(r, len, &p, what, off)))
        return rc;
    s->ptr = (const char *)p;
    s->len = len;
    return TB_OK;
}

/* Name for messages: bounded, never NUL-dependent. */
#define SHOWN(s) (int)((s).len < MSG_NAME_MAX ? (s).len : MSG_NAME_MAX), (s).ptr

static int parse_array(struct rd *r, struct gguf_kv *kv)
{
    uint64_t toff = r->pos, noff;
    uint32_t et;
    uint64_t n;
    int rc;
    if ((rc = rd_u32(r, &et, "array element type")))
        return rc;
    if (et == TB_GGUF_ARRAY)
        return rd_fail(r, toff, "key '%.*s': nested arrays are not supported", SHOWN(kv->key));
    if (et >= TB_GGUF_TYPE_COUNT)
        return rd_fail(r, toff, "key '%.*s': array element type %" PRIu32 " out of range",
                       SHOWN(kv->key), et);
    noff = r->pos;
    if ((rc = rd_u64(r, &n, "array count")))
        return rc;
    uint64_t min_elem = et == TB_GGUF_STRING ? 8 : k_scalar_size[et];
    if (n > rd_left(r) / min_elem)
        return rd_fail(r, noff,
                       "key '%.*s': array count %" PRIu64 " exceeds what the %" PRIu64
                       " bytes left can hold",
                       SHOWN(kv->key), n, rd_left(r));
    kv->arr_type = (enum tb_gguf_type)et;
    kv->arr_n = n;
    if (et == TB_GGUF_STRING) {
        kv->arr_str_off = malloc(n ? n * sizeof *kv->arr_str_off : 1);
        if (!kv->arr_str_off)
            return tb_err_set(r->err, TB_ENOMEM, "%s: out of memory for %" PRIu64 " strings",
                              r->label, n);
        for (uint64_t j = 0; j < n; j++) {
            struct tb_gguf_str s;
            kv->arr_str_off[j] = r->pos;
            if ((rc = rd_str(r, &s, "array string")))
                return rc;
        }
        kv->arr_data = r->base + (n ? kv->arr_str_off[0] : r->pos);
        return TB_OK;
    }
    const uint8_t *p = NULL;
    uint64_t start = r->pos;
    if ((rc = rd_take(r, n * min_elem, &p, "array data")))
        return rc;
    if (et == TB_GGUF_BOOL)
        for (uint64_t j = 0; j < n; j++)
            if (p[j] > 1)
                return rd_fail(r, start + j,
                               "key '%.*s': bool array element %" PRIu64
                               " has value %u (must be 0 or 1)",
                               SHOWN(kv->key), j, p[j]);
    kv->arr_data = p;
    return TB_OK;
}

static int parse_kv(struct rd *r, struct tb_gguf *g, int64_t i)
{
    struct gguf_kv *kv = &g->kvs[i];
    uint64_t off = r->pos, toff, slot = 0;
    uint32_t type;
    int rc;
    kv->offset = off;
    if ((rc = rd_str(r, &kv->key, "key")))
        return rc;
    if (kv->key.len == 0)
        return rd_fail(r, off, "KV %" PRId64 ": empty key", i);
    int64_t prev = index_find(g, &g->kv_index, kv_name_at, kv->key.ptr, kv->key.len, &slot);
    if (prev >= 0)
        return rd_fail(r, off, "duplicate key '%.*s' (first at offset %" PRIu64 ")", SHOWN(kv->key),
                       g->kvs[prev].offset);
    toff = r->pos;
    if ((rc = rd_u32(r, &type, "value type")))
        return rc;
    if (type >= TB_GGUF_TYPE_COUNT)
        return rd_fail(r, toff, "key '%.*s': value type %" PRIu32 " out of range", SHOWN(kv->key),
                       type);
    kv->type = (enum tb_gguf_type)type;
    kv->val_offset = r->pos;
    if (type == TB_GGUF_STRING) {
        rc = rd_str(r, &kv->str, "string value");
    } else if (type == TB_GGUF_ARRAY) {
        rc = parse_array(r, kv);
    } else {
        const uint8_t *p = NULL;
        rc = rd_take(r, k_scalar_size[type], &p, "value");
        if (rc == TB_OK) {
            memcpy(kv->val.raw, p, k_scalar_size[type]);
            if (type == TB_GGUF_BOOL && p[0] > 1)
                rc = rd_fail(r, kv->val_offset, "key '%.*s': bool value %u (must be 0 or 1)",
                             SHOWN(kv->key), p[0]);
        }
    }
    if (rc)
        return rc;
    if (kv->key.len == strlen(ALIGNMENT_KEY) &&
        memcmp(kv->key.ptr, ALIGNMENT_KEY, kv->key.len) == 0) {
        if (type != TB_GGUF_UINT32)
            return rd_fail(r, toff,
                           "alignment key '" ALIGNMENT_KEY "' has type %s (must be uint32)",
                           tb_gguf_type_name(kv->type));
        if (!is_pow2(kv->val.u32))
            return rd_fail(r, kv->val_offset,
                           "alignment %" PRIu32 " is not a non-zero power of two", kv->val.u32);
        g->alignment = kv->val.u32;
    }
    g->kv_index.slots[slot] = i;
    return TB_OK;
}

/* Where a tensor's data lies, for the past-end and overlap checks. */
struct tensor_span {
    uint64_t start, end; /* relative to the data section */
    uint64_t field_off;  /* file offset of the tensor info's offset field */
    int64_t idx;
};

static int span_cmp(const void *a, const void *b)
{
    const struct tensor_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int parse_tensor_info(struct rd *r, struct tb_gguf *g, int64_t i, struct tensor_span *span)
{
    struct tb_gguf_tensor_info *t = &g->tensors[i];
    uint64_t off = r->pos, doff, dim_off[TB_MAX_DIMS], tyoff, slot = 0;
    uint32_t n_dims, type;
    int rc;
    if ((rc = rd_str(r, &t->name, "tensor name")))
        return rc;
    if (t->name.len == 0)
        return rd_fail(r, off, "tensor %" PRId64 ": empty name", i);
    if (t->name.len > TB_NAME_MAX - 1)
        return rd_fail(r, off,
                       "tensor %" PRId64 ": name '%.*s...' is %" PRIu64 " bytes long (max %d)", i,
                       SHOWN(t->name), t->name.len, TB_NAME_MAX - 1);
    int64_t prev = index_find(g, &g->tensor_index, tensor_name_at, t->name.ptr, t->name.len, &slot);
    if (prev >= 0)
        return rd_fail(r, off, "duplicate tensor name '%.*s' (first is tensor %" PRId64 ")",
                       SHOWN(t->name), prev);
    doff = r->pos;
    if ((rc = rd_u32(r, &n_dims, "tensor n_dims")))
        return rc;
    if (n_dims == 0 || n_dims > TB_MAX_DIMS)
        return rd_fail(r, doff, "tensor '%.*s': n_dims %" PRIu32 " out of range (1..%d)",
                       SHOWN(t->name), n_dims, TB_MAX_DIMS);
    t->n_dims = n_dims;
    for (int d = 0; d < TB_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        dim_off[d] = r->pos;
        if ((rc = rd_u64(r, &ne, "tensor dimension")))
            return rc;
        if (ne > INT64_MAX)
            return rd_fail(r, dim_off[d],
                           "tensor '%.*s': dimension %" PRIu32 " is negative (%" PRId64 ")",
                           SHOWN(t->name), d, (int64_t)ne);
        if (ne == 0)
            return rd_fail(r, dim_off[d], "tensor '%.*s': dimension %" PRIu32 " is zero",
                           SHOWN(t->name), d);
        t->ne[d] = (int64_t)ne;
    }
    tyoff = r->pos;
    if ((rc = rd_u32(r, &type, "tensor type")))
        return rc;
    const struct tb_type_traits *tr = tb_type_traits((int)type);
    if (type >= TB_TYPE_ID_LIMIT || !tr)
        return rd_fail(r, tyoff, "tensor '%.*s': unknown type id %" PRIu32, SHOWN(t->name), type);
    t->type = (int)type;
    if (t->ne[0] % tr->block_size != 0)
        return rd_fail(r, dim_off[0],
                       "tensor '%.*s': row length %" PRId64
                       " is not a multiple of the %s block size %" PRId64,
                       SHOWN(t->name), t->ne[0], tr->name, tr->block_size);
    uint32_t bad_dim = 0;
    int ov = tensor_nbytes(tr, n_dims, t->ne, &t->size, &bad_dim);
    if (ov == 1)
        return rd_fail(r, dim_off[bad_dim], "tensor '%.*s': element count overflows",
                       SHOWN(t->name));
    if (ov == 2)
        return rd_fail(r, dim_off[0], "tensor '%.*s': byte size overflows", SHOWN(t->name));
    span->field_off = r->pos;
    if ((rc = rd_u64(r, &t->offset, "tensor offset")))
        return rc;
    if (t->offset % g->alignment != 0)
        return rd_fail(r, span->field_off,
                       "tensor '%.*s': data offset %" PRIu64
                       " is not a multiple of the alignment %" PRIu32,
                       SHOWN(t->name), t->offset, g->alignment);
    if (!add_u64(t->offset, t->size, &span->end))
        return rd_fail(r, span->field_off,
                       "tensor '%.*s': data offset %" PRIu64 " + size overflows", SHOWN(t->name),
                       t->offset);
    span->start = t->offset;
    span->idx = i;
    g->tensor_index.slots[slot] = i;
    return TB_OK;
}

/* Data placement: inside the file, no two tensors overlapping. */
static int check_tensor_data(struct rd *r, struct tb_gguf *g, struct tensor_span *spans)
{
    uint64_t data_bytes = g->data_offset <= g->size ? g->size - g->data_offset : 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        struct tb_gguf_tensor_info *t = &g->tensors[i];
        if (g->data_offset > g->size || spans[i].end > data_bytes)
            return rd_fail(r, spans[i].field_off,
                           "tensor '%.*s': data [%" PRIu64 ", %" PRIu64
                           ") of the data section at %" PRIu64
                           " is past the end of the file (%" PRIu64 " bytes)",
                           SHOWN(t->name), spans[i].start, spans[i].end, g->data_offset, g->size);
        t->data = g->base + g->data_offset + t->offset;
    }
    qsort(spans, (size_t)g->n_tensors, sizeof *spans, span_cmp);
    for (int64_t k = 1; k < g->n_tensors; k++)
        if (spans[k].start < spans[k - 1].end)
            return rd_fail(r, spans[k].field_off,
                           "tensor '%.*s': data [%" PRIu64 ", %" PRIu64
                           ") overlaps tensor '%.*s' [%" PRIu64 ", %" PRIu64 ")",
                           SHOWN(g->tensors[spans[k].idx].name), spans[k].start, spans[k].end,
                           SHOWN(g->tensors[spans[k - 1].idx].name), spans[k - 1].start,
                           spans[k - 1].end);
    return TB_OK;
}

static int parse(struct tb_gguf *g, struct tb_err *err)
{
    struct rd r = {g->base, g->size, 0, g->path, err};
    const uint8_t *magic = NULL;
    uint64_t n_tensors, n_kv;
    int rc;
    if ((rc = rd_take(&r, 4, &magic, "magic")))
        return rc;
    if (memcmp(magic, "GGUF", 4) != 0)
        return rd_fail(&r, 0, "bad magic %02x %02x %02x %02x (expected \"GGUF\")", magic[0],
                       magic[1], magic[2], magic[3]);
    if ((rc = rd_u32(&r, &g->version, "version")))
        return rc;
    if (g->version == 1)
        return rd_fail(&r, 4, "GGUF version 1 is not supported (need 2 or 3)");
    if (g->version != 2 && g->version != 3)
        return rd_fail(&r, 4, "unsupported GGUF version %" PRIu32 "%s", g->version,
                       (g->version & 0xffffu) == 0 ? " (big-endian file?)" : "");
    if ((rc = rd_u64(&r, &n_tensors, "tensor count")) || (rc = rd_u64(&r, &n_kv, "KV count")))
        return rc;
    /* Each KV and tensor info has a minimal encoded size, so the counts are
     * bounded by the bytes left before anything is allocated from them. */
    uint64_t left = rd_left(&r);
    if (n_tensors > left / MIN_TENSOR_BYTES)
        return rd_fail(&r, 8,
                       "tensor count %" PRIu64 " exceeds what the %" PRIu64 " bytes left can hold",
                       n_tensors, left);
    if (n_kv > left / MIN_KV_BYTES || n_kv * MIN_KV_BYTES > left - n_tensors * MIN_TENSOR_BYTES)
        return rd_fail(&r, 16,
                       "KV count %" PRIu64 " (with %" PRIu64 " tensors) exceeds what the %" PRIu64
                       " bytes left can hold",
                       n_kv, n_tensors, left);
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    g->alignment = TB_GGUF_DEFAULT_ALIGNMENT;
    g->kvs = calloc(n_kv ? n_kv : 1, sizeof *g->kvs);
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    struct tensor_span *spans = calloc(n_tensors ? n_tensors : 1, sizeof *spans);
    if (!g->kvs || !g->tensors || !spans || index_init(&g->kv_index, g->n_kv) ||
        index_init(&g->tensor_index, g->n_tensors)) {
        free(spans);
        return tb_err_set(err, TB_ENOMEM,
                          "%s: out of memory for %" PRIu64 " KVs and %" PRIu64 " tensors", g->path,
                          n_kv, n_tensors);
    }
    for (int64_t i = 0; i < g->n_kv && rc == TB_OK; i++)
        rc = parse_kv(&r, g, i);
    for (int64_t i = 0; i < g->n_tensors && rc == TB_OK; i++)
        rc = parse_tensor_info(&r, g, i, &spans[i]);
    if (rc == TB_OK && !align_up(r.pos, g->alignment, &g->data_offset))
        rc = rd_fail(&r, r.pos, "data section offset overflows");
    if (rc == TB_OK)
        rc = check_tensor_data(&r, g, spans);
    free(spans);
    return rc;
}

static const uint8_t k_empty_file[1];

static int open_common(const uint8_t *base, uint64_t size, const char *label, void *map,
                       size_t map_len, struct tb_gguf **out, struct tb_err *err)
{
    struct tb_gguf *g = calloc(1, sizeof *g);
    char *path = strdup(label);
    if (!g || !path) {
        free(g);
        free(path);
        if (map)
            munmap(map, map_len);
        return tb_err_set(err, TB_ENOMEM, "%s: out of memory", label);
    }
    g->path = path;
    g->base = base ? base : k_empty_file;
    g->size = size;
    g->map = map;
    g->map_len = map_len;
    int rc = parse(g, err);
    if (rc) {
        tb_gguf_close(g);
        return rc;
    }
    *out = g;
    return TB_OK;
}

int tb_gguf_open(const char *path, struct tb_gguf **out, struct tb_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tb_err_set(err, TB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tb_err_set(err, TB_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tb_err_set(err, TB_EIO, "%s: not a regular file", path);
    }
    void *map = NULL;
    size_t len = (size_t)st.st_size;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return tb_err_set(err, TB_EIO, "%s: cannot map %zu bytes: %s", path, len, strerror(e));
        }
    }
    close(fd); /* the mapping stays valid */
    return open_common(map, len, path, map, len, out, err);
}

int tb_gguf_open_memory(const void *buf, size_t size, const char *label, struct tb_gguf **out,
                        struct tb_err *err)
{
    *out = NULL;
    if (!buf && size > 0)
        return tb_err_set(err, TB_EINVAL, "%s: NULL buffer", label ? label : "<memory>");
    return open_common(buf, size, label ? label : "<memory>", NULL, 0, out, err);
}

void tb_gguf_close(struct tb_gguf *g)
{
    if (!g)
        return;
    if (g->kvs)
        for (int64_t i = 0; i < g->n_kv; i++)
            free(g->kvs[i].arr_str_off);
    free(g->kvs);
    free(g->tensors);
    free(g->kv_index.slots);
    free(g->tensor_index.slots);
    if (g->map)
        munmap(g->map, g->map_len);
    free(g->path);
    free(g);
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
    return index_find(g, &g->kv_index, kv_name_at, key, strlen(key), NULL);
}

int64_t tb_gguf_find_tensor(const struct tb_gguf *g, const char *name)
{
    return index_find(g, &g->tensor_index, tensor_name_at, name, strlen(name), NULL);
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
    out->flags = TB_TENSOR_CONST | (g->map ? TB_TENSOR_MAPPED : 0u);
    return TB_OK;
}

/* ------------------------------------------------------------- print info */

#define PRINT_STR_MAX 60
#define PRINT_ARR_MAX 8

/* Quoted, escaped, truncated with "..." when long. */
static void print_str(FILE *f, const char *p, uint64_t n)
{
    fputc('"', f);
    for (uint64_t i = 0; i < n && i < PRINT_STR_MAX; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
    if (n > PRINT_STR_MAX)
        fputs("...", f);
}

static void print_scalar(FILE *f, enum tb_gguf_type t, const void *p)
{
    union kv_scalar v;
    memcpy(v.raw, p, k_scalar_size[t]);
    switch (t) {
    case TB_GGUF_UINT8: fprintf(f, "%u", v.u8); break;
    case TB_GGUF_INT8: fprintf(f, "%d", v.i8); break;
    case TB_GGUF_UINT16: fprintf(f, "%u", v.u16); break;
    case TB_GGUF_INT16: fprintf(f, "%d", v.i16); break;
    case TB_GGUF_UINT32: fprintf(f, "%" PRIu32, v.u32); break;
    case TB_GGUF_INT32: fprintf(f, "%" PRId32, v.i32); break;
    case TB_GGUF_FLOAT32: fprintf(f, "%g", v.f32); break;
    case TB_GGUF_BOOL: fputs(v.u8 ? "true" : "false", f); break;
    case TB_GGUF_UINT64: fprintf(f, "%" PRIu64, v.u64); break;
    case TB_GGUF_INT64: fprintf(f, "%" PRId64, v.i64); break;
    case TB_GGUF_FLOAT64: fprintf(f, "%g", v.f64); break;
    default: fputs("?", f); break;
    }
}

void tb_gguf_print_info(const struct tb_gguf *g, FILE *f)
{
    fprintf(f, "GGUF file: %s\n", g->path);
    fprintf(f, "  version:     %" PRIu32 "\n", g->version);
    fprintf(f, "  alignment:   %" PRIu32 "\n", g->alignment);
    fprintf(f, "  n_kv:        %" PRId64 "\n", g->n_kv);
    fprintf(f, "  n_tensors:   %" PRId64 "\n", g->n_tensors);
    fprintf(f, "  data offset: %" PRIu64 "\n", g->data_offset);
    fprintf(f, "  file size:   %" PRIu64 "\n", g->size);
    fprintf(f, "metadata:\n");
    for (int64_t i = 0; i < g->n_kv; i++) {
        const struct gguf_kv *kv = &g->kvs[i];
        fprintf(f, "  %4" PRId64 ": ", i);
        print_str(f, kv->key.ptr, kv->key.len);
        if (kv->type == TB_GGUF_ARRAY) {
            fprintf(f, " array[%s] n=%" PRIu64 " = [", tb_gguf_type_name(kv->arr_type), kv->arr_n);
            for (uint64_t j = 0; j < kv->arr_n && j < PRINT_ARR_MAX; j++) {
                if (j)
                    fputs(", ", f);
                if (kv->arr_type == TB_GGUF_STRING) {
                    struct tb_gguf_str s = tb_gguf_kv_arr_str(g, i, j);
                    print_str(f, s.ptr, s.len);
                } else {
                    print_scalar(f, kv->arr_type,
                                 (const uint8_t *)kv->arr_data + j * k_scalar_size[kv->arr_type]);
                }
            }
            fputs(kv->arr_n > PRINT_ARR_MAX ? ", ...]\n" : "]\n", f);
        } else if (kv->type == TB_GGUF_STRING) {
            fputs(" string = ", f);
            print_str(f, kv->str.ptr, kv->str.len);
            fputc('\n', f);
        } else {
            fprintf(f, " %s = ", tb_gguf_type_name(kv->type));
            print_scalar(f, kv->type, kv->val.raw);
            fputc('\n', f);
        }
    }
    fprintf(f, "tensors:\n  %5s  %-40s %-6s %-28s %12s %12s\n", "idx", "name", "type", "shape",
            "bytes", "offset");
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct tb_gguf_tensor_info *t = &g->tensors[i];
        char shape[96];
        int n = snprintf(shape, sizeof shape, "[");
        for (uint32_t d = 0; d < t->n_dims && n > 0 && (size_t)n < sizeof shape; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRId64, d ? ", " : "",
                          t->ne[d]);
        if (n > 0 && (size_t)n < sizeof shape)
            snprintf(shape + n, sizeof shape - (size_t)n, "]");
        fprintf(f, "  %5" PRId64 "  %-40.*s %-6s %-28s %12" PRIu64 " %12" PRIu64 "\n", i,
                (int)t->name.len, t->name.ptr, tb_type_name(t->type), shape, t->size, t->offset);
    }
}

/* ------------------------------------------------------------------ writer */

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

/* Validates the key and appends an empty KV of `type`; the caller fills the
 * value and, on failure, drops it with writer_drop_last(). */
static struct wkv *writer_new_kv(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type type,
                                 struct tb_err *err)
{
    if (!key || !*key) {
        tb_err_set(err, TB_EINVAL, "gguf writer: empty key");
        return NULL;
    }
    if (writer_find_kv(w, key)) {
        tb_err_set(err, TB_EINVAL, "gguf writer: duplicate key '%s'", key);
        return NULL;
    }
    if (strcmp(key, ALIGNMENT_KEY) == 0 && type != TB_GGUF_UINT32) {
        tb_err_set(err, TB_EINVAL, "gguf writer: '%s' must be uint32, not %s", key,
                   tb_gguf_type_name(type));
        return NULL;
    }
    char *k = strdup(key);
    if (!k || !grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof *w->kvs)) {
        free(k);
        tb_err_set(err, TB_ENOMEM, "gguf writer: out of memory adding key '%s'", key);
        return NULL;
    }
    struct wkv *kv = &w->kvs[w->n_kv++];
    memset(kv, 0, sizeof *kv);
    kv->key = k;
    kv->type = type;
    return kv;
}

static void writer_drop_last(struct tb_gguf_writer *w)
{
    wkv_free(&w->kvs[--w->n_kv]);
}

static int writer_add_scalar(struct tb_gguf_writer *w, const char *key, enum tb_gguf_type type,
                             const void *v, struct tb_err *err)
{
    struct wkv *kv = writer_new_kv(w, key, type, err);
    if (!kv)
        return err ? err->code : TB_EINVAL;
    memcpy(kv->val.raw, v, k_scalar_size[type]);
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
    struct wkv *kv = writer_new_kv(w, key, TB_GGUF_STRING, err);
    if (!kv)
        return err ? err->code : TB_EINVAL;
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
    size_t esz = k_scalar_size[elem_type];
    if (n > SIZE_MAX / esz || (n > 0 && !data))
        return tb_err_set(err, TB_EINVAL, "gguf writer: key '%s': bad array (%" PRIu64 " elements)",
                          key ? key : "", n);
    if (elem_type == TB_GGUF_BOOL)
        for (uint64_t j = 0; j < n; j++)
            if (((const uint8_t *)data)[j] > 1)
                return tb_err_set(err, TB_EINVAL,
                                  "gguf writer: key '%s': bool element %" PRIu64 " is not 0/1",
                                  key ? key : "", j);
    struct wkv *kv = writer_new_kv(w, key, TB_GGUF_ARRAY, err);
    if (!kv)
        return err ? err->code : TB_EINVAL;
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
    struct wkv *kv = writer_new_kv(w, key, TB_GGUF_ARRAY, err);
    if (!kv)
        return err ? err->code : TB_EINVAL;
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
    if (tensor_nbytes(tr, n_dims, ne, &size, &bad_dim) != 0)
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
                put(s, kv->arr, kv->arr_n * k_scalar_size[kv->arr_type]);
        } else {
            put(s, kv->val.raw, k_scalar_size[kv->type]);
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

/* Makes the rename durable; failure here does not undo the write. */
static void fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int tb_gguf_writer_write(struct tb_gguf_writer *w, const char *path, struct tb_err *err)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    if (!tmp)
        return tb_err_set(err, TB_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    int fd = mkstemp(tmp); /* same directory, so rename() is atomic */
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return tb_err_set(err, TB_EIO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    const char *what = NULL;
    int e = 0;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        e = errno;
        close(fd);
        what = "cannot open temporary file";
    } else {
        (void)fchmod(fd, 0644); /* mkstemp makes 0600; a model file is not secret */
        struct sink s = {.f = f};
        serialize(w, &s);
        if (s.err_no) {
            e = s.err_no;
            what = "write failed";
        } else if (fflush(f) != 0) {
            e = errno;
            what = "write failed";
        } else if (fsync(fd) != 0) {
            e = errno;
            what = "fsync failed";
        }
        if (fclose(f) != 0 && !what) {
            e = errno;
            what = "close failed";
        }
    }
    if (!what && rename(tmp, path) != 0) {
        e = errno;
        what = "cannot rename temporary file into place";
    }
    if (what) {
        unlink(tmp);
        tb_err_set(err, TB_EIO, "%s: %s (temporary %s): %s", path, what, tmp, strerror(e));
        free(tmp);
        return TB_EIO;
    }
    free(tmp);
    fsync_parent_dir(path);
    return TB_OK;
}

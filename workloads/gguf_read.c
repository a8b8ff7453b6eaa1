/* GGUF v2/v3 reader: the whole file is mapped (or a caller buffer is used)
 * and parsed once; every field is read through rd_take(), the single place
 * that checks bounds. Counts read from the file are checked against the
 * bytes left before anything is allocated with them. Strings, numeric
 * arrays and tensor data stay in the mapping (zero copy). */
#include "workloads/gguf_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Smallest possible KV: u64 key length, 1 key byte (keys are non-empty),
 * u32 type, 1 value byte. */
#define MIN_KV_BYTES 14u
/* Smallest tensor info: u64 name length + 1 byte, u32 n_dims, one u64 dim,
 * u32 type, u64 offset. */
#define MIN_TENSOR_BYTES 33u
/* How much of a file-provided name goes into an error message. */
#define MSG_NAME_MAX 64

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
    uint64_t min_elem = et == TB_GGUF_STRING ? 8 : tb_gguf_scalar_size[et];
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
    int64_t prev = tb_gguf_index_find(g, &g->kv_index, kv_name_at, kv->key.ptr, kv->key.len, &slot);
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
        rc = rd_take(r, tb_gguf_scalar_size[type], &p, "value");
        if (rc == TB_OK) {
            memcpy(kv->val.raw, p, tb_gguf_scalar_size[type]);
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
    int64_t prev =
        tb_gguf_index_find(g, &g->tensor_index, tensor_name_at, t->name.ptr, t->name.len, &slot);
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
    int ov = tb_gguf_tensor_nbytes(tr, n_dims, t->ne, &t->size, &bad_dim);
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

/* map: the file's mapping, owned from here on, or NULL (caller's buffer). */
static int open_common(const uint8_t *base, uint64_t size, const char *label,
                       struct tb_file_map *map, struct tb_gguf **out, struct tb_err *err)
{
    struct tb_gguf *g = calloc(1, sizeof *g);
    char *path = strdup(label);
    if (!g || !path) {
        free(g);
        free(path);
        if (map)
            tb_file_unmap(map);
        return tb_err_set(err, TB_ENOMEM, "%s: out of memory", label);
    }
    g->path = path;
    g->base = base ? base : k_empty_file;
    g->size = size;
    if (map) {
        g->map = *map;
        g->mapped = true;
    }
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
    struct tb_file_map map;
    int rc = tb_file_map(path, &map, err);
    if (rc)
        return rc;
    return open_common(map.ptr, map.size, path, &map, out, err);
}

int tb_gguf_open_memory(const void *buf, size_t size, const char *label, struct tb_gguf **out,
                        struct tb_err *err)
{
    *out = NULL;
    if (!buf && size > 0)
        return tb_err_set(err, TB_EINVAL, "%s: NULL buffer", label ? label : "<memory>");
    return open_common(buf, size, label ? label : "<memory>", NULL, out, err);
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
    if (g->mapped)
        tb_file_unmap(&g->map);
    free(g->path);
    free(g);
}

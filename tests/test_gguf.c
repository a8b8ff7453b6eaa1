/* GGUF reader/writer: round trip of every KV type and several tensor types,
 * v2 compatibility, one malformed file per rejection class (exact offset and
 * message checked), truncation at every byte, writer errors and atomic
 * writes. */
#include "workloads/tb_gguf.h"

#include "tb_test.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static bool str_eq(struct tb_gguf_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

static void fill_bytes(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
}

static bool write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(len > 0 ? (size_t)len : 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* Opens a malloc'ed copy of exactly n bytes so ASan sees any over-read;
 * the caller frees *copy after closing *g. */
static int open_copy(const void *buf, size_t n, struct tb_gguf **g, void **copy, struct tb_err *err)
{
    *copy = malloc(n ? n : 1);
    if (n)
        memcpy(*copy, buf, n);
    return tb_gguf_open_memory(*copy, n, "mem.gguf", g, err);
}

/* --------------------------------------------------- hand-built byte files */

struct bb {
    uint8_t *p;
    size_t n, cap;
};

static size_t bb_put(struct bb *b, const void *p, size_t n)
{
    size_t at = b->n;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    return at;
}

static size_t bb_u8(struct bb *b, uint8_t v)
{
    return bb_put(b, &v, 1);
}
static size_t bb_u32(struct bb *b, uint32_t v)
{
    return bb_put(b, &v, 4);
}
static size_t bb_u64(struct bb *b, uint64_t v)
{
    return bb_put(b, &v, 8);
}

static size_t bb_str(struct bb *b, const char *s)
{
    size_t at = bb_u64(b, strlen(s));
    bb_put(b, s, strlen(s));
    return at;
}

static void bb_pad(struct bb *b, size_t align)
{
    while (b->n % align)
        bb_u8(b, 0);
}

static void bb_zeros(struct bb *b, size_t n)
{
    while (n--)
        bb_u8(b, 0);
}

static void bb_header(struct bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    bb_put(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}

struct kv_pos {
    size_t key, type, val;
};

/* KV with a scalar value of `size` bytes. */
static struct kv_pos bb_kv(struct bb *b, const char *key, uint32_t type, const void *val,
                           size_t size)
{
    struct kv_pos p;
    p.key = bb_str(b, key);
    p.type = bb_u32(b, type);
    p.val = bb_put(b, val, size);
    return p;
}

static struct kv_pos bb_kv_u32(struct bb *b, const char *key, uint32_t v)
{
    return bb_kv(b, key, TB_GGUF_UINT32, &v, 4);
}

struct ti_pos {
    size_t name, n_dims, dim[4], type, offset;
};

static struct ti_pos bb_tensor(struct bb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                               uint32_t type, uint64_t offset)
{
    struct ti_pos p;
    memset(&p, 0, sizeof p);
    p.name = bb_str(b, name);
    p.n_dims = bb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) {
        size_t at = bb_u64(b, ne[d]);
        if (d < 4)
            p.dim[d] = at;
    }
    p.type = bb_u32(b, type);
    p.offset = bb_u64(b, offset);
    return p;
}

/* Expects rejection with TB_EFORMAT and "mem.gguf: offset OFF: ...WHAT...". */
static void expect_reject_at(const char *label, struct bb *b, size_t off, const char *what)
{
    struct tb_gguf *g = NULL;
    struct tb_err err = {0};
    void *copy = NULL;
    int rc = open_copy(b->p, b->n, &g, &copy, &err);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "mem.gguf: offset %zu: ", off);
    CHECKF(rc == TB_EFORMAT, "%s: rc %d (%s)", label, rc, err.msg);
    CHECKF(g == NULL, "%s: handle set on failure", label);
    CHECKF(err.code == TB_EFORMAT, "%s: err.code %d", label, err.code);
    CHECKF(strncmp(err.msg, prefix, strlen(prefix)) == 0, "%s: want prefix '%s', got '%s'", label,
           prefix, err.msg);
    CHECKF(strstr(err.msg, what) != NULL, "%s: want '%s' in '%s'", label, what, err.msg);
    CHECKF(strchr(err.msg, '\n') == NULL, "%s: message not one line", label);
    tb_gguf_close(g);
    free(copy);
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void expect_accept(const char *label, struct bb *b)
{
    struct tb_gguf *g = NULL;
    struct tb_err err = {0};
    void *copy = NULL;
    int rc = open_copy(b->p, b->n, &g, &copy, &err);
    CHECKF(rc == TB_OK, "%s: rejected: %s", label, err.msg);
    tb_gguf_close(g);
    free(copy);
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ round trip */

static const uint64_t k_u8_arr_n = 5;

struct rt_data {
    float f32[7];
    uint8_t f16[5 * 3 * 2];
    uint8_t q8[2 * 34 * 2 * 3]; /* [64, 2, 3] */
    uint8_t q4[18 * 2 * 2 * 2]; /* [32, 2, 2, 2] */
};

static struct tb_gguf_writer *make_full_writer(struct rt_data *d)
{
    struct tb_gguf_writer *w = NULL;
    struct tb_err err = {0};
    int rc = tb_gguf_writer_create(&w, &err);
    CHECK(rc == TB_OK);
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int64_t i64 = -((int64_t)1 << 40);
    double f64 = 3.25;
    CHECK(tb_gguf_writer_add_str(w, "general.architecture", "llama", &err) == TB_OK);
    CHECK(tb_gguf_writer_add_scalar(w, "t.u8", TB_GGUF_UINT8, &u8, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_scalar(w, "t.i8", TB_GGUF_INT8, &i8, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_scalar(w, "t.u16", TB_GGUF_UINT16, &u16, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_scalar(w, "t.i16", TB_GGUF_INT16, &i16, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_u32(w, "t.u32", 4000000000u, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_i32(w, "t.i32", -7, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_f32(w, "t.f32", 1.5f, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_bool(w, "t.bool", true, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_bool(w, "t.bool0", false, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_str(w, "t.str", "hello \"gguf\"", &err) == TB_OK);
    CHECK(tb_gguf_writer_add_str(w, "t.empty", "", &err) == TB_OK);
    CHECK(tb_gguf_writer_add_u64(w, "t.u64", UINT64_MAX - 5, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_scalar(w, "t.i64", TB_GGUF_INT64, &i64, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_scalar(w, "t.f64", TB_GGUF_FLOAT64, &f64, &err) == TB_OK);
    /* one array per numeric element type: element j = (j + 1) * type id,
     * stored in a byte pattern compared exactly below */
    for (int t = 0; t < TB_GGUF_TYPE_COUNT; t++) {
        if (t == TB_GGUF_STRING || t == TB_GGUF_ARRAY)
            continue;
        uint8_t vals[5 * 8];
        fill_bytes(vals, sizeof vals, (uint32_t)t);
        if (t == TB_GGUF_BOOL)
            for (size_t j = 0; j < sizeof vals; j++)
                vals[j] &= 1;
        char key[32];
        snprintf(key, sizeof key, "arr.%s", tb_gguf_type_name((enum tb_gguf_type)t));
        CHECK(tb_gguf_writer_add_arr(w, key, (enum tb_gguf_type)t, vals, k_u8_arr_n, &err) ==
              TB_OK);
    }
    CHECK(tb_gguf_writer_add_arr(w, "arr.empty", TB_GGUF_FLOAT32, NULL, 0, &err) == TB_OK);
    const char *strs[] = {"<s>", "", "hello", "w\xc3\xb6rld"};
    CHECK(tb_gguf_writer_add_arr_str(w, "arr.str", strs, 4, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_arr_str(w, "arr.str_empty", NULL, 0, &err) == TB_OK);

    fill_bytes((uint8_t *)d->f32, sizeof d->f32, 1);
    for (int i = 0; i < 7; i++)
        d->f32[i] = (float)i * 0.5f - 1.0f;
    fill_bytes(d->f16, sizeof d->f16, 2);
    fill_bytes(d->q8, sizeof d->q8, 3);
    fill_bytes(d->q4, sizeof d->q4, 4);
    const int64_t ne1[] = {7}, ne2[] = {5, 3}, ne3[] = {64, 2, 3}, ne4[] = {32, 2, 2, 2};
    CHECK(tb_gguf_writer_add_tensor(w, "t.f32", TB_TYPE_F32, 1, ne1, d->f32, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "t.f16", TB_TYPE_F16, 2, ne2, d->f16, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "t.q8_0", TB_TYPE_Q8_0, 3, ne3, d->q8, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "t.q4_0", TB_TYPE_Q4_0, 4, ne4, d->q4, &err) == TB_OK);
    return w;
}

static void check_full_file(struct tb_gguf *g, const struct rt_data *d, uint32_t version)
{
    struct tb_err err = {0};
    CHECK(tb_gguf_version(g) == version);
    CHECK(tb_gguf_alignment(g) == TB_GGUF_DEFAULT_ALIGNMENT);
    CHECK(tb_gguf_data_offset(g) % TB_GGUF_DEFAULT_ALIGNMENT == 0);
    CHECK(tb_gguf_data_offset(g) <= tb_gguf_file_size(g));
    CHECK(tb_gguf_n_kv(g) == 15 + 11 + 3);
    CHECK(tb_gguf_n_tensors(g) == 4);

    /* insertion order kept */
    CHECK(str_eq(tb_gguf_kv_key(g, 0), "general.architecture"));
    CHECK(str_eq(tb_gguf_kv_key(g, 1), "t.u8"));
    CHECK(tb_gguf_find_key(g, "t.u8") == 1);
    CHECK(tb_gguf_find_key(g, "nope") == -1);
    CHECK(tb_gguf_find_key(g, "t.u") == -1);
    CHECK(tb_gguf_kv_offset(g, 0) == 24);

    struct tb_gguf_str s;
    CHECK(tb_gguf_get_str(g, "general.architecture", &s, &err) == TB_OK && str_eq(s, "llama"));
    CHECK(tb_gguf_get_str(g, "t.str", &s, &err) == TB_OK && str_eq(s, "hello \"gguf\""));
    CHECK(tb_gguf_get_str(g, "t.empty", &s, &err) == TB_OK && s.len == 0);

    /* raw scalars */
    int64_t i;
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    int64_t i64;
    double f64;
    i = tb_gguf_find_key(g, "t.u8");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_UINT8);
    memcpy(&u8, tb_gguf_kv_scalar(g, i), 1);
    CHECK(u8 == 200);
    i = tb_gguf_find_key(g, "t.i8");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_INT8);
    memcpy(&i8, tb_gguf_kv_scalar(g, i), 1);
    CHECK(i8 == -100);
    i = tb_gguf_find_key(g, "t.u16");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_UINT16);
    memcpy(&u16, tb_gguf_kv_scalar(g, i), 2);
    CHECK(u16 == 60000);
    i = tb_gguf_find_key(g, "t.i16");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_INT16);
    memcpy(&i16, tb_gguf_kv_scalar(g, i), 2);
    CHECK(i16 == -30000);
    i = tb_gguf_find_key(g, "t.i64");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_INT64);
    memcpy(&i64, tb_gguf_kv_scalar(g, i), 8);
    CHECK(i64 == -((int64_t)1 << 40));
    i = tb_gguf_find_key(g, "t.f64");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_FLOAT64);
    memcpy(&f64, tb_gguf_kv_scalar(g, i), 8);
    CHECK(f64 == 3.25);
    i = tb_gguf_find_key(g, "t.bool");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_BOOL && *(const uint8_t *)tb_gguf_kv_scalar(g, i) == 1);
    i = tb_gguf_find_key(g, "t.bool0");
    CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_BOOL && *(const uint8_t *)tb_gguf_kv_scalar(g, i) == 0);
    CHECK(tb_gguf_kv_scalar(g, tb_gguf_find_key(g, "t.str")) == NULL);

    /* getters with coercion */
    uint32_t u32;
    uint64_t u64;
    float f32;
    CHECK(tb_gguf_get_u32(g, "t.u32", &u32, &err) == TB_OK && u32 == 4000000000u);
    CHECK(tb_gguf_get_u32(g, "t.u8", &u32, &err) == TB_OK && u32 == 200);
    CHECK(tb_gguf_get_u32(g, "t.u16", &u32, &err) == TB_OK && u32 == 60000);
    CHECK(tb_gguf_get_u64(g, "t.u32", &u64, &err) == TB_OK && u64 == 4000000000u);
    CHECK(tb_gguf_get_u64(g, "t.u64", &u64, &err) == TB_OK && u64 == UINT64_MAX - 5);
    CHECK(tb_gguf_get_f32(g, "t.f32", &f32, &err) == TB_OK && f32 == 1.5f);
    CHECK(tb_gguf_get_f32(g, "t.f64", &f32, &err) == TB_OK && f32 == 3.25f);
    u32 = 123;
    CHECK(tb_gguf_get_u32(g, "t.u64", &u32, &err) == TB_EFORMAT && u32 == 123);
    CHECK(strstr(err.msg, "t.u64") && strstr(err.msg, "does not fit"));
    CHECK(tb_gguf_get_u32(g, "t.i32", &u32, &err) == TB_EFORMAT && strstr(err.msg, "-7"));
    CHECK(tb_gguf_get_u64(g, "t.i8", &u64, &err) == TB_EFORMAT);
    CHECK(tb_gguf_get_u32(g, "t.f32", &u32, &err) == TB_EFORMAT &&
          strstr(err.msg, "not an integer"));
    CHECK(tb_gguf_get_u32(g, "t.bool", &u32, &err) == TB_EFORMAT);
    CHECK(tb_gguf_get_f32(g, "t.u32", &f32, &err) == TB_EFORMAT && strstr(err.msg, "not a float"));
    CHECK(tb_gguf_get_str(g, "t.u32", &s, &err) == TB_EFORMAT && strstr(err.msg, "not a string"));
    CHECK(tb_gguf_get_u32(g, "missing.key", &u32, &err) == TB_EFORMAT);
    CHECK(strstr(err.msg, "missing.key") && strstr(err.msg, "not found") &&
          strstr(err.msg, tb_gguf_path(g)));

    /* numeric arrays: same bytes as written */
    for (int t = 0; t < TB_GGUF_TYPE_COUNT; t++) {
        if (t == TB_GGUF_STRING || t == TB_GGUF_ARRAY)
            continue;
        char key[32];
        snprintf(key, sizeof key, "arr.%s", tb_gguf_type_name((enum tb_gguf_type)t));
        uint8_t vals[5 * 8];
        fill_bytes(vals, sizeof vals, (uint32_t)t);
        if (t == TB_GGUF_BOOL)
            for (size_t j = 0; j < sizeof vals; j++)
                vals[j] &= 1;
        i = tb_gguf_find_key(g, key);
        CHECKF(i >= 0, "%s", key);
        CHECK(tb_gguf_kv_type(g, i) == TB_GGUF_ARRAY);
        CHECK(tb_gguf_kv_arr_type(g, i) == (enum tb_gguf_type)t);
        CHECK(tb_gguf_kv_arr_n(g, i) == k_u8_arr_n);
        const void *a = tb_gguf_kv_arr_data(g, i);
        size_t esz = t == TB_GGUF_UINT8 || t == TB_GGUF_INT8 || t == TB_GGUF_BOOL ? 1
                     : t == TB_GGUF_UINT16 || t == TB_GGUF_INT16                  ? 2
                     : t <= TB_GGUF_FLOAT32                                       ? 4
                                                                                  : 8;
        CHECKF(a && memcmp(a, vals, esz * k_u8_arr_n) == 0, "%s contents", key);
    }
    i = tb_gguf_find_key(g, "arr.empty");
    CHECK(tb_gguf_kv_arr_type(g, i) == TB_GGUF_FLOAT32 && tb_gguf_kv_arr_n(g, i) == 0);
    i = tb_gguf_find_key(g, "arr.str");
    CHECK(tb_gguf_kv_arr_type(g, i) == TB_GGUF_STRING && tb_gguf_kv_arr_n(g, i) == 4);
    CHECK(tb_gguf_kv_arr_data(g, i) == NULL);
    CHECK(str_eq(tb_gguf_kv_arr_str(g, i, 0), "<s>"));
    CHECK(tb_gguf_kv_arr_str(g, i, 1).len == 0);
    CHECK(str_eq(tb_gguf_kv_arr_str(g, i, 2), "hello"));
    CHECK(str_eq(tb_gguf_kv_arr_str(g, i, 3), "w\xc3\xb6rld"));
    CHECK(tb_gguf_kv_arr_str(g, i, 4).len == 0);
    i = tb_gguf_find_key(g, "arr.str_empty");
    CHECK(tb_gguf_kv_arr_type(g, i) == TB_GGUF_STRING && tb_gguf_kv_arr_n(g, i) == 0);

    /* tensors: shapes, types, data bytes, alignment, views */
    static const char *names[] = {"t.f32", "t.f16", "t.q8_0", "t.q4_0"};
    const int types[] = {TB_TYPE_F32, TB_TYPE_F16, TB_TYPE_Q8_0, TB_TYPE_Q4_0};
    const int64_t shapes[4][4] = {{7, 1, 1, 1}, {5, 3, 1, 1}, {64, 2, 3, 1}, {32, 2, 2, 2}};
    const void *datas[] = {d->f32, d->f16, d->q8, d->q4};
    const uint64_t sizes[] = {sizeof d->f32, sizeof d->f16, sizeof d->q8, sizeof d->q4};
    for (int t = 0; t < 4; t++) {
        int64_t ti = tb_gguf_find_tensor(g, names[t]);
        CHECK(ti == t);
        const struct tb_gguf_tensor_info *info = tb_gguf_tensor(g, ti);
        CHECK(info != NULL);
        if (!info)
            continue;
        CHECK(str_eq(info->name, names[t]));
        CHECK(info->n_dims == (uint32_t)t + 1);
        CHECK(info->type == types[t]);
        CHECK(memcmp(info->ne, shapes[t], sizeof info->ne) == 0);
        CHECK(info->size == sizes[t]);
        CHECK(info->offset % TB_GGUF_DEFAULT_ALIGNMENT == 0);
        CHECK(memcmp(info->data, datas[t], sizes[t]) == 0);
        struct tb_tensor view;
        CHECK(tb_gguf_tensor_view(g, ti, &view, &err) == TB_OK);
        CHECK(view.data == info->data && (int)view.type == types[t]);
        CHECK(strcmp(view.name, names[t]) == 0);
        CHECK(memcmp(view.ne, shapes[t], sizeof view.ne) == 0);
        CHECK(tb_tensor_nbytes(&view) == sizes[t]);
    }
    CHECK(tb_gguf_find_tensor(g, "t.f3") == -1);
    CHECK(tb_gguf_tensor(g, 4) == NULL && tb_gguf_tensor(g, -1) == NULL);
    struct tb_tensor view;
    CHECK(tb_gguf_tensor_view(g, 9, &view, &err) == TB_EINVAL);
}

static void test_round_trip(void)
{
    struct rt_data d;
    struct tb_gguf_writer *w = make_full_writer(&d);
    struct tb_err err = {0};
    void *buf = NULL;
    size_t size = 0;
    CHECK(tb_gguf_writer_write_memory(w, &buf, &size, &err) == TB_OK);

    /* file and memory images are the same bytes */
    char path[256];
    tb_test_path(path, sizeof path, "gguf-rt", ".gguf");
    CHECKF(tb_gguf_writer_write(w, path, &err) == TB_OK, "%s", err.msg);
    size_t fsize = 0;
    void *fbuf = read_file(path, &fsize);
    CHECK(fbuf && fsize == size && memcmp(fbuf, buf, size) == 0);
    free(fbuf);
    tb_gguf_writer_free(w);

    struct tb_gguf *g = NULL;
    int rc = tb_gguf_open_memory(buf, size, "rt-mem", &g, &err);
    CHECKF(rc == TB_OK, "%s", err.msg);
    if (rc == TB_OK) {
        CHECK(strcmp(tb_gguf_path(g), "rt-mem") == 0);
        CHECK(tb_gguf_file_size(g) == size);
        for (int64_t t = 0; t < tb_gguf_n_tensors(g); t++) {
            const struct tb_gguf_tensor_info *info = tb_gguf_tensor(g, t);
            CHECK(info->data == (const uint8_t *)buf + tb_gguf_data_offset(g) + info->offset);
        }
        check_full_file(g, &d, 3);
        /* dump mentions header, KVs and tensors */
        char *dump = NULL;
        size_t dlen = 0;
        FILE *mf = open_memstream(&dump, &dlen);
        tb_gguf_print_info(g, mf);
        fclose(mf);
        CHECK(strstr(dump, "version:     3") != NULL);
        CHECK(strstr(dump, "\"general.architecture\" string = \"llama\"") != NULL);
        CHECK(strstr(dump, "\"t.u32\" uint32 = 4000000000") != NULL);
        CHECK(strstr(dump, "\"t.i64\" int64 = -1099511627776") != NULL);
        CHECK(strstr(dump, "\"arr.str\" array[string] n=4 = [\"<s>\", \"\", \"hello\"") != NULL);
        CHECK(strstr(dump, "t.q4_0") && strstr(dump, "[32, 2, 2, 2]") && strstr(dump, "q4_0"));
        free(dump);
        tb_gguf_close(g);
    }

    g = NULL;
    rc = tb_gguf_open(path, &g, &err);
    CHECKF(rc == TB_OK, "%s", err.msg);
    if (rc == TB_OK) {
        CHECK(strcmp(tb_gguf_path(g), path) == 0);
        check_full_file(g, &d, 3);
        tb_gguf_close(g);
    }
    unlink(path);

    /* v2 has the same layout: patch the version field */
    uint32_t v = 2;
    memcpy((uint8_t *)buf + 4, &v, 4);
    rc = tb_gguf_open_memory(buf, size, "v2", &g, &err);
    CHECKF(rc == TB_OK, "%s", err.msg);
    if (rc == TB_OK) {
        check_full_file(g, &d, 2);
        tb_gguf_close(g);
    }
    free(buf);
}

static void test_alignment_and_long_strings(void)
{
    struct tb_gguf_writer *w = NULL;
    struct tb_err err = {0};
    CHECK(tb_gguf_writer_create(&w, &err) == TB_OK);
    CHECK(tb_gguf_writer_set_alignment(w, 3, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_set_alignment(w, 0, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_set_alignment(w, 128, &err) == TB_OK);
    CHECK(tb_gguf_writer_set_alignment(w, 64, &err) == TB_OK); /* updates, no duplicate */
    char longs[300];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    CHECK(tb_gguf_writer_add_str(w, "long", longs, &err) == TB_OK);
    float a[33], b[64];
    for (int i = 0; i < 33; i++)
        a[i] = (float)i;
    for (int i = 0; i < 64; i++)
        b[i] = -(float)i;
    const int64_t ne_a[] = {33}, ne_b[] = {64};
    CHECK(tb_gguf_writer_add_tensor(w, "a", TB_TYPE_F32, 1, ne_a, a, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "b", TB_TYPE_F32, 1, ne_b, b, &err) == TB_OK);
    void *buf = NULL;
    size_t size = 0;
    CHECK(tb_gguf_writer_write_memory(w, &buf, &size, &err) == TB_OK);
    tb_gguf_writer_free(w);
    struct tb_gguf *g = NULL;
    int rc = tb_gguf_open_memory(buf, size, "align", &g, &err);
    CHECKF(rc == TB_OK, "%s", err.msg);
    if (rc == TB_OK) {
        uint32_t al = 0;
        CHECK(tb_gguf_alignment(g) == 64);
        CHECK(tb_gguf_get_u32(g, "general.alignment", &al, &err) == TB_OK && al == 64);
        CHECK(tb_gguf_n_kv(g) == 2);
        CHECK(tb_gguf_data_offset(g) % 64 == 0);
        CHECK(tb_gguf_tensor(g, 1)->offset == 192); /* 132 bytes padded to 64 */
        CHECK(memcmp(tb_gguf_tensor(g, 0)->data, a, sizeof a) == 0);
        CHECK(memcmp(tb_gguf_tensor(g, 1)->data, b, sizeof b) == 0);
        CHECK(size == tb_gguf_data_offset(g) + 192 + 256);
        char *dump = NULL;
        size_t dlen = 0;
        FILE *mf = open_memstream(&dump, &dlen);
        tb_gguf_print_info(g, mf);
        fclose(mf);
        CHECK(strstr(dump, "xxxxx\"...") != NULL); /* long string truncated */
        CHECK(strstr(dump, "alignment:   64") != NULL);
        free(dump);
        tb_gguf_close(g);
    }
    free(buf);
}

static void test_writer_errors(void)
{
    struct tb_gguf_writer *w = NULL;
    struct tb_err err = {0};
    CHECK(tb_gguf_writer_create(&w, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_u32(w, "k", 1, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_f32(w, "k", 1, &err) == TB_EINVAL &&
          strstr(err.msg, "duplicate key 'k'"));
    CHECK(tb_gguf_writer_add_arr_str(w, "k", NULL, 0, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_str(w, "", "x", &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_u64(w, "general.alignment", 32, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_u32(w, "general.alignment", 48, &err) == TB_EINVAL);
    uint8_t two = 2;
    CHECK(tb_gguf_writer_add_scalar(w, "b", TB_GGUF_BOOL, &two, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_arr(w, "b", TB_GGUF_BOOL, &two, 1, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_arr(w, "s", TB_GGUF_STRING, "x", 1, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_scalar(w, "s", TB_GGUF_ARRAY, &two, &err) == TB_EINVAL);
    float x[32] = {0};
    const int64_t ne[] = {32, 1}, bad0[] = {0}, q[] = {31};
    CHECK(tb_gguf_writer_add_tensor(w, "t", TB_TYPE_F32, 2, ne, x, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "t", TB_TYPE_F32, 1, ne, x, &err) == TB_EINVAL &&
          strstr(err.msg, "duplicate tensor"));
    CHECK(tb_gguf_writer_add_tensor(w, "", TB_TYPE_F32, 1, ne, x, &err) == TB_EINVAL);
    char longname[65];
    memset(longname, 'n', 64);
    longname[64] = '\0';
    CHECK(tb_gguf_writer_add_tensor(w, longname, TB_TYPE_F32, 1, ne, x, &err) == TB_EINVAL);
    longname[63] = '\0';
    CHECK(tb_gguf_writer_add_tensor(w, longname, TB_TYPE_F32, 1, ne, x, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "u", 5, 1, ne, x, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_tensor(w, "u", TB_TYPE_F32, 0, ne, x, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_tensor(w, "u", TB_TYPE_F32, 5, ne, x, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_tensor(w, "u", TB_TYPE_F32, 1, bad0, x, &err) == TB_EINVAL);
    CHECK(tb_gguf_writer_add_tensor(w, "u", TB_TYPE_Q8_0, 1, q, x, &err) == TB_EINVAL &&
          strstr(err.msg, "block size"));
    CHECK(tb_gguf_writer_add_tensor(w, "u", TB_TYPE_F32, 1, ne, NULL, &err) == TB_EINVAL);
    const int64_t huge[] = {(int64_t)1 << 62};
    CHECK(tb_gguf_writer_add_tensor(w, "u", TB_TYPE_F32, 1, huge, x, &err) == TB_EINVAL &&
          strstr(err.msg, "overflows"));
    /* the failed calls left the writer consistent */
    void *buf = NULL;
    size_t size = 0;
    CHECK(tb_gguf_writer_write_memory(w, &buf, &size, &err) == TB_OK);
    struct tb_gguf *g = NULL;
    int rc = tb_gguf_open_memory(buf, size, "werr", &g, &err);
    CHECKF(rc == TB_OK, "%s", err.msg);
    if (rc == TB_OK) {
        CHECK(tb_gguf_n_kv(g) == 1 && tb_gguf_n_tensors(g) == 2);
        CHECK(tb_gguf_find_tensor(g, longname) == 1);
        tb_gguf_close(g);
    }
    free(buf);

    /* atomic write: a missing directory fails before anything is created */
    char dir[256], path[512];
    tb_test_path(dir, sizeof dir, "gguf-dir", "");
    snprintf(path, sizeof path, "%s/no/such/dir/x.gguf", dir);
    rc = tb_gguf_writer_write(w, path, &err);
    CHECK(rc == TB_EIO && strstr(err.msg, path));
    /* rename onto an existing directory fails after the temp file was
     * written: the temp is removed and the directory is untouched */
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/target", dir);
    CHECK(mkdir(path, 0755) == 0);
    rc = tb_gguf_writer_write(w, path, &err);
    CHECK(rc == TB_EIO && strstr(err.msg, path) && strstr(err.msg, "rename"));
    int entries = 0;
    DIR *dp = opendir(dir);
    struct dirent *de;
    while (dp && (de = readdir(dp)))
        entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (dp)
        closedir(dp);
    CHECK(entries == 1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    rmdir(path);
    /* replacing an existing file works and leaves no temp behind */
    snprintf(path, sizeof path, "%s/file.gguf", dir);
    CHECK(write_file(path, "old", 3));
    CHECK(tb_gguf_writer_write(w, path, &err) == TB_OK);
    size_t fsize = 0;
    void *fbuf = read_file(path, &fsize);
    CHECK(fbuf && fsize == size);
    free(fbuf);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    unlink(path);
    CHECK(rmdir(dir) == 0); /* fails if a temp file was left */
    tb_gguf_writer_free(w);
}

static void test_open_errors(void)
{
    struct tb_gguf *g = (struct tb_gguf *)&g; /* must be reset to NULL */
    struct tb_err err = {0};
    char path[256];
    tb_test_path(path, sizeof path, "gguf-missing", ".gguf");
    CHECK(tb_gguf_open(path, &g, &err) == TB_EIO);
    CHECK(g == NULL && err.code == TB_EIO && strstr(err.msg, path));
    CHECK(tb_gguf_open("/", &g, &err) == TB_EIO);
    /* empty file */
    CHECK(write_file(path, "", 0));
    CHECK(tb_gguf_open(path, &g, &err) == TB_EFORMAT);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "offset 0"));
    unlink(path);
    CHECK(tb_gguf_open_memory(NULL, 0, "empty", &g, &err) == TB_EFORMAT);
}

/* ------------------------------------------------- one case per rejection */

static void test_rejections(void)
{
    struct bb b = {0};
    const uint64_t ne8[] = {8}, ne32[] = {32};
    float one = 1;

    /* header */
    bb_put(&b, "GGUX", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 0);
    expect_reject_at("magic", &b, 0, "magic");
    bb_header(&b, 1, 0, 0);
    expect_reject_at("v1", &b, 4, "version 1");
    bb_header(&b, 4, 0, 0);
    expect_reject_at("v4", &b, 4, "version 4");
    bb_header(&b, 0x03000000, 0, 0);
    expect_reject_at("big-endian", &b, 4, "big-endian");
    bb_header(&b, 3, 0, 0);
    expect_accept("empty file", &b);

    /* counts vs bytes left */
    bb_header(&b, 3, (uint64_t)1 << 63, 0);
    expect_reject_at("n_tensors huge", &b, 8, "tensor count");
    bb_header(&b, 3, 2, 0);
    bb_tensor(&b, "a", 1, ne8, TB_TYPE_F32, 0);
    expect_reject_at("n_tensors > left", &b, 8, "tensor count");
    bb_header(&b, 3, 0, UINT64_MAX);
    expect_reject_at("n_kv huge", &b, 16, "KV count");
    bb_header(&b, 3, 0, (uint64_t)1 << 62); /* n_kv * 14 overflows */
    expect_reject_at("n_kv overflow", &b, 16, "KV count");
    bb_header(&b, 3, 1, 2); /* each fits alone, not together */
    bb_kv_u32(&b, "a", 1);
    bb_kv_u32(&b, "b", 1);
    expect_reject_at("n_kv + n_tensors > left", &b, 16, "KV count");

    /* strings */
    bb_header(&b, 3, 0, 1);
    bb_u64(&b, 100);
    bb_put(&b, "abcdefgh", 8);
    expect_reject_at("key length > left", &b, 24, "key length 100");
    bb_header(&b, 3, 0, 1);
    bb_u64(&b, UINT64_MAX);
    bb_put(&b, "abcdefgh", 8);
    expect_reject_at("key length huge", &b, 24, "key length");
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, TB_GGUF_STRING);
    size_t at = bb_u64(&b, 1000);
    bb_zeros(&b, 20);
    expect_reject_at("string value length", &b, at, "string value length");

    /* keys */
    bb_header(&b, 3, 0, 1);
    bb_kv_u32(&b, "", 1);
    expect_reject_at("empty key", &b, 24, "empty key");
    bb_header(&b, 3, 0, 3);
    bb_kv_u32(&b, "a", 1);
    bb_kv_u32(&b, "b", 1);
    struct kv_pos kp = bb_kv_u32(&b, "a", 2);
    expect_reject_at("duplicate key", &b, kp.key, "duplicate key 'a'");

    /* value types */
    bb_header(&b, 3, 0, 1);
    kp = bb_kv(&b, "k", TB_GGUF_TYPE_COUNT, &one, 4);
    expect_reject_at("kv type out of range", &b, kp.type, "value type 13 out of range");
    bb_header(&b, 3, 0, 1);
    kp = bb_kv(&b, "k", 0xffffffffu, &one, 4);
    expect_reject_at("kv type huge", &b, kp.type, "out of range");
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, TB_GGUF_ARRAY);
    at = bb_u32(&b, TB_GGUF_ARRAY);
    bb_u64(&b, 1);
    bb_u32(&b, TB_GGUF_UINT8);
    bb_u64(&b, 1);
    bb_u8(&b, 0);
    expect_reject_at("nested array", &b, at, "nested");
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, TB_GGUF_ARRAY);
    at = bb_u32(&b, 77);
    bb_u64(&b, 0);
    expect_reject_at("array elem type", &b, at, "element type 77");

    /* array counts */
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, TB_GGUF_ARRAY);
    bb_u32(&b, TB_GGUF_UINT32);
    at = bb_u64(&b, 5);
    bb_zeros(&b, 16);
    expect_reject_at("array count > left", &b, at, "array count 5");
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, TB_GGUF_ARRAY);
    bb_u32(&b, TB_GGUF_UINT64);
    at = bb_u64(&b, (uint64_t)1 << 61); /* * 8 overflows to 0 */
    bb_zeros(&b, 16);
    expect_reject_at("array count overflow", &b, at, "array count");
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, TB_GGUF_ARRAY);
    bb_u32(&b, TB_GGUF_STRING);
    at = bb_u64(&b, 3); /* 3 strings need >= 24 bytes */
    bb_str(&b, "ab");
    bb_zeros(&b, 5);
    expect_reject_at("string array count", &b, at, "array count 3");
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "k");
    bb_u32(&b, TB_GGUF_ARRAY);
    bb_u32(&b, TB_GGUF_STRING);
    bb_u64(&b, 2);
    bb_str(&b, "ab");
    at = bb_u64(&b, 50); /* second string overruns */
    bb_zeros(&b, 10);
    expect_reject_at("array string length", &b, at, "array string length 50");

    /* bools */
    uint8_t two = 2;
    bb_header(&b, 3, 0, 1);
    kp = bb_kv(&b, "flag", TB_GGUF_BOOL, &two, 1);
    expect_reject_at("bool value", &b, kp.val, "bool value 2");
    bb_header(&b, 3, 0, 1);
    bb_str(&b, "flags");
    bb_u32(&b, TB_GGUF_ARRAY);
    bb_u32(&b, TB_GGUF_BOOL);
    bb_u64(&b, 3);
    at = bb_u8(&b, 1);
    bb_u8(&b, 0);
    bb_u8(&b, 7);
    expect_reject_at("bool array", &b, at + 2, "bool array element 2");

    /* alignment */
    bb_header(&b, 3, 0, 1);
    kp = bb_kv_u32(&b, "general.alignment", 0);
    expect_reject_at("alignment 0", &b, kp.val, "alignment 0");
    bb_header(&b, 3, 0, 1);
    kp = bb_kv_u32(&b, "general.alignment", 48);
    expect_reject_at("alignment 48", &b, kp.val, "power of two");
    uint64_t a64 = 32;
    bb_header(&b, 3, 0, 1);
    kp = bb_kv(&b, "general.alignment", TB_GGUF_UINT64, &a64, 8);
    expect_reject_at("alignment u64", &b, kp.type, "must be uint32");
    bb_header(&b, 3, 1, 1);
    bb_kv_u32(&b, "general.alignment", 16);
    bb_tensor(&b, "a", 1, ne8, TB_TYPE_F32, 0);
    bb_pad(&b, 16);
    bb_zeros(&b, 32);
    expect_accept("alignment 16", &b);

    /* tensor names */
    bb_header(&b, 3, 1, 0);
    struct ti_pos tp = bb_tensor(&b, "", 1, ne8, TB_TYPE_F32, 0);
    bb_pad(&b, 32);
    bb_zeros(&b, 32);
    expect_reject_at("empty tensor name", &b, tp.name, "empty name");
    char name64[65];
    memset(name64, 'n', 64);
    name64[64] = '\0';
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, name64, 1, ne8, TB_TYPE_F32, 0);
    bb_pad(&b, 32);
    bb_zeros(&b, 32);
    expect_reject_at("long tensor name", &b, tp.name, "64 bytes long (max 63)");
    name64[63] = '\0';
    bb_header(&b, 3, 1, 0);
    bb_tensor(&b, name64, 1, ne8, TB_TYPE_F32, 0);
    bb_pad(&b, 32);
    bb_zeros(&b, 32);
    expect_accept("63-byte tensor name", &b);
    bb_header(&b, 3, 2, 0);
    bb_tensor(&b, "w", 1, ne8, TB_TYPE_F32, 0);
    tp = bb_tensor(&b, "w", 1, ne8, TB_TYPE_F32, 32);
    bb_pad(&b, 32);
    bb_zeros(&b, 64);
    expect_reject_at("duplicate tensor", &b, tp.name, "duplicate tensor name 'w'");

    /* dims */
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 0, ne8, TB_TYPE_F32, 0);
    bb_zeros(&b, 64);
    expect_reject_at("n_dims 0", &b, tp.n_dims, "n_dims 0");
    const uint64_t ne5[] = {8, 1, 1, 1, 1};
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 5, ne5, TB_TYPE_F32, 0);
    bb_zeros(&b, 64);
    expect_reject_at("n_dims 5", &b, tp.n_dims, "n_dims 5");
    const uint64_t neg[] = {8, (uint64_t)-3};
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 2, neg, TB_TYPE_F32, 0);
    bb_zeros(&b, 64);
    expect_reject_at("negative dim", &b, tp.dim[1], "dimension 1 is negative (-3)");
    const uint64_t zero[] = {8, 0};
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 2, zero, TB_TYPE_F32, 0);
    bb_zeros(&b, 64);
    expect_reject_at("zero dim", &b, tp.dim[1], "dimension 1 is zero");
    const uint64_t big[] = {(uint64_t)1 << 32, (uint64_t)1 << 32};
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 2, big, TB_TYPE_F32, 0);
    bb_zeros(&b, 64);
    expect_reject_at("element count overflow", &b, tp.dim[1], "element count overflows");
    const uint64_t huge[] = {(uint64_t)1 << 62};
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 1, huge, TB_TYPE_F32, 0); /* 2^62 * 4 bytes */
    bb_zeros(&b, 64);
    expect_reject_at("byte size overflow", &b, tp.dim[0], "byte size overflows");

    /* types */
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 1, ne32, TB_TYPE_ID_LIMIT, 0);
    bb_zeros(&b, 64);
    expect_reject_at("type out of range", &b, tp.type, "unknown type id 40");
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 1, ne32, 4, 0); /* removed ggml Q4_2 */
    bb_zeros(&b, 64);
    expect_reject_at("unknown type", &b, tp.type, "unknown type id 4");
    const uint64_t ne33[] = {33, 2};
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 2, ne33, TB_TYPE_Q8_0, 0);
    bb_zeros(&b, 128);
    expect_reject_at("row not block multiple", &b, tp.dim[0],
                     "not a multiple of the q8_0 block size 32");

    /* data offsets */
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 1, ne8, TB_TYPE_F32, 16);
    bb_pad(&b, 32);
    bb_zeros(&b, 64);
    expect_reject_at("misaligned offset", &b, tp.offset, "not a multiple of the alignment 32");
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "w", 1, ne8, TB_TYPE_F32, UINT64_MAX - 31); /* aligned, end overflows */
    bb_pad(&b, 32);
    bb_zeros(&b, 64);
    expect_reject_at("offset + size overflow", &b, tp.offset, "overflows");
    bb_header(&b, 3, 2, 0);
    bb_tensor(&b, "a", 1, ne8, TB_TYPE_F32, 0);
    tp = bb_tensor(&b, "b", 1, ne8, TB_TYPE_F32, 32);
    bb_pad(&b, 32);
    bb_zeros(&b, 32 + 31); /* b needs 32 bytes at 32 */
    expect_reject_at("past end", &b, tp.offset, "past the end");
    bb_header(&b, 3, 1, 0);
    tp = bb_tensor(&b, "a", 1, ne8, TB_TYPE_F32, 0);
    /* no padding: the data section would start past the end */
    expect_reject_at("data section past end", &b, tp.offset, "past the end");
    const uint64_t ne16[] = {16};
    bb_header(&b, 3, 3, 0);
    bb_tensor(&b, "a", 1, ne8, TB_TYPE_F32, 64);
    tp = bb_tensor(&b, "b", 1, ne8, TB_TYPE_F32, 128);
    bb_tensor(&b, "c", 1, ne16, TB_TYPE_F32, 96); /* [96,160) contains b */
    bb_pad(&b, 32);
    bb_zeros(&b, 256);
    expect_reject_at("overlap", &b, tp.offset, "overlaps tensor 'c'");
    bb_header(&b, 3, 2, 0);
    bb_tensor(&b, "a", 1, ne8, TB_TYPE_F32, 0);
    tp = bb_tensor(&b, "b", 1, ne8, TB_TYPE_F32, 0);
    bb_pad(&b, 32);
    bb_zeros(&b, 64);
    expect_reject_at("same offset", &b, tp.offset, "overlaps tensor 'a'");
    bb_header(&b, 3, 2, 0);
    bb_tensor(&b, "a", 1, ne8, TB_TYPE_F32, 32); /* out of order but disjoint */
    bb_tensor(&b, "b", 1, ne8, TB_TYPE_F32, 0);
    bb_pad(&b, 32);
    bb_zeros(&b, 64);
    expect_accept("unordered disjoint tensors", &b);
}

/* --------------------------------------------------- truncation at each byte */

static void *make_model_like(size_t *size)
{
    struct tb_gguf_writer *w = NULL;
    struct tb_err err = {0};
    CHECK(tb_gguf_writer_create(&w, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_str(w, "general.architecture", "llama", &err) == TB_OK);
    CHECK(tb_gguf_writer_add_u32(w, "llama.block_count", 1, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &err) ==
          TB_OK);
    CHECK(tb_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true, &err) == TB_OK);
    char tok[64][16];
    const char *toks[64];
    float scores[64];
    int32_t types[64];
    for (int i = 0; i < 64; i++) {
        snprintf(tok[i], sizeof tok[i], i == 0 ? "<unk>" : "tok%d", i * 7);
        toks[i] = tok[i];
        scores[i] = -(float)i;
        types[i] = i < 3 ? 3 : 1;
    }
    CHECK(tb_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 64, &err) == TB_OK);
    CHECK(tb_gguf_writer_add_arr(w, "tokenizer.ggml.scores", TB_GGUF_FLOAT32, scores, 64, &err) ==
          TB_OK);
    CHECK(tb_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, types, 64, &err) ==
          TB_OK);
    /* sizes are multiples of 32 so no trailing padding: every prefix is short */
    static uint8_t data[6][8704];
    for (int i = 0; i < 6; i++)
        fill_bytes(data[i], sizeof data[i], (uint32_t)i + 10);
    const int64_t emb[] = {64, 128}, att[] = {64, 64}, nrm[] = {64}, ffn[] = {64, 32};
    CHECK(tb_gguf_writer_add_tensor(w, "token_embd.weight", TB_TYPE_Q8_0, 2, emb, data[0], &err) ==
          TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", TB_TYPE_F32, 1, nrm, data[1],
                                    &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", TB_TYPE_Q4_0, 2, att, data[2],
                                    &err) == TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", TB_TYPE_F16, 2, ffn, data[3], &err) ==
          TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "output_norm.weight", TB_TYPE_F32, 1, nrm, data[4], &err) ==
          TB_OK);
    CHECK(tb_gguf_writer_add_tensor(w, "output.weight", TB_TYPE_Q8_0, 2, emb, data[5], &err) ==
          TB_OK);
    void *buf = NULL;
    CHECK(tb_gguf_writer_write_memory(w, &buf, size, &err) == TB_OK);
    tb_gguf_writer_free(w);
    return buf;
}

static void test_truncation(void)
{
    size_t size = 0;
    uint8_t *buf = make_model_like(&size);
    struct tb_gguf *g = NULL;
    struct tb_err err = {0};
    void *copy = NULL;
    int rc = open_copy(buf, size, &g, &copy, &err);
    CHECKF(rc == TB_OK, "full file: %s", err.msg);
    if (rc == TB_OK) {
        CHECK(tb_gguf_n_tensors(g) == 6 && tb_gguf_n_kv(g) == 7);
        CHECK(str_eq(tb_gguf_kv_arr_str(g, tb_gguf_find_key(g, "tokenizer.ggml.tokens"), 63),
                     "tok441"));
        tb_gguf_close(g);
    }
    free(copy);
    CHECK(size > 20000 && size < 60000);
    int failures = 0;
    for (size_t n = 0; n < size; n++) {
        err.code = 0;
        err.msg[0] = '\0';
        g = NULL;
        rc = open_copy(buf, n, &g, &copy, &err);
        if (rc != TB_EFORMAT || g || !strstr(err.msg, "mem.gguf: offset ")) {
            if (failures++ < 5)
                CHECKF(0, "truncated at %zu: rc %d msg '%s'", n, rc, err.msg);
            tb_gguf_close(g);
        }
        free(copy);
    }
    CHECKF(failures == 0, "%d truncations accepted or misreported", failures);

    /* a few through real files and mmap */
    const size_t cuts[] = {0, 3, 4, 23, 24, 200, size / 2, size - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        char path[256];
        tb_test_path(path, sizeof path, "gguf-trunc", ".gguf");
        CHECK(write_file(path, buf, cuts[k]));
        g = NULL;
        rc = tb_gguf_open(path, &g, &err);
        CHECKF(rc == TB_EFORMAT && !g && strstr(err.msg, path) && strstr(err.msg, "offset"),
               "file cut at %zu: rc %d '%s'", cuts[k], rc, err.msg);
        tb_gguf_close(g);
        unlink(path);
    }
    free(buf);
}

/* Random byte edits of a valid file: each result is either rejected with a
 * proper message or accepted and fully walkable (ASan checks the walk). */
static void test_mutations(void)
{
    size_t size = 0;
    uint8_t *orig = make_model_like(&size);
    uint8_t *buf = malloc(size);
    uint32_t x = 12345;
    int accepted = 0, rejected = 0, bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, orig, size);
        /* edits concentrate on the metadata, where the structure is */
        size_t meta = 2048 < size ? 2048 : size;
        int edits = 1 + iter % 4;
        for (int e = 0; e < edits; e++) {
            x = x * 1664525u + 1013904223u;
            size_t at = (x >> 8) % meta;
            x = x * 1664525u + 1013904223u;
            buf[at] =
                (iter & 1) ? (uint8_t)(x >> 24) : (uint8_t)(buf[at] ^ (1u << ((x >> 24) & 7)));
        }
        struct tb_gguf *g = NULL;
        struct tb_err err = {0};
        void *copy = NULL;
        int rc = open_copy(buf, size, &g, &copy, &err);
        if (rc == TB_OK) {
            accepted++;
            char *dump = NULL;
            size_t dlen = 0;
            FILE *mf = open_memstream(&dump, &dlen);
            tb_gguf_print_info(g, mf);
            fclose(mf);
            free(dump);
            for (int64_t t = 0; t < tb_gguf_n_tensors(g); t++) {
                struct tb_tensor view;
                const struct tb_gguf_tensor_info *info = tb_gguf_tensor(g, t);
                if (tb_gguf_tensor_view(g, t, &view, &err) != TB_OK ||
                    tb_tensor_nbytes(&view) != info->size)
                    bad++;
                else { /* touch both ends: ASan flags data outside the buffer */
                    volatile uint8_t sink = ((const uint8_t *)view.data)[0];
                    sink = ((const uint8_t *)view.data)[info->size - 1];
                    (void)sink;
                }
            }
            tb_gguf_close(g);
        } else {
            rejected++;
            if (rc != TB_EFORMAT || g || !strstr(err.msg, "mem.gguf: offset ")) {
                if (bad++ < 5)
                    fprintf(stderr, "mutation %d: rc %d '%s'\n", iter, rc, err.msg);
            }
        }
        free(copy);
    }
    CHECKF(bad == 0, "%d mutated files misreported", bad);
    CHECK(rejected > 100 && accepted > 100); /* both paths exercised */
    free(buf);
    free(orig);
}

int main(void)
{
    test_round_trip();
    test_alignment_and_long_strings();
    test_writer_errors();
    test_open_errors();
    test_rejections();
    test_truncation();
    test_mutations();
    return tb_test_result("test_gguf");
}

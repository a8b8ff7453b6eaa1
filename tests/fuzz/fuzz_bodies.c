/* Fuzz bodies (see tb_fuzz.h). Path-based readers get the bytes through a
 * memfd named /proc/self/fd/N: no disk I/O per execution, and the reader
 * opens it like any file. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness/tb_energy.h"
#include "harness/tb_profile.h"
#include "harness/tb_results.h"
#include "reports/tb_report.h"
#include "tests/fuzz/tb_fuzz.h"
#include "workloads/tb_gguf.h"

/* A violated invariant is a finding: say which and stop the process. */
__attribute__((format(printf, 1, 2), noreturn)) static void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ INVARIANT VIOLATED: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__VA_ARGS__);                                                                \
    } while (0)

/* Error convention (kernels/tb_error.h): negative code, same code and a
 * one-line, non-empty message in the tb_err. */
static void check_error(int rc, const struct tb_err *e, const char *what)
{
    FUZZ_CHECK(rc < 0, "%s returned %d (not a negative TB_E* code)", what, rc);
    FUZZ_CHECK(e->code == rc, "%s returned %d but err.code is %d", what, rc, e->code);
    FUZZ_CHECK(e->msg[0] != '\0', "%s returned %d with an empty message", what, rc);
    FUZZ_CHECK(memchr(e->msg, '\0', sizeof e->msg) != NULL, "%s: message not terminated", what);
    FUZZ_CHECK(!strchr(e->msg, '\n'), "%s: message is not one line: %s", what, e->msg);
}

static FILE *null_sink(void)
{
    FILE *f = fopen("/dev/null", "w");
    FUZZ_CHECK(f != NULL, "cannot open /dev/null: %s", strerror(errno));
    return f;
}

/* Writes data into a fresh memfd; its /proc path goes to path. Returns the
 * fd (caller closes). */
static int mem_file(const uint8_t *data, size_t size, char *path, size_t n)
{
    int fd = memfd_create("tb-fuzz", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        FUZZ_CHECK(w > 0, "memfd write: %s", strerror(errno));
        off += (size_t)w;
    }
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

/* A [start, start+len) range lies inside [lo, lo+n). */
static int inside(const void *start, uint64_t len, const void *lo, size_t n)
{
    const uint8_t *s = start, *l = lo;
    return s >= l && s <= l + n && len <= (uint64_t)(l + n - s);
}

/* ------------------------------------------------------------------ gguf */

static size_t gguf_elem_size(enum tb_gguf_type t)
{
    switch (t) {
    case TB_GGUF_UINT8:
    case TB_GGUF_INT8:
    case TB_GGUF_BOOL: return 1;
    case TB_GGUF_UINT16:
    case TB_GGUF_INT16: return 2;
    case TB_GGUF_UINT32:
    case TB_GGUF_INT32:
    case TB_GGUF_FLOAT32: return 4;
    case TB_GGUF_UINT64:
    case TB_GGUF_INT64:
    case TB_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* Touches the first and last byte of a range (ASan checks both). */
static unsigned touch(const void *p, uint64_t len)
{
    const volatile uint8_t *b = p;
    return len ? (unsigned)b[0] + b[len - 1] : 0;
}

static void check_str(struct tb_gguf_str s, const uint8_t *data, size_t size, const char *what)
{
    FUZZ_CHECK(s.len == 0 || inside(s.ptr, s.len, data, size), "%s string outside the input", what);
    touch(s.ptr, s.len);
}

/* NUL-terminated copy of a (possibly long, possibly NUL-holding) string. */
static void cstr(struct tb_gguf_str s, char *buf, size_t n)
{
    size_t k = s.len < n - 1 ? (size_t)s.len : n - 1;
    memcpy(buf, s.ptr, k);
    buf[k] = '\0';
}

int tb_fuzz_gguf(const uint8_t *data, size_t size)
{
    struct tb_gguf *g = NULL;
    struct tb_err e = {0};
    int rc = tb_gguf_open_memory(data, size, "fuzz.gguf", &g, &e);
    if (rc) {
        check_error(rc, &e, "tb_gguf_open_memory");
        FUZZ_CHECK(g == NULL, "failed open left *out set");
        return rc;
    }
    FILE *sink = null_sink();
    tb_gguf_print_info(g, sink);
    fclose(sink);
    /* without tensors the file may end before the aligned (empty) data section */
    FUZZ_CHECK((tb_gguf_n_tensors(g) == 0 || tb_gguf_data_offset(g) <= size) &&
                   tb_gguf_file_size(g) == size,
               "data offset %llu / file size %llu vs input %zu",
               (unsigned long long)tb_gguf_data_offset(g), (unsigned long long)tb_gguf_file_size(g),
               size);
    char key[256];
    for (int64_t i = 0; i < tb_gguf_n_kv(g); i++) {
        struct tb_gguf_str k = tb_gguf_kv_key(g, i);
        check_str(k, data, size, "key");
        cstr(k, key, sizeof key);
        enum tb_gguf_type t = tb_gguf_kv_type(g, i);
        FUZZ_CHECK(t >= 0 && t < TB_GGUF_TYPE_COUNT, "kv %lld: type %d", (long long)i, (int)t);
        if (t == TB_GGUF_STRING) {
            check_str(tb_gguf_kv_str(g, i), data, size, "value");
        } else if (t == TB_GGUF_ARRAY) {
            enum tb_gguf_type at = tb_gguf_kv_arr_type(g, i);
            uint64_t n = tb_gguf_kv_arr_n(g, i);
            if (at == TB_GGUF_STRING) {
                for (uint64_t j = 0; j < n && j < 16; j++) /* the first few, and the last */
                    check_str(tb_gguf_kv_arr_str(g, i, j), data, size, "array element");
                if (n > 16)
                    check_str(tb_gguf_kv_arr_str(g, i, n - 1), data, size, "last element");
            } else {
                const void *p = tb_gguf_kv_arr_data(g, i);
                size_t es = gguf_elem_size(at);
                FUZZ_CHECK(es > 0 || n == 0, "array of type %d with %llu elements", (int)at,
                           (unsigned long long)n);
                FUZZ_CHECK(n == 0 || (p && n <= size / es && inside(p, n * es, data, size)),
                           "numeric array outside the input");
                touch(p, n * es);
            }
        } else {
            const void *p = tb_gguf_kv_scalar(g, i);
            FUZZ_CHECK(p != NULL, "kv %lld: numeric value without data", (long long)i);
            touch(p, gguf_elem_size(t));
        }
        /* getters by key: the first KV with that key is found (keys may
         * hold NULs, then the shorter key may name another KV or none) */
        int64_t found = tb_gguf_find_key(g, key);
        FUZZ_CHECK(found < tb_gguf_n_kv(g), "find_key returned %lld", (long long)found);
        uint32_t u32;
        uint64_t u64;
        float f32;
        struct tb_gguf_str s;
        struct tb_err ge = {0};
        if ((rc = tb_gguf_get_u32(g, key, &u32, &ge)))
            check_error(rc, &ge, "tb_gguf_get_u32");
        if ((rc = tb_gguf_get_u64(g, key, &u64, &ge)))
            check_error(rc, &ge, "tb_gguf_get_u64");
        if ((rc = tb_gguf_get_f32(g, key, &f32, &ge)))
            check_error(rc, &ge, "tb_gguf_get_f32");
        if ((rc = tb_gguf_get_str(g, key, &s, &ge)))
            check_error(rc, &ge, "tb_gguf_get_str");
        else
            check_str(s, data, size, "get_str");
    }
    for (int64_t i = 0; i < tb_gguf_n_tensors(g); i++) {
        const struct tb_gguf_tensor_info *t = tb_gguf_tensor(g, i);
        FUZZ_CHECK(t != NULL, "tensor %lld missing", (long long)i);
        check_str(t->name, data, size, "tensor name");
        FUZZ_CHECK(t->size == 0 || inside(t->data, t->size, data, size),
                   "tensor %lld data [+%llu, %llu bytes) outside the input of %zu bytes",
                   (long long)i, (unsigned long long)t->offset, (unsigned long long)t->size, size);
        touch(t->data, t->size);
        struct tb_tensor view;
        struct tb_err te = {0};
        if ((rc = tb_gguf_tensor_view(g, i, &view, &te)))
            check_error(rc, &te, "tb_gguf_tensor_view");
        else
            FUZZ_CHECK(view.data == t->data, "view of tensor %lld points elsewhere", (long long)i);
        cstr(t->name, key, sizeof key);
        FUZZ_CHECK(tb_gguf_find_tensor(g, key) < tb_gguf_n_tensors(g), "find_tensor out of range");
    }
    FUZZ_CHECK(tb_gguf_tensor(g, tb_gguf_n_tensors(g)) == NULL, "tensor index past the end");
    tb_gguf_close(g);
    return TB_OK;
}

/* --------------------------------------------------------------- profile */

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

int tb_fuzz_profile(const uint8_t *data, size_t size)
{
    struct tb_profile *p = NULL;
    struct tb_err e = {0};
    int rc = tb_profile_load_memory((const char *)data, size, "fuzz/profile.ini", &p, &e);
    if (rc) {
        check_error(rc, &e, "tb_profile_load_memory");
        FUZZ_CHECK(p == NULL, "failed load left *out set");
        return rc;
    }
    FUZZ_CHECK(TERMINATED(p->name) && TERMINATED(p->tier) && TERMINATED(p->description) &&
                   TERMINATED(p->cpuset) && TERMINATED(p->energy_source),
               "unterminated profile string");
    FUZZ_CHECK(p->n_workloads >= 1 && p->n_workloads <= TB_PROFILE_MAX_WORKLOADS &&
                   p->n_slos >= 0 && p->n_slos <= TB_PROFILE_MAX_SLOS && p->n_backends >= 0 &&
                   p->n_backends <= TB_PROFILE_MAX_LIST && p->n_weight_types >= 0 &&
                   p->n_weight_types <= TB_PROFILE_MAX_LIST && p->n_accel_op_classes >= 0 &&
                   p->n_accel_op_classes <= TB_PROFILE_MAX_LIST,
               "profile counts out of range");
    for (int i = 0; i < p->n_workloads; i++) {
        const struct tb_profile_workload *w = &p->workloads[i];
        FUZZ_CHECK(TERMINATED(w->model) && TERMINATED(w->shape), "unterminated workload string");
        FUZZ_CHECK(w->prompt >= 0 && w->n_predict >= 0, "workload %d: prompt %d n_predict %d", i,
                   w->prompt, w->n_predict);
        FUZZ_CHECK(!w->synth || w->need_bytes <= p->memory_budget,
                   "accepted a synth model over the memory budget");
        FUZZ_CHECK(tb_profile_workload(p, w->kind) == w, "workload lookup");
        FUZZ_CHECK(w->n_prompts >= 0 && w->n_prompts <= TB_PROFILE_MAX_PROMPTS,
                   "workload %d: %d prompts", i, w->n_prompts);
        int largest = 0;
        for (int k = 0; k < w->n_prompts; k++) {
            FUZZ_CHECK(w->prompts[k] >= 1 && w->prompts[k] <= w->prompt,
                       "workload %d: prompt length %d outside 1..%d", i, w->prompts[k], w->prompt);
            largest = w->prompts[k] > largest ? w->prompts[k] : largest;
        }
        FUZZ_CHECK(w->n_prompts == 0 || largest == w->prompt,
                   "workload %d: prompt %d is not the largest listed (%d)", i, w->prompt, largest);
    }
    char buf[256];
    for (int i = 0; i < p->n_slos; i++) {
        FUZZ_CHECK(TERMINATED(p->slos[i].metric) && TERMINATED(p->slos[i].cond_key) &&
                       TERMINATED(p->slos[i].cond_value),
                   "unterminated SLO string");
        FUZZ_CHECK(tb_slo_format(&p->slos[i], buf, sizeof buf) > 0, "slo format");
    }
    FILE *sink = null_sink();
    tb_profile_print(p, sink);
    fclose(sink);
    tb_profile_free(p);
    return TB_OK;
}

/* ------------------------------------------- series + compare (JSON inputs) */

/* What compare/report/store do with a loaded source: series, a
 * comparison of the source with itself, every output format. */
static void exercise_compare(const struct tb_rsrc *src)
{
    struct tb_series_set set = {0};
    struct tb_err e = {0};
    int rc = tb_series_extract(src, &set, &e);
    if (rc) {
        check_error(rc, &e, "tb_series_extract");
        tb_series_set_free(&set);
        return;
    }
    for (size_t i = 0; i < set.n; i++)
        FUZZ_CHECK(TERMINATED(set.s[i].key) && TERMINATED(set.s[i].metric) &&
                       TERMINATED(set.s[i].unit) && set.s[i].n <= set.s[i].cap,
                   "series %zu malformed", i);
    char buf[128];
    tb_rsrc_machine(src, buf, sizeof buf);
    tb_rsrc_date(src, buf, sizeof buf);
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    struct tb_cmp_result r = {0};
    rc = tb_compare_sets(&set, &set, &o, &r, &e);
    if (rc) {
        check_error(rc, &e, "tb_compare_sets");
    } else {
        /* a source compared with itself never regresses */
        FUZZ_CHECK(tb_cmp_count(&r, TB_V_REGRESSION) == 0 &&
                       tb_cmp_count(&r, TB_V_IMPROVEMENT) == 0,
                   "self-comparison found a change");
        FILE *sink = null_sink();
        for (int f = TB_FMT_MD; f <= TB_FMT_JUNIT; f++)
            if ((rc = tb_cmp_write(&r, (enum tb_cmp_format)f, sink, &e)))
                check_error(rc, &e, "tb_cmp_write");
        fclose(sink);
    }
    tb_cmp_result_free(&r);
    tb_series_set_free(&set);
}

int tb_fuzz_results(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = mem_file(data, size, path, sizeof path);
    json_t *records = NULL;
    size_t dropped = 9;
    struct tb_err e = {0};
    int rc = tb_results_read(path, &records, &dropped, &e);
    close(fd);
    if (rc) {
        check_error(rc, &e, "tb_results_read");
        FUZZ_CHECK(records == NULL, "failed read left *records set");
        return rc;
    }
    FUZZ_CHECK(json_is_array(records) && dropped <= 1, "records/dropped (%zu) malformed", dropped);
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        json_t *sv = json_object_get(rec, "schema_version");
        FUZZ_CHECK(json_is_object(rec) && json_is_integer(sv) && json_integer_value(sv) >= 1 &&
                       json_integer_value(sv) <= TB_RESULTS_SCHEMA_VERSION,
                   "record %zu accepted without a valid schema_version", i);
    }
    struct tb_rsrc src = {.path = "fuzz/results.jsonl", .records = records};
    exercise_compare(&src);
    json_decref(records);
    return TB_OK;
}

int tb_fuzz_gbench(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = mem_file(data, size, path, sizeof path);
    struct tb_rsrc src;
    struct tb_err e = {0};
    int rc = tb_rsrc_load(path, 0, &src, &e);
    close(fd);
    if (rc) {
        check_error(rc, &e, "tb_rsrc_load");
        return rc;
    }
    FUZZ_CHECK(src.is_gbench && json_is_array(src.records), "a .json source is not GB JSON");
    exercise_compare(&src);
    tb_rsrc_free(&src);
    return TB_OK;
}

/* ----------------------------------------------------------------- trace */

/* The window comes from an optional first line "# window T0 T1" (a comment
 * to the reader); without it, a window over the default seed timestamps. */
int tb_fuzz_trace(const uint8_t *data, size_t size)
{
    double t0 = 1700000001.5, t1 = 1700000008.25;
    static const char tag[] = "# window ";
    if (size > sizeof tag && !memcmp(data, tag, sizeof tag - 1)) {
        char line[128];
        size_t k =
            size - (sizeof tag - 1) < sizeof line - 1 ? size - (sizeof tag - 1) : sizeof line - 1;
        memcpy(line, data + sizeof tag - 1, k);
        line[k] = '\0';
        char *end;
        t0 = strtod(line, &end);
        t1 = strtod(end, NULL);
    }
    char path[64];
    int fd = mem_file(data, size, path, sizeof path);
    double joules = -1;
    struct tb_err e = {0};
    int rc = tb_energy_trace_integrate(path, t0, t1, &joules, &e);
    close(fd);
    if (rc) {
        check_error(rc, &e, "tb_energy_trace_integrate");
        return rc;
    }
    /* power is >= 0 and the window ordered: energy is finite and >= 0 */
    FUZZ_CHECK(isfinite(joules) && joules >= 0, "window [%.17g, %.17g]: %.17g J", t0, t1, joules);
    return TB_OK;
}

/* ------------------------------------------------------------------ table */

const struct tb_fuzz_target tb_fuzz_targets[] = {
    {"gguf", tb_fuzz_gguf},   {"profile", tb_fuzz_profile}, {"results", tb_fuzz_results},
    {"trace", tb_fuzz_trace}, {"gbench", tb_fuzz_gbench},   {"model", tb_fuzz_model},
};
const int tb_fuzz_n_targets = (int)(sizeof tb_fuzz_targets / sizeof tb_fuzz_targets[0]);

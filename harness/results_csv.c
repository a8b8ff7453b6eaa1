/* results.csv, derived from results.jsonl (harness/tb_results_csv.h). */
#include "harness/tb_results_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>

#include "harness/tb_results.h"
#include "kernels/platform/tb_platform.h"

/* CSV column -> JSON path ("a.b" = field b of object a); see tb_results.h */
static const char *const csv_columns[] = {
    "schema_version",
    "timestamp",
    "workload",
    "profile",
    "config",
    "backend",
    "metric",
    "unit",
    "valid",
    "invalid_reason",
    "stats.n",
    "stats.min",
    "stats.mean",
    "stats.median",
    "stats.p90",
    "stats.p95",
    "stats.p99",
    "stats.max",
    "stats.stddev",
    "stats.cv",
    "stats.median_ci_lo",
    "stats.median_ci_hi",
    "stats.noisy",
};
#define N_CSV_COLUMNS (sizeof csv_columns / sizeof csv_columns[0])

int tb_csv_field(FILE *f, const char *s, size_t len)
{
    return csv_fwrite(f, s, len) == 0 ? 0 : -1;
}

int tb_csv_str(FILE *f, const char *s)
{
    return tb_csv_field(f, s, strlen(s));
}

static int csv_cell(FILE *f, const json_t *v)
{
    char num[64];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING: return tb_csv_field(f, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return fputs(num, f) < 0 ? -1 : 0;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        return fputs(num, f) < 0 ? -1 : 0;
    case JSON_TRUE: return fputs("true", f) < 0 ? -1 : 0;
    case JSON_FALSE: return fputs("false", f) < 0 ? -1 : 0;
    default: /* null, object, array: no flat value */ return 0;
    }
}

static const json_t *lookup_path(const json_t *record, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot)
        return json_object_get(record, path);
    char head[64];
    size_t n = (size_t)(dot - path);
    if (n >= sizeof head)
        return NULL;
    memcpy(head, path, n);
    head[n] = '\0';
    const json_t *sub = json_object_get(record, head);
    return json_is_object(sub) ? json_object_get(sub, dot + 1) : NULL;
}

char *tb_results_csv_line(const json_t *record, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    int bad = 0;
    for (size_t i = 0; i < N_CSV_COLUMNS; i++) {
        if (i && fputc(',', f) == EOF)
            bad = 1;
        if (record) {
            if (csv_cell(f, lookup_path(record, csv_columns[i])) != 0)
                bad = 1;
        } else if (tb_csv_str(f, csv_columns[i]) != 0) {
            bad = 1;
        }
    }
    if (fputc('\n', f) == EOF)
        bad = 1;
    if (fclose(f) != 0)
        bad = 1;
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}

/* ------------------------------------------------------------ sync */

/* The whole file into *buf (caller frees); 0, -1 with errno when it cannot
 * be read, ENOENT when it is not there. */
static int slurp(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    size_t cap = 0;
    for (;;) {
        if (*len == cap) {
            char *nb = realloc(*buf, cap ? cap * 2 : 1 << 16);
            if (!nb) {
                close(fd);
                errno = ENOMEM;
                return -1;
            }
            *buf = nb;
            cap = cap ? cap * 2 : 1 << 16;
        }
        const ssize_t r = read(fd, *buf + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            const int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        *len += (size_t)r;
    }
    close(fd);
    return 0;
}

/* Rows of a CSV (a '\n' outside quotes ends one; csv_fwrite doubles every
 * '"' inside a field, so a plain toggle tracks the quoting); *torn when the
 * last row is unfinished. */
static size_t csv_rows(const char *b, size_t n, int *torn)
{
    size_t rows = 0;
    int quoted = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '"')
            quoted = !quoted;
        else if (b[i] == '\n' && !quoted)
            rows++;
    }
    *torn = n > 0 && (b[n - 1] != '\n' || quoted);
    return rows;
}

/* Complete records in a JSONL: its '\n's (a compact record has none inside). */
static size_t jsonl_lines(const char *b, size_t n)
{
    size_t lines = 0;
    for (const char *p = b; (p = memchr(p, '\n', n - (size_t)(p - b))) != NULL; p++)
        lines++;
    return lines;
}

/* Writes the header and one row per record to f; 0 or the errno. */
static int write_rows(FILE *f, const json_t *records)
{
    size_t len = 0;
    char *line = tb_results_csv_line(NULL, &len);
    int e = !line ? ENOMEM : fwrite(line, 1, len, f) == len ? 0 : errno ? errno : EIO;
    free(line);
    for (size_t i = 0; !e && i < json_array_size(records); i++) {
        line = tb_results_csv_line(json_array_get(records, i), &len);
        e = !line ? ENOMEM : fwrite(line, 1, len, f) == len ? 0 : errno ? errno : EIO;
        free(line);
    }
    return e;
}

/* Does the CSV text agree with the JSONL text (by rows)? 1 yes, 0 no; *want
 * the complete JSONL records when it had to parse them to know. */
static int csv_agrees(const char *jsonl_path, const char *csv, size_t csv_len, const char *jl,
                      size_t jl_len, json_t **want, struct tb_err *err)
{
    *want = NULL;
    size_t hlen = 0;
    char *hdr = tb_results_csv_line(NULL, &hlen);
    if (!hdr)
        return tb_err_set(err, TB_ENOMEM, "results: out of memory");
    const int header_ok = csv_len >= hlen && !memcmp(csv, hdr, hlen);
    free(hdr);
    int torn = 0;
    const size_t rows = csv_rows(csv, csv_len, &torn);
    if (!header_ok || torn)
        return 0;
    if (rows - 1 == jsonl_lines(jl, jl_len))
        return 1;
    /* a complete but unparsable last line is no record: count what parses */
    size_t dropped = 0;
    const int rc = tb_results_read(jsonl_path, want, &dropped, err);
    if (rc)
        return rc;
    return rows - 1 == json_array_size(*want);
}

int tb_results_csv_sync(const char *jsonl_path, const char *csv_path, int *rewritten,
                        struct tb_err *err)
{
    if (rewritten)
        *rewritten = 0;
    char *jl = NULL, *csv = NULL;
    size_t jl_len = 0, csv_len = 0;
    if (slurp(jsonl_path, &jl, &jl_len) != 0)
        return tb_err_set(err, TB_EIO, "results: cannot read '%s': %s", jsonl_path,
                          strerror(errno));
    int have_csv = slurp(csv_path, &csv, &csv_len) == 0;
    if (!have_csv && errno != ENOENT) {
        const int e = errno;
        free(jl);
        return tb_err_set(err, TB_EIO, "results: cannot read '%s': %s", csv_path, strerror(e));
    }
    json_t *records = NULL;
    int rc = have_csv ? csv_agrees(jsonl_path, csv, csv_len, jl, jl_len, &records, err) : 0;
    free(jl);
    free(csv);
    if (rc != 0) { /* 1: agrees; < 0: error */
        json_decref(records);
        return rc < 0 ? rc : TB_OK;
    }
    size_t dropped = 0;
    if (!records && (rc = tb_results_read(jsonl_path, &records, &dropped, err)) != 0)
        return rc;
    struct tb_file_replace fr;
    rc = tb_file_replace_open(csv_path, &fr, err);
    if (!rc) {
        errno = 0;
        rc = tb_file_replace_commit(&fr, write_rows(fr.f, records), err);
    }
    json_decref(records);
    if (!rc && rewritten)
        *rewritten = 1;
    return rc;
}

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

/* Scans a file in 64 KiB chunks without holding it: its rows (a '\n'
 * outside quotes ends one; csv_fwrite doubles every '"' inside a field, so
 * a plain toggle tracks the quoting; quotes 0 counts every '\n', as a
 * compact JSONL record has none inside), *torn when the last row is
 * unfinished, and *head_ok when it starts with head[0..hlen). 0, or -1
 * with errno (ENOENT when it is not there). */
struct scan {
    size_t rows;
    int torn, head_ok;
};

static int scan_file(const char *path, int quotes, const char *head, size_t hlen, struct scan *s)
{
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    char buf[1 << 16];
    size_t off = 0, matched = 0;
    int quoted = 0, last = '\n';
    for (;;) {
        const ssize_t r = read(fd, buf, sizeof buf);
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
        for (size_t i = 0; i < (size_t)r; i++, off++) {
            if (off < hlen && buf[i] == head[off])
                matched++;
            if (quotes && buf[i] == '"')
                quoted = !quoted;
            else if (buf[i] == '\n' && !quoted)
                s->rows++;
        }
        last = (unsigned char)buf[r - 1];
    }
    close(fd);
    s->torn = off > 0 && (last != '\n' || quoted);
    s->head_ok = matched == hlen && off >= hlen;
    return 0;
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

/* Does the CSV agree with the JSONL (by rows)? 1 yes, 0 no; *want the
 * complete JSONL records when it had to parse them to know. Both files are
 * scanned in chunks: a huge line costs no memory here (the reader's line
 * cap refuses it). */
static int csv_agrees(const char *jsonl_path, const struct scan *jl, const struct scan *csv,
                      json_t **want, struct tb_err *err)
{
    *want = NULL;
    if (!csv->head_ok || csv->torn || csv->rows == 0)
        return 0;
    if (csv->rows - 1 == jl->rows)
        return 1;
    /* a complete but unparsable last line is no record: count what parses */
    size_t dropped = 0;
    const int rc = tb_results_read(jsonl_path, want, &dropped, err);
    if (rc)
        return rc;
    return csv->rows - 1 == json_array_size(*want);
}

int tb_results_csv_sync(const char *jsonl_path, const char *csv_path, int *rewritten,
                        struct tb_err *err)
{
    if (rewritten)
        *rewritten = 0;
    size_t hlen = 0;
    char *hdr = tb_results_csv_line(NULL, &hlen);
    if (!hdr)
        return tb_err_set(err, TB_ENOMEM, "results: out of memory");
    struct scan jl, csv;
    if (scan_file(jsonl_path, 0, "", 0, &jl) != 0) {
        free(hdr);
        return tb_err_set(err, TB_EIO, "results: cannot read '%s': %s", jsonl_path,
                          strerror(errno));
    }
    const int have_csv = scan_file(csv_path, 1, hdr, hlen, &csv) == 0;
    const int csv_errno = errno;
    free(hdr);
    if (!have_csv && csv_errno != ENOENT)
        return tb_err_set(err, TB_EIO, "results: cannot read '%s': %s", csv_path,
                          strerror(csv_errno));
    json_t *records = NULL;
    int rc = have_csv ? csv_agrees(jsonl_path, &jl, &csv, &records, err) : 0;
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

/* results.csv, derived from results.jsonl (harness/tb_results_csv.h). */
#include "harness/tb_results_csv.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <csv.h>

#include "harness/tb_results.h"
#include "kernels/platform/tb_platform.h"

/* ---- a record's configuration (tb_results_csv.h) */

static const char *str_at(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int int_at(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

static void copy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

/* model without its weight type: synth:SHAPE:TYPE -> synth:SHAPE; a file
 * -> its name without directories, ".gguf" and a trailing "-TYPE" */
static void model_family(const char *model, const char *wt, char *out, size_t n)
{
    if (!strncmp(model, "synth:", 6)) {
        const char *colon = strchr(model + 6, ':');
        snprintf(out, n, "%.*s", (int)(colon ? colon - model : (ptrdiff_t)strlen(model)), model);
        return;
    }
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".gguf"))
        len -= 5;
    const size_t wl = strlen(wt);
    if (wl && len > wl + 1 && base[len - wl - 1] == '-' && !strncasecmp(base + len - wl, wt, wl))
        len -= wl + 1;
    snprintf(out, n, "%.*s", (int)len, base);
}

void tb_rec_config_read(const json_t *rec, struct tb_rec_config *c)
{
    memset(c, 0, sizeof *c);
    const char *st = str_at(rec, "status");
    copy(c->status, sizeof c->status, *st ? st : "ok");
    copy(c->profile, sizeof c->profile, str_at(rec, "profile"));
    copy(c->workload, sizeof c->workload, str_at(rec, "workload"));
    const json_t *params = json_object_get(rec, "params"), *model = json_object_get(rec, "model");
    c->prompt = int_at(params, "prompt");
    c->depth = int_at(params, "depth");
    if (c->depth < 0) {
        if (!strcmp(c->workload, "llm-decode"))
            c->depth = c->prompt;
        else if (!strcmp(c->workload, "llm-prefill") || !strcmp(c->workload, "llm-generate") ||
                 !strcmp(c->workload, "embed"))
            c->depth = 0;
    }
    const char *m = str_at(params, "model");
    copy(c->model, sizeof c->model,
         *m                       ? m
         : *str_at(model, "path") ? str_at(model, "path")
                                  : str_at(rec, "config"));
    copy(c->weight_type, sizeof c->weight_type, str_at(model, "weight_type"));
    /* a configuration that never loaded its model (unsupported, does not
     * fit): a synth:SHAPE:TYPE spec still names the type */
    const char *colon =
        !c->weight_type[0] && !strncmp(c->model, "synth:", 6) ? strrchr(c->model + 6, ':') : NULL;
    if (colon && colon[1] && !strchr(colon + 1, '/'))
        copy(c->weight_type, sizeof c->weight_type, colon + 1);
    model_family(c->model, c->weight_type, c->family, sizeof c->family);
    const json_t *pl = json_object_get(rec, "placement"), *e;
    size_t i;
    /* an unsupported configuration ran on no backend (its entries list the
     * unavailable ones and the CPU it may not use) */
    const int ran = strcmp(c->status, "unsupported") != 0;
    json_array_foreach(ran ? json_object_get(pl, "entries") : NULL, i, e)
    {
        if (*str_at(e, "backend")) {
            copy(c->backend, sizeof c->backend, str_at(e, "backend"));
            copy(c->device_kind, sizeof c->device_kind, str_at(e, "device_kind"));
            break;
        }
    }
    if (!c->backend[0])
        copy(c->backend, sizeof c->backend,
             *str_at(pl, "backend") ? str_at(pl, "backend") : str_at(rec, "backend"));
    if (!c->device_kind[0])
        copy(c->device_kind, sizeof c->device_kind, str_at(pl, "device_kind"));
    c->threads = int_at(json_object_get(rec, "threads"), "actual");
    c->tok_s = NAN;
    static const char *const tps[] = {"prefill_tps", "generate_tps", "decode_tps", "tokens_per_s"};
    const json_t *d = json_object_get(rec, "derived");
    for (size_t k = 0; k < sizeof tps / sizeof tps[0]; k++) {
        const json_t *v = json_object_get(d, tps[k]);
        if (json_is_number(v) && isfinite(json_number_value(v))) {
            c->tok_s = json_number_value(v);
            copy(c->tok_s_metric, sizeof c->tok_s_metric, tps[k]);
            break;
        }
    }
    const char *v = str_at(rec, "verdict");
    copy(c->verdict, sizeof c->verdict,
         *v ? v : str_at(json_object_get(rec, "coverage"), "verdict"));
    static const char *const why[] = {"unsupported", "does_not_fit", "error", "invalid_reason",
                                      "reason"};
    for (size_t k = 0; k < sizeof why / sizeof why[0] && !c->reason[0]; k++)
        copy(c->reason, sizeof c->reason, str_at(rec, why[k]));
}

static void put(char *buf, size_t n, size_t *at, const char *fmt, const char *s, int v)
{
    if (*at >= n)
        return;
    const int k = s ? snprintf(buf + *at, n - *at, fmt, *at ? " " : "", s)
                    : snprintf(buf + *at, n - *at, fmt, *at ? " " : "", v);
    *at = k < 0 ? n : *at + (size_t)k;
}

void tb_rec_config_label(const struct tb_rec_config *c, char *buf, size_t n)
{
    size_t at = 0;
    if (!n)
        return;
    buf[0] = 0;
    if (c->profile[0])
        put(buf, n, &at, "%s%s", c->profile, 0);
    if (c->workload[0])
        put(buf, n, &at, "%s%s", c->workload, 0);
    if (c->prompt >= 0)
        put(buf, n, &at, "%sp%d", NULL, c->prompt);
    if (c->depth >= 0)
        put(buf, n, &at, "%sd%d", NULL, c->depth);
    if (c->weight_type[0])
        put(buf, n, &at, "%s%s", c->weight_type, 0);
    char where[100];
    if (c->backend[0] && c->device_kind[0] && strcmp(c->backend, c->device_kind))
        snprintf(where, sizeof where, "%s/%s", c->backend, c->device_kind);
    else
        snprintf(where, sizeof where, "%s", c->backend[0] ? c->backend : c->device_kind);
    if (where[0])
        put(buf, n, &at, "%s%s", where, 0);
    if (c->threads > 0)
        put(buf, n, &at, "%st%d", NULL, c->threads);
}

/* ---- libcsv rows */

int tb_csv_field(FILE *f, const char *s, size_t len)
{
    return csv_fwrite(f, s, len) == 0 ? 0 : -1;
}

int tb_csv_str(FILE *f, const char *s)
{
    return tb_csv_field(f, s, strlen(s));
}

static int tb_csv_row_cell(FILE *f, const struct tb_csv_cell *c)
{
    if (c->kind == TB_CSV_TEXT)
        return tb_csv_str(f, c->s ? c->s : "");
    if (c->kind == TB_CSV_NUM && isfinite(c->v))
        return fprintf(f, "%.17g", c->v) < 0 ? -1 : 0;
    if (c->kind == TB_CSV_INT && c->i != INT_MIN)
        return fprintf(f, "%lld", c->i) < 0 ? -1 : 0;
    return 0;
}

int tb_csv_row(FILE *f, const struct tb_csv_cell *cells, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && fputc(',', f) == EOF)
            bad = 1;
        bad |= tb_csv_row_cell(f, &cells[i]) != 0;
    }
    bad |= fputc('\n', f) == EOF;
    return bad ? -1 : 0;
}

int tb_csv_header(FILE *f, const char *const *names, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && fputc(',', f) == EOF)
            bad = 1;
        bad |= tb_csv_str(f, names[i]) != 0;
    }
    bad |= fputc('\n', f) == EOF;
    return bad ? -1 : 0;
}

const char *const tb_csv_config_names[TB_CSV_CONFIG_COLUMNS] = {
    "workload",    "profile", "status",      "prompt",  "depth",  "model",
    "weight_type", "backend", "device_kind", "threads", "metric", "unit",
    "median",      "p99",     "tok_s",       "verdict", "reason"};

static double num_at(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

void tb_csv_config_cells(const json_t *rec, const struct tb_rec_config *c,
                         struct tb_csv_cell *cells)
{
    const json_t *st = json_object_get(rec, "stats");
    size_t k = 0;
    cells[k++] = TB_CSV_S(c->workload);
    cells[k++] = TB_CSV_S(c->profile);
    cells[k++] = TB_CSV_S(c->status);
    cells[k++] = TB_CSV_I(c->prompt >= 0 ? c->prompt : INT_MIN);
    cells[k++] = TB_CSV_I(c->depth >= 0 ? c->depth : INT_MIN);
    cells[k++] = TB_CSV_S(c->model);
    cells[k++] = TB_CSV_S(c->weight_type);
    cells[k++] = TB_CSV_S(c->backend);
    cells[k++] = TB_CSV_S(c->device_kind);
    cells[k++] = TB_CSV_I(c->threads > 0 ? c->threads : INT_MIN);
    cells[k++] = TB_CSV_S(str_at(rec, "metric"));
    cells[k++] = TB_CSV_S(str_at(rec, "unit"));
    cells[k++] = TB_CSV_D(num_at(st, "median"));
    cells[k++] = TB_CSV_D(num_at(st, "p99"));
    cells[k++] = TB_CSV_D(c->tok_s);
    cells[k++] = TB_CSV_S(c->verdict);
    cells[k++] = TB_CSV_S(c->reason);
}

/* ---- results.csv */

/* The columns after the configuration's: name -> JSON path ("a.b" = field b
 * of object a); see tb_results.h */
static const char *const csv_columns[][2] = {
    {"config", "config"},
    {"n", "stats.n"},
    {"min", "stats.min"},
    {"mean", "stats.mean"},
    {"p90", "stats.p90"},
    {"p95", "stats.p95"},
    {"max", "stats.max"},
    {"stddev", "stats.stddev"},
    {"cv", "stats.cv"},
    {"median_ci_lo", "stats.median_ci_lo"},
    {"median_ci_hi", "stats.median_ci_hi"},
    {"noisy", "stats.noisy"},
    {"valid", "valid"},
    {"invalid_reason", "invalid_reason"},
    {"coverage_verdict", "coverage.verdict"},
};
#define N_CSV_COLUMNS (sizeof csv_columns / sizeof csv_columns[0])

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
    /* schema_version, timestamp, the configuration, then the rest */
    struct tb_csv_cell head[2 + TB_CSV_CONFIG_COLUMNS + 1];
    struct tb_rec_config c;
    if (record) {
        head[0] = TB_CSV_I(json_is_integer(json_object_get(record, "schema_version"))
                               ? json_integer_value(json_object_get(record, "schema_version"))
                               : INT_MIN);
        head[1] = TB_CSV_S(str_at(record, "timestamp"));
        tb_rec_config_read(record, &c);
        tb_csv_config_cells(record, &c, head + 2);
        head[2 + TB_CSV_CONFIG_COLUMNS] = TB_CSV_S(c.tok_s_metric);
    } else {
        head[0] = TB_CSV_S("schema_version");
        head[1] = TB_CSV_S("timestamp");
        for (size_t i = 0; i < TB_CSV_CONFIG_COLUMNS; i++)
            head[2 + i] = TB_CSV_S(tb_csv_config_names[i]);
        head[2 + TB_CSV_CONFIG_COLUMNS] = TB_CSV_S("tok_s_metric");
    }
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
        if (i && fputc(',', f) == EOF)
            bad = 1;
        bad |= tb_csv_row_cell(f, &head[i]) != 0;
    }
    for (size_t i = 0; i < N_CSV_COLUMNS; i++) {
        if (fputc(',', f) == EOF)
            bad = 1;
        if (record) {
            if (csv_cell(f, lookup_path(record, csv_columns[i][1])) != 0)
                bad = 1;
        } else if (tb_csv_str(f, csv_columns[i][0]) != 0) {
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

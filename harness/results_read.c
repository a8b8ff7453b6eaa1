/* tb_results_read: results.jsonl back into records, a line at a time under
 * the line cap (tb_read.h); jansson only ever sees one complete line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_env.h"
#include "harness/tb_read.h"
#include "harness/tb_results.h"

/* Line hashes of the records read so far, so that a record repeated in
 * the file (a results.jsonl concatenated with itself, a file pasted into
 * another) is found: open addressing, index + 1 (0 = empty slot). */
struct seen {
    uint64_t *hash;
    size_t *idx;
    size_t cap, n;
};

static int seen_grow(struct seen *t)
{
    const size_t cap = t->cap ? 2 * t->cap : 256;
    uint64_t *h = calloc(cap, sizeof *h);
    size_t *ix = calloc(cap, sizeof *ix);
    if (!h || !ix) {
        free(h);
        free(ix);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->idx[i])
            continue;
        size_t j = (size_t)t->hash[i] & (cap - 1);
        while (ix[j])
            j = (j + 1) & (cap - 1);
        h[j] = t->hash[i];
        ix[j] = t->idx[i];
    }
    free(t->hash);
    free(t->idx);
    t->hash = h;
    t->idx = ix;
    t->cap = cap;
    return 0;
}

/* Index (1-based) of an earlier record equal to rec, 0 if none; then
 * remembers rec as record number idx (1-based). -1: out of memory. */
static long seen_check(struct seen *t, json_t *arr, uint64_t h, json_t *rec, size_t idx)
{
    if ((t->n + 1) * 2 > t->cap && seen_grow(t))
        return -1;
    size_t j = (size_t)h & (t->cap - 1);
    for (; t->idx[j]; j = (j + 1) & (t->cap - 1))
        if (t->hash[j] == h && json_equal(json_array_get(arr, t->idx[j] - 1), rec))
            return (long)t->idx[j];
    t->hash[j] = h;
    t->idx[j] = idx;
    t->n++;
    return 0;
}

/* One complete line into a checked record, or an error naming the line. */
static int parse_line(const char *path, size_t line_no, const char *line, size_t len, json_t **out,
                      struct tb_err *err)
{
    json_error_t jerr;
    json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!rec)
        return tb_err_set(err, TB_EFORMAT, "results: %s line %zu is not valid JSON: %s", path,
                          line_no, jerr.text);
    json_t *sv = json_object_get(rec, "schema_version");
    if (!json_is_object(rec) || !json_is_integer(sv) || json_integer_value(sv) < 1) {
        json_decref(rec);
        return tb_err_set(err, TB_EFORMAT,
                          "results: %s line %zu is not a record with a schema_version", path,
                          line_no);
    }
    if (json_integer_value(sv) > TB_RESULTS_SCHEMA_VERSION) {
        json_int_t v = json_integer_value(sv);
        json_decref(rec);
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "results: %s line %zu has schema_version %" JSON_INTEGER_FORMAT
                          ", this build reads up to %d",
                          path, line_no, v, TB_RESULTS_SCHEMA_VERSION);
    }
    *out = rec;
    return TB_OK;
}

int tb_results_read(const char *jsonl_path, json_t **records, size_t *dropped, struct tb_err *err)
{
    if (!jsonl_path || !records)
        return tb_err_set(err, TB_EINVAL, "results: read needs a path and an output");
    *records = NULL;
    if (dropped)
        *dropped = 0;
    struct tb_lines lr;
    int rc = tb_lines_open(&lr, jsonl_path, 0, err);
    if (rc)
        return rc;
    json_t *arr = json_array();
    struct seen seen = {0};
    size_t n_dropped = 0;
    char *line;
    size_t len;
    if (!arr)
        rc = tb_err_set(err, TB_ENOMEM, "results: out of memory");
    while (!rc && (rc = tb_lines_next(&lr, &line, &len, err)) == 1) {
        rc = TB_OK;
        if (lr.torn) {
            /* no newline: the write that would have completed it never did */
            n_dropped++;
            break;
        }
        json_t *rec = NULL;
        rc = parse_line(jsonl_path, lr.line_no, line, len, &rec, err);
        if (rc)
            break;
        const size_t idx = json_array_size(arr) + 1;
        if (json_array_append_new(arr, rec) != 0) {
            rc = tb_err_set(err, TB_ENOMEM, "results: out of memory");
            break;
        }
        const long first = seen_check(&seen, arr, tb_fnv1a64(line, len, TB_FNV1A64_INIT), rec, idx);
        if (first < 0)
            rc = tb_err_set(err, TB_ENOMEM, "results: out of memory");
        else if (first > 0)
            rc = tb_err_set(err, TB_EFORMAT,
                            "results: %s line %zu repeats line %ld (the same record twice: "
                            "a file concatenated with itself?); refusing to count its samples "
                            "twice",
                            jsonl_path, lr.line_no, first);
    }
    tb_lines_close(&lr);
    free(seen.hash);
    free(seen.idx);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *records = arr;
    if (dropped)
        *dropped = n_dropped;
    return TB_OK;
}

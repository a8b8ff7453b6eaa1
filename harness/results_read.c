/* tb_results_read: results.jsonl back into records, a line at a time under
 * the line cap (tb_read.h); jansson only ever sees one complete line. */
#include <stdlib.h>

#include "harness/tb_read.h"
#include "harness/tb_results.h"

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
    /* line text -> its line number: a record repeated in the file (a
     * results.jsonl concatenated with itself, a file pasted into another)
     * would count its samples twice */
    json_t *seen = json_object();
    size_t n_dropped = 0;
    char *line;
    size_t len;
    if (!arr || !seen)
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
        if (json_array_append_new(arr, rec) != 0) {
            rc = tb_err_set(err, TB_ENOMEM, "results: out of memory");
            break;
        }
        /* parse_line accepted it, so the line is valid UTF-8 without NULs */
        const json_t *first = json_object_getn(seen, line, len);
        if (first)
            rc = tb_err_set(err, TB_EFORMAT,
                            "results: %s line %zu repeats line %" JSON_INTEGER_FORMAT
                            " (the same record twice: a file concatenated with itself?); "
                            "refusing to count its samples twice",
                            jsonl_path, lr.line_no, json_integer_value(first));
        else if (json_object_setn_new_nocheck(seen, line, len,
                                              json_integer((json_int_t)lr.line_no)))
            rc = tb_err_set(err, TB_ENOMEM, "results: out of memory");
    }
    tb_lines_close(&lr);
    json_decref(seen);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *records = arr;
    if (dropped)
        *dropped = n_dropped;
    return TB_OK;
}

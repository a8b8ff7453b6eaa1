/* results.csv: the CSV view of results.jsonl (harness/tb_results.h), and
 * what every tierbench CSV says about a record's configuration (the report's
 * CSVs share these columns). The JSONL is the record; the CSV is derived
 * from it, row for record. */
#ifndef TB_RESULTS_CSV_H
#define TB_RESULTS_CSV_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "kernels/tb_error.h"

/* One configuration as the record keeps it (names are the CSV columns):
 *   workload, profile
 *   status       record.status ("ok" when absent)
 *   prompt       params.prompt (the prompt length as run); -1 unknown
 *   depth        context depth: tokens in the KV cache when the measured
 *                step starts: params.depth when the record has one, else
 *                llm-decode: params.prompt (the decode step runs at that
 *                position), llm-prefill / llm-generate / embed: 0 (they
 *                start from an empty cache); -1 unknown
 *   model        params.model (the spec as given: synth:SHAPE:TYPE or the
 *                file), else model.path, else the record's config
 *   family       model without its weight type (synth:SHAPE, or the file
 *                name without .gguf and a trailing -TYPE): Pareto groups
 *   weight_type  model.weight_type
 *   backend      the backend that ran it: the first available entry of
 *                placement.entries (the preference list as opened), else
 *                placement.backend, else record.backend; empty for status
 *                unsupported (nothing ran)
 *   device_kind  that entry's device_kind (cpu, gpu, npu, ...)
 *   threads      threads.actual; -1 unknown
 *   tok_s        tokens per second: derived prefill_tps, generate_tps,
 *                decode_tps or tokens_per_s (the first present); NaN
 *   tok_s_metric which of them
 *   verdict      record.verdict (qualification: PASS / FAIL / INCOMPLETE /
 *                UNSUPPORTED), else coverage.verdict (on-target, ...)
 *   reason       why there is no measurement: unsupported, does_not_fit,
 *                error, invalid_reason or reason, the first present */
struct tb_rec_config {
    char status[32], profile[64], workload[64], model[256], family[256], weight_type[32];
    char backend[64], device_kind[32], tok_s_metric[32], verdict[32], reason[512];
    int prompt, depth, threads;
    double tok_s;
};
void tb_rec_config_read(const json_t *record, struct tb_rec_config *c);
/* "PROFILE WORKLOAD pP dD TYPE BACKEND/KIND tT": one configuration per
 * label; parts the record lacks are left out (never an empty part, never a
 * trailing '/'). */
void tb_rec_config_label(const struct tb_rec_config *c, char *buf, size_t n);

/* A CSV row through libcsv: text cells quoted by csv_fwrite (tb_csv_field),
 * numbers unquoted (%.9g; NaN/inf as an empty cell), integers unquoted
 * (INT_MIN as an empty cell). */
enum tb_csv_kind { TB_CSV_TEXT = 0, TB_CSV_NUM, TB_CSV_INT };
struct tb_csv_cell {
    enum tb_csv_kind kind;
    const char *s;
    double v;
    long long i;
};
#define TB_CSV_S(x) ((struct tb_csv_cell){.kind = TB_CSV_TEXT, .s = (x)})
#define TB_CSV_D(x) ((struct tb_csv_cell){.kind = TB_CSV_NUM, .v = (x)})
#define TB_CSV_I(x) ((struct tb_csv_cell){.kind = TB_CSV_INT, .i = (x)})
/* 0, or -1 when writing failed. */
int tb_csv_row(FILE *f, const struct tb_csv_cell *cells, size_t n);
/* The header of names (each written through libcsv). */
int tb_csv_header(FILE *f, const char *const *names, size_t n);

/* The configuration columns every record row of a tierbench CSV starts
 * with (results.csv and the report's CSVs): workload, profile, status,
 * prompt, depth, model, weight_type, backend, device_kind, threads, metric,
 * unit, median, p99, tok_s, verdict, reason. Names are lower_snake_case
 * (SQL needs no quotes); median and p99 are in `unit`, tok_s in tokens/s. */
#define TB_CSV_CONFIG_COLUMNS 17
extern const char *const tb_csv_config_names[TB_CSV_CONFIG_COLUMNS];
/* Fills cells[0..TB_CSV_CONFIG_COLUMNS) for record (c read from it). The
 * cells point into c and record. */
void tb_csv_config_cells(const json_t *record, const struct tb_rec_config *c,
                         struct tb_csv_cell *cells);

/* One results.csv line ("\n"-terminated; the header when record is NULL) in
 * a malloc'd buffer, with libcsv's quoting; NULL on allocation failure. */
char *tb_results_csv_line(const json_t *record, size_t *len);

/* Makes csv_path agree with jsonl_path: when the CSV is missing, torn, has
 * another header or another number of rows than the JSONL has complete
 * records, it is rewritten from the JSONL's records (tb_results_read)
 * through tb_file_replace_open/commit, so a reader sees the old CSV or the
 * new one, never a part. *rewritten (may be NULL): 1 when it was. TB_EIO
 * naming the file on a failure; the old CSV is then untouched. */
int tb_results_csv_sync(const char *jsonl_path, const char *csv_path, int *rewritten,
                        struct tb_err *err);

#endif

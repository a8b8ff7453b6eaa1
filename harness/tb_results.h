/* Crash-safe benchmark results.
 *
 * A results directory holds:
 *   results.jsonl  one JSON object per line, one per workload x profile x
 *                  configuration; every record carries "schema_version".
 *                  Each append is one write() of "record\n" + fsync, so a
 *                  killed run keeps every record that finished; a torn last
 *                  line (crash mid-write) is detected and dropped by
 *                  tb_results_read().
 *   results.csv    the same rows, flattened to the fixed columns below
 *                  (quoted through libcsv's csv_fwrite), header first. It
 *                  is DERIVED from results.jsonl, which is the record: an
 *                  append writes the JSONL line (the commit point), then
 *                  the CSV row; a row that does not fit (full disk) takes
 *                  the record back out of the JSONL, so neither has it.
 *                  A kill between the two appends leaves the CSV a row
 *                  short; every open, trim, close and reader (report,
 *                  compare, store add through tb_results_reconcile) first
 *                  makes the CSV agree: when its header, torn tail or row
 *                  count disagrees with the JSONL's complete records it is
 *                  rewritten from them and renamed into place atomically.
 *   manifest.json  run-level metadata (environment, command line, counts),
 *                  replaced atomically: temp file in the same directory,
 *                  fsync, rename, fsync of the directory -> readers see the
 *                  old or the new manifest, never a partial one.
 *
 * Existing results are never overwritten: by default a fresh subdirectory
 * run-YYYYMMDD-HHMMSS[-N] (UTC) is created under the --out directory (mkdir
 * is atomic, so two concurrent runs cannot share one). Every write, flush,
 * fsync and close is checked; failures return TB_EIO naming the path and
 * strerror. After a failed append the partial bytes are truncated away and
 * the handle refuses further appends, so earlier records stay intact.
 *
 * CSV columns (harness/tb_results_csv.h says where each is read from; empty
 * cell when the record lacks it; booleans as true/false; numbers with 17
 * significant digits; lower_snake_case names, usable unquoted in SQL):
 *   schema_version, timestamp, workload, profile, status, prompt, depth,
 *   model, weight_type, backend, device_kind, threads, metric, unit, median,
 *   p99, tok_s, verdict, reason, tok_s_metric, config, n, min, mean, p90,
 *   p95, max, stddev, cv, median_ci_lo, median_ci_hi, noisy, valid,
 *   invalid_reason, coverage_verdict (min..p99 in `unit`; tok_s in tokens/s)
 * Everything else (samples, parameters, unavailable metrics) is JSON-only. */
#ifndef TB_RESULTS_H
#define TB_RESULTS_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "harness/tb_stats.h"
#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_RESULTS_SCHEMA_VERSION 1

#define TB_RESULTS_JSONL "results.jsonl"
#define TB_RESULTS_CSV "results.csv"
#define TB_RESULTS_MANIFEST "manifest.json"

enum tb_results_mode {
    /* create out_dir if missing (its parent must exist), then a fresh
     * run-YYYYMMDD-HHMMSS[-N] subdirectory inside it; results go there */
    TB_RESULTS_NEW_SUBDIR = 0,
    /* results go into out_dir itself (created if missing); fails with
     * TB_EIO if it already holds results.jsonl */
    TB_RESULTS_EXACT_DIR,
    /* keep appending to out_dir's existing results (created if absent); a
     * torn last line left by a killed run is cut off first, so the next
     * record starts on a line of its own */
    TB_RESULTS_APPEND,
};

struct tb_results;

int tb_results_open(const char *out_dir, enum tb_results_mode mode, struct tb_results **out,
                    struct tb_err *err);
/* The directory the results go to (the run-... subdirectory in NEW_SUBDIR). */
const char *tb_results_dir(const struct tb_results *r);
/* Records appended through this handle. */
size_t tb_results_count(const struct tb_results *r);

/* Appends one record (a JSON object; not stolen, the caller keeps its
 * reference) to results.jsonl and results.csv, durably. Adds
 * "schema_version" when missing; a record whose schema_version differs from
 * TB_RESULTS_SCHEMA_VERSION is rejected (TB_EINVAL). */
int tb_results_append(struct tb_results *r, json_t *record, struct tb_err *err);

/* Cuts a torn last line from results.jsonl and makes results.csv agree
 * with it: left by another process appending through an inherited handle
 * that was killed mid-write or between the two files (run's watchdog
 * child), so the next record starts on a line of its own. */
int tb_results_trim_torn(struct tb_results *r, struct tb_err *err);

/* Makes dir's results.csv agree with its results.jsonl (see above): the
 * readers' half of "one record, one write". Nothing to do (TB_OK) when dir
 * has no results.jsonl; *rewritten (may be NULL) = 1 when the CSV was
 * rebuilt. TB_EIO naming the file when it cannot be read or rewritten (a
 * read-only directory): the JSONL is still the record. */
int tb_results_reconcile(const char *dir, int *rewritten, struct tb_err *err);

/* Atomically replaces manifest.json in the results directory (adds
 * "schema_version" when missing; not stolen). */
int tb_results_write_manifest(struct tb_results *r, json_t *manifest, struct tb_err *err);

/* Makes results.csv agree with results.jsonl, then closes the files;
 * returns TB_EIO if that or a final close fails. r may be NULL. */
int tb_results_close(struct tb_results *r, struct tb_err *err);

/* Atomic JSON file replace (temp + fsync + rename + fsync dir); used for the
 * manifest, usable for any small JSON document. */
int tb_json_write_atomic(const char *path, json_t *doc, struct tb_err *err);
/* write() until all len bytes are written (short counts from signals,
 * RLIMIT_FSIZE or a disk filling mid-buffer are retried): 0, or TB_EIO with
 * "write to 'what' failed: ..." in err (err may be NULL). */
int tb_write_all(int fd, const void *buf, size_t len, const char *what, struct tb_err *err);
/* The one CSV field writer, libcsv's csv_fwrite quoting: always quoted,
 * every '"' doubled, the len bytes as they are (NULs included). Every CSV
 * that tierbench writes quotes its text fields through it. 0, or -1 when
 * writing to f failed. */
int tb_csv_field(FILE *f, const char *s, size_t len);
/* tb_csv_field of a NUL-terminated string. */
int tb_csv_str(FILE *f, const char *s);

/* Reads a results.jsonl into a new JSON array (*records, caller decrefs),
 * line by line under the line cap (harness/tb_read.h: 16 MiB, $TB_MAX_LINE;
 * a longer line is TB_ERANGE "PATH:LINE: line longer than 16 MiB"). Only a
 * last line without its newline is a torn write: dropped and counted in
 * *dropped (0 or 1); the caller warns. A complete line that does not parse
 * (the last one too), a record that is not an object or lacks
 * schema_version, or a line that repeats an earlier one byte for byte (a
 * file concatenated with itself: its samples would count twice) is
 * TB_EFORMAT with the line number; a newer schema_version is
 * TB_EUNSUPPORTED. A FIFO, directory or device is TB_EIO, never a wait. */
int tb_results_read(const char *jsonl_path, json_t **records, size_t *dropped, struct tb_err *err);

/* ---- record builders */

/* New record object {schema_version, timestamp (UTC ISO 8601), workload,
 * profile, config}; NULL strings are left out. NULL on allocation failure. */
json_t *tb_results_record_new(const char *workload, const char *profile, const char *config);

/* A JSON number, or JSON null for NaN/Inf (jansson cannot encode those);
 * NULL on allocation failure. */
json_t *tb_json_number(double v);

/* Statistics object with the fields named in the CSV columns; non-finite
 * figures (e.g. cv with mean 0, disabled CI) become null. */
json_t *tb_stats_to_json(const struct tb_stats *s);

/* Sets record["metric"], ["unit"], ["valid"], ["invalid_reason"] (when
 * invalid), ["warmup_n"], ["measured_s"], ["stats"] (from the samples; null
 * when n == 0) and ["samples"] (raw values) from a measured sample set. Returns TB_OK, TB_ENOMEM or
 * the statistics error. */
int tb_results_set_measurement(json_t *record, const char *metric, const char *unit,
                               const struct tb_sample_set *set, const struct tb_stats_opts *opts,
                               struct tb_err *err);

/* Marks a metric that could not be measured: record["metric"] = metric,
 * ["valid"] = false, ["stats"] = null, ["unavailable"] = reason. */
int tb_results_set_unavailable(json_t *record, const char *metric, const char *reason,
                               struct tb_err *err);

/* UTC ISO 8601 timestamp "YYYY-MM-DDTHH:MM:SSZ" into buf (>= 21 bytes). */
void tb_utc_timestamp(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif

/* results.csv: the CSV view of results.jsonl (harness/tb_results.h). The
 * JSONL is the record; the CSV is derived from it, row for record. Internal
 * to harness/results*.c. */
#ifndef TB_RESULTS_CSV_H
#define TB_RESULTS_CSV_H

#include <stddef.h>

#include <jansson.h>

#include "kernels/tb_error.h"

/* One CSV line ("\n"-terminated; the header when record is NULL) in a
 * malloc'd buffer, with libcsv's quoting; NULL on allocation failure. */
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

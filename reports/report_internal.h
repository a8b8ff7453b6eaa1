/* What the report's sections share (reports/report*.c); internal to
 * tb_reports.
 *   report.c           the document (Markdown + HTML side by side), charts
 *                      through gnuplot, tb_report_write
 *   report_tables.c    results and qualification tables
 *   report_charts.c    latency, tokens/s, energy, Pareto, coverage charts
 *   report_roofline.c  the roofline and its ceilings */
#ifndef TB_REPORT_INTERNAL_H
#define TB_REPORT_INTERNAL_H

#include <jansson.h>

#include "harness/tb_results_csv.h"
#include "reports/tb_report.h"

const char *rp_sv(const json_t *o, const char *k);
double rp_nv(const json_t *o, const char *k);
/* A tierbench measurement record of status ok (not qualification). */
int rp_is_measure(const json_t *rec);
/* One loop over every tierbench record of every source (Google Benchmark
 * sources skipped): start *s and *i at 0; NULL after the last. */
json_t *rp_next_record(const struct tb_rsrc *srcs, size_t n, size_t *s, size_t *i);
/* The record's configuration and its label (tb_rec_config_label), with
 * " [SOURCE k]" when the report has more than one tierbench source. */
void rp_config(const struct tb_rsrc *srcs, size_t n, size_t s, const json_t *rec,
               struct tb_rec_config *c, char *label, size_t label_n);

/* Categories of a chart: one per distinct label, numbered from 1. */
#define RP_MAX_CATS 256
struct rp_cats {
    char *label[RP_MAX_CATS];
    size_t n;
};
/* The 1-based index of label, adding it; 0 when full or out of memory. */
size_t rp_cat(struct rp_cats *c, const char *label);
void rp_cats_free(struct rp_cats *c);
/* Categorical x axis for the categories: xrange + xtics at 1..n. */
void rp_xtics(FILE *s, const struct rp_cats *c);
/* The bottom margin (character lines) that rotated tic labels need. */
int rp_label_margin(const struct rp_cats *c);

/* A report CSV: dir/chart.csv with the configuration columns
 * (tb_csv_config_names) after `label` and `category`, then extra[]. */
#define RP_CSV_FIRST_EXTRA (2 + TB_CSV_CONFIG_COLUMNS + 1) /* gnuplot column numbers */
FILE *rp_csv_open(struct tb_doc *r, const char *chart, const char *const *extra, size_t n_extra);
/* One row: label, category, record's configuration, extra cells. */
int rp_csv_record_row(FILE *f, const char *label, size_t cat, const json_t *rec,
                      const struct tb_rec_config *c, const struct tb_csv_cell *extra,
                      size_t n_extra);

void rp_summary_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);
void rp_qualification_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);
void rp_latency_charts(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);
void rp_tokens_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);
void rp_energy_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);
void rp_pareto_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);
void rp_roofline_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);
void rp_coverage_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n);

#endif

/* Reports, release comparison and the results store (issue 7).
 *
 * Inputs are results directories written by `tierbench run` (results.jsonl +
 * manifest.json), a results.jsonl file itself, or Google Benchmark JSON files
 * (tierbench-kernels --benchmark_format=json). Everything is read into a
 * tb_rsrc and flattened into metric series (tb_series): one series per
 * (key, metric), key = profile/workload/config for tierbench records and the
 * benchmark run name for Google Benchmark. A series holds raw samples where
 * the record has them, else the single scalar value.
 *
 *   load.c     sources and series extraction (one place for both compare,
 *              report and store)
 *   compare.c  statistical comparison and the gate (compare_out.c: the
 *              md/csv/json/junit writers)
 *   gnuplot.c  running the gnuplot program
 *   report.c   tierbench report (index.md, index.html, CSVs, qualification)
 *   store.c    results store: schema, migrations, ingest (store_db.c: the
 *              SQLite/PostgreSQL layer; dashboard.c: history, dashboard) */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "harness/tb_env.h"
#include "kernels/tb_error.h"

/* ---- sources */
struct tb_rsrc {
    char *path;      /* as given, or the run directory a `run --out` root resolved to */
    char *root;      /* the root given, when path was resolved from one; else NULL */
    size_t n_runs;   /* run directories with results in root (when root) */
    char *data_path; /* the file actually read (results.jsonl or the .json) */
    char hash[TB_HASH_STR_MAX];
    int is_gbench;    /* Google Benchmark JSON */
    json_t *records;  /* array: tierbench records, or GB "benchmarks" */
    json_t *manifest; /* manifest.json / GB "context"; may be NULL */
    size_t dropped;   /* torn last line dropped by tb_results_read */
};

/* Loads a results dir, a .jsonl file or a GB JSON file, or the --out root
 * given to `run` (tb_rsrc_resolve). strict: a torn tail (dropped line) is
 * an error (TB_EFORMAT) instead of being dropped. */
int tb_rsrc_load(const char *path, int strict, struct tb_rsrc *out, struct tb_err *err);
/* Only the first step of tb_rsrc_load: which source path names. A file, or
 * a directory holding results.jsonl, is itself (out->path, root NULL). A
 * directory without one is a `run --out` root: out->path becomes its newest
 * run-* subdirectory that holds results.jsonl, newest by the name `run`
 * gives it from its own UTC start time (run-YYYYMMDD-HHMMSS, then -N as a
 * number; not the mtime, which a copy changes), out->root the root and
 * out->n_runs how many run directories it holds. TB_EIO when path does not
 * exist or is a directory with neither. out is freed with tb_rsrc_free. */
int tb_rsrc_resolve(const char *path, struct tb_rsrc *out, struct tb_err *err);
/* One line "taken: ROOT/run-X (newest of N runs in ROOT)" when s was
 * resolved from a root; nothing when the source was named directly. */
void tb_rsrc_say_taken(const struct tb_rsrc *s, FILE *f);
void tb_rsrc_free(struct tb_rsrc *s);
/* TB_EINVAL when two of the n sources hold the same data (equal content
 * hash: one results file given twice, or a copy of it): pooled, each of
 * its records would count twice. */
int tb_rsrc_check_distinct(const struct tb_rsrc *srcs, size_t n, struct tb_err *err);

/* Machine name ("cpu model (hostname)") and date of a source, for chart
 * captions; "unknown" when absent. */
void tb_rsrc_machine(const struct tb_rsrc *s, char *buf, size_t n);
void tb_rsrc_date(const struct tb_rsrc *s, char *buf, size_t n);

/* ---- metric series */
enum tb_series_kind {
    TB_SERIES_SAMPLES = 0,   /* raw samples (statistical test applies) */
    TB_SERIES_SCALAR,        /* one value per record (no samples) */
    TB_SERIES_DETERMINISTIC, /* scalar that does not vary run to run (accuracy) */
    TB_SERIES_PLACEMENT,     /* placement/coverage fingerprint in `text` */
};

struct tb_series {
    char key[512]; /* a dashboard key also names the machine */
    char metric[64];
    char unit[24];
    enum tb_series_kind kind;
    double *v; /* samples or the scalar values (several when pooled) */
    size_t n, cap;
    char *text; /* placement fingerprint (TB_SERIES_PLACEMENT) */
    char profile[64], workload[64], config[128];
    /* tb_rec_config_label of the record: "PROFILE WORKLOAD pP dD TYPE ..."
     * (the prompt that ran and the context depth); "" for gbench */
    char label[256];
    int prompt, depth; /* -1: not known (gbench, or no such params) */
};

struct tb_series_set {
    struct tb_series *s;
    size_t n, cap;
};

/* Appends the series of every record of src (records with the same key and
 * metric are pooled). Records with status != ok, and qualification records,
 * contribute nothing. */
int tb_series_extract(const struct tb_rsrc *src, struct tb_series_set *set, struct tb_err *err);
/* Adds values to the (key, metric) series, creating it. */
int tb_series_add(struct tb_series_set *set, const char *key, const char *metric, const char *unit,
                  enum tb_series_kind kind, const double *v, size_t n, struct tb_err *err);
struct tb_series *tb_series_find(const struct tb_series_set *set, const char *key,
                                 const char *metric);
void tb_series_set_free(struct tb_series_set *set);

/* 1 when a higher value is better for this metric (tokens/s, throughput,
 * bytes/s, top1_agreement, FLOP/s), 0 when lower is better. */
int tb_metric_higher_better(const char *metric);

/* ---- compare (compare.c: verdicts and the gate; compare_out.c: writers) */
enum tb_verdict {
    TB_V_NO_CHANGE = 0,
    TB_V_IMPROVEMENT,
    TB_V_REGRESSION,
    TB_V_INCONCLUSIVE, /* the data cannot decide (too few samples, too noisy) */
    TB_V_MISSING,      /* in the base, not in the candidate: fails unless allowed */
    TB_V_NEW,          /* only in the candidate: listed, never gated */
};
const char *tb_verdict_name(enum tb_verdict v);

/* The gate's decision over a comparison, also compare's exit status:
 * 0 pass, 1 fail (a regression, or a base configuration or metric missing
 * from the candidate), 5 inconclusive (a metric that too few or too noisy
 * samples cannot decide). 2 (usage/input error) and, with --interleave, a
 * failed round's own status (3, 4, 127, 128+N) come from the CLI. */
enum { TB_CMP_GATE_PASS = 0, TB_CMP_GATE_FAIL = 1, TB_CMP_GATE_INCONCLUSIVE = 5 };

#define TB_CMP_MAX_THRESHOLDS 32
struct tb_cmp_opts {
    double alpha;             /* p must be < alpha (default 0.01) */
    double threshold_pct;     /* |change| must be >= this (default 5) */
    double mem_threshold_pct; /* sizes (tb_metric_size_like): a change > this
                               * decides, whatever the sample count (default 10) */
    size_t min_samples;       /* fewer in either set -> inconclusive (default 5) */
    int allow_inconclusive;   /* the gate passes inconclusive metrics */
    int allow_missing;        /* the gate passes metrics missing in the candidate */
    int gbench;               /* Google Benchmark inputs: hints name
                               * --benchmark_repetitions instead of run --reps */
    size_t n_thr;
    struct {
        char metric[64];
        double pct;
    } thr[TB_CMP_MAX_THRESHOLDS]; /* per-metric threshold overrides (sizes too) */
};
void tb_cmp_opts_default(struct tb_cmp_opts *o);
/* Parses "METRIC=PCT" into o->thr. */
int tb_cmp_opts_add_threshold(struct tb_cmp_opts *o, const char *spec, struct tb_err *err);
/* 1 for near-deterministic sizes: names ending in _kib, _mib or _bytes
 * (peak_rss_kib, weight_bytes_mapped, kv_cache_bytes, ...). */
int tb_metric_size_like(const char *metric);
/* The fewest samples per side at which the two-sided exact Mann-Whitney
 * test can reach p < alpha at all (5 at alpha 0.01, 4 at 0.05). */
size_t tb_cmp_min_decidable(double alpha);

struct tb_cmp_row {
    char key[512];
    char label[256]; /* the series' label (prompt, depth); "" for gbench */
    char metric[64];
    char unit[24];
    int higher_better;
    size_t n_base, n_cand;
    double med_base, med_cand; /* NaN when absent */
    double change_pct;         /* (cand - base) / |base| * 100; NaN when undefined */
    double p;                  /* NaN when no test ran */
    double threshold_pct;      /* NaN for placement/outcome rows */
    size_t need;               /* inconclusive: samples (or runs) per side a
                                * decision needs; 0 when more would not help
                                * or cannot be estimated */
    enum tb_verdict verdict;
    char note[320];
};

struct tb_cmp_result {
    struct tb_cmp_row *rows;
    size_t n, cap;
    double alpha;
    int allow_inconclusive, allow_missing; /* the gate's policy (from the opts) */
    /* optional, borrowed: how the inputs were measured (compare
     * --interleave: {"rounds", "order", "runs": [...]}); md, json and junit
     * show it. Set after tb_compare_sets (which clears the result). */
    json_t *provenance;
};

/* The decision for one metric from raw samples (or scalars when
 * kind != SAMPLES). Fills every field of row except key/metric/unit.
 * tb_compare_sets also applies the size rule by metric name. */
int tb_compare_values(const double *base, size_t nb, const double *cand, size_t nc,
                      enum tb_series_kind kind, int higher_better, double threshold_pct,
                      const struct tb_cmp_opts *o, struct tb_cmp_row *row, struct tb_err *err);
/* Compares every series present in base or cand. */
int tb_compare_sets(const struct tb_series_set *base, const struct tb_series_set *cand,
                    const struct tb_cmp_opts *o, struct tb_cmp_result *out, struct tb_err *err);
void tb_cmp_result_free(struct tb_cmp_result *r);
size_t tb_cmp_count(const struct tb_cmp_result *r, enum tb_verdict v);
/* TB_CMP_GATE_* of one row under r's policy, and of the whole result. */
int tb_cmp_row_gated(const struct tb_cmp_result *r, const struct tb_cmp_row *w);
int tb_cmp_gate(const struct tb_cmp_result *r);
/* The most samples per side any inconclusive row asks for (0: none says). */
size_t tb_cmp_samples_needed(const struct tb_cmp_result *r);
/* One line for a row: "verdict: median A -> B unit (+x%), p = ...; note"
 * (placement/outcome rows: "verdict: note"); never "nan". */
void tb_cmp_row_message(const struct tb_cmp_row *w, char *buf, size_t n);
/* "gate: PASS|FAIL|INCONCLUSIVE (exit N): why" for the whole result. */
void tb_cmp_gate_line(const struct tb_cmp_result *r, char *buf, size_t n);
/* Adds the sizes a tierbench record holds besides peak_rss_kib
 * (memory.weight_bytes_mapped, kv_cache_bytes, activation_arena_bytes,
 * engine_total_bytes) as scalar series, keyed as tb_series_extract keys. */
int tb_cmp_extract_sizes(const struct tb_rsrc *src, struct tb_series_set *set, struct tb_err *err);

enum tb_cmp_format { TB_FMT_MD = 0, TB_FMT_CSV, TB_FMT_JSON, TB_FMT_JUNIT };
int tb_cmp_format_parse(const char *s, enum tb_cmp_format *out);
/* md: table + summary + the gate's line; csv: one libcsv row per metric;
 * json; junit: libxml2 xmlTextWriter, valid against the Jenkins xunit
 * plugin's JUnit schema (tests/data/junit/README.md). No "nan" anywhere:
 * an undefined figure is an empty cell, null, "-" or left out. */
int tb_cmp_write(const struct tb_cmp_result *r, enum tb_cmp_format f, FILE *out,
                 struct tb_err *err);

/* ---- gnuplot */
/* 1 when a `gnuplot` executable is on PATH. */
int tb_gnuplot_available(void);
/* Runs gnuplot on script (terminal/output set by the script); gnuplot's
 * own output and warnings are appended to log_path (NULL: inherited).
 * TB_EUNSUPPORTED with a clear message when gnuplot is not installed,
 * TB_EIO when it fails. */
int tb_gnuplot_run(const char *script, const char *log_path, struct tb_err *err);
/* Writes s with gnuplot string quoting (single quotes doubled). */
void tb_gnuplot_quote(FILE *f, const char *s);

/* ---- report */
struct tb_report_opts {
    int ascii; /* print dumb-terminal charts to `log` */
    FILE *log; /* progress/notes; may be NULL */
};
/* Writes out_dir/index.md, index.html, *.csv (and *.svg) from sources. Never
 * fails because gnuplot is missing: the report then says so. */
int tb_report_write(struct tb_rsrc *srcs, size_t n, const char *out_dir,
                    const struct tb_report_opts *o, struct tb_err *err);

/* ---- documents: index.md + index.html written side by side (the report and
 * the dashboard share this). */
struct tb_doc {
    const char *dir;
    FILE *md, *html, *log;
    int ascii; /* also render charts with gnuplot's dumb terminal into log */
    int gp_ok; /* gnuplot usable; else gp_msg says why */
    char gp_msg[TB_ERR_MSG_MAX];
    char machine[256], date[64]; /* every chart's caption */
    int charts;
    int charts_drawn, charts_failed;
    /* gnuplot's warnings and the charts' failures go here, never to the
     * terminal: dir/gnuplot.log */
    char gp_log[4096];
};
/* Creates dir (and parents), dir/index.md and dir/index.html. */
int tb_doc_open(struct tb_doc *d, const char *dir, const char *title, FILE *log, int ascii,
                struct tb_err *err);
int tb_doc_close(struct tb_doc *d, struct tb_err *err);
/* Heading/paragraph: md_prefix ("## ") for Markdown, html_tag ("h2") for HTML. */
void tb_doc_text(struct tb_doc *d, const char *md_prefix, const char *html_tag, const char *text);
void tb_doc_note(struct tb_doc *d, const char *text);
/* Opens dir/name for writing (path receives the full path). */
FILE *tb_doc_file(struct tb_doc *d, const char *name, char *path, size_t n);
/* Opens dir/chart.csv, the data of tb_doc_chart(d, chart, ...), and writes
 * header (comma-separated names, each written through libcsv; the caller
 * ends the row unless header ends in a newline) into it; NULL when it
 * cannot. */
FILE *tb_doc_csv(struct tb_doc *d, const char *chart, const char *header);
/* A chart: body is gnuplot commands plotting DATA (= dir/name.csv, which the
 * caller wrote, header row first: use `skip 1`). Writes name.svg, inlines it
 * in the HTML, links it from the Markdown; when gnuplot is missing or fails,
 * a note says so instead. */
void tb_doc_chart(struct tb_doc *d, const char *name, const char *title, const char *body);
void tb_doc_table_head(struct tb_doc *d, const char *const *cells, size_t n);
/* cls_last: CSS class of the last cell (e.g. the verdict) or NULL. */
void tb_doc_table_row(struct tb_doc *d, const char *const *cells, size_t n, const char *cls_last);
void tb_doc_table_end(struct tb_doc *d);
/* Categorical x axis: xrange + xtics labels at 1..n. */
void tb_gnuplot_xtics(FILE *s, char **labels, size_t n);
void tb_html_escape(FILE *f, const char *s);
void tb_html_begin(FILE *f, const char *title);
void tb_html_end(FILE *f);
int tb_html_inline_svg(FILE *f, const char *svg_path);
int tb_mkdir_p(const char *dir, struct tb_err *err);

/* ---- results store: SQLite (a file, the default) or PostgreSQL (a team's
 * shared database), docs/store.md */
#define TB_STORE_SCHEMA_VERSION 4
struct tb_store;
/* Opens (creating) the store and migrates it to TB_STORE_SCHEMA_VERSION.
 * name: an SQLite file path, or "postgresql://..." / "postgres://..." (libpq
 * URI) or a libpq key=value conninfo ("host=/run/pg dbname=tb"). */
int tb_store_open(const char *name, struct tb_store **out, struct tb_err *err);
void tb_store_close(struct tb_store *st);
/* The store's name for messages (a PostgreSQL password shows as ***). */
const char *tb_store_name(const struct tb_store *st);
int tb_store_schema_version(struct tb_store *st);
/* Ingests one results source (strictly: a torn file is rejected) in one
 * transaction. release NULL = the manifest's git commit. *added = new rows.
 * A run already stored under another release: TB_EINVAL naming the run and
 * both releases (under the same release: a no-op, *added = 0). */
int tb_store_add(struct tb_store *st, const char *path, const char *release, size_t *added,
                 struct tb_err *err);
/* Records release's commit date (ISO 8601, stored as UTC
 * "YYYY-MM-DDTHH:MM:SSZ"); TB_EINVAL when it is not ISO 8601 or the release
 * already has another date. */
int tb_store_set_release_date(struct tb_store *st, const char *release, const char *iso8601,
                              struct tb_err *err);
/* ISO 8601 date or date-time -> UTC "YYYY-MM-DDTHH:MM:SSZ". */
int tb_store_parse_date(const char *s, char *out, size_t n, struct tb_err *err);
/* Number of stored metric rows / runs; -1 when unreadable. */
long tb_store_count(struct tb_store *st);
long tb_store_count_runs(struct tb_store *st);
/* The series kind's name in the schema ("samples", ...) and back. */
const char *tb_series_kind_name(enum tb_series_kind k);
int tb_series_kind_parse(const char *s, enum tb_series_kind *out);
/* Table of medians across releases. metric/profile NULL = all. */
int tb_store_history(struct tb_store *st, const char *metric, const char *profile, FILE *out,
                     struct tb_err *err);
/* Dashboard: per configuration and metric, a trend chart (one series per
 * machine identity, the 95 % CI of each release's median as error bars),
 * then latest vs previous release verdicts. Releases are ordered by
 * release_order (comma-separated, every stored release named once) when
 * given, else by their commit dates when every release has one, else by
 * each release's earliest run date (the page says which). */
int tb_store_dashboard(struct tb_store *st, const char *out_dir, const struct tb_cmp_opts *o,
                       const char *release_order, FILE *log, struct tb_err *err);

#endif

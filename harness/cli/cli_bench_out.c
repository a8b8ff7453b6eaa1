/* tierbench bench output, llama-bench's formats: md (a Markdown table, the
 * default), csv (libcsv), json (one array), jsonl (one object per line) and
 * sql (CREATE TABLE IF NOT EXISTS + one INSERT per row). Every format but md
 * carries the same fields, named as llama-bench names its own where they
 * mean the same (model_size, model_n_params, n_threads, n_prompt, n_gen,
 * n_depth, avg_ns, stddev_ns, avg_ts, stddev_ts, samples_ns, samples_ts). A
 * figure that could not be read is null (json), an empty cell (csv), NULL
 * (sql) or "unavailable: <reason>" (md): never nan. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness/cli/cli_bench.h"
#include "harness/tb_results.h"     /* tb_json_number */
#include "harness/tb_results_csv.h" /* tb_csv_row */

#define SQL_TABLE "tierbench_bench"

enum cell_kind { C_TEXT, C_INT, C_NUM, C_BOOL };

struct cell {
    const char *name;
    enum cell_kind kind;
    const char *s; /* C_TEXT; "" = null for the *_unavailable fields */
    long long i;   /* C_INT (LLONG_MIN = unknown), C_BOOL */
    double v;      /* C_NUM (NaN = unknown) */
};

#define N_CELLS 37
#define T(n, x) ((struct cell){.name = n, .kind = C_TEXT, .s = (x)})
#define I(n, x) ((struct cell){.name = n, .kind = C_INT, .i = (long long)(x)})
#define IU(n, x)                                                                                   \
    ((struct cell){.name = n, .kind = C_INT, .i = (x) < 0 ? LLONG_MIN : (long long)(x)})
#define D(n, x) ((struct cell){.name = n, .kind = C_NUM, .v = (x)})
#define B(n, x) ((struct cell){.name = n, .kind = C_BOOL, .i = (x) != 0})

/* The fields of one row, in output order. */
static void row_cells(const struct tb_cbench_row *r, struct cell *c)
{
    const struct cell cells[N_CELLS] = {
        T("build_commit", TB_GIT_COMMIT),
        T("tb_version", TB_VERSION),
        T("model_filename", r->model),
        T("model_type", r->model_type),
        T("weight_type", r->weight_type),
        I("model_size", r->model_size),
        I("model_n_params", r->model_n_params),
        IU("model_file_bytes", r->model_file_bytes),
        T("backend", r->backend),
        T("isa", r->isa),
        I("n_threads", r->threads),
        T("type_kv", r->kv_type),
        B("repack", r->repack),
        I("n_prompt", r->n_prompt),
        I("n_gen", r->n_gen),
        I("n_depth", r->n_depth),
        T("test", r->test),
        I("reps", r->reps),
        T("test_time", r->test_time),
        D("avg_ns", r->avg_ns),
        D("stddev_ns", r->stddev_ns),
        D("avg_ts", r->avg_ts),
        D("stddev_ts", r->stddev_ts),
        D("median_ts", r->median_ts),
        D("min_ts", r->min_ts),
        D("max_ts", r->max_ts),
        D("gflops_per_s", r->gflops),
        D("weight_gbytes_per_s", r->weight_gbs),
        D("stream_triad_gbs", r->stream),
        D("stream_triad_gbs_before", r->stream_before),
        D("stream_triad_gbs_after", r->stream_after),
        D("stream_share", r->stream_share),
        T("stream_unavailable", r->stream_reason),
        IU("peak_rss_kib", r->peak_rss_kib),
        I("rss_limit_kib", r->rss_limit_kib),
        B("rss_peak_reset", r->rss_reset),
        I("kv_cache_bytes", r->kv_bytes),
    };
    memcpy(c, cells, sizeof cells);
}

static int unknown(const struct cell *c)
{
    return (c->kind == C_NUM && !isfinite(c->v)) || (c->kind == C_INT && c->i == LLONG_MIN) ||
           (c->kind == C_TEXT && !*c->s && strstr(c->name, "unavailable"));
}

/* ---- md */

/* Columns: width < 0 left-aligned (text), > 0 right-aligned (numbers). */
static const struct {
    const char *name;
    int width;
} k_md[] = {
    {"model", -30}, {"size", 10},   {"params", 10}, {"backend", -7},
    {"isa", -6},    {"threads", 7}, {"type", -6},   {"test", 15},
    {"t/s", 20},    {"median", 10}, {"rate", 16},   {"STREAM triad", -26},
};
#define N_MD ((int)(sizeof k_md / sizeof k_md[0]))

static void md_header(FILE *f)
{
    fputc('|', f);
    for (int i = 0; i < N_MD; i++)
        fprintf(f, " %*s |", k_md[i].width, k_md[i].name);
    fputs("\n|", f);
    for (int i = 0; i < N_MD; i++) {
        fputc(' ', f);
        for (int w = abs(k_md[i].width); w > 1; w--)
            fputc('-', f);
        fprintf(f, "%c |", k_md[i].width > 0 ? ':' : '-');
    }
    fputc('\n', f);
}

static void md_row(FILE *f, const struct tb_cbench_row *r)
{
    char size[32], params[32], threads[16], ts[64], median[32], rate[32], stream[240];
    const double mib = (double)r->model_size / 1048576.0;
    if (mib < 1024)
        snprintf(size, sizeof size, "%.2f MiB", mib);
    else
        snprintf(size, sizeof size, "%.2f GiB", mib / 1024);
    if (r->model_n_params < 1000000000ull)
        snprintf(params, sizeof params, "%.2f M", (double)r->model_n_params / 1e6);
    else
        snprintf(params, sizeof params, "%.2f B", (double)r->model_n_params / 1e9);
    snprintf(threads, sizeof threads, "%d", r->threads);
    snprintf(ts, sizeof ts, "%.2f ± %.2f", r->avg_ts, r->stddev_ts);
    snprintf(median, sizeof median, "%.2f", r->median_ts);
    const int tg_only = r->n_gen > 0 && r->n_prompt == 0;
    if (tg_only)
        snprintf(rate, sizeof rate, "%.2f GB/s", r->weight_gbs);
    else
        snprintf(rate, sizeof rate, "%.1f GFLOP/s", r->gflops);
    if (isnan(r->stream))
        snprintf(stream, sizeof stream, "unavailable: %s", r->stream_reason);
    else if (tg_only && !isnan(r->stream_share))
        snprintf(stream, sizeof stream, "%.1f%% of %.1f GB/s", 100 * r->stream_share, r->stream);
    else
        snprintf(stream, sizeof stream, "%.1f GB/s", r->stream);
    const char *v[N_MD] = {r->model,       size,    params, r->backend, r->isa, threads,
                           r->weight_type, r->test, ts,     median,     rate,   stream};
    fputc('|', f);
    for (int i = 0; i < N_MD; i++) /* "±" is two bytes in UTF-8: one more byte of width */
        fprintf(f, " %*s |", k_md[i].width + (i == 8), v[i]);
    fputc('\n', f);
}

/* ---- json / jsonl */

static json_t *json_row(const struct tb_cbench_row *r)
{
    struct cell c[N_CELLS];
    row_cells(r, c);
    json_t *o = json_object();
    for (int i = 0; o && i < N_CELLS; i++) {
        json_t *v = unknown(&c[i])        ? json_null()
                    : c[i].kind == C_TEXT ? json_string(c[i].s)
                    : c[i].kind == C_INT  ? json_integer((json_int_t)c[i].i)
                    : c[i].kind == C_BOOL ? json_boolean(c[i].i)
                                          : tb_json_number(c[i].v);
        json_object_set_new(o, c[i].name, v);
    }
    json_t *ns = json_array(), *tps = json_array();
    for (int i = 0; ns && tps && i < r->reps; i++) {
        json_array_append_new(ns, json_integer((json_int_t)r->samples_ns[i]));
        json_array_append_new(tps, tb_json_number(r->samples_ts[i]));
    }
    if (o) {
        json_object_set_new(o, "samples_ns", ns ? ns : json_null());
        json_object_set_new(o, "samples_ts", tps ? tps : json_null());
    }
    return o;
}

static void json_out(FILE *f, const struct tb_cbench_row *r, int first, int lines)
{
    json_t *o = json_row(r);
    char *s = o ? json_dumps(o, lines ? JSON_COMPACT : JSON_INDENT(2)) : NULL;
    if (s && lines)
        fprintf(f, "%s\n", s);
    else if (s)
        fprintf(f, "%s%s", first ? "\n" : ",\n", s);
    free(s);
    json_decref(o);
}

/* ---- sql */

static void sql_header(FILE *f)
{
    struct tb_cbench_row none = {.model = "", .backend = ""};
    struct cell c[N_CELLS];
    row_cells(&none, c);
    fprintf(f, "CREATE TABLE IF NOT EXISTS " SQL_TABLE " (\n");
    for (int i = 0; i < N_CELLS; i++)
        fprintf(f, "  %s %s%s\n", c[i].name,
                c[i].kind == C_TEXT  ? "TEXT"
                : c[i].kind == C_NUM ? "REAL"
                                     : "INTEGER",
                i + 1 < N_CELLS ? "," : "");
    fprintf(f, ");\n\n");
}

static void sql_row(FILE *f, const struct tb_cbench_row *r)
{
    struct cell c[N_CELLS];
    row_cells(r, c);
    fprintf(f, "INSERT INTO " SQL_TABLE " (");
    for (int i = 0; i < N_CELLS; i++)
        fprintf(f, "%s%s", c[i].name, i + 1 < N_CELLS ? ", " : "");
    fprintf(f, ") VALUES (");
    for (int i = 0; i < N_CELLS; i++) {
        if (unknown(&c[i])) {
            fputs("NULL", f);
        } else if (c[i].kind == C_TEXT) {
            fputc('\'', f);
            for (const char *p = c[i].s; *p; p++)
                fputs(*p == '\'' ? "''" : (char[2]){*p, 0}, f);
            fputc('\'', f);
        } else if (c[i].kind == C_NUM) {
            fprintf(f, "%.17g", c[i].v);
        } else {
            fprintf(f, "%lld", c[i].i);
        }
        fputs(i + 1 < N_CELLS ? ", " : "", f);
    }
    fprintf(f, ");\n");
}

/* ---- csv */

static void csv_cells(const struct tb_cbench_row *r, struct tb_csv_cell *out, const char **names)
{
    struct cell c[N_CELLS];
    row_cells(r, c);
    for (int i = 0; i < N_CELLS; i++) {
        names[i] = c[i].name;
        out[i] = c[i].kind == C_TEXT   ? TB_CSV_S(c[i].s)
                 : c[i].kind == C_NUM  ? TB_CSV_D(c[i].v)
                 : c[i].i == LLONG_MIN ? TB_CSV_I(INT_MIN)
                                       : TB_CSV_I(c[i].i);
    }
}

/* ---- the printers */

void tb_cbench_out_begin(struct tb_cbench_out *o, FILE *f, enum tb_cbench_fmt fmt)
{
    *o = (struct tb_cbench_out){.f = f, .fmt = fmt};
    switch (fmt) {
    case TB_CBENCH_MD: md_header(f); break;
    case TB_CBENCH_CSV: {
        struct tb_cbench_row none = {.model = "", .backend = ""};
        struct tb_csv_cell cells[N_CELLS];
        const char *names[N_CELLS];
        csv_cells(&none, cells, names);
        tb_csv_header(f, names, N_CELLS);
        break;
    }
    case TB_CBENCH_JSON: fputc('[', f); break;
    case TB_CBENCH_JSONL: break;
    case TB_CBENCH_SQL: sql_header(f); break;
    }
    fflush(f);
}

void tb_cbench_out_row(struct tb_cbench_out *o, const struct tb_cbench_row *r)
{
    switch (o->fmt) {
    case TB_CBENCH_MD: md_row(o->f, r); break;
    case TB_CBENCH_CSV: {
        struct tb_csv_cell cells[N_CELLS];
        const char *names[N_CELLS];
        csv_cells(r, cells, names);
        tb_csv_row(o->f, cells, N_CELLS);
        break;
    }
    case TB_CBENCH_JSON: json_out(o->f, r, o->rows == 0, 0); break;
    case TB_CBENCH_JSONL: json_out(o->f, r, o->rows == 0, 1); break;
    case TB_CBENCH_SQL: sql_row(o->f, r); break;
    }
    o->rows++;
    fflush(o->f);
}

void tb_cbench_out_note(struct tb_cbench_out *o, const char *line)
{
    if (o->fmt != TB_CBENCH_MD)
        return;
    const size_t n = strlen(line);
    char *p = realloc(o->notes, o->notes_len + n + 2);
    if (!p)
        return;
    o->notes = p;
    memcpy(p + o->notes_len, line, n);
    p[o->notes_len + n] = '\n';
    p[o->notes_len + n + 1] = '\0';
    o->notes_len += n + 1;
}

int tb_cbench_out_end(struct tb_cbench_out *o)
{
    if (o->fmt == TB_CBENCH_JSON)
        fputs(o->rows ? "\n]\n" : "]\n", o->f);
    if (o->fmt == TB_CBENCH_MD) {
        fputc('\n', o->f);
        for (const char *p = o->notes; p && *p;) {
            const char *nl = strchr(p, '\n');
            fprintf(o->f, "memory: %.*s\n", (int)(nl - p), p);
            p = nl + 1;
        }
        fprintf(o->f, "build: %s (tierbench %s)\n", TB_GIT_COMMIT, TB_VERSION);
    }
    free(o->notes);
    o->notes = NULL;
    o->notes_len = 0;
    fflush(o->f);
    return ferror(o->f) ? -1 : 0;
}

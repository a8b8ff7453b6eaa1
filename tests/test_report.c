/* tierbench report: every chart (CSV + SVG with units, machine and date),
 * notes for what was not measured, qualification tables with file hashes,
 * a self-contained HTML file, ASCII charts, and the gnuplot-missing path
 * (PATH without gnuplot: clear message, the rest still written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>
#include <regex.h>
#include <sqlite3.h>

#include "csv_table.h"
#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "tb_test.h"

static char *read_in(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return fx_slurp(p);
}

static int exists_in(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, R_OK) == 0;
}

/* A tierbench-kernels JSON with both roofline ceilings. */
static const char kernels_json[] =
    "{\"context\": {\"date\": \"2026-01-02\", \"host_name\": \"testhost\"}, \"benchmarks\": ["
    "{\"name\": \"roofline/membw_triad/t1/iterations:1/repeats:1/real_time\", \"run_name\": "
    "\"roofline/membw_triad/t1\", \"run_type\": \"iteration\", \"real_time\": 1, "
    "\"time_unit\": \"ns\", \"bytes_per_second\": 2.0e10},"
    "{\"name\": \"roofline/fma_f32/avx2/t1/iterations:1/repeats:1/real_time\", "
    "\"run_name\": \"roofline/fma_f32/avx2/t1\", \"run_type\": \"iteration\", "
    "\"real_time\": 1, \"time_unit\": \"ns\", \"flop_per_second\": 1.0e11}]}\n";

static void test_full(void)
{
    char run[512], kj[512], out[512];
    tb_test_path(run, sizeof run, "rep-run", "");
    tb_test_path(kj, sizeof kj, "rep-kernels", ".json");
    tb_test_path(out, sizeof out, "rep-out", "");
    struct fx_run f = {.commit = "feedbeef",
                       .scale = 1.2,
                       .n = 25,
                       .seed = 3,
                       .backend = "opencl",
                       .with_coverage = 1,
                       .with_energy = 1,
                       .off_op = "rope"};
    CHECK(fx_write_run(run, &f) == 0);
    fx_write_text(kj, kernels_json);
    struct tb_rsrc src[2];
    struct tb_err err = {0};
    CHECKF(tb_rsrc_load(run, 0, &src[0], &err) == TB_OK, "%s", err.msg);
    CHECKF(tb_rsrc_load(kj, 0, &src[1], &err) == TB_OK, "%s", err.msg);
    CHECK(src[1].is_gbench && !src[0].is_gbench);
    struct tb_report_opts o = {0};
    CHECKF(tb_report_write(src, 2, out, &o, &err) == TB_OK, "%s", err.msg);

    static const char *const charts[] = {"latency_0", "latency_1", "tokens_per_s", "energy",
                                         "pareto",    "roofline",  "coverage"};
    const int gp = tb_gnuplot_available();
    if (!gp)
        printf("gnuplot not installed: SVG checks skipped (CSV/Markdown/HTML still checked)\n");
    for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.csv", charts[i]);
        char *csv = read_in(out, name);
        CHECKF(csv && fx_count(csv, "\n") >= 2, "%s: header + data rows", name);
        free(csv);
        if (!gp)
            continue;
        snprintf(name, sizeof name, "%s.svg", charts[i]);
        char *svg = read_in(out, name);
        CHECKF(svg && strstr(svg, "<svg"), "%s", name);
        /* every chart names the machine and the date */
        CHECKF(svg && strstr(svg, "Test CPU 9000 (testhost)") &&
                   strstr(svg, "2026-01-02T03:04:05Z"),
               "%s caption", name);
        free(svg);
    }
    char *html = read_in(out, "index.html");
    char *md = read_in(out, "index.md");
    CHECK(html && md);
    if (html && md) {
        if (gp) {
            CHECK(fx_count(html, "<svg") == 7);
            /* units on the axes */
            CHECK(strstr(html, "latency (ms") && strstr(html, "tokens/s (log scale)") &&
                  strstr(html, "J/token") && strstr(html, "GFLOP/s") && strstr(html, "FLOP/byte"));
            /* roofline ceilings from the kernels JSON: 20 GB/s, 100 GFLOP/s */
            CHECK(strstr(html, "memory bandwidth: 20.0 GB/s") &&
                  strstr(html, "f32 FMA peak: 100.0 GFLOP/s"));
            CHECK(fx_count(md, "](") >= 7 && strstr(md, "![Roofline"));
        }
        CHECK(!strstr(html, "ceilings were not measured"));
        CHECK(!strstr(html, "Energy per token unavailable"));
        /* self-contained: nothing fetched from elsewhere */
        CHECK(!strstr(html, "<script") && !strstr(html, "<link") && !strstr(html, "src=") &&
              !strstr(html, "url(") && !strstr(html, "@import"));
        CHECK(!strstr(html, "<?xml"));
        /* qualification: every SLO, value, threshold, verdict; environment;
         * result file hashes */
        CHECK(strstr(md, "### Profile wearable: INCOMPLETE") &&
              strstr(md, "### Profile phone-midrange: INCOMPLETE"));
        CHECK(strstr(md, "| ttft_ms <= 1000 | llm-prefill | 1080 | <= 1000 |  | FAIL |") != NULL);
        CHECK(strstr(md, "| joules_per_token <= 0.5 |  | - | <= 0.5 | no energy source | "
                         "UNMEASURED |") != NULL);
        CHECK(strstr(html, "<td class=\"FAIL\">FAIL</td>") != NULL);
        CHECK(strstr(md, "0.1.0 (commit feedbeef)") && strstr(md, "Linux 6.1 x86_64"));
        char h[TB_HASH_STR_MAX];
        char p[700];
        snprintf(p, sizeof p, "%s/results.jsonl", run);
        CHECK(tb_file_hash(p, h, NULL) == TB_OK && strstr(md, h));
        snprintf(p, sizeof p, "%s/manifest.json", run);
        CHECK(tb_file_hash(p, h, NULL) == TB_OK && strstr(md, h));
        CHECK(strstr(md, src[1].hash) != NULL);
    }
    free(html);
    free(md);
    tb_rsrc_free(&src[0]);
    tb_rsrc_free(&src[1]);
}

/* Without energy, coverage or kernel ceilings: notes say what is missing. */
static void test_unmeasured(void)
{
    char run[512], out[512];
    tb_test_path(run, sizeof run, "rep-plain", "");
    tb_test_path(out, sizeof out, "rep-plain-out", "");
    struct fx_run f = {.commit = "c1", .scale = 1.0, .n = 8, .seed = 4, .backend = "cpu"};
    CHECK(fx_write_run(run, &f) == 0);
    struct tb_rsrc src;
    struct tb_err err = {0};
    CHECK(tb_rsrc_load(run, 0, &src, &err) == TB_OK);
    CHECK(tb_report_write(&src, 1, out, NULL, &err) == TB_OK);
    char *md = read_in(out, "index.md");
    CHECK(md && strstr(md, "Energy per token unavailable") &&
          strstr(md, "unavailable: no powercap in this test"));
    CHECK(md && strstr(md, "Roofline ceilings were not measured"));
    CHECK(md && strstr(md, "No coverage data in these results"));
    CHECK(!exists_in(out, "energy.svg") && !exists_in(out, "coverage.svg"));
    free(md);
    tb_rsrc_free(&src);
}

static void test_cli(void)
{
    const char *bin = fx_bin();
    if (!bin)
        return;
    char run[512], out[512], log[512], cmd[4096];
    tb_test_path(run, sizeof run, "rep-cli", "");
    tb_test_path(out, sizeof out, "rep-cli-out", "");
    tb_test_path(log, sizeof log, "rep-cli", ".log");
    struct fx_run f = {.commit = "c2", .scale = 1.0, .n = 8, .seed = 9, .backend = "cpu"};
    CHECK(fx_write_run(run, &f) == 0);

    /* PATH without gnuplot: clear message, exit 0, tables + CSVs written */
    snprintf(cmd, sizeof cmd, "PATH=/nonexistent '%s' report '%s' -o '%s' > '%s' 2>&1", bin, run,
             out, log);
    CHECK(fx_system(cmd) == 0);
    char *txt = fx_slurp(log);
    CHECKF(txt && strstr(txt, "gnuplot not found on PATH"), "%s", txt ? txt : "");
    free(txt);
    char *html = read_in(out, "index.html");
    CHECK(html && strstr(html, "gnuplot not found on PATH") && !strstr(html, "<svg") &&
          strstr(html, "Chart not drawn") && strstr(html, "<h2>Qualification</h2>"));
    free(html);
    CHECK(exists_in(out, "tokens_per_s.csv") && exists_in(out, "latency_0.csv") &&
          !exists_in(out, "tokens_per_s.svg"));

    if (tb_gnuplot_available()) {
        /* gnuplot's messages never reach the terminal: one line says how
         * many charts were drawn and where the messages are */
        snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' > '%s' 2>&1", bin, run, out, log);
        CHECK(fx_system(cmd) == 0);
        txt = fx_slurp(log);
        CHECKF(txt && strstr(txt, "report: 5 of 5 charts drawn; ") && !strstr(txt, "arning"), "%s",
               txt ? txt : "");
        free(txt);
        CHECK(exists_in(out, "tokens_per_s.svg"));
    }
    snprintf(cmd, sizeof cmd, "'%s' report '%s' > '%s' 2>&1", bin, run, log);
    CHECK(fx_system(cmd) == 2); /* -o missing */
    snprintf(cmd, sizeof cmd, "'%s' report /nonexistent -o '%s' > '%s' 2>&1", bin, out, log);
    CHECK(fx_system(cmd) == 2);
}

/* ---- a CSV the report wrote, read back through libcsv (csv_table.h) */
static int t_load(const char *dir, const char *name, struct csv_table *t)
{
    char *text = read_in(dir, name);
    const int rc = csv_table_parse(text, t);
    free(text);
    return rc;
}

static const char *t_get(const struct csv_table *t, size_t row, const char *name)
{
    const int c = csv_table_col(t, name);
    return c >= 0 && row < t->rows && (size_t)c < t->cols[row] && t->cell[row][c] ? t->cell[row][c]
                                                                                  : NULL;
}

/* distinct values of a column in rows 1.. */
static size_t t_distinct(const struct csv_table *t, const char *name)
{
    size_t n = 0;
    for (size_t r = 1; r < t->rows; r++) {
        const char *v = t_get(t, r, name);
        int seen = 0;
        for (size_t q = 1; q < r && !seen; q++) {
            const char *w = t_get(t, q, name);
            seen = v && w && !strcmp(v, w);
        }
        n += v && !seen;
    }
    return n;
}

/* The columns people filter on, named for SQL (no quoting needed), loaded
 * into SQLite by those names and queried. */
static void check_sql(const char *dir, const char *name, const char *query, long want)
{
    struct csv_table t;
    CHECKF(t_load(dir, name, &t) == 0 && t.rows > 1, "%s", name);
    static const char *const need[] = {
        "status",  "profile",     "workload", "prompt", "depth", "model", "weight_type",
        "backend", "device_kind", "threads",  "median", "p99",   "tok_s", "verdict"};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
        CHECKF(csv_table_col(&t, need[k]) >= 0, "%s: no column %s", name, need[k]);
    regex_t re;
    CHECK(regcomp(&re, "^[a-z][a-z0-9_]*$", REG_EXTENDED | REG_NOSUB) == 0);
    char create[4096] = "CREATE TABLE t (", ins[4096] = "INSERT INTO t VALUES (";
    for (size_t c = 0; t.rows && c < t.cols[0]; c++) {
        CHECKF(t.cell[0][c] && regexec(&re, t.cell[0][c], 0, NULL, 0) == 0, "%s: column '%s'", name,
               t.cell[0][c] ? t.cell[0][c] : "");
        const size_t a = strlen(create), b = strlen(ins);
        snprintf(create + a, sizeof create - a, "%s%s", c ? ", " : "", t.cell[0][c]);
        snprintf(ins + b, sizeof ins - b, "%s?", c ? ", " : "");
    }
    regfree(&re);
    strcat(create, ")");
    strcat(ins, ")");
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECKF(sqlite3_exec(db, create, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", create,
           sqlite3_errmsg(db));
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, ins, -1, &st, NULL) == SQLITE_OK);
    for (size_t r = 1; st && r < t.rows; r++) {
        sqlite3_reset(st);
        for (size_t c = 0; c < t.cols[0]; c++) {
            const char *v = c < t.cols[r] ? t.cell[r][c] : NULL;
            char *end = NULL;
            const double d = v && *v ? strtod(v, &end) : 0;
            if (v && *v && end && !*end)
                sqlite3_bind_double(st, (int)c + 1, d);
            else
                sqlite3_bind_text(st, (int)c + 1, v ? v : "", -1, SQLITE_TRANSIENT);
        }
        CHECK(sqlite3_step(st) == SQLITE_DONE);
    }
    sqlite3_finalize(st);
    sqlite3_stmt *q = NULL;
    CHECKF(sqlite3_prepare_v2(db, query, -1, &q, NULL) == SQLITE_OK, "%s: %s", query,
           sqlite3_errmsg(db));
    long got = -1;
    if (q && sqlite3_step(q) == SQLITE_ROW)
        got = sqlite3_column_int64(q, 0);
    CHECKF(got == want, "%s: %s -> %ld, want %ld", name, query, got, want);
    sqlite3_finalize(q);
    sqlite3_close(db);
    csv_table_free(&t);
}

/* Labels of a chart's categories: one per configuration, none empty, none
 * repeated, none ending in '/'. */
static void check_labels(const struct csv_table *t, const char *name, size_t want)
{
    CHECKF(t_distinct(t, "label") == want && t_distinct(t, "category") == want,
           "%s: %zu labels, %zu categories, want %zu", name, t_distinct(t, "label"),
           t_distinct(t, "category"), want);
    for (size_t r = 1; r < t->rows; r++) {
        const char *l = t_get(t, r, "label");
        CHECKF(l && *l && l[strlen(l) - 1] != '/' && !strstr(l, "  "), "%s: label '%s'", name,
               l ? l : "");
    }
}

static const char kernels_int8_json[] =
    "{\"context\": {\"date\": \"2026-01-02\"}, \"benchmarks\": ["
    "{\"name\": \"roofline/membw_triad/t2/iterations:1/repeats:1/real_time\", \"run_type\": "
    "\"iteration\", \"real_time\": 1, \"time_unit\": \"ns\", \"bytes_per_second\": 2.0e10},"
    "{\"name\": \"roofline/fma_f32/avx512/t2/iterations:1/repeats:1/real_time\", \"run_type\": "
    "\"iteration\", \"real_time\": 1, \"time_unit\": \"ns\", \"flop_per_second\": 1.0e9},"
    "{\"name\": \"roofline/int8_vpdpbusd/avx512/t2/iterations:1/repeats:1/real_time\", "
    "\"run_type\": \"iteration\", \"real_time\": 1, \"time_unit\": \"ns\", \"op_per_second\": "
    "4.0e11}]}\n";

/* A run with prefill at three prompt lengths per profile, an UNSUPPORTED
 * profile, int8-weight records and the int8 ceiling: every chart and CSV
 * names each configuration once. */
static void test_configs(void)
{
    char run[512], kj[512], out[512];
    tb_test_path(run, sizeof run, "rep-cfg", "");
    tb_test_path(kj, sizeof kj, "rep-cfg-kernels", ".json");
    tb_test_path(out, sizeof out, "rep-cfg-out", "");
    struct fx_run f = {.commit = "c0ffee",
                       .scale = 1.0,
                       .n = 12,
                       .seed = 11,
                       .backend = "opencl",
                       .with_coverage = 1,
                       .with_energy = 1,
                       .off_op = "rope",
                       .multi_prompt = 1};
    CHECK(fx_write_run(run, &f) == 0);
    fx_write_text(kj, kernels_int8_json);
    struct tb_rsrc src[2];
    struct tb_err err = {0};
    CHECKF(tb_rsrc_load(run, 0, &src[0], &err) == TB_OK, "%s", err.msg);
    CHECKF(tb_rsrc_load(kj, 0, &src[1], &err) == TB_OK, "%s", err.msg);
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logbuf, &loglen);
    struct tb_report_opts o = {.log = log};
    CHECKF(tb_report_write(src, 2, out, &o, &err) == TB_OK, "%s", err.msg);
    fclose(log);
    tb_rsrc_free(&src[0]);
    tb_rsrc_free(&src[1]);
    const int gp = tb_gnuplot_available();
    /* the terminal gets one line about the charts, not gnuplot's output */
    CHECKF(!gp || (logbuf && fx_count(logbuf, "\n") == 1 && strstr(logbuf, "7 of 7 charts drawn")),
           "log: %s", logbuf ? logbuf : "");
    free(logbuf);

    /* latency: one box per configuration: wearable p16, p128, p512 prefill
     * and the decode step (depth 128) */
    struct csv_table t;
    CHECK(t_load(out, "latency_0.csv", &t) == 0);
    check_labels(&t, "latency_0", 4);
    CHECKF(t.rows == 1 + 4 * f.n, "latency_0.csv rows %zu", t.rows);
    int seen[4] = {0};
    static const char *const want_lat[] = {"wearable llm-prefill p16 d0 q4_0 opencl/gpu t2",
                                           "wearable llm-prefill p128 d0 q4_0 opencl/gpu t2",
                                           "wearable llm-prefill p512 d0 q4_0 opencl/gpu t2",
                                           "wearable llm-decode p128 d128 q4_0 opencl/gpu t2"};
    for (size_t r = 1; r < t.rows; r++)
        for (int k = 0; k < 4; k++)
            seen[k] |= t_get(&t, r, "label") && strstr(t_get(&t, r, "label"), want_lat[k]) != NULL;
    CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
    CHECK(t_get(&t, 1, "device_kind") && !strcmp(t_get(&t, 1, "device_kind"), "gpu"));
    csv_table_free(&t);
    if (gp) {
        char *svg = read_in(out, "latency_0.svg");
        for (int k = 0; k < 4; k++) /* each category's tic label once */
            CHECKF(svg && fx_count(svg, want_lat[k]) == 1, "latency_0.svg: '%s' x%zu", want_lat[k],
                   svg ? fx_count(svg, want_lat[k]) : 0);
        free(svg);
    }

    /* tokens/s: 8 configurations (2 profiles x 3 prompts + decode) */
    CHECK(t_load(out, "tokens_per_s.csv", &t) == 0);
    check_labels(&t, "tokens_per_s", 8);
    for (size_t r = 1; r < t.rows; r++)
        CHECK(t_get(&t, r, "device_kind") && !strcmp(t_get(&t, r, "device_kind"), "gpu") &&
              !strcmp(t_get(&t, r, "backend"), "opencl"));
    csv_table_free(&t);
    check_sql(out, "tokens_per_s.csv",
              "SELECT COUNT(*) FROM t WHERE status = 'ok' AND workload = 'llm-prefill' AND prompt "
              "= 512 AND depth = 0 AND device_kind = 'gpu' AND backend = 'opencl' AND threads = 2 "
              "AND tok_s > 0",
              2);
    check_sql(out, "latency_0.csv",
              "SELECT COUNT(DISTINCT prompt) FROM t WHERE workload = 'llm-prefill'", 3);
    check_sql(out, "coverage.csv",
              "SELECT COUNT(*) FROM t WHERE verdict = 'unsupported' AND status = 'unsupported' AND "
              "reason LIKE 'none of the backends cuda%'",
              2);
    /* their model never loaded: the synth spec still names the type */
    check_sql(out, "coverage.csv",
              "SELECT COUNT(*) FROM t WHERE status = 'unsupported' AND weight_type = 'f16'", 2);

    /* roofline: int8-weight points against the int8 dot roof (they sit
     * above the 1 GFLOP/s f32 roof of this JSON, under the 400 GOP/s one) */
    CHECK(t_load(out, "roofline.csv", &t) == 0);
    check_labels(&t, "roofline", 8);
    for (size_t r = 1; r < t.rows; r++) {
        const char *roof = t_get(&t, r, "ceiling"), *share = t_get(&t, r, "share_of_roof");
        CHECKF(roof && !strcmp(roof, "int8_dot") && share && atof(share) > 0 && atof(share) <= 1,
               "roofline row %zu: ceiling %s share %s", r, roof ? roof : "?", share ? share : "?");
    }
    csv_table_free(&t);

    /* Pareto: a front per workload and model family */
    CHECK(t_load(out, "pareto.csv", &t) == 0);
    CHECK(t_distinct(&t, "pareto_group") == 2);
    for (size_t g = 1; g <= 2; g++) {
        size_t front = 0;
        for (size_t r = 1; r < t.rows; r++) {
            const char *pg = t_get(&t, r, "pareto_group"), *pf = t_get(&t, r, "pareto");
            front += pg && pf && (size_t)atoi(pg) == g && atoi(pf) == 1;
        }
        CHECKF(front >= 1, "Pareto group %zu has no front", g);
    }
    csv_table_free(&t);

    /* coverage: a cell per configuration, categorical colours with a key */
    CHECK(t_load(out, "coverage.csv", &t) == 0);
    CHECK(t.rows == 1 + 10);
    csv_table_free(&t);
    char *md = read_in(out, "index.md"), *html = read_in(out, "index.html");
    CHECK(md && html);
    if (gp && html) {
        CHECK(!strstr(html, "palette") && !strstr(html, "cbtics"));
        char *svg = read_in(out, "coverage.svg");
        CHECK(svg && strstr(svg, ">silent-fallback<") && strstr(svg, ">unsupported<") &&
              strstr(svg, ">llm-prefill p512 d0<") && strstr(svg, ">llm-decode p512 d512<"));
        free(svg);
        CHECK(strstr(html, "int8 dot (int8_vpdpbusd) peak: 400.0 GOP/s") &&
              strstr(html, "f32 FMA peak: 1.0 GFLOP/s") &&
              strstr(html, "memory bandwidth: 20.0 GB/s"));
    }
    /* UNSUPPORTED: the reason, in the qualification and the results table */
    CHECKF(
        md &&
            strstr(md,
                   "### Profile gpu-datacenter: UNSUPPORTED\n\n> UNSUPPORTED: " FX_UNSUPPORTED_WHY),
        "%s", md ? md : "");
    CHECK(md && strstr(md, "| gpu-datacenter | llm-prefill | 2048 | 0 |") &&
          strstr(md, "| unsupported | " FX_UNSUPPORTED_WHY " |"));
    CHECK(md && strstr(md, "| wearable | llm-prefill | 512 | 0 | synth:stories15m:q4_0 | q4_0 | "
                           "opencl (gpu) | 2 |"));
    free(md);
    free(html);
    /* results.csv of the run itself: the backend and device kind */
    char rp[600];
    snprintf(rp, sizeof rp, "%s/results.csv", run);
    check_sql(run, "results.csv",
              "SELECT COUNT(*) FROM t WHERE backend = 'opencl' AND device_kind = 'gpu' AND prompt "
              "= 16 AND depth = 0 AND status = 'ok' AND threads = 2 AND median > 0 AND p99 > 0",
              2);
}

/* gnuplot's warnings go to the log file, not the terminal */
static void test_gnuplot_log(void)
{
    if (!tb_gnuplot_available())
        return;
    char log[512], svg[512], empty[512], script[2048];
    tb_test_path(log, sizeof log, "gp", ".log");
    tb_test_path(svg, sizeof svg, "gp", ".svg");
    tb_test_path(empty, sizeof empty, "gp-empty", ".dat");
    fx_write_text(empty, "");
    /* a warning, not an error: "Skipping data file with no valid points" */
    snprintf(script, sizeof script,
             "set terminal svg\nset output '%s'\nplot [1:2] x, '%s'\nunset output\n", svg, empty);
    struct tb_err err = {0};
    CHECKF(tb_gnuplot_run(script, log, &err) == TB_OK, "%s", err.msg);
    char *txt = fx_slurp(log);
    CHECKF(txt && strstr(txt, "arning"), "gnuplot log: %s", txt ? txt : "(none)");
    free(txt);
    CHECK(tb_gnuplot_run("this is not gnuplot\n", log, &err) == TB_EIO && strstr(err.msg, log));
}

int main(void)
{
    test_configs();
    test_gnuplot_log();
    test_full();
    test_unmeasured();
    test_cli();
    return tb_test_result("test_report");
}

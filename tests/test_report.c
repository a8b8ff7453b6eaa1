/* tierbench report: every chart (CSV + SVG with units, machine and date),
 * notes for what was not measured, qualification tables with file hashes,
 * a self-contained HTML file, ASCII charts, and the gnuplot-missing path
 * (PATH without gnuplot: clear message, the rest still written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
            CHECK(strstr(html, "measured ceilings: 20.0 GB/s, 100.0 GFLOP/s") != NULL);
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
        /* default: ASCII (dumb terminal) charts in the terminal summary */
        snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' > '%s' 2>&1", bin, run, out, log);
        CHECK(fx_system(cmd) == 0);
        txt = fx_slurp(log);
        CHECK(txt && strstr(txt, "Tokens/s per profile") && strstr(txt, "+-----") &&
              strstr(txt, "report: "));
        free(txt);
        CHECK(exists_in(out, "tokens_per_s.svg") && exists_in(out, "tokens_per_s.txt"));
    }
    snprintf(cmd, sizeof cmd, "'%s' report '%s' > '%s' 2>&1", bin, run, log);
    CHECK(fx_system(cmd) == 2); /* -o missing */
    snprintf(cmd, sizeof cmd, "'%s' report /nonexistent -o '%s' > '%s' 2>&1", bin, out, log);
    CHECK(fx_system(cmd) == 2);
}

int main(void)
{
    test_full();
    test_unmeasured();
    test_cli();
    return tb_test_result("test_report");
}

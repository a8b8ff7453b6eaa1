/* The HTML report in a real browser (Debian's chromium, headless), opened
 * from disk:
 *   1. no console messages: chromium logs every console message (and page
 *      errors) as ":CONSOLE" lines with --enable-logging=stderr; a control
 *      page with a deliberate console.error proves the detection works;
 *   2. every chart is laid out visibly: a copy of index.html with a probe
 *      script appended (the report itself has no scripts) measures every
 *      <svg> with getBoundingClientRect/getComputedStyle and counts its drawn
 *      elements; --dump-dom returns the verdicts;
 *   3. the screenshot of the whole page (window as tall as the document) is
 *      a PNG of that size, far larger than a blank page's screenshot of the
 *      same size, and at least 8 KB per chart larger than the same report
 *      rendered with its charts hidden (PNG size tracks drawn detail: flat areas
 *      compress to almost nothing), so the charts are what was drawn.
 * Skips (77) when chromium or gnuplot is not installed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "tb_browser.h"
#include "tb_test.h"

/* The text drawn in svg i, from the probe's "text I: a|b|...|" line, as a
 * malloc'd copy; NULL when the probe did not list it. */
static char *svg_text(const char *probe, int i)
{
    char tag[32];
    snprintf(tag, sizeof tag, "\ntext %d: ", i);
    const char *p = strstr(probe, tag);
    if (!p)
        return NULL;
    p += strlen(tag);
    const char *e = strchr(p, '\n');
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

/* The category labels of a chart: its texts that start with one of the
 * prefixes. Counts them; fails on an empty, repeated or '/'-ending one. */
static size_t categories(const char *texts, const char *const *prefixes, size_t np,
                         const char *chart)
{
    size_t n = 0;
    char *copy = strdup(texts ? texts : ""), *save = NULL;
    char *seen[64];
    for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        int match = 0;
        for (size_t k = 0; k < np && !match; k++)
            match = !strncmp(t, prefixes[k], strlen(prefixes[k]));
        if (!match)
            continue;
        CHECKF(t[strlen(t) - 1] != '/', "%s: label '%s' ends in '/'", chart, t);
        for (size_t j = 0; j < n && j < 64; j++)
            CHECKF(strcmp(seen[j], t), "%s: label '%s' twice", chart, t);
        if (n < 64)
            seen[n] = t;
        n++;
    }
    free(copy);
    return n;
}

/* From the rendered DOM: each chart has one category per configuration of
 * the fixture, and the roofline every ceiling of the kernels JSON. */
static void check_dom_labels(const char *probe)
{
    static const char *const wear[] = {"wearable llm-"}, *const phone[] = {"phone-midrange llm-"},
                             *const both[] = {"wearable llm-", "phone-midrange llm-"},
                             *const cols[] = {"llm-prefill p", "llm-decode p"};
    static const struct {
        int svg;
        const char *name;
        const char *const *prefixes;
        size_t np, want;
    } charts[] = {
        /* latency: 3 prompt lengths of prefill + the decode step, per profile */
        {0, "latency wearable", wear, 1, 4},
        {1, "latency phone-midrange", phone, 1, 4},
        {2, "tokens/s", both, 2, 8},
        {3, "energy (wearable only)", wear, 1, 4},
        {5, "roofline point labels", both, 2, 8},
        /* coverage columns: prefill p16 p128 p512 p2048, decode p128 p512 */
        {6, "coverage columns", cols, 2, 6},
    };
    for (size_t c = 0; c < sizeof charts / sizeof charts[0]; c++) {
        char *t = svg_text(probe, charts[c].svg);
        const size_t got = categories(t, charts[c].prefixes, charts[c].np, charts[c].name);
        CHECKF(got == charts[c].want, "%s: %zu categories drawn, want %zu", charts[c].name, got,
               charts[c].want);
        free(t);
    }
    char *roof = svg_text(probe, 5), *cov = svg_text(probe, 6);
    CHECKF(roof && strstr(roof, "|memory bandwidth: 10.0 GB/s|") &&
               strstr(roof, "|f32 FMA peak: 50.0 GFLOP/s|") &&
               strstr(roof, "|int8 dot (int8_vpdpbusd) peak: 200.0 GOP/s|"),
           "roofline ceilings: %s", roof ? roof : "(none)");
    /* the coverage key: one entry per verdict class present, full names */
    CHECKF(cov && strstr(cov, "|silent-fallback|") && strstr(cov, "|unsupported|") &&
               strstr(cov, "|verdict|"),
           "coverage key: %s", cov ? cov : "(none)");
    free(roof);
    free(cov);
}

int main(void)
{
    char bin[PATH_MAX];
    if (!tb_browser_find(bin, sizeof bin)) {
        printf("SKIP: chromium not installed (ci/install-deps.sh installs Debian's chromium "
               "package; or set TB_CHROMIUM)\n");
        return TB_SKIP_CODE;
    }
    if (!tb_gnuplot_available()) {
        printf("SKIP: gnuplot not installed: the report has no charts to check\n");
        return TB_SKIP_CODE;
    }
    char run[512], kj[512], out[512];
    tb_test_path(run, sizeof run, "browser-run", "");
    tb_test_path(kj, sizeof kj, "browser-kernels", ".json");
    tb_test_path(out, sizeof out, "browser-report", "");
    struct fx_run f = {.commit = "b1",
                       .scale = 1.0,
                       .n = 20,
                       .seed = 8,
                       .backend = "opencl",
                       .with_coverage = 1,
                       .with_energy = 1,
                       .off_op = "matmul",
                       .multi_prompt = 1};
    CHECK(fx_write_run(run, &f) == 0);
    fx_write_text(kj,
                  "{\"benchmarks\": [{\"name\": \"roofline/membw_read/t1\", \"run_type\": "
                  "\"iteration\", \"real_time\": 1, \"time_unit\": \"ns\", \"bytes_per_second\": "
                  "1e10}, {\"name\": \"roofline/fma_f32/avx2/t1\", \"run_type\": \"iteration\", "
                  "\"real_time\": 1, \"time_unit\": \"ns\", \"flop_per_second\": 5e10}, "
                  "{\"name\": \"roofline/int8_vpdpbusd/avx512/t1\", \"run_type\": "
                  "\"iteration\", \"real_time\": 1, \"time_unit\": \"ns\", \"op_per_second\": "
                  "2e11}]}\n");
    struct tb_rsrc src[2];
    struct tb_err err = {0};
    int rc = tb_rsrc_load(run, 0, &src[0], &err);
    if (!rc)
        rc = tb_rsrc_load(kj, 0, &src[1], &err);
    CHECKF(rc == TB_OK, "%s", err.msg);
    if (rc)
        return tb_test_result("test_report_browser");
    CHECKF(tb_report_write(src, 2, out, NULL, &err) == TB_OK, "%s", err.msg);
    tb_rsrc_free(&src[0]);
    tb_rsrc_free(&src[1]);
    char index[700], probe[700], dom[700], log[700], url[800];
    snprintf(index, sizeof index, "%s/index.html", out);
    snprintf(probe, sizeof probe, "%s/probe.html", out);
    snprintf(dom, sizeof dom, "%s/dom.txt", out);
    snprintf(log, sizeof log, "%s/chromium.log", out);
    char *html = fx_slurp(index);
    CHECK(html != NULL);
    if (!html)
        return tb_test_result("test_report_browser");
    const size_t n_svg = fx_count(html, "<svg");
    CHECKF(n_svg == 7, "%zu charts in the report", n_svg);
    free(html);
    CHECK(tb_browser_probe_copy(index, probe) == 0);

    /* 1 + 2: the report itself (console) and the probed copy (layout) */
    char first[512];
    snprintf(url, sizeof url, "file://%s", index);
    rc = tb_browser_run(bin, "--dump-dom", url, dom, log);
    char *txt = fx_slurp(log), *d = fx_slurp(dom);
    CHECKF(rc == 0, "chromium exit %d: %s", rc, txt ? txt : "");
    CHECKF(tb_browser_console_lines(txt, first, sizeof first) == 0, "console: %s", first);
    CHECKF(d && fx_count(d, "<svg") == n_svg, "DOM has %zu <svg>", d ? fx_count(d, "<svg") : 0);
    free(txt);
    free(d);

    snprintf(url, sizeof url, "file://%s", probe);
    rc = tb_browser_run(bin, "--dump-dom", url, dom, log);
    txt = fx_slurp(log);
    d = fx_slurp(dom);
    CHECKF(rc == 0, "chromium exit %d", rc);
    CHECKF(tb_browser_console_lines(txt, first, sizeof first) == 0, "console: %s", first);
    char want[64];
    snprintf(want, sizeof want, "TB-PROBE charts=%zu visible=%zu ", n_svg, n_svg);
    const char *pr = d ? strstr(d, "<pre id=\"tb-probe\">") : NULL;
    if (pr)
        pr += strlen("<pre id=\"tb-probe\">");
    CHECKF(pr && !strncmp(pr, want, strlen(want)), "probe: %.600s", pr ? pr : "(no probe output)");
    long height = 0;
    if (pr) {
        const char *hp = strstr(pr, "height=");
        height = hp ? strtol(hp + 7, NULL, 10) : 0;
        const char *e = strstr(pr, "</pre>");
        printf("%.*s\n", (int)(e ? e - pr : 0), pr);
        check_dom_labels(pr);
    }
    free(txt);
    free(d);

    /* the console check can fail: a page that logs an error is caught */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/console-error.html", out);
    FILE *b = fopen(bad, "w");
    if (b) {
        fputs("<!DOCTYPE html><html><body><script>console.error('tb-probe-error');</script>"
              "</body></html>\n",
              b);
        fclose(b);
    }
    snprintf(url, sizeof url, "file://%s", bad);
    tb_browser_run(bin, "--dump-dom", url, dom, log);
    txt = fx_slurp(log);
    CHECKF(tb_browser_console_lines(txt, first, sizeof first) == 1 &&
               strstr(first, "tb-probe-error"),
           "control page: console error not detected");
    free(txt);

    /* 3: screenshot of the whole page vs a blank page of the same size */
    CHECKF(height > 2000 && height < 30000, "document height %ld", height);
    if (height > 2000 && height < 30000) {
        char shot[700], blank_shot[700], blank[700], mode[1600];
        snprintf(shot, sizeof shot, "%s/screenshot.png", out);
        snprintf(blank_shot, sizeof blank_shot, "%s/blank.png", out);
        snprintf(blank, sizeof blank, "%s/blank.html", out);
        b = fopen(blank, "w");
        if (b) {
            fputs("<!DOCTYPE html><html><body></body></html>\n", b);
            fclose(b);
        }
        snprintf(mode, sizeof mode, "--hide-scrollbars --screenshot='%s' --window-size=1280,%ld",
                 shot, height);
        snprintf(url, sizeof url, "file://%s", index);
        CHECK(tb_browser_run(bin, mode, url, dom, log) == 0);
        snprintf(mode, sizeof mode, "--hide-scrollbars --screenshot='%s' --window-size=1280,%ld",
                 blank_shot, height);
        snprintf(url, sizeof url, "file://%s", blank);
        CHECK(tb_browser_run(bin, mode, url, dom, log) == 0);
        /* the same page with the charts hidden: what the charts add */
        char hidden[700], hidden_shot[700];
        snprintf(hidden, sizeof hidden, "%s/hidden.html", out);
        snprintf(hidden_shot, sizeof hidden_shot, "%s/hidden.png", out);
        char *page = fx_slurp(index), *head = page ? strstr(page, "</head>") : NULL;
        b = head ? fopen(hidden, "w") : NULL;
        if (b) {
            fwrite(page, 1, (size_t)(head - page), b);
            fputs("<style>svg{visibility:hidden}</style>", b);
            fputs(head, b);
            fclose(b);
        }
        free(page);
        snprintf(mode, sizeof mode, "--hide-scrollbars --screenshot='%s' --window-size=1280,%ld",
                 hidden_shot, height);
        snprintf(url, sizeof url, "file://%s", hidden);
        CHECK(tb_browser_run(bin, mode, url, dom, log) == 0);
        unsigned w = 0, h = 0;
        CHECKF(tb_browser_png_size(shot, &w, &h) == 0 && w == 1280 && h == (unsigned)height,
               "screenshot %ux%u, want 1280x%ld", w, h, height);
        long s1 = tb_browser_file_size(shot), s0 = tb_browser_file_size(blank_shot),
             sh = tb_browser_file_size(hidden_shot);
        printf("screenshot %s: %ld bytes; blank page of the same size: %ld bytes; the report "
               "with its charts hidden: %ld bytes\n",
               shot, s1, s0, sh);
        CHECKF(s0 > 0 && s1 > 5 * s0 && s1 > 100000, "screenshot %ld vs blank %ld bytes", s1, s0);
        /* 7 charts of ~735x393 px: each adds well over 8 KB of detail */
        CHECKF(sh > 0 && s1 - sh >= (long)n_svg * 8000,
               "charts add too little: %ld bytes with, %ld without", s1, sh);
    }
    return tb_test_result("test_report_browser");
}

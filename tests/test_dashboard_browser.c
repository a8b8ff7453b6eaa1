/* The release dashboard in a real browser (Debian's chromium, headless),
 * opened from disk with a probe script appended to a copy of index.html:
 * for every trend chart (svg.tb-trend) it counts the series groups and the
 * error bars that are laid out with a height (their interval is wider than
 * zero), reads the y axis type and the release labels left to right, and
 * --dump-dom returns the counts. They must match what the dashboard declares
 * (data-series, data-errbars, data-axis) and what the store holds: 2
 * releases in commit-date order, 2 machines, a bar per release of the
 * latency series of the machine with runs in both, linear axes. No console
 * messages. Skips (77) when chromium is not installed. The chromium
 * helpers are tests/tb_browser.h's. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "tb_browser.h"
#include "tb_test.h"

/* One line per chart: "CHART axis=A declared=D series=S/S' errbars=E/E'
 * drawn=V releases=R1|R2" (S' and E' as declared on the <svg>). */
static const char k_probe[] =
    "<script>(function(){var s=document.querySelectorAll('svg.tb-trend'),o=[];"
    "for(var i=0;i<s.length;i++){var g=s[i],b=g.querySelectorAll('path.tb-errbar'),v=0;"
    "for(var j=0;j<b.length;j++){var r=b[j].getBoundingClientRect(),"
    "w=parseFloat(b[j].dataset.hi)>parseFloat(b[j].dataset.lo);if(r.width>0&&(!w||"
    "r.height>0))v++;}var l=[],t=g.querySelectorAll('g.tb-axis-x text.tb-release');"
    "for(var k=0;k<t.length;k++)l.push(t[k].textContent);var y=g.querySelector("
    "'g.tb-axis-y');o.push('CHART axis='+(y?y.dataset.scale:'none')+' declared='+"
    "g.dataset.axis+' series='+g.querySelectorAll('g.tb-series').length+'/'+g.dataset.series+"
    "' errbars='+b.length+'/'+g.dataset.errbars+' drawn='+v+' releases='+l.join('|'));}"
    "var p=document.createElement('pre');p.id='tb-probe';p.textContent='TB-PROBE charts='+"
    "s.length+'\\n'+o.join('\\n')+'\\nTB-END';document.body.appendChild(p);})();</script>";

static int write_run(const char *dir, const char *commit, double scale, uint64_t seed,
                     const char *topo)
{
    struct fx_run f = {.commit = commit, .scale = scale, .n = 20, .seed = seed, .backend = "cpu"};
    if (fx_write_run(dir, &f))
        return -1;
    if (!topo)
        return 0;
    char p[1024];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    json_t *m = json_load_file(p, 0, NULL);
    json_object_set_new(json_object_get(m, "environment"), "topology_hash", json_string(topo));
    int rc = m ? json_dump_file(m, p, JSON_INDENT(1)) : -1;
    json_decref(m);
    return rc;
}

int main(void)
{
    char bin[PATH_MAX];
    if (!tb_browser_find(bin, sizeof bin)) {
        printf("SKIP: chromium not installed (Debian's chromium package, or set TB_CHROMIUM)\n");
        return TB_SKIP_CODE;
    }
    const char *topo = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char db[512], r[4][512], out[512];
    tb_test_path(db, sizeof db, "dash-browser", ".db");
    tb_test_path(out, sizeof out, "dash-browser-out", "");
    for (int i = 0; i < 4; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "dash-browser-run%d", i);
        tb_test_path(r[i], sizeof r[i], tag, "");
    }
    /* machine A: v1, v2 (two runs); machine B (no topology hash): v2 */
    CHECK(write_run(r[0], "c1", 1.00, 1, topo) == 0);
    CHECK(write_run(r[1], "c2", 1.03, 2, topo) == 0);
    CHECK(write_run(r[2], "c2", 1.03, 3, topo) == 0);
    CHECK(write_run(r[3], "c2", 1.05, 4, NULL) == 0);
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    CHECKF(tb_store_open(db, &st, &err) == TB_OK, "%s", err.msg);
    if (!st)
        return tb_test_result("test_dashboard_browser");
    size_t added = 0;
    static const char *const rel[] = {"v1", "v2", "v2", "v2"};
    for (int i = 3; i >= 0; i--) /* newest first: order must come from the dates */
        CHECKF(tb_store_add(st, r[i], rel[i], &added, &err) == TB_OK, "%s", err.msg);
    CHECK(tb_store_set_release_date(st, "v1", "2026-01-10", &err) == TB_OK);
    CHECK(tb_store_set_release_date(st, "v2", "2026-02-10", &err) == TB_OK);
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    CHECKF(tb_store_dashboard(st, out, &o, NULL, NULL, &err) == TB_OK, "%s", err.msg);
    tb_store_close(st);

    char index[700], probe[700], dom[700], log[700], url[800];
    snprintf(index, sizeof index, "%s/index.html", out);
    snprintf(probe, sizeof probe, "%s/probe.html", out);
    snprintf(dom, sizeof dom, "%s/dom.txt", out);
    snprintf(log, sizeof log, "%s/chromium.log", out);
    char *html = fx_slurp(index);
    char *end = html ? strstr(html, "</body>") : NULL;
    FILE *p = fopen(probe, "w");
    if (p && end) {
        fwrite(html, 1, (size_t)(end - html), p);
        fputs(k_probe, p);
        fputs(end, p);
    }
    if (p)
        fclose(p);
    free(html);
    snprintf(url, sizeof url, "file://%s", probe);
    int rc = tb_browser_run(bin, "--dump-dom", url, dom, log);
    char *lg = fx_slurp(log), *d = fx_slurp(dom);
    CHECKF(rc == 0, "chromium exit %d", rc);
    CHECKF(lg && !strstr(lg, ":CONSOLE"), "console messages: %s", lg ? lg : "");
    const char *pr = d ? strstr(d, "<pre id=\"tb-probe\">") : NULL;
    if (pr)
        pr += strlen("<pre id=\"tb-probe\">");
    CHECKF(pr && atoi(pr + 16) == 8 && fx_count(pr, "\nCHART ") == 8, "%s",
           pr ? pr : "no probe output"); /* 4 configurations x (latency, tokens/s) */
    size_t charts = 0, latency_bars = 0;
    for (const char *c = pr; c && (c = strstr(c, "\nCHART ")); c++) {
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(c + 1, "\n"), c + 1);
        int s1 = -1, s2 = -2, e1 = -1, e2 = -2, v = -1;
        const char *q = strstr(line, "series=");
        if (q)
            sscanf(q, "series=%d/%d errbars=%d/%d drawn=%d", &s1, &s2, &e1, &e2, &v);
        CHECKF(strstr(line, "axis=linear declared=linear"), "%s", line);
        CHECKF(s1 == 2 && s2 == 2, "%s", line); /* two machines */
        CHECKF(e1 == e2 && v == e1, "%s", line);
        CHECKF(strstr(line, "releases=v1|v2"), "%s", line);
        /* latency: A has a bar at v1 (20 samples) and v2 (40), B at v2 */
        latency_bars += e1 == 3;
        charts++;
    }
    CHECK(charts == 8);
    CHECKF(latency_bars == 4, "%zu latency charts with 3 bars", latency_bars);
    free(lg);
    free(d);
    return tb_test_result("test_dashboard_browser");
}

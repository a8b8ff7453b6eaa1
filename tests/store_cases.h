/* Store checks run on both back ends (test_store: SQLite, test_store_pg:
 * PostgreSQL), given the store's name (a file path or a postgresql:// URI).
 * Header-only: static functions; needs report_fixtures.h and tb_test.h. */
#ifndef TB_STORE_CASES_H
#define TB_STORE_CASES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "tb_test.h"

/* Runs tierbench with argv (NULL-terminated, argv[0] unused) and its
 * output into out_path; exit status, -1 when it did not exit. */
static int sc_run(const char *out_path, const char *const *args)
{
    const char *bin = fx_bin();
    if (!bin)
        return -1;
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid == 0) {
        FILE *o = freopen(out_path, "w", stdout);
        if (!o || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execv(bin, (char *const *)args);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A fixture run whose manifest also has environment.topology_hash (NULL:
 * none) and timestamp_utc (NULL: the fixture's). */
static int sc_write_run(const char *dir, struct fx_run *f, const char *topo, const char *date)
{
    if (fx_write_run(dir, f))
        return -1;
    if (!topo && !date)
        return 0;
    char p[1024];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    json_t *m = json_load_file(p, 0, NULL);
    json_t *env = json_object_get(m, "environment");
    if (!env) {
        json_decref(m);
        return -1;
    }
    if (topo)
        json_object_set_new(env, "topology_hash", json_string(topo));
    if (date)
        json_object_set_new(env, "timestamp_utc", json_string(date));
    int rc = json_dump_file(m, p, JSON_INDENT(1));
    json_decref(m);
    return rc;
}

/* --help everywhere, getopt errors, re-adding a run under another release. */
static void sc_cli(const char *db)
{
    if (!fx_bin())
        return;
    char run[512], out[512];
    tb_test_path(run, sizeof run, "sc-cli-run", "");
    tb_test_path(out, sizeof out, "sc-cli-out", ".txt");
    struct fx_run f = {.commit = "abc", .scale = 1.0, .n = 10, .seed = 5, .backend = "cpu"};
    CHECK(fx_write_run(run, &f) == 0);
    static const char *const helps[][4] = {{"tierbench", "store", "--help", NULL},
                                           {"tierbench", "store", "add", "--help"},
                                           {"tierbench", "history", "--help", NULL},
                                           {"tierbench", "dashboard", "-h", NULL}};
    for (int i = 0; i < 4; i++) {
        const char *a[6] = {helps[i][0], helps[i][1], helps[i][2], helps[i][3], NULL};
        CHECKF(sc_run(out, a) == 0, "%s %s", helps[i][1], helps[i][2]);
        char *t = fx_slurp(out);
        CHECKF(t && strstr(t, "usage: tierbench") && strstr(t, "--db STORE"), "%s",
               t ? t : "(none)");
        free(t);
    }
    const char *nv[] = {"tierbench", "history", "--db", NULL};
    CHECK(sc_run(out, nv) == 2);
    char *t = fx_slurp(out);
    CHECKF(t && strstr(t, "tierbench history: --db needs a value"), "%s", t ? t : "");
    free(t);
    const char *uo[] = {"tierbench", "dashboard", "-o", out, "--bogus", "--db", db, NULL};
    CHECK(sc_run(out, uo) == 2);
    t = fx_slurp(out);
    CHECKF(t && strstr(t, "option '--bogus'"), "%s", t ? t : "");
    free(t);
    const char *nd[] = {"tierbench",  "store", "add", run, "--release-date",
                        "2026-01-01", "--db",  db,    NULL};
    CHECK(sc_run(out, nd) == 2); /* a date needs the release it dates */
    const char *bd[] = {"tierbench",      "store", "add",  run, "--release", "v1.0",
                        "--release-date", "May 5", "--db", db,  NULL};
    CHECK(sc_run(out, bd) == 2);
    t = fx_slurp(out);
    CHECKF(t && strstr(t, "not ISO 8601"), "%s", t ? t : "");
    free(t);

    /* options after the files (getopt permutes), then the same run again */
    const char *add[] = {"tierbench", "store", "add", run, "--release", "v1.0", "--db", db, NULL};
    CHECK(sc_run(out, add) == 0);
    CHECK(sc_run(out, add) == 0);
    t = fx_slurp(out);
    CHECKF(t && strstr(t, "0 new series, already stored"), "%s", t ? t : "");
    free(t);
    /* under another release: an error naming the run and both releases;
     * it used to be silently ignored (exit 0) */
    const char *other[] = {"tierbench", "store", "add", run, "--release", "v2.0", "--db", db, NULL};
    CHECK(sc_run(out, other) == 2);
    t = fx_slurp(out);
    CHECKF(t && strstr(t, "'v1.0'") && strstr(t, "'v2.0'") && strstr(t, run) &&
               strstr(t, "fnv1a64:"),
           "%s", t ? t : "");
    free(t);
    /* the default release (the commit "abc") differs too */
    const char *dflt[] = {"tierbench", "store", "add", run, "--db", db, NULL};
    CHECK(sc_run(out, dflt) == 2);
    const char *hist[] = {"tierbench", "history", "--metric", "ttft_ms", "--db", db, NULL};
    CHECK(sc_run(out, hist) == 0);
    t = fx_slurp(out);
    CHECKF(t && strstr(t, "v1.0") && !strstr(t, "v2.0") && fx_count(t, "\n") == 3, "%s",
           t ? t : "");
    /* every row names the prompt that ran and the context depth */
    char rel[32] = "", prof[64] = "", wl[64] = "", pr[16] = "", dp[16] = "";
    const char *row = t ? strchr(t, '\n') : NULL;
    CHECKF(t && strstr(t, " prompt  depth ") && row &&
               sscanf(row + 1, "%31s %63s %63s %15s %15s", rel, prof, wl, pr, dp) == 5 &&
               atoi(pr) > 0 && strspn(pr, "0123456789") == strlen(pr) &&
               strspn(dp, "0123456789") == strlen(dp),
           "%s", t ? t : "");
    free(t);
}

/* 8 runners `store add` at once into db: 6 runs in 2 releases, each runner
 * 3 runs of one release with one of them twice; every run is added by
 * several runners. Nothing lost, nothing duplicated. */
static void sc_concurrent(const char *db, const char *scratch_db)
{
    if (!fx_bin())
        return;
    char runs[6][512];
    for (int i = 0; i < 6; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "sc-conc-%d", i);
        tb_test_path(runs[i], sizeof runs[i], tag, "");
        struct fx_run f = {.commit = "c0c0",
                           .scale = 1.0 + 0.01 * i,
                           .n = 12,
                           .seed = 100 + (uint64_t)i,
                           .backend = "cpu"};
        CHECK(fx_write_run(runs[i], &f) == 0);
    }
    /* the series of one run, counted in a scratch store */
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    size_t per_run = 0;
    CHECK(tb_store_open(scratch_db, &st, &err) == TB_OK);
    if (st)
        CHECKF(tb_store_add(st, runs[0], "x", &per_run, &err) == TB_OK, "%s", err.msg);
    tb_store_close(st);
    CHECK(per_run > 0);

    char logbase[512]; /* the runners' output: logbase.runnerN.txt */
    tb_test_path(logbase, sizeof logbase, "sc-conc-log", "");
    int gate[2];
    CHECK(pipe(gate) == 0);
    fflush(NULL);
    pid_t pid[8];
    for (int r = 0; r < 8; r++) {
        const int rel = r % 2, a = 3 * rel + (r / 2) % 3, b = 3 * rel + (r / 2 + 1) % 3;
        pid[r] = fork();
        if (pid[r] == 0) {
            close(gate[1]);
            char c;
            if (read(gate[0], &c, 1) < 0) /* EOF when the parent opens the gate */
                _exit(125);
            char out[600];
            snprintf(out, sizeof out, "%s.runner%d.txt", logbase, r);
            if (!freopen(out, "w", stdout) || dup2(fileno(stdout), 2) < 0)
                _exit(126);
            const char *args[] = {"tierbench", "store",           "add",  runs[a], runs[b], runs[a],
                                  "--release", rel ? "r2" : "r1", "--db", db,      NULL};
            execv(fx_bin(), (char *const *)args);
            _exit(127);
        }
    }
    close(gate[0]);
    close(gate[1]); /* all start together */
    for (int r = 0; r < 8; r++) {
        int stt = 0;
        CHECK(pid[r] > 0 && waitpid(pid[r], &stt, 0) == pid[r]);
        CHECKF(WIFEXITED(stt) && WEXITSTATUS(stt) == 0, "runner %d: status %d", r, stt);
        if (!WIFEXITED(stt) || WEXITSTATUS(stt)) {
            char out[600];
            snprintf(out, sizeof out, "%s.runner%d.txt", logbase, r);
            char *t = fx_slurp(out);
            fprintf(stderr, "runner %d said: %s\n", r, t ? t : "(nothing)");
            free(t);
        }
    }
    st = NULL;
    CHECK(tb_store_open(db, &st, &err) == TB_OK);
    if (st) {
        CHECKF(tb_store_count_runs(st) == 6, "%ld runs", tb_store_count_runs(st));
        CHECKF(tb_store_count(st) == (long)(6 * per_run), "%ld series, want %zu",
               tb_store_count(st), 6 * per_run);
    }
    tb_store_close(st);
}

/* The trend chart of key prefix and metric in dash (trend_N.svg), or NULL. */
static char *sc_chart(const char *dash, const char *key, const char *metric)
{
    char pat[300], p[700];
    snprintf(pat, sizeof pat, ": %s, median", metric);
    for (int i = 0; i < 64; i++) {
        snprintf(p, sizeof p, "%s/trend_%d.svg", dash, i);
        char *svg = fx_slurp(p);
        if (!svg)
            return NULL;
        /* "LABEL: METRIC, median ... (KEY)": the key inside the title */
        const char *t = strstr(svg, "<title>"), *e = t ? strstr(t, "</title>") : NULL;
        const char *k = t ? strstr(t, key) : NULL, *m = t ? strstr(t, pat) : NULL;
        if (e && k && m && k < e && m < e)
            return svg;
        free(svg);
    }
    return NULL;
}

/* the y pixel of the circle class="tb-point" data-release="rel" in svg */
static double sc_point_y(const char *svg, const char *rel)
{
    char pat[200];
    snprintf(pat, sizeof pat, "class=\"tb-point\" data-release=\"%s\"", rel);
    const char *p = strstr(svg, pat);
    const char *cy = p ? strstr(p, "cy=\"") : NULL;
    return cy ? atof(cy + 4) : -1;
}

/* The dashboard: error bars, linear axes that show a 3 % change, log only
 * past 10x, releases by commit date (not ingest), machine identity. */
static void sc_dashboard(const char *db)
{
    char r_old[512], r_new[512], r_new2[512], r_other[512], r_slow[512], dash[512], p[700];
    tb_test_path(r_old, sizeof r_old, "sc-dash-old", "");
    tb_test_path(r_new, sizeof r_new, "sc-dash-new", "");
    tb_test_path(r_new2, sizeof r_new2, "sc-dash-new2", "");
    tb_test_path(r_other, sizeof r_other, "sc-dash-other", "");
    tb_test_path(r_slow, sizeof r_slow, "sc-dash-slow", "");
    struct fx_run f = {.commit = "0ld", .scale = 1.0, .n = 20, .seed = 1, .backend = "cpu"};
    const char *topo = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    CHECK(sc_write_run(r_old, &f, topo, NULL) == 0);
    f.commit = "n3w"; /* 3 % slower */
    f.scale = 1.03;
    f.seed = 2;
    CHECK(sc_write_run(r_new, &f, topo, NULL) == 0);
    f.seed = 3; /* a second run of the new release, same machine */
    CHECK(sc_write_run(r_new2, &f, topo, "2026-01-03T00:00:00Z") == 0);
    f.seed = 4; /* the same host and CPU, another topology */
    CHECK(sc_write_run(r_other, &f, NULL, NULL) == 0);
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    CHECK(tb_store_open(db, &st, &err) == TB_OK);
    if (!st)
        return;
    size_t added = 0;
    /* ingested newest first: the dashboard must not follow ingest order */
    CHECKF(tb_store_add(st, r_new, "v2", &added, &err) == TB_OK, "%s", err.msg);
    CHECK(tb_store_add(st, r_new2, "v2", &added, &err) == TB_OK);
    CHECK(tb_store_add(st, r_other, "v2", &added, &err) == TB_OK);
    CHECK(tb_store_add(st, r_old, "v1", &added, &err) == TB_OK);
    CHECK(tb_store_set_release_date(st, "v2", "2026-03-01T10:00:00+02:00", &err) == TB_OK);
    CHECK(tb_store_set_release_date(st, "v1", "2026-02-01", &err) == TB_OK);
    CHECK(tb_store_set_release_date(st, "v1", "2026-02-01T00:00:00Z", &err) == TB_OK); /* same */
    CHECK(tb_store_set_release_date(st, "v1", "2026-02-02", &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "2026-02-01T00:00:00Z") != NULL, "%s", err.msg);
    CHECK(tb_store_set_release_date(st, "v1", "2026-02-31", &err) == TB_EINVAL);

    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    tb_test_path(dash, sizeof dash, "sc-dash", "");
    CHECKF(tb_store_dashboard(st, dash, &o, NULL, NULL, &err) == TB_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/index.html", dash);
    char *h = fx_slurp(p);
    CHECK(h && strstr(h, "v1 -&gt; v2")); /* by commit date */
    CHECK(h && strstr(h, "ordered by their commit dates"));
    /* 4 configurations x (latency, tokens/s) */
    CHECKF(h && fx_count(h, "<svg class=\"tb-trend\"") + fx_count(h, "class=\"tb-trend\"") >= 8,
           "%zu charts", h ? fx_count(h, "class=\"tb-trend\"") : 0);
    free(h);
    char *svg = sc_chart(dash, "wearable/llm-prefill/", "ttft_ms");
    /* the title names what ran: prompt and context depth (schema 4 label) */
    CHECKF(svg && strstr(svg, "<title>wearable llm-prefill p") && strstr(svg, " d0 "), "%.300s",
           svg ? strstr(svg, "<title>") : "missing");
    CHECK(svg && strstr(svg, "data-axis=\"linear\"") && strstr(svg, "data-scale=\"linear\""));
    CHECK(svg && strstr(svg, "data-series=\"2\"")); /* two topologies: two machines */
    CHECK(svg && strstr(svg, topo) && strstr(svg, "unavailable: not recorded by this run"));
    /* error bars: v1 and v2 of the first machine, v2 of the second */
    CHECKF(svg && fx_count(svg, "class=\"tb-errbar\"") == 3, "%zu",
           svg ? fx_count(svg, "class=\"tb-errbar\"") : 0);
    CHECK(svg && strstr(svg, "data-errbars=\"3\""));
    /* v1 left of v2; the 3 % change moves the point by a visible amount
     * (> 20 px of the 220 px plot; on the old decade log axis it was ~3 px) */
    const char *v1 = svg ? strstr(svg, ">v1</text>") : NULL;
    const char *v2 = svg ? strstr(svg, ">v2</text>") : NULL;
    CHECK(v1 && v2 && v1 < v2);
    double y1 = svg ? sc_point_y(svg, "v1") : -1, y2 = svg ? sc_point_y(svg, "v2") : -1;
    CHECKF(y1 > 0 && y2 > 0 && y1 - y2 > 20, "v1 y %.1f, v2 y %.1f", y1, y2);
    free(svg);
    /* tokens/s of one run: a single value, no error bar; two runs: one */
    svg = sc_chart(dash, "wearable/llm-prefill/", "prefill_tps");
    CHECKF(svg && strstr(svg, "prefill_tps") && fx_count(svg, "class=\"tb-errbar\"") == 1, "%s",
           svg ? "wrong bar count" : "missing");
    free(svg);
    size_t pooled = 0; /* the 4 latency charts: v2 pools 2 runs, 40 samples */
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof p, "%s/trend_%d.csv", dash, i);
        char *csv = fx_slurp(p);
        CHECK(
            csv &&
            strstr(
                csv,
                "\"release\",\"machine\",\"median\",\"ci95_lo\",\"ci95_hi\",\"runs\",\"values\""));
        pooled += csv && strstr(csv, ",2,40\n");
        free(csv);
    }
    CHECKF(pooled == 4, "%zu", pooled);

    /* declared order beats dates; a bad declaration is an error */
    CHECK(tb_store_dashboard(st, dash, &o, "v2,v1", NULL, &err) == TB_OK);
    snprintf(p, sizeof p, "%s/index.html", dash);
    h = fx_slurp(p);
    CHECK(h && strstr(h, "v2 -&gt; v1") && strstr(h, "declared order"));
    free(h);
    CHECK(tb_store_dashboard(st, dash, &o, "v2", NULL, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "'v1' is not named"), "%s", err.msg);
    CHECK(tb_store_dashboard(st, dash, &o, "v2,v1,v9", NULL, &err) == TB_EINVAL);

    /* a series spanning more than 10x: log axis */
    f.scale = 20;
    f.seed = 9;
    f.commit = "s10w";
    CHECK(sc_write_run(r_slow, &f, topo, NULL) == 0);
    CHECK(tb_store_add(st, r_slow, "v3", &added, &err) == TB_OK);
    CHECK(tb_store_set_release_date(st, "v3", "2026-04-01", &err) == TB_OK);
    CHECK(tb_store_dashboard(st, dash, &o, NULL, NULL, &err) == TB_OK);
    svg = sc_chart(dash, "wearable/llm-prefill/", "ttft_ms");
    CHECK(svg && strstr(svg, "data-axis=\"log\"") && strstr(svg, "data-scale=\"log\""));
    free(svg);

    /* 9 more machines (topologies) in v3: 11 in all, 8 drawn, 3 said */
    for (int m = 0; m < 9; m++) {
        char t9[80], r9[600];
        snprintf(t9, sizeof t9, "sha256:%064d", m + 1);
        snprintf(r9, sizeof r9, "%s-m%d", r_slow, m);
        f.seed = 100 + (uint64_t)m;
        CHECK(sc_write_run(r9, &f, t9, NULL) == 0);
        CHECK(tb_store_add(st, r9, "v3", &added, &err) == TB_OK);
    }
    CHECK(tb_store_dashboard(st, dash, &o, NULL, NULL, &err) == TB_OK);
    snprintf(p, sizeof p, "%s/index.html", dash);
    h = fx_slurp(p);
    CHECKF(h && strstr(h, "3 more machine(s) not drawn (8 per chart)"), "no undrawn note");
    /* latest vs previous compares per machine: v2's second topology is
     * missing from v3, the 9 new machines are new, nothing pooled */
    CHECKF(h && strstr(h, "missing, ") && strstr(h, " new (per configuration and machine)") &&
               strstr(h, " @ ") && !strstr(h, " 0 missing,") && !strstr(h, " 0 new "),
           "%s", h ? "latest vs previous pooled machines" : "no page");
    free(h);
    tb_store_close(st);
}

#endif

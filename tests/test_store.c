/* Results store: migrations (empty DB, v1 -> current, newer refused),
 * idempotent ingest, corrupt/truncated files rejected with the DB intact,
 * history, dashboard, the CLI commands, and the checks shared with
 * test_store_pg (store_cases.h): --help, re-adding under another release,
 * 8 concurrent runners, the dashboard's error bars, axes, order, machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "store_cases.h"
#include "tb_test.h"

static int sql(const char *db, const char *stmt)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open(db, &h);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, stmt, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

static void test_migrations(void)
{
    char db[512];
    struct tb_err err = {0};
    struct tb_store *st = NULL;
    /* empty (new) database */
    tb_test_path(db, sizeof db, "store-new", ".db");
    CHECKF(tb_store_open(db, &st, &err) == TB_OK, "%s", err.msg);
    CHECK(st && tb_store_schema_version(st) == TB_STORE_SCHEMA_VERSION);
    CHECK(st && tb_store_count(st) == 0);
    tb_store_close(st);
    /* reopening is a no-op */
    CHECK(tb_store_open(db, &st, &err) == TB_OK &&
          tb_store_schema_version(st) == TB_STORE_SCHEMA_VERSION);
    tb_store_close(st);

    /* a v1 database with data: migrated, data kept, new column usable */
    tb_test_path(db, sizeof db, "store-v1", ".db");
    CHECK(sql(db, "CREATE TABLE runs(id INTEGER PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, source "
                  "TEXT, file_hash TEXT, release TEXT NOT NULL, git_commit TEXT, machine TEXT, "
                  "run_date TEXT, added_at TEXT NOT NULL);"
                  "CREATE TABLE series(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL "
                  "REFERENCES runs(id), key TEXT NOT NULL, profile TEXT, workload TEXT, config "
                  "TEXT, metric TEXT NOT NULL, unit TEXT, kind INTEGER NOT NULL, n INTEGER NOT "
                  "NULL, median REAL, samples TEXT NOT NULL, UNIQUE(run_id, key, metric));"
                  "INSERT INTO runs VALUES(1, 'k', 's', 'h', 'v0.9', 'c', 'm', 'd', 'a');"
                  "INSERT INTO series VALUES(1, 1, 'p/w/c', 'p', 'w', 'c', 'itl_ms', 'ms', 0, 1, "
                  "2.5, '[2.5]');"
                  "PRAGMA user_version = 1;") == SQLITE_OK);
    CHECKF(tb_store_open(db, &st, &err) == TB_OK, "%s", err.msg);
    CHECK(st && tb_store_schema_version(st) == TB_STORE_SCHEMA_VERSION && tb_store_count(st) == 1);
    tb_store_close(st);
    CHECK(sql(db, "UPDATE series SET placement = '{}'") == SQLITE_OK);

    /* newer than this build: refused, untouched */
    tb_test_path(db, sizeof db, "store-future", ".db");
    CHECK(sql(db, "PRAGMA user_version = 99;") == SQLITE_OK);
    CHECK(tb_store_open(db, &st, &err) == TB_EUNSUPPORTED && st == NULL);
    CHECK(strstr(err.msg, "newer") != NULL);

    /* not a database */
    tb_test_path(db, sizeof db, "store-junk", ".db");
    FILE *f = fopen(db, "w");
    if (f) {
        fputs("this is not an sqlite database, just text that is long enough to matter\n", f);
        fclose(f);
    }
    CHECK(tb_store_open(db, &st, &err) != TB_OK && st == NULL);
    printf("junk database: %s\n", err.msg);

    /* a FIFO or a directory as --db: refused at once, naming what it is
     * (SQLite alone said "disk I/O error"; nothing blocks on the FIFO) */
    tb_test_path(db, sizeof db, "store-fifo", ".db");
    CHECK(mkfifo(db, 0600) == 0);
    CHECK(tb_store_open(db, &st, &err) == TB_EIO && st == NULL);
    CHECKF(strstr(err.msg, db) && strstr(err.msg, "not a regular file (a FIFO)"), "%s", err.msg);
    unlink(db);
    tb_test_path(db, sizeof db, "store-dir", "");
    CHECK(mkdir(db, 0700) == 0);
    CHECK(tb_store_open(db, &st, &err) == TB_EIO && st == NULL);
    CHECKF(strstr(err.msg, "not a regular file (a directory)"), "%s", err.msg);
    rmdir(db);
}

/* Copies src/results.jsonl to dst/ with `edit` applied: 't' truncates the
 * last line (torn write), 'c' corrupts the second line. */
static int damaged_copy(const char *src, const char *dst, char edit)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/results.jsonl", src);
    char *txt = fx_slurp(p);
    if (!txt)
        return -1;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dst);
    if (fx_system(cmd)) {
        free(txt);
        return -1;
    }
    size_t n = strlen(txt);
    if (edit == 't') {
        n -= 40; /* cut into the last record: no newline, not JSON */
    } else {
        char *second = strchr(txt, '\n') + 1;
        memcpy(second, "{garbage", 8);
    }
    snprintf(p, sizeof p, "%s/results.jsonl", dst);
    FILE *f = fopen(p, "wb");
    int ok = f && fwrite(txt, 1, n, f) == n;
    if (f)
        fclose(f);
    free(txt);
    return ok ? 0 : -1;
}

static void test_ingest(void)
{
    char db[512], r1[512], r2[512], torn[512], bad[512];
    tb_test_path(db, sizeof db, "store-ingest", ".db");
    tb_test_path(r1, sizeof r1, "store-r1", "");
    tb_test_path(r2, sizeof r2, "store-r2", "");
    tb_test_path(torn, sizeof torn, "store-torn", "");
    tb_test_path(bad, sizeof bad, "store-bad", "");
    struct fx_run f = {.commit = "c0ffee1",
                       .scale = 1.0,
                       .n = 20,
                       .seed = 11,
                       .backend = "cpu",
                       .with_coverage = 1};
    CHECK(fx_write_run(r1, &f) == 0);
    f.commit = "c0ffee2";
    f.seed = 12;
    f.scale = 1.25;
    f.off_op = "attention";
    CHECK(fx_write_run(r2, &f) == 0);
    CHECK(damaged_copy(r2, torn, 't') == 0);
    CHECK(damaged_copy(r2, bad, 'c') == 0);

    struct tb_err err = {0};
    struct tb_store *st = NULL;
    CHECK(tb_store_open(db, &st, &err) == TB_OK);
    if (!st)
        return;
    size_t added = 0;
    CHECKF(tb_store_add(st, r1, NULL, &added, &err) == TB_OK, "%s", err.msg);
    long n1 = tb_store_count(st);
    CHECKF(added > 0 && n1 == (long)added, "added %zu count %ld", added, n1);
    /* the same run again: nothing new */
    CHECK(tb_store_add(st, r1, NULL, &added, &err) == TB_OK);
    CHECK(added == 0 && tb_store_count(st) == n1);
    /* also under another path spelling (results.jsonl directly) */
    char jl[600];
    snprintf(jl, sizeof jl, "%s/results.jsonl", r1);
    CHECK(tb_store_add(st, jl, NULL, &added, &err) == TB_OK);
    CHECK(added == 0 && tb_store_count(st) == n1);

    /* truncated and corrupt files: rejected, nothing stored or lost */
    CHECK(tb_store_add(st, torn, "bad", &added, &err) == TB_EFORMAT);
    CHECKF(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    CHECK(added == 0 && tb_store_count(st) == n1);
    CHECK(tb_store_add(st, bad, "bad", &added, &err) == TB_EFORMAT);
    CHECKF(strstr(err.msg, "line 2") != NULL, "%s", err.msg);
    CHECK(tb_store_count(st) == n1);
    CHECK(tb_store_add(st, "/nonexistent/run", NULL, &added, &err) != TB_OK);
    CHECK(tb_store_count(st) == n1);

    CHECK(tb_store_add(st, r2, NULL, &added, &err) == TB_OK && added > 0);
    CHECK(tb_store_count(st) == n1 + (long)added);

    /* history: both releases (the git commits), filtered */
    char hist[512];
    tb_test_path(hist, sizeof hist, "store-hist", ".txt");
    FILE *h = fopen(hist, "w");
    CHECK(h && tb_store_history(st, "itl_ms", "wearable", h, &err) == TB_OK);
    if (h)
        fclose(h);
    char *txt = fx_slurp(hist);
    CHECK(txt && strstr(txt, "c0ffee1") && strstr(txt, "c0ffee2") && strstr(txt, "itl_ms"));
    CHECK(txt && !strstr(txt, "ttft_ms") && !strstr(txt, "phone-midrange"));
    CHECK(txt && fx_count(txt, "\n") == 3); /* header + 2 releases */
    free(txt);

    /* dashboard: trends + latest vs previous (25% slower: regression) +
     * the coverage change */
    char dash[512];
    tb_test_path(dash, sizeof dash, "store-dash", "");
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    CHECKF(tb_store_dashboard(st, dash, &o, NULL, NULL, &err) == TB_OK, "%s", err.msg);
    char p[700];
    snprintf(p, sizeof p, "%s/index.html", dash);
    txt = fx_slurp(p);
    CHECK(txt && strstr(txt, "c0ffee1 -&gt; c0ffee2") && strstr(txt, "class=\"regression\""));
    CHECK(txt && strstr(txt, "op attention now off target on cpu/cpu"));
    /* drawn without gnuplot: 4 configurations x (latency, tokens/s) */
    CHECKF(txt && fx_count(txt, "<svg") == 8, "%zu", txt ? fx_count(txt, "<svg") : 0);
    free(txt);
    snprintf(p, sizeof p, "%s/index.md", dash);
    txt = fx_slurp(p);
    CHECK(txt && strstr(txt, "## Latest release vs previous"));
    free(txt);
    tb_store_close(st);
}

/* A v2 store (integer kinds) migrated to v3: kinds as text, the indexes
 * the dashboard and history query by, releases known. */
static void test_v2_to_v3(void)
{
    char db[512];
    tb_test_path(db, sizeof db, "store-v2", ".db");
    CHECK(sql(db, "CREATE TABLE runs(id INTEGER PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, source "
                  "TEXT, file_hash TEXT, release TEXT NOT NULL, git_commit TEXT, machine TEXT, "
                  "run_date TEXT, added_at TEXT NOT NULL);"
                  "CREATE TABLE series(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL "
                  "REFERENCES runs(id), key TEXT NOT NULL, profile TEXT, workload TEXT, config "
                  "TEXT, metric TEXT NOT NULL, unit TEXT, kind INTEGER NOT NULL, n INTEGER NOT "
                  "NULL, median REAL, samples TEXT NOT NULL, UNIQUE(run_id, key, metric));"
                  "CREATE INDEX series_metric ON series(metric, profile);"
                  "ALTER TABLE series ADD COLUMN placement TEXT;"
                  "INSERT INTO runs VALUES(1, 'k', 's', 'h', 'v0.9', 'c', 'm', 'd', 'a');"
                  "INSERT INTO series VALUES(1, 1, 'p/w/c', 'p', 'w', 'c', 'itl_ms', 'ms', 0, 1, "
                  "2.5, '[2.5]', NULL);"
                  "INSERT INTO series VALUES(2, 1, 'p/w/c', 'p', 'w', 'c', 'placement', '', 3, 0, "
                  "NULL, '[]', '{}');"
                  "PRAGMA user_version = 2;") == SQLITE_OK);
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    CHECKF(tb_store_open(db, &st, &err) == TB_OK, "%s", err.msg);
    CHECK(st && tb_store_schema_version(st) == TB_STORE_SCHEMA_VERSION && tb_store_count(st) == 2);
    tb_store_close(st);
    sqlite3 *h = NULL;
    CHECK(sqlite3_open(db, &h) == SQLITE_OK);
    sqlite3_stmt *s = NULL;
    CHECK(sqlite3_prepare_v2(h,
                             "SELECT group_concat(kind || ':' || typeof(kind), ',') FROM "
                             "(SELECT kind FROM series ORDER BY id)",
                             -1, &s, NULL) == SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW);
    const char *k = (const char *)sqlite3_column_text(s, 0);
    CHECKF(k && !strcmp(k, "samples:text,placement:text"), "%s", k ? k : "NULL");
    sqlite3_finalize(s);
    CHECK(sqlite3_prepare_v2(h,
                             "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                             "('series_metric', 'series_config', 'runs_release')",
                             -1, &s, NULL) == SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == 3);
    sqlite3_finalize(s);
    CHECK(sqlite3_prepare_v2(h, "SELECT name FROM releases", -1, &s, NULL) == SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW);
    CHECK(!strcmp((const char *)sqlite3_column_text(s, 0), "v0.9"));
    sqlite3_finalize(s);
    /* v4: a label column, NULL for rows stored before it (the key is shown) */
    CHECK(sqlite3_prepare_v2(h, "SELECT count(*) FROM series WHERE label IS NULL", -1, &s, NULL) ==
              SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == 2);
    sqlite3_finalize(s);
    /* a fresh store's kinds are names too */
    sqlite3_close(h);
}

static void test_kinds_are_names(void)
{
    char db[512], run[512];
    tb_test_path(db, sizeof db, "store-kinds", ".db");
    tb_test_path(run, sizeof run, "store-kinds-run", "");
    struct fx_run f = {.commit = "k1", .scale = 1.0, .n = 5, .seed = 3, .backend = "cpu"};
    CHECK(fx_write_run(run, &f) == 0);
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    size_t added = 0;
    CHECK(tb_store_open(db, &st, &err) == TB_OK && tb_store_add(st, run, NULL, &added, &err) == 0);
    tb_store_close(st);
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    CHECK(sqlite3_open(db, &h) == SQLITE_OK &&
          sqlite3_prepare_v2(h,
                             "SELECT group_concat(k, ',') FROM (SELECT DISTINCT kind || ':' || "
                             "typeof(kind) AS k FROM series ORDER BY 1)",
                             -1, &s, NULL) == SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW);
    const char *k = (const char *)sqlite3_column_text(s, 0);
    CHECKF(k && !strcmp(k, "deterministic:text,placement:text,samples:text,scalar:text"), "%s",
           k ? k : "NULL");
    sqlite3_finalize(s);
    sqlite3_close(h);
}

int main(void)
{
    test_migrations();
    test_ingest();
    test_v2_to_v3();
    test_kinds_are_names();
    char db[512], scratch[512];
    tb_test_path(db, sizeof db, "store-cli", ".db");
    sc_cli(db);
    tb_test_path(db, sizeof db, "store-conc", ".db");
    tb_test_path(scratch, sizeof scratch, "store-conc-scratch", ".db");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sc_concurrent(db, scratch);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("8 concurrent runners (SQLite): %.2f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    tb_test_path(db, sizeof db, "store-dash", ".db");
    sc_dashboard(db);
    return tb_test_result("test_store");
}

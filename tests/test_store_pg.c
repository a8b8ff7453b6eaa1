/* The results store on a real PostgreSQL server (tests/pg_server.h: a
 * private server on a Unix socket in a temporary directory, run as the
 * postgres user under root, stopped afterwards in every case): the schema
 * created and versioned, a v2 store migrated (kinds as text), ingest,
 * history and the dashboard, concurrent first opens, and the checks shared
 * with test_store (store_cases.h), 8 concurrent runners included.
 * Skips (77) only where the server binaries are missing or cannot run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_server.h"
#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "store_cases.h"
#include "tb_test.h"

static struct pg_server g_pg;

static void createdb(const char *name)
{
    char sql[200];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    CHECKF(pg_psql(&g_pg, "postgres", sql, NULL, 0) == 0, "%s", sql);
}

static void test_schema(void)
{
    createdb("schema");
    char url[300], out[4096];
    pg_url(&g_pg, "schema", url, sizeof url);
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    CHECKF(tb_store_open(url, &st, &err) == TB_OK, "%s", err.msg);
    CHECK(st && tb_store_schema_version(st) == TB_STORE_SCHEMA_VERSION);
    CHECK(st && tb_store_count(st) == 0);
    tb_store_close(st);
    CHECK(pg_psql(&g_pg, "schema", "SELECT version FROM tb_schema_version", out, sizeof out) == 0);
    CHECKF(atoi(out) == TB_STORE_SCHEMA_VERSION, "%s", out);
    /* the indexes history and the dashboard query by; kind is text */
    CHECK(pg_psql(&g_pg, "schema",
                  "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE "
                  "indexname IN ('series_metric','series_config','runs_release')",
                  out, sizeof out) == 0);
    CHECKF(!strcmp(out, "runs_release,series_config,series_metric"), "%s", out);
    CHECK(pg_psql(&g_pg, "schema",
                  "SELECT data_type FROM information_schema.columns WHERE table_name = 'series' "
                  "AND column_name = 'kind'",
                  out, sizeof out) == 0);
    CHECKF(!strcmp(out, "text"), "%s", out);
    /* the URI's other spellings: postgres:// and a key=value conninfo */
    char alt[300];
    snprintf(alt, sizeof alt, "postgres://tb@/schema?host=%s&port=%d", g_pg.dir, g_pg.port);
    CHECKF(tb_store_open(alt, &st, &err) == TB_OK, "%s", err.msg);
    tb_store_close(st);
    snprintf(alt, sizeof alt, "host=%s port=%d user=tb dbname=schema", g_pg.dir, g_pg.port);
    CHECKF(tb_store_open(alt, &st, &err) == TB_OK, "%s", err.msg);
    tb_store_close(st);
    /* a password never shows in messages */
    snprintf(alt, sizeof alt, "postgresql://tb:s3cret@/nosuchdb?host=%s&port=%d", g_pg.dir,
             g_pg.port);
    CHECK(tb_store_open(alt, &st, &err) != TB_OK && st == NULL);
    CHECKF(!strstr(err.msg, "s3cret") && strstr(err.msg, "nosuchdb"), "%s", err.msg);
    /* newer than this build: refused */
    CHECK(pg_psql(&g_pg, "schema", "UPDATE tb_schema_version SET version = 99", NULL, 0) == 0);
    CHECK(tb_store_open(url, &st, &err) == TB_EUNSUPPORTED && st == NULL);
    CHECKF(strstr(err.msg, "newer") != NULL, "%s", err.msg);
}

/* A v2 store (integer kinds, as the v1/v2 steps create it) migrated. */
static void test_v2_migration(void)
{
    createdb("v2");
    CHECK(pg_psql(&g_pg, "v2",
                  "CREATE TABLE runs(id BIGSERIAL PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, "
                  "source TEXT, file_hash TEXT, release TEXT NOT NULL, git_commit TEXT, machine "
                  "TEXT, run_date TEXT, added_at TEXT NOT NULL); CREATE TABLE series(id BIGSERIAL "
                  "PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES runs(id), key TEXT NOT NULL, "
                  "profile TEXT, workload TEXT, config TEXT, metric TEXT NOT NULL, unit TEXT, kind "
                  "INTEGER NOT NULL, n INTEGER NOT NULL, median DOUBLE PRECISION, samples TEXT NOT "
                  "NULL, placement TEXT, UNIQUE(run_id, key, metric)); CREATE INDEX series_metric "
                  "ON series(metric, profile); INSERT INTO runs(run_key, release, added_at) "
                  "VALUES('k', 'v0.9', 'a'); INSERT INTO series(run_id, key, metric, unit, kind, "
                  "n, median, samples) VALUES(1, 'p/w/c', 'itl_ms', 'ms', 0, 1, 2.5, '[2.5]'), "
                  "(1, 'p/w/c', 'peak_rss_kib', 'KiB', 1, 1, 9, '[9]'); CREATE TABLE "
                  "tb_schema_version(version INTEGER NOT NULL); INSERT INTO tb_schema_version "
                  "VALUES(2);",
                  NULL, 0) == 0);
    char url[300], out[256];
    pg_url(&g_pg, "v2", url, sizeof url);
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    CHECKF(tb_store_open(url, &st, &err) == TB_OK, "%s", err.msg);
    CHECK(st && tb_store_schema_version(st) == TB_STORE_SCHEMA_VERSION && tb_store_count(st) == 2);
    tb_store_close(st);
    CHECK(pg_psql(&g_pg, "v2", "SELECT string_agg(kind, ',' ORDER BY id) FROM series", out,
                  sizeof out) == 0);
    CHECKF(!strcmp(out, "samples,scalar"), "%s", out);
}

/* 8 processes opening a fresh database at once: one migrates, the others
 * wait on the advisory lock and find nothing to do. */
static void test_concurrent_open(void)
{
    createdb("fresh");
    char url[300];
    pg_url(&g_pg, "fresh", url, sizeof url);
    fflush(NULL);
    pid_t pid[8];
    for (int i = 0; i < 8; i++)
        if ((pid[i] = fork()) == 0) {
            struct tb_store *st = NULL;
            struct tb_err err = {0};
            int rc = tb_store_open(url, &st, &err);
            if (rc)
                fprintf(stderr, "open %d: %s\n", i, err.msg);
            tb_store_close(st);
            _exit(rc ? 1 : 0);
        }
    for (int i = 0; i < 8; i++) {
        int stt = 0;
        CHECK(pid[i] > 0 && waitpid(pid[i], &stt, 0) == pid[i] && WIFEXITED(stt) &&
              WEXITSTATUS(stt) == 0);
    }
}

static void test_ingest(void)
{
    createdb("ingest");
    char url[300], run[512], hist[512];
    pg_url(&g_pg, "ingest", url, sizeof url);
    tb_test_path(run, sizeof run, "pg-ingest-run", "");
    struct fx_run f = {.commit = "c0ffee1", .scale = 1.0, .n = 20, .seed = 11, .backend = "cpu"};
    CHECK(fx_write_run(run, &f) == 0);
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    CHECKF(tb_store_open(url, &st, &err) == TB_OK, "%s", err.msg);
    if (!st)
        return;
    size_t added = 0;
    CHECKF(tb_store_add(st, run, NULL, &added, &err) == TB_OK, "%s", err.msg);
    long n1 = tb_store_count(st);
    CHECK(added > 0 && n1 == (long)added);
    CHECK(tb_store_add(st, run, NULL, &added, &err) == TB_OK && added == 0);
    CHECK(tb_store_add(st, run, "other", &added, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "'c0ffee1'") && strstr(err.msg, "'other'"), "%s", err.msg);
    CHECK(tb_store_count(st) == n1 && tb_store_count_runs(st) == 1);
    tb_test_path(hist, sizeof hist, "pg-hist", ".txt");
    FILE *h = fopen(hist, "w");
    CHECK(h && tb_store_history(st, "itl_ms", "wearable", h, &err) == TB_OK);
    if (h)
        fclose(h);
    char *txt = fx_slurp(hist);
    CHECK(txt && strstr(txt, "c0ffee1") && fx_count(txt, "\n") == 2);
    free(txt);
    /* samples survive the round trip exactly (float8, 17 digits) */
    char out[256];
    CHECK(pg_psql(&g_pg, "ingest",
                  "SELECT count(*) FROM series WHERE kind = 'samples' AND n = 20 AND median IS "
                  "NOT NULL",
                  out, sizeof out) == 0);
    CHECKF(atoi(out) == 4, "%s", out);
    tb_store_close(st);
}

int main(void)
{
    (void)fx_system; /* report_fixtures.h helper this test does not need */
    int rc = pg_start(&g_pg);
    if (rc) {
        printf("test_store_pg: %s: %s\n", rc == 77 ? "SKIP" : "FAIL", g_pg.why);
        pg_stop(&g_pg);
        return rc;
    }
    printf("PostgreSQL (%s): initdb %.2f s, start %.2f s\n", g_pg.bin, g_pg.initdb_s, g_pg.start_s);
    test_schema();
    test_v2_migration();
    test_concurrent_open();
    test_ingest();
    char url[300], scratch[300];
    createdb("cli");
    pg_url(&g_pg, "cli", url, sizeof url);
    sc_cli(url);
    createdb("conc");
    createdb("scratch");
    pg_url(&g_pg, "conc", url, sizeof url);
    pg_url(&g_pg, "scratch", scratch, sizeof scratch);
    double t0 = pg_now();
    sc_concurrent(url, scratch);
    printf("8 concurrent runners: %.2f s\n", pg_now() - t0);
    createdb("dash");
    pg_url(&g_pg, "dash", url, sizeof url);
    sc_dashboard(url);
    pg_stop(&g_pg);
    return tb_test_result("test_store_pg");
}

/* First use is atomic (issue 19, item 8):
 *   - two processes doing `store add` into the same fresh database at once
 *     both succeed, and the database holds every row once (the schema
 *     migration runs inside one BEGIN IMMEDIATE transaction; it used to read
 *     user_version outside it: "table runs already exists");
 *   - two `tierbench run` processes on the same cold model cache both
 *     produce valid records (the model is generated under a flock on
 *     "<model>.lock"; two generators used to swap the inode under the first
 *     run: "model file changed", never MODEL-CHANGED).
 * Each pair's processes start together from a pipe barrier. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "run_helpers.h"
#include "tb_test.h"

#define STORE_PAIRS 20
#define RUN_PAIRS 5

static char g_dir[600];

/* Forks a child that blocks on the barrier pipe until its write end is
 * closed, then runs fn(arg) and exits with its status. */
static pid_t spawn(const int barrier[2], int (*fn)(const void *), const void *arg)
{
    const pid_t pid = fork();
    if (pid == 0) {
        close(barrier[1]); /* else this child holds the barrier shut for itself */
        char c;
        while (read(barrier[0], &c, 1) < 0)
            ;
        _exit(fn(arg));
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Starts fn(a) and fn(b) together; their exit statuses go to st[2]. */
static void run_pair(int (*fn)(const void *), const void *a, const void *b, int st[2])
{
    int p[2];
    st[0] = st[1] = -1;
    if (pipe(p)) {
        CHECK(0);
        return;
    }
    fflush(NULL);
    const pid_t ca = spawn(p, fn, a), cb = spawn(p, fn, b);
    close(p[0]);
    close(p[1]); /* EOF releases both at once */
    st[0] = wait_status(ca);
    st[1] = wait_status(cb);
}

/* ---------------------------------------------------------------- store */

struct store_job {
    const char *db, *run;
};

static int store_add_job(const void *arg)
{
    const struct store_job *j = arg;
    struct tb_store *st = NULL;
    struct tb_err err = {0};
    size_t added = 0;
    int rc = tb_store_open(j->db, &st, &err);
    if (!rc)
        rc = tb_store_add(st, j->run, "r1", &added, &err);
    tb_store_close(st);
    if (rc)
        fprintf(stderr, "store add %s into %s: %s\n", j->run, j->db, err.msg);
    return rc ? 1 : 0;
}

/* SELECT count(*) ... on the database, or -1. */
static long count_sql(const char *db, const char *q)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    long n = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, q, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

static void test_store_pairs(void)
{
    char run_a[700], run_b[700], db[700];
    snprintf(run_a, sizeof run_a, "%s/run-a", g_dir);
    snprintf(run_b, sizeof run_b, "%s/run-b", g_dir);
    struct fx_run fa = {.commit = "aaaa", .scale = 1.0, .n = 8, .seed = 1, .backend = "cpu"};
    struct fx_run fb = {.commit = "bbbb", .scale = 1.1, .n = 8, .seed = 2, .backend = "cpu"};
    CHECK(fx_write_run(run_a, &fa) == 0);
    CHECK(fx_write_run(run_b, &fb) == 0);
    /* what each run adds on its own */
    long one[2];
    const char *runs[2] = {run_a, run_b};
    for (int k = 0; k < 2; k++) {
        snprintf(db, sizeof db, "%s/alone-%d.db", g_dir, k);
        struct store_job j = {db, runs[k]};
        CHECK(store_add_job(&j) == 0);
        one[k] = count_sql(db, "SELECT count(*) FROM series");
        CHECK(one[k] > 0);
    }
    int failed = 0, wrong = 0;
    for (int i = 0; i < STORE_PAIRS; i++) {
        /* even pairs: two different runs; odd: the same run twice */
        snprintf(db, sizeof db, "%s/fresh-%d.db", g_dir, i);
        const int same = i % 2;
        struct store_job a = {db, run_a}, b = {db, same ? run_a : run_b};
        int st[2];
        run_pair(store_add_job, &a, &b, st);
        failed += st[0] != 0 || st[1] != 0;
        const long want_rows = same ? one[0] : one[0] + one[1];
        const long rows = count_sql(db, "SELECT count(*) FROM series");
        const long nruns = count_sql(db, "SELECT count(*) FROM runs");
        const int ok = rows == want_rows && nruns == (same ? 1 : 2);
        wrong += !ok;
        CHECKF(st[0] == 0 && st[1] == 0, "pair %d: store add exited %d and %d", i, st[0], st[1]);
        CHECKF(ok, "pair %d: %ld series rows (want %ld), %ld runs (want %d)", i, rows, want_rows,
               nruns, same ? 1 : 2);
    }
    printf("store: %d concurrent fresh-db pairs, %d with a failed add, %d with lost or duplicated "
           "rows\n",
           STORE_PAIRS, failed, wrong);
}

/* ------------------------------------------------------------ cold cache */

static const char *k_profile = "[profile]\n"
                               "name = first-use\n"
                               "tier = mcu\n"
                               "description = two runs on a cold model cache\n"
                               "threads = 1\n"
                               "binding = compact\n"
                               "isa_cap = scalar\n"
                               "memory_budget = 64 MiB\n"
                               "weight_types = q8_0\n"
                               "backends = cpu\n"
                               "energy_source = none\n"
                               "[workload.llm-decode]\n"
                               "model = synth:mcu-260k:q8_0\n"
                               "prompt = 8\n"
                               "n_predict = 4\n";

struct run_job {
    const char *bin, *pdir, *cache, *out;
};

static int run_job(const void *arg)
{
    const struct run_job *j = arg;
    char log[800];
    snprintf(log, sizeof log, "%s.log", j->out);
    const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execl(j->bin, j->bin, "run", "--profiles-dir", j->pdir, "--profile", "first-use", "--cache",
          j->cache, "--out", j->out, "--reps", "2", "--min-time", "0", "--warmup", "0",
          "--accuracy-positions", "4", (char *)NULL);
    return 126;
}

/* Every record of the run under out is valid and none is an outcome
 * record (MODEL-CHANGED, ...); returns the number of records. */
static int check_records(const char *out, int pair)
{
    char run_dir[1024];
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    CHECKF(recs != NULL, "pair %d: no records under %s", pair, out);
    if (!recs)
        return 0;
    size_t i;
    json_t *r;
    int n = 0;
    json_array_foreach(recs, i, r)
    {
        const char *status = json_string_value(json_object_get(r, "status"));
        const char *why = json_string_value(json_object_get(r, "invalid_reason"));
        if (!why)
            why = json_string_value(json_object_get(r, "error"));
        CHECKF(status && !strcmp(status, "ok") && json_is_true(json_object_get(r, "valid")),
               "pair %d: %s: record %zu is %s (%s)", pair, out, i, status ? status : "?",
               why ? why : "");
        n++;
    }
    json_decref(recs);
    return n;
}

static void test_cold_cache_pairs(void)
{
    const char *bin = fx_bin();
    if (!bin)
        return;
    char pdir[700], path[800];
    snprintf(pdir, sizeof pdir, "%s/profiles", g_dir);
    mkdir(pdir, 0755);
    snprintf(path, sizeof path, "%s/first-use.ini", pdir);
    fx_write_text(path, k_profile);
    int bad = 0;
    for (int i = 0; i < RUN_PAIRS; i++) {
        char cache[700], out_a[700], out_b[700];
        snprintf(cache, sizeof cache, "%s/cache-%d", g_dir, i); /* cold: does not exist yet */
        snprintf(out_a, sizeof out_a, "%s/out-%d-a", g_dir, i);
        snprintf(out_b, sizeof out_b, "%s/out-%d-b", g_dir, i);
        struct run_job a = {bin, pdir, cache, out_a}, b = {bin, pdir, cache, out_b};
        int st[2];
        run_pair(run_job, &a, &b, st);
        CHECKF(st[0] == 0 && st[1] == 0, "pair %d: runs exited %d and %d (logs %s.log, %s.log)", i,
               st[0], st[1], out_a, out_b);
        const int fails = tb_test_failures;
        const int na = check_records(out_a, i), nb = check_records(out_b, i);
        CHECKF(na >= 1 && nb >= 1, "pair %d: %d and %d records", i, na, nb);
        /* one generated file per model, no leftover temporary */
        char cmd[900];
        snprintf(cmd, sizeof cmd, "test $(ls '%s' | grep -v '\\.lock$' | wc -l) -eq 2", cache);
        CHECKF(fx_system(cmd) == 0,
               "pair %d: %s holds other than the q8_0 model and its f32 "
               "reference",
               i, cache);
        bad += st[0] != 0 || st[1] != 0 || tb_test_failures != fails;
    }
    printf("cold cache: %d concurrent run pairs, %d with an invalid record or a failed run\n",
           RUN_PAIRS, bad);
}

int main(void)
{
    (void)fx_slurp; /* report_fixtures.h helpers this test does not need */
    (void)fx_count;
    char base[512];
    tb_test_path(base, sizeof base, "first-use", "");
    snprintf(g_dir, sizeof g_dir, "%s", base);
    if (mkdir(g_dir, 0755)) {
        perror(g_dir);
        return 1;
    }
    test_store_pairs();
    test_cold_cache_pairs();
    if (tb_test_failures == 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        CHECK(fx_system(cmd) == 0);
    }
    return tb_test_result("test_first_use");
}

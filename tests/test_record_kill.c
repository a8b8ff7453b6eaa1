/* One record, one write: results.jsonl and results.csv agree for every
 * reader after any kill or full disk.
 *   - a writer SIGKILLed at random points (a forked child appending records
 *     with awkward strings), TB_KILL_ITERATIONS times (default 20): after
 *     each kill the reader path (tb_rsrc_load: report, compare, store add)
 *     or a re-open sees a CSV with exactly one row per complete JSONL
 *     record, in order, and the JSONL is never changed by that;
 *   - the kill window itself, made by hand (a JSONL line without its CSV
 *     row, a torn CSV row, a missing CSV, a CSV replaced under a live
 *     writer): repaired by tb_results_reconcile, a re-open and close;
 *   - a full disk (RLIMIT_FSIZE) at the CSV row takes the record back out
 *     of the JSONL; at the CSV header it leaves no run directory behind. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>
#include <jansson.h>

#include "harness/tb_results.h"
#include "harness/tb_stats.h"
#include "reports/tb_report.h"
#include "tb_test.h"

/* ---- reading both files back */

struct csv_read {
    int rows, col;
    char **workload; /* column 2 of each row, owned */
    int cap;
};

static void field_cb(void *s, size_t len, void *data)
{
    struct csv_read *c = data;
    if (c->col++ != 2)
        return;
    if (c->rows >= c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->workload = realloc(c->workload, (size_t)c->cap * sizeof *c->workload);
    }
    c->workload[c->rows] = strndup(s ? s : "", len);
}

static void row_cb(int ch, void *data)
{
    (void)ch;
    struct csv_read *c = data;
    if (c->col > 2)
        c->rows++;
    c->col = 0;
}

static void csv_read_free(struct csv_read *c)
{
    for (int i = 0; i < c->rows; i++)
        free(c->workload[i]);
    free(c->workload);
    memset(c, 0, sizeof *c);
}

/* Rows of dir's CSV (header included) through libcsv, strictly: -1 when it
 * does not parse (a torn row) or is missing. */
static int read_csv(const char *dir, struct csv_read *c)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, TB_RESULTS_CSV);
    memset(c, 0, sizeof *c);
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    struct csv_parser ps;
    csv_init(&ps, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    char buf[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&ps, buf, n, field_cb, row_cb, c) != n)
            rc = -1;
    if (csv_fini(&ps, field_cb, row_cb, c) != 0)
        rc = -1;
    csv_free(&ps);
    fclose(f);
    return rc ? -1 : c->rows;
}

static json_t *read_jsonl(const char *dir)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, TB_RESULTS_JSONL);
    if (access(p, F_OK) != 0)
        return NULL; /* killed before it was made */
    json_t *recs = NULL;
    size_t dropped = 0;
    struct tb_err e = {0};
    if (tb_results_read(p, &recs, &dropped, &e) != TB_OK)
        fprintf(stderr, "%s\n", e.msg);
    return recs;
}

/* Do dir's CSV rows match its JSONL records one for one (workload column)? */
static int agree(const char *dir, const char *when)
{
    json_t *recs = read_jsonl(dir);
    struct csv_read c;
    const int rows = read_csv(dir, &c);
    int ok = recs && rows == (int)json_array_size(recs) + 1 && !strcmp(c.workload[0], "workload");
    for (int i = 1; ok && i < rows; i++) {
        const char *w = json_string_value(json_object_get(json_array_get(recs, i - 1), "workload"));
        ok = w && !strcmp(w, c.workload[i]);
    }
    CHECKF(ok, "%s: %s: %d csv rows for %d records", dir, when, rows,
           recs ? (int)json_array_size(recs) : -1);
    json_decref(recs);
    csv_read_free(&c);
    return ok;
}

static json_t *record(int i)
{
    char w[64];
    /* quotes, a comma and a newline: the CSV row is not one line */
    snprintf(w, sizeof w, "w-%d \"q\",\n%s", i, i % 2 ? "odd" : "even");
    json_t *r = tb_results_record_new(w, "p", "c");
    json_object_set_new(r, "seq", json_integer(i));
    return r;
}

static void append_text(const char *dir, const char *name, const char *text)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "a");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *make_base(char *buf, size_t n, const char *tag)
{
    tb_test_path(buf, n, tag, "");
    CHECKF(mkdir(buf, 0777) == 0, "mkdir %s: %s", buf, strerror(errno));
    return buf;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

/* ---- the kill window, by hand */

/* What a writer killed between its two appends leaves: the JSONL line of
 * record i, no CSV row. */
static void jsonl_only(const char *dir, int i)
{
    json_t *r = record(i);
    char *line = json_dumps(r, JSON_COMPACT);
    append_text(dir, TB_RESULTS_JSONL, line);
    append_text(dir, TB_RESULTS_JSONL, "\n");
    free(line);
    json_decref(r);
}

static void test_window(void)
{
    char base[512], p[2048];
    make_base(base, sizeof base, "window");
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    CHECK(tb_results_open(base, TB_RESULTS_EXACT_DIR, &r, &e) == TB_OK);
    for (int i = 0; i < 3; i++) {
        json_t *rec = record(i);
        CHECK(tb_results_append(r, rec, &e) == TB_OK);
        json_decref(rec);
    }
    CHECK(tb_results_close(r, &e) == TB_OK);
    int rw = 9;
    CHECK(tb_results_reconcile(base, &rw, &e) == TB_OK && rw == 0); /* agrees: untouched */
    agree(base, "after close");

    /* the reader path repairs a row short */
    jsonl_only(base, 3);
    struct csv_read c;
    CHECK(read_csv(base, &c) == 4); /* header + 3: the kill window */
    csv_read_free(&c);
    CHECK(tb_results_reconcile(base, &rw, &e) == TB_OK && rw == 1);
    agree(base, "reconcile");
    jsonl_only(base, 4);
    struct tb_rsrc src;
    CHECKF(tb_rsrc_load(base, 1, &src, &e) == TB_OK, "%s", e.msg);
    CHECK(json_array_size(src.records) == 5);
    tb_rsrc_free(&src);
    agree(base, "report's load");

    /* a re-open repairs it, and so does a torn CSV row */
    jsonl_only(base, 5);
    append_text(base, TB_RESULTS_CSV, "1,\"2026-12-03T1");
    CHECK(tb_results_open(base, TB_RESULTS_APPEND, &r, &e) == TB_OK);
    agree(base, "re-open");
    /* a reader replaces the CSV under this live writer (a row short again):
     * the writer's next row goes to the new file, not the replaced one */
    jsonl_only(base, 6);
    CHECK(tb_results_reconcile(base, &rw, &e) == TB_OK && rw == 1);
    json_t *rec = record(7);
    CHECK(tb_results_append(r, rec, &e) == TB_OK);
    json_decref(rec);
    agree(base, "append after a reader's rewrite");
    jsonl_only(base, 8); /* and close repairs a last short row */
    CHECK(tb_results_close(r, &e) == TB_OK);
    agree(base, "close");

    /* a CSV that is gone comes back */
    snprintf(p, sizeof p, "%s/%s", base, TB_RESULTS_CSV);
    CHECK(unlink(p) == 0);
    CHECK(tb_results_reconcile(base, &rw, &e) == TB_OK && rw == 1);
    CHECK(read_csv(base, &c) == 10);
    csv_read_free(&c);
    agree(base, "missing csv");
    CHECK(entries(base) == 2); /* no temporary left */
    /* nothing to reconcile in a directory without results */
    char empty[512];
    make_base(empty, sizeof empty, "noresults");
    CHECK(tb_results_reconcile(empty, &rw, &e) == TB_OK && rw == 0 && entries(empty) == 0);
}

/* ---- full disk */

/* The JSONL line fits under the cap, the CSV (its header is longer than
 * the line) does not: the record must come back out. */
static int append_row_past_limit(void *arg)
{
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    if (tb_results_open(arg, TB_RESULTS_APPEND, &r, &e) != TB_OK)
        return 2;
    json_t *rec = json_pack("{s:s}", "workload", "w");
    const int rc = tb_results_append(r, rec, &e);
    json_decref(rec);
    const int ok = rc == TB_EIO && strstr(e.msg, "taken back out") &&
                   strstr(e.msg, "results.csv") && strstr(e.msg, "File too large");
    if (!ok)
        fprintf(stderr, "append past the limit: %d %s\n", rc, e.msg);
    tb_results_close(r, NULL);
    return ok ? 0 : 1;
}

static int open_past_limit(void *arg)
{
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    const int rc = tb_results_open(arg, TB_RESULTS_NEW_SUBDIR, &r, &e);
    const int ok = rc == TB_EIO && r == NULL && strstr(e.msg, "results.csv") &&
                   strstr(e.msg, "File too large");
    if (!ok)
        fprintf(stderr, "open past the limit: %d %s\n", rc, e.msg);
    return ok ? 0 : 1;
}

static void test_full_disk(void)
{
    char base[512], p[2048];
    make_base(base, sizeof base, "fullrow");
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    CHECK(tb_results_open(base, TB_RESULTS_EXACT_DIR, &r, &e) == TB_OK);
    CHECK(tb_results_close(r, &e) == TB_OK);
    CHECK(tb_test_with_fsize_limit(200, append_row_past_limit, base) == 0);
    snprintf(p, sizeof p, "%s/%s", base, TB_RESULTS_JSONL);
    struct stat st;
    CHECK(stat(p, &st) == 0 && st.st_size == 0); /* neither file has it */
    agree(base, "full disk at the row");

    /* the header does not fit: no run directory (and nothing in it) stays */
    make_base(base, sizeof base, "fullhdr");
    CHECK(tb_test_with_fsize_limit(100, open_past_limit, base) == 0);
    CHECKF(entries(base) == 0, "%s: %d entries left", base, entries(base));
}

/* ---- SIGKILL at random points */

static void child_writer(const char *dir, int first)
{
    struct tb_results *r = NULL;
    if (tb_results_open(dir, TB_RESULTS_APPEND, &r, NULL) != TB_OK)
        _exit(2);
    for (int i = first;; i++) {
        json_t *rec = record(i);
        if (tb_results_append(r, rec, NULL) != TB_OK)
            _exit(3);
        json_decref(rec);
    }
}

static void test_kill(void)
{
    const char *env = getenv("TB_KILL_ITERATIONS");
    const int iters = env && atoi(env) > 0 ? atoi(env) : 20;
    struct tb_rng rng;
    tb_rng_seed(&rng, (uint64_t)time(NULL));
    char dir[512];
    make_base(dir, sizeof dir, "kill");
    /* the files exist before the first kill: one that lands inside the
     * first open could otherwise leave a directory with no results at all,
     * which no reader accepts (rightly) */
    struct tb_results *r0 = NULL;
    struct tb_err e0 = {0};
    CHECKF(tb_results_open(dir, TB_RESULTS_APPEND, &r0, &e0) == TB_OK, "%s", e0.msg);
    CHECK(r0 && tb_results_close(r0, &e0) == TB_OK);
    int raw_mismatch = 0, mismatch = 0, records = 0;
    for (int it = 0; it < iters; it++) {
        json_t *before = read_jsonl(dir);
        const int first = before ? (int)json_array_size(before) : 0;
        json_decref(before);
        const long delay_us = 200 + (long)(tb_rng_next(&rng) % 40000);
        fflush(NULL);
        const pid_t pid = fork();
        if (pid == 0)
            child_writer(dir, first);
        nanosleep(&(struct timespec){0, delay_us * 1000}, NULL);
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "iteration %d: child status %d", it, st);

        /* as the kill left them: the CSV may be a row short or torn */
        json_t *recs = read_jsonl(dir);
        const int n = recs ? (int)json_array_size(recs) : -1;
        struct csv_read c;
        raw_mismatch += read_csv(dir, &c) != n + 1;
        csv_read_free(&c);
        /* what a reader sees: report/compare/store's load, or a re-open */
        struct tb_err e = {0};
        if (it % 2 == 0) {
            struct tb_rsrc src;
            CHECKF(tb_rsrc_load(dir, 0, &src, &e) == TB_OK, "%s", e.msg);
            tb_rsrc_free(&src);
        } else {
            struct tb_results *r = NULL;
            CHECKF(tb_results_open(dir, TB_RESULTS_APPEND, &r, &e) == TB_OK, "%s", e.msg);
            CHECK(agree(dir, "re-opened"));
            CHECK(tb_results_close(r, &e) == TB_OK);
        }
        mismatch += !agree(dir, it % 2 ? "re-open" : "reader");
        json_t *after = read_jsonl(dir);
        CHECK(after && (int)json_array_size(after) == n); /* the record is the JSONL */
        for (int i = 0; after && i < n; i++)
            CHECK(json_integer_value(json_object_get(json_array_get(after, i), "seq")) == i);
        json_decref(after);
        json_decref(recs);
        records = n;
    }
    /* a kill inside a CSV rewrite leaves its temporary (never read) */
    const int temps = entries(dir) - 2;
    printf("test_record_kill: %d kills, %d records, CSV a row short or torn right after %d of "
           "them, %d JSONL/CSV mismatches seen by a reader or re-open, %d CSV temporaries left\n",
           iters, records, raw_mismatch, mismatch, temps);
    CHECK(records > 0 && mismatch == 0);
}

int main(void)
{
    test_window();
    test_full_disk();
    test_kill();
    return tb_test_result("test_record_kill");
}

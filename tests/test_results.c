/* Crash-safe results: append + read back, CSV quoting, torn tails, atomic
 * manifest, output-directory errors, never-overwrite, write failures
 * (RLIMIT_FSIZE stands in for a full disk) and SIGKILL at random times. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>

#include "harness/tb_env.h"
#include "harness/run_internal.h"
#include "harness/tb_results.h"
#include "harness/tb_results_csv.h"
#include "harness/tb_topo.h"
#include "tb_test.h"

/* ---- small helpers */

static char *make_base(char *buf, size_t n, const char *tag)
{
    tb_test_path(buf, n, tag, "");
    if (mkdir(buf, 0777) != 0)
        fprintf(stderr, "mkdir %s: %s\n", buf, strerror(errno));
    return buf;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void append_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void join(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* CSV read back through libcsv's parser */
struct csv_rows {
    int rows, cols_in_row, first_row_cols;
    int want_row, want_col; /* capture one cell */
    char cell[256];
    int cell_seen;
};

static void csv_field_cb(void *s, size_t len, void *data)
{
    struct csv_rows *c = data;
    if (c->rows == c->want_row && c->cols_in_row == c->want_col) {
        size_t k = len < sizeof c->cell - 1 ? len : sizeof c->cell - 1;
        memcpy(c->cell, s ? s : "", k);
        c->cell[k] = '\0';
        c->cell_seen = 1;
    }
    c->cols_in_row++;
}

static void csv_row_cb(int ch, void *data)
{
    (void)ch;
    struct csv_rows *c = data;
    if (c->rows == 0)
        c->first_row_cols = c->cols_in_row;
    c->rows++;
    c->cols_in_row = 0;
}

static int parse_csv(const char *path, struct csv_rows *c)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL) != 0) {
        fclose(f);
        return -1;
    }
    char buf[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, n, csv_field_cb, csv_row_cb, c) != n)
            rc = -1;
    if (csv_fini(&p, csv_field_cb, csv_row_cb, c) != 0)
        rc = -1;
    csv_free(&p);
    fclose(f);
    return rc;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static json_t *simple_record(const char *workload, int seq)
{
    json_t *r = tb_results_record_new(workload, "phone-mid", "q4_0-t4");
    json_object_set_new(r, "seq", json_integer(seq));
    return r;
}

/* ---- tests */

static void test_append_and_read(void)
{
    char base[512], p[2048];
    tb_test_path(base, sizeof base, "results", ""); /* does not exist yet: open creates it */
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    CHECKF(tb_results_open(base, TB_RESULTS_NEW_SUBDIR, &r, &e) == TB_OK, "%s", e.msg);
    if (!r)
        return;
    const char *dir = tb_results_dir(r);
    CHECK(strncmp(dir, base, strlen(base)) == 0 && strstr(dir, "/run-") != NULL);

    /* record 0: a measurement with stats */
    double v[5] = {10, 12, 11, 13, 9};
    struct tb_sample_set set = {
        .v = v, .n = 5, .cap = 5, .warmup_n = 2, .measured_s = 0.5, .valid = 1};
    json_t *r0 = tb_results_record_new("decode", "phone-mid", "q4_0-t4");
    CHECK(r0 && tb_results_set_measurement(r0, "decode_tok_s", "tok/s", &set, NULL, &e) == TB_OK);
    CHECK(tb_results_append(r, r0, &e) == TB_OK);
    /* record 1: awkward strings for the CSV quoting, an INVALID run */
    json_t *r1 = tb_results_record_new("pre,fill \"long\"\nline2", "laptop", NULL);
    set.valid = 0;
    snprintf(set.invalid_reason, sizeof set.invalid_reason, "max_time_s expired");
    CHECK(tb_results_set_measurement(r1, "ttft_s", "s", &set, NULL, &e) == TB_OK);
    CHECK(tb_results_append(r, r1, &e) == TB_OK);
    /* record 2: a figure that could not be measured */
    json_t *r2 = tb_results_record_new("energy", "phone-mid", "q4_0-t4");
    CHECK(tb_results_set_unavailable(r2, "joules_per_token", "RAPL not readable: permission denied",
                                     &e) == TB_OK);
    CHECK(tb_results_set_unavailable(r2, "x", "", &e) == TB_EINVAL);
    CHECK(tb_results_append(r, r2, &e) == TB_OK);
    /* a foreign schema version is refused, a non-object too */
    json_t *bad = json_pack("{s:i}", "schema_version", 99);
    CHECK(tb_results_append(r, bad, &e) == TB_EINVAL);
    json_t *arr = json_array();
    CHECK(tb_results_append(r, arr, &e) == TB_EINVAL);
    json_decref(arr);
    json_decref(bad);
    CHECK(tb_results_count(r) == 3);

    json_t *man = json_pack("{s:s, s:i}", "command", "tierbench run", "records", 3);
    CHECK(tb_results_write_manifest(r, man, &e) == TB_OK);
    json_decref(man);
    char dir_copy[1024];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);
    CHECK(tb_results_close(r, &e) == TB_OK);

    json_t *recs = NULL;
    size_t dropped = 99;
    join(p, sizeof p, dir_copy, TB_RESULTS_JSONL);
    CHECKF(tb_results_read(p, &recs, &dropped, &e) == TB_OK, "%s", e.msg);
    CHECK(json_array_size(recs) == 3 && dropped == 0);
    json_t *a0 = json_array_get(recs, 0), *a1 = json_array_get(recs, 1),
           *a2 = json_array_get(recs, 2);
    CHECK(json_integer_value(json_object_get(a0, "schema_version")) == TB_RESULTS_SCHEMA_VERSION);
    CHECK(json_real_value(json_object_get(json_object_get(a0, "stats"), "median")) == 11.0);
    CHECK(json_array_size(json_object_get(a0, "samples")) == 5);
    CHECK(json_is_true(json_object_get(a0, "valid")));
    CHECK(strcmp(json_string_value(json_object_get(a1, "workload")), "pre,fill \"long\"\nline2") ==
          0);
    CHECK(json_is_false(json_object_get(a1, "valid")));
    CHECK(strcmp(json_string_value(json_object_get(a1, "invalid_reason")), "max_time_s expired") ==
          0);
    CHECK(json_is_null(json_object_get(a2, "stats")));
    CHECK(strstr(json_string_value(json_object_get(a2, "unavailable")), "RAPL") != NULL);
    json_decref(recs);
    json_decref(r0);
    json_decref(r1);
    json_decref(r2);

    /* CSV: header + 3 rows, 35 columns, quoting round-trips (column 2 is
     * "workload", as it always was; column 14 "median": SQL-friendly names,
     * no "stats.") */
    join(p, sizeof p, dir_copy, TB_RESULTS_CSV);
    struct csv_rows c = {.want_row = 2, .want_col = 2};
    CHECK(parse_csv(p, &c) == 0);
    CHECKF(c.rows == 4 && c.first_row_cols == 35, "rows %d cols %d", c.rows, c.first_row_cols);
    CHECK(c.cell_seen && strcmp(c.cell, "pre,fill \"long\"\nline2") == 0);
    struct csv_rows m = {.want_row = 1, .want_col = 14};
    CHECK(parse_csv(p, &m) == 0 && strcmp(m.cell, "11") == 0);
    struct csv_rows h = {.want_row = 0, .want_col = 14};
    CHECK(parse_csv(p, &h) == 0 && strcmp(h.cell, "median") == 0);

    join(p, sizeof p, dir_copy, TB_RESULTS_MANIFEST);
    json_error_t je;
    json_t *mj = json_load_file(p, 0, &je);
    CHECK(mj &&
          json_integer_value(json_object_get(mj, "schema_version")) == TB_RESULTS_SCHEMA_VERSION);
    json_decref(mj);

    /* a second run under the same --out gets its own directory */
    struct tb_results *r2h = NULL;
    CHECK(tb_results_open(base, TB_RESULTS_NEW_SUBDIR, &r2h, &e) == TB_OK);
    CHECK(r2h && strcmp(tb_results_dir(r2h), dir_copy) != 0);
    tb_results_close(r2h, NULL);
}

static void test_never_overwrite_and_append(void)
{
    char base[512], p[2048];
    make_base(base, sizeof base, "exact");
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    CHECK(tb_results_open(base, TB_RESULTS_EXACT_DIR, &r, &e) == TB_OK);
    json_t *rec = simple_record("w", 0);
    CHECK(tb_results_append(r, rec, &e) == TB_OK);
    json_decref(rec);
    CHECK(tb_results_close(r, &e) == TB_OK);
    join(p, sizeof p, base, TB_RESULTS_JSONL);
    long before = file_size(p);

    r = NULL;
    e.msg[0] = '\0';
    CHECK(tb_results_open(base, TB_RESULTS_EXACT_DIR, &r, &e) == TB_EIO && r == NULL);
    CHECKF(strstr(e.msg, "refusing to overwrite") && strstr(e.msg, base), "'%s'", e.msg);
    CHECK(file_size(p) == before);

    CHECK(tb_results_open(base, TB_RESULTS_APPEND, &r, &e) == TB_OK);
    rec = simple_record("w", 1);
    CHECK(r && tb_results_append(r, rec, &e) == TB_OK);
    json_decref(rec);
    CHECK(tb_results_close(r, &e) == TB_OK);
    json_t *recs = NULL;
    size_t dropped = 9;
    CHECK(tb_results_read(p, &recs, &dropped, &e) == TB_OK && json_array_size(recs) == 2 &&
          dropped == 0);
    json_decref(recs);
    join(p, sizeof p, base, TB_RESULTS_CSV);
    CHECK(count_lines(p) == 3); /* header once + 2 rows */
}

/* Fills the results directory base with n records of workload "w" (seq
 * 0..n-1), then closes it. */
static void write_records(const char *base, int n)
{
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    CHECK(tb_results_open(base, TB_RESULTS_EXACT_DIR, &r, &e) == TB_OK);
    for (int i = 0; i < n; i++) {
        json_t *rec = simple_record("w", i);
        CHECK(tb_results_append(r, rec, &e) == TB_OK);
        json_decref(rec);
    }
    tb_results_close(r, NULL);
}

static void test_torn_tail(void)
{
    char base[512], p[2048];
    make_base(base, sizeof base, "torn");
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    write_records(base, 3);
    join(p, sizeof p, base, TB_RESULTS_JSONL);

    /* no newline: torn, dropped */
    append_text(p, "{\"schema_version\":1,\"wor");
    json_t *recs = NULL;
    size_t dropped = 0;
    CHECK(tb_results_read(p, &recs, &dropped, &e) == TB_OK && json_array_size(recs) == 3 &&
          dropped == 1);
    json_decref(recs);

    /* APPEND after a crash trims the torn bytes, then continues cleanly */
    CHECK(tb_results_open(base, TB_RESULTS_APPEND, &r, &e) == TB_OK);
    json_t *rec = simple_record("w", 3);
    CHECK(r && tb_results_append(r, rec, &e) == TB_OK);
    json_decref(rec);
    tb_results_close(r, NULL);
    CHECK(tb_results_read(p, &recs, &dropped, &e) == TB_OK && json_array_size(recs) == 4 &&
          dropped == 0);
    CHECK(json_integer_value(json_object_get(json_array_get(recs, 3), "seq")) == 3);
    json_decref(recs);

    /* a newline-terminated but unparsable last line is complete: not a torn
     * write but damage, an error naming the file and the line (issue 19) */
    append_text(p, "{\"schema_version\":1,\"wo\n");
    e.msg[0] = '\0';
    recs = NULL;
    CHECK(tb_results_read(p, &recs, &dropped, &e) == TB_EFORMAT && recs == NULL);
    CHECKF(strstr(e.msg, p) && strstr(e.msg, "line 5 is not valid JSON"), "'%s'", e.msg);

    /* the same damage in the middle is corruption too */
    append_text(p, "{\"schema_version\":1}\n");
    e.msg[0] = '\0';
    CHECK(tb_results_read(p, &recs, &dropped, &e) == TB_EFORMAT && recs == NULL);
    CHECKF(strstr(e.msg, "line 5") != NULL, "'%s'", e.msg);

    char q[2048];
    tb_test_path(q, sizeof q, "schema", ".jsonl");
    append_text(q, "{\"schema_version\":1}\n{\"schema_version\":2}\n");
    CHECK(tb_results_read(q, &recs, &dropped, &e) == TB_EUNSUPPORTED);
    tb_test_path(q, sizeof q, "noschema", ".jsonl");
    append_text(q, "{\"a\":1}\n");
    CHECK(tb_results_read(q, &recs, &dropped, &e) == TB_EFORMAT);
    tb_test_path(q, sizeof q, "empty", ".jsonl");
    append_text(q, "");
    CHECK(tb_results_read(q, &recs, &dropped, &e) == TB_OK && json_array_size(recs) == 0 &&
          dropped == 0);
    json_decref(recs);
    tb_test_path(q, sizeof q, "missing", ".jsonl");
    CHECK(tb_results_read(q, &recs, &dropped, &e) == TB_EIO && strstr(e.msg, q));
}

static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    return n;
}

static json_t *padded(const char *key, int value, size_t pad)
{
    char *s = malloc(pad + 1);
    memset(s, 'x', pad);
    s[pad] = '\0';
    json_t *o = json_pack("{s:i, s:s}", key, value, "pad", s);
    free(s);
    return o;
}

static int write_big_manifest(void *arg)
{
    struct tb_err e = {0};
    json_t *m = padded("version", 2, 100000);
    int rc = tb_json_write_atomic(arg, m, &e);
    json_decref(m);
    /* must fail as an i/o error naming the temp file */
    return rc == TB_EIO && strstr(e.msg, ".tmp-") ? 0 : 1;
}

static void test_manifest_atomic(void)
{
    char base[512], p[2048];
    make_base(base, sizeof base, "manifest");
    join(p, sizeof p, base, "manifest.json");
    struct tb_err e = {0};
    json_t *a = padded("version", 1, 5000);
    CHECK(tb_json_write_atomic(p, a, &e) == TB_OK);
    json_t *b = padded("version", 2, 100);
    CHECK(tb_json_write_atomic(p, b, &e) == TB_OK); /* replaces a longer file */
    json_error_t je;
    json_t *got = json_load_file(p, 0, &je);
    CHECK(got && json_equal(got, b));
    json_decref(got);
    CHECK(temp_files_in(base) == 0);

    /* a failing write (file size cap) leaves the old manifest untouched and
     * no temp file behind */
    CHECK(tb_test_with_fsize_limit(50000, write_big_manifest, p) == 0);
    got = json_load_file(p, 0, &je);
    CHECK(got && json_equal(got, b));
    json_decref(got);
    CHECK(temp_files_in(base) == 0);
    char nodir[1100];
    snprintf(nodir, sizeof nodir, "%s/missing/manifest.json", base);
    CHECK(tb_json_write_atomic(nodir, b, &e) == TB_EIO);
    CHECKF(strstr(e.msg, "/missing/manifest.json.tmp-") && strstr(e.msg, "No such file"), "'%s'",
           e.msg);
    json_decref(a);
    json_decref(b);
}

static int append_past_limit(void *arg)
{
    struct tb_results *r = NULL;
    struct tb_err e = {0};
    if (tb_results_open(arg, TB_RESULTS_APPEND, &r, &e) != TB_OK)
        return 2;
    json_t *big = padded("seq", 99, 20000);
    int rc = tb_results_append(r, big, &e);
    int ok = rc == TB_EIO && strstr(e.msg, "results.jsonl") && strstr(e.msg, "File too large");
    /* the handle now refuses further appends */
    json_t *small = padded("seq", 100, 1);
    ok = ok && tb_results_append(r, small, &e) == TB_EIO && strstr(e.msg, "refusing");
    json_decref(big);
    json_decref(small);
    tb_results_close(r, NULL);
    return ok ? 0 : 1;
}

static void test_write_failure(void)
{
    char base[512], p[2048];
    make_base(base, sizeof base, "full");
    struct tb_err e = {0};
    write_records(base, 2);
    join(p, sizeof p, base, TB_RESULTS_JSONL);
    long before = file_size(p);
    /* the cap lets part of the 20 kB record through: it must be cut back */
    CHECK(tb_test_with_fsize_limit(before + 4000, append_past_limit, base) == 0);
    CHECK(file_size(p) == before);
    json_t *recs = NULL;
    size_t dropped = 9;
    CHECK(tb_results_read(p, &recs, &dropped, &e) == TB_OK && json_array_size(recs) == 2 &&
          dropped == 0);
    json_decref(recs);
}

static void test_output_dir_errors(void)
{
    char base[512], p[2048];
    make_base(base, sizeof base, "errs");
    struct tb_results *r = NULL;
    struct tb_err e = {0};

    snprintf(p, sizeof p, "%s/no/such/parent", base);
    CHECK(tb_results_open(p, TB_RESULTS_NEW_SUBDIR, &r, &e) == TB_EIO && r == NULL);
    CHECKF(strstr(e.msg, p) && strstr(e.msg, "No such file"), "'%s'", e.msg);

    /* a regular file as parent: ENOTDIR even for root */
    char file[2048];
    join(file, sizeof file, base, "plain-file");
    append_text(file, "x");
    snprintf(p, sizeof p, "%s/plain-file/sub", base);
    CHECK(tb_results_open(p, TB_RESULTS_NEW_SUBDIR, &r, &e) == TB_EIO);
    CHECKF(strstr(e.msg, "Not a directory") != NULL, "'%s'", e.msg);
    CHECK(tb_results_open(file, TB_RESULTS_EXACT_DIR, &r, &e) == TB_EIO &&
          strstr(e.msg, "not a directory"));
    CHECK(tb_results_open("", TB_RESULTS_NEW_SUBDIR, &r, &e) == TB_EINVAL);
    CHECK(tb_results_open(base, (enum tb_results_mode)7, &r, &e) == TB_EINVAL);

    /* permission denied: root bypasses directory permissions */
    char ro[2048];
    join(ro, sizeof ro, base, "readonly");
    CHECK(mkdir(ro, 0500) == 0 && chmod(ro, 0500) == 0);
    if (geteuid() == 0) {
        printf("test_results: read-only directory check skipped: running as root (permissions do "
               "not apply)\n");
    } else {
        CHECK(tb_results_open(ro, TB_RESULTS_NEW_SUBDIR, &r, &e) == TB_EIO);
        CHECKF(strstr(e.msg, "Permission denied") != NULL, "'%s'", e.msg);
        CHECK(tb_results_open(ro, TB_RESULTS_EXACT_DIR, &r, &e) == TB_EIO);
    }
    chmod(ro, 0700);
}

/* ---- SIGKILL at random times */

static void child_writer(const char *dir, uint64_t seed)
{
    struct tb_results *r = NULL;
    if (tb_results_open(dir, TB_RESULTS_EXACT_DIR, &r, NULL) != TB_OK)
        _exit(2);
    struct tb_rng rng;
    tb_rng_seed(&rng, seed);
    for (int i = 0; i < 1000000; i++) {
        json_t *rec = padded("seq", i, (size_t)tb_rng_below(&rng, 20000));
        if (tb_results_append(r, rec, NULL) != TB_OK)
            _exit(3);
        json_decref(rec);
        if (i % 3 == 2) {
            json_t *m = padded("count", i + 1, (size_t)tb_rng_below(&rng, 50000));
            if (tb_results_write_manifest(r, m, NULL) != TB_OK)
                _exit(4);
            json_decref(m);
        }
    }
    _exit(0);
}

static void test_sigkill(void)
{
    struct tb_rng rng;
    tb_rng_seed(&rng, 20261121);
    int total_records = 0, total_dropped = 0, manifests = 0;
    for (int it = 0; it < 20; it++) {
        char dir[512], p[2048];
        make_base(dir, sizeof dir, "kill");
        long delay_us = 1000 + (long)tb_rng_below(&rng, 150000);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
            child_writer(dir, (uint64_t)it);
        nanosleep(&(struct timespec){0, delay_us * 1000}, NULL);
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "iteration %d: child status %d", it, st);

        join(p, sizeof p, dir, TB_RESULTS_JSONL);
        if (file_size(p) < 0)
            continue; /* killed before the file existed */
        json_t *recs = NULL;
        size_t dropped = 9;
        struct tb_err e = {0};
        CHECKF(tb_results_read(p, &recs, &dropped, &e) == TB_OK, "iteration %d: %s", it, e.msg);
        CHECK(dropped <= 1);
        size_t n = json_array_size(recs);
        for (size_t i = 0; i < n; i++) {
            json_t *rec = json_array_get(recs, i);
            CHECKF(json_integer_value(json_object_get(rec, "seq")) == (json_int_t)i &&
                       json_integer_value(json_object_get(rec, "schema_version")) ==
                           TB_RESULTS_SCHEMA_VERSION,
                   "iteration %d record %zu", it, i);
        }
        json_decref(recs);
        total_records += (int)n;
        total_dropped += (int)dropped;

        /* the CSV row of the last record may be missing (killed between the
         * two files), never more */
        join(p, sizeof p, dir, TB_RESULTS_CSV);
        int lines = count_lines(p);
        if (n > 0)
            CHECKF(lines - 1 == (int)n || lines - 1 == (int)n - 1,
                   "iteration %d: %d csv rows for %zu records", it, lines - 1, n);

        /* the manifest is the old or the new one, complete either way */
        join(p, sizeof p, dir, TB_RESULTS_MANIFEST);
        if (file_size(p) >= 0) {
            json_error_t je;
            json_t *m = json_load_file(p, 0, &je);
            CHECKF(m != NULL, "iteration %d: manifest does not parse: %s", it, je.text);
            json_int_t count = json_integer_value(json_object_get(m, "count"));
            CHECKF(count >= 3 && count % 3 == 0 && count <= (json_int_t)n,
                   "iteration %d: manifest count %lld, %zu records", it, (long long)count, n);
            json_decref(m);
            manifests++;
        }
    }
    printf("test_sigkill: 20 kills, %d complete records, %d torn lines dropped, %d manifests "
           "checked\n",
           total_records, total_dropped, manifests);
    CHECK(total_records > 0 && manifests > 0); /* the kills landed mid-run, not before it */
}

static void test_env_and_hash(void)
{
    struct tb_err e = {0};
    json_t *env = tb_env_capture(&e);
    CHECK(env != NULL);
    json_t *tb = json_object_get(env, "tierbench");
    CHECK(json_is_string(json_object_get(tb, "version")) &&
          json_is_string(json_object_get(tb, "git_commit_configured")));
    json_t *dirty = json_object_get(tb, "source_git_dirty");
    CHECK(json_is_boolean(dirty) ||
          (json_is_string(dirty) && !strncmp(json_string_value(dirty), "unavailable: ", 13)));
    json_t *cpu = json_object_get(env, "cpu");
    CHECK(json_is_string(json_object_get(cpu, "model")));
    /* the model is hwloc's CPUModel (or why not), the topology hash SHA-256 */
    const char *th = json_string_value(json_object_get(env, "topology_hash"));
    CHECKF(th && ((strlen(th) == 71 && !strncmp(th, "sha256:", 7)) ||
                  !strncmp(th, "unavailable: ", 13)),
           "%s", th ? th : "(none)");
    {
        struct tb_topo *t = NULL;
        CHECK(tb_topo_open_xml(TB_SOURCE_DIR "/tests/data/hwloc/cpumodel.xml", &t, &e) == TB_OK);
        json_t *xe = t ? tb_env_capture_topo(t, &e) : NULL;
        char want[TB_HASH_STR_MAX] = "";
        CHECK(t && tb_topo_hash(t, want, &e) == TB_OK);
        const char *xm = json_string_value(json_object_get(json_object_get(xe, "cpu"), "model"));
        const char *xh = json_string_value(json_object_get(xe, "topology_hash"));
        CHECKF(xm && !strcmp(xm, "Test CPU 9000 @ 2.00GHz"), "%s", xm ? xm : "");
        CHECKF(xh && want[0] && !strcmp(xh, want), "%s vs %s", xh ? xh : "", want);
        json_decref(xe);
        tb_topo_free(t);
        /* a synthetic topology has no CPUModel: "unavailable: <reason>" */
        CHECK(tb_topo_open_synthetic("pack:1 core:2 pu:1", &t, &e) == TB_OK);
        xe = t ? tb_env_capture_topo(t, &e) : NULL;
        const char *m = json_string_value(json_object_get(json_object_get(xe, "cpu"), "model"));
        CHECKF(m && !strncmp(m, "unavailable: ", 13) && strstr(m, "CPUModel"), "%s", m ? m : "");
        json_decref(xe);
        tb_topo_free(t);
    }
    json_t *gov = json_object_get(cpu, "governor");
    CHECK(json_is_string(gov)); /* a name, or "unavailable: <reason>" */
    json_t *freq = json_object_get(cpu, "cur_freq_khz");
    CHECK(json_is_integer(freq) ||
          (json_is_string(freq) && strstr(json_string_value(freq), "unavailable: ")));
    CHECK(json_is_string(json_object_get(json_object_get(env, "kernel"), "release")));
    const char *ts = json_string_value(json_object_get(env, "timestamp_utc"));
    CHECK(ts && strlen(ts) == 20 && ts[10] == 'T' && ts[19] == 'Z');
    CHECK(json_is_string(json_object_get(json_object_get(env, "build"), "c_flags")));
    CHECK(tb_env_set_component(env, "papi", "7.1.0", NULL, &e) == TB_OK);
    CHECK(tb_env_set_component(env, "hwloc", NULL, "library not found", &e) == TB_OK);
    CHECK(tb_env_set_component(env, "x", NULL, NULL, &e) == TB_EINVAL);
    CHECK(tb_env_add_device(env, "cpu", "Intel Xeon", &e) == TB_OK);
    json_t *comp = json_object_get(env, "components");
    CHECK(!strcmp(json_string_value(json_object_get(comp, "papi")), "7.1.0"));
    CHECK(!strcmp(json_string_value(json_object_get(comp, "hwloc")),
                  "unavailable: library not found"));
    CHECK(json_array_size(json_object_get(env, "devices")) == 1);
    char *dump = json_dumps(env, 0); /* every value is encodable */
    CHECK(dump != NULL);
    free(dump);
    json_decref(env);

    /* FNV-1a 64 reference values: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c,
     * "foobar" -> 85944171f73967e8 (published test vectors) */
    CHECK(tb_fnv1a64("", 0, TB_FNV1A64_INIT) == 0xcbf29ce484222325ULL);
    CHECK(tb_fnv1a64("a", 1, TB_FNV1A64_INIT) == 0xaf63dc4c8601ec8cULL);
    CHECK(tb_fnv1a64("foobar", 6, TB_FNV1A64_INIT) == 0x85944171f73967e8ULL);
    CHECK(tb_fnv1a64("bar", 3, tb_fnv1a64("foo", 3, TB_FNV1A64_INIT)) == 0x85944171f73967e8ULL);
    /* SHA-256, the provenance hash: FIPS 180-2 known answers for "" and "abc",
     * in memory and through a file (and a file over one 1 MiB read chunk) */
    static const char sha_empty[] =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static const char sha_abc[] =
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char p[512], h[TB_HASH_STR_MAX];
    tb_sha256_str("", 0, h);
    CHECKF(!strcmp(h, sha_empty), "%s", h);
    tb_sha256_str("abc", 3, h);
    CHECKF(!strcmp(h, sha_abc), "%s", h);
    CHECK(strlen(h) == TB_HASH_STR_MAX - 1);
    tb_test_path(p, sizeof p, "hash", ".bin");
    append_text(p, "abc");
    CHECK(tb_file_hash(p, h, &e) == TB_OK && !strcmp(h, sha_abc));
    tb_test_path(p, sizeof p, "hash-empty", ".bin");
    append_text(p, "");
    CHECK(tb_file_hash(p, h, &e) == TB_OK && !strcmp(h, sha_empty));
    /* one million 'a' (FIPS 180-2 test 3) in memory; then a file of more
     * than one 1 MiB read chunk hashes as the same bytes do in memory */
    tb_test_path(p, sizeof p, "hash-big", ".bin");
    const size_t big = (1u << 20) + 4097;
    char *a = malloc(big + 1);
    CHECK(a != NULL);
    if (a) {
        char m[TB_HASH_STR_MAX];
        memset(a, 'a', big);
        tb_sha256_str(a, 1000000, m);
        CHECKF(!strcmp(m, "sha256:"
                          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
               "%s", m);
        a[big] = '\0';
        append_text(p, a);
        tb_sha256_str(a, big, m);
        CHECK(tb_file_hash(p, h, &e) == TB_OK && !strcmp(h, m));
        free(a);
    }
    tb_test_path(p, sizeof p, "hash-missing", ".bin");
    CHECK(tb_file_hash(p, h, &e) == TB_EIO && strstr(e.msg, p));
}

/* A record as `tierbench run` writes it: the backend is in
 * placement.entries, the prompt in params, the threads in threads.actual. */
static json_t *run_like_record(const char *workload, int prompt, const char *status)
{
    json_t *r = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:s, s:{s:[{s:s, s:b, s:s}, {s:s, s:b, s:s, s:s, s:s}]}, "
        "s:{s:s, s:i, s:i, s:i}, s:{s:i}, s:{s:s}}",
        "schema_version", 1, "timestamp", "2026-01-01T00:00:00Z", "workload", workload, "profile",
        "phone", "config", "synth:stories15m:q8_0/p16/cuda,cpu/t4/avx2", "status", status,
        "placement", "entries", "entry", "cuda", "implicit", 0, "unavailable", "no CUDA device",
        "entry", "cpu", "implicit", 0, "backend", "cpu", "device", "x86", "device_kind", "cpu",
        "params", "model", "synth:stories15m:q8_0", "prompt", prompt, "n_predict", 0, "seed", 1,
        "threads", "actual", 4, "model", "weight_type", "q8_0");
    if (!strcmp(status, "ok")) {
        json_object_set_new(r, "metric", json_string("ttft_ms"));
        json_object_set_new(r, "unit", json_string("ms"));
        json_object_set_new(r, "stats", json_pack("{s:f, s:f}", "median", 10.0, "p99", 12.5));
        json_object_set_new(r, "derived", json_pack("{s:f}", "prefill_tps", prompt * 100.0));
    } else {
        json_object_set_new(r, "unsupported", json_string("no CUDA device (test)"));
    }
    return r;
}

/* results.csv names what people filter on, SQL-friendly, with the values a
 * real record holds (the backend column was empty in every row) */
static void test_csv_columns(void)
{
    char dir[512], p[700];
    make_base(dir, sizeof dir, "csvcols");
    mkdir(dir, 0777);
    join(p, sizeof p, dir, "results.csv");
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    json_t *recs[] = {run_like_record("llm-prefill", 16, "ok"),
                      run_like_record("llm-decode", 128, "ok"),
                      run_like_record("llm-prefill", 512, "unsupported")};
    size_t len;
    char *line = tb_results_csv_line(NULL, &len);
    fwrite(line, 1, len, f);
    free(line);
    for (int i = 0; i < 3; i++) {
        line = tb_results_csv_line(recs[i], &len);
        CHECK(line != NULL);
        if (line)
            fwrite(line, 1, len, f);
        free(line);
        json_decref(recs[i]);
    }
    fclose(f);
    /* every name lower_snake_case: usable unquoted in SQL */
    regex_t re;
    CHECK(regcomp(&re, "^[a-z][a-z0-9_]*$", REG_EXTENDED | REG_NOSUB) == 0);
    struct csv_rows h = {.want_row = 0, .want_col = 0};
    CHECK(parse_csv(p, &h) == 0);
    for (int col = 0; col < h.first_row_cols; col++) {
        struct csv_rows c = {.want_row = 0, .want_col = col};
        CHECK(parse_csv(p, &c) == 0 && c.cell_seen);
        CHECKF(regexec(&re, c.cell, 0, NULL, 0) == 0, "column %d name '%s'", col, c.cell);
    }
    regfree(&re);
    static const struct {
        int row;
        const char *name, *want;
    } cells[] = {
        {1, "status", "ok"},
        {1, "backend", "cpu"},
        {1, "device_kind", "cpu"},
        {1, "prompt", "16"},
        {1, "depth", "0"},
        {1, "threads", "4"},
        {1, "weight_type", "q8_0"},
        {1, "model", "synth:stories15m:q8_0"},
        {1, "median", "10"},
        {1, "p99", "12.5"},
        {1, "tok_s", "1600"},
        {2, "workload", "llm-decode"},
        {2, "prompt", "128"},
        {2, "depth", "128"},
        {3, "status", "unsupported"},
        {3, "reason", "no CUDA device (test)"},
        {3, "prompt", "512"},
        {3, "median", ""},
        {3, "backend", ""},
    };
    for (size_t k = 0; k < sizeof cells / sizeof cells[0]; k++) {
        int col = -1;
        for (int j = 0; j < h.first_row_cols && col < 0; j++) {
            struct csv_rows c = {.want_row = 0, .want_col = j};
            if (parse_csv(p, &c) == 0 && !strcmp(c.cell, cells[k].name))
                col = j;
        }
        struct csv_rows v = {.want_row = cells[k].row, .want_col = col};
        CHECKF(col >= 0 && parse_csv(p, &v) == 0 && !strcmp(v.cell, cells[k].want),
               "row %d %s = '%s', want '%s'", cells[k].row, cells[k].name, col >= 0 ? v.cell : "?",
               cells[k].want);
    }
}

/* The run's summary table names the prompt length and the context depth of
 * every row (three prefill rows were indistinguishable) and the reason of
 * an unsupported one. */
static void test_summary_rows(void)
{
    struct run_ctx run;
    memset(&run, 0, sizeof run);
    run.summary = json_array();
    const int prompts[] = {16, 128, 512};
    for (int i = 0; i < 3; i++) {
        json_t *r = run_like_record("llm-prefill", prompts[i], "ok");
        run_summary_row(&run, r, "phone", "llm-prefill", "ttft_ms", 10.0 * (i + 1), 12.0, 1.0,
                        "n/a", "n/a", "on-target", "ok");
        json_decref(r);
    }
    json_t *u = run_like_record("llm-decode", 128, "unsupported");
    run_summary_row(&run, u, "phone", "llm-decode", "-", NAN, NAN, NAN, "n/a", "n/a", "unsupported",
                    "unsupported");
    json_decref(u);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    run_print_summary(run.summary, f);
    fclose(f);
    json_decref(run.summary);
    CHECK(buf && strstr(buf, " prompt ") && strstr(buf, " depth "));
    const char *lines[] = {"llm-prefill        16      0 ttft_ms", "llm-prefill       128      0",
                           "llm-prefill       512      0", "llm-decode        128    128"};
    for (int i = 0; i < 4; i++)
        CHECKF(buf && strstr(buf, lines[i]), "summary lacks '%s':\n%s", lines[i], buf ? buf : "");
    CHECKF(buf && strstr(buf, "unsupported: no CUDA device (test)"), "%s", buf ? buf : "");
    free(buf);
}

int main(void)
{
    test_csv_columns();
    test_summary_rows();
    test_append_and_read();
    test_never_overwrite_and_append();
    test_torn_tail();
    test_manifest_atomic();
    test_write_failure();
    test_output_dir_errors();
    test_env_and_hash();
    test_sigkill();
    return tb_test_result("test_results");
}

/* Issue 19, item 7 and the duplicate-record item: the results, trace and
 * profile readers read lines under a cap (16 MiB, $TB_MAX_LINE) and hand
 * jansson only complete lines; a longer line is a one-line error after
 * reading about the cap, even under an address-space limit; a complete
 * unparsable last line is an error, a torn tail (no newline) is dropped
 * with a warning; a record repeated in a file, or one file given twice, is
 * an error instead of samples counted twice. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_energy.h"
#include "harness/tb_profile.h"
#include "harness/tb_read.h"
#include "harness/tb_results.h"
#include "tb_test.h"

#define GUARD_S 120 /* only a hang or a spin gets near it */
#define AS_LIMIT ((rlim_t)512 << 20)

static char g_dir[512];

static const char *k_rec =
    "{\"schema_version\":1,\"timestamp\":\"2026-12-01T00:00:0%dZ\",\"workload\":\"llm-decode\","
    "\"profile\":\"p\",\"config\":\"c%d\",\"metric\":\"tpot_ms\",\"unit\":\"ms\",\"valid\":true,"
    "\"samples\":[1.0,1.1,0.9,1.0,1.2]}\n";

static void put(const char *path, const char *mode, const char *text, size_t n)
{
    FILE *f = fopen(path, mode);
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(text, 1, n, f) == n);
        fclose(f);
    }
}

static void put_rec(const char *path, const char *mode, int i)
{
    char line[512];
    const int n = snprintf(line, sizeof line, k_rec, i, i);
    put(path, mode, line, (size_t)n);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits for pid under the guard; its exit code (-1 killed or hung) and
 * peak RSS in KiB. */
static int wait_guarded(pid_t pid, long *maxrss_kib)
{
    int st = 0;
    struct rusage ru = {0};
    for (long ms = 0;; ms += 20) {
        pid_t r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid)
            break;
        if (ms >= GUARD_S * 1000L) {
            kill(pid, SIGKILL);
            wait4(pid, &st, 0, &ru);
            fprintf(stderr, "child still running after %d s: killed\n", GUARD_S);
            return -1;
        }
        sleep_ms(20);
    }
    *maxrss_kib = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A 64 MiB line (a valid record: jansson would take it whole) read under
 * RLIMIT_AS 512 MiB: TB_ERANGE "PATH:1: line longer than 16 MiB", with
 * bounded memory, in the library and through `compare`. */
static void test_long_line_bounded(void)
{
    char big[700], good[700], log[700];
    snprintf(big, sizeof big, "%s/big.jsonl", g_dir);
    snprintf(good, sizeof good, "%s/good.jsonl", g_dir);
    snprintf(log, sizeof log, "%s/compare.log", g_dir);
    const size_t pad = (size_t)64 << 20;
    char *line = malloc(pad + 64);
    CHECK(line != NULL);
    if (!line)
        return;
    size_t n = (size_t)sprintf(line, "{\"schema_version\":1,\"pad\":\"");
    memset(line + n, 'x', pad);
    n += pad;
    n += (size_t)sprintf(line + n, "\"}\n");
    put(big, "wb", line, n);
    free(line);
    put_rec(big, "ab", 1);
    put_rec(good, "wb", 1);

    unsetenv(TB_MAX_LINE_ENV);
    pid_t pid = fork();
    if (pid == 0) {
        if (!TB_ASAN) {
            struct rlimit rl = {AS_LIMIT, AS_LIMIT};
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                _exit(3);
        }
        json_t *recs = NULL;
        size_t dropped = 0;
        struct tb_err e = {0};
        const int rc = tb_results_read(big, &recs, &dropped, &e);
        char want[800];
        snprintf(want, sizeof want, "%s:1: line longer than 16 MiB", big);
        if (rc != TB_ERANGE || !strstr(e.msg, want) || recs) {
            fprintf(stderr, "tb_results_read: rc %d '%s', want TB_ERANGE '%s'\n", rc, e.msg, want);
            _exit(1);
        }
        _exit(0);
    }
    long rss = 0;
    int code = wait_guarded(pid, &rss);
    CHECKF(code == 0, "library read of a 64 MiB line: child exit %d", code);
    if (!TB_ASAN)
        CHECKF(rss < 96 * 1024, "library read of a 64 MiB line peaked at %ld KiB", rss);
    fprintf(stderr, "64 MiB line, library read%s: peak RSS %ld KiB\n",
            TB_ASAN ? " (ASan, no RLIMIT_AS)" : " under RLIMIT_AS 512 MiB", rss);

    const char *bin = getenv("TB_BIN");
    CHECK(bin != NULL);
    pid = bin ? fork() : -1;
    if (pid == 0) {
        if (!TB_ASAN) {
            struct rlimit rl = {AS_LIMIT, AS_LIMIT};
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                _exit(3);
        }
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, bin, "compare", good, big, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        code = wait_guarded(pid, &rss);
        char out[4096] = "";
        FILE *f = fopen(log, "r");
        if (f) {
            out[fread(out, 1, sizeof out - 1, f)] = '\0';
            fclose(f);
        }
        const char *nl = strchr(out, '\n');
        CHECKF(code == 2 && strstr(out, "big.jsonl:1: line longer than 16 MiB") && nl && !nl[1],
               "compare of a 64 MiB line: exit %d, output '%s'", code, out);
        if (!TB_ASAN)
            CHECKF(rss < 96 * 1024, "compare of a 64 MiB line peaked at %ld KiB", rss);
        fprintf(stderr, "64 MiB line, compare: exit %d, peak RSS %ld KiB\n", code, rss);
    }
    unlink(big);
}

/* The cap is the TB_MAX_LINE bytes: a line of exactly the cap is read, one
 * byte more is refused with the line number; the reader returns the lines
 * whole across its read chunks, NUL bytes and a torn tail included. */
static void test_cap_and_lines(void)
{
    char p[700];
    snprintf(p, sizeof p, "%s/lines.txt", g_dir);
    char *text = malloc(300000);
    CHECK(text != NULL);
    if (!text)
        return;
    /* 1000 bytes, 1024 bytes, 200000 bytes (crosses the 64 KiB chunks), a
     * NUL inside, a torn tail */
    size_t n = 0;
    memset(text + n, 'a', 1000), n += 1000, text[n++] = '\n';
    memset(text + n, 'b', 1024), n += 1024, text[n++] = '\n';
    memset(text + n, 'c', 200000), n += 200000, text[n++] = '\n';
    memcpy(text + n, "x\0y\n", 4), n += 4;
    memcpy(text + n, "tail", 4), n += 4;
    put(p, "wb", text, n);
    free(text);

    struct tb_lines lr;
    struct tb_err e = {0};
    char *line;
    size_t len;
    CHECK(tb_lines_open(&lr, p, 0, &e) == TB_OK);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 1000 && !lr.torn && lr.offset == 0);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 1024 && line[1023] == 'b' &&
          line[1024] == '\0' && lr.offset == 1001);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 200000 && line[199999] == 'c');
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 3 && line[1] == '\0' &&
          line[2] == 'y' && lr.line_no == 4);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 4 && lr.torn && !strcmp(line, "tail"));
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 0);
    tb_lines_close(&lr);

    /* TB_MAX_LINE=1K: 1000 and 1024 bytes read, line 3 refused */
    setenv(TB_MAX_LINE_ENV, "1K", 1);
    CHECK(tb_lines_open(&lr, p, 0, &e) == TB_OK && lr.max == 1024);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 1000);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 1024);
    char want[800];
    snprintf(want, sizeof want, "%s:3: line longer than 1 KiB", p);
    CHECKF(tb_lines_next(&lr, &line, &len, &e) == TB_ERANGE && !strcmp(e.msg, want), "'%s'", e.msg);
    tb_lines_close(&lr);
    /* an explicit cap in the API wins over the environment */
    CHECK(tb_lines_open(&lr, p, 1000, &e) == TB_OK);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == 1 && len == 1000);
    CHECK(tb_lines_next(&lr, &line, &len, &e) == TB_ERANGE && strstr(e.msg, ":2: line longer "
                                                                            "than 1000 bytes"));
    tb_lines_close(&lr);

    setenv(TB_MAX_LINE_ENV, "abc", 1);
    CHECK(tb_lines_open(&lr, p, 0, &e) == TB_EINVAL && strstr(e.msg, "TB_MAX_LINE 'abc'"));
    setenv(TB_MAX_LINE_ENV, "0", 1);
    CHECK(tb_lines_open(&lr, p, 0, &e) == TB_EINVAL);
    setenv(TB_MAX_LINE_ENV, "64m", 1);
    size_t cap = 0;
    CHECK(tb_max_line(&cap, &e) == TB_OK && cap == ((size_t)64 << 20));
    unsetenv(TB_MAX_LINE_ENV);
    CHECK(tb_max_line(&cap, &e) == TB_OK && cap == TB_MAX_LINE_DEFAULT);
}

/* The trace and profile readers are capped too. */
static void test_trace_and_profile_capped(void)
{
    char trace[700], prof[700];
    snprintf(trace, sizeof trace, "%s/trace.csv", g_dir);
    snprintf(prof, sizeof prof, "%s/long.ini", g_dir);
    char comment[3000];
    memset(comment, 'z', sizeof comment);
    comment[0] = '#';
    put(trace, "wb", "timestamp_s,watts\n", 18);
    put(trace, "ab", comment, sizeof comment);
    put(trace, "ab", "\n1.0,5\n2.0,5\n", 13);
    put(prof, "wb", "[profile]\nname = t\n; ", 21);
    put(prof, "ab", comment, sizeof comment);
    put(prof, "ab", "\n", 1);

    setenv(TB_MAX_LINE_ENV, "1K", 1);
    double j = 0;
    struct tb_err e = {0};
    char want[800];
    snprintf(want, sizeof want, "%s:2: line longer than 1 KiB", trace);
    CHECKF(tb_energy_trace_integrate(trace, 1.0, 2.0, &j, &e) == TB_ERANGE && strstr(e.msg, want),
           "'%s'", e.msg);
    struct tb_profile *p = NULL;
    snprintf(want, sizeof want, "%s:3: line longer than 1 KiB", prof);
    CHECKF(tb_profile_load(prof, &p, &e) == TB_ERANGE && !p && strstr(e.msg, want), "'%s'", e.msg);
    unsetenv(TB_MAX_LINE_ENV);
    CHECKF(tb_energy_trace_integrate(trace, 1.0, 2.0, &j, &e) == TB_OK && j == 5.0, "%s", e.msg);
}

/* Runs tierbench args... with stdout + stderr into out (guarded); exit code. */
static int run_tb(char *out, size_t n, const char *const *args)
{
    const char *bin = getenv("TB_BIN");
    char log[700];
    snprintf(log, sizeof log, "%s/cli.log", g_dir);
    out[0] = '\0';
    if (!bin)
        return -1;
    const char *argv[16] = {bin};
    int k = 1;
    for (; args[k - 1] && k < 15; k++)
        argv[k] = args[k - 1];
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    long rss;
    const int code = pid > 0 ? wait_guarded(pid, &rss) : -1;
    FILE *f = fopen(log, "r");
    if (f) {
        out[fread(out, 1, n - 1, f)] = '\0';
        fclose(f);
    }
    return code;
}

/* Last lines: complete garbage is an error, a torn tail is dropped with a
 * warning on stderr. */
static void test_last_line(void)
{
    char garbage[700], torn[700], good[700], out[4096], rep[700];
    snprintf(garbage, sizeof garbage, "%s/garbage.jsonl", g_dir);
    snprintf(torn, sizeof torn, "%s/torn.jsonl", g_dir);
    snprintf(good, sizeof good, "%s/good2.jsonl", g_dir);
    snprintf(rep, sizeof rep, "%s/report", g_dir);
    put_rec(good, "wb", 1);
    put_rec(garbage, "wb", 1);
    put(garbage, "ab", "this is not JSON at all\n", 24);
    put_rec(torn, "wb", 1);
    put(torn, "ab", "{\"schema_version\":1,\"work", 25);

    json_t *recs = NULL;
    size_t dropped = 9;
    struct tb_err e = {0};
    CHECK(tb_results_read(garbage, &recs, &dropped, &e) == TB_EFORMAT && !recs);
    CHECKF(strstr(e.msg, garbage) && strstr(e.msg, "line 2 is not valid JSON"), "'%s'", e.msg);
    CHECK(tb_results_read(torn, &recs, &dropped, &e) == TB_OK && json_array_size(recs) == 1 &&
          dropped == 1);
    json_decref(recs);

    int code = run_tb(out, sizeof out, (const char *const[]){"compare", good, garbage, NULL});
    CHECKF(code == 2 && strstr(out, "line 2 is not valid JSON"), "compare garbage: %d '%s'", code,
           out);
    code = run_tb(out, sizeof out, (const char *const[]){"compare", good, torn, NULL});
    CHECKF(code == 0 && strstr(out, "torn.jsonl: dropped a torn last record"),
           "compare torn: %d '%s'", code, out);
    code = run_tb(out, sizeof out, (const char *const[]){"report", torn, "-o", rep, NULL});
    CHECKF(code == 0 && strstr(out, "torn.jsonl: dropped a torn last record"),
           "report torn: %d '%s'", code, out);
}

/* A file concatenated with itself, and one file given twice to report. */
static void test_duplicates(void)
{
    char one[700], twice[700], copy[700], out[4096], rep[700];
    snprintf(one, sizeof one, "%s/one.jsonl", g_dir);
    snprintf(twice, sizeof twice, "%s/twice.jsonl", g_dir);
    snprintf(copy, sizeof copy, "%s/copy.jsonl", g_dir);
    snprintf(rep, sizeof rep, "%s/report-dup", g_dir);
    put_rec(one, "wb", 1);
    put_rec(one, "ab", 2);
    put_rec(copy, "wb", 1);
    put_rec(copy, "ab", 2);
    for (int k = 0; k < 2; k++) {
        put_rec(twice, k ? "ab" : "wb", 1);
        put_rec(twice, "ab", 2);
    }
    json_t *recs = NULL;
    size_t dropped = 0;
    struct tb_err e = {0};
    CHECK(tb_results_read(one, &recs, &dropped, &e) == TB_OK && json_array_size(recs) == 2);
    json_decref(recs);
    recs = NULL;
    CHECK(tb_results_read(twice, &recs, &dropped, &e) == TB_EFORMAT && !recs);
    CHECKF(strstr(e.msg, twice) && strstr(e.msg, "line 3 repeats line 1"), "'%s'", e.msg);

    int code = run_tb(out, sizeof out, (const char *const[]){"compare", one, twice, NULL});
    CHECKF(code == 2 && strstr(out, "line 3 repeats line 1"), "compare twice: %d '%s'", code, out);
    code = run_tb(out, sizeof out, (const char *const[]){"report", one, copy, "-o", rep, NULL});
    CHECKF(code == 2 && strstr(out, "hold the same results"), "report one copy: %d '%s'", code,
           out);
    code = run_tb(out, sizeof out, (const char *const[]){"report", one, one, "-o", rep, NULL});
    CHECKF(code == 2 && strstr(out, "hold the same results"), "report one one: %d '%s'", code, out);
    code = run_tb(out, sizeof out, (const char *const[]){"report", one, "-o", rep, NULL});
    CHECKF(code == 0, "report one: %d '%s'", code, out);
}

/* One JSON document (a manifest) under a byte cap: at, under and over it,
 * and a document that does not parse. */
static void test_json_document_capped(void)
{
    char p[700];
    snprintf(p, sizeof p, "%s/doc.json", g_dir);
    const char *doc = "{\"a\": [1, 2, 3],\n \"b\": \"x\"}\n"; /* 28 bytes */
    put(p, "wb", doc, strlen(doc));
    struct tb_err e = {0};
    json_t *j = tb_json_load_path(p, strlen(doc), 0, &e);
    CHECKF(j && json_array_size(json_object_get(j, "a")) == 3, "at the cap: %s", e.msg);
    json_decref(j);
    j = tb_json_load_path(p, 0, 0, &e); /* the default cap */
    CHECKF(j != NULL, "default cap: %s", e.msg);
    json_decref(j);
    e = (struct tb_err){0};
    j = tb_json_load_path(p, strlen(doc) - 1, 0, &e);
    CHECKF(!j && e.code == TB_ERANGE && strstr(e.msg, "doc.json: larger than 27 bytes"), "%d %s",
           e.code, e.msg);
    json_decref(j);
    put(p, "wb", "{\"a\": 1,\n \"b\"}\n", 15);
    e = (struct tb_err){0};
    j = tb_json_load_path(p, 0, 0, &e);
    CHECKF(!j && e.code == TB_EFORMAT && strstr(e.msg, "doc.json:2: not valid JSON"), "%d %s",
           e.code, e.msg);
    json_decref(j);
}

int main(void)
{
    tb_test_path(g_dir, sizeof g_dir, "bounded", "");
    CHECK(mkdir(g_dir, 0755) == 0);
    test_cap_and_lines();
    test_json_document_capped();
    test_trace_and_profile_capped();
    test_last_line();
    test_duplicates();
    test_long_line_bounded();
    return tb_test_result("test_bounded_reads");
}

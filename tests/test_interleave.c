/* tierbench compare --interleave: the base and candidate binaries run
 * alternately (A B A B), each round into a fresh results directory, the
 * rounds merge per side and are compared like two results directories.
 *   - A/A with the real binary on a tiny profile: the layout, the recorded
 *     order and times, merged sample counts, all four output files, and no
 *     placement change (deterministic; timing verdicts of tiny noisy samples
 *     are not asserted);
 *   - a planted slowdown: this test binary doubles as a fake `tierbench run`
 *     (called through two links, "fake-base" and "fake-slow") writing fixed
 *     samples, the slow one 30% slower: the merged comparison is a
 *     regression with both rounds' samples on each side (exit 1);
 *   - a round that fails passes its run's exit status through; a missing
 *     binary is a one-line error before anything runs. */
#include "tb_test.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/tb_results.h"

static char g_dir[512];

/* ---- the fake `run`: BIN run --out DIR ... */
static int fake_run(const char *argv0, int argc, char **argv)
{
    const char *out = NULL;
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    const char *name = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
    if (!strcmp(name, "fake-fail"))
        return 3; /* as `run` does when a configuration timed out */
    const double scale = !strcmp(name, "fake-slow") ? 1.3 : 1.0;
    struct tb_results *r = NULL;
    struct tb_err err = {0};
    if (!out || tb_results_open(out, TB_RESULTS_NEW_SUBDIR, &r, &err))
        return 2;
    double v[8];
    for (int i = 0; i < 8; i++) /* fixed, slightly spread samples */
        v[i] = scale * (10.0 + 0.1 * i);
    struct tb_sample_set set = {.v = v, .n = 8, .cap = 8, .valid = 1};
    json_t *rec = tb_results_record_new("llm-prefill", "fake", "cfg");
    int rc = !rec || tb_results_set_measurement(rec, "ttft_ms", "ms", &set, NULL, &err);
    if (!rc) {
        json_object_set_new(rec, "status", json_string("ok"));
        rc = tb_results_append(r, rec, &err);
    }
    json_decref(rec);
    /* fake-partial: killed before the end, as a sanitizer's exit 1 would */
    const int partial = !strcmp(name, "fake-partial");
    json_t *man = json_pack("{s:s}", "status", partial ? "running" : "complete");
    rc |= tb_results_write_manifest(r, man, &err);
    json_decref(man);
    rc |= tb_results_close(r, &err);
    return rc ? 2 : partial ? 1 : 0;
}

/* Runs BIN compare ARGS... (argv NULL-terminated); returns the exit status. */
static int run_compare(char *const *argv)
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The only interleave-* directory under root (NULL when none or several). */
static int only_subdir(const char *root, char *out, size_t n)
{
    DIR *d = opendir(root);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "interleave-", 11)) {
            snprintf(out, n, "%s/%s", root, e->d_name);
            found++;
        }
    closedir(d);
    return found;
}

static int exists(const char *dir, const char *file)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

static const char *sv(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static json_t *row(json_t *doc, const char *metric)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "rows"), i, r)
    {
        if (!strcmp(sv(r, "metric"), metric))
            return r;
    }
    return NULL;
}

/* Sum of stats.n of the ttft_ms records of a round's run-* directory. */
static long round_samples(const char *round_dir)
{
    DIR *d = opendir(round_dir);
    if (!d)
        return -1;
    long n = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "run-", 4))
            continue;
        char p[1600];
        snprintf(p, sizeof p, "%s/%s/%s", round_dir, e->d_name, TB_RESULTS_JSONL);
        json_t *recs = NULL;
        size_t dropped;
        struct tb_err err = {0};
        if (tb_results_read(p, &recs, &dropped, &err))
            break;
        n = 0;
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r)
        {
            if (!strcmp(sv(r, "metric"), "ttft_ms"))
                n += (long)json_integer_value(json_object_get(json_object_get(r, "stats"), "n"));
        }
        json_decref(recs);
    }
    closedir(d);
    return n;
}

/* The recorded order and rounds: base, candidate, base, candidate. */
static void check_log(const char *dir, const char *bin_a, const char *bin_b)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/interleave.json", dir);
    json_t *log = json_load_file(p, 0, NULL);
    CHECKF(log != NULL, "%s missing", p);
    CHECK(!strcmp(sv(log, "order"), "ABAB"));
    CHECK(json_integer_value(json_object_get(log, "rounds")) == 2);
    json_t *runs = json_object_get(log, "runs");
    CHECK(json_array_size(runs) == 4);
    const char *prev = "";
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        CHECK(!strcmp(sv(r, "side"), i % 2 ? "candidate" : "base"));
        CHECK(!strcmp(sv(r, "bin"), i % 2 ? bin_b : bin_a));
        CHECK(json_integer_value(json_object_get(r, "round")) == (json_int_t)(i / 2 + 1));
        CHECK(json_integer_value(json_object_get(r, "exit_status")) == 0);
        CHECK(strcmp(sv(r, "started"), prev) >= 0 && *sv(r, "started")); /* in order */
        CHECK(strcmp(sv(r, "finished"), sv(r, "started")) >= 0);
        prev = sv(r, "started");
        CHECK(*sv(r, "results"));
    }
    json_decref(log);
    static const char *const rounds[] = {"round-01-base", "round-01-cand", "round-02-base",
                                         "round-02-cand"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, rounds[i]);
        CHECKF(round_samples(p) > 0, "%s has no samples", p);
    }
    static const char *const outs[] = {"compare.md", "compare.csv", "compare.json", "junit.xml"};
    for (int i = 0; i < 4; i++)
        CHECKF(exists(dir, outs[i]), "%s/%s missing", dir, outs[i]);
}

/* The merged sample counts equal the two rounds' sums. */
static void check_merged(const char *dir, json_t *ttft)
{
    char a[1400], b[1400];
    long base = 0, cand = 0;
    for (int r = 1; r <= 2; r++) {
        snprintf(a, sizeof a, "%s/round-%02d-base", dir, r);
        snprintf(b, sizeof b, "%s/round-%02d-cand", dir, r);
        base += round_samples(a);
        cand += round_samples(b);
    }
    CHECKF(json_integer_value(json_object_get(ttft, "n_base")) == base,
           "n_base %lld, rounds hold %ld",
           (long long)json_integer_value(json_object_get(ttft, "n_base")), base);
    CHECKF(json_integer_value(json_object_get(ttft, "n_candidate")) == cand,
           "n_candidate %lld, rounds hold %ld",
           (long long)json_integer_value(json_object_get(ttft, "n_candidate")), cand);
}

static void test_aa(const char *tb)
{
    char prof[700], root[700], out[700], cache[700], dir[1024];
    snprintf(prof, sizeof prof, "%s/prof", g_dir);
    snprintf(root, sizeof root, "%s/rounds-aa", g_dir);
    snprintf(out, sizeof out, "%s/aa.json", g_dir);
    snprintf(cache, sizeof cache, "%s/cache", g_dir);
    mkdir(prof, 0755);
    char ini[800];
    snprintf(ini, sizeof ini, "%s/t.ini", prof);
    FILE *f = fopen(ini, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("[profile]\nname = t\ntier = test\nthreads = 1\nbinding = none\nisa_cap = scalar\n"
          "memory_budget = 64 MiB\nweight_types = q8_0\nbackends = cpu\nenergy_source = none\n"
          "events = perf::TASK-CLOCK\n[workload.llm-prefill]\nmodel = synth:mcu-260k:q8_0\n"
          "prompt = 8\nn_predict = 0\n",
          f);
    fclose(f);
    char *argv[] = {(char *)tb,
                    "compare",
                    "--interleave",
                    "2",
                    "--base-bin",
                    (char *)tb,
                    "--cand-bin",
                    (char *)tb,
                    "--rounds-dir",
                    root,
                    "--format",
                    "json",
                    "--out",
                    out,
                    "--",
                    "--profiles-dir",
                    prof,
                    "--reps",
                    "5",
                    "--min-time",
                    "0.01",
                    "--accuracy-positions",
                    "0",
                    "--cache",
                    cache,
                    "--quiet",
                    NULL};
    const int code = run_compare(argv);
    /* 1 would be a timing "regression" of an A/A on tiny noisy samples,
     * 5 an "inconclusive" (10 samples a side cannot bound the change inside
     * the threshold): both possible, so not asserted either way; 2-4 and
     * 6+ are failures */
    CHECKF(code == 0 || code == 1 || code == 5, "A/A interleave exited %d", code);
    CHECK(only_subdir(root, dir, sizeof dir) == 1);
    check_log(dir, tb, tb);
    json_t *doc = json_load_file(out, 0, NULL);
    CHECKF(doc != NULL, "%s missing", out);
    json_t *iv = json_object_get(doc, "interleave");
    CHECK(!strcmp(sv(iv, "order"), "ABAB"));
    CHECK(json_integer_value(json_object_get(iv, "rounds")) == 2);
    json_t *ttft = row(doc, "ttft_ms");
    CHECK(ttft != NULL);
    check_merged(dir, ttft);
    /* the same binary places every op the same way: never a placement change */
    json_t *pl = row(doc, "placement");
    CHECK(pl != NULL);
    CHECKF(!strcmp(sv(pl, "verdict"), "no-change"), "placement verdict '%s'", sv(pl, "verdict"));
    json_decref(doc);
    char md[1200];
    snprintf(md, sizeof md, "%s/compare.md", dir);
    f = fopen(md, "r");
    char text[4096] = "";
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = '\0';
        fclose(f);
    }
    CHECK(strstr(text, "order ABAB") != NULL);
}

static void test_planted(const char *tb, const char *self)
{
    char base[700], slow[700], root[700], out[700], dir[1024];
    snprintf(base, sizeof base, "%s/fake-base", g_dir);
    snprintf(slow, sizeof slow, "%s/fake-slow", g_dir);
    CHECK(symlink(self, base) == 0);
    CHECK(symlink(self, slow) == 0);
    snprintf(root, sizeof root, "%s/rounds-planted", g_dir);
    snprintf(out, sizeof out, "%s/planted.json", g_dir);
    char *argv[] = {
        (char *)tb,     "compare", "--interleave", "2",    "--base-bin", base, "--cand-bin", slow,
        "--rounds-dir", root,      "--format",     "json", "--out",      out,  NULL};
    const int code = run_compare(argv);
    CHECKF(code == 1, "a 30%% slowdown must be a regression (exit 1), got %d", code);
    CHECK(only_subdir(root, dir, sizeof dir) == 1);
    check_log(dir, base, slow);
    json_t *doc = json_load_file(out, 0, NULL);
    json_t *ttft = row(doc, "ttft_ms");
    CHECKF(ttft && !strcmp(sv(ttft, "verdict"), "regression"), "verdict '%s'", sv(ttft, "verdict"));
    CHECK(json_integer_value(json_object_get(ttft, "n_base")) == 16); /* 2 rounds x 8 */
    CHECK(json_integer_value(json_object_get(ttft, "n_candidate")) == 16);
    check_merged(dir, ttft);
    json_decref(doc);
}

static void test_failures(const char *tb, const char *self)
{
    char fail[700], root[700], dir[1024], base[700];
    snprintf(fail, sizeof fail, "%s/fake-fail", g_dir);
    snprintf(base, sizeof base, "%s/fake-base", g_dir);
    CHECK(symlink(self, fail) == 0);
    /* the candidate's run exits 3: compare stops after that round with 3 */
    snprintf(root, sizeof root, "%s/rounds-fail", g_dir);
    char *a1[] = {(char *)tb,   "compare", "--interleave", "2",  "--base-bin", base,
                  "--cand-bin", fail,      "--rounds-dir", root, NULL};
    CHECK(run_compare(a1) == 3);
    CHECK(only_subdir(root, dir, sizeof dir) == 1);
    char p[1400];
    snprintf(p, sizeof p, "%s/interleave.json", dir);
    json_t *log = json_load_file(p, 0, NULL);
    CHECK(!strcmp(sv(log, "order"), "AB"));
    CHECK(json_array_size(json_object_get(log, "runs")) == 2);
    CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(log, "runs"), 1),
                                             "exit_status")) == 3);
    json_decref(log);
    CHECK(!exists(dir, "compare.json"));
    /* a run that exits 1 but did not complete is a failed round, not data */
    char partial[700];
    snprintf(partial, sizeof partial, "%s/fake-partial", g_dir);
    CHECK(symlink(self, partial) == 0);
    snprintf(root, sizeof root, "%s/rounds-partial", g_dir);
    char *a0[] = {(char *)tb,   "compare", "--interleave", "1",  "--base-bin", partial,
                  "--cand-bin", base,      "--rounds-dir", root, NULL};
    CHECK(run_compare(a0) == 2);
    CHECK(only_subdir(root, dir, sizeof dir) == 1);
    CHECK(!exists(dir, "compare.json"));
    /* a missing binary: error before any round */
    snprintf(root, sizeof root, "%s/rounds-missing", g_dir);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no-such-tierbench", g_dir);
    char *a2[] = {(char *)tb,   "compare", "--interleave", "1",  "--base-bin", base,
                  "--cand-bin", missing,   "--rounds-dir", root, NULL};
    CHECK(run_compare(a2) == 2);
    CHECK(only_subdir(root, dir, sizeof dir) == 0);
    /* usage: --interleave without binaries, and inputs with --interleave */
    char *a3[] = {(char *)tb, "compare", "--interleave", "2", "--base-bin", base, NULL};
    CHECK(run_compare(a3) == 2);
    char *a4[] = {(char *)tb, "compare",    "x",  "y", "--interleave", "2", "--base-bin",
                  base,       "--cand-bin", base, NULL};
    CHECK(run_compare(a4) == 2);
    char *a5[] = {(char *)tb,   "compare", "--interleave", "1",     "--base-bin", base,
                  "--cand-bin", base,      "--",           "--out", "x",          NULL};
    CHECK(run_compare(a5) == 2);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "run")) /* the fake `tierbench run` */
        return fake_run(argv[0], argc, argv);
    const char *tb = getenv("TB_BIN");
    if (!tb) {
        fprintf(stderr, "TB_BIN is not set (run through ctest)\n");
        return TB_SKIP_CODE;
    }
    char self[600];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    if (n <= 0)
        return tb_test_result("test_interleave");
    self[n] = '\0';
    tb_test_path(g_dir, sizeof g_dir, "interleave", "");
    CHECK(mkdir(g_dir, 0755) == 0);
    test_aa(tb);
    test_planted(tb, self);
    test_failures(tb, self);
    return tb_test_result("test_interleave");
}

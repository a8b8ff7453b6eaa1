/* The tierbench CLI as a user meets it (issue 14): `--help` for every
 * command and subcommand exits 0 with the usage on stdout; every input
 * error exits 2 with one line on stderr naming the problem, before
 * anything runs (run --model missing.gguf / an unknown synth shape / an
 * unknown type / a FIFO / a non-GGUF file, a bad profile, a bad flag, a
 * missing value, `model info --help` is not a file name); `run --help` and
 * the README name every workload of the registry; `report` prints ASCII
 * charts only with --ascii; `report` and `store add` take the --out root
 * given to `run` and say which run they took. Runs the built binary
 * ($TB_BIN). */
#include "tb_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/tb_profile.h"
#include "kernels/tb_wtypes.h"
#include "reports/tb_report.h"
#include "workloads/tb_llama.h"

static char g_dir[512], g_prof[700], g_cache[700];
static const char *g_bin;

struct res {
    int code;
    char *out, *err; /* malloc'ed, NUL-terminated */
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return calloc(1, 1);
    char *buf = NULL;
    size_t cap = 0, n = 0, k;
    char chunk[4096];
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        char *p = realloc(buf, cap = n + k + 1);
        if (!p)
            break;
        buf = p;
        memcpy(buf + n, chunk, k);
        n += k;
    }
    fclose(f);
    if (!buf)
        return calloc(1, 1);
    buf[n] = '\0';
    return buf;
}

/* Runs tierbench with argv (NULL-terminated, without argv[0]). */
static struct res run_tb(const char *const *args)
{
    char out[800], err[800];
    snprintf(out, sizeof out, "%s/stdout", g_dir);
    snprintf(err, sizeof err, "%s/stderr", g_dir);
    const char *argv[64] = {g_bin};
    int n = 1;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    fflush(NULL);
    struct res r = {.code = -1};
    const pid_t pid = fork();
    if (pid == 0) {
        const int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    if (pid > 0 && waitpid(pid, &st, 0) == pid)
        r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

static void res_free(struct res *r)
{
    free(r->out);
    free(r->err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char *argv_str(const char *const *a, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (; *a && k < n; a++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? " " : "", *a);
    return buf;
}

/* `tierbench ARGS` exits 2 with exactly one line on stderr holding each of
 * the (up to 4) needles. */
static void check_usage_error(const char *const *args, const char *n1, const char *n2,
                              const char *n3)
{
    char what[512];
    argv_str(args, what, sizeof what);
    struct res r = run_tb(args);
    CHECKF(r.code == 2, "[%s]: exit %d, want 2 (stderr: %s)", what, r.code, r.err);
    CHECKF(count_lines(r.err) == 1 && r.err[strlen(r.err) - 1] == '\n',
           "[%s]: stderr is not one line: '%s'", what, r.err);
    const char *needles[] = {n1, n2, n3};
    for (int i = 0; i < 3; i++)
        CHECKF(!needles[i] || strstr(r.err, needles[i]), "[%s]: stderr '%s' lacks '%s'", what,
               r.err, needles[i]);
    res_free(&r);
}

/* Every command and subcommand: --help (and -h) is the usage, on stdout, exit 0. */
static void test_help(void)
{
    static const char *const cases[][5] = {
        {"--help"},
        {"-h"},
        {"help"},
        {"run", "--help"},
        {"run", "-h"},
        {"model", "--help"},
        {"model", "info", "--help"},
        {"model", "synth", "--help"},
        {"model", "synth", "-h"},
        {"infer", "--help"},
        {"profiles", "--help"},
        {"profiles", "list", "--help"},
        {"report", "--help"},
        {"coverage", "--help"},
        {"store", "--help"},
        {"store", "add", "--help"},
        {"history", "--help"},
        {"dashboard", "--help"},
        {"compare", "--help"},
        {"bench", "--help"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[256];
        argv_str(cases[i], what, sizeof what);
        struct res r = run_tb(cases[i]);
        CHECKF(r.code == 0, "[%s]: exit %d, want 0 (stderr: %s)", what, r.code, r.err);
        CHECKF(strstr(r.out, "usage: tierbench") || strstr(r.out, "usage: "),
               "[%s]: no usage on stdout: '%.200s'", what, r.out);
        res_free(&r);
    }
    /* `model info --help` is the help, not a file named "--help" */
    struct res r = run_tb((const char *const[]){"model", "info", "--help", NULL});
    CHECKF(strstr(r.out, "tierbench model info FILE") && !strstr(r.err, "cannot open"),
           "model info --help: '%s' / '%s'", r.out, r.err);
    res_free(&r);
    r = run_tb((const char *const[]){"model", "--help", NULL});
    CHECKF(strstr(r.out, "model info") && strstr(r.out, "model synth"), "model --help: '%s'",
           r.out);
    res_free(&r);
}

/* The three silent failures of the issue, and the other unreadable models:
 * exit 2, one line, before a results directory exists. */
static void test_run_model_errors(void)
{
    char out[800], types[TB_WTYPE_NAMES_MAX];
    snprintf(out, sizeof out, "%s/out-bad", g_dir);
    const char *base[] = {"run", "--profiles-dir", g_prof,      "--cache", g_cache, "--out",
                          out,   "--quiet",        "--timeout", "0"};
    enum { NB = sizeof base / sizeof base[0] };
    const char *a[NB + 3];
    memcpy(a, base, sizeof base);
    a[NB] = "--model";
    a[NB + 2] = NULL;

    char missing[700];
    snprintf(missing, sizeof missing, "%s/missing.gguf", g_dir);
    a[NB + 1] = missing;
    check_usage_error(a, "--model", "missing.gguf", "No such file");

    /* an unknown shape: the message lists every shape of the engine's list */
    a[NB + 1] = "synth:stories16m:q8_0";
    check_usage_error(a, "unknown shape 'stories16m'", NULL, NULL);
    struct res r = run_tb(a);
    for (const struct tb_synth_shape *s = tb_synth_shapes(); s->name; s++)
        CHECKF(strstr(r.err, s->name), "shape %s not listed: %s", s->name, r.err);
    res_free(&r);

    /* an unknown type: every weight type of TB_WTYPES is listed */
    a[NB + 1] = "synth:stories15m:q3_k";
    check_usage_error(a, "unknown type 'q3_k'", tb_wtype_names(types, sizeof types, ", "), NULL);
    /* a K-quant on a shape whose rows are not whole 256-blocks: up front */
    a[NB + 1] = "synth:mcu-260k:q6_k";
    check_usage_error(a, "token_embd.weight has rows of 64", "q6_K block of 256", NULL);
    a[NB + 1] = "synth:stories15m";
    check_usage_error(a, "expected synth:SHAPE:TYPE", "stories15m", "q8_0");

    /* files that are no model: a FIFO (never a wait), a directory, text */
    char fifo[700], text[700];
    snprintf(fifo, sizeof fifo, "%s/fifo.gguf", g_dir);
    CHECK(mkfifo(fifo, 0644) == 0);
    a[NB + 1] = fifo;
    check_usage_error(a, "fifo.gguf", "not a regular file", NULL);
    a[NB + 1] = g_dir;
    check_usage_error(a, "is a directory", NULL, NULL);
    snprintf(text, sizeof text, "%s/text.gguf", g_dir);
    tb_test_write_file(text, "not a model\n");
    a[NB + 1] = text;
    check_usage_error(a, "text.gguf", "not a GGUF file", NULL);
    if (geteuid() != 0) { /* root reads a mode-000 file */
        char locked[700];
        snprintf(locked, sizeof locked, "%s/locked.gguf", g_dir);
        tb_test_write_file(locked, "GGUF");
        CHECK(chmod(locked, 0) == 0);
        a[NB + 1] = locked;
        check_usage_error(a, "locked.gguf", "Permission denied", NULL);
    }
    /* --reference-model is a file, checked the same way */
    a[NB] = "--reference-model";
    a[NB + 1] = missing;
    check_usage_error(a, "--reference-model", "missing.gguf", NULL);
    struct stat st;
    CHECKF(stat(out, &st) != 0, "%s was created: the run started", out);
}

static void test_bad_flags(void)
{
    char out[800], bad_prof[700], path[800];
    snprintf(out, sizeof out, "%s/out-flags", g_dir);
    check_usage_error((const char *const[]){"run", "--bogus", NULL}, "unknown", "'--bogus'", NULL);
    check_usage_error((const char *const[]){"run", "--out", out, "--model", NULL},
                      "--model needs a value", NULL, NULL);
    check_usage_error((const char *const[]){"run", "--threads", "two", NULL}, "--threads", "'two'",
                      NULL);
    check_usage_error((const char *const[]){"run", "--quiet=1", NULL}, "--quiet=1", "no value",
                      NULL);
    check_usage_error((const char *const[]){"run", "stray", NULL}, "unexpected argument 'stray'",
                      NULL, NULL);
    /* an energy source that does not exist: refused before anything runs */
    check_usage_error((const char *const[]){"run", "--profiles-dir", g_prof, "--energy", "bogus",
                                            "--out", out, NULL},
                      "energy source 'bogus' unknown", "trace:FILE", NULL);
    check_usage_error((const char *const[]){"run", "--profiles-dir", g_prof, "--energy",
                                            "trace:", "--out", out, NULL},
                      "trace:FILE", NULL, NULL);
    check_usage_error((const char *const[]){"run", "--profiles-dir", g_prof, "--profile", "nosuch",
                                            "--out", out, NULL},
                      "nosuch", NULL, NULL);
    check_usage_error((const char *const[]){"run", "--profiles-dir", g_prof, "--workload",
                                            "llm-nothing", "--out", out, NULL},
                      "llm-nothing", NULL, NULL);
    /* a backend no profile and no engine knows (a typo ran as "unsupported", exit 0) */
    check_usage_error((const char *const[]){"run", "--profiles-dir", g_prof, "--backend", "cpux",
                                            "--out", out, NULL},
                      "--backend 'cpux' unknown", "cpu-ref", NULL);
    /* a profile file that does not validate: FILE:LINE and the reason */
    snprintf(bad_prof, sizeof bad_prof, "%s/prof-bad", g_dir);
    CHECK(mkdir(bad_prof, 0755) == 0);
    snprintf(path, sizeof path, "%s/broken.ini", bad_prof);
    tb_test_write_file(path, "[profile]\nname = broken\n");
    check_usage_error((const char *const[]){"run", "--profiles-dir", bad_prof, "--out", out, NULL},
                      "broken.ini", NULL, NULL);
    struct stat st;
    CHECKF(stat(out, &st) != 0, "%s was created", out);

    check_usage_error((const char *const[]){NULL}, "missing command", NULL, NULL);
    check_usage_error((const char *const[]){"nosuch", NULL}, "unknown command 'nosuch'", NULL,
                      NULL);
    check_usage_error((const char *const[]){"--bogus", NULL}, "'--bogus'", NULL, NULL);
    check_usage_error((const char *const[]){"model", NULL}, "missing subcommand", NULL, NULL);
    check_usage_error((const char *const[]){"model", "frobnicate", NULL}, "'frobnicate'", NULL,
                      NULL);
    check_usage_error((const char *const[]){"model", "info", NULL}, "no FILE", NULL, NULL);
    check_usage_error((const char *const[]){"model", "info", "/nonexistent.gguf", NULL},
                      "/nonexistent.gguf", NULL, NULL);
    check_usage_error((const char *const[]){"model", "synth", "--shape", NULL}, "--shape needs",
                      NULL, NULL);
    check_usage_error((const char *const[]){"model", "synth", "--shape", "nope", "--type", "q8_0",
                                            "-o", "/dev/null", NULL},
                      "'nope'", "mcu-260k", NULL);
    check_usage_error((const char *const[]){"model", "synth", "--shape", "mcu-260k", "--type",
                                            "q3_k", "-o", "/dev/null", NULL},
                      "'q3_k'", "q4_0", NULL);
    /* a K-quant on rows of 64: refused before anything is generated */
    check_usage_error((const char *const[]){"model", "synth", "--shape", "mcu-260k", "--type",
                                            "q5_k", "-o", "/dev/null", NULL},
                      "token_embd.weight has rows of 64", "q5_K block of 256", NULL);
    check_usage_error((const char *const[]){"infer", "--bogus", NULL}, "'--bogus'", NULL, NULL);
    check_usage_error((const char *const[]){"infer", "--model", NULL}, "--model needs a value",
                      NULL, NULL);
    check_usage_error(
        (const char *const[]){"infer", "--model", "/nonexistent.gguf", "--tokens", "1,2", NULL},
        "/nonexistent.gguf", NULL, NULL);
    /* infer takes a synth spec as run and bench do: a bad one is exit 2
     * naming it, a good one is generated into --cache and runs */
    check_usage_error((const char *const[]){"infer", "--model", "synth:stories16m:q8_0", "--tokens",
                                            "1,2", "--cache", g_cache, NULL},
                      "unknown shape 'stories16m'", "mcu-260k", NULL);
    struct res ir =
        run_tb((const char *const[]){"infer", "--model", "synth:mcu-260k:q8_0", "--tokens", "1,2",
                                     "--n-predict", "2", "--cache", g_cache, NULL});
    CHECKF(ir.code == 0 && strstr(ir.out, "generated: "), "infer synth: exit %d (%s)", ir.code,
           ir.err);
    res_free(&ir);
    check_usage_error((const char *const[]){"profiles", NULL}, "missing subcommand", NULL, NULL);
    check_usage_error((const char *const[]){"profiles", "show", "nosuch", "--dir", g_prof, NULL},
                      "nosuch", NULL, NULL);
    check_usage_error((const char *const[]){"profiles", "--dir", NULL}, "--dir needs a value", NULL,
                      NULL);
    check_usage_error((const char *const[]){"profiles", "validate", "/nonexistent.ini", NULL},
                      "/nonexistent.ini", NULL, NULL);
    check_usage_error((const char *const[]){"report", "--bogus", NULL}, "'--bogus'", NULL, NULL);
    check_usage_error((const char *const[]){"report", g_dir, "-o", NULL}, "-o needs a value", NULL,
                      NULL);
    check_usage_error((const char *const[]){"report", g_dir, NULL}, "-o DIR is required", NULL,
                      NULL);
    check_usage_error((const char *const[]){"coverage", "--bogus", NULL}, "'--bogus'", NULL, NULL);
    check_usage_error((const char *const[]){"coverage", "--evals", "zero", NULL}, "--evals",
                      "'zero'", NULL);
    check_usage_error((const char *const[]){"coverage", "--dir", g_prof, "--cache-dir", g_cache,
                                            "--model", "synth:stories16m:q8_0", NULL},
                      "unknown shape 'stories16m'", NULL, NULL);
    check_usage_error((const char *const[]){"store", "frob", NULL}, "'frob'", NULL, NULL);
}

/* run --help and the README name every workload of the registry, embed too. */
static void test_workloads_documented(void)
{
    struct res r = run_tb((const char *const[]){"run", "--help", NULL});
    char readme_path[600];
    snprintf(readme_path, sizeof readme_path, "%s/README.md", TB_SOURCE_DIR);
    char *readme = slurp(readme_path);
    for (int k = 0; k < TB_WL_COUNT; k++) {
        const char *w = tb_workload_kind_name((enum tb_workload_kind)k);
        char line[64];
        snprintf(line, sizeof line, "    %s ", w); /* its own line in the --workload list */
        CHECKF(strstr(r.out, line), "run --help lacks workload %s", w);
        snprintf(line, sizeof line, "`%s`", w);
        CHECKF(strstr(readme, line), "README lacks workload `%s`", w);
    }
    CHECK(strstr(r.out, "embed") != NULL);
    /* the brief's contract: the README opens with exactly the two commands */
    CHECKF(readme && !strncmp(readme, "```\nbash ci/main.sh\nbash ci/test.sh\n```\n", 40),
           "README does not open with the two commands: '%.60s'", readme ? readme : "");
    free(readme);
    res_free(&r);
}

static int ascii_chart_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, "+-----")); p++)
        n++;
    return n;
}

/* Two runs into one --out root; a copy of one run under hand-made names
 * for the ordering (start time, then -N as a number). */
static void test_root_and_ascii(void)
{
    char root[700], rep[800];
    snprintf(root, sizeof root, "%s/root", g_dir);
    for (int i = 0; i < 2; i++) {
        struct res r = run_tb(
            (const char *const[]){"run", "--profiles-dir", g_prof, "--cache", g_cache, "--out",
                                  root, "--reps", "2", "--min-time", "0", "--warmup", "0",
                                  "--accuracy-positions", "0", "--timeout", "0", "--quiet", NULL});
        CHECKF(r.code == 0, "run %d: exit %d (%s)", i, r.code, r.err);
        res_free(&r);
    }
    struct tb_rsrc s;
    struct tb_err err = {0};
    CHECKF(tb_rsrc_resolve(root, &s, &err) == TB_OK, "%s", err.msg);
    char newest[900] = "";
    if (s.path)
        snprintf(newest, sizeof newest, "%s", s.path);
    CHECKF(s.root && !strcmp(s.root, root) && s.n_runs == 2, "root '%s', %zu runs",
           s.root ? s.root : "(null)", s.n_runs);
    tb_rsrc_free(&s);

    /* default: no ASCII charts; the taken line names the newest run */
    snprintf(rep, sizeof rep, "%s/rep-default", g_dir);
    struct res r = run_tb((const char *const[]){"report", root, "-o", rep, NULL});
    char taken[2000];
    snprintf(taken, sizeof taken, "taken: %s (newest of 2 runs in %s)\n", newest, root);
    CHECKF(r.code == 0, "report ROOT: exit %d (%s)", r.code, r.err);
    CHECKF(strstr(r.out, taken), "report ROOT: no '%s' in '%s'", taken, r.out);
    CHECKF(ascii_chart_lines(r.out) == 0 && ascii_chart_lines(r.err) == 0,
           "report prints ASCII charts by default (%d lines)", ascii_chart_lines(r.out));
    CHECKF(count_lines(r.out) <= 4, "report printed %d lines by default:\n%s", count_lines(r.out),
           r.out);
    res_free(&r);
    snprintf(rep, sizeof rep, "%s/rep-no-ascii", g_dir);
    r = run_tb((const char *const[]){"report", root, "-o", rep, "--no-ascii", NULL});
    CHECKF(r.code == 0 && ascii_chart_lines(r.out) == 0, "--no-ascii: exit %d", r.code);
    res_free(&r);
    if (tb_gnuplot_available()) {
        snprintf(rep, sizeof rep, "%s/rep-ascii", g_dir);
        r = run_tb((const char *const[]){"report", root, "-o", rep, "--ascii", NULL});
        CHECKF(r.code == 0 && ascii_chart_lines(r.out) > 0, "--ascii: exit %d, %d chart lines",
               r.code, ascii_chart_lines(r.out));
        res_free(&r);
    }
    /* a run directory named directly: no taken line */
    snprintf(rep, sizeof rep, "%s/rep-direct", g_dir);
    r = run_tb((const char *const[]){"report", newest, "-o", rep, NULL});
    CHECKF(r.code == 0 && !strstr(r.out, "taken:"), "report RUN: exit %d, '%s'", r.code, r.out);
    res_free(&r);

    /* store add: the root's newest run, said; the run itself, not said */
    char db[800];
    snprintf(db, sizeof db, "%s/store.db", g_dir);
    r = run_tb((const char *const[]){"store", "add", root, "--db", db, NULL});
    CHECKF(r.code == 0 && strstr(r.out, taken), "store add ROOT: exit %d, '%s' (%s)", r.code, r.out,
           r.err);
    res_free(&r);
    r = run_tb((const char *const[]){"store", "add", newest, "--db", db, NULL});
    CHECKF(r.code == 0 && !strstr(r.out, "taken:") && strstr(r.out, "already stored"),
           "store add RUN: exit %d, '%s' (%s)", r.code, r.out, r.err);
    res_free(&r);

    /* compare ROOT ROOT: both sides said on stderr (stdout is the table);
     * the same run on each side is refused as one source given twice */
    r = run_tb((const char *const[]){"compare", root, root, NULL});
    CHECKF(strstr(r.err, taken) && !strstr(r.out, "taken:"), "compare ROOT: '%s' / '%s'", r.out,
           r.err);
    res_free(&r);

    /* a directory that is neither: exit 2, one line */
    char empty[800];
    snprintf(empty, sizeof empty, "%s/empty", g_dir);
    CHECK(mkdir(empty, 0755) == 0);
    snprintf(rep, sizeof rep, "%s/rep-empty", g_dir);
    check_usage_error((const char *const[]){"report", empty, "-o", rep, NULL}, empty, "run --out",
                      NULL);
    check_usage_error((const char *const[]){"store", "add", empty, "--db", db, NULL}, empty,
                      "run --out", NULL);

    /* ordering by name: start time, then -N numerically; other names and
     * run-* without results are not runs */
    char root2[800], cmd[4000];
    snprintf(root2, sizeof root2, "%s/root2", g_dir);
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir '%s'; cd '%s'; for d in run-20240101-000000-9 run-20240101-000000-10 "
             "run-20231231-235959 run-old; do cp -r '%s' $d; done; mkdir run-20991231-000000 "
             "notes",
             root2, root2, newest);
    CHECK(system(cmd) == 0);
    CHECKF(tb_rsrc_resolve(root2, &s, &err) == TB_OK, "%s", err.msg);
    CHECKF(s.path && strstr(s.path, "/run-20240101-000000-10") && s.n_runs == 4, "took %s of %zu",
           s.path ? s.path : "(null)", s.n_runs);
    tb_rsrc_free(&s);
}

/* The option parsers are getopt_long, not strcmp loops (the source of the
 * `--help`-as-a-file and "needs a value" bugs): no strcmp against an option
 * literal ("-x", "--xyz") in these files. */
static void test_no_strcmp_parsers(void)
{
    static const char *const files[] = {
        "main.c",       "cli_model.c",    "cli_infer.c", "cli_profiles.c", "cli_run.c",
        "cli_report.c", "cli_coverage.c", "cli_store.c", "cli_compare.c",  "cli_bench.c"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/harness/cli/%s", TB_SOURCE_DIR, files[i]);
        char *src = slurp(path);
        CHECKF(strstr(src, "getopt_long("), "%s: no getopt_long", files[i]);
        int line = 1;
        for (const char *p = src; *p; line++) {
            const char *end = strchr(p, '\n');
            const size_t len = end ? (size_t)(end - p) : strlen(p);
            const char *c = memmem(p, len, "strcmp(", 7);
            const char *q = c ? memchr(c, '"', len - (size_t)(c - p)) : NULL;
            /* not parsing: the bare "--" that ends compare's options,
             * compare's look into the arguments it hands on to `run`, and
             * bench spelling llama-bench's single-dash -pg as --pg for getopt */
            const int passed_on = c && (!strncmp(q ? q : "", "\"--\"", 4) ||
                                        memmem(c, len - (size_t)(c - p), "run_args", 8) ||
                                        memmem(c, len - (size_t)(c - p), "pg\"", 3));
            const int opt =
                q && !passed_on && q[1] == '-' &&
                (q[2] == '-' || (q[2] >= 'a' && q[2] <= 'z') || (q[2] >= 'A' && q[2] <= 'Z'));
            CHECKF(!opt, "%s:%d: strcmp against an option: %.*s", files[i], line, (int)len, p);
            p += len + (end ? 1 : 0);
        }
        free(src);
    }
}

int main(void)
{
    g_bin = getenv("TB_BIN");
    if (!g_bin) {
        fprintf(stderr, "TB_BIN not set (run through ctest): skipped\n");
        return TB_SKIP_CODE;
    }
    tb_test_path(g_dir, sizeof g_dir, "cli", "");
    CHECK(mkdir(g_dir, 0755) == 0);
    snprintf(g_cache, sizeof g_cache, "%s/cache", g_dir);
    snprintf(g_prof, sizeof g_prof, "%s/prof", g_dir);
    CHECK(mkdir(g_prof, 0755) == 0);
    char path[800];
    snprintf(path, sizeof path, "%s/cli.ini", g_prof);
    tb_test_write_file(path, "[profile]\nname = cli\ntier = mcu\ndescription = cli test\n"
                             "threads = 1\nbinding = none\nisa_cap = best\n"
                             "memory_budget = 64 MiB\nweight_types = q8_0\nbackends = cpu\n"
                             "energy_source = none\nevents = perf::TASK-CLOCK\n"
                             "[workload.llm-prefill]\nmodel = synth:mcu-260k:q8_0\n"
                             "prompt = 16\nn_predict = 0\n");
    test_help();
    test_run_model_errors();
    test_bad_flags();
    test_workloads_documented();
    test_root_and_ascii();
    test_no_strcmp_parsers();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (tb_test_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return tb_test_result("test_cli");
}

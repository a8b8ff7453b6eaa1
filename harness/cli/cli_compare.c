/* tierbench compare BASE CANDIDATE: statistical comparison for the CI gate.
 * With --interleave N it first measures both sides itself: the base and
 * candidate binaries run alternately (A B A B ...), so slow drift of the
 * machine (thermal, background load) falls on both sides alike; the rounds'
 * records are merged per side and compared the same way.
 * Exit 0: the gate passes, 1: a regression (or a base configuration missing
 * from the candidate), 2: usage or input error, 5: inconclusive (too few or
 * too noisy samples to decide; how many are needed is printed); with
 * --interleave a failed round passes its run's status through. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/cli/tb_cli.h"
#include "harness/tb_results.h"
#include "kernels/tb_util.h"
#include "reports/tb_report.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tierbench compare BASE CANDIDATE [options]\n"
            "   or: tierbench compare --interleave N --base-bin A --cand-bin B [options]\n"
            "                         [-- RUN OPTIONS]\n"
            "  BASE, CANDIDATE: results directories or results.jsonl files from `tierbench run`,\n"
            "                   or two Google Benchmark JSON files (tierbench-kernels)\n"
            "  --format md|csv|json|junit  output format (default md)\n"
            "  -o, --out FILE              write the output to FILE (default stdout)\n"
            "  --alpha P                   significance level of the Mann-Whitney U test "
            "(default 0.01)\n"
            "  --threshold PCT             minimum relative change that counts (default 5)\n"
            "  --threshold METRIC=PCT      per-metric threshold (repeatable)\n"
            "  --mem-threshold PCT         sizes (peak_rss_kib, *_bytes): a change over PCT\n"
            "                              decides, whatever the sample count (default 10)\n"
            "  --min-samples N             fewer samples on a side = inconclusive (default 5;\n"
            "                              never below what the test needs at --alpha)\n"
            "  --allow-inconclusive        inconclusive metrics do not fail the gate (exit 0)\n"
            "  --allow-missing             configurations/metrics of the base missing from the\n"
            "                              candidate do not fail the gate\n"
            "interleaved measurement (drift cancels):\n"
            "  --interleave N              run `A run` and `B run` alternately, N rounds each\n"
            "                              (order A B A B ...), merge each side's rounds, compare\n"
            "  --base-bin A, --cand-bin B  the base and candidate tierbench binaries (paths)\n"
            "  --rounds-dir DIR            rounds go to a new DIR/interleave-* directory (default\n"
            "                              tb-interleave): round-NN-base/, round-NN-cand/,\n"
            "                              interleave.json (order, times, exit statuses) and\n"
            "                              compare.md, compare.csv, compare.json, junit.xml\n"
            "  -- RUN OPTIONS              passed to every `run` (not --out), e.g.\n"
            "                              -- --profile mcu-esp32s3 --reps 10\n"
            "verdicts: regression, improvement, no-change, inconclusive, missing (in the base,\n"
            "not in the candidate), new (only in the candidate); a placement or coverage change\n"
            "(e.g. an op that moved to the CPU) is a regression of its own.\n"
            "exit status: 0 pass, 1 regression or missing, 2 usage/input error,\n"
            "5 inconclusive (too few or too noisy samples; the message says how many are\n"
            "needed); --interleave: a round whose run exits other than 0 or 1 stops it with\n"
            "that run's status (3, 4; 128+N when killed by signal N)\n");
}

static int parse_double(const char *s, double *out)
{
    char *end = NULL;
    *out = strtod(s, &end);
    return end != s && !*end;
}

static int write_output(const struct tb_cmp_result *res, enum tb_cmp_format fmt, const char *path,
                        struct tb_err *err)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f)
        return tb_err_set(err, TB_EIO, "cannot write %s: %s", path, strerror(errno));
    int rc = tb_cmp_write(res, fmt, f, err);
    if (path && fclose(f) && !rc)
        rc = tb_err_set(err, TB_EIO, "%s: write failed", path);
    return rc;
}

/* The gate's verdict on stderr: the counts, each row that fails it or
 * cannot be decided (at most 20, then how many more), and the gate line. */
static void report_gate(const struct tb_cmp_result *res)
{
    fprintf(stderr,
            "compare: %zu metrics: %zu regression(s), %zu missing, %zu inconclusive, "
            "%zu improvement(s), %zu new\n",
            res->n, tb_cmp_count(res, TB_V_REGRESSION), tb_cmp_count(res, TB_V_MISSING),
            tb_cmp_count(res, TB_V_INCONCLUSIVE), tb_cmp_count(res, TB_V_IMPROVEMENT),
            tb_cmp_count(res, TB_V_NEW));
    size_t shown = 0, more = 0;
    for (size_t i = 0; i < res->n; i++) {
        const struct tb_cmp_row *w = &res->rows[i];
        if (tb_cmp_row_gated(res, w) == TB_CMP_GATE_PASS)
            continue;
        if (shown == 20) {
            more++;
            continue;
        }
        char msg[1024];
        tb_cmp_row_message(w, msg, sizeof msg);
        fprintf(stderr, "compare:   %s %s: %s\n", w->key, w->metric, msg);
        shown++;
    }
    if (more)
        fprintf(stderr, "compare:   ... and %zu more (see the output)\n", more);
    char line[512];
    tb_cmp_gate_line(res, line, sizeof line);
    fprintf(stderr, "compare: %s\n", line);
}

/* The decision over two series sets, shared by both modes: the requested
 * format to out_path (stdout when NULL) and, with --interleave, all four
 * formats into also_dir. Returns the exit status. */
static int decide(struct tb_series_set set[2], const char *const names[2],
                  const struct tb_cmp_opts *o, enum tb_cmp_format fmt, const char *out_path,
                  json_t *provenance, const char *also_dir)
{
    struct tb_err err = {0};
    int rc = TB_OK;
    for (int s = 0; s < 2 && !rc; s++)
        if (!set[s].n)
            rc = tb_err_set(&err, TB_EFORMAT, "%s: no measurements to compare", names[s]);
    struct tb_cmp_result res = {0};
    if (!rc)
        rc = tb_compare_sets(&set[0], &set[1], o, &res, &err);
    res.provenance = provenance;
    static const struct {
        const char *file;
        enum tb_cmp_format fmt;
    } all[] = {{"compare.md", TB_FMT_MD},
               {"compare.csv", TB_FMT_CSV},
               {"compare.json", TB_FMT_JSON},
               {"junit.xml", TB_FMT_JUNIT}};
    for (size_t i = 0; also_dir && !rc && i < sizeof all / sizeof all[0]; i++) {
        char path[4096];
        rc = tb_path_join(path, sizeof path, &err, "%s/%s", also_dir, all[i].file);
        if (!rc)
            rc = write_output(&res, all[i].fmt, path, &err);
    }
    if (!rc)
        rc = write_output(&res, fmt, out_path, &err);
    int code = TB_EXIT_USAGE;
    if (!rc) {
        report_gate(&res);
        code = tb_cmp_gate(&res);
    } else {
        fprintf(stderr, "compare: %s\n", err.msg);
    }
    tb_cmp_result_free(&res);
    return code;
}

/* Loads one results source into set (appending: rounds merge). */
static int load_into(const char *path, struct tb_series_set *set, int *is_gbench,
                     struct tb_err *err)
{
    struct tb_rsrc src;
    int rc = tb_rsrc_load(path, 0, &src, err);
    if (rc)
        return rc;
    tb_rsrc_say_taken(&src, stderr); /* stdout carries the md/csv/json */
    if (src.dropped)
        fprintf(stderr, "compare: %s: dropped a torn last record (killed run?)\n", src.data_path);
    *is_gbench = src.is_gbench;
    rc = tb_series_extract(&src, set, err);
    if (!rc)
        rc = tb_cmp_extract_sizes(&src, set, err);
    tb_rsrc_free(&src);
    return rc;
}

/* ------------------------------------------------------------ interleave */

struct interleave {
    int rounds;
    const char *bin[2]; /* base, candidate */
    const char *root;
    char **run_args;
    int n_run_args;
};

/* A new ROOT/interleave-YYYYMMDD-HHMMSS[-N] (mkdir is atomic: never shared). */
static int fresh_dir(const char *root, char *out, size_t n, struct tb_err *err)
{
    if (mkdir(root, 0777) && errno != EEXIST)
        return tb_err_set(err, TB_EIO, "--rounds-dir %s: %s", root, strerror(errno));
    char stamp[32];
    const time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 1; k < 1000; k++) {
        const int rc = k == 1 ? tb_path_join(out, n, err, "%s/interleave-%s", root, stamp)
                              : tb_path_join(out, n, err, "%s/interleave-%s-%d", root, stamp, k);
        if (rc)
            return tb_err_wrap(err, rc, "--rounds-dir");
        if (mkdir(out, 0777) == 0)
            return TB_OK;
        if (errno != EEXIST)
            return tb_err_set(err, TB_EIO, "%s: %s", out, strerror(errno));
    }
    return tb_err_set(err, TB_EIO, "%s: no fresh interleave-* name left", root);
}

/* The only run-* directory `run --out dir` made. */
static int find_run_dir(const char *dir, char *out, size_t n, struct tb_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tb_err_set(err, TB_EIO, "%s: %s", dir, strerror(errno));
    int found = 0, rc = TB_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d)))
        if (!strncmp(e->d_name, "run-", 4)) {
            rc = tb_path_join(out, n, err, "%s/%s", dir, e->d_name);
            found++;
        }
    closedir(d);
    if (rc)
        return rc;
    if (found != 1)
        return tb_err_set(err, TB_EFORMAT, "%s: expected one run-* results directory, found %d",
                          dir, found);
    return TB_OK;
}

/* A run that ended early (killed, or a sanitizer's exit 1, which reads like
 * "an SLO failed") leaves its manifest at "running". */
static int check_complete(const char *run_dir, struct tb_err *err)
{
    char path[4096];
    const int rc = tb_path_join(path, sizeof path, err, "%s/%s", run_dir, TB_RESULTS_MANIFEST);
    if (rc)
        return rc;
    json_t *m = json_load_file(path, 0, NULL);
    const char *st = json_string_value(json_object_get(m, "status"));
    const int ok = st && !strcmp(st, "complete");
    if (!ok)
        tb_err_set(err, TB_EFORMAT, "%s: the run did not complete (manifest status '%s')", run_dir,
                   st ? st : "missing");
    json_decref(m);
    return ok ? TB_OK : err->code;
}

/* fork + execv (no shell): BIN run --out DIR RUN_ARGS...; its stdout goes
 * to our stderr so a comparison on stdout stays clean. *status: the exit
 * status, 128+N for signal N, 127 when BIN could not be executed. */
static int run_round(const struct interleave *iv, const char *bin, const char *dir, int *status,
                     struct tb_err *err)
{
    char **argv = calloc((size_t)iv->n_run_args + 5, sizeof *argv);
    if (!argv)
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    argv[0] = (char *)bin;
    argv[1] = "run";
    argv[2] = "--out";
    argv[3] = (char *)dir;
    for (int i = 0; i < iv->n_run_args; i++)
        argv[4 + i] = iv->run_args[i];
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        return tb_err_set(err, TB_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execv(bin, argv);
        fprintf(stderr, "compare: cannot execute %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    free(argv);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return tb_err_set(err, TB_EIO, "waitpid: %s", strerror(errno));
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return TB_OK;
}

static int run_interleaved(const struct interleave *iv, const struct tb_cmp_opts *o,
                           enum tb_cmp_format fmt, const char *out_path)
{
    static const char *const side_name[2] = {"base", "cand"}, *const label[2] = {"A", "B"};
    struct tb_err err = {0};
    for (int s = 0; s < 2; s++)
        if (access(iv->bin[s], X_OK)) {
            fprintf(stderr, "compare: %s binary %s is missing or not executable: %s\n",
                    s ? "candidate" : "base", iv->bin[s], strerror(errno));
            return TB_EXIT_USAGE;
        }
    char dir[4096], log_path[4096];
    if (fresh_dir(iv->root, dir, sizeof dir, &err) ||
        tb_path_join(log_path, sizeof log_path, &err, "%s/interleave.json", dir)) {
        fprintf(stderr, "compare: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    json_t *args = json_array(), *runs = json_array();
    char order[2 * 1000 + 1] = "";
    for (int i = 0; i < iv->n_run_args; i++)
        json_array_append_new(args, json_string(iv->run_args[i]));
    json_t *prov = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o}", "rounds", iv->rounds, "order",
                             "", "base_bin", iv->bin[0], "cand_bin", iv->bin[1], "dir", dir,
                             "run_args", args, "runs", runs);
    struct tb_series_set set[2] = {{0}};
    int code = TB_EXIT_OK, is_gbench = 0;
    for (int r = 0; r < iv->rounds && code == TB_EXIT_OK; r++) {
        for (int s = 0; s < 2 && code == TB_EXIT_OK; s++) {
            char round_dir[4096], run_dir[4096], t0[32], t1[32];
            int rc = tb_path_join(round_dir, sizeof round_dir, &err, "%s/round-%02d-%s", dir, r + 1,
                                  side_name[s]);
            tb_utc_timestamp(t0, sizeof t0);
            fprintf(stderr, "compare: round %d/%d %s: %s run --out %s\n", r + 1, iv->rounds,
                    label[s], iv->bin[s], round_dir);
            int status = -1;
            if (!rc)
                rc = run_round(iv, iv->bin[s], round_dir, &status, &err);
            tb_utc_timestamp(t1, sizeof t1);
            strcat(order, label[s]);
            json_object_set_new(prov, "order", json_string(order));
            json_t *run = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:i}", "round", r + 1, "side",
                                    s ? "candidate" : "base", "label", label[s], "bin", iv->bin[s],
                                    "started", t0, "finished", t1, "exit_status", status);
            json_array_append_new(runs, run);
            if (!rc && status != 0 && status != 1) {
                rc = tb_err_set(&err, TB_EIO, "round %d (%s, %s): run exited with status %d%s",
                                r + 1, s ? "candidate" : "base", iv->bin[s], status,
                                status == 127 ? " (could not execute)" : "");
                code = status;
            }
            if (!rc)
                rc = find_run_dir(round_dir, run_dir, sizeof run_dir, &err);
            if (!rc)
                rc = check_complete(run_dir, &err);
            if (!rc) {
                json_object_set_new(run, "results", json_string(run_dir));
                rc = load_into(run_dir, &set[s], &is_gbench, &err);
            }
            struct tb_err le = {0};
            if (tb_json_write_atomic(log_path, prov, &le) && !rc)
                rc = tb_err_set(&err, le.code, "%s", le.msg);
            if (rc) {
                fprintf(stderr, "compare: %s\n", err.msg);
                if (code == TB_EXIT_OK)
                    code = TB_EXIT_USAGE;
            }
        }
    }
    if (code == TB_EXIT_OK) {
        const char *const names[2] = {iv->bin[0], iv->bin[1]};
        code = decide(set, names, o, fmt, out_path, prov, dir);
        fprintf(stderr, "compare: rounds, order and comparison in %s\n", dir);
    }
    json_decref(prov);
    tb_series_set_free(&set[0]);
    tb_series_set_free(&set[1]);
    return code;
}

enum {
    OPT_FORMAT = 1000,
    OPT_ALPHA,
    OPT_THRESHOLD,
    OPT_MEM_THRESHOLD,
    OPT_MIN_SAMPLES,
    OPT_ALLOW_INCONCLUSIVE,
    OPT_ALLOW_MISSING,
    OPT_INTERLEAVE,
    OPT_BASE_BIN,
    OPT_CAND_BIN,
    OPT_ROUNDS_DIR,
};

struct cmp_args {
    struct tb_cmp_opts o;
    enum tb_cmp_format fmt;
    const char *out_path;
    const char *paths[2];
    int np;
    struct interleave iv;
};

static int bad_value(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "compare: %s '%s': expected %s\n", opt, v, want);
    return TB_EXIT_USAGE;
}

/* One option's value into a (getopt_long's c, optarg). */
static int apply_opt(int c, const char *v, struct cmp_args *a)
{
    struct tb_err err = {0};
    double d;
    switch (c) {
    case 'o': a->out_path = v; return TB_EXIT_OK;
    case OPT_FORMAT:
        return tb_cmp_format_parse(v, &a->fmt) ? bad_value("--format", v, "md, csv, json or junit")
                                               : TB_EXIT_OK;
    case OPT_ALPHA:
        if (!parse_double(v, &a->o.alpha) || !(a->o.alpha > 0 && a->o.alpha < 1))
            return bad_value("--alpha", v, "a number in (0, 1)");
        return TB_EXIT_OK;
    case OPT_THRESHOLD:
        if (strchr(v, '=')) {
            if (tb_cmp_opts_add_threshold(&a->o, v, &err)) {
                fprintf(stderr, "compare: %s\n", err.msg);
                return TB_EXIT_USAGE;
            }
        } else if (!parse_double(v, &d) || !(d >= 0) || !(d < 1e300)) {
            return bad_value("--threshold", v, "PCT >= 0 or METRIC=PCT");
        } else {
            a->o.threshold_pct = d;
        }
        return TB_EXIT_OK;
    case OPT_MEM_THRESHOLD:
        if (!parse_double(v, &d) || !(d >= 0) || !(d < 1e300))
            return bad_value("--mem-threshold", v, "PCT >= 0");
        a->o.mem_threshold_pct = d;
        return TB_EXIT_OK;
    case OPT_MIN_SAMPLES: {
        int ms;
        if (tb_parse_int(v, 2, 1000000000, &ms))
            return bad_value("--min-samples", v, "an integer >= 2");
        a->o.min_samples = (size_t)ms;
        return TB_EXIT_OK;
    }
    case OPT_ALLOW_INCONCLUSIVE: a->o.allow_inconclusive = 1; return TB_EXIT_OK;
    case OPT_ALLOW_MISSING: a->o.allow_missing = 1; return TB_EXIT_OK;
    case OPT_INTERLEAVE:
        return tb_parse_int(v, 1, 999, &a->iv.rounds)
                   ? bad_value("--interleave", v, "rounds in [1, 999]")
                   : TB_EXIT_OK;
    case OPT_BASE_BIN: a->iv.bin[0] = v; return TB_EXIT_OK;
    case OPT_CAND_BIN: a->iv.bin[1] = v; return TB_EXIT_OK;
    case OPT_ROUNDS_DIR: a->iv.root = v; return TB_EXIT_OK;
    default: return TB_EXIT_USAGE;
    }
}

/* getopt_long over argv up to "--" (the rest is for `run`). Returns -1
 * for --help (printed), else TB_EXIT_OK / TB_EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct cmp_args *a)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"out", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"mem-threshold", required_argument, NULL, OPT_MEM_THRESHOLD},
        {"min-samples", required_argument, NULL, OPT_MIN_SAMPLES},
        {"allow-inconclusive", no_argument, NULL, OPT_ALLOW_INCONCLUSIVE},
        {"allow-missing", no_argument, NULL, OPT_ALLOW_MISSING},
        {"interleave", required_argument, NULL, OPT_INTERLEAVE},
        {"base-bin", required_argument, NULL, OPT_BASE_BIN},
        {"cand-bin", required_argument, NULL, OPT_CAND_BIN},
        {"rounds-dir", required_argument, NULL, OPT_ROUNDS_DIR},
        {NULL, 0, NULL, 0}};
    int end = argc; /* the options end at "--" */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            end = i;
            a->iv.run_args = argv + i + 1;
            a->iv.n_run_args = argc - i - 1;
            break;
        }
    optind = 0; /* glibc: full re-initialisation (called in-process again) */
    opterr = 0;
    int c;
    while ((c = getopt_long(end, argv, ":ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return -1;
        }
        if (c == ':' || c == '?')
            return tb_cli_opt_error("compare", c, argv);
        if (apply_opt(c, optarg, a))
            return TB_EXIT_USAGE;
    }
    for (int i = optind; i < end; i++) {
        if (a->np == 2) {
            fprintf(stderr,
                    "compare: expected exactly two inputs, BASE and CANDIDATE ('%s' is a "
                    "third)\n",
                    argv[i]);
            return TB_EXIT_USAGE;
        }
        a->paths[a->np++] = argv[i];
    }
    return TB_EXIT_OK;
}

int tb_cli_compare(int argc, char **argv)
{
    struct cmp_args a = {.fmt = TB_FMT_MD, .iv = {.root = "tb-interleave"}};
    tb_cmp_opts_default(&a.o);
    const int pc = parse_args(argc, argv, &a);
    if (pc)
        return pc < 0 ? TB_EXIT_OK : pc;
    struct tb_cmp_opts o = a.o;
    struct interleave iv = a.iv;
    const enum tb_cmp_format fmt = a.fmt;
    const char *out_path = a.out_path, *const *paths = a.paths;
    const int np = a.np;
    struct tb_err err = {0};
    if (iv.rounds || iv.bin[0] || iv.bin[1] || iv.run_args) {
        if (!iv.rounds || !iv.bin[0] || !iv.bin[1] || np) {
            fprintf(stderr, "compare: --interleave N needs --base-bin and --cand-bin, and no "
                            "BASE/CANDIDATE inputs (see --help)\n");
            return TB_EXIT_USAGE;
        }
        for (int i = 0; i < iv.n_run_args; i++)
            if (!strcmp(iv.run_args[i], "--out")) {
                fprintf(stderr, "compare: --out after '--': each round gets its own results "
                                "directory under --rounds-dir\n");
                return TB_EXIT_USAGE;
            }
        return run_interleaved(&iv, &o, fmt, out_path);
    }
    if (np != 2) {
        fprintf(stderr, "compare: expected two inputs, BASE and CANDIDATE, got %d (see --help)\n",
                np);
        return TB_EXIT_USAGE;
    }
    struct tb_series_set set[2] = {{0}};
    int rc = TB_OK, gb[2] = {0, 0};
    for (int s = 0; s < 2 && !rc; s++)
        rc = load_into(paths[s], &set[s], &gb[s], &err);
    if (!rc && gb[0] != gb[1])
        rc = tb_err_set(&err, TB_EINVAL,
                        "cannot compare a Google Benchmark file with tierbench results (%s vs %s)",
                        paths[0], paths[1]);
    int code = TB_EXIT_USAGE;
    o.gbench = gb[0];
    if (rc)
        fprintf(stderr, "compare: %s\n", err.msg);
    else
        code = decide(set, paths, &o, fmt, out_path, NULL, NULL);
    tb_series_set_free(&set[0]);
    tb_series_set_free(&set[1]);
    return code;
}

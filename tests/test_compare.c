/* tierbench compare: verdict statistics (A/A false-positive rate, injected
 * slowdown, too few samples), output formats, placement changes, exit codes
 * of the CLI on real results directories and Google Benchmark JSON. */
#include <math.h>
#include <stdio.h>

#include <csv.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "csv_table.h"
#include "report_fixtures.h"
#include "reports/tb_report.h"
#include "tb_test.h"

/* Skewed, noisy latency-like samples: base * (1 + 0.1 * exponential). */
static void draw(struct tb_rng *r, double base, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = base * (1.0 + 0.1 * -log(1.0 - tb_rng_uniform(r)));
}

static void test_aa(void)
{
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    struct tb_rng rng;
    tb_rng_seed(&rng, 42);
    enum { TRIALS = 1000, N = 30 };
    double a[N], b[N];
    int regress = 0, sig = 0, nonsig_fp = 0;
    for (int t = 0; t < TRIALS; t++) {
        draw(&rng, 10.0, a, N);
        draw(&rng, 10.0, b, N);
        struct tb_cmp_row row;
        struct tb_err err = {0};
        CHECK(tb_compare_values(a, N, b, N, TB_SERIES_SAMPLES, 0, o.threshold_pct, &o, &row,
                                &err) == TB_OK);
        regress += row.verdict == TB_V_REGRESSION;
        /* the test alone (no effect-size threshold): p < alpha by chance */
        sig += row.p < o.alpha;
        struct tb_cmp_row r0;
        CHECK(tb_compare_values(a, N, b, N, TB_SERIES_SAMPLES, 0, 0.0, &o, &r0, &err) == TB_OK);
        nonsig_fp += r0.verdict == TB_V_REGRESSION || r0.verdict == TB_V_IMPROVEMENT;
    }
    printf("A/A: %d trials of %d vs %d samples: %d regressions with defaults (rate %.3f); "
           "Mann-Whitney p < %.2g in %d (false-positive rate %.3f, threshold 0: %d)\n",
           TRIALS, N, N, regress, regress / (double)TRIALS, o.alpha, sig, sig / (double)TRIALS,
           nonsig_fp);
    /* the 5% effect-size floor makes a gated regression rarer than p < alpha */
    CHECKF(regress <= (int)(o.alpha * TRIALS), "A/A regression rate %.4f > alpha",
           regress / (double)TRIALS);
    /* expected alpha * trials; 3 alpha leaves room for sampling noise */
    CHECKF(sig <= (int)(3 * o.alpha * TRIALS), "A/A false-positive rate %.3f > 3 alpha",
           sig / (double)TRIALS);
    CHECK(nonsig_fp == sig);
}

static void test_injected(void)
{
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    struct tb_rng rng;
    tb_rng_seed(&rng, 7);
    enum { TRIALS = 50, N = 40 };
    double a[N], b[N];
    int detected = 0, improved = 0;
    for (int t = 0; t < TRIALS; t++) {
        draw(&rng, 10.0, a, N);
        draw(&rng, 11.0, b, N); /* 10% slower */
        struct tb_cmp_row row;
        CHECK(tb_compare_values(a, N, b, N, TB_SERIES_SAMPLES, 0, 5.0, &o, &row, NULL) == TB_OK);
        detected += row.verdict == TB_V_REGRESSION;
        if (t == 0)
            CHECKF(row.change_pct > 5 && row.change_pct < 15, "change %.2f", row.change_pct);
        /* the same shift on a higher-is-better metric is an improvement */
        CHECK(tb_compare_values(a, N, b, N, TB_SERIES_SAMPLES, 1, 5.0, &o, &row, NULL) == TB_OK);
        improved += row.verdict == TB_V_IMPROVEMENT;
    }
    printf("injected 10%% slowdown, %d vs %d samples: detected in %d/%d trials\n", N, N, detected,
           TRIALS);
    CHECKF(detected >= TRIALS - 1, "detected %d/%d", detected, TRIALS);
    CHECK(improved == detected);
}

static void test_inconclusive(void)
{
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    double a[3] = {10, 10.1, 9.9}, b[3] = {13, 13.1, 12.9};
    struct tb_cmp_row row;
    CHECK(tb_compare_values(a, 3, b, 3, TB_SERIES_SAMPLES, 0, 5.0, &o, &row, NULL) == TB_OK);
    CHECK(row.verdict == TB_V_INCONCLUSIVE);
    CHECK(strstr(row.note, "too few samples") != NULL);
    /* too noisy: a big median shift that the test cannot confirm */
    double c[6] = {1, 100, 2, 90, 3, 80}, d[6] = {1.5, 95, 2.5, 85, 3.5, 200};
    CHECK(tb_compare_values(c, 6, d, 6, TB_SERIES_SAMPLES, 0, 5.0, &o, &row, NULL) == TB_OK);
    CHECKF(row.verdict == TB_V_INCONCLUSIVE && strstr(row.note, "noisy"), "%s %s",
           tb_verdict_name(row.verdict), row.note);
    /* missing on one side */
    CHECK(tb_compare_values(a, 3, NULL, 0, TB_SERIES_SAMPLES, 0, 5.0, &o, &row, NULL) == TB_OK);
    CHECK(row.verdict == TB_V_MISSING && strstr(row.note, "missing in candidate"));
    CHECK(tb_compare_values(NULL, 0, a, 3, TB_SERIES_SAMPLES, 0, 5.0, &o, &row, NULL) == TB_OK);
    CHECK(row.verdict == TB_V_NEW && strstr(row.note, "new in candidate"));
    /* deterministic (accuracy): threshold only, no samples needed */
    double t1 = 1.0, t2 = 0.8;
    CHECK(tb_compare_values(&t1, 1, &t2, 1, TB_SERIES_DETERMINISTIC, 1, 5.0, &o, &row, NULL) ==
          TB_OK);
    CHECK(row.verdict == TB_V_REGRESSION);
    /* per-metric thresholds */
    CHECK(tb_cmp_opts_add_threshold(&o, "itl_ms=12.5", NULL) == TB_OK);
    CHECK(o.n_thr == 1 && o.thr[0].pct == 12.5 && !strcmp(o.thr[0].metric, "itl_ms"));
    CHECK(tb_cmp_opts_add_threshold(&o, "itl_ms", NULL) == TB_EINVAL);
    CHECK(tb_cmp_opts_add_threshold(&o, "=3", NULL) == TB_EINVAL);
    CHECK(tb_cmp_opts_add_threshold(&o, "x=-1", NULL) == TB_EINVAL);
    CHECK(tb_metric_higher_better("decode_tps") && tb_metric_higher_better("bytes_per_second") &&
          tb_metric_higher_better("top1_agreement") && !tb_metric_higher_better("itl_ms") &&
          !tb_metric_higher_better("real_time") && !tb_metric_higher_better("joules_per_token") &&
          !tb_metric_higher_better("peak_rss_kib"));
}

static int run_cli(const char *bin, const char *args, const char *out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' compare %s > '%s' 2>&1", bin, args, out);
    return fx_system(cmd);
}

static void write_gbench(const char *path, double t)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "{\"context\": {\"date\": \"2026-01-01\", \"host_name\": \"h\"}, \"benchmarks\": [");
    for (int i = 0; i < 8; i++)
        fprintf(f,
                "%s{\"name\": \"matmul/q4_0/x\", \"run_name\": \"matmul/q4_0/x\", "
                "\"run_type\": \"iteration\", \"repetitions\": 8, \"real_time\": %.3f, "
                "\"time_unit\": \"us\", \"bytes_per_second\": %.1f, "
                "\"label\": \"NaN and inf stay in strings\", \"papi:perf::X\": NaN}",
                i ? "," : "", t * (1 + 0.003 * i), 1e9 / (t * (1 + 0.003 * i)));
    fprintf(f, ", {\"name\": \"matmul/q4_0/x_mean\", \"run_name\": \"matmul/q4_0/x\", "
               "\"run_type\": \"aggregate\", \"real_time\": 1.0, \"time_unit\": \"us\", "
               "\"cv\": -Infinity, \"x\": -1.5e-05}]}\n");
    fclose(f);
}

static void test_cli(void)
{
    const char *bin = fx_bin();
    if (!bin)
        return;
    char base[512], same[512], slow[512], moved[512], out[512];
    tb_test_path(base, sizeof base, "cmp-base", "");
    tb_test_path(same, sizeof same, "cmp-same", "");
    tb_test_path(slow, sizeof slow, "cmp-slow", "");
    tb_test_path(moved, sizeof moved, "cmp-moved", "");
    tb_test_path(out, sizeof out, "cmp-out", ".txt");
    struct fx_run f = {.commit = "aaaa",
                       .scale = 1.0,
                       .n = 30,
                       .seed = 1,
                       .backend = "opencl",
                       .with_coverage = 1};
    CHECK(fx_write_run(base, &f) == 0);
    f.seed = 2;
    CHECK(fx_write_run(same, &f) == 0);
    f.seed = 3;
    f.scale = 1.1;
    CHECK(fx_write_run(slow, &f) == 0);
    f.scale = 1.0;
    f.seed = 4;
    f.off_op = "matmul";
    CHECK(fx_write_run(moved, &f) == 0);

    char args[4096];
    snprintf(args, sizeof args, "'%s' '%s'", base, same);
    int rc = run_cli(bin, args, out);
    char *txt = fx_slurp(out);
    CHECKF(rc == 0, "A/A exit %d:\n%s", rc, txt ? txt : "");
    CHECK(txt && strstr(txt, "| configuration | metric |") && !strstr(txt, "**regression**"));
    free(txt);

    snprintf(args, sizeof args, "'%s' '%s'", base, slow);
    rc = run_cli(bin, args, out);
    txt = fx_slurp(out);
    CHECKF(rc == 1, "slowdown exit %d", rc);
    CHECK(txt && strstr(txt, "**regression**") && strstr(txt, "ttft_ms"));
    free(txt);

    /* a 10% slowdown is not a regression under a 15% ttft/itl threshold */
    snprintf(args, sizeof args,
             "'%s' '%s' --threshold ttft_ms=15 --threshold itl_ms=15 --format csv", base, slow);
    rc = run_cli(bin, args, out);
    txt = fx_slurp(out);
    CHECKF(rc == 0, "thresholds exit %d\n%s", rc, txt ? txt : "");
    CHECK(txt && !strncmp(txt, "\"key\",\"metric\",\"unit\",\"higher_is_better\",", 41));
    free(txt);

    /* placement change: an op moved to the CPU is a regression, named */
    snprintf(args, sizeof args, "'%s' '%s' --format json", base, moved);
    rc = run_cli(bin, args, out);
    txt = fx_slurp(out);
    CHECKF(rc == 1, "placement exit %d", rc);
    CHECK(txt && strstr(txt, "op matmul now off target on cpu/cpu") &&
          strstr(txt, "\"metric\": \"placement\""));
    free(txt);

    /* JUnit: one testcase per metric, failures counted */
    snprintf(args, sizeof args, "'%s' '%s' --format junit --out '%s'", base, slow, out);
    char devnull[600];
    snprintf(devnull, sizeof devnull, "%s.log", out);
    rc = run_cli(bin, args, devnull);
    txt = fx_slurp(out);
    CHECK(rc == 1);
    CHECK(txt && !strncmp(txt, "<?xml version=\"1.0\"", 19));
    if (txt) {
        size_t open = fx_count(txt, "<testcase "), close = fx_count(txt, "</testcase>");
        size_t fails = fx_count(txt, "<failure ");
        CHECKF(open > 0 && open == close, "%zu testcases, %zu closed", open, close);
        CHECK(fails > 0);
        char want[64];
        snprintf(want, sizeof want, "failures=\"%zu\"", fails);
        CHECK(strstr(txt, want) != NULL);
        CHECK(fx_count(txt, "<testsuite ") == 1 && strstr(txt, "</testsuite>\n</testsuites>"));
        CHECK(!strstr(txt, "<failure type=\"regression\" message=\"\""));
    }
    free(txt);

    /* Google Benchmark JSON (with the bare NaN/Infinity it writes for
     * non-finite counters): repetitions are the samples */
    char ga[512], gb[512];
    tb_test_path(ga, sizeof ga, "gb-a", ".json");
    tb_test_path(gb, sizeof gb, "gb-b", ".json");
    write_gbench(ga, 100.0);
    write_gbench(gb, 112.0);
    snprintf(args, sizeof args, "'%s' '%s'", ga, gb);
    rc = run_cli(bin, args, out);
    txt = fx_slurp(out);
    CHECKF(rc == 1, "gbench exit %d\n%s", rc, txt ? txt : "");
    CHECK(txt && strstr(txt, "matmul/q4_0/x | real_time (us)") && !strstr(txt, "_mean"));
    free(txt);
    snprintf(args, sizeof args, "'%s' '%s'", ga, ga);
    CHECK(run_cli(bin, args, out) == 0);

    /* ci/perf-gate: same exit codes, every output format written */
    char gate[512], cmd[8192];
    tb_test_path(gate, sizeof gate, "perf-gate", "");
    snprintf(cmd, sizeof cmd,
             "TIERBENCH='%s' PERF_GATE_OUT='%s' GITHUB_STEP_SUMMARY= '%s/ci/perf-gate' '%s' '%s' "
             "> '%s' 2>&1",
             bin, gate, TB_SOURCE_DIR, base, slow, out);
    CHECK(fx_system(cmd) == 1);
    static const char *const outs[] = {"compare.md", "compare.csv", "compare.json", "junit.xml"};
    for (int i = 0; i < 4; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", gate, outs[i]);
        txt = fx_slurp(p);
        CHECKF(txt && strstr(txt, "ttft_ms"), "%s", p);
        free(txt);
    }
    snprintf(cmd, sizeof cmd,
             "TIERBENCH='%s' PERF_GATE_OUT='%s' '%s/ci/perf-gate' '%s' '%s' > '%s' 2>&1", bin, gate,
             TB_SOURCE_DIR, base, same, out);
    CHECK(fx_system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "TIERBENCH='%s' '%s/ci/perf-gate' '%s' > '%s' 2>&1", bin,
             TB_SOURCE_DIR, base, out);
    CHECK(fx_system(cmd) == 2);

    /* usage and input errors: 2 */
    CHECK(run_cli(bin, "", out) == 2);
    snprintf(args, sizeof args, "'%s'", base);
    CHECK(run_cli(bin, args, out) == 2);
    snprintf(args, sizeof args, "'%s' /nonexistent/results", base);
    CHECK(run_cli(bin, args, out) == 2);
    snprintf(args, sizeof args, "'%s' '%s' --format xml", base, same);
    CHECK(run_cli(bin, args, out) == 2);
    snprintf(args, sizeof args, "'%s' '%s'", base, ga);
    CHECK(run_cli(bin, args, out) == 2);
    txt = fx_slurp(out);
    CHECK(txt && strstr(txt, "cannot compare a Google Benchmark file"));
    free(txt);
}

/* The CI gate at tierbench run's default sample count (--reps 5): 30
 * seeded A/A comparisons give zero regressions, and an injected 5%
 * slowdown is either detected or called inconclusive (asking for more
 * samples) -- never passed as no-change or improvement. With many samples
 * the same slowdown is detected. */
static void test_gate_default_samples(void)
{
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    struct tb_rng rng;
    tb_rng_seed(&rng, 2026);
    enum { SEEDS = 30, N = 5, BIG = 400 };
    double a[BIG], b[BIG];
    int aa_regress = 0, det = 0, inc = 0, missed = 0, det_big = 0;
    for (int t = 0; t < SEEDS; t++) {
        struct tb_cmp_row row;
        draw(&rng, 10.0, a, N);
        draw(&rng, 10.0, b, N);
        CHECK(tb_compare_values(a, N, b, N, TB_SERIES_SAMPLES, 0, o.threshold_pct, &o, &row,
                                NULL) == TB_OK);
        aa_regress += row.verdict == TB_V_REGRESSION;
        draw(&rng, 10.0, a, N);
        draw(&rng, 10.5, b, N); /* 5% slower */
        CHECK(tb_compare_values(a, N, b, N, TB_SERIES_SAMPLES, 0, o.threshold_pct, &o, &row,
                                NULL) == TB_OK);
        det += row.verdict == TB_V_REGRESSION;
        inc += row.verdict == TB_V_INCONCLUSIVE;
        missed += row.verdict == TB_V_NO_CHANGE || row.verdict == TB_V_IMPROVEMENT;
        if (row.verdict == TB_V_INCONCLUSIVE)
            CHECKF((strstr(row.note, "more samples") || strstr(row.note, "need about")) ||
                       strstr(row.note, "noisy"),
                   "note: %s", row.note);
        draw(&rng, 10.0, a, BIG);
        draw(&rng, 10.5, b, BIG);
        CHECK(tb_compare_values(a, BIG, b, BIG, TB_SERIES_SAMPLES, 0, 4.0, &o, &row, NULL) ==
              TB_OK);
        det_big += row.verdict == TB_V_REGRESSION;
    }
    printf("gate at %d samples: A/A %d/%d regressions; 5%% slowdown detected %d, inconclusive %d, "
           "missed %d of %d; at %d samples (4%% threshold) detected %d/%d\n",
           N, aa_regress, SEEDS, det, inc, missed, SEEDS, BIG, det_big, SEEDS);
    CHECK(aa_regress == 0);
    CHECK(missed == 0);
    CHECKF(det_big >= SEEDS - 1, "detected %d/%d with %d samples", det_big, SEEDS, BIG);
}

/* ---- the gate (issue 14): exit codes, missing configurations, sizes,
 * JUnit against the schema, no "nan", CSV read back through libcsv */

/* Writes dst (a results.jsonl file) from src_dir/results.jsonl with every
 * record passed through edit; a record for which edit returns 0 is left
 * out. */
static int derive_jsonl(const char *src_dir, const char *dst, int (*edit)(json_t *rec))
{
    char src[700];
    snprintf(src, sizeof src, "%s/results.jsonl", src_dir);
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    int rc = in && out ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    while (!rc && getline(&line, &cap, in) > 0) {
        json_t *rec = json_loads(line, 0, NULL);
        if (!rec) {
            rc = -1;
            break;
        }
        if (edit(rec) && (json_dumpf(rec, out, JSON_COMPACT) || fputc('\n', out) == EOF))
            rc = -1;
        json_decref(rec);
    }
    free(line);
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

static int drop_phone(json_t *rec)
{
    const char *p = json_string_value(json_object_get(rec, "profile"));
    return !p || strcmp(p, "phone-midrange");
}

static int rss_up_50(json_t *rec)
{
    json_t *m = json_object_get(rec, "memory");
    if (json_is_object(m))
        json_object_set_new(m, "peak_rss_kib", json_integer(150000));
    return 1;
}

/* 1 when s contains "nan" in any case (a NaN printed with %g is "nan",
 * "-nan" or "NaN"). */
static int has_nan(const char *s)
{
    for (; s && s[0] && s[1] && s[2]; s++)
        if ((s[0] | 32) == 'n' && (s[1] | 32) == 'a' && (s[2] | 32) == 'n')
            return 1;
    return 0;
}

/* A CSV read back through libcsv (csv_table.h). */
static int t_load(const char *path, struct csv_table *t)
{
    char *text = fx_slurp(path);
    const int rc = csv_table_parse(text, t);
    free(text);
    return rc;
}

/* The CSV of one comparison: 16 named columns in every row, numbers that
 * parse whole (or an empty cell), a verdict of the known set; returns the
 * number of rows whose verdict is `verdict`. */
static size_t check_csv(const char *path, const char *verdict)
{
    struct csv_table t;
    CHECKF(t_load(path, &t) == 0, "%s: libcsv could not read it back", path);
    static const char *const names[] = {
        "key",        "metric",      "unit",          "higher_is_better",
        "n_base",     "n_candidate", "median_base",   "median_candidate",
        "change_pct", "p_value",     "threshold_pct", "samples_needed",
        "verdict",    "gate",        "note",          "label"};
    CHECKF(t.rows > 1 && t.cols[0] == 16, "%s: %zu rows, %zu header columns", path, t.rows,
           t.cols[0]);
    for (int c = 0; c < 16; c++)
        CHECKF(csv_table_col(&t, names[c]) == c, "%s: column %d is not %s", path, c, names[c]);
    size_t hits = 0;
    const int v = csv_table_col(&t, "verdict");
    for (size_t r = 1; r < t.rows && r < CSV_T_ROWS; r++) {
        CHECKF(t.cols[r] == 16, "%s row %zu: %zu cells", path, r, t.cols[r]);
        /* a tierbench row's label names its prompt and depth */
        const char *lab = t.cols[r] == 16 ? t.cell[r][15] : NULL;
        CHECKF(lab && (!*lab || (strstr(lab, " p") && strstr(lab, " d"))), "%s row %zu label '%s'",
               path, r, lab ? lab : "(null)");
        for (int c = 4; c <= 11 && t.cols[r] == 16; c++) {
            const char *x = t.cell[r][c];
            char *end = NULL;
            if (x && *x)
                strtod(x, &end);
            CHECKF(x && (!*x || (end && !*end)), "%s row %zu %s: '%s' is not a number", path, r,
                   names[c], x ? x : "(null)");
        }
        const char *vv = v >= 0 && t.cols[r] == 16 ? t.cell[r][v] : NULL;
        CHECKF(vv && (!strcmp(vv, "regression") || !strcmp(vv, "improvement") ||
                      !strcmp(vv, "no-change") || !strcmp(vv, "inconclusive") ||
                      !strcmp(vv, "missing") || !strcmp(vv, "new")),
               "%s row %zu: verdict '%s'", path, r, vv ? vv : "(null)");
        hits += vv && !strcmp(vv, verdict);
    }
    csv_table_free(&t);
    return hits;
}

static int have_xmllint(void)
{
    return fx_system("command -v xmllint > /dev/null 2>&1") == 0;
}

/* The Jenkins xunit plugin's own junit-10.xsd: $TB_JUNIT_XSD, else the copy
 * the workplace keeps beside the checkout (../shared/fixtures, not committed
 * here); NULL when neither exists, and the committed schema alone decides. */
static const char *upstream_xsd(void)
{
    const char *env = getenv("TB_JUNIT_XSD");
    if (env && *env)
        return env;
    static const char shared[] = TB_SOURCE_DIR "/../shared/fixtures/junit-10.xsd";
    return access(shared, R_OK) == 0 ? shared : NULL;
}

/* xmllint --noout --schema XSD file: the committed schema and the upstream
 * junit-10.xsd where one is at hand. */
static void check_junit(const char *xml, const char *what)
{
    if (!have_xmllint())
        return;
    const char *schemas[2] = {TB_SOURCE_DIR "/tests/data/junit/tierbench-junit.xsd",
                              upstream_xsd()};
    for (int i = 0; i < 2; i++) {
        if (!schemas[i] || !*schemas[i])
            continue;
        char cmd[4096], log[700];
        snprintf(log, sizeof log, "%s.xmllint", xml);
        snprintf(cmd, sizeof cmd, "xmllint --noout --schema '%s' '%s' > '%s' 2>&1", schemas[i], xml,
                 log);
        const int rc = fx_system(cmd);
        char *txt = fx_slurp(log);
        CHECKF(rc == 0, "%s: %s does not validate against %s:\n%s", what, xml, schemas[i],
               txt ? txt : "");
        free(txt);
    }
}

struct gate_case {
    const char *name, *base, *cand, *extra;
    int want;
    const char *must; /* in the Markdown output or the messages */
};

/* Runs one case in every format (+ the stderr messages), checks the exit
 * status of each, "nan" nowhere, the JUnit against the schema and the CSV
 * through libcsv; returns the Markdown + messages (caller frees). */
static char *run_case(const char *bin, const struct gate_case *c)
{
    static const char *const fmts[] = {"md", "csv", "json", "junit"};
    char *md = NULL;
    for (int f = 0; f < 4; f++) {
        char out[600], log[700], cmd[8192];
        tb_test_path(out, sizeof out, c->name, fmts[f]);
        snprintf(log, sizeof log, "%s.log", out);
        snprintf(cmd, sizeof cmd, "'%s' compare '%s' '%s' %s --format %s --out '%s' 2> '%s'", bin,
                 c->base, c->cand, c->extra, fmts[f], out, log);
        const int rc = fx_system(cmd);
        CHECKF(rc == c->want, "%s --format %s: exit %d, want %d", c->name, fmts[f], rc, c->want);
        char *txt = fx_slurp(out), *err = fx_slurp(log);
        CHECKF(txt && !has_nan(txt), "%s --format %s: 'nan' in the output", c->name, fmts[f]);
        CHECKF(err && !has_nan(err), "%s: 'nan' in the messages:\n%s", c->name, err ? err : "");
        if (f == 3) {
            CHECK(txt && !strstr(txt, "<testsuites name=\"tierbench compare\" tests=\"0\""));
            check_junit(out, c->name);
        }
        if (f == 1)
            check_csv(out, "regression");
        if (f == 0 && txt && err) {
            md = malloc(strlen(txt) + strlen(err) + 2);
            if (md)
                sprintf(md, "%s\n%s", txt, err);
        }
        free(txt);
        free(err);
    }
    CHECKF(md && strstr(md, c->must), "%s: '%s' not said:\n%s", c->name, c->must, md ? md : "");
    return md;
}

static void test_gate_units(void)
{
    CHECK(tb_cmp_min_decidable(0.01) == 5 && tb_cmp_min_decidable(0.05) == 4);
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    /* one sample a side: a 100x slowdown is still statistically undecided */
    double a = 10.0, b = 1000.0;
    struct tb_cmp_row row;
    CHECK(tb_compare_values(&a, 1, &b, 1, TB_SERIES_SAMPLES, 0, 5.0, &o, &row, NULL) == TB_OK);
    CHECKF(row.verdict == TB_V_INCONCLUSIVE && row.need == 5 && strstr(row.note, "need >= 5") &&
               strstr(row.note, "however large"),
           "%s %zu %s", tb_verdict_name(row.verdict), row.need, row.note);
    /* sizes: a 50% peak RSS increase fails on one value a side; 5% does not */
    struct tb_series_set s0 = {0}, s1 = {0};
    const double r0 = 100000, r1 = 150000, r2 = 105000, k0 = 4096, k1 = 8192;
    CHECK(tb_series_add(&s0, "p/w/c", "peak_rss_kib", "KiB", TB_SERIES_SCALAR, &r0, 1, NULL) == 0);
    CHECK(tb_series_add(&s1, "p/w/c", "peak_rss_kib", "KiB", TB_SERIES_SCALAR, &r1, 1, NULL) == 0);
    CHECK(tb_series_add(&s0, "p/w/c", "kv_cache_bytes", "B", TB_SERIES_SCALAR, &k0, 1, NULL) == 0);
    CHECK(tb_series_add(&s1, "p/w/c", "kv_cache_bytes", "B", TB_SERIES_SCALAR, &k1, 1, NULL) == 0);
    CHECK(tb_series_add(&s0, "p/w/gone", "ttft_ms", "ms", TB_SERIES_SAMPLES, &a, 1, NULL) == 0);
    struct tb_cmp_result res = {0};
    CHECK(tb_compare_sets(&s0, &s1, &o, &res, NULL) == TB_OK);
    CHECK(res.n == 3 && res.rows[0].verdict == TB_V_REGRESSION &&
          res.rows[1].verdict == TB_V_REGRESSION && res.rows[2].verdict == TB_V_MISSING);
    CHECK(strstr(res.rows[2].note, "configuration missing in candidate") != NULL);
    CHECK(tb_cmp_gate(&res) == TB_CMP_GATE_FAIL);
    tb_cmp_result_free(&res);
    s1.s[0].v[0] = r2;
    s1.s[1].v[0] = k0;
    o.allow_missing = 1;
    CHECK(tb_compare_sets(&s0, &s1, &o, &res, NULL) == TB_OK);
    CHECK(res.rows[0].verdict == TB_V_NO_CHANGE && tb_cmp_gate(&res) == TB_CMP_GATE_PASS);
    tb_cmp_result_free(&res);
    o.mem_threshold_pct = 4; /* 5% now counts */
    CHECK(tb_compare_sets(&s0, &s1, &o, &res, NULL) == TB_OK);
    CHECK(res.rows[0].verdict == TB_V_REGRESSION);
    tb_cmp_result_free(&res);
    tb_series_set_free(&s0);
    tb_series_set_free(&s1);
}

static void test_gate_cli(void)
{
    const char *bin = fx_bin();
    if (!bin)
        return;
    if (!have_xmllint())
        printf("SKIP JUnit schema checks: xmllint is not installed (ci/install-deps.sh installs "
               "libxml2-utils)\n");
    else if (upstream_xsd())
        printf("JUnit checked against %s and the committed schema\n", upstream_xsd());
    else
        printf("JUnit checked against the committed schema only: no upstream junit-10.xsd "
               "(TB_JUNIT_XSD or ../shared/fixtures/junit-10.xsd)\n");
    char b30[512], s30[512], slow30[512], moved[512], b1[512], slow1[512], miss[512], rss[512];
    tb_test_path(b30, sizeof b30, "gate-b30", "");
    tb_test_path(s30, sizeof s30, "gate-s30", "");
    tb_test_path(slow30, sizeof slow30, "gate-slow30", "");
    tb_test_path(moved, sizeof moved, "gate-moved", "");
    tb_test_path(b1, sizeof b1, "gate-b1", "");
    tb_test_path(slow1, sizeof slow1, "gate-slow1", "");
    tb_test_path(miss, sizeof miss, "gate-missing", ".jsonl");
    tb_test_path(rss, sizeof rss, "gate-rss", ".jsonl");
    struct fx_run f = {.commit = "aaaa", .scale = 1.0, .n = 30, .seed = 11, .backend = "opencl"};
    f.with_coverage = 1;
    CHECK(fx_write_run(b30, &f) == 0);
    f.seed = 12;
    CHECK(fx_write_run(s30, &f) == 0);
    f.seed = 13;
    f.scale = 1.3;
    CHECK(fx_write_run(slow30, &f) == 0);
    f.scale = 1.0;
    f.seed = 14;
    f.fallback = 1; /* the backend is part of the configuration's name: kept */
    f.off_op = "matmul";
    CHECK(fx_write_run(moved, &f) == 0);
    struct fx_run g = {.commit = "aaaa", .scale = 1.0, .n = 1, .seed = 21, .backend = "opencl"};
    CHECK(fx_write_run(b1, &g) == 0);
    g.scale = 100.0; /* a 100x slowdown measured once */
    g.seed = 22;
    CHECK(fx_write_run(slow1, &g) == 0);
    CHECK(derive_jsonl(b30, miss, drop_phone) == 0);
    CHECK(derive_jsonl(b1, rss, rss_up_50) == 0);

    const struct gate_case cases[] = {
        {"gate-pass", b30, s30, "", 0, "gate: PASS (exit 0)"},
        {"gate-fail", b30, slow30, "", 1, "gate: FAIL (exit 1)"},
        {"gate-placement", b30, moved, "", 1, "placement changed: fallback false -> true"},
        {"gate-1rep", b1, slow1, "", 5, "need >= 5 samples per side"},
        {"gate-1rep-allowed", b1, slow1, "--allow-inconclusive", 0, "inconclusive passed"},
        {"gate-missing", b30, miss, "", 1, "configuration missing in candidate"},
        {"gate-missing-allowed", b30, miss, "--allow-missing", 0, "missing passed"},
        {"gate-rss", b1, rss, "", 1, "peak_rss_kib: regression: median 100000 -> 150000 KiB"},
        {"gate-rss-60", b1, rss, "--mem-threshold 60", 0, "gate: PASS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *md = run_case(bin, &cases[i]);
        if (i == 3 && md) /* a 100x change on one sample: still undecided, and says so */
            CHECKF(strstr(md, "however large") && strstr(md, "+9") && strstr(md, "run --reps 5"),
                   "%s", md);
        if (i == 2 && md)
            CHECKF(strstr(md, "op matmul now off target on cpu/cpu") && !strstr(md, "median -"),
                   "%s", md);
        free(md);
    }

    /* options: --help is 0, bad flags and values are 2 with one line */
    char out[512], cmd[8192];
    tb_test_path(out, sizeof out, "gate-opts", ".txt");
    snprintf(cmd, sizeof cmd, "'%s' compare --help > '%s' 2>&1", bin, out);
    CHECK(fx_system(cmd) == 0);
    char *txt = fx_slurp(out);
    CHECK(txt && strstr(txt, "--allow-inconclusive") && strstr(txt, "--allow-missing") &&
          strstr(txt, "--mem-threshold") && strstr(txt, "5 inconclusive"));
    free(txt);
    static const char *const bad[] = {"--bogus",
                                      "-z",
                                      "--mem-threshold x",
                                      "--mem-threshold",
                                      "--alpha 2",
                                      "--min-samples 1",
                                      "--allow-missing=yes"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "'%s' compare '%s' '%s' %s > '%s' 2>&1", bin, b30, s30, bad[i],
                 out);
        const int rc = fx_system(cmd);
        txt = fx_slurp(out);
        CHECKF(rc == 2 && txt && fx_count(txt, "\n") == 1, "compare %s: exit %d:\n%s", bad[i], rc,
               txt ? txt : "");
        free(txt);
    }
    /* options after the inputs, and the inputs between options (getopt_long permutes) */
    snprintf(cmd, sizeof cmd,
             "'%s' compare --format csv '%s' --allow-inconclusive '%s' > '%s' 2>&1", bin, b1, slow1,
             out);
    CHECK(fx_system(cmd) == 0);

    /* ci/perf-gate passes exit 5 through, and the flags */
    char gate[512];
    tb_test_path(gate, sizeof gate, "gate-perf", "");
    snprintf(cmd, sizeof cmd,
             "TIERBENCH='%s' PERF_GATE_OUT='%s' GITHUB_STEP_SUMMARY= '%s/ci/perf-gate' '%s' '%s' "
             "> '%s' 2>&1",
             bin, gate, TB_SOURCE_DIR, b1, slow1, out);
    CHECK(fx_system(cmd) == 5);
    txt = fx_slurp(out);
    CHECKF(txt && strstr(txt, "INCONCLUSIVE") && !has_nan(txt), "%s", txt ? txt : "");
    free(txt);
    char junit[700];
    snprintf(junit, sizeof junit, "%s/junit.xml", gate);
    check_junit(junit, "perf-gate inconclusive");
    snprintf(cmd, sizeof cmd,
             "TIERBENCH='%s' PERF_GATE_OUT='%s' '%s/ci/perf-gate' '%s' '%s' --allow-inconclusive "
             "> '%s' 2>&1",
             bin, gate, TB_SOURCE_DIR, b1, slow1, out);
    CHECK(fx_system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "'%s/ci/perf-gate' --help > '%s' 2>&1", TB_SOURCE_DIR, out);
    CHECK(fx_system(cmd) == 0);
}

int main(void)
{
    test_aa();
    test_gate_default_samples();
    test_injected();
    test_inconclusive();
    test_cli();
    test_gate_units();
    test_gate_cli();
    return tb_test_result("test_compare");
}

/* tierbench compare: verdict statistics (A/A false-positive rate, injected
 * slowdown, too few samples), output formats, placement changes, exit codes
 * of the CLI on real results directories and Google Benchmark JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    test_aa();
    test_gate_default_samples();
    test_injected();
    test_inconclusive();
    test_cli();
    return tb_test_result("test_compare");
}

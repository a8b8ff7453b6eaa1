/* The C shim over Google Benchmark (harness/bench/tb_bench.h): C benchmarks
 * registered through it run with Google Benchmark's own flags, and the JSON
 * report (parsed with jansson) carries the expected names, arguments,
 * counters with the right flag semantics, repetitions + aggregates, threads,
 * context, and skip-with-error. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/bench/tb_bench.h"
#include "tb_test.h"

#define N_REPS 3

struct sum_user {
    int64_t calls; /* fn invocations (estimation runs + repetitions) */
};

/* Sums an array of range(0) floats; counters exercise every flag. */
static void bm_sum(struct tb_bench_state *st, void *user)
{
    struct sum_user *u = user;
    u->calls++;
    int64_t n = tb_bench_range(st, 0);
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) {
        tb_bench_skip_with_error(st, "out of memory");
        return;
    }
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)i;
    volatile float sink = 0;
    while (tb_bench_keep_running(st)) {
        float s = 0;
        for (int64_t i = 0; i < n; i++)
            s += x[i];
        sink = s;
    }
    (void)sink;
    free(x);
    int64_t iters = tb_bench_iterations(st);
    tb_bench_set_bytes_processed(st, iters * n * (int64_t)sizeof(float));
    tb_bench_set_counter(st, "elems_per_second", (double)n,
                         TB_BENCH_COUNTER_RATE | TB_BENCH_COUNTER_PER_ITERATION);
    tb_bench_set_counter(st, "n", (double)n, TB_BENCH_COUNTER_DEFAULT);
    tb_bench_set_counter(st, "five", 5.0 * (double)iters, TB_BENCH_COUNTER_AVG_ITERATIONS);
    tb_bench_set_counter(st, "quarter", 4.0, TB_BENCH_COUNTER_INVERT);
    tb_bench_set_label(st, "shim-label");
}

struct count_user {
    int64_t loops; /* keep_running() == true, summed over all runs */
};

/* Fixed iterations: keep_running must return true exactly that often. The
 * paused section (a 2 ms sleep) must not be timed. */
static void bm_fixed(struct tb_bench_state *st, void *user)
{
    struct count_user *u = user;
    while (tb_bench_keep_running(st)) {
        u->loops++;
        tb_bench_pause_timing(st);
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
        tb_bench_resume_timing(st);
    }
}

static void bm_skip(struct tb_bench_state *st, void *user)
{
    (void)user;
    tb_bench_skip_with_error(st, "isa avx9000 not supported by this CPU");
    while (tb_bench_keep_running(st)) {
        /* never entered */
        abort();
    }
}

/* Skipping before the loop without ever calling keep_running is allowed. */
static void bm_skip_early(struct tb_bench_state *st, void *user)
{
    (void)user;
    tb_bench_skip_with_error(st, "early exit");
}

static void bm_threads(struct tb_bench_state *st, void *user)
{
    (void)user;
    volatile int sink = 0;
    while (tb_bench_keep_running(st))
        sink = sink + 1;
    tb_bench_set_counter(st, "threads_seen", (double)tb_bench_threads(st),
                         TB_BENCH_COUNTER_AVG_THREADS);
}

static json_t *find_run(json_t *benchmarks, const char *name, const char *run_type,
                        const char *aggregate, int *count)
{
    json_t *found = NULL;
    size_t i;
    json_t *b;
    *count = 0;
    json_array_foreach(benchmarks, i, b)
    {
        const char *n = json_string_value(json_object_get(b, "run_name"));
        const char *rt = json_string_value(json_object_get(b, "run_type"));
        const char *ag = json_string_value(json_object_get(b, "aggregate_name"));
        if (!n || strcmp(n, name) || !rt || strcmp(rt, run_type))
            continue;
        if (aggregate && (!ag || strcmp(ag, aggregate)))
            continue;
        (*count)++;
        found = b;
    }
    return found;
}

static double num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int close_to(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fabs(b);
}

static void check_registration_errors(void)
{
    struct tb_err err = {0};
    struct tb_bench_def d = {.name = "bad/no_fn"};
    CHECK(tb_bench_register(&d, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "name and a function") != NULL, "%s", err.msg);

    d = (struct tb_bench_def){
        .name = "bad/both", .fn = bm_threads, .min_time = 0.1, .iterations = 5};
    CHECK(tb_bench_register(&d, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "bad/both") != NULL, "%s", err.msg);

    d = (struct tb_bench_def){.name = "bad/args", .fn = bm_threads, .n_args = 1};
    CHECK(tb_bench_register(&d, &err) == TB_EINVAL);
    d = (struct tb_bench_def){
        .name = "bad/args", .fn = bm_threads, .n_args = TB_BENCH_MAX_ARGS + 1, .n_arg_sets = 1};
    CHECK(tb_bench_register(&d, &err) == TB_EINVAL);
    d = (struct tb_bench_def){.name = "bad/range",
                              .fn = bm_threads,
                              .n_args = 1,
                              .use_ranges = true,
                              .ranges = {{64, 8}}};
    CHECK(tb_bench_register(&d, &err) == TB_EINVAL);
}

int main(void)
{
    char out[512];
    tb_test_path(out, sizeof out, "bench-shim", ".json");
    char out_flag[600];
    snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", out);

    struct tb_err err = {0};
    /* unknown arguments are reported, Google Benchmark's are consumed */
    char *bad_argv[] = {"x", "--benchmark_min_time=0.01", "--no_such_flag", NULL};
    int bad_argc = 3;
    CHECK(tb_bench_initialize(&bad_argc, bad_argv, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "--no_such_flag") != NULL, "%s", err.msg);
    CHECK(bad_argc == 2);

    char *argv[] = {"x",
                    "--benchmark_format=json",
                    out_flag,
                    "--benchmark_out_format=json",
                    "--benchmark_repetitions="
                    "3",
                    "--benchmark_min_time=0.01",
                    NULL};
    int argc = 6;
    tb_err_clear(&err);
    CHECKF(tb_bench_initialize(&argc, argv, &err) == 0, "%s", err.msg);
    CHECK(argc == 1);

    check_registration_errors();

    struct sum_user su = {0};
    struct count_user cu = {0};
    struct tb_bench_def defs[] = {
        {.name = "shim/sum",
         .fn = bm_sum,
         .user = &su,
         .n_args = 1,
         .n_arg_sets = 2,
         .args = {{64}, {1024}},
         .arg_names = {"n"}},
        {.name = "shim/fixed", .fn = bm_fixed, .user = &cu, .iterations = 5, .use_real_time = true},
        {.name = "shim/skip", .fn = bm_skip},
        {.name = "shim/skip_early", .fn = bm_skip_early, .repetitions = 1},
        {.name = "shim/threads", .fn = bm_threads, .threads = 2, .repetitions = 1},
        {.name = "shim/ranges",
         .fn = bm_threads,
         .n_args = 2,
         .use_ranges = true,
         .ranges = {{1, 8}, {2, 2}},
         .repetitions = 1},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        CHECKF(tb_bench_register(&defs[i], &err) == 0, "%s", err.msg);
    tb_bench_add_context("tb_shim_test", "yes");

    size_t ran = tb_bench_run_all();
    /* sum x2, fixed, skip, skip_early, threads, ranges x2 (1/2 and 8/2) */
    CHECKF(ran == 8, "ran %zu", ran);
    tb_bench_shutdown();

    CHECK(su.calls >= 2 * N_REPS);
    CHECKF(cu.loops == 5 * N_REPS, "fixed loops %lld", (long long)cu.loops);

    json_error_t jerr;
    json_t *root = json_load_file(out, 0, &jerr);
    CHECKF(root != NULL, "%s: %s (line %d)", out, jerr.text, jerr.line);
    if (!root)
        return tb_test_result("test_bench_shim");
    const char *ctx =
        json_string_value(json_object_get(json_object_get(root, "context"), "tb_shim_test"));
    CHECK(ctx && !strcmp(ctx, "yes"));
    json_t *benchmarks = json_object_get(root, "benchmarks");
    CHECK(json_is_array(benchmarks));

    int count;
    static const char *const sum_names[] = {"shim/sum/n:64", "shim/sum/n:1024"};
    for (int s = 0; s < 2; s++) {
        json_t *r = find_run(benchmarks, sum_names[s], "iteration", NULL, &count);
        CHECKF(count == N_REPS, "%s: %d iteration entries", sum_names[s], count);
        if (!r)
            continue;
        double n = s ? 1024 : 64;
        double iters = num(r, "iterations"), cpu_ns = num(r, "cpu_time");
        const char *unit = json_string_value(json_object_get(r, "time_unit"));
        CHECK(unit && !strcmp(unit, "ns"));
        CHECK(iters >= 1 && cpu_ns > 0);
        CHECK(num(r, "n") == n);
        CHECK(close_to(num(r, "five"), 5.0, 1e-9));
        CHECK(close_to(num(r, "quarter"), 0.25, 1e-9));
        /* rate counters: per-iteration amount / per-iteration CPU time */
        CHECKF(close_to(num(r, "elems_per_second"), n / (cpu_ns * 1e-9), 1e-6), "%g vs %g",
               num(r, "elems_per_second"), n / (cpu_ns * 1e-9));
        CHECK(close_to(num(r, "bytes_per_second"), 4 * n / (cpu_ns * 1e-9), 1e-6));
        const char *label = json_string_value(json_object_get(r, "label"));
        CHECK(label && !strcmp(label, "shim-label"));
        static const char *const aggs[] = {"mean", "median", "stddev"};
        for (int a = 0; a < 3; a++) {
            json_t *ag = find_run(benchmarks, sum_names[s], "aggregate", aggs[a], &count);
            CHECKF(count == 1 && ag, "%s: aggregate %s", sum_names[s], aggs[a]);
            if (ag)
                CHECK(json_integer_value(json_object_get(ag, "repetitions")) == N_REPS);
        }
    }

    json_t *r =
        find_run(benchmarks, "shim/fixed/iterations:5/real_time", "iteration", NULL, &count);
    CHECKF(count == N_REPS, "fixed: %d entries", count);
    if (r) {
        CHECK(num(r, "iterations") == 5);
        /* the 2 ms paused sleep is excluded from the timed loop */
        CHECKF(num(r, "real_time") < 1e6, "real_time %g ns", num(r, "real_time"));
    }

    r = find_run(benchmarks, "shim/skip", "iteration", NULL, &count);
    CHECKF(count == N_REPS, "skip: %d entries", count);
    if (r) {
        CHECK(json_is_true(json_object_get(r, "error_occurred")));
        const char *msg = json_string_value(json_object_get(r, "error_message"));
        CHECK(msg && strstr(msg, "avx9000"));
    }

    r = find_run(benchmarks, "shim/skip_early/repeats:1", "iteration", NULL, &count);
    CHECKF(count == 1, "skip_early: %d entries", count);
    if (r)
        CHECK(json_is_true(json_object_get(r, "error_occurred")));

    r = find_run(benchmarks, "shim/threads/repeats:1/threads:2", "iteration", NULL, &count);
    CHECKF(count == 1, "threads: %d entries", count);
    if (r) {
        CHECK(num(r, "threads") == 2);
        CHECK(num(r, "threads_seen") == 2); /* 2 per thread, summed, / threads */
    }
    find_run(benchmarks, "shim/ranges/1/2/repeats:1", "iteration", NULL, &count);
    CHECKF(count == 1, "ranges 1/2: %d entries", count);
    find_run(benchmarks, "shim/ranges/8/2/repeats:1", "iteration", NULL, &count);
    CHECKF(count == 1, "ranges 8/2: %d entries", count);

    json_decref(root);
    remove(out);
    return tb_test_result("test_bench_shim");
}

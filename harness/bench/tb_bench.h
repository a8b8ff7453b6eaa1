/* C interface to Google Benchmark: benchmarks are plain C functions that
 * drive a loop with tb_bench_keep_running(); registration takes a struct
 * tb_bench_def instead of the C++ builder chain. The implementation
 * (tb_bench.cc, the project's only C++) forwards each call one to one, so
 * Google Benchmark's flags, statistics and reporters (console, JSON, CSV,
 * --benchmark_out) all apply unchanged. Same idea as IREE's
 * iree/testing/benchmark.h.
 *
 * Typical use:
 *   static void bm(struct tb_bench_state *st, void *user) {
 *       while (tb_bench_keep_running(st))
 *           work(user);
 *       tb_bench_set_counter(st, "bytes_per_second", bytes_per_iter,
 *                            TB_BENCH_COUNTER_RATE | TB_BENCH_COUNTER_PER_ITERATION);
 *   }
 *   ... tb_bench_initialize(&argc, argv, &err); tb_bench_register(&def, &err);
 *       tb_bench_run_all(); tb_bench_shutdown();
 */
#ifndef TB_BENCH_H
#define TB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque: the benchmark::State of the running benchmark (one per thread). */
struct tb_bench_state;

typedef void (*tb_bench_fn)(struct tb_bench_state *st, void *user);

/* True while the timed loop should run another iteration. Call it in a loop
 * until it returns false (also after tb_bench_skip_with_error, where it
 * returns false at once). */
bool tb_bench_keep_running(struct tb_bench_state *st);

/* Stop / restart the timer around per-iteration setup (costs ~2 clock reads). */
void tb_bench_pause_timing(struct tb_bench_state *st);
void tb_bench_resume_timing(struct tb_bench_state *st);

/* Marks this run failed with msg (reported as error_occurred/error_message
 * in JSON); keep_running then returns false. Return from fn afterwards. */
void tb_bench_skip_with_error(struct tb_bench_state *st, const char *msg);

/* Totals for the whole run (call after the loop): reported per second. */
void tb_bench_set_bytes_processed(struct tb_bench_state *st, int64_t bytes);
void tb_bench_set_items_processed(struct tb_bench_state *st, int64_t items);

/* Counter flags: Google Benchmark's Counter::Flags under C names. */
enum tb_bench_counter_flags {
    TB_BENCH_COUNTER_DEFAULT = 0,
    TB_BENCH_COUNTER_RATE = 1 << 0,           /* divided by the run's seconds */
    TB_BENCH_COUNTER_AVG_THREADS = 1 << 1,    /* divided by the thread count */
    TB_BENCH_COUNTER_PER_ITERATION = 1 << 2,  /* value is per iteration: times iterations */
    TB_BENCH_COUNTER_AVG_ITERATIONS = 1 << 3, /* divided by the iteration count */
    TB_BENCH_COUNTER_INVERT = 1 << 4,         /* 1/x, applied last (e.g. s/op from op/s) */
    TB_BENCH_COUNTER_BASE_1024 = 1 << 5,      /* console shows Ki/Mi instead of k/M */
};

/* Sets (or replaces) the named user counter; flags: enum tb_bench_counter_flags. */
void tb_bench_set_counter(struct tb_bench_state *st, const char *name, double value,
                          unsigned flags);
void tb_bench_set_label(struct tb_bench_state *st, const char *label);

/* Argument i of the current argument set (see tb_bench_def.args / ranges). */
int64_t tb_bench_range(const struct tb_bench_state *st, int i);
/* Iterations run so far (after the loop: the total). */
int64_t tb_bench_iterations(const struct tb_bench_state *st);
int tb_bench_thread_index(const struct tb_bench_state *st);
int tb_bench_threads(const struct tb_bench_state *st);

#define TB_BENCH_MAX_ARGS 4      /* arguments per set */
#define TB_BENCH_MAX_ARG_SETS 16 /* explicit argument sets per definition */

/* One registration. Zero fields mean Google Benchmark's default (or the
 * command-line flag, e.g. --benchmark_min_time, --benchmark_repetitions). */
struct tb_bench_def {
    const char *name; /* copied; arguments are appended as "/a/b" */
    tb_bench_fn fn;
    void *user; /* passed to fn; not owned, must outlive tb_bench_run_all */
    /* Either explicit argument sets: n_arg_sets sets of n_args values ... */
    int n_args;
    int n_arg_sets;
    int64_t args[TB_BENCH_MAX_ARG_SETS][TB_BENCH_MAX_ARGS];
    /* ... or the cross product of n_args ranges {lo, hi} (powers of 8 between). */
    int64_t ranges[TB_BENCH_MAX_ARGS][2];
    bool use_ranges;
    const char *arg_names[TB_BENCH_MAX_ARGS]; /* optional: "n=16" instead of "16" */
    double min_time;                          /* seconds */
    int64_t iterations;                       /* fixed count (instead of min_time) */
    int repetitions;
    int threads;        /* run fn on this many threads at once */
    bool use_real_time; /* wall time instead of the main thread's CPU time */
};

/* Validates and registers def. TB_EINVAL with a message for a missing name
 * or fn, argument counts over the limits, or lo > hi. */
int tb_bench_register(const struct tb_bench_def *def, struct tb_err *err);

/* Consumes Google Benchmark's own flags (--benchmark_*) from argv (argc is
 * updated). Anything else left after argv[0] is an error (TB_EINVAL naming
 * it): parse and remove the program's own flags first. Note that
 * --help prints Google Benchmark's usage and exits the process. */
int tb_bench_initialize(int *argc, char **argv, struct tb_err *err);

/* Adds a key/value pair to the report's "context" (JSON) / header. */
void tb_bench_add_context(const char *key, const char *value);

/* Runs every registered benchmark selected by --benchmark_filter; returns
 * how many ran. */
size_t tb_bench_run_all(void);

/* Unregisters everything and releases Google Benchmark's state. */
void tb_bench_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif

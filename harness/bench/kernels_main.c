/* tierbench-kernels: per-op benchmarks through the backend API, on Google
 * Benchmark (all --benchmark_* flags apply: filter, repetitions, format,
 * out, min_time, ...). Own flags (getopt_long), taken out before Google
 * Benchmark sees argv:
 *   --tb_threads=N     threads of the "cpu" backend (default: online CPUs)
 *   --tb_roofline=0|1  measure the ceilings (context tb_ceiling/..., roofline/...
 *                      entries) and report pct_* counters against them
 *   --tb_events=LIST   PAPI events per iteration (default: perf software
 *                      events + instructions/cycles; "" = none)
 *   --tb_cold_mib=N    GEMV weights rotate through copies spanning N MiB
 *                      (default 8 x L3: decode streams from DRAM; 0 = warm) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/bench/kernels_bench.h"
#include "harness/bench/tb_bench.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_util.h"

/* tb_parse_int with this binary's message naming the flag. */
static int parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
    if (tb_parse_int(v, lo, hi, out) == 0)
        return 0;
    fprintf(stderr, "tierbench-kernels: %s wants an integer in [%d, %d], got '%s'\n", flag, lo, hi,
            v);
    return -1;
}

static void own_usage(void)
{
    printf("tierbench-kernels flags:\n"
           "  --tb_threads=N     threads of the cpu backend (0: online CPUs)\n"
           "  --tb_roofline=0|1  measure the ceilings (context tb_ceiling/..., roofline/...\n"
           "                     entries) and report pct_* against them (default 1)\n"
           "  --tb_events=LIST   PAPI events per iteration, \"\" for none\n"
           "  --tb_cold_mib=N    GEMV weight copies spanning N MiB, used in turn\n"
           "                     (default 8 x L3, so decode GEMVs stream from DRAM;\n"
           "                     0: one copy, cache-warm)\n"
           "Google Benchmark flags:\n");
}

enum { OPT_THREADS = 256, OPT_EVENTS, OPT_COLD, OPT_ROOFLINE };

/* Splits argv: Google Benchmark's flags (--benchmark_*, --v=N, --help) stay
 * in argv for tb_bench_initialize, ours are parsed with getopt_long.
 * Returns 0, or 2 (usage error, said on stderr). */
static int parse_own(int *argc, char **argv, struct tb_kbench_opts *opts, int *roofline,
                     int *cold_mib)
{
    static const struct option k_long[] = {
        {"tb_threads", required_argument, NULL, OPT_THREADS},
        {"tb_events", required_argument, NULL, OPT_EVENTS},
        {"tb_cold_mib", required_argument, NULL, OPT_COLD},
        {"tb_roofline", required_argument, NULL, OPT_ROOFLINE},
        {NULL, 0, NULL, 0},
    };
    char **own = calloc((size_t)*argc + 1, sizeof *own);
    if (!own) {
        fprintf(stderr, "tierbench-kernels: out of memory\n");
        return 2;
    }
    int kept = 1, n_own = 1;
    own[0] = argv[0];
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const int gb = !strncmp(a, "--benchmark_", 12) || !strncmp(a, "--v=", 4) ||
                       !strcmp(a, "--help") || !strcmp(a, "-h");
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            own_usage();
        if (gb)
            argv[kept++] = argv[i];
        else
            own[n_own++] = argv[i];
    }
    *argc = kept;
    argv[kept] = NULL;
    int rc = 0;
    opterr = 0;
    optind = 0;
    for (int c; !rc && (c = getopt_long(n_own, own, ":", k_long, NULL)) != -1;) {
        switch (c) {
        case OPT_THREADS: rc = parse_int("--tb_threads", optarg, 0, 1024, &opts->n_threads); break;
        case OPT_EVENTS: opts->events = optarg; break;
        case OPT_COLD: rc = parse_int("--tb_cold_mib", optarg, 0, 1 << 20, cold_mib); break;
        case OPT_ROOFLINE: rc = parse_int("--tb_roofline", optarg, 0, 1, roofline); break;
        case ':':
            fprintf(stderr, "tierbench-kernels: %s needs a value (see --help)\n", own[optind - 1]);
            rc = -1;
            break;
        default:
            fprintf(stderr, "tierbench-kernels: unknown argument '%s' (see --help)\n",
                    own[optind - 1]);
            rc = -1;
        }
    }
    if (!rc && optind < n_own) {
        fprintf(stderr, "tierbench-kernels: unexpected argument '%s' (see --help)\n", own[optind]);
        rc = -1;
    }
    free(own);
    return rc ? 2 : 0;
}

int main(int argc, char **argv)
{
    struct tb_kbench_opts opts = {
        .n_threads = 0,
        .roofline = true,
        .events = "perf::TASK-CLOCK,perf::PAGE-FAULTS,perf::CONTEXT-SWITCHES,PAPI_TOT_INS,"
                  "PAPI_TOT_CYC"};
    int roofline = 1, cold_mib = -1;
    if (parse_own(&argc, argv, &opts, &roofline, &cold_mib))
        return 2;
    opts.roofline = roofline != 0;
    opts.cold_bytes = cold_mib >= 0 ? (uint64_t)cold_mib << 20 : tb_kbench_default_cold_bytes();

    struct tb_err err = {0};
    if (tb_bench_initialize(&argc, argv, &err)) {
        fprintf(stderr, "tierbench-kernels: %s\n", err.msg);
        return 2;
    }
    struct tb_kbench *kb = NULL;
    int rc = tb_kbench_create(&opts, &kb, &err);
    if (!rc)
        rc = tb_kbench_register(kb, &err);
    if (rc) {
        fprintf(stderr, "tierbench-kernels: %s\n", err.msg);
        tb_bench_shutdown();
        tb_kbench_free(kb);
        return 2;
    }
    tb_bench_add_context("tb_version", TB_VERSION " (" TB_GIT_COMMIT ")");
    tb_bench_add_context("tb_isa_detected", tb_isa_name(tb_isa_detect()));
    tb_bench_run_all();
    tb_bench_shutdown();
    tb_kbench_free(kb);
    return 0;
}

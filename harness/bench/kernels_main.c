/* tierbench-kernels: per-op benchmarks through the backend API, on Google
 * Benchmark (all --benchmark_* flags apply: filter, repetitions, format,
 * out, min_time, ...). Own flags, removed before Google Benchmark sees argv:
 *   --tb_threads=N     threads of the "cpu" backend (default: online CPUs)
 *   --tb_roofline=0|1  measure roofline ceilings and report pct_* counters
 *   --tb_events=LIST   PAPI events per iteration (default: perf software
 *                      events + instructions/cycles; "" = none)
 *   --tb_cold_mib=N    GEMV weights rotate through copies spanning N MiB
 *                      (default 8 x L3: decode streams from DRAM; 0 = warm) */
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

int main(int argc, char **argv)
{
    struct tb_kbench_opts opts = {
        .n_threads = 0,
        .roofline = true,
        .events = "perf::TASK-CLOCK,perf::PAGE-FAULTS,perf::CONTEXT-SWITCHES,PAPI_TOT_INS,"
                  "PAPI_TOT_CYC"};
    int roofline = 1, kept = 1, cold_mib = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--tb_threads=", 13)) {
            if (parse_int("--tb_threads", a + 13, 0, 1024, &opts.n_threads))
                return 2;
        } else if (!strncmp(a, "--tb_events=", 12)) {
            opts.events = a + 12;
        } else if (!strncmp(a, "--tb_cold_mib=", 14)) {
            if (parse_int("--tb_cold_mib", a + 14, 0, 1 << 20, &cold_mib))
                return 2;
        } else if (!strncmp(a, "--tb_roofline=", 14)) {
            if (parse_int("--tb_roofline", a + 14, 0, 1, &roofline))
                return 2;
        } else {
            if (!strcmp(a, "--help") || !strcmp(a, "-h"))
                printf("tierbench-kernels flags:\n"
                       "  --tb_threads=N     threads of the cpu backend (0: online CPUs)\n"
                       "  --tb_roofline=0|1  roofline ceilings and pct_* counters (default 1)\n"
                       "  --tb_events=LIST   PAPI events per iteration, \"\" for none\n"
                       "  --tb_cold_mib=N    GEMV weight copies spanning N MiB, used in turn\n"
                       "                     (default 8 x L3, so decode GEMVs stream from DRAM;\n"
                       "                     0: one copy, cache-warm)\n"
                       "Google Benchmark flags:\n");
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    argv[argc] = NULL;
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

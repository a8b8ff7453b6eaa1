/* tierbench run: the default suite (every shipped profile x its workloads)
 * or a selection, with overrides recorded as such. Exit: 0 ok, 1 an SLO
 * failed, 2 usage/input error, 3 a configuration ended TIMEOUT, CRASHED or
 * MODEL-CHANGED, 4 a configuration produced no valid measurement; the
 * first that applies of 2, 3, 4, 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "harness/tb_coverage.h"
#include "harness/tb_run.h"
#include "kernels/tb_types.h"
#include "kernels/tb_util.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: tierbench run [options]\n"
        "  with no options: every shipped device profile x its default workloads on\n"
        "  synthetic models generated on first use (cached), then a summary table.\n"
        "  --profile A[,B]        profiles to run (names from `tierbench profiles list`)\n"
        "  --profiles-dir DIR     profile directory (default: the shipped device_profiles/)\n"
        "  --workload W[,W]       llm-prefill, llm-decode, llm-generate\n"
        "  --model SPEC           synth:SHAPE:TYPE or FILE.gguf (overrides the profile)\n"
        "  --backend NAME         backend (overrides the profile's preference list)\n"
        "  --threads N            threads (overrides the profile)\n"
        "  --reps N               minimum measured samples (default 5)\n"
        "  --min-time S           minimum measured seconds (default 1)\n"
        "  --max-time S           per-run cap; a run stopped by it is INVALID (default 300)\n"
        "  --timeout S            watchdog: every configuration (profile x workload x\n"
        "                         prompt) runs in a child process, killed after S seconds\n"
        "                         and recorded TIMEOUT; one killed by a signal is CRASHED,\n"
        "                         one whose model file changed MODEL-CHANGED; the suite\n"
        "                         goes on (default 900; 0 = off, all in one process)\n"
        "  --warmup N             warm-up iterations (default 1)\n"
        "  --events LIST          PAPI events (default: perf software events + common presets)\n"
        "  --energy SOURCE        auto|powercap|papi|nvml|trace:FILE|none (overrides the profile)\n"
        "  --accuracy-positions N teacher-forced positions for accuracy (0 = skip; default 32)\n"
        "  --reference-model FILE accuracy reference for a user model file\n"
        "  --kv f32|f16           KV cache type (default f32); memory needs (profile\n"
        "                         validation and the run's budget check) count it\n"
        "  --seed S               synthetic weights and prompts (default 1)\n"
        "  --cache DIR            synthetic model cache (default $TB_CACHE_DIR or .tb-cache)\n"
        "  --out DIR              results root (default tb-results); a new run-* dir is made\n"
        "  --no-cpu-fallback      fail fast, listing the ops, if any op would fall back to\n"
        "                         a CPU (like ONNX Runtime's disable_cpu_ep_fallback)\n"
        "  --fail-on GATE         silent-fallback | any-fallback: exit 1 when the tier\n"
        "                         coverage has such an op (CI gates)\n"
        "  --json                 also print every record as a JSON line on stdout\n"
        "  --quiet                no progress or summary\n"
        "exit status (the first that applies, in this order):\n"
        "  2  usage, input or I/O error (nothing measured, or the suite stopped)\n"
        "  3  a configuration ended TIMEOUT, CRASHED or MODEL-CHANGED\n"
        "  4  a configuration produced no valid measurement: its record has status\n"
        "     error (e.g. the model did not load), invalid, or does-not-fit for the\n"
        "     profile's own model (unsupported profiles and --model does-not-fit are not)\n"
        "  1  an SLO failed (or the --fail-on gate)\n"
        "  0  ok\n");
}

/* An integer option: all of v, in [lo, hi] ("1.9" and "2x" are errors). */
static int int_opt(const char *opt, const char *v, long lo, long hi, int *out)
{
    if (tb_parse_int(v, lo, hi, out) == 0)
        return 0;
    fprintf(stderr, "tierbench run: %s '%s' must be an integer in [%ld, %ld]\n", opt, v, lo, hi);
    return -1;
}

static int num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    const double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "tierbench run: %s '%s' must be a number in [%g, %g]\n", opt, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int tb_cli_run(int argc, char **argv)
{
    struct tb_run_opts o;
    tb_run_opts_default(&o);
    o.timeout_s = 900; /* generous: a hung accelerator must not stall CI forever */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return TB_EXIT_OK;
        }
        if (!strcmp(a, "--json")) {
            o.json = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o.quiet = 1;
            continue;
        }
        if (!strcmp(a, "--no-cpu-fallback")) {
            o.no_cpu_fallback = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "tierbench run: %s needs a value (see --help)\n", a);
            return TB_EXIT_USAGE;
        }
        int bad = 0;
        if (!strcmp(a, "--profile"))
            o.profiles = v;
        else if (!strcmp(a, "--profiles-dir"))
            o.profiles_dir = v;
        else if (!strcmp(a, "--workload"))
            o.workloads = v;
        else if (!strcmp(a, "--model"))
            o.model = v;
        else if (!strcmp(a, "--backend"))
            o.backend = v;
        else if (!strcmp(a, "--threads"))
            bad = int_opt(a, v, 1, 1024, &o.threads);
        else if (!strcmp(a, "--reps"))
            bad = int_opt(a, v, 1, 1000000, &o.min_samples);
        else if (!strcmp(a, "--min-time"))
            bad = num(a, v, 0, 86400, &o.min_time_s);
        else if (!strcmp(a, "--max-time"))
            bad = num(a, v, 0, 86400 * 7, &o.max_time_s);
        else if (!strcmp(a, "--timeout"))
            bad = num(a, v, 0, 86400 * 7, &o.timeout_s);
        else if (!strcmp(a, "--warmup"))
            bad = int_opt(a, v, 0, 1000000, &o.warmup);
        else if (!strcmp(a, "--events"))
            o.events = v;
        else if (!strcmp(a, "--energy"))
            o.energy = v;
        else if (!strcmp(a, "--accuracy-positions"))
            bad = int_opt(a, v, 0, 1000000, &o.accuracy_positions);
        else if (!strcmp(a, "--reference-model"))
            o.reference_model = v;
        else if (!strcmp(a, "--seed")) {
            bad = tb_parse_u64(v, &o.seed);
            if (bad)
                fprintf(stderr, "tierbench run: --seed '%s' must be an unsigned integer\n", v);
        } else if (!strcmp(a, "--cache"))
            o.cache_dir = v;
        else if (!strcmp(a, "--out"))
            o.out_dir = v;
        else if (!strcmp(a, "--kv")) {
            o.kv_type = tb_type_from_name(v);
            if (o.kv_type != TB_TYPE_F32 && o.kv_type != TB_TYPE_F16) {
                fprintf(stderr, "tierbench run: --kv '%s': f32 or f16\n", v);
                return TB_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--fail-on")) {
            o.fail_on = tb_fail_on_from_name(v);
            if (o.fail_on < 0) {
                fprintf(stderr, "tierbench run: --fail-on '%s': silent-fallback or any-fallback\n",
                        v);
                return TB_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "tierbench run: unknown option '%s' (see --help)\n", a);
            return TB_EXIT_USAGE;
        }
        if (bad)
            return TB_EXIT_USAGE;
        i++;
    }
    int code = 0;
    struct tb_err err = {0};
    if (tb_run(&o, &code, &err)) {
        /* 1 is reserved for "an SLO failed": every error is 2 */
        fprintf(stderr, "tierbench run: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    return code; /* 0, 1, TB_RUN_EXIT_INCOMPLETE or TB_RUN_EXIT_FAILED */
}

/* tierbench run: the default suite (every shipped profile x its workloads)
 * or a selection, with overrides recorded as such. Exit: 0 ok, 1 an SLO
 * failed, 2 usage/input error, 3 a configuration ended TIMEOUT, CRASHED or
 * MODEL-CHANGED, 4 a configuration produced no valid measurement; the
 * first that applies of 2, 3, 4, 1. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "harness/tb_coverage.h"
#include "harness/tb_profile.h"
#include "harness/tb_run.h"
#include "kernels/tb_types.h"
#include "kernels/tb_util.h"

/* What each workload of the registry (tb_workload_kind_name) measures; a
 * new kind without a line here is a -Wswitch error. */
static const char *workload_help(enum tb_workload_kind k)
{
    switch (k) {
    case TB_WL_LLM_PREFILL: return "TTFT (ttft_ms): one prompt in one batch, per prompt length";
    case TB_WL_LLM_DECODE: return "inter-token latency (itl_ms): one decode step at a position";
    case TB_WL_LLM_GENERATE: return "end to end (e2e_ms): prompt + n_predict greedy tokens";
    case TB_WL_EMBED:
        return "sentence embedding (sequence_ms): one bidirectional pass over the\n"
               "                         prompt, mean-pooled; sequences/s and tokens/s";
    case TB_WL_COUNT: break;
    }
    return "";
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tierbench run [options]\n"
            "  with no options: every shipped device profile x its default workloads on\n"
            "  synthetic models generated on first use (cached), then a summary table.\n"
            "  --profile A[,B]        profiles to run (names from `tierbench profiles list`)\n"
            "  --profiles-dir DIR     profile directory (default: the shipped device_profiles/)\n"
            "  --workload W[,W]       only these of each profile's workloads:\n");
    for (int k = 0; k < TB_WL_COUNT; k++)
        fprintf(f, "    %-20s %s\n", tb_workload_kind_name((enum tb_workload_kind)k),
                workload_help((enum tb_workload_kind)k));
    fprintf(
        f,
        "  --model SPEC           synth:SHAPE:TYPE or FILE.gguf (overrides the profile);\n"
        "                         checked before anything runs (exit 2 when unknown or\n"
        "                         unreadable)\n"
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
        "                         (report, compare and store add take the root: its newest run)\n"
        "  --no-cpu-fallback      fail fast, listing the ops, if any op would fall back to\n"
        "                         a CPU (like ONNX Runtime's disable_cpu_ep_fallback)\n"
        "  --fail-on GATE         silent-fallback | any-fallback: exit 1 when the tier\n"
        "                         coverage has such an op (CI gates)\n"
        "  --json                 also print every record as a JSON line on stdout\n"
        "  --quiet                no progress or summary\n"
        "  -h, --help             this help\n"
        "exit status (the first that applies, in this order):\n"
        "  2  usage, input or I/O error: an unknown option or bad value, an unknown or\n"
        "     unreadable --model, an unknown --backend, profile or workload, an invalid\n"
        "     profile file (nothing measured), or an I/O error that stopped the suite\n"
        "  3  a configuration ended TIMEOUT, CRASHED or MODEL-CHANGED\n"
        "  4  a configuration produced no valid measurement: its record has status\n"
        "     error (e.g. a cached model that does not load), invalid, or does-not-fit for\n"
        "     the profile's own model (unsupported profiles and --model does-not-fit are not)\n"
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

enum {
    OPT_PROFILE = 1000,
    OPT_PROFILES_DIR,
    OPT_WORKLOAD,
    OPT_MODEL,
    OPT_BACKEND,
    OPT_THREADS,
    OPT_REPS,
    OPT_MIN_TIME,
    OPT_MAX_TIME,
    OPT_TIMEOUT,
    OPT_WARMUP,
    OPT_EVENTS,
    OPT_ENERGY,
    OPT_ACC_POS,
    OPT_REF_MODEL,
    OPT_SEED,
    OPT_CACHE,
    OPT_OUT,
    OPT_KV,
    OPT_FAIL_ON,
    OPT_JSON,
    OPT_QUIET,
    OPT_NO_FALLBACK,
};

static const struct option k_opts[] = {{"profile", required_argument, NULL, OPT_PROFILE},
                                       {"profiles-dir", required_argument, NULL, OPT_PROFILES_DIR},
                                       {"workload", required_argument, NULL, OPT_WORKLOAD},
                                       {"model", required_argument, NULL, OPT_MODEL},
                                       {"backend", required_argument, NULL, OPT_BACKEND},
                                       {"threads", required_argument, NULL, OPT_THREADS},
                                       {"reps", required_argument, NULL, OPT_REPS},
                                       {"min-time", required_argument, NULL, OPT_MIN_TIME},
                                       {"max-time", required_argument, NULL, OPT_MAX_TIME},
                                       {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                       {"warmup", required_argument, NULL, OPT_WARMUP},
                                       {"events", required_argument, NULL, OPT_EVENTS},
                                       {"energy", required_argument, NULL, OPT_ENERGY},
                                       {"accuracy-positions", required_argument, NULL, OPT_ACC_POS},
                                       {"reference-model", required_argument, NULL, OPT_REF_MODEL},
                                       {"seed", required_argument, NULL, OPT_SEED},
                                       {"cache", required_argument, NULL, OPT_CACHE},
                                       {"out", required_argument, NULL, OPT_OUT},
                                       {"kv", required_argument, NULL, OPT_KV},
                                       {"fail-on", required_argument, NULL, OPT_FAIL_ON},
                                       {"json", no_argument, NULL, OPT_JSON},
                                       {"quiet", no_argument, NULL, OPT_QUIET},
                                       {"no-cpu-fallback", no_argument, NULL, OPT_NO_FALLBACK},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};

/* One option into o: 0, or -1 after printing why its value is bad. */
static int set_opt(struct tb_run_opts *o, int c, const char *v)
{
    const char *name = "";
    for (const struct option *p = k_opts; p->name; p++)
        if (p->val == c)
            name = p->name;
    char opt[32];
    snprintf(opt, sizeof opt, "--%s", name);
    switch (c) {
    case OPT_PROFILE: o->profiles = v; return 0;
    case OPT_PROFILES_DIR: o->profiles_dir = v; return 0;
    case OPT_WORKLOAD: o->workloads = v; return 0;
    case OPT_MODEL: o->model = v; return 0;
    case OPT_BACKEND: o->backend = v; return 0;
    case OPT_THREADS: return int_opt(opt, v, 1, 1024, &o->threads);
    case OPT_REPS: return int_opt(opt, v, 1, 1000000, &o->min_samples);
    case OPT_MIN_TIME: return num(opt, v, 0, 86400, &o->min_time_s);
    case OPT_MAX_TIME: return num(opt, v, 0, 86400 * 7, &o->max_time_s);
    case OPT_TIMEOUT: return num(opt, v, 0, 86400 * 7, &o->timeout_s);
    case OPT_WARMUP: return int_opt(opt, v, 0, 1000000, &o->warmup);
    case OPT_EVENTS: o->events = v; return 0;
    case OPT_ENERGY: o->energy = v; return 0;
    case OPT_ACC_POS: return int_opt(opt, v, 0, 1000000, &o->accuracy_positions);
    case OPT_REF_MODEL: o->reference_model = v; return 0;
    case OPT_CACHE: o->cache_dir = v; return 0;
    case OPT_OUT: o->out_dir = v; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_NO_FALLBACK: o->no_cpu_fallback = 1; return 0;
    case OPT_SEED:
        if (!tb_parse_u64(v, &o->seed))
            return 0;
        fprintf(stderr, "tierbench run: --seed '%s' must be an unsigned integer\n", v);
        return -1;
    case OPT_KV:
        o->kv_type = tb_type_from_name(v);
        if (o->kv_type == TB_TYPE_F32 || o->kv_type == TB_TYPE_F16)
            return 0;
        fprintf(stderr, "tierbench run: --kv '%s': f32 or f16\n", v);
        return -1;
    case OPT_FAIL_ON:
        o->fail_on = tb_fail_on_from_name(v);
        if (o->fail_on >= 0)
            return 0;
        fprintf(stderr, "tierbench run: --fail-on '%s': silent-fallback or any-fallback\n", v);
        return -1;
    }
    return -1;
}

int tb_cli_run(int argc, char **argv)
{
    struct tb_run_opts o;
    tb_run_opts_default(&o);
    o.timeout_s = 900; /* generous: a hung accelerator must not stall CI forever */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", k_opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return TB_EXIT_OK;
        }
        if (c == ':' || c == '?')
            return tb_cli_opt_error("run", c, argv);
        if (set_opt(&o, c, optarg))
            return TB_EXIT_USAGE;
    }
    if (tb_cli_no_args("run", argc, argv))
        return TB_EXIT_USAGE;
    int code = 0;
    struct tb_err err = {0};
    if (tb_run(&o, &code, &err)) {
        /* 1 is reserved for "an SLO failed": every error is 2 */
        fprintf(stderr, "tierbench run: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    return code; /* 0, 1, TB_RUN_EXIT_INCOMPLETE or TB_RUN_EXIT_FAILED */
}

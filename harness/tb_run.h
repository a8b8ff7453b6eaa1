/* `tierbench run`: device profiles x workloads -> measured, crash-safe
 * results with environment, counters, energy, memory, accuracy and SLO
 * verdicts. */
#ifndef TB_RUN_H
#define TB_RUN_H

#include <stdint.h>

#include "kernels/tb_error.h"

struct tb_backend;
struct tb_backend_config;

#ifdef __cplusplus
extern "C" {
#endif

/* Test seam (NULL in production): once a profile's preference list is
 * opened, backend_override is asked about every entry the profile (or
 * --backend) names; setting *out replaces that entry's backend (the run then
 * owns it), leaving it NULL keeps the entry. It runs in the measuring
 * process: the per-configuration child when the watchdog is on. */
struct tb_run_hooks {
    int (*backend_override)(void *user, const char *profile, const char *entry,
                            const struct tb_backend_config *cfg, struct tb_backend **out,
                            struct tb_err *err);
    void *user;
};

/* *exit_code of tb_run when a configuration ended TIMEOUT, CRASHED or
 * MODEL-CHANGED (the results are incomplete); wins over every other code. */
#define TB_RUN_EXIT_INCOMPLETE 3
/* *exit_code of tb_run when a configuration ran to its end but produced no
 * valid measurement: a record with status "error" (the model did not
 * load, ...), "invalid", or "does-not-fit" for the profile's own model
 * (one that --model asked about is an answer, not a failure). Profiles
 * the host cannot run ("unsupported", "host-cannot-emulate") are not
 * failures. Wins over 1 (an SLO failed), loses to TB_RUN_EXIT_INCOMPLETE;
 * an input/IO error (tb_run returns < 0: the CLI's 2) wins over all. */
#define TB_RUN_EXIT_FAILED 4

struct tb_run_opts {
    const char *profiles_dir; /* NULL: $TB_PROFILES_DIR, else the source tree's device_profiles/ */
    const char *profiles;     /* comma list of profile names; NULL = all shipped */
    const char *workloads;    /* comma list (llm-prefill,...); NULL = each profile's own */
    const char *model;        /* override: synth:SHAPE:TYPE or FILE.gguf */
    const char *backend;      /* override of the profile's preference list */
    int threads;              /* override; 0 = profile's */
    int min_samples;          /* measured samples at least (LoadGen min_query_count) */
    double min_time_s;        /* measured time at least */
    double max_time_s;        /* per-run cap (watchdog between samples) */
    int warmup;               /* warm-up iterations */
    const char *events;       /* PAPI events; NULL = default list */
    const char *energy;       /* energy source override; NULL = profile's */
    const char *out_dir;      /* results root; a fresh run-* subdirectory is made inside */
    const char *cache_dir;    /* synthetic models; NULL = $TB_CACHE_DIR or ./.tb-cache */
    const char *reference_model; /* accuracy reference for a user file (else cpu-ref on the file) */
    uint64_t seed;               /* synthetic weights + prompts */
    int accuracy_positions;      /* teacher-forced positions for accuracy; 0 = skip */
    int no_cpu_fallback;         /* fail fast when an op would fall back to the CPU */
    int kv_type;                 /* enum tb_type of the KV cache: TB_TYPE_F32 (default) or
                                    TB_TYPE_F16; profile validation sizes memory for it too */
    int fail_on;                 /* enum tb_fail_on: coverage gate for the exit code */
    int json;                    /* also print each record as a JSON line on stdout */
    int quiet;                   /* no progress lines */
    /* Per-configuration watchdog: > 0 runs every profile x workload x prompt
     * in a forked child (its own process group) and kills it after this many
     * seconds (record status TIMEOUT); a child killed by a signal is CRASHED,
     * a model file that changed under it MODEL-CHANGED; the suite goes on.
     * 0 = off, everything in-process (the library default; the CLI's is 900). */
    double timeout_s;
    const struct tb_run_hooks *hooks; /* test seam, NULL */
};

void tb_run_opts_default(struct tb_run_opts *o);

/* Runs the suite. Returns 0 and sets *exit_code, the first that applies:
 * TB_RUN_EXIT_INCOMPLETE a configuration ended TIMEOUT, CRASHED or
 * MODEL-CHANGED; TB_RUN_EXIT_FAILED a configuration produced no valid
 * measurement; 1 an SLO failed (or the --fail-on gate); 0. Or returns a
 * negative code for usage/input/IO errors (err says what), which the CLI
 * makes exit 2. Every configuration's record is written either way. */
int tb_run(const struct tb_run_opts *o, int *exit_code, struct tb_err *err);

/* Up-front check of a model the user named (opt names it in the message,
 * e.g. "--model"): a synth:SHAPE:TYPE with a known shape and type (only
 * when allow_synth; the message lists the engine's shapes and types), or a
 * regular file that opens and starts with the GGUF magic. TB_EINVAL with a
 * one-line reason. tb_run does this for --model and --reference-model
 * before it measures or writes anything; the rest of a file (tensors,
 * mapping) is the configuration's own record. */
int tb_run_check_model(const char *opt, const char *spec, int allow_synth, struct tb_err *err);
/* Resolves "synth:SHAPE:TYPE" to a cached file (generated on first use) or
 * returns a plain path unchanged. out gets the path. */
int tb_run_resolve_model(const char *spec, const char *cache_dir, uint64_t seed, char *out,
                         size_t n, struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

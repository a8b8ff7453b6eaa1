/* Private to harness/run*.c: the state one `tierbench run` shares across
 * its modules, and what each module offers. Each calls only the modules
 * listed below it, never back up:
 *   run.c           the suite: profiles, one configuration at a time
 *   run_watched.c   a configuration in a child under the watchdog
 *   run_workload.c  one configuration in this process, phase by phase
 *   run_measure.c   session, counters, energy, derived figures, tier probe
 *   run_accuracy.c  teacher-forced accuracy against the cached reference
 *   run_backend.c, run_model.c, run_env.c, run_slo.c, run_summary.c
 *   run_record.c    record fields, progress, coverage rows (summary rows: run_summary.c) */
#ifndef TB_RUN_INTERNAL_H
#define TB_RUN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "harness/tb_coverage.h"
#include "harness/tb_energy.h"
#include "harness/tb_env.h"
#include "harness/tb_profile.h"
#include "harness/tb_results.h"
#include "harness/tb_run.h"
#include "harness/tb_stats.h"
#include "harness/tb_topo.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_sched.h"
#include "kernels/tb_util.h"
#include "workloads/tb_llama.h"
#include "workloads/tb_workload.h"

/* Every path the run builds (tb_path_join: checked, never truncated). */
#define RUN_PATH_MAX 4096
/* The most any path inside --out adds to it:
 * "/run-YYYYMMDD-HHMMSS-999/reference/<16 hex>.f32.tmp-XXXXXX" is 66. */
#define RUN_OUT_SUFFIX_MAX 80
/* ... and inside the model cache: "/tinyllama-1.1b-q4_0-s<20 digits>.gguf"
 * is 47, plus a temp or lock suffix. */
#define RUN_CACHE_SUFFIX_MAX 96

struct tb_counters;

/* A model file's identity as first seen; a later difference means it was
 * rewritten, truncated, replaced or deleted under the run. */
struct model_id {
    char path[RUN_PATH_MAX];
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* The whole suite. */
struct run_ctx {
    const struct tb_run_opts *o;
    struct tb_results *res;
    struct tb_topo *topo;
    struct tb_topo_summary topo_sum;
    int n_done, n_total;
    int tty;
    json_t *summary;         /* rows for the final table */
    json_t *env;             /* environment, attached to every record */
    struct tb_coverage *cov; /* coverage matrix rows (owned) */
    int n_cov, cap_cov;
    size_t n_child_records;  /* appended by watchdog children (res does not count them) */
    int n_incomplete;        /* configurations that ended TIMEOUT/CRASHED/MODEL-CHANGED */
    int n_failed;            /* ran, but no valid measurement (TB_RUN_EXIT_FAILED) */
    struct model_id *models; /* every model file as first seen (identity checks) */
    int n_models, cap_models;
};

/* One profile: its settings applied, its backends (when open). */
struct profile_run {
    const struct tb_profile *p;
    struct tb_backend_config cfg;
    struct tb_bind_plan plan;
    struct tb_sched_backends bs; /* preference list + cpu; owns the backends */
    int n_listed;                /* entries the profile (or --backend) named */
    struct tb_tier_probe *tp;    /* scheduler + evidence (borrows bs) */
    struct tb_sched_run sr;      /* measured evals: the scheduler, no evidence */
    json_t *entries;             /* every entry as opened, or why not */
    char prefs[160];             /* the list as given, "npu>opencl:gpu>cpu" */
    json_t *binding;             /* applied binding + observation */
    char profile_hash[TB_HASH_STR_MAX];
    const char (*names)[32]; /* the profile's list, or one[] for --backend */
    char one[1][32];
    int unsupported; /* no named backend here and the CPU not allowed */
};

/* One configuration (profile x workload x prompt) while it is measured:
 * what run_workload.c's phases and run_measure.c share. */
struct wl_run {
    struct run_ctx *run;
    struct profile_run *pr;
    const struct tb_profile_workload *wl;
    int prompt_len;
    const char *wl_name, *model_spec;
    char cov_label[48]; /* coverage matrix rows name the prompt length */
    json_t *rec;
    /* the model as loaded and the positions it runs at */
    char path[RUN_PATH_MAX];
    struct model_id model0; /* identity at load time */
    struct tb_llama_model *m;
    struct tb_llama_state *s;
    int32_t n_prompt, n_predict, n_ctx;
    int does_not_fit; /* over the profile's memory budget: not run */
    int nonfinite;    /* an eval gave a NaN/Inf output: no figure stands */
    /* the measured session */
    struct tb_llm_session ss;
    int32_t first_token;
    float *embedding;    /* embed: [dim] output of the last sample */
    double *ttft, *tpot; /* llm-generate side figures, one per call */
    size_t n_side, cap_side;
    int32_t *prompt;
    uint64_t *op_ns, *op_sum;
    struct tb_sample_set set;
    struct tb_counters *ctr;
    struct tb_energy_meter *meter;
    int energy_on, energy_read; /* a source here; its window read */
    struct tb_energy_result energy;
    char energy_err[TB_ERR_MSG_MAX];
    /* figures for the summary row */
    struct tb_stats st;
    const char *metric;
    double tps;
    char energy_txt[64], acc_txt[64], tier_txt[32];
};

/* ---- run_record.c */
void run_warn(json_t *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void run_config_key(const struct profile_run *pr, const char *model_spec, int prompt_len,
                    enum tb_isa isa, char *buf, size_t n);
void run_print_record(struct run_ctx *run, json_t *rec);
void run_progress(struct run_ctx *run, const char *profile, const char *wl);
void run_keep_coverage(struct run_ctx *run, struct tb_coverage *c);

/* ---- run_model.c */
/* 1 and shape/type for "synth:SHAPE:TYPE", 0 for a path, -1 malformed. */
int run_parse_synth(const char *spec, char *shape, size_t n, int *type);
/* The file a spec names; a synthetic model is generated on first use only
 * when `generate` (else TB_EIO when it is not cached yet). */
int run_find_model(const char *spec, const char *cache_dir, uint64_t seed, bool generate, char *out,
                   size_t n, struct tb_err *err);
void run_model_id_read(const char *path, struct model_id *m);
/* Describes in why how now differs from was; 0 when they are the same. */
int run_model_id_diff(const struct model_id *was, const struct model_id *now, char *why, size_t n);
/* Against the identity first seen by this run: 1 with why when it changed
 * (then adopts the new one, so a change is reported once). */
int run_model_changed(struct run_ctx *run, const char *path, char *why, size_t n);

/* ---- run_backend.c */
int run_apply_binding(struct run_ctx *run, struct profile_run *pr, struct tb_err *err);
/* TB_EUNSUPPORTED with pr->unsupported: no named backend here and the
 * profile does not allow the CPU. */
int run_open_backends(struct run_ctx *run, struct profile_run *pr, struct tb_err *err);
void run_close_backends(struct profile_run *pr);
/* One "unsupported" record per configuration of the profile (err->msg says
 * why) and an UNSUPPORTED qualification. */
int run_record_unsupported(struct run_ctx *run, struct profile_run *pr, struct tb_err *err);

/* ---- run_measure.c */
/* The state, prompt and session (llm-decode: its context prefilled). */
int run_measure_prepare(struct wl_run *c, struct tb_err *err);
int run_measure_open(struct wl_run *c, struct tb_err *err); /* counters + energy */
/* The measured loop with counters, energy and stability around it; the
 * loop's code, also when some samples were taken (c->set.n). */
int run_measure_loop(struct wl_run *c, struct tb_err *err);
/* The primary metric, derived rates, op time share, energy, peak RSS. */
int run_measure_derive(struct wl_run *c, struct tb_err *err);
/* Where every op really ran: "coverage" of c->rec, c->tier_txt. */
void run_tier_probe(struct wl_run *c);
void run_measure_free(struct wl_run *c);

/* ---- run_accuracy.c: "accuracy" of c->rec and c->acc_txt */
void run_accuracy(struct wl_run *c);

/* ---- run_workload.c: one configuration in this process; its record
 * appended (and into records). */
int run_workload(struct run_ctx *run, struct profile_run *pr, const struct tb_profile_workload *wl,
                 int prompt_len, json_t *records, struct tb_err *err);

/* ---- run_watched.c */
/* A configuration with no result of its own (TIMEOUT, CRASHED,
 * MODEL-CHANGED): its record (evidence stolen) and summary row. */
int run_append_outcome(struct run_ctx *run, const struct profile_run *pr,
                       const struct tb_profile_workload *wl, int prompt_len, const char *status,
                       const char *msg, const char *evidence_key, json_t *evidence,
                       struct tb_err *err);
int run_watched(struct run_ctx *run, struct profile_run *pr, const struct tb_profile_workload *wl,
                int prompt_len, json_t *records, const char *model_path, int *profile_done,
                struct tb_err *err);

/* ---- run_slo.c: the profile's qualification record */
int run_judge_slos(struct run_ctx *run, const struct tb_profile *p, json_t *records, int *any_fail,
                   struct tb_err *err);

/* ---- run_env.c */
json_t *run_build_env(struct run_ctx *run, struct tb_err *err);
/* The same in a short-lived child under the watchdog. */
json_t *run_build_env_isolated(struct run_ctx *run, struct tb_err *err);

/* ---- run_summary.c */
/* A row of the final table; rec (may be NULL) gives its prompt length,
 * context depth and, for a configuration not measured, the reason. */
void run_summary_row(struct run_ctx *run, const json_t *rec, const char *profile, const char *wl,
                     const char *metric, double median, double p99, double tps, const char *energy,
                     const char *accuracy, const char *tier, const char *status);
void run_print_summary(const json_t *rows, FILE *f);
int run_write_coverage(struct run_ctx *run, struct tb_err *err);

#endif

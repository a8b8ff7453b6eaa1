/* Tier coverage: for one profile x workload, how much of the graph really
 * ran on the profile's target tier (the device kind of its first backend
 * preference), by op count, by FLOPs and by measured time, which ops did
 * not (class, reason, evidence), and a verdict:
 *   silent-fallback  some op claimed an accelerator but the host did it
 *   does-not-fit     the model could not be placed/run for memory, or ops
 *                    fell off the target for memory
 *   unsupported      an op of the profile's accel_op_classes is not on an
 *                    accelerator (declared), or no plan was possible
 *   degraded         declared fallbacks (or unverified ops) otherwise
 *   on-target        every op on the target tier, verified
 * (checked in that order). JSON for the results record; Markdown and CSV
 * for the coverage matrix across profiles. */
#ifndef TB_COVERAGE_H
#define TB_COVERAGE_H

#include <stdio.h>

#include <jansson.h>

#include "harness/tb_evidence.h"
#include "kernels/tb_graph.h"
#include "kernels/tb_sched.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tb_coverage_verdict {
    TB_COV_ON_TARGET = 0,
    TB_COV_DEGRADED,
    TB_COV_UNSUPPORTED,
    TB_COV_DOES_NOT_FIT,
    TB_COV_SILENT_FALLBACK,
};
const char *tb_coverage_verdict_name(enum tb_coverage_verdict v);

/* One op not classed on-target (declared/silent/unverified). Shares count
 * ops by tier: a declared fallback onto another backend of the target's
 * device kind is on the target tier (on_target_tier = 1) but still listed
 * and still makes the verdict "degraded". */
struct tb_coverage_op {
    char name[48], kind[16];
    enum tb_op_class cls;
    char backend[32], device[96];
    char claimed_kind[8], device_kind[8];
    char reason[TB_SCHED_REASON_MAX];   /* declared reason ("" when none) */
    char evidence[TB_EVIDENCE_WHY_MAX]; /* why the detector classed it so */
    int accel_required;
    int on_target_tier;
    double ms_per_run; /* mean measured wall time */
    double launches_per_run, device_ms_per_run, host_cpu_ms_per_run;
    double thread_cpu_ms_per_run; /* the calling thread's: the detector's host time */
    int n_runs, n_device, n_host, n_inconclusive; /* runs behind the class, by sign */
    int n_mismatch;                               /* output checks against cpu-ref that failed */
};

struct tb_coverage {
    char profile[64], workload[32], model[256];
    char target_kind[8];
    int n_ops, n_on_target; /* ops on the target tier (see tb_coverage_op) */
    double flops, flops_on_target;
    double ns, ns_on_target; /* summed over runs */
    int n_runs;
    int n_declared, n_silent, n_unverified, n_mismatch;
    int n_segments, n_copies;
    enum tb_coverage_verdict verdict;
    char why[256];
    struct tb_coverage_op *off; /* [n_off], owned */
    int n_off;
};

/* From a plan and its accumulated evidence (same graph). */
int tb_coverage_build(const char *profile, const char *workload, const char *model,
                      const struct tb_graph *g, const struct tb_sched_plan *plan,
                      const struct tb_evidence *ev, struct tb_coverage *out, struct tb_err *err);
/* A row for a run that could not happen (verdict does-not-fit or
 * unsupported), with the reason. */
void tb_coverage_failed(const char *profile, const char *workload, const char *model,
                        enum tb_coverage_verdict v, const char *why, struct tb_coverage *out);
void tb_coverage_free(struct tb_coverage *c);

/* {"verdict", "target_kind", "ops": {"total", "on_target", "share"}, "flops":
 * {...}, "time": {...}, "declared", "silent", "unverified", "copies",
 * "off_target": [{op...}]}. New reference; NULL on allocation failure. */
json_t *tb_coverage_to_json(const struct tb_coverage *c);

enum tb_fail_on { TB_FAIL_ON_NONE = 0, TB_FAIL_ON_SILENT, TB_FAIL_ON_ANY };
/* "silent-fallback" | "any-fallback" | "none"; -1 if unknown */
int tb_fail_on_from_name(const char *s);
/* The row fails the gate. */
int tb_coverage_fails(const struct tb_coverage *c, enum tb_fail_on f);

/* Coverage matrix, one row per profile x workload. */
int tb_coverage_write_markdown(FILE *f, const struct tb_coverage *rows, int n);
int tb_coverage_write_csv(FILE *f, const struct tb_coverage *rows, int n);

/* ---- Tier probe: scheduler + evidence + accumulation behind one handle,
 * for `tierbench coverage` and `tierbench run`. Usage:
 *   tb_tier_probe_create(entries, n, &sched_opts, NULL, 7, &tp, err);
 *   tb_llama_eval_with(m, s, tb_tier_probe_runner, tp, tokens, n, pos0,
 *                      mode, op_ns, err);            (repeat)
 *   tb_tier_probe_coverage(tp, profile, workload, model, &cov, err);
 * Evidence restarts whenever the graph's structure changes (e.g. prefill
 * after decode): the coverage describes the latest graph shape. */
struct tb_tier_probe;
/* entries as for tb_sched_create (borrowed). check_period: compare op
 * outputs with cpu-ref on a rotating 1-in-N sample; 0 = no output check. */
int tb_tier_probe_create(const struct tb_sched_entry *entries, int n_entries,
                         const struct tb_sched_opts *opts, const struct tb_evidence_thresholds *th,
                         int check_period, struct tb_tier_probe **out, struct tb_err *err);
void tb_tier_probe_free(struct tb_tier_probe *tp);
/* tb_llama_graph_runner: runs g through the scheduler with evidence and
 * accumulates it (ctx = the probe). */
int tb_tier_probe_runner(void *ctx, const struct tb_graph *g, uint64_t *op_ns, struct tb_err *err);
/* The placement of the last graph run (NULL before the first run). */
const struct tb_sched_plan *tb_tier_probe_plan(const struct tb_tier_probe *tp);
struct tb_sched *tb_tier_probe_sched(struct tb_tier_probe *tp);
const struct tb_evidence *tb_tier_probe_evidence(const struct tb_tier_probe *tp);
/* Coverage of the runs since the graph last changed. */
int tb_tier_probe_coverage(const struct tb_tier_probe *tp, const char *profile,
                           const char *workload, const char *model, struct tb_coverage *out,
                           struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

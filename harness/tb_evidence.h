/* Silent-fallback detector: classifies every op execution from evidence
 * gathered independently of the scheduler's claim (kernels/tb_sched.h,
 * struct tb_op_run_evidence).
 *
 * Classes:
 *   on-target          on the first-choice backend, evidence consistent
 *   declared-fallback  the scheduler placed it elsewhere and said why
 *   silent-fallback    the placement claims an accelerator (claimed kind
 *                      not cpu) but the evidence says the host did the work
 *   unverified         claims an accelerator, the backend keeps no launch
 *                      evidence and the host-time rule cannot decide
 *
 * Rules for an accelerator claim, in order (thresholds below):
 *   1. device identity: the backend's device reports kind cpu (an OpenCL
 *      device of type CPU such as PoCL) -> silent-fallback;
 *   2. launches: the backend keeps launch evidence and counted 0 -> silent;
 *   3. host time: wall >= min_wall_ns, device time < min_device_share of
 *      wall, and host CPU time (all threads) >= host_busy_ratio x (wall -
 *      launches x launch_overhead_ns - run-queue wait) -> silent; the
 *      calling thread's run-queue wait (preempted by other load on a
 *      shared machine) is taken out, so contention does not hide a host
 *      computation;
 *   4. no launch evidence at all -> unverified ("backend keeps none").
 * Device time covering most of the wall time overrides rule 3: a host
 * thread spin-waiting on the device (CUDA's default sync) or the CPU
 * backend's pool threads still spinning after an earlier CPU segment
 * (up to 2 ms, kernels/cpu/pool.c) burn host CPU without doing the op's
 * work, so host time alone is only trusted when device time is small.
 * Limitation: a backend that fakes both launches and device time while
 * computing on the host defeats rules 2-3; rule 1 and output agreement
 * remain. Output agreement with a reference backend (sampled) is reported
 * per op (mismatch count), separate from the class. */
#ifndef TB_EVIDENCE_H
#define TB_EVIDENCE_H

#include <stdint.h>

#include "kernels/tb_sched.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tb_op_class {
    TB_CLASS_ON_TARGET = 0,
    TB_CLASS_DECLARED_FALLBACK,
    TB_CLASS_UNVERIFIED,
    TB_CLASS_SILENT_FALLBACK, /* ordered: later = worse */
    TB_CLASS_COUNT
};
const char *tb_op_class_name(enum tb_op_class c); /* "on-target", ... */

struct tb_evidence_thresholds {
    uint64_t launch_overhead_ns; /* host time allowed per launch (default 30 us) */
    double host_busy_ratio;      /* default 0.75 */
    double min_device_share;     /* default 0.5 */
    uint64_t min_wall_ns;        /* host-time rule off below this (default 100 us) */
    double out_abs_tol;          /* output agreement: |d| <= abs + rel * max|ref| */
    double out_rel_tol;          /* defaults 1e-4 and 2e-2 (q8_0 activations) */
};
void tb_evidence_thresholds_default(struct tb_evidence_thresholds *t);

#define TB_EVIDENCE_WHY_MAX 160

/* One execution. why: evidence behind the class (never empty except
 * on-target). */
enum tb_op_class tb_evidence_classify(const struct tb_placement *p,
                                      const struct tb_op_run_evidence *x,
                                      const struct tb_evidence_thresholds *t, char *why, size_t n);

/* Per-op summary over repeated runs. */
struct tb_op_evidence_summary {
    int n_runs;
    int n_class[TB_CLASS_COUNT];
    enum tb_op_class cls;          /* worst class seen */
    char why[TB_EVIDENCE_WHY_MAX]; /* of the first run with that class */
    uint64_t wall_ns, host_cpu_ns, thread_cpu_ns, runq_wait_ns, launches, device_ns; /* sums */
    int n_checked, n_mismatch;
    double max_rel_err; /* max |d| / max(|ref|, abs_tol) over checks */
};

struct tb_evidence {
    struct tb_evidence_thresholds th;
    struct tb_op_evidence_summary *ops; /* [n_ops], owned */
    int n_ops;
    int n_runs;
};

int tb_evidence_init(struct tb_evidence *ev, int n_ops, const struct tb_evidence_thresholds *th,
                     struct tb_err *err);
void tb_evidence_free(struct tb_evidence *ev);
/* Classifies one run (runs[i] for op i of plan) and accumulates it. */
int tb_evidence_add_run(struct tb_evidence *ev, const struct tb_sched_plan *plan,
                        const struct tb_op_run_evidence *runs, struct tb_err *err);
/* Executions flagged with class c over all ops and runs. */
int tb_evidence_count(const struct tb_evidence *ev, enum tb_op_class c);

#ifdef __cplusplus
}
#endif
#endif

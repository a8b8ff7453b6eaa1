/* Silent-fallback detector: judges every op execution from evidence
 * gathered independently of the scheduler's claim (kernels/tb_sched.h,
 * struct tb_op_run_evidence), then combines all runs of an op into ONE
 * verdict with its counts. docs/coverage.md has every rule and why.
 *
 * Per run of an op claiming an accelerator (claimed kind not cpu), in order:
 *   1. device identity: the device reports kind cpu (an OpenCL device of
 *      type CPU such as PoCL) -> host (hard evidence);
 *   2. launches: the backend keeps launch evidence and counted 0 -> host
 *      (hard evidence);
 *   3. no thread CPU clock on this platform -> inconclusive;
 *   4. host time: the calling thread's own CPU time, less an allowance of
 *      launch_overhead_ns per launch and copy_ns_per_mib per MiB moved, is
 *      >= min_host_ns, and device time is < min_device_share x that CPU
 *      time -> host, unless that CPU time less the hypervisor steal
 *      measured around the op (tb_op_run_evidence.steal_ns) falls under
 *      min_host_ns: then inconclusive (a kernel without steal accounting
 *      charges stolen time to the running thread, so only the CPU time
 *      that steal cannot explain is host work). Thread CPU time does not
 *      grow while the thread waits on a run queue, so other load cannot
 *      hide or fake host work, and steal cannot hide it either;
 *   5. no launch evidence kept -> inconclusive;
 *   6. otherwise -> consistent with device execution.
 * Verdict per op (classes below), over its runs:
 *   silent-fallback  any run with hard evidence (rules 1-2: facts, not
 *                    timings), or more host runs than device-consistent
 *                    ones (rule 4 is a measurement: one disturbed run must
 *                    not decide, a liar shows host work on every run);
 *   unverified       as many device-consistent runs as host runs (e.g. all
 *                    inconclusive);
 *   declared-fallback / on-target  by placement, when device-consistent
 *                    runs are the majority (or the claim is the cpu).
 * Limitation: a backend that fakes launches and device time while
 * computing on the host, or hands the work to other host threads, defeats
 * rules 2-4; rule 1 and output agreement remain. Output agreement with a
 * reference backend (sampled) is reported per op (mismatch count),
 * separate from the verdict. */
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

/* What one run's evidence shows (rules 1-6 above). */
enum tb_run_sign {
    TB_RUN_DEVICE = 0,   /* consistent with device execution */
    TB_RUN_HOST,         /* shows host execution */
    TB_RUN_INCONCLUSIVE, /* cannot tell */
    TB_RUN_HOST_CLAIM,   /* the placement claims the cpu: nothing to prove */
};

struct tb_evidence_thresholds {
    uint64_t launch_overhead_ns; /* host CPU allowed per launch (default 30 us) */
    uint64_t copy_ns_per_mib;    /* host CPU allowed per MiB moved (default 500 us) */
    uint64_t min_host_ns;        /* host CPU beyond allowances that is host work (100 us) */
    double min_device_share;     /* device time >= this x host CPU explains it (0.5) */
    double out_abs_tol;          /* output agreement: |d| <= abs + rel * max|ref| */
    double out_rel_tol;          /* defaults 1e-4 and 2e-2 (q8_0 activations) */
};
void tb_evidence_thresholds_default(struct tb_evidence_thresholds *t);

#define TB_EVIDENCE_WHY_MAX 288

/* Judges one run; *hard = 1 when a host sign rests on rule 1 or 2. why:
 * the evidence with the run's clocks ("" for cpu claims). */
enum tb_run_sign tb_evidence_judge_run(const struct tb_placement *p,
                                       const struct tb_op_run_evidence *x,
                                       const struct tb_evidence_thresholds *t, int *hard, char *why,
                                       size_t n);

/* The verdict one run alone would give. why: never empty except on-target. */
enum tb_op_class tb_evidence_classify(const struct tb_placement *p,
                                      const struct tb_op_run_evidence *x,
                                      const struct tb_evidence_thresholds *t, char *why, size_t n);

/* Per-op verdict over repeated runs, with the counts behind it. */
struct tb_op_evidence_summary {
    int n_runs;
    int n_device, n_host, n_inconclusive; /* runs by sign (accelerator claims only) */
    int n_host_hard;                      /* of n_host: rules 1-2 */
    enum tb_op_class cls;                 /* the verdict over all runs */
    char why[TB_EVIDENCE_WHY_MAX];        /* why the verdict, with the counts */
    char host_why[TB_EVIDENCE_WHY_MAX];   /* first host run's evidence */
    char other_why[TB_EVIDENCE_WHY_MAX];  /* first inconclusive run's evidence */
    char device_why[TB_EVIDENCE_WHY_MAX]; /* first device-consistent run's evidence */
    /* each *_why starts "run R: " (1-based run of this op) */
    uint64_t wall_ns, host_cpu_ns, thread_cpu_ns, runq_wait_ns, steal_ns, launches,
        device_ns; /* sums */
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
/* Judges one run (runs[i] for op i of plan), accumulates it and updates
 * each op's verdict. */
int tb_evidence_add_run(struct tb_evidence *ev, const struct tb_sched_plan *plan,
                        const struct tb_op_run_evidence *runs, struct tb_err *err);
/* Ops whose verdict is c. */
int tb_evidence_count(const struct tb_evidence *ev, enum tb_op_class c);

#ifdef __cplusplus
}
#endif
#endif

/* Silent-fallback detector (harness/tb_evidence.h). */
#include "harness/tb_evidence.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tb_op_class_name(enum tb_op_class c)
{
    switch (c) {
    case TB_CLASS_ON_TARGET: return "on-target";
    case TB_CLASS_DECLARED_FALLBACK: return "declared-fallback";
    case TB_CLASS_UNVERIFIED: return "unverified";
    case TB_CLASS_SILENT_FALLBACK: return "silent-fallback";
    case TB_CLASS_COUNT: break;
    }
    return "unknown";
}

void tb_evidence_thresholds_default(struct tb_evidence_thresholds *t)
{
    t->launch_overhead_ns = 30000;
    t->host_busy_ratio = 0.75;
    t->min_device_share = 0.5;
    t->min_wall_ns = 100000;
    t->out_abs_tol = 1e-4;
    t->out_rel_tol = 2e-2;
}

enum tb_op_class tb_evidence_classify(const struct tb_placement *p,
                                      const struct tb_op_run_evidence *x,
                                      const struct tb_evidence_thresholds *t, char *why, size_t n)
{
    why[0] = '\0';
    if (p->claimed_kind != TB_DEVICE_CPU) {
        const char *claim = tb_device_kind_name(p->claimed_kind);
        if (x->device_kind == TB_DEVICE_CPU) {
            snprintf(why, n, "claimed %s, but device '%s' reports kind cpu", claim, p->device);
            return TB_CLASS_SILENT_FALLBACK;
        }
        if (x->has_device_evidence && x->launches == 0) {
            snprintf(why, n, "claimed %s, but 0 device launches", claim);
            return TB_CLASS_SILENT_FALLBACK;
        }
        /* time preempted by other load is neither host nor device work */
        const uint64_t overhead = x->launches * t->launch_overhead_ns + x->runq_wait_ns;
        const double budget = x->wall_ns > overhead ? (double)(x->wall_ns - overhead) : 0.0;
        if (x->wall_ns >= t->min_wall_ns &&
            (double)x->device_ns < t->min_device_share * (double)x->wall_ns &&
            (double)x->host_cpu_ns >= t->host_busy_ratio * budget) {
            snprintf(why, n,
                     "claimed %s, but host CPU %.0f%% of wall (%llu launches), device "
                     "time %.0f%%",
                     claim, 100.0 * (double)x->host_cpu_ns / (double)x->wall_ns,
                     (unsigned long long)x->launches,
                     100.0 * (double)x->device_ns / (double)x->wall_ns);
            return TB_CLASS_SILENT_FALLBACK;
        }
        if (!x->has_device_evidence) {
            snprintf(why, n,
                     "claimed %s; backend keeps no launch evidence and host CPU time "
                     "(%.0f%% of wall) does not decide",
                     claim, x->wall_ns ? 100.0 * (double)x->host_cpu_ns / (double)x->wall_ns : 0.0);
            return TB_CLASS_UNVERIFIED;
        }
    }
    if (p->entry != 0) {
        if (snprintf(why, n, "%s", p->reason_text) >= (int)n) /* long reasons are cut */
            why[n - 1] = '\0';
        return TB_CLASS_DECLARED_FALLBACK;
    }
    return TB_CLASS_ON_TARGET;
}

int tb_evidence_init(struct tb_evidence *ev, int n_ops, const struct tb_evidence_thresholds *th,
                     struct tb_err *err)
{
    memset(ev, 0, sizeof *ev);
    if (th)
        ev->th = *th;
    else
        tb_evidence_thresholds_default(&ev->th);
    ev->ops = calloc(n_ops > 0 ? (size_t)n_ops : 1, sizeof *ev->ops);
    if (!ev->ops)
        return tb_err_set(err, TB_ENOMEM, "evidence: out of memory for %d ops", n_ops);
    ev->n_ops = n_ops;
    return TB_OK;
}

void tb_evidence_free(struct tb_evidence *ev)
{
    free(ev->ops);
    memset(ev, 0, sizeof *ev);
}

int tb_evidence_add_run(struct tb_evidence *ev, const struct tb_sched_plan *plan,
                        const struct tb_op_run_evidence *runs, struct tb_err *err)
{
    if (plan->n_ops != ev->n_ops)
        return tb_err_set(err, TB_EINVAL, "evidence: plan has %d ops, evidence was set up for %d",
                          plan->n_ops, ev->n_ops);
    for (int i = 0; i < ev->n_ops; i++) {
        struct tb_op_evidence_summary *s = &ev->ops[i];
        const struct tb_op_run_evidence *x = &runs[i];
        char why[TB_EVIDENCE_WHY_MAX];
        const enum tb_op_class c = tb_evidence_classify(&plan->ops[i], x, &ev->th, why, sizeof why);
        if (s->n_runs == 0 || c > s->cls) {
            s->cls = c;
            memcpy(s->why, why, sizeof why);
        }
        s->n_runs++;
        s->n_class[c]++;
        s->wall_ns += x->wall_ns;
        s->host_cpu_ns += x->host_cpu_ns;
        s->thread_cpu_ns += x->thread_cpu_ns;
        s->runq_wait_ns += x->runq_wait_ns;
        s->launches += x->launches;
        s->device_ns += x->device_ns;
        if (x->out_checked) {
            s->n_checked++;
            const double scale = fmax(x->out_max_ref, ev->th.out_abs_tol);
            const double rel = x->out_max_err / scale;
            s->max_rel_err = fmax(s->max_rel_err, rel);
            if (!(x->out_max_err <= ev->th.out_abs_tol + ev->th.out_rel_tol * x->out_max_ref))
                s->n_mismatch++;
        }
    }
    ev->n_runs++;
    return TB_OK;
}

int tb_evidence_count(const struct tb_evidence *ev, enum tb_op_class c)
{
    int n = 0;
    for (int i = 0; i < ev->n_ops; i++)
        n += ev->ops[i].n_class[c];
    return n;
}

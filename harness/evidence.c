/* Silent-fallback detector (harness/tb_evidence.h). */
#include "harness/tb_evidence.h"
#include "kernels/tb_util.h"

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
    t->copy_ns_per_mib = 500000;
    t->min_host_ns = 100000;
    t->min_device_share = 0.5;
    t->out_abs_tol = 1e-4;
    t->out_rel_tol = 2e-2;
}

/* Host CPU a device run may spend: launch setup, and copies (a pageable
 * transfer is a host memcpy at >= 2 GB/s with the default). */
static uint64_t host_allowance(const struct tb_op_run_evidence *x,
                               const struct tb_evidence_thresholds *t)
{
    const double mib = (double)(x->h2d_bytes + x->d2h_bytes) / (1024.0 * 1024.0);
    return x->launches * t->launch_overhead_ns + (uint64_t)(mib * (double)t->copy_ns_per_mib);
}

enum tb_run_sign tb_evidence_judge_run(const struct tb_placement *p,
                                       const struct tb_op_run_evidence *x,
                                       const struct tb_evidence_thresholds *t, int *hard, char *why,
                                       size_t n)
{
    why[0] = '\0';
    *hard = 0;
    if (p->claimed_kind == TB_DEVICE_CPU)
        return TB_RUN_HOST_CLAIM;
    const char *claim = tb_device_kind_name(p->claimed_kind);
    if (x->device_kind == TB_DEVICE_CPU) {
        *hard = 1;
        snprintf(why, n, "claimed %s, but the device reports kind cpu ('%s')", claim, p->device);
        return TB_RUN_HOST;
    }
    if (x->has_device_evidence && x->launches == 0) {
        *hard = 1;
        snprintf(why, n, "claimed %s, but 0 device launches", claim);
        return TB_RUN_HOST;
    }
    if (!x->thread_clock) {
        snprintf(why, n, "claimed %s; no thread CPU clock to measure host time", claim);
        return TB_RUN_INCONCLUSIVE;
    }
    const uint64_t allow = host_allowance(x, t);
    const uint64_t extra = x->thread_cpu_ns > allow ? x->thread_cpu_ns - allow : 0;
    /* steal the kernel may have charged to the thread: what is left after
     * taking it off is host work on any kernel */
    const uint64_t sure = extra > x->steal_ns ? extra - x->steal_ns : 0;
    char clocks[96];
    snprintf(clocks, sizeof clocks, "wall %.3f ms, runq %.3f ms, steal %.3f ms%s",
             (double)x->wall_ns / 1e6, (double)x->runq_wait_ns / 1e6, (double)x->steal_ns / 1e6,
             x->steal_known ? (x->steal_cpu < 0 ? " (all cpus)" : "") : " (unknown)");
    if (extra >= t->min_host_ns &&
        (double)x->device_ns < t->min_device_share * (double)x->thread_cpu_ns) {
        if (sure < t->min_host_ns) {
            snprintf(why, n,
                     "claimed %s; host CPU %.3f ms on the calling thread, but the hypervisor stole "
                     "too much to decide (%s)",
                     claim, (double)x->thread_cpu_ns / 1e6, clocks);
            return TB_RUN_INCONCLUSIVE;
        }
        snprintf(why, n,
                 "claimed %s, but host CPU %.3f ms on the calling thread (%llu launches), "
                 "device %.3f ms (%s)",
                 claim, (double)x->thread_cpu_ns / 1e6, (unsigned long long)x->launches,
                 (double)x->device_ns / 1e6, clocks);
        return TB_RUN_HOST;
    }
    if (!x->has_device_evidence) {
        snprintf(why, n,
                 "claimed %s; backend keeps no launch evidence and host CPU %.3f ms does not "
                 "decide (%s)",
                 claim, (double)x->thread_cpu_ns / 1e6, clocks);
        return TB_RUN_INCONCLUSIVE;
    }
    snprintf(why, n,
             "claimed %s: host CPU %.3f ms on the calling thread (%llu launches), device %.3f ms "
             "(%s)",
             claim, (double)x->thread_cpu_ns / 1e6, (unsigned long long)x->launches,
             (double)x->device_ns / 1e6, clocks);
    return TB_RUN_DEVICE;
}

/* s's verdict from its counts (placement p of the latest run). */
static void verdict(struct tb_op_evidence_summary *s, const struct tb_placement *p)
{
    const int judged = s->n_device + s->n_host + s->n_inconclusive;
    char counts[64];
    snprintf(counts, sizeof counts, "host %d, device %d, inconclusive %d of %d runs", s->n_host,
             s->n_device, s->n_inconclusive, s->n_runs);
    s->why[0] = '\0';
    if (judged > 0 && (s->n_host_hard > 0 || s->n_host > s->n_device)) {
        s->cls = TB_CLASS_SILENT_FALLBACK;
        snprintf(s->why, sizeof s->why, "%.*s (%s)", (int)(sizeof s->why - sizeof counts - 4),
                 s->host_why, counts);
        return;
    }
    if (judged > 0 && s->n_device <= s->n_host) {
        s->cls = TB_CLASS_UNVERIFIED;
        snprintf(s->why, sizeof s->why, "%.*s (%s)", (int)(sizeof s->why - sizeof counts - 4),
                 s->other_why[0] ? s->other_why : s->host_why, counts);
        return;
    }
    if (p->entry != 0) {
        s->cls = TB_CLASS_DECLARED_FALLBACK;
        if (snprintf(s->why, sizeof s->why, "%s", p->reason_text) >= (int)sizeof s->why)
            s->why[sizeof s->why - 1] = '\0'; /* long reasons are cut */
        return;
    }
    s->cls = TB_CLASS_ON_TARGET;
    if (s->n_host > 0 || s->n_inconclusive > 0) /* a minority: reported, not decisive */
        snprintf(s->why, sizeof s->why, "device-consistent majority (%s); first other %.*s", counts,
                 (int)(sizeof s->why - sizeof counts - 48),
                 s->host_why[0] ? s->host_why : s->other_why);
}

/* Keeps the first run of a kind: "run R: why" into dst (a long why is cut
 * at the end; the run number always stays). */
static void keep_run(char *dst, size_t n, int run, const char *why)
{
    const int w = snprintf(dst, n, "run %d: ", run);
    if (w > 0 && (size_t)w < n)
        tb_copy_str(dst + w, n - (size_t)w, why);
}

/* Adds one run's sign to s. */
static void count_run(struct tb_op_evidence_summary *s, const struct tb_placement *p,
                      const struct tb_op_run_evidence *x, const struct tb_evidence_thresholds *t)
{
    char why[TB_EVIDENCE_WHY_MAX];
    int hard = 0;
    const enum tb_run_sign sign = tb_evidence_judge_run(p, x, t, &hard, why, sizeof why);
    const int run = ++s->n_runs;
    if (sign == TB_RUN_HOST) {
        /* hard evidence explains a verdict better than a timing */
        if (!s->host_why[0] || (hard && !s->n_host_hard))
            keep_run(s->host_why, sizeof s->host_why, run, why);
        s->n_host++;
        s->n_host_hard += hard;
    } else if (sign == TB_RUN_INCONCLUSIVE) {
        if (!s->other_why[0])
            keep_run(s->other_why, sizeof s->other_why, run, why);
        s->n_inconclusive++;
    } else if (sign == TB_RUN_DEVICE) {
        if (!s->device_why[0])
            keep_run(s->device_why, sizeof s->device_why, run, why);
        s->n_device++;
    }
    verdict(s, p);
}

enum tb_op_class tb_evidence_classify(const struct tb_placement *p,
                                      const struct tb_op_run_evidence *x,
                                      const struct tb_evidence_thresholds *t, char *why, size_t n)
{
    struct tb_op_evidence_summary s;
    memset(&s, 0, sizeof s);
    count_run(&s, p, x, t);
    snprintf(why, n, "%s", s.why);
    return s.cls;
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
        count_run(s, &plan->ops[i], x, &ev->th);
        s->wall_ns += x->wall_ns;
        s->host_cpu_ns += x->host_cpu_ns;
        s->thread_cpu_ns += x->thread_cpu_ns;
        s->runq_wait_ns += x->runq_wait_ns;
        s->steal_ns += x->steal_ns;
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
        n += ev->ops[i].n_runs > 0 && ev->ops[i].cls == c;
    return n;
}

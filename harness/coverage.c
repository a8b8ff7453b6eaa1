/* Tier coverage report (harness/tb_coverage.h). */
#include "harness/tb_coverage.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_results.h" /* tb_json_number */

const char *tb_coverage_verdict_name(enum tb_coverage_verdict v)
{
    switch (v) {
    case TB_COV_ON_TARGET: return "on-target";
    case TB_COV_DEGRADED: return "degraded";
    case TB_COV_UNSUPPORTED: return "unsupported";
    case TB_COV_DOES_NOT_FIT: return "does-not-fit";
    case TB_COV_SILENT_FALLBACK: return "silent-fallback";
    }
    return "unknown";
}

static void copy_text(char *dst, size_t n, const char *src)
{
    const size_t len = strnlen(src ? src : "", n - 1);
    memcpy(dst, src ? src : "", len);
    dst[len] = '\0';
}

static void set_names(struct tb_coverage *c, const char *profile, const char *workload,
                      const char *model)
{
    copy_text(c->profile, sizeof c->profile, profile);
    copy_text(c->workload, sizeof c->workload, workload);
    copy_text(c->model, sizeof c->model, model);
}

void tb_coverage_failed(const char *profile, const char *workload, const char *model,
                        enum tb_coverage_verdict v, const char *why, struct tb_coverage *out)
{
    memset(out, 0, sizeof *out);
    set_names(out, profile, workload, model);
    copy_text(out->target_kind, sizeof out->target_kind, "");
    out->verdict = v;
    copy_text(out->why, sizeof out->why, why);
}

void tb_coverage_free(struct tb_coverage *c)
{
    free(c->off);
    c->off = NULL;
    c->n_off = 0;
}

int tb_coverage_build(const char *profile, const char *workload, const char *model,
                      const struct tb_graph *g, const struct tb_sched_plan *plan,
                      const struct tb_evidence *ev, struct tb_coverage *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    set_names(out, profile, workload, model);
    if (plan->n_ops != g->n_ops || ev->n_ops != g->n_ops)
        return tb_err_set(err, TB_EINVAL, "coverage: graph has %d ops, plan %d, evidence %d",
                          g->n_ops, plan->n_ops, ev->n_ops);
    copy_text(out->target_kind, sizeof out->target_kind,
              tb_device_kind_name((enum tb_device_kind)plan->first_choice_kind));
    out->off = calloc(g->n_ops > 0 ? (size_t)g->n_ops : 1, sizeof *out->off);
    if (!out->off)
        return tb_err_set(err, TB_ENOMEM, "coverage: out of memory");
    out->n_ops = g->n_ops;
    out->n_runs = ev->n_runs;
    out->n_segments = plan->n_segs;
    out->n_copies = plan->n_copies;
    int accel_missed = 0, memory_missed = 0;
    const char *first_accel = NULL, *first_mem = NULL, *first_silent = NULL;
    const double runs = ev->n_runs > 0 ? ev->n_runs : 1;
    for (int i = 0; i < g->n_ops; i++) {
        const struct tb_op *op = &g->ops[i];
        const struct tb_placement *p = &plan->ops[i];
        const struct tb_op_evidence_summary *s = &ev->ops[i];
        out->flops += op->flops;
        out->ns += (double)s->wall_ns;
        out->n_mismatch += s->n_mismatch;
        /* on the target tier: on the first choice, or declared onto another
         * backend of the same kind (cuda unavailable -> opencl:gpu) */
        const int on_tier = s->n_runs > 0 && (s->cls == TB_CLASS_ON_TARGET ||
                                              (s->cls == TB_CLASS_DECLARED_FALLBACK &&
                                               (int)p->claimed_kind == plan->first_choice_kind));
        if (on_tier) {
            out->n_on_target++;
            out->flops_on_target += op->flops;
            out->ns_on_target += (double)s->wall_ns;
        }
        if (s->n_runs > 0 && s->cls == TB_CLASS_ON_TARGET)
            continue;
        out->n_declared += s->cls == TB_CLASS_DECLARED_FALLBACK;
        out->n_unverified += s->cls == TB_CLASS_UNVERIFIED;
        if (s->cls == TB_CLASS_SILENT_FALLBACK && !out->n_silent++)
            first_silent = op->name;
        if (p->accel_required && (p->claimed_kind == TB_DEVICE_CPU) && !accel_missed++)
            first_accel = op->name;
        if (p->reason == TB_REASON_MEMORY && !memory_missed++)
            first_mem = op->name;
        struct tb_coverage_op *o = &out->off[out->n_off++];
        copy_text(o->name, sizeof o->name, op->name);
        copy_text(o->kind, sizeof o->kind, tb_op_kind_name(op->kind));
        o->cls = s->n_runs > 0 ? s->cls : TB_CLASS_UNVERIFIED;
        copy_text(o->backend, sizeof o->backend, p->label);
        copy_text(o->device, sizeof o->device, p->device);
        copy_text(o->claimed_kind, sizeof o->claimed_kind, tb_device_kind_name(p->claimed_kind));
        copy_text(o->device_kind, sizeof o->device_kind, tb_device_kind_name(p->device_kind));
        copy_text(o->reason, sizeof o->reason, p->reason_text);
        copy_text(o->evidence, sizeof o->evidence,
                  s->n_runs > 0 ? s->why : "not executed: no evidence");
        o->accel_required = p->accel_required;
        o->on_target_tier = on_tier;
        o->ms_per_run = (double)s->wall_ns / runs / 1e6;
        o->launches_per_run = (double)s->launches / runs;
        o->device_ms_per_run = (double)s->device_ns / runs / 1e6;
        o->host_cpu_ms_per_run = (double)s->host_cpu_ns / runs / 1e6;
        o->thread_cpu_ms_per_run = (double)s->thread_cpu_ns / runs / 1e6;
        o->n_runs = s->n_runs;
        o->n_device = s->n_device;
        o->n_host = s->n_host;
        o->n_inconclusive = s->n_inconclusive;
        o->n_mismatch = s->n_mismatch;
    }
    const double t_off = out->ns > 0 ? 100.0 * (out->ns - out->ns_on_target) / out->ns : 0.0;
    if (out->n_silent) {
        out->verdict = TB_COV_SILENT_FALLBACK;
        snprintf(out->why, sizeof out->why,
                 "%d op(s) claimed an accelerator but ran on the "
                 "host (first: %s); %.1f%% of time off target",
                 out->n_silent, first_silent, t_off);
    } else if (memory_missed) {
        out->verdict = TB_COV_DOES_NOT_FIT;
        snprintf(out->why, sizeof out->why, "%d op(s) off target for memory (first: %s)",
                 memory_missed, first_mem);
    } else if (accel_missed) {
        out->verdict = TB_COV_UNSUPPORTED;
        snprintf(out->why, sizeof out->why,
                 "%d op(s) of the accelerator op classes run on the "
                 "CPU (first: %s); %.1f%% of time off target",
                 accel_missed, first_accel, t_off);
    } else if (out->n_off) {
        out->verdict = TB_COV_DEGRADED;
        snprintf(out->why, sizeof out->why,
                 "%d declared fallback(s), %d unverified; %.1f%% of "
                 "time off target",
                 out->n_declared, out->n_unverified, t_off);
    } else {
        out->verdict = TB_COV_ON_TARGET;
        snprintf(out->why, sizeof out->why, "all %d ops on the %s tier", out->n_ops,
                 out->target_kind);
    }
    return TB_OK;
}

static double share(double part, double whole)
{
    return whole > 0 ? part / whole : 0.0;
}

json_t *tb_coverage_to_json(const struct tb_coverage *c)
{
    json_t *offs = json_array();
    for (int i = 0; offs && i < c->n_off; i++) {
        const struct tb_coverage_op *o = &c->off[i];
        json_t *x = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:i, s:b}",
            "op", o->name, "kind", o->kind, "class", tb_op_class_name(o->cls), "backend",
            o->backend, "device", o->device, "claimed_kind", o->claimed_kind, "device_kind",
            o->device_kind, "reason", o->reason, "evidence", o->evidence, "accel_required",
            o->accel_required, "ms_per_run", tb_json_number(o->ms_per_run), "launches_per_run",
            tb_json_number(o->launches_per_run), "device_ms_per_run",
            tb_json_number(o->device_ms_per_run), "host_cpu_ms_per_run",
            tb_json_number(o->host_cpu_ms_per_run), "thread_cpu_ms_per_run",
            tb_json_number(o->thread_cpu_ms_per_run), "output_mismatches", o->n_mismatch,
            "on_target_tier", o->on_target_tier);
        /* the runs behind the class: how many showed device, host, neither */
        if (x)
            json_object_set_new(x, "runs",
                                json_pack("{s:i, s:i, s:i, s:i}", "total", o->n_runs, "device",
                                          o->n_device, "host", o->n_host, "inconclusive",
                                          o->n_inconclusive));
        json_array_append_new(offs, x);
    }
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:{s:i, s:i, s:o}, s:{s:o, s:o, s:o}, "
        "s:{s:o, s:o, s:o}, s:i, s:i, s:i, s:i, s:i, s:i, s:o}",
        "profile", c->profile, "workload", c->workload, "model", c->model, "verdict",
        tb_coverage_verdict_name(c->verdict), "why", c->why, "target_kind", c->target_kind, "runs",
        c->n_runs, "ops", "total", c->n_ops, "on_target", c->n_on_target, "share",
        tb_json_number(share(c->n_on_target, c->n_ops)), "flops", "total", tb_json_number(c->flops),
        "on_target", tb_json_number(c->flops_on_target), "share",
        tb_json_number(share(c->flops_on_target, c->flops)), "time_ms", "total",
        tb_json_number(c->ns / 1e6), "on_target", tb_json_number(c->ns_on_target / 1e6), "share",
        tb_json_number(share(c->ns_on_target, c->ns)), "declared", c->n_declared, "silent",
        c->n_silent, "unverified", c->n_unverified, "output_mismatches", c->n_mismatch, "segments",
        c->n_segments, "copies", c->n_copies, "off_target", offs ? offs : json_null());
    return j;
}

int tb_fail_on_from_name(const char *s)
{
    if (!strcmp(s, "silent-fallback"))
        return TB_FAIL_ON_SILENT;
    if (!strcmp(s, "any-fallback"))
        return TB_FAIL_ON_ANY;
    if (!strcmp(s, "none"))
        return TB_FAIL_ON_NONE;
    return -1;
}

int tb_coverage_fails(const struct tb_coverage *c, enum tb_fail_on f)
{
    switch (f) {
    case TB_FAIL_ON_SILENT: return c->verdict == TB_COV_SILENT_FALLBACK;
    case TB_FAIL_ON_ANY: return c->verdict != TB_COV_ON_TARGET;
    case TB_FAIL_ON_NONE: break;
    }
    return 0;
}

/* What groups an off-target op in the matrix: the declared reason, or for
 * silent/unverified ops the detector's evidence (the reason they claim is
 * not what happened). */
static const char *group_key(const struct tb_coverage_op *o)
{
    return (o->cls == TB_CLASS_DECLARED_FALLBACK && o->reason[0]) ? o->reason : o->evidence;
}

/* Off-target ops grouped by class + key for the matrix's last column:
 * "silent-fallback x14, 3.1 ms/run (claimed gpu, ...); declared-fallback ...". */
static void off_summary(const struct tb_coverage *c, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n_off && len + 1 < n; i++) {
        const struct tb_coverage_op *o = &c->off[i];
        int seen = 0;
        for (int k = 0; k < i && !seen; k++)
            seen = c->off[k].cls == o->cls && !strcmp(group_key(&c->off[k]), group_key(o));
        if (seen)
            continue;
        int count = 0;
        double ms = 0;
        for (int k = i; k < c->n_off; k++)
            if (c->off[k].cls == o->cls && !strcmp(group_key(&c->off[k]), group_key(o))) {
                count++;
                ms += c->off[k].ms_per_run;
            }
        const int w = snprintf(buf + len, n - len, "%s%s x%d, %.3f ms/run (%s)", len ? "; " : "",
                               tb_op_class_name(o->cls), count, ms, group_key(o));
        if (w < 0)
            break;
        len += (size_t)w < n - len ? (size_t)w : n - len - 1;
    }
}

int tb_coverage_write_markdown(FILE *f, const struct tb_coverage *rows, int n)
{
    fprintf(f, "| profile | workload | target | verdict | ops on target | FLOPs on target | "
               "time on target | copies | off-target ops |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const struct tb_coverage *c = &rows[i];
        char off[1024];
        off_summary(c, off, sizeof off);
        for (char *p = off; *p; p++)
            if (*p == '|')
                *p = '/'; /* keep the table's cells */
        fprintf(f, "| %s | %s | %s | **%s** | %d/%d (%.1f%%) | %.1f%% | %.1f%% | %d | %s |\n",
                c->profile, c->workload, c->target_kind[0] ? c->target_kind : "-",
                tb_coverage_verdict_name(c->verdict), c->n_on_target, c->n_ops,
                100.0 * share(c->n_on_target, c->n_ops),
                100.0 * share(c->flops_on_target, c->flops), 100.0 * share(c->ns_on_target, c->ns),
                c->n_copies, c->n_off ? off : c->why);
    }
    return ferror(f) ? TB_EIO : TB_OK;
}

static void csv_cell(FILE *f, const char *s, int last)
{
    csv_fwrite(f, s, strlen(s));
    fputc(last ? '\n' : ',', f);
}

int tb_coverage_write_csv(FILE *f, const struct tb_coverage *rows, int n)
{
    static const char *const cols[] = {
        "profile",  "workload",      "model",      "target_kind",       "verdict",    "why",
        "ops",      "ops_on_target", "ops_share",  "flops_share",       "time_share", "time_ms",
        "declared", "silent",        "unverified", "output_mismatches", "copies",     "off_target"};
    const int nc = (int)(sizeof cols / sizeof cols[0]);
    for (int k = 0; k < nc; k++)
        csv_cell(f, cols[k], k == nc - 1);
    for (int i = 0; i < n; i++) {
        const struct tb_coverage *c = &rows[i];
        char num[12][32], off[1024];
        snprintf(num[0], sizeof num[0], "%d", c->n_ops);
        snprintf(num[1], sizeof num[1], "%d", c->n_on_target);
        snprintf(num[2], sizeof num[2], "%.4f", share(c->n_on_target, c->n_ops));
        snprintf(num[3], sizeof num[3], "%.4f", share(c->flops_on_target, c->flops));
        snprintf(num[4], sizeof num[4], "%.4f", share(c->ns_on_target, c->ns));
        snprintf(num[5], sizeof num[5], "%.3f", c->ns / 1e6);
        snprintf(num[6], sizeof num[6], "%d", c->n_declared);
        snprintf(num[7], sizeof num[7], "%d", c->n_silent);
        snprintf(num[8], sizeof num[8], "%d", c->n_unverified);
        snprintf(num[9], sizeof num[9], "%d", c->n_mismatch);
        snprintf(num[10], sizeof num[10], "%d", c->n_copies);
        off_summary(c, off, sizeof off);
        const char *cells[] = {
            c->profile, c->workload, c->model, c->target_kind, tb_coverage_verdict_name(c->verdict),
            c->why,     num[0],      num[1],   num[2],         num[3],
            num[4],     num[5],      num[6],   num[7],         num[8],
            num[9],     num[10],     off};
        for (int k = 0; k < nc; k++)
            csv_cell(f, cells[k], k == nc - 1);
    }
    return ferror(f) ? TB_EIO : TB_OK;
}

/* ---------------------------------------------------------- tier probe */

struct tb_tier_probe {
    struct tb_sched *sched;
    struct tb_backend *ref;
    struct tb_evidence_thresholds th;
    struct tb_evidence ev;
    struct tb_op_run_evidence *runs;
    struct tb_sched_evidence se;
    int check_period;
    const struct tb_sched_plan *plan;
    uint64_t sig;         /* graph structure the evidence belongs to */
    struct tb_graph last; /* shallow copy of the last graph's ops (for coverage) */
};

int tb_tier_probe_create(const struct tb_sched_entry *entries, int n_entries,
                         const struct tb_sched_opts *opts, const struct tb_evidence_thresholds *th,
                         int check_period, struct tb_tier_probe **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_tier_probe *tp = calloc(1, sizeof *tp);
    if (!tp)
        return tb_err_set(err, TB_ENOMEM, "tier probe: out of memory");
    if (th)
        tp->th = *th;
    else
        tb_evidence_thresholds_default(&tp->th);
    tp->check_period = check_period;
    int rc = tb_sched_create(entries, n_entries, opts, &tp->sched, err);
    if (!rc && check_period > 0)
        rc = tb_backend_create("cpu-ref", NULL, &tp->ref, err);
    if (rc) {
        tb_tier_probe_free(tp);
        return rc;
    }
    *out = tp;
    return TB_OK;
}

void tb_tier_probe_free(struct tb_tier_probe *tp)
{
    if (!tp)
        return;
    tb_sched_free(tp->sched);
    tb_backend_free(tp->ref);
    tb_evidence_free(&tp->ev);
    free(tp->runs);
    free(tp->last.ops);
    free(tp);
}

/* (Re)sizes the evidence for g's structure; keeps it while unchanged. */
static int probe_prepare(struct tb_tier_probe *tp, const struct tb_graph *g,
                         const struct tb_sched_plan *pl, struct tb_err *err)
{
    if (tp->ev.ops && tp->sig == pl->sig)
        return TB_OK;
    tb_evidence_free(&tp->ev);
    free(tp->runs);
    free(tp->last.ops);
    memset(&tp->last, 0, sizeof tp->last);
    tp->runs = calloc(g->n_ops > 0 ? (size_t)g->n_ops : 1, sizeof *tp->runs);
    tp->last.ops = malloc((g->n_ops > 0 ? (size_t)g->n_ops : 1) * sizeof *tp->last.ops);
    if (!tp->runs || !tp->last.ops)
        return tb_err_set(err, TB_ENOMEM, "tier probe: out of memory for %d ops", g->n_ops);
    int rc = tb_evidence_init(&tp->ev, g->n_ops, &tp->th, err);
    if (rc)
        return rc;
    tp->se = (struct tb_sched_evidence){
        .ops = tp->runs, .cap = g->n_ops, .ref = tp->ref, .check_period = tp->check_period};
    tp->sig = pl->sig;
    return TB_OK;
}

int tb_tier_probe_runner(void *ctx, const struct tb_graph *g, uint64_t *op_ns, struct tb_err *err)
{
    struct tb_tier_probe *tp = ctx;
    const struct tb_sched_plan *pl = NULL;
    int rc = tb_sched_plan(tp->sched, g, &pl, err);
    if (!rc)
        rc = probe_prepare(tp, g, pl, err);
    if (!rc)
        rc = tb_sched_compute(tp->sched, g, op_ns, &tp->se, err);
    if (!rc)
        rc = tb_evidence_add_run(&tp->ev, pl, tp->runs, err);
    if (rc)
        return rc;
    tp->plan = pl;
    /* op names, kinds and FLOPs for the report (tensor pointers unused) */
    memcpy(tp->last.ops, g->ops, (size_t)g->n_ops * sizeof *g->ops);
    tp->last.n_ops = tp->last.cap = g->n_ops;
    return TB_OK;
}

const struct tb_sched_plan *tb_tier_probe_plan(const struct tb_tier_probe *tp)
{
    return tp->plan;
}

struct tb_sched *tb_tier_probe_sched(struct tb_tier_probe *tp)
{
    return tp->sched;
}

const struct tb_evidence *tb_tier_probe_evidence(const struct tb_tier_probe *tp)
{
    return &tp->ev;
}

int tb_tier_probe_coverage(const struct tb_tier_probe *tp, const char *profile,
                           const char *workload, const char *model, struct tb_coverage *out,
                           struct tb_err *err)
{
    if (!tp->plan)
        return tb_err_set(err, TB_EINVAL, "tier probe: no graph has run yet");
    return tb_coverage_build(profile, workload, model, &tp->last, tp->plan, &tp->ev, out, err);
}

/* A profile's settings applied (threads + binding via hwloc, ISA cap) and
 * its backend preference list opened for the scheduler and the tier probe;
 * a profile the host cannot run is recorded unsupported. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/run_internal.h"
#include "harness/tb_results.h"

/* A profile allows the CPU when its list names it (gpu-datacenter does not:
 * measuring it on a host CPU would describe the wrong device). */
static int lists_cpu(const char (*names)[32], int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], "cpu") || !strncmp(names[i], "cpu:", 4))
            return 1;
    return 0;
}

/* Every entry of the preference list as opened: what it is, or why not. */
static json_t *entries_json(const struct tb_sched_backends *bs, int n_listed)
{
    json_t *a = json_array();
    for (int i = 0; i < bs->n; i++) {
        const struct tb_sched_entry *e = &bs->e[i];
        json_t *o = json_pack("{s:s, s:b}", "entry", e->label, "implicit", i >= n_listed);
        if (e->b) {
            json_object_set_new(o, "backend", json_string(tb_backend_name(e->b)));
            json_object_set_new(o, "device", json_string(tb_backend_device_name(e->b)));
            json_object_set_new(o, "device_kind",
                                json_string(tb_device_kind_name(tb_backend_device_kind(e->b))));
        } else {
            json_object_set_new(o, "unavailable", json_string(e->disabled_reason));
        }
        json_array_append_new(a, o);
    }
    return a;
}

int run_apply_binding(struct run_ctx *run, struct profile_run *pr, struct tb_err *err)
{
    const struct tb_profile *p = pr->p;
    const int threads = run->o->threads ? run->o->threads : p->threads;
    int rc = tb_topo_plan(run->topo, threads, (enum tb_bind_policy)p->binding,
                          p->cpuset[0] ? p->cpuset : NULL, &pr->plan, err);
    if (rc)
        return tb_err_wrap(err, rc, "%s: binding", p->path);
    char plan[256];
    tb_bind_plan_format(&pr->plan, plan, sizeof plan);
    pr->binding =
        json_pack("{s:s, s:s}", "policy", tb_bind_policy_name(pr->plan.policy), "plan", plan);
    if (pr->plan.policy != TB_BIND_NONE && pr->plan.actual > 0) {
        /* the calling thread runs worker 0's share of every op */
        int observed = -1;
        struct tb_err be = {0};
        if (tb_topo_bind_current_thread(run->topo, pr->plan.pu_os[0], &observed, &be))
            json_object_set_new(pr->binding, "applied",
                                json_pack("{s:b, s:s}", "ok", 0, "reason", be.msg));
        else
            json_object_set_new(pr->binding, "applied",
                                json_pack("{s:b, s:i, s:i}", "ok", 1, "main_thread_pu",
                                          pr->plan.pu_os[0], "observed_pu", observed));
    }
    pr->cfg.n_threads = pr->plan.actual;
    pr->cfg.isa_cap = (enum tb_isa)p->isa_cap;
    pr->cfg.bind_cpus = pr->plan.policy != TB_BIND_NONE ? pr->plan.pu_os : NULL;
    return TB_OK;
}

/* The host cannot run this profile: one record per workload says why (each
 * backend's reason), and the qualification verdict is UNSUPPORTED. */
int run_record_unsupported(struct run_ctx *run, struct profile_run *pr, struct tb_err *err)
{
    const struct tb_profile *p = pr->p;
    char why[TB_ERR_MSG_MAX];
    tb_copy_str(why, sizeof why, err->msg);
    int rc = TB_OK;
    for (int k = 0; k < p->n_workloads * TB_PROFILE_MAX_PROMPTS && !rc; k++) {
        const int i = k / TB_PROFILE_MAX_PROMPTS, j = k % TB_PROFILE_MAX_PROMPTS;
        const char *wl = tb_workload_kind_name(p->workloads[i].kind);
        if (j >= p->workloads[i].n_prompts || !tb_list_has(run->o->workloads, wl))
            continue;
        run_progress(run, p->name, wl);
        json_t *rec = tb_results_record_new(wl, p->name,
                                            run->o->model ? run->o->model : p->workloads[i].model);
        json_object_set(rec, "environment", run->env);
        json_object_set_new(rec, "status", json_string("unsupported"));
        json_object_set_new(rec, "unsupported", json_string(why));
        json_object_set_new(rec, "params",
                            json_pack("{s:i}", "prompt", p->workloads[i].prompts[j]));
        json_object_set_new(rec, "placement", json_pack("{s:O}", "entries", pr->entries));
        struct tb_coverage cov;
        char cov_label[48]; /* matrix rows name the prompt length */
        snprintf(cov_label, sizeof cov_label, "%s p%d", wl, p->workloads[i].prompts[j]);
        tb_coverage_failed(p->name, cov_label,
                           run->o->model ? run->o->model : p->workloads[i].model,
                           TB_COV_UNSUPPORTED, why, &cov);
        json_object_set_new(rec, "coverage", tb_coverage_to_json(&cov));
        run_keep_coverage(run, &cov);
        rc = tb_results_append(run->res, rec, err);
        run_summary_row(run, rec, p->name, wl, "-", NAN, NAN, NAN, "n/a", "n/a", "unsupported",
                        "unsupported");
        json_decref(rec);
    }
    if (!rc && p->n_slos) {
        json_t *rec = tb_results_record_new("qualification", p->name, "slo");
        json_object_set(rec, "environment", run->env);
        json_object_set_new(rec, "verdict", json_string("UNSUPPORTED"));
        json_object_set_new(rec, "reason", json_string(why));
        json_object_set_new(rec, "status", json_string("unsupported"));
        rc = tb_results_append(run->res, rec, err);
        run_summary_row(run, rec, p->name, "SLO verdict", "UNSUPPORTED", NAN, NAN, NAN, "", "", "",
                        "UNSUPPORTED");
        json_decref(rec);
    }
    return rc;
}

/* Opens the preference list (or --backend) with the profile's settings, the
 * test seam's overrides, and the tier probe. TB_EUNSUPPORTED with
 * pr->unsupported set: no named backend exists here and the profile does not
 * allow the CPU (err says which). */
int run_open_backends(struct run_ctx *run, struct profile_run *pr, struct tb_err *err)
{
    const struct tb_profile *p = pr->p;
    const int n_names = pr->n_listed;
    int rc = tb_sched_backends_open(pr->names, n_names, &pr->cfg, &pr->bs, err);
    if (rc)
        return rc;
    const struct tb_run_hooks *h = run->o->hooks;
    for (int i = 0; h && h->backend_override && i < n_names && i < pr->bs.n; i++) {
        struct tb_backend *b = NULL;
        struct tb_err he = {0};
        if (h->backend_override(h->user, p->name, pr->bs.e[i].label, &pr->cfg, &b, &he) || !b)
            continue;
        tb_backend_free(pr->bs.e[i].b);
        pr->bs.e[i].b = b;
        pr->bs.e[i].disabled_reason[0] = '\0';
    }
    pr->entries = entries_json(&pr->bs, n_names);
    int usable = 0; /* a named entry that exists here */
    for (int i = 0; i < n_names && i < pr->bs.n; i++)
        usable |= pr->bs.e[i].b != NULL;
    if (!usable && !lists_cpu(pr->names, n_names)) {
        pr->unsupported = 1;
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "none of the backends %s is available on this "
                          "host and the profile does not allow the CPU",
                          pr->prefs);
    }
    struct tb_sched_opts so;
    tb_sched_opts_default(&so);
    so.accel_op_classes = (const char(*)[16])p->accel_op_classes;
    so.n_accel_op_classes = p->n_accel_op_classes;
    so.no_cpu_fallback = run->o->no_cpu_fallback;
    rc = tb_tier_probe_create(pr->bs.e, pr->bs.n, &so, NULL, 7, &pr->tp, err);
    pr->sr.sched = pr->tp ? tb_tier_probe_sched(pr->tp) : NULL;
    if (rc)
        return rc;
    /* worker binding as the cpu backend observed it */
    int cpus[256];
    const int n = tb_backend_thread_cpus(pr->bs.e[pr->bs.n - 1].b, cpus, 256);
    if (n > 0) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(a, json_integer(cpus[i]));
        json_object_set_new(pr->binding, "workers_observed_cpu", a);
    }
    return TB_OK;
}

void run_close_backends(struct profile_run *pr)
{
    tb_tier_probe_free(pr->tp); /* borrows the backends: before closing them */
    pr->tp = NULL;
    pr->sr.sched = NULL;
    tb_sched_backends_close(&pr->bs);
    memset(&pr->bs, 0, sizeof pr->bs);
    json_decref(pr->entries);
    pr->entries = NULL;
}

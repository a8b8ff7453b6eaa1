/* One configuration in a child process under the watchdog (tb_watchdog.h):
 * the child measures and sends back what lives in memory; the parent
 * merges it, or records how the child ended (TIMEOUT, CRASHED,
 * MODEL-CHANGED when the model file changed under it: a truncated mapping
 * raises SIGBUS). Records the child appended stay. */
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"
#include "harness/tb_watchdog.h"

/* A configuration that produced no result of its own (status TIMEOUT,
 * CRASHED or MODEL-CHANGED): one record with the message and the evidence
 * (stolen), a summary row; the suite goes on. */
int run_append_outcome(struct run_ctx *run, const struct profile_run *pr,
                       const struct tb_profile_workload *wl, int prompt_len, const char *status,
                       const char *msg, const char *evidence_key, json_t *evidence,
                       struct tb_err *err)
{
    const char *wl_name = tb_workload_kind_name(wl->kind);
    const char *model_spec = run->o->model ? run->o->model : wl->model;
    enum tb_isa isa = tb_isa_detect(); /* as the cpu backend picks it */
    if (pr->cfg.isa_cap < isa)
        isa = pr->cfg.isa_cap;
    char config[768];
    run_config_key(pr, model_spec, prompt_len, isa, config, sizeof config);
    json_t *rec = tb_results_record_new(wl_name, pr->p->name, config);
    if (!rec) {
        json_decref(evidence);
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    }
    json_object_set(rec, "environment", run->env);
    json_object_set_new(rec, "backends", json_string(pr->prefs));
    json_object_set_new(rec, "profile_hash", json_string(pr->profile_hash));
    json_object_set_new(rec, "params",
                        json_pack("{s:s, s:i, s:i, s:I}", "model", model_spec, "prompt", prompt_len,
                                  "n_predict", wl->n_predict, "seed", (json_int_t)run->o->seed));
    json_object_set_new(rec, "status", json_string(status));
    json_object_set_new(rec, "valid", json_false());
    json_object_set_new(rec, "invalid_reason", json_string(msg));
    json_object_set_new(rec, "error", json_string(msg));
    if (evidence)
        json_object_set_new(rec, evidence_key, evidence);
    const int arc = tb_results_append(run->res, rec, err);
    run_print_record(run, rec);
    run_summary_row(run, rec, pr->p->name, wl_name, "-", NAN, NAN, NAN, "n/a", "n/a", status,
                    status);
    json_decref(rec);
    run->n_incomplete++;
    return arc;
}

struct child_job {
    struct run_ctx *run;
    struct profile_run *pr;
    const struct tb_profile_workload *wl;
    int prompt_len;
};

/* The child: opens the backends itself (the parent holds no thread pool and
 * no backend), measures one configuration, appends its record, and sends
 * the parent what lives in memory: summary rows, the record (for the SLOs),
 * coverage rows, the outcome. Frame: u32 length, JSON, i32 n, n x (struct
 * tb_coverage + its off[]); same binary on both ends. */
static int watched_child(void *ctx, int fd)
{
    const struct child_job *job = ctx;
    struct run_ctx *run = job->run;
    struct profile_run *pr = job->pr;
    const size_t sum0 = json_array_size(run->summary), res0 = tb_results_count(run->res);
    const int cov0 = run->n_cov, failed0 = run->n_failed;
    json_t *recs = json_array();
    struct tb_err e = {0};
    int done = 0;
    int r = run_open_backends(run, pr, &e);
    if (r == TB_EUNSUPPORTED && pr->unsupported) {
        r = run_record_unsupported(run, pr, &e);
        done = 1;
    } else if (!r) {
        r = run_workload(run, pr, job->wl, job->prompt_len, recs, &e);
    }
    run_close_backends(pr);
    json_t *sum = json_array();
    for (size_t i = sum0; i < json_array_size(run->summary); i++)
        json_array_append(sum, json_array_get(run->summary, i));
    json_t *msg = json_pack("{s:i, s:s, s:b, s:I, s:i, s:i, s:o, s:o}", "rc", r, "error", e.msg,
                            "profile_done", done, "appended",
                            (json_int_t)(tb_results_count(run->res) - res0), "n_done", run->n_done,
                            "failed", run->n_failed - failed0, "summary", sum, "records", recs);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    int bad = !text;
    if (text) {
        const uint32_t len = (uint32_t)strlen(text);
        const int32_t n_cov = run->n_cov - cov0;
        const char *pipe = "result pipe";
        bad |= tb_write_all(fd, &len, sizeof len, pipe, NULL) ||
               tb_write_all(fd, text, len, pipe, NULL) ||
               tb_write_all(fd, &n_cov, sizeof n_cov, pipe, NULL);
        for (int i = cov0; i < run->n_cov && !bad; i++)
            bad |= tb_write_all(fd, &run->cov[i], sizeof run->cov[i], pipe, NULL) ||
                   tb_write_all(fd, run->cov[i].off,
                                sizeof *run->cov[i].off * (size_t)run->cov[i].n_off, pipe, NULL);
    }
    free(text);
    json_decref(msg);
    return bad ? 1 : 0;
}

/* The bytes a child sent. */
struct msg_buf {
    const char *p;
    size_t n;
};

static int msg_take(struct msg_buf *b, size_t *at, void *dst, size_t n)
{
    if (b->n - *at < n)
        return -1;
    if (n) /* dst may be NULL for an empty array */
        memcpy(dst, b->p + *at, n);
    *at += n;
    return 0;
}

/* Merges a complete child message into the parent: summary rows, records
 * (into records), coverage rows. Returns -1 when the message is malformed
 * (a child that died mid-write), else 0 with the child's outcome. */
static int merge_child(struct run_ctx *run, struct msg_buf *b, json_t *records, int *child_rc,
                       int *profile_done, struct tb_err *cerr)
{
    size_t at = 0;
    uint32_t len;
    if (msg_take(b, &at, &len, sizeof len) || b->n - at < len)
        return -1;
    json_t *msg = json_loadb(b->p + at, len, 0, NULL);
    at += len;
    int32_t n_cov;
    if (!msg || msg_take(b, &at, &n_cov, sizeof n_cov) || n_cov < 0) {
        json_decref(msg);
        return -1;
    }
    *child_rc = (int)json_integer_value(json_object_get(msg, "rc"));
    *profile_done = json_is_true(json_object_get(msg, "profile_done"));
    tb_err_set(cerr, *child_rc, "%s", json_string_value(json_object_get(msg, "error")));
    run->n_child_records += (size_t)json_integer_value(json_object_get(msg, "appended"));
    run->n_done = (int)json_integer_value(json_object_get(msg, "n_done"));
    run->n_failed += (int)json_integer_value(json_object_get(msg, "failed"));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(msg, "summary"), i, x) json_array_append(run->summary, x);
    json_array_foreach(json_object_get(msg, "records"), i, x) json_array_append(records, x);
    json_decref(msg);
    for (int32_t k = 0; k < n_cov; k++) {
        struct tb_coverage c;
        if (msg_take(b, &at, &c, sizeof c) || c.n_off < 0)
            return -1;
        const size_t bytes = sizeof *c.off * (size_t)c.n_off;
        c.off = c.n_off ? malloc(bytes) : NULL;
        if ((c.n_off && !c.off) || msg_take(b, &at, c.off, bytes)) {
            free(c.off);
            return -1;
        }
        run_keep_coverage(run, &c);
    }
    return 0;
}

/* How a child without a result of its own ended, for the outcome record:
 * the outcome's name, how (text) and the evidence. */
static const char *describe_end(const struct tb_watchdog_result *wr, double timeout, char *how,
                                size_t n, json_t *ev)
{
    const char *outcome = "CRASHED";
    if (wr->outcome == TB_WATCHDOG_TIMEOUT) {
        outcome = "TIMEOUT";
        snprintf(how, n,
                 "no result within the %g s timeout: the configuration's "
                 "process group was killed with SIGKILL after %.1f s",
                 timeout, wr->elapsed_s);
        json_object_set_new(ev, "signal", json_string("SIGKILL"));
        json_object_set_new(ev, "killed_by_watchdog", json_true());
    } else if (wr->outcome == TB_WATCHDOG_CRASHED) {
        const int sig = wr->signal;
        snprintf(how, n, "the configuration's process died of %s (%s) after %.1f s",
                 tb_watchdog_signal_name(sig), strsignal(sig), wr->elapsed_s);
        json_object_set_new(ev, "signal", json_string(tb_watchdog_signal_name(sig)));
        json_object_set_new(ev, "signal_number", json_integer(sig));
    } else { /* e.g. a sanitizer that caught the fault and exited */
        snprintf(how, n,
                 "the configuration's process exited with status %d without a "
                 "result after %.1f s",
                 wr->exit_code, wr->elapsed_s);
        json_object_set_new(ev, "exit_status", json_integer(wr->exit_code));
    }
    json_object_set_new(ev, "outcome", json_string(outcome));
    return outcome;
}

/* No result of its own: say how it ended, and whether the model changed;
 * a child killed mid-append may have left a torn line. */
static int record_end(struct run_ctx *run, struct profile_run *pr,
                      const struct tb_profile_workload *wl, int prompt_len,
                      const struct tb_watchdog_result *wr, const char *model_path,
                      struct tb_err *err)
{
    int rc = tb_results_trim_torn(run->res, err);
    if (rc)
        return rc;
    const double timeout = run->o->timeout_s;
    char how[256], why[RUN_PATH_MAX + 256], msg[RUN_PATH_MAX + 600];
    json_t *ev = json_pack("{s:f, s:f, s:I}", "timeout_s", timeout, "elapsed_s", wr->elapsed_s,
                           "pid", (json_int_t)wr->pid);
    const char *outcome = describe_end(wr, timeout, how, sizeof how, ev);
    if (model_path && run_model_changed(run, model_path, why, sizeof why)) {
        outcome = "MODEL-CHANGED";
        json_object_set_new(ev, "model_change", json_string(why));
        snprintf(msg, sizeof msg, "%s; %s", why, how);
    } else {
        snprintf(msg, sizeof msg, "%s: %s", outcome, how);
    }
    if (!run->o->quiet) {
        run->n_done++;
        fprintf(stderr, "%stierbench run: %s %s p%d: %s\n", run->tty ? "\n" : "", pr->p->name,
                tb_workload_kind_name(wl->kind), prompt_len, msg);
    }
    return run_append_outcome(run, pr, wl, prompt_len, outcome, msg, "watchdog", ev, err);
}

int run_watched(struct run_ctx *run, struct profile_run *pr, const struct tb_profile_workload *wl,
                int prompt_len, json_t *records, const char *model_path, int *profile_done,
                struct tb_err *err)
{
    struct child_job job = {.run = run, .pr = pr, .wl = wl, .prompt_len = prompt_len};
    struct tb_watchdog_result wr;
    int rc = tb_watchdog_run(watched_child, &job, run->o->timeout_s, &wr, err);
    if (rc)
        return rc;
    if (wr.outcome == TB_WATCHDOG_EXITED && wr.exit_code == 0) {
        int child_rc = TB_OK;
        struct tb_err cerr = {0};
        struct msg_buf b = {.p = wr.data, .n = wr.n};
        if (merge_child(run, &b, records, &child_rc, profile_done, &cerr))
            rc = tb_err_set(err, TB_EIO,
                            "watchdog: the child for %s %s sent a malformed "
                            "result",
                            pr->p->name, tb_workload_kind_name(wl->kind));
        else if (child_rc) {
            *err = cerr;
            rc = child_rc;
        }
    } else {
        rc = record_end(run, pr, wl, prompt_len, &wr, model_path, err);
    }
    tb_watchdog_result_free(&wr);
    return rc;
}

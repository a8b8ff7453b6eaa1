/* One configuration (profile x workload x prompt) in this process, as a
 * sequence of phases: record header, resolve the model, budget, open
 * counters/energy, measure, derive, tier probe, accuracy, changed-model
 * check, record. A phase that ends the configuration early leaves the
 * record's status and the reason; the suite goes on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"

/* What is known before anything runs: settings, placement, parameters. */
static json_t *record_begin(struct wl_run *c)
{
    const struct tb_run_opts *o = c->run->o;
    const struct profile_run *pr = c->pr;
    char config[768];
    struct tb_backend *cpu = pr->bs.e[pr->bs.n - 1].b; /* always there */
    run_config_key(pr, c->model_spec, c->prompt_len, tb_backend_isa(cpu), config, sizeof config);
    json_t *rec = tb_results_record_new(c->wl_name, pr->p->name, config);
    if (!rec)
        return NULL;
    json_object_set(rec, "environment", c->run->env);
    json_object_set_new(rec, "backends", json_string(pr->prefs));
    json_object_set_new(rec, "profile_hash", json_string(pr->profile_hash));
    json_object_set_new(rec, "placement", json_pack("{s:O}", "entries", pr->entries));
    if (!pr->bs.e[0].b)
        run_warn(rec, "first-choice backend %s unavailable: %s", pr->bs.e[0].label,
                 pr->bs.e[0].disabled_reason);
    json_object_set_new(rec, "threads",
                        json_pack("{s:i, s:i, s:b, s:s}", "requested", pr->plan.requested, "actual",
                                  pr->plan.actual, "clamped", pr->plan.clamped, "source",
                                  o->threads ? "override" : "profile"));
    if (pr->plan.clamped)
        run_warn(rec, "threads clamped: profile asked for %d, host has %d", pr->plan.requested,
                 pr->plan.actual);
    json_object_set(rec, "binding", pr->binding);
    json_object_set_new(
        rec, "isa",
        json_pack("{s:s, s:s}", "cap",
                  pr->cfg.isa_cap >= TB_ISA_COUNT ? "best" : tb_isa_name(pr->cfg.isa_cap), "used",
                  tb_isa_name(tb_backend_isa(cpu))));
    json_t *ov = json_object();
    if (o->model)
        json_object_set_new(ov, "model", json_string(o->model));
    if (o->backend)
        json_object_set_new(ov, "backend", json_string(o->backend));
    if (o->threads)
        json_object_set_new(ov, "threads", json_integer(o->threads));
    json_object_set_new(rec, "overrides", ov);
    json_object_set_new(rec, "params",
                        json_pack("{s:s, s:i, s:i, s:I}", "model", c->model_spec, "prompt",
                                  c->prompt_len, "n_predict", c->wl->n_predict, "seed",
                                  (json_int_t)o->seed));
    return rec;
}

/* Resolves and loads the model; the positions it runs at (clamped to its
 * context, as tb_profile_positions says) go into params. */
static int phase_model(struct wl_run *c, struct tb_err *err)
{
    const struct tb_run_opts *o = c->run->o;
    int rc =
        run_find_model(c->model_spec, o->cache_dir, o->seed, true, c->path, sizeof c->path, err);
    if (!rc)
        rc = tb_llama_load(c->path, &c->m, err);
    run_model_id_read(c->path, &c->model0);
    if (rc)
        return rc;
    char mhash[TB_HASH_STR_MAX] = "unavailable";
    struct tb_err he = {0};
    if (tb_file_hash(c->path, mhash, &he))
        snprintf(mhash, sizeof mhash, "unavailable");
    json_object_set_new(c->rec, "model",
                        json_pack("{s:s, s:s, s:s, s:I}", "path", c->path, "hash", mhash,
                                  "weight_type", tb_type_name(c->m->weights.weight_type),
                                  "weight_bytes", (json_int_t)c->m->weights.weight_bytes));
    const int32_t ctx = c->m->config.ctx_len;
    if (tb_profile_positions(c->wl->kind, c->prompt_len, c->wl->n_predict, ctx, &c->n_prompt,
                             &c->n_predict))
        run_warn(c->rec, "prompt %d + n_predict %d exceeds context %d: prompt clamped",
                 c->prompt_len > 0 ? c->prompt_len : 1, c->n_predict, ctx);
    /* a prompt of one token still leaves n_predict over the context (a
     * --model with a shorter context than the profile's): fewer tokens */
    const int32_t gen_room = ctx - c->n_prompt > 0 ? ctx - c->n_prompt : 0;
    const int32_t gen_asked = c->n_predict;
    if (c->n_predict > gen_room) {
        c->n_predict = gen_room;
        run_warn(c->rec, "prompt %d + n_predict %d exceeds context %d: n_predict clamped to %d",
                 c->n_prompt, gen_asked, ctx, c->n_predict);
    }
    c->n_ctx = c->n_prompt + (c->n_predict > 0 ? c->n_predict : 0);
    json_t *params = json_object_get(c->rec, "params"); /* as run (SLO conditions match these) */
    json_object_set_new(params, "prompt", json_integer(c->n_prompt));
    json_object_set_new(params, "n_predict", json_integer(c->n_predict));
    json_object_set_new(params, "prompt_requested", json_integer(c->prompt_len));
    if (c->n_predict != gen_asked)
        json_object_set_new(params, "n_predict_requested", json_integer(gen_asked));
    return TB_OK;
}

/* The memory need against the profile's budget and the host. Returns 1
 * with the status set when the configuration must not run. */
static int phase_budget(struct wl_run *c, const char **status, struct tb_err *err)
{
    const struct tb_profile *p = c->pr->p;
    struct tb_memory_need need;
    const enum tb_type kv_type = (enum tb_type)c->run->o->kv_type;
    int rc = tb_llama_memory_need(&c->m->config, c->m->weights.weight_bytes, kv_type, c->n_prompt,
                                  c->n_ctx, &need, err);
    if (rc)
        return rc;
    json_object_set_new(
        c->rec, "memory",
        json_pack("{s:I, s:I, s:I, s:s, s:I, s:I}", "weight_bytes_mapped", (json_int_t)need.weights,
                  "activation_arena_bytes", (json_int_t)need.activations, "kv_cache_bytes",
                  (json_int_t)need.kv, "kv_type", tb_type_name(kv_type), "engine_total_bytes",
                  (json_int_t)need.total, "budget_bytes", (json_int_t)p->memory_budget));
    if (need.total > p->memory_budget) {
        char what[160], budget[32], why[256];
        tb_memory_need_format(&need, what, sizeof what);
        tb_format_bytes(p->memory_budget, budget, sizeof budget);
        snprintf(why, sizeof why, "needs %s > budget %s", what, budget);
        json_object_set_new(c->rec, "status", json_string("does-not-fit"));
        json_object_set_new(c->rec, "does_not_fit", json_string(why));
        struct tb_coverage cov;
        tb_coverage_failed(p->name, c->cov_label, c->model_spec, TB_COV_DOES_NOT_FIT, why, &cov);
        json_object_set_new(c->rec, "coverage", tb_coverage_to_json(&cov));
        run_keep_coverage(c->run, &cov);
        *status = "does-not-fit";
        c->does_not_fit = 1;
        return 1;
    }
    if (c->run->topo_sum.total_memory && need.total > c->run->topo_sum.total_memory) {
        json_object_set_new(c->rec, "status", json_string("host-cannot-emulate"));
        json_object_set_new(c->rec, "error", json_string("model larger than host memory"));
        *status = "host-cannot-emulate";
        return 1;
    }
    return TB_OK;
}

/* A model file replaced or rewritten under the run: the figures may mix
 * two models (the mapping keeps the old inode only if it was replaced). */
static void phase_model_check(struct wl_run *c)
{
    struct model_id now;
    char why[RUN_PATH_MAX + 256];
    run_model_id_read(c->path, &now);
    if (!c->model0.exists || !run_model_id_diff(&c->model0, &now, why, sizeof why))
        return;
    c->set.valid = 0;
    tb_copy_str(c->set.invalid_reason, sizeof c->set.invalid_reason,
                "model file changed or disappeared during the run (see model.path)");
    json_object_set_new(c->rec, "valid", json_false());
    json_object_set_new(c->rec, "invalid_reason", json_string(c->set.invalid_reason));
    run_warn(c->rec, "INVALID: %s", c->set.invalid_reason);
}

/* An eval produced a NaN/Inf logit or hidden state (TB_ENONFINITE, with
 * its position): the outputs are garbage, so the configuration is invalid
 * and no timing of it stands, however many repetitions ran. */
static int phase_nonfinite(struct wl_run *c, const char **status, const struct tb_err *err)
{
    c->nonfinite = 1;
    c->set.valid = 0;
    tb_copy_str(c->set.invalid_reason, sizeof c->set.invalid_reason, err->msg);
    json_object_set_new(c->rec, "status", json_string("invalid"));
    json_object_set_new(c->rec, "valid", json_false());
    json_object_set_new(c->rec, "invalid_reason", json_string(c->set.invalid_reason));
    run_warn(c->rec, "INVALID: %s", c->set.invalid_reason);
    *status = "INVALID";
    return 1;
}

/* The measuring phases: 0 measured (its summary row written), 1 stopped
 * before measuring (*status says why), or a negative code. *rc_out: the
 * code the measurement itself ended with. */
static int measure_phases(struct wl_run *c, const char **status, int *rc_out, struct tb_err *err)
{
    int rc = phase_model(c, err);
    if (rc)
        return rc;
    rc = phase_budget(c, status, err);
    if (rc)
        return rc;
    rc = run_measure_prepare(c, err);
    if (!rc)
        rc = run_measure_open(c, err);
    if (!rc)
        rc = run_measure_loop(c, err);
    if (rc == TB_ENONFINITE)
        return phase_nonfinite(c, status, err);
    *rc_out = rc; /* --no-cpu-fallback: a refusal stops the suite */
    if (rc && c->set.n == 0)
        return rc;
    rc = run_measure_derive(c, err);
    if (rc)
        return rc;
    run_tier_probe(c);
    run_accuracy(c);
    phase_model_check(c);
    json_object_set_new(c->rec, "status", json_string(c->set.valid ? "ok" : "invalid"));
    *status = c->set.valid ? "ok" : "INVALID";
    run_summary_row(c->run, c->rec, c->pr->p->name, c->wl_name, c->metric, c->st.median, c->st.p99,
                    c->tps, c->energy_txt, c->acc_txt, c->tier_txt, *status);
    return TB_OK;
}

int run_workload(struct run_ctx *run, struct profile_run *pr, const struct tb_profile_workload *wl,
                 int prompt_len, json_t *records, struct tb_err *err)
{
    const struct tb_run_opts *o = run->o;
    struct wl_run c = {.run = run,
                       .pr = pr,
                       .wl = wl,
                       .prompt_len = prompt_len,
                       .wl_name = tb_workload_kind_name(wl->kind),
                       .model_spec = o->model ? o->model : wl->model,
                       .energy_txt = "n/a",
                       .acc_txt = "n/a",
                       .tier_txt = "n/a"};
    snprintf(c.cov_label, sizeof c.cov_label, "%s p%d", c.wl_name, prompt_len);
    run_progress(run, pr->p->name, c.wl_name);
    c.rec = record_begin(&c);
    if (!c.rec)
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    const char *status = "error";
    int measured_rc = TB_OK;
    const int rc = measure_phases(&c, &status, &measured_rc, err);
    if (rc < 0) { /* the record says what went wrong; the suite goes on */
        json_object_set_new(c.rec, "status", json_string("error"));
        json_object_set_new(c.rec, "error", json_string(err->msg));
        status = "error";
        measured_rc = measured_rc ? measured_rc : rc;
    }
    /* no valid measurement: the exit status says so (TB_RUN_EXIT_FAILED);
     * a does-not-fit of a model --model asked about is the answer */
    if (rc < 0 || (rc == 0 && !c.set.valid) || c.nonfinite || (c.does_not_fit && !o->model))
        run->n_failed++;
    if (rc) /* not measured */
        run_summary_row(run, c.rec, pr->p->name, c.wl_name, "-", NAN, NAN, NAN, "n/a", "n/a",
                        status, status);
    struct tb_err ae = {0};
    const int arc = tb_results_append(run->res, c.rec, &ae);
    if (!arc)
        json_array_append(records, c.rec);
    run_print_record(run, c.rec);
    json_decref(c.rec);
    run_measure_free(&c);
    if (arc) { /* losing results is fatal: stop the suite */
        if (err)
            *err = ae;
        return arc;
    }
    if (o->no_cpu_fallback && measured_rc == TB_EUNSUPPORTED)
        return TB_EUNSUPPORTED;
    return TB_OK;
}

/* The measurement orchestrator behind `tierbench run`: for every selected
 * device profile and workload it applies the profile (threads + binding via
 * hwloc, ISA cap, memory budget, backend preference), measures each
 * configuration (in-process, or in a child under the watchdog), appends one
 * crash-safe record per configuration, and finally judges the profile's
 * SLOs. The parts live in run_*.c (see run_internal.h). */
#include "harness/tb_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/run_internal.h"

void tb_run_opts_default(struct tb_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->min_samples = 5;
    o->min_time_s = 1.0;
    o->max_time_s = 300.0;
    o->warmup = 1;
    o->out_dir = "tb-results";
    o->seed = 1;
    o->accuracy_positions = 32;
    o->kv_type = TB_TYPE_F32;
}

/* One configuration: in-process, or in a child under the watchdog; the
 * model file's identity is checked before and after. */
static int run_config(struct run_ctx *run, struct profile_run *pr,
                      const struct tb_profile_workload *wl, int prompt_len, json_t *records,
                      int *profile_done, struct tb_err *err)
{
    const struct tb_run_opts *o = run->o;
    char path[RUN_PATH_MAX], why[RUN_PATH_MAX + 256];
    struct tb_err me = {0};
    /* an unresolvable spec fails in the measuring process, with its record;
     * under the watchdog that process also generates a synthetic model, so
     * a profile that turns out unsupported never costs one (llama3-8b f16
     * is 16 GB) */
    const int watched = o->timeout_s > 0;
    const int have_path = run_find_model(o->model ? o->model : wl->model, o->cache_dir, o->seed,
                                         !watched, path, sizeof path, &me) == TB_OK;
    int rc = TB_OK;
    if (have_path && run_model_changed(run, path, why, sizeof why))
        rc = run_append_outcome(run, pr, wl, prompt_len, "MODEL-CHANGED", why, "model_change",
                                json_pack("{s:s}", "path", path), err);
    if (rc)
        return rc;
    const int before = run->n_incomplete;
    rc = watched ? run_watched(run, pr, wl, prompt_len, records, have_path ? path : NULL,
                               profile_done, err)
                 : run_workload(run, pr, wl, prompt_len, records, err);
    /* a change the outcome record did not already report (a model the
     * child generated is seen here for the first time) */
    const int have_after =
        have_path || run_find_model(o->model ? o->model : wl->model, o->cache_dir, o->seed, false,
                                    path, sizeof path, &me) == TB_OK;
    if (!rc && have_after && run->n_incomplete == before &&
        run_model_changed(run, path, why, sizeof why))
        rc = run_append_outcome(run, pr, wl, prompt_len, "MODEL-CHANGED", why, "model_change",
                                json_pack("{s:s}", "path", path), err);
    return rc;
}

static int run_profile(struct run_ctx *run, const struct tb_profile *p, int *any_fail,
                       struct tb_err *err)
{
    struct profile_run pr = {.p = p};
    tb_backend_config_default(&pr.cfg);
    struct tb_err he = {0};
    if (tb_file_hash(p->path, pr.profile_hash, &he))
        snprintf(pr.profile_hash, sizeof pr.profile_hash, "unavailable");
    int rc = run_apply_binding(run, &pr, err);
    if (rc)
        return rc;
    /* the preference list (or --backend), cpu appended: the scheduler places
     * every op on the first entry that supports it and says why not */
    pr.names = (const char(*)[32])p->backends;
    pr.n_listed = p->n_backends;
    if (run->o->backend) {
        snprintf(pr.one[0], sizeof pr.one[0], "%s", run->o->backend);
        pr.names = (const char(*)[32])pr.one;
        pr.n_listed = 1;
    }
    for (int i = 0; i < pr.n_listed; i++) {
        const size_t len = strlen(pr.prefs);
        snprintf(pr.prefs + len, sizeof pr.prefs - len, "%s%s", i ? ">" : "", pr.names[i]);
    }
    /* under the watchdog every child opens its own backends: the parent
     * holds no backend (and no thread pool) when it forks */
    const int watched = run->o->timeout_s > 0;
    if (!watched) {
        rc = run_open_backends(run, &pr, err);
        if (rc == TB_EUNSUPPORTED && pr.unsupported) {
            rc = run_record_unsupported(run, &pr, err);
            goto out;
        }
    }
    json_t *records = json_array();
    int profile_done = 0;
    for (int i = 0; !rc && !profile_done && i < p->n_workloads; i++) {
        const struct tb_profile_workload *wl = &p->workloads[i];
        if (!tb_list_has(run->o->workloads, tb_workload_kind_name(wl->kind)))
            continue;
        for (int j = 0; !rc && !profile_done && j < wl->n_prompts; j++) /* each length */
            rc = run_config(run, &pr, wl, wl->prompts[j], records, &profile_done, err);
    }
    if (!rc && !profile_done && p->n_slos)
        rc = run_judge_slos(run, p, records, any_fail, err);
    json_decref(records);
out:
    run_close_backends(&pr);
    json_decref(pr.binding);
    tb_bind_plan_free(&pr.plan);
    return rc;
}

/* Every name of the comma list must satisfy known(); the first that does
 * not is TB_EINVAL with what. */
static int check_list(const char *list, int (*known)(const void *, const char *, size_t),
                      const void *ctx, const char *what, const char *where, struct tb_err *err)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        const size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!known(ctx, p, len))
            return tb_err_set(err, TB_EINVAL, "%s '%.*s'%s%s", what, (int)len, p,
                              where ? " in " : "", where ? where : "");
        p += len + (e ? 1 : 0);
    }
    return TB_OK;
}

struct loaded {
    struct tb_profile **p;
    int n;
};

static int is_loaded_profile(const void *ctx, const char *name, size_t len)
{
    const struct loaded *l = ctx;
    for (int i = 0; i < l->n; i++)
        if (strlen(l->p[i]->name) == len && !strncmp(l->p[i]->name, name, len))
            return 1;
    return 0;
}

static int is_workload(const void *ctx, const char *name, size_t len)
{
    (void)ctx;
    for (int k = 0; k < TB_WL_COUNT; k++) {
        const char *w = tb_workload_kind_name((enum tb_workload_kind)k);
        if (strlen(w) == len && !strncmp(w, name, len))
            return 1;
    }
    return 0;
}

/* Loads and validates every profile of the directory (for the KV type the
 * run uses) before measuring anything; keeps the selected ones. */
static int load_profiles(const struct tb_run_opts *o, struct loaded *l, struct tb_err *err)
{
    char **paths = NULL;
    int n_paths = 0;
    int rc = tb_profile_dir_list(o->profiles_dir, &paths, &n_paths, err);
    if (rc)
        return rc;
    l->p = calloc((size_t)(n_paths ? n_paths : 1), sizeof *l->p);
    if (!l->p) {
        tb_profile_dir_list_free(paths, n_paths);
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    }
    for (int i = 0; !rc && i < n_paths; i++) {
        struct tb_profile *p = NULL;
        rc = tb_profile_load_kv(paths[i], o->kv_type, &p, err);
        if (rc)
            break;
        if (tb_list_has(o->profiles, p->name))
            l->p[l->n++] = p;
        else
            tb_profile_free(p);
    }
    tb_profile_dir_list_free(paths, n_paths);
    if (!rc && l->n == 0)
        rc = tb_err_set(err, TB_EINVAL, "no profile matches '%s' in %s",
                        o->profiles ? o->profiles : "*", o->profiles_dir);
    if (!rc) /* every named profile must exist */
        rc =
            check_list(o->profiles, is_loaded_profile, l, "no profile named", o->profiles_dir, err);
    if (!rc)
        rc = check_list(o->workloads, is_workload, NULL, "unknown workload", NULL, err);
    return rc;
}

/* Host topology, the results directory, the environment and the manifest. */
static int open_run(struct run_ctx *run, const struct loaded *l, json_t **manifest,
                    struct tb_err *err)
{
    const struct tb_run_opts *o = run->o;
    int rc = tb_topo_open_host(&run->topo, err);
    if (rc)
        return rc;
    tb_topo_summarize(run->topo, &run->topo_sum);
    rc = tb_results_open(o->out_dir, TB_RESULTS_NEW_SUBDIR, &run->res, err);
    if (rc)
        return rc;
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < l->p[i]->n_workloads; j++)
            run->n_total +=
                tb_list_has(o->workloads, tb_workload_kind_name(l->p[i]->workloads[j].kind))
                    ? l->p[i]->workloads[j].n_prompts
                    : 0;
    json_t *env = o->timeout_s > 0 ? run_build_env_isolated(run, err) : run_build_env(run, err);
    if (!env)
        rc = err->code ? err->code : TB_ENOMEM;
    run->env = env;
    json_t *plist = json_array();
    for (int i = 0; i < l->n; i++)
        json_array_append_new(plist, json_string(l->p[i]->name));
    *manifest =
        json_pack("{s:s, s:O, s:o, s:s, s:s, s:I, s:i, s:f, s:i}", "status", "running",
                  "environment", env ? env : json_null(), "profiles", plist, "profiles_dir",
                  o->profiles_dir, "cache_dir", o->cache_dir, "seed", (json_int_t)o->seed,
                  "min_samples", o->min_samples, "min_time_s", o->min_time_s, "warmup", o->warmup);
    json_object_set_new(*manifest, "timeout_s", tb_json_number(o->timeout_s));
    if (!rc)
        rc = tb_results_write_manifest(run->res, *manifest, err);
    if (!rc && !o->quiet)
        fprintf(stderr, "tierbench: %d profile(s), %d run(s); results in %s\n", l->n, run->n_total,
                tb_results_dir(run->res));
    return rc;
}

/* The final manifest, summary table, coverage matrix; closes the results.
 * Returns rc, or the first error of these when rc was 0. */
static int finish_run(struct run_ctx *run, json_t *manifest, int rc, struct tb_err *err)
{
    const struct tb_run_opts *o = run->o;
    if (manifest) {
        json_object_set_new(manifest, "status", json_string(rc ? "failed" : "complete"));
        json_object_set_new(
            manifest, "records",
            json_integer((json_int_t)(tb_results_count(run->res) + run->n_child_records)));
        json_object_set_new(manifest, "incomplete_configurations", json_integer(run->n_incomplete));
        json_object_set_new(manifest, "failed_configurations", json_integer(run->n_failed));
        if (rc)
            json_object_set_new(manifest, "error", json_string(err->msg));
        struct tb_err me = {0};
        if (tb_results_write_manifest(run->res, manifest, &me) && !rc) {
            *err = me;
            rc = me.code;
        }
    }
    if (!o->quiet)
        run_print_summary(run->summary, stdout);
    if (run->n_cov) {
        struct tb_err we = {0};
        if (run_write_coverage(run, &we) && !rc) {
            *err = we;
            rc = we.code;
        }
        if (!o->quiet) {
            printf("\ntier coverage (where every op really ran):\n\n");
            tb_coverage_write_markdown(stdout, run->cov, run->n_cov);
        }
    }
    if (!rc && !o->quiet)
        printf("\nresults: %s\n", tb_results_dir(run->res));
    struct tb_err ce = {0};
    if (tb_results_close(run->res, &ce) && !rc) {
        *err = ce;
        rc = ce.code;
    }
    return rc;
}

/* Frees the coverage rows; 1 when one of them fails the --fail-on gate. */
static int coverage_gate(struct run_ctx *run)
{
    int gate_fail = 0;
    for (int i = 0; i < run->n_cov; i++) {
        gate_fail |= tb_coverage_fails(&run->cov[i], (enum tb_fail_on)run->o->fail_on);
        tb_coverage_free(&run->cov[i]);
    }
    free(run->cov);
    return gate_fail;
}

/* A directory the run builds paths inside must leave room for them: a
 * one-line error before anything is written (a truncated path would name
 * another file). */
static int check_room(const char *what, const char *dir, size_t suffix, struct tb_err *err)
{
    const size_t len = dir ? strlen(dir) : 0;
    if (len + suffix < RUN_PATH_MAX)
        return TB_OK;
    return tb_err_set(err, TB_EINVAL,
                      "%s path too long: %.48s... (%zu chars; paths inside it must fit %d, so "
                      "at most %zu)",
                      what, dir, len, RUN_PATH_MAX - 1, (size_t)RUN_PATH_MAX - 1 - suffix);
}

/* --backend names a backend a profile may list or one the engine has
 * (available on this host or not: that is the run's "unsupported"). */
static int check_backend(const char *name, struct tb_err *err)
{
    const char *const *lists[2] = {tb_profile_backend_names(), tb_backend_names()};
    char known[256] = "";
    size_t k = 0;
    for (int l = 0; l < 2; l++)
        for (const char *const *n = lists[l]; *n; n++) {
            if (!strcmp(*n, name))
                return TB_OK;
            int dup = 0; /* named by the profile list already */
            for (const char *const *m = lists[0]; l == 1 && *m; m++)
                dup |= !strcmp(*m, *n);
            if (!dup && k < sizeof known)
                k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "", *n);
        }
    return tb_err_set(err, TB_EINVAL, "--backend '%s' unknown (%s)", name, known);
}

int tb_run(const struct tb_run_opts *o_in, int *exit_code, struct tb_err *err)
{
    struct tb_run_opts o = *o_in;
    char dir_buf[RUN_PATH_MAX];
    if (!o.profiles_dir) {
        const char *e = getenv("TB_PROFILES_DIR");
        const int prc = tb_path_join(dir_buf, sizeof dir_buf, err, "%s",
                                     e && *e ? e : TB_SOURCE_DIR "/device_profiles");
        if (prc)
            return tb_err_wrap(err, prc, "$TB_PROFILES_DIR");
        o.profiles_dir = dir_buf;
    }
    if (!o.cache_dir) {
        const char *e = getenv("TB_CACHE_DIR");
        o.cache_dir = e && *e ? e : ".tb-cache";
    }
    *exit_code = 0;
    int rc = check_room("results (--out)", o.out_dir, RUN_OUT_SUFFIX_MAX, err);
    if (!rc)
        rc = check_room("model cache (--cache)", o.cache_dir, RUN_CACHE_SUFFIX_MAX, err);
    /* a model the user named is checked before anything runs: a typo is a
     * usage error (exit 2), not a suite of "error" records */
    if (!rc && o.model)
        rc = tb_run_check_model("--model", o.model, 1, err);
    if (!rc && o.backend)
        rc = check_backend(o.backend, err);
    if (!rc && o.reference_model)
        rc = tb_run_check_model("--reference-model", o.reference_model, 0, err);
    if (!rc && o.energy)
        rc = tb_energy_check_source(o.energy, err);
    if (rc)
        return rc;
    struct loaded l = {0};
    rc = load_profiles(&o, &l, err);
    if (rc && !l.p)
        return rc;
    struct run_ctx run = {.o = &o, .tty = isatty(2)};
    run.summary = json_array();
    json_t *manifest = NULL;
    if (!rc)
        rc = open_run(&run, &l, &manifest, err);
    int any_fail = 0;
    for (int i = 0; !rc && i < l.n; i++)
        rc = run_profile(&run, l.p[i], &any_fail, err);
    if (run.tty && !o.quiet)
        fputc('\n', stderr);
    if (run.res)
        rc = finish_run(&run, manifest, rc, err);
    json_decref(manifest);
    json_decref(run.env);
    json_decref(run.summary);
    free(run.models);
    tb_topo_free(run.topo);
    for (int i = 0; i < l.n; i++)
        tb_profile_free(l.p[i]);
    free(l.p);
    const int gate_fail = coverage_gate(&run);
    if (!rc && gate_fail && !o.quiet)
        fprintf(stderr, "tierbench run: tier coverage fails the --fail-on gate\n");
    if (!rc && run.n_incomplete && !o.quiet)
        fprintf(stderr,
                "tierbench run: %d configuration(s) ended TIMEOUT, CRASHED or "
                "MODEL-CHANGED (see the results)\n",
                run.n_incomplete);
    if (!rc && run.n_failed && !o.quiet)
        fprintf(stderr,
                "tierbench run: %d configuration(s) produced no valid measurement "
                "(status error, invalid or does-not-fit; see the results)\n",
                run.n_failed);
    if (!rc)
        *exit_code = run.n_incomplete        ? TB_RUN_EXIT_INCOMPLETE
                     : run.n_failed          ? TB_RUN_EXIT_FAILED
                     : any_fail || gate_fail ? 1
                                             : 0;
    return rc;
}

/* tierbench coverage: for each device profile, places its llm-decode (or
 * first) workload's model graph on the profile's backend preference list,
 * runs a few decode evals with evidence, and prints/writes the tier
 * coverage matrix (Markdown, CSV, JSON). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/cli/tb_cli.h"
#include "kernels/tb_util.h"
#include "harness/tb_coverage.h"
#include "harness/tb_profile.h"
#include "harness/tb_results.h"
#include "harness/tb_run.h"
#include "workloads/tb_llama.h"

struct cov_opts {
    const char *dir, *profiles, *model, *out_dir, *cache_dir;
    int evals, check_period, no_cpu_fallback, enforce_kind, quiet;
    enum tb_fail_on fail_on;
    uint64_t seed;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tierbench coverage [--profile P,...] [--dir DIR] [--model SPEC]\n"
            "                          [--evals N] [--check-every N] [--no-cpu-fallback]\n"
            "                          [--enforce-kind] [--fail-on silent-fallback|any-fallback]\n"
            "                          [--out DIR] [--cache-dir DIR] [--seed N] [--quiet]\n"
            "  For each profile: places the llm-decode (else first) workload's model on the\n"
            "  profile's backend list, runs N decode evals (default 4) collecting evidence per\n"
            "  op, and prints the coverage matrix. --enforce-kind rejects a backend whose\n"
            "  device is not the kind the profile asked for (declared instead of detected).\n"
            "  --out DIR writes coverage.md, coverage.csv and coverage.json.\n"
            "  Exit code: 1 when a row fails --fail-on or --no-cpu-fallback refused a\n"
            "  placement, 2 on usage/input errors.\n");
}

static const struct tb_profile_workload *pick_workload(const struct tb_profile *p)
{
    const struct tb_profile_workload *wl = tb_profile_workload(p, TB_WL_LLM_DECODE);
    return wl ? wl : (p->n_workloads ? &p->workloads[0] : NULL);
}

/* One profile -> one matrix row. Returns a negative code only for errors
 * that are not a verdict (I/O, allocation); placement and fit problems
 * become the row's verdict. */
static int cover_profile(const struct cov_opts *o, const struct tb_profile *p,
                         struct tb_coverage *row, int *refused, struct tb_err *err)
{
    *refused = 0;
    const struct tb_profile_workload *wl = pick_workload(p);
    if (!wl) {
        tb_coverage_failed(p->name, "-", "-", TB_COV_UNSUPPORTED, "profile has no workload", row);
        return TB_OK;
    }
    const char *wname = tb_workload_kind_name(wl->kind);
    const char *spec = o->model ? o->model : wl->model;
    if (!o->model && wl->synth) {
        const uint64_t avail =
            (uint64_t)sysconf(_SC_AVPHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
        if (wl->need_bytes > avail) {
            char need[32], have[32], why[160];
            tb_format_bytes(wl->need_bytes, need, sizeof need);
            tb_format_bytes(avail, have, sizeof have);
            snprintf(why, sizeof why, "model needs %s, this host has %s available", need, have);
            tb_coverage_failed(p->name, wname, spec, TB_COV_DOES_NOT_FIT, why, row);
            return TB_OK;
        }
    }
    char path[1024];
    int rc = tb_run_resolve_model(spec, o->cache_dir, o->seed, path, sizeof path, err);
    if (rc)
        return rc;
    struct tb_llama_model *m = NULL;
    rc = tb_llama_load(path, &m, err);
    if (rc)
        return rc;
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    /* no more workers than CPUs: an oversubscribed spinning pool would
     * bill its own contention to the fallback ops (run.c's binding plan
     * caps the same way) */
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.n_threads =
        (online > 0 && (p->threads == 0 || p->threads > online)) ? (int)online : p->threads;
    cfg.isa_cap = (enum tb_isa)p->isa_cap;
    struct tb_sched_backends bs;
    struct tb_sched_opts so;
    tb_sched_opts_default(&so);
    so.accel_op_classes = (const char(*)[16])p->accel_op_classes;
    so.n_accel_op_classes = p->n_accel_op_classes;
    so.no_cpu_fallback = o->no_cpu_fallback;
    so.kind_policy = o->enforce_kind ? TB_SCHED_KIND_ENFORCE : TB_SCHED_KIND_TRUST;
    struct tb_tier_probe *tp = NULL;
    struct tb_llama_state *st = NULL;
    rc = tb_sched_backends_open((const char(*)[32])p->backends, p->n_backends, &cfg, &bs, err);
    if (rc) {
        tb_llama_free(m);
        return rc;
    }
    rc = tb_tier_probe_create(bs.e, bs.n, &so, NULL, o->check_period, &tp, err);
    if (!rc)
        rc = tb_llama_state_build(m, 1, o->evals + 1, &st, err);
    const int32_t V = m->config.vocab_size;
    /* one warm-up step (kernel builds, weight uploads), then evidence runs */
    for (int i = 0; !rc && i <= o->evals; i++) {
        const int32_t tok = (int32_t)((7u * (unsigned)i + 1u) % (unsigned)V);
        if (i == 0) {
            struct tb_sched_run run = {.sched = tb_tier_probe_sched(tp)};
            rc = tb_llama_eval_with(m, st, tb_sched_graph_runner, &run, &tok, 1, 0,
                                    TB_LLAMA_LAST_LOGITS, NULL, err);
        } else {
            rc = tb_llama_eval_with(m, st, tb_tier_probe_runner, tp, &tok, 1, i,
                                    TB_LLAMA_LAST_LOGITS, NULL, err);
        }
    }
    if (!rc) {
        rc = tb_tier_probe_coverage(tp, p->name, wname, spec, row, err);
    } else if (rc == TB_EUNSUPPORTED || rc == TB_EBUDGET || rc == TB_ENOMEM) {
        /* a placement refusal (--no-cpu-fallback) or a model that does not fit */
        *refused = rc == TB_EUNSUPPORTED && o->no_cpu_fallback;
        tb_coverage_failed(p->name, wname, spec,
                           rc == TB_EUNSUPPORTED ? TB_COV_UNSUPPORTED : TB_COV_DOES_NOT_FIT,
                           err->msg, row);
        rc = TB_OK;
    }
    tb_llama_state_free(st);
    tb_tier_probe_free(tp);
    tb_sched_backends_close(&bs);
    tb_llama_free(m);
    return rc;
}

static int write_outputs(const char *dir, const struct tb_coverage *rows, int n, struct tb_err *err)
{
    char path[4096];
    /* the longest name first: a --out without room fails before mkdir */
    int rc = tb_path_join(path, sizeof path, err, "%s/coverage.json", dir);
    if (rc)
        return rc;
    if (mkdir(dir, 0777) && errno != EEXIST)
        return tb_err_set(err, TB_EIO, "%s: cannot create: %s", dir, strerror(errno));
    rc = tb_path_join(path, sizeof path, err, "%s/coverage.md", dir);
    if (rc)
        return rc;
    FILE *f = fopen(path, "w");
    rc = f ? tb_coverage_write_markdown(f, rows, n) : TB_EIO;
    if (f && fclose(f))
        rc = TB_EIO;
    if (rc)
        return tb_err_set(err, TB_EIO, "%s: cannot write", path);
    rc = tb_path_join(path, sizeof path, err, "%s/coverage.csv", dir);
    if (rc)
        return rc;
    f = fopen(path, "w");
    rc = f ? tb_coverage_write_csv(f, rows, n) : TB_EIO;
    if (f && fclose(f))
        rc = TB_EIO;
    if (rc)
        return tb_err_set(err, TB_EIO, "%s: cannot write", path);
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        json_array_append_new(arr, tb_coverage_to_json(&rows[i]));
    rc = tb_path_join(path, sizeof path, err, "%s/coverage.json", dir);
    if (!rc)
        rc = arr ? tb_json_write_atomic(path, arr, err)
                 : tb_err_set(err, TB_ENOMEM, "out of memory");
    json_decref(arr);
    return rc;
}

enum {
    OPT_PROFILE = 1000,
    OPT_DIR,
    OPT_MODEL,
    OPT_OUT,
    OPT_CACHE,
    OPT_EVALS,
    OPT_CHECK,
    OPT_SEED,
    OPT_FAIL_ON,
    OPT_NO_FALLBACK,
    OPT_ENFORCE,
    OPT_QUIET
};

/* getopt_long into o: TB_EXIT_OK, TB_EXIT_USAGE (said why) or -1 (--help printed). */
static int parse_args(int argc, char **argv, struct cov_opts *o)
{
    static const struct option opts[] = {{"profile", required_argument, NULL, OPT_PROFILE},
                                         {"dir", required_argument, NULL, OPT_DIR},
                                         {"model", required_argument, NULL, OPT_MODEL},
                                         {"out", required_argument, NULL, OPT_OUT},
                                         {"cache-dir", required_argument, NULL, OPT_CACHE},
                                         {"evals", required_argument, NULL, OPT_EVALS},
                                         {"check-every", required_argument, NULL, OPT_CHECK},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"fail-on", required_argument, NULL, OPT_FAIL_ON},
                                         {"no-cpu-fallback", no_argument, NULL, OPT_NO_FALLBACK},
                                         {"enforce-kind", no_argument, NULL, OPT_ENFORCE},
                                         {"quiet", no_argument, NULL, OPT_QUIET},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *v = optarg, *bad = NULL;
        int s = 0;
        switch (c) {
        case 'h': usage(stdout); return -1;
        case OPT_PROFILE: o->profiles = v; break;
        case OPT_DIR: o->dir = v; break;
        case OPT_MODEL: o->model = v; break;
        case OPT_OUT: o->out_dir = v; break;
        case OPT_CACHE: o->cache_dir = v; break;
        case OPT_NO_FALLBACK: o->no_cpu_fallback = 1; break;
        case OPT_ENFORCE: o->enforce_kind = 1; break;
        case OPT_QUIET: o->quiet = 1; break;
        case OPT_EVALS:
            if (tb_parse_int(v, 1, 1000000, &o->evals))
                bad = "--evals: an integer in [1, 1000000]";
            break;
        case OPT_CHECK:
            if (tb_parse_int(v, 0, 1000000, &o->check_period))
                bad = "--check-every: an integer in [0, 1000000]";
            break;
        case OPT_SEED:
            if (tb_parse_int(v, 0, 1000000, &s))
                bad = "--seed: an integer in [0, 1000000]";
            o->seed = (uint64_t)s;
            break;
        case OPT_FAIL_ON:
            s = tb_fail_on_from_name(v);
            if (s < 0)
                bad = "--fail-on: silent-fallback or any-fallback";
            o->fail_on = (enum tb_fail_on)(s < 0 ? 0 : s);
            break;
        default: return tb_cli_opt_error("coverage", c, argv);
        }
        if (bad) {
            fprintf(stderr, "tierbench coverage: bad value '%s' for %s\n", v, bad);
            return TB_EXIT_USAGE;
        }
    }
    if (tb_cli_no_args("coverage", argc, argv))
        return TB_EXIT_USAGE;
    struct tb_err err = {0};
    if (o->model && tb_run_check_model("--model", o->model, 1, &err)) {
        fprintf(stderr, "tierbench coverage: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}

int tb_cli_coverage(int argc, char **argv)
{
    struct cov_opts o = {.evals = 4, .check_period = 7, .fail_on = TB_FAIL_ON_NONE, .seed = 1};
    o.dir = getenv("TB_PROFILES_DIR");
    if (!o.dir || !*o.dir)
        o.dir = TB_SOURCE_DIR "/device_profiles";
    o.cache_dir = getenv("TB_CACHE_DIR");
    if (!o.cache_dir || !*o.cache_dir)
        o.cache_dir = ".tb-cache";
    const int prc = parse_args(argc, argv, &o);
    if (prc)
        return prc < 0 ? TB_EXIT_OK : prc;
    struct tb_err err = {0};
    char **paths = NULL;
    int n_paths = 0;
    if (tb_profile_dir_list(o.dir, &paths, &n_paths, &err)) {
        fprintf(stderr, "coverage: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    struct tb_coverage *rows = calloc(n_paths > 0 ? (size_t)n_paths : 1, sizeof *rows);
    int n_rows = 0, code = TB_EXIT_OK, matched = 0, any_refused = 0;
    for (int i = 0; rows && i < n_paths && code == TB_EXIT_OK; i++) {
        struct tb_profile *p = NULL;
        if (tb_profile_load(paths[i], &p, &err)) {
            fprintf(stderr, "coverage: %s\n", err.msg);
            code = TB_EXIT_USAGE;
            break;
        }
        if (tb_list_has(o.profiles, p->name)) {
            matched++;
            if (!o.quiet)
                fprintf(stderr, "coverage: %s ...\n", p->name);
            int refused = 0;
            if (cover_profile(&o, p, &rows[n_rows], &refused, &err)) {
                fprintf(stderr, "coverage: %s: %s\n", p->name, err.msg);
                code = TB_EXIT_USAGE;
            } else {
                n_rows++;
                any_refused |= refused;
            }
        }
        tb_profile_free(p);
    }
    tb_profile_dir_list_free(paths, n_paths);
    if (!rows) {
        fprintf(stderr, "coverage: out of memory\n");
        return TB_EXIT_USAGE;
    }
    if (code == TB_EXIT_OK && !matched) {
        fprintf(stderr, "coverage: no profile in %s matches '%s'\n", o.dir, o.profiles);
        code = TB_EXIT_USAGE;
    }
    if (n_rows) {
        tb_coverage_write_markdown(stdout, rows, n_rows);
        for (int i = 0; i < n_rows; i++) {
            if (rows[i].verdict != TB_COV_ON_TARGET)
                printf("\n%s / %s: %s: %s\n", rows[i].profile, rows[i].workload,
                       tb_coverage_verdict_name(rows[i].verdict), rows[i].why);
            if (code == TB_EXIT_OK && tb_coverage_fails(&rows[i], o.fail_on))
                code = TB_EXIT_FAIL;
        }
    }
    if (code == TB_EXIT_OK && any_refused)
        code = TB_EXIT_FAIL; /* --no-cpu-fallback: a fallback is a failure */
    if (n_rows && o.out_dir && write_outputs(o.out_dir, rows, n_rows, &err)) {
        fprintf(stderr, "coverage: %s\n", err.msg);
        code = TB_EXIT_USAGE;
    }
    for (int i = 0; i < n_rows; i++)
        tb_coverage_free(&rows[i]);
    free(rows);
    return code;
}

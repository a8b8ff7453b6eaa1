/* The measurement orchestrator behind `tierbench run`: for every selected
 * device profile and workload it applies the profile (threads + binding via
 * hwloc, ISA cap, memory budget, backend preference), measures with the
 * LoadGen-style loop, reads counters/energy/memory, checks accuracy against
 * the reference, appends one crash-safe record, and finally judges the
 * profile's SLOs. Figures that cannot be measured are recorded as
 * unavailable with the reason, never as zero. */
#include "harness/tb_run.h"

#include <errno.h>
#include <stdarg.h>
#include <hwloc.h>
#include <inttypes.h>
#include <math.h>
#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_accuracy.h"
#include "harness/tb_counters.h"
#include "harness/tb_coverage.h"
#include "harness/tb_energy.h"
#include "harness/tb_env.h"
#include "harness/tb_profile.h"
#include "harness/tb_results.h"
#include "harness/tb_stability.h"
#include "harness/tb_stats.h"
#include "harness/tb_topo.h"
#include "kernels/tb_backend_impl.h"
#include "kernels/tb_sched.h"
#include "workloads/tb_llama.h"
#include "workloads/tb_workload.h"

#define PATH_MAX_TB 1024

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
}

/* ------------------------------------------------------------ helpers */

/* Bounded copy that cuts long text (messages may be longer than fields). */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_seconds(void)
{
    return (double)tb_now_ns() * 1e-9;
}

/* Resets the kernel's peak-RSS mark so each workload reports its own peak;
 * returns 0 when the reset worked. */
static int peak_rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static long long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* True if name is in the comma list (NULL list = everything). */
static int in_list(const char *list, const char *name)
{
    if (!list)
        return 1;
    const size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        const size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

static int mkdir_p(const char *path, struct tb_err *err)
{
    char buf[PATH_MAX_TB];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return tb_err_set(err, TB_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return tb_err_set(err, TB_EIO, "%s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return tb_err_set(err, TB_EIO, "%s: %s", buf, strerror(errno));
    return TB_OK;
}

static int parse_synth(const char *spec, char *shape, size_t n, int *type)
{
    if (strncmp(spec, "synth:", 6))
        return 0;
    const char *s = spec + 6, *c = strchr(s, ':');
    if (!c || (size_t)(c - s) >= n)
        return -1;
    memcpy(shape, s, (size_t)(c - s));
    shape[c - s] = '\0';
    *type = tb_type_from_name(c + 1);
    return (*type < 0 || !tb_synth_find(shape)) ? -1 : 1;
}

int tb_run_resolve_model(const char *spec, const char *cache_dir, uint64_t seed, char *out,
                         size_t n, struct tb_err *err)
{
    char shape[64];
    int type;
    const int k = parse_synth(spec, shape, sizeof shape, &type);
    if (k < 0)
        return tb_err_set(err, TB_EINVAL, "model '%s': expected synth:SHAPE:TYPE with a known "
                          "shape and type f32|f16|q8_0|q4_0", spec);
    if (k == 0) {
        if (snprintf(out, n, "%s", spec) >= (int)n)
            return tb_err_set(err, TB_EINVAL, "%s: path too long", spec);
        return TB_OK;
    }
    int rc = mkdir_p(cache_dir, err);
    if (rc)
        return tb_err_prefix(err, "model cache");
    if (snprintf(out, n, "%s/%s-%s-s%" PRIu64 ".gguf", cache_dir, shape, tb_type_name(type),
                 seed) >= (int)n)
        return tb_err_set(err, TB_EINVAL, "%s: cache path too long", cache_dir);
    if (access(out, R_OK) == 0)
        return TB_OK; /* cached: tb_synth_write renames into place, so it is whole */
    fprintf(stderr, "tierbench: generating %s (first use, cached for later runs)\n", out);
    return tb_synth_write(shape, type, seed, out, err);
}

/* ------------------------------------------------- backend preference */

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

/* ------------------------------------------------------ measurement fns */

struct wl_ctx {
    struct tb_llm_session ss;
    enum tb_workload_kind kind;
    int32_t first_token;
    float *embedding; /* embed: [dim] output of the last sample */
    /* llm-generate side figures, one per measured or warm-up call */
    double *ttft, *tpot;
    size_t n_side, cap_side;
};

static int push_side(struct wl_ctx *w, double ttft, double tpot)
{
    if (w->n_side == w->cap_side) {
        size_t cap = w->cap_side ? 2 * w->cap_side : 64;
        double *a = realloc(w->ttft, cap * sizeof *a);
        if (!a)
            return TB_ENOMEM;
        w->ttft = a;
        double *b = realloc(w->tpot, cap * sizeof *b);
        if (!b)
            return TB_ENOMEM;
        w->tpot = b;
        w->cap_side = cap;
    }
    w->ttft[w->n_side] = ttft;
    w->tpot[w->n_side] = tpot;
    w->n_side++;
    return TB_OK;
}

static int sample_fn(void *user, double *sample, struct tb_err *err)
{
    struct wl_ctx *w = user;
    switch (w->kind) {
    case TB_WL_LLM_PREFILL:
        return tb_llm_prefill(&w->ss, sample, &w->first_token, err);
    case TB_WL_LLM_DECODE: {
        int32_t next;
        return tb_llm_decode_step(&w->ss, w->ss.n_prompt, w->first_token, &next, sample, err);
    }
    case TB_WL_LLM_GENERATE: {
        struct tb_gen_timing t;
        int rc = tb_llm_generate(&w->ss, &t, NULL, err);
        if (rc)
            return rc;
        *sample = t.total_s;
        rc = push_side(w, t.ttft_s, t.n_decoded ? t.decode_s / t.n_decoded : NAN);
        return rc ? tb_err_set(err, rc, "out of memory") : TB_OK;
    }
    case TB_WL_EMBED:
        return tb_embed_run(&w->ss, w->embedding, sample, err);
    default:
        return tb_err_set(err, TB_EUNSUPPORTED, "workload %s is not supported by this build",
                          tb_workload_kind_name(w->kind));
    }
}

/* ------------------------------------------------------------ accuracy */

/* Reference logits, cached per reference model for the whole run. */
struct ref_cache {
    char path[PATH_MAX_TB];
    int32_t n_pos, vocab;
    float *logits;
    struct ref_cache *next;
};

static int teacher_forced_logits(const char *path, const char *backend,
                                 const struct tb_backend_config *cfg, const int32_t *tokens,
                                 int32_t n_pos, float **out, int32_t *vocab, struct tb_err *err)
{
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_backend *b = NULL;
    float *logits = NULL;
    int rc = tb_llama_load(path, &m, err);
    if (!rc)
        rc = tb_llama_state_build(m, n_pos, n_pos, &s, err);
    if (!rc)
        rc = tb_backend_create(backend, cfg, &b, err);
    if (!rc)
        rc = tb_llama_eval(m, s, b, tokens, n_pos, 0, 1, NULL, err);
    if (!rc) {
        *vocab = m->config.vocab_size;
        const size_t bytes = sizeof(float) * (size_t)n_pos * (size_t)*vocab;
        logits = malloc(bytes);
        if (!logits)
            rc = tb_err_set(err, TB_ENOMEM, "accuracy: out of memory");
        else
            memcpy(logits, tb_llama_logits(s, 0), bytes);
    }
    tb_backend_free(b);
    tb_llama_state_free(s);
    tb_llama_free(m);
    *out = logits;
    return rc;
}

/* Reference for a synthetic model: cpu-ref on the f32 model of the same
 * shape and seed (quantization loss + kernel error). For a user file:
 * cpu-ref on --reference-model, else on the same file (kernel fidelity). */
static int accuracy_eval(const struct tb_run_opts *o, struct ref_cache **cache,
                         const char *model_spec, const char *model_path,
                         tb_llama_graph_runner run, void *run_ctx, const struct tb_llama_model *m,
                         json_t *rec, struct tb_err *err)
{
    const int32_t n_pos = o->accuracy_positions < m->config.ctx_len ? o->accuracy_positions
                                                                    : m->config.ctx_len;
    char ref_path[PATH_MAX_TB], shape[64], what[PATH_MAX_TB + 64];
    int type;
    int rc;
    if (parse_synth(model_spec, shape, sizeof shape, &type) > 0) {
        char spec[128];
        snprintf(spec, sizeof spec, "synth:%s:f32", shape);
        rc = tb_run_resolve_model(spec, o->cache_dir, o->seed, ref_path, sizeof ref_path, err);
        if (rc)
            return rc;
        snprintf(what, sizeof what, "cpu-ref on synth:%s:f32 (same seed)", shape);
    } else {
        snprintf(ref_path, sizeof ref_path, "%s",
                 o->reference_model ? o->reference_model : model_path);
        snprintf(what, sizeof what, "cpu-ref on %s", ref_path);
    }
    int32_t *tokens = malloc(sizeof *tokens * (size_t)n_pos);
    if (!tokens)
        return tb_err_set(err, TB_ENOMEM, "accuracy: out of memory");
    tb_workload_prompt(o->seed ^ 0xacc, m->config.vocab_size, tokens, n_pos);

    struct ref_cache *rcache = NULL;
    for (struct ref_cache *c = *cache; c; c = c->next)
        if (!strcmp(c->path, ref_path) && c->n_pos == n_pos)
            rcache = c;
    if (!rcache) {
        rcache = calloc(1, sizeof *rcache);
        if (!rcache) {
            free(tokens);
            return tb_err_set(err, TB_ENOMEM, "accuracy: out of memory");
        }
        snprintf(rcache->path, sizeof rcache->path, "%s", ref_path);
        rcache->n_pos = n_pos;
        rc = teacher_forced_logits(ref_path, "cpu-ref", NULL, tokens, n_pos, &rcache->logits,
                                   &rcache->vocab, err);
        if (rc) {
            free(rcache);
            free(tokens);
            return tb_err_prefix(err, "accuracy reference %s", ref_path);
        }
        rcache->next = *cache;
        *cache = rcache;
    }
    /* the run's own backend and settings, on a fresh state */
    struct tb_llama_state *s = NULL;
    rc = tb_llama_state_build(m, n_pos, n_pos, &s, err);
    if (!rc)
        rc = tb_llama_eval_with(m, s, run, run_ctx, tokens, n_pos, 0, TB_LLAMA_ALL_LOGITS, NULL,
                                err);
    struct tb_accuracy acc;
    if (!rc && rcache->vocab != m->config.vocab_size)
        rc = tb_err_set(err, TB_EINVAL, "accuracy: reference vocabulary %d != model %d",
                        rcache->vocab, m->config.vocab_size);
    if (!rc)
        rc = tb_accuracy_compare(rcache->logits, tb_llama_logits(s, 0), n_pos,
                                 m->config.vocab_size, &acc, err);
    tb_llama_state_free(s);
    free(tokens);
    if (rc)
        return rc;
    json_object_set_new(rec, "accuracy",
                        json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:i}", "reference", what,
                                  "positions", n_pos, "top1_agreement",
                                  tb_json_number(acc.top1_agreement), "kl_mean",
                                  tb_json_number(acc.kl_mean), "kl_p99",
                                  tb_json_number(acc.kl_p99), "max_abs_logit_error",
                                  tb_json_number(acc.max_abs_err), "non_finite_positions",
                                  acc.non_finite));
    return TB_OK;
}

/* ---------------------------------------------------------- one workload */

struct run_ctx {
    const struct tb_run_opts *o;
    struct tb_results *res;
    struct tb_topo *topo;
    struct tb_topo_summary topo_sum;
    struct ref_cache *refs;
    int n_done, n_total;
    int tty;
    json_t *summary; /* rows for the final table */
    json_t *env;     /* environment, attached to every record */
    struct tb_coverage *cov; /* coverage matrix rows (owned) */
    int n_cov, cap_cov;
};

/* Takes ownership of *c (a row of the coverage matrix). */
static void keep_coverage(struct run_ctx *rc, struct tb_coverage *c)
{
    if (rc->n_cov == rc->cap_cov) {
        const int cap = rc->cap_cov ? 2 * rc->cap_cov : 16;
        struct tb_coverage *a = realloc(rc->cov, sizeof *a * (size_t)cap);
        if (!a) { /* the matrix loses a row; the record still has it */
            tb_coverage_free(c);
            return;
        }
        rc->cov = a;
        rc->cap_cov = cap;
    }
    rc->cov[rc->n_cov++] = *c;
}

static void progress(struct run_ctx *rc, const char *profile, const char *wl)
{
    if (rc->o->quiet)
        return;
    rc->n_done++;
    if (rc->tty) {
        const int width = 24, fill = rc->n_total ? rc->n_done * width / rc->n_total : 0;
        fprintf(stderr, "\r[%.*s%*s] %d/%d %-20s %-14s", fill, "########################",
                width - fill, "", rc->n_done, rc->n_total, profile, wl);
    } else {
        fprintf(stderr, "[%d/%d] %s %s\n", rc->n_done, rc->n_total, profile, wl);
    }
}

static json_t *stats_obj(const double *x, size_t n)
{
    struct tb_stats st;
    if (n == 0 || tb_stats_compute(x, n, NULL, &st, NULL))
        return json_null();
    return tb_stats_to_json(&st);
}

static double median_of(const double *x, size_t n)
{
    struct tb_stats st;
    struct tb_stats_opts so;
    tb_stats_opts_default(&so);
    so.bootstrap_resamples = 0;
    if (n == 0 || tb_stats_compute(x, n, &so, &st, NULL))
        return NAN;
    return st.median;
}

static void set_counters(json_t *rec, struct tb_counters *c, const char *reason_if_off,
                         double cpu_s, double wall_s)
{
    json_t *o = json_object();
    json_object_set_new(o, "scope", json_string(tb_counters_scope(c)));
    if (reason_if_off)
        json_object_set_new(o, "disabled_reason", json_string(reason_if_off));
    json_t *ev = json_object();
    for (int i = 0; i < tb_counters_n(c); i++) {
        const struct tb_counter *k = tb_counters_get(c, i);
        json_object_set_new(ev, k->name,
                            k->available ? json_pack("{s:I}", "value", (json_int_t)k->value)
                                         : json_pack("{s:s}", "unavailable", k->reason));
    }
    json_object_set_new(o, "events", ev);
    const char *why = NULL;
    json_object_set_new(o, "multiplexed", json_boolean(tb_counters_multiplexed(c, &why)));
    double ipc, miss;
    const char *what = NULL;
    json_object_set_new(o, "ipc", tb_counters_ipc(c, &ipc) ? json_string("unavailable: "
                                                                         "PAPI_TOT_INS/PAPI_TOT_CYC not counted")
                                                           : tb_json_number(ipc));
    json_object_set_new(o, "cache_miss_rate",
                        tb_counters_miss_rate(c, &miss, &what)
                            ? json_string("unavailable: no miss/access event pair counted")
                            : json_pack("{s:o, s:s}", "value", tb_json_number(miss), "events",
                                        what ? what : ""));
    /* independent of PAPI: whole-process CPU time over the measured window */
    json_object_set_new(o, "process_cpu_seconds", tb_json_number(cpu_s));
    json_object_set_new(o, "wall_seconds", tb_json_number(wall_s));
    json_object_set_new(rec, "counters", o);
}

/* Per-op-kind share of measured engine time (where the time goes). */
static json_t *op_breakdown(const struct tb_graph *g, const uint64_t *ns_sum, int n_ops)
{
    double by_kind[TB_OP_COUNT] = {0}, total = 0;
    for (int i = 0; i < n_ops && i < g->n_ops; i++) {
        by_kind[g->ops[i].kind] += (double)ns_sum[i];
        total += (double)ns_sum[i];
    }
    json_t *o = json_object();
    for (int k = 0; k < TB_OP_COUNT; k++)
        if (by_kind[k] > 0)
            json_object_set_new(o, tb_op_kind_name((enum tb_op_kind)k),
                                tb_json_number(total > 0 ? by_kind[k] / total : 0));
    return o;
}

static void graph_totals(const struct tb_graph *g, double *flops, double *bytes)
{
    *flops = *bytes = 0;
    for (int i = 0; i < g->n_ops; i++) {
        *flops += g->ops[i].flops;
        *bytes += g->ops[i].bytes;
    }
}

static const char *fmt_bytes(uint64_t b, char *buf, size_t n)
{
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, n, "%.1f MiB", (double)b / (1ull << 20));
    else
        snprintf(buf, n, "%.1f KiB", (double)b / 1024.0);
    return buf;
}

static void warn(json_t *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(json_t *rec, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_t *w = json_object_get(rec, "warnings");
    if (!w) {
        w = json_array();
        json_object_set_new(rec, "warnings", w);
    }
    json_array_append_new(w, json_string(buf));
}

struct profile_run {
    const struct tb_profile *p;
    struct tb_backend_config cfg;
    struct tb_bind_plan plan;
    struct tb_sched_backends bs; /* preference list + cpu; owns the backends */
    int n_listed;                /* entries the profile (or --backend) named */
    struct tb_tier_probe *tp;    /* scheduler + evidence (borrows bs) */
    struct tb_sched_run sr;      /* measured evals: the scheduler, no evidence */
    json_t *entries;             /* entries_json */
    char prefs[160];             /* the list as given, "npu>opencl:gpu>cpu" */
    json_t *binding; /* applied binding + observation */
    char profile_hash[TB_HASH_STR_MAX];
};

static void summary_row(struct run_ctx *rc, const char *profile, const char *wl,
                        const char *metric, double median, double p99, double tps,
                        const char *energy, const char *accuracy, const char *tier,
                        const char *status)
{
    json_array_append_new(rc->summary,
                          json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s}",
                                    "profile", profile, "workload", wl, "metric", metric,
                                    "median", tb_json_number(median), "p99", tb_json_number(p99),
                                    "tps", tb_json_number(tps), "energy", energy, "accuracy",
                                    accuracy, "tier", tier, "status", status));
}

static int run_workload(struct run_ctx *rc, struct profile_run *pr,
                        const struct tb_profile_workload *wl, int prompt_len,
                        json_t *profile_records,
                        struct tb_err *err)
{
    const struct tb_run_opts *o = rc->o;
    const struct tb_profile *p = pr->p;
    const char *wl_name = tb_workload_kind_name(wl->kind);
    const char *model_spec = o->model ? o->model : wl->model;
    char cov_label[48]; /* coverage matrix rows name the prompt length */
    snprintf(cov_label, sizeof cov_label, "%s p%d", wl_name, prompt_len);
    progress(rc, p->name, wl_name);

    char config[768];
    struct tb_backend *cpu = pr->bs.e[pr->bs.n - 1].b; /* always there */
    snprintf(config, sizeof config, "%s/p%d/%s/t%d/%s", model_spec, prompt_len, pr->prefs,
             pr->cfg.n_threads, tb_isa_name(tb_backend_isa(cpu)));
    json_t *rec = tb_results_record_new(wl_name, p->name, config);
    if (!rec)
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    json_object_set(rec, "environment", rc->env);
    json_object_set_new(rec, "backends", json_string(pr->prefs));
    json_object_set_new(rec, "profile_hash", json_string(pr->profile_hash));
    json_object_set_new(rec, "placement", json_pack("{s:O}", "entries", pr->entries));
    if (!pr->bs.e[0].b)
        warn(rec, "first-choice backend %s unavailable: %s", pr->bs.e[0].label,
             pr->bs.e[0].disabled_reason);
    json_object_set_new(rec, "threads", json_pack("{s:i, s:i, s:b, s:s}", "requested",
                                                  pr->plan.requested, "actual", pr->plan.actual,
                                                  "clamped", pr->plan.clamped, "source",
                                                  o->threads ? "override" : "profile"));
    if (pr->plan.clamped)
        warn(rec, "threads clamped: profile asked for %d, host has %d", pr->plan.requested,
             pr->plan.actual);
    json_object_set(rec, "binding", pr->binding);
    json_object_set_new(rec, "isa", json_pack("{s:s, s:s}", "cap",
                                              pr->cfg.isa_cap >= TB_ISA_COUNT
                                                  ? "best"
                                                  : tb_isa_name(pr->cfg.isa_cap),
                                              "used", tb_isa_name(tb_backend_isa(cpu))));
    json_t *ov = json_object();
    if (o->model)
        json_object_set_new(ov, "model", json_string(o->model));
    if (o->backend)
        json_object_set_new(ov, "backend", json_string(o->backend));
    if (o->threads)
        json_object_set_new(ov, "threads", json_integer(o->threads));
    json_object_set_new(rec, "overrides", ov);
    json_object_set_new(rec, "params", json_pack("{s:s, s:i, s:i, s:I}", "model", model_spec,
                                                 "prompt", prompt_len, "n_predict",
                                                 wl->n_predict, "seed", (json_int_t)o->seed));

    char path[PATH_MAX_TB], b1[32], b2[32];
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct wl_ctx w = {0};
    struct tb_sample_set set = {0};
    struct tb_counters *ctr = NULL;
    struct tb_energy_meter *meter = NULL;
    int32_t *prompt = NULL;
    uint64_t *op_ns = NULL, *op_sum = NULL;
    const char *status = "ok";
    int rcode = tb_run_resolve_model(model_spec, o->cache_dir, o->seed, path, sizeof path, err);
    if (!rcode)
        rcode = tb_llama_load(path, &m, err);
    struct stat st_model0 = {0};
    const int have_st0 = stat(path, &st_model0) == 0;
    if (rcode) {
        /* the record says what went wrong; the suite goes on */
        json_object_set_new(rec, "status", json_string("error"));
        json_object_set_new(rec, "error", json_string(err->msg));
        status = "error";
        goto done;
    }
    char mhash[TB_HASH_STR_MAX] = "unavailable";
    struct tb_err he = {0};
    if (tb_file_hash(path, mhash, &he))
        snprintf(mhash, sizeof mhash, "unavailable");
    json_object_set_new(rec, "model", json_pack("{s:s, s:s, s:s, s:I}", "path", path, "hash",
                                                mhash, "weight_type",
                                                tb_type_name(m->weights.weight_type),
                                                "weight_bytes",
                                                (json_int_t)m->weights.weight_bytes));

    const int32_t ctx = m->config.ctx_len;
    int32_t n_prompt = prompt_len > 0 ? prompt_len : 1;
    int32_t n_predict = wl->kind == TB_WL_LLM_GENERATE ? wl->n_predict
                        : wl->kind == TB_WL_LLM_DECODE ? 1
                                                       : 0;
    if (n_prompt + n_predict > ctx) { /* clamp to the model's context and say so */
        warn(rec, "prompt %d + n_predict %d exceeds context %d: prompt clamped", n_prompt,
             n_predict, ctx);
        n_prompt = ctx - n_predict > 1 ? ctx - n_predict : 1;
    }
    const int32_t n_ctx = n_prompt + (n_predict > 0 ? n_predict : 0);
    json_t *params = json_object_get(rec, "params"); /* as run (SLO conditions match these) */
    json_object_set_new(params, "prompt", json_integer(n_prompt));
    json_object_set_new(params, "n_predict", json_integer(n_predict));
    json_object_set_new(params, "prompt_requested", json_integer(prompt_len));

    /* memory budget: weights (mapped) + activations + KV cache */
    uint64_t act_bytes = 0, kv_bytes = 0;
    rcode = tb_llama_state_bytes(&m->config, n_prompt, n_ctx, &act_bytes, &kv_bytes, err);
    if (rcode)
        goto fail;
    const uint64_t need = m->weights.weight_bytes + act_bytes + kv_bytes;
    json_object_set_new(rec, "memory", json_pack("{s:I, s:I, s:I, s:I, s:I}", "weight_bytes_mapped",
                                                 (json_int_t)m->weights.weight_bytes,
                                                 "activation_arena_bytes", (json_int_t)act_bytes,
                                                 "kv_cache_bytes", (json_int_t)kv_bytes,
                                                 "engine_total_bytes", (json_int_t)need,
                                                 "budget_bytes",
                                                 (json_int_t)p->memory_budget));
    if (need > p->memory_budget) {
        char why[256];
        snprintf(why, sizeof why, "needs %s (weights %s + activations %s + KV %s) > budget %s",
                 fmt_bytes(need, b1, sizeof b1), fmt_bytes(m->weights.weight_bytes, b2, sizeof b2),
                 fmt_bytes(act_bytes, (char[32]){0}, 32), fmt_bytes(kv_bytes, (char[32]){0}, 32),
                 fmt_bytes(p->memory_budget, (char[32]){0}, 32));
        json_object_set_new(rec, "status", json_string("does-not-fit"));
        json_object_set_new(rec, "does_not_fit", json_string(why));
        struct tb_coverage cov;
        tb_coverage_failed(p->name, cov_label, model_spec, TB_COV_DOES_NOT_FIT, why, &cov);
        json_object_set_new(rec, "coverage", tb_coverage_to_json(&cov));
        keep_coverage(rc, &cov);
        status = "does-not-fit";
        goto done;
    }
    if (rc->topo_sum.total_memory && need > rc->topo_sum.total_memory) {
        json_object_set_new(rec, "status", json_string("host-cannot-emulate"));
        json_object_set_new(rec, "error", json_string("model larger than host memory"));
        status = "host-cannot-emulate";
        goto done;
    }
    rcode = tb_llama_state_build(m, n_prompt, n_ctx, &s, err);
    if (rcode)
        goto fail;
    prompt = malloc(sizeof *prompt * (size_t)n_prompt);
    w.embedding = malloc(sizeof *w.embedding * (size_t)m->config.dim);
    op_ns = calloc((size_t)s->graph.cap, sizeof *op_ns);
    op_sum = calloc((size_t)s->graph.cap, sizeof *op_sum);
    if (!prompt || !op_ns || !op_sum || !w.embedding) {
        rcode = tb_err_set(err, TB_ENOMEM, "out of memory");
        goto fail;
    }
    tb_workload_prompt(o->seed, m->config.vocab_size, prompt, n_prompt);
    w.kind = wl->kind;
    w.ss = (struct tb_llm_session){.m = m, .s = s, .run = tb_sched_graph_runner,
                                   .run_ctx = &pr->sr, .prompt = prompt,
                                   .n_prompt = n_prompt, .n_predict = n_predict,
                                   .op_ns = op_ns, .op_ns_sum = op_sum};
    if (wl->kind == TB_WL_LLM_DECODE) { /* context to decode against, outside the timing */
        double t;
        rcode = tb_llm_prefill(&w.ss, &t, &w.first_token, err);
        if (rcode)
            goto fail;
    }

    /* counters + energy around the measured loop */
    const char *events = o->events      ? o->events
                         : p->events[0] ? p->events
                                        : TB_COUNTERS_DEFAULT_EVENTS;
    rcode = tb_counters_create(events, 0, &ctr, err);
    if (rcode)
        goto fail;
    struct tb_energy_config ecfg = {.source = o->energy ? o->energy : p->energy_source};
    if (ecfg.source && !*ecfg.source)
        ecfg.source = NULL;
    rcode = tb_energy_open(&ecfg, &meter, err);
    if (rcode)
        goto fail;
    const int energy_on = tb_energy_disabled_reason(meter) == NULL;
    struct tb_err ce = {0}, ee = {0};
    struct tb_stability stab; /* canary + steal + thermal, before and after */
    tb_stability_begin(&stab, NULL);
    peak_rss_reset();
    const int ctr_ok = tb_counters_start(ctr, &ce) == TB_OK;
    const int en_ok = energy_on && tb_energy_start(meter, &ee) == TB_OK;
    const double cpu0 = cpu_seconds(), wall0 = wall_seconds();
    memset(op_sum, 0, sizeof *op_sum * (size_t)s->graph.cap);
    const struct tb_measure_cfg mcfg = {.warmup_count = (size_t)o->warmup,
                                        .min_samples = (size_t)o->min_samples,
                                        .min_time_s = o->min_time_s,
                                        .max_time_s = o->max_time_s};
    /* evals in warm-up also fold into op_sum; they are reset below */
    rcode = tb_measure_run(&mcfg, sample_fn, &w, &set, err);
    const double cpu_s = cpu_seconds() - cpu0, wall_s = wall_seconds() - wall0;
    struct tb_energy_result er = {0};
    const int en_read = en_ok && tb_energy_stop(meter, &er, &ee) == TB_OK;
    if (ctr_ok && tb_counters_stop(ctr, &ce))
        warn(rec, "counters: %s", ce.msg);
    int unstable = 0;
    json_t *sj = tb_stability_end(&stab, &unstable);
    if (unstable) {
        size_t k;
        json_t *why;
        json_array_foreach(json_object_get(sj, "reasons"), k, why)
            warn(rec, "unstable: %s", json_string_value(why));
    }
    json_object_set_new(rec, "stability", sj);
    if (rcode && set.n == 0)
        goto fail;
    set_counters(rec, ctr, ctr_ok ? tb_counters_disabled_reason(ctr) : ce.msg, cpu_s, wall_s);

    /* primary metric in ms */
    const char *metric = wl->kind == TB_WL_LLM_PREFILL  ? "ttft_ms"
                         : wl->kind == TB_WL_LLM_DECODE ? "itl_ms"
                         : wl->kind == TB_WL_EMBED      ? "sequence_ms"
                                                        : "e2e_ms";
    for (size_t i = 0; i < set.n; i++)
        set.v[i] *= 1e3;
    if (tb_results_set_measurement(rec, metric, "ms", &set, NULL, err))
        goto fail;
    if (!set.valid)
        warn(rec, "INVALID: %s", set.invalid_reason);
    struct tb_stats st = {0};
    if (set.n)
        tb_stats_compute(set.v, set.n, NULL, &st, NULL);
    if (st.noisy)
        warn(rec, "noisy: coefficient of variation %.1f%%", 100 * st.cv);

    /* derived throughput and rates from the engine's op accounting */
    double flops = 0, bytes = 0, tps = NAN;
    graph_totals(&s->graph, &flops, &bytes);
    json_t *d = json_object();
    const double med_s = st.median * 1e-3;
    if (wl->kind == TB_WL_LLM_PREFILL) {
        tps = n_prompt / med_s;
        json_object_set_new(d, "prefill_tps", tb_json_number(tps));
    } else if (wl->kind == TB_WL_EMBED) {
        tps = n_prompt / med_s;
        json_object_set_new(d, "sequences_per_s", tb_json_number(1.0 / med_s));
        json_object_set_new(d, "tokens_per_s", tb_json_number(tps));
    } else if (wl->kind == TB_WL_LLM_DECODE) {
        tps = 1.0 / med_s;
        json_object_set_new(d, "decode_tps", tb_json_number(tps));
        json_object_set_new(d, "context_position", json_integer(n_prompt));
    } else {
        /* side figures of measured calls only: the first warmup entries are warm-up */
        const size_t skip = w.n_side > set.n ? w.n_side - set.n : 0;
        const double ttft = median_of(w.ttft + skip, w.n_side - skip) * 1e3;
        const double tpot = n_predict > 1 ? median_of(w.tpot + skip, w.n_side - skip) * 1e3 : NAN;
        tps = n_predict / med_s;
        json_object_set_new(d, "ttft_ms", stats_obj(w.ttft + skip, w.n_side - skip));
        json_object_set_new(d, "ttft_ms_median", tb_json_number(ttft));
        json_object_set_new(d, "tpot_ms_median", tb_json_number(tpot));
        json_object_set_new(d, "generate_tps", tb_json_number(tps));
        json_object_set_new(d, "decode_tps", tb_json_number(1e3 / tpot));
    }
    /* FLOP/s and weight-streaming GB/s of the last eval's graph (llm-generate:
     * per decode step, whose graph is the last one built) */
    const double eval_s = wl->kind == TB_WL_LLM_GENERATE
                              ? (n_predict > 1 ? median_of(w.tpot, w.n_side) : med_s)
                              : med_s;
    json_object_set_new(d, "gflops_per_s", tb_json_number(flops / eval_s * 1e-9));
    json_object_set_new(d, "gbytes_per_s", tb_json_number(bytes / eval_s * 1e-9));
    json_object_set_new(d, "eval_flops", tb_json_number(flops));
    json_object_set_new(d, "eval_bytes", tb_json_number(bytes));
    json_object_set_new(rec, "derived", d);
    if (w.ss.n_evals)
        json_object_set_new(rec, "op_time_share", op_breakdown(&s->graph, op_sum, s->graph.n_ops));

    /* energy */
    const double tokens_per_sample = wl->kind == TB_WL_LLM_PREFILL || wl->kind == TB_WL_EMBED
                                         ? n_prompt
                                     : wl->kind == TB_WL_LLM_DECODE ? 1
                                                                    : n_prompt + n_predict;
    const double tokens = tokens_per_sample * (double)(set.n + set.warmup_n);
    char energy_txt[64] = "n/a";
    if (en_read && er.seconds > 0) {
        json_object_set_new(rec, "energy",
                            json_pack("{s:s, s:o, s:o, s:o, s:o}", "source", er.source, "joules",
                                      tb_json_number(er.joules), "seconds",
                                      tb_json_number(er.seconds), "mean_watts",
                                      tb_json_number(er.joules / er.seconds), "joules_per_token",
                                      tb_json_number(er.joules / tokens)));
        snprintf(energy_txt, sizeof energy_txt, "%.3g J/tok", er.joules / tokens);
    } else {
        const char *why = !energy_on ? tb_energy_disabled_reason(meter) : ee.msg;
        char reason[512];
        copy_str(reason, sizeof reason, why ? why : "unknown");
        json_object_set_new(rec, "energy", json_pack("{s:s, s:s}", "source",
                                                     tb_energy_name(meter), "unavailable", reason));
    }

    /* memory actually resident */
    const long long hwm = peak_rss_kib();
    json_object_set_new(json_object_get(rec, "memory"), "peak_rss_kib",
                        hwm >= 0 ? json_integer(hwm) : json_string("unavailable: no VmHWM"));

    /* where every op really ran: a few evals of the workload's graph through
     * the same placement, op by op with evidence (kept out of the timing) */
    char tier_txt[32] = "n/a";
    {
        struct tb_err ve = {0};
        int vrc = TB_OK;
        for (int i = 0; i < 3 && !vrc; i++)
            vrc = wl->kind == TB_WL_EMBED
                      ? tb_llama_embed_with(m, s, tb_tier_probe_runner, pr->tp, prompt, n_prompt,
                                            w.embedding, NULL, &ve)
                  : wl->kind == TB_WL_LLM_PREFILL
                      ? tb_llama_eval_with(m, s, tb_tier_probe_runner, pr->tp, prompt, n_prompt, 0,
                                           TB_LLAMA_LAST_LOGITS, NULL, &ve)
                      : tb_llama_eval_with(m, s, tb_tier_probe_runner, pr->tp, &w.first_token, 1,
                                           n_prompt - (wl->kind == TB_WL_LLM_DECODE ? 0 : 1),
                                           TB_LLAMA_LAST_LOGITS, NULL, &ve);
        struct tb_coverage cov;
        if (!vrc)
            vrc = tb_tier_probe_coverage(pr->tp, p->name, cov_label, model_spec, &cov, &ve);
        if (vrc) {
            json_object_set_new(rec, "coverage", json_pack("{s:s}", "unavailable", ve.msg));
        } else {
            json_object_set_new(rec, "coverage", tb_coverage_to_json(&cov));
            snprintf(tier_txt, sizeof tier_txt, "%s", tb_coverage_verdict_name(cov.verdict));
            if (cov.verdict != TB_COV_ON_TARGET)
                warn(rec, "tier coverage: %s (%s)", tb_coverage_verdict_name(cov.verdict),
                     cov.why);
            keep_coverage(rc, &cov);
        }
    }

    /* accuracy beside speed */
    char acc_txt[64] = "n/a";
    if (o->accuracy_positions > 0) {
        struct tb_err ae = {0};
        if (accuracy_eval(o, &rc->refs, model_spec, path, tb_sched_graph_runner, &pr->sr, m, rec,
                          &ae)) {
            json_object_set_new(rec, "accuracy", json_pack("{s:s}", "unavailable", ae.msg));
        } else {
            json_t *a = json_object_get(rec, "accuracy");
            const double top1 = json_number_value(json_object_get(a, "top1_agreement"));
            const double kl = json_number_value(json_object_get(a, "kl_mean"));
            snprintf(acc_txt, sizeof acc_txt, "top1 %.3f KL %.2g", top1, kl);
        }
    }
    /* a model file replaced or rewritten under the run: the figures may mix
     * two models (the mapping keeps the old inode only if it was replaced) */
    struct stat st_model1;
    if (have_st0 && (stat(path, &st_model1) != 0 || st_model1.st_ino != st_model0.st_ino ||
                     st_model1.st_size != st_model0.st_size ||
                     st_model1.st_mtim.tv_sec != st_model0.st_mtim.tv_sec ||
                     st_model1.st_mtim.tv_nsec != st_model0.st_mtim.tv_nsec)) {
        set.valid = 0;
        copy_str(set.invalid_reason, sizeof set.invalid_reason,
                 "model file changed or disappeared during the run (see model.path)");
        json_object_set_new(rec, "valid", json_false());
        json_object_set_new(rec, "invalid_reason", json_string(set.invalid_reason));
        warn(rec, "INVALID: %s", set.invalid_reason);
    }
    json_object_set_new(rec, "status", json_string(set.valid ? "ok" : "invalid"));
    status = set.valid ? "ok" : "INVALID";
    summary_row(rc, p->name, wl_name, metric, st.median, st.p99, tps, energy_txt, acc_txt,
                tier_txt, status);
    goto append;

fail:
    json_object_set_new(rec, "status", json_string("error"));
    json_object_set_new(rec, "error", json_string(err->msg));
    status = "error";
done:
    summary_row(rc, p->name, wl_name, "-", NAN, NAN, NAN, "n/a", "n/a", status, status);
append:;
    struct tb_err ae = {0};
    int arc = tb_results_append(rc->res, rec, &ae);
    if (!arc)
        json_array_append(profile_records, rec);
    if (o->json) {
        char *line = json_dumps(rec, JSON_COMPACT);
        if (line) {
            if (rc->tty && !o->quiet)
                fputc('\n', stderr);
            printf("%s\n", line);
            free(line);
        }
    }
    json_decref(rec);
    tb_sample_set_free(&set);
    free(w.ttft);
    free(w.tpot);
    free(w.embedding);
    free(prompt);
    free(op_ns);
    free(op_sum);
    tb_counters_free(ctr);
    tb_energy_free(meter);
    tb_llama_state_free(s);
    tb_llama_free(m);
    if (arc) { /* losing results is fatal: stop the suite */
        if (err)
            *err = ae;
        return arc;
    }
    /* --no-cpu-fallback: the plan refused; stop the suite with the op list */
    if (o->no_cpu_fallback && rcode == TB_EUNSUPPORTED)
        return TB_EUNSUPPORTED;
    return TB_OK;
}

/* ----------------------------------------------------------- profiles */

/* The value an SLO metric has in one workload record: 1 measured (*v),
 * 0 unmeasured (*why says why), -1 this workload does not produce it. */
static int slo_value_of(json_t *r, const char *metric, double *v, const char **why)
{
    const char *wl = json_string_value(json_object_get(r, "workload"));
    json_t *d = json_object_get(r, "derived"), *st = json_object_get(r, "stats");
    json_t *x = NULL;
    *why = NULL;
    if (!wl)
        return -1;
    const int pre = !strcmp(wl, "llm-prefill"), dec = !strcmp(wl, "llm-decode");
    const int gen = !strcmp(wl, "llm-generate");
    if (!strcmp(metric, "ttft_ms"))
        x = pre ? json_object_get(st, "median") : gen ? json_object_get(d, "ttft_ms_median") : NULL;
    else if (!strcmp(metric, "prefill_tps"))
        x = pre ? json_object_get(d, "prefill_tps") : NULL;
    else if (!strcmp(metric, "decode_tps"))
        x = dec || gen ? json_object_get(d, "decode_tps") : NULL;
    else if (!strcmp(metric, "tpot_ms"))
        x = dec ? json_object_get(st, "median") : gen ? json_object_get(d, "tpot_ms_median") : NULL;
    else if (!strcmp(metric, "e2e_ms"))
        x = gen ? json_object_get(st, "median") : NULL;
    else if (!strcmp(metric, "sequences_per_s"))
        x = json_object_get(d, "sequences_per_s");
    else if (!strcmp(metric, "joules_per_token") || !strcmp(metric, "mean_watts")) {
        json_t *e = json_object_get(r, "energy");
        if (!e)
            return -1;
        x = json_object_get(e, !strcmp(metric, "mean_watts") ? "mean_watts" : "joules_per_token");
        *why = json_string_value(json_object_get(e, "unavailable"));
        if (!x)
            return 0;
    } else if (!strcmp(metric, "peak_rss_mib")) {
        json_t *k = json_object_get(json_object_get(r, "memory"), "peak_rss_kib");
        if (!k)
            return -1;
        if (!json_is_integer(k)) {
            *why = json_string_value(k);
            return 0;
        }
        *v = (double)json_integer_value(k) / 1024.0;
        return 1;
    } else if (!strcmp(metric, "top1_agreement")) {
        json_t *a = json_object_get(r, "accuracy");
        if (!a)
            return -1;
        x = json_object_get(a, "top1_agreement");
        *why = json_string_value(json_object_get(a, "unavailable"));
        if (!x)
            return 0;
    }
    if (!x)
        return -1;
    if (!json_is_number(x) || !isfinite(json_number_value(x))) {
        *why = "not a finite figure";
        return 0;
    }
    *v = json_number_value(x);
    return 1;
}

/* Does this record satisfy the SLO's condition ("@ prompt 128", ...)? */
static int slo_matches(const struct tb_slo *slo, json_t *r)
{
    json_t *params = json_object_get(r, "params");
    if (!slo->cond_key[0])
        return 1;
    if (!strcmp(slo->cond_key, "workload"))
        return !strcmp(slo->cond_value, json_string_value(json_object_get(r, "workload")));
    json_t *x = json_object_get(params, slo->cond_key); /* "prompt", "n_predict" */
    return json_is_integer(x) && json_integer_value(x) == atoi(slo->cond_value);
}

/* One qualification record per profile, judged from the profile's workload
 * records alone: every SLO with value, threshold and verdict. An SLO with no
 * measured value is UNMEASURED (with the reason), which fails nothing by
 * itself but keeps the profile from a clean PASS. */
static int judge_slos(struct run_ctx *rc, const struct tb_profile *p, json_t *records,
                      int *any_fail, struct tb_err *err)
{
    json_t *rec = tb_results_record_new("qualification", p->name, "slo");
    json_object_set(rec, "environment", rc->env);
    json_t *arr = json_array();
    int fails = 0, unmeasured = 0;
    for (int i = 0; i < p->n_slos; i++) {
        const struct tb_slo *slo = &p->slos[i];
        char text[128];
        tb_slo_format(slo, text, sizeof text);
        const char *why_not = NULL, *from = NULL;
        double value = NAN;
        size_t k;
        json_t *r;
        json_array_foreach(records, k, r)
        {
            double v;
            const char *why;
            if (!slo_matches(slo, r))
                continue;
            const int got = slo_value_of(r, slo->metric, &v, &why);
            if (got == 1 && !from) {
                value = v;
                from = json_string_value(json_object_get(r, "workload"));
            } else if (got == 0 && !why_not) {
                why_not = why ? why : "not measured";
            }
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "slo", text, "metric", slo->metric, "op",
                              slo->op == TB_SLO_LE ? "<=" : ">=", "threshold",
                              tb_json_number(slo->threshold));
        if (from) {
            const int ok = tb_slo_holds(slo, value);
            json_object_set_new(o, "value", tb_json_number(value));
            json_object_set_new(o, "workload", json_string(from));
            json_object_set_new(o, "verdict", json_string(ok ? "PASS" : "FAIL"));
            fails += !ok;
        } else {
            json_object_set_new(o, "verdict", json_string("UNMEASURED"));
            json_object_set_new(o, "reason", json_string(why_not ? why_not
                                                                 : "no workload of this run "
                                                                   "measured it"));
            unmeasured++;
        }
        json_array_append_new(arr, o);
    }
    const char *verdict = fails ? "FAIL" : unmeasured ? "INCOMPLETE" : "PASS";
    json_object_set_new(rec, "slos", arr);
    json_object_set_new(rec, "verdict", json_string(verdict));
    json_object_set_new(rec, "status", json_string("ok"));
    if (fails)
        *any_fail = 1;
    int arc = tb_results_append(rc->res, rec, err);
    summary_row(rc, p->name, "SLO verdict", verdict, NAN, NAN, NAN, "", "", "", verdict);
    json_decref(rec);
    return arc;
}

static int apply_binding(struct run_ctx *rc, struct profile_run *pr, struct tb_err *err)
{
    const struct tb_profile *p = pr->p;
    const int threads = rc->o->threads ? rc->o->threads : p->threads;
    int rcode = tb_topo_plan(rc->topo, threads, (enum tb_bind_policy)p->binding,
                             p->cpuset[0] ? p->cpuset : NULL, &pr->plan, err);
    if (rcode)
        return tb_err_prefix(err, "%s: binding", p->path);
    char plan[256];
    tb_bind_plan_format(&pr->plan, plan, sizeof plan);
    pr->binding = json_pack("{s:s, s:s}", "policy", tb_bind_policy_name(pr->plan.policy), "plan",
                            plan);
    if (pr->plan.policy != TB_BIND_NONE && pr->plan.actual > 0) {
        /* the calling thread runs worker 0's share of every op */
        int observed = -1;
        struct tb_err be = {0};
        if (tb_topo_bind_current_thread(rc->topo, pr->plan.pu_os[0], &observed, &be))
            json_object_set_new(pr->binding, "applied", json_pack("{s:b, s:s}", "ok", 0, "reason",
                                                                   be.msg));
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
static int record_unsupported(struct run_ctx *rc, struct profile_run *pr, struct tb_err *err)
{
    const struct tb_profile *p = pr->p;
    char why[TB_ERR_MSG_MAX];
    copy_str(why, sizeof why, err->msg);
    int rcode = TB_OK;
    for (int k = 0; k < p->n_workloads * TB_PROFILE_MAX_PROMPTS && !rcode; k++) {
        const int i = k / TB_PROFILE_MAX_PROMPTS, j = k % TB_PROFILE_MAX_PROMPTS;
        const char *wl = tb_workload_kind_name(p->workloads[i].kind);
        if (j >= p->workloads[i].n_prompts || !in_list(rc->o->workloads, wl))
            continue;
        progress(rc, p->name, wl);
        json_t *rec = tb_results_record_new(wl, p->name, rc->o->model ? rc->o->model
                                                                    : p->workloads[i].model);
        json_object_set(rec, "environment", rc->env);
        json_object_set_new(rec, "status", json_string("unsupported"));
        json_object_set_new(rec, "unsupported", json_string(why));
        json_object_set_new(rec, "params", json_pack("{s:i}", "prompt", p->workloads[i].prompts[j]));
        json_object_set_new(rec, "placement", json_pack("{s:O}", "entries", pr->entries));
        struct tb_coverage cov;
        char cov_label[48]; /* matrix rows name the prompt length */
        snprintf(cov_label, sizeof cov_label, "%s p%d", wl, p->workloads[i].prompts[j]);
        tb_coverage_failed(p->name, cov_label,
                           rc->o->model ? rc->o->model : p->workloads[i].model,
                           TB_COV_UNSUPPORTED, why, &cov);
        json_object_set_new(rec, "coverage", tb_coverage_to_json(&cov));
        keep_coverage(rc, &cov);
        rcode = tb_results_append(rc->res, rec, err);
        json_decref(rec);
        summary_row(rc, p->name, wl, "-", NAN, NAN, NAN, "n/a", "n/a", "unsupported", "unsupported");
    }
    if (!rcode && p->n_slos) {
        json_t *rec = tb_results_record_new("qualification", p->name, "slo");
        json_object_set(rec, "environment", rc->env);
        json_object_set_new(rec, "verdict", json_string("UNSUPPORTED"));
        json_object_set_new(rec, "reason", json_string(why));
        json_object_set_new(rec, "status", json_string("unsupported"));
        rcode = tb_results_append(rc->res, rec, err);
        json_decref(rec);
        summary_row(rc, p->name, "SLO verdict", "UNSUPPORTED", NAN, NAN, NAN, "", "", "",
                    "UNSUPPORTED");
    }
    return rcode;
}

static int run_profile(struct run_ctx *rc, const struct tb_profile *p, int *any_fail,
                       struct tb_err *err)
{
    struct profile_run pr = {.p = p};
    tb_backend_config_default(&pr.cfg);
    struct tb_err he = {0};
    if (tb_file_hash(p->path, pr.profile_hash, &he))
        snprintf(pr.profile_hash, sizeof pr.profile_hash, "unavailable");
    int rcode = apply_binding(rc, &pr, err);
    if (rcode)
        return rcode;
    /* the preference list (or --backend), cpu appended: the scheduler places
     * every op on the first entry that supports it and says why not */
    char one[1][32];
    const char(*names)[32] = (const char(*)[32])p->backends;
    int n_names = p->n_backends;
    if (rc->o->backend) {
        snprintf(one[0], sizeof one[0], "%s", rc->o->backend);
        names = (const char(*)[32])one;
        n_names = 1;
    }
    pr.n_listed = n_names;
    for (int i = 0; i < n_names; i++) {
        const size_t len = strlen(pr.prefs);
        snprintf(pr.prefs + len, sizeof pr.prefs - len, "%s%s", i ? ">" : "", names[i]);
    }
    rcode = tb_sched_backends_open(names, n_names, &pr.cfg, &pr.bs, err);
    if (!rcode) {
        pr.entries = entries_json(&pr.bs, n_names);
        int usable = 0; /* a named entry that exists here */
        for (int i = 0; i < n_names && i < pr.bs.n; i++)
            usable |= pr.bs.e[i].b != NULL;
        if (!usable && !lists_cpu(names, n_names)) {
            tb_err_set(err, TB_EUNSUPPORTED, "none of the backends %s is available on this host "
                       "and the profile does not allow the CPU", pr.prefs);
            rcode = record_unsupported(rc, &pr, err);
            goto out;
        }
        struct tb_sched_opts so;
        tb_sched_opts_default(&so);
        so.accel_op_classes = (const char(*)[16])p->accel_op_classes;
        so.n_accel_op_classes = p->n_accel_op_classes;
        so.no_cpu_fallback = rc->o->no_cpu_fallback;
        rcode = tb_tier_probe_create(pr.bs.e, pr.bs.n, &so, NULL, 7, &pr.tp, err);
        pr.sr.sched = pr.tp ? tb_tier_probe_sched(pr.tp) : NULL;
    }
    if (!rcode) {
        /* worker binding as the cpu backend observed it */
        int cpus[256];
        const int n = tb_backend_thread_cpus(pr.bs.e[pr.bs.n - 1].b, cpus, 256);
        if (n > 0) {
            json_t *a = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(a, json_integer(cpus[i]));
            json_object_set_new(pr.binding, "workers_observed_cpu", a);
        }
    }
    json_t *records = json_array();
    for (int i = 0; !rcode && i < p->n_workloads; i++) {
        const struct tb_profile_workload *wl = &p->workloads[i];
        if (!in_list(rc->o->workloads, tb_workload_kind_name(wl->kind)))
            continue;
        for (int j = 0; !rcode && j < wl->n_prompts; j++) /* each length on its own */
            rcode = run_workload(rc, &pr, wl, wl->prompts[j], records, err);
    }
    if (!rcode && p->n_slos)
        rcode = judge_slos(rc, p, records, any_fail, err);
    json_decref(records);
out:
    tb_tier_probe_free(pr.tp); /* borrows the backends: before closing them */
    tb_sched_backends_close(&pr.bs);
    json_decref(pr.entries);
    json_decref(pr.binding);
    tb_bind_plan_free(&pr.plan);
    return rcode;
}

static void print_summary(const json_t *rows, FILE *f)
{
    fprintf(f, "\n%-20s %-14s %-8s %12s %12s %10s  %-14s %-22s %-16s %s\n", "profile",
            "workload", "metric", "median", "p99", "tok/s", "energy", "accuracy", "tier", "status");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const double med = json_number_value(json_object_get(r, "median"));
        const double p99 = json_number_value(json_object_get(r, "p99"));
        const double tps = json_number_value(json_object_get(r, "tps"));
        char a[32] = "-", b[32] = "-", c[32] = "-";
        if (json_is_number(json_object_get(r, "median")))
            snprintf(a, sizeof a, "%.3f ms", med);
        if (json_is_number(json_object_get(r, "p99")))
            snprintf(b, sizeof b, "%.3f ms", p99);
        if (json_is_number(json_object_get(r, "tps")))
            snprintf(c, sizeof c, "%.1f", tps);
        fprintf(f, "%-20s %-14s %-8s %12s %12s %10s  %-14s %-22s %-16s %s\n",
                json_string_value(json_object_get(r, "profile")),
                json_string_value(json_object_get(r, "workload")),
                json_string_value(json_object_get(r, "metric")), a, b, c,
                json_string_value(json_object_get(r, "energy")),
                json_string_value(json_object_get(r, "accuracy")),
                json_string_value(json_object_get(r, "tier")),
                json_string_value(json_object_get(r, "status")));
    }
}

/* coverage.md + coverage.csv beside the results: the matrix across profiles */
static int write_coverage(struct run_ctx *rc, struct tb_err *err)
{
    static const char *const names[2] = {"coverage.md", "coverage.csv"};
    for (int k = 0; k < 2; k++) {
        char path[PATH_MAX_TB];
        snprintf(path, sizeof path, "%s/%s", tb_results_dir(rc->res), names[k]);
        FILE *f = fopen(path, "w");
        if (!f)
            return tb_err_set(err, TB_EIO, "%s: %s", path, strerror(errno));
        int bad = k == 0 ? tb_coverage_write_markdown(f, rc->cov, rc->n_cov)
                         : tb_coverage_write_csv(f, rc->cov, rc->n_cov);
        bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
        if (fclose(f) || bad)
            return tb_err_set(err, TB_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    return TB_OK;
}

static json_t *build_env(struct run_ctx *rc, struct tb_err *err)
{
    json_t *env = tb_env_capture(err);
    if (!env)
        return NULL;
    char v[64];
    struct tb_err pe = {0};
    if (tb_papi_init(&pe) == TB_OK) {
        snprintf(v, sizeof v, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
                 PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION),
                 PAPI_VERSION_INCREMENT(PAPI_VERSION));
        tb_env_set_component(env, "papi", v, NULL, NULL);
    } else {
        tb_env_set_component(env, "papi", NULL, pe.msg, NULL);
    }
    const unsigned hv = hwloc_get_api_version();
    snprintf(v, sizeof v, "%u.%u.%u", hv >> 16, (hv >> 8) & 0xff, hv & 0xff);
    tb_env_set_component(env, "hwloc", v, NULL, NULL);
    char topo[512];
    tb_topo_summary_format(&rc->topo_sum, topo, sizeof topo);
    json_object_set_new(env, "topology",
                        json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I}", "summary", topo,
                                  "packages", rc->topo_sum.packages, "cores", rc->topo_sum.cores,
                                  "pus", rc->topo_sum.pus, "numa_nodes", rc->topo_sum.numa_nodes,
                                  "l1d_bytes", (json_int_t)rc->topo_sum.l1d_bytes, "l2_bytes",
                                  (json_int_t)rc->topo_sum.l2_bytes, "l3_bytes",
                                  (json_int_t)rc->topo_sum.l3_bytes, "memory_bytes",
                                  (json_int_t)rc->topo_sum.total_memory));
    for (const char *const *n = tb_backend_names(); *n; n++) {
        struct tb_backend *b = NULL;
        struct tb_err be = {0};
        struct tb_backend_config cfg;
        tb_backend_config_default(&cfg);
        cfg.n_threads = 1;
        if (tb_backend_create(*n, &cfg, &b, &be) == TB_OK) {
            tb_env_add_device(env, *n, tb_backend_device_name(b), NULL);
            tb_backend_free(b);
        } else {
            char d[600];
            snprintf(d, sizeof d, "unavailable: %s", be.msg);
            tb_env_add_device(env, *n, d, NULL);
        }
    }
    return env;
}

int tb_run(const struct tb_run_opts *o_in, int *exit_code, struct tb_err *err)
{
    struct tb_run_opts o = *o_in;
    char dir_buf[PATH_MAX_TB];
    if (!o.profiles_dir) {
        const char *e = getenv("TB_PROFILES_DIR");
        snprintf(dir_buf, sizeof dir_buf, "%s", e && *e ? e : TB_SOURCE_DIR "/device_profiles");
        o.profiles_dir = dir_buf;
    }
    if (!o.cache_dir) {
        const char *e = getenv("TB_CACHE_DIR");
        o.cache_dir = e && *e ? e : ".tb-cache";
    }
    *exit_code = 0;
    char **paths = NULL;
    int n_paths = 0;
    int rcode = tb_profile_dir_list(o.profiles_dir, &paths, &n_paths, err);
    if (rcode)
        return rcode;
    /* load + validate every selected profile before measuring anything */
    struct tb_profile **profiles = calloc((size_t)(n_paths ? n_paths : 1), sizeof *profiles);
    int n_prof = 0;
    if (!profiles) {
        tb_profile_dir_list_free(paths, n_paths);
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    }
    for (int i = 0; !rcode && i < n_paths; i++) {
        struct tb_profile *p = NULL;
        rcode = tb_profile_load(paths[i], &p, err);
        if (rcode)
            break;
        if (in_list(o.profiles, p->name))
            profiles[n_prof++] = p;
        else
            tb_profile_free(p);
    }
    tb_profile_dir_list_free(paths, n_paths);
    if (!rcode && n_prof == 0)
        rcode = tb_err_set(err, TB_EINVAL, "no profile matches '%s' in %s",
                           o.profiles ? o.profiles : "*", o.profiles_dir);
    if (!rcode && o.profiles) { /* every named profile must exist */
        for (const char *p = o.profiles; *p && !rcode;) {
            const char *e = strchr(p, ',');
            const size_t len = e ? (size_t)(e - p) : strlen(p);
            int found = 0;
            for (int i = 0; i < n_prof; i++)
                found |= strlen(profiles[i]->name) == len && !strncmp(profiles[i]->name, p, len);
            if (!found)
                rcode = tb_err_set(err, TB_EINVAL, "no profile named '%.*s' in %s", (int)len, p,
                                   o.profiles_dir);
            p += len + (e ? 1 : 0);
        }
    }
    if (!rcode && o.workloads) {
        for (const char *p = o.workloads; *p && !rcode;) {
            const char *e = strchr(p, ',');
            const size_t len = e ? (size_t)(e - p) : strlen(p);
            int found = 0;
            for (int k = 0; k < TB_WL_COUNT; k++)
                found |= strlen(tb_workload_kind_name((enum tb_workload_kind)k)) == len &&
                         !strncmp(tb_workload_kind_name((enum tb_workload_kind)k), p, len);
            if (!found)
                rcode = tb_err_set(err, TB_EINVAL, "unknown workload '%.*s'", (int)len, p);
            p += len + (e ? 1 : 0);
        }
    }
    struct run_ctx rc = {.o = &o, .tty = isatty(2)};
    rc.summary = json_array();
    if (!rcode)
        rcode = tb_topo_open_host(&rc.topo, err);
    if (!rcode) {
        tb_topo_summarize(rc.topo, &rc.topo_sum);
        rcode = tb_results_open(o.out_dir, TB_RESULTS_NEW_SUBDIR, &rc.res, err);
    }
    json_t *manifest = NULL;
    if (!rcode) {
        for (int i = 0; i < n_prof; i++)
            for (int j = 0; j < profiles[i]->n_workloads; j++)
                rc.n_total += in_list(o.workloads,
                                      tb_workload_kind_name(profiles[i]->workloads[j].kind))
                                  ? profiles[i]->workloads[j].n_prompts
                                  : 0;
        json_t *env = build_env(&rc, err);
        if (!env)
            rcode = err->code ? err->code : TB_ENOMEM;
        rc.env = env;
        json_t *plist = json_array();
        for (int i = 0; i < n_prof; i++)
            json_array_append_new(plist, json_string(profiles[i]->name));
        manifest = json_pack("{s:s, s:O, s:o, s:s, s:s, s:I, s:i, s:f, s:i}", "status", "running",
                             "environment", env ? env : json_null(), "profiles", plist,
                             "profiles_dir", o.profiles_dir, "cache_dir", o.cache_dir, "seed",
                             (json_int_t)o.seed, "min_samples", o.min_samples, "min_time_s",
                             o.min_time_s, "warmup", o.warmup);
        if (!rcode)
            rcode = tb_results_write_manifest(rc.res, manifest, err);
        if (!rcode && !o.quiet)
            fprintf(stderr, "tierbench: %d profile(s), %d run(s); results in %s\n", n_prof,
                    rc.n_total, tb_results_dir(rc.res));
    }
    int any_fail = 0;
    for (int i = 0; !rcode && i < n_prof; i++)
        rcode = run_profile(&rc, profiles[i], &any_fail, err);
    if (rc.tty && !o.quiet)
        fputc('\n', stderr);
    if (rc.res) {
        if (manifest) {
            json_object_set_new(manifest, "status", json_string(rcode ? "failed" : "complete"));
            json_object_set_new(manifest, "records", json_integer((json_int_t)tb_results_count(rc.res)));
            if (rcode)
                json_object_set_new(manifest, "error", json_string(err->msg));
            struct tb_err me = {0};
            if (tb_results_write_manifest(rc.res, manifest, &me) && !rcode) {
                *err = me;
                rcode = me.code;
            }
        }
        if (!o.quiet)
            print_summary(rc.summary, stdout);
        if (rc.n_cov) {
            struct tb_err we = {0};
            if (write_coverage(&rc, &we) && !rcode) {
                *err = we;
                rcode = we.code;
            }
            if (!o.quiet) {
                printf("\ntier coverage (where every op really ran):\n\n");
                tb_coverage_write_markdown(stdout, rc.cov, rc.n_cov);
            }
        }
        if (!rcode && !o.quiet)
            printf("\nresults: %s\n", tb_results_dir(rc.res));
        struct tb_err ce = {0};
        if (tb_results_close(rc.res, &ce) && !rcode) {
            *err = ce;
            rcode = ce.code;
        }
    }
    json_decref(manifest);
    json_decref(rc.env);
    json_decref(rc.summary);
    for (struct ref_cache *c = rc.refs; c;) {
        struct ref_cache *n = c->next;
        free(c->logits);
        free(c);
        c = n;
    }
    tb_topo_free(rc.topo);
    for (int i = 0; i < n_prof; i++)
        tb_profile_free(profiles[i]);
    free(profiles);
    int gate_fail = 0;
    for (int i = 0; i < rc.n_cov; i++) {
        gate_fail |= tb_coverage_fails(&rc.cov[i], (enum tb_fail_on)o.fail_on);
        tb_coverage_free(&rc.cov[i]);
    }
    free(rc.cov);
    if (!rcode && gate_fail && !o.quiet)
        fprintf(stderr, "tierbench run: tier coverage fails the --fail-on gate\n");
    if (!rcode)
        *exit_code = any_fail || gate_fail ? 1 : 0;
    return rcode;
}

/* The measurement orchestrator behind `tierbench run`: for every selected
 * device profile and workload it applies the profile (threads + binding via
 * hwloc, ISA cap, memory budget, backend preference), measures with the
 * LoadGen-style loop, reads counters/energy/memory, checks accuracy against
 * the reference, appends one crash-safe record, and finally judges the
 * profile's SLOs. Figures that cannot be measured are recorded as
 * unavailable with the reason, never as zero. */
#include "harness/tb_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <hwloc.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <papi.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_accuracy.h"
#include "harness/tb_counters.h"
#include "harness/tb_coverage.h"
#include "harness/tb_energy.h"
#include "harness/tb_env.h"
#include "harness/tb_profile.h"
#include "harness/tb_refcache.h"
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

/* The file a spec names; a synthetic model is generated on first use only
 * when `generate` (else TB_EIO when it is not cached yet). */
static int find_model(const char *spec, const char *cache_dir, uint64_t seed, bool generate,
                      char *out, size_t n, struct tb_err *err)
{
    char shape[64];
    int type;
    const int k = parse_synth(spec, shape, sizeof shape, &type);
    if (k < 0)
        return tb_err_set(err, TB_EINVAL,
                          "model '%s': expected synth:SHAPE:TYPE with a known "
                          "shape and type f32|f16|q8_0|q4_0",
                          spec);
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
    if (!generate)
        return tb_err_set(err, TB_EIO, "%s: not generated yet", out);
    fprintf(stderr, "tierbench: generating %s (first use, cached for later runs)\n", out);
    return tb_synth_write(shape, type, seed, out, err);
}

int tb_run_resolve_model(const char *spec, const char *cache_dir, uint64_t seed, char *out,
                         size_t n, struct tb_err *err)
{
    return find_model(spec, cache_dir, seed, true, out, n, err);
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
    case TB_WL_LLM_PREFILL: return tb_llm_prefill(&w->ss, sample, &w->first_token, err);
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
    case TB_WL_EMBED: return tb_embed_run(&w->ss, w->embedding, sample, err);
    default:
        return tb_err_set(err, TB_EUNSUPPORTED, "workload %s is not supported by this build",
                          tb_workload_kind_name(w->kind));
    }
}

/* ------------------------------------------------------------ accuracy */

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
static int accuracy_eval(const struct tb_run_opts *o, const char *ref_dir, const char *model_spec,
                         const char *model_path, tb_llama_graph_runner run, void *run_ctx,
                         const struct tb_llama_model *m, json_t *rec, struct tb_err *err)
{
    const int32_t n_pos =
        o->accuracy_positions < m->config.ctx_len ? o->accuracy_positions : m->config.ctx_len;
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

    /* the reference, shared by every process of the run through a file in
     * the results directory: loaded bit for bit, or computed and stored */
    struct tb_refcache_key key;
    float *ref = NULL;
    int32_t ref_vocab = 0;
    char ignored[PATH_MAX_TB + 128] = "", store_err[sizeof err->msg] = "";
    rc = tb_refcache_key_init(&key, "cpu-ref", ref_path, tokens, n_pos, err);
    const int cached =
        rc ? rc : tb_refcache_load(ref_dir, &key, &ref, &ref_vocab, ignored, sizeof ignored, err);
    rc = cached < 0 ? cached : TB_OK;
    if (!rc && !cached) {
        rc = teacher_forced_logits(ref_path, "cpu-ref", NULL, tokens, n_pos, &ref, &ref_vocab, err);
        /* stored only under the identity it was computed from (a model
         * rewritten meanwhile gets a new key); a failure costs later
         * configurations a recomputation, nothing else */
        if (!rc) {
            struct tb_refcache_key after;
            struct tb_err se = {0};
            int src = tb_refcache_key_init(&after, "cpu-ref", ref_path, tokens, n_pos, &se);
            if (!src && strcmp(after.text, key.text))
                src = tb_err_set(&se, TB_EIO,
                                 "%s changed while its reference was computed: "
                                 "not cached",
                                 ref_path);
            if (!src)
                src = tb_refcache_store(ref_dir, &key, ref, ref_vocab, &se);
            if (src)
                copy_str(store_err, sizeof store_err, se.msg);
        }
    }
    if (rc) {
        free(ref);
        free(tokens);
        return tb_err_prefix(err, "accuracy reference %s", ref_path);
    }
    /* the run's own backend and settings, on a fresh state */
    struct tb_llama_state *s = NULL;
    rc = tb_llama_state_build(m, n_pos, n_pos, &s, err);
    if (!rc)
        rc = tb_llama_eval_with(m, s, run, run_ctx, tokens, n_pos, 0, TB_LLAMA_ALL_LOGITS, NULL,
                                err);
    struct tb_accuracy acc;
    if (!rc && ref_vocab != m->config.vocab_size)
        rc = tb_err_set(err, TB_EINVAL, "accuracy: reference vocabulary %d != model %d", ref_vocab,
                        m->config.vocab_size);
    if (!rc)
        rc =
            tb_accuracy_compare(ref, tb_llama_logits(s, 0), n_pos, m->config.vocab_size, &acc, err);
    tb_llama_state_free(s);
    free(ref);
    free(tokens);
    if (rc)
        return rc;
    json_t *acc_o = json_pack(
        "{s:s, s:i, s:o, s:o, s:o, s:o, s:i}", "reference", what, "positions", n_pos,
        "top1_agreement", tb_json_number(acc.top1_agreement), "kl_mean",
        tb_json_number(acc.kl_mean), "kl_p99", tb_json_number(acc.kl_p99), "max_abs_logit_error",
        tb_json_number(acc.max_abs_err), "non_finite_positions", acc.non_finite);
    /* whether this configuration computed the reference or loaded it */
    json_object_set_new(acc_o, "reference_source", json_string(cached ? "cached" : "computed"));
    if (ignored[0])
        json_object_set_new(acc_o, "reference_cache_ignored", json_string(ignored));
    if (store_err[0])
        json_object_set_new(acc_o, "reference_cache_error", json_string(store_err));
    json_object_set_new(rec, "accuracy", acc_o);
    return TB_OK;
}

/* ---------------------------------------------------------- one workload */

/* A model file's identity as first seen; a later difference means it was
 * rewritten, truncated, replaced or deleted under the run. */
struct model_id {
    char path[PATH_MAX_TB];
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct run_ctx {
    const struct tb_run_opts *o;
    struct tb_results *res;
    struct tb_topo *topo;
    struct tb_topo_summary topo_sum;
    int n_done, n_total;
    int tty;
    json_t *summary;         /* rows for the final table */
    json_t *env;             /* environment, attached to every record */
    struct tb_coverage *cov; /* coverage matrix rows (owned) */
    int n_cov, cap_cov;
    size_t n_child_records;  /* appended by watchdog children (res does not count them) */
    int n_incomplete;        /* configurations that ended TIMEOUT/CRASHED/MODEL-CHANGED */
    struct model_id *models; /* every model file as first seen (identity checks) */
    int n_models, cap_models;
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
    json_object_set_new(o, "ipc",
                        tb_counters_ipc(c, &ipc)
                            ? json_string("unavailable: "
                                          "PAPI_TOT_INS/PAPI_TOT_CYC not counted")
                            : tb_json_number(ipc));
    json_object_set_new(
        o, "cache_miss_rate",
        tb_counters_miss_rate(c, &miss, &what)
            ? json_string("unavailable: no miss/access event pair counted")
            : json_pack("{s:o, s:s}", "value", tb_json_number(miss), "events", what ? what : ""));
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
    json_t *binding;             /* applied binding + observation */
    char profile_hash[TB_HASH_STR_MAX];
    const char (*names)[32]; /* the profile's list, or one[] for --backend */
    char one[1][32];
    int unsupported; /* no named backend here and the CPU not allowed */
};

/* The record key of one configuration; isa is what the cpu backend runs. */
static void config_key(const struct profile_run *pr, const char *model_spec, int prompt_len,
                       enum tb_isa isa, char *buf, size_t n)
{
    snprintf(buf, n, "%s/p%d/%s/t%d/%s", model_spec, prompt_len, pr->prefs, pr->cfg.n_threads,
             tb_isa_name(isa));
}

static void summary_row(struct run_ctx *rc, const char *profile, const char *wl, const char *metric,
                        double median, double p99, double tps, const char *energy,
                        const char *accuracy, const char *tier, const char *status)
{
    json_array_append_new(rc->summary,
                          json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s}", "profile",
                                    profile, "workload", wl, "metric", metric, "median",
                                    tb_json_number(median), "p99", tb_json_number(p99), "tps",
                                    tb_json_number(tps), "energy", energy, "accuracy", accuracy,
                                    "tier", tier, "status", status));
}

static void print_record(struct run_ctx *rc, json_t *rec)
{
    if (!rc->o->json)
        return;
    char *line = json_dumps(rec, JSON_COMPACT);
    if (line) {
        if (rc->tty && !rc->o->quiet)
            fputc('\n', stderr);
        printf("%s\n", line);
        free(line);
    }
}

static int run_workload(struct run_ctx *rc, struct profile_run *pr,
                        const struct tb_profile_workload *wl, int prompt_len,
                        json_t *profile_records, struct tb_err *err)
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
    config_key(pr, model_spec, prompt_len, tb_backend_isa(cpu), config, sizeof config);
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
    json_object_set_new(rec, "threads",
                        json_pack("{s:i, s:i, s:b, s:s}", "requested", pr->plan.requested, "actual",
                                  pr->plan.actual, "clamped", pr->plan.clamped, "source",
                                  o->threads ? "override" : "profile"));
    if (pr->plan.clamped)
        warn(rec, "threads clamped: profile asked for %d, host has %d", pr->plan.requested,
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
                        json_pack("{s:s, s:i, s:i, s:I}", "model", model_spec, "prompt", prompt_len,
                                  "n_predict", wl->n_predict, "seed", (json_int_t)o->seed));

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
    json_object_set_new(rec, "model",
                        json_pack("{s:s, s:s, s:s, s:I}", "path", path, "hash", mhash,
                                  "weight_type", tb_type_name(m->weights.weight_type),
                                  "weight_bytes", (json_int_t)m->weights.weight_bytes));

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
    json_object_set_new(rec, "memory",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "weight_bytes_mapped",
                                  (json_int_t)m->weights.weight_bytes, "activation_arena_bytes",
                                  (json_int_t)act_bytes, "kv_cache_bytes", (json_int_t)kv_bytes,
                                  "engine_total_bytes", (json_int_t)need, "budget_bytes",
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
    w.ss = (struct tb_llm_session){.m = m,
                                   .s = s,
                                   .run = tb_sched_graph_runner,
                                   .run_ctx = &pr->sr,
                                   .prompt = prompt,
                                   .n_prompt = n_prompt,
                                   .n_predict = n_predict,
                                   .op_ns = op_ns,
                                   .op_ns_sum = op_sum};
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
        json_object_set_new(
            rec, "energy",
            json_pack("{s:s, s:s}", "source", tb_energy_name(meter), "unavailable", reason));
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
                warn(rec, "tier coverage: %s (%s)", tb_coverage_verdict_name(cov.verdict), cov.why);
            keep_coverage(rc, &cov);
        }
    }

    /* accuracy beside speed */
    char acc_txt[64] = "n/a";
    if (o->accuracy_positions > 0) {
        struct tb_err ae = {0};
        char ref_dir[PATH_MAX_TB];
        snprintf(ref_dir, sizeof ref_dir, "%s/reference", tb_results_dir(rc->res));
        if (accuracy_eval(o, ref_dir, model_spec, path, tb_sched_graph_runner, &pr->sr, m, rec,
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
    summary_row(rc, p->name, wl_name, metric, st.median, st.p99, tps, energy_txt, acc_txt, tier_txt,
                status);
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
    print_record(rc, rec);
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
            json_object_set_new(o, "reason",
                                json_string(why_not ? why_not
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
    pr->binding =
        json_pack("{s:s, s:s}", "policy", tb_bind_policy_name(pr->plan.policy), "plan", plan);
    if (pr->plan.policy != TB_BIND_NONE && pr->plan.actual > 0) {
        /* the calling thread runs worker 0's share of every op */
        int observed = -1;
        struct tb_err be = {0};
        if (tb_topo_bind_current_thread(rc->topo, pr->plan.pu_os[0], &observed, &be))
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
        json_t *rec =
            tb_results_record_new(wl, p->name, rc->o->model ? rc->o->model : p->workloads[i].model);
        json_object_set(rec, "environment", rc->env);
        json_object_set_new(rec, "status", json_string("unsupported"));
        json_object_set_new(rec, "unsupported", json_string(why));
        json_object_set_new(rec, "params",
                            json_pack("{s:i}", "prompt", p->workloads[i].prompts[j]));
        json_object_set_new(rec, "placement", json_pack("{s:O}", "entries", pr->entries));
        struct tb_coverage cov;
        char cov_label[48]; /* matrix rows name the prompt length */
        snprintf(cov_label, sizeof cov_label, "%s p%d", wl, p->workloads[i].prompts[j]);
        tb_coverage_failed(p->name, cov_label, rc->o->model ? rc->o->model : p->workloads[i].model,
                           TB_COV_UNSUPPORTED, why, &cov);
        json_object_set_new(rec, "coverage", tb_coverage_to_json(&cov));
        keep_coverage(rc, &cov);
        rcode = tb_results_append(rc->res, rec, err);
        json_decref(rec);
        summary_row(rc, p->name, wl, "-", NAN, NAN, NAN, "n/a", "n/a", "unsupported",
                    "unsupported");
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

/* Opens the preference list (or --backend) with the profile's settings, the
 * test seam's overrides, and the tier probe. TB_EUNSUPPORTED with
 * pr->unsupported set: no named backend exists here and the profile does not
 * allow the CPU (err says which). */
static int open_backends(struct run_ctx *rc, struct profile_run *pr, struct tb_err *err)
{
    const struct tb_profile *p = pr->p;
    const int n_names = pr->n_listed;
    int rcode = tb_sched_backends_open(pr->names, n_names, &pr->cfg, &pr->bs, err);
    if (rcode)
        return rcode;
    const struct tb_run_hooks *h = rc->o->hooks;
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
    so.no_cpu_fallback = rc->o->no_cpu_fallback;
    rcode = tb_tier_probe_create(pr->bs.e, pr->bs.n, &so, NULL, 7, &pr->tp, err);
    pr->sr.sched = pr->tp ? tb_tier_probe_sched(pr->tp) : NULL;
    if (rcode)
        return rcode;
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

static void close_backends(struct profile_run *pr)
{
    tb_tier_probe_free(pr->tp); /* borrows the backends: before closing them */
    pr->tp = NULL;
    pr->sr.sched = NULL;
    tb_sched_backends_close(&pr->bs);
    memset(&pr->bs, 0, sizeof pr->bs);
    json_decref(pr->entries);
    pr->entries = NULL;
}

/* ------------------------------------------------ model file identity */

static void model_id_read(const char *path, struct model_id *m)
{
    struct stat st;
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    if (stat(path, &st) != 0)
        return;
    m->exists = 1;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    m->size = st.st_size;
    m->mtime = st.st_mtim;
}

/* Compares path with its identity as first seen by this run. Returns 1 and
 * describes the change in why when it differs, then adopts the new identity
 * (a change is reported once); 0 when unchanged or first seen. */
static int model_changed(struct run_ctx *rc, const char *path, char *why, size_t n)
{
    struct model_id now;
    model_id_read(path, &now);
    struct model_id *m = NULL;
    for (int i = 0; i < rc->n_models; i++)
        if (!strcmp(rc->models[i].path, path))
            m = &rc->models[i];
    if (!m) {
        if (rc->n_models == rc->cap_models) {
            const int cap = rc->cap_models ? 2 * rc->cap_models : 8;
            struct model_id *a = realloc(rc->models, sizeof *a * (size_t)cap);
            if (!a)
                return 0; /* not tracked: the record-level check still runs */
            rc->models = a;
            rc->cap_models = cap;
        }
        rc->models[rc->n_models++] = now;
        return 0;
    }
    int changed = 1;
    if (m->exists && !now.exists)
        snprintf(why, n,
                 "model file %s was deleted during the run (a process that had it "
                 "mapped measured the deleted file; later loads fail)",
                 path);
    else if (!m->exists && now.exists)
        snprintf(why, n, "model file %s appeared during the run", path);
    else if (m->exists && (m->dev != now.dev || m->ino != now.ino))
        snprintf(why, n,
                 "model file %s was replaced during the run (inode %llu -> %llu, size "
                 "%lld -> %lld bytes)",
                 path, (unsigned long long)m->ino, (unsigned long long)now.ino, (long long)m->size,
                 (long long)now.size);
    else if (m->exists && m->size != now.size)
        snprintf(why, n, "model file %s changed during the run: size %lld -> %lld bytes%s", path,
                 (long long)m->size, (long long)now.size,
                 m->mtime.tv_sec != now.mtime.tv_sec || m->mtime.tv_nsec != now.mtime.tv_nsec
                     ? ", mtime changed"
                     : "");
    else if (m->exists &&
             (m->mtime.tv_sec != now.mtime.tv_sec || m->mtime.tv_nsec != now.mtime.tv_nsec))
        snprintf(why, n,
                 "model file %s changed during the run: mtime changed (size %lld bytes "
                 "unchanged)",
                 path, (long long)now.size);
    else
        changed = 0;
    if (changed)
        *m = now;
    return changed;
}

/* ------------------------------------------------------------ watchdog */

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGPIPE: return "SIGPIPE";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    default: return "signal";
    }
}

/* A configuration that produced no result of its own (status TIMEOUT,
 * CRASHED or MODEL-CHANGED): one record with the message and the evidence
 * (stolen), a summary row; the suite goes on. */
static int append_outcome(struct run_ctx *rc, const struct profile_run *pr,
                          const struct tb_profile_workload *wl, int prompt_len, const char *status,
                          const char *msg, const char *evidence_key, json_t *evidence,
                          struct tb_err *err)
{
    const char *wl_name = tb_workload_kind_name(wl->kind);
    const char *model_spec = rc->o->model ? rc->o->model : wl->model;
    enum tb_isa isa = tb_isa_detect(); /* as the cpu backend picks it */
    if (pr->cfg.isa_cap < isa)
        isa = pr->cfg.isa_cap;
    char config[768];
    config_key(pr, model_spec, prompt_len, isa, config, sizeof config);
    json_t *rec = tb_results_record_new(wl_name, pr->p->name, config);
    if (!rec) {
        json_decref(evidence);
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    }
    json_object_set(rec, "environment", rc->env);
    json_object_set_new(rec, "backends", json_string(pr->prefs));
    json_object_set_new(rec, "profile_hash", json_string(pr->profile_hash));
    json_object_set_new(rec, "params",
                        json_pack("{s:s, s:i, s:i, s:I}", "model", model_spec, "prompt", prompt_len,
                                  "n_predict", wl->n_predict, "seed", (json_int_t)rc->o->seed));
    json_object_set_new(rec, "status", json_string(status));
    json_object_set_new(rec, "valid", json_false());
    json_object_set_new(rec, "invalid_reason", json_string(msg));
    json_object_set_new(rec, "error", json_string(msg));
    if (evidence)
        json_object_set_new(rec, evidence_key, evidence);
    const int arc = tb_results_append(rc->res, rec, err);
    print_record(rc, rec);
    json_decref(rec);
    summary_row(rc, pr->p->name, wl_name, "-", NAN, NAN, NAN, "n/a", "n/a", status, status);
    rc->n_incomplete++;
    return arc;
}

/* The child: opens the backends itself (the parent holds no thread pool and
 * no backend), measures one configuration, appends its record, and sends
 * the parent what lives in memory: summary rows, the record (for the SLOs),
 * coverage rows, the outcome. Frame: u32 length, JSON, i32 n, n x (struct
 * tb_coverage + its off[]); same binary on both ends. */
static void __attribute__((noreturn))
watched_child(struct run_ctx *rc, struct profile_run *pr, const struct tb_profile_workload *wl,
              int prompt_len, int fd)
{
    const size_t sum0 = json_array_size(rc->summary), res0 = tb_results_count(rc->res);
    const int cov0 = rc->n_cov;
    json_t *recs = json_array();
    struct tb_err e = {0};
    int done = 0;
    int r = open_backends(rc, pr, &e);
    if (r == TB_EUNSUPPORTED && pr->unsupported) {
        r = record_unsupported(rc, pr, &e);
        done = 1;
    } else if (!r) {
        r = run_workload(rc, pr, wl, prompt_len, recs, &e);
    }
    close_backends(pr);
    json_t *sum = json_array();
    for (size_t i = sum0; i < json_array_size(rc->summary); i++)
        json_array_append(sum, json_array_get(rc->summary, i));
    json_t *msg =
        json_pack("{s:i, s:s, s:b, s:I, s:i, s:o, s:o}", "rcode", r, "error", e.msg, "profile_done",
                  done, "appended", (json_int_t)(tb_results_count(rc->res) - res0), "n_done",
                  rc->n_done, "summary", sum, "records", recs);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    int bad = !text;
    if (text) {
        const uint32_t len = (uint32_t)strlen(text);
        const int32_t n_cov = rc->n_cov - cov0;
        const char *pipe = "result pipe";
        bad |= tb_write_all(fd, &len, sizeof len, pipe, NULL) ||
               tb_write_all(fd, text, len, pipe, NULL) ||
               tb_write_all(fd, &n_cov, sizeof n_cov, pipe, NULL);
        for (int i = cov0; i < rc->n_cov && !bad; i++)
            bad |= tb_write_all(fd, &rc->cov[i], sizeof rc->cov[i], pipe, NULL) ||
                   tb_write_all(fd, rc->cov[i].off,
                                sizeof *rc->cov[i].off * (size_t)rc->cov[i].n_off, pipe, NULL);
    }
    free(text);
    json_decref(msg);
    fflush(stdout);
    fflush(stderr);
    _exit(bad ? 1 : 0); /* no atexit handlers: they belong to the parent */
}

struct msg_buf {
    char *p;
    size_t n, cap;
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

/* Reads a child's whole message (until EOF) and reaps the child, both
 * within timeout seconds from t0; on expiry (or out of memory) kills its
 * process group. *status as waitpid gives it. */
static int collect_child(int fd, pid_t pid, double t0, double timeout, struct msg_buf *b,
                         int *timed_out, int *status)
{
    int oom = 0;
    *timed_out = 0;
    for (;;) {
        const double left = timeout - (wall_seconds() - t0);
        if (left <= 0) {
            *timed_out = 1;
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        const int k = poll(&pfd, 1, left * 1e3 > INT_MAX - 1 ? INT_MAX - 1 : (int)(left * 1e3) + 1);
        if (k <= 0)
            continue; /* EINTR or no data yet: the deadline is checked above */
        if (b->n == b->cap) {
            const size_t cap = b->cap ? 2 * b->cap : 65536;
            char *p = realloc(b->p, cap);
            if (!p) {
                oom = 1;
                break;
            }
            b->p = p;
            b->cap = cap;
        }
        const ssize_t r = read(fd, b->p + b->n, b->cap - b->n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        b->n += (size_t)r;
    }
    /* EOF came first: the child is exiting; still bounded by the deadline */
    pid_t w = 0;
    while (!*timed_out && !oom && (w = waitpid(pid, status, WNOHANG)) == 0) {
        if (wall_seconds() - t0 >= timeout) {
            *timed_out = 1;
            break;
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    if (w <= 0) {
        if (*timed_out || oom) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
            ;
    }
    return oom ? TB_ENOMEM : TB_OK;
}

/* fork() for a child that reports through a pipe: *fd is the read end in
 * the parent; in the child (returns 0) *fd is the write end, the child has
 * its own process group and dies with the parent. */
static pid_t fork_reporting(int *fd, struct tb_err *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) {
        tb_err_set(err, TB_EIO, "watchdog: pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL); /* buffered output would be written twice */
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        tb_err_set(err, TB_EIO, "watchdog: fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        setpgid(0, 0);
        /* a parent that dies (Ctrl-C) takes the child along */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        *fd = fds[1];
        return 0;
    }
    close(fds[1]);
    setpgid(pid, pid); /* both sides: whichever runs first */
    *fd = fds[0];
    return pid;
}

/* Merges a complete child message into the parent: summary rows, records
 * (into records), coverage rows. Returns -1 when the message is malformed
 * (a child that died mid-write), else 0 with the child's outcome. */
static int merge_child(struct run_ctx *rc, struct msg_buf *b, json_t *records, int *child_rc,
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
    *child_rc = (int)json_integer_value(json_object_get(msg, "rcode"));
    *profile_done = json_is_true(json_object_get(msg, "profile_done"));
    tb_err_set(cerr, *child_rc, "%s", json_string_value(json_object_get(msg, "error")));
    rc->n_child_records += (size_t)json_integer_value(json_object_get(msg, "appended"));
    rc->n_done = (int)json_integer_value(json_object_get(msg, "n_done"));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(msg, "summary"), i, x) json_array_append(rc->summary, x);
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
        keep_coverage(rc, &c);
    }
    return 0;
}

/* One configuration in a child process under the watchdog. The parent
 * waits with a deadline; on expiry it kills the child's process group
 * (TIMEOUT); a child that dies otherwise is CRASHED, or MODEL-CHANGED when
 * the model file changed under it (a truncated mapping raises SIGBUS).
 * Records the child appended stay. */
static int run_watched(struct run_ctx *rc, struct profile_run *pr,
                       const struct tb_profile_workload *wl, int prompt_len, json_t *records,
                       const char *model_path, int *profile_done, struct tb_err *err)
{
    const double timeout = rc->o->timeout_s;
    const double t0 = wall_seconds();
    int fd = -1;
    const pid_t pid = fork_reporting(&fd, err);
    if (pid < 0)
        return err->code;
    if (pid == 0)
        watched_child(rc, pr, wl, prompt_len, fd);
    struct msg_buf b = {0};
    int timed_out = 0, status = 0;
    const int oom = collect_child(fd, pid, t0, timeout, &b, &timed_out, &status) != TB_OK;
    close(fd);
    const double elapsed = wall_seconds() - t0;
    int rcode = TB_OK;
    if (oom) {
        rcode = tb_err_set(err, TB_ENOMEM, "watchdog: out of memory");
    } else if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        int child_rc = TB_OK;
        struct tb_err cerr = {0};
        if (merge_child(rc, &b, records, &child_rc, profile_done, &cerr))
            rcode = tb_err_set(err, TB_EIO,
                               "watchdog: the child for %s %s sent a malformed "
                               "result",
                               pr->p->name, tb_workload_kind_name(wl->kind));
        else if (child_rc) {
            *err = cerr;
            rcode = child_rc;
        }
        free(b.p);
        return rcode;
    }
    free(b.p);
    if (oom)
        return rcode;
    /* no result of its own: say how it ended, and whether the model changed;
     * a child killed mid-append may have left a torn line */
    int trc = tb_results_trim_torn(rc->res, err);
    if (trc)
        return trc;
    char how[256], why[PATH_MAX_TB + 256], msg[PATH_MAX_TB + 600];
    json_t *ev = json_pack("{s:f, s:f, s:I}", "timeout_s", timeout, "elapsed_s", elapsed, "pid",
                           (json_int_t)pid);
    const char *outcome;
    if (timed_out) {
        outcome = "TIMEOUT";
        snprintf(how, sizeof how,
                 "no result within the %g s timeout: the configuration's "
                 "process group was killed with SIGKILL after %.1f s",
                 timeout, elapsed);
        json_object_set_new(ev, "signal", json_string("SIGKILL"));
        json_object_set_new(ev, "killed_by_watchdog", json_true());
    } else if (WIFSIGNALED(status)) {
        outcome = "CRASHED";
        const int sig = WTERMSIG(status);
        snprintf(how, sizeof how, "the configuration's process died of %s (%s) after %.1f s",
                 signal_name(sig), strsignal(sig), elapsed);
        json_object_set_new(ev, "signal", json_string(signal_name(sig)));
        json_object_set_new(ev, "signal_number", json_integer(sig));
    } else {
        /* e.g. a sanitizer that caught the fault and exited */
        outcome = "CRASHED";
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        snprintf(how, sizeof how,
                 "the configuration's process exited with status %d without a "
                 "result after %.1f s",
                 code, elapsed);
        json_object_set_new(ev, "exit_status", json_integer(code));
    }
    json_object_set_new(ev, "outcome", json_string(outcome));
    if (model_path && model_changed(rc, model_path, why, sizeof why)) {
        outcome = "MODEL-CHANGED";
        json_object_set_new(ev, "model_change", json_string(why));
        snprintf(msg, sizeof msg, "%s; %s", why, how);
    } else {
        snprintf(msg, sizeof msg, "%s: %s", outcome, how);
    }
    if (!rc->o->quiet) {
        rc->n_done++;
        fprintf(stderr, "%stierbench run: %s %s p%d: %s\n", rc->tty ? "\n" : "", pr->p->name,
                tb_workload_kind_name(wl->kind), prompt_len, msg);
    }
    return append_outcome(rc, pr, wl, prompt_len, outcome, msg, "watchdog", ev, err);
}

/* One configuration: in-process, or in a child under the watchdog; the
 * model file's identity is checked before and after. */
static int run_config(struct run_ctx *rc, struct profile_run *pr,
                      const struct tb_profile_workload *wl, int prompt_len, json_t *records,
                      int *profile_done, struct tb_err *err)
{
    const struct tb_run_opts *o = rc->o;
    char path[PATH_MAX_TB], why[PATH_MAX_TB + 256];
    struct tb_err me = {0};
    /* an unresolvable spec fails in the measuring process, with its record;
     * under the watchdog that process also generates a synthetic model, so
     * a profile that turns out unsupported never costs one (llama3-8b f16
     * is 16 GB) */
    const int watched = o->timeout_s > 0;
    const int have_path = find_model(o->model ? o->model : wl->model, o->cache_dir, o->seed,
                                     !watched, path, sizeof path, &me) == TB_OK;
    int rcode = TB_OK;
    if (have_path && model_changed(rc, path, why, sizeof why))
        rcode = append_outcome(rc, pr, wl, prompt_len, "MODEL-CHANGED", why, "model_change",
                               json_pack("{s:s}", "path", path), err);
    if (rcode)
        return rcode;
    const int before = rc->n_incomplete;
    rcode = watched ? run_watched(rc, pr, wl, prompt_len, records, have_path ? path : NULL,
                                  profile_done, err)
                    : run_workload(rc, pr, wl, prompt_len, records, err);
    /* a change the outcome record did not already report (a model the
     * child generated is seen here for the first time) */
    const int have_after = have_path || find_model(o->model ? o->model : wl->model, o->cache_dir,
                                                   o->seed, false, path, sizeof path, &me) == TB_OK;
    if (!rcode && have_after && rc->n_incomplete == before &&
        model_changed(rc, path, why, sizeof why))
        rcode = append_outcome(rc, pr, wl, prompt_len, "MODEL-CHANGED", why, "model_change",
                               json_pack("{s:s}", "path", path), err);
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
    pr.names = (const char(*)[32])p->backends;
    pr.n_listed = p->n_backends;
    if (rc->o->backend) {
        snprintf(pr.one[0], sizeof pr.one[0], "%s", rc->o->backend);
        pr.names = (const char(*)[32])pr.one;
        pr.n_listed = 1;
    }
    for (int i = 0; i < pr.n_listed; i++) {
        const size_t len = strlen(pr.prefs);
        snprintf(pr.prefs + len, sizeof pr.prefs - len, "%s%s", i ? ">" : "", pr.names[i]);
    }
    /* under the watchdog every child opens its own backends: the parent
     * holds no backend (and no thread pool) when it forks */
    const int watched = rc->o->timeout_s > 0;
    if (!watched) {
        rcode = open_backends(rc, &pr, err);
        if (rcode == TB_EUNSUPPORTED && pr.unsupported) {
            rcode = record_unsupported(rc, &pr, err);
            goto out;
        }
    }
    json_t *records = json_array();
    int profile_done = 0;
    for (int i = 0; !rcode && !profile_done && i < p->n_workloads; i++) {
        const struct tb_profile_workload *wl = &p->workloads[i];
        if (!in_list(rc->o->workloads, tb_workload_kind_name(wl->kind)))
            continue;
        for (int j = 0; !rcode && !profile_done && j < wl->n_prompts; j++) /* each length */
            rcode = run_config(rc, &pr, wl, wl->prompts[j], records, &profile_done, err);
    }
    if (!rcode && !profile_done && p->n_slos)
        rcode = judge_slos(rc, p, records, any_fail, err);
    json_decref(records);
out:
    close_backends(&pr);
    json_decref(pr.binding);
    tb_bind_plan_free(&pr.plan);
    return rcode;
}

static void print_summary(const json_t *rows, FILE *f)
{
    fprintf(f, "\n%-20s %-14s %-8s %12s %12s %10s  %-14s %-22s %-16s %s\n", "profile", "workload",
            "metric", "median", "p99", "tok/s", "energy", "accuracy", "tier", "status");
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

/* build_env in a short-lived child: probing the backends loads device
 * runtimes (pocl keeps worker threads after its context is gone), and the
 * watchdog's parent must hold no threads when it forks. A probe that hangs
 * or dies leaves the environment without the device list, saying why. */
static json_t *build_env_isolated(struct run_ctx *rc, struct tb_err *err)
{
    const double t0 = wall_seconds();
    int fd = -1;
    const pid_t pid = fork_reporting(&fd, err);
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        struct tb_err e = {0};
        json_t *env = build_env(rc, &e);
        json_t *msg =
            json_pack("{s:o, s:s}", "environment", env ? env : json_null(), "error", e.msg);
        char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
        const int bad = !text || tb_write_all(fd, text, strlen(text), "result pipe", NULL);
        fflush(stdout);
        fflush(stderr);
        _exit(bad ? 1 : 0);
    }
    struct msg_buf b = {0};
    int timed_out = 0, status = 0;
    const int rcode = collect_child(fd, pid, t0, rc->o->timeout_s, &b, &timed_out, &status);
    close(fd);
    json_t *msg = !rcode && !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0
                      ? json_loadb(b.p, b.n, 0, NULL)
                      : NULL;
    free(b.p);
    json_t *env = json_incref(json_object_get(msg, "environment"));
    if (msg && !json_is_object(env)) {
        tb_err_set(err, TB_EIO, "%s", json_string_value(json_object_get(msg, "error")));
        json_decref(msg);
        json_decref(env);
        return NULL;
    }
    json_decref(msg);
    if (env)
        return env;
    /* the probe itself failed: the run goes on without the device list */
    env = tb_env_capture(err);
    if (env)
        json_object_set_new(env, "devices_unavailable",
                            json_string(timed_out ? "probing the backends timed out"
                                                  : "probing the backends crashed"));
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
                rc.n_total +=
                    in_list(o.workloads, tb_workload_kind_name(profiles[i]->workloads[j].kind))
                        ? profiles[i]->workloads[j].n_prompts
                        : 0;
        json_t *env = o.timeout_s > 0 ? build_env_isolated(&rc, err) : build_env(&rc, err);
        if (!env)
            rcode = err->code ? err->code : TB_ENOMEM;
        rc.env = env;
        json_t *plist = json_array();
        for (int i = 0; i < n_prof; i++)
            json_array_append_new(plist, json_string(profiles[i]->name));
        manifest =
            json_pack("{s:s, s:O, s:o, s:s, s:s, s:I, s:i, s:f, s:i}", "status", "running",
                      "environment", env ? env : json_null(), "profiles", plist, "profiles_dir",
                      o.profiles_dir, "cache_dir", o.cache_dir, "seed", (json_int_t)o.seed,
                      "min_samples", o.min_samples, "min_time_s", o.min_time_s, "warmup", o.warmup);
        json_object_set_new(manifest, "timeout_s", tb_json_number(o.timeout_s));
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
            json_object_set_new(
                manifest, "records",
                json_integer((json_int_t)(tb_results_count(rc.res) + rc.n_child_records)));
            json_object_set_new(manifest, "incomplete_configurations",
                                json_integer(rc.n_incomplete));
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
    free(rc.models);
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
    if (!rcode && rc.n_incomplete && !o.quiet)
        fprintf(stderr,
                "tierbench run: %d configuration(s) ended TIMEOUT, CRASHED or "
                "MODEL-CHANGED (see the results)\n",
                rc.n_incomplete);
    if (!rcode)
        *exit_code = rc.n_incomplete ? TB_RUN_EXIT_INCOMPLETE : any_fail || gate_fail ? 1 : 0;
    return rcode;
}

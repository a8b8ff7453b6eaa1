/* Measuring one configuration: the session the LoadGen-style loop drives,
 * counters and energy around it, the figures derived from it, the peak
 * RSS, and the tier probe (where every op really ran). Figures that cannot
 * be measured are recorded as unavailable with the reason, never as 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/run_internal.h"
#include "harness/tb_counters.h"
#include "harness/tb_env.h"
#include "harness/tb_stability.h"
#include "kernels/platform/tb_platform.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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

static json_t *stats_obj(const double *x, size_t n)
{
    struct tb_stats st;
    if (n == 0 || tb_stats_compute(x, n, NULL, &st, NULL))
        return json_null();
    return tb_stats_to_json(&st);
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

static int push_side(struct wl_run *w, double ttft, double tpot)
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
    struct wl_run *w = user;
    switch (w->wl->kind) {
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
                          tb_workload_kind_name(w->wl->kind));
    }
}

int run_measure_prepare(struct wl_run *c, struct tb_err *err)
{
    const struct tb_run_opts *o = c->run->o;
    int rc =
        tb_llama_state_build_kv(c->m, c->n_prompt, c->n_ctx, (enum tb_type)o->kv_type, &c->s, err);
    if (rc)
        return rc;
    c->prompt = malloc(sizeof *c->prompt * (size_t)c->n_prompt);
    c->embedding = malloc(sizeof *c->embedding * (size_t)c->m->config.dim);
    c->op_ns = calloc((size_t)c->s->graph.cap, sizeof *c->op_ns);
    c->op_sum = calloc((size_t)c->s->graph.cap, sizeof *c->op_sum);
    if (!c->prompt || !c->op_ns || !c->op_sum || !c->embedding)
        return tb_err_set(err, TB_ENOMEM, "out of memory");
    tb_workload_prompt(o->seed, c->m->config.vocab_size, c->prompt, c->n_prompt);
    c->ss = (struct tb_llm_session){.m = c->m,
                                    .s = c->s,
                                    .run = tb_sched_graph_runner,
                                    .run_ctx = &c->pr->sr,
                                    .prompt = c->prompt,
                                    .n_prompt = c->n_prompt,
                                    .n_predict = c->n_predict,
                                    .op_ns = c->op_ns,
                                    .op_ns_sum = c->op_sum};
    if (c->wl->kind == TB_WL_LLM_DECODE) { /* context to decode against, outside the timing */
        double t;
        rc = tb_llm_prefill(&c->ss, &t, &c->first_token, err);
    }
    return rc;
}

int run_measure_open(struct wl_run *c, struct tb_err *err)
{
    const struct tb_run_opts *o = c->run->o;
    const struct tb_profile *p = c->pr->p;
    const char *events = o->events      ? o->events
                         : p->events[0] ? p->events
                                        : TB_COUNTERS_DEFAULT_EVENTS;
    int rc = tb_counters_create(events, 0, &c->ctr, err);
    if (rc)
        return rc;
    struct tb_energy_config ecfg = {.source = o->energy ? o->energy : p->energy_source};
    if (ecfg.source && !*ecfg.source)
        ecfg.source = NULL;
    rc = tb_energy_open(&ecfg, &c->meter, err);
    if (rc)
        return rc;
    c->energy_on = tb_energy_disabled_reason(c->meter) == NULL;
    return TB_OK;
}

int run_measure_loop(struct wl_run *c, struct tb_err *err)
{
    const struct tb_run_opts *o = c->run->o;
    struct tb_err ce = {0}, ee = {0};
    struct tb_stability stab; /* canary + steal + thermal, before and after */
    tb_stability_begin(&stab, NULL);
    peak_rss_reset();
    const int ctr_ok = tb_counters_start(c->ctr, &ce) == TB_OK;
    const int en_ok = c->energy_on && tb_energy_start(c->meter, &ee) == TB_OK;
    const double cpu0 = cpu_seconds(), wall0 = (double)tb_now_ns() * 1e-9;
    memset(c->op_sum, 0, sizeof *c->op_sum * (size_t)c->s->graph.cap);
    const struct tb_measure_cfg mcfg = {.warmup_count = (size_t)o->warmup,
                                        .min_samples = (size_t)o->min_samples,
                                        .min_time_s = o->min_time_s,
                                        .max_time_s = o->max_time_s};
    /* evals in warm-up also fold into op_sum; they are reset below */
    const int rc = tb_measure_run(&mcfg, sample_fn, c, &c->set, err);
    const double cpu_s = cpu_seconds() - cpu0, wall_s = (double)tb_now_ns() * 1e-9 - wall0;
    c->energy_read = en_ok && tb_energy_stop(c->meter, &c->energy, &ee) == TB_OK;
    tb_copy_str(c->energy_err, sizeof c->energy_err, ee.msg);
    if (ctr_ok && tb_counters_stop(c->ctr, &ce))
        run_warn(c->rec, "counters: %s", ce.msg);
    int unstable = 0;
    json_t *sj = tb_stability_end(&stab, &unstable);
    if (unstable) {
        size_t k;
        json_t *why;
        json_array_foreach(json_object_get(sj, "reasons"), k, why)
            run_warn(c->rec, "unstable: %s", json_string_value(why));
    }
    json_object_set_new(c->rec, "stability", sj);
    if (rc && c->set.n == 0)
        return rc;
    set_counters(c->rec, c->ctr, ctr_ok ? tb_counters_disabled_reason(c->ctr) : ce.msg, cpu_s,
                 wall_s);
    return rc; /* with samples: the caller records them and still sees the code */
}

/* Throughput and rates from the primary metric and the engine's op
 * accounting: FLOP/s and weight-streaming GB/s of the last eval's graph
 * (llm-generate: per decode step, whose graph is the last one built). */
static json_t *derived_rates(struct wl_run *c)
{
    const enum tb_workload_kind kind = c->wl->kind;
    const size_t n = c->set.n;
    double flops = 0, bytes = 0;
    graph_totals(&c->s->graph, &flops, &bytes);
    json_t *d = json_object();
    const double med_s = c->st.median * 1e-3;
    if (kind == TB_WL_LLM_PREFILL) {
        c->tps = c->n_prompt / med_s;
        json_object_set_new(d, "prefill_tps", tb_json_number(c->tps));
    } else if (kind == TB_WL_EMBED) {
        c->tps = c->n_prompt / med_s;
        json_object_set_new(d, "sequences_per_s", tb_json_number(1.0 / med_s));
        json_object_set_new(d, "tokens_per_s", tb_json_number(c->tps));
    } else if (kind == TB_WL_LLM_DECODE) {
        c->tps = 1.0 / med_s;
        json_object_set_new(d, "decode_tps", tb_json_number(c->tps));
        json_object_set_new(d, "context_position", json_integer(c->n_prompt));
    } else {
        /* side figures of measured calls only: the first warmup entries are warm-up */
        const size_t skip = c->n_side > n ? c->n_side - n : 0;
        const double ttft = tb_median(c->ttft + skip, c->n_side - skip) * 1e3;
        const double tpot =
            c->n_predict > 1 ? tb_median(c->tpot + skip, c->n_side - skip) * 1e3 : NAN;
        c->tps = c->n_predict / med_s;
        json_object_set_new(d, "ttft_ms", stats_obj(c->ttft + skip, c->n_side - skip));
        json_object_set_new(d, "ttft_ms_median", tb_json_number(ttft));
        json_object_set_new(d, "tpot_ms_median", tb_json_number(tpot));
        json_object_set_new(d, "generate_tps", tb_json_number(c->tps));
        json_object_set_new(d, "decode_tps", tb_json_number(1e3 / tpot));
    }
    const double eval_s = kind == TB_WL_LLM_GENERATE
                              ? (c->n_predict > 1 ? tb_median(c->tpot, c->n_side) : med_s)
                              : med_s;
    json_object_set_new(d, "gflops_per_s", tb_json_number(flops / eval_s * 1e-9));
    json_object_set_new(d, "gbytes_per_s", tb_json_number(bytes / eval_s * 1e-9));
    json_object_set_new(d, "eval_flops", tb_json_number(flops));
    json_object_set_new(d, "eval_bytes", tb_json_number(bytes));
    return d;
}

static void energy_record(struct wl_run *c)
{
    const enum tb_workload_kind kind = c->wl->kind;
    const double tokens_per_sample = kind == TB_WL_LLM_PREFILL || kind == TB_WL_EMBED ? c->n_prompt
                                     : kind == TB_WL_LLM_DECODE                       ? 1
                                                                : c->n_prompt + c->n_predict;
    const double tokens = tokens_per_sample * (double)(c->set.n + c->set.warmup_n);
    const struct tb_energy_result *er = &c->energy;
    if (c->energy_read && er->seconds > 0) {
        json_object_set_new(c->rec, "energy",
                            json_pack("{s:s, s:o, s:o, s:o, s:o}", "source", er->source, "joules",
                                      tb_json_number(er->joules), "seconds",
                                      tb_json_number(er->seconds), "mean_watts",
                                      tb_json_number(er->joules / er->seconds), "joules_per_token",
                                      tb_json_number(er->joules / tokens)));
        snprintf(c->energy_txt, sizeof c->energy_txt, "%.3g J/tok", er->joules / tokens);
    } else {
        const char *why = !c->energy_on ? tb_energy_disabled_reason(c->meter) : c->energy_err;
        char reason[512];
        tb_copy_str(reason, sizeof reason, why ? why : "unknown");
        json_object_set_new(
            c->rec, "energy",
            json_pack("{s:s, s:s}", "source", tb_energy_name(c->meter), "unavailable", reason));
    }
}

int run_measure_derive(struct wl_run *c, struct tb_err *err)
{
    const enum tb_workload_kind kind = c->wl->kind;
    c->metric = kind == TB_WL_LLM_PREFILL  ? "ttft_ms"
                : kind == TB_WL_LLM_DECODE ? "itl_ms"
                : kind == TB_WL_EMBED      ? "sequence_ms"
                                           : "e2e_ms";
    for (size_t i = 0; i < c->set.n; i++) /* primary metric in ms */
        c->set.v[i] *= 1e3;
    int rc = tb_results_set_measurement(c->rec, c->metric, "ms", &c->set, NULL, err);
    if (rc)
        return rc;
    if (!c->set.valid)
        run_warn(c->rec, "INVALID: %s", c->set.invalid_reason);
    if (c->set.n)
        tb_stats_compute(c->set.v, c->set.n, NULL, &c->st, NULL);
    if (c->st.noisy)
        run_warn(c->rec, "noisy: coefficient of variation %.1f%%", 100 * c->st.cv);
    json_object_set_new(c->rec, "derived", derived_rates(c));
    if (c->ss.n_evals)
        json_object_set_new(c->rec, "op_time_share",
                            op_breakdown(&c->s->graph, c->op_sum, c->s->graph.n_ops));
    energy_record(c);
    /* memory actually resident */
    const long long hwm = tb_proc_kib("/proc/self/status", "VmHWM");
    json_object_set_new(json_object_get(c->rec, "memory"), "peak_rss_kib",
                        hwm >= 0 ? json_integer(hwm) : json_string("unavailable: no VmHWM"));
    return TB_OK;
}

/* A few evals of the workload's graph through the same placement, op by op
 * with evidence (kept out of the timing). */
void run_tier_probe(struct wl_run *c)
{
    const enum tb_workload_kind kind = c->wl->kind;
    struct tb_tier_probe *tp = c->pr->tp;
    struct tb_err ve = {0};
    int rc = TB_OK;
    for (int i = 0; i < 3 && !rc; i++)
        rc = kind == TB_WL_EMBED
                 ? tb_llama_embed_with(c->m, c->s, tb_tier_probe_runner, tp, c->prompt, c->n_prompt,
                                       c->embedding, NULL, &ve)
             : kind == TB_WL_LLM_PREFILL
                 ? tb_llama_eval_with(c->m, c->s, tb_tier_probe_runner, tp, c->prompt, c->n_prompt,
                                      0, TB_LLAMA_LAST_LOGITS, NULL, &ve)
                 : tb_llama_eval_with(c->m, c->s, tb_tier_probe_runner, tp, &c->first_token, 1,
                                      c->n_prompt - (kind == TB_WL_LLM_DECODE ? 0 : 1),
                                      TB_LLAMA_LAST_LOGITS, NULL, &ve);
    struct tb_coverage cov;
    if (!rc)
        rc = tb_tier_probe_coverage(tp, c->pr->p->name, c->cov_label, c->model_spec, &cov, &ve);
    if (rc) {
        json_object_set_new(c->rec, "coverage", json_pack("{s:s}", "unavailable", ve.msg));
        return;
    }
    json_object_set_new(c->rec, "coverage", tb_coverage_to_json(&cov));
    snprintf(c->tier_txt, sizeof c->tier_txt, "%s", tb_coverage_verdict_name(cov.verdict));
    if (cov.verdict != TB_COV_ON_TARGET)
        run_warn(c->rec, "tier coverage: %s (%s)", tb_coverage_verdict_name(cov.verdict), cov.why);
    run_keep_coverage(c->run, &cov);
}

void run_measure_free(struct wl_run *c)
{
    tb_sample_set_free(&c->set);
    free(c->ttft);
    free(c->tpot);
    free(c->embedding);
    free(c->prompt);
    free(c->op_ns);
    free(c->op_sum);
    tb_counters_free(c->ctr);
    tb_energy_free(c->meter);
    tb_llama_state_free(c->s);
    tb_llama_free(c->m);
}

/* SLO judging: one qualification record per profile from the profile's
 * workload records alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"

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
int run_judge_slos(struct run_ctx *run, const struct tb_profile *p, json_t *records, int *any_fail,
                   struct tb_err *err)
{
    json_t *rec = tb_results_record_new("qualification", p->name, "slo");
    json_object_set(rec, "environment", run->env);
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
    int arc = tb_results_append(run->res, rec, err);
    run_summary_row(run, rec, p->name, "SLO verdict", verdict, NAN, NAN, NAN, "", "", "", verdict);
    json_decref(rec);
    return arc;
}

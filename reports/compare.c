/* Statistical comparison of two result sets (tierbench compare, CI gate):
 * the verdict of each metric and the gate's decision over all of them. The
 * md/csv/json/junit writers are in compare_out.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_stats.h"
#include "reports/tb_report.h"

const char *tb_verdict_name(enum tb_verdict v)
{
    switch (v) {
    case TB_V_IMPROVEMENT: return "improvement";
    case TB_V_REGRESSION: return "regression";
    case TB_V_INCONCLUSIVE: return "inconclusive";
    case TB_V_MISSING: return "missing";
    case TB_V_NEW: return "new";
    default: return "no-change";
    }
}

void tb_cmp_opts_default(struct tb_cmp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->alpha = 0.01;
    o->threshold_pct = 5.0;
    o->mem_threshold_pct = 10.0;
    o->min_samples = 5;
}

int tb_cmp_opts_add_threshold(struct tb_cmp_opts *o, const char *spec, struct tb_err *err)
{
    const char *eq = strchr(spec, '=');
    char *end = NULL;
    double pct = eq ? strtod(eq + 1, &end) : NAN;
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof o->thr[0].metric || end == eq + 1 ||
        *end || !(pct >= 0) || !isfinite(pct))
        return tb_err_set(err, TB_EINVAL, "--threshold '%s': expected METRIC=PCT (PCT >= 0)", spec);
    if (o->n_thr == TB_CMP_MAX_THRESHOLDS)
        return tb_err_set(err, TB_EINVAL, "--threshold: at most %d per-metric thresholds",
                          TB_CMP_MAX_THRESHOLDS);
    snprintf(o->thr[o->n_thr].metric, sizeof o->thr[0].metric, "%.*s", (int)(eq - spec), spec);
    o->thr[o->n_thr++].pct = pct;
    return TB_OK;
}

int tb_metric_size_like(const char *m)
{
    static const char *const suffix[] = {"_kib", "_mib", "_bytes"};
    const size_t n = strlen(m);
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        const size_t k = strlen(suffix[i]);
        if (n > k && !strcmp(m + n - k, suffix[i]))
            return 1;
    }
    return 0;
}

/* The per-metric --threshold, else the memory threshold for sizes, else
 * the general one. */
static double threshold_for(const struct tb_cmp_opts *o, const char *metric)
{
    for (size_t i = o->n_thr; i-- > 0;)
        if (!strcmp(o->thr[i].metric, metric))
            return o->thr[i].pct;
    return tb_metric_size_like(metric) ? o->mem_threshold_pct : o->threshold_pct;
}

size_t tb_cmp_min_decidable(double alpha)
{
    /* the smallest two-sided exact p of n vs n samples is 2 / C(2n, n) */
    double c = 2.0; /* C(2, 1) */
    for (size_t n = 1; n < 64; n++) {
        if (2.0 / c < alpha)
            return n;
        c = c * (double)(2 * n + 1) * (double)(2 * n + 2) / ((double)(n + 1) * (double)(n + 1));
    }
    return 64;
}

/* Samples per side below which no decision is made. */
static size_t need_min(const struct tb_cmp_opts *o)
{
    const size_t m = tb_cmp_min_decidable(o->alpha);
    return o->min_samples > m ? o->min_samples : m;
}

/* z with two-sided normal tail p = erfc(z / sqrt 2), by bisection. */
static double z_of_p(double p)
{
    double lo = 0, hi = 40;
    for (int i = 0; i < 200; i++) {
        const double mid = (lo + hi) / 2;
        if (erfc(mid / sqrt(2.0)) > p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* Samples per side at which a test statistic that grows as sqrt(n) would
 * grow by `factor`: 2 * n_eff * factor^2 (n_eff = nb nc / (nb + nc)), at
 * least one more than either side has now; 0 when it cannot be said. */
static size_t scaled_need(size_t nb, size_t nc, double factor)
{
    if (!(factor > 0) || !isfinite(factor))
        return 0;
    const double n_eff = (double)nb * (double)nc / (double)(nb + nc);
    const double want = ceil(2.0 * n_eff * factor * factor);
    const size_t floor_n = (nb > nc ? nb : nc) + 1;
    if (!(want <= 1e5))
        return 0; /* the change sits at the threshold: no useful estimate */
    return (size_t)want > floor_n ? (size_t)want : floor_n;
}

/* tb_median of finite values; NaN there means out of memory. */
static int median_of(const double *v, size_t n, double *out, struct tb_err *err)
{
    *out = tb_median(v, n);
    if (!n || !isnan(*out))
        return TB_OK;
    return tb_err_set(err, TB_ENOMEM, "compare: out of memory");
}

/* 1 when both sides hold the same values (the same measurements). */
static int identical(const double *a, size_t na, const double *b, size_t nb)
{
    if (na != nb)
        return 0;
    double *s = malloc(2 * na * sizeof *s);
    if (!s)
        return 0;
    memcpy(s, a, na * sizeof *s);
    memcpy(s + na, b, nb * sizeof *s);
    qsort(s, na, sizeof *s, tb_cmp_double);
    qsort(s + na, nb, sizeof *s, tb_cmp_double);
    int same = 1;
    for (size_t i = 0; i < na && same; i++)
        same = s[i] == s[na + i];
    free(s);
    return same;
}

/* Too few values on a side for any test to decide: inconclusive, saying
 * how many it needs, however large the change (one sample a side cannot
 * tell a change from noise). A scalar that did not move stays no-change:
 * the record's own sampled metric carries the statistical verdict. */
static void too_few(struct tb_cmp_row *row, enum tb_series_kind kind, int big, size_t need,
                    const struct tb_cmp_opts *o)
{
    const size_t nb = row->n_base, nc = row->n_cand;
    if (kind == TB_SERIES_SCALAR && !big) {
        row->verdict = TB_V_NO_CHANGE;
        snprintf(row->note, sizeof row->note,
                 "one value per run (%zu vs %zu): moved less than %g%%", nb, nc,
                 row->threshold_pct);
        return;
    }
    row->verdict = TB_V_INCONCLUSIVE;
    row->need = need;
    char what[96];
    if (isfinite(row->change_pct))
        snprintf(what, sizeof what, "a %+.1f%% change", row->change_pct);
    else
        snprintf(what, sizeof what, "a change from 0");
    if (kind == TB_SERIES_SCALAR)
        snprintf(row->note, sizeof row->note,
                 "too few samples: %s with %zu vs %zu value(s) (one per run) cannot be told from "
                 "noise, however large; need >= %zu runs per side (e.g. compare --interleave %zu)",
                 what, nb, nc, need, need);
    else
        snprintf(row->note, sizeof row->note,
                 "too few samples: %s with %zu vs %zu sample(s) cannot be told from noise, however "
                 "large; need >= %zu per side (Mann-Whitney at alpha %g; %s%zu)",
                 what, nb, nc, need, o->alpha,
                 o->gbench ? "--benchmark_repetitions=" : "run --reps ", need);
}

/* Enough samples: the Mann-Whitney U test and the effect-size threshold;
 * a small change is no-change only when both medians' 95% bootstrap
 * intervals bound it inside the threshold. */
static int tested(const double *base, size_t nb, const double *cand, size_t nc, int big,
                  enum tb_verdict dir, const struct tb_cmp_opts *o, struct tb_cmp_row *row,
                  struct tb_err *err)
{
    const double thr = row->threshold_pct;
    struct tb_mwu m;
    int rc = tb_mann_whitney(base, nb, cand, nc, TB_MWU_AUTO, &m, err);
    if (rc)
        return rc;
    row->p = m.p;
    if (big && m.p < o->alpha) {
        row->verdict = dir;
        return TB_OK;
    }
    if (big) {
        row->verdict = TB_V_INCONCLUSIVE;
        row->need = m.p < 1 ? scaled_need(nb, nc, z_of_p(o->alpha) / z_of_p(m.p)) : 0;
        if (row->need)
            snprintf(row->note, sizeof row->note,
                     "too noisy: p = %.3g >= alpha %.3g with %zu vs %zu samples; need about %zu "
                     "per side to decide a change this large",
                     m.p, o->alpha, nb, nc, row->need);
        else
            snprintf(row->note, sizeof row->note,
                     "too noisy: p = %.3g >= alpha %.3g with %zu vs %zu samples: collect more "
                     "samples",
                     m.p, o->alpha, nb, nc);
        return TB_OK;
    }
    struct tb_stats sb, sc;
    struct tb_stats_opts so;
    tb_stats_opts_default(&so);
    rc = tb_stats_compute(base, nb, &so, &sb, err);
    if (!rc)
        rc = tb_stats_compute(cand, nc, &so, &sc, err);
    if (rc)
        return rc;
    const double den = fabs(row->med_base);
    if (!(den > 0)) {
        /* both medians are 0 (a change from 0 is "big"): relative bounds
         * are undefined, absolute ones decide */
        const int zero = sb.median_ci_lo == 0 && sb.median_ci_hi == 0 && sc.median_ci_lo == 0 &&
                         sc.median_ci_hi == 0;
        row->verdict = zero ? TB_V_NO_CHANGE : TB_V_INCONCLUSIVE;
        if (!zero)
            snprintf(row->note, sizeof row->note,
                     "base median is 0: a relative change cannot be bounded; collect more samples");
        return TB_OK;
    }
    const double lo = (sc.median_ci_lo - sb.median_ci_hi) / den * 100.0;
    const double hi = (sc.median_ci_hi - sb.median_ci_lo) / den * 100.0;
    if (!isfinite(lo) || !isfinite(hi)) {
        row->verdict = TB_V_INCONCLUSIVE;
        snprintf(row->note, sizeof row->note,
                 "unavailable: the medians' 95%% intervals could not be computed; collect more "
                 "samples");
        return TB_OK;
    }
    if (lo > -thr && hi < thr) {
        row->verdict = TB_V_NO_CHANGE;
        return TB_OK;
    }
    /* the interval shrinks as 1/sqrt(n): the factor that fits it inside */
    const double c = row->change_pct;
    const double f = fmax((hi - c) / (thr - c), (c - lo) / (thr + c));
    row->verdict = TB_V_INCONCLUSIVE;
    row->need = scaled_need(nb, nc, f);
    char need[80] = "collect many more samples (the change is close to the threshold)";
    if (row->need)
        snprintf(need, sizeof need, "need about %zu samples per side", row->need);
    snprintf(row->note, sizeof row->note,
             "change %+.1f%% but its 95%% interval [%+.1f%%, %+.1f%%] reaches the %g%% "
             "threshold: %s",
             c, lo, hi, thr, need);
    return TB_OK;
}

/* tb_compare_values; size_rule: the metric is a size (tb_metric_size_like) */
static int decide_values(const double *base, size_t nb, const double *cand, size_t nc,
                         enum tb_series_kind kind, int higher_better, double thr, int size_rule,
                         const struct tb_cmp_opts *o, struct tb_cmp_row *row, struct tb_err *err)
{
    row->n_base = nb;
    row->n_cand = nc;
    row->higher_better = higher_better;
    row->threshold_pct = thr;
    row->p = NAN;
    row->change_pct = NAN;
    row->need = 0;
    row->note[0] = 0;
    for (size_t i = 0; i < nb + nc; i++) {
        const double v = i < nb ? base[i] : cand[i - nb];
        if (!isfinite(v))
            return tb_err_set(err, TB_EINVAL, "compare: %s value %zu is not finite",
                              i < nb ? "base" : "candidate", i < nb ? i : i - nb);
    }
    int rc = median_of(base, nb, &row->med_base, err);
    if (!rc)
        rc = median_of(cand, nc, &row->med_cand, err);
    if (rc)
        return rc;
    if (!nb || !nc) {
        row->verdict = nb ? TB_V_MISSING : TB_V_NEW;
        snprintf(row->note, sizeof row->note, "%s",
                 nb ? "missing in candidate" : "new in candidate");
        return TB_OK;
    }
    const double diff = row->med_cand - row->med_base;
    if (row->med_base != 0)
        row->change_pct = diff / fabs(row->med_base) * 100.0;
    else if (row->med_cand == 0)
        row->change_pct = 0.0;
    /* signed change where positive means "worse" */
    const double worse = higher_better ? -diff : diff;
    const int big = isfinite(row->change_pct) ? fabs(row->change_pct) >= thr : diff != 0;
    const enum tb_verdict dir = worse > 0 ? TB_V_REGRESSION : TB_V_IMPROVEMENT;
    if (kind == TB_SERIES_DETERMINISTIC) {
        /* accuracy is a function of the weights and seed, not of timing noise */
        row->verdict = big ? dir : TB_V_NO_CHANGE;
        snprintf(row->note, sizeof row->note, "deterministic metric: threshold only");
        return TB_OK;
    }
    if (size_rule) {
        /* sizes (peak RSS, model and KV bytes) barely vary run to run: a
         * move past the memory threshold decides, whatever the sample count */
        const int over = isfinite(row->change_pct) ? fabs(row->change_pct) > thr : diff != 0;
        row->verdict = over ? dir : TB_V_NO_CHANGE;
        snprintf(row->note, sizeof row->note, "size: threshold rule (fails past %s%g%%)",
                 higher_better ? "-" : "+", thr);
        return TB_OK;
    }
    if (identical(base, nb, cand, nc)) {
        row->verdict = TB_V_NO_CHANGE;
        snprintf(row->note, sizeof row->note, "identical values on both sides");
        return TB_OK;
    }
    const size_t need = need_min(o);
    if (nb < need || nc < need) {
        too_few(row, kind, big, need, o);
        return TB_OK;
    }
    return tested(base, nb, cand, nc, big, dir, o, row, err);
}

int tb_compare_values(const double *base, size_t nb, const double *cand, size_t nc,
                      enum tb_series_kind kind, int higher_better, double thr,
                      const struct tb_cmp_opts *o, struct tb_cmp_row *row, struct tb_err *err)
{
    return decide_values(base, nb, cand, nc, kind, higher_better, thr, 0, o, row, err);
}

static struct tb_cmp_row *new_row(struct tb_cmp_result *r, const struct tb_series *s,
                                  struct tb_err *err)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        struct tb_cmp_row *p = realloc(r->rows, cap * sizeof *p);
        if (!p) {
            tb_err_set(err, TB_ENOMEM, "compare: out of memory");
            return NULL;
        }
        r->rows = p;
        r->cap = cap;
    }
    struct tb_cmp_row *row = &r->rows[r->n++];
    memset(row, 0, sizeof *row);
    snprintf(row->key, sizeof row->key, "%s", s->key);
    snprintf(row->label, sizeof row->label, "%s", s->label);
    snprintf(row->metric, sizeof row->metric, "%s", s->metric);
    snprintf(row->unit, sizeof row->unit, "%s", s->unit);
    row->med_base = row->med_cand = row->change_pct = row->p = row->threshold_pct = NAN;
    return row;
}

/* A fingerprint field as text: a string as it is, anything else as JSON,
 * absent as "none". */
static void field_text(json_t *v, char *buf, size_t n)
{
    if (!v) {
        snprintf(buf, n, "none");
    } else if (json_is_string(v)) {
        snprintf(buf, n, "%s", json_string_value(v));
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(buf, n, "%s", s ? s : "?");
        free(s);
    }
}

/* "placement changed: " and what moved: backend/fallback/coverage verdict
 * changes, then each op that is newly off target (or moved elsewhere) with
 * where it now runs. */
static void placement_note(const char *a, const char *b, char *note, size_t n)
{
    json_t *ja = a ? json_loads(a, 0, NULL) : NULL, *jb = b ? json_loads(b, 0, NULL) : NULL;
    size_t len = (size_t)snprintf(note, n, "placement changed: ");
    const size_t head = len;
    const char *fields[] = {"backend", "fallback", "coverage_verdict"};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_object_get(ja, fields[i]), *y = json_object_get(jb, fields[i]);
        if (!json_equal(x, y) && len < n) {
            char sx[128], sy[128];
            field_text(x, sx, sizeof sx);
            field_text(y, sy, sizeof sy);
            len += (size_t)snprintf(note + len, n - len, "%s%s %s -> %s", len > head ? "; " : "",
                                    fields[i], sx, sy);
        }
    }
    json_t *oa = json_object_get(ja, "off_target"), *ob = json_object_get(jb, "off_target");
    const char *k;
    json_t *v;
    json_object_foreach(ob, k, v)
    {
        json_t *old = json_object_get(oa, k);
        if (!json_equal(old, v) && len < n)
            len += (size_t)snprintf(note + len, n - len, "%sop %s now off target on %s%s%s",
                                    len > head ? "; " : "", k, json_string_value(v),
                                    old ? ", was " : "", old ? json_string_value(old) : "");
    }
    json_object_foreach(oa, k, v)
    {
        if (!json_object_get(ob, k) && len < n)
            len += (size_t)snprintf(note + len, n - len, "%sop %s back on target",
                                    len > head ? "; " : "", k);
    }
    if (len == head && len < n)
        snprintf(note + len, n - len, "fingerprint differs");
    json_decref(ja);
    json_decref(jb);
}

/* An outcome row (a side without a result of its own: TIMEOUT, CRASHED,
 * MODEL-CHANGED, see load.c): a candidate that lost a result fails the
 * gate; a base that lost one cannot be compared. */
static void outcome_row(const struct tb_series *b, const struct tb_series *c,
                        struct tb_cmp_row *row)
{
    row->verdict = c && !b ? TB_V_REGRESSION : TB_V_INCONCLUSIVE;
    snprintf(row->note, sizeof row->note, "%s%s%s%s%s%s", b ? "base " : "",
             b && b->text ? b->text : "", b && c ? "; " : "", c ? "candidate " : "",
             c && c->text ? c->text : "",
             b && !c  ? ": the base has no result to compare against"
             : b && c ? ": neither side has a result"
                      : "");
}

static int compare_one(const struct tb_series *b, const struct tb_series *c, int cand_has_key,
                       const struct tb_cmp_opts *o, struct tb_cmp_result *out, struct tb_err *err)
{
    const struct tb_series *s = b ? b : c;
    struct tb_cmp_row *row = new_row(out, s, err);
    if (!row)
        return TB_ENOMEM;
    if (s->kind == TB_SERIES_PLACEMENT) {
        row->n_base = b ? 1 : 0;
        row->n_cand = c ? 1 : 0;
        if (!strcmp(s->metric, "outcome")) {
            outcome_row(b, c, row);
            return TB_OK;
        }
        if (!b || !c) {
            row->verdict = b ? TB_V_MISSING : TB_V_NEW;
            snprintf(row->note, sizeof row->note, "%s",
                     b ? "missing in candidate" : "new in candidate");
        } else if (b->text && c->text && strcmp(b->text, c->text)) {
            /* a placement change is a regression of its own, whatever the timing */
            row->verdict = TB_V_REGRESSION;
            placement_note(b->text, c->text, row->note, sizeof row->note);
        } else {
            row->verdict = TB_V_NO_CHANGE;
        }
    } else {
        const int size_rule = s->kind != TB_SERIES_DETERMINISTIC && tb_metric_size_like(s->metric);
        int rc = decide_values(b ? b->v : NULL, b ? b->n : 0, c ? c->v : NULL, c ? c->n : 0,
                               s->kind, tb_metric_higher_better(s->metric),
                               threshold_for(o, s->metric), size_rule, o, row, err);
        if (rc)
            return tb_err_wrap(err, rc, "%s %s", s->key, s->metric);
    }
    if (row->verdict == TB_V_MISSING)
        snprintf(row->note, sizeof row->note, "%s",
                 cand_has_key ? "metric missing in candidate (the configuration is there)"
                              : "configuration missing in candidate");
    return TB_OK;
}

static int has_key(const struct tb_series_set *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->s[i].key, key))
            return 1;
    return 0;
}

/* A rate derived from the record's own timing samples (derived.*_tps,
 * gflops_per_s): one value per run, but not an independent measurement. */
static int derived_rate(const char *metric)
{
    return strstr(metric, "_tps") || !strcmp(metric, "gflops_per_s");
}

/* A derived rate that too few runs leave undecided takes the verdict of
 * the sampled metric it was computed from (same configuration), when the
 * test decided that one: both measure the same speed. */
static void follow_samples(struct tb_cmp_result *out, const struct tb_series_set *base)
{
    for (size_t i = 0; i < out->n; i++) {
        struct tb_cmp_row *w = &out->rows[i];
        if (w->verdict != TB_V_INCONCLUSIVE || !w->need || !derived_rate(w->metric))
            continue;
        const struct tb_series *s = tb_series_find(base, w->key, w->metric);
        if (!s || s->kind != TB_SERIES_SCALAR)
            continue;
        for (size_t j = 0; j < out->n; j++) {
            const struct tb_cmp_row *t = &out->rows[j];
            const struct tb_series *ts = tb_series_find(base, t->key, t->metric);
            if (j == i || strcmp(t->key, w->key) || !ts || ts->kind != TB_SERIES_SAMPLES ||
                t->verdict == TB_V_MISSING || t->verdict == TB_V_NEW)
                continue;
            if (t->verdict == TB_V_INCONCLUSIVE) {
                /* more samples of that metric decide this one too */
                w->need = t->need;
                char need[64] = "";
                if (t->need)
                    snprintf(need, sizeof need, ": need >= %zu samples per side there", t->need);
                snprintf(w->note, sizeof w->note,
                         "one value per run, derived from the %s samples (%zu vs %zu), which "
                         "cannot decide either%s",
                         t->metric, t->n_base, t->n_cand, need);
                break;
            }
            w->verdict = t->verdict;
            w->need = 0;
            snprintf(w->note, sizeof w->note,
                     "one value per run, derived from the %s samples (%zu vs %zu): follows "
                     "their verdict",
                     t->metric, t->n_base, t->n_cand);
            break;
        }
    }
}

int tb_compare_sets(const struct tb_series_set *base, const struct tb_series_set *cand,
                    const struct tb_cmp_opts *o, struct tb_cmp_result *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    out->alpha = o->alpha;
    out->allow_inconclusive = o->allow_inconclusive;
    out->allow_missing = o->allow_missing;
    for (size_t i = 0; i < base->n; i++) {
        const struct tb_series *b = &base->s[i];
        const struct tb_series *c = tb_series_find(cand, b->key, b->metric);
        int rc = compare_one(b, c, c || has_key(cand, b->key), o, out, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < cand->n; i++) {
        if (tb_series_find(base, cand->s[i].key, cand->s[i].metric))
            continue;
        int rc = compare_one(NULL, &cand->s[i], 1, o, out, err);
        if (rc)
            return rc;
    }
    follow_samples(out, base);
    return TB_OK;
}

void tb_cmp_result_free(struct tb_cmp_result *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}

size_t tb_cmp_count(const struct tb_cmp_result *r, enum tb_verdict v)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->rows[i].verdict == v;
    return n;
}

int tb_cmp_row_gated(const struct tb_cmp_result *r, const struct tb_cmp_row *w)
{
    switch (w->verdict) {
    case TB_V_REGRESSION: return TB_CMP_GATE_FAIL;
    case TB_V_MISSING: return r->allow_missing ? TB_CMP_GATE_PASS : TB_CMP_GATE_FAIL;
    case TB_V_INCONCLUSIVE:
        return r->allow_inconclusive ? TB_CMP_GATE_PASS : TB_CMP_GATE_INCONCLUSIVE;
    default: return TB_CMP_GATE_PASS;
    }
}

int tb_cmp_gate(const struct tb_cmp_result *r)
{
    int fail = 0, inconclusive = 0;
    for (size_t i = 0; i < r->n; i++) {
        const int g = tb_cmp_row_gated(r, &r->rows[i]);
        fail |= g == TB_CMP_GATE_FAIL;
        inconclusive |= g == TB_CMP_GATE_INCONCLUSIVE;
    }
    return fail ? TB_CMP_GATE_FAIL : inconclusive ? TB_CMP_GATE_INCONCLUSIVE : TB_CMP_GATE_PASS;
}

size_t tb_cmp_samples_needed(const struct tb_cmp_result *r)
{
    size_t need = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->rows[i].verdict == TB_V_INCONCLUSIVE && r->rows[i].need > need)
            need = r->rows[i].need;
    return need;
}

/* ---- the sizes a run records besides peak RSS (memory.*_bytes) */

int tb_cmp_extract_sizes(const struct tb_rsrc *src, struct tb_series_set *set, struct tb_err *err)
{
    static const char *const fields[] = {"weight_bytes_mapped", "kv_cache_bytes",
                                         "activation_arena_bytes", "engine_total_bytes"};
    if (src->is_gbench)
        return TB_OK;
    size_t i;
    json_t *rec;
    json_array_foreach(src->records, i, rec)
    {
        const char *st = json_string_value(json_object_get(rec, "status"));
        const char *wl = json_string_value(json_object_get(rec, "workload"));
        const char *pr = json_string_value(json_object_get(rec, "profile"));
        const char *cf = json_string_value(json_object_get(rec, "config"));
        if ((st && strcmp(st, "ok")) || (wl && !strcmp(wl, "qualification")))
            continue;
        char key[256];
        snprintf(key, sizeof key, "%s/%s/%s", pr ? pr : "?", wl ? wl : "?", cf ? cf : "?");
        json_t *mem = json_object_get(rec, "memory");
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            json_t *v = json_object_get(mem, fields[k]);
            if (!json_is_number(v))
                continue;
            const double x = json_number_value(v);
            int rc = tb_series_add(set, key, fields[k], "B", TB_SERIES_SCALAR, &x, 1, err);
            if (rc)
                return tb_err_wrap(err, rc, "%s", src->path);
        }
    }
    return TB_OK;
}

/* Statistical comparison of two result sets (tierbench compare, CI gate). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_results.h" /* tb_csv_str */
#include "harness/tb_stats.h"
#include "reports/tb_report.h"

const char *tb_verdict_name(enum tb_verdict v)
{
    switch (v) {
    case TB_V_IMPROVEMENT: return "improvement";
    case TB_V_REGRESSION: return "regression";
    case TB_V_INCONCLUSIVE: return "inconclusive";
    default: return "no-change";
    }
}

void tb_cmp_opts_default(struct tb_cmp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->alpha = 0.01;
    o->threshold_pct = 5.0;
    o->min_samples = 5;
}

int tb_cmp_opts_add_threshold(struct tb_cmp_opts *o, const char *spec, struct tb_err *err)
{
    const char *eq = strchr(spec, '=');
    char *end = NULL;
    double pct = eq ? strtod(eq + 1, &end) : NAN;
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof o->thr[0].metric || end == eq + 1 ||
        *end || !(pct >= 0))
        return tb_err_set(err, TB_EINVAL, "--threshold '%s': expected METRIC=PCT (PCT >= 0)", spec);
    if (o->n_thr == TB_CMP_MAX_THRESHOLDS)
        return tb_err_set(err, TB_EINVAL, "--threshold: at most %d per-metric thresholds",
                          TB_CMP_MAX_THRESHOLDS);
    snprintf(o->thr[o->n_thr].metric, sizeof o->thr[0].metric, "%.*s", (int)(eq - spec), spec);
    o->thr[o->n_thr++].pct = pct;
    return TB_OK;
}

static double threshold_for(const struct tb_cmp_opts *o, const char *metric)
{
    for (size_t i = o->n_thr; i-- > 0;)
        if (!strcmp(o->thr[i].metric, metric))
            return o->thr[i].pct;
    return o->threshold_pct;
}

/* tb_median, whose NaN for out of memory is told apart from the NaN that
 * non-finite samples give (tb_stats_compute rejects those afterwards). */
static int median_of(const double *v, size_t n, double *out, struct tb_err *err)
{
    *out = tb_median(v, n);
    if (!n || !isnan(*out))
        return TB_OK;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return TB_OK;
    return tb_err_set(err, TB_ENOMEM, "compare: out of memory");
}

int tb_compare_values(const double *base, size_t nb, const double *cand, size_t nc,
                      enum tb_series_kind kind, int higher_better, double thr,
                      const struct tb_cmp_opts *o, struct tb_cmp_row *row, struct tb_err *err)
{
    row->n_base = nb;
    row->n_cand = nc;
    row->higher_better = higher_better;
    row->threshold_pct = thr;
    row->p = NAN;
    row->change_pct = NAN;
    row->note[0] = 0;
    int rc = median_of(base, nb, &row->med_base, err);
    if (!rc)
        rc = median_of(cand, nc, &row->med_cand, err);
    if (rc)
        return rc;
    if (!nb || !nc) {
        row->verdict = TB_V_INCONCLUSIVE;
        snprintf(row->note, sizeof row->note, "missing in %s", nb ? "candidate" : "base");
        return TB_OK;
    }
    if (row->med_base != 0)
        row->change_pct = (row->med_cand - row->med_base) / fabs(row->med_base) * 100.0;
    else
        row->change_pct = row->med_cand == 0 ? 0.0 : NAN;
    /* signed change where positive means "worse" */
    double worse = higher_better ? -row->change_pct : row->change_pct;
    int big = !isfinite(row->change_pct) || fabs(row->change_pct) >= thr;
    enum tb_verdict dir = worse > 0 ? TB_V_REGRESSION : TB_V_IMPROVEMENT;
    if (kind == TB_SERIES_DETERMINISTIC) {
        /* accuracy is a function of the weights and seed, not of timing noise */
        row->verdict = big ? dir : TB_V_NO_CHANGE;
        snprintf(row->note, sizeof row->note, "deterministic metric: threshold only");
        return TB_OK;
    }
    if (nb < o->min_samples || nc < o->min_samples) {
        /* a scalar (one value per run) that did not move is reported as
         * such; anything else without enough samples cannot be decided */
        row->verdict = kind == TB_SERIES_SCALAR && !big ? TB_V_NO_CHANGE : TB_V_INCONCLUSIVE;
        snprintf(row->note, sizeof row->note, "too few samples (%zu vs %zu; need >= %zu each)", nb,
                 nc, o->min_samples);
        return TB_OK;
    }
    struct tb_mwu m;
    rc = tb_mann_whitney(base, nb, cand, nc, TB_MWU_AUTO, &m, err);
    if (rc)
        return rc;
    row->p = m.p;
    if (big && m.p < o->alpha) {
        row->verdict = dir;
    } else if (big) {
        row->verdict = TB_V_INCONCLUSIVE;
        snprintf(row->note, sizeof row->note, "too noisy: p = %.3g >= alpha %.3g", m.p, o->alpha);
    } else {
        /* a small observed change is "no-change" only when the data rule out
         * a change of the threshold's size: the 95% bootstrap intervals of
         * both medians bound the relative change inside (-thr, +thr);
         * otherwise the samples are too few to tell, and the gate says so */
        struct tb_stats sb, sc;
        struct tb_stats_opts so;
        tb_stats_opts_default(&so);
        rc = tb_stats_compute(base, nb, &so, &sb, err);
        if (!rc)
            rc = tb_stats_compute(cand, nc, &so, &sc, err);
        if (rc)
            return rc;
        const double den = fabs(row->med_base);
        const double lo = den > 0 ? (sc.median_ci_lo - sb.median_ci_hi) / den * 100.0 : NAN;
        const double hi = den > 0 ? (sc.median_ci_hi - sb.median_ci_lo) / den * 100.0 : NAN;
        if (lo > -thr && hi < thr) {
            row->verdict = TB_V_NO_CHANGE;
        } else {
            row->verdict = TB_V_INCONCLUSIVE;
            snprintf(row->note, sizeof row->note,
                     "change %+.1f%% but its 95%% interval [%+.1f%%, %+.1f%%] reaches the "
                     "%.3g%% threshold: collect more samples",
                     row->change_pct, lo, hi, thr);
        }
    }
    return TB_OK;
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
    snprintf(row->metric, sizeof row->metric, "%s", s->metric);
    snprintf(row->unit, sizeof row->unit, "%s", s->unit);
    return row;
}

/* Names what moved: backend/fallback/coverage verdict changes, then each op
 * that is newly off target (or moved elsewhere) with where it now runs. */
static void placement_note(const char *a, const char *b, char *note, size_t n)
{
    json_t *ja = a ? json_loads(a, 0, NULL) : NULL, *jb = b ? json_loads(b, 0, NULL) : NULL;
    size_t len = 0;
    note[0] = 0;
    const char *fields[] = {"backend", "fallback", "coverage_verdict"};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_object_get(ja, fields[i]), *y = json_object_get(jb, fields[i]);
        if (!json_equal(x, y) && len < n) {
            char *sx = x ? json_dumps(x, JSON_ENCODE_ANY) : NULL;
            char *sy = y ? json_dumps(y, JSON_ENCODE_ANY) : NULL;
            len += (size_t)snprintf(note + len, n - len, "%s%s %s -> %s", len ? "; " : "",
                                    fields[i], sx ? sx : "none", sy ? sy : "none");
            free(sx);
            free(sy);
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
                                    len ? "; " : "", k, json_string_value(v), old ? ", was " : "",
                                    old ? json_string_value(old) : "");
    }
    json_object_foreach(oa, k, v)
    {
        if (!json_object_get(ob, k) && len < n)
            len +=
                (size_t)snprintf(note + len, n - len, "%sop %s back on target", len ? "; " : "", k);
    }
    if (!note[0])
        snprintf(note, n, "placement changed");
    json_decref(ja);
    json_decref(jb);
}

static int compare_one(const struct tb_series *b, const struct tb_series *c,
                       const struct tb_cmp_opts *o, struct tb_cmp_result *out, struct tb_err *err)
{
    const struct tb_series *s = b ? b : c;
    struct tb_cmp_row *row = new_row(out, s, err);
    if (!row)
        return TB_ENOMEM;
    if (s->kind == TB_SERIES_PLACEMENT) {
        row->n_base = b ? 1 : 0;
        row->n_cand = c ? 1 : 0;
        row->med_base = row->med_cand = row->change_pct = row->p = NAN;
        if (!strcmp(s->metric, "outcome")) {
            /* a side without a result of its own (TIMEOUT, CRASHED,
             * MODEL-CHANGED, see load.c): a candidate that lost a result
             * fails the gate; a base that lost one cannot be compared */
            row->verdict = c && !b ? TB_V_REGRESSION : TB_V_INCONCLUSIVE;
            snprintf(row->note, sizeof row->note, "%s%s%s%s%s", b ? "base " : "",
                     b && b->text ? b->text : "", b && c ? "; " : "", c ? "candidate " : "",
                     c && c->text ? c->text : "");
            return TB_OK;
        }
        if (!b || !c) {
            row->verdict = TB_V_INCONCLUSIVE;
            snprintf(row->note, sizeof row->note, "missing in %s", b ? "candidate" : "base");
        } else if (b->text && c->text && strcmp(b->text, c->text)) {
            /* a placement change is a regression of its own, whatever the timing */
            row->verdict = TB_V_REGRESSION;
            placement_note(b->text, c->text, row->note, sizeof row->note);
        } else {
            row->verdict = TB_V_NO_CHANGE;
        }
        return TB_OK;
    }
    return tb_compare_values(b ? b->v : NULL, b ? b->n : 0, c ? c->v : NULL, c ? c->n : 0, s->kind,
                             tb_metric_higher_better(s->metric), threshold_for(o, s->metric), o,
                             row, err);
}

int tb_compare_sets(const struct tb_series_set *base, const struct tb_series_set *cand,
                    const struct tb_cmp_opts *o, struct tb_cmp_result *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    out->alpha = o->alpha;
    for (size_t i = 0; i < base->n; i++) {
        int rc = compare_one(&base->s[i], tb_series_find(cand, base->s[i].key, base->s[i].metric),
                             o, out, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < cand->n; i++) {
        if (tb_series_find(base, cand->s[i].key, cand->s[i].metric))
            continue;
        int rc = compare_one(NULL, &cand->s[i], o, out, err);
        if (rc)
            return rc;
    }
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

int tb_cmp_format_parse(const char *s, enum tb_cmp_format *out)
{
    static const char *const names[] = {"md", "csv", "json", "junit"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (enum tb_cmp_format)i;
            return TB_OK;
        }
    return TB_EINVAL;
}

static void num(FILE *f, double v, const char *fmt)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
}

static void xml_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static const char *pstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "?";
}

/* "interleaved: 2 round(s) per side, order ABAB (...)" from the provenance */
static void provenance_line(const struct tb_cmp_result *r, char *buf, size_t n)
{
    const json_t *p = r->provenance;
    snprintf(buf, n, "interleaved: %lld round(s) per side, order %s (base %s, candidate %s)",
             (long long)json_integer_value(json_object_get(p, "rounds")), pstr(p, "order"),
             pstr(p, "base_bin"), pstr(p, "cand_bin"));
}

static void write_md(const struct tb_cmp_result *r, FILE *f)
{
    if (r->provenance) {
        char line[1024];
        provenance_line(r, line, sizeof line);
        fprintf(f, "%s\n\n", line);
    }
    fprintf(f, "| configuration | metric | base median | candidate median | change | p-value | "
               "verdict | note |\n|---|---|---:|---:|---:|---:|---|---|\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct tb_cmp_row *w = &r->rows[i];
        fputs("| ", f);
        md_cell(f, w->key);
        fprintf(f, " | %s%s%s%s | ", w->metric, w->unit[0] ? " (" : "", w->unit,
                w->unit[0] ? ")" : "");
        num(f, w->med_base, "%.6g");
        fputs(" | ", f);
        num(f, w->med_cand, "%.6g");
        fputs(" | ", f);
        num(f, w->change_pct, "%+.2f%%");
        fputs(" | ", f);
        num(f, w->p, "%.3g");
        fprintf(f, " | %s%s | ", w->verdict == TB_V_REGRESSION ? "**regression**" : "",
                w->verdict == TB_V_REGRESSION ? "" : tb_verdict_name(w->verdict));
        md_cell(f, w->note);
        fputs(" |\n", f);
    }
    fprintf(f,
            "\n%zu compared: %zu regression, %zu improvement, %zu no-change, %zu inconclusive "
            "(alpha %g)\n",
            r->n, tb_cmp_count(r, TB_V_REGRESSION), tb_cmp_count(r, TB_V_IMPROVEMENT),
            tb_cmp_count(r, TB_V_NO_CHANGE), tb_cmp_count(r, TB_V_INCONCLUSIVE), r->alpha);
}

static void write_csv(const struct tb_cmp_result *r, FILE *f)
{
    fprintf(f, "key,metric,unit,higher_is_better,n_base,n_candidate,median_base,median_candidate,"
               "change_pct,p_value,threshold_pct,verdict,note\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct tb_cmp_row *w = &r->rows[i];
        tb_csv_str(f, w->key);
        fputc(',', f);
        tb_csv_str(f, w->metric);
        fputc(',', f);
        tb_csv_str(f, w->unit);
        fprintf(f, ",%s,%zu,%zu,", w->higher_better ? "true" : "false", w->n_base, w->n_cand);
        num(f, w->med_base, "%.17g");
        fputc(',', f);
        num(f, w->med_cand, "%.17g");
        fputc(',', f);
        num(f, w->change_pct, "%.6g");
        fputc(',', f);
        num(f, w->p, "%.6g");
        fprintf(f, ",%g,%s,", w->threshold_pct, tb_verdict_name(w->verdict));
        tb_csv_str(f, w->note);
        fputc('\n', f);
    }
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int write_json(const struct tb_cmp_result *r, FILE *f, struct tb_err *err)
{
    json_t *rows = json_array();
    json_t *doc =
        json_pack("{s:f, s:{s:I, s:I, s:I, s:I}, s:o}", "alpha", r->alpha, "summary", "regression",
                  (json_int_t)tb_cmp_count(r, TB_V_REGRESSION), "improvement",
                  (json_int_t)tb_cmp_count(r, TB_V_IMPROVEMENT), "no-change",
                  (json_int_t)tb_cmp_count(r, TB_V_NO_CHANGE), "inconclusive",
                  (json_int_t)tb_cmp_count(r, TB_V_INCONCLUSIVE), "rows", rows);
    if (!doc)
        return tb_err_set(err, TB_ENOMEM, "compare: out of memory");
    if (r->provenance)
        json_object_set(doc, "interleave", r->provenance);
    for (size_t i = 0; i < r->n; i++) {
        const struct tb_cmp_row *w = &r->rows[i];
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:b, s:I, s:I, s:o, s:o, s:o, s:o, s:f, s:s, s:s}", "key", w->key,
            "metric", w->metric, "unit", w->unit, "higher_is_better", w->higher_better, "n_base",
            (json_int_t)w->n_base, "n_candidate", (json_int_t)w->n_cand, "median_base",
            jnum(w->med_base), "median_candidate", jnum(w->med_cand), "change_pct",
            jnum(w->change_pct), "p_value", jnum(w->p), "threshold_pct", w->threshold_pct,
            "verdict", tb_verdict_name(w->verdict), "note", w->note);
        if (!o || json_array_append_new(rows, o)) {
            json_decref(doc);
            return tb_err_set(err, TB_ENOMEM, "compare: out of memory");
        }
    }
    int rc = json_dumpf(doc, f, JSON_INDENT(2));
    fputc('\n', f);
    json_decref(doc);
    return rc ? tb_err_set(err, TB_EIO, "compare: writing JSON failed") : TB_OK;
}

/* One testcase per gated metric: regression = failure, inconclusive =
 * skipped (not a failure, but visible), no-change/improvement = pass. */
static void write_junit(const struct tb_cmp_result *r, FILE *f)
{
    size_t fail = tb_cmp_count(r, TB_V_REGRESSION), skip = tb_cmp_count(r, TB_V_INCONCLUSIVE);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"tierbench compare\" tests=\"%zu\" failures=\"%zu\" "
            "skipped=\"%zu\">\n",
            r->n, fail, skip);
    fprintf(f,
            "  <testsuite name=\"perf-gate\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "skipped=\"%zu\">\n",
            r->n, fail, skip);
    if (r->provenance) {
        char line[1024];
        provenance_line(r, line, sizeof line);
        fputs("    <properties><property name=\"interleave\" value=\"", f);
        xml_escape(f, line);
        fputs("\"/></properties>\n", f);
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct tb_cmp_row *w = &r->rows[i];
        fputs("    <testcase classname=\"", f);
        xml_escape(f, w->key);
        fputs("\" name=\"", f);
        xml_escape(f, w->metric);
        fputs("\">", f);
        char msg[512];
        snprintf(msg, sizeof msg, "%s: median %.6g -> %.6g %s (%+.2f%%), p=%.3g. %s",
                 tb_verdict_name(w->verdict), w->med_base, w->med_cand, w->unit, w->change_pct,
                 w->p, w->note);
        if (w->verdict == TB_V_REGRESSION) {
            fputs("<failure type=\"regression\" message=\"", f);
            xml_escape(f, msg);
            fputs("\"/>", f);
        } else if (w->verdict == TB_V_INCONCLUSIVE) {
            fputs("<skipped message=\"", f);
            xml_escape(f, msg);
            fputs("\"/>", f);
        } else {
            fputs("<system-out>", f);
            xml_escape(f, msg);
            fputs("</system-out>", f);
        }
        fputs("</testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
}

int tb_cmp_write(const struct tb_cmp_result *r, enum tb_cmp_format fmt, FILE *f, struct tb_err *err)
{
    int rc = TB_OK;
    switch (fmt) {
    case TB_FMT_CSV: write_csv(r, f); break;
    case TB_FMT_JSON: rc = write_json(r, f, err); break;
    case TB_FMT_JUNIT: write_junit(r, f); break;
    default: write_md(r, f); break;
    }
    if (!rc && (fflush(f) || ferror(f)))
        rc = tb_err_set(err, TB_EIO, "compare: write failed");
    return rc;
}

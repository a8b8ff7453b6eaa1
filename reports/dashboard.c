/* history and the release dashboard, read from the results store.
 *
 * Trend charts are SVG written here (not gnuplot), so every drawn element
 * says what it is for a browser check (docs/store.md, "Dashboard"):
 *   <svg class="tb-trend" data-axis="linear|log" data-series="S"
 *        data-errbars="E" data-order="declared|commit-date|run-date">
 *     <g class="tb-axis tb-axis-y" data-scale="linear|log"> ticks </g>
 *     <g class="tb-axis tb-axis-x" data-scale="release"> release labels </g>
 *     <g class="tb-series" data-machine="..."> one per machine identity:
 *       <path class="tb-line">, per release a <circle class="tb-point"> and,
 *       where the 95 % CI of the median is defined, a
 *       <path class="tb-errbar" data-lo data-hi> </g>
 * The CI: one run = the bootstrap percentile interval of its samples'
 * median (tb_stats_compute, as `run` records it); several runs of one
 * release = a two-level bootstrap (resample the runs, then each chosen run's
 * samples), so the spread between runs counts; a single value (one run of
 * a scalar such as tokens/s) has none ("unavailable" in the data). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_results.h"
#include "harness/tb_stats.h"
#include "reports/tb_report.h"
#include "reports/tb_store_db.h"

#define TB_BOOT_RESAMPLES 2000

/* ---- history */

int tb_store_history(struct tb_store *st, const char *metric, const char *profile, FILE *out,
                     struct tb_err *err)
{
    struct tb_db_stmt *s = NULL;
    int rc = tb_db_prepare(
        st->db,
        "SELECT r.release, r.machine, s.profile, s.workload, s.config, s.metric, s.unit, s.median,"
        " s.n, s.prompt, s.depth FROM series s JOIN runs r ON r.id = s.run_id"
        " LEFT JOIN releases rl ON rl.name = r.release"
        " WHERE s.kind <> 'placement' AND (?1 IS NULL OR s.metric = ?1)"
        " AND (?2 IS NULL OR s.profile = ?2)"
        " ORDER BY s.profile, s.workload, s.config, s.metric,"
        " COALESCE(rl.commit_date, r.run_date), r.run_date, r.id",
        &s, err);
    if (rc)
        return tb_err_wrap(err, rc, "history");
    tb_db_bind_text(s, 1, metric);
    tb_db_bind_text(s, 2, profile);
    fprintf(out, "%-14s %-14s %-14s %6s %6s %-40s %-18s %14s %-9s %6s  %s\n", "release", "profile",
            "workload", "prompt", "depth", "config", "metric", "median", "unit", "n", "machine");
    int rows = 0, step;
    while ((step = tb_db_step(s, err)) == 1) {
        char med[32] = "-";
        if (!tb_db_col_null(s, 7))
            snprintf(med, sizeof med, "%.6g", tb_db_col_double(s, 7));
        char pd[2][24] = {"-", "-"}; /* stored before schema 4, or gbench */
        for (int k = 0; k < 2; k++)
            if (!tb_db_col_null(s, 9 + k))
                snprintf(pd[k], sizeof pd[k], "%lld", (long long)tb_db_col_int64(s, 9 + k));
        fprintf(out, "%-14.14s %-14s %-14s %6s %6s %-40s %-18s %14s %-9s %6lld  %s\n",
                tb_db_col_text(s, 0), tb_db_col_text(s, 2), tb_db_col_text(s, 3), pd[0], pd[1],
                tb_db_col_text(s, 4), tb_db_col_text(s, 5), med, tb_db_col_text(s, 6),
                (long long)tb_db_col_int64(s, 8), tb_db_col_text(s, 1));
        rows++;
    }
    tb_db_finalize(s);
    if (step < 0)
        return tb_err_wrap(err, step, "history");
    if (!rows)
        fprintf(out, "(no stored results%s%s%s%s)\n", metric ? " for metric " : "",
                metric ? metric : "", profile ? " in profile " : "", profile ? profile : "");
    return TB_OK;
}

/* ---- releases and their order */

struct rel {
    char name[128];
    char commit_date[32]; /* "" when not recorded */
    char first_run[64];
};

enum rel_order { ORDER_DECLARED, ORDER_COMMIT_DATE, ORDER_RUN_DATE };

static int cmp_commit_date(const void *a, const void *b)
{
    const struct rel *x = a, *y = b;
    int c = strcmp(x->commit_date, y->commit_date);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_run_date(const void *a, const void *b)
{
    const struct rel *x = a, *y = b;
    int c = strcmp(x->first_run, y->first_run);
    return c ? c : strcmp(x->name, y->name);
}

/* Puts rels in the declared order: every stored release named exactly once. */
static int declared_order(struct tb_store *st, struct rel *rels, size_t nr, const char *order,
                          struct tb_err *err)
{
    struct rel *sorted = calloc(nr ? nr : 1, sizeof *sorted);
    char *list = strdup(order);
    int rc = sorted && list ? TB_OK : tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
    size_t k = 0;
    char *save = NULL;
    for (char *t = list ? strtok_r(list, ",", &save) : NULL; t && !rc;
         t = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < nr && strcmp(rels[i].name, t))
            i++;
        if (i == nr)
            rc = tb_err_set(err, TB_EINVAL, "--release-order: release '%s' is not in %s", t,
                            tb_store_name(st));
        for (size_t j = 0; !rc && j < k; j++)
            if (!strcmp(sorted[j].name, t))
                rc = tb_err_set(err, TB_EINVAL, "--release-order: release '%s' named twice", t);
        if (!rc)
            sorted[k++] = rels[i];
    }
    for (size_t i = 0; !rc && i < nr; i++) {
        size_t j = 0;
        while (j < k && strcmp(sorted[j].name, rels[i].name))
            j++;
        if (j == k)
            rc = tb_err_set(err, TB_EINVAL,
                            "--release-order: stored release '%s' is not named (name every "
                            "release of %s once)",
                            rels[i].name, tb_store_name(st));
    }
    if (!rc)
        memcpy(rels, sorted, nr * sizeof *rels);
    free(sorted);
    free(list);
    return rc;
}

static int load_releases(struct tb_store *st, const char *order, struct rel **out, size_t *n,
                         enum rel_order *how, char *undated, size_t undated_n, struct tb_err *err)
{
    struct tb_db_stmt *s = NULL;
    *out = NULL;
    *n = 0;
    int rc = tb_db_prepare(st->db,
                           "SELECT r.release, max(rl.commit_date), min(r.run_date) FROM runs r"
                           " LEFT JOIN releases rl ON rl.name = r.release GROUP BY r.release",
                           &s, err);
    size_t cap = 0;
    int step = 0;
    while (!rc && (step = tb_db_step(s, err)) == 1) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            struct rel *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                rc = tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
                break;
            }
            *out = p;
        }
        struct rel *r = &(*out)[(*n)++];
        snprintf(r->name, sizeof r->name, "%s", tb_db_col_text(s, 0));
        snprintf(r->commit_date, sizeof r->commit_date, "%s", tb_db_col_text(s, 1));
        snprintf(r->first_run, sizeof r->first_run, "%s", tb_db_col_text(s, 2));
    }
    tb_db_finalize(s);
    if (!rc && step < 0)
        rc = step;
    undated[0] = '\0';
    size_t dated = 0;
    for (size_t i = 0; i < *n; i++) {
        if ((*out)[i].commit_date[0]) {
            dated++;
        } else {
            size_t l = strlen(undated);
            snprintf(undated + l, undated_n - l, "%s%s", l ? ", " : "", (*out)[i].name);
        }
    }
    if (rc) {
    } else if (order) {
        *how = ORDER_DECLARED;
        rc = declared_order(st, *out, *n, order, err);
    } else if (dated == *n) {
        *how = ORDER_COMMIT_DATE;
        qsort(*out, *n, sizeof **out, cmp_commit_date);
    } else {
        *how = ORDER_RUN_DATE;
        qsort(*out, *n, sizeof **out, cmp_run_date);
    }
    return rc;
}

/* ---- trend data: observations (one stored series row = one run) */

/* The machine identity of a run row: hostname | CPU model | topology hash
 * from columns c, c+1, c+2, or (stored before schema 3) the old machine
 * text of column c+3 with the topology note. */
static void machine_ident(struct tb_db_stmt *s, int c, char *buf, size_t n)
{
    if (tb_db_col_null(s, c))
        snprintf(buf, n, "%s | topology: %s", tb_db_col_text(s, c + 3), tb_db_col_text(s, c + 2));
    else
        snprintf(buf, n, "%s | %s | topology: %s", tb_db_col_text(s, c), tb_db_col_text(s, c + 1),
                 tb_db_col_text(s, c + 2));
}

struct obs {
    size_t rel;
    char machine[400];
    char key[256], metric[64], unit[24], profile[64];
    char label[256]; /* "" when stored before schema 4 */
    double *v;
    size_t n;
};

struct obs_set {
    struct obs *o;
    size_t n, cap;
};

static void obs_free(struct obs_set *os)
{
    for (size_t i = 0; i < os->n; i++)
        free(os->o[i].v);
    free(os->o);
}

static size_t rel_index(const struct rel *rels, size_t nr, const char *name)
{
    for (size_t i = 0; i < nr; i++)
        if (!strcmp(rels[i].name, name))
            return i;
    return nr;
}

static int samples_from_json(const char *text, double **v, size_t *n)
{
    json_t *a = json_loads(text, 0, NULL);
    size_t m = json_array_size(a);
    *v = malloc((m ? m : 1) * sizeof **v);
    *n = 0;
    for (size_t i = 0; *v && i < m; i++) {
        double x = json_number_value(json_array_get(a, i));
        if (json_is_number(json_array_get(a, i)) && isfinite(x))
            (*v)[(*n)++] = x;
    }
    json_decref(a);
    return *v ? TB_OK : TB_ENOMEM;
}

/* The series the trends draw: latency samples (ms) and tokens/s. */
static int load_obs(struct tb_store *st, const struct rel *rels, size_t nr, struct obs_set *os,
                    struct tb_err *err)
{
    struct tb_db_stmt *s = NULL;
    int rc = tb_db_prepare(
        st->db,
        "SELECT r.release, r.hostname, r.cpu_model, r.topology_hash, r.machine, s.key, s.metric,"
        " s.unit, s.profile, s.samples, s.label FROM series s JOIN runs r ON r.id = s.run_id"
        " WHERE (s.kind = 'samples' AND s.unit = 'ms') OR s.unit = 'tokens/s'"
        " ORDER BY s.profile, s.key, s.metric, r.id",
        &s, err);
    int step = 0;
    while (!rc && (step = tb_db_step(s, err)) == 1) {
        if (os->n == os->cap) {
            size_t cap = os->cap ? 2 * os->cap : 64;
            struct obs *p = realloc(os->o, cap * sizeof *p);
            if (!p) {
                rc = tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
                break;
            }
            os->o = p;
            os->cap = cap;
        }
        struct obs *o = &os->o[os->n];
        memset(o, 0, sizeof *o);
        o->rel = rel_index(rels, nr, tb_db_col_text(s, 0));
        machine_ident(s, 1, o->machine, sizeof o->machine);
        snprintf(o->key, sizeof o->key, "%s", tb_db_col_text(s, 5));
        snprintf(o->metric, sizeof o->metric, "%s", tb_db_col_text(s, 6));
        snprintf(o->unit, sizeof o->unit, "%s", tb_db_col_text(s, 7));
        snprintf(o->profile, sizeof o->profile, "%s", tb_db_col_text(s, 8));
        snprintf(o->label, sizeof o->label, "%s",
                 tb_db_col_null(s, 10) ? "" : tb_db_col_text(s, 10));
        if (samples_from_json(tb_db_col_text(s, 9), &o->v, &o->n))
            rc = tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
        else if (o->rel < nr && o->n)
            os->n++;
        else
            free(o->v);
    }
    tb_db_finalize(s);
    return !rc && step < 0 ? step : rc;
}

/* ---- the median and its 95 % CI for one release of one series */

struct point {
    int have;
    double median, lo, hi; /* lo/hi NaN: no CI */
    size_t runs, samples;
};

/* runs[0..k-1]: the observations of one release of one series. */
static int point_compute(const struct obs *const *runs, size_t k, struct point *p,
                         struct tb_err *err)
{
    memset(p, 0, sizeof *p);
    p->lo = p->hi = NAN;
    size_t total = 0;
    for (size_t i = 0; i < k; i++)
        total += runs[i]->n;
    double *pool = malloc((total ? total : 1) * sizeof *pool);
    if (!pool)
        return tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < runs[i]->n; j++)
            pool[m++] = runs[i]->v[j];
    p->have = m > 0;
    p->runs = k;
    p->samples = m;
    p->median = tb_median(pool, m);
    int rc = TB_OK;
    if (k == 1 && m >= 2) {
        struct tb_stats stt;
        rc = tb_stats_compute(pool, m, NULL, &stt, err);
        if (!rc) {
            p->lo = stt.median_ci_lo;
            p->hi = stt.median_ci_hi;
        }
    } else if (k >= 2) {
        /* two-level bootstrap: runs with replacement, then each run's samples */
        double *meds = malloc(TB_BOOT_RESAMPLES * sizeof *meds);
        double *res = malloc(m * sizeof *res);
        if (!meds || !res) {
            rc = tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
        } else {
            struct tb_rng rng;
            tb_rng_seed(&rng, 0x7462);
            for (int b = 0; b < TB_BOOT_RESAMPLES; b++) {
                size_t q = 0;
                for (size_t i = 0; i < k; i++) {
                    const struct obs *r = runs[tb_rng_below(&rng, k)];
                    for (size_t j = 0; j < r->n && q < m; j++)
                        res[q++] = r->v[tb_rng_below(&rng, r->n)];
                }
                meds[b] = tb_median(res, q);
            }
            qsort(meds, TB_BOOT_RESAMPLES, sizeof *meds, tb_cmp_double);
            p->lo = tb_percentile_sorted(meds, TB_BOOT_RESAMPLES, 2.5);
            p->hi = tb_percentile_sorted(meds, TB_BOOT_RESAMPLES, 97.5);
        }
        free(meds);
        free(res);
    }
    free(pool);
    return rc;
}

/* ---- one chart: one (key, metric), a series per machine identity */

struct chart {
    const struct obs *first; /* key, metric, unit, profile */
    const char *label;       /* the newest run's label (prompt, depth), else the key */
    char machines[8][400];
    size_t nm, n_undrawn; /* machines past the 8 a chart draws: said, not dropped silently */
    struct point *pt;     /* [nm][nr] */
};

static const char *const k_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                       "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

static int chart_build(const struct obs_set *os, size_t from, size_t to, size_t nr, struct chart *c,
                       struct tb_err *err)
{
    memset(c, 0, sizeof *c);
    c->first = &os->o[from];
    c->label = c->first->key;
    for (size_t i = from; i < to; i++) {
        if (os->o[i].label[0]) /* rows come in ingest order: the last is the newest */
            c->label = os->o[i].label;
        size_t m = 0;
        while (m < c->nm && strcmp(c->machines[m], os->o[i].machine))
            m++;
        if (m == c->nm && c->nm < 8) {
            snprintf(c->machines[c->nm++], sizeof c->machines[0], "%s", os->o[i].machine);
        } else if (m == c->nm) { /* a ninth machine or later: counted once */
            size_t j = from;
            while (j < i && strcmp(os->o[j].machine, os->o[i].machine))
                j++;
            c->n_undrawn += j == i;
        }
    }
    c->pt = calloc(c->nm * nr + 1, sizeof *c->pt);
    const struct obs **runs = malloc((to - from + 1) * sizeof *runs);
    int rc = c->pt && runs ? TB_OK : tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
    for (size_t m = 0; !rc && m < c->nm; m++)
        for (size_t r = 0; !rc && r < nr; r++) {
            size_t k = 0;
            for (size_t i = from; i < to; i++)
                if (os->o[i].rel == r && !strcmp(os->o[i].machine, c->machines[m]))
                    runs[k++] = &os->o[i];
            if (k)
                rc = point_compute(runs, k, &c->pt[m * nr + r], err);
        }
    free(runs);
    return rc;
}

/* Linear unless a series spans more than 10x (all values > 0). */
static int chart_is_log(const struct chart *c, size_t nr, double *ymin, double *ymax)
{
    int log_axis = 0;
    *ymin = INFINITY;
    *ymax = -INFINITY;
    for (size_t m = 0; m < c->nm; m++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t r = 0; r < nr; r++) {
            const struct point *p = &c->pt[m * nr + r];
            if (!p->have)
                continue;
            double a = isfinite(p->lo) ? fmin(p->lo, p->median) : p->median;
            double b = isfinite(p->hi) ? fmax(p->hi, p->median) : p->median;
            lo = fmin(lo, a);
            hi = fmax(hi, b);
        }
        if (lo > 0 && hi / lo > 10)
            log_axis = 1;
        *ymin = fmin(*ymin, lo);
        *ymax = fmax(*ymax, hi);
    }
    if (log_axis && *ymin <= 0)
        log_axis = 0;
    return log_axis;
}

static double nice_step(double range)
{
    double raw = range / 5, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

enum { W = 760, H = 340, ML = 80, MR = 20, MT = 30, MB = 90 };

struct yaxis {
    int log;
    double lo, hi;
};

static double ypix(const struct yaxis *a, double v)
{
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    return MT + (1 - t) * (H - MT - MB);
}

static double xpix(size_t r, size_t nr)
{
    return nr < 2 ? ML + (W - ML - MR) / 2.0 : ML + 30 + (double)r * (W - ML - MR - 60) / (nr - 1);
}

static void svg_axes(FILE *f, const struct yaxis *a, const struct rel *rels, size_t nr,
                     const char *ylabel)
{
    fprintf(f, "<g class=\"tb-axis tb-axis-y\" data-scale=\"%s\">\n", a->log ? "log" : "linear");
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", ML, MT, ML,
            H - MB);
    if (a->log) {
        for (double d = pow(10, floor(log10(a->lo))); d <= a->hi * 1.0001; d *= 10)
            for (int k = 1; k <= 5; k += (k == 1 ? 1 : 3)) {
                double v = d * k;
                if (v < a->lo * 0.9999 || v > a->hi * 1.0001)
                    continue;
                double y = ypix(a, v);
                fprintf(f,
                        "<line class=\"tb-grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                        "stroke=\"#ddd\"/><text class=\"tb-tick\" x=\"%d\" y=\"%.1f\" "
                        "text-anchor=\"end\" font-size=\"11\">%.4g</text>\n",
                        ML, y, W - MR, y, ML - 4, y + 4, v);
            }
    } else {
        double step = nice_step(a->hi - a->lo);
        for (double v = ceil(a->lo / step) * step; v <= a->hi + step * 1e-6; v += step) {
            double y = ypix(a, v);
            fprintf(f,
                    "<line class=\"tb-grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                    "stroke=\"#ddd\"/><text class=\"tb-tick\" x=\"%d\" y=\"%.1f\" "
                    "text-anchor=\"end\" font-size=\"11\">%.6g</text>\n",
                    ML, y, W - MR, y, ML - 4, y + 4, fabs(v) < step * 1e-9 ? 0.0 : v);
        }
    }
    fprintf(f,
            "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\" "
            "font-size=\"12\">",
            (H - MB + MT) / 2, (H - MB + MT) / 2);
    tb_html_escape(f, ylabel);
    fputs("</text>\n</g>\n<g class=\"tb-axis tb-axis-x\" data-scale=\"release\">\n", f);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", ML, H - MB,
            W - MR, H - MB);
    for (size_t r = 0; r < nr; r++) {
        double x = xpix(r, nr);
        fprintf(f,
                "<text class=\"tb-release\" x=\"%.1f\" y=\"%d\" font-size=\"11\" "
                "text-anchor=\"end\" transform=\"rotate(-35 %.1f %d)\">",
                x, H - MB + 16, x, H - MB + 16);
        tb_html_escape(f, rels[r].name);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

static size_t svg_series(FILE *f, const struct chart *c, size_t m, size_t nr,
                         const struct rel *rels, const struct yaxis *a)
{
    const char *col = k_colors[m % 8];
    fputs("<g class=\"tb-series\" data-machine=\"", f);
    tb_html_escape(f, c->machines[m]);
    fprintf(f, "\" stroke=\"%s\" fill=\"%s\">\n<path class=\"tb-line\" fill=\"none\" d=\"", col,
            col);
    int pen = 0;
    for (size_t r = 0; r < nr; r++) {
        const struct point *p = &c->pt[m * nr + r];
        if (!p->have) {
            pen = 0;
            continue;
        }
        fprintf(f, "%c%.1f %.1f ", pen ? 'L' : 'M', xpix(r, nr), ypix(a, p->median));
        pen = 1;
    }
    fputs("\"/>\n", f);
    size_t bars = 0;
    for (size_t r = 0; r < nr; r++) {
        const struct point *p = &c->pt[m * nr + r];
        if (!p->have)
            continue;
        double x = xpix(r, nr);
        if (isfinite(p->lo) && isfinite(p->hi)) {
            double y1 = ypix(a, p->lo), y2 = ypix(a, p->hi);
            fputs("<path class=\"tb-errbar\" data-release=\"", f);
            tb_html_escape(f, rels[r].name);
            fprintf(f,
                    "\" data-lo=\"%.9g\" data-hi=\"%.9g\" fill=\"none\" stroke-width=\"1.5\" "
                    "d=\"M%.1f %.1f V%.1f M%.1f %.1f H%.1f M%.1f %.1f H%.1f\"/>\n",
                    p->lo, p->hi, x, y1, y2, x - 5, y1, x + 5, x - 5, y2, x + 5);
            bars++;
        }
        fputs("<circle class=\"tb-point\" data-release=\"", f);
        tb_html_escape(f, rels[r].name);
        fprintf(f, "\" data-median=\"%.9g\" data-runs=\"%zu\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\">",
                p->median, p->runs, x, ypix(a, p->median));
        fprintf(f, "<title>%s: median %.6g", rels[r].name, p->median);
        if (isfinite(p->lo))
            fprintf(f, ", 95%% CI %.6g..%.6g", p->lo, p->hi);
        else
            fputs(", no CI (a single value)", f);
        fprintf(f, " (%zu run(s), %zu value(s))</title></circle>\n", p->runs, p->samples);
    }
    fputs("</g>\n", f);
    return bars;
}

static const char *const k_order_names[] = {"declared", "commit-date", "run-date"};

/* Writes dir/name.svg, name.csv and the figure in both documents. */
static void trend_chart(struct tb_doc *d, const struct chart *c, const struct rel *rels, size_t nr,
                        enum rel_order how, const char *name)
{
    double ymin, ymax;
    struct yaxis a = {.log = chart_is_log(c, nr, &ymin, &ymax)};
    if (a.log) {
        a.lo = ymin / 1.15;
        a.hi = ymax * 1.15;
    } else {
        double pad = ymax > ymin ? (ymax - ymin) * 0.08 : fabs(ymax) * 0.05 + 1e-9;
        a.lo = ymin - pad;
        a.hi = ymax + pad;
    }
    const int hb = tb_metric_higher_better(c->first->metric);
    char ylabel[160], title[600], path[4096], csvname[300], svgname[300];
    snprintf(ylabel, sizeof ylabel, "%s %s (%s; %s is better)", c->first->metric, c->first->unit,
             a.log ? "log scale" : "linear", hb ? "higher" : "lower");
    if (c->label == c->first->key)
        snprintf(title, sizeof title, "%s: %s, median and 95%% CI per release", c->label,
                 c->first->metric);
    else /* the label says what ran; the key is the configuration's identity */
        snprintf(title, sizeof title, "%s: %s, median and 95%% CI per release (%s)", c->label,
                 c->first->metric, c->first->key);
    FILE *csv = tb_doc_csv(d, name, "release,machine,median,ci95_lo,ci95_hi,runs,values\n");
    for (size_t m = 0; csv && m < c->nm; m++)
        for (size_t r = 0; r < nr; r++) {
            const struct point *p = &c->pt[m * nr + r];
            if (!p->have)
                continue;
            tb_csv_str(csv, rels[r].name);
            fputc(',', csv);
            tb_csv_str(csv, c->machines[m]);
            fprintf(csv, ",%.9g,", p->median);
            if (isfinite(p->lo))
                fprintf(csv, "%.9g,%.9g", p->lo, p->hi);
            else
                fputs("unavailable: a single value,unavailable: a single value", csv);
            fprintf(csv, ",%zu,%zu\n", p->runs, p->samples);
        }
    if (csv)
        fclose(csv);
    snprintf(csvname, sizeof csvname, "%s.csv", name);
    snprintf(svgname, sizeof svgname, "%s.svg", name);
    FILE *f = tb_doc_file(d, svgname, path, sizeof path);
    size_t bars = 0;
    if (f) {
        char *body = NULL;
        size_t blen = 0;
        FILE *b = open_memstream(&body, &blen);
        if (b) {
            svg_axes(b, &a, rels, nr, ylabel);
            for (size_t m = 0; m < c->nm; m++)
                bars += svg_series(b, c, m, nr, rels, &a);
            fclose(b);
        }
        fprintf(f,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tb-trend\" width=\"%d\" "
                "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
                "data-axis=\"%s\" data-series=\"%zu\" data-errbars=\"%zu\" data-order=\"%s\">\n"
                "<title>",
                W, H, W, H, a.log ? "log" : "linear", c->nm, bars, k_order_names[how]);
        tb_html_escape(f, title);
        fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n%s</svg>\n", W, H,
                body ? body : "");
        free(body);
        fclose(f);
    }
    fprintf(d->md, "**%s**\n\n![%s](%s)\n\nData: [%s](%s) | axis: %s | series (machines): ", title,
            title, svgname, csvname, csvname,
            a.log ? "log (a series spans more than 10x)" : "linear");
    fputs("<figure><figcaption><b>", d->html);
    tb_html_escape(d->html, title);
    fprintf(d->html, "</b> (data: <a href=\"%s\">%s</a>)</figcaption>\n", csvname, csvname);
    if (!f || tb_html_inline_svg(d->html, path))
        fputs("<p class=\"note\">chart file missing</p>", d->html);
    fputs("<ul class=\"tb-legend\">", d->html);
    for (size_t m = 0; m < c->nm; m++) {
        fprintf(d->md, "%s%s", m ? "; " : "", c->machines[m]);
        fprintf(d->html, "<li style=\"color:%s\">", k_colors[m % 8]);
        tb_html_escape(d->html, c->machines[m]);
        fputs("</li>", d->html);
    }
    if (c->n_undrawn) {
        fprintf(d->md, "; %zu more machine(s) not drawn (8 per chart)", c->n_undrawn);
        fprintf(d->html,
                "<li class=\"tb-undrawn\">%zu more machine(s) not drawn (8 per chart)</li>",
                c->n_undrawn);
    }
    fputs("\n\n", d->md);
    fputs("</ul></figure>\n", d->html);
}

static int trends(struct tb_doc *d, struct tb_store *st, const struct rel *rels, size_t nr,
                  enum rel_order how, struct tb_err *err)
{
    struct obs_set os = {0};
    int rc = load_obs(st, rels, nr, &os, err);
    char last_profile[64] = "";
    size_t nchart = 0;
    for (size_t i = 0; !rc && i < os.n;) {
        size_t j = i;
        while (j < os.n && !strcmp(os.o[j].key, os.o[i].key) &&
               !strcmp(os.o[j].metric, os.o[i].metric))
            j++;
        if (strcmp(last_profile, os.o[i].profile)) {
            snprintf(last_profile, sizeof last_profile, "%s", os.o[i].profile);
            tb_doc_text(d, "### ", "h3", last_profile[0] ? last_profile : "(no profile)");
        }
        struct chart c;
        rc = chart_build(&os, i, j, nr, &c, err);
        if (!rc) {
            char name[64];
            snprintf(name, sizeof name, "trend_%zu", nchart);
            trend_chart(d, &c, rels, nr, how, name);
            nchart++;
        }
        free(c.pt);
        i = j;
    }
    if (!rc && !nchart)
        tb_doc_note(d, "No latency or tokens/s series stored: no trends to draw.");
    obs_free(&os);
    return rc;
}

/* ---- latest vs previous */

/* Every stored series of one release, pooled by (key, metric) per machine
 * identity: the key becomes "KEY @ MACHINE", so two releases measured on
 * different machines are not compared as one (missing / new instead). */
static int release_set(struct tb_store *st, const char *release, struct tb_series_set *set,
                       struct tb_err *err)
{
    struct tb_db_stmt *s = NULL;
    int rc = tb_db_prepare(st->db,
                           "SELECT s.key, s.metric, s.unit, s.kind, s.samples, s.placement,"
                           " s.profile, s.workload, r.hostname, r.cpu_model, r.topology_hash,"
                           " r.machine, s.label FROM series s JOIN runs r ON r.id = s.run_id"
                           " WHERE r.release = ? ORDER BY s.id",
                           &s, err);
    if (!rc)
        rc = tb_db_bind_text(s, 1, release);
    int step = 0;
    while (!rc && (step = tb_db_step(s, err)) == 1) {
        enum tb_series_kind kind;
        if (tb_series_kind_parse(tb_db_col_text(s, 3), &kind))
            continue; /* a kind this build does not know: not compared */
        double *v = NULL;
        size_t n = 0;
        if (samples_from_json(tb_db_col_text(s, 4), &v, &n)) {
            rc = tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
            break;
        }
        char machine[400], key[700];
        machine_ident(s, 8, machine, sizeof machine);
        snprintf(key, sizeof key, "%s @ %s", tb_db_col_text(s, 0), machine);
        rc = tb_series_add(set, key, tb_db_col_text(s, 1), tb_db_col_text(s, 2), kind, v, n, err);
        free(v);
        struct tb_series *x = rc ? NULL : tb_series_find(set, key, tb_db_col_text(s, 1));
        if (x) {
            snprintf(x->profile, sizeof x->profile, "%s", tb_db_col_text(s, 6));
            snprintf(x->workload, sizeof x->workload, "%s", tb_db_col_text(s, 7));
            if (!tb_db_col_null(s, 12))
                snprintf(x->label, sizeof x->label, "%s", tb_db_col_text(s, 12));
            if (!x->text && !tb_db_col_null(s, 5) && !(x->text = strdup(tb_db_col_text(s, 5))))
                rc = tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
        }
    }
    tb_db_finalize(s);
    return !rc && step < 0 ? step : rc;
}

/* A number, or "-" when it is undefined (no test ran, nothing to compare). */
static void fmt(char *buf, size_t n, const char *f, double v)
{
    if (isfinite(v))
        snprintf(buf, n, f, v);
    else
        snprintf(buf, n, "-");
}

static int latest_vs_previous(struct tb_doc *d, struct tb_store *st, const struct rel *rels,
                              size_t nr, const struct tb_cmp_opts *o, struct tb_err *err)
{
    tb_doc_text(d, "## ", "h2", "Latest release vs previous");
    if (nr < 2) {
        tb_doc_note(d, "Only one release stored: nothing to compare yet.");
        return TB_OK;
    }
    struct tb_series_set base = {0}, cand = {0};
    int rc = release_set(st, rels[nr - 2].name, &base, err);
    if (!rc)
        rc = release_set(st, rels[nr - 1].name, &cand, err);
    struct tb_cmp_result cr = {0};
    if (!rc)
        rc = tb_compare_sets(&base, &cand, o, &cr, err);
    if (!rc) {
        char h[600];
        snprintf(h, sizeof h,
                 "%s -> %s: %zu regression, %zu improvement, %zu no-change, %zu inconclusive, "
                 "%zu missing, %zu new (per configuration and machine)",
                 rels[nr - 2].name, rels[nr - 1].name, tb_cmp_count(&cr, TB_V_REGRESSION),
                 tb_cmp_count(&cr, TB_V_IMPROVEMENT), tb_cmp_count(&cr, TB_V_NO_CHANGE),
                 tb_cmp_count(&cr, TB_V_INCONCLUSIVE), tb_cmp_count(&cr, TB_V_MISSING),
                 tb_cmp_count(&cr, TB_V_NEW));
        tb_doc_text(d, "", "p", h);
        static const char *const head[] = {"configuration", "metric", "previous", "latest",
                                           "change",        "p",      "note",     "verdict"};
        tb_doc_table_head(d, head, 8);
        for (size_t i = 0; i < cr.n; i++) {
            const struct tb_cmp_row *w = &cr.rows[i];
            if (w->verdict == TB_V_NO_CHANGE && !strcmp(w->metric, "placement"))
                continue;
            char b[32], c2[32], ch[32], p[32];
            fmt(b, sizeof b, "%.4g", w->med_base);
            fmt(c2, sizeof c2, "%.4g", w->med_cand);
            fmt(ch, sizeof ch, "%+.1f%%", w->change_pct);
            fmt(p, sizeof p, "%.3g", w->p);
            const char *cells[] = {w->key, w->metric, b,       c2,
                                   ch,     p,         w->note, tb_verdict_name(w->verdict)};
            tb_doc_table_row(d, cells, 8, tb_verdict_name(w->verdict));
        }
        tb_doc_table_end(d);
        tb_doc_text(d, "## ", "h2", "Placement and coverage changes");
        size_t changes = 0;
        for (size_t i = 0; i < cr.n; i++)
            if (!strcmp(cr.rows[i].metric, "placement") && cr.rows[i].verdict == TB_V_REGRESSION) {
                char line[900]; /* key (512) + ": " + note (320) */
                snprintf(line, sizeof line, "%s: %s", cr.rows[i].key, cr.rows[i].note);
                tb_doc_text(d, "- ", "p", line);
                changes++;
            }
        if (!changes)
            tb_doc_note(d, "No placement or coverage change between the two releases.");
    }
    tb_cmp_result_free(&cr);
    tb_series_set_free(&base);
    tb_series_set_free(&cand);
    return rc;
}

/* ---- the page */

static void intro(struct tb_doc *d, struct tb_store *st, const struct rel *rels, size_t nr,
                  enum rel_order how, const char *undated)
{
    struct tb_db_stmt *s = NULL;
    struct tb_err e = {0};
    long machines = 0;
    if (!tb_db_prepare(st->db,
                       "SELECT max(run_date), count(DISTINCT COALESCE(hostname, machine) || '|' ||"
                       " COALESCE(cpu_model, '') || '|' || COALESCE(topology_hash, '')) FROM runs",
                       &s, &e) &&
        tb_db_step(s, &e) == 1) {
        snprintf(d->date, sizeof d->date, "%s", tb_db_col_text(s, 0));
        machines = (long)tb_db_col_int64(s, 1);
    }
    tb_db_finalize(s);
    snprintf(d->machine, sizeof d->machine, "%ld machine(s)", machines);
    char text[1200];
    snprintf(text, sizeof text, "%zu release(s), latest %s; %ld machine(s). Store: %s.", nr,
             rels[nr - 1].name, machines, tb_store_name(st));
    tb_doc_text(d, "", "p", text);
    if (how == ORDER_DECLARED)
        snprintf(text, sizeof text, "Releases in the declared order (--release-order).");
    else if (how == ORDER_COMMIT_DATE)
        snprintf(text, sizeof text, "Releases ordered by their commit dates.");
    else
        snprintf(text, sizeof text,
                 "Releases ordered by each release's earliest run date: no commit date is "
                 "recorded for %.900s (tierbench store add --release R --release-date "
                 "ISO8601, or dashboard --release-order).",
                 undated);
    tb_doc_text(d, "", "p", text);
    tb_doc_text(d, "", "p",
                "Each point is a release's median; the error bar its 95 % confidence interval "
                "(bootstrap; several runs of a release: runs resampled, then their samples). A "
                "series is one machine: hostname | CPU model | topology hash. Axes are linear "
                "unless a series spans more than 10x.");
}

int tb_store_dashboard(struct tb_store *st, const char *out_dir, const struct tb_cmp_opts *o,
                       const char *release_order, FILE *log, struct tb_err *err)
{
    struct rel *rels = NULL;
    size_t nr = 0;
    enum rel_order how = ORDER_RUN_DATE;
    char undated[1024];
    int rc = load_releases(st, release_order, &rels, &nr, &how, undated, sizeof undated, err);
    if (!rc && !nr)
        rc = tb_err_set(err, TB_EINVAL, "%s: the store is empty (tierbench store add first)",
                        tb_store_name(st));
    struct tb_doc d;
    if (!rc)
        rc = tb_doc_open(&d, out_dir, "tierbench release dashboard", log, 0, err);
    if (!rc) {
        intro(&d, st, rels, nr, how, undated);
        tb_doc_text(&d, "## ", "h2", "Trends per configuration");
        rc = trends(&d, st, rels, nr, how, err);
        if (!rc)
            rc = latest_vs_previous(&d, st, rels, nr, o, err);
        int crc = tb_doc_close(&d, err);
        if (!rc)
            rc = crc;
    }
    free(rels);
    return rc;
}

/* The report's charts: latency distributions, tokens/s and energy bars, the
 * accuracy-vs-speed Pareto view and the tier-coverage matrix. Every chart
 * has one category per configuration (profile, workload, prompt length,
 * context depth, weight type, backend, threads: tb_rec_config_label), and
 * every CSV row names that configuration (rp_csv_record_row). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_internal.h"

/* gnuplot columns of the configuration in every report CSV */
#define COL_CATEGORY 2
#define COL_EXTRA RP_CSV_FIRST_EXTRA

/* A gnuplot body in memory: 1 when *b is open (body is set at fclose). */
static int mem_open(FILE **b, size_t *len, char **body)
{
    *body = NULL;
    *b = open_memstream(body, len);
    return *b != NULL;
}

/* ---- latency */

static void latency_chart(struct tb_doc *r, struct tb_rsrc *srcs, size_t n, const char *profile,
                          size_t index)
{
    char name[64];
    snprintf(name, sizeof name, "latency_%zu", index);
    static const char *const extra[] = {"sample_ms"};
    FILE *c = rp_csv_open(r, name, extra, 1);
    if (!c)
        return;
    struct rp_cats cats = {0};
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = rp_next_record(srcs, n, &s, &i));) {
        json_t *smp = json_object_get(rec, "samples");
        if (!rp_is_measure(rec) || !json_is_array(smp) || strcmp(rp_sv(rec, "profile"), profile) ||
            strcmp(rp_sv(rec, "unit"), "ms"))
            continue;
        struct tb_rec_config cfg;
        char lab[300];
        rp_config(srcs, n, s, rec, &cfg, lab, sizeof lab);
        /* the metric names what was timed (ttft_ms, itl_ms) */
        const size_t len = strlen(lab);
        snprintf(lab + len, sizeof lab - len, " %s", rp_sv(rec, "metric"));
        size_t j, cat = 0;
        json_t *x;
        json_array_foreach(smp, j, x)
        {
            if (!json_is_number(x) || json_number_value(x) <= 0)
                continue;
            if (!cat && !(cat = rp_cat(&cats, lab)))
                break;
            struct tb_csv_cell v = TB_CSV_D(json_number_value(x));
            rp_csv_record_row(c, lab, cat, rec, &cfg, &v, 1);
        }
    }
    fclose(c);
    size_t blen;
    FILE *b;
    char *body;
    if (cats.n && mem_open(&b, &blen, &body)) {
        fprintf(b,
                "set style data boxplot\nset style fill solid 0.3\nset style boxplot outliers "
                "pointtype 7\nset pointsize 0.4\nset boxwidth 0.5\nset logscale y\nset ylabel "
                "'latency (ms, log scale)'\nset bmargin %d\n",
                rp_label_margin(&cats));
        rp_xtics(b, &cats);
        /* one box per category: its own plot at x = i, no factor column */
        fprintf(b,
                "plot for [i=1:%zu] DATA skip 1 using (i):(column(%d)==i ? column(%d) : 1/0) "
                "notitle lc rgb '#3060c0'\n",
                cats.n, COL_CATEGORY, COL_EXTRA);
        fclose(b);
        char title[200];
        snprintf(title, sizeof title, "Latency distribution: profile %.63s (ms)", profile);
        tb_doc_chart(r, name, title, body);
        free(body);
    }
    rp_cats_free(&cats);
}

void rp_latency_charts(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Latency distribution per profile");
    struct rp_cats profiles = {0}; /* in order of appearance */
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = rp_next_record(srcs, n, &s, &i));)
        if (rp_is_measure(rec) && json_is_array(json_object_get(rec, "samples")))
            rp_cat(&profiles, rp_sv(rec, "profile"));
    if (!profiles.n)
        tb_doc_note(r, "No records with raw latency samples.");
    for (size_t p = 0; p < profiles.n; p++)
        latency_chart(r, srcs, n, profiles.label[p], p);
    rp_cats_free(&profiles);
}

/* ---- bars: one scalar per configuration */

static int bar_chart(struct tb_doc *r, struct tb_rsrc *srcs, size_t n, const char *name,
                     const char *title, const char *ylabel,
                     double (*value)(const json_t *rec, const struct tb_rec_config *c,
                                     const char **what))
{
    static const char *const extra[] = {"value_metric", "value"};
    FILE *c = rp_csv_open(r, name, extra, 2);
    if (!c)
        return 0;
    struct rp_cats cats = {0};
    double vmin = INFINITY, vmax = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = rp_next_record(srcs, n, &s, &i));) {
        if (!rp_is_measure(rec))
            continue;
        struct tb_rec_config cfg;
        char lab[300];
        rp_config(srcs, n, s, rec, &cfg, lab, sizeof lab);
        const char *what = "";
        const double v = value(rec, &cfg, &what);
        size_t cat;
        if (!isfinite(v) || v <= 0 || !(cat = rp_cat(&cats, lab)))
            continue;
        const struct tb_csv_cell x[] = {TB_CSV_S(what), TB_CSV_D(v)};
        rp_csv_record_row(c, lab, cat, rec, &cfg, x, 2);
        vmin = v < vmin ? v : vmin;
        vmax = v > vmax ? v : vmax;
    }
    fclose(c);
    size_t blen;
    FILE *b;
    char *body;
    const size_t drawn = cats.n;
    if (drawn && mem_open(&b, &blen, &body)) {
        /* explicit range: gnuplot cannot autoscale a single value on a log axis */
        fprintf(b,
                "set style fill solid 0.6\nset boxwidth 0.6\nset logscale y\n"
                "set yrange [%.6g:%.6g]\nset ylabel ",
                vmin / 2, vmax * 2);
        tb_gnuplot_quote(b, ylabel);
        fprintf(b, "\nset bmargin %d\n", rp_label_margin(&cats));
        rp_xtics(b, &cats);
        fprintf(b, "plot DATA skip 1 using %d:%d with boxes notitle lc rgb '#40a040'\n",
                COL_CATEGORY, COL_EXTRA + 1);
        fclose(b);
        tb_doc_chart(r, name, title, body);
        free(body);
    }
    rp_cats_free(&cats);
    return (int)drawn;
}

static double tps_value(const json_t *rec, const struct tb_rec_config *c, const char **what)
{
    (void)rec;
    *what = c->tok_s_metric;
    return c->tok_s;
}

static double jpt_value(const json_t *rec, const struct tb_rec_config *c, const char **what)
{
    (void)c;
    *what = "joules_per_token";
    return rp_nv(json_object_get(rec, "energy"), "joules_per_token");
}

void rp_tokens_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Tokens per second per device tier and type");
    if (!bar_chart(r, srcs, n, "tokens_per_s",
                   "Tokens/s per configuration (profile, workload, prompt, depth, weight type, "
                   "backend, threads)",
                   "tokens/s (log scale)", tps_value))
        tb_doc_note(r, "No record carries a tokens/s figure.");
}

void rp_energy_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Energy per token");
    if (bar_chart(r, srcs, n, "energy", "Energy per token (J/token) per configuration",
                  "J/token (log scale)", jpt_value))
        return;
    const char *why = NULL;
    json_t *rec;
    for (size_t s = 0, i = 0; !why && (rec = rp_next_record(srcs, n, &s, &i));)
        why = json_string_value(json_object_get(json_object_get(rec, "energy"), "unavailable"));
    char msg[1200];
    snprintf(msg, sizeof msg, "Energy per token unavailable: no record measured it (%s).",
             why ? why : "no energy data in the results");
    tb_doc_note(r, msg);
}

/* ---- Pareto: accuracy vs speed, one front per workload and model family */

struct pt {
    double x, y, top1;
    size_t group; /* 1-based: workload + model family */
    const json_t *rec;
    struct tb_rec_config cfg;
    char lab[300];
    int front;
};

static int pt_order(const void *a, const void *b)
{
    const struct pt *p = a, *q = b;
    if (p->group != q->group)
        return p->group < q->group ? -1 : 1;
    return p->x < q->x ? -1 : p->x > q->x;
}

static const char *const k_colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                        "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
#define N_COLOURS (sizeof k_colours / sizeof k_colours[0])

static void pareto_plot(struct tb_doc *r, const struct rp_cats *groups)
{
    size_t blen;
    FILE *b;
    char *body;
    if (!mem_open(&b, &blen, &body))
        return;
    const int g = COL_EXTRA, front = COL_EXTRA + 4; /* group, ..., pareto */
    fprintf(b, "set logscale xy\nset xlabel 'tokens/s (log scale)'\nset ylabel 'mean KL "
               "divergence vs f32 reference (nats, log; lower is better)'\nset key outside "
               "bottom center horizontal\nset bmargin 8\nplot ");
    for (size_t k = 0; k < groups->n; k++) {
        const char *col = k_colours[k % N_COLOURS];
        char t[400];
        snprintf(t, sizeof t, "Pareto front: %s", groups->label[k]);
        fprintf(b,
                "%sDATA skip 1 using (column(%d)==%zu && column(%d)==1 ? column(%d) : 1/0):%d "
                "with linespoints lw 2 pt 6 ps 2 lc rgb '%s' title ",
                k ? ", " : "", g, k + 1, front, g + 2, g + 3, col);
        tb_gnuplot_quote(b, t);
        fprintf(b,
                ", DATA skip 1 using (column(%d)==%zu ? column(%d) : 1/0):%d with points pt 7 "
                "lc rgb '%s' notitle",
                g, k + 1, g + 2, g + 3, col);
    }
    fprintf(b,
            ", DATA skip 1 using %d:%d:1 with labels offset 0,-1 font ',7' tc rgb '#555555' "
            "notitle\n",
            g + 2, g + 3);
    fclose(b);
    tb_doc_chart(r, "pareto",
                 "Accuracy vs speed: KL divergence (nats) vs tokens/s; one Pareto front per "
                 "workload and model family",
                 body);
    free(body);
}

void rp_pareto_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Accuracy vs speed per weight type (Pareto view)");
    static const char *const extra[] = {"pareto_group", "pareto_group_label",
                                        "tokens_per_s", "kl_mean",
                                        "pareto",       "top1_agreement"};
    FILE *c = rp_csv_open(r, "pareto", extra, 6);
    if (!c)
        return;
    struct pt *pts = calloc(RP_MAX_CATS, sizeof *pts);
    struct rp_cats groups = {0};
    size_t np = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; pts && (rec = rp_next_record(srcs, n, &s, &i));) {
        const json_t *acc = json_object_get(rec, "accuracy");
        struct pt *p = &pts[np];
        rp_config(srcs, n, s, rec, &p->cfg, p->lab, sizeof p->lab);
        const double x = rp_is_measure(rec) ? p->cfg.tok_s : NAN, y = rp_nv(acc, "kl_mean");
        if (!isfinite(x) || !isfinite(y) || np == RP_MAX_CATS)
            continue;
        char grp[400];
        snprintf(grp, sizeof grp, "%s %s", p->cfg.workload, p->cfg.family);
        if (!(p->group = rp_cat(&groups, grp)))
            continue;
        p->x = x;
        p->y = y > 1e-12 ? y : 1e-12; /* log axis */
        p->top1 = rp_nv(acc, "top1_agreement");
        p->rec = rec;
        np++;
    }
    /* on its group's front: no other point of the group is at least as fast
     * and as accurate and strictly better in one */
    for (size_t i = 0; i < np; i++) {
        int dominated = 0;
        for (size_t j = 0; j < np && !dominated; j++)
            dominated = j != i && pts[j].group == pts[i].group && pts[j].x >= pts[i].x &&
                        pts[j].y <= pts[i].y && (pts[j].x > pts[i].x || pts[j].y < pts[i].y);
        pts[i].front = !dominated;
    }
    if (np)
        qsort(pts, np, sizeof *pts, pt_order); /* fronts drawn left to right */
    for (size_t i = 0; i < np; i++) {
        const struct pt *p = &pts[i];
        const struct tb_csv_cell x[] = {TB_CSV_I((long long)p->group),
                                        TB_CSV_S(groups.label[p->group - 1]),
                                        TB_CSV_D(p->x),
                                        TB_CSV_D(p->y),
                                        TB_CSV_I(p->front),
                                        TB_CSV_D(p->top1)};
        rp_csv_record_row(c, p->lab, i + 1, p->rec, &p->cfg, x, 6);
    }
    fclose(c);
    if (np)
        pareto_plot(r, &groups);
    else
        tb_doc_note(r, "No record has both a tokens/s figure and an accuracy (KL) measurement.");
    rp_cats_free(&groups);
    free(pts);
}

/* ---- tier coverage: rows = profiles, columns = workload + prompt + depth,
 * one colour per verdict class (a legend, not a palette) */

static const char *const k_verdicts[] = {"on-target",    "degraded",        "unsupported",
                                         "does-not-fit", "silent-fallback", "other"};
static const char *const k_verdict_colours[] = {"#2ca02c", "#bcbd22", "#ff7f0e",
                                                "#7f7f7f", "#d62728", "#1f77b4"};
#define N_VERDICTS (sizeof k_verdicts / sizeof k_verdicts[0])

static void coverage_plot(struct tb_doc *r, const struct rp_cats *rows, const struct rp_cats *cols,
                          const int *present)
{
    size_t blen;
    FILE *b;
    char *body;
    if (!mem_open(&b, &blen, &body))
        return;
    size_t wide = 0;
    for (size_t i = 0; i < rows->n; i++)
        wide = strlen(rows->label[i]) > wide ? strlen(rows->label[i]) : wide;
    const int x = COL_EXTRA, y = COL_EXTRA + 1, vi = COL_EXTRA + 2, share = COL_EXTRA + 3;
    fprintf(b,
            "set bmargin %d\nset lmargin %zu\nset rmargin 22\nset xlabel 'workload, prompt "
            "length, context depth'\nset ylabel 'profile (tier)'\nset key outside right top "
            "vertical title 'verdict'\nset grid noxtics noytics\n",
            rp_label_margin(cols) + 2, wide + 4);
    rp_xtics(b, cols);
    fprintf(b, "set yrange [0.5:%zu.5]\nset ytics (", rows->n);
    for (size_t i = 0; i < rows->n; i++) {
        fputs(i ? ", " : "", b);
        tb_gnuplot_quote(b, rows->label[i]);
        fprintf(b, " %zu", i + 1);
    }
    fputs(")\nplot ", b);
    int first = 1;
    for (size_t k = 0; k < N_VERDICTS; k++) {
        if (!present[k])
            continue;
        fprintf(b,
                "%sDATA skip 1 using %d:(column(%d)==%zu ? column(%d) : 1/0) with points pt 5 "
                "ps 5 lc rgb '%s' notitle, 1/0 with points pt 5 ps 2 lc rgb '%s' title '%s'",
                first ? "" : ", ", x, vi, k, y, k_verdict_colours[k], k_verdict_colours[k],
                k_verdicts[k]);
        first = 0;
    }
    fprintf(b,
            ", DATA skip 1 using %d:%d:(sprintf('%%.0f%%%%', 100*column(%d))) with labels "
            "notitle\n",
            x, y, share);
    fclose(b);
    tb_doc_chart(r, "coverage",
                 "Tier coverage matrix: verdict per profile and configuration (label: % of ops "
                 "on the target tier)",
                 body);
    free(body);
}

void rp_coverage_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Tier coverage");
    static const char *const extra[] = {"column_x", "row_y", "verdict_index",
                                        "ops_on_target_share"};
    FILE *c = rp_csv_open(r, "coverage", extra, 4);
    if (!c)
        return;
    struct rp_cats rows = {0}, cols = {0};
    int present[N_VERDICTS] = {0};
    size_t cells = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = rp_next_record(srcs, n, &s, &i));) {
        const json_t *cov = json_object_get(rec, "coverage");
        if (!json_is_object(cov) || !json_is_string(json_object_get(cov, "verdict")))
            continue;
        struct tb_rec_config cfg;
        char lab[300], col[200];
        rp_config(srcs, n, s, rec, &cfg, lab, sizeof lab);
        size_t at = (size_t)snprintf(col, sizeof col, "%s", cfg.workload);
        if (cfg.prompt >= 0 && at < sizeof col)
            at += (size_t)snprintf(col + at, sizeof col - at, " p%d", cfg.prompt);
        if (cfg.depth >= 0 && at < sizeof col)
            snprintf(col + at, sizeof col - at, " d%d", cfg.depth);
        const size_t ri = rp_cat(&rows, cfg.profile), ci = rp_cat(&cols, col);
        if (!ri || !ci)
            continue;
        const char *v = rp_sv(cov, "verdict");
        size_t vi = 0;
        while (vi + 1 < N_VERDICTS && strcmp(k_verdicts[vi], v))
            vi++;
        present[vi] = 1;
        const double share = rp_nv(json_object_get(cov, "ops"), "share");
        const struct tb_csv_cell x[] = {TB_CSV_I((long long)ci), TB_CSV_I((long long)ri),
                                        TB_CSV_I((long long)vi),
                                        TB_CSV_D(isfinite(share) ? share : 0.0)};
        rp_csv_record_row(c, lab, ci, rec, &cfg, x, 4);
        cells++;
    }
    fclose(c);
    if (!cells)
        tb_doc_note(r, "No coverage data in these results (records without a \"coverage\" "
                       "object): the tier-coverage matrix is not drawn.");
    else
        coverage_plot(r, &rows, &cols, present);
    rp_cats_free(&rows);
    rp_cats_free(&cols);
}

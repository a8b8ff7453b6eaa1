/* tierbench report: index.md + self-contained index.html (inline SVG charts
 * from gnuplot) + the CSV behind every chart + qualification report. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/tb_results.h" /* tb_csv_str */
#include "kernels/tb_util.h"
#include "reports/tb_report.h"

int tb_mkdir_p(const char *dir, struct tb_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return tb_err_set(err, TB_EINVAL, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        int end = !*p;
        if (*p == '/' || end) {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return tb_err_set(err, TB_EIO, "mkdir %s: %s", buf, strerror(errno));
            if (end)
                break;
            *p = '/';
        }
    }
    return TB_OK;
}

void tb_html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

void tb_html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    tb_html_escape(f, title);
    fputs("</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:1em auto;"
          "padding:0 1em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid "
          "#bbb;padding:2px 6px;font-size:13px}th{background:#eee}.PASS,.no-change,.improvement"
          "{color:#070}.FAIL,.regression{color:#b00;font-weight:bold}.UNMEASURED,.INCOMPLETE,"
          ".inconclusive{color:#a60}figure{margin:1em 0}figure svg{max-width:100%;height:auto;"
          "border:1px solid #ddd}.note{background:#fff8e0;padding:4px 8px}</style>\n"
          "</head><body>\n<h1>",
          f);
    tb_html_escape(f, title);
    fputs("</h1>\n", f);
}

void tb_html_end(FILE *f)
{
    fputs("</body></html>\n", f);
}

int tb_html_inline_svg(FILE *f, const char *svg_path)
{
    FILE *in = fopen(svg_path, "rb");
    if (!in)
        return TB_EIO;
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, in) != (size_t)n) {
        free(buf);
        fclose(in);
        return TB_EIO;
    }
    fclose(in);
    buf[n] = 0;
    /* drop the XML prolog / DOCTYPE: not allowed inside HTML */
    const char *svg = strstr(buf, "<svg");
    int rc = svg ? TB_OK : TB_EFORMAT;
    if (svg)
        fputs(svg, f);
    free(buf);
    return rc;
}

/* ---- the report under construction */

void tb_doc_text(struct tb_doc *r, const char *md_prefix, const char *html_tag, const char *text)
{
    fprintf(r->md, "%s%s\n\n", md_prefix, text);
    fprintf(r->html, "<%s>", html_tag);
    tb_html_escape(r->html, text);
    fprintf(r->html, "</%s>\n", html_tag);
}

void tb_doc_note(struct tb_doc *r, const char *text)
{
    fprintf(r->md, "> %s\n\n", text);
    fputs("<p class=\"note\">", r->html);
    tb_html_escape(r->html, text);
    fputs("</p>\n", r->html);
}

FILE *tb_doc_file(struct tb_doc *r, const char *name, char *path, size_t n)
{
    if (tb_path_join(path, n, NULL, "%s/%s", r->dir, name)) {
        errno = ENAMETOOLONG; /* never a file at a cut path */
        return NULL;
    }
    return fopen(path, "w");
}

FILE *tb_doc_csv(struct tb_doc *r, const char *chart, const char *header)
{
    char name[300], path[4096];
    snprintf(name, sizeof name, "%s.csv", chart);
    FILE *c = tb_doc_file(r, name, path, sizeof path);
    if (c)
        fputs(header, c);
    return c;
}

/* Runs gnuplot for one chart: `body` plots data from NAME.csv (header row
 * skipped). Produces NAME.svg (and NAME.txt with the dumb terminal when
 * ascii summaries are on), references both from the report. */
void tb_doc_chart(struct tb_doc *r, const char *name, const char *title, const char *body)
{
    r->charts++;
    char svg[4096], csvname[300];
    const int long_path = tb_path_join(svg, sizeof svg, NULL, "%s/%s.svg", r->dir, name) ||
                          tb_path_join(csvname, sizeof csvname, NULL, "%s.csv", name);
    fprintf(r->md, "**%s**\n\n", title);
    fprintf(r->html, "<figure><figcaption><b>");
    tb_html_escape(r->html, title);
    fprintf(r->html, "</b> (data: <a href=\"%s\">%s</a>)</figcaption>\n", csvname, csvname);
    int ok = 0;
    for (int pass = 0; pass < 2 && r->gp_ok && !long_path; pass++) {
        if (pass == 1 && !r->ascii)
            break;
        char *script = NULL;
        size_t slen = 0;
        FILE *s = open_memstream(&script, &slen);
        if (!s)
            break;
        char out[4096];
        if (!pass) {
            fprintf(s, "set terminal svg size 900,480 noenhanced font 'Sans,10' background "
                       "'#ffffff'\n");
            snprintf(out, sizeof out, "%s", svg); /* same size */
        } else {
            fprintf(s, "set terminal dumb size 100,28 noenhanced\n");
            if (tb_path_join(out, sizeof out, NULL, "%s/%s.txt", r->dir, name)) {
                fclose(s);
                free(script);
                break;
            }
        }
        fputs("set output ", s);
        tb_gnuplot_quote(s, out);
        /* second title line: the machine and the date, on every chart */
        fputs("\nset datafile separator ','\nTITLE = ", s);
        tb_gnuplot_quote(s, title);
        char caption[400];
        snprintf(caption, sizeof caption, "machine: %s | date: %s", r->machine, r->date);
        fputs("\nCAPTION = ", s);
        tb_gnuplot_quote(s, caption);
        fprintf(s, "\nset title TITLE.\"\\n\".CAPTION\nset grid\nDATA = ");
        char data[4096];
        if (tb_path_join(data, sizeof data, NULL, "%s/%s", r->dir, csvname)) {
            fclose(s);
            free(script);
            break;
        }
        tb_gnuplot_quote(s, data);
        fprintf(s, "\n%s\nunset output\n", body);
        fclose(s);
        struct tb_err e = {0};
        int rc = tb_gnuplot_run(script, &e);
        free(script);
        if (rc) {
            if (rc == TB_EUNSUPPORTED) {
                r->gp_ok = 0;
                snprintf(r->gp_msg, sizeof r->gp_msg, "%s", e.msg);
            }
            if (r->log)
                fprintf(r->log, "report: chart %s: %s\n", name, e.msg);
            break;
        }
        if (!pass) {
            ok = 1;
        } else if (r->log) {
            FILE *t = fopen(out, "r");
            char line[512];
            fprintf(r->log, "%s\n", title);
            while (t && fgets(line, sizeof line, t))
                fputs(line, r->log);
            if (t)
                fclose(t);
        }
    }
    if (ok) {
        fprintf(r->md, "![%s](%s.svg)\n\n", title, name);
        fprintf(r->md, "Data: [%s](%s) | machine: %s | date: %s\n\n", csvname, csvname, r->machine,
                r->date);
        if (tb_html_inline_svg(r->html, svg))
            fputs("<p class=\"note\">chart file missing</p>", r->html);
    } else {
        char msg[TB_ERR_MSG_MAX + 400];
        snprintf(msg, sizeof msg, "Chart not drawn: %s. The data is in %s.",
                 r->gp_ok ? "gnuplot failed (see the log)" : r->gp_msg, csvname);
        fprintf(r->md, "> %s\n\n", msg);
        fputs("<p class=\"note\">", r->html);
        tb_html_escape(r->html, msg);
        fputs("</p>", r->html);
    }
    fputs("</figure>\n", r->html);
}

static const char *sv(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double nv(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int is_measure(json_t *rec)
{
    const char *st = json_string_value(json_object_get(rec, "status"));
    return (!st || !strcmp(st, "ok")) && strcmp(sv(rec, "workload"), "qualification");
}

/* The record's main throughput: the first derived *_tps scalar. */
static double main_tps(json_t *rec, const char **name)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(rec, "derived"), k, v)
    {
        if (strstr(k, "_tps") && json_is_number(v)) {
            if (name)
                *name = k;
            return json_number_value(v);
        }
    }
    return NAN;
}

/* A categorical axis' tic list: 'a' 1, 'b' 2, ... */
static void tic_labels(FILE *s, char **labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", s);
        tb_gnuplot_quote(s, labels[i]);
        fprintf(s, " %zu", i + 1);
    }
}

void tb_gnuplot_xtics(FILE *s, char **labels, size_t n)
{
    fprintf(s, "set xrange [0.5:%zu.5]\nset xtics rotate by -25 (", n);
    tic_labels(s, labels, n);
    fputs(")\n", s);
}

/* ---- sections */

/* One loop over every record of every source: start *s and *i at 0; each
 * call returns the next record (srcs[*s] holds it), NULL after the last. */
static json_t *next_record(const struct tb_rsrc *srcs, size_t n, size_t *s, size_t *i)
{
    for (; *s < n; ++*s, *i = 0)
        if (*i < json_array_size(srcs[*s].records))
            return json_array_get(srcs[*s].records, (*i)++);
    return NULL;
}

static void latency_charts(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Latency distribution per profile");
    /* profiles in order of appearance */
    char profiles[32][64];
    size_t np = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
        if (!is_measure(rec) || !json_is_array(json_object_get(rec, "samples")))
            continue;
        size_t k = 0;
        while (k < np && strcmp(profiles[k], sv(rec, "profile")))
            k++;
        if (k == np && np < 32)
            snprintf(profiles[np++], sizeof profiles[0], "%s", sv(rec, "profile"));
    }
    if (!np)
        tb_doc_note(r, "No records with raw latency samples.");
    for (size_t p = 0; p < np; p++) {
        char name[128];
        snprintf(name, sizeof name, "latency_%zu", p);
        FILE *c = tb_doc_csv(r, name, "workload_metric,sample_ms\n");
        if (!c)
            continue;
        char *labels[64];
        size_t nl = 0;
        for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
            json_t *smp = json_object_get(rec, "samples");
            if (!is_measure(rec) || !json_is_array(smp) ||
                strcmp(sv(rec, "profile"), profiles[p]) || strcmp(sv(rec, "unit"), "ms") ||
                nl == 64)
                continue;
            char lab[200];
            snprintf(lab, sizeof lab, "%s %s [%s]", sv(rec, "workload"), sv(rec, "metric"),
                     sv(json_object_get(rec, "model"), "weight_type"));
            size_t j;
            json_t *x;
            int any = 0;
            json_array_foreach(smp, j, x)
            {
                if (!json_is_number(x) || json_number_value(x) <= 0)
                    continue;
                tb_csv_str(c, lab);
                fprintf(c, ",%.9g\n", json_number_value(x));
                any = 1;
            }
            if (any)
                labels[nl++] = strdup(lab);
        }
        fclose(c);
        size_t blen;
        FILE *b;
        char *body = NULL;
        b = open_memstream(&body, &blen);
        if (!b) {
            for (size_t i = 0; i < nl; i++)
                free(labels[i]);
            break;
        }
        fprintf(b, "set style data boxplot\nset style fill solid 0.3\nset style boxplot outliers "
                   "pointtype 7\nset pointsize 0.4\nset logscale y\nset ylabel 'latency (ms, log "
                   "scale)'\nset bmargin 6\n");
        tb_gnuplot_xtics(b, labels, nl);
        fprintf(b, "plot DATA skip 1 using (1.0):2:(0.5):1 notitle lc rgb '#3060c0'\n");
        fclose(b);
        char title[200];
        snprintf(title, sizeof title, "Latency distribution: profile %.63s (ms)", profiles[p]);
        if (nl)
            tb_doc_chart(r, name, title, body);
        free(body);
        for (size_t i = 0; i < nl; i++)
            free(labels[i]);
    }
}

/* A bar chart of one scalar per measurement record: value(rec) or NaN. */
static int bar_chart(struct tb_doc *r, struct tb_rsrc *srcs, size_t n, const char *name,
                     const char *title, const char *ylabel,
                     double (*value)(json_t *rec, const char **what))
{
    FILE *c = tb_doc_csv(r, name, "label,profile,workload,weight_type,device_kind,metric,value\n");
    if (!c)
        return 0;
    char *labels[128];
    size_t nl = 0;
    double vmin = INFINITY, vmax = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
        const char *what = "";
        double v = is_measure(rec) ? value(rec, &what) : NAN;
        if (!isfinite(v) || v <= 0 || nl == 128)
            continue;
        const char *wt = sv(json_object_get(rec, "model"), "weight_type");
        const char *kind = sv(json_object_get(rec, "placement"), "device_kind");
        char lab[200];
        snprintf(lab, sizeof lab, "%s %s %s/%s", sv(rec, "profile"), sv(rec, "workload"), wt,
                 kind[0] ? kind : sv(rec, "backend"));
        tb_csv_str(c, lab);
        fputc(',', c);
        tb_csv_str(c, sv(rec, "profile"));
        fputc(',', c);
        tb_csv_str(c, sv(rec, "workload"));
        fputc(',', c);
        tb_csv_str(c, wt);
        fputc(',', c);
        tb_csv_str(c, kind);
        fputc(',', c);
        tb_csv_str(c, what);
        fprintf(c, ",%.9g\n", v);
        labels[nl++] = strdup(lab);
        vmin = v < vmin ? v : vmin;
        vmax = v > vmax ? v : vmax;
    }
    fclose(c);
    if (nl) {
        size_t blen;
        FILE *b;
        char *body = NULL;
        b = open_memstream(&body, &blen);
        if (b) {
            /* explicit range: gnuplot cannot autoscale a single value on a log axis */
            fprintf(b,
                    "set style fill solid 0.6\nset boxwidth 0.6\nset logscale y\n"
                    "set yrange [%.6g:%.6g]\nset ylabel ",
                    vmin / 2, vmax * 2);
            tb_gnuplot_quote(b, ylabel);
            fprintf(b, "\nset bmargin 7\n");
            tb_gnuplot_xtics(b, labels, nl);
            fprintf(b, "plot DATA skip 1 using ($0+1):7 with boxes notitle lc rgb '#40a040'\n");
            fclose(b);
            tb_doc_chart(r, name, title, body);
            free(body);
        }
    }
    for (size_t i = 0; i < nl; i++)
        free(labels[i]);
    return (int)nl;
}

static double tps_value(json_t *rec, const char **what)
{
    return main_tps(rec, what);
}

static double jpt_value(json_t *rec, const char **what)
{
    *what = "joules_per_token";
    return nv(json_object_get(rec, "energy"), "joules_per_token");
}

static void energy_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Energy per token");
    if (bar_chart(r, srcs, n, "energy", "Energy per token (J/token)", "J/token (log scale)",
                  jpt_value))
        return;
    const char *why = NULL;
    json_t *rec;
    for (size_t s = 0, i = 0; !why && (rec = next_record(srcs, n, &s, &i));)
        why = json_string_value(json_object_get(json_object_get(rec, "energy"), "unavailable"));
    char msg[1200];
    snprintf(msg, sizeof msg, "Energy per token unavailable: no record measured it (%s).",
             why ? why : "no energy data in the results");
    tb_doc_note(r, msg);
}

static void pareto_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Accuracy vs speed per weight type (Pareto view)");
    FILE *c =
        tb_doc_csv(r, "pareto", "weight_type,tokens_per_s,kl_mean,top1_agreement,pareto,label\n");
    if (!c)
        return;
    struct pt {
        double x, y;
        char wt[16];
        char lab[160];
        double top1;
    } pts[128];
    size_t np = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
        json_t *acc = json_object_get(rec, "accuracy");
        double x = is_measure(rec) ? main_tps(rec, NULL) : NAN, y = nv(acc, "kl_mean");
        if (!isfinite(x) || !isfinite(y) || np == 128)
            continue;
        struct pt *p = &pts[np++];
        p->x = x;
        p->y = y > 1e-12 ? y : 1e-12; /* log axis */
        p->top1 = nv(acc, "top1_agreement");
        snprintf(p->wt, sizeof p->wt, "%s", sv(json_object_get(rec, "model"), "weight_type"));
        snprintf(p->lab, sizeof p->lab, "%s %s %s", sv(rec, "profile"), sv(rec, "workload"),
                 sv(json_object_get(rec, "model"), "weight_type"));
    }
    for (size_t i = 0; i < np; i++) {
        /* on the front: no other point is at least as fast and as accurate
         * and strictly better in one */
        int dominated = 0;
        for (size_t j = 0; j < np && !dominated; j++)
            dominated = j != i && pts[j].x >= pts[i].x && pts[j].y <= pts[i].y &&
                        (pts[j].x > pts[i].x || pts[j].y < pts[i].y);
        tb_csv_str(c, pts[i].wt);
        fprintf(c, ",%.9g,%.9g,%.9g,%d,", pts[i].x, pts[i].y, pts[i].top1, !dominated);
        tb_csv_str(c, pts[i].lab);
        fputc('\n', c);
    }
    fclose(c);
    if (!np) {
        tb_doc_note(r, "No record has both a tokens/s figure and an accuracy (KL) measurement.");
        return;
    }
    tb_doc_chart(
        r, "pareto", "Accuracy vs speed: KL divergence (nats) vs tokens/s, by weight type",
        "set logscale xy\nset xlabel 'tokens/s (log scale)'\nset ylabel 'mean KL divergence vs "
        "f32 reference (nats, log; lower is better)'\nset key outside right\n"
        "plot DATA skip 1 using 2:($5==1?$3:1/0) with points pt 6 ps 2 lc rgb '#c03030' "
        "title 'Pareto front', DATA skip 1 using 2:3:1 with labels point pt 7 offset 1,0.5 "
        "left notitle, DATA skip 1 using 2:3:6 with labels offset 0,-1 font ',7' tc rgb "
        "'#777777' notitle\n");
}

/* Measured ceilings from a tierbench-kernels JSON: peak FLOP/s and memory
 * bandwidth (best over the roofline/ entries), in GFLOP/s and GB/s. */
static void ceilings(struct tb_rsrc *srcs, size_t n, double *peak, double *bw)
{
    *peak = *bw = NAN;
    json_t *b;
    for (size_t s = 0, i = 0; (b = next_record(srcs, n, &s, &i));) {
        if (!srcs[s].is_gbench)
            continue;
        const char *name = sv(b, "name");
        if (strncmp(name, "roofline/", 9))
            continue;
        double f = nv(b, "flop_per_second") / 1e9, m = nv(b, "bytes_per_second") / 1e9;
        if (isfinite(f) && strstr(name, "fma") && !(f <= *peak))
            *peak = f;
        if (isfinite(m) && strstr(name, "membw") && !(m <= *bw))
            *bw = m;
    }
}

static void roofline_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Roofline");
    FILE *c = tb_doc_csv(r, "roofline", "label,flop_per_byte,gflop_per_s\n");
    if (!c)
        return;
    size_t np = 0;
    double gmin = INFINITY, gmax = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
        json_t *d = json_object_get(rec, "derived");
        double fl = nv(d, "eval_flops"), by = nv(d, "eval_bytes"), g = nv(d, "gflops_per_s");
        if (!is_measure(rec) || !(fl > 0) || !(by > 0) || !(g > 0))
            continue;
        char lab[200];
        snprintf(lab, sizeof lab, "%s %s", sv(rec, "profile"), sv(rec, "workload"));
        tb_csv_str(c, lab);
        fprintf(c, ",%.9g,%.9g\n", fl / by, g);
        np++;
        gmin = g < gmin ? g : gmin;
        gmax = g > gmax ? g : gmax;
    }
    fclose(c);
    double peak, bw;
    ceilings(srcs, n, &peak, &bw);
    if (!isfinite(peak) || !isfinite(bw))
        tb_doc_note(r,
                    "Roofline ceilings were not measured: pass a tierbench-kernels JSON "
                    "(--benchmark_format=json, with roofline/* entries) to draw the bandwidth and "
                    "peak lines. Points show achieved GFLOP/s only.");
    if (!np) {
        tb_doc_note(
            r, "No record carries derived eval_flops/eval_bytes: nothing to place on a roofline.");
        return;
    }
    char body[1200];
    int k = snprintf(body, sizeof body,
                     "set logscale xy\nset xlabel 'arithmetic intensity (FLOP/byte, log)'\n"
                     "set ylabel 'achieved GFLOP/s (log)'\nset key outside right\nset xrange "
                     "[0.01:1000]\nset yrange [%.6g:%.6g]\n",
                     gmin / 10, (isfinite(peak) && peak > gmax ? peak : gmax) * 3);
    if (isfinite(peak) && isfinite(bw))
        snprintf(body + k, sizeof body - (size_t)k,
                 "PEAK=%.6g\nBW=%.6g\nroof(x)=(BW*x<PEAK)?BW*x:PEAK\nplot roof(x) with lines lw 2 "
                 "lc rgb '#000000' title sprintf('measured ceilings: %%.1f GB/s, %%.1f GFLOP/s', "
                 "BW, PEAK), DATA skip 1 using 2:3 with points pt 7 ps 1.2 title 'records', DATA "
                 "skip 1 using 2:3:1 with labels offset 1,0.5 left font ',7' notitle\n",
                 peak, bw);
    else
        snprintf(body + k, sizeof body - (size_t)k,
                 "plot DATA skip 1 using 2:3 with points pt 7 ps 1.2 title 'records (ceilings "
                 "not measured)', DATA skip 1 using 2:3:1 with labels offset 1,0.5 left font "
                 "',7' notitle\n");
    tb_doc_chart(r, "roofline", "Roofline: achieved GFLOP/s vs arithmetic intensity", body);
}

/* Tier-coverage matrix from record["coverage"] (harness/tb_coverage.h):
 * rows = profiles, columns = workloads, colour = verdict, label = share of
 * ops on the target tier. */
static void coverage_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Tier coverage");
    static const char *const verdicts[] = {"on-target", "degraded", "unsupported", "does-not-fit",
                                           "silent-fallback"};
    FILE *c = tb_doc_csv(
        r, "coverage",
        "profile,workload,verdict,verdict_index,ops_on_target_share,workload_x,profile_y\n");
    if (!c)
        return;
    char *rows[64], *cols[64];
    size_t nr = 0, nc = 0, cells = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
        json_t *cov = json_object_get(rec, "coverage");
        if (!json_is_object(cov))
            continue;
        size_t ri = 0, ci = 0, vi = 0;
        while (ri < nr && strcmp(rows[ri], sv(rec, "profile")))
            ri++;
        while (ci < nc && strcmp(cols[ci], sv(rec, "workload")))
            ci++;
        if ((ri == nr && nr == 64) || (ci == nc && nc == 64))
            continue;
        if (ri == nr)
            rows[nr++] = strdup(sv(rec, "profile"));
        if (ci == nc)
            cols[nc++] = strdup(sv(rec, "workload"));
        const char *v = sv(cov, "verdict");
        while (vi < 5 && strcmp(verdicts[vi], v))
            vi++;
        tb_csv_str(c, sv(rec, "profile"));
        fputc(',', c);
        tb_csv_str(c, sv(rec, "workload"));
        fputc(',', c);
        tb_csv_str(c, v);
        double share = nv(json_object_get(cov, "ops"), "share");
        fprintf(c, ",%zu,%.4g,%zu,%zu\n", vi, isfinite(share) ? share : 0.0, ci + 1, ri + 1);
        cells++;
    }
    fclose(c);
    if (!cells) {
        tb_doc_note(r, "No coverage data in these results (records without a \"coverage\" "
                       "object): the tier-coverage matrix is not drawn.");
    } else {
        size_t blen;
        FILE *b;
        char *body = NULL;
        b = open_memstream(&body, &blen);
        if (b) {
            fprintf(b, "set palette defined (0 '#2ca02c', 1 '#bcbd22', 2 '#ff7f0e', 3 '#7f7f7f', "
                       "4 '#d62728', 5 '#ffffff')\nset cbrange [-0.5:5.5]\nset cbtics "
                       "('on-target' 0, 'degraded' 1, 'unsupported' 2, 'does-not-fit' 3, "
                       "'silent-fallback' 4, 'other' 5)\nset bmargin 6\nset lmargin 20\n"
                       "set xlabel 'workload'\nset ylabel 'profile (tier)'\n");
            tb_gnuplot_xtics(b, cols, nc);
            fprintf(b, "set yrange [0.5:%zu.5]\nset ytics (", nr);
            tic_labels(b, rows, nr);
            fprintf(b, ")\nplot DATA skip 1 using 6:7:4 with points pt 5 ps 6 lc palette "
                       "notitle, DATA skip 1 using 6:7:(sprintf('%%.0f%%%%', 100*$5)) with "
                       "labels notitle\n");
            fclose(b);
            tb_doc_chart(r, "coverage",
                         "Tier coverage matrix: verdict per profile and workload (label: % of "
                         "ops on the target tier)",
                         body);
            free(body);
        }
    }
    for (size_t i = 0; i < nr; i++)
        free(rows[i]);
    for (size_t i = 0; i < nc; i++)
        free(cols[i]);
}

void tb_doc_table_row(struct tb_doc *r, const char *const *cells, size_t n, const char *cls_last)
{
    fputs("|", r->md);
    fputs("<tr>", r->html);
    for (size_t i = 0; i < n; i++) {
        fprintf(r->md, " %s |", cells[i]);
        if (i + 1 == n && cls_last)
            fprintf(r->html, "<td class=\"%s\">", cls_last);
        else
            fputs("<td>", r->html);
        tb_html_escape(r->html, cells[i]);
        fputs("</td>", r->html);
    }
    fputs("\n", r->md);
    fputs("</tr>\n", r->html);
}

void tb_doc_table_head(struct tb_doc *r, const char *const *cells, size_t n)
{
    fputs("|", r->md);
    fputs("<table><tr>", r->html);
    for (size_t i = 0; i < n; i++) {
        fprintf(r->md, " %s |", cells[i]);
        fputs("<th>", r->html);
        tb_html_escape(r->html, cells[i]);
        fputs("</th>", r->html);
    }
    fputs("\n|", r->md);
    for (size_t i = 0; i < n; i++)
        fputs("---|", r->md);
    fputs("\n", r->md);
    fputs("</tr>\n", r->html);
}

void tb_doc_table_end(struct tb_doc *r)
{
    fputs("\n", r->md);
    fputs("</table>\n", r->html);
}

static void fmt_num(char *buf, size_t n, double v)
{
    if (isfinite(v))
        snprintf(buf, n, "%.4g", v);
    else
        snprintf(buf, n, "-");
}

static void summary_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Results");
    static const char *const head[] = {"profile", "workload", "config",   "metric",
                                       "median",  "p99",      "tokens/s", "status"};
    tb_doc_table_head(r, head, 8);
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
        if (!strcmp(sv(rec, "workload"), "qualification") || srcs[s].is_gbench)
            continue;
        json_t *st = json_object_get(rec, "stats");
        char med[64], p99[64], tps[32], metric[96];
        fmt_num(med, sizeof med, nv(st, "median"));
        fmt_num(p99, sizeof p99, nv(st, "p99"));
        fmt_num(tps, sizeof tps, main_tps(rec, NULL));
        if (json_object_get(rec, "metric"))
            snprintf(metric, sizeof metric, "%s (%s)", sv(rec, "metric"), sv(rec, "unit"));
        else
            snprintf(metric, sizeof metric, "%s", sv(rec, "error"));
        const char *status = json_string_value(json_object_get(rec, "status"));
        const char *cells[] = {
            sv(rec, "profile"),    sv(rec, "workload"), sv(rec, "config"), metric, med, p99, tps,
            status ? status : "ok"};
        tb_doc_table_row(r, cells, 8, NULL);
    }
    tb_doc_table_end(r);
}

static void qualification_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Qualification");
    int any = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = next_record(srcs, n, &s, &i));) {
        if (strcmp(sv(rec, "workload"), "qualification"))
            continue;
        any = 1;
        char h[200];
        snprintf(h, sizeof h, "Profile %s: %s", sv(rec, "profile"), sv(rec, "verdict"));
        tb_doc_text(r, "### ", "h3", h);
        static const char *const head[] = {"SLO",       "workload", "measured",
                                           "threshold", "note",     "verdict"};
        tb_doc_table_head(r, head, 6);
        size_t j;
        json_t *slo;
        json_array_foreach(json_object_get(rec, "slos"), j, slo)
        {
            char val[64], thr[64];
            fmt_num(val, sizeof val, nv(slo, "value"));
            snprintf(thr, sizeof thr, "%s %.6g", sv(slo, "op"), nv(slo, "threshold"));
            const char *cells[] = {sv(slo, "slo"),    sv(slo, "workload"), val, thr,
                                   sv(slo, "reason"), sv(slo, "verdict")};
            tb_doc_table_row(r, cells, 6, sv(slo, "verdict"));
        }
        tb_doc_table_end(r);
    }
    if (!any)
        tb_doc_note(r, "No qualification records (run with --profile to evaluate SLOs).");

    tb_doc_text(r, "### ", "h3", "Environment");
    static const char *const ehead[] = {"source",    "machine",  "kernel",
                                        "tierbench", "compiler", "date"};
    tb_doc_table_head(r, ehead, 6);
    for (size_t s = 0; s < n; s++) {
        json_t *env = srcs[s].manifest ? json_object_get(srcs[s].manifest, "environment") : NULL;
        if (!env && json_array_size(srcs[s].records))
            env = json_object_get(json_array_get(srcs[s].records, 0), "environment");
        char machine[256], date[64], kern[200], tb[200];
        tb_rsrc_machine(&srcs[s], machine, sizeof machine);
        tb_rsrc_date(&srcs[s], date, sizeof date);
        json_t *k = json_object_get(env, "kernel"), *t = json_object_get(env, "tierbench");
        snprintf(kern, sizeof kern, "%s %s %s", sv(k, "sysname"), sv(k, "release"),
                 sv(k, "machine"));
        snprintf(tb, sizeof tb, "%s (commit %s%s)", sv(t, "version"), sv(t, "source_git_commit"),
                 json_is_true(json_object_get(t, "source_git_dirty")) ? ", dirty" : "");
        const char *cells[] = {
            srcs[s].path, machine, kern, tb, sv(json_object_get(env, "build"), "compiler"), date};
        tb_doc_table_row(r, cells, 6, NULL);
    }
    tb_doc_table_end(r);

    tb_doc_text(r, "### ", "h3", "Result files");
    static const char *const fhead[] = {"file", "hash"};
    tb_doc_table_head(r, fhead, 2);
    for (size_t s = 0; s < n; s++) {
        const char *names[] = {"manifest.json", "results.csv"};
        const char *cells[] = {srcs[s].data_path, srcs[s].hash};
        tb_doc_table_row(r, cells, 2, NULL);
        if (strcmp(srcs[s].data_path, srcs[s].path) == 0)
            continue;
        for (int f = 0; f < 2; f++) {
            char p[4096], h[TB_HASH_STR_MAX];
            if (tb_path_join(p, sizeof p, NULL, "%s/%s", srcs[s].path, names[f]) ||
                tb_file_hash(p, h, NULL))
                continue;
            const char *c2[] = {p, h};
            tb_doc_table_row(r, c2, 2, NULL);
        }
    }
    tb_doc_table_end(r);
}

int tb_doc_open(struct tb_doc *d, const char *dir, const char *title, FILE *log, int ascii,
                struct tb_err *err)
{
    memset(d, 0, sizeof *d);
    /* room for every file name a report writes (chart names < 300): a
     * one-line error before the directory is made */
    const size_t len = strlen(dir);
    if (len + 1 + 300 >= 4096)
        return tb_err_set(err, TB_EINVAL,
                          "report directory path too long: %.48s... (%zu chars, at most %d)", dir,
                          len, 4096 - 1 - 1 - 300);
    int rc = tb_mkdir_p(dir, err);
    if (rc)
        return rc;
    d->dir = dir;
    d->log = log;
    d->ascii = ascii;
    d->gp_ok = tb_gnuplot_available();
    if (!d->gp_ok) {
        snprintf(d->gp_msg, sizeof d->gp_msg,
                 "gnuplot not found on PATH: charts skipped (install the gnuplot-nox package)");
        if (log)
            fprintf(log, "%s: %s; the tables and CSVs are still written\n", dir, d->gp_msg);
    }
    snprintf(d->machine, sizeof d->machine, "unknown");
    snprintf(d->date, sizeof d->date, "unknown");
    char p[4096];
    d->md = tb_doc_file(d, "index.md", p, sizeof p);
    d->html = tb_doc_file(d, "index.html", p, sizeof p);
    if (!d->md || !d->html) {
        rc = tb_err_set(err, TB_EIO, "%s: cannot create index.md/index.html: %s", dir,
                        strerror(errno));
        if (d->md)
            fclose(d->md);
        if (d->html)
            fclose(d->html);
        d->md = d->html = NULL;
        return rc;
    }
    fprintf(d->md, "# %s\n\n", title);
    tb_html_begin(d->html, title);
    return TB_OK;
}

int tb_doc_close(struct tb_doc *d, struct tb_err *err)
{
    if (!d->md)
        return TB_OK;
    tb_html_end(d->html);
    int bad = ferror(d->md) || ferror(d->html);
    bad |= fclose(d->md) != 0;
    bad |= fclose(d->html) != 0;
    d->md = d->html = NULL;
    return bad ? tb_err_set(err, TB_EIO, "%s: writing index.md/index.html failed", d->dir) : TB_OK;
}

int tb_report_write(struct tb_rsrc *srcs, size_t n, const char *out_dir,
                    const struct tb_report_opts *o, struct tb_err *err)
{
    struct tb_doc r;
    int rc = tb_doc_open(&r, out_dir, "tierbench report", o ? o->log : NULL, o && o->ascii, err);
    if (rc)
        return rc;
    for (size_t s = 0; s < n; s++)
        if (!srcs[s].is_gbench) {
            tb_rsrc_machine(&srcs[s], r.machine, sizeof r.machine);
            tb_rsrc_date(&srcs[s], r.date, sizeof r.date);
            break;
        }
    char intro[600];
    snprintf(intro, sizeof intro, "Machine: %s. Date: %s. Sources: %zu.", r.machine, r.date, n);
    tb_doc_text(&r, "", "p", intro);
    if (!r.gp_ok)
        tb_doc_note(&r, r.gp_msg);
    summary_section(&r, srcs, n);
    qualification_section(&r, srcs, n);
    latency_charts(&r, srcs, n);
    tb_doc_text(&r, "## ", "h2", "Tokens per second per device tier and type");
    if (!bar_chart(&r, srcs, n, "tokens_per_s",
                   "Tokens/s per profile (tier), workload, weight type and device kind",
                   "tokens/s (log scale)", tps_value))
        tb_doc_note(&r, "No record carries a tokens/s figure.");
    energy_section(&r, srcs, n);
    pareto_section(&r, srcs, n);
    roofline_section(&r, srcs, n);
    coverage_section(&r, srcs, n);
    return tb_doc_close(&r, err);
}

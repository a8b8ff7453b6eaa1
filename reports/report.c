/* tierbench report: index.md + self-contained index.html (inline SVG charts
 * from gnuplot) + the CSV behind every chart + qualification report. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <unistd.h>

#include "harness/tb_results.h"
#include "kernels/tb_util.h"
#include "reports/report_internal.h"
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
    /* each comma-separated name through libcsv; a final newline kept */
    for (const char *h = header; c && h && *h;) {
        const size_t len = strcspn(h, ",\n");
        tb_csv_field(c, h, len);
        h += len;
        if (*h)
            fputc(*h++, c);
    }
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
            /* taller by the lines the rotated labels take (bmargin) */
            const char *bm = strstr(body, "set bmargin ");
            const long lines = bm ? strtol(bm + 12, NULL, 10) : 0;
            fprintf(s,
                    "set terminal svg size 900,%ld noenhanced font 'Sans,10' background "
                    "'#ffffff'\n",
                    480 + (lines > 6 ? (lines - 6) * 14 : 0));
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
        int rc = tb_gnuplot_run(script, r->gp_log[0] ? r->gp_log : NULL, &e);
        free(script);
        if (rc) {
            if (rc == TB_EUNSUPPORTED) {
                r->gp_ok = 0;
                snprintf(r->gp_msg, sizeof r->gp_msg, "%s", e.msg);
            }
            FILE *gl = r->gp_log[0] ? fopen(r->gp_log, "a") : NULL;
            if (gl) { /* the one-line summary points here */
                fprintf(gl, "chart %s: %s\n", name, e.msg);
                fclose(gl);
            }
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
    r->charts_drawn += ok;
    r->charts_failed += !ok && r->gp_ok && !long_path;
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

const char *rp_sv(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

double rp_nv(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int rp_is_measure(const json_t *rec)
{
    const char *st = json_string_value(json_object_get(rec, "status"));
    return (!st || !strcmp(st, "ok")) && strcmp(rp_sv(rec, "workload"), "qualification");
}

json_t *rp_next_record(const struct tb_rsrc *srcs, size_t n, size_t *s, size_t *i)
{
    for (; *s < n; ++*s, *i = 0)
        if (!srcs[*s].is_gbench && *i < json_array_size(srcs[*s].records))
            return json_array_get(srcs[*s].records, (*i)++);
    return NULL;
}

void rp_config(const struct tb_rsrc *srcs, size_t n, size_t s, const json_t *rec,
               struct tb_rec_config *c, char *label, size_t label_n)
{
    tb_rec_config_read(rec, c);
    tb_rec_config_label(c, label, label_n);
    /* the same configuration in another source: say which source this is */
    int elsewhere = 0;
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        if (srcs[j].is_gbench)
            continue;
        k += j < s;
        size_t i;
        json_t *o;
        json_array_foreach(j == s || elsewhere ? NULL : srcs[j].records, i, o)
        {
            struct tb_rec_config oc;
            char ol[300];
            tb_rec_config_read(o, &oc);
            tb_rec_config_label(&oc, ol, sizeof ol);
            if (!strcmp(ol, label) && !strcmp(oc.workload, c->workload)) {
                elsewhere = 1;
                break;
            }
        }
    }
    const size_t len = strlen(label);
    if (elsewhere && len < label_n)
        snprintf(label + len, label_n - len, " [source %zu]", k + 1);
}

size_t rp_cat(struct rp_cats *c, const char *label)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->label[i], label))
            return i + 1;
    if (c->n == RP_MAX_CATS || !(c->label[c->n] = strdup(label)))
        return 0;
    return ++c->n;
}

void rp_cats_free(struct rp_cats *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->label[i]);
    c->n = 0;
}

/* A categorical axis' tic list: 'a' 1, 'b' 2, ... */
static void tic_labels(FILE *s, char *const *labels, size_t n)
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

void rp_xtics(FILE *s, const struct rp_cats *c)
{
    fprintf(s, "set xrange [0.5:%zu.5]\nset xtics rotate by -30 (", c->n);
    tic_labels(s, c->label, c->n);
    fputs(")\n", s);
}

int rp_label_margin(const struct rp_cats *c)
{
    size_t longest = 0;
    for (size_t i = 0; i < c->n; i++)
        longest = strlen(c->label[i]) > longest ? strlen(c->label[i]) : longest;
    /* rotated by 30 degrees: half the label's length in lines, + the axis */
    const size_t m = 3 + longest / 4;
    return (int)(m < 24 ? m : 24);
}

FILE *rp_csv_open(struct tb_doc *r, const char *chart, const char *const *extra, size_t n_extra)
{
    char name[300], path[4096];
    snprintf(name, sizeof name, "%s.csv", chart);
    FILE *f = tb_doc_file(r, name, path, sizeof path);
    if (!f)
        return NULL;
    const char *names[RP_CSV_FIRST_EXTRA - 1 + 16];
    size_t k = 0;
    names[k++] = "label";
    names[k++] = "category";
    for (size_t i = 0; i < TB_CSV_CONFIG_COLUMNS; i++)
        names[k++] = tb_csv_config_names[i];
    for (size_t i = 0; i < n_extra && k < sizeof names / sizeof names[0]; i++)
        names[k++] = extra[i];
    tb_csv_header(f, names, k);
    return f;
}

int rp_csv_record_row(FILE *f, const char *label, size_t cat, const json_t *rec,
                      const struct tb_rec_config *c, const struct tb_csv_cell *extra,
                      size_t n_extra)
{
    struct tb_csv_cell cells[RP_CSV_FIRST_EXTRA - 1 + 16];
    size_t k = 0;
    cells[k++] = TB_CSV_S(label);
    cells[k++] = TB_CSV_I((long long)cat);
    tb_csv_config_cells(rec, c, cells + k);
    k += TB_CSV_CONFIG_COLUMNS;
    for (size_t i = 0; i < n_extra && k < sizeof cells / sizeof cells[0]; i++)
        cells[k++] = extra[i];
    return tb_csv_row(f, cells, k);
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
    if (d->gp_ok && !tb_path_join(d->gp_log, sizeof d->gp_log, NULL, "%s/gnuplot.log", dir))
        unlink(d->gp_log); /* this report's messages only */
    else
        d->gp_log[0] = 0;
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

/* Lines in the file (0 when it is not there). */
static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int ch, last = '\n';
    while (f && (ch = fgetc(f)) != EOF) {
        n += ch == '\n';
        last = ch;
    }
    if (f)
        fclose(f);
    return n + (last != '\n');
}

/* The one line the terminal gets about the charts; gnuplot's own messages
 * stay in gnuplot.log (removed when gnuplot said nothing). */
static void chart_summary(struct tb_doc *r)
{
    if (!r->log || !r->gp_ok)
        return;
    const size_t lines = r->gp_log[0] ? count_lines(r->gp_log) : 0;
    if (!lines && r->gp_log[0])
        unlink(r->gp_log);
    if (lines)
        fprintf(r->log, "report: %d of %d charts drawn; gnuplot's messages (%zu lines) are in %s\n",
                r->charts_drawn, r->charts, lines, r->gp_log);
    else
        fprintf(r->log, "report: %d of %d charts drawn; gnuplot printed no messages\n",
                r->charts_drawn, r->charts);
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
    rp_summary_section(&r, srcs, n);
    rp_qualification_section(&r, srcs, n);
    rp_latency_charts(&r, srcs, n);
    rp_tokens_section(&r, srcs, n);
    rp_energy_section(&r, srcs, n);
    rp_pareto_section(&r, srcs, n);
    rp_roofline_section(&r, srcs, n);
    rp_coverage_section(&r, srcs, n);
    chart_summary(&r);
    return tb_doc_close(&r, err);
}

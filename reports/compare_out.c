/* tierbench compare's outputs: Markdown, CSV (libcsv), JSON (jansson) and
 * JUnit XML (libxml2's xmlTextWriter, valid against the Jenkins xunit
 * plugin's JUnit schema). No figure is ever printed as "nan": an undefined
 * one is an empty CSV cell, a JSON null, "-" in Markdown, left out of a
 * message. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "harness/tb_results_csv.h"
#include "reports/tb_report.h"

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

/* A row without medians of its own (placement, outcome). */
static int is_text_row(const struct tb_cmp_row *w)
{
    return !strcmp(w->metric, "placement") || !strcmp(w->metric, "outcome");
}

void tb_cmp_row_message(const struct tb_cmp_row *w, char *buf, size_t n)
{
    const char *v = tb_verdict_name(w->verdict);
    if (is_text_row(w)) {
        snprintf(buf, n, "%s: %s", v,
                 w->note[0]                     ? w->note
                 : w->verdict == TB_V_NO_CHANGE ? "same placement"
                                                : "-");
        return;
    }
    const char *sp = w->unit[0] ? " " : "";
    if (w->verdict == TB_V_MISSING || w->verdict == TB_V_NEW) {
        const double m = w->verdict == TB_V_MISSING ? w->med_base : w->med_cand;
        char med[96] = "";
        if (isfinite(m))
            snprintf(med, sizeof med, " (%s median %.6g%s%s)",
                     w->verdict == TB_V_MISSING ? "base" : "candidate", m, sp, w->unit);
        snprintf(buf, n, "%s: %s%s", v, w->note, med);
        return;
    }
    char change[48] = "", p[48] = "";
    if (isfinite(w->change_pct))
        snprintf(change, sizeof change, " (%+.2f%%)", w->change_pct);
    else if (isfinite(w->med_base) && isfinite(w->med_cand))
        snprintf(change, sizeof change, " (from 0: no relative change)");
    if (isfinite(w->p))
        snprintf(p, sizeof p, ", p = %.3g", w->p);
    if (isfinite(w->med_base) && isfinite(w->med_cand))
        snprintf(buf, n, "%s: median %.6g -> %.6g%s%s%s%s%s%s", v, w->med_base, w->med_cand, sp,
                 w->unit, change, p, w->note[0] ? "; " : "", w->note);
    else
        snprintf(buf, n, "%s: %s", v, w->note[0] ? w->note : "no values to compare");
}

void tb_cmp_gate_line(const struct tb_cmp_result *r, char *buf, size_t n)
{
    const int gate = tb_cmp_gate(r);
    const size_t reg = tb_cmp_count(r, TB_V_REGRESSION), miss = tb_cmp_count(r, TB_V_MISSING);
    const size_t inc = tb_cmp_count(r, TB_V_INCONCLUSIVE), need = tb_cmp_samples_needed(r);
    if (gate == TB_CMP_GATE_FAIL) {
        char m[96] = "";
        if (miss && !r->allow_missing)
            snprintf(m, sizeof m, ", %zu missing in the candidate", miss);
        snprintf(buf, n, "gate: FAIL (exit %d): %zu regression(s)%s", TB_CMP_GATE_FAIL, reg, m);
    } else if (gate == TB_CMP_GATE_INCONCLUSIVE) {
        char want[96] = "";
        if (need)
            snprintf(want, sizeof want, "; need >= %zu samples per side", need);
        snprintf(buf, n,
                 "gate: INCONCLUSIVE (exit %d): %zu metric(s) cannot be decided with these "
                 "samples%s (or pass --allow-inconclusive)",
                 TB_CMP_GATE_INCONCLUSIVE, inc, want);
    } else {
        char a[80] = "", b[80] = "";
        if (inc)
            snprintf(a, sizeof a, "; %zu inconclusive passed by --allow-inconclusive", inc);
        if (miss)
            snprintf(b, sizeof b, "; %zu missing passed by --allow-missing", miss);
        snprintf(buf, n, "gate: PASS (exit 0)%s%s", a, b);
    }
}

/* A figure or, when it is undefined, what stands in its place. */
static const char *fig(char *buf, size_t n, const char *fmt, double v, const char *absent)
{
    if (isfinite(v))
        snprintf(buf, n, fmt, v);
    else
        snprintf(buf, n, "%s", absent);
    return buf;
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
        char b[48], c[48], ch[48], p[48];
        const int text = is_text_row(w);
        fputs("| ", f);
        md_cell(f, w->key);
        fprintf(f, " | %s%s%s%s | %s | %s | %s | %s | ", w->metric, w->unit[0] ? " (" : "", w->unit,
                w->unit[0] ? ")" : "",
                fig(b, sizeof b, "%.6g", w->med_base, text || w->n_base ? "-" : "missing"),
                fig(c, sizeof c, "%.6g", w->med_cand, text || w->n_cand ? "-" : "missing"),
                fig(ch, sizeof ch, "%+.2f%%", w->change_pct, "-"),
                fig(p, sizeof p, "%.3g", w->p, "-"));
        const int bold = tb_cmp_row_gated(r, w) != TB_CMP_GATE_PASS;
        fprintf(f, "%s%s%s | ", bold ? "**" : "", tb_verdict_name(w->verdict), bold ? "**" : "");
        md_cell(f, w->note);
        fputs(" |\n", f);
    }
    char gate[512];
    tb_cmp_gate_line(r, gate, sizeof gate);
    fprintf(f,
            "\n%zu compared: %zu regression, %zu improvement, %zu no-change, %zu inconclusive, "
            "%zu missing, %zu new (alpha %g)\n\n%s\n",
            r->n, tb_cmp_count(r, TB_V_REGRESSION), tb_cmp_count(r, TB_V_IMPROVEMENT),
            tb_cmp_count(r, TB_V_NO_CHANGE), tb_cmp_count(r, TB_V_INCONCLUSIVE),
            tb_cmp_count(r, TB_V_MISSING), tb_cmp_count(r, TB_V_NEW), r->alpha, gate);
}

static const char *const csv_names[] = {
    "key",        "metric",      "unit",          "higher_is_better",
    "n_base",     "n_candidate", "median_base",   "median_candidate",
    "change_pct", "p_value",     "threshold_pct", "samples_needed",
    "verdict",    "gate",        "note",          "label"};
#define CSV_COLS (sizeof csv_names / sizeof csv_names[0])

static const char *gate_name(int g)
{
    return g == TB_CMP_GATE_FAIL ? "fail" : g == TB_CMP_GATE_INCONCLUSIVE ? "inconclusive" : "pass";
}

static int write_csv(const struct tb_cmp_result *r, FILE *f)
{
    int bad = tb_csv_header(f, csv_names, CSV_COLS);
    for (size_t i = 0; i < r->n && !bad; i++) {
        const struct tb_cmp_row *w = &r->rows[i];
        const struct tb_csv_cell cells[CSV_COLS] = {
            TB_CSV_S(w->key),
            TB_CSV_S(w->metric),
            TB_CSV_S(w->unit),
            TB_CSV_S(w->higher_better ? "true" : "false"),
            TB_CSV_I((long long)w->n_base),
            TB_CSV_I((long long)w->n_cand),
            TB_CSV_D(w->med_base),
            TB_CSV_D(w->med_cand),
            TB_CSV_D(w->change_pct),
            TB_CSV_D(w->p),
            TB_CSV_D(w->threshold_pct),
            TB_CSV_I(w->need ? (long long)w->need : INT_MIN),
            TB_CSV_S(tb_verdict_name(w->verdict)),
            TB_CSV_S(gate_name(tb_cmp_row_gated(r, w))),
            TB_CSV_S(w->note),
            TB_CSV_S(w->label),
        };
        bad = tb_csv_row(f, cells, CSV_COLS);
    }
    return bad;
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *json_row(const struct tb_cmp_result *r, const struct tb_cmp_row *w)
{
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:s}", "key",
        w->key, "metric", w->metric, "unit", w->unit, "higher_is_better", w->higher_better,
        "n_base", (json_int_t)w->n_base, "n_candidate", (json_int_t)w->n_cand, "median_base",
        jnum(w->med_base), "median_candidate", jnum(w->med_cand), "change_pct", jnum(w->change_pct),
        "p_value", jnum(w->p), "threshold_pct", jnum(w->threshold_pct), "samples_needed",
        w->need ? json_integer((json_int_t)w->need) : json_null(), "verdict",
        tb_verdict_name(w->verdict), "gate", gate_name(tb_cmp_row_gated(r, w)), "note", w->note,
        "label", w->label);
}

static int write_json(const struct tb_cmp_result *r, FILE *f, struct tb_err *err)
{
    json_t *rows = json_array();
    char line[512];
    tb_cmp_gate_line(r, line, sizeof line);
    const size_t need = tb_cmp_samples_needed(r);
    json_t *doc = json_pack(
        "{s:f, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:s, s:i, s:o, s:b, s:b, s:s}, s:o}", "alpha",
        r->alpha, "summary", "regression", (json_int_t)tb_cmp_count(r, TB_V_REGRESSION),
        "improvement", (json_int_t)tb_cmp_count(r, TB_V_IMPROVEMENT), "no-change",
        (json_int_t)tb_cmp_count(r, TB_V_NO_CHANGE), "inconclusive",
        (json_int_t)tb_cmp_count(r, TB_V_INCONCLUSIVE), "missing",
        (json_int_t)tb_cmp_count(r, TB_V_MISSING), "new", (json_int_t)tb_cmp_count(r, TB_V_NEW),
        "gate", "status", gate_name(tb_cmp_gate(r)), "exit", tb_cmp_gate(r), "samples_needed",
        need ? json_integer((json_int_t)need) : json_null(), "allow_inconclusive",
        r->allow_inconclusive, "allow_missing", r->allow_missing, "message", line, "rows", rows);
    if (!doc)
        return tb_err_set(err, TB_ENOMEM, "compare: out of memory");
    if (r->provenance)
        json_object_set(doc, "interleave", r->provenance);
    for (size_t i = 0; i < r->n; i++) {
        json_t *o = json_row(r, &r->rows[i]);
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

/* ---- JUnit */

/* s as XML 1.0 character data: valid UTF-8 kept, other bytes as '?', the
 * control characters XML forbids dropped. */
static const xmlChar *xml_safe(const char *s, char *out, size_t n)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && o + 5 < n) {
        size_t len = *p < 0x80             ? 1
                     : (*p & 0xE0) == 0xC0 ? 2
                     : (*p & 0xF0) == 0xE0 ? 3
                     : (*p & 0xF8) == 0xF0 ? 4
                                           : 0;
        for (size_t k = 1; k < len; k++)
            if ((p[k] & 0xC0) != 0x80)
                len = 0;
        if (len == 2 && *p < 0xC2)
            len = 0; /* overlong */
        if (!len) {
            out[o++] = '?';
            p++;
        } else if (len == 1 && *p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
            p++;
        } else {
            memcpy(out + o, p, len);
            o += len;
            p += len;
        }
    }
    out[o] = 0;
    return (const xmlChar *)out;
}

static int xattr(xmlTextWriterPtr w, const char *name, const char *value)
{
    char buf[2048];
    return xmlTextWriterWriteAttribute(w, BAD_CAST name, xml_safe(value, buf, sizeof buf)) < 0;
}

static int xattr_n(xmlTextWriterPtr w, const char *name, size_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", v);
    return xattr(w, name, buf);
}

static int xproperty(xmlTextWriterPtr w, const char *name, const char *value)
{
    return xmlTextWriterStartElement(w, BAD_CAST "property") < 0 || xattr(w, "name", name) ||
           xattr(w, "value", value) || xmlTextWriterEndElement(w) < 0;
}

/* One testcase per gated metric: regression and (unless allowed) missing
 * = <failure>, inconclusive = <error> (the gate cannot pass it), allowed
 * ones = <skipped>; no-change/improvement/new pass with the message in
 * <system-out>. */
static int junit_case(xmlTextWriterPtr w, const struct tb_cmp_result *r, const struct tb_cmp_row *c)
{
    char msg[1024], safe[2048];
    tb_cmp_row_message(c, msg, sizeof msg);
    const int g = tb_cmp_row_gated(r, c);
    const char *el = g == TB_CMP_GATE_FAIL                                           ? "failure"
                     : g == TB_CMP_GATE_INCONCLUSIVE                                 ? "error"
                     : c->verdict == TB_V_INCONCLUSIVE || c->verdict == TB_V_MISSING ? "skipped"
                                                                                     : NULL;
    int bad = xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0 ||
              xattr(w, "classname", c->key) || xattr(w, "name", c->metric);
    if (el) {
        bad |= xmlTextWriterStartElement(w, BAD_CAST el) < 0;
        if (strcmp(el, "skipped"))
            bad |= xattr(w, "type", tb_verdict_name(c->verdict));
        bad |= xattr(w, "message", msg);
        bad |= xmlTextWriterWriteString(w, xml_safe(msg, safe, sizeof safe)) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
    } else {
        bad |= xmlTextWriterWriteElement(w, BAD_CAST "system-out",
                                         xml_safe(msg, safe, sizeof safe)) < 0;
    }
    return bad | (xmlTextWriterEndElement(w) < 0);
}

static int junit_body(xmlTextWriterPtr w, const struct tb_cmp_result *r)
{
    size_t fail = 0, errors = 0, skipped = 0;
    for (size_t i = 0; i < r->n; i++) {
        const int g = tb_cmp_row_gated(r, &r->rows[i]);
        fail += g == TB_CMP_GATE_FAIL;
        errors += g == TB_CMP_GATE_INCONCLUSIVE;
        skipped += g == TB_CMP_GATE_PASS &&
                   (r->rows[i].verdict == TB_V_INCONCLUSIVE || r->rows[i].verdict == TB_V_MISSING);
    }
    char line[1024], alpha[32];
    int bad = xmlTextWriterSetIndent(w, 1) < 0 ||
              xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0 ||
              xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0;
    /* <testsuites> takes name/tests/failures/errors/time only (no skipped) */
    bad |= xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0 ||
           xattr(w, "name", "tierbench compare") || xattr_n(w, "tests", r->n) ||
           xattr_n(w, "failures", fail) || xattr_n(w, "errors", errors);
    bad |= xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0 ||
           xattr(w, "name", "perf-gate") || xattr_n(w, "tests", r->n) ||
           xattr_n(w, "failures", fail) || xattr_n(w, "errors", errors) ||
           xattr_n(w, "skipped", skipped);
    bad |= xmlTextWriterStartElement(w, BAD_CAST "properties") < 0;
    tb_cmp_gate_line(r, line, sizeof line);
    snprintf(alpha, sizeof alpha, "%g", r->alpha);
    bad |= xproperty(w, "gate", line) || xproperty(w, "alpha", alpha);
    if (r->provenance) {
        provenance_line(r, line, sizeof line);
        bad |= xproperty(w, "interleave", line);
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    for (size_t i = 0; i < r->n && !bad; i++)
        bad = junit_case(w, r, &r->rows[i]);
    return bad | (xmlTextWriterEndDocument(w) < 0);
}

static int write_junit(const struct tb_cmp_result *r, FILE *f, struct tb_err *err)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (!w) {
        xmlBufferFree(buf);
        return tb_err_set(err, TB_ENOMEM, "compare: out of memory (JUnit writer)");
    }
    const int bad = junit_body(w, r);
    xmlFreeTextWriter(w); /* flushes into buf */
    int rc = TB_OK;
    if (bad)
        rc = tb_err_set(err, TB_EIO, "compare: writing JUnit XML failed");
    else if (fwrite(xmlBufferContent(buf), 1, (size_t)xmlBufferLength(buf), f) !=
             (size_t)xmlBufferLength(buf))
        rc = tb_err_set(err, TB_EIO, "compare: write failed");
    xmlBufferFree(buf);
    return rc;
}

int tb_cmp_write(const struct tb_cmp_result *r, enum tb_cmp_format fmt, FILE *f, struct tb_err *err)
{
    int rc = TB_OK;
    switch (fmt) {
    case TB_FMT_CSV:
        if (write_csv(r, f))
            rc = tb_err_set(err, TB_EIO, "compare: writing CSV failed");
        break;
    case TB_FMT_JSON: rc = write_json(r, f, err); break;
    case TB_FMT_JUNIT: rc = write_junit(r, f, err); break;
    default: write_md(r, f); break;
    }
    if (!rc && (fflush(f) || ferror(f)))
        rc = tb_err_set(err, TB_EIO, "compare: write failed");
    return rc;
}

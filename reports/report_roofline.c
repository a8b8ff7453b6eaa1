/* The roofline: achieved GFLOP/s against arithmetic intensity, under every
 * ceiling a tierbench-kernels JSON measured (its roofline/... entries):
 *   memory bandwidth  membw_* (bytes_per_second), the slope;
 *   f32 FMA           fma_f32/ISA (flop_per_second): the roof of f32/f16
 *                     weights;
 *   int8 dot          int8_vpdpbusd/ISA (op_per_second): the roof of
 *                     quantized (int8-dot) weights, e.g. q4_0 and q8_0 prefill.
 * Each point is placed against its own roof: the CSV names the ceiling, its
 * attainable GFLOP/s at the point's intensity and the share reached. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_internal.h"

enum { ROOF_F32 = 0, ROOF_INT8, ROOF_KINDS };
static const char *const k_roof_names[ROOF_KINDS] = {"fma_f32", "int8_dot"};
static const char *const k_roof_titles[ROOF_KINDS] = {"f32 FMA", "int8 dot (int8_vpdpbusd)"};
static const char *const k_roof_colours[ROOF_KINDS] = {"#1f4e9c", "#b03060"};

struct ceilings {
    double peak[ROOF_KINDS]; /* GFLOP/s (GOP/s for int8); NaN unmeasured */
    double bw;               /* GB/s */
};

/* Best of each kind over the Google Benchmark sources' roofline/ entries. */
static void read_ceilings(const struct tb_rsrc *srcs, size_t n, struct ceilings *c)
{
    c->peak[ROOF_F32] = c->peak[ROOF_INT8] = c->bw = NAN;
    for (size_t s = 0; s < n; s++) {
        if (!srcs[s].is_gbench)
            continue;
        size_t i;
        json_t *b;
        json_array_foreach(srcs[s].records, i, b)
        {
            const char *name = rp_sv(b, "name");
            if (strncmp(name, "roofline/", 9) || *rp_sv(b, "error_message"))
                continue;
            const double f = rp_nv(b, "flop_per_second") / 1e9, o = rp_nv(b, "op_per_second") / 1e9,
                         m = rp_nv(b, "bytes_per_second") / 1e9;
            if (!strncmp(name + 9, "fma_f32/", 8) && f > 0 && !(f <= c->peak[ROOF_F32]))
                c->peak[ROOF_F32] = f;
            if (!strncmp(name + 9, "int8_", 5) && o > 0 && !(o <= c->peak[ROOF_INT8]))
                c->peak[ROOF_INT8] = o;
            if (!strncmp(name + 9, "membw_", 6) && m > 0 && !(m <= c->bw))
                c->bw = m;
        }
    }
}

/* Which roof a record's matmuls run under: quantized weights (q*, iq*)
 * multiply through int8 dot products, f32/f16/bf16 through f32 FMA. */
static int roof_of(const struct tb_rec_config *c)
{
    const char *t = c->weight_type;
    return t[0] == 'q' || (t[0] == 'i' && t[1] == 'q') ? ROOF_INT8 : ROOF_F32;
}

static void roofline_plot(struct tb_doc *r, const struct ceilings *ce, const int *used, double gmin,
                          double gmax)
{
    size_t blen;
    char *body = NULL;
    FILE *b = open_memstream(&body, &blen);
    if (!b)
        return;
    double top = gmax;
    for (int k = 0; k < ROOF_KINDS; k++)
        top = isfinite(ce->peak[k]) && ce->peak[k] > top ? ce->peak[k] : top;
    fprintf(b,
            "set logscale xy\nset xlabel 'arithmetic intensity (FLOP/byte, log)'\n"
            "set ylabel 'achieved GFLOP/s (log)'\nset key outside bottom center horizontal\n"
            "set bmargin 9\nset xrange [0.01:1000]\nset yrange [%.6g:%.6g]\nset samples 400\n",
            gmin / 10, top * 3);
    const int x = RP_CSV_FIRST_EXTRA + 1, y = RP_CSV_FIRST_EXTRA + 2, roof = RP_CSV_FIRST_EXTRA;
    fputs("plot ", b);
    int first = 1;
    if (isfinite(ce->bw)) {
        fprintf(b,
                "%.6g*x with lines lw 2 dt 2 lc rgb '#000000' title sprintf('memory bandwidth: "
                "%%.1f GB/s', %.6g)",
                ce->bw, ce->bw);
        first = 0;
    }
    for (int k = 0; k < ROOF_KINDS; k++) {
        if (!isfinite(ce->peak[k]))
            continue;
        /* the flat part of the roof, from its ridge point on (or everywhere
         * when the bandwidth was not measured) */
        const double ridge = isfinite(ce->bw) ? ce->peak[k] / ce->bw : 0;
        fprintf(b,
                "%s(x >= %.6g ? %.6g : 1/0) with lines lw 2 lc rgb '%s' title sprintf('%s peak: "
                "%%.1f %s', %.6g)",
                first ? "" : ", ", ridge, ce->peak[k], k_roof_colours[k], k_roof_titles[k],
                k == ROOF_F32 ? "GFLOP/s" : "GOP/s", ce->peak[k]);
        first = 0;
    }
    for (int k = 0; k < ROOF_KINDS; k++) {
        if (!used[k])
            continue;
        fprintf(b,
                "%sDATA skip 1 using %d:(strcol(%d) eq '%s' ? column(%d) : 1/0) with points pt "
                "7 ps 1.2 lc rgb '%s' title '%s records (%s roof)'",
                first ? "" : ", ", x, roof, k_roof_names[k], y, k_roof_colours[k],
                k == ROOF_F32 ? "f32/f16-weight" : "int8-weight", k_roof_titles[k]);
        first = 0;
    }
    fprintf(b, ", DATA skip 1 using %d:%d:1 with labels offset 1,0.5 left font ',7' notitle\n", x,
            y);
    fclose(b);
    tb_doc_chart(r, "roofline", "Roofline: achieved GFLOP/s vs arithmetic intensity", body);
    free(body);
}

void rp_roofline_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Roofline");
    static const char *const extra[] = {"ceiling",      "flop_per_byte",      "gflop_per_s",
                                        "ceiling_peak", "attainable_gflop_s", "share_of_roof"};
    FILE *c = rp_csv_open(r, "roofline", extra, 6);
    if (!c)
        return;
    struct ceilings ce;
    read_ceilings(srcs, n, &ce);
    struct rp_cats cats = {0};
    int used[ROOF_KINDS] = {0};
    double gmin = INFINITY, gmax = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = rp_next_record(srcs, n, &s, &i));) {
        const json_t *d = json_object_get(rec, "derived");
        const double fl = rp_nv(d, "eval_flops"), by = rp_nv(d, "eval_bytes"),
                     g = rp_nv(d, "gflops_per_s");
        if (!rp_is_measure(rec) || !(fl > 0) || !(by > 0) || !(g > 0))
            continue;
        struct tb_rec_config cfg;
        char lab[300];
        rp_config(srcs, n, s, rec, &cfg, lab, sizeof lab);
        const size_t cat = rp_cat(&cats, lab);
        if (!cat)
            continue;
        const int k = roof_of(&cfg);
        used[k] = 1;
        const double ai = fl / by, peak = ce.peak[k];
        const double att = isfinite(ce.bw) && isfinite(peak) ? fmin(ce.bw * ai, peak) : NAN;
        const struct tb_csv_cell x[] = {
            TB_CSV_S(k_roof_names[k]), TB_CSV_D(ai), TB_CSV_D(g), TB_CSV_D(peak), TB_CSV_D(att),
            TB_CSV_D(g / att)};
        rp_csv_record_row(c, lab, cat, rec, &cfg, x, 6);
        gmin = g < gmin ? g : gmin;
        gmax = g > gmax ? g : gmax;
    }
    fclose(c);
    if (!isfinite(ce.peak[ROOF_F32]) && !isfinite(ce.peak[ROOF_INT8]) && !isfinite(ce.bw))
        tb_doc_note(r,
                    "Roofline ceilings were not measured: pass a tierbench-kernels JSON "
                    "(--benchmark_format=json, with roofline/* entries) to draw the bandwidth and "
                    "peak lines. Points show achieved GFLOP/s only.");
    else
        for (int k = 0; k < ROOF_KINDS; k++)
            if (used[k] && !isfinite(ce.peak[k])) {
                char msg[300];
                snprintf(msg, sizeof msg,
                         "The %s ceiling was not measured (no roofline/%s entry in the kernels "
                         "JSON): its records are drawn without their compute roof.",
                         k_roof_titles[k], k == ROOF_F32 ? "fma_f32" : "int8_vpdpbusd");
                tb_doc_note(r, msg);
            }
    if (!cats.n)
        tb_doc_note(
            r, "No record carries derived eval_flops/eval_bytes: nothing to place on a roofline.");
    else
        roofline_plot(r, &ce, used, gmin, gmax);
    rp_cats_free(&cats);
}

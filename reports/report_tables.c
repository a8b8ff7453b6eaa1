/* The report's tables: every record's configuration and result, and the
 * qualification (SLO verdicts, environment, result file hashes). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/tb_util.h"
#include "reports/report_internal.h"

static void fmt_num(char *buf, size_t n, double v)
{
    if (isfinite(v))
        snprintf(buf, n, "%.4g", v);
    else
        snprintf(buf, n, "-");
}

void rp_summary_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Results");
    static const char *const head[] = {"profile", "workload", "prompt",  "depth",  "model",
                                       "type",    "backend",  "threads", "metric", "median",
                                       "p99",     "tokens/s", "status",  "reason"};
    enum { N_HEAD = sizeof head / sizeof head[0] };
    tb_doc_table_head(r, head, N_HEAD);
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = rp_next_record(srcs, n, &s, &i));) {
        if (!strcmp(rp_sv(rec, "workload"), "qualification"))
            continue;
        struct tb_rec_config c;
        tb_rec_config_read(rec, &c);
        const json_t *st = json_object_get(rec, "stats");
        char med[64], p99[64], tps[32], metric[96], prompt[16] = "-", depth[16] = "-",
                                                    threads[16] = "-", where[100];
        fmt_num(med, sizeof med, rp_nv(st, "median"));
        fmt_num(p99, sizeof p99, rp_nv(st, "p99"));
        fmt_num(tps, sizeof tps, c.tok_s);
        if (c.prompt >= 0)
            snprintf(prompt, sizeof prompt, "%d", c.prompt);
        if (c.depth >= 0)
            snprintf(depth, sizeof depth, "%d", c.depth);
        if (c.threads > 0)
            snprintf(threads, sizeof threads, "%d", c.threads);
        if (c.device_kind[0] && strcmp(c.device_kind, c.backend))
            snprintf(where, sizeof where, "%s (%s)", c.backend, c.device_kind);
        else
            snprintf(where, sizeof where, "%s", c.backend[0] ? c.backend : "-");
        if (json_object_get(rec, "metric"))
            snprintf(metric, sizeof metric, "%s (%s)", rp_sv(rec, "metric"), rp_sv(rec, "unit"));
        else
            snprintf(metric, sizeof metric, "-");
        const char *cells[] = {c.profile, c.workload,
                               prompt,    depth,
                               c.model,   c.weight_type[0] ? c.weight_type : "-",
                               where,     threads,
                               metric,    med,
                               p99,       tps,
                               c.status,  c.reason[0] ? c.reason : ""};
        tb_doc_table_row(r, cells, N_HEAD, NULL);
    }
    tb_doc_table_end(r);
}

void rp_qualification_section(struct tb_doc *r, struct tb_rsrc *srcs, size_t n)
{
    tb_doc_text(r, "## ", "h2", "Qualification");
    int any = 0;
    json_t *rec;
    for (size_t s = 0, i = 0; (rec = rp_next_record(srcs, n, &s, &i));) {
        if (strcmp(rp_sv(rec, "workload"), "qualification"))
            continue;
        any = 1;
        char h[200];
        snprintf(h, sizeof h, "Profile %s: %s", rp_sv(rec, "profile"), rp_sv(rec, "verdict"));
        tb_doc_text(r, "### ", "h3", h);
        if (!json_array_size(json_object_get(rec, "slos"))) {
            /* no SLO was evaluated (an UNSUPPORTED profile): the reason */
            struct tb_rec_config c;
            tb_rec_config_read(rec, &c);
            char why[700];
            snprintf(why, sizeof why, "%s: %s", c.verdict[0] ? c.verdict : c.status,
                     c.reason[0] ? c.reason
                                 : "no SLO was evaluated and the record gives no reason");
            tb_doc_note(r, why);
            continue;
        }
        static const char *const head[] = {"SLO",       "workload", "measured",
                                           "threshold", "note",     "verdict"};
        tb_doc_table_head(r, head, 6);
        size_t j;
        json_t *slo;
        json_array_foreach(json_object_get(rec, "slos"), j, slo)
        {
            char val[64], thr[64];
            fmt_num(val, sizeof val, rp_nv(slo, "value"));
            snprintf(thr, sizeof thr, "%s %.6g", rp_sv(slo, "op"), rp_nv(slo, "threshold"));
            const char *cells[] = {rp_sv(slo, "slo"),    rp_sv(slo, "workload"), val, thr,
                                   rp_sv(slo, "reason"), rp_sv(slo, "verdict")};
            tb_doc_table_row(r, cells, 6, rp_sv(slo, "verdict"));
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
        snprintf(kern, sizeof kern, "%s %s %s", rp_sv(k, "sysname"), rp_sv(k, "release"),
                 rp_sv(k, "machine"));
        snprintf(tb, sizeof tb, "%s (commit %s%s)", rp_sv(t, "version"),
                 rp_sv(t, "source_git_commit"),
                 json_is_true(json_object_get(t, "source_git_dirty")) ? ", dirty" : "");
        const char *cells[] = {
            srcs[s].path, machine, kern, tb, rp_sv(json_object_get(env, "build"), "compiler"),
            date};
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

/* What the run leaves at the end: the summary table and the coverage
 * matrix files beside the results. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness/run_internal.h"
#include "harness/tb_results_csv.h"

void run_summary_row(struct run_ctx *run, const json_t *rec, const char *profile, const char *wl,
                     const char *metric, double median, double p99, double tps, const char *energy,
                     const char *accuracy, const char *tier, const char *status)
{
    struct tb_rec_config c;
    tb_rec_config_read(rec, &c);
    json_t *row =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:s}", "profile", profile,
                  "workload", wl, "metric", metric, "median", tb_json_number(median), "p99",
                  tb_json_number(p99), "tps", tb_json_number(tps), "energy", energy, "accuracy",
                  accuracy, "tier", tier, "status", status, "reason", c.reason);
    /* a qualification row is the profile's verdict: no configuration */
    if (row && rec && strcmp(c.workload, "qualification")) {
        if (c.prompt >= 0)
            json_object_set_new(row, "prompt", json_integer(c.prompt));
        if (c.depth >= 0)
            json_object_set_new(row, "depth", json_integer(c.depth));
    }
    json_array_append_new(run->summary, row);
}

static void int_cell(const json_t *r, const char *k, char *buf, size_t n)
{
    const json_t *v = json_object_get(r, k);
    if (json_is_integer(v))
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, n, "-");
}

void run_print_summary(const json_t *rows, FILE *f)
{
    fprintf(f, "\n%-20s %-14s %6s %6s %-8s %12s %12s %10s  %-14s %-22s %-16s %s\n", "profile",
            "workload", "prompt", "depth", "metric", "median", "p99", "tok/s", "energy", "accuracy",
            "tier", "status");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const double med = json_number_value(json_object_get(r, "median"));
        const double p99 = json_number_value(json_object_get(r, "p99"));
        const double tps = json_number_value(json_object_get(r, "tps"));
        char a[32] = "-", b[32] = "-", c[32] = "-", pr[16], dp[16];
        if (json_is_number(json_object_get(r, "median")))
            snprintf(a, sizeof a, "%.3f ms", med);
        if (json_is_number(json_object_get(r, "p99")))
            snprintf(b, sizeof b, "%.3f ms", p99);
        if (json_is_number(json_object_get(r, "tps")))
            snprintf(c, sizeof c, "%.1f", tps);
        int_cell(r, "prompt", pr, sizeof pr);
        int_cell(r, "depth", dp, sizeof dp);
        const char *why = json_string_value(json_object_get(r, "reason"));
        fprintf(f, "%-20s %-14s %6s %6s %-8s %12s %12s %10s  %-14s %-22s %-16s %s%s%s\n",
                json_string_value(json_object_get(r, "profile")),
                json_string_value(json_object_get(r, "workload")), pr, dp,
                json_string_value(json_object_get(r, "metric")), a, b, c,
                json_string_value(json_object_get(r, "energy")),
                json_string_value(json_object_get(r, "accuracy")),
                json_string_value(json_object_get(r, "tier")),
                json_string_value(json_object_get(r, "status")), why && *why ? ": " : "",
                why ? why : "");
    }
}

/* coverage.md + coverage.csv beside the results: the matrix across profiles */
int run_write_coverage(struct run_ctx *run, struct tb_err *err)
{
    static const char *const names[2] = {"coverage.md", "coverage.csv"};
    for (int k = 0; k < 2; k++) {
        char path[RUN_PATH_MAX];
        const int rc =
            tb_path_join(path, sizeof path, err, "%s/%s", tb_results_dir(run->res), names[k]);
        if (rc)
            return rc;
        FILE *f = fopen(path, "w");
        if (!f)
            return tb_err_set(err, TB_EIO, "%s: %s", path, strerror(errno));
        int bad = k == 0 ? tb_coverage_write_markdown(f, run->cov, run->n_cov)
                         : tb_coverage_write_csv(f, run->cov, run->n_cov);
        bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
        if (fclose(f) || bad)
            return tb_err_set(err, TB_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    return TB_OK;
}

/* What the run leaves at the end: the summary table and the coverage
 * matrix files beside the results. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness/run_internal.h"

void run_print_summary(const json_t *rows, FILE *f)
{
    fprintf(f, "\n%-20s %-14s %-8s %12s %12s %10s  %-14s %-22s %-16s %s\n", "profile", "workload",
            "metric", "median", "p99", "tok/s", "energy", "accuracy", "tier", "status");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const double med = json_number_value(json_object_get(r, "median"));
        const double p99 = json_number_value(json_object_get(r, "p99"));
        const double tps = json_number_value(json_object_get(r, "tps"));
        char a[32] = "-", b[32] = "-", c[32] = "-";
        if (json_is_number(json_object_get(r, "median")))
            snprintf(a, sizeof a, "%.3f ms", med);
        if (json_is_number(json_object_get(r, "p99")))
            snprintf(b, sizeof b, "%.3f ms", p99);
        if (json_is_number(json_object_get(r, "tps")))
            snprintf(c, sizeof c, "%.1f", tps);
        fprintf(f, "%-20s %-14s %-8s %12s %12s %10s  %-14s %-22s %-16s %s\n",
                json_string_value(json_object_get(r, "profile")),
                json_string_value(json_object_get(r, "workload")),
                json_string_value(json_object_get(r, "metric")), a, b, c,
                json_string_value(json_object_get(r, "energy")),
                json_string_value(json_object_get(r, "accuracy")),
                json_string_value(json_object_get(r, "tier")),
                json_string_value(json_object_get(r, "status")));
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

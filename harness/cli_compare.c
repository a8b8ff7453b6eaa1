/* tierbench compare BASE CANDIDATE: statistical comparison for the CI gate.
 * Exit 0: no regression, 1: regression found, 2: usage or input error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_cli.h"
#include "reports/tb_report.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tierbench compare BASE CANDIDATE [options]\n"
            "  BASE, CANDIDATE: results directories or results.jsonl files from `tierbench run`,\n"
            "                   or two Google Benchmark JSON files (tierbench-kernels)\n"
            "  --format md|csv|json|junit  output format (default md)\n"
            "  --out FILE                  write the output to FILE (default stdout)\n"
            "  --alpha P                   significance level of the Mann-Whitney U test "
            "(default 0.01)\n"
            "  --threshold PCT             minimum relative change that counts (default 5)\n"
            "  --threshold METRIC=PCT      per-metric threshold (repeatable)\n"
            "  --min-samples N             fewer samples on a side = inconclusive (default 5)\n"
            "verdicts: regression, improvement, no-change, inconclusive; a placement or\n"
            "coverage change (e.g. an op that moved to the CPU) is a regression of its own.\n"
            "exit status: 0 no regression, 1 regression, 2 usage/input error\n");
}

static int parse_double(const char *s, double *out)
{
    char *end = NULL;
    *out = strtod(s, &end);
    return end != s && !*end;
}

int tb_cli_compare(int argc, char **argv)
{
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    enum tb_cmp_format fmt = TB_FMT_MD;
    const char *out_path = NULL, *paths[2];
    int np = 0;
    struct tb_err err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return TB_EXIT_OK;
        }
        int has_val = !strcmp(a, "--format") || !strcmp(a, "--out") || !strcmp(a, "-o") ||
                      !strcmp(a, "--alpha") || !strcmp(a, "--threshold") ||
                      !strcmp(a, "--min-samples");
        if (has_val && i + 1 == argc) {
            fprintf(stderr, "compare: %s needs a value\n", a);
            return TB_EXIT_USAGE;
        }
        double d;
        if (!strcmp(a, "--format")) {
            if (tb_cmp_format_parse(argv[++i], &fmt)) {
                fprintf(stderr, "compare: --format '%s': expected md, csv, json or junit\n",
                        argv[i]);
                return TB_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            out_path = argv[++i];
        } else if (!strcmp(a, "--alpha")) {
            if (!parse_double(argv[++i], &o.alpha) || !(o.alpha > 0 && o.alpha < 1)) {
                fprintf(stderr, "compare: --alpha '%s': expected a number in (0, 1)\n", argv[i]);
                return TB_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--threshold")) {
            const char *v = argv[++i];
            if (strchr(v, '=')) {
                if (tb_cmp_opts_add_threshold(&o, v, &err)) {
                    fprintf(stderr, "compare: %s\n", err.msg);
                    return TB_EXIT_USAGE;
                }
            } else if (!parse_double(v, &d) || !(d >= 0)) {
                fprintf(stderr, "compare: --threshold '%s': expected PCT >= 0 or METRIC=PCT\n", v);
                return TB_EXIT_USAGE;
            } else {
                o.threshold_pct = d;
            }
        } else if (!strcmp(a, "--min-samples")) {
            if (!parse_double(argv[++i], &d) || !(d >= 2 && d <= 1e9)) {
                fprintf(stderr, "compare: --min-samples '%s': expected an integer >= 2\n",
                        argv[i]);
                return TB_EXIT_USAGE;
            }
            o.min_samples = (size_t)d;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "compare: unknown option '%s'\n", a);
            usage(stderr);
            return TB_EXIT_USAGE;
        } else if (np < 2) {
            paths[np++] = a;
        } else {
            fprintf(stderr, "compare: expected exactly two inputs, BASE and CANDIDATE\n");
            return TB_EXIT_USAGE;
        }
    }
    if (np != 2) {
        usage(stderr);
        return TB_EXIT_USAGE;
    }
    struct tb_rsrc src[2];
    struct tb_series_set set[2] = {{0}};
    int rc = TB_OK, loaded = 0;
    for (; loaded < 2 && !rc; loaded++) {
        rc = tb_rsrc_load(paths[loaded], 0, &src[loaded], &err);
        if (rc)
            break;
        if (src[loaded].dropped)
            fprintf(stderr, "compare: %s: dropped a torn last record (killed run?)\n",
                    src[loaded].data_path);
        rc = tb_series_extract(&src[loaded], &set[loaded], &err);
    }
    if (!rc && src[0].is_gbench != src[1].is_gbench)
        rc = tb_err_set(&err, TB_EINVAL,
                        "cannot compare a Google Benchmark file with tierbench results (%s vs %s)",
                        paths[0], paths[1]);
    for (int s = 0; s < 2 && !rc; s++)
        if (!set[s].n)
            rc = tb_err_set(&err, TB_EFORMAT, "%s: no measurements to compare", paths[s]);
    int code = TB_EXIT_USAGE;
    struct tb_cmp_result res = {0};
    if (!rc)
        rc = tb_compare_sets(&set[0], &set[1], &o, &res, &err);
    if (!rc) {
        FILE *f = out_path ? fopen(out_path, "w") : stdout;
        if (!f) {
            fprintf(stderr, "compare: cannot write %s\n", out_path);
        } else {
            rc = tb_cmp_write(&res, fmt, f, &err);
            if (out_path && fclose(f) && !rc)
                rc = tb_err_set(&err, TB_EIO, "%s: write failed", out_path);
            if (!rc) {
                size_t reg = tb_cmp_count(&res, TB_V_REGRESSION);
                fprintf(stderr, "compare: %zu metrics, %zu regression(s), %zu inconclusive\n",
                        res.n, reg, tb_cmp_count(&res, TB_V_INCONCLUSIVE));
                code = reg ? TB_EXIT_FAIL : TB_EXIT_OK;
            }
        }
    }
    if (rc)
        fprintf(stderr, "compare: %s\n", err.msg);
    tb_cmp_result_free(&res);
    for (int s = 0; s < loaded && s < 2; s++)
        tb_rsrc_free(&src[s]);
    tb_series_set_free(&set[0]);
    tb_series_set_free(&set[1]);
    return code;
}

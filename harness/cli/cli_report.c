/* tierbench report RESULTS... -o DIR: Markdown + self-contained HTML report
 * with gnuplot charts, the CSVs behind them and the qualification tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "reports/tb_report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tierbench report RESULTS... -o DIR [--no-ascii]\n"
               "  RESULTS: results directories / results.jsonl files from `tierbench run`, and\n"
               "           optionally a tierbench-kernels JSON (roofline ceilings)\n"
               "  -o DIR: output directory (index.md, index.html, *.csv, *.svg)\n"
               "  --no-ascii: do not print the ASCII (gnuplot dumb) charts\n"
               "Charts need the gnuplot program; without it the report says so and the\n"
               "tables and CSVs are still written.\n");
}

int tb_cli_report(int argc, char **argv)
{
    const char *out = NULL;
    int ascii = 1;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    int np = 0;
    if (!paths) {
        fprintf(stderr, "report: out of memory\n");
        return TB_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(paths);
            return TB_EXIT_OK;
        } else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) {
            if (++i == argc) {
                fprintf(stderr, "report: -o needs a directory\n");
                free(paths);
                return TB_EXIT_USAGE;
            }
            out = argv[i];
        } else if (!strcmp(argv[i], "--no-ascii")) {
            ascii = 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "report: unknown option '%s'\n", argv[i]);
            free(paths);
            return TB_EXIT_USAGE;
        } else {
            paths[np++] = argv[i];
        }
    }
    if (!out || !np) {
        usage(stderr);
        free(paths);
        return TB_EXIT_USAGE;
    }
    struct tb_rsrc *srcs = calloc((size_t)np, sizeof *srcs);
    struct tb_err err = {0};
    int rc = srcs ? TB_OK : tb_err_set(&err, TB_ENOMEM, "out of memory");
    int loaded = 0;
    for (; !rc && loaded < np; loaded++) {
        rc = tb_rsrc_load(paths[loaded], 0, &srcs[loaded], &err);
        if (rc)
            break;
        if (srcs[loaded].dropped)
            fprintf(stderr, "report: %s: dropped a torn last record (killed run?)\n",
                    srcs[loaded].data_path);
    }
    if (!rc)
        rc = tb_rsrc_check_distinct(srcs, (size_t)np, &err);
    if (!rc) {
        struct tb_report_opts o = {.ascii = ascii, .log = stdout};
        rc = tb_report_write(srcs, (size_t)np, out, &o, &err);
    }
    if (rc)
        fprintf(stderr, "report: %s\n", err.msg);
    else
        printf("report: %s/index.html and %s/index.md\n", out, out);
    for (int i = 0; i < loaded && srcs; i++)
        tb_rsrc_free(&srcs[i]);
    free(srcs);
    free(paths);
    return rc ? TB_EXIT_USAGE : TB_EXIT_OK;
}

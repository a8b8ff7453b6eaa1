/* tierbench report RESULTS... -o DIR: Markdown + self-contained HTML report
 * with gnuplot charts, the CSVs behind them and the qualification tables. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "reports/tb_report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tierbench report RESULTS... -o DIR [--ascii]\n"
               "  RESULTS: results directories / results.jsonl files from `tierbench run`, the\n"
               "           --out root given to `run` (its newest run-* directory is taken and\n"
               "           named on a \"taken:\" line), and optionally a tierbench-kernels JSON\n"
               "           (roofline ceilings)\n"
               "  -o, --out DIR  output directory (index.md, index.html, *.csv, *.svg)\n"
               "  --ascii        also print each chart as ASCII (gnuplot dumb terminal) here\n"
               "  --no-ascii     do not (the default)\n"
               "  -h, --help     this help\n"
               "Charts need the gnuplot program; without it the report says so and the\n"
               "tables and CSVs are still written. Exit: 0 written, 2 usage or input error.\n");
}

int tb_cli_report(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"ascii", no_argument, NULL, 'a'},
                                         {"no-ascii", no_argument, NULL, 'A'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    int ascii = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return TB_EXIT_OK;
        case 'o': out = optarg; break;
        case 'a': ascii = 1; break;
        case 'A': ascii = 0; break;
        default: return tb_cli_opt_error("report", c, argv);
        }
    }
    char **paths = argv + optind;
    const int np = argc - optind;
    if (!np || !out) {
        fprintf(stderr, "tierbench report: %s (see --help)\n",
                !np ? "no RESULTS given" : "-o DIR is required");
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
        tb_rsrc_say_taken(&srcs[loaded], stdout);
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
    return rc ? TB_EXIT_USAGE : TB_EXIT_OK;
}

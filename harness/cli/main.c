/* tierbench: benchmark and device-tier measurement harness for on-device AI
 * inference. This file only dispatches to subcommands (cli_*.c beside it). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "harness/cli/tb_cli.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct command k_commands[] = {
    {"run", tb_cli_run, "run [--profile P] [--workload W] [--model M] ...: the measurement suite"},
    {"coverage", tb_cli_coverage,
     "coverage [--profile P,...] [--fail-on WHAT]: tier coverage matrix"},
    {"model", tb_cli_model, "model info FILE | model synth --shape S --type T --seed N -o FILE"},
    {"bench", tb_cli_bench,
     "bench --model SPEC [-p 128] [-n 64] [-r 5] [-t CORES]: llama-bench pp/tg tok/s vs STREAM"},
    {"infer", tb_cli_infer, "infer --model FILE --tokens 1,2,3 [--n-predict N] [--backend B] ..."},
    {"profiles", tb_cli_profiles, "profiles list | show NAME | validate FILE... [--dir DIR]"},
    {"report", tb_cli_report,
     "report RESULTS... -o DIR: Markdown + HTML report, gnuplot charts, qualification"},
    {"compare", tb_cli_compare,
     "compare BASE CANDIDATE [--format md|csv|json|junit]: gate (1 fail, 5 undecided)"},
    {"store", tb_cli_store,
     "store add RESULTS... [--release R] [--db STORE]: ingest (SQLite or PostgreSQL)"},
    {"history", tb_cli_history,
     "history [--metric M] [--profile P] [--db STORE]: medians across releases"},
    {"dashboard", tb_cli_dashboard,
     "dashboard -o DIR [--db STORE]: release trends and latest-vs-previous"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tierbench COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-10s %s\n", k_commands[i].name, k_commands[i].help);
    fprintf(f, "\n'tierbench COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    int c;
    /* '+': options before the command only; the command parses its own */
    while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return TB_EXIT_OK;
        case 'V': printf("tierbench %s (%s)\n", TB_VERSION, TB_GIT_COMMIT); return TB_EXIT_OK;
        default: return tb_cli_opt_error("", c, argv);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "tierbench: missing command (see tierbench --help)\n");
        return TB_EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return TB_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (!strcmp(cmd, k_commands[i].name))
            return k_commands[i].fn(argc - optind, argv + optind);
    fprintf(stderr, "tierbench: unknown command '%s' (see tierbench --help)\n", cmd);
    return TB_EXIT_USAGE;
}

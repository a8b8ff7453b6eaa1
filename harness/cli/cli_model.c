/* tierbench model info FILE | model synth --shape S --type T --seed N -o FILE */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "kernels/tb_util.h"
#include "kernels/tb_wtypes.h"
#include "workloads/tb_gguf.h"
#include "workloads/tb_llama.h"

static void synth_usage(FILE *f)
{
    char types[TB_WTYPE_NAMES_MAX];
    fprintf(f, "usage: tierbench model synth --shape NAME --type %s [--seed S] -o FILE\n",
            tb_wtype_names(types, sizeof types, "|"));
    fprintf(f, "  writes a deterministic synthetic llama GGUF (byte-identical for equal\n"
               "  arguments; --seed defaults to 1)\n  shapes:");
    for (const struct tb_synth_shape *s = tb_synth_shapes(); s->name; s++)
        fprintf(f, " %s", s->name);
    fputc('\n', f);
}

static void info_usage(FILE *f)
{
    fprintf(f, "usage: tierbench model info FILE\n"
               "  prints a GGUF file's header, metadata and tensor table\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tierbench model info FILE\n"
               "       tierbench model synth --shape NAME --type TYPE [--seed S] -o FILE\n"
               "'tierbench model info --help' and 'tierbench model synth --help' show each.\n");
}

static const struct option k_help_only[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

static int model_info(int argc, char **argv)
{
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", k_help_only, NULL)) != -1) {
        if (c == 'h') {
            info_usage(stdout);
            return TB_EXIT_OK;
        }
        return tb_cli_opt_error("model info", c, argv);
    }
    if (argc - optind != 1) {
        fprintf(stderr, "tierbench model info: %s (usage: tierbench model info FILE)\n",
                optind == argc ? "no FILE given" : "one FILE only");
        return TB_EXIT_USAGE;
    }
    struct tb_err err = {0};
    struct tb_gguf *g = NULL;
    if (tb_gguf_open(argv[optind], &g, &err)) {
        fprintf(stderr, "tierbench model info: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    tb_gguf_print_info(g, stdout);
    tb_gguf_close(g);
    return TB_EXIT_OK;
}

static int model_synth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shape", required_argument, NULL, 'S'}, {"type", required_argument, NULL, 'T'},
        {"seed", required_argument, NULL, 's'},  {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    const char *shape = NULL, *type = NULL, *out = NULL;
    uint64_t seed = 1;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': synth_usage(stdout); return TB_EXIT_OK;
        case 'S': shape = optarg; break;
        case 'T': type = optarg; break;
        case 'o': out = optarg; break;
        case 's':
            if (tb_parse_u64(optarg, &seed)) {
                fprintf(stderr, "tierbench model synth: --seed '%s' must be an unsigned integer\n",
                        optarg);
                return TB_EXIT_USAGE;
            }
            break;
        default: return tb_cli_opt_error("model synth", c, argv);
        }
    }
    if (tb_cli_no_args("model synth", argc, argv))
        return TB_EXIT_USAGE;
    if (!shape || !type || !out) {
        fprintf(stderr, "tierbench model synth: %s is required (see --help)\n",
                !shape  ? "--shape"
                : !type ? "--type"
                        : "-o FILE");
        return TB_EXIT_USAGE;
    }
    if (!tb_synth_find(shape)) {
        char shapes[512] = "";
        size_t k = 0;
        for (const struct tb_synth_shape *s = tb_synth_shapes(); s->name && k < sizeof shapes; s++)
            k += (size_t)snprintf(shapes + k, sizeof shapes - k, "%s%s", k ? ", " : "", s->name);
        fprintf(stderr, "tierbench model synth: unknown --shape '%s' (%s)\n", shape, shapes);
        return TB_EXIT_USAGE;
    }
    int t = tb_type_from_name(type);
    if (!tb_wtype_ok(t)) {
        char types[TB_WTYPE_NAMES_MAX];
        fprintf(stderr, "tierbench model synth: unknown --type '%s' (%s)\n", type,
                tb_wtype_names(types, sizeof types, ", "));
        return TB_EXIT_USAGE;
    }
    struct tb_err err = {0};
    if (tb_synth_write(shape, t, seed, out, &err)) {
        fprintf(stderr, "tierbench model synth: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    printf("wrote %s (shape %s, type %s, seed %" PRIu64 ")\n", out, shape, type, seed);
    return TB_EXIT_OK;
}

int tb_cli_model(int argc, char **argv)
{
    optind = 0;
    opterr = 0;
    int c;
    /* '+': options before the subcommand only (each subcommand has its own) */
    while ((c = getopt_long(argc, argv, "+:h", k_help_only, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return TB_EXIT_OK;
        }
        return tb_cli_opt_error("model", c, argv);
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    if (sub && !strcmp(sub, "info"))
        return model_info(argc - optind, argv + optind);
    if (sub && !strcmp(sub, "synth"))
        return model_synth(argc - optind, argv + optind);
    if (sub)
        fprintf(stderr, "tierbench model: unknown subcommand '%s' (info, synth)\n", sub);
    else
        fprintf(stderr, "tierbench model: missing subcommand (info, synth; see --help)\n");
    return TB_EXIT_USAGE;
}

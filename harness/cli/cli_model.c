/* tierbench model info FILE | model synth --shape S --type T --seed N -o FILE */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "kernels/tb_util.h"
#include "workloads/tb_gguf.h"
#include "workloads/tb_llama.h"

static int model_info(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tierbench model info FILE\n");
        return TB_EXIT_USAGE;
    }
    struct tb_err err = {0};
    struct tb_gguf *g = NULL;
    if (tb_gguf_open(argv[1], &g, &err)) {
        fprintf(stderr, "tierbench: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    tb_gguf_print_info(g, stdout);
    tb_gguf_close(g);
    return TB_EXIT_OK;
}

static void synth_usage(FILE *f)
{
    char types[TB_WTYPE_NAMES_MAX];
    fprintf(f, "usage: tierbench model synth --shape NAME --type %s [--seed S] -o FILE\nshapes:",
            tb_wtype_names(types, sizeof types, "|"));
    for (const struct tb_synth_shape *s = tb_synth_shapes(); s->name; s++)
        fprintf(f, " %s", s->name);
    fputc('\n', f);
}

static int model_synth(int argc, char **argv)
{
    const char *shape = NULL, *type = NULL, *out = NULL;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            synth_usage(stdout);
            return TB_EXIT_OK;
        }
        if (!v) {
            fprintf(stderr, "tierbench model synth: %s needs a value\n", a);
            return TB_EXIT_USAGE;
        }
        if (!strcmp(a, "--shape"))
            shape = v;
        else if (!strcmp(a, "--type"))
            type = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            out = v;
        else if (!strcmp(a, "--seed")) {
            if (tb_parse_u64(v, &seed)) {
                fprintf(stderr, "tierbench model synth: bad --seed '%s'\n", v);
                return TB_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "tierbench model synth: unknown option '%s'\n", a);
            return TB_EXIT_USAGE;
        }
        i++;
    }
    if (!shape || !type || !out) {
        synth_usage(stderr);
        return TB_EXIT_USAGE;
    }
    int t = tb_type_from_name(type);
    if (t < 0) {
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
    if (argc >= 2 && !strcmp(argv[1], "info"))
        return model_info(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "synth"))
        return model_synth(argc - 1, argv + 1);
    fprintf(stderr, "usage: tierbench model info FILE | tierbench model synth ...\n");
    return TB_EXIT_USAGE;
}

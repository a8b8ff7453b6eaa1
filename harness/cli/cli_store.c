/* tierbench store add | history | dashboard: the SQLite results store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "reports/tb_report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tierbench store add RESULTS... [--release R] [--db FILE]\n"
               "       tierbench history [--metric M] [--profile P] [--db FILE]\n"
               "       tierbench dashboard -o DIR [--db FILE]\n"
               "  --db: SQLite file (default $TB_DB, else ./tierbench.db; created on first use)\n"
               "  --release: release label (default: the run's git commit)\n");
}

/* Options shared by the three commands; positional arguments collected. */
struct store_args {
    const char *db, *release, *metric, *profile, *out;
    const char **pos;
    int npos;
};

static int parse(const char *cmd, int argc, char **argv, struct store_args *a)
{
    memset(a, 0, sizeof *a);
    a->db = getenv("TB_DB");
    if (!a->db || !*a->db)
        a->db = "tierbench.db";
    a->pos = calloc((size_t)argc, sizeof *a->pos);
    if (!a->pos) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return TB_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--db")                              ? &a->db
                           : !strcmp(argv[i], "--release")                       ? &a->release
                           : !strcmp(argv[i], "--metric")                        ? &a->metric
                           : !strcmp(argv[i], "--profile")                       ? &a->profile
                           : !strcmp(argv[i], "-o") || !strcmp(argv[i], "--out") ? &a->out
                                                                                 : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return -1;
        } else if (dst) {
            if (++i == argc) {
                fprintf(stderr, "%s: %s needs a value\n", cmd, argv[i - 1]);
                return TB_EXIT_USAGE;
            }
            *dst = argv[i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "%s: unknown option '%s'\n", cmd, argv[i]);
            usage(stderr);
            return TB_EXIT_USAGE;
        } else {
            a->pos[a->npos++] = argv[i];
        }
    }
    /* what each command needs besides options */
    const int fits = !strcmp(cmd, "store") ? a->npos >= 2 && !strcmp(a->pos[0], "add")
                                           : !a->npos && (strcmp(cmd, "dashboard") || a->out);
    if (!fits) {
        usage(stderr);
        return TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}

static int finish(struct store_args *a, int code)
{
    free(a->pos);
    return code < 0 ? TB_EXIT_OK : code;
}

int tb_cli_store(int argc, char **argv)
{
    struct store_args a;
    int code = parse("store", argc, argv, &a);
    if (code)
        return finish(&a, code);
    struct tb_err err = {0};
    struct tb_store *st = NULL;
    if (tb_store_open(a.db, &st, &err)) {
        fprintf(stderr, "store: %s\n", err.msg);
        return finish(&a, TB_EXIT_USAGE);
    }
    for (int i = 1; i < a.npos; i++) {
        size_t added = 0;
        if (tb_store_add(st, a.pos[i], a.release, &added, &err)) {
            /* each file is its own transaction: earlier ones stay stored */
            fprintf(stderr, "store: %s (nothing from it stored)\n", err.msg);
            code = TB_EXIT_USAGE;
            continue;
        }
        printf("store: %s: %zu new series%s (%s)\n", a.pos[i], added,
               added ? "" : ", already stored", a.db);
    }
    tb_store_close(st);
    return finish(&a, code);
}

int tb_cli_history(int argc, char **argv)
{
    struct store_args a;
    int code = parse("history", argc, argv, &a);
    if (code)
        return finish(&a, code);
    struct tb_err err = {0};
    struct tb_store *st = NULL;
    if (tb_store_open(a.db, &st, &err) || tb_store_history(st, a.metric, a.profile, stdout, &err)) {
        fprintf(stderr, "history: %s\n", err.msg);
        code = TB_EXIT_USAGE;
    }
    tb_store_close(st);
    return finish(&a, code);
}

int tb_cli_dashboard(int argc, char **argv)
{
    struct store_args a;
    int code = parse("dashboard", argc, argv, &a);
    if (code)
        return finish(&a, code);
    struct tb_err err = {0};
    struct tb_store *st = NULL;
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    if (tb_store_open(a.db, &st, &err) || tb_store_dashboard(st, a.out, &o, stderr, &err)) {
        fprintf(stderr, "dashboard: %s\n", err.msg);
        code = TB_EXIT_USAGE;
    } else {
        printf("dashboard: %s/index.html and %s/index.md\n", a.out, a.out);
    }
    tb_store_close(st);
    return finish(&a, code);
}

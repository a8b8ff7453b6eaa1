/* tierbench store add | history | dashboard: the results store (SQLite file
 * or PostgreSQL database, docs/store.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "reports/tb_report.h"

static const char k_db_help[] =
    "  --db STORE      an SQLite file (default $TB_DB, else ./tierbench.db; created on\n"
    "                  first use), or PostgreSQL: postgresql://[user@]host[:port]/dbname\n"
    "                  (also postgres://... or a libpq conninfo such as\n"
    "                  'host=/run/postgresql dbname=tb'); the schema is created or\n"
    "                  migrated on first use in either\n"
    "  -h, --help      this help\n";

static void usage_store(FILE *f)
{
    fprintf(f, "usage: tierbench store add RESULTS... [--release R [--release-date ISO8601]]\n"
               "                          [--db STORE]\n"
               "  Ingests results directories, results.jsonl or Google Benchmark JSON files,\n"
               "  or the --out root given to `run` (its newest run-* directory, named on a\n"
               "  \"taken:\" line), each file in one transaction; a run added again under the\n"
               "  same release adds nothing, under another release is an error (exit 2).\n"
               "  --release R     release label (default: the run's source git commit)\n"
               "  --release-date D  the release's commit date (YYYY-MM-DD or\n"
               "                  YYYY-MM-DDTHH:MM:SS[Z|+HH:MM]); the dashboard orders\n"
               "                  releases by it\n");
    fputs(k_db_help, f);
}

static void usage_history(FILE *f)
{
    fprintf(f, "usage: tierbench history [--metric M] [--profile P] [--db STORE]\n"
               "  Medians of every stored run, per configuration, by release date.\n"
               "  --metric M      only this metric (ttft_ms, itl_ms, decode_tps, ...)\n"
               "  --profile P     only this profile\n");
    fputs(k_db_help, f);
}

static void usage_dashboard(FILE *f)
{
    fprintf(f, "usage: tierbench dashboard -o DIR [--release-order R1,R2,...] [--db STORE]\n"
               "  Writes DIR/index.html and DIR/index.md: a trend chart per configuration and\n"
               "  metric (one series per machine, 95 %% CI error bars), then the latest\n"
               "  release against the previous one.\n"
               "  -o, --out DIR   output directory (created)\n"
               "  --release-order R1,R2,...  the releases' order, every stored release once\n"
               "                  (default: by commit date when every release has one, else by\n"
               "                  each release's earliest run date)\n");
    fputs(k_db_help, f);
}

struct store_args {
    const char *db, *release, *release_date, *metric, *profile, *out, *order;
};

enum { OPT_DB = 1000, OPT_RELEASE, OPT_RELEASE_DATE, OPT_METRIC, OPT_PROFILE, OPT_ORDER };

/* getopt_long over argv (argv[0] = the (sub)command); positional arguments
 * from *first_pos on, in argv order (glibc permutes them to the end).
 * Returns -1 for --help (printed), else TB_EXIT_OK / TB_EXIT_USAGE. */
static int parse(const char *cmd, int argc, char **argv, const struct option *opts,
                 void (*usage)(FILE *), struct store_args *a, int *first_pos)
{
    memset(a, 0, sizeof *a);
    a->db = getenv("TB_DB");
    if (!a->db || !*a->db)
        a->db = "tierbench.db";
    optind = 0; /* glibc: full re-initialisation (called in-process again) */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return -1;
        case 'o': a->out = optarg; break;
        case OPT_DB: a->db = optarg; break;
        case OPT_RELEASE: a->release = optarg; break;
        case OPT_RELEASE_DATE: a->release_date = optarg; break;
        case OPT_METRIC: a->metric = optarg; break;
        case OPT_PROFILE: a->profile = optarg; break;
        case OPT_ORDER: a->order = optarg; break;
        default: return tb_cli_opt_error(cmd, c, argv);
        }
    }
    /* "-o" is an option only for commands whose table has "out" */
    int has_out = 0;
    for (const struct option *o = opts; o->name; o++)
        has_out |= o->val == 'o';
    if (a->out && !has_out) {
        fprintf(stderr, "tierbench %s: unknown option '-o'\n", cmd);
        return TB_EXIT_USAGE;
    }
    *first_pos = optind;
    return TB_EXIT_OK;
}

static int open_store(const char *cmd, const char *db, struct tb_store **st)
{
    struct tb_err err = {0};
    if (tb_store_open(db, st, &err)) {
        fprintf(stderr, "tierbench %s: %s\n", cmd, err.msg);
        return TB_EXIT_USAGE;
    }
    return TB_EXIT_OK;
}

static int store_add(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"release", required_argument, NULL, OPT_RELEASE},
        {"release-date", required_argument, NULL, OPT_RELEASE_DATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct store_args a;
    int pos = 0;
    int code = parse("store add", argc, argv, opts, usage_store, &a, &pos);
    if (code)
        return code < 0 ? TB_EXIT_OK : code;
    if (pos >= argc) {
        fprintf(stderr, "tierbench store add: no RESULTS given\n");
        return TB_EXIT_USAGE;
    }
    struct tb_err err = {0};
    char date[32];
    if (a.release_date && !a.release) {
        fprintf(stderr, "tierbench store add: --release-date needs --release R (the release "
                        "it dates)\n");
        return TB_EXIT_USAGE;
    }
    if (a.release_date && tb_store_parse_date(a.release_date, date, sizeof date, &err)) {
        fprintf(stderr, "tierbench store add: %s\n", err.msg);
        return TB_EXIT_USAGE;
    }
    struct tb_store *st = NULL;
    if ((code = open_store("store add", a.db, &st)))
        return code;
    if (a.release_date && tb_store_set_release_date(st, a.release, a.release_date, &err)) {
        fprintf(stderr, "tierbench store add: %s\n", err.msg);
        tb_store_close(st);
        return TB_EXIT_USAGE;
    }
    for (int i = pos; i < argc; i++) {
        size_t added = 0;
        /* a `run --out` root: its newest run, said on a "taken:" line */
        struct tb_rsrc r;
        if (tb_rsrc_resolve(argv[i], &r, &err)) {
            fprintf(stderr, "tierbench store add: %s (nothing from it stored)\n", err.msg);
            code = TB_EXIT_USAGE;
            continue;
        }
        tb_rsrc_say_taken(&r, stdout);
        const int rc = tb_store_add(st, r.path, a.release, &added, &err);
        tb_rsrc_free(&r);
        if (rc) {
            /* each file is its own transaction: earlier ones stay stored */
            fprintf(stderr, "tierbench store add: %s (nothing from it stored)\n", err.msg);
            code = TB_EXIT_USAGE;
            continue;
        }
        printf("store: %s: %zu new series%s (%s)\n", argv[i], added,
               added ? "" : ", already stored", tb_store_name(st));
    }
    tb_store_close(st);
    return code;
}

int tb_cli_store(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    int c;
    /* '+': options before the subcommand only (store add parses its own) */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (c != 'h')
            return tb_cli_opt_error("store", c, argv);
        usage_store(stdout);
        return TB_EXIT_OK;
    }
    if (optind >= argc) {
        fprintf(stderr, "tierbench store: missing subcommand (add; see --help)\n");
        return TB_EXIT_USAGE;
    }
    if (strcmp(argv[optind], "add")) {
        fprintf(stderr, "tierbench store: unknown subcommand '%s' (add)\n", argv[optind]);
        return TB_EXIT_USAGE;
    }
    return store_add(argc - optind, argv + optind);
}

int tb_cli_history(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, OPT_DB},
                                         {"metric", required_argument, NULL, OPT_METRIC},
                                         {"profile", required_argument, NULL, OPT_PROFILE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct store_args a;
    int pos = 0;
    int code = parse("history", argc, argv, opts, usage_history, &a, &pos);
    if (code)
        return code < 0 ? TB_EXIT_OK : code;
    if (pos < argc) {
        fprintf(stderr, "tierbench history: unexpected argument '%s'\n", argv[pos]);
        return TB_EXIT_USAGE;
    }
    struct tb_store *st = NULL;
    if ((code = open_store("history", a.db, &st)))
        return code;
    struct tb_err err = {0};
    if (tb_store_history(st, a.metric, a.profile, stdout, &err)) {
        fprintf(stderr, "tierbench history: %s\n", err.msg);
        code = TB_EXIT_USAGE;
    }
    tb_store_close(st);
    return code;
}

int tb_cli_dashboard(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, OPT_DB},
                                         {"out", required_argument, NULL, 'o'},
                                         {"release-order", required_argument, NULL, OPT_ORDER},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct store_args a;
    int pos = 0;
    int code = parse("dashboard", argc, argv, opts, usage_dashboard, &a, &pos);
    if (code)
        return code < 0 ? TB_EXIT_OK : code;
    if (pos < argc) {
        fprintf(stderr, "tierbench dashboard: unexpected argument '%s'\n", argv[pos]);
        return TB_EXIT_USAGE;
    }
    if (!a.out) {
        fprintf(stderr, "tierbench dashboard: -o DIR is required\n");
        return TB_EXIT_USAGE;
    }
    struct tb_store *st = NULL;
    if ((code = open_store("dashboard", a.db, &st)))
        return code;
    struct tb_err err = {0};
    struct tb_cmp_opts o;
    tb_cmp_opts_default(&o);
    if (tb_store_dashboard(st, a.out, &o, a.order, stderr, &err)) {
        fprintf(stderr, "tierbench dashboard: %s\n", err.msg);
        code = TB_EXIT_USAGE;
    } else {
        printf("dashboard: %s/index.html and %s/index.md\n", a.out, a.out);
    }
    tb_store_close(st);
    return code;
}

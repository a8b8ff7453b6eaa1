/* tierbench profiles list | show NAME | validate FILE... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "harness/tb_profile.h"
#include "kernels/tb_backend.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tierbench profiles list [--dir DIR]\n"
            "       tierbench profiles show NAME [--dir DIR]\n"
            "       tierbench profiles validate FILE...\n"
            "DIR defaults to $TB_PROFILES_DIR, else %s/device_profiles\n"
            "Exit: 0 ok; 1 when `list` or `validate` found an invalid profile (each is\n"
            "printed with FILE:LINE and the reason); 2 usage errors, an unknown NAME, an\n"
            "unreadable DIR or a FILE that cannot be read.\n",
            TB_SOURCE_DIR);
}

static void print_row(const struct tb_profile *p)
{
    char threads[16], budget[32];
    if (p->threads)
        snprintf(threads, sizeof threads, "%d", p->threads);
    else
        snprintf(threads, sizeof threads, "all");
    tb_format_bytes(p->memory_budget, budget, sizeof budget);
    printf("%-20s %-13s %-7s %-7s %-10s ", p->name, p->tier, threads,
           p->isa_cap == TB_ISA_COUNT ? "best" : tb_isa_name(p->isa_cap), budget);
    for (int i = 0; i < p->n_backends; i++)
        printf("%s%s", i ? "," : "", p->backends[i]);
    putchar('\n');
}

int tb_cli_profiles(int argc, char **argv)
{
    const char *dir = getenv("TB_PROFILES_DIR");
    if (!dir || !*dir)
        dir = TB_SOURCE_DIR "/device_profiles";
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    int c;
    /* options anywhere (glibc permutes the operands to the end) */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return TB_EXIT_OK;
        }
        if (c != 'd')
            return tb_cli_opt_error("profiles", c, argv);
        dir = optarg;
    }
    if (optind >= argc) {
        fprintf(stderr, "tierbench profiles: missing subcommand (list, show, validate; see "
                        "--help)\n");
        return TB_EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    char **args = argv + optind + 1;
    const int n_args = argc - optind - 1;
    struct tb_err err = {0};
    if (!strcmp(cmd, "list") && n_args == 0) {
        char **paths;
        int n;
        if (tb_profile_dir_list(dir, &paths, &n, &err)) {
            fprintf(stderr, "profiles: %s\n", err.msg);
            return TB_EXIT_USAGE;
        }
        int bad = 0;
        printf("%-20s %-13s %-7s %-7s %-10s %s\n", "NAME", "TIER", "THREADS", "ISA", "MEMORY",
               "BACKENDS");
        for (int i = 0; i < n; i++) {
            struct tb_profile *p;
            if (tb_profile_load(paths[i], &p, &err)) {
                printf("invalid: %s\n", err.msg);
                bad++;
                continue;
            }
            print_row(p);
            tb_profile_free(p);
        }
        tb_profile_dir_list_free(paths, n);
        return bad ? TB_EXIT_FAIL : TB_EXIT_OK;
    }
    if (!strcmp(cmd, "show") && n_args == 1) {
        struct tb_profile *p;
        if (tb_profile_find(dir, args[0], &p, &err)) {
            fprintf(stderr, "profiles: %s\n", err.msg);
            return TB_EXIT_USAGE;
        }
        printf("file:           %s\n", p->path);
        tb_profile_print(p, stdout);
        tb_profile_free(p);
        return TB_EXIT_OK;
    }
    if (!strcmp(cmd, "validate") && n_args >= 1) {
        int bad = 0, unreadable = 0;
        for (int i = 0; i < n_args; i++) {
            struct tb_profile *p;
            const int rc = tb_profile_load(args[i], &p, &err);
            if (rc == TB_EIO) { /* no file to judge: an input error */
                fprintf(stderr, "tierbench profiles validate: %s\n", err.msg);
                unreadable++;
            } else if (rc) {
                printf("%s\n", err.msg);
                bad++;
            } else {
                printf("%s: ok (%s, %d workload%s, %d SLO%s)\n", args[i], p->name, p->n_workloads,
                       p->n_workloads == 1 ? "" : "s", p->n_slos, p->n_slos == 1 ? "" : "s");
                tb_profile_free(p);
            }
        }
        return unreadable ? TB_EXIT_USAGE : bad ? TB_EXIT_FAIL : TB_EXIT_OK;
    }
    if (strcmp(cmd, "list") && strcmp(cmd, "show") && strcmp(cmd, "validate"))
        fprintf(stderr, "tierbench profiles: unknown subcommand '%s' (list, show, validate)\n",
                cmd);
    else
        fprintf(stderr, "tierbench profiles %s: %s (see --help)\n", cmd,
                !strcmp(cmd, "list")   ? "takes no argument"
                : !strcmp(cmd, "show") ? "takes one NAME"
                                       : "needs a FILE");
    return TB_EXIT_USAGE;
}

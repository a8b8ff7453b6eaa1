/* What every subcommand's getopt_long loop shares: the one-line message for
 * an unknown option or a missing value. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "harness/cli/tb_cli.h"

int tb_cli_opt_error(const char *cmd, int c, char *const argv[])
{
    /* cmd "": the top level ("tierbench: ...") */
    /* argv[optind - 1] is the element getopt_long just consumed: a long
     * option, or a short one unless it sat inside a cluster ("-xq") */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    const int is_long = !strncmp(arg, "--", 2) && (optopt == 0 || strchr(arg, '='));
    char shrt[3] = {'-', (char)optopt, '\0'};
    const char *name = is_long || optopt <= 0 || optopt > 127 ? arg : shrt;
    const char *sp = *cmd ? " " : "";
    if (c == ':')
        fprintf(stderr, "tierbench%s%s: %s needs a value (see --help)\n", sp, cmd, name);
    else if (is_long && strchr(arg, '=') && optopt)
        fprintf(stderr, "tierbench%s%s: %s takes no value (see --help)\n", sp, cmd, arg);
    else
        fprintf(stderr, "tierbench%s%s: unknown option '%s' (see --help)\n", sp, cmd, name);
    return TB_EXIT_USAGE;
}

int tb_cli_no_args(const char *cmd, int argc, char *const argv[])
{
    if (optind >= argc)
        return TB_EXIT_OK;
    fprintf(stderr, "tierbench %s: unexpected argument '%s' (see --help)\n", cmd, argv[optind]);
    return TB_EXIT_USAGE;
}

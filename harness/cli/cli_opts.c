/* What every subcommand's getopt_long loop shares: the one-line message for
 * an unknown option or a missing value. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "harness/cli/tb_cli.h"

int tb_cli_opt_error(const char *cmd, int c, char *const argv[])
{
    /* cmd "": the top level ("tierbench: ...") */
    const char *sp = *cmd ? " " : "";
    /* argv[optind - 1] is the element getopt_long just consumed: for a
     * missing value always the option itself; for an unknown option the
     * long option (optopt 0), or the previous element when the unknown
     * short option sat inside a cluster ("-xq"), so that one is named by
     * optopt */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (c == ':') {
        fprintf(stderr, "tierbench%s%s: %s needs a value (see --help)\n", sp, cmd, arg);
    } else if (optopt && !strncmp(arg, "--", 2) && strchr(arg, '=')) {
        fprintf(stderr, "tierbench%s%s: %s: the option takes no value (see --help)\n", sp, cmd,
                arg);
    } else if (optopt > 0 && optopt < 127 && isgraph(optopt)) {
        fprintf(stderr, "tierbench%s%s: unknown option '-%c' (see --help)\n", sp, cmd, optopt);
    } else {
        fprintf(stderr, "tierbench%s%s: unknown or ambiguous option '%s' (see --help)\n", sp, cmd,
                arg);
    }
    return TB_EXIT_USAGE;
}

int tb_cli_no_args(const char *cmd, int argc, char *const argv[])
{
    if (optind >= argc)
        return TB_EXIT_OK;
    fprintf(stderr, "tierbench %s: unexpected argument '%s' (see --help)\n", cmd, argv[optind]);
    return TB_EXIT_USAGE;
}

/* Subcommands of the tierbench CLI. Each returns the process exit code:
 * 0 ok, 1 a check/SLO failed, 2 usage or input error. */
#ifndef TB_CLI_H
#define TB_CLI_H

enum { TB_EXIT_OK = 0, TB_EXIT_FAIL = 1, TB_EXIT_USAGE = 2 };

int tb_cli_model(int argc, char **argv);     /* model info FILE | model synth ... */
int tb_cli_infer(int argc, char **argv);     /* infer --model FILE --tokens ... */
int tb_cli_profiles(int argc, char **argv);  /* profiles list | show NAME | validate FILE... */
int tb_cli_run(int argc, char **argv);       /* run [--profile ...]: the measurement suite */
int tb_cli_report(int argc, char **argv);    /* report RESULTS... -o DIR: md/html/csv + charts */
int tb_cli_compare(int argc, char **argv);   /* compare BASE CANDIDATE: CI perf gate */
int tb_cli_store(int argc, char **argv);     /* store add RESULTS... [--db FILE] */
int tb_cli_history(int argc, char **argv);   /* history [--metric M] [--profile P] */
int tb_cli_dashboard(int argc, char **argv); /* dashboard -o DIR: release trends */
int tb_cli_coverage(int argc, char **argv);  /* coverage [--profile ...]: tier coverage matrix */
int tb_cli_bench(int argc, char **argv);     /* bench --model ...: llama-bench style pp/tg */

/* Option parsing is glibc getopt_long everywhere: each command sets
 * optind = 0 (full re-initialisation) and opterr = 0, and its optstring
 * starts with ':' (so a missing value returns ':'). tb_cli_opt_error turns
 * getopt_long's ':' or '?' into one line on stderr naming the option
 * ("tierbench CMD: unknown option '--x'", "... --model needs a value") and
 * returns TB_EXIT_USAGE. tb_cli_no_args: TB_EXIT_USAGE with one line when a
 * command that takes no positional argument got one (argv[optind]). */
int tb_cli_opt_error(const char *cmd, int c, char *const argv[]);
int tb_cli_no_args(const char *cmd, int argc, char *const argv[]);

#endif

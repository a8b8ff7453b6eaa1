/* A generic watchdog: runs a callback in a forked child, in its own process
 * group, under a timeout, and hands back the bytes the child wrote to a
 * pipe plus how it ended: exited(code), TIMEOUT (the group was killed with
 * SIGKILL) or CRASHED(signal). It knows nothing of what the callback does. */
#ifndef TB_WATCHDOG_H
#define TB_WATCHDOG_H

#include <stddef.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tb_watchdog_outcome {
    TB_WATCHDOG_EXITED,  /* the child exited: exit_code */
    TB_WATCHDOG_TIMEOUT, /* no exit within the timeout: its process group was killed */
    TB_WATCHDOG_CRASHED  /* killed by a signal (not the watchdog's): signal */
};

struct tb_watchdog_result {
    enum tb_watchdog_outcome outcome;
    int exit_code;    /* EXITED */
    int signal;       /* CRASHED */
    double elapsed_s; /* from before the fork to the reaping */
    long pid;         /* the child's (also its process group) */
    char *data;       /* every byte the child wrote to fd (malloc'd, may be NULL) */
    size_t n;
};

/* Runs in the child: writes its result to fd (e.g. tb_write_all) and returns
 * the child's exit code. The child leaves through _exit after flushing
 * stdio (no atexit handlers: they belong to the parent). */
typedef int (*tb_watchdog_fn)(void *ctx, int fd);

/* Forks, runs fn(ctx, fd) in the child and waits at most timeout_s seconds
 * (> 0) for its EOF and exit. The child dies with the parent. Returns 0 with
 * *out filled (free with tb_watchdog_result_free), or a negative code when
 * the child could not be started or its bytes not kept (the child is killed
 * and reaped then). */
int tb_watchdog_run(tb_watchdog_fn fn, void *ctx, double timeout_s, struct tb_watchdog_result *out,
                    struct tb_err *err);
void tb_watchdog_result_free(struct tb_watchdog_result *r);

/* "SIGSEGV", "SIGABRT", ...; "signal" for one without a name here. */
const char *tb_watchdog_signal_name(int sig);

#ifdef __cplusplus
}
#endif
#endif

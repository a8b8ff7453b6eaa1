/* The watchdog service (tb_watchdog.h): fork, pipe, deadline, reaping. */
#include "harness/tb_watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels/platform/tb_platform.h"

static double seconds_now(void)
{
    return (double)tb_now_ns() * 1e-9;
}

const char *tb_watchdog_signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGPIPE: return "SIGPIPE";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    default: return "signal";
    }
}

/* fork() for a child that reports through a pipe: *fd is the read end in
 * the parent; in the child (returns 0) *fd is the write end, the child has
 * its own process group and dies with the parent. */
static pid_t fork_reporting(int *fd, struct tb_err *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) {
        tb_err_set(err, TB_EIO, "watchdog: pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL); /* buffered output would be written twice */
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        tb_err_set(err, TB_EIO, "watchdog: fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        setpgid(0, 0);
        /* a parent that dies (Ctrl-C) takes the child along */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        *fd = fds[1];
        return 0;
    }
    close(fds[1]);
    setpgid(pid, pid); /* both sides: whichever runs first */
    *fd = fds[0];
    return pid;
}

/* Reads until EOF or the deadline; 1 when the deadline passed, -1 out of
 * memory, 0 at EOF. */
static int read_until_eof(int fd, double t0, double timeout, struct tb_watchdog_result *r,
                          size_t *cap)
{
    for (;;) {
        const double left = timeout - (seconds_now() - t0);
        if (left <= 0)
            return 1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        const int k = poll(&pfd, 1, left * 1e3 > INT_MAX - 1 ? INT_MAX - 1 : (int)(left * 1e3) + 1);
        if (k <= 0)
            continue; /* EINTR or no data yet: the deadline is checked above */
        if (r->n == *cap) {
            const size_t c = *cap ? 2 * *cap : 65536;
            char *p = realloc(r->data, c);
            if (!p)
                return -1;
            r->data = p;
            *cap = c;
        }
        const ssize_t got = read(fd, r->data + r->n, *cap - r->n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        r->n += (size_t)got;
    }
}

/* Collects the child's bytes and reaps it, both within timeout seconds
 * from t0; on expiry (or out of memory) kills its process group. */
static int collect_child(int fd, pid_t pid, double t0, double timeout, struct tb_watchdog_result *r,
                         int *timed_out, int *status)
{
    size_t cap = 0;
    const int got = read_until_eof(fd, t0, timeout, r, &cap);
    const int oom = got < 0;
    *timed_out = got > 0;
    /* EOF came first: the child is exiting; still bounded by the deadline */
    pid_t w = 0;
    while (!*timed_out && !oom && (w = waitpid(pid, status, WNOHANG)) == 0) {
        if (seconds_now() - t0 >= timeout) {
            *timed_out = 1;
            break;
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    if (w <= 0) {
        if (*timed_out || oom) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
            ;
    }
    return oom ? TB_ENOMEM : TB_OK;
}

int tb_watchdog_run(tb_watchdog_fn fn, void *ctx, double timeout_s, struct tb_watchdog_result *out,
                    struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    if (!(timeout_s > 0))
        return tb_err_set(err, TB_EINVAL, "watchdog: timeout %g s, expected > 0", timeout_s);
    const double t0 = seconds_now();
#ifdef __GLIBC__
    /* a child's peak RSS counts every resident page it inherits: hand the
     * parent's freed heap back first, so a configuration's memory figure
     * does not grow with what earlier ones left (+1 MiB on mcu-esp32s3) */
    malloc_trim(0);
#endif
    int fd = -1;
    const pid_t pid = fork_reporting(&fd, err);
    if (pid < 0)
        return err ? err->code : TB_EIO;
    if (pid == 0) {
        const int code = fn(ctx, fd);
        fflush(stdout);
        fflush(stderr);
        _exit(code); /* no atexit handlers: they belong to the parent */
    }
    int timed_out = 0, status = 0;
    const int rc = collect_child(fd, pid, t0, timeout_s, out, &timed_out, &status);
    close(fd);
    out->elapsed_s = seconds_now() - t0;
    out->pid = (long)pid;
    if (rc) {
        tb_watchdog_result_free(out);
        return tb_err_set(err, rc, "watchdog: out of memory");
    }
    if (timed_out) {
        out->outcome = TB_WATCHDOG_TIMEOUT;
    } else if (WIFSIGNALED(status)) {
        out->outcome = TB_WATCHDOG_CRASHED;
        out->signal = WTERMSIG(status);
    } else {
        out->outcome = TB_WATCHDOG_EXITED;
        out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return TB_OK;
}

void tb_watchdog_result_free(struct tb_watchdog_result *r)
{
    free(r->data);
    r->data = NULL;
    r->n = 0;
}

/* Charts through the gnuplot program (no plotting library: issue 7). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports/tb_report.h"

int tb_gnuplot_available(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char cand[PATH_MAX];
        if (len && len + 9 < sizeof cand) {
            snprintf(cand, sizeof cand, "%.*s/gnuplot", (int)len, p);
            if (!access(cand, X_OK))
                return 1;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int tb_gnuplot_run(const char *script, const char *log_path, struct tb_err *err)
{
    if (!tb_gnuplot_available())
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "gnuplot not found on PATH: charts skipped (install the gnuplot-nox "
                          "package)");
    /* gnuplot reads the script from a pipe (no user text reaches a shell);
     * its stdout and stderr (warnings) are appended to log_path */
    int fds[2];
    if (pipe(fds))
        return tb_err_set(err, TB_EIO, "cannot start gnuplot: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    if (!rc)
        rc = posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (!rc && log_path) {
        rc =
            posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0666);
        if (!rc)
            rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid = -1;
    char *argv[] = {"gnuplot", NULL};
    extern char **environ;
    if (!rc)
        rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc) {
        close(fds[1]);
        return tb_err_set(err, TB_EIO, "cannot start gnuplot: %s", strerror(rc));
    }
    const size_t n = strlen(script);
    size_t off = 0;
    while (off < n) {
        const ssize_t w = write(fds[1], script + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fds[1]);
    int st = 0;
    pid_t got;
    while ((got = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (off != n || got != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        return tb_err_set(err, TB_EIO, "gnuplot failed (exit status %d) on its script%s%s",
                          got != pid || !WIFEXITED(st) ? -1 : WEXITSTATUS(st),
                          log_path ? "; its messages are in " : "", log_path ? log_path : "");
    return TB_OK;
}

void tb_gnuplot_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; s && *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if (*s != '\n')
            fputc(*s, f);
    }
    fputc('\'', f);
}

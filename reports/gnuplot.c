/* Charts through the gnuplot program (no plotting library: issue 7). */
#include <errno.h>
#include <limits.h>
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

int tb_gnuplot_run(const char *script, struct tb_err *err)
{
    if (!tb_gnuplot_available())
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "gnuplot not found on PATH: charts skipped (install the gnuplot-nox "
                          "package)");
    /* popen runs /bin/sh -c: the command is a constant, the script goes
     * through the pipe, so no user text reaches the shell */
    FILE *p = popen("gnuplot", "w");
    if (!p)
        return tb_err_set(err, TB_EIO, "cannot start gnuplot: %s", strerror(errno));
    size_t n = strlen(script);
    int wok = fwrite(script, 1, n, p) == n;
    int st = pclose(p);
    if (!wok || st == -1 || !WIFEXITED(st) || WEXITSTATUS(st))
        return tb_err_set(err, TB_EIO, "gnuplot failed (exit status %d) on its script",
                          st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st));
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

/* Helpers shared by the tests that drive tb_run (test_run, test_watchdog). */
#ifndef TB_TEST_RUN_HELPERS_H
#define TB_TEST_RUN_HELPERS_H

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/tb_results.h"

/* Reads the only run-* directory's records under out; run_dir is "" when
 * there is none. */
static inline json_t *read_run(const char *out, char *run_dir, size_t n)
{
    if (n)
        run_dir[0] = '\0'; /* never a stale name (a caller's loop reuses the buffer) */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -d %s/run-* 2>/dev/null | tail -1", out);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(run_dir, (int)n, p)) {
        if (p)
            pclose(p);
        return NULL;
    }
    pclose(p);
    run_dir[strcspn(run_dir, "\n")] = '\0';
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", run_dir, TB_RESULTS_JSONL);
    json_t *recs = NULL;
    size_t dropped = 0;
    struct tb_err err = {0};
    if (tb_results_read(path, &recs, &dropped, &err)) {
        fprintf(stderr, "read %s: %s\n", path, err.msg);
        return NULL;
    }
    return recs;
}

/* Everything under a tree that is not a prefix of keep (a directory on
 * the way to it) nor inside it. */
static const char *g_keep; /* for stray_entry (nftw has no user pointer) */
static int g_strays;

static inline int stray_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    const size_t n = strlen(path), k = strlen(g_keep);
    const int on_way = n <= k && !strncmp(g_keep, path, n) && (n == k || g_keep[n] == '/');
    const int inside = n > k && !strncmp(path, g_keep, k) && path[k] == '/';
    if (!on_way && !inside) {
        g_strays++;
        fprintf(stderr, "written outside --out: %.80s... (%zu chars)\n", path, n);
    }
    return 0;
}

static inline int strays(const char *root, const char *keep)
{
    g_keep = keep;
    g_strays = 0;
    nftw(root, stray_entry, 16, FTW_PHYS);
    return g_strays;
}

/* An --out of `len` chars under root: components of up to 200 chars, all
 * but the last created. */
static inline void long_out(const char *root, size_t len, char *out)
{
    size_t n = (size_t)snprintf(out, 5000, "%s", root);
    while (n < len) {
        size_t c = len - n - 1 > 200 ? 200 : len - n - 1;
        if (len - n - 1 - c > 0 && len - n - 1 - c < 2)
            c -= 2; /* leave no component of 1 char */
        out[n++] = '/';
        memset(out + n, 'd', c);
        n += c;
        out[n] = '\0';
        if (n < len)
            if (mkdir(out, 0755) != 0)
                fprintf(stderr, "mkdir %.60s...: failed\n", out);
    }
}

#endif

/* Helpers shared by the tests that drive tb_run (test_run, test_watchdog). */
#ifndef TB_TEST_RUN_HELPERS_H
#define TB_TEST_RUN_HELPERS_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "harness/tb_results.h"

/* Reads the only run-* directory's records under out. */
static inline json_t *read_run(const char *out, char *run_dir, size_t n)
{
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

#endif

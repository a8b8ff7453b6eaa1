/* The record fields, summary rows, progress lines and coverage rows every
 * part of the run writes (run_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"

void run_warn(json_t *rec, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_t *w = json_object_get(rec, "warnings");
    if (!w) {
        w = json_array();
        json_object_set_new(rec, "warnings", w);
    }
    json_array_append_new(w, json_string(buf));
}

/* The record key of one configuration; isa is what the cpu backend runs. */
void run_config_key(const struct profile_run *pr, const char *model_spec, int prompt_len,
                    enum tb_isa isa, char *buf, size_t n)
{
    snprintf(buf, n, "%s/p%d/%s/t%d/%s", model_spec, prompt_len, pr->prefs, pr->cfg.n_threads,
             tb_isa_name(isa));
}

void run_print_record(struct run_ctx *run, json_t *rec)
{
    if (!run->o->json)
        return;
    char *line = json_dumps(rec, JSON_COMPACT);
    if (line) {
        if (run->tty && !run->o->quiet)
            fputc('\n', stderr);
        printf("%s\n", line);
        free(line);
    }
}

void run_progress(struct run_ctx *run, const char *profile, const char *wl)
{
    if (run->o->quiet)
        return;
    run->n_done++;
    if (run->tty) {
        const int width = 24, fill = run->n_total ? run->n_done * width / run->n_total : 0;
        fprintf(stderr, "\r[%.*s%*s] %d/%d %-20s %-14s", fill, "########################",
                width - fill, "", run->n_done, run->n_total, profile, wl);
    } else {
        fprintf(stderr, "[%d/%d] %s %s\n", run->n_done, run->n_total, profile, wl);
    }
}

/* Takes ownership of *c (a row of the coverage matrix). */
void run_keep_coverage(struct run_ctx *run, struct tb_coverage *c)
{
    if (run->n_cov == run->cap_cov) {
        const int cap = run->cap_cov ? 2 * run->cap_cov : 16;
        struct tb_coverage *a = realloc(run->cov, sizeof *a * (size_t)cap);
        if (!a) { /* the matrix loses a row; the record still has it */
            tb_coverage_free(c);
            return;
        }
        run->cov = a;
        run->cap_cov = cap;
    }
    run->cov[run->n_cov++] = *c;
}

/* Device-tier profiles: printing one, and listing and finding them in a
 * directory (the parser is profile.c). */
#include "harness/tb_profile.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_topo.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_types.h"
#include "kernels/tb_util.h"

void tb_profile_print(const struct tb_profile *p, FILE *f)
{
    char buf[64];
    fprintf(f, "name:           %s\ntier:           %s\n", p->name, p->tier);
    if (p->description[0])
        fprintf(f, "description:    %s\n", p->description);
    if (p->threads)
        fprintf(f, "threads:        %d\n", p->threads);
    else
        fprintf(f, "threads:        all\n");
    fprintf(f, "binding:        %s%s%s\n", tb_bind_policy_name(p->binding),
            p->cpuset[0] ? " cpuset " : "", p->cpuset);
    fprintf(f, "isa_cap:        %s\n",
            p->isa_cap == TB_ISA_COUNT ? "best" : tb_isa_name(p->isa_cap));
    tb_format_bytes(p->memory_budget, buf, sizeof buf);
    fprintf(f, "memory_budget:  %s (%llu bytes)\nweight_types:  ", buf,
            (unsigned long long)p->memory_budget);
    for (int i = 0; i < p->n_weight_types; i++)
        fprintf(f, " %s", tb_type_name(p->weight_types[i]));
    fprintf(f, "\nbackends:      ");
    for (int i = 0; i < p->n_backends; i++)
        fprintf(f, " %s", p->backends[i]);
    fprintf(f, "\naccel_op_classes:");
    for (int i = 0; i < p->n_accel_op_classes; i++)
        fprintf(f, " %s", p->accel_op_classes[i]);
    fprintf(f, "%s\nenergy_source:  %s\n", p->n_accel_op_classes ? "" : " (none)",
            p->energy_source);
    fprintf(f, "events:         %s\n", p->events[0] ? p->events : "(default)");
    for (int i = 0; i < p->n_workloads; i++) {
        const struct tb_profile_workload *w = &p->workloads[i];
        char prompts[96] = "";
        for (int j = 0; j < w->n_prompts; j++) {
            const size_t len = strlen(prompts);
            snprintf(prompts + len, sizeof prompts - len, "%s%d", j ? "," : "", w->prompts[j]);
        }
        fprintf(f, "workload %-12s model %s, prompt %s, n_predict %d",
                tb_workload_kind_name(w->kind), w->model, prompts, w->n_predict);
        if (w->synth) {
            tb_format_bytes(w->need_bytes, buf, sizeof buf);
            fprintf(f, ", needs %s", buf);
        }
        fputc('\n', f);
    }
    for (int i = 0; i < p->n_slos; i++) {
        char line[160];
        tb_slo_format(&p->slos[i], line, sizeof line);
        fprintf(f, "slo:            %s\n", line);
    }
}

/* ------------------------------------------------------------ directories */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tb_profile_dir_list_free(char **paths, int n)
{
    for (int i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

int tb_profile_dir_list(const char *dir, char ***paths, int *n, struct tb_err *err)
{
    *paths = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return tb_err_set(err, TB_EIO, "%s: %s", dir, strerror(errno));
    char **list = NULL;
    int count = 0, cap = 0, rc = TB_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".ini"))
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                rc = tb_err_set(err, TB_ENOMEM, "%s: out of memory", dir);
                break;
            }
            list = grown;
        }
        size_t need = strlen(dir) + len + 2;
        if (!(list[count] = malloc(need))) {
            rc = tb_err_set(err, TB_ENOMEM, "%s: out of memory", dir);
            break;
        }
        snprintf(list[count++], need, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (rc) {
        tb_profile_dir_list_free(list, count);
        return rc;
    }
    if (count)
        qsort(list, (size_t)count, sizeof *list, cmp_str);
    *paths = list;
    *n = count;
    return TB_OK;
}

int tb_profile_find(const char *dir, const char *name, struct tb_profile **out, struct tb_err *err)
{
    *out = NULL;
    char **paths;
    int n, rc = tb_profile_dir_list(dir, &paths, &n, err);
    if (rc)
        return rc;
    /* file stem first: its own errors are the ones to report */
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(paths[i], '/') + 1;
        if (strlen(base) == strlen(name) + 4 && !strncmp(base, name, strlen(name))) {
            rc = tb_profile_load(paths[i], out, err);
            tb_profile_dir_list_free(paths, n);
            return rc;
        }
    }
    for (int i = 0; i < n && !*out; i++) {
        struct tb_profile *p;
        if (tb_profile_load(paths[i], &p, NULL) == TB_OK) {
            if (!strcmp(p->name, name))
                *out = p;
            else
                tb_profile_free(p);
        }
    }
    tb_profile_dir_list_free(paths, n);
    return *out ? TB_OK : tb_err_set(err, TB_EINVAL, "no profile named '%s' in %s", name, dir);
}

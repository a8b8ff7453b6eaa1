#include "harness/tb_stability.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_read.h"
#include "harness/tb_results.h" /* tb_json_number */
#include "kernels/tb_util.h"
#include "kernels/platform/tb_platform.h"

void tb_stability_cfg_default(struct tb_stability_cfg *c)
{
    c->proc_stat = NULL;
    c->sys_root = NULL;
    c->canary_slowdown_max = 0.10;
    c->steal_max = 0.02;
    c->canary_reps = 5;
}

int tb_read_cpu_times(const char *proc_stat, struct tb_cpu_times *t, struct tb_err *err)
{
    const char *path = proc_stat ? proc_stat : "/proc/stat";
    FILE *f = tb_fopen_read(path, err); /* a FIFO: an error, never a wait */
    if (!f)
        return TB_EIO;
    char line[512];
    int ok = 0;
    if (fgets(line, sizeof line, f) && !strncmp(line, "cpu ", 4)) {
        /* user nice system idle iowait irq softirq steal [guest guest_nice] */
        unsigned long long v[8] = {0};
        const int n = sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
        if (n >= 4) {
            t->idle = v[3] + v[4];
            t->steal = n >= 8 ? v[7] : 0;
            t->busy = v[0] + v[1] + v[2] + v[5] + v[6];
            t->total = t->busy + t->idle + t->steal;
            ok = 1;
        }
    }
    fclose(f);
    return ok ? TB_OK : tb_err_set(err, TB_EFORMAT, "%s: line 1: no aggregate 'cpu' line", path);
}

double tb_canary_seconds(int reps)
{
    double best = INFINITY;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        const uint64_t t0 = tb_now_ns();
        /* a dependent xorshift chain: latency-bound on one core, no memory */
        volatile uint64_t sink;
        uint64_t x = 88172645463325252ull;
        for (int i = 0; i < 2000000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        sink = x;
        (void)sink;
        const double s = (double)(tb_now_ns() - t0) * 1e-9;
        best = s < best ? s : best;
    }
    return best;
}

/* Highest thermal zone temperature in degrees C; NaN when none is readable. */
static double max_temp_c(const char *sys_root)
{
    char dir[512];
    DIR *d =
        tb_path_join(dir, sizeof dir, NULL, "%s/class/thermal", sys_root) ? NULL : opendir(dir);
    if (!d)
        return NAN;
    double best = NAN;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "thermal_zone", 12))
            continue;
        char path[1024];
        FILE *f = tb_path_join(path, sizeof path, NULL, "%s/%s/temp", dir, e->d_name)
                      ? NULL
                      : tb_fopen_read(path, NULL);
        long long milli;
        if (f && fscanf(f, "%lld", &milli) == 1) {
            const double c = (double)milli / 1000.0;
            best = isnan(best) || c > best ? c : best;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    return best;
}

static double cpu0_mhz(const char *sys_root)
{
    char path[512];
    FILE *f = tb_path_join(path, sizeof path, NULL,
                           "%s/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", sys_root)
                  ? NULL
                  : tb_fopen_read(path, NULL);
    long long khz;
    double v = NAN;
    if (f && fscanf(f, "%lld", &khz) == 1)
        v = (double)khz / 1000.0;
    if (f)
        fclose(f);
    return v;
}

void tb_stability_begin(struct tb_stability *s, const struct tb_stability_cfg *cfg)
{
    memset(s, 0, sizeof *s);
    if (cfg)
        s->cfg = *cfg;
    else
        tb_stability_cfg_default(&s->cfg);
    const char *sys = s->cfg.sys_root ? s->cfg.sys_root : "/sys";
    s->temp_before_c = max_temp_c(sys);
    s->freq_before_mhz = cpu0_mhz(sys);
    s->canary_before_s = tb_canary_seconds(s->cfg.canary_reps);
    s->t0_ok = tb_read_cpu_times(s->cfg.proc_stat, &s->t0, NULL) == TB_OK;
}

static json_t *pair_or_unavailable(double before, double after, const char *what)
{
    if (isnan(before) && isnan(after)) {
        char buf[160];
        snprintf(buf, sizeof buf, "unavailable: %s not readable on this host", what);
        return json_string(buf);
    }
    return json_pack("{s:o, s:o}", "before", tb_json_number(before), "after",
                     tb_json_number(after));
}

json_t *tb_stability_end(struct tb_stability *s, int *unstable)
{
    const char *sys = s->cfg.sys_root ? s->cfg.sys_root : "/sys";
    struct tb_cpu_times t1;
    const int t1_ok = s->t0_ok && tb_read_cpu_times(s->cfg.proc_stat, &t1, NULL) == TB_OK;
    const double after = tb_canary_seconds(s->cfg.canary_reps);
    const double slow = after / s->canary_before_s - 1.0;
    json_t *o = json_object();
    json_t *reasons = json_array();
    json_object_set_new(o, "canary_before_ms", tb_json_number(s->canary_before_s * 1e3));
    json_object_set_new(o, "canary_after_ms", tb_json_number(after * 1e3));
    json_object_set_new(o, "canary_slowdown", tb_json_number(slow));
    char buf[200];
    if (slow > s->cfg.canary_slowdown_max) {
        snprintf(buf, sizeof buf, "canary slowed %.1f%% during the run (limit %.0f%%)", 100 * slow,
                 100 * s->cfg.canary_slowdown_max);
        json_array_append_new(reasons, json_string(buf));
    }
    if (t1_ok && t1.total > s->t0.total) {
        const double dt = (double)(t1.total - s->t0.total);
        const double steal = (double)(t1.steal - s->t0.steal) / dt;
        json_object_set_new(o, "steal_share", tb_json_number(steal));
        json_object_set_new(o, "busy_share", tb_json_number((double)(t1.busy - s->t0.busy) / dt));
        if (steal > s->cfg.steal_max) {
            snprintf(buf, sizeof buf, "steal time %.1f%% of CPU time (limit %.0f%%)", 100 * steal,
                     100 * s->cfg.steal_max);
            json_array_append_new(reasons, json_string(buf));
        }
    } else {
        json_object_set_new(o, "steal_share",
                            json_string("unavailable: /proc/stat not readable or no ticks"));
    }
    json_object_set_new(o, "temperature_c",
                        pair_or_unavailable(s->temp_before_c, max_temp_c(sys), "thermal zones"));
    json_object_set_new(o, "cpu0_mhz",
                        pair_or_unavailable(s->freq_before_mhz, cpu0_mhz(sys), "cpufreq"));
    *unstable = json_array_size(reasons) > 0;
    json_object_set_new(o, "unstable", json_boolean(*unstable));
    json_object_set_new(o, "reasons", reasons);
    return o;
}

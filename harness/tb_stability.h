/* Is the machine steady enough to trust a measurement? Snapshots taken
 * before and after each run: a short calibration canary (fixed scalar work,
 * timed), steal and busy time from /proc/stat, CPU frequency and thermal
 * zone temperatures from /sys where readable. A canary that slows by more
 * than a threshold (throttling, a noisy neighbour) or significant steal time
 * marks the run unstable, with the figures. Unreadable sources are reported
 * as unavailable with the reason. Paths are parameters so tests can point
 * them at fixtures. */
#ifndef TB_STABILITY_H
#define TB_STABILITY_H

#include <stdint.h>

#include <jansson.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tb_stability_cfg {
    const char *proc_stat;      /* NULL = /proc/stat */
    const char *sys_root;       /* NULL = /sys (cpufreq, thermal) */
    double canary_slowdown_max; /* unstable above this (0.10 = 10%) */
    double steal_max;           /* unstable above this share of CPU time (0.02) */
    int canary_reps;            /* canary = min of this many timings (5) */
};
void tb_stability_cfg_default(struct tb_stability_cfg *c);

/* Cumulative jiffies of the "cpu" line of /proc/stat. */
struct tb_cpu_times {
    uint64_t busy, idle, steal, total;
};
int tb_read_cpu_times(const char *proc_stat, struct tb_cpu_times *t, struct tb_err *err);

/* Seconds of the calibration canary (best of reps): fixed dependent integer
 * work, so it measures the core's speed, not memory. */
double tb_canary_seconds(int reps);

struct tb_stability {
    struct tb_stability_cfg cfg;
    double canary_before_s;
    struct tb_cpu_times t0;
    int t0_ok;
    double temp_before_c;   /* max over zones; NaN if none */
    double freq_before_mhz; /* cpu0 scaling_cur_freq; NaN if none */
};

void tb_stability_begin(struct tb_stability *s, const struct tb_stability_cfg *cfg);
/* Measures again and describes both snapshots in a new JSON object:
 * {canary_before_ms, canary_after_ms, canary_slowdown, steal_share, busy_share,
 *  temperature_c {before, after} | "unavailable: ...", cpu0_mhz {...} | ...,
 *  unstable: bool, reasons: [...]}. *unstable is set accordingly. */
json_t *tb_stability_end(struct tb_stability *s, int *unstable);

#ifdef __cplusplus
}
#endif
#endif

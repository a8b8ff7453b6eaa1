/* Stability snapshots: /proc/stat parsing and steal share against fixture
 * files, thermal/cpufreq readers against a fake /sys tree, and the canary. */
#include "tb_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/tb_stability.h"

#define DATA TB_SOURCE_DIR "/tests/data/stability"

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void copy(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    struct tb_cpu_times a, b;
    struct tb_err err = {0};
    CHECK(tb_read_cpu_times(DATA "/stat-a", &a, &err) == TB_OK);
    CHECK(a.busy == 1500 && a.idle == 8100 && a.steal == 0 && a.total == 9600);
    CHECK(tb_read_cpu_times(DATA "/stat-b", &b, &err) == TB_OK);
    CHECK(b.busy == 2300 && b.idle == 9000 && b.steal == 300 && b.total == 11600);
    CHECK(tb_read_cpu_times(DATA "/no-such-file", &a, &err) == TB_EIO);
    CHECK(strstr(err.msg, "no-such-file") != NULL);

    char root[512], path[1024];
    tb_test_path(root, sizeof root, "stab", "");
    CHECK(mkdir(root, 0755) == 0);
    snprintf(path, sizeof path, "%s/garbage", root);
    put(path, "intr 1 2 3\n");
    CHECK(tb_read_cpu_times(path, &a, &err) == TB_EFORMAT);

    /* fake /sys: two thermal zones, cpu0 frequency */
    char sys[600], d[1100];
    snprintf(sys, sizeof sys, "%s/sys", root);
    const char *dirs[] = {"",
                          "/class",
                          "/class/thermal",
                          "/class/thermal/thermal_zone0",
                          "/class/thermal/thermal_zone1",
                          "/devices",
                          "/devices/system",
                          "/devices/system/cpu",
                          "/devices/system/cpu/cpu0",
                          "/devices/system/cpu/cpu0/cpufreq"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(d, sizeof d, "%s%s", sys, dirs[i]);
        CHECK(mkdir(d, 0755) == 0);
    }
    snprintf(d, sizeof d, "%s/class/thermal/thermal_zone0/temp", sys);
    put(d, "45000\n");
    snprintf(d, sizeof d, "%s/class/thermal/thermal_zone1/temp", sys);
    put(d, "61500\n");
    snprintf(d, sizeof d, "%s/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", sys);
    put(d, "3600000\n");

    /* begin/end with /proc/stat moving from stat-a to stat-b: 15% steal */
    char stat[1100];
    snprintf(stat, sizeof stat, "%s/stat", root);
    copy(DATA "/stat-a", stat);
    struct tb_stability_cfg cfg;
    tb_stability_cfg_default(&cfg);
    cfg.proc_stat = stat;
    cfg.sys_root = sys;
    cfg.canary_reps = 2;
    struct tb_stability s;
    tb_stability_begin(&s, &cfg);
    CHECK(s.canary_before_s > 0 && isfinite(s.canary_before_s));
    copy(DATA "/stat-b", stat);
    int unstable = 0;
    json_t *o = tb_stability_end(&s, &unstable);
    CHECK(o != NULL);
    CHECK(unstable == 1);
    CHECK(fabs(json_number_value(json_object_get(o, "steal_share")) - 0.15) < 1e-12);
    CHECK(fabs(json_number_value(json_object_get(o, "busy_share")) - 0.40) < 1e-12);
    json_t *t = json_object_get(o, "temperature_c");
    CHECK(fabs(json_number_value(json_object_get(t, "before")) - 61.5) < 1e-9);
    json_t *f = json_object_get(o, "cpu0_mhz");
    CHECK(fabs(json_number_value(json_object_get(f, "after")) - 3600.0) < 1e-9);
    json_t *reasons = json_object_get(o, "reasons");
    CHECK(json_array_size(reasons) >= 1);
    CHECK(strstr(json_string_value(json_array_get(reasons, 0)), "steal") != NULL ||
          strstr(json_string_value(json_array_get(reasons, json_array_size(reasons) - 1)),
                 "steal") != NULL);
    json_decref(o);

    /* no ticks between snapshots and no /sys sources: unavailable, not zero */
    snprintf(d, sizeof d, "%s/empty", root);
    CHECK(mkdir(d, 0755) == 0);
    cfg.sys_root = d;
    tb_stability_begin(&s, &cfg);
    o = tb_stability_end(&s, &unstable);
    CHECK(json_is_string(json_object_get(o, "steal_share")));
    CHECK(json_is_string(json_object_get(o, "temperature_c")));
    CHECK(strncmp(json_string_value(json_object_get(o, "cpu0_mhz")), "unavailable:", 12) == 0);
    json_decref(o);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return tb_test_result("test_stability");
}

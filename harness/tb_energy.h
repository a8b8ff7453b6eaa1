/* Energy meters: one interface over every source that can measure joules.
 *
 * Sources (names as used in device profiles' energy_source):
 *   powercap  Linux powercap sysfs read directly (root default
 *             /sys/class/powercap). Top-level intel-rapl:N zones: "psys" alone
 *             when present (whole platform, already includes the packages),
 *             else the sum of the package zones. Sub-zones (core, uncore,
 *             dram inside a package) are not added (they are part of it).
 *             energy_uj wraps at max_energy_range_uj: one wrap per window is
 *             corrected (delta = max - start + stop); a window longer than the
 *             wrap period (hours at typical power) cannot be detected.
 *   papi      PAPI components rapl / powercap / nvml when the installed PAPI
 *             has them enabled; energy events are scaled by their PAPI units.
 *   nvml      libnvidia-ml.so.1 loaded at run time (dlopen);
 *             nvmlDeviceGetTotalEnergyConsumption summed over all GPUs.
 *   trace:F   external power trace (lab power analyser, battery monitor):
 *             CSV lines "timestamp_s,watts" read with libcsv (quoted
 *             fields, CRLF and a last line without newline accepted; a
 *             header line and '#' comment lines allowed; one sample a
 *             line), timestamps CLOCK_REALTIME epoch seconds, strictly
 *             increasing. Power is linear between samples and integrated
 *             (trapezoid) over the run window, interpolated at its edges.
 *             The file is read at stop; a window outside the trace is an
 *             error, never extrapolated.
 *   auto      the first of powercap, papi, nvml that works.
 *   none      no meter.
 * A meter that cannot measure still exists: its name is the requested source
 * and tb_energy_disabled_reason() says why (for auto: every source's
 * reason, "unavailable: powercap: ...; papi: ...; nvml: ..."). Results are
 * measured joules labelled with their source; callers derive J/token and
 * mean watts. Nothing is modelled. */
#ifndef TB_ENERGY_H
#define TB_ENERGY_H

#include <stdint.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tb_energy_config {
    const char *source;        /* see above; NULL = "auto" */
    const char *powercap_root; /* NULL = /sys/class/powercap */
    const char *nvml_library;  /* NULL = "libnvidia-ml.so.1" */
};

struct tb_energy_result {
    double joules;
    double seconds;   /* window length (same clock as the source) */
    char source[128]; /* e.g. "powercap:package-0+package-1", "nvml:1 GPU", "trace:FILE" */
};

/* The vtable every source implements. */
struct tb_energy_ops {
    const char *name;
    int (*start)(void *ctx, struct tb_err *err);
    int (*stop)(void *ctx, struct tb_energy_result *out, struct tb_err *err);
    void (*destroy)(void *ctx);
};

struct tb_energy_meter;

/* Fails only for an unknown source name or no memory; an unusable source
 * gives a disabled meter. */
int tb_energy_open(const struct tb_energy_config *cfg, struct tb_energy_meter **out,
                   struct tb_err *err);
void tb_energy_free(struct tb_energy_meter *m);
/* TB_EINVAL naming the known sources when src is no source name (nothing is
 * opened: safe before the watchdog forks); NULL/"" is "auto". */
int tb_energy_check_source(const char *src, struct tb_err *err);
const char *tb_energy_name(const struct tb_energy_meter *m);
/* NULL when the meter measures. */
const char *tb_energy_disabled_reason(const struct tb_energy_meter *m);
/* Disabled meters fail start/stop with TB_EUNSUPPORTED and the reason. */
int tb_energy_start(struct tb_energy_meter *m, struct tb_err *err);
int tb_energy_stop(struct tb_energy_meter *m, struct tb_energy_result *out, struct tb_err *err);

/* Integral of a power trace over [t0, t1] (CLOCK_REALTIME epoch seconds). */
int tb_energy_trace_integrate(const char *path, double t0, double t1, double *joules,
                              struct tb_err *err);

/* CLOCK_REALTIME as epoch seconds: the clock trace windows use. */
double tb_energy_realtime_now(void);

#ifdef __cplusplus
}
#endif
#endif

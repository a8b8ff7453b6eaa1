/* Hardware/software event counters through PAPI.
 *
 * tb_counters_create takes a comma-separated event list, e.g.
 * "perf::TASK-CLOCK,perf::PAGE-FAULTS,PAPI_TOT_INS,PAPI_TOT_CYC". Every event
 * PAPI cannot add is kept in the list as unavailable with PAPI's reason
 * (PAPI_strerror) -- never counted as zero. When more events are requested
 * than the CPU component has counters, the event set is multiplexed.
 * If PAPI cannot initialise at all the object is still created, with
 * tb_counters_disabled_reason() set and every event unavailable.
 *
 * Scope: PAPI counts the thread that calls tb_counters_start (perf_event
 * per-thread counters). Threads of a pool created earlier are not counted;
 * whole-process CPU time comes from CLOCK_PROCESS_CPUTIME_ID in the harness.
 * With TB_COUNTERS_INHERIT, PAPI_INHERIT is requested so threads created
 * after start are included; PAPI builds without inherit support refuse it,
 * which is recorded in tb_counters_scope() (the set then stays per-thread).
 *
 * start/read/stop must be called from the thread that called start. */
#ifndef TB_COUNTERS_H
#define TB_COUNTERS_H

#include <stdbool.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_COUNTERS_DEFAULT_EVENTS                                                                 \
    "perf::TASK-CLOCK,perf::PAGE-FAULTS,perf::CONTEXT-SWITCHES,perf::CPU-MIGRATIONS,"              \
    "PAPI_TOT_INS,PAPI_TOT_CYC,PAPI_L1_DCM,PAPI_L1_DCA"

enum { TB_COUNTERS_INHERIT = 1 };

struct tb_counter {
    char name[64];
    bool available;
    char reason[160]; /* why unavailable ("" when available) */
    long long value;  /* last start..stop/read value; meaningful only when available */
};

struct tb_counters;

/* Fails only on a malformed list (empty names, too many events) or no memory. */
int tb_counters_create(const char *events, unsigned flags, struct tb_counters **out,
                       struct tb_err *err);
void tb_counters_free(struct tb_counters *c);

/* Initialises PAPI once per process (idempotent; not safe to race from two
 * threads). 0, or TB_EUNSUPPORTED with the reason in err. Shared by the
 * counters and the PAPI energy source. */
int tb_papi_init(struct tb_err *err);

/* NULL when PAPI works; otherwise why the whole source is off. */
const char *tb_counters_disabled_reason(const struct tb_counters *c);
/* "calling thread" or "calling thread + threads created after start"
 * (with the reason inherit was refused, when asked for and refused). */
const char *tb_counters_scope(const struct tb_counters *c);
int tb_counters_n(const struct tb_counters *c);
const struct tb_counter *tb_counters_get(const struct tb_counters *c, int i);
/* NULL if name is not in the list. */
const struct tb_counter *tb_counters_find(const struct tb_counters *c, const char *name);
/* why_not (optional): PAPI's reason when multiplexing was needed but refused,
 * else "". */
bool tb_counters_multiplexed(const struct tb_counters *c, const char **why_not);

/* With no available events these succeed and count nothing. */
int tb_counters_start(struct tb_counters *c, struct tb_err *err);
int tb_counters_read(struct tb_counters *c, struct tb_err *err); /* values so far, keeps counting */
int tb_counters_stop(struct tb_counters *c, struct tb_err *err);

/* Derived metrics exist only when their raw events were counted:
 * IPC = PAPI_TOT_INS / PAPI_TOT_CYC; cache miss rate = misses / accesses from
 * the first available pair of (PAPI_L1_DCM, PAPI_L1_DCA), (PAPI_L2_TCM,
 * PAPI_L2_TCA), (perf::CACHE-MISSES, perf::CACHE-REFERENCES). Return 0, or
 * TB_EUNSUPPORTED when the events are missing or the denominator is 0.
 * *what (optional) names the pair used. */
int tb_counters_ipc(const struct tb_counters *c, double *ipc);
int tb_counters_miss_rate(const struct tb_counters *c, double *rate, const char **what);

#ifdef __cplusplus
}
#endif
#endif

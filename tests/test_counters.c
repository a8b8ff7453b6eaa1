/* PAPI counters: TASK-CLOCK against independently measured CPU time, and
 * honest unavailability for bogus / absent events. */
#include <string.h>
#include <time.h>

#include "harness/tb_counters.h"
#include "tb_test.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ~0.3 s of pure computation; the result feeds the caller so it is not
 * optimised away. */
static double busy_loop(double seconds)
{
    volatile double acc = 0;
    double t0 = cpu_seconds();
    while (cpu_seconds() - t0 < seconds)
        for (int i = 0; i < 100000; i++)
            acc = acc + (double)i * 0.5;
    return acc;
}

int main(void)
{
    struct tb_counters *c = NULL;
    struct tb_err err = {0};
    int rc = tb_counters_create(
        "perf::TASK-CLOCK, perf::PAGE-FAULTS,perf::CONTEXT-SWITCHES,perf::CPU-MIGRATIONS,"
        "bogus::NOT_AN_EVENT,PAPI_TOT_CYC,PAPI_TOT_INS,PAPI_L1_DCM,PAPI_L1_DCA",
        0, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc)
        return tb_test_result("test_counters");
    if (tb_counters_disabled_reason(c)) {
        printf("SKIP: PAPI counters unavailable: %s\n", tb_counters_disabled_reason(c));
        CHECK(!tb_counters_find(c, "perf::TASK-CLOCK")->available);
        tb_counters_free(c);
        return TB_SKIP_CODE;
    }
    CHECK(tb_counters_n(c) == 9);
    const char *mux_why = NULL;
    bool mux = tb_counters_multiplexed(c, &mux_why);
    printf("scope: %s, multiplexed: %d %s\n", tb_counters_scope(c), mux, mux_why);
    CHECK(mux || mux_why[0] != 0); /* 9 events > counters: multiplexed or a reason */

    double t0 = cpu_seconds();
    CHECK(tb_counters_start(c, &err) == 0);
    double sink = busy_loop(0.3);
    CHECK(tb_counters_read(c, &err) == 0);
    long long mid = tb_counters_find(c, "perf::TASK-CLOCK")->value;
    sink += busy_loop(0.1);
    CHECKF(tb_counters_stop(c, &err) == 0, "%s", err.msg);
    double cpu = cpu_seconds() - t0;
    CHECK(sink >= 0);

    for (int i = 0; i < tb_counters_n(c); i++) {
        const struct tb_counter *e = tb_counters_get(c, i);
        printf("  %-24s %s %lld %s\n", e->name, e->available ? "ok " : "n/a", e->value, e->reason);
        CHECKF(e->available == (e->reason[0] == '\0'), "%s: reason iff unavailable", e->name);
    }
    const struct tb_counter *tc = tb_counters_find(c, "perf::TASK-CLOCK");
    CHECKF(tc && tc->available, "%s", tc ? tc->reason : "missing");
    if (tc && tc->available) {
        double sec = (double)tc->value * 1e-9; /* TASK-CLOCK counts ns */
        CHECKF(sec > 0.8 * cpu && sec < 1.2 * cpu, "TASK-CLOCK %.3f s vs CPU time %.3f s", sec,
               cpu);
        CHECKF(mid > 0 && mid < tc->value, "read() %lld then stop() %lld", mid, tc->value);
    }
    const struct tb_counter *bogus = tb_counters_find(c, "bogus::NOT_AN_EVENT");
    CHECK(bogus && !bogus->available && bogus->reason[0] != '\0');

    /* a hardware event: absent in a VM without a PMU (unavailable, with a
     * reason), counted and positive on hardware that has it */
    const struct tb_counter *cyc = tb_counters_find(c, "PAPI_TOT_CYC");
    CHECK(cyc != NULL);
    if (cyc && cyc->available)
        CHECKF(cyc->value > 0, "PAPI_TOT_CYC available but %lld", cyc->value);
    else if (cyc)
        CHECK(cyc->reason[0] != '\0');
    const struct tb_counter *ins = tb_counters_find(c, "PAPI_TOT_INS");
    double ipc = -1;
    rc = tb_counters_ipc(c, &ipc);
    if (cyc && ins && cyc->available && ins->available)
        CHECKF(rc == 0 && ipc > 0 && ipc < 16, "IPC %f", ipc);
    else
        CHECKF(rc == TB_EUNSUPPORTED, "IPC must not exist without its events");
    const char *what = NULL;
    double miss = -1;
    rc = tb_counters_miss_rate(c, &miss, &what);
    if (rc == 0)
        CHECKF(miss >= 0 && miss <= 1 && what, "miss rate %f", miss);
    tb_counters_free(c);

    /* malformed lists are input errors */
    CHECK(tb_counters_create("perf::TASK-CLOCK,,PAPI_TOT_INS", 0, &c, &err) == TB_EINVAL);
    CHECK(tb_counters_create("perf::TASK-CLOCK,", 0, &c, &err) == TB_EINVAL);

    /* inherit: accepted or refused, the scope says which */
    CHECK(tb_counters_create("perf::TASK-CLOCK", TB_COUNTERS_INHERIT, &c, &err) == 0);
    printf("inherit scope: %s\n", tb_counters_scope(c));
    CHECK(strstr(tb_counters_scope(c), "calling thread") != NULL);
    /* a set with no available events starts and stops without counting */
    tb_counters_free(c);
    CHECK(tb_counters_create("bogus::A", 0, &c, &err) == 0);
    CHECK(tb_counters_start(c, &err) == 0 && tb_counters_stop(c, &err) == 0);
    tb_counters_free(c);
    return tb_test_result("test_counters");
}

/* tb_platform.h on POSIX (Linux, Android). */
#include "kernels/platform/tb_platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tb_now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t tb_thread_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* ---- evidence clocks */

uint64_t tb_process_cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

uint64_t tb_thread_runq_wait_ns(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    unsigned long long run = 0, wait = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &run, &wait) != 2)
        wait = 0;
    fclose(f);
    return (uint64_t)wait;
}

uint64_t tb_thread_ctx_switches(void)
{
#if defined(__linux__)
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
#else
    return 0;
#endif
}

/* The steal column (8th value) of a /proc/stat "cpu..." line after its
 * name; 1 when it is there. */
static int stat_steal_ticks(const char *values, unsigned long long *ticks)
{
    const char *p = values;
    for (int col = 0; col < 8; col++) {
        char *end = NULL;
        const unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            return 0;
        if (col == 7)
            *ticks = v;
        p = end;
    }
    return 1;
}

int tb_steal_ns(int cpu, uint64_t *cpu_ns, uint64_t *all_ns)
{
    *cpu_ns = *all_ns = 0;
    const long hz = sysconf(_SC_CLK_TCK);
    FILE *f = hz > 0 ? fopen("/proc/stat", "r") : NULL;
    if (!f)
        return 0;
    char line[512], want[16];
    snprintf(want, sizeof want, "cpu%d ", cpu);
    unsigned long long all = 0, one = 0;
    int have_all = 0, at_start = 1;
    while (fgets(line, sizeof line, f)) {
        const int whole = strchr(line, '\n') != NULL;
        if (at_start) {
            if (strncmp(line, "cpu", 3) != 0)
                break; /* the cpu lines come first */
            if (!strncmp(line, "cpu ", 4))
                have_all = stat_steal_ticks(line + 4, &all);
            else if (cpu >= 0 && !strncmp(line, want, strlen(want)))
                (void)stat_steal_ticks(line + strlen(want), &one);
        }
        at_start = whole;
    }
    fclose(f);
    if (!have_all)
        return 0;
    *all_ns = (uint64_t)all * 1000000000ull / (uint64_t)hz;
    *cpu_ns = (uint64_t)one * 1000000000ull / (uint64_t)hz;
    return 1;
}

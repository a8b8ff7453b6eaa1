/* The engine's window on the operating system: clocks (and, as they move
 * here, threads and file mapping). Code in tb_engine that needs an OS goes
 * through this header, so a target without one supplies its own
 * platform_<os>.c and the rest of the engine builds unchanged. */
#ifndef TB_PLATFORM_H
#define TB_PLATFORM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic wall clock in ns, shared by backends and the harness. */
uint64_t tb_now_ns(void);

/* CPU time the calling thread has used, in ns (CLOCK_THREAD_CPUTIME_ID):
 * unlike wall time it does not grow while the thread is descheduled. 0 when
 * the platform cannot tell. */
uint64_t tb_thread_cpu_ns(void);

/* ---- evidence clocks (the silent-fallback detector, kernels/sched.c) */

/* CPU time all threads of the process have used, in ns
 * (CLOCK_PROCESS_CPUTIME_ID); 0 when the platform cannot tell. */
uint64_t tb_process_cpu_ns(void);

/* Time the calling thread has spent runnable but waiting for a CPU (on a
 * run queue, preempted by other load), in ns; 0 when the OS does not say
 * (Linux: /proc/thread-self/schedstat, second field). */
uint64_t tb_thread_runq_wait_ns(void);

#ifdef __cplusplus
}
#endif
#endif

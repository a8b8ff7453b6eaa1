/* The engine's window on the operating system: clocks, threads, file
 * mapping and writing, memory and CPU facts. Code in tb_engine that needs an
 * OS goes through this header, so a target without one supplies its own
 * platform_<os>*.c and the rest of the engine builds unchanged. */
#ifndef TB_PLATFORM_H
#define TB_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threads, locks (platform_posix_threads.c). Opaque, so a port picks
 * its own representation; create/free happen at setup, never per op. */
struct tb_thread;
struct tb_mutex;
struct tb_cond;
typedef void *(*tb_thread_fn)(void *arg);

/* Starts fn(arg) on a new thread; TB_EBACKEND when it cannot start. */
int tb_thread_start(tb_thread_fn fn, void *arg, struct tb_thread **out, struct tb_err *err);
/* Waits for the thread to return and frees it. */
void tb_thread_join(struct tb_thread *t);
/* Lets another runnable thread have the CPU. */
void tb_thread_yield(void);
/* Pins the calling thread to OS CPU `cpu`: 0, or the OS error number
 * (strerror names it); a platform without affinity returns ENOSYS. */
int tb_thread_pin_self(int cpu);
/* OS CPU the calling thread runs on now, -1 if unknown. */
int tb_thread_current_cpu(void);

int tb_mutex_create(struct tb_mutex **out, struct tb_err *err);
void tb_mutex_free(struct tb_mutex *m);
void tb_mutex_lock(struct tb_mutex *m);
void tb_mutex_unlock(struct tb_mutex *m);
int tb_cond_create(struct tb_cond **out, struct tb_err *err);
void tb_cond_free(struct tb_cond *c);
/* m held by the caller; may return spuriously (callers loop on a predicate). */
void tb_cond_wait(struct tb_cond *c, struct tb_mutex *m);
void tb_cond_broadcast(struct tb_cond *c);

/* ---- files (platform_posix_files.c) */

/* Opens path for reading without ever blocking on it (issue 19): the open
 * itself is O_NONBLOCK (a FIFO with no writer, a tty or a device would
 * otherwise block for ever), then fstat: only a regular file is accepted,
 * and O_NONBLOCK is cleared again. *fd (close-on-exec) is the caller's to
 * close. Every file tierbench reads from a user-given path goes through it.
 * TB_EIO "PATH: cannot open: reason" (errno stays open()'s, so ENOENT can
 * be told apart) or "PATH: is a FIFO, not a regular file" (a directory, a
 * character/block device, a socket; errno EINVAL). */
int tb_file_open_read(const char *path, int *fd, struct tb_err *err);

/* A whole regular file mapped read-only; ptr is NULL for an empty file. */
struct tb_file_map {
    const void *ptr;
    size_t size;
};
/* Opens through tb_file_open_read. Errors name the path: TB_EIO "PATH:
 * cannot open|map ...: reason", "PATH: is a FIFO, not a regular file". */
int tb_file_map(const char *path, struct tb_file_map *m, struct tb_err *err);
void tb_file_unmap(struct tb_file_map *m);

/* Replacing a file atomically: write to f, then tb_file_replace_commit()
 * flushes, syncs and renames the temporary (same directory) over path; on
 * any failure the temporary is removed and path is untouched. */
struct tb_file_replace {
    FILE *f;
    char *path; /* copies, owned */
    char *tmp;
};
int tb_file_replace_open(const char *path, struct tb_file_replace *r, struct tb_err *err);
/* write_errno: first error the caller saw writing to f (0 if none), so the
 * message says why. Always releases r. TB_EIO "PATH: what (temporary T): reason". */
int tb_file_replace_commit(struct tb_file_replace *r, int write_errno, struct tb_err *err);

/* ---- memory and CPU facts (platform_posix_system.c); 0 when unknown */

size_t tb_page_size(void);
uint64_t tb_phys_mem_bytes(void);
/* Gives the whole pages inside [p, p + n) back to the OS (file-backed
 * mappings re-read them on the next touch); a hint, no-op if unsupported. */
void tb_pages_drop(const void *p, size_t n);
/* CPUs online, at least 1. */
int tb_cpu_count(void);
/* The CPU's model name into buf (e.g. /proc/cpuinfo "model name"): 1, or
 * 0 with buf untouched when the OS does not say. */
int tb_cpu_model(char *buf, size_t n);

/* ---- clocks (platform_posix.c) */

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

/* Context switches of the calling thread so far (voluntary + involuntary;
 * Linux: getrusage(RUSAGE_THREAD)); 0 when the OS does not say. Unchanged
 * across an interval: the thread stayed on one CPU and never slept. */
uint64_t tb_thread_ctx_switches(void);

/* Hypervisor steal: time the (virtual) CPU `cpu` was runnable but the
 * hypervisor ran something else, cumulative since boot, in ns. *cpu_ns is
 * that CPU's (0 when cpu < 0 or unknown to the OS), *all_ns the sum over all
 * CPUs. 1 when the OS said, 0 when it cannot tell (both left 0). Linux:
 * the `steal` column of /proc/stat (per-CPU lines and the `cpu` total), in
 * USER_HZ ticks: resolution 1e9 / sysconf(_SC_CLK_TCK) ns (10 ms), and the
 * kernel folds the paravirt steal clock in at scheduler ticks. */
int tb_steal_ns(int cpu, uint64_t *cpu_ns, uint64_t *all_ns);

#ifdef __cplusplus
}
#endif
#endif

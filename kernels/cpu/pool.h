/* Persistent thread pool of the cpu backend: n-1 workers plus the calling
 * thread (ith 0). A run hands every thread the same function; threads meet
 * at tb_cpu_pool_barrier (spin with pause, then yield). Idle workers spin a
 * short while after a run, then sleep on a condition variable, so no thread
 * is created and no mutex is taken per op. */
#ifndef TB_CPU_POOL_H
#define TB_CPU_POOL_H

#include "kernels/tb_error.h"

struct tb_cpu_pool;
typedef void (*tb_cpu_pool_fn)(void *arg, int ith, int nth);

/* bind_cpus: NULL, or [n_threads] OS CPU per thread; workers 1..n-1 pin
 * themselves before create returns (thread 0 is the caller, pinned by it). */
int tb_cpu_pool_create(int n_threads, const int *bind_cpus, struct tb_cpu_pool **out,
                       struct tb_err *err);
/* CPU each thread ran on right after pinning (thread 0: at create); returns
 * the count written, 0 when the pool was created without binding. */
int tb_cpu_pool_observed_cpus(const struct tb_cpu_pool *p, int *cpus, int n);
void tb_cpu_pool_free(struct tb_cpu_pool *p);
int tb_cpu_pool_size(const struct tb_cpu_pool *p);
/* fn(arg, ith, nth) on every thread; returns when all of them returned. */
void tb_cpu_pool_run(struct tb_cpu_pool *p, tb_cpu_pool_fn fn, void *arg);
/* All nth threads of the current run must call it the same number of times. */
void tb_cpu_pool_barrier(struct tb_cpu_pool *p);

#endif

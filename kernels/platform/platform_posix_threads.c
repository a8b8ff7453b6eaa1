/* tb_platform.h threads and locks on POSIX (pthreads). */
#include "kernels/platform/tb_platform.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

struct tb_thread {
    pthread_t id;
};

struct tb_mutex {
    pthread_mutex_t mu;
};

struct tb_cond {
    pthread_cond_t cv;
};

int tb_thread_start(tb_thread_fn fn, void *arg, struct tb_thread **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_thread *t = malloc(sizeof *t);
    if (!t)
        return tb_err_set(err, TB_ENOMEM, "thread: out of memory");
    const int e = pthread_create(&t->id, NULL, fn, arg);
    if (e) {
        free(t);
        return tb_err_set(err, TB_EBACKEND, "thread: cannot start: error %d", e);
    }
    *out = t;
    return TB_OK;
}

void tb_thread_join(struct tb_thread *t)
{
    if (!t)
        return;
    pthread_join(t->id, NULL);
    free(t);
}

void tb_thread_yield(void)
{
    sched_yield();
}

int tb_thread_pin_self(int cpu)
{
#if defined(__linux__)
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)cpu;
    return ENOSYS;
#endif
}

int tb_thread_current_cpu(void)
{
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

int tb_mutex_create(struct tb_mutex **out, struct tb_err *err)
{
    *out = malloc(sizeof **out);
    if (!*out)
        return tb_err_set(err, TB_ENOMEM, "mutex: out of memory");
    pthread_mutex_init(&(*out)->mu, NULL);
    return TB_OK;
}

void tb_mutex_free(struct tb_mutex *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void tb_mutex_lock(struct tb_mutex *m)
{
    pthread_mutex_lock(&m->mu);
}

void tb_mutex_unlock(struct tb_mutex *m)
{
    pthread_mutex_unlock(&m->mu);
}

int tb_cond_create(struct tb_cond **out, struct tb_err *err)
{
    *out = malloc(sizeof **out);
    if (!*out)
        return tb_err_set(err, TB_ENOMEM, "condition variable: out of memory");
    pthread_cond_init(&(*out)->cv, NULL);
    return TB_OK;
}

void tb_cond_free(struct tb_cond *c)
{
    if (!c)
        return;
    pthread_cond_destroy(&c->cv);
    free(c);
}

void tb_cond_wait(struct tb_cond *c, struct tb_mutex *m)
{
    pthread_cond_wait(&c->cv, &m->mu);
}

void tb_cond_broadcast(struct tb_cond *c)
{
    pthread_cond_broadcast(&c->cv);
}

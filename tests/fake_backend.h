/* Test-only backends for the scheduler and the silent-fallback detector,
 * built from a vtable (tb_backend_impl.h), never in the global registry.
 * All wrap a cpu-ref backend for the arithmetic; what differs is what they
 * CLAIM and what evidence they report:
 *   FAKE_HONEST     a "GPU" whose work is device work: one launch per op
 *                   and device time covering the op (it sleeps, so the
 *                   host CPU stays idle); declines Q4_0 weights
 *   FAKE_LIAR_ZERO  claims a GPU, computes on the host, 0 launches
 *   FAKE_LIAR_FAKE  claims a GPU, computes on the host, reports 1 launch
 *                   and no device time
 *   FAKE_LIAR_NONE  claims a GPU, computes on the host, keeps no evidence
 * corrupt = 1 adds 1.0 to every f32 output (output-agreement tests).
 * stall_ns (fake_backend_stall) sleeps after each op outside any device
 * time: wall time grows while host CPU does not, as when the process is
 * descheduled on a loaded machine. */
#ifndef TB_FAKE_BACKEND_H
#define TB_FAKE_BACKEND_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdio.h>

#include "kernels/tb_backend_impl.h"
#include "kernels/tb_sched.h"

enum fake_mode { FAKE_HONEST, FAKE_LIAR_ZERO, FAKE_LIAR_FAKE, FAKE_LIAR_NONE };

struct fake_ctx {
    struct tb_backend *inner;
    enum fake_mode mode;
    enum tb_device_kind kind;
    int corrupt;
    long device_sleep_ns;
    int decline_silu; /* for unsupported-op */
    long stall_ns;    /* "descheduled" after the op: wall without CPU */
    struct tb_op_evidence evd;
};

static inline const char *fake_name(void *ctx)
{
    switch (((struct fake_ctx *)ctx)->mode) {
    case FAKE_HONEST: return "fake-honest";
    case FAKE_LIAR_ZERO: return "fake-liar-zero";
    case FAKE_LIAR_FAKE: return "fake-liar-fake";
    default: return "fake-liar-none";
    }
}

static inline enum tb_device_kind fake_kind(void *ctx)
{
    return ((struct fake_ctx *)ctx)->kind;
}

static inline bool fake_supports(void *ctx, const struct tb_op *op)
{
    struct fake_ctx *c = ctx;
    if (c->mode == FAKE_HONEST && op->kind == TB_OP_MATMUL && op->src[0]->type == TB_TYPE_Q4_0)
        return false;
    if (c->decline_silu && op->kind == TB_OP_SILU)
        return false;
    return tb_backend_supports_op(c->inner, op);
}

static inline int fake_compute(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    struct fake_ctx *c = ctx;
    const uint64_t t0 = tb_now_ns();
    int rc = tb_backend_compute_op(c->inner, op, err);
    if (rc)
        return rc;
    if (c->corrupt && op->dst->type == TB_TYPE_F32) {
        float *d = op->dst->data;
        for (int64_t i = 0; i < tb_tensor_nelements(op->dst); i++)
            d[i] += 1.0f;
    }
    c->evd.last_launches = c->evd.last_device_ns = 0;
    if (c->mode == FAKE_HONEST) {
        /* the "device" runs for device_sleep_ns while the host sleeps */
        const struct timespec ts = {0, c->device_sleep_ns};
        nanosleep(&ts, NULL);
        c->evd.last_launches = 1;
        c->evd.last_device_ns = tb_now_ns() - t0;
    } else if (c->mode == FAKE_LIAR_FAKE) {
        c->evd.last_launches = 1;
    }
    c->evd.total_launches += c->evd.last_launches;
    c->evd.total_device_ns += c->evd.last_device_ns;
    if (c->stall_ns > 0) {
        const struct timespec st = {c->stall_ns / 1000000000L, c->stall_ns % 1000000000L};
        nanosleep(&st, NULL);
    }
    return TB_OK;
}

static inline int fake_evidence(void *ctx, struct tb_op_evidence *out)
{
    *out = ((struct fake_ctx *)ctx)->evd;
    return TB_OK;
}

static inline void fake_free(void *ctx)
{
    struct fake_ctx *c = ctx;
    tb_backend_free(c->inner);
    free(c);
}

/* NULL on failure (test asserts). */
static inline struct tb_backend *fake_backend_create(enum fake_mode mode, enum tb_device_kind kind,
                                                     int corrupt)
{
    struct fake_ctx *c = calloc(1, sizeof *c);
    struct tb_backend *b = calloc(1, sizeof *b);
    if (!c || !b || tb_backend_create("cpu-ref", NULL, &c->inner, NULL)) {
        free(c);
        free(b);
        return NULL;
    }
    c->mode = mode;
    c->kind = kind;
    c->corrupt = corrupt;
    c->device_sleep_ns = 200000;
    b->iface = (struct tb_backend_i){
        .name = fake_name,
        .device_kind = fake_kind,
        .supports_op = fake_supports,
        .compute_op = fake_compute,
        .free = fake_free,
        .op_evidence = mode == FAKE_LIAR_NONE ? NULL : fake_evidence,
    };
    b->context = c;
    return b;
}

static inline void fake_backend_stall(struct tb_backend *b, long ns)
{
    ((struct fake_ctx *)b->context)->stall_ns = ns;
}

static inline void fake_backend_decline_silu(struct tb_backend *b)
{
    ((struct fake_ctx *)b->context)->decline_silu = 1;
}

/* A small graph: f32 matmul, q4_0 matmul, add, silu; or (big = 1) three
 * f32 matmuls large enough for the host-time rule. */
struct test_graph {
    struct tb_graph g;
    struct tb_tensor x, w, wq, h1, h2, h3;
    float *buf;
    void *wqbuf;
};

static inline int test_graph_build(struct test_graph *t, int64_t K, int64_t N, int64_t n, int big)
{
    memset(t, 0, sizeof *t);
    const size_t nx = (size_t)(K * n), nw = (size_t)(K * N), nh = (size_t)(N * n);
    t->buf = calloc(nx + nw + 3 * nh, sizeof(float));
    t->wqbuf = malloc(tb_row_size(TB_TYPE_Q4_0, K) * (size_t)N);
    if (!t->buf || !t->wqbuf || tb_graph_init(&t->g, 8))
        return -1;
    float *x = t->buf, *w = x + nx;
    uint32_t seed = 12345;
    for (size_t i = 0; i < nx + nw; i++) {
        seed = seed * 1664525u + 1013904223u;
        t->buf[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.25f;
    }
    for (int64_t r = 0; r < N; r++)
        tb_quantize_row(TB_TYPE_Q4_0, w + r * K,
                        (char *)t->wqbuf + r * tb_row_size(TB_TYPE_Q4_0, K), K);
    const int64_t xe[2] = {K, n}, we[2] = {K, N}, he[2] = {N, n};
    tb_tensor_init(&t->x, TB_TYPE_F32, 2, xe, x, "x");
    tb_tensor_init(&t->w, TB_TYPE_F32, 2, we, w, "w");
    tb_tensor_init(&t->wq, TB_TYPE_Q4_0, 2, we, t->wqbuf, "wq");
    tb_tensor_init(&t->h1, TB_TYPE_F32, 2, he, w + nw, "h1");
    tb_tensor_init(&t->h2, TB_TYPE_F32, 2, he, w + nw + nh, "h2");
    tb_tensor_init(&t->h3, TB_TYPE_F32, 2, he, w + nw + 2 * nh, "h3");
    int ok = 1;
    if (big) {
        ok = ok && tb_graph_add(&t->g, TB_OP_MATMUL, "mm1", 0, NULL, &t->h1, &t->w, &t->x, NULL);
        ok = ok && tb_graph_add(&t->g, TB_OP_MATMUL, "mm2", 0, NULL, &t->h2, &t->w, &t->x, NULL);
        ok = ok && tb_graph_add(&t->g, TB_OP_MATMUL, "mm3", 0, NULL, &t->h3, &t->w, &t->x, NULL);
    } else {
        ok = ok && tb_graph_add(&t->g, TB_OP_MATMUL, "mm_f32", 0, NULL, &t->h1, &t->w, &t->x, NULL);
        ok = ok && tb_graph_add(&t->g, TB_OP_MATMUL, "mm_q4", 0, NULL, &t->h2, &t->wq, &t->x, NULL);
        ok = ok && tb_graph_add(&t->g, TB_OP_ADD, "add", 0, NULL, &t->h1, &t->h1, &t->h2, NULL);
        ok = ok && tb_graph_add(&t->g, TB_OP_SILU, "silu", 0, NULL, &t->h1, &t->h1, NULL, NULL);
    }
    return ok ? 0 : -1;
}

static inline void test_graph_free(struct test_graph *t)
{
    tb_graph_free(&t->g);
    free(t->buf);
    free(t->wqbuf);
}

/* An entry around a backend (b NULL: unavailable with reason). */
static inline struct tb_sched_entry test_entry(const char *label, struct tb_backend *b,
                                               int want_kind, const char *reason)
{
    struct tb_sched_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.label, sizeof e.label, "%s", label);
    e.b = b;
    e.want_kind = want_kind;
    if (reason)
        snprintf(e.disabled_reason, sizeof e.disabled_reason, "%s", reason);
    return e;
}

#endif

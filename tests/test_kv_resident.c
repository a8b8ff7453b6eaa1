/* KV cache residency on the accelerator backends (opencl on PoCL here;
 * cuda where a GPU is present, else skipped with its reason): decoding
 * mcu-260k (Q8_0) token by token keeps the caches on the device, so the
 * host->device bytes per decode token stay constant instead of growing by
 * one K and one V row per layer and position (TB_ACCEL_KV_RESIDENT=0 gives
 * that old behaviour as the baseline, and so do caches without
 * TB_TENSOR_STATE), with logits equal to cpu-ref's.
 * Correctness when something else writes the cache: a new sequence at
 * position 0 in the same state, a host write announced with
 * tb_backend_host_written, and mixed placements through tb_sched (ATTENTION
 * on cpu-ref, or KV_STORE on cpu-ref with exactly one uploaded K and V row
 * per layer and token), in plain and in evidence mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/tb_backend_impl.h"
#include "kernels/tb_sched.h"
#include "tb_test.h"
#include "workloads/tb_llama.h"

enum { N_PRE = 4, N_DEC = 24, N_CTX = 32 };

struct fix {
    const char *backend;
    const struct tb_llama_model *m;
    struct tb_backend *ref;
    int32_t V;
    uint64_t kv_row; /* bytes of one K (or V) cache row */
    int n_layers;
};

/* Token i of sequence seq: sequences differ, so stale device rows from an
 * earlier sequence (or a freed state whose address came back) would show. */
static int32_t tok_at(int seq, int i, int32_t V)
{
    return (int32_t)(((int64_t)i * (37 + 16 * seq) + 11 + 4 * seq) % V);
}

static int backend_runner(void *ctx, const struct tb_graph *g, uint64_t *op_ns, struct tb_err *err)
{
    return tb_backend_compute_graph(ctx, g, 0, g->n_ops, op_ns, err);
}

/* One eval of n tokens at pos0 on st (through run) and on rs (cpu-ref);
 * checks the last-row logits agree. */
static void step(const struct fix *f, const char *label, tb_llama_graph_runner run, void *rctx,
                 struct tb_llama_state *st, struct tb_llama_state *rs, const int32_t *tk, int32_t n,
                 int32_t pos0)
{
    struct tb_err err = {0};
    int rc = tb_llama_eval_with(f->m, st, run, rctx, tk, n, pos0, TB_LLAMA_LAST_LOGITS, NULL, &err);
    CHECKF(rc == TB_OK, "%s %s pos %d: %s", f->backend, label, pos0, err.msg);
    rc = tb_llama_eval(f->m, rs, f->ref, tk, n, pos0, TB_LLAMA_LAST_LOGITS, NULL, &err);
    CHECKF(rc == TB_OK, "ref pos %d: %s", pos0, err.msg);
    const float *a = tb_llama_logits(st, 0), *b = tb_llama_logits(rs, 0);
    double worst = 0, scale = 0;
    int32_t ia = 0, ib = 0;
    for (int32_t j = 0; j < f->V; j++) {
        const double d = fabs((double)a[j] - b[j]);
        worst = (d > worst || isnan(d)) ? (isnan(d) ? INFINITY : d) : worst;
        scale = fmax(scale, fabs((double)b[j]));
        ia = a[j] > a[ia] ? j : ia;
        ib = b[j] > b[ib] ? j : ib;
    }
    /* f32 activations on both sides, same weights: float rounding only */
    CHECKF(worst <= 1e-4 * scale + 1e-5 && ia == ib,
           "%s %s pos %d: max logit diff %.3g (scale %.3g), top-1 %d vs %d", f->backend, label,
           pos0, worst, scale, ia, ib);
}

static struct tb_op_evidence evidence(struct tb_backend *b)
{
    struct tb_op_evidence e = {0};
    struct tb_err err = {0};
    CHECKF(tb_backend_op_evidence(b, &e, &err) == TB_OK, "%s", err.msg);
    return e;
}

/* Prefill N_PRE then decode N_DEC tokens on b alone; h2d[i] / kv[i]: bytes
 * uploaded for decode token i (all, and KV rows into the resident copy).
 * unflag: caches without TB_TENSOR_STATE (host writes unannounced). */
static void decode_run(const struct fix *f, struct tb_backend *b, const char *label, int unflag,
                       uint64_t *h2d, uint64_t *d2h, uint64_t *kv)
{
    struct tb_err err = {0};
    struct tb_llama_state *st = NULL, *rs = NULL;
    CHECK(tb_llama_state_build(f->m, 8, N_CTX, &st, &err) == TB_OK);
    CHECK(tb_llama_state_build(f->m, 8, N_CTX, &rs, &err) == TB_OK);
    if (!st || !rs)
        goto out;
    for (int l = 0; l < f->n_layers; l++) {
        CHECK((st->k_cache[l].flags & TB_TENSOR_STATE) && (st->v_cache[l].flags & TB_TENSOR_STATE));
        if (unflag) {
            st->k_cache[l].flags &= ~TB_TENSOR_STATE;
            st->v_cache[l].flags &= ~TB_TENSOR_STATE;
        }
    }
    int32_t tk[N_PRE + N_DEC];
    for (int i = 0; i < N_PRE + N_DEC; i++)
        tk[i] = tok_at(0, i, f->V);
    step(f, label, backend_runner, b, st, rs, tk, N_PRE, 0);
    for (int i = 0; i < N_DEC; i++) {
        const struct tb_op_evidence e0 = evidence(b);
        step(f, label, backend_runner, b, st, rs, tk + N_PRE + i, 1, N_PRE + i);
        const struct tb_op_evidence e1 = evidence(b);
        h2d[i] = e1.total_h2d_bytes - e0.total_h2d_bytes;
        d2h[i] = e1.total_d2h_bytes - e0.total_d2h_bytes;
        kv[i] = e1.total_kv_h2d_bytes - e0.total_kv_h2d_bytes;
        /* one graph = one compute call: last_* is this token's */
        CHECK(e1.last_h2d_bytes == h2d[i] && e1.last_kv_h2d_bytes == kv[i]);
    }
out:
    tb_llama_state_free(st);
    tb_llama_state_free(rs);
}

static void test_decode(const struct fix *f, struct tb_backend *b)
{
    uint64_t h2d[N_DEC], d2h[N_DEC], kv[N_DEC];
    decode_run(f, b, "resident", 0, h2d, d2h, kv);
    for (int i = 0; i < N_DEC; i++) {
        /* the new rows come from device activations: nothing to upload */
        CHECKF(kv[i] == 0, "%s: token %d uploaded %llu KV bytes", f->backend, i,
               (unsigned long long)kv[i]);
        CHECKF(h2d[i] == h2d[0] && d2h[i] == d2h[0],
               "%s: token %d moved %llu/%llu bytes in/out, token 0 %llu/%llu", f->backend, i,
               (unsigned long long)h2d[i], (unsigned long long)d2h[i], (unsigned long long)h2d[0],
               (unsigned long long)d2h[0]);
    }
    /* baseline: residency off, the whole visible cache goes up per token */
    setenv("TB_ACCEL_KV_RESIDENT", "0", 1);
    struct tb_backend *b0 = NULL;
    struct tb_err err = {0};
    CHECKF(tb_backend_create(f->backend, NULL, &b0, &err) == TB_OK, "%s", err.msg);
    unsetenv("TB_ACCEL_KV_RESIDENT");
    if (!b0)
        return;
    uint64_t h0[N_DEC], d0[N_DEC], k0[N_DEC], h1[N_DEC], d1[N_DEC], k1[N_DEC];
    decode_run(f, b0, "per-call upload", 0, h0, d0, k0);
    /* caches not flagged as backend state are never kept either */
    decode_run(f, b, "unflagged caches", 1, h1, d1, k1);
    const uint64_t per_pos = 2 * (uint64_t)f->n_layers * f->kv_row;
    for (int i = 1; i < N_DEC; i++) {
        CHECKF(h0[i] - h0[i - 1] == per_pos && k0[i] == 0,
               "%s baseline: token %d uploaded %llu bytes, token %d %llu (want +%llu)", f->backend,
               i, (unsigned long long)h0[i], i - 1, (unsigned long long)h0[i - 1],
               (unsigned long long)per_pos);
        CHECKF(h1[i] == h0[i] && k1[i] == 0,
               "%s unflagged: token %d uploaded %llu bytes, "
               "baseline %llu",
               f->backend, i, (unsigned long long)h1[i], (unsigned long long)h0[i]);
    }
    CHECK(h2d[N_DEC - 1] < h0[N_DEC - 1]);
    printf("%s: host->device bytes per decode token: resident %llu (constant), per-call "
           "%llu at position %d growing %llu per position; device->host %llu\n",
           f->backend, (unsigned long long)h2d[N_DEC - 1], (unsigned long long)h0[N_DEC - 1],
           N_PRE + N_DEC - 1, (unsigned long long)per_pos, (unsigned long long)d2h[N_DEC - 1]);
    tb_backend_free(b0);
}

/* Same state reused: a new sequence from position 0, then a cache row
 * rewritten by another backend outside any scheduler and announced. */
static void test_rewrites(const struct fix *f, struct tb_backend *b)
{
    struct tb_err err = {0};
    struct tb_llama_state *st = NULL, *rs = NULL;
    CHECK(tb_llama_state_build(f->m, 8, N_CTX, &st, &err) == TB_OK);
    CHECK(tb_llama_state_build(f->m, 8, N_CTX, &rs, &err) == TB_OK);
    if (!st || !rs)
        goto out;
    for (int seq = 0; seq < 2; seq++)
        for (int i = 0; i < 10; i++) {
            const int32_t t = tok_at(seq, i, f->V);
            step(f, seq ? "second sequence" : "first sequence", backend_runner, b, st, rs, &t, 1,
                 i);
        }
    /* position 10: token A on b, then token B at the same position on
     * cpu-ref directly into st's cache (b's device rows now stale) */
    const int32_t A = 3, B = 200, C = 77;
    step(f, "token A", backend_runner, b, st, rs, &A, 1, 10);
    CHECK(tb_llama_eval(f->m, st, f->ref, &B, 1, 10, TB_LLAMA_LAST_LOGITS, NULL, &err) == TB_OK);
    CHECK(tb_llama_eval(f->m, rs, f->ref, &B, 1, 10, TB_LLAMA_LAST_LOGITS, NULL, &err) == TB_OK);
    for (int l = 0; l < f->n_layers; l++) {
        tb_backend_host_written(b, tb_tensor_row(&st->k_cache[l], 10), (size_t)f->kv_row);
        tb_backend_host_written(b, tb_tensor_row(&st->v_cache[l], 10), (size_t)f->kv_row);
    }
    const struct tb_op_evidence e0 = evidence(b);
    step(f, "after a host write", backend_runner, b, st, rs, &C, 1, 11);
    const struct tb_op_evidence e1 = evidence(b);
    /* the announced row went up again, and the one after it (its KV_STORE
     * lay past the known-current rows), not the whole cache */
    const uint64_t kv = e1.total_kv_h2d_bytes - e0.total_kv_h2d_bytes;
    CHECKF(kv == 4 * (uint64_t)f->n_layers * f->kv_row, "%s: %llu KV bytes re-uploaded", f->backend,
           (unsigned long long)kv);
out:
    tb_llama_state_free(st);
    tb_llama_state_free(rs);
}

/* ---- a wrapper that declines one op kind, so tb_sched splits the graph */

struct decline {
    struct tb_backend *inner;
    enum tb_op_kind kind;
};

static const char *dc_name(void *ctx)
{
    return tb_backend_name(((struct decline *)ctx)->inner);
}
static enum tb_device_kind dc_kind(void *ctx)
{
    return tb_backend_device_kind(((struct decline *)ctx)->inner);
}
static bool dc_supports(void *ctx, const struct tb_op *op)
{
    struct decline *d = ctx;
    return op->kind != d->kind && tb_backend_supports_op(d->inner, op);
}
static int dc_compute_op(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    return tb_backend_compute_op(((struct decline *)ctx)->inner, op, err);
}
static int dc_compute_graph(void *ctx, const struct tb_graph *g, int first, int count,
                            uint64_t *op_ns, struct tb_err *err)
{
    return tb_backend_compute_graph(((struct decline *)ctx)->inner, g, first, count, op_ns, err);
}
static int dc_evidence(void *ctx, struct tb_op_evidence *out)
{
    return tb_backend_op_evidence(((struct decline *)ctx)->inner, out, NULL);
}
static int dc_sync(void *ctx, struct tb_err *err)
{
    return tb_backend_synchronize(((struct decline *)ctx)->inner, err);
}
static void dc_written(void *ctx, const void *host, size_t n)
{
    tb_backend_host_written(((struct decline *)ctx)->inner, host, n);
}
static void dc_free(void *ctx)
{
    (void)ctx; /* the inner backend belongs to the caller */
}

static void test_mixed(const struct fix *f, struct tb_backend *b, enum tb_op_kind declined,
                       int with_evidence)
{
    struct decline d = {b, declined};
    struct tb_backend w = {.iface = {.name = dc_name,
                                     .device_kind = dc_kind,
                                     .supports_op = dc_supports,
                                     .compute_op = dc_compute_op,
                                     .free = dc_free,
                                     .compute_graph = dc_compute_graph,
                                     .op_evidence = dc_evidence,
                                     .synchronize = dc_sync,
                                     .host_written = dc_written},
                           .context = &d};
    struct tb_sched_entry e[2];
    memset(e, 0, sizeof e);
    snprintf(e[0].label, sizeof e[0].label, "%s", f->backend);
    e[0].b = &w;
    e[0].want_kind = -1;
    snprintf(e[1].label, sizeof e[1].label, "cpu-ref");
    e[1].b = f->ref;
    e[1].want_kind = -1;
    struct tb_err err = {0};
    struct tb_sched *s = NULL;
    struct tb_llama_state *st = NULL, *rs = NULL;
    struct tb_op_run_evidence *ops = NULL;
    CHECKF(tb_sched_create(e, 2, NULL, &s, &err) == TB_OK, "%s", err.msg);
    CHECK(tb_llama_state_build(f->m, 8, N_CTX, &st, &err) == TB_OK);
    CHECK(tb_llama_state_build(f->m, 8, N_CTX, &rs, &err) == TB_OK);
    if (!s || !st || !rs)
        goto out;
    struct tb_sched_evidence ev = {.ref = f->ref, .check_period = 3};
    if (with_evidence) {
        ev.cap = 4096;
        ev.ops = ops = calloc((size_t)ev.cap, sizeof *ops);
    }
    struct tb_sched_run run = {.sched = s, .evidence = with_evidence ? &ev : NULL};
    const char *label =
        declined == TB_OP_ATTENTION ? "attention on cpu-ref" : "kv_store on cpu-ref";
    int32_t tk[N_PRE + 12];
    for (int i = 0; i < N_PRE + 12; i++)
        tk[i] = tok_at(2 + 2 * (int)declined + with_evidence, i, f->V);
    step(f, label, tb_sched_graph_runner, &run, st, rs, tk, N_PRE, 0);
    for (int i = N_PRE; i < N_PRE + 12; i++) {
        const struct tb_op_evidence e0 = evidence(b);
        step(f, label, tb_sched_graph_runner, &run, st, rs, tk + i, 1, i);
        const struct tb_op_evidence e1 = evidence(b);
        const uint64_t kv = e1.total_kv_h2d_bytes - e0.total_kv_h2d_bytes;
        /* cpu-ref's new rows go up, one K and one V row per layer */
        const uint64_t want =
            declined == TB_OP_KV_STORE ? 2 * (uint64_t)f->n_layers * f->kv_row : 0;
        CHECKF(kv == want, "%s %s: token %d uploaded %llu KV bytes, want %llu", f->backend, label,
               i, (unsigned long long)kv, (unsigned long long)want);
        /* per op (evidence mode): each attention's own K and V row */
        for (int o = 0; with_evidence && o < st->graph.n_ops; o++)
            if (st->graph.ops[o].kind == TB_OP_ATTENTION)
                CHECKF(ops[o].kv_h2d_bytes == want / (uint64_t)f->n_layers,
                       "%s: %s uploaded %llu KV bytes", f->backend, st->graph.ops[o].name,
                       (unsigned long long)ops[o].kv_h2d_bytes);
    }
    /* the plan really split KV_STORE and ATTENTION */
    const struct tb_sched_plan *pl = NULL;
    CHECK(tb_sched_plan(s, &st->graph, &pl, &err) == TB_OK);
    int n_split = 0;
    for (int i = 0; pl && i < pl->n_ops; i++) {
        const enum tb_op_kind k = st->graph.ops[i].kind;
        if (k == TB_OP_KV_STORE || k == TB_OP_ATTENTION)
            n_split += pl->ops[i].entry == (k == declined ? 1 : 0);
    }
    CHECKF(n_split == 3 * f->n_layers, "%s %s: %d of %d KV ops placed as asked", f->backend, label,
           n_split, 3 * f->n_layers);
    printf("%s: %s%s: logits match cpu-ref over %d tokens\n", f->backend, label,
           with_evidence ? " (evidence mode)" : "", N_PRE + 12);
out:
    free(ops);
    tb_llama_state_free(st);
    tb_llama_state_free(rs);
    tb_sched_free(s);
}

static int run_backend(const struct fix *f)
{
    struct tb_err err = {0};
    struct tb_backend *b = NULL;
    if (tb_backend_create(f->backend, NULL, &b, &err) != TB_OK) {
        printf("SKIP %s: %s\n", f->backend, err.msg);
        return 0;
    }
    test_decode(f, b);
    test_rewrites(f, b);
    test_mixed(f, b, TB_OP_ATTENTION, 0);
    test_mixed(f, b, TB_OP_KV_STORE, 0);
    test_mixed(f, b, TB_OP_KV_STORE, 1);
    tb_backend_free(b);
    return 1;
}

int main(void)
{
    const clock_t t0 = clock();
    char path[512];
    tb_test_path(path, sizeof path, "kvres", ".gguf");
    struct tb_err err = {0};
    struct tb_llama_model *m = NULL;
    struct tb_backend *ref = NULL;
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q8_0, 11, path, &err) == TB_OK, "%s", err.msg);
    CHECKF(tb_llama_load(path, &m, &err) == TB_OK, "%s", err.msg);
    CHECK(tb_backend_create("cpu-ref", NULL, &ref, &err) == TB_OK);
    int n_run = 0;
    if (m && ref) {
        const struct tb_llama_config *c = &m->config;
        struct fix f = {.m = m,
                        .ref = ref,
                        .V = c->vocab_size,
                        .kv_row = (uint64_t)c->head_dim * (uint64_t)c->n_kv_heads * sizeof(float),
                        .n_layers = c->n_layers};
        static const char *const names[2] = {"opencl", "cuda"};
        for (int i = 0; i < 2; i++) {
            f.backend = names[i];
            n_run += run_backend(&f);
        }
    }
    tb_backend_free(ref);
    tb_llama_free(m);
    remove(path);
    printf("cpu time %.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    if (n_run == 0 && tb_test_failures == 0) {
        printf("SKIP test_kv_resident: no accelerator backend starts here\n");
        return TB_SKIP_CODE;
    }
    return tb_test_result("test_kv_resident");
}

/* tierbench-kernels benchmarks (see kernels_bench.h). Cases run in
 * registration order, so the tensors of one (case, type) are built once and
 * reused by every backend variant before the next case replaces them. */
#include "harness/bench/kernels_bench.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/bench/tb_bench.h"
#include "harness/tb_counters.h"
#include "harness/tb_roofline.h"
#include "harness/tb_stats.h" /* tb_rng */
#include "harness/tb_topo.h"
#include "kernels/cpu/cpu_kernels.h" /* tb_cpu_weight_packed */
#include "kernels/platform/tb_platform.h"
#include "kernels/tb_backend.h"

/* ---- the table ---- */

struct kb_case {
    enum tb_op_kind op;
    int64_t k, n_out, rows; /* matmul W [k x n_out], X [k x rows]; rms_norm x [k x rows] */
    int32_t head_dim, n_head, n_head_kv, ctx; /* rope (+ rows), attention (+ rows) */
    bool ref; /* also on cpu-ref (the scalar ground truth is slow on big GEMMs) */
};

/* clang-format off */
#define GEMV(K, N) {.op = TB_OP_MATMUL, .k = K, .n_out = N, .rows = 1, .ref = true}
#define GEMM(K, N, B, REF) {.op = TB_OP_MATMUL, .k = K, .n_out = N, .rows = B, .ref = REF}
#define RMS(K, B) {.op = TB_OP_RMS_NORM, .k = K, .rows = B, .ref = true}
#define ROPE(HD, NH, B) {.op = TB_OP_ROPE, .head_dim = HD, .n_head = NH, .rows = B, .ref = true}
#define ATTN(HD, NH, NKV, CTX)                                                              \
    {.op = TB_OP_ATTENTION, .head_dim = HD, .n_head = NH, .n_head_kv = NKV, .ctx = CTX,     \
     .rows = 1, .ref = true}

static const struct kb_case k_cases[] = {
    /* decode GEMV, per synthetic model: stories15m (dim 288, ffn 768, vocab
     * 32000), tinyllama-1.1b (2048, kv 256, ffn 5632), llama3-8b (4096, ffn 14336) */
    GEMV(288, 288), GEMV(288, 768), GEMV(768, 288), GEMV(288, 32000),
    GEMV(2048, 2048), GEMV(2048, 256), GEMV(2048, 5632), GEMV(5632, 2048), GEMV(2048, 32000),
    GEMV(4096, 4096), GEMV(4096, 14336), GEMV(14336, 4096),
    /* prefill GEMM, tinyllama shapes */
    GEMM(2048, 2048, 16, true), GEMM(2048, 2048, 128, false), GEMM(2048, 2048, 512, false),
    GEMM(2048, 5632, 16, true), GEMM(2048, 5632, 128, false), GEMM(2048, 5632, 512, false),
    GEMM(5632, 2048, 128, false),
    RMS(288, 1), RMS(2048, 1), RMS(4096, 1), RMS(2048, 128),
    ROPE(64, 32, 1), ROPE(128, 32, 1), ROPE(64, 32, 128),
    /* decode attention at three context lengths: tinyllama and llama3-8b heads */
    ATTN(64, 32, 4, 128), ATTN(64, 32, 4, 512), ATTN(64, 32, 4, 2048),
    ATTN(128, 32, 8, 128), ATTN(128, 32, 8, 512), ATTN(128, 32, 8, 2048),
};
/* clang-format on */

static const enum tb_type k_weight_types[] = {TB_WTYPES(TB_WTYPE_ID)}; /* matmul cases */

/* Backend variants: cpu-ref, "cpu" capped at each ISA level, "cpu" at
 * AVX-512 with weights kept in the file's layout (the kernels a weight runs
 * on when its shape cannot be repacked; matmul only), then the accelerator
 * backends (skipped with their disabled reason where absent). */
enum { V_REF, V_CPU0, V_CPU_FILE = V_CPU0 + TB_ISA_COUNT, V_OPENCL, V_CUDA, V_COUNT };

static const char *variant_backend(int v)
{
    return v == V_REF ? "cpu-ref" : v == V_OPENCL ? "opencl" : v == V_CUDA ? "cuda" : "cpu";
}

static void variant_name(int v, char *buf, size_t n)
{
    if (v == V_CPU_FILE)
        snprintf(buf, n, "cpu-%s-filelayout", tb_isa_name(TB_ISA_AVX512));
    else if (v >= V_CPU0 && v < V_OPENCL)
        snprintf(buf, n, "cpu-%s", tb_isa_name((enum tb_isa)(v - V_CPU0)));
    else
        snprintf(buf, n, "%s", variant_backend(v));
}

/* ISA whose peak bounds the variant: cpu-ref is plain C; accelerators have
 * no host ceiling (TB_ISA_COUNT: no pct_* counters). */
static enum tb_isa variant_isa(int v)
{
    return v == V_REF        ? TB_ISA_SCALAR
           : v == V_CPU_FILE ? TB_ISA_AVX512
           : v < V_OPENCL    ? (enum tb_isa)(v - V_CPU0)
                             : TB_ISA_COUNT;
}

/* ---- state ---- */

enum kb_ceil_kind { CEIL_TRIAD, CEIL_READ, CEIL_FMA, CEIL_INT8, CEIL_KINDS };
static const char *const k_ceil_names[CEIL_KINDS] = {"membw_triad", "membw_read", "fma_f32",
                                                     "int8_vpdpbusd"};

struct kb_ceiling {
    enum kb_ceil_kind kind;
    enum tb_isa isa; /* compute kinds */
    int threads;
    int rc;
    struct tb_roofline_result r;
    char msg[TB_ERR_MSG_MAX];
};
#define MAX_CEILINGS 32
#define KB_MAX_UNSUPPORTED 64

struct kb_item {
    struct tb_kbench *kb;
    const struct kb_case *c; /* NULL: a roofline item */
    enum tb_type type;
    int variant;
    enum kb_ceil_kind ceil; /* roofline items */
    enum tb_isa isa;        /* roofline items */
    int threads;            /* roofline items */
};

/* The tensors of the current (case, type); rebuilt when either changes. */
#define KB_MAX_COPIES 64

struct kb_data {
    const struct kb_case *c;
    enum tb_type type;
    void *buf[4]; /* owned */
    struct tb_tensor src[3], dst;
    struct tb_graph g;
    /* GEMV: copies 1.. of the weight (0 is src[0]), used in turn */
    void *wbuf[KB_MAX_COPIES]; /* owned, [0] unused */
    struct tb_tensor w[KB_MAX_COPIES];
    int n_w, next_w;
};

struct tb_kbench {
    struct tb_kbench_opts opts;
    int n_threads; /* resolved */
    struct kb_item *items;
    int n_items, cap_items;
    struct kb_data data;
    struct kb_ceiling ceil[MAX_CEILINGS];
    int n_ceil;
    /* one backend per variant, made on first use (PoCL compiles its kernels
     * once), or the reason it could not be made */
    struct tb_backend *backends[V_COUNT];
    char backend_err[V_COUNT][TB_ERR_MSG_MAX];
    struct tb_counters *counters; /* PAPI, per iteration; NULL if not created */
    double probe[8];              /* tensor data of case_supported's ops (never read) */
    char unsupported[KB_MAX_UNSUPPORTED][128]; /* tb_unsupported/... keys already in the context */
    int n_unsupported;
};

static struct tb_backend *variant_backend_get(struct tb_kbench *kb, int v, const char **why)
{
    if (!kb->backends[v] && !kb->backend_err[v][0]) {
        struct tb_backend_config cfg;
        tb_backend_config_default(&cfg);
        cfg.n_threads = kb->n_threads;
        if (v >= V_CPU0 && v < V_OPENCL)
            cfg.isa_cap = variant_isa(v);
        cfg.no_repack = v == V_CPU_FILE;
        struct tb_err err = {0};
        if (tb_backend_create(variant_backend(v), &cfg, &kb->backends[v], &err))
            snprintf(kb->backend_err[v], sizeof kb->backend_err[v], "%s",
                     err.msg[0] ? err.msg : "backend unavailable");
    }
    *why = kb->backend_err[v];
    return kb->backends[v];
}

/* ---- tensors ---- */

static void data_free(struct kb_data *d)
{
    for (int i = 0; i < 4; i++)
        free(d->buf[i]);
    for (int i = 1; i < d->n_w; i++)
        free(d->wbuf[i]);
    tb_graph_free(&d->g);
    memset(d, 0, sizeof *d);
}

static void fill_uniform(float *x, int64_t n, struct tb_rng *rng)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * tb_rng_uniform(rng) - 1.0); /* [-1, 1) */
}

/* Allocates slot i as a rows x ne0 tensor of type t filled with random values. */
static int make_tensor(struct kb_data *d, int i, struct tb_tensor *t, enum tb_type type,
                       int64_t ne0, int64_t ne1, const char *name, struct tb_rng *rng,
                       struct tb_err *err)
{
    const size_t row = tb_row_size(type, ne0);
    if (!row)
        return tb_err_set(err, TB_EINVAL,
                          "kernels bench: %s: %lld is not a multiple of the %s block", name,
                          (long long)ne0, tb_type_name(type));
    d->buf[i] = aligned_alloc(64, (row * (size_t)ne1 + 63) & ~(size_t)63);
    float *tmp = malloc((size_t)ne0 * sizeof *tmp);
    int rc = TB_OK;
    if (!d->buf[i] || !tmp) {
        rc = tb_err_set(err, TB_ENOMEM, "kernels bench: %s: cannot allocate %lld x %lld %s", name,
                        (long long)ne0, (long long)ne1, tb_type_name(type));
        goto done;
    }
    for (int64_t r = 0; r < ne1; r++) {
        fill_uniform(tmp, ne0, rng);
        tb_quantize_row(type, tmp, (char *)d->buf[i] + (size_t)r * row, ne0);
    }
    rc = tb_tensor_init(t, type, 2, (const int64_t[]){ne0, ne1}, d->buf[i], name);
    if (rc)
        tb_err_set(err, rc, "kernels bench: cannot make tensor %s", name);
done:
    free(tmp);
    return rc;
}

/* Copies of the GEMV weight until they span cold_bytes (at most
 * KB_MAX_COPIES), so the timed loop streams them from DRAM. */
static int make_weight_copies(struct kb_data *d, uint64_t cold_bytes, struct tb_err *err)
{
    const size_t bytes = tb_tensor_nbytes(&d->src[0]);
    uint64_t n = cold_bytes / (bytes ? bytes : 1) + 1;
    n = n > KB_MAX_COPIES ? KB_MAX_COPIES : n;
    d->w[0] = d->src[0];
    d->n_w = 1;
    for (int i = 1; i < (int)n; i++) {
        d->wbuf[i] = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!d->wbuf[i])
            return tb_err_set(err, TB_ENOMEM,
                              "kernels bench: cannot allocate weight copy %d of "
                              "%zu bytes",
                              i, bytes);
        memcpy(d->wbuf[i], d->src[0].data, bytes);
        d->w[i] = d->src[0];
        d->w[i].data = d->wbuf[i];
        d->n_w = i + 1;
    }
    return TB_OK;
}

/* The tensors and params of a case, by role (0..2: src[0..2], 3: dst). */
struct kb_role {
    bool used;
    enum tb_type type;
    int64_t ne0, ne1;
    const char *name;
};
struct kb_layout {
    struct kb_role t[4];
    struct tb_op_params p;
};

static int case_layout(const struct kb_case *c, enum tb_type type, struct kb_layout *L,
                       struct tb_err *err)
{
    memset(L, 0, sizeof *L);
#define ROLE(r, TY, NE0, NE1, NAME)                                                                \
    L->t[r] = (struct kb_role)                                                                     \
    {                                                                                              \
        true, TY, NE0, NE1, NAME                                                                   \
    }
    switch (c->op) {
    case TB_OP_MATMUL:
        ROLE(0, type, c->k, c->n_out, "w");
        ROLE(1, TB_TYPE_F32, c->k, c->rows, "x");
        ROLE(3, TB_TYPE_F32, c->n_out, c->rows, "y");
        break;
    case TB_OP_RMS_NORM:
        L->p.eps = 1e-5f;
        ROLE(0, TB_TYPE_F32, c->k, c->rows, "x");
        ROLE(1, TB_TYPE_F32, c->k, 1, "w");
        ROLE(3, TB_TYPE_F32, c->k, c->rows, "y");
        break;
    case TB_OP_ROPE:
        L->p = (struct tb_op_params){
            .rope_theta = 10000.0f, .n_head = c->n_head, .head_dim = c->head_dim};
        ROLE(0, TB_TYPE_F32, (int64_t)c->head_dim * c->n_head, c->rows, "x");
        ROLE(3, TB_TYPE_F32, (int64_t)c->head_dim * c->n_head, c->rows, "y");
        break;
    case TB_OP_ATTENTION: {
        L->p = (struct tb_op_params){.scale = 1.0f / sqrtf((float)c->head_dim),
                                     .pos0 = c->ctx - (int32_t)c->rows,
                                     .n_head = c->n_head,
                                     .n_head_kv = c->n_head_kv,
                                     .head_dim = c->head_dim};
        const int64_t q_dim = (int64_t)c->head_dim * c->n_head,
                      kv_dim = (int64_t)c->head_dim * c->n_head_kv;
        ROLE(0, TB_TYPE_F32, q_dim, c->rows, "q");
        ROLE(1, TB_TYPE_F32, kv_dim, c->ctx, "k_cache");
        ROLE(2, TB_TYPE_F32, kv_dim, c->ctx, "v_cache");
        ROLE(3, TB_TYPE_F32, q_dim, c->rows, "y");
        break;
    }
    default:
        return tb_err_set(err, TB_EINVAL, "kernels bench: no case builder for op %s",
                          tb_op_kind_name(c->op));
    }
#undef ROLE
    return TB_OK;
}

static struct tb_tensor *role_tensor(struct kb_data *d, int r)
{
    return r < 3 ? &d->src[r] : &d->dst;
}

static int data_build(struct kb_data *d, const struct kb_case *c, enum tb_type type,
                      uint64_t cold_bytes, struct tb_err *err)
{
    data_free(d);
    struct tb_rng rng;
    tb_rng_seed(&rng, 42);
    struct kb_layout L;
    int rc = case_layout(c, type, &L, err);
    for (int r = 0; !rc && r < 4; r++) /* buffer slot r, filled in role order */
        if (L.t[r].used)
            rc = make_tensor(d, r, role_tensor(d, r), L.t[r].type, L.t[r].ne0, L.t[r].ne1,
                             L.t[r].name, &rng, err);
    if (!rc && c->op == TB_OP_MATMUL)
        d->src[0].flags = TB_TENSOR_CONST; /* as a model's weights: the cpu backend may repack */
    if (!rc && c->op == TB_OP_MATMUL && c->rows == 1)
        rc = make_weight_copies(d, cold_bytes, err);
    if (!rc && tb_graph_init(&d->g, 1))
        rc = tb_err_set(err, TB_ENOMEM, "kernels bench: cannot allocate a graph");
    if (!rc)
        tb_graph_add(&d->g, c->op, tb_op_kind_name(c->op), -1, &L.p, &d->dst,
                     L.t[0].used ? &d->src[0] : NULL, L.t[1].used ? &d->src[1] : NULL,
                     L.t[2].used ? &d->src[2] : NULL);
    if (rc) {
        data_free(d);
        return rc;
    }
    d->c = c;
    d->type = type;
    return TB_OK;
}

/* Whether backend b runs case c with weights of type: the op is built from
 * tensor headers only (data points at a dummy the check never reads). */
static bool case_supported(struct tb_kbench *kb, struct tb_backend *b, const struct kb_case *c,
                           enum tb_type type)
{
    struct kb_layout L;
    struct tb_err err = {0};
    if (case_layout(c, type, &L, &err))
        return false;
    struct tb_tensor t[4];
    struct tb_op op = {.kind = c->op, .p = L.p, .layer = -1};
    for (int r = 0; r < 4; r++) {
        if (!L.t[r].used)
            continue;
        if (tb_tensor_init(&t[r], L.t[r].type, 2, (const int64_t[]){L.t[r].ne0, L.t[r].ne1},
                           kb->probe, L.t[r].name))
            return false; /* not a whole number of blocks */
        if (r < 3)
            op.src[r] = &t[r];
        else
            op.dst = &t[r];
    }
    if (c->op == TB_OP_MATMUL)
        t[0].flags = TB_TENSOR_CONST;
    tb_op_account(&op);
    return tb_backend_supports_op(b, &op);
}

/* ---- roofline ceilings ----
 * The ceilings behind pct_* are measured once, at registration, for every
 * (kind, ISA) at 1 thread and the cpu backend's count, and written to the
 * report's context as tb_ceiling/KIND[/ISA]/tN (whatever the filter
 * selects). The roofline/... benchmarks measure afresh; pct_* keep using
 * the ceilings in the context, so a reader can recompute them. */

static void ceiling_measure(struct kb_ceiling *e)
{
    struct tb_err err = {0};
    const struct tb_roofline_opts o = {.n_threads = e->threads};
    switch (e->kind) {
    case CEIL_TRIAD: e->rc = tb_roofline_membw(TB_ROOFLINE_TRIAD, &o, &e->r, &err); break;
    case CEIL_READ: e->rc = tb_roofline_membw(TB_ROOFLINE_READ, &o, &e->r, &err); break;
    case CEIL_FMA: e->rc = tb_roofline_fma(e->isa, &o, &e->r, &err); break;
    default: e->rc = tb_roofline_int8(&o, &e->r, &err); break;
    }
    snprintf(e->msg, sizeof e->msg, "%s", err.msg[0] ? err.msg : "measurement failed");
}

/* The stored ceiling (measured now if it is not yet), NULL if the table is full. */
static const struct kb_ceiling *ceiling(struct tb_kbench *kb, enum kb_ceil_kind kind,
                                        enum tb_isa isa, int threads)
{
    if (kind == CEIL_TRIAD || kind == CEIL_READ)
        isa = TB_ISA_COUNT; /* memory: ISA does not matter */
    for (int i = 0; i < kb->n_ceil; i++)
        if (kb->ceil[i].kind == kind && kb->ceil[i].isa == isa && kb->ceil[i].threads == threads)
            return &kb->ceil[i];
    if (kb->n_ceil == MAX_CEILINGS)
        return NULL;
    struct kb_ceiling *e = &kb->ceil[kb->n_ceil++];
    *e = (struct kb_ceiling){.kind = kind, .isa = isa, .threads = threads};
    ceiling_measure(e);
    return e;
}

static const char *ceil_unit(enum kb_ceil_kind k)
{
    return k == CEIL_TRIAD || k == CEIL_READ ? "bytes_per_second"
           : k == CEIL_FMA                   ? "flop_per_second"
                                             : "op_per_second";
}

/* "roofline/membw_read/t2" or "roofline/fma_f32/avx2/t1" after prefix. */
static void ceil_name(const char *prefix, enum kb_ceil_kind kind, enum tb_isa isa, int threads,
                      char *buf, size_t n)
{
    if (isa == TB_ISA_COUNT)
        snprintf(buf, n, "%s/%s/t%d", prefix, k_ceil_names[kind], threads);
    else
        snprintf(buf, n, "%s/%s/%s/t%d", prefix, k_ceil_names[kind], tb_isa_name(isa), threads);
}

/* The ceilings roofline measures: memory (any ISA), f32 FMA per ISA, int8. */
static const struct {
    enum kb_ceil_kind kind;
    enum tb_isa isa; /* TB_ISA_COUNT: memory, any ISA */
} k_roofs[] = {
    {CEIL_TRIAD, TB_ISA_COUNT}, {CEIL_READ, TB_ISA_COUNT}, {CEIL_FMA, TB_ISA_SCALAR},
    {CEIL_FMA, TB_ISA_AVX2},    {CEIL_FMA, TB_ISA_AVX512}, {CEIL_INT8, TB_ISA_AVX512},
};
#define N_ROOFS (sizeof k_roofs / sizeof k_roofs[0])

static int roof_threads(const struct tb_kbench *kb, int *t)
{
    t[0] = 1;
    t[1] = kb->n_threads;
    return kb->n_threads > 1 ? 2 : 1;
}

/* Measures every ceiling and writes it to the context: "VALUE UNIT, median
 * M, best of P passes, T threads" (VALUE first, for strtod), or
 * "unavailable: REASON". */
static void ceilings_to_context(struct tb_kbench *kb)
{
    int threads[2];
    const int n_t = roof_threads(kb, threads);
    for (int t = 0; t < n_t; t++)
        for (size_t i = 0; i < N_ROOFS; i++) {
            const struct kb_ceiling *e = ceiling(kb, k_roofs[i].kind, k_roofs[i].isa, threads[t]);
            char key[96], value[TB_ERR_MSG_MAX + 32];
            ceil_name("tb_ceiling", k_roofs[i].kind, k_roofs[i].isa, threads[t], key, sizeof key);
            if (!e)
                snprintf(value, sizeof value, "unavailable: too many ceilings");
            else if (e->rc)
                snprintf(value, sizeof value, "unavailable: %s", e->msg);
            else
                snprintf(value, sizeof value, "%.6e %s, median %.6e, best of %d passes, %d threads",
                         e->r.best * 1e9, ceil_unit(e->kind), e->r.median * 1e9, e->r.passes,
                         e->r.n_threads);
            tb_bench_add_context(key, value);
        }
}

static void bm_roofline(struct tb_bench_state *st, void *user)
{
    struct kb_item *it = user;
    struct kb_ceiling e = {.kind = it->ceil, .isa = it->isa, .threads = it->threads};
    while (tb_bench_keep_running(st))
        ceiling_measure(&e);
    if (e.rc) {
        tb_bench_skip_with_error(st, e.msg);
        return;
    }
    tb_bench_set_counter(st, ceil_unit(it->ceil), e.r.best * 1e9, TB_BENCH_COUNTER_DEFAULT);
    tb_bench_set_counter(st, "median", e.r.median * 1e9, TB_BENCH_COUNTER_DEFAULT);
    char label[96];
    snprintf(label, sizeof label, "best of %d passes, %d threads", e.r.passes, e.r.n_threads);
    tb_bench_set_label(st, label);
}

/* ---- op benchmarks ---- */

/* Share of a ceiling in percent: the work's rate over the loop's wall time
 * (a clock read just before the first keep_running and just after the
 * last, bracketing Google Benchmark's own real-time measurement) against
 * the ceiling in the context. A plain counter, not a rate, so consoles and
 * compare.py show a percentage (no "/s"). */
static void pct_counter(struct tb_bench_state *st, const char *name, double work, double seconds,
                        const struct kb_ceiling *e)
{
    if (e && !e->rc && e->r.best > 0 && seconds > 0)
        tb_bench_set_counter(st, name, 100.0 * work / seconds / (e->r.best * 1e9),
                             TB_BENCH_COUNTER_DEFAULT);
}

static void bm_op(struct tb_bench_state *st, void *user)
{
    struct kb_item *it = user;
    struct tb_kbench *kb = it->kb;
    struct tb_err err = {0};
    char msg[TB_ERR_MSG_MAX + 64];
    const enum tb_isa isa = variant_isa(it->variant);
    const char *why = NULL; /* registered only where it can run: a safety net */
    struct tb_backend *b = variant_backend_get(kb, it->variant, &why);
    if (!b) {
        tb_bench_skip_with_error(st, why);
        return;
    }
    if ((kb->data.c != it->c || kb->data.type != it->type) &&
        data_build(&kb->data, it->c, it->type, kb->opts.cold_bytes, &err)) {
        tb_bench_skip_with_error(st, err.msg);
        return;
    }
    const struct tb_op *op = &kb->data.g.ops[0];
    /* one untimed run: catches unsupported ops and warms caches and the pool */
    if (!tb_backend_supports_op(b, op)) {
        snprintf(msg, sizeof msg, "backend %s does not support %s with %s weights",
                 tb_backend_name(b), tb_op_kind_name(op->kind), tb_type_name(it->type));
        tb_bench_skip_with_error(st, msg);
        return;
    }
    struct kb_data *d = &kb->data;
    for (int i = 0; i < (d->n_w ? d->n_w : 1); i++) { /* every copy: repacks happen here */
        if (d->n_w)
            d->g.ops[0].src[0] = &d->w[i];
        if (tb_backend_compute_graph(b, &d->g, 0, 1, NULL, &err)) {
            tb_bench_skip_with_error(st, err.msg);
            return;
        }
    }
    int rc = TB_OK;
    struct tb_err ce = {0};
    const int counting = kb->counters && tb_counters_start(kb->counters, &ce) == TB_OK;
    const uint64_t t0 = tb_now_ns();
    while (tb_bench_keep_running(st)) {
        if (d->n_w > 1)
            d->g.ops[0].src[0] = &d->w[d->next_w++ % d->n_w];
        if ((rc = tb_backend_compute_graph(b, &d->g, 0, 1, NULL, &err)))
            tb_bench_skip_with_error(st, err.msg);
    }
    const double seconds = (double)(tb_now_ns() - t0) * 1e-9;
    if (counting && tb_counters_stop(kb->counters, &ce))
        fprintf(stderr, "tierbench-kernels: counters: %s\n", ce.msg);
    if (rc)
        return;

    const int threads = tb_backend_n_threads(b);
    const double iters = (double)tb_bench_iterations(st);
    tb_bench_set_bytes_processed(st, (int64_t)(op->bytes * iters));
    tb_bench_set_counter(st, "flop_per_second", op->flops,
                         TB_BENCH_COUNTER_RATE | TB_BENCH_COUNTER_PER_ITERATION);
    /* PAPI events per iteration, of the benchmark's own thread (pool
     * workers are not counted); events PAPI cannot count are omitted */
    for (int i = 0; counting && i < tb_counters_n(kb->counters); i++) {
        const struct tb_counter *k = tb_counters_get(kb->counters, i);
        if (!k->available)
            continue;
        char cname[80];
        snprintf(cname, sizeof cname, "papi:%s", k->name);
        tb_bench_set_counter(st, cname, (double)k->value / iters, TB_BENCH_COUNTER_DEFAULT);
    }
    if (kb->opts.roofline && isa != TB_ISA_COUNT) {
        pct_counter(st, "pct_membw", op->bytes * iters, seconds,
                    ceiling(kb, CEIL_READ, isa, threads));
        pct_counter(st, "pct_fma_peak", op->flops * iters, seconds,
                    ceiling(kb, CEIL_FMA, isa, threads));
    }
    const enum tb_isa used = tb_backend_isa(b);
    char cold[64] = "";
    if (d->n_w)
        snprintf(cold, sizeof cold, " weight_copies=%d (%.0f MiB)", d->n_w,
                 (double)d->n_w * (double)tb_tensor_nbytes(&d->w[0]) / 1048576.0);
    snprintf(msg, sizeof msg, "backend=%s isa=%s type=%s threads=%d%s%s", tb_backend_name(b),
             used == TB_ISA_COUNT ? "none" : tb_isa_name(used), tb_type_name(it->type), threads,
             op->kind == TB_OP_MATMUL && tb_cpu_weight_packed(b, op->src[0])
                 ? " weights=repacked-x16"
                 : "",
             cold);
    tb_bench_set_label(st, msg);
}

/* The loop alone: what one iteration costs before any work. */
static void bm_empty(struct tb_bench_state *st, void *user)
{
    (void)user;
    while (tb_bench_keep_running(st)) {
    }
}

/* ---- registration ---- */

static struct kb_item *add_item(struct tb_kbench *kb, struct tb_err *err)
{
    if (kb->n_items == kb->cap_items) {
        tb_err_set(err, TB_ENOMEM, "kernels bench: item table full (%d)", kb->cap_items);
        return NULL;
    }
    struct kb_item *it = &kb->items[kb->n_items++];
    memset(it, 0, sizeof *it);
    it->kb = kb;
    return it;
}

static void case_shape(const struct kb_case *c, char *buf, size_t n)
{
    switch (c->op) {
    case TB_OP_MATMUL: snprintf(buf, n, "%lldx%lld", (long long)c->k, (long long)c->n_out); break;
    case TB_OP_RMS_NORM: snprintf(buf, n, "%lld", (long long)c->k); break;
    case TB_OP_ROPE: snprintf(buf, n, "h%dxd%d", c->n_head, c->head_dim); break;
    default:
        snprintf(buf, n, "h%d.kv%d.d%d.ctx%d", c->n_head, c->n_head_kv, c->head_dim, c->ctx);
        break;
    }
}

/* roofline/... benchmarks for the ceilings this CPU has (the others are in
 * the context as tb_ceiling/...: "unavailable: ..."). */
static int register_roofline(struct tb_kbench *kb, struct tb_err *err)
{
    int threads[2];
    const int n_t = roof_threads(kb, threads);
    const enum tb_isa have = tb_isa_detect();
    for (int t = 0; t < n_t; t++)
        for (size_t i = 0; i < N_ROOFS; i++) {
            if (k_roofs[i].isa != TB_ISA_COUNT && k_roofs[i].isa > have)
                continue;
            struct kb_item *it = add_item(kb, err);
            if (!it)
                return TB_ENOMEM;
            it->ceil = k_roofs[i].kind;
            it->isa = k_roofs[i].isa;
            it->threads = threads[t];
            char name[96];
            ceil_name("roofline", it->ceil, it->isa, it->threads, name, sizeof name);
            struct tb_bench_def def = {.name = name,
                                       .fn = bm_roofline,
                                       .user = it,
                                       .iterations = 1,
                                       .repetitions = 1,
                                       .use_real_time = true};
            int rc = tb_bench_register(&def, err);
            if (rc)
                return rc;
        }
    return TB_OK;
}

/* Whether variant v can run here; if not, why (into the context as
 * tb_disabled/VARIANT, once). */
static bool variant_runs(struct tb_kbench *kb, int v)
{
    const enum tb_isa isa = variant_isa(v);
    char name[32], reason[TB_ERR_MSG_MAX + 64];
    const char *why = NULL;
    if (isa != TB_ISA_COUNT && v != V_REF && isa > tb_isa_detect()) {
        snprintf(reason, sizeof reason, "this CPU lacks %s (best level: %s)", tb_isa_name(isa),
                 tb_isa_name(tb_isa_detect()));
        why = reason;
    } else if (!variant_backend_get(kb, v, &why)) {
        snprintf(reason, sizeof reason, "%s", why && *why ? why : "backend unavailable");
        why = reason;
    } else {
        return true;
    }
    variant_name(v, name, sizeof name);
    char key[64];
    snprintf(key, sizeof key, "tb_disabled/%s", name);
    tb_bench_add_context(key, why);
    return false;
}

/* Case c with weights of type on variant v: registered when the backend
 * supports it, else said once per (variant, op, type) in the context as
 * tb_unsupported/VARIANT/OP/TYPE. */
static bool case_runs(struct tb_kbench *kb, int v, const struct kb_case *c, enum tb_type type)
{
    const char *why = NULL;
    struct tb_backend *b = variant_backend_get(kb, v, &why);
    if (b && case_supported(kb, b, c, type))
        return true;
    char name[32], key[128], reason[160];
    variant_name(v, name, sizeof name);
    snprintf(key, sizeof key, "tb_unsupported/%s/%s/%s", name, tb_op_kind_name(c->op),
             tb_type_name(type));
    for (int i = 0; i < kb->n_unsupported; i++)
        if (!strcmp(kb->unsupported[i], key))
            return false;
    if (kb->n_unsupported < KB_MAX_UNSUPPORTED)
        snprintf(kb->unsupported[kb->n_unsupported++], sizeof kb->unsupported[0], "%s", key);
    snprintf(reason, sizeof reason, "backend %s does not support %s with %s weights", name,
             tb_op_kind_name(c->op), tb_type_name(type));
    tb_bench_add_context(key, reason);
    return false;
}

int tb_kbench_register(struct tb_kbench *kb, struct tb_err *err)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", kb->n_threads);
    tb_bench_add_context("tb_threads", threads);
    if (kb->opts.roofline)
        ceilings_to_context(kb);
    else
        tb_bench_add_context("tb_ceiling", "unavailable: not measured (--tb_roofline=0)");
    bool runs[V_COUNT];
    for (int v = 0; v < V_COUNT; v++)
        runs[v] = variant_runs(kb, v);
    struct tb_bench_def empty = {.name = "empty/keep_running", .fn = bm_empty};
    int rc = tb_bench_register(&empty, err);
    if (!rc && kb->opts.roofline)
        rc = register_roofline(kb, err);
    for (size_t i = 0; !rc && i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const struct kb_case *c = &k_cases[i];
        const int n_types =
            c->op == TB_OP_MATMUL ? (int)(sizeof k_weight_types / sizeof k_weight_types[0]) : 1;
        char shape[64];
        case_shape(c, shape, sizeof shape);
        for (int t = 0; !rc && t < n_types; t++)
            for (int v = c->ref ? V_REF : V_CPU0; !rc && v < V_COUNT; v++) {
                const enum tb_type type = c->op == TB_OP_MATMUL ? k_weight_types[t] : TB_TYPE_F32;
                if ((v == V_CPU_FILE && c->op != TB_OP_MATMUL) /* only matmul weights repack */
                    || !runs[v] || !case_runs(kb, v, c, type))
                    continue;
                struct kb_item *it = add_item(kb, err);
                if (!it)
                    return TB_ENOMEM;
                it->c = c;
                it->type = type;
                it->variant = v;
                char backend[32], name[160];
                variant_name(v, backend, sizeof backend);
                snprintf(name, sizeof name, "%s/%s/%s/%s/n%lld", tb_op_kind_name(c->op),
                         tb_type_name(it->type), backend, shape, (long long)c->rows);
                /* wall time: the pool's worker threads do most of the work */
                struct tb_bench_def def = {
                    .name = name, .fn = bm_op, .user = it, .use_real_time = true};
                rc = tb_bench_register(&def, err);
            }
    }
    return rc;
}

uint64_t tb_kbench_default_cold_bytes(void)
{
    struct tb_topo *t = NULL;
    struct tb_err err = {0};
    uint64_t l3 = 0;
    if (tb_topo_open_host(&t, &err) == TB_OK) {
        struct tb_topo_summary s;
        tb_topo_summarize(t, &s);
        l3 = s.l3_bytes * (uint64_t)(s.l3_count > 0 ? s.l3_count : 1);
        tb_topo_free(t);
    }
    return l3 ? 8 * l3 : 256ull << 20;
}

int tb_kbench_create(const struct tb_kbench_opts *opts, struct tb_kbench **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_kbench *kb = calloc(1, sizeof *kb);
    const int n_cases = (int)(sizeof k_cases / sizeof k_cases[0]);
    const int cap =
        n_cases * (int)(sizeof k_weight_types / sizeof k_weight_types[0]) * V_COUNT + 64;
    if (kb)
        kb->items = calloc((size_t)cap, sizeof *kb->items);
    if (!kb || !kb->items) {
        free(kb);
        return tb_err_set(err, TB_ENOMEM, "kernels bench: out of memory");
    }
    if (opts->n_threads < 0) {
        free(kb->items);
        free(kb);
        return tb_err_set(err, TB_EINVAL, "kernels bench: --tb_threads must be >= 0, got %d",
                          opts->n_threads);
    }
    kb->opts = *opts;
    kb->cap_items = cap;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    kb->n_threads = opts->n_threads > 0 ? opts->n_threads : (online > 0 ? (int)online : 1);
    if (opts->events && *opts->events) {
        int rc = tb_counters_create(opts->events, 0, &kb->counters, err);
        if (rc) {
            tb_kbench_free(kb);
            return rc;
        }
        const char *off = tb_counters_disabled_reason(kb->counters);
        for (int i = 0; i < tb_counters_n(kb->counters); i++) {
            const struct tb_counter *k = tb_counters_get(kb->counters, i);
            if (!k->available) /* said once, then omitted from every result */
                fprintf(stderr, "tierbench-kernels: event %s unavailable: %s\n", k->name,
                        off ? off : k->reason);
        }
    }
    *out = kb;
    return TB_OK;
}

void tb_kbench_free(struct tb_kbench *kb)
{
    if (!kb)
        return;
    data_free(&kb->data);
    for (int v = 0; v < V_COUNT; v++)
        tb_backend_free(kb->backends[v]);
    tb_counters_free(kb->counters);
    free(kb->items);
    free(kb);
}

/* The "cpu" backend against "cpu-ref": every op, every ISA level this host
 * has (capped through isa_cap), 1..4 threads, odd sizes, canaries after
 * every output to catch out-of-bounds writes; quantized matmuls also
 * across ISA levels (they share the activation quantization, so they must
 * agree far tighter than with the f32 reference). Plus compute_graph with
 * per-op times, set_n_threads and shape errors. */
#include "tb_test.h"

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_graph.h"
#include "kernels/tb_wtypes.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#define CANARY 0x5au
#define PAD 64 /* canary bytes after each buffer */

static uint64_t rng = 88172645463325252ull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* A tensor with its own buffer plus PAD canary bytes. */
struct buf {
    struct tb_tensor t;
    unsigned char *mem;
    size_t bytes;
};

static void buf_init(struct buf *b, enum tb_type type, int64_t ne0, int64_t ne1, const char *name)
{
    const int64_t ne[2] = {ne0, ne1};
    b->bytes = tb_row_size(type, ne0) * (size_t)ne1;
    b->mem = malloc(b->bytes + PAD);
    memset(b->mem, CANARY, b->bytes + PAD);
    tb_tensor_init(&b->t, type, 2, ne, b->mem, name);
}

static void buf_fill(struct buf *b, float scale)
{
    const int64_t K = b->t.ne[0], rows = b->t.ne[1];
    float *row = malloc((size_t)K * sizeof *row);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t k = 0; k < K; k++)
            row[k] = scale * frand();
        tb_quantize_row(b->t.type, row, tb_tensor_row(&b->t, r), K);
    }
    free(row);
}

static bool canary_ok(const struct buf *b)
{
    for (size_t i = 0; i < PAD; i++)
        if (b->mem[b->bytes + i] != CANARY)
            return false;
    return true;
}

static void buf_free(struct buf *b)
{
    free(b->mem);
}

/* max |a - b| / max(max |b|, floor) over n floats; floor is the
 * typical magnitude, so a single near-zero result does not blow up */
static double rel_err(const float *a, const float *b, int64_t n, double floor)
{
    double m = floor, e = 0;
    for (int64_t i = 0; i < n; i++) {
        m = fmax(m, fabs(b[i]));
        e = fmax(e, fabs((double)a[i] - b[i]));
        if (isnan(a[i]) != isnan(b[i]))
            return INFINITY;
    }
    return e / m;
}

static int run1(struct tb_backend *be, struct tb_op *op)
{
    struct tb_err err = {0};
    int rc = tb_backend_compute_op(be, op, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", tb_backend_name(be), err.msg);
    return rc;
}

/* The reference result of `op` (dst reset to canary first). */
static void ref_result(struct tb_backend *ref, struct tb_op *op, struct buf *dst, float *out)
{
    memset(dst->mem, CANARY, dst->bytes + PAD);
    CHECK(run1(ref, op) == 0);
    memcpy(out, dst->mem, dst->bytes);
}

/* Runs op on `be` into a fresh (canary) dst, compares with want. */
static void check_op(struct tb_backend *be, struct tb_op *op, struct buf *dst, const float *want,
                     double tol, double floor, const char *what)
{
    memset(dst->mem, CANARY, dst->bytes + PAD);
    CHECKF(run1(be, op) == 0, "%s", what);
    const double e = rel_err((const float *)dst->mem, want, (int64_t)(dst->bytes / 4), floor);
    CHECKF(e <= tol, "%s (%s, %d threads): rel err %g > %g", what, tb_isa_name(tb_backend_isa(be)),
           tb_backend_n_threads(be), e, tol);
    CHECKF(canary_ok(dst), "%s: write past the end of dst", what);
}

static struct tb_backend *make(const char *name, enum tb_isa cap, int threads)
{
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.isa_cap = cap;
    cfg.n_threads = threads;
    struct tb_backend *b = NULL;
    struct tb_err err = {0};
    if (tb_backend_create(name, &cfg, &b, &err)) {
        fprintf(stderr, "create %s: %s\n", name, err.msg);
        return NULL;
    }
    return b;
}

static const enum tb_type k_wtypes[] = {TB_WTYPES(TB_WTYPE_ID)};

static void test_matmul(struct tb_backend *ref, struct tb_backend **cpu, int n_isa)
{
    static const int64_t Ks[] = {32, 96, 320};
    static const int64_t Ns[] = {1, 7, 17, 36};
    static const int64_t ns[] = {1, 3, 5, 17};
    /* (K, N, n) cases: the cross product, then one with long rows so the
     * kernels' activation chunks (about 256 KiB) split the rows */
    int64_t cases[3 * 4 * 4 + 7][3];
    int n_cases = 0;
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t c = 0; c < 4; c++, n_cases++) {
                cases[n_cases][0] = Ks[a];
                cases[n_cases][1] = Ns[b];
                cases[n_cases][2] = ns[c];
            }
    cases[n_cases][0] = 4096, cases[n_cases][1] = 40, cases[n_cases][2] = 23, n_cases++;
    /* whole 256-blocks, for the K-quants (which skip the other K) */
    cases[n_cases][0] = 256, cases[n_cases][1] = 17, cases[n_cases][2] = 5, n_cases++;
    cases[n_cases][0] = 768, cases[n_cases][1] = 7, cases[n_cases][2] = 1, n_cases++;
    /* shapes the AVX-512 16-row repacked layouts take (N % 16 == 0, and
     * K % 64 == 0 for q8_0/q4_0) */
    cases[n_cases][0] = 64, cases[n_cases][1] = 16, cases[n_cases][2] = 1, n_cases++;
    cases[n_cases][0] = 128, cases[n_cases][1] = 48, cases[n_cases][2] = 9, n_cases++;
    cases[n_cases][0] = 2048, cases[n_cases][1] = 32, cases[n_cases][2] = 19, n_cases++;
    /* f16 repacks any K; q8_0/q4_0 fall back to the file's layout here */
    cases[n_cases][0] = 96, cases[n_cases][1] = 32, cases[n_cases][2] = 5, n_cases++;
    struct tb_graph g;
    tb_graph_init(&g, 1);
    for (size_t t = 0; t < TB_WTYPE_COUNT; t++)
        for (int cs = 0; cs < n_cases; cs++) {
            const enum tb_type wt = k_wtypes[t];
            /* f32/f16 rows need no blocks: also try a ragged K */
            const int64_t K = cases[cs][0] + (wt <= TB_TYPE_F16 && cases[cs][0] == 320 ? 5 : 0);
            const int64_t N = cases[cs][1], n = cases[cs][2];
            if (K % tb_type_traits(wt)->block_size != 0)
                continue; /* K-quants: rows of whole 256-blocks only */
            struct buf W, X, D;
            buf_init(&W, wt, K, N, "W");
            buf_init(&X, TB_TYPE_F32, K, n, "X");
            buf_init(&D, TB_TYPE_F32, N, n, "D");
            buf_fill(&W, 1.0f);
            buf_fill(&X, 2.0f);
            /* every other case: weights as a model gives them (constant),
             * which lets the cpu backend use a repacked copy; W is freed
             * and another one may land at the same address next case */
            if (cs % 2 || N % 16 == 0)
                W.t.flags = TB_TENSOR_CONST;
            tb_graph_reset(&g);
            struct tb_op *op =
                tb_graph_add(&g, TB_OP_MATMUL, "mm", -1, NULL, &D.t, &W.t, &X.t, NULL);
            float *want = malloc(D.bytes), *first = malloc(D.bytes);
            ref_result(ref, op, &D, want);
            char what[96];
            snprintf(what, sizeof what, "matmul %s K %lld N %lld n %lld", tb_type_name(wt),
                     (long long)K, (long long)N, (long long)n);
            /* q8 activations are the only extra error for quantized W */
            const double tol = wt == TB_TYPE_F32 ? 1e-5 : wt == TB_TYPE_F16 ? 1e-4 : 2e-2;
            for (int i = 0; i < n_isa; i++) {
                check_op(cpu[i], op, &D, want, tol, 0.5 * sqrt((double)K), what);
                if (i == 0)
                    memcpy(first, D.mem, D.bytes);
                else /* same quantized activations on every ISA */
                    CHECKF(rel_err((float *)D.mem, first, (int64_t)(D.bytes / 4), 1e-3) <= 2e-5,
                           "%s: %s disagrees with scalar", what,
                           tb_isa_name(tb_backend_isa(cpu[i])));
            }
            free(want);
            free(first);
            buf_free(&W);
            buf_free(&X);
            buf_free(&D);
        }
    tb_graph_free(&g);
    /* the AVX-512 level took the repacked path for the shapes that fit */
    for (int i = 0; i < n_isa; i++)
        CHECKF((tb_backend_isa(cpu[i]) == TB_ISA_AVX512) == (tb_cpu_packed_bytes(cpu[i]) > 0),
               "%s: %zu bytes of repacked weights", tb_isa_name(tb_backend_isa(cpu[i])),
               tb_cpu_packed_bytes(cpu[i]));
}

/* rms_norm, rope (in place too), silu, mul, add, get_rows, kv_store,
 * attention on one small transformer-like shape (head_dim 64 and 128 take
 * the AVX-512 group kernel, with full and partial head blocks). */
static void test_other_ops(struct tb_backend *ref, struct tb_backend **cpu, int n_isa, int hd,
                           int nh, int nkv)
{
    const int n = 5, pos0 = 20, n_ctx = 27, V = 9;
    const int64_t dim = hd * nh, kvd = hd * nkv;
    struct tb_op_params p = {.eps = 1e-5f,
                             .rope_theta = 10000.0f,
                             .scale = 1.0f / sqrtf(hd),
                             .pos0 = pos0,
                             .n_head = nh,
                             .n_head_kv = nkv,
                             .head_dim = hd};
    struct tb_graph g;
    tb_graph_init(&g, 1);
    struct buf x, y, w, d, ids;
    buf_init(&x, TB_TYPE_F32, dim, n, "x");
    buf_init(&y, TB_TYPE_F32, dim, n, "y");
    buf_init(&w, TB_TYPE_F32, dim, 1, "w");
    buf_init(&d, TB_TYPE_F32, dim, n, "d");
    buf_init(&ids, TB_TYPE_I32, n, 1, "ids");
    buf_fill(&x, 3.0f);
    buf_fill(&y, 1.0f);
    buf_fill(&w, 1.0f);
    for (int i = 0; i < n; i++)
        ((int32_t *)ids.mem)[i] = (i * 7 + 2) % V;
    float *want = malloc(d.bytes);
    const enum tb_op_kind kinds[] = {TB_OP_RMS_NORM, TB_OP_ROPE, TB_OP_SILU, TB_OP_MUL, TB_OP_ADD};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        tb_graph_reset(&g);
        const struct tb_tensor *s1 = kinds[k] == TB_OP_RMS_NORM                         ? &w.t
                                     : (kinds[k] == TB_OP_MUL || kinds[k] == TB_OP_ADD) ? &y.t
                                                                                        : NULL;
        struct tb_op *op =
            tb_graph_add(&g, kinds[k], tb_op_kind_name(kinds[k]), 0, &p, &d.t, &x.t, s1, NULL);
        ref_result(ref, op, &d, want);
        for (int i = 0; i < n_isa; i++)
            check_op(cpu[i], op, &d, want, 2e-6, 1e-3, tb_op_kind_name(kinds[k]));
    }
    /* rope in place: dst aliases src */
    {
        struct buf xr;
        buf_init(&xr, TB_TYPE_F32, dim, n, "xr");
        tb_graph_reset(&g);
        struct tb_op *op =
            tb_graph_add(&g, TB_OP_ROPE, "rope_inplace", 0, &p, &xr.t, &xr.t, NULL, NULL);
        for (int i = 0; i < n_isa; i++) {
            memcpy(xr.mem, x.mem, x.bytes);
            CHECK(run1(cpu[i], op) == 0);
            memcpy(want, xr.mem, xr.bytes);
            memcpy(xr.mem, x.mem, x.bytes);
            CHECK(run1(ref, op) == 0);
            CHECKF(rel_err(want, (float *)xr.mem, dim * n, 1e-3) <= 2e-6, "rope in place %s",
                   tb_isa_name(tb_backend_isa(cpu[i])));
        }
        buf_free(&xr);
    }
    /* get_rows from every table type */
    for (size_t t = 0; t < TB_WTYPE_COUNT; t++) {
        if (dim % tb_type_traits(k_wtypes[t])->block_size != 0)
            continue; /* K-quants: dim 768 and 512 */
        struct buf tab;
        buf_init(&tab, k_wtypes[t], dim, V, "table");
        buf_fill(&tab, 1.0f);
        tb_graph_reset(&g);
        struct tb_op *op =
            tb_graph_add(&g, TB_OP_GET_ROWS, "get_rows", -1, NULL, &d.t, &tab.t, &ids.t, NULL);
        ref_result(ref, op, &d, want);
        for (int i = 0; i < n_isa; i++)
            check_op(cpu[i], op, &d, want, 0.0, 1e-3, tb_type_name(k_wtypes[t]));
        buf_free(&tab);
    }
    /* kv_store then attention, f32 and f16 caches */
    for (int c16 = 0; c16 < 2; c16++) {
        const enum tb_type ct = c16 ? TB_TYPE_F16 : TB_TYPE_F32;
        struct buf kc, vc, kx, ref_kc;
        buf_init(&kc, ct, kvd, n_ctx, "k_cache");
        buf_init(&vc, ct, kvd, n_ctx, "v_cache");
        buf_init(&ref_kc, ct, kvd, n_ctx, "ref_cache");
        buf_init(&kx, TB_TYPE_F32, kvd, n, "k");
        buf_fill(&kc, 1.0f);
        buf_fill(&vc, 1.0f);
        buf_fill(&kx, 1.0f);
        memcpy(ref_kc.mem, kc.mem, kc.bytes);
        tb_graph_reset(&g);
        struct tb_op *op =
            tb_graph_add(&g, TB_OP_KV_STORE, "kv_store", 0, &p, &ref_kc.t, &kx.t, NULL, NULL);
        CHECK(run1(ref, op) == 0);
        for (int i = 0; i < n_isa; i++) {
            unsigned char *save = malloc(kc.bytes);
            memcpy(save, kc.mem, kc.bytes);
            op->dst = &kc.t;
            CHECK(run1(cpu[i], op) == 0);
            CHECKF(memcmp(kc.mem, ref_kc.mem, kc.bytes) == 0, "kv_store %s %s", tb_type_name(ct),
                   tb_isa_name(tb_backend_isa(cpu[i])));
            CHECK(canary_ok(&kc));
            memcpy(kc.mem, save, kc.bytes);
            free(save);
        }
        for (int nc = 0; nc < 2; nc++) { /* causal, then bidirectional (embeddings) */
            char label[48];
            snprintf(label, sizeof label, "attention%s %s", nc ? " non-causal" : "",
                     tb_type_name(ct));
            struct tb_op_params pa = p;
            pa.non_causal = nc;
            tb_graph_reset(&g);
            op = tb_graph_add(&g, TB_OP_ATTENTION, "attention", 0, &pa, &d.t, &x.t, &kc.t, &vc.t);
            ref_result(ref, op, &d, want);
            for (int i = 0; i < n_isa; i++)
                check_op(cpu[i], op, &d, want, 2e-5, 1e-3, label);
        }
        buf_free(&kc);
        buf_free(&vc);
        buf_free(&ref_kc);
        buf_free(&kx);
    }
    free(want);
    buf_free(&x);
    buf_free(&y);
    buf_free(&w);
    buf_free(&d);
    buf_free(&ids);
    tb_graph_free(&g);
}

/* A chain of ops through compute_graph with per-op times, errors, threads. */
static void test_graph_and_errors(struct tb_backend *ref, struct tb_backend *cpu)
{
    const int64_t K = 64, N = 48, n = 3;
    struct buf W, x, h, h2, out, bad;
    buf_init(&W, TB_TYPE_Q4_0, K, N, "W");
    buf_init(&x, TB_TYPE_F32, K, n, "x");
    buf_init(&h, TB_TYPE_F32, N, n, "h");
    buf_init(&h2, TB_TYPE_F32, N, n, "h2");
    buf_init(&out, TB_TYPE_F32, N, n, "out");
    buf_init(&bad, TB_TYPE_F32, N + 1, n, "bad");
    buf_fill(&W, 1.0f);
    buf_fill(&x, 1.0f);
    struct tb_graph g;
    tb_graph_init(&g, 4);
    tb_graph_add(&g, TB_OP_MATMUL, "mm", 0, NULL, &h.t, &W.t, &x.t, NULL);
    tb_graph_add(&g, TB_OP_SILU, "silu", 0, NULL, &h2.t, &h.t, NULL, NULL);
    tb_graph_add(&g, TB_OP_MUL, "mul", 0, NULL, &out.t, &h2.t, &h.t, NULL);
    uint64_t ns[3] = {0};
    struct tb_err err = {0};
    CHECK(tb_backend_compute_graph(ref, &g, 0, 3, NULL, &err) == 0);
    float want[48 * 3];
    memcpy(want, out.mem, sizeof want);
    for (int t = 1; t <= 4; t++) {
        CHECK(tb_backend_set_n_threads(cpu, t, &err) == 0);
        CHECK(tb_backend_n_threads(cpu) == t);
        memset(out.mem, 0, out.bytes);
        CHECK(tb_backend_compute_graph(cpu, &g, 0, 3, ns, &err) == 0);
        CHECK(ns[0] > 0 && ns[1] > 0 && ns[2] > 0);
        CHECKF(rel_err((float *)out.mem, want, N * n, 1e-3) <= 3e-2, "graph, %d threads", t);
    }
    /* a bad op anywhere in the range fails before anything runs */
    tb_graph_add(&g, TB_OP_ADD, "bad_add", 0, NULL, &bad.t, &h.t, &h2.t, NULL);
    memset(out.mem, 0, out.bytes);
    tb_err_clear(&err);
    CHECK(tb_backend_compute_graph(cpu, &g, 0, 4, NULL, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "bad_add") != NULL, "message names the op: %s", err.msg);
    CHECK(((float *)out.mem)[0] == 0.0f);
    CHECK(!tb_backend_supports_op(cpu, &g.ops[3]));
    CHECK(tb_backend_supports_op(cpu, &g.ops[0]));
    /* unsupported weight type, out-of-range id */
    struct buf wi, ids;
    buf_init(&wi, TB_TYPE_I32, K, N, "wi");
    buf_init(&ids, TB_TYPE_I32, n, 1, "ids");
    memset(wi.mem, 0, wi.bytes);
    tb_graph_reset(&g);
    tb_graph_add(&g, TB_OP_MATMUL, "mm_i32", 0, NULL, &h.t, &wi.t, &x.t, NULL);
    CHECK(!tb_backend_supports_op(cpu, &g.ops[0]));
    int32_t *id = (int32_t *)ids.mem;
    id[0] = 0, id[1] = N, id[2] = 1;
    tb_graph_reset(&g);
    tb_graph_add(&g, TB_OP_GET_ROWS, "embd", -1, NULL, &x.t, &W.t, &ids.t, NULL);
    CHECK(tb_backend_compute_op(cpu, &g.ops[0], &err) == TB_EINVAL);
    CHECK(tb_backend_set_n_threads(cpu, 0, &err) == TB_EINVAL);
    buf_free(&wi);
    buf_free(&ids);
    tb_graph_free(&g);
    buf_free(&W);
    buf_free(&x);
    buf_free(&h);
    buf_free(&h2);
    buf_free(&out);
    buf_free(&bad);
}

/* Workers pin themselves to the CPUs given in the config and report where
 * they ran; worker 0 is the caller, pinned by the caller. */
static void test_binding(void)
{
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    if (online < 1 || sched_getaffinity(0, sizeof set, &set)) {
        printf("binding: cannot read this process's CPUs, skipped\n");
        return;
    }
    int cpus[2], n = 0;
    for (int c = CPU_SETSIZE - 1; c >= 0 && n < 2; c--) /* last CPUs first: not just CPU 0 */
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    if (n < 2) {
        printf("binding: fewer than 2 usable CPUs, only the single-thread case checked\n");
        cpus[1] = cpus[0];
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[0], &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = 2;
    cfg.bind_cpus = cpus;
    struct tb_backend *b = NULL;
    struct tb_err err = {0};
    CHECKF(tb_backend_create("cpu", &cfg, &b, &err) == TB_OK, "%s", err.msg);
    if (b) {
        int seen[4] = {-1, -1, -1, -1};
        CHECK(tb_backend_thread_cpus(b, seen, 4) == 2);
        CHECKF(seen[0] == cpus[0] && seen[1] == cpus[1], "observed %d,%d want %d,%d", seen[0],
               seen[1], cpus[0], cpus[1]);
        tb_backend_free(b);
    }
    /* without a binding nothing is claimed */
    cfg.bind_cpus = NULL;
    CHECK(tb_backend_create("cpu", &cfg, &b, &err) == TB_OK);
    if (b) {
        int seen[2];
        CHECK(tb_backend_thread_cpus(b, seen, 2) == 0);
        tb_backend_free(b);
    }
    sched_setaffinity(0, sizeof set, &set); /* restore */
}

int main(void)
{
    test_binding();
    struct tb_backend *ref = make("cpu-ref", TB_ISA_COUNT, 1);
    CHECK(ref != NULL);
    if (!ref)
        return tb_test_result("test_cpu_backend");
    const enum tb_isa best = tb_isa_detect();
    for (int threads = 1; threads <= 4; threads++) {
        struct tb_backend *cpu[TB_ISA_COUNT] = {0};
        int n_isa = 0;
        for (int isa = 0; isa <= (int)best; isa++) {
            cpu[n_isa] = make("cpu", (enum tb_isa)isa, threads);
            CHECK(cpu[n_isa] != NULL);
            if (!cpu[n_isa])
                break;
            CHECK(tb_backend_isa(cpu[n_isa]) == (enum tb_isa)isa);
            CHECK(tb_backend_n_threads(cpu[n_isa]) == threads);
            n_isa++;
        }
        printf("threads %d: isa levels scalar..%s\n", threads, tb_isa_name(best));
        test_matmul(ref, cpu, n_isa);
        test_other_ops(ref, cpu, n_isa, 24, 4, 2);
        test_other_ops(ref, cpu, n_isa, 64, 12, 2);
        test_other_ops(ref, cpu, n_isa, 128, 4, 1);
        for (int i = 0; i < n_isa; i++)
            tb_backend_free(cpu[i]);
    }
    struct tb_backend *cpu = make("cpu", TB_ISA_COUNT, 2);
    CHECK(cpu && tb_backend_isa(cpu) == best);
    if (cpu)
        test_graph_and_errors(ref, cpu);
    tb_backend_free(cpu);
    tb_backend_free(ref);
    return tb_test_result("test_cpu_backend");
}

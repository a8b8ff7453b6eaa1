/* Cross-backend op test: every op x type x shape on every registered backend
 * other than cpu-ref (and, for "cpu", every ISA level this CPU has, with 1
 * and 2 threads) is compared with cpu-ref, the scalar double-accumulating
 * ground truth. cpu-ref itself is first checked on hand-computed answers.
 *
 * Every output buffer sits between guard bytes (a canary pattern) checked
 * after each op; outputs start as NaN bytes, so an element a backend forgets
 * to write shows up; inputs are compared with a copy after each op (an op
 * must not write its sources, except ROPE's allowed in-place form).
 *
 * Tolerances are per output element: the one contract of tests/op_contract.h
 * (shared with the accelerator tests), which says why each bound holds.
 * The weight types are the list of kernels/tb_wtypes.h. */
#include "kernels/tb_backend.h"
#include "kernels/tb_backend_impl.h" /* cpu-ref's compute_op, past the supports_op gate */
#include "kernels/tb_error.h"
#include "kernels/tb_graph.h"
#include "kernels/tb_tensor.h"
#include "kernels/tb_types.h"
#include "op_contract.h"
#include "tb_test.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

/* ---- fixed-seed PRNG (splitmix64) */

static uint64_t g_seed = 0x5eed0f7e57ab1e5ull;

static uint64_t rng_next(void)
{
    uint64_t z = (g_seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) / 9007199254740992.0);
}

/* ---- guarded buffers: data sits between two canary zones */

#define GUARD 64

struct gbuf {
    unsigned char *base;
    size_t n; /* data bytes */
};

static unsigned char canary(size_t i)
{
    return (unsigned char)(0xa5 ^ (i * 29));
}

static void *gbuf_alloc(struct gbuf *g, size_t n)
{
    g->n = n;
    g->base = malloc(n + 2 * GUARD);
    if (!g->base) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < GUARD; i++) {
        g->base[i] = canary(i);
        g->base[GUARD + n + i] = canary(i + GUARD);
    }
    return g->base + GUARD;
}

static bool gbuf_guards_ok(const struct gbuf *g)
{
    for (size_t i = 0; i < GUARD; i++)
        if (g->base[i] != canary(i) || g->base[GUARD + g->n + i] != canary(i + GUARD))
            return false;
    return true;
}

static void gbuf_free(struct gbuf *g)
{
    free(g->base);
    g->base = NULL;
}

/* ---- backends under test */

#define MAX_TARGETS 16

struct target {
    struct tb_backend *b;
    char label[64];
    bool must_support_all;     /* the CPU backends implement every op */
    double worst[TB_OP_COUNT]; /* largest err/tol seen, per op kind */
    int unsupported[TB_OP_COUNT];
};

static struct tb_backend *g_ref;
static struct target g_targets[MAX_TARGETS];
static int g_n_targets;

static void add_target(const char *name, const struct tb_backend_config *cfg, const char *label)
{
    struct tb_err err = {0};
    struct tb_backend *b = NULL;
    int rc = tb_backend_create(name, cfg, &b, &err);
    if (rc == TB_EUNSUPPORTED || rc == TB_EBACKEND) {
        printf("skip %s: unavailable here (%s)\n", label, err.msg);
        return;
    }
    CHECKF(rc == TB_OK && b, "create %s: %s", label, err.msg);
    if (rc || !b)
        return;
    if (g_n_targets == MAX_TARGETS) {
        tb_backend_free(b);
        return;
    }
    struct target *t = &g_targets[g_n_targets++];
    memset(t, 0, sizeof *t);
    t->b = b;
    t->must_support_all = strcmp(name, "cpu") == 0;
    snprintf(t->label, sizeof t->label, "%s", label);
}

static void make_targets(void)
{
    const enum tb_isa best = tb_isa_detect();
    for (const char *const *nm = tb_backend_names(); *nm; nm++) {
        if (strcmp(*nm, "cpu-ref") == 0)
            continue;
        struct tb_backend_config cfg;
        tb_backend_config_default(&cfg);
        if (strcmp(*nm, "cpu") != 0) {
            add_target(*nm, &cfg, *nm);
            continue;
        }
        for (int isa = TB_ISA_SCALAR; isa < TB_ISA_COUNT; isa++) {
            if (isa > (int)best) {
                printf("skip cpu isa=%s: this CPU supports up to %s\n", tb_isa_name(isa),
                       tb_isa_name(best));
                continue;
            }
            for (int nt = 1; nt <= 2; nt++) {
                char label[64];
                snprintf(label, sizeof label, "cpu isa=%s threads=%d", tb_isa_name(isa), nt);
                cfg.isa_cap = (enum tb_isa)isa;
                cfg.n_threads = nt;
                const int before = g_n_targets;
                add_target("cpu", &cfg, label);
                if (g_n_targets == before)
                    continue;
                struct tb_backend *b = g_targets[g_n_targets - 1].b;
                CHECKF(tb_backend_isa(b) == (enum tb_isa)isa, "%s dispatches to %s", label,
                       tb_isa_name(tb_backend_isa(b)));
                CHECKF(tb_backend_n_threads(b) == nt, "%s runs %d threads", label,
                       tb_backend_n_threads(b));
                CHECK(tb_backend_device_kind(b) == TB_DEVICE_CPU);
            }
        }
    }
}

/* ---- watchdog: a hung backend (e.g. a thread pool deadlock) fails the
 * test with the op it hung in instead of stalling CTest */

#define WATCHDOG_S 300
static char g_current[256] = "setup";

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_ops: watchdog expired while running: ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, g_current, strlen(g_current)) < 0 ||
        write(2, "\n", 1) < 0)
        _exit(2);
    _exit(1);
}

/* ---- one op case: owned inputs, a dst template, the reference output */

struct opcase {
    char label[160];
    struct tb_op op;
    struct tb_tensor src[TB_OP_MAX_SRC];
    struct gbuf srcbuf[TB_OP_MAX_SRC];
    unsigned char *src_copy[TB_OP_MAX_SRC];
    int n_src;
    struct tb_tensor dst;    /* shape and type; data set per run */
    unsigned char *dst_init; /* dst bytes before each run; NULL = NaN bytes */
    bool inplace;            /* src0 is dst (ROPE) */
};

static void case_init(struct opcase *c, enum tb_op_kind kind, const struct tb_op_params *p)
{
    memset(c, 0, sizeof *c);
    c->op.kind = kind;
    if (p)
        c->op.p = *p;
    snprintf(c->op.name, sizeof c->op.name, "test_%s", tb_op_kind_name(kind));
}

/* Source slot s: a [ne0 x ne1] tensor of `type` holding uniform [lo, hi)
 * values (quantized to `type`). */
static void case_src(struct opcase *c, int s, enum tb_type type, int64_t ne0, int64_t ne1, float lo,
                     float hi)
{
    const int64_t ne[2] = {ne0, ne1};
    struct tb_tensor *t = &c->src[s];
    if (tb_tensor_init(t, type, 2, ne, NULL, "src") != TB_OK) {
        fprintf(stderr, "bad test tensor %s [%lld x %lld]\n", tb_type_name(type), (long long)ne0,
                (long long)ne1);
        exit(1);
    }
    t->data = gbuf_alloc(&c->srcbuf[s], tb_tensor_nbytes(t));
    float *row = malloc((size_t)ne0 * sizeof *row);
    for (int64_t i = 0; i < ne1; i++) {
        for (int64_t j = 0; j < ne0; j++)
            row[j] = rng_uniform(lo, hi);
        if (type == TB_TYPE_I32)
            for (int64_t j = 0; j < ne0; j++)
                ((int32_t *)tb_tensor_row(t, i))[j] = (int32_t)row[j];
        else
            tb_quantize_row(type, row, tb_tensor_row(t, i), ne0);
    }
    free(row);
    if (s + 1 > c->n_src)
        c->n_src = s + 1;
}

static void case_dst(struct opcase *c, enum tb_type type, int64_t ne0, int64_t ne1)
{
    const int64_t ne[2] = {ne0, ne1};
    tb_tensor_init(&c->dst, type, 2, ne, NULL, "dst");
}

static void case_free(struct opcase *c)
{
    for (int s = 0; s < TB_OP_MAX_SRC; s++) {
        gbuf_free(&c->srcbuf[s]);
        free(c->src_copy[s]);
    }
    free(c->dst_init);
}

/* Runs the case on b; returns a malloc'd copy of dst's bytes, or NULL (and
 * a failed check) when the op failed, wrote outside dst, or wrote a source.
 * An op b does not support is a failure only if must_support; otherwise
 * *unsupported is set and NULL returned. */
static unsigned char *run_case(struct opcase *c, struct tb_backend *b, const char *who,
                               bool must_support, bool *unsupported)
{
    const size_t nbytes = tb_tensor_nbytes(&c->dst);
    struct gbuf out;
    void *data = gbuf_alloc(&out, nbytes);
    if (c->dst_init)
        memcpy(data, c->dst_init, nbytes);
    else
        memset(data, 0xff, nbytes); /* NaN: unwritten outputs are caught */
    struct tb_tensor dst = c->dst;
    dst.data = data;
    struct tb_op op = c->op;
    op.dst = &dst;
    for (int s = 0; s < TB_OP_MAX_SRC; s++)
        op.src[s] = s < c->n_src ? &c->src[s] : NULL;
    if (c->inplace)
        op.src[0] = &dst;
    tb_op_account(&op);
    for (int s = 0; s < c->n_src; s++) {
        const size_t n = tb_tensor_nbytes(&c->src[s]);
        if (!c->src_copy[s]) {
            c->src_copy[s] = malloc(n);
            memcpy(c->src_copy[s], c->src[s].data, n);
        }
    }
    struct tb_err err = {0};
    snprintf(g_current, sizeof g_current, "%s on %s", c->label, who);
    const bool supported = tb_backend_supports_op(b, &op);
    *unsupported = !supported && !must_support;
    if (*unsupported) {
        gbuf_free(&out);
        return NULL;
    }
    int rc = tb_backend_compute_op(b, &op, &err);
    CHECKF(supported && rc == TB_OK, "%s on %s: supported %d, rc %d (%s)", c->label, who, supported,
           rc, err.msg);
    bool ok = rc == TB_OK;
    if (!gbuf_guards_ok(&out)) {
        CHECKF(false, "%s on %s: wrote outside dst (guard bytes changed)", c->label, who);
        ok = false;
    }
    for (int s = 0; s < c->n_src; s++)
        if (memcmp(c->src_copy[s], c->src[s].data, tb_tensor_nbytes(&c->src[s])) != 0 ||
            !gbuf_guards_ok(&c->srcbuf[s])) {
            CHECKF(false, "%s on %s: src%d was modified", c->label, who, s);
            memcpy(c->src[s].data, c->src_copy[s], tb_tensor_nbytes(&c->src[s]));
            ok = false;
        }
    unsigned char *res = NULL;
    if (ok) {
        res = malloc(nbytes);
        memcpy(res, data, nbytes);
    }
    gbuf_free(&out);
    return res;
}

/* ---- the comparison driver */

static int g_n_cases;

/* c's op with its own sources and dst template, for the contract */
static struct tb_op case_op(struct opcase *c)
{
    struct tb_op op = c->op;
    op.dst = &c->dst;
    for (int s = 0; s < TB_OP_MAX_SRC; s++)
        op.src[s] = s < c->n_src ? &c->src[s] : NULL;
    return op;
}

static void check_case(struct opcase *c)
{
    g_n_cases++;
    bool unsupported;
    unsigned char *ref = run_case(c, g_ref, "cpu-ref", true, &unsupported);
    if (!ref)
        return;
    const int64_t n = tb_tensor_nelements(&c->dst);
    const struct tb_op op = case_op(c);
    const bool exact_bytes = c->dst.type != TB_TYPE_F32; /* f16 cache: exact conversion */
    double *tol = NULL;
    if (!exact_bytes) {
        const float *r = (const float *)ref;
        int bad = 0;
        for (int64_t i = 0; i < n; i++)
            bad += !isfinite(r[i]);
        CHECKF(bad == 0, "%s: cpu-ref produced %d non-finite values", c->label, bad);
        tol = malloc((size_t)n * sizeof *tol);
        const void *x_in = c->inplace ? (const void *)c->dst_init : c->src[0].data;
        opc_tolerance(&op, r, x_in, tol);
    }
    for (int ti = 0; ti < g_n_targets; ti++) {
        struct target *t = &g_targets[ti];
        unsigned char *out = run_case(c, t->b, t->label, t->must_support_all, &unsupported);
        t->unsupported[c->op.kind] += unsupported;
        if (!out)
            continue;
        if (exact_bytes) {
            CHECKF(memcmp(out, ref, tb_tensor_nbytes(&c->dst)) == 0, "%s on %s: bytes differ",
                   c->label, t->label);
        } else {
            const float *o = (const float *)out, *r = (const float *)ref;
            const int64_t N = c->dst.ne[0];
            int64_t wi;
            int nonfinite;
            const double worst = opc_worst(o, (size_t)N, r, tol, N, n / N, &wi, &nonfinite);
            CHECKF(nonfinite == 0, "%s on %s: %d non-finite outputs", c->label, t->label,
                   nonfinite);
            if (worst > t->worst[c->op.kind])
                t->worst[c->op.kind] = worst;
            CHECKF(worst <= 1.0,
                   "%s on %s: element %lld (row %lld col %lld) = %.9g, ref %.9g, tol %.3g",
                   c->label, t->label, (long long)wi, (long long)(wi / N), (long long)(wi % N),
                   (double)o[wi], (double)r[wi], tol[wi]);
        }
        free(out);
    }
    free(tol);
    free(ref);
}

/* ---- the cases */

static const enum tb_type k_wtypes[] = {TB_WTYPES(TB_WTYPE_ID)};
#define N_WTYPES (int)(sizeof k_wtypes / sizeof k_wtypes[0])

/* Whether rows of K elements are whole blocks of type t (K-quants: 256). */
static bool k_fits(int t, int64_t K)
{
    return K % tb_type_traits(t)->block_size == 0;
}

static void cases_get_rows(void)
{
    static const int64_t Ks[] = {32, 256, 288};
    static const int64_t ns[] = {1, 5};
    for (int ti = 0; ti < N_WTYPES; ti++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 2 && k_fits(k_wtypes[ti], Ks[a]); b++) {
                struct opcase c;
                case_init(&c, TB_OP_GET_ROWS, NULL);
                const int64_t V = 17;
                case_src(&c, 0, k_wtypes[ti], Ks[a], V, -1.0f, 1.0f);
                case_src(&c, 1, TB_TYPE_I32, ns[b], 1, 0.0f, (float)V);
                ((int32_t *)c.src[1].data)[0] = (int32_t)(V - 1); /* the last row, always */
                case_dst(&c, TB_TYPE_F32, Ks[a], ns[b]);
                snprintf(c.label, sizeof c.label, "get_rows %s K=%lld n=%lld",
                         tb_type_name(k_wtypes[ti]), (long long)Ks[a], (long long)ns[b]);
                check_case(&c);
                case_free(&c);
            }
}

static void cases_matmul(void)
{
    static const int64_t Ks[] = {32, 64, 256, 288, 768};
    static const int64_t Ns[] = {1, 3, 17, 33, 257};
    static const int64_t ns[] = {1, 2, 5, 16};
    for (int ti = 0; ti < N_WTYPES; ti++)
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 5 && k_fits(k_wtypes[ti], Ks[a]); b++)
                for (size_t d = 0; d < 4; d++) {
                    const int64_t K = Ks[a], N = Ns[b], n = ns[d];
                    struct opcase c;
                    case_init(&c, TB_OP_MATMUL, NULL);
                    case_src(&c, 0, k_wtypes[ti], K, N, -1.0f, 1.0f);
                    case_src(&c, 1, TB_TYPE_F32, K, n, -1.0f, 1.0f);
                    case_dst(&c, TB_TYPE_F32, N, n);
                    snprintf(c.label, sizeof c.label, "matmul %s K=%lld N=%lld n=%lld",
                             tb_type_name(k_wtypes[ti]), (long long)K, (long long)N, (long long)n);
                    check_case(&c);
                    case_free(&c);
                }
}

/* Weights all of one sign, far from 0 (and activations too): the block
 * minimum of q4_1/q5_1 carries most of each weight, so a kernel's min term
 * (m * sum of the activation quants) must be right, not just small. */
static void cases_matmul_offset(void)
{
    static const int64_t Ks[] = {32, 256, 288};
    for (int ti = 0; ti < N_WTYPES; ti++)
        for (size_t a = 0; a < 3; a++)
            for (int64_t n = 1; n <= 5 && k_fits(k_wtypes[ti], Ks[a]); n += 4) {
                struct opcase c;
                case_init(&c, TB_OP_MATMUL, NULL);
                case_src(&c, 0, k_wtypes[ti], Ks[a], 33, 2.0f, 3.0f);
                case_src(&c, 1, TB_TYPE_F32, Ks[a], n, 0.0f, 1.0f);
                case_dst(&c, TB_TYPE_F32, 33, n);
                snprintf(c.label, sizeof c.label, "matmul %s offset K=%lld N=33 n=%lld",
                         tb_type_name(k_wtypes[ti]), (long long)Ks[a], (long long)n);
                check_case(&c);
                case_free(&c);
            }
}

static void cases_rms_norm(void)
{
    static const int64_t Ks[] = {1, 3, 17, 33, 288, 768};
    static const int64_t ns[] = {1, 2, 5};
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 3; b++) {
            const struct tb_op_params p = {.eps = 1e-5f};
            struct opcase c;
            case_init(&c, TB_OP_RMS_NORM, &p);
            case_src(&c, 0, TB_TYPE_F32, Ks[a], ns[b], -2.0f, 2.0f);
            case_src(&c, 1, TB_TYPE_F32, Ks[a], 1, 0.5f, 1.5f);
            case_dst(&c, TB_TYPE_F32, Ks[a], ns[b]);
            snprintf(c.label, sizeof c.label, "rms_norm K=%lld n=%lld", (long long)Ks[a],
                     (long long)ns[b]);
            check_case(&c);
            case_free(&c);
        }
}

static void cases_rope(void)
{
    static const int hds[] = {32, 64};
    static const int heads[] = {1, 3, 8};
    static const int64_t ns[] = {1, 5, 16};
    static const int pos0s[] = {0, 7, 1000};
    for (size_t a = 0; a < 2; a++)
        for (size_t h = 0; h < 3; h++)
            for (size_t b = 0; b < 3; b++)
                for (size_t q = 0; q < 3; q++)
                    for (int inplace = 0; inplace < 2; inplace++) {
                        const struct tb_op_params p = {.rope_theta = 10000.0f,
                                                       .pos0 = pos0s[q],
                                                       .n_head = heads[h],
                                                       .head_dim = hds[a]};
                        const int64_t K = (int64_t)hds[a] * heads[h];
                        struct opcase c;
                        case_init(&c, TB_OP_ROPE, &p);
                        case_src(&c, 0, TB_TYPE_F32, K, ns[b], -1.0f, 1.0f);
                        case_dst(&c, TB_TYPE_F32, K, ns[b]);
                        if (inplace) { /* the input travels in dst */
                            const size_t nb = tb_tensor_nbytes(&c.dst);
                            c.dst_init = malloc(nb);
                            memcpy(c.dst_init, c.src[0].data, nb);
                            c.inplace = true;
                        }
                        snprintf(c.label, sizeof c.label,
                                 "rope%s head_dim=%d n_head=%d n=%lld pos0=%d",
                                 inplace ? " in-place" : "", hds[a], heads[h], (long long)ns[b],
                                 pos0s[q]);
                        check_case(&c);
                        case_free(&c);
                    }
}

static void cases_kv_store(void)
{
    static const enum tb_type ctypes[] = {TB_TYPE_F32, TB_TYPE_F16};
    static const int64_t dims[] = {32, 64, 256};
    static const int pos0s[] = {0, 7, 35};
    static const int64_t ns[] = {1, 5};
    const int64_t n_ctx = 40;
    for (size_t ti = 0; ti < 2; ti++)
        for (size_t a = 0; a < 3; a++)
            for (size_t q = 0; q < 3; q++)
                for (size_t b = 0; b < 2; b++) {
                    const struct tb_op_params p = {.pos0 = pos0s[q]};
                    struct opcase c;
                    case_init(&c, TB_OP_KV_STORE, &p);
                    case_src(&c, 0, TB_TYPE_F32, dims[a], ns[b], -3.0f, 3.0f);
                    case_dst(&c, ctypes[ti], dims[a], n_ctx);
                    /* other rows hold old values the op must keep */
                    const size_t nb = tb_tensor_nbytes(&c.dst);
                    c.dst_init = malloc(nb);
                    for (size_t i = 0; i < nb; i++)
                        c.dst_init[i] = (unsigned char)(rng_next() & 0x3f);
                    snprintf(c.label, sizeof c.label, "kv_store %s dim=%lld pos0=%d n=%lld",
                             tb_type_name(ctypes[ti]), (long long)dims[a], pos0s[q],
                             (long long)ns[b]);
                    check_case(&c);
                    case_free(&c);
                }
}

static void attention_case(enum tb_type ctype, int hd, int nh, int nkv, int64_t n, int pos0,
                           int non_causal)
{
    const int64_t n_ctx = pos0 + n + 3;
    const struct tb_op_params p = opc_attention_params(hd, nh, nkv, pos0, non_causal);
    struct opcase c;
    case_init(&c, TB_OP_ATTENTION, &p);
    case_src(&c, 0, TB_TYPE_F32, (int64_t)hd * nh, n, -2.0f, 2.0f);
    case_src(&c, 1, ctype, (int64_t)hd * nkv, n_ctx, -1.0f, 1.0f);
    case_src(&c, 2, ctype, (int64_t)hd * nkv, n_ctx, -1.0f, 1.0f);
    /* rows past the last position are never visible (not even non-causally):
     * make them dominate if a backend reads them anyway */
    for (int64_t t = pos0 + n; t < n_ctx; t++) {
        float big[512];
        for (int64_t e = 0; e < (int64_t)hd * nkv; e++)
            big[e] = 40.0f;
        tb_quantize_row(ctype, big, tb_tensor_row(&c.src[1], t), hd * nkv);
        tb_quantize_row(ctype, big, tb_tensor_row(&c.src[2], t), hd * nkv);
    }
    case_dst(&c, TB_TYPE_F32, (int64_t)hd * nh, n);
    snprintf(c.label, sizeof c.label,
             "attention%s %s head_dim=%d n_head=%d n_head_kv=%d n=%lld pos0=%d",
             non_causal ? " non-causal" : "", tb_type_name(ctype), hd, nh, nkv, (long long)n, pos0);
    check_case(&c);
    case_free(&c);
}

static void cases_attention(void)
{
    static const enum tb_type ctypes[] = {TB_TYPE_F32, TB_TYPE_F16};
    static const int hds[] = {32, 64};
    static const int heads[][2] = {{1, 1}, {4, 4}, {8, 2}};
    static const int64_t ns[] = {1, 2, 5, 16};
    static const int pos0s[] = {0, 3, 37, 300};
    for (int nc = 0; nc < 2; nc++)
        for (size_t ti = 0; ti < 2; ti++)
            for (size_t a = 0; a < 2; a++)
                for (size_t h = 0; h < 3; h++)
                    for (size_t b = 0; b < 4; b++)
                        for (size_t q = 0; q < 4; q++)
                            attention_case(ctypes[ti], hds[a], heads[h][0], heads[h][1], ns[b],
                                           pos0s[q], nc);
}

static void cases_elementwise(void)
{
    static const enum tb_op_kind kinds[] = {TB_OP_SILU, TB_OP_MUL, TB_OP_ADD};
    static const int64_t Ks[] = {1, 3, 17, 33, 257, 768};
    static const int64_t ns[] = {1, 5};
    for (size_t k = 0; k < 3; k++)
        for (size_t a = 0; a < 6; a++)
            for (size_t b = 0; b < 2; b++) {
                struct opcase c;
                case_init(&c, kinds[k], NULL);
                case_src(&c, 0, TB_TYPE_F32, Ks[a], ns[b], -12.0f, 12.0f);
                if (kinds[k] != TB_OP_SILU)
                    case_src(&c, 1, TB_TYPE_F32, Ks[a], ns[b], -3.0f, 3.0f);
                case_dst(&c, TB_TYPE_F32, Ks[a], ns[b]);
                snprintf(c.label, sizeof c.label, "%s K=%lld n=%lld", tb_op_kind_name(kinds[k]),
                         (long long)Ks[a], (long long)ns[b]);
                check_case(&c);
                case_free(&c);
            }
}

/* ---- cpu-ref on hand-computed answers (the ground truth is tested too) */

static int ref_op(enum tb_op_kind kind, const struct tb_op_params *p, struct tb_tensor *dst,
                  const struct tb_tensor *a, const struct tb_tensor *b, const struct tb_tensor *c,
                  struct tb_err *err)
{
    struct tb_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    if (p)
        op.p = *p;
    op.dst = dst;
    op.src[0] = a;
    op.src[1] = b;
    op.src[2] = c;
    snprintf(op.name, sizeof op.name, "hand_%s", tb_op_kind_name(kind));
    tb_err_clear(err);
    return tb_backend_compute_op(g_ref, &op, err);
}

static bool near(double got, double want, double tol)
{
    return fabs(got - want) <= tol;
}

static void tensor2(struct tb_tensor *t, enum tb_type type, int64_t ne0, int64_t ne1, void *data)
{
    const int64_t ne[2] = {ne0, ne1};
    tb_tensor_init(t, type, 2, ne, data, "hand");
}

static void test_ref_known_answers(void)
{
    struct tb_err err = {0};
    struct tb_tensor A, B, C, D;
    CHECK(strcmp(tb_backend_name(g_ref), "cpu-ref") == 0);
    CHECK(strcmp(tb_backend_device_name(g_ref), "host CPU (scalar reference)") == 0);
    CHECK(tb_backend_device_kind(g_ref) == TB_DEVICE_CPU);
    CHECK(tb_backend_isa(g_ref) == TB_ISA_SCALAR);
    CHECK(tb_backend_n_threads(g_ref) == 1);

    /* matmul: W rows (1,2,3), (4,5,6), (-1,0,1); x rows (1,1,1), (1,-1,2) */
    float w[9] = {1, 2, 3, 4, 5, 6, -1, 0, 1}, x[6] = {1, 1, 1, 1, -1, 2}, y[6];
    tensor2(&A, TB_TYPE_F32, 3, 3, w);
    tensor2(&B, TB_TYPE_F32, 3, 2, x);
    tensor2(&D, TB_TYPE_F32, 3, 2, y);
    CHECK(ref_op(TB_OP_MATMUL, NULL, &D, &A, &B, NULL, &err) == TB_OK);
    CHECK(y[0] == 6 && y[1] == 15 && y[2] == 0 && y[3] == 5 && y[4] == 11 && y[5] == 1);

    /* matmul with q8_0 weights: a row of 32 x 0.5 (d = 0.5/127 in fp16) */
    struct tb_block_q8_0 qb;
    float half[32], ones[32], out1;
    for (int i = 0; i < 32; i++) {
        half[i] = 0.5f;
        ones[i] = 1.0f;
    }
    tb_quantize_row_q8_0(half, &qb, 32);
    tensor2(&A, TB_TYPE_Q8_0, 32, 1, &qb);
    tensor2(&B, TB_TYPE_F32, 32, 1, ones);
    tensor2(&D, TB_TYPE_F32, 1, 1, &out1);
    CHECK(ref_op(TB_OP_MATMUL, NULL, &D, &A, &B, NULL, &err) == TB_OK);
    CHECKF(near(out1, 32 * 127 * (double)tb_fp16_to_fp32(qb.d), 1e-5), "q8_0 matmul %g", out1);

    /* rms_norm: x = (3, 4), mean square 12.5, w = (1, 2), eps 0 */
    float xn[2] = {3, 4}, wn[2] = {1, 2}, yn[2];
    struct tb_op_params p = {0};
    tensor2(&A, TB_TYPE_F32, 2, 1, xn);
    tensor2(&B, TB_TYPE_F32, 2, 1, wn);
    tensor2(&D, TB_TYPE_F32, 2, 1, yn);
    CHECK(ref_op(TB_OP_RMS_NORM, &p, &D, &A, &B, NULL, &err) == TB_OK);
    CHECKF(near(yn[0], 3 / sqrt(12.5), 1e-6) && near(yn[1], 8 / sqrt(12.5), 1e-6), "rms %g %g",
           yn[0], yn[1]);

    /* rope, head_dim 4, theta 10000, position 2 (pos0 1, row 1): pair 0
     * turns by 2 rad, pair 1 by 2 * 10000^-0.5 = 0.02 rad; in place */
    float xr[8] = {9, 9, 9, 9, 1, 0, 0, 1};
    p = (struct tb_op_params){.rope_theta = 10000.0f, .pos0 = 1, .n_head = 1, .head_dim = 4};
    tensor2(&D, TB_TYPE_F32, 4, 2, xr);
    CHECK(ref_op(TB_OP_ROPE, &p, &D, &D, NULL, NULL, &err) == TB_OK);
    CHECKF(near(xr[4], cos(2.0), 1e-7) && near(xr[5], sin(2.0), 1e-7) &&
               near(xr[6], -sin(0.02), 1e-7) && near(xr[7], cos(0.02), 1e-7),
           "rope %g %g %g %g", xr[4], xr[5], xr[6], xr[7]);
    CHECKF(near(xr[0], 9 * (cos(1.0) - sin(1.0)), 1e-5) &&
               near(xr[1], 9 * (sin(1.0) + cos(1.0)), 1e-5),
           "rope row 0: %g %g", xr[0], xr[1]);

    /* kv_store into an f16 cache at row 1 of 3; rows 0 and 2 untouched */
    float kx[2] = {1.0f, 0.33333334f};
    tb_fp16 cache[6] = {7, 7, 7, 7, 7, 7};
    p = (struct tb_op_params){.pos0 = 1};
    tensor2(&A, TB_TYPE_F32, 2, 1, kx);
    tensor2(&D, TB_TYPE_F16, 2, 3, cache);
    CHECK(ref_op(TB_OP_KV_STORE, &p, &D, &A, NULL, NULL, &err) == TB_OK);
    CHECK(cache[0] == 7 && cache[1] == 7 && cache[2] == 0x3c00 && cache[3] == 0x3555 &&
          cache[4] == 7 && cache[5] == 7);
    p.pos0 = 2; /* row 2 + 1 row = 3 rows: fits; pos0 3 must not */
    CHECK(ref_op(TB_OP_KV_STORE, &p, &D, &A, NULL, NULL, &err) == TB_OK);
    p.pos0 = 3;
    CHECK(ref_op(TB_OP_KV_STORE, &p, &D, &A, NULL, NULL, &err) != TB_OK);

    /* attention, head_dim 2, one head, 2 cache rows: k0 = (0,0), k1 = (1,0),
     * v0 = (1,2), v1 = (3,4); q0 at pos 0 sees only row 0 -> v0; q1 = (ln 3, 0)
     * at pos 1 scores (0, ln 3) -> weights (1/4, 3/4) -> (2.5, 3.5) */
    float q[4] = {5, 5, (float)log(3.0), 0}, kc[4] = {0, 0, 1, 0}, vc[4] = {1, 2, 3, 4}, ya[4];
    p = (struct tb_op_params){.scale = 1.0f, .pos0 = 0, .n_head = 1, .n_head_kv = 1, .head_dim = 2};
    tensor2(&A, TB_TYPE_F32, 2, 2, q);
    tensor2(&B, TB_TYPE_F32, 2, 2, kc);
    tensor2(&C, TB_TYPE_F32, 2, 2, vc);
    tensor2(&D, TB_TYPE_F32, 2, 2, ya);
    CHECK(ref_op(TB_OP_ATTENTION, &p, &D, &A, &B, &C, &err) == TB_OK);
    CHECKF(ya[0] == 1 && ya[1] == 2 && near(ya[2], 2.5, 1e-6) && near(ya[3], 3.5, 1e-6),
           "attention %g %g %g %g", ya[0], ya[1], ya[2], ya[3]);
    /* non-causal: q0 = (5,5) now also sees row 1: scores (0, 5), weights
     * (1, e^5) / (1 + e^5); row 1 saw everything already and is unchanged */
    p.non_causal = 1;
    CHECK(ref_op(TB_OP_ATTENTION, &p, &D, &A, &B, &C, &err) == TB_OK);
    const double w1 = exp(5.0) / (1.0 + exp(5.0));
    CHECKF(near(ya[0], 1 + 2 * w1, 1e-6) && near(ya[1], 2 + 2 * w1, 1e-6) &&
               near(ya[2], 2.5, 1e-6) && near(ya[3], 3.5, 1e-6),
           "non-causal attention %g %g %g %g", ya[0], ya[1], ya[2], ya[3]);
    /* accounting: 2 rows at pos0 0 read 1 + 2 keys causally, 2 + 2 non-causally */
    struct tb_op acc = {.kind = TB_OP_ATTENTION, .src = {&A, &B, &C}, .dst = &D, .p = p};
    tb_op_account(&acc);
    const double nc_flops = acc.flops;
    acc.p.non_causal = 0;
    tb_op_account(&acc);
    CHECKF(near(nc_flops, 4 * (4.0 * 2 + 5), 1e-9) && near(acc.flops, 3 * (4.0 * 2 + 5), 1e-9),
           "attention flops non-causal %g causal %g", nc_flops, acc.flops);

    /* get_rows from an f16 table; silu; mul; add */
    tb_fp16 table[4] = {0x3c00, 0xc000, 0x3800, 0x0001}; /* (1,-2), (0.5, 2^-24) */
    int32_t ids[3] = {1, 0, 1};
    float g[6];
    tensor2(&A, TB_TYPE_F16, 2, 2, table);
    tensor2(&B, TB_TYPE_I32, 3, 1, ids);
    tensor2(&D, TB_TYPE_F32, 2, 3, g);
    CHECK(ref_op(TB_OP_GET_ROWS, NULL, &D, &A, &B, NULL, &err) == TB_OK);
    CHECK(g[0] == 0.5f && g[1] == ldexpf(1.0f, -24) && g[2] == 1 && g[3] == -2 && g[4] == 0.5f);
    ids[2] = 2; /* out of range */
    CHECK(ref_op(TB_OP_GET_ROWS, NULL, &D, &A, &B, NULL, &err) == TB_EINVAL &&
          strstr(err.msg, "get_rows") != NULL);

    float s[3] = {0, 1, -1}, m[3] = {2, 3, 4}, z[3];
    tensor2(&A, TB_TYPE_F32, 3, 1, s);
    tensor2(&B, TB_TYPE_F32, 3, 1, m);
    tensor2(&D, TB_TYPE_F32, 3, 1, z);
    CHECK(ref_op(TB_OP_SILU, NULL, &D, &A, NULL, NULL, &err) == TB_OK);
    CHECKF(z[0] == 0 && near(z[1], 0.7310585786, 1e-7) && near(z[2], -0.2689414214, 1e-7),
           "silu %g %g %g", z[0], z[1], z[2]);
    CHECK(ref_op(TB_OP_MUL, NULL, &D, &A, &B, NULL, &err) == TB_OK);
    CHECK(z[0] == 0 && z[1] == 3 && z[2] == -4);
    CHECK(ref_op(TB_OP_ADD, NULL, &D, &A, &B, NULL, &err) == TB_OK);
    CHECK(z[0] == 2 && z[1] == 4 && z[2] == 3);
}

/* Shape / type errors and unsupported types, on every backend. */
static void test_rejections(struct tb_backend *b, const char *who)
{
    float x[64] = {0}, y[64];
    unsigned char q81[2 * 36] = {0};
    struct tb_tensor W, X, D;
    struct tb_op op;
    struct tb_err err = {0};
    memset(&op, 0, sizeof op);
    snprintf(op.name, sizeof op.name, "bad_matmul");
    op.kind = TB_OP_MATMUL;
    tensor2(&W, TB_TYPE_F32, 32, 2, x);
    tensor2(&X, TB_TYPE_F32, 16, 1, x); /* K mismatch */
    tensor2(&D, TB_TYPE_F32, 2, 1, y);
    op.src[0] = &W;
    op.src[1] = &X;
    op.dst = &D;
    CHECKF(!tb_backend_supports_op(b, &op), "%s accepts a K mismatch", who);
    int rc = tb_backend_compute_op(b, &op, &err);
    CHECKF((rc == TB_EINVAL || rc == TB_EUNSUPPORTED) && strstr(err.msg, "matmul"),
           "%s: K mismatch gave rc %d '%s'", who, rc, err.msg);
    if (b == g_ref) { /* its own validation names the op and the shapes */
        rc = b->iface.compute_op(b->context, &op, &err);
        CHECKF(rc == TB_EINVAL && strstr(err.msg, "matmul 'bad_matmul'") &&
                   strstr(err.msg, "[32 x 2]"),
               "cpu-ref compute_op on a K mismatch: rc %d '%s'", rc, err.msg);
    }
    /* q8_1: ggml's activation type, never a weight type */
    tensor2(&W, TB_TYPE_Q8_1, 32, 2, q81);
    tensor2(&X, TB_TYPE_F32, 32, 1, x);
    CHECKF(!tb_backend_supports_op(b, &op), "%s accepts q8_1 weights", who);
    rc = tb_backend_compute_op(b, &op, &err);
    CHECKF(rc == TB_EINVAL || rc == TB_EUNSUPPORTED, "%s: q8_1 weights gave rc %d", who, rc);

    /* attention whose n_head is not a multiple of n_head_kv */
    op.kind = TB_OP_ATTENTION;
    op.p = (struct tb_op_params){.scale = 1, .n_head = 3, .n_head_kv = 2, .head_dim = 8};
    tensor2(&W, TB_TYPE_F32, 24, 1, x);
    tensor2(&X, TB_TYPE_F32, 16, 2, x);
    tensor2(&D, TB_TYPE_F32, 24, 1, y);
    op.src[0] = &W;
    op.src[1] = &X;
    op.src[2] = &X;
    CHECKF(!tb_backend_supports_op(b, &op), "%s accepts n_head 3 / n_head_kv 2", who);
}

int main(void)
{
    const uint64_t t0 = (uint64_t)clock();
    signal(SIGALRM, on_alarm);
    alarm(WATCHDOG_S);
    struct tb_err err = {0};
    int rc = tb_backend_create("cpu-ref", NULL, &g_ref, &err);
    CHECKF(rc == TB_OK, "cpu-ref: %s", err.msg);
    if (rc)
        return tb_test_result("test_ops");
    test_ref_known_answers();
    test_rejections(g_ref, "cpu-ref");
    make_targets();
    for (int i = 0; i < g_n_targets; i++)
        test_rejections(g_targets[i].b, g_targets[i].label);
    printf("comparing %d backend configuration(s) with cpu-ref\n", g_n_targets);

    cases_get_rows();
    cases_rms_norm();
    cases_matmul();
    cases_matmul_offset();
    cases_rope();
    cases_kv_store();
    cases_attention();
    cases_elementwise();

    printf("%d cases; worst err/tol per op:\n", g_n_cases);
    for (int i = 0; i < g_n_targets; i++) {
        printf("  %-26s", g_targets[i].label);
        for (int k = 0; k < TB_OP_COUNT; k++)
            printf(" %s %.2f", tb_op_kind_name((enum tb_op_kind)k), g_targets[i].worst[k]);
        printf("\n");
        for (int k = 0; k < TB_OP_COUNT; k++)
            if (g_targets[i].unsupported[k])
                printf("    %s: %d %s case(s) not supported, skipped\n", g_targets[i].label,
                       g_targets[i].unsupported[k], tb_op_kind_name((enum tb_op_kind)k));
        tb_backend_free(g_targets[i].b);
    }
    tb_backend_free(g_ref);
    printf("cpu time %.1f s\n", (double)((uint64_t)clock() - t0) / CLOCKS_PER_SEC);
    return tb_test_result("test_ops");
}

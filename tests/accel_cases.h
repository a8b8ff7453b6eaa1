/* Shared by test_opencl and test_cuda (included, static): every op x type
 * an accelerator backend supports, against cpu-ref, under the one accuracy
 * contract of tests/op_contract.h (the same as test_ops.c's).
 * Matmuls and get_rows over a weight type outside acc_run.wtypes must be
 * refused by supports_op (and by compute_op with TB_EUNSUPPORTED); every
 * other op must run, write dst
 * only, leave its sources alone and leave launch evidence (>= 1 launch,
 * device time > 0). */
#ifndef TB_ACCEL_CASES_H
#define TB_ACCEL_CASES_H

#include "op_contract.h"
#include "tb_test.h"

#include "kernels/tb_backend.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct acc_run {
    struct tb_backend *ref, *b;
    /* bit t: the backend runs weight / table type t (0: every listed type) */
    unsigned wtypes;
    int cases, refused;
    double worst[TB_OP_COUNT]; /* largest err / tol */
};

static uint64_t acc_rng = 0x9e3779b97f4a7c15ull;
static float acc_frand(float lo, float hi)
{
    acc_rng ^= acc_rng << 13;
    acc_rng ^= acc_rng >> 7;
    acc_rng ^= acc_rng << 17;
    return lo + (hi - lo) * (float)((double)(acc_rng >> 11) / 9007199254740992.0);
}

/* A [ne0 x ne1] tensor owning its memory; pad > 0 leaves pad bytes after
 * each row (rows not packed: exercises strided transfers). */
struct acc_buf {
    struct tb_tensor t;
    unsigned char *mem;
    size_t bytes;
};

static void acc_buf(struct acc_buf *b, enum tb_type type, int64_t ne0, int64_t ne1, size_t pad)
{
    const int64_t ne[2] = {ne0, ne1};
    tb_tensor_init(&b->t, type, 2, ne, NULL, "acc");
    b->t.nb[1] += pad;
    b->t.nb[2] = b->t.nb[3] = b->t.nb[1] * (size_t)ne1;
    b->bytes = b->t.nb[1] * (size_t)ne1;
    b->mem = malloc(b->bytes);
    memset(b->mem, 0x7f, b->bytes); /* NaN-ish floats in padding and unwritten output */
    b->t.data = b->mem;
}

static void acc_fill(struct acc_buf *b, float lo, float hi)
{
    const int64_t K = b->t.ne[0];
    float *row = malloc((size_t)K * sizeof *row);
    for (int64_t r = 0; r < b->t.ne[1]; r++) {
        for (int64_t k = 0; k < K; k++)
            row[k] = acc_frand(lo, hi);
        if (b->t.type == TB_TYPE_I32)
            for (int64_t k = 0; k < K; k++)
                ((int32_t *)tb_tensor_row(&b->t, r))[k] = (int32_t)row[k];
        else
            tb_quantize_row(b->t.type, row, tb_tensor_row(&b->t, r), K);
    }
    free(row);
}

static void acc_free(struct acc_buf *b)
{
    free(b->mem);
    b->mem = NULL;
}

static bool acc_expected_unsupported(const struct acc_run *R, const struct tb_op *op)
{
    const unsigned t = (unsigned)op->src[0]->type;
    return R->wtypes && (op->kind == TB_OP_MATMUL || op->kind == TB_OP_GET_ROWS) &&
           (t >= 32 || !((R->wtypes >> t) & 1u));
}

/* Runs op (sources set, dst an acc_buf) on cpu-ref and on R->b from the same
 * starting dst bytes and compares. */
static void acc_check(struct acc_run *R, struct tb_op *op, struct acc_buf *dst, const char *label)
{
    struct tb_err err = {0};
    R->cases++;
    tb_op_account(op);
    if (acc_expected_unsupported(R, op)) {
        CHECKF(!tb_backend_supports_op(R->b, op), "%s: expected to be unsupported", label);
        CHECKF(tb_backend_compute_op(R->b, op, &err) == TB_EUNSUPPORTED, "%s: compute gave '%s'",
               label, err.msg);
        R->refused++;
        return;
    }
    CHECKF(tb_backend_supports_op(R->b, op), "%s: not supported", label);
    const size_t nb = dst->bytes;
    unsigned char *init = malloc(nb), *want = malloc(nb);
    memcpy(init, dst->mem, nb);
    /* sources other than an in-place dst must come back unchanged */
    unsigned char *src_copy[TB_OP_MAX_SRC] = {0};
    size_t src_bytes[TB_OP_MAX_SRC] = {0};
    for (int s = 0; s < TB_OP_MAX_SRC; s++)
        if (op->src[s] && op->src[s]->data != dst->mem) {
            src_bytes[s] = op->src[s]->nb[1] * (size_t)tb_tensor_nrows(op->src[s]);
            src_copy[s] = malloc(src_bytes[s]);
            memcpy(src_copy[s], op->src[s]->data, src_bytes[s]);
        }
    int rc = tb_backend_compute_op(R->ref, op, &err);
    CHECKF(rc == TB_OK, "%s on cpu-ref: %s", label, err.msg);
    memcpy(want, dst->mem, nb);
    memcpy(dst->mem, init, nb);
    rc = tb_backend_compute_op(R->b, op, &err);
    CHECKF(rc == TB_OK, "%s on %s: rc %d %s", label, tb_backend_name(R->b), rc, err.msg);
    struct tb_op_evidence ev = {0};
    CHECK(tb_backend_op_evidence(R->b, &ev, &err) == TB_OK);
    CHECKF(ev.last_launches >= 1 && ev.last_device_ns > 0,
           "%s: evidence %llu launches, %llu device ns", label,
           (unsigned long long)ev.last_launches, (unsigned long long)ev.last_device_ns);
    for (int s = 0; s < TB_OP_MAX_SRC; s++)
        if (src_copy[s]) {
            CHECKF(memcmp(src_copy[s], op->src[s]->data, src_bytes[s]) == 0, "%s: src%d modified",
                   label, s);
            free(src_copy[s]);
        }
    if (opc_exact(op)) {
        CHECKF(memcmp(want, dst->mem, nb) == 0, "%s: bytes differ from cpu-ref", label);
    } else {
        const int64_t n = tb_tensor_nrows(&dst->t), N = dst->t.ne[0];
        const size_t row = dst->t.nb[1];
        float *ref = malloc((size_t)(n * N) * sizeof *ref), *x_in = NULL;
        for (int64_t i = 0; i < n; i++)
            memcpy(ref + i * N, want + (size_t)i * row, (size_t)N * sizeof *ref);
        if (op->kind == TB_OP_ROPE) { /* its input, packed: src0 or (in place) dst before */
            x_in = malloc((size_t)(n * N) * sizeof *x_in);
            for (int64_t i = 0; i < n; i++)
                memcpy(x_in + i * N,
                       op->src[0]->data == dst->mem ? (const void *)(init + (size_t)i * row)
                                                    : tb_tensor_row(op->src[0], i),
                       (size_t)N * sizeof *x_in);
        }
        double *tol = malloc((size_t)(n * N) * sizeof *tol);
        opc_tolerance(op, ref, x_in, tol);
        int64_t wi;
        int nonfinite;
        const double worst = opc_worst((const float *)dst->mem, row / sizeof(float), ref, tol, N, n,
                                       &wi, &nonfinite);
        if (worst > R->worst[op->kind])
            R->worst[op->kind] = worst;
        CHECKF(worst <= 1.0, "%s: element %lld = %.9g, ref %.9g, tol %.3g (%d non-finite)", label,
               (long long)wi, (double)((const float *)tb_tensor_row(&dst->t, wi / N))[wi % N],
               ref[wi], tol[wi], nonfinite);
        /* padding after each row is not output */
        if (dst->t.nb[1] > tb_row_size(TB_TYPE_F32, N))
            CHECKF(memcmp(init + (size_t)N * 4, dst->mem + (size_t)N * 4,
                          dst->t.nb[1] - (size_t)N * 4) == 0,
                   "%s: wrote into row padding", label);
        free(tol);
        free(ref);
        free(x_in);
    }
    free(init);
    free(want);
}

static struct tb_op acc_op(enum tb_op_kind kind, const struct tb_op_params *p, struct acc_buf *dst,
                           const struct acc_buf *a, const struct acc_buf *b,
                           const struct acc_buf *c)
{
    struct tb_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    if (p)
        op.p = *p;
    op.dst = &dst->t;
    op.src[0] = a ? &a->t : NULL;
    op.src[1] = b ? &b->t : NULL;
    op.src[2] = c ? &c->t : NULL;
    op.layer = -1;
    snprintf(op.name, sizeof op.name, "acc_%s", tb_op_kind_name(kind));
    return op;
}

static const enum tb_type acc_wtypes[] = {TB_WTYPES(TB_WTYPE_ID)};

static void acc_cases_weights(struct acc_run *R)
{
    char label[160];
    for (size_t ti = 0; ti < sizeof acc_wtypes / sizeof acc_wtypes[0]; ti++) {
        const enum tb_type wt = acc_wtypes[ti];
        static const int64_t Ks[] = {32, 256, 800}, Ns[] = {1, 7, 65}, ns[] = {1, 3, 9};
        for (int a = 0; a < 3; a++)
            for (int bb = 0; bb < 3; bb++)
                for (int d = 0; d < 3 && Ks[a] % tb_type_traits(wt)->block_size == 0; d++) {
                    /* one strided shape: padded rows in W, X and Y */
                    const size_t pad = (a == 1 && d == 1) ? 12 : 0;
                    const size_t wpad = pad ? 4 * tb_type_traits(wt)->type_size : 0;
                    struct acc_buf W, X, Y;
                    acc_buf(&W, wt, Ks[a], Ns[bb], wpad);
                    acc_fill(&W, -1, 1);
                    acc_buf(&X, TB_TYPE_F32, Ks[a], ns[d], pad);
                    acc_fill(&X, -1, 1);
                    acc_buf(&Y, TB_TYPE_F32, Ns[bb], ns[d], pad);
                    struct tb_op op = acc_op(TB_OP_MATMUL, NULL, &Y, &W, &X, NULL);
                    snprintf(label, sizeof label, "matmul %s K=%lld N=%lld n=%lld pad=%zu",
                             tb_type_name(wt), (long long)Ks[a], (long long)Ns[bb],
                             (long long)ns[d], pad);
                    acc_check(R, &op, &Y, label);
                    if (a == 1 && bb == 2 && d == 0) {
                        /* same host pointer, new contents: a device weight
                         * cache must notice */
                        acc_fill(&W, -2, 2);
                        snprintf(label, sizeof label, "matmul %s rewritten weights",
                                 tb_type_name(wt));
                        acc_check(R, &op, &Y, label);
                    }
                    acc_free(&W);
                    acc_free(&X);
                    acc_free(&Y);
                }
        /* row lengths no block or vector width divides (unblocked types only) */
        for (int K = 37; K <= 38 && tb_type_traits(wt)->block_size == 1; K++)
            for (int n = 1; n <= 10; n += 9) {
                struct acc_buf W, X, Y;
                acc_buf(&W, wt, K, 5, 0);
                acc_fill(&W, -1, 1);
                acc_buf(&X, TB_TYPE_F32, K, n, 0);
                acc_fill(&X, -1, 1);
                acc_buf(&Y, TB_TYPE_F32, 5, n, 0);
                struct tb_op op = acc_op(TB_OP_MATMUL, NULL, &Y, &W, &X, NULL);
                snprintf(label, sizeof label, "matmul %s K=%d N=5 n=%d", tb_type_name(wt), K, n);
                acc_check(R, &op, &Y, label);
                acc_free(&W);
                acc_free(&X);
                acc_free(&Y);
            }
        /* rows of 96, or of one 256 super-block for the K-quants */
        const int64_t gk = tb_type_traits(wt)->block_size > 32 ? 256 : 96;
        for (int n = 1; n <= 4; n += 3) {
            struct acc_buf T, I, Y;
            acc_buf(&T, wt, gk, 11, 0);
            acc_fill(&T, -1, 1);
            acc_buf(&I, TB_TYPE_I32, n, 1, 0);
            acc_fill(&I, 0, 11);
            ((int32_t *)I.mem)[0] = 10;
            acc_buf(&Y, TB_TYPE_F32, gk, n, 0);
            struct tb_op op = acc_op(TB_OP_GET_ROWS, NULL, &Y, &T, &I, NULL);
            snprintf(label, sizeof label, "get_rows %s n=%d", tb_type_name(wt), n);
            acc_check(R, &op, &Y, label);
            acc_free(&T);
            acc_free(&I);
            acc_free(&Y);
        }
    }
}

static void acc_attention(struct acc_run *R, enum tb_type kt, enum tb_type vt, int hd, int nh,
                          int nkv, int n, int pos0, int non_causal)
{
    char label[160];
    const int64_t n_ctx = pos0 + n + 2;
    const struct tb_op_params p = opc_attention_params(hd, nh, nkv, pos0, non_causal);
    struct acc_buf Q, Kc, Vc, Y;
    acc_buf(&Q, TB_TYPE_F32, (int64_t)hd * nh, n, 0);
    acc_fill(&Q, -2, 2);
    acc_buf(&Kc, kt, (int64_t)hd * nkv, n_ctx, 0);
    acc_fill(&Kc, -1, 1);
    acc_buf(&Vc, vt, (int64_t)hd * nkv, n_ctx, 0);
    acc_fill(&Vc, -1, 1);
    acc_buf(&Y, TB_TYPE_F32, (int64_t)hd * nh, n, 0);
    struct tb_op op = acc_op(TB_OP_ATTENTION, &p, &Y, &Q, &Kc, &Vc);
    snprintf(label, sizeof label, "attention%s K %s V %s hd=%d heads=%d/%d n=%d pos0=%d",
             non_causal ? " non-causal" : "", tb_type_name(kt), tb_type_name(vt), hd, nh, nkv, n,
             pos0);
    acc_check(R, &op, &Y, label);
    acc_free(&Q);
    acc_free(&Kc);
    acc_free(&Vc);
    acc_free(&Y);
}

static void acc_cases_activations(struct acc_run *R)
{
    char label[160];
    static const int64_t Ks[] = {1, 37, 512};
    for (int a = 0; a < 3; a++)
        for (int n = 1; n <= 4; n += 3) {
            const struct tb_op_params p = {.eps = 1e-5f};
            struct acc_buf X, W, Y;
            acc_buf(&X, TB_TYPE_F32, Ks[a], n, 0);
            acc_fill(&X, -2, 2);
            acc_buf(&W, TB_TYPE_F32, Ks[a], 1, 0);
            acc_fill(&W, 0.5f, 1.5f);
            acc_buf(&Y, TB_TYPE_F32, Ks[a], n, 0);
            struct tb_op op = acc_op(TB_OP_RMS_NORM, &p, &Y, &X, &W, NULL);
            snprintf(label, sizeof label, "rms_norm K=%lld n=%d", (long long)Ks[a], n);
            acc_check(R, &op, &Y, label);
            for (int k = TB_OP_SILU; k <= TB_OP_ADD; k++) {
                struct acc_buf Z;
                acc_buf(&Z, TB_TYPE_F32, Ks[a], n, 0);
                op = acc_op((enum tb_op_kind)k, NULL, &Z, &X, k == TB_OP_SILU ? NULL : &Y, NULL);
                snprintf(label, sizeof label, "%s K=%lld n=%d", tb_op_kind_name(k),
                         (long long)Ks[a], n);
                acc_check(R, &op, &Z, label);
                acc_free(&Z);
            }
            acc_free(&X);
            acc_free(&W);
            acc_free(&Y);
        }
    static const int hds[] = {32, 128}, heads[] = {1, 3}, pos0s[] = {0, 500};
    for (int a = 0; a < 2; a++)
        for (int h = 0; h < 2; h++)
            for (int q = 0; q < 2; q++)
                for (int inplace = 0; inplace < 2; inplace++) {
                    const int n = 1 + 5 * q;
                    const struct tb_op_params p = {.rope_theta = 10000.0f,
                                                   .pos0 = pos0s[q],
                                                   .n_head = heads[h],
                                                   .head_dim = hds[a]};
                    struct acc_buf X, Y;
                    acc_buf(&X, TB_TYPE_F32, (int64_t)hds[a] * heads[h], n, 0);
                    acc_fill(&X, -1, 1);
                    acc_buf(&Y, TB_TYPE_F32, (int64_t)hds[a] * heads[h], n, 0);
                    if (inplace)
                        memcpy(Y.mem, X.mem, X.bytes);
                    struct tb_op op = acc_op(TB_OP_ROPE, &p, &Y, inplace ? &Y : &X, NULL, NULL);
                    snprintf(label, sizeof label, "rope%s hd=%d n_head=%d n=%d pos0=%d",
                             inplace ? " in-place" : "", hds[a], heads[h], n, pos0s[q]);
                    acc_check(R, &op, &Y, label);
                    acc_free(&X);
                    acc_free(&Y);
                }
    for (int ct = 0; ct < 2; ct++)
        for (int pos0 = 0; pos0 <= 9; pos0 += 9)
            for (int n = 1; n <= 4; n += 3) {
                const enum tb_type t = ct ? TB_TYPE_F16 : TB_TYPE_F32;
                const struct tb_op_params p = {.pos0 = pos0};
                struct acc_buf X, C;
                acc_buf(&X, TB_TYPE_F32, 96, n, 0);
                acc_fill(&X, -3, 3);
                acc_buf(&C, t, 96, 16, 0);
                acc_fill(&C, -1, 1); /* old rows the op must keep */
                struct tb_op op = acc_op(TB_OP_KV_STORE, &p, &C, &X, NULL, NULL);
                snprintf(label, sizeof label, "kv_store %s pos0=%d n=%d", tb_type_name(t), pos0, n);
                acc_check(R, &op, &C, label);
                acc_free(&X);
                acc_free(&C);
            }
    static const enum tb_type kvt[][2] = {
        {TB_TYPE_F32, TB_TYPE_F32}, {TB_TYPE_F16, TB_TYPE_F16}, {TB_TYPE_F16, TB_TYPE_F32}};
    static const int ah[][2] = {{1, 1}, {8, 2}};
    for (int nc = 0; nc < 2; nc++)
        for (int t = 0; t < 3; t++)
            for (int a = 0; a < 2; a++)
                for (int h = 0; h < 2; h++)
                    for (int q = 0; q < 2; q++)
                        acc_attention(R, kvt[t][0], kvt[t][1], hds[a], ah[h][0], ah[h][1],
                                      1 + 4 * q, 20 * (t != q), nc);
}

/* A 3-op graph through compute_graph: one launch or more per op, times. */
static void acc_graph(struct acc_run *R)
{
    struct acc_buf X, W, H, Y;
    acc_buf(&X, TB_TYPE_F32, 64, 2, 0);
    acc_fill(&X, -1, 1);
    acc_buf(&W, TB_TYPE_Q8_0, 64, 64, 0);
    acc_fill(&W, -1, 1);
    acc_buf(&H, TB_TYPE_F32, 64, 2, 0);
    acc_buf(&Y, TB_TYPE_F32, 64, 2, 0);
    struct tb_graph g;
    CHECK(tb_graph_init(&g, 4) == TB_OK);
    const struct tb_op_params p = {.eps = 1e-6f};
    struct acc_buf Wn;
    acc_buf(&Wn, TB_TYPE_F32, 64, 1, 0);
    acc_fill(&Wn, 0.5f, 1.5f);
    CHECK(tb_graph_add(&g, TB_OP_RMS_NORM, "g_norm", 0, &p, &H.t, &X.t, &Wn.t, NULL) != NULL);
    CHECK(tb_graph_add(&g, TB_OP_MATMUL, "g_mm", 0, NULL, &Y.t, &W.t, &H.t, NULL) != NULL);
    CHECK(tb_graph_add(&g, TB_OP_SILU, "g_silu", 0, NULL, &Y.t, &Y.t, NULL, NULL) != NULL);
    uint64_t ns[3] = {0, 0, 0};
    struct tb_err err = {0};
    CHECKF(tb_backend_compute_graph(R->b, &g, 0, 3, ns, &err) == TB_OK, "graph: %s", err.msg);
    struct tb_op_evidence ev = {0};
    CHECK(tb_backend_op_evidence(R->b, &ev, &err) == TB_OK);
    CHECKF(ev.last_launches >= 3 && ev.last_device_ns > 0 && ev.total_launches > ev.last_launches,
           "graph evidence: last %llu launches %llu ns, total %llu",
           (unsigned long long)ev.last_launches, (unsigned long long)ev.last_device_ns,
           (unsigned long long)ev.total_launches);
    CHECK(ns[0] > 0 && ns[1] > 0 && ns[2] > 0);
    CHECK(tb_backend_synchronize(R->b, &err) == TB_OK);
    float got[128];
    memcpy(got, Y.mem, sizeof got);
    CHECK(tb_backend_compute_graph(R->ref, &g, 0, 3, NULL, &err) == TB_OK);
    double e = 0, m = 0;
    for (int i = 0; i < 128; i++) {
        e = fmax(e, fabs((double)got[i] - ((float *)Y.mem)[i]));
        m = fmax(m, fabs(((float *)Y.mem)[i]));
    }
    CHECKF(e <= 1e-2 * m, "graph result off by %g (max %g)", e, m);
    tb_graph_free(&g);
    acc_free(&X);
    acc_free(&W);
    acc_free(&H);
    acc_free(&Y);
    acc_free(&Wn);
}

/* A llama-like layer as one graph (embedding, attention with in-place RoPE,
 * KV stores then attention over the f16 cache, residual ADDs in place, a
 * gated FFN with in-place SILU / MUL): activations reuse a few buffers, as
 * a model's run state does. Run on cpu-ref and on the backend (own copies
 * of activations and caches, shared weights) as one range, with per-op
 * times, and op by op; a backend keeping outputs on the device within a
 * range must give the same host results. */
enum { L_DIM = 64, L_HEADS = 4, L_KV = 2, L_HD = 16, L_FFN = 96, L_N = 3, L_POS0 = 2, L_CTX = 8 };

struct layer_acts {
    struct acc_buf x, xb, q, k, v, kc, vc, att, h1, h2;
};

struct layer_weights {
    struct acc_buf emb, ids, wn1, wn2, wq, wk, wv, wo, w1, w2, w3;
};

static void layer_acts_init(struct layer_acts *a)
{
    acc_buf(&a->x, TB_TYPE_F32, L_DIM, L_N, 0);
    acc_buf(&a->xb, TB_TYPE_F32, L_DIM, L_N, 0);
    acc_buf(&a->q, TB_TYPE_F32, L_DIM, L_N, 0);
    acc_buf(&a->k, TB_TYPE_F32, L_KV * L_HD, L_N, 0);
    acc_buf(&a->v, TB_TYPE_F32, L_KV * L_HD, L_N, 0);
    acc_buf(&a->kc, TB_TYPE_F16, L_KV * L_HD, L_CTX, 0);
    acc_fill(&a->kc, -1, 1); /* rows 0..pos0-1: earlier tokens */
    acc_buf(&a->vc, TB_TYPE_F16, L_KV * L_HD, L_CTX, 0);
    acc_fill(&a->vc, -1, 1);
    acc_buf(&a->att, TB_TYPE_F32, L_DIM, L_N, 0);
    acc_buf(&a->h1, TB_TYPE_F32, L_FFN, L_N, 0);
    acc_buf(&a->h2, TB_TYPE_F32, L_FFN, L_N, 0);
}

static void layer_acts_copy(struct layer_acts *dst, const struct layer_acts *src)
{
    const struct acc_buf *s = &src->x;
    struct acc_buf *d = &dst->x;
    for (int i = 0; i < 10; i++)
        memcpy(d[i].mem, s[i].mem, s[i].bytes);
}

static void layer_acts_free(struct layer_acts *a)
{
    struct acc_buf *b = &a->x;
    for (int i = 0; i < 10; i++)
        acc_free(&b[i]);
}

static void layer_graph(struct tb_graph *g, struct layer_acts *a, struct layer_weights *w)
{
    const struct tb_op_params pn = {.eps = 1e-5f};
    const struct tb_op_params pr = {
        .rope_theta = 10000.0f, .pos0 = L_POS0, .n_head = L_HEADS, .head_dim = L_HD};
    const struct tb_op_params prk = {
        .rope_theta = 10000.0f, .pos0 = L_POS0, .n_head = L_KV, .head_dim = L_HD};
    const struct tb_op_params pa = {
        .scale = 0.25f, .pos0 = L_POS0, .n_head = L_HEADS, .n_head_kv = L_KV, .head_dim = L_HD};
    tb_graph_reset(g);
    tb_graph_add(g, TB_OP_GET_ROWS, "emb", -1, NULL, &a->x.t, &w->emb.t, &w->ids.t, NULL);
    tb_graph_add(g, TB_OP_RMS_NORM, "attn_norm", 0, &pn, &a->xb.t, &a->x.t, &w->wn1.t, NULL);
    tb_graph_add(g, TB_OP_MATMUL, "wq", 0, NULL, &a->q.t, &w->wq.t, &a->xb.t, NULL);
    tb_graph_add(g, TB_OP_MATMUL, "wk", 0, NULL, &a->k.t, &w->wk.t, &a->xb.t, NULL);
    tb_graph_add(g, TB_OP_MATMUL, "wv", 0, NULL, &a->v.t, &w->wv.t, &a->xb.t, NULL);
    tb_graph_add(g, TB_OP_ROPE, "rope_q", 0, &pr, &a->q.t, &a->q.t, NULL, NULL);
    tb_graph_add(g, TB_OP_ROPE, "rope_k", 0, &prk, &a->k.t, &a->k.t, NULL, NULL);
    tb_graph_add(g, TB_OP_KV_STORE, "k_store", 0, &pa, &a->kc.t, &a->k.t, NULL, NULL);
    tb_graph_add(g, TB_OP_KV_STORE, "v_store", 0, &pa, &a->vc.t, &a->v.t, NULL, NULL);
    tb_graph_add(g, TB_OP_ATTENTION, "attn", 0, &pa, &a->att.t, &a->q.t, &a->kc.t, &a->vc.t);
    tb_graph_add(g, TB_OP_MATMUL, "wo", 0, NULL, &a->xb.t, &w->wo.t, &a->att.t, NULL);
    tb_graph_add(g, TB_OP_ADD, "res1", 0, NULL, &a->x.t, &a->x.t, &a->xb.t, NULL);
    tb_graph_add(g, TB_OP_RMS_NORM, "ffn_norm", 0, &pn, &a->xb.t, &a->x.t, &w->wn2.t, NULL);
    tb_graph_add(g, TB_OP_MATMUL, "w1", 0, NULL, &a->h1.t, &w->w1.t, &a->xb.t, NULL);
    tb_graph_add(g, TB_OP_MATMUL, "w3", 0, NULL, &a->h2.t, &w->w3.t, &a->xb.t, NULL);
    tb_graph_add(g, TB_OP_SILU, "silu", 0, NULL, &a->h1.t, &a->h1.t, NULL, NULL);
    tb_graph_add(g, TB_OP_MUL, "gate", 0, NULL, &a->h1.t, &a->h1.t, &a->h2.t, NULL);
    tb_graph_add(g, TB_OP_MATMUL, "w2", 0, NULL, &a->xb.t, &w->w2.t, &a->h1.t, NULL);
    tb_graph_add(g, TB_OP_ADD, "res2", 0, NULL, &a->x.t, &a->x.t, &a->xb.t, NULL);
}

/* |got - want| <= rel * max|want| for every element of every buffer */
static void layer_compare(const struct layer_acts *got, const struct layer_acts *want,
                          const char *how)
{
    static const char *const names[10] = {"x", "xb", "q", "k", "v", "kc", "vc", "att", "h1", "h2"};
    const struct acc_buf *g = &got->x, *w = &want->x;
    for (int b = 0; b < 10; b++) {
        const int64_t n = w[b].t.ne[0] * w[b].t.ne[1];
        const bool f16 = w[b].t.type == TB_TYPE_F16;
        double m = 0, e = 0;
        for (int64_t i = 0; i < n; i++) {
            const double wv = f16 ? tb_fp16_to_fp32(((const tb_fp16 *)w[b].mem)[i])
                                  : ((const float *)w[b].mem)[i];
            const double gv = f16 ? tb_fp16_to_fp32(((const tb_fp16 *)g[b].mem)[i])
                                  : ((const float *)g[b].mem)[i];
            m = fmax(m, fabs(wv));
            e = isfinite(gv) ? fmax(e, fabs(gv - wv)) : INFINITY;
        }
        const double rel = f16 ? 2e-3 : 1e-4; /* an f16 store may round the other way */
        CHECKF(e <= rel * m, "layer graph (%s): %s off by %g (max %g)", how, names[b], e, m);
    }
}

static void acc_layer(struct acc_run *R)
{
    struct layer_weights w;
    acc_buf(&w.emb, TB_TYPE_Q8_0, L_DIM, 10, 0);
    acc_buf(&w.ids, TB_TYPE_I32, L_N, 1, 0);
    acc_buf(&w.wn1, TB_TYPE_F32, L_DIM, 1, 0);
    acc_buf(&w.wn2, TB_TYPE_F32, L_DIM, 1, 0);
    acc_buf(&w.wq, TB_TYPE_F16, L_DIM, L_DIM, 0);
    acc_buf(&w.wk, TB_TYPE_Q8_0, L_DIM, L_KV * L_HD, 0);
    acc_buf(&w.wv, TB_TYPE_F32, L_DIM, L_KV * L_HD, 0);
    acc_buf(&w.wo, TB_TYPE_F16, L_DIM, L_DIM, 0);
    acc_buf(&w.w1, TB_TYPE_Q8_0, L_DIM, L_FFN, 0);
    acc_buf(&w.w3, TB_TYPE_F32, L_DIM, L_FFN, 0);
    acc_buf(&w.w2, TB_TYPE_F16, L_FFN, L_DIM, 0);
    struct acc_buf *wb = &w.emb;
    for (int i = 0; i < 11; i++)
        if (wb[i].t.type != TB_TYPE_I32)
            acc_fill(&wb[i], i == 2 || i == 3 ? 0.5f : -0.3f, i == 2 || i == 3 ? 1.5f : 0.3f);
    acc_fill(&w.ids, 0, 10);
    struct layer_acts init, ref, got;
    layer_acts_init(&init);
    layer_acts_init(&ref);
    layer_acts_init(&got);
    layer_acts_copy(&ref, &init);
    struct tb_graph gr, gb;
    CHECK(tb_graph_init(&gr, 32) == TB_OK && tb_graph_init(&gb, 32) == TB_OK);
    layer_graph(&gr, &ref, &w);
    layer_graph(&gb, &got, &w);
    struct tb_err err = {0};
    CHECKF(tb_backend_compute_graph(R->ref, &gr, 0, gr.n_ops, NULL, &err) == TB_OK, "ref: %s",
           err.msg);
    uint64_t ns[32];
    for (int mode = 0; mode < 3; mode++) { /* range, range with times, op by op; twice each */
        static const char *const how[3] = {"one range", "range with op times", "op by op"};
        for (int rep = 0; rep < 2; rep++) {
            layer_acts_copy(&got, &init);
            int rc = TB_OK;
            if (mode < 2)
                rc = tb_backend_compute_graph(R->b, &gb, 0, gb.n_ops, mode ? ns : NULL, &err);
            for (int i = 0; mode == 2 && i < gb.n_ops && !rc; i++)
                rc = tb_backend_compute_op(R->b, &gb.ops[i], &err);
            CHECKF(rc == TB_OK, "layer graph (%s): %s", how[mode], err.msg);
            layer_compare(&got, &ref, how[mode]);
            struct tb_op_evidence ev = {0};
            CHECK(tb_backend_op_evidence(R->b, &ev, &err) == TB_OK);
            CHECKF(
                ev.last_launches >= (uint64_t)(mode == 2 ? 1 : gb.n_ops) && ev.last_device_ns > 0,
                "layer graph (%s): %llu launches", how[mode], (unsigned long long)ev.last_launches);
        }
    }
    tb_graph_free(&gr);
    tb_graph_free(&gb);
    layer_acts_free(&init);
    layer_acts_free(&ref);
    layer_acts_free(&got);
    for (int i = 0; i < 11; i++)
        acc_free(&wb[i]);
}

static void acc_run_all(struct acc_run *R)
{
    acc_cases_weights(R);
    acc_cases_activations(R);
    acc_graph(R);
    acc_layer(R);
    printf("%s: %d cases (%d refused as expected); worst err/tol:", tb_backend_name(R->b), R->cases,
           R->refused);
    for (int k = 0; k < TB_OP_COUNT; k++)
        printf(" %s %.2f", tb_op_kind_name((enum tb_op_kind)k), R->worst[k]);
    printf("\n");
}

#endif

/* NaN/Inf policy (issue 19, item 6):
 *   - weights: a NaN or Inf in a tensor (f32/f16/bf16 values, the f16 scale
 *     of a quantized block, the f16 minimum of a q4_1/q5_1 block) is rejected by tb_llama_load with
 * the tensor's name and the value's file offset; tensor data that general.alignment = 1 leaves
 * misaligned is rejected, aligned data under alignment 1 loads;
 *   - activations: every cpu ISA's matmul takes NaN, Inf, huge and tiny
 *     activations without undefined behaviour (the ASan+UBSan build turns
 *     any into a failure) and a non-finite block gives a non-finite output,
 *     never a plausible finite one;
 *   - a model whose finite but huge weight overflows fails its eval with
 *     "non-finite logit at position P" on cpu-ref and on every cpu ISA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/tb_backend.h"
#include "kernels/tb_graph.h"
#include "kernels/tb_wtypes.h"
#include "tb_test.h"
#include "workloads/tb_llama.h"

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long len = -1;
    if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
        (b = malloc((size_t)len)) && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    if (f)
        fclose(f);
    *n = b ? (size_t)len : 0;
    return b;
}

static int spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    const int ok = f && fwrite(b, 1, n, f) == n;
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

/* File offset of tensor `name`'s data in a GGUF file, or -1. */
static long long tensor_off(const char *path, const char *name)
{
    struct tb_gguf *g = NULL;
    struct tb_err e = {0};
    long long off = -1;
    if (tb_gguf_open(path, &g, &e) == TB_OK) {
        const int64_t i = tb_gguf_find_tensor(g, name);
        if (i >= 0)
            off = (long long)(tb_gguf_data_offset(g) + tb_gguf_tensor(g, i)->offset);
        tb_gguf_close(g);
    }
    return off;
}

/* A copy of src with `n` bytes at tensor `name` + `at` replaced. */
static int patch(const char *src, const char *dst, const char *name, long long at, const void *v,
                 size_t n)
{
    size_t size = 0;
    char *b = slurp(src, &size);
    const long long off = tensor_off(src, name);
    int rc = -1;
    if (b && off >= 0 && (size_t)(off + at) + n <= size) {
        memcpy(b + off + at, v, n);
        rc = spit(dst, b, size);
    }
    free(b);
    return rc;
}

static char g_dir[512];

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s-%s.gguf", g_dir, name);
}

/* Load must fail with TB_EFORMAT naming the tensor and `what`. */
static void expect_rejected(const char *path, const char *tensor, const char *what)
{
    struct tb_llama_model *m = NULL;
    struct tb_err e = {0};
    const int rc = tb_llama_load(path, &m, &e);
    CHECKF(rc == TB_EFORMAT && m == NULL, "%s: load returned %d (%s)", path, rc, e.msg);
    CHECKF(strstr(e.msg, tensor) && strstr(e.msg, what) && strstr(e.msg, "offset "),
           "%s: message lacks '%s' / '%s': %s", path, tensor, what, e.msg);
    printf("rejected: %s\n", e.msg);
    tb_llama_free(m);
}

/* bf16 values (its own exponent field: 0x7f80) and the f16 minimum of
 * q4_1 / q5_1 blocks (bytes 2..3, after the scale). */
static void test_weights_rejected_more(const char *bad)
{
    char bf[700], q41[700], q51[700];
    struct tb_err e = {0};
    path_of(bf, sizeof bf, "bf16");
    path_of(q41, sizeof q41, "q41");
    path_of(q51, sizeof q51, "q51");
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_BF16, 1, bf, &e) == TB_OK, "%s", e.msg);
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q4_1, 1, q41, &e) == TB_OK, "%s", e.msg);
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q5_1, 1, q51, &e) == TB_OK, "%s", e.msg);
    const uint16_t b_nan = 0x7fc0, b_ninf = 0xff80, b_big = 0x7c00, h_nan = 0x7e00, h_inf = 0x7c00;
    CHECK(patch(bf, bad, "blk.3.ffn_up.weight", 2 * 9, &b_nan, 2) == 0);
    expect_rejected(bad, "blk.3.ffn_up.weight", "element 9 is non-finite");
    CHECK(patch(bf, bad, "output.weight", 2 * 300, &b_ninf, 2) == 0);
    expect_rejected(bad, "output.weight", "element 300 is non-finite");
    /* 0x7c00 is Inf as f16 but 2^121 as bf16: finite, it loads */
    CHECK(patch(bf, bad, "blk.0.attn_k.weight", 2 * 4, &b_big, 2) == 0);
    struct tb_llama_model *m = NULL;
    CHECKF(tb_llama_load(bad, &m, &e) == TB_OK, "bf16 0x7c00: %s", e.msg);
    tb_llama_free(m);
    m = NULL;
    CHECK(patch(q41, bad, "blk.1.attn_q.weight", 20 * 6 + 2, &h_nan, 2) == 0);
    expect_rejected(bad, "blk.1.attn_q.weight", "block 6 has a non-finite minimum");
    CHECK(patch(q41, bad, "blk.1.attn_q.weight", 20 * 6, &h_inf, 2) == 0);
    expect_rejected(bad, "blk.1.attn_q.weight", "block 6 has a non-finite scale");
    CHECK(patch(q51, bad, "blk.4.ffn_gate.weight", 24 * 11 + 2, &h_inf, 2) == 0);
    expect_rejected(bad, "blk.4.ffn_gate.weight", "block 11 has a non-finite minimum");
    CHECK(patch(q51, bad, "blk.4.ffn_gate.weight", 24 * 11, &h_inf, 2) == 0);
    expect_rejected(bad, "blk.4.ffn_gate.weight", "block 11 has a non-finite scale");
    /* the first bad block is named, whether its scale or its minimum is bad */
    char bad2[700];
    path_of(bad2, sizeof bad2, "bad2");
    CHECK(patch(bad, bad2, "blk.4.ffn_gate.weight", 24 * 5 + 2, &h_nan, 2) == 0);
    expect_rejected(bad2, "blk.4.ffn_gate.weight", "block 5 has a non-finite minimum");
    unlink(bad2);
    /* q6_K: the super-block's f16 scale is its last 2 bytes (208..209) */
    char q6k[700], badk[700];
    path_of(badk, sizeof badk, "badk");
    path_of(q6k, sizeof q6k, "q6k");
    CHECKF(tb_synth_write("tiny-256", TB_TYPE_Q6_K, 1, q6k, &e) == TB_OK, "%s", e.msg);
    CHECKF(tb_llama_load(q6k, &m, &e) == TB_OK, "q6_K: %s", e.msg);
    tb_llama_free(m);
    m = NULL;
    CHECK(patch(q6k, badk, "blk.1.attn_q.weight", 210 * 3 + 208, &h_nan, 2) == 0);
    expect_rejected(badk, "blk.1.attn_q.weight", "block 3 has a non-finite scale");
    CHECK(patch(q6k, badk, "output.weight", 210 * 500 + 208, &h_inf, 2) == 0);
    expect_rejected(badk, "output.weight", "block 500 has a non-finite scale");
    /* a NaN pattern among the quants or sub-block scales is just numbers */
    CHECK(patch(q6k, badk, "blk.0.ffn_up.weight", 210 * 2 + 192, &h_nan, 2) == 0);
    CHECKF(tb_llama_load(badk, &m, &e) == TB_OK, "q6_K scales 0x7e00: %s", e.msg);
    tb_llama_free(m);
    m = NULL;
    /* q4_K / q5_K: fp16 d at bytes 0..1, dmin (the minimums' scale) at 2..3 */
    char q4k[700], q5k[700];
    path_of(q4k, sizeof q4k, "q4k");
    path_of(q5k, sizeof q5k, "q5k");
    CHECKF(tb_synth_write("tiny-256", TB_TYPE_Q4_K, 1, q4k, &e) == TB_OK, "%s", e.msg);
    CHECKF(tb_synth_write("tiny-256", TB_TYPE_Q5_K, 1, q5k, &e) == TB_OK, "%s", e.msg);
    CHECK(patch(q4k, badk, "blk.0.attn_v.weight", 144 * 7 + 2, &h_nan, 2) == 0);
    expect_rejected(badk, "blk.0.attn_v.weight", "block 7 has a non-finite minimum");
    CHECK(patch(q4k, badk, "blk.0.attn_v.weight", 144 * 7, &h_inf, 2) == 0);
    expect_rejected(badk, "blk.0.attn_v.weight", "block 7 has a non-finite scale");
    CHECK(patch(q5k, badk, "blk.1.ffn_down.weight", 176 * 2 + 2, &h_inf, 2) == 0);
    expect_rejected(badk, "blk.1.ffn_down.weight", "block 2 has a non-finite minimum");
    CHECKF(tb_llama_load(q5k, &m, &e) == TB_OK, "q5_K: %s", e.msg);
    tb_llama_free(m);
    m = NULL;
    remove(q4k);
    remove(q5k);
    remove(q6k);
    remove(badk);
    unlink(bf);
    unlink(q41);
    unlink(q51);
}

static void test_weights_rejected(void)
{
    char q8[700], f16[700], q4[700], bad[700];
    struct tb_err e = {0};
    path_of(q8, sizeof q8, "q8");
    path_of(f16, sizeof f16, "f16");
    path_of(q4, sizeof q4, "q4");
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q8_0, 1, q8, &e) == TB_OK, "%s", e.msg);
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_F16, 1, f16, &e) == TB_OK, "%s", e.msg);
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q4_0, 1, q4, &e) == TB_OK, "%s", e.msg);
    path_of(bad, sizeof bad, "bad");
    const float nan = NAN, inf = -INFINITY;
    const uint16_t h_nan = 0x7e00, h_inf = 0x7c00, h_ninf = 0xfc00;
    /* f32 norm weight, element 5 */
    CHECK(patch(q8, bad, "blk.1.ffn_norm.weight", 5 * 4, &nan, 4) == 0);
    expect_rejected(bad, "blk.1.ffn_norm.weight", "element 5 is non-finite");
    CHECK(patch(q8, bad, "output_norm.weight", 63 * 4, &inf, 4) == 0);
    expect_rejected(bad, "output_norm.weight", "element 63 is non-finite");
    /* f16 values */
    CHECK(patch(f16, bad, "blk.0.attn_q.weight", 2 * 7, &h_inf, 2) == 0);
    expect_rejected(bad, "blk.0.attn_q.weight", "element 7 is non-finite");
    CHECK(patch(f16, bad, "token_embd.weight", 2 * 1000, &h_nan, 2) == 0);
    expect_rejected(bad, "token_embd.weight", "element 1000 is non-finite");
    /* block scales: q8_0 (34-byte blocks) and q4_0 (18-byte blocks) */
    CHECK(patch(q8, bad, "blk.4.ffn_down.weight", 34 * 3, &h_nan, 2) == 0);
    expect_rejected(bad, "blk.4.ffn_down.weight", "block 3 has a non-finite scale");
    CHECK(patch(q4, bad, "blk.2.attn_v.weight", 18 * 17, &h_ninf, 2) == 0);
    expect_rejected(bad, "blk.2.attn_v.weight", "block 17 has a non-finite scale");
    /* a NaN quant byte is just a number: only the scale can be non-finite */
    const uint8_t ff = 0xff;
    CHECK(patch(q8, bad, "blk.0.attn_k.weight", 34 * 2 + 5, &ff, 1) == 0);
    struct tb_llama_model *m = NULL;
    CHECKF(tb_llama_load(bad, &m, &e) == TB_OK, "%s", e.msg);
    tb_llama_free(m);
    test_weights_rejected_more(bad);
}

/* --------------------------------------------------- general.alignment = 1 */

/* The synth file's bytes with general.alignment = 1 and general.name
 * shortened by `shorten` bytes; with `shift`, the padding before the data
 * section is dropped so the tensors are where alignment 1 puts them (a
 * valid file), else the data is left in place (the mutant: every
 * tensor read from the wrong bytes). */
static char *align1(const char *src, int shorten, int shift, size_t *n)
{
    size_t size = 0;
    char *b = slurp(src, &size);
    if (!b)
        return NULL;
    struct tb_gguf *g = NULL;
    struct tb_err e = {0};
    uint64_t data0 = 0;
    if (tb_gguf_open(src, &g, &e) == TB_OK) {
        data0 = tb_gguf_data_offset(g);
        tb_gguf_close(g);
    }
    static const char ak[] = "general.alignment", nk[] = "general.name";
    char *a = memmem(b, size, ak, sizeof ak - 1), *nm = memmem(b, size, nk, sizeof nk - 1);
    if (!a || !nm || !data0) {
        free(b);
        return NULL;
    }
    const uint32_t one = 1;
    memcpy(a + sizeof ak - 1 + 4, &one, 4); /* key, then u32 type, then value */
    char *len_at = nm + sizeof nk - 1 + 4;  /* key, type (string), u64 length, bytes */
    uint64_t len;
    memcpy(&len, len_at, 8);
    len -= (uint64_t)shorten;
    memcpy(len_at, &len, 8);
    char *str = len_at + 8;
    memmove(str + len, str + len + shorten, size - (size_t)(str + len + shorten - b));
    size -= (size_t)shorten;
    data0 -= (uint64_t)shorten;
    if (shift) { /* alignment 1: the data starts right after the tensor infos */
        struct tb_gguf *h = NULL;
        if (tb_gguf_open_memory(b, size, "mutant", &h, &e) == TB_OK) {
            const uint64_t d1 = tb_gguf_data_offset(h);
            tb_gguf_close(h);
            memmove(b + d1, b + data0, size - data0);
            size -= data0 - d1;
        }
    }
    *n = size;
    return b;
}

static void logits_of(const char *path, float *out, int *rc_out)
{
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_backend *b = NULL;
    struct tb_err e = {0};
    const int32_t toks[3] = {1, 7, 42};
    int rc = tb_llama_load(path, &m, &e);
    if (!rc)
        rc = tb_llama_state_build(m, 3, 8, &s, &e);
    if (!rc)
        rc = tb_backend_create("cpu-ref", NULL, &b, &e);
    if (!rc)
        rc = tb_llama_eval(m, s, b, toks, 3, 0, TB_LLAMA_LAST_LOGITS, NULL, &e);
    if (!rc)
        memcpy(out, tb_llama_logits(s, 0), 512 * sizeof *out);
    else
        printf("%s: %s\n", path, e.msg);
    tb_backend_free(b);
    tb_llama_state_free(s);
    tb_llama_free(m);
    *rc_out = rc;
}

static void test_alignment_1(void)
{
    char q8[700], mut[700];
    path_of(q8, sizeof q8, "q8");
    path_of(mut, sizeof mut, "align1");
    float want[512], got[512];
    int rc;
    logits_of(q8, want, &rc);
    CHECK(rc == TB_OK);
    int loaded = 0, misaligned = 0;
    for (int k = 0; k < 4; k++) { /* data offsets P, P-1, P-2, P-3 */
        size_t n = 0;
        char *b = align1(q8, k, 1, &n);
        CHECK(b != NULL && spit(mut, b, n) == 0);
        free(b);
        struct tb_gguf *g = NULL;
        struct tb_err e = {0};
        CHECKF(tb_gguf_open(mut, &g, &e) == TB_OK, "%s", e.msg);
        const uint64_t d = g ? tb_gguf_data_offset(g) : 0;
        tb_gguf_close(g);
        struct tb_llama_model *m = NULL;
        rc = tb_llama_load(mut, &m, &e);
        tb_llama_free(m);
        if (d % 4 == 0) { /* f32 norms and f16 scales aligned: same model */
            CHECKF(rc == TB_OK, "data offset %llu: %s", (unsigned long long)d, e.msg);
            logits_of(mut, got, &rc);
            CHECK(rc == TB_OK && !memcmp(got, want, sizeof got));
            loaded++;
        } else {
            CHECKF(rc == TB_EFORMAT && strstr(e.msg, "-byte aligned") &&
                       strstr(e.msg, "general.alignment = 1"),
                   "data offset %llu: %d %s", (unsigned long long)d, rc, e.msg);
            misaligned++;
        }
    }
    CHECK(loaded >= 1 && misaligned >= 1);
    /* the mutant: alignment 1, data left in place (garbage weights) */
    size_t n = 0;
    char *b = align1(q8, 0, 0, &n);
    CHECK(b != NULL && spit(mut, b, n) == 0);
    free(b);
    logits_of(mut, got, &rc);
    CHECKF(rc < 0, "alignment-1 mutant loaded and evaluated (rc %d)", rc);
    printf("alignment 1: %d loads (aligned data), %d rejected as misaligned\n", loaded, misaligned);
}

/* ------------------------------------------------- huge weight: eval fails */

static void test_huge_weight(void)
{
    char q8[700], bad[700];
    path_of(q8, sizeof q8, "q8");
    path_of(bad, sizeof bad, "huge");
    const float huge = 3e38f;
    CHECK(patch(q8, bad, "blk.0.attn_norm.weight", 0, &huge, 4) == 0);
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_err e = {0};
    CHECKF(tb_llama_load(bad, &m, &e) == TB_OK, "a finite weight loads: %s", e.msg);
    CHECK(m && tb_llama_state_build(m, 4, 16, &s, &e) == TB_OK);
    if (!s) {
        tb_llama_free(m);
        return;
    }
    const int32_t toks[4] = {1, 2, 3, 4};
    int cases = 0;
    for (int isa = -1; isa <= (int)tb_isa_detect(); isa++) {
        struct tb_backend_config cfg;
        tb_backend_config_default(&cfg);
        cfg.n_threads = 2;
        cfg.isa_cap = isa < 0 ? TB_ISA_COUNT : (enum tb_isa)isa;
        struct tb_backend *b = NULL;
        CHECK(tb_backend_create(isa < 0 ? "cpu-ref" : "cpu", &cfg, &b, &e) == TB_OK);
        if (!b)
            continue;
        for (int mode = TB_LLAMA_LAST_LOGITS; mode <= TB_LLAMA_EMBED; mode++) {
            struct tb_err ee = {0};
            const int rc = tb_llama_eval(m, s, b, toks, 4, 0, mode, NULL, &ee);
            CHECKF(rc == TB_ENONFINITE &&
                       strstr(ee.msg, mode == TB_LLAMA_EMBED
                                          ? "non-finite hidden state at position "
                                          : "non-finite logit at position "),
                   "%s mode %d: %d %s", isa < 0 ? "cpu-ref" : tb_isa_name(isa), mode, rc, ee.msg);
            if (mode == TB_LLAMA_LAST_LOGITS) /* the one row is the last position */
                CHECKF(strstr(ee.msg, "at position 3 ") != NULL, "%s", ee.msg);
            cases++;
        }
        tb_backend_free(b);
    }
    printf("huge weight: %d backend x mode evals failed with a non-finite output\n", cases);
    tb_llama_state_free(s);
    tb_llama_free(m);
}

/* -------------------------------------------- kernels: hostile activations */

static void test_kernels(void)
{
    enum { K = 256, N = 32, R = 6 }; /* 256: whole K-quant super-blocks */
    static const enum tb_type types[] = {TB_WTYPES(TB_WTYPE_ID)};
    static float wf[N * K], x[R * K], d[R * N];
    for (int i = 0; i < N * K; i++)
        wf[i] = (float)((i * 37) % 19 - 9) / 16.0f;
    /* rows: normal, NaN, +Inf, -Inf and 3e38 in one block, tiny */
    for (int r = 0; r < R; r++)
        for (int k = 0; k < K; k++)
            x[r * K + k] = (float)((k * 13 + r) % 11 - 5) / 8.0f;
    x[1 * K + 40] = NAN; /* two in one block: INT_MIN + INT_MIN once */
    x[1 * K + 41] = NAN;
    x[2 * K + 3] = INFINITY;
    x[2 * K + 4] = INFINITY;
    x[3 * K + 100] = -INFINITY;
    x[3 * K + 101] = 3e38f;
    for (int k = 64; k < 96; k++)
        x[5 * K + k] = k % 2 ? 1e-39f : -3e-40f; /* subnormal: 1/scale overflows */
    x[4 * K + 7] = 3e38f;                        /* huge but finite */
    x[4 * K + 8] = -3e38f;
    int runs = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const size_t rs = tb_row_size(types[t], K);
        unsigned char *w = malloc(rs * N);
        for (int j = 0; j < N; j++)
            tb_quantize_row(types[t], wf + j * K, w + rs * (size_t)j, K);
        for (int isa = TB_ISA_SCALAR; isa <= (int)tb_isa_detect(); isa++)
            for (int n = 1; n <= R; n += R - 1) { /* decode row 1 (NaN) alone, then all */
                struct tb_backend_config cfg;
                tb_backend_config_default(&cfg);
                cfg.isa_cap = (enum tb_isa)isa;
                cfg.n_threads = 1;
                struct tb_backend *b = NULL;
                struct tb_err e = {0};
                if (tb_backend_create("cpu", &cfg, &b, &e) != TB_OK) {
                    CHECKF(0, "%s", e.msg);
                    continue;
                }
                struct tb_tensor W, X, D;
                const int64_t wne[2] = {K, N}, xne[2] = {K, n}, dne[2] = {N, n};
                tb_tensor_init(&W, types[t], 2, wne, w, "W");
                W.flags = TB_TENSOR_CONST; /* lets avx512 use its 16-row repack */
                tb_tensor_init(&X, TB_TYPE_F32, 2, xne, n == 1 ? x + K : x, "X");
                tb_tensor_init(&D, TB_TYPE_F32, 2, dne, d, "D");
                struct tb_graph g;
                tb_graph_init(&g, 1);
                tb_graph_add(&g, TB_OP_MATMUL, "mm", -1, NULL, &D, &W, &X, NULL);
                CHECKF(tb_backend_compute_graph(b, &g, 0, 1, NULL, &e) == TB_OK, "%s", e.msg);
                const char *what = tb_type_name(types[t]);
                for (int r = 0; r < n; r++) {
                    const int row = n == 1 ? 1 : r;
                    int finite = 0;
                    for (int j = 0; j < N; j++)
                        finite += isfinite(d[r * N + j]) != 0;
                    if (row >= 1 && row <= 3)
                        CHECKF(finite == 0, "%s %s: row %d (NaN/Inf) has %d finite outputs", what,
                               tb_isa_name(isa), row, finite);
                    else if (row != 4) /* 3e38 x weight may overflow: not asserted */
                        CHECKF(finite == N, "%s %s: row %d has %d of %d finite outputs", what,
                               tb_isa_name(isa), row, finite, N);
                }
                tb_graph_free(&g);
                tb_backend_free(b);
                runs++;
            }
        free(w);
    }
    printf("kernels: %d matmuls over NaN/Inf/huge/tiny activations\n", runs);
}

int main(void)
{
    tb_test_path(g_dir, sizeof g_dir, "nonfinite", "");
    test_kernels();
    test_weights_rejected();
    test_alignment_1();
    test_huge_weight();
    const char *names[] = {"q8", "f16", "q4", "bad", "align1", "huge"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[700];
        path_of(p, sizeof p, names[i]);
        unlink(p);
    }
    return tb_test_result("test_nonfinite");
}

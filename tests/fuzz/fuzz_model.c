/* Fuzz body "model" (see tb_fuzz.h): the input drives a tiny llama model,
 * which the library's GGUF writer serialises into a memfd; tb_llama_load
 * reads it back as any model file and one forward pass runs on cpu-ref and
 * on the cpu backend at the ISA the input picks. Reaches what the GGUF
 * target cannot: the loader's tensor checks (shapes, alignment, non-finite
 * weights) and the kernels (activation quantization, the AVX-512 16-row
 * repacked layouts, attention, exp), under ASan + UBSan.
 *
 * Input (missing bytes read as 0):
 *   0  shape: bit 0 dim 32|64; bit 1 layers 1|2; bits 2-3 heads 1,2,4,8
 *   1  bits 0-1 kv-head divisor (1,2,4,8, clamped); bits 2-3 ffn 32..128
 *   2  bits 0-1 vocab 16..64; bit 2 +5 (not a multiple of 16); bits 3-5 ctx 8..36
 *   3  bits 0-1 weight type f32,f16,q8_0,q4_0; bits 2-4 general.alignment
 *      1..128; bit 5 tied output; bit 6 KV cache f16
 *   4  values: 0 = seeded uniform weights, else raw payload bytes (cycled)
 *   5  weight scale 2^(b % 128 - 64): at the top f32 sums overflow and f16
 *      scales (f16, q8_0, q4_0) become Inf
 *   6  bits 0-1 tokens 1..4; bits 2-3 ISA (scalar, avx2, avx512; capped by
 *      the host); bits 4-5 graph mode (last, all logits, embed)
 *   7  rms epsilon 1e-6 * (1 + b)
 *   8-11 seed; 12-15 tokens (mod vocab)
 *   16- seeded mode: pokes of 8 bytes (tensor, byte offset u16, 4 raw
 *       bytes written over the encoded tensor); raw mode: the payload.
 * Returns tb_llama_load's code when it rejects the model, else the eval's
 * (TB_ENONFINITE: a non-finite output, rejected with its position). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/tb_backend.h"
#include "kernels/tb_types.h"
#include "tests/fuzz/tb_fuzz.h"
#include "workloads/tb_llama.h"

#define MAX_T (3 + 9 * 2)

struct fz_in {
    const uint8_t *d;
    size_t n;
};

static uint8_t at(const struct fz_in *in, size_t i)
{
    return i < in->n ? in->d[i] : 0;
}

struct fz_tensor {
    char name[48];
    int type;
    int64_t ne0, ne1; /* ne1 = 0: 1-D */
    size_t off, bytes;
};

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void add_t(struct fz_tensor *t, int *n, size_t *total, const char *name, int type,
                  int64_t ne0, int64_t ne1)
{
    struct fz_tensor *x = &t[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->type = type;
    x->ne0 = ne0;
    x->ne1 = ne1;
    x->bytes = tb_row_size(type, ne0) * (size_t)(ne1 ? ne1 : 1);
    x->off = *total;
    *total += (x->bytes + 63) & ~(size_t)63;
}

/* Fills the tensors' bytes: seeded uniform values (norms around 1) or the
 * raw payload, then the pokes. */
static void fill(const struct fz_in *in, const struct fz_tensor *t, int nt, unsigned char *arena)
{
    const int raw = at(in, 4) != 0;
    uint64_t seed = (uint64_t)at(in, 8) | (uint64_t)at(in, 9) << 8 | (uint64_t)at(in, 10) << 16 |
                    (uint64_t)at(in, 11) << 24;
    const float scale = ldexpf(1.0f, at(in, 5) % 128 - 64);
    size_t p = 16;
    float row[128];
    for (int i = 0; i < nt; i++) {
        unsigned char *dst = arena + t[i].off;
        if (raw) {
            for (size_t k = 0; k < t[i].bytes; k++, p++)
                dst[k] = in->n > 16 ? in->d[16 + (p - 16) % (in->n - 16)] : 0;
            continue;
        }
        const int norm = t[i].ne1 == 0;
        const size_t rb = tb_row_size(t[i].type, t[i].ne0);
        for (int64_t r = 0; r < (norm ? 1 : t[i].ne1); r++) {
            for (int64_t k = 0; k < t[i].ne0; k++) {
                const float u = (float)(mix(&seed) >> 40) / 16777216.0f - 0.5f;
                row[k] = norm ? 1.0f + u * 0.2f : u * scale;
            }
            tb_quantize_row(t[i].type, row, dst + (size_t)r * rb, t[i].ne0);
        }
    }
    for (size_t q = 16; !raw && q + 8 <= in->n; q += 8) { /* pokes */
        const struct fz_tensor *x = &t[in->d[q] % nt];
        const size_t o = ((size_t)in->d[q + 1] | (size_t)in->d[q + 2] << 8) % (x->bytes - 3);
        memcpy(arena + x->off + o, in->d + q + 4, 4);
    }
}

/* The model's GGUF bytes (malloc'ed) from the input; 0 or a TB_E* code. */
static int build(const struct fz_in *in, void **buf, size_t *size, struct tb_err *e)
{
    static const int types[4] = {TB_TYPE_F32, TB_TYPE_F16, TB_TYPE_Q8_0, TB_TYPE_Q4_0};
    const uint8_t b0 = at(in, 0), b1 = at(in, 1), b2 = at(in, 2), b3 = at(in, 3);
    const int64_t dim = 32 << (b0 & 1), layers = 1 + ((b0 >> 1) & 1);
    const int heads = 1 << ((b0 >> 2) & 3);
    int kv = heads >> (b1 & 3);
    kv = kv < 1 ? 1 : kv;
    const int64_t ffn = 32 * (1 + ((b1 >> 2) & 3)), kvd = dim / heads * kv;
    const int64_t vocab = 16 * (1 + (b2 & 3)) + ((b2 >> 2) & 1 ? 5 : 0);
    const uint32_t ctx = 8 + 4 * ((b2 >> 3) & 7);
    const int wt = types[b3 & 3], tied = (b3 >> 5) & 1;
    struct fz_tensor t[MAX_T];
    int nt = 0;
    size_t total = 0;
    add_t(t, &nt, &total, "token_embd.weight", wt, dim, vocab);
    add_t(t, &nt, &total, "output_norm.weight", TB_TYPE_F32, dim, 0);
    if (!tied)
        add_t(t, &nt, &total, "output.weight", wt, dim, vocab);
    for (int l = 0; l < layers; l++) {
        static const char *const sfx[9] = {"attn_norm", "attn_q",      "attn_k",
                                           "attn_v",    "attn_output", "ffn_norm",
                                           "ffn_gate",  "ffn_up",      "ffn_down"};
        const int64_t ne0[9] = {dim, dim, dim, dim, dim, dim, dim, dim, ffn};
        const int64_t ne1[9] = {0, dim, kvd, kvd, dim, 0, ffn, ffn, dim};
        for (int k = 0; k < 9; k++) {
            char name[48];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, sfx[k]);
            add_t(t, &nt, &total, name, ne1[k] ? wt : TB_TYPE_F32, ne0[k], ne1[k]);
        }
    }
    unsigned char *arena = calloc(1, total);
    if (!arena)
        return tb_err_set(e, TB_ENOMEM, "fuzz model: out of memory");
    fill(in, t, nt, arena);
    struct tb_gguf_writer *w = NULL;
    int rc = tb_gguf_writer_create(&w, e);
    rc = rc ? rc : tb_gguf_writer_set_alignment(w, 1u << ((b3 >> 2) & 7), e);
    rc = rc ? rc : tb_gguf_writer_add_str(w, "general.architecture", "llama", e);
    rc = rc ? rc : tb_gguf_writer_add_u32(w, "llama.context_length", ctx, e);
    rc = rc ? rc : tb_gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)dim, e);
    rc = rc ? rc : tb_gguf_writer_add_u32(w, "llama.block_count", (uint32_t)layers, e);
    rc = rc ? rc : tb_gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)ffn, e);
    rc = rc ? rc : tb_gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)heads, e);
    rc = rc ? rc : tb_gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)kv, e);
    rc = rc ? rc
            : tb_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon",
                                     1e-6f * (float)(1 + at(in, 7)), e);
    for (int i = 0; i < nt && !rc; i++) {
        const int64_t ne[2] = {t[i].ne0, t[i].ne1};
        rc = tb_gguf_writer_add_tensor(w, t[i].name, t[i].type, t[i].ne1 ? 2 : 1, ne,
                                       arena + t[i].off, e);
    }
    rc = rc ? rc : tb_gguf_writer_write_memory(w, buf, size, e);
    tb_gguf_writer_free(w);
    free(arena);
    return rc;
}

static int fz_fail_check(int rc, const struct tb_err *e, const char *what)
{
    if (rc >= 0 || e->code != rc || !e->msg[0] || strchr(e->msg, '\n')) {
        fprintf(stderr, "FUZZ INVARIANT VIOLATED: %s returned %d with message '%s'\n", what, rc,
                e->msg);
        abort();
    }
    return rc;
}

/* One forward pass on backend `name` (isa for "cpu"); the eval's code. */
static int forward(const struct tb_llama_model *m, const struct fz_in *in, const char *name,
                   int isa)
{
    const int n = 1 + (at(in, 6) & 3), mode = ((at(in, 6) >> 4) & 3) % 3;
    int32_t tok[4];
    for (int i = 0; i < 4; i++)
        tok[i] = at(in, 12 + (size_t)i) % m->config.vocab_size;
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = 1;
    cfg.isa_cap = (enum tb_isa)isa;
    struct tb_backend *b = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_err e = {0};
    const int kvt = (at(in, 3) >> 6) & 1 ? TB_TYPE_F16 : TB_TYPE_F32;
    int rc = tb_backend_create(name, &cfg, &b, &e);
    if (rc) { /* the host cannot: not the input's fault */
        tb_backend_free(b);
        return TB_OK;
    }
    rc = tb_llama_state_build_kv(m, n, m->config.ctx_len, kvt, &s, &e);
    if (rc)
        fz_fail_check(rc, &e, "tb_llama_state_build_kv");
    else if ((rc = tb_llama_eval(m, s, b, tok, n, 0, mode, NULL, &e)) != TB_OK)
        fz_fail_check(rc, &e, "tb_llama_eval");
    if (rc && getenv("TB_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz model: %s: %s\n", name, e.msg);
    if (rc && (rc != TB_ENONFINITE || !strstr(e.msg, "non-finite"))) {
        fprintf(stderr, "FUZZ INVARIANT VIOLATED: %s eval failed other than non-finite: %s\n", name,
                e.msg);
        abort();
    }
    tb_llama_state_free(s);
    tb_backend_free(b);
    return rc;
}

int tb_fuzz_model(const uint8_t *data, size_t size)
{
    const struct fz_in in = {data, size};
    void *buf = NULL;
    size_t n = 0;
    struct tb_err e = {0};
    int rc = build(&in, &buf, &n, &e);
    if (rc) { /* every input builds a well-formed file */
        fprintf(stderr, "FUZZ INVARIANT VIOLATED: fuzz model not written: %s\n", e.msg);
        abort();
    }
    const int fd = memfd_create("tb-fuzz-model", MFD_CLOEXEC);
    size_t off = 0;
    while (fd >= 0 && off < n) {
        const ssize_t w = write(fd, (const char *)buf + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(buf);
    if (fd < 0 || off != n) {
        fprintf(stderr, "FUZZ INVARIANT VIOLATED: memfd: %s\n", strerror(errno));
        abort();
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct tb_llama_model *m = NULL;
    rc = tb_llama_load(path, &m, &e);
    close(fd); /* the mapping stays */
    if (rc) {
        fz_fail_check(rc, &e, "tb_llama_load");
        if (getenv("TB_FUZZ_VERBOSE")) /* triage: why an input is rejected */
            fprintf(stderr, "fuzz model: %s\n", e.msg);
        return rc;
    }
    const int isa = ((at(&in, 6) >> 2) & 3) % 3;
    const int cpu = forward(m, &in, "cpu", isa > (int)tb_isa_detect() ? (int)tb_isa_detect() : isa);
    const int ref = forward(m, &in, "cpu-ref", TB_ISA_COUNT);
    tb_llama_free(m);
    /* either backend's non-finite output rejects the model's input */
    return cpu ? cpu : ref;
}

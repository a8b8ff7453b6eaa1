/* Synthetic models: deterministic bytes, llama.cpp-style metadata for every
 * shape, the loader's rejection of inconsistent metadata, graph structure,
 * eval bounds, and a non-degenerate, finite forward pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"
#include "workloads/tb_llama.h"

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void test_determinism(void)
{
    char a[512], b[512], c[512];
    tb_test_path(a, sizeof a, "synth", ".gguf");
    tb_test_path(b, sizeof b, "synth", ".gguf");
    tb_test_path(c, sizeof c, "synth", ".gguf");
    struct tb_err err = {0};
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q4_0, 42, a, &err) == 0, "%s", err.msg);
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q4_0, 42, b, &err) == 0, "%s", err.msg);
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q4_0, 43, c, &err) == 0, "%s", err.msg);
    size_t na = 0, nb = 0, nc = 0;
    unsigned char *da = slurp(a, &na), *db = slurp(b, &nb), *dc = slurp(c, &nc);
    CHECK(da && db && dc);
    if (da && db && dc) {
        CHECK(na > 100000);
        CHECK(na == nb && memcmp(da, db, na) == 0);
        CHECK(na == nc); /* same shapes, different numbers */
        CHECK(na != nc || memcmp(da, dc, na) != 0);
    }
    free(da);
    free(db);
    free(dc);
    CHECK(tb_synth_write("no-such-shape", TB_TYPE_Q4_0, 1, a, &err) == TB_EINVAL);
    CHECK(strstr(err.msg, "no-such-shape") != NULL);
    /* q8_1: ggml's activation type, never a weight type */
    CHECK(tb_synth_write("mcu-260k", TB_TYPE_Q8_1, 1, a, &err) == TB_EINVAL);
    remove(a);
    remove(b);
    remove(c);
}

/* llama.cpp's general.file_type (LLAMA_FTYPE_*) per weight type: known
 * answers, one per type of kernels/tb_wtypes.h; -1 (a failed check) when a
 * listed type has none here yet. */
static int file_type_of(int type)
{
    static const int known[][2] = {{TB_TYPE_F32, 0},   {TB_TYPE_F16, 1},   {TB_TYPE_Q4_0, 2},
                                   {TB_TYPE_Q8_0, 7},  {TB_TYPE_Q4_1, 3},  {TB_TYPE_Q5_0, 8},
                                   {TB_TYPE_Q5_1, 9},  {TB_TYPE_BF16, 32}, {TB_TYPE_Q6_K, 18},
                                   {TB_TYPE_Q4_K, 14}, {TB_TYPE_Q5_K, 16}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i][0] == type)
            return known[i][1];
    CHECKF(false, "no known file type for %s", tb_type_name(type));
    return -1;
}

static uint32_t get_u32(const struct tb_gguf *g, const char *key)
{
    uint32_t v = 0xFFFFFFFFu;
    struct tb_err err = {0};
    CHECKF(tb_gguf_get_u32(g, key, &v, &err) == 0, "%s", err.msg);
    return v;
}

static int str_eq(struct tb_gguf_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Generates shape x type, checks the GGUF metadata and the loaded model. */
static void check_shape(const char *shape, int type)
{
    const struct tb_synth_shape *sh = tb_synth_find(shape);
    CHECKF(sh != NULL, "%s", shape);
    if (!sh)
        return;
    const struct tb_llama_config *c = &sh->config;
    char path[512];
    tb_test_path(path, sizeof path, "synth", ".gguf");
    struct tb_err err = {0};
    CHECKF(tb_synth_write(shape, type, 7, path, &err) == 0, "%s", err.msg);
    struct tb_gguf *g = NULL;
    CHECKF(tb_gguf_open(path, &g, &err) == 0, "%s", err.msg);
    if (g) {
        struct tb_gguf_str s = {0};
        CHECK(tb_gguf_get_str(g, "general.architecture", &s, &err) == 0 && str_eq(s, "llama"));
        CHECK(tb_gguf_get_str(g, "tokenizer.ggml.model", &s, &err) == 0 && str_eq(s, "llama"));
        CHECK(tb_gguf_get_str(g, "general.name", &s, &err) == 0 && s.len > 0);
        CHECK(tb_gguf_alignment(g) == 32 && get_u32(g, "general.alignment") == 32);
        CHECK(get_u32(g, "general.file_type") == (uint32_t)file_type_of(type));
        CHECK(get_u32(g, "llama.context_length") == (uint32_t)c->ctx_len);
        CHECK(get_u32(g, "llama.embedding_length") == (uint32_t)c->dim);
        CHECK(get_u32(g, "llama.block_count") == (uint32_t)c->n_layers);
        CHECK(get_u32(g, "llama.feed_forward_length") == (uint32_t)c->ffn_dim);
        CHECK(get_u32(g, "llama.attention.head_count") == (uint32_t)c->n_heads);
        CHECK(get_u32(g, "llama.attention.head_count_kv") == (uint32_t)c->n_kv_heads);
        CHECK(get_u32(g, "llama.rope.dimension_count") == (uint32_t)(c->dim / c->n_heads));
        CHECK(get_u32(g, "tokenizer.ggml.bos_token_id") == 1);
        CHECK(get_u32(g, "tokenizer.ggml.eos_token_id") == 2);
        CHECK(get_u32(g, "tokenizer.ggml.unknown_token_id") == 0);
        float f = 0;
        CHECK(tb_gguf_get_f32(g, "llama.rope.freq_base", &f, &err) == 0 && f == c->rope_theta);
        CHECK(tb_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &err) == 0 &&
              f == 1e-5f);
        const int64_t kt = tb_gguf_find_key(g, "tokenizer.ggml.tokens");
        const int64_t ks = tb_gguf_find_key(g, "tokenizer.ggml.scores");
        const int64_t ky = tb_gguf_find_key(g, "tokenizer.ggml.token_type");
        CHECK(kt >= 0 && ks >= 0 && ky >= 0);
        if (kt >= 0 && ks >= 0 && ky >= 0) {
            CHECK(tb_gguf_kv_arr_type(g, kt) == TB_GGUF_STRING);
            CHECK(tb_gguf_kv_arr_n(g, kt) == (uint64_t)c->vocab_size);
            CHECK(str_eq(tb_gguf_kv_arr_str(g, kt, 0), "<unk>"));
            CHECK(str_eq(tb_gguf_kv_arr_str(g, kt, 1), "<s>"));
            CHECK(str_eq(tb_gguf_kv_arr_str(g, kt, 2), "</s>"));
            CHECK(str_eq(tb_gguf_kv_arr_str(g, kt, 3), "<0x00>"));
            CHECK(str_eq(tb_gguf_kv_arr_str(g, kt, 13), "<0x0A>"));
            CHECK(str_eq(tb_gguf_kv_arr_str(g, kt, 259), "tok_259"));
            CHECK(tb_gguf_kv_arr_type(g, ks) == TB_GGUF_FLOAT32);
            CHECK(tb_gguf_kv_arr_n(g, ks) == (uint64_t)c->vocab_size);
            CHECK(tb_gguf_kv_arr_type(g, ky) == TB_GGUF_INT32);
            CHECK(tb_gguf_kv_arr_n(g, ky) == (uint64_t)c->vocab_size);
            int32_t tt[260] = {0}; /* mapping data may be unaligned */
            memcpy(tt, tb_gguf_kv_arr_data(g, ky), sizeof tt);
            CHECK(tt[0] == 2 && tt[1] == 3 && tt[2] == 3 && tt[3] == 6 && tt[258] == 6 &&
                  tt[259] == 1);
        }
        /* token_embd + 9 per layer + output_norm + output (untied) */
        CHECK(tb_gguf_n_tensors(g) == 3 + 9 * (int64_t)c->n_layers);
        tb_gguf_close(g);
    }
    struct tb_llama_model *m = NULL;
    CHECKF(tb_llama_load(path, &m, &err) == 0, "%s", err.msg);
    if (m) {
        const struct tb_llama_config *mc = &m->config;
        CHECK(mc->dim == c->dim && mc->n_layers == c->n_layers && mc->n_heads == c->n_heads &&
              mc->n_kv_heads == c->n_kv_heads && mc->head_dim == c->head_dim &&
              mc->ffn_dim == c->ffn_dim && mc->vocab_size == c->vocab_size &&
              mc->ctx_len == c->ctx_len && mc->rope_theta == c->rope_theta &&
              mc->rms_eps == c->rms_eps);
        CHECK(m->weights.weight_type == type);
        CHECK(!m->weights.tied_output);
        CHECK(m->weights.output.data != m->weights.token_embd.data);
        CHECK(m->weights.layers[c->n_layers - 1].w_down.type == (enum tb_type)type);
        CHECK(m->weights.layers[0].attn_norm.type == TB_TYPE_F32);
        CHECK(m->weights.output_norm.type == TB_TYPE_F32);
        const uint64_t embd_bytes = tb_row_size(type, c->dim) * (uint64_t)c->vocab_size;
        CHECK(m->weights.weight_bytes > 2 * embd_bytes &&
              m->weights.weight_bytes < tb_gguf_file_size(m->gguf));
        tb_llama_free(m);
    }
    remove(path);
}

/* ---- rewriting a model with one edit, to feed the loader bad metadata */

struct edit {
    const char *key; /* KV to replace (u32 or string) */
    uint32_t u32;
    const char *str;
    const char *drop_tensor; /* tensor to leave out */
    const char *f16_tensor;  /* f32 tensor to store as f16 instead */
};

static int copy_kv(const struct tb_gguf *g, int64_t i, const char *key, struct tb_gguf_writer *w,
                   struct tb_err *err)
{
    const void *v = tb_gguf_kv_scalar(g, i);
    switch (tb_gguf_kv_type(g, i)) {
    case TB_GGUF_UINT32: return tb_gguf_writer_add_u32(w, key, *(const uint32_t *)v, err);
    case TB_GGUF_INT32: return tb_gguf_writer_add_i32(w, key, *(const int32_t *)v, err);
    case TB_GGUF_UINT64: return tb_gguf_writer_add_u64(w, key, *(const uint64_t *)v, err);
    case TB_GGUF_FLOAT32: return tb_gguf_writer_add_f32(w, key, *(const float *)v, err);
    case TB_GGUF_STRING: {
        struct tb_gguf_str s = tb_gguf_kv_str(g, i);
        char *z = strndup(s.ptr, s.len);
        int rc = z ? tb_gguf_writer_add_str(w, key, z, err) : TB_ENOMEM;
        free(z);
        return rc;
    }
    case TB_GGUF_ARRAY: {
        const uint64_t n = tb_gguf_kv_arr_n(g, i);
        if (tb_gguf_kv_arr_type(g, i) != TB_GGUF_STRING)
            return tb_gguf_writer_add_arr(w, key, tb_gguf_kv_arr_type(g, i),
                                          tb_gguf_kv_arr_data(g, i), n, err);
        char **strs = calloc(n, sizeof *strs);
        int rc = strs ? 0 : TB_ENOMEM;
        for (uint64_t j = 0; j < n && !rc; j++) {
            struct tb_gguf_str s = tb_gguf_kv_arr_str(g, i, j);
            if (!(strs[j] = strndup(s.ptr, s.len)))
                rc = TB_ENOMEM;
        }
        if (!rc)
            rc = tb_gguf_writer_add_arr_str(w, key, (const char *const *)strs, n, err);
        for (uint64_t j = 0; strs && j < n; j++)
            free(strs[j]);
        free(strs);
        return rc;
    }
    default: return tb_err_set(err, TB_EUNSUPPORTED, "test: KV type not copied");
    }
}

static int rewrite(const char *src, const char *dst, const struct edit *e)
{
    struct tb_err err = {0};
    struct tb_gguf *g = NULL;
    struct tb_gguf_writer *w = NULL;
    tb_fp16 *conv = NULL; /* referenced by the writer until it writes */
    int rc = tb_gguf_open(src, &g, &err);
    if (!rc)
        rc = tb_gguf_writer_create(&w, &err);
    for (int64_t i = 0; !rc && i < tb_gguf_n_kv(g); i++) {
        struct tb_gguf_str k = tb_gguf_kv_key(g, i);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
        if (e->key && !strcmp(key, e->key))
            rc = e->str ? tb_gguf_writer_add_str(w, key, e->str, &err)
                        : tb_gguf_writer_add_u32(w, key, e->u32, &err);
        else
            rc = copy_kv(g, i, key, w, &err);
    }
    for (int64_t i = 0; !rc && i < tb_gguf_n_tensors(g); i++) {
        const struct tb_gguf_tensor_info *t = tb_gguf_tensor(g, i);
        char name[TB_NAME_MAX];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (e->drop_tensor && !strcmp(name, e->drop_tensor))
            continue;
        if (e->f16_tensor && !strcmp(name, e->f16_tensor) && t->type == TB_TYPE_F32 && !conv) {
            const int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
            float *f = malloc((size_t)n * sizeof *f);
            conv = malloc((size_t)n * sizeof *conv);
            if (f && conv) {
                memcpy(f, t->data, (size_t)n * sizeof *f);
                tb_convert_row_f16(f, conv, n);
            } else {
                free(conv);
                conv = NULL;
            }
            free(f);
            rc = conv
                     ? tb_gguf_writer_add_tensor(w, name, TB_TYPE_F16, t->n_dims, t->ne, conv, &err)
                     : TB_ENOMEM;
            continue;
        }
        rc = tb_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, &err);
    }
    if (!rc)
        rc = tb_gguf_writer_write(w, dst, &err);
    if (rc)
        fprintf(stderr, "rewrite %s: %s\n", dst, err.msg);
    tb_gguf_writer_free(w);
    free(conv);
    tb_gguf_close(g);
    return rc;
}

static void expect_reject(const char *good, const struct edit *e, const char *what,
                          const char *needle)
{
    char bad[512];
    tb_test_path(bad, sizeof bad, "synth-bad", ".gguf");
    CHECKF(rewrite(good, bad, e) == 0, "%s", what);
    struct tb_llama_model *m = NULL;
    struct tb_err err = {0};
    int rc = tb_llama_load(bad, &m, &err);
    CHECKF(rc < 0 && m == NULL, "%s: loaded", what);
    CHECKF(strstr(err.msg, bad) != NULL, "%s: message lacks the file name: %s", what, err.msg);
    CHECKF(strstr(err.msg, "offset") != NULL, "%s: message lacks the offset: %s", what, err.msg);
    CHECKF(!needle || strstr(err.msg, needle) != NULL, "%s: message lacks '%s': %s", what, needle,
           err.msg);
    CHECKF(strchr(err.msg, '\n') == NULL, "%s: not one line", what);
    tb_llama_free(m);
    remove(bad);
}

static void test_rejects(void)
{
    char good[512];
    tb_test_path(good, sizeof good, "synth", ".gguf");
    struct tb_err err = {0};
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q8_0, 3, good, &err) == 0, "%s", err.msg);
    /* an unmodified copy must load: the rewrite itself is faithful */
    char copy[512];
    tb_test_path(copy, sizeof copy, "synth-copy", ".gguf");
    const struct edit none = {0};
    CHECK(rewrite(good, copy, &none) == 0);
    struct tb_llama_model *m = NULL;
    CHECKF(tb_llama_load(copy, &m, &err) == 0, "%s", err.msg);
    tb_llama_free(m);
    remove(copy);

    expect_reject(good, &(struct edit){.key = "llama.block_count", .u32 = 6},
                  "block_count too large", "blk.5.");
    expect_reject(good, &(struct edit){.key = "llama.block_count", .u32 = 1000000},
                  "absurd block_count", "exceeds");
    expect_reject(good, &(struct edit){.key = "llama.attention.head_count", .u32 = 7},
                  "head count not dividing dim", "head_count");
    expect_reject(good, &(struct edit){.key = "llama.attention.head_count_kv", .u32 = 3},
                  "kv heads not dividing heads", "head_count_kv");
    expect_reject(good, &(struct edit){.drop_tensor = "blk.2.ffn_up.weight"}, "missing tensor",
                  "blk.2.ffn_up.weight");
    expect_reject(good, &(struct edit){.f16_tensor = "blk.1.ffn_norm.weight"}, "f16 norm",
                  "blk.1.ffn_norm.weight has type f16");
    expect_reject(good, &(struct edit){.drop_tensor = "output_norm.weight"}, "missing output_norm",
                  "output_norm.weight");
    expect_reject(good, &(struct edit){.key = "llama.feed_forward_length", .u32 = 128},
                  "ffn shape mismatch", "blk.0.ffn_gate.weight");
    expect_reject(good, &(struct edit){.key = "general.architecture", .str = "gpt2"},
                  "wrong architecture", "gpt2");
    remove(good);
}

/* Graph structure, eval bounds, and a 32-position teacher-forced run. */
static void test_forward(const char *shape, int type)
{
    char path[512];
    tb_test_path(path, sizeof path, "synth", ".gguf");
    struct tb_err err = {0};
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_backend *b = NULL;
    CHECKF(tb_synth_write(shape, type, 11, path, &err) == 0, "%s", err.msg);
    CHECKF(tb_llama_load(path, &m, &err) == 0, "%s", err.msg);
    CHECKF(tb_backend_create("cpu-ref", NULL, &b, &err) == 0, "%s", err.msg);
    enum { N = 32 };
    if (!m || !b || tb_llama_state_build(m, N, N, &s, &err)) {
        CHECKF(0, "setup: %s", err.msg);
        goto done;
    }
    const int32_t V = m->config.vocab_size;
    int32_t tok[N];
    for (int i = 0; i < N; i++)
        tok[i] = (int32_t)((i * 7919 + 13) % V);
    tok[20] = tok[5]; /* same token, different context */

    CHECK(tb_llama_build_graph(m, s, N, 0, 1, &err) == 0);
    CHECK(s->graph.n_ops == 18 * m->config.n_layers + 3);
    int found = 0;
    for (int i = 0; i < s->graph.n_ops; i++)
        found += !strcmp(s->graph.ops[i].name, "blk.3.attn_q") ||
                 !strcmp(s->graph.ops[i].name, "blk.3.attn") ||
                 !strcmp(s->graph.ops[i].name, "output");
    CHECK(found == 3);
    CHECK(s->graph.ops[s->graph.n_ops - 1].dst->ne[1] == N);
    CHECK(tb_llama_build_graph(m, s, 4, 2, 0, &err) == 0);
    CHECK(s->graph.ops[s->graph.n_ops - 1].dst->ne[1] == 1);

    CHECK(tb_llama_eval(m, s, b, tok, N + 1, 0, 1, NULL, &err) == TB_EINVAL);
    CHECK(tb_llama_eval(m, s, b, tok, 4, N - 3, 1, NULL, &err) == TB_EINVAL);
    CHECK(strstr(err.msg, "context") != NULL);
    const int32_t bad_tok[2] = {1, V};
    CHECK(tb_llama_eval(m, s, b, bad_tok, 2, 0, 1, NULL, &err) == TB_EINVAL);
    CHECK(strstr(err.msg, "vocabulary") != NULL);

    CHECKF(tb_llama_eval(m, s, b, tok, N, 0, 1, NULL, &err) == 0, "%s", err.msg);
    int finite = 1, distinct = 0, copies = 0;
    int32_t seen[N];
    double spread = 0.0;
    for (int i = 0; i < N; i++) {
        const float *l = tb_llama_logits(s, i);
        int32_t best = 0;
        double mean = 0.0, sq = 0.0;
        for (int32_t j = 0; j < V; j++) {
            finite &= isfinite(l[j]) != 0;
            best = l[j] > l[best] ? j : best;
            mean += l[j];
            sq += (double)l[j] * l[j];
        }
        mean /= V;
        spread += sqrt(sq / V - mean * mean) / N;
        int dup = 0;
        for (int k = 0; k < distinct; k++)
            dup |= seen[k] == best;
        if (!dup)
            seen[distinct++] = best;
        copies += best == tok[i];
    }
    CHECK(finite);
    double ctx_diff = 0.0;
    for (int32_t j = 0; j < V; j++)
        ctx_diff = fmax(ctx_diff, fabs(tb_llama_logits(s, 5)[j] - tb_llama_logits(s, 20)[j]));
    CHECKF(ctx_diff > 0.05, "%s: logits ignore the context (max diff %g)", shape, ctx_diff);
    CHECKF(distinct >= N / 4, "%s: only %d distinct argmax tokens over %d positions", shape,
           distinct, N);
    CHECKF(copies < N, "%s: the argmax is always the input token", shape);
    CHECKF(spread > 0.5 && spread < 50.0, "%s: logit spread %.3f", shape, spread);
    printf("%s %s: %d distinct argmax over %d positions, %d copy the input, logit std %.2f\n",
           shape, tb_type_name(type), distinct, N, copies, spread);
done:
    tb_llama_state_free(s);
    tb_backend_free(b);
    tb_llama_free(m);
    remove(path);
}

/* Shapes whose rows are not whole 256-blocks are refused for the K-quants
 * up front, with one line naming the tensor, its row length and the block;
 * a file written anyway is refused at load with the tensor's file offset. */
static void test_block_refused(void)
{
    char path[512];
    tb_test_path(path, sizeof path, "synth-k", ".gguf");
    struct tb_err err = {0};
    CHECK(tb_synth_check("mcu-260k", TB_TYPE_Q6_K, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "token_embd.weight") && strstr(err.msg, "rows of 64") &&
               strstr(err.msg, "q6_K block of 256") && !strchr(err.msg, '\n'),
           "%s", err.msg);
    CHECK(tb_synth_write("stories15m", TB_TYPE_Q6_K, 1, path, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "rows of 288"), "%s", err.msg);
    FILE *f = fopen(path, "rb");
    CHECK(f == NULL); /* nothing written */
    if (f)
        fclose(f);
    /* a q8_0 file whose token_embd.weight is relabelled q6_K (rows of 64):
     * the loader names the tensor, the row length, the block and the offset */
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q8_0, 1, path, &err) == TB_OK, "%s", err.msg);
    f = fopen(path, "r+b");
    static unsigned char buf[1 << 16];
    const size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
    const char *name = "token_embd.weight";
    size_t at = 0;
    while (at + 40 < got && memcmp(buf + at, name, strlen(name)))
        at++;
    CHECK(at + 40 < got);
    /* name, then u32 n_dims = 2, two u64 ne, then the u32 type id */
    const size_t type_at = at + strlen(name) + 4 + 16;
    const unsigned char q6k[4] = {TB_TYPE_Q6_K, 0, 0, 0};
    CHECK(buf[type_at] == TB_TYPE_Q8_0);
    if (f && fseek(f, (long)type_at, SEEK_SET) == 0)
        CHECK(fwrite(q6k, 1, 4, f) == 4);
    if (f)
        fclose(f);
    struct tb_llama_model *m = NULL;
    CHECK(tb_llama_load(path, &m, &err) == TB_EFORMAT && m == NULL);
    char off[32];
    snprintf(off, sizeof off, "offset %zu", at + strlen(name) + 4);
    CHECKF(strstr(err.msg, name) && strstr(err.msg, "row length 64") &&
               strstr(err.msg, "q6_K block size 256") && strstr(err.msg, off),
           "%s", err.msg);
    printf("refused at load: %s\n", err.msg);
    remove(path);
    CHECK(tb_synth_check("tiny-256", TB_TYPE_Q6_K, &err) == TB_OK);
    CHECK(tb_synth_check("stories110m", TB_TYPE_Q6_K, &err) == TB_OK);
    CHECK(tb_synth_check("tinyllama-1.1b", TB_TYPE_Q6_K, &err) == TB_OK);
    CHECK(tb_synth_check("mcu-260k", TB_TYPE_Q4_0, &err) == TB_OK);
}

int main(void)
{
    test_determinism();
    static const int types[] = {TB_WTYPES(TB_WTYPE_ID)};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (tb_type_traits(types[t])->block_size <= 32)
            check_shape("mcu-260k", types[t]);
        check_shape("tiny-256", types[t]);
    }
    check_shape("stories15m", TB_TYPE_Q4_0);
    test_block_refused();
    /* the big shapes' configs, without generating them */
    const char *names[] = {"mcu-260k",       "stories15m", "stories110m",
                           "tinyllama-1.1b", "llama3-8b",  "tiny-256"};
    int n = 0;
    for (const struct tb_synth_shape *s = tb_synth_shapes(); s->name; s++, n++)
        CHECK(n < 6 && !strcmp(s->name, names[n]));
    CHECK(n == 6);
    const struct tb_synth_shape *tl = tb_synth_find("tinyllama-1.1b");
    const struct tb_synth_shape *l3 = tb_synth_find("llama3-8b");
    CHECK(tl && tl->config.dim == 2048 && tl->config.n_layers == 22 && tl->config.n_heads == 32 &&
          tl->config.n_kv_heads == 4 && tl->config.ffn_dim == 5632 &&
          tl->config.vocab_size == 32000 && tl->config.ctx_len == 2048);
    CHECK(l3 && l3->config.dim == 4096 && l3->config.n_layers == 32 && l3->config.n_kv_heads == 8 &&
          l3->config.ffn_dim == 14336 && l3->config.vocab_size == 128256 &&
          l3->config.ctx_len == 8192 && l3->config.rope_theta == 500000.0f);
    test_rejects();
    test_forward("mcu-260k", TB_TYPE_F32);
    test_forward("mcu-260k", TB_TYPE_Q4_0);
    test_forward("stories15m", TB_TYPE_Q8_0);
    return tb_test_result("test_synth");
}

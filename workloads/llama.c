/* Llama-architecture model: GGUF loader with strict metadata/tensor
 * validation, run state (one arena), and the forward pass as a tb_graph. */
#include "workloads/tb_llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tb_util.h"

/* ---------------------------------------------------------------- loader */

/* File offset of a KV (0 if absent, which only happens for defaults). */
static uint64_t kv_off(const struct tb_gguf *g, const char *key)
{
    int64_t i = tb_gguf_find_key(g, key);
    return i < 0 ? 0 : tb_gguf_kv_offset(g, i);
}

/* Reads a required u32 hyperparameter that must be >= 1. */
static int get_pos(const struct tb_gguf *g, const char *key, int32_t *out, struct tb_err *err)
{
    uint32_t v;
    int rc = tb_gguf_get_u32(g, key, &v, err);
    if (rc)
        return rc;
    if (v < 1 || v > INT32_MAX)
        return tb_err_set(err, TB_EFORMAT, "%s: offset %llu: %s = %u is out of range",
                          tb_gguf_path(g), (unsigned long long)kv_off(g, key), key, v);
    *out = (int32_t)v;
    return TB_OK;
}

/* Optional key: keeps *out (the default) when absent. */
static int get_pos_opt(const struct tb_gguf *g, const char *key, int32_t *out, struct tb_err *err)
{
    return tb_gguf_find_key(g, key) < 0 ? TB_OK : get_pos(g, key, out, err);
}

static int get_f32_opt(const struct tb_gguf *g, const char *key, float *out, struct tb_err *err)
{
    if (tb_gguf_find_key(g, key) < 0)
        return TB_OK;
    float v;
    int rc = tb_gguf_get_f32(g, key, &v, err);
    if (rc)
        return rc;
    if (!(v > 0.0f) || !isfinite(v))
        return tb_err_set(err, TB_EFORMAT, "%s: offset %llu: %s = %g must be positive",
                          tb_gguf_path(g), (unsigned long long)kv_off(g, key), key, (double)v);
    *out = v;
    return TB_OK;
}

static int read_config(const struct tb_gguf *g, struct tb_llama_config *c, struct tb_err *err)
{
    const char *path = tb_gguf_path(g);
    struct tb_gguf_str arch;
    int rc = tb_gguf_get_str(g, "general.architecture", &arch, err);
    if (rc)
        return rc;
    if (arch.len != 5 || memcmp(arch.ptr, "llama", 5) != 0)
        return tb_err_set(
            err, TB_EUNSUPPORTED,
            "%s: offset %llu: general.architecture is '%.*s', only 'llama' is supported", path,
            (unsigned long long)kv_off(g, "general.architecture"),
            (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    memset(c, 0, sizeof *c);
    if ((rc = get_pos(g, "llama.context_length", &c->ctx_len, err)) ||
        (rc = get_pos(g, "llama.embedding_length", &c->dim, err)) ||
        (rc = get_pos(g, "llama.block_count", &c->n_layers, err)) ||
        (rc = get_pos(g, "llama.feed_forward_length", &c->ffn_dim, err)) ||
        (rc = get_pos(g, "llama.attention.head_count", &c->n_heads, err)))
        return rc;
    c->n_kv_heads = c->n_heads;
    c->rope_theta = 10000.0f;
    c->rms_eps = 1e-5f;
    if ((rc = get_pos_opt(g, "llama.attention.head_count_kv", &c->n_kv_heads, err)) ||
        (rc = get_f32_opt(g, "llama.rope.freq_base", &c->rope_theta, err)) ||
        (rc = get_f32_opt(g, "llama.attention.layer_norm_rms_epsilon", &c->rms_eps, err)))
        return rc;
    if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0)
        return tb_err_set(err, TB_EFORMAT,
                          "%s: offset %llu: llama.attention.head_count %d does not divide "
                          "llama.embedding_length %d into even-sized heads",
                          path, (unsigned long long)kv_off(g, "llama.attention.head_count"),
                          c->n_heads, c->dim);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return tb_err_set(err, TB_EFORMAT,
                          "%s: offset %llu: llama.attention.head_count_kv %d does not divide "
                          "llama.attention.head_count %d",
                          path, (unsigned long long)kv_off(g, "llama.attention.head_count_kv"),
                          c->n_kv_heads, c->n_heads);
    c->head_dim = c->dim / c->n_heads;
    uint64_t rope_dims;
    if (tb_gguf_find_key(g, "llama.rope.dimension_count") >= 0) {
        if ((rc = tb_gguf_get_u64(g, "llama.rope.dimension_count", &rope_dims, err)))
            return rc;
        if (rope_dims != (uint64_t)c->head_dim)
            return tb_err_set(err, TB_EUNSUPPORTED,
                              "%s: offset %llu: llama.rope.dimension_count %llu != head size %d "
                              "(partial rotary embedding is not supported)",
                              path, (unsigned long long)kv_off(g, "llama.rope.dimension_count"),
                              (unsigned long long)rope_dims, c->head_dim);
    }
    return TB_OK;
}

/* Which metadata implies a tensor, for "offset N" in missing-tensor errors. */
static uint64_t implied_by(const struct tb_gguf *g, int layer)
{
    return kv_off(g, layer >= 0 ? "llama.block_count" : "general.architecture");
}

/* Index of the first non-finite value among n IEEE values spaced `stride`
 * bytes apart, or -1. `e` is the value's exponent mask, which also says its
 * size: 0x7f800000 f32, 0x7c00 f16, 0x7f80 bf16. Chunks of 4096 are
 * or-reduced without branches (vectorizable), then searched only when one
 * holds a hit: about 0.1 s per GB of mapped weights (docs/hardening.md). */
static int64_t first_nonfinite(const unsigned char *p, int64_t n, size_t stride, uint32_t e)
{
    const size_t size = e > 0xffffu ? 4 : 2;
    for (int64_t i0 = 0; i0 < n; i0 += 4096) {
        const int64_t i1 = n - i0 < 4096 ? n : i0 + 4096;
        unsigned bad = 0;
        if (size == 4 && stride == 4) {
            const uint32_t *v = (const uint32_t *)(const void *)p;
            for (int64_t i = i0; i < i1; i++)
                bad |= (v[i] & e) == e;
        } else if (stride == 2) {
            const uint16_t *v = (const uint16_t *)(const void *)p;
            for (int64_t i = i0; i < i1; i++)
                bad |= (v[i] & e) == e;
        } else { /* f16 block scales, one per block of `stride` bytes */
            for (int64_t i = i0; i < i1; i++) {
                uint16_t h;
                memcpy(&h, p + (size_t)i * stride, 2);
                bad |= (h & e) == e;
            }
        }
        if (!bad)
            continue;
        for (int64_t i = i0; i < i1; i++) {
            uint32_t v = 0;
            memcpy(&v, p + (size_t)i * stride, size);
            if ((v & e) == e)
                return i;
        }
    }
    return -1;
}

/* A bound tensor's data must be aligned for its element type (kernels load
 * it in place as floats / f16 blocks; general.alignment = 1 can leave it
 * misaligned) and hold only finite values: f32/f16/bf16 values, the f16
 * scale of every block (the last 2 bytes of a q6_K block) and the f16 minimum of every
 * q4_1/q5_1 block (dmin of a q4_K/q5_K super-block). A NaN or Inf weight is
 * rejected here, with the tensor's name and the value's file offset, so it never reaches a kernel
 * (where a NaN norm weight once came out as plausible finite logits). */
static int check_data(const struct tb_gguf *g, const char *name,
                      const struct tb_gguf_tensor_info *ti, const struct tb_tensor *t,
                      struct tb_err *err)
{
    const struct tb_type_traits *tr = tb_type_traits(ti->type);
    const int blocks = tr->block_size > 1;
    /* stride: one value (f32, f16, bf16) or one block, whose f16 scale comes first */
    const size_t align = ti->type == TB_TYPE_F32 ? 4 : 2, stride = tr->type_size;
    const unsigned long long off = (unsigned long long)(tb_gguf_data_offset(g) + ti->offset);
    if ((uintptr_t)t->data % align != 0)
        return tb_err_set(err, TB_EFORMAT,
                          "%s: offset %llu: tensor %s (%s) is not %zu-byte aligned "
                          "(general.alignment = %u); its data cannot be used in place",
                          tb_gguf_path(g), off, name, tr->name, align, tb_gguf_alignment(g));
    const int64_t n = (int64_t)(ti->size / stride);
    const uint32_t e = ti->type == TB_TYPE_F32    ? 0x7f800000u
                       : ti->type == TB_TYPE_BF16 ? 0x7f80u
                                                  : 0x7c00u;
    /* the block's f16 scale comes first, but last in a q6_K block (at 208) */
    const size_t at_d = ti->type == TB_TYPE_Q6_K ? offsetof(struct tb_block_q6_K, d) : 0;
    int64_t i = first_nonfinite((const unsigned char *)t->data + at_d, n, stride, e);
    /* q4_1, q5_1, q4_K and q5_K blocks hold their f16 minimum after the scale */
    const int has_min = ti->type == TB_TYPE_Q4_1 || ti->type == TB_TYPE_Q5_1 ||
                        ti->type == TB_TYPE_Q4_K || ti->type == TB_TYPE_Q5_K;
    const int64_t im =
        has_min ? first_nonfinite((const unsigned char *)t->data + 2, i < 0 ? n : i, stride, e)
                : -1;
    const int min_bad = im >= 0;
    if (min_bad)
        i = im;
    if (i < 0)
        return TB_OK;
    const unsigned long long at = off + (unsigned long long)i * stride;
    if (blocks)
        return tb_err_set(err, TB_EFORMAT,
                          "%s: offset %llu: tensor %s block %lld has a non-finite %s (NaN or "
                          "Inf); non-finite weights are rejected",
                          tb_gguf_path(g), at + (min_bad ? 2 : at_d), name, (long long)i,
                          min_bad ? "minimum" : "scale");
    return tb_err_set(err, TB_EFORMAT,
                      "%s: offset %llu: tensor %s element %lld is non-finite (NaN or Inf); "
                      "non-finite weights are rejected",
                      tb_gguf_path(g), at, name, (long long)i);
}

/* Looks up `name`, checks type class, exact shape and data (check_data),
 * fills a view. */
static int bind(const struct tb_gguf *g, const char *name, int layer, int norm, int64_t ne0,
                int64_t ne1, struct tb_tensor *out, struct tb_err *err)
{
    const char *path = tb_gguf_path(g);
    int64_t i = tb_gguf_find_tensor(g, name);
    if (i < 0) {
        if (layer >= 0)
            return tb_err_set(
                err, TB_EFORMAT,
                "%s: offset %llu: llama.block_count says %s exists, but it is missing", path,
                (unsigned long long)implied_by(g, layer), name);
        return tb_err_set(err, TB_EFORMAT,
                          "%s: offset %llu: llama model requires tensor %s, "
                          "but it is missing",
                          path, (unsigned long long)implied_by(g, layer), name);
    }
    const struct tb_gguf_tensor_info *ti = tb_gguf_tensor(g, i);
    const unsigned long long off = (unsigned long long)(tb_gguf_data_offset(g) + ti->offset);
    const struct tb_type_traits *tr = tb_type_traits(ti->type);
    if (norm ? ti->type != TB_TYPE_F32 : !(tr && tr->compute)) {
        char names[TB_WTYPE_NAMES_MAX];
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "%s: offset %llu: tensor %s has type %s, "
                          "supported: %s",
                          path, off, name, tb_type_name(ti->type),
                          norm ? "f32" : tb_wtype_names(names, sizeof names, ", "));
    }
    const uint32_t want_dims = norm ? 1 : 2;
    if (ti->n_dims != want_dims || ti->ne[0] != ne0 || (!norm && ti->ne[1] != ne1))
        return tb_err_set(err, TB_EFORMAT,
                          "%s: offset %llu: tensor %s has shape [%lld x %lld] (%u dims), the "
                          "metadata implies [%lld x %lld]",
                          path, off, name, (long long)ti->ne[0], (long long)ti->ne[1], ti->n_dims,
                          (long long)ne0, (long long)(norm ? 1 : ne1));
    int rc = tb_gguf_tensor_view(g, i, out, err);
    return rc ? rc : check_data(g, name, ti, out, err);
}

static int bind_layer(const struct tb_gguf *g, const struct tb_llama_config *c, int l,
                      struct tb_llama_layer *L, struct tb_err *err)
{
    const int64_t kv_dim = (int64_t)c->head_dim * c->n_kv_heads;
    const struct {
        const char *suffix;
        int norm;
        int64_t ne0, ne1;
        struct tb_tensor *dst;
    } specs[] = {
        {"attn_norm", 1, c->dim, 1, &L->attn_norm},
        {"attn_q", 0, c->dim, c->dim, &L->wq},
        {"attn_k", 0, c->dim, kv_dim, &L->wk},
        {"attn_v", 0, c->dim, kv_dim, &L->wv},
        {"attn_output", 0, c->dim, c->dim, &L->wo},
        {"ffn_norm", 1, c->dim, 1, &L->ffn_norm},
        {"ffn_gate", 0, c->dim, c->ffn_dim, &L->w_gate},
        {"ffn_up", 0, c->dim, c->ffn_dim, &L->w_up},
        {"ffn_down", 0, c->ffn_dim, c->dim, &L->w_down},
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        char name[TB_NAME_MAX];
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, specs[k].suffix);
        int rc = bind(g, name, l, specs[k].norm, specs[k].ne0, specs[k].ne1, specs[k].dst, err);
        if (rc)
            return rc;
    }
    return TB_OK;
}

/* Vocabulary size: the tokenizer's token list when present, else the
 * embedding's row count; both must agree when both exist. */
static int read_vocab(const struct tb_gguf *g, struct tb_llama_config *c, struct tb_err *err)
{
    const char *path = tb_gguf_path(g);
    int64_t te = tb_gguf_find_tensor(g, "token_embd.weight");
    if (te < 0)
        return tb_err_set(err, TB_EFORMAT,
                          "%s: offset %llu: llama model requires tensor "
                          "token_embd.weight, but it is missing",
                          path, (unsigned long long)implied_by(g, -1));
    const int64_t rows = tb_gguf_tensor(g, te)->ne[1];
    int64_t k = tb_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (k >= 0) {
        if (tb_gguf_kv_type(g, k) != TB_GGUF_ARRAY || tb_gguf_kv_arr_type(g, k) != TB_GGUF_STRING)
            return tb_err_set(err, TB_EFORMAT,
                              "%s: offset %llu: tokenizer.ggml.tokens is not "
                              "a string array",
                              path, (unsigned long long)tb_gguf_kv_offset(g, k));
        const uint64_t n = tb_gguf_kv_arr_n(g, k);
        if (n != (uint64_t)rows)
            return tb_err_set(err, TB_EFORMAT,
                              "%s: offset %llu: tokenizer.ggml.tokens has %llu "
                              "tokens but token_embd.weight has %lld rows",
                              path, (unsigned long long)tb_gguf_kv_offset(g, k),
                              (unsigned long long)n, (long long)rows);
    }
    if (rows < 1 || rows > INT32_MAX)
        return tb_err_set(
            err, TB_EFORMAT, "%s: offset %llu: token_embd.weight has %lld rows", path,
            (unsigned long long)(tb_gguf_data_offset(g) + tb_gguf_tensor(g, te)->offset),
            (long long)rows);
    c->vocab_size = (int32_t)rows;
    return TB_OK;
}

void tb_llama_free(struct tb_llama_model *m)
{
    if (!m)
        return;
    free(m->weights.layers);
    tb_gguf_close(m->gguf);
    free(m);
}

/* Type holding the most bytes among the 2-D weights. */
static int dominant_type(const struct tb_llama_model *m)
{
    uint64_t bytes[TB_TYPE_ID_LIMIT] = {0};
    const struct tb_llama_weights *w = &m->weights;
    bytes[w->token_embd.type] += tb_tensor_nbytes(&w->token_embd);
    if (!w->tied_output)
        bytes[w->output.type] += tb_tensor_nbytes(&w->output);
    for (int l = 0; l < m->config.n_layers; l++) {
        const struct tb_llama_layer *L = &w->layers[l];
        const struct tb_tensor *ts[] = {&L->wq,     &L->wk,   &L->wv,    &L->wo,
                                        &L->w_gate, &L->w_up, &L->w_down};
        for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++)
            bytes[ts[k]->type] += tb_tensor_nbytes(ts[k]);
    }
    int best = 0;
    for (int t = 1; t < TB_TYPE_ID_LIMIT; t++)
        if (bytes[t] > bytes[best])
            best = t;
    return best;
}

int tb_llama_load(const char *path, struct tb_llama_model **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_llama_model *m = calloc(1, sizeof *m);
    if (!m)
        return tb_err_set(err, TB_ENOMEM, "%s: cannot allocate model", path);
    int rc = tb_gguf_open(path, &m->gguf, err);
    if (rc)
        goto fail;
    const struct tb_gguf *g = m->gguf;
    struct tb_llama_config *c = &m->config;
    struct tb_llama_weights *w = &m->weights;
    if ((rc = read_config(g, c, err)) || (rc = read_vocab(g, c, err)))
        goto fail;
    /* bounds the layer allocation by what the file can hold */
    if (c->n_layers > tb_gguf_n_tensors(g)) {
        rc = tb_err_set(err, TB_EFORMAT,
                        "%s: offset %llu: llama.block_count %d exceeds the "
                        "file's %lld tensors",
                        path, (unsigned long long)kv_off(g, "llama.block_count"), c->n_layers,
                        (long long)tb_gguf_n_tensors(g));
        goto fail;
    }
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->layers) {
        rc = tb_err_set(err, TB_ENOMEM, "%s: cannot allocate %d layers", path, c->n_layers);
        goto fail;
    }
    if ((rc = bind(g, "token_embd.weight", -1, 0, c->dim, c->vocab_size, &w->token_embd, err)) ||
        (rc = bind(g, "output_norm.weight", -1, 1, c->dim, 1, &w->output_norm, err)))
        goto fail;
    if (tb_gguf_find_tensor(g, "output.weight") >= 0) {
        if ((rc = bind(g, "output.weight", -1, 0, c->dim, c->vocab_size, &w->output, err)))
            goto fail;
    } else {
        w->output = w->token_embd; /* tied embeddings */
        w->tied_output = 1;
    }
    for (int l = 0; l < c->n_layers; l++)
        if ((rc = bind_layer(g, c, l, &w->layers[l], err)))
            goto fail;
    for (int64_t i = 0; i < tb_gguf_n_tensors(g); i++)
        w->weight_bytes += tb_gguf_tensor(g, i)->size;
    w->weight_type = dominant_type(m);
    *out = m;
    return TB_OK;
fail:
    tb_llama_free(m);
    return rc;
}

/* ------------------------------------------------------------ run state */

/* Per-eval views (ne[1] = rows of this eval) live next to the public state,
 * so building a graph never allocates. */
struct llama_state_priv {
    struct tb_llama_state s; /* first: the public pointer is this struct */
    struct tb_tensor tok, x, xb, q, k, v, att, xo, hg, hu, logits, xb_last;
};

static struct llama_state_priv *priv_of(struct tb_llama_state *s)
{
    return (struct llama_state_priv *)s;
}

#define ARENA_ALIGN 64

void tb_llama_state_free(struct tb_llama_state *s)
{
    if (!s)
        return;
    free(s->arena);
    free(s->k_cache);
    free(s->v_cache);
    tb_graph_free(&s->graph);
    free(priv_of(s));
}

static int graph_capacity(int n_layers)
{
    return 18 * n_layers + 3;
}

struct act_spec {
    struct tb_tensor *t;
    enum tb_type type;
    int64_t ne0, ne1;
    const char *name;
};
#define N_ACT 11

/* The one place the state's layout is decided, for tb_llama_state_build and
 * tb_llama_state_bytes alike: activation tensors (act, offsets into the
 * arena, their total) and the size of one layer's K (or V) cache. */
static int state_layout(const struct tb_llama_config *c, struct tb_llama_state *s,
                        int32_t max_batch, int32_t n_ctx, enum tb_type kv_type,
                        struct act_spec act[N_ACT], size_t offs[N_ACT], uint64_t *act_total,
                        uint64_t *cache_bytes, struct tb_err *err)
{
    if (kv_type != TB_TYPE_F32 && kv_type != TB_TYPE_F16)
        return tb_err_set(err, TB_EINVAL, "llama state: KV cache type %s, expected f32 or f16",
                          tb_type_name(kv_type));
    if (max_batch < 1 || n_ctx < 1 || max_batch > n_ctx)
        return tb_err_set(err, TB_EINVAL, "llama state: need 1 <= max_batch (%d) <= n_ctx (%d)",
                          max_batch, n_ctx);
    if (n_ctx > c->ctx_len)
        return tb_err_set(err, TB_EINVAL,
                          "llama state: n_ctx %d exceeds the model's context "
                          "length %d",
                          n_ctx, c->ctx_len);
    const int64_t B = max_batch, kv_dim = (int64_t)c->head_dim * c->n_kv_heads;
    int na = 0;
#define ACT(T, TY, N0, N1, NM) act[na++] = (struct act_spec){T, TY, N0, N1, NM}
    ACT(&s->tokens, TB_TYPE_I32, B, 1, "tokens");
    ACT(&s->x, TB_TYPE_F32, c->dim, B, "x");
    ACT(&s->xb, TB_TYPE_F32, c->dim, B, "xb");
    ACT(&s->q, TB_TYPE_F32, c->dim, B, "q");
    ACT(&s->k, TB_TYPE_F32, kv_dim, B, "k");
    ACT(&s->v, TB_TYPE_F32, kv_dim, B, "v");
    ACT(&s->att, TB_TYPE_F32, c->dim, B, "att");
    ACT(&s->xo, TB_TYPE_F32, c->dim, B, "xo");
    ACT(&s->hg, TB_TYPE_F32, c->ffn_dim, B, "hg");
    ACT(&s->hu, TB_TYPE_F32, c->ffn_dim, B, "hu");
    ACT(&s->logits, TB_TYPE_F32, c->vocab_size, B, "logits");
#undef ACT
    /* sizes: all factors are positive int32, products fit in 64 bits */
    uint64_t total = 0;
    for (int i = 0; i < na; i++) {
        offs[i] = (size_t)total;
        total += ((uint64_t)act[i].ne0 * (uint64_t)act[i].ne1 * 4 + ARENA_ALIGN - 1) / ARENA_ALIGN *
                 ARENA_ALIGN;
    }
    *act_total = total;
    const uint64_t es = kv_type == TB_TYPE_F16 ? 2 : 4;
    *cache_bytes =
        ((uint64_t)kv_dim * (uint64_t)n_ctx * es + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    return TB_OK;
}

int tb_llama_state_bytes(const struct tb_llama_config *c, int32_t max_batch, int32_t n_ctx,
                         uint64_t *act_bytes, uint64_t *kv_bytes, struct tb_err *err)
{
    return tb_llama_state_bytes_kv(c, max_batch, n_ctx, TB_TYPE_F32, act_bytes, kv_bytes, err);
}

int tb_llama_state_bytes_kv(const struct tb_llama_config *c, int32_t max_batch, int32_t n_ctx,
                            enum tb_type kv_type, uint64_t *act_bytes, uint64_t *kv_bytes,
                            struct tb_err *err)
{
    struct tb_llama_state tmp;
    struct act_spec act[N_ACT];
    size_t offs[N_ACT];
    uint64_t cache = 0;
    int rc = state_layout(c, &tmp, max_batch, n_ctx, kv_type, act, offs, act_bytes, &cache, err);
    if (rc)
        return rc;
    *kv_bytes = cache * 2 * (uint64_t)c->n_layers;
    return TB_OK;
}

int tb_llama_memory_need(const struct tb_llama_config *c, uint64_t weight_bytes,
                         enum tb_type kv_type, int32_t max_batch, int32_t n_ctx,
                         struct tb_memory_need *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    int rc =
        tb_llama_state_bytes_kv(c, max_batch, n_ctx, kv_type, &out->activations, &out->kv, err);
    if (rc)
        return rc;
    out->weights = weight_bytes;
    out->total = weight_bytes + out->activations + out->kv;
    return TB_OK;
}

int tb_memory_need_format(const struct tb_memory_need *need, char *buf, size_t n)
{
    char t[32], w[32], a[32], k[32];
    tb_format_bytes(need->total, t, sizeof t);
    tb_format_bytes(need->weights, w, sizeof w);
    tb_format_bytes(need->activations, a, sizeof a);
    tb_format_bytes(need->kv, k, sizeof k);
    return snprintf(buf, n, "%s (weights %s + activations %s + KV cache %s)", t, w, a, k);
}

int tb_llama_state_build(const struct tb_llama_model *m, int32_t max_batch, int32_t n_ctx,
                         struct tb_llama_state **out, struct tb_err *err)
{
    return tb_llama_state_build_kv(m, max_batch, n_ctx, TB_TYPE_F32, out, err);
}

int tb_llama_state_build_kv(const struct tb_llama_model *m, int32_t max_batch, int32_t n_ctx,
                            enum tb_type kv_type, struct tb_llama_state **out, struct tb_err *err)
{
    *out = NULL;
    const struct tb_llama_config *c = &m->config;
    const int64_t kv_dim = (int64_t)c->head_dim * c->n_kv_heads;
    struct act_spec act[N_ACT];
    size_t offs[N_ACT];
    uint64_t total = 0, cache_bytes = 0;
    struct llama_state_priv *p = calloc(1, sizeof *p);
    if (!p)
        return tb_err_set(err, TB_ENOMEM, "llama state: out of memory");
    struct tb_llama_state *s = &p->s;
    int rc = state_layout(c, s, max_batch, n_ctx, kv_type, act, offs, &total, &cache_bytes, err);
    if (rc) {
        free(p);
        return rc;
    }
    const int na = N_ACT;
    s->max_batch = max_batch;
    s->n_ctx = n_ctx;
    s->arena_bytes = (size_t)total;
    const uint64_t kv_total = cache_bytes * 2 * (uint64_t)c->n_layers;
    s->kv_bytes = (size_t)kv_total;
    if (total + kv_total > SIZE_MAX - ARENA_ALIGN) {
        rc = tb_err_set(err, TB_ENOMEM, "llama state: %llu bytes do not fit the address space",
                        (unsigned long long)(total + kv_total));
        goto fail;
    }
    /* calloc: large requests come from fresh zero pages, so an unused KV
     * cache tail costs no physical memory */
    s->arena = calloc(1, (size_t)(total + kv_total) + ARENA_ALIGN);
    s->k_cache = calloc((size_t)c->n_layers, sizeof *s->k_cache);
    s->v_cache = calloc((size_t)c->n_layers, sizeof *s->v_cache);
    if (!s->arena || !s->k_cache || !s->v_cache ||
        tb_graph_init(&s->graph, graph_capacity(c->n_layers))) {
        rc = tb_err_set(err, TB_ENOMEM,
                        "llama state: cannot allocate %llu bytes "
                        "(activations %zu, KV cache %zu)",
                        (unsigned long long)(total + kv_total), s->arena_bytes, s->kv_bytes);
        goto fail;
    }
    char *base = (char *)(((uintptr_t)s->arena + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
    for (int i = 0; i < na; i++) {
        const int64_t ne[2] = {act[i].ne0, act[i].ne1};
        tb_tensor_init(act[i].t, act[i].type, 2, ne, base + offs[i], act[i].name);
    }
    char *kv = base + total;
    const int64_t cne[2] = {kv_dim, n_ctx};
    for (int l = 0; l < c->n_layers; l++) {
        char name[TB_NAME_MAX];
        snprintf(name, sizeof name, "cache_k_l%d", l);
        tb_tensor_init(&s->k_cache[l], kv_type, 2, cne, kv + (size_t)(2 * l) * cache_bytes, name);
        snprintf(name, sizeof name, "cache_v_l%d", l);
        tb_tensor_init(&s->v_cache[l], kv_type, 2, cne, kv + (size_t)(2 * l + 1) * cache_bytes,
                       name);
        /* written only by KV_STORE ops: accelerators may keep them resident */
        s->k_cache[l].flags |= TB_TENSOR_STATE;
        s->v_cache[l].flags |= TB_TENSOR_STATE;
    }
    *out = s;
    return TB_OK;
fail:
    tb_llama_state_free(s);
    return rc;
}

/* ---------------------------------------------------------------- graph */

/* A view of `full` with rows [row0, row0 + n). */
static void view_rows(struct tb_tensor *dst, const struct tb_tensor *full, int64_t row0, int64_t n)
{
    *dst = *full;
    dst->ne[1] = n;
    dst->nb[2] = dst->nb[1] * (size_t)n;
    dst->nb[3] = dst->nb[2];
    dst->data = tb_tensor_row(full, row0);
}

int tb_llama_build_graph(const struct tb_llama_model *m, struct tb_llama_state *s, int32_t n,
                         int32_t pos0, int mode, struct tb_err *err)
{
    const struct tb_llama_config *c = &m->config;
    if (mode < TB_LLAMA_LAST_LOGITS || mode > TB_LLAMA_EMBED)
        return tb_err_set(err, TB_EINVAL, "llama eval: unknown graph mode %d", mode);
    const int all_logits = mode == TB_LLAMA_ALL_LOGITS, embed = mode == TB_LLAMA_EMBED;
    const struct tb_llama_weights *w = &m->weights;
    struct llama_state_priv *p = priv_of(s);
    if (n < 1 || n > s->max_batch)
        return tb_err_set(err, TB_EINVAL, "llama eval: %d tokens, batch capacity is %d", n,
                          s->max_batch);
    if (pos0 < 0 || (int64_t)pos0 + n > s->n_ctx)
        return tb_err_set(err, TB_EINVAL,
                          "llama eval: positions %d..%lld exceed the context "
                          "of %d",
                          pos0, (long long)pos0 + n - 1, s->n_ctx);
    p->tok = s->tokens;
    p->tok.ne[0] = n;
    p->tok.nb[1] = p->tok.nb[2] = p->tok.nb[3] = (size_t)n * sizeof(int32_t);
    view_rows(&p->x, &s->x, 0, n);
    view_rows(&p->xb, &s->xb, 0, n);
    view_rows(&p->q, &s->q, 0, n);
    view_rows(&p->k, &s->k, 0, n);
    view_rows(&p->v, &s->v, 0, n);
    view_rows(&p->att, &s->att, 0, n);
    view_rows(&p->xo, &s->xo, 0, n);
    view_rows(&p->hg, &s->hg, 0, n);
    view_rows(&p->hu, &s->hu, 0, n);
    view_rows(&p->logits, &s->logits, 0, all_logits ? n : 1);
    view_rows(&p->xb_last, &s->xb, n - 1, 1);

    struct tb_graph *g = &s->graph;
    tb_graph_reset(g);
    const struct tb_op_params norm = {.eps = c->rms_eps};
    const struct tb_op_params rq = {
        .rope_theta = c->rope_theta, .pos0 = pos0, .n_head = c->n_heads, .head_dim = c->head_dim};
    struct tb_op_params rk = rq;
    rk.n_head = c->n_kv_heads;
    const struct tb_op_params at = {.scale = 1.0f / sqrtf((float)c->head_dim),
                                    .pos0 = pos0,
                                    .n_head = c->n_heads,
                                    .n_head_kv = c->n_kv_heads,
                                    .head_dim = c->head_dim,
                                    .non_causal = embed};
    const struct tb_op_params st = {.pos0 = pos0};
    int ok = 1;
    char nm[48];
#define OP(KIND, L, NAME, P, D, A, B, C)                                                           \
    do {                                                                                           \
        if ((L) >= 0)                                                                              \
            snprintf(nm, sizeof nm, "blk.%d.%s", (int)(L), NAME);                                  \
        else                                                                                       \
            snprintf(nm, sizeof nm, "%s", NAME);                                                   \
        ok = ok && tb_graph_add(g, KIND, nm, L, P, D, A, B, C) != NULL;                            \
    } while (0)
    OP(TB_OP_GET_ROWS, -1, "token_embd", NULL, &p->x, &w->token_embd, &p->tok, NULL);
    for (int l = 0; l < c->n_layers; l++) {
        const struct tb_llama_layer *L = &w->layers[l];
        OP(TB_OP_RMS_NORM, l, "attn_norm", &norm, &p->xb, &p->x, &L->attn_norm, NULL);
        OP(TB_OP_MATMUL, l, "attn_q", NULL, &p->q, &L->wq, &p->xb, NULL);
        OP(TB_OP_MATMUL, l, "attn_k", NULL, &p->k, &L->wk, &p->xb, NULL);
        OP(TB_OP_MATMUL, l, "attn_v", NULL, &p->v, &L->wv, &p->xb, NULL);
        OP(TB_OP_ROPE, l, "rope_q", &rq, &p->q, &p->q, NULL, NULL);
        OP(TB_OP_ROPE, l, "rope_k", &rk, &p->k, &p->k, NULL, NULL);
        OP(TB_OP_KV_STORE, l, "k_store", &st, &s->k_cache[l], &p->k, NULL, NULL);
        OP(TB_OP_KV_STORE, l, "v_store", &st, &s->v_cache[l], &p->v, NULL, NULL);
        OP(TB_OP_ATTENTION, l, "attn", &at, &p->att, &p->q, &s->k_cache[l], &s->v_cache[l]);
        OP(TB_OP_MATMUL, l, "attn_output", NULL, &p->xo, &L->wo, &p->att, NULL);
        OP(TB_OP_ADD, l, "attn_residual", NULL, &p->x, &p->x, &p->xo, NULL);
        OP(TB_OP_RMS_NORM, l, "ffn_norm", &norm, &p->xb, &p->x, &L->ffn_norm, NULL);
        OP(TB_OP_MATMUL, l, "ffn_gate", NULL, &p->hg, &L->w_gate, &p->xb, NULL);
        OP(TB_OP_MATMUL, l, "ffn_up", NULL, &p->hu, &L->w_up, &p->xb, NULL);
        OP(TB_OP_SILU, l, "ffn_silu", NULL, &p->hg, &p->hg, NULL, NULL);
        OP(TB_OP_MUL, l, "ffn_mul", NULL, &p->hg, &p->hg, &p->hu, NULL);
        OP(TB_OP_MATMUL, l, "ffn_down", NULL, &p->xo, &L->w_down, &p->hg, NULL);
        OP(TB_OP_ADD, l, "ffn_residual", NULL, &p->x, &p->x, &p->xo, NULL);
    }
    OP(TB_OP_RMS_NORM, -1, "output_norm", &norm, &p->xb, &p->x, &w->output_norm, NULL);
    if (!embed) /* embeddings stop at the normed hidden rows */
        OP(TB_OP_MATMUL, -1, "output", NULL, &p->logits, &w->output,
           all_logits ? &p->xb : &p->xb_last, NULL);
#undef OP
    if (!ok)
        return tb_err_set(err, TB_ERANGE, "llama graph: more than %d ops", g->cap);
    return TB_OK;
}

static int run_on_backend(void *ctx, const struct tb_graph *g, uint64_t *op_ns, struct tb_err *err)
{
    return tb_backend_compute_graph(ctx, g, 0, g->n_ops, op_ns, err);
}

/* Every output row of an eval must be finite: a NaN/Inf (from finite but
 * huge weights, or an input that overflows) is an invalid result, never a
 * plausible one. TB_ENONFINITE names the first position (and vocab index). */
static int check_outputs(const struct tb_llama_model *m, const struct tb_llama_state *s, int32_t n,
                         int32_t pos0, int mode, struct tb_err *err)
{
    const int embed = mode == TB_LLAMA_EMBED;
    const int32_t rows = mode == TB_LLAMA_ALL_LOGITS || embed ? n : 1;
    const int32_t width = embed ? m->config.dim : m->config.vocab_size;
    for (int32_t r = 0; r < rows; r++) {
        const float *v = embed ? tb_llama_hidden(s, r) : tb_llama_logits(s, r);
        int bad = 0;
        for (int32_t j = 0; j < width; j++) /* or-reduced: vectorizes */
            bad |= !isfinite(v[j]);
        if (!bad)
            continue;
        int32_t j = 0;
        while (isfinite(v[j]))
            j++;
        const long long pos = (long long)pos0 + (mode == TB_LLAMA_LAST_LOGITS ? n - 1 : r);
        return tb_err_set(err, TB_ENONFINITE,
                          "llama eval: non-finite %s at position %lld (%s %d is %g)",
                          embed ? "hidden state" : "logit", pos, embed ? "element" : "vocab entry",
                          j, (double)v[j]);
    }
    return TB_OK;
}

/* The one place eval's inputs are checked and the graph is built; the
 * runner (one backend, or the placement scheduler) only executes it. */
int tb_llama_eval_with(const struct tb_llama_model *m, struct tb_llama_state *s,
                       tb_llama_graph_runner run, void *ctx, const int32_t *tokens, int32_t n,
                       int32_t pos0, int mode, uint64_t *op_ns, struct tb_err *err)
{
    int rc = tb_llama_build_graph(m, s, n, pos0, mode, err);
    if (rc)
        return rc;
    int32_t *dst = s->tokens.data;
    for (int32_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->config.vocab_size)
            return tb_err_set(err, TB_EINVAL,
                              "llama eval: token %d at index %d is outside the "
                              "vocabulary [0, %d)",
                              tokens[i], i, m->config.vocab_size);
        dst[i] = tokens[i];
    }
    rc = run(ctx, &s->graph, op_ns, err);
    return rc ? rc : check_outputs(m, s, n, pos0, mode, err);
}

int tb_llama_eval(const struct tb_llama_model *m, struct tb_llama_state *s, struct tb_backend *b,
                  const int32_t *tokens, int32_t n, int32_t pos0, int mode, uint64_t *op_ns,
                  struct tb_err *err)
{
    return tb_llama_eval_with(m, s, run_on_backend, b, tokens, n, pos0, mode, op_ns, err);
}

int tb_llama_embed(const struct tb_llama_model *m, struct tb_llama_state *s, struct tb_backend *b,
                   const int32_t *tokens, int32_t n, float *out, uint64_t *op_ns,
                   struct tb_err *err)
{
    return tb_llama_embed_with(m, s, run_on_backend, b, tokens, n, out, op_ns, err);
}

int tb_llama_embed_with(const struct tb_llama_model *m, struct tb_llama_state *s,
                        tb_llama_graph_runner run, void *ctx, const int32_t *tokens, int32_t n,
                        float *out, uint64_t *op_ns, struct tb_err *err)
{
    int rc = tb_llama_eval_with(m, s, run, ctx, tokens, n, 0, TB_LLAMA_EMBED, op_ns, err);
    if (rc)
        return rc;
    /* mean pooling on the host, column sums in double */
    const int32_t dim = m->config.dim;
    for (int32_t j = 0; j < dim; j++) {
        double sum = 0.0;
        for (int32_t i = 0; i < n; i++)
            sum += (double)tb_llama_hidden(s, i)[j];
        out[j] = (float)(sum / (double)n);
    }
    return TB_OK;
}

/* Synthetic llama models with real shapes and random (but deterministic)
 * weights, written as llama.cpp-compatible GGUF. The numbers are not a
 * trained model, but they exercise exactly the same kernels and memory
 * traffic, and the scales keep activations finite and the next-token
 * argmax position-dependent so accuracy comparisons mean something. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/platform/tb_platform.h"
#include "workloads/tb_llama.h"

#define CFG(DIM, L, H, KVH, FFN, V, CTX, THETA)                                                    \
    {                                                                                              \
        .dim = DIM, .n_layers = L, .n_heads = H, .n_kv_heads = KVH, .head_dim = (DIM) / (H),       \
        .ffn_dim = FFN, .vocab_size = V, .ctx_len = CTX, .rope_theta = THETA, .rms_eps = 1e-5f     \
    }

static const struct tb_synth_shape k_shapes[] = {
    {"mcu-260k", CFG(64, 5, 8, 4, 192, 512, 512, 10000.0f)},
    {"stories15m", CFG(288, 6, 6, 6, 768, 32000, 256, 10000.0f)},
    {"stories110m", CFG(768, 12, 12, 12, 2048, 32000, 1024, 10000.0f)},
    {"tinyllama-1.1b", CFG(2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f)},
    {"llama3-8b", CFG(4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f)},
    /* a test shape: the smallest with every row length a multiple of 256,
     * the K-quants' super-block (mcu-260k's 64 and stories15m's 288 are not) */
    {"tiny-256", CFG(256, 2, 4, 4, 512, 512, 256, 10000.0f)},
    {NULL, {0}},
};
#undef CFG

const struct tb_synth_shape *tb_synth_shapes(void)
{
    return k_shapes;
}

const struct tb_synth_shape *tb_synth_find(const char *name)
{
    for (const struct tb_synth_shape *s = k_shapes; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* ---- deterministic random numbers: splitmix64, one stream per tensor row
 * (so any row can be regenerated on its own) */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t row_stream(uint64_t seed, uint64_t tensor, uint64_t row)
{
    uint64_t s = seed ^ (tensor * 0xD1B54A32D192ED03ull) ^ (row * 0xA0761D6478BD642Full);
    return splitmix64(&s);
}

/* Fills x[0..n) with uniform values of standard deviation `std` around `mean`
 * (uniform on [-std*sqrt(3), std*sqrt(3)], two values per 64-bit draw). */
static void fill_uniform(uint64_t stream, float *x, int64_t n, float mean, float std)
{
    const float amp = std * 1.7320508f * (2.0f / 16777216.0f);
    const float off = mean - std * 1.7320508f;
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        const uint64_t r = splitmix64(&stream);
        x[i] = off + amp * (float)(r >> 40);
        x[i + 1] = off + amp * (float)((r >> 8) & 0xFFFFFF);
    }
    if (i < n)
        x[i] = off + amp * (float)(splitmix64(&stream) >> 40);
}

/* How each tensor's values are drawn. */
enum gen_kind { GEN_NORM, GEN_WEIGHT, GEN_RESID, GEN_EMBD, GEN_OUTPUT };

struct gen_tensor {
    char name[TB_NAME_MAX];
    enum gen_kind kind;
    int type;
    int64_t ne0, ne1; /* ne1 = 1 for 1-D */
    size_t offset;    /* into the data buffer */
    size_t size;
};

/* Contrast (docs/accuracy.md): random weights alone give flat next-token
 * distributions whose top-1 gaps are below kernel rounding noise. The
 * residual branches (attn_output, ffn_down) run at RES_SCALE so the token's
 * embedding stays visible in the final state, and output row r adds
 * OUTPUT_COPY/dim times embedding row sigma(r), sigma(r) = (COPY_MUL r + 1)
 * mod vocab (a permutation): each position then prefers a token-dependent
 * next token by a clear margin, greedy decoding walks varied tokens, and
 * the rest of the softmax stays broad enough for KL to mean something. */
#define EMBD_STD 1.0f
#define OUTPUT_COPY 12.0f
#define RES_SCALE 0.5f
#define COPY_MUL 7919u /* prime, coprime to every shape's vocabulary size */

static void gen_row(const struct gen_tensor *t, uint64_t seed, uint64_t tensor_id, uint64_t embd_id,
                    int64_t row, float *x, float *tmp)
{
    const uint64_t st = row_stream(seed, tensor_id, (uint64_t)row);
    switch (t->kind) {
    case GEN_NORM: fill_uniform(st, x, t->ne0, 1.0f, 0.1f); break;
    case GEN_EMBD: fill_uniform(st, x, t->ne0, 0.0f, EMBD_STD); break;
    case GEN_WEIGHT: fill_uniform(st, x, t->ne0, 0.0f, 1.0f / sqrtf((float)t->ne0)); break;
    case GEN_RESID: fill_uniform(st, x, t->ne0, 0.0f, RES_SCALE / sqrtf((float)t->ne0)); break;
    case GEN_OUTPUT: {
        const float s = 1.0f / sqrtf((float)t->ne0);
        fill_uniform(st, x, t->ne0, 0.0f, s);
        const uint64_t src = ((uint64_t)row * COPY_MUL + 1) % (uint64_t)t->ne1;
        fill_uniform(row_stream(seed, embd_id, src), tmp, t->ne0, 0.0f, EMBD_STD);
        for (int64_t i = 0; i < t->ne0; i++)
            x[i] += OUTPUT_COPY * s * s * tmp[i];
        break;
    }
    }
}

/* llama.cpp's general.file_type for a model all in `type` (tb_wtypes.h); -1
 * if the engine does not compute with it. */
static int ggml_file_type(int type)
{
    switch (type) {
#define FTYPE_CASE(T, t, FTYPE, ...)                                                               \
    case TB_TYPE_##T: return FTYPE;
        TB_WTYPES(FTYPE_CASE)
#undef FTYPE_CASE
    default: return -1;
    }
}

/* The tensor list in llama.cpp's order. Returns the count (fills t if non-NULL). */
static int list_tensors(const struct tb_llama_config *c, int type, struct gen_tensor *t)
{
    const int64_t kv_dim = (int64_t)c->head_dim * c->n_kv_heads;
    int n = 0;
#define ADD(KIND, TYPE, NE0, NE1, ...)                                                             \
    do {                                                                                           \
        if (t) {                                                                                   \
            snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__);                                    \
            t[n].kind = KIND;                                                                      \
            t[n].type = TYPE;                                                                      \
            t[n].ne0 = NE0;                                                                        \
            t[n].ne1 = NE1;                                                                        \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)
    ADD(GEN_EMBD, type, c->dim, c->vocab_size, "token_embd.weight");
    for (int l = 0; l < c->n_layers; l++) {
        ADD(GEN_NORM, TB_TYPE_F32, c->dim, 1, "blk.%d.attn_norm.weight", l);
        ADD(GEN_WEIGHT, type, c->dim, c->dim, "blk.%d.attn_q.weight", l);
        ADD(GEN_WEIGHT, type, c->dim, kv_dim, "blk.%d.attn_k.weight", l);
        ADD(GEN_WEIGHT, type, c->dim, kv_dim, "blk.%d.attn_v.weight", l);
        ADD(GEN_RESID, type, c->dim, c->dim, "blk.%d.attn_output.weight", l);
        ADD(GEN_NORM, TB_TYPE_F32, c->dim, 1, "blk.%d.ffn_norm.weight", l);
        ADD(GEN_WEIGHT, type, c->dim, c->ffn_dim, "blk.%d.ffn_gate.weight", l);
        ADD(GEN_WEIGHT, type, c->dim, c->ffn_dim, "blk.%d.ffn_up.weight", l);
        ADD(GEN_RESID, type, c->ffn_dim, c->dim, "blk.%d.ffn_down.weight", l);
    }
    ADD(GEN_NORM, TB_TYPE_F32, c->dim, 1, "output_norm.weight");
    ADD(GEN_OUTPUT, type, c->dim, c->vocab_size, "output.weight");
#undef ADD
    return n;
}

static int add_metadata(struct tb_gguf_writer *w, const struct tb_synth_shape *sh, int type,
                        uint64_t seed, struct tb_err *err)
{
    const struct tb_llama_config *c = &sh->config;
    char name[96];
    snprintf(name, sizeof name, "tierbench-synth-%s-%s", sh->name, tb_type_name(type));
    int rc;
    if ((rc = tb_gguf_writer_add_str(w, "general.architecture", "llama", err)) ||
        (rc = tb_gguf_writer_add_str(w, "general.name", name, err)) ||
        (rc = tb_gguf_writer_set_alignment(w, 32, err)) ||
        (rc =
             tb_gguf_writer_add_u32(w, "general.file_type", (uint32_t)ggml_file_type(type), err)) ||
        (rc = tb_gguf_writer_add_u64(w, "tierbench.synth.seed", seed, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "llama.context_length", (uint32_t)c->ctx_len, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)c->dim, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "llama.block_count", (uint32_t)c->n_layers, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)c->ffn_dim, err)) ||
        (rc =
             tb_gguf_writer_add_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads,
                                     err)) ||
        (rc = tb_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", c->rms_eps,
                                     err)) ||
        (rc = tb_gguf_writer_add_f32(w, "llama.rope.freq_base", c->rope_theta, err)) ||
        (rc = tb_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", err)))
        return rc;

    /* made-up vocabulary laid out like llama 2's: <unk> <s> </s>, the 256
     * byte tokens <0x00>..<0xFF> (llama.cpp's SPM tokenizer looks up <0x0A>),
     * then tok_259 ... */
    const size_t V = (size_t)c->vocab_size;
    char **tokens = calloc(V, sizeof *tokens);
    char *text = malloc(V * 16);
    float *scores = malloc(V * sizeof *scores);
    int32_t *types = malloc(V * sizeof *types);
    if (!tokens || !text || !scores || !types) {
        rc = tb_err_set(err, TB_ENOMEM, "synth: out of memory for a %zu-token vocabulary", V);
        goto done;
    }
    for (size_t i = 0; i < V; i++) {
        tokens[i] = text + i * 16;
        static const char *const special[3] = {"<unk>", "<s>", "</s>"};
        const int id = (int)i, byte = id >= 3 && id < 259;
        if (id < 3)
            snprintf(tokens[i], 16, "%s", special[i]);
        else if (byte)
            snprintf(tokens[i], 16, "<0x%02X>", (unsigned)(id - 3));
        else
            snprintf(tokens[i], 16, "tok_%d", id);
        scores[i] = id < 259 ? 0.0f : -(float)(id - 259);
        /* llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte */
        types[i] = id == 0 ? 2 : id < 3 ? 3 : byte ? 6 : 1;
    }
    if ((rc = tb_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, V,
                                         err)) ||
        (rc =
             tb_gguf_writer_add_arr(w, "tokenizer.ggml.scores", TB_GGUF_FLOAT32, scores, V, err)) ||
        (rc = tb_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", TB_GGUF_INT32, types, V,
                                     err)) ||
        (rc = tb_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2, err)) ||
        (rc = tb_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0, err)))
        goto done;
done:
    free(tokens);
    free(text);
    free(scores);
    free(types);
    return rc;
}

/* Rows are independent (one random stream each), so threads split every
 * tensor's rows and the bytes do not depend on the thread count. */
#define GEN_MAX_THREADS 16
struct gen_job {
    const struct gen_tensor *ts;
    int n;
    uint64_t seed;
    char *data;
    int64_t max_ne0;
    int k, n_jobs;
    float *scratch; /* 2 * max_ne0 floats, this job's own */
};

static void *gen_worker(void *arg)
{
    const struct gen_job *j = arg;
    const uint64_t embd_id = 0; /* token_embd is tensor 0 */
    for (int i = 0; i < j->n; i++) {
        const struct gen_tensor *t = &j->ts[i];
        const size_t rs = tb_row_size(t->type, t->ne0);
        const int64_t r0 = t->ne1 * j->k / j->n_jobs, r1 = t->ne1 * (j->k + 1) / j->n_jobs;
        for (int64_t r = r0; r < r1; r++) {
            gen_row(t, j->seed, (uint64_t)i, embd_id, r, j->scratch, j->scratch + j->max_ne0);
            tb_quantize_row(t->type, j->scratch, j->data + t->offset + (size_t)r * rs, t->ne0);
        }
    }
    return NULL;
}

int tb_synth_check(const char *shape, int weight_type, struct tb_err *err)
{
    const struct tb_synth_shape *sh = tb_synth_find(shape);
    if (!sh)
        return tb_err_set(err, TB_EINVAL, "synth: unknown shape '%s'", shape);
    if (ggml_file_type(weight_type) < 0) {
        char names[TB_WTYPE_NAMES_MAX];
        return tb_err_set(err, TB_EINVAL, "synth: weight type %s is not one of %s",
                          tb_type_name(weight_type), tb_wtype_names(names, sizeof names, ", "));
    }
    const int64_t bs = tb_type_traits(weight_type)->block_size;
    /* rows of dim: every weight but ffn_down (rows of ffn_dim); the first
     * tensor in the file's order that cannot be whole blocks is named */
    const struct tb_llama_config *c = &sh->config;
    const int64_t ne0 = c->dim % bs ? c->dim : c->ffn_dim;
    if (ne0 % bs != 0)
        return tb_err_set(err, TB_EINVAL,
                          "synth: shape %s cannot be %s: tensor %s has rows of %lld, not a "
                          "multiple of the %s block of %lld",
                          shape, tb_type_name(weight_type),
                          c->dim % bs ? "token_embd.weight" : "blk.0.ffn_down.weight",
                          (long long)ne0, tb_type_name(weight_type), (long long)bs);
    return TB_OK;
}

int tb_synth_write(const char *shape, int weight_type, uint64_t seed, const char *path,
                   struct tb_err *err)
{
    int rc = tb_synth_check(shape, weight_type, err);
    if (rc)
        return rc;
    const struct tb_synth_shape *sh = tb_synth_find(shape);
    const struct tb_llama_config *c = &sh->config;
    const int n = list_tensors(c, weight_type, NULL);
    struct gen_tensor *ts = calloc((size_t)n, sizeof *ts);
    if (!ts)
        return tb_err_set(err, TB_ENOMEM, "synth: out of memory");
    list_tensors(c, weight_type, ts);
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        ts[i].offset = (size_t)total;
        ts[i].size = tb_row_size(ts[i].type, ts[i].ne0) * (size_t)ts[i].ne1;
        total += ts[i].size;
    }
    /* The GGUF writer references tensor data until it writes, so the whole
     * model is held in memory: refuse up front what cannot fit. */
    const double phys = (double)tb_phys_mem_bytes();
    if (phys > 0.0 && (double)total > 0.8 * phys) {
        free(ts);
        return tb_err_set(err, TB_EBUDGET,
                          "synth: %s %s needs %.1f GB of weights in memory, "
                          "this machine has %.1f GB",
                          shape, tb_type_name(weight_type), (double)total / 1e9, phys / 1e9);
    }
    char *data = malloc((size_t)total);
    const int64_t max_ne0 = c->ffn_dim > c->dim ? c->ffn_dim : c->dim;
    const int cpus = tb_cpu_count();
    const int n_jobs = cpus > GEN_MAX_THREADS ? GEN_MAX_THREADS : cpus;
    struct gen_job jobs[GEN_MAX_THREADS];
    struct tb_thread *tids[GEN_MAX_THREADS] = {0};
    float *scratch = malloc((size_t)n_jobs * 2 * (size_t)max_ne0 * sizeof *scratch);
    struct tb_gguf_writer *w = NULL;
    rc = TB_OK;
    if (!data || !scratch) {
        rc = tb_err_set(err, TB_ENOMEM, "synth: cannot allocate %.1f MB for %s %s",
                        (double)total / 1e6, shape, tb_type_name(weight_type));
        goto done;
    }
    if ((rc = tb_gguf_writer_create(&w, err)) || (rc = add_metadata(w, sh, weight_type, seed, err)))
        goto done;
    for (int k = 0; k < n_jobs; k++)
        jobs[k] = (struct gen_job){ts,      n, seed,   data,
                                   max_ne0, k, n_jobs, scratch + (size_t)k * 2 * (size_t)max_ne0};
    /* job 0 runs here, and so does the share of a thread that cannot start */
    for (int k = 1; k < n_jobs; k++)
        (void)tb_thread_start(gen_worker, &jobs[k], &tids[k], NULL);
    gen_worker(&jobs[0]);
    for (int k = 1; k < n_jobs; k++) {
        if (tids[k])
            tb_thread_join(tids[k]);
        else
            gen_worker(&jobs[k]);
    }
    for (int i = 0; i < n; i++) {
        const struct gen_tensor *t = &ts[i];
        const int64_t ne[2] = {t->ne0, t->ne1};
        if ((rc = tb_gguf_writer_add_tensor(w, t->name, t->type, t->kind == GEN_NORM ? 1 : 2, ne,
                                            data + t->offset, err)))
            goto done;
    }
    rc = tb_gguf_writer_write(w, path, err);
done:
    tb_gguf_writer_free(w);
    free(scratch);
    free(data);
    free(ts);
    return rc;
}

/* Writes the GGUF seeds of tests/fuzz/corpus/gguf/ with the library's own
 * writer: `fuzz_make_seed DIR` (built in the TB_FUZZ build only), named
 * *.seed since .gitignore drops *.gguf. Small on purpose: every KV type,
 * string arrays, a few tensor types. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/tb_types.h"
#include "workloads/tb_gguf.h"

static int emit(struct tb_gguf_writer *w, const char *dir, const char *name, struct tb_err *e)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = tb_gguf_writer_write(w, path, e);
    tb_gguf_writer_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seed DIR\n");
        return 2;
    }
    struct tb_err e = {0};
    struct tb_gguf_writer *w = NULL;
    static float f32[8] = {1, -2, 3.5f, 0, 1e-3f, 7, -8, 9};
    static unsigned char q8[34]; /* one q8_0 block: f16 scale + 32 int8 */
    static unsigned short f16[16];
    const int64_t ne_a[2] = {4, 2}, ne_q[1] = {32}, ne_h[2] = {8, 2};
    const uint32_t arr_u32[3] = {1, 2, 3};
    const char *const toks[4] = {"<s>", "</s>", "hello", ""};
    int8_t i8 = -5;
    double f64 = 2.5;

    /* 1: llama-like metadata + f32 and q8_0 tensors */
    int rc = tb_gguf_writer_create(&w, &e);
    rc = rc ? rc : tb_gguf_writer_add_str(w, "general.architecture", "llama", &e);
    rc = rc ? rc : tb_gguf_writer_add_u32(w, "llama.context_length", 64, &e);
    rc = rc ? rc : tb_gguf_writer_add_f32(w, "llama.rope.freq_base", 10000.0f, &e);
    rc = rc ? rc : tb_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 4, &e);
    rc = rc ? rc : tb_gguf_writer_add_arr(w, "ids", TB_GGUF_UINT32, arr_u32, 3, &e);
    rc = rc ? rc : tb_gguf_writer_add_tensor(w, "a.weight", TB_TYPE_F32, 2, ne_a, f32, &e);
    rc = rc ? rc : tb_gguf_writer_add_tensor(w, "q.weight", TB_TYPE_Q8_0, 1, ne_q, q8, &e);
    rc = rc ? rc : emit(w, argv[1], "model.seed", &e);
    /* 2: every scalar type, no tensors */
    rc = rc ? rc : tb_gguf_writer_create(&w, &e);
    rc = rc ? rc : tb_gguf_writer_add_i32(w, "i32", -7, &e);
    rc = rc ? rc : tb_gguf_writer_add_u64(w, "u64", 1ull << 40, &e);
    rc = rc ? rc : tb_gguf_writer_add_bool(w, "flag", true, &e);
    rc = rc ? rc : tb_gguf_writer_add_scalar(w, "i8", TB_GGUF_INT8, &i8, &e);
    rc = rc ? rc : tb_gguf_writer_add_scalar(w, "f64", TB_GGUF_FLOAT64, &f64, &e);
    rc = rc ? rc : tb_gguf_writer_add_str(w, "empty", "", &e);
    rc = rc ? rc : emit(w, argv[1], "kv-only.seed", &e);
    /* 3: alignment 64, f16 tensor */
    rc = rc ? rc : tb_gguf_writer_create(&w, &e);
    rc = rc ? rc : tb_gguf_writer_set_alignment(w, 64, &e);
    rc = rc ? rc : tb_gguf_writer_add_tensor(w, "h.weight", TB_TYPE_F16, 2, ne_h, f16, &e);
    rc = rc ? rc : tb_gguf_writer_add_tensor(w, "b.bias", TB_TYPE_F32, 1, ne_a, f32, &e);
    rc = rc ? rc : emit(w, argv[1], "aligned64.seed", &e);
    if (rc) {
        fprintf(stderr, "fuzz_make_seed: %s\n", e.msg);
        return 1;
    }
    return 0;
}

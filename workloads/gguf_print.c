/* gguf-dump style listing of a parsed GGUF file. */
#include "workloads/gguf_internal.h"

#include <inttypes.h>
#include <string.h>

#define PRINT_STR_MAX 60
#define PRINT_ARR_MAX 8

/* Quoted, escaped, truncated with "..." when long. */
static void print_str(FILE *f, const char *p, uint64_t n)
{
    fputc('"', f);
    for (uint64_t i = 0; i < n && i < PRINT_STR_MAX; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
    if (n > PRINT_STR_MAX)
        fputs("...", f);
}

static void print_scalar(FILE *f, enum tb_gguf_type t, const void *p)
{
    union kv_scalar v;
    memcpy(v.raw, p, tb_gguf_scalar_size[t]);
    switch (t) {
    case TB_GGUF_UINT8: fprintf(f, "%u", v.u8); break;
    case TB_GGUF_INT8: fprintf(f, "%d", v.i8); break;
    case TB_GGUF_UINT16: fprintf(f, "%u", v.u16); break;
    case TB_GGUF_INT16: fprintf(f, "%d", v.i16); break;
    case TB_GGUF_UINT32: fprintf(f, "%" PRIu32, v.u32); break;
    case TB_GGUF_INT32: fprintf(f, "%" PRId32, v.i32); break;
    case TB_GGUF_FLOAT32: fprintf(f, "%g", v.f32); break;
    case TB_GGUF_BOOL: fputs(v.u8 ? "true" : "false", f); break;
    case TB_GGUF_UINT64: fprintf(f, "%" PRIu64, v.u64); break;
    case TB_GGUF_INT64: fprintf(f, "%" PRId64, v.i64); break;
    case TB_GGUF_FLOAT64: fprintf(f, "%g", v.f64); break;
    default: fputs("?", f); break;
    }
}

void tb_gguf_print_info(const struct tb_gguf *g, FILE *f)
{
    fprintf(f, "GGUF file: %s\n", g->path);
    fprintf(f, "  version:     %" PRIu32 "\n", g->version);
    fprintf(f, "  alignment:   %" PRIu32 "\n", g->alignment);
    fprintf(f, "  n_kv:        %" PRId64 "\n", g->n_kv);
    fprintf(f, "  n_tensors:   %" PRId64 "\n", g->n_tensors);
    fprintf(f, "  data offset: %" PRIu64 "\n", g->data_offset);
    fprintf(f, "  file size:   %" PRIu64 "\n", g->size);
    fprintf(f, "metadata:\n");
    for (int64_t i = 0; i < g->n_kv; i++) {
        const struct gguf_kv *kv = &g->kvs[i];
        fprintf(f, "  %4" PRId64 ": ", i);
        print_str(f, kv->key.ptr, kv->key.len);
        if (kv->type == TB_GGUF_ARRAY) {
            fprintf(f, " array[%s] n=%" PRIu64 " = [", tb_gguf_type_name(kv->arr_type), kv->arr_n);
            for (uint64_t j = 0; j < kv->arr_n && j < PRINT_ARR_MAX; j++) {
                if (j)
                    fputs(", ", f);
                if (kv->arr_type == TB_GGUF_STRING) {
                    struct tb_gguf_str s = tb_gguf_kv_arr_str(g, i, j);
                    print_str(f, s.ptr, s.len);
                } else {
                    print_scalar(f, kv->arr_type,
                                 (const uint8_t *)kv->arr_data +
                                     j * tb_gguf_scalar_size[kv->arr_type]);
                }
            }
            fputs(kv->arr_n > PRINT_ARR_MAX ? ", ...]\n" : "]\n", f);
        } else if (kv->type == TB_GGUF_STRING) {
            fputs(" string = ", f);
            print_str(f, kv->str.ptr, kv->str.len);
            fputc('\n', f);
        } else {
            fprintf(f, " %s = ", tb_gguf_type_name(kv->type));
            print_scalar(f, kv->type, kv->val.raw);
            fputc('\n', f);
        }
    }
    fprintf(f, "tensors:\n  %5s  %-40s %-6s %-28s %12s %12s\n", "idx", "name", "type", "shape",
            "bytes", "offset");
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct tb_gguf_tensor_info *t = &g->tensors[i];
        char shape[96];
        int n = snprintf(shape, sizeof shape, "[");
        for (uint32_t d = 0; d < t->n_dims && n > 0 && (size_t)n < sizeof shape; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRId64, d ? ", " : "",
                          t->ne[d]);
        if (n > 0 && (size_t)n < sizeof shape)
            snprintf(shape + n, sizeof shape - (size_t)n, "]");
        fprintf(f, "  %5" PRId64 "  %-40.*s %-6s %-28s %12" PRIu64 " %12" PRIu64 "\n", i,
                (int)t->name.len, t->name.ptr, tb_type_name(t->type), shape, t->size, t->offset);
    }
}

/* The fuzz_model inputs (input layout: tests/fuzz/fuzz_model.c) and their one
 * source of truth: the seeds under tests/fuzz/corpus/model/ (valid tiny
 * models, finite logits, NAME.seed) and the regression inputs under
 * tests/fuzz/regress/model/ (NAME.bad must be rejected, NAME.ok accepted;
 * tests/test_fuzz_regress.c replays both).
 *   test_model_seeds              builds every input in memory and checks
 *                                 that the committed file is byte-identical
 *                                 and that the two directories hold no file
 *                                 the tables do not produce (the CTest run)
 *   test_model_seeds --write DIR  (re)writes them under DIR, the repository
 *                                 root: build/test_model_seeds --write .
 * An entry is inp()'s fields as "key=value ..." over its defaults (the
 * header bytes 0-15), then an optional run of 8-byte pokes and an optional
 * raw tail. All multi-byte values are packed little-endian byte by byte. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

#define MAX_BYTES 1024
#define CORPUS_DIR "tests/fuzz/corpus/model"
#define REGRESS_DIR "tests/fuzz/regress/model"

/* n pokes (tensor, offset off + step * i, 4 value bytes); value: the float v
 * packed as f32 when is_f32, else the raw bytes */
struct poke_run {
    int n;
    int tensor;
    int off, step;
    int is_f32;
    double v;
    uint8_t raw[4];
};

struct entry {
    const char *name;
    const char *args; /* "key=value ...": the fields of struct inp */
    struct poke_run pokes;
    int tail; /* appends the bytes 0, 1, ..., tail - 1 */
};

/* an entry: inp(args); with pokes: a poke_run (designated fields); with a
 * tail: + bytes(range(tail)) */
/* clang-format off */
#define INP(name, args) {name, args, {0}, 0}
#define INP_POKES(name, args, ...) {name, args, {__VA_ARGS__}, 0}
#define INP_TAIL(name, args, tail) {name, args, {0}, tail}
/* clang-format on */

static const struct entry seeds[] = {
    INP("f32-1layer", ""),
    INP("f16-2layers-gqa", "wtype=F16 layers2=1 heads=2 kvdiv=1 ffn=1 isa=1 mode=1"),
    INP("q8_0-qx16", "wtype=Q8 dim64=1 heads=3 kvdiv=2 ffn=3 vocab=3 ntok=4 mode=1"),
    INP("q4_0-decode", "wtype=Q4 dim64=1 heads=1 ffn=1 vocab=1 ntok=1 isa=2 seed=7"),
    INP("q8_0-odd-vocab-tied", "wtype=Q8 vocab=2 odd_vocab=1 tied=1 kv16=1 isa=0"),
    INP("q4_0-embed", "wtype=Q4 layers2=1 heads=2 ffn=2 mode=2 ntok=4 isa=1 align=6"),
    INP("f16-scalar-ctx", "wtype=F16 ctx=7 isa=0 ntok=2 kv16=1"),
};

/* tensor order: 0 token_embd, 1 output_norm, 2 output (untied),
 * 3 blk.0.attn_norm, 4 attn_q ... */
static const struct entry regress[] = {
    INP_POKES("nan-norm-weight.bad", "", .n = 1, .tensor = 3, .off = 8, .is_f32 = 1, .v = NAN),
    INP_POKES("inf-f16-weight.bad", "wtype=F16", .n = 1, .tensor = 4, .off = 6,
              .raw = {0x00, 0x7c, 0x00, 0x00}),
    INP_POKES("nan-q8_0-scale.bad", "wtype=Q8", .n = 1, .tensor = 4, .off = 34 * 5,
              .raw = {0x00, 0x7e, 0x00, 0x00}),
    INP_POKES("huge-norm-weight.bad", "wtype=Q8 dim64=1 heads=3 vocab=3 ntok=4 mode=1", .n = 8,
              .tensor = 3, .step = 4, .is_f32 = 1, .v = 3e38),
    INP_POKES("huge-norm-avx512-qx16.bad", "wtype=Q8 dim64=1 heads=3 vocab=3 ffn=3 ntok=4", .n = 64,
              .tensor = 3, .step = 4, .is_f32 = 1, .v = 3e38),
    INP_POKES("huge-norm-avx2.bad", "wtype=Q4 isa=1 ntok=4 mode=1", .n = 32, .tensor = 3, .step = 4,
              .is_f32 = 1, .v = -3e38),
    INP_POKES("huge-norm-scalar.bad", "wtype=Q8 isa=0 ntok=2", .n = 32, .tensor = 3, .step = 4,
              .is_f32 = 1, .v = 3e38),
    INP("overflow-f32-weights.bad", "wtype=F32 scale=127 ntok=4 mode=1"),
    INP("overflow-q8_0-scales.bad", "wtype=Q8 scale=100"),
    INP("tiny-weights.ok", "wtype=Q8 scale=0 ntok=4 mode=1"),
    INP("tiny-f32-weights.ok", "wtype=F32 scale=0 ntok=2"),
    /* general.alignment = 1 (and 2): the data lands where the header ends */
    INP("alignment-1-aligned-f32.ok", "align=0"),
    INP("alignment-1-misaligned-f32.bad", "align=0 wtype=F32 dim64=1 layers2=1"),
    INP("alignment-1-q8_0.ok", "align=0 wtype=Q8"),
    INP("alignment-2-f32.ok", "align=1"),
    INP_TAIL("raw-bytes.bad", "raw=1 wtype=F32", 256),
};

#define N_SEEDS (sizeof seeds / sizeof seeds[0])
#define N_REGRESS (sizeof regress / sizeof regress[0])

struct inp {
    long dim64, layers2, heads, kvdiv, ffn, vocab, odd_vocab, ctx, wtype, align, tied, kv16, raw,
        scale, ntok, isa, mode, eps, seed;
};

/* the keys of an entry's args */
/* clang-format off */
#define F(x) {#x, offsetof(struct inp, x)}
static const struct {
    const char *key;
    size_t off;
} fields[] = {
    F(dim64), F(layers2), F(heads), F(kvdiv), F(ffn), F(vocab), F(odd_vocab), F(ctx),
    F(wtype), F(align), F(tied), F(kv16), F(raw), F(scale), F(ntok), F(isa), F(mode), F(eps),
    F(seed),
};
#undef F
/* clang-format on */

/* "key=value ..." over the defaults into *in; value: an integer or one of
 * the weight types F32, F16, Q8, Q4. Returns 0, or -1 on a bad spec. */
static int parse_args(const char *args, struct inp *in)
{
    *in = (struct inp){.align = 5, .scale = 61, .ntok = 3, .isa = 2, .eps = 9, .seed = 1};
    static const char *const wtypes[] = {"F32", "F16", "Q8", "Q4"};
    const char *p = args;
    while (*p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const char *eq = strchr(p, '=');
        if (!eq)
            return -1;
        size_t klen = (size_t)(eq - p), i = 0;
        while (i < sizeof fields / sizeof fields[0] &&
               (strlen(fields[i].key) != klen || strncmp(fields[i].key, p, klen)))
            i++;
        if (i == sizeof fields / sizeof fields[0])
            return -1;
        const char *v = eq + 1;
        size_t vlen = strcspn(v, " ");
        long val = -1;
        for (int w = 0; w < 4; w++)
            if (strlen(wtypes[w]) == vlen && !strncmp(wtypes[w], v, vlen))
                val = w;
        if (val < 0) {
            char *end;
            errno = 0;
            val = strtol(v, &end, 10);
            if (errno || end != v + vlen || vlen == 0 || val < 0 || val > 0xffffffffL)
                return -1;
        }
        *(long *)((char *)in + fields[i].off) = val;
        p = v + vlen;
    }
    return 0;
}

static void put_le(uint8_t *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* The f32 bytes of x, as Python's struct.pack('<f', x): x rounded to float. */
static void put_f32(uint8_t *b, double x)
{
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_le(b, u, 4);
}

/* Builds the entry's input into b (MAX_BYTES bytes). Returns its size, or
 * 0 on a bad entry (a spec that does not parse, a field past its byte, too
 * long). */
static size_t build(const struct entry *e, uint8_t *b)
{
    struct inp in;
    if (parse_args(e->args, &in))
        return 0;
    static const uint8_t toks[4] = {1, 2, 3, 4};
    long hdr[8] = {
        in.dim64 | in.layers2 << 1 | in.heads << 2,
        in.kvdiv | in.ffn << 2,
        in.vocab | in.odd_vocab << 2 | in.ctx << 3,
        in.wtype | in.align << 2 | in.tied << 5 | in.kv16 << 6,
        in.raw,
        in.scale,
        (in.ntok - 1) | in.isa << 2 | in.mode << 4,
        in.eps,
    };
    for (int i = 0; i < 8; i++) {
        if (hdr[i] < 0 || hdr[i] > 0xff) /* Python: bytearray value out of range */
            return 0;
        b[i] = (uint8_t)hdr[i];
    }
    put_le(b + 8, (uint64_t)in.seed, 4);
    memcpy(b + 12, toks, 4);
    size_t n = 16;
    const struct poke_run *r = &e->pokes;
    if (n + 8 * (size_t)r->n + (size_t)e->tail > MAX_BYTES)
        return 0;
    for (int i = 0; i < r->n; i++) {
        long off = r->off + (long)r->step * i;
        if (r->tensor < 0 || r->tensor > 0xff || off < 0 || off > 0xffff)
            return 0;
        b[n] = (uint8_t)r->tensor;
        put_le(b + n + 1, (uint64_t)off, 2);
        b[n + 3] = 0;
        if (r->is_f32)
            put_f32(b + n + 4, r->v);
        else
            memcpy(b + n + 4, r->raw, 4);
        n += 8;
    }
    for (int i = 0; i < e->tail; i++)
        b[n++] = (uint8_t)i;
    return n;
}

static void path_of(char *buf, size_t size, const char *root, const char *dir,
                    const struct entry *e, const char *suffix)
{
    snprintf(buf, size, "%s/%s/%s%s", root, dir, e->name, suffix);
}

static int write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(b, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Checks that the file at path holds exactly b[0..n). */
static void check_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "rb");
    CHECKF(f != NULL, "%s: %s (regenerate: build/test_model_seeds --write .)", path,
           strerror(errno));
    if (!f)
        return;
    uint8_t got[MAX_BYTES + 1];
    size_t m = fread(got, 1, sizeof got, f);
    fclose(f);
    size_t first = 0;
    while (first < n && first < m && got[first] == b[first])
        first++;
    CHECKF(m == n && first == n,
           "%s: %zu bytes, the table makes %zu; first difference at byte %zu "
           "(regenerate: build/test_model_seeds --write .)",
           path, m, n, first);
}

/* Checks that every file in root/dir is one the table produces. */
static void check_no_extra(const char *root, const char *dir, const struct entry *t, size_t nt,
                           const char *suffix)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    DIR *d = opendir(path);
    CHECKF(d != NULL, "%s: %s", path, strerror(errno));
    if (!d)
        return;
    struct dirent *de;
    int seen = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        seen++;
        size_t i = 0;
        char want[512];
        for (; i < nt; i++) {
            snprintf(want, sizeof want, "%s%s", t[i].name, suffix);
            if (!strcmp(want, de->d_name))
                break;
        }
        CHECKF(i < nt, "%s/%s: not produced by the tables in tests/test_model_seeds.c", path,
               de->d_name);
    }
    closedir(d);
    CHECKF((size_t)seen >= nt, "%s: %d files, the table has %zu", path, seen, nt);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The tables themselves: every entry builds, names are unique, regression
 * inputs say what they expect. */
static void check_tables(void)
{
    uint8_t b[MAX_BYTES];
    for (size_t i = 0; i < N_SEEDS; i++)
        CHECKF(build(&seeds[i], b) >= 16, "seed %s: bad entry", seeds[i].name);
    for (size_t i = 0; i < N_REGRESS; i++) {
        CHECKF(build(&regress[i], b) >= 16, "regress %s: bad entry", regress[i].name);
        CHECKF(ends_with(regress[i].name, ".bad") || ends_with(regress[i].name, ".ok"),
               "regress %s: not .bad or .ok", regress[i].name);
    }
    for (size_t i = 0; i < N_SEEDS; i++)
        for (size_t j = i + 1; j < N_SEEDS; j++)
            CHECKF(strcmp(seeds[i].name, seeds[j].name), "seed %s twice", seeds[i].name);
    for (size_t i = 0; i < N_REGRESS; i++)
        for (size_t j = i + 1; j < N_REGRESS; j++)
            CHECKF(strcmp(regress[i].name, regress[j].name), "regress %s twice", regress[i].name);
    /* spot checks against inp()'s packing */
    CHECK(build(&seeds[0], b) == 16 && b[3] == 5 << 2 && b[5] == 61 && b[6] == (2 | 2 << 2) &&
          b[7] == 9 && b[8] == 1 && b[9] == 0 && b[12] == 1 && b[15] == 4);
    CHECK(build(&regress[0], b) == 24 && b[16] == 3 && b[17] == 8 && b[18] == 0 && b[19] == 0 &&
          b[20] == 0 && b[21] == 0 && b[22] == 0xc0 && b[23] == 0x7f);
    struct inp in;
    CHECK(parse_args("wtype=Q5", &in) == -1 && parse_args("nosuch=1", &in) == -1 &&
          parse_args("heads", &in) == -1 && parse_args("heads=x", &in) == -1);
}

/* Writes (write) or checks the files of one table under root. */
static int each(const char *root, int write, const char *dir, const struct entry *t, size_t nt,
                const char *suffix)
{
    int failed = 0;
    for (size_t i = 0; i < nt; i++) {
        uint8_t b[MAX_BYTES];
        char path[1024];
        size_t n = build(&t[i], b);
        path_of(path, sizeof path, root, dir, &t[i], suffix);
        if (!n) {
            fprintf(stderr, "%s: bad table entry\n", t[i].name);
            failed = 1;
        } else if (write) {
            if (write_file(path, b, n)) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                failed = 1;
            } else {
                printf("wrote %s (%zu bytes)\n", path, n);
            }
        } else {
            check_file(path, b, n);
        }
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write")) {
        int failed = each(argv[2], 1, CORPUS_DIR, seeds, N_SEEDS, ".seed");
        failed |= each(argv[2], 1, REGRESS_DIR, regress, N_REGRESS, "");
        return failed ? 1 : 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write REPO_ROOT]\n", argv[0]);
        return 2;
    }
    check_tables();
    each(TB_SOURCE_DIR, 0, CORPUS_DIR, seeds, N_SEEDS, ".seed");
    each(TB_SOURCE_DIR, 0, REGRESS_DIR, regress, N_REGRESS, "");
    check_no_extra(TB_SOURCE_DIR, CORPUS_DIR, seeds, N_SEEDS, ".seed");
    check_no_extra(TB_SOURCE_DIR, REGRESS_DIR, regress, N_REGRESS, "");
    return tb_test_result("test_model_seeds");
}

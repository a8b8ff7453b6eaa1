/* The run's shared reference-logits file (harness/refcache.c): a stored
 * reference loads back bit for bit; another key (tokens, positions, a
 * rewritten model) finds nothing; a truncated, bit-flipped or garbage file
 * is ignored with the reason, never trusted. */
#include "tb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_refcache.h"

static char g_dir[512], g_model[600], g_refs[600], g_file[1300];

enum { N_POS = 4, VOCAB = 300 };

static int load(const struct tb_refcache_key *k, float **l, int32_t *vocab, char *why, size_t n)
{
    struct tb_err err = {0};
    const int r = tb_refcache_load(g_refs, k, l, vocab, why, n, &err);
    CHECKF(r >= 0, "load: %s", err.msg);
    return r;
}

/* Overwrites n bytes at off (or truncates to off when p is NULL). */
static void damage(long off, const void *p, size_t n)
{
    if (!p) {
        CHECK(truncate(g_file, off) == 0);
        return;
    }
    FILE *f = fopen(g_file, "r+b");
    CHECK(f && fseek(f, off, SEEK_SET) == 0 && fwrite(p, 1, n, f) == n);
    if (f)
        fclose(f);
}

static void store(const struct tb_refcache_key *k, const float *logits)
{
    struct tb_err err = {0};
    CHECKF(tb_refcache_store(g_refs, k, logits, VOCAB, &err) == TB_OK, "store: %s", err.msg);
}

int main(void)
{
    tb_test_path(g_dir, sizeof g_dir, "refcache", "");
    CHECK(mkdir(g_dir, 0755) == 0);
    snprintf(g_model, sizeof g_model, "%s/model.gguf", g_dir);
    snprintf(g_refs, sizeof g_refs, "%s/reference", g_dir); /* made by the first store */
    FILE *f = fopen(g_model, "w");
    CHECK(f && fputs("not really a model", f) >= 0);
    if (f)
        fclose(f);

    int32_t tokens[N_POS] = {1, 7, 42, 299}, other[N_POS] = {1, 7, 42, 298};
    float *logits = malloc(sizeof *logits * N_POS * VOCAB);
    CHECK(logits != NULL);
    if (!logits)
        return tb_test_result("test_refcache");
    for (int i = 0; i < N_POS * VOCAB; i++) /* odd values, a NaN and a -0: bits must survive */
        logits[i] = sinf((float)i * 0.37f) * 1e3f / (float)(i + 1);
    logits[5] = NAN;
    logits[6] = -0.0f;

    struct tb_refcache_key k, k_tok, k_pos;
    struct tb_err err = {0};
    CHECKF(tb_refcache_key_init(&k, "cpu-ref", g_model, tokens, N_POS, &err) == TB_OK, "%s",
           err.msg);
    CHECK(tb_refcache_key_init(&k_tok, "cpu-ref", g_model, other, N_POS, &err) == TB_OK);
    CHECK(tb_refcache_key_init(&k_pos, "cpu-ref", g_model, tokens, N_POS - 1, &err) == TB_OK);
    CHECK(tb_refcache_key_init(&k, "cpu-ref", "/nonexistent/m.gguf", tokens, N_POS, &err) ==
          TB_EIO);
    CHECK(tb_refcache_key_init(&k, "cpu-ref", g_model, tokens, N_POS, &err) == TB_OK);
    CHECK(tb_refcache_path(g_refs, &k, g_file, sizeof g_file) == TB_OK);

    float *got = NULL;
    int32_t vocab = 0;
    char why[1600];
    CHECK(load(&k, &got, &vocab, why, sizeof why) == 0 && got == NULL && why[0] == '\0');
    store(&k, logits);
    CHECK(load(&k, &got, &vocab, why, sizeof why) == 1);
    CHECK(vocab == VOCAB && got && !memcmp(got, logits, sizeof *logits * N_POS * VOCAB));
    free(got);
    got = NULL;
    /* other tokens or positions: another file name, nothing there */
    CHECK(load(&k_tok, &got, &vocab, why, sizeof why) == 0 && !got && why[0] == '\0');
    CHECK(load(&k_pos, &got, &vocab, why, sizeof why) == 0 && !got && why[0] == '\0');

    struct stat st;
    CHECK(stat(g_file, &st) == 0);
    const long size = (long)st.st_size;
    /* truncated */
    damage(size - 1, NULL, 0);
    CHECK(load(&k, &got, &vocab, why, sizeof why) == 0 && !got);
    CHECKF(strstr(why, "size does not match") != NULL, "why: %s", why);
    /* a flipped bit in the logits, size intact */
    store(&k, logits);
    const unsigned char flip = 0x5a;
    damage(size - 7, &flip, 1);
    CHECK(load(&k, &got, &vocab, why, sizeof why) == 0 && !got);
    CHECKF(strstr(why, "checksum") != NULL, "why: %s", why);
    /* garbage header */
    store(&k, logits);
    damage(0, "garbage!", 8);
    CHECK(load(&k, &got, &vocab, why, sizeof why) == 0 && !got);
    CHECKF(strstr(why, "bad header") != NULL, "why: %s", why);
    /* an empty file */
    damage(0, NULL, 0);
    CHECK(load(&k, &got, &vocab, why, sizeof why) == 0 && !got && why[0] != '\0');
    /* rewritten whole again: trusted again */
    store(&k, logits);
    CHECK(load(&k, &got, &vocab, why, sizeof why) == 1 && got &&
          !memcmp(got, logits, sizeof *logits * N_POS * VOCAB));
    free(got);
    got = NULL;
    /* the model rewritten (new mtime and size): the old reference is not its */
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    f = fopen(g_model, "a");
    CHECK(f && fputs("!", f) >= 0);
    if (f)
        fclose(f);
    struct tb_refcache_key k2;
    CHECK(tb_refcache_key_init(&k2, "cpu-ref", g_model, tokens, N_POS, &err) == TB_OK);
    CHECK(k2.hash != k.hash && strcmp(k2.text, k.text));
    CHECK(load(&k2, &got, &vocab, why, sizeof why) == 0 && !got);
    /* the same file name with another key inside (a hash collision) is refused */
    char p2[1300], cmd[2800];
    CHECK(tb_refcache_path(g_refs, &k2, p2, sizeof p2) == TB_OK);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", g_file, p2);
    CHECK(system(cmd) == 0);
    CHECK(load(&k2, &got, &vocab, why, sizeof why) == 0 && !got);
    CHECKF(strstr(why, "another reference") != NULL, "why: %s", why);
    /* a store into a directory that cannot be made: a clear error */
    CHECK(tb_refcache_store("/nonexistent/dir/reference", &k, logits, VOCAB, &err) == TB_EIO);
    CHECK(strstr(err.msg, "/nonexistent/dir/reference") != NULL);
    free(logits);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (tb_test_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return tb_test_result("test_refcache");
}

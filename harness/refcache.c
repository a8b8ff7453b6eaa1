#include "harness/tb_refcache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/tb_env.h"
#include "harness/tb_read.h"
#include "harness/tb_results.h"
#include "kernels/tb_util.h"

/* On disk (native byte order: the file lives and dies with one run on one
 * machine): header, key text, tokens[n_pos], logits[n_pos][vocab]. */
#define REF_MAGIC "TBREFLG\n"
#define REF_VERSION 1u
#define REF_MAX_VOCAB (1 << 24)

struct ref_hdr {
    char magic[8];
    uint32_t version;
    uint32_t key_len;
    int32_t n_pos;
    int32_t vocab;
    uint64_t checksum; /* FNV-1a 64 of everything after the header */
};

int tb_refcache_key_init(struct tb_refcache_key *k, const char *backend, const char *model_path,
                         const int32_t *tokens, int32_t n_pos, struct tb_err *err)
{
    struct stat st;
    memset(k, 0, sizeof *k);
    if (n_pos <= 0 || !tokens)
        return tb_err_set(err, TB_EINVAL, "reference cache: need at least one position");
    if (stat(model_path, &st) != 0)
        return tb_err_set(err, TB_EIO, "reference cache: %s: %s", model_path, strerror(errno));
    const int len = snprintf(k->text, sizeof k->text,
                             "backend=%s model=%s dev=%llu ino=%llu size=%lld mtime=%lld.%09ld "
                             "positions=%d",
                             backend, model_path, (unsigned long long)st.st_dev,
                             (unsigned long long)st.st_ino, (long long)st.st_size,
                             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (int)n_pos);
    if (len < 0 || len >= (int)sizeof k->text)
        return tb_err_set(err, TB_EINVAL, "reference cache: %s: path too long", model_path);
    k->tokens = tokens;
    k->n_pos = n_pos;
    uint64_t h = tb_fnv1a64(k->text, (size_t)len, TB_FNV1A64_INIT);
    k->hash = tb_fnv1a64(tokens, sizeof *tokens * (size_t)n_pos, h);
    return TB_OK;
}

int tb_refcache_path(const char *dir, const struct tb_refcache_key *k, char *out, size_t n)
{
    return tb_path_join(out, n, NULL, "%s/%016" PRIx64 ".f32", dir, k->hash);
}

static int why_set(char *why, size_t n, const char *path, const char *what)
{
    snprintf(why, n, "%s: %s", path, what);
    return 0;
}

int tb_refcache_load(const char *dir, const struct tb_refcache_key *k, float **logits,
                     int32_t *vocab, char *why, size_t why_n, struct tb_err *err)
{
    char path[4096];
    *logits = NULL;
    *vocab = 0;
    if (why_n)
        why[0] = '\0';
    if (tb_refcache_path(dir, k, path, sizeof path))
        return 0;
    struct tb_err oe = {0};
    FILE *f = tb_fopen_read(path, &oe); /* a FIFO: "is a FIFO", never a wait */
    if (!f) {
        if (errno != ENOENT && why_n)
            snprintf(why, why_n, "%s", oe.msg);
        return 0;
    }
    struct ref_hdr h;
    struct stat st;
    const size_t key_len = strlen(k->text);
    const size_t tok_bytes = sizeof *k->tokens * (size_t)k->n_pos;
    int found = 0;
    char *body = NULL;
    if (fstat(fileno(f), &st) != 0 || fread(&h, sizeof h, 1, f) != 1 ||
        memcmp(h.magic, REF_MAGIC, sizeof h.magic) || h.version != REF_VERSION) {
        why_set(why, why_n, path, "not a reference file (short or bad header)");
        goto out;
    }
    if (h.key_len != key_len || h.n_pos != k->n_pos || h.vocab <= 0 || h.vocab > REF_MAX_VOCAB) {
        why_set(why, why_n, path, "made for another reference (key, positions or vocabulary)");
        goto out;
    }
    const size_t logit_bytes = sizeof(float) * (size_t)h.n_pos * (size_t)h.vocab;
    const size_t body_bytes = key_len + tok_bytes + logit_bytes;
    if ((uint64_t)st.st_size != sizeof h + body_bytes) {
        why_set(why, why_n, path, "size does not match its header (truncated or damaged)");
        goto out;
    }
    body = malloc(body_bytes);
    if (!body) {
        found = tb_err_set(err, TB_ENOMEM, "reference cache: out of memory reading %s", path);
        goto out;
    }
    if (fread(body, 1, body_bytes, f) != body_bytes) {
        why_set(why, why_n, path, "short read");
        goto out;
    }
    if (tb_fnv1a64(body, body_bytes, TB_FNV1A64_INIT) != h.checksum) {
        why_set(why, why_n, path, "checksum mismatch (damaged)");
        goto out;
    }
    if (memcmp(body, k->text, key_len) || memcmp(body + key_len, k->tokens, tok_bytes)) {
        why_set(why, why_n, path, "made for another reference (key or tokens differ)");
        goto out;
    }
    float *l = malloc(logit_bytes);
    if (!l) {
        found = tb_err_set(err, TB_ENOMEM, "reference cache: out of memory reading %s", path);
        goto out;
    }
    memcpy(l, body + key_len + tok_bytes, logit_bytes);
    *logits = l;
    *vocab = h.vocab;
    found = 1;
out:
    free(body);
    fclose(f);
    return found;
}

int tb_refcache_store(const char *dir, const struct tb_refcache_key *k, const float *logits,
                      int32_t vocab, struct tb_err *err)
{
    char path[4096], tmp[4096];
    if (vocab <= 0 || vocab > REF_MAX_VOCAB)
        return tb_err_set(err, TB_EINVAL, "reference cache: vocabulary %d out of range", vocab);
    int prc = tb_refcache_path(dir, k, path, sizeof path);
    if (!prc)
        prc = tb_path_join(tmp, sizeof tmp, err, "%s.tmp-XXXXXX", path);
    if (prc)
        return tb_err_set(err, TB_EINVAL, "reference cache: %s: path too long", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tb_err_set(err, TB_EIO, "reference cache: %s: %s", dir, strerror(errno));
    const size_t key_len = strlen(k->text);
    const size_t tok_bytes = sizeof *k->tokens * (size_t)k->n_pos;
    const size_t logit_bytes = sizeof(float) * (size_t)k->n_pos * (size_t)vocab;
    struct ref_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, REF_MAGIC, sizeof h.magic);
    h.version = REF_VERSION;
    h.key_len = (uint32_t)key_len;
    h.n_pos = k->n_pos;
    h.vocab = vocab;
    uint64_t c = tb_fnv1a64(k->text, key_len, TB_FNV1A64_INIT);
    c = tb_fnv1a64(k->tokens, tok_bytes, c);
    h.checksum = tb_fnv1a64(logits, logit_bytes, c);
    /* same directory as the target: rename is atomic within a file system */
    const int fd = mkstemp(tmp);
    if (fd < 0)
        return tb_err_set(err, TB_EIO, "reference cache: %s: %s", tmp, strerror(errno));
    const char *what = NULL;
    int e = 0;
    if (fchmod(fd, 0644) || tb_write_all(fd, &h, sizeof h, tmp, NULL) ||
        tb_write_all(fd, k->text, key_len, tmp, NULL) ||
        tb_write_all(fd, k->tokens, tok_bytes, tmp, NULL) ||
        tb_write_all(fd, logits, logit_bytes, tmp, NULL))
        what = "write failed", e = errno;
    else if (fsync(fd) != 0) /* whole on disk before it gets its name */
        what = "fsync failed", e = errno;
    if (close(fd) != 0 && !what)
        what = "close failed", e = errno;
    if (!what && rename(tmp, path) != 0)
        what = "rename failed", e = errno;
    if (what) {
        unlink(tmp);
        return tb_err_set(err, TB_EIO, "reference cache: %s: %s: %s", tmp, what, strerror(e));
    }
    return TB_OK;
}

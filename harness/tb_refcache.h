/* Reference logits persisted in a run's results directory, so that every
 * process of the run (each watchdog child, or the one in-process run)
 * computes the slow cpu-ref reference of a model once and later
 * configurations load it. A file is trusted only when its key (reference
 * backend, model path and identity, teacher-forced tokens) matches and its
 * length and checksum are whole; anything else is ignored and recomputed. */
#ifndef TB_REFCACHE_H
#define TB_REFCACHE_H

#include <stdint.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_REFCACHE_KEY_MAX 1400

/* Everything that determines a reference: filled by tb_refcache_key_init. */
struct tb_refcache_key {
    char text[TB_REFCACHE_KEY_MAX]; /* backend, path, dev, inode, size, mtime, positions */
    const int32_t *tokens;          /* borrowed: the teacher-forced prompt */
    int32_t n_pos;
    uint64_t hash; /* of text and tokens: names the file */
};

/* Stats model_path (its identity is part of the key); tokens are borrowed
 * until the key's last use. TB_EIO when the model cannot be stat'ed. */
int tb_refcache_key_init(struct tb_refcache_key *k, const char *backend, const char *model_path,
                         const int32_t *tokens, int32_t n_pos, struct tb_err *err);

/* Looks for the key's file under dir. Returns 1 with *logits (malloc'd,
 * [n_pos][*vocab], caller frees) when a whole matching file is there; 0
 * when there is none, or it is not usable (why says so: damaged, other
 * key; "" when simply absent); TB_ENOMEM. */
int tb_refcache_load(const char *dir, const struct tb_refcache_key *k, float **logits,
                     int32_t *vocab, char *why, size_t why_n, struct tb_err *err);

/* Writes the key's file under dir (made if missing) atomically: temp file,
 * fsync, rename; a concurrent or later reader sees the old file, none, or
 * the whole new one. */
int tb_refcache_store(const char *dir, const struct tb_refcache_key *k, const float *logits,
                      int32_t vocab, struct tb_err *err);

/* The file path of a key under dir (for tests and messages). */
int tb_refcache_path(const char *dir, const struct tb_refcache_key *k, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif

#include "kernels/accel/accel_op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tb_accel_check_ids(const char *backend, const struct tb_op *op, struct tb_err *err)
{
    const struct tb_tensor *ids = op->src[1];
    const int64_t n = tb_tensor_nelements(ids), rows = tb_tensor_nrows(op->src[0]);
    for (int64_t i = 0; i < n; i++) {
        const int32_t id = ((const int32_t *)tb_tensor_row(ids, i / ids->ne[0]))[i % ids->ne[0]];
        if (id < 0 || id >= rows)
            return tb_err_set(err, TB_EINVAL, "%s get_rows '%s': id %d at %lld outside [0, %lld)",
                              backend, op->name, id, (long long)i, (long long)rows);
    }
    return TB_OK;
}

void tb_accel_rope_freqs(float *out, int head_dim, float theta)
{
    for (int k = 0; k < head_dim / 2; k++)
        out[k] = (float)pow((double)theta, -2.0 * (double)k / (double)head_dim);
}

size_t tb_accel_row_bytes(const struct tb_tensor *t)
{
    return tb_row_size(t->type, t->ne[0]);
}

/* ---- weight cache */

/* FNV-1a over 8-byte words (bytes for the tail): cheap, and any change in
 * the sampled bytes changes the hash with overwhelming probability. */
static uint64_t mix(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

uint64_t tb_accel_fingerprint(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n;
    const size_t edge = 4096, samples = 256, chunk = 16;
    if (n <= 2 * edge + samples * chunk)
        return mix(h, b, n);
    h = mix(h, b, edge);
    h = mix(h, b + n - edge, edge);
    const size_t span = n - 2 * edge - chunk, step = span / samples;
    for (size_t s = 0; s < samples; s++)
        h = mix(h, b + edge + s * step, chunk);
    return h;
}

void *tb_accel_wcache_find(struct tb_accel_wcache *c, const void *host, size_t nbytes, uint64_t fp)
{
    for (int i = 0; i < c->n; i++) {
        struct tb_accel_wcache_entry *e = &c->e[i];
        if (e->host == host && e->nbytes == nbytes && e->fp == fp) {
            e->last_use = ++c->tick;
            return e->dev;
        }
    }
    return NULL;
}

static void drop(struct tb_accel_wcache *c, int i)
{
    c->release(c->user, c->e[i].dev);
    c->bytes -= c->e[i].nbytes;
    c->e[i] = c->e[--c->n];
}

void tb_accel_wcache_make_room(struct tb_accel_wcache *c, size_t need)
{
    while (c->n > 0 && c->bytes + need > c->budget) {
        int oldest = 0;
        for (int i = 1; i < c->n; i++)
            if (c->e[i].last_use < c->e[oldest].last_use)
                oldest = i;
        drop(c, oldest);
    }
}

int tb_accel_wcache_insert(struct tb_accel_wcache *c, const void *host, size_t nbytes, uint64_t fp,
                           void *dev, struct tb_err *err)
{
    /* an older copy of the same host range (contents changed) goes first */
    for (int i = 0; i < c->n; i++)
        if (c->e[i].host == host) {
            drop(c, i);
            break;
        }
    if (c->n == c->cap) {
        const int cap = c->cap ? 2 * c->cap : 64;
        struct tb_accel_wcache_entry *e = realloc(c->e, (size_t)cap * sizeof *e);
        if (!e) {
            c->release(c->user, dev);
            return tb_err_set(err, TB_ENOMEM, "weight cache: cannot grow to %d entries", cap);
        }
        c->e = e;
        c->cap = cap;
    }
    c->e[c->n++] = (struct tb_accel_wcache_entry){host, nbytes, fp, dev, ++c->tick};
    c->bytes += nbytes;
    return TB_OK;
}

void tb_accel_wcache_free(struct tb_accel_wcache *c)
{
    while (c->n > 0)
        drop(c, c->n - 1);
    free(c->e);
    c->e = NULL;
    c->cap = 0;
}

/* ---- range residency */

size_t tb_accel_span(size_t nb1, size_t row, int64_t rows)
{
    return nb1 * (size_t)(rows - 1) + row;
}

static bool overlap(const char *a, size_t an, const char *b, size_t bn)
{
    return a < b + bn && b < a + an;
}

/* p realloc'd to twice *cap elements (16 at first), *cap updated; NULL (p
 * untouched) when out of memory. */
static void *grow(void *p, int *cap, size_t elem)
{
    const int n = *cap ? 2 * *cap : 16;
    void *q = realloc(p, (size_t)n * elem);
    if (q)
        *cap = n;
    return q;
}

void *tb_accel_res_get(struct tb_accel_res *r, size_t bytes, struct tb_err *err)
{
    if (bytes == 0)
        bytes = 4;
    int best = -1;
    for (int i = 0; i < r->n_pool; i++)
        if (!r->pool[i].busy && r->pool[i].cap >= bytes &&
            (best < 0 || r->pool[i].cap < r->pool[best].cap))
            best = i;
    if (best >= 0) {
        r->pool[best].busy = true;
        return r->pool[best].dev;
    }
    if (r->n_pool == r->cap_pool) {
        void *p = grow(r->pool, &r->cap_pool, sizeof *r->pool);
        if (!p) {
            tb_err_set(err, TB_ENOMEM, "device buffer pool: out of host memory");
            return NULL;
        }
        r->pool = p;
    }
    void *dev = r->ops.alloc(r->user, bytes, err);
    if (dev)
        r->pool[r->n_pool++] = (struct tb_accel_res_buf){dev, bytes, true};
    return dev;
}

void tb_accel_res_put(struct tb_accel_res *r, void *dev)
{
    for (int i = 0; i < r->n_pool; i++)
        if (r->pool[i].dev == dev)
            r->pool[i].busy = false;
}

void *tb_accel_res_find(const struct tb_accel_res *r, const void *host, size_t nb1, size_t row,
                        int64_t rows)
{
    for (int i = 0; i < r->n_mir; i++) {
        const struct tb_accel_res_mirror *m = &r->mir[i];
        /* same first row, same row size, and the same later rows */
        if (m->host == host && m->row == row && (m->nb1 == nb1 || rows == 1) && m->rows >= rows)
            return m->dev;
    }
    return NULL;
}

int tb_accel_res_wait(struct tb_accel_res *r, struct tb_err *err)
{
    r->n_pend = 0;
    return r->ops.wait(r->user, err);
}

int tb_accel_res_readable(struct tb_accel_res *r, const void *host, size_t span, struct tb_err *err)
{
    for (int i = 0; i < r->n_pend; i++)
        if (overlap(host, span, r->pend[i].p, r->pend[i].n))
            return tb_accel_res_wait(r, err);
    return TB_OK;
}

static void drop_mirror(struct tb_accel_res *r, int i)
{
    tb_accel_res_put(r, r->mir[i].dev);
    r->mir[i] = r->mir[--r->n_mir];
}

int tb_accel_res_stored(struct tb_accel_res *r, void *dev, void *host, size_t nb1, size_t row,
                        int64_t rows, struct tb_err *err)
{
    const size_t span = tb_accel_span(nb1, row, rows);
    /* older device copies of these host bytes are stale now */
    for (int i = r->n_mir - 1; i >= 0; i--)
        if (overlap(host, span, r->mir[i].host,
                    tb_accel_span(r->mir[i].nb1, r->mir[i].row, r->mir[i].rows)))
            drop_mirror(r, i);
    if (r->n_pend == r->cap_pend) {
        void *p = grow(r->pend, &r->cap_pend, sizeof *r->pend);
        if (!p) {
            tb_accel_res_put(r, dev); /* cannot track it: wait for it instead */
            return tb_accel_res_wait(r, err);
        }
        r->pend = p;
    }
    r->pend[r->n_pend++] = (struct tb_accel_res_span){host, span};
    if (r->n_mir == r->cap_mir) {
        void *p = grow(r->mir, &r->cap_mir, sizeof *r->mir);
        if (!p) {
            tb_accel_res_put(r, dev); /* correct without it: later readers upload */
            return TB_OK;
        }
        r->mir = p;
    }
    r->mir[r->n_mir++] = (struct tb_accel_res_mirror){host, nb1, row, rows, dev};
    return TB_OK;
}

void tb_accel_res_end(struct tb_accel_res *r)
{
    while (r->n_mir > 0)
        drop_mirror(r, r->n_mir - 1);
    r->n_pend = 0;
}

void tb_accel_res_free(struct tb_accel_res *r)
{
    for (int i = 0; i < r->n_pool; i++)
        r->ops.release(r->user, r->pool[i].dev);
    free(r->pool);
    free(r->mir);
    free(r->pend);
    memset(r, 0, sizeof *r);
}

/* ---- transfer accounting */

void tb_accel_evidence_begin(struct tb_op_evidence *e)
{
    e->last_launches = e->last_device_ns = 0;
    e->last_h2d_bytes = e->last_d2h_bytes = e->last_kv_h2d_bytes = 0;
}

void tb_accel_book_h2d(struct tb_op_evidence *e, uint64_t bytes)
{
    e->last_h2d_bytes += bytes;
    e->total_h2d_bytes += bytes;
}

void tb_accel_book_d2h(struct tb_op_evidence *e, uint64_t bytes)
{
    e->last_d2h_bytes += bytes;
    e->total_d2h_bytes += bytes;
}

/* ---- KV residency */

static void kv_drop(struct tb_accel_kv *kv, int i)
{
    kv->ops.release(kv->user, kv->e[i].dev);
    kv->bytes -= kv->e[i].row * (size_t)kv->e[i].rows;
    kv->e[i] = kv->e[--kv->n];
}

static bool kv_overlaps(const struct tb_accel_kv_entry *e, uintptr_t p, size_t n)
{
    const uintptr_t a = (uintptr_t)e->host;
    return p < a + tb_accel_span(e->nb1, e->row, e->rows) && a < p + n;
}

/* The resident copy of cache, made (valid = 0) when missing and it fits;
 * NULL when not kept. */
static struct tb_accel_kv_entry *kv_entry(struct tb_accel_kv *kv, const struct tb_tensor *cache)
{
    if (!(cache->flags & TB_TENSOR_STATE))
        return NULL; /* host writes to it may go unannounced: upload per call */
    const size_t row = tb_accel_row_bytes(cache), nb1 = cache->nb[1];
    const int64_t rows = tb_tensor_nrows(cache);
    for (int i = 0; i < kv->n; i++) {
        struct tb_accel_kv_entry *e = &kv->e[i];
        if (e->host == cache->data && e->nb1 == nb1 && e->row == row && e->rows == rows) {
            e->last_use = ++kv->tick;
            return e;
        }
    }
    const size_t bytes = row * (size_t)rows;
    if (bytes > kv->budget)
        return NULL;
    /* other geometries over the same host bytes are stale views */
    const size_t span = tb_accel_span(nb1, row, rows);
    for (int i = kv->n - 1; i >= 0; i--)
        if (kv_overlaps(&kv->e[i], (uintptr_t)cache->data, span))
            kv_drop(kv, i);
    /* least recently used first; never the copy touched last (the K cache
     * of the ATTENTION now asking for its V cache) */
    while (kv->bytes + bytes > kv->budget) {
        int oldest = -1;
        for (int i = 0; i < kv->n; i++)
            if (kv->e[i].last_use != kv->tick &&
                (oldest < 0 || kv->e[i].last_use < kv->e[oldest].last_use))
                oldest = i;
        if (oldest < 0)
            return NULL;
        kv_drop(kv, oldest);
    }
    if (kv->n == kv->cap) {
        void *p = grow(kv->e, &kv->cap, sizeof *kv->e);
        if (!p)
            return NULL; /* correct without it: the op uploads */
        kv->e = p;
    }
    /* out of device memory is not an error either: the op uploads */
    void *dev = kv->ops.alloc(kv->user, bytes, NULL);
    if (!dev)
        return NULL;
    kv->e[kv->n] = (struct tb_accel_kv_entry){cache->data, nb1, row, rows, 0, dev, ++kv->tick};
    kv->bytes += bytes;
    return &kv->e[kv->n++];
}

int tb_accel_kv_rows(struct tb_accel_kv *kv, const struct tb_tensor *cache, int64_t n_rows,
                     void **dev, struct tb_err *err)
{
    *dev = NULL;
    struct tb_accel_kv_entry *e = kv_entry(kv, cache);
    if (!e)
        return TB_OK;
    if (e->valid < n_rows) {
        const int64_t nr = n_rows - e->valid;
        const char *host = (const char *)e->host + e->nb1 * (size_t)e->valid;
        int rc = tb_accel_res_readable(kv->res, host, tb_accel_span(e->nb1, e->row, nr), err);
        if (rc || (rc = kv->ops.upload(kv->user, e->dev, e->row * (size_t)e->valid, host, e->nb1,
                                       e->row, nr, err)))
            return rc;
        const uint64_t b = (uint64_t)e->row * (uint64_t)nr; /* h2d booked by upload */
        kv->evd->last_kv_h2d_bytes += b;
        kv->evd->total_kv_h2d_bytes += b;
        e->valid = n_rows;
    }
    *dev = e->dev;
    return TB_OK;
}

int tb_accel_kv_stored(struct tb_accel_kv *kv, const struct tb_tensor *cache, int64_t pos0,
                       int64_t n, void *src, struct tb_err *err)
{
    struct tb_accel_kv_entry *e = kv_entry(kv, cache);
    if (!e)
        return TB_OK;
    int rc = kv->ops.copy(kv->user, e->dev, e->row * (size_t)pos0, src, e->row * (size_t)n, err);
    if (rc) {
        /* the device rows are unknown now */
        e->valid = e->valid < pos0 ? e->valid : pos0;
        return rc;
    }
    if (pos0 <= e->valid && pos0 + n > e->valid)
        e->valid = pos0 + n;
    return TB_OK;
}

void tb_accel_kv_host_written(struct tb_accel_kv *kv, const void *host, size_t nbytes)
{
    for (int i = 0; i < kv->n; i++) {
        struct tb_accel_kv_entry *e = &kv->e[i];
        if (host && !kv_overlaps(e, (uintptr_t)host, nbytes))
            continue;
        const uintptr_t p = (uintptr_t)host, a = (uintptr_t)e->host;
        const int64_t first = (!host || p <= a) ? 0 : (int64_t)((p - a) / e->nb1);
        if (first < e->valid)
            e->valid = first;
    }
}

size_t tb_accel_kv_budget(uint64_t mem)
{
    const char *v = getenv("TB_ACCEL_KV_RESIDENT");
    if (v && strcmp(v, "0") == 0)
        return 0;
    return (size_t)(mem / 4);
}

void tb_accel_kv_free(struct tb_accel_kv *kv)
{
    while (kv->n > 0)
        kv_drop(kv, kv->n - 1);
    free(kv->e);
    kv->e = NULL;
    kv->cap = 0;
}

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

int tb_accel_res_readable(struct tb_accel_res *r, const void *host, size_t span,
                          struct tb_err *err)
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

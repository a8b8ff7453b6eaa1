/* Shared accelerator dispatch (kernels/accel/accel_backend.h). */
#include "kernels/accel/accel_backend.h"

#include "kernels/accel/accel_op.h"
#include "kernels/tb_backend_impl.h"

#include <stdlib.h>
#include <string.h>

/* uploaded sources and attention scores, reused op after op (queue order:
 * a later upload runs only after the earlier kernel read the buffer) */
enum { S_SRC0, S_SRC1, S_SRC2, S_AUX, S_COUNT };

struct tb_accel {
    struct tb_accel_info info;
    const struct tb_accel_device_i *di;
    const struct tb_accel_kernels_i *ki;
    void *dev;
    struct {
        void *p;
        size_t cap;
    } scr[S_COUNT];
    struct tb_accel_wcache wc;
    struct tb_accel_res res; /* op outputs: pool, mirrors, pending downloads */
    struct tb_accel_kv kv;   /* resident KV caches (across ranges) */
    /* RoPE frequencies for (freq_hd, freq_theta), kept on the device */
    void *freq;
    int freq_hd;
    float freq_theta;
    struct tb_op_evidence evd;
};

/* ---- device memory and queued copies, booked as evidence */

static void *alloc_rw(void *user, size_t bytes, struct tb_err *err)
{
    struct tb_accel *a = user;
    return a->di->alloc(a->dev, bytes, false, "an op output", err);
}

static void release(void *user, void *mem)
{
    struct tb_accel *a = user;
    a->di->release(a->dev, mem);
}

static int wait_all(void *user, struct tb_err *err)
{
    struct tb_accel *a = user;
    return a->di->wait(a->dev, err);
}

static int upload(void *user, void *mem, size_t off, const void *host, size_t nb1, size_t row,
                  int64_t rows, struct tb_err *err)
{
    struct tb_accel *a = user;
    int rc = a->di->upload(a->dev, mem, off, host, nb1, row, rows, err);
    if (!rc)
        tb_accel_book_h2d(&a->evd, (uint64_t)row * (uint64_t)rows);
    return rc;
}

static int copy(void *user, void *dst, size_t off, void *src, size_t bytes, struct tb_err *err)
{
    struct tb_accel *a = user;
    return a->di->copy(a->dev, dst, off, src, bytes, err);
}

static void *scratch(struct tb_accel *a, int slot, size_t bytes, struct tb_err *err)
{
    if (a->scr[slot].p && a->scr[slot].cap >= bytes)
        return a->scr[slot].p;
    if (a->scr[slot].p)
        a->di->release(a->dev, a->scr[slot].p);
    a->scr[slot].cap = bytes + bytes / 2; /* amortise growth */
    a->scr[slot].p = a->di->alloc(a->dev, a->scr[slot].cap, false, "scratch", err);
    if (!a->scr[slot].p)
        a->scr[slot].cap = 0;
    return a->scr[slot].p;
}

/* Rows [row0, row0 + nrows) of t, packed, on the device: a mirror with
 * exactly those rows, else uploaded into scratch `slot`. */
static void *src_rows(struct tb_accel *a, int slot, const struct tb_tensor *t, int64_t row0,
                      int64_t nrows, struct tb_err *err)
{
    const size_t row = tb_accel_row_bytes(t);
    const char *host = tb_tensor_row(t, row0);
    void *p = tb_accel_res_find(&a->res, host, t->nb[1], row, nrows);
    if (p)
        return p;
    if (tb_accel_res_readable(&a->res, host, tb_accel_span(t->nb[1], row, nrows), err) ||
        !(p = scratch(a, slot, row * (size_t)nrows, err)) ||
        upload(a, p, 0, host, t->nb[1], row, nrows, err))
        return NULL;
    return p;
}

/* dst buffer p (nrows packed rows) goes to host rows [row0, row0 + nrows)
 * of t without waiting, and becomes their mirror. */
static int store_dst(struct tb_accel *a, void *p, const struct tb_tensor *t, int64_t row0,
                     int64_t nrows, struct tb_err *err)
{
    const size_t row = tb_accel_row_bytes(t);
    char *host = tb_tensor_row(t, row0);
    int rc = a->di->download(a->dev, host, t->nb[1], p, row, nrows, err);
    if (rc) {
        tb_accel_res_put(&a->res, p);
        return rc;
    }
    tb_accel_book_d2h(&a->evd, (uint64_t)row * (uint64_t)nrows);
    return tb_accel_res_stored(&a->res, p, host, t->nb[1], row, nrows, err);
}

/* The device copy of weight tensor t (packed rows), uploaded on first use. */
static void *weight(struct tb_accel *a, const struct tb_tensor *t, struct tb_err *err)
{
    const int64_t rows = tb_tensor_nrows(t);
    const size_t row = tb_accel_row_bytes(t);
    const size_t span = tb_accel_span(t->nb[1], row, rows); /* host bytes covered */
    if (tb_accel_res_readable(&a->res, t->data, span, err))
        return NULL;
    const uint64_t fp = tb_accel_fingerprint(t->data, span);
    void *p = tb_accel_wcache_find(&a->wc, t->data, span, fp);
    if (p)
        return p;
    tb_accel_wcache_make_room(&a->wc, span);
    if (!(p = a->di->alloc(a->dev, row * (size_t)rows, true, t->name, err)))
        return NULL;
    const int rc = upload(a, p, 0, t->data, t->nb[1], row, rows, err);
    if (rc) {
        a->di->release(a->dev, p);
        tb_err_wrap(err, rc, "weight %s", t->name);
        return NULL;
    }
    /* the cache owns p from here, also when the insert fails */
    return tb_accel_wcache_insert(&a->wc, t->data, span, fp, p, err) ? NULL : p;
}

/* theta^(-2k/hd) on the device, rebuilt when (hd, theta) changes */
static void *rope_freqs(struct tb_accel *a, int hd, float theta, struct tb_err *err)
{
    if (a->freq && a->freq_hd == hd && a->freq_theta == theta)
        return a->freq;
    if (a->freq)
        a->di->release(a->dev, a->freq);
    a->freq = NULL;
    const size_t bytes = (size_t)(hd / 2) * sizeof(float);
    float *f = malloc(bytes ? bytes : sizeof(float));
    if (!f) {
        tb_err_set(err, TB_ENOMEM, "%s: rope frequency table", a->di->name);
        return NULL;
    }
    tb_accel_rope_freqs(f, hd, theta);
    void *p = a->di->alloc(a->dev, bytes, true, "rope frequencies", err);
    /* f is freed below: the (rare) rebuild waits for its upload */
    int rc = p ? upload(a, p, 0, f, bytes, bytes, 1, err) : TB_ENOMEM;
    if (!rc)
        rc = tb_accel_res_wait(&a->res, err);
    free(f);
    if (rc) {
        if (p)
            a->di->release(a->dev, p);
        return NULL;
    }
    a->freq = p;
    a->freq_hd = hd;
    a->freq_theta = theta;
    return p;
}

/* ---- the ops */

#define NEED(p)                                                                                    \
    do {                                                                                           \
        if (!(p))                                                                                  \
            return err && err->code ? err->code : TB_ENOMEM;                                       \
    } while (0)

static int gather_attention(struct tb_accel *a, const struct tb_op *op, struct tb_accel_bufs *b,
                            struct tb_err *err)
{
    const struct tb_tensor *kc = op->src[1], *vc = op->src[2];
    b->n_kv = op->p.pos0 + b->n; /* rows anyone sees */
    NEED(b->src[0] = src_rows(a, S_SRC0, op->src[0], 0, b->n, err));
    /* the resident caches when kept, else rows uploaded per call */
    int rc = tb_accel_kv_rows(&a->kv, kc, b->n_kv, &b->src[1], err);
    if (rc || (rc = tb_accel_kv_rows(&a->kv, vc, b->n_kv, &b->src[2], err)))
        return rc;
    if (!b->src[1])
        NEED(b->src[1] = src_rows(a, S_SRC1, kc, 0, b->n_kv, err));
    if (!b->src[2])
        NEED(b->src[2] = src_rows(a, S_SRC2, vc, 0, b->n_kv, err));
    const size_t scores = (size_t)b->n * (size_t)op->p.n_head * (size_t)b->n_kv * sizeof(float);
    NEED(b->aux = scratch(a, S_AUX, scores, err));
    return TB_OK;
}

/* The op's sources on the device, in b (b->n set). */
static int gather(struct tb_accel *a, const struct tb_op *op, struct tb_accel_bufs *b,
                  struct tb_err *err)
{
    const struct tb_tensor *s0 = op->src[0], *s1 = op->src[1];
    int rc = TB_OK;
    switch (op->kind) {
    case TB_OP_GET_ROWS:
        /* ids are checked on the host: their bytes must be there */
        rc = tb_accel_res_readable(&a->res, s1->data, tb_tensor_nbytes(s1), err);
        if (rc || (rc = tb_accel_check_ids(a->di->name, op, err)))
            return rc;
        NEED(b->src[0] = weight(a, s0, err));
        NEED(b->src[1] = src_rows(a, S_SRC1, s1, 0, tb_tensor_nrows(s1), err));
        return TB_OK;
    case TB_OP_RMS_NORM:
        NEED(b->src[1] = weight(a, s1, err));
        NEED(b->src[0] = src_rows(a, S_SRC0, s0, 0, b->n, err));
        return TB_OK;
    case TB_OP_MATMUL:
        NEED(b->src[0] = weight(a, s0, err));
        NEED(b->src[1] = src_rows(a, S_SRC1, s1, 0, b->n, err));
        return TB_OK;
    case TB_OP_ROPE:
        NEED(b->aux = rope_freqs(a, op->p.head_dim, op->p.rope_theta, err));
        NEED(b->src[0] = src_rows(a, S_SRC0, s0, 0, b->n, err));
        return TB_OK;
    case TB_OP_KV_STORE: NEED(b->src[0] = src_rows(a, S_SRC0, s0, 0, b->n, err)); return TB_OK;
    case TB_OP_ATTENTION: return gather_attention(a, op, b, err);
    case TB_OP_SILU:
    case TB_OP_MUL:
    case TB_OP_ADD:
        NEED(b->src[0] = src_rows(a, S_SRC0, s0, 0, b->n, err));
        b->src[1] = b->src[0];
        if (op->kind != TB_OP_SILU)
            NEED(b->src[1] = src_rows(a, S_SRC1, s1, 0, b->n, err));
        return TB_OK;
    case TB_OP_COUNT: break;
    }
    return tb_err_set(err, TB_EUNSUPPORTED, "%s: unknown op kind", a->di->name);
}

static tb_accel_launch_fn launcher(const struct tb_accel_kernels_i *k, enum tb_op_kind kind)
{
    switch (kind) {
    case TB_OP_GET_ROWS: return k->get_rows;
    case TB_OP_RMS_NORM: return k->rms_norm;
    case TB_OP_MATMUL: return k->matmul;
    case TB_OP_ROPE: return k->rope;
    case TB_OP_KV_STORE: return k->kv_store;
    case TB_OP_ATTENTION: return k->attention;
    case TB_OP_SILU:
    case TB_OP_MUL:
    case TB_OP_ADD: return k->eltwise;
    case TB_OP_COUNT: break;
    }
    return NULL;
}

/* Validates, gathers sources, launches, queues the dst download (on
 * failure the range's end cleans up what is queued). */
static int run_op(struct tb_accel *a, const struct tb_op *op, struct tb_err *err)
{
    int rc = tb_op_validate(a->di->name, op, a->info.wtypes, err);
    if (rc)
        return rc;
    const tb_accel_launch_fn fn = launcher(a->ki, op->kind);
    if (!fn)
        return tb_err_set(err, TB_EUNSUPPORTED, "%s: no kernel for op %s", a->di->name,
                          tb_op_kind_name(op->kind));
    const struct tb_tensor *d = op->dst;
    const bool kv = op->kind == TB_OP_KV_STORE; /* dst is the cache: only n rows written */
    struct tb_accel_bufs b = {.n = tb_tensor_nrows(kv ? op->src[0] : d)};
    if ((rc = gather(a, op, &b, err)))
        return rc;
    NEED(b.dst = tb_accel_res_get(&a->res, tb_accel_row_bytes(d) * (size_t)b.n, err));
    rc = fn(a->dev, op, &b, err);
    if (!rc && kv) /* the resident copy gets the rows on the device */
        rc = tb_accel_kv_stored(&a->kv, d, op->p.pos0, b.n, b.dst, err);
    if (rc) {
        tb_accel_res_put(&a->res, b.dst);
        return rc;
    }
    /* a KV_STORE's other rows keep their host values */
    return store_dst(a, b.dst, d, kv ? op->p.pos0 : 0, b.n, err);
}

/* Ends a range: waits, books the launches' device time, drops the mirrors.
 * Runs after failures too, so nothing outlives the call. */
static int end_range(struct tb_accel *a, struct tb_err *err)
{
    int rc = tb_accel_res_wait(&a->res, err);
    uint64_t launches = 0, ns = 0;
    const int rc2 = a->di->collect(a->dev, rc == TB_OK, &launches, &ns, rc ? NULL : err);
    a->evd.last_launches += launches;
    a->evd.total_launches += launches;
    a->evd.last_device_ns += ns;
    a->evd.total_device_ns += ns;
    tb_accel_res_end(&a->res);
    return rc ? rc : rc2;
}

/* One range: ops queued back to back; with op_ns, each is waited for. */
static int run_range(struct tb_accel *a, const struct tb_op *ops, int count, uint64_t *op_ns,
                     struct tb_err *err)
{
    tb_accel_evidence_begin(&a->evd);
    int rc = TB_OK;
    for (int i = 0; i < count && !rc; i++) {
        const uint64_t t0 = op_ns ? tb_now_ns() : 0;
        rc = run_op(a, &ops[i], err);
        if (!rc && op_ns) {
            rc = tb_accel_res_wait(&a->res, err);
            op_ns[i] = tb_now_ns() - t0;
        }
    }
    const int rc2 = end_range(a, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- vtable */

static const char *a_name(void *ctx)
{
    return ((struct tb_accel *)ctx)->di->name;
}

static const char *a_device_name(void *ctx)
{
    return ((struct tb_accel *)ctx)->info.device;
}

static const char *a_device_vendor(void *ctx)
{
    return ((struct tb_accel *)ctx)->info.vendor;
}

static enum tb_device_kind a_device_kind(void *ctx)
{
    return ((struct tb_accel *)ctx)->info.kind;
}

static bool a_supports_op(void *ctx, const struct tb_op *op)
{
    const struct tb_accel *a = ctx;
    return tb_op_validate(a->di->name, op, a->info.wtypes, NULL) == TB_OK;
}

static int a_compute_op(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    return run_range(ctx, op, 1, NULL, err);
}

static int a_compute_graph(void *ctx, const struct tb_graph *g, int first, int count,
                           uint64_t *op_ns, struct tb_err *err)
{
    return run_range(ctx, g->ops + first, count, op_ns, err);
}

static int a_op_evidence(void *ctx, struct tb_op_evidence *out)
{
    *out = ((struct tb_accel *)ctx)->evd;
    return TB_OK;
}

static int a_synchronize(void *ctx, struct tb_err *err)
{
    return tb_accel_res_wait(&((struct tb_accel *)ctx)->res, err);
}

static int a_buffer_alloc(void *ctx, size_t nbytes, void **dev, struct tb_err *err)
{
    struct tb_accel *a = ctx;
    const uint64_t max = a->info.max_alloc;
    if (max && (uint64_t)nbytes > max)
        return tb_err_set(err, TB_ENOMEM,
                          "%s: buffer of %zu bytes exceeds the device's largest allocation "
                          "(%llu bytes) on %s",
                          a->di->name, nbytes, (unsigned long long)max, a->info.device);
    *dev = a->di->alloc(a->dev, nbytes, false, "a buffer", err);
    return *dev ? TB_OK : TB_ENOMEM;
}

static void a_buffer_free(void *ctx, void *dev)
{
    release(ctx, dev);
}

static int a_buffer_set(void *ctx, void *dev, size_t offset, const void *src, size_t n,
                        struct tb_err *err)
{
    struct tb_accel *a = ctx;
    int rc = a->di->write_sync(a->dev, dev, offset, src, n, err);
    if (!rc)
        tb_accel_book_h2d(&a->evd, n);
    return rc;
}

static int a_buffer_get(void *ctx, void *dev, size_t offset, void *dst, size_t n,
                        struct tb_err *err)
{
    struct tb_accel *a = ctx;
    int rc = a->di->read_sync(a->dev, dev, offset, dst, n, err);
    if (!rc)
        tb_accel_book_d2h(&a->evd, n);
    return rc;
}

static void a_host_written(void *ctx, const void *host, size_t nbytes)
{
    tb_accel_kv_host_written(&((struct tb_accel *)ctx)->kv, host, nbytes);
}

static void a_free(void *ctx)
{
    struct tb_accel *a = ctx;
    if (!a)
        return;
    end_range(a, NULL);
    tb_accel_wcache_free(&a->wc);
    tb_accel_kv_free(&a->kv);
    tb_accel_res_free(&a->res);
    for (int i = 0; i < S_COUNT; i++)
        if (a->scr[i].p)
            a->di->release(a->dev, a->scr[i].p);
    if (a->freq)
        a->di->release(a->dev, a->freq);
    a->di->destroy(a->dev);
    free(a);
}

int tb_accel_backend_create(const struct tb_accel_device_i *di, const struct tb_accel_kernels_i *ki,
                            struct tb_backend **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_accel_info info = {0};
    void *dev = calloc(1, di->ctx_size);
    if (!dev)
        return tb_err_set(err, TB_ENOMEM, "%s: cannot allocate backend", di->name);
    int rc = di->setup(dev, &info, err);
    if (rc) {
        di->destroy(dev);
        return rc;
    }
    struct tb_backend *b = calloc(1, sizeof *b);
    struct tb_accel *a = calloc(1, sizeof *a);
    if (!b || !a) {
        free(b);
        free(a);
        di->destroy(dev);
        return tb_err_set(err, TB_ENOMEM, "%s: cannot allocate backend", di->name);
    }
    *a = (struct tb_accel){.info = info, .di = di, .ki = ki, .dev = dev};
    a->wc =
        (struct tb_accel_wcache){.budget = (size_t)(info.mem / 2), .release = release, .user = a};
    a->res = (struct tb_accel_res){.ops = {alloc_rw, release, wait_all}, .user = a};
    a->kv = (struct tb_accel_kv){.ops = {alloc_rw, release, upload, copy},
                                 .user = a,
                                 .res = &a->res,
                                 .evd = &a->evd,
                                 .budget = tb_accel_kv_budget(info.mem)};
    b->iface = (struct tb_backend_i){
        .name = a_name,
        .device_kind = a_device_kind,
        .supports_op = a_supports_op,
        .compute_op = a_compute_op,
        .free = a_free,
        .device_name = a_device_name,
        .compute_graph = a_compute_graph,
        .device_vendor = a_device_vendor,
        .op_evidence = a_op_evidence,
        .synchronize = a_synchronize,
        .buffer_alloc = a_buffer_alloc,
        .buffer_free = a_buffer_free,
        .buffer_set = a_buffer_set,
        .buffer_get = a_buffer_get,
        .host_written = a_host_written,
    };
    b->context = a;
    *out = b;
    return TB_OK;
}

/* Placement scheduler (kernels/tb_sched.h). */
#include "tb_sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_backend_impl.h"

const char *tb_sched_reason_name(enum tb_sched_reason r)
{
    switch (r) {
    case TB_REASON_NONE: return "";
    case TB_REASON_UNSUPPORTED_OP: return "unsupported-op";
    case TB_REASON_UNSUPPORTED_TYPE: return "unsupported-type";
    case TB_REASON_BACKEND_UNAVAILABLE: return "backend-unavailable";
    case TB_REASON_MEMORY: return "memory";
    case TB_REASON_PROFILE_FORBIDS: return "profile-forbids";
    }
    return "unknown";
}

void tb_sched_opts_default(struct tb_sched_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind_policy = TB_SCHED_KIND_TRUST;
}

/* ------------------------------------------------------------ backends */

/* Kind implied by a backend name when the entry has no ":kind" suffix. */
static int default_kind(const char *name)
{
    if (!strcmp(name, "cpu") || !strcmp(name, "cpu-ref"))
        return TB_DEVICE_CPU;
    if (!strcmp(name, "cuda"))
        return TB_DEVICE_GPU;
    if (!strcmp(name, "npu"))
        return TB_DEVICE_NPU;
    return -1; /* opencl: whatever device the runtime gives */
}

static int kind_from_suffix(const char *s)
{
    if (!strcmp(s, "gpu"))
        return TB_DEVICE_GPU;
    if (!strcmp(s, "npu"))
        return TB_DEVICE_NPU;
    if (!strcmp(s, "cpu"))
        return TB_DEVICE_CPU;
    return -2;
}

/* Bounded copy (messages longer than dst are cut, never overflow). */
static void copy_text(char *dst, size_t n, const char *src)
{
    const size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int registered(const char *name)
{
    for (const char *const *n = tb_backend_names(); *n; n++)
        if (!strcmp(*n, name))
            return 1;
    return 0;
}

static int open_entry(struct tb_sched_entry *e, const char *label,
                      const struct tb_backend_config *cfg, struct tb_err *err)
{
    memset(e, 0, sizeof *e);
    snprintf(e->label, sizeof e->label, "%s", label);
    char name[32];
    snprintf(name, sizeof name, "%s", label);
    char *colon = strchr(name, ':');
    if (colon) {
        *colon = '\0';
        e->want_kind = kind_from_suffix(colon + 1);
        if (e->want_kind == -2)
            return tb_err_set(err, TB_EINVAL,
                              "sched: backend entry '%s': unknown device kind "
                              "'%s' (gpu, npu, cpu)",
                              label, colon + 1);
    } else {
        e->want_kind = default_kind(name);
    }
    if (!registered(name)) {
        snprintf(e->disabled_reason, sizeof e->disabled_reason,
                 "no backend named '%s' in this build", name);
        return TB_OK;
    }
    struct tb_err be = {0};
    if (tb_backend_create(name, cfg, &e->b, &be)) {
        e->b = NULL;
        copy_text(e->disabled_reason, sizeof e->disabled_reason, be.msg);
    }
    return TB_OK;
}

int tb_sched_backends_open(const char (*names)[32], int n, const struct tb_backend_config *cfg,
                           struct tb_sched_backends *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 0 || n > TB_SCHED_MAX_ENTRIES - 1)
        return tb_err_set(err, TB_EINVAL, "sched: %d backend entries (at most %d)", n,
                          TB_SCHED_MAX_ENTRIES - 1);
    for (int i = 0; i < n; i++) {
        int rc = open_entry(&out->e[out->n], names[i], cfg, err);
        out->n++;
        if (rc) {
            tb_sched_backends_close(out);
            return rc;
        }
    }
    const int has_cpu_last = out->n > 0 && !strcmp(out->e[out->n - 1].label, "cpu");
    if (!has_cpu_last) {
        open_entry(&out->e[out->n], "cpu", cfg, err);
        out->n++;
    }
    if (!out->e[out->n - 1].b) {
        tb_err_set(err, TB_EBACKEND, "sched: the cpu backend is unavailable: %s",
                   out->e[out->n - 1].disabled_reason);
        tb_sched_backends_close(out);
        return TB_EBACKEND;
    }
    return TB_OK;
}

void tb_sched_backends_close(struct tb_sched_backends *bs)
{
    for (int i = 0; i < bs->n; i++)
        tb_backend_free(bs->e[i].b);
    memset(bs, 0, sizeof *bs);
}

/* ----------------------------------------------------------- scheduler */

struct tb_sched {
    struct tb_sched_entry e[TB_SCHED_MAX_ENTRIES];
    int n;
    struct tb_sched_opts opts;
    char accel[TB_SCHED_MAX_ENTRIES][16];
    struct tb_sched_plan plan;
    int cap; /* plan arrays' capacity */
    int have_plan;
    int plan_rc; /* the no_cpu_fallback verdict of the cached plan */
    char plan_msg[TB_ERR_MSG_MAX];
    const void **wptr; /* [cap] weights counted per entry (memory reason) */
    int *wentry;
    unsigned char *pre, *got; /* output-check scratch */
    size_t scratch;
};

int tb_sched_create(const struct tb_sched_entry *entries, int n_entries,
                    const struct tb_sched_opts *opts, struct tb_sched **out, struct tb_err *err)
{
    *out = NULL;
    if (n_entries < 1 || n_entries > TB_SCHED_MAX_ENTRIES)
        return tb_err_set(err, TB_EINVAL, "sched: %d entries (1..%d)", n_entries,
                          TB_SCHED_MAX_ENTRIES);
    const struct tb_sched_entry *last = &entries[n_entries - 1];
    if (!last->b || tb_backend_device_kind(last->b) != TB_DEVICE_CPU)
        return tb_err_set(err, TB_EINVAL,
                          "sched: the last entry ('%s') must be a created CPU "
                          "backend (the always-available fallback)",
                          last->label);
    struct tb_sched *s = calloc(1, sizeof *s);
    if (!s)
        return tb_err_set(err, TB_ENOMEM, "sched: out of memory");
    memcpy(s->e, entries, (size_t)n_entries * sizeof *entries);
    s->n = n_entries;
    if (opts)
        s->opts = *opts;
    else
        tb_sched_opts_default(&s->opts);
    if (s->opts.n_accel_op_classes > TB_SCHED_MAX_ENTRIES) {
        const int n = s->opts.n_accel_op_classes;
        free(s);
        return tb_err_set(err, TB_EINVAL, "sched: %d accelerator op classes (at most %d)", n,
                          TB_SCHED_MAX_ENTRIES);
    }
    for (int i = 0; i < s->opts.n_accel_op_classes; i++)
        snprintf(s->accel[i], sizeof s->accel[i], "%s", s->opts.accel_op_classes[i]);
    s->opts.accel_op_classes = (const char(*)[16])s->accel; /* no dangling borrow */
    *out = s;
    return TB_OK;
}

void tb_sched_free(struct tb_sched *s)
{
    if (!s)
        return;
    free(s->plan.ops);
    free(s->plan.segs);
    free(s->wptr);
    free(s->wentry);
    free(s->pre);
    free(s->got);
    free(s);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Everything supports_op may look at, except positions (a decode loop must
 * not replan per token). */
static uint64_t graph_sig(const struct tb_graph *g)
{
    uint64_t h = fnv(1469598103934665603ull, &g->n_ops, sizeof g->n_ops);
    for (int i = 0; i < g->n_ops; i++) {
        const struct tb_op *op = &g->ops[i];
        h = fnv(h, &op->kind, sizeof op->kind);
        const struct tb_tensor *t[TB_OP_MAX_SRC + 1] = {op->src[0], op->src[1], op->src[2],
                                                        op->dst};
        for (int j = 0; j <= TB_OP_MAX_SRC; j++) {
            if (!t[j])
                continue;
            h = fnv(h, &t[j]->type, sizeof t[j]->type);
            h = fnv(h, t[j]->ne, sizeof t[j]->ne);
            h = fnv(h, &t[j]->data, sizeof t[j]->data);
        }
    }
    return h;
}

static int is_accel_class(const struct tb_sched *s, enum tb_op_kind k)
{
    for (int i = 0; i < s->opts.n_accel_op_classes; i++)
        if (!strcmp(s->accel[i], tb_op_kind_name(k)))
            return 1;
    return 0;
}

/* The op's weight (resident tensor) for memory accounting, or NULL. */
static const struct tb_tensor *op_weight(const struct tb_op *op)
{
    return (op->kind == TB_OP_MATMUL || op->kind == TB_OP_GET_ROWS) ? op->src[0] : NULL;
}

static int keeps_type(enum tb_type t)
{
    return t == TB_TYPE_F32 || t == TB_TYPE_I32;
}

/* unsupported-type vs unsupported-op: the same op with every non-f32
 * operand (weights, f16 caches) replaced by an f32 tensor of the same
 * shape. supports_op only inspects, so the substitute's data is never read. */
static int declined_for_type(const struct tb_backend *b, const struct tb_op *op, char *what,
                             size_t n)
{
    struct tb_op sub = *op;
    struct tb_tensor t[TB_OP_MAX_SRC + 1];
    int changed = 0;
    what[0] = '\0';
    for (int j = 0; j <= TB_OP_MAX_SRC; j++) {
        const struct tb_tensor *src = j < TB_OP_MAX_SRC ? op->src[j] : op->dst;
        if (!src || keeps_type(src->type))
            continue;
        if (tb_tensor_init(&t[j], TB_TYPE_F32, TB_MAX_DIMS, src->ne, src->data, src->name))
            continue;
        if (!changed)
            snprintf(what, n, "%s", tb_type_name(src->type));
        changed = 1;
        if (j < TB_OP_MAX_SRC)
            sub.src[j] = &t[j];
        else
            sub.dst = &t[j];
    }
    return changed && tb_backend_supports_op(b, &sub);
}

static int ensure_cap(struct tb_sched *s, int n, struct tb_err *err)
{
    if (n <= s->cap)
        return TB_OK;
    struct tb_placement *p = realloc(s->plan.ops, (size_t)n * sizeof *p);
    if (p)
        s->plan.ops = p;
    struct tb_sched_segment *sg = realloc(s->plan.segs, (size_t)n * sizeof *sg);
    if (sg)
        s->plan.segs = sg;
    const void **w = realloc(s->wptr, (size_t)n * sizeof *w);
    if (w)
        s->wptr = w;
    int *we = realloc(s->wentry, (size_t)n * sizeof *we);
    if (we)
        s->wentry = we;
    if (!p || !sg || !w || !we)
        return tb_err_set(err, TB_ENOMEM, "sched: out of memory for a plan of %d ops", n);
    s->cap = n;
    return TB_OK;
}

/* Why entry e cannot take op; TB_REASON_NONE when it can. used[] holds the
 * weight bytes counted per entry so far; *nw the counted (entry, weight). */
static enum tb_sched_reason reject(struct tb_sched *s, int e, const struct tb_op *op,
                                   const uint64_t *used, int nw, char *text, size_t n)
{
    const struct tb_sched_entry *en = &s->e[e];
    if (!en->b) {
        snprintf(text, n, "backend-unavailable: %s", en->disabled_reason);
        return TB_REASON_BACKEND_UNAVAILABLE;
    }
    const enum tb_device_kind dk = tb_backend_device_kind(en->b);
    if (s->opts.kind_policy == TB_SCHED_KIND_ENFORCE && en->want_kind >= 0 &&
        (int)dk != en->want_kind) {
        snprintf(text, n, "profile-forbids: %s wants a %s, device '%s' is a %s", en->label,
                 tb_device_kind_name((enum tb_device_kind)en->want_kind),
                 tb_backend_device_name(en->b), tb_device_kind_name(dk));
        return TB_REASON_PROFILE_FORBIDS;
    }
    if (!tb_backend_supports_op(en->b, op)) {
        char ty[32];
        if (declined_for_type(en->b, op, ty, sizeof ty)) {
            snprintf(text, n, "unsupported-type: %s declines %s with %s operands", en->label,
                     tb_op_kind_name(op->kind), ty);
            return TB_REASON_UNSUPPORTED_TYPE;
        }
        snprintf(text, n, "unsupported-op: %s declines %s", en->label, tb_op_kind_name(op->kind));
        return TB_REASON_UNSUPPORTED_OP;
    }
    const struct tb_tensor *w = op_weight(op);
    if (en->memory_bytes && w) {
        for (int i = 0; i < nw; i++)
            if (s->wentry[i] == e && s->wptr[i] == w->data)
                return TB_REASON_NONE; /* already resident */
        const uint64_t need = used[e] + tb_tensor_nbytes(w);
        if (need > en->memory_bytes) {
            snprintf(text, n, "memory: %s would hold %llu weight bytes, its limit is %llu",
                     en->label, (unsigned long long)need, (unsigned long long)en->memory_bytes);
            return TB_REASON_MEMORY;
        }
    }
    return TB_REASON_NONE;
}

/* Ops that land on a CPU device other than the first choice. */
static int check_no_cpu_fallback(struct tb_sched *s, const struct tb_graph *g)
{
    const struct tb_sched_plan *pl = &s->plan;
    int n_bad = 0, len = 0;
    char list[TB_ERR_MSG_MAX - 128] = "";
    for (int i = 0; i < pl->n_ops; i++) {
        const struct tb_placement *p = &pl->ops[i];
        if (p->entry == 0 || p->device_kind != TB_DEVICE_CPU)
            continue;
        n_bad++;
        if (len >= 0 && len < (int)sizeof list - 80) {
            int w =
                snprintf(list + len, sizeof list - (size_t)len, "%s%s (%s)", n_bad > 1 ? ", " : "",
                         g->ops[i].name, tb_sched_reason_name(p->reason));
            len = w < 0 ? -1 : len + w;
        }
    }
    if (!n_bad)
        return TB_OK;
    snprintf(s->plan_msg, sizeof s->plan_msg,
             "no-cpu-fallback: %d of %d ops would fall back to the CPU: %s%s", n_bad, pl->n_ops,
             list, len >= (int)sizeof list - 80 ? ", ..." : "");
    return TB_EUNSUPPORTED;
}

static int make_plan(struct tb_sched *s, const struct tb_graph *g, struct tb_err *err)
{
    int rc = ensure_cap(s, g->n_ops > 0 ? g->n_ops : 1, err);
    if (rc)
        return rc;
    struct tb_sched_plan *pl = &s->plan;
    uint64_t used[TB_SCHED_MAX_ENTRIES] = {0};
    int nw = 0;
    pl->n_ops = g->n_ops;
    pl->n_segs = 0;
    pl->n_copies = 0;
    const struct tb_sched_entry *e0 = &s->e[0];
    pl->first_choice_kind = e0->want_kind >= 0 ? e0->want_kind
                            : e0->b            ? (int)tb_backend_device_kind(e0->b)
                                               : TB_DEVICE_OTHER;
    for (int i = 0; i < g->n_ops; i++) {
        const struct tb_op *op = &g->ops[i];
        struct tb_placement *p = &pl->ops[i];
        memset(p, 0, sizeof *p);
        p->entry = -1;
        for (int e = 0; e < s->n; e++) {
            char text[TB_SCHED_REASON_MAX];
            const enum tb_sched_reason r = reject(s, e, op, used, nw, text, sizeof text);
            if (r == TB_REASON_NONE) {
                p->entry = e;
                break;
            }
            if (e == 0) {
                p->reason = r;
                copy_text(p->reason_text, sizeof p->reason_text, text);
            }
        }
        if (p->entry < 0) {
            s->have_plan = 0;
            return tb_err_set(err, TB_EUNSUPPORTED,
                              "sched: no backend (not even %s) supports "
                              "op %s (%s)",
                              s->e[s->n - 1].label, op->name, tb_op_kind_name(op->kind));
        }
        const struct tb_sched_entry *en = &s->e[p->entry];
        const struct tb_tensor *w = op_weight(op);
        if (en->memory_bytes && w) {
            int seen = 0;
            for (int k = 0; k < nw && !seen; k++)
                seen = s->wentry[k] == p->entry && s->wptr[k] == w->data;
            if (!seen) {
                s->wentry[nw] = p->entry;
                s->wptr[nw++] = w->data;
                used[p->entry] += tb_tensor_nbytes(w);
            }
        }
        p->label = en->label;
        p->backend = tb_backend_name(en->b);
        p->device = tb_backend_device_name(en->b);
        p->device_kind = tb_backend_device_kind(en->b);
        p->claimed_kind = (s->opts.kind_policy == TB_SCHED_KIND_TRUST && en->want_kind >= 0)
                              ? (enum tb_device_kind)en->want_kind
                              : p->device_kind;
        p->accel_required = is_accel_class(s, op->kind);
        if (pl->n_segs == 0 || pl->segs[pl->n_segs - 1].entry != p->entry) {
            if (pl->n_segs > 0)
                pl->n_copies++;
            pl->segs[pl->n_segs++] =
                (struct tb_sched_segment){.first = i, .count = 0, .entry = p->entry};
        }
        pl->segs[pl->n_segs - 1].count++;
        p->segment = pl->n_segs - 1;
    }
    pl->sig = graph_sig(g);
    s->have_plan = 1;
    s->plan_rc = s->opts.no_cpu_fallback ? check_no_cpu_fallback(s, g) : TB_OK;
    return TB_OK;
}

int tb_sched_plan(struct tb_sched *s, const struct tb_graph *g, const struct tb_sched_plan **plan,
                  struct tb_err *err)
{
    if (plan)
        *plan = NULL;
    if (!s->have_plan || s->plan.sig != graph_sig(g)) {
        int rc = make_plan(s, g, err);
        if (rc)
            return rc;
    }
    if (plan)
        *plan = &s->plan;
    if (s->plan_rc)
        return tb_err_set(err, s->plan_rc, "%s", s->plan_msg);
    return TB_OK;
}

/* ----------------------------------------------------------- execution */

static int grow_scratch(struct tb_sched *s, size_t n, struct tb_err *err)
{
    if (n <= s->scratch)
        return TB_OK;
    unsigned char *a = realloc(s->pre, n), *b = a ? realloc(s->got, n) : NULL;
    if (a)
        s->pre = a;
    if (b)
        s->got = b;
    if (!a || !b)
        return tb_err_set(err, TB_ENOMEM, "sched: out of memory for output checks (%zu bytes)", n);
    s->scratch = n;
    return TB_OK;
}

static float elem(const struct tb_tensor *t, const unsigned char *base, size_t i)
{
    if (t->type == TB_TYPE_F16)
        return tb_fp16_to_fp32(((const tb_fp16 *)(const void *)base)[i]);
    return ((const float *)(const void *)base)[i];
}

/* Steal around an op: read before the op's clocks start and after they
 * stop, so the window covers the op. */
struct steal_mark {
    int cpu, known;
    uint64_t switches, cpu_ns, all_ns;
};

static void steal_mark(struct steal_mark *m)
{
    m->cpu = tb_thread_current_cpu();
    m->switches = tb_thread_ctx_switches();
    m->known = tb_steal_ns(m->cpu, &m->cpu_ns, &m->all_ns);
}

/* The steal of the CPU the thread ran on when it provably stayed there (same
 * CPU at both ends, no context switch between: a thread migrates only
 * through one), else of all CPUs: never less than the steal that hit it. */
static void steal_delta(const struct steal_mark *a, const struct steal_mark *b,
                        struct tb_op_run_evidence *x)
{
    x->steal_known = a->known && b->known;
    if (!x->steal_known)
        return;
    const int one = a->cpu >= 0 && a->cpu == b->cpu && a->switches && a->switches == b->switches;
    const uint64_t s0 = one ? a->cpu_ns : a->all_ns, s1 = one ? b->cpu_ns : b->all_ns;
    x->steal_ns = s1 > s0 ? s1 - s0 : 0;
    x->steal_cpu = one ? a->cpu : -1;
}

/* Runs op i on backend b, collecting evidence; with a reference backend,
 * replays it there from the same input state and compares. The placement
 * backend's output is what the graph keeps. */
static int run_op_evidence(struct tb_sched *s, const struct tb_graph *g, int i,
                           struct tb_backend *b, struct tb_sched_evidence *ev, uint64_t *op_ns,
                           struct tb_err *err)
{
    const struct tb_op *op = &g->ops[i];
    struct tb_op_run_evidence *x = &ev->ops[i];
    memset(x, 0, sizeof *x);
    const int check = ev->ref && ev->check_period > 0 &&
                      ((uint64_t)i + ev->run_index) % (uint64_t)ev->check_period == 0 &&
                      (op->dst->type == TB_TYPE_F32 || op->dst->type == TB_TYPE_F16);
    const size_t nb = tb_tensor_nbytes(op->dst);
    if (check) {
        int rc = grow_scratch(s, nb, err);
        if (rc)
            return rc;
        memcpy(s->pre, op->dst->data, nb); /* in-place ops: the input too */
    }
    /* the calling thread's own CPU clock is the host-time evidence: unlike
     * wall time it does not grow while the thread is descheduled */
    struct steal_mark sm0, sm1;
    steal_mark(&sm0);
    const uint64_t q0 = tb_thread_runq_wait_ns();
    const uint64_t c0 = tb_process_cpu_ns();
    const uint64_t h0 = tb_thread_cpu_ns();
    const uint64_t t0 = tb_now_ns();
    int rc = tb_backend_compute_graph(b, g, i, 1, NULL, err);
    if (!rc)
        rc = tb_backend_synchronize(b, err);
    const uint64_t t1 = tb_now_ns();
    const uint64_t h1 = tb_thread_cpu_ns();
    const uint64_t c1 = tb_process_cpu_ns();
    const uint64_t q1 = tb_thread_runq_wait_ns();
    steal_mark(&sm1);
    if (rc)
        return tb_err_wrap(err, rc, "sched: op %s on %s", op->name, tb_backend_name(b));
    x->wall_ns = t1 - t0;
    x->host_cpu_ns = c1 > c0 ? c1 - c0 : 0;
    x->thread_cpu_ns = h1 > h0 ? h1 - h0 : 0;
    x->thread_clock = h1 != 0;
    x->runq_wait_ns = q1 > q0 ? q1 - q0 : 0;
    steal_delta(&sm0, &sm1, x);
    x->device_kind = tb_backend_device_kind(b);
    struct tb_op_evidence oe;
    if (tb_backend_op_evidence(b, &oe, NULL) == TB_OK) {
        x->has_device_evidence = 1;
        x->launches = oe.last_launches;
        x->device_ns = oe.last_device_ns;
        x->h2d_bytes = oe.last_h2d_bytes;
        x->d2h_bytes = oe.last_d2h_bytes;
        x->kv_h2d_bytes = oe.last_kv_h2d_bytes;
    }
    if (op_ns)
        op_ns[i] = x->wall_ns;
    if (!check)
        return TB_OK;
    memcpy(s->got, op->dst->data, nb);
    memcpy(op->dst->data, s->pre, nb);
    rc = tb_backend_compute_graph(ev->ref, g, i, 1, NULL, err);
    if (rc)
        return tb_err_wrap(err, rc, "sched: reference run of op %s", op->name);
    const size_t ne = (size_t)tb_tensor_nelements(op->dst);
    double max_err = 0.0, max_ref = 0.0;
    for (size_t k = 0; k < ne; k++) {
        const double r = elem(op->dst, op->dst->data, k), v = elem(op->dst, s->got, k);
        const double d = fabs(r - v);
        max_err = (d > max_err || isnan(d)) ? (isnan(d) ? INFINITY : d) : max_err;
        max_ref = fabs(r) > max_ref ? fabs(r) : max_ref;
    }
    memcpy(op->dst->data, s->got, nb);
    x->out_checked = 1;
    x->out_max_err = max_err;
    x->out_max_ref = max_ref;
    return TB_OK;
}

/* After segment sg: the host bytes its ops wrote (a KV_STORE only its
 * rows, not the whole cache) go to every other backend, which drops device
 * copies of them (resident KV caches, tb_backend_host_written). */
static void segment_written(const struct tb_sched *s, const struct tb_graph *g,
                            const struct tb_sched_segment *sg)
{
    const struct tb_backend *self = s->e[sg->entry].b;
    for (int k = 0; k < s->n; k++) {
        struct tb_backend *o = s->e[k].b;
        int seen = o == NULL || o == self;
        for (int j = 0; j < k && !seen; j++)
            seen = s->e[j].b == o; /* one backend listed twice */
        for (int i = sg->first; !seen && i < sg->first + sg->count; i++) {
            const struct tb_op *op = &g->ops[i];
            if (op->kind == TB_OP_KV_STORE) {
                const int64_t n = tb_tensor_nrows(op->src[0]);
                tb_backend_host_written(o, tb_tensor_row(op->dst, op->p.pos0),
                                        (size_t)op->dst->nb[1] * (size_t)n);
            } else {
                tb_backend_host_written(o, op->dst->data, tb_tensor_nbytes(op->dst));
            }
        }
    }
}

int tb_sched_compute(struct tb_sched *s, const struct tb_graph *g, uint64_t *op_ns,
                     struct tb_sched_evidence *ev, struct tb_err *err)
{
    const struct tb_sched_plan *pl = NULL;
    int rc = tb_sched_plan(s, g, &pl, err);
    if (rc)
        return rc;
    if (ev && (!ev->ops || ev->cap < g->n_ops))
        return tb_err_set(err, TB_EINVAL, "sched: evidence buffer holds %d ops, graph has %d",
                          ev->ops ? ev->cap : 0, g->n_ops);
    for (int k = 0; k < pl->n_segs; k++) {
        const struct tb_sched_segment *sg = &pl->segs[k];
        struct tb_backend *b = s->e[sg->entry].b;
        if (!ev) {
            rc = tb_backend_compute_graph(b, g, sg->first, sg->count,
                                          op_ns ? op_ns + sg->first : NULL, err);
            if (rc)
                rc = tb_err_wrap(err, rc, "sched: segment %d (%s, ops %d..%d)", k,
                                 s->e[sg->entry].label, sg->first, sg->first + sg->count - 1);
        } else {
            for (int i = sg->first; i < sg->first + sg->count && !rc; i++)
                rc = run_op_evidence(s, g, i, b, ev, op_ns, err);
        }
        segment_written(s, g, sg); /* a failed segment may have written some */
        if (rc)
            return rc;
    }
    if (ev)
        ev->run_index++;
    return TB_OK;
}

int tb_sched_graph_runner(void *ctx, const struct tb_graph *g, uint64_t *op_ns, struct tb_err *err)
{
    struct tb_sched_run *r = ctx;
    return tb_sched_compute(r->sched, g, op_ns, r->evidence, err);
}

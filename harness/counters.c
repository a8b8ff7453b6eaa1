/* PAPI event counters: one event set per tb_counters, per-event availability
 * with PAPI's own reasons. */
#include "harness/tb_counters.h"

#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tb_util.h"

#define MAX_EVENTS 32

struct tb_counters {
    struct tb_counter ev[MAX_EVENTS];
    int slot[MAX_EVENTS]; /* index in PAPI's value array, -1 when unavailable */
    int n, n_added;
    int eventset; /* PAPI_NULL when none */
    bool running, multiplexed;
    char disabled[160]; /* "" when PAPI works */
    char scope[200];
    char multiplex_refused[160];
};

static void set_unavailable(struct tb_counter *e, const char *reason)
{
    e->available = false;
    tb_copy_str(e->reason, sizeof e->reason, reason);
}

struct list_ctx {
    struct tb_counters *c;
    const char *events;
    struct tb_err *err;
};

static int add_event(const char *item, size_t len, void *ctx)
{
    struct list_ctx *l = ctx;
    struct tb_counters *c = l->c;
    if (len == 0)
        return tb_err_set(l->err, TB_EINVAL, "counters: empty event name in '%s'", l->events);
    if (len >= sizeof c->ev[0].name)
        return tb_err_set(l->err, TB_EINVAL, "counters: event name '%.*s' too long", (int)len,
                          item);
    if (c->n == MAX_EVENTS)
        return tb_err_set(l->err, TB_EINVAL, "counters: more than %d events", MAX_EVENTS);
    memcpy(c->ev[c->n].name, item, len);
    c->ev[c->n].name[len] = '\0';
    c->n++;
    return TB_OK;
}

/* Splits "a, b,c" into trimmed names; no events at all is an empty list. */
static int parse_list(struct tb_counters *c, const char *events, struct tb_err *err)
{
    if (!events || !*events)
        return TB_OK;
    struct list_ctx l = {c, events, err};
    return tb_list_each(events, add_event, &l);
}

/* PAPI's init is process-wide and idempotent; not safe to race from two
 * threads (create counters from one thread at a time). */
int tb_papi_init(struct tb_err *err)
{
    if (PAPI_is_initialized() != PAPI_NOT_INITED)
        return TB_OK;
    int v = PAPI_library_init(PAPI_VER_CURRENT);
    if (v == PAPI_VER_CURRENT)
        return TB_OK;
    if (v > 0)
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "PAPI_library_init: library version %d.%d does not match header %d.%d",
                          PAPI_VERSION_MAJOR(v), PAPI_VERSION_MINOR(v),
                          PAPI_VERSION_MAJOR(PAPI_VER_CURRENT),
                          PAPI_VERSION_MINOR(PAPI_VER_CURRENT));
    return tb_err_set(err, TB_EUNSUPPORTED, "PAPI_library_init: %s", PAPI_strerror(v));
}

static void set_scope_inherit(struct tb_counters *c)
{
    PAPI_option_t opt;
    memset(&opt, 0, sizeof opt);
    opt.inherit.eventset = c->eventset;
    opt.inherit.inherit = PAPI_INHERIT_ALL;
    int rc = PAPI_set_opt(PAPI_INHERIT, &opt);
    if (rc == PAPI_OK)
        snprintf(c->scope, sizeof c->scope, "calling thread + threads created after start");
    else
        snprintf(c->scope, sizeof c->scope, "calling thread (PAPI_INHERIT refused: %s)",
                 PAPI_strerror(rc));
}

static void disable_all(struct tb_counters *c, const char *why)
{
    tb_copy_str(c->disabled, sizeof c->disabled, why);
    for (int i = 0; i < c->n; i++) {
        set_unavailable(&c->ev[i], why);
        c->slot[i] = -1;
    }
}

int tb_counters_create(const char *events, unsigned flags, struct tb_counters **out,
                       struct tb_err *err)
{
    *out = NULL;
    struct tb_counters *c = calloc(1, sizeof *c);
    if (!c)
        return tb_err_set(err, TB_ENOMEM, "counters: out of memory");
    c->eventset = PAPI_NULL;
    snprintf(c->scope, sizeof c->scope, "calling thread");
    int rc = parse_list(c, events, err);
    if (rc) {
        free(c);
        return rc;
    }
    char why[160];
    struct tb_err init_err = {0};
    if (tb_papi_init(&init_err) != 0) {
        disable_all(c, init_err.msg);
        *out = c;
        return TB_OK;
    }
    int cid = PAPI_get_component_index("perf_event");
    if (cid < 0)
        cid = 0;
    /* PAPI starts without its perf_event component where libpfm4 does not
     * know the CPU (seen: AMD family 0x1a in a VM): every event, software ones
     * included, is then missing, and the component says why */
    const PAPI_component_info_t *ci = PAPI_get_component_info(cid);
    if (ci && ci->disabled) {
        snprintf(why, sizeof why, "PAPI component %.20s disabled: %.100s", ci->name,
                 ci->disabled_reason[0] ? ci->disabled_reason : PAPI_strerror(ci->disabled));
        disable_all(c, why);
        *out = c;
        return TB_OK;
    }
    if ((rc = PAPI_create_eventset(&c->eventset)) != PAPI_OK ||
        (rc = PAPI_assign_eventset_component(c->eventset, cid)) != PAPI_OK) {
        snprintf(why, sizeof why, "PAPI event set: %s", PAPI_strerror(rc));
        disable_all(c, why);
        *out = c;
        return TB_OK;
    }
    if (flags & TB_COUNTERS_INHERIT)
        set_scope_inherit(c);
    /* multiplexing must be chosen before events are added */
    int hw = PAPI_num_cmp_hwctrs(cid);
    if (hw > 0 && c->n > hw) {
        if ((rc = PAPI_multiplex_init()) == PAPI_OK &&
            (rc = PAPI_set_multiplex(c->eventset)) == PAPI_OK)
            c->multiplexed = true;
        else
            snprintf(c->multiplex_refused, sizeof c->multiplex_refused, "%s", PAPI_strerror(rc));
    }
    for (int i = 0; i < c->n; i++) {
        rc = PAPI_add_named_event(c->eventset, c->ev[i].name);
        if (rc == PAPI_OK) {
            c->ev[i].available = true;
            c->slot[i] = c->n_added++;
        } else {
            set_unavailable(&c->ev[i], PAPI_strerror(rc));
            c->slot[i] = -1;
        }
    }
    *out = c;
    return TB_OK;
}

void tb_counters_free(struct tb_counters *c)
{
    if (!c)
        return;
    if (c->eventset != PAPI_NULL) {
        long long sink[MAX_EVENTS];
        if (c->running)
            PAPI_stop(c->eventset, sink);
        PAPI_cleanup_eventset(c->eventset);
        PAPI_destroy_eventset(&c->eventset);
    }
    free(c);
}

const char *tb_counters_disabled_reason(const struct tb_counters *c)
{
    return c->disabled[0] ? c->disabled : NULL;
}

const char *tb_counters_scope(const struct tb_counters *c)
{
    return c->scope;
}

int tb_counters_n(const struct tb_counters *c)
{
    return c->n;
}

const struct tb_counter *tb_counters_get(const struct tb_counters *c, int i)
{
    return i >= 0 && i < c->n ? &c->ev[i] : NULL;
}

const struct tb_counter *tb_counters_find(const struct tb_counters *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->ev[i].name, name))
            return &c->ev[i];
    return NULL;
}

bool tb_counters_multiplexed(const struct tb_counters *c, const char **why_not)
{
    if (why_not)
        *why_not = c->multiplex_refused;
    return c->multiplexed;
}

static void store_values(struct tb_counters *c, const long long *vals)
{
    for (int i = 0; i < c->n; i++)
        if (c->slot[i] >= 0)
            c->ev[i].value = vals[c->slot[i]];
}

int tb_counters_start(struct tb_counters *c, struct tb_err *err)
{
    if (c->n_added == 0 || c->running)
        return TB_OK;
    int rc = PAPI_start(c->eventset);
    if (rc != PAPI_OK)
        return tb_err_set(err, TB_EBACKEND, "counters: PAPI_start: %s", PAPI_strerror(rc));
    c->running = true;
    return TB_OK;
}

int tb_counters_read(struct tb_counters *c, struct tb_err *err)
{
    if (!c->running)
        return c->n_added ? tb_err_set(err, TB_EINVAL, "counters: read before start") : TB_OK;
    long long vals[MAX_EVENTS] = {0};
    int rc = PAPI_read(c->eventset, vals);
    if (rc != PAPI_OK)
        return tb_err_set(err, TB_EBACKEND, "counters: PAPI_read: %s", PAPI_strerror(rc));
    store_values(c, vals);
    return TB_OK;
}

int tb_counters_stop(struct tb_counters *c, struct tb_err *err)
{
    if (!c->running)
        return c->n_added ? tb_err_set(err, TB_EINVAL, "counters: stop before start") : TB_OK;
    long long vals[MAX_EVENTS] = {0};
    int rc = PAPI_stop(c->eventset, vals);
    c->running = false;
    if (rc != PAPI_OK)
        return tb_err_set(err, TB_EBACKEND, "counters: PAPI_stop: %s", PAPI_strerror(rc));
    store_values(c, vals);
    return TB_OK;
}

/* num/den when both events were counted and den > 0. */
static int ratio(const struct tb_counters *c, const char *num, const char *den, double *out)
{
    const struct tb_counter *a = tb_counters_find(c, num), *b = tb_counters_find(c, den);
    if (!a || !b || !a->available || !b->available || b->value <= 0)
        return TB_EUNSUPPORTED;
    *out = (double)a->value / (double)b->value;
    return TB_OK;
}

int tb_counters_ipc(const struct tb_counters *c, double *ipc)
{
    return ratio(c, "PAPI_TOT_INS", "PAPI_TOT_CYC", ipc);
}

int tb_counters_miss_rate(const struct tb_counters *c, double *rate, const char **what)
{
    static const char *const pairs[][3] = {
        {"PAPI_L1_DCM", "PAPI_L1_DCA", "L1D misses/accesses"},
        {"PAPI_L2_TCM", "PAPI_L2_TCA", "L2 misses/accesses"},
        {"perf::CACHE-MISSES", "perf::CACHE-REFERENCES", "LLC misses/references"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (ratio(c, pairs[i][0], pairs[i][1], rate) == TB_OK) {
            if (what)
                *what = pairs[i][2];
            return TB_OK;
        }
    return TB_EUNSUPPORTED;
}

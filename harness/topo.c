/* Topology summary, binding plans and thread binding over hwloc. */
#include "harness/tb_topo.h"

#include <errno.h>
#include <hwloc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "harness/tb_env.h"
#include "harness/tb_profile.h"

struct tb_topo {
    hwloc_topology_t topo;
};

typedef int (*topo_setup_fn)(hwloc_topology_t t, const char *arg);

static int setup_none(hwloc_topology_t t, const char *arg)
{
    (void)t;
    (void)arg;
    return 0;
}

static int setup_xml(hwloc_topology_t t, const char *arg)
{
    return hwloc_topology_set_xml(t, arg);
}

static int setup_synthetic(hwloc_topology_t t, const char *arg)
{
    return hwloc_topology_set_synthetic(t, arg);
}

/* One opener for all three sources: init, source setup, load. */
static int topo_open(topo_setup_fn setup, const char *arg, const char *what, struct tb_topo **out,
                     struct tb_err *err)
{
    *out = NULL;
    struct tb_topo *t = calloc(1, sizeof *t);
    if (!t)
        return tb_err_set(err, TB_ENOMEM, "topology: out of memory");
    if (hwloc_topology_init(&t->topo) != 0) {
        free(t);
        return tb_err_set(err, TB_ENOMEM, "topology: hwloc_topology_init failed");
    }
    if (setup(t->topo, arg) != 0) {
        int e = errno;
        hwloc_topology_destroy(t->topo);
        free(t);
        return tb_err_set(err, TB_EINVAL, "topology: %s '%s' rejected by hwloc: %s", what,
                          arg ? arg : "", strerror(e));
    }
    if (hwloc_topology_load(t->topo) != 0) {
        int e = errno;
        hwloc_topology_destroy(t->topo);
        free(t);
        return tb_err_set(err, TB_EIO, "topology: loading %s failed: %s", what, strerror(e));
    }
    *out = t;
    return TB_OK;
}

int tb_topo_open_host(struct tb_topo **out, struct tb_err *err)
{
    return topo_open(setup_none, NULL, "host", out, err);
}

int tb_topo_open_xml(const char *path, struct tb_topo **out, struct tb_err *err)
{
    return topo_open(setup_xml, path, "XML file", out, err);
}

int tb_topo_open_synthetic(const char *description, struct tb_topo **out, struct tb_err *err)
{
    return topo_open(setup_synthetic, description, "synthetic description", out, err);
}

void tb_topo_free(struct tb_topo *t)
{
    if (!t)
        return;
    hwloc_topology_destroy(t->topo);
    free(t);
}

static int count_type(hwloc_topology_t t, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(t, type);
    return n < 0 ? 0 : n;
}

static void cache_level(hwloc_topology_t t, hwloc_obj_type_t type, uint64_t *bytes, int *count)
{
    *count = count_type(t, type);
    hwloc_obj_t o = *count ? hwloc_get_obj_by_type(t, type, 0) : NULL;
    *bytes = o && o->attr ? (uint64_t)o->attr->cache.size : 0;
}

void tb_topo_summarize(const struct tb_topo *tt, struct tb_topo_summary *s)
{
    hwloc_topology_t t = tt->topo;
    memset(s, 0, sizeof *s);
    s->packages = count_type(t, HWLOC_OBJ_PACKAGE);
    s->cores = count_type(t, HWLOC_OBJ_CORE);
    s->pus = count_type(t, HWLOC_OBJ_PU);
    s->numa_nodes = count_type(t, HWLOC_OBJ_NUMANODE);
    cache_level(t, HWLOC_OBJ_L1CACHE, &s->l1d_bytes, &s->l1d_count);
    cache_level(t, HWLOC_OBJ_L2CACHE, &s->l2_bytes, &s->l2_count);
    cache_level(t, HWLOC_OBJ_L3CACHE, &s->l3_bytes, &s->l3_count);
    s->total_memory = hwloc_get_root_obj(t)->total_memory;
    s->is_this_system = hwloc_topology_is_thissystem(t) != 0;
}

int tb_topo_summary_format(const struct tb_topo_summary *s, char *buf, size_t n)
{
    char l1[32], l2[32], l3[32], mem[32];
    tb_format_bytes(s->l1d_bytes, l1, sizeof l1);
    tb_format_bytes(s->l2_bytes, l2, sizeof l2);
    tb_format_bytes(s->l3_bytes, l3, sizeof l3);
    tb_format_bytes(s->total_memory, mem, sizeof mem);
    return snprintf(buf, n,
                    "%d package(s), %d core(s), %d PU(s), %d NUMA node(s), L1d %s x%d, "
                    "L2 %s x%d, L3 %s x%d, memory %s%s",
                    s->packages, s->cores, s->pus, s->numa_nodes, l1, s->l1d_count, l2, s->l2_count,
                    l3, s->l3_count, mem, s->is_this_system ? "" : " (not this host)");
}

static const char *const k_policy_names[] = {"none", "compact", "spread"};

const char *tb_bind_policy_name(enum tb_bind_policy p)
{
    return (p >= TB_BIND_NONE && p <= TB_BIND_SPREAD) ? k_policy_names[p] : "unknown";
}

int tb_bind_policy_from_name(const char *name)
{
    for (int i = 0; i <= TB_BIND_SPREAD; i++)
        if (!strcmp(name, k_policy_names[i]))
            return i;
    return -1;
}

int tb_topo_cpuset_check(const char *list, struct tb_err *err)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return tb_err_set(err, TB_ENOMEM, "cpuset: out of memory");
    int rc = hwloc_bitmap_list_sscanf(set, list);
    int empty = rc == 0 && hwloc_bitmap_iszero(set);
    hwloc_bitmap_free(set);
    if (rc != 0 || empty)
        return tb_err_set(err, TB_EINVAL, "cpuset '%s' is not a CPU list like 0-3,8", list);
    return TB_OK;
}

/* The PUs a plan may use: the topology's allowed PUs, optionally narrowed
 * to the cpuset list. Caller frees. */
static int allowed_pus(hwloc_topology_t t, const char *cpuset, hwloc_bitmap_t *out,
                       struct tb_err *err)
{
    hwloc_bitmap_t set = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
    if (!set)
        return tb_err_set(err, TB_ENOMEM, "binding plan: out of memory");
    if (cpuset && *cpuset) {
        hwloc_bitmap_t want = hwloc_bitmap_alloc();
        if (!want || hwloc_bitmap_list_sscanf(want, cpuset) != 0) {
            hwloc_bitmap_free(want);
            hwloc_bitmap_free(set);
            return tb_err_set(err, TB_EINVAL, "cpuset '%s' is not a CPU list like 0-3,8", cpuset);
        }
        hwloc_bitmap_and(set, set, want);
        hwloc_bitmap_free(want);
    }
    if (hwloc_bitmap_iszero(set)) {
        hwloc_bitmap_free(set);
        return tb_err_set(err, TB_EINVAL, "cpuset '%s' names no PU of this topology",
                          cpuset ? cpuset : "");
    }
    *out = set;
    return TB_OK;
}

/* spread: hwloc_distrib over the topology restricted (on a copy) to the
 * allowed PUs, so packages and cores outside the cpuset do not count. */
static int plan_spread(hwloc_topology_t t, hwloc_const_bitmap_t allowed, int n, int *pu_os,
                       struct tb_err *err)
{
    hwloc_topology_t copy = NULL;
    hwloc_bitmap_t *sets = calloc((size_t)n, sizeof *sets);
    int rc = TB_OK;
    if (!sets || hwloc_topology_dup(&copy, t) != 0) {
        rc = tb_err_set(err, TB_ENOMEM, "binding plan: out of memory");
        goto done;
    }
    if (hwloc_topology_restrict(copy, allowed, 0) != 0) {
        rc = tb_err_set(err, TB_EINVAL, "binding plan: cannot restrict topology to cpuset");
        goto done;
    }
    /* hwloc_distrib fills sets[] with newly allocated cpusets */
    hwloc_obj_t root = hwloc_get_root_obj(copy);
    if (hwloc_distrib(copy, &root, 1, sets, (unsigned)n, INT_MAX, 0) != 0) {
        rc = tb_err_set(err, TB_EINVAL, "binding plan: hwloc_distrib failed");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (!sets[i]) {
            rc = tb_err_set(err, TB_ENOMEM, "binding plan: out of memory");
            goto done;
        }
        hwloc_bitmap_singlify(sets[i]);
        pu_os[i] = hwloc_bitmap_first(sets[i]);
    }
done:
    if (sets)
        for (int i = 0; i < n; i++)
            hwloc_bitmap_free(sets[i]);
    free(sets);
    if (copy)
        hwloc_topology_destroy(copy);
    return rc;
}

int tb_topo_plan(const struct tb_topo *tt, int n_threads, enum tb_bind_policy policy,
                 const char *cpuset, struct tb_bind_plan *plan, struct tb_err *err)
{
    memset(plan, 0, sizeof *plan);
    if (policy < TB_BIND_NONE || policy > TB_BIND_SPREAD)
        return tb_err_set(err, TB_EINVAL, "binding plan: unknown policy %d", (int)policy);
    hwloc_topology_t t = tt->topo;
    hwloc_bitmap_t allowed = NULL;
    int rc = allowed_pus(t, cpuset, &allowed, err);
    if (rc)
        return rc;
    int avail = hwloc_bitmap_weight(allowed);
    int n = n_threads <= 0 || n_threads > avail ? avail : n_threads;
    plan->policy = policy;
    plan->requested = n_threads;
    plan->actual = n;
    plan->clamped = n_threads > avail;
    plan->pu_os = malloc((size_t)n * sizeof *plan->pu_os);
    if (!plan->pu_os) {
        hwloc_bitmap_free(allowed);
        return tb_err_set(err, TB_ENOMEM, "binding plan: out of memory");
    }
    if (policy == TB_BIND_NONE) {
        for (int i = 0; i < n; i++)
            plan->pu_os[i] = -1;
    } else if (policy == TB_BIND_COMPACT) {
        /* logical order, not OS order: OS numbering often interleaves SMT
         * siblings or packages */
        int i = 0;
        for (hwloc_obj_t pu = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PU, NULL); pu && i < n;
             pu = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PU, pu))
            if (hwloc_bitmap_isset(allowed, pu->os_index))
                plan->pu_os[i++] = (int)pu->os_index;
    } else {
        rc = plan_spread(t, allowed, n, plan->pu_os, err);
    }
    hwloc_bitmap_free(allowed);
    if (rc)
        tb_bind_plan_free(plan);
    return rc;
}

void tb_bind_plan_free(struct tb_bind_plan *plan)
{
    if (!plan)
        return;
    free(plan->pu_os);
    plan->pu_os = NULL;
    plan->actual = 0;
}

int tb_bind_plan_format(const struct tb_bind_plan *plan, char *buf, size_t n)
{
    size_t len = 0;
    int w = snprintf(buf, n, "%s %d thread(s)", tb_bind_policy_name(plan->policy), plan->actual);
    if (w < 0)
        return w;
    len = (size_t)w;
    for (int i = 0; plan->policy != TB_BIND_NONE && i < plan->actual; i++) {
        w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s%d", i ? "," : ": PUs ",
                     plan->pu_os[i]);
        len += (size_t)(w > 0 ? w : 0);
    }
    if (plan->clamped) {
        w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, " (clamped from %d)",
                     plan->requested);
        len += (size_t)(w > 0 ? w : 0);
    }
    return (int)len;
}

int tb_topo_current_pu(struct tb_topo *tt, int *pu_os, struct tb_err *err)
{
    hwloc_bitmap_t where = hwloc_bitmap_alloc();
    if (!where)
        return tb_err_set(err, TB_ENOMEM, "binding: out of memory");
    int rc = TB_OK;
    if (hwloc_get_last_cpu_location(tt->topo, where, HWLOC_CPUBIND_THREAD) != 0)
        rc = tb_err_set(err, TB_EUNSUPPORTED, "binding: cannot read the thread's CPU location: %s",
                        strerror(errno));
    else
        *pu_os = hwloc_bitmap_first(where);
    hwloc_bitmap_free(where);
    return rc;
}

int tb_topo_bind_current_thread(struct tb_topo *tt, int pu_os, int *observed_os, struct tb_err *err)
{
    if (!hwloc_topology_is_thissystem(tt->topo))
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "binding: topology is not this host (XML or synthetic)");
    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(tt->topo, (unsigned)pu_os);
    if (!pu)
        return tb_err_set(err, TB_EINVAL, "binding: PU %d does not exist", pu_os);
    if (hwloc_set_cpubind(tt->topo, pu->cpuset, HWLOC_CPUBIND_THREAD) != 0)
        return tb_err_set(err, TB_EUNSUPPORTED, "binding: hwloc_set_cpubind(PU %d): %s", pu_os,
                          strerror(errno));
    if (!observed_os)
        return TB_OK;
    return tb_topo_current_pu(tt, observed_os, err);
}

/* --------------------------------------------------- machine identity */

int tb_topo_cpu_model(const struct tb_topo *tt, char *buf, size_t n, struct tb_err *err)
{
    hwloc_topology_t t = tt->topo;
    const char *seen[8];
    int n_seen = 0;
    size_t len = 0;
    if (n)
        buf[0] = '\0';
    /* hwloc's x86 and Linux backends put CPUModel on each Package; some
     * others on the root object only */
    for (hwloc_obj_t p = NULL; (p = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PACKAGE, p));) {
        const char *m = hwloc_obj_get_info_by_name(p, "CPUModel");
        int dup = !m || !*m;
        for (int i = 0; !dup && i < n_seen; i++)
            dup = !strcmp(seen[i], m);
        if (dup || n_seen == (int)(sizeof seen / sizeof *seen))
            continue;
        seen[n_seen++] = m;
    }
    if (!n_seen) {
        const char *m = hwloc_obj_get_info_by_name(hwloc_get_root_obj(t), "CPUModel");
        if (m && *m)
            seen[n_seen++] = m;
    }
    if (!n_seen)
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "hwloc %s reports no CPUModel info on the package or machine objects",
                          hwloc_topology_is_thissystem(t) ? "topology of this host"
                                                          : "XML/synthetic topology");
    /* packages of different models (rare) are joined: "A + B" */
    for (int i = 0; i < n_seen; i++) {
        const char *m = seen[i];
        size_t ml = strlen(m);
        while (*m == ' ')
            m++, ml--;
        while (ml && m[ml - 1] == ' ')
            ml--;
        int w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s%.*s",
                         i ? " + " : "", (int)ml, m);
        len += (size_t)(w > 0 ? w : 0);
    }
    return TB_OK;
}

/* The canonical description hashed by tb_topo_hash is a sequence of
 * "key=value;" items, one group per object in a depth-first walk (memory
 * children, then normal children), each group closed by ")". */
static void id_str(struct sha256_ctx *c, const char *k, const char *v)
{
    sha256_update(c, strlen(k), (const uint8_t *)k);
    sha256_update(c, 1, (const uint8_t *)"=");
    sha256_update(c, strlen(v), (const uint8_t *)v);
    sha256_update(c, 1, (const uint8_t *)";");
}

static void id_num(struct sha256_ctx *c, const char *k, long long v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", v);
    id_str(c, k, b);
}

static int id_set(struct sha256_ctx *c, const char *k, hwloc_const_bitmap_t s)
{
    char *text = NULL;
    if (!s)
        return 0;
    if (hwloc_bitmap_list_asprintf(&text, s) < 0)
        return -1;
    id_str(c, k, text);
    free(text);
    return 0;
}

/* Info attributes that describe the hardware. Left out on purpose: the OS
 * and host names, kernel release, hwloc version, process name, cgroup and
 * backend (they change without the machine changing; the host name is its
 * own part of the dashboard's machine identity). */
static const char *const k_id_infos[] = {"CPUVendor",       "CPUFamilyNumber", "CPUModelNumber",
                                         "CPUModel",        "CPUStepping",     "CPUImplementer",
                                         "CPUArchitecture", "CPUVariant",      "CPUPartNumber",
                                         "CPURevision",     "Inclusive",       NULL};

static int id_walk(struct sha256_ctx *c, hwloc_obj_t o)
{
    id_str(c, "type", hwloc_obj_type_string(o->type));
    id_num(c, "depth", o->depth);
    id_num(c, "os_index", o->os_index == HWLOC_UNKNOWN_INDEX ? -1 : (long long)o->os_index);
    id_num(c, "logical_index", o->logical_index);
    if (o->subtype)
        id_str(c, "subtype", o->subtype);
    int bad = id_set(c, "cpuset", o->cpuset) || id_set(c, "nodeset", o->nodeset);
    if (hwloc_obj_type_is_cache(o->type) && o->attr) {
        const struct hwloc_cache_attr_s *ca = &o->attr->cache;
        id_num(c, "cache_size", (long long)ca->size);
        id_num(c, "cache_depth", ca->depth);
        id_num(c, "cache_linesize", ca->linesize);
        id_num(c, "cache_associativity", ca->associativity);
        id_num(c, "cache_type", ca->type);
    }
    /* a node's MemTotal moves by a few MiB between kernels and boots
     * (reservations), so memory counts in whole GiB, rounded */
    if (o->type == HWLOC_OBJ_NUMANODE && o->attr)
        id_num(c, "local_memory_gib",
               (long long)((o->attr->numanode.local_memory + (1ull << 29)) >> 30));
    if (o->type == HWLOC_OBJ_GROUP && o->attr)
        id_num(c, "group_depth", o->attr->group.depth);
    for (const char *const *k = k_id_infos; *k; k++) {
        const char *v = hwloc_obj_get_info_by_name(o, *k);
        if (v)
            id_str(c, *k, v);
    }
    id_num(c, "arity", o->arity);
    id_num(c, "memory_arity", o->memory_arity);
    for (hwloc_obj_t ch = o->memory_first_child; !bad && ch; ch = ch->next_sibling)
        bad = id_walk(c, ch);
    for (hwloc_obj_t ch = o->first_child; !bad && ch; ch = ch->next_sibling)
        bad = id_walk(c, ch);
    sha256_update(c, 1, (const uint8_t *)")");
    return bad;
}

int tb_topo_hash(const struct tb_topo *tt, char out[TB_HASH_STR_MAX], struct tb_err *err)
{
    struct sha256_ctx c;
    sha256_init(&c);
    id_str(&c, "tierbench-topology", "1"); /* bump when the description changes */
    if (id_walk(&c, hwloc_get_root_obj(tt->topo)))
        return tb_err_set(err, TB_ENOMEM, "topology hash: out of memory");
    unsigned char d[TB_SHA256_BYTES];
    sha256_digest(&c, sizeof d, d);
    tb_sha256_format(d, out);
    return TB_OK;
}

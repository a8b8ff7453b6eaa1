/* Host topology and thread binding through hwloc.
 *
 * A tb_topo wraps one hwloc topology: the live host (tb_topo_open_host), an
 * hwloc XML export (tb_topo_open_xml, e.g. `lstopo host.xml` from a device we
 * do not have here) or a synthetic description (tb_topo_open_synthetic,
 * e.g. "pack:2 core:4 pu:2"). Plans can be computed on any of them; binding
 * only works on the live host.
 *
 * Binding policies over the PUs allowed (optionally restricted to a cpuset
 * list of OS indices, e.g. "0-3,8"):
 *   compact  thread i -> the i-th allowed PU in hwloc logical order, so SMT
 *            siblings and cores of one package fill up first (shared caches);
 *   spread   hwloc_distrib() over the allowed PUs: threads as far apart as the
 *            tree allows (packages first, then cores), one PU each;
 *   none     no binding; the plan still records the thread count.
 * A request for more threads than allowed PUs is clamped to the PU count and
 * recorded (requested, actual, clamped). */
#ifndef TB_TOPO_H
#define TB_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/tb_env.h"
#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tb_topo;

int tb_topo_open_host(struct tb_topo **out, struct tb_err *err);
int tb_topo_open_xml(const char *path, struct tb_topo **out, struct tb_err *err);
int tb_topo_open_synthetic(const char *description, struct tb_topo **out, struct tb_err *err);
void tb_topo_free(struct tb_topo *t);

/* Counts are over the whole topology; cache sizes are of one instance
 * (0 when the level does not exist), *_count how many instances exist. */
struct tb_topo_summary {
    int packages, cores, pus, numa_nodes;
    uint64_t l1d_bytes, l2_bytes, l3_bytes;
    int l1d_count, l2_count, l3_count;
    uint64_t total_memory; /* bytes (hwloc root total_memory) */
    bool is_this_system;   /* false for XML / synthetic topologies */
};
void tb_topo_summarize(const struct tb_topo *t, struct tb_topo_summary *s);
/* One line, e.g. "1 package, 2 cores, 2 PUs, 1 NUMA node, L1d 32 KiB x2, ...". */
int tb_topo_summary_format(const struct tb_topo_summary *s, char *buf, size_t n);

enum tb_bind_policy { TB_BIND_NONE = 0, TB_BIND_COMPACT = 1, TB_BIND_SPREAD = 2 };
const char *tb_bind_policy_name(enum tb_bind_policy p); /* "none", "compact", "spread" */
int tb_bind_policy_from_name(const char *name);         /* -1 if unknown */

/* Checks a cpuset list ("0-3,8"): 0 or TB_EINVAL with a message. */
int tb_topo_cpuset_check(const char *list, struct tb_err *err);

struct tb_bind_plan {
    enum tb_bind_policy policy;
    int requested; /* threads asked for (<= 0 means "all allowed PUs") */
    int actual;    /* threads the plan has: min(requested, allowed PUs) */
    bool clamped;  /* requested > allowed PUs */
    int *pu_os;    /* [actual] OS index of thread i's PU; -1 for policy none (owned) */
};

/* cpuset may be NULL/"" (all PUs). Fails with TB_EINVAL when the cpuset names
 * no PU of this topology. */
int tb_topo_plan(const struct tb_topo *t, int n_threads, enum tb_bind_policy policy,
                 const char *cpuset, struct tb_bind_plan *plan, struct tb_err *err);
void tb_bind_plan_free(struct tb_bind_plan *plan);
/* "compact 4/8 threads: 0,1,2,3" (+ " (clamped from 16)"). */
int tb_bind_plan_format(const struct tb_bind_plan *plan, char *buf, size_t n);

/* Binds the calling thread to PU pu_os (live host topology only) and reads
 * back where it actually runs (hwloc_get_last_cpu_location): *observed_os
 * receives that PU's OS index (optional). TB_EUNSUPPORTED on a topology that
 * is not this system or when the OS refuses binding. */
int tb_topo_bind_current_thread(struct tb_topo *t, int pu_os, int *observed_os, struct tb_err *err);
/* Where the calling thread last ran (OS index), or a negative code. */
int tb_topo_current_pu(struct tb_topo *t, int *pu_os, struct tb_err *err);

/* The CPU model from hwloc's "CPUModel" info attribute (each Package's,
 * else the root object's), into buf; packages of different models are
 * joined with " + ". TB_EUNSUPPORTED with the reason in err when hwloc has
 * none (e.g. a synthetic topology). */
int tb_topo_cpu_model(const struct tb_topo *t, char *buf, size_t n, struct tb_err *err);

/* The topology's identity: "sha256:<64 hex>" of a canonical depth-first
 * walk of the object tree (per object: type, depth, OS and logical index,
 * subtype, cpuset, nodeset, cache size/depth/line size/associativity/type,
 * a NUMA node's memory in whole GiB, a group's depth, and the CPU
 * vendor/family/model/stepping infos). Volatile or non-hardware facts (free
 * memory, huge page counts, OS and host names, hwloc version, process name)
 * are left out, so two loads of one machine hash the same. An hwloc upgrade
 * that discovers different objects changes it. */
int tb_topo_hash(const struct tb_topo *t, char out[TB_HASH_STR_MAX], struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

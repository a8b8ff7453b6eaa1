/* Placement scheduler: assigns every op of a graph to the first backend of
 * an ordered preference list that supports it, records WHY an op is not on
 * the first choice (the declared placement), and executes the graph as
 * contiguous segments of ops per backend. The CPU backend ("cpu") is always
 * the last entry and always available.
 *
 * Reason codes (first choice only: the reason the op is not on entry 0):
 *   unsupported-op     the backend's supports_op declines the op kind/shape
 *   unsupported-type   it declines the op as given, but accepts the same op
 *                      with f32 weights and f32 caches: the weight/cache
 *                      type is the obstacle (decided by asking supports_op
 *                      again on such a substitute op; backend-independent)
 *   backend-unavailable: <reason>   the backend could not be created
 *   memory             the weights placed on the backend would exceed the
 *                      entry's memory_bytes
 *   profile-forbids    the device exists but is not the kind the profile
 *                      asked for ("opencl:gpu" on a CPU-type OpenCL device)
 *                      and the kind policy is TB_SCHED_KIND_ENFORCE
 *
 * Kind policy. TB_SCHED_KIND_TRUST (default) behaves like an engine that
 * takes its runtime's word: a "opencl:gpu" entry whose device is really a
 * CPU (PoCL) is still used and the placement CLAIMS a GPU (claimed_kind);
 * the evidence layer (harness/tb_evidence.h) then sees device kind CPU and
 * reports the op as a silent fallback. TB_SCHED_KIND_ENFORCE rejects such
 * an entry up front (reason profile-forbids), making the fallback declared.
 *
 * Copies between backends: tensors live in host memory and every backend
 * leaves its outputs there when its segment returns (accelerators download
 * each op's output; within one segment they keep intermediates on the
 * device), so a copy happens implicitly at each boundary between segments
 * on different backends; the plan counts them (n_copies) and each segment
 * records its backend. Accelerators also keep state ACROSS calls: the KV
 * caches stay resident on the device (docs/backends.md), so a decode step
 * uploads no cache rows that the device already holds. That copy is only
 * valid while nobody else writes the host cache, so after each segment the
 * scheduler announces the host bytes its ops wrote (a KV_STORE only its
 * rows) to every other backend (tb_backend_host_written), which then
 * re-uploads just those rows when it next reads them. Mixed placements
 * (KV_STORE and ATTENTION on different backends) stay correct this way. */
#ifndef TB_SCHED_H
#define TB_SCHED_H

#include <stdint.h>

#include "tb_backend.h"
#include "tb_error.h"
#include "tb_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_SCHED_MAX_ENTRIES 9 /* 8 profile entries + the implicit cpu */
#define TB_SCHED_REASON_MAX 192

enum tb_sched_reason {
    TB_REASON_NONE = 0, /* on the first choice */
    TB_REASON_UNSUPPORTED_OP,
    TB_REASON_UNSUPPORTED_TYPE,
    TB_REASON_BACKEND_UNAVAILABLE,
    TB_REASON_MEMORY,
    TB_REASON_PROFILE_FORBIDS,
};
/* "unsupported-op", ..., "backend-unavailable", "" for NONE */
const char *tb_sched_reason_name(enum tb_sched_reason r);

enum tb_sched_kind_policy { TB_SCHED_KIND_TRUST = 0, TB_SCHED_KIND_ENFORCE = 1 };

/* One preference entry. b == NULL: the backend could not be created and
 * disabled_reason says why. */
struct tb_sched_entry {
    char label[32];       /* as written in the profile: "opencl:gpu" */
    struct tb_backend *b; /* owned by whoever filled the entry */
    char disabled_reason[TB_SCHED_REASON_MAX];
    int want_kind;         /* enum tb_device_kind the profile asked for; -1 any */
    uint64_t memory_bytes; /* weight bytes the backend may hold; 0 unlimited */
};

/* A backend list opened from profile-style names. Owns its backends. */
struct tb_sched_backends {
    struct tb_sched_entry e[TB_SCHED_MAX_ENTRIES];
    int n;
};
/* Parses "name[:gpu|npu|cpu]" entries in order, creates each backend with
 * cfg (creation failures become disabled_reason, unknown names too) and
 * appends "cpu" unless the list already ends with it. Fails only when the
 * cpu backend itself cannot be created or an entry is malformed. */
int tb_sched_backends_open(const char (*names)[32], int n, const struct tb_backend_config *cfg,
                           struct tb_sched_backends *out, struct tb_err *err);
void tb_sched_backends_close(struct tb_sched_backends *bs);

struct tb_sched_opts {
    /* op kind names (tb_op_kind_name) that must run on an accelerator */
    const char (*accel_op_classes)[16];
    int n_accel_op_classes;
    /* planning fails (TB_EUNSUPPORTED) listing every op that would land on
     * a CPU device other than the first choice (ONNX Runtime's
     * disable_cpu_ep_fallback); the plan is still filled for inspection */
    int no_cpu_fallback;
    enum tb_sched_kind_policy kind_policy;
};
void tb_sched_opts_default(struct tb_sched_opts *o);

/* Declared placement of one op. */
struct tb_placement {
    int entry;                             /* index into the entry list */
    const char *label;                     /* entry label (points into the scheduler) */
    const char *backend;                   /* tb_backend_name */
    const char *device;                    /* tb_backend_device_name */
    enum tb_device_kind device_kind;       /* what the backend reports */
    enum tb_device_kind claimed_kind;      /* what the placement claims (TRUST: the
                                              entry's wanted kind when it has one) */
    enum tb_sched_reason reason;           /* why not on entry 0 */
    char reason_text[TB_SCHED_REASON_MAX]; /* "unsupported-type: opencl declines q4_0" */
    int accel_required;                    /* op kind is in accel_op_classes */
    int segment;
};

struct tb_sched_segment {
    int first, count, entry;
};

struct tb_sched_plan {
    struct tb_placement *ops; /* [n_ops] */
    int n_ops;
    struct tb_sched_segment *segs; /* [n_segs] */
    int n_segs;
    int n_copies;          /* boundaries between different backends */
    int first_choice_kind; /* the profile's target tier: enum tb_device_kind */
    uint64_t sig;          /* graph signature the plan was made for */
};

/* Raw per-op evidence gathered while executing (classified by
 * harness/tb_evidence.h, never by the scheduler). */
struct tb_op_run_evidence {
    uint64_t wall_ns;                /* host wall time of the op (synchronized) */
    uint64_t host_cpu_ns;            /* process CPU time delta: all threads (reported only) */
    uint64_t thread_cpu_ns;          /* calling thread's CPU time delta (tb_thread_cpu_ns): the
                                        detector's host time; descheduling does not grow it */
    int thread_clock;                /* the platform has a thread CPU clock (else 0 above) */
    uint64_t runq_wait_ns;           /* calling thread runnable but not running (preempted by
                                        other load; tb_thread_runq_wait_ns), 0 if unknown */
    uint64_t steal_ns;               /* hypervisor steal around the op (tb_steal_ns): of the CPU
                                        the thread stayed on (no context switch), else of all
                                        CPUs (an upper bound); 10 ms ticks on Linux */
    int steal_known;                 /* the OS reports steal (else steal_ns is 0) */
    int steal_cpu;                   /* OS CPU whose steal was read, -1 = all CPUs */
    uint64_t launches;               /* device kernel launches (tb_backend_op_evidence) */
    uint64_t device_ns;              /* device-side time of those launches */
    int has_device_evidence;         /* the backend keeps launch evidence */
    enum tb_device_kind device_kind; /* the kind the runtime reports now */
    int out_checked;                 /* output compared against the reference backend */
    double out_max_err;              /* max |dst - ref| */
    double out_max_ref;              /* max |ref| (scale for a relative bound) */
    uint64_t h2d_bytes;              /* host->device bytes the op moved (tb_op_evidence) */
    uint64_t d2h_bytes;              /* device->host bytes */
    uint64_t kv_h2d_bytes;           /* of h2d: KV rows into a resident cache copy */
};

/* Evidence mode for tb_sched_compute: each op runs alone (synchronized) so
 * its evidence is its own. ops: caller-owned, >= graph n_ops entries. */
struct tb_sched_evidence {
    struct tb_op_run_evidence *ops;
    int cap;
    struct tb_backend *ref; /* optional: output agreement against this backend */
    int check_period;       /* check op i on run r when (i + r) % period == 0; 0 = never */
    uint64_t run_index;     /* incremented by each compute */
};

struct tb_sched;

/* entries: borrowed (must outlive the scheduler); the last must be a
 * created CPU backend (tb_sched_backends_open guarantees it). */
int tb_sched_create(const struct tb_sched_entry *entries, int n_entries,
                    const struct tb_sched_opts *opts, struct tb_sched **out, struct tb_err *err);
void tb_sched_free(struct tb_sched *s);

/* Plans g (reuses the last plan when the graph's structure is unchanged).
 * On a no_cpu_fallback violation returns TB_EUNSUPPORTED with the op list,
 * and *plan still points at the filled plan. */
int tb_sched_plan(struct tb_sched *s, const struct tb_graph *g, const struct tb_sched_plan **plan,
                  struct tb_err *err);

/* Plans (if needed) and runs g segment by segment. op_ns (optional,
 * >= n_ops) receives per-op wall times. evidence (optional) switches to
 * per-op execution with evidence collection. */
int tb_sched_compute(struct tb_sched *s, const struct tb_graph *g, uint64_t *op_ns,
                     struct tb_sched_evidence *evidence, struct tb_err *err);

/* Adapter for tb_llama_eval_with: ctx is a struct tb_sched_run. */
struct tb_sched_run {
    struct tb_sched *sched;
    struct tb_sched_evidence *evidence; /* optional */
};
int tb_sched_graph_runner(void *ctx, const struct tb_graph *g, uint64_t *op_ns, struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

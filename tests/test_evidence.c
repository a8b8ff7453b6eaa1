/* Silent-fallback detector against planted faults: liars of every mode
 * that claim a GPU and compute on the host get the verdict silent-fallback
 * for every op they ran, with every run counted as host, also when each
 * run is "descheduled" (wall time grows, CPU time does not); a CPU-type
 * OpenCL device (PoCL) is flagged when the profile wanted a GPU; an honest
 * device gives zero false flags (every run device-consistent) with and
 * without stalls; one disturbed run does not flip a verdict; a declared
 * fallback stays declared; wrong outputs are caught by the sampled cpu-ref
 * check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_backend.h"
#include "harness/tb_evidence.h"
#include "kernels/platform/tb_platform.h"
#include "kernels/tb_sched.h"
#include "tb_test.h"

struct rig {
    struct tb_sched *s;
    struct tb_evidence ev;
    struct tb_op_run_evidence *runs;
    struct tb_sched_evidence se;
    struct tb_backend *ref;
};

/* Runs g n_runs times through the scheduler in evidence mode. */
static int rig_run(struct rig *r, const struct tb_sched_entry *e, int n_entries,
                   const struct tb_sched_opts *o, const struct tb_graph *g, int n_runs,
                   const struct tb_evidence_thresholds *th, int check_period)
{
    struct tb_err err = {0};
    memset(r, 0, sizeof *r);
    r->runs = calloc((size_t)g->n_ops, sizeof *r->runs);
    if (tb_sched_create(e, n_entries, o, &r->s, &err) ||
        tb_evidence_init(&r->ev, g->n_ops, th, &err) || !r->runs ||
        tb_backend_create("cpu-ref", NULL, &r->ref, &err)) {
        fprintf(stderr, "rig: %s\n", err.msg);
        return -1;
    }
    r->se = (struct tb_sched_evidence){
        .ops = r->runs, .cap = g->n_ops, .ref = r->ref, .check_period = check_period};
    const struct tb_sched_plan *pl = NULL;
    for (int i = 0; i < n_runs; i++) {
        if (tb_sched_compute(r->s, g, NULL, &r->se, &err) || tb_sched_plan(r->s, g, &pl, &err) ||
            tb_evidence_add_run(&r->ev, pl, r->runs, &err)) {
            fprintf(stderr, "rig: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

static void rig_free(struct rig *r)
{
    tb_sched_free(r->s);
    tb_evidence_free(&r->ev);
    free(r->runs);
    tb_backend_free(r->ref);
}

static struct tb_backend *cpu1(void)
{
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = 1;
    struct tb_backend *b = NULL;
    return tb_backend_create("cpu", &cfg, &b, NULL) ? NULL : b;
}

/* Op i's verdict and its run counts. */
#define CHECK_OP(ev, i, cls_, runs, dev, host, hard, inc)                                          \
    do {                                                                                           \
        const struct tb_op_evidence_summary *s_ = &(ev)->ops[i];                                   \
        CHECKF(                                                                                    \
            s_->cls == (cls_) && s_->n_runs == (runs) && s_->n_device == (dev) &&                  \
                s_->n_host == (host) && s_->n_host_hard == (hard) && s_->n_inconclusive == (inc),  \
            "op %d: %s, runs %d device %d host %d (hard %d) inconclusive %d: %s [host %s] "        \
            "[device %s] [inconclusive %s]",                                                       \
            i, tb_op_class_name(s_->cls), s_->n_runs, s_->n_device, s_->n_host, s_->n_host_hard,   \
            s_->n_inconclusive, s_->why, s_->host_why, s_->device_why, s_->other_why);             \
    } while (0)

/* A liar's op: silent-fallback with no device-consistent run; a run the
 * hypervisor stole too much of to decide is inconclusive, never a miss. The
 * message quotes the first run that went the wrong way. */
#define CHECK_LIAR(ev, i, runs, hard)                                                              \
    do {                                                                                           \
        const struct tb_op_evidence_summary *s_ = &(ev)->ops[i];                                   \
        CHECKF(s_->cls == TB_CLASS_SILENT_FALLBACK && s_->n_runs == (runs) && s_->n_device == 0 && \
                   s_->n_host + s_->n_inconclusive == (runs) &&                                    \
                   s_->n_host_hard == ((hard) ? s_->n_host : 0) &&                                 \
                   ((hard) ? s_->n_host == (runs) : 1),                                            \
               "op %d: %s, runs %d device %d host %d (hard %d) inconclusive %d: %s [missed %s] "   \
               "[inconclusive %s]",                                                                \
               i, tb_op_class_name(s_->cls), s_->n_runs, s_->n_device, s_->n_host,                 \
               s_->n_host_hard, s_->n_inconclusive, s_->why, s_->device_why, s_->other_why);       \
        if (s_->n_inconclusive)                                                                    \
            printf("op %d: %d of %d runs inconclusive (%s)\n", i, s_->n_inconclusive, (runs),      \
                   s_->other_why);                                                                 \
    } while (0)

/* An honest op: on-target, every run judged, none with hard host evidence;
 * runs the thread CPU clock shows busy (interrupt time the kernel charges
 * to the running thread) may be a minority, the verdict says they are. */
static int check_honest(const struct tb_evidence *ev, int i, int runs)
{
    const struct tb_op_evidence_summary *s = &ev->ops[i];
    CHECKF(s->cls == TB_CLASS_ON_TARGET && s->n_runs == runs && s->n_device + s->n_host == runs &&
               s->n_device > s->n_host && s->n_host_hard == 0 && s->n_inconclusive == 0,
           "op %d: %s, runs %d device %d host %d (hard %d) inconclusive %d: %s [%s]", i,
           tb_op_class_name(s->cls), s->n_runs, s->n_device, s->n_host, s->n_host_hard,
           s->n_inconclusive, s->why, s->host_why);
    if (s->n_host)
        printf("op %d: %d of %d runs showed host time (%s), verdict %s\n", i, s->n_host, runs,
               s->host_why, tb_op_class_name(s->cls));
    return s->n_host;
}

/* Every op on entry 0 of a liar is silent with all runs host, for each
 * liar mode, with and without a stall after every op. */
static void test_liars(void)
{
    struct tb_backend *cpu = cpu1();
    struct tb_evidence_thresholds th;
    tb_evidence_thresholds_default(&th);
    th.min_host_ns = 50000;
    const enum fake_mode modes[3] = {FAKE_LIAR_ZERO, FAKE_LIAR_FAKE, FAKE_LIAR_NONE};
    int flagged = 0, planted = 0, inconclusive = 0, liar_runs = 0;
    uint64_t stolen = 0;
    for (int k = 0; k < 6; k++) {
        const int m = k % 3, big = m != 0;
        const long stall = k >= 3 ? 2000000 : 0; /* 2 ms: 4x the op's CPU time */
        /* only the host-time rule catches LIAR_FAKE and LIAR_NONE, so their
         * ops are big enough (512x512 scalar matmuls) to measure */
        struct test_graph t;
        CHECK(test_graph_build(&t, big ? 512 : 64, big ? 512 : 32, big ? 2 : 1, big) == 0);
        struct tb_backend *liar = fake_backend_create(modes[m], TB_DEVICE_GPU, 0);
        fake_backend_stall(liar, stall);
        const struct tb_sched_entry e[2] = {test_entry("liar:gpu", liar, TB_DEVICE_GPU, NULL),
                                            test_entry("cpu", cpu, TB_DEVICE_CPU, NULL)};
        struct rig r;
        CHECK(rig_run(&r, e, 2, NULL, &t.g, 10, &th, 0) == 0);
        const struct tb_sched_plan *pl = NULL;
        tb_sched_plan(r.s, &t.g, &pl, NULL);
        int on_liar = 0;
        for (int i = 0; pl && i < pl->n_ops; i++) {
            if (pl->ops[i].entry != 0)
                continue;
            on_liar++;
            planted++;
            flagged += r.ev.ops[i].cls == TB_CLASS_SILENT_FALLBACK;
            CHECK_LIAR(&r.ev, i, 10, m == 0);
            CHECKF(strstr(r.ev.ops[i].why, m ? "host CPU" : "0 device launches") != NULL,
                   "mode %d stall %ld: %s", m, stall, r.ev.ops[i].why);
            CHECKF(strstr(r.ev.ops[i].why, "device 0, inconclusive") &&
                       strstr(r.ev.ops[i].why, "of 10 runs"),
                   "%s", r.ev.ops[i].why);
            inconclusive += r.ev.ops[i].n_inconclusive;
            liar_runs += 10;
            stolen += r.ev.ops[i].steal_ns;
            /* Linux reports steal (/proc/stat): every run carried it */
            CHECK(r.runs[i].steal_known || access("/proc/stat", R_OK) != 0);
        }
        CHECK(on_liar == (big ? 3 : 4)); /* the liars take q4_0 too */
        CHECK(tb_evidence_count(&r.ev, TB_CLASS_SILENT_FALLBACK) == on_liar);
        rig_free(&r);
        tb_backend_free(liar);
        test_graph_free(&t);
    }
    printf("planted liars: %d of %d ops flagged silent-fallback (%d of %d runs inconclusive, "
           "steal %.3f ms)\n",
           flagged, planted, inconclusive, liar_runs, (double)stolen / 1e6);
    /* no evidence slot and ops too short for the host-time rule: every run
     * inconclusive, verdict unverified */
    struct test_graph t;
    CHECK(test_graph_build(&t, 64, 32, 1, 0) == 0);
    struct tb_backend *mute = fake_backend_create(FAKE_LIAR_NONE, TB_DEVICE_GPU, 0);
    const struct tb_sched_entry e[2] = {test_entry("mute:gpu", mute, TB_DEVICE_GPU, NULL),
                                        test_entry("cpu", cpu, TB_DEVICE_CPU, NULL)};
    th.min_host_ns = 1000000000ull;
    struct rig r;
    CHECK(rig_run(&r, e, 2, NULL, &t.g, 3, &th, 0) == 0);
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_UNVERIFIED) == 4);
    for (int i = 0; i < 4; i++)
        CHECK_OP(&r.ev, i, TB_CLASS_UNVERIFIED, 3, 0, 0, 0, 3);
    CHECK(strstr(r.ev.ops[0].why, "no launch evidence") != NULL);
    rig_free(&r);
    tb_backend_free(mute);
    test_graph_free(&t);
    tb_backend_free(cpu);
}

/* Honest device: zero flags over 50 runs (every run device-consistent),
 * and over 20 runs that each stall 1 ms; its declined q4_0 matmul is a
 * declared fallback with reason unsupported-type, never silent. */
static void test_honest_and_declared(void)
{
    struct tb_backend *cpu = cpu1();
    struct tb_backend *gpu = fake_backend_create(FAKE_HONEST, TB_DEVICE_GPU, 0);
    struct test_graph t;
    CHECK(test_graph_build(&t, 64, 32, 2, 0) == 0);
    const struct tb_sched_entry e[2] = {test_entry("fake:gpu", gpu, TB_DEVICE_GPU, NULL),
                                        test_entry("cpu", cpu, TB_DEVICE_CPU, NULL)};
    struct rig r;
    int false_flags = 0, honest_ops = 0, honest_runs = 0, busy_runs = 0;
    for (int pass = 0; pass < 2; pass++) {
        const int runs = pass ? 20 : 50;
        fake_backend_stall(gpu, pass ? 1000000 : 0);
        CHECK(rig_run(&r, e, 2, NULL, &t.g, runs, NULL, 3) == 0);
        CHECK(tb_evidence_count(&r.ev, TB_CLASS_SILENT_FALLBACK) == 0);
        CHECK(tb_evidence_count(&r.ev, TB_CLASS_UNVERIFIED) == 0);
        CHECK(tb_evidence_count(&r.ev, TB_CLASS_ON_TARGET) == 3);
        for (int i = 0; i < r.ev.n_ops; i++) {
            if (i == 1)
                continue;
            honest_ops++;
            honest_runs += runs;
            false_flags += r.ev.ops[i].cls != TB_CLASS_ON_TARGET;
            busy_runs += check_honest(&r.ev, i, runs);
        }
        /* a cpu claim: nothing to prove, no run judged */
        CHECK_OP(&r.ev, 1, TB_CLASS_DECLARED_FALLBACK, runs, 0, 0, 0, 0);
        CHECKF(strstr(r.ev.ops[1].why, "unsupported-type") != NULL, "%s", r.ev.ops[1].why);
        int checked = 0, mismatch = 0;
        for (int i = 0; i < r.ev.n_ops; i++) {
            checked += r.ev.ops[i].n_checked;
            mismatch += r.ev.ops[i].n_mismatch;
        }
        CHECKF(checked > runs && mismatch == 0, "%d checked, %d mismatched", checked, mismatch);
        rig_free(&r);
    }
    printf("honest: %d false flags over %d op verdicts (%d of %d runs showed host time)\n",
           false_flags, honest_ops, busy_runs, honest_runs);
    fake_backend_stall(gpu, 0);
    tb_backend_free(gpu);

    /* same device computing wrong numbers: the output check catches it */
    gpu = fake_backend_create(FAKE_HONEST, TB_DEVICE_GPU, 1);
    const struct tb_sched_entry e2[2] = {test_entry("bad:gpu", gpu, TB_DEVICE_GPU, NULL), e[1]};
    CHECK(rig_run(&r, e2, 2, NULL, &t.g, 4, NULL, 1) == 0);
    CHECK(r.ev.ops[0].n_checked == 4 && r.ev.ops[0].n_mismatch == 4);
    CHECK(r.ev.ops[1].n_mismatch == 0); /* the cpu fallback is right */
    rig_free(&r);
    tb_backend_free(gpu);
    test_graph_free(&t);
    tb_backend_free(cpu);
}

/* The real OpenCL backend: a CPU-type device (PoCL) claimed as a GPU. */
static void test_opencl_cpu_device(void)
{
    const char names[1][32] = {"opencl:gpu"};
    struct tb_sched_backends bs;
    struct tb_err err = {0};
    CHECK(tb_sched_backends_open(names, 1, NULL, &bs, &err) == TB_OK);
    if (!bs.e[0].b || tb_backend_device_kind(bs.e[0].b) != TB_DEVICE_CPU) {
        printf("no CPU-type OpenCL device (%s): PoCL case not run\n",
               bs.e[0].b ? tb_backend_device_name(bs.e[0].b) : bs.e[0].disabled_reason);
        tb_sched_backends_close(&bs);
        return;
    }
    struct test_graph t;
    CHECK(test_graph_build(&t, 64, 32, 2, 0) == 0);
    struct rig r;
    /* TRUST: the engine uses it as "the GPU"; the evidence says CPU */
    CHECK(rig_run(&r, bs.e, bs.n, NULL, &t.g, 5, NULL, 2) == 0);
    const struct tb_sched_plan *pl = NULL;
    tb_sched_plan(r.s, &t.g, &pl, NULL);
    int n_opencl = 0;
    for (int i = 0; pl && i < pl->n_ops; i++) {
        if (pl->ops[i].entry == 0) {
            n_opencl++;
            CHECK_OP(&r.ev, i, TB_CLASS_SILENT_FALLBACK, 5, 0, 5, 5, 0);
            CHECKF(strstr(r.ev.ops[i].why, "reports kind cpu") != NULL, "%s", r.ev.ops[i].why);
            CHECK(r.ev.ops[i].launches > 0); /* it did launch: on a CPU device */
        } else {
            CHECK(r.ev.ops[i].cls == TB_CLASS_DECLARED_FALLBACK); /* q4_0 */
        }
        CHECK(r.ev.ops[i].n_mismatch == 0);
    }
    CHECK(n_opencl == 3);
    rig_free(&r);
    /* ENFORCE: rejected up front, every op a declared profile-forbids */
    struct tb_sched_opts o;
    tb_sched_opts_default(&o);
    o.kind_policy = TB_SCHED_KIND_ENFORCE;
    CHECK(rig_run(&r, bs.e, bs.n, &o, &t.g, 2, NULL, 0) == 0);
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_SILENT_FALLBACK) == 0);
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_DECLARED_FALLBACK) == 4);
    CHECKF(strstr(r.ev.ops[0].why, "profile-forbids") != NULL, "%s", r.ev.ops[0].why);
    rig_free(&r);
    test_graph_free(&t);
    tb_sched_backends_close(&bs);
}

/* Hand-made evidence of one run on a GPU that keeps launch evidence. */
static struct tb_op_run_evidence gpu_run(uint64_t wall, uint64_t cpu, uint64_t launches,
                                         uint64_t device_ns)
{
    return (struct tb_op_run_evidence){.wall_ns = wall,
                                       .thread_cpu_ns = cpu,
                                       .thread_clock = 1,
                                       .launches = launches,
                                       .device_ns = device_ns,
                                       .has_device_evidence = 1,
                                       .device_kind = TB_DEVICE_GPU};
}

/* The per-run rules' thresholds, on hand-made evidence. */
static void test_rules(void)
{
    struct tb_evidence_thresholds th;
    tb_evidence_thresholds_default(&th);
    struct tb_placement p = {
        .entry = 0, .device = "dev", .device_kind = TB_DEVICE_GPU, .claimed_kind = TB_DEVICE_GPU};
    struct tb_op_run_evidence x = gpu_run(1000000, 950000, 2, 0);
    char why[TB_EVIDENCE_WHY_MAX];
    int hard = 0;
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_SILENT_FALLBACK);
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_HOST && !hard);
    x.wall_ns = 20000000; /* descheduled 19 ms: the thread's CPU time still shows the work */
    x.runq_wait_ns = 0;   /* (steal time shows in no run queue) */
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_SILENT_FALLBACK);
    x.device_ns = 900000; /* a host thread spin-waiting on a busy device */
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_ON_TARGET);
    x.device_ns = 0;
    x.thread_cpu_ns = 150000; /* 150 us less 2 x 30 us: under 100 us of host work */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_DEVICE);
    x.thread_cpu_ns = 170000; /* 110 us of host work */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_HOST);
    x.h2d_bytes = 1u << 20; /* one MiB uploaded: 500 us of host copying allowed */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_DEVICE);
    x.h2d_bytes = 0;
    /* a device-consistent run says what it saw, too */
    x.thread_cpu_ns = 150000;
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_DEVICE);
    CHECKF(strstr(why, "host CPU 0.150 ms") && strstr(why, "wall 20.000 ms"), "%s", why);
    /* steal: a kernel without steal accounting charges stolen time to the
     * running thread, so only CPU time steal cannot explain is host work */
    x.thread_cpu_ns = 950000;
    x.steal_known = 1;
    x.steal_cpu = 1;
    x.steal_ns = 10000000; /* one 10 ms /proc/stat tick around the op */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_INCONCLUSIVE);
    CHECKF(strstr(why, "stole too much to decide") && strstr(why, "steal 10.000 ms"), "%s", why);
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_UNVERIFIED);
    x.steal_ns = 850000; /* 950 - 60 - 850 = 40 us: not enough left */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_INCONCLUSIVE);
    x.steal_ns = 700000; /* 190 us left: host work on any kernel */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_HOST);
    x.thread_cpu_ns = 30000000; /* a big op outweighs a stolen tick */
    x.steal_ns = 10000000;
    x.steal_cpu = -1;
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_HOST);
    CHECKF(strstr(why, "steal 10.000 ms (all cpus)"), "%s", why);
    x.thread_cpu_ns = 50000; /* steal never turns a quiet thread into host work */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_DEVICE);
    x.steal_known = 0;
    x.steal_ns = 0;
    x.thread_clock = 0;
    x.thread_cpu_ns = 0;
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_INCONCLUSIVE);
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_UNVERIFIED);
    CHECKF(strstr(why, "no thread CPU clock") != NULL, "%s", why);
    x.thread_clock = 1;
    x.launches = 0; /* hard evidence */
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_HOST && hard);
    x.launches = 2;
    x.device_kind = TB_DEVICE_CPU;
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_HOST && hard);
    x.device_kind = TB_DEVICE_GPU;
    /* a CPU claim is never judged, never silent */
    p.claimed_kind = TB_DEVICE_CPU;
    x.launches = 0;
    x.thread_cpu_ns = 950000;
    CHECK(tb_evidence_judge_run(&p, &x, &th, &hard, why, sizeof why) == TB_RUN_HOST_CLAIM);
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_ON_TARGET);
    p.entry = 1;
    snprintf(p.reason_text, sizeof p.reason_text, "unsupported-type: x");
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_DECLARED_FALLBACK);
    CHECK(!strcmp(why, "unsupported-type: x"));
    CHECK(!strcmp(tb_op_class_name(TB_CLASS_SILENT_FALLBACK), "silent-fallback"));
}

/* Feeds 10 runs of one op: runs first+1 .. first+n_host (1-based) with host
 * work (a hard 0-launch run when hard), the rest device-like. */
static void feed_at(struct tb_evidence *ev, int first, int n_host, int hard)
{
    struct tb_placement p = {
        .entry = 0, .device = "dev", .device_kind = TB_DEVICE_GPU, .claimed_kind = TB_DEVICE_GPU};
    const struct tb_sched_plan plan = {.ops = &p, .n_ops = 1};
    CHECK(tb_evidence_init(ev, 1, NULL, NULL) == TB_OK);
    for (int r = 0; r < 10; r++) {
        struct tb_op_run_evidence x = gpu_run(5000000, 20000, 1, 250000);
        if (r >= first && r < first + n_host) {
            x.thread_cpu_ns = 2000000;
            x.launches = hard ? 0 : 1;
        }
        CHECK(tb_evidence_add_run(ev, &plan, &x, NULL) == TB_OK);
    }
}

static void feed(struct tb_evidence *ev, int n_host, int hard)
{
    feed_at(ev, 0, n_host, hard);
}

/* Runs combine into one verdict: a measured minority does not decide, hard
 * evidence always does, a split is unverified. */
static void test_verdicts(void)
{
    struct tb_evidence ev;
    feed(&ev, 0, 0);
    CHECK_OP(&ev, 0, TB_CLASS_ON_TARGET, 10, 10, 0, 0, 0);
    CHECK(ev.ops[0].why[0] == '\0');
    tb_evidence_free(&ev);
    feed(&ev, 1, 0); /* one disturbed run */
    CHECK_OP(&ev, 0, TB_CLASS_ON_TARGET, 10, 9, 1, 0, 0);
    CHECKF(strstr(ev.ops[0].why, "host 1, device 9, inconclusive 0 of 10 runs"), "%s",
           ev.ops[0].why);
    tb_evidence_free(&ev);
    feed(&ev, 5, 0);
    CHECK_OP(&ev, 0, TB_CLASS_UNVERIFIED, 10, 5, 5, 0, 0);
    tb_evidence_free(&ev);
    feed(&ev, 6, 0);
    CHECK_OP(&ev, 0, TB_CLASS_SILENT_FALLBACK, 10, 4, 6, 0, 0);
    tb_evidence_free(&ev);
    /* the why names the run that decided, and each kind's first run */
    feed_at(&ev, 3, 7, 0);
    CHECK_OP(&ev, 0, TB_CLASS_SILENT_FALLBACK, 10, 3, 7, 0, 0);
    CHECKF(strstr(ev.ops[0].why, "run 4: claimed gpu, but host CPU 2.000 ms") == ev.ops[0].why,
           "%s", ev.ops[0].why);
    CHECKF(strstr(ev.ops[0].device_why, "run 1: claimed gpu: host CPU 0.020 ms") ==
               ev.ops[0].device_why,
           "%s", ev.ops[0].device_why);
    tb_evidence_free(&ev);
    feed_at(&ev, 8, 1, 0); /* a minority: on-target, the odd run named */
    CHECK_OP(&ev, 0, TB_CLASS_ON_TARGET, 10, 9, 1, 0, 0);
    CHECKF(strstr(ev.ops[0].why, "first other run 9: "), "%s", ev.ops[0].why);
    tb_evidence_free(&ev);
    feed(&ev, 1, 1); /* one run without a launch is a fact, not a timing */
    CHECK_OP(&ev, 0, TB_CLASS_SILENT_FALLBACK, 10, 9, 1, 1, 0);
    CHECKF(strstr(ev.ops[0].why, "0 device launches") != NULL, "%s", ev.ops[0].why);
    CHECK(tb_evidence_count(&ev, TB_CLASS_SILENT_FALLBACK) == 1);
    tb_evidence_free(&ev);
}

/* The platform's steal reading: on Linux /proc/stat has it; totals over all
 * CPUs never fall below one CPU's and never go back. */
static void test_steal_clock(void)
{
    uint64_t c0 = 0, a0 = 0, c1 = 0, a1 = 0;
    const int cpu = tb_thread_current_cpu();
    const int known = tb_steal_ns(cpu, &c0, &a0);
    if (!known) {
        CHECK(c0 == 0 && a0 == 0);
        CHECKF(access("/proc/stat", R_OK) != 0, "/proc/stat is readable but gave no steal");
        printf("no steal clock on this platform\n");
        return;
    }
    CHECK(a0 >= c0);
    CHECK(tb_steal_ns(cpu, &c1, &a1) == 1);
    CHECK(a1 >= a0 && c1 >= c0 && a1 >= c1);
    uint64_t c2 = 1, a2 = 0;
    CHECK(tb_steal_ns(-1, &c2, &a2) == 1 && c2 == 0 && a2 >= a1);
    CHECK(tb_steal_ns(1 << 20, &c2, &a2) == 1 && c2 == 0); /* no such CPU */
    printf("steal so far: %.1f ms on cpu %d, %.1f ms on all cpus\n", (double)c1 / 1e6, cpu,
           (double)a1 / 1e6);
}

int main(void)
{
    test_steal_clock();
    test_rules();
    test_verdicts();
    test_liars();
    test_honest_and_declared();
    test_opencl_cpu_device();
    return tb_test_result("test_evidence");
}

/* Silent-fallback detector against planted faults: liars that claim a GPU
 * and compute on the host are flagged for every op they ran; a CPU-type
 * OpenCL device (PoCL) is flagged when the profile wanted a GPU; an honest
 * device gives zero false flags over 50 runs; a declared fallback stays
 * declared; wrong outputs are caught by the sampled cpu-ref check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_backend.h"
#include "harness/tb_evidence.h"
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

/* Every op on entry 0 of a liar is silent on every run. */
static void test_liars(void)
{
    struct tb_backend *cpu = cpu1();
    struct tb_evidence_thresholds th;
    tb_evidence_thresholds_default(&th);
    th.min_wall_ns = 50000;
    const enum fake_mode modes[2] = {FAKE_LIAR_ZERO, FAKE_LIAR_FAKE};
    for (int m = 0; m < 2; m++) {
        /* LIAR_FAKE reports a launch: only the host-time rule can catch it,
         * so its ops are big enough (512x512 scalar matmuls) to measure */
        struct test_graph t;
        CHECK(test_graph_build(&t, m ? 512 : 64, m ? 512 : 32, m ? 2 : 1, m) == 0);
        struct tb_backend *liar = fake_backend_create(modes[m], TB_DEVICE_GPU, 0);
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
            CHECKF(r.ev.ops[i].n_class[TB_CLASS_SILENT_FALLBACK] == 10,
                   "mode %d op %s: %d of 10 runs silent (%s)", m, t.g.ops[i].name,
                   r.ev.ops[i].n_class[TB_CLASS_SILENT_FALLBACK], r.ev.ops[i].why);
            CHECK(r.ev.ops[i].cls == TB_CLASS_SILENT_FALLBACK);
        }
        CHECK(on_liar == (m ? 3 : 4)); /* the liars take q4_0 too */
        CHECK(tb_evidence_count(&r.ev, TB_CLASS_SILENT_FALLBACK) == on_liar * 10);
        if (pl)
            CHECKF(strstr(r.ev.ops[0].why, m ? "host CPU" : "0 device launches") != NULL, "%s",
                   r.ev.ops[0].why);
        rig_free(&r);
        tb_backend_free(liar);
        test_graph_free(&t);
    }
    /* no evidence slot and ops too short for the host-time rule: unverified */
    struct test_graph t;
    CHECK(test_graph_build(&t, 64, 32, 1, 0) == 0);
    struct tb_backend *mute = fake_backend_create(FAKE_LIAR_NONE, TB_DEVICE_GPU, 0);
    const struct tb_sched_entry e[2] = {test_entry("mute:gpu", mute, TB_DEVICE_GPU, NULL),
                                        test_entry("cpu", cpu, TB_DEVICE_CPU, NULL)};
    th.min_wall_ns = 1000000000ull;
    struct rig r;
    CHECK(rig_run(&r, e, 2, NULL, &t.g, 3, &th, 0) == 0);
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_UNVERIFIED) == 4 * 3);
    CHECK(strstr(r.ev.ops[0].why, "no launch evidence") != NULL);
    rig_free(&r);
    tb_backend_free(mute);
    test_graph_free(&t);
    tb_backend_free(cpu);
}

/* Honest device: zero flags over 50 runs; its declined q4_0 matmul is a
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
    CHECK(rig_run(&r, e, 2, NULL, &t.g, 50, NULL, 3) == 0);
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_SILENT_FALLBACK) == 0);
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_UNVERIFIED) == 0);
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_ON_TARGET) == 3 * 50);
    CHECK(r.ev.ops[1].n_class[TB_CLASS_DECLARED_FALLBACK] == 50);
    CHECK(r.ev.ops[1].cls == TB_CLASS_DECLARED_FALLBACK);
    CHECKF(strstr(r.ev.ops[1].why, "unsupported-type") != NULL, "%s", r.ev.ops[1].why);
    int checked = 0, mismatch = 0;
    for (int i = 0; i < r.ev.n_ops; i++) {
        checked += r.ev.ops[i].n_checked;
        mismatch += r.ev.ops[i].n_mismatch;
    }
    CHECKF(checked > 50 && mismatch == 0, "%d checked, %d mismatched", checked, mismatch);
    rig_free(&r);
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
            CHECK(r.ev.ops[i].n_class[TB_CLASS_SILENT_FALLBACK] == 5);
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
    CHECK(tb_evidence_count(&r.ev, TB_CLASS_DECLARED_FALLBACK) == 4 * 2);
    CHECKF(strstr(r.ev.ops[0].why, "profile-forbids") != NULL, "%s", r.ev.ops[0].why);
    rig_free(&r);
    test_graph_free(&t);
    tb_sched_backends_close(&bs);
}

/* The host-time rule's thresholds, on hand-made evidence. */
static void test_rules(void)
{
    struct tb_evidence_thresholds th;
    tb_evidence_thresholds_default(&th);
    struct tb_placement p = {
        .entry = 0, .device = "dev", .device_kind = TB_DEVICE_GPU, .claimed_kind = TB_DEVICE_GPU};
    struct tb_op_run_evidence x = {.wall_ns = 1000000,
                                   .host_cpu_ns = 950000,
                                   .launches = 2,
                                   .device_ns = 0,
                                   .has_device_evidence = 1,
                                   .device_kind = TB_DEVICE_GPU};
    char why[TB_EVIDENCE_WHY_MAX];
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_SILENT_FALLBACK);
    x.device_ns = 900000; /* a host thread spin-waiting on a busy device */
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_ON_TARGET);
    x.device_ns = 0;
    x.host_cpu_ns = 100000; /* host idle: the work went elsewhere */
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_ON_TARGET);
    x.host_cpu_ns = 950000;
    x.wall_ns = 50000; /* too short to judge by host time */
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_ON_TARGET);
    th.min_wall_ns = 10000;
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_SILENT_FALLBACK);
    /* a CPU claim is never silent */
    p.claimed_kind = TB_DEVICE_CPU;
    x.launches = 0;
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_ON_TARGET);
    p.entry = 1;
    snprintf(p.reason_text, sizeof p.reason_text, "unsupported-type: x");
    CHECK(tb_evidence_classify(&p, &x, &th, why, sizeof why) == TB_CLASS_DECLARED_FALLBACK);
    CHECK(!strcmp(why, "unsupported-type: x"));
    CHECK(!strcmp(tb_op_class_name(TB_CLASS_SILENT_FALLBACK), "silent-fallback"));
}

int main(void)
{
    test_rules();
    test_liars();
    test_honest_and_declared();
    test_opencl_cpu_device();
    return tb_test_result("test_evidence");
}

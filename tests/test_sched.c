/* Placement scheduler: preference order, reason codes, the CPU always
 * last, --no-cpu-fallback errors, segments/copies, and mixed placements
 * (accelerator for supported ops + cpu for Q4_0 matmuls) that compute the
 * same logits as cpu-ref on a small llama model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_backend.h"
#include "kernels/tb_sched.h"
#include "tb_test.h"
#include "workloads/tb_llama.h"

static struct tb_backend *cpu_backend(void)
{
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = 2;
    struct tb_backend *b = NULL;
    return tb_backend_create("cpu", &cfg, &b, NULL) ? NULL : b;
}

static void test_order_and_reasons(void)
{
    struct test_graph t;
    CHECK(test_graph_build(&t, 64, 32, 2, 0) == 0);
    struct tb_backend *gpu = fake_backend_create(FAKE_HONEST, TB_DEVICE_GPU, 0);
    struct tb_backend *cpu = cpu_backend();
    CHECK(gpu && cpu);
    fake_backend_decline_silu(gpu);
    /* npu unavailable, then the fake gpu, then cpu */
    const struct tb_sched_entry e[3] = {test_entry("npu", NULL, TB_DEVICE_NPU, "no npu here"),
                                        test_entry("fake:gpu", gpu, TB_DEVICE_GPU, NULL),
                                        test_entry("cpu", cpu, TB_DEVICE_CPU, NULL)};
    struct tb_sched *s = NULL;
    struct tb_err err = {0};
    CHECK(tb_sched_create(e, 3, NULL, &s, &err) == TB_OK);
    const struct tb_sched_plan *pl = NULL;
    CHECKF(tb_sched_plan(s, &t.g, &pl, &err) == TB_OK, "%s", err.msg);
    CHECK(pl && pl->n_ops == 4);
    CHECK(pl->first_choice_kind == TB_DEVICE_NPU);
    const int want_entry[4] = {1, 2, 1, 2}; /* q4_0 and silu declined by the fake */
    for (int i = 0; pl && i < 4; i++) {
        CHECKF(pl->ops[i].entry == want_entry[i], "op %d on entry %d", i, pl->ops[i].entry);
        CHECK(pl->ops[i].reason == TB_REASON_BACKEND_UNAVAILABLE);
        CHECKF(strstr(pl->ops[i].reason_text, "backend-unavailable: no npu here") != NULL, "%s",
               pl->ops[i].reason_text);
    }
    if (pl) {
        CHECK(pl->n_segs == 4 && pl->n_copies == 3);
        CHECK(pl->ops[0].claimed_kind == TB_DEVICE_GPU && pl->ops[1].claimed_kind == TB_DEVICE_CPU);
    }
    tb_sched_free(s);

    /* fake gpu first: q4_0 is a type problem, silu an op problem */
    CHECK(tb_sched_create(e + 1, 2, NULL, &s, &err) == TB_OK);
    CHECKF(tb_sched_plan(s, &t.g, &pl, &err) == TB_OK, "%s", err.msg);
    if (pl) {
        CHECK(pl->ops[0].entry == 0 && pl->ops[0].reason == TB_REASON_NONE);
        CHECK(pl->ops[1].entry == 1 && pl->ops[1].reason == TB_REASON_UNSUPPORTED_TYPE);
        CHECKF(strstr(pl->ops[1].reason_text, "q4_0") != NULL, "%s", pl->ops[1].reason_text);
        CHECK(pl->ops[3].entry == 1 && pl->ops[3].reason == TB_REASON_UNSUPPORTED_OP);
        CHECK(!strcmp(tb_sched_reason_name(pl->ops[3].reason), "unsupported-op"));
    }
    /* execution gives cpu-ref's numbers */
    CHECKF(tb_sched_compute(s, &t.g, NULL, NULL, &err) == TB_OK, "%s", err.msg);
    const size_t nh = (size_t)tb_tensor_nelements(&t.h1);
    float *got = malloc(nh * sizeof *got);
    memcpy(got, t.h1.data, nh * sizeof *got);
    struct tb_backend *ref = NULL;
    CHECK(tb_backend_create("cpu-ref", NULL, &ref, NULL) == TB_OK);
    CHECK(tb_backend_compute_graph(ref, &t.g, 0, t.g.n_ops, NULL, &err) == TB_OK);
    double md = 0;
    for (size_t i = 0; i < nh; i++)
        md = fmax(md, fabs((double)got[i] - ((float *)t.h1.data)[i]));
    CHECKF(md < 1e-2, "max diff %g", md);
    free(got);
    tb_backend_free(ref);
    tb_sched_free(s);

    /* profile-forbids: ENFORCE an npu wish on the fake gpu */
    struct tb_sched_entry f[2] = {test_entry("fake:npu", gpu, TB_DEVICE_NPU, NULL), e[2]};
    struct tb_sched_opts o;
    tb_sched_opts_default(&o);
    o.kind_policy = TB_SCHED_KIND_ENFORCE;
    CHECK(tb_sched_create(f, 2, &o, &s, &err) == TB_OK);
    CHECK(tb_sched_plan(s, &t.g, &pl, &err) == TB_OK);
    if (pl) {
        CHECK(pl->ops[0].entry == 1 && pl->ops[0].reason == TB_REASON_PROFILE_FORBIDS);
        CHECKF(strstr(pl->ops[0].reason_text, "profile-forbids") != NULL, "%s",
               pl->ops[0].reason_text);
        CHECK(pl->n_segs == 1 && pl->n_copies == 0);
    }
    tb_sched_free(s);
    /* TRUST: same entry is used and claims an npu */
    CHECK(tb_sched_create(f, 2, NULL, &s, &err) == TB_OK);
    CHECK(tb_sched_plan(s, &t.g, &pl, &err) == TB_OK);
    if (pl)
        CHECK(pl->ops[0].entry == 0 && pl->ops[0].claimed_kind == TB_DEVICE_NPU &&
              pl->ops[0].device_kind == TB_DEVICE_GPU);
    tb_sched_free(s);

    /* memory: the fake may hold less than one weight matrix */
    f[0] = e[1];
    f[0].memory_bytes = 100;
    CHECK(tb_sched_create(f, 2, NULL, &s, &err) == TB_OK);
    CHECK(tb_sched_plan(s, &t.g, &pl, &err) == TB_OK);
    if (pl) {
        CHECK(pl->ops[0].entry == 1 && pl->ops[0].reason == TB_REASON_MEMORY);
        CHECK(pl->ops[2].entry == 0); /* add has no weight */
    }
    tb_sched_free(s);

    /* no-cpu-fallback lists the ops that would fall back */
    tb_sched_opts_default(&o);
    o.no_cpu_fallback = 1;
    CHECK(tb_sched_create(e + 1, 2, &o, &s, &err) == TB_OK);
    tb_err_clear(&err);
    CHECK(tb_sched_plan(s, &t.g, &pl, &err) == TB_EUNSUPPORTED);
    CHECKF(strstr(err.msg, "2 of 4 ops") && strstr(err.msg, "mm_q4 (unsupported-type)") &&
               strstr(err.msg, "silu (unsupported-op)") && !strstr(err.msg, "mm_f32"),
           "%s", err.msg);
    CHECK(pl != NULL); /* still inspectable */
    CHECK(tb_sched_compute(s, &t.g, NULL, NULL, &err) == TB_EUNSUPPORTED);
    tb_sched_free(s);

    /* the last entry must be a created CPU backend */
    CHECK(tb_sched_create(e, 2, NULL, &s, &err) == TB_EINVAL);
    CHECK(s == NULL);
    tb_backend_free(gpu);
    tb_backend_free(cpu);
    test_graph_free(&t);
}

static void test_backends_open(void)
{
    const char names[3][32] = {"npu", "cuda", "opencl:gpu"};
    struct tb_sched_backends bs;
    struct tb_err err = {0};
    CHECKF(tb_sched_backends_open(names, 3, NULL, &bs, &err) == TB_OK, "%s", err.msg);
    CHECK(bs.n == 4);
    CHECK(!strcmp(bs.e[3].label, "cpu") && bs.e[3].b != NULL);
    CHECK(bs.e[0].b == NULL && strstr(bs.e[0].disabled_reason, "no backend named 'npu'"));
    CHECK(bs.e[0].want_kind == TB_DEVICE_NPU && bs.e[1].want_kind == TB_DEVICE_GPU &&
          bs.e[2].want_kind == TB_DEVICE_GPU);
    if (!bs.e[1].b)
        CHECK(bs.e[1].disabled_reason[0] != '\0');
    tb_sched_backends_close(&bs);
    const char cpu_only[1][32] = {"cpu"};
    CHECK(tb_sched_backends_open(cpu_only, 1, NULL, &bs, &err) == TB_OK && bs.n == 1);
    tb_sched_backends_close(&bs);
    const char bad[1][32] = {"opencl:tpu"};
    CHECK(tb_sched_backends_open(bad, 1, NULL, &bs, &err) == TB_EINVAL);
    CHECK(strstr(err.msg, "tpu") != NULL);
}

/* Mixed placement on mcu-260k q4_0: logits of each decode step and of a
 * prefill equal cpu-ref's within tolerance. */
static void run_llama_mixed(const char *label, struct tb_sched_entry *e, int n_entries,
                            const struct tb_llama_model *m)
{
    struct tb_err err = {0};
    struct tb_sched *s = NULL;
    CHECK(tb_sched_create(e, n_entries, NULL, &s, &err) == TB_OK);
    struct tb_llama_state *st = NULL, *rs = NULL;
    CHECK(tb_llama_state_build(m, 8, 16, &st, &err) == TB_OK);
    CHECK(tb_llama_state_build(m, 8, 16, &rs, &err) == TB_OK);
    struct tb_backend *ref = NULL;
    CHECK(tb_backend_create("cpu-ref", NULL, &ref, NULL) == TB_OK);
    if (!s || !st || !rs || !ref)
        goto out;
    const int32_t V = m->config.vocab_size;
    const int32_t toks[8] = {1, 5, 9, 42, 7, 100, 3, 64};
    struct tb_sched_run run = {.sched = s};
    double worst = 0, scale = 0;
    int top1_same = 1;
    /* prefill of 5, then 3 decode steps */
    for (int step = 0; step < 4; step++) {
        const int32_t n = step == 0 ? 5 : 1, pos0 = step == 0 ? 0 : 4 + step;
        const int32_t *tk = step == 0 ? toks : toks + 4 + step;
        int rc = tb_llama_eval_with(m, st, tb_sched_graph_runner, &run, tk, n, pos0,
                                    TB_LLAMA_LAST_LOGITS, NULL, &err);
        CHECKF(rc == TB_OK, "%s: %s", label, err.msg);
        rc = tb_llama_eval(m, rs, ref, tk, n, pos0, TB_LLAMA_LAST_LOGITS, NULL, &err);
        CHECK(rc == TB_OK);
        const float *a = tb_llama_logits(st, 0), *b = tb_llama_logits(rs, 0);
        int32_t ia = 0, ib = 0;
        for (int32_t j = 0; j < V; j++) {
            worst = fmax(worst, fabs((double)a[j] - b[j]));
            scale = fmax(scale, fabs((double)b[j]));
            ia = a[j] > a[ia] ? j : ia;
            ib = b[j] > b[ib] ? j : ib;
        }
        top1_same &= ia == ib;
    }
    const struct tb_sched_plan *pl = NULL;
    CHECK(tb_sched_plan(s, &st->graph, &pl, &err) == TB_OK);
    int n_q4_cpu = 0, n_accel = 0;
    for (int i = 0; pl && i < pl->n_ops; i++) {
        const struct tb_op *op = &st->graph.ops[i];
        if (op->kind == TB_OP_MATMUL) {
            CHECKF(pl->ops[i].entry == n_entries - 1 &&
                       pl->ops[i].reason == TB_REASON_UNSUPPORTED_TYPE,
                   "%s: %s on entry %d reason %s", label, op->name, pl->ops[i].entry,
                   pl->ops[i].reason_text);
            n_q4_cpu++;
        } else {
            n_accel += pl->ops[i].entry == 0;
        }
    }
    CHECKF(n_q4_cpu > 0 && n_accel > 0, "%s: %d q4_0 ops on cpu, %d on the accelerator", label,
           n_q4_cpu, n_accel);
    if (pl)
        CHECKF(pl->n_copies > 10, "%s: %d copies", label, pl->n_copies);
    /* cpu's q4_0 path quantizes activations to q8_0 (as llama.cpp): a few
     * percent of the logit range */
    CHECKF(worst <= 0.03 * scale + 1e-3, "%s: max logit diff %g (scale %g)", label, worst, scale);
    CHECK(top1_same);
    printf("%s: mixed placement max logit diff %.3g of %.3g, %d copies\n", label, worst, scale,
           pl ? pl->n_copies : -1);
out:
    tb_backend_free(ref);
    tb_llama_state_free(st);
    tb_llama_state_free(rs);
    tb_sched_free(s);
}

static void test_llama_mixed(void)
{
    char path[512];
    tb_test_path(path, sizeof path, "sched", ".gguf");
    struct tb_err err = {0};
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q4_0, 7, path, &err) == TB_OK, "%s", err.msg);
    struct tb_llama_model *m = NULL;
    CHECKF(tb_llama_load(path, &m, &err) == TB_OK, "%s", err.msg);
    if (!m) {
        remove(path);
        return;
    }
    /* always: an honest fake accelerator that declines q4_0 */
    struct tb_backend *gpu = fake_backend_create(FAKE_HONEST, TB_DEVICE_GPU, 0);
    struct tb_backend *cpu = cpu_backend();
    CHECK(gpu && cpu);
    if (gpu && cpu) {
        ((struct fake_ctx *)gpu->context)->device_sleep_ns = 1000;
        struct tb_sched_entry e[2] = {test_entry("fake:gpu", gpu, TB_DEVICE_GPU, NULL),
                                      test_entry("cpu", cpu, TB_DEVICE_CPU, NULL)};
        run_llama_mixed("fake-gpu+cpu", e, 2, m);
    }
    tb_backend_free(gpu);
    /* the real OpenCL backend (PoCL here) when present */
    const char names[1][32] = {"opencl"};
    struct tb_sched_backends bs;
    CHECK(tb_sched_backends_open(names, 1, NULL, &bs, &err) == TB_OK);
    if (bs.e[0].b)
        run_llama_mixed("opencl+cpu", bs.e, bs.n, m);
    else
        printf("opencl unavailable, mixed OpenCL placement not run: %s\n", bs.e[0].disabled_reason);
    tb_sched_backends_close(&bs);
    tb_backend_free(cpu);
    tb_llama_free(m);
    remove(path);
}

int main(void)
{
    test_order_and_reasons();
    test_backends_open();
    test_llama_mixed();
    return tb_test_result("test_sched");
}

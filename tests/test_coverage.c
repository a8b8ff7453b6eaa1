/* Tier coverage: shares, verdicts (on-target, degraded, unsupported,
 * does-not-fit, silent-fallback), the JSON record, the Markdown/CSV matrix,
 * --fail-on gates, and `tierbench coverage` end to end on mcu-260k. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_backend.h"
#include "harness/cli/tb_cli.h"
#include "harness/tb_coverage.h"
#include "tb_test.h"

/* Runs the small test graph 3 times through a probe and builds coverage.
 * sign >= 0: the run counts of every op claiming an accelerator must fit an
 * honest device (TB_RUN_DEVICE) or a 0-launch liar (TB_RUN_HOST). */
static void cover_runs(struct tb_sched_entry *e, int n, const struct tb_sched_opts *o,
                       struct tb_coverage *cov, int sign)
{
    struct test_graph t;
    CHECK(test_graph_build(&t, 64, 32, 2, 0) == 0);
    struct tb_tier_probe *tp = NULL;
    struct tb_err err = {0};
    CHECKF(tb_tier_probe_create(e, n, o, NULL, 2, &tp, &err) == TB_OK, "%s", err.msg);
    for (int i = 0; tp && i < 3; i++)
        CHECKF(tb_tier_probe_runner(tp, &t.g, NULL, &err) == TB_OK, "%s", err.msg);
    memset(cov, 0, sizeof *cov);
    if (tp)
        CHECKF(tb_tier_probe_coverage(tp, "prof", "wl", "model", cov, &err) == TB_OK, "%s",
               err.msg);
    CHECK(cov->n_runs == 3 && cov->n_ops == 4);
    const struct tb_sched_plan *pl = tp ? tb_tier_probe_plan(tp) : NULL;
    const struct tb_evidence *ev = tp ? tb_tier_probe_evidence(tp) : NULL;
    for (int i = 0; sign >= 0 && pl && i < pl->n_ops; i++) {
        const struct tb_op_evidence_summary *s = &ev->ops[i];
        const int judged = pl->ops[i].claimed_kind != TB_DEVICE_CPU ? 3 : 0;
        /* a liar (0 launches): every run hard host evidence; an honest
         * device: every run judged, a busy-clock minority allowed
         * (docs/coverage.md, rule 4) */
        const int ok = sign == TB_RUN_HOST
                           ? s->n_host == judged && s->n_host_hard == judged && s->n_device == 0
                           : s->n_device + s->n_host == judged && s->n_host_hard == 0 &&
                                 (judged == 0 || s->n_device > s->n_host);
        CHECKF(s->n_runs == 3 && ok && s->n_inconclusive == 0,
               "op %d: runs %d device %d host %d (hard %d) inconclusive %d: %s", i, s->n_runs,
               s->n_device, s->n_host, s->n_host_hard, s->n_inconclusive, s->host_why);
    }
    for (int i = 0; i < cov->n_off; i++)
        CHECK(cov->off[i].n_runs == 3 &&
              cov->off[i].n_device + cov->off[i].n_host + cov->off[i].n_inconclusive <= 3);
    tb_tier_probe_free(tp);
    test_graph_free(&t);
}

static void cover(struct tb_sched_entry *e, int n, const struct tb_sched_opts *o,
                  struct tb_coverage *cov)
{
    cover_runs(e, n, o, cov, -1);
}

static void test_verdicts(void)
{
    struct tb_backend *cpu = NULL;
    CHECK(tb_backend_create("cpu-ref", NULL, &cpu, NULL) == TB_OK);
    struct tb_backend *honest = fake_backend_create(FAKE_HONEST, TB_DEVICE_GPU, 0);
    struct tb_backend *liar = fake_backend_create(FAKE_LIAR_ZERO, TB_DEVICE_GPU, 0);
    struct tb_sched_entry e[2] = {test_entry("fake:gpu", honest, TB_DEVICE_GPU, NULL),
                                  test_entry("cpu", cpu, TB_DEVICE_CPU, NULL)};
    struct tb_coverage c;

    /* honest gpu, q4_0 matmul declared onto the cpu: degraded */
    cover_runs(e, 2, NULL, &c, TB_RUN_DEVICE);
    CHECK(c.verdict == TB_COV_DEGRADED);
    CHECK(c.n_on_target == 3 && c.n_declared == 1 && c.n_silent == 0 && c.n_off == 1);
    CHECK(!strcmp(c.target_kind, "gpu"));
    CHECK(c.flops_on_target > 0 && c.flops_on_target < c.flops);
    CHECK(c.ns_on_target > 0 && c.ns_on_target <= c.ns);
    if (c.n_off == 1) {
        CHECK(!strcmp(c.off[0].name, "mm_q4") && c.off[0].cls == TB_CLASS_DECLARED_FALLBACK);
        CHECK(strstr(c.off[0].reason, "unsupported-type") != NULL);
    }
    CHECK(!tb_coverage_fails(&c, TB_FAIL_ON_SILENT) && tb_coverage_fails(&c, TB_FAIL_ON_ANY));
    json_t *j = tb_coverage_to_json(&c);
    CHECK(j != NULL);
    if (j) {
        CHECK(!strcmp(json_string_value(json_object_get(j, "verdict")), "degraded"));
        CHECK(json_integer_value(json_object_get(json_object_get(j, "ops"), "on_target")) == 3);
        json_t *off = json_object_get(j, "off_target");
        CHECK(json_array_size(off) == 1);
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(off, 0), "class")),
                      "declared-fallback"));
        json_t *runs = json_object_get(json_array_get(off, 0), "runs");
        CHECK(json_integer_value(json_object_get(runs, "total")) == 3 &&
              json_integer_value(json_object_get(runs, "host")) == 0); /* a cpu claim */
        json_decref(j);
    }
    struct tb_coverage rows[3];
    rows[0] = c;

    /* the same with matmul an accelerator class: unsupported */
    const char classes[1][16] = {"matmul"};
    struct tb_sched_opts o;
    tb_sched_opts_default(&o);
    o.accel_op_classes = classes;
    o.n_accel_op_classes = 1;
    cover(e, 2, &o, &c);
    CHECK(c.verdict == TB_COV_UNSUPPORTED);
    CHECK(c.n_off == 1 && c.off[0].accel_required);
    tb_coverage_free(&c);

    /* weights do not fit the gpu: does-not-fit */
    e[0].memory_bytes = 64;
    cover(e, 2, NULL, &c);
    CHECK(c.verdict == TB_COV_DOES_NOT_FIT);
    tb_coverage_free(&c);
    e[0].memory_bytes = 0;

    /* a liar: silent-fallback, fails both gates */
    e[0].b = liar;
    cover_runs(e, 2, NULL, &c, TB_RUN_HOST);
    CHECK(c.verdict == TB_COV_SILENT_FALLBACK && c.n_silent == 4 && c.n_on_target == 0);
    for (int i = 0; i < c.n_off; i++)
        CHECK(c.off[i].cls == TB_CLASS_SILENT_FALLBACK && c.off[i].n_host == 3 &&
              c.off[i].n_device == 0);
    CHECK(tb_coverage_fails(&c, TB_FAIL_ON_SILENT) && tb_coverage_fails(&c, TB_FAIL_ON_ANY));
    rows[1] = c;

    /* cpu only: on-target */
    cover(e + 1, 1, NULL, &c);
    CHECK(c.verdict == TB_COV_ON_TARGET && c.n_on_target == 4 && c.n_off == 0);
    CHECK(!tb_coverage_fails(&c, TB_FAIL_ON_ANY));
    rows[2] = c;

    char path[512];
    tb_test_path(path, sizeof path, "cov", ".md");
    FILE *f = fopen(path, "w+");
    CHECK(f && tb_coverage_write_markdown(f, rows, 3) == TB_OK);
    char buf[8192] = "";
    if (f) {
        rewind(f);
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    CHECK(strstr(buf, "| prof | wl | gpu | **degraded** | 3/4 (75.0%)") != NULL);
    CHECK(strstr(buf, "**silent-fallback**") && strstr(buf, "0 device launches"));
    CHECK(strstr(buf, "**on-target**") != NULL);
    remove(path);
    tb_test_path(path, sizeof path, "cov", ".csv");
    f = fopen(path, "w+");
    CHECK(f && tb_coverage_write_csv(f, rows, 3) == TB_OK);
    int lines = 0;
    if (f) {
        rewind(f);
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
        for (char *p = buf; *p; p++)
            lines += *p == '\n';
    }
    CHECK(lines == 4);
    CHECK(strncmp(buf, "\"profile\",\"workload\"", 20) == 0);
    CHECK(strstr(buf, "\"silent-fallback\"") != NULL);
    remove(path);
    for (int i = 0; i < 3; i++)
        tb_coverage_free(&rows[i]);

    tb_coverage_failed("p", "w", "m", TB_COV_DOES_NOT_FIT, "needs 16 GiB", &c);
    CHECK(c.verdict == TB_COV_DOES_NOT_FIT && !strcmp(c.why, "needs 16 GiB") && c.n_off == 0);
    CHECK(tb_fail_on_from_name("any-fallback") == TB_FAIL_ON_ANY &&
          tb_fail_on_from_name("bogus") < 0);
    tb_backend_free(cpu);
    tb_backend_free(honest);
    tb_backend_free(liar);
}

/* The CLI on two shipped profiles with a tiny model. */
static void test_cli(void)
{
    char out[512], cache[512], csv[600];
    tb_test_path(out, sizeof out, "covout", "");
    tb_test_path(cache, sizeof cache, "covcache", "");
    char *argv[] = {"coverage",
                    "--profile",
                    "laptop-x86,phone-flagship-npu",
                    "--model",
                    "synth:mcu-260k:q4_0",
                    "--cache-dir",
                    cache,
                    "--out",
                    out,
                    "--evals",
                    "2",
                    "--fail-on",
                    "silent-fallback",
                    "--quiet",
                    NULL};
    const int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    const int code = tb_cli_coverage(argc, argv);
    /* with an OpenCL device of type CPU (PoCL) the phone's "opencl:gpu"
     * work is a silent fallback; without OpenCL everything is declared */
    struct tb_backend *ocl = NULL;
    const int pocl = tb_backend_create("opencl", NULL, &ocl, NULL) == TB_OK &&
                     tb_backend_device_kind(ocl) == TB_DEVICE_CPU;
    tb_backend_free(ocl);
    CHECKF(code == (pocl ? TB_EXIT_FAIL : TB_EXIT_OK), "exit %d, pocl %d", code, pocl);
    snprintf(csv, sizeof csv, "%s/coverage.csv", out);
    FILE *f = fopen(csv, "r");
    CHECK(f != NULL);
    char buf[16384] = "";
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    CHECK(
        strstr(buf, "\"laptop-x86\",\"llm-decode\",\"synth:mcu-260k:q4_0\",\"cpu\",\"on-target\""));
    CHECK(strstr(buf, pocl
                          ? "\"phone-flagship-npu\",\"llm-decode\",\"synth:mcu-260k:q4_0\",\"npu\","
                            "\"silent-fallback\""
                          : "\"phone-flagship-npu\",\"llm-decode\",\"synth:mcu-260k:q4_0\",\"npu\","
                            "\"unsupported\""));
    char *bad[] = {"coverage", "--fail-on", "sometimes", NULL};
    CHECK(tb_cli_coverage(3, bad) == TB_EXIT_USAGE);
    /* clean up: out/coverage.{md,csv,json}, cache model */
    const char *files[] = {"coverage.md", "coverage.csv", "coverage.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(csv, sizeof csv, "%s/%s", out, files[i]);
        remove(csv);
    }
    remove(out);
    snprintf(csv, sizeof csv, "%s/mcu-260k-q4_0-s1.gguf", cache);
    remove(csv);
    remove(cache);
}

int main(void)
{
    test_verdicts();
    test_cli();
    return tb_test_result("test_coverage");
}

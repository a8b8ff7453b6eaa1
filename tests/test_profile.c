/* Device profiles: every shipped profile validates; every class of bad
 * input is rejected with FILE:LINE; synth sizes match what synth writes. */
#include <stdlib.h>
#include <string.h>

#include "harness/cli/tb_cli.h"
#include "harness/tb_energy.h"
#include "harness/tb_profile.h"
#include "harness/tb_topo.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_types.h"
#include "tb_test.h"
#include "workloads/tb_llama.h"

#define DATA TB_SOURCE_DIR "/tests/data/profiles/"

static void test_shipped(void)
{
    char **paths = NULL;
    int n = 0;
    struct tb_err err = {0};
    CHECKF(tb_profile_dir_list(TB_SOURCE_DIR "/device_profiles", &paths, &n, &err) == 0, "%s",
           err.msg);
    CHECKF(n == 7, "%d shipped profiles", n);
    for (int i = 0; i < n; i++) {
        struct tb_profile *p = NULL;
        int rc = tb_profile_load(paths[i], &p, &err);
        CHECKF(rc == 0, "%s", err.msg);
        if (rc)
            continue;
        const char *base = strrchr(paths[i], '/') + 1;
        CHECKF(strlen(base) == strlen(p->name) + 4 && !strncmp(base, p->name, strlen(p->name)),
               "%s: name '%s' differs from the file name", paths[i], p->name);
        CHECK(p->n_workloads >= 1 && p->n_slos >= 1 && p->n_backends >= 1);
        /* a configured energy source is one the meter accepts */
        struct tb_energy_config ec = {.source = p->energy_source};
        struct tb_energy_meter *m = NULL;
        CHECKF(tb_energy_open(&ec, &m, &err) == 0, "%s: %s", p->name, err.msg);
        tb_energy_free(m);
        tb_profile_free(p);
    }
    tb_profile_dir_list_free(paths, n);

    /* spot checks of parsed values */
    struct tb_profile *p = NULL;
    CHECK(tb_profile_find(TB_SOURCE_DIR "/device_profiles", "mcu-esp32s3", &p, &err) == 0);
    if (p) {
        CHECK(p->threads == 1 && p->isa_cap == TB_ISA_SCALAR && p->binding == TB_BIND_COMPACT);
        CHECK(p->memory_budget == 888 * 1024);
        CHECK(p->n_weight_types == 2 && p->weight_types[0] == TB_TYPE_Q8_0);
        const struct tb_profile_workload *w = tb_profile_workload(p, TB_WL_LLM_DECODE);
        CHECK(w && w->synth && !strcmp(w->shape, "mcu-260k") && w->weight_type == TB_TYPE_Q8_0);
        CHECK(w && w->prompt == 32 && w->n_predict == 32 && w->need_bytes <= p->memory_budget);
        tb_profile_free(p);
    }
    CHECK(tb_profile_find(TB_SOURCE_DIR "/device_profiles", "phone-flagship-npu", &p, &err) == 0);
    if (p) {
        CHECK(p->n_backends == 3 && !strcmp(p->backends[0], "npu") &&
              !strcmp(p->backends[1], "opencl:gpu") && !strcmp(p->backends[2], "cpu"));
        CHECK(p->n_accel_op_classes == 2 && !strcmp(p->accel_op_classes[1], "attention"));
        CHECK(p->threads == 8 && p->memory_budget == 12ull << 30);
        tb_profile_free(p);
    }
    CHECK(tb_profile_find(TB_SOURCE_DIR "/device_profiles", "laptop-x86", &p, &err) == 0);
    if (p) {
        CHECK(p->threads == 0 && p->isa_cap == TB_ISA_COUNT && p->binding == TB_BIND_SPREAD);
        tb_profile_free(p);
    }
    CHECK(tb_profile_find(TB_SOURCE_DIR "/device_profiles", "no-such-tier", &p, &err) == TB_EINVAL);
}

static void test_good_minimal(void)
{
    struct tb_profile *p = NULL;
    struct tb_err err = {0};
    CHECKF(tb_profile_load(DATA "good-minimal.ini", &p, &err) == 0, "%s", err.msg);
    if (!p)
        return;
    CHECK(!strcmp(p->name, "good-minimal") && p->threads == 2 && p->memory_budget == 64 << 20);
    CHECK(!strcmp(p->energy_source, "auto") && p->binding == TB_BIND_NONE);
    CHECK(p->n_slos == 2);
    const struct tb_slo *s = &p->slos[0];
    CHECK(!strcmp(s->metric, "ttft_ms") && s->op == TB_SLO_LE && s->threshold == 500);
    CHECK(!strcmp(s->cond_key, "prompt") && !strcmp(s->cond_value, "128") && s->line == 15);
    CHECK(tb_slo_holds(s, 499.9) && tb_slo_holds(s, 500) && !tb_slo_holds(s, 500.1));
    s = &p->slos[1];
    CHECK(!strcmp(s->metric, "decode_tps") && s->op == TB_SLO_GE && s->threshold == 10);
    CHECK(!s->cond_key[0] && tb_slo_holds(s, 10) && !tb_slo_holds(s, 9.99));
    char line[128];
    tb_slo_format(&p->slos[0], line, sizeof line);
    CHECKF(!strcmp(line, "ttft_ms <= 500 @ prompt 128"), "%s", line);
    tb_profile_free(p);
}

struct bad_case {
    const char *file;
    int line;
    const char *fragment;
};

static void test_bad_fixtures(void)
{
    static const struct bad_case k[] = {
        {"bad-unknown-key", 5, "unknown key 'thread'"},
        {"bad-number", 5, "threads '2x'"},
        {"bad-threads-zero", 5, "threads '0'"},
        {"bad-threads-negative", 5, "threads '-4'"},
        {"bad-unit", 7, "unit must be one of"},
        {"bad-no-unit", 7, "missing unit"},
        {"bad-isa", 6, "isa_cap 'neon'"},
        {"bad-slo-op", 15, "bad SLO"},
        {"bad-slo-number", 16, "bad SLO"},
        {"bad-slo-metric", 16, "unknown SLO metric 'tokens_per_second'"},
        {"bad-slo-cond", 15, "matches no workload"},
        {"bad-slo-less", 16, "SLOs use <= or >="},
        {"bad-budget", 11, "> memory_budget"},
        {"bad-type", 11, "type f16 is not in weight_types"},
        {"bad-workload", 10, "unknown workload 'llm-translate'"},
        {"bad-section", 14, "unknown section [slos]"},
        {"bad-shape", 11, "unknown synth shape 'gpt5'"},
        {"bad-ctx", 13, "exceeds stories15m's context of 256"},
        {"bad-backend", 9, "backend 'tpu'"},
        {"bad-accel", 10, "lists no accelerator"},
        {"bad-duplicate", 6, "duplicate key 'threads'"},
        {"bad-missing-key", 2, "lacks required key 'backends'"},
        {"bad-no-equals", 16, "expected 'key = value'"},
        {"bad-binding", 6, "binding 'scatter'"},
        {"bad-cpuset", 7, "cpuset '0-3,x'"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char path[512], prefix[600];
        snprintf(path, sizeof path, DATA "%s.ini", k[i].file);
        snprintf(prefix, sizeof prefix, "%s:%d: ", path, k[i].line);
        struct tb_profile *p = NULL;
        struct tb_err err = {0};
        int rc = tb_profile_load(path, &p, &err);
        CHECKF(rc < 0 && p == NULL, "%s accepted", k[i].file);
        CHECKF(!strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, k[i].fragment),
               "%s: got '%s', want '%s...%s'", k[i].file, err.msg, prefix, k[i].fragment);
        CHECKF(!strchr(err.msg, '\n'), "%s: message must be one line", k[i].file);
        tb_profile_free(p);
    }
    struct tb_err err = {0};
    struct tb_profile *p = NULL;
    CHECK(tb_profile_load(DATA "bad-budget.ini", &p, &err) == TB_EBUDGET);
    CHECK(tb_profile_load(DATA "no-such-file.ini", &p, &err) == TB_EIO);
}

/* Inputs easier to state inline than as fixtures. */
static int load_text(const char *text, struct tb_profile **p, struct tb_err *err, char *path,
                     size_t n)
{
    tb_test_path(path, n, "profile", ".ini");
    FILE *f = fopen(path, "w");
    if (!f)
        return -100;
    fputs(text, f);
    fclose(f);
    return tb_profile_load(path, p, err);
}

#define HEAD                                                                                       \
    "[profile]\nname = t\ntier = t\nthreads = 1\nisa_cap = scalar\nmemory_budget = 1 GiB\n"        \
    "weight_types = q8_0\nbackends = cpu\n"

static void expect_error(const char *text, int line, const char *fragment)
{
    char path[256], prefix[300];
    struct tb_profile *p = NULL;
    struct tb_err err = {0};
    int rc = load_text(text, &p, &err, path, sizeof path);
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    CHECKF(rc < 0 && !p, "accepted: %s", text);
    CHECKF(!strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, fragment),
           "got '%s', want '%s...%s'", err.msg, prefix, fragment);
    tb_profile_free(p);
}

/* Issue 19 minor items: a second [slo] or [profile] section is an error
 * naming its line, not merged into the first; a NUL byte in the file (a
 * value "lap\0top" that inih would read as "lap") is an error naming the
 * line and the byte offset, from a file and from memory. */
static void test_duplicate_sections_and_nul(void)
{
    expect_error(HEAD "[workload.embed]\nmodel = m.gguf\nprompt = 4\n[slo]\nttft_ms <= 20\n"
                      "[slo]\ndecode_tps >= 1 @ workload embed\n",
                 14, "duplicate section [slo] (first on line 12)");
    expect_error(HEAD "[profile]\ndescription = again\n[workload.embed]\nmodel = m.gguf\n"
                      "prompt = 4\n",
                 9, "duplicate section [profile] (first on line 1)");
    /* "tier = lap\0top" on line 3: "[profile]\n" + "name = t\n" = 19 bytes before it */
    static const char text[] = "[profile]\nname = t\ntier = lap\0top\nthreads = 1\n"
                               "isa_cap = scalar\nmemory_budget = 1 GiB\nweight_types = q8_0\n"
                               "backends = cpu\n[workload.embed]\nmodel = m.gguf\nprompt = 4\n";
    char path[256], prefix[300];
    tb_test_path(path, sizeof path, "profile-nul", ".ini");
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(text, 1, sizeof text - 1, f) == sizeof text - 1);
    if (f)
        fclose(f);
    struct tb_profile *p = NULL;
    struct tb_err err = {0};
    snprintf(prefix, sizeof prefix, "%s:3: NUL byte at offset 29 (column 11)", path);
    CHECK(tb_profile_load(path, &p, &err) == TB_EFORMAT && !p);
    CHECKF(!strncmp(err.msg, prefix, strlen(prefix)), "got '%s', want '%s'", err.msg, prefix);
    CHECK(tb_profile_load_memory(text, sizeof text - 1, "mem", &p, &err) == TB_EFORMAT && !p);
    CHECKF(!strncmp(err.msg, "mem:3: NUL byte at offset 29", 28), "got '%s'", err.msg);
    /* the same profile without the NUL loads, tier whole */
    char fixed[sizeof text];
    memcpy(fixed, text, sizeof text);
    fixed[29] = '-';
    CHECKF(tb_profile_load_memory(fixed, sizeof fixed - 1, "mem", &p, &err) == TB_OK, "%s",
           err.msg);
    CHECK(p && !strcmp(p->tier, "lap-top"));
    tb_profile_free(p);
}

static void test_inline(void)
{
    expect_error("threads = 2\n" HEAD, 1, "before any [section]");
    expect_error(HEAD "[workload.embed]\nmodel = synth:stories15m:q8_0\n  prompt = 4\n", 11,
                 "indented line");
    char longline[512];
    snprintf(longline, sizeof longline, HEAD "description = %0300d\n", 7);
    expect_error(longline, 9, "line longer than");
    expect_error(HEAD "[workload.embed]\nmodel = synth:stories15m:q8_0\nprompt = 4\n"
                      "n_predict = 3\n",
                 12, "n_predict must be 0");
    expect_error(HEAD "[workload.llm-decode]\nmodel = synth:stories15m:q8_0\nprompt = 4\n"
                      "n_predict = 0\n",
                 12, "needs n_predict >= 1");
    expect_error(HEAD "[workload.llm-decode]\nprompt = 4\n", 9, "lacks 'model'");
    expect_error(HEAD, 1, "no [workload.NAME] section");
    expect_error("[slo]\ndecode_tps >= 1\n", 1, "missing [profile] section");
    expect_error(HEAD "energy_source = joulemeter\n[workload.embed]\nmodel = m.gguf\nprompt = 4\n",
                 9, "energy source 'joulemeter' unknown");
    expect_error(HEAD "[workload.embed]\nmodel = m.gguf\nprompt = 4\n[workload.embed]\n", 12,
                 "duplicate section [workload.embed]");
    expect_error(HEAD "[workload.embed]\nmodel = m.gguf\nprompt = 4\n[slo]\n"
                      "decode_tps >= 1 @ workload llm-decode\n",
                 13, "matches no workload");
    expect_error(HEAD "[workload.embed]\nmodel = m.gguf\nprompt = 4\n[slo]\n"
                      "decode_tps >= 1 @ threads 4\n",
                 13, "expected prompt, n_predict or workload");

    /* a .gguf model and a trace file resolve against the profile's directory */
    char path[256];
    struct tb_profile *p = NULL;
    struct tb_err err = {0};
    int rc = load_text(HEAD "energy_source = trace:power.csv\n[workload.embed]\n"
                            "model = models/m.gguf\nprompt = 4\n[slo]\n"
                            "ttft_ms<=20\ntop1_agreement >= 0.98 @ workload embed\n",
                       &p, &err, path, sizeof path);
    CHECKF(rc == 0, "%s", err.msg);
    if (p) {
        const char *slash = strrchr(path, '/');
        char want[600];
        snprintf(want, sizeof want, "%.*s/models/m.gguf", (int)(slash - path), path);
        CHECKF(!strcmp(p->workloads[0].model, want), "%s", p->workloads[0].model);
        CHECK(!p->workloads[0].synth && p->workloads[0].need_bytes == 0);
        snprintf(want, sizeof want, "trace:%.*s/power.csv", (int)(slash - path), path);
        CHECKF(!strcmp(p->energy_source, want), "%s", p->energy_source);
        CHECK(p->n_slos == 2 && p->slos[0].threshold == 20 && p->slos[1].threshold == 0.98);
        CHECK(!strcmp(p->slos[1].cond_value, "embed"));
        tb_profile_free(p);
    }
}

/* The budget arithmetic must agree with what tb_synth_write emits. */
static void test_synth_bytes(void)
{
    uint64_t w = 0, kv = 0;
    struct tb_err err = {0};
    /* mcu-260k q8_0 by hand: embd + output 2*512 rows of 68 B = 69632;
     * per layer 68*(2*64 + 2*32 + 2*192) + 204*64 + 2*64*4 = 52736, x5;
     * output_norm 256 -> 333568. KV: 2 * 5 layers * 32 * 64 pos * 4 B. */
    CHECK(tb_profile_synth_bytes("mcu-260k", TB_TYPE_Q8_0, 64, &w, &kv, &err) == 0);
    CHECKF(w == 333568 && kv == 81920, "w %llu kv %llu", (unsigned long long)w,
           (unsigned long long)kv);
    CHECK(tb_profile_synth_bytes("nope", TB_TYPE_Q8_0, 64, &w, &kv, &err) == TB_EINVAL);

    static const int types[] = {TB_TYPE_Q8_0, TB_TYPE_Q4_0, TB_TYPE_F16};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char path[256];
        tb_test_path(path, sizeof path, "synth", ".gguf");
        int rc = tb_synth_write("mcu-260k", types[i], 1, path, &err);
        CHECKF(rc == 0, "%s", err.msg);
        struct tb_llama_model *m = NULL;
        if (rc == 0 && (rc = tb_llama_load(path, &m, &err)) == 0) {
            CHECK(tb_profile_synth_bytes("mcu-260k", types[i], 1, &w, &kv, &err) == 0);
            CHECKF(m->weights.weight_bytes == w, "%s: loader says %llu B, profile %llu B",
                   tb_type_name(types[i]), (unsigned long long)m->weights.weight_bytes,
                   (unsigned long long)w);
            tb_llama_free(m);
        } else {
            CHECKF(rc == 0, "%s", err.msg);
        }
        remove(path);
    }
}

/* The positions the run measures at, and validation for the run's KV type. */
static void test_positions_kv(void)
{
    int32_t np = 0, ng = 0;
    CHECK(tb_profile_positions(TB_WL_LLM_DECODE, 128, 64, 512, &np, &ng) == 0);
    CHECK(np == 128 && ng == 1); /* llm-decode measures one step */
    CHECK(tb_profile_positions(TB_WL_LLM_GENERATE, 500, 64, 512, &np, &ng) == 1);
    CHECK(np == 448 && ng == 64); /* clamped to leave room */
    CHECK(tb_profile_positions(TB_WL_LLM_PREFILL, 0, 0, 512, &np, &ng) == 0 && np == 1 && ng == 0);

    struct tb_profile *p16 = NULL, *p32 = NULL;
    struct tb_err err = {0};
    CHECKF(tb_profile_load_kv(DATA "good-minimal.ini", TB_TYPE_F16, &p16, &err) == 0, "%s",
           err.msg);
    CHECKF(tb_profile_load_kv(DATA "good-minimal.ini", TB_TYPE_F32, &p32, &err) == 0, "%s",
           err.msg);
    for (int i = 0; p16 && p32 && i < p16->n_workloads; i++)
        if (p16->workloads[i].synth)
            CHECK(p16->workloads[i].need_bytes < p32->workloads[i].need_bytes);
    tb_profile_free(p16);
    tb_profile_free(p32);
    struct tb_profile *p = NULL;
    CHECK(tb_profile_load_kv(DATA "good-minimal.ini", TB_TYPE_Q8_0, &p, &err) == TB_EINVAL && !p);
}

static void test_cli(void)
{
    char *list[] = {"profiles", "list", "--dir", TB_SOURCE_DIR "/device_profiles"};
    CHECK(tb_cli_profiles(4, list) == TB_EXIT_OK);
    char *show[] = {"profiles", "show", "wearable"};
    CHECK(tb_cli_profiles(3, show) == TB_EXIT_OK);
    char *good[] = {"profiles", "validate", DATA "good-minimal.ini"};
    CHECK(tb_cli_profiles(3, good) == TB_EXIT_OK);
    char *bad[] = {"profiles", "validate", DATA "good-minimal.ini", DATA "bad-unit.ini"};
    CHECK(tb_cli_profiles(4, bad) == TB_EXIT_FAIL);
    char *bad_list[] = {"profiles", "list", "--dir", TB_SOURCE_DIR "/tests/data/profiles"};
    CHECK(tb_cli_profiles(4, bad_list) == TB_EXIT_FAIL);
    char *missing[] = {"profiles", "show", "no-such-tier"};
    CHECK(tb_cli_profiles(3, missing) == TB_EXIT_USAGE);
    char *usage[] = {"profiles", "frobnicate"};
    CHECK(tb_cli_profiles(2, usage) == TB_EXIT_USAGE);
}

int main(void)
{
    test_shipped();
    test_good_minimal();
    test_bad_fixtures();
    test_inline();
    test_duplicate_sections_and_nul();
    test_synth_bytes();
    test_positions_kv();
    test_cli();
    return tb_test_result("test_profile");
}

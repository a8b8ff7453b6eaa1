/* tierbench run end to end on tiny fixture profiles: binding applied and
 * recorded, ISA cap honored, memory budget enforced (does-not-fit, not run),
 * INVALID marking, SLO verdicts (PASS/FAIL/UNMEASURED, exit code), a
 * profile the host cannot run (unsupported, with reasons), output-dir
 * errors, never-overwrite, results that survive SIGKILL mid-run, and
 * profile validation and the run agreeing on the memory need (KV f16/f32). */
#include "tb_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_results.h"
#include "harness/tb_profile.h"
#include "harness/tb_run.h"
#include "workloads/tb_llama.h"
#include "run_helpers.h"

static char g_dir[512];   /* fixture root */
static char g_cache[600]; /* shared model cache */

/* A profile directory holding exactly one profile. */
static void make_profile(const char *name, const char *body, char *dir, size_t n)
{
    snprintf(dir, n, "%s/prof-%s", g_dir, name);
    mkdir(dir, 0755);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.ini", dir, name);
    tb_test_write_file(path, body);
}

static const char *k_tiny = "[profile]\n"
                            "name = tiny\n"
                            "tier = mcu\n"
                            "description = test profile\n"
                            "threads = 2\n"
                            "binding = compact\n"
                            "isa_cap = scalar\n"
                            "memory_budget = 64 MiB\n"
                            "weight_types = q8_0, q4_0\n"
                            "backends = cpu\n"
                            "energy_source = none\n"
                            "events = perf::TASK-CLOCK,perf::PAGE-FAULTS,NO_SUCH_EVENT_X\n"
                            "[workload.llm-prefill]\n"
                            "model = synth:mcu-260k:q8_0\n"
                            "prompt = 16\n"
                            "n_predict = 0\n"
                            "[workload.llm-decode]\n"
                            "model = synth:mcu-260k:q8_0\n"
                            "prompt = 16\n"
                            "n_predict = 8\n"
                            "[workload.llm-generate]\n"
                            "model = synth:mcu-260k:q4_0\n"
                            "prompt = 8\n"
                            "n_predict = 8\n"
                            "[slo]\n"
                            "ttft_ms <= 100000 @ prompt 16\n"
                            "decode_tps >= 1000000000\n"
                            "joules_per_token <= 1\n";

static void opts_for(struct tb_run_opts *o, const char *profiles_dir, const char *out)
{
    tb_run_opts_default(o);
    o->profiles_dir = profiles_dir;
    o->out_dir = out;
    o->cache_dir = g_cache;
    o->min_samples = 3;
    o->min_time_s = 0.02;
    o->warmup = 1;
    o->accuracy_positions = 8;
    o->quiet = 1;
}

static json_t *find(json_t *recs, const char *workload)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "workload")), workload))
            return r;
    }
    return NULL;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
    json_t *x = json_object_get(o, a);
    if (b)
        x = json_object_get(x, b);
    return json_is_string(x) ? json_string_value(x) : "";
}

static void test_full_run(void)
{
    char pdir[1024], out[1024], run_dir[1024];
    make_profile("tiny", k_tiny, pdir, sizeof pdir);
    snprintf(out, sizeof out, "%s/out-full", g_dir);
    struct tb_run_opts o;
    opts_for(&o, pdir, out);
    int code = -1;
    struct tb_err err = {0};
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    CHECKF(code == 1, "decode_tps >= 1e9 must fail the qualification (exit 1), got %d", code);
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    CHECK(recs != NULL);
    if (!recs)
        return;
    CHECK(json_array_size(recs) == 4); /* 3 workloads + qualification */
    json_t *pre = find(recs, "llm-prefill");
    CHECK(pre != NULL);
    if (pre) {
        CHECK(!strcmp(str_at(pre, "status", NULL), "ok"));
        CHECK(!strcmp(str_at(pre, "metric", NULL), "ttft_ms"));
        /* ISA cap honored: the profile caps at scalar */
        CHECK(!strcmp(str_at(pre, "isa", "cap"), "scalar"));
        CHECK(!strcmp(str_at(pre, "isa", "used"), "scalar"));
        /* binding applied and recorded; workers observed where planned */
        json_t *bind = json_object_get(pre, "binding");
        json_t *applied = json_object_get(bind, "applied");
        CHECK(json_is_true(json_object_get(applied, "ok")));
        CHECK(json_integer_value(json_object_get(applied, "observed_pu")) ==
              json_integer_value(json_object_get(applied, "main_thread_pu")));
        json_t *workers = json_object_get(bind, "workers_observed_cpu");
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        const size_t want = online >= 2 ? 2 : 1;
        CHECKF(json_array_size(workers) == want, "workers observed %zu, want %zu",
               json_array_size(workers), want);
        CHECK(json_integer_value(json_object_get(json_object_get(pre, "threads"), "actual")) ==
              (json_int_t)want);
        /* statistics over raw samples, kept raw */
        json_t *st = json_object_get(pre, "stats");
        CHECK(json_integer_value(json_object_get(st, "n")) >= 3);
        CHECK(json_array_size(json_object_get(pre, "samples")) ==
              (size_t)json_integer_value(json_object_get(st, "n")));
        CHECK(json_number_value(json_object_get(st, "median")) > 0);
        /* PAPI software event with a real value, hardware event unavailable or counted */
        json_t *ev = json_object_get(json_object_get(pre, "counters"), "events");
        json_t *tc = json_object_get(ev, "perf::TASK-CLOCK");
        CHECK(tc != NULL);
        if (json_object_get(tc, "value"))
            CHECK(json_integer_value(json_object_get(tc, "value")) > 0);
        else
            CHECK(json_is_string(json_object_get(tc, "unavailable")));
        /* the profile's event list is what was counted; a bogus event is
         * unavailable with PAPI's reason, never a zero */
        CHECK(json_object_size(ev) == 3);
        CHECK(json_object_get(ev, "PAPI_TOT_INS") == NULL);
        CHECK(
            json_is_string(json_object_get(json_object_get(ev, "NO_SUCH_EVENT_X"), "unavailable")));
        /* energy: source none -> unavailable with a reason, never a number */
        json_t *en = json_object_get(pre, "energy");
        CHECK(json_is_string(json_object_get(en, "unavailable")));
        CHECK(json_object_get(en, "joules_per_token") == NULL);
        /* accuracy beside speed: q8_0 vs cpu-ref on the f32 model */
        json_t *acc = json_object_get(pre, "accuracy");
        CHECK(json_integer_value(json_object_get(acc, "positions")) == 8);
        const double top1 = json_number_value(json_object_get(acc, "top1_agreement"));
        CHECKF(top1 >= 0.75 && top1 <= 1.0, "top1 %.3f", top1);
        CHECK(json_number_value(json_object_get(acc, "kl_mean")) > 0); /* quantization loss */
        /* tier coverage: a cpu profile runs every op on its target tier */
        CHECK(!strcmp(str_at(pre, "coverage", "verdict"), "on-target"));
        /* environment in every record */
        CHECK(json_is_object(json_object_get(json_object_get(pre, "environment"), "cpu")));
        json_t *mem = json_object_get(pre, "memory");
        CHECK(json_integer_value(json_object_get(mem, "weight_bytes_mapped")) > 0);
        CHECK(json_integer_value(json_object_get(mem, "kv_cache_bytes")) > 0);
    }
    json_t *gen = find(recs, "llm-generate");
    CHECK(gen && json_number_value(
                     json_object_get(json_object_get(gen, "derived"), "ttft_ms_median")) > 0);
    json_t *q = find(recs, "qualification");
    CHECK(q != NULL);
    if (q) {
        CHECK(!strcmp(str_at(q, "verdict", NULL), "FAIL"));
        json_t *slos = json_object_get(q, "slos");
        CHECK(json_array_size(slos) == 3);
        CHECK(!strcmp(str_at(json_array_get(slos, 0), "verdict", NULL), "PASS"));
        CHECK(!strcmp(str_at(json_array_get(slos, 1), "verdict", NULL), "FAIL"));
        CHECK(!strcmp(str_at(json_array_get(slos, 2), "verdict", NULL), "UNMEASURED"));
        CHECK(strlen(str_at(json_array_get(slos, 2), "reason", NULL)) > 0);
    }
    /* manifest complete */
    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/%s", run_dir, TB_RESULTS_MANIFEST);
    json_t *man = json_load_file(mpath, 0, NULL);
    CHECK(man && !strcmp(str_at(man, "status", NULL), "complete"));
    CHECK(man && json_integer_value(json_object_get(man, "records")) == 4);
    json_decref(man);
    json_decref(recs);

    /* a second run into the same --out never overwrites the first */
    CHECK(tb_run(&o, &code, &err) == TB_OK);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test $(ls -d %s/run-* | wc -l) -eq 2", out);
    CHECK(system(cmd) == 0);
}

static void test_budget_invalid_unsupported(void)
{
    char pdir[1024], out[1024], run_dir[1024];
    make_profile("tiny", k_tiny, pdir, sizeof pdir);
    struct tb_run_opts o;
    int code;
    struct tb_err err = {0};

    /* model over the budget: does-not-fit with the numbers, not run */
    snprintf(out, sizeof out, "%s/out-budget", g_dir);
    opts_for(&o, pdir, out);
    o.model = "synth:stories15m:q8_0"; /* ~30 MiB of weights + 32000-row logits */
    o.workloads = "llm-prefill";
    char budget_dir[1024];
    char *small = strdup(k_tiny);
    char *p = strstr(small, "64 MiB");
    memcpy(p, "8 MiB ", 6);
    make_profile("small", small, budget_dir, sizeof budget_dir);
    free(small);
    o.profiles_dir = budget_dir;
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    json_t *r = recs ? find(recs, "llm-prefill") : NULL;
    CHECK(r && !strcmp(str_at(r, "status", NULL), "does-not-fit"));
    CHECK(r && strstr(str_at(r, "does_not_fit", NULL), "budget 8 MiB") != NULL);
    CHECK(r && json_object_get(r, "stats") == NULL); /* not run */
    /* --model asked whether it fits: the answer is no failure */
    CHECKF(code == 0, "does-not-fit of a --model: exit %d", code);
    json_decref(recs);

    /* a cap that stops the loop before min_samples: INVALID with the reason */
    snprintf(out, sizeof out, "%s/out-invalid", g_dir);
    opts_for(&o, pdir, out);
    o.workloads = "llm-prefill";
    o.min_samples = 100000;
    o.max_time_s = 0.05;
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    recs = read_run(out, run_dir, sizeof run_dir);
    r = recs ? find(recs, "llm-prefill") : NULL;
    CHECK(r && !strcmp(str_at(r, "status", NULL), "invalid"));
    CHECK(r && json_is_false(json_object_get(r, "valid")));
    CHECK(r && strlen(str_at(r, "invalid_reason", NULL)) > 0);
    CHECKF(code == TB_RUN_EXIT_FAILED, "an invalid measurement: exit %d", code);
    json_decref(recs);

    /* a profile whose only backend does not exist here: unsupported, with why */
    char *acc = strdup(k_tiny);
    p = strstr(acc, "backends = cpu");
    memcpy(p, "backends = npu", 14);
    char udir[1024];
    make_profile("accel", acc, udir, sizeof udir);
    free(acc);
    snprintf(out, sizeof out, "%s/out-unsup", g_dir);
    opts_for(&o, udir, out);
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    CHECK(code == 0); /* unsupported is not an SLO failure */
    recs = read_run(out, run_dir, sizeof run_dir);
    r = recs ? find(recs, "llm-decode") : NULL;
    CHECK(r && !strcmp(str_at(r, "status", NULL), "unsupported"));
    json_t *ent = r ? json_object_get(json_object_get(r, "placement"), "entries") : NULL;
    CHECK(ent && json_array_size(ent) >= 1 &&
          strstr(str_at(json_array_get(ent, 0), "unavailable", NULL), "npu") != NULL);
    CHECK(r && !strcmp(str_at(r, "coverage", "verdict"), "unsupported"));
    r = recs ? find(recs, "qualification") : NULL;
    CHECK(r && !strcmp(str_at(r, "verdict", NULL), "UNSUPPORTED"));
    json_decref(recs);
}

static void test_output_errors(void)
{
    char pdir[1024], out[1100], file[1024];
    make_profile("tiny", k_tiny, pdir, sizeof pdir);
    snprintf(file, sizeof file, "%s/regular-file", g_dir);
    tb_test_write_file(file, "x");
    snprintf(out, sizeof out, "%s/sub", file); /* parent is a regular file */
    struct tb_run_opts o;
    opts_for(&o, pdir, out);
    int code = 0;
    struct tb_err err = {0};
    const int rc = tb_run(&o, &code, &err);
    CHECK(rc == TB_EIO);
    CHECKF(strstr(err.msg, "regular-file") != NULL, "message should name the path: %s", err.msg);
    /* bad profile selection is a usage error */
    opts_for(&o, pdir, g_dir);
    o.profiles = "no-such-profile";
    CHECK(tb_run(&o, &code, &err) == TB_EINVAL && strstr(err.msg, "no-such-profile"));
    o.profiles = NULL;
    o.workloads = "llm-bogus";
    CHECK(tb_run(&o, &code, &err) == TB_EINVAL && strstr(err.msg, "llm-bogus"));
}

/* A child run is killed at a random moment; whatever it wrote must read
 * back: every record whole (a torn tail dropped), the manifest parseable. */
static void test_sigkill(void)
{
    char pdir[1024];
    make_profile("tiny", k_tiny, pdir, sizeof pdir);
    unsigned seed = 12345;
    int survived = 0;
    for (int it = 0; it < 6; it++) {
        char out[1024], run_dir[1024] = "";
        snprintf(out, sizeof out, "%s/out-kill-%d", g_dir, it);
        pid_t pid = fork();
        if (pid == 0) {
            struct tb_run_opts o;
            opts_for(&o, pdir, out);
            o.min_time_s = 0.15;
            int code;
            tb_run(&o, &code, NULL);
            _exit(0);
        }
        seed = seed * 1103515245u + 12345u;
        const long delay_us = 50000 + (long)((seed >> 8) % 600000);
        usleep((useconds_t)delay_us);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        json_t *recs = read_run(out, run_dir, sizeof run_dir);
        if (!run_dir[0] || access(run_dir, F_OK)) {
            survived++; /* killed before the directory existed: nothing to lose */
            continue;
        }
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", run_dir, TB_RESULTS_JSONL);
        if (access(path, F_OK) == 0)
            CHECKF(recs != NULL, "iteration %d: results unreadable after SIGKILL", it);
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r) CHECK(
            json_integer_value(json_object_get(r, "schema_version")) == TB_RESULTS_SCHEMA_VERSION);
        snprintf(path, sizeof path, "%s/%s", run_dir, TB_RESULTS_MANIFEST);
        if (access(path, F_OK) == 0) {
            json_error_t je;
            json_t *m = json_load_file(path, 0, &je);
            CHECKF(m != NULL, "iteration %d: manifest torn: %s", it, je.text);
            json_decref(m);
        }
        json_decref(recs);
        survived++;
    }
    printf("SIGKILL iterations survived: %d of 6\n", survived);
    CHECK(survived == 6);
}

/* llm-prefill without a prompt measures 16, 128 and 512 clamped to the
 * context (mcu-260k: 511); a decode list measures each context position. */
static void test_prompt_lists(void)
{
    static const char *k_sweep =
        "[profile]\nname = sweep\ntier = test\ndescription = prompt lists\nthreads = 1\n"
        "binding = none\nisa_cap = best\nmemory_budget = 64 MiB\nweight_types = q8_0\n"
        "backends = cpu\nenergy_source = none\n"
        "[workload.llm-prefill]\nmodel = synth:mcu-260k:q8_0\n"
        "[workload.llm-decode]\nmodel = synth:mcu-260k:q8_0\nprompt = 8, 64\nn_predict = 4\n"
        "[slo]\nttft_ms <= 100000 @ prompt 511\n";
    char pdir[1024], out[1024], run_dir[1024];
    make_profile("sweep", k_sweep, pdir, sizeof pdir);
    snprintf(out, sizeof out, "%s/out-sweep", g_dir);
    struct tb_run_opts o;
    opts_for(&o, pdir, out);
    o.accuracy_positions = 0;
    o.min_samples = 2;
    o.min_time_s = 0.005;
    int code = -1;
    struct tb_err err = {0};
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    CHECK(code == 0);
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    int prefill[3] = {0}, decode[2] = {0};
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        const char *wl = str_at(r, "workload", NULL);
        const json_int_t pl =
            json_integer_value(json_object_get(json_object_get(r, "params"), "prompt"));
        if (!strcmp(wl, "llm-prefill"))
            prefill[0] += pl == 16, prefill[1] += pl == 128, prefill[2] += pl == 511;
        if (!strcmp(wl, "llm-decode"))
            decode[0] += pl == 8, decode[1] += pl == 64;
    }
    CHECKF(prefill[0] == 1 && prefill[1] == 1 && prefill[2] == 1, "prefill lengths %d %d %d",
           prefill[0], prefill[1], prefill[2]);
    CHECK(decode[0] == 1 && decode[1] == 1);
    json_t *q = recs ? find(recs, "qualification") : NULL;
    CHECK(q && !strcmp(str_at(q, "verdict", NULL), "PASS"));
    json_decref(recs);
}

/* The model file is rewritten (touched) while a run measures: that record
 * must come out INVALID with the reason, not as a clean figure. */
static void test_model_changed(void)
{
    char pdir[1024], out[1024], run_dir[1024], model[1100];
    make_profile("tiny", k_tiny, pdir, sizeof pdir);
    snprintf(out, sizeof out, "%s/out-changed", g_dir);
    snprintf(model, sizeof model, "%s/mcu-260k-q8_0-s1.gguf", g_cache); /* made by earlier runs */
    CHECK(access(model, R_OK) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct tb_run_opts o;
        opts_for(&o, pdir, out);
        o.workloads = "llm-decode";
        o.min_time_s = 1.0;
        o.accuracy_positions = 0;
        int code;
        _exit(tb_run(&o, &code, NULL) == TB_OK ? 0 : 3);
    }
    /* touch the file every 50 ms until the child is done: its >= 1 s
     * measurement sees a touch however late a loaded machine starts it (a
     * single touch after a fixed 400 ms could come before the measurement) */
    int st, touched = 0, touch_failed = 0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (utimensat(AT_FDCWD, model, NULL, 0) == 0)
            touched++;
        else
            touch_failed++;
        usleep(50000);
    }
    CHECKF(touched > 0 && touch_failed == 0, "touched %d, failed %d", touched, touch_failed);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    json_t *r = recs ? find(recs, "llm-decode") : NULL;
    CHECK(r && !strcmp(str_at(r, "status", NULL), "invalid"));
    CHECK(r && strstr(str_at(r, "invalid_reason", NULL), "changed") != NULL);
    json_decref(recs);
}

/* Results on a full filesystem (a 40 KiB tmpfs): a clear TB_EIO naming the
 * cause, and every record written before it still reads back whole. Needs
 * root to mount; otherwise this sub-check says so and is skipped. */
static void test_enospc(void)
{
    char pdir[1024], mnt[1024], run_dir[1024], cmd[1300];
    make_profile("tiny", k_tiny, pdir, sizeof pdir);
    snprintf(mnt, sizeof mnt, "%s/full", g_dir);
    CHECK(mkdir(mnt, 0755) == 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=40k tmpfs '%s' 2>/dev/null", mnt);
    if (geteuid() != 0 || system(cmd) != 0) {
        printf("ENOSPC: cannot mount a small tmpfs here (needs root): sub-check skipped\n");
        return;
    }
    struct tb_run_opts o;
    opts_for(&o, pdir, mnt);
    o.accuracy_positions = 0;
    int code = 0;
    struct tb_err err = {0};
    const int rc = tb_run(&o, &code, &err);
    CHECKF(rc == TB_EIO, "full disk: rc %d (%s)", rc, err.msg);
    CHECKF(strstr(err.msg, "No space left") != NULL, "message: %s", err.msg);
    json_t *recs = read_run(mnt, run_dir, sizeof run_dir);
    if (recs) { /* whatever made it to disk is whole */
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r) CHECK(json_is_string(json_object_get(r, "workload")));
        printf("ENOSPC: %zu record(s) intact before the disk filled\n", json_array_size(recs));
    }
    json_decref(recs);
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    CHECK(system(cmd) == 0);
}

/* Profile validation and the run size memory with the same function
 * (tb_llama_memory_need) at the same positions and KV type: with a budget
 * between the f16-KV and the f32-KV need, f16 validates and runs, f32 is
 * refused by both (validation, and the run's own check on an override
 * model), and both print and record the same figures. */
static void test_memory_agreement(void)
{
    const struct tb_synth_shape *sh = tb_synth_find("mcu-260k");
    uint64_t wb = 0, kv = 0;
    struct tb_err err = {0};
    CHECK(sh && tb_profile_synth_bytes("mcu-260k", TB_TYPE_Q8_0, 0, &wb, &kv, &err) == 0);
    if (!sh)
        return;
    struct tb_memory_need n16, n32;
    CHECK(tb_llama_memory_need(&sh->config, wb, TB_TYPE_F16, 64, 64, &n16, &err) == 0);
    CHECK(tb_llama_memory_need(&sh->config, wb, TB_TYPE_F32, 64, 64, &n32, &err) == 0);
    CHECK(n16.total < n32.total && n16.activations > 0 && n16.kv * 2 == n32.kv);
    const uint64_t budget = (n16.total + n32.total) / 2;
    char body[1024], pdir[1024], path[1100], out[1024], run_dir[1024];
    const char *fmt = "[profile]\nname = mem\ntier = t\nthreads = 1\nisa_cap = scalar\n"
                      "memory_budget = %llu B\nweight_types = q8_0, q4_0\nbackends = cpu\n"
                      "energy_source = none\n[workload.llm-prefill]\nmodel = synth:mcu-260k:%s\n"
                      "prompt = 64\n";
    snprintf(body, sizeof body, fmt, (unsigned long long)budget, "q8_0");
    make_profile("mem", body, pdir, sizeof pdir);
    snprintf(path, sizeof path, "%s/mem.ini", pdir);

    /* validation: f16 fits with exactly the f16 need, f32 does not */
    char f32_need[160];
    tb_memory_need_format(&n32, f32_need, sizeof f32_need);
    struct tb_profile *p = NULL;
    CHECKF(tb_profile_load_kv(path, TB_TYPE_F16, &p, &err) == 0, "%s", err.msg);
    CHECK(p && p->workloads[0].need_bytes == n16.total);
    tb_profile_free(p);
    CHECK(tb_profile_load_kv(path, TB_TYPE_F32, &p, &err) == TB_EBUDGET);
    CHECKF(strstr(err.msg, f32_need) != NULL, "'%s' lacks '%s'", err.msg, f32_need);

    /* the run: f16 measures and records the validated figure */
    struct tb_run_opts o;
    int code = -1;
    snprintf(out, sizeof out, "%s/out-mem16", g_dir);
    opts_for(&o, pdir, out);
    o.accuracy_positions = 0;
    o.kv_type = TB_TYPE_F16;
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    json_t *r = recs ? find(recs, "llm-prefill") : NULL;
    json_t *mem = json_object_get(r, "memory");
    CHECK(r && !strcmp(str_at(r, "status", NULL), "ok"));
    CHECK((uint64_t)json_integer_value(json_object_get(mem, "engine_total_bytes")) == n16.total);
    CHECK((uint64_t)json_integer_value(json_object_get(mem, "kv_cache_bytes")) == n16.kv);
    CHECK(!strcmp(str_at(mem, "kv_type", NULL), "f16"));
    json_decref(recs);

    /* f32: the run refuses the profile at validation, like validation */
    o.kv_type = TB_TYPE_F32;
    CHECK(tb_run(&o, &code, &err) == TB_EBUDGET && strstr(err.msg, f32_need));

    /* the run's own check (an override model the profile did not size)
     * gives the same verdict with the same figures */
    snprintf(body, sizeof body, fmt, (unsigned long long)budget, "q4_0");
    make_profile("mem", body, pdir, sizeof pdir);
    snprintf(out, sizeof out, "%s/out-mem32", g_dir);
    opts_for(&o, pdir, out);
    o.accuracy_positions = 0;
    o.model = "synth:mcu-260k:q8_0";
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    recs = read_run(out, run_dir, sizeof run_dir);
    r = recs ? find(recs, "llm-prefill") : NULL;
    mem = json_object_get(r, "memory");
    CHECK(r && !strcmp(str_at(r, "status", NULL), "does-not-fit"));
    CHECKF(r && strstr(str_at(r, "does_not_fit", NULL), f32_need), "'%s' lacks '%s'",
           str_at(r, "does_not_fit", NULL), f32_need);
    CHECK((uint64_t)json_integer_value(json_object_get(mem, "engine_total_bytes")) == n32.total);
    json_decref(recs);
}

/* issue 19: a ~4000-char --out once sent the reference cache and
 * coverage.csv to paths cut at 1023 chars (outside --out, over a sibling
 * file). Now every path is checked: a long --out that fits works with
 * everything inside it, one that does not is a one-line error before
 * anything is written. */
static void test_long_out(void)
{
    char pdir[1024], root[1024];
    make_profile("tiny", k_tiny, pdir, sizeof pdir);
    snprintf(root, sizeof root, "%s/long", g_dir);
    CHECK(mkdir(root, 0755) == 0);
    static char out[5000];
    long_out(root, 3981, out);
    CHECK(strlen(out) == 3981);
    struct tb_run_opts o;
    opts_for(&o, pdir, out);
    o.workloads = "llm-prefill";
    int code = -1;
    struct tb_err err = {0};
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    CHECKF(code == 0, "exit %d", code);
    CHECK(strays(root, out) == 0);
    /* the run's files are where they belong */
    DIR *d = opendir(out);
    struct dirent *e;
    static char run_dir[5200], p[5300];
    run_dir[0] = '\0';
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "run-", 4))
            snprintf(run_dir, sizeof run_dir, "%s/%s", out, e->d_name);
    if (d)
        closedir(d);
    const char *files[] = {"results.jsonl", "results.csv", "manifest.json",
                           "coverage.csv",  "coverage.md", "reference"};
    struct stat st;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", run_dir, files[i]);
        CHECKF(run_dir[0] && stat(p, &st) == 0, "%s missing", files[i]);
    }

    /* one that does not leave room for the run's files: nothing written */
    char *root2 = out; /* reuse the buffer for a second tree */
    snprintf(root, sizeof root, "%s/long2", g_dir);
    CHECK(mkdir(root, 0755) == 0);
    long_out(root, 4060, root2);
    opts_for(&o, pdir, root2);
    CHECK(tb_run(&o, &code, &err) == TB_EINVAL);
    CHECKF(strstr(err.msg, "results (--out) path too long") && strstr(err.msg, "(4060 chars"), "%s",
           err.msg);
    CHECK(strlen(err.msg) < TB_ERR_MSG_MAX && !strchr(err.msg, '\n'));
    CHECK(stat(root2, &st) != 0); /* not even the directory */
    CHECK(strays(root, root2) == 0);
    /* a model cache path too long is the same */
    opts_for(&o, pdir, g_dir);
    o.cache_dir = root2;
    CHECK(tb_run(&o, &code, &err) == TB_EINVAL && strstr(err.msg, "model cache (--cache)"));

    /* a profile whose path does not fit struct tb_profile's: an error, not
     * a cut path (its hash and relative paths would name another file) */
    snprintf(root, sizeof root, "%s/long-prof", g_dir);
    CHECK(mkdir(root, 0755) == 0);
    long_out(root, 600, root2);
    CHECK(mkdir(root2, 0755) == 0);
    snprintf(p, sizeof p, "%s/tiny.ini", root2);
    tb_test_write_file(p, k_tiny);
    struct tb_profile *prof = NULL;
    CHECK(tb_profile_load(p, &prof, &err) == TB_EINVAL && prof == NULL);
    CHECKF(strstr(err.msg, "path too long"), "%s", err.msg);
    tb_profile_free(prof);
}

int main(void)
{
    tb_test_path(g_dir, sizeof g_dir, "run", "");
    CHECK(mkdir(g_dir, 0755) == 0);
    snprintf(g_cache, sizeof g_cache, "%s/cache", g_dir);
    test_full_run();
    test_budget_invalid_unsupported();
    test_memory_agreement();
    test_output_errors();
    test_long_out();
    test_prompt_lists();
    test_model_changed();
    test_enospc();
    test_sigkill();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (tb_test_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return tb_test_result("test_run");
}

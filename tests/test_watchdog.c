/* The per-configuration watchdog of tierbench run (tb_run_opts.timeout_s):
 * a configuration whose backend hangs is killed and recorded TIMEOUT, one
 * whose process dies is CRASHED with the signal, one whose model file is
 * truncated (SIGBUS through the mapping) or deleted under it is
 * MODEL-CHANGED; every time the next configuration still runs, the
 * honest profile's records (and SLO verdict, judged from the child's
 * records) are complete, and the exit code says the results are
 * incomplete. The faults come from a test-only backend injected through
 * tb_run_hooks in place of the profile's first entry. Also: the accuracy
 * reference is computed once per run and shared by the children through a
 * file (loaded, or recomputed when damaged) with in-process figures. And
 * the generic service itself: a callback that returns (with its bytes),
 * exits with a code, hangs (TIMEOUT) or aborts (CRASHED, SIGABRT). */
#include "tb_test.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_results.h"
#include "harness/tb_run.h"
#include "harness/tb_watchdog.h"
#include "run_helpers.h"
#include "kernels/tb_backend_impl.h"
#include "reports/tb_report.h"

enum fault { FAULT_HANG, FAULT_ABORT, FAULT_TRUNCATE, FAULT_UNLINK, FAULT_TORN };

/* what the hook injects, and into which profile */
struct faults {
    enum fault mode;
    const char *profile;
    const char *model_path; /* FAULT_TRUNCATE / FAULT_UNLINK */
    const char *out_dir;    /* FAULT_TORN: the run's --out */
};

/* A writer killed mid-append: half a record at the end of the run's
 * results.jsonl (the only run-* under out_dir). */
static void write_torn(const char *out_dir)
{
    DIR *d = opendir(out_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "run-", 4))
            continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s/%s", out_dir, e->d_name, TB_RESULTS_JSONL);
        FILE *f = fopen(path, "a");
        if (f) {
            fputs("{\"schema_version\":1,\"workload\":\"llm-pre", f);
            fclose(f);
        }
    }
    if (d)
        closedir(d);
}

struct fault_ctx {
    struct tb_backend *inner; /* cpu-ref does the arithmetic */
    struct faults f;
    int n_calls;
};

static const char *fault_name(void *ctx)
{
    (void)ctx;
    return "test-fault";
}

static enum tb_device_kind fault_kind(void *ctx)
{
    (void)ctx;
    return TB_DEVICE_GPU;
}

static bool fault_supports(void *ctx, const struct tb_op *op)
{
    return tb_backend_supports_op(((struct fault_ctx *)ctx)->inner, op);
}

/* The fault fires on the first op this backend computes: inside the
 * measured loop of the child. */
static int fault_compute(void *ctx, const struct tb_op *op, struct tb_err *err)
{
    struct fault_ctx *c = ctx;
    if (c->n_calls++ == 0) {
        switch (c->f.mode) {
        case FAULT_HANG:
            for (;;) /* a kernel that never finishes */
                nanosleep(&(struct timespec){1, 0}, NULL);
        case FAULT_ABORT: abort();
        case FAULT_TORN: write_torn(c->f.out_dir); abort();
        case FAULT_TRUNCATE:
            /* the weights are mapped: pages past the new end raise SIGBUS */
            if (truncate(c->f.model_path, 4096) != 0)
                return tb_err_set(err, TB_EIO, "truncate: %s", strerror(errno));
            break;
        case FAULT_UNLINK:
            /* the mapping keeps the deleted file readable */
            if (unlink(c->f.model_path) != 0)
                return tb_err_set(err, TB_EIO, "unlink: %s", strerror(errno));
            break;
        }
    }
    return tb_backend_compute_op(c->inner, op, err);
}

static void fault_free(void *ctx)
{
    struct fault_ctx *c = ctx;
    tb_backend_free(c->inner);
    free(c);
}

static char g_dir[512], g_cache[600], g_profiles[600];

/* Runs in the child: notes how many threads its parent (the test process,
 * inside tb_run) had at fork time, which must be 1. */
static void note_parent_threads(void)
{
    char path[64], line[128], out[700];
    snprintf(path, sizeof path, "/proc/%d/status", (int)getppid());
    snprintf(out, sizeof out, "%s/parent-threads", g_dir);
    FILE *f = fopen(path, "r"), *o = fopen(out, "w");
    while (f && o && fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8))
            fputs(line + 8, o);
    if (f)
        fclose(f);
    if (o)
        fclose(o);
}

static int fault_override(void *user, const char *profile, const char *entry,
                          const struct tb_backend_config *cfg, struct tb_backend **out,
                          struct tb_err *err)
{
    const struct faults *f = user;
    (void)cfg;
    *out = NULL;
    if (strcmp(profile, f->profile) || strcmp(entry, "opencl:gpu"))
        return TB_OK;
    if (f->mode == FAULT_HANG)
        note_parent_threads();
    struct fault_ctx *c = calloc(1, sizeof *c);
    struct tb_backend *b = calloc(1, sizeof *b);
    if (!c || !b || tb_backend_create("cpu-ref", NULL, &c->inner, err)) {
        free(c);
        free(b);
        return TB_ENOMEM;
    }
    c->f = *f;
    b->iface = (struct tb_backend_i){.name = fault_name,
                                     .device_kind = fault_kind,
                                     .supports_op = fault_supports,
                                     .compute_op = fault_compute,
                                     .free = fault_free};
    b->context = c;
    *out = b;
    return TB_OK;
}

/* a-fault runs first (profiles load in name order); its first entry is the
 * injected backend. b-honest is a plain cpu profile with an SLO. */
static void make_profiles(void)
{
    snprintf(g_profiles, sizeof g_profiles, "%s/profiles", g_dir);
    mkdir(g_profiles, 0755);
    static const char *const common = "tier = test\n"
                                      "threads = 1\n"
                                      "binding = none\n"
                                      "isa_cap = scalar\n"
                                      "memory_budget = 64 MiB\n"
                                      "weight_types = q8_0\n"
                                      "energy_source = none\n"
                                      "events = perf::TASK-CLOCK\n"
                                      "[workload.llm-prefill]\n"
                                      "model = synth:mcu-260k:q8_0\n"
                                      "prompt = 8\n"
                                      "n_predict = 0\n";
    char path[1024], body[1024];
    snprintf(path, sizeof path, "%s/a-fault.ini", g_profiles);
    snprintf(body, sizeof body, "[profile]\nname = a-fault\nbackends = opencl:gpu, cpu\n%s",
             common);
    tb_test_write_file(path, body);
    snprintf(path, sizeof path, "%s/b-honest.ini", g_profiles);
    snprintf(body, sizeof body,
             "[profile]\nname = b-honest\nbackends = cpu\n%s[slo]\nttft_ms <= 100000 @ prompt 8\n",
             common);
    tb_test_write_file(path, body);
}

static void opts_for(struct tb_run_opts *o, const char *out, const struct tb_run_hooks *h,
                     double timeout)
{
    tb_run_opts_default(o);
    o->profiles_dir = g_profiles;
    o->out_dir = out;
    o->cache_dir = g_cache;
    o->min_samples = 3;
    o->min_time_s = 0.01;
    o->warmup = 1;
    o->accuracy_positions = 0;
    o->quiet = 1;
    o->timeout_s = timeout;
    o->hooks = h;
}

static const char *sv(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The first record of profile + workload with the given status (NULL = any). */
static json_t *find(json_t *recs, const char *profile, const char *workload, const char *status)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (!strcmp(sv(r, "profile"), profile) && !strcmp(sv(r, "workload"), workload) &&
            (!status || !strcmp(sv(r, "status"), status)))
            return r;
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs the suite with one fault; returns the records (caller decrefs). */
static json_t *run_with(const char *tag, struct faults *f, const char *model, double timeout,
                        int *code, double *secs)
{
    char out[1024], run_dir[1024];
    snprintf(out, sizeof out, "%s/out-%s", g_dir, tag);
    struct tb_run_hooks h = {.backend_override = fault_override, .user = f};
    struct tb_run_opts o;
    opts_for(&o, out, &h, timeout);
    o.model = model;
    struct tb_err err = {0};
    *code = -1;
    const double t0 = now_s();
    CHECKF(tb_run(&o, code, &err) == TB_OK, "%s: %s", tag, err.msg);
    *secs = now_s() - t0;
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    CHECKF(recs != NULL, "%s: no results", tag);
    if (recs) { /* the manifest counts the children's records too */
        char mpath[1100];
        snprintf(mpath, sizeof mpath, "%s/%s", run_dir, TB_RESULTS_MANIFEST);
        json_t *m = json_load_file(mpath, 0, NULL);
        CHECKF(json_integer_value(json_object_get(m, "records")) ==
                   (json_int_t)json_array_size(recs),
               "%s: manifest counts %lld records, the file has %zu", tag,
               (long long)json_integer_value(json_object_get(m, "records")), json_array_size(recs));
        CHECK(!strcmp(sv(m, "status"), "complete"));
        json_decref(m);
    }
    return recs;
}

/* The honest profile after the fault: measured, and its SLO judged from
 * the record the child sent back. */
static void check_honest(json_t *recs, const char *tag)
{
    json_t *h = find(recs, "b-honest", "llm-prefill", NULL);
    CHECKF(h && !strcmp(sv(h, "status"), "ok"), "%s: b-honest status '%s'", tag, sv(h, "status"));
    CHECKF(json_integer_value(json_object_get(json_object_get(h, "stats"), "n")) >= 3,
           "%s: b-honest has no samples", tag);
    json_t *q = find(recs, "b-honest", "qualification", NULL);
    CHECKF(q && !strcmp(sv(q, "verdict"), "PASS"), "%s: b-honest SLO verdict '%s'", tag,
           sv(q, "verdict"));
}

static void test_timeout(void)
{
    struct faults f = {.mode = FAULT_HANG, .profile = "a-fault"};
    int code;
    double secs;
    const double timeout = 3;
    json_t *recs = run_with("hang", &f, NULL, timeout, &code, &secs);
    CHECKF(code == TB_RUN_EXIT_INCOMPLETE, "exit %d, want %d", code, TB_RUN_EXIT_INCOMPLETE);
    CHECKF(secs < timeout + 60, "the suite took %.1f s with a %g s watchdog", secs, timeout);
    json_t *t = find(recs, "a-fault", "llm-prefill", NULL);
    CHECKF(t && !strcmp(sv(t, "status"), "TIMEOUT"), "hung configuration: status '%s'",
           sv(t, "status"));
    json_t *wd = json_object_get(t, "watchdog");
    CHECK(json_number_value(json_object_get(wd, "timeout_s")) == timeout);
    CHECK(json_number_value(json_object_get(wd, "elapsed_s")) >= timeout);
    CHECK(!strcmp(sv(wd, "signal"), "SIGKILL"));
    CHECK(json_is_false(json_object_get(t, "valid")));
    CHECK(strstr(sv(t, "error"), "timeout") != NULL);
    /* the key matches what an honest run of this configuration records */
    CHECK(strstr(sv(t, "config"), "synth:mcu-260k:q8_0/p8/opencl:gpu>cpu/t1/") == sv(t, "config"));
    check_honest(recs, "hang");
    json_decref(recs);
    /* the parent forked with no thread alive beside its own (no backend,
     * no device runtime: the environment probe ran in a child too) */
    char path[700];
    snprintf(path, sizeof path, "%s/parent-threads", g_dir);
    FILE *tf = fopen(path, "r");
    int threads = -1;
    CHECK(tf && fscanf(tf, "%d", &threads) == 1);
    if (tf)
        fclose(tf);
    CHECKF(threads == 1, "the parent had %d threads at fork time", threads);
}

/* compare gates on a lost result: an honest base (in-process, no fault:
 * the same configuration keys) against the TIMEOUT run is a regression
 * naming the outcome; the other way round inconclusive; report shows the
 * status. */
static void test_compare_report(void)
{
    char base_out[1024], run_dir[1024], hang_dir[1024], path[1300];
    snprintf(base_out, sizeof base_out, "%s/out-base", g_dir);
    struct tb_run_opts o;
    opts_for(&o, base_out, NULL, 0);
    int code = -1;
    struct tb_err err = {0};
    CHECKF(tb_run(&o, &code, &err) == TB_OK && code == 0, "base run: %s (exit %d)", err.msg, code);
    json_t *recs = read_run(base_out, run_dir, sizeof run_dir);
    json_decref(recs);
    snprintf(path, sizeof path, "%s/out-hang", g_dir);
    recs = read_run(path, hang_dir, sizeof hang_dir);
    json_decref(recs);
    struct tb_rsrc src[2];
    struct tb_series_set set[2] = {{0}};
    const char *dirs[2] = {run_dir, hang_dir};
    int loaded = 0;
    for (; loaded < 2; loaded++) {
        if (tb_rsrc_load(dirs[loaded], 1, &src[loaded], &err))
            break;
        CHECKF(tb_series_extract(&src[loaded], &set[loaded], &err) == TB_OK, "%s", err.msg);
    }
    CHECKF(loaded == 2, "%s", err.msg);
    if (loaded == 2) {
        for (int dir = 0; dir < 2; dir++) {
            struct tb_cmp_opts co;
            tb_cmp_opts_default(&co);
            struct tb_cmp_result res = {0};
            CHECKF(tb_compare_sets(&set[dir], &set[1 - dir], &co, &res, &err) == TB_OK, "%s",
                   err.msg);
            const struct tb_cmp_row *out = NULL;
            for (size_t i = 0; i < res.n; i++)
                if (!strcmp(res.rows[i].metric, "outcome") && strstr(res.rows[i].key, "a-fault"))
                    out = &res.rows[i];
            CHECKF(out != NULL, "no outcome row");
            if (out) {
                CHECK(out->verdict == (dir == 0 ? TB_V_REGRESSION : TB_V_INCONCLUSIVE));
                CHECKF(strstr(out->note, dir == 0 ? "candidate TIMEOUT: " : "base TIMEOUT: "),
                       "note '%s'", out->note);
            }
            tb_cmp_result_free(&res);
        }
        snprintf(path, sizeof path, "%s/report", g_dir);
        struct tb_report_opts ro = {0};
        CHECKF(tb_report_write(&src[1], 1, path, &ro, &err) == TB_OK, "%s", err.msg);
        snprintf(path, sizeof path, "%s/report/index.md", g_dir);
        FILE *f = fopen(path, "r");
        char text[65536] = "";
        if (f) {
            text[fread(text, 1, sizeof text - 1, f)] = '\0';
            fclose(f);
        }
        CHECKF(strstr(text, "TIMEOUT") != NULL, "the report does not show the TIMEOUT");
    }
    for (int i = 0; i < loaded; i++)
        tb_rsrc_free(&src[i]);
    tb_series_set_free(&set[0]);
    tb_series_set_free(&set[1]);
}

static void test_crash(int torn)
{
    char out[1024];
    snprintf(out, sizeof out, "%s/out-%s", g_dir, torn ? "torn" : "crash");
    struct faults f = {
        .mode = torn ? FAULT_TORN : FAULT_ABORT, .profile = "a-fault", .out_dir = out};
    int code;
    double secs;
    /* a torn line the child left is cut before the parent appends: the
     * file reads back whole (read_run fails on a bad line in the middle) */
    json_t *recs = run_with(torn ? "torn" : "crash", &f, NULL, 60, &code, &secs);
    CHECKF(code == TB_RUN_EXIT_INCOMPLETE, "exit %d", code);
    json_t *c = find(recs, "a-fault", "llm-prefill", NULL);
    CHECKF(c && !strcmp(sv(c, "status"), "CRASHED"), "crashed configuration: status '%s'",
           sv(c, "status"));
    json_t *wd = json_object_get(c, "watchdog");
    CHECKF(!strcmp(sv(wd, "signal"), "SIGABRT"), "signal '%s'", sv(wd, "signal"));
    CHECK(strstr(sv(c, "error"), "SIGABRT") != NULL);
    check_honest(recs, "crash");
    json_decref(recs);
}

/* A private copy of the synthetic model (the shared cache stays intact). */
static void model_copy(const char *tag, char *path, size_t n)
{
    char src[1024], cmd[2400];
    struct tb_err err = {0};
    CHECKF(tb_run_resolve_model("synth:mcu-260k:q8_0", g_cache, 1, src, sizeof src, &err) == TB_OK,
           "%s", err.msg);
    snprintf(path, n, "%s/model-%s.gguf", g_dir, tag);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, path);
    CHECK(system(cmd) == 0);
}

static void test_truncated(void)
{
    char model[1024];
    model_copy("trunc", model, sizeof model);
    struct stat st0;
    CHECK(stat(model, &st0) == 0);
    struct faults f = {.mode = FAULT_TRUNCATE, .profile = "a-fault", .model_path = model};
    int code;
    double secs;
    json_t *recs = run_with("trunc", &f, model, 60, &code, &secs);
    CHECKF(code == TB_RUN_EXIT_INCOMPLETE, "exit %d", code);
    /* SIGBUS through the mapping (or a sanitizer's exit): the parent saw the
     * file change under the child and says so with the sizes */
    json_t *m = find(recs, "a-fault", "llm-prefill", "MODEL-CHANGED");
    CHECKF(m != NULL, "no MODEL-CHANGED record for the truncated model");
    char want[128];
    snprintf(want, sizeof want, "size %lld -> 4096 bytes", (long long)st0.st_size);
    CHECKF(strstr(sv(m, "error"), want) != NULL, "error '%s' lacks '%s'", sv(m, "error"), want);
    CHECK(strstr(sv(m, "error"), model) != NULL);
    /* the next configuration fails with a one-line error, no crash */
    json_t *h = find(recs, "b-honest", "llm-prefill", NULL);
    CHECKF(h && !strcmp(sv(h, "status"), "error"), "after truncation: status '%s'",
           sv(h, "status"));
    CHECK(*sv(h, "error") && !strchr(sv(h, "error"), '\n'));
    json_decref(recs);
}

static void test_deleted(void)
{
    char model[1024];
    model_copy("unlink", model, sizeof model);
    struct faults f = {.mode = FAULT_UNLINK, .profile = "a-fault", .model_path = model};
    int code;
    double secs;
    json_t *recs = run_with("unlink", &f, model, 60, &code, &secs);
    CHECKF(code == TB_RUN_EXIT_INCOMPLETE, "exit %d", code);
    /* measured through the mapping of the deleted file: kept, but invalid */
    json_t *r = find(recs, "a-fault", "llm-prefill", "invalid");
    CHECKF(r != NULL, "the measurement of the deleted file is missing");
    CHECK(strstr(sv(r, "invalid_reason"), "disappeared") != NULL);
    json_t *m = find(recs, "a-fault", "llm-prefill", "MODEL-CHANGED");
    CHECKF(m && strstr(sv(m, "error"), "deleted"), "MODEL-CHANGED record: '%s'", sv(m, "error"));
    json_t *h = find(recs, "b-honest", "llm-prefill", NULL);
    CHECKF(h && !strcmp(sv(h, "status"), "error"), "after deletion: status '%s'", sv(h, "status"));
    json_decref(recs);
}

/* The CLI: a watchdog too short for anything (even the environment probe,
 * which then leaves the device list out, saying why) -> every configuration
 * TIMEOUT, exit 3. */
static void test_cli(void)
{
    const char *tb = getenv("TB_BIN");
    if (!tb) {
        fprintf(stderr, "TB_BIN not set: CLI check skipped (run through ctest)\n");
        return;
    }
    char out[1024], run_dir[1024];
    snprintf(out, sizeof out, "%s/out-cli", g_dir);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        execl(tb, tb, "run", "--profiles-dir", g_profiles, "--profile", "b-honest", "--timeout",
              "0.001", "--out", out, "--cache", g_cache, "--accuracy-positions", "0", "--quiet",
              (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 3, "tierbench run exit %d, want 3",
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    json_t *t = find(recs, "b-honest", "llm-prefill", NULL);
    CHECKF(t && !strcmp(sv(t, "status"), "TIMEOUT"), "status '%s'", sv(t, "status"));
    CHECK(json_number_value(json_object_get(json_object_get(t, "watchdog"), "timeout_s")) == 0.001);
    CHECK(!strcmp(sv(json_object_get(t, "environment"), "devices_unavailable"),
                  "probing the backends timed out"));
    json_decref(recs);
}

/* ------------------------------------------- shared accuracy reference */

/* Damages the run's reference file in the measuring child, once per kind:
 * the second configuration finds it truncated, the third with a flipped
 * byte (size intact); the fourth finds the rewritten file whole. Steps are
 * marked in files: each configuration is a fresh child. */
static int ref_damage_override(void *user, const char *profile, const char *entry,
                               const struct tb_backend_config *cfg, struct tb_backend **out,
                               struct tb_err *err)
{
    const char *out_dir = user;
    (void)profile, (void)entry, (void)cfg, (void)err;
    *out = NULL;
    char pat[1100], mark_t[700], mark_f[700];
    snprintf(pat, sizeof pat, "%s/run-*/reference/*.f32", out_dir);
    snprintf(mark_t, sizeof mark_t, "%s/ref-truncated", g_dir);
    snprintf(mark_f, sizeof mark_f, "%s/ref-flipped", g_dir);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0)
        return TB_OK; /* nothing stored yet */
    struct stat st;
    const char *ref = g.gl_pathv[0];
    if (g.gl_pathc == 1 && stat(ref, &st) == 0) {
        if (access(mark_t, F_OK) != 0) {
            if (truncate(ref, st.st_size / 2) == 0)
                tb_test_write_file(mark_t, "");
        } else if (access(mark_f, F_OK) != 0) {
            FILE *f = fopen(ref, "r+b");
            if (f && fseek(f, st.st_size - 5, SEEK_SET) == 0 && fputc(0x5a, f) != EOF)
                tb_test_write_file(mark_f, "");
            if (f)
                fclose(f);
        }
    }
    globfree(&g);
    return TB_OK;
}

/* One accuracy figure of a record, or NAN. */
static double acc_num(json_t *r, const char *k)
{
    json_t *v = json_object_get(json_object_get(r, "accuracy"), k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The llm-prefill records of a run in order (at most n); returns how many. */
static int prefill_records(json_t *recs, json_t **out, int n)
{
    int k = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (k < n && !strcmp(sv(r, "workload"), "llm-prefill"))
            out[k++] = r;
    }
    return k;
}

/* The reference logits are computed once per run and shared with the
 * other configurations (each a child under the watchdog) through a file in
 * the results directory; loaded or recomputed after damage, the accuracy
 * figures are bit for bit those of an in-process run. */
static void test_shared_reference(void)
{
    char pdir[700], path[1024], out[4][1024], run_dir[1024];
    snprintf(pdir, sizeof pdir, "%s/ref-profiles", g_dir);
    mkdir(pdir, 0755);
    snprintf(path, sizeof path, "%s/c-ref.ini", pdir);
    tb_test_write_file(path, "[profile]\nname = c-ref\ntier = test\nthreads = 1\nbinding = none\n"
                             "isa_cap = scalar\nmemory_budget = 64 MiB\nweight_types = q8_0\n"
                             "backends = cpu\nenergy_source = none\nevents = perf::TASK-CLOCK\n"
                             "[workload.llm-prefill]\nmodel = synth:mcu-260k:q8_0\n"
                             "prompt = 8, 9, 10, 11\nn_predict = 0\n");
    static const char *const tags[3] = {"ref-inproc", "ref-watched", "ref-damaged"};
    static const char *const metrics[4] = {"top1_agreement", "kl_mean", "kl_p99",
                                           "max_abs_logit_error"};
    json_t *recs[3] = {NULL};
    json_t *pf[3][4] = {{NULL}};
    for (int t = 0; t < 3; t++) {
        snprintf(out[t], sizeof out[t], "%s/out-%s", g_dir, tags[t]);
        struct tb_run_hooks h = {.backend_override = ref_damage_override, .user = out[t]};
        struct tb_run_opts o;
        opts_for(&o, out[t], t == 2 ? &h : NULL, t == 0 ? 0 : 60);
        o.profiles_dir = pdir;
        o.min_samples = 2;
        o.accuracy_positions = 8;
        int code = -1;
        struct tb_err err = {0};
        const double t0 = now_s();
        CHECKF(tb_run(&o, &code, &err) == TB_OK && code == 0, "%s: %s (exit %d)", tags[t], err.msg,
               code);
        printf("%s: %.2f s\n", tags[t], now_s() - t0);
        recs[t] = read_run(out[t], run_dir, sizeof run_dir);
        CHECKF(prefill_records(recs[t], pf[t], 4) == 4, "%s: want 4 prefill records", tags[t]);
    }
    /* computed by the first configuration, loaded by the others; the
     * damaged file is ignored (saying why) and recomputed, then trusted */
    static const char *const want[3][4] = {{"computed", "cached", "cached", "cached"},
                                           {"computed", "cached", "cached", "cached"},
                                           {"computed", "computed", "computed", "cached"}};
    for (int t = 0; t < 3; t++)
        for (int c = 0; c < 4 && pf[t][c]; c++) {
            json_t *a = json_object_get(pf[t][c], "accuracy");
            CHECKF(!strcmp(sv(a, "reference_source"), want[t][c]),
                   "%s configuration %d: reference_source '%s', want %s (accuracy: %s)", tags[t],
                   c + 1, sv(a, "reference_source"), want[t][c], sv(a, "unavailable"));
            CHECKF(!*sv(a, "reference_cache_error"), "%s: %s", tags[t],
                   sv(a, "reference_cache_error"));
            const char *ign = sv(a, "reference_cache_ignored");
            const char *want_ign = t == 2 && c == 1   ? "truncated"
                                   : t == 2 && c == 2 ? "checksum"
                                                      : NULL;
            CHECKF(want_ign ? strstr(ign, want_ign) != NULL : !*ign,
                   "%s configuration %d: ignored '%s'", tags[t], c + 1, ign);
            for (int m = 0; m < 4; m++) {
                const double ref = acc_num(pf[0][0], metrics[m]),
                             got = acc_num(pf[t][c], metrics[m]);
                CHECKF(!isnan(ref) && !memcmp(&ref, &got, sizeof ref),
                       "%s configuration %d: %s %.17g, in-process %.17g", tags[t], c + 1,
                       metrics[m], got, ref);
            }
        }
    for (int t = 0; t < 3; t++)
        json_decref(recs[t]);
}

/* ---- the generic service (tb_watchdog.h), without any run around it */

enum svc_mode { SVC_RETURN, SVC_EXIT_CODE, SVC_BIG, SVC_HANG, SVC_ABORT };

static int svc_child(void *ctx, int fd)
{
    const enum svc_mode mode = *(const enum svc_mode *)ctx;
    switch (mode) {
    case SVC_RETURN: return tb_write_all(fd, "hello", 5, "pipe", NULL) ? 1 : 0;
    case SVC_EXIT_CODE: return 7;
    case SVC_BIG: { /* more than the first read buffer: it grows */
        static char buf[200000];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (char)(i * 31u);
        return tb_write_all(fd, buf, sizeof buf, "pipe", NULL) ? 1 : 0;
    }
    case SVC_HANG:
        for (;;)
            pause();
    case SVC_ABORT: abort();
    }
    return 2;
}

static void test_service(void)
{
    struct tb_watchdog_result r;
    struct tb_err err = {0};
    enum svc_mode m = SVC_RETURN;
    CHECKF(tb_watchdog_run(svc_child, &m, 10, &r, &err) == TB_OK, "%s", err.msg);
    CHECK(r.outcome == TB_WATCHDOG_EXITED && r.exit_code == 0);
    CHECK(r.n == 5 && r.data && !memcmp(r.data, "hello", 5));
    CHECK(r.pid > 0 && r.elapsed_s >= 0 && r.elapsed_s < 10);
    tb_watchdog_result_free(&r);

    m = SVC_EXIT_CODE;
    CHECK(tb_watchdog_run(svc_child, &m, 10, &r, &err) == TB_OK);
    CHECK(r.outcome == TB_WATCHDOG_EXITED && r.exit_code == 7 && r.n == 0);
    tb_watchdog_result_free(&r);

    m = SVC_BIG;
    CHECK(tb_watchdog_run(svc_child, &m, 30, &r, &err) == TB_OK);
    int same = r.outcome == TB_WATCHDOG_EXITED && r.exit_code == 0 && r.n == 200000;
    for (size_t i = 0; same && i < r.n; i++)
        same = r.data[i] == (char)(i * 31u);
    CHECK(same);
    tb_watchdog_result_free(&r);

    m = SVC_HANG;
    const double t0 = now_s();
    CHECK(tb_watchdog_run(svc_child, &m, 0.3, &r, &err) == TB_OK);
    const double took = now_s() - t0;
    CHECKF(r.outcome == TB_WATCHDOG_TIMEOUT && took < 3, "outcome %d after %.2f s", r.outcome,
           took);
    /* the whole process group is gone */
    CHECK(r.pid > 0 && kill(-(pid_t)r.pid, 0) != 0 && errno == ESRCH);
    tb_watchdog_result_free(&r);

    m = SVC_ABORT;
    CHECK(tb_watchdog_run(svc_child, &m, 10, &r, &err) == TB_OK);
    CHECK(r.outcome == TB_WATCHDOG_CRASHED && r.signal == SIGABRT);
    CHECK(!strcmp(tb_watchdog_signal_name(r.signal), "SIGABRT"));
    tb_watchdog_result_free(&r);

    CHECK(tb_watchdog_run(svc_child, &m, 0, &r, &err) == TB_EINVAL);
    CHECK(!strcmp(tb_watchdog_signal_name(SIGBUS), "SIGBUS"));
    CHECK(!strcmp(tb_watchdog_signal_name(0), "signal"));
}

int main(void)
{
    char base[512];
    tb_test_path(base, sizeof base, "watchdog", "");
    snprintf(g_dir, sizeof g_dir, "%s", base);
    CHECK(mkdir(g_dir, 0755) == 0);
    snprintf(g_cache, sizeof g_cache, "%s/cache", g_dir);
    test_service();
    make_profiles();
    test_timeout();
    test_compare_report();
    test_crash(0);
    test_crash(1);
    test_truncated();
    test_deleted();
    test_cli();
    test_shared_reference();
    return tb_test_result("test_watchdog");
}

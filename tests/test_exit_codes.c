/* `tierbench run`'s exit status is the truth (issues 19 and 14): a --model
 * the user named that is no model -- a directory, an empty file, a symlink
 * loop -- is an input error found before anything runs (tb_run returns
 * TB_EINVAL, the CLI exits 2, no results directory is made); a
 * configuration that ran but produced no valid measurement -- a GGUF whose
 * header is cut short, a file that cannot be mapped under a virtual-memory
 * limit -- exits TB_RUN_EXIT_FAILED (4) with its "error" record written,
 * in-process and under the watchdog; precedence 3 > 4 > 1; a profile the
 * host cannot run is not a failure. Also the context clamp covering
 * n_predict (llm-generate on a model whose context is shorter than the
 * profile's n_predict). And the commands besides run that write into a
 * directory: `coverage --out` keeps a long path whole, `report -o` without
 * room for its files fails before creating it. */
#include "tb_test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/tb_results.h"
#include "harness/tb_run.h"
#include "run_helpers.h"
#include "workloads/tb_gguf.h"
#include "workloads/tb_llama.h"

static char g_dir[512], g_cache[600], g_prof[600];
static char g_ok_run[1024]; /* a complete run's results directory */

#define PROFILE_HEAD                                                                               \
    "tier = mcu\n"                                                                                 \
    "description = exit codes\n"                                                                   \
    "threads = 1\n"                                                                                \
    "binding = none\n"                                                                             \
    "isa_cap = best\n"                                                                             \
    "memory_budget = 64 MiB\n"                                                                     \
    "weight_types = q8_0, q4_0\n"                                                                  \
    "backends = cpu\n"                                                                             \
    "energy_source = none\n"                                                                       \
    "events = perf::TASK-CLOCK\n"

static const char *k_ec = "[profile]\nname = ec\n" PROFILE_HEAD "[workload.llm-prefill]\n"
                          "model = synth:mcu-260k:q8_0\n"
                          "prompt = 16\n"
                          "n_predict = 0\n";

static void opts_for(struct tb_run_opts *o, const char *pdir, const char *out)
{
    tb_run_opts_default(o);
    o->profiles_dir = pdir;
    o->out_dir = out;
    o->cache_dir = g_cache;
    o->min_samples = 2;
    o->min_time_s = 0.01;
    o->warmup = 0;
    o->accuracy_positions = 0;
    o->quiet = 1;
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *x = json_object_get(o, key);
    return json_is_string(x) ? json_string_value(x) : "";
}

static json_t *find(json_t *recs, const char *profile, const char *workload)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (!strcmp(str_of(r, "profile"), profile) && !strcmp(str_of(r, "workload"), workload))
            return r;
    }
    return NULL;
}

static int manifest_int(const char *run_dir, const char *key)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", run_dir, TB_RESULTS_MANIFEST);
    json_t *m = json_load_file(path, 0, NULL);
    const int v = m ? (int)json_integer_value(json_object_get(m, key)) : -1;
    json_decref(m);
    return v;
}

/* tb_run with --model M: *code, and the prefill record's status/error
 * (caller frees recs). */
static json_t *run_model(const char *tag, const char *model, double timeout_s, int *code,
                         json_t **rec, char *run_dir, size_t n)
{
    char out[800];
    snprintf(out, sizeof out, "%s/out-%s", g_dir, tag);
    struct tb_run_opts o;
    opts_for(&o, g_prof, out);
    o.model = model;
    o.timeout_s = timeout_s;
    struct tb_err err = {0};
    *code = -1;
    CHECKF(tb_run(&o, code, &err) == TB_OK, "%s: %s", tag, err.msg);
    json_t *recs = read_run(out, run_dir, n);
    *rec = recs ? find(recs, "ec", "llm-prefill") : NULL;
    return recs;
}

static void check_failed(const char *tag, const char *model, double timeout_s, const char *what)
{
    int code;
    json_t *rec;
    char run_dir[1024];
    json_t *recs = run_model(tag, model, timeout_s, &code, &rec, run_dir, sizeof run_dir);
    CHECKF(code == TB_RUN_EXIT_FAILED, "%s: exit %d, want %d", tag, code, TB_RUN_EXIT_FAILED);
    CHECKF(rec && !strcmp(str_of(rec, "status"), "error"), "%s: status '%s'", tag,
           rec ? str_of(rec, "status") : "(no record)");
    CHECKF(rec && strstr(str_of(rec, "error"), what), "%s: error '%s' lacks '%s'", tag,
           rec ? str_of(rec, "error") : "", what);
    CHECKF(manifest_int(run_dir, "failed_configurations") == 1, "%s: manifest count %d", tag,
           manifest_int(run_dir, "failed_configurations"));
    json_decref(recs);
}

/* --model M is refused up front: TB_EINVAL naming what, no run directory. */
static void check_refused(const char *tag, const char *model, double timeout_s, const char *what)
{
    char out[800];
    snprintf(out, sizeof out, "%s/out-%s", g_dir, tag);
    struct tb_run_opts o;
    opts_for(&o, g_prof, out);
    o.model = model;
    o.timeout_s = timeout_s;
    struct tb_err err = {0};
    int code = -1;
    CHECKF(tb_run(&o, &code, &err) == TB_EINVAL, "%s: not refused (exit %d)", tag, code);
    CHECKF(strstr(err.msg, "--model") && strstr(err.msg, what), "%s: '%s' lacks '%s'", tag, err.msg,
           what);
    struct stat st;
    CHECKF(stat(out, &st) != 0, "%s: %s was created", tag, out);
}

static void test_failed_models(void)
{
    char zero[700], loop1[700], loop2[700], cut[700];
    snprintf(zero, sizeof zero, "%s/zero.gguf", g_dir);
    tb_test_write_file(zero, "");
    snprintf(loop1, sizeof loop1, "%s/loop1.gguf", g_dir);
    snprintf(loop2, sizeof loop2, "%s/loop2.gguf", g_dir);
    CHECK(symlink(loop2, loop1) == 0 && symlink(loop1, loop2) == 0);
    /* the GGUF magic and version, then nothing: passes the up-front check,
     * fails to load */
    snprintf(cut, sizeof cut, "%s/cut.gguf", g_dir);
    tb_test_write_file(cut, "GGUF\x03");

    /* the profile's own model measures: exit 0 (the control) */
    int code;
    json_t *rec;
    char run_dir[1024];
    json_t *recs = run_model("ok", NULL, 0, &code, &rec, run_dir, sizeof run_dir);
    CHECKF(code == 0, "control: exit %d", code);
    CHECKF(rec && !strcmp(str_of(rec, "status"), "ok"), "control: status '%s'",
           rec ? str_of(rec, "status") : "");
    CHECK(manifest_int(run_dir, "failed_configurations") == 0);
    snprintf(g_ok_run, sizeof g_ok_run, "%s", run_dir);
    json_decref(recs);

    for (int watched = 0; watched < 2; watched++) {
        const double t = watched ? 60 : 0;
        check_refused(watched ? "dir-w" : "dir", g_dir, t, "is a directory");
        check_refused(watched ? "zero-w" : "zero", zero, t, "zero.gguf");
        check_refused(watched ? "loop-w" : "loop", loop1, t, "loop1.gguf");
    }
    check_failed("cut", cut, 0, "cut.gguf");
    /* under the watchdog the child's failure reaches the parent's count */
    check_failed("cut-watched", cut, 60, "cut.gguf");
}

/* Precedence: a failed configuration (4) wins over an SLO FAIL (1). Profile
 * "a" measures and fails its SLO; profile "b"'s model is an empty file in
 * the cache (as if a generator had died), so its configuration fails. */
static void test_failed_beats_slo(void)
{
    char pdir[700], path[800], cache[700], out[800];
    snprintf(pdir, sizeof pdir, "%s/prof-two", g_dir);
    CHECK(mkdir(pdir, 0755) == 0);
    snprintf(path, sizeof path, "%s/a.ini", pdir);
    tb_test_write_file(path, "[profile]\nname = a\n" PROFILE_HEAD "[workload.llm-prefill]\n"
                             "model = synth:mcu-260k:q8_0\nprompt = 16\nn_predict = 0\n"
                             "[slo]\nttft_ms <= 0.000000001 @ prompt 16\n");
    snprintf(path, sizeof path, "%s/b.ini", pdir);
    tb_test_write_file(path, "[profile]\nname = b\n" PROFILE_HEAD "[workload.llm-prefill]\n"
                             "model = synth:mcu-260k:q4_0\nprompt = 16\nn_predict = 0\n");
    snprintf(cache, sizeof cache, "%s/cache-two", g_dir);
    CHECK(mkdir(cache, 0755) == 0);
    snprintf(path, sizeof path, "%s/mcu-260k-q4_0-s1.gguf", cache);
    tb_test_write_file(path, "");
    snprintf(out, sizeof out, "%s/out-two", g_dir);
    struct tb_run_opts o;
    opts_for(&o, pdir, out);
    o.cache_dir = cache;
    int code = -1;
    struct tb_err err = {0};
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    CHECKF(code == TB_RUN_EXIT_FAILED, "exit %d, want %d (over an SLO FAIL)", code,
           TB_RUN_EXIT_FAILED);
    char run_dir[1024];
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    CHECK(recs && !strcmp(str_of(find(recs, "a", "qualification"), "verdict"), "FAIL"));
    CHECK(recs && !strcmp(str_of(find(recs, "b", "llm-prefill"), "status"), "error"));
    json_decref(recs);
    /* without the failed configuration the SLO FAIL is the verdict: 1 */
    o.profiles = "a";
    CHECKF(tb_run(&o, &code, &err) == TB_OK && code == 1, "exit %d", code);
}

/* A profile the host cannot run (its only backend is absent) is reported,
 * not failed. */
static void test_unsupported_is_not_failed(void)
{
    char pdir[700], path[800], out[800];
    snprintf(pdir, sizeof pdir, "%s/prof-npu", g_dir);
    CHECK(mkdir(pdir, 0755) == 0);
    snprintf(path, sizeof path, "%s/ec.ini", pdir);
    char *body = strdup(k_ec);
    char *b = body ? strstr(body, "backends = cpu") : NULL;
    CHECK(b != NULL);
    if (!b) {
        free(body);
        return;
    }
    memcpy(b, "backends = npu", 14);
    tb_test_write_file(path, body);
    free(body);
    snprintf(out, sizeof out, "%s/out-npu", g_dir);
    struct tb_run_opts o;
    opts_for(&o, pdir, out);
    int code = -1;
    struct tb_err err = {0};
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    CHECKF(code == 0, "unsupported: exit %d", code);
}

/* The CLI: exit 4 as a process status, for a directory, and (Release only:
 * ASan cannot start under an address-space limit) for a file that cannot
 * be mapped under RLIMIT_AS. */
static int cli_status(const char *model, const char *out, long as_limit_mib, int watched)
{
    const char *tb = getenv("TB_BIN");
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        if (as_limit_mib > 0) {
            const struct rlimit rl = {(rlim_t)as_limit_mib << 20, (rlim_t)as_limit_mib << 20};
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                _exit(126);
        }
        execl(tb, tb, "run", "--profiles-dir", g_prof, "--model", model, "--out", out, "--cache",
              g_cache, "--accuracy-positions", "0", "--reps", "2", "--min-time", "0.01", "--warmup",
              "0", "--quiet", "--timeout", watched ? "60" : "0", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid <= 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_cli(void)
{
    if (!getenv("TB_BIN")) {
        fprintf(stderr, "TB_BIN not set: CLI checks skipped (run through ctest)\n");
        return;
    }
    char out[800];
    snprintf(out, sizeof out, "%s/out-cli-dir", g_dir);
    int st = cli_status(g_dir, out, 0, 0);
    CHECKF(st == 2, "run --model DIR: exit %d, want 2", st);
    struct stat sb;
    CHECK(stat(out, &sb) != 0); /* refused before a results directory */
#if !TB_ASAN
    char run_dir[1024];
    json_t *recs;
    /* a sparse 1.5 GiB file (the GGUF magic, then zeros) under a 1 GiB
     * address-space limit: the map fails */
    char big[700];
    snprintf(big, sizeof big, "%s/big.gguf", g_dir);
    FILE *f = fopen(big, "w");
    CHECK(f && fwrite("GGUF", 1, 4, f) == 4 && fflush(f) == 0 &&
          ftruncate(fileno(f), (off_t)1536 << 20) == 0);
    if (f)
        fclose(f);
    for (int watched = 0; watched < 2; watched++) {
        snprintf(out, sizeof out, "%s/out-cli-map%d", g_dir, watched);
        st = cli_status(big, out, 1024, watched);
        CHECKF(st == TB_RUN_EXIT_FAILED, "map failure (watched %d): exit %d, want %d", watched, st,
               TB_RUN_EXIT_FAILED);
        recs = read_run(out, run_dir, sizeof run_dir);
        json_t *r = recs ? find(recs, "ec", "llm-prefill") : NULL;
        CHECKF(r && strstr(str_of(r, "error"), "cannot map"), "map failure: error '%s'",
               r ? str_of(r, "error") : "(no record)");
        json_decref(recs);
    }
    unlink(big);
#endif
}

/* The exit status of tierbench with argv (NULL-terminated after argv[0]),
 * its output discarded. */
static int cli_exit(char *const argv[])
{
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        execv(getenv("TB_BIN"), argv);
        _exit(127);
    }
    int st = 0;
    if (pid <= 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Integer options take integers: "--threads 1.9" was 1 (strtod + cast). */
static void test_cli_integers(void)
{
    if (!getenv("TB_BIN"))
        return;
    char out[800], synth[800];
    snprintf(out, sizeof out, "%s/out-ints", g_dir);
    snprintf(synth, sizeof synth, "%s/x.gguf", g_dir);
    const char *bad[][2] = {{"--threads", "1.9"},          {"--threads", "2x"}, {"--reps", "2.0"},
                            {"--warmup", "1e1"},           {"--seed", "1.5"},   {"--seed", "-1"},
                            {"--accuracy-positions", "3 "}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *argv[] = {"tierbench", "run",       (char *)bad[k][0], (char *)bad[k][1],
                        "--out",     out,         "--profiles-dir",  g_prof,
                        "--quiet",   (char *)NULL};
        const int st = cli_exit(argv);
        CHECKF(st == 2, "run %s '%s': exit %d, want 2", bad[k][0], bad[k][1], st);
    }
    /* the same results on both sides compare cleanly (0) unless an option is bad */
    char *cmp_ok[] = {"tierbench",     "compare", g_ok_run,    g_ok_run,
                      "--min-samples", "2",       (char *)NULL};
    CHECKF(cli_exit(cmp_ok) == 0, "compare --min-samples 2");
    char *cmp[] = {"tierbench",     "compare", g_ok_run,    g_ok_run,
                   "--min-samples", "2.5",     (char *)NULL};
    CHECKF(cli_exit(cmp) == 2, "compare --min-samples 2.5");
    char *ilv[] = {"tierbench", "compare", "--interleave", "1e1", (char *)NULL};
    CHECKF(cli_exit(ilv) == 2, "compare --interleave 1e1");
    char *syn[] = {"tierbench", "model",  "synth", "--shape", "mcu-260k", "--type",
                   "q8_0",      "--seed", "-1",    "-o",      synth,      (char *)NULL};
    CHECKF(cli_exit(syn) == 2, "model synth --seed -1");
    struct stat st;
    CHECK(stat(out, &st) != 0 && stat(synth, &st) != 0); /* nothing ran */
}

static void test_cli_long_dirs(void)
{
    if (!getenv("TB_BIN"))
        return;
    static char out[5000];
    char root[800], p[5100];
    struct stat st;
    /* coverage --out of 3,000 chars: every file inside (it was cut at 1023) */
    snprintf(root, sizeof root, "%s/long-cov", g_dir);
    CHECK(mkdir(root, 0755) == 0);
    long_out(root, 3000, out);
    char *cov[] = {"tierbench",   "coverage", "--dir", g_prof, "--profile", "ec",
                   "--cache-dir", g_cache,    "--out", out,    "--quiet",   (char *)NULL};
    CHECKF(cli_exit(cov) == 0, "coverage --out (3000 chars)");
    const char *files[] = {"coverage.md", "coverage.csv", "coverage.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        CHECKF(stat(p, &st) == 0, "%s missing", files[i]);
    }
    CHECK(strays(root, out) == 0);
    /* report -o without room for its files: exit 2, nothing created */
    snprintf(root, sizeof root, "%s/long-rep", g_dir);
    CHECK(mkdir(root, 0755) == 0);
    long_out(root, 3900, out);
    char *rep[] = {"tierbench", "report", g_ok_run, "-o", out, (char *)NULL};
    CHECKF(cli_exit(rep) == 2, "report -o (3900 chars)");
    CHECK(stat(out, &st) != 0 && strays(root, out) == 0);
}

/* llm-generate whose n_predict is over a --model's context (stories15m:
 * 256 positions; the profile's own model has 512): the prompt is clamped
 * to 1 and n_predict to the rest, recorded as such, and it measures. */
static void test_n_predict_clamp(void)
{
    char pdir[700], path[800], out[800];
    snprintf(pdir, sizeof pdir, "%s/prof-gen", g_dir);
    CHECK(mkdir(pdir, 0755) == 0);
    snprintf(path, sizeof path, "%s/gen.ini", pdir);
    tb_test_write_file(path, "[profile]\nname = gen\n" PROFILE_HEAD "[workload.llm-generate]\n"
                             "model = synth:mcu-260k:q8_0\nprompt = 8\nn_predict = 300\n");
    snprintf(out, sizeof out, "%s/out-gen", g_dir);
    struct tb_run_opts o;
    opts_for(&o, pdir, out);
    o.model = "synth:stories15m:q8_0";
    o.min_samples = 1;
    o.min_time_s = 0;
    int code = -1;
    struct tb_err err = {0};
    CHECKF(tb_run(&o, &code, &err) == TB_OK, "%s", err.msg);
    CHECKF(code == 0, "exit %d", code);
    char run_dir[1024];
    json_t *recs = read_run(out, run_dir, sizeof run_dir);
    json_t *r = recs ? find(recs, "gen", "llm-generate") : NULL;
    CHECKF(r && !strcmp(str_of(r, "status"), "ok"), "status '%s' (%s)",
           r ? str_of(r, "status") : "", r ? str_of(r, "error") : "");
    json_t *params = json_object_get(r, "params");
    CHECK(json_integer_value(json_object_get(params, "prompt")) == 1);
    CHECK(json_integer_value(json_object_get(params, "n_predict")) == 255);
    CHECK(json_integer_value(json_object_get(params, "n_predict_requested")) == 300);
    const char *w = "";
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(r, "warnings"), i,
                       x) if (strstr(json_string_value(x), "n_predict clamped")) w =
        json_string_value(x);
    CHECKF(strstr(w, "exceeds context 256: n_predict clamped to 255"), "warning '%s'", w);
    json_decref(recs);
}

/* Overwrites the first f32 of tensor `name` in a GGUF file with v. */
static int poke_f32(const char *path, const char *name, float v)
{
    struct tb_gguf *g = NULL;
    struct tb_err e = {0};
    if (tb_gguf_open(path, &g, &e) != TB_OK)
        return -1;
    const int64_t i = tb_gguf_find_tensor(g, name);
    const long long off =
        i < 0 ? -1 : (long long)(tb_gguf_data_offset(g) + tb_gguf_tensor(g, i)->offset);
    tb_gguf_close(g);
    const int fd = open(path, O_WRONLY);
    const int ok = off >= 0 && fd >= 0 && pwrite(fd, &v, sizeof v, off) == (ssize_t)sizeof v;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

/* A model whose finite but huge norm weight overflows to NaN/Inf logits:
 * the configuration is `invalid` with the position (not a plausible
 * figure, not an "error"), and the run exits 4. */
static void test_nonfinite_logits(void)
{
    char model[700];
    snprintf(model, sizeof model, "%s/huge.gguf", g_dir);
    struct tb_err e = {0};
    CHECKF(tb_synth_write("mcu-260k", TB_TYPE_Q8_0, 1, model, &e) == TB_OK, "%s", e.msg);
    CHECK(poke_f32(model, "blk.0.attn_norm.weight", 3e38f) == 0);
    int code;
    json_t *rec;
    char run_dir[1024];
    json_t *recs = run_model("huge", model, 0, &code, &rec, run_dir, sizeof run_dir);
    CHECKF(code == TB_RUN_EXIT_FAILED, "huge: exit %d, want %d", code, TB_RUN_EXIT_FAILED);
    CHECKF(rec && !strcmp(str_of(rec, "status"), "invalid"), "huge: status '%s'",
           rec ? str_of(rec, "status") : "(no record)");
    CHECKF(rec && strstr(str_of(rec, "invalid_reason"), "non-finite logit at position "),
           "huge: invalid_reason '%s'", rec ? str_of(rec, "invalid_reason") : "");
    CHECKF(rec && json_is_false(json_object_get(rec, "valid")), "huge: valid is not false");
    CHECKF(manifest_int(run_dir, "failed_configurations") == 1, "huge: manifest count %d",
           manifest_int(run_dir, "failed_configurations"));
    json_decref(recs);
}

int main(void)
{
    tb_test_path(g_dir, sizeof g_dir, "exit-codes", "");
    CHECK(mkdir(g_dir, 0755) == 0);
    snprintf(g_cache, sizeof g_cache, "%s/cache", g_dir);
    snprintf(g_prof, sizeof g_prof, "%s/prof-ec", g_dir);
    CHECK(mkdir(g_prof, 0755) == 0);
    char path[700];
    snprintf(path, sizeof path, "%s/ec.ini", g_prof);
    tb_test_write_file(path, k_ec);
    test_failed_models();
    test_failed_beats_slo();
    test_unsupported_is_not_failed();
    test_cli();
    test_cli_integers();
    test_cli_long_dirs();
    test_n_predict_clamp();
    test_nonfinite_logits();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (tb_test_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return tb_test_result("test_exit_codes");
}

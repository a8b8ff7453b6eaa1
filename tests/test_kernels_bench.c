/* tierbench-kernels end to end on a few small cases: runs the binary
 * ($TB_KERNELS_BIN, set by CMake) with Google Benchmark flags and its own,
 * then checks the JSON:
 *  - names, rate counters consistent with the op's FLOP/byte accounting and
 *    the measured time, roofline entries, labels;
 *  - only benchmarks that can run are registered: no entry has
 *    error_occurred; a backend that cannot be created here (CUDA without a
 *    driver) or an ISA this CPU lacks has no entry, and its reason is in the
 *    context as tb_disabled/VARIANT; an op/type a backend does not support
 *    (OpenCL q4_0) is tb_unsupported/VARIANT/OP/TYPE;
 *  - the ceilings are in the context (tb_ceiling/...) with a filter that
 *    selects no roofline/ entry, and pct_* use them;
 *  - pct_* are plain counters: the console prints no "/s" after them;
 *  - bad own flags are refused.
 * Timed figures are never compared to each other within a few percent. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kernels/tb_backend.h"
#include "kernels/tb_types.h"
#include "tb_test.h"

extern char **environ;

/* Runs bin with args (NULL-terminated, args[0] unused), stdout to out_path
 * when given; returns the exit code. */
static int run_to(const char *bin, char **args, const char *out_path)
{
    args[0] = (char *)bin;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_path)
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    const int rc = posix_spawn(&pid, bin, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int run(const char *bin, char **args)
{
    return run_to(bin, args, NULL);
}

static json_t *find(json_t *benchmarks, const char *name)
{
    size_t i;
    json_t *b;
    json_array_foreach(benchmarks, i, b)
    {
        const char *n = json_string_value(json_object_get(b, "name"));
        if (n && !strcmp(n, name))
            return b;
    }
    return NULL;
}

/* Entries whose name contains part. */
static int count_containing(json_t *benchmarks, const char *part)
{
    size_t i;
    json_t *b;
    int n = 0;
    json_array_foreach(benchmarks, i, b)
    {
        const char *s = json_string_value(json_object_get(b, "name"));
        n += s && strstr(s, part) != NULL;
    }
    return n;
}

static double num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *ctx_str(json_t *root, const char *key)
{
    return json_string_value(json_object_get(json_object_get(root, "context"), key));
}

/* A tb_ceiling/... context value: its leading number, NaN when unavailable. */
static double ctx_ceiling(json_t *root, const char *key)
{
    const char *v = ctx_str(root, key);
    if (!v || !strncmp(v, "unavailable: ", 13))
        return NAN;
    char *end = NULL;
    const double x = strtod(v, &end);
    return end != v ? x : NAN;
}

/* Checks a successful op entry: rates equal per-iteration amounts over the
 * per-iteration wall time (ns). */
static void check_op(json_t *benchmarks, const char *name, double flops, double bytes,
                     const char *isa, double membw_ceiling)
{
    json_t *r = find(benchmarks, name);
    CHECKF(r != NULL, "no entry %s", name);
    if (!r)
        return;
    CHECKF(!json_is_true(json_object_get(r, "error_occurred")), "%s: %s", name,
           json_string_value(json_object_get(r, "error_message")));
    const double s = num(r, "real_time") * 1e-9;
    CHECKF(s > 0, "%s: real_time", name);
    CHECKF(fabs(num(r, "flop_per_second") * s - flops) <= 1e-6 * flops,
           "%s: %g flop/s x %g s vs %g", name, num(r, "flop_per_second"), s, flops);
    /* bytes_processed is an integer total: allow its rounding */
    CHECKF(fabs(num(r, "bytes_per_second") * s - bytes) <= 1e-3 * bytes, "%s: %g B/s x %g s vs %g",
           name, num(r, "bytes_per_second"), s, bytes);
    CHECKF(num(r, "pct_membw") > 0 && num(r, "pct_fma_peak") > 0, "%s: pct counters", name);
    /* the percentage is of the context's ceiling (same thread count), over
     * the loop's own wall clock: a unit check only (factor 2), never a
     * comparison of two timings within a few percent */
    if (membw_ceiling > 0) {
        const double want = 100 * num(r, "bytes_per_second") / membw_ceiling;
        CHECKF(num(r, "pct_membw") > 0.5 * want && num(r, "pct_membw") < 2 * want,
               "%s: pct_membw %g vs %g", name, num(r, "pct_membw"), want);
    }
    const char *label = json_string_value(json_object_get(r, "label"));
    CHECKF(label && strstr(label, isa), "%s: label '%s' lacks %s", name, label ? label : "", isa);
}

static json_t *load(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    CHECKF(root != NULL, "%s: %s", path, jerr.text);
    return root;
}

/* Run 1: roofline entries, op entries and their rates. */
static void test_ops(const char *bin, const char *out, const char *out_flag)
{
    const enum tb_isa have = tb_isa_detect();
    char *args[] = {NULL,
                    "--benchmark_filter=^(empty/|roofline/membw_read/t1|roofline/fma_f32/scalar/t1|"
                    "matmul/q4_0/cpu-[a-z0-9]+/288x288/n1/|rms_norm/f32/cpu-ref/288/n1/|"
                    "attention/f32/cpu-ref/h32.kv4.d64.ctx128/)",
                    "--benchmark_min_time=0.01",
                    (char *)out_flag,
                    "--benchmark_out_format=json",
                    "--benchmark_format=console",
                    "--tb_threads=1",
                    NULL};
    int rc = run_to(bin, args, "/dev/null");
    CHECKF(rc == 0, "tierbench-kernels exited %d", rc);
    json_t *root = load(out);
    if (!root)
        return;
    json_t *bm = json_object_get(root, "benchmarks");
    const char *ctx_isa = ctx_str(root, "tb_isa_detected");
    CHECK(ctx_isa && !strcmp(ctx_isa, tb_isa_name(have)));

    json_t *e = find(bm, "empty/keep_running");
    CHECK(e && num(e, "real_time") > 0 && num(e, "real_time") < 1000); /* ns per empty iteration */
    e = find(bm, "roofline/membw_read/t1/iterations:1/repeats:1/real_time");
    CHECK(e && num(e, "bytes_per_second") > 1e8 && num(e, "median") <= num(e, "bytes_per_second"));
    e = find(bm, "roofline/fma_f32/scalar/t1/iterations:1/repeats:1/real_time");
    CHECK(e && num(e, "flop_per_second") > 1e7);
    /* pct_* are against the context's ceiling (1 thread: cpu-ref, --tb_threads=1) */
    const double bw1 = ctx_ceiling(root, "tb_ceiling/membw_read/t1");
    CHECK(bw1 > 1e8);

    /* matmul q4_0 288x288, one row: W 288 rows of 9 blocks x 18 B, X and Y f32 */
    const double mm_flops = 2.0 * 288 * 288, mm_bytes = 288.0 * 9 * 18 + 2 * 288 * 4;
    check_op(bm, "matmul/q4_0/cpu-ref/288x288/n1/real_time", mm_flops, mm_bytes, "type=q4_0", bw1);
    for (int isa = 0; isa < TB_ISA_COUNT; isa++) {
        char name[96], want[32], key[64];
        snprintf(name, sizeof name, "matmul/q4_0/cpu-%s/288x288/n1/real_time", tb_isa_name(isa));
        snprintf(want, sizeof want, "isa=%s", tb_isa_name(isa));
        snprintf(key, sizeof key, "tb_disabled/cpu-%s", tb_isa_name(isa));
        if (isa <= (int)have) {
            check_op(bm, name, mm_flops, mm_bytes, want, bw1);
            CHECKF(ctx_str(root, key) == NULL, "%s in the context", key);
        } else { /* not registered; the reason in the context */
            CHECKF(find(bm, name) == NULL, "%s should not be registered", name);
            const char *why = ctx_str(root, key);
            CHECKF(why && strstr(why, "lacks"), "%s: %s", key, why ? why : "(none)");
        }
    }
    /* rms_norm 288 x 1: 4 flops per element; x, w, y */
    check_op(bm, "rms_norm/f32/cpu-ref/288/n1/real_time", 4.0 * 288, 3.0 * 288 * 4, "type=f32",
             bw1);
    /* attention at ctx 128, one query row at pos 127: 128 keys x 32 heads */
    check_op(bm, "attention/f32/cpu-ref/h32.kv4.d64.ctx128/n1/real_time", 128.0 * 32 * (4 * 64 + 5),
             2.0 * 2048 * 4 + 2.0 * 128 * 256 * 4, "backend=cpu-ref", bw1);
    json_decref(root);
    remove(out);
}

/* Whether backend name can be created here, and if not why. */
static int backend_here(const char *name)
{
    struct tb_backend_config cfg;
    tb_backend_config_default(&cfg);
    cfg.n_threads = 1;
    struct tb_backend *b = NULL;
    struct tb_err err = {0};
    const int ok = tb_backend_create(name, &cfg, &b, &err) == TB_OK;
    tb_backend_free(b);
    return ok;
}

/* Run 2: every backend variant, no roofline/ entry in the filter. */
static void test_availability(const char *bin, const char *out, const char *out_flag)
{
    char console[560];
    snprintf(console, sizeof console, "%s.console", out);
    char *args[] = {NULL,
                    "--benchmark_filter=^(matmul/q4_0/[a-z0-9-]+/288x288/n1/|"
                    "rms_norm/f32/[a-z0-9-]+/288/n1/)",
                    "--benchmark_min_time=0.01",
                    (char *)out_flag,
                    "--benchmark_out_format=json",
                    "--benchmark_format=console",
                    "--tb_threads=1",
                    "--tb_events=",
                    NULL};
    int rc = run_to(bin, args, console);
    CHECKF(rc == 0, "tierbench-kernels exited %d", rc);
    json_t *root = load(out);
    if (!root)
        return;
    json_t *bm = json_object_get(root, "benchmarks");
    CHECKF(json_array_size(bm) >= 5, "%zu entries", json_array_size(bm));
    /* nothing registered that cannot run */
    size_t i;
    json_t *b;
    json_array_foreach(bm, i, b)
    {
        CHECKF(!json_is_true(json_object_get(b, "error_occurred")), "%s: %s",
               json_string_value(json_object_get(b, "name")),
               json_string_value(json_object_get(b, "error_message")));
        CHECKF(num(b, "real_time") > 0, "%s: real_time",
               json_string_value(json_object_get(b, "name")));
    }
    CHECK(count_containing(bm, "roofline/") == 0);
    /* the ceilings anyway: every kind at 1 thread, a number or a reason */
    static const char *const ceilings[] = {
        "tb_ceiling/membw_read/t1",     "tb_ceiling/membw_triad/t1",
        "tb_ceiling/fma_f32/scalar/t1", "tb_ceiling/fma_f32/avx2/t1",
        "tb_ceiling/fma_f32/avx512/t1", "tb_ceiling/int8_vpdpbusd/avx512/t1"};
    const enum tb_isa have = tb_isa_detect();
    for (size_t k = 0; k < sizeof ceilings / sizeof ceilings[0]; k++) {
        const char *v = ctx_str(root, ceilings[k]);
        const int needs_avx512 = strstr(ceilings[k], "avx512") != NULL;
        const int needs_avx2 = strstr(ceilings[k], "avx2") != NULL;
        const int can =
            !(needs_avx512 && have < TB_ISA_AVX512) && !(needs_avx2 && have < TB_ISA_AVX2);
        CHECKF(v != NULL, "no %s in the context", ceilings[k]);
        if (can)
            CHECKF(ctx_ceiling(root, ceilings[k]) > 1e7, "%s: '%s'", ceilings[k], v ? v : "");
        else
            CHECKF(v && !strncmp(v, "unavailable: ", 13), "%s: '%s'", ceilings[k], v ? v : "");
    }
    /* accelerators: registered exactly where they can be created here */
    static const char *const accel[] = {"opencl", "cuda"};
    for (size_t k = 0; k < sizeof accel / sizeof accel[0]; k++) {
        char part[32], key[64], name[96];
        snprintf(part, sizeof part, "/%s/", accel[k]);
        snprintf(key, sizeof key, "tb_disabled/%s", accel[k]);
        snprintf(name, sizeof name, "rms_norm/f32/%s/288/n1/real_time", accel[k]);
        const char *why = ctx_str(root, key);
        if (backend_here(accel[k])) {
            CHECKF(find(bm, name) != NULL && why == NULL, "%s: can run here, not registered",
                   accel[k]);
            /* an op/type it does not support: absent, the reason in the context */
            snprintf(name, sizeof name, "matmul/q4_0/%s/288x288/n1/real_time", accel[k]);
            snprintf(key, sizeof key, "tb_unsupported/%s/matmul/q4_0", accel[k]);
            if (!find(bm, name)) {
                const char *u = ctx_str(root, key);
                CHECKF(u && strstr(u, "does not support"), "%s: %s", key, u ? u : "(none)");
            }
        } else {
            CHECKF(count_containing(bm, part) == 0, "%s cannot run here but is registered",
                   accel[k]);
            CHECKF(why && *why, "no %s reason in the context", key);
        }
    }
    json_decref(root);
    remove(out);

    /* the console: pct_* print as plain numbers, rates with "/s" */
    FILE *f = fopen(console, "r");
    CHECK(f != NULL);
    int pct = 0, rates = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        for (char *p = line; (p = strstr(p, "pct_")); p++) {
            const size_t tok = strcspn(p, " \n");
            pct++;
            CHECKF(tok < 2 || strncmp(p + tok - 2, "/s", 2), "rate suffix: %.*s", (int)tok, p);
        }
        rates += strstr(line, "flop_per_second=") && strstr(line, "/s ") ? 1 : 0;
    }
    if (f)
        fclose(f);
    CHECKF(pct >= 4 && rates >= 2, "%d pct counters, %d rate lines in the console", pct, rates);
    remove(console);
}

int main(void)
{
    const char *bin = getenv("TB_KERNELS_BIN");
    if (!bin || !*bin) {
        fprintf(stderr, "TB_KERNELS_BIN is not set (run through ctest)\n");
        return TB_SKIP_CODE;
    }
    char out[512], out_flag[600];
    tb_test_path(out, sizeof out, "kernels-bench", ".json");
    snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", out);
    test_ops(bin, out, out_flag);
    test_availability(bin, out, out_flag);

    char *bad_threads[] = {NULL, "--tb_threads=many", NULL};
    CHECK(run(bin, bad_threads) == 2);
    char *bad_flag[] = {NULL, "--no_such_flag", NULL};
    CHECK(run(bin, bad_flag) == 2);
    return tb_test_result("test_kernels_bench");
}

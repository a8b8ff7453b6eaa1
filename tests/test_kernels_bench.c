/* tierbench-kernels end to end on a few small cases: runs the binary
 * ($TB_KERNELS_BIN, set by CMake) with Google Benchmark flags and its own,
 * then checks the JSON: names, rate counters consistent with the op's
 * FLOP/byte accounting and the measured time, roofline entries and
 * percentages, labels, and that bad own flags are refused. */
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

/* Runs bin with args (NULL-terminated, args[0] unused); returns the exit code. */
static int run(const char *bin, char **args)
{
    args[0] = (char *)bin;
    pid_t pid;
    if (posix_spawn(&pid, bin, NULL, NULL, args, environ))
        return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
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

static double num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
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
    /* the percentage uses the ceiling the roofline entry reported (same run,
     * same thread count) and Google Benchmark's own loop time */
    if (membw_ceiling > 0)
        CHECKF(fabs(num(r, "pct_membw") - 100 * num(r, "bytes_per_second") / membw_ceiling) <=
                   0.02 * num(r, "pct_membw"),
               "%s: pct_membw %g vs %g", name, num(r, "pct_membw"),
               100 * num(r, "bytes_per_second") / membw_ceiling);
    const char *label = json_string_value(json_object_get(r, "label"));
    CHECKF(label && strstr(label, isa), "%s: label '%s' lacks %s", name, label ? label : "", isa);
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

    const enum tb_isa have = tb_isa_detect();
    char *args[] = {NULL,
                    "--benchmark_filter=^(empty/|roofline/membw_read/t1|roofline/fma_f32/scalar/t1|"
                    "matmul/q4_0/cpu-[a-z0-9]+/288x288/n1/|rms_norm/f32/cpu-ref/288/n1/|"
                    "attention/f32/cpu-ref/h32.kv4.d64.ctx128/)",
                    "--benchmark_min_time=0.01",
                    out_flag,
                    "--benchmark_out_format=json",
                    "--benchmark_format=console",
                    "--tb_threads=1",
                    NULL};
    int rc = run(bin, args);
    CHECKF(rc == 0, "tierbench-kernels exited %d", rc);

    json_error_t jerr;
    json_t *root = json_load_file(out, 0, &jerr);
    CHECKF(root != NULL, "%s: %s", out, jerr.text);
    if (!root)
        return tb_test_result("test_kernels_bench");
    json_t *bm = json_object_get(root, "benchmarks");
    const char *ctx_isa =
        json_string_value(json_object_get(json_object_get(root, "context"), "tb_isa_detected"));
    CHECK(ctx_isa && !strcmp(ctx_isa, tb_isa_name(have)));

    json_t *e = find(bm, "empty/keep_running");
    CHECK(e && num(e, "real_time") > 0 && num(e, "real_time") < 1000); /* ns per empty iteration */
    e = find(bm, "roofline/membw_read/t1/iterations:1/repeats:1/real_time");
    CHECK(e && num(e, "bytes_per_second") > 1e8 && num(e, "median") <= num(e, "bytes_per_second"));
    const double bw1 = e ? num(e, "bytes_per_second") : 0; /* 1 thread: cpu-ref, --tb_threads=1 */
    e = find(bm, "roofline/fma_f32/scalar/t1/iterations:1/repeats:1/real_time");
    CHECK(e && num(e, "flop_per_second") > 1e7);

    /* matmul q4_0 288x288, one row: W 288 rows of 9 blocks x 18 B, X and Y f32 */
    const double mm_flops = 2.0 * 288 * 288, mm_bytes = 288.0 * 9 * 18 + 2 * 288 * 4;
    check_op(bm, "matmul/q4_0/cpu-ref/288x288/n1/real_time", mm_flops, mm_bytes, "type=q4_0", bw1);
    for (int isa = 0; isa < TB_ISA_COUNT; isa++) {
        char name[96], want[32];
        snprintf(name, sizeof name, "matmul/q4_0/cpu-%s/288x288/n1/real_time", tb_isa_name(isa));
        snprintf(want, sizeof want, "isa=%s", tb_isa_name(isa));
        if (isa <= (int)have) {
            check_op(bm, name, mm_flops, mm_bytes, want, bw1);
        } else {
            json_t *r = find(bm, name);
            CHECKF(r && json_is_true(json_object_get(r, "error_occurred")), "%s should be skipped",
                   name);
            const char *msg = r ? json_string_value(json_object_get(r, "error_message")) : NULL;
            CHECKF(msg && strstr(msg, "lacks"), "%s: %s", name, msg ? msg : "(none)");
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

    char *bad_threads[] = {NULL, "--tb_threads=many", NULL};
    CHECK(run(bin, bad_threads) == 2);
    char *bad_flag[] = {NULL, "--no_such_flag", NULL};
    CHECK(run(bin, bad_flag) == 2);
    return tb_test_result("test_kernels_bench");
}

/* Synthetic results directories for the report/compare/store tests, written
 * through the real results writer (harness/tb_results.h) so the tests read
 * exactly what `tierbench run` produces. Header-only: static functions. */
#ifndef TB_REPORT_FIXTURES_H
#define TB_REPORT_FIXTURES_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness/tb_results.h"
#include "harness/tb_stats.h"

struct fx_run {
    const char *commit; /* environment.tierbench.source_git_commit */
    double scale;       /* latency multiplier (1.1 = 10% slower) */
    size_t n;           /* samples per record */
    uint64_t seed;
    const char *backend; /* placement.backend */
    int fallback;        /* placement.fallback */
    const char *off_op;  /* coverage: an op that ran off target, or NULL */
    int with_coverage;
    int with_energy;
    /* as a real run of a profile with several prompt lengths writes it:
     * prefill at p16, p128 and p512 (three configurations of one workload),
     * and a third profile that is UNSUPPORTED here (records with the reason,
     * a qualification record with verdict UNSUPPORTED and no SLOs) */
    int multi_prompt;
};

#define FX_UNSUPPORTED_WHY "none of the backends cuda is available on this host (fixture)"

static double fx_noise(struct tb_rng *r)
{
    /* sum of uniforms: bell-shaped, positive, ~2% relative spread */
    double u = 0;
    for (int i = 0; i < 4; i++)
        u += tb_rng_uniform(r);
    return 1.0 + 0.02 * (u - 2.0);
}

static json_t *fx_env(const struct fx_run *f)
{
    return json_pack("{s:{s:s, s:s}, s:{s:s}, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s}}", "tierbench",
                     "version", "0.1.0", "source_git_commit", f->commit, "cpu", "model",
                     "Test CPU 9000", "hostname", "testhost", "timestamp_utc",
                     "2026-01-02T03:04:05Z", "kernel", "sysname", "Linux", "release", "6.1",
                     "machine", "x86_64", "build", "compiler", "GNU 12");
}

/* Two profiles x (prefill, decode) + one qualification record per profile. */
static int fx_write_run(const char *dir, const struct fx_run *f)
{
    struct tb_err err = {0};
    struct tb_results *res = NULL;
    if (tb_results_open(dir, TB_RESULTS_EXACT_DIR, &res, &err)) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        return -1;
    }
    struct tb_rng rng;
    tb_rng_seed(&rng, f->seed);
    static const char *const profiles[] = {"wearable", "phone-midrange"};
    static const char *const workloads[] = {"llm-prefill", "llm-decode"};
    static const char *const wtypes[] = {"q4_0", "q8_0"};
    static const int prompts[] = {16, 128, 512};
    int rc = 0;
    for (int p = 0; p < 2 && !rc; p++) {
        for (int k = 0; k < (f->multi_prompt ? 4 : 2) && !rc; k++) {
            /* k: prefill (at each prompt length when multi_prompt), decode */
            const int w = k == (f->multi_prompt ? 3 : 1);
            const int prompt = w ? 128 : f->multi_prompt ? prompts[k] : 128;
            char config[96];
            if (f->multi_prompt)
                snprintf(config, sizeof config, "synth:stories15m:%s/p%d/%s/t2", wtypes[p], prompt,
                         f->backend);
            else
                snprintf(config, sizeof config, "synth:stories15m:%s/%s/t2", wtypes[p], f->backend);
            json_t *rec = tb_results_record_new(workloads[w], profiles[p], config);
            double base =
                (w ? 20.0 : 900.0 * (f->multi_prompt ? prompt / 128.0 : 1.0)) / (p + 1) * f->scale;
            struct tb_sample_set set = {0};
            set.v = malloc(f->n * sizeof *set.v);
            for (size_t i = 0; i < f->n; i++)
                set.v[i] = base * fx_noise(&rng);
            set.n = set.cap = f->n;
            set.valid = 1;
            struct tb_stats_opts so;
            tb_stats_opts_default(&so);
            so.bootstrap_resamples = 0;
            rc = tb_results_set_measurement(rec, w ? "itl_ms" : "ttft_ms", "ms", &set, &so, &err);
            tb_sample_set_free(&set);
            json_object_set_new(rec, "environment", fx_env(f));
            json_object_set_new(rec, "status", json_string("ok"));
            json_object_set_new(rec, "model", json_pack("{s:s}", "weight_type", wtypes[p]));
            /* placement as the run writes it (entries: the preference list
             * as opened); backend/fallback are the compare fingerprint's */
            json_object_set_new(rec, "placement",
                                json_pack("{s:s, s:b, s:[{s:s, s:b, s:s, s:s, s:s}]}", "backend",
                                          f->backend, "fallback", f->fallback, "entries", "entry",
                                          f->backend, "implicit", 0, "backend", f->backend,
                                          "device", "fixture device", "device_kind",
                                          strcmp(f->backend, "cpu") ? "gpu" : "cpu"));
            json_object_set_new(
                rec, "params",
                json_pack("{s:s, s:i, s:i, s:i}", "model",
                          wtypes[p][1] == '4' ? "synth:stories15m:q4_0" : "synth:stories15m:q8_0",
                          "prompt", prompt, "n_predict", w ? 16 : 0, "seed", 1));
            json_object_set_new(rec, "threads",
                                json_pack("{s:i, s:i, s:b, s:s}", "requested", 2, "actual", 2,
                                          "clamped", 0, "source", "profile"));
            json_object_set_new(rec, "derived",
                                json_pack("{s:f, s:f, s:f, s:f}", w ? "decode_tps" : "prefill_tps",
                                          (w ? 1000.0 : 64000.0) / base, "gflops_per_s",
                                          2.0 / f->scale, "eval_flops", 8e8, "eval_bytes",
                                          w ? 3e7 : 3e6));
            json_object_set_new(
                rec, "accuracy",
                json_pack("{s:f, s:f}", "top1_agreement", 1.0, "kl_mean", p ? 0.001 : 0.016));
            json_object_set_new(rec, "memory", json_pack("{s:i}", "peak_rss_kib", 100000));
            if (f->with_energy && p == 0)
                json_object_set_new(
                    rec, "energy",
                    json_pack("{s:s, s:f}", "source", "fake", "joules_per_token", 0.02 * f->scale));
            else
                json_object_set_new(rec, "energy",
                                    json_pack("{s:s, s:s}", "source", "auto", "unavailable",
                                              "unavailable: no powercap in this test"));
            if (f->with_coverage) {
                json_t *off = json_array();
                if (f->off_op)
                    json_array_append_new(off, json_pack("{s:s, s:s, s:s}", "op", f->off_op,
                                                         "backend", "cpu", "device_kind", "cpu"));
                json_object_set_new(rec, "coverage",
                                    json_pack("{s:s, s:{s:i, s:i, s:f}, s:o}", "verdict",
                                              f->off_op ? "silent-fallback" : "on-target", "ops",
                                              "total", 10, "on_target", f->off_op ? 9 : 10, "share",
                                              f->off_op ? 0.9 : 1.0, "off_target", off));
            }
            if (!rc)
                rc = tb_results_append(res, rec, &err);
            json_decref(rec);
        }
        json_t *q = tb_results_record_new("qualification", profiles[p], "slo");
        json_object_set_new(
            q, "slos",
            json_pack("[{s:s, s:s, s:s, s:f, s:f, s:s, s:s}, {s:s, s:s, s:s, s:f, s:s, s:s}]",
                      "slo", "ttft_ms <= 1000", "metric", "ttft_ms", "op", "<=", "threshold",
                      1000.0, "value", 900.0 * f->scale / (p + 1), "workload", "llm-prefill",
                      "verdict", 900.0 * f->scale / (p + 1) <= 1000 ? "PASS" : "FAIL", "slo",
                      "joules_per_token <= 0.5", "metric", "joules_per_token", "op", "<=",
                      "threshold", 0.5, "verdict", "UNMEASURED", "reason", "no energy source"));
        json_object_set_new(q, "verdict", json_string("INCOMPLETE"));
        json_object_set_new(q, "status", json_string("ok"));
        json_object_set_new(q, "environment", fx_env(f));
        if (!rc)
            rc = tb_results_append(res, q, &err);
        json_decref(q);
    }
    for (int w = 0; w < 2 && !rc && f->multi_prompt; w++) {
        json_t *u = tb_results_record_new(workloads[w], "gpu-datacenter", "synth:stories15m:f16");
        json_object_set_new(u, "environment", fx_env(f));
        json_object_set_new(u, "status", json_string("unsupported"));
        json_object_set_new(u, "unsupported", json_string(FX_UNSUPPORTED_WHY));
        json_object_set_new(u, "params", json_pack("{s:i}", "prompt", w ? 512 : 2048));
        json_object_set_new(u, "placement",
                            json_pack("{s:[{s:s, s:b, s:s}]}", "entries", "entry", "cuda",
                                      "implicit", 0, "unavailable", FX_UNSUPPORTED_WHY));
        if (f->with_coverage)
            json_object_set_new(u, "coverage",
                                json_pack("{s:s, s:{s:i, s:i, s:f}}", "verdict", "unsupported",
                                          "ops", "total", 0, "on_target", 0, "share", 0.0));
        rc = tb_results_append(res, u, &err);
        json_decref(u);
    }
    if (f->multi_prompt && !rc) {
        json_t *q = tb_results_record_new("qualification", "gpu-datacenter", "slo");
        json_object_set_new(q, "environment", fx_env(f));
        json_object_set_new(q, "verdict", json_string("UNSUPPORTED"));
        json_object_set_new(q, "reason", json_string(FX_UNSUPPORTED_WHY));
        json_object_set_new(q, "status", json_string("unsupported"));
        rc = tb_results_append(res, q, &err);
        json_decref(q);
    }
    json_t *man = json_pack("{s:s, s:o}", "status", "complete", "environment", fx_env(f));
    if (!rc)
        rc = tb_results_write_manifest(res, man, &err);
    json_decref(man);
    int crc = tb_results_close(res, &err);
    if (rc || crc)
        fprintf(stderr, "fixture: %s\n", err.msg);
    return rc || crc ? -1 : 0;
}

/* Runs a shell command line, returns its exit status (-1 if it did not
 * exit normally). */
static int fx_system(const char *cmd)
{
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Reads a whole file (NUL-terminated, caller frees); NULL on error. */
static char *fx_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

/* The tierbench binary from TB_BIN, or NULL (with a note) when the CLI
 * checks cannot run. */
static inline const char *fx_bin(void)
{
    const char *bin = getenv("TB_BIN");
    if (!bin)
        printf("TB_BIN not set: CLI checks skipped\n");
    return bin;
}

/* Writes text to path (a fixture file); a failure shows in the checks that
 * read it. */
static inline void fx_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static size_t fx_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#endif

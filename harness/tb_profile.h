/* Device-tier profiles: one commented INI file per tier (device_profiles/),
 * parsed with libinih and validated as a whole. Every error is one line
 * "FILE:LINE: what is wrong".
 *
 * File layout:
 *   [profile]
 *   name = phone-midrange           ; identifier used by `profiles show`
 *   tier = phone                    ; free-form class label
 *   description = ...
 *   threads = 4                     ; positive integer or "all"
 *   binding = compact               ; compact | spread | none
 *   cpuset = 0-3                    ; optional OS CPU list restricting binding
 *   isa_cap = avx2                  ; scalar | avx2 | avx512 | best
 *   memory_budget = 6 GiB           ; B, KiB, MiB, GiB, TiB (binary units only)
 *   weight_types = q4_0, q8_0       ; names of tb_wtypes.h (f32 f16 q8_0 q4_0 ...)
 *   backends = npu, opencl:gpu, cpu ; preference order
 *   accel_op_classes = matmul       ; op kinds (tb_op_kind_name) that must
 *                                   ; run on an accelerator backend
 *   energy_source = auto            ; auto|powercap|papi|nvml|trace:FILE|none
 *   events = perf::TASK-CLOCK,PAPI_TOT_INS ; optional PAPI event list (--events wins)
 *   [workload.llm-decode]           ; llm-prefill, llm-decode, llm-generate, embed
 *   model = synth:stories15m:q4_0   ; synth:SHAPE:TYPE or a .gguf path
 *   prompt = 128                    ; prompt tokens; a list (16, 128, 512) measures
 *                                   ; each length (llm-decode: each context
 *                                   ; position); llm-prefill defaults to
 *                                   ; 16, 128, 512 (clamped to the context)
 *   n_predict = 64                  ; generated tokens
 *   [slo]
 *   ttft_ms <= 500 @ prompt 128     ; METRIC (<=|>=) NUMBER [@ KEY VALUE]
 *   decode_tps >= 10
 *
 * Cross-checks: a synth model's type must be in weight_types and its
 * memory need (tb_llama_memory_need: weights + activations + KV cache, at
 * the positions tb_profile_positions gives its largest prompt, in the KV
 * type the run uses) must fit memory_budget; prompt + n_predict must
 * fit the shape's context; accel_op_classes need a non-CPU backend; SLO
 * conditions must name a defined workload / prompt length. A .gguf model is
 * checked when it is loaded, not here. Relative paths (model, trace:FILE)
 * are relative to the profile's directory. */
#ifndef TB_PROFILE_H
#define TB_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/tb_error.h"
#include "kernels/tb_util.h" /* tb_format_bytes */

#ifdef __cplusplus
extern "C" {
#endif

#define TB_PROFILE_MAX_LIST 8
#define TB_PROFILE_MAX_WORKLOADS 8
#define TB_PROFILE_MAX_SLOS 16
#define TB_PROFILE_MAX_PROMPTS 8
#define TB_PROFILE_PATH_MAX 512

enum tb_workload_kind {
    TB_WL_LLM_PREFILL,
    TB_WL_LLM_DECODE,
    TB_WL_LLM_GENERATE,
    TB_WL_EMBED,
    TB_WL_COUNT
};
const char *tb_workload_kind_name(enum tb_workload_kind k); /* "llm-decode", ... */

struct tb_profile_workload {
    enum tb_workload_kind kind;
    char model[TB_PROFILE_PATH_MAX]; /* as written: synth:SHAPE:TYPE or a path (resolved) */
    bool synth;
    char shape[32];                      /* synth only */
    int weight_type;                     /* synth: enum tb_type; -1 for a file */
    int prompt, n_predict;               /* prompt: the largest of prompts[] (sizing checks) */
    int prompts[TB_PROFILE_MAX_PROMPTS]; /* prompt lengths (llm-decode: context positions),
                                            each measured on its own; llm-prefill
                                            default 16, 128, 512 */
    int n_prompts;
    uint64_t need_bytes; /* synth: tb_llama_memory_need total; 0 for a file */
    int line;            /* line of the [workload.*] header */
};

enum tb_slo_op { TB_SLO_LE, TB_SLO_GE };

struct tb_slo {
    char metric[32]; /* ttft_ms, tpot_ms, e2e_ms, prefill_tps, decode_tps,
                        joules_per_token, mean_watts, peak_rss_mib, top1_agreement */
    enum tb_slo_op op;
    double threshold;
    char cond_key[16]; /* "" (always), "prompt", "n_predict" or "workload" */
    char cond_value[32];
    int line;
};
/* value satisfies the SLO. */
bool tb_slo_holds(const struct tb_slo *s, double value);
/* "ttft_ms <= 500 @ prompt 128" */
int tb_slo_format(const struct tb_slo *s, char *buf, size_t n);

struct tb_profile {
    char path[TB_PROFILE_PATH_MAX];
    char name[64], tier[32], description[256];
    int threads;            /* 0 = all cores */
    int binding;            /* enum tb_bind_policy (harness/tb_topo.h) */
    char cpuset[128];       /* "" = no restriction */
    int isa_cap;            /* enum tb_isa; TB_ISA_COUNT = best available */
    uint64_t memory_budget; /* bytes */
    int weight_types[TB_PROFILE_MAX_LIST], n_weight_types;
    char backends[TB_PROFILE_MAX_LIST][32];
    int n_backends;
    char accel_op_classes[TB_PROFILE_MAX_LIST][16];
    int n_accel_op_classes;
    char energy_source[TB_PROFILE_PATH_MAX]; /* for tb_energy_config.source */
    char events[512];                        /* PAPI event list; "" = the harness default */
    struct tb_profile_workload workloads[TB_PROFILE_MAX_WORKLOADS];
    int n_workloads;
    struct tb_slo slos[TB_PROFILE_MAX_SLOS];
    int n_slos;
};

/* Validates the memory need with an f32 KV cache (the run's default). */
int tb_profile_load(const char *path, struct tb_profile **out, struct tb_err *err);
/* The same for a run whose KV cache is kv_type (TB_TYPE_F32 or TB_TYPE_F16). */
int tb_profile_load_kv(const char *path, int kv_type, struct tb_profile **out, struct tb_err *err);
/* Same parse over a caller-owned buffer (tests, fuzzers); label names it in
 * errors and anchors relative paths like a file path would. */
int tb_profile_load_memory(const char *buf, size_t n, const char *label, struct tb_profile **out,
                           struct tb_err *err);
void tb_profile_free(struct tb_profile *p);
/* The backend names a profile's `backends` may list (NULL-terminated,
 * static storage); `run --backend` takes these and the engine's own
 * tb_backend_names(). */
const char *const *tb_profile_backend_names(void);
/* Human-readable dump (`tierbench profiles show`). */
void tb_profile_print(const struct tb_profile *p, FILE *f);
/* NULL if the profile has no workload of that kind. */
const struct tb_profile_workload *tb_profile_workload(const struct tb_profile *p,
                                                      enum tb_workload_kind k);

/* Sorted paths of the *.ini files in dir (caller frees with tb_profile_dir_list_free). */
int tb_profile_dir_list(const char *dir, char ***paths, int *n, struct tb_err *err);
void tb_profile_dir_list_free(char **paths, int n);
/* Loads the profile in dir whose name (or file stem) is `name`. */
int tb_profile_find(const char *dir, const char *name, struct tb_profile **out, struct tb_err *err);

/* Bytes of a synth model's weights (the exact tensors tb_synth_write emits)
 * and its f32 KV cache for n_ctx positions (0 for n_ctx 0), the latter from
 * tb_llama_memory_need. */
int tb_profile_synth_bytes(const char *shape, int weight_type, int n_ctx, uint64_t *weights,
                           uint64_t *kv_cache, struct tb_err *err);

/* The positions one configuration runs at prompt length `prompt` against a
 * model context of ctx_len: a batch of *n_prompt tokens (prompt, at least 1,
 * clamped to leave room for the generated ones), *n_gen generated (its
 * n_predict for llm-generate, the one measured step for llm-decode, 0
 * otherwise); n_ctx is their sum. Returns 1 when the prompt was clamped.
 * The run and validation size memory from this alone. */
int tb_profile_positions(enum tb_workload_kind kind, int prompt, int n_predict, int ctx_len,
                         int32_t *n_prompt, int32_t *n_gen);

#ifdef __cplusplus
}
#endif
#endif

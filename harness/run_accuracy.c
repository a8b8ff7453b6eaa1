/* Accuracy beside speed: the configuration's logits, teacher-forced, against
 * a cpu-ref reference that every process of the run shares through the
 * reference cache in the results directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"
#include "harness/tb_accuracy.h"
#include "harness/tb_refcache.h"

static int teacher_forced_logits(const char *path, const char *backend,
                                 const struct tb_backend_config *cfg, const int32_t *tokens,
                                 int32_t n_pos, float **out, int32_t *vocab, struct tb_err *err)
{
    struct tb_llama_model *m = NULL;
    struct tb_llama_state *s = NULL;
    struct tb_backend *b = NULL;
    float *logits = NULL;
    int rc = tb_llama_load(path, &m, err);
    if (!rc)
        rc = tb_llama_state_build(m, n_pos, n_pos, &s, err);
    if (!rc)
        rc = tb_backend_create(backend, cfg, &b, err);
    if (!rc)
        rc = tb_llama_eval(m, s, b, tokens, n_pos, 0, 1, NULL, err);
    if (!rc) {
        *vocab = m->config.vocab_size;
        const size_t bytes = sizeof(float) * (size_t)n_pos * (size_t)*vocab;
        logits = malloc(bytes);
        if (!logits)
            rc = tb_err_set(err, TB_ENOMEM, "accuracy: out of memory");
        else
            memcpy(logits, tb_llama_logits(s, 0), bytes);
    }
    tb_backend_free(b);
    tb_llama_state_free(s);
    tb_llama_free(m);
    *out = logits;
    return rc;
}

/* Reference for a synthetic model: cpu-ref on the f32 model of the same
 * shape and seed (quantization loss + kernel error). For a user file:
 * cpu-ref on --reference-model, else on the same file (kernel fidelity). */
static int accuracy_eval(const struct tb_run_opts *o, const char *ref_dir, const char *model_spec,
                         const char *model_path, tb_llama_graph_runner runner, void *runner_ctx,
                         const struct tb_llama_model *m, json_t *rec, struct tb_err *err)
{
    const int32_t n_pos =
        o->accuracy_positions < m->config.ctx_len ? o->accuracy_positions : m->config.ctx_len;
    char ref_path[RUN_PATH_MAX], shape[64], what[RUN_PATH_MAX + 64];
    int type;
    int rc;
    if (run_parse_synth(model_spec, shape, sizeof shape, &type) > 0) {
        char spec[128];
        snprintf(spec, sizeof spec, "synth:%s:f32", shape);
        rc = run_find_model(spec, o->cache_dir, o->seed, true, ref_path, sizeof ref_path, err);
        if (rc)
            return rc;
        snprintf(what, sizeof what, "cpu-ref on synth:%s:f32 (same seed)", shape);
    } else {
        rc = tb_path_join(ref_path, sizeof ref_path, err, "%s",
                          o->reference_model ? o->reference_model : model_path);
        if (rc)
            return rc;
        snprintf(what, sizeof what, "cpu-ref on %s", ref_path);
    }
    int32_t *tokens = malloc(sizeof *tokens * (size_t)n_pos);
    if (!tokens)
        return tb_err_set(err, TB_ENOMEM, "accuracy: out of memory");
    tb_workload_prompt(o->seed ^ 0xacc, m->config.vocab_size, tokens, n_pos);

    /* the reference, shared by every process of the run through a file in
     * the results directory: loaded bit for bit, or computed and stored */
    struct tb_refcache_key key;
    float *ref = NULL;
    int32_t ref_vocab = 0;
    char ignored[RUN_PATH_MAX + 128] = "", store_err[sizeof err->msg] = "";
    rc = tb_refcache_key_init(&key, "cpu-ref", ref_path, tokens, n_pos, err);
    const int cached =
        rc ? rc : tb_refcache_load(ref_dir, &key, &ref, &ref_vocab, ignored, sizeof ignored, err);
    rc = cached < 0 ? cached : TB_OK;
    if (!rc && !cached) {
        rc = teacher_forced_logits(ref_path, "cpu-ref", NULL, tokens, n_pos, &ref, &ref_vocab, err);
        /* stored only under the identity it was computed from (a model
         * rewritten meanwhile gets a new key); a failure costs later
         * configurations a recomputation, nothing else */
        if (!rc) {
            struct tb_refcache_key after;
            struct tb_err se = {0};
            int src = tb_refcache_key_init(&after, "cpu-ref", ref_path, tokens, n_pos, &se);
            if (!src && strcmp(after.text, key.text))
                src = tb_err_set(&se, TB_EIO,
                                 "%s changed while its reference was computed: "
                                 "not cached",
                                 ref_path);
            if (!src)
                src = tb_refcache_store(ref_dir, &key, ref, ref_vocab, &se);
            if (src)
                tb_copy_str(store_err, sizeof store_err, se.msg);
        }
    }
    if (rc) {
        free(ref);
        free(tokens);
        return tb_err_wrap(err, rc, "accuracy reference %s", ref_path);
    }
    /* the run's own backend and settings, on a fresh state */
    struct tb_llama_state *s = NULL;
    rc = tb_llama_state_build(m, n_pos, n_pos, &s, err);
    if (!rc)
        rc = tb_llama_eval_with(m, s, runner, runner_ctx, tokens, n_pos, 0, TB_LLAMA_ALL_LOGITS,
                                NULL, err);
    struct tb_accuracy acc;
    if (!rc && ref_vocab != m->config.vocab_size)
        rc = tb_err_set(err, TB_EINVAL, "accuracy: reference vocabulary %d != model %d", ref_vocab,
                        m->config.vocab_size);
    if (!rc)
        rc =
            tb_accuracy_compare(ref, tb_llama_logits(s, 0), n_pos, m->config.vocab_size, &acc, err);
    tb_llama_state_free(s);
    free(ref);
    free(tokens);
    if (rc)
        return rc;
    json_t *acc_o = json_pack(
        "{s:s, s:i, s:o, s:o, s:o, s:o, s:i}", "reference", what, "positions", n_pos,
        "top1_agreement", tb_json_number(acc.top1_agreement), "kl_mean",
        tb_json_number(acc.kl_mean), "kl_p99", tb_json_number(acc.kl_p99), "max_abs_logit_error",
        tb_json_number(acc.max_abs_err), "non_finite_positions", acc.non_finite);
    /* whether this configuration computed the reference or loaded it */
    json_object_set_new(acc_o, "reference_source", json_string(cached ? "cached" : "computed"));
    if (ignored[0])
        json_object_set_new(acc_o, "reference_cache_ignored", json_string(ignored));
    if (store_err[0])
        json_object_set_new(acc_o, "reference_cache_error", json_string(store_err));
    json_object_set_new(rec, "accuracy", acc_o);
    return TB_OK;
}

void run_accuracy(struct wl_run *c)
{
    const struct tb_run_opts *o = c->run->o;
    if (o->accuracy_positions <= 0)
        return;
    struct tb_err ae = {0};
    char ref_dir[RUN_PATH_MAX];
    if (tb_path_join(ref_dir, sizeof ref_dir, &ae, "%s/reference", tb_results_dir(c->run->res)) ||
        accuracy_eval(o, ref_dir, c->model_spec, c->path, tb_sched_graph_runner, &c->pr->sr, c->m,
                      c->rec, &ae)) {
        json_object_set_new(c->rec, "accuracy", json_pack("{s:s}", "unavailable", ae.msg));
        return;
    }
    json_t *a = json_object_get(c->rec, "accuracy");
    const double top1 = json_number_value(json_object_get(a, "top1_agreement"));
    const double kl = json_number_value(json_object_get(a, "kl_mean"));
    snprintf(c->acc_txt, sizeof c->acc_txt, "top1 %.3f KL %.2g", top1, kl);
}

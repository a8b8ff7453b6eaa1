/* Device-tier profiles: INI parsing (libinih) and whole-file validation.
 * The inih reader callback counts lines, so every error can name
 * FILE:LINE even though this inih build does not pass line numbers. */
#include "harness/tb_profile.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_energy.h"
#include "harness/tb_read.h"
#include "harness/tb_topo.h"
#include "kernels/tb_backend.h"
#include "kernels/tb_graph.h"
#include "kernels/tb_types.h"
#include "kernels/tb_wtypes.h"
#include "workloads/tb_llama.h"

static const char *const k_workload_names[TB_WL_COUNT] = {"llm-prefill", "llm-decode",
                                                          "llm-generate", "embed"};

const char *tb_workload_kind_name(enum tb_workload_kind k)
{
    return (k >= 0 && k < TB_WL_COUNT) ? k_workload_names[k] : "unknown";
}

static int workload_from_name(const char *s)
{
    for (int i = 0; i < TB_WL_COUNT; i++)
        if (!strcmp(s, k_workload_names[i]))
            return i;
    return -1;
}

static const char *const k_metrics[] = {"ttft_ms",     "tpot_ms",      "e2e_ms",
                                        "prefill_tps", "decode_tps",   "joules_per_token",
                                        "mean_watts",  "peak_rss_mib", "top1_agreement"};
/* NULL-terminated: tb_profile_backend_names() hands it out */
static const char *const k_backends[] = {"cpu",    "cpu-ref", "cuda", "opencl:gpu",
                                         "vulkan", "metal",   "npu",  NULL};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

const char *const *tb_profile_backend_names(void)
{
    return k_backends;
}

/* ------------------------------------------------------------ parse state */

enum profile_key {
    K_NAME,
    K_TIER,
    K_DESCRIPTION,
    K_THREADS,
    K_BINDING,
    K_CPUSET,
    K_ISA_CAP,
    K_MEMORY_BUDGET,
    K_WEIGHT_TYPES,
    K_BACKENDS,
    K_ACCEL,
    K_ENERGY,
    K_EVENTS,
    K_COUNT
};
static const char *const k_profile_keys[K_COUNT] = {
    "name",    "tier",          "description",  "threads",  "binding",          "cpuset",
    "isa_cap", "memory_budget", "weight_types", "backends", "accel_op_classes", "energy_source",
    "events"};
static const bool k_required[K_COUNT] = {
    [K_NAME] = true,          [K_TIER] = true,         [K_THREADS] = true, [K_ISA_CAP] = true,
    [K_MEMORY_BUDGET] = true, [K_WEIGHT_TYPES] = true, [K_BACKENDS] = true};

enum workload_key { W_MODEL, W_PROMPT, W_N_PREDICT, W_COUNT };
static const char *const k_workload_keys[W_COUNT] = {"model", "prompt", "n_predict"};

struct parse {
    const char *path;
    char dir[TB_PROFILE_PATH_MAX]; /* profile's directory, for relative paths */
    FILE *f;
    struct tb_lines lines; /* over f, under the line cap (tb_read.h) */
    int line;
    int profile_line; /* line of [profile], 0 if absent */
    int slo_line;     /* line of [slo], 0 if absent */
    int key_line[K_COUNT];
    int wl_key_line[TB_PROFILE_MAX_WORKLOADS][W_COUNT];
    struct tb_profile *p;
    struct tb_err *err;
    int err_line; /* line of the first error, 0 = none */
    int kv_type;  /* enum tb_type of the KV cache the run will use (memory need) */
};

/* Records the first error as "FILE:LINE: msg"; returns 1 so inih goes on
 * (only the first error is reported). */
__attribute__((format(printf, 4, 5))) static int fail(struct parse *ps, int code, int line,
                                                      const char *fmt, ...)
{
    if (ps->err_line)
        return 1;
    char msg[TB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->err_line = line > 0 ? line : 1;
    tb_err_set(ps->err, code, "%s:%d: %s", ps->path, ps->err_line, msg);
    return 1;
}

/* "888 KiB", "6 GiB", "1.5GiB", "4096 B": binary units only. */
static int parse_size(const char *s, uint64_t *out, const char **why)
{
    static const struct {
        const char *unit;
        double mult;
    } k[] = {{"B", 1.0},
             {"KiB", 1024.0},
             {"MiB", 1048576.0},
             {"GiB", 1073741824.0},
             {"TiB", 1099511627776.0}};
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v <= 0) {
        *why = "expected a positive number followed by a unit (e.g. 6 GiB)";
        return -1;
    }
    while (*end == ' ' || *end == '\t')
        end++;
    for (size_t i = 0; i < NELEM(k); i++)
        if (!strcmp(end, k[i].unit)) {
            double b = v * k[i].mult;
            if (b < 1 || b > 9.2e18) {
                *why = "size out of range";
                return -1;
            }
            *out = (uint64_t)b;
            return 0;
        }
    *why = *end ? "unit must be one of B, KiB, MiB, GiB, TiB (binary units)"
                : "missing unit (B, KiB, MiB, GiB, TiB)";
    return -1;
}

/* Splits a comma list into trimmed items of at most cap-1 chars. */
struct split {
    char *items;
    size_t cap;
    int max, *n;
    const char **why;
};

static int split_item(const char *item, size_t len, void *ctx)
{
    struct split *sp = ctx;
    if (len == 0)
        *sp->why = "empty item in list";
    else if (len >= sp->cap)
        *sp->why = "list item too long";
    else if (*sp->n == sp->max)
        *sp->why = "too many items in list";
    else {
        memcpy(sp->items + (size_t)*sp->n * sp->cap, item, len);
        sp->items[(size_t)*sp->n * sp->cap + len] = '\0';
        (*sp->n)++;
        return 0;
    }
    return -1;
}

static int split_list(const char *s, char *items, size_t cap, int max, int *n, const char **why)
{
    *n = 0;
    struct split sp = {items, cap, max, n, why};
    return tb_list_each(s, split_item, &sp);
}

/* Relative paths are relative to the profile's directory. -1 if too long. */
static int resolve_path(const struct parse *ps, const char *rel, char *out, size_t n)
{
    size_t dl = rel[0] == '/' ? 0 : strlen(ps->dir), rl = strlen(rel);
    if (dl + 1 + rl >= n)
        return -1;
    if (dl) {
        memcpy(out, ps->dir, dl);
        out[dl++] = '/';
    }
    memcpy(out + dl, rel, rl + 1);
    return 0;
}

/* ------------------------------------------------------------ synth sizes */

int tb_profile_synth_bytes(const char *shape, int weight_type, int n_ctx, uint64_t *weights,
                           uint64_t *kv_cache, struct tb_err *err)
{
    const struct tb_synth_shape *sh = tb_synth_find(shape);
    if (!sh)
        return tb_err_set(err, TB_EINVAL, "unknown synth shape '%s'", shape);
    const struct tb_llama_config *c = &sh->config;
    const uint64_t kv_dim = (uint64_t)c->head_dim * (uint64_t)c->n_kv_heads;
    const uint64_t row_dim = tb_row_size(weight_type, c->dim);
    const uint64_t row_ffn = tb_row_size(weight_type, c->ffn_dim);
    if (!row_dim || !row_ffn)
        return tb_err_set(err, TB_EINVAL, "type %s cannot hold rows of %d / %d elements",
                          tb_type_name(weight_type), c->dim, c->ffn_dim);
    /* the tensor list of tb_synth_write: untied output, f32 norms */
    uint64_t per_layer = row_dim * (2 * (uint64_t)c->dim + 2 * kv_dim + 2 * (uint64_t)c->ffn_dim) +
                         row_ffn * (uint64_t)c->dim + 2 * (uint64_t)c->dim * 4;
    *weights = 2 * row_dim * (uint64_t)c->vocab_size + (uint64_t)c->n_layers * per_layer +
               (uint64_t)c->dim * 4;
    *kv_cache = 0;
    if (n_ctx < 1)
        return TB_OK;
    struct tb_memory_need need;
    int rc = tb_llama_memory_need(c, *weights, TB_TYPE_F32, 1, n_ctx, &need, err);
    *kv_cache = need.kv;
    return rc;
}

int tb_profile_positions(enum tb_workload_kind kind, int prompt, int n_predict, int ctx_len,
                         int32_t *n_prompt, int32_t *n_gen)
{
    int32_t np = prompt > 0 ? prompt : 1;
    const int32_t ng = kind == TB_WL_LLM_GENERATE ? n_predict : kind == TB_WL_LLM_DECODE ? 1 : 0;
    int clamped = 0;
    if (np + ng > ctx_len) { /* leave room for the generated tokens */
        np = ctx_len - ng > 1 ? ctx_len - ng : 1;
        clamped = 1;
    }
    *n_prompt = np;
    *n_gen = ng;
    return clamped;
}

/* ------------------------------------------------------------ [profile] */

static int profile_key(struct parse *ps, const char *name, const char *value)
{
    struct tb_profile *p = ps->p;
    int k = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (!strcmp(name, k_profile_keys[i]))
            k = i;
    if (k < 0)
        return fail(ps, TB_EFORMAT, ps->line, "unknown key '%s' in [profile]", name);
    if (ps->key_line[k])
        return fail(ps, TB_EFORMAT, ps->line, "duplicate key '%s' (first on line %d)", name,
                    ps->key_line[k]);
    ps->key_line[k] = ps->line;
    const char *why = NULL;
    int v;
    switch (k) {
    case K_NAME:
        for (const char *c = value; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
                return fail(ps, TB_EFORMAT, ps->line,
                            "name '%s': use letters, digits, '-' and '_' only", value);
        if (!*value || strlen(value) >= sizeof p->name)
            return fail(ps, TB_EFORMAT, ps->line, "name must be 1..%zu characters",
                        sizeof p->name - 1);
        tb_copy_str(p->name, sizeof p->name, value);
        break;
    case K_TIER:
        if (!*value || strlen(value) >= sizeof p->tier)
            return fail(ps, TB_EFORMAT, ps->line, "tier must be 1..%zu characters",
                        sizeof p->tier - 1);
        tb_copy_str(p->tier, sizeof p->tier, value);
        break;
    case K_DESCRIPTION: tb_copy_str(p->description, sizeof p->description, value); break;
    case K_THREADS:
        if (!strcmp(value, "all"))
            p->threads = 0;
        else if (tb_parse_int(value, 1, 4096, &p->threads))
            return fail(ps, TB_EFORMAT, ps->line,
                        "threads '%s': expected an integer 1..4096 or 'all'", value);
        break;
    case K_BINDING:
        if ((v = tb_bind_policy_from_name(value)) < 0)
            return fail(ps, TB_EFORMAT, ps->line, "binding '%s': expected compact, spread or none",
                        value);
        p->binding = v;
        break;
    case K_CPUSET: {
        struct tb_err e = {0};
        if (strlen(value) >= sizeof p->cpuset || tb_topo_cpuset_check(value, &e))
            return fail(ps, TB_EFORMAT, ps->line, "cpuset '%s': expected a CPU list like 0-3,8",
                        value);
        tb_copy_str(p->cpuset, sizeof p->cpuset, value);
        break;
    }
    case K_ISA_CAP:
        if (!strcmp(value, "best"))
            p->isa_cap = TB_ISA_COUNT;
        else if ((p->isa_cap = tb_isa_from_name(value)) < 0)
            return fail(ps, TB_EFORMAT, ps->line,
                        "isa_cap '%s': expected scalar, avx2, avx512 or best", value);
        break;
    case K_MEMORY_BUDGET:
        if (parse_size(value, &p->memory_budget, &why))
            return fail(ps, TB_EFORMAT, ps->line, "memory_budget '%s': %s", value, why);
        break;
    case K_WEIGHT_TYPES: {
        char items[TB_PROFILE_MAX_LIST][16];
        if (split_list(value, &items[0][0], sizeof items[0], TB_PROFILE_MAX_LIST,
                       &p->n_weight_types, &why))
            return fail(ps, TB_EFORMAT, ps->line, "weight_types: %s", why);
        for (int i = 0; i < p->n_weight_types; i++)
            if ((p->weight_types[i] = tb_type_from_name(items[i])) < 0) {
                char names[TB_WTYPE_NAMES_MAX];
                return fail(ps, TB_EFORMAT, ps->line, "weight type '%s' unknown (%s)", items[i],
                            tb_wtype_names(names, sizeof names, ", "));
            }
        break;
    }
    case K_BACKENDS:
        if (split_list(value, &p->backends[0][0], sizeof p->backends[0], TB_PROFILE_MAX_LIST,
                       &p->n_backends, &why))
            return fail(ps, TB_EFORMAT, ps->line, "backends: %s", why);
        for (int i = 0; i < p->n_backends; i++)
            if (!in_list(p->backends[i], k_backends, NELEM(k_backends) - 1))
                return fail(ps, TB_EFORMAT, ps->line,
                            "backend '%s' unknown (cpu, cpu-ref, cuda, opencl:gpu, vulkan, "
                            "metal, npu)",
                            p->backends[i]);
        break;
    case K_ACCEL:
        if (split_list(value, &p->accel_op_classes[0][0], sizeof p->accel_op_classes[0],
                       TB_PROFILE_MAX_LIST, &p->n_accel_op_classes, &why))
            return fail(ps, TB_EFORMAT, ps->line, "accel_op_classes: %s", why);
        for (int i = 0; i < p->n_accel_op_classes; i++) {
            bool known = false;
            for (int o = 0; o < TB_OP_COUNT; o++)
                known = known || !strcmp(p->accel_op_classes[i], tb_op_kind_name(o));
            if (!known)
                return fail(ps, TB_EFORMAT, ps->line,
                            "op class '%s' unknown (e.g. matmul, "
                            "attention, rms_norm)",
                            p->accel_op_classes[i]);
        }
        break;
    case K_ENERGY:
        if (!strncmp(value, "trace:", 6) && value[6]) {
            memcpy(p->energy_source, "trace:", 6);
            if (resolve_path(ps, value + 6, p->energy_source + 6, sizeof p->energy_source - 6))
                return fail(ps, TB_EFORMAT, ps->line, "energy_source: path too long");
        } else {
            /* the source names live in energy.c alone */
            struct tb_err e = {0};
            if (!*value || tb_energy_check_source(value, &e))
                return fail(ps, TB_EFORMAT, ps->line, "energy_source: %s",
                            *value ? e.msg
                                   : "empty (auto, powercap, papi, nvml, trace:FILE, none)");
            tb_copy_str(p->energy_source, sizeof p->energy_source, value);
        }
        break;
    case K_EVENTS:
        /* PAPI event names, checked when counted (an event this host cannot
         * count is recorded unavailable, not rejected here) */
        if (!*value || strlen(value) >= sizeof p->events || strstr(value, ",,"))
            return fail(ps, TB_EFORMAT, ps->line,
                        "events: expected a comma-separated PAPI event list (< %zu chars)",
                        sizeof p->events);
        tb_copy_str(p->events, sizeof p->events, value);
        break;
    }
    return 1;
}

/* ------------------------------------------------------------ [workload.*] */

static struct tb_profile_workload *workload_for(struct parse *ps, int kind, int *idx)
{
    struct tb_profile *p = ps->p;
    for (int i = 0; i < p->n_workloads; i++)
        if ((int)p->workloads[i].kind == kind) {
            *idx = i;
            return &p->workloads[i];
        }
    return NULL;
}

static int workload_key(struct parse *ps, int kind, const char *name, const char *value)
{
    int idx;
    struct tb_profile_workload *w = workload_for(ps, kind, &idx);
    if (!w) /* the reader creates an entry for every valid header */
        return fail(ps, TB_EFORMAT, ps->line, "key outside a known workload section");
    int k = -1;
    for (int i = 0; i < W_COUNT; i++)
        if (!strcmp(name, k_workload_keys[i]))
            k = i;
    if (k < 0)
        return fail(ps, TB_EFORMAT, ps->line,
                    "unknown key '%s' in [workload.%s] (model, prompt, n_predict)", name,
                    tb_workload_kind_name(w->kind));
    if (ps->wl_key_line[idx][k])
        return fail(ps, TB_EFORMAT, ps->line, "duplicate key '%s' (first on line %d)", name,
                    ps->wl_key_line[idx][k]);
    ps->wl_key_line[idx][k] = ps->line;
    if (k == W_PROMPT) {
        /* one length or a comma list: each is measured on its own */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", value);
        w->n_prompts = 0;
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ' || *tok == '\t')
                tok++;
            for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t');)
                *--e = '\0';
            if (w->n_prompts == TB_PROFILE_MAX_PROMPTS)
                return fail(ps, TB_EFORMAT, ps->line, "prompt: at most %d lengths",
                            TB_PROFILE_MAX_PROMPTS);
            int v;
            if (tb_parse_int(tok, 1, 1 << 20, &v))
                return fail(ps, TB_EFORMAT, ps->line,
                            "prompt '%s': expected integers >= 1, comma-separated", value);
            w->prompts[w->n_prompts++] = v;
        }
        if (w->n_prompts == 0)
            return fail(ps, TB_EFORMAT, ps->line, "prompt '%s': expected an integer >= 1", value);
        w->prompt = 0;
        for (int i = 0; i < w->n_prompts; i++)
            w->prompt = w->prompts[i] > w->prompt ? w->prompts[i] : w->prompt;
    } else if (k == W_N_PREDICT) {
        if (tb_parse_int(value, 0, 1 << 20, &w->n_predict))
            return fail(ps, TB_EFORMAT, ps->line, "n_predict '%s': expected an integer >= 0",
                        value);
    } else if (!strncmp(value, "synth:", 6)) {
        /* synth:SHAPE:TYPE */
        const char *shape = value + 6, *colon = strrchr(shape, ':');
        if (!colon || colon == shape || (size_t)(colon - shape) >= sizeof w->shape)
            return fail(ps, TB_EFORMAT, ps->line, "model '%s': expected synth:SHAPE:TYPE", value);
        memcpy(w->shape, shape, (size_t)(colon - shape));
        w->shape[colon - shape] = '\0';
        if (!tb_synth_find(w->shape))
            return fail(ps, TB_EFORMAT, ps->line, "model '%s': unknown synth shape '%s'", value,
                        w->shape);
        if ((w->weight_type = tb_type_from_name(colon + 1)) < 0) {
            char names[TB_WTYPE_NAMES_MAX];
            return fail(ps, TB_EFORMAT, ps->line, "model '%s': unknown weight type '%s' (%s)",
                        value, colon + 1, tb_wtype_names(names, sizeof names, ", "));
        }
        w->synth = true;
        tb_copy_str(w->model, sizeof w->model, value);
    } else if (*value) {
        w->synth = false;
        w->weight_type = -1;
        if (resolve_path(ps, value, w->model, sizeof w->model))
            return fail(ps, TB_EFORMAT, ps->line, "model: path too long");
    } else {
        return fail(ps, TB_EFORMAT, ps->line, "model is empty");
    }
    return 1;
}

/* ------------------------------------------------------------ [slo] */

/* inih split the line at its first '=': "ttft_ms <" + "500 @ prompt 128".
 * Joined back, it reads METRIC (<=|>=) NUMBER [@ KEY VALUE]. */
static int slo_line(struct parse *ps, const char *name, const char *value)
{
    struct tb_profile *p = ps->p;
    char text[256];
    snprintf(text, sizeof text, "%s=%s", name, value);
    if (p->n_slos == TB_PROFILE_MAX_SLOS)
        return fail(ps, TB_EFORMAT, ps->line, "more than %d SLOs", TB_PROFILE_MAX_SLOS);
    struct tb_slo *s = &p->slos[p->n_slos];
    memset(s, 0, sizeof *s);
    s->line = ps->line;
    const char *c = text;
    size_t mlen = 0;
    while (isalnum((unsigned char)c[mlen]) || c[mlen] == '_')
        mlen++;
    if (mlen == 0 || mlen >= sizeof s->metric)
        goto syntax;
    memcpy(s->metric, c, mlen);
    c += mlen;
    while (*c == ' ' || *c == '\t')
        c++;
    if (!strncmp(c, "<=", 2))
        s->op = TB_SLO_LE;
    else if (!strncmp(c, ">=", 2))
        s->op = TB_SLO_GE;
    else
        goto syntax;
    c += 2;
    char *end;
    errno = 0;
    s->threshold = strtod(c, &end);
    if (end == c || errno || !isfinite(s->threshold))
        goto syntax;
    c = end;
    while (*c == ' ' || *c == '\t')
        c++;
    if (*c == '@') {
        char key[32], val[64], extra;
        if (sscanf(c + 1, "%31s %63s %c", key, val, &extra) != 2)
            goto syntax;
        if (strcmp(key, "prompt") && strcmp(key, "n_predict") && strcmp(key, "workload"))
            return fail(ps, TB_EFORMAT, ps->line,
                        "SLO condition '@ %s': expected prompt, n_predict or workload", key);
        int n;
        if (strcmp(key, "workload") && tb_parse_int(val, 0, 1 << 20, &n))
            return fail(ps, TB_EFORMAT, ps->line, "SLO condition '@ %s %s': not an integer", key,
                        val);
        if (!strcmp(key, "workload") && workload_from_name(val) < 0)
            return fail(ps, TB_EFORMAT, ps->line, "SLO condition: unknown workload '%s'", val);
        tb_copy_str(s->cond_key, sizeof s->cond_key, key);
        tb_copy_str(s->cond_value, sizeof s->cond_value, val);
    } else if (*c) {
        goto syntax;
    }
    if (!in_list(s->metric, k_metrics, NELEM(k_metrics)))
        return fail(ps, TB_EFORMAT, ps->line,
                    "unknown SLO metric '%s' (ttft_ms, tpot_ms, e2e_ms, prefill_tps, decode_tps, "
                    "joules_per_token, mean_watts, peak_rss_mib, top1_agreement)",
                    s->metric);
    p->n_slos++;
    return 1;
syntax:
    return fail(ps, TB_EFORMAT, ps->line,
                "bad SLO '%s': expected METRIC <= NUMBER or METRIC >= NUMBER [@ KEY VALUE]", text);
}

/* ------------------------------------------------------------ inih glue */

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *ps = user;
    if (ps->err_line)
        return 1;
    if (!strcmp(section, "profile"))
        return profile_key(ps, name, value);
    if (!strcmp(section, "slo"))
        return slo_line(ps, name, value);
    if (!strncmp(section, "workload.", 9) && workload_from_name(section + 9) >= 0)
        return workload_key(ps, workload_from_name(section + 9), name, value);
    if (!*section)
        return fail(ps, TB_EFORMAT, ps->line, "key '%s' before any [section]", name);
    return 1; /* unknown section: reported by the reader at its header */
}

/* Validates a section header the moment it is read (inih reports none). */
static void section_header(struct parse *ps, const char *s)
{
    size_t len = strcspn(s, "]");
    if (!s[len])
        return; /* inih reports the syntax error */
    char name[64];
    tb_copy_str(name, len + 1 < sizeof name ? len + 1 : sizeof name, s);
    /* [profile] and [slo] come once: a second one would be merged silently */
    int *first = !strcmp(name, "profile") ? &ps->profile_line
                 : !strcmp(name, "slo")   ? &ps->slo_line
                                          : NULL;
    if (first && *first) {
        fail(ps, TB_EFORMAT, ps->line, "duplicate section [%s] (first on line %d)", name, *first);
        return;
    }
    if (first) {
        *first = ps->line;
        return;
    }
    if (!strncmp(name, "workload.", 9)) {
        int kind = workload_from_name(name + 9);
        if (kind < 0) {
            fail(ps, TB_EFORMAT, ps->line,
                 "unknown workload '%s' (llm-prefill, llm-decode, llm-generate, embed)", name + 9);
            return;
        }
        int idx;
        struct tb_profile *p = ps->p;
        if (workload_for(ps, kind, &idx)) {
            fail(ps, TB_EFORMAT, ps->line, "duplicate section [%s] (first on line %d)", name,
                 p->workloads[idx].line);
            return;
        }
        if (p->n_workloads == TB_PROFILE_MAX_WORKLOADS) {
            fail(ps, TB_EFORMAT, ps->line, "too many workloads");
            return;
        }
        struct tb_profile_workload *w = &p->workloads[p->n_workloads++];
        w->kind = kind;
        w->line = ps->line;
        w->weight_type = -1;
        w->n_predict = -1; /* "not given": defaults are kind-specific */
        return;
    }
    fail(ps, TB_EFORMAT, ps->line, "unknown section [%s] (profile, workload.NAME, slo)", name);
}

/* fgets-style reader for ini_parse_stream: counts lines, rejects what inih
 * would silently reinterpret (over-long lines are split, indented lines are
 * joined to the previous value, a NUL byte ends a C string early) and
 * checks section headers. Lines come from tb_lines, so even a huge one
 * costs at most the line cap. */
static char *reader(char *str, int num, void *stream)
{
    struct parse *ps = stream;
    char *buf;
    size_t len;
    struct tb_err le = {0};
    const int rc = tb_lines_next(&ps->lines, &buf, &len, &le);
    if (rc < 0 && !ps->err_line) {
        ps->err_line = ps->line + 1;
        tb_err_set(ps->err, rc, "%s", le.msg);
    }
    if (rc != 1)
        return NULL;
    ps->line++;
    const size_t full = len + !ps->lines.torn; /* with its '\n' */
    const char *nul = memchr(buf, '\0', len);
    if (nul)
        fail(ps, TB_EFORMAT, ps->line,
             "NUL byte at offset %llu (column %zu): a value would end there; remove it",
             (unsigned long long)(ps->lines.offset + (uint64_t)(nul - buf)),
             (size_t)(nul - buf) + 1);
    else if (full > (size_t)num - 1)
        fail(ps, TB_EFORMAT, ps->line, "line longer than %d characters", num - 2);
    size_t n = full < (size_t)num - 1 ? full : (size_t)num - 1;
    if (!ps->lines.torn)
        buf[len] = '\n'; /* inih strips it */
    memcpy(str, buf, n);
    str[n] = '\0';
    buf[len] = '\0';
    const char *s = buf;
    if (ps->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3; /* UTF-8 BOM, which inih skips too */
    const char *t = s;
    while (*t == ' ' || *t == '\t')
        t++;
    bool content = *t && *t != '\n' && *t != '\r' && *t != ';' && *t != '#';
    if (content && t != s)
        fail(ps, TB_EFORMAT, ps->line,
             "indented line (inih would join it to the previous "
             "value); remove the indentation");
    else if (content && *t == '[')
        section_header(ps, t + 1);
    return str;
}

/* ------------------------------------------------------------ cross-checks */

static bool has_accelerator(const struct tb_profile *p)
{
    for (int i = 0; i < p->n_backends; i++)
        if (strcmp(p->backends[i], "cpu") && strcmp(p->backends[i], "cpu-ref"))
            return true;
    return false;
}

/* A default prompt length that fits the synth shape's context (1 token
 * left for the first generated one). */
static int tb_clamp_prompt(const char *shape, int v)
{
    const struct tb_synth_shape *sh = tb_synth_find(shape);
    if (sh && v > sh->config.ctx_len - 1)
        return sh->config.ctx_len - 1;
    return v;
}

static void check_workload(struct parse *ps, int idx)
{
    struct tb_profile *p = ps->p;
    struct tb_profile_workload *w = &p->workloads[idx];
    const char *wn = tb_workload_kind_name(w->kind);
    if (w->kind == TB_WL_LLM_PREFILL && !ps->wl_key_line[idx][W_PROMPT]) {
        /* the default sweep; synth models clamp it to their context below */
        static const int k_default[] = {16, 128, 512};
        w->n_prompts = 0;
        for (int i = 0; i < 3; i++) {
            const int v = w->synth ? tb_clamp_prompt(w->shape, k_default[i]) : k_default[i];
            if (!w->n_prompts || w->prompts[w->n_prompts - 1] != v)
                w->prompts[w->n_prompts++] = v;
        }
        w->prompt = w->prompts[w->n_prompts - 1];
        ps->wl_key_line[idx][W_PROMPT] = w->line;
    }
    for (int k = 0; k < W_COUNT; k++)
        if (k != W_N_PREDICT && !ps->wl_key_line[idx][k]) {
            fail(ps, TB_EFORMAT, w->line, "[workload.%s] lacks '%s'", wn, k_workload_keys[k]);
            return;
        }
    bool decodes = w->kind == TB_WL_LLM_DECODE || w->kind == TB_WL_LLM_GENERATE;
    if (w->n_predict < 0)
        w->n_predict = decodes ? 1 : 0;
    int np_line = ps->wl_key_line[idx][W_N_PREDICT] ? ps->wl_key_line[idx][W_N_PREDICT] : w->line;
    if (decodes && w->n_predict < 1) {
        fail(ps, TB_EINVAL, np_line, "%s needs n_predict >= 1", wn);
        return;
    }
    if (w->kind == TB_WL_EMBED && w->n_predict != 0) {
        fail(ps, TB_EINVAL, np_line, "embed generates no tokens: n_predict must be 0");
        return;
    }
    if (!w->synth)
        return;
    int model_line = ps->wl_key_line[idx][W_MODEL];
    bool allowed = false;
    for (int i = 0; i < p->n_weight_types; i++)
        allowed = allowed || p->weight_types[i] == w->weight_type;
    if (!allowed) {
        fail(ps, TB_EINVAL, model_line, "model %s: type %s is not in weight_types (line %d)",
             w->model, tb_type_name(w->weight_type), ps->key_line[K_WEIGHT_TYPES]);
        return;
    }
    const struct tb_synth_shape *sh = tb_synth_find(w->shape);
    int n_ctx = w->prompt + w->n_predict;
    if (n_ctx > sh->config.ctx_len) {
        fail(ps, TB_EINVAL, np_line, "prompt %d + n_predict %d exceeds %s's context of %d",
             w->prompt, w->n_predict, w->shape, sh->config.ctx_len);
        return;
    }
    /* sized as the run sizes it: its largest prompt, the KV type it uses */
    uint64_t wb = 0, kv_f32 = 0;
    int32_t n_prompt, n_gen;
    tb_profile_positions(w->kind, w->prompt, w->n_predict, sh->config.ctx_len, &n_prompt, &n_gen);
    struct tb_memory_need need;
    struct tb_err e = {0};
    if (tb_profile_synth_bytes(w->shape, w->weight_type, 0, &wb, &kv_f32, &e) ||
        tb_llama_memory_need(&sh->config, wb, (enum tb_type)ps->kv_type, n_prompt, n_prompt + n_gen,
                             &need, &e)) {
        fail(ps, TB_EINVAL, model_line, "model %s: %s", w->model, e.msg);
        return;
    }
    w->need_bytes = need.total;
    if (w->need_bytes > p->memory_budget) {
        char what[160], budget[32];
        tb_memory_need_format(&need, what, sizeof what);
        tb_format_bytes(p->memory_budget, budget, sizeof budget);
        fail(ps, TB_EBUDGET, model_line, "model %s needs %s > memory_budget %s (line %d)", w->model,
             what, budget, ps->key_line[K_MEMORY_BUDGET]);
    }
}

static bool has_prompt(const struct tb_profile_workload *w, int v)
{
    for (int i = 0; i < w->n_prompts; i++)
        if (w->prompts[i] == v)
            return true;
    return false;
}

static void check_slo(struct parse *ps, const struct tb_slo *s)
{
    const struct tb_profile *p = ps->p;
    if (!s->cond_key[0])
        return;
    for (int i = 0; i < p->n_workloads; i++) {
        const struct tb_profile_workload *w = &p->workloads[i];
        if ((!strcmp(s->cond_key, "workload") &&
             !strcmp(s->cond_value, tb_workload_kind_name(w->kind))) ||
            (!strcmp(s->cond_key, "prompt") && has_prompt(w, atoi(s->cond_value))) ||
            (!strcmp(s->cond_key, "n_predict") && atoi(s->cond_value) == w->n_predict))
            return;
    }
    fail(ps, TB_EINVAL, s->line, "SLO condition '@ %s %s' matches no workload of this profile",
         s->cond_key, s->cond_value);
}

static void check_profile(struct parse *ps)
{
    struct tb_profile *p = ps->p;
    if (!ps->profile_line) {
        fail(ps, TB_EFORMAT, 1, "missing [profile] section");
        return;
    }
    for (int k = 0; k < K_COUNT; k++)
        if (k_required[k] && !ps->key_line[k]) {
            fail(ps, TB_EFORMAT, ps->profile_line, "[profile] lacks required key '%s'",
                 k_profile_keys[k]);
            return;
        }
    if (p->cpuset[0] && p->binding == TB_BIND_NONE)
        fail(ps, TB_EINVAL, ps->key_line[K_CPUSET], "cpuset needs binding compact or spread");
    if (p->n_accel_op_classes && !has_accelerator(p))
        fail(ps, TB_EINVAL, ps->key_line[K_ACCEL],
             "accel_op_classes given but backends (line %d) lists no accelerator",
             ps->key_line[K_BACKENDS]);
    if (p->n_workloads == 0)
        fail(ps, TB_EFORMAT, ps->profile_line, "no [workload.NAME] section");
    for (int i = 0; i < p->n_workloads && !ps->err_line; i++)
        check_workload(ps, i);
    for (int i = 0; i < p->n_slos && !ps->err_line; i++)
        check_slo(ps, &p->slos[i]);
}

/* Parses the open stream f (closed here); path names it in errors and
 * anchors relative paths. */
static int load_stream(FILE *f, const char *path, int kv_type, struct tb_profile **out,
                       struct tb_err *err)
{
    struct parse ps = {.path = path, .err = err, .f = f, .kv_type = kv_type};
    struct tb_err local = {0};
    if (!ps.err)
        ps.err = &local;
    int rc = tb_lines_init(&ps.lines, f, path, 0, err);
    ps.p = rc ? NULL : calloc(1, sizeof *ps.p);
    if (!ps.p) {
        tb_lines_close(&ps.lines);
        fclose(ps.f);
        return rc ? rc : tb_err_set(err, TB_ENOMEM, "%s: out of memory", path);
    }
    struct tb_profile *p = ps.p;
    const char *slash = strrchr(path, '/');
    if (tb_path_join(p->path, sizeof p->path, err, "%s", path) ||
        (slash && tb_path_join(ps.dir, sizeof ps.dir, err, "%.*s", (int)(slash - path), path)))
        return tb_lines_close(&ps.lines), fclose(ps.f), free(p), TB_EINVAL; /* never cut */
    p->binding = TB_BIND_NONE;
    p->isa_cap = TB_ISA_COUNT;
    tb_copy_str(p->energy_source, sizeof p->energy_source, "auto");

    rc = ini_parse_stream(reader, &ps, handler, &ps);
    tb_lines_close(&ps.lines);
    fclose(ps.f);
    if (rc == -2)
        fail(&ps, TB_ENOMEM, ps.line, "out of memory");
    else if (rc > 0 && (!ps.err_line || rc < ps.err_line)) {
        ps.err_line = 0; /* an earlier syntax error wins */
        fail(&ps, TB_EFORMAT, rc,
             "expected 'key = value', '[section]' or a comment (SLOs use <= or >=)");
    }
    if (!ps.err_line)
        check_profile(&ps);
    if (ps.err_line) {
        free(p);
        return ps.err->code;
    }
    *out = p;
    return TB_OK;
}

int tb_profile_load(const char *path, struct tb_profile **out, struct tb_err *err)
{
    return tb_profile_load_kv(path, TB_TYPE_F32, out, err);
}

int tb_profile_load_kv(const char *path, int kv_type, struct tb_profile **out, struct tb_err *err)
{
    *out = NULL;
    if (kv_type != TB_TYPE_F32 && kv_type != TB_TYPE_F16)
        return tb_err_set(err, TB_EINVAL, "%s: KV cache type %s, expected f32 or f16", path,
                          tb_type_name(kv_type));
    FILE *f = tb_fopen_read(path, err); /* a FIFO or directory: an error, never a wait */
    if (!f)
        return err ? err->code : TB_EIO;
    return load_stream(f, path, kv_type, out, err);
}

int tb_profile_load_memory(const char *buf, size_t n, const char *label, struct tb_profile **out,
                           struct tb_err *err)
{
    *out = NULL;
    /* fmemopen refuses a zero size; an empty profile is parsed as one empty line */
    FILE *f = n ? fmemopen((void *)buf, n, "r") : fmemopen((void *)"", 1, "r");
    if (!f)
        return tb_err_set(err, TB_ENOMEM, "%s: %s", label, strerror(errno));
    return load_stream(f, label, TB_TYPE_F32, out, err);
}

void tb_profile_free(struct tb_profile *p)
{
    free(p);
}

const struct tb_profile_workload *tb_profile_workload(const struct tb_profile *p,
                                                      enum tb_workload_kind k)
{
    for (int i = 0; i < p->n_workloads; i++)
        if (p->workloads[i].kind == k)
            return &p->workloads[i];
    return NULL;
}

bool tb_slo_holds(const struct tb_slo *s, double value)
{
    return s->op == TB_SLO_LE ? value <= s->threshold : value >= s->threshold;
}

int tb_slo_format(const struct tb_slo *s, char *buf, size_t n)
{
    return snprintf(buf, n, "%s %s %g%s%s%s%s", s->metric,
                    s->op == TB_SLO_LE ? "<=" : ">=", s->threshold, s->cond_key[0] ? " @ " : "",
                    s->cond_key, s->cond_key[0] ? " " : "", s->cond_value);
}

/* tb_profile_print, tb_profile_dir_list and tb_profile_find: profile_dir.c */

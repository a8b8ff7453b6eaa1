/* Loading results sources and flattening them into metric series. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/tb_read.h"
#include "harness/tb_results.h"
#include "harness/tb_results_csv.h"
#include "kernels/tb_util.h"
#include "reports/tb_report.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

void tb_rsrc_free(struct tb_rsrc *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->root);
    free(s->data_path);
    json_decref(s->records);
    json_decref(s->manifest);
    memset(s, 0, sizeof *s);
}

/* Google Benchmark writes non-finite counters (e.g. the stddev aggregate of
 * an unavailable PAPI event) as bare NaN / inf / Infinity, which is not JSON:
 * outside strings, those tokens become null before parsing. */
static json_t *load_gbench(const char *path, json_error_t *je, struct tb_err *err)
{
    FILE *f = tb_fopen_read(path, err); /* a FIFO: an error, never a wait */
    if (!f)
        return NULL;
    /* one document under the line cap: jansson never gets a 1 GB input */
    size_t max;
    struct stat st;
    if (tb_max_line(&max, err) || fstat(fileno(f), &st) != 0) {
        fclose(f);
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        char cap[32];
        tb_format_line_cap(max, cap, sizeof cap);
        tb_err_set(err, TB_ERANGE, "%s: a JSON document larger than %s (%s)", path, cap,
                   TB_MAX_LINE_ENV);
        fclose(f);
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    int c, in_str = 0, esc = 0;
    static const char *const bad[] = {"-Infinity", "Infinity", "-NaN", "NaN",
                                      "-nan",      "nan",      "-inf", "inf"};
    char tok[16];
    FILE *out = open_memstream(&buf, &cap);
    if (!out) {
        fclose(f);
        return NULL;
    }
    while ((c = fgetc(f)) != EOF) {
        if (in_str) {
            fputc(c, out);
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            fputc(c, out);
            continue;
        }
        if (c != '-' && c != 'N' && c != 'n' && c != 'I' && c != 'i') {
            fputc(c, out);
            continue;
        }
        /* a word starting here: read it whole */
        n = 0;
        tok[n++] = (char)c;
        while ((c = fgetc(f)) != EOF && n < sizeof tok - 1 &&
               ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '+' || c == '-'))
            tok[n++] = (char)c;
        tok[n] = 0;
        int is_bad = 0;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            is_bad |= !strcmp(tok, bad[i]);
        fputs(is_bad ? "null" : tok, out);
        if (c != EOF)
            ungetc(c, f);
    }
    fclose(f);
    fclose(out);
    json_t *doc = buf ? json_loads(buf, 0, je) : NULL;
    free(buf);
    if (!doc)
        tb_err_set(err, TB_EFORMAT, "%s:%d: not valid JSON: %s", path, je->line, je->text);
    return doc;
}

/* "run-YYYYMMDD-HHMMSS[-N]" (harness/results.c makes them from the run's
 * UTC start time; -N for a second run in the same second): 1 and N (0 when
 * absent), else 0. */
static int run_name_seq(const char *name, long *seq)
{
    static const char pat[] = "run-########-######";
    if (strlen(name) < sizeof pat - 1)
        return 0;
    for (size_t i = 0; i < sizeof pat - 1; i++)
        if (pat[i] == '#' ? !(name[i] >= '0' && name[i] <= '9') : name[i] != pat[i])
            return 0;
    const char *rest = name + sizeof pat - 1;
    *seq = 0;
    if (!*rest)
        return 1;
    char *end;
    errno = 0;
    const long n =
        rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9' ? strtol(rest + 1, &end, 10) : -1;
    if (n < 0 || errno || *end)
        return 0;
    *seq = n;
    return 1;
}

/* > 0 when run directory name a is newer than b: by start time, then -N
 * as a number (run-...-10 after run-...-9); names of another form are
 * older than every run-YYYYMMDD-HHMMSS one, in byte order among themselves. */
static int run_name_cmp(const char *a, const char *b)
{
    long sa = 0, sb = 0;
    const int ka = run_name_seq(a, &sa), kb = run_name_seq(b, &sb);
    if (ka != kb)
        return ka - kb;
    if (!ka)
        return strcmp(a, b);
    const int t = strncmp(a, b, 19);
    return t ? t : (sa > sb) - (sa < sb);
}

static int has_results(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    return snprintf(p, sizeof p, "%s/%s/%s", dir, name, TB_RESULTS_JSONL) < (int)sizeof p &&
           stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int tb_rsrc_resolve(const char *path, struct tb_rsrc *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st))
        return tb_err_set(err, TB_EIO, "%s: no such results directory or file", path);
    char p[4096];
    const int is_run = !S_ISDIR(st.st_mode) ||
                       (snprintf(p, sizeof p, "%s/%s", path, TB_RESULTS_JSONL) < (int)sizeof p &&
                        stat(p, &st) == 0);
    if (is_run) {
        out->path = dup_str(path);
        return out->path ? TB_OK : tb_err_set(err, TB_ENOMEM, "%s: out of memory", path);
    }
    /* a `run --out` root: its newest run-* directory that holds results */
    DIR *d = opendir(path);
    if (!d)
        return tb_err_set(err, TB_EIO, "%s: cannot read the directory: %s", path, strerror(errno));
    char best[256] = "";
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "run-", 4) || strlen(e->d_name) >= sizeof best ||
            !has_results(path, e->d_name))
            continue;
        n++;
        if (!best[0] || run_name_cmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (!n)
        return tb_err_set(err, TB_EIO,
                          "%s: neither a results directory (no %s) nor a `run --out` root (no "
                          "run-* directory holding one)",
                          path, TB_RESULTS_JSONL);
    const size_t len = strlen(path);
    const int slash = len && path[len - 1] == '/';
    int rc = tb_path_join(p, sizeof p, err, "%s%s%s", path, slash ? "" : "/", best);
    if (rc)
        return rc;
    out->path = dup_str(p);
    out->root = dup_str(path);
    out->n_runs = n;
    if (!out->path || !out->root) {
        tb_rsrc_free(out);
        return tb_err_set(err, TB_ENOMEM, "%s: out of memory", path);
    }
    return TB_OK;
}

void tb_rsrc_say_taken(const struct tb_rsrc *s, FILE *f)
{
    if (s->root)
        fprintf(f, "taken: %s (newest of %zu run%s in %s)\n", s->path, s->n_runs,
                s->n_runs == 1 ? "" : "s", s->root);
}

int tb_rsrc_load(const char *given, int strict, struct tb_rsrc *out, struct tb_err *err)
{
    int rc = tb_rsrc_resolve(given, out, err);
    if (rc)
        return rc;
    /* the run directory a root resolved to; a copy, as the error messages
     * below name it after tb_rsrc_free(out) */
    char path[4096];
    if (snprintf(path, sizeof path, "%s", out->path) >= (int)sizeof path) {
        tb_rsrc_free(out);
        return tb_err_set(err, TB_EINVAL, "%.200s...: path too long", given);
    }
    struct stat st;
    if (stat(path, &st)) {
        tb_rsrc_free(out);
        return tb_err_set(err, TB_EIO, "%s: no such results directory or file", path);
    }
    size_t n = strlen(path) + 32;
    out->data_path = malloc(n);
    if (!out->data_path) {
        tb_rsrc_free(out);
        return tb_err_set(err, TB_ENOMEM, "%s: out of memory", path);
    }
    char manifest[4096] = "";
    rc = S_ISDIR(st.st_mode)
             ? tb_path_join(out->data_path, n, err, "%s/%s", path, TB_RESULTS_JSONL) ||
                   tb_path_join(manifest, sizeof manifest, err, "%s/%s", path, TB_RESULTS_MANIFEST)
             : tb_path_join(out->data_path, n, err, "%s", path);
    if (!rc)
        rc = tb_file_hash(out->data_path, out->hash, err);
    if (rc) {
        tb_rsrc_free(out);
        return rc;
    }
    if (!S_ISDIR(st.st_mode) && !ends_with(path, ".jsonl")) {
        /* a single JSON document: Google Benchmark output */
        json_error_t je;
        struct tb_err le = {0};
        json_t *doc = load_gbench(path, &je, &le);
        json_t *b = doc ? json_object_get(doc, "benchmarks") : NULL;
        if (!doc || !json_is_array(b)) {
            json_decref(doc);
            tb_rsrc_free(out);
            if (!doc)
                return tb_err_set(err, le.code ? le.code : TB_EFORMAT, "%s", le.msg);
            return tb_err_set(err, TB_EFORMAT,
                              "%s: neither a results directory/.jsonl nor Google Benchmark JSON "
                              "(no \"benchmarks\" array)",
                              path);
        }
        out->is_gbench = 1;
        out->records = json_incref(b);
        out->manifest = json_incref(json_object_get(doc, "context"));
        json_decref(doc);
        return TB_OK;
    }
    if (S_ISDIR(st.st_mode)) /* best effort: the JSONL is the record (read-only dirs) */
        (void)tb_results_reconcile(path, NULL, NULL);
    rc = tb_results_read(out->data_path, &out->records, &out->dropped, err);
    if (rc) {
        tb_rsrc_free(out);
        return rc;
    }
    if (strict && out->dropped) {
        tb_err_set(err, TB_EFORMAT,
                   "%s: truncated (the last line has no newline: a torn record); refusing it",
                   out->data_path);
        tb_rsrc_free(out);
        return TB_EFORMAT;
    }
    if (manifest[0]) {
        /* optional (a killed run may have none), but a FIFO or directory in
         * its place is an error, not a wait */
        struct tb_err me = {0};
        out->manifest = tb_json_load_path(manifest, 0, 0, &me);
        if (!out->manifest && errno != ENOENT && me.code == TB_EIO) {
            tb_err_set(err, TB_EIO, "%s", me.msg);
            tb_rsrc_free(out);
            return TB_EIO;
        }
    }
    return TB_OK;
}

int tb_rsrc_check_distinct(const struct tb_rsrc *srcs, size_t n, struct tb_err *err)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (json_array_size(srcs[i].records) && !strcmp(srcs[i].hash, srcs[j].hash))
                return tb_err_set(err, TB_EINVAL,
                                  "%s and %s hold the same results (%s): pooled, every record "
                                  "would count twice; give each source once",
                                  srcs[j].path, srcs[i].path, srcs[i].hash);
    return TB_OK;
}

static json_t *rsrc_env(const struct tb_rsrc *s)
{
    json_t *env = s->manifest ? json_object_get(s->manifest, "environment") : NULL;
    if (!env && s->records && json_array_size(s->records))
        env = json_object_get(json_array_get(s->records, 0), "environment");
    return env;
}

void tb_rsrc_machine(const struct tb_rsrc *s, char *buf, size_t n)
{
    json_t *env = rsrc_env(s);
    const char *cpu = json_string_value(json_object_get(json_object_get(env, "cpu"), "model"));
    const char *host = json_string_value(json_object_get(env, "hostname"));
    if (s->is_gbench && s->manifest) {
        host = json_string_value(json_object_get(s->manifest, "host_name"));
        cpu = NULL;
    }
    snprintf(buf, n, "%s (%s)", cpu ? cpu : "unknown CPU", host ? host : "unknown host");
}

void tb_rsrc_date(const struct tb_rsrc *s, char *buf, size_t n)
{
    json_t *env = rsrc_env(s);
    const char *d = json_string_value(json_object_get(env, "timestamp_utc"));
    if (s->is_gbench && s->manifest)
        d = json_string_value(json_object_get(s->manifest, "date"));
    snprintf(buf, n, "%s", d ? d : "unknown date");
}

/* ---- series */

int tb_metric_higher_better(const char *m)
{
    static const char *const hi[] = {"_tps",   "throughput",       "bytes_per_second",
                                     "top1",   "items_per_second", "flop_per_second",
                                     "gflops", "gbytes_per_s",     "op_per_second"};
    for (size_t i = 0; i < sizeof hi / sizeof hi[0]; i++)
        if (strstr(m, hi[i]))
            return 1;
    return 0;
}

struct tb_series *tb_series_find(const struct tb_series_set *set, const char *key,
                                 const char *metric)
{
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->s[i].key, key) && !strcmp(set->s[i].metric, metric))
            return &set->s[i];
    return NULL;
}

int tb_series_add(struct tb_series_set *set, const char *key, const char *metric, const char *unit,
                  enum tb_series_kind kind, const double *v, size_t n, struct tb_err *err)
{
    struct tb_series *s = tb_series_find(set, key, metric);
    if (!s) {
        if (set->n == set->cap) {
            size_t cap = set->cap ? 2 * set->cap : 16;
            struct tb_series *p = realloc(set->s, cap * sizeof *p);
            if (!p)
                return tb_err_set(err, TB_ENOMEM, "series: out of memory");
            set->s = p;
            set->cap = cap;
        }
        s = &set->s[set->n++];
        memset(s, 0, sizeof *s);
        snprintf(s->key, sizeof s->key, "%s", key);
        snprintf(s->metric, sizeof s->metric, "%s", metric);
        snprintf(s->unit, sizeof s->unit, "%s", unit ? unit : "");
        s->prompt = s->depth = -1;
        s->kind = kind;
    }
    if (s->n + n > s->cap) {
        size_t cap = s->cap ? s->cap : 8;
        while (cap < s->n + n)
            cap *= 2;
        double *p = realloc(s->v, cap * sizeof *p);
        if (!p)
            return tb_err_set(err, TB_ENOMEM, "series: out of memory");
        s->v = p;
        s->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            s->v[s->n++] = v[i];
    return TB_OK;
}

void tb_series_set_free(struct tb_series_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->s[i].v);
        free(set->s[i].text);
    }
    free(set->s);
    memset(set, 0, sizeof *set);
}

static const char *str_or(json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

/* What a series of record rec is: profile, workload, config key and the
 * label naming its prompt and depth (one reader: tb_rec_config_read). */
static void set_ident(struct tb_series *s, json_t *rec)
{
    snprintf(s->profile, sizeof s->profile, "%s", str_or(rec, "profile", ""));
    snprintf(s->workload, sizeof s->workload, "%s", str_or(rec, "workload", ""));
    snprintf(s->config, sizeof s->config, "%s", str_or(rec, "config", ""));
    struct tb_rec_config c;
    tb_rec_config_read(rec, &c);
    tb_rec_config_label(&c, s->label, sizeof s->label);
    s->prompt = c.prompt;
    s->depth = c.depth;
}

static int add_scalar(struct tb_series_set *set, const char *key, const char *metric,
                      const char *unit, enum tb_series_kind kind, json_t *num, json_t *rec,
                      struct tb_err *err)
{
    if (!json_is_number(num))
        return TB_OK;
    double v = json_number_value(num);
    int rc = tb_series_add(set, key, metric, unit, kind, &v, 1, err);
    struct tb_series *s = tb_series_find(set, key, metric);
    if (!rc && s && rec)
        set_ident(s, rec);
    return rc;
}

/* The placement fingerprint: backend, fallback and, when the record has a
 * coverage object (harness/tb_coverage.h), its verdict and the ops that ran
 * off the target tier with where they ran: {op: "backend/device_kind"}.
 * Compact + sorted, so equal placements give equal strings. */
static char *placement_text(json_t *rec)
{
    json_t *pl = json_object_get(rec, "placement");
    json_t *cov = json_object_get(rec, "coverage");
    if (!pl && !json_is_object(cov))
        return NULL;
    json_t *fp = json_object();
    if (!fp)
        return NULL;
    if (pl) {
        json_object_set(fp, "backend", json_object_get(pl, "backend"));
        json_object_set(fp, "fallback", json_object_get(pl, "fallback"));
    }
    if (json_is_object(cov)) {
        json_object_set(fp, "coverage_verdict", json_object_get(cov, "verdict"));
        json_t *off = json_object();
        size_t i;
        json_t *op;
        json_array_foreach(json_object_get(cov, "off_target"), i, op)
        {
            char where[160];
            snprintf(where, sizeof where, "%s/%s", str_or(op, "backend", "?"),
                     str_or(op, "device_kind", "?"));
            json_object_set_new(off, str_or(op, "op", "?"), json_string(where));
        }
        json_object_set_new(fp, "off_target", off);
    }
    char *t = json_dumps(fp, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(fp);
    return t;
}

/* A configuration that produced no result of its own under `run`'s
 * watchdog: an "outcome" series (text "STATUS: message") that compare gates
 * on, instead of silently missing figures. */
static int extract_outcome(json_t *rec, const char *key, const char *status,
                           struct tb_series_set *set, struct tb_err *err)
{
    int rc = tb_series_add(set, key, "outcome", "", TB_SERIES_PLACEMENT, NULL, 0, err);
    struct tb_series *s = rc ? NULL : tb_series_find(set, key, "outcome");
    if (s && !s->text) {
        char text[640];
        snprintf(text, sizeof text, "%s: %s", status, str_or(rec, "error", "no result"));
        s->text = strdup(text);
        if (!s->text)
            rc = tb_err_set(err, TB_ENOMEM, "series: out of memory");
        snprintf(s->profile, sizeof s->profile, "%s", str_or(rec, "profile", ""));
        snprintf(s->workload, sizeof s->workload, "%s", str_or(rec, "workload", ""));
        snprintf(s->config, sizeof s->config, "%s", str_or(rec, "config", ""));
    }
    return rc;
}

/* A scalar series read from field (of object obj, or of the source itself
 * when obj is NULL), in the order the tables list them. */
struct scalar_col {
    const char *obj, *field, *unit;
    enum tb_series_kind kind;
};
#define NSCALARS(t) (sizeof(t) / sizeof(t)[0])

static const struct scalar_col record_scalars[] = {
    {"derived", "gflops_per_s", "GFLOP/s", TB_SERIES_SCALAR},
    {"energy", "joules_per_token", "J/token", TB_SERIES_SCALAR},
    {"accuracy", "top1_agreement", "fraction", TB_SERIES_DETERMINISTIC},
    {"accuracy", "kl_mean", "nats", TB_SERIES_DETERMINISTIC},
    {"memory", "peak_rss_kib", "KiB", TB_SERIES_SCALAR},
};
static const struct scalar_col gbench_scalars[] = {
    {NULL, "bytes_per_second", "B/s", TB_SERIES_SAMPLES},
    {NULL, "flop_per_second", "FLOP/s", TB_SERIES_SAMPLES},
};

static int add_scalars(struct tb_series_set *set, const char *key, json_t *src,
                       const struct scalar_col *c, size_t n, json_t *rec, struct tb_err *err)
{
    int rc = TB_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *o = c[i].obj ? json_object_get(src, c[i].obj) : src;
        rc = add_scalar(set, key, c[i].field, c[i].unit, c[i].kind, json_object_get(o, c[i].field),
                        rec, err);
    }
    return rc;
}

static int extract_record(json_t *rec, struct tb_series_set *set, struct tb_err *err)
{
    const char *status = str_or(rec, "status", "ok");
    const char *workload = str_or(rec, "workload", "?");
    char key[256];
    snprintf(key, sizeof key, "%s/%s/%s", str_or(rec, "profile", "?"), workload,
             str_or(rec, "config", "?"));
    if (!strcmp(status, "TIMEOUT") || !strcmp(status, "CRASHED") ||
        !strcmp(status, "MODEL-CHANGED"))
        return extract_outcome(rec, key, status, set, err);
    if (strcmp(status, "ok") || !strcmp(workload, "qualification"))
        return TB_OK;
    int rc = TB_OK;
    json_t *samples = json_object_get(rec, "samples");
    const char *metric = json_string_value(json_object_get(rec, "metric"));
    if (metric && json_is_array(samples) && json_is_true(json_object_get(rec, "valid"))) {
        size_t n = json_array_size(samples);
        double *v = malloc((n ? n : 1) * sizeof *v);
        if (!v)
            return tb_err_set(err, TB_ENOMEM, "series: out of memory");
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (json_is_number(json_array_get(samples, i)))
                v[k++] = json_number_value(json_array_get(samples, i));
        rc = tb_series_add(set, key, metric, str_or(rec, "unit", ""), TB_SERIES_SAMPLES, v, k, err);
        free(v);
        struct tb_series *s = tb_series_find(set, key, metric);
        if (s)
            set_ident(s, rec);
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(rec, "derived"), k, v)
    {
        if (!rc && strstr(k, "_tps"))
            rc = add_scalar(set, key, k, "tokens/s", TB_SERIES_SCALAR, v, rec, err);
    }
    if (!rc)
        rc = add_scalars(set, key, rec, record_scalars, NSCALARS(record_scalars), rec, err);
    char *pt = rc ? NULL : placement_text(rec);
    if (pt) {
        rc = tb_series_add(set, key, "placement", "", TB_SERIES_PLACEMENT, NULL, 0, err);
        struct tb_series *s = tb_series_find(set, key, "placement");
        if (!rc && s && !s->text) {
            s->text = pt;
            pt = NULL;
        }
        free(pt);
    }
    return rc;
}

/* Google Benchmark: one series per run name and counter; repetitions are the
 * samples, aggregates (mean/median/stddev rows) are skipped. */
static int extract_gbench(json_t *b, struct tb_series_set *set, struct tb_err *err)
{
    if (strcmp(str_or(b, "run_type", "iteration"), "iteration") ||
        json_object_get(b, "error_occurred"))
        return TB_OK;
    const char *name = str_or(b, "run_name", str_or(b, "name", "?"));
    char unit[24];
    snprintf(unit, sizeof unit, "%s", str_or(b, "time_unit", "ns"));
    int rc = add_scalar(set, name, "real_time", unit, TB_SERIES_SAMPLES,
                        json_object_get(b, "real_time"), NULL, err);
    if (!rc)
        rc = add_scalars(set, name, b, gbench_scalars, NSCALARS(gbench_scalars), NULL, err);
    return rc;
}

int tb_series_extract(const struct tb_rsrc *src, struct tb_series_set *set, struct tb_err *err)
{
    size_t i;
    json_t *rec;
    json_array_foreach(src->records, i, rec)
    {
        int rc = src->is_gbench ? extract_gbench(rec, set, err) : extract_record(rec, set, err);
        if (rc)
            return tb_err_wrap(err, rc, "%s", src->path);
    }
    return TB_OK;
}

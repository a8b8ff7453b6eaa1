/* Energy meters: powercap sysfs, PAPI energy components, NVML (dlopen) and
 * external power traces behind one vtable. */
#include "harness/tb_energy.h"

#include <csv.h>
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "harness/tb_counters.h"
#include "harness/tb_read.h"
#include "kernels/tb_util.h"

#define REASON_MAX 480

struct tb_energy_meter {
    const struct tb_energy_ops *ops; /* NULL when disabled */
    void *ctx;
    char name[64];
    char disabled[REASON_MAX]; /* "" when the meter measures */
};

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double tb_energy_realtime_now(void)
{
    return clock_seconds(CLOCK_REALTIME);
}

/* Each source's opener: 0 with *ctx, or negative with the reason in err. */
typedef int (*source_open_fn)(const struct tb_energy_config *cfg, const char *arg, void **ctx,
                              struct tb_err *err);

/* ------------------------------------------------------------ powercap */

#define PC_MAX_ZONES 16

struct pc_zone {
    char dir[512];
    char name[64];
    uint64_t max_range, start;
};

struct pc_meter {
    struct pc_zone zone[PC_MAX_ZONES];
    int n;
    double t0;
    char label[128];
};

/* Reads one unsigned integer file. */
static int read_u64(const char *dir, const char *file, uint64_t *v, struct tb_err *err)
{
    char path[640];
    const int prc = tb_path_join(path, sizeof path, err, "%s/%s", dir, file);
    if (prc)
        return prc;
    FILE *f = fopen(path, "r");
    if (!f)
        return tb_err_set(err, TB_EIO, "%s: %s", path, strerror(errno));
    unsigned long long x;
    int ok = fscanf(f, "%llu", &x) == 1;
    fclose(f);
    if (!ok)
        return tb_err_set(err, TB_EFORMAT, "%s: not an unsigned integer", path);
    *v = x;
    return TB_OK;
}

static void read_name(const char *dir, char *name, size_t n)
{
    char path[640];
    FILE *f = tb_path_join(path, sizeof path, NULL, "%s/name", dir) ? NULL : fopen(path, "r");
    name[0] = '\0';
    if (f) {
        if (fgets(name, (int)n, f))
            name[strcspn(name, "\r\n")] = '\0';
        fclose(f);
    }
    if (!name[0])
        tb_copy_str(name, n, "zone");
}

/* Top-level RAPL zones only: "intel-rapl:N" (sub-zones have a second ':';
 * intel-rapl-mmio duplicates the package MSR counter). */
static int is_top_level_zone(const char *d)
{
    const char *pfx = "intel-rapl:";
    size_t n = strlen(pfx);
    if (strncmp(d, pfx, n) || !isdigit((unsigned char)d[n]))
        return 0;
    for (const char *p = d + n; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int powercap_open(const struct tb_energy_config *cfg, const char *arg, void **out,
                         struct tb_err *err)
{
    (void)arg;
    const char *root = cfg->powercap_root ? cfg->powercap_root : "/sys/class/powercap";
    DIR *d = opendir(root);
    if (!d)
        return tb_err_set(err, TB_EUNSUPPORTED, "%s: %s", root, strerror(errno));
    struct pc_meter *m = calloc(1, sizeof *m);
    char *names[PC_MAX_ZONES];
    int n = 0;
    struct dirent *e;
    while (m && (e = readdir(d)) && n < PC_MAX_ZONES)
        if (is_top_level_zone(e->d_name) && (names[n] = strdup(e->d_name)))
            n++;
    closedir(d);
    if (!m) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        return tb_err_set(err, TB_ENOMEM, "powercap: out of memory");
    }
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    int rc = TB_OK, psys = -1;
    for (int i = 0; i < n && rc == TB_OK; i++) {
        struct pc_zone *z = &m->zone[m->n++];
        rc = tb_path_join(z->dir, sizeof z->dir, err, "%s/%s", root, names[i]);
        if (rc)
            break;
        read_name(z->dir, z->name, sizeof z->name);
        /* probe now so permission problems (energy_uj is root-only since
         * Linux 5.10) disable the source instead of failing a run */
        rc = read_u64(z->dir, "max_energy_range_uj", &z->max_range, err);
        if (!rc)
            rc = read_u64(z->dir, "energy_uj", &z->start, err);
        if (!strcmp(z->name, "psys"))
            psys = m->n - 1;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (rc == TB_OK && m->n == 0)
        rc = tb_err_set(err, TB_EUNSUPPORTED, "%s: no intel-rapl:N zones", root);
    if (rc) {
        free(m);
        return rc;
    }
    if (psys >= 0) { /* the platform zone already contains the packages */
        m->zone[0] = m->zone[psys];
        m->n = 1;
    }
    size_t len = (size_t)snprintf(m->label, sizeof m->label, "powercap:");
    for (int i = 0; i < m->n && len < sizeof m->label; i++)
        len += (size_t)snprintf(m->label + len, sizeof m->label - len, "%s%s", i ? "+" : "",
                                m->zone[i].name);
    *out = m;
    return TB_OK;
}

static int powercap_start(void *ctx, struct tb_err *err)
{
    struct pc_meter *m = ctx;
    for (int i = 0; i < m->n; i++) {
        int rc = read_u64(m->zone[i].dir, "energy_uj", &m->zone[i].start, err);
        if (rc)
            return rc;
    }
    m->t0 = clock_seconds(CLOCK_MONOTONIC);
    return TB_OK;
}

static int powercap_stop(void *ctx, struct tb_energy_result *out, struct tb_err *err)
{
    struct pc_meter *m = ctx;
    uint64_t total_uj = 0;
    for (int i = 0; i < m->n; i++) {
        struct pc_zone *z = &m->zone[i];
        uint64_t now;
        int rc = read_u64(z->dir, "energy_uj", &now, err);
        if (rc)
            return rc;
        if (now >= z->start)
            total_uj += now - z->start;
        else if (z->start <= z->max_range) /* wrapped once */
            total_uj += z->max_range - z->start + now;
        else
            return tb_err_set(err, TB_ERANGE, "%s: energy_uj %llu above max_energy_range_uj %llu",
                              z->dir, (unsigned long long)z->start,
                              (unsigned long long)z->max_range);
    }
    out->joules = (double)total_uj * 1e-6;
    out->seconds = clock_seconds(CLOCK_MONOTONIC) - m->t0;
    tb_copy_str(out->source, sizeof out->source, m->label);
    return TB_OK;
}

static const struct tb_energy_ops k_powercap_ops = {"powercap", powercap_start, powercap_stop,
                                                    free};

/* ------------------------------------------------------------ PAPI */

#define PAPI_MAX_EVENTS 16

struct papi_meter {
    int eventset;
    int n;
    double scale[PAPI_MAX_EVENTS]; /* joules per count */
    double t0;
    char label[128];
};

static double unit_scale(const char *units)
{
    static const struct {
        const char *unit;
        double scale;
    } k[] = {{"nJ", 1e-9}, {"uJ", 1e-6}, {"mJ", 1e-3}, {"J", 1.0}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(units, k[i].unit))
            return k[i].scale;
    return 0;
}

/* Whole-package / whole-device energy events of a component. */
static int papi_wanted_event(const char *cmp, const char *sym)
{
    if (!strcmp(cmp, "rapl"))
        return strstr(sym, "PACKAGE_ENERGY:PACKAGE") && !strstr(sym, "_CNT");
    if (!strcmp(cmp, "powercap"))
        return strstr(sym, "ENERGY_UJ:ZONE") && !strstr(sym, "SUBZONE");
    for (const char *p = sym; *p; p++) /* nvml: "...:energy" style names */
        if (!strncasecmp(p, "energy", 6))
            return 1;
    return 0;
}

static void papi_meter_destroy(void *ctx)
{
    struct papi_meter *m = ctx;
    if (!m)
        return;
    if (m->eventset != PAPI_NULL) {
        PAPI_cleanup_eventset(m->eventset);
        PAPI_destroy_eventset(&m->eventset);
    }
    free(m);
}

/* Builds an event set from one component's energy events. */
static int papi_try_component(const char *cmp, struct papi_meter *m, char *why, size_t n)
{
    int cid = PAPI_get_component_index(cmp);
    if (cid < 0) {
        snprintf(why, n, "%s: not compiled into this PAPI", cmp);
        return -1;
    }
    const PAPI_component_info_t *ci = PAPI_get_component_info(cid);
    if (!ci || ci->disabled) {
        snprintf(why, n, "%s: disabled: %.100s", cmp, ci ? ci->disabled_reason : "no info");
        return -1;
    }
    m->eventset = PAPI_NULL;
    m->n = 0;
    int rc = PAPI_create_eventset(&m->eventset);
    if (rc == PAPI_OK)
        rc = PAPI_assign_eventset_component(m->eventset, cid);
    int code = PAPI_NATIVE_MASK;
    int more = rc == PAPI_OK && PAPI_enum_cmp_event(&code, PAPI_ENUM_FIRST, cid) == PAPI_OK;
    while (more && m->n < PAPI_MAX_EVENTS) {
        PAPI_event_info_t info;
        if (PAPI_get_event_info(code, &info) == PAPI_OK && papi_wanted_event(cmp, info.symbol)) {
            double s = unit_scale(info.units);
            if (s > 0 && PAPI_add_event(m->eventset, code) == PAPI_OK)
                m->scale[m->n++] = s;
        }
        more = PAPI_enum_cmp_event(&code, PAPI_ENUM_EVENTS, cid) == PAPI_OK;
    }
    if (m->n == 0) {
        snprintf(why, n, "%s: no usable energy events (%s)", cmp,
                 rc == PAPI_OK ? "none with J units" : PAPI_strerror(rc));
        if (m->eventset != PAPI_NULL) {
            PAPI_cleanup_eventset(m->eventset);
            PAPI_destroy_eventset(&m->eventset);
        }
        return -1;
    }
    snprintf(m->label, sizeof m->label, "papi:%s (%d events)", cmp, m->n);
    return 0;
}

static int papi_open(const struct tb_energy_config *cfg, const char *arg, void **out,
                     struct tb_err *err)
{
    (void)cfg;
    (void)arg;
    int rc = tb_papi_init(err);
    if (rc)
        return rc;
    struct papi_meter *m = calloc(1, sizeof *m);
    if (!m)
        return tb_err_set(err, TB_ENOMEM, "papi: out of memory");
    static const char *const k_cmps[] = {"rapl", "powercap", "nvml"};
    char why[3][160];
    for (int i = 0; i < 3; i++)
        if (papi_try_component(k_cmps[i], m, why[i], sizeof why[i]) == 0) {
            *out = m;
            return TB_OK;
        }
    free(m);
    return tb_err_set(err, TB_EUNSUPPORTED, "%s; %s; %s", why[0], why[1], why[2]);
}

static int papi_start(void *ctx, struct tb_err *err)
{
    struct papi_meter *m = ctx;
    int rc = PAPI_start(m->eventset);
    if (rc != PAPI_OK)
        return tb_err_set(err, TB_EBACKEND, "papi energy: PAPI_start: %s", PAPI_strerror(rc));
    m->t0 = clock_seconds(CLOCK_MONOTONIC);
    return TB_OK;
}

static int papi_stop(void *ctx, struct tb_energy_result *out, struct tb_err *err)
{
    struct papi_meter *m = ctx;
    long long v[PAPI_MAX_EVENTS] = {0};
    int rc = PAPI_stop(m->eventset, v);
    if (rc != PAPI_OK)
        return tb_err_set(err, TB_EBACKEND, "papi energy: PAPI_stop: %s", PAPI_strerror(rc));
    out->joules = 0;
    for (int i = 0; i < m->n; i++)
        out->joules += (double)v[i] * m->scale[i];
    out->seconds = clock_seconds(CLOCK_MONOTONIC) - m->t0;
    tb_copy_str(out->source, sizeof out->source, m->label);
    return TB_OK;
}

static const struct tb_energy_ops k_papi_ops = {"papi", papi_start, papi_stop, papi_meter_destroy};

/* ------------------------------------------------------------ NVML */

#define NVML_MAX_GPUS 16

typedef int (*nvml_void_fn)(void);
typedef int (*nvml_count_fn)(unsigned int *);
typedef int (*nvml_handle_fn)(unsigned int, void **);
typedef int (*nvml_energy_fn)(void *, unsigned long long *);
typedef const char *(*nvml_errstr_fn)(int);

struct nvml_meter {
    void *lib;
    nvml_void_fn shutdown;
    nvml_energy_fn energy;
    nvml_errstr_fn errstr;
    void *dev[NVML_MAX_GPUS];
    unsigned long long start[NVML_MAX_GPUS]; /* mJ */
    unsigned n;
    double t0;
};

static void nvml_meter_destroy(void *ctx)
{
    struct nvml_meter *m = ctx;
    if (!m)
        return;
    if (m->shutdown)
        m->shutdown();
    if (m->lib)
        dlclose(m->lib);
    free(m);
}

static const char *nvml_err(const struct nvml_meter *m, int code)
{
    const char *s = m->errstr ? m->errstr(code) : NULL;
    return s ? s : "unknown NVML error";
}

static int nvml_read_all(struct nvml_meter *m, unsigned long long *mj, struct tb_err *err)
{
    for (unsigned i = 0; i < m->n; i++) {
        int rc = m->energy(m->dev[i], &mj[i]);
        if (rc != 0)
            return tb_err_set(err, TB_EUNSUPPORTED,
                              "GPU %u: nvmlDeviceGetTotalEnergyConsumption: %s", i,
                              nvml_err(m, rc));
    }
    return TB_OK;
}

static int nvml_open(const struct tb_energy_config *cfg, const char *arg, void **out,
                     struct tb_err *err)
{
    (void)arg;
    const char *lib = cfg->nvml_library ? cfg->nvml_library : "libnvidia-ml.so.1";
    struct nvml_meter *m = calloc(1, sizeof *m);
    if (!m)
        return tb_err_set(err, TB_ENOMEM, "nvml: out of memory");
    m->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!m->lib) {
        const char *e = dlerror();
        free(m);
        return tb_err_set(err, TB_EUNSUPPORTED, "dlopen: %s", e ? e : lib);
    }
    nvml_void_fn init = (nvml_void_fn)dlsym(m->lib, "nvmlInit_v2");
    nvml_count_fn count = (nvml_count_fn)dlsym(m->lib, "nvmlDeviceGetCount_v2");
    nvml_handle_fn handle = (nvml_handle_fn)dlsym(m->lib, "nvmlDeviceGetHandleByIndex_v2");
    m->energy = (nvml_energy_fn)dlsym(m->lib, "nvmlDeviceGetTotalEnergyConsumption");
    m->errstr = (nvml_errstr_fn)dlsym(m->lib, "nvmlErrorString");
    nvml_void_fn shutdown = (nvml_void_fn)dlsym(m->lib, "nvmlShutdown");
    int rc;
    if (!init || !count || !handle || !m->energy || !shutdown) {
        rc = tb_err_set(err, TB_EUNSUPPORTED, "%s lacks the energy API (driver too old)", lib);
        goto fail;
    }
    if ((rc = init()) != 0) {
        rc = tb_err_set(err, TB_EUNSUPPORTED, "nvmlInit: %s", nvml_err(m, rc));
        goto fail;
    }
    m->shutdown = shutdown;
    if ((rc = count(&m->n)) != 0 || m->n == 0) {
        rc = tb_err_set(err, TB_EUNSUPPORTED, "no GPU (%s)", rc ? nvml_err(m, rc) : "count 0");
        goto fail;
    }
    if (m->n > NVML_MAX_GPUS)
        m->n = NVML_MAX_GPUS;
    for (unsigned i = 0; i < m->n; i++)
        if ((rc = handle(i, &m->dev[i])) != 0) {
            rc = tb_err_set(err, TB_EUNSUPPORTED, "GPU %u: %s", i, nvml_err(m, rc));
            goto fail;
        }
    if ((rc = nvml_read_all(m, m->start, err)) != 0) /* Volta+ only */
        goto fail;
    *out = m;
    return TB_OK;
fail:
    nvml_meter_destroy(m);
    return rc;
}

static int nvml_start(void *ctx, struct tb_err *err)
{
    struct nvml_meter *m = ctx;
    int rc = nvml_read_all(m, m->start, err);
    m->t0 = clock_seconds(CLOCK_MONOTONIC);
    return rc;
}

static int nvml_stop(void *ctx, struct tb_energy_result *out, struct tb_err *err)
{
    struct nvml_meter *m = ctx;
    unsigned long long now[NVML_MAX_GPUS];
    int rc = nvml_read_all(m, now, err);
    if (rc)
        return rc;
    unsigned long long mj = 0;
    for (unsigned i = 0; i < m->n; i++)
        mj += now[i] - m->start[i];
    out->joules = (double)mj * 1e-3;
    out->seconds = clock_seconds(CLOCK_MONOTONIC) - m->t0;
    snprintf(out->source, sizeof out->source, "nvml:%u GPU%s", m->n, m->n == 1 ? "" : "s");
    return TB_OK;
}

static const struct tb_energy_ops k_nvml_ops = {"nvml", nvml_start, nvml_stop, nvml_meter_destroy};

/* ------------------------------------------------------------ trace */

/* One trace line as libcsv splits it: up to two numeric fields. */
struct trace_row {
    int fields, rows;
    double v[2];
    int ok[2];     /* the field is a whole finite number (spaces around allowed) */
    int prefix[2]; /* the field starts with a number (a header's does not) */
};

static void trace_field(void *s, size_t len, void *data)
{
    struct trace_row *r = data;
    const int i = r->fields++;
    if (i >= 2)
        return;
    /* CSV_APPEND_NULL: s is NUL-terminated; a NUL inside was refused before */
    const char *text = s ? s : "";
    char *end;
    errno = 0;
    r->v[i] = strtod(text, &end);
    r->prefix[i] = end != text;
    while (isspace((unsigned char)*end))
        end++;
    r->ok[i] = end != text && (size_t)(end - text) == len && errno == 0 && isfinite(r->v[i]);
}

static void trace_row_end(int c, void *data)
{
    (void)c;
    ((struct trace_row *)data)->rows++;
}

/* Splits one line (a trailing '\r' of CRLF ends the row) with libcsv: 0, or
 * the libcsv error code (CSV_EPARSE: a stray or unterminated quote). */
static int trace_split(struct csv_parser *p, const char *line, size_t len, struct trace_row *r)
{
    memset(r, 0, sizeof *r);
    if (csv_parse(p, line, len, trace_field, trace_row_end, r) != len)
        return csv_error(p);
    return csv_fini(p, trace_field, trace_row_end, r) ? csv_error(p) : 0;
}

/* Adds the trapezoid of segment [pt, t] (power pw -> w) clipped to [t0, t1]. */
static double trace_segment(double pt, double pw, double t, double w, double t0, double t1)
{
    double a = t0 > pt ? t0 : pt, b = t1 < t ? t1 : t;
    if (!(a < b))
        return 0;
    /* fractions in [0, 1], not a slope: a steep segment over a tiny time step
     * must not overflow to inf (and inf * 0 to NaN) */
    double dt = t - pt;
    double pa = pw + (w - pw) * ((a - pt) / dt), pb = pw + (w - pw) * ((b - pt) / dt);
    return (0.5 * pa + 0.5 * pb) * (b - a);
}

/* Streams the CSV once: sum of the trapezoids of each segment clipped to
 * [t0, t1], power linear within a segment. Lines come whole under the line
 * cap (tb_lines); blank lines and '#' comments are skipped before libcsv
 * splits the fields, so a comment's quotes or commas never reach it; a
 * quoted field cannot span lines (a sample is one line). */
int tb_energy_trace_integrate(const char *path, double t0, double t1, double *joules,
                              struct tb_err *err)
{
    if (!(t1 >= t0))
        return tb_err_set(err, TB_EINVAL, "trace %s: window end %.6f before start %.6f", path, t1,
                          t0);
    struct csv_parser csv;
    if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return tb_err_set(err, TB_ENOMEM, "trace %s: out of memory", path);
    /* whole lines under the line cap: a fixed buffer would split a long
     * comment, an unbounded one would take a 1 GB line whole */
    struct tb_lines lr;
    int rc = tb_lines_open(&lr, path, 0, err);
    if (rc) {
        csv_free(&csv);
        return tb_err_wrap(err, rc, "trace");
    }
    int n_content = 0, have_prev = 0;
    double pt = 0, pw = 0, first = 0, sum = 0;
    char *line;
    size_t len;
    while ((rc = tb_lines_next(&lr, &line, &len, err)) == 1) {
        rc = TB_OK;
        const size_t lineno = lr.line_no;
        if (strlen(line) != len) {
            rc = tb_err_set(err, TB_EFORMAT, "%s:%zu: NUL byte in the line", path, lineno);
            break;
        }
        const char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        n_content++;
        struct trace_row r;
        const int crc = trace_split(&csv, line, len, &r);
        if (crc) {
            rc = tb_err_set(err, TB_EFORMAT, "%s:%zu: not CSV (%s), expected 'timestamp_s,watts'",
                            path, lineno, csv_strerror(crc));
            break;
        }
        if (n_content == 1 && r.fields >= 1 && !r.prefix[0])
            continue; /* header: the first line that is not blank or a comment */
        if (r.rows != 1 || r.fields != 2 || !r.ok[0] || !r.ok[1]) {
            rc = tb_err_set(err, TB_EFORMAT, "%s:%zu: expected 'timestamp_s,watts'", path, lineno);
            break;
        }
        const double t = r.v[0], w = r.v[1];
        if (w < 0) {
            rc = tb_err_set(err, TB_EFORMAT, "%s:%zu: negative power %g W", path, lineno, w);
            break;
        }
        if (have_prev && !(t > pt)) {
            rc = tb_err_set(err, TB_EFORMAT, "%s:%zu: timestamp %.6f not after %.6f", path, lineno,
                            t, pt);
            break;
        }
        if (!have_prev)
            first = t;
        else
            sum += trace_segment(pt, pw, t, w, t0, t1);
        have_prev = 1;
        pt = t;
        pw = w;
    }
    tb_lines_close(&lr);
    csv_free(&csv);
    if (rc)
        return rc;
    if (!have_prev)
        return tb_err_set(err, TB_EFORMAT, "trace %s: no samples", path);
    if (!isfinite(sum))
        return tb_err_set(err, TB_ERANGE, "trace %s: energy over the window overflows", path);
    if (t0 < first || t1 > pt)
        return tb_err_set(err, TB_ERANGE,
                          "trace %s covers [%.3f, %.3f], run window [%.3f, %.3f] is outside it",
                          path, first, pt, t0, t1);
    *joules = sum;
    return TB_OK;
}

struct trace_meter {
    char path[512];
    double t0;
};

static int trace_open(const struct tb_energy_config *cfg, const char *arg, void **out,
                      struct tb_err *err)
{
    (void)cfg;
    if (!arg || !*arg)
        return tb_err_set(err, TB_EINVAL, "trace: no file (use trace:FILE)");
    FILE *f = tb_fopen_read(arg, err); /* a FIFO: a reason, never a wait */
    if (!f) {
        if (err)
            err->code = TB_EUNSUPPORTED;
        return TB_EUNSUPPORTED;
    }
    fclose(f);
    struct trace_meter *m = calloc(1, sizeof *m);
    if (!m)
        return tb_err_set(err, TB_ENOMEM, "trace: out of memory");
    const int prc = tb_path_join(m->path, sizeof m->path, err, "%s", arg);
    if (prc) {
        free(m);
        return prc;
    }
    *out = m;
    return TB_OK;
}

static int trace_start(void *ctx, struct tb_err *err)
{
    (void)err;
    ((struct trace_meter *)ctx)->t0 = tb_energy_realtime_now();
    return TB_OK;
}

static int trace_stop(void *ctx, struct tb_energy_result *out, struct tb_err *err)
{
    struct trace_meter *m = ctx;
    double t1 = tb_energy_realtime_now();
    int rc = tb_energy_trace_integrate(m->path, m->t0, t1, &out->joules, err);
    if (rc)
        return rc;
    out->seconds = t1 - m->t0;
    snprintf(out->source, sizeof out->source, "trace:%.120s", m->path);
    return TB_OK;
}

static const struct tb_energy_ops k_trace_ops = {"trace", trace_start, trace_stop, free};

/* ------------------------------------------------------------ meter */

struct source {
    const char *name;
    const struct tb_energy_ops *ops;
    source_open_fn open;
};

static const struct source k_sources[] = {
    {"powercap", &k_powercap_ops, powercap_open},
    {"papi", &k_papi_ops, papi_open},
    {"nvml", &k_nvml_ops, nvml_open},
};
enum { N_AUTO_SOURCES = sizeof k_sources / sizeof k_sources[0] };

static const struct source k_trace_source = {"trace", &k_trace_ops, trace_open};

/* Opens one source into m; on failure appends "name: reason" to m->disabled. */
static int try_source(struct tb_energy_meter *m, const struct source *s,
                      const struct tb_energy_config *cfg, const char *arg)
{
    struct tb_err e = {0};
    int rc = s->open(cfg, arg, &m->ctx, &e);
    if (rc == TB_OK) {
        m->ops = s->ops;
        m->disabled[0] = '\0';
        tb_copy_str(m->name, sizeof m->name, s->name);
        return TB_OK;
    }
    size_t len = strlen(m->disabled);
    int room = (int)(sizeof m->disabled - len);
    snprintf(m->disabled + len, (size_t)room, "%s%s: %.*s", len ? "; " : "", s->name, room, e.msg);
    return rc;
}

int tb_energy_check_source(const char *src, struct tb_err *err)
{
    if (!src || !*src || !strcmp(src, "auto") || !strcmp(src, "none"))
        return TB_OK;
    if (!strncmp(src, "trace:", 6))
        return src[6] ? TB_OK : tb_err_set(err, TB_EINVAL, "trace: no file (use trace:FILE)");
    for (int i = 0; i < N_AUTO_SOURCES; i++)
        if (!strcmp(src, k_sources[i].name))
            return TB_OK;
    return tb_err_set(err, TB_EINVAL,
                      "energy source '%s' unknown (auto, powercap, papi, nvml, trace:FILE, none)",
                      src);
}

int tb_energy_open(const struct tb_energy_config *cfg, struct tb_energy_meter **out,
                   struct tb_err *err)
{
    *out = NULL;
    static const struct tb_energy_config k_default = {0};
    if (!cfg)
        cfg = &k_default;
    const char *src = cfg->source && *cfg->source ? cfg->source : "auto";
    struct tb_energy_meter *m = calloc(1, sizeof *m);
    if (!m)
        return tb_err_set(err, TB_ENOMEM, "energy: out of memory");
    tb_copy_str(m->name, sizeof m->name, src);
    int rc = TB_EUNSUPPORTED;
    if (!strcmp(src, "auto")) {
        for (int i = 0; i < N_AUTO_SOURCES && rc != TB_OK; i++)
            rc = try_source(m, &k_sources[i], cfg, NULL);
        if (rc != TB_OK) {
            char reasons[REASON_MAX];
            tb_copy_str(reasons, sizeof reasons, m->disabled);
            snprintf(m->disabled, sizeof m->disabled, "unavailable: %.*s",
                     (int)sizeof m->disabled - 14, reasons);
        }
    } else if (!strcmp(src, "none")) {
        tb_copy_str(m->disabled, sizeof m->disabled, "none: energy measurement switched off");
    } else if (!strncmp(src, "trace:", 6)) {
        try_source(m, &k_trace_source, cfg, src + 6);
    } else {
        int found = 0;
        for (int i = 0; i < N_AUTO_SOURCES; i++)
            if (!strcmp(src, k_sources[i].name)) {
                found = 1;
                try_source(m, &k_sources[i], cfg, NULL);
            }
        if (!found) {
            free(m);
            return tb_energy_check_source(src, err);
        }
    }
    *out = m;
    return TB_OK;
}

void tb_energy_free(struct tb_energy_meter *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m->ctx);
    free(m);
}

const char *tb_energy_name(const struct tb_energy_meter *m)
{
    return m->name;
}

const char *tb_energy_disabled_reason(const struct tb_energy_meter *m)
{
    return m->ops ? NULL : m->disabled;
}

int tb_energy_start(struct tb_energy_meter *m, struct tb_err *err)
{
    if (!m->ops)
        return tb_err_set(err, TB_EUNSUPPORTED, "energy %s: %s", m->name, m->disabled);
    return m->ops->start(m->ctx, err);
}

int tb_energy_stop(struct tb_energy_meter *m, struct tb_energy_result *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    if (!m->ops)
        return tb_err_set(err, TB_EUNSUPPORTED, "energy %s: %s", m->name, m->disabled);
    return m->ops->stop(m->ctx, out, err);
}

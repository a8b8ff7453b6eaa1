/* SQLite results store: ingest, history, release dashboard.
 *
 * Schema (PRAGMA user_version = TB_STORE_SCHEMA_VERSION), migrated from
 * whatever version the file has inside one BEGIN IMMEDIATE transaction:
 *   v1 runs(id, run_key UNIQUE, source, file_hash, release, git_commit,
 *           machine, run_date, added_at)
 *      series(id, run_id, key, profile, workload, config, metric, unit, kind,
 *             n, median, samples JSON, UNIQUE(run_id, key, metric))
 *   v2 series.placement: the placement/coverage fingerprint (coverage
 *      changes between releases on the dashboard)
 * run_key is the hash of the run's first record line (unique per run: it
 * holds a timestamp and raw samples), so ingesting a run again, or a run that
 * was appended to since, adds only what is new. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "harness/tb_read.h"
#include "harness/tb_results.h"
#include "reports/tb_report.h"

struct tb_store {
    sqlite3 *db;
    char *path;
};

static const char *const k_migrations[TB_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, source TEXT,"
    " file_hash TEXT, release TEXT NOT NULL, git_commit TEXT, machine TEXT, run_date TEXT,"
    " added_at TEXT NOT NULL);"
    "CREATE TABLE series(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),"
    " key TEXT NOT NULL, profile TEXT, workload TEXT, config TEXT, metric TEXT NOT NULL,"
    " unit TEXT, kind INTEGER NOT NULL, n INTEGER NOT NULL, median REAL, samples TEXT NOT NULL,"
    " UNIQUE(run_id, key, metric));"
    "CREATE INDEX series_metric ON series(metric, profile);",
    /* 1 -> 2 */
    "ALTER TABLE series ADD COLUMN placement TEXT;",
};

static int db_err(struct tb_store *st, struct tb_err *err, const char *what)
{
    return tb_err_set(err, TB_EIO, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

static int exec(struct tb_store *st, const char *sql, struct tb_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tb_err_set(err, TB_EIO, "%s: %s", st->path, msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return TB_EIO;
    }
    return TB_OK;
}

int tb_store_schema_version(struct tb_store *st)
{
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int check_version(struct tb_store *st, int v, struct tb_err *err)
{
    if (v < 0)
        return tb_err_set(err, TB_EFORMAT, "%s: not an SQLite database (or unreadable): %s",
                          st->path, sqlite3_errmsg(st->db));
    if (v > TB_STORE_SCHEMA_VERSION)
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "%s: schema version %d is newer than this tierbench (%d)", st->path, v,
                          TB_STORE_SCHEMA_VERSION);
    return TB_OK;
}

/* Brings the schema to TB_STORE_SCHEMA_VERSION. The version is read again
 * inside the one BEGIN IMMEDIATE transaction that runs every missing step:
 * of two processes opening a fresh database at once, the second waits for
 * the first's commit (busy timeout) and then finds nothing to do (reading it
 * outside let both run the same steps: "table runs already exists"). A
 * current database is only read, so read-only stores still open. */
static int migrate(struct tb_store *st, struct tb_err *err)
{
    int v = tb_store_schema_version(st);
    int rc = check_version(st, v, err);
    if (rc || v == TB_STORE_SCHEMA_VERSION)
        return rc;
    if ((rc = exec(st, "BEGIN IMMEDIATE;", err)))
        return tb_err_wrap(err, rc, "migrating the schema");
    v = tb_store_schema_version(st);
    rc = check_version(st, v, err);
    const int from = v;
    for (; !rc && v < TB_STORE_SCHEMA_VERSION; v++)
        if ((rc = exec(st, k_migrations[v], err)))
            tb_err_wrap(err, rc, "migrating to schema %d", v + 1);
    if (!rc && from < TB_STORE_SCHEMA_VERSION) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;", TB_STORE_SCHEMA_VERSION);
        rc = exec(st, pragma, err);
    }
    if (!rc)
        rc = exec(st, "COMMIT;", err);
    if (rc)
        sqlite3_exec(st->db, "ROLLBACK;", NULL, NULL, NULL);
    return rc;
}

int tb_store_open(const char *path, struct tb_store **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return tb_err_set(err, TB_ENOMEM, "store: out of memory");
    }
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        int rc = db_err(st, err, "cannot open");
        tb_store_close(st);
        return rc;
    }
    /* concurrent `store add`s wait for each other (migration, inserts) */
    sqlite3_busy_timeout(st->db, 30000);
    int rc = exec(st, "PRAGMA foreign_keys = ON;", err);
    if (!rc)
        rc = migrate(st, err);
    if (rc) {
        tb_store_close(st);
        return rc;
    }
    *out = st;
    return TB_OK;
}

void tb_store_close(struct tb_store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st->path);
    free(st);
}

long tb_store_count(struct tb_store *st)
{
    sqlite3_stmt *s = NULL;
    long n = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM series", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* Hash of the first line of the data file (see the header comment). */
static int run_key(const struct tb_rsrc *src, char *out, size_t n, struct tb_err *err)
{
    if (src->is_gbench) {
        snprintf(out, n, "%s", src->hash);
        return TB_OK;
    }
    FILE *f = tb_fopen_read(src->data_path, err); /* never waits on a FIFO */
    if (!f)
        return TB_EIO;
    uint64_t h = TB_FNV1A64_INIT;
    int c;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        unsigned char b = (unsigned char)c;
        h = tb_fnv1a64(&b, 1, h);
    }
    fclose(f);
    snprintf(out, n, "fnv1a64:%016llx", (unsigned long long)h);
    return TB_OK;
}

static const char *env_str(const struct tb_rsrc *src, const char *obj, const char *field)
{
    json_t *env = src->manifest ? json_object_get(src->manifest, "environment") : NULL;
    if (!env && json_array_size(src->records))
        env = json_object_get(json_array_get(src->records, 0), "environment");
    return json_string_value(json_object_get(json_object_get(env, obj), field));
}

static char *samples_json(const struct tb_series *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->n; i++)
        json_array_append_new(a, json_real(s->v[i]));
    char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return t;
}

static int insert_all(struct tb_store *st, const struct tb_rsrc *src, const char *release,
                      const struct tb_series_set *set, size_t *added, struct tb_err *err)
{
    char key[64], machine[300], date[64], now[32];
    int rc = run_key(src, key, sizeof key, err);
    if (rc)
        return rc;
    tb_rsrc_machine(src, machine, sizeof machine);
    tb_rsrc_date(src, date, sizeof date);
    tb_utc_timestamp(now, sizeof now);
    const char *commit = env_str(src, "tierbench", "source_git_commit");
    if (!commit)
        commit = env_str(src, "tierbench", "git_commit_configured");
    if (!release)
        release = commit ? commit : "unknown";
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR IGNORE INTO runs(run_key, source, file_hash, release, "
                           "git_commit, machine, run_date, added_at) VALUES(?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "prepare");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, src->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, src->hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, release, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, commit ? commit : "unknown", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, machine, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 7, date, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, now, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    if (step != SQLITE_DONE)
        return db_err(st, err, "insert run");
    sqlite3_int64 run_id = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT id FROM runs WHERE run_key = ?", -1, &s, NULL) !=
        SQLITE_OK)
        return db_err(st, err, "prepare");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW)
        run_id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (run_id < 0)
        return db_err(st, err, "run id");
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR IGNORE INTO series(run_id, key, profile, workload, config, "
                           "metric, unit, kind, n, median, samples, placement) "
                           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "prepare");
    for (size_t i = 0; i < set->n && !rc; i++) {
        const struct tb_series *x = &set->s[i];
        char *js = samples_json(x);
        if (!js) {
            rc = tb_err_set(err, TB_ENOMEM, "store: out of memory");
            break;
        }
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, run_id);
        sqlite3_bind_text(s, 2, x->key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, x->profile, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, x->workload, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 5, x->config, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 6, x->metric, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 7, x->unit, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 8, (int)x->kind);
        sqlite3_bind_int64(s, 9, (sqlite3_int64)x->n);
        double m = tb_median(x->v, x->n);
        if (isfinite(m))
            sqlite3_bind_double(s, 10, m);
        else
            sqlite3_bind_null(s, 10);
        sqlite3_bind_text(s, 11, js, -1, SQLITE_TRANSIENT);
        if (x->text)
            sqlite3_bind_text(s, 12, x->text, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, 12);
        free(js);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = db_err(st, err, "insert series");
        else
            *added += (size_t)sqlite3_changes(st->db);
    }
    sqlite3_finalize(s);
    return rc;
}

int tb_store_add(struct tb_store *st, const char *path, const char *release, size_t *added,
                 struct tb_err *err)
{
    *added = 0;
    struct tb_rsrc src;
    /* everything is read and checked before the database is touched */
    int rc = tb_rsrc_load(path, 1, &src, err);
    if (rc)
        return rc;
    struct tb_series_set set = {0};
    rc = tb_series_extract(&src, &set, err);
    if (!rc && !set.n)
        rc = tb_err_set(err, TB_EFORMAT, "%s: no measurements to store", path);
    if (!rc)
        rc = exec(st, "BEGIN IMMEDIATE;", err);
    if (!rc) {
        rc = insert_all(st, &src, release, &set, added, err);
        if (!rc)
            rc = exec(st, "COMMIT;", err);
        if (rc) {
            sqlite3_exec(st->db, "ROLLBACK;", NULL, NULL, NULL);
            *added = 0;
        }
    }
    tb_series_set_free(&set);
    tb_rsrc_free(&src);
    return rc;
}

static const char *col(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? t : "";
}

int tb_store_history(struct tb_store *st, const char *metric, const char *profile, FILE *out,
                     struct tb_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT r.release, r.machine, s.profile, s.workload, s.config, s.metric,"
                           " s.unit, s.median, s.n FROM series s JOIN runs r ON r.id = s.run_id"
                           " WHERE s.kind != ?3 AND (?1 IS NULL OR s.metric = ?1)"
                           " AND (?2 IS NULL OR s.profile = ?2)"
                           " ORDER BY s.profile, s.workload, s.config, s.metric, r.id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "history");
    if (metric)
        sqlite3_bind_text(s, 1, metric, -1, SQLITE_TRANSIENT);
    if (profile)
        sqlite3_bind_text(s, 2, profile, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, TB_SERIES_PLACEMENT);
    fprintf(out, "%-14s %-14s %-14s %-40s %-18s %14s %-9s %6s  %s\n", "release", "profile",
            "workload", "config", "metric", "median", "unit", "n", "machine");
    int rows = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        char med[32] = "-";
        if (sqlite3_column_type(s, 7) != SQLITE_NULL)
            snprintf(med, sizeof med, "%.6g", sqlite3_column_double(s, 7));
        fprintf(out, "%-14.14s %-14s %-14s %-40s %-18s %14s %-9s %6d  %s\n", col(s, 0), col(s, 2),
                col(s, 3), col(s, 4), col(s, 5), med, col(s, 6), sqlite3_column_int(s, 8),
                col(s, 1));
        rows++;
    }
    sqlite3_finalize(s);
    if (step != SQLITE_DONE)
        return db_err(st, err, "history");
    if (!rows)
        fprintf(out, "(no stored results%s%s%s%s)\n", metric ? " for metric " : "",
                metric ? metric : "", profile ? " in profile " : "", profile ? profile : "");
    return TB_OK;
}

/* ---- dashboard */

struct rel {
    char name[128];
};

static int load_releases(struct tb_store *st, struct rel **out, size_t *n, struct tb_err *err)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT release FROM runs GROUP BY release ORDER BY min(id)", -1,
                           &s, NULL) != SQLITE_OK)
        return db_err(st, err, "releases");
    size_t cap = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            struct rel *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                sqlite3_finalize(s);
                return tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
            }
            *out = p;
        }
        snprintf((*out)[(*n)++].name, sizeof(*out)[0].name, "%s", col(s, 0));
    }
    sqlite3_finalize(s);
    return TB_OK;
}

/* Every stored series of one release, pooled by (key, metric). */
static int release_set(struct tb_store *st, const char *release, struct tb_series_set *set,
                       struct tb_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT s.key, s.metric, s.unit, s.kind, s.samples, s.placement,"
                           " s.profile, s.workload FROM series s JOIN runs r ON r.id = s.run_id"
                           " WHERE r.release = ? ORDER BY s.id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_err(st, err, "dashboard");
    sqlite3_bind_text(s, 1, release, -1, SQLITE_TRANSIENT);
    int rc = TB_OK;
    while (!rc && sqlite3_step(s) == SQLITE_ROW) {
        json_t *a = json_loads(col(s, 4), 0, NULL);
        size_t n = json_array_size(a);
        double *v = malloc((n ? n : 1) * sizeof *v);
        if (!v) {
            json_decref(a);
            rc = tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
            break;
        }
        for (size_t i = 0; i < n; i++)
            v[i] = json_number_value(json_array_get(a, i));
        json_decref(a);
        rc = tb_series_add(set, col(s, 0), col(s, 1), col(s, 2),
                           (enum tb_series_kind)sqlite3_column_int(s, 3), v, n, err);
        free(v);
        struct tb_series *x = rc ? NULL : tb_series_find(set, col(s, 0), col(s, 1));
        if (x) {
            snprintf(x->profile, sizeof x->profile, "%s", col(s, 6));
            snprintf(x->workload, sizeof x->workload, "%s", col(s, 7));
            if (!x->text && sqlite3_column_type(s, 5) != SQLITE_NULL)
                x->text = strdup(col(s, 5));
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* One trend chart per profile and unit group (latency ms / tokens/s):
 * x = release (in ingest order), one line per workload+metric. */
static void trend_chart(struct tb_doc *d, struct tb_series_set *sets, const struct rel *rels,
                        size_t nr, const char *profile, size_t pidx, int tps)
{
    const struct tb_series *pick[32];
    size_t nl = 0;
    for (size_t r = 0; r < nr; r++)
        for (size_t i = 0; i < sets[r].n && nl < 32; i++) {
            const struct tb_series *x = &sets[r].s[i];
            int is_tps = strstr(x->metric, "_tps") != NULL;
            int is_ms = x->kind == TB_SERIES_SAMPLES && !strcmp(x->unit, "ms");
            if (strcmp(x->profile, profile) || (tps ? !is_tps : !is_ms))
                continue;
            size_t k = 0;
            while (k < nl &&
                   !(strcmp(pick[k]->key, x->key) == 0 && strcmp(pick[k]->metric, x->metric) == 0))
                k++;
            if (k == nl) {
                pick[nl++] = x;
            }
        }
    if (!nl)
        return;
    char name[64];
    snprintf(name, sizeof name, "trend_%zu_%s", pidx, tps ? "tps" : "latency");
    FILE *c = tb_doc_csv(d, name, "release_index,release"); /* + a column per series */
    if (!c)
        return;
    for (size_t k = 0; k < nl; k++) {
        char lab[200];
        snprintf(lab, sizeof lab, "%s %s", pick[k]->workload, pick[k]->metric);
        fputc(',', c);
        tb_csv_str(c, lab);
    }
    fputc('\n', c);
    for (size_t r = 0; r < nr; r++) {
        fprintf(c, "%zu,", r + 1);
        tb_csv_str(c, rels[r].name);
        for (size_t k = 0; k < nl; k++) {
            const struct tb_series *x = tb_series_find(&sets[r], pick[k]->key, pick[k]->metric);
            double m = x ? tb_median(x->v, x->n) : NAN;
            if (isfinite(m))
                fprintf(c, ",%.9g", m);
            else
                fputs(",NaN", c);
        }
        fputc('\n', c);
    }
    fclose(c);
    char *rl[256];
    size_t nrl = nr < 256 ? nr : 256;
    for (size_t r = 0; r < nrl; r++)
        rl[r] = (char *)rels[r].name;
    char *body = NULL;
    size_t blen = 0;
    FILE *b = open_memstream(&body, &blen);
    if (!b)
        return;
    fprintf(b,
            "set key outside right autotitle columnhead\nset logscale y\nset ylabel '%s'\n"
            "set xlabel 'release (ingest order)'\nset bmargin 6\n",
            tps ? "tokens/s (log scale; higher is better)"
                : "median latency (ms, log; lower is better)");
    tb_gnuplot_xtics(b, rl, nrl);
    fprintf(b, "plot for [i=3:%zu] DATA using 1:i with linespoints pt 7\n", nl + 2);
    fclose(b);
    char title[200];
    snprintf(title, sizeof title, "Profile %s: %s across releases", profile,
             tps ? "tokens/s" : "median latency (ms)");
    tb_doc_chart(d, name, title, body);
    free(body);
}

/* A number, or "-" when it is undefined (no test ran, nothing to compare). */
static void fmt(char *buf, size_t n, const char *f, double v)
{
    if (isfinite(v))
        snprintf(buf, n, f, v);
    else
        snprintf(buf, n, "-");
}

int tb_store_dashboard(struct tb_store *st, const char *out_dir, const struct tb_cmp_opts *o,
                       FILE *log, struct tb_err *err)
{
    struct rel *rels = NULL;
    size_t nr = 0;
    int rc = load_releases(st, &rels, &nr, err);
    if (rc)
        return rc;
    if (!nr) {
        free(rels);
        return tb_err_set(err, TB_EINVAL, "%s: the store is empty (tierbench store add first)",
                          st->path);
    }
    struct tb_series_set *sets = calloc(nr, sizeof *sets);
    if (!sets) {
        free(rels);
        return tb_err_set(err, TB_ENOMEM, "dashboard: out of memory");
    }
    for (size_t r = 0; r < nr && !rc; r++)
        rc = release_set(st, rels[r].name, &sets[r], err);
    struct tb_doc d;
    if (!rc)
        rc = tb_doc_open(&d, out_dir, "tierbench release dashboard", log, 0, err);
    if (!rc) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(st->db, "SELECT machine, max(run_date) FROM runs", -1, &s, NULL) ==
                SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            snprintf(d.machine, sizeof d.machine, "%s", col(s, 0));
            snprintf(d.date, sizeof d.date, "%s", col(s, 1));
        }
        sqlite3_finalize(s);
        char intro[600];
        snprintf(intro, sizeof intro, "%zu release(s), latest %s. Store: %s.", nr,
                 rels[nr - 1].name, st->path);
        tb_doc_text(&d, "", "p", intro);
        if (!d.gp_ok)
            tb_doc_note(&d, d.gp_msg);
        tb_doc_text(&d, "## ", "h2", "Trends per profile");
        char profiles[64][64];
        size_t np = 0;
        for (size_t r = 0; r < nr; r++)
            for (size_t i = 0; i < sets[r].n; i++) {
                size_t k = 0;
                while (k < np && strcmp(profiles[k], sets[r].s[i].profile))
                    k++;
                if (k == np && np < 64 && sets[r].s[i].profile[0])
                    snprintf(profiles[np++], sizeof profiles[0], "%s", sets[r].s[i].profile);
            }
        for (size_t p = 0; p < np; p++) {
            tb_doc_text(&d, "### ", "h3", profiles[p]);
            trend_chart(&d, sets, rels, nr, profiles[p], p, 0);
            trend_chart(&d, sets, rels, nr, profiles[p], p, 1);
        }
        tb_doc_text(&d, "## ", "h2", "Latest release vs previous");
        if (nr < 2) {
            tb_doc_note(&d, "Only one release stored: nothing to compare yet.");
        } else {
            struct tb_cmp_result cr;
            rc = tb_compare_sets(&sets[nr - 2], &sets[nr - 1], o, &cr, err);
            if (!rc) {
                char h[600];
                snprintf(h, sizeof h,
                         "%s -> %s: %zu regression, %zu improvement, %zu no-change, "
                         "%zu inconclusive",
                         rels[nr - 2].name, rels[nr - 1].name, tb_cmp_count(&cr, TB_V_REGRESSION),
                         tb_cmp_count(&cr, TB_V_IMPROVEMENT), tb_cmp_count(&cr, TB_V_NO_CHANGE),
                         tb_cmp_count(&cr, TB_V_INCONCLUSIVE));
                tb_doc_text(&d, "", "p", h);
                static const char *const head[] = {"configuration", "metric", "previous",
                                                   "latest",        "change", "p",
                                                   "note",          "verdict"};
                tb_doc_table_head(&d, head, 8);
                for (size_t i = 0; i < cr.n; i++) {
                    const struct tb_cmp_row *w = &cr.rows[i];
                    if (w->verdict == TB_V_NO_CHANGE && !strcmp(w->metric, "placement"))
                        continue;
                    char b[32], c2[32], ch[32], p[32];
                    fmt(b, sizeof b, "%.4g", w->med_base);
                    fmt(c2, sizeof c2, "%.4g", w->med_cand);
                    fmt(ch, sizeof ch, "%+.1f%%", w->change_pct);
                    fmt(p, sizeof p, "%.3g", w->p);
                    const char *cells[] = {w->key, w->metric, b,       c2,
                                           ch,     p,         w->note, tb_verdict_name(w->verdict)};
                    tb_doc_table_row(&d, cells, 8, tb_verdict_name(w->verdict));
                }
                tb_doc_table_end(&d);
                tb_doc_text(&d, "## ", "h2", "Placement and coverage changes");
                size_t changes = 0;
                for (size_t i = 0; i < cr.n; i++)
                    if (!strcmp(cr.rows[i].metric, "placement") &&
                        cr.rows[i].verdict == TB_V_REGRESSION) {
                        char line[600];
                        snprintf(line, sizeof line, "%s: %s", cr.rows[i].key, cr.rows[i].note);
                        tb_doc_text(&d, "- ", "p", line);
                        changes++;
                    }
                if (!changes)
                    tb_doc_note(&d, "No placement or coverage change between the two releases.");
            }
            tb_cmp_result_free(&cr);
        }
        int crc = tb_doc_close(&d, err);
        if (!rc)
            rc = crc;
    }
    for (size_t r = 0; r < nr; r++)
        tb_series_set_free(&sets[r]);
    free(sets);
    free(rels);
    return rc;
}

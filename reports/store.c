/* Results store: schema, versions, migrations and ingest, over SQLite (the
 * default, a file) or PostgreSQL (a shared database for a team), through
 * reports/tb_store_db.h. docs/store.md describes the schema.
 *
 * The schema version is SQLite's PRAGMA user_version, or the one row of
 * table tb_schema_version in PostgreSQL. Migrations run from whatever
 * version the database has, every missing step in one transaction that
 * holds the database's write lock (SQLite BEGIN IMMEDIATE; PostgreSQL a
 * transaction-scoped advisory lock): of two processes opening a fresh store
 * at once, the second waits for the first's commit and finds nothing to do.
 *   v1 runs(id, run_key UNIQUE, source, file_hash, release, git_commit,
 *           machine, run_date, added_at)
 *      series(id, run_id, key, profile, workload, config, metric, unit, kind,
 *             n, median, samples JSON, UNIQUE(run_id, key, metric))
 *   v2 series.placement: the placement/coverage fingerprint
 *   v3 series.kind as text ("samples", "scalar", "deterministic",
 *      "placement"); runs.hostname, cpu_model, topology_hash (the machine
 *      identity); releases(name, commit_date); indexes on what
 *      history and the dashboard select by.
 *   v4 series.label: "PROFILE WORKLOAD pP dD TYPE BACKEND tT", and
 *      series.prompt, depth: the prompt that ran and the context depth (the
 *      key keeps the requested prompt)
 * run_key is the hash of the run's first record line (unique per run: it
 * holds a timestamp and raw samples), so ingesting a run again, or a run that
 * was appended to since, adds only what is new; under another release it is
 * an error. Inserts are INSERT ... ON CONFLICT DO NOTHING on the unique keys,
 * so concurrent adders of one run neither fail nor duplicate. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/tb_read.h"
#include "harness/tb_results.h"
#include "reports/tb_report.h"
#include "reports/tb_store_db.h"

struct migration {
    const char *lite, *pg; /* pg NULL: the same SQL */
};

static const struct migration k_migrations[TB_STORE_SCHEMA_VERSION] = {
    {/* 0 -> 1 */
     "CREATE TABLE runs(id INTEGER PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, source TEXT,"
     " file_hash TEXT, release TEXT NOT NULL, git_commit TEXT, machine TEXT, run_date TEXT,"
     " added_at TEXT NOT NULL);"
     "CREATE TABLE series(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),"
     " key TEXT NOT NULL, profile TEXT, workload TEXT, config TEXT, metric TEXT NOT NULL,"
     " unit TEXT, kind INTEGER NOT NULL, n INTEGER NOT NULL, median REAL, samples TEXT NOT NULL,"
     " UNIQUE(run_id, key, metric));"
     "CREATE INDEX series_metric ON series(metric, profile);",
     /* PostgreSQL's REAL is 4 bytes: DOUBLE PRECISION is SQLite's REAL */
     "CREATE TABLE runs(id BIGSERIAL PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, source TEXT,"
     " file_hash TEXT, release TEXT NOT NULL, git_commit TEXT, machine TEXT, run_date TEXT,"
     " added_at TEXT NOT NULL);"
     "CREATE TABLE series(id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES runs(id),"
     " key TEXT NOT NULL, profile TEXT, workload TEXT, config TEXT, metric TEXT NOT NULL,"
     " unit TEXT, kind INTEGER NOT NULL, n INTEGER NOT NULL, median DOUBLE PRECISION,"
     " samples TEXT NOT NULL, UNIQUE(run_id, key, metric));"
     "CREATE INDEX series_metric ON series(metric, profile);"},
    {/* 1 -> 2 */
     "ALTER TABLE series ADD COLUMN placement TEXT;", NULL},
    {/* 2 -> 3: SQLite cannot change a column's type: the table is rebuilt */
     "CREATE TABLE series_v3(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),"
     " key TEXT NOT NULL, profile TEXT, workload TEXT, config TEXT, metric TEXT NOT NULL,"
     " unit TEXT, kind TEXT NOT NULL, n INTEGER NOT NULL, median REAL, samples TEXT NOT NULL,"
     " placement TEXT, UNIQUE(run_id, key, metric));"
     "INSERT INTO series_v3 SELECT id, run_id, key, profile, workload, config, metric, unit,"
     " CASE kind WHEN 0 THEN 'samples' WHEN 1 THEN 'scalar' WHEN 2 THEN 'deterministic'"
     " WHEN 3 THEN 'placement' ELSE 'unknown' END, n, median, samples, placement FROM series;"
     "DROP TABLE series;"
     "ALTER TABLE series_v3 RENAME TO series;"
     "CREATE INDEX series_metric ON series(metric, profile);",
     "ALTER TABLE series ALTER COLUMN kind TYPE TEXT USING CASE kind WHEN 0 THEN 'samples'"
     " WHEN 1 THEN 'scalar' WHEN 2 THEN 'deterministic' WHEN 3 THEN 'placement'"
     " ELSE 'unknown' END;"},
    {/* 3 -> 4 */
     "ALTER TABLE series ADD COLUMN label TEXT;"
     "ALTER TABLE series ADD COLUMN prompt INTEGER;"
     "ALTER TABLE series ADD COLUMN depth INTEGER;",
     NULL},
};

/* after the dialect's part of step 2 -> 3: the same in both */
static const char k_v3_common[] =
    "ALTER TABLE runs ADD COLUMN hostname TEXT;"
    "ALTER TABLE runs ADD COLUMN cpu_model TEXT;"
    "ALTER TABLE runs ADD COLUMN topology_hash TEXT;"
    "UPDATE runs SET topology_hash = 'unavailable: stored before schema 3';"
    "CREATE TABLE releases(name TEXT PRIMARY KEY, commit_date TEXT);"
    "INSERT INTO releases(name) SELECT DISTINCT release FROM runs;"
    "CREATE INDEX series_config ON series(profile, workload, config, metric);"
    "CREATE INDEX runs_release ON runs(release);";

static const char *const k_kind_names[] = {"samples", "scalar", "deterministic", "placement"};

const char *tb_series_kind_name(enum tb_series_kind k)
{
    return (unsigned)k < 4 ? k_kind_names[k] : "unknown";
}

int tb_series_kind_parse(const char *s, enum tb_series_kind *out)
{
    for (int k = 0; k < 4; k++)
        if (!strcmp(s, k_kind_names[k])) {
            *out = (enum tb_series_kind)k;
            return TB_OK;
        }
    return TB_EINVAL;
}

const char *tb_store_name(const struct tb_store *st)
{
    return tb_db_display(st->db);
}

/* -1 when it cannot be read (not a database). */
static int read_version(struct tb_store *st, struct tb_err *e)
{
    struct tb_db_stmt *s = NULL;
    int v = -1;
    const int pg = tb_db_is_pg(st->db);
    if (pg) { /* no table yet: version 0 */
        if (tb_db_prepare(st->db,
                          "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname ="
                          " current_schema() AND tablename = 'tb_schema_version'",
                          &s, e) ||
            tb_db_step(s, e) != 1) {
            tb_db_finalize(s);
            return -1;
        }
        const int64_t have = tb_db_col_int64(s, 0);
        tb_db_finalize(s);
        s = NULL;
        if (!have)
            return 0;
    }
    if (!tb_db_prepare(st->db,
                       pg ? "SELECT max(version) FROM tb_schema_version" : "PRAGMA user_version",
                       &s, e) &&
        tb_db_step(s, e) == 1)
        v = (int)tb_db_col_int64(s, 0);
    tb_db_finalize(s);
    return v;
}

int tb_store_schema_version(struct tb_store *st)
{
    struct tb_err e = {0};
    return read_version(st, &e);
}

static int check_version(struct tb_store *st, int v, struct tb_err *err)
{
    if (v < 0) /* err: why the version could not be read */
        return tb_err_wrap(err, TB_EFORMAT, "not a tierbench store (or unreadable)");
    if (v > TB_STORE_SCHEMA_VERSION)
        return tb_err_set(err, TB_EUNSUPPORTED,
                          "%s: schema version %d is newer than this tierbench (%d)",
                          tb_store_name(st), v, TB_STORE_SCHEMA_VERSION);
    return TB_OK;
}

static int write_version(struct tb_store *st, struct tb_err *err)
{
    char sql[200];
    if (tb_db_is_pg(st->db))
        snprintf(sql, sizeof sql,
                 "CREATE TABLE IF NOT EXISTS tb_schema_version(version INTEGER NOT NULL);"
                 "DELETE FROM tb_schema_version; INSERT INTO tb_schema_version VALUES(%d);",
                 TB_STORE_SCHEMA_VERSION);
    else
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d;", TB_STORE_SCHEMA_VERSION);
    return tb_db_exec(st->db, sql, err);
}

static int run_step(struct tb_store *st, int from, struct tb_err *err)
{
    const struct migration *m = &k_migrations[from];
    int rc = tb_db_exec(st->db, tb_db_is_pg(st->db) && m->pg ? m->pg : m->lite, err);
    if (!rc && from == 2)
        rc = tb_db_exec(st->db, k_v3_common, err);
    return rc ? tb_err_wrap(err, rc, "migrating to schema %d", from + 1) : TB_OK;
}

/* Brings the schema to TB_STORE_SCHEMA_VERSION. The version is read again
 * under the write lock (see the header comment); reading it outside only
 * let both of two processes run the same steps ("table runs already
 * exists"). A current database is only read, so read-only stores open. */
static int migrate(struct tb_store *st, struct tb_err *err)
{
    int v = read_version(st, err);
    int rc = check_version(st, v, err);
    if (rc || v == TB_STORE_SCHEMA_VERSION)
        return rc;
    if ((rc = tb_db_begin(st->db, err)))
        return tb_err_wrap(err, rc, "migrating the schema");
    if (tb_db_is_pg(st->db)) /* 0x7462 = "tb": one lock for every store schema change */
        rc = tb_db_exec(st->db, "SELECT pg_advisory_xact_lock(29794, 1)", err);
    if (!rc) {
        v = read_version(st, err);
        rc = check_version(st, v, err);
    }
    const int from = v;
    for (; !rc && v < TB_STORE_SCHEMA_VERSION; v++)
        rc = run_step(st, v, err);
    if (!rc && from < TB_STORE_SCHEMA_VERSION)
        rc = write_version(st, err);
    if (!rc)
        rc = tb_db_commit(st->db, err);
    if (rc)
        tb_db_rollback(st->db);
    return rc;
}

int tb_store_open(const char *path, struct tb_store **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_store *st = calloc(1, sizeof *st);
    if (!st)
        return tb_err_set(err, TB_ENOMEM, "store: out of memory");
    int rc = tb_db_open(path, &st->db, err);
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
    tb_db_close(st->db);
    free(st);
}

/* count(*) of one table, -1 when it cannot be read */
static long count_rows(struct tb_store *st, const char *sql)
{
    struct tb_db_stmt *s = NULL;
    struct tb_err e = {0};
    long n = -1;
    if (!tb_db_prepare(st->db, sql, &s, &e) && tb_db_step(s, &e) == 1)
        n = (long)tb_db_col_int64(s, 0);
    tb_db_finalize(s);
    return n;
}

long tb_store_count(struct tb_store *st)
{
    return count_rows(st, "SELECT count(*) FROM series");
}

long tb_store_count_runs(struct tb_store *st)
{
    return count_rows(st, "SELECT count(*) FROM runs");
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

static json_t *src_env(const struct tb_rsrc *src)
{
    json_t *env = src->manifest ? json_object_get(src->manifest, "environment") : NULL;
    if (!env && json_array_size(src->records))
        env = json_object_get(json_array_get(src->records, 0), "environment");
    return env;
}

static const char *env_str(const struct tb_rsrc *src, const char *obj, const char *field)
{
    json_t *env = src_env(src);
    return json_string_value(json_object_get(obj ? json_object_get(env, obj) : env, field));
}

/* The machine identity: hostname, CPU model, topology hash (environment
 * field "topology_hash", "sha256:" + 64 hex digits, when the run has it). */
struct machine_id {
    char host[128], cpu[160], topo[80];
};

static void machine_identity(const struct tb_rsrc *src, struct machine_id *m)
{
    const char *host = env_str(src, NULL, "hostname");
    const char *cpu = env_str(src, "cpu", "model");
    if (src->is_gbench && src->manifest) {
        host = json_string_value(json_object_get(src->manifest, "host_name"));
        cpu = NULL;
    }
    snprintf(m->host, sizeof m->host, "%s", host ? host : "unavailable: not recorded by this run");
    snprintf(m->cpu, sizeof m->cpu, "%s", cpu ? cpu : "unavailable: not recorded by this run");
    const char *t = env_str(src, NULL, "topology_hash");
    int ok = t && strlen(t) == 71 && !strncmp(t, "sha256:", 7);
    for (size_t i = 7; ok && i < 71; i++)
        ok = isxdigit((unsigned char)t[i]) != 0;
    snprintf(m->topo, sizeof m->topo, "%s", ok ? t : "unavailable: not recorded by this run");
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

/* One prepared statement run to completion with text parameters. */
static int exec_params(struct tb_store *st, const char *sql, const char *const *p, int np,
                       struct tb_err *err)
{
    struct tb_db_stmt *s = NULL;
    int rc = tb_db_prepare(st->db, sql, &s, err);
    for (int i = 0; !rc && i < np; i++)
        rc = tb_db_bind_text(s, i + 1, p[i]);
    if (!rc)
        rc = tb_db_step(s, err) < 0 ? TB_EIO : TB_OK;
    tb_db_finalize(s);
    return rc;
}

/* Inserts the run row (or finds it: stored already, by this process or a
 * concurrent one); *run_id, or an error when it is stored under another
 * release. */
static int insert_run(struct tb_store *st, const struct tb_rsrc *src, const char *release,
                      const char *key, int64_t *run_id, struct tb_err *err)
{
    char machine[300], date[64], now[32];
    struct machine_id m;
    tb_rsrc_machine(src, machine, sizeof machine);
    machine_identity(src, &m);
    tb_rsrc_date(src, date, sizeof date);
    tb_utc_timestamp(now, sizeof now);
    const char *commit = env_str(src, "tierbench", "source_git_commit");
    if (!commit)
        commit = env_str(src, "tierbench", "git_commit_configured");
    const char *rel[] = {release};
    int rc = exec_params(st, "INSERT INTO releases(name) VALUES(?) ON CONFLICT(name) DO NOTHING",
                         rel, 1, err);
    const char *p[] = {key,     src->path, src->hash, release, commit ? commit : "unknown",
                       machine, date,      now,       m.host,  m.cpu,
                       m.topo};
    if (!rc)
        rc =
            exec_params(st,
                        "INSERT INTO runs(run_key, source, file_hash, release, git_commit, machine,"
                        " run_date, added_at, hostname, cpu_model, topology_hash)"
                        " VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_key) DO NOTHING",
                        p, 11, err);
    struct tb_db_stmt *s = NULL;
    if (!rc)
        rc = tb_db_prepare(st->db, "SELECT id, release FROM runs WHERE run_key = ?", &s, err);
    if (!rc && !(rc = tb_db_bind_text(s, 1, key))) {
        int r = tb_db_step(s, err);
        if (r < 0)
            rc = r;
        else if (!r)
            rc = tb_err_set(err, TB_EIO, "%s: run %s vanished after its insert", tb_store_name(st),
                            key);
        else if (strcmp(tb_db_col_text(s, 1), release))
            rc = tb_err_set(err, TB_EINVAL,
                            "%s: run %s (%s) is stored under release '%s', not '%s': a run "
                            "belongs to one release",
                            src->path, key, machine, tb_db_col_text(s, 1), release);
        else
            *run_id = tb_db_col_int64(s, 0);
    }
    tb_db_finalize(s);
    return rc;
}

static int insert_all(struct tb_store *st, const struct tb_rsrc *src, const char *release,
                      const struct tb_series_set *set, size_t *added, struct tb_err *err)
{
    char key[TB_HASH_STR_MAX]; /* "fnv1a64:" run key, or a gbench file's "sha256:" hash */
    int rc = run_key(src, key, sizeof key, err);
    if (!release) {
        release = env_str(src, "tierbench", "source_git_commit");
        if (!release)
            release = env_str(src, "tierbench", "git_commit_configured");
        if (!release)
            release = "unknown";
    }
    int64_t run_id = -1;
    if (!rc)
        rc = insert_run(st, src, release, key, &run_id, err);
    struct tb_db_stmt *s = NULL;
    if (!rc)
        rc = tb_db_prepare(st->db,
                           "INSERT INTO series(run_id, key, profile, workload, config, metric, "
                           "unit, kind, n, median, samples, placement, label, prompt, depth) "
                           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                           "ON CONFLICT(run_id, key, metric) DO NOTHING",
                           &s, err);
    for (size_t i = 0; i < set->n && !rc; i++) {
        const struct tb_series *x = &set->s[i];
        char *js = samples_json(x);
        if (!js) {
            rc = tb_err_set(err, TB_ENOMEM, "store: out of memory");
            break;
        }
        tb_db_reset(s);
        tb_db_bind_int64(s, 1, run_id);
        tb_db_bind_text(s, 2, x->key);
        tb_db_bind_text(s, 3, x->profile);
        tb_db_bind_text(s, 4, x->workload);
        tb_db_bind_text(s, 5, x->config);
        tb_db_bind_text(s, 6, x->metric);
        tb_db_bind_text(s, 7, x->unit);
        tb_db_bind_text(s, 8, tb_series_kind_name(x->kind));
        tb_db_bind_int64(s, 9, (int64_t)x->n);
        tb_db_bind_double(s, 10, tb_median(x->v, x->n));
        tb_db_bind_text(s, 11, js);
        tb_db_bind_text(s, 12, x->text);
        tb_db_bind_text(s, 13, x->label[0] ? x->label : NULL);
        if (x->prompt >= 0)
            tb_db_bind_int64(s, 14, x->prompt);
        else
            tb_db_bind_null_int(s, 14);
        if (x->depth >= 0)
            tb_db_bind_int64(s, 15, x->depth);
        else
            tb_db_bind_null_int(s, 15);
        free(js);
        if (tb_db_step(s, err) < 0)
            rc = TB_EIO;
        else
            *added += (size_t)tb_db_changes(s);
    }
    tb_db_finalize(s);
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
    /* PostgreSQL may abort a transaction that lost a race (serialization
     * failure, deadlock): it is run again */
    for (int attempt = 0; !rc && attempt < 5; attempt++) {
        *added = 0;
        rc = tb_db_begin(st->db, err);
        if (!rc)
            rc = insert_all(st, &src, release, &set, added, err);
        if (!rc)
            rc = tb_db_commit(st->db, err);
        if (!rc)
            break;
        tb_db_rollback(st->db);
        *added = 0;
        if (!tb_db_retryable(st->db))
            break;
        rc = TB_OK;
    }
    tb_series_set_free(&set);
    tb_rsrc_free(&src);
    return rc;
}

/* ISO 8601 date or date-time -> "YYYY-MM-DDTHH:MM:SSZ" (UTC), so dates
 * given with different offsets sort as instants. */
int tb_store_parse_date(const char *s, char *out, size_t n, struct tb_err *err)
{
    struct tm tm = {0};
    int len = 0, y, mo, d, h = 0, mi = 0, sec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &len) != 3 || len != 10)
        goto bad;
    const char *p = s + 10;
    long off = 0;
    if (*p == 'T' || *p == ' ') {
        int l2 = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &l2) != 3 || l2 != 8)
            goto bad;
        p += 9;
        if (*p == '.') /* fractions of a second: dropped */
            while (isdigit((unsigned char)*++p))
                ;
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, l3 = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &l3) != 2 || l3 != 5 || oh > 23 || om > 59)
                goto bad;
            off = (*p == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
            p += 6;
        } else {
            goto bad;
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        goto bad;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm); /* normalises: 2026-02-31 would become March */
    if (tm.tm_mday != d || tm.tm_mon != mo - 1)
        goto bad;
    t -= off;
    struct tm u;
    if (!gmtime_r(&t, &u))
        goto bad;
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &u);
    return TB_OK;
bad:
    return tb_err_set(err, TB_EINVAL,
                      "release date '%s' is not ISO 8601 (YYYY-MM-DD or "
                      "YYYY-MM-DDTHH:MM:SS with Z or +HH:MM)",
                      s);
}

int tb_store_set_release_date(struct tb_store *st, const char *release, const char *iso,
                              struct tb_err *err)
{
    char date[32];
    int rc = tb_store_parse_date(iso, date, sizeof date, err);
    if (rc)
        return rc;
    if ((rc = tb_db_begin(st->db, err)))
        return rc;
    const char *p[] = {release, date};
    rc = exec_params(st, "INSERT INTO releases(name) VALUES(?) ON CONFLICT(name) DO NOTHING", p, 1,
                     err);
    if (!rc)
        rc = exec_params(st,
                         "UPDATE releases SET commit_date = ?2 WHERE name = ?1 AND"
                         " commit_date IS NULL",
                         p, 2, err);
    struct tb_db_stmt *s = NULL;
    if (!rc)
        rc = tb_db_prepare(st->db, "SELECT commit_date FROM releases WHERE name = ?", &s, err);
    if (!rc && !(rc = tb_db_bind_text(s, 1, release))) {
        int r = tb_db_step(s, err);
        if (r < 0)
            rc = r;
        else if (r && strcmp(tb_db_col_text(s, 0), date))
            rc = tb_err_set(err, TB_EINVAL,
                            "%s: release '%s' already has the commit date %s (given %s)",
                            tb_store_name(st), release, tb_db_col_text(s, 0), date);
    }
    tb_db_finalize(s);
    if (!rc)
        rc = tb_db_commit(st->db, err);
    if (rc)
        tb_db_rollback(st->db);
    return rc;
}

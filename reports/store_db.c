/* The results store's database layer over SQLite and libpq (tb_store_db.h).
 * PostgreSQL statements run through PQexecParams with text parameters whose
 * types are given (text, int8, float8), so "?1 IS NULL OR col = ?1" works the
 * same on both. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "reports/tb_store_db.h"

#define TB_DB_MAX_PARAMS 16

struct tb_db {
    sqlite3 *lite;
    PGconn *pg;
    char *display;
    int retryable;
};

struct tb_db_stmt {
    struct tb_db *db;
    sqlite3_stmt *lite;
    /* PostgreSQL */
    char *sql; /* with $N placeholders */
    int nparams;
    char *val[TB_DB_MAX_PARAMS];
    Oid type[TB_DB_MAX_PARAMS];
    PGresult *res;
    int row, nrows;
    long changes;
};

int tb_db_name_is_pg(const char *name)
{
    if (!strncmp(name, "postgresql://", 13) || !strncmp(name, "postgres://", 11))
        return 1;
    /* key=value conninfo: the first word is a keyword libpq knows */
    size_t k = 0;
    while (name[k] && (isalnum((unsigned char)name[k]) || name[k] == '_'))
        k++;
    if (!k || name[k] != '=')
        return 0;
    PQconninfoOption *opts = PQconndefaults();
    int known = 0;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strlen(o->keyword) == k && !strncmp(o->keyword, name, k))
            known = 1;
    PQconninfoFree(opts);
    return known;
}

/* name with the password of a URI ("user:pw@") or a conninfo
 * ("password=pw") replaced by "***". */
static char *redact(const char *name)
{
    size_t n = strlen(name);
    char *out = malloc(n + 4);
    if (!out)
        return NULL;
    const char *scheme = strstr(name, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        const char *at = strchr(auth, '@');
        const char *slash = strchr(auth, '/');
        const char *colon = strchr(auth, ':');
        if (at && (!slash || at < slash) && colon && colon < at) {
            snprintf(out, n + 4, "%.*s***%s", (int)(colon + 1 - name), name, at);
            return out;
        }
    } else {
        const char *pw = strstr(name, "password=");
        if (pw && (pw == name || pw[-1] == ' ')) {
            const char *end = pw + 9;
            while (*end && *end != ' ')
                end++;
            snprintf(out, n + 4, "%.*s***%s", (int)(pw + 9 - name), name, end);
            return out;
        }
    }
    memcpy(out, name, n + 1);
    return out;
}

static int lite_err(struct tb_db *db, struct tb_err *err, const char *what)
{
    return tb_err_set(err, TB_EIO, "%s: %s: %s", db->display, what, sqlite3_errmsg(db->lite));
}

/* One line of libpq's (multi-line) message. */
static int pg_err(struct tb_db *db, const PGresult *r, struct tb_err *err, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    db->retryable = state && (!strcmp(state, "40001") || !strcmp(state, "40P01"));
    const char *m = r ? PQresultErrorMessage(r) : "";
    if (!m || !*m)
        m = PQerrorMessage(db->pg);
    size_t len = strcspn(m, "\n");
    return tb_err_set(err, TB_EIO, "%s: %s: %.*s", db->display, what, (int)len, m);
}

int tb_db_open(const char *name, struct tb_db **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_db *db = calloc(1, sizeof *db);
    if (!db || !(db->display = redact(name))) {
        free(db);
        return tb_err_set(err, TB_ENOMEM, "store: out of memory");
    }
    int rc = TB_OK;
    if (tb_db_name_is_pg(name)) {
        db->pg = PQconnectdb(name);
        if (!db->pg)
            rc = tb_err_set(err, TB_ENOMEM, "%s: out of memory", db->display);
        else if (PQstatus(db->pg) != CONNECTION_OK)
            rc = pg_err(db, NULL, err, "cannot connect");
        if (!rc) /* quiet NOTICEs ("relation already exists, skipping") */
            rc = tb_db_exec(db, "SET client_min_messages = warning", err);
    } else {
        /* SQLite says only "disk I/O error" (FIFO) or "unable to open" (a
         * directory): name what is there instead */
        struct stat st;
        if (stat(name, &st) == 0 && !S_ISREG(st.st_mode))
            rc = tb_err_set(err, TB_EIO, "%s: cannot open: not a regular file (%s)", db->display,
                            S_ISDIR(st.st_mode)    ? "a directory"
                            : S_ISFIFO(st.st_mode) ? "a FIFO"
                                                   : "a device or socket");
        else if (sqlite3_open_v2(name, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                 NULL) != SQLITE_OK)
            rc = lite_err(db, err, "cannot open");
        /* concurrent `store add`s wait for each other (migration, inserts) */
        if (!rc)
            sqlite3_busy_timeout(db->lite, 30000);
        if (!rc)
            rc = tb_db_exec(db, "PRAGMA foreign_keys = ON;", err);
    }
    if (rc) {
        tb_db_close(db);
        return rc;
    }
    *out = db;
    return TB_OK;
}

void tb_db_close(struct tb_db *db)
{
    if (!db)
        return;
    if (db->lite)
        sqlite3_close(db->lite);
    if (db->pg)
        PQfinish(db->pg);
    free(db->display);
    free(db);
}

int tb_db_is_pg(const struct tb_db *db)
{
    return db->pg != NULL;
}

const char *tb_db_display(const struct tb_db *db)
{
    return db->display;
}

int tb_db_retryable(const struct tb_db *db)
{
    return db->retryable;
}

int tb_db_exec(struct tb_db *db, const char *sql, struct tb_err *err)
{
    db->retryable = 0;
    if (db->pg) {
        PGresult *r = PQexec(db->pg, sql);
        ExecStatusType st = PQresultStatus(r);
        int rc =
            st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? TB_OK : pg_err(db, r, err, "sql");
        PQclear(r);
        return rc;
    }
    char *msg = NULL;
    if (sqlite3_exec(db->lite, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tb_err_set(err, TB_EIO, "%s: %s", db->display, msg ? msg : sqlite3_errmsg(db->lite));
        sqlite3_free(msg);
        return TB_EIO;
    }
    return TB_OK;
}

int tb_db_begin(struct tb_db *db, struct tb_err *err)
{
    return tb_db_exec(db, db->pg ? "BEGIN" : "BEGIN IMMEDIATE", err);
}

int tb_db_commit(struct tb_db *db, struct tb_err *err)
{
    return tb_db_exec(db, "COMMIT", err);
}

void tb_db_rollback(struct tb_db *db)
{
    int keep = db->retryable;
    struct tb_err ignored = {0};
    tb_db_exec(db, "ROLLBACK", &ignored);
    db->retryable = keep;
}

/* "?" / "?N" -> "$N" outside '...' and "..." literals. */
static char *to_dollar(const char *sql, int *nparams)
{
    size_t n = strlen(sql);
    char *out = malloc(4 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    int next = 1, max = 0;
    char quote = 0;
    for (size_t i = 0; i < n; i++) {
        char c = sql[i];
        if (quote) {
            if (c == quote)
                quote = 0;
            out[o++] = c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            out[o++] = c;
        } else if (c == '?') {
            int num = 0;
            while (isdigit((unsigned char)sql[i + 1]))
                num = num * 10 + (sql[++i] - '0');
            if (!num)
                num = next;
            next = num + 1;
            if (num > max)
                max = num;
            o += (size_t)sprintf(out + o, "$%d", num);
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    *nparams = max;
    return out;
}

int tb_db_prepare(struct tb_db *db, const char *sql, struct tb_db_stmt **out, struct tb_err *err)
{
    *out = NULL;
    struct tb_db_stmt *s = calloc(1, sizeof *s);
    if (!s)
        return tb_err_set(err, TB_ENOMEM, "store: out of memory");
    s->db = db;
    s->row = -1;
    if (db->pg) {
        s->sql = to_dollar(sql, &s->nparams);
        if (!s->sql || s->nparams > TB_DB_MAX_PARAMS) {
            int rc = s->sql ? tb_err_set(err, TB_EINVAL, "store: too many parameters in: %s", sql)
                            : tb_err_set(err, TB_ENOMEM, "store: out of memory");
            tb_db_finalize(s);
            return rc;
        }
    } else if (sqlite3_prepare_v2(db->lite, sql, -1, &s->lite, NULL) != SQLITE_OK) {
        int rc = lite_err(db, err, "prepare");
        tb_db_finalize(s);
        return rc;
    }
    *out = s;
    return TB_OK;
}

static int pg_set(struct tb_db_stmt *s, int i, const char *v, Oid type)
{
    if (i < 1 || i > TB_DB_MAX_PARAMS)
        return TB_EINVAL;
    free(s->val[i - 1]);
    s->val[i - 1] = NULL;
    s->type[i - 1] = type;
    if (v && !(s->val[i - 1] = strdup(v)))
        return TB_ENOMEM;
    if (i > s->nparams)
        s->nparams = i;
    return TB_OK;
}

enum { OID_INT8 = 20, OID_TEXT = 25, OID_FLOAT8 = 701 }; /* pg_type.h */

int tb_db_bind_text(struct tb_db_stmt *s, int i, const char *v)
{
    if (s->lite)
        return (v ? sqlite3_bind_text(s->lite, i, v, -1, SQLITE_TRANSIENT)
                  : sqlite3_bind_null(s->lite, i)) == SQLITE_OK
                   ? TB_OK
                   : TB_EINVAL;
    return pg_set(s, i, v, OID_TEXT);
}

int tb_db_bind_int64(struct tb_db_stmt *s, int i, int64_t v)
{
    if (s->lite)
        return sqlite3_bind_int64(s->lite, i, v) == SQLITE_OK ? TB_OK : TB_EINVAL;
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return pg_set(s, i, b, OID_INT8);
}

int tb_db_bind_null_int(struct tb_db_stmt *s, int i)
{
    if (s->lite)
        return sqlite3_bind_null(s->lite, i) == SQLITE_OK ? TB_OK : TB_EINVAL;
    return pg_set(s, i, NULL, OID_INT8); /* typed: an integer column takes it */
}

int tb_db_bind_double(struct tb_db_stmt *s, int i, double v)
{
    if (s->lite)
        return (isfinite(v) ? sqlite3_bind_double(s->lite, i, v) : sqlite3_bind_null(s->lite, i)) ==
                       SQLITE_OK
                   ? TB_OK
                   : TB_EINVAL;
    char b[40];
    snprintf(b, sizeof b, "%.17g", v);
    return pg_set(s, i, isfinite(v) ? b : NULL, OID_FLOAT8);
}

int tb_db_step(struct tb_db_stmt *s, struct tb_err *err)
{
    struct tb_db *db = s->db;
    db->retryable = 0;
    if (s->lite) {
        int r = sqlite3_step(s->lite);
        if (r == SQLITE_ROW)
            return 1;
        if (r == SQLITE_DONE) {
            s->changes = sqlite3_changes(db->lite);
            return 0;
        }
        return lite_err(db, err, "query");
    }
    if (!s->res) {
        s->res = PQexecParams(db->pg, s->sql, s->nparams, s->type, (const char *const *)s->val,
                              NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(s->res);
        if (st == PGRES_TUPLES_OK) {
            s->nrows = PQntuples(s->res);
        } else if (st == PGRES_COMMAND_OK) {
            s->nrows = 0;
            s->changes = atol(PQcmdTuples(s->res));
        } else {
            int rc = pg_err(db, s->res, err, "query");
            PQclear(s->res);
            s->res = NULL;
            return rc;
        }
        s->row = -1;
    }
    return ++s->row < s->nrows ? 1 : 0;
}

void tb_db_reset(struct tb_db_stmt *s)
{
    if (s->lite) {
        sqlite3_reset(s->lite);
        return;
    }
    PQclear(s->res);
    s->res = NULL;
    s->row = -1;
    s->nrows = 0;
}

long tb_db_changes(const struct tb_db_stmt *s)
{
    return s->changes;
}

int tb_db_col_null(struct tb_db_stmt *s, int i)
{
    if (s->lite)
        return sqlite3_column_type(s->lite, i) == SQLITE_NULL;
    return !s->res || s->row < 0 || s->row >= s->nrows || PQgetisnull(s->res, s->row, i);
}

const char *tb_db_col_text(struct tb_db_stmt *s, int i)
{
    if (s->lite) {
        const char *t = (const char *)sqlite3_column_text(s->lite, i);
        return t ? t : "";
    }
    return tb_db_col_null(s, i) ? "" : PQgetvalue(s->res, s->row, i);
}

int64_t tb_db_col_int64(struct tb_db_stmt *s, int i)
{
    if (s->lite)
        return sqlite3_column_int64(s->lite, i);
    return tb_db_col_null(s, i) ? 0 : strtoll(PQgetvalue(s->res, s->row, i), NULL, 10);
}

double tb_db_col_double(struct tb_db_stmt *s, int i)
{
    if (s->lite)
        return sqlite3_column_double(s->lite, i);
    return tb_db_col_null(s, i) ? 0.0 : strtod(PQgetvalue(s->res, s->row, i), NULL);
}

void tb_db_finalize(struct tb_db_stmt *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->lite);
    PQclear(s->res);
    for (int i = 0; i < TB_DB_MAX_PARAMS; i++)
        free(s->val[i]);
    free(s->sql);
    free(s);
}

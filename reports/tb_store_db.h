/* Internal to reports/: the small database layer under the results store
 * (store.c, dashboard.c), over SQLite and PostgreSQL (libpq).
 *
 * A store is named by a string: "postgresql://..." or "postgres://..." (a
 * libpq connection URI) or a libpq key=value conninfo whose first keyword is
 * one libpq knows ("host=/tmp dbname=tb") opens PostgreSQL; anything else is
 * an SQLite file path (created on first use).
 *
 * SQL is written once, in the dialect both accept, with SQLite's
 * placeholders: "?" (the next parameter) or "?N" (parameter N, 1-based);
 * for PostgreSQL they become "$N" (outside quoted literals). Values travel
 * as text; NULL binds are NULL. */
#ifndef TB_STORE_DB_H
#define TB_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/tb_error.h"

struct tb_db;
struct tb_db_stmt;

/* 1 when name opens PostgreSQL (see above). */
int tb_db_name_is_pg(const char *name);
int tb_db_open(const char *name, struct tb_db **out, struct tb_err *err);
void tb_db_close(struct tb_db *db);
int tb_db_is_pg(const struct tb_db *db);
/* The store's name for messages: the SQLite path, or the PostgreSQL URI
 * with any password replaced by "***". */
const char *tb_db_display(const struct tb_db *db);

/* Runs one or more ';'-separated statements without parameters. */
int tb_db_exec(struct tb_db *db, const char *sql, struct tb_err *err);
/* BEGIN IMMEDIATE (SQLite: takes the write lock now, waiting up to the busy
 * timeout) / BEGIN (PostgreSQL, READ COMMITTED), COMMIT, ROLLBACK. */
int tb_db_begin(struct tb_db *db, struct tb_err *err);
int tb_db_commit(struct tb_db *db, struct tb_err *err);
void tb_db_rollback(struct tb_db *db);
/* 1 when the last failure was a PostgreSQL serialization failure or
 * deadlock (SQLSTATE 40001 / 40P01): the transaction may be retried. */
int tb_db_retryable(const struct tb_db *db);

int tb_db_prepare(struct tb_db *db, const char *sql, struct tb_db_stmt **out, struct tb_err *err);
/* Parameters are 1-based; a NULL text binds NULL. */
int tb_db_bind_text(struct tb_db_stmt *s, int i, const char *v);
int tb_db_bind_int64(struct tb_db_stmt *s, int i, int64_t v);
int tb_db_bind_null_int(struct tb_db_stmt *s, int i);         /* NULL into an integer column */
int tb_db_bind_double(struct tb_db_stmt *s, int i, double v); /* non-finite: NULL */
/* 1 = a row is ready, 0 = done, negative = error (err set). */
int tb_db_step(struct tb_db_stmt *s, struct tb_err *err);
/* Back to before the first step; bindings are kept. */
void tb_db_reset(struct tb_db_stmt *s);
/* Rows changed by the finished INSERT/UPDATE/DELETE. */
long tb_db_changes(const struct tb_db_stmt *s);
int tb_db_col_null(struct tb_db_stmt *s, int i);
const char *tb_db_col_text(struct tb_db_stmt *s, int i); /* "" for NULL */
int64_t tb_db_col_int64(struct tb_db_stmt *s, int i);
double tb_db_col_double(struct tb_db_stmt *s, int i);
void tb_db_finalize(struct tb_db_stmt *s);

/* The results store handle (store.c opens it, dashboard.c reads it). */
struct tb_store {
    struct tb_db *db;
};

#endif

/* tierbench error convention (stated once, used everywhere):
 *   - every tb_ function that can fail returns int: 0 (TB_OK) on success,
 *     a negative TB_E* code on failure;
 *   - it also fills an optional caller-owned struct tb_err with a one-line,
 *     human-readable message (file, offset, what is wrong) the caller can show;
 *   - library code never calls exit()/abort() and keeps no mutable globals.
 * tb_strerror() names a code. */
#ifndef TB_ERROR_H
#define TB_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tb_status {
    TB_OK = 0,
    TB_EINVAL = -1,       /* bad argument or bad user input */
    TB_ENOMEM = -2,       /* allocation failed */
    TB_EIO = -3,          /* read/write/open failed */
    TB_EFORMAT = -4,      /* malformed file contents */
    TB_EUNSUPPORTED = -5, /* valid, but this build/backend cannot do it */
    TB_EBUDGET = -6,      /* does not fit the memory budget */
    TB_EBACKEND = -7,     /* backend failed or is unavailable */
    TB_ERANGE = -8,       /* value out of range / overflow */
    TB_ETIMEOUT = -9,     /* watchdog expired */
    TB_ENONFINITE = -10,  /* a computed output (logit, hidden state) is NaN or Inf */
};

#define TB_ERR_MSG_MAX 512

struct tb_err {
    int code;
    char msg[TB_ERR_MSG_MAX];
};

const char *tb_strerror(int code);

/* Records code + formatted message in e (if non-NULL); returns code so callers
 * can write `return tb_err_set(err, TB_EINVAL, "...")`. */
int tb_err_set(struct tb_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes an existing message ("ctx: old message"), records code in e and
 * returns it: `return tb_err_wrap(err, rc, "loading %s", path)` keeps the
 * failing call's code even when err is NULL. */
int tb_err_wrap(struct tb_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void tb_err_clear(struct tb_err *e);

#ifdef __cplusplus
}
#endif
#endif

#include "tb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *tb_strerror(int code)
{
    switch (code) {
    case TB_OK: return "ok";
    case TB_EINVAL: return "invalid argument";
    case TB_ENOMEM: return "out of memory";
    case TB_EIO: return "i/o error";
    case TB_EFORMAT: return "malformed input";
    case TB_EUNSUPPORTED: return "unsupported";
    case TB_EBUDGET: return "does not fit memory budget";
    case TB_EBACKEND: return "backend error";
    case TB_ERANGE: return "out of range";
    case TB_ETIMEOUT: return "timed out";
    default: return "unknown error";
    }
}

/* Messages are one line by contract, but they quote bytes from hostile
 * inputs (GGUF keys, profile values): control characters become '?' so a
 * message can neither break a log line nor fake one. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int tb_err_set(struct tb_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        one_line(e->msg);
    }
    return code;
}

static void prefix_v(struct tb_err *e, const char *fmt, va_list ap)
{
    char pre[TB_ERR_MSG_MAX], old[TB_ERR_MSG_MAX];
    vsnprintf(pre, sizeof pre, fmt, ap);
    memcpy(old, e->msg, sizeof old);
    /* a message longer than the buffer is cut, never overrun */
    if (snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old) >= (int)sizeof e->msg)
        e->msg[sizeof e->msg - 1] = '\0';
    one_line(e->msg);
}

int tb_err_wrap(struct tb_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        prefix_v(e, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

void tb_err_clear(struct tb_err *e)
{
    if (e) {
        e->code = TB_OK;
        e->msg[0] = '\0';
    }
}

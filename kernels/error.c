#include "tb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
    case TB_ENONFINITE: return "non-finite output";
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

/* A message is formatted whole first (into buf, or the heap when it is
 * longer) and only then fitted to TB_ERR_MSG_MAX. */
#define SCRATCH_MAX 1024 /* stack per call (small targets); longer goes to the heap */
#define ELIDED_MIN 19    /* a shortened token keeps >= 8 bytes each side of "..." */

static char *vformat(char *buf, size_t n, size_t *len, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    const int need = vsnprintf(buf, n, fmt, ap);
    char *out = buf;
    if (need < 0) {
        buf[0] = '\0';
    } else if ((size_t)need >= n) {
        char *big = malloc((size_t)need + 1);
        if (big && vsnprintf(big, (size_t)need + 1, fmt, ap2) == need)
            out = big;
        else
            free(big); /* out of memory: the cut scratch is the best there is */
    }
    va_end(ap2);
    *len = strlen(out);
    return out;
}

static int is_cont(char c) /* a UTF-8 continuation byte: never cut before one */
{
    return ((unsigned char)c & 0xC0) == 0x80;
}

/* Bytes saved by shortening every blank-separated token of s longer than L
 * to L. */
static size_t saving(const char *s, size_t len, size_t L)
{
    size_t sum = 0;
    for (size_t i = 0; i < len;) {
        const size_t t = strcspn(s + i, " \t");
        sum += t > L ? t - L : 0;
        i += t ? t : 1;
    }
    return sum;
}

static size_t put(char *dst, size_t cap, size_t o, const char *src, size_t n)
{
    const size_t room = cap - 1 - o;
    n = n < room ? n : room;
    memcpy(dst + o, src, n);
    return o + n;
}

/* Copies s (len bytes) into dst[cap]. When it does not fit, the longest
 * blank-separated tokens (paths, in practice) are shortened in the middle
 * to "..." -- all to the same, largest length that makes the message fit,
 * never below ELIDED_MIN -- so the words around them, the reason, stay
 * whole; a message of short words only is cut at the end. */
static void fit(char *dst, size_t cap, const char *s, size_t len)
{
    size_t L = len; /* no token is longer: nothing shortened */
    if (len >= cap) {
        const size_t excess = len - (cap - 1);
        size_t lo = ELIDED_MIN, hi = len;
        if (saving(s, len, lo) >= excess)
            while (lo < hi) { /* the largest L that saves enough */
                const size_t mid = lo + (hi - lo + 1) / 2;
                if (saving(s, len, mid) >= excess)
                    lo = mid;
                else
                    hi = mid - 1;
            }
        L = lo;
    }
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap;) {
        const size_t t = strcspn(s + i, " \t");
        if (!t) {
            dst[o++] = s[i++];
            continue;
        }
        if (t <= L) {
            o = put(dst, cap, o, s + i, t);
        } else {
            const size_t keep = L - 3;
            size_t head = keep - keep / 2, tail_at = i + t - keep / 2;
            while (head > 0 && is_cont(s[i + head]))
                head--;
            while (tail_at < i + t && is_cont(s[tail_at]))
                tail_at++;
            o = put(dst, cap, o, s + i, head);
            o = put(dst, cap, o, "...", 3);
            o = put(dst, cap, o, s + tail_at, i + t - tail_at);
        }
        i += t;
    }
    dst[o] = '\0';
}

static void set_v(struct tb_err *e, const char *fmt, va_list ap)
{
    char buf[SCRATCH_MAX];
    size_t len;
    char *s = vformat(buf, sizeof buf, &len, fmt, ap);
    fit(e->msg, sizeof e->msg, s, len);
    if (s != buf)
        free(s);
    one_line(e->msg);
}

int tb_err_set(struct tb_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        set_v(e, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void prefix_v(struct tb_err *e, const char *fmt, va_list ap)
{
    char buf[SCRATCH_MAX], old[TB_ERR_MSG_MAX];
    size_t len;
    char *pre = vformat(buf, sizeof buf, &len, fmt, ap);
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    tb_err_set(e, e->code, "%s: %s", pre, old);
    if (pre != buf)
        free(pre);
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

#include "kernels/tb_util.h"

#include "kernels/tb_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_copy_str(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return;
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

int tb_format_bytes(uint64_t b, char *buf, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u < 4 && b >= (1ull << (10 * (u + 1))))
        u++;
    uint64_t scale = 1ull << (10 * u);
    if (b % scale == 0)
        return snprintf(buf, n, "%llu %s", (unsigned long long)(b / scale), units[u]);
    return snprintf(buf, n, "%.2f %s", (double)b / (double)scale, units[u]);
}

int tb_parse_int(const char *s, long lo, long hi, int *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int tb_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') /* strtoull would take blanks and a sign */
        return -1;
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int tb_path_join(char *out, size_t n, struct tb_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int len = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (len >= 0 && (size_t)len < n)
        return TB_OK;
    char head[49] = "";
    if (n)
        tb_copy_str(head, sizeof head, out); /* what vsnprintf kept: the start */
    if (n)
        out[0] = '\0';
    if (len < 0)
        return tb_err_set(err, TB_EINVAL, "path could not be formatted: %s", head);
    return tb_err_set(err, TB_EINVAL, "path too long: %s... (%d chars, at most %zu)", head, len,
                      n ? n - 1 : 0);
}

int tb_list_each(const char *s, int (*fn)(const char *item, size_t len, void *ctx), void *ctx)
{
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        const size_t len = strcspn(s, ",");
        size_t end = len;
        while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        const int rc = fn(s, end, ctx);
        if (rc || !s[len])
            return rc;
        s += len + 1;
    }
}

struct list_find {
    const char *name;
    size_t len;
};

static int item_is(const char *item, size_t len, void *ctx)
{
    const struct list_find *f = ctx;
    return len == f->len && memcmp(item, f->name, len) == 0;
}

int tb_list_has(const char *list, const char *name)
{
    if (!list)
        return 1;
    struct list_find f = {name, strlen(name)};
    return tb_list_each(list, item_is, &f);
}

/* tb_read.h: non-blocking opens and bounded line reads. */
#include "harness/tb_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/platform/tb_platform.h"

#define LINES_CHUNK ((size_t)64 << 10)

int tb_max_line(size_t *out, struct tb_err *err)
{
    *out = TB_MAX_LINE_DEFAULT;
    const char *v = getenv(TB_MAX_LINE_ENV);
    if (!v || !*v)
        return TB_OK;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    unsigned shift = 0;
    if (end != v && (*end == 'K' || *end == 'k'))
        shift = 10, end++;
    else if (end != v && (*end == 'M' || *end == 'm'))
        shift = 20, end++;
    else if (end != v && (*end == 'G' || *end == 'g'))
        shift = 30, end++;
    const unsigned long long limit = 1ULL << 40;
    if (errno || end == v || *end || v[0] == '-' || x == 0 || x > (limit >> shift) ||
        (x << shift) > (unsigned long long)(SIZE_MAX / 2))
        return tb_err_set(err, TB_EINVAL,
                          "%s '%s': expected a line length in bytes (1 to 1T, suffix K, M or G)",
                          TB_MAX_LINE_ENV, v);
    *out = (size_t)(x << shift);
    return TB_OK;
}

void tb_format_line_cap(size_t cap, char *buf, size_t n)
{
    if (cap >= ((size_t)1 << 20) && cap % ((size_t)1 << 20) == 0)
        snprintf(buf, n, "%zu MiB", cap >> 20);
    else if (cap >= 1024 && cap % 1024 == 0)
        snprintf(buf, n, "%zu KiB", cap >> 10);
    else
        snprintf(buf, n, "%zu bytes", cap);
}

FILE *tb_fopen_read(const char *path, struct tb_err *err)
{
    int fd;
    if (tb_file_open_read(path, &fd, err))
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        const int e = errno;
        close(fd);
        tb_err_set(err, TB_EIO, "%s: cannot open: %s", path, strerror(e));
        errno = e;
    }
    return f;
}

int tb_lines_init(struct tb_lines *r, FILE *f, const char *path, size_t max, struct tb_err *err)
{
    *r = (struct tb_lines){.f = f, .path = path, .max = max};
    if (!r->max) {
        const int rc = tb_max_line(&r->max, err);
        if (rc)
            return rc;
    }
    r->cap = r->max + 2 < LINES_CHUNK ? r->max + 2 : LINES_CHUNK;
    r->buf = malloc(r->cap);
    if (!r->buf)
        return tb_err_set(err, TB_ENOMEM, "%s: out of memory", path);
    return TB_OK;
}

int tb_lines_open(struct tb_lines *r, const char *path, size_t max, struct tb_err *err)
{
    *r = (struct tb_lines){0};
    FILE *f = tb_fopen_read(path, err);
    if (!f)
        return err ? err->code : TB_EIO;
    const int rc = tb_lines_init(r, f, path, max, err);
    if (rc) {
        fclose(f);
        *r = (struct tb_lines){0};
        return rc;
    }
    r->own = 1;
    return TB_OK;
}

static int too_long(struct tb_lines *r, struct tb_err *err)
{
    char cap[32];
    tb_format_line_cap(r->max, cap, sizeof cap);
    return tb_err_set(err, TB_ERANGE, "%s:%zu: line longer than %s", r->path, r->line_no + 1, cap);
}

/* Makes room for more bytes after end: moves the pending bytes to the front,
 * then grows buf, never past what one line of max bytes + '\n' + the NUL
 * needs. */
static int make_room(struct tb_lines *r, struct tb_err *err)
{
    if (r->start) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->base += r->start;
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end + 1 < r->cap)
        return TB_OK;
    const size_t want = r->max + 2;
    size_t cap = r->cap * 2 < want ? r->cap * 2 : want;
    if (cap <= r->cap)
        return too_long(r, err); /* cannot happen: the caller checked the length */
    char *b = realloc(r->buf, cap);
    if (!b)
        return tb_err_set(err, TB_ENOMEM, "%s:%zu: out of memory reading a line of %zu bytes",
                          r->path, r->line_no + 1, r->end);
    r->buf = b;
    r->cap = cap;
    return TB_OK;
}

int tb_lines_next(struct tb_lines *r, char **line, size_t *len, struct tb_err *err)
{
    size_t scanned = 0; /* pending bytes already searched for '\n' */
    for (;;) {
        char *s = r->buf + r->start;
        const size_t have = r->end - r->start;
        char *nl = memchr(s + scanned, '\n', have - scanned);
        if (nl || (r->eof && have)) {
            const size_t n = nl ? (size_t)(nl - s) : have;
            if (n > r->max)
                return too_long(r, err);
            s[n] = '\0'; /* the '\n', or the byte after the tail (cap > end) */
            r->torn = !nl;
            r->offset = r->base + r->start;
            r->line_no++;
            r->start += nl ? n + 1 : n;
            *line = s;
            *len = n;
            return 1;
        }
        if (r->eof)
            return 0;
        if (have > r->max)
            return too_long(r, err);
        scanned = have;
        const int rc = make_room(r, err);
        if (rc)
            return rc;
        const size_t got = fread(r->buf + r->end, 1, r->cap - 1 - r->end, r->f);
        r->end += got;
        if (got == 0) {
            if (ferror(r->f))
                return tb_err_set(err, TB_EIO, "%s:%zu: read failed: %s", r->path, r->line_no + 1,
                                  strerror(errno));
            r->eof = 1;
        }
    }
}

void tb_lines_close(struct tb_lines *r)
{
    if (r->own && r->f)
        fclose(r->f);
    free(r->buf);
    *r = (struct tb_lines){0};
}

/* json_load_callback's source: the file, but never more than max bytes. */
struct capped {
    FILE *f;
    size_t max, n;
    int over, failed;
};

static size_t capped_read(void *buf, size_t size, void *data)
{
    struct capped *c = data;
    const size_t want = c->max - c->n + 1 < size ? c->max - c->n + 1 : size;
    const size_t got = fread(buf, 1, want, c->f);
    c->n += got;
    c->failed = ferror(c->f);
    c->over = c->n > c->max;
    return c->over || c->failed ? (size_t)-1 : got;
}

json_t *tb_json_load_path(const char *path, size_t max, size_t flags, struct tb_err *err)
{
    if (!max && tb_max_line(&max, err))
        return NULL;
    struct capped c = {.f = tb_fopen_read(path, err), .max = max};
    if (!c.f)
        return NULL;
    json_error_t je;
    json_t *doc = json_load_callback(capped_read, &c, flags, &je);
    if (!doc && c.over) {
        char cap[32];
        tb_format_line_cap(max, cap, sizeof cap);
        tb_err_set(err, TB_ERANGE, "%s: larger than %s", path, cap);
    } else if (!doc && c.failed) {
        tb_err_set(err, TB_EIO, "%s: read failed: %s", path, strerror(errno));
    } else if (!doc) {
        tb_err_set(err, TB_EFORMAT, "%s:%d: not valid JSON: %s", path, je.line, je.text);
    }
    fclose(c.f);
    return doc;
}

/* Reading files that a user names (issue 19): never block, never read
 * without a bound.
 *
 *   - tb_fopen_read opens through the platform's tb_file_open_read: a FIFO,
 *     directory, device or socket is a one-line error ("PATH: is a FIFO,
 *     not a regular file"), never a read that waits for ever.
 *   - tb_lines reads a text file line by line with a cap on the length of
 *     one line (default 16 MiB, $TB_MAX_LINE): a longer line is an error
 *     "PATH:LINE: line longer than 16 MiB" after reading at most about the
 *     cap, so a 1 GB line costs neither 1 GB nor minutes. The results,
 *     energy trace and profile readers use it; complete lines go to the
 *     parser (json_loadb, inih), which never sees the stream.
 *   - tb_json_load_path reads one small JSON document (a manifest) under
 *     the same cap. */
#ifndef TB_READ_H
#define TB_READ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_MAX_LINE_DEFAULT ((size_t)16 << 20)
#define TB_MAX_LINE_ENV "TB_MAX_LINE"

/* The line cap: $TB_MAX_LINE when set (bytes, or with a K, M or G suffix:
 * 1024-based, e.g. "64K", "16M"; 1 byte to 1 TiB), else 16 MiB. TB_EINVAL
 * "TB_MAX_LINE 'x': ..." for a value that is not such a size. */
int tb_max_line(size_t *out, struct tb_err *err);
/* "16 MiB", "64 KiB" or "100 bytes" into buf. */
void tb_format_line_cap(size_t cap, char *buf, size_t n);

/* fopen(path, "rb") through tb_file_open_read; NULL with err set (errno
 * as tb_file_open_read leaves it). */
FILE *tb_fopen_read(const char *path, struct tb_err *err);

struct tb_lines {
    FILE *f;
    const char *path; /* names the file in errors; not owned */
    size_t max;       /* longest line accepted, newline excluded */
    int own;          /* f was opened by tb_lines_open */
    char *buf;
    size_t cap, start, end; /* bytes [start, end) of buf are read, not yet returned */
    uint64_t base;          /* file offset of buf[0] */
    size_t line_no;         /* of the line last returned (1-based) */
    uint64_t offset;        /* file offset of the line last returned */
    int eof;
    int torn; /* the line last returned ended at end of file without '\n' */
};

/* Opens path (tb_fopen_read) for reading lines of at most max bytes; max 0
 * means tb_max_line(). */
int tb_lines_open(struct tb_lines *r, const char *path, size_t max, struct tb_err *err);
/* Reads lines from an open stream f (not closed by tb_lines_close); path
 * names it in errors; max as above. */
int tb_lines_init(struct tb_lines *r, FILE *f, const char *path, size_t max, struct tb_err *err);
/* The next line: 1 with *line (NUL-terminated at *len, the '\n' removed;
 * it may hold NUL bytes of its own, *len counts them) valid until the next
 * call; 0 at end of file; TB_ERANGE for a line longer than the cap, TB_EIO
 * for a read error, TB_ENOMEM. A last line without its '\n' is returned
 * too, with r->torn set: the caller decides what a torn tail means. */
int tb_lines_next(struct tb_lines *r, char **line, size_t *len, struct tb_err *err);
void tb_lines_close(struct tb_lines *r);

/* One JSON document from path, at most max bytes (0: tb_max_line()); NULL
 * with err set when it cannot be opened, is larger, or does not parse
 * ("PATH:LINE: not valid JSON: ..."). */
json_t *tb_json_load_path(const char *path, size_t max, size_t flags, struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif

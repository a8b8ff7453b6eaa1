/* Small pure helpers used across the layers: one copy each. */
#ifndef TB_UTIL_H
#define TB_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct tb_err;

#ifdef __cplusplus
extern "C" {
#endif

/* Copies src into dst[n] (n > 0), truncating; always NUL-terminated. */
void tb_copy_str(char *dst, size_t n, const char *src);

/* Bytes in binary units, the inverse of memory_budget parsing: exact when
 * whole ("888 KiB", "6 GiB"), else two decimals ("13.11 MiB"). Returns what
 * snprintf returns. */
int tb_format_bytes(uint64_t bytes, char *buf, size_t n);

/* Parses all of s as a base-10 integer in [lo, hi] into *out. 0, or -1 when
 * s is empty, has trailing characters or is out of range (*out unchanged). */
int tb_parse_int(const char *s, long lo, long hi, int *out);

/* The same for an unsigned 64-bit value (seeds): digits only, no sign, no
 * blanks, no trailing characters; 0 or -1 (*out unchanged). */
int tb_parse_u64(const char *s, uint64_t *out);

/* Formats a file system path into out[n] and checks that it fit: 0, or
 * TB_EINVAL ("path too long: <its start>... (N chars, at most n-1)") with
 * out set to "" -- never a truncated path, which would name another file.
 * Every path tierbench builds goes through this. */
int tb_path_join(char *out, size_t n, struct tb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Splits s at commas into items trimmed of blanks and tabs and calls
 * fn(item, len, ctx) for each, in order; len is 0 for an empty item ("a,,b",
 * a trailing comma, or s == ""). Stops at the first non-zero return of fn
 * and returns it; 0 when every item was taken. */
int tb_list_each(const char *s, int (*fn)(const char *item, size_t len, void *ctx), void *ctx);

/* Whether name is an item of the comma list (items trimmed as above); a
 * NULL list selects every name (an option that was not given). */
int tb_list_has(const char *list, const char *name);

#ifdef __cplusplus
}
#endif
#endif

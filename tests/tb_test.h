/* Minimal assertion helpers for CTest executables: a failed check prints
 * file:line and the expression and marks the test failed; main returns
 * tb_test_result(). Exit 77 means skipped (CTest SKIP_RETURN_CODE). */
#ifndef TB_TEST_H
#define TB_TEST_H

#include <stdio.h>

extern int tb_test_failures;
extern int tb_test_checks;

#define TB_SKIP_CODE 77

/* TB_ASAN: 1 in an AddressSanitizer build (its shadow memory counts in the
 * RSS and needs terabytes of address space: no RLIMIT_AS under it), else 0. */
#if defined(__SANITIZE_ADDRESS__)
#define TB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TB_ASAN 1
#endif
#endif
#ifndef TB_ASAN
#define TB_ASAN 0
#endif

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        tb_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            tb_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        tb_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            tb_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Prints "N checks, M failed" and returns the process exit code. */
int tb_test_result(const char *name);
/* Directory for temporary files ($TB_TEST_TMP or /tmp); writes a unique
 * path "DIR/tb-<tag>-<pid>-<n><suffix>" into buf. */
const char *tb_test_path(char *buf, size_t n, const char *tag, const char *suffix);
/* Writes text to path (a failed CHECK when it cannot). */
void tb_test_write_file(const char *path, const char *text);
/* Runs fn(arg) in a forked child with file sizes capped at limit bytes
 * (writes past the cap fail with EFBIG, standing in for ENOSPC; SIGXFSZ is
 * ignored); returns the child's exit code, 100 + the signal if it died. */
int tb_test_with_fsize_limit(long limit, int (*fn)(void *), void *arg);

#endif

/* tb_error.h: codes survive prefixing, also without a tb_err; a message
 * too long for its buffer keeps its reason whole and shortens the path.
 * tb_util.h's checked path building and strict integer parsing. */
#include "kernels/tb_error.h"
#include "kernels/tb_util.h"
#include "tb_test.h"

#include <string.h>

static void test_wrap_keeps_code(void)
{
    /* no tb_err: the caller's code comes back, not a made-up one */
    CHECK(tb_err_wrap(NULL, TB_EIO, "reading %s", "x.gguf") == TB_EIO);
    CHECK(tb_err_wrap(NULL, TB_EBUDGET, "plan") == TB_EBUDGET);

    struct tb_err e;
    tb_err_set(&e, TB_EFORMAT, "x.gguf: offset 8: bad count");
    CHECK(tb_err_wrap(&e, TB_EFORMAT, "model %d", 3) == TB_EFORMAT);
    CHECK(e.code == TB_EFORMAT);
    CHECK(strcmp(e.msg, "model 3: x.gguf: offset 8: bad count") == 0);

    /* a callee that returned a code without filling e: e gets the code */
    tb_err_clear(&e);
    CHECK(tb_err_wrap(&e, TB_ENOMEM, "cache") == TB_ENOMEM);
    CHECK(e.code == TB_ENOMEM && strncmp(e.msg, "cache: ", 7) == 0);
}

static void test_prefix(void)
{
    struct tb_err e;
    tb_err_set(&e, TB_EBACKEND, "cannot start thread 3 of 4");
    CHECK(tb_err_wrap(&e, TB_EBACKEND, "cpu") == TB_EBACKEND);
    CHECK(strcmp(e.msg, "cpu: cannot start thread 3 of 4") == 0);
    /* without an error struct the failing call's code still comes back */
    CHECK(tb_err_wrap(NULL, TB_EFORMAT, "cpu") == TB_EFORMAT);
}

static void test_one_line_and_bounds(void)
{
    struct tb_err e;
    tb_err_set(&e, TB_EFORMAT, "key 'a\nb'");
    CHECK(tb_err_wrap(&e, TB_EFORMAT, "file\r%s", "x") == TB_EFORMAT);
    CHECK(!strchr(e.msg, '\n') && !strchr(e.msg, '\r'));
    char big[2 * TB_ERR_MSG_MAX];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(tb_err_wrap(&e, TB_ERANGE, "%s", big) == TB_ERANGE);
    CHECK(strlen(e.msg) == TB_ERR_MSG_MAX - 1);
}

/* A path of len bytes: /aaaa.../NAME */
static void long_path(char *buf, size_t len, const char *name)
{
    const size_t nl = strlen(name);
    buf[0] = '/';
    for (size_t i = 1; i + nl + 1 < len; i++)
        buf[i] = (char)(i % 97 == 0 ? '/' : 'a' + (char)(i % 26));
    buf[len - nl - 1] = '/';
    memcpy(buf + len - nl, name, nl + 1);
}

static void test_long_path_keeps_reason(void)
{
    char path[4001];
    long_path(path, 4000, "coverage.csv");
    CHECK(strlen(path) == 4000);
    struct tb_err e;
    CHECK(tb_err_set(&e, TB_EIO, "results: cannot create '%s': %s", path, "File name too long") ==
          TB_EIO);
    CHECK(strlen(e.msg) == TB_ERR_MSG_MAX - 1);
    CHECKF(strncmp(e.msg, "results: cannot create '/", 25) == 0, "%s", e.msg);
    const char *tail = "/coverage.csv': File name too long";
    CHECKF(strlen(e.msg) > strlen(tail) && !strcmp(e.msg + strlen(e.msg) - strlen(tail), tail),
           "the reason must stay whole: %s", e.msg);
    CHECK(strstr(e.msg, "...") != NULL);

    /* a path in the prefix, the callee's reason after it */
    tb_err_set(&e, TB_EFORMAT, "offset 8: tensor count 4294967295 exceeds the file");
    CHECK(tb_err_wrap(&e, TB_EFORMAT, "loading %s", path) == TB_EFORMAT);
    CHECK(strlen(e.msg) < TB_ERR_MSG_MAX && strncmp(e.msg, "loading /", 9) == 0);
    CHECKF(strstr(e.msg, "coverage.csv: offset 8: tensor count 4294967295 exceeds the file") !=
               NULL,
           "%s", e.msg);

    /* two long paths: both shortened, every word kept */
    char other[3001];
    long_path(other, 3000, "b.gguf");
    tb_err_set(&e, TB_EIO, "rename %s -> %s failed: %s", path, other, "No space left on device");
    CHECKF(strstr(e.msg, "coverage.csv -> /") &&
               strstr(e.msg, "b.gguf failed: No space left on device"),
           "%s", e.msg);
    CHECK(strlen(e.msg) == TB_ERR_MSG_MAX - 1);
    /* shortened alike: neither path is cut to a few bytes while the other stays long */
    const char *arrow = strstr(e.msg, " -> ");
    const size_t first = arrow ? (size_t)(arrow - e.msg) - strlen("rename ") : 0;
    const size_t second =
        arrow ? strlen(arrow + 4) - strlen(" failed: No space left on device") : 0;
    CHECKF(first > 200 && second > 200 && (first > second ? first - second : second - first) <= 2,
           "%zu vs %zu: %s", first, second, e.msg);

    /* short words only: cut at the end, still bounded */
    char words[3 * TB_ERR_MSG_MAX];
    for (size_t i = 0; i < sizeof words - 1; i++)
        words[i] = i % 5 == 4 ? ' ' : 'w';
    words[sizeof words - 1] = '\0';
    tb_err_set(&e, TB_EINVAL, "%s", words);
    CHECK(strlen(e.msg) == TB_ERR_MSG_MAX - 1 && !strncmp(e.msg, "wwww wwww", 9));

    /* multi-byte characters are never split */
    char utf[1200];
    size_t n = 0;
    while (n + 2 < sizeof utf - 1) {
        utf[n++] = (char)0xC3;
        utf[n++] = (char)0xA9; /* e-acute */
    }
    utf[n] = '\0';
    tb_err_set(&e, TB_EIO, "%s: gone", utf);
    const char *dots = strstr(e.msg, "...");
    CHECK(dots && dots > e.msg && (unsigned char)dots[-1] == 0xA9 &&
          (unsigned char)dots[3] == 0xC3);
    CHECK(strcmp(e.msg + strlen(e.msg) - 6, ": gone") == 0);
}

static void test_path_join(void)
{
    struct tb_err e = {0};
    char buf[16];
    CHECK(tb_path_join(buf, sizeof buf, &e, "%s/%s", "dir", "file.csv") == TB_OK);
    CHECK(!strcmp(buf, "dir/file.csv"));
    CHECK(tb_path_join(buf, sizeof buf, &e, "%s/%s", "dirdir", "12345678") == TB_OK); /* 15 */
    CHECK(strlen(buf) == 15);
    /* one more byte: an error, and no truncated path left to use */
    CHECK(tb_path_join(buf, sizeof buf, &e, "%s/%s", "dirdir", "123456789") == TB_EINVAL);
    CHECK(buf[0] == '\0');
    CHECKF(strstr(e.msg, "path too long: dirdir/12345678...") &&
               strstr(e.msg, "(16 chars, at most 15)"),
           "%s", e.msg);
    CHECK(tb_path_join(buf, sizeof buf, NULL, "%s", "0123456789abcdefXYZ") == TB_EINVAL);
    char big[5000];
    long_path(big, 4500, "x");
    char out[1024];
    CHECK(tb_path_join(out, sizeof out, &e, "%s/reference", big) == TB_EINVAL);
    CHECK(strstr(e.msg, "(4510 chars, at most 1023)") != NULL && out[0] == '\0');
}

static void test_parse_strict(void)
{
    int v = 7;
    CHECK(tb_parse_int("1.9", 1, 1024, &v) == -1 && v == 7);
    CHECK(tb_parse_int("2x", 1, 1024, &v) == -1 && tb_parse_int("", 1, 9, &v) == -1);
    CHECK(tb_parse_int("12", 1, 1024, &v) == 0 && v == 12);
    uint64_t u = 5;
    CHECK(tb_parse_u64("18446744073709551615", &u) == 0 && u == UINT64_MAX);
    CHECK(tb_parse_u64("18446744073709551616", &u) == -1 && u == UINT64_MAX);
    CHECK(tb_parse_u64("-1", &u) == -1 && tb_parse_u64(" 1", &u) == -1);
    CHECK(tb_parse_u64("1.0", &u) == -1 && tb_parse_u64("1e3", &u) == -1);
    CHECK(tb_parse_u64("", &u) == -1 && tb_parse_u64("42", &u) == 0 && u == 42);
}

int main(void)
{
    test_wrap_keeps_code();
    test_prefix();
    test_one_line_and_bounds();
    test_long_path_keeps_reason();
    test_path_join();
    test_parse_strict();
    return tb_test_result("test_error");
}

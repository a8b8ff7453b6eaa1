/* tb_error.h: codes survive prefixing, also without a tb_err. */
#include "kernels/tb_error.h"
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

int main(void)
{
    test_wrap_keeps_code();
    test_prefix();
    test_one_line_and_bounds();
    return tb_test_result("test_error");
}

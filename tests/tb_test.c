#include "tb_test.h"

#include <stdlib.h>
#include <unistd.h>

int tb_test_failures;
int tb_test_checks;

int tb_test_result(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, tb_test_checks, tb_test_failures);
    return tb_test_failures ? 1 : 0;
}

const char *tb_test_path(char *buf, size_t n, const char *tag, const char *suffix)
{
    static int counter; /* test helper only, single-threaded use */
    const char *dir = getenv("TB_TEST_TMP");
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(buf, n, "%s/tb-%s-%d-%d%s", dir, tag, (int)getpid(), counter++, suffix ? suffix : "");
    return buf;
}

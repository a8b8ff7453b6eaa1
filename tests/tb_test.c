#include "tb_test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

void tb_test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECKF(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        CHECKF(fclose(f) == 0, "cannot write %s", path);
    }
}

int tb_test_with_fsize_limit(long limit, int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(3);
        _exit(fn(arg));
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

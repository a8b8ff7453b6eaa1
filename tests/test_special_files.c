/* Issue 19, item 3: every command that reads a user-given file, given a FIFO
 * (no writer), a directory or a device, ends with a one-line error naming
 * the path and what it is, instead of blocking for ever. Each command runs
 * the tierbench binary under a guard: a child that has not ended after
 * TB_TEST_GUARD_S seconds (default 120; only a hang gets near it) is killed
 * and the check fails. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tb_test.h"

static const char *g_bin;
static char g_dir[512];
static int g_guard_s = 120;

struct outcome {
    int hung;      /* killed by the guard */
    int exit_code; /* -1 when it did not exit normally */
    char out[8192];
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Runs tierbench with args (NULL-terminated) and stdin from /dev/null,
 * stdout and stderr into one file, then reads it back. */
static void run_tb(struct outcome *o, const char *const *args)
{
    memset(o, 0, sizeof *o);
    o->exit_code = -1;
    char log[700];
    snprintf(log, sizeof log, "%s/out.log", g_dir);
    const char *argv[32] = {g_bin};
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0)
            _exit(126);
        dup2(in, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        setpgid(0, 0);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    int st = 0;
    long waited_ms = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (waited_ms >= (long)g_guard_s * 1000) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            o->hung = 1;
            break;
        }
        sleep_ms(20);
        waited_ms += 20;
    }
    if (!o->hung && WIFEXITED(st))
        o->exit_code = WEXITSTATUS(st);
    FILE *f = fopen(log, "r");
    if (f) {
        size_t got = fread(o->out, 1, sizeof o->out - 1, f);
        o->out[got] = '\0';
        fclose(f);
    }
}

/* The command ended (not hung) with output naming path and what it is. */
static void expect_refused(const char *what, const char *path, const char *kind, int want_fail,
                           const char *const *args)
{
    struct outcome o;
    run_tb(&o, args);
    char want[700];
    snprintf(want, sizeof want, "%s: is %s, not a regular file", path, kind);
    CHECKF(!o.hung, "%s: still blocked after %d s (killed)", what, g_guard_s);
    CHECKF(strstr(o.out, want) != NULL, "%s: output lacks '%s':\n%s", what, want, o.out);
    if (want_fail)
        CHECKF(o.exit_code > 0, "%s: exit %d, expected a failure", what, o.exit_code);
}

static const char *k_record =
    "{\"schema_version\":1,\"timestamp\":\"2026-12-01T00:00:00Z\",\"workload\":\"llm-decode\","
    "\"profile\":\"p\",\"config\":\"c\",\"metric\":\"tpot_ms\",\"unit\":\"ms\",\"valid\":true,"
    "\"samples\":[1.0,1.1,0.9,1.0,1.2]}\n";

static const char *k_tiny = "[profile]\nname = tiny\ntier = mcu\nthreads = 1\nisa_cap = scalar\n"
                            "memory_budget = 64 MiB\nweight_types = q8_0\nbackends = cpu\n"
                            "energy_source = none\n"
                            "[workload.llm-decode]\nmodel = synth:mcu-260k:q8_0\nprompt = 4\n"
                            "n_predict = 2\n";

int main(void)
{
    g_bin = getenv("TB_BIN");
    if (!g_bin) {
        fprintf(stderr, "TB_BIN is not set (run through ctest)\n");
        return 1;
    }
    const char *gs = getenv("TB_TEST_GUARD_S");
    if (gs && atoi(gs) > 0)
        g_guard_s = atoi(gs);
    tb_test_path(g_dir, sizeof g_dir, "special", "");
    CHECK(mkdir(g_dir, 0755) == 0);

    char fifo[600], dir[600], dev[] = "/dev/null", fifo_ini[700], prof[600], res[600], res2[600],
                              p[800], cache[600], out[600], db[600], rep[600];
    snprintf(fifo, sizeof fifo, "%s/fifo.jsonl", g_dir);
    snprintf(dir, sizeof dir, "%s/a-directory", g_dir);
    CHECK(mkfifo(fifo, 0644) == 0);
    CHECK(mkdir(dir, 0755) == 0);

    /* model info, infer: the GGUF open */
    expect_refused("model info FIFO", fifo, "a FIFO", 1,
                   (const char *const[]){"model", "info", fifo, NULL});
    expect_refused("model info DIR", dir, "a directory", 1,
                   (const char *const[]){"model", "info", dir, NULL});
    expect_refused("model info /dev/null", dev, "a character device", 1,
                   (const char *const[]){"model", "info", dev, NULL});
    expect_refused("infer FIFO", fifo, "a FIFO", 1,
                   (const char *const[]){"infer", "--model", fifo, "--tokens", "1,2", NULL});

    /* profiles validate: the INI reader */
    expect_refused("profiles validate FIFO", fifo, "a FIFO", 1,
                   (const char *const[]){"profiles", "validate", fifo, NULL});
    expect_refused("profiles validate DIR", dir, "a directory", 1,
                   (const char *const[]){"profiles", "validate", dir, NULL});
    expect_refused("profiles validate /dev/null", dev, "a character device", 1,
                   (const char *const[]){"profiles", "validate", dev, NULL});

    /* compare, report, store add: a results file that is a FIFO, a results
     * directory whose results.jsonl is one, one whose manifest.json is one */
    snprintf(res, sizeof res, "%s/res-fifo", g_dir);
    CHECK(mkdir(res, 0755) == 0);
    snprintf(p, sizeof p, "%s/results.jsonl", res);
    CHECK(mkfifo(p, 0644) == 0);
    char res_jsonl[800];
    snprintf(res_jsonl, sizeof res_jsonl, "%s", p);
    snprintf(res2, sizeof res2, "%s/res-manifest-fifo", g_dir);
    CHECK(mkdir(res2, 0755) == 0);
    snprintf(p, sizeof p, "%s/results.jsonl", res2);
    tb_test_write_file(p, k_record);
    snprintf(p, sizeof p, "%s/manifest.json", res2);
    CHECK(mkfifo(p, 0644) == 0);
    char manifest[800];
    snprintf(manifest, sizeof manifest, "%s", p);
    snprintf(rep, sizeof rep, "%s/report", g_dir);
    snprintf(db, sizeof db, "%s/store.db", g_dir);

    expect_refused("compare FIFO", fifo, "a FIFO", 1,
                   (const char *const[]){"compare", fifo, res2, NULL});
    expect_refused("compare DIR/results.jsonl FIFO", res_jsonl, "a FIFO", 1,
                   (const char *const[]){"compare", res, res2, NULL});
    expect_refused("compare DIR/manifest.json FIFO", manifest, "a FIFO", 1,
                   (const char *const[]){"compare", res2, res2, NULL});
    expect_refused("compare /dev/null", dev, "a character device", 1,
                   (const char *const[]){"compare", dev, res2, NULL});
    expect_refused("report FIFO", fifo, "a FIFO", 1,
                   (const char *const[]){"report", fifo, "-o", rep, NULL});
    expect_refused("report DIR/manifest.json FIFO", manifest, "a FIFO", 1,
                   (const char *const[]){"report", res2, "-o", rep, NULL});
    expect_refused("store add FIFO", fifo, "a FIFO", 1,
                   (const char *const[]){"store", "add", "--db", db, fifo, NULL});
    expect_refused("store add DIR/results.jsonl FIFO", res_jsonl, "a FIFO", 1,
                   (const char *const[]){"store", "add", "--db", db, res, NULL});

    /* run --timeout 0: a profile that is a FIFO, a model that is one, and a
     * power trace that is one (the record says why energy is missing) */
    snprintf(prof, sizeof prof, "%s/profiles", g_dir);
    CHECK(mkdir(prof, 0755) == 0);
    snprintf(fifo_ini, sizeof fifo_ini, "%s/fifo.ini", prof);
    CHECK(mkfifo(fifo_ini, 0644) == 0);
    snprintf(cache, sizeof cache, "%s/cache", g_dir);
    snprintf(out, sizeof out, "%s/out", g_dir);
    expect_refused("run --profiles-dir with a FIFO .ini", fifo_ini, "a FIFO", 1,
                   (const char *const[]){"run", "--timeout", "0", "--profiles-dir", prof, "--cache",
                                         cache, "--out", out, "--quiet", NULL});
    CHECK(unlink(fifo_ini) == 0);
    snprintf(p, sizeof p, "%s/tiny.ini", prof);
    tb_test_write_file(p, k_tiny);
    /* the record (--json) names the FIFO and the failed configuration
     * fails the run (exit 4, item 1) */
    expect_refused("run --model FIFO", fifo, "a FIFO", 1,
                   (const char *const[]){"run", "--timeout", "0", "--profiles-dir", prof, "--model",
                                         fifo, "--cache", cache, "--out", out, "--json", "--quiet",
                                         NULL});
    /* a power trace that cannot be read costs the energy figure, not the
     * measurement: the record says why, the run may pass */
    char energy[700];
    snprintf(energy, sizeof energy, "trace:%s", fifo);
    expect_refused("run --energy trace:FIFO", fifo, "a FIFO", 0,
                   (const char *const[]){"run",     "--timeout",
                                         "0",       "--profiles-dir",
                                         prof,      "--energy",
                                         energy,    "--reps",
                                         "2",       "--min-time",
                                         "0",       "--warmup",
                                         "0",       "--accuracy-positions",
                                         "0",       "--cache",
                                         cache,     "--out",
                                         out,       "--json",
                                         "--quiet", NULL});
    return tb_test_result("test_special_files");
}

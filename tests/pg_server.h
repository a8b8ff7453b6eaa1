/* A throw-away PostgreSQL server for a test (header-only: static functions).
 *
 * Debian's server binaries (/usr/lib/postgresql/<N>/bin, or $TB_PG_BIN) run
 * initdb + pg_ctl start in a fresh private directory under /tmp, listening
 * on a Unix socket in that directory only (listen_addresses = ''); the port
 * number only names the socket file. initdb and postgres refuse to run as
 * root, so under root they run as the "postgres" user (runuser), the
 * directory owned by it. A watchdog process stops the server (pg_ctl stop
 * -m fast) and removes the directory when the test process ends in any way
 * (its pipe closes), so a failed or crashed test leaves no server behind.
 * pg_start returns 77 (skip) with the reason where the binaries are missing
 * or cannot run. */
#ifndef TB_PG_SERVER_H
#define TB_PG_SERVER_H

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct pg_server {
    char bin[256];     /* server binaries */
    char dir[64];      /* /tmp/tbpg-XXXXXX: data/, the socket, logs */
    char as_user[300]; /* "runuser -u postgres -- " under root, else "" */
    int port;
    int watch_fd; /* write end of the watchdog's pipe */
    pid_t watchdog;
    double initdb_s, start_s; /* measured */
    char why[512];            /* why it was skipped */
};

static double pg_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int pg_find_bin(struct pg_server *pg)
{
    const char *env = getenv("TB_PG_BIN");
    if (env && *env) {
        snprintf(pg->bin, sizeof pg->bin, "%s", env);
        return 0;
    }
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *e;
    int best = 0;
    while (d && (e = readdir(d))) {
        int v = atoi(e->d_name);
        char p[300];
        snprintf(p, sizeof p, "/usr/lib/postgresql/%s/bin/postgres", e->d_name);
        if (v > best && !access(p, X_OK)) {
            best = v;
            snprintf(pg->bin, sizeof pg->bin, "/usr/lib/postgresql/%d/bin", v);
        }
    }
    if (d)
        closedir(d);
    return best ? 0 : -1;
}

static int pg_sh(const char *cmd)
{
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The server's log tail into why (for a skip or a failure message). */
static void pg_log_tail(struct pg_server *pg, const char *log)
{
    char p[128], line[256];
    snprintf(p, sizeof p, "%s/%s", pg->dir, log);
    FILE *f = fopen(p, "r");
    size_t l = strlen(pg->why);
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "FATAL") || strstr(line, "ERROR") || strstr(line, "error"))
            l += (size_t)snprintf(pg->why + l, l < sizeof pg->why ? sizeof pg->why - l : 0,
                                  " | %.*s", (int)strcspn(line, "\n"), line);
    if (f)
        fclose(f);
}

static void pg_stop_now(const struct pg_server *pg)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s'%s/pg_ctl' -D '%s/data' -m fast -w -t 30 stop >/dev/null 2>&1",
             pg->as_user, pg->bin, pg->dir);
    pg_sh(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pg->dir);
    pg_sh(cmd);
}

/* The watchdog: waits for its pipe to close (the test ended), then stops. */
static int pg_watch(struct pg_server *pg)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (!pid) {
        close(fds[1]);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        char b;
        while (read(fds[0], &b, 1) > 0)
            ;
        pg_stop_now(pg);
        _exit(0);
    }
    close(fds[0]);
    pg->watch_fd = fds[1];
    pg->watchdog = pid;
    return 0;
}

/* 0 = running, 77 = skip (pg->why says why), 1 = failure (pg->why). */
static int pg_start(struct pg_server *pg)
{
    memset(pg, 0, sizeof *pg);
    pg->watch_fd = -1;
    if (pg_find_bin(pg)) {
        snprintf(pg->why, sizeof pg->why,
                 "no PostgreSQL server binaries (/usr/lib/postgresql/N/bin; install Debian's "
                 "postgresql package, or set TB_PG_BIN)");
        return 77;
    }
    char p[400];
    snprintf(p, sizeof p, "%s/initdb", pg->bin);
    if (access(p, X_OK)) {
        snprintf(pg->why, sizeof pg->why, "%s is not executable", p);
        return 77;
    }
    snprintf(pg->dir, sizeof pg->dir, "/tmp/tbpg-XXXXXX");
    if (!mkdtemp(pg->dir)) {
        snprintf(pg->why, sizeof pg->why, "mkdtemp /tmp/tbpg-XXXXXX failed");
        return 1;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw || access("/usr/sbin/runuser", X_OK)) {
            snprintf(pg->why, sizeof pg->why,
                     "running as root, and initdb refuses root: no 'postgres' user or no "
                     "runuser to run the server as");
            rmdir(pg->dir);
            return 77;
        }
        if (chown(pg->dir, pw->pw_uid, pw->pw_gid)) {
            snprintf(pg->why, sizeof pg->why, "chown %s to postgres failed", pg->dir);
            rmdir(pg->dir);
            return 1;
        }
        snprintf(pg->as_user, sizeof pg->as_user, "/usr/sbin/runuser -u postgres -- ");
    }
    pg->port = 5432; /* names the socket file in our private directory only */
    if (pg_watch(pg)) {
        snprintf(pg->why, sizeof pg->why, "cannot start the watchdog");
        return 1;
    }
    char cmd[2000];
    double t0 = pg_now();
    snprintf(cmd, sizeof cmd,
             "%s'%s/initdb' -D '%s/data' -A trust -U tb -E UTF8 --no-sync >'%s/initdb.log' 2>&1",
             pg->as_user, pg->bin, pg->dir, pg->dir);
    if (pg_sh(cmd)) {
        snprintf(pg->why, sizeof pg->why, "initdb cannot run here:");
        pg_log_tail(pg, "initdb.log");
        return 77;
    }
    double t1 = pg_now();
    snprintf(cmd, sizeof cmd,
             "%s'%s/pg_ctl' -D '%s/data' -w -t 60 -l '%s/server.log' -o \"-c listen_addresses='' "
             "-c unix_socket_directories='%s' -p %d -c fsync=off -c max_connections=40\" start "
             ">'%s/pg_ctl.log' 2>&1",
             pg->as_user, pg->bin, pg->dir, pg->dir, pg->dir, pg->port, pg->dir);
    if (pg_sh(cmd)) {
        snprintf(pg->why, sizeof pg->why, "the server cannot start here:");
        pg_log_tail(pg, "server.log");
        return 77;
    }
    pg->initdb_s = t1 - t0;
    pg->start_s = pg_now() - t1;
    return 0;
}

/* Stops the server (through the watchdog) and waits for it. */
static void pg_stop(struct pg_server *pg)
{
    if (pg->watch_fd >= 0)
        close(pg->watch_fd);
    pg->watch_fd = -1;
    if (pg->watchdog > 0)
        waitpid(pg->watchdog, NULL, 0);
    pg->watchdog = 0;
}

/* URI of database db on the server. */
static void pg_url(const struct pg_server *pg, const char *db, char *out, size_t n)
{
    snprintf(out, n, "postgresql://tb@/%s?host=%s&port=%d", db, pg->dir, pg->port);
}

/* Runs SQL through psql on database db; its unaligned output (-At) into
 * out (NULL: discarded). Returns psql's exit status. */
static int pg_psql(const struct pg_server *pg, const char *db, const char *sql, char *out, size_t n)
{
    char url[300], tmp[128], cmd[4096];
    pg_url(pg, db, url, sizeof url);
    snprintf(tmp, sizeof tmp, "%s/psql-%d.out", pg->dir, (int)getpid());
    snprintf(cmd, sizeof cmd, "'%s/psql' -X -q -At -v ON_ERROR_STOP=1 -d '%s' -c \"%s\" >'%s' 2>&1",
             pg->bin, url, sql, tmp);
    int rc = pg_sh(cmd);
    if (out && n) {
        out[0] = '\0';
        FILE *f = fopen(tmp, "r");
        size_t k = f ? fread(out, 1, n - 1, f) : 0;
        out[k] = '\0';
        while (k && (out[k - 1] == '\n'))
            out[--k] = '\0';
        if (f)
            fclose(f);
    }
    unlink(tmp);
    return rc;
}

#endif

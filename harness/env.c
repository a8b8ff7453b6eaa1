#include "harness/tb_env.h"
#include "kernels/platform/tb_platform.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <glob.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "harness/tb_results.h"
#include "harness/tb_topo.h"

extern char **environ;

#ifndef TB_VERSION
#define TB_VERSION "unknown"
#endif
#ifndef TB_GIT_COMMIT
#define TB_GIT_COMMIT "unknown"
#endif
#ifndef TB_COMPILER
#define TB_COMPILER "unknown"
#endif
#ifndef TB_C_FLAGS
#define TB_C_FLAGS "unknown"
#endif
#ifdef TB_SOURCE_DIR
#define TB_SOURCE_DIR_STR TB_SOURCE_DIR
#else
#define TB_SOURCE_DIR_STR ""
#endif
#ifndef TB_BUILD_TYPE
#define TB_BUILD_TYPE "unknown"
#endif

/* json_object_set_new that tolerates a NULL value (allocation failure) by
 * reporting it through the accumulated flag */
static int set_new(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) != 0;
}

static json_t *unavailable(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *unavailable(const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "unavailable: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    return json_string(msg);
}

/* First line of a small text file, trailing whitespace removed. */
static int read_line(const char *path, char *buf, size_t n, int *err_no)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        *err_no = errno;
        return -1;
    }
    char *ok = fgets(buf, (int)n, f);
    int e = errno;
    fclose(f);
    if (!ok) {
        *err_no = e ? e : EIO;
        return -1;
    }
    size_t len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        buf[--len] = '\0';
    return 0;
}

static json_t *file_value(const char *path, int as_integer)
{
    char buf[256];
    int e = 0;
    if (read_line(path, buf, sizeof buf, &e) != 0)
        return unavailable("%s: %s", path, strerror(e));
    if (as_integer) {
        char *end;
        long long v = strtoll(buf, &end, 10);
        if (end == buf || *end)
            return unavailable("%s: not an integer ('%s')", path, buf);
        return json_integer(v);
    }
    return json_string(buf);
}

/* ---------------------------------------------------------- git state */

/* Runs argv (no shell: the source path needs no quoting), capturing stdout
 * and stderr together. Returns the exit status, or -1 with *why set. */
static int run_capture(char *const argv[], char *out, size_t n, const char **why)
{
    int fds[2];
    if (pipe(fds) != 0) {
        *why = strerror(errno);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int src = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (src != 0) {
        close(fds[0]);
        *why = src == ENOENT ? "git not found in PATH" : strerror(src);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        char tmp[1024];
        ssize_t r = read(fds[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        /* keep draining so the child never blocks on a full pipe */
        size_t take = (size_t)r < n - 1 - len ? (size_t)r : n - 1 - len;
        memcpy(out + len, tmp, take);
        len += take;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            *why = strerror(errno);
            return -1;
        }
    }
    if (!WIFEXITED(status)) {
        *why = "git was killed by a signal";
        return -1;
    }
    return WEXITSTATUS(status);
}

static void first_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
}

static int capture_git(json_t *tb)
{
    int bad = 0;
    const char *src = TB_SOURCE_DIR_STR;
    struct stat st;
    if (!*src || stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) {
        bad |=
            set_new(tb, "source_git_commit", unavailable("source directory '%s' not present", src));
        bad |=
            set_new(tb, "source_git_dirty", unavailable("source directory '%s' not present", src));
        return bad;
    }
    char out[4096];
    const char *why = NULL;
    char *rev[] = {"git", "-C", (char *)src, "rev-parse", "--short=12", "HEAD", NULL};
    int rc = run_capture(rev, out, sizeof out, &why);
    if (rc != 0) {
        first_line(out);
        json_t *u = rc < 0 ? unavailable("%s", why) : unavailable("git rev-parse failed: %s", out);
        bad |= set_new(tb, "source_git_commit", u);
        bad |= set_new(tb, "source_git_dirty", json_deep_copy(u));
        return bad;
    }
    first_line(out);
    bad |= set_new(tb, "source_git_commit", json_string(out));
    /* untracked files count as dirty: the build globs every .c file */
    char *status[] = {"git", "-C", (char *)src, "status", "--porcelain", NULL};
    rc = run_capture(status, out, sizeof out, &why);
    if (rc != 0) {
        first_line(out);
        bad |= set_new(tb, "source_git_dirty",
                       rc < 0 ? unavailable("%s", why) : unavailable("git status failed: %s", out));
    } else {
        bad |= set_new(tb, "source_git_dirty", json_boolean(out[0] != '\0'));
    }
    return bad;
}

/* ---------------------------------------------------------------- cpu */

/* cpu.model from hwloc's CPUModel info, and the environment's topology_hash,
 * from topology t (NULL: the live host's, loaded here). */
static int capture_topology(json_t *env, json_t *cpu, const struct tb_topo *t)
{
    struct tb_topo *own = NULL;
    struct tb_err te = {0};
    if (!t && tb_topo_open_host(&own, &te) == TB_OK)
        t = own;
    int bad = 0;
    if (!t) {
        bad |= set_new(cpu, "model", unavailable("%s", te.msg));
        return bad | set_new(env, "topology_hash", unavailable("%s", te.msg));
    }
    char model[256], hash[TB_HASH_STR_MAX];
    if (tb_topo_cpu_model(t, model, sizeof model, &te) == TB_OK)
        bad |= set_new(cpu, "model", json_string(model));
    else
        bad |= set_new(cpu, "model", unavailable("%s", te.msg));
    if (tb_topo_hash(t, hash, &te) == TB_OK)
        bad |= set_new(env, "topology_hash", json_string(hash));
    else
        bad |= set_new(env, "topology_hash", unavailable("%s", te.msg));
    tb_topo_free(own);
    return bad;
}

/* The ISA flags stay read from /proc/cpuinfo: hwloc has no flags, and the
 * kernel's list is the honest one (it leaves out what the kernel masked or
 * cannot save, e.g. AVX-512 without XSAVE support), unlike raw CPUID. */
static int capture_cpu(json_t *cpu)
{
    int bad = 0;
    FILE *f = fopen("/proc/cpuinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    int have_flags = 0;
    if (f) {
        while (getline(&line, &cap, f) > 0) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            char *val = colon + 1;
            while (*val == ' ' || *val == '\t')
                val++;
            val[strcspn(val, "\n")] = '\0';
            size_t klen = strcspn(line, "\t:");
            /* x86: "flags"; arm64: "Features" */
            if (!have_flags && ((klen == 5 && !strncmp(line, "flags", 5)) ||
                                (klen == 8 && !strncmp(line, "Features", 8)))) {
                json_t *arr = json_array();
                for (char *save, *tok = strtok_r(val, " ", &save); arr && tok;
                     tok = strtok_r(NULL, " ", &save))
                    bad |= json_array_append_new(arr, json_string(tok)) != 0;
                bad |= set_new(cpu, "isa_flags", arr);
                have_flags = 1;
            }
        }
        free(line);
        fclose(f);
    }
    int e = errno;
    if (!have_flags)
        bad |= set_new(cpu, "isa_flags",
                       f ? unavailable("no 'flags' in /proc/cpuinfo")
                         : unavailable("/proc/cpuinfo: %s", strerror(e)));
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    bad |= set_new(cpu, "logical_cpus_online",
                   online > 0 ? json_integer(online) : unavailable("sysconf: %s", strerror(errno)));

    /* governors of every CPU: a mixed setting is worth seeing */
    glob_t g;
    int grc = glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor", 0, NULL, &g);
    if (grc == 0) {
        char govs[256] = "";
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char buf[64];
            int err_no;
            if (read_line(g.gl_pathv[i], buf, sizeof buf, &err_no) != 0)
                continue;
            size_t bl = strlen(buf);
            int seen = 0;
            for (char *p = govs; (p = strstr(p, buf)) != NULL; p += bl)
                if ((p == govs || p[-1] == ',') && (p[bl] == ',' || p[bl] == '\0'))
                    seen = 1;
            if (!seen && strlen(govs) + bl + 2 < sizeof govs) {
                if (govs[0])
                    strcat(govs, ",");
                strcat(govs, buf);
            }
        }
        globfree(&g);
        bad |= set_new(cpu, "governor",
                       govs[0] ? json_string(govs)
                               : unavailable("scaling_governor files not readable"));
    } else {
        if (grc == GLOB_NOMATCH)
            globfree(&g);
        bad |= set_new(
            cpu, "governor",
            unavailable("no /sys/devices/system/cpu/cpu*/cpufreq (no cpufreq driver, e.g. a VM)"));
    }
    bad |= set_new(cpu, "cur_freq_khz",
                   file_value("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", 1));
    bad |= set_new(cpu, "max_freq_khz",
                   file_value("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", 1));
    /* turbo/boost changes every figure; intel_pstate reports it inverted */
    char buf[32];
    int e1 = 0, e2 = 0;
    if (read_line("/sys/devices/system/cpu/cpufreq/boost", buf, sizeof buf, &e1) == 0)
        bad |= set_new(cpu, "boost", json_boolean(strcmp(buf, "0") != 0));
    else if (read_line("/sys/devices/system/cpu/intel_pstate/no_turbo", buf, sizeof buf, &e2) == 0)
        bad |= set_new(cpu, "boost", json_boolean(strcmp(buf, "0") == 0));
    else
        bad |= set_new(cpu, "boost",
                       unavailable("neither cpufreq/boost nor intel_pstate/no_turbo readable: %s",
                                   strerror(e1)));
    return bad;
}

/* ------------------------------------------------------------- capture */

long long tb_proc_kib(const char *path, const char *field)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[256], fmt[64];
    long long v = -1;
    snprintf(fmt, sizeof fmt, "%s: %%lld kB", field);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, fmt, &v) == 1)
            break;
    fclose(f);
    if (v < 0)
        errno = ENOENT;
    return v;
}

static json_t *meminfo_total(void)
{
    errno = 0;
    const long long kib = tb_proc_kib("/proc/meminfo", "MemTotal");
    if (kib < 0 && errno != ENOENT)
        return unavailable("/proc/meminfo: %s", strerror(errno));
    return kib >= 0 ? json_integer(kib) : unavailable("no MemTotal in /proc/meminfo");
}

/* Adds an empty object under key and returns it (borrowed), NULL on failure. */
static json_t *add_section(json_t *env, const char *key)
{
    json_t *o = json_object();
    return o && json_object_set_new(env, key, o) == 0 ? o : NULL;
}

json_t *tb_env_capture(struct tb_err *err)
{
    return tb_env_capture_topo(NULL, err);
}

json_t *tb_env_capture_topo(const struct tb_topo *topo, struct tb_err *err)
{
    json_t *env = json_object();
    if (!env) {
        tb_err_set(err, TB_ENOMEM, "env: out of memory capturing the environment");
        return NULL;
    }
    /* sections first so the manifest reads top-down: what, how built, where */
    json_t *tb = add_section(env, "tierbench"), *build = add_section(env, "build"),
           *cpu = add_section(env, "cpu"), *kern = add_section(env, "kernel");
    int bad = !tb || !build || !cpu || !kern;
    if (!bad) {
        bad |= set_new(tb, "version", json_string(TB_VERSION));
        bad |= set_new(tb, "git_commit_configured", json_string(TB_GIT_COMMIT));
        bad |= capture_git(tb);

        bad |= set_new(build, "compiler", json_string(TB_COMPILER));
#ifdef __VERSION__
        bad |= set_new(build, "compiler_version_string", json_string(__VERSION__));
#endif
        bad |= set_new(build, "c_flags", json_string(TB_C_FLAGS));
        bad |= set_new(build, "build_type", json_string(TB_BUILD_TYPE));

        bad |= set_new(cpu, "model", json_null()); /* keeps model first */
        bad |= capture_cpu(cpu);
        bad |= capture_topology(env, cpu, topo);

        struct utsname u;
        if (uname(&u) == 0) {
            bad |= set_new(kern, "sysname", json_string(u.sysname));
            bad |= set_new(kern, "release", json_string(u.release));
            bad |= set_new(kern, "version", json_string(u.version));
            bad |= set_new(kern, "machine", json_string(u.machine));
        } else {
            bad |= set_new(kern, "sysname", unavailable("uname: %s", strerror(errno)));
        }

        bad |= set_new(env, "memory_total_kib", meminfo_total());
        char host[256];
        if (gethostname(host, sizeof host) == 0) {
            host[sizeof host - 1] = '\0';
            bad |= set_new(env, "hostname", json_string(host));
        } else {
            bad |= set_new(env, "hostname", unavailable("gethostname: %s", strerror(errno)));
        }
        char ts[32];
        tb_utc_timestamp(ts, sizeof ts);
        bad |= set_new(env, "timestamp_utc", ts[0] ? json_string(ts) : unavailable("clock"));
        bad |= set_new(env, "components", json_object());
        bad |= set_new(env, "devices", json_array());
    }
    if (bad) {
        json_decref(env);
        tb_err_set(err, TB_ENOMEM, "env: out of memory capturing the environment");
        return NULL;
    }
    return env;
}

int tb_env_set_component(json_t *env, const char *name, const char *version, const char *reason,
                         struct tb_err *err)
{
    json_t *comp = json_object_get(env, "components");
    if (!json_is_object(comp) || !name || !*name || (!version && (!reason || !*reason)))
        return tb_err_set(err, TB_EINVAL,
                          "env: component needs an env object, a name and a version or a reason");
    json_t *v = version ? json_string(version) : unavailable("%s", reason);
    if (set_new(comp, name, v))
        return tb_err_set(err, TB_ENOMEM, "env: out of memory");
    return TB_OK;
}

int tb_env_add_device(json_t *env, const char *backend, const char *device, struct tb_err *err)
{
    json_t *devs = json_object_get(env, "devices");
    if (!json_is_array(devs) || !backend || !device)
        return tb_err_set(err, TB_EINVAL,
                          "env: device needs an env object, a backend and a device name");
    json_t *d = json_pack("{s:s, s:s}", "backend", backend, "device", device);
    if (!d || json_array_append_new(devs, d) != 0)
        return tb_err_set(err, TB_ENOMEM, "env: out of memory");
    return TB_OK;
}

/* ---------------------------------------------------------------- hash */

uint64_t tb_fnv1a64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void tb_sha256_format(const unsigned char digest[TB_SHA256_BYTES], char out[TB_HASH_STR_MAX])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < TB_SHA256_BYTES; i++) {
        out[7 + 2 * i] = hex[digest[i] >> 4];
        out[8 + 2 * i] = hex[digest[i] & 15];
    }
    out[7 + 2 * TB_SHA256_BYTES] = '\0';
}

void tb_sha256_str(const void *data, size_t n, char out[TB_HASH_STR_MAX])
{
    struct sha256_ctx c;
    unsigned char d[TB_SHA256_BYTES];
    sha256_init(&c);
    sha256_update(&c, n, data);
    sha256_digest(&c, sizeof d, d);
    tb_sha256_format(d, out);
}

int tb_file_hash(const char *path, char out[TB_HASH_STR_MAX], struct tb_err *err)
{
    if (!path || !out)
        return tb_err_set(err, TB_EINVAL, "hash: no path");
    /* read in chunks, not mapped: a 1 GB results file costs 1 MiB, and a
     * FIFO or device is refused by the open, never waited on */
    int fd;
    int rc = tb_file_open_read(path, &fd, err);
    if (rc)
        return tb_err_wrap(err, rc, "hash");
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    struct sha256_ctx c;
    sha256_init(&c);
    if (!buf)
        rc = tb_err_set(err, TB_ENOMEM, "hash: %s: out of memory", path);
    for (ssize_t got; !rc && (got = read(fd, buf, CHUNK)) != 0;) {
        if (got > 0)
            sha256_update(&c, (size_t)got, buf);
        else if (errno != EINTR)
            rc = tb_err_set(err, TB_EIO, "hash: %s: read failed: %s", path, strerror(errno));
    }
    free(buf);
    close(fd);
    if (rc)
        return rc;
    unsigned char d[TB_SHA256_BYTES];
    sha256_digest(&c, sizeof d, d);
    tb_sha256_format(d, out);
    return TB_OK;
}

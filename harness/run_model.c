/* Model resolution (synth:SHAPE:TYPE to a cached file, generated on first
 * use) and model file identity (a file changed under the run). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/tb_read.h"
#include "kernels/tb_wtypes.h"
#include "harness/run_internal.h"

static int mkdir_p(const char *path, struct tb_err *err)
{
    char buf[RUN_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return tb_err_set(err, TB_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return tb_err_set(err, TB_EIO, "%s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return tb_err_set(err, TB_EIO, "%s: %s", buf, strerror(errno));
    return TB_OK;
}

int run_parse_synth(const char *spec, char *shape, size_t n, int *type)
{
    if (strncmp(spec, "synth:", 6))
        return 0;
    const char *s = spec + 6, *c = strchr(s, ':');
    if (!c || (size_t)(c - s) >= n)
        return -1;
    memcpy(shape, s, (size_t)(c - s));
    shape[c - s] = '\0';
    *type = tb_type_from_name(c + 1);
    return (*type < 0 || !tb_synth_find(shape)) ? -1 : 1;
}

/* Generates a cached synthetic model under an exclusive flock on
 * "<out>.lock": concurrent runs on a cold cache wait for the one generator
 * and then use its file. (Two generators each renamed a new inode into
 * place, and the run that had loaded the first saw "model file changed".)
 * The lock dies with its holder, so a killed generator blocks nobody; the
 * lock file stays (unlinking it would let a third run lock a new inode). */
static int generate_locked(const char *shape, int type, uint64_t seed, const char *out,
                           struct tb_err *err)
{
    char lock[RUN_PATH_MAX + 8];
    if (tb_path_join(lock, sizeof lock, err, "%s.lock", out))
        return tb_err_wrap(err, TB_EINVAL, "model cache lock");
    const int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return tb_err_set(err, TB_EIO, "model cache lock %s: %s", lock, strerror(errno));
    int r;
    while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
        ;
    int rc = TB_OK;
    if (r)
        rc = tb_err_set(err, TB_EIO, "model cache lock %s: flock: %s", lock, strerror(errno));
    else if (access(out, R_OK) != 0) { /* not written while this run waited */
        fprintf(stderr, "tierbench: generating %s (first use, cached for later runs)\n", out);
        rc = tb_synth_write(shape, type, seed, out, err);
    }
    close(fd); /* releases the lock */
    return rc;
}

int run_find_model(const char *spec, const char *cache_dir, uint64_t seed, bool generate, char *out,
                   size_t n, struct tb_err *err)
{
    char shape[64];
    int type;
    const int k = run_parse_synth(spec, shape, sizeof shape, &type);
    if (k < 0) {
        char names[TB_WTYPE_NAMES_MAX];
        return tb_err_set(err, TB_EINVAL,
                          "model '%s': expected synth:SHAPE:TYPE with a known shape and type %s",
                          spec, tb_wtype_names(names, sizeof names, "|"));
    }
    if (k == 0) {
        if (snprintf(out, n, "%s", spec) >= (int)n)
            return tb_err_set(err, TB_EINVAL, "%s: path too long", spec);
        return TB_OK;
    }
    int rc = mkdir_p(cache_dir, err);
    if (rc)
        return tb_err_wrap(err, rc, "model cache");
    if (snprintf(out, n, "%s/%s-%s-s%" PRIu64 ".gguf", cache_dir, shape, tb_type_name(type),
                 seed) >= (int)n)
        return tb_err_set(err, TB_EINVAL, "%s: cache path too long", cache_dir);
    if (access(out, R_OK) == 0)
        return TB_OK; /* cached: tb_synth_write renames into place, so it is whole */
    if (!generate)
        return tb_err_set(err, TB_EIO, "%s: not generated yet", out);
    return generate_locked(shape, type, seed, out, err);
}

/* The known synthetic shapes joined by ", " into buf (from the engine's list). */
static void shape_names(char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (const struct tb_synth_shape *s = tb_synth_shapes(); s->name && k < n; s++) {
        const int w = snprintf(buf + k, n - k, "%s%s", k ? ", " : "", s->name);
        if (w < 0 || (size_t)w >= n - k)
            break;
        k += (size_t)w;
    }
}

int tb_run_check_model(const char *opt, const char *spec, int allow_synth, struct tb_err *err)
{
    char names[TB_WTYPE_NAMES_MAX], shapes[512];
    if (allow_synth && !strncmp(spec, "synth:", 6)) {
        const char *s = spec + 6, *c = strchr(s, ':');
        char shape[64];
        if (!c || c == s || (size_t)(c - s) >= sizeof shape || !c[1]) {
            shape_names(shapes, sizeof shapes);
            return tb_err_set(err, TB_EINVAL,
                              "%s '%s': expected synth:SHAPE:TYPE (shapes: %s; types: %s)", opt,
                              spec, shapes, tb_wtype_names(names, sizeof names, ", "));
        }
        memcpy(shape, s, (size_t)(c - s));
        shape[c - s] = '\0';
        if (!tb_synth_find(shape)) {
            shape_names(shapes, sizeof shapes);
            return tb_err_set(err, TB_EINVAL, "%s '%s': unknown shape '%s' (shapes: %s)", opt, spec,
                              shape, shapes);
        }
        const int t = tb_type_from_name(c + 1);
        if (!tb_wtype_ok(t))
            return tb_err_set(err, TB_EINVAL, "%s '%s': unknown type '%s' (types: %s)", opt, spec,
                              c + 1, tb_wtype_names(names, sizeof names, ", "));
        struct tb_err se = {0};
        if (tb_synth_check(shape, t, &se)) /* rows the type's blocks do not divide */
            return tb_err_set(err, TB_EINVAL, "%s '%s': %s", opt, spec, se.msg);
        return TB_OK;
    }
    /* a file: it must open as a regular file and start with the GGUF magic;
     * the rest (tensors, mapping) is the configuration's own record */
    struct tb_err fe = {0};
    FILE *f = tb_fopen_read(spec, &fe);
    if (!f)
        return tb_err_set(err, TB_EINVAL, "%s %s", opt, fe.msg);
    unsigned char magic[4] = {0};
    const size_t got = fread(magic, 1, sizeof magic, f);
    const int rerr = ferror(f);
    fclose(f);
    if (rerr)
        return tb_err_set(err, TB_EINVAL, "%s %s: cannot read: %s", opt, spec, strerror(errno));
    if (got < sizeof magic || memcmp(magic, "GGUF", 4))
        return tb_err_set(err, TB_EINVAL,
                          "%s %s: not a GGUF file (%s; expected a .gguf model or "
                          "synth:SHAPE:TYPE)",
                          opt, spec,
                          got < sizeof magic ? "shorter than its magic" : "no GGUF magic");
    return TB_OK;
}

int tb_run_resolve_model(const char *spec, const char *cache_dir, uint64_t seed, char *out,
                         size_t n, struct tb_err *err)
{
    return run_find_model(spec, cache_dir, seed, true, out, n, err);
}

void run_model_id_read(const char *path, struct model_id *m)
{
    struct stat st;
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    if (stat(path, &st) != 0)
        return;
    m->exists = 1;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    m->size = st.st_size;
    m->mtime = st.st_mtim;
}

int run_model_id_diff(const struct model_id *m, const struct model_id *now, char *why, size_t n)
{
    const char *path = m->path;
    const int mtime_differs =
        m->mtime.tv_sec != now->mtime.tv_sec || m->mtime.tv_nsec != now->mtime.tv_nsec;
    if (m->exists && !now->exists)
        snprintf(why, n,
                 "model file %s was deleted during the run (a process that had it "
                 "mapped measured the deleted file; later loads fail)",
                 path);
    else if (!m->exists && now->exists)
        snprintf(why, n, "model file %s appeared during the run", path);
    else if (m->exists && (m->dev != now->dev || m->ino != now->ino))
        snprintf(why, n,
                 "model file %s was replaced during the run (inode %llu -> %llu, size "
                 "%lld -> %lld bytes)",
                 path, (unsigned long long)m->ino, (unsigned long long)now->ino, (long long)m->size,
                 (long long)now->size);
    else if (m->exists && m->size != now->size)
        snprintf(why, n, "model file %s changed during the run: size %lld -> %lld bytes%s", path,
                 (long long)m->size, (long long)now->size, mtime_differs ? ", mtime changed" : "");
    else if (m->exists && mtime_differs)
        snprintf(why, n,
                 "model file %s changed during the run: mtime changed (size %lld bytes "
                 "unchanged)",
                 path, (long long)now->size);
    else
        return 0;
    return 1;
}

int run_model_changed(struct run_ctx *run, const char *path, char *why, size_t n)
{
    struct model_id now;
    run_model_id_read(path, &now);
    struct model_id *m = NULL;
    for (int i = 0; i < run->n_models; i++)
        if (!strcmp(run->models[i].path, path))
            m = &run->models[i];
    if (!m) {
        if (run->n_models == run->cap_models) {
            const int cap = run->cap_models ? 2 * run->cap_models : 8;
            struct model_id *a = realloc(run->models, sizeof *a * (size_t)cap);
            if (!a)
                return 0; /* not tracked: the record-level check still runs */
            run->models = a;
            run->cap_models = cap;
        }
        run->models[run->n_models++] = now;
        return 0;
    }
    const int changed = run_model_id_diff(m, &now, why, n);
    if (changed)
        *m = now;
    return changed;
}

#include "harness/tb_results.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_results_csv.h"

struct tb_results {
    char *dir;
    char *jsonl_path;
    char *csv_path;
    int jsonl_fd;
    int csv_fd;
    size_t count;
    int broken; /* a write failed: further appends would risk earlier data */
};

/* ------------------------------------------------------------ helpers */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int tb_write_all(int fd, const void *buf, size_t len, const char *what, struct tb_err *err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return tb_err_set(err, TB_EIO, "write to '%s' failed: %s", what, strerror(errno));
        }
        if (w == 0)
            return tb_err_set(err, TB_EIO, "write to '%s' made no progress", what);
        p += w;
        len -= (size_t)w;
    }
    return TB_OK;
}

static int fsync_path_fd(int fd, const char *path, struct tb_err *err)
{
    if (fsync(fd) != 0)
        return tb_err_set(err, TB_EIO, "results: fsync of '%s' failed: %s", path, strerror(errno));
    return TB_OK;
}

/* Makes a directory's entries (new files, renames) durable. */
static int fsync_dir(const char *dir, struct tb_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tb_err_set(err, TB_EIO, "results: cannot open directory '%s' to sync it: %s", dir,
                          strerror(errno));
    int rc = fsync_path_fd(fd, dir, err);
    close(fd);
    return rc;
}

/* Appends buf durably; on failure cuts the file back to its old size so no
 * partial record stays behind (best effort: the disk may be failing). */
static int append_durable(int fd, const char *buf, size_t len, const char *path, struct tb_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tb_err_set(err, TB_EIO, "results: cannot stat '%s': %s", path, strerror(errno));
    int rc = tb_write_all(fd, buf, len, path, err);
    if (rc) {
        if (ftruncate(fd, st.st_size) == 0)
            (void)fsync(fd);
        return rc;
    }
    return fsync_path_fd(fd, path, err);
}

/* mkdir one level; an existing directory is fine */
static int ensure_dir(const char *dir, struct tb_err *err)
{
    if (mkdir(dir, 0777) == 0)
        return TB_OK;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return TB_OK;
        return tb_err_set(err, TB_EIO, "results: output path '%s' exists and is not a directory",
                          dir);
    }
    return tb_err_set(err, TB_EIO, "results: cannot create output directory '%s': %s", dir,
                      strerror(e));
}

void tb_utc_timestamp(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        if (n)
            buf[0] = '\0';
    }
}

/* Creates out_dir/run-YYYYMMDD-HHMMSS[-N]; mkdir's EEXIST picks the next N,
 * so an existing run directory is never reused. */
static int make_run_subdir(const char *out_dir, char **out, struct tb_err *err)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "run-%Y%m%d-%H%M%S", &tm) == 0) {
        return tb_err_set(err, TB_EIO, "results: cannot format the run timestamp");
    }
    for (int i = 0; i < 1000; i++) {
        char name[48];
        if (i == 0)
            snprintf(name, sizeof name, "%s", stamp);
        else
            snprintf(name, sizeof name, "%s-%d", stamp, i);
        char *p = path_join(out_dir, name);
        if (!p)
            return tb_err_set(err, TB_ENOMEM, "results: out of memory");
        if (mkdir(p, 0777) == 0) {
            *out = p;
            return TB_OK;
        }
        int e = errno;
        free(p);
        if (e != EEXIST)
            return tb_err_set(err, TB_EIO, "results: cannot create run directory '%s/%s': %s",
                              out_dir, name, strerror(e));
    }
    return tb_err_set(err, TB_EIO, "results: 1000 run directories named '%s/%s*' already exist",
                      out_dir, stamp);
}

/* APPEND mode: a file left by a killed run may end in a torn line; cut it
 * back to the last newline so the next record starts on a line of its own
 * (the torn bytes were never a complete record). */
static int trim_torn_tail(int fd, const char *path, struct tb_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tb_err_set(err, TB_EIO, "results: cannot stat '%s': %s", path, strerror(errno));
    off_t end = st.st_size;
    char buf[4096];
    while (end > 0) {
        off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t r = pread(fd, buf, (size_t)(end - start), start);
        if (r != end - start)
            return tb_err_set(err, TB_EIO, "results: cannot read '%s': %s", path,
                              r < 0 ? strerror(errno) : "short read");
        for (ssize_t i = r - 1; i >= 0; i--) {
            if (buf[i] == '\n') {
                off_t keep = start + i + 1;
                if (keep == st.st_size)
                    return TB_OK;
                if (ftruncate(fd, keep) != 0)
                    return tb_err_set(err, TB_EIO, "results: cannot trim torn tail of '%s': %s",
                                      path, strerror(errno));
                return fsync_path_fd(fd, path, err);
            }
        }
        end = start;
    }
    if (st.st_size > 0 && ftruncate(fd, 0) != 0)
        return tb_err_set(err, TB_EIO, "results: cannot trim torn tail of '%s': %s", path,
                          strerror(errno));
    return st.st_size > 0 ? fsync_path_fd(fd, path, err) : TB_OK;
}

static int open_results_file(const char *path, int excl, int *fd_out, struct tb_err *err);

/* Makes results.csv agree with results.jsonl (tb_results_csv_sync); when
 * it was replaced, by this call or by a reader's, the handle's CSV
 * descriptor moves to the new file (the old one is no longer the CSV). */
static int sync_csv(struct tb_results *r, struct tb_err *err);
static int results_free(struct tb_results *r, struct tb_err *err);

int tb_results_trim_torn(struct tb_results *r, struct tb_err *err)
{
    int rc = trim_torn_tail(r->jsonl_fd, r->jsonl_path, err);
    if (!rc) /* a torn or missing CSV row of a killed writer is rebuilt */
        rc = sync_csv(r, err);
    return rc;
}

int tb_results_reconcile(const char *dir, int *rewritten, struct tb_err *err)
{
    if (rewritten)
        *rewritten = 0;
    if (!dir || !*dir)
        return tb_err_set(err, TB_EINVAL, "results: reconcile needs a directory");
    char *jsonl = path_join(dir, TB_RESULTS_JSONL), *csv = path_join(dir, TB_RESULTS_CSV);
    int rc = !jsonl || !csv ? tb_err_set(err, TB_ENOMEM, "results: out of memory") : TB_OK;
    struct stat st;
    if (!rc && stat(jsonl, &st) == 0 && S_ISREG(st.st_mode))
        rc = tb_results_csv_sync(jsonl, csv, rewritten, err);
    free(jsonl);
    free(csv);
    return rc;
}

static int open_results_file(const char *path, int excl, int *fd_out, struct tb_err *err)
{
    /* read access too: APPEND mode inspects the tail for a torn line */
    int flags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (excl ? O_EXCL : 0);
    int fd = open(path, flags, 0666);
    if (fd < 0) {
        if (errno == EEXIST)
            return tb_err_set(err, TB_EIO,
                              "results: '%s' already exists; refusing to overwrite earlier results "
                              "(use a new output directory or append mode)",
                              path);
        return tb_err_set(err, TB_EIO, "results: cannot create '%s': %s", path, strerror(errno));
    }
    *fd_out = fd;
    return TB_OK;
}

/* ------------------------------------------------------------- open */

int tb_results_open(const char *out_dir, enum tb_results_mode mode, struct tb_results **out,
                    struct tb_err *err)
{
    if (!out)
        return tb_err_set(err, TB_EINVAL, "results: no output handle");
    *out = NULL;
    if (!out_dir || !*out_dir)
        return tb_err_set(err, TB_EINVAL, "results: empty output directory");
    if (mode != TB_RESULTS_NEW_SUBDIR && mode != TB_RESULTS_EXACT_DIR && mode != TB_RESULTS_APPEND)
        return tb_err_set(err, TB_EINVAL, "results: unknown mode %d", (int)mode);

    int rc = ensure_dir(out_dir, err);
    if (rc)
        return rc;
    struct tb_results *r = calloc(1, sizeof *r);
    if (!r)
        return tb_err_set(err, TB_ENOMEM, "results: out of memory");
    r->jsonl_fd = r->csv_fd = -1;
    int made_dir = 0, made_jsonl = 0, made_csv = 0;
    if (mode == TB_RESULTS_NEW_SUBDIR) {
        if ((rc = make_run_subdir(out_dir, &r->dir, err)) != 0)
            goto fail;
        made_dir = 1;
        /* the new run directory itself must survive a crash */
        if ((rc = fsync_dir(out_dir, err)) != 0)
            goto fail;
    } else if (!(r->dir = strdup(out_dir))) {
        rc = tb_err_set(err, TB_ENOMEM, "results: out of memory");
        goto fail;
    }
    r->jsonl_path = path_join(r->dir, TB_RESULTS_JSONL);
    r->csv_path = path_join(r->dir, TB_RESULTS_CSV);
    if (!r->jsonl_path || !r->csv_path) {
        rc = tb_err_set(err, TB_ENOMEM, "results: out of memory");
        goto fail;
    }
    int excl = mode != TB_RESULTS_APPEND;
    if ((rc = open_results_file(r->jsonl_path, excl, &r->jsonl_fd, err)) != 0)
        goto fail;
    if (excl)
        made_jsonl = 1;
    if ((rc = open_results_file(r->csv_path, excl, &r->csv_fd, err)) != 0)
        goto fail;
    if (excl)
        made_csv = 1;
    if (!excl && (rc = trim_torn_tail(r->jsonl_fd, r->jsonl_path, err)) != 0)
        goto fail;
    /* a new CSV gets its header; an old one is made to agree with the JSONL
     * (a writer killed between the two appends left it a row short) */
    if ((rc = sync_csv(r, err)) != 0)
        goto fail;
    if ((rc = fsync_dir(r->dir, err)) != 0)
        goto fail;
    *out = r;
    return TB_OK;
fail:
    /* leave nothing half-made: the files and the run directory this call
     * created go again (a full disk at the CSV header left an empty run) */
    if (made_csv)
        unlink(r->csv_path);
    if (made_jsonl)
        unlink(r->jsonl_path);
    if (made_dir && rmdir(r->dir) == 0)
        (void)fsync_dir(out_dir, NULL);
    results_free(r, NULL);
    return rc;
}

const char *tb_results_dir(const struct tb_results *r)
{
    return r ? r->dir : NULL;
}

size_t tb_results_count(const struct tb_results *r)
{
    return r ? r->count : 0;
}

/* Closes and frees r (no sync); TB_EIO if a close fails. */
static int results_free(struct tb_results *r, struct tb_err *err)
{
    if (!r)
        return TB_OK;
    int rc = TB_OK;
    if (r->jsonl_fd >= 0 && close(r->jsonl_fd) != 0)
        rc = tb_err_set(err, TB_EIO, "results: close of '%s' failed: %s", r->jsonl_path,
                        strerror(errno));
    if (r->csv_fd >= 0 && close(r->csv_fd) != 0 && !rc)
        rc = tb_err_set(err, TB_EIO, "results: close of '%s' failed: %s", r->csv_path,
                        strerror(errno));
    free(r->dir);
    free(r->jsonl_path);
    free(r->csv_path);
    free(r);
    return rc;
}

/* Was results.csv replaced since r opened it (by a reader's sync)? */
static int csv_moved(const struct tb_results *r)
{
    struct stat fs, ps;
    return r->csv_fd < 0 || fstat(r->csv_fd, &fs) != 0 || stat(r->csv_path, &ps) != 0 ||
           fs.st_ino != ps.st_ino || fs.st_dev != ps.st_dev;
}

/* Makes results.csv agree with results.jsonl (tb_results_csv_sync); when
 * it was replaced, by this call or by a reader's, the handle's CSV
 * descriptor moves to the new file (the old one is no longer the CSV). */
static int sync_csv(struct tb_results *r, struct tb_err *err)
{
    int rc = tb_results_csv_sync(r->jsonl_path, r->csv_path, NULL, err);
    if (rc || !csv_moved(r))
        return rc;
    if (r->csv_fd >= 0)
        close(r->csv_fd);
    r->csv_fd = -1;
    return open_results_file(r->csv_path, 0, &r->csv_fd, err);
}

int tb_results_close(struct tb_results *r, struct tb_err *err)
{
    if (!r)
        return TB_OK;
    /* the CSV agrees with the JSONL when the run ends, whatever happened
     * to it on the way (a reader's rewrite, a child killed mid-append) */
    const int rc = sync_csv(r, err);
    const int crc = results_free(r, rc ? NULL : err);
    return rc ? rc : crc;
}

/* ------------------------------------------------------------ append */

/* Adds schema_version when missing; rejects a different one. */
static int stamp_schema(json_t *doc, const char *what, struct tb_err *err)
{
    json_t *sv = json_object_get(doc, "schema_version");
    if (!sv) {
        if (json_object_set_new(doc, "schema_version", json_integer(TB_RESULTS_SCHEMA_VERSION)) !=
            0)
            return tb_err_set(err, TB_ENOMEM, "results: out of memory");
        return TB_OK;
    }
    if (!json_is_integer(sv) || json_integer_value(sv) != TB_RESULTS_SCHEMA_VERSION)
        return tb_err_set(err, TB_EINVAL, "results: %s has schema_version other than %d", what,
                          TB_RESULTS_SCHEMA_VERSION);
    return TB_OK;
}

int tb_results_append(struct tb_results *r, json_t *record, struct tb_err *err)
{
    if (!r || !json_is_object(record))
        return tb_err_set(err, TB_EINVAL, "results: append needs an open handle and a JSON object");
    if (r->broken)
        return tb_err_set(err, TB_EIO,
                          "results: an earlier write to '%s' failed; refusing further appends",
                          r->dir);
    int rc = stamp_schema(record, "record", err);
    if (rc)
        return rc;

    /* a reader replaced the CSV (its sync after a kill): move to the new file
     * first, so this row lands in the CSV that readers see */
    if (csv_moved(r) && (rc = sync_csv(r, err)) != 0) {
        r->broken = 1;
        return rc;
    }
    char *line = json_dumps(record, JSON_COMPACT);
    size_t len = 0;
    char *row = tb_results_csv_line(record, &len);
    if (!line || !row) {
        free(line);
        free(row);
        return tb_err_set(err, TB_ENOMEM, "results: cannot serialise record %zu", r->count);
    }
    /* "record\n" in one write: a line ends in '\n' only when it is complete */
    size_t n = strlen(line);
    char *full = realloc(line, n + 2);
    if (!full) {
        free(line);
        free(row);
        return tb_err_set(err, TB_ENOMEM, "results: out of memory");
    }
    full[n] = '\n';
    full[n + 1] = '\0';
    struct stat st;
    rc = fstat(r->jsonl_fd, &st) != 0 ? tb_err_set(err, TB_EIO, "results: cannot stat '%s': %s",
                                                   r->jsonl_path, strerror(errno))
                                      : TB_OK;
    /* the JSONL line is the record; the CSV row follows it. A kill between
     * the two leaves the CSV a row short until the next open, close, trim
     * or reader's sync rebuilds it (tb_results_csv_sync) */
    if (!rc)
        rc = append_durable(r->jsonl_fd, full, n + 1, r->jsonl_path, err);
    if (!rc && (rc = append_durable(r->csv_fd, row, len, r->csv_path, err)) != 0) {
        /* the row did not fit (a full disk): take the record back out, so
         * neither file has it and the caller hears of it */
        if (ftruncate(r->jsonl_fd, st.st_size) == 0 && fsync(r->jsonl_fd) == 0)
            tb_err_wrap(err, rc, "results: record %zu taken back out of '%s'", r->count,
                        r->jsonl_path);
    }
    free(full);
    free(row);
    if (rc) {
        r->broken = 1;
        return rc;
    }
    r->count++;
    return TB_OK;
}

/* ------------------------------------------------------------ manifest */

int tb_json_write_atomic(const char *path, json_t *doc, struct tb_err *err)
{
    if (!path || !*path || !doc)
        return tb_err_set(err, TB_EINVAL, "results: atomic write needs a path and a document");
    char *text = json_dumps(doc, JSON_INDENT(2));
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *dir = strdup(path);
    if (!text || !tmp || !dir) {
        free(text);
        free(tmp);
        free(dir);
        return tb_err_set(err, TB_ENOMEM, "results: out of memory writing '%s'", path);
    }
    /* the temp file must live in the same directory: rename is only atomic
     * within one file system */
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';

    int rc = TB_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = tb_err_set(err, TB_EIO, "results: cannot create temp file '%s': %s", tmp,
                        strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0644) != 0) {
        rc = tb_err_set(err, TB_EIO, "results: chmod of '%s' failed: %s", tmp, strerror(errno));
        close(fd);
        goto unlink_out;
    }
    size_t tlen = strlen(text);
    rc = tb_write_all(fd, text, tlen, tmp, err);
    if (!rc)
        rc = tb_write_all(fd, "\n", 1, tmp, err);
    if (!rc)
        rc = fsync_path_fd(fd, tmp, err);
    if (close(fd) != 0 && !rc)
        rc = tb_err_set(err, TB_EIO, "results: close of '%s' failed: %s", tmp, strerror(errno));
    if (rc)
        goto unlink_out;
    if (rename(tmp, path) != 0) {
        rc = tb_err_set(err, TB_EIO, "results: rename '%s' -> '%s' failed: %s", tmp, path,
                        strerror(errno));
        goto unlink_out;
    }
    rc = fsync_dir(dir, err);
    goto out;
unlink_out:
    unlink(tmp);
out:
    free(text);
    free(tmp);
    free(dir);
    return rc;
}

int tb_results_write_manifest(struct tb_results *r, json_t *manifest, struct tb_err *err)
{
    if (!r || !json_is_object(manifest))
        return tb_err_set(err, TB_EINVAL,
                          "results: manifest needs an open handle and a JSON object");
    int rc = stamp_schema(manifest, "manifest", err);
    if (rc)
        return rc;
    char *path = path_join(r->dir, TB_RESULTS_MANIFEST);
    if (!path)
        return tb_err_set(err, TB_ENOMEM, "results: out of memory");
    rc = tb_json_write_atomic(path, manifest, err);
    free(path);
    return rc;
}

/* read: results_read.c */

/* ----------------------------------------------------------- builders */

json_t *tb_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *tb_results_record_new(const char *workload, const char *profile, const char *config)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char ts[32];
    tb_utc_timestamp(ts, sizeof ts);
    int bad = json_object_set_new(o, "schema_version", json_integer(TB_RESULTS_SCHEMA_VERSION));
    bad |= json_object_set_new(o, "timestamp", json_string(ts));
    if (workload)
        bad |= json_object_set_new(o, "workload", json_string(workload));
    if (profile)
        bad |= json_object_set_new(o, "profile", json_string(profile));
    if (config)
        bad |= json_object_set_new(o, "config", json_string(config));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *tb_stats_to_json(const struct tb_stats *s)
{
    json_t *o = json_object();
    if (!o || !s) {
        json_decref(o);
        return NULL;
    }
    int bad = json_object_set_new(o, "n", json_integer((json_int_t)s->n));
    bad |= json_object_set_new(o, "min", tb_json_number(s->min));
    bad |= json_object_set_new(o, "mean", tb_json_number(s->mean));
    bad |= json_object_set_new(o, "median", tb_json_number(s->median));
    bad |= json_object_set_new(o, "p90", tb_json_number(s->p90));
    bad |= json_object_set_new(o, "p95", tb_json_number(s->p95));
    bad |= json_object_set_new(o, "p99", tb_json_number(s->p99));
    bad |= json_object_set_new(o, "max", tb_json_number(s->max));
    bad |= json_object_set_new(o, "stddev", tb_json_number(s->stddev));
    bad |= json_object_set_new(o, "cv", tb_json_number(s->cv));
    bad |= json_object_set_new(o, "median_ci_lo", tb_json_number(s->median_ci_lo));
    bad |= json_object_set_new(o, "median_ci_hi", tb_json_number(s->median_ci_hi));
    bad |= json_object_set_new(o, "noisy", json_boolean(s->noisy));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int tb_results_set_measurement(json_t *record, const char *metric, const char *unit,
                               const struct tb_sample_set *set, const struct tb_stats_opts *opts,
                               struct tb_err *err)
{
    if (!json_is_object(record) || !metric || !set)
        return tb_err_set(err, TB_EINVAL,
                          "results: measurement needs a record, a metric and samples");
    json_t *stats = json_null();
    if (set->n > 0) {
        struct tb_stats st;
        int rc = tb_stats_compute(set->v, set->n, opts, &st, err);
        if (rc)
            return tb_err_wrap(err, rc, "results: metric %s", metric);
        json_decref(stats);
        stats = tb_stats_to_json(&st);
    }
    json_t *samples = json_array();
    int bad = !stats || !samples;
    for (size_t i = 0; !bad && i < set->n; i++)
        bad |= json_array_append_new(samples, tb_json_number(set->v[i]));
    bad |= json_object_set_new(record, "metric", json_string(metric));
    if (unit)
        bad |= json_object_set_new(record, "unit", json_string(unit));
    bad |= json_object_set_new(record, "valid", json_boolean(set->valid));
    if (!set->valid)
        bad |= json_object_set_new(record, "invalid_reason",
                                   json_string(set->invalid_reason[0]
                                                   ? set->invalid_reason
                                                   : "unknown (no reason recorded)"));
    bad |= json_object_set_new(record, "warmup_n", json_integer((json_int_t)set->warmup_n));
    bad |= json_object_set_new(record, "measured_s", tb_json_number(set->measured_s));
    bad |= json_object_set(record, "stats", stats ? stats : json_null());
    bad |= json_object_set(record, "samples", samples ? samples : json_null());
    json_decref(stats);
    json_decref(samples);
    return bad ? tb_err_set(err, TB_ENOMEM, "results: out of memory building metric %s", metric)
               : TB_OK;
}

int tb_results_set_unavailable(json_t *record, const char *metric, const char *reason,
                               struct tb_err *err)
{
    if (!json_is_object(record) || !metric || !reason || !*reason)
        return tb_err_set(err, TB_EINVAL,
                          "results: an unavailable metric needs a name and a reason");
    int bad = json_object_set_new(record, "metric", json_string(metric));
    bad |= json_object_set_new(record, "valid", json_false());
    bad |= json_object_set_new(record, "stats", json_null());
    bad |= json_object_set_new(record, "unavailable", json_string(reason));
    return bad ? tb_err_set(err, TB_ENOMEM, "results: out of memory") : TB_OK;
}

/* tb_platform.h files on POSIX: a non-blocking, regular-files-only open
 * and mmap for reading, temp file + fsync + rename for writing. */
#include "kernels/platform/tb_platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m)
{
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "a special file";
}

int tb_file_open_read(const char *path, int *fd, struct tb_err *err)
{
    *fd = -1;
    /* O_NONBLOCK: opening a FIFO with no writer (or a tty, a device) must
     * not wait; the fstat below refuses anything but a regular file */
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (f < 0) {
        const int e = errno;
        struct stat st;
        if (e == ENXIO && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            tb_err_set(err, TB_EIO, "%s: is %s, not a regular file", path, file_kind(st.st_mode));
            errno = EINVAL;
            return TB_EIO;
        }
        tb_err_set(err, TB_EIO, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return TB_EIO;
    }
    struct stat st;
    if (fstat(f, &st) != 0) {
        const int e = errno;
        close(f);
        tb_err_set(err, TB_EIO, "%s: cannot stat: %s", path, strerror(e));
        errno = e;
        return TB_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        tb_err_set(err, TB_EIO, "%s: is %s, not a regular file", path, file_kind(st.st_mode));
        errno = EINVAL;
        return TB_EIO;
    }
    const int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        const int e = errno;
        close(f);
        tb_err_set(err, TB_EIO, "%s: cannot clear O_NONBLOCK: %s", path, strerror(e));
        errno = e;
        return TB_EIO;
    }
    *fd = f;
    return TB_OK;
}

int tb_file_map(const char *path, struct tb_file_map *m, struct tb_err *err)
{
    *m = (struct tb_file_map){0};
    int fd;
    const int rc = tb_file_open_read(path, &fd, err);
    if (rc)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tb_err_set(err, TB_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    const size_t len = (size_t)st.st_size;
    if (len > 0) {
        void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return tb_err_set(err, TB_EIO, "%s: cannot map %zu bytes: %s", path, len, strerror(e));
        }
        m->ptr = p;
    }
    close(fd); /* the mapping stays valid */
    m->size = len;
    return TB_OK;
}

void tb_file_unmap(struct tb_file_map *m)
{
    if (m->ptr)
        munmap((void *)(uintptr_t)m->ptr, m->size);
    *m = (struct tb_file_map){0};
}

int tb_file_replace_open(const char *path, struct tb_file_replace *r, struct tb_err *err)
{
    static const char suffix[] = ".tmp.XXXXXX";
    *r = (struct tb_file_replace){0};
    const size_t plen = strlen(path);
    r->path = strdup(path);
    r->tmp = malloc(plen + sizeof suffix);
    if (!r->path || !r->tmp) {
        free(r->path);
        free(r->tmp);
        *r = (struct tb_file_replace){0};
        return tb_err_set(err, TB_ENOMEM, "%s: out of memory", path);
    }
    memcpy(r->tmp, path, plen);
    memcpy(r->tmp + plen, suffix, sizeof suffix);
    int fd = mkstemp(r->tmp); /* same directory, so rename() is atomic */
    if (fd < 0) {
        tb_err_set(err, TB_EIO, "%s: cannot create temporary file: %s", path, strerror(errno));
    } else {
        (void)fchmod(fd, 0644); /* mkstemp makes 0600; our files are not secret */
        r->f = fdopen(fd, "wb");
        if (r->f)
            return TB_OK;
        tb_err_set(err, TB_EIO, "%s: cannot open temporary file (temporary %s): %s", path, r->tmp,
                   strerror(errno));
        close(fd);
        unlink(r->tmp);
    }
    free(r->path);
    free(r->tmp);
    *r = (struct tb_file_replace){0};
    return TB_EIO;
}

/* Makes the rename durable; failure here does not undo the write. */
static void fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int tb_file_replace_commit(struct tb_file_replace *r, int write_errno, struct tb_err *err)
{
    const char *what = NULL;
    int e = 0;
    if (write_errno) {
        e = write_errno;
        what = "write failed";
    } else if (fflush(r->f) != 0) {
        e = errno;
        what = "write failed";
    } else if (fsync(fileno(r->f)) != 0) {
        e = errno;
        what = "fsync failed";
    }
    if (fclose(r->f) != 0 && !what) {
        e = errno;
        what = "close failed";
    }
    if (!what && rename(r->tmp, r->path) != 0) {
        e = errno;
        what = "cannot rename temporary file into place";
    }
    int rc = TB_OK;
    if (what) {
        unlink(r->tmp);
        rc = tb_err_set(err, TB_EIO, "%s: %s (temporary %s): %s", r->path, what, r->tmp,
                        strerror(e));
    } else {
        fsync_parent_dir(r->path);
    }
    free(r->path);
    free(r->tmp);
    *r = (struct tb_file_replace){0};
    return rc;
}

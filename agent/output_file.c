/*
 * output_file.c - alerts appended to a local file as JSON lines.
 *
 * Writes are buffered in memory and written with write(2) at flush (and when
 * the buffer passes 1 MiB); flush also fsyncs, which is what lets the
 * pipeline commit input positions. Opened O_APPEND, so logrotate's
 * copytruncate and an external reader are safe; a rename by logrotate is
 * noticed at the next flush (inode changed) and the path reopened.
 *
 * Built-in rotation (rotate_size > 0): before a write would take the file
 * past rotate_size, the file is fsync'ed and renamed path.1 (path.1 ->
 * path.2 ... up to rotate_keep; the oldest is replaced), and a new file is
 * started. A single flush larger than rotate_size still goes to one file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "output.h"

typedef struct out_file {
    char *path;
    int fd;
    int min_rank;
    ino_t ino;
    int64_t size;        /* bytes in the current file */
    int64_t rotate_size; /* 0 = never */
    int64_t keep;
    vg_buf pending;
    bool dirty; /* written since the last fsync */
    vg_counter *written, *errors, *bytes, *rotations;
} out_file;

static vg_err of_open(out_file *o, vg_errbuf *eb)
{
    int fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return vg_errno(eb, VG_EIO, "%s: cannot open alert file", o->path);
    struct stat st;
    if (fstat(fd, &st) == 0) {
        o->ino = st.st_ino;
        o->size = st.st_size;
    }
    if (o->fd >= 0)
        close(o->fd);
    o->fd = fd;
    return VG_OK;
}

static vg_err of_create(const vg_output_conf *c, vg_stats *st, void **self, vg_errbuf *eb)
{
    out_file *o = calloc(1, sizeof *o);
    if (!o)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    o->fd = -1;
    o->min_rank = c->min_level_rank;
    o->rotate_size = c->rotate_size;
    o->keep = c->rotate_keep > 0 ? c->rotate_keep : 1;
    vg_buf_init(&o->pending, 64 << 20);
    if (!(o->path = strdup(c->path))) {
        free(o);
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    }
    vg_err r = of_open(o, eb);
    if (r) {
        free(o->path);
        free(o);
        return r;
    }
    o->written = vg_stats_counter(st, "output.alerts", "output", c->name);
    o->errors = vg_stats_counter(st, "output.errors", "output", c->name);
    o->bytes = vg_stats_counter(st, "output.bytes", "output", c->name);
    o->rotations = vg_stats_counter(st, "output.rotations", "output", c->name);
    *self = o;
    return VG_OK;
}

static vg_err write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return VG_EIO;
        p += w;
        n -= (size_t)w;
    }
    return VG_OK;
}

/* path.(keep-1) -> path.keep, ..., path -> path.1; then a fresh path. */
static vg_err of_rotate(out_file *o, vg_errbuf *eb)
{
    if (o->dirty && fdatasync(o->fd))
        return vg_errno(eb, VG_EIO, "%s: fsync failed", o->path);
    o->dirty = false;
    size_t n = strlen(o->path) + 24;
    char *from = malloc(n), *to = malloc(n);
    vg_err r = VG_OK;
    if (!from || !to) {
        r = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = o->keep - 1; i >= 1; i--) {
        snprintf(from, n, "%s.%lld", o->path, (long long)i);
        snprintf(to, n, "%s.%lld", o->path, (long long)i + 1);
        if (rename(from, to) && errno != ENOENT) {
            r = vg_errno(eb, VG_EIO, "%s: cannot rotate to %s", from, to);
            goto out;
        }
    }
    snprintf(to, n, "%s.1", o->path);
    if (rename(o->path, to) && errno != ENOENT) {
        r = vg_errno(eb, VG_EIO, "%s: cannot rotate to %s", o->path, to);
        goto out;
    }
    vg_counter_add(o->rotations, 1);
    r = of_open(o, eb);
out:
    free(from);
    free(to);
    return r;
}

static vg_err of_drain(out_file *o, vg_errbuf *eb)
{
    if (!o->pending.n)
        return VG_OK;
    struct stat st;
    if (stat(o->path, &st) != 0 || st.st_ino != o->ino) {
        /* Rotated away (or deleted): write to a fresh file at the path. */
        if (o->dirty)
            fsync(o->fd);
        vg_err r = of_open(o, eb);
        if (r)
            return r;
    }
    if (o->rotate_size > 0 && o->size > 0 && o->size + (int64_t)o->pending.n > o->rotate_size) {
        vg_err r = of_rotate(o, eb);
        if (r) {
            vg_counter_add(o->errors, 1);
            return r;
        }
    }
    struct stat before;
    off_t at = fstat(o->fd, &before) == 0 ? before.st_size : -1;
    if (write_all(o->fd, o->pending.p, o->pending.n)) {
        /* A partial write (disk full) would leave a torn line that the retry
           then follows with the whole buffer: cut the file back first. */
        int e = errno;
        if (at >= 0 && ftruncate(o->fd, at) != 0)
            vg_log_once("output_file_cut", VG_LOG_ERROR, "%s: cannot cut a partial write: %s",
                        o->path, strerror(errno));
        errno = e;
        vg_counter_add(o->errors, 1);
        /* Keep the data: the next flush tries again; positions do not advance. */
        return vg_errno(eb, VG_EIO, "%s: write failed", o->path);
    }
    vg_counter_add(o->bytes, o->pending.n);
    o->size += (int64_t)o->pending.n;
    vg_buf_reset(&o->pending);
    o->dirty = true;
    return VG_OK;
}

static vg_err of_write(void *self, const vg_alert *a)
{
    out_file *o = self;
    if (a->rule->level_rank < o->min_rank)
        return VG_OK;
    if (!vg_buf_append(&o->pending, a->json.p, a->json.n) || !vg_buf_putc(&o->pending, '\n')) {
        /* Past 64 MiB unflushed: write now, then retry once. */
        o->pending.overflow = false;
        vg_err r = of_drain(o, NULL);
        if (r || !vg_buf_append(&o->pending, a->json.p, a->json.n) ||
            !vg_buf_putc(&o->pending, '\n')) {
            vg_counter_add(o->errors, 1);
            return VG_EIO;
        }
    }
    vg_counter_add(o->written, 1);
    if (o->pending.n > (1 << 20))
        (void)of_drain(o, NULL);
    return VG_OK;
}

static vg_err of_flush(void *self, vg_errbuf *eb)
{
    out_file *o = self;
    vg_err r = of_drain(o, eb);
    if (r)
        return r;
    if (o->dirty) {
        if (fdatasync(o->fd)) {
            vg_counter_add(o->errors, 1);
            return vg_errno(eb, VG_EIO, "%s: fsync failed", o->path);
        }
        o->dirty = false;
    }
    return VG_OK;
}

static void of_destroy(void *self)
{
    out_file *o = self;
    if (!o)
        return;
    if (of_flush(o, NULL))
        vg_log(VG_LOG_ERROR, "%s: alerts could not be written at exit", o->path);
    if (o->fd >= 0)
        close(o->fd);
    vg_buf_free(&o->pending);
    free(o->path);
    free(o);
}

const vg_output_ops vg_output_file = {"file", of_create, of_write, of_flush, of_destroy};

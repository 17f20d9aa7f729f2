/*
 * secret.c - secret files: first-line tokens and private keys; see secret.h.
 *
 * The permission check runs on the opened descriptor (fstat), so what is
 * checked is what is read, even through a symlink (Kubernetes-style secret
 * mounts are symlinks).
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open path read-only and check it is a regular file not open to others. */
static vg_err open_checked(const char *path, int *fdp, vg_errbuf *eb)
{
    *fdp = -1;
    if (!path || !*path)
        return vg_errf(eb, VG_EINVAL, "empty secret file name");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return vg_errno(eb, errno == ENOENT ? VG_ENOTFOUND : VG_EIO, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        vg_err e = vg_errno(eb, VG_EIO, "%s", path);
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return vg_errf(eb, VG_EPERM, "%s: not a regular file", path);
    }
    if (st.st_mode & 007) {
        close(fd);
        return vg_errf(eb, VG_EPERM,
                       "%s: mode %04o lets other users %s it; refusing to use a secret that is "
                       "not private (fix: chmod 600 %s, or chmod 640 and a group the agent is in)",
                       path, (unsigned)(st.st_mode & 07777),
                       (st.st_mode & 004) ? "read" : "write or open", path);
    }
    *fdp = fd;
    return VG_OK;
}

vg_err vg_secret_read(const char *path, char *out, size_t cap, vg_errbuf *eb)
{
    vg_err e;
    int fd = -1;
    size_t n = 0;
    if (!out || cap < 2)
        return vg_errf(eb, VG_EINVAL, "secret buffer too small");
    out[0] = '\0';
    if ((e = open_checked(path, &fd, eb)))
        return e;
    /* Read until the first newline or cap - 1 bytes; one extra byte tells
       "exactly fits" from "too long". */
    for (;;) {
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = vg_errno(eb, VG_EIO, "%s", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (memchr(out, '\n', n) || n == cap - 1)
            break;
    }
    char *nl = memchr(out, '\n', n);
    if (!nl && n == cap - 1) {
        char extra;
        ssize_t r = read(fd, &extra, 1);
        if (r > 0 && extra != '\n' && extra != '\r') {
            e = vg_errf(eb, VG_ELIMIT, "%s: first line longer than %zu bytes", path, cap - 1);
            goto out;
        }
    }
    if (nl)
        n = (size_t)(nl - out);
    while (n && (out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    if (memchr(out, '\0', n) || !n) {
        e = vg_errf(eb, VG_ECONFIG, "%s: %s", path,
                    n ? "first line holds a NUL byte" : "first line is empty");
        goto out;
    }
    e = VG_OK;
out:
    if (e) {
        explicit_bzero(out, cap);
        out[0] = '\0';
    }
    close(fd);
    return e;
}

vg_err vg_secret_check_key(const char *path, vg_errbuf *eb)
{
    int fd;
    vg_err e = open_checked(path, &fd, eb);
    if (!e)
        close(fd);
    return e;
}

/* state.c - atomic versioned files in the state directory; see state.h. */
#include "state.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

vg_err vg_state_prepare(const char *dir, vg_errbuf *eb)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return vg_errf(eb, VG_EINVAL, "%s: path too long", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0750) && errno != EEXIST)
            return vg_errno(eb, VG_EIO, "%s: cannot create directory", p);
        *s = '/';
    }
    if (mkdir(p, 0750) && errno != EEXIST)
        return vg_errno(eb, VG_EIO, "%s: cannot create state directory", p);
    if (access(p, W_OK | X_OK))
        return vg_errno(eb, VG_EIO, "%s: state directory not writable", p);
    return VG_OK;
}

vg_err vg_state_write(const char *dir, const char *name, const void *data, size_t n,
                      vg_errbuf *eb)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return vg_errno(eb, VG_EIO, "%s: cannot create", tmp);
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            vg_errno(eb, VG_EIO, "%s: write failed", tmp);
            close(fd);
            unlink(tmp);
            return VG_EIO;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd)) {
        vg_errno(eb, VG_EIO, "%s: fsync failed", tmp);
        close(fd);
        unlink(tmp);
        return VG_EIO;
    }
    close(fd);
    if (rename(tmp, dst)) {
        vg_errno(eb, VG_EIO, "%s: rename failed", dst);
        unlink(tmp);
        return VG_EIO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return VG_OK;
}

vg_err vg_state_read_json(const char *dir, const char *name, int version, json_t **out,
                          vg_errbuf *eb)
{
    *out = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t je;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return VG_ENOTFOUND;
        return vg_errno(eb, VG_EIO, "%s: cannot open", path);
    }
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    (void)fclose(f); /* read only: nothing to lose */
    if (!root)
        return vg_errf(eb, VG_EPARSE, "%s:%d:%d: corrupt state file: %s", path, je.line,
                       je.column, je.text);
    json_t *v = json_object_get(root, "version");
    if (!json_is_integer(v)) {
        json_decref(root);
        return vg_errf(eb, VG_EPARSE, "%s: corrupt state file: no version", path);
    }
    if (json_integer_value(v) != version) {
        vg_errf(eb, VG_EVERSION, "%s: state format version %lld, this build reads version %d",
                path, (long long)json_integer_value(v), version);
        json_decref(root);
        return VG_EVERSION;
    }
    *out = root;
    return VG_OK;
}

vg_err vg_state_write_json(const char *dir, const char *name, int version, json_t *obj,
                           vg_errbuf *eb)
{
    json_object_set_new(obj, "version", json_integer(version));
    char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return vg_errf(eb, VG_ENOMEM, "cannot serialise %s", name);
    size_t n = strlen(s);
    vg_err r = vg_state_write(dir, name, s, n, eb);
    free(s);
    return r;
}

void vg_state_quarantine(const char *dir, const char *name)
{
    char a[PATH_MAX], b[PATH_MAX + 32];
    snprintf(a, sizeof a, "%s/%s", dir, name);
    snprintf(b, sizeof b, "%s.corrupt-%lld", a, (long long)time(NULL));
    if (rename(a, b)) /* left in place: the next write replaces it */
        vg_log(VG_LOG_WARNING, "state: cannot move %s aside: %s", a, strerror(errno));
}

vg_err vg_state_agent_id(const char *dir, char out[37], vg_errbuf *eb)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/agent-id", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char buf[64] = "";
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        (void)fclose(f); /* read only: nothing to lose */
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        if (strlen(buf) == 36 && strspn(buf, "0123456789abcdef-") == 36) {
            memcpy(out, buf, 37);
            return VG_OK;
        }
    }
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return vg_errno(eb, VG_EIO, "getrandom");
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
    char line[40];
    snprintf(line, sizeof line, "%s\n", out);
    return vg_state_write(dir, "agent-id", line, strlen(line), eb);
}

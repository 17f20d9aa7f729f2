/*
 * tail.c - the file collector: follow files matched by globs across rotation,
 * truncation and restarts, and hand their lines out as events.
 *
 * A file is known by its identity, not its path: device, inode and a
 * fingerprint (FNV-1a 64 of its first up-to-256 bytes, with the length
 * used). We keep each file open and read it with pread() at our own offset,
 * so a rename does not disturb us:
 *  - rename + create: the path now names another inode. The old file turns
 *    ROTATED: read through its fd to its end, its partial last line flushed
 *    once idle, and released after rotate_wait_ms without new bytes (a
 *    writer may not have reopened yet). The new file is found by a re-glob and read
 *    from 0. A ROTATED file that a glob matches under its new name becomes
 *    ACTIVE again (so `x.log*` does not read x.log.1 twice).
 *  - copytruncate / truncate: size below our offset, or the fingerprint no
 *    longer matches the head: restart at 0.
 *  - deletion (st_nlink == 0): read to the end, then release.
 *  - a path we may no longer stat (EACCES: its directory closed to us) is not
 *    a rotation: the open fd is read on (logged once).
 * Change notification is one inotify fd (IN_MODIFY and self events on files,
 * create/move/delete on the directories of the globs), with stat polling as
 * the fallback (`watch: poll`, or per file when a watch cannot be added) and
 * as a safety net every 15 seconds.
 *
 * Acknowledgement: `handed` is the offset just past the last line handed out
 * (the framer's resume point); mark() copies it, with the identity of that
 * moment, to `committed`; save() writes committed positions only. Restart
 * matches saved entries by (dev, ino, fingerprint); a saved file no longer
 * at its path is searched for in its directory (auth.log.1), read from its
 * saved offset to its end, then released.
 *
 * Bounds: at most TAIL_MAX_FILES files (more are counted, logged once).
 * A file holds a read buffer (<= read_buffer + max_line) only while it has
 * unread bytes or a partial line; an idle file gives it back. Bytes of long
 * lines dropped past max_line: input.truncated_bytes.
 *
 * Known limit: the fingerprint of a file shorter than 256 bytes grows with
 * it, so the stream id of its first lines differs from the id after it grew.
 *
 * The vg_input_conf given to create() must outlive the collector.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../agent/log.h"
#include "../agent/hash.h"
#include "collector.h"
#include "framer.h"

#define TAIL_MAX_FILES 4096     /* files tracked at once; more are counted and skipped */
#define TAIL_SAFETY_MS 15000    /* inotify mode: re-stat everything this often (4 wake-ups a minute) */
#define FP_MAX 256              /* bytes of the head hashed into the fingerprint */
#define DEFAULT_READ (256u * 1024)
#define DEFAULT_MAX_LINE (64u * 1024)
#define DEFAULT_POLL_MS 1000
#define DEFAULT_IDLE_MS 1000
#define DEFAULT_ROTATE_WAIT_MS 5000
#define FILE_EVENTS (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_EVENTS (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | \
                    IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR)

typedef enum tf_state { TF_ACTIVE, TF_ROTATED } tf_state;

typedef struct tfile {
    char *path;            /* where it was last seen; stream.name */
    int fd, wd;            /* wd: inotify watch, -1 = polled */
    uint64_t dev, ino;
    uint64_t fp;           /* fingerprint of the first fplen bytes */
    size_t fplen;
    uint64_t cfp;          /* identity as of the last mark() */
    size_t cfplen;
    uint64_t rpos;         /* next byte to read */
    uint64_t handed;       /* just past the last line handed out */
    uint64_t committed;    /* handed as of the last mark() */
    uint64_t nlines;       /* lines handed out (restored with the position) */
    uint64_t clines;       /* nlines as of the last mark() */
    uint64_t skip_seen;    /* fr.skipped_bytes already added to input.truncated_bytes */
    vg_framer fr;
    vg_stream stream;
    tf_state state;
    bool dirty;            /* there may be unread bytes */
    bool need_check;       /* an inotify event asked for a stat */
    bool release;          /* finished: free after this read() */
    int64_t last_data_ms;  /* monotonic time bytes last arrived */
    int64_t rotated_ms;    /* monotonic time it was seen rotated or deleted */
} tfile;

typedef struct wdir {
    char *path;
    int wd;                /* -1 = not watched (missing, wildcard, or poll mode) */
    bool wild;             /* the directory part itself holds glob characters */
    bool missing;          /* the directory does not exist (yet) */
    int anc_wd;            /* while missing: watch on its nearest existing ancestor, or -1 */
    char *anc;             /* that ancestor's path */
} wdir;

typedef struct saved_ent {
    char *path;
    uint64_t dev, ino, fp, offset, line;
    size_t fplen;
    bool used;
} saved_ent;

typedef struct tail {
    const vg_input_conf *conf;
    char *name;
    size_t max_line, read_size;
    int64_t poll_ms, idle_ms, rotate_ms;
    bool first_run, started;
    int ifd;               /* inotify, -1 in poll mode */
    wdir *dirs;
    size_t ndirs;
    tfile **files;
    size_t nfiles, rr;
    saved_ent *saved;
    size_t nsaved;
    bool rescan, check_all, more;
    bool dirs_changed; /* an ancestor of a missing directory changed */
    int64_t next_check_ms;
    vg_counter dummy;
    vg_counter *c_lines, *c_bytes, *c_trunc_lines, *c_opened, *c_rotations, *c_truncations,
        *c_dropped, *c_trunc_bytes;
} tail;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    return vg_fnv1a(VG_FNV_BASIS, p, n); /* persisted: positions.json "fp" */
}

/* Hash of the first min(want, size) bytes; *got = bytes hashed. */
static int head_hash(int fd, size_t want, uint64_t *h, size_t *got)
{
    unsigned char buf[FP_MAX] = {0}; /* cppcheck does not model pread filling buf[0..n) */
    if (want > FP_MAX)
        want = FP_MAX;
    size_t n = 0;
    while (n < want) {
        ssize_t r = pread(fd, buf + n, want - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *h = fnv1a(buf, n);
    *got = n;
    return 0;
}

static void set_stream_id(tfile *f)
{
    /* Device in hex (0x803 = 8:3), as DESIGN.md and `vigie scan` write it. */
    snprintf(f->stream.id, sizeof f->stream.id, "f:%" PRIx64 ":%" PRIu64 ":%016" PRIx64, f->dev,
             f->ino, f->fp);
}

/* Grow the fingerprint while the file is shorter than FP_MAX. */
static void refresh_fp(tfile *f)
{
    uint64_t h;
    size_t n;
    if (head_hash(f->fd, FP_MAX, &h, &n) == 0 && (n != f->fplen || h != f->fp)) {
        f->fp = h;
        f->fplen = n;
        set_stream_id(f);
    }
}

/* Does the head of the file still hash to (fp, fplen)? */
static bool fp_matches(int fd, uint64_t fp, size_t fplen)
{
    uint64_t h;
    size_t n;
    if (head_hash(fd, fplen, &h, &n) < 0)
        return false;
    return n == fplen && h == fp;
}

/* The directory part of a path or pattern ("." when there is none). */
static int dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    int n;
    if (!slash)
        n = snprintf(dir, size, ".");
    else if (slash == path)
        n = snprintf(dir, size, "/");
    else
        n = snprintf(dir, size, "%.*s", (int)(slash - path), path);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static bool has_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static bool excluded(const tail *t, const char *path)
{
    for (size_t i = 0; i < t->conf->exclude.n; i++)
        if (fnmatch(t->conf->exclude.v[i], path, 0) == 0)
            return true;
    return false;
}

static tfile *find_by_ino(tail *t, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < t->nfiles; i++)
        if (t->files[i]->dev == dev && t->files[i]->ino == ino)
            return t->files[i];
    return NULL;
}

static saved_ent *find_saved(tail *t, uint64_t dev, uint64_t ino, int fd)
{
    for (size_t i = 0; i < t->nsaved; i++) {
        saved_ent *s = &t->saved[i];
        if (!s->used && s->dev == dev && s->ino == ino && fp_matches(fd, s->fp, s->fplen))
            return s;
    }
    return NULL;
}

static void file_free(tail *t, tfile *f)
{
    if (!f)
        return;
    if (f->wd >= 0 && t->ifd >= 0)
        inotify_rm_watch(t->ifd, f->wd);
    if (f->fd >= 0)
        close(f->fd);
    vg_framer_destroy(&f->fr);
    free(f->path);
    free(f);
}

static int add_file_watch(tail *t, tfile *f)
{
    if (t->ifd < 0)
        return -1;
    /* Watch the inode we opened, not whatever the path names by now. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    int wd = inotify_add_watch(t->ifd, proc, FILE_EVENTS);
    if (wd < 0 && errno == ENOENT)
        wd = inotify_add_watch(t->ifd, f->path, FILE_EVENTS);
    if (wd < 0) {
        char key[PATH_MAX + 64];
        snprintf(key, sizeof key, "tail:%s:nowatch:%s", t->name, f->path);
        vg_log_once(key, t->conf->watch == VG_WATCH_INOTIFY ? VG_LOG_WARNING : VG_LOG_INFO,
                    "input %s: cannot watch %s (%s): polling it every %" PRId64 " ms", t->name,
                    f->path, strerror(errno), t->poll_ms);
    }
    return wd;
}

/*
 * Open `path` and start tracking it. Start offset: a matching saved
 * position, else the end when this is the very first run and start_at is
 * end (initial scan only), else 0. `state` is TF_ROTATED for a saved file
 * found under another name (read to its end, then released).
 */
static tfile *open_file(tail *t, const char *path, bool initial, tf_state state,
                        const saved_ent *want)
{
    char key[PATH_MAX + 64];
    tfile *f = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(key, sizeof key, "tail:%s:open:%s", t->name, path);
        vg_log_once(key, VG_LOG_WARNING, "input %s: cannot open %s: %s", t->name, path,
                    strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(key, sizeof key, "tail:%s:nonreg:%s", t->name, path);
        vg_log_once(key, VG_LOG_NOTICE, "input %s: %s is not a regular file, skipped", t->name,
                    path);
        goto fail;
    }
    if (t->nfiles >= TAIL_MAX_FILES) {
        vg_counter_add(t->c_dropped, 1);
        snprintf(key, sizeof key, "tail:%s:toomany", t->name);
        vg_log_once(key, VG_LOG_WARNING, "input %s: more than %d files, the others are skipped",
                    t->name, TAIL_MAX_FILES);
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size, off = 0, line = 0;
    if (want) {
        if (!fp_matches(fd, want->fp, want->fplen))
            goto fail;
        off = want->offset;
        line = want->line;
    } else {
        saved_ent *s = find_saved(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino, fd);
        if (s) {
            s->used = true;
            off = s->offset;
            line = s->line;
        } else if (initial && t->first_run && t->conf->start_at == VG_START_END) {
            off = size;
        }
    }
    if (off > size) {
        vg_counter_add(t->c_truncations, 1);
        off = 0;
        line = 0;
    }
    f = calloc(1, sizeof *f);
    tfile **nv = f ? realloc(t->files, (t->nfiles + 1) * sizeof *nv) : NULL;
    if (!nv)
        goto fail;
    t->files = nv;
    f->fd = fd;
    f->wd = -1;
    f->path = strdup(path);
    if (!f->path || vg_framer_init(&f->fr, t->max_line, t->read_size, off) < 0)
        goto fail;
    f->dev = (uint64_t)st.st_dev;
    f->ino = (uint64_t)st.st_ino;
    refresh_fp(f);
    set_stream_id(f);
    f->cfp = f->fp;
    f->cfplen = f->fplen;
    f->rpos = f->handed = f->committed = off;
    f->nlines = f->clines = line;
    f->stream.name = f->path;
    f->stream.input = t->name;
    f->state = state;
    f->dirty = true;
    f->last_data_ms = f->rotated_ms = mono_ms();
    f->wd = add_file_watch(t, f);
    t->files[t->nfiles++] = f;
    vg_counter_add(t->c_opened, 1);
    vg_log(VG_LOG_DEBUG, "input %s: following %s from offset %" PRIu64, t->name, path, off);
    return f;
fail:
    if (f) {
        f->fd = -1;
        file_free(t, f);
    }
    close(fd);
    return NULL;
}

/* A path matched a glob. */
static void consider(tail *t, const char *path, bool initial)
{
    if (excluded(t, path))
        return;
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) { /* a symlink loop, no permission; ENOENT: gone meanwhile */
            char key[PATH_MAX + 64];
            snprintf(key, sizeof key, "tail:%s:stat:%s", t->name, path);
            vg_log_once(key, VG_LOG_NOTICE, "input %s: %s skipped: %s", t->name, path,
                        strerror(errno));
        }
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        char key[PATH_MAX + 64];
        snprintf(key, sizeof key, "tail:%s:nonreg:%s", t->name, path);
        vg_log_once(key, VG_LOG_NOTICE, "input %s: %s is not a regular file, skipped", t->name,
                    path);
        return;
    }
    tfile *f = find_by_ino(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (f) {
        if (f->state == TF_ROTATED) {
            /* Renamed to a name we also follow: keep following it there. */
            char *p = strdup(path);
            if (p) {
                free(f->path);
                f->path = p;
                f->stream.name = p;
                f->state = TF_ACTIVE;
            }
        }
        return;
    }
    open_file(t, path, initial, TF_ACTIVE, NULL);
}

static void rescan(tail *t, bool initial)
{
    t->rescan = false;
    for (size_t i = 0; i < t->conf->paths.n; i++) {
        glob_t g;
        memset(&g, 0, sizeof g);
        if (glob(t->conf->paths.v[i], 0, NULL, &g) == 0)
            for (size_t k = 0; k < g.gl_pathc; k++)
                consider(t, g.gl_pathv[k], initial);
        globfree(&g);
    }
}

/* Drop a missing directory's ancestor watch (unless another one shares it). */
static void unwatch_ancestor(tail *t, wdir *d)
{
    if (d->anc_wd >= 0) {
        bool shared = false;
        for (size_t i = 0; i < t->ndirs; i++)
            if (&t->dirs[i] != d && t->dirs[i].anc_wd == d->anc_wd)
                shared = true;
        if (!shared && t->ifd >= 0)
            inotify_rm_watch(t->ifd, d->anc_wd);
    }
    d->anc_wd = -1;
    free(d->anc);
    d->anc = NULL;
}

/*
 * A directory of a glob does not exist yet (nginx not installed yet): watch
 * its nearest existing ancestor for creations instead of polling, so it is
 * picked up at once and an idle agent does not wake up for it. Re-evaluated
 * on each event there, as the missing path is created level by level.
 */
static void watch_ancestor(tail *t, wdir *d)
{
    if (t->ifd < 0)
        return;
    char a[PATH_MAX];
    snprintf(a, sizeof a, "%s", d->path);
    struct stat st;
    for (;;) {
        char *sl = strrchr(a, '/');
        if (!sl)
            return;
        if (sl == a)
            sl[1] = '\0';
        else
            *sl = '\0';
        if (stat(a, &st) == 0 && S_ISDIR(st.st_mode))
            break;
        if (sl == a)
            return;
    }
    if (d->anc && !strcmp(d->anc, a) && d->anc_wd >= 0)
        return;
    unwatch_ancestor(t, d);
    int wd = inotify_add_watch(t->ifd, a, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
    if (wd < 0)
        return;
    d->anc_wd = wd;
    d->anc = strdup(a);
}

/* Watch (or, in poll mode, look for) the directories of the globs. */
static void ensure_dirs(tail *t)
{
    for (size_t i = 0; i < t->ndirs; i++) {
        wdir *d = &t->dirs[i];
        if (d->wild || d->wd >= 0)
            continue;
        char key[PATH_MAX + 64];
        snprintf(key, sizeof key, "tail:%s:missing:%s", t->name, d->path);
        struct stat st;
        if (stat(d->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
            d->missing = true;
            watch_ancestor(t, d);
            if (d->anc_wd >= 0)
                vg_log_once(key, VG_LOG_NOTICE,
                            "input %s: directory %s does not exist (yet), watching %s for it",
                            t->name, d->path, d->anc);
            else
                vg_log_once(key, VG_LOG_NOTICE,
                            "input %s: directory %s does not exist (yet), checking every %" PRId64
                            " ms",
                            t->name, d->path, t->poll_ms);
            continue;
        }
        d->missing = false;
        unwatch_ancestor(t, d);
        vg_log_once_reset(key);
        if (t->ifd < 0)
            continue;
        d->wd = inotify_add_watch(t->ifd, d->path, DIR_EVENTS);
        if (d->wd >= 0) {
            t->rescan = true; /* files may have appeared before the watch */
        } else {
            snprintf(key, sizeof key, "tail:%s:nowatch:%s", t->name, d->path);
            vg_log_once(key, VG_LOG_INFO,
                        "input %s: cannot watch directory %s (%s): polling every %" PRId64 " ms",
                        t->name, d->path, strerror(errno), t->poll_ms);
        }
    }
}

/* Restart a file at 0 (truncated in place, or rewritten under us). */
static void restart_at_zero(tail *t, tfile *f)
{
    vg_counter_add(t->c_truncations, 1);
    vg_log(VG_LOG_INFO, "input %s: %s was truncated, reading it from the start", t->name,
           f->path);
    vg_framer_reset(&f->fr, 0);
    f->rpos = f->handed = 0;
    f->nlines = 0;
    f->fplen = 0;
    refresh_fp(f);
    set_stream_id(f);
    f->dirty = true;
}

/* Rotation, deletion, truncation, growth: one fstat, one stat, one head hash. */
static void check_file(tail *t, tfile *f)
{
    f->need_check = false;
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return; /* cannot happen on an open fd; the next read() reports real trouble */
    if (f->state == TF_ACTIVE) {
        struct stat pst = {0};
        int pr = st.st_nlink == 0 ? 0 : stat(f->path, &pst);
        int perr = pr < 0 ? errno : 0;
        if (st.st_nlink == 0) {
            f->state = TF_ROTATED; /* deleted: read what is left, then release */
            f->rotated_ms = mono_ms();
            t->rescan = true;
        } else if (pr < 0 && (perr == EACCES || perr == EPERM)) {
            /* The path cannot be looked at (a directory's permissions were
               taken away): not a rotation; keep reading through our fd. */
            char key[PATH_MAX + 64];
            snprintf(key, sizeof key, "tail:%s:stat:%s", t->name, f->path);
            vg_log_once(key, VG_LOG_WARNING, "input %s: cannot stat %s (%s): still reading the "
                        "file already open", t->name, f->path, strerror(perr));
        } else if (pr < 0 || (uint64_t)pst.st_dev != f->dev || (uint64_t)pst.st_ino != f->ino) {
            f->state = TF_ROTATED;
            f->rotated_ms = mono_ms();
            vg_counter_add(t->c_rotations, 1);
            vg_log(VG_LOG_DEBUG, "input %s: %s was rotated", t->name, f->path);
            t->rescan = true; /* the new file at the path, and our file's new name */
        }
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < f->rpos || (f->fplen && !fp_matches(f->fd, f->fp, f->fplen)))
        restart_at_zero(t, f);
    else if (f->fplen < FP_MAX && size > f->fplen)
        refresh_fp(f);
    if (size > f->rpos)
        f->dirty = true;
}

/* A name appeared in directory d: could a glob pick it up? (glob(3) does
   not match a leading '.' with a wildcard, hence FNM_PERIOD.) */
static bool may_match(const tail *t, const wdir *d, const char *name)
{
    char full[PATH_MAX];
    int n = strcmp(d->path, ".") == 0 ? snprintf(full, sizeof full, "%s", name)
                                      : snprintf(full, sizeof full, "%s/%s", d->path, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return true; /* let glob decide */
    for (size_t i = 0; i < t->conf->paths.n; i++)
        if (fnmatch(t->conf->paths.v[i], full, FNM_PATHNAME | FNM_PERIOD) == 0)
            return !excluded(t, full);
    return false;
}

/* A name left directory d: re-check the file we follow under that name. */
static void name_left(tail *t, const wdir *d, const char *name)
{
    char full[PATH_MAX];
    int n = strcmp(d->path, ".") == 0 ? snprintf(full, sizeof full, "%s", name)
                                      : snprintf(full, sizeof full, "%s/%s", d->path, name);
    for (size_t i = 0; i < t->nfiles; i++)
        if (n < 0 || (size_t)n >= sizeof full || strcmp(t->files[i]->path, full) == 0)
            t->files[i]->need_check = true;
}

static void drain_inotify(tail *t)
{
    _Alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(t->ifd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof *e + e->len;
            if (e->mask & IN_Q_OVERFLOW) {
                t->rescan = t->check_all = true;
                continue;
            }
            bool done = false;
            for (size_t i = 0; i < t->ndirs; i++)
                if (t->dirs[i].missing && t->dirs[i].anc_wd == e->wd)
                    t->dirs_changed = true;
            for (size_t i = 0; i < t->ndirs && !done; i++) {
                wdir *d = &t->dirs[i];
                if (d->wd != e->wd)
                    continue;
                done = true;
                if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                    if (!(e->mask & IN_IGNORED))
                        inotify_rm_watch(t->ifd, d->wd);
                    d->wd = -1; /* re-added by ensure_dirs on the poll timer */
                    t->rescan = t->check_all = true;
                }
                if (!e->len) {
                    if (e->mask & IN_ATTRIB) /* its own permissions changed */
                        t->rescan = t->check_all = true;
                    continue;
                }
                /* IN_ATTRIB: a file we could not open may have become readable. */
                if ((e->mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB)) && may_match(t, d, e->name))
                    t->rescan = true;
                if (e->mask & (IN_MOVED_FROM | IN_DELETE | IN_MOVED_TO | IN_CREATE))
                    name_left(t, d, e->name); /* also a create over a followed name */
            }
            for (size_t i = 0; i < t->nfiles && !done; i++) {
                tfile *f = t->files[i];
                if (f->wd != e->wd)
                    continue;
                done = true;
                if (e->mask & IN_IGNORED)
                    f->wd = -1;
                f->need_check = true;
            }
        }
    }
}

/* How often the timer fires: poll interval while anything is polled, the
   safety interval while files are open, never otherwise. */
static int64_t check_interval(const tail *t)
{
    if (t->ifd < 0)
        return t->poll_ms;
    for (size_t i = 0; i < t->ndirs; i++)
        if (t->dirs[i].wd < 0 && !(t->dirs[i].missing && t->dirs[i].anc_wd >= 0))
            return t->poll_ms;
    for (size_t i = 0; i < t->nfiles; i++)
        if (t->files[i]->wd < 0)
            return t->poll_ms;
    return t->nfiles ? TAIL_SAFETY_MS : -1;
}

static void fill(tail *t, tfile *f, vg_event *ev, const vg_line *l)
{
    ev->raw.p = l->p;
    ev->raw.n = l->n;
    ev->stream = &f->stream;
    ev->offset = l->offset;
    ev->line = ++f->nlines;
    if (l->truncated) {
        ev->flags |= VG_EV_TRUNCATED;
        vg_counter_add(t->c_trunc_lines, 1);
    }
    if (l->no_newline)
        ev->flags |= VG_EV_NO_NEWLINE;
    vg_counter_add(t->c_lines, 1);
}

/* Bytes the framer dropped past max_line since last time: input.truncated_bytes. */
static void count_skipped(tail *t, tfile *f)
{
    if (f->fr.skipped_bytes > f->skip_seen) {
        vg_counter_add(t->c_trunc_bytes, f->fr.skipped_bytes - f->skip_seen);
        f->skip_seen = f->fr.skipped_bytes;
    }
}

/* Hand out complete buffered lines of f. */
static size_t drain(tail *t, tfile *f, vg_batch *b, size_t *budget, bool *full)
{
    size_t n = 0;
    while (*budget) {
        vg_event *ev = vg_batch_push(b);
        if (!ev) {
            *full = true;
            break;
        }
        vg_line l;
        if (!vg_framer_next(&f->fr, &l)) {
            vg_batch_pop(b);
            break;
        }
        fill(t, f, ev, &l);
        (*budget)--;
        n++;
    }
    f->handed = vg_framer_offset(&f->fr);
    count_skipped(t, f);
    return n;
}

/*
 * One turn of one file: hand out buffered lines; if there were none, read
 * once and hand out what that gave. Reading is not done after lines were
 * handed out, because reading may move the buffer they point into.
 */
static size_t serve(tail *t, tfile *f, vg_batch *b, size_t *budget, bool *full, int64_t now)
{
    size_t n = drain(t, f, b, budget, full);
    if (n || *full || !*budget) {
        t->more = true;
        return n;
    }
    if (f->dirty) {
        size_t room;
        char *p = vg_framer_space(&f->fr, &room);
        if (!p) {
            char key[PATH_MAX + 64];
            snprintf(key, sizeof key, "tail:%s:nomem", t->name);
            vg_log_once(key, VG_LOG_ERROR, "input %s: out of memory for a read buffer", t->name);
            f->dirty = false; /* retried on the next check, not in a tight loop */
            return 0;
        }
        ssize_t r = pread(f->fd, p, room, (off_t)f->rpos);
        if (r > 0) {
            vg_framer_commit(&f->fr, (size_t)r);
            f->rpos += (uint64_t)r;
            vg_counter_add(t->c_bytes, (uint64_t)r);
            f->last_data_ms = now;
            f->dirty = (size_t)r == room;
            if (f->dirty)
                t->more = true;
            if (f->fplen < FP_MAX)
                refresh_fp(f);
            n = drain(t, f, b, budget, full);
            if (n)
                return n;
        } else if (r == 0) {
            f->dirty = false;
        } else if (errno != EINTR && errno != EAGAIN) {
            char key[PATH_MAX + 64];
            snprintf(key, sizeof key, "tail:%s:read:%s", t->name, f->path);
            vg_log_once(key, VG_LOG_WARNING, "input %s: reading %s: %s", t->name, f->path,
                        strerror(errno));
            f->dirty = false; /* retried on the next check; the position is kept */
        }
    }
    if (f->dirty)
        return 0;
    bool idle = now - f->last_data_ms >= t->idle_ms;
    if (idle && vg_framer_pending(&f->fr)) {
        vg_event *ev = vg_batch_push(b);
        vg_line l;
        if (!ev) {
            *full = true;
            return 0;
        }
        if (vg_framer_flush(&f->fr, &l)) {
            fill(t, f, ev, &l);
            (*budget)--;
            f->handed = vg_framer_offset(&f->fr);
            count_skipped(t, f);
            return 1;
        }
        vg_batch_pop(b);
        f->handed = vg_framer_offset(&f->fr);
    }
    count_skipped(t, f);
    if (vg_framer_pending(&f->fr) == 0) {
        if (f->state == TF_ROTATED && now - f->last_data_ms >= t->rotate_ms &&
            now - f->rotated_ms >= t->rotate_ms && f->handed == f->committed)
            f->release = true;
        else if (f->fr.buf && idle)
            /* Idle file: give its buffer back (at the next pass after idle_flush,
               not each time a busy file catches up: a free + malloc of
               max_line + read_buffer per append, and per read of a long line). */
            vg_framer_trim(&f->fr);
    }
    return 0;
}

static void release_finished(tail *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nfiles; i++) {
        tfile *f = t->files[i];
        if (f->release) {
            vg_log(VG_LOG_DEBUG, "input %s: done with %s", t->name, f->path);
            file_free(t, f);
        } else {
            t->files[k++] = f;
        }
    }
    t->nfiles = k;
    if (t->rr >= k)
        t->rr = 0;
}

/* ---- saved positions ---- */

static void saved_free(tail *t)
{
    for (size_t i = 0; i < t->nsaved; i++)
        free(t->saved[i].path);
    free(t->saved);
    t->saved = NULL;
    t->nsaved = 0;
}

static bool json_u64(const json_t *o, const char *k, uint64_t *v)
{
    json_t *x = json_object_get(o, k);
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return false;
    *v = (uint64_t)json_integer_value(x);
    return true;
}

static vg_err load_saved(tail *t, const json_t *saved)
{
    json_t *files = json_object_get(saved, "files");
    if (!json_is_array(files))
        return VG_OK;
    size_t n = json_array_size(files);
    if (n > TAIL_MAX_FILES)
        n = TAIL_MAX_FILES;
    t->saved = calloc(n ? n : 1, sizeof *t->saved);
    if (!t->saved)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(files, i);
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *fp = json_string_value(json_object_get(e, "fp"));
        saved_ent s = {0};
        uint64_t fplen;
        char *end;
        if (!path || !fp || !json_u64(e, "dev", &s.dev) || !json_u64(e, "ino", &s.ino) ||
            !json_u64(e, "fplen", &fplen) || fplen > FP_MAX || !json_u64(e, "offset", &s.offset))
            continue;
        errno = 0;
        s.fp = strtoull(fp, &end, 16);
        if (errno || *end || end == fp)
            continue;
        s.fplen = (size_t)fplen;
        if (!json_u64(e, "line", &s.line)) /* positions written before line counts */
            s.line = 0;
        if (!(s.path = strdup(path)))
            return VG_ENOMEM;
        t->saved[t->nsaved++] = s;
    }
    return VG_OK;
}

/* A saved file no longer at its path: look for it (same dev, inode and
   head) in the directory of its saved path, e.g. renamed to auth.log.1. */
static void find_rotated(tail *t, saved_ent *s)
{
    char dir[PATH_MAX];
    if (dir_of(s->path, dir, sizeof dir) < 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_dev != s->dev || (uint64_t)st.st_ino != s->ino)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        if (find_by_ino(t, s->dev, s->ino))
            break;
        if (open_file(t, path, false, TF_ROTATED, s)) {
            s->used = true;
            vg_log(VG_LOG_INFO, "input %s: %s was rotated to %s while stopped; finishing it",
                   t->name, s->path, path);
        }
        break;
    }
    closedir(d);
}

/* ---- ops ---- */

static void tail_destroy(void *self)
{
    tail *t = self;
    if (!t)
        return;
    for (size_t i = 0; i < t->nfiles; i++)
        file_free(t, t->files[i]);
    free(t->files);
    for (size_t i = 0; i < t->ndirs; i++) {
        if (t->dirs[i].wd >= 0 && t->ifd >= 0)
            inotify_rm_watch(t->ifd, t->dirs[i].wd);
        free(t->dirs[i].path);
        free(t->dirs[i].anc);
    }
    free(t->dirs);
    if (t->ifd >= 0)
        close(t->ifd);
    saved_free(t);
    free(t->name);
    free(t);
}

static vg_err add_dir(tail *t, const char *pattern)
{
    char dir[PATH_MAX];
    if (dir_of(pattern, dir, sizeof dir) < 0)
        return VG_EINVAL;
    for (size_t i = 0; i < t->ndirs; i++)
        if (strcmp(t->dirs[i].path, dir) == 0)
            return VG_OK;
    wdir *nv = realloc(t->dirs, (t->ndirs + 1) * sizeof *nv);
    if (!nv)
        return VG_ENOMEM;
    t->dirs = nv;
    wdir *d = &t->dirs[t->ndirs];
    d->path = strdup(dir);
    if (!d->path)
        return VG_ENOMEM;
    d->wd = -1;
    d->anc_wd = -1;
    d->anc = NULL;
    d->missing = false;
    d->wild = has_magic(dir);
    t->ndirs++;
    return VG_OK;
}

static vg_err tail_create(const vg_input_conf *conf, const vg_collector_env *env, void **self,
                          vg_errbuf *eb)
{
    vg_err err = VG_OK;
    *self = NULL;
    tail *t = calloc(1, sizeof *t);
    if (!t)
        return vg_errf(eb, VG_ENOMEM, "input %s: out of memory", conf->name ? conf->name : "?");
    t->ifd = -1;
    t->conf = conf;
    t->name = strdup(conf->name ? conf->name : "file");
    if (!t->name) {
        err = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    if (conf->paths.n == 0) {
        err = vg_errf(eb, VG_ECONFIG, "input %s: a file input needs `paths`", t->name);
        goto out;
    }
    t->max_line = conf->max_line > 0 ? (size_t)conf->max_line : DEFAULT_MAX_LINE;
    t->read_size = conf->read_buffer > 0 ? (size_t)conf->read_buffer : DEFAULT_READ;
    t->poll_ms = conf->poll_interval_ms > 0 ? conf->poll_interval_ms : DEFAULT_POLL_MS;
    t->idle_ms = conf->idle_flush_ms > 0 ? conf->idle_flush_ms : DEFAULT_IDLE_MS;
    t->rotate_ms = conf->rotate_wait_ms > 0 ? conf->rotate_wait_ms : DEFAULT_ROTATE_WAIT_MS;
    t->first_run = env && env->first_run;
    for (size_t i = 0; i < conf->paths.n; i++)
        if ((err = add_dir(t, conf->paths.v[i])) != VG_OK) {
            vg_errf(eb, err, "input %s: bad path %s", t->name, conf->paths.v[i]);
            goto out;
        }
    if (env && env->saved && (err = load_saved(t, env->saved)) != VG_OK) {
        vg_errf(eb, err, "input %s: out of memory loading positions", t->name);
        goto out;
    }
    vg_stats *st = env ? env->stats : NULL;
    vg_counter **cs[] = {&t->c_lines, &t->c_bytes, &t->c_trunc_lines, &t->c_opened,
                         &t->c_rotations, &t->c_truncations, &t->c_dropped, &t->c_trunc_bytes};
    const char *names[] = {"input.lines", "input.bytes", "input.truncated_lines",
                           "input.files_opened", "input.rotations", "input.truncations",
                           "input.files_dropped", "input.truncated_bytes"};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        *cs[i] = st ? vg_stats_counter(st, names[i], "input", t->name) : &t->dummy;
out:
    if (err != VG_OK) {
        tail_destroy(t);
        return err;
    }
    *self = t;
    return VG_OK;
}

static vg_err tail_start(void *self, vg_errbuf *eb)
{
    tail *t = self;
    if (t->started)
        return VG_OK;
    if (t->conf->watch != VG_WATCH_POLL) {
        t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (t->ifd < 0) {
            if (t->conf->watch == VG_WATCH_INOTIFY)
                return vg_errno(eb, VG_EIO, "input %s: inotify_init1", t->name);
            vg_log(VG_LOG_NOTICE, "input %s: inotify unavailable (%s), polling every %" PRId64
                   " ms", t->name, strerror(errno), t->poll_ms);
        }
    }
    ensure_dirs(t);
    rescan(t, true);
    for (size_t i = 0; i < t->nsaved; i++)
        if (!t->saved[i].used)
            find_rotated(t, &t->saved[i]);
    bool dir_missing = false;
    for (size_t i = 0; i < t->ndirs; i++)
        dir_missing = dir_missing || t->dirs[i].missing;
    if (t->nfiles == 0 && !dir_missing) { /* a missing directory was reported already */
        /* Say once that nothing matches yet (a service not installed, a
           typo); the watches pick the files up when they appear. */
        char pats[512] = "";
        for (size_t i = 0; i < t->conf->paths.n; i++) {
            size_t used = strlen(pats);
            snprintf(pats + used, sizeof pats - used, "%s%s", used ? ", " : "",
                     t->conf->paths.v[i]);
        }
        vg_log(VG_LOG_NOTICE, "input %s: no file matches %s yet; waiting for one", t->name,
               pats);
    }
    t->started = true;
    int64_t iv = check_interval(t);
    t->next_check_ms = iv < 0 ? INT64_MAX : mono_ms() + iv;
    return VG_OK;
}

static int tail_fd(void *self)
{
    return ((tail *)self)->ifd;
}

static int64_t tail_timeout_ms(void *self)
{
    tail *t = self;
    if (!t->started)
        return -1;
    if (t->more || t->rescan || t->check_all)
        return 0;
    int64_t deadline = t->next_check_ms;
    int64_t iv = check_interval(t);
    if (iv < 0)
        deadline = INT64_MAX;
    for (size_t i = 0; i < t->nfiles; i++) {
        const tfile *f = t->files[i];
        if (f->dirty || f->need_check)
            return 0;
        int64_t when = INT64_MAX;
        if (vg_framer_pending(&f->fr))
            when = f->last_data_ms + t->idle_ms;
        else if (f->state == TF_ROTATED && f->handed == f->committed)
            when = (f->last_data_ms > f->rotated_ms ? f->last_data_ms : f->rotated_ms) +
                   t->rotate_ms;
        if (when < deadline)
            deadline = when;
    }
    if (deadline == INT64_MAX)
        return -1;
    int64_t d = deadline - mono_ms();
    return d < 0 ? 0 : d;
}

static vg_err tail_read(void *self, vg_batch *b, size_t max)
{
    tail *t = self;
    if (!t->started)
        return VG_EAGAIN;
    int64_t now = mono_ms();
    t->more = false;
    if (t->ifd >= 0)
        drain_inotify(t);
    bool tick = now >= t->next_check_ms;
    if (tick) {
        t->check_all = t->rescan = true;
        ensure_dirs(t);
    } else if (t->dirs_changed) {
        t->rescan = true;
        ensure_dirs(t);
    }
    t->dirs_changed = false;
    for (size_t i = 0; i < t->nfiles; i++)
        if (t->check_all || t->files[i]->need_check)
            check_file(t, t->files[i]);
    t->check_all = false;
    if (t->rescan)
        rescan(t, false);
    /* The interval may have changed (a directory watch lost, a file polled). */
    int64_t iv = check_interval(t);
    if (iv < 0)
        t->next_check_ms = INT64_MAX;
    else if (tick || t->next_check_ms > now + iv)
        t->next_check_ms = now + iv;

    /* Rotated files first, so the end of auth.log.1 comes before the start
       of the new auth.log; then one turn each, round robin. */
    size_t budget = max, n = 0, nf = t->nfiles;
    bool full = false;
    for (size_t i = 0; i < nf && budget && !full; i++)
        if (t->files[i]->state == TF_ROTATED)
            n += serve(t, t->files[i], b, &budget, &full, now);
    size_t first = t->rr;
    for (size_t i = 0; i < nf && budget && !full; i++) {
        size_t k = (first + i) % nf;
        if (t->files[k]->state != TF_ROTATED)
            n += serve(t, t->files[k], b, &budget, &full, now);
        t->rr = (k + 1) % nf;
    }
    if (full || !budget)
        t->more = true;
    release_finished(t);
    return n ? VG_OK : VG_EAGAIN;
}

static void tail_mark(void *self)
{
    tail *t = self;
    for (size_t i = 0; i < t->nfiles; i++) {
        tfile *f = t->files[i];
        f->committed = f->handed;
        f->clines = f->nlines;
        f->cfp = f->fp;
        f->cfplen = f->fplen;
    }
}

/* JSON strings must be UTF-8: a path that is not is saved with '?' for its
   bad bytes (the identity, not the path, is what restores a position). */
static json_t *path_string(const char *path)
{
    json_t *s = json_string(path);
    if (s)
        return s;
    char *c = strdup(path);
    if (!c)
        return NULL;
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    s = json_string(c);
    free(c);
    return s;
}

static json_t *pack_entry(const char *path, uint64_t dev, uint64_t ino, uint64_t fp,
                          size_t fplen, uint64_t offset, uint64_t line)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, fp);
    json_t *e = json_pack("{s:o?, s:I, s:I, s:s, s:I, s:I}", "path", path_string(path), "dev",
                          (json_int_t)dev, "ino", (json_int_t)ino, "fp", hex, "fplen",
                          (json_int_t)fplen, "offset", (json_int_t)offset);
    if (e && line)
        json_object_set_new(e, "line", json_integer((json_int_t)line));
    if (e && !json_is_string(json_object_get(e, "path"))) {
        json_decref(e);
        e = NULL;
    }
    return e;
}

static json_t *tail_save(void *self)
{
    tail *t = self;
    json_t *root = json_pack("{s:i, s:[]}", "version", 1, "files");
    json_t *files = root ? json_object_get(root, "files") : NULL;
    if (!files)
        goto fail;
    for (size_t i = 0; i < t->nfiles; i++) {
        const tfile *f = t->files[i];
        json_t *e = pack_entry(f->path, f->dev, f->ino, f->cfp, f->cfplen, f->committed,
                               f->clines);
        if (!e || json_array_append_new(files, e) < 0) /* steals e, even on failure */
            goto fail;
    }
    /* Positions of files whose directory is missing right now (a late mount)
       are kept, so they still apply when it comes back. */
    for (size_t i = 0; i < t->nsaved; i++) {
        const saved_ent *v = &t->saved[i];
        char dir[PATH_MAX];
        struct stat st;
        if (v->used || dir_of(v->path, dir, sizeof dir) < 0 || stat(dir, &st) == 0)
            continue;
        json_t *e = pack_entry(v->path, v->dev, v->ino, v->fp, v->fplen, v->offset, v->line);
        if (!e || json_array_append_new(files, e) < 0)
            goto fail;
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}

/* Bytes not yet read, over the open files (one fstat each). */
static uint64_t tail_lag(void *self)
{
    tail *t = self;
    uint64_t lag = 0;
    for (size_t i = 0; i < t->nfiles; i++) {
        const tfile *f = t->files[i];
        struct stat st;
        if (f->fd >= 0 && fstat(f->fd, &st) == 0 && (uint64_t)st.st_size > f->rpos)
            lag += (uint64_t)st.st_size - f->rpos;
    }
    return lag;
}

const vg_collector_ops vg_collector_file = {
    .type = "file",
    .lag = tail_lag,
    .flags = 0,
    .create = tail_create,
    .start = tail_start,
    .fd = tail_fd,
    .timeout_ms = tail_timeout_ms,
    .read = tail_read,
    .mark = tail_mark,
    .save = tail_save,
    .destroy = tail_destroy,
};

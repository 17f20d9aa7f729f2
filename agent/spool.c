/*
 * spool.c - the durable compressed spool; see spool.h for the format and the
 * contracts.
 *
 * Shared state (segment lists, totals, readers' acknowledged cursors, the
 * stop flag) sits under one mutex; `cond` wakes readers at each publish and
 * at wake(), `ucond` wakes a blocked writer at each deletion. The writer's
 * own state (open segment fd, pending records, sealed frames) is touched by
 * the writer thread only, so compression, write() and fsync() run unlocked;
 * a frame becomes visible by raising its segment's `size` under the lock.
 * Readers read files with pread() on their own descriptors, unlocked: a
 * frame below a published size never changes. Deletions are decided under
 * the lock (the segment leaves the list) and unlink()ed after it.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h> /* compressBound: the header sanity bound */

#include "log.h"
#include "state.h"

#define SEG_HDR 16
#define FRAME_HDR 24
#define SEG_MAGIC "VGSPOOL" /* 8 bytes with its NUL */
#define FRAME_TARGET_DEFAULT (1u << 20)
#define ZRATIO_MAX 1032u /* deflate cannot expand more than this */
#define PERSIST_MS 1000

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static bool read_full(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return true;
}

static bool write_full(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return false;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return true;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

const char *vg_lane_name(vg_lane lane)
{
    return lane == VG_LANE_EVENTS ? "events" : "alerts";
}

static void seg_path(char *out, size_t n, const char *dir, vg_lane lane, uint64_t seq)
{
    /* Paths are bounded by the caller's buffer; a cut path simply fails to open. */
    if (snprintf(out, n, "%s/%s-%016" PRIu64 ".seg", dir, vg_lane_name(lane), seq) >= (int)n)
        out[0] = '\0';
}

/* Parse "alerts-0000000000000001.seg": lane and seq, or false. */
static bool seg_name_parse(const char *name, vg_lane *lane, uint64_t *seq)
{
    const char *p;
    if (!strncmp(name, "alerts-", 7))
        *lane = VG_LANE_ALERTS;
    else if (!strncmp(name, "events-", 7))
        *lane = VG_LANE_EVENTS;
    else
        return false;
    p = name + 7;
    if (strlen(p) != 16 + 4 || strcmp(p + 16, ".seg"))
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *seq = v;
    return true;
}

/* cursor-<name>.json with bytes outside [A-Za-z0-9_-] as %XX. */
static void cursor_file(char *out, size_t n, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = (size_t)snprintf(out, n, "cursor-");
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 8 < n; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '-') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    snprintf(out + o, n - o, ".json");
}

/* ---- frames ---- */

/* TORN: does not fit below the valid end; CORRUPT: bad header, CRC, gzip or
   record count; IOERR/NOMEM: the frame may be fine, this process cannot read it. */
typedef enum frame_res { FRAME_OK, FRAME_TORN, FRAME_CORRUPT, FRAME_IOERR, FRAME_NOMEM } frame_res;

/* A decoded frame: records are buf[offs[i] .. offs[i+1]-1) (the '\n' excluded). */
typedef struct frame {
    struct libdeflate_decompressor *dec;
    unsigned char *zbuf;
    size_t zcap;
    char *buf;
    size_t cap;
    uint32_t *offs;
    size_t ocap;
    uint32_t len, ulen, count;
    int64_t ms;
    /* where it came from (reader cache) */
    bool valid;
    uint64_t seq, off;
} frame;

static void frame_free(frame *f)
{
    if (f->dec)
        libdeflate_free_decompressor(f->dec);
    free(f->zbuf);
    free(f->buf);
    free(f->offs);
    memset(f, 0, sizeof *f);
}

static uint32_t frame_crc(const unsigned char *hdr, const unsigned char *payload, uint32_t len)
{
    /* libdeflate's CRC-32 is zlib's (same polynomial and values), faster */
    uint32_t c = libdeflate_crc32(0, hdr, 8);
    c = libdeflate_crc32(c, hdr + 12, 12);
    return libdeflate_crc32(c, payload, len);
}

/* Header sanity: does not need the payload. */
static bool frame_hdr_sane(uint32_t len, uint32_t ulen, uint32_t count)
{
    if (len == 0 || ulen == 0 || count == 0 || count > ulen)
        return false;
    if (ulen > VG_SPOOL_FRAME_MAX || len > compressBound(VG_SPOOL_FRAME_MAX) + 64)
        return false;
    /* bounded decompression: a frame cannot claim more than deflate can produce */
    if ((uint64_t)ulen > (uint64_t)len * ZRATIO_MAX + 1024)
        return false;
    return true;
}

/*
 * Read the frame at `off` of fd, whose data is valid below `limit`.
 * check_only: verify the header and CRC (recovery), no decompression.
 * TORN: the frame does not fit below limit (or the read failed);
 * CORRUPT: bad header, CRC, gzip or record count.
 */
static frame_res frame_load(frame *f, int fd, uint64_t off, uint64_t limit, bool check_only)
{
    unsigned char h[FRAME_HDR];
    if (off + FRAME_HDR > limit)
        return FRAME_TORN;
    if (!read_full(fd, h, FRAME_HDR, off))
        return FRAME_IOERR;
    f->len = get32(h);
    f->ulen = get32(h + 4);
    uint32_t crc = get32(h + 8);
    f->count = get32(h + 12);
    f->ms = (int64_t)get64(h + 16);
    if (!frame_hdr_sane(f->len, f->ulen, f->count))
        return FRAME_CORRUPT;
    if (off + FRAME_HDR + f->len > limit)
        return FRAME_TORN;
    if (!grow((void **)&f->zbuf, &f->zcap, f->len, 1))
        return FRAME_NOMEM;
    if (!read_full(fd, f->zbuf, f->len, off + FRAME_HDR))
        return FRAME_IOERR;
    if (frame_crc(h, f->zbuf, f->len) != crc)
        return FRAME_CORRUPT;
    if (check_only)
        return FRAME_OK;
    if (!grow((void **)&f->buf, &f->cap, f->ulen, 1) ||
        !grow((void **)&f->offs, &f->ocap, (size_t)f->count + 1, sizeof *f->offs))
        return FRAME_NOMEM;
    if (!f->dec && !(f->dec = libdeflate_alloc_decompressor()))
        return FRAME_NOMEM;
    /* Exactly one gzip member that fills exactly ulen bytes (its own CRC and
       size trailer checked by libdeflate). */
    size_t in_used = 0, out_len = 0;
    if (libdeflate_gzip_decompress_ex(f->dec, f->zbuf, f->len, f->buf, f->ulen, &in_used,
                                      &out_len) != LIBDEFLATE_SUCCESS ||
        in_used != f->len || out_len != f->ulen)
        return FRAME_CORRUPT;
    if (f->buf[f->ulen - 1] != '\n')
        return FRAME_CORRUPT;
    uint32_t n = 0, start = 0;
    while (start < f->ulen) {
        const char *nl = memchr(f->buf + start, '\n', f->ulen - start);
        if (!nl || n >= f->count)
            return FRAME_CORRUPT;
        f->offs[n++] = start;
        start = (uint32_t)(nl - f->buf) + 1;
    }
    if (n != f->count)
        return FRAME_CORRUPT;
    f->offs[n] = f->ulen;
    return FRAME_OK;
}

/* ---- the spool ---- */

typedef struct seg {
    uint64_t seq;
    uint64_t size; /* published end (all of the file once closed) */
    uint64_t records;
    int64_t first_ms; /* time of its first frame (0: none yet) */
    bool closed;
} seg;

typedef struct sealed {
    unsigned char *buf; /* frame header + payload */
    size_t len;
    uint32_t count;
} sealed;

typedef struct lane_st {
    /* under the lock */
    seg *segs; /* ascending seq */
    size_t n, cap;
    uint64_t bytes, records;
    uint64_t next_seq;
    /* writer only */
    int fd;                     /* open segment, -1 if none */
    uint64_t wseq, wsize, wpub; /* its seq, written end, published end */
    uint32_t wcount;            /* records written but not yet published */
    bool unsynced;              /* written data not fsync'ed yet (interval mode) */
    int64_t last_sync;
    char *raw;
    size_t raw_len, raw_cap;
    uint32_t raw_count;
    int64_t raw_ms;
    sealed *sl;
    size_t nsl, slcap, sl_bytes;
    uint64_t seg_target;
    /* counters */
    vg_counter *c_records, *c_bytes, *c_frames, *c_refused, *c_dropped, *c_dropped_bytes,
        *c_recovered, *c_corrupt, *c_skipped, *c_werr;
} lane_st;

typedef struct rslot {
    char *name;
    bool events;
    bool open;
    vg_spool_pos ack[VG_LANE_COUNT];
    bool dirty;
    int64_t last_persist;
} rslot;

struct vg_spool {
    vg_spool_conf conf;
    bool defer_sync; /* vg_spool_publish: write and show, fsync at the next vg_spool_flush */
    char dir[PATH_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cond, ucond;
    lane_st lane[VG_LANE_COUNT];
    rslot *readers;
    size_t nreaders;
    bool stopping;
    int lockfd;
    vg_stats *st;
    bool own_st;
    struct libdeflate_compressor *comp; /* level 1, for every frame */
    unsigned char *scratch;             /* its output, before the copy into a frame */
    size_t scratch_cap;
    bool werr; /* writer: the last flush failed (blocked until one succeeds) */
};

struct vg_spool_reader {
    vg_spool *s;
    rslot *slot;
    vg_spool_pos pos[VG_LANE_COUNT];
    frame fr[VG_LANE_COUNT];
    int fd[VG_LANE_COUNT];
    uint64_t fdseq[VG_LANE_COUNT];
};

/* A list of paths to unlink once the lock is released. */
typedef struct unlinks {
    char (*p)[PATH_MAX];
    size_t n, cap;
} unlinks;

static void unlinks_run(unlinks *u)
{
    for (size_t i = 0; i < u->n; i++)
        if (unlink(u->p[i]) && errno != ENOENT)
            vg_log(VG_LOG_WARNING, "spool: cannot delete %s: %s", u->p[i], strerror(errno));
    free(u->p);
    memset(u, 0, sizeof *u);
}

static int pos_cmp(const vg_spool_pos *a, const vg_spool_pos *b)
{
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    if (a->rec != b->rec)
        return a->rec < b->rec ? -1 : 1;
    return 0;
}

/* Locked. Remove segment i of lane l from the list; queue its file. */
static void seg_remove_locked(vg_spool *s, vg_lane l, size_t i, unlinks *u)
{
    lane_st *ls = &s->lane[l];
    seg *g = &ls->segs[i];
    if (u && grow((void **)&u->p, &u->cap, u->n + 1, sizeof *u->p))
        seg_path(u->p[u->n++], PATH_MAX, s->dir, l, g->seq);
    ls->bytes -= g->size;
    ls->records -= g->records;
    memmove(g, g + 1, (ls->n - i - 1) * sizeof *g);
    ls->n--;
}

/* Locked. Is every reader of lane l past segment g? */
static bool seg_consumed_locked(vg_spool *s, vg_lane l, const seg *g)
{
    for (size_t i = 0; i < s->nreaders; i++) {
        const rslot *r = &s->readers[i];
        if (l == VG_LANE_EVENTS && !r->events)
            continue;
        const vg_spool_pos *a = &r->ack[l];
        if (a->seq > g->seq)
            continue;
        if (a->seq == g->seq && a->off >= g->size && a->rec == 0)
            continue;
        return false;
    }
    return true;
}

/* Locked. Delete the closed segments at the head of each lane that every
   reader is past. Returns whether anything was deleted. */
static bool gc_locked(vg_spool *s, unlinks *u)
{
    bool any = false;
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        lane_st *ls = &s->lane[l];
        while (ls->n && ls->segs[0].closed && seg_consumed_locked(s, (vg_lane)l, &ls->segs[0])) {
            seg_remove_locked(s, (vg_lane)l, 0, u);
            any = true;
        }
    }
    return any;
}

/* Locked. Drop the lane's oldest closed segment (counted); bytes freed, 0 if none. */
static uint64_t drop_oldest_locked(vg_spool *s, vg_lane l, const char *why, unlinks *u)
{
    lane_st *ls = &s->lane[l];
    if (!ls->n || !ls->segs[0].closed)
        return 0;
    seg g = ls->segs[0];
    if (!seg_consumed_locked(s, l, &g)) {
        vg_counter_add(ls->c_dropped, g.records);
        vg_counter_add(ls->c_dropped_bytes, g.size);
        vg_log(VG_LOG_WARNING,
               "spool: %s lane %s: dropped segment %" PRIu64 " (%" PRIu64 " records, %" PRIu64
               " bytes) not yet delivered to every output",
               vg_lane_name(l), why, g.seq, g.records, g.size);
    }
    seg_remove_locked(s, l, 0, u);
    return g.size ? g.size : 1;
}

static bool has_closed_locked(const vg_spool *s, vg_lane l)
{
    return s->lane[l].n && s->lane[l].segs[0].closed;
}

/*
 * Locked. Apply caps and the free-disk guard; return whether the writer must
 * block. avail: free bytes (valid when have_avail).
 */
static bool enforce_locked(vg_spool *s, bool have_avail, uint64_t avail, unlinks *u)
{
    bool blocked = false;
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        lane_st *ls = &s->lane[l];
        int64_t max = s->conf.max[l];
        if (max <= 0)
            continue;
        if (s->conf.policy[l] == VG_SPOOL_DROP_OLDEST) {
            while (ls->bytes > (uint64_t)max &&
                   drop_oldest_locked(s, (vg_lane)l, "over its cap", u))
                ;
        } else if (ls->bytes > (uint64_t)max) {
            blocked = true;
        }
    }
    if (have_avail && s->conf.min_free_disk > 0) {
        uint64_t need = (uint64_t)s->conf.min_free_disk;
        while (avail < need && s->conf.policy[VG_LANE_EVENTS] == VG_SPOOL_DROP_OLDEST) {
            uint64_t f = drop_oldest_locked(s, VG_LANE_EVENTS, "low on disk", u);
            if (!f)
                break;
            avail += f;
        }
        /* raw events never push alerts out: alerts go only when no event is left to drop */
        while (avail < need && s->conf.policy[VG_LANE_ALERTS] == VG_SPOOL_DROP_OLDEST &&
               !has_closed_locked(s, VG_LANE_EVENTS)) {
            uint64_t f = drop_oldest_locked(s, VG_LANE_ALERTS, "low on disk", u);
            if (!f)
                break;
            avail += f;
        }
        if (avail < need) {
            blocked = true;
            vg_log_once("spool:disk", VG_LOG_WARNING,
                        "spool: less than min_free_disk (%" PRId64 " bytes) free in %s: "
                        "inputs paused until outputs catch up or space is freed",
                        s->conf.min_free_disk, s->dir);
        } else {
            vg_log_once_reset("spool:disk");
        }
    }
    return blocked;
}

static bool probe_avail(vg_spool *s, uint64_t *avail)
{
    if (s->conf.min_free_disk <= 0)
        return false;
    if (s->conf.statfs)
        return s->conf.statfs(s->dir, avail, s->conf.statfs_ud) == 0;
    struct statvfs sv;
    if (statvfs(s->dir, &sv)) {
        vg_log_once("spool:statvfs", VG_LOG_WARNING,
                    "spool: statvfs %s: %s (min_free_disk not applied)", s->dir, strerror(errno));
        return false;
    }
    *avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return true;
}

/* ---- recovery ---- */

/* Scan one segment file; truncate a bad tail. Adds it to the lane list. */
static void recover_segment(vg_spool *s, vg_lane l, uint64_t seq, frame *f)
{
    lane_st *ls = &s->lane[l];
    char path[PATH_MAX];
    seg_path(path, sizeof path, s->dir, l, seq);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        vg_log(VG_LOG_WARNING, "spool: cannot open %s: %s (skipped)", path, strerror(errno));
        vg_counter_add(ls->c_skipped, 1);
        return;
    }
    struct stat sb;
    unsigned char h[SEG_HDR];
    if (fstat(fd, &sb)) {
        vg_counter_add(ls->c_skipped, 1);
        close(fd);
        return;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < SEG_HDR) {
        /* torn at creation: nothing was ever published from it */
        vg_log(VG_LOG_WARNING, "spool: %s: torn segment header (%" PRIu64 " bytes), removed", path,
               size);
        vg_counter_add(ls->c_recovered, size);
        if (size)
            vg_counter_add(ls->c_corrupt, 1);
        close(fd);
        unlink(path);
        return;
    }
    if (!read_full(fd, h, SEG_HDR, 0) || memcmp(h, SEG_MAGIC, 8)) {
        vg_log(VG_LOG_ERROR,
               "spool: %s: not a Vigie spool segment (bad magic); left in place, skipped", path);
        vg_counter_add(ls->c_skipped, 1);
        close(fd);
        return;
    }
    if (get32(h + 8) != VG_SPOOL_VERSION) {
        vg_log(VG_LOG_ERROR,
               "spool: %s: segment format version %" PRIu32 ", this build reads version %d; "
               "left in place, skipped",
               path, get32(h + 8), VG_SPOOL_VERSION);
        vg_counter_add(ls->c_skipped, 1);
        close(fd);
        return;
    }
    if (get32(h + 12) != (uint32_t)l) {
        vg_log(VG_LOG_ERROR, "spool: %s: header says lane %" PRIu32 "; left in place, skipped",
               path, get32(h + 12));
        vg_counter_add(ls->c_skipped, 1);
        close(fd);
        return;
    }
    uint64_t off = SEG_HDR, records = 0;
    int64_t first_ms = 0;
    uint32_t nframes = 0;
    frame_res fr = FRAME_OK;
    while (off < size) {
        fr = frame_load(f, fd, off, size, true);
        if (fr != FRAME_OK)
            break;
        if (!nframes++)
            first_ms = f->ms;
        records += f->count;
        off += FRAME_HDR + (uint64_t)f->len;
    }
    if (off < size && (fr == FRAME_IOERR || fr == FRAME_NOMEM)) {
        /* not the file's fault: keep it whole, use what was checked */
        vg_log(VG_LOG_ERROR, "spool: %s: %s at offset %" PRIu64 "; the rest of it is skipped", path,
               fr == FRAME_NOMEM ? "out of memory" : "read error", off);
    } else if (off < size) {
        vg_log(VG_LOG_WARNING,
               "spool: %s: %s frame at offset %" PRIu64 ", %" PRIu64 " bytes cut off (recovered)",
               path, fr == FRAME_TORN ? "torn" : "corrupt", off, size - off);
        vg_counter_add(ls->c_recovered, size - off);
        vg_counter_add(ls->c_corrupt, 1);
        if (ftruncate(fd, (off_t)off) == 0)
            fsync(fd);
        else
            vg_log(VG_LOG_WARNING, "spool: %s: cannot truncate: %s", path, strerror(errno));
    }
    close(fd);
    if (!grow((void **)&ls->segs, &ls->cap, ls->n + 1, sizeof *ls->segs))
        return;
    ls->segs[ls->n++] =
        (seg){.seq = seq, .size = off, .records = records, .first_ms = first_ms, .closed = true};
    ls->bytes += off;
    ls->records += records;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* List a lane's segment seqs in dir, sorted. *out malloc'ed. */
static vg_err list_segments(const char *dir, vg_lane l, uint64_t **out, size_t *n, vg_errbuf *eb)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? vg_errf(eb, VG_ENOTFOUND, "%s: no spool", dir)
                               : vg_errno(eb, VG_EIO, "%s: cannot list", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        vg_lane el;
        uint64_t seq;
        if (!seg_name_parse(e->d_name, &el, &seq) || el != l)
            continue;
        if (!grow((void **)out, &cap, *n + 1, sizeof **out)) {
            closedir(d);
            free(*out);
            *out = NULL;
            *n = 0;
            return vg_errf(eb, VG_ENOMEM, "out of memory");
        }
        (*out)[(*n)++] = seq;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_u64);
    return VG_OK;
}

/* ---- cursors ---- */

static void cursor_persist(vg_spool *s, const char *name, const vg_spool_pos ack[VG_LANE_COUNT])
{
    char file[256];
    cursor_file(file, sizeof file, name);
    json_t *o = json_object();
    for (int l = 0; l < VG_LANE_COUNT; l++)
        json_object_set_new(o, vg_lane_name((vg_lane)l),
                            json_pack("[III]", (json_int_t)ack[l].seq, (json_int_t)ack[l].off,
                                      (json_int_t)ack[l].rec));
    vg_errbuf eb;
    if (vg_state_write_json(s->dir, file, VG_SPOOL_CURSOR_VERSION, o, &eb))
        vg_log(VG_LOG_WARNING, "spool: cursor of output %s not saved: %s", name, eb.msg);
    json_decref(o);
}

static void cursor_load(vg_spool *s, rslot *r)
{
    char file[256];
    cursor_file(file, sizeof file, r->name);
    json_t *o = NULL;
    vg_errbuf eb;
    vg_err e = vg_state_read_json(s->dir, file, VG_SPOOL_CURSOR_VERSION, &o, &eb);
    memset(r->ack, 0, sizeof r->ack);
    if (e == VG_ENOTFOUND)
        return; /* a new output: from the oldest data present */
    if (e) {
        vg_log(VG_LOG_ERROR, "spool: %s; moved aside, output %s restarts at the oldest data",
               eb.msg, r->name);
        vg_state_quarantine(s->dir, file);
        return;
    }
    bool ok = true;
    vg_spool_pos p[VG_LANE_COUNT] = {{0}};
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        json_int_t a = -1, b = -1, c = -1;
        json_t *v = json_object_get(o, vg_lane_name((vg_lane)l));
        if (json_unpack(v, "[III]", &a, &b, &c) || a < 0 || b < 0 || c < 0 || c > UINT32_MAX) {
            ok = false;
            break;
        }
        p[l] = (vg_spool_pos){(uint64_t)a, (uint64_t)b, (uint32_t)c};
    }
    json_decref(o);
    if (!ok) {
        vg_log(VG_LOG_ERROR,
               "spool: %s/%s: malformed cursor; moved aside, output %s restarts at "
               "the oldest data",
               s->dir, file, r->name);
        vg_state_quarantine(s->dir, file);
        return;
    }
    memcpy(r->ack, p, sizeof p);
}

/* Check a loaded cursor against the recovered segments: it must point at a
   frame boundary of an existing segment, else it falls back (duplicates,
   never loss) to the start of that segment. */
static void cursor_check(vg_spool *s, rslot *r, frame *f)
{
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        vg_spool_pos *a = &r->ack[l];
        lane_st *ls = &s->lane[l];
        if (a->off <= SEG_HDR && a->rec == 0)
            continue;
        const seg *g = NULL;
        for (size_t i = 0; i < ls->n; i++)
            if (ls->segs[i].seq == a->seq)
                g = &ls->segs[i];
        if (!g)
            continue; /* gone: the next existing segment */
        bool good = false;
        if (a->off >= g->size) {
            /* acknowledged beyond what survived (an unsynced tail lost with
               the power): all that is left of it was delivered */
            good = true;
            *a = (vg_spool_pos){g->seq, g->size, 0};
        } else {
            char path[PATH_MAX];
            seg_path(path, sizeof path, s->dir, (vg_lane)l, g->seq);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                good = frame_load(f, fd, a->off, g->size, true) == FRAME_OK && a->rec < f->count;
                close(fd);
            }
        }
        if (!good) {
            vg_log(VG_LOG_WARNING,
                   "spool: cursor of output %s does not match segment %s %" PRIu64
                   " (after a recovery?): re-reading it from its start",
                   r->name, vg_lane_name((vg_lane)l), g->seq);
            *a = (vg_spool_pos){g->seq, SEG_HDR, 0};
        }
    }
}

static void delete_stale_cursors(vg_spool *s)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "cursor-", 7))
            continue;
        size_t n = strlen(e->d_name);
        if (n < 12 || strcmp(e->d_name + n - 5, ".json"))
            continue;
        bool keep = false;
        for (size_t i = 0; i < s->nreaders && !keep; i++) {
            char f[256];
            cursor_file(f, sizeof f, s->readers[i].name);
            keep = !strcmp(f, e->d_name);
        }
        if (keep)
            continue;
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", s->dir, e->d_name);
        vg_log(VG_LOG_INFO, "spool: %s: output no longer configured, cursor deleted", p);
        unlink(p);
    }
    closedir(d);
}

/* ---- open / close ---- */

void vg_spool_conf_from_config(vg_spool_conf *sc, const vg_config *c)
{
    sc->state_dir = c->state_dir;
    sc->fsync_interval = c->spool_fsync == 1;
    sc->fsync_interval_ms = c->spool_fsync_interval_ms;
    sc->segment_size = c->spool_segment_size;
    sc->max[VG_LANE_ALERTS] = c->spool_alerts_max;
    sc->policy[VG_LANE_ALERTS] =
        c->spool_alerts_policy == 1 ? VG_SPOOL_DROP_OLDEST : VG_SPOOL_BLOCK;
    sc->max[VG_LANE_EVENTS] = c->spool_events_max;
    sc->policy[VG_LANE_EVENTS] =
        c->spool_events_policy == 1 ? VG_SPOOL_DROP_OLDEST : VG_SPOOL_BLOCK;
    sc->min_free_disk = c->spool_min_free_disk;
}

static void spool_free(vg_spool *s)
{
    if (!s)
        return;
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        lane_st *ls = &s->lane[l];
        if (ls->fd >= 0)
            close(ls->fd);
        free(ls->segs);
        free(ls->raw);
        for (size_t i = 0; i < ls->nsl; i++)
            free(ls->sl[i].buf);
        free(ls->sl);
    }
    for (size_t i = 0; i < s->nreaders; i++)
        free(s->readers[i].name);
    free(s->readers);
    if (s->comp)
        libdeflate_free_compressor(s->comp);
    free(s->scratch);
    if (s->lockfd >= 0)
        close(s->lockfd);
    if (s->own_st)
        vg_stats_destroy(s->st);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->ucond);
    free(s);
}

vg_err vg_spool_open(const vg_spool_conf *conf, vg_stats *stats, vg_spool **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_err e = VG_OK;
    frame f = {0};
    uint64_t *seqs = NULL;
    if (!conf->state_dir)
        return vg_errf(eb, VG_EINVAL, "spool: no state directory");
    vg_spool *s = calloc(1, sizeof *s);
    if (!s)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    s->lockfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_cond_init(&s->ucond, &ca);
    pthread_condattr_destroy(&ca);
    for (int l = 0; l < VG_LANE_COUNT; l++)
        s->lane[l].fd = -1;
    s->conf = *conf;
    s->conf.readers = NULL;
    s->conf.state_dir = NULL;
    if (s->conf.frame_target == 0)
        s->conf.frame_target = FRAME_TARGET_DEFAULT;
    if (s->conf.frame_target > VG_SPOOL_FRAME_MAX / 2)
        s->conf.frame_target = VG_SPOOL_FRAME_MAX / 2;
    if (s->conf.segment_size <= 0)
        s->conf.segment_size = 8 << 20;
    s->st = stats;
    if (!s->st) {
        s->st = vg_stats_create();
        s->own_st = true;
        if (!s->st) {
            e = vg_errf(eb, VG_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (snprintf(s->dir, sizeof s->dir, "%s/spool", conf->state_dir) >= (int)sizeof s->dir) {
        e = vg_errf(eb, VG_EINVAL, "%s: path too long", conf->state_dir);
        goto out;
    }
    if ((e = vg_state_prepare(s->dir, eb)))
        goto out;
    char lp[PATH_MAX + 8];
    snprintf(lp, sizeof lp, "%s/lock", s->dir);
    s->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (s->lockfd < 0) {
        e = vg_errno(eb, VG_EIO, "%s: cannot open", lp);
        goto out;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB)) {
        e = errno == EWOULDBLOCK ? vg_errf(eb, VG_EIO,
                                           "%s: spool in use by another process (another vigie run "
                                           "with the same state directory?)",
                                           s->dir)
                                 : vg_errno(eb, VG_EIO, "%s: cannot lock", lp);
        goto out;
    }
    s->readers = calloc(conf->nreaders ? conf->nreaders : 1, sizeof *s->readers);
    if (!s->readers) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < conf->nreaders; i++) {
        const char *nm = conf->readers[i].name;
        if (!nm || !*nm || strlen(nm) > VG_SPOOL_NAME_MAX) {
            e = vg_errf(eb, VG_EINVAL, "spool: output name empty or longer than %d bytes",
                        VG_SPOOL_NAME_MAX);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(conf->readers[j].name, nm)) {
                e = vg_errf(eb, VG_EINVAL, "spool: two outputs named %s", nm);
                goto out;
            }
        if (!(s->readers[i].name = strdup(nm))) {
            e = vg_errf(eb, VG_ENOMEM, "out of memory");
            goto out;
        }
        s->readers[i].events = conf->readers[i].events;
        s->nreaders++;
    }
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        lane_st *ls = &s->lane[l];
        const char *ln = vg_lane_name((vg_lane)l);
        ls->c_records = vg_stats_counter(s->st, "spool.records", "lane", ln);
        ls->c_bytes = vg_stats_counter(s->st, "spool.bytes_written", "lane", ln);
        ls->c_frames = vg_stats_counter(s->st, "spool.frames", "lane", ln);
        ls->c_refused = vg_stats_counter(s->st, "spool.refused_records", "lane", ln);
        ls->c_dropped = vg_stats_counter(s->st, "spool.dropped_records", "lane", ln);
        ls->c_dropped_bytes = vg_stats_counter(s->st, "spool.dropped_bytes", "lane", ln);
        ls->c_recovered = vg_stats_counter(s->st, "spool.recovered_bytes", "lane", ln);
        ls->c_corrupt = vg_stats_counter(s->st, "spool.corrupt_frames", "lane", ln);
        ls->c_skipped = vg_stats_counter(s->st, "spool.skipped_segments", "lane", ln);
        ls->c_werr = vg_stats_counter(s->st, "spool.write_errors", "lane", ln);
        /* segments are rotated at a quarter of the cap so drop_oldest has something to drop */
        uint64_t t = (uint64_t)s->conf.segment_size;
        if (s->conf.max[l] > 0 && (uint64_t)s->conf.max[l] / 4 < t)
            t = (uint64_t)s->conf.max[l] / 4;
        ls->seg_target = t < 4096 ? 4096 : t;
        size_t n;
        if ((e = list_segments(s->dir, (vg_lane)l, &seqs, &n, eb)))
            goto out;
        for (size_t i = 0; i < n; i++) {
            recover_segment(s, (vg_lane)l, seqs[i], &f);
            if (seqs[i] >= ls->next_seq)
                ls->next_seq = seqs[i] + 1;
        }
        free(seqs);
        seqs = NULL;
    }
    for (size_t i = 0; i < s->nreaders; i++) {
        rslot *r = &s->readers[i];
        cursor_load(s, r);
        cursor_check(s, r, &f);
        for (int l = 0; l < VG_LANE_COUNT; l++)
            if (r->ack[l].seq >= s->lane[l].next_seq)
                s->lane[l].next_seq = r->ack[l].seq + 1;
        r->last_persist = mono_ms();
    }
    for (int l = 0; l < VG_LANE_COUNT; l++)
        if (s->lane[l].next_seq == 0)
            s->lane[l].next_seq = 1;
    delete_stale_cursors(s);
    unlinks u = {0};
    gc_locked(s, &u); /* not shared yet */
    unlinks_run(&u);
    *out = s;
out:
    frame_free(&f);
    free(seqs);
    if (e)
        spool_free(s);
    return e;
}

void vg_spool_close(vg_spool *s)
{
    if (!s)
        return;
    vg_errbuf eb;
    if (vg_spool_flush(s, &eb))
        vg_log(VG_LOG_ERROR, "spool: final flush failed: %s", eb.msg);
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        lane_st *ls = &s->lane[l];
        if (ls->fd >= 0 && ls->unsynced)
            fsync(ls->fd);
    }
    spool_free(s);
}

/* ---- writer ---- */

/* Compress the lane's pending records into a sealed frame. */
static vg_err seal(vg_spool *s, lane_st *ls)
{
    if (!ls->raw_count)
        return VG_OK;
    /* libdeflate level 1: whole-buffer gzip at ~1.5x zlib's level-1 speed,
       with a better ratio; the member is a standard gzip member either way. */
    if (!s->comp && !(s->comp = libdeflate_alloc_compressor(1)))
        return VG_ENOMEM;
    /* Compress into a kept scratch buffer (its pages stay mapped), then
       copy the frame out at its size (some kB: from the heap, no mmap). */
    size_t bound = libdeflate_gzip_compress_bound(s->comp, ls->raw_len);
    if (!grow((void **)&s->scratch, &s->scratch_cap, bound, 1) ||
        !grow((void **)&ls->sl, &ls->slcap, ls->nsl + 1, sizeof *ls->sl))
        return VG_ENOMEM;
    size_t clen = libdeflate_gzip_compress(s->comp, ls->raw, ls->raw_len, s->scratch, bound);
    unsigned char *buf = clen ? malloc(FRAME_HDR + clen) : NULL;
    if (!buf)
        return VG_ENOMEM;
    memcpy(buf + FRAME_HDR, s->scratch, clen);
    if (s->scratch_cap > (4u << 20)) { /* an outsized frame: do not keep its scratch */
        free(s->scratch);
        s->scratch = NULL;
        s->scratch_cap = 0;
    }
    uint32_t len = (uint32_t)clen;
    put32(buf, len);
    put32(buf + 4, (uint32_t)ls->raw_len);
    put32(buf + 12, ls->raw_count);
    put64(buf + 16, (uint64_t)ls->raw_ms);
    put32(buf + 8, frame_crc(buf, buf + FRAME_HDR, len));
    ls->sl[ls->nsl++] = (sealed){buf, FRAME_HDR + (size_t)len, ls->raw_count};
    ls->sl_bytes += FRAME_HDR + (size_t)len;
    ls->raw_len = 0;
    ls->raw_count = 0;
    return VG_OK;
}

vg_err vg_spool_append(vg_spool *s, vg_lane lane, const char *rec, size_t len)
{
    if ((unsigned)lane >= VG_LANE_COUNT)
        return VG_EINVAL;
    lane_st *ls = &s->lane[lane];
    if (len > VG_SPOOL_RECORD_MAX) {
        vg_counter_add(ls->c_refused, 1);
        vg_log(VG_LOG_WARNING, "spool: %s record of %zu bytes refused (limit %u)",
               vg_lane_name(lane), len, VG_SPOOL_RECORD_MAX);
        return VG_ELIMIT;
    }
    if (len == 0 || memchr(rec, '\n', len)) {
        vg_counter_add(ls->c_refused, 1);
        vg_log(VG_LOG_WARNING, "spool: %s record refused: %s", vg_lane_name(lane),
               len ? "contains a newline" : "empty");
        return VG_EINVAL;
    }
    if (ls->raw_count && ls->raw_len + len + 1 > s->conf.frame_target) {
        vg_err e = seal(s, ls);
        if (e)
            return e;
    }
    if (!grow((void **)&ls->raw, &ls->raw_cap, ls->raw_len + len + 1, 1))
        return VG_ENOMEM;
    if (!ls->raw_count)
        ls->raw_ms = wall_ms();
    memcpy(ls->raw + ls->raw_len, rec, len);
    ls->raw[ls->raw_len + len] = '\n';
    ls->raw_len += len + 1;
    ls->raw_count++;
    if (ls->raw_len >= s->conf.frame_target)
        return seal(s, ls);
    return VG_OK;
}

/* Writer. Make what is written in the open segment visible (after fsync per
   policy, or always when closing it). */
static vg_err publish(vg_spool *s, vg_lane l, bool closing, unlinks *u, vg_errbuf *eb)
{
    lane_st *ls = &s->lane[l];
    if (ls->fd < 0)
        return VG_OK;
    int64_t now = mono_ms();
    bool dirty = ls->wsize > ls->wpub || ls->unsynced;
    bool due = s->defer_sync ? false
                             : (!s->conf.fsync_interval ||
                                now - ls->last_sync >= s->conf.fsync_interval_ms);
    if (dirty && (closing || due)) {
        if (fsync(ls->fd))
            return vg_errno(eb, VG_EIO, "spool: fsync of %s segment %" PRIu64, vg_lane_name(l),
                            ls->wseq);
        ls->last_sync = now;
        ls->unsynced = false;
    } else if (ls->wsize > ls->wpub) {
        ls->unsynced = true;
    }
    pthread_mutex_lock(&s->mu);
    if (ls->n && ls->segs[ls->n - 1].seq == ls->wseq) {
        seg *g = &ls->segs[ls->n - 1];
        ls->bytes += ls->wsize - g->size;
        ls->records += ls->wcount;
        g->size = ls->wsize;
        g->records += ls->wcount;
        g->closed = closing;
    }
    ls->wpub = ls->wsize;
    ls->wcount = 0;
    if (closing)
        gc_locked(s, u);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (closing) {
        close(ls->fd);
        ls->fd = -1;
    }
    return VG_OK;
}

/* Writer. Create the next segment file of lane l and list it (empty). */
static vg_err seg_create(vg_spool *s, vg_lane l, int64_t first_ms, vg_errbuf *eb)
{
    lane_st *ls = &s->lane[l];
    char path[PATH_MAX];
    uint64_t seq = ls->next_seq;
    seg_path(path, sizeof path, s->dir, l, seq);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return vg_errno(eb, VG_EIO, "spool: cannot create %s", path);
    unsigned char h[SEG_HDR] = SEG_MAGIC;
    put32(h + 8, VG_SPOOL_VERSION);
    put32(h + 12, (uint32_t)l);
    if (!write_full(fd, h, SEG_HDR, 0) || (!s->conf.fsync_interval && fsync(fd))) {
        vg_errno(eb, VG_EIO, "spool: cannot write %s", path);
        close(fd);
        unlink(path);
        return VG_EIO;
    }
    fsync_dir(s->dir);
    pthread_mutex_lock(&s->mu);
    bool ok = grow((void **)&ls->segs, &ls->cap, ls->n + 1, sizeof *ls->segs);
    if (ok) {
        ls->segs[ls->n++] = (seg){.seq = seq, .size = SEG_HDR, .first_ms = first_ms};
        ls->bytes += SEG_HDR;
        ls->next_seq++;
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok) {
        close(fd);
        unlink(path);
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    }
    ls->fd = fd;
    ls->wseq = seq;
    ls->wsize = ls->wpub = SEG_HDR;
    ls->wcount = 0;
    ls->last_sync = mono_ms();
    return VG_OK;
}

/* Writer. Write the lane's sealed frames, rotating segments on the way. */
static vg_err flush_lane(vg_spool *s, vg_lane l, unlinks *u, vg_errbuf *eb)
{
    lane_st *ls = &s->lane[l];
    vg_err e = VG_OK;
    size_t done = 0; /* sealed frames published */
    size_t i = 0;
    for (i = 0; i < ls->nsl; i++) {
        sealed *f = &ls->sl[i];
        if (ls->fd < 0 && (e = seg_create(s, l, (int64_t)get64(f->buf + 16), eb)))
            goto fail;
        if (!write_full(ls->fd, f->buf, f->len, ls->wsize)) {
            e = vg_errno(eb, VG_EIO, "spool: write to %s segment %" PRIu64, vg_lane_name(l),
                         ls->wseq);
            goto fail;
        }
        ls->wsize += f->len;
        ls->wcount += f->count;
        if (ls->wsize >= ls->seg_target) {
            if ((e = publish(s, l, true, u, eb)))
                goto fail;
            done = i + 1;
        }
    }
    if ((e = publish(s, l, false, u, eb)))
        goto fail;
    for (i = 0; i < ls->nsl; i++) {
        vg_counter_add(ls->c_frames, 1);
        vg_counter_add(ls->c_records, ls->sl[i].count);
        vg_counter_add(ls->c_bytes, ls->sl[i].len);
        free(ls->sl[i].buf);
    }
    ls->nsl = 0;
    ls->sl_bytes = 0;
    return VG_OK;
fail:
    vg_counter_add(ls->c_werr, 1);
    /* cut the open segment back to its published end; keep the unpublished frames */
    if (ls->fd >= 0) {
        if (ftruncate(ls->fd, (off_t)ls->wpub))
            vg_log(VG_LOG_ERROR, "spool: cannot truncate %s segment %" PRIu64 ": %s",
                   vg_lane_name(l), ls->wseq, strerror(errno));
        ls->wsize = ls->wpub;
        ls->wcount = 0;
    }
    for (i = 0; i < done; i++) {
        vg_counter_add(ls->c_frames, 1);
        vg_counter_add(ls->c_records, ls->sl[i].count);
        vg_counter_add(ls->c_bytes, ls->sl[i].len);
        ls->sl_bytes -= ls->sl[i].len;
        free(ls->sl[i].buf);
    }
    memmove(ls->sl, ls->sl + done, (ls->nsl - done) * sizeof *ls->sl);
    ls->nsl -= done;
    return e;
}

vg_err vg_spool_publish(vg_spool *s, vg_errbuf *eb)
{
    s->defer_sync = true;
    vg_err e = vg_spool_flush(s, eb);
    s->defer_sync = false;
    return e;
}

vg_err vg_spool_flush(vg_spool *s, vg_errbuf *eb)
{
    vg_err e = VG_OK, e2;
    unlinks u = {0};
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        lane_st *ls = &s->lane[l];
        if ((e2 = seal(s, ls))) {
            if (!e)
                e = vg_errf(eb, e2, "spool: cannot compress a frame: out of memory");
            continue;
        }
        if (ls->nsl)
            e2 = flush_lane(s, (vg_lane)l, &u, eb);
        else
            e2 = publish(s, (vg_lane)l, false, &u, eb); /* a due fsync in interval mode */
        if (e2 && !e)
            e = e2;
    }
    uint64_t avail = 0;
    bool have = probe_avail(s, &avail);
    pthread_mutex_lock(&s->mu);
    enforce_locked(s, have, avail, &u);
    pthread_mutex_unlock(&s->mu);
    unlinks_run(&u);
    s->werr = e != VG_OK;
    return e;
}

bool vg_spool_blocked(vg_spool *s)
{
    unlinks u = {0};
    uint64_t avail = 0;
    bool have = probe_avail(s, &avail);
    pthread_mutex_lock(&s->mu);
    bool b = enforce_locked(s, have, avail, &u);
    pthread_mutex_unlock(&s->mu);
    unlinks_run(&u);
    return b || s->werr;
}

static struct timespec abs_mono(int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    return ts;
}

bool vg_spool_wait_unblocked(vg_spool *s, int64_t timeout_ms)
{
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (!vg_spool_blocked(s))
            return true;
        int64_t now = mono_ms();
        if (now >= deadline)
            return false;
        int64_t until = now + 100 < deadline ? now + 100 : deadline;
        struct timespec ts = abs_mono(until);
        pthread_mutex_lock(&s->mu);
        if (!s->stopping)
            pthread_cond_timedwait(&s->ucond, &s->mu, &ts);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            return !vg_spool_blocked(s);
    }
}

/* ---- gauges ---- */

void vg_spool_depth(vg_spool *s, vg_lane lane, uint64_t *bytes, uint64_t *records)
{
    pthread_mutex_lock(&s->mu);
    if (bytes)
        *bytes = (unsigned)lane < VG_LANE_COUNT ? s->lane[lane].bytes : 0;
    if (records)
        *records = (unsigned)lane < VG_LANE_COUNT ? s->lane[lane].records : 0;
    pthread_mutex_unlock(&s->mu);
}

/* Locked. Time of the oldest frame at or after position a in lane l; 0 if none. */
static int64_t oldest_at_locked(vg_spool *s, vg_lane l, const vg_spool_pos *a)
{
    lane_st *ls = &s->lane[l];
    for (size_t i = 0; i < ls->n; i++) {
        const seg *g = &ls->segs[i];
        if (g->seq < a->seq)
            continue;
        if (g->seq > a->seq || a->off <= SEG_HDR) {
            if (g->size > SEG_HDR)
                return g->first_ms;
            continue;
        }
        if (a->off >= g->size)
            continue;
        char path[PATH_MAX];
        seg_path(path, sizeof path, s->dir, l, g->seq);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        unsigned char h[FRAME_HDR];
        int64_t t = g->first_ms;
        if (fd >= 0) {
            if (read_full(fd, h, FRAME_HDR, a->off))
                t = (int64_t)get64(h + 16);
            close(fd);
        }
        return t;
    }
    return 0;
}

int64_t vg_spool_oldest_unacked(vg_spool *s, const char *name)
{
    int64_t best = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nreaders; i++) {
        rslot *r = &s->readers[i];
        if (strcmp(r->name, name))
            continue;
        for (int l = 0; l < VG_LANE_COUNT; l++) {
            if (l == VG_LANE_EVENTS && !r->events)
                continue;
            int64_t t = oldest_at_locked(s, (vg_lane)l, &r->ack[l]);
            if (t && (!best || t < best))
                best = t;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return best;
}

void vg_spool_wake(vg_spool *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_cond_broadcast(&s->ucond);
    pthread_mutex_unlock(&s->mu);
}

/* ---- readers ---- */

vg_err vg_spool_reader_open(vg_spool *s, const char *name, vg_spool_reader **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_spool_reader *r = calloc(1, sizeof *r);
    if (!r)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    vg_err e = VG_OK;
    pthread_mutex_lock(&s->mu);
    rslot *slot = NULL;
    for (size_t i = 0; i < s->nreaders; i++)
        if (!strcmp(s->readers[i].name, name))
            slot = &s->readers[i];
    if (!slot)
        e = vg_errf(eb, VG_ENOTFOUND, "spool: output %s was not registered at open", name);
    else if (slot->open)
        e = vg_errf(eb, VG_EINVAL, "spool: reader of output %s already open", name);
    else {
        slot->open = true;
        memcpy(r->pos, slot->ack, sizeof r->pos);
    }
    pthread_mutex_unlock(&s->mu);
    if (e) {
        free(r);
        return e;
    }
    r->s = s;
    r->slot = slot;
    for (int l = 0; l < VG_LANE_COUNT; l++)
        r->fd[l] = -1;
    *out = r;
    return VG_OK;
}

static void reader_persist(vg_spool_reader *r, bool force)
{
    vg_spool *s = r->s;
    vg_spool_pos ack[VG_LANE_COUNT];
    int64_t now = mono_ms();
    pthread_mutex_lock(&s->mu);
    bool go = r->slot->dirty && (force || now - r->slot->last_persist >= PERSIST_MS);
    if (go) {
        memcpy(ack, r->slot->ack, sizeof ack);
        r->slot->dirty = false;
        r->slot->last_persist = now;
    }
    pthread_mutex_unlock(&s->mu);
    if (go)
        cursor_persist(s, r->slot->name, ack);
}

void vg_spool_reader_close(vg_spool_reader *r)
{
    if (!r)
        return;
    reader_persist(r, true);
    pthread_mutex_lock(&r->s->mu);
    r->slot->open = false;
    pthread_mutex_unlock(&r->s->mu);
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        if (r->fd[l] >= 0)
            close(r->fd[l]);
        frame_free(&r->fr[l]);
    }
    free(r);
}

void vg_spool_rewind(vg_spool_reader *r)
{
    pthread_mutex_lock(&r->s->mu);
    memcpy(r->pos, r->slot->ack, sizeof r->pos);
    pthread_mutex_unlock(&r->s->mu);
}

/*
 * Locked. Normalise p against the lane's segments: returns false when there
 * is nothing to read at p now; else p names an existing segment and a frame
 * offset below its published size, *limit being that size.
 */
static bool resolve_locked(vg_spool *s, vg_lane l, vg_spool_pos *p, uint64_t *limit)
{
    lane_st *ls = &s->lane[l];
    for (size_t i = 0; i < ls->n; i++) {
        const seg *g = &ls->segs[i];
        if (g->seq < p->seq)
            continue;
        if (g->seq > p->seq)
            *p = (vg_spool_pos){g->seq, SEG_HDR, 0};
        if (p->off < SEG_HDR)
            *p = (vg_spool_pos){g->seq, SEG_HDR, 0};
        if (p->off < g->size) {
            *limit = g->size;
            return true;
        }
        if (!g->closed)
            return false;
        *p = (vg_spool_pos){g->seq + 1, 0, 0}; /* past a closed segment: the next one */
    }
    return false;
}

static bool reader_lane_has_data_locked(vg_spool_reader *r, vg_lane l)
{
    if (l == VG_LANE_EVENTS && !r->slot->events)
        return false;
    vg_spool_pos p = r->pos[l];
    uint64_t lim;
    return resolve_locked(r->s, l, &p, &lim);
}

static bool reader_has_data_locked(vg_spool_reader *r, bool alerts)
{
    return (alerts && reader_lane_has_data_locked(r, VG_LANE_ALERTS)) ||
           reader_lane_has_data_locked(r, VG_LANE_EVENTS);
}

static bool batch_add(vg_spool_batch *b, const char *p, size_t n)
{
    if (!grow((void **)&b->items, &b->cap, b->n + 1, sizeof *b->items) ||
        !grow((void **)&b->data, &b->data_cap, b->data_len + n + 1, 1))
        return false;
    memcpy(b->data + b->data_len, p, n);
    b->data[b->data_len + n] = '\0';
    b->items[b->n].data = (const char *)(uintptr_t)b->data_len; /* fixed up at the end */
    b->items[b->n].len = n;
    b->n++;
    b->data_len += n + 1;
    b->bytes += n;
    return true;
}

/*
 * Reader's thread. Move records of lane l from the read position into b.
 * Returns 1 when the batch is full, 0 when the lane has nothing more now,
 * -1 on ENOMEM.
 */
static int fill_lane(vg_spool_reader *r, vg_lane l, vg_spool_batch *b, size_t max_records,
                     size_t max_bytes)
{
    vg_spool *s = r->s;
    lane_st *ls = &s->lane[l];
    frame *f = &r->fr[l];
    for (;;) {
        if (b->n >= max_records || (b->n && b->bytes >= max_bytes))
            return 1;
        uint64_t limit = 0;
        pthread_mutex_lock(&s->mu);
        bool ok = resolve_locked(s, l, &r->pos[l], &limit);
        pthread_mutex_unlock(&s->mu);
        if (!ok)
            return 0;
        vg_spool_pos *p = &r->pos[l];
        if (!(f->valid && f->seq == p->seq && f->off == p->off)) {
            f->valid = false;
            if (r->fd[l] < 0 || r->fdseq[l] != p->seq) {
                if (r->fd[l] >= 0)
                    close(r->fd[l]);
                char path[PATH_MAX];
                seg_path(path, sizeof path, s->dir, l, p->seq);
                r->fd[l] = open(path, O_RDONLY | O_CLOEXEC);
                r->fdseq[l] = p->seq;
                if (r->fd[l] < 0) {
                    /* dropped meanwhile: resolve moves on (the list no longer has it) */
                    pthread_mutex_lock(&s->mu);
                    bool listed = false;
                    for (size_t i = 0; i < ls->n; i++)
                        listed |= ls->segs[i].seq == p->seq;
                    pthread_mutex_unlock(&s->mu);
                    if (listed) {
                        vg_log(VG_LOG_ERROR, "spool: cannot open %s: %s; segment skipped", path,
                               strerror(errno));
                        vg_counter_add(ls->c_corrupt, 1);
                    }
                    *p = (vg_spool_pos){p->seq + 1, 0, 0};
                    continue;
                }
            }
            frame_res fr = frame_load(f, r->fd[l], p->off, limit, false);
            if (fr == FRAME_NOMEM)
                return -1;
            if (fr != FRAME_OK) {
                vg_counter_add(ls->c_corrupt, 1);
                vg_log(VG_LOG_ERROR,
                       "spool: %s segment %" PRIu64 ": %s frame at offset %" PRIu64
                       "; the rest of what is published is skipped",
                       vg_lane_name(l), p->seq, fr == FRAME_IOERR ? "unreadable" : "corrupt",
                       p->off);
                /* a frame's length cannot be trusted: skip to the published end */
                *p = (vg_spool_pos){p->seq, limit, 0};
                continue;
            }
            f->valid = true;
            f->seq = p->seq;
            f->off = p->off;
            if (p->rec >= f->count)
                p->rec = 0; /* cannot happen for a position we made */
        }
        if (!b->oldest_ms || (f->ms && f->ms < b->oldest_ms))
            b->oldest_ms = f->ms;
        while (p->rec < f->count) {
            uint32_t a = f->offs[p->rec], z = f->offs[p->rec + 1] - 1;
            size_t n = z - a;
            if (b->n >= max_records || (b->n && b->bytes + n > max_bytes))
                return 1;
            if (!batch_add(b, f->buf + a, n))
                return -1;
            p->rec++;
        }
        *p = (vg_spool_pos){p->seq, p->off + FRAME_HDR + f->len, 0};
    }
}

static void batch_reset(vg_spool_batch *b)
{
    b->n = b->nalerts = b->bytes = b->data_len = 0;
    b->oldest_ms = 0;
}

vg_err vg_spool_read(vg_spool_reader *r, size_t max_records, size_t max_bytes, int64_t wait_ms,
                     int64_t linger_ms, vg_spool_batch *out, vg_errbuf *eb)
{
    vg_spool *s = r->s;
    batch_reset(out);
    out->owner = r;
    if (max_records == 0)
        max_records = 1;
    if (max_bytes == 0)
        max_bytes = 1;
    memcpy(out->start, r->pos, sizeof out->start);
    pthread_mutex_lock(&s->mu);
    bool settled = true; /* no batch outstanding */
    for (int l = 0; l < VG_LANE_COUNT; l++)
        settled &= pos_cmp(&r->pos[l], &r->slot->ack[l]) == 0;
    pthread_mutex_unlock(&s->mu);
    int64_t deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    int64_t linger_end = 0;
    vg_err e = VG_OK;
    for (;;) {
        /* alerts only while the batch holds no event, so they stay in front */
        bool alerts_ok = out->n == out->nalerts;
        int full = 0;
        if (alerts_ok) {
            full = fill_lane(r, VG_LANE_ALERTS, out, max_records, max_bytes);
            out->nalerts = out->n;
        }
        if (full == 0 && r->slot->events)
            full = fill_lane(r, VG_LANE_EVENTS, out, max_records, max_bytes);
        if (full < 0) {
            e = vg_errf(eb, VG_ENOMEM, "spool: out of memory reading a frame");
            break;
        }
        if (full > 0)
            break;
        if (out->n && !linger_end)
            linger_end = mono_ms() + (linger_ms > 0 ? linger_ms : 0);
        int64_t until = out->n ? linger_end : deadline;
        reader_persist(r, false);
        pthread_mutex_lock(&s->mu);
        if (r->slot->dirty && r->slot->last_persist + PERSIST_MS < until)
            until = r->slot->last_persist + PERSIST_MS;
        int64_t now = mono_ms();
        if (s->stopping || now >= (out->n ? linger_end : deadline)) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (!alerts_ok && reader_lane_has_data_locked(r, VG_LANE_ALERTS)) {
            pthread_mutex_unlock(&s->mu); /* new alerts: return now, they come next */
            break;
        }
        if (!reader_has_data_locked(r, alerts_ok) && now < until) {
            struct timespec ts = abs_mono(until);
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
    }
    memcpy(out->end, r->pos, sizeof out->end);
    for (size_t i = 0; i < out->n; i++)
        out->items[i].data = out->data + (uintptr_t)out->items[i].data;
    if (e)
        return e;
    if (!out->n && settled) {
        /* nothing read, but the position may have moved over empty or
           corrupt segments: acknowledge that, so they can be deleted */
        vg_spool_ack(r, out);
    }
    return out->n ? VG_OK : VG_EAGAIN;
}

void vg_spool_ack(vg_spool_reader *r, const vg_spool_batch *b)
{
    vg_spool *s = r->s;
    if (b->owner != r)
        return;
    unlinks u = {0};
    pthread_mutex_lock(&s->mu);
    bool moved = false;
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        if (pos_cmp(&b->end[l], &r->slot->ack[l]) > 0) {
            r->slot->ack[l] = b->end[l];
            moved = true;
        }
    }
    if (moved) {
        r->slot->dirty = true;
        if (gc_locked(s, &u))
            pthread_cond_broadcast(&s->ucond);
    }
    pthread_mutex_unlock(&s->mu);
    unlinks_run(&u);
    reader_persist(r, false);
}

void vg_spool_batch_release(vg_spool_batch *b)
{
    free(b->items);
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- read-only scan ---- */

vg_err vg_spool_scan(const char *state_dir, vg_lane lane, vg_spool_scan_fn cb, void *ud,
                     uint64_t *corrupt, vg_errbuf *eb)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/spool", state_dir) >= (int)sizeof dir)
        return vg_errf(eb, VG_EINVAL, "%s: path too long", state_dir);
    uint64_t *seqs = NULL;
    size_t n = 0;
    vg_err e = list_segments(dir, lane, &seqs, &n, eb);
    if (e)
        return e;
    frame f = {0};
    vg_err ver = VG_OK;
    bool stop = false;
    for (size_t i = 0; i < n && !stop; i++) {
        char path[PATH_MAX];
        seg_path(path, sizeof path, dir, lane, seqs[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* deleted since the listing */
        struct stat sb;
        unsigned char h[SEG_HDR];
        if (fstat(fd, &sb) || !read_full(fd, h, SEG_HDR, 0)) {
            close(fd);
            continue;
        }
        if (memcmp(h, SEG_MAGIC, 8) || get32(h + 12) != (uint32_t)lane) {
            if (corrupt)
                (*corrupt)++;
            close(fd);
            continue;
        }
        if (get32(h + 8) != VG_SPOOL_VERSION) {
            ver = vg_errf(eb, VG_EVERSION,
                          "%s: segment format version %" PRIu32 ", this build reads version %d",
                          path, get32(h + 8), VG_SPOOL_VERSION);
            close(fd);
            continue;
        }
        uint64_t size = (uint64_t)sb.st_size, off = SEG_HDR;
        while (off < size && !stop) {
            frame_res fr = frame_load(&f, fd, off, size, false);
            if (fr != FRAME_OK) {
                if (corrupt && fr == FRAME_CORRUPT)
                    (*corrupt)++;
                break;
            }
            for (uint32_t k = 0; k < f.count && !stop; k++)
                stop = cb(ud, f.buf + f.offs[k], f.offs[k + 1] - 1 - f.offs[k], f.ms) != 0;
            off += FRAME_HDR + (uint64_t)f.len;
        }
        close(fd);
    }
    frame_free(&f);
    free(seqs);
    return ver;
}

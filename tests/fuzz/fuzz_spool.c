/*
 * fuzz_spool.c - libFuzzer target: spool recovery and reading of a hostile
 * segment file.
 *
 * The first input byte chooses how the rest becomes alerts-...01.seg in a
 * state directory made once per process (under /dev/shm when it exists):
 *   bit 0: prepend a valid segment header (else the bytes are the whole file);
 *   bit 1: walk the frames by their length fields and fix their CRC32, so the
 *          fuzzer reaches the gzip and record-splitting code behind the CRC.
 * Then: vg_spool_open (recovery), one reader drains everything (each record
 * must be non-empty, without '\n', within the frame limit), a record is
 * appended and flushed (the writer after a recovery), the spool is closed
 * and reopened, and vg_spool_scan reads the directory. Nothing may crash,
 * leak, or allocate beyond the frame bounds (-rss_limit_mb).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/log.h"
#include "agent/spool.h"

static char dir[128], spooldir[160];

static void clean(void)
{
    DIR *d = opendir(spooldir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        snprintf(p, sizeof p, "%s/%s", spooldir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recompute the CRC of each frame that fits (same layout as spool.c). */
static void fix_crcs(unsigned char *b, size_t n)
{
    size_t off = 16;
    while (off + 24 <= n) {
        uint32_t len = get32(b + off);
        if (len > n - off - 24)
            break;
        uLong c = crc32(0L, Z_NULL, 0);
        c = crc32(c, b + off, 8);
        c = crc32(c, b + off + 12, 12);
        c = crc32(c, b + off + 24, len);
        put32(b + off + 8, (uint32_t)c);
        off += 24 + (size_t)len;
    }
}

static int scan_cb(void *ud, const char *rec, size_t len, int64_t ms)
{
    (void)ms;
    if (memchr(rec, '\n', len))
        abort();
    (*(size_t *)ud)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        vg_log_set_quiet(true);
        vg_log_set_level(VG_LOG_ERROR);
        snprintf(dir, sizeof dir, "%s/vg-fuzz-spool-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        snprintf(spooldir, sizeof spooldir, "%s/spool", dir);
        mkdir(spooldir, 0750);
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    size_t n = size + ((mode & 1) ? 16 : 0);
    unsigned char *b = malloc(n ? n : 1);
    if (!b)
        return 0;
    size_t o = 0;
    if (mode & 1) {
        memcpy(b, "VGSPOOL", 8);
        put32(b + 8, VG_SPOOL_VERSION);
        put32(b + 12, VG_LANE_ALERTS);
        o = 16;
    }
    if (size)
        memcpy(b + o, data, size);
    if (mode & 2)
        fix_crcs(b, n);
    clean();
    char path[256];
    snprintf(path, sizeof path, "%s/alerts-0000000000000001.seg", spooldir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n)
        abort();
    fclose(f);
    free(b);

    vg_spool_reader_conf rc = {"fuzz", true};
    vg_spool_conf conf = {
        .state_dir = dir,
        .segment_size = 1 << 20,
        .readers = &rc,
        .nreaders = 1,
        .fsync_interval = true,
        .fsync_interval_ms = 60000,
    };
    vg_spool *s = NULL;
    vg_errbuf eb;
    if (vg_spool_open(&conf, NULL, &s, &eb))
        abort(); /* a hostile segment never prevents the start */
    vg_spool_reader *r = NULL;
    if (vg_spool_reader_open(s, "fuzz", &r, &eb))
        abort();
    vg_spool_batch bt = {0};
    while (vg_spool_read(r, 256, 1 << 20, 0, 0, &bt, NULL) == VG_OK) {
        for (size_t i = 0; i < bt.n; i++)
            if (!bt.items[i].len || bt.items[i].len > VG_SPOOL_FRAME_MAX ||
                memchr(bt.items[i].data, '\n', bt.items[i].len))
                abort();
        vg_spool_ack(r, &bt);
    }
    vg_spool_batch_release(&bt);
    vg_spool_reader_close(r);
    if (vg_spool_append(s, VG_LANE_ALERTS, "{\"x\":1}", 7) || vg_spool_flush(s, &eb))
        abort();
    vg_spool_close(s);
    size_t cnt = 0;
    uint64_t corrupt = 0;
    vg_spool_scan(dir, VG_LANE_ALERTS, scan_cb, &cnt, &corrupt, &eb);
    if (cnt < 1)
        abort(); /* the record written after recovery is on disk */
    return 0;
}

/*
 * test_spool.c - the durable spool against real files in a temp directory.
 *
 * Covers: round trip and order, read limits, multi-reader independence and
 * deletion only after every reader acknowledged, cursors across restarts,
 * recovery at every truncation offset and every flipped byte of a small
 * segment, unknown versions, the caps (drop_oldest, block), min_free_disk
 * through the statfs hook, the read-only scan, and a writer with two
 * concurrent readers over 200k records (no loss, no duplicate, in order).
 * Waits are conditions with deadlines (vg_spool_read's own timed wait).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/spool.h"

/* ---- harness ---- */

typedef struct harness {
    char dir[64];
    char spooldir[128];
    vg_spool_conf conf;
    vg_spool_reader_conf readers[4];
    vg_stats *st;
    vg_spool *s;
} harness;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void h_init(harness *h)
{
    memset(h, 0, sizeof *h);
    /* tmpfs when there is one: fsync is free there, and these tests check
       logic, not the disk */
    strcpy(h->dir,
           access("/dev/shm", W_OK) == 0 ? "/dev/shm/vg-spool-XXXXXX" : "/tmp/vg-spool-XXXXXX");
    cr_assert(mkdtemp(h->dir));
    snprintf(h->spooldir, sizeof h->spooldir, "%s/spool", h->dir);
    h->conf.state_dir = h->dir;
    h->conf.segment_size = 1 << 20;
    /* most tests do not measure durability: fsync only at segment close
       (per-batch fsync is on in the round-trip and restart tests) */
    h->conf.fsync_interval = true;
    h->conf.fsync_interval_ms = 60000;
    h->conf.policy[VG_LANE_ALERTS] = VG_SPOOL_BLOCK;
    h->conf.policy[VG_LANE_EVENTS] = VG_SPOOL_DROP_OLDEST;
    h->readers[0] = (vg_spool_reader_conf){"a", true};
    h->readers[1] = (vg_spool_reader_conf){"b", false};
    h->conf.readers = h->readers;
    h->conf.nreaders = 1;
    h->st = vg_stats_create();
    vg_log_set_quiet(true);
}

static void h_open(harness *h)
{
    vg_errbuf eb = {0};
    vg_err e = vg_spool_open(&h->conf, h->st, &h->s, &eb);
    cr_assert_eq(e, VG_OK, "open: %s", eb.msg);
}

static void h_close(harness *h)
{
    vg_spool_close(h->s);
    h->s = NULL;
}

static void h_fini(harness *h)
{
    vg_spool_close(h->s);
    vg_stats_destroy(h->st);
    nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t counter(harness *h, const char *name, vg_lane l)
{
    return vg_counter_get(vg_stats_counter(h->st, name, "lane", vg_lane_name(l)));
}

static int rec_text(char *buf, size_t n, const char *tag, unsigned i, unsigned pad)
{
    return snprintf(
        buf, n, "{\"%s\":%u,\"pad\":\"%.*s\"}", tag, i, (int)pad,
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static void put(harness *h, vg_lane l, const char *tag, unsigned i, unsigned pad)
{
    char b[256];
    int n = rec_text(b, sizeof b, tag, i, pad);
    cr_assert_eq(vg_spool_append(h->s, l, b, (size_t)n), VG_OK);
}

/* A record with 32 bytes of noise (hex), so caps are reached with few records. */
static void put_rand(harness *h, vg_lane l, const char *tag, unsigned i)
{
    static uint64_t x = 88172645463325252ull;
    char b[160];
    int n = snprintf(b, sizeof b, "{\"%s\":%u,\"r\":\"", tag, i);
    for (int k = 0; k < 4; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        n += snprintf(b + n, sizeof b - (size_t)n, "%016" PRIx64, x);
    }
    n += snprintf(b + n, sizeof b - (size_t)n, "\"}");
    cr_assert_eq(vg_spool_append(h->s, l, b, (size_t)n), VG_OK);
}

static void flush(harness *h)
{
    vg_errbuf eb = {0};
    cr_assert_eq(vg_spool_flush(h->s, &eb), VG_OK, "flush: %s", eb.msg);
}

static vg_spool_reader *ropen(harness *h, const char *name)
{
    vg_spool_reader *r = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_spool_reader_open(h->s, name, &r, &eb), VG_OK, "reader %s: %s", name, eb.msg);
    return r;
}

/* Parse the number of {"tag":N,...}; -1 if the tag differs. */
static long rec_num(const char *p, size_t n, const char *tag)
{
    char pre[32];
    int k = snprintf(pre, sizeof pre, "{\"%s\":", tag);
    if (n < (size_t)k || memcmp(p, pre, (size_t)k))
        return -1;
    return strtol(p + k, NULL, 10);
}

/* Read everything available now (no wait); returns records; acks if asked.
   Numbers of tag `tag` go to nums (if not NULL). */
static size_t drain(vg_spool_reader *r, bool ack, const char *tag, long *nums, size_t max)
{
    vg_spool_batch b = {0};
    size_t total = 0;
    while (vg_spool_read(r, 1000, 1 << 20, 0, 0, &b, NULL) == VG_OK) {
        for (size_t i = 0; i < b.n; i++) {
            if (nums && total < max)
                nums[total] = rec_num(b.items[i].data, b.items[i].len, tag);
            total++;
        }
        if (ack)
            vg_spool_ack(r, &b);
    }
    vg_spool_batch_release(&b);
    return total;
}

static size_t count_files(const char *dir, const char *prefix)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | grep -c '^%s'", dir, prefix);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (fscanf(f, "%zu", &n) != 1)
        n = 0;
    pclose(f);
    return n;
}

/* ---- round trip, order, limits ---- */

Test(spool, round_trip_both_lanes_alerts_first)
{
    harness h;
    h_init(&h);
    h.conf.fsync_interval = false;
    h_open(&h);
    for (unsigned i = 0; i < 50; i++) {
        put(&h, VG_LANE_EVENTS, "e", i, i % 40);
        put(&h, VG_LANE_ALERTS, "a", i, i % 30);
    }
    vg_spool_reader *r = ropen(&h, "a");
    vg_spool_batch b = {0};
    /* nothing visible before flush */
    cr_assert_eq(vg_spool_read(r, 1000, 1 << 20, 0, 0, &b, NULL), VG_EAGAIN);
    flush(&h);
    cr_assert_eq(vg_spool_read(r, 1000, 1 << 20, 0, 0, &b, NULL), VG_OK);
    cr_assert_eq(b.n, 100);
    cr_assert_eq(b.nalerts, 50);
    for (unsigned i = 0; i < 100; i++) {
        char want[256];
        int n =
            rec_text(want, sizeof want, i < 50 ? "a" : "e", i % 50, (i % 50) % (i < 50 ? 30 : 40));
        cr_assert_eq(b.items[i].len, (size_t)n, "item %u", i);
        cr_assert(!memcmp(b.items[i].data, want, (size_t)n), "item %u: %.*s", i,
                  (int)b.items[i].len, b.items[i].data);
    }
    cr_assert(b.oldest_ms > 0);
    uint64_t bytes, recs;
    vg_spool_depth(h.s, VG_LANE_ALERTS, &bytes, &recs);
    cr_assert_eq(recs, 50);
    cr_assert(bytes > 16);
    cr_assert_neq(vg_spool_oldest_unacked(h.s, "a"), 0);
    vg_spool_ack(r, &b);
    cr_assert_eq(vg_spool_oldest_unacked(h.s, "a"), 0);
    cr_assert_eq(vg_spool_read(r, 1000, 1 << 20, 0, 0, &b, NULL), VG_EAGAIN);
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    cr_assert_eq(counter(&h, "spool.records", VG_LANE_ALERTS), 50);
    cr_assert_eq(counter(&h, "spool.records", VG_LANE_EVENTS), 50);
    h_fini(&h);
}

/* (records, bytes) limits -> batch sizes */
static const struct {
    size_t max_records, max_bytes;
    size_t first_batch;
} limits[] = {
    {1, 1 << 20, 1}, {7, 1 << 20, 7}, {1000, 1, 1}, /* a record larger than max_bytes comes alone */
    {1000, 100, 3},                                 /* records are 30 bytes: 3 fit in 100 */
    {1000, 90, 3},   {1000, 89, 2},
};

Test(spool, read_limits_table)
{
    for (size_t t = 0; t < sizeof limits / sizeof limits[0]; t++) {
        harness h;
        h_init(&h);
        h.conf.frame_target = 64; /* several frames: limits cut inside and across frames */
        h_open(&h);
        for (unsigned i = 0; i < 40; i++) {
            char b[64];
            int n =
                snprintf(b, sizeof b, "{\"a\":%02u,\"pad\":\"xxxxxxxxxxxxx\"}", i); /* 30 bytes */
            cr_assert_eq(n, 30);
            cr_assert_eq(vg_spool_append(h.s, VG_LANE_ALERTS, b, 30), VG_OK);
        }
        flush(&h);
        vg_spool_reader *r = ropen(&h, "a");
        vg_spool_batch b = {0};
        unsigned next = 0;
        bool first = true;
        while (vg_spool_read(r, limits[t].max_records, limits[t].max_bytes, 0, 0, &b, NULL) ==
               VG_OK) {
            if (first)
                cr_assert_eq(b.n, limits[t].first_batch, "case %zu: %zu", t, b.n);
            first = false;
            cr_assert(b.n <= limits[t].max_records);
            for (size_t i = 0; i < b.n; i++)
                cr_assert_eq(rec_num(b.items[i].data, b.items[i].len, "a"), next++, "case %zu", t);
            vg_spool_ack(r, &b);
        }
        cr_assert_eq(next, 40, "case %zu: %u", t, next);
        vg_spool_batch_release(&b);
        vg_spool_reader_close(r);
        h_fini(&h);
    }
}

/* (record, expected error) */
static const struct {
    size_t len;
    char fill;
    vg_err want;
} refuse[] = {
    {0, 'x', VG_EINVAL},
    {5, '\n', VG_EINVAL},
    {VG_SPOOL_RECORD_MAX + 1, 'x', VG_ELIMIT},
    {VG_SPOOL_RECORD_MAX, 'x', VG_OK},
    {1, '\0', VG_OK}, /* NUL bytes are data */
};

Test(spool, refused_records_table)
{
    harness h;
    h_init(&h);
    h_open(&h);
    char *big = malloc(VG_SPOOL_RECORD_MAX + 2);
    uint64_t refused = 0, ok = 0;
    for (size_t t = 0; t < sizeof refuse / sizeof refuse[0]; t++) {
        memset(big, refuse[t].fill, refuse[t].len + 1);
        cr_assert_eq(vg_spool_append(h.s, VG_LANE_ALERTS, big, refuse[t].len), refuse[t].want,
                     "case %zu", t);
        if (refuse[t].want)
            refused++;
        else
            ok++;
    }
    cr_assert_eq(counter(&h, "spool.refused_records", VG_LANE_ALERTS), refused);
    flush(&h);
    vg_spool_reader *r = ropen(&h, "a");
    vg_spool_batch b = {0};
    cr_assert_eq(vg_spool_read(r, 10, 1, 0, 0, &b, NULL), VG_OK);
    cr_assert_eq(b.n, 1);
    cr_assert_eq(b.items[0].len, VG_SPOOL_RECORD_MAX); /* larger than max_bytes: alone */
    cr_assert_eq(vg_spool_read(r, 10, 1, 0, 0, &b, NULL), VG_OK);
    cr_assert_eq(b.items[0].len, 1);
    cr_assert_eq(b.items[0].data[0], '\0');
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    free(big);
    h_fini(&h);
}

Test(spool, order_across_frames_and_segments)
{
    harness h;
    h_init(&h);
    h.conf.segment_size = 4096;
    h.conf.frame_target = 500;
    h_open(&h);
    for (unsigned i = 0; i < 3000; i++) {
        put(&h, VG_LANE_ALERTS, "a", i, i % 50);
        if (i % 37 == 0)
            flush(&h);
    }
    flush(&h);
    cr_assert(count_files(h.spooldir, "alerts-") > 3);
    vg_spool_reader *r = ropen(&h, "a");
    long *nums = calloc(4000, sizeof *nums);
    cr_assert_eq(drain(r, true, "a", nums, 4000), 3000);
    for (long i = 0; i < 3000; i++)
        cr_assert_eq(nums[i], i);
    vg_spool_reader_close(r);
    /* every closed segment acknowledged by the only reader: deleted, the open one stays */
    cr_assert_eq(count_files(h.spooldir, "alerts-"), 1);
    free(nums);
    h_fini(&h);
}

/* ---- readers ---- */

Test(spool, readers_are_independent_and_deletion_waits_for_all)
{
    harness h;
    h_init(&h);
    h.conf.segment_size = 4096;
    h.conf.nreaders = 2; /* a (events), b (alerts only) */
    h_open(&h);
    for (unsigned i = 0; i < 2000; i++) {
        put_rand(&h, VG_LANE_ALERTS, "a", i);
        put_rand(&h, VG_LANE_EVENTS, "e", i);
        if (i % 100 == 99)
            flush(&h);
    }
    size_t segs_a = count_files(h.spooldir, "alerts-"), segs_e = count_files(h.spooldir, "events-");
    cr_assert(segs_a > 3 && segs_e > 3);
    vg_spool_reader *ra = ropen(&h, "a"), *rb = ropen(&h, "b");
    /* a reads and acks everything: alerts segments stay (b is behind), events go (b does not read
     * them) */
    cr_assert_eq(drain(ra, true, NULL, NULL, 0), 4000);
    cr_assert_eq(count_files(h.spooldir, "alerts-"), segs_a);
    cr_assert_leq(count_files(h.spooldir, "events-"), 1, "%zu", count_files(h.spooldir, "events-"));
    /* b reads without acking: nothing deleted */
    cr_assert_eq(drain(rb, false, NULL, NULL, 0), 2000);
    cr_assert_eq(count_files(h.spooldir, "alerts-"), segs_a);
    cr_assert_neq(vg_spool_oldest_unacked(h.s, "b"), 0);
    cr_assert_eq(vg_spool_oldest_unacked(h.s, "a"), 0);
    /* rewind and read again, now acking */
    vg_spool_rewind(rb);
    long *nums = calloc(2000, sizeof *nums);
    cr_assert_eq(drain(rb, true, "a", nums, 2000), 2000);
    for (long i = 0; i < 2000; i++)
        cr_assert_eq(nums[i], i);
    cr_assert_leq(count_files(h.spooldir, "alerts-"), 1, "%zu", count_files(h.spooldir, "alerts-"));
    cr_assert_eq(vg_spool_oldest_unacked(h.s, "b"), 0);
    free(nums);
    vg_spool_reader_close(ra);
    vg_spool_reader_close(rb);
    h_fini(&h);
}

Test(spool, reader_registration_errors)
{
    harness h;
    h_init(&h);
    h_open(&h);
    vg_spool_reader *r = NULL, *r2 = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_spool_reader_open(h.s, "nope", &r, &eb), VG_ENOTFOUND);
    r = ropen(&h, "a");
    cr_assert_eq(vg_spool_reader_open(h.s, "a", &r2, &eb), VG_EINVAL);
    vg_spool_reader_close(r);
    h_close(&h);
    /* duplicate names refused at open */
    h.readers[1].name = "a";
    h.conf.nreaders = 2;
    cr_assert_eq(vg_spool_open(&h.conf, h.st, &h.s, &eb), VG_EINVAL);
    cr_assert(h.s == NULL);
    h_fini(&h);
}

Test(spool, second_open_of_the_same_spool_is_refused)
{
    harness h;
    h_init(&h);
    h_open(&h);
    vg_spool *s2 = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_spool_open(&h.conf, h.st, &s2, &eb), VG_EIO);
    cr_assert(strstr(eb.msg, "in use"), "%s", eb.msg);
    h_fini(&h);
}

Test(spool, restart_keeps_cursors_and_rereads_exactly_the_unacked)
{
    harness h;
    h_init(&h);
    h.conf.fsync_interval = false;
    h.conf.frame_target = 300;
    h.conf.nreaders = 2;
    h_open(&h);
    for (unsigned i = 0; i < 1000; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 20);
    flush(&h);
    vg_spool_reader *ra = ropen(&h, "a"), *rb = ropen(&h, "b");
    vg_spool_batch b = {0};
    /* a: acks 333 (ends inside a frame), then reads 100 more without ack */
    cr_assert_eq(vg_spool_read(ra, 333, 1 << 20, 0, 0, &b, NULL), VG_OK);
    cr_assert_eq(b.n, 333);
    vg_spool_ack(ra, &b);
    cr_assert_eq(vg_spool_read(ra, 100, 1 << 20, 0, 0, &b, NULL), VG_OK);
    /* b: acks everything */
    cr_assert_eq(drain(rb, true, NULL, NULL, 0), 1000);
    vg_spool_reader_close(ra);
    vg_spool_reader_close(rb);
    h_close(&h);
    h_open(&h);
    ra = ropen(&h, "a");
    rb = ropen(&h, "b");
    long *nums = calloc(1000, sizeof *nums);
    cr_assert_eq(drain(ra, true, "a", nums, 1000), 667);
    for (long i = 0; i < 667; i++)
        cr_assert_eq(nums[i], 333 + i);
    cr_assert_eq(drain(rb, true, NULL, NULL, 0), 0);
    /* new data after the restart goes to a new segment and reaches both */
    put(&h, VG_LANE_ALERTS, "a", 1000, 1);
    flush(&h);
    cr_assert_eq(drain(ra, true, "a", nums, 1), 1);
    cr_assert_eq(nums[0], 1000);
    cr_assert_eq(drain(rb, true, "a", nums, 1), 1);
    cr_assert_eq(nums[0], 1000);
    vg_spool_reader_close(ra);
    vg_spool_reader_close(rb);
    /* everything acknowledged: a restart re-reads nothing */
    h_close(&h);
    h_open(&h);
    ra = ropen(&h, "a");
    cr_assert_eq(drain(ra, true, NULL, NULL, 0), 0);
    vg_spool_reader_close(ra);
    vg_spool_batch_release(&b);
    free(nums);
    h_fini(&h);
}

Test(spool, sequence_numbers_survive_an_emptied_spool)
{
    /* everything acked and deleted; the next segment must be read by the old cursor */
    harness h;
    h_init(&h);
    h.conf.segment_size = 4096;
    h_open(&h);
    for (unsigned i = 0; i < 500; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 50);
    flush(&h);
    vg_spool_reader *r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 500);
    vg_spool_reader_close(r);
    h_close(&h);
    /* remove the remaining (open) segment too, as if all were gone */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -f %s/alerts-*.seg", h.spooldir);
    cr_assert_eq(system(cmd), 0);
    h_open(&h);
    put(&h, VG_LANE_ALERTS, "a", 7, 1);
    flush(&h);
    r = ropen(&h, "a");
    long n = -1;
    cr_assert_eq(drain(r, true, "a", &n, 1), 1);
    cr_assert_eq(n, 7);
    vg_spool_reader_close(r);
    h_fini(&h);
}

Test(spool, new_reader_starts_at_oldest_and_stale_cursor_is_deleted)
{
    harness h;
    h_init(&h);
    h_open(&h);
    for (unsigned i = 0; i < 10; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 1);
    flush(&h);
    vg_spool_reader *r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 10);
    vg_spool_reader_close(r);
    h_close(&h);
    char p[256];
    snprintf(p, sizeof p, "%s/cursor-a.json", h.spooldir);
    cr_assert_eq(access(p, F_OK), 0);
    /* the configuration now has only "b" (added later): it starts at the oldest data */
    h.readers[0] = (vg_spool_reader_conf){"b", false};
    h_open(&h);
    cr_assert_neq(access(p, F_OK), 0, "stale cursor kept");
    r = ropen(&h, "b");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 10);
    vg_spool_reader_close(r);
    h_fini(&h);
}

/* (cursor file content) -> the reader restarts at the oldest data */
static const char *bad_cursors[] = {
    "not json",
    "{\"version\":99,\"alerts\":[1,16,0],\"events\":[0,0,0]}",
    "{\"version\":1,\"alerts\":\"x\"}",
    "{\"version\":1,\"alerts\":[1,-5,0],\"events\":[0,0,0]}",
    "{\"version\":1,\"alerts\":[1,17,0],\"events\":[0,0,0]}", /* not a frame boundary */
    "{\"version\":1,\"alerts\":[1,16,999999],\"events\":[0,0,0]}",
};

Test(spool, bad_cursor_files_restart_at_oldest)
{
    for (size_t t = 0; t < sizeof bad_cursors / sizeof bad_cursors[0]; t++) {
        harness h;
        h_init(&h);
        h_open(&h);
        for (unsigned i = 0; i < 10; i++)
            put(&h, VG_LANE_ALERTS, "a", i, 1);
        flush(&h);
        h_close(&h);
        char p[256];
        snprintf(p, sizeof p, "%s/cursor-a.json", h.spooldir);
        FILE *f = fopen(p, "w");
        fputs(bad_cursors[t], f);
        fclose(f);
        h_open(&h);
        vg_spool_reader *r = ropen(&h, "a");
        cr_assert_eq(drain(r, true, NULL, NULL, 0), 10, "case %zu", t);
        vg_spool_reader_close(r);
        h_fini(&h);
    }
}

Test(spool, odd_output_names_are_encoded)
{
    harness h;
    h_init(&h);
    h.readers[0] = (vg_spool_reader_conf){"../x y/é", false};
    h_open(&h);
    put(&h, VG_LANE_ALERTS, "a", 1, 1);
    flush(&h);
    vg_spool_reader *r = ropen(&h, "../x y/é");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 1);
    vg_spool_reader_close(r);
    char p[256];
    snprintf(p, sizeof p, "%s/cursor-%%2E%%2E%%2Fx%%20y%%2F%%C3%%A9.json", h.spooldir);
    cr_assert_eq(access(p, F_OK), 0, "%s", p);
    h_close(&h);
    h_open(&h); /* not deleted as stale */
    cr_assert_eq(access(p, F_OK), 0);
    h_fini(&h);
}

/* ---- recovery ---- */

/* Build one alerts segment of 4 frames x 3 records; return its bytes and the
   frame end offsets. */
static unsigned char *build_segment(size_t *size, size_t ends[4])
{
    harness h;
    h_init(&h);
    h_open(&h);
    char path[256];
    snprintf(path, sizeof path, "%s/alerts-%016d.seg", h.spooldir, 1);
    for (unsigned fr = 0; fr < 4; fr++) {
        for (unsigned i = 0; i < 3; i++)
            put(&h, VG_LANE_ALERTS, "a", fr * 3 + i, 5 + i);
        flush(&h);
        struct stat sb;
        cr_assert_eq(stat(path, &sb), 0);
        ends[fr] = (size_t)sb.st_size;
    }
    h_close(&h);
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(ends[3]);
    cr_assert_eq(fread(buf, 1, ends[3], f), ends[3]);
    fclose(f);
    *size = ends[3];
    h_fini(&h);
    return buf;
}

static void write_seg(harness *h, const unsigned char *buf, size_t n)
{
    mkdir(h->spooldir, 0750);
    char path[256];
    snprintf(path, sizeof path, "%s/alerts-%016d.seg", h->spooldir, 1);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static off_t seg_size(harness *h)
{
    char path[256];
    snprintf(path, sizeof path, "%s/alerts-%016d.seg", h->spooldir, 1);
    struct stat sb;
    return stat(path, &sb) ? -1 : sb.st_size;
}

/* Open, read everything: records must be 0,1,2,... (a prefix); return how many. */
static size_t reopen_and_count(harness *h)
{
    h_open(h);
    vg_spool_reader *r = ropen(h, "a");
    long nums[32];
    size_t n = drain(r, false, "a", nums, 32);
    for (size_t i = 0; i < n && i < 32; i++)
        cr_assert_eq(nums[i], (long)i);
    vg_spool_reader_close(r);
    return n;
}

Test(spool, recovery_at_every_truncation_offset)
{
    size_t size, ends[4];
    unsigned char *seg = build_segment(&size, ends);
    for (size_t k = 0; k <= size; k++) {
        harness h;
        h_init(&h);
        write_seg(&h, seg, k);
        size_t want = 0, valid = k < 16 ? 0 : 16;
        for (int fr = 0; fr < 4; fr++)
            if (ends[fr] <= k) {
                want = 3 * (size_t)(fr + 1);
                valid = ends[fr];
            }
        size_t got = reopen_and_count(&h);
        cr_assert_eq(got, want, "truncated at %zu: %zu records, want %zu", k, got, want);
        cr_assert_eq(counter(&h, "spool.recovered_bytes", VG_LANE_ALERTS), k - valid,
                     "truncated at %zu", k);
        if (valid > 16)
            cr_assert_eq(seg_size(&h), (off_t)valid, "truncated at %zu: file not cut back", k);
        else if (k >= 16) /* empty: deleted once the reader went past it */
            cr_assert_eq(seg_size(&h), (off_t)-1, "truncated at %zu: empty segment kept", k);
        else
            cr_assert_eq(seg_size(&h), (off_t)-1, "torn header kept at %zu", k);
        /* the spool keeps working after recovery */
        put(&h, VG_LANE_ALERTS, "a", (unsigned)want, 1);
        flush(&h);
        h_close(&h);
        cr_assert_eq(reopen_and_count(&h), want + 1, "after append, truncated at %zu", k);
        h_fini(&h);
    }
    free(seg);
}

Test(spool, recovery_with_every_byte_flipped)
{
    size_t size, ends[4];
    unsigned char *seg = build_segment(&size, ends);
    unsigned char *copy = malloc(size);
    for (size_t k = 0; k < size; k++) {
        harness h;
        h_init(&h);
        memcpy(copy, seg, size);
        copy[k] ^= 0x5a;
        write_seg(&h, copy, size);
        size_t want = 0;
        if (k >= 16)
            for (int fr = 0; fr < 4; fr++)
                if (ends[fr] <= k)
                    want = 3 * (size_t)(fr + 1);
        size_t got = reopen_and_count(&h);
        cr_assert_eq(got, want, "byte %zu flipped: %zu records, want %zu", k, got, want);
        if (k < 16)
            cr_assert_eq(counter(&h, "spool.skipped_segments", VG_LANE_ALERTS), 1, "byte %zu", k);
        else
            cr_assert_eq(counter(&h, "spool.corrupt_frames", VG_LANE_ALERTS), 1, "byte %zu", k);
        h_fini(&h);
    }
    free(copy);
    free(seg);
}

static int count_cb(void *ud, const char *rec, size_t len, int64_t ms)
{
    (void)rec;
    (void)len;
    cr_assert(ms > 0);
    (*(size_t *)ud)++;
    return 0;
}

Test(spool, unknown_version_is_left_in_place_and_skipped)
{
    size_t size, ends[4];
    unsigned char *seg = build_segment(&size, ends);
    harness h;
    h_init(&h);
    seg[8] = 2; /* version 2 */
    write_seg(&h, seg, size);
    h_open(&h);
    cr_assert_eq(counter(&h, "spool.skipped_segments", VG_LANE_ALERTS), 1);
    put(&h, VG_LANE_ALERTS, "a", 0, 1);
    flush(&h);
    vg_spool_reader *r = ropen(&h, "a");
    long n = -1;
    cr_assert_eq(drain(r, true, "a", &n, 1), 1); /* only the new record */
    vg_spool_reader_close(r);
    cr_assert_eq(seg_size(&h), (off_t)size, "unknown segment modified");
    /* the scan says why, and still returns the readable records */
    vg_errbuf eb = {0};
    size_t cnt = 0;
    cr_assert_eq(vg_spool_scan(h.dir, VG_LANE_ALERTS, count_cb, &cnt, NULL, &eb), VG_EVERSION);
    cr_assert(strstr(eb.msg, "version 2"), "%s", eb.msg);
    cr_assert_eq(cnt, 1);
    free(seg);
    h_fini(&h);
}

Test(spool, corrupt_frame_found_by_a_reader_is_skipped_and_counted)
{
    /* corruption after the open-time check (disk rot while running) */
    harness h;
    h_init(&h);
    h_open(&h);
    for (unsigned i = 0; i < 3; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 1);
    flush(&h);
    for (unsigned i = 3; i < 6; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 1);
    flush(&h);
    char path[256];
    snprintf(path, sizeof path, "%s/alerts-%016d.seg", h.spooldir, 1);
    int fd = open(path, O_RDWR);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, 16 + 30), 1);
    c ^= 0xff;
    cr_assert_eq(pwrite(fd, &c, 1, 16 + 30), 1);
    close(fd);
    vg_spool_reader *r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 0);
    cr_assert_eq(counter(&h, "spool.corrupt_frames", VG_LANE_ALERTS), 1);
    /* later records still flow */
    put(&h, VG_LANE_ALERTS, "a", 6, 1);
    flush(&h);
    long n = -1;
    cr_assert_eq(drain(r, true, "a", &n, 1), 1);
    cr_assert_eq(n, 6);
    vg_spool_reader_close(r);
    h_fini(&h);
}

Test(spool, cursor_beyond_a_lost_tail_neither_loses_nor_duplicates)
{
    harness h;
    h_init(&h);
    h_open(&h);
    char path[256];
    snprintf(path, sizeof path, "%s/alerts-%016d.seg", h.spooldir, 1);
    for (unsigned i = 0; i < 3; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 1);
    flush(&h);
    off_t first = seg_size(&h);
    for (unsigned i = 3; i < 6; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 1);
    flush(&h);
    vg_spool_reader *r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 6);
    vg_spool_reader_close(r);
    h_close(&h);
    cr_assert_eq(truncate(path, first), 0); /* the second frame never reached the disk */
    h_open(&h);
    r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 0);
    put(&h, VG_LANE_ALERTS, "a", 9, 1);
    flush(&h);
    long n = -1;
    cr_assert_eq(drain(r, true, "a", &n, 1), 1);
    cr_assert_eq(n, 9);
    vg_spool_reader_close(r);
    h_fini(&h);
}

Test(spool, failed_write_is_cut_back_blocks_and_is_retried)
{
    harness h;
    h_init(&h);
    h_open(&h);
    for (unsigned i = 0; i < 3; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 1);
    flush(&h);
    off_t good = seg_size(&h);
    /* the next frame cannot be written past the file size limit (EFBIG) */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, rl;
    getrlimit(RLIMIT_FSIZE, &old);
    rl = old;
    rl.rlim_cur = (rlim_t)good + 10;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    for (unsigned i = 3; i < 200; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 60);
    vg_errbuf eb = {0};
    cr_assert_eq(vg_spool_flush(h.s, &eb), VG_EIO);
    cr_assert(strstr(eb.msg, "write"), "%s", eb.msg);
    cr_assert(vg_spool_blocked(h.s), "a failed flush must stop the inputs");
    cr_assert_eq(seg_size(&h), good, "torn frame left behind");
    cr_assert_eq(counter(&h, "spool.write_errors", VG_LANE_ALERTS), 1);
    vg_spool_reader *r = ropen(&h, "a");
    cr_assert_eq(drain(r, false, NULL, NULL, 0), 3);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    flush(&h); /* the kept records go now */
    cr_assert(!vg_spool_blocked(h.s));
    vg_spool_rewind(r);
    long nums[256];
    cr_assert_eq(drain(r, true, "a", nums, 256), 200);
    for (long i = 0; i < 200; i++)
        cr_assert_eq(nums[i], i);
    vg_spool_reader_close(r);
    h_fini(&h);
}

/* ---- caps ---- */

Test(spool, drop_oldest_counts_and_readers_skip_forward)
{
    harness h;
    h_init(&h);
    h.conf.max[VG_LANE_EVENTS] = 32 << 10;
    h.conf.policy[VG_LANE_EVENTS] = VG_SPOOL_DROP_OLDEST;
    h.conf.max[VG_LANE_ALERTS] = 0; /* no cap: alerts are never pushed out by events */
    h_open(&h);
    const unsigned N = 20000;
    for (unsigned i = 0; i < N; i++) {
        put_rand(&h, VG_LANE_EVENTS, "e", i);
        if (i % 100 == 0)
            put(&h, VG_LANE_ALERTS, "a", i / 100, 1);
        if (i % 50 == 49)
            flush(&h);
        cr_assert(!vg_spool_blocked(h.s), "drop_oldest never blocks");
    }
    flush(&h);
    uint64_t bytes;
    vg_spool_depth(h.s, VG_LANE_EVENTS, &bytes, NULL);
    cr_assert(bytes <= (32 << 10) + (8 << 10), "events lane %" PRIu64 " bytes", bytes);
    uint64_t dropped = counter(&h, "spool.dropped_records", VG_LANE_EVENTS);
    cr_assert(dropped > 0);
    cr_assert(counter(&h, "spool.dropped_bytes", VG_LANE_EVENTS) > 0);
    cr_assert_eq(counter(&h, "spool.dropped_records", VG_LANE_ALERTS), 0);
    vg_spool_reader *r = ropen(&h, "a");
    long *nums = calloc(N + 1000, sizeof *nums);
    size_t got = drain(r, true, "e", nums, N + 1000);
    cr_assert_eq(got - N / 100 + dropped, N, "read %zu + dropped %" PRIu64, got, dropped);
    /* events read are the newest ones, in order, after the alerts */
    long prev = -1;
    for (size_t i = 0; i < got; i++) {
        if (nums[i] < 0)
            continue;
        cr_assert(nums[i] > prev);
        prev = nums[i];
    }
    cr_assert_eq(prev, N - 1);
    free(nums);
    vg_spool_reader_close(r);
    h_fini(&h);
}

Test(spool, block_policy_blocks_until_readers_catch_up)
{
    harness h;
    h_init(&h);
    h.conf.max[VG_LANE_ALERTS] = 16 << 10;
    h.conf.policy[VG_LANE_ALERTS] = VG_SPOOL_BLOCK;
    h_open(&h);
    unsigned i = 0;
    while (!vg_spool_blocked(h.s)) {
        for (int k = 0; k < 20; k++, i++)
            put_rand(&h, VG_LANE_ALERTS, "a", i);
        flush(&h);
        cr_assert(i < 100000, "never blocked");
    }
    cr_assert(!vg_spool_wait_unblocked(h.s, 10));
    uint64_t bytes;
    vg_spool_depth(h.s, VG_LANE_ALERTS, &bytes, NULL);
    cr_assert(bytes > 16 << 10);
    cr_assert(bytes < (16 << 10) + 4096, "overshoot of more than one batch: %" PRIu64, bytes);
    /* appends are still accepted while blocked (the rest of a batch) */
    put(&h, VG_LANE_ALERTS, "a", i++, 1);
    flush(&h);
    cr_assert_eq(counter(&h, "spool.dropped_records", VG_LANE_ALERTS), 0);
    vg_spool_reader *r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), i);
    cr_assert(!vg_spool_blocked(h.s));
    cr_assert(vg_spool_wait_unblocked(h.s, 0));
    vg_spool_reader_close(r);
    h_fini(&h);
}

/* A fake disk: capacity minus what the spool holds (plus a fixed amount used by others). */
typedef struct fakedisk {
    harness *h;
    uint64_t capacity, others;
} fakedisk;

static int fake_statfs(const char *path, uint64_t *avail, void *ud)
{
    (void)path;
    fakedisk *d = ud;
    uint64_t a = 0, e = 0;
    /* the spool's own depth: the hook is called without the lock held */
    vg_spool_depth(d->h->s, VG_LANE_ALERTS, &a, NULL);
    vg_spool_depth(d->h->s, VG_LANE_EVENTS, &e, NULL);
    uint64_t used = a + e + d->others;
    *avail = used >= d->capacity ? 0 : d->capacity - used;
    return 0;
}

/* (alerts policy, events policy, events written) -> (events dropped?, alerts dropped?, blocked?) */
static const struct {
    vg_spool_policy pa, pe;
    bool write_events;
    bool events_dropped, alerts_dropped, blocked;
} disk_cases[] = {
    {VG_SPOOL_BLOCK, VG_SPOOL_DROP_OLDEST, true, true, false, true},
    {VG_SPOOL_BLOCK, VG_SPOOL_BLOCK, true, false, false, true},
    {VG_SPOOL_DROP_OLDEST, VG_SPOOL_DROP_OLDEST, true, true, true, false},
    {VG_SPOOL_DROP_OLDEST, VG_SPOOL_BLOCK, true, false, false,
     true}, /* events never push alerts out */
    {VG_SPOOL_DROP_OLDEST, VG_SPOOL_DROP_OLDEST, false, false, true, false},
    {VG_SPOOL_BLOCK, VG_SPOOL_DROP_OLDEST, false, false, false, true},
};

Test(spool, min_free_disk_table)
{
    for (size_t t = 0; t < sizeof disk_cases / sizeof disk_cases[0]; t++) {
        harness h;
        h_init(&h);
        fakedisk d = {&h, 1 << 20, (1 << 20) - (256 << 10)}; /* 256 KiB free at start */
        h.conf.segment_size = 8 << 10;
        h.conf.min_free_disk = 128 << 10;
        h.conf.policy[VG_LANE_ALERTS] = disk_cases[t].pa;
        h.conf.policy[VG_LANE_EVENTS] = disk_cases[t].pe;
        h.conf.statfs = fake_statfs;
        h.conf.statfs_ud = &d;
        h_open(&h);
        bool blocked = false;
        /* write 400 KiB+ of incompressible-ish records, half each lane */
        for (unsigned i = 0; i < 12000; i++) {
            vg_lane l = disk_cases[t].write_events && i % 2 ? VG_LANE_EVENTS : VG_LANE_ALERTS;
            put_rand(&h, l, "x", i);
            if (i % 100 == 99) {
                flush(&h);
                blocked = vg_spool_blocked(h.s);
                if (blocked && disk_cases[t].blocked)
                    break; /* the pipeline stops here */
            }
        }
        cr_assert_eq(blocked, disk_cases[t].blocked, "case %zu: blocked %d", t, blocked);
        cr_assert_eq(counter(&h, "spool.dropped_records", VG_LANE_EVENTS) > 0,
                     disk_cases[t].events_dropped, "case %zu", t);
        cr_assert_eq(counter(&h, "spool.dropped_records", VG_LANE_ALERTS) > 0,
                     disk_cases[t].alerts_dropped, "case %zu", t);
        if (!disk_cases[t].blocked) {
            uint64_t avail;
            fake_statfs(NULL, &avail, &d);
            cr_assert(avail + (16 << 10) >= (128 << 10), "case %zu: %" PRIu64 " free", t, avail);
        } else {
            /* freeing disk (someone else's files) unblocks */
            d.others = 0;
            cr_assert(!vg_spool_blocked(h.s), "case %zu", t);
        }
        h_fini(&h);
    }
}

/* ---- scan, wake, fsync interval ---- */

typedef struct scan_ud {
    long nums[64];
    size_t n;
    size_t stop_at;
} scan_ud;

static int scan_cb(void *ud, const char *rec, size_t len, int64_t ms)
{
    scan_ud *s = ud;
    (void)ms;
    if (s->n < 64)
        s->nums[s->n] = rec_num(rec, len, "a");
    s->n++;
    return s->stop_at && s->n >= s->stop_at;
}

Test(spool, scan_reads_what_is_on_disk_while_the_spool_is_open)
{
    harness h;
    h_init(&h);
    h.conf.segment_size = 4096;
    vg_errbuf eb = {0};
    scan_ud su = {0};
    cr_assert_eq(vg_spool_scan(h.dir, VG_LANE_ALERTS, scan_cb, &su, NULL, &eb), VG_ENOTFOUND);
    h_open(&h);
    for (unsigned i = 0; i < 60; i++) {
        put(&h, VG_LANE_ALERTS, "a", i, 80);
        if (i % 10 == 9)
            flush(&h);
    }
    put(&h, VG_LANE_ALERTS, "a", 60, 1); /* pending: not on disk */
    uint64_t corrupt = 0;
    cr_assert_eq(vg_spool_scan(h.dir, VG_LANE_ALERTS, scan_cb, &su, &corrupt, &eb), VG_OK);
    cr_assert_eq(su.n, 60);
    cr_assert_eq(corrupt, 0);
    for (long i = 0; i < 60; i++)
        cr_assert_eq(su.nums[i], i);
    scan_ud s2 = {.stop_at = 5};
    cr_assert_eq(vg_spool_scan(h.dir, VG_LANE_ALERTS, scan_cb, &s2, NULL, &eb), VG_OK);
    cr_assert_eq(s2.n, 5);
    scan_ud s3 = {0};
    cr_assert_eq(vg_spool_scan(h.dir, VG_LANE_EVENTS, scan_cb, &s3, NULL, &eb), VG_OK);
    cr_assert_eq(s3.n, 0);
    h_fini(&h);
}

static void *waker(void *arg)
{
    vg_spool *s = arg;
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL); /* lets the reader block first; the result does not depend on it */
    vg_spool_wake(s);
    return NULL;
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(spool, wake_releases_a_blocked_reader_and_sticks)
{
    harness h;
    h_init(&h);
    h_open(&h);
    vg_spool_reader *r = ropen(&h, "a");
    vg_spool_batch b = {0};
    pthread_t t;
    pthread_create(&t, NULL, waker, h.s);
    int64_t t0 = mono();
    cr_assert_eq(vg_spool_read(r, 10, 1000, 30000, 0, &b, NULL), VG_EAGAIN);
    cr_assert(mono() - t0 < 10000);
    pthread_join(t, NULL);
    t0 = mono();
    cr_assert_eq(vg_spool_read(r, 10, 1000, 30000, 0, &b, NULL), VG_EAGAIN);
    cr_assert(mono() - t0 < 1000, "wake is not sticky");
    /* data is still returned after wake */
    put(&h, VG_LANE_ALERTS, "a", 1, 1);
    flush(&h);
    cr_assert_eq(vg_spool_read(r, 10, 1000, 30000, 30000, &b, NULL), VG_OK);
    cr_assert_eq(b.n, 1);
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    h_fini(&h);
}

static void *flusher(void *arg)
{
    harness *h = arg;
    put(h, VG_LANE_ALERTS, "a", 42, 1);
    flush(h);
    return NULL;
}

Test(spool, a_waiting_reader_gets_the_next_flush)
{
    /* the writer runs on another thread; whether the reader is already
       waiting when the flush happens or not, it gets the record */
    harness h;
    h_init(&h);
    h_open(&h);
    vg_spool_reader *r = ropen(&h, "a");
    vg_spool_batch b = {0};
    pthread_t t;
    int64_t t0 = mono();
    pthread_create(&t, NULL, flusher, &h);
    cr_assert_eq(vg_spool_read(r, 10, 1000, 30000, 0, &b, NULL), VG_OK);
    cr_assert(mono() - t0 < 20000);
    pthread_join(t, NULL);
    cr_assert_eq(b.n, 1);
    cr_assert_eq(rec_num(b.items[0].data, b.items[0].len, "a"), 42);
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    h_fini(&h);
}

Test(spool, oldest_unacked_is_the_time_of_the_oldest_frame)
{
    harness h;
    h_init(&h);
    h.conf.frame_target = 100;
    h.conf.nreaders = 2;
    h_open(&h);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (unsigned i = 0; i < 20; i++)
        put(&h, VG_LANE_ALERTS, "a", i, 40);
    flush(&h);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t after = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    cr_assert_eq(vg_spool_oldest_unacked(h.s, "nobody"), 0);
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "b" : "a";
        int64_t t = vg_spool_oldest_unacked(h.s, name);
        cr_assert(t >= before && t <= after, "%s: %" PRId64 " not in [%" PRId64 ", %" PRId64 "]",
                  name, t, before, after);
    }
    /* mid-segment (and mid-frame) cursors still report a frame time */
    vg_spool_reader *r = ropen(&h, "a");
    vg_spool_batch b = {0};
    cr_assert_eq(vg_spool_read(r, 5, 1 << 20, 0, 0, &b, NULL), VG_OK);
    vg_spool_ack(r, &b);
    int64_t t = vg_spool_oldest_unacked(h.s, "a");
    cr_assert(t >= before && t <= after);
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 15);
    cr_assert_eq(vg_spool_oldest_unacked(h.s, "a"), 0);
    cr_assert_neq(vg_spool_oldest_unacked(h.s, "b"), 0);
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    h_fini(&h);
}

Test(spool, fsync_interval_mode_publishes_at_flush)
{
    harness h;
    h_init(&h);
    h.conf.fsync_interval = true;
    h.conf.fsync_interval_ms = 60000;
    h_open(&h);
    put(&h, VG_LANE_ALERTS, "a", 1, 1);
    flush(&h);
    vg_spool_reader *r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 1);
    flush(&h); /* nothing pending, fsync not due: fine */
    vg_spool_reader_close(r);
    h_close(&h);
    h_open(&h);
    r = ropen(&h, "a");
    cr_assert_eq(drain(r, true, NULL, NULL, 0), 0);
    vg_spool_reader_close(r);
    h_fini(&h);
}

Test(spool, conf_from_config)
{
    vg_config c = {0};
    c.state_dir = "/x";
    c.spool_fsync = 1;
    c.spool_fsync_interval_ms = 1000;
    c.spool_segment_size = 1 << 20;
    c.spool_alerts_max = 5;
    c.spool_alerts_policy = 0;
    c.spool_events_max = 6;
    c.spool_events_policy = 1;
    c.spool_min_free_disk = 7;
    vg_spool_conf sc = {0};
    vg_spool_conf_from_config(&sc, &c);
    cr_assert_str_eq(sc.state_dir, "/x");
    cr_assert(sc.fsync_interval);
    cr_assert_eq(sc.max[VG_LANE_ALERTS], 5);
    cr_assert_eq(sc.policy[VG_LANE_ALERTS], VG_SPOOL_BLOCK);
    cr_assert_eq(sc.max[VG_LANE_EVENTS], 6);
    cr_assert_eq(sc.policy[VG_LANE_EVENTS], VG_SPOOL_DROP_OLDEST);
    cr_assert_eq(sc.min_free_disk, 7);
}

/* ---- concurrency: one writer, two readers, 200k records ---- */

#define CONC_N 200000u

typedef struct conc_reader {
    harness *h;
    const char *name;
    bool events;
    unsigned next_a, next_e;
    unsigned dup_or_gap;
    uint64_t batches;
} conc_reader;

static void *conc_read(void *arg)
{
    conc_reader *c = arg;
    vg_spool_reader *r = NULL;
    vg_errbuf eb;
    if (vg_spool_reader_open(c->h->s, c->name, &r, &eb))
        return NULL;
    vg_spool_batch b = {0};
    int64_t deadline = mono() + 120000;
    unsigned want_e = c->events ? CONC_N / 4 : 0;
    while ((c->next_a < CONC_N || c->next_e < want_e) && mono() < deadline) {
        vg_err e = vg_spool_read(r, 3000, 256 << 10, 200, 2, &b, NULL);
        if (e != VG_OK)
            continue;
        for (size_t i = 0; i < b.n; i++) {
            long n = rec_num(b.items[i].data, b.items[i].len, i < b.nalerts ? "a" : "e");
            if (i < b.nalerts) {
                if (n != (long)c->next_a)
                    c->dup_or_gap++;
                c->next_a = (unsigned)n + 1;
            } else {
                if (n != (long)c->next_e)
                    c->dup_or_gap++;
                c->next_e = (unsigned)n + 1;
            }
        }
        c->batches++;
        vg_spool_ack(r, &b);
    }
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    return NULL;
}

Test(spool, concurrent_writer_and_two_readers_no_loss_no_dup, .timeout = 240)
{
    harness h;
    h_init(&h);
    h.conf.segment_size = 256 << 10;
    h.conf.nreaders = 2;
    h.conf.max[VG_LANE_ALERTS] = 0;
    h.conf.fsync_interval = true; /* per-batch fsync would only measure the disk */
    h.conf.fsync_interval_ms = 100;
    h_open(&h);
    conc_reader ca = {&h, "a", true, 0, 0, 0, 0}, cb = {&h, "b", false, 0, 0, 0, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, conc_read, &ca);
    pthread_create(&tb, NULL, conc_read, &cb);
    unsigned e = 0;
    for (unsigned i = 0; i < CONC_N; i++) {
        put(&h, VG_LANE_ALERTS, "a", i, i % 64);
        if (i % 4 == 0)
            put(&h, VG_LANE_EVENTS, "e", e++, 10);
        if (i % 1000 == 999)
            flush(&h);
    }
    flush(&h);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(ca.next_a, CONC_N);
    cr_assert_eq(ca.next_e, CONC_N / 4);
    cr_assert_eq(cb.next_a, CONC_N);
    cr_assert_eq(cb.next_e, 0);
    cr_assert_eq(ca.dup_or_gap, 0);
    cr_assert_eq(cb.dup_or_gap, 0);
    /* all acknowledged: only the open segments remain */
    flush(&h);
    cr_assert_eq(count_files(h.spooldir, "alerts-"), 1);
    cr_assert_eq(count_files(h.spooldir, "events-"), 1);
    h_fini(&h);
}

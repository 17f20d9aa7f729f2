/*
 * spool_bench.c - throughput of the spool, and a standalone concurrency check.
 *
 *   spool_bench [-n RECORDS] [-b BATCH] [-i]     append+flush, then read+ack
 *   spool_bench -c [-n RECORDS]                  writer + 2 readers, verify
 *
 * Records are ~1 KB ECS alert JSON objects (varying time, ids, IPs, users,
 * offsets, as real alerts do). Throughput mode appends them in batches of
 * BATCH records, each batch followed by vg_spool_flush (fsync per batch, or
 * with -i every 1 s), and prints records/s, MB/s, bytes on disk per record
 * and the compression ratio; then one reader reads and acknowledges it all.
 * -c runs one writer and two reader threads (one also reading the events
 * lane) and exits 1 on any lost, duplicated or reordered record: the
 * program to build with -fsanitize=thread (criterion does not run under it).
 * The spool lives in a fresh directory under $TMPDIR (default /var/tmp: a
 * real disk, for the fsync cost), removed at the end.
 */
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/spool.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ms(void)
{
    return (int64_t)(now_s() * 1000);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* One alert of about 1 KB. */
static int alert(char *b, size_t n, unsigned i)
{
    static const char *users[] = {"root", "admin", "oracle", "postgres", "jdupont", "backup"};
    static const char *rules[][3] = {
        {"a3b2c1d0-1111-4a4a-9b9b-000000000001", "SSH brute force", "high"},
        {"a3b2c1d0-1111-4a4a-9b9b-000000000002", "Sudo to root by unusual user", "medium"},
        {"a3b2c1d0-1111-4a4a-9b9b-000000000003", "Web shell access", "critical"},
    };
    unsigned r = (i * 2654435761u) >> 7, k = i % 3;
    unsigned ip1 = (r >> 3) & 255, ip2 = (r >> 11) & 255, port = 1024 + (r & 32767);
    const char *u = users[(r >> 5) % 6];
    long sec = 1764400000 + (long)(i / 50), ms = (long)((i * 37) % 1000);
    return snprintf(
        b, n,
        "{\"@timestamp\":\"2025-11-29T%02ld:%02ld:%02ld.%03ldZ\",\"event\":{\"id\":\"%08x%08x%08x%"
        "08x\","
        "\"kind\":\"alert\",\"severity\":%u,\"created\":\"2025-11-29T%02ld:%02ld:%02ld.%03ldZ\"},"
        "\"rule\":{\"id\":\"%s\",\"name\":\"%s\",\"level\":\"%s\",\"ruleset\":\"vigie\","
        "\"tags\":[\"attack.credential_access\",\"attack.t1110.001\"]},"
        "\"host\":{\"name\":\"srv-dpi-%02u.chu.local\"},\"agent\":{\"id\":"
        "\"6f1c2a9e-0d4b-4c1e-9a77-3b1f0e2d5c8a\",\"version\":\"0.1.0\"},"
        "\"log\":{\"file\":{\"path\":\"/var/log/auth.log\"},\"offset\":%u},"
        "\"message\":\"Nov 29 %02ld:%02ld:%02ld srv-dpi-%02u sshd[%u]: Failed password for %s from "
        "10.%u.%u.%u port %u ssh2\",\"related\":{\"ip\":[\"10.%u.%u.%u\"],\"user\":[\"%s\"]},"
        "\"vigie\":{\"fields\":{\"program\":\"sshd\",\"pid\":\"%u\",\"user\":\"%s\",\"src_ip\":"
        "\"10.%u.%u.%u\",\"src_port\":\"%u\",\"auth\":\"password\"},\"count\":%u,"
        "\"samples\":[\"Failed password for %s from 10.%u.%u.%u port %u ssh2\"]},"
        "\"source\":{\"ip\":\"10.%u.%u.%u\",\"port\":%u},\"user\":{\"name\":\"%s\"}}",
        (sec / 3600) % 24, (sec / 60) % 60, sec % 60, ms, r, i, r ^ i, r * 7u, 3 + k * 2,
        (sec / 3600) % 24, (sec / 60) % 60, sec % 60, ms, rules[k][0], rules[k][1], rules[k][2],
        r % 40, i * 97u, (sec / 3600) % 24, (sec / 60) % 60, sec % 60, r % 40, 1000 + r % 30000, u,
        ip1, ip2, i & 255, port, ip1, ip2, i & 255, u, 1000 + r % 30000, u, ip1, ip2, i & 255, port,
        1 + r % 20, u, ip1, ip2, i & 255, port, ip1, ip2, i & 255, port, u);
}

static uint64_t dir_bytes;
static int add_size(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_F && strstr(p, ".seg"))
        dir_bytes += (uint64_t)sb->st_size;
    return 0;
}

/* ---- concurrency check ---- */

typedef struct creader {
    vg_spool *s;
    const char *name;
    bool events;
    unsigned n, next_a, next_e, bad;
} creader;

static long num(const char *p, size_t n)
{
    /* records are {"k":N,...} */
    return n > 5 ? strtol(p + 5, NULL, 10) : -1;
}

static void *reader_main(void *arg)
{
    creader *c = arg;
    vg_spool_reader *r;
    vg_errbuf eb;
    if (vg_spool_reader_open(c->s, c->name, &r, &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        c->bad++;
        return NULL;
    }
    vg_spool_batch b = {0};
    unsigned want_e = c->events ? c->n / 4 : 0;
    int64_t deadline = now_ms() + 300000;
    while ((c->next_a < c->n || c->next_e < want_e) && now_ms() < deadline) {
        if (vg_spool_read(r, 2000, 256 << 10, 200, 1, &b, NULL) != VG_OK)
            continue;
        for (size_t i = 0; i < b.n; i++) {
            long v = num(b.items[i].data, b.items[i].len);
            bool is_a = i < b.nalerts;
            if (is_a != (b.items[i].data[2] == 'a'))
                c->bad++;
            unsigned *next = is_a ? &c->next_a : &c->next_e;
            if (v != (long)*next)
                c->bad++;
            *next = (unsigned)v + 1;
        }
        vg_spool_ack(r, &b);
    }
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    return NULL;
}

static int concurrent(vg_spool_conf *conf, unsigned n)
{
    vg_spool_reader_conf rc[2] = {{"one", true}, {"two", false}};
    conf->readers = rc;
    conf->nreaders = 2;
    conf->segment_size = 256 << 10;
    conf->fsync_interval = true;
    conf->fsync_interval_ms = 100;
    vg_spool *s;
    vg_errbuf eb;
    if (vg_spool_open(conf, NULL, &s, &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    creader a = {s, "one", true, n, 0, 0, 0}, b = {s, "two", false, n, 0, 0, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, reader_main, &a);
    pthread_create(&tb, NULL, reader_main, &b);
    char buf[128];
    unsigned e = 0;
    for (unsigned i = 0; i < n; i++) {
        int k = snprintf(buf, sizeof buf, "{\"a\":%u,\"pad\":\"%.*s\"}", i, (int)(i % 50),
                         "................................................................");
        vg_spool_append(s, VG_LANE_ALERTS, buf, (size_t)k);
        if (i % 4 == 0) {
            k = snprintf(buf, sizeof buf, "{\"e\":%u}", e++);
            vg_spool_append(s, VG_LANE_EVENTS, buf, (size_t)k);
        }
        if (i % 1000 == 999 && vg_spool_flush(s, &eb))
            fprintf(stderr, "flush: %s\n", eb.msg);
    }
    vg_spool_flush(s, &eb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    vg_spool_close(s);
    printf("concurrent %u records: reader one %u alerts %u events, reader two %u alerts, "
           "errors %u\n",
           n, a.next_a, a.next_e, b.next_a, a.bad + b.bad);
    return a.bad + b.bad || a.next_a != n || a.next_e != n / 4 || b.next_a != n || b.next_e;
}

int main(int argc, char **argv)
{
    unsigned n = 200000, batch = 1000;
    bool conc = false, interval = false;
    int opt;
    while ((opt = getopt(argc, argv, "n:b:ci")) != -1) {
        switch (opt) {
        case 'n':
            n = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'b':
            batch = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'c':
            conc = true;
            break;
        case 'i':
            interval = true;
            break;
        default:
            fprintf(stderr, "usage: spool_bench [-n RECORDS] [-b BATCH] [-i] | -c [-n RECORDS]\n");
            return 2;
        }
    }
    if (!batch)
        batch = 1;
    vg_log_set_level(VG_LOG_WARNING);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    char dir[256];
    snprintf(dir, sizeof dir, "%s/vg-spool-bench-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    vg_spool_conf conf = {.state_dir = dir, .segment_size = 8 << 20};
    int rc = 0;
    if (conc) {
        rc = concurrent(&conf, n);
        goto out;
    }
    vg_spool_reader_conf rcf = {"bench", false};
    conf.readers = &rcf;
    conf.nreaders = 1;
    conf.fsync_interval = interval;
    conf.fsync_interval_ms = 1000;
    vg_spool *s;
    vg_errbuf eb;
    if (vg_spool_open(&conf, NULL, &s, &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        rc = 1;
        goto out;
    }
    char buf[2048];
    uint64_t raw = 0;
    double t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        int k = alert(buf, sizeof buf, i);
        raw += (uint64_t)k;
        vg_spool_append(s, VG_LANE_ALERTS, buf, (size_t)k);
        if ((i + 1) % batch == 0 && vg_spool_flush(s, &eb))
            fprintf(stderr, "flush: %s\n", eb.msg);
    }
    vg_spool_flush(s, &eb);
    double t1 = now_s();
    dir_bytes = 0;
    nftw(dir, add_size, 16, FTW_PHYS);
    printf("append+flush: %u records of %.0f bytes avg, batches of %u, fsync %s\n", n,
           (double)raw / n, batch, interval ? "every 1 s" : "per batch");
    printf("  %.0f records/s, %.1f MB/s of JSON, %.1f s\n", n / (t1 - t0), raw / (t1 - t0) / 1e6,
           t1 - t0);
    printf("  on disk: %" PRIu64 " bytes = %.1f bytes per record, compression %.1fx\n", dir_bytes,
           (double)dir_bytes / n, (double)raw / (double)dir_bytes);
    vg_spool_reader *r;
    if (vg_spool_reader_open(s, "bench", &r, &eb)) {
        fprintf(stderr, "%s\n", eb.msg);
        rc = 1;
        vg_spool_close(s);
        goto out;
    }
    vg_spool_batch b = {0};
    unsigned got = 0;
    t0 = now_s();
    while (vg_spool_read(r, 5000, 4 << 20, 0, 0, &b, NULL) == VG_OK) {
        got += (unsigned)b.n;
        vg_spool_ack(r, &b);
    }
    t1 = now_s();
    printf("read+ack: %u records, %.0f records/s\n", got, got / (t1 - t0));
    rc = got != n;
    vg_spool_batch_release(&b);
    vg_spool_reader_close(r);
    vg_spool_close(s);
out:
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/* test_sender.c - the sender thread over the real spool with a scripted transport. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/sender.h"
#include "agent/spool.h"

/* ---- a scripted transport ---- */

typedef struct fake {
    pthread_mutex_t mu;
    int fail_next;       /* next sends return VG_EAGAIN */
    int perm_next;       /* next sends return VG_EPERM */
    size_t max_chunk;    /* larger batches get VG_ELIMIT (0 = any) */
    int fail_below;      /* a batch holding a record numbered below this fails (VG_EAGAIN) */
    unsigned char seen[20000]; /* deliveries per record number */
    size_t delivered, sends, largest;
    bool woken;
    size_t bad_header;
} fake;

static fake F;

static vg_err f_create(const vg_output_conf *c, vg_stats *st, void **self, vg_errbuf *eb)
{
    *self = &F;
    return VG_OK;
}

static vg_err f_send(void *self, const vg_send_item *it, size_t n, vg_send_status *status,
                     vg_errbuf *eb)
{
    fake *f = self;
    pthread_mutex_lock(&f->mu);
    f->sends++;
    vg_err r = VG_OK;
    if (f->fail_next > 0) {
        f->fail_next--;
        r = vg_errf(eb, VG_EAGAIN, "scripted failure");
    } else if (f->perm_next > 0) {
        f->perm_next--;
        r = vg_errf(eb, VG_EPERM, "scripted 401");
    } else if (f->fail_below && sscanf(it[0].data, "{\"n\":%d", &(int){0}) == 1 &&
               atoi(it[0].data + 5) < f->fail_below) {
        r = vg_errf(eb, VG_EAGAIN, "scripted failure of the first batch");
    } else if (f->max_chunk && n > f->max_chunk) {
        r = vg_errf(eb, VG_ELIMIT, "scripted 413");
    } else {
        if (n > f->largest)
            f->largest = n;
        for (size_t i = 0; i < n; i++) {
            int num = -1;
            if (memmem(it[i].data, it[i].len, "\"bad\"", 5)) {
                status[i] = VG_SEND_REJECT;
                continue;
            }
            if (sscanf(it[i].data, "{\"n\":%d", &num) == 1 && num >= 0 && num < 20000) {
                f->seen[num]++;
                f->delivered++;
            }
            if (it[i].data[0] != '{')
                f->bad_header++; /* the 2-byte header must be stripped */
            status[i] = VG_SEND_OK;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return r;
}

static void f_wake(void *self)
{
    ((fake *)self)->woken = true;
}
static void f_destroy(void *self)
{
}

static const vg_transport_ops fake_ops = {"fake", f_create, f_send, f_wake, f_destroy};
/* the same, typed http: the sender runs `parallel` workers for it */
static const vg_transport_ops fake_http_ops = {"http", f_create, f_send, f_wake, f_destroy};

/* ---- fixture ---- */

static char dir[64];
static vg_stats *st;
static vg_spool *sp;

/* The spool of the fixture's directory (again after a simulated restart). */
static void open_spool(void)
{
    vg_spool_reader_conf rc = {"out", true};
    vg_spool_conf sc = {0};
    sc.state_dir = dir;
    sc.segment_size = 64 << 10;
    sc.readers = &rc;
    sc.nreaders = 1;
    vg_errbuf eb;
    cr_assert_eq(vg_spool_open(&sc, st, &sp, &eb), VG_OK, "%s", eb.msg);
}

static void setup(void)
{
    memset(&F, 0, sizeof F);
    pthread_mutex_init(&F.mu, NULL);
    snprintf(dir, sizeof dir, "/tmp/vg_sender_XXXXXX");
    cr_assert(mkdtemp(dir));
    st = vg_stats_create();
    open_spool();
}

static void teardown(void)
{
    vg_spool_close(sp);
    vg_stats_destroy(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

static vg_output_conf conf(void)
{
    vg_output_conf oc = {0};
    oc.name = "out";
    oc.type = "fake";
    oc.batch_max_events = 100;
    oc.batch_max_bytes = 1 << 20;
    oc.batch_delay_ms = 10;
    oc.retry_min_ms = 10;
    oc.retry_max_ms = 40;
    oc.min_level_rank = 0;
    return oc;
}

static void put(int from, int to, char kind, int rank)
{
    for (int i = from; i < to; i++) {
        char rec[96];
        int n = snprintf(rec, sizeof rec, "%c%c{\"n\":%d,\"x\":\"payload\"}", kind, '0' + rank, i);
        cr_assert_eq(vg_spool_append(sp, kind == 'e' ? VG_LANE_EVENTS : VG_LANE_ALERTS, rec,
                                     (size_t)n), VG_OK);
    }
    vg_errbuf eb;
    cr_assert_eq(vg_spool_flush(sp, &eb), VG_OK, "%s", eb.msg);
}

static size_t delivered(void)
{
    pthread_mutex_lock(&F.mu);
    size_t d = F.delivered;
    pthread_mutex_unlock(&F.mu);
    return d;
}

/* Wait for a condition with a deadline (no bare sleeps). */
static bool wait_delivered(size_t want, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (delivered() >= want)
            return true;
        usleep(5000);
    }
    return delivered() >= want;
}

TestSuite(sender, .init = setup, .fini = teardown, .timeout = 60);

Test(sender, delivers_everything_once_in_order_of_lanes)
{
    vg_output_conf oc = conf();
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    put(0, 3000, 'a', 2);
    put(3000, 5000, 'e', 0);
    cr_assert(wait_delivered(5000, 10000), "delivered %zu of 5000", delivered());
    vg_spool_wake(sp);
    vg_sender_stop(s);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(F.seen[i], 1, "record %d delivered %d times", i, F.seen[i]);
    cr_assert_leq(F.largest, 100, "batch_max_events respected (%zu)", F.largest);
    cr_assert_eq(F.bad_header, 0);
}

Test(sender, retries_after_failures_without_loss)
{
    F.fail_next = 3;
    vg_output_conf oc = conf();
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    put(0, 500, 'a', 3);
    cr_assert(wait_delivered(500, 10000));
    vg_spool_wake(sp);
    vg_sender_stop(s);
    for (int i = 0; i < 500; i++)
        cr_assert_eq(F.seen[i], 1);
    cr_assert_geq(vg_stats_sum(st, "output.retries"), 3);
}

Test(sender, auth_errors_retry_and_are_counted)
{
    F.perm_next = 2;
    vg_output_conf oc = conf();
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    put(0, 10, 'a', 3);
    cr_assert(wait_delivered(10, 10000));
    vg_spool_wake(sp);
    vg_sender_stop(s);
    cr_assert_eq(vg_stats_sum(st, "output.auth_errors"), 2);
}

Test(sender, too_large_batches_are_split)
{
    F.max_chunk = 7;
    vg_output_conf oc = conf();
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    put(0, 300, 'a', 3);
    cr_assert(wait_delivered(300, 10000));
    vg_spool_wake(sp);
    vg_sender_stop(s);
    for (int i = 0; i < 300; i++)
        cr_assert_eq(F.seen[i], 1);
    cr_assert_leq(F.largest, 7);
    cr_assert_gt(vg_stats_sum(st, "output.splits"), 0);
}

Test(sender, rejected_items_go_to_the_dead_letter_file)
{
    vg_output_conf oc = conf();
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(vg_spool_append(sp, VG_LANE_ALERTS, "a3{\"bad\":1}", 11), VG_OK);
    put(0, 20, 'a', 3);
    cr_assert(wait_delivered(20, 10000));
    vg_spool_wake(sp);
    vg_sender_stop(s);
    char p[128], line[64] = "";
    snprintf(p, sizeof p, "%s/deadletter-out.jsonl", dir);
    FILE *f = fopen(p, "r");
    cr_assert(f, "dead-letter file exists");
    cr_assert(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert_str_eq(line, "{\"bad\":1}\n");
    cr_assert_eq(vg_stats_sum(st, "output.deadletter"), 1);
}

Test(sender, min_level_filters_alerts_not_events)
{
    vg_output_conf oc = conf();
    oc.min_level_rank = 3;
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    put(0, 10, 'a', 1);   /* low: filtered */
    put(10, 20, 'a', 4);  /* critical */
    put(20, 30, 'e', 0);  /* raw events always go */
    cr_assert(wait_delivered(20, 10000));
    vg_spool_wake(sp);
    vg_sender_stop(s);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(F.seen[i], 0);
    for (int i = 10; i < 30; i++)
        cr_assert_eq(F.seen[i], 1);
}

Test(sender, stop_is_prompt_during_back_off)
{
    F.fail_next = 1000000;
    vg_output_conf oc = conf();
    oc.retry_min_ms = 60000;
    oc.retry_max_ms = 60000;
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    put(0, 10, 'a', 3);
    for (int i = 0; i < 2000 && !vg_stats_sum(st, "output.retries"); i++)
        usleep(5000);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    vg_spool_wake(sp);
    vg_sender_stop(s);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double sec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cr_assert_lt(sec, 5.0, "stopped in %.2fs", sec);
}

Test(sender, unacknowledged_records_are_resent_after_a_restart)
{
    F.fail_next = 1000000;
    vg_output_conf oc = conf();
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    put(0, 50, 'a', 3);
    for (int i = 0; i < 2000 && !vg_stats_sum(st, "output.retries"); i++)
        usleep(5000);
    vg_spool_wake(sp);
    vg_sender_stop(s);
    vg_spool_close(sp);
    /* Restart: a new spool on the same directory, the collector back. */
    F.fail_next = 0;
    open_spool();
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_ops, sp, st, dir, &s, &eb), VG_OK, "%s", eb.msg);
    cr_assert(wait_delivered(50, 10000));
    vg_spool_wake(sp);
    vg_sender_stop(s);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(F.seen[i], 1);
}

Test(sender, parallel_workers_deliver_everything_once)
{
    vg_output_conf oc = conf();
    oc.parallel = 3;
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_http_ops, sp, st, dir, &s, &eb), VG_OK, "%s",
                 eb.msg);
    put(0, 4000, 'a', 2);
    put(4000, 6000, 'e', 0);
    cr_assert(wait_delivered(6000, 10000), "delivered %zu of 6000", delivered());
    vg_spool_wake(sp);
    vg_sender_stop(s);
    for (int i = 0; i < 6000; i++)
        cr_assert_eq(F.seen[i], 1, "record %d delivered %d times", i, F.seen[i]);
    cr_assert_leq(F.largest, 100, "batch_max_events respected (%zu)", F.largest);
}

/* A later batch delivered by another worker while the first keeps failing
   must not move the cursor past the first: after a restart the first batch
   is sent again (the later ones too: duplicates, never a loss). */
Test(sender, parallel_workers_acknowledge_in_order)
{
    F.fail_below = 100; /* the first batch (records 0..99) never gets through */
    vg_output_conf oc = conf();
    oc.parallel = 2;
    vg_sender *s;
    vg_errbuf eb;
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_http_ops, sp, st, dir, &s, &eb), VG_OK, "%s",
                 eb.msg);
    put(0, 100, 'a', 3);
    put(100, 200, 'a', 3);
    cr_assert(wait_delivered(100, 10000), "the second batch went through another worker");
    for (int i = 0; i < 2000 && vg_stats_sum(st, "output.retries") < 2; i++)
        usleep(5000);
    cr_assert_eq(vg_stats_sum(st, "output.batches"), 0, "nothing acknowledged out of order");
    vg_spool_wake(sp);
    vg_sender_stop(s);
    vg_spool_close(sp);
    F.fail_below = 0;
    open_spool();
    cr_assert_eq(vg_sender_start_ops(&oc, &fake_http_ops, sp, st, dir, &s, &eb), VG_OK, "%s",
                 eb.msg);
    cr_assert(wait_delivered(300, 10000), "delivered %zu of 300", delivered());
    vg_spool_wake(sp);
    vg_sender_stop(s);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(F.seen[i], 1, "record %d of the failed batch: %d", i, F.seen[i]);
    for (int i = 100; i < 200; i++)
        cr_assert_eq(F.seen[i], 2, "record %d: resent once (was not acknowledged)", i);
}

/* Back-off: a table of (min, max, attempt, rnd) -> bounds. */
Test(backoff, grows_doubles_and_caps_with_jitter)
{
    struct {
        int64_t min, max;
        unsigned attempt;
        int64_t lo, hi;
    } t[] = {
        {1000, 300000, 0, 500, 1000},     {1000, 300000, 1, 1000, 2000},
        {1000, 300000, 3, 4000, 8000},    {1000, 300000, 20, 150000, 300000},
        {1000, 1000, 5, 500, 1000},       {10, 40, 9, 20, 40},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        for (double r = 0; r < 1.0; r += 0.125) {
            int64_t d = vg_backoff_ms(t[i].min, t[i].max, t[i].attempt, r);
            cr_assert(d >= t[i].lo && d <= t[i].hi, "case %zu rnd %.3f: %lld not in [%lld,%lld]",
                      i, r, (long long)d, (long long)t[i].lo, (long long)t[i].hi);
        }
}

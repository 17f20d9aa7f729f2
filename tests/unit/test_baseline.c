/* test_baseline.c - rate baselines, first-seen values and rare sequences, on a fake clock. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors/baseline.h"

#define SEC VG_NS_PER_SEC
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
/* Monday 2026-11-30 00:00:00 UTC */
#define T0 (1764460800LL * SEC)

typedef struct got {
    int n;
    vg_rate_alert a[64];
    char keys[64][32];
} got;

static void on_alert(void *ud, const vg_rate_alert *a)
{
    got *g = ud;
    if (g->n < 64) {
        g->a[g->n] = *a;
        snprintf(g->keys[g->n], sizeof g->keys[0], "%.*s", (int)a->keylen, a->key);
        g->a[g->n].key = g->keys[g->n];
    }
    g->n++;
}

/* n events of key spread inside bucket [start, start + MIN) */
static void burst(vg_rate *r, const char *key, int64_t start, int n, got *g)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(
            vg_rate_add(r, key, strlen(key), start + (int64_t)i * (MIN / (n + 1)), on_alert, g),
            VG_OK);
}

static vg_rate *steady(vg_rate_opts o, int buckets, int per, got *g)
{
    vg_rate *r = vg_rate_create(&o);
    cr_assert_not_null(r);
    for (int b = 0; b < buckets; b++)
        burst(r, "sshd", T0 + b * MIN, per, g);
    return r;
}

Test(rate, bucket_boundaries)
{
    got g = {0};
    vg_rate *r = steady((vg_rate_opts){.warmup_ns = 5 * MIN}, 30, 10, &g);
    cr_assert_eq(g.n, 0, "steady traffic is quiet");
    int64_t t = T0 + 30 * MIN;
    /* 99 events inside [t, t + 1 min): the last one a nanosecond before the end */
    for (int i = 0; i < 98; i++)
        vg_rate_add(r, "sshd", 4, t + i * SEC / 2, on_alert, &g);
    vg_rate_add(r, "sshd", 4, t + MIN - 1, on_alert, &g);
    cr_assert_eq(g.n, 0, "the bucket is still open");
    /* exactly at the end: belongs to the next bucket, and closes this one */
    vg_rate_add(r, "sshd", 4, t + MIN, on_alert, &g);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.a[0].kind, VG_RATE_SPIKE);
    cr_assert_eq(g.a[0].observed, 99);
    cr_assert_eq(g.a[0].start, t);
    cr_assert(fabs(g.a[0].expected - 10) < 0.5, "expected %f", g.a[0].expected);
    cr_assert_str_eq(g.a[0].key, "sshd");
    vg_rate_destroy(r);
}

Test(rate, warmup_learns_silently)
{
    got g = {0};
    vg_rate *r = steady((vg_rate_opts){.warmup_ns = 10 * MIN}, 5, 10, &g);
    burst(r, "sshd", T0 + 5 * MIN, 500, &g);
    vg_rate_tick(r, T0 + 6 * MIN, on_alert, &g);
    cr_assert_eq(g.n, 0, "no alert before 10 buckets");
    vg_rate_destroy(r);
}

Test(rate, poisson_floor_and_k)
{
    /* a steady 10 per bucket has no variance; 20 is within 4 sqrt(10) + 10 = 22.6, 25 is not */
    got g = {0};
    vg_rate *r = steady((vg_rate_opts){.warmup_ns = 5 * MIN}, 20, 10, &g);
    burst(r, "sshd", T0 + 20 * MIN, 20, &g);
    burst(r, "sshd", T0 + 21 * MIN, 10, &g);
    cr_assert_eq(g.n, 0);
    burst(r, "sshd", T0 + 22 * MIN, 25, &g);
    burst(r, "sshd", T0 + 23 * MIN, 10, &g);
    cr_assert_eq(g.n, 1);
    vg_rate_destroy(r);
}

Test(rate, silence_once_per_quiet_spell)
{
    got g = {0};
    vg_rate *r = steady((vg_rate_opts){.warmup_ns = 5 * MIN}, 30, 50, &g);
    /* the source stops: only ticks see it */
    vg_rate_tick(r, T0 + 30 * MIN + 30 * SEC, on_alert, &g);
    cr_assert_eq(g.n, 0, "the open bucket is not judged early");
    vg_rate_tick(r, T0 + 31 * MIN, on_alert, &g);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.a[0].kind, VG_RATE_SILENCE);
    cr_assert_eq(g.a[0].observed, 0);
    cr_assert_eq(g.a[0].start, T0 + 30 * MIN);
    for (int m = 32; m < 40; m++)
        vg_rate_tick(r, T0 + m * MIN, on_alert, &g);
    cr_assert_eq(g.n, 1, "one alert per quiet spell, got %d", g.n);
    /* back to normal, then quiet again: a new alert */
    for (int m = 40; m < 45; m++)
        burst(r, "sshd", T0 + m * MIN, 50, &g);
    int before = g.n;
    vg_rate_tick(r, T0 + 47 * MIN, on_alert, &g);
    cr_assert_eq(g.n, before + 1);
    cr_assert_eq(g.a[g.n - 1].kind, VG_RATE_SILENCE);
    vg_rate_destroy(r);
}

Test(rate, no_silence_for_sparse_sources)
{
    got g = {0};
    vg_rate *r = steady((vg_rate_opts){.warmup_ns = 5 * MIN}, 30, 3, &g);
    vg_rate_tick(r, T0 + 60 * MIN, on_alert, &g);
    cr_assert_eq(g.n, 0, "expected 3 < min_expected: silence is not significant");
    vg_rate_destroy(r);
}

/* A weekly pattern: 200 events in the Monday 09:00 hour, 20 in every other hour. */
static int weekly(vg_rate *r, int weeks, got *g)
{
    for (int h = 0; h < weeks * 168; h++) {
        int n = (h % 168 == 9) ? 200 : 20;
        int64_t start = T0 + h * HOUR;
        for (int i = 0; i < n; i++)
            vg_rate_add(r, "app", 3, start + i * (HOUR / n), on_alert, g);
    }
    vg_rate_tick(r, T0 + weeks * 168 * HOUR, on_alert, g);
    return g->n;
}

Test(rate, hour_of_week_seasonality)
{
    vg_rate_opts o = {.bucket_ns = HOUR, .warmup_ns = 2 * HOUR, .seasonal = true};
    got g = {0};
    vg_rate *r = vg_rate_create(&o);
    weekly(r, 4, &g);
    cr_assert_eq(g.n, 0, "the Monday 09:00 peak is expected with seasonality (%d alerts)", g.n);
    vg_rate_destroy(r);
    /* without it, the weekly peak is a spike each week after warm-up */
    o.seasonal = false;
    got g2 = {0};
    r = vg_rate_create(&o);
    weekly(r, 4, &g2);
    cr_assert_geq(g2.n, 3);
    cr_assert_eq(g2.a[0].kind, VG_RATE_SPIKE);
    cr_assert_eq((g2.a[0].start - T0) % (168 * HOUR), 9 * HOUR);
    vg_rate_destroy(r);
}

Test(rate, late_events_and_clock_jump)
{
    got g = {0};
    vg_rate *r = steady((vg_rate_opts){.warmup_ns = 5 * MIN}, 10, 10, &g);
    vg_rate_add(r, "sshd", 4, T0, on_alert, &g); /* 10 minutes late: counted in the open bucket */
    vg_rate_stats st;
    vg_rate_get_stats(r, &st);
    cr_assert_eq(st.late, 1);
    /* a jump of ten years closes a bounded number of empty buckets, fast */
    vg_rate_add(r, "sshd", 4, T0 + 3650 * DAY, on_alert, &g);
    vg_rate_get_stats(r, &st);
    cr_assert_gt(st.skipped, 0);
    vg_rate_tick(r, -5 * DAY, on_alert, &g); /* a clock going backwards is ignored */
    vg_rate_destroy(r);
}

Test(rate, groups_are_capped)
{
    got g = {0};
    vg_rate *r = vg_rate_create(&(vg_rate_opts){.max_groups = 2});
    vg_rate_add(r, "a", 1, T0, on_alert, &g);
    vg_rate_add(r, "b", 1, T0, on_alert, &g);
    vg_rate_add(r, "a", 1, T0 + 1, on_alert, &g);
    vg_rate_add(r, "c", 1, T0 + 2, on_alert, &g); /* evicts b, the least recently updated */
    vg_rate_stats st;
    vg_rate_get_stats(r, &st);
    cr_assert_eq(st.groups, 2);
    cr_assert_eq(st.evicted, 1);
    cr_assert_null(vg_rate_create(&(vg_rate_opts){.bucket_ns = 1000}));
    cr_assert_null(vg_rate_create(&(vg_rate_opts){.alpha = 2}));
    vg_rate_destroy(r);
}

Test(rate, save_restore_round_trip)
{
    got g = {0};
    vg_rate_opts o = {.warmup_ns = 5 * MIN, .seasonal = true};
    vg_rate *r = steady(o, 30, 50, &g);
    vg_rate_add(r, "other\x01\xff", 7, T0 + 29 * MIN, on_alert, &g);
    json_t *j = vg_rate_save(r);
    cr_assert_not_null(j);
    char *txt = json_dumps(j, 0);
    json_decref(j);
    vg_rate *r2 = vg_rate_create(&o);
    json_t *back = json_loads(txt, 0, NULL);
    vg_errbuf eb;
    cr_assert_eq(vg_rate_load(r2, back, &eb), VG_OK, "%s", eb.msg);
    json_decref(back);
    free(txt);
    /* both see the same silence at the same moment */
    got g1 = {0}, g2 = {0};
    vg_rate_tick(r, T0 + 31 * MIN, on_alert, &g1);
    vg_rate_tick(r2, T0 + 31 * MIN, on_alert, &g2);
    cr_assert_eq(g1.n, 1);
    cr_assert_eq(g2.n, 1);
    cr_assert_eq(g1.a[0].expected, g2.a[0].expected);
    vg_rate_stats st;
    vg_rate_get_stats(r2, &st);
    cr_assert_eq(st.groups, 2);
    /* another bucket width: refused, fresh state */
    json_t *j2 = vg_rate_save(r);
    vg_rate *r3 = vg_rate_create(&(vg_rate_opts){.bucket_ns = 5 * MIN, .seasonal = true});
    cr_assert_eq(vg_rate_load(r3, j2, &eb), VG_EPARSE);
    json_decref(j2);
    vg_rate_destroy(r);
    vg_rate_destroy(r2);
    vg_rate_destroy(r3);
}

static const char *const bad_rate[] = {
    "{}",
    "{\"version\": 2, \"kind\": \"rate\"}",
    "{\"version\": 1, \"kind\": \"seen\"}",
    "{\"version\": 1, \"kind\": \"rate\", \"bucket_ns\": 60000000000, \"slots\": 1}",
    "{\"version\": 1, \"kind\": \"rate\", \"bucket_ns\": 60000000000, \"slots\": 1, \"groups\": "
    "[{\"k\": \"zz\", \"b\": 1, \"c\": 1, \"q\": false, \"s\": [[1.0, 1.0, 1]]}]}",
    "{\"version\": 1, \"kind\": \"rate\", \"bucket_ns\": 60000000000, \"slots\": 1, \"groups\": "
    "[{\"k\": \"61\", \"b\": 1, \"c\": -1, \"q\": false, \"s\": [[1.0, 1.0, 1]]}]}",
    "{\"version\": 1, \"kind\": \"rate\", \"bucket_ns\": 60000000000, \"slots\": 1, \"groups\": "
    "[{\"k\": \"61\", \"b\": 1, \"c\": 1, \"q\": false, \"s\": [[1.0, -1.0, 1]]}]}",
    "{\"version\": 1, \"kind\": \"rate\", \"bucket_ns\": 60000000000, \"slots\": 1, \"groups\": "
    "[{\"k\": \"61\", \"b\": 1, \"c\": 1, \"q\": false, \"s\": [[1.0, 1.0, 1], [1.0, 1.0, 1]]}]}",
    "{\"version\": 1, \"kind\": \"rate\", \"bucket_ns\": 60000000000, \"slots\": 1, \"groups\": "
    "[{\"k\": \"61\", \"b\": 1, \"c\": 1, \"q\": false, \"s\": [[1.0, 1.0, 1]]},"
    " {\"k\": \"61\", \"b\": 1, \"c\": 1, \"q\": false, \"s\": [[1.0, 1.0, 1]]}]}",
};

Test(rate, corrupt_state_is_refused)
{
    got g = {0};
    for (size_t i = 0; i < sizeof bad_rate / sizeof bad_rate[0]; i++) {
        vg_rate *r = steady((vg_rate_opts){.warmup_ns = 5 * MIN}, 3, 5, &g);
        json_t *j = json_loads(bad_rate[i], 0, NULL);
        cr_assert_not_null(j, "case %zu is JSON", i);
        vg_errbuf eb = {0};
        cr_expect_neq(vg_rate_load(r, j, &eb), VG_OK, "case %zu refused", i);
        cr_expect_neq(eb.msg[0], '\0', "case %zu says why", i);
        vg_rate_stats st;
        vg_rate_get_stats(r, &st);
        cr_expect_eq(st.groups, 0, "case %zu: fresh state", i);
        cr_expect_eq(vg_rate_add(r, "x", 1, T0, on_alert, &g), VG_OK);
        json_decref(j);
        vg_rate_destroy(r);
    }
}

/* ---- first seen ---- */

static bool observe(vg_seen *s, const char *k, int64_t ts)
{
    bool n;
    cr_assert_eq(vg_seen_observe(s, k, strlen(k), ts, &n), VG_OK);
    return n;
}

Test(seen, learning_period_then_new_values)
{
    vg_seen *s = vg_seen_create(&(vg_seen_opts){.learn_ns = DAY, .history_ns = 30 * DAY});
    cr_assert(!vg_seen_learned(s, T0));
    cr_assert(!observe(s,
                       "alice\x1f"
                       "10.0.0.1",
                       T0));
    cr_assert(!observe(s,
                       "bob\x1f"
                       "10.0.0.2",
                       T0 + DAY - 1),
              "still learning");
    cr_assert(vg_seen_learned(s, T0 + DAY));
    cr_assert(observe(s,
                      "mallory\x1f"
                      "6.6.6.6",
                      T0 + DAY),
              "learning ends exactly at T0+1d");
    cr_assert(!observe(s,
                       "mallory\x1f"
                       "6.6.6.6",
                       T0 + DAY + 1),
              "only the first time");
    cr_assert(!observe(s,
                       "alice\x1f"
                       "10.0.0.1",
                       T0 + 2 * DAY));
    cr_assert(observe(s,
                      "alice\x1f"
                      "6.6.6.6",
                      T0 + 2 * DAY),
              "a new tuple");
    vg_seen_stats st;
    vg_seen_get_stats(s, &st);
    cr_assert_eq(st.fresh, 2);
    cr_assert_eq(st.values, 4);
    vg_seen_destroy(s);
}

Test(seen, history_window_expiry)
{
    vg_seen *s = vg_seen_create(&(vg_seen_opts){.learn_ns = HOUR, .history_ns = 7 * DAY});
    observe(s, "sudo:/usr/bin/apt", T0);
    observe(s, "sudo:/usr/bin/vim", T0);
    cr_assert(!observe(s, "sudo:/usr/bin/apt", T0 + 7 * DAY), "exactly the window: still known");
    cr_assert(observe(s, "sudo:/usr/bin/apt", T0 + 14 * DAY + 1), "unseen for longer: new again");
    vg_seen_tick(s, T0 + 7 * DAY + 1);
    vg_seen_stats st;
    vg_seen_get_stats(s, &st);
    cr_assert_eq(st.values, 1, "vim expired by the tick");
    cr_assert_eq(st.expired, 2);
    vg_seen_destroy(s);
}

Test(seen, capped_with_eviction)
{
    vg_seen *s = vg_seen_create(&(vg_seen_opts){.learn_ns = 1, .max_values = 100});
    char k[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        observe(s, k, T0 + i);
    }
    vg_seen_stats st;
    vg_seen_get_stats(s, &st);
    cr_assert_eq(st.values, 100);
    cr_assert_eq(st.evicted, 100000 - 100);
    vg_seen_destroy(s);
}

Test(seen, save_restore_and_corrupt)
{
    vg_seen_opts o = {.learn_ns = HOUR, .history_ns = DAY};
    vg_seen *s = vg_seen_create(&o);
    observe(s, "root", T0);
    observe(s, "bin\x00zz", T0 + 1);
    json_t *j = vg_seen_save(s);
    vg_seen *s2 = vg_seen_create(&o);
    vg_errbuf eb;
    cr_assert_eq(vg_seen_load(s2, j, &eb), VG_OK, "%s", eb.msg);
    json_decref(j);
    cr_assert(vg_seen_learned(s2, T0 + HOUR), "the learning period survives a restart");
    cr_assert(!observe(s2, "root", T0 + 2 * HOUR));
    cr_assert(observe(s2, "daemon", T0 + 2 * HOUR));
    static const char *const bad[] = {
        "{\"version\": 1, \"kind\": \"seen\"}",
        "{\"version\": 1, \"kind\": \"seen\", \"started\": true, \"first\": 1, \"values\": "
        "[[\"6\", 1]]}",
        "{\"version\": 1, \"kind\": \"seen\", \"started\": true, \"first\": 1, \"values\": "
        "[[\"61\"]]}",
        "{\"version\": 1, \"kind\": \"seen\", \"started\": true, \"first\": 1, \"values\": "
        "[[\"61\", 1], [\"61\", 2]]}",
        "{\"version\": 7, \"kind\": \"seen\", \"started\": true, \"first\": 1, \"values\": []}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        cr_assert_not_null(b);
        cr_expect_neq(vg_seen_load(s2, b, &eb), VG_OK, "case %zu", i);
        json_decref(b);
        vg_seen_stats st;
        vg_seen_get_stats(s2, &st);
        cr_expect_eq(st.values, 0);
        cr_expect(!vg_seen_learned(s2, T0 + 100 * DAY), "a fresh state learns again");
    }
    vg_seen_destroy(s);
    vg_seen_destroy(s2);
}

/* ---- rare sequences ---- */

Test(seqdet, unseen_transitions_and_truncation)
{
    vg_seqdet *sd = vg_seqdet_create(&(vg_seqdet_opts){.n = 3, .min_count = 2});
    static const uint32_t a[] = {5, 22, 11, 9, 26, 23, 21};
    static const uint32_t b[] = {22, 5, 11, 9, 26, 23, 21};
    for (int i = 0; i < 3; i++) {
        vg_seqdet_learn(sd, a, 7);
        vg_seqdet_learn(sd, b, 7);
    }
    static const uint32_t once[] = {5, 22, 11, 9, 4, 26, 23, 21};
    vg_seqdet_learn(sd, once, 8); /* event 4 seen once: still rare */
    size_t at;
    cr_assert_eq(vg_seqdet_check(sd, a, 7, &at), 0);
    cr_assert_eq(vg_seqdet_check(sd, b, 7, NULL), 0);
    static const uint32_t trunc[] = {5, 22, 11};
    cr_assert_gt(vg_seqdet_check(sd, trunc, 3, &at), 0, "a session cut short ends unusually");
    static const uint32_t swap[] = {5, 22, 9, 11, 26, 23, 21};
    cr_assert_gt(vg_seqdet_check(sd, swap, 7, &at), 0);
    cr_assert_eq(at, 2, "the session turns unusual at 22 -> 9");
    cr_assert_gt(vg_seqdet_check(sd, once, 8, NULL), 0, "seen once < min_count");
    static const uint32_t unknown[] = {5, 22, 11, 9, 99, 26, 23, 21};
    cr_assert_gt(vg_seqdet_check(sd, unknown, 8, &at), 0);
    cr_assert_eq(vg_seqdet_check(sd, NULL, 0, NULL), 1, "empty session: the gram ^$ is unseen");

    json_t *j = vg_seqdet_save(sd);
    vg_seqdet *sd2 = vg_seqdet_create(&(vg_seqdet_opts){.n = 3, .min_count = 2});
    vg_errbuf eb;
    cr_assert_eq(vg_seqdet_load(sd2, j, &eb), VG_OK, "%s", eb.msg);
    json_decref(j);
    cr_assert_eq(vg_seqdet_check(sd2, a, 7, NULL), 0);
    cr_assert_gt(vg_seqdet_check(sd2, swap, 7, NULL), 0);
    cr_assert_eq(vg_seqdet_size(sd2, NULL), vg_seqdet_size(sd, NULL));
    json_t *bad =
        json_loads("{\"version\":1,\"kind\":\"seqdet\",\"grams\":[[\"abc\",1]]}", 0, NULL);
    cr_assert_eq(vg_seqdet_load(sd2, bad, &eb), VG_EPARSE);
    cr_assert_eq(vg_seqdet_size(sd2, NULL), 0);
    json_decref(bad);
    vg_seqdet_destroy(sd);
    vg_seqdet_destroy(sd2);
}

Test(seqdet, capped)
{
    vg_seqdet *sd = vg_seqdet_create(&(vg_seqdet_opts){.max_grams = 50});
    uint32_t s[10];
    for (uint32_t i = 0; i < 1000; i++) {
        for (int k = 0; k < 10; k++)
            s[k] = i * 10 + (uint32_t)k;
        cr_assert_eq(vg_seqdet_learn(sd, s, 10), VG_OK);
    }
    uint64_t ev;
    cr_assert_eq(vg_seqdet_size(sd, &ev), 50);
    cr_assert_gt(ev, 0);
    vg_seqdet_destroy(sd);
}

/* ---- sessions ---- */

typedef struct closed {
    int n;
    char key[8][16];
    size_t len[8];
    uint64_t dropped[8];
    int64_t first[8], last[8];
    uint32_t ev0[8];
} closed;

static void on_close(void *ud, const vg_session *s)
{
    closed *c = ud;
    if (c->n < 8) {
        snprintf(c->key[c->n], sizeof c->key[0], "%.*s", (int)s->keylen, s->key);
        c->len[c->n] = s->n;
        c->dropped[c->n] = s->dropped;
        c->first[c->n] = s->first;
        c->last[c->n] = s->last;
        c->ev0[c->n] = s->n ? s->ev[0] : 0;
    }
    c->n++;
}

Test(sessions, gap_cap_and_persistence)
{
    vg_sessions *ss = vg_sessions_create(
        &(vg_sessions_opts){.gap_ns = 5 * MIN, .max_sessions = 2, .max_events = 3});
    closed c = {0};
    vg_sessions_add(ss, "blk_1", 5, T0, 5, on_close, &c);
    vg_sessions_add(ss, "blk_1", 5, T0 + MIN, 22, on_close, &c);
    vg_sessions_add(ss, "blk_2", 5, T0 + 2 * MIN, 7, on_close, &c);
    vg_sessions_tick(ss, T0 + 6 * MIN - 1, on_close, &c);
    cr_assert_eq(c.n, 0, "blk_1 idle 5 min minus 1 ns: still open");
    vg_sessions_tick(ss, T0 + 6 * MIN, on_close, &c);
    cr_assert_eq(c.n, 1);
    cr_assert_str_eq(c.key[0], "blk_1");
    cr_assert_eq(c.len[0], 2);
    cr_assert_eq(c.first[0], T0);
    cr_assert_eq(c.last[0], T0 + MIN);
    /* events past max_events are counted, not kept */
    for (int i = 0; i < 5; i++)
        vg_sessions_add(ss, "blk_3", 5, T0 + 6 * MIN + i, (uint32_t)i, on_close, &c);
    /* a third open session closes the least recently updated one (blk_2) early */
    vg_sessions_add(ss, "blk_4", 5, T0 + 7 * MIN, 1, on_close, &c);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.key[1], "blk_2");
    uint64_t forced;
    cr_assert_eq(vg_sessions_open(ss, &forced), 2);
    cr_assert_eq(forced, 1);
    json_t *j = vg_sessions_save(ss);
    vg_sessions *s2 = vg_sessions_create(
        &(vg_sessions_opts){.gap_ns = 5 * MIN, .max_sessions = 2, .max_events = 3});
    vg_errbuf eb;
    cr_assert_eq(vg_sessions_load(s2, j, &eb), VG_OK, "%s", eb.msg);
    json_decref(j);
    closed c2 = {0};
    vg_sessions_tick(s2, T0 + DAY, on_close, &c2);
    cr_assert_eq(c2.n, 2);
    cr_assert_str_eq(c2.key[0], "blk_3", "oldest first");
    cr_assert_eq(c2.len[0], 3);
    cr_assert_eq(c2.dropped[0], 2);
    cr_assert_eq(c2.ev0[0], 0);
    json_t *bad = json_loads("{\"version\":1,\"kind\":\"sessions\",\"sessions\":[{\"k\":\"61\","
                             "\"first\":1,\"last\":1,\"dropped\":0,\"ev\":[-1]}]}",
                             0, NULL);
    cr_assert_eq(vg_sessions_load(s2, bad, &eb), VG_EPARSE);
    cr_assert_eq(vg_sessions_open(s2, NULL), 0);
    json_decref(bad);
    vg_sessions_destroy(ss);
    vg_sessions_destroy(s2);
}

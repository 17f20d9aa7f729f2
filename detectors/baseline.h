/*
 * baseline.h - statistical baselines: event rates, first-seen values, rare
 * event sequences. Pure state machines over (key, event time): no clock, no
 * I/O, so a scan of an old archive behaves as the live agent, and the tests
 * drive them with a fake clock. Times are nanoseconds since the epoch (UTC).
 *
 * Every table has a cap; the least recently updated entry is evicted when it
 * is full, and evictions are counted. Every object saves to and loads from a
 * versioned JSON object (keys hex-encoded: they are attacker bytes). A
 * corrupt state is refused with VG_EPARSE and leaves a fresh, empty object.
 * None of these objects is thread-safe.
 */
#ifndef VG_BASELINE_H
#define VG_BASELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/err.h"

#define VG_BASELINE_STATE_VERSION 1
#define VG_NS_PER_SEC 1000000000LL

/* ---- rate: events per group per bucket -------------------------------------- */

typedef struct vg_rate_opts {
    int64_t bucket_ns;   /* bucket width; default 60 s */
    double k;            /* alert beyond k standard deviations; default 4 */
    int64_t warmup_ns;   /* buckets of history (per season slot) before alerting; default 1 h */
    double alpha;        /* EWMA weight of a new bucket; default 0.05 */
    double min_expected; /* silence only when the expected count is at least this; default 10 */
    bool seasonal;       /* one mean/variance per hour of the week (UTC) */
    size_t max_groups;   /* default 10000 (1000 when seasonal) */
} vg_rate_opts;

typedef enum vg_rate_kind { VG_RATE_SPIKE = 1, VG_RATE_SILENCE = 2 } vg_rate_kind;

/* An anomalous bucket [start, start + bucket_ns) of one group. key is valid
 * during the callback only. Silence is raised once per quiet spell: not again
 * before the group has a normal bucket. */
typedef struct vg_rate_alert {
    vg_rate_kind kind;
    const char *key;
    size_t keylen;
    int64_t start;
    double observed, expected, stddev;
} vg_rate_alert;

typedef void (*vg_rate_cb)(void *ud, const vg_rate_alert *a);

typedef struct vg_rate_stats {
    size_t groups;
    uint64_t events, late, evicted, alerts, skipped; /* skipped: empty buckets not replayed */
} vg_rate_stats;

typedef struct vg_rate vg_rate;

/* NULL on ENOMEM or invalid options (bucket_ns < 1 s, k <= 0, alpha not in (0, 1]). */
vg_rate *vg_rate_create(const vg_rate_opts *opts);
void vg_rate_destroy(vg_rate *r);

/* Count one event of group key at event time ts. Buckets of this group that
 * ts closes are evaluated first (cb may fire). An event older than the
 * group's open bucket counts in it (late, counted). */
vg_err vg_rate_add(vg_rate *r, const char *key, size_t keylen, int64_t ts, vg_rate_cb cb, void *ud);

/* Close, in every group, the buckets that end at or before now (how silence
 * is seen: no event comes to close them). Call at least once per bucket. */
void vg_rate_tick(vg_rate *r, int64_t now, vg_rate_cb cb, void *ud);

void vg_rate_get_stats(const vg_rate *r, vg_rate_stats *st);
json_t *vg_rate_save(const vg_rate *r);
vg_err vg_rate_load(vg_rate *r, const json_t *state, vg_errbuf *eb);

/* ---- first seen: values (or tuples) new to this host ------------------------- */

typedef struct vg_seen_opts {
    int64_t learn_ns;   /* from the first event on, values are learned silently; default 24 h */
    int64_t history_ns; /* a value not seen for this long is new again; default 30 days */
    size_t max_values;  /* default 100000 */
} vg_seen_opts;

typedef struct vg_seen_stats {
    size_t values;
    uint64_t checks, fresh, expired, evicted;
} vg_seen_stats;

typedef struct vg_seen vg_seen;

vg_seen *vg_seen_create(const vg_seen_opts *opts);
void vg_seen_destroy(vg_seen *s);

/* Record value key at time ts; *is_new is true when it was not seen within
 * the history window and the learning period is over. A tuple is the fields
 * joined by 0x1f (the caller joins). */
vg_err vg_seen_observe(vg_seen *s, const char *key, size_t keylen, int64_t ts, bool *is_new);

/* Drop values not seen within the history window before now. */
void vg_seen_tick(vg_seen *s, int64_t now);

/* True once the learning period is over at time now. */
bool vg_seen_learned(const vg_seen *s, int64_t now);

void vg_seen_get_stats(const vg_seen *s, vg_seen_stats *st);
json_t *vg_seen_save(const vg_seen *s);
vg_err vg_seen_load(vg_seen *s, const json_t *state, vg_errbuf *eb);

/* ---- rare sequences: n-grams of event (template) ids within a session ------------ */

/*
 * A session (e.g. the lines of one HDFS block, one SSH connection) is the
 * sequence of its event ids. Learning counts every 1..n-gram of the session
 * framed by start and end markers (so truncated or over-long sessions show).
 * A session is anomalous when it holds a gram seen fewer than min_count times
 * while learning: an unseen event id, an unseen transition, an unusual start
 * or end.
 */
typedef struct vg_seqdet_opts {
    unsigned n;         /* longest gram; default 3, max 8 */
    unsigned min_count; /* a gram is rare below this count; default 2 */
    size_t max_grams;   /* default 200000 */
} vg_seqdet_opts;

typedef struct vg_seqdet vg_seqdet;

vg_seqdet *vg_seqdet_create(const vg_seqdet_opts *opts);
void vg_seqdet_destroy(vg_seqdet *sd);
vg_err vg_seqdet_learn(vg_seqdet *sd, const uint32_t *ev, size_t n);
/* Number of rare grams in the session (0: normal). *first (may be NULL) gets
 * the index in ev of the earliest event that ends a rare gram (where the
 * session turned unusual). */
size_t vg_seqdet_check(const vg_seqdet *sd, const uint32_t *ev, size_t n, size_t *first);
size_t vg_seqdet_size(const vg_seqdet *sd, uint64_t *evicted);
json_t *vg_seqdet_save(const vg_seqdet *sd);
vg_err vg_seqdet_load(vg_seqdet *sd, const json_t *state, vg_errbuf *eb);

/* ---- sessions: event ids gathered per key until the key goes idle ------------------- */

typedef struct vg_sessions_opts {
    int64_t gap_ns;      /* a session ends after this long without an event; default 5 min */
    size_t max_sessions; /* open sessions; when full the least recently updated one is
                            closed early (counted); default 10000 */
    size_t max_events;   /* events kept per session (the rest counted, not kept); default 1024 */
} vg_sessions_opts;

/* A closed session: key (valid during the call), its event ids in order,
 * how many were not kept, its first and last event times. */
typedef struct vg_session {
    const char *key;
    size_t keylen;
    const uint32_t *ev;
    size_t n;
    uint64_t dropped;
    int64_t first, last;
} vg_session;

typedef void (*vg_session_cb)(void *ud, const vg_session *s);

typedef struct vg_sessions vg_sessions;

vg_sessions *vg_sessions_create(const vg_sessions_opts *opts);
void vg_sessions_destroy(vg_sessions *ss);
/* Append event id ev at time ts to the session of key (opened if absent; a
 * full table first closes its least recently updated session through cb). */
vg_err vg_sessions_add(vg_sessions *ss, const char *key, size_t keylen, int64_t ts, uint32_t ev,
                       vg_session_cb cb, void *ud);
/* Close every session idle for gap_ns at now (cb for each). */
void vg_sessions_tick(vg_sessions *ss, int64_t now, vg_session_cb cb, void *ud);
/* Close every open session (end of input), least recently updated first. */
void vg_sessions_close_all(vg_sessions *ss, vg_session_cb cb, void *ud);
/* Open sessions and sessions closed early because the table was full. */
size_t vg_sessions_open(const vg_sessions *ss, uint64_t *forced);
json_t *vg_sessions_save(const vg_sessions *ss);
vg_err vg_sessions_load(vg_sessions *ss, const json_t *state, vg_errbuf *eb);

#endif

/*
 * baseline.c - rate baselines, first-seen values and rare sequences.
 *
 * All three sit on one bounded keyed table (ktab): a chained hash of byte
 * keys with an LRU list; a full table evicts its least recently updated
 * entry and counts it.
 *
 * Rate: each group has one open bucket (index = floor(ts / bucket)) and a
 * count. When time passes the bucket's end (a later event of the group, or
 * vg_rate_tick), the bucket and the empty buckets after it are closed one by
 * one: each is compared with the EWMA mean and variance of its season slot
 * (one slot, or one per hour of the week), then folded into them. The
 * standard deviation has a Poisson floor sqrt(max(mean, 1)), so a steady
 * stream (variance ~0) does not alert on a count that chance explains.
 * Before a slot has warmup/bucket buckets, it only learns.
 */
#include "detectors/baseline.h"
#include "agent/hash.h"
#include "detectors/lru.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- bounded keyed table ---------------------------------------------------- */

typedef struct kent {
    struct kent *hnext, *prev, *next;
    uint64_t hash;
    union {
        int64_t last;   /* seen */
        uint64_t count; /* seqdet */
        void *p;        /* rate group */
    } v;
    size_t klen;
    char key[];
} kent;

typedef struct ktab {
    kent **b;
    size_t nb, n, cap;
    kent *head, *tail; /* head: most recently updated */
    uint64_t evicted;
    void (*vfree)(void *);
} ktab;

static uint64_t hash_bytes(const char *k, size_t n)
{
    uint64_t h = vg_fnv1a(1469598103934665603ULL, k, n);
    return h ^ (h >> 29);
}

static bool kt_init(ktab *t, size_t cap, void (*vfree)(void *))
{
    memset(t, 0, sizeof *t);
    t->cap = cap;
    t->vfree = vfree;
    t->nb = 64;
    while (t->nb < cap && t->nb < (1u << 20))
        t->nb *= 2;
    t->b = calloc(t->nb, sizeof *t->b);
    return t->b != NULL;
}

static void kt_unlink_lru(ktab *t, kent *e)
{
    VG_LRU_UNLINK(t, e, prev, next);
}

static void kt_front(ktab *t, kent *e)
{
    VG_LRU_FRONT(t, e, prev, next);
}

static void kt_del(ktab *t, kent *e)
{
    kent **pp = &t->b[e->hash & (t->nb - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    kt_unlink_lru(t, e);
    if (t->vfree)
        t->vfree(e->v.p);
    free(e);
    t->n--;
}

static void kt_clear(ktab *t)
{
    while (t->head)
        kt_del(t, t->head); // NOLINT(clang-analyzer-unix.Malloc): kt_del unlinks the head (t->head advances) before freeing it
    free(t->b);
    t->b = NULL;
}

static kent *kt_find(const ktab *t, const char *k, size_t n)
{
    if (!t->b)
        return NULL;
    uint64_t h = hash_bytes(k, n);
    for (kent *e = t->b[h & (t->nb - 1)]; e; e = e->hnext)
        if (e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0)
            return e;
    return NULL;
}

/* Find or add (evicting the LRU entry when full); moves to the LRU front.
 * NULL on ENOMEM. *created tells a new entry (v zeroed). */
static kent *kt_get(ktab *t, const char *k, size_t n, bool *created)
{
    *created = false;
    if (!t->b)
        return NULL;
    kent *e = kt_find(t, k, n);
    if (e) {
        kt_unlink_lru(t, e);
        kt_front(t, e);
        return e;
    }
    if (t->n >= t->cap && t->tail) {
        kt_del(t, t->tail);
        t->evicted++;
    }
    e = calloc(1, sizeof *e + n + 1);
    if (!e)
        return NULL;
    e->hash = hash_bytes(k, n);
    e->klen = n;
    memcpy(e->key, k, n);
    size_t bi = e->hash & (t->nb - 1);
    e->hnext = t->b[bi];
    t->b[bi] = e;
    kt_front(t, e);
    t->n++;
    *created = true;
    return e;
}

/* ---- JSON helpers -------------------------------------------------------------- */

static json_t *hex_key(const char *k, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hx[(unsigned char)k[i] >> 4];
        s[2 * i + 1] = hx[(unsigned char)k[i] & 15];
    }
    s[2 * n] = '\0';
    json_t *j = json_stringn(s, 2 * n);
    free(s);
    return j;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode a hex key into a malloc'd buffer; NULL when malformed. */
static char *unhex(const json_t *j, size_t *n)
{
    if (!json_is_string(j))
        return NULL;
    size_t l = json_string_length(j);
    const char *s = json_string_value(j);
    if (l % 2 || l > 2 * 65536)
        return NULL;
    char *o = malloc(l / 2 + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < l / 2; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0) {
            free(o);
            return NULL;
        }
        o[i] = (char)(a << 4 | b);
    }
    *n = l / 2;
    return o;
}

static bool jint(const json_t *o, const char *k, int64_t *v)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j))
        return false;
    *v = json_integer_value(j);
    return true;
}

static vg_err check_version(const json_t *st, const char *kind, vg_errbuf *eb)
{
    int64_t ver;
    json_t *k = json_object_get(st, "kind");
    if (!json_is_object(st) || !jint(st, "version", &ver) || !json_is_string(k) ||
        strcmp(json_string_value(k), kind) != 0)
        return vg_errf(eb, VG_EPARSE, "%s state: not a versioned %s object", kind, kind);
    if (ver != VG_BASELINE_STATE_VERSION)
        return vg_errf(eb, VG_EVERSION, "%s state: version %lld unknown", kind, (long long)ver);
    return VG_OK;
}

static json_t *new_state(const char *kind)
{
    json_t *o = json_object();
    if (o && (json_object_set_new(o, "version", json_integer(VG_BASELINE_STATE_VERSION)) ||
              json_object_set_new(o, "kind", json_string(kind)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- rate -------------------------------------------------------------------- */

#define WEEK_SLOTS 168
#define MAX_REPLAY 10080 /* empty buckets closed at most per advance (a week of minutes) */

typedef struct slot {
    double mean, var;
    uint32_t n;
} slot;

typedef struct group {
    int64_t bucket; /* index of the open bucket */
    uint64_t count;
    bool quiet; /* a silence alert is out; cleared by a normal bucket */
    slot s[];
} group;

struct vg_rate {
    vg_rate_opts o;
    unsigned nslots;
    uint32_t warm_n;
    ktab t;
    vg_rate_stats st;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

vg_rate *vg_rate_create(const vg_rate_opts *opts)
{
    vg_rate_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.bucket_ns)
        o.bucket_ns = 60 * VG_NS_PER_SEC;
    if (o.k == 0)
        o.k = 4;
    if (!o.warmup_ns)
        o.warmup_ns = 3600 * VG_NS_PER_SEC;
    if (o.alpha == 0)
        o.alpha = 0.05;
    if (o.min_expected == 0)
        o.min_expected = 10;
    if (!o.max_groups)
        o.max_groups = o.seasonal ? 1000 : 10000;
    if (o.bucket_ns < VG_NS_PER_SEC || o.k <= 0 || o.alpha <= 0 || o.alpha > 1 || o.warmup_ns < 0 ||
        o.min_expected < 0)
        return NULL;
    vg_rate *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->o = o;
    r->nslots = o.seasonal ? WEEK_SLOTS : 1;
    int64_t w = o.warmup_ns / o.bucket_ns;
    r->warm_n = w < 1 ? 1 : w > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)w;
    if (!kt_init(&r->t, o.max_groups, free)) {
        free(r);
        return NULL;
    }
    return r;
}

void vg_rate_destroy(vg_rate *r)
{
    if (!r)
        return;
    kt_clear(&r->t);
    free(r);
}

/* Hour of the week (Monday 00:00 UTC = 0) of bucket idx's start. */
static unsigned slot_of(const vg_rate *r, int64_t idx)
{
    if (r->nslots == 1)
        return 0;
    /* idx * bucket may overflow for absurd times: clamp in double */
    double secs = (double)idx * (double)r->o.bucket_ns / 1e9;
    int64_t hours = (int64_t)floor(secs / 3600.0);
    int64_t h = (hours + 72) % WEEK_SLOTS; /* 1970-01-01 was a Thursday */
    return (unsigned)(h < 0 ? h + WEEK_SLOTS : h);
}

static void close_bucket(vg_rate *r, group *g, const kent *e, int64_t idx, double x, vg_rate_cb cb,
                         void *ud)
{
    slot *s = &g->s[slot_of(r, idx)];
    bool silent = false;
    if (s->n >= r->warm_n) {
        double sd = sqrt(s->var), floor_sd = sqrt(s->mean > 1 ? s->mean : 1);
        if (sd < floor_sd)
            sd = floor_sd;
        vg_rate_alert a = {.key = e->key,
                           .keylen = e->klen,
                           .start = idx * r->o.bucket_ns,
                           .observed = x,
                           .expected = s->mean,
                           .stddev = sd};
        if (x > s->mean + r->o.k * sd) {
            a.kind = VG_RATE_SPIKE;
        } else if (s->mean >= r->o.min_expected && x < s->mean - r->o.k * sd) {
            silent = true;
            if (!g->quiet)
                a.kind = VG_RATE_SILENCE;
        }
        if (a.kind) {
            r->st.alerts++;
            if (cb)
                cb(ud, &a);
        }
    }
    g->quiet = silent;
    double a = 1.0 / (s->n + 1.0);
    if (a < r->o.alpha)
        a = r->o.alpha;
    if (s->n >= r->warm_n) {
        /* an anomalous bucket moves the mean only as far as a k-sigma one
         * would, and leaves the variance alone: a spell of silence or a flood
         * does not widen the band and hide the next one, while a lasting
         * change of level is still learned, step by step */
        double sd = sqrt(s->var), floor_sd = sqrt(s->mean > 1 ? s->mean : 1);
        if (sd < floor_sd)
            sd = floor_sd;
        double lim = r->o.k * sd;
        if (x > s->mean + lim || x < s->mean - lim) {
            s->mean += a * (x > s->mean ? lim : -lim);
            if (s->mean < 0)
                s->mean = 0;
            return;
        }
    }
    double d = x - s->mean;
    s->mean += a * d;
    s->var = (1 - a) * (s->var + a * d * d);
    if (s->n < UINT32_MAX)
        s->n++;
}

/* Close the open bucket and the empty ones up to (not including) idx. */
static void advance(vg_rate *r, kent *e, int64_t idx, vg_rate_cb cb, void *ud)
{
    group *g = e->v.p;
    if (idx <= g->bucket)
        return;
    close_bucket(r, g, e, g->bucket, (double)g->count, cb, ud);
    int64_t from = g->bucket + 1;
    if (idx - from > MAX_REPLAY) {
        r->st.skipped += (uint64_t)(idx - from - MAX_REPLAY);
        from = idx - MAX_REPLAY;
    }
    for (int64_t b = from; b < idx; b++)
        close_bucket(r, g, e, b, 0, cb, ud);
    g->bucket = idx;
    g->count = 0;
}

vg_err vg_rate_add(vg_rate *r, const char *key, size_t keylen, int64_t ts, vg_rate_cb cb, void *ud)
{
    bool created;
    kent *e = kt_get(&r->t, key, keylen, &created);
    if (!e)
        return VG_ENOMEM;
    int64_t idx = floor_div(ts, r->o.bucket_ns);
    if (created) {
        group *g = calloc(1, sizeof *g + r->nslots * sizeof(slot));
        if (!g) {
            kt_del(&r->t, e);
            return VG_ENOMEM;
        }
        g->bucket = idx;
        e->v.p = g;
    }
    group *g = e->v.p;
    if (idx > g->bucket)
        advance(r, e, idx, cb, ud);
    else if (idx < g->bucket)
        r->st.late++;
    g->count++;
    r->st.events++;
    return VG_OK;
}

void vg_rate_tick(vg_rate *r, int64_t now, vg_rate_cb cb, void *ud)
{
    int64_t idx = floor_div(now, r->o.bucket_ns);
    for (kent *e = r->t.head; e; e = e->next)
        advance(r, e, idx, cb, ud);
}

void vg_rate_get_stats(const vg_rate *r, vg_rate_stats *st)
{
    *st = r->st;
    st->groups = r->t.n;
    st->evicted = r->t.evicted;
}

json_t *vg_rate_save(const vg_rate *r)
{
    json_t *o = new_state("rate"), *arr = json_array();
    if (!o || !arr)
        goto fail;
    json_object_set_new(o, "bucket_ns", json_integer(r->o.bucket_ns));
    json_object_set_new(o, "slots", json_integer(r->nslots));
    json_object_set_new(o, "evicted", json_integer((json_int_t)r->t.evicted));
    for (const kent *e = r->t.tail; e; e = e->prev) {
        const group *g = e->v.p;
        json_t *sl = json_array();
        json_t *j =
            json_pack("{s:o, s:I, s:I, s:b, s:o}", "k", hex_key(e->key, e->klen), "b",
                      (json_int_t)g->bucket, "c", (json_int_t)g->count, "q", g->quiet, "s", sl);
        if (!j || !sl)
            goto fail;
        for (unsigned i = 0; i < r->nslots; i++)
            json_array_append_new(
                sl, json_pack("[f,f,I]", g->s[i].mean, g->s[i].var, (json_int_t)g->s[i].n));
        if (json_array_append_new(arr, j))
            goto fail;
    }
    if (json_object_set_new(o, "groups", arr))
        goto fail_o;
    return o;
fail:
    json_decref(arr);
fail_o:
    json_decref(o);
    return NULL;
}

static void rate_reset(vg_rate *r)
{
    kt_clear(&r->t);
    kt_init(&r->t, r->o.max_groups, free);
    memset(&r->st, 0, sizeof r->st);
}

vg_err vg_rate_load(vg_rate *r, const json_t *state, vg_errbuf *eb)
{
    rate_reset(r);
    vg_err rc = check_version(state, "rate", eb);
    if (rc)
        return rc;
    if (!r->t.b)
        return vg_errf(eb, VG_ENOMEM, "rate state: out of memory");
    int64_t bns, nsl, ev = 0;
    json_t *arr = json_object_get(state, "groups");
    if (!jint(state, "bucket_ns", &bns) || !jint(state, "slots", &nsl) || !json_is_array(arr))
        return vg_errf(eb, VG_EPARSE, "rate state: missing bucket_ns, slots or groups");
    if (bns != r->o.bucket_ns || nsl != (int64_t)r->nslots)
        return vg_errf(eb, VG_EPARSE, "rate state: saved with another bucket or seasonality");
    jint(state, "evicted", &ev);
    size_t i;
    json_t *j;
    rc = VG_EPARSE;
    json_array_foreach(arr, i, j)
    {
        size_t kl;
        char *k = unhex(json_object_get(j, "k"), &kl);
        int64_t b, c;
        json_t *q = json_object_get(j, "q"), *sl = json_object_get(j, "s");
        if (!k || !jint(j, "b", &b) || !jint(j, "c", &c) || c < 0 || !json_is_boolean(q) ||
            !json_is_array(sl) || json_array_size(sl) != r->nslots) {
            free(k);
            vg_errf(eb, rc, "rate state: group %zu malformed", i);
            goto out;
        }
        bool created;
        kent *e = kt_get(&r->t, k, kl, &created);
        free(k);
        group *g = e && created ? calloc(1, sizeof *g + r->nslots * sizeof(slot)) : NULL;
        if (!g) {
            rc = e && !created ? VG_EPARSE : VG_ENOMEM;
            vg_errf(eb, rc, "rate state: group %zu %s", i,
                    rc == VG_EPARSE ? "repeated" : "out of memory");
            goto out;
        }
        e->v.p = g;
        g->bucket = b;
        g->count = (uint64_t)c;
        g->quiet = json_is_true(q);
        for (unsigned s = 0; s < r->nslots; s++) {
            json_t *t = json_array_get(sl, s);
            double m, v;
            json_int_t n;
            if (json_unpack(t, "[F,F,I]", &m, &v, &n) || !isfinite(m) || !isfinite(v) || v < 0 ||
                m < 0 || n < 0 || n > UINT32_MAX) {
                vg_errf(eb, rc, "rate state: group %zu slot %u malformed", i, s);
                goto out;
            }
            g->s[s] = (slot){m, v, (uint32_t)n};
        }
    }
    r->t.evicted = ev > 0 ? (uint64_t)ev : 0;
    return VG_OK;
out:
    rate_reset(r);
    return rc;
}

/* ---- first seen ---------------------------------------------------------------- */

struct vg_seen {
    vg_seen_opts o;
    bool started;
    int64_t first; /* time of the first event: the learning period starts there */
    ktab t;
    vg_seen_stats st;
};

vg_seen *vg_seen_create(const vg_seen_opts *opts)
{
    vg_seen_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.learn_ns)
        o.learn_ns = 24 * 3600 * VG_NS_PER_SEC;
    if (!o.history_ns)
        o.history_ns = 30 * 24 * 3600 * VG_NS_PER_SEC;
    if (!o.max_values)
        o.max_values = 100000;
    if (o.learn_ns < 0 || o.history_ns <= 0)
        return NULL;
    vg_seen *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = o;
    if (!kt_init(&s->t, o.max_values, NULL)) {
        free(s);
        return NULL;
    }
    return s;
}

void vg_seen_destroy(vg_seen *s)
{
    if (!s)
        return;
    kt_clear(&s->t);
    free(s);
}

bool vg_seen_learned(const vg_seen *s, int64_t now)
{
    return s->started && now - s->first >= s->o.learn_ns;
}

vg_err vg_seen_observe(vg_seen *s, const char *key, size_t keylen, int64_t ts, bool *is_new)
{
    *is_new = false;
    if (!s->started) {
        s->started = true;
        s->first = ts;
    }
    bool created;
    kent *e = kt_get(&s->t, key, keylen, &created);
    if (!e)
        return VG_ENOMEM;
    s->st.checks++;
    bool fresh = created;
    if (!created && ts - e->v.last > s->o.history_ns) {
        fresh = true;
        s->st.expired++;
    }
    if (fresh && vg_seen_learned(s, ts)) {
        *is_new = true;
        s->st.fresh++;
    }
    if (created || ts > e->v.last)
        e->v.last = ts;
    return VG_OK;
}

void vg_seen_tick(vg_seen *s, int64_t now)
{
    /* the LRU tail is the least recently updated, nearly always the oldest */
    while (s->t.tail && now - s->t.tail->v.last > s->o.history_ns) {
        kt_del(&s->t, s->t.tail);
        s->st.expired++;
    }
}

void vg_seen_get_stats(const vg_seen *s, vg_seen_stats *st)
{
    *st = s->st;
    st->values = s->t.n;
    st->evicted = s->t.evicted;
}

json_t *vg_seen_save(const vg_seen *s)
{
    json_t *o = new_state("seen"), *arr = json_array();
    if (!o || !arr)
        goto fail;
    json_object_set_new(o, "started", json_boolean(s->started));
    json_object_set_new(o, "first", json_integer(s->first));
    json_object_set_new(o, "evicted", json_integer((json_int_t)s->t.evicted));
    for (const kent *e = s->t.tail; e; e = e->prev)
        if (json_array_append_new(
                arr, json_pack("[o,I]", hex_key(e->key, e->klen), (json_int_t)e->v.last)))
            goto fail;
    if (json_object_set_new(o, "values", arr))
        goto fail_o;
    return o;
fail:
    json_decref(arr);
fail_o:
    json_decref(o);
    return NULL;
}

static void seen_reset(vg_seen *s)
{
    kt_clear(&s->t);
    kt_init(&s->t, s->o.max_values, NULL);
    memset(&s->st, 0, sizeof s->st);
    s->started = false;
    s->first = 0;
}

vg_err vg_seen_load(vg_seen *s, const json_t *state, vg_errbuf *eb)
{
    seen_reset(s);
    vg_err rc = check_version(state, "seen", eb);
    if (rc)
        return rc;
    if (!s->t.b)
        return vg_errf(eb, VG_ENOMEM, "seen state: out of memory");
    json_t *st = json_object_get(state, "started"), *arr = json_object_get(state, "values");
    int64_t first, ev = 0;
    if (!json_is_boolean(st) || !jint(state, "first", &first) || !json_is_array(arr))
        return vg_errf(eb, VG_EPARSE, "seen state: missing started, first or values");
    jint(state, "evicted", &ev);
    size_t i;
    json_t *j;
    json_array_foreach(arr, i, j)
    {
        size_t kl;
        char *k =
            json_is_array(j) && json_array_size(j) == 2 ? unhex(json_array_get(j, 0), &kl) : NULL;
        json_t *t = json_array_get(j, 1);
        bool created = false;
        kent *e = k && json_is_integer(t) ? kt_get(&s->t, k, kl, &created) : NULL;
        free(k);
        if (!e || !created) {
            seen_reset(s);
            return vg_errf(eb, VG_EPARSE, "seen state: value %zu malformed or repeated", i);
        }
        e->v.last = json_integer_value(t);
    }
    s->started = json_is_true(st);
    s->first = first;
    s->t.evicted = ev > 0 ? (uint64_t)ev : 0;
    return VG_OK;
}

/* ---- rare sequences ---------------------------------------------------------------- */

#define SEQ_START UINT32_MAX
#define SEQ_END (UINT32_MAX - 1)
#define SEQ_MAXN 8

struct vg_seqdet {
    vg_seqdet_opts o;
    ktab t;
};

vg_seqdet *vg_seqdet_create(const vg_seqdet_opts *opts)
{
    vg_seqdet_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.n)
        o.n = 3;
    if (!o.min_count)
        o.min_count = 2;
    if (!o.max_grams)
        o.max_grams = 200000;
    if (o.n > SEQ_MAXN)
        return NULL;
    vg_seqdet *sd = calloc(1, sizeof *sd);
    if (!sd)
        return NULL;
    sd->o = o;
    if (!kt_init(&sd->t, o.max_grams, NULL)) {
        free(sd);
        return NULL;
    }
    return sd;
}

void vg_seqdet_destroy(vg_seqdet *sd)
{
    if (!sd)
        return;
    kt_clear(&sd->t);
    free(sd);
}

/* The framed event at position i of [START, ev..., END]. */
static uint32_t framed(const uint32_t *ev, size_t n, size_t i)
{
    return i == 0 ? SEQ_START : i == n + 1 ? SEQ_END : ev[i - 1];
}

/* Encode the gram of length k at framed position i into buf; returns bytes. */
static size_t gram(const uint32_t *ev, size_t n, size_t i, unsigned k, char *buf)
{
    for (unsigned j = 0; j < k; j++) {
        uint32_t x = framed(ev, n, i + j);
        memcpy(buf + 4 * j, &x, 4);
    }
    return 4 * (size_t)k;
}

vg_err vg_seqdet_learn(vg_seqdet *sd, const uint32_t *ev, size_t n)
{
    char buf[4 * SEQ_MAXN];
    for (unsigned k = 1; k <= sd->o.n; k++)
        for (size_t i = 0; i + k <= n + 2; i++) {
            bool created;
            kent *e = kt_get(&sd->t, buf, gram(ev, n, i, k, buf), &created);
            if (!e)
                return VG_ENOMEM;
            if (e->v.count < UINT64_MAX)
                e->v.count++;
        }
    return VG_OK;
}

size_t vg_seqdet_check(const vg_seqdet *sd, const uint32_t *ev, size_t n, size_t *first)
{
    char buf[4 * SEQ_MAXN];
    size_t rare = 0, where = SIZE_MAX;
    for (unsigned k = 1; k <= sd->o.n; k++)
        for (size_t i = 0; i + k <= n + 2; i++) {
            const kent *e = kt_find(&sd->t, buf, gram(ev, n, i, k, buf));
            if (!e || e->v.count < sd->o.min_count) {
                rare++;
                /* index in ev of the gram's last event: where the session turned unusual */
                size_t end = i + k - 1, at = end == 0 ? 0 : end - 1;
                if (n && at > n - 1)
                    at = n - 1;
                if (!n)
                    at = 0;
                if (at < where)
                    where = at;
            }
        }
    if (first)
        *first = rare ? where : 0;
    return rare;
}

size_t vg_seqdet_size(const vg_seqdet *sd, uint64_t *evicted)
{
    if (evicted)
        *evicted = sd->t.evicted;
    return sd->t.n;
}

json_t *vg_seqdet_save(const vg_seqdet *sd)
{
    json_t *o = new_state("seqdet"), *arr = json_array();
    if (!o || !arr)
        goto fail;
    json_object_set_new(o, "n", json_integer(sd->o.n));
    for (const kent *e = sd->t.tail; e; e = e->prev)
        if (json_array_append_new(
                arr, json_pack("[o,I]", hex_key(e->key, e->klen), (json_int_t)e->v.count)))
            goto fail;
    if (json_object_set_new(o, "grams", arr))
        goto fail_o;
    return o;
fail:
    json_decref(arr);
fail_o:
    json_decref(o);
    return NULL;
}

vg_err vg_seqdet_load(vg_seqdet *sd, const json_t *state, vg_errbuf *eb)
{
    kt_clear(&sd->t);
    kt_init(&sd->t, sd->o.max_grams, NULL);
    vg_err rc = check_version(state, "seqdet", eb);
    if (rc)
        return rc;
    if (!sd->t.b)
        return vg_errf(eb, VG_ENOMEM, "seqdet state: out of memory");
    json_t *arr = json_object_get(state, "grams");
    if (!json_is_array(arr))
        return vg_errf(eb, VG_EPARSE, "seqdet state: no grams");
    size_t i;
    json_t *j;
    json_array_foreach(arr, i, j)
    {
        size_t kl = 0;
        char *k = json_is_array(j) ? unhex(json_array_get(j, 0), &kl) : NULL;
        json_t *c = json_array_get(j, 1);
        bool created = false;
        kent *e = k && kl && kl % 4 == 0 && kl <= 4 * SEQ_MAXN && json_is_integer(c) &&
                          json_integer_value(c) >= 0
                      ? kt_get(&sd->t, k, kl, &created)
                      : NULL;
        free(k);
        if (!e || !created) {
            kt_clear(&sd->t);
            kt_init(&sd->t, sd->o.max_grams, NULL);
            return vg_errf(eb, VG_EPARSE, "seqdet state: gram %zu malformed or repeated", i);
        }
        e->v.count = (uint64_t)json_integer_value(c);
    }
    return VG_OK;
}

/* ---- sessions ------------------------------------------------------------------------ */

typedef struct sess {
    uint32_t *ev;
    size_t n, cap;
    uint64_t dropped;
    int64_t first, last;
} sess;

struct vg_sessions {
    vg_sessions_opts o;
    ktab t;
    uint64_t forced;
};

static void sess_free(void *p)
{
    sess *s = p;
    if (s)
        free(s->ev);
    free(s);
}

vg_sessions *vg_sessions_create(const vg_sessions_opts *opts)
{
    vg_sessions_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.gap_ns)
        o.gap_ns = 300 * VG_NS_PER_SEC;
    if (!o.max_sessions)
        o.max_sessions = 10000;
    if (!o.max_events)
        o.max_events = 1024;
    if (o.gap_ns < 0)
        return NULL;
    vg_sessions *ss = calloc(1, sizeof *ss);
    if (!ss)
        return NULL;
    ss->o = o;
    if (!kt_init(&ss->t, o.max_sessions, sess_free)) {
        free(ss);
        return NULL;
    }
    return ss;
}

void vg_sessions_destroy(vg_sessions *ss)
{
    if (!ss)
        return;
    kt_clear(&ss->t);
    free(ss);
}

/* Report e through cb and delete it. */
static void sess_close(vg_sessions *ss, kent *e, vg_session_cb cb, void *ud)
{
    const sess *s = e->v.p;
    if (cb && s)
        cb(ud, &(vg_session){e->key, e->klen, s->ev, s->n, s->dropped, s->first, s->last});
    kt_del(&ss->t, e);
}

vg_err vg_sessions_add(vg_sessions *ss, const char *key, size_t keylen, int64_t ts, uint32_t ev,
                       vg_session_cb cb, void *ud)
{
    if (ss->t.n >= ss->t.cap && ss->t.tail && !kt_find(&ss->t, key, keylen)) {
        sess_close(ss, ss->t.tail, cb, ud);
        ss->forced++;
    }
    bool created;
    kent *e = kt_get(&ss->t, key, keylen, &created);
    if (!e)
        return VG_ENOMEM;
    if (created && !(e->v.p = calloc(1, sizeof(sess)))) {
        kt_del(&ss->t, e);
        return VG_ENOMEM;
    }
    sess *s = e->v.p;
    if (created)
        s->first = ts;
    if (ts > s->last || created)
        s->last = ts;
    if (s->n == s->cap && s->cap < ss->o.max_events) {
        size_t nc = s->cap ? 2 * s->cap : 16;
        if (nc > ss->o.max_events)
            nc = ss->o.max_events;
        uint32_t *ne = realloc(s->ev, nc * sizeof *ne);
        if (!ne)
            return VG_ENOMEM;
        s->ev = ne;
        s->cap = nc;
    }
    if (s->n < s->cap)
        s->ev[s->n++] = ev;
    else
        s->dropped++;
    return VG_OK;
}

void vg_sessions_tick(vg_sessions *ss, int64_t now, vg_session_cb cb, void *ud)
{
    /* the LRU tail is the least recently updated session */
    while (ss->t.tail && now - ((sess *)ss->t.tail->v.p)->last >= ss->o.gap_ns)
        sess_close(ss, ss->t.tail, cb, ud);
}

void vg_sessions_close_all(vg_sessions *ss, vg_session_cb cb, void *ud)
{
    while (ss->t.tail)
        sess_close(ss, ss->t.tail, cb, ud);
}

size_t vg_sessions_open(const vg_sessions *ss, uint64_t *forced)
{
    if (forced)
        *forced = ss->forced;
    return ss->t.n;
}

json_t *vg_sessions_save(const vg_sessions *ss)
{
    json_t *o = new_state("sessions"), *arr = json_array();
    if (!o || !arr)
        goto fail;
    json_object_set_new(o, "forced", json_integer((json_int_t)ss->forced));
    for (const kent *e = ss->t.tail; e; e = e->prev) {
        const sess *s = e->v.p;
        json_t *ev = json_array();
        json_t *j = json_pack("{s:o,s:I,s:I,s:I,s:o}", "k", hex_key(e->key, e->klen), "first",
                              (json_int_t)s->first, "last", (json_int_t)s->last, "dropped",
                              (json_int_t)s->dropped, "ev", ev);
        if (!j)
            goto fail;
        for (size_t i = 0; i < s->n; i++)
            json_array_append_new(ev, json_integer(s->ev[i]));
        if (json_array_append_new(arr, j))
            goto fail;
    }
    if (json_object_set_new(o, "sessions", arr))
        goto fail_o;
    return o;
fail:
    json_decref(arr);
fail_o:
    json_decref(o);
    return NULL;
}

vg_err vg_sessions_load(vg_sessions *ss, const json_t *state, vg_errbuf *eb)
{
    kt_clear(&ss->t);
    kt_init(&ss->t, ss->o.max_sessions, sess_free);
    ss->forced = 0;
    vg_err rc = check_version(state, "sessions", eb);
    if (rc)
        return rc;
    json_t *arr = json_object_get(state, "sessions");
    if (!ss->t.b || !json_is_array(arr))
        return vg_errf(eb, ss->t.b ? VG_EPARSE : VG_ENOMEM, "sessions state: no sessions");
    size_t i;
    json_t *j;
    json_array_foreach(arr, i, j) {
        size_t kl;
        char *k = unhex(json_object_get(j, "k"), &kl);
        int64_t first, last, dropped;
        json_t *ev = json_object_get(j, "ev");
        bool created = false;
        kent *e = k && jint(j, "first", &first) && jint(j, "last", &last) &&
                          jint(j, "dropped", &dropped) && dropped >= 0 && json_is_array(ev) &&
                          json_array_size(ev) <= ss->o.max_events
                      ? kt_get(&ss->t, k, kl, &created)
                      : NULL;
        free(k);
        sess *s = e && created ? calloc(1, sizeof *s) : NULL;
        if (s) {
            e->v.p = s;
            s->cap = json_array_size(ev);
            s->ev = s->cap ? malloc(s->cap * sizeof *s->ev) : NULL;
        }
        bool ok = s && (!s->cap || s->ev);
        for (size_t q = 0; ok && q < s->cap; q++) {
            json_t *x = json_array_get(ev, q);
            ok = json_is_integer(x) && json_integer_value(x) >= 0 &&
                 json_integer_value(x) <= UINT32_MAX;
            if (ok)
                s->ev[s->n++] = (uint32_t)json_integer_value(x);
        }
        if (!ok) {
            kt_clear(&ss->t);
            kt_init(&ss->t, ss->o.max_sessions, sess_free);
            return vg_errf(eb, VG_EPARSE, "sessions state: session %zu malformed or repeated", i);
        }
        s->first = first;
        s->last = last;
        s->dropped = (uint64_t)dropped;
    }
    int64_t forced = 0;
    jint(state, "forced", &forced);
    ss->forced = forced > 0 ? (uint64_t)forced : 0;
    return VG_OK;
}

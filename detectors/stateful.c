/*
 * stateful.c - correlation windows, suppression, bounded tables and
 * checkpoints; see stateful.h.
 *
 * One table per stateful rule (a correlation, or a single-event rule with
 * x_vigie.suppress), keyed by the group-by values joined with 0x1f. A table
 * is a chained hash plus an LRU list (most recently updated first); past
 * max_groups the tail is evicted and counted. A group holds one window:
 * start (anchor), first/last event time, the event count, the measure the
 * condition reads (events, distinct values, rules seen), what was already
 * alerted, and the first samples.
 *
 * Routing: bind() sorts, by rule meta pointer, what each matching rule
 * feeds: the correlations naming it (with the index of the name, which
 * selects its group-by fields through the aliases), its own suppression
 * table, and whether it alerts on its own.
 */
#include "stateful.h"
#include "../agent/hash.h"
#include "lru.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent/config.h"
#include "../agent/json.h"
#include "../agent/state.h"
#include "baseline_rules.h"
#include "correlation.h"
#include "ruleset.h"
#include "sigma.h"

#define ST_VERSION 1
#define ST_SEP '\x1f'
#define ST_MAX_KEY 1024 /* bytes of a group key (values cut beyond) */
#define ST_NONE INT64_MIN
#define ST_LIVE_NS (86400LL * 1000000000LL) /* a wall-clock tick counts if this close */
#define ST_SEC 1000000000LL
#define ST_MAX_EXACT 4096 /* distinct values counted exactly at most */

/* Other stateful engines (baselines, first-seen, templates): one line each.
   (baseline: a test compiling this file also needs ../detectors/baseline_rules.c,
   baseline.c and drain.c.) */
#ifdef VG_STATEFUL_NO_HOOKS /* tests/unit/test_stateful.c: the correlation engine alone */
static const vg_stateful_hook *const hooks[] = {NULL};
#else
static const vg_stateful_hook *const hooks[] = {&vg_baseline_hook, NULL};
#endif
#define ST_MAX_HOOKS 8

typedef struct grp grp;
struct grp {
    grp *hnext, *lprev, *lnext;
    uint64_t hash;
    char *key;
    size_t keyn;
    int64_t start, first, last;
    uint64_t events;  /* events in the window */
    uint64_t alerted; /* vigie.count of the last alert in this window, 0 = none */
    uint64_t next_up; /* next update threshold */
    bool fired;       /* the condition held in this window */
    uint64_t *vals;   /* value_count: exact 64-bit hashes... */
    uint32_t nvals, capvals;
    uint8_t *hll;  /* ...or HyperLogLog registers */
    int64_t *seen; /* temporal: per referenced rule */
    char **samples;
    uint32_t nsamples;
    size_t bytes; /* memory accounted for this group */
};

typedef struct table {
    struct vg_stateful *s;
    size_t bytes; /* memory of its groups */
    const vg_rule_meta *meta;
    const vg_corr_rule *corr; /* NULL: suppression of a single-event rule */
    vg_suppress sup;
    uint64_t sig;         /* definition hash: state kept across reloads if equal */
    uint32_t exact_limit; /* value_count: exact distinct values kept before HyperLogLog */
    grp **buckets;
    size_t nbuckets, n;
    grp *head, *tail;
    vg_counter *c_evict, *c_suppressed;
} table;

typedef struct feedref {
    table *t;
    uint32_t ref;
} feedref;

typedef struct route {
    const vg_rule_meta *m;
    bool standalone;
    table *sup;    /* own table: a correlation's windows, or suppression */
    feedref *outs; /* correlations fed by this rule's matches */
    size_t nouts;
} route;

struct vg_stateful {
    vg_stateful_opts o;
    vg_stats *st;
    table **tables;
    size_t ntables;
    route *routes; /* sorted by m */
    size_t nroutes;
    int64_t now, watermark, next_sweep, sweep_every;
    int64_t jump; /* an unconfirmed forward jump of the event time, or ST_NONE */
    bool dirty;
    size_t bytes; /* memory of every table's groups (state.max_memory) */
    vg_counter *c_mem_evict;
    vg_counter *c_late, *c_nogroup, *c_alerts;
    void *hook[ST_MAX_HOOKS];
    vg_buf js; /* alert JSON fragment */
    char idkey[ST_MAX_KEY + 96];
    char summary[256];
    vg_event synth; /* event of a window closed on a tick */
    vg_stream synth_stream;
    char synth_buf[ST_MAX_KEY + 1];
    int depth; /* chain recursion guard */
};

/* ---- options ---- */

void vg_stateful_opts_default(vg_stateful_opts *o)
{
    o->max_groups = 10000;
    o->max_bytes = 32u << 20;
    o->out_of_order_ns = 60 * ST_SEC;
    o->samples = 5;
    o->sample_bytes = 512;
    o->update_base = 10;
    o->final_alert = true;
    o->exact_distinct = 64;
    o->hll_bits = 10;
}

void vg_stateful_opts_from_config(vg_stateful_opts *o, const vg_config *cfg)
{
    vg_stateful_opts_default(o);
    if (!cfg)
        return;
    o->max_groups = (size_t)cfg->state_max_groups;
    o->max_bytes = (size_t)cfg->state_max_memory;
    o->out_of_order_ns = cfg->state_out_of_order_ms * 1000000;
    o->samples = (unsigned)cfg->state_samples;
    o->sample_bytes = (size_t)cfg->state_sample_bytes;
    o->update_base = (unsigned)cfg->state_update_base;
    o->final_alert = cfg->state_final_alert;
    o->exact_distinct = (unsigned)cfg->state_exact_distinct;
    o->hll_bits = (unsigned)cfg->state_hll_bits;
}

/* ---- hashing, HyperLogLog ---- */

static uint64_t hash_bytes(const void *p, size_t n)
{
    return vg_mix64(vg_fnv1a(VG_FNV_BASIS, p, n) ^ n);
}

static void hll_add(uint8_t *regs, unsigned bits, uint64_t h)
{
    uint64_t idx = h >> (64 - bits);
    uint64_t rest = (h << bits) | (1ULL << (bits - 1)); /* guard bit bounds the rank */
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > regs[idx])
        regs[idx] = rank;
}

static uint64_t hll_count(const uint8_t *regs, unsigned bits)
{
    size_t m = (size_t)1 << bits;
    double sum = 0, alpha = 0.7213 / (1.0 + 1.079 / (double)m);
    size_t zeros = 0;
    for (size_t i = 0; i < m; i++) {
        sum += 1.0 / (double)(1ULL << regs[i]);
        zeros += regs[i] == 0;
    }
    double e = alpha * (double)m * (double)m / sum;
    if (e <= 2.5 * (double)m && zeros) /* linear counting for small cardinalities */
        e = (double)m * log((double)m / (double)zeros);
    return (uint64_t)(e + 0.5);
}

/* ---- groups ---- */

static void grp_reset_window(grp *g)
{
    g->start = g->first = g->last = ST_NONE;
    g->events = g->alerted = g->next_up = 0;
    g->fired = false;
    g->nvals = 0;
    free(g->hll);
    g->hll = NULL;
    for (uint32_t i = 0; i < g->nsamples; i++)
        free(g->samples[i]);
    g->nsamples = 0;
}

static void grp_free(grp *g)
{
    if (!g)
        return;
    grp_reset_window(g);
    free(g->vals);
    free(g->seen);
    free(g->samples);
    free(g->key);
    free(g);
}

static size_t nrefs(const table *t)
{
    return t->corr ? t->corr->rules.n : 0;
}

static void lru_unlink(table *t, grp *g)
{
    VG_LRU_UNLINK(t, g, lprev, lnext);
}

static void lru_front(table *t, grp *g)
{
    VG_LRU_FRONT(t, g, lprev, lnext);
}

/* Recompute g's memory and carry the difference to its table and the engine. */
static void account(table *t, grp *g)
{
    size_t b = sizeof *g + g->keyn + 1 + (t->corr ? t->corr->rules.n * sizeof *g->seen : 0) +
               g->capvals * sizeof *g->vals + (g->hll ? (size_t)1 << t->s->o.hll_bits : 0) +
               (g->samples ? t->s->o.samples * sizeof *g->samples : 0);
    for (uint32_t i = 0; i < g->nsamples; i++)
        b += strlen(g->samples[i]) + 1;
    t->bytes = t->bytes - g->bytes + b;
    t->s->bytes = t->s->bytes - g->bytes + b;
    g->bytes = b;
}

static void tbl_remove(table *t, grp *g)
{
    t->bytes -= g->bytes;
    t->s->bytes -= g->bytes;
    grp **pp = &t->buckets[g->hash & (t->nbuckets - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = g->hnext;
    lru_unlink(t, g);
    t->n--;
    grp_free(g);
}

static bool tbl_grow(table *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
    grp **b = calloc(nb, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (grp *g = t->buckets[i], *next; g; g = next) {
            next = g->hnext;
            g->hnext = b[g->hash & (nb - 1)];
            b[g->hash & (nb - 1)] = g;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return true;
}

/* Find the group of key, or create it (evicting the least recently
   updated past the cap). NULL on ENOMEM. Moves it to the LRU front. */
static grp *tbl_get(vg_stateful *s, table *t, const char *key, size_t keyn)
{
    uint64_t h = hash_bytes(key, keyn);
    if (t->nbuckets) {
        for (grp *g = t->buckets[h & (t->nbuckets - 1)]; g; g = g->hnext)
            if (g->hash == h && g->keyn == keyn && !memcmp(g->key, key, keyn)) {
                lru_unlink(t, g);
                lru_front(t, g);
                return g;
            }
    }
    while (t->n >= s->o.max_groups && t->tail) {
        tbl_remove(t, t->tail);
        vg_counter_add(t->c_evict, 1);
    }
    if ((t->n + 1 > t->nbuckets) && !tbl_grow(t) && !t->nbuckets)
        return NULL;
    grp *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->key = malloc(keyn + 1);
    size_t nr = nrefs(t);
    g->seen = nr ? malloc(nr * sizeof *g->seen) : NULL;
    if (!g->key || (nr && !g->seen)) {
        free(g->key);
        free(g->seen);
        free(g);
        return NULL;
    }
    memcpy(g->key, key, keyn);
    g->key[keyn] = '\0';
    g->keyn = keyn;
    g->hash = h;
    for (size_t i = 0; i < nr; i++)
        g->seen[i] = ST_NONE;
    grp_reset_window(g);
    account(t, g);
    g->hnext = t->buckets[h & (t->nbuckets - 1)];
    t->buckets[h & (t->nbuckets - 1)] = g;
    lru_front(t, g);
    t->n++;
    return g;
}

static void table_free(table *t)
{
    if (!t)
        return;
    while (t->head)
        tbl_remove(t, t->head);
    free(t->buckets);
    vg_suppress_free(&t->sup);
    free(t);
}

/* ---- life cycle ---- */

vg_err vg_stateful_create(const vg_stateful_opts *o, vg_stats *st, vg_stateful **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_stateful *s = calloc(1, sizeof *s);
    if (!s)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    if (o)
        s->o = *o;
    else
        vg_stateful_opts_default(&s->o);
    if (s->o.max_groups < 1)
        s->o.max_groups = 1;
    if (s->o.hll_bits < 4 || s->o.hll_bits > 16)
        s->o.hll_bits = 10;
    s->st = st;
    s->now = s->watermark = s->jump = ST_NONE;
    s->c_late = vg_stats_counter(st, "stateful.clock_jumps", NULL, NULL);
    s->c_nogroup = vg_stats_counter(st, "stateful.events_without_group_fields", NULL, NULL);
    s->c_alerts = vg_stats_counter(st, "stateful.alerts", NULL, NULL);
    s->c_mem_evict = vg_stats_counter(st, "stateful.evictions_memory", NULL, NULL);
    vg_buf_init(&s->js, 1 << 20);
    s->synth_stream.name = NULL;
    snprintf(s->synth_stream.id, sizeof s->synth_stream.id, "stateful");
    for (size_t i = 0; hooks[i]; i++)
        if (!(s->hook[i] = hooks[i]->create(&s->o, st))) {
            vg_stateful_destroy(s);
            return vg_errf(eb, VG_ENOMEM, "out of memory");
        }
    *out = s;
    return VG_OK;
}

static void unbind(vg_stateful *s, bool keep_tables)
{
    for (size_t i = 0; i < s->nroutes; i++)
        free(s->routes[i].outs);
    free(s->routes);
    s->routes = NULL;
    s->nroutes = 0;
    if (!keep_tables) {
        for (size_t i = 0; i < s->ntables; i++)
            table_free(s->tables[i]);
        free(s->tables);
        s->tables = NULL;
        s->ntables = 0;
    }
}

void vg_stateful_destroy(vg_stateful *s)
{
    if (!s)
        return;
    unbind(s, false);
    for (size_t i = 0; hooks[i]; i++)
        if (s->hook[i])
            hooks[i]->destroy(s->hook[i]);
    vg_buf_free(&s->js);
    free(s);
}

/* ---- bind ---- */

static uint64_t sig_str(uint64_t h, const char *x)
{
    return vg_mix64(h ^ hash_bytes(x ? x : "", x ? strlen(x) : 0));
}

static uint64_t corr_sig(const vg_corr_rule *c)
{
    uint64_t h = vg_mix64((uint64_t)c->type + 1);
    for (size_t i = 0; i < c->rules.n; i++)
        h = sig_str(h, c->rules.v[i]);
    for (size_t i = 0; i < c->group_by.n; i++)
        h = sig_str(h ^ 7, c->group_by.v[i]);
    h = vg_mix64(h ^ (uint64_t)c->timespan_ns);
    for (size_t i = 0; i < c->ncond; i++)
        h = vg_mix64(h ^ ((uint64_t)c->cond[i].op << 56) ^ (uint64_t)c->cond[i].value);
    for (size_t i = 0; i < c->fields.n; i++)
        h = sig_str(h ^ 11, c->fields.v[i]);
    return h;
}

static uint64_t sup_sig(const vg_suppress *p)
{
    uint64_t h = vg_mix64((uint64_t)p->window_ns ^ 0x5eed);
    for (size_t i = 0; i < p->by.n; i++)
        h = sig_str(h, p->by.v[i]);
    return h;
}

static int route_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const route *)a)->m, y = (uintptr_t)((const route *)b)->m;
    return x < y ? -1 : x > y;
}

static route *route_find(vg_stateful *s, const vg_rule_meta *m)
{
    size_t lo = 0, hi = s->nroutes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->routes[mid].m == m)
            return &s->routes[mid];
        if ((uintptr_t)s->routes[mid].m < (uintptr_t)m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The route of m during bind (linear: bind is rare). */
static route *route_add(vg_stateful *s, const vg_rule_meta *m, size_t cap)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (s->routes[i].m == m)
            return &s->routes[i];
    if (s->nroutes == cap)
        return NULL;
    route *r = &s->routes[s->nroutes++];
    memset(r, 0, sizeof *r);
    r->m = m;
    r->standalone = true;
    return r;
}

static table *table_new(vg_stateful *s, const vg_rule_meta *m, const vg_corr_rule *c,
                        const vg_suppress *sup)
{
    table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->s = s;
    t->meta = m;
    t->corr = c;
    if (sup)
        t->sup = *sup;
    t->sig = c ? corr_sig(c) : sup_sig(&t->sup);
    /* Exact at least until the condition's largest number is passed, so a
       threshold is never missed by an estimate (bounded: max_memory). */
    uint64_t lim = s->o.exact_distinct;
    for (size_t i = 0; c && i < c->ncond; i++)
        if ((uint64_t)c->cond[i].value + 1 > lim)
            lim = (uint64_t)c->cond[i].value + 1;
    t->exact_limit = (uint32_t)(lim < ST_MAX_EXACT ? lim : ST_MAX_EXACT);
    // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): m is &corrs[i]->meta of det_sigma's compacted (non-NULL) array, or a suppress rule's meta
    const char *id = m->id ? m->id : m->title;
    t->c_evict = vg_stats_counter(s->st, "stateful.evictions", "rule", id);
    t->c_suppressed = vg_stats_counter(s->st, "stateful.suppressed", "rule", id);
    return t;
}

void vg_stateful_bind(vg_stateful *s, const vg_ruleset *rs)
{
    table **old = s->tables;
    size_t nold = s->ntables;
    s->tables = NULL;
    s->ntables = 0;
    unbind(s, true);
    const void *det = rs ? vg_ruleset_detector(rs, &vg_detector_sigma) : NULL;
    size_t nrules = 0, ncorr = 0;
    vg_sigma_rule *const *rules = det ? vg_detector_sigma_rules(det, &nrules) : NULL;
    vg_corr_rule *const *corrs = det ? vg_detector_sigma_correlations(det, &ncorr) : NULL;
    size_t cap = nrules + ncorr;
    s->routes = calloc(cap ? cap : 1, sizeof *s->routes);
    s->tables = calloc(cap ? cap : 1, sizeof *s->tables);
    if (!s->routes || !s->tables)
        goto done; /* nothing stateful: every match alerts as is */
    /* Correlations: each its table; each referenced rule feeds it. */
    for (size_t i = 0; i < ncorr; i++) {
        const vg_corr_rule *c = corrs[i];
        table *t = table_new(s, &c->meta, c, NULL);
        route *cr = route_add(s, &c->meta, cap);
        if (!t || !cr) {
            table_free(t);
            continue;
        }
        s->tables[s->ntables++] = t;
        cr->sup = t;
        for (size_t k = 0; k < c->rules.n; k++) {
            route *r = route_add(s, c->refs[k], cap);
            if (!r)
                continue;
            feedref *no = realloc(r->outs, (r->nouts + 1) * sizeof *no);
            if (!no)
                continue;
            r->outs = no;
            r->outs[r->nouts++] = (feedref){t, (uint32_t)k};
        }
    }
    /* A referenced rule alerts on its own only if a correlation naming it
       says generate: true. */
    for (size_t i = 0; i < s->nroutes; i++) {
        route *r = &s->routes[i];
        if (!r->nouts)
            continue;
        r->standalone = false;
        for (size_t k = 0; k < r->nouts; k++)
            if (r->outs[k].t->corr->generate)
                r->standalone = true;
    }
    /* Suppression of single-event rules. */
    for (size_t i = 0; i < nrules; i++) {
        vg_rule_meta *m = vg_sigma_meta(rules[i]);
        vg_suppress sup;
        bool has = false;
        if (!m->x_vigie || vg_suppress_parse(m->x_vigie, &has, &sup, NULL) || !has)
            continue;
        table *t = table_new(s, m, NULL, &sup);
        route *r = t ? route_add(s, m, cap) : NULL;
        if (!r) {
            if (t)
                table_free(t);
            else
                vg_suppress_free(&sup);
            continue;
        }
        s->tables[s->ntables++] = t;
        r->sup = t;
    }
    qsort(s->routes, s->nroutes, sizeof *s->routes, route_cmp);
    /* Keep the state of unchanged rules. */
    for (size_t i = 0; i < s->ntables; i++) {
        table *t = s->tables[i];
        for (size_t j = 0; j < nold; j++) {
            table *o = old[j];
            if (!o || o->sig != t->sig || !o->meta->id || !t->meta->id ||
                strcmp(o->meta->id, t->meta->id))
                continue;
            t->buckets = o->buckets;
            t->nbuckets = o->nbuckets;
            t->n = o->n;
            t->head = o->head;
            t->tail = o->tail;
            t->bytes = o->bytes;
            o->bytes = 0;
            o->buckets = NULL;
            o->nbuckets = o->n = 0;
            o->head = o->tail = NULL;
            while (t->n > s->o.max_groups && t->tail) {
                tbl_remove(t, t->tail);
                vg_counter_add(t->c_evict, 1);
            }
            break;
        }
    }
    s->sweep_every = 0;
    for (size_t i = 0; i < s->ntables; i++) {
        int64_t w =
            s->tables[i]->corr ? s->tables[i]->corr->timespan_ns : s->tables[i]->sup.window_ns;
        if (!s->sweep_every || w / 8 < s->sweep_every)
            s->sweep_every = w / 8;
    }
    if (s->sweep_every < ST_SEC)
        s->sweep_every = ST_SEC;
done:
    for (size_t j = 0; j < nold; j++)
        table_free(old[j]);
    free(old);
    for (size_t i = 0; hooks[i]; i++)
        if (hooks[i]->bind)
            hooks[i]->bind(s->hook[i], rs);
}

/* ---- alerts ---- */

static int64_t window_of(const table *t)
{
    return t->corr ? t->corr->timespan_ns : t->sup.window_ns;
}

static void put_duration(vg_buf *b, int64_t ns)
{
    int64_t sec = ns / ST_SEC;
    if (sec % 86400 == 0)
        vg_buf_printf(b, "\"%lldd\"", (long long)(sec / 86400));
    else if (sec % 3600 == 0)
        vg_buf_printf(b, "\"%lldh\"", (long long)(sec / 3600));
    else if (sec % 60 == 0)
        vg_buf_printf(b, "\"%lldm\"", (long long)(sec / 60));
    else
        vg_buf_printf(b, "\"%llds\"", (long long)sec);
}

/* The group-by names of a table (alias names for correlations). */
static const vg_strlist *group_names(const table *t)
{
    return t->corr ? &t->corr->group_by : &t->sup.by;
}

static uint64_t measure(const vg_stateful *s, const table *t, const grp *g)
{
    if (!t->corr || t->corr->type == VG_CORR_EVENT_COUNT)
        return g->events;
    if (t->corr->type == VG_CORR_VALUE_COUNT)
        return g->hll ? hll_count(g->hll, s->o.hll_bits) : g->nvals;
    size_t n = 0;
    for (size_t i = 0; i < t->corr->rules.n; i++)
        n += g->seen[i] != ST_NONE;
    return n;
}

/* What vigie.count says: the measure for counts; events for temporal ones. */
static uint64_t shown_count(const vg_stateful *s, const table *t, const grp *g)
{
    if (t->corr && (t->corr->type == VG_CORR_TEMPORAL || t->corr->type == VG_CORR_TEMPORAL_ORDERED))
        return g->events;
    return measure(s, t, g);
}

/* The synthetic event of an alert without a triggering one: the group-by
   values as fields, the first sample as the line. */
static const vg_event *synth_event(vg_stateful *s, const table *t, const grp *g)
{
    vg_event *ev = &s->synth;
    vg_event_clear(ev);
    size_t n = g->keyn < ST_MAX_KEY ? g->keyn : ST_MAX_KEY;
    memcpy(s->synth_buf, g->key, n);
    s->synth_buf[n] = '\0';
    const vg_strlist *names = group_names(t);
    const char *p = s->synth_buf, *end = s->synth_buf + n;
    for (size_t i = 0; i < names->n && p <= end; i++) {
        const char *q = memchr(p, ST_SEP, (size_t)(end - p));
        if (!q)
            q = end;
        vg_event_set(ev, (vg_str){names->v[i], strlen(names->v[i])}, (vg_str){p, (size_t)(q - p)});
        p = q + 1;
    }
    ev->ts_ns = g->last != ST_NONE ? g->last : 0;
    ev->stream = &s->synth_stream;
    if (g->nsamples)
        ev->raw = (vg_str){g->samples[0], strlen(g->samples[0])};
    return ev;
}

static void feed_route(vg_stateful *s, route *rt, const vg_event *ev, int64_t t,
                       vg_stateful_emit_fn emit, void *ud);

/*
 * Raise an alert of table t for group g: kind "first" (the condition held,
 * or the first event of a suppression window), "update" or "final". A
 * correlation's first alert also feeds the correlations that name it.
 */
// NOLINTNEXTLINE(misc-no-recursion): a correlation chain feeds at most 16 levels (s->depth)
static void fire(vg_stateful *s, table *t, grp *g, const vg_event *ev, const char *kind,
                 vg_stateful_emit_fn emit, void *ud)
{
    uint64_t count = shown_count(s, t, g);
    g->alerted = count;
    if (s->o.update_base >= 2) {
        if (!g->next_up)
            g->next_up = s->o.update_base;
        while (g->next_up <= count && g->next_up < UINT64_MAX / s->o.update_base)
            g->next_up *= s->o.update_base;
    } else {
        g->next_up = UINT64_MAX;
    }
    s->dirty = true;
    route *rt = route_find(s, t->meta);
    if (!ev)
        ev = synth_event(s, t, g);
    if (t->corr && !strcmp(kind, "first") && rt && rt->nouts && s->depth < 16) {
        s->depth++;
        feed_route(s, rt, ev, g->last != ST_NONE ? g->last : s->now, emit, ud);
        s->depth--;
    }
    if (t->corr && rt && !rt->standalone)
        return;
    vg_buf *b = &s->js;
    vg_buf_reset(b);
    vg_buf_printf(b, "\"count\":%llu,\"alert\":\"%s\",\"events\":%llu,\"group\":{",
                  (unsigned long long)count, kind, (unsigned long long)g->events);
    const vg_strlist *names = group_names(t);
    const char *p = g->key, *end = g->key + g->keyn;
    for (size_t i = 0; i < names->n; i++) {
        const char *q = memchr(p, ST_SEP, (size_t)(end - p));
        if (!q)
            q = end;
        if (i)
            vg_buf_putc(b, ',');
        vg_json_cstr(b, names->v[i]);
        vg_buf_putc(b, ':');
        vg_json_str(b, p, (size_t)(q - p));
        p = q < end ? q + 1 : end;
    }
    vg_buf_puts(b, "},\"window\":{\"start\":");
    vg_json_time(b, g->first != ST_NONE ? g->first : g->start);
    vg_buf_puts(b, ",\"end\":");
    vg_json_time(b, g->last != ST_NONE ? g->last : g->start);
    vg_buf_puts(b, ",\"timespan\":");
    put_duration(b, window_of(t));
    vg_buf_puts(b, "},\"samples\":[");
    for (uint32_t i = 0; i < g->nsamples; i++) {
        if (i)
            vg_buf_putc(b, ',');
        vg_json_cstr(b, g->samples[i]);
    }
    vg_buf_putc(b, ']');
    if (t->corr) {
        vg_buf_puts(b, ",\"correlation\":{\"type\":");
        vg_json_cstr(b, vg_corr_type_name(t->corr->type));
        vg_buf_puts(b, ",\"rules\":[");
        for (size_t i = 0; i < t->corr->rules.n; i++) {
            if (i)
                vg_buf_putc(b, ',');
            vg_json_cstr(b, t->corr->refs[i]->id);
        }
        vg_buf_puts(b, "]}");
    }
    snprintf(s->idkey, sizeof s->idkey, "w:%.*s%c%lld%c%s%c%llu",
             (int)(g->keyn < ST_MAX_KEY ? g->keyn : ST_MAX_KEY), g->key, ST_SEP,
             (long long)g->start, ST_SEP, kind, ST_SEP, (unsigned long long)count);
    vg_buf_putc(b, '\0');
    /* the text summary: "count 279, final, ip=183.62.140.253" */
    size_t sn = (size_t)snprintf(s->summary, sizeof s->summary, "count %llu, %s",
                                 (unsigned long long)count, kind);
    p = g->key;
    for (size_t i = 0; i < names->n && sn < sizeof s->summary - 1; i++) {
        const char *q = memchr(p, ST_SEP, (size_t)(end - p));
        if (!q)
            q = end;
        sn += (size_t)snprintf(s->summary + sn, sizeof s->summary - sn, ", %s=%.*s", names->v[i],
                               (int)(q - p), p);
        p = q < end ? q + 1 : end;
    }
    vg_stateful_alert a = {t->meta, ev, b->overflow ? NULL : b->p, s->idkey, s->summary};
    vg_counter_add(s->c_alerts, 1);
    if (t->corr && t->meta->alerts)
        vg_counter_add(t->meta->alerts, 1);
    emit(ud, &a);
}

/* Close g's window: judge a close-time condition, or say the final count. */
// NOLINTNEXTLINE(misc-no-recursion): part of fire()'s chain, at most 16 levels (s->depth)
static void close_window(vg_stateful *s, table *t, grp *g, vg_stateful_emit_fn emit, void *ud)
{
    if (g->events) {
        if (t->corr && t->corr->cond_at_close) {
            if (vg_corr_holds(t->corr, measure(s, t, g)))
                fire(s, t, g, NULL, "first", emit, ud);
        } else if (t->corr && g->fired && s->o.final_alert && shown_count(s, t, g) > g->alerted) {
            fire(s, t, g, NULL, "final", emit, ud);
        }
    }
    grp_reset_window(g);
    account(t, g);
    s->dirty = true;
}

/* ---- feeding ---- */

/* In place: NUL bytes and invalid UTF-8 become '?', so samples and keys are
   C strings that JSON (the checkpoint, jansson) accepts. */
static void utf8_clean(char *p, size_t n)
{
    unsigned char *s = (unsigned char *)p;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len && c != 0 && i + len <= n && !(c >= 0xc0 && c < 0xc2) && c < 0xf5;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        if (ok && len == 3) {
            unsigned cp = ((c & 15u) << 12) | ((s[i + 1] & 63u) << 6) | (s[i + 2] & 63u);
            ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
        } else if (ok && len == 4) {
            unsigned cp = ((c & 7u) << 18) | ((s[i + 1] & 63u) << 12) | ((s[i + 2] & 63u) << 6) |
                          (s[i + 3] & 63u);
            ok = cp >= 0x10000 && cp <= 0x10ffff;
        }
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

/* The group key of ev for fields `f(i)`, i < n; false if one is missing
   (when `need`). */
static bool make_key(const vg_event *ev, const char *const *fields, size_t stride, size_t n,
                     bool need, char *key, size_t *keyn)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i * stride];
        const vg_str *v = vg_event_get(ev, (vg_str){f, strlen(f)});
        if ((!v || !v->n) && need)
            return false;
        if (i && k < ST_MAX_KEY)
            key[k++] = ST_SEP;
        size_t vn = v ? v->n : 0;
        if (vn > ST_MAX_KEY - k)
            vn = ST_MAX_KEY - k;
        for (size_t j = 0; j < vn; j++) /* the separator never appears inside a value */
            key[k + j] = v->p[j] == ST_SEP ? '?' : v->p[j];
        k += vn;
    }
    utf8_clean(key, k);
    *keyn = k;
    return true;
}

static void add_sample(vg_stateful *s, grp *g, const vg_event *ev)
{
    if (g->nsamples >= s->o.samples || !ev->raw.p)
        return;
    if (!g->samples && !(g->samples = calloc(s->o.samples, sizeof *g->samples)))
        return;
    size_t n = ev->raw.n < s->o.sample_bytes ? ev->raw.n : s->o.sample_bytes;
    char *c = malloc(n + 1);
    if (!c)
        return;
    memcpy(c, ev->raw.p, n);
    c[n] = '\0';
    utf8_clean(c, n);
    g->samples[g->nsamples++] = c;
}

/* Exact up to the table's limit, then HyperLogLog. */
static void add_distinct(vg_stateful *s, const struct table *t, grp *g, uint64_t h)
{
    if (g->hll) {
        hll_add(g->hll, s->o.hll_bits, h);
        return;
    }
    for (uint32_t i = 0; i < g->nvals; i++)
        if (g->vals[i] == h)
            return;
    if (g->nvals >= t->exact_limit) {
        g->hll = calloc((size_t)1 << s->o.hll_bits, 1);
        if (!g->hll)
            return;
        for (uint32_t i = 0; i < g->nvals; i++)
            hll_add(g->hll, s->o.hll_bits, g->vals[i]);
        hll_add(g->hll, s->o.hll_bits, h);
        free(g->vals);
        g->vals = NULL;
        g->nvals = g->capvals = 0;
        return;
    }
    if (g->nvals == g->capvals) {
        uint32_t nc = g->capvals ? g->capvals * 2 : 4;
        uint64_t *nv = realloc(g->vals, nc * sizeof *nv);
        if (!nv)
            return;
        g->vals = nv;
        g->capvals = nc;
    }
    g->vals[g->nvals++] = h;
}

/* Open or roll g's window for an event at time t. */
// NOLINTNEXTLINE(misc-no-recursion): part of fire()'s chain, at most 16 levels (s->depth)
static void roll(vg_stateful *s, table *t, grp *g, int64_t tm, vg_stateful_emit_fn emit, void *ud)
{
    int64_t span = window_of(t);
    if (g->start != ST_NONE && (tm >= g->start + span || tm < g->start - s->o.out_of_order_ns)) {
        if (tm < g->start - s->o.out_of_order_ns)
            vg_counter_add(s->c_late, 1);
        close_window(s, t, g, emit, ud);
    }
    if (g->start == ST_NONE)
        g->start = tm;
    if (g->first == ST_NONE || tm < g->first)
        g->first = tm;
    if (g->last == ST_NONE || tm > g->last)
        g->last = tm;
}

static grp *corr_feed_in(vg_stateful *s, table *t, uint32_t ref, const vg_event *ev, int64_t tm,
                         vg_stateful_emit_fn emit, void *ud);

/* One event for correlation table t (as its ref-th rule). */
// NOLINTNEXTLINE(misc-no-recursion): part of fire()'s chain, at most 16 levels (s->depth)
static void corr_feed(vg_stateful *s, table *t, uint32_t ref, const vg_event *ev, int64_t tm,
                      vg_stateful_emit_fn emit, void *ud)
{
    grp *g = corr_feed_in(s, t, ref, ev, tm, emit, ud);
    if (g)
        account(t, g);
}

// NOLINTNEXTLINE(misc-no-recursion): part of fire()'s chain, at most 16 levels (s->depth)
static grp *corr_feed_in(vg_stateful *s, table *t, uint32_t ref, const vg_event *ev, int64_t tm,
                         vg_stateful_emit_fn emit, void *ud)
{
    const vg_corr_rule *c = t->corr;
    char key[ST_MAX_KEY + 1];
    size_t keyn = 0;
    size_t ng = c->group_by.n;
    if (ng && !make_key(ev, c->gfield + (size_t)ref * ng, 1, ng, true, key, &keyn)) {
        vg_counter_add(s->c_nogroup, 1);
        return NULL;
    }
    bool has_val = false;
    uint64_t vh = 0; /* hash of the value (or of the tuple, fields AND-ed) */
    if (c->type == VG_CORR_VALUE_COUNT) {
        size_t nf = c->fields.n;
        for (size_t i = 0; i < nf; i++) {
            const char *f = c->vfield[(size_t)ref * nf + i];
            const vg_str *v = vg_event_get(ev, (vg_str){f, strlen(f)});
            if (!v) {
                vg_counter_add(s->c_nogroup, 1);
                return NULL;
            }
            vh = vg_mix64(vh * 0x9e3779b97f4a7c15ULL ^ hash_bytes(v->p, v->n));
        }
        has_val = true;
    }
    grp *g = tbl_get(s, t, key, keyn);
    if (!g)
        return NULL;
    s->dirty = true;
    bool temporal = c->type == VG_CORR_TEMPORAL || c->type == VG_CORR_TEMPORAL_ORDERED;
    if (temporal && !g->fired) {
        /* Not fired yet: the evidence slides; no window to roll. */
        size_t nr = c->rules.n;
        if (g->start != ST_NONE && tm < g->start - s->o.out_of_order_ns) {
            vg_counter_add(s->c_late, 1); /* clock jump: forget older evidence */
            grp_reset_window(g);
            for (size_t i = 0; i < nr; i++)
                g->seen[i] = ST_NONE;
        }
        size_t alive = 0;
        for (size_t i = 0; i < nr; i++) {
            if (g->seen[i] != ST_NONE && tm - g->seen[i] > c->timespan_ns)
                g->seen[i] = ST_NONE;
            alive += g->seen[i] != ST_NONE;
        }
        if (!alive) /* all evidence expired: the events and samples with it */
            grp_reset_window(g);
        if (c->type == VG_CORR_TEMPORAL) {
            if (g->seen[ref] == ST_NONE || tm > g->seen[ref])
                g->seen[ref] = tm;
        } else if (ref == 0) {
            g->seen[0] = tm; /* the latest start of a chain */
        } else if (g->seen[ref - 1] != ST_NONE && tm >= g->seen[ref - 1] &&
                   (g->seen[ref] == ST_NONE || g->seen[ref - 1] > g->seen[ref])) {
            g->seen[ref] = g->seen[ref - 1];
        }
        int64_t lo = tm;
        for (size_t i = 0; i < nr; i++)
            if (g->seen[i] != ST_NONE && g->seen[i] < lo)
                lo = g->seen[i];
        g->start = g->first = lo;
        if (g->last == ST_NONE || tm > g->last)
            g->last = tm;
        g->events++;
        add_sample(s, g, ev);
        bool done = c->type == VG_CORR_TEMPORAL ? vg_corr_holds(c, measure(s, t, g))
                                                : g->seen[nr - 1] != ST_NONE;
        if (done) {
            g->fired = true;
            fire(s, t, g, ev, "first", emit, ud);
            for (size_t i = 0; i < nr; i++) /* evidence consumed */
                g->seen[i] = ST_NONE;
        }
        return g;
    }
    roll(s, t, g, tm, emit, ud);
    if (temporal && !g->fired) { /* the fired window just closed: start over */
        return corr_feed_in(s, t, ref, ev, tm, emit, ud);
    }
    g->events++;
    if (has_val)
        add_distinct(s, t, g, vh);
    add_sample(s, g, ev);
    if (c->cond_at_close)
        return g;
    if (!g->fired) {
        if (vg_corr_holds(c, measure(s, t, g))) {
            g->fired = true;
            fire(s, t, g, ev, "first", emit, ud);
        }
    } else if (s->o.update_base >= 2 && shown_count(s, t, g) >= g->next_up) {
        fire(s, t, g, ev, "update", emit, ud);
    }
    return g;
}

/* One match of a single-event rule with suppression. */
static void sup_feed(vg_stateful *s, table *t, const vg_event *ev, int64_t tm,
                     vg_stateful_emit_fn emit, void *ud)
{
    char key[ST_MAX_KEY + 1];
    size_t keyn = 0;
    make_key(ev, (const char *const *)t->sup.by.v, 1, t->sup.by.n, false, key, &keyn);
    grp *g = tbl_get(s, t, key, keyn);
    if (!g) { /* no memory: alert unsuppressed rather than lose it */
        emit(ud, &(vg_stateful_alert){t->meta, ev, NULL, NULL});
        return;
    }
    s->dirty = true;
    roll(s, t, g, tm, emit, ud);
    g->events++;
    add_sample(s, g, ev);
    if (!g->fired) {
        g->fired = true;
        fire(s, t, g, ev, "first", emit, ud);
    } else if (s->o.update_base >= 2 && g->events >= g->next_up) {
        fire(s, t, g, ev, "update", emit, ud);
    } else {
        vg_counter_add(t->c_suppressed, 1);
    }
    account(t, g);
}

// NOLINTNEXTLINE(misc-no-recursion): part of fire()'s chain, at most 16 levels (s->depth)
static void feed_route(vg_stateful *s, route *rt, const vg_event *ev, int64_t tm,
                       vg_stateful_emit_fn emit, void *ud)
{
    for (size_t i = 0; i < rt->nouts; i++)
        corr_feed(s, rt->outs[i].t, rt->outs[i].ref, ev, tm, emit, ud);
}

static void sweep(vg_stateful *s, int64_t now, vg_stateful_emit_fn emit, void *ud)
{
    for (size_t i = 0; i < s->ntables; i++) {
        table *t = s->tables[i];
        int64_t span = window_of(t);
        for (grp *g = t->tail, *prev; g; g = prev) {
            prev = g->lprev;
            bool expired;
            if (t->corr && !g->fired &&
                (t->corr->type == VG_CORR_TEMPORAL || t->corr->type == VG_CORR_TEMPORAL_ORDERED))
                expired = g->last == ST_NONE || now - g->last > span + s->o.out_of_order_ns;
            else
                expired = g->start == ST_NONE || now >= g->start + span + s->o.out_of_order_ns;
            if (!expired)
                continue;
            close_window(s, t, g, emit, ud);
            tbl_remove(t, g);
        }
    }
}

/* Past the memory budget, evict the least recently updated groups of the
   largest tables. Runs between events, when no group is in use. */
static void enforce_budget(vg_stateful *s)
{
    while (s->bytes > s->o.max_bytes) {
        table *big = NULL;
        for (size_t i = 0; i < s->ntables; i++)
            if (s->tables[i]->tail && (!big || s->tables[i]->bytes > big->bytes))
                big = s->tables[i];
        if (!big)
            return;
        tbl_remove(big, big->tail);
        vg_counter_add(big->c_evict, 1);
        vg_counter_add(s->c_mem_evict, 1);
    }
}

void vg_stateful_feed(vg_stateful *s, const vg_rule_meta *rule, vg_event *ev,
                      vg_stateful_emit_fn emit, void *ud)
{
    int64_t tm = ev->ts_ns ? ev->ts_ns : (s->now != ST_NONE ? s->now : 0);
    s->now = tm;
    /* The watermark (what closes every group's windows) follows the events,
       but one line from more than a day ahead (a forged or broken
       timestamp) moves it only when the next such line confirms the jump. */
    if (s->watermark == ST_NONE || tm <= s->watermark + ST_LIVE_NS) {
        if (s->watermark == ST_NONE || tm > s->watermark)
            s->watermark = tm;
        s->jump = ST_NONE;
    } else if (s->jump != ST_NONE && tm >= s->jump - ST_LIVE_NS && tm <= s->jump + ST_LIVE_NS) {
        s->watermark = tm;
        s->jump = ST_NONE;
    } else {
        s->jump = tm;
        vg_counter_add(s->c_late, 1);
    }
    bool consumed = false;
    for (size_t i = 0; hooks[i]; i++)
        if (hooks[i]->feed && hooks[i]->feed(s->hook[i], rule, ev, emit, ud))
            consumed = s->dirty = true; /* a hook that took the match changed its state */
    route *rt = s->nroutes ? route_find(s, rule) : NULL;
    if (!rt) {
        if (!consumed)
            emit(ud, &(vg_stateful_alert){rule, ev, NULL, NULL});
    } else {
        feed_route(s, rt, ev, tm, emit, ud);
        if (rt->standalone && !consumed) {
            if (rt->sup && !rt->sup->corr)
                sup_feed(s, rt->sup, ev, tm, emit, ud);
            else if (!rt->sup || !rt->sup->corr)
                emit(ud, &(vg_stateful_alert){rule, ev, NULL, NULL});
        }
    }
    if (s->next_sweep == 0 || s->watermark >= s->next_sweep) {
        if (s->next_sweep)
            sweep(s, s->watermark, emit, ud);
        s->next_sweep = s->watermark + (s->sweep_every ? s->sweep_every : ST_SEC);
    }
    if (s->bytes > s->o.max_bytes)
        enforce_budget(s);
}

void vg_stateful_observe(vg_stateful *s, vg_batch *b, vg_stateful_emit_fn emit, void *ud)
{
    for (size_t i = 0; hooks[i]; i++)
        if (hooks[i]->observe)
            hooks[i]->observe(s->hook[i], b, emit, ud);
}

void vg_stateful_tick(vg_stateful *s, int64_t now_ns, vg_stateful_emit_fn emit, void *ud)
{
    if (s->watermark != ST_NONE && (now_ns < s->watermark || now_ns - s->watermark > ST_LIVE_NS))
        now_ns = s->watermark; /* an archive replayed, or a clock behind: event time rules */
    if (s->watermark == ST_NONE)
        return;
    sweep(s, now_ns, emit, ud);
    for (size_t i = 0; hooks[i]; i++)
        if (hooks[i]->tick)
            hooks[i]->tick(s->hook[i], now_ns, emit, ud);
}

void vg_stateful_close_all(vg_stateful *s, vg_stateful_emit_fn emit, void *ud)
{
    /* Closing a window may feed a chained correlation: repeat until every
       table is empty (chains are acyclic and at most 16 deep). */
    for (int round = 0, any = 1; any && round < 32; round++) {
        any = 0;
        for (size_t i = 0; i < s->ntables; i++) {
            table *t = s->tables[i];
            while (t->tail) {
                grp *g = t->tail;
                close_window(s, t, g, emit, ud);
                tbl_remove(t, g);
                any = 1;
            }
        }
    }
    for (size_t i = 0; hooks[i]; i++)
        if (hooks[i]->tick && s->watermark != ST_NONE)
            hooks[i]->tick(s->hook[i], s->watermark, emit, ud);
    for (size_t i = 0; hooks[i]; i++)
        if (hooks[i]->close_all)
            hooks[i]->close_all(s->hook[i], emit, ud);
}

size_t vg_stateful_bytes(const vg_stateful *s)
{
    return s->bytes;
}

bool vg_stateful_dirty(const vg_stateful *s)
{
    return s->dirty;
}

/* ---- checkpoint ---- */

static json_t *grp_json(const vg_stateful *s, const table *t, const grp *g)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "k", json_stringn(g->key, g->keyn));
    json_object_set_new(o, "s", json_integer(g->start));
    json_object_set_new(o, "f", json_integer(g->first));
    json_object_set_new(o, "l", json_integer(g->last));
    json_object_set_new(o, "e", json_integer((json_int_t)g->events));
    json_object_set_new(o, "a", json_integer((json_int_t)g->alerted));
    json_object_set_new(o, "u", json_integer((json_int_t)g->next_up));
    json_object_set_new(o, "fired", json_boolean(g->fired));
    if (g->nvals) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < g->nvals; i++)
            json_array_append_new(a, json_integer((json_int_t)g->vals[i]));
        json_object_set_new(o, "v", a);
    }
    if (g->hll) {
        size_t m = (size_t)1 << s->o.hll_bits;
        char *hex = malloc(2 * m + 1);
        if (hex) {
            for (size_t i = 0; i < m; i++)
                snprintf(hex + 2 * i, 3, "%02x", g->hll[i]);
            json_object_set_new(o, "h", json_string(hex));
            free(hex);
        }
    }
    if (nrefs(t)) {
        json_t *a = json_array();
        for (size_t i = 0; i < nrefs(t); i++)
            json_array_append_new(a, json_integer(g->seen[i]));
        json_object_set_new(o, "seen", a);
    }
    if (g->nsamples) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < g->nsamples; i++)
            json_array_append_new(a, json_string(g->samples[i]));
        json_object_set_new(o, "x", a);
    }
    return o;
}

json_t *vg_stateful_to_json(vg_stateful *s)
{
    json_t *root = json_object(), *tabs = json_object();
    if (!root || !tabs) {
        json_decref(root);
        json_decref(tabs);
        return NULL;
    }
    json_object_set_new(root, "tables", tabs);
    json_object_set_new(root, "hll_bits", json_integer(s->o.hll_bits));
    json_object_set_new(root, "watermark", json_integer(s->watermark));
    for (size_t i = 0; i < s->ntables; i++) {
        table *t = s->tables[i];
        if (!t->meta->id || !t->n)
            continue;
        json_t *to = json_object(), *gs = json_array();
        char sig[17];
        snprintf(sig, sizeof sig, "%016llx", (unsigned long long)t->sig);
        json_object_set_new(to, "sig", json_string(sig));
        /* oldest first, so a restore rebuilds the same LRU order */
        for (grp *g = t->tail; g; g = g->lprev)
            json_array_append_new(gs, grp_json(s, t, g));
        json_object_set_new(to, "groups", gs);
        json_object_set_new(tabs, t->meta->id, to);
    }
    json_t *hk = json_object();
    for (size_t i = 0; hooks[i]; i++)
        if (hooks[i]->save) {
            json_t *j = hooks[i]->save(s->hook[i]);
            if (j)
                json_object_set_new(hk, hooks[i]->name, j);
        }
    json_object_set_new(root, "hooks", hk);
    return root;
}

static int64_t jint(const json_t *o, const char *k, int64_t def)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* Value of a hex digit, else -1 (the registers are written with %02x). */
static int hexdig(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static vg_err grp_from_json(vg_stateful *s, table *t, const json_t *o, vg_errbuf *eb)
{
    const json_t *k = json_object_get(o, "k");
    if (!json_is_string(k) || json_string_length(k) > ST_MAX_KEY)
        return vg_errf(eb, VG_EPARSE, "group without a key");
    grp *g = tbl_get(s, t, json_string_value(k), json_string_length(k));
    if (!g)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    g->start = jint(o, "s", ST_NONE);
    g->first = jint(o, "f", ST_NONE);
    g->last = jint(o, "l", ST_NONE);
    g->events = (uint64_t)jint(o, "e", 0);
    g->alerted = (uint64_t)jint(o, "a", 0);
    g->next_up = (uint64_t)jint(o, "u", 0);
    g->fired = json_is_true(json_object_get(o, "fired"));
    const json_t *v = json_object_get(o, "v"), *e;
    size_t i;
    if (json_is_array(v))
        json_array_foreach(v, i, e) add_distinct(s, t, g, (uint64_t)json_integer_value(e));
    const json_t *h = json_object_get(o, "h");
    size_t m = (size_t)1 << s->o.hll_bits;
    if (json_is_string(h)) {
        if (json_string_length(h) != 2 * m)
            return vg_errf(eb, VG_EPARSE, "HyperLogLog registers of the wrong size");
        free(g->vals);
        g->vals = NULL;
        g->nvals = g->capvals = 0;
        if (!g->hll && !(g->hll = calloc(m, 1)))
            return vg_errf(eb, VG_ENOMEM, "out of memory");
        const char *hx = json_string_value(h);
        for (size_t r = 0; r < m; r++) {
            int hi = hexdig(hx[2 * r]), lo = hexdig(hx[2 * r + 1]);
            if (hi < 0 || lo < 0)
                return vg_errf(eb, VG_EPARSE, "bad HyperLogLog registers");
            g->hll[r] = (uint8_t)(hi << 4 | lo);
        }
    }
    const json_t *sn = json_object_get(o, "seen");
    if (g->seen && json_is_array(sn) && json_array_size(sn) == nrefs(t))
        json_array_foreach(sn, i, e) g->seen[i] = json_integer_value(e);
    const json_t *x = json_object_get(o, "x");
    if (json_is_array(x))
        json_array_foreach(x, i, e)
        {
            if (!json_is_string(e))
                continue;
            vg_event tmp = {0};
            tmp.raw = (vg_str){json_string_value(e), json_string_length(e)};
            add_sample(s, g, &tmp);
        }
    account(t, g);
    return VG_OK;
}

vg_err vg_stateful_from_json(vg_stateful *s, const json_t *j, vg_errbuf *eb)
{
    const json_t *tabs = json_object_get(j, "tables");
    if (!json_is_object(tabs))
        return vg_errf(eb, VG_EPARSE, "no 'tables'");
    if (jint(j, "hll_bits", s->o.hll_bits) != (int64_t)s->o.hll_bits)
        return vg_errf(eb, VG_EPARSE, "saved with another HyperLogLog precision");
    for (size_t i = 0; i < s->ntables; i++) {
        table *t = s->tables[i];
        const json_t *to = t->meta->id ? json_object_get(tabs, t->meta->id) : NULL;
        char sig[17];
        snprintf(sig, sizeof sig, "%016llx", (unsigned long long)t->sig);
        if (!to || !json_is_string(json_object_get(to, "sig")) ||
            strcmp(json_string_value(json_object_get(to, "sig")), sig))
            continue; /* new or changed rule: fresh state */
        const json_t *gs = json_object_get(to, "groups"), *g;
        size_t k;
        if (!json_is_array(gs))
            return vg_errf(eb, VG_EPARSE, "rule %s: no 'groups'", t->meta->id);
        json_array_foreach(gs, k, g)
        {
            vg_err r = grp_from_json(s, t, g, eb);
            if (r)
                return r;
        }
    }
    s->watermark = jint(j, "watermark", ST_NONE);
    s->now = s->watermark;
    const json_t *hk = json_object_get(j, "hooks");
    for (size_t i = 0; hooks[i]; i++) {
        const json_t *hj = json_object_get(hk, hooks[i]->name);
        if (hj && hooks[i]->restore) {
            vg_err r = hooks[i]->restore(s->hook[i], hj, eb);
            if (r)
                return r;
        }
    }
    return VG_OK;
}

static void slot_name(char *out, size_t n, uint64_t seq)
{
    snprintf(out, n, "stateful.%u.json", (unsigned)(seq % 2));
}

vg_err vg_stateful_save(vg_stateful *s, const char *dir, uint64_t seq, vg_errbuf *eb)
{
    char name[32];
    slot_name(name, sizeof name, seq);
    json_t *j = vg_stateful_to_json(s);
    if (!j)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    json_object_set_new(j, "seq", json_integer((json_int_t)seq));
    vg_err r = vg_state_write_json(dir, name, ST_VERSION, j, eb);
    json_decref(j);
    if (!r)
        s->dirty = false;
    return r;
}

/* Drop every group (a fresh state), keeping the binding. */
static void reset_all(vg_stateful *s)
{
    for (size_t i = 0; i < s->ntables; i++)
        while (s->tables[i]->head) // NOLINTNEXTLINE(clang-analyzer-unix.Malloc): tbl_remove unlinks the head before freeing it
            tbl_remove(s->tables[i], s->tables[i]->head);
    s->now = s->watermark = s->jump = ST_NONE;
    s->next_sweep = 0;
}

vg_err vg_stateful_restore(vg_stateful *s, const char *dir, uint64_t seq, vg_errbuf *eb)
{
    char name[32];
    slot_name(name, sizeof name, seq);
    json_t *j = NULL;
    vg_err r = vg_state_read_json(dir, name, ST_VERSION, &j, eb);
    if (r == VG_ENOTFOUND)
        return r;
    if (!r && jint(j, "seq", -1) != (int64_t)seq)
        r = vg_errf(eb, VG_EPARSE, "%s/%s: checkpoint %lld does not match the positions' %llu", dir,
                    name, (long long)jint(j, "seq", -1), (unsigned long long)seq);
    if (!r) {
        vg_errbuf e2;
        r = vg_stateful_from_json(s, j, &e2);
        if (r)
            vg_errf(eb, r, "%s/%s: corrupt checkpoint: %s", dir, name, e2.msg);
    }
    if (j)
        json_decref(j);
    if (r) {
        reset_all(s);
        vg_state_quarantine(dir, name);
    }
    s->dirty = false;
    return r;
}

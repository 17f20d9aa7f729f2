/*
 * det_sigma.c - Sigma rules as a detector: loading through sigma.c, the
 * config's per-rule overrides, logsource routing, and batch matching.
 *
 * Routing: the rules that can see an event depend only on its input's
 * logsource and the service its program maps to, both pointers that are
 * stable for the life of a ruleset (config strings, static service names);
 * so each thread caches (logsource, service) -> rule list in its scratch.
 *
 * Prefilter: every rule's required literals (vg_sigma_required_literals) go
 * into one automaton; each event's raw line is scanned once, together with
 * the field values that are not substrings of it (found by pointer range:
 * decoded JSON strings, auditd's hex-decoded arguments), and a rule with
 * required literals is evaluated only if one of them occurred.
 * VIGIE_NO_PREFILTER=1 in the environment turns it off (equivalence tests).
 *
 * Rule evaluation time is sampled (one event in 64, scaled) so measuring it
 * does not cost more than the evaluation.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baseline_rules.h"
#include "correlation.h"
#include "detector.h"
#include "prefilter.h"
#include "sigma.h"

/* Literals shorter than this select too little to be worth a prefilter entry. */
#define PREFILTER_MIN_LEN 3

#define ROUTE_CACHE 64
#define TIME_SAMPLE 64

typedef struct det_sigma {
    vg_sigma_opts opts;
    vg_stats *stats;
    vg_sigma_rule **rules;
    size_t n, cap;
    vg_sigma_rule **filters; /* Sigma filter documents, attached to rules at finish */
    size_t nfilters;
    int oom;
    vg_prefilter *pf;     /* all rules' literals (fallback); NULL = prefilter off */
    bool *always;         /* per rule: no required literal, evaluate always */
    const char **lit_p;   /* every filterable rule's literals, rule after rule */
    size_t *lit_n;
    size_t nlit, litcap;
    size_t *lit_first;    /* per rule: index of its first literal; lit_first[n] = nlit */
    size_t nfiltered;     /* rules behind the prefilter */
    vg_counter *c_skipped, *c_scanned, *c_unfilterable, *c_outside;
    vg_corr_rule **corrs; /* correlation documents (correlation.c), resolved at finish */
    size_t ncorrs;
} det_sigma;

typedef struct route {
    const vg_logsource *ls;
    const char *service2;
    uint32_t *idx;     /* every rule routed here, in rule order */
    size_t n;
    uint32_t *always;  /* those the prefilter cannot skip, in rule order */
    size_t nalways;
    uint8_t *member;   /* per rule: routed here */
    const vg_prefilter *pf; /* the automaton that covers the route's filtered rules */
} route;

/* A prefilter automaton for the events of one log source: only the literals
   of the rules of its product and category, so it stays small and in cache.
   covered[i]: rule i's literals are in it. */
typedef struct lsauto {
    const vg_logsource *ls;
    vg_prefilter *pf;
    uint8_t *covered;
    bool owned; /* false: shares the automaton of an earlier entry */
} lsauto;

typedef struct scratch {
    vg_sigma_scratch *s;
    route cache[ROUTE_CACHE];
    size_t ncache;
    route tmp;         /* route when the cache is full (rebuilt per event) */
    lsauto autos[ROUTE_CACHE]; /* per log source automata, built on first use */
    size_t nautos;
    uint32_t *order;   /* rules to evaluate, this event */
    uint64_t *evals;   /* per rule, flushed to counters per batch */
    uint64_t *ns;
    uint64_t seen;
    /* Per prefilter lane (VG_PREFILTER_LANES events are scanned together):
       per rule, the generation in which a literal of it was seen; and the
       candidates seen. */
    uint32_t *lstamp[VG_PREFILTER_LANES];
    uint32_t *lcand[VG_PREFILTER_LANES];
    size_t lncand[VG_PREFILTER_LANES];
    uint32_t gen;
    uint64_t skipped, scanned, unfilterable, outside;
} scratch;

static void on_correlation(void *corr_ud, struct yaml_document_s *doc, struct yaml_node_s *root,
                           const char *origin, vg_diag_fn diag, void *diag_ud)
{
    det_sigma *d = corr_ud;
    vg_corr_rule *c = vg_corr_compile(doc, root, origin, diag, diag_ud);
    if (!c)
        return;
    vg_corr_rule **nc = realloc(d->corrs, (d->ncorrs + 1) * sizeof *nc);
    if (!nc) {
        d->oom = 1;
        vg_corr_destroy(c);
        return;
    }
    d->corrs = nc;
    d->corrs[d->ncorrs++] = c;
}

static void *ds_create(const vg_config *cfg, vg_stats *stats)
{
    det_sigma *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->opts.regex_match_limit = (uint32_t)cfg->regex_match_limit;
    d->opts.regex_depth_limit = (uint32_t)cfg->regex_depth_limit;
    d->opts.field_map = cfg->field_map; /* read at compile time only */
    d->opts.nfield_map = cfg->nfield_map;
    d->opts.placeholders = cfg->placeholders;
    d->opts.nplaceholders = cfg->nplaceholders;
    d->opts.on_correlation = on_correlation;
    d->opts.corr_ud = d;
    d->stats = stats;
    return d;
}

static void on_rule(void *ud, vg_sigma_rule *r)
{
    det_sigma *d = *(det_sigma **)ud;
    if (vg_sigma_is_filter(r)) {
        vg_sigma_rule **nf = realloc(d->filters, (d->nfilters + 1) * sizeof *nf);
        if (!nf) {
            d->oom = 1;
            vg_sigma_rule_destroy(r);
            return;
        }
        d->filters = nf;
        d->filters[d->nfilters++] = r;
        return;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 64;
        vg_sigma_rule **nr = realloc(d->rules, nc * sizeof *nr);
        if (!nr) {
            d->oom = 1;
            vg_sigma_rule_destroy(r);
            return;
        }
        d->rules = nr;
        d->cap = nc;
    }
    d->rules[d->n++] = r;
}

typedef struct load_ctx {
    det_sigma *d; /* first member: on_rule reads it */
    vg_diag_fn diag;
    void *ud;
} load_ctx;

static void fwd_diag(void *ud, const vg_diag *dg)
{
    load_ctx *l = ud;
    l->diag(l->ud, dg);
}

static void ds_load_file(void *self, const char *path, vg_diag_fn diag, void *ud)
{
    load_ctx l = {self, diag, ud};
    /* on_rule and fwd_diag share the context: on_rule reads l.d first. */
    vg_sigma_load_file(path, &((det_sigma *)self)->opts, on_rule, fwd_diag, &l);
}

typedef struct lit_ctx {
    det_sigma *d;
    uint32_t rule;
    bool ok;
} lit_ctx;

static void add_lit(void *ud, const char *lit, size_t n)
{
    lit_ctx *c = ud;
    det_sigma *d = c->d;
    if (!c->ok)
        return;
    if (!vg_prefilter_add(d->pf, lit, n, c->rule)) {
        c->ok = false;
        return;
    }
    if (d->nlit == d->litcap) {
        size_t nc = d->litcap ? d->litcap * 2 : 256;
        const char **np = realloc(d->lit_p, nc * sizeof *np);
        if (np)
            d->lit_p = np;
        size_t *nn = np ? realloc(d->lit_n, nc * sizeof *nn) : NULL;
        if (!np || !nn) {
            c->ok = false;
            return;
        }
        d->lit_n = nn;
        d->litcap = nc;
    }
    d->lit_p[d->nlit] = lit; /* points into the rule, which the detector owns */
    d->lit_n[d->nlit++] = n;
}

static void build_prefilter(det_sigma *d)
{
    d->c_skipped = vg_stats_counter(d->stats, "prefilter.skipped_evaluations", NULL, NULL);
    d->c_scanned = vg_stats_counter(d->stats, "prefilter.scanned_events", NULL, NULL);
    d->c_unfilterable = vg_stats_counter(d->stats, "prefilter.unfilterable_events", NULL, NULL);
    d->c_outside = vg_stats_counter(d->stats, "prefilter.decoded_values_scanned", NULL, NULL);
    const char *off = getenv("VIGIE_NO_PREFILTER");
    if ((off && *off && strcmp(off, "0")) || !d->n)
        return;
    d->always = calloc(d->n, sizeof *d->always);
    d->lit_first = calloc(d->n + 1, sizeof *d->lit_first);
    d->pf = vg_prefilter_create();
    if (!d->always || !d->lit_first || !d->pf)
        goto fail;
    for (size_t i = 0; i < d->n; i++) {
        lit_ctx c = {d, (uint32_t)i, true};
        d->lit_first[i] = d->nlit;
        /* A refused literal (state budget) leaves others of the rule in the
           automaton: harmless, the rule is then evaluated always anyway. */
        if (!vg_sigma_required_literals(d->rules[i], PREFILTER_MIN_LEN, add_lit, &c) || !c.ok) {
            d->always[i] = true;
            d->nlit = d->lit_first[i]; /* forget its literals */
        } else {
            d->nfiltered++;
        }
    }
    d->lit_first[d->n] = d->nlit;
    if (!d->nfiltered || !vg_prefilter_build(d->pf))
        goto fail;
    vg_counter_add(vg_stats_counter(d->stats, "prefilter.rules", NULL, NULL), d->nfiltered);
    vg_counter_add(vg_stats_counter(d->stats, "prefilter.states", NULL, NULL),
                   vg_prefilter_states(d->pf));
    vg_counter_add(vg_stats_counter(d->stats, "prefilter.bytes", NULL, NULL),
                   vg_prefilter_bytes(d->pf));
    return;
fail:
    vg_prefilter_destroy(d->pf);
    d->pf = NULL;
    free(d->always);
    d->always = NULL;
    d->nfiltered = 0;
}

static bool rule_is(vg_sigma_rule *r, const char *key)
{
    vg_rule_meta *m = vg_sigma_meta(r);
    return (m->id && !strcmp(m->id, key)) || (m->title && !strcmp(m->title, key));
}

/* Overrides (level, enabled), references resolved, counters registered. */
static void finish_correlations(det_sigma *d, vg_config *cfg, vg_diag_fn diag, void *ud)
{
    for (size_t o = 0; o < cfg->noverrides; o++) {
        vg_rule_override *ov = &cfg->overrides[o];
        for (size_t i = 0; i < d->ncorrs; i++) {
            vg_rule_meta *m = d->corrs[i] ? &d->corrs[i]->meta : NULL;
            if (!m || !((m->id && !strcmp(m->id, ov->id)) ||
                        (m->title && !strcmp(m->title, ov->id))))
                continue;
            ov->used = true;
            if (ov->level) {
                char *lv = strdup(ov->level);
                if (lv) {
                    free(m->level);
                    m->level = lv;
                    m->level_rank = vg_level_rank(lv);
                }
            }
            if (ov->enabled == 0) {
                vg_corr_destroy(d->corrs[i]);
                d->corrs[i] = NULL;
            }
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < d->ncorrs; i++)
        if (d->corrs[i])
            d->corrs[k++] = d->corrs[i];
    d->ncorrs = k;
    vg_rule_meta **base = calloc(d->n ? d->n : 1, sizeof *base);
    if (!base) {
        d->oom = 1;
        return;
    }
    for (size_t i = 0; i < d->n; i++)
        base[i] = vg_sigma_meta(d->rules[i]);
    vg_corr_resolve(d->corrs, d->ncorrs, base, d->n, diag, ud);
    free(base);
    k = 0;
    for (size_t i = 0; i < d->ncorrs; i++)
        if (d->corrs[i])
            d->corrs[k++] = d->corrs[i];
    d->ncorrs = k;
    for (size_t i = 0; i < d->ncorrs; i++) {
        vg_rule_meta *m = &d->corrs[i]->meta;
        m->alerts = vg_stats_counter(d->stats, "rule.alerts", "rule", m->id);
    }
}

static void ds_finish(void *self, vg_config *cfg, vg_diag_fn diag, void *ud)
{
    det_sigma *d = self;
    for (size_t o = 0; o < cfg->noverrides; o++) {
        vg_rule_override *ov = &cfg->overrides[o];
        for (size_t i = 0; i < d->n; i++) {
            vg_sigma_rule *r = d->rules[i];
            if (!r || !rule_is(r, ov->id))
                continue;
            ov->used = true;
            vg_rule_meta *m = vg_sigma_meta(r);
            if (ov->level) {
                char *lv = strdup(ov->level);
                if (lv) {
                    free(m->level);
                    m->level = lv;
                    m->level_rank = vg_level_rank(lv);
                }
            }
            for (size_t e = 0; e < ov->nexceptions; e++) {
                vg_errbuf eb;
                if (vg_sigma_add_exception(r, &ov->exceptions[e], &eb)) {
                    vg_diag dg = {ov->file, ov->line, ov->col, 0, VG_ECONFIG, eb.msg};
                    diag(ud, &dg);
                }
            }
            if (ov->enabled == 0) {
                vg_sigma_rule_destroy(r);
                d->rules[i] = NULL;
            }
        }
    }
    /* x_vigie.suppress is checked here (sigma.c keeps x_vigie as JSON). */
    for (size_t i = 0; i < d->n; i++) {
        vg_rule_meta *m = d->rules[i] ? vg_sigma_meta(d->rules[i]) : NULL;
        vg_suppress sup;
        bool has;
        vg_errbuf eb;
        if (!m || !m->x_vigie)
            continue;
        if (vg_suppress_parse(m->x_vigie, &has, &sup, &eb)) {
            vg_diag dg = {m->file, m->line, 1, 0, VG_ERULE, eb.msg};
            diag(ud, &dg);
            vg_sigma_rule_destroy(d->rules[i]);
            d->rules[i] = NULL;
            continue;
        }
        vg_suppress_free(&sup);
        /* x_vigie.baseline likewise: a bad spec rejects the rule (rules check
           names it) instead of leaving a silent rule. */
        vg_baseline_spec bs;
        if (vg_baseline_spec_parse(m->x_vigie, &has, &bs, &eb)) {
            vg_diag dg = {m->file, m->line, 1, 0, VG_ERULE, eb.msg};
            diag(ud, &dg);
            vg_sigma_rule_destroy(d->rules[i]);
            d->rules[i] = NULL;
            continue;
        }
        if (has)
            vg_baseline_spec_free(&bs);
    }
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->rules[i])
            d->rules[k++] = d->rules[i];
    d->n = k;
    finish_correlations(d, cfg, diag, ud);
    /* Filter documents: each applies to the rules it names (id or title). */
    for (size_t f = 0; f < d->nfilters; f++) {
        vg_rule_meta *fm = vg_sigma_meta(d->filters[f]);
        const vg_strlist *t = vg_sigma_filter_targets(d->filters[f]);
        for (size_t j = 0; j < t->n; j++) {
            bool found = false;
            for (size_t i = 0; i < d->n; i++)
                if (rule_is(d->rules[i], t->v[j])) {
                    found = true;
                    if (vg_sigma_attach_filter(d->rules[i], d->filters[f]))
                        d->oom = 1;
                }
            if (!found) {
                char msg[400];
                snprintf(msg, sizeof msg, "filter '%s' names rule '%s', which is not loaded",
                         fm->title ? fm->title : "?", t->v[j]);
                vg_diag dg = {fm->file, fm->line, 1, 1, VG_OK, msg};
                diag(ud, &dg);
            }
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        vg_rule_meta *m = vg_sigma_meta(d->rules[i]);
        const char *id = m->id ? m->id : m->title;
        m->alerts = vg_stats_counter(d->stats, "rule.alerts", "rule", id);
        m->evals = vg_stats_counter(d->stats, "rule.evaluations", "rule", id);
        m->eval_ns = vg_stats_counter(d->stats, "rule.eval_ns", "rule", id);
        m->limit_hits = vg_stats_counter(d->stats, "rule.regex_limit_hits", "rule", id);
    }
    build_prefilter(d);
}

static size_t ds_count(const void *self)
{
    return ((const det_sigma *)self)->n + ((const det_sigma *)self)->ncorrs;
}

static void route_free(route *r)
{
    free(r->idx);
    free(r->always);
    free(r->member);
    memset(r, 0, sizeof *r);
}

static void ds_scratch_destroy(void *p);

static void *ds_scratch_create(const void *self)
{
    const det_sigma *d = self;
    scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t n = d->n ? d->n : 1;
    s->s = vg_sigma_scratch_create();
    s->tmp.idx = calloc(n, sizeof *s->tmp.idx);
    s->tmp.always = calloc(n, sizeof *s->tmp.always);
    s->tmp.member = calloc(n, 1);
    bool lanes_ok = true;
    for (unsigned l = 0; l < VG_PREFILTER_LANES; l++) {
        s->lstamp[l] = calloc(n, sizeof *s->lstamp[l]);
        s->lcand[l] = calloc(n, sizeof *s->lcand[l]);
        lanes_ok = lanes_ok && s->lstamp[l] && s->lcand[l];
    }
    s->order = calloc(n, sizeof *s->order);
    s->evals = calloc(n, sizeof *s->evals);
    s->ns = calloc(n, sizeof *s->ns);
    if (!s->s || !s->tmp.idx || !s->tmp.always || !s->tmp.member || !lanes_ok || !s->order ||
        !s->evals || !s->ns) {
        ds_scratch_destroy(s);
        return NULL;
    }
    return s;
}

static void ds_scratch_destroy(void *p)
{
    scratch *s = p;
    if (!s)
        return;
    for (size_t i = 0; i < s->ncache; i++)
        route_free(&s->cache[i]);
    route_free(&s->tmp);
    for (size_t i = 0; i < s->nautos; i++)
        if (s->autos[i].owned) {
            vg_prefilter_destroy(s->autos[i].pf);
            free(s->autos[i].covered);
        }
    vg_sigma_scratch_destroy(s->s);
    for (unsigned l = 0; l < VG_PREFILTER_LANES; l++) {
        free(s->lstamp[l]);
        free(s->lcand[l]);
    }
    free(s->order);
    free(s->evals);
    free(s->ns);
    free(s);
}

/* Can rule i route to events whose log source has ls's product and
   category, whatever their service (the input's, a program's, auditd's)? */
static bool may_route(const det_sigma *d, size_t i, const vg_logsource *ls, vg_event *ev)
{
    const vg_logsource *rl = &vg_sigma_meta(d->rules[i])->logsource;
    vg_logsource any = {ls->product, ls->category, rl->service};
    vg_event_clear(ev);
    ev->logsource = &any;
    bool ok = vg_logsource_accepts(rl, ev);
    ev->logsource = NULL; /* `any` dies on return */
    return ok;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/*
 * The automaton for events of log source ls, built on first use from the
 * rules of its product and category (services aside, so an input's syslog
 * and auth files share one). The fallback (cache full, or building failed)
 * has pf NULL: the caller uses the global automaton.
 */
static const lsauto *get_auto(const det_sigma *d, scratch *s, const vg_logsource *ls)
{
    static const lsauto fallback_none = {NULL, NULL, NULL, false};
    for (size_t i = 0; i < s->nautos; i++)
        if (s->autos[i].ls == ls)
            return &s->autos[i];
    if (s->nautos == ROUTE_CACHE || !d->pf || !ls)
        return &fallback_none;
    lsauto *a = &s->autos[s->nautos];
    for (size_t i = 0; i < s->nautos; i++)
        if (same_str(s->autos[i].ls->product, ls->product) &&
            same_str(s->autos[i].ls->category, ls->category)) {
            *a = (lsauto){ls, s->autos[i].pf, s->autos[i].covered, false};
            s->nautos++;
            return a;
        }
    vg_event *ev = calloc(1, sizeof *ev);
    *a = (lsauto){ls, vg_prefilter_create(), calloc(d->n, 1), true};
    bool ok = ev && a->covered && a->pf;
    for (size_t i = 0; ok && i < d->n; i++) {
        if (d->always[i] || !may_route(d, i, ls, ev))
            continue;
        bool all = true;
        for (size_t k = d->lit_first[i]; k < d->lit_first[i + 1]; k++)
            if (!vg_prefilter_add(a->pf, d->lit_p[k], d->lit_n[k], (uint32_t)i))
                all = false;
        a->covered[i] = all;
    }
    free(ev);
    if (!ok || !vg_prefilter_build(a->pf)) {
        vg_prefilter_destroy(a->pf);
        free(a->covered);
        memset(a, 0, sizeof *a);
        return &fallback_none;
    }
    s->nautos++;
    return a;
}

/* Fill r (arrays sized for every rule) with the rules that accept ev. A
   rule the prefilter cannot vouch for (no literals, or not in the log
   source's automaton) is evaluated always. */
static void build_route(const det_sigma *d, scratch *s, const vg_event *ev, route *r)
{
    const lsauto *a = d->pf ? get_auto(d, s, ev->logsource) : NULL;
    r->pf = a && a->pf ? a->pf : d->pf;
    r->n = r->nalways = 0;
    memset(r->member, 0, d->n);
    for (size_t i = 0; i < d->n; i++)
        if (vg_logsource_accepts(&vg_sigma_meta(d->rules[i])->logsource, ev)) {
            r->idx[r->n++] = (uint32_t)i;
            r->member[i] = 1;
            if (!d->always || d->always[i] || (a && a->pf && !a->covered[i]))
                r->always[r->nalways++] = (uint32_t)i;
        }
}

static const route *find_route(const det_sigma *d, scratch *s, const vg_event *ev)
{
    for (size_t i = 0; i < s->ncache; i++)
        if (s->cache[i].ls == ev->logsource && s->cache[i].service2 == ev->service2)
            return &s->cache[i];
    build_route(d, s, ev, &s->tmp);
    s->tmp.ls = ev->logsource;
    s->tmp.service2 = ev->service2;
    if (s->ncache < ROUTE_CACHE) {
        route *c = &s->cache[s->ncache];
        size_t k = s->tmp.n ? s->tmp.n : 1, a = s->tmp.nalways ? s->tmp.nalways : 1;
        c->idx = malloc(k * sizeof *c->idx);
        c->always = malloc(a * sizeof *c->always);
        c->member = malloc(d->n);
        if (c->idx && c->always && c->member) {
            memcpy(c->idx, s->tmp.idx, s->tmp.n * sizeof *c->idx);
            memcpy(c->always, s->tmp.always, s->tmp.nalways * sizeof *c->always);
            memcpy(c->member, s->tmp.member, d->n);
            c->n = s->tmp.n;
            c->nalways = s->tmp.nalways;
            c->pf = s->tmp.pf;
            c->ls = ev->logsource;
            c->service2 = ev->service2;
            s->ncache++;
            return c;
        }
        route_free(c);
    }
    return &s->tmp;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_hit(void *ud, unsigned lane, uint32_t rule)
{
    scratch *s = ud;
    if (s->lstamp[lane][rule] != s->gen) {
        s->lstamp[lane][rule] = s->gen;
        s->lcand[lane][s->lncand[lane]++] = rule;
    }
}

typedef struct lane_ctx {
    scratch *s;
    unsigned lane;
} lane_ctx;

static void on_hit_one(void *ud, uint32_t rule)
{
    lane_ctx *c = ud;
    on_hit(c->s, c->lane, rule);
}

/* The rules to evaluate after a prefilter scan: the route's `always` rules
   and the lane's candidates routed here, merged in rule order. */
static size_t eval_order(const route *r, scratch *s, unsigned lane)
{
    uint32_t *cand = s->lcand[lane];
    size_t k = 0;
    for (size_t i = 0; i < s->lncand[lane]; i++)
        if (r->member[cand[i]])
            cand[k++] = cand[i];
    /* insertion sort: a handful of candidates per line */
    for (size_t i = 1; i < k; i++) {
        uint32_t x = cand[i];
        size_t j = i;
        while (j > 0 && cand[j - 1] > x) {
            cand[j] = cand[j - 1];
            j--;
        }
        cand[j] = x;
    }
    size_t a = 0, c = 0, n = 0;
    while (a < r->nalways || c < k) {
        if (c >= k || (a < r->nalways && r->always[a] < cand[c]))
            s->order[n++] = r->always[a++];
        else
            s->order[n++] = cand[c++];
    }
    return n;
}

/*
 * Prefilter a group of events (at most VG_PREFILTER_LANES): their raw lines
 * scanned together, then each one's field values that are not substrings of
 * its line (decoded JSON strings, auditd's hex-decoded arguments). A literal
 * a rule needs lies within one field value or within the raw line
 * (keywords), so it is found either way. ok[l] is false for an event that
 * cannot be filtered (no raw line): all its routed rules are evaluated.
 */
static void prefilter_group(const det_sigma *d, const vg_prefilter *pf, scratch *s,
                            vg_event *const *evs, unsigned n, bool *ok)
{
    const char *texts[VG_PREFILTER_LANES];
    size_t lens[VG_PREFILTER_LANES];
    if (++s->gen == 0) { /* wrapped: forget old stamps */
        for (unsigned l = 0; l < VG_PREFILTER_LANES; l++)
            memset(s->lstamp[l], 0, d->n * sizeof *s->lstamp[l]);
        s->gen = 1;
    }
    for (unsigned l = 0; l < n; l++) {
        s->lncand[l] = 0;
        ok[l] = evs[l] && evs[l]->raw.p && evs[l]->raw.n;
        texts[l] = ok[l] ? evs[l]->raw.p : "";
        lens[l] = ok[l] ? evs[l]->raw.n : 0;
    }
    vg_prefilter_scan_lanes(pf, texts, lens, n, on_hit, s);
    for (unsigned l = 0; l < n; l++) {
        if (!ok[l])
            continue;
        const vg_event *ev = evs[l];
        const char *lo = ev->raw.p, *hi = ev->raw.p + ev->raw.n;
        lane_ctx lc = {s, l};
        for (unsigned i = 0; i < ev->nfields; i++) {
            const vg_str *v = &ev->fields[i].value;
            if (v->n && (v->p < lo || v->p + v->n > hi)) {
                s->outside++;
                vg_prefilter_scan(pf, v->p, v->n, on_hit_one, &lc);
            }
        }
    }
}

static void ds_match(const void *self, void *sp, vg_batch *b, const vg_match_sink *sink)
{
    const det_sigma *d = self;
    scratch *s = sp;
    if (!d->n)
        return;
    size_t e = 0;
    while (e < b->n) {
        /* A group: up to VG_PREFILTER_LANES consecutive events that have
           rules routed and share an automaton, scanned together. */
        vg_event *evs[VG_PREFILTER_LANES];
        bool filtered[VG_PREFILTER_LANES] = {false};
        unsigned n = 0;
        const vg_prefilter *gpf = NULL;
        while (e < b->n && n < VG_PREFILTER_LANES) {
            vg_event *ev = &b->ev[e];
            const route *rt = find_route(d, s, ev);
            if (!rt->n) {
                e++;
                continue;
            }
            if (n && rt->pf != gpf)
                break;
            gpf = rt->pf;
            evs[n++] = ev;
            e++;
        }
        if (!n)
            break;
        if (gpf)
            prefilter_group(d, gpf, s, evs, n, filtered);
        for (unsigned l = 0; l < n; l++) {
            vg_event *ev = evs[l];
            /* Routes live in the cache (stable) or in s->tmp (rebuilt per
               call): look up again rather than keep a pointer. */
            const route *rt = find_route(d, s, ev);
            const uint32_t *idx = rt->idx;
            size_t nr = rt->n;
            if (gpf) {
                if (filtered[l]) {
                    s->scanned++;
                    nr = eval_order(rt, s, l);
                    idx = s->order;
                    s->skipped += rt->n - nr;
                } else {
                    s->unfilterable++;
                }
            }
            vg_sigma_scratch_next_event(s->s);
            bool timed = (s->seen++ % TIME_SAMPLE) == 0;
            for (size_t k = 0; k < nr; k++) {
                uint32_t i = idx[k];
                const vg_sigma_rule *r = d->rules[i];
                int64_t t0 = timed ? now_ns() : 0;
                bool m = vg_sigma_match(r, ev, s->s, &b->arena);
                if (timed)
                    s->ns[i] += (uint64_t)(now_ns() - t0) * TIME_SAMPLE;
                s->evals[i]++;
                if (m) {
                    vg_rule_meta *meta = vg_sigma_meta((vg_sigma_rule *)r);
                    vg_counter_add(meta->alerts, 1);
                    sink->emit(sink->ud, meta, ev);
                }
            }
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        if (!s->evals[i])
            continue;
        vg_rule_meta *meta = vg_sigma_meta(d->rules[i]);
        vg_counter_add(meta->evals, s->evals[i]);
        vg_counter_add(meta->eval_ns, s->ns[i]);
        s->evals[i] = s->ns[i] = 0;
    }
    vg_counter_add(d->c_skipped, s->skipped);
    vg_counter_add(d->c_scanned, s->scanned);
    vg_counter_add(d->c_unfilterable, s->unfilterable);
    vg_counter_add(d->c_outside, s->outside);
    s->skipped = s->scanned = s->unfilterable = s->outside = 0;
}

static void ds_destroy(void *self)
{
    det_sigma *d = self;
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        vg_sigma_rule_destroy(d->rules[i]);
    free(d->rules);
    for (size_t i = 0; i < d->nfilters; i++)
        vg_sigma_rule_destroy(d->filters[i]);
    free(d->filters);
    vg_prefilter_destroy(d->pf);
    free(d->always);
    free(d->lit_p);
    free(d->lit_n);
    free(d->lit_first);
    for (size_t i = 0; i < d->ncorrs; i++)
        vg_corr_destroy(d->corrs[i]);
    free(d->corrs);
    free(d);
}

vg_sigma_rule *const *vg_detector_sigma_rules(const void *self, size_t *n)
{
    const det_sigma *d = self;
    *n = d->n;
    return d->rules;
}

vg_corr_rule *const *vg_detector_sigma_correlations(const void *self, size_t *n)
{
    const det_sigma *d = self;
    *n = d->ncorrs;
    return d->corrs;
}

static const char *const sigma_ext[] = {".yml", ".yaml", NULL};

const vg_detector_ops vg_detector_sigma = {
    "sigma",       sigma_ext,          ds_create, ds_load_file, ds_finish, ds_count,
    ds_scratch_create, ds_scratch_destroy, ds_match, ds_destroy,
};

/*
 * baseline_rules.c - x_vigie.baseline rules on the stateful engine's hook:
 * parse the spec, keep one engine per rule (vg_rate, vg_seen, or one
 * vg_drain per source), feed it the rule's matches in event time, tick it
 * for silence, and checkpoint it under the rule's id (kept across reloads
 * while the spec is unchanged).
 */
#include "detectors/baseline_rules.h"
#include "agent/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/json.h"
#include "agent/log.h"
#include "detectors/detector.h"
#include "detectors/drain.h"
#include "detectors/ruleset.h"
#include "detectors/sigma.h"

#define BL_SEP '\x1f'
#define BL_MAX_KEY 1024
#define BL_MAX_VALUE 256
#define BL_ALERT_WINDOW (3600 * VG_NS_PER_SEC)

/* ---- spec ---------------------------------------------------------------------- */


static const char *str_of(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool num_of(const json_t *v, double *d)
{
    if (json_is_number(v)) {
        *d = json_number_value(v);
        return true;
    }
    const char *s = str_of(v);
    char *end;
    if (!s || !*s)
        return false;
    *d = strtod(s, &end);
    return *end == '\0';
}

static bool dur_of(const json_t *v, int64_t *ns)
{
    int64_t ms;
    const char *s = str_of(v);
    if (!s || vg_parse_duration_ms(s, &ms) || ms < 0 || ms > INT64_MAX / 1000000)
        return false;
    *ns = ms * 1000000;
    return true;
}

static bool bool_of(const json_t *v, bool *b)
{
    const char *s = str_of(v);
    if (json_is_boolean(v))
        *b = json_is_true(v);
    else if (s && (!strcmp(s, "true") || !strcmp(s, "yes")))
        *b = true;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no")))
        *b = false;
    else
        return false;
    return true;
}

void vg_baseline_spec_free(vg_baseline_spec *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfields; i++)
        free(s->fields[i]);
    s->nfields = 0;
}

vg_err vg_baseline_spec_parse(const json_t *x_vigie, bool *has, vg_baseline_spec *out,
                              vg_errbuf *eb)
{
    *has = false;
    memset(out, 0, sizeof *out);
    const json_t *b = json_object_get(x_vigie, "baseline");
    if (!b)
        return VG_OK;
    *has = true;
    vg_err rc = VG_ERULE;
    if (!json_is_object(b))
        return vg_errf(eb, rc, "x_vigie.baseline must be a mapping");
    const char *type = str_of(json_object_get(b, "type"));
    if (!type)
        return vg_errf(eb, rc,
                       "x_vigie.baseline.type is required (rate, first_seen, new_template)");
    if (!strcmp(type, "rate"))
        out->type = VG_BASELINE_RATE;
    else if (!strcmp(type, "first_seen"))
        out->type = VG_BASELINE_FIRST_SEEN;
    else if (!strcmp(type, "new_template"))
        out->type = VG_BASELINE_NEW_TEMPLATE;
    else if (!strcmp(type, "rare_sequence"))
        out->type = VG_BASELINE_RARE_SEQUENCE;
    else
        return vg_errf(eb, rc,
                       "x_vigie.baseline.type: '%s' is not rate, first_seen, new_template or "
                       "rare_sequence",
                       type);
    out->spike = out->silence = true;
    uint64_t sig = vg_fnv1a(1469598103934665603ULL, type, strlen(type));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v)
    {
        double d;
        bool ok = true;
        char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
        sig = vg_fnv1a(vg_fnv1a(sig, k, strlen(k) + 1), dump ? dump : "", dump ? strlen(dump) : 0);
        free(dump);
        if (!strcmp(k, "type")) {
            continue;
        } else if (!strcmp(k, "group-by") || !strcmp(k, "fields")) {
            json_t *arr = json_is_array(v) ? v : NULL;
            size_t n = arr ? json_array_size(arr) : 1;
            ok = n > 0 && n <= VG_BASELINE_MAX_FIELDS && !out->nfields;
            for (size_t i = 0; ok && i < n; i++) {
                const char *f = str_of(arr ? json_array_get(arr, i) : v);
                ok = f && *f && (out->fields[out->nfields] = strdup(f));
                if (ok)
                    out->nfields++;
            }
            if (!ok) {
                vg_errf(eb, rc, "x_vigie.baseline.%s: a list of 1 to %d field names", k,
                        VG_BASELINE_MAX_FIELDS);
                goto fail;
            }
            continue;
        } else if (!strcmp(k, "bucket")) {
            ok = dur_of(v, &out->rate.bucket_ns) && out->rate.bucket_ns >= VG_NS_PER_SEC;
        } else if (!strcmp(k, "k")) {
            ok = num_of(v, &out->rate.k) && out->rate.k > 0 && out->rate.k < 1000;
        } else if (!strcmp(k, "alpha")) {
            ok = num_of(v, &out->rate.alpha) && out->rate.alpha > 0 && out->rate.alpha <= 1;
        } else if (!strcmp(k, "min_expected")) {
            ok = num_of(v, &out->rate.min_expected) && out->rate.min_expected > 0;
        } else if (!strcmp(k, "warmup")) {
            ok = dur_of(v, &out->rate.warmup_ns);
        } else if (!strcmp(k, "seasonal")) {
            ok = bool_of(v, &out->rate.seasonal);
        } else if (!strcmp(k, "alert")) {
            out->spike = out->silence = false;
            size_t n = json_is_array(v) ? json_array_size(v) : 1;
            for (size_t i = 0; ok && i < n; i++) {
                const char *a = str_of(json_is_array(v) ? json_array_get(v, i) : v);
                if (a && !strcmp(a, "spike"))
                    out->spike = true;
                else if (a && !strcmp(a, "silence"))
                    out->silence = true;
                else
                    ok = false;
            }
            ok = ok && (out->spike || out->silence);
        } else if (!strcmp(k, "learn")) {
            ok = dur_of(v, &out->seen.learn_ns);
            out->learn_ns = out->seen.learn_ns;
        } else if (!strcmp(k, "history")) {
            ok = dur_of(v, &out->seen.history_ns) && out->seen.history_ns > 0;
        } else if (!strcmp(k, "max_groups")) {
            ok = num_of(v, &d) && d >= 1 && d <= 10000000;
            if (ok)
                out->max_groups = out->rate.max_groups = out->seen.max_values = (size_t)d;
        } else if (!strcmp(k, "gap")) {
            ok = dur_of(v, &out->sess.gap_ns) && out->sess.gap_ns > 0;
        } else if (!strcmp(k, "n")) {
            ok = num_of(v, &d) && d >= 1 && d <= 8;
            if (ok)
                out->seq.n = (unsigned)d;
        } else if (!strcmp(k, "min_count")) {
            ok = num_of(v, &d) && d >= 1 && d <= 1000000;
            if (ok)
                out->seq.min_count = (unsigned)d;
        } else if (!strcmp(k, "max_alerts")) {
            ok = num_of(v, &d) && d >= 1 && d <= 1000000;
            if (ok)
                out->max_alerts = (uint32_t)d;
        } else if (!strcmp(k, "max_templates")) {
            ok = num_of(v, &d) && d >= 1 && d <= 1000000;
            if (ok)
                out->max_templates = (size_t)d;
        } else {
            vg_errf(eb, rc,
                    "x_vigie.baseline: unknown key '%s' (type, group-by, bucket, k, warmup, "
                    "alert, seasonal, min_expected, alpha, learn, history, max_groups, "
                    "max_templates, max_alerts, gap, n, min_count)",
                    k);
            goto fail;
        }
        if (!ok) {
            vg_errf(eb, rc, "x_vigie.baseline.%s: invalid value", k);
            goto fail;
        }
    }
    if (out->type == VG_BASELINE_FIRST_SEEN && !out->nfields) {
        vg_errf(eb, rc,
                "x_vigie.baseline: first_seen needs group-by (the fields that must be new)");
        goto fail;
    }
    if (out->type == VG_BASELINE_RARE_SEQUENCE && !out->nfields) {
        vg_errf(eb, rc, "x_vigie.baseline: rare_sequence needs group-by (the session key)");
        goto fail;
    }
    if (out->type == VG_BASELINE_RARE_SEQUENCE && out->max_groups)
        out->sess.max_sessions = out->max_groups;
    if (out->type == VG_BASELINE_NEW_TEMPLATE && !out->nfields) {
        if (!(out->fields[0] = strdup("program")))
            goto fail;
        out->nfields = 1;
    }
    if (!out->learn_ns)
        out->learn_ns = 24 * 3600 * VG_NS_PER_SEC;
    if (!out->max_alerts)
        out->max_alerts = 100;
    if (!out->max_groups)
        out->max_groups = out->type == VG_BASELINE_NEW_TEMPLATE ? 64 : 0;
    out->sig = sig;
    return VG_OK;
fail:
    vg_baseline_spec_free(out);
    return rc;
}

/* ---- hook state ------------------------------------------------------------------- */

typedef struct miner {
    char *key;
    size_t keyn;
    vg_drain *d;
    int64_t first;
    uint64_t used;
} miner;

typedef struct blrule {
    const vg_rule_meta *meta;
    vg_baseline_spec sp;
    vg_rate *rate;
    vg_seen *seen;
    miner *m;
    size_t nm;
    uint64_t clock, m_evicted, evicted_reported;
    vg_counter *c_evict, *c_held;
    /* rare_sequence */
    vg_drain *tm;
    vg_sessions *ss;
    vg_seqdet *sd;
    bool started;
    int64_t first;
    int64_t win_start; /* alert budget: max_alerts per BL_ALERT_WINDOW of event time */
    uint32_t win_alerts;
    uint64_t held; /* alerts held back since the last one emitted */
} blrule;

typedef struct blhook {
    vg_stats *st;
    blrule *r;
    size_t n;
    json_t *pending; /* restored state for rules not bound yet */
    int64_t last_ts; /* event time of the last event with one (for events without) */
    vg_buf js;
    vg_event synth;
    vg_stream sstream;
    char key[BL_MAX_KEY + 1];
    char idkey[BL_MAX_KEY + 128];
    char text[512];
    /* during a rate callback */
    vg_stateful_emit_fn emit;
    void *ud;
    blrule *cur;
} blhook;

static void rule_free_engines(blrule *r)
{
    vg_rate_destroy(r->rate);
    vg_seen_destroy(r->seen);
    vg_drain_destroy(r->tm);
    vg_sessions_destroy(r->ss);
    vg_seqdet_destroy(r->sd);
    r->tm = NULL;
    r->ss = NULL;
    r->sd = NULL;
    for (size_t i = 0; i < r->nm; i++) {
        vg_drain_destroy(r->m[i].d);
        free(r->m[i].key);
    }
    free(r->m);
    r->rate = NULL;
    r->seen = NULL;
    r->m = NULL;
    r->nm = 0;
}

static bool rule_make_engines(blrule *r)
{
    if (r->sp.type == VG_BASELINE_RATE)
        return (r->rate = vg_rate_create(&r->sp.rate)) != NULL;
    if (r->sp.type == VG_BASELINE_FIRST_SEEN)
        return (r->seen = vg_seen_create(&r->sp.seen)) != NULL;
    if (r->sp.type == VG_BASELINE_RARE_SEQUENCE)
        return (r->tm = vg_drain_create(&(vg_drain_opts){.max_templates = r->sp.max_templates})) !=
                   NULL &&
               (r->ss = vg_sessions_create(&r->sp.sess)) != NULL &&
               (r->sd = vg_seqdet_create(&r->sp.seq)) != NULL;
    return true; /* miners are made per source */
}

static void *bl_create(const vg_stateful_opts *o, vg_stats *st)
{
    (void)o;
    blhook *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->st = st;
    vg_buf_init(&h->js, 64 * 1024);
    snprintf(h->sstream.id, sizeof h->sstream.id, "baseline");
    h->sstream.name = "baseline";
    h->sstream.input = "baseline";
    return h;
}

static void rules_free(blrule *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rule_free_engines(&r[i]);
        vg_baseline_spec_free(&r[i].sp);
    }
    free(r);
}

static void bl_destroy(void *self)
{
    blhook *h = self;
    if (!h)
        return;
    rules_free(h->r, h->n);
    json_decref(h->pending);
    vg_buf_free(&h->js);
    free(h);
}

static const char *rule_key(const vg_rule_meta *m)
{
    return m->id ? m->id : m->title ? m->title : "";
}

static vg_err rule_load(blrule *r, const json_t *j, vg_errbuf *eb);

static void bl_bind(void *self, const vg_ruleset *rs)
{
    blhook *h = self;
    const void *det = rs ? vg_ruleset_detector(rs, &vg_detector_sigma) : NULL;
    size_t nrules = 0;
    vg_sigma_rule *const *rules = det ? vg_detector_sigma_rules(det, &nrules) : NULL;
    blrule *nr = calloc(nrules ? nrules : 1, sizeof *nr);
    size_t nn = 0;
    if (!nr) {
        vg_log(VG_LOG_ERROR, "baseline: out of memory binding rules; baselines off");
        return;
    }
    for (size_t i = 0; i < nrules; i++) {
        const vg_rule_meta *m = vg_sigma_meta(rules[i]);
        bool has;
        vg_errbuf eb;
        blrule *r = &nr[nn];
        if (!m->x_vigie || m->is_correlation)
            continue;
        if (vg_baseline_spec_parse(m->x_vigie, &has, &r->sp, &eb)) {
            /* still consumed (a baseline rule must not alert line by line), but idle */
            vg_log_once(rule_key(m), VG_LOG_ERROR, "%s:%d: %s (baseline rule disabled)",
                        m->file ? m->file : "?", m->line, eb.msg);
            r->meta = m;
            nn++;
            continue;
        }
        if (!has)
            continue;
        r->meta = m;
        r->c_evict =
            h->st ? vg_stats_counter(h->st, "baseline.evictions", "rule", rule_key(m)) : NULL;
        r->c_held = h->st ? vg_stats_counter(h->st, "baseline.held", "rule", rule_key(m)) : NULL;
        /* keep the engines of an unchanged rule */
        bool moved = false;
        for (size_t k = 0; k < h->n; k++) {
            blrule *o = &h->r[k];
            if (o->sp.sig != r->sp.sig || strcmp(rule_key(o->meta), rule_key(m)))
                continue;
            r->rate = o->rate;
            r->seen = o->seen;
            r->tm = o->tm;
            r->ss = o->ss;
            r->sd = o->sd;
            r->started = o->started;
            r->first = o->first;
            o->tm = NULL;
            o->ss = NULL;
            o->sd = NULL;
            moved = true;
            r->m = o->m;
            r->nm = o->nm;
            r->clock = o->clock;
            r->m_evicted = o->m_evicted;
            r->evicted_reported = o->evicted_reported;
            r->win_start = o->win_start;
            r->win_alerts = o->win_alerts;
            r->held = o->held;
            o->rate = NULL;
            o->seen = NULL;
            o->m = NULL;
            o->nm = 0;
            break;
        }
        if (!moved) {
            if (!rule_make_engines(r)) {
                rule_free_engines(r);
                vg_baseline_spec_free(&r->sp);
                continue;
            }
            const json_t *pj = json_object_get(json_object_get(h->pending, "rules"), rule_key(m));
            vg_errbuf le;
            if (pj && rule_load(r, pj, &le) != VG_OK && le.code != VG_ENOTFOUND)
                vg_log(VG_LOG_WARNING, "baseline %s: saved state not restored: %s", rule_key(m),
                       le.msg);
        }
        nn++;
    }
    rules_free(h->r, h->n);
    h->r = nr;
    h->n = nn;
    json_decref(h->pending);
    h->pending = NULL;
}

static blrule *find_rule(blhook *h, const vg_rule_meta *m)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->r[i].meta == m)
            return &h->r[i];
    return NULL;
}

/* Value of a group-by field: an event field, else a well-known one. */
static vg_str field_value(const vg_event *ev, const char *name)
{
    vg_str nm = {name, strlen(name)};
    const vg_str *v = vg_event_get(ev, nm);
    if (v)
        return *v;
    if (!strcmp(name, "program"))
        return ev->program;
    if (!strcmp(name, "host") || !strcmp(name, "hostname"))
        return ev->hostname;
    if (!strcmp(name, "source") && ev->stream && ev->stream->name)
        return (vg_str){ev->stream->name, strlen(ev->stream->name)};
    return VG_STR_NULL;
}

/* The group key into h->key; false when a first_seen field is missing. */
static bool make_key(blhook *h, const blrule *r, const vg_event *ev, size_t *n)
{
    size_t w = 0;
    for (size_t i = 0; i < r->sp.nfields; i++) {
        vg_str v = field_value(ev, r->sp.fields[i]);
        if (!v.p && r->sp.type == VG_BASELINE_FIRST_SEEN)
            return false;
        size_t l = v.n < BL_MAX_VALUE ? v.n : BL_MAX_VALUE;
        if (w + l + 1 > BL_MAX_KEY)
            l = BL_MAX_KEY - w - 1;
        if (i)
            h->key[w++] = BL_SEP;
        if (l && v.p)
            memcpy(h->key + w, v.p, l);
        w += v.p ? l : 0;
    }
    h->key[w] = '\0';
    *n = w;
    return true;
}

/* "group":{"f":"v",...} from a key */
static void put_group(blhook *h, const blrule *r, const char *key, size_t n)
{
    vg_buf *b = &h->js;
    vg_buf_puts(b, "\"group\":{");
    const char *p = key, *end = key + n;
    for (size_t i = 0; i < r->sp.nfields; i++) {
        const char *q = memchr(p, BL_SEP, (size_t)(end - p));
        if (!q)
            q = end;
        if (i)
            vg_buf_putc(b, ',');
        vg_json_cstr(b, r->sp.fields[i]);
        vg_buf_putc(b, ':');
        vg_json_str(b, p, (size_t)(q - p));
        p = q < end ? q + 1 : end;
    }
    vg_buf_putc(b, '}');
}

/* A synthetic event for an alert no single line carries: fields from the key. */
static const vg_event *synth(blhook *h, const blrule *r, const char *key, size_t n, int64_t ts,
                             const char *text)
{
    vg_event *ev = &h->synth;
    vg_event_clear(ev);
    memcpy(h->key, key, n);
    h->key[n] = '\0';
    const char *p = h->key, *end = h->key + n;
    for (size_t i = 0; i < r->sp.nfields; i++) {
        const char *q = memchr(p, BL_SEP, (size_t)(end - p));
        if (!q)
            q = end;
        vg_event_set(ev, (vg_str){r->sp.fields[i], strlen(r->sp.fields[i])},
                     (vg_str){p, (size_t)(q - p)});
        p = q < end ? q + 1 : end;
    }
    ev->ts_ns = ts;
    ev->stream = &h->sstream;
    snprintf(h->text, sizeof h->text, "%s", text);
    ev->raw = ev->message = (vg_str){h->text, strlen(h->text)};
    return ev;
}

static void put_duration(vg_buf *b, int64_t ns)
{
    int64_t sec = ns / VG_NS_PER_SEC;
    if (sec % 86400 == 0)
        vg_buf_printf(b, "\"%lldd\"", (long long)(sec / 86400));
    else if (sec % 3600 == 0)
        vg_buf_printf(b, "\"%lldh\"", (long long)(sec / 3600));
    else if (sec % 60 == 0)
        vg_buf_printf(b, "\"%lldm\"", (long long)(sec / 60));
    else
        vg_buf_printf(b, "\"%llds\"", (long long)sec);
}

/*
 * May r alert at ts? At most max_alerts per hour of event time (a flood of
 * new values must not become a flood of alerts); the others are counted in
 * baseline.held and the next alert says how many were held back.
 */
static bool budget(blrule *r, int64_t ts)
{
    if (ts - r->win_start >= BL_ALERT_WINDOW || ts < r->win_start - BL_ALERT_WINDOW) {
        r->win_start = ts;
        r->win_alerts = 0;
    }
    if (r->win_alerts < r->sp.max_alerts) {
        r->win_alerts++;
        return true;
    }
    r->held++;
    if (r->c_held)
        vg_counter_add(r->c_held, 1);
    return false;
}

/* ,"held_before":N when alerts were held back since the last one. */
static void put_held(vg_buf *b, blrule *r)
{
    if (r->held)
        vg_buf_printf(b, ",\"held_before\":%llu", (unsigned long long)r->held);
    r->held = 0;
}

/* The vigie members built in b, as a C string; NULL when they did not fit. */
static const char *json_of(vg_buf *b)
{
    vg_buf_putc(b, '\0');
    return b->overflow ? NULL : b->p;
}

static void on_rate(void *ud, const vg_rate_alert *a)
{
    blhook *h = ud;
    blrule *r = h->cur;
    bool spike = a->kind == VG_RATE_SPIKE;
    if (!h->emit || (spike && !r->sp.spike) || (!spike && !r->sp.silence) || !budget(r, a->start))
        return;
    vg_rate_opts ro = r->sp.rate;
    int64_t bucket = ro.bucket_ns ? ro.bucket_ns : 60 * VG_NS_PER_SEC;
    char text[512], who[256];
    size_t w = 0;
    for (size_t i = 0; i < a->keylen && w + 1 < sizeof who; i++) /* "web01/sshd" */
        who[w++] = a->key[i] == BL_SEP ? '/' : a->key[i];
    who[w] = '\0';
    snprintf(text, sizeof text, "%s of %s: %.0f events in %lld s (expected %.1f, sd %.1f)",
             spike ? "rate spike" : "silence", w ? who : "all", a->observed,
             (long long)(bucket / VG_NS_PER_SEC), a->expected, a->stddev);
    /* the key is copied before the JSON is built: synth() reuses h->key */
    char key[BL_MAX_KEY + 1];
    size_t kn = a->keylen < BL_MAX_KEY ? a->keylen : BL_MAX_KEY;
    memcpy(key, a->key, kn);
    const vg_event *ev = synth(h, r, key, kn, a->start, text);
    vg_buf *b = &h->js;
    vg_buf_reset(b);
    vg_buf_printf(b, "\"count\":%.0f,\"baseline\":{\"type\":\"rate\",\"kind\":\"%s\",", a->observed,
                  spike ? "spike" : "silence");
    put_group(h, r, key, kn);
    vg_buf_puts(b, ",\"bucket\":{\"start\":");
    vg_json_time(b, a->start);
    vg_buf_puts(b, ",\"width\":");
    put_duration(b, bucket);
    vg_buf_printf(b, "},\"observed\":%.0f,\"expected\":%.3f,\"stddev\":%.3f,\"k\":%g", a->observed,
                  a->expected, a->stddev, ro.k ? ro.k : 4.0);
    put_held(b, r);
    vg_buf_putc(b, '}');
    snprintf(h->idkey, sizeof h->idkey, "rate:%.*s:%lld:%c", (int)kn, key, (long long)a->start,
             spike ? 's' : 'q');
    h->emit(h->ud, &(vg_stateful_alert){r->meta, ev, json_of(b), h->idkey});
}

static void count_evictions(blrule *r)
{
    uint64_t ev = r->m_evicted;
    if (r->rate) {
        vg_rate_stats st;
        vg_rate_get_stats(r->rate, &st);
        ev += st.evicted;
    }
    if (r->seen) {
        vg_seen_stats st;
        vg_seen_get_stats(r->seen, &st);
        ev += st.evicted;
    }
    for (size_t i = 0; i < r->nm; i++) {
        vg_drain_stats st;
        vg_drain_get_stats(r->m[i].d, &st);
        ev += st.evicted;
    }
    if (r->tm) {
        vg_drain_stats st;
        uint64_t g = 0, f = 0;
        vg_drain_get_stats(r->tm, &st);
        vg_seqdet_size(r->sd, &g);
        vg_sessions_open(r->ss, &f);
        ev += st.evicted + g + f;
    }
    if (ev > r->evicted_reported && r->c_evict)
        vg_counter_add(r->c_evict, ev - r->evicted_reported);
    if (ev > r->evicted_reported)
        r->evicted_reported = ev;
}

static miner *get_miner(blrule *r, const char *key, size_t n, int64_t ts)
{
    for (size_t i = 0; i < r->nm; i++)
        if (r->m[i].keyn == n && !memcmp(r->m[i].key, key, n)) {
            r->m[i].used = ++r->clock;
            return &r->m[i];
        }
    if (r->nm >= r->sp.max_groups) { /* evict the least recently used miner */
        size_t lru = 0;
        for (size_t i = 1; i < r->nm; i++)
            if (r->m[i].used < r->m[lru].used)
                lru = i;
        vg_drain_stats st;
        vg_drain_get_stats(r->m[lru].d, &st);
        r->m_evicted += 1 + st.evicted; /* its templates' evictions stay counted */
        vg_drain_destroy(r->m[lru].d);
        free(r->m[lru].key);
        r->m[lru] = r->m[--r->nm];
    }
    // NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI): nm + 1 > 0 (nm is bounded by the miner limit)
    miner *nm = realloc(r->m, (r->nm + 1) * sizeof *nm);
    if (!nm)
        return NULL;
    r->m = nm;
    miner *m = &r->m[r->nm];
    memset(m, 0, sizeof *m);
    m->key = malloc(n + 1);
    m->d = vg_drain_create(&(vg_drain_opts){.max_templates = r->sp.max_templates});
    if (!m->key || !m->d) {
        free(m->key);
        vg_drain_destroy(m->d);
        return NULL;
    }
    memcpy(m->key, key, n);
    m->key[n] = '\0';
    m->keyn = n;
    m->first = ts;
    m->used = ++r->clock;
    r->nm++;
    return m;
}

/* A session ended: learn it during the learning period, check it after. */
static void on_session(void *ud, const vg_session *ses)
{
    blhook *h = ud;
    blrule *r = h->cur;
    if (ses->last - r->first < r->sp.learn_ns) {
        vg_seqdet_learn(r->sd, ses->ev, ses->n);
        return;
    }
    size_t at = 0, rare = vg_seqdet_check(r->sd, ses->ev, ses->n, &at);
    if (!rare || !h->emit || !budget(r, ses->last))
        return;
    const char *tpl = ses->n ? vg_drain_template(r->tm, ses->ev[at]) : NULL;
    char text[512], key[BL_MAX_KEY + 1];
    size_t kn = ses->keylen < BL_MAX_KEY ? ses->keylen : BL_MAX_KEY;
    memcpy(key, ses->key, kn);
    size_t w = 0;
    char who[256];
    for (size_t i = 0; i < kn && w + 1 < sizeof who; i++)
        who[w++] = key[i] == BL_SEP ? '/' : key[i];
    who[w] = '\0';
    snprintf(text, sizeof text, "unusual sequence in %s: %zu events, first unusual at #%zu: %s",
             who, ses->n, at + 1, tpl ? tpl : "(end of session)");
    const vg_event *ev = synth(h, r, key, kn, ses->last, text);
    vg_buf *b = &h->js;
    vg_buf_reset(b);
    vg_buf_printf(b, "\"count\":%zu,\"baseline\":{\"type\":\"rare_sequence\",", ses->n);
    put_group(h, r, key, kn);
    vg_buf_puts(b, ",\"session\":{\"start\":");
    vg_json_time(b, ses->first);
    vg_buf_puts(b, ",\"end\":");
    vg_json_time(b, ses->last);
    vg_buf_printf(b, ",\"events\":%zu,\"dropped\":%llu},\"rare_grams\":%zu", ses->n,
                  (unsigned long long)ses->dropped, rare);
    vg_buf_printf(b, ",\"first_unusual\":{\"index\":%zu,\"template\":", at);
    vg_json_cstr(b, tpl ? tpl : "");
    vg_buf_puts(b, "},\"templates\":[");
    for (size_t i = 0; i < ses->n && i < 64; i++)
        vg_buf_printf(b, "%s%u", i ? "," : "", ses->ev[i]);
    vg_buf_putc(b, ']');
    put_held(b, r);
    vg_buf_putc(b, '}');
    snprintf(h->idkey, sizeof h->idkey, "seq:%.*s:%lld", (int)kn, key, (long long)ses->first);
    h->emit(h->ud, &(vg_stateful_alert){r->meta, ev, json_of(b), h->idkey});
}

static bool bl_feed(void *self, const vg_rule_meta *rule, vg_event *ev, vg_stateful_emit_fn emit,
                    void *ud)
{
    blhook *h = self;
    blrule *r = find_rule(h, rule);
    if (!r)
        return false;
    size_t kn;
    if (!r->sp.type || !make_key(h, r, ev, &kn))
        return true;
    int64_t ts = ev->ts_ns;
    if (!ts && !(ts = h->last_ts))
        return true; /* no time yet: nothing to place the event in */
    if (ev->ts_ns)
        h->last_ts = ev->ts_ns;
    vg_buf *b = &h->js;
    if (r->sp.type == VG_BASELINE_RATE) {
        h->emit = emit;
        h->ud = ud;
        h->cur = r;
        char key[BL_MAX_KEY + 1];
        memcpy(key, h->key, kn);
        vg_rate_add(r->rate, key, kn, ts, on_rate, h);
        h->emit = NULL;
    } else if (r->sp.type == VG_BASELINE_RARE_SEQUENCE) {
        if (!r->started) {
            r->started = true;
            r->first = ts;
        }
        vg_str msg = ev->message.n ? ev->message : ev->raw;
        vg_drain_match dm;
        char key[BL_MAX_KEY + 1];
        memcpy(key, h->key, kn);
        if (vg_drain_add(r->tm, msg.p, msg.n, &dm) == VG_OK) {
            h->emit = emit;
            h->ud = ud;
            h->cur = r;
            vg_sessions_add(r->ss, key, kn, ts, (uint32_t)dm.id, on_session, h);
            h->emit = NULL;
        }
    } else if (r->sp.type == VG_BASELINE_FIRST_SEEN) {
        bool fresh = false;
        vg_seen_observe(r->seen, h->key, kn, ts, &fresh);
        if (fresh && budget(r, ts)) {
            vg_buf_reset(b);
            vg_buf_puts(b, "\"baseline\":{\"type\":\"first_seen\",");
            put_group(h, r, h->key, kn);
            vg_buf_puts(b, ",\"history\":");
            put_duration(b, r->sp.seen.history_ns ? r->sp.seen.history_ns
                                                  : 30 * 24 * 3600 * VG_NS_PER_SEC);
            put_held(b, r);
            vg_buf_putc(b, '}');
            snprintf(h->idkey, sizeof h->idkey, "first:%.*s:%lld", (int)kn, h->key, (long long)ts);
            emit(ud, &(vg_stateful_alert){rule, ev, json_of(b), h->idkey});
        }
    } else {
        miner *m = get_miner(r, h->key, kn, ts);
        vg_str msg = ev->message.n ? ev->message : ev->raw;
        vg_drain_match dm;
        if (m && vg_drain_add(m->d, msg.p, msg.n, &dm) == VG_OK && dm.is_new &&
            ts - m->first >= r->sp.learn_ns && budget(r, ts)) {
            vg_buf_reset(b);
            vg_buf_puts(b, "\"baseline\":{\"type\":\"new_template\",");
            put_group(h, r, h->key, kn);
            vg_buf_puts(b, ",\"template\":");
            vg_json_cstr(b, dm.tmpl);
            vg_buf_printf(b, ",\"template_id\":%llu", (unsigned long long)dm.id);
            put_held(b, r);
            vg_buf_putc(b, '}');
            snprintf(h->idkey, sizeof h->idkey, "tpl:%.*s:%llu", (int)kn, h->key,
                     (unsigned long long)dm.id);
            emit(ud, &(vg_stateful_alert){rule, ev, json_of(b), h->idkey});
        }
    }
    count_evictions(r);
    return true;
}

static void bl_tick(void *self, int64_t now, vg_stateful_emit_fn emit, void *ud)
{
    blhook *h = self;
    for (size_t i = 0; i < h->n; i++) {
        blrule *r = &h->r[i];
        if (r->rate) {
            h->emit = emit;
            h->ud = ud;
            h->cur = r;
            vg_rate_tick(r->rate, now, on_rate, h);
            h->emit = NULL;
        }
        if (r->seen)
            vg_seen_tick(r->seen, now);
        if (r->ss) {
            h->emit = emit;
            h->ud = ud;
            h->cur = r;
            vg_sessions_tick(r->ss, now, on_session, h);
            h->emit = NULL;
        }
    }
}

/* End of input (scan, rule tests): sessions end now rather than after their gap. */
static void bl_close_all(void *self, vg_stateful_emit_fn emit, void *ud)
{
    blhook *h = self;
    for (size_t i = 0; i < h->n; i++) {
        blrule *r = &h->r[i];
        if (!r->ss)
            continue;
        h->emit = emit;
        h->ud = ud;
        h->cur = r;
        vg_sessions_close_all(r->ss, on_session, h);
        h->emit = NULL;
    }
}

/* ---- checkpoint ------------------------------------------------------------------- */

static json_t *hexs(const char *k, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hx[(unsigned char)k[i] >> 4];
        s[2 * i + 1] = hx[(unsigned char)k[i] & 15];
    }
    json_t *j = json_stringn(s, 2 * n);
    free(s);
    return j;
}

/* Value of a lowercase hex digit (what hexs() writes), else -1. */
static int lhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *unhexs(const json_t *j, size_t *n)
{
    const char *s = json_string_value(j);
    size_t l = s ? json_string_length(j) : 1;
    if (!s || l % 2 || l > 2 * BL_MAX_KEY)
        return NULL;
    char *o = malloc(l / 2 + 1);
    for (size_t i = 0; o && i < l / 2; i++) {
        int hi = lhex(s[2 * i]), lo = lhex(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(o);
            return NULL;
        }
        o[i] = (char)(hi << 4 | lo);
    }
    if (o)
        o[l / 2] = '\0';
    *n = l / 2;
    return o;
}

static json_t *rule_save(const blrule *r)
{
    if (!r->sp.type)
        return NULL;
    char sig[24];
    snprintf(sig, sizeof sig, "%016llx", (unsigned long long)r->sp.sig);
    json_t *st = NULL;
    if (r->rate)
        st = vg_rate_save(r->rate);
    else if (r->seen)
        st = vg_seen_save(r->seen);
    else if (r->tm) {
        json_t *dj = vg_drain_save(r->tm), *sj = vg_sessions_save(r->ss),
               *qj = vg_seqdet_save(r->sd);
        st = dj && sj && qj
                 ? json_pack("{s:b,s:I,s:o,s:o,s:o}", "started", r->started, "first",
                             (json_int_t)r->first, "drain", dj, "sessions", sj, "seqdet", qj)
                 : NULL;
        if (!st) {
            json_decref(dj);
            json_decref(sj);
            json_decref(qj);
        }
    } else {
        st = json_array();
        for (size_t i = 0; st && i < r->nm; i++) {
            json_t *d = vg_drain_save(r->m[i].d);
            json_t *e = d ? json_pack("{s:o,s:I,s:o}", "k", hexs(r->m[i].key, r->m[i].keyn),
                                      "first", (json_int_t)r->m[i].first, "drain", d)
                          : NULL;
            if (!e || json_array_append_new(st, e)) {
                json_decref(st);
                return NULL;
            }
        }
    }
    return st ? json_pack("{s:s,s:o}", "sig", sig, "state", st) : NULL;
}

static vg_err rule_load(blrule *r, const json_t *j, vg_errbuf *eb)
{
    char sig[24];
    snprintf(sig, sizeof sig, "%016llx", (unsigned long long)r->sp.sig);
    const char *js = json_string_value(json_object_get(j, "sig"));
    const json_t *st = json_object_get(j, "state");
    if (!js || strcmp(js, sig))
        return vg_errf(eb, VG_ENOTFOUND, "the rule's baseline spec changed");
    if (r->rate)
        return vg_rate_load(r->rate, st, eb);
    if (r->seen)
        return vg_seen_load(r->seen, st, eb);
    if (r->tm) {
        json_t *started = json_object_get(st, "started"), *first = json_object_get(st, "first");
        vg_err e;
        if (!json_is_boolean(started) || !json_is_integer(first))
            e = vg_errf(eb, VG_EPARSE, "sequence state: missing started or first");
        else if (!(e = vg_drain_load(r->tm, json_object_get(st, "drain"), eb)) &&
                 !(e = vg_sessions_load(r->ss, json_object_get(st, "sessions"), eb)))
            e = vg_seqdet_load(r->sd, json_object_get(st, "seqdet"), eb);
        if (e) { /* all or nothing */
            json_t *empty = NULL;
            vg_drain_load(r->tm, empty, NULL);
            vg_sessions_load(r->ss, empty, NULL);
            vg_seqdet_load(r->sd, empty, NULL);
            r->started = false;
            return e;
        }
        r->started = json_is_true(started);
        r->first = json_integer_value(first);
        return VG_OK;
    }
    if (!json_is_array(st))
        return vg_errf(eb, VG_EPARSE, "template state: not a list");
    size_t i;
    json_t *e;
    json_array_foreach(st, i, e)
    {
        size_t kn;
        char *k = unhexs(json_object_get(e, "k"), &kn);
        json_t *first = json_object_get(e, "first");
        miner *m =
            k && json_is_integer(first) ? get_miner(r, k, kn, json_integer_value(first)) : NULL;
        free(k);
        vg_err rc = m ? vg_drain_load(m->d, json_object_get(e, "drain"), eb) : VG_EPARSE;
        if (rc) {
            for (size_t q = 0; q < r->nm; q++) {
                vg_drain_destroy(r->m[q].d);
                free(r->m[q].key);
            }
            r->nm = 0;
            return m ? rc : vg_errf(eb, VG_EPARSE, "template state: miner %zu malformed", i);
        }
    }
    return VG_OK;
}

static json_t *bl_save(void *self)
{
    blhook *h = self;
    json_t *rules = json_object();
    for (size_t i = 0; rules && i < h->n; i++) {
        json_t *j = rule_save(&h->r[i]);
        if (j)
            json_object_set_new(rules, rule_key(h->r[i].meta), j);
    }
    return rules ? json_pack("{s:i,s:o}", "version", VG_BASELINE_STATE_VERSION, "rules", rules)
                 : NULL;
}

static vg_err bl_restore(void *self, const json_t *j, vg_errbuf *eb)
{
    blhook *h = self;
    json_t *ver = json_object_get(j, "version");
    const json_t *rules = json_object_get(j, "rules");
    if (!json_is_integer(ver) || !json_is_object(rules))
        return vg_errf(eb, VG_EPARSE, "baseline state: not a versioned object");
    if (json_integer_value(ver) != VG_BASELINE_STATE_VERSION)
        return vg_errf(eb, VG_EVERSION, "baseline state: version %lld unknown",
                       (long long)json_integer_value(ver));
    /* rules already bound load now; the others when bind() sees them */
    vg_err rc = VG_OK;
    for (size_t i = 0; i < h->n; i++) {
        const json_t *rj = json_object_get(rules, rule_key(h->r[i].meta));
        vg_errbuf le;
        if (!rj || !h->r[i].sp.type)
            continue;
        vg_err e = rule_load(&h->r[i], rj, &le);
        if (e && e != VG_ENOTFOUND && !rc) {
            rc = e;
            vg_errf(eb, e, "baseline %s: %s", rule_key(h->r[i].meta), le.msg);
        }
    }
    json_decref(h->pending);
    h->pending = json_deep_copy(j);
    return rc;
}

const vg_stateful_hook vg_baseline_hook = {
    .name = "baseline",
    .create = bl_create,
    .bind = bl_bind,
    .feed = bl_feed,
    .tick = bl_tick,
    .save = bl_save,
    .restore = bl_restore,
    .destroy = bl_destroy,
    .close_all = bl_close_all,
};

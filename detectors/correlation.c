/*
 * correlation.c - compiling Sigma correlation documents and resolving their
 * references; see correlation.h. Reads the libyaml document sigma.c loaded,
 * so every rejection names file:line:col like a base rule's.
 */
#include "correlation.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#define CR_MAX_RULES 64
#define CR_MAX_GROUP 16
#define CR_MAX_TEST_LINES 4096
#define CR_MAX_REPEAT 1000000

typedef struct cctx {
    yaml_document_t *doc;
    const char *origin;
    vg_diag_fn diag;
    void *ud;
} cctx;

__attribute__((format(printf, 4, 5))) static vg_err cdiag(cctx *c, const yaml_node_t *n,
                                                          vg_err code, const char *fmt, ...)
{
    char msg[VG_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->diag) {
        vg_diag d = {c->origin,
                     n ? (int)n->start_mark.line + 1 : 0,
                     n ? (int)n->start_mark.column + 1 : 0,
                     0,
                     code,
                     msg};
        c->diag(c->ud, &d);
    }
    return code;
}

static yaml_node_t *nd(cctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static const char *sc(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static vg_err sl_add(vg_strlist *l, const char *s)
{
    char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    if (!nv)
        return VG_ENOMEM;
    l->v = nv;
    if (!(l->v[l->n] = strdup(s)))
        return VG_ENOMEM;
    l->n++;
    return VG_OK;
}

/* A string or a list of strings. */
static vg_err take_strs(cctx *c, const char *what, yaml_node_t *v, vg_strlist *out, size_t max)
{
    vg_strlist_free(out);
    if (sc(v))
        return sl_add(out, sc(v));
    if (!v || v->type != YAML_SEQUENCE_NODE)
        return cdiag(c, v, VG_ERULE, "'%s' must be a list of strings", what);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = nd(c, *it);
        if (!sc(e))
            return cdiag(c, e, VG_ERULE, "'%s' must be a list of strings", what);
        if (out->n >= max)
            return cdiag(c, e, VG_ELIMIT, "'%s': too many entries (limit %zu)", what, max);
        vg_err r = sl_add(out, sc(e));
        if (r)
            return r;
    }
    return VG_OK;
}

static vg_err take_str(cctx *c, const char *what, yaml_node_t *v, char **out)
{
    if (!sc(v))
        return cdiag(c, v, VG_ERULE, "'%s' must be a string", what);
    free(*out);
    return (*out = strdup(sc(v))) ? VG_OK : VG_ENOMEM;
}

vg_err vg_corr_duration(const char *s, int64_t *ns)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return VG_EPARSE;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || end[0] == '\0' || end[1] != '\0')
        return VG_EPARSE;
    int64_t unit;
    switch (*end) {
    case 's':
        unit = 1000000000LL;
        break;
    case 'm':
        unit = 60LL * 1000000000LL;
        break;
    case 'h':
        unit = 3600LL * 1000000000LL;
        break;
    case 'd':
        unit = 86400LL * 1000000000LL;
        break;
    default:
        return VG_EPARSE;
    }
    if (v == 0 || v > (unsigned long long)(INT64_MAX / unit))
        return VG_EPARSE;
    *ns = (int64_t)v * unit;
    return VG_OK;
}

const char *vg_corr_type_name(vg_corr_type t)
{
    static const char *const n[] = {"event_count", "value_count", "temporal", "temporal_ordered"};
    return (unsigned)t < 4 ? n[t] : "?";
}

static int level_rank(const char *l)
{
    if (!l)
        return -1;
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(l, names[i]))
            return i;
    return -1;
}

static int parse_bool(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no"))
        return 0;
    return -1;
}

static bool parse_int(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s)
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return false;
    *out = v;
    return true;
}

/* ---- condition ---- */

static vg_err take_condition(cctx *c, yaml_node_t *v, vg_corr_rule *r)
{
    static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq", "neq"};
    if (!v || v->type != YAML_MAPPING_NODE)
        return cdiag(c, v, VG_ERULE, "'condition' must be a mapping such as {gte: 10}");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(c, p->key), *val = nd(c, p->value);
        const char *ks = sc(k);
        if (!ks)
            return cdiag(c, k, VG_ERULE, "condition keys must be strings");
        if (!strcmp(ks, "field")) {
            vg_err e = take_strs(c, "condition.field", val, &r->fields, CR_MAX_GROUP);
            if (e)
                return e;
            if (!r->fields.n)
                return cdiag(c, val, VG_ERULE, "condition.field names no field");
            free(r->field);
            if (!(r->field = strdup(r->fields.v[0])))
                return VG_ENOMEM;
            continue;
        }
        int op = -1;
        for (int i = 0; i < 6; i++)
            if (!strcmp(ks, ops[i]))
                op = i;
        if (op < 0)
            return cdiag(c, k, VG_ERULE,
                         "unknown condition operator '%s' (gt, gte, lt, lte, eq, neq, field)", ks);
        int64_t num;
        if (!parse_int(sc(val), &num))
            return cdiag(c, val, VG_ERULE, "condition.%s must be a non-negative integer", ks);
        if (r->ncond == 6)
            return cdiag(c, k, VG_ERULE, "too many condition operators");
        r->cond[r->ncond++] = (vg_corr_cond){(vg_corr_op)op, num};
        if (op >= VG_CORR_LT)
            r->cond_at_close = true;
    }
    if (!r->ncond)
        return cdiag(c, v, VG_ERULE, "'condition' needs an operator (gt, gte, lt, lte, eq, neq)");
    return VG_OK;
}

bool vg_corr_holds(const vg_corr_rule *c, uint64_t count)
{
    if (!c->ncond)
        return count >= c->rules.n;
    for (size_t i = 0; i < c->ncond; i++) {
        uint64_t v = (uint64_t)c->cond[i].value;
        bool ok = false;
        switch (c->cond[i].op) {
        case VG_CORR_GT:
            ok = count > v;
            break;
        case VG_CORR_GTE:
            ok = count >= v;
            break;
        case VG_CORR_LT:
            ok = count < v;
            break;
        case VG_CORR_LTE:
            ok = count <= v;
            break;
        case VG_CORR_EQ:
            ok = count == v;
            break;
        case VG_CORR_NEQ:
            ok = count != v;
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---- aliases ---- */

static vg_err take_aliases(cctx *c, yaml_node_t *v, vg_corr_rule *r)
{
    if (!v || v->type != YAML_MAPPING_NODE)
        return cdiag(c, v, VG_ERULE, "'aliases' must map alias -> {rule name: field}");
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (n > CR_MAX_GROUP)
        return cdiag(c, v, VG_ELIMIT, "too many aliases (limit %d)", CR_MAX_GROUP);
    r->aliases = calloc(n ? n : 1, sizeof *r->aliases);
    if (!r->aliases)
        return VG_ENOMEM;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(c, p->key), *m = nd(c, p->value);
        if (!sc(k) || !m || m->type != YAML_MAPPING_NODE)
            return cdiag(c, k, VG_ERULE, "'aliases' must map alias -> {rule name: field}");
        vg_corr_alias *a = &r->aliases[r->naliases++];
        if (!(a->alias = strdup(sc(k))))
            return VG_ENOMEM;
        size_t nm = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
        a->rule = calloc(nm ? nm : 1, sizeof *a->rule);
        a->field = calloc(nm ? nm : 1, sizeof *a->field);
        if (!a->rule || !a->field)
            return VG_ENOMEM;
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top;
             q++) {
            yaml_node_t *rk = nd(c, q->key), *fv = nd(c, q->value);
            if (!sc(rk) || !sc(fv))
                return cdiag(c, rk, VG_ERULE, "alias '%s': map rule names to field names",
                             a->alias);
            if (!(a->rule[a->n] = strdup(sc(rk))) || !(a->field[a->n] = strdup(sc(fv))))
                return VG_ENOMEM;
            a->n++;
        }
    }
    return VG_OK;
}

/* ---- tests ---- */

/* RFC 3339 UTC ("2026-01-01T00:00:00Z", optional fraction) -> ns. */
static bool parse_time(const char *s, int64_t *ns)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return false;
    int64_t frac = 0, scale = 100000000;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    if (*p != 'Z' || p[1])
        return false;
    time_t t = timegm(&tm);
    if (t < -9223372035LL || t > 9223372035LL) /* ns since 1970 fit in int64: 1677..2262 */
        return false;
    *ns = (int64_t)t * 1000000000 + frac;
    return true;
}

static vg_err take_test_line(cctx *c, yaml_node_t *n, vg_corr_test_line *tl)
{
    tl->repeat = 1;
    if (sc(n))
        return (tl->line = strdup(sc(n))) ? VG_OK : VG_ENOMEM;
    if (!n || n->type != YAML_MAPPING_NODE)
        return cdiag(c, n, VG_ERULE, "x_vigie.tests.lines: each line is a string or a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(c, p->key), *v = nd(c, p->value);
        const char *ks = sc(k);
        vg_err e = VG_OK;
        if (!ks)
            return cdiag(c, k, VG_ERULE, "x_vigie.tests.lines: keys must be strings");
        if (!strcmp(ks, "line")) {
            e = take_str(c, "line", v, &tl->line);
        } else if (!strcmp(ks, "at")) {
            if (!sc(v) || !parse_time(sc(v), &tl->at_ns))
                return cdiag(c, v, VG_ERULE,
                             "'at' must be an RFC 3339 UTC time like 2026-01-01T00:00:00Z");
        } else if (!strcmp(ks, "after")) {
            if (!sc(v) || (strcmp(sc(v), "0s") && vg_corr_duration(sc(v), &tl->after_ns)))
                return cdiag(c, v, VG_ERULE, "'after' must be a duration like 5s, 10m");
        } else if (!strcmp(ks, "repeat")) {
            int64_t r;
            if (!parse_int(sc(v), &r) || r < 1 || r > CR_MAX_REPEAT)
                return cdiag(c, v, VG_ERULE, "'repeat' must be 1..%d", CR_MAX_REPEAT);
            tl->repeat = (unsigned)r;
        } else {
            return cdiag(c, k, VG_ERULE, "x_vigie.tests.lines: unknown key '%s'", ks);
        }
        if (e)
            return e;
    }
    if (!tl->line)
        return cdiag(c, n, VG_ERULE, "x_vigie.tests.lines: missing 'line'");
    return VG_OK;
}

static vg_err take_test(cctx *c, yaml_node_t *n, vg_corr_test *t)
{
    t->alerts = t->count = -1;
    t->line_no = n ? (int)n->start_mark.line + 1 : 0;
    if (!n || n->type != YAML_MAPPING_NODE)
        return cdiag(c, n, VG_ERULE, "x_vigie.tests: each test must be a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(c, p->key), *v = nd(c, p->value);
        const char *ks = sc(k);
        vg_err e = VG_OK;
        if (!ks)
            return cdiag(c, k, VG_ERULE, "x_vigie.tests: keys must be strings");
        if (!strcmp(ks, "lines")) {
            if (!v || v->type != YAML_SEQUENCE_NODE || t->lines)
                return cdiag(c, v, VG_ERULE, "x_vigie.tests: 'lines' must be one list");
            size_t nl = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            if (nl > CR_MAX_TEST_LINES)
                return cdiag(c, v, VG_ELIMIT, "too many lines (limit %d)", CR_MAX_TEST_LINES);
            t->lines = calloc(nl ? nl : 1, sizeof *t->lines);
            if (!t->lines)
                return VG_ENOMEM;
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++)
                if ((e = take_test_line(c, nd(c, *it), &t->lines[t->nlines++])))
                    return e;
        } else if (!strcmp(ks, "format")) {
            e = take_str(c, "format", v, &t->format);
        } else if (!strcmp(ks, "logsource")) {
            e = take_str(c, "logsource", v, &t->logsource);
        } else if (!strcmp(ks, "alerts") || !strcmp(ks, "count")) {
            int64_t x;
            if (!parse_int(sc(v), &x))
                return cdiag(c, v, VG_ERULE, "x_vigie.tests: '%s' must be an integer", ks);
            *(!strcmp(ks, "alerts") ? &t->alerts : &t->count) = x;
        } else if (!strcmp(ks, "group")) {
            if (!v || v->type != YAML_MAPPING_NODE || t->group)
                return cdiag(c, v, VG_ERULE, "x_vigie.tests: 'group' must map field: value");
            size_t ng = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            t->group = calloc(ng ? ng : 1, sizeof *t->group);
            if (!t->group)
                return VG_ENOMEM;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *gk = nd(c, q->key), *gv = nd(c, q->value);
                if (!sc(gk) || !sc(gv))
                    return cdiag(c, gk, VG_ERULE, "x_vigie.tests: 'group' must map field: value");
                vg_kv *kv = &t->group[t->ngroup++];
                if (!(kv->key = strdup(sc(gk))) || sl_add(&kv->values, sc(gv)))
                    return VG_ENOMEM;
            }
        } else {
            return cdiag(c, k, VG_ERULE,
                         "x_vigie.tests: unknown key '%s' (lines, format, "
                         "logsource, alerts, count, group)",
                         ks);
        }
        if (e)
            return e;
    }
    if (!t->nlines)
        return cdiag(c, n, VG_ERULE, "x_vigie.tests: a correlation test needs 'lines'");
    if (t->alerts < 0)
        return cdiag(c, n, VG_ERULE, "x_vigie.tests: missing 'alerts' (expected alert count)");
    return VG_OK;
}

static vg_err take_x_vigie(cctx *c, yaml_node_t *v, vg_corr_rule *r)
{
    if (!v || v->type != YAML_MAPPING_NODE)
        return cdiag(c, v, VG_ERULE, "'x_vigie' must be a mapping");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(c, p->key), *tv = nd(c, p->value);
        if (!sc(k) || strcmp(sc(k), "tests"))
            return cdiag(c, k, VG_ERULE, "x_vigie of a correlation: unknown key '%s' (tests)",
                         sc(k) ? sc(k) : "?");
        if (!tv || tv->type != YAML_SEQUENCE_NODE || r->tests)
            return cdiag(c, tv, VG_ERULE, "x_vigie.tests must be one list");
        size_t n = (size_t)(tv->data.sequence.items.top - tv->data.sequence.items.start);
        r->tests = calloc(n ? n : 1, sizeof *r->tests);
        if (!r->tests)
            return VG_ENOMEM;
        for (yaml_node_item_t *it = tv->data.sequence.items.start; it < tv->data.sequence.items.top;
             it++) {
            vg_err e = take_test(c, nd(c, *it), &r->tests[r->ntests++]);
            if (e)
                return e;
        }
    }
    return VG_OK;
}

/* ---- the correlation section ---- */

static vg_err take_correlation(cctx *c, yaml_node_t *v, vg_corr_rule *r)
{
    yaml_node_t *type = NULL, *rules = NULL, *timespan = NULL, *cond = NULL;
    vg_err e = VG_OK;
    if (!v || v->type != YAML_MAPPING_NODE)
        return cdiag(c, v, VG_ERULE, "'correlation' must be a mapping");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nd(c, p->key), *val = nd(c, p->value);
        const char *ks = sc(k);
        if (!ks)
            return cdiag(c, k, VG_ERULE, "correlation keys must be strings");
        if (!strcmp(ks, "type"))
            type = val;
        else if (!strcmp(ks, "rules"))
            rules = val;
        else if (!strcmp(ks, "group-by"))
            e = take_strs(c, "group-by", val, &r->group_by, CR_MAX_GROUP);
        else if (!strcmp(ks, "timespan") || !strcmp(ks, "timeframe"))
            timespan = val;
        else if (!strcmp(ks, "condition"))
            cond = val;
        else if (!strcmp(ks, "aliases"))
            e = take_aliases(c, val, r);
        else if (!strcmp(ks, "generate")) {
            int b = parse_bool(sc(val));
            if (b < 0)
                return cdiag(c, val, VG_ERULE, "'generate' must be true or false");
            r->generate = b;
        } else
            return cdiag(c, k, VG_ERULE, "unknown correlation key '%s'", ks);
        if (e)
            return e;
    }
    const char *ts = sc(type);
    if (!ts)
        return cdiag(c, type ? type : v, VG_ERULE, "missing correlation 'type'");
    if (!strcmp(ts, "event_count"))
        r->type = VG_CORR_EVENT_COUNT;
    else if (!strcmp(ts, "value_count"))
        r->type = VG_CORR_VALUE_COUNT;
    else if (!strcmp(ts, "temporal"))
        r->type = VG_CORR_TEMPORAL;
    else if (!strcmp(ts, "temporal_ordered"))
        r->type = VG_CORR_TEMPORAL_ORDERED;
    else if (!strcmp(ts, "value_sum") || !strcmp(ts, "value_avg") ||
             !strcmp(ts, "value_percentile"))
        return cdiag(c, type, VG_EUNSUPPORTED,
                     "correlation type '%s' (specification v2.1 metrics) is not supported; "
                     "event_count, value_count, temporal and temporal_ordered are",
                     ts);
    else
        return cdiag(c, type, VG_ERULE,
                     "unknown correlation type '%s' (event_count, value_count, temporal, "
                     "temporal_ordered)",
                     ts);
    if (!rules)
        return cdiag(c, v, VG_ERULE, "missing correlation 'rules'");
    if ((e = take_strs(c, "rules", rules, &r->rules, CR_MAX_RULES)))
        return e;
    if (!r->rules.n)
        return cdiag(c, rules, VG_ERULE, "'rules' names no rule");
    if (!timespan)
        return cdiag(c, v, VG_ERULE, "missing correlation 'timespan'");
    if (!sc(timespan) || vg_corr_duration(sc(timespan), &r->timespan_ns))
        return cdiag(c, timespan, VG_ERULE,
                     "'timespan' must be a number and a unit: 30s, 10m, 1h, 2d");
    if (cond && (e = take_condition(c, cond, r)))
        return e;
    bool temporal = r->type == VG_CORR_TEMPORAL || r->type == VG_CORR_TEMPORAL_ORDERED;
    if (!temporal && !r->ncond)
        return cdiag(c, cond ? cond : v, VG_ERULE, "%s needs a 'condition' such as {gte: 10}", ts);
    if (r->type == VG_CORR_VALUE_COUNT && !r->field)
        return cdiag(c, cond, VG_ERULE, "value_count needs 'field' in its condition");
    if (r->type != VG_CORR_VALUE_COUNT && r->field)
        return cdiag(c, cond, VG_ERULE, "'field' in the condition is for value_count only");
    if (r->type == VG_CORR_TEMPORAL_ORDERED && r->ncond)
        return cdiag(c, cond, VG_EUNSUPPORTED,
                     "a condition on temporal_ordered is not supported (all rules, in order)");
    if (temporal && r->rules.n < 2)
        return cdiag(c, rules, VG_ERULE, "%s needs at least two rules", ts);
    for (size_t i = 0; i < r->naliases; i++) {
        bool used = false;
        for (size_t g = 0; g < r->group_by.n; g++)
            used = used || !strcmp(r->group_by.v[g], r->aliases[i].alias);
        for (size_t f = 0; f < r->fields.n; f++)
            used = used || !strcmp(r->fields.v[f], r->aliases[i].alias);
        if (!used)
            return cdiag(c, v, VG_ERULE, "alias '%s' is used neither in group-by nor as field",
                         r->aliases[i].alias);
    }
    return VG_OK;
}

vg_corr_rule *vg_corr_compile(struct yaml_document_s *doc, struct yaml_node_s *root,
                              const char *origin, vg_diag_fn diag, void *ud)
{
    cctx c = {doc, origin, diag, ud};
    vg_err e = VG_OK;
    yaml_node_t *corr = NULL, *xv = NULL;
    char *date = NULL, *modified = NULL;
    vg_corr_rule *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    vg_rule_meta *m = &r->meta;
    m->ruleset = "sigma";
    m->is_correlation = true;
    m->line = (int)root->start_mark.line + 1;
    if (!(m->file = strdup(origin))) {
        e = VG_ENOMEM;
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = nd(&c, p->key), *v = nd(&c, p->value);
        const char *ks = sc(k);
        if (!ks)
            continue;
        if (p == root->data.mapping.pairs.start)
            m->line = (int)k->start_mark.line + 1;
        if (!strcmp(ks, "title"))
            e = take_str(&c, ks, v, &m->title);
        else if (!strcmp(ks, "id"))
            e = take_str(&c, ks, v, &m->id);
        else if (!strcmp(ks, "name"))
            e = take_str(&c, ks, v, &m->name);
        else if (!strcmp(ks, "status"))
            e = take_str(&c, ks, v, &m->status);
        else if (!strcmp(ks, "description"))
            e = take_str(&c, ks, v, &m->description);
        else if (!strcmp(ks, "author"))
            e = take_str(&c, ks, v, &m->author);
        else if (!strcmp(ks, "date"))
            e = take_str(&c, ks, v, &date);
        else if (!strcmp(ks, "modified"))
            e = take_str(&c, ks, v, &modified);
        else if (!strcmp(ks, "level")) {
            if (!(e = take_str(&c, ks, v, &m->level)) && (m->level_rank = level_rank(m->level)) < 0)
                e = cdiag(&c, v, VG_ERULE,
                          "unknown level '%s' (informational, low, medium, high, critical)",
                          m->level);
        } else if (!strcmp(ks, "tags"))
            e = take_strs(&c, ks, v, &m->tags, 256);
        else if (!strcmp(ks, "references"))
            e = take_strs(&c, ks, v, &m->references, 256);
        else if (!strcmp(ks, "falsepositives"))
            e = take_strs(&c, ks, v, &m->falsepositives, 256);
        else if (!strcmp(ks, "correlation"))
            corr = v;
        else if (!strcmp(ks, "x_vigie"))
            xv = v;
        else if (!strcmp(ks, "detection") || !strcmp(ks, "logsource"))
            e = cdiag(&c, k, VG_ERULE, "a correlation rule has no '%s' (it names rules)", ks);
        /* other keys: custom attributes (taxonomy, related, ...) */
        if (e)
            goto out;
    }
    if (!m->title) {
        e = cdiag(&c, root, VG_ERULE, "missing required key 'title'");
        goto out;
    }
    if ((e = take_correlation(&c, corr, r)))
        goto out;
    if (xv && (e = take_x_vigie(&c, xv, r)))
        goto out;
    if (!m->level) {
        if (!(m->level = strdup("medium"))) {
            e = VG_ENOMEM;
            goto out;
        }
        m->level_rank = 2;
    }
    if (!m->id) {
        const char *b = strrchr(origin, '/');
        b = b ? b + 1 : origin;
        size_t n = strlen(b) + strlen(m->title) + 2;
        if (!(m->id = malloc(n))) {
            e = VG_ENOMEM;
            goto out;
        }
        snprintf(m->id, n, "%s:%s", b, m->title);
    }
    m->ruleset_version = modified ? modified : date;
    if (modified)
        modified = NULL;
    else
        date = NULL;
out:
    free(date);
    free(modified);
    if (e == VG_ENOMEM)
        cdiag(&c, root, VG_ENOMEM, "out of memory");
    if (e) {
        vg_corr_destroy(r);
        return NULL;
    }
    return r;
}

void vg_corr_destroy(vg_corr_rule *r)
{
    if (!r)
        return;
    vg_rule_meta_free(&r->meta);
    vg_strlist_free(&r->rules);
    vg_strlist_free(&r->group_by);
    free(r->field);
    vg_strlist_free(&r->fields);
    for (size_t i = 0; i < r->naliases; i++) {
        vg_corr_alias *a = &r->aliases[i];
        for (size_t k = 0; k < a->n; k++) {
            free(a->rule[k]);
            free(a->field[k]);
        }
        free(a->rule);
        free(a->field);
        free(a->alias);
    }
    free(r->aliases);
    for (size_t i = 0; i < r->ntests; i++)
        vg_corr_test_free(&r->tests[i]);
    free(r->tests);
    free(r->refs);
    free(r->gfield);
    free(r->vfield);
    free(r);
}

void vg_corr_test_free(vg_corr_test *t)
{
    for (size_t k = 0; k < t->nlines; k++)
        free(t->lines[k].line);
    free(t->lines);
    free(t->format);
    free(t->logsource);
    for (size_t k = 0; k < t->ngroup; k++) {
        free(t->group[k].key);
        vg_strlist_free(&t->group[k].values);
    }
    free(t->group);
    memset(t, 0, sizeof *t);
}

static vg_err jstr(const json_t *v, const char *what, char **out, vg_errbuf *eb)
{
    if (!json_is_string(v))
        return vg_errf(eb, VG_ERULE, "'%s' must be a string", what);
    return (*out = strdup(json_string_value(v))) ? VG_OK : vg_errf(eb, VG_ENOMEM, "out of memory");
}

static vg_err jline(const json_t *v, vg_corr_test_line *tl, vg_errbuf *eb)
{
    tl->repeat = 1;
    if (json_is_string(v))
        return jstr(v, "line", &tl->line, eb);
    if (!json_is_object(v))
        return vg_errf(eb, VG_ERULE, "lines: each line is a string or a mapping");
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        vg_err e = VG_OK;
        if (!strcmp(k, "line"))
            e = jstr(x, "line", &tl->line, eb);
        else if (!strcmp(k, "at")) {
            if (!json_is_string(x) || !parse_time(json_string_value(x), &tl->at_ns))
                return vg_errf(eb, VG_ERULE, "'at' must be an RFC 3339 UTC time");
        } else if (!strcmp(k, "after")) {
            if (!json_is_string(x) || (strcmp(json_string_value(x), "0s") &&
                                       vg_corr_duration(json_string_value(x), &tl->after_ns)))
                return vg_errf(eb, VG_ERULE, "'after' must be a duration like 5s");
        } else if (!strcmp(k, "repeat")) {
            if (!json_is_integer(x) || json_integer_value(x) < 1 ||
                json_integer_value(x) > CR_MAX_REPEAT)
                return vg_errf(eb, VG_ERULE, "'repeat' must be 1..%d", CR_MAX_REPEAT);
            tl->repeat = (unsigned)json_integer_value(x);
        } else
            return vg_errf(eb, VG_ERULE, "lines: unknown key '%s'", k);
        if (e)
            return e;
    }
    return tl->line ? VG_OK : vg_errf(eb, VG_ERULE, "lines: missing 'line'");
}

vg_err vg_corr_test_from_json(const json_t *j, vg_corr_test *t, vg_errbuf *eb)
{
    memset(t, 0, sizeof *t);
    t->alerts = t->count = -1;
    const char *k;
    const json_t *v;
    vg_err e = VG_OK;
    json_object_foreach((json_t *)j, k, v)
    {
        if (!strcmp(k, "lines")) {
            size_t n = json_array_size(v), i;
            const json_t *x;
            if (!json_is_array(v) || n > CR_MAX_TEST_LINES)
                return vg_errf(eb, VG_ERULE, "'lines' must be a list (at most %d)",
                               CR_MAX_TEST_LINES);
            if (!(t->lines = calloc(n ? n : 1, sizeof *t->lines)))
                return vg_errf(eb, VG_ENOMEM, "out of memory");
            json_array_foreach(v, i, x)
            {
                if ((e = jline(x, &t->lines[t->nlines++], eb)))
                    return e;
            }
        } else if (!strcmp(k, "format")) {
            e = jstr(v, "format", &t->format, eb);
        } else if (!strcmp(k, "logsource")) {
            e = jstr(v, "logsource", &t->logsource, eb);
        } else if (!strcmp(k, "alerts") || !strcmp(k, "count")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return vg_errf(eb, VG_ERULE, "'%s' must be a non-negative integer", k);
            *(!strcmp(k, "alerts") ? &t->alerts : &t->count) = json_integer_value(v);
        } else if (!strcmp(k, "group")) {
            const char *gk;
            const json_t *gv;
            if (!json_is_object(v) || t->group)
                return vg_errf(eb, VG_ERULE, "'group' must map field: value");
            if (!(t->group = calloc(json_object_size(v) + 1, sizeof *t->group)))
                return vg_errf(eb, VG_ENOMEM, "out of memory");
            json_object_foreach((json_t *)v, gk, gv)
            {
                vg_kv *kv = &t->group[t->ngroup++];
                char *val = NULL;
                if (json_is_integer(gv) &&
                    asprintf(&val, "%lld", (long long)json_integer_value(gv)) < 0)
                    val = NULL;
                else if (json_is_string(gv))
                    val = strdup(json_string_value(gv));
                if (!(kv->key = strdup(gk)) || !val || sl_add(&kv->values, val)) {
                    free(val);
                    return vg_errf(eb, VG_ERULE, "'group' must map field: value");
                }
                free(val);
            }
        } else {
            return vg_errf(eb, VG_ERULE,
                           "unknown key '%s' (lines, format, logsource, alerts, "
                           "count, group)",
                           k);
        }
        if (e)
            return e;
    }
    if (!t->nlines)
        return vg_errf(eb, VG_ERULE, "a sequence test needs 'lines'");
    if (t->alerts < 0)
        return vg_errf(eb, VG_ERULE, "missing 'alerts' (expected alert count)");
    return VG_OK;
}

/* ---- resolution ---- */

static bool meta_is(const vg_rule_meta *m, const char *key)
{
    return (m->id && !strcmp(m->id, key)) || (m->name && !strcmp(m->name, key));
}

static void rdiag(vg_diag_fn diag, void *ud, const vg_corr_rule *c, const char *msg)
{
    vg_diag d = {c->meta.file, c->meta.line, 1, 0, VG_ERULE, msg};
    if (diag)
        diag(ud, &d);
}

/* The field group-by/field name `g` reads in events of ref (aliases applied). */
static const char *alias_field(const vg_corr_rule *c, const char *g, const vg_rule_meta *ref)
{
    for (size_t a = 0; a < c->naliases; a++) {
        if (strcmp(c->aliases[a].alias, g))
            continue;
        for (size_t k = 0; k < c->aliases[a].n; k++)
            if (meta_is(ref, c->aliases[a].rule[k]) ||
                (ref->title && !strcmp(ref->title, c->aliases[a].rule[k])))
                return c->aliases[a].field[k];
    }
    return g;
}

/* Pointer comparison only: a correlation's reference may point to one
   destroyed during resolution, never dereferenced before this check. */
static bool in_base(const vg_rule_meta *ref, vg_rule_meta *const *base, size_t nbase)
{
    for (size_t b = 0; b < nbase; b++)
        if (base[b] == ref)
            return true;
    return false;
}

/* Depth of the chain under correlation i (cycle: > ncorr). */
// NOLINTNEXTLINE(misc-no-recursion): stops past ncorr levels (a cycle)
static size_t depth_of(vg_corr_rule **corrs, size_t ncorr, vg_rule_meta *const *base, size_t nbase,
                       size_t i, size_t d)
{
    if (d > ncorr)
        return d;
    size_t best = d;
    for (size_t k = 0; corrs[i] && k < corrs[i]->rules.n; k++) {
        const vg_rule_meta *ref = corrs[i]->refs[k];
        if (!ref || in_base(ref, base, nbase))
            continue;
        for (size_t j = 0; j < ncorr; j++)
            if (corrs[j] && &corrs[j]->meta == ref) {
                size_t x = depth_of(corrs, ncorr, base, nbase, j, d + 1);
                if (x > best)
                    best = x;
            }
    }
    return best;
}

void vg_corr_resolve(vg_corr_rule **corrs, size_t ncorr, vg_rule_meta *const *base, size_t nbase,
                     vg_diag_fn diag, void *ud)
{
    char msg[600];
    for (size_t i = 0; i < ncorr; i++) {
        vg_corr_rule *c = corrs[i];
        if (!c) /* already dropped */
            continue;
        size_t nr = c->rules.n, ng = c->group_by.n;
        c->refs = calloc(nr, sizeof *c->refs);
        c->gfield = calloc(nr * (ng ? ng : 1), sizeof *c->gfield);
        c->vfield = calloc(nr * (c->fields.n ? c->fields.n : 1), sizeof *c->vfield);
        if (!c->refs || !c->gfield || !c->vfield) {
            rdiag(diag, ud, c, "out of memory");
            vg_corr_destroy(c);
            corrs[i] = NULL;
            continue;
        }
        bool ok = true;
        for (size_t k = 0; k < nr && ok; k++) {
            const char *want = c->rules.v[k];
            for (size_t b = 0; b < nbase && !c->refs[k]; b++)
                if (base[b] && meta_is(base[b], want))
                    c->refs[k] = base[b];
            for (size_t j = 0; j < ncorr && !c->refs[k]; j++)
                if (corrs[j] && j != i && meta_is(&corrs[j]->meta, want))
                    c->refs[k] = &corrs[j]->meta;
            if (!c->refs[k]) {
                snprintf(msg, sizeof msg,
                         "correlation '%s' names rule '%s', which is not loaded (by id or name)",
                         c->meta.title, want);
                rdiag(diag, ud, c, msg);
                ok = false;
            }
        }
        if (!ok) {
            vg_corr_destroy(c);
            corrs[i] = NULL;
            continue;
        }
        for (size_t k = 0; k < nr; k++) {
            for (size_t g = 0; g < ng; g++)
                c->gfield[k * ng + g] = alias_field(c, c->group_by.v[g], c->refs[k]);
            for (size_t f = 0; f < c->fields.n; f++)
                c->vfield[k * c->fields.n + f] = alias_field(c, c->fields.v[f], c->refs[k]);
        }
    }
    /* Chains: a reference to a correlation rejected above, or a cycle. */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < ncorr; i++) {
            vg_corr_rule *c = corrs[i];
            if (!c)
                continue;
            bool bad = depth_of(corrs, ncorr, base, nbase, i, 0) > ncorr;
            for (size_t k = 0; !bad && k < c->rules.n; k++) {
                if (in_base(c->refs[k], base, nbase))
                    continue;
                bool alive = false;
                for (size_t j = 0; j < ncorr; j++)
                    alive = alive || (corrs[j] && &corrs[j]->meta == c->refs[k]);
                bad = !alive;
            }
            if (bad) {
                snprintf(msg, sizeof msg,
                         "correlation '%s': its chain of rules is cyclic or names a rejected "
                         "correlation",
                         c->meta.title);
                rdiag(diag, ud, c, msg);
                vg_corr_destroy(c);
                corrs[i] = NULL;
                changed = true;
            }
        }
    }
}

/* ---- suppression settings ---- */

void vg_suppress_free(vg_suppress *s)
{
    vg_strlist_free(&s->by);
    s->window_ns = 0;
}

vg_err vg_suppress_parse(const json_t *x, bool *has, vg_suppress *out, vg_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    *has = false;
    const json_t *s = x ? json_object_get(x, "suppress") : NULL;
    if (!s || json_is_false(s) || json_is_null(s))
        return VG_OK;
    const char *win = NULL;
    if (json_is_string(s)) {
        win = json_string_value(s);
    } else if (json_is_object(s)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)s, k, v)
        {
            if (!strcmp(k, "window")) {
                win = json_string_value(v);
                if (!win) {
                    vg_suppress_free(out); /* `by` may already be parsed */
                    return vg_errf(eb, VG_ERULE, "x_vigie.suppress.window must be a duration");
                }
            } else if (!strcmp(k, "by")) {
                if (json_is_string(v)) {
                    if (sl_add(&out->by, json_string_value(v))) {
                        vg_suppress_free(out);
                        return VG_ENOMEM;
                    }
                    continue;
                }
                size_t i;
                const json_t *e;
                if (!json_is_array(v)) {
                    vg_suppress_free(out); /* a `by` given twice */
                    return vg_errf(eb, VG_ERULE, "x_vigie.suppress.by must list field names");
                }
                json_array_foreach(v, i, e)
                {
                    if (!json_is_string(e) || i >= CR_MAX_GROUP) {
                        vg_suppress_free(out);
                        return vg_errf(eb, VG_ERULE,
                                       "x_vigie.suppress.by must list field names (at most %d)",
                                       CR_MAX_GROUP);
                    }
                    if (sl_add(&out->by, json_string_value(e))) {
                        vg_suppress_free(out);
                        return VG_ENOMEM;
                    }
                }
            } else {
                vg_suppress_free(out);
                return vg_errf(eb, VG_ERULE, "x_vigie.suppress: unknown key '%s' (by, window)", k);
            }
        }
    } else {
        return vg_errf(eb, VG_ERULE,
                       "x_vigie.suppress must be {by: [fields], window: 10m} or a duration");
    }
    if (!win || vg_corr_duration(win, &out->window_ns)) {
        vg_suppress_free(out);
        return vg_errf(eb, VG_ERULE, "x_vigie.suppress needs a window like 10m (Ns, Nm, Nh, Nd)");
    }
    *has = true;
    return VG_OK;
}

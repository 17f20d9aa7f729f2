/*
 * sigma.c - Sigma rule loading (libyaml document API), metadata, the
 * x_vigie test cases, config exceptions, and evaluation of a compiled rule.
 *
 * Each YAML document of a file is one rule. Every node keeps its libyaml
 * mark, so every rejection names file:line:col (1-based) and the reason; a
 * rejected rule does not stop the others. The detection section compiles into
 * selections (OR of groups, a group is an AND of items; see sigma_int.h) and a
 * condition AST (sigma_cond.c); values compile in sigma_value.c.
 *
 * Choices where the specification leaves room:
 *   - no `id`: the id is "<file basename>:<title>" (stable across loads);
 *   - no `level`: "medium"; an unknown level rejects the rule;
 *   - `field: null` matches an absent or empty field, `field: ''` a present
 *     empty field; numbers and booleans compare as their YAML text;
 *   - keywords (a list of strings, or a map key with no field such as
 *     '|all') search ev->raw (ev->message when raw is empty), case-insensitive,
 *     with implicit wildcards on both sides;
 *   - `neq`: the field is present and differs from every value;
 *   - named regex captures are kept from the selections that evaluated true
 *     outside a `not`, and added to the event only when the rule matches;
 *   - filter documents (`filter:` instead of `detection:`) load as rules
 *     marked is_filter, with their `rules:` list; the detector attaches them
 *     to the rules they name (vg_sigma_attach_filter);
 *   - field mappings (opts->field_map) give an item further field names;
 *   - correlation documents go to opts->on_correlation (correlation.c)
 *     when set, else are rejected; `action: global` collections and
 *     aggregations (`| count()`) are rejected as unsupported.
 */
#include "sigma_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <yaml.h>

#define SG_MAX_FILE (16u << 20)
#define SG_MAX_TOP_KEYS 1024 /* keeps the duplicate-key check cheap */

typedef struct sg_group {
    sg_item *items;
    size_t n;
} sg_group;

typedef struct sg_sel {
    char *name;
    sg_group *g;
    size_t ng;
    sg_pos pos;
} sg_sel;

struct vg_sigma_rule {
    vg_rule_meta meta;
    sg_sel *sels;
    size_t nsel;
    char **names; /* sels[i].name, for the condition parser */
    sg_cond cond;
    sg_group *exc;
    size_t nexc;
    pcre2_match_context *mctx;
    vg_sigma_test *tests;
    size_t ntests;
    size_t nvalues; /* compiled values + items, bounded by SG_MAX_VALUES */
    bool is_filter;             /* a Sigma filter document (filter: instead of detection:) */
    vg_strlist filter_rules;    /* its `rules:` (ids or titles) */
    const vg_sigma_rule **filters; /* filters attached to this rule (not owned) */
    size_t nfilters;
};

/* ---- diagnostics ---- */

typedef struct loadctx {
    const char *origin;
    const vg_sigma_opts *opts;
    vg_sigma_rule_fn on_rule;
    vg_diag_fn on_diag;
    void *ud;
    yaml_document_t *doc;
} loadctx;

__attribute__((format(printf, 5, 6))) static vg_err diag(loadctx *lc, sg_pos pos, vg_err code,
                                                         int warning, const char *fmt, ...)
{
    char msg[VG_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lc->on_diag) {
        vg_diag d = {lc->origin, pos.line, pos.col, warning, code, msg};
        lc->on_diag(lc->ud, &d);
    }
    return code;
}

/* ---- YAML helpers ---- */

static sg_pos pos_of(const yaml_node_t *n)
{
    if (!n)
        return (sg_pos){0, 0};
    return (sg_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

/* Position of a scalar's text (after an opening quote). */
static sg_pos text_pos(const yaml_node_t *n)
{
    sg_pos p = pos_of(n);
    if (n && n->type == YAML_SCALAR_NODE &&
        (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
         n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE))
        p.col++;
    return p;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool scalar_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return false;
    if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0 &&
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static yaml_node_t *node(loadctx *lc, int id)
{
    return yaml_document_get_node(lc->doc, id);
}

/* ---- rule lifetime ---- */

static void group_free(sg_group *g)
{
    for (size_t i = 0; i < g->n; i++)
        sg_item_free(&g->items[i]);
    free(g->items);
    g->items = NULL;
    g->n = 0;
}

void vg_sigma_rule_destroy(vg_sigma_rule *r)
{
    if (!r)
        return;
    vg_rule_meta_free(&r->meta);
    vg_strlist_free(&r->filter_rules);
    free(r->filters);
    for (size_t i = 0; i < r->nsel; i++) {
        for (size_t g = 0; g < r->sels[i].ng; g++)
            group_free(&r->sels[i].g[g]);
        free(r->sels[i].g);
        free(r->sels[i].name);
    }
    free(r->sels);
    free(r->names);
    sg_cond_free(&r->cond);
    for (size_t i = 0; i < r->nexc; i++)
        group_free(&r->exc[i]);
    free(r->exc);
    pcre2_match_context_free(r->mctx);
    for (size_t i = 0; i < r->ntests; i++) {
        vg_sigma_test *t = &r->tests[i];
        free(t->line);
        free(t->format);
        free(t->logsource);
        for (size_t k = 0; k < t->nfields; k++) {
            free(t->fields[k].key);
            vg_strlist_free(&t->fields[k].values);
        }
        free(t->fields);
        if (t->sequence)
            json_decref(t->sequence);
    }
    free(r->tests);
    free(r);
}

vg_rule_meta *vg_sigma_meta(vg_sigma_rule *r)
{
    return &r->meta;
}

const vg_sigma_test *vg_sigma_tests(const vg_sigma_rule *r, size_t *n)
{
    *n = r->ntests;
    return r->tests;
}

static int level_rank(const char *l)
{
    if (!l)
        return -1;
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++)
        if (strcmp(l, names[i]) == 0)
            return i;
    return -1;
}

/* ---- metadata ---- */

/* A string value into *out (replacing it); diagnosed when the node is not a scalar. */
static vg_err take_str(loadctx *lc, const char *key, yaml_node_t *v, char **out)
{
    const char *s = scalar(v);
    if (!s)
        return diag(lc, pos_of(v), VG_ERULE, 0, "'%s' must be a string", key);
    free(*out);
    *out = strdup(s);
    return *out ? VG_OK : VG_ENOMEM;
}

/* Grows geometrically: the capacity is the next power of two of n. */
static vg_err strlist_add(vg_strlist *l, const char *s)
{
    if ((l->n & (l->n - 1)) == 0) {
        char **nv = realloc(l->v, (l->n ? l->n * 2 : 1) * sizeof *nv);
        if (!nv)
            return VG_ENOMEM;
        l->v = nv;
    }
    if (!(l->v[l->n] = strdup(s)))
        return VG_ENOMEM;
    l->n++;
    return VG_OK;
}

static vg_err take_list(loadctx *lc, const char *key, yaml_node_t *v, vg_strlist *out)
{
    vg_strlist_free(out);
    if (scalar(v))
        return scalar_is_null(v) ? VG_OK : strlist_add(out, scalar(v));
    if (v->type != YAML_SEQUENCE_NODE)
        return diag(lc, pos_of(v), VG_ERULE, 0, "'%s' must be a list of strings", key);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = node(lc, *it);
        if (!scalar(e))
            return diag(lc, pos_of(e), VG_ERULE, 0, "'%s' must be a list of strings", key);
        vg_err err = strlist_add(out, scalar(e));
        if (err)
            return err;
    }
    return VG_OK;
}

static vg_err take_logsource(loadctx *lc, yaml_node_t *v, vg_logsource *ls)
{
    if (v->type != YAML_MAPPING_NODE)
        return diag(lc, pos_of(v), VG_ERULE, 0, "'logsource' must be a mapping");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(lc, p->key), *val = node(lc, p->value);
        const char *ks = scalar(k);
        const char **dst = NULL;
        if (!ks)
            return diag(lc, pos_of(k), VG_ERULE, 0, "logsource keys must be strings");
        if (!strcmp(ks, "product"))
            dst = &ls->product;
        else if (!strcmp(ks, "category"))
            dst = &ls->category;
        else if (!strcmp(ks, "service"))
            dst = &ls->service;
        if (!dst)
            continue; /* definition and custom keys */
        if (!scalar(val))
            return diag(lc, pos_of(val), VG_ERULE, 0, "'logsource.%s' must be a string", ks);
        free((char *)*dst);
        *dst = NULL;
        if (scalar_is_null(val))
            continue;
        if (!(*dst = strdup(scalar(val))))
            return VG_ENOMEM;
    }
    return VG_OK;
}

/* ---- x_vigie ---- */

static int parse_bool(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "yes"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE") || !strcmp(s, "no"))
        return 0;
    return -1;
}

static json_t *yaml_to_json(loadctx *lc, yaml_node_t *n, int depth);

static vg_err take_test(loadctx *lc, yaml_node_t *tn, vg_sigma_test *t)
{
    bool have_line = false, have_match = false;
    vg_err err;
    t->line_no = pos_of(tn).line;
    if (tn->type != YAML_MAPPING_NODE)
        return diag(lc, pos_of(tn), VG_ERULE, 0, "x_vigie.tests: each test must be a mapping");
    for (yaml_node_pair_t *p = tn->data.mapping.pairs.start; p < tn->data.mapping.pairs.top; p++)
        if (scalar(node(lc, p->key)) && !strcmp(scalar(node(lc, p->key)), "lines")) {
            /* a timestamped sequence: checked by `vigie rules test` */
            return (t->sequence = yaml_to_json(lc, tn, 0)) ? VG_OK : VG_ENOMEM;
        }
    for (yaml_node_pair_t *p = tn->data.mapping.pairs.start; p < tn->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(lc, p->key), *v = node(lc, p->value);
        const char *ks = scalar(k);
        if (!ks)
            return diag(lc, pos_of(k), VG_ERULE, 0, "x_vigie.tests: keys must be strings");
        if (!strcmp(ks, "line")) {
            if ((err = take_str(lc, "line", v, &t->line)))
                return err;
            have_line = true;
        } else if (!strcmp(ks, "format")) {
            if ((err = take_str(lc, "format", v, &t->format)))
                return err;
        } else if (!strcmp(ks, "logsource")) {
            if ((err = take_str(lc, "logsource", v, &t->logsource)))
                return err;
        } else if (!strcmp(ks, "match")) {
            int b = parse_bool(scalar(v));
            if (b < 0)
                return diag(lc, pos_of(v), VG_ERULE, 0,
                            "x_vigie.tests: 'match' must be true or false");
            t->match = b;
            have_match = true;
        } else if (!strcmp(ks, "fields")) {
            if (v->type != YAML_MAPPING_NODE)
                return diag(lc, pos_of(v), VG_ERULE, 0,
                            "x_vigie.tests: 'fields' must be a mapping of field: value");
            size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            if (t->fields)
                return diag(lc, pos_of(k), VG_ERULE, 0, "x_vigie.tests: duplicate 'fields'");
            t->fields = calloc(n ? n : 1, sizeof *t->fields);
            if (!t->fields)
                return VG_ENOMEM;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                yaml_node_t *fk = node(lc, q->key), *fv = node(lc, q->value);
                if (!scalar(fk) || !scalar(fv))
                    return diag(lc, pos_of(scalar(fk) ? fv : fk), VG_ERULE, 0,
                                "x_vigie.tests: 'fields' must map names to strings");
                vg_kv *kv = &t->fields[t->nfields++];
                if (!(kv->key = strdup(scalar(fk))))
                    return VG_ENOMEM;
                if ((err = strlist_add(&kv->values, scalar(fv))))
                    return err;
            }
        } else {
            return diag(lc, pos_of(k), VG_ERULE, 0, "x_vigie.tests: unknown key '%s'", ks);
        }
    }
    if (!have_line)
        return diag(lc, pos_of(tn), VG_ERULE, 0, "x_vigie.tests: missing 'line'");
    if (!have_match)
        return diag(lc, pos_of(tn), VG_ERULE, 0, "x_vigie.tests: missing 'match'");
    return VG_OK;
}

/* A YAML node as JSON (plain integers and booleans typed, other scalars
   strings), for x_vigie keys the stateful engines read. NULL on ENOMEM. */
// NOLINTNEXTLINE(misc-no-recursion): stops at depth 16
static json_t *yaml_to_json(loadctx *lc, yaml_node_t *n, int depth)
{
    if (!n || depth > 16)
        return json_null();
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = scalar(n);
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            if (scalar_is_null(n))
                return json_null();
            int b = -1;
            if (!strcmp(s, "true") || !strcmp(s, "True"))
                b = 1;
            else if (!strcmp(s, "false") || !strcmp(s, "False"))
                b = 0;
            if (b >= 0)
                return json_boolean(b);
            char *end;
            errno = 0;
            long long v = strtoll(s, &end, 10);
            if (*s && !*end && !errno)
                return json_integer(v);
        }
        return json_stringn(s, n->data.scalar.length);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             a && it < n->data.sequence.items.top; it++)
            if (json_array_append_new(a, yaml_to_json(lc, node(lc, *it), depth + 1))) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    json_t *o = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top;
         p++) {
        const char *ks = scalar(node(lc, p->key));
        if (ks && json_object_set_new(o, ks, yaml_to_json(lc, node(lc, p->value), depth + 1))) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static vg_err take_x_vigie(loadctx *lc, yaml_node_t *v, vg_sigma_rule *r)
{
    if (v->type != YAML_MAPPING_NODE)
        return diag(lc, pos_of(v), VG_ERULE, 0, "'x_vigie' must be a mapping");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(lc, p->key), *tv = node(lc, p->value);
        const char *ks = scalar(k);
        if (!ks)
            return diag(lc, pos_of(k), VG_ERULE, 0, "x_vigie: keys must be strings");
        if (strcmp(ks, "tests") != 0) {
            /* read by the stateful engines (detectors/stateful.h) */
            if (strcmp(ks, "suppress") && strcmp(ks, "baseline"))
                return diag(lc, pos_of(k), VG_ERULE, 0, "x_vigie: unknown key '%s'", ks);
            if (!r->meta.x_vigie && !(r->meta.x_vigie = json_object()))
                return VG_ENOMEM;
            json_t *j = yaml_to_json(lc, tv, 0);
            if (!j || json_object_set_new(r->meta.x_vigie, ks, j))
                return VG_ENOMEM;
            continue;
        }
        if (tv->type != YAML_SEQUENCE_NODE)
            return diag(lc, pos_of(tv), VG_ERULE, 0, "x_vigie.tests must be a list");
        size_t n = (size_t)(tv->data.sequence.items.top - tv->data.sequence.items.start);
        if (r->tests)
            return diag(lc, pos_of(k), VG_ERULE, 0, "x_vigie: duplicate 'tests'");
        r->tests = calloc(n ? n : 1, sizeof *r->tests);
        if (!r->tests)
            return VG_ENOMEM;
        for (yaml_node_item_t *it = tv->data.sequence.items.start; it < tv->data.sequence.items.top;
             it++) {
            vg_err err = take_test(lc, node(lc, *it), &r->tests[r->ntests++]);
            if (err)
                return err;
        }
    }
    return VG_OK;
}

/* ---- detection ---- */

/* Does the key ("field|mod|mod") carry modifier `mod`? */
static bool has_modifier(const char *key, const char *mod)
{
    size_t n = strlen(mod);
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): key is a YAML scalar or expand_placeholders' output, set when it returns VG_OK
    for (const char *p = strchr(key, '|'); p; p = strchr(p + 1, '|'))
        if (!strncmp(p + 1, mod, n) && (p[1 + n] == '|' || p[1 + n] == '\0'))
            return true;
    return false;
}

static bool has_re_modifier(const char *key)
{
    return has_modifier(key, "re");
}

/*
 * `field|expand: '%name%'`: replace each placeholder value by the values of
 * rules.placeholders[name], and drop `expand` from the key. The returned
 * values point into the configuration (which outlives compilation).
 */
static vg_err expand_placeholders(loadctx *lc, const char *key, const sg_raw *vals, size_t nv,
                                  char **okey, sg_raw **ovals, size_t *on)
{
    size_t cap = 0, n = 0;
    sg_raw *out = NULL;
    for (size_t i = 0; i < nv; i++) {
        const sg_raw *v = &vals[i];
        if (v->is_null || v->n < 3 || v->s[0] != '%' || v->s[v->n - 1] != '%' ||
            memchr(v->s + 1, '%', v->n - 2)) {
            free(out);
            return diag(lc, v->pos, VG_EUNSUPPORTED, 0,
                        "'expand' needs values that are one placeholder each, like '%%name%%'");
        }
        const vg_kv *ph = NULL;
        for (size_t k = 0; lc->opts && k < lc->opts->nplaceholders; k++)
            if (strlen(lc->opts->placeholders[k].key) == v->n - 2 &&
                !memcmp(lc->opts->placeholders[k].key, v->s + 1, v->n - 2))
                ph = &lc->opts->placeholders[k];
        if (!ph || !ph->values.n) {
            free(out);
            return diag(lc, v->pos, VG_EUNSUPPORTED, 0,
                        "placeholder %.*s is not defined (configure rules.placeholders)",
                        (int)(v->n > 200 ? 200 : v->n), v->s);
        }
        for (size_t k = 0; k < ph->values.n; k++) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                sg_raw *no = realloc(out, nc * sizeof *no);
                if (!no) {
                    free(out);
                    return VG_ENOMEM;
                }
                out = no;
                cap = nc;
            }
            out[n++] = (sg_raw){ph->values.v[k], strlen(ph->values.v[k]), false, v->pos};
        }
    }
    /* The key without "|expand". */
    char *k2 = strdup(key);
    if (!k2) {
        free(out);
        return VG_ENOMEM;
    }
    for (char *p = strchr(k2, '|'); p; p = strchr(p + 1, '|'))
        if (!strncmp(p + 1, "expand", 6) && (p[7] == '|' || p[7] == '\0')) {
            memmove(p, p + 7, strlen(p + 7) + 1);
            break;
        }
    *okey = k2;
    *ovals = out;
    *on = n;
    return VG_OK;
}

/*
 * A heuristic for catastrophic backtracking: a group that contains a
 * quantifier and is itself followed by an unbounded quantifier, e.g. (a+)+,
 * (\w+\s?)*, (.*a){2,}. Ignores escaped characters and character classes.
 */
static bool regex_risky(const char *re, size_t n)
{
    enum { DEPTH = 32 };
    bool inner[DEPTH] = {false};
    int d = 0;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\') {
            i++;
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = false;
            continue;
        }
        if (c == '[') {
            in_class = true;
        } else if (c == '(') {
            if (d < DEPTH - 1)
                inner[++d] = false;
        } else if (c == ')') {
            bool had = d > 0 && inner[d];
            if (d > 0)
                d--;
            char q = i + 1 < n ? re[i + 1] : '\0';
            bool unbounded = q == '*' || q == '+' ||
                             (q == '{' && i + 2 < n && memchr(re + i + 2, ',', n - i - 2) &&
                              ((const char *)memchr(re + i + 2, ',', n - i - 2))[1] == '}');
            if (had && unbounded)
                return true;
            if (had && d > 0)
                inner[d] = true;
        } else if ((c == '*' || c == '+' || c == '{') && d > 0) {
            inner[d] = true;
        }
    }
    return false;
}

/* Apply the configured field mappings to a compiled item. */
static vg_err map_fields(loadctx *lc, sg_item *it)
{
    if (!it->field || !lc->opts || !lc->opts->nfield_map)
        return VG_OK;
    for (size_t i = 0; i < lc->opts->nfield_map; i++) {
        const vg_kv *m = &lc->opts->field_map[i];
        if (strcmp(m->key, it->field) || !m->values.n)
            continue;
        it->alt = calloc(m->values.n, sizeof *it->alt);
        if (!it->alt)
            return VG_ENOMEM;
        for (size_t k = 0; k < m->values.n; k++) {
            if (!(it->alt[k] = strdup(m->values.v[k])))
                return VG_ENOMEM;
            it->nalt++;
        }
        return VG_OK;
    }
    return VG_OK;
}

static vg_err group_add_item(sg_group *g, sg_item *it)
{
    sg_item *ni = realloc(g->items, (g->n + 1) * sizeof *ni);
    if (!ni) {
        sg_item_free(it);
        return VG_ENOMEM;
    }
    g->items = ni;
    g->items[g->n++] = *it;
    return VG_OK;
}

static vg_err sel_add_group(sg_sel *s, sg_group *g)
{
    sg_group *ng = realloc(s->g, (s->ng + 1) * sizeof *ng);
    if (!ng) {
        group_free(g);
        return VG_ENOMEM;
    }
    s->g = ng;
    s->g[s->ng++] = *g;
    return VG_OK;
}

/* Compile one key and its value node (scalar or list of scalars) into an item of g. */
static vg_err compile_entry(loadctx *lc, vg_sigma_rule *r, const char *key, sg_pos keypos,
                            yaml_node_t *vn, sg_group *g)
{
    sg_raw one, *vals = &one;
    size_t nv = 0;
    vg_err err;
    if (++r->nvalues > SG_MAX_VALUES)
        return diag(lc, keypos, VG_ELIMIT, 0, "too many values in the rule (limit %d)",
                    SG_MAX_VALUES);
    if (vn->type == YAML_SCALAR_NODE) {
        one = (sg_raw){scalar(vn), vn->data.scalar.length, scalar_is_null(vn), text_pos(vn)};
        nv = 1;
    } else if (vn->type == YAML_SEQUENCE_NODE) {
        size_t n = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
        if (n > SG_MAX_VALUES)
            return diag(lc, pos_of(vn), VG_ELIMIT, 0, "too many values (limit %d)", SG_MAX_VALUES);
        vals = calloc(n ? n : 1, sizeof *vals);
        if (!vals)
            return VG_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *e = node(lc, vn->data.sequence.items.start[i]);
            if (!e || e->type != YAML_SCALAR_NODE) {
                free(vals);
                return diag(lc, pos_of(e), VG_ERULE, 0,
                            "a value list may hold only strings or numbers");
            }
            vals[nv++] = (sg_raw){scalar(e), e->data.scalar.length, scalar_is_null(e), text_pos(e)};
        }
        if (nv == 0) {
            free(vals);
            return diag(lc, pos_of(vn), VG_ERULE, 0, "empty list of values");
        }
    } else {
        return diag(lc, pos_of(vn), VG_ERULE, 0, "expected a value or a list of values");
    }
    char *ekey = NULL;
    if (has_modifier(key, "expand")) {
        sg_raw *xv = NULL;
        size_t xn = 0;
        err = expand_placeholders(lc, key, vals, nv, &ekey, &xv, &xn);
        if (vals != &one)
            free(vals);
        if (err)
            return err;
        vals = xv;
        nv = xn;
        key = ekey;
    }
    sg_item it;
    sg_pos epos;
    vg_errbuf eb = {0};
    err = sg_item_compile(&it, key, keypos, false, vals, nv, &r->nvalues, &epos, &eb);
    if (!err && has_re_modifier(key))
        for (size_t i = 0; i < nv; i++)
            if (regex_risky(vals[i].s, vals[i].n))
                diag(lc, vals[i].pos, VG_OK, 1,
                     "regex has a quantified group that itself contains a quantifier (like "
                     "(a+)+): it may backtrack catastrophically; the match limit bounds it");
    if (vals != &one)
        free(vals);
    free(ekey);
    if (err)
        return diag(lc, epos, err, 0, "%s", eb.msg);
    if ((err = map_fields(lc, &it))) {
        sg_item_free(&it);
        return err;
    }
    return group_add_item(g, &it);
}

/*
 * `x_vigie: {yara: [rule_a, ns:rule_b]}` inside a selection: true when one of
 * the named YARA rules (private ones too) matched the event. The YARA detector
 * runs first and lists them in the event field `yara` as "|ns:rule|rule|...",
 * so this is `yara|contains: ['|rule_a|', '|ns:rule_b|']`.
 */
static vg_err compile_x_vigie_yara(loadctx *lc, vg_sigma_rule *r, yaml_node_t *v, sg_pos kp,
                                   sg_group *g)
{
    yaml_node_t *names = NULL;
    if (v && v->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
            const char *k = scalar(node(lc, p->key));
            if (!k || strcmp(k, "yara"))
                return diag(lc, pos_of(node(lc, p->key)), VG_ERULE, 0,
                            "x_vigie in a selection: only 'yara: [rule names]' is known");
            names = node(lc, p->value);
        }
    size_t n = !names ? 0 : names->type == YAML_SCALAR_NODE ? 1
               : names->type == YAML_SEQUENCE_NODE
                   ? (size_t)(names->data.sequence.items.top - names->data.sequence.items.start)
                   : 0;
    if (!n || n > 256)
        return diag(lc, kp, VG_ERULE, 0, "x_vigie: {yara: ...} needs 1 to 256 YARA rule names");
    sg_raw *vals = calloc(n, sizeof *vals);
    char **bufs = calloc(n, sizeof *bufs);
    vg_err err = vals && bufs ? VG_OK : VG_ENOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        yaml_node_t *e = names->type == YAML_SCALAR_NODE
                             ? names : node(lc, names->data.sequence.items.start[i]);
        const char *nm = scalar(e);
        if (!nm || !*nm || strchr(nm, '|')) {
            err = diag(lc, pos_of(e), VG_ERULE, 0, "x_vigie.yara: expected YARA rule names");
            break;
        }
        size_t l = strlen(nm) + 3;
        if (!(bufs[i] = malloc(l))) {
            err = VG_ENOMEM;
            break;
        }
        snprintf(bufs[i], l, "|%s|", nm);
        vals[i] = (sg_raw){bufs[i], l - 1, false, text_pos(e)};
    }
    sg_item it;
    sg_pos epos;
    vg_errbuf eb = {0};
    if (!err && (err = sg_item_compile(&it, "yara|contains", kp, false, vals, n, &r->nvalues,
                                       &epos, &eb)))
        err = diag(lc, epos, err, 0, "%s", eb.msg);
    for (size_t i = 0; bufs && i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(vals);
    return err ? err : group_add_item(g, &it);
}

static vg_err compile_map(loadctx *lc, vg_sigma_rule *r, yaml_node_t *m, sg_group *g)
{
    if (m->data.mapping.pairs.top == m->data.mapping.pairs.start)
        return diag(lc, pos_of(m), VG_ERULE, 0, "empty selection");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(lc, p->key), *v = node(lc, p->value);
        if (!scalar(k))
            return diag(lc, pos_of(k), VG_ERULE, 0, "a field name must be a string");
        vg_err err = !strcmp(scalar(k), "x_vigie")
                         ? compile_x_vigie_yara(lc, r, v, text_pos(k), g)
                         : compile_entry(lc, r, scalar(k), text_pos(k), v, g);
        if (err)
            return err;
    }
    return VG_OK;
}

static vg_err compile_selection(loadctx *lc, vg_sigma_rule *r, yaml_node_t *v, sg_sel *s)
{
    vg_err err;
    sg_group g = {0};
    if (v->type == YAML_MAPPING_NODE) {
        if ((err = compile_map(lc, r, v, &g))) {
            group_free(&g);
            return err;
        }
        return sel_add_group(s, &g);
    }
    if (v->type == YAML_SCALAR_NODE) {
        if (scalar_is_null(v))
            return diag(lc, pos_of(v), VG_ERULE, 0, "empty selection '%s'", s->name);
        if ((err = compile_entry(lc, r, "", pos_of(v), v, &g))) {
            group_free(&g);
            return err;
        }
        return sel_add_group(s, &g);
    }
    /* A list: strings are keywords (one OR-ed item), maps are alternatives. */
    size_t nscalars = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *e = node(lc, *it);
        if (e->type == YAML_SCALAR_NODE) {
            nscalars++;
        } else if (e->type == YAML_MAPPING_NODE) {
            sg_group mg = {0};
            if ((err = compile_map(lc, r, e, &mg))) {
                group_free(&mg);
                return err;
            }
            if ((err = sel_add_group(s, &mg)))
                return err;
        } else {
            return diag(lc, pos_of(e), VG_ERULE, 0,
                        "a selection list may hold only strings or maps");
        }
    }
    if (nscalars == 0 && s->ng == 0)
        return diag(lc, pos_of(v), VG_ERULE, 0, "empty selection '%s'", s->name);
    if (nscalars) {
        if (nscalars == (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)) {
            err = compile_entry(lc, r, "", pos_of(v), v, &g);
        } else {
            /* mixed list: each string its own keyword alternative */
            err = VG_OK;
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 !err && it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = node(lc, *it);
                if (e->type != YAML_SCALAR_NODE)
                    continue;
                sg_group kg = {0};
                if ((err = compile_entry(lc, r, "", pos_of(e), e, &kg)))
                    group_free(&kg);
                else
                    err = sel_add_group(s, &kg);
            }
            return err;
        }
        if (err) {
            group_free(&g);
            return err;
        }
        return sel_add_group(s, &g);
    }
    return VG_OK;
}

/* Parse one condition string, reporting errors at their column when the text is on one line. */
static vg_err compile_condition(loadctx *lc, vg_sigma_rule *r, yaml_node_t *cn, bool *used)
{
    const char *text = scalar(cn);
    if (!text || scalar_is_null(cn))
        return diag(lc, pos_of(cn), VG_ERULE, 0, "the condition must be a string");
    sg_pos p = text_pos(cn);
    const char *bar = strchr(text, '|');
    if (bar) {
        if (!memchr(text, '\n', (size_t)(bar - text)))
            p.col += (int)(bar - text);
        return diag(lc, p, VG_EUNSUPPORTED, 0,
                    "aggregation in the condition ('| ...') is not supported");
    }
    size_t eoff = 0;
    vg_errbuf eb = {0};
    vg_err err = sg_cond_parse(&r->cond, text, r->names, r->nsel, used, &eoff, &eb);
    if (err) {
        if (!memchr(text, '\n', eoff) && cn->data.scalar.style != YAML_FOLDED_SCALAR_STYLE &&
            cn->data.scalar.style != YAML_LITERAL_SCALAR_STYLE)
            p.col += (int)eoff;
        return diag(lc, p, err, 0, "%s", eb.msg);
    }
    return VG_OK;
}

static vg_err take_detection(loadctx *lc, yaml_node_t *d, vg_sigma_rule *r)
{
    const char *section = r->is_filter ? "filter" : "detection";
    vg_err err = VG_OK;
    yaml_node_t *cond = NULL;
    bool *used = NULL;
    if (d->type != YAML_MAPPING_NODE)
        return diag(lc, pos_of(d), VG_ERULE, 0, "'%s' must be a mapping", section);
    size_t n = (size_t)(d->data.mapping.pairs.top - d->data.mapping.pairs.start);
    r->sels = calloc(n ? n : 1, sizeof *r->sels);
    r->names = calloc(n ? n : 1, sizeof *r->names);
    if (!r->sels || !r->names)
        return VG_ENOMEM;
    for (yaml_node_pair_t *p = d->data.mapping.pairs.start; p < d->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(lc, p->key), *v = node(lc, p->value);
        const char *ks = scalar(k);
        if (!ks)
            return diag(lc, pos_of(k), VG_ERULE, 0, "selection names must be strings");
        if (!strcmp(ks, "condition")) {
            cond = v;
            continue;
        }
        if (!strcmp(ks, "timeframe"))
            continue; /* only meaningful with aggregations, rejected in the condition */
        if (r->is_filter && !strcmp(ks, "rules")) {
            vg_err e2 = take_list(lc, ks, v, &r->filter_rules);
            if (e2)
                return e2;
            if (!r->filter_rules.n)
                return diag(lc, pos_of(v), VG_ERULE, 0, "a filter's 'rules' names no rule");
            continue;
        }
        for (size_t i = 0; i < r->nsel; i++)
            // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): name is set before nsel counts it
            if (!strcmp(r->sels[i].name, ks))
                return diag(lc, pos_of(k), VG_ERULE, 0, "duplicate selection '%s'", ks);
        if (r->nsel == SG_MAX_SELECTIONS)
            return diag(lc, pos_of(k), VG_ELIMIT, 0, "too many selections (limit %d)",
                        SG_MAX_SELECTIONS);
        sg_sel *s = &r->sels[r->nsel];
        if (!(s->name = strdup(ks)))
            return VG_ENOMEM;
        s->pos = pos_of(k);
        r->names[r->nsel] = s->name;
        r->nsel++;
        if ((err = compile_selection(lc, r, v, s)))
            return err;
    }
    if (!cond)
        return diag(lc, pos_of(d), VG_ERULE, 0, "missing 'condition' in '%s'", section);
    if (r->is_filter && !r->filter_rules.n)
        return diag(lc, pos_of(d), VG_ERULE, 0, "missing 'rules' in 'filter' (the rules it applies to)");
    used = calloc(r->nsel ? r->nsel : 1, sizeof *used);
    if (!used)
        return VG_ENOMEM;
    if (cond->type == YAML_SEQUENCE_NODE) {
        if (cond->data.sequence.items.top == cond->data.sequence.items.start)
            err = diag(lc, pos_of(cond), VG_ERULE, 0, "empty condition list");
        for (yaml_node_item_t *it = cond->data.sequence.items.start;
             !err && it < cond->data.sequence.items.top; it++)
            err = compile_condition(lc, r, node(lc, *it), used);
    } else {
        err = compile_condition(lc, r, cond, used);
    }
    for (size_t i = 0; !err && i < r->nsel; i++)
        if (!used[i])
            diag(lc, r->sels[i].pos, VG_OK, 1, "selection '%s' is not used by the condition",
                 r->sels[i].name);
    free(used);
    return err;
}

/* ---- one document ---- */

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static vg_err compile_doc(loadctx *lc, yaml_node_t *root)
{
    vg_err err = VG_OK;
    vg_sigma_rule *r = NULL;
    yaml_node_t *detection = NULL, *x_vigie = NULL, *filter = NULL;
    char *date = NULL, *modified = NULL;

    if (root->type != YAML_MAPPING_NODE)
        return diag(lc, pos_of(root), VG_ERULE, 0, "a rule must be a mapping");
    r = calloc(1, sizeof *r);
    if (!r)
        return diag(lc, pos_of(root), VG_ENOMEM, 0, "out of memory");
    r->meta.ruleset = "sigma";
    r->meta.line = pos_of(root).line;
    if (!(r->meta.file = strdup(lc->origin))) {
        err = VG_ENOMEM;
        goto out;
    }
    yaml_node_pair_t *pairs = root->data.mapping.pairs.start;
    size_t npairs = (size_t)(root->data.mapping.pairs.top - pairs);
    if (npairs)
        r->meta.line = pos_of(node(lc, pairs[0].key)).line;
    if (npairs > SG_MAX_TOP_KEYS) {
        err = diag(lc, pos_of(root), VG_ELIMIT, 0, "too many top-level keys (limit %d)",
                   SG_MAX_TOP_KEYS);
        goto out;
    }
    for (size_t i = 0; i < npairs; i++) {
        yaml_node_t *k = node(lc, pairs[i].key), *v = node(lc, pairs[i].value);
        const char *ks = scalar(k);
        if (!ks) {
            err = diag(lc, pos_of(k), VG_ERULE, 0, "top-level keys must be strings");
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            const char *o = scalar(node(lc, pairs[j].key));
            if (o && !strcmp(o, ks)) {
                err = diag(lc, pos_of(k), VG_ERULE, 0, "duplicate key '%s'", ks);
                goto out;
            }
        }
        if (!strcmp(ks, "title"))
            err = take_str(lc, ks, v, &r->meta.title);
        else if (!strcmp(ks, "id"))
            err = take_str(lc, ks, v, &r->meta.id);
        else if (!strcmp(ks, "status"))
            err = take_str(lc, ks, v, &r->meta.status);
        else if (!strcmp(ks, "description"))
            err = take_str(lc, ks, v, &r->meta.description);
        else if (!strcmp(ks, "author"))
            err = take_str(lc, ks, v, &r->meta.author);
        else if (!strcmp(ks, "date"))
            err = take_str(lc, ks, v, &date);
        else if (!strcmp(ks, "modified"))
            err = take_str(lc, ks, v, &modified);
        else if (!strcmp(ks, "level")) {
            if (!(err = take_str(lc, ks, v, &r->meta.level)) &&
                (r->meta.level_rank = level_rank(r->meta.level)) < 0)
                err = diag(lc, text_pos(v), VG_ERULE, 0,
                           "unknown level '%s' (informational, low, medium, high, critical)",
                           r->meta.level);
        } else if (!strcmp(ks, "tags"))
            err = take_list(lc, ks, v, &r->meta.tags);
        else if (!strcmp(ks, "references"))
            err = take_list(lc, ks, v, &r->meta.references);
        else if (!strcmp(ks, "falsepositives"))
            err = take_list(lc, ks, v, &r->meta.falsepositives);
        else if (!strcmp(ks, "logsource"))
            err = take_logsource(lc, v, &r->meta.logsource);
        else if (!strcmp(ks, "detection"))
            detection = v;
        else if (!strcmp(ks, "filter") && v && v->type == YAML_MAPPING_NODE)
            filter = v;
        else if (!strcmp(ks, "x_vigie"))
            x_vigie = v;
        else if (!strcmp(ks, "name"))
            err = take_str(lc, ks, v, &r->meta.name);
        else if (!strcmp(ks, "correlation")) {
            if (lc->opts && lc->opts->on_correlation) {
                vg_sigma_rule_destroy(r);
                lc->opts->on_correlation(lc->opts->corr_ud, lc->doc, root, lc->origin,
                                         lc->on_diag, lc->ud);
                free(date);
                free(modified);
                return VG_OK;
            }
            err = diag(lc, pos_of(k), VG_EUNSUPPORTED, 0, "correlation rules are not supported");
        }
        else if (!strcmp(ks, "action") && scalar(v))
            err = diag(lc, pos_of(k), VG_EUNSUPPORTED, 0,
                       "rule collections ('action: %s') are not supported", scalar(v));
        /* other keys: custom attributes, allowed by the specification */
        if (err)
            goto out;
    }
    if (!r->meta.title) {
        err = diag(lc, pos_of(root), VG_ERULE, 0, "missing required key 'title'");
        goto out;
    }
    if (!detection && filter) {
        r->is_filter = true; /* a meta filter: its condition excludes events from rules */
        detection = filter;
    } else if (!detection) {
        err = diag(lc, pos_of(root), VG_ERULE, 0, "missing required key 'detection'");
        goto out;
    }
    if (!r->meta.level) {
        if (!(r->meta.level = strdup("medium"))) {
            err = VG_ENOMEM;
            goto out;
        }
        r->meta.level_rank = 2;
    }
    if (!r->meta.id) {
        size_t n = strlen(basename_of(lc->origin)) + strlen(r->meta.title) + 2;
        if (!(r->meta.id = malloc(n))) {
            err = VG_ENOMEM;
            goto out;
        }
        snprintf(r->meta.id, n, "%s:%s", basename_of(lc->origin), r->meta.title);
    }
    if (modified) {
        r->meta.ruleset_version = modified;
        modified = NULL;
    } else {
        r->meta.ruleset_version = date;
        date = NULL;
    }
    if ((err = take_detection(lc, detection, r)))
        goto out;
    if (x_vigie && (err = take_x_vigie(lc, x_vigie, r)))
        goto out;
    if (!(r->mctx = pcre2_match_context_create(NULL))) {
        err = VG_ENOMEM;
        goto out;
    }
    if (lc->opts && lc->opts->regex_match_limit)
        pcre2_set_match_limit(r->mctx, lc->opts->regex_match_limit);
    if (lc->opts && lc->opts->regex_depth_limit)
        pcre2_set_depth_limit(r->mctx, lc->opts->regex_depth_limit);
out:
    free(date);
    free(modified);
    if (err == VG_ENOMEM)
        diag(lc, pos_of(root), VG_ENOMEM, 0, "out of memory");
    if (err) {
        vg_sigma_rule_destroy(r);
        return err;
    }
    if (lc->on_rule)
        lc->on_rule(lc->ud, r);
    else
        vg_sigma_rule_destroy(r);
    return VG_OK;
}

vg_err vg_sigma_load_buffer(const char *yaml, size_t n, const char *origin,
                            const vg_sigma_opts *opts, vg_sigma_rule_fn on_rule, vg_diag_fn on_diag,
                            void *ud)
{
    yaml_parser_t p;
    vg_err ret = VG_OK;
    loadctx lc = {origin ? origin : "<buffer>", opts, on_rule, on_diag, ud, NULL};
    if (!yaml_parser_initialize(&p))
        return diag(&lc, (sg_pos){0, 0}, VG_ENOMEM, 0, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, n);
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&p, &doc)) {
            sg_pos pos = {(int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1};
            ret = diag(&lc, pos, VG_EPARSE, 0, "invalid YAML: %s%s%s",
                       p.problem ? p.problem : "error", p.context ? " " : "",
                       p.context ? p.context : "");
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            yaml_document_delete(&doc);
            break;
        }
        lc.doc = &doc;
        if (!scalar_is_null(root)) /* an empty document between two `---` */
            compile_doc(&lc, root);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return ret;
}

vg_err vg_sigma_load_file(const char *path, const vg_sigma_opts *opts, vg_sigma_rule_fn on_rule,
                          vg_diag_fn on_diag, void *ud)
{
    loadctx lc = {path, opts, on_rule, on_diag, ud, NULL};
    vg_err err = VG_OK;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return diag(&lc, (sg_pos){0, 0}, VG_EIO, 0, "cannot open: %s", strerror(errno));
    buf = malloc(SG_MAX_FILE + 1);
    if (!buf) {
        err = diag(&lc, (sg_pos){0, 0}, VG_ENOMEM, 0, "out of memory");
        goto out;
    }
    n = fread(buf, 1, SG_MAX_FILE + 1, f);
    if (ferror(f)) {
        err = diag(&lc, (sg_pos){0, 0}, VG_EIO, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (n > SG_MAX_FILE) {
        err = diag(&lc, (sg_pos){0, 0}, VG_ELIMIT, 0, "file larger than %u bytes", SG_MAX_FILE);
        goto out;
    }
    err = vg_sigma_load_buffer(buf, n, path, opts, on_rule, on_diag, ud);
out:
    free(buf);
    (void)fclose(f); /* read only: nothing to lose */
    return err;
}

/* ---- exceptions ---- */

vg_err vg_sigma_add_exception(vg_sigma_rule *r, const vg_exception *ex, vg_errbuf *eb)
{
    vg_err err = VG_OK;
    sg_group g = {0};
    if (!ex || ex->n == 0)
        return vg_errf(eb, VG_EINVAL, "empty exception");
    for (size_t i = 0; i < ex->n; i++) {
        const vg_kv *kv = &ex->items[i];
        size_t nv = kv->values.n ? kv->values.n : 1;
        sg_raw *vals = calloc(nv, sizeof *vals);
        if (!vals) {
            err = vg_errf(eb, VG_ENOMEM, "out of memory");
            goto out;
        }
        if (kv->values.n == 0)
            vals[0].is_null = true;
        for (size_t k = 0; k < kv->values.n; k++)
            vals[k] = (sg_raw){kv->values.v[k], strlen(kv->values.v[k]), false, {0, 0}};
        sg_item it;
        sg_pos epos;
        vg_errbuf ib = {0};
        err =
            sg_item_compile(&it, kv->key, (sg_pos){0, 0}, false, vals, nv, &r->nvalues, &epos, &ib);
        free(vals);
        if (err) {
            vg_errf(eb, err, "exception key '%s': %s", kv->key, ib.msg);
            goto out;
        }
        if ((err = group_add_item(&g, &it))) {
            vg_errf(eb, err, "out of memory");
            goto out;
        }
    }
    sg_group *ne = realloc(r->exc, (r->nexc + 1) * sizeof *ne);
    if (!ne) {
        err = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    r->exc = ne;
    r->exc[r->nexc++] = g;
    return VG_OK;
out:
    group_free(&g);
    return err;
}

/* ---- evaluation ---- */

typedef struct evalctx {
    const vg_sigma_rule *r;
    sg_eval e;
} evalctx;

static bool group_match(const sg_group *g, sg_eval *e)
{
    size_t mark = e->s->ncaps;
    for (size_t i = 0; i < g->n; i++)
        if (!sg_item_match(&g->items[i], e)) {
            e->s->ncaps = mark;
            return false;
        }
    return true;
}

/*
 * A selection's result, computed once per evaluation. Captures are kept only
 * from selections evaluated outside a `not` (a negated selection that matched
 * argues against the rule); one first seen under `not` and later needed
 * positively is evaluated again to collect them.
 */
static bool sel_eval(void *ud, uint32_t i, bool positive)
{
    evalctx *c = ud;
    int8_t *res = &c->e.s->selres[i];
    if (*res == 0 || *res == 1 || (*res == 2 && !positive))
        return *res != 0;
    const sg_sel *s = &c->r->sels[i];
    size_t mark = c->e.s->ncaps;
    bool m = false;
    for (size_t g = 0; g < s->ng && !m; g++)
        m = group_match(&s->g[g], &c->e);
    if (m && !positive)
        c->e.s->ncaps = mark;
    *res = m ? (positive ? 1 : 2) : 0;
    return m;
}

static void add_captures(vg_event *ev, vg_sigma_scratch *s, vg_arena *arena)
{
    for (size_t i = 0; i < s->ncaps; i++) {
        sg_capture *c = &s->caps[i];
        vg_str name = {c->name, c->name_n}, val = {c->p, c->n};
        if (arena) {
            char *nn = vg_arena_strndup(arena, c->name, c->name_n);
            char *vv = vg_arena_strndup(arena, c->p, c->n);
            if (!nn || !vv) {
                ev->flags |= VG_EV_FIELDS_DROPPED;
                continue;
            }
            name.p = nn;
            val.p = vv;
        }
        vg_event_set(ev, name, val);
    }
    s->ncaps = 0;
}

static bool run(const vg_sigma_rule *r, vg_event *ev, vg_sigma_scratch *s, vg_arena *arena,
                vg_sigma_explain_fn fn, void *ud)
{
    evalctx c = {r, {ev, s, r->mctx, r->meta.limit_hits, NULL}};
    memset(s->selres, -1, r->nsel);
    s->ncaps = 0;
    if (fn)
        for (size_t i = 0; i < r->nsel; i++)
            fn(ud, r->sels[i].name, sel_eval(&c, (uint32_t)i, false));
    bool m = sg_cond_eval(&r->cond, sel_eval, &c);
    for (size_t i = 0; (m || fn) && i < r->nexc; i++) {
        size_t mark = s->ncaps;
        bool x = group_match(&r->exc[i], &c.e);
        s->ncaps = mark;
        if (fn) {
            char name[32];
            snprintf(name, sizeof name, "exception %zu", i + 1);
            fn(ud, name, x);
        }
        if (x)
            m = false;
    }
    for (size_t i = 0; (m || fn) && i < r->nfilters; i++) {
        const vg_sigma_rule *f = r->filters[i];
        size_t mark = s->ncaps;
        evalctx fc = {f, {ev, s, f->mctx, f->meta.limit_hits, NULL}};
        memset(s->selres, -1, f->nsel);
        bool x = sg_cond_eval(&f->cond, sel_eval, &fc);
        s->ncaps = mark;
        if (fn) {
            char name[300];
            snprintf(name, sizeof name, "filter '%s'", f->meta.title ? f->meta.title : "?");
            fn(ud, name, x);
        }
        if (x)
            m = false;
    }
    if (fn)
        fn(ud, "condition", m);
    if (m && s->ncaps)
        add_captures(ev, s, arena);
    s->ncaps = 0;
    return m;
}

bool vg_sigma_match(const vg_sigma_rule *r, vg_event *ev, vg_sigma_scratch *s, vg_arena *arena)
{
    return run(r, ev, s, arena, NULL, NULL);
}

bool vg_sigma_explain(const vg_sigma_rule *r, vg_event *ev, vg_sigma_scratch *s, vg_arena *arena,
                      vg_sigma_explain_fn fn, void *ud)
{
    return run(r, ev, s, arena, fn, ud);
}

/* ---- required literals (for the prefilter) ----
 *
 * need(x) is either "unknown" (NULL set: x may hold without any literal in the
 * text) or a set of literals one of which must occur for x to hold:
 *   item, values OR-ed   -> union of each value's literal (unknown if one has none)
 *   item, |all           -> the best single written value's alternatives
 *   group (AND of items) -> the best item's set
 *   selection (OR)       -> union over its groups
 *   and / all of         -> the best child's set;  or / 1 of -> union;  not -> unknown
 * "Best" = see ls_pick.
 */
typedef struct litset {
    bool known;
    size_t n, cap;
    const char **p;
    size_t *len;
} litset;

static void ls_free(litset *s)
{
    free(s->p);
    free(s->len);
    memset(s, 0, sizeof *s);
}

static bool ls_add(litset *s, const char *p, size_t n)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        const char **np = realloc(s->p, nc * sizeof *np);
        if (!np)
            return false;
        s->p = np;
        size_t *nl = realloc(s->len, nc * sizeof *nl);
        if (!nl)
            return false;
        s->len = nl;
        s->cap = nc;
    }
    s->p[s->n] = p;
    s->len[s->n++] = n;
    return true;
}

static bool ls_union(litset *dst, const litset *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (!ls_add(dst, src->p[i], src->len[i]))
            return false;
    return true;
}

/*
 * Literals that are in a large share of real lines whatever their length
 * (auditd record types, HTTP methods and versions, the commonest programs and
 * words): a set made of them selects almost nothing, so for ranking they
 * count as 2 bytes long. Lowercase; compared ASCII case-insensitively.
 */
static const char *const common_tokens[] = {
    "execve", "syscall", "path", "cwd", "proctitle", "sockaddr", "eoe", "user_cmd", "user_start",
    "user_end", "user_acct", "user_auth", "cred_acq", "cred_disp", "service_start",
    "service_stop", "get", "post", "head", "put", "http/1.1", "http/1.0", "http/2", "mozilla",
    "sshd", "sudo", "cron", "systemd", "kernel", "root", "session", "pam_unix", "user", NULL};

static size_t eff_len(const char *p, size_t n)
{
    for (size_t i = 0; common_tokens[i]; i++)
        if (strlen(common_tokens[i]) == n && !strncasecmp(p, common_tokens[i], n))
            return 2;
    return n;
}

static size_t ls_minlen(const litset *s)
{
    size_t m = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        size_t l = eff_len(s->p[i], s->len[i]);
        if (l < m)
            m = l;
    }
    return m;
}

static double ls_avglen(const litset *s)
{
    size_t t = 0;
    for (size_t i = 0; i < s->n; i++)
        t += eff_len(s->p[i], s->len[i]);
    return s->n ? (double)t / (double)s->n : 0;
}

/*
 * Keep the better of *best and *cand in *best; frees the other. Better =
 * rarer in real lines: a longer shortest literal, then longer literals on
 * average (a field equal to "GET" is in most web lines, "={{" or "{{7*7}}"
 * in almost none), then fewer literals; common tokens count as short.
 */
static void ls_pick(litset *best, litset *cand)
{
    if (!cand->known) {
        ls_free(cand);
        return;
    }
    size_t cm = ls_minlen(cand), bm = best->known ? ls_minlen(best) : 0;
    double ca = ls_avglen(cand), ba = best->known ? ls_avglen(best) : 0;
    if (!best->known || cm > bm || (cm == bm && ca > ba) ||
        (cm == bm && ca == ba && cand->n < best->n)) {
        ls_free(best);
        *best = *cand;
        memset(cand, 0, sizeof *cand);
        return;
    }
    ls_free(cand);
}

/* The literal a value needs (its longest wildcard-free run for a glob). */
static bool value_literal(const sg_value *v, size_t min_len, const char **p, size_t *n)
{
    switch (v->kind) {
    case SG_V_EXACT:
    case SG_V_PREFIX:
    case SG_V_SUFFIX:
    case SG_V_CONTAINS:
        *p = v->lit;
        *n = v->n;
        return v->n >= min_len;
    case SG_V_RE: /* the literal relit.c found in the pattern, if any */
        *p = v->lit;
        *n = v->n;
        return v->lit && v->n >= min_len;
    case SG_V_GLOB: {
        size_t best = 0, bstart = 0;
        for (size_t i = 0; i < v->n;) {
            if (v->wild[i]) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < v->n && !v->wild[j])
                j++;
            if (j - i > best) {
                best = j - i;
                bstart = i;
            }
            i = j;
        }
        *p = v->lit + bstart;
        *n = best;
        return best >= min_len;
    }
    default:
        return false;
    }
}

static litset need_item(const sg_item *it, size_t min_len)
{
    litset s = {0};
    if (it->kind != SG_I_VALUES || it->neq || !it->nv)
        return s;
    if (it->all) {
        litset best = {0};
        for (size_t i = 0; i < it->nv;) {
            uint32_t g = it->v[i].orig;
            litset cand = {.known = true};
            for (; i < it->nv && it->v[i].orig == g; i++) {
                const char *p;
                size_t n;
                if (!cand.known || !value_literal(&it->v[i], min_len, &p, &n) ||
                    !ls_add(&cand, p, n))
                    cand.known = false;
            }
            ls_pick(&best, &cand);
        }
        return best;
    }
    s.known = true;
    for (size_t i = 0; i < it->nv; i++) {
        const char *p;
        size_t n;
        if (!value_literal(&it->v[i], min_len, &p, &n) || !ls_add(&s, p, n)) {
            ls_free(&s);
            return s;
        }
    }
    return s;
}

static litset need_sel(const sg_sel *sel, size_t min_len)
{
    litset u = {.known = true};
    for (size_t g = 0; g < sel->ng; g++) {
        litset best = {0};
        for (size_t i = 0; i < sel->g[g].n; i++) {
            litset c = need_item(&sel->g[g].items[i], min_len);
            ls_pick(&best, &c);
        }
        if (!best.known || !ls_union(&u, &best)) {
            ls_free(&best);
            ls_free(&u);
            return u;
        }
        ls_free(&best);
    }
    if (!sel->ng)
        ls_free(&u);
    return u;
}

// NOLINTNEXTLINE(misc-no-recursion): stops at SG_MAX_COND_DEPTH
static litset need_node(const vg_sigma_rule *r, uint32_t ni, size_t min_len, int depth)
{
    litset none = {0};
    if (depth > SG_MAX_COND_DEPTH || ni >= r->cond.n)
        return none;
    const sg_node *nd = &r->cond.nodes[ni];
    switch (nd->kind) {
    case SG_N_SEL:
        return need_sel(&r->sels[nd->sel], min_len);
    case SG_N_NOT:
        return none;
    case SG_N_AND:
    case SG_N_ALL_OF: {
        litset best = {0};
        for (uint32_t k = 0; k < nd->nkids; k++) {
            litset c = nd->kind == SG_N_AND ? need_node(r, nd->kids[k], min_len, depth + 1)
                                            : need_sel(&r->sels[nd->kids[k]], min_len);
            ls_pick(&best, &c);
        }
        return best;
    }
    case SG_N_OR:
    case SG_N_ONE_OF: {
        litset u = {.known = nd->nkids > 0};
        for (uint32_t k = 0; u.known && k < nd->nkids; k++) {
            litset c = nd->kind == SG_N_OR ? need_node(r, nd->kids[k], min_len, depth + 1)
                                           : need_sel(&r->sels[nd->kids[k]], min_len);
            if (!c.known || !ls_union(&u, &c))
                ls_free(&u);
            ls_free(&c);
        }
        return u;
    }
    }
    return none;
}

bool vg_sigma_required_literals(const vg_sigma_rule *r, size_t min_len, vg_sigma_literal_fn fn,
                                void *ud)
{
    litset u = {.known = r->cond.nroots > 0};
    for (size_t i = 0; u.known && i < r->cond.nroots; i++) {
        litset c = need_node(r, r->cond.roots[i], min_len, 0);
        if (!c.known || !ls_union(&u, &c))
            ls_free(&u);
        ls_free(&c);
    }
    if (!u.known)
        return false;
    for (size_t i = 0; i < u.n; i++)
        fn(ud, u.p[i], u.len[i]);
    ls_free(&u);
    return true;
}

bool vg_sigma_is_filter(const vg_sigma_rule *r)
{
    return r->is_filter;
}

const vg_strlist *vg_sigma_filter_targets(const vg_sigma_rule *r)
{
    return &r->filter_rules;
}

vg_err vg_sigma_attach_filter(vg_sigma_rule *r, const vg_sigma_rule *filter)
{
    const vg_sigma_rule **nf = realloc(r->filters, (r->nfilters + 1) * sizeof *nf);
    if (!nf)
        return VG_ENOMEM;
    r->filters = nf;
    r->filters[r->nfilters++] = filter;
    return VG_OK;
}

void vg_sigma_fields(const vg_sigma_rule *r, vg_sigma_field_fn fn, void *ud)
{
    for (size_t i = 0; i < r->nsel; i++)
        for (size_t g = 0; g < r->sels[i].ng; g++)
            for (size_t k = 0; k < r->sels[i].g[g].n; k++) {
                const sg_item *it = &r->sels[i].g[g].items[k];
                if (it->field)
                    fn(ud, it->field, (const char *const *)it->alt, it->nalt);
            }
}

/*
 * drain.c - online log template mining (Drain: He et al., ICWS 2017).
 *
 * The tree: root -> one child per token count -> one child per value of the
 * first, second, ... token (depth - 2 layers) -> a leaf holding templates of
 * that shape. Masked tokens ("<*>" inside) and tokens met when a node is full
 * go to the node's "<*>" child, so a variable first word cannot blow up the
 * tree. A line joins the leaf template with the largest share of equal
 * constant tokens (ties: the more general one) when it reaches the
 * similarity threshold.
 *
 * Templates live in an LRU list (eviction drops the least recently matched,
 * prunes tree nodes left empty) and in an id-sorted index for lookups.
 */
#include "detectors/drain.h"
#include "detectors/lru.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char WILD[] = "<*>";

typedef struct node node;

typedef struct tmpl {
    uint64_t id;
    uint64_t count;
    unsigned ntok;
    char **tok; /* each malloc'd, or WILD */
    char *text; /* tokens joined by ' ' */
    node *leaf;
    struct tmpl *prev, *next; /* LRU: head = most recent */
} tmpl;

struct node {
    char *key;
    node *parent;
    node **kids;
    unsigned nkids, capkids;
    tmpl **tm;
    unsigned nt, capt;
};

/* A line cut into masked tokens. */
typedef struct toks {
    char buf[3 * VG_DRAIN_MAX_LINE + VG_DRAIN_MAX_TOKENS + 8];
    char *t[VG_DRAIN_MAX_TOKENS];
    unsigned n;
    bool truncated;
} toks;

struct vg_drain {
    vg_drain_opts o;
    node root;
    tmpl *head, *tail;
    size_t live;
    uint64_t next_id;
    uint64_t *ids; /* sorted, parallel to byid; byid[i] NULL once removed */
    tmpl **byid;
    size_t nids, capids;
    vg_drain_stats st;
    toks *scratch; /* the line being added (allocated once) */
};

/* ---- masking ---------------------------------------------------------- */

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Characters that make up one "word" inside a token; the others delimit.
 * (ASCII by hand: isalnum() would follow the locale.) */
static bool is_run(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == '+' || c >= 0x80;
}

static bool looks_like_path(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == '(' || s[i] == '[' || s[i] == '"' || s[i] == '\'' || s[i] == '<' ||
                     s[i] == '='))
        i++;
    for (size_t k = i; k + 2 < n; k++) /* a URL */
        if (s[k] == ':' && s[k + 1] == '/' && s[k + 2] == '/')
            return true;
    if (i < n && (s[i] == '/' || ((s[i] == '~' || s[i] == '.') && i + 1 < n && s[i + 1] == '/'))) {
        unsigned slashes = 0;
        for (size_t k = i; k < n; k++)
            slashes += s[k] == '/';
        return slashes >= 2;
    }
    return false;
}

/* Mask one token s[0..n) into o (room for 3n + 1 bytes). Returns bytes written. */
static size_t mask_token(const char *s, size_t n, char *o)
{
    if (looks_like_path(s, n)) {
        memcpy(o, WILD, 3);
        return 3;
    }
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (!is_run(c)) {
            o[w++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
            i++;
            continue;
        }
        size_t j = i;
        bool digit = false;
        while (j < n && is_run((unsigned char)s[j])) {
            digit |= s[j] >= '0' && s[j] <= '9';
            j++;
        }
        if (digit) {
            memcpy(o + w, WILD, 3);
            w += 3;
        } else {
            memcpy(o + w, s + i, j - i);
            w += j - i;
        }
        i = j;
    }
    return w;
}

static void tokenize(const char *line, size_t n, toks *tk)
{
    tk->n = 0;
    tk->truncated = false;
    if (n > VG_DRAIN_MAX_LINE) {
        n = VG_DRAIN_MAX_LINE;
        tk->truncated = true;
    }
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && is_space((unsigned char)line[i]))
            i++;
        if (i >= n)
            break;
        size_t j = i;
        while (j < n && !is_space((unsigned char)line[j]))
            j++;
        if (tk->n == VG_DRAIN_MAX_TOKENS) {
            tk->truncated = true;
            break;
        }
        tk->t[tk->n++] = tk->buf + w;
        w += mask_token(line + i, j - i, tk->buf + w);
        tk->buf[w++] = '\0';
        i = j;
    }
}

size_t vg_drain_mask(const char *line, size_t n, char *out, size_t cap)
{
    if (!cap)
        return 0;
    toks *tk = malloc(sizeof *tk);
    if (!tk) {
        out[0] = '\0';
        return 0;
    }
    tokenize(line ? line : "", line ? n : 0, tk);
    size_t w = 0;
    for (unsigned i = 0; i < tk->n; i++) {
        size_t l = strlen(tk->t[i]);
        if (w + (i > 0) + l + 1 > cap)
            break;
        if (i)
            out[w++] = ' ';
        memcpy(out + w, tk->t[i], l);
        w += l;
    }
    out[w] = '\0';
    free(tk);
    return w;
}

static bool has_wild(const char *t)
{
    return strstr(t, WILD) != NULL;
}

/* ---- tree --------------------------------------------------------------- */

static node *kid_find(const node *p, const char *key)
{
    for (unsigned i = 0; i < p->nkids; i++)
        if (strcmp(p->kids[i]->key, key) == 0)
            return p->kids[i];
    return NULL;
}

static node *kid_add(node *p, const char *key)
{
    if (p->nkids == p->capkids) {
        unsigned nc = p->capkids ? 2 * p->capkids : 4;
        node **k = realloc(p->kids, nc * sizeof *k);
        if (!k)
            return NULL;
        p->kids = k;
        p->capkids = nc;
    }
    node *c = calloc(1, sizeof *c);
    if (!c || !(c->key = strdup(key))) {
        free(c);
        return NULL;
    }
    c->parent = p;
    p->kids[p->nkids++] = c;
    return c;
}

// NOLINTNEXTLINE(misc-no-recursion): the prefix tree is at most o.depth <= 16 levels
static void node_free(node *n)
{
    for (unsigned i = 0; i < n->nkids; i++) {
        node_free(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    free(n->tm);
    free(n->key);
    n->kids = NULL;
    n->tm = NULL;
    n->key = NULL;
    n->nkids = n->capkids = n->nt = n->capt = 0;
}

/* Remove empty nodes from n upward (never the root). */
static void prune(node *n)
{
    while (n && n->parent && n->nkids == 0 && n->nt == 0) {
        node *p = n->parent;
        for (unsigned i = 0; i < p->nkids; i++)
            if (p->kids[i] == n) {
                p->kids[i] = p->kids[--p->nkids];
                break;
            }
        node_free(n);
        free(n);
        n = p;
    }
}

/*
 * The leaf of a line's route. With create, missing nodes are made (NULL on
 * ENOMEM); without, NULL when the route does not exist. The key of a layer
 * is the token itself, or "<*>" when it is masked or the node is full.
 */
static node *route(vg_drain *d, const toks *tk, bool create)
{
    char len[16];
    snprintf(len, sizeof len, "%u", tk->n);
    node *n = kid_find(&d->root, len);
    if (!n) {
        if (!create)
            return NULL;
        if (!(n = kid_add(&d->root, len)))
            return NULL;
    }
    unsigned layers = d->o.depth - 2;
    for (unsigned i = 0; i < layers && i < tk->n; i++) {
        const char *t = tk->t[i];
        node *c = has_wild(t) ? NULL : kid_find(n, t);
        if (!c) {
            bool room = !has_wild(t) && n->nkids + 1 < d->o.max_children;
            if (create && room) {
                c = kid_add(n, t);
            } else {
                c = kid_find(n, WILD);
                if (!c && create)
                    c = kid_add(n, WILD);
            }
            if (!c)
                return NULL;
        }
        n = c;
    }
    return n;
}

/* ---- templates ------------------------------------------------------------ */

/* Share of the template's tokens equal to the line's (wildcards excluded),
 * and the number of wildcards, for tie-breaking. */
static double similarity(const tmpl *t, const toks *tk, unsigned *nwild)
{
    if (t->ntok == 0) {
        *nwild = 0;
        return 1.0;
    }
    unsigned eq = 0, w = 0;
    for (unsigned i = 0; i < t->ntok; i++) {
        if (t->tok[i] == WILD)
            w++;
        // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): a leaf holds templates of tk's token count, so tk->t[i] is set
        else if (strcmp(t->tok[i], tk->t[i]) == 0)
            eq++;
    }
    *nwild = w;
    /* positions already generalized say nothing either way (Drain counts them
     * against the match, which splits a template once it has many "<*>") */
    return w == t->ntok ? 1.0 : (double)eq / (t->ntok - w);
}

static tmpl *best_in(const node *leaf, const toks *tk, double thr)
{
    tmpl *best = NULL;
    double bs = -1;
    unsigned bw = 0;
    for (unsigned i = 0; leaf && i < leaf->nt; i++) {
        tmpl *t = leaf->tm[i];
        unsigned w;
        double s = similarity(t, tk, &w);
        if (s > bs || (s == bs && w > bw)) {
            best = t;
            bs = s;
            bw = w;
        }
    }
    return bs >= thr ? best : NULL;
}

static char *join(char **tok, unsigned n)
{
    size_t l = 1;
    for (unsigned i = 0; i < n; i++)
        l += strlen(tok[i]) + 1;
    char *s = malloc(l), *p = s;
    if (!s)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        if (i)
            *p++ = ' ';
        size_t k = strlen(tok[i]);
        memcpy(p, tok[i], k);
        p += k;
    }
    *p = '\0';
    return s;
}

static void tmpl_free(tmpl *t)
{
    if (!t)
        return;
    for (unsigned i = 0; t->tok && i < t->ntok; i++)
        if (t->tok[i] != WILD)
            free(t->tok[i]);
    free(t->tok);
    free(t->text);
    free(t);
}

static tmpl *tmpl_new(char *const *tokv, unsigned n)
{
    tmpl *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tok = calloc(n ? n : 1, sizeof *t->tok);
    if (!t->tok)
        goto fail;
    t->ntok = n;
    for (unsigned i = 0; i < n; i++) {
        t->tok[i] = strcmp(tokv[i], WILD) == 0 ? WILD : strdup(tokv[i]);
        if (!t->tok[i])
            goto fail;
    }
    if (!(t->text = join(t->tok, n)))
        goto fail;
    return t;
fail:
    tmpl_free(t);
    return NULL;
}

static void lru_unlink(vg_drain *d, tmpl *t)
{
    VG_LRU_UNLINK(d, t, prev, next);
}

static void lru_front(vg_drain *d, tmpl *t)
{
    VG_LRU_FRONT(d, t, prev, next);
}

static size_t id_pos(const vg_drain *d, uint64_t id)
{
    size_t lo = 0, hi = d->nids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void id_compact(vg_drain *d)
{
    size_t w = 0;
    for (size_t i = 0; i < d->nids; i++)
        if (d->byid[i]) {
            d->ids[w] = d->ids[i];
            d->byid[w++] = d->byid[i];
        }
    d->nids = w;
}

/* Append (ids only grow). */
static bool id_add(vg_drain *d, tmpl *t)
{
    if (d->nids > 2 * d->live + 16)
        id_compact(d);
    if (d->nids == d->capids) {
        size_t nc = d->capids ? 2 * d->capids : 64;
        uint64_t *ni = realloc(d->ids, nc * sizeof *ni);
        if (!ni)
            return false;
        d->ids = ni;
        tmpl **nb = realloc(d->byid, nc * sizeof *nb);
        if (!nb)
            return false;
        d->byid = nb;
        d->capids = nc;
    }
    d->ids[d->nids] = t->id;
    d->byid[d->nids++] = t;
    return true;
}

static void id_del(vg_drain *d, uint64_t id)
{
    size_t p = id_pos(d, id);
    if (p < d->nids && d->ids[p] == id) {
        d->byid[p] = NULL;
        return;
    }
    for (p = 0; p < d->nids; p++) /* unsorted while a state loads */
        if (d->byid[p] && d->byid[p]->id == id)
            d->byid[p] = NULL;
}

/* Unlink t from everything and free it. */
static void tmpl_drop(vg_drain *d, tmpl *t)
{
    node *leaf = t->leaf;
    for (unsigned i = 0; leaf && i < leaf->nt; i++)
        if (leaf->tm[i] == t) {
            leaf->tm[i] = leaf->tm[--leaf->nt];
            break;
        }
    lru_unlink(d, t);
    id_del(d, t->id);
    d->live--;
    tmpl_free(t);
    prune(leaf);
}

/* Put a new template t into leaf; evicts first when full. false on ENOMEM. */
static bool tmpl_insert(vg_drain *d, node *leaf, tmpl *t)
{
    if (leaf->nt == leaf->capt) {
        unsigned nc = leaf->capt ? 2 * leaf->capt : 4;
        tmpl **nt = realloc(leaf->tm, nc * sizeof *nt);
        if (!nt)
            return false;
        leaf->tm = nt;
        leaf->capt = nc;
    }
    if (!id_add(d, t))
        return false;
    leaf->tm[leaf->nt++] = t;
    t->leaf = leaf;
    lru_front(d, t);
    d->live++;
    return true;
}

/* Generalize t by the line; *changed when a token became "<*>". */
static bool tmpl_update(tmpl *t, const toks *tk, bool *changed)
{
    *changed = false;
    for (unsigned i = 0; i < t->ntok; i++)
        if (t->tok[i] != WILD && strcmp(t->tok[i], tk->t[i]) != 0)
            *changed = true;
    if (!*changed)
        return true;
    char **nt = malloc(t->ntok * sizeof *nt);
    if (!nt)
        return false;
    for (unsigned i = 0; i < t->ntok; i++)
        nt[i] = (t->tok[i] != WILD && strcmp(t->tok[i], tk->t[i]) != 0) ? WILD : t->tok[i];
    char *text = join(nt, t->ntok);
    if (!text) {
        free(nt);
        return false;
    }
    for (unsigned i = 0; i < t->ntok; i++)
        if (t->tok[i] != WILD && nt[i] == WILD)
            free(t->tok[i]);
    free(t->tok);
    t->tok = nt;
    free(t->text);
    t->text = text;
    return true;
}

/* ---- API -------------------------------------------------------------------- */

vg_drain *vg_drain_create(const vg_drain_opts *opts)
{
    vg_drain_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.depth)
        o.depth = 4;
    if (o.sim <= 0)
        o.sim = 0.75;
    if (!o.max_children)
        o.max_children = 100;
    if (!o.max_templates)
        o.max_templates = 5000;
    if (o.depth < 3 || o.depth > 16 || o.sim > 1.0 || o.max_children < 2)
        return NULL;
    vg_drain *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->o = o;
    d->next_id = 1;
    return d;
}

static void drain_clear(vg_drain *d)
{
    while (d->head) {
        tmpl *t = d->head;
        lru_unlink(d, t); // NOLINT(clang-analyzer-unix.Malloc): lru_unlink moved d->head past t before it is freed
        tmpl_free(t);
    }
    node_free(&d->root);
    free(d->ids);
    free(d->byid);
    d->ids = NULL;
    d->byid = NULL;
    d->nids = d->capids = 0;
    d->live = 0;
}

void vg_drain_destroy(vg_drain *d)
{
    if (!d)
        return;
    drain_clear(d);
    free(d->scratch);
    free(d);
}

vg_err vg_drain_add(vg_drain *d, const char *line, size_t n, vg_drain_match *out)
{
    vg_drain_match m = {0};
    if (!d->scratch && !(d->scratch = malloc(sizeof *d->scratch)))
        return VG_ENOMEM;
    toks *tk = d->scratch;
    tokenize(line ? line : "", line ? n : 0, tk);
    vg_err rc = VG_OK;
    tmpl *t = best_in(route(d, tk, false), tk, d->o.sim);
    if (t) {
        if (!tmpl_update(t, tk, &m.changed)) {
            rc = VG_ENOMEM;
            goto out;
        }
        lru_unlink(d, t);
        lru_front(d, t);
    } else {
        if (d->live >= d->o.max_templates && d->tail) {
            tmpl_drop(d, d->tail);
            d->st.evicted++;
        }
        node *leaf = route(d, tk, true);
        t = leaf ? tmpl_new(tk->t, tk->n) : NULL;
        if (t)
            t->id = d->next_id;
        if (!t || !tmpl_insert(d, leaf, t)) {
            tmpl_free(t);
            if (leaf)
                prune(leaf);
            rc = VG_ENOMEM;
            goto out;
        }
        d->next_id++;
        d->st.created++;
        m.is_new = true;
    }
    t->count++;
    d->st.lines++;
    d->st.truncated += tk->truncated;
    m.id = t->id;
    m.count = t->count;
    m.tmpl = t->text;
out:
    if (out)
        *out = m;
    return rc;
}

uint64_t vg_drain_match_only(const vg_drain *d, const char *line, size_t n)
{
    toks *tk = malloc(sizeof *tk);
    if (!tk)
        return 0;
    tokenize(line ? line : "", line ? n : 0, tk);
    tmpl *t = best_in(route((vg_drain *)d, tk, false), tk, d->o.sim);
    free(tk);
    return t ? t->id : 0;
}

const char *vg_drain_template(const vg_drain *d, uint64_t id)
{
    size_t p = id_pos(d, id);
    return p < d->nids && d->ids[p] == id && d->byid[p] ? d->byid[p]->text : NULL;
}

void vg_drain_get_stats(const vg_drain *d, vg_drain_stats *st)
{
    *st = d->st;
    st->templates = d->live;
}

/* ---- persistence -------------------------------------------------------------- */

json_t *vg_drain_save(const vg_drain *d)
{
    json_t *o = json_object(), *arr = json_array();
    if (!o || !arr)
        goto fail;
    if (json_object_set_new(o, "version", json_integer(VG_DRAIN_STATE_VERSION)) ||
        json_object_set_new(o, "next_id", json_integer((json_int_t)d->next_id)) ||
        json_object_set_new(o, "evicted", json_integer((json_int_t)d->st.evicted)) ||
        json_object_set_new(o, "lines", json_integer((json_int_t)d->st.lines)))
        goto fail;
    /* least recent first, so a load that pushes each to the front keeps the order */
    for (const tmpl *t = d->tail; t; t = t->prev) {
        json_t *e = json_object(), *tv = json_array(), *pv = json_array();
        if (!e || !tv || !pv) {
            json_decref(e);
            json_decref(tv);
            json_decref(pv);
            goto fail;
        }
        json_object_set_new(e, "tokens", tv);
        json_object_set_new(e, "path", pv);
        json_object_set_new(e, "id", json_integer((json_int_t)t->id));
        json_object_set_new(e, "count", json_integer((json_int_t)t->count));
        for (unsigned i = 0; i < t->ntok; i++)
            json_array_append_new(tv, json_string(t->tok[i]));
        const node *path[20];
        unsigned np = 0;
        for (const node *n = t->leaf; n && n->parent && np < 20; n = n->parent)
            path[np++] = n;
        while (np)
            json_array_append_new(pv, json_string(path[--np]->key));
        if (json_array_append_new(arr, e))
            goto fail;
    }
    if (json_object_set_new(o, "templates", arr))
        goto fail_o;
    return o;
fail:
    json_decref(arr);
fail_o:
    json_decref(o);
    return NULL;
}

static bool get_u64(const json_t *o, const char *k, uint64_t *v)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = (uint64_t)json_integer_value(j);
    return true;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = (*(tmpl *const *)a)->id, y = (*(tmpl *const *)b)->id;
    return x < y ? -1 : x > y;
}

static bool ok_str(const json_t *j)
{
    if (!json_is_string(j))
        return false;
    size_t l = json_string_length(j);
    return l > 0 && l <= 3 * VG_DRAIN_MAX_LINE && strlen(json_string_value(j)) == l;
}

vg_err vg_drain_load(vg_drain *d, const json_t *state, vg_errbuf *eb)
{
    drain_clear(d);
    d->next_id = 1;
    memset(&d->st, 0, sizeof d->st);
    vg_err rc = VG_EPARSE;
    uint64_t ver = 0, next = 0;
    if (!json_is_object(state) || !get_u64(state, "version", &ver))
        return vg_errf(eb, VG_EPARSE, "template state: not a versioned object");
    if (ver != VG_DRAIN_STATE_VERSION)
        return vg_errf(eb, VG_EVERSION, "template state: version %llu unknown",
                       (unsigned long long)ver);
    json_t *arr = json_object_get(state, "templates");
    if (!get_u64(state, "next_id", &next) || !json_is_array(arr)) {
        vg_errf(eb, rc, "template state: missing next_id or templates");
        goto out;
    }
    get_u64(state, "evicted", &d->st.evicted);
    get_u64(state, "lines", &d->st.lines);
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        uint64_t id, count;
        json_t *tv = json_object_get(e, "tokens"), *pv = json_object_get(e, "path");
        if (!get_u64(e, "id", &id) || !get_u64(e, "count", &count) || !json_is_array(tv) ||
            !json_is_array(pv) || id == 0 || json_array_size(tv) > VG_DRAIN_MAX_TOKENS ||
            json_array_size(pv) < 1 || json_array_size(pv) > d->o.depth - 1) {
            vg_errf(eb, rc, "template state: template %zu malformed", i);
            goto out;
        }
        if (d->live >= d->o.max_templates) {
            tmpl_drop(d, d->tail); /* a smaller cap than the saver's: the oldest go */
            d->st.evicted++;
        }
        toks *tk = malloc(sizeof *tk);
        if (!tk) {
            rc = vg_errf(eb, VG_ENOMEM, "template state: out of memory");
            goto out;
        }
        tk->n = (unsigned)json_array_size(tv);
        bool bad = false;
        for (unsigned k = 0; k < tk->n; k++) {
            json_t *s = json_array_get(tv, k);
            bad |= !ok_str(s);
            tk->t[k] = bad ? WILD : (char *)json_string_value(s);
        }
        /* walk the saved route */
        node *n = &d->root;
        for (size_t k = 0; !bad && n && k < json_array_size(pv); k++) {
            json_t *s = json_array_get(pv, k);
            if (!ok_str(s)) {
                bad = true;
                break;
            }
            node *c = kid_find(n, json_string_value(s));
            n = c ? c : kid_add(n, json_string_value(s));
        }
        char len[16];
        snprintf(len, sizeof len, "%u", tk->n);
        if (!bad && strcmp(json_string_value(json_array_get(pv, 0)), len) != 0)
            bad = true; /* the route begins with the token count */
        tmpl *t = (!bad && n) ? tmpl_new(tk->t, tk->n) : NULL;
        free(tk);
        if (bad || !t || id >= next) {
            tmpl_free(t);
            if (n && n != &d->root)
                prune(n);
            vg_errf(eb, bad || t ? VG_EPARSE : VG_ENOMEM, "template state: template %zu invalid",
                    i);
            rc = bad || t ? VG_EPARSE : VG_ENOMEM;
            goto out;
        }
        t->id = id;
        t->count = count;
        /* ids must be sorted for the index: insert sorted below */
        if (!tmpl_insert(d, n, t)) {
            tmpl_free(t);
            rc = vg_errf(eb, VG_ENOMEM, "template state: out of memory");
            goto out;
        }
    }
    /* the file is in LRU order, the index wants id order */
    id_compact(d);
    if (d->nids) /* byid may be NULL when empty */
        qsort(d->byid, d->nids, sizeof *d->byid, cmp_id);
    for (size_t a = 0; a < d->nids; a++)
        d->ids[a] = d->byid[a]->id;
    for (size_t a = 1; a < d->nids; a++)
        if (d->ids[a] == d->ids[a - 1]) {
            vg_errf(eb, VG_EPARSE, "template state: duplicate id %llu",
                    (unsigned long long)d->ids[a]);
            goto out;
        }
    d->next_id = next;
    d->st.created = d->live;
    return VG_OK;
out:
    drain_clear(d);
    d->next_id = 1;
    memset(&d->st, 0, sizeof d->st);
    return rc;
}

/*
 * prefilter.c - Aho-Corasick over case-folded literals, as a class-compressed
 * DFA; see prefilter.h.
 *
 * Building: a trie, failure links by breadth-first search, then a compact
 * automaton. A small automaton is a full DFA (a row of transitions over the
 * byte classes for every state). In a large one only the states near the
 * root (depth <= DENSE_DEPTH), where a scan
 * spends nearly all its time, get a full row of transitions over the byte
 * classes; deeper states keep only their few trie edges (sorted by class)
 * and fall back through their failure link, which always ends in a dense
 * state. This keeps a 2,500-rule automaton in a few MB instead of
 * states x classes x 4 bytes, at the cost of an occasional failure step.
 * Each state with outputs points to its list of ids and to the next state
 * down its failure chain that has outputs, so a scan reports every literal
 * ending at a position.
 */
#include "prefilter.h"

#include <stdlib.h>
#include <string.h>

typedef struct edge {
    uint8_t byte; /* folded byte */
    uint32_t to;
} edge;

typedef struct node {
    edge *e;
    uint32_t ne, cap;
    uint32_t fail;
    uint32_t out_first; /* index into outs, or UINT32_MAX */
    uint32_t out_link;  /* next state with outputs on the failure chain, or 0 */
} node;

typedef struct out {
    uint32_t id;
    uint32_t next; /* UINT32_MAX ends */
} out;

#define DENSE_DEPTH 3
/* An automaton whose full table fits this is made dense throughout. */
#define DENSE_ALL_BYTES (2u << 20)

/* A state of the built automaton. */
typedef struct cstate {
    uint32_t fail;
    uint32_t edge0;    /* first of its edges in cedges */
    uint32_t out_first;
    uint32_t out_link;
    uint16_t nedge;
    uint8_t has_out;
} cstate;

typedef struct cedge {
    uint8_t cls;
    uint32_t to;
} cedge;

struct vg_prefilter {
    node *nodes; /* the trie, while building */
    uint32_t n, cap;
    out *outs;
    uint32_t nout, outcap;
    /* built: */
    uint8_t cls[256];
    uint32_t ncls;
    cstate *st;
    cedge *edges;
    uint32_t *drows; /* dense rows: next state per class */
    size_t ndense;
    bool built;
};

static uint8_t fold(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static uint32_t new_node(vg_prefilter *pf)
{
    if (pf->n == pf->cap) {
        uint32_t nc = pf->cap ? pf->cap * 2 : 64;
        node *nn = realloc(pf->nodes, nc * sizeof *nn);
        if (!nn)
            return 0;
        pf->nodes = nn;
        pf->cap = nc;
    }
    node *x = &pf->nodes[pf->n];
    memset(x, 0, sizeof *x);
    x->out_first = UINT32_MAX;
    return pf->n++;
}

vg_prefilter *vg_prefilter_create(void)
{
    vg_prefilter *pf = calloc(1, sizeof *pf);
    if (!pf)
        return NULL;
    if (new_node(pf) != 0 || pf->n != 1) {
        vg_prefilter_destroy(pf);
        return NULL;
    }
    return pf;
}

void vg_prefilter_destroy(vg_prefilter *pf)
{
    if (!pf)
        return;
    if (pf->nodes)
        for (uint32_t i = 0; i < pf->n; i++)
            free(pf->nodes[i].e);
    free(pf->nodes);
    free(pf->outs);
    free(pf->st);
    free(pf->edges);
    free(pf->drows);
    free(pf);
}

static uint32_t child(const node *x, uint8_t b)
{
    for (uint32_t i = 0; i < x->ne; i++)
        if (x->e[i].byte == b)
            return x->e[i].to;
    return 0;
}

bool vg_prefilter_add(vg_prefilter *pf, const char *lit, size_t n, uint32_t id)
{
    if (pf->built || n == 0)
        return false;
    /* Check the state budget first, so a refused literal adds nothing. */
    uint32_t s = 0;
    size_t i = 0;
    for (; i < n; i++) {
        uint32_t c = child(&pf->nodes[s], fold((uint8_t)lit[i]));
        if (!c)
            break;
        s = c;
    }
    if (pf->n + (n - i) > VG_PREFILTER_MAX_STATES || n > 4096)
        return false;
    for (; i < n; i++) {
        uint32_t c = new_node(pf);
        if (!c)
            return false;
        node *x = &pf->nodes[s];
        if (x->ne == x->cap) {
            uint32_t nc = x->cap ? x->cap * 2 : 2;
            edge *ne = realloc(x->e, nc * sizeof *ne);
            if (!ne)
                return false;
            x->e = ne;
            x->cap = nc;
        }
        x->e[x->ne++] = (edge){fold((uint8_t)lit[i]), c};
        s = c;
    }
    if (pf->nout == pf->outcap) {
        uint32_t nc = pf->outcap ? pf->outcap * 2 : 64;
        out *no = realloc(pf->outs, nc * sizeof *no);
        if (!no)
            return false;
        pf->outs = no;
        pf->outcap = nc;
    }
    pf->outs[pf->nout] = (out){id, pf->nodes[s].out_first};
    pf->nodes[s].out_first = pf->nout++;
    return true;
}

static int cmp_edge(const void *a, const void *b)
{
    const cedge *x = a, *y = b;
    return (int)x->cls - (int)y->cls;
}

/* Trie child of s on class c, or 0 (the root is never a child). */
static uint32_t cgoto(const vg_prefilter *pf, uint32_t s, uint8_t c)
{
    const cedge *e = &pf->edges[pf->st[s].edge0];
    for (uint32_t i = 0; i < pf->st[s].nedge; i++)
        if (e[i].cls == c)
            return e[i].to;
    return 0;
}

bool vg_prefilter_build(vg_prefilter *pf)
{
    bool ok = false;
    uint32_t *queue = NULL, *depth = NULL, *perm = NULL, *fail = NULL;
    cstate *st = NULL;
    cedge *edges = NULL;
    /* Byte classes: one per folded byte used by a literal, 0 for the rest. */
    memset(pf->cls, 0, sizeof pf->cls);
    pf->ncls = 1;
    bool used[256] = {false};
    size_t nedges = 0;
    for (uint32_t i = 0; i < pf->n; i++) {
        nedges += pf->nodes[i].ne;
        for (uint32_t k = 0; k < pf->nodes[i].ne; k++)
            used[pf->nodes[i].e[k].byte] = true;
    }
    for (int b = 0; b < 256; b++)
        if (used[b])
            pf->cls[b] = (uint8_t)pf->ncls++;
    for (int b = 'A'; b <= 'Z'; b++)
        pf->cls[b] = pf->cls[b + 32];

    queue = malloc((size_t)pf->n * sizeof *queue);
    depth = calloc(pf->n, sizeof *depth);
    perm = malloc((size_t)pf->n * sizeof *perm);
    fail = calloc(pf->n, sizeof *fail);
    st = calloc(pf->n, sizeof *st);
    edges = malloc((nedges ? nedges : 1) * sizeof *edges);
    if (!queue || !depth || !perm || !fail || !st || !edges)
        goto out;

    bool all_dense = (size_t)pf->n * pf->ncls * sizeof(uint32_t) <= DENSE_ALL_BYTES;
    /* BFS over the trie (old numbering): order and depths. */
    uint32_t head = 0, tail = 0;
    queue[tail++] = 0;
    while (head < tail) {
        node *x = &pf->nodes[queue[head++]];
        for (uint32_t k = 0; k < x->ne; k++) {
            depth[x->e[k].to] = depth[queue[head - 1]] + 1;
            queue[tail++] = x->e[k].to;
        }
    }
    /* New numbering = BFS order: the shallow (dense) states come first. */
    for (uint32_t i = 0; i < tail; i++)
        perm[queue[i]] = i;
    size_t ne = 0;
    for (uint32_t i = 0; i < tail; i++) {
        node *x = &pf->nodes[queue[i]];
        cstate *c = &st[i];
        c->edge0 = (uint32_t)ne;
        c->nedge = (uint16_t)x->ne; /* at most 256 children: one per folded byte */
        c->out_first = x->out_first;
        for (uint32_t k = 0; k < x->ne; k++)
            edges[ne++] = (cedge){pf->cls[x->e[k].byte], perm[x->e[k].to]};
        qsort(&edges[c->edge0], x->ne, sizeof(cedge), cmp_edge);
        if (depth[queue[i]] <= DENSE_DEPTH || all_dense)
            pf->ndense = i + 1;
    }
    for (uint32_t i = 0; i < pf->n; i++)
        free(pf->nodes[i].e);
    free(pf->nodes);
    pf->nodes = NULL;
    pf->st = st;
    pf->edges = edges;
    st = NULL;
    edges = NULL;

    /* Failure and output links, in BFS (= new) order. */
    for (uint32_t s = 0; s < tail; s++) {
        cstate *x = &pf->st[s];
        for (uint32_t k = 0; k < x->nedge; k++) {
            cedge e = pf->edges[x->edge0 + k];
            uint32_t f = 0;
            if (s != 0) {
                f = x->fail;
                while (f && !cgoto(pf, f, e.cls))
                    f = pf->st[f].fail;
                f = cgoto(pf, f, e.cls);
            }
            cstate *c = &pf->st[e.to];
            c->fail = f;
            c->out_link = pf->st[f].out_first != UINT32_MAX ? f : pf->st[f].out_link;
            c->has_out = c->out_first != UINT32_MAX || c->out_link != 0;
        }
    }

    /* Dense rows of states 0..ndense-1: next state | bit 31 if it has outputs.
       A state's failure state is shallower, so its row is already complete. */
    pf->drows = malloc(pf->ndense * pf->ncls * sizeof *pf->drows);
    if (!pf->drows)
        goto out;
    for (uint32_t s = 0; s < pf->ndense; s++) {
        cstate *x = &pf->st[s];
        uint32_t *r = &pf->drows[(size_t)s * pf->ncls];
        if (s == 0)
            memset(r, 0, pf->ncls * sizeof *r);
        else
            memcpy(r, &pf->drows[(size_t)x->fail * pf->ncls], pf->ncls * sizeof *r);
        for (uint32_t k = 0; k < x->nedge; k++) {
            uint32_t t = pf->edges[x->edge0 + k].to;
            r[pf->edges[x->edge0 + k].cls] = t | (pf->st[t].has_out ? 0x80000000u : 0);
        }
    }
    pf->built = true;
    ok = true;
out:
    free(queue);
    free(depth);
    free(perm);
    free(fail);
    free(st);
    free(edges);
    return ok;
}

/* One step of the automaton from state s on class c: the next state, with
   bit 31 set when it has outputs. */
static inline uint32_t step(const vg_prefilter *pf, uint32_t s, uint8_t c)
{
    const uint32_t nd = (uint32_t)pf->ndense;
    if (s < nd)
        return pf->drows[(size_t)s * pf->ncls + c];
    for (;;) { /* a deep state: its own edges, else down the failure chain */
        uint32_t t = cgoto(pf, s, c);
        if (t)
            return t | (pf->st[t].has_out ? 0x80000000u : 0);
        s = pf->st[s].fail;
        if (s < nd)
            return pf->drows[(size_t)s * pf->ncls + c];
    }
}

static inline void report(const vg_prefilter *pf, uint32_t s, unsigned lane,
                          vg_prefilter_lane_fn fn, void *ud)
{
    for (uint32_t t = s; t; t = pf->st[t].out_link)
        for (uint32_t o = pf->st[t].out_first; o != UINT32_MAX; o = pf->outs[o].next)
            fn(ud, lane, pf->outs[o].id);
}

typedef struct one_lane {
    vg_prefilter_hit_fn fn;
    void *ud;
} one_lane;

static void one_hit(void *ud, unsigned lane, uint32_t id)
{
    one_lane *o = ud;
    o->fn(o->ud, id);
}

void vg_prefilter_scan(const vg_prefilter *pf, const char *text, size_t n, vg_prefilter_hit_fn fn,
                       void *ud)
{
    one_lane o = {fn, ud};
    vg_prefilter_scan_lanes(pf, &text, &n, 1, one_hit, &o);
}

void vg_prefilter_scan_lanes(const vg_prefilter *pf, const char *const *texts, const size_t *lens,
                             unsigned nlanes, vg_prefilter_lane_fn fn, void *ud)
{
    if (!pf->built || nlanes == 0)
        return;
    if (nlanes > VG_PREFILTER_LANES)
        nlanes = VG_PREFILTER_LANES;
    const uint8_t *cls = pf->cls;
    uint32_t s[VG_PREFILTER_LANES] = {0};
    size_t longest = 0;
    for (unsigned l = 0; l < nlanes; l++)
        if (lens[l] > longest)
            longest = lens[l];
    /* The lanes advance together, byte by byte: independent load chains
       overlap; a lane whose text has ended just sits out. */
    for (size_t i = 0; i < longest; i++)
        for (unsigned l = 0; l < nlanes; l++) {
            if (i >= lens[l])
                continue;
            uint32_t x = step(pf, s[l], cls[(unsigned char)texts[l][i]]);
            s[l] = x & 0x7fffffffu;
            if (x >> 31)
                report(pf, s[l], l, fn, ud);
        }
}

size_t vg_prefilter_states(const vg_prefilter *pf)
{
    return pf->n;
}

size_t vg_prefilter_bytes(const vg_prefilter *pf)
{
    size_t edges = 0;
    for (uint32_t i = 0; pf->built && i < pf->n; i++)
        edges += pf->st[i].nedge;
    return (size_t)pf->n * sizeof(cstate) + edges * sizeof(cedge) +
           pf->ndense * pf->ncls * sizeof(uint32_t) + (size_t)pf->nout * sizeof(out);
}

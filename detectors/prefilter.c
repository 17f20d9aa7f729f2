/*
 * prefilter.c - Aho-Corasick over case-folded literals, as a class-compressed
 * DFA; see prefilter.h.
 *
 * Building: a trie whose edges are stored as sorted (class, child) arrays,
 * failure links by breadth-first search, then the full transition table
 * delta[state * nclass + class]. Each state with outputs points to its list
 * of ids and to the next state down its failure chain that has outputs, so
 * a scan reports every literal ending at a position.
 *
 * The table stores, for speed, the next state's row offset (state * nclass)
 * with bit 31 set when that state has outputs: one load per byte, no
 * multiply, no second array.
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

struct vg_prefilter {
    node *nodes;
    uint32_t n, cap;
    out *outs;
    uint32_t nout, outcap;
    /* built: */
    uint8_t cls[256];
    uint32_t ncls;
    uint32_t *delta;
    uint8_t *has_out;
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
    for (uint32_t i = 0; i < pf->n; i++)
        free(pf->nodes[i].e);
    free(pf->nodes);
    free(pf->outs);
    free(pf->delta);
    free(pf->has_out);
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

bool vg_prefilter_build(vg_prefilter *pf)
{
    /* Byte classes: one per folded byte used by a literal, 0 for the rest. */
    memset(pf->cls, 0, sizeof pf->cls);
    pf->ncls = 1;
    bool used[256] = {false};
    for (uint32_t i = 0; i < pf->n; i++)
        for (uint32_t k = 0; k < pf->nodes[i].ne; k++)
            used[pf->nodes[i].e[k].byte] = true;
    for (int b = 0; b < 256; b++)
        if (used[b])
            pf->cls[b] = (uint8_t)pf->ncls++;
    for (int b = 'A'; b <= 'Z'; b++)
        pf->cls[b] = pf->cls[b + 32];
    size_t cells = (size_t)pf->n * pf->ncls;
    pf->delta = calloc(cells, sizeof *pf->delta);
    pf->has_out = calloc(pf->n, 1);
    uint32_t *queue = malloc((size_t)pf->n * sizeof *queue);
    if (!pf->delta || !pf->has_out || !queue) {
        free(queue);
        return false;
    }
    /* BFS: fail links, output links and the transition rows. */
    uint32_t head = 0, tail = 0;
    node *root = &pf->nodes[0];
    for (uint32_t k = 0; k < root->ne; k++) {
        uint32_t c = root->e[k].to;
        pf->nodes[c].fail = 0;
        pf->delta[pf->cls[root->e[k].byte]] = c;
        queue[tail++] = c;
    }
    while (head < tail) {
        uint32_t s = queue[head++];
        node *x = &pf->nodes[s];
        uint32_t f = x->fail;
        x->out_link = pf->nodes[f].out_first != UINT32_MAX ? f : pf->nodes[f].out_link;
        pf->has_out[s] = x->out_first != UINT32_MAX || x->out_link != 0;
        /* Row of s: its fail state's row, overridden by its own edges. */
        memcpy(&pf->delta[(size_t)s * pf->ncls], &pf->delta[(size_t)f * pf->ncls],
               pf->ncls * sizeof *pf->delta);
        for (uint32_t k = 0; k < x->ne; k++) {
            uint32_t c = x->e[k].to;
            uint8_t cl = pf->cls[x->e[k].byte];
            pf->nodes[c].fail = pf->delta[(size_t)f * pf->ncls + cl];
            pf->delta[(size_t)s * pf->ncls + cl] = c;
            queue[tail++] = c;
        }
    }
    free(queue);
    /* Re-encode: row offsets with the output bit. */
    for (size_t i = 0; i < cells; i++) {
        uint32_t t = pf->delta[i];
        pf->delta[i] = (uint32_t)(t * pf->ncls) | (pf->has_out[t] ? 0x80000000u : 0);
    }
    /* The trie edges are no longer needed. */
    for (uint32_t i = 0; i < pf->n; i++) {
        free(pf->nodes[i].e);
        pf->nodes[i].e = NULL;
        pf->nodes[i].ne = pf->nodes[i].cap = 0;
    }
    pf->built = true;
    return true;
}

void vg_prefilter_scan(const vg_prefilter *pf, const char *text, size_t n, vg_prefilter_hit_fn fn,
                       void *ud)
{
    if (!pf->built)
        return;
    const uint32_t *delta = pf->delta;
    const uint8_t *cls = pf->cls;
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    uint32_t row = 0;
    while (p < end) {
        uint32_t x = delta[row + cls[*p++]];
        row = x & 0x7fffffffu;
        if (x >> 31) {
            for (uint32_t t = row / pf->ncls; t; t = pf->nodes[t].out_link)
                for (uint32_t o = pf->nodes[t].out_first; o != UINT32_MAX; o = pf->outs[o].next)
                    fn(ud, pf->outs[o].id);
        }
    }
}

size_t vg_prefilter_states(const vg_prefilter *pf)
{
    return pf->n;
}

size_t vg_prefilter_bytes(const vg_prefilter *pf)
{
    return (size_t)pf->n * (pf->ncls * sizeof(uint32_t) + sizeof(node) + 1) +
           (size_t)pf->nout * sizeof(out);
}

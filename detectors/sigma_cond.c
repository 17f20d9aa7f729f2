/*
 * sigma_cond.c - the Sigma condition: tokenizer, recursive-descent parser
 * into a small AST (n-ary and/or, not, selection, `1|any|all of pattern|them`)
 * and its evaluation.
 *
 * Precedence, least to most binding: or, and, not, `x of`, parentheses.
 * Keywords are case-insensitive. Patterns (`sel*`) are resolved to selection
 * indexes at parse time, so evaluation never looks at names; `them` excludes
 * selections whose name starts with `_`. A pattern matching nothing, an
 * undefined name, or a syntax error rejects the condition with the byte
 * offset of the offending token. Nesting is bounded (SG_MAX_COND_DEPTH) and so
 * is the node count (SG_MAX_COND_NODES).
 */
#include "sigma_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { T_END, T_LP, T_RP, T_WORD } tkind;

typedef struct tok {
    tkind kind;
    size_t off, len;
} tok;

typedef struct parser {
    const char *t;
    size_t pos; /* next byte to tokenize */
    tok cur;
    sg_cond *c;
    char *const *names;
    size_t nsel;
    bool *used;
    size_t *eoff;
    vg_errbuf *eb;
    int depth;
} parser;

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static tok lex_at(const char *t, size_t *pos)
{
    size_t p = *pos;
    while (t[p] && is_space(t[p]))
        p++;
    tok k = {T_END, p, 0};
    if (!t[p]) {
        *pos = p;
        return k;
    }
    if (t[p] == '(' || t[p] == ')') {
        k.kind = t[p] == '(' ? T_LP : T_RP;
        k.len = 1;
        *pos = p + 1;
        return k;
    }
    size_t q = p;
    while (t[q] && !is_space(t[q]) && t[q] != '(' && t[q] != ')')
        q++;
    k.kind = T_WORD;
    k.len = q - p;
    *pos = q;
    return k;
}

static void next(parser *ps)
{
    ps->cur = lex_at(ps->t, &ps->pos);
}

static bool word_is(const parser *ps, const tok *k, const char *kw)
{
    return k->kind == T_WORD && k->len == strlen(kw) &&
           strncasecmp(ps->t + k->off, kw, k->len) == 0;
}

__attribute__((format(printf, 4, 5))) static vg_err fail(parser *ps, size_t off, vg_err code,
                                                         const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *ps->eoff = off;
    return vg_errf(ps->eb, code, "%s", msg);
}

/* A token's text for messages (bounded). */
#define TOK(ps, k) (int)((k).len > 80 ? 80 : (k).len), (ps)->t + (k).off

static vg_err add_node(parser *ps, sg_nkind kind, uint32_t sel, uint32_t *kids, uint32_t nkids,
                       uint32_t *out)
{
    sg_cond *c = ps->c;
    if (c->n >= SG_MAX_COND_NODES) {
        free(kids);
        *ps->eoff = ps->cur.off;
        return vg_errf(ps->eb, VG_ELIMIT, "condition too long (limit %d nodes)", SG_MAX_COND_NODES);
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        sg_node *nn = realloc(c->nodes, nc * sizeof *nn);
        if (!nn) {
            free(kids);
            return vg_errf(ps->eb, VG_ENOMEM, "out of memory");
        }
        c->nodes = nn;
        c->cap = nc;
    }
    c->nodes[c->n] = (sg_node){kind, sel, kids, nkids};
    *out = (uint32_t)c->n++;
    return VG_OK;
}

/* '*' matches any run of characters; everything else literally. */
static bool name_match(const char *pat, size_t pn, const char *s)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0, sn = strlen(s);
    while (si < sn) {
        if (pi < pn && pat[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && pat[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && pat[pi] == '*')
        pi++;
    return pi == pn;
}

static vg_err parse_or(parser *ps, uint32_t *out);

static vg_err parse_primary(parser *ps, uint32_t *out)
{
    tok k = ps->cur;
    vg_err err;
    if (k.kind == T_LP) {
        if (++ps->depth > SG_MAX_COND_DEPTH)
            return fail(ps, k.off, VG_ELIMIT, "condition nested too deeply");
        next(ps);
        if ((err = parse_or(ps, out)))
            return err;
        if (ps->cur.kind != T_RP)
            return fail(ps, ps->cur.off, VG_ERULE, "expected ')'");
        ps->depth--;
        next(ps);
        return VG_OK;
    }
    if (k.kind == T_END)
        return fail(ps, k.off, VG_ERULE, "unexpected end of condition");
    if (k.kind == T_RP)
        return fail(ps, k.off, VG_ERULE, "unexpected ')'");

    /* quantifier: `1|any|all of them|pattern` */
    size_t save = ps->pos;
    tok of = lex_at(ps->t, &save);
    if ((word_is(ps, &k, "1") || word_is(ps, &k, "any") || word_is(ps, &k, "all")) &&
        word_is(ps, &of, "of")) {
        bool all = word_is(ps, &k, "all");
        ps->pos = save;
        next(ps);
        tok p = ps->cur;
        if (p.kind != T_WORD)
            return fail(ps, p.off, VG_ERULE, "expected 'them' or a selection pattern after 'of'");
        bool them = word_is(ps, &p, "them");
        uint32_t *kids = calloc(ps->nsel ? ps->nsel : 1, sizeof *kids);
        if (!kids)
            return vg_errf(ps->eb, VG_ENOMEM, "out of memory");
        uint32_t n = 0;
        for (size_t i = 0; i < ps->nsel; i++) {
            bool m = them ? ps->names[i][0] != '_' : name_match(ps->t + p.off, p.len, ps->names[i]);
            if (m) {
                kids[n++] = (uint32_t)i;
                ps->used[i] = true;
            }
        }
        if (n == 0) {
            free(kids);
            return fail(ps, p.off, VG_ERULE, "'%.*s' matches no selection", TOK(ps, p));
        }
        next(ps);
        return add_node(ps, all ? SG_N_ALL_OF : SG_N_ONE_OF, 0, kids, n, out);
    }
    if (word_is(ps, &k, "and") || word_is(ps, &k, "or") || word_is(ps, &k, "of"))
        return fail(ps, k.off, VG_ERULE, "unexpected '%.*s'", TOK(ps, k));
    if (memchr(ps->t + k.off, '*', k.len))
        return fail(ps, k.off, VG_ERULE, "pattern '%.*s' outside '1 of' / 'all of'", TOK(ps, k));
    for (size_t i = 0; i < ps->nsel; i++) {
        if (strlen(ps->names[i]) == k.len && memcmp(ps->names[i], ps->t + k.off, k.len) == 0) {
            ps->used[i] = true;
            next(ps);
            return add_node(ps, SG_N_SEL, (uint32_t)i, NULL, 0, out);
        }
    }
    return fail(ps, k.off, VG_ERULE, "condition references undefined selection '%.*s'", TOK(ps, k));
}

// NOLINTNEXTLINE(misc-no-recursion): bounded by SG_MAX_COND_DEPTH (ps->depth)
static vg_err parse_not(parser *ps, uint32_t *out)
{
    if (!word_is(ps, &ps->cur, "not"))
        return parse_primary(ps, out);
    size_t off = ps->cur.off;
    if (++ps->depth > SG_MAX_COND_DEPTH)
        return fail(ps, off, VG_ELIMIT, "condition nested too deeply");
    next(ps);
    uint32_t kid = 0;
    vg_err err = parse_not(ps, &kid);
    if (err)
        return err;
    ps->depth--;
    uint32_t *kids = malloc(sizeof *kids);
    if (!kids)
        return vg_errf(ps->eb, VG_ENOMEM, "out of memory");
    kids[0] = kid;
    return add_node(ps, SG_N_NOT, 0, kids, 1, out);
}

/* One level of n-ary operator: sub (op sub)*. */
static vg_err parse_nary(parser *ps, const char *op, sg_nkind kind,
                         vg_err (*sub)(parser *, uint32_t *), uint32_t *out)
{
    uint32_t first = 0;
    vg_err err = sub(ps, &first);
    if (err)
        return err;
    if (!word_is(ps, &ps->cur, op)) {
        *out = first;
        return VG_OK;
    }
    size_t cap = 4, n = 0;
    uint32_t *kids = malloc(cap * sizeof *kids);
    if (!kids)
        return vg_errf(ps->eb, VG_ENOMEM, "out of memory");
    kids[n++] = first;
    while (word_is(ps, &ps->cur, op)) {
        next(ps);
        uint32_t k = 0;
        if ((err = sub(ps, &k))) {
            free(kids);
            return err;
        }
        if (n == cap) {
            cap *= 2;
            uint32_t *nk = realloc(kids, cap * sizeof *nk);
            if (!nk) {
                free(kids);
                return vg_errf(ps->eb, VG_ENOMEM, "out of memory");
            }
            kids = nk;
        }
        kids[n++] = k;
    }
    return add_node(ps, kind, 0, kids, (uint32_t)n, out);
}

static vg_err parse_and(parser *ps, uint32_t *out)
{
    return parse_nary(ps, "and", SG_N_AND, parse_not, out);
}

static vg_err parse_or(parser *ps, uint32_t *out)
{
    return parse_nary(ps, "or", SG_N_OR, parse_and, out);
}

vg_err sg_cond_parse(sg_cond *c, const char *text, char *const *names, size_t nsel, bool *used,
                     size_t *eoff, vg_errbuf *eb)
{
    parser ps = {
        .t = text, .c = c, .names = names, .nsel = nsel, .used = used, .eoff = eoff, .eb = eb};
    *eoff = 0;
    next(&ps);
    if (ps.cur.kind == T_END)
        return fail(&ps, 0, VG_ERULE, "empty condition");
    uint32_t root = 0;
    vg_err err = parse_or(&ps, &root);
    if (err)
        return err;
    if (ps.cur.kind != T_END) {
        if (ps.cur.kind == T_RP)
            return fail(&ps, ps.cur.off, VG_ERULE, "unbalanced ')'");
        return fail(&ps, ps.cur.off, VG_ERULE, "expected 'and' or 'or' before '%.*s'",
                    TOK(&ps, ps.cur));
    }
    uint32_t *nr = realloc(c->roots, (c->nroots + 1) * sizeof *nr);
    if (!nr)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    c->roots = nr;
    c->roots[c->nroots++] = root;
    return VG_OK;
}

void sg_cond_free(sg_cond *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->nodes[i].kids);
    free(c->nodes);
    free(c->roots);
    memset(c, 0, sizeof *c);
}

// NOLINTNEXTLINE(misc-no-recursion): the tree's nesting is bounded by SG_MAX_COND_DEPTH at parse time
static bool eval_node(const sg_cond *c, uint32_t i, bool pos, sg_sel_fn sel, void *ud)
{
    const sg_node *n = &c->nodes[i];
    switch (n->kind) {
    case SG_N_SEL:
        return sel(ud, n->sel, pos);
    case SG_N_NOT:
        return !eval_node(c, n->kids[0], !pos, sel, ud);
    case SG_N_AND:
        for (uint32_t k = 0; k < n->nkids; k++)
            if (!eval_node(c, n->kids[k], pos, sel, ud))
                return false;
        return true;
    case SG_N_OR:
        for (uint32_t k = 0; k < n->nkids; k++)
            if (eval_node(c, n->kids[k], pos, sel, ud))
                return true;
        return false;
    case SG_N_ONE_OF:
        for (uint32_t k = 0; k < n->nkids; k++)
            if (sel(ud, n->kids[k], pos))
                return true;
        return false;
    case SG_N_ALL_OF:
        for (uint32_t k = 0; k < n->nkids; k++)
            if (!sel(ud, n->kids[k], pos))
                return false;
        return true;
    }
    return false;
}

bool sg_cond_eval(const sg_cond *c, sg_sel_fn sel, void *ud)
{
    for (size_t r = 0; r < c->nroots; r++)
        if (eval_node(c, c->roots[r], true, sel, ud))
            return true;
    return false;
}

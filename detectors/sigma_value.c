/*
 * sigma_value.c - Sigma value matchers: one `field|mod|mod: values` entry
 * compiled into the cheapest matcher per value, and its evaluation.
 *
 * A plain value is first unescaped into a pattern (bytes + a wildcard flag
 * per byte, following the specification's backslash rules), then the
 * transformation modifiers rewrite the pattern list in the order written
 * (windash, base64, base64offset, utf16*), then contains/startswith/endswith
 * add `*` at the ends. The result is classified: no inner wildcard gives an
 * exact/prefix/suffix/contains test on a lowercased literal (ASCII case
 * folding; `contains` uses memmem on a lowercased copy of the field cached
 * per event in the scratch), otherwise a linear-backtracking glob matcher
 * (O(n*m), never exponential). `re` compiles with PCRE2 (+ JIT), byte mode,
 * under the match/depth limits of the rule's match context.
 */
#include "sigma_int.h"

#include "relit.h"
#include "../agent/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline unsigned char lc(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ---- patterns under construction ---- */

typedef struct pat {
    char *b;
    uint8_t *w; /* 0, '*' or '?' per byte */
    size_t n;
} pat;

typedef struct patlist {
    pat *v;
    size_t n, cap;
} patlist;

static void pat_free(pat *p)
{
    free(p->b);
    free(p->w);
    p->b = NULL;
    p->w = NULL;
}

static void patlist_free(patlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        pat_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static bool pat_alloc(pat *p, size_t n)
{
    p->b = malloc(n + 1);
    p->w = calloc(n + 1, 1);
    p->n = 0;
    if (!p->b || !p->w) {
        pat_free(p);
        return false;
    }
    return true;
}

static bool patlist_push(patlist *l, pat p)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        pat *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = p;
    return true;
}

static void pat_put(pat *p, char c, uint8_t w)
{
    p->b[p->n] = c;
    p->w[p->n] = w;
    p->n++;
}

static bool pat_has_wild(const pat *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->w[i])
            return true;
    return false;
}

/*
 * The specification's escaping: `\*` and `\?` are literal, `\\` is one
 * backslash, any other backslash stays a backslash; unescaped * and ? are
 * wildcards.
 */
static bool pat_from_plain(pat *p, const char *s, size_t n)
{
    if (!pat_alloc(p, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            pat_put(p, s[i + 1], 0);
            i++;
        } else if (c == '*' || c == '?') {
            pat_put(p, c, (uint8_t)c);
        } else {
            pat_put(p, c, 0);
        }
    }
    return true;
}

static bool pat_from_bytes(pat *p, const char *s, size_t n)
{
    if (!pat_alloc(p, n))
        return false;
    memcpy(p->b, s, n);
    p->n = n;
    return true;
}

/* ---- transformation modifiers ---- */

static const char b64tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static bool b64_encode(const unsigned char *in, size_t n, pat *out)
{
    if (!pat_alloc(out, (n + 2) / 3 * 4))
        return false;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        pat_put(out, b64tab[v >> 18], 0);
        pat_put(out, b64tab[(v >> 12) & 63], 0);
        pat_put(out, b64tab[(v >> 6) & 63], 0);
        pat_put(out, b64tab[v & 63], 0);
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        pat_put(out, b64tab[v >> 18], 0);
        pat_put(out, b64tab[(v >> 12) & 63], 0);
        pat_put(out, i + 1 < n ? b64tab[(v >> 6) & 63] : '=', 0);
        pat_put(out, '=', 0);
    }
    return true;
}

/* base64offset, as pySigma: the three alignments, without the bytes that
   depend on the neighbours. */
static bool b64_offsets(const pat *in, patlist *out)
{
    static const size_t start[3] = {0, 2, 3};
    static const size_t endcut[3] = {0, 3, 2};
    for (size_t i = 0; i < 3; i++) {
        unsigned char *tmp = malloc(in->n + 2);
        if (!tmp)
            return false;
        memset(tmp, ' ', i);
        memcpy(tmp + i, in->b, in->n);
        pat e;
        bool ok = b64_encode(tmp, in->n + i, &e);
        free(tmp);
        if (!ok)
            return false;
        size_t cut = endcut[(in->n + i) % 3];
        size_t a = start[i], b = e.n >= cut ? e.n - cut : 0;
        pat v;
        if (b < a)
            b = a;
        if (!pat_from_bytes(&v, e.b + a, b - a)) {
            pat_free(&e);
            return false;
        }
        pat_free(&e);
        if (!patlist_push(out, v)) {
            pat_free(&v);
            return false;
        }
    }
    return true;
}

/* UTF-8 -> UTF-16 (invalid bytes taken as Latin-1); wildcards stay wildcards. */
static bool utf16(const pat *in, int order, bool bom, pat *out)
{
    if (!pat_alloc(out, in->n * 4 + 2))
        return false;
    if (bom) {
        pat_put(out, order == 0 ? (char)0xff : (char)0xfe, 0);
        pat_put(out, order == 0 ? (char)0xfe : (char)0xff, 0);
    }
    for (size_t i = 0; i < in->n;) {
        if (in->w[i]) {
            pat_put(out, in->b[i], in->w[i]);
            i++;
            continue;
        }
        const unsigned char *s = (const unsigned char *)in->b;
        uint32_t cp = s[i];
        size_t len = 1;
        if (cp >= 0xc2 && cp <= 0xdf && i + 1 < in->n && (s[i + 1] & 0xc0) == 0x80) {
            cp = (cp & 0x1f) << 6 | (s[i + 1] & 0x3f);
            len = 2;
        } else if (cp >= 0xe0 && cp <= 0xef && i + 2 < in->n && (s[i + 1] & 0xc0) == 0x80 &&
                   (s[i + 2] & 0xc0) == 0x80) {
            cp = (cp & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
            len = 3;
        } else if (cp >= 0xf0 && cp <= 0xf4 && i + 3 < in->n && (s[i + 1] & 0xc0) == 0x80 &&
                   (s[i + 2] & 0xc0) == 0x80 && (s[i + 3] & 0xc0) == 0x80) {
            cp = (cp & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                 (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
            len = 4;
        }
        i += len;
        uint16_t units[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[0] = (uint16_t)(0xd800 | (cp >> 10));
            units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
            nu = 2;
        } else {
            units[0] = (uint16_t)cp;
        }
        for (int k = 0; k < nu; k++) {
            char lo = (char)(units[k] & 0xff), hi = (char)(units[k] >> 8);
            pat_put(out, order == 0 ? lo : hi, 0);
            pat_put(out, order == 0 ? hi : lo, 0);
        }
    }
    return true;
}

/* windash: a `-` or `/` starting a word (after start or a non-word byte,
   before a word byte) takes each of - / – — ―. */
static const char *const dashes[] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};

static bool is_word(unsigned char c)
{
    return c == '_' || (c >= '0' && c <= '9') || (lc(c) >= 'a' && lc(c) <= 'z') || c >= 0x80;
}

static vg_err windash(const pat *in, patlist *out, size_t budget)
{
    size_t pos[16], np = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (in->w[i] || (in->b[i] != '-' && in->b[i] != '/'))
            continue;
        bool before_ok = i == 0 || !is_word((unsigned char)in->b[i - 1]);
        bool after_ok = i + 1 < in->n && !in->w[i + 1] && is_word((unsigned char)in->b[i + 1]);
        if (before_ok && after_ok) {
            if (np == 16)
                return VG_ELIMIT;
            pos[np++] = i;
        }
    }
    size_t total = 1;
    for (size_t k = 0; k < np; k++) {
        total *= 5;
        if (total > budget)
            return VG_ELIMIT;
    }
    for (size_t combo = 0; combo < total; combo++) {
        pat v;
        if (!pat_alloc(&v, in->n + 2 * np))
            return VG_ENOMEM;
        size_t c = combo, k = 0;
        for (size_t i = 0; i < in->n; i++) {
            if (k < np && pos[k] == i) {
                const char *d = dashes[c % 5];
                c /= 5;
                k++;
                for (; *d; d++)
                    pat_put(&v, *d, 0);
            } else {
                pat_put(&v, in->b[i], in->w[i]);
            }
        }
        if (!patlist_push(out, v)) {
            pat_free(&v);
            return VG_ENOMEM;
        }
    }
    return VG_OK;
}

/* ---- modifiers ---- */

enum {
    M_CONTAINS = 1 << 0,
    M_STARTSWITH = 1 << 1,
    M_ENDSWITH = 1 << 2,
    M_ALL = 1 << 3,
    M_RE = 1 << 4,
    M_CASED = 1 << 5,
    M_EXISTS = 1 << 6,
    M_CIDR = 1 << 7,
    M_NUM = 1 << 8,
    M_NEQ = 1 << 9,
    M_FIELDREF = 1 << 10,
    M_RE_I = 1 << 11,
    M_RE_M = 1 << 12,
    M_RE_S = 1 << 13,
    M_TRANSFORM = 1 << 14, /* windash, base64, ... (applied in order) */
};

typedef enum { T_WINDASH, T_B64, T_B64OFF, T_U16LE, T_U16BE, T_U16 } tkind;

static const struct {
    const char *name;
    int flag;
    int arg; /* numop or transform kind */
} mods[] = {
    {"contains", M_CONTAINS, 0},
    {"startswith", M_STARTSWITH, 0},
    {"endswith", M_ENDSWITH, 0},
    {"all", M_ALL, 0},
    {"re", M_RE, 0},
    {"cased", M_CASED, 0},
    {"exists", M_EXISTS, 0},
    {"cidr", M_CIDR, 0},
    {"lt", M_NUM, 0},
    {"lte", M_NUM, 1},
    {"gt", M_NUM, 2},
    {"gte", M_NUM, 3},
    {"neq", M_NEQ, 0},
    {"fieldref", M_FIELDREF, 0},
    {"i", M_RE_I, 0},
    {"m", M_RE_M, 0},
    {"s", M_RE_S, 0},
    {"windash", M_TRANSFORM, T_WINDASH},
    {"base64", M_TRANSFORM, T_B64},
    {"base64offset", M_TRANSFORM, T_B64OFF},
    {"utf16le", M_TRANSFORM, T_U16LE},
    {"wide", M_TRANSFORM, T_U16LE},
    {"utf16be", M_TRANSFORM, T_U16BE},
    {"utf16", M_TRANSFORM, T_U16},
};

/* Known to the specification but not implemented: rejected by name.
   (`expand` is resolved by sigma.c before this point, from the placeholders
   of the configuration; one left here had no placeholder list.) */
static const char *const unsupported_mods[] = {"expand", "minute", "hour", "day",
                                               "week",   "month",  "year", NULL};

#define MAX_MODS 16

static int mod_flag_is_type(int f)
{
    return f & (M_RE | M_EXISTS | M_CIDR | M_NUM | M_FIELDREF);
}

static vg_err compile_literal(sg_value *v, const pat *p, bool cased)
{
    size_t a = 0, b = p->n;
    bool lead = false, trail = false;
    while (a < b && p->w[a] == '*') {
        a++;
        lead = true;
    }
    while (b > a && p->w[b - 1] == '*') {
        b--;
        trail = true;
    }
    bool inner = false;
    for (size_t i = a; i < b; i++)
        if (p->w[i])
            inner = true;
    v->cased = cased;
    if (!inner) {
        if (a == b && (lead || trail))
            v->kind = SG_V_ANY;
        else if (lead && trail)
            v->kind = SG_V_CONTAINS;
        else if (lead)
            v->kind = SG_V_SUFFIX;
        else if (trail)
            v->kind = SG_V_PREFIX;
        else
            v->kind = SG_V_EXACT;
        v->lit = malloc(b - a + 1);
        if (!v->lit)
            return VG_ENOMEM;
        for (size_t i = a; i < b; i++)
            v->lit[i - a] = cased ? p->b[i] : (char)lc((unsigned char)p->b[i]);
        v->lit[b - a] = '\0';
        v->n = b - a;
        return VG_OK;
    }
    v->kind = SG_V_GLOB;
    v->lit = malloc(p->n + 1);
    v->wild = malloc(p->n + 1);
    if (!v->lit || !v->wild)
        return VG_ENOMEM;
    /* Collapse runs of '*' (keeps the matcher's work bounded). */
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->w[i] == '*' && n > 0 && v->wild[n - 1] == '*')
            continue;
        v->lit[n] = cased ? p->b[i] : (char)lc((unsigned char)p->b[i]);
        v->wild[n] = p->w[i];
        n++;
    }
    v->lit[n] = '\0';
    v->n = n;
    return VG_OK;
}

static vg_err compile_re(sg_value *v, const char *s, size_t n, int flags, sg_pos *epos, sg_pos vpos,
                         vg_errbuf *eb)
{
    uint32_t opt = 0;
    if (flags & M_RE_I)
        opt |= PCRE2_CASELESS;
    if (flags & M_RE_M)
        opt |= PCRE2_MULTILINE;
    if (flags & M_RE_S)
        opt |= PCRE2_DOTALL;
    int ecode;
    PCRE2_SIZE eoff;
    v->kind = SG_V_RE;
    v->re = pcre2_compile((PCRE2_SPTR)s, n, opt, &ecode, &eoff, NULL);
    if (!v->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        *epos = vpos;
        return vg_errf(eb, VG_ERULE, "invalid regular expression: %s at offset %zu", (char *)msg,
                       (size_t)eoff);
    }
    /* The interpreter is the fallback; VIGIE_PCRE2_NO_JIT (any value) forces it,
       since valgrind reports false errors in JIT-compiled code. */
    if (!getenv("VIGIE_PCRE2_NO_JIT"))
        (void)pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE);
    pcre2_pattern_info(v->re, PCRE2_INFO_NAMECOUNT, &v->nnamed);
    /* The literal every match contains, for the prefilter (v->lit is unused
       by regex matching itself). */
    char *buf = malloc(3 * (n + 1));
    if (buf) {
        vg_relit r = {buf, buf + n + 1, buf + 2 * (n + 1), 0, 0, 0, false};
        vg_relit_scan(s, n, &r);
        const char *lp = r.nbest >= r.nprefix ? r.best : r.prefix;
        size_t ln = r.nbest >= r.nprefix ? r.nbest : r.nprefix;
        if (ln && (v->lit = malloc(ln))) {
            memcpy(v->lit, lp, ln);
            v->n = ln;
        }
        free(buf);
    }
    return VG_OK;
}

static bool parse_cidr(sg_value *v, const char *s, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        errno = 0;
        bits = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || bits < 0)
            return false;
    }
    memset(v->addr, 0, sizeof v->addr);
    if (inet_pton(AF_INET, buf, v->addr) == 1) {
        v->family = AF_INET;
        if (bits < 0)
            bits = 32;
        if (bits > 32)
            return false;
    } else if (inet_pton(AF_INET6, buf, v->addr) == 1) {
        v->family = AF_INET6;
        if (bits < 0)
            bits = 128;
        if (bits > 128)
            return false;
    } else {
        return false;
    }
    v->bits = (unsigned)bits;
    v->kind = SG_V_CIDR;
    return true;
}

static bool parse_num(const char *s, size_t n, double *out)
{
    char buf[64];
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (errno || *end || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool value_push(sg_item *it, size_t *cap)
{
    if (it->nv == *cap) {
        size_t nc = *cap ? *cap * 2 : 2;
        sg_value *nv = realloc(it->v, nc * sizeof *nv);
        if (!nv)
            return false;
        it->v = nv;
        *cap = nc;
    }
    memset(&it->v[it->nv], 0, sizeof it->v[it->nv]);
    it->nv++;
    return true;
}

static bool ieq_ascii(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lc((unsigned char)s[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

vg_err sg_item_compile(sg_item *it, const char *key, sg_pos keypos, bool keyword,
                       const sg_raw *vals, size_t nvals, size_t *nvalues_total, sg_pos *epos,
                       vg_errbuf *eb)
{
    vg_err err = VG_OK;
    patlist cur = {0}, next = {0};
    size_t vcap = 0;
    int flags = 0, numop = 0;
    int tr[MAX_MODS];
    size_t ntr = 0;
    memset(it, 0, sizeof *it);
    *epos = keypos;

    const char *bar = strchr(key, '|');
    size_t flen = bar ? (size_t)(bar - key) : strlen(key);
    if (!keyword && flen > 0) {
        it->field = strndup(key, flen);
        if (!it->field)
            return VG_ENOMEM;
        it->field_n = flen;
    }

    /* Modifiers. */
    size_t nmods = 0;
    for (const char *m = bar; m;) {
        const char *start = m + 1, *end = strchr(start, '|');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        sg_pos mp = keypos;
        if (mp.col)
            mp.col += (int)(start - key);
        m = end;
        if (++nmods > MAX_MODS) {
            *epos = mp;
            err = vg_errf(eb, VG_ELIMIT, "too many modifiers (limit %d)", MAX_MODS);
            goto out;
        }
        size_t k;
        for (k = 0; k < sizeof mods / sizeof mods[0]; k++)
            if (strlen(mods[k].name) == len && memcmp(mods[k].name, start, len) == 0)
                break;
        if (k == sizeof mods / sizeof mods[0]) {
            bool known = false;
            for (const char *const *u = unsupported_mods; *u; u++)
                if (strlen(*u) == len && memcmp(*u, start, len) == 0)
                    known = true;
            *epos = mp;
            err = vg_errf(eb, VG_EUNSUPPORTED, "%s modifier '%.*s'",
                          known ? "unsupported" : "unknown", (int)len, start);
            goto out;
        }
        int f = mods[k].flag;
        const char *why = NULL;
        if ((f & (M_RE_I | M_RE_M | M_RE_S)) && !(flags & M_RE))
            why = "applies only after 're'";
        else if (mod_flag_is_type(f) && mod_flag_is_type(flags))
            why = "conflicts with an earlier type modifier";
        else if (f == M_TRANSFORM && mod_flag_is_type(flags))
            why = "cannot follow a type modifier";
        else if (((f & (M_CONTAINS | M_STARTSWITH | M_ENDSWITH)) &&
                  (flags & (M_CONTAINS | M_STARTSWITH | M_ENDSWITH) || mod_flag_is_type(flags))) ||
                 (mod_flag_is_type(f) && (flags & (M_CONTAINS | M_STARTSWITH | M_ENDSWITH))))
            why = "conflicts with an earlier modifier"; /* either order of the pair */
        if (why) {
            *epos = mp;
            err = vg_errf(eb, VG_ERULE, "modifier '%.*s' %s", (int)len, start, why);
            goto out;
        }
        flags |= f;
        if (f == M_NUM)
            numop = mods[k].arg;
        if (f == M_TRANSFORM)
            tr[ntr++] = mods[k].arg;
    }
    it->all = (flags & M_ALL) != 0;
    it->neq = (flags & M_NEQ) != 0;
    it->kind = SG_I_VALUES;

    /* Special values: null, exists. */
    for (size_t i = 0; i < nvals; i++) {
        if (vals[i].is_null && (nvals > 1 || flags)) {
            *epos = vals[i].pos;
            err = vg_errf(eb, VG_ERULE, "null cannot be part of a list of values or modified");
            goto out;
        }
    }
    if (nvals == 1 && vals[0].is_null) {
        if (!it->field) {
            *epos = vals[0].pos;
            err = vg_errf(eb, VG_ERULE, "a keyword cannot be null");
            goto out;
        }
        it->kind = SG_I_NULL;
        goto out;
    }
    if (nvals == 0) {
        err = vg_errf(eb, VG_ERULE, "no value");
        goto out;
    }
    if (flags & M_EXISTS) {
        if (nvals != 1 || !it->field) {
            err = vg_errf(eb, VG_ERULE, "'exists' needs a field and one value true or false");
            goto out;
        }
        if (ieq_ascii(vals[0].s, vals[0].n, "true") || ieq_ascii(vals[0].s, vals[0].n, "yes")) {
            it->want = true;
        } else if (!ieq_ascii(vals[0].s, vals[0].n, "false") &&
                   !ieq_ascii(vals[0].s, vals[0].n, "no")) {
            *epos = vals[0].pos;
            err = vg_errf(eb, VG_ERULE, "'exists' takes true or false, not '%.*s'",
                          (int)(vals[0].n > 64 ? 64 : vals[0].n), vals[0].s);
            goto out;
        }
        it->kind = SG_I_EXISTS;
        goto out;
    }
    if ((flags & M_FIELDREF) && !it->field) {
        err = vg_errf(eb, VG_ERULE, "'fieldref' needs a field");
        goto out;
    }

    for (size_t i = 0; i < nvals; i++) {
        const sg_raw *rv = &vals[i];
        *epos = rv->pos;
        if (flags & (M_RE | M_CIDR | M_NUM | M_FIELDREF)) {
            if (*nvalues_total + 1 > SG_MAX_VALUES) {
                err =
                    vg_errf(eb, VG_ELIMIT, "too many values in the rule (limit %d)", SG_MAX_VALUES);
                goto out;
            }
            if (!value_push(it, &vcap)) {
                err = VG_ENOMEM;
                goto out;
            }
            (*nvalues_total)++;
            sg_value *v = &it->v[it->nv - 1];
            v->orig = (uint32_t)i;
            if (memchr(rv->s, '\0', rv->n)) {
                err = vg_errf(eb, VG_ERULE, "NUL byte in a value");
                goto out;
            }
            if (flags & M_RE) {
                err = compile_re(v, rv->s, rv->n, flags, epos, rv->pos, eb);
                if (err)
                    goto out;
            } else if (flags & M_CIDR) {
                if (!parse_cidr(v, rv->s, rv->n)) {
                    err = vg_errf(eb, VG_ERULE, "invalid CIDR network '%.*s'",
                                  (int)(rv->n > 64 ? 64 : rv->n), rv->s);
                    goto out;
                }
            } else if (flags & M_NUM) {
                v->kind = SG_V_NUM;
                v->numop = numop;
                if (!parse_num(rv->s, rv->n, &v->num)) {
                    err = vg_errf(eb, VG_ERULE, "not a number: '%.*s'",
                                  (int)(rv->n > 64 ? 64 : rv->n), rv->s);
                    goto out;
                }
            } else {
                v->kind = SG_V_FIELDREF;
                v->cased = (flags & M_CASED) != 0;
                v->lit = strndup(rv->s, rv->n);
                if (!v->lit) {
                    err = VG_ENOMEM;
                    goto out;
                }
                v->n = rv->n;
            }
            continue;
        }

        /* Plain value: pattern, transformations, then type modifiers. */
        pat p;
        if (!pat_from_plain(&p, rv->s, rv->n)) {
            err = VG_ENOMEM;
            goto out;
        }
        if (!patlist_push(&cur, p)) {
            pat_free(&p);
            err = VG_ENOMEM;
            goto out;
        }
        for (size_t t = 0; t < ntr; t++) {
            for (size_t j = 0; j < cur.n; j++) {
                pat q = {0};
                const pat *in = &cur.v[j];
                if (tr[t] == T_WINDASH) {
                    err = windash(in, &next, SG_MAX_VALUES - *nvalues_total);
                    if (err == VG_ELIMIT)
                        err = vg_errf(eb, VG_ELIMIT, "windash expands to too many values");
                    if (err)
                        goto out;
                    continue;
                }
                if ((tr[t] == T_B64 || tr[t] == T_B64OFF) && pat_has_wild(in)) {
                    err = vg_errf(eb, VG_ERULE, "wildcards cannot be base64-encoded");
                    goto out;
                }
                bool ok;
                if (tr[t] == T_B64)
                    ok = b64_encode((const unsigned char *)in->b, in->n, &q);
                else if (tr[t] == T_B64OFF) {
                    if (!b64_offsets(in, &next)) {
                        err = VG_ENOMEM;
                        goto out;
                    }
                    continue;
                } else
                    ok = utf16(in, tr[t] == T_U16BE, tr[t] == T_U16, &q);
                if (!ok || !patlist_push(&next, q)) {
                    pat_free(&q);
                    err = VG_ENOMEM;
                    goto out;
                }
            }
            patlist_free(&cur);
            cur = next;
            memset(&next, 0, sizeof next);
        }
        /* keywords: implicit contains unless a position modifier says otherwise */
        bool c = (flags & M_CONTAINS) || (!it->field && !(flags & (M_STARTSWITH | M_ENDSWITH)));
        bool lead = c || (flags & M_ENDSWITH), trail = c || (flags & M_STARTSWITH);
        for (size_t j = 0; j < cur.n; j++) {
            if (*nvalues_total + 1 > SG_MAX_VALUES) {
                err =
                    vg_errf(eb, VG_ELIMIT, "too many values in the rule (limit %d)", SG_MAX_VALUES);
                goto out;
            }
            pat *in = &cur.v[j], q;
            if (!pat_alloc(&q, in->n + 2)) {
                err = VG_ENOMEM;
                goto out;
            }
            if (lead && !(in->n && in->w[0] == '*'))
                pat_put(&q, '*', '*');
            memcpy(q.b + q.n, in->b, in->n);
            memcpy(q.w + q.n, in->w, in->n);
            q.n += in->n;
            if (trail && !(in->n && in->w[in->n - 1] == '*'))
                pat_put(&q, '*', '*');
            if (!value_push(it, &vcap)) {
                pat_free(&q);
                err = VG_ENOMEM;
                goto out;
            }
            (*nvalues_total)++;
            it->v[it->nv - 1].orig = (uint32_t)i;
            err = compile_literal(&it->v[it->nv - 1], &q, (flags & M_CASED) != 0);
            pat_free(&q);
            if (err)
                goto out;
        }
        patlist_free(&cur);
    }
out:
    patlist_free(&cur);
    patlist_free(&next);
    if (err) {
        if (err == VG_ENOMEM && eb && eb->code != VG_ENOMEM)
            vg_errf(eb, VG_ENOMEM, "out of memory");
        sg_item_free(it);
    }
    return err;
}

void sg_item_free(sg_item *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->nv; i++) {
        free(it->v[i].lit);
        free(it->v[i].wild);
        pcre2_code_free(it->v[i].re);
    }
    free(it->v);
    free(it->field);
    for (size_t i = 0; i < it->nalt; i++)
        free(it->alt[i]);
    free(it->alt);
    memset(it, 0, sizeof *it);
}

/* ---- scratch ---- */

vg_sigma_scratch *vg_sigma_scratch_create(void)
{
    vg_sigma_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->md = pcre2_match_data_create(256, NULL);
    if (!s->md) {
        free(s);
        return NULL;
    }
    return s;
}

void vg_sigma_scratch_destroy(vg_sigma_scratch *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    free(s->buf);
    free(s);
}

void vg_sigma_scratch_next_event(vg_sigma_scratch *s)
{
    s->ncache = 0;
    s->buf_len = 0;
    s->ncaps = 0;
}

/* The lowercased copy of (p, n), cached for the event; NULL past the limits. */
static const char *lower_of(vg_sigma_scratch *s, const char *p, size_t n)
{
    for (size_t i = 0; i < s->ncache; i++)
        if (s->cache[i].p == p && s->cache[i].n == n)
            return s->buf + s->cache[i].off;
    if (s->ncache == sizeof s->cache / sizeof s->cache[0] || n > SG_LOWER_CACHE_MAX ||
        s->buf_len + n > SG_LOWER_CACHE_MAX)
        return NULL;
    if (s->buf_len + n > s->buf_cap) {
        size_t nc = s->buf_cap ? s->buf_cap : 4096;
        while (nc < s->buf_len + n)
            nc *= 2;
        char *nb = realloc(s->buf, nc);
        if (!nb)
            return NULL;
        s->buf = nb;
        s->buf_cap = nc;
    }
    char *d = s->buf + s->buf_len;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)lc((unsigned char)p[i]);
    s->cache[s->ncache].p = p;
    s->cache[s->ncache].n = n;
    s->cache[s->ncache].off = s->buf_len;
    s->ncache++;
    s->buf_len += n;
    return d;
}

/* ---- matching ---- */

static bool ieq(const char *a, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lc((unsigned char)a[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

static bool ifind(const char *h, size_t hn, const char *lit, size_t n)
{
    if (n > hn)
        return false;
    for (size_t i = 0; i + n <= hn; i++)
        if (lc((unsigned char)h[i]) == (unsigned char)lit[0] && ieq(h + i, lit, n))
            return true;
    return false;
}

/* Glob with one-star backtracking: O(len(s) * len(pattern)) at worst. `?` is
   one character: a UTF-8 sequence, or one byte when the bytes are not UTF-8. */
static bool glob_match(const sg_value *v, const char *s, size_t n)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < n) {
        if (pi < v->n && v->wild[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < v->n && v->wild[pi] == '?') {
            /* one character: a whole UTF-8 sequence when the bytes form one */
            unsigned char c = (unsigned char)s[si++];
            size_t more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
            while (more-- && si < n && ((unsigned char)s[si] & 0xc0) == 0x80)
                si++;
            pi++;
        } else if (pi < v->n &&
                   (v->cased ? s[si] == v->lit[pi]
                             : lc((unsigned char)s[si]) == (unsigned char)v->lit[pi])) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < v->n && v->wild[pi] == '*')
        pi++;
    return pi == v->n;
}

static bool cidr_match(const sg_value *v, const char *s, size_t n)
{
    char buf[64];
    unsigned char a[16];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const unsigned char *cmp = a;
    if (v->family == AF_INET) {
        if (inet_pton(AF_INET, buf, a) != 1) {
            static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            if (inet_pton(AF_INET6, buf, a) != 1 || memcmp(a, mapped, 12) != 0)
                return false;
            cmp = a + 12;
        }
    } else if (inet_pton(AF_INET6, buf, a) != 1) {
        return false;
    }
    unsigned full = v->bits / 8, rest = v->bits % 8;
    if (memcmp(cmp, v->addr, full) != 0)
        return false;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((cmp[full] & mask) != (v->addr[full] & mask))
            return false;
    }
    return true;
}

static bool re_match(const sg_value *v, const char *s, size_t n, sg_eval *e)
{
    vg_sigma_scratch *sc = e->s;
    int rc = pcre2_match(v->re, (PCRE2_SPTR)(s ? s : ""), n, 0, 0, sc->md, e->mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return false;
    if (rc < 0) {
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
            if (e->limit_hits) {
                /* Log once per rule (its counter), naming the line that did it. */
                char key[48];
                snprintf(key, sizeof key, "regex_limit:%p", (void *)e->limit_hits);
                const vg_stream *st = e->ev ? e->ev->stream : NULL;
                vg_log_once(key, VG_LOG_WARNING,
                            "a rule's regex reached the PCRE2 %s limit on %s offset %llu: "
                            "treated as no match, counted in rule.regex_limit_hits (logged once "
                            "per rule)",
                            rc == PCRE2_ERROR_MATCHLIMIT ? "match" : "depth/heap/stack",
                            st && st->name ? st->name : "an event",
                            e->ev ? (unsigned long long)e->ev->offset : 0ULL);
                vg_counter_add(e->limit_hits, 1);
            }
            if (e->limit_hit_flag)
                *e->limit_hit_flag = true;
        }
        return false;
    }
    if (v->nnamed) {
        PCRE2_SPTR tab;
        uint32_t esz;
        pcre2_pattern_info(v->re, PCRE2_INFO_NAMETABLE, &tab);
        pcre2_pattern_info(v->re, PCRE2_INFO_NAMEENTRYSIZE, &esz);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        uint32_t novec = pcre2_get_ovector_count(sc->md);
        for (uint32_t i = 0; i < v->nnamed; i++, tab += esz) {
            uint32_t g = (uint32_t)tab[0] << 8 | tab[1];
            if (g >= novec || (rc > 0 && g >= (uint32_t)rc) || ov[2 * g] == PCRE2_UNSET)
                continue;
            if (sc->ncaps == SG_MAX_CAPTURES) {
                sc->caps_dropped++;
                continue;
            }
            sg_capture *c = &sc->caps[sc->ncaps++];
            c->name = (const char *)tab + 2;
            c->name_n = strlen(c->name);
            c->p = s + ov[2 * g];
            c->n = ov[2 * g + 1] - ov[2 * g];
        }
    }
    return true;
}

static bool value_match(const sg_value *v, const char *s, size_t n, sg_eval *e)
{
    switch (v->kind) {
    case SG_V_ANY:
        return true;
    case SG_V_EXACT:
        return n == v->n && (v->cased ? memcmp(s, v->lit, n) == 0 : ieq(s, v->lit, n));
    case SG_V_PREFIX:
        return n >= v->n && (v->cased ? memcmp(s, v->lit, v->n) == 0 : ieq(s, v->lit, v->n));
    case SG_V_SUFFIX:
        return n >= v->n && (v->cased ? memcmp(s + n - v->n, v->lit, v->n) == 0
                                      : ieq(s + n - v->n, v->lit, v->n));
    case SG_V_CONTAINS: {
        if (v->n == 0)
            return true;
        if (n < v->n)
            return false;
        if (v->cased)
            return memmem(s, n, v->lit, v->n) != NULL;
        const char *l = lower_of(e->s, s, n);
        if (l)
            return memmem(l, n, v->lit, v->n) != NULL;
        return ifind(s, n, v->lit, v->n);
    }
    case SG_V_GLOB:
        return glob_match(v, s, n);
    case SG_V_RE:
        return re_match(v, s, n, e);
    case SG_V_CIDR:
        return cidr_match(v, s, n);
    case SG_V_NUM: {
        double d;
        if (!parse_num(s, n, &d))
            return false;
        switch (v->numop) {
        case 0:
            return d < v->num;
        case 1:
            return d <= v->num;
        case 2:
            return d > v->num;
        default:
            return d >= v->num;
        }
    }
    case SG_V_FIELDREF: {
        const vg_str *o = vg_event_get(e->ev, (vg_str){v->lit, v->n});
        if (!o || o->n != n)
            return false;
        if (v->cased)
            return n == 0 || memcmp(o->p, s, n) == 0;
        for (size_t i = 0; i < n; i++)
            if (lc((unsigned char)o->p[i]) != lc((unsigned char)s[i]))
                return false;
        return true;
    }
    }
    return false;
}

static bool item_match_field(const sg_item *it, sg_eval *e, const char *field, size_t field_n);

/*
 * With a field mapping (it->alt), the item holds when it holds on the
 * rule's field name or on any mapped name; `null` and `exists: false` hold
 * only when they hold on all of them (the field is absent everywhere).
 */
bool sg_item_match(const sg_item *it, sg_eval *e)
{
    bool m = item_match_field(it, e, it->field, it->field_n);
    if (!it->nalt)
        return m;
    bool all_mode = it->kind == SG_I_NULL || (it->kind == SG_I_EXISTS && !it->want);
    for (size_t i = 0; i < it->nalt && (all_mode ? m : !m); i++)
        m = item_match_field(it, e, it->alt[i], strlen(it->alt[i]));
    return m;
}

static bool item_match_field(const sg_item *it, sg_eval *e, const char *field, size_t field_n)
{
    const vg_str *f;
    vg_str raw;
    if (field) {
        f = vg_event_get(e->ev, (vg_str){field, field_n});
    } else {
        raw = e->ev->raw.n ? e->ev->raw : e->ev->message;
        f = &raw;
    }
    switch (it->kind) {
    case SG_I_NULL:
        return !f || f->n == 0;
    case SG_I_EXISTS:
        return (f != NULL) == it->want;
    case SG_I_VALUES:
        break;
    }
    if (!f)
        return false;
    const char *s = f->p ? f->p : "";
    if (it->neq) {
        for (size_t i = 0; i < it->nv; i++)
            if (value_match(&it->v[i], s, f->n, e))
                return false;
        return true;
    }
    if (it->all) {
        /* every written value, i.e. one of the alternatives it expanded to */
        for (size_t i = 0; i < it->nv;) {
            uint32_t g = it->v[i].orig;
            bool ok = false;
            for (; i < it->nv && it->v[i].orig == g; i++)
                if (!ok && value_match(&it->v[i], s, f->n, e))
                    ok = true;
            if (!ok)
                return false;
        }
        return true;
    }
    for (size_t i = 0; i < it->nv; i++)
        if (value_match(&it->v[i], s, f->n, e))
            return true;
    return false;
}

/*
 * yara_cond.c - which strings a YARA rule's condition cannot do without,
 * read from the rule's source; see yara_cond.h.
 *
 * Only the top level is read: the condition is split on `and` outside
 * parentheses (a top-level `or` ends the analysis: nothing is known), and a
 * conjunct tells something only in these forms:
 *   $a  /  $a at E  /  $a in (R)        -> $a must match
 *   #a > N (N >= 0), #a >= N, #a == N (N >= 1)
 *   any of (...) / N of (...) (N >= 1)  -> one of the listed must match
 *   all of (...) / all of them          -> each listed must match
 *   any of them / N of them
 * Every other conjunct (`not ...`, `for ...`, comparisons, `filesize`...)
 * is skipped, which only loses precision. Anything not understood in the
 * text around (a regex literal, an unterminated string) ends the analysis.
 */
#include "yara_cond.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool idch(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Is word w at p (and not part of a longer identifier)? */
static bool word_at(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(end - p) >= n && !memcmp(p, w, n) && (p + n == end || !idch(p[n]));
}

/* Only whitespace and the words private / global before p on its line (so
   "rule x" in a comment or a string is not taken for the header). */
static bool line_start(const char *src, const char *p)
{
    const char *l = p;
    while (l > src && l[-1] != '\n')
        l--;
    while (l < p) {
        if (isspace((unsigned char)*l))
            l++;
        else if (word_at(l, p, "private"))
            l += 7;
        else if (word_at(l, p, "global"))
            l += 6;
        else
            return false;
    }
    return true;
}

/* The condition text of `rule` in src: [*b, *e). */
static bool find_condition(const char *src, size_t n, const char *rule, const char **b,
                           const char **e)
{
    const char *end = src + n, *p = src;
    size_t rn = strlen(rule);
    const char *hdr = NULL;
    while (p < end) {
        const char *r = memmem(p, (size_t)(end - p), rule, rn);
        if (!r)
            return false;
        const char *q = r;
        while (q > src && isspace((unsigned char)q[-1]))
            q--;
        if (q - src >= 4 && !memcmp(q - 4, "rule", 4) && (q - 4 == src || !idch(q[-5])) &&
            q < r && (r + rn == end || !idch(r[rn])) && line_start(src, q - 4)) {
            hdr = r + rn;
            break;
        }
        p = r + 1;
    }
    if (!hdr)
        return false;
    /* "condition" at the start of a line, then ':' */
    for (p = hdr; p < end; p++) {
        const char *c = memmem(p, (size_t)(end - p), "condition", 9);
        if (!c)
            return false;
        const char *l = c;
        while (l > src && (l[-1] == ' ' || l[-1] == '\t'))
            l--;
        const char *k = c + 9;
        while (k < end && isspace((unsigned char)*k))
            k++;
        if ((l == src || l[-1] == '\n' || l[-1] == '{') && k < end && *k == ':') {
            *b = k + 1;
            break;
        }
        p = c;
    }
    if (!*b)
        return false;
    int depth = 0;
    for (p = *b; p < end; p++) {
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\')
                    p++;
            if (p >= end)
                return false;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            const char *c = memmem(p + 2, (size_t)(end - p - 2), "*/", 2);
            if (!c)
                return false;
            p = c + 1;
        } else if (*p == '/' && p + 1 < end && p[1] == '/') {
            while (p < end && *p != '\n')
                p++;
        } else if (*p == '/') {
            return false; /* a regex literal or a division: not read */
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == '}' && depth == 0) {
            *e = p;
            return true;
        }
    }
    return false;
}

static const char *skip_ws(const char *p, const char *end)
{
    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            const char *c = memmem(p + 2, (size_t)(end - p - 2), "*/", 2);
            p = c ? c + 2 : end;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '/') {
            while (p < end && *p != '\n')
                p++;
        } else {
            return p;
        }
    }
}

/* `$id` or `$id*` or `$*` at p: its end, or NULL. */
static const char *pattern(const char *p, const char *end)
{
    if (p >= end || *p != '$')
        return NULL;
    p++;
    while (p < end && idch(*p))
        p++;
    if (p < end && *p == '*')
        p++;
    return p;
}

/* One conjunct [p, end). */
static void conjunct(const char *p, const char *end, vg_yara_group_fn fn, void *ud)
{
    p = skip_ws(p, end);
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (p >= end)
        return;
    const char *q;
    if (*p == '$' && (q = pattern(p, end)) && q[-1] != '*') {
        const char *r = skip_ws(q, end);
        if (r == end || word_at(r, end, "at") || word_at(r, end, "in"))
            fn(ud, p, (size_t)(q - p), false);
        return;
    }
    if (*p == '#') {
        const char *s = p + 1;
        while (s < end && idch(*s))
            s++;
        const char *r = skip_ws(s, end);
        const char *op = r;
        if (r + 1 < end && (r[0] == '>' || r[0] == '=') && r[1] == '=')
            r += 2;
        else if (r < end && r[0] == '>')
            r += 1;
        else
            return;
        r = skip_ws(r, end);
        char *num_end;
        long v = strtol(r, &num_end, 10);
        if (num_end == r || skip_ws(num_end, end) != end)
            return;
        bool need = (op[0] == '>' && op[1] != '=') ? v >= 0 : v >= 1;
        if (need) {
            char buf[256];
            size_t n = (size_t)(s - p);
            if (n < sizeof buf) {
                buf[0] = '$';
                memcpy(buf + 1, p + 1, n - 1);
                fn(ud, buf, n, false);
            }
        }
        return;
    }
    /* any / all / N of (...) / them */
    bool all = false;
    if (word_at(p, end, "all")) {
        all = true;
        p += 3;
    } else if (word_at(p, end, "any")) {
        p += 3;
    } else if (isdigit((unsigned char)*p)) {
        char *ne;
        long v = strtol(p, &ne, 10);
        if (v < 1 || (ne < end && *ne == '%'))
            return;
        p = ne;
    } else {
        return;
    }
    p = skip_ws(p, end);
    if (!word_at(p, end, "of"))
        return;
    p = skip_ws(p + 2, end);
    if (word_at(p, end, "them")) {
        if (skip_ws(p + 4, end) == end)
            fn(ud, "$*", 2, all);
        return;
    }
    if (p >= end || *p != '(')
        return;
    const char *close = memchr(p, ')', (size_t)(end - p));
    if (!close || skip_ws(close + 1, end) != end)
        return;
    /* the list must be patterns only */
    const char *items[64];
    size_t lens[64], k = 0;
    for (const char *s = skip_ws(p + 1, close); s < close;) {
        const char *t = pattern(s, close);
        if (!t || k == 64)
            return;
        items[k] = s;
        lens[k++] = (size_t)(t - s);
        s = skip_ws(t, close);
        if (s < close && *s == ',')
            s = skip_ws(s + 1, close);
        else if (s < close)
            return;
    }
    if (!k)
        return;
    if (all) {
        for (size_t i = 0; i < k; i++)
            fn(ud, items[i], lens[i], true);
        return;
    }
    /* one group of several patterns: report them with a separator */
    char buf[2048];
    size_t o = 0;
    for (size_t i = 0; i < k; i++) {
        if (o + lens[i] + 2 > sizeof buf)
            return;
        if (i)
            buf[o++] = ',';
        memcpy(buf + o, items[i], lens[i]);
        o += lens[i];
    }
    fn(ud, buf, o, false);
}

bool vg_yara_cond_groups(const char *src, size_t n, const char *rule, vg_yara_group_fn fn,
                         void *ud)
{
    const char *b = NULL, *e = NULL;
    if (!src || !find_condition(src, n, rule, &b, &e))
        return false;
    /* strip one pair of parentheses around the whole condition */
    const char *s = skip_ws(b, e), *t = e;
    while (t > s && isspace((unsigned char)t[-1]))
        t--;
    /* a top-level `or` first (then nothing is necessary), then split on `and` */
    for (int pass = 0; pass < 2; pass++) {
        int depth = 0;
        const char *start = s;
        for (const char *p = s; p < t; p++) {
            if (*p == '"') {
                for (p++; p < t && *p != '"'; p++)
                    if (*p == '\\')
                        p++;
            } else if (*p == '(') {
                depth++;
            } else if (*p == ')') {
                depth--;
            } else if (depth == 0 && (p == s || !idch(p[-1]))) {
                if (word_at(p, t, "or"))
                    return false;
                if (pass && word_at(p, t, "and")) {
                    conjunct(start, p, fn, ud);
                    start = p + 3;
                }
            }
        }
        if (pass)
            conjunct(start, t, fn, ud);
    }
    return true;
}

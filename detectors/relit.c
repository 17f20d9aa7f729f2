/*
 * relit.c - literals that every match of a PCRE2 pattern contains, for cheap
 * pre-checks (the parser definitions' gates, the Sigma prefilter).
 *
 * A conservative scan of the pattern's top level (outside groups and
 * classes): a run of plain literals is mandatory in every match unless the
 * top level has an alternation; a literal followed by a quantifier is
 * dropped; escapes, classes, groups, '.', anchors end a run. Anything the scan
 * does not model (\Q, \x.., backreferences, inline options, verbs, comments)
 * stops it, keeping what was found before - or, for constructs that could
 * change how the rest reads (options, \Q, verbs), gives up entirely. */
#include "relit.h"

#include <string.h>

static size_t skip_class(const char *re, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && re[j] == '^')
        j++;
    if (j < n && re[j] == ']')
        j++;
    while (j < n) {
        if (re[j] == '\\')
            j += 2;
        else if (re[j] == '[' && j + 1 < n && re[j + 1] == ':') {
            const char *e = memmem(re + j + 2, n - j - 2, ":]", 2);
            j = e ? (size_t)(e - re) + 2 : n;
        } else if (re[j] == ']')
            return j + 1;
        else
            j++;
    }
    return n;
}

static size_t skip_group(const char *re, size_t n, size_t i)
{
    int depth = 0;
    size_t j = i;
    while (j < n) {
        char c = re[j];
        if (c == '\\') {
            j += 2;
            continue;
        }
        if (c == '[') {
            j = skip_class(re, n, j);
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return j + 1;
        j++;
    }
    return n;
}

/* Constructs after which the scan cannot trust how the pattern reads. */
static bool unscannable(const char *re, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (re[i] == '\\' && (re[i + 1] == 'Q' || re[i + 1] == 'E'))
            return true;
        if (re[i] == '(' && re[i + 1] == '*')
            return true;
        if (re[i] == '(' && re[i + 1] == '?' && i + 2 < n) {
            char c = re[i + 2];
            if (c == '#' || c == '-' || c == '^' || c == ')' ||
                (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && c != 'P' && c != 'R' &&
                 c != 'C'))
                return true;
        }
    }
    return false;
}

static bool top_level_alternation(const char *re, size_t n)
{
    size_t i = 0;
    while (i < n) {
        char c = re[i];
        if (c == '\\')
            i += 2;
        else if (c == '[')
            i = skip_class(re, n, i);
        else if (c == '(')
            i = skip_group(re, n, i);
        else if (c == '|')
            return true;
        else
            i++;
    }
    return false;
}

/* {n}, {n,}, {n,m}, {,m}: the length of the quantifier at re[i] == '{', or 0. */
static size_t quantifier_len(const char *re, size_t n, size_t i)
{
    size_t j = i + 1, digits = 0;
    bool comma = false;
    while (j < n && ((re[j] >= '0' && re[j] <= '9') || (re[j] == ',' && !comma))) {
        if (re[j] == ',')
            comma = true;
        else
            digits++;
        j++;
    }
    return j < n && re[j] == '}' && digits > 0 ? j + 1 - i : 0;
}

static void end_run(vg_relit *s)
{
    if (s->first) {
        memcpy(s->prefix, s->cur, s->ncur);
        s->nprefix = s->ncur;
        s->first = false;
    } else if (s->ncur > s->nbest) {
        memcpy(s->best, s->cur, s->ncur);
        s->nbest = s->ncur;
    }
    s->ncur = 0;
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void vg_relit_scan(const char *re, size_t n, vg_relit *s)
{
    if (unscannable(re, n) || top_level_alternation(re, n))
        return;
    size_t i = 0;
    if (n && re[0] == '^') {
        s->first = true;
        i = 1;
    }
    while (i < n) {
        unsigned char c = (unsigned char)re[i];
        switch (c) {
        case '\\': {
            if (i + 1 >= n)
                goto stop;
            unsigned char d = (unsigned char)re[i + 1];
            if (!is_alnum(d)) {
                s->cur[s->ncur++] = (char)d;
                i += 2;
            } else if (strchr("dDsSwWbBhHvVRAzZGKXnrtfea", d)) {
                end_run(s);
                i += 2;
            } else {
                goto stop;
            }
            break;
        }
        case '(':
            end_run(s);
            i = skip_group(re, n, i);
            break;
        case '[':
            end_run(s);
            i = skip_class(re, n, i);
            break;
        case '.':
        case '^':
        case '$':
            end_run(s);
            i++;
            break;
        case '?':
        case '*':
        case '+':
            if (s->ncur)
                s->ncur--;
            end_run(s);
            i++;
            break;
        case '{': {
            size_t q = quantifier_len(re, n, i);
            if (!q)
                goto stop;
            if (s->ncur)
                s->ncur--;
            end_run(s);
            i += q;
            break;
        }
        case ')':
        case '|':
            goto stop;
        default:
            s->cur[s->ncur++] = (char)c;
            i++;
        }
    }
stop:
    end_run(s);
}

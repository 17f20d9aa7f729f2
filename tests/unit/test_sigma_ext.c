/* test_sigma_ext.c - field mappings and the risky-regex warning of the Sigma compiler. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "detectors/sigma.h"

typedef struct loaded {
    vg_sigma_rule *r;
    int warnings, errors;
    char last[512];
} loaded;

static void on_rule(void *ud, vg_sigma_rule *r)
{
    ((loaded *)ud)->r = r;
}

static void on_diag(void *ud, const vg_diag *d)
{
    loaded *l = ud;
    if (d->is_warning)
        l->warnings++;
    else
        l->errors++;
    snprintf(l->last, sizeof l->last, "%d:%d: %s", d->line, d->col, d->msg);
}

static loaded load(const char *yaml, const vg_sigma_opts *o)
{
    loaded l = {0};
    vg_sigma_load_buffer(yaml, strlen(yaml), "t.yml", o, on_rule, on_diag, &l);
    return l;
}

static bool match_fields(const vg_sigma_rule *r, const char *name, const char *value)
{
    vg_event *ev = calloc(1, sizeof *ev);
    ev->raw = (vg_str){value, strlen(value)};
    vg_event_set(ev, (vg_str){name, strlen(name)}, (vg_str){value, strlen(value)});
    vg_sigma_scratch *s = vg_sigma_scratch_create();
    vg_sigma_scratch_next_event(s);
    bool m = vg_sigma_match(r, ev, s, NULL);
    vg_sigma_scratch_destroy(s);
    free(ev);
    return m;
}

static const char *rule_src = "title: t\nlogsource: {product: linux}\ndetection:\n"
                              "  sel: {src_ip|startswith: '10.'}\n  condition: sel\n";

Test(sigma_ext, field_mapping_tries_rule_field_then_mapped_ones)
{
    char *vals[] = {"c-ip", "client"};
    vg_kv map = {"src_ip", {vals, 2}};
    vg_sigma_opts o = {0, 0, &map, 1};
    loaded l = load(rule_src, &o);
    cr_assert_not_null(l.r, "%s", l.last);
    cr_assert(match_fields(l.r, "src_ip", "10.0.0.1"));
    cr_assert(match_fields(l.r, "c-ip", "10.0.0.1"));
    cr_assert(match_fields(l.r, "client", "10.0.0.1"));
    cr_assert_not(match_fields(l.r, "other", "10.0.0.1"));
    cr_assert_not(match_fields(l.r, "c-ip", "192.168.0.1"));
    vg_sigma_rule_destroy(l.r);

    loaded n = load(rule_src, NULL); /* no mapping: only the rule's name */
    cr_assert_not(match_fields(n.r, "c-ip", "10.0.0.1"));
    vg_sigma_rule_destroy(n.r);
}

Test(sigma_ext, null_with_mapping_needs_every_name_absent)
{
    char *vals[] = {"c-ip"};
    vg_kv map = {"src_ip", {vals, 1}};
    vg_sigma_opts o = {0, 0, &map, 1};
    loaded l = load("title: t\nlogsource: {product: linux}\ndetection:\n"
                    "  sel: {src_ip: null}\n  condition: sel\n", &o);
    cr_assert_not_null(l.r, "%s", l.last);
    cr_assert_not(match_fields(l.r, "c-ip", "1.2.3.4"));
    cr_assert(match_fields(l.r, "other", "x"));
    vg_sigma_rule_destroy(l.r);
}

static const struct {
    const char *re;
    bool risky;
} res[] = {
    {"(a+)+$", true},          {"(\\\\w+\\\\s?)*x", true}, {"(.*a){2,}", true},
    {"^(?:ab|cd)+$", false},   {"a+b+c*", false},          {"[(a+)]+", false},
    {"(\\\\d{1,3}\\\\.){3}", false}, {"\\(a+\\)+", false},
};

Test(sigma_ext, risky_regex_warning_with_position)
{
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
        char y[512];
        snprintf(y, sizeof y,
                 "title: t\nlogsource: {product: linux}\ndetection:\n"
                 "  sel:\n    message|re: '%s'\n  condition: sel\n", res[i].re);
        loaded l = load(y, NULL);
        cr_assert_not_null(l.r, "case %zu (%s) rejected: %s", i, res[i].re, l.last);
        cr_assert_eq(l.warnings > 0, res[i].risky, "case %zu (%s): warnings %d", i, res[i].re,
                     l.warnings);
        if (res[i].risky)
            cr_assert(strstr(l.last, "5:18: regex has a quantified group"), "%s", l.last);
        vg_sigma_rule_destroy(l.r);
    }
}

static loaded many(const char *yaml)
{
    loaded l = {0};
    vg_sigma_load_buffer(yaml, strlen(yaml), "t.yml", NULL, on_rule, on_diag, &l);
    return l;
}

Test(sigma_ext, filter_document_excludes_events)
{
    loaded r = many("title: root login\nid: r1\nlogsource: {product: linux}\ndetection:\n"
                    "  sel: {user: root}\n  condition: sel\n");
    loaded f = many("title: backup host\nlogsource: {product: linux}\nfilter:\n  rules: [r1]\n"
                    "  sel: {src: 10.0.0.5}\n  other: {src: 10.0.0.6}\n"
                    "  condition: sel or other\n");
    cr_assert_not_null(r.r, "%s", r.last);
    cr_assert_not_null(f.r, "%s", f.last);
    cr_assert(vg_sigma_is_filter(f.r));
    cr_assert_not(vg_sigma_is_filter(r.r));
    cr_assert_eq(vg_sigma_filter_targets(f.r)->n, 1);
    cr_assert_str_eq(vg_sigma_filter_targets(f.r)->v[0], "r1");
    cr_assert_eq(vg_sigma_attach_filter(r.r, f.r), VG_OK);

    static const struct {
        const char *src;
        bool match;
    } cases[] = {{"10.0.0.5", false}, {"10.0.0.6", false}, {"10.0.0.7", true}};
    for (size_t i = 0; i < 3; i++) {
        vg_event *ev = calloc(1, sizeof *ev);
        ev->raw = VG_STR("x");
        vg_event_set(ev, VG_STR("user"), VG_STR("root"));
        vg_event_set(ev, VG_STR("src"), (vg_str){cases[i].src, strlen(cases[i].src)});
        vg_sigma_scratch *s = vg_sigma_scratch_create();
        vg_sigma_scratch_next_event(s);
        cr_assert_eq(vg_sigma_match(r.r, ev, s, NULL), cases[i].match, "src %s", cases[i].src);
        vg_sigma_scratch_destroy(s);
        free(ev);
    }
    vg_sigma_rule_destroy(r.r);
    vg_sigma_rule_destroy(f.r);

    loaded bad = many("title: f\nlogsource: {product: linux}\nfilter:\n  sel: {a: b}\n"
                      "  condition: sel\n");
    cr_assert_null(bad.r);
    cr_assert(strstr(bad.last, "missing 'rules' in 'filter'"), "%s", bad.last);
}

Test(sigma_ext, expand_placeholders)
{
    char *admins[] = {"root", "adm_*"};
    vg_kv ph = {"admins", {admins, 2}};
    vg_sigma_opts o = {0, 0, NULL, 0, &ph, 1};
    const char *y = "title: t\nlogsource: {product: linux}\ndetection:\n"
                    "  sel:\n    user|expand: '%admins%'\n  condition: sel\n";
    loaded l = load(y, &o);
    cr_assert_not_null(l.r, "%s", l.last);
    cr_assert(match_fields(l.r, "user", "root"));
    cr_assert(match_fields(l.r, "user", "ADM_backup")); /* wildcard and case-insensitive */
    cr_assert_not(match_fields(l.r, "user", "bob"));
    vg_sigma_rule_destroy(l.r);

    loaded u = load(y, NULL);
    cr_assert_null(u.r);
    cr_assert(strstr(u.last, "5:19: placeholder %admins% is not defined"), "%s", u.last);
    loaded e = load("title: t\nlogsource: {product: linux}\ndetection:\n"
                    "  sel:\n    user|expand: 'x%admins%'\n  condition: sel\n", &o);
    cr_assert_null(e.r);
    cr_assert(strstr(e.last, "one placeholder each"), "%s", e.last);
}

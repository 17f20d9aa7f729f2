/* test_drain.c - the template miner: masking table, tree, similarity, bounds, persistence. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors/drain.h"
#include "hostile.h"

typedef struct mask_case {
    const char *in, *out;
} mask_case;

static const mask_case masks[] = {
    {"", ""},
    {"   \t ", ""},
    {"plain words only", "plain words only"},
    {"port 22 ssh2", "port <*> <*>"},
    {"from 192.168.1.20 port 51234", "from <*> port <*>"},
    {"[173.234.31.186]", "[<*>]"},
    {"rhost=218.188.2.4 user=root", "rhost=<*> user=root"},
    {"/10.10.34.11:45307", "/<*>:<*>"},
    {"fe80::1ff:fe23:4567:890a", "<*>::<*>:<*>:<*>:<*>"},
    {"blk_-6952295868487656571 terminating", "<*> terminating"},
    {"id 0x7f3a9c", "id <*>"},
    {"uuid 123e4567-e89b-12d3-a456-426614174000", "uuid <*>"},
    {"at 2026-11-29T12:03:18Z", "at <*>:<*>:<*>"},
    {"Sun Dec 04 04:47:44 2005", "Sun Dec <*> <*>:<*>:<*> <*>"},
    {"open /etc/httpd/conf/workers2.properties ok", "open <*> ok"},
    {"GET http://x/a?b=c done", "GET <*> done"},
    {"home ~/bin/x", "home <*>"},
    {"pid=1234, uid=0;", "pid=<*>, uid=<*>;"},
    {"workerEnv.init() ok", "workerEnv.init() ok"},
    {"tab\tsep  spaces", "tab sep spaces"},
    {"ctl\x01\x1b[31mx", "ctl??[<*>"},
    {"-1 +5 3.14 1e9", "<*> <*> <*> <*>"},
};

Test(drain, masking_table)
{
    char out[512];
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        vg_drain_mask(masks[i].in, strlen(masks[i].in), out, sizeof out);
        cr_expect_str_eq(out, masks[i].out, "mask(\"%s\")", masks[i].in);
    }
    /* cut to the buffer, always terminated */
    char small[8];
    size_t n = vg_drain_mask("aaaa bbbb cccc", 14, small, sizeof small);
    cr_assert(n < sizeof small);
    cr_assert_str_eq(small, "aaaa");
}

static uint64_t add(vg_drain *d, const char *line, bool *is_new)
{
    vg_drain_match m;
    cr_assert_eq(vg_drain_add(d, line, strlen(line), &m), VG_OK);
    if (is_new)
        *is_new = m.is_new;
    return m.id;
}

Test(drain, groups_and_generalizes)
{
    vg_drain *d = vg_drain_create(NULL);
    bool nw;
    uint64_t a = add(d, "Accepted password for alice from 10.0.0.1 port 22 ssh2", &nw);
    cr_assert(nw);
    uint64_t b = add(d, "Accepted password for bob from 10.0.0.2 port 2222 ssh2", &nw);
    cr_assert_eq(a, b);
    cr_assert(!nw);
    cr_assert_str_eq(vg_drain_template(d, a), "Accepted password for <*> from <*> port <*> <*>");
    /* other length: other template */
    uint64_t c = add(d, "Failed password for invalid user eve from 10.0.0.3 port 1 ssh2", &nw);
    cr_assert(nw && c != a);
    /* same line again: same id, count grows */
    vg_drain_match m;
    vg_drain_add(d, "Accepted password for carol from 10.0.0.9 port 3 ssh2", 53, &m);
    cr_assert_eq(m.id, a);
    cr_assert_eq(m.count, 3);
    cr_assert_eq(vg_drain_match_only(d, "Accepted password for dave from 1.2.3.4 port 5 ssh2", 51),
                 a);
    cr_assert_eq(vg_drain_match_only(d, "something else entirely", 23), 0);
    vg_drain_stats st;
    vg_drain_get_stats(d, &st);
    cr_assert_eq(st.templates, 2);
    cr_assert_eq(st.lines, 4);
    vg_drain_destroy(d);
}

Test(drain, similarity_threshold)
{
    /* 4 constant tokens, 1 differs: similarity 3/4 */
    const char *l1 = "service started alpha ok", *l2 = "service started beta ok";
    vg_drain_opts lo = {.sim = 0.75}, hi = {.sim = 0.8};
    vg_drain *d = vg_drain_create(&lo);
    cr_assert_eq(add(d, l1, NULL), add(d, l2, NULL), "3/4 >= 0.75 joins");
    vg_drain_destroy(d);
    d = vg_drain_create(&hi);
    cr_assert_neq(add(d, l1, NULL), add(d, l2, NULL), "3/4 < 0.8 splits");
    vg_drain_destroy(d);
    /* wildcard positions do not count: after generalizing, one more change still joins */
    d = vg_drain_create(&lo);
    uint64_t a = add(d, "job 1 state RUNNING on node alpha now", NULL);
    cr_assert_eq(add(d, "job 2 state RUNNING on node beta now", NULL), a);
    cr_assert_eq(add(d, "job 3 state STOPPED on node gamma now", NULL), a);
    vg_drain_destroy(d);
    cr_assert_null(vg_drain_create(&(vg_drain_opts){.sim = 1.5}));
    cr_assert_null(vg_drain_create(&(vg_drain_opts){.depth = 2}));
}

Test(drain, tree_depth_separates_first_tokens)
{
    /* same shape, the first token differs: with depth 4 the first two tokens are tree keys,
       so no similarity can join them; with depth 3 only the first is */
    vg_drain *d4 = vg_drain_create(&(vg_drain_opts){.depth = 4, .sim = 0.1});
    uint64_t a = add(d4, "kernel panic now here", NULL);
    uint64_t b = add(d4, "kernel oops now here", NULL);
    cr_assert_neq(a, b);
    vg_drain_destroy(d4);
    vg_drain *d3 = vg_drain_create(&(vg_drain_opts){.depth = 3, .sim = 0.1});
    a = add(d3, "kernel panic now here", NULL);
    b = add(d3, "kernel oops now here", NULL);
    cr_assert_eq(a, b);
    cr_assert_neq(add(d3, "user oops now here", NULL), a);
    vg_drain_destroy(d3);
}

Test(drain, max_children_routes_to_wildcard)
{
    vg_drain *d = vg_drain_create(&(vg_drain_opts){.max_children = 3});
    char line[64];
    for (int i = 0; i < 50; i++) {
        snprintf(line, sizeof line, "word%c%c event happened here", 'a' + i % 26, 'a' + i / 26);
        add(d, line, NULL);
    }
    vg_drain_stats st;
    vg_drain_get_stats(d, &st);
    /* the first two first-words got their own child; the rest share "<*>" and one template */
    cr_assert_leq(st.templates, 3, "templates %zu", st.templates);
    vg_drain_destroy(d);
}

Test(drain, eviction_is_lru_and_counted)
{
    vg_drain *d = vg_drain_create(&(vg_drain_opts){.max_templates = 3});
    uint64_t a = add(d, "alpha one", NULL);
    add(d, "beta two words", NULL);
    add(d, "gamma three more words", NULL);
    add(d, "alpha one", NULL); /* refresh alpha: beta is now the oldest */
    add(d, "delta four words here too", NULL);
    vg_drain_stats st;
    vg_drain_get_stats(d, &st);
    cr_assert_eq(st.templates, 3);
    cr_assert_eq(st.evicted, 1);
    cr_assert_not_null(vg_drain_template(d, a));
    bool nw;
    add(d, "beta two words", &nw);
    cr_assert(nw, "evicted template is new again");
    for (int i = 0; i < 2000; i++) {
        char l[64];
        snprintf(l, sizeof l, "w%d x%c%c y z", i % 7, 'a' + i % 26, 'a' + (i / 26) % 26);
        add(d, l, NULL);
    }
    vg_drain_get_stats(d, &st);
    cr_assert_leq(st.templates, 3);
    vg_drain_destroy(d);
}

Test(drain, hostile_lines)
{
    vg_drain *d = vg_drain_create(NULL);
    char *big = malloc(1 << 20);
    memset(big, 'A', 1 << 20);
    for (int i = 0; i < (1 << 20); i += 3)
        big[i] = ' ';
    vg_drain_match m;
    cr_assert_eq(vg_drain_add(d, big, 1 << 20, &m), VG_OK);
    cr_assert_eq(vg_drain_add(d, "a\0b c\xff\xfe d", 10, &m), VG_OK);
    cr_assert_eq(vg_drain_add(d, NULL, 0, &m), VG_OK);
    cr_assert_eq(vg_drain_add(d, "", 0, &m), VG_OK);
    vg_drain_stats st;
    vg_drain_get_stats(d, &st);
    cr_assert_eq(st.truncated, 1);
    free(big);
    unsigned seed = 7;
    static const char alpha[] = " \t=:/[]()<*>0123456789abc.\x00\xff\x1b";
    char buf[600];
    for (int i = 0; i < 5000; i++) {
        size_t n = vg_test_hostile_line(buf, "sshd x ", alpha, sizeof alpha - 1, 500, &seed);
        char *exact = malloc(n ? n : 1);
        memcpy(exact, buf, n);
        cr_assert_eq(vg_drain_add(d, exact, n, &m), VG_OK);
        cr_assert_not_null(m.tmpl);
        cr_assert_eq(strlen(m.tmpl) <= 3 * n + 1, true);
        free(exact);
    }
    vg_drain_destroy(d);
}

Test(drain, save_restore_round_trip)
{
    vg_drain *d = vg_drain_create(NULL);
    const char *lines[] = {"Accepted password for alice from 10.0.0.1 port 22 ssh2",
                           "Accepted password for bob from 10.0.0.2 port 23 ssh2",
                           "session opened for user root", "disk full on /var",
                           "Failed password for root from 1.2.3.4 port 5 ssh2"};
    uint64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = add(d, lines[i], NULL);
    json_t *j = vg_drain_save(d);
    cr_assert_not_null(j);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    vg_drain *r = vg_drain_create(NULL);
    json_t *back = json_loads(txt, 0, NULL);
    vg_errbuf eb;
    cr_assert_eq(vg_drain_load(r, back, &eb), VG_OK, "%s", eb.msg);
    json_decref(back);
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq(vg_drain_template(r, ids[i]), vg_drain_template(d, ids[i]));
        bool nw;
        cr_assert_eq(add(r, lines[i], &nw), ids[i], "line %d keeps its template", i);
        cr_assert(!nw);
    }
    bool nw;
    uint64_t fresh = add(r, "brand new message kind", &nw);
    cr_assert(nw);
    cr_assert_gt(fresh, ids[4], "ids are not reused after a restore");
    free(txt);
    vg_drain_destroy(d);
    vg_drain_destroy(r);
}

Test(drain, corrupt_state_is_refused)
{
    static const char *const bad[] = {
        "[]",
        "{\"version\": 99, \"next_id\": 1, \"templates\": []}",
        "{\"version\": 1}",
        "{\"version\": 1, \"next_id\": 5, \"templates\": [{\"id\": 1}]}",
        "{\"version\": 1, \"next_id\": 5, \"templates\": [{\"id\": 1, \"count\": 1, \"tokens\": "
        "[\"a\"], \"path\": [\"2\", \"a\"]}]}",
        "{\"version\": 1, \"next_id\": 5, \"templates\": [{\"id\": 9, \"count\": 1, \"tokens\": "
        "[\"a\"], \"path\": [\"1\", \"a\"]}]}",
        "{\"version\": 1, \"next_id\": 5, \"templates\": [{\"id\": 1, \"count\": 1, \"tokens\": "
        "[\"a\"], \"path\": [\"1\", \"a\"]}, {\"id\": 1, \"count\": 1, \"tokens\": [\"b\"], "
        "\"path\": [\"1\", \"b\"]}]}",
        "{\"version\": 1, \"next_id\": 5, \"templates\": [{\"id\": 1, \"count\": 1, \"tokens\": "
        "[\"a\\u0000b\"], \"path\": [\"1\", \"a\"]}]}",
    };
    vg_drain *d = vg_drain_create(NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        add(d, "something learned before", NULL);
        json_t *j = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
        cr_assert_not_null(j, "case %zu parses as JSON", i);
        vg_errbuf eb = {0};
        cr_expect_neq(vg_drain_load(d, j, &eb), VG_OK, "case %zu refused", i);
        json_decref(j);
        vg_drain_stats st;
        vg_drain_get_stats(d, &st);
        cr_expect_eq(st.templates, 0, "case %zu leaves an empty miner", i);
        bool nw;
        add(d, "usable afterwards", &nw);
        cr_expect(nw);
    }
    vg_drain_destroy(d);
}

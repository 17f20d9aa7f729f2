/* test_reckeys.c - the key index of spool records: what the builders record
   is exactly the JSON token of each value (checked with jansson), it survives
   encode/decode, and a hostile index is refused. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/alert.h"
#include "agent/reckeys.h"

/* The decoded JSON string of key i, compared with jansson's view of path. */
static void same(const vg_reckeys *k, const char *json, size_t n, vg_rk i, const char *a,
                 const char *b)
{
    json_t *root = json_loadb(json, n, 0, NULL);
    cr_assert(root);
    json_t *v = json_object_get(root, a);
    if (b)
        v = json_object_get(v, b);
    size_t tl;
    const char *t = vg_reckeys_tok(k, json, i, &tl);
    if (!v) {
        cr_assert_null(t, "key %d should be absent", (int)i);
    } else {
        cr_assert(t, "key %d (%s.%s) absent", (int)i, a, b ? b : "");
        json_t *tv = json_loadb(t, tl, JSON_DECODE_ANY, NULL);
        cr_assert(tv, "token of key %d is not JSON: %.*s", (int)i, (int)tl, t);
        cr_assert(json_equal(tv, v), "key %d: %.*s", (int)i, (int)tl, t);
        json_decref(tv);
    }
    json_decref(root);
}

static vg_event *event(const char *line)
{
    static vg_stream s = {"f:803:12:abcd", "/var/log/auth.log", "auth"};
    vg_event *ev = calloc(1, sizeof *ev);
    ev->raw = (vg_str){line, strlen(line)};
    ev->stream = &s;
    ev->offset = 4242;
    ev->ts_ns = 1700000000123456789LL;
    return ev;
}

Test(reckeys, alert_tokens_are_the_values)
{
    vg_rule_meta r = {0};
    r.id = "rule-\"1\"";
    r.title = "SSH \\ brute";
    r.level = "high";
    r.level_rank = 3;
    vg_event *ev = event("Failed password for \x1b[31mroot\xff from 1.2.3.4 \"quoted\"");
    vg_event_set(ev, VG_STR("src_ip"), VG_STR("1.2.3.4"));
    vg_event_set(ev, VG_STR("user"), (vg_str){"ro\"ot", 5});
    vg_agent_info info = {"host1", "agent-uuid", "0.1.0", 16384};
    vg_alert al;
    vg_alert_init(&al);
    cr_assert(vg_alert_build(&al, &info, &r, ev, 1700000001000000000LL));
    const char *j = al.json.p;
    size_t n = al.json.n;
    same(&al.keys, j, n, VG_RK_ID, "event", "id");
    same(&al.keys, j, n, VG_RK_KIND, "event", "kind");
    same(&al.keys, j, n, VG_RK_HOST, "host", "name");
    same(&al.keys, j, n, VG_RK_AGENT, "agent", "id");
    same(&al.keys, j, n, VG_RK_RULE_ID, "rule", "id");
    same(&al.keys, j, n, VG_RK_RULE_NAME, "rule", "name");
    same(&al.keys, j, n, VG_RK_LEVEL, "rule", "level");
    same(&al.keys, j, n, VG_RK_SOURCE_IP, "source", "ip");
    same(&al.keys, j, n, VG_RK_USER, "user", "name");
    same(&al.keys, j, n, VG_RK_MESSAGE, "message", NULL);
    json_t *root = json_loadb(j, n, 0, NULL);
    size_t pl;
    const char *pt = vg_reckeys_tok(&al.keys, j, VG_RK_PATH, &pl);
    cr_assert(pt);
    cr_assert_eq(strncmp(pt, "\"/var/log/auth.log\"", pl), 0);
    json_decref(root);
    cr_assert_eq(al.keys.ts_ns, 1700000000123456789LL);
    cr_assert_eq(al.keys.severity, 73);

    /* Through the spool encoding and back. */
    char rec[VG_RECKEYS_MAX + 4096];
    size_t hn = vg_reckeys_encode(&al.keys, rec);
    cr_assert_gt(hn, 0);
    cr_assert_null(memchr(rec, '\n', hn));
    memcpy(rec + hn, j, n);
    vg_reckeys d;
    cr_assert_eq(vg_reckeys_decode(rec, hn + n, &d), hn);
    cr_assert_eq(memcmp(&d, &al.keys, sizeof d), 0);
    vg_alert_free(&al);
    free(ev);
}

Test(reckeys, event_record_tokens)
{
    vg_event *ev = event("Mar  3 10:00:00 h app[1]: plain line");
    vg_agent_info info = {"host1", "agent-uuid", "0.1.0", 16384};
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    vg_reckeys k;
    cr_assert(vg_event_record_build(&b, &info, ev, 1, &k));
    same(&k, b.p, b.n, VG_RK_ID, "event", "id");
    same(&k, b.p, b.n, VG_RK_KIND, "event", "kind");
    same(&k, b.p, b.n, VG_RK_HOST, "host", "name");
    same(&k, b.p, b.n, VG_RK_MESSAGE, "message", NULL);
    same(&k, b.p, b.n, VG_RK_RULE_ID, "rule", "id");
    vg_buf_free(&b);
    free(ev);
}

Test(reckeys, hostile_indexes_are_refused)
{
    const char *json = "{\"a\":\"bc\"}";
    const struct {
        const char *idx;
        bool ok;
    } t[] = {
        {"#1,2,5:4,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", true},
        {"#1,2,5:5,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false},  /* past the end */
        {"#1,2,4:4,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false},  /* not a string token */
        {"#1,2,5:1,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false},  /* too short */
        {"#1,2,1:3,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", true},   /* "a" */
        {"#1,2,1:8,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false},  /* "a":"bc": JSON, not a string */
        {"#1,2,5:4,0:0,0:0,0:0|", false},                                /* too few keys */
        {"#1,2,5:4,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false}, /* too many */
        {"#1,999,5:4,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false}, /* severity */
        {"#99999999999999999999,2,5:4,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false},
        {"#1,2,5:4,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0", false},     /* no bar */
        {"1,2|", false},
        {"#-5,2,4294967295:4,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0,0:0|", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char rec[512];
        size_t in = strlen(t[i].idx), jn = strlen(json);
        memcpy(rec, t[i].idx, in);
        memcpy(rec + in, json, jn);
        vg_reckeys k;
        size_t used = vg_reckeys_decode(rec, in + jn, &k);
        cr_assert_eq(used != 0, t[i].ok, "case %zu: %s", i, t[i].idx);
        if (!used)
            for (int x = 0; x < VG_RK_COUNT; x++)
                cr_assert_eq(k.len[x], 0);
    }
}

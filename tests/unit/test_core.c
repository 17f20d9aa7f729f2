/* test_core.c - the JSON writer, the configuration loader and the alert builder. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/alert.h"
#include "agent/config.h"
#include "agent/json.h"

/* ---- JSON writer: (input bytes, expected JSON literal) ---- */
static const struct {
    const char *in;
    size_t n;
    const char *out;
} strs[] = {
    {"plain", 5, "\"plain\""},
    {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
    {"\n\r\t", 3, "\"\\n\\r\\t\""},
    {"\x1b[31m", 5, "\"\\u001b[31m\""},
    {"a\0b", 3, "\"a\\u0000b\""},
    {"\x7f", 1, "\"\\u007f\""},
    {"\xff", 1, "\"\xef\xbf\xbd\""},                 /* invalid byte -> U+FFFD */
    {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""}, /* overlong '/' */
    {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
    {"\xe2\x80\xa8", 3, "\"\\u2028\""},
    {"\xc3\xa9t\xc3\xa9", 5, "\"\xc3\xa9t\xc3\xa9\""}, /* été unchanged */
    {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
    {"\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},   /* truncated sequence */
    {"\xc2\x9b", 2, "\"\\u009b\""},                     /* C1 CSI */
};

Test(json, strings_are_valid_and_safe)
{
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        vg_buf_reset(&b);
        vg_json_str(&b, strs[i].in, strs[i].n);
        cr_assert_eq(b.n, strlen(strs[i].out), "case %zu: length %zu", i, b.n);
        cr_assert(memcmp(b.p, strs[i].out, b.n) == 0, "case %zu: got %.*s", i, (int)b.n, b.p);
        json_error_t je;
        json_t *j = json_loadb(b.p, b.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        cr_assert(j, "case %zu does not parse: %s", i, je.text);
        json_decref(j);
    }
    vg_buf_free(&b);
}

Test(json, every_byte_value_gives_valid_json)
{
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    vg_json_str(&b, all, sizeof all);
    json_t *j = json_loadb(b.p, b.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    cr_assert(j);
    json_decref(j);
    for (size_t i = 0; i < b.n; i++)
        cr_assert((unsigned char)b.p[i] >= 0x20, "raw control byte at %zu", i);
    vg_buf_free(&b);
}

Test(json, text_safe_neutralises_escapes)
{
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    vg_text_safe(&b, "a\x1b[2Jb\x07\xff", 8);
    cr_assert_eq(b.n, strlen("a\\x1b[2Jb\\x07\xef\xbf\xbd"));
    cr_assert(memcmp(b.p, "a\\x1b[2Jb\\x07\xef\xbf\xbd", b.n) == 0, "%.*s", (int)b.n, b.p);
    /* bidi overrides (U+202E, U+2066, U+061C) shown, not obeyed; other UTF-8 kept */
    vg_buf_reset(&b);
    vg_text_safe(&b, "x\xe2\x80\xaey\xe2\x81\xa6\xd8\x9c\xc3\xa9", 12);
    const char *want = "x\\u202ey\\u2066\\u061c\xc3\xa9";
    cr_assert(b.n == strlen(want) && memcmp(b.p, want, b.n) == 0, "%.*s", (int)b.n, b.p);
    vg_buf_free(&b);
}

Test(json, buffer_cap_sets_overflow)
{
    vg_buf b;
    vg_buf_init(&b, 16);
    cr_assert(vg_buf_puts(&b, "0123456789"));
    cr_assert_not(vg_buf_puts(&b, "0123456789"));
    cr_assert(b.overflow);
    cr_assert_eq(b.n, 10);
    vg_buf_free(&b);
}

/* ---- configuration ---- */
static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/vg-cfg-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config, defaults_and_values)
{
    char *p = write_tmp("agent:\n  state_dir: /tmp/x\n  commit_interval: 1.5s\n"
                        "limits:\n  batch_arena: 2MiB\n"
                        "inputs:\n  - type: file\n    name: a\n    paths: [/var/log/*.log]\n"
                        "    logsource: {product: linux, service: auth}\n    max_line: 1KiB\n"
                        "outputs:\n  - {type: file, path: /tmp/a.json, min_level: high}\n");
    vg_config *c;
    vg_errbuf eb;
    cr_assert_eq(vg_config_load(p, &c, &eb), VG_OK, "%s", eb.msg);
    cr_assert_str_eq(c->state_dir, "/tmp/x");
    cr_assert_eq(c->commit_interval_ms, 1500);
    cr_assert_eq(c->batch_arena, 2 << 20);
    cr_assert_eq(c->batch_events, 512); /* default */
    cr_assert_eq(c->ninputs, 1);
    cr_assert_str_eq(c->inputs[0].logsource.service, "auth");
    cr_assert_eq(c->inputs[0].max_line, 1024);
    cr_assert_str_eq(c->inputs[0].format, "syslog");
    cr_assert_eq(c->inputs[0].start_at, VG_START_END);
    cr_assert_eq(c->outputs[0].min_level_rank, 3);
    cr_assert_eq(c->rule_paths.n, 2);
    vg_config_destroy(c);
    unlink(p);
    free(p);
}

static const struct {
    const char *yaml, *err;
} bad[] = {
    {"agent:\n  nope: 1\n", ":2:3: unknown key 'nope' in 'agent'"},
    {"limits:\n  batch_events: 70000\n", ":2:17: 'batch_events' must be between 1 and 65536"},
    {"limits:\n  batch_arena: lots\n", ":2:16: 'batch_arena' expects a size"},
    {"inputs: {a: b}\n", ":1:9: 'inputs' expects a list of maps"},
    {"inputs:\n  - type: tcp\n", ":2:11: 'type' expects one of: file, journald, syslog; got 'tcp'"},
    {"inputs:\n  - type: file\n", "a file input needs 'paths'"},
    {"outputs:\n  - type: file\n", "a file output needs 'path'"},
    {"outputs:\n  - {type: stdout, name: a}\n  - {type: stdout, name: a}\n",
     "two outputs are named 'a'"},
    {"outputs:\n  - type: http\n", "an http output needs 'url'"},
    {"outputs:\n  - type: syslog\n", "a syslog output needs 'address'"},
    {"outputs:\n  - {type: syslog, address: 'h:1', url: x}\n",
     "'url' does not apply to outputs of type syslog"},
    {"inputs:\n  - {type: syslog, name: s}\n", "a syslog input needs at least one of udp, tcp"},
    {"spool:\n  alerts_policy: keep\n", "'alerts_policy' expects one of: block, drop_oldest"},
    {"rules:\n  overrides:\n    - enabled: false\n", ":3:7: an override needs the 'id'"},
    {"rules:\n  overrides:\n    - id: x\n      exceptions: [a]\n",
     ":4:20: an exception is a map of field|modifier: value(s)"},
    {"- a\n- b\n", ":1:1: expected a map of sections"},
};

Test(config, errors_name_position_and_expectation)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = write_tmp(bad[i].yaml);
        vg_config *c = (vg_config *)1;
        vg_errbuf eb;
        cr_assert_neq(vg_config_load(p, &c, &eb), VG_OK, "case %zu loaded", i);
        cr_assert_null(c);
        cr_assert(strstr(eb.msg, bad[i].err), "case %zu: got '%s'", i, eb.msg);
        unlink(p);
        free(p);
    }
}

Test(config, overrides_with_exceptions)
{
    char *p = write_tmp("rules:\n  overrides:\n    - id: r1\n      enabled: false\n"
                        "    - id: r2\n      level: high\n      exceptions:\n"
                        "        - {src_ip: [10.0.0.1, 10.0.0.2], user|startswith: svc_}\n");
    vg_config *c;
    vg_errbuf eb;
    cr_assert_eq(vg_config_load(p, &c, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(c->noverrides, 2);
    cr_assert_eq(c->overrides[0].enabled, 0);
    cr_assert_eq(c->overrides[1].enabled, -1);
    cr_assert_str_eq(c->overrides[1].level, "high");
    cr_assert_eq(c->overrides[1].nexceptions, 1);
    cr_assert_eq(c->overrides[1].exceptions[0].n, 2);
    cr_assert_str_eq(c->overrides[1].exceptions[0].items[0].key, "src_ip");
    cr_assert_eq(c->overrides[1].exceptions[0].items[0].values.n, 2);
    cr_assert_eq(c->overrides[1].line, 5);
    vg_config_destroy(c);
    unlink(p);
    free(p);
}

/* ---- alerts ---- */
Test(alert, deterministic_id_and_valid_ecs_json)
{
    char a[33], b[33], c[33], d[33];
    vg_alert_id(a, "f:803:12:abcd", 100, "rule-1");
    vg_alert_id(b, "f:803:12:abcd", 100, "rule-1");
    vg_alert_id(c, "f:803:12:abcd", 101, "rule-1");
    vg_alert_id(d, "f:803:13:abcd", 100, "rule-1");
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    cr_assert_str_neq(a, d);
    cr_assert_eq(strlen(a), 32);

    vg_rule_meta r = {0};
    char *tags[] = {"attack.credential-access", "attack.t1110.001", "cve.2021-1"};
    r.id = "rule-1";
    r.title = "SSH \"brute\"";
    r.level = "high";
    r.level_rank = 3;
    r.tags = (vg_strlist){tags, 3};
    vg_stream s = {"f:803:12:abcd", "/var/log/auth.log", "auth"};
    vg_event *ev = calloc(1, sizeof *ev);
    const char line[] = "Mar  3 sshd[1]: Failed password for \x1b[31mroot\xff from 1.2.3.4";
    ev->raw = (vg_str){line, sizeof line - 1};
    ev->stream = &s;
    ev->offset = 100;
    ev->ts_ns = 1700000000123456789LL;
    vg_event_set(ev, VG_STR("src_ip"), VG_STR("1.2.3.4"));
    vg_event_set(ev, VG_STR("user"), (vg_str){"ro\"ot", 5});
    vg_agent_info info = {"host1", "agent-uuid", "0.1.0", 16384};
    vg_alert al;
    vg_alert_init(&al);
    cr_assert(vg_alert_build(&al, &info, &r, ev, 1700000001000000000LL));
    json_error_t je;
    json_t *j = json_loadb(al.json.p, al.json.n, 0, &je);
    cr_assert(j, "%s: %.*s", je.text, (int)al.json.n, al.json.p);
    cr_assert_str_eq(json_string_value(json_object_get(j, "@timestamp")),
                     "2023-11-14T22:13:20.123456Z");
    json_t *e = json_object_get(j, "event");
    cr_assert_str_eq(json_string_value(json_object_get(e, "kind")), "alert");
    cr_assert_str_eq(json_string_value(json_object_get(e, "id")), a);
    cr_assert_eq(json_integer_value(json_object_get(e, "severity")), 73);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "rule"), "name")),
                     "SSH \"brute\"");
    json_t *tech = json_object_get(json_object_get(json_object_get(j, "threat"), "technique"), "id");
    cr_assert_str_eq(json_string_value(json_array_get(tech, 0)), "T1110.001");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "source"), "ip")),
                     "1.2.3.4");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "user"), "name")),
                     "ro\"ot");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "log"), "offset")), 100);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "log"),
                                                                       "file"), "path")),
                     "/var/log/auth.log");
    cr_assert(strstr(json_string_value(json_object_get(j, "message")), "\x1b") != NULL);
    cr_assert(memchr(al.json.p, 0x1b, al.json.n) == NULL, "raw ESC in the JSON text");
    json_decref(j);
    vg_alert_free(&al);
    free(ev);
}

Test(config, field_mappings)
{
    char *p = write_tmp("rules:\n  field_mappings:\n    src_ip: [c-ip, client]\n    user: acct\n");
    vg_config *c;
    vg_errbuf eb;
    cr_assert_eq(vg_config_load(p, &c, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(c->nfield_map, 2);
    cr_assert_str_eq(c->field_map[0].key, "src_ip");
    cr_assert_eq(c->field_map[0].values.n, 2);
    cr_assert_str_eq(c->field_map[0].values.v[1], "client");
    cr_assert_str_eq(c->field_map[1].values.v[0], "acct");
    vg_config_destroy(c);
    unlink(p);
    free(p);
    p = write_tmp("rules:\n  field_mappings: [a]\n");
    cr_assert_neq(vg_config_load(p, &c, &eb), VG_OK);
    cr_assert(strstr(eb.msg, ":2:19: 'field_mappings' expects a map"), "%s", eb.msg);
    unlink(p);
    free(p);
}

/* ---- statistics registry ---- */
#include "agent/stats.h"

Test(stats, many_counters_stable_and_bounded)
{
    vg_stats *st = vg_stats_create();
    static vg_counter *c[20000];
    char v[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "rule-%d", i);
        c[i] = vg_stats_counter(st, "rule.alerts", "rule", v);
        vg_counter_add(c[i], (uint64_t)i);
    }
    for (int i = 0; i < 20000; i += 997) {
        snprintf(v, sizeof v, "rule-%d", i);
        cr_assert_eq(vg_stats_counter(st, "rule.alerts", "rule", v), c[i], "same counter back");
        cr_assert_eq(vg_counter_get(c[i]), (uint64_t)i);
    }
    cr_assert_neq(c[0], c[1]);
    cr_assert_eq(vg_stats_sum(st, "rule.alerts"), (uint64_t)20000 * 19999 / 2);
    vg_counter *u = vg_stats_counter(st, "events", NULL, NULL);
    cr_assert_eq(u, vg_stats_counter(st, "events", NULL, NULL));
    for (int i = 20000; i < VG_STATS_MAX + 10; i++) {
        snprintf(v, sizeof v, "x-%d", i);
        vg_stats_counter(st, "fill", "k", v);
    }
    vg_counter *o1 = vg_stats_counter(st, "past", "the", "cap");
    vg_counter *o2 = vg_stats_counter(st, "past", "the", "cap2");
    cr_assert_eq(o1, o2, "past the cap: the shared overflow counter, never NULL");
    vg_stats_destroy(st);
}

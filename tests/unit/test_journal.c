/*
 * test_journal.c - the journald collector against real journal files.
 *
 * Journal files are made by the test from Journal Export Format fixtures
 * (the .export files of tests/fixtures/journal) with systemd-journal-remote, so no
 * journald is needed. Appending an export to an existing .journal file keeps
 * its seqnum id, which is how "entries written later" are produced.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/event.h"
#include "agent/stats.h"
#include "collectors/collector.h"
#include "collectors/parser.h"

extern char **environ;

/* ---- environment: fixtures, the converter, a scratch directory ---- */

static const char *remote_bin(void)
{
    static const char *const cands[] = {"/lib/systemd/systemd-journal-remote",
                                        "/usr/lib/systemd/systemd-journal-remote"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

/*
 * A fixture's path: under $VG_SOURCE_ROOT (meson test), else next to this
 * source file, whose __FILE__ may be relative to the build directory (one
 * level above the test executable).
 */
static void fixture(char *out, size_t n, const char *name)
{
    char here[2048], exe[2048];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *slash = strrchr(here, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(here, sizeof here, ".");
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *root = getenv("VG_SOURCE_ROOT");
    for (int i = 0; i < 3; i++) {
        int r = -1;
        if (i == 0 && root)
            r = snprintf(out, n, "%.2048s/tests/fixtures/journal/%.64s", root, name);
        else if (i == 1)
            r = snprintf(out, n, "%.2048s/../fixtures/journal/%.64s", here, name);
        else if (i == 2 && here[0] != '/')
            r = snprintf(out, n, "%.1024s/../%.1024s/../fixtures/journal/%.64s", exe, here, name);
        if (r > 0 && access(out, R_OK) == 0)
            return;
    }
}

static char tmpdir[256];

static void setup(void)
{
    if (!remote_bin())
        cr_skip_test("systemd-journal-remote is not installed; journald tests skipped");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vg-journal-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    if (!tmpdir[0])
        return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
    tmpdir[0] = '\0';
}

/* Append the entries of export file `src` to DIR/<journal> (created if absent). */
static void convert(const char *src, const char *journal)
{
    char out[512], arg[600];
    snprintf(out, sizeof out, "%s/%s", tmpdir, journal);
    snprintf(arg, sizeof arg, "--output=%s", out);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)remote_bin(), arg, (char *)src, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "journal-remote failed on %s", src);
}

static void convert_fixture(const char *name, const char *journal)
{
    char src[4096];
    fixture(src, sizeof src, name);
    cr_assert_eq(access(src, R_OK), 0, "fixture %s missing", src);
    convert(src, journal);
}

static char *jpath(const char *journal)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, journal);
    return p;
}

/* ---- a collector with its configuration ---- */

typedef struct harness {
    vg_input_conf conf;
    char *files[1];
    vg_stats *stats;
    vg_collector_env env;
    void *c;
    vg_batch b;
} harness;

static const vg_collector_ops *ops = &vg_collector_journald;

static void h_init(harness *h, vg_start_at at)
{
    memset(h, 0, sizeof *h);
    h->conf.name = "jtest";
    h->conf.type = "journald";
    h->conf.start_at = at;
    h->conf.max_line = 65536;
    h->files[0] = jpath("t.journal");
    h->conf.journal_files = (vg_strlist){h->files, 1};
    h->stats = vg_stats_create();
    cr_assert_not_null(h->stats);
    h->env.stats = h->stats;
    cr_assert_eq(vg_batch_init(&h->b, 64, 1 << 20), 0);
}

static void h_start(harness *h, const json_t *saved)
{
    vg_errbuf eb = {0};
    h->env.saved = saved;
    cr_assert_eq(ops->create(&h->conf, &h->env, &h->c, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(ops->start(h->c, &eb), VG_OK, "%s", eb.msg);
}

static void h_stop(harness *h)
{
    ops->destroy(h->c);
    h->c = NULL;
}

static void h_fini(harness *h)
{
    if (h->c)
        ops->destroy(h->c);
    vg_batch_destroy(&h->b);
    vg_stats_destroy(h->stats);
}

static uint64_t counter(harness *h, const char *name)
{
    return vg_counter_get(vg_stats_counter(h->stats, name, "input", "jtest"));
}

/* What the tests compare: message and offset of each event read. */
typedef struct got {
    char msg[256][128];
    uint64_t off[256];
    size_t n;
} got;

static void collect(harness *h, got *g, size_t max, bool mark)
{
    vg_batch_reset(&h->b);
    if (ops->read(h->c, &h->b, max) != VG_OK)
        return;
    for (size_t i = 0; i < h->b.n; i++) {
        const vg_event *ev = &h->b.ev[i];
        cr_assert_lt(g->n, 256);
        snprintf(g->msg[g->n], sizeof g->msg[0], "%.*s", (int)ev->message.n, ev->message.p);
        g->off[g->n++] = ev->offset;
    }
    if (mark)
        ops->mark(h->c);
}

/* Read until the collector has nothing now (bounded: the fixtures are small). */
static void drain(harness *h, got *g, size_t max)
{
    for (int i = 0; i < 1000; i++) {
        size_t before = g->n;
        collect(h, g, max, true);
        if (g->n == before)
            return;
    }
    cr_assert_fail("the collector never ran dry");
}

static const char *const base_msgs[] = {
    "Accepted password for alice from 10.0.0.1 port 5555 ssh2",
    "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
    "Failed password for invalid user bob from 10.0.0.2 port 4444 ssh2",
    "usb 1-1: new high-speed USB device number 2 using xhci_hcd",
    "Started Session 2 of User alice.",
    "worker process 4005 exited on signal 11",
    "Connection closed by 10.0.0.3 port 2222",
};
static const char *const more_msgs[] = {
    "Accepted publickey for carol from 10.0.0.4 port 6666 ssh2",
    "(root) CMD (run-parts /etc/cron.hourly)",
    "   carol : TTY=pts/1 ; PWD=/home/carol ; USER=root ; COMMAND=/usr/bin/id",
};
#define NBASE 8
#define NMORE 3

/* Entries 1-based: idx[] lists base (1..8) and more (9..11) entry numbers. */
static void expect_entries(const got *g, const int *idx, size_t n)
{
    cr_assert_eq(g->n, n, "read %zu entries, expected %zu", g->n, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = idx[i] <= NBASE ? base_msgs[idx[i] - 1] : more_msgs[idx[i] - NBASE - 1];
        cr_expect_str_eq(g->msg[i], want, "entry %zu", i);
        cr_expect_eq(g->off[i], (uint64_t)idx[i], "seqnum of entry %zu", i);
    }
}

static bool field_is(const vg_event *ev, const char *name, const char *want)
{
    const vg_str *v = vg_event_get(ev, (vg_str){name, strlen(name)});
    return v && vg_str_eqc(*v, want);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 60);

Test(journal, reads_everything_from_the_head_with_fields)
{
    convert_fixture("base.export", "t.journal");
    harness h;
    h_init(&h, VG_START_BEGINNING);
    h_start(&h, NULL);
    cr_assert_eq(ops->flags & VG_COLLECTOR_PARSED, VG_COLLECTOR_PARSED);
    cr_expect_eq(ops->timeout_ms(h.c), 0, "existing entries: read() wanted at once");

    vg_batch_reset(&h.b);
    cr_assert_eq(ops->read(h.c, &h.b, 64), VG_OK);
    cr_assert_eq(h.b.n, NBASE);

    const vg_event *e = &h.b.ev[0];
    cr_expect(vg_str_eqc(e->message, base_msgs[0]));
    cr_expect(vg_str_eqc(e->hostname, "web01"));
    cr_expect(vg_str_eqc(e->program, "sshd"));
    cr_expect(vg_str_eqc(e->pid, "1001"));
    cr_expect_eq(e->ts_ns, 1700000001000000000LL);
    cr_expect_eq(e->offset, 1);
    cr_expect_eq(e->service2, vg_program_service(VG_STR("sshd")));
    cr_expect_str_eq(e->service2 ? e->service2 : "(null)", "sshd");
    cr_expect_str_eq(h.b.ev[2].service2 ? h.b.ev[2].service2 : "(null)", "sudo");
    cr_expect_eq(e->logsource, &h.conf.logsource);
    const char *tail =
        " web01 sshd[1001]: Accepted password for alice from 10.0.0.1 port 5555 ssh2";
    cr_expect_geq(e->raw.n, strlen(tail) + 15);
    cr_expect_eq(memcmp(e->raw.p + e->raw.n - strlen(tail), tail, strlen(tail)), 0, "raw: %.*s",
                 (int)e->raw.n, e->raw.p);
    cr_expect_eq(e->raw.p[3], ' ', "raw starts with Mmm dd: %.*s", (int)e->raw.n, e->raw.p);
    cr_expect_eq(e->raw.p[9], ':');
    cr_expect(field_is(e, "hostname", "web01"));
    cr_expect(field_is(e, "program", "sshd"));
    cr_expect(field_is(e, "pid", "1001"));
    cr_expect(field_is(e, "message", base_msgs[0]));
    cr_expect(field_is(e, "unit", "ssh.service"));
    cr_expect(field_is(e, "priority", "6"));
    cr_expect(field_is(e, "_SYSTEMD_UNIT", "ssh.service"));
    cr_expect(field_is(e, "SYSLOG_IDENTIFIER", "sshd"));
    cr_expect(field_is(e, "_COMM", "sshd"));
    cr_expect(field_is(e, "_EXE", "/usr/sbin/sshd"));
    cr_expect(field_is(e, "_CMDLINE", "sshd: alice [priv]"));
    cr_expect(field_is(e, "_UID", "0"));
    cr_expect_eq(e->flags, 0);

    cr_assert_not_null(e->stream);
    cr_expect_eq(strncmp(e->stream->id, "j:", 2), 0);
    cr_expect_eq(strlen(e->stream->id), 34, "j:<32 hex>: %s", e->stream->id);
    cr_expect_str_eq(e->stream->name, "ssh.service");
    cr_expect_str_eq(e->stream->input, "jtest");
    /* Same journal, other unit: same id, its own name; same unit: same stream. */
    cr_expect_str_eq(h.b.ev[1].stream->id, e->stream->id);
    cr_expect_str_eq(h.b.ev[1].stream->name, "cron.service");
    cr_expect_eq(h.b.ev[3].stream, e->stream);

    /* Kernel: no pid, no unit -> "host kernel: msg", stream named by identifier. */
    const vg_event *k = &h.b.ev[4];
    const char *ktail = " web01 kernel: usb 1-1: new high-speed USB device number 2 using xhci_hcd";
    cr_expect_eq(memcmp(k->raw.p + k->raw.n - strlen(ktail), ktail, strlen(ktail)), 0);
    cr_expect_null(k->pid.p);
    cr_expect_null(vg_event_get(k, VG_STR("unit")));
    cr_expect_str_eq(k->stream->name, "kernel");

    /* No SYSLOG_IDENTIFIER: _COMM; no _PID: SYSLOG_PID. */
    const vg_event *n = &h.b.ev[6];
    cr_expect(vg_str_eqc(n->program, "nginx"));
    cr_expect(vg_str_eqc(n->pid, "4004"));
    cr_expect(field_is(n, "priority", "3"));
    cr_expect_null(vg_event_get(n, VG_STR("SYSLOG_IDENTIFIER")));
    cr_expect(field_is(n, "_COMM", "nginx"));

    for (size_t i = 0; i < NBASE; i++) {
        cr_expect(vg_str_eqc(h.b.ev[i].message, base_msgs[i]), "entry %zu", i);
        cr_expect_eq(h.b.ev[i].offset, i + 1);
    }
    ops->mark(h.c);
    vg_batch_reset(&h.b);
    cr_expect_eq(ops->read(h.c, &h.b, 64), VG_EAGAIN);
    cr_expect_eq(counter(&h, "input.lines"), NBASE);
    cr_expect_gt(counter(&h, "input.bytes"), 400);
    h_fini(&h);
}

Test(journal, filters_on_units_and_identifiers)
{
    convert_fixture("base.export", "t.journal");
    static char *ssh[] = {"ssh.service"}, *two_units[] = {"ssh.service", "cron.service"};
    static char *sudo_cron[] = {"sudo", "CRON"}, *sshd[] = {"sshd"}, *none[] = {"nope.service"};
    static const struct {
        vg_strlist units, idents;
        int want[8];
        size_t n;
    } cases[] = {
        {{ssh, 1}, {NULL, 0}, {1, 4, 8}, 3},
        {{two_units, 2}, {NULL, 0}, {1, 2, 4, 8}, 4},
        {{NULL, 0}, {sudo_cron, 2}, {2, 3}, 2},
        {{two_units, 2}, {sshd, 1}, {1, 4, 8}, 3}, /* units AND identifiers */
        {{two_units, 2}, {sudo_cron, 2}, {2}, 1},
        {{none, 1}, {NULL, 0}, {0}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness h;
        h_init(&h, VG_START_BEGINNING);
        h.conf.units = cases[i].units;
        h.conf.identifiers = cases[i].idents;
        h_start(&h, NULL);
        got g = {0};
        drain(&h, &g, 64);
        cr_log_info("filter case %zu", i);
        expect_entries(&g, cases[i].want, cases[i].n);
        h_fini(&h);
    }
}

Test(journal, exclude_identifiers_are_skipped_and_counted)
{
    convert_fixture("base.export", "t.journal");
    static char *ex[] = {"sshd", "kernel"};
    harness h;
    h_init(&h, VG_START_BEGINNING);
    h.conf.exclude_identifiers = (vg_strlist){ex, 2};
    h_start(&h, NULL);
    got g = {0};
    drain(&h, &g, 64);
    expect_entries(&g, (int[]){2, 3, 6, 7}, 4);
    cr_expect_eq(counter(&h, "input.skipped"), 4);
    cr_expect_eq(counter(&h, "input.lines"), 4);

    /* A skipped entry after the last handed-out one is committed too. */
    json_t *s = ops->save(h.c);
    cr_assert_not_null(s);
    h_stop(&h);
    h_start(&h, s);
    json_decref(s);
    got g2 = {0};
    drain(&h, &g2, 64);
    cr_expect_eq(g2.n, 0);
    h_fini(&h);
}

Test(journal, save_after_n_entries_and_resume_right_after)
{
    convert_fixture("base.export", "t.journal");
    harness h;
    h_init(&h, VG_START_BEGINNING);
    h_start(&h, NULL);
    cr_expect_null(ops->save(h.c), "nothing read from the head yet: nothing to save");

    got g = {0};
    collect(&h, &g, 3, true);  /* 1..3, marked */
    collect(&h, &g, 2, false); /* 4..5, read but not processed */
    expect_entries(&g, (int[]){1, 2, 3, 4, 5}, 5);
    json_t *s = ops->save(h.c);
    cr_assert_not_null(s);
    const char *cur = json_string_value(json_object_get(s, "cursor"));
    cr_assert_not_null(cur);
    cr_expect_neq(strstr(cur, "i=3;"), NULL, "cursor of entry 3: %s", cur);
    char *dumped = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    h_stop(&h);

    /* A new process: the state comes back from its JSON text. */
    json_t *loaded = json_loads(dumped, 0, NULL);
    free(dumped);
    cr_assert_not_null(loaded);
    h_start(&h, loaded);
    json_decref(loaded);
    got g2 = {0};
    drain(&h, &g2, 2);
    expect_entries(&g2, (int[]){4, 5, 6, 7, 8}, 5);

    /* Saved but never marked again since the restart: save() still says entry 8
       after the drain (drain marks), and a third run reads nothing. */
    s = ops->save(h.c);
    h_stop(&h);
    h_start(&h, s);
    json_decref(s);
    got g3 = {0};
    drain(&h, &g3, 64);
    cr_expect_eq(g3.n, 0);
    h_fini(&h);
}

Test(journal, cursor_of_a_vanished_entry_resumes_at_the_next_one)
{
    convert_fixture("base.export", "t.journal");
    harness h;
    h_init(&h, VG_START_BEGINNING);
    h_start(&h, NULL);
    got g = {0};
    collect(&h, &g, 2, true);
    json_t *s = ops->save(h.c);
    cr_assert_not_null(s);
    h_stop(&h);

    /* Same seqnum id and seqnum (2), other boot id: seeking lands on entry 2,
       which is not the saved one, so it must be read, not skipped. */
    char cur[512];
    snprintf(cur, sizeof cur, "%s", json_string_value(json_object_get(s, "cursor")));
    json_decref(s);
    char *b = strstr(cur, ";b=");
    cr_assert_not_null(b, "%s", cur);
    for (char *p = b + 3; *p && *p != ';'; p++)
        *p = '0';
    json_t *forged = json_pack("{s:s}", "cursor", cur);
    h_start(&h, forged);
    json_decref(forged);
    got g2 = {0};
    drain(&h, &g2, 64);
    expect_entries(&g2, (int[]){2, 3, 4, 5, 6, 7, 8}, 7);
    h_fini(&h);
}

Test(journal, resume_across_runs_with_entries_written_in_between)
{
    convert_fixture("base.export", "t.journal");
    harness h;
    h_init(&h, VG_START_BEGINNING);
    h_start(&h, NULL);
    got g = {0};
    drain(&h, &g, 64);
    expect_entries(&g, (int[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
    json_t *s = ops->save(h.c);
    cr_assert_not_null(s);
    h_stop(&h);

    convert_fixture("more.export", "t.journal"); /* appended: same seqnum id */
    h_start(&h, s);
    json_decref(s);
    got g2 = {0};
    drain(&h, &g2, 64);
    expect_entries(&g2, (int[]){9, 10, 11}, 3);
    h_fini(&h);
}

/* Wait (deadline, no bare sleep) until `want` entries have been read. */
static void wait_for(harness *h, got *g, size_t want)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        collect(h, g, 64, true);
        if (g->n >= want)
            return;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        cr_assert_lt(waited, 10000, "timed out with %zu of %zu entries", g->n, want);
        int64_t to = ops->timeout_ms(h->c);
        if (to < 0 || to > 200)
            to = 200;
        struct pollfd p = {.fd = ops->fd(h->c), .events = POLLIN};
        poll(&p, p.fd >= 0 ? 1 : 0, (int)to);
    }
}

Test(journal, first_run_starts_at_the_tail_and_follows_new_entries)
{
    convert_fixture("base.export", "t.journal");
    harness h;
    h_init(&h, VG_START_END);
    h_start(&h, NULL);
    cr_expect_geq(ops->fd(h.c), 0, "an inotify fd to wait on");
    got g = {0};
    collect(&h, &g, 64, true);
    cr_expect_eq(g.n, 0, "existing entries are not read on a first run at the end");

    /* The tail is already the committed position: a crash now loses nothing. */
    json_t *tail = ops->save(h.c);
    cr_assert_not_null(tail);
    cr_expect_neq(strstr(json_string_value(json_object_get(tail, "cursor")), "i=8;"), NULL);

    convert_fixture("more.export", "t.journal");
    struct pollfd p = {.fd = ops->fd(h.c), .events = POLLIN};
    cr_expect_eq(poll(&p, 1, 5000), 1, "the fd wakes up when entries are written");
    wait_for(&h, &g, NMORE);
    expect_entries(&g, (int[]){9, 10, 11}, 3);
    h_stop(&h);

    /* Restarting from the tail position reads the same new entries. */
    h_start(&h, tail);
    json_decref(tail);
    got g2 = {0};
    drain(&h, &g2, 64);
    expect_entries(&g2, (int[]){9, 10, 11}, 3);
    h_fini(&h);
}

Test(journal, small_batches_lose_nothing)
{
    convert_fixture("base.export", "t.journal");
    /* (batch events, arena bytes): full batches and an arena that holds ~1 event. */
    static const size_t shapes[][2] = {{1, 1 << 20}, {3, 1 << 20}, {64, 600}, {2, 300}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        harness h;
        h_init(&h, VG_START_BEGINNING);
        vg_batch_destroy(&h.b);
        cr_assert_eq(vg_batch_init(&h.b, shapes[i][0], shapes[i][1]), 0);
        h_start(&h, NULL);
        got g = {0};
        drain(&h, &g, 64);
        cr_log_info("shape %zu", i);
        expect_entries(&g, (int[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
        h_fini(&h);
    }
}

Test(journal, an_arena_too_small_for_any_entry_drops_and_counts)
{
    convert_fixture("base.export", "t.journal");
    static const size_t arenas[] = {16, 48, 140};
    for (size_t i = 0; i < sizeof arenas / sizeof arenas[0]; i++) {
        harness h;
        h_init(&h, VG_START_BEGINNING);
        vg_batch_destroy(&h.b);
        cr_assert_eq(vg_batch_init(&h.b, 8, arenas[i]), 0);
        h_start(&h, NULL);
        got g = {0};
        drain(&h, &g, 64);
        /* Never stalls: each entry is either handed out (message cut) or dropped. */
        cr_expect_eq(g.n + counter(&h, "input.dropped"), NBASE, "arena %zu", arenas[i]);
        if (g.n == NBASE) {
            size_t cut = 0;
            for (size_t k = 0; k < NBASE; k++) {
                cr_expect_eq(strncmp(g.msg[k], base_msgs[k], strlen(g.msg[k])), 0);
                cut += strlen(g.msg[k]) < strlen(base_msgs[k]);
                cr_expect_eq(g.off[k], k + 1);
            }
            cr_expect_gt(cut, 0, "arena %zu", arenas[i]);
            cr_expect_eq(counter(&h, "input.truncated"), cut, "arena %zu", arenas[i]);
        }
        cr_log_info("arena %zu: %zu events, %zu dropped", arenas[i], g.n,
                    (size_t)counter(&h, "input.dropped"));
        ops->mark(h.c);
        json_t *s = ops->save(h.c);
        cr_expect_not_null(s, "dropped entries are committed past");
        json_decref(s);
        h_fini(&h);
    }
}

/* Export binary field form: NAME\n<le64 length><bytes>\n */
static void put_binary(FILE *f, const char *name, const void *p, uint64_t n)
{
    fprintf(f, "%s\n", name);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(n >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(p, 1, n, f);
    fputc('\n', f);
}

Test(journal, binary_message_with_nul_and_escapes)
{
    static const char bin[] = "bad\0user\x1b[31m\r\nx\xff\xfe";
    const size_t binlen = sizeof bin - 1;
    char src[512];
    snprintf(src, sizeof src, "%s/bin.export", tmpdir);
    FILE *f = fopen(src, "w");
    cr_assert_not_null(f);
    fprintf(f, "__REALTIME_TIMESTAMP=1700000001000000\n__MONOTONIC_TIMESTAMP=5\n"
               "_BOOT_ID=5a8c1e0f3b2d4c6e8f0a1b2c3d4e5f60\n_HOSTNAME=web01\n"
               "SYSLOG_IDENTIFIER=sshd\n_PID=7\n");
    put_binary(f, "MESSAGE", bin, binlen);
    fprintf(f, "\n");
    /* A message longer than max_line: cut and flagged. */
    static char big[5000];
    memset(big, 'A', sizeof big);
    fprintf(f, "__REALTIME_TIMESTAMP=1700000002000000\n__MONOTONIC_TIMESTAMP=6\n"
               "_BOOT_ID=5a8c1e0f3b2d4c6e8f0a1b2c3d4e5f60\nSYSLOG_IDENTIFIER=x\n");
    put_binary(f, "MESSAGE", big, sizeof big);
    fprintf(f, "\n");
    /* Identifier and host with NUL and escapes; an identifier over the field cap. */
    static const char bad_ident[] = "ev\0il\x1b]0;";
    fprintf(f, "__REALTIME_TIMESTAMP=1700000003000000\n__MONOTONIC_TIMESTAMP=7\n"
               "_BOOT_ID=5a8c1e0f3b2d4c6e8f0a1b2c3d4e5f60\n");
    put_binary(f, "SYSLOG_IDENTIFIER", bad_ident, sizeof bad_ident - 1);
    put_binary(f, "_HOSTNAME", "h\0\n", 3);
    fprintf(f, "MESSAGE=m3\n\n");
    static char long_ident[9000];
    memset(long_ident, 'i', sizeof long_ident);
    fprintf(f, "__REALTIME_TIMESTAMP=1700000004000000\n__MONOTONIC_TIMESTAMP=8\n"
               "_BOOT_ID=5a8c1e0f3b2d4c6e8f0a1b2c3d4e5f60\nMESSAGE=m4\n");
    put_binary(f, "SYSLOG_IDENTIFIER", long_ident, sizeof long_ident);
    fprintf(f, "\n");
    cr_assert_eq(fclose(f), 0);
    convert(src, "t.journal");

    harness h;
    h_init(&h, VG_START_BEGINNING);
    h.conf.max_line = 1000;
    h_start(&h, NULL);
    vg_batch_reset(&h.b);
    cr_assert_eq(ops->read(h.c, &h.b, 64), VG_OK);
    cr_assert_eq(h.b.n, 4);
    const vg_event *e = &h.b.ev[0];
    cr_assert_eq(e->message.n, binlen);
    cr_expect_eq(memcmp(e->message.p, bin, binlen), 0);
    cr_expect_eq(memcmp(e->raw.p + e->raw.n - binlen, bin, binlen), 0);
    const vg_str *m = vg_event_get(e, VG_STR("MESSAGE"));
    cr_assert_not_null(m);
    cr_expect_eq(m->n, binlen);
    cr_expect_eq(e->flags & VG_EV_TRUNCATED, 0);

    const vg_event *b2 = &h.b.ev[1];
    cr_expect_eq(b2->message.n, 1000);
    cr_expect(b2->flags & VG_EV_TRUNCATED);
    cr_expect_null(b2->hostname.p);
    cr_expect_eq(memcmp(b2->raw.p + 15, " - x: AAA", 9), 0, "raw: %.40s", b2->raw.p);
    cr_expect_eq(counter(&h, "input.truncated"), 1);

    const vg_event *b3 = &h.b.ev[2];
    cr_expect_eq(b3->program.n, sizeof bad_ident - 1);
    cr_expect_eq(memcmp(b3->program.p, bad_ident, sizeof bad_ident - 1), 0);
    cr_expect_eq(b3->hostname.n, 3);
    cr_expect(vg_str_eqc(b3->message, "m3"));
    cr_expect_eq(b3->stream->name[0], 'e', "stream named by the identifier");

    const vg_event *b4 = &h.b.ev[3];
    cr_expect_eq(b4->program.n, 4096, "identifier capped");
    cr_expect(b4->flags & VG_EV_FIELDS_DROPPED);
    cr_expect(vg_str_eqc(b4->message, "m4"));
    h_fini(&h);
}

Test(journal, journal_directory_is_read)
{
    convert_fixture("base.export", "t.journal");
    harness h;
    h_init(&h, VG_START_BEGINNING);
    h.conf.journal_files = (vg_strlist){NULL, 0};
    h.conf.journal_directory = tmpdir;
    h_start(&h, NULL);
    got g = {0};
    drain(&h, &g, 64);
    expect_entries(&g, (int[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
    h_fini(&h);
}

Test(journal, empty_directory_then_journal_files_appear)
{
    /* The agent may start before journald has written anything. */
    harness h;
    h_init(&h, VG_START_END);
    h.conf.journal_files = (vg_strlist){NULL, 0};
    h.conf.journal_directory = tmpdir;
    h_start(&h, NULL);
    cr_expect_geq(ops->fd(h.c), 0);
    got g = {0};
    collect(&h, &g, 64, true);
    cr_expect_eq(g.n, 0);
    convert_fixture("base.export", "t.journal");
    wait_for(&h, &g, NBASE);
    expect_entries(&g, (int[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
    h_fini(&h);
}

Test(journal, filtered_tail_follows_only_matching_new_entries)
{
    convert_fixture("base.export", "t.journal");
    static char *cron[] = {"cron.service"};
    harness h;
    h_init(&h, VG_START_END);
    h.conf.units = (vg_strlist){cron, 1};
    h_start(&h, NULL);
    got g = {0};
    collect(&h, &g, 64, true);
    cr_expect_eq(g.n, 0);
    convert_fixture("more.export", "t.journal");
    wait_for(&h, &g, 1);
    drain(&h, &g, 64);
    expect_entries(&g, (int[]){10}, 1);
    h_fini(&h);
}

Test(journal, missing_journal_is_idle_not_an_error)
{
    static const struct {
        const char *dir, *file;
    } cases[] = {
        {"/nonexistent/vigie/journal", NULL},
        {NULL, "/nonexistent/vigie/x.journal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness h;
        h_init(&h, VG_START_BEGINNING);
        char *files[] = {(char *)cases[i].file};
        h.conf.journal_files = (vg_strlist){files, cases[i].file ? 1 : 0};
        h.conf.journal_directory = (char *)cases[i].dir;
        h_start(&h, NULL);
        cr_expect_eq(ops->fd(h.c), -1);
        cr_expect_eq(ops->timeout_ms(h.c), -1);
        vg_batch_reset(&h.b);
        cr_expect_eq(ops->read(h.c, &h.b, 64), VG_EAGAIN);
        cr_expect_eq(h.b.n, 0);
        cr_expect_null(ops->save(h.c));
        h_fini(&h);
    }
}

Test(journal, system_journal_never_fails)
{
    /* CI has no journald (idle); a real host starts at the tail: nothing yet either way. */
    harness h;
    h_init(&h, VG_START_END);
    h.conf.journal_files = (vg_strlist){NULL, 0};
    h_start(&h, NULL);
    vg_batch_reset(&h.b);
    vg_err r = ops->read(h.c, &h.b, 64);
    cr_expect(r == VG_EAGAIN || r == VG_OK);
    h_fini(&h);
}

Test(journal, saved_state_without_cursor_starts_as_first_run)
{
    convert_fixture("base.export", "t.journal");
    harness h;
    h_init(&h, VG_START_BEGINNING);
    json_t *bad = json_pack("{s:i}", "cursor", 42);
    h_start(&h, bad);
    json_decref(bad);
    got g = {0};
    drain(&h, &g, 64);
    cr_expect_eq(g.n, NBASE);
    h_stop(&h);

    json_t *garbage = json_pack("{s:s}", "cursor", "not a cursor");
    h_start(&h, garbage);
    json_decref(garbage);
    cr_expect_null(ops->save(h.c), "an invalid cursor is not saved back");
    got g2 = {0};
    drain(&h, &g2, 64);
    cr_expect_eq(g2.n, NBASE);
    h_fini(&h);
}

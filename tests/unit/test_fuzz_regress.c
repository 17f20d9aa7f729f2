/*
 * test_fuzz_regress.c - what the fuzz targets (tests/fuzz/) found, kept in
 * the normal suite: each input of tests/fuzz/regress/<target>/ is replayed
 * through the code its target drives (under ASan in the CI's second pass,
 * which is where a memory error shows), plus tables of the syslog
 * listener's framing through vg_listen_inject, the seam its fuzz target
 * uses (octet counting vs LF, detection across reads, truncation, framing
 * errors, datagrams).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/log.h"
#include "collectors/listen.h"
#include "collectors/parser.h"
#include "detectors/correlation.h"
#include "detectors/drain.h"
#include "detectors/sigma.h"

/* A leak in a criterion test only prints a warning (the worker's exit is
   not a test failure): under ASan, the regressions of leaks ask LSan
   themselves. */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leak (LSan report above)")
#else
#define LEAK_CHECK() ((void)0)
#endif

/* ---- the listener's framing ---- */

#define MAXMSG 8

typedef struct got {
    char msg[MAXMSG][64];
    bool trunc[MAXMSG];
    size_t n;
} got;

static void *listener(size_t max_message)
{
    vg_listen_conf lc = {.name = "t", .tcp = "127.0.0.1:0", .max_message = max_message};
    void *L = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_listen_create(&lc, NULL, NULL, &L, &eb), VG_OK, "%s", eb.msg);
    return L;
}

static void collect(void *L, got *g)
{
    vg_batch b;
    cr_assert_eq(vg_batch_init(&b, 64, 1 << 16), 0);
    while (vg_collector_syslog.read(L, &b, b.cap) == VG_OK) {
        for (size_t i = 0; i < b.n && g->n < MAXMSG; i++, g->n++) {
            snprintf(g->msg[g->n], sizeof g->msg[g->n], "%.*s", (int)b.ev[i].raw.n, b.ev[i].raw.p);
            g->trunc[g->n] = (b.ev[i].flags & VG_EV_TRUNCATED) != 0;
            cr_assert(vg_event_get(&b.ev[i], VG_STR("log.source.address")));
        }
        vg_batch_reset(&b);
    }
    vg_batch_destroy(&b);
}

/* A TCP stream sent in the given pieces ('|' separates them), then closed. */
typedef struct tcp_case {
    const char *pieces;
    size_t max_message;
    const char *want[MAXMSG]; /* a leading '~' = flagged truncated */
    bool closed_early;        /* a framing error closes before the end */
} tcp_case;

static const tcp_case tcp_cases[] = {
    {"a\nb\r\nc", 64, {"a", "b", "c"}, false},
    {"3 abc4 defg", 64, {"abc", "defg"}, false},
    {"3 abc\n3 def\r\n", 64, {"abc", "def"}, false},
    {"1|0 0123456789", 64, {"0123456789"}, false},
    {"12|3", 64, {"123"}, false},                      /* digits then EOF: one message */
    {"12x abc\nnext", 64, {"12x abc", "next"}, false}, /* not "DIGITS SP": LF framing */
    {"3 abcX", 64, {"abc"}, true},                     /* a bad count after a frame */
    {"10 0123456789", 4, {"~0123"}, false},
    {"10 01234|56789|2 ok", 4, {"~0123", "ok"}, false},
    {"0 3 abc", 64, {"abc"}, false},
    {"abcdefghij\nk", 4, {"~abcd", "k"}, false},
    {"99999999999 x", 64, {"99999999999 x"}, false}, /* 11 digits: not a count */
    {"3 a\r\n", 64, {"a"}, false},                   /* trailing CR/LF stripped */
    {"5 ab", 64, {NULL}, false},                     /* a frame cut by the close: dropped */
};

static void run_tcp(const tcp_case *c)
{
    void *L = listener(c->max_message);
    char *s = strdup(c->pieces);
    bool open = true;
    for (char *save = NULL, *p = strtok_r(s, "|", &save); p && open; p = strtok_r(NULL, "|", &save))
        open = vg_listen_inject(L, "tcp", p, strlen(p));
    cr_assert_eq(!open, c->closed_early, "%s: closed early %d", c->pieces, !open);
    if (open)
        cr_assert_not(vg_listen_inject(L, "tcp", NULL, 0), "a close ends the connection");
    got g = {0};
    collect(L, &g);
    size_t nwant = 0;
    while (nwant < MAXMSG && c->want[nwant])
        nwant++;
    cr_assert_eq(g.n, nwant, "%s: %zu messages, want %zu", c->pieces, g.n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        bool tr = c->want[i][0] == '~';
        cr_assert_str_eq(g.msg[i], c->want[i] + tr, "%s: message %zu", c->pieces, i);
        cr_assert_eq(g.trunc[i], tr, "%s: message %zu truncated flag", c->pieces, i);
    }
    free(s);
    vg_collector_syslog.destroy(L);
}

Test(listen_inject, tcp)
{
    vg_log_set_quiet(true);
    for (size_t i = 0; i < sizeof tcp_cases / sizeof tcp_cases[0]; i++)
        run_tcp(&tcp_cases[i]);
}

Test(listen_inject, datagrams)
{
    vg_log_set_quiet(true);
    void *L = listener(4);
    cr_assert(vg_listen_inject(L, "udp", "ab\n\r", 4));
    cr_assert(vg_listen_inject(L, "unix", "abcdefgh", 8));
    cr_assert(vg_listen_inject(L, "udp", "\n\n", 2)); /* nothing left: dropped */
    cr_assert_not(vg_listen_inject(L, "sctp", "x", 1));
    got g = {0};
    collect(L, &g);
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.msg[0], "ab");
    cr_assert_str_eq(g.msg[1], "abcd");
    cr_assert(g.trunc[1]);
    vg_collector_syslog.destroy(L);
}

/* ---- replay of tests/fuzz/regress/<target>/ ---- */

/* tests/fuzz/regress/<target>: from $VG_SOURCE_ROOT (meson test), else
   relative to this file or to the working directory (run by hand). */
static const char *regress_dir(char *buf, size_t n, const char *target)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    if (root) {
        snprintf(buf, n, "%s/tests/fuzz/regress/%s", root, target);
        return buf;
    }
    const char *slash = strrchr(__FILE__, '/');
    snprintf(buf, n, "%.*s/../fuzz/regress/%s", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".", target);
    static const char *const up[] = {"tests/fuzz/regress", "../tests/fuzz/regress"};
    for (size_t i = 0; i < 2 && access(buf, R_OK); i++)
        snprintf(buf, n, "%s/%s", up[i], target);
    return buf;
}

typedef void (*replay_fn)(const char *data, size_t n);

/* Each input of the target's directory through fn; the count replayed. */
static size_t replay(const char *target, replay_fn fn)
{
    char dir[1024];
    DIR *d = opendir(regress_dir(dir, sizeof dir, target));
    if (!d)
        return 0;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "rb");
        cr_assert(f, "%s", p);
        char *buf = malloc(1 << 20);
        size_t n = fread(buf, 1, 1 << 20, f);
        fclose(f);
        char *exact = malloc(n ? n : 1); /* exact size: ASan sees a read past it */
        memcpy(exact, buf, n);
        free(buf);
        fn(exact, n);
        free(exact);
        count++;
    }
    closedir(d);
    return count;
}

/* As fuzz_listen.c: mode byte, 4 chunk sizes, then the stream. */
static void replay_listen(const char *data, size_t size)
{
    if (size < 5)
        return;
    unsigned mode = (unsigned char)data[0];
    size_t chunk[4];
    for (int i = 0; i < 4; i++)
        chunk[i] = (size_t)(unsigned char)data[1 + i] * ((i & 1) ? 1 : 97) + 1;
    static const size_t maxes[4] = {64, 200, 2048, 65536};
    static const char *const tr[4] = {"tcp", "tcp", "udp", "unix"};
    vg_listen_conf lc = {.name = "fuzz",
                         .tcp = "127.0.0.1:0",
                         .max_message = maxes[(mode >> 2) & 3],
                         .queue_messages = (mode & 16) ? 16 : 0,
                         .rate = (mode & 32) ? 1 : 0,
                         .burst = (mode & 32) ? 3 : 0};
    void *L = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_listen_create(&lc, NULL, NULL, &L, &eb), VG_OK);
    const char *t = tr[mode & 3];
    data += 5;
    size -= 5;
    for (size_t off = 0, k = 0; off < size; k++) {
        size_t c = chunk[k & 3] < size - off ? chunk[k & 3] : size - off;
        bool open = vg_listen_inject(L, t, data + off, c);
        off += c;
        if (!open && !strcmp(t, "tcp"))
            break;
    }
    vg_listen_inject(L, "tcp", NULL, 0);
    got g = {0};
    collect(L, &g);
    vg_collector_syslog.destroy(L);
}

Test(regress, listen)
{
    vg_log_set_quiet(true);
    size_t n = replay("listen", replay_listen);
    cr_log_info("listen: %zu inputs replayed", n);
    LEAK_CHECK();
}

/* As fuzz_correlation.c's compile step: every document of the input, with
   correlations compiled by vg_corr_compile. Diagnostics are collected. */
typedef struct diags {
    char text[4096];
    size_t n;
} diags;

static void on_diag(void *ud, const vg_diag *d)
{
    diags *g = ud;
    size_t k = strlen(g->text);
    snprintf(g->text + k, sizeof g->text - k, "%d:%d: %s\n", d->line, d->col, d->msg);
    g->n++;
}

static void on_corr(void *ud, struct yaml_document_s *doc, struct yaml_node_s *root,
                    const char *origin, vg_diag_fn diag, void *diag_ud)
{
    (void)ud;
    vg_corr_destroy(vg_corr_compile(doc, root, origin, diag, diag_ud));
}

/* Each rule's x_vigie.suppress is parsed as det_sigma's finish does. */
static void on_rule(void *ud, vg_sigma_rule *r)
{
    (void)ud;
    const vg_rule_meta *m = vg_sigma_meta(r);
    vg_suppress sup;
    bool has = false;
    vg_errbuf eb;
    if (m->x_vigie && vg_suppress_parse(m->x_vigie, &has, &sup, &eb) == VG_OK && has)
        vg_suppress_free(&sup);
    vg_sigma_rule_destroy(r);
}

static diags last_diags;

static void replay_sigma(const char *data, size_t n)
{
    vg_sigma_opts o = {
        .regex_match_limit = 100000, .regex_depth_limit = 1000, .on_correlation = on_corr};
    memset(&last_diags, 0, sizeof last_diags);
    vg_sigma_load_buffer(data, n, "regress.yml", &o, on_rule, on_diag, &last_diags);
}

/* A test line `at:` before 1677 or after 2262 overflowed the ns clock
   (signed overflow, UBSan); it is now refused like any unreadable time. */
Test(regress, correlation)
{
    vg_log_set_quiet(true);
    size_t n = replay("correlation", replay_sigma);
    cr_log_info("correlation: %zu inputs replayed", n);
    static const char rule[] =
        "title: c\nid: c-1\ncorrelation: {type: event_count, rules: [x], timespan: 10m,"
        " condition: {gte: 2}}\nx_vigie:\n  tests:\n    - lines:\n        - {at: '%s', line: a}\n"
        "      alerts: 0\n";
    static const struct {
        const char *at;
        bool ok;
    } times[] = {
        {"2026-12-10T06:55:00Z", true},     {"1013-12-10T06:55:00Z", false},
        {"1677-09-21T00:12:45Z", true},     {"1677-09-21T00:12:44Z", false},
        {"2262-04-11T23:47:15.999Z", true}, {"2262-04-11T23:47:16Z", false},
        {"9999-12-31T23:59:59Z", false},
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char y[512];
        snprintf(y, sizeof y, rule, times[i].at);
        replay_sigma(y, strlen(y));
        bool refused = strstr(last_diags.text, "'at' must be") != NULL;
        cr_assert_eq(refused, !times[i].ok, "%s: %s", times[i].at, last_diags.text);
    }
    LEAK_CHECK();
}

/* The state of a template miner that learned nothing (a rare_sequence or
   new_template baseline that saw no event before a checkpoint) loads back:
   qsort was given a NULL array (UBSan), found by fuzz_baseline
   (regress/baseline/: its rule saves and restores such a miner). */
Test(regress, baseline_empty_miner_state)
{
    vg_drain *d = vg_drain_create(NULL);
    cr_assert(d);
    json_t *j = vg_drain_save(d);
    cr_assert(j);
    vg_drain *d2 = vg_drain_create(NULL);
    vg_errbuf eb;
    cr_assert_eq(vg_drain_load(d2, j, &eb), VG_OK, "%s", eb.msg);
    json_decref(j);
    vg_drain_destroy(d2);
    vg_drain_destroy(d);
    vg_log_set_quiet(true);
    size_t n = replay("baseline", replay_sigma);
    cr_log_info("baseline: %zu inputs compiled", n);
}

/* x_vigie.suppress refused after `by` was read leaked the list (LeakSanitizer,
   fuzz_baseline: `window: &10m`, an anchor without value). */
Test(regress, suppress_errors_free_what_was_read)
{
    static const struct {
        const char *json;
        vg_err want;
    } cases[] = {
        {"{\"suppress\": {\"by\": [\"ip\"], \"window\": null}}", VG_ERULE},
        {"{\"suppress\": {\"by\": [\"ip\", \"user\"], \"window\": 5}}", VG_ERULE},
        {"{\"suppress\": {\"by\": \"ip\", \"window\": [\"10m\"]}}", VG_ERULE},
        {"{\"suppress\": {\"by\": [\"ip\"], \"window\": \"10x\"}}", VG_ERULE},
        {"{\"suppress\": {\"by\": [\"ip\"], \"other\": 1}}", VG_ERULE},
        {"{\"suppress\": {\"by\": [\"ip\"], \"window\": \"10m\"}}", VG_OK},
        {"{\"suppress\": \"10m\"}", VG_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        cr_assert(j, "%s", cases[i].json);
        vg_suppress sup;
        bool has = false;
        vg_errbuf eb;
        vg_err e = vg_suppress_parse(j, &has, &sup, &eb);
        cr_assert_eq(e, cases[i].want, "%s: %d", cases[i].json, e);
        cr_assert_eq(has, e == VG_OK, "%s", cases[i].json);
        /* refused: what was read is freed (the callers free nothing then) */
        cr_assert(e == VG_OK || (!sup.by.v && !sup.by.n), "%s: by list left behind", cases[i].json);
        if (has)
            vg_suppress_free(&sup);
        json_decref(j);
    }
    vg_log_set_quiet(true);
    size_t n = replay("baseline", replay_sigma);
    cr_assert_geq(n, 2, "regress/baseline/ inputs not found");
    LEAK_CHECK();
}

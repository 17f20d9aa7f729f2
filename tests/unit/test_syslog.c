/*
 * test_syslog.c - the syslog output: RFC 5424 formatting (tables of item ->
 * frame), octet-count framing of hostile items, and the transport against a
 * TCP server thread in this test (delivery, reconnect, wake, timeout,
 * configuration errors). The suite "rsyslog" talks to a real rsyslog over
 * TCP, TLS and mutual TLS; it runs when tests/e2e/test_rsyslog_transport.sh
 * started one and set VG_RS_* (skipped otherwise).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/json.h"
#include "agent/syslog_fmt.h"
#include "agent/transport.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- formatting */

typedef struct fmt_case {
    const char *name;
    const char *item;
    int facility;
    const char *app, *host;
    const char *want; /* the message (without the "LEN " prefix) */
} fmt_case;

#define TS "\"@timestamp\":\"2024-03-01T10:00:00.123456Z\""

static const fmt_case fmt_cases[] = {
    {"alert high",
     "{" TS ",\"event\":{\"id\":\"abc\",\"kind\":\"alert\"},\"rule\":{\"id\":\"r-1\","
     "\"name\":\"SSH brute force\",\"level\":\"high\"},\"host\":{\"name\":\"web1\"}}",
     16, "vigie", "fallback",
     "<131>1 2024-03-01T10:00:00.123456Z web1 vigie - alert [vigie@32473 id=\"abc\" rule=\"r-1\" "
     "name=\"SSH brute force\" level=\"high\"] "},
    {"critical", "{\"rule\":{\"level\":\"critical\"},\"event\":{\"kind\":\"alert\"}}", 16, NULL,
     "h", "<130>1 - h vigie - alert [vigie@32473 level=\"critical\"] "},
    {"medium", "{\"rule\":{\"level\":\"medium\"}}", 16, NULL, "h",
     "<132>1 - h vigie - - [vigie@32473 level=\"medium\"] "},
    {"low", "{\"rule\":{\"level\":\"low\"}}", 16, NULL, "h",
     "<133>1 - h vigie - - [vigie@32473 level=\"low\"] "},
    {"informational", "{\"rule\":{\"level\":\"informational\"}}", 16, NULL, "h",
     "<134>1 - h vigie - - [vigie@32473 level=\"informational\"] "},
    {"unknown level alert is notice",
     "{\"rule\":{\"level\":\"bogus\"},\"event\":{\"kind\":\"alert\"}}", 16, NULL, "h",
     "<133>1 - h vigie - alert [vigie@32473 level=\"bogus\"] "},
    {"raw event is info", "{\"event\":{\"kind\":\"event\"},\"host\":{\"name\":\"db\"}}", 16, NULL,
     "h", "<134>1 - db vigie - event - "},
    {"heartbeat", "{" TS ",\"event\":{\"kind\":\"state\"}}", 16, "app", NULL,
     "<134>1 2024-03-01T10:00:00.123456Z - app - state - "},
    {"unknown kind", "{\"event\":{\"kind\":\"metric\"}}", 16, NULL, "h", "<134>1 - h vigie - - - "},
    {"empty object", "{}", 16, NULL, NULL, "<134>1 - - vigie - - - "},
    {"facility authpriv", "{}", 10, NULL, "h", "<86>1 - h vigie - - - "},
    {"facility out of range -> local0", "{}", 99, NULL, "h", "<134>1 - h vigie - - - "},
    {"not JSON", "not json at all", 16, NULL, "h", "<134>1 - h vigie - - - "},
    {"JSON array", "[1,2]", 16, NULL, "h", "<134>1 - h vigie - - - "},
    {"SD escaping", "{\"rule\":{\"id\":\"a\\\"b\\\\c]d\",\"name\":\"x\\ny\\u0001z\"}}", 16, NULL,
     "h", "<134>1 - h vigie - - [vigie@32473 rule=\"a\\\"b\\\\c\\]d\" name=\"x?y?z\"] "},
    {"hostile host and app", "{\"host\":{\"name\":\"a b\\nc\\u00e9\"}}", 16, "my app", NULL,
     "<134>1 - a_b_c__ my_app - - - "},
    {"host name not a string", "{\"host\":{\"name\":42}}", 16, NULL, "fb",
     "<134>1 - fb vigie - - - "},
    {"empty host name", "{\"host\":{\"name\":\"\"}}", 16, NULL, "fb", "<134>1 - fb vigie - - - "},
    {"timestamp with offset", "{\"@timestamp\":\"2024-03-01T10:00:00+01:00\"}", 16, NULL, "h",
     "<134>1 2024-03-01T10:00:00+01:00 h vigie - - - "},
    {"timestamp 7 fraction digits", "{\"@timestamp\":\"2024-03-01T10:00:00.1234567Z\"}", 16, NULL,
     "h", "<134>1 - h vigie - - - "},
    {"timestamp with space", "{\"@timestamp\":\"2024-03-01 10:00:00Z\"}", 16, NULL, "h",
     "<134>1 - h vigie - - - "},
    {"timestamp month 13", "{\"@timestamp\":\"2024-13-01T10:00:00Z\"}", 16, NULL, "h",
     "<134>1 - h vigie - - - "},
    {"timestamp trailing junk", "{\"@timestamp\":\"2024-03-01T10:00:00Z x\"}", 16, NULL, "h",
     "<134>1 - h vigie - - - "},
};

/* Parse one "LEN SP MSG" frame at p[0..n); returns the frame's total size, 0 if malformed. */
static size_t parse_frame(const char *p, size_t n, const char **msg, size_t *mlen)
{
    size_t i = 0, len = 0;
    while (i < n && i < 10 && p[i] >= '0' && p[i] <= '9')
        len = len * 10 + (size_t)(p[i++] - '0');
    if (i == 0 || i >= n || p[i] != ' ' || (p[0] == '0'))
        return 0;
    i++;
    if (n - i < len)
        return 0;
    *msg = p + i;
    *mlen = len;
    return i + len;
}

Test(syslog_fmt, table)
{
    for (size_t k = 0; k < sizeof fmt_cases / sizeof fmt_cases[0]; k++) {
        const fmt_case *c = &fmt_cases[k];
        vg_buf b;
        vg_buf_init(&b, 1 << 20);
        vg_syslog_fmt_opts o = {.facility = c->facility, .app_name = c->app, .hostname = c->host};
        cr_assert(vg_syslog_frame(&b, &o, c->item, strlen(c->item)), "%s", c->name);
        const char *msg = NULL;
        size_t mlen = 0;
        cr_assert_eq(parse_frame(b.p, b.n, &msg, &mlen), b.n, "%s: one whole frame", c->name);
        size_t wl = strlen(c->want), il = strlen(c->item);
        cr_assert_eq(mlen, wl + il, "%s: length %zu, want %zu: %.*s", c->name, mlen, wl + il,
                     (int)mlen, msg);
        cr_assert(!memcmp(msg, c->want, wl), "%s:\n got  %.*s\n want %s", c->name, (int)wl, msg,
                  c->want);
        cr_assert(!memcmp(msg + wl, c->item, il), "%s: MSG is the item unchanged", c->name);
        vg_buf_free(&b);
    }
}

/* The address of a syslog or relp output: (address, default port) -> host, port or an error. */
Test(syslog_fmt, address_table)
{
    struct {
        const char *addr;
        long def;
        const char *host, *port; /* NULL host: refused */
    } t[] = {
        {"logs.example:6514", 514, "logs.example", "6514"},
        {"logs.example", 20514, "logs.example", "20514"},
        {"[2001:db8::1]:601", 514, "2001:db8::1", "601"},
        {"[2001:db8::1]", 514, "2001:db8::1", "514"},
        {"2001:db8::1", 6514, "2001:db8::1", "6514"},
        {"10.0.0.1:65535", 514, "10.0.0.1", "65535"},
        {":514", 514, NULL, NULL},
        {"host:0", 514, NULL, NULL},
        {"host:65536", 514, NULL, NULL},
        {"host:", 514, NULL, NULL},
        {"host:12x", 514, NULL, NULL},
        {"[2001:db8::1", 514, NULL, NULL},
        {"[::1]x", 514, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char *h = NULL, *p = NULL;
        vg_errbuf eb;
        vg_err e = vg_addr_parse(t[i].addr, t[i].def, &h, &p, &eb);
        if (!t[i].host) {
            cr_assert_eq(e, VG_ECONFIG, "'%s' accepted", t[i].addr);
            cr_assert(strstr(eb.msg, t[i].addr), "the error names the address: %s", eb.msg);
        } else {
            cr_assert_eq(e, VG_OK, "'%s': %s", t[i].addr, eb.msg);
            cr_assert_str_eq(h, t[i].host);
            cr_assert_str_eq(p, t[i].port);
        }
        free(h);
        free(p);
    }
}

Test(syslog_fmt, severity_names)
{
    static const struct {
        const char *level;
        int sev;
    } t[] = {{"critical", 2},      {"high", 3},  {"medium", 4}, {"low", 5},
             {"informational", 6}, {"High", -1}, {"", -1},      {NULL, -1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_eq(vg_syslog_severity(t[i].level), t[i].sev, "%s",
                     t[i].level ? t[i].level : "NULL");
}

Test(syslog_fmt, long_sd_value_cut_on_utf8_boundary)
{
    /* 300 bytes of "é" (2 bytes each), then escaped quotes: cut at <= 256 bytes, whole chars. */
    char item[1024];
    size_t n = (size_t)snprintf(item, sizeof item, "{\"rule\":{\"name\":\"");
    for (int i = 0; i < 150; i++)
        n += (size_t)snprintf(item + n, sizeof item - n, "\xc3\xa9");
    n += (size_t)snprintf(item + n, sizeof item - n, "\"}}");
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    vg_syslog_fmt_opts o = {.facility = 16};
    cr_assert(vg_syslog_frame(&b, &o, item, n));
    const char *p = memmem(b.p, b.n, "name=\"", 6);
    cr_assert_not_null(p);
    p += 6;
    const char *q = memchr(p, '"', b.n - (size_t)(p - b.p));
    cr_assert_not_null(q);
    cr_assert_eq(q - p, 256, "value of %zd bytes", q - p);
    vg_buf_free(&b);
}

Test(syslog_fmt, overflow_leaves_buffer_whole)
{
    vg_buf b;
    vg_buf_init(&b, 200);
    vg_syslog_fmt_opts o = {.facility = 16, .hostname = "h"};
    const char *small = "{\"a\":1}";
    cr_assert(vg_syslog_frame(&b, &o, small, strlen(small)));
    size_t n1 = b.n;
    char big[300];
    memset(big, 'x', sizeof big);
    cr_assert_not(vg_syslog_frame(&b, &o, big, sizeof big));
    cr_assert_eq(b.n, n1);
    cr_assert_not(b.overflow, "overflow cleared so the buffer stays usable");
    cr_assert(vg_syslog_frame(&b, &o, small, strlen(small)));
    const char *m;
    size_t ml, f1 = parse_frame(b.p, b.n, &m, &ml);
    cr_assert_eq(f1, n1);
    cr_assert_eq(parse_frame(b.p + f1, b.n - f1, &m, &ml), b.n - f1);
    vg_buf_free(&b);
}

Test(syslog_fmt, hostile_items_stay_one_frame_each)
{
    /* Random bytes (NUL, newlines, quotes, brackets, invalid UTF-8), some
       wrapped in JSON-looking fields: every item is exactly one frame whose
       MSG ends with the item, and header fields are printable ASCII. */
    unsigned seed = 12345;
    vg_buf b;
    vg_buf_init(&b, 64 << 20);
    vg_syslog_fmt_opts o = {.facility = 16, .hostname = "h"};
    static const char alpha[] = "\"\\]\n\r\0 {}:,[0123456789\xc3\xa9\xff@-";
    char *items[500];
    size_t lens[500];
    for (int i = 0; i < 500; i++) {
        char tmp[600];
        int pre = snprintf(tmp, sizeof tmp, "{\"host\":{\"name\":\"");
        size_t n = (size_t)pre;
        seed = seed * 1103515245u + 12345u;
        size_t extra = (seed >> 16) % 500;
        for (size_t k = 0; k < extra; k++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            tmp[n++] = (r & 3) ? alpha[r % (sizeof alpha - 1)] : (char)(r >> 4);
        }
        if (i % 2)
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "\"}}");
        items[i] = malloc(n ? n : 1);
        memcpy(items[i], tmp, n);
        lens[i] = n;
        cr_assert(vg_syslog_frame(&b, &o, items[i], n));
    }
    size_t off = 0;
    for (int i = 0; i < 500; i++) {
        const char *m;
        size_t ml, f = parse_frame(b.p + off, b.n - off, &m, &ml);
        cr_assert_gt(f, 0, "frame %d", i);
        cr_assert_geq(ml, lens[i]);
        cr_assert(!memcmp(m + ml - lens[i], items[i], lens[i]), "frame %d ends with its item", i);
        /* HEADER up to the SD: PRI VERSION TS HOST APP PROCID MSGID are 7 tokens of 33..126 */
        int spaces = 0;
        for (size_t k = 0; k < ml - lens[i] && spaces < 6; k++) {
            if (m[k] == ' ')
                spaces++;
            else
                cr_assert(m[k] >= 33 && m[k] <= 126, "frame %d: header byte 0x%02x", i,
                          (unsigned char)m[k]);
        }
        off += f;
        free(items[i]);
    }
    cr_assert_eq(off, b.n);
    vg_buf_free(&b);
}

/* ---------------------------------------------------------------- a TCP server thread */

typedef struct srv {
    int lfd, port;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *data;
    size_t n, cap;
    int conns;   /* accepted so far */
    int cfd;     /* current connection, -1 if none */
    bool closed; /* the current connection was closed by the test */
} srv;

static void *srv_main(void *arg)
{
    srv *s = arg;
    for (;;) {
        int c = accept(s->lfd, NULL, NULL);
        if (c < 0)
            return NULL; /* shutdown() of the listener */
        pthread_mutex_lock(&s->mu);
        s->cfd = c;
        s->conns++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        char buf[65536];
        for (;;) {
            ssize_t r = recv(c, buf, sizeof buf, 0);
            if (r <= 0)
                break;
            pthread_mutex_lock(&s->mu);
            if (s->n + (size_t)r > s->cap) {
                s->cap = (s->n + (size_t)r) * 2;
                s->data = realloc(s->data, s->cap);
            }
            memcpy(s->data + s->n, buf, (size_t)r);
            s->n += (size_t)r;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
        pthread_mutex_lock(&s->mu);
        close(c);
        s->cfd = -1;
        s->closed = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 8), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

static void srv_start(srv *s)
{
    memset(s, 0, sizeof *s);
    s->cfd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->lfd = listen_any(&s->port);
    pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(srv *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_mutex_lock(&s->mu);
    if (s->cfd >= 0)
        shutdown(s->cfd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    close(s->lfd);
    free(s->data);
}

/* Count whole frames received; each MSG must end with a JSON item. */
static size_t srv_frames_locked(srv *s)
{
    size_t off = 0, k = 0;
    const char *m;
    size_t ml, f;
    while (off < s->n && (f = parse_frame(s->data + off, s->n - off, &m, &ml))) {
        off += f;
        k++;
    }
    return k;
}

/* Wait (deadline) until at least `want` frames have arrived. */
static size_t srv_wait_frames(srv *s, size_t want, int64_t ms)
{
    int64_t end = mono_ms() + ms;
    pthread_mutex_lock(&s->mu);
    size_t k;
    while ((k = srv_frames_locked(s)) < want && mono_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return k;
}

static bool srv_contains(srv *s, const char *needle)
{
    pthread_mutex_lock(&s->mu);
    bool r = s->n && memmem(s->data, s->n, needle, strlen(needle));
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* ---------------------------------------------------------------- transport */

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the agent does */
}

typedef struct items {
    vg_send_item *v;
    char **buf;
    size_t n;
} items;

static items make_items(size_t n, const char *tag, size_t pad)
{
    items it = {calloc(n, sizeof(vg_send_item)), calloc(n, sizeof(char *)), n};
    for (size_t i = 0; i < n; i++) {
        char *p = malloc(pad + 512);
        int len =
            snprintf(p, 512,
                     "{\"@timestamp\":\"2024-03-01T10:00:00.000001Z\",\"event\":{\"id\":\"%s-%zu\","
                     "\"kind\":\"alert\"},\"rule\":{\"id\":\"r1\",\"name\":\"Test rule\","
                     "\"level\":\"high\"},\"host\":{\"name\":\"web1\"},\"message\":\"",
                     tag, i);
        memset(p + len, 'x', pad);
        len += (int)pad;
        len += snprintf(p + len, 512, "\"}");
        it.buf[i] = p;
        it.v[i] = (vg_send_item){p, (size_t)len};
    }
    return it;
}

static void free_items(items *it)
{
    for (size_t i = 0; i < it->n; i++)
        free(it->buf[i]);
    free(it->buf);
    free(it->v);
}

static vg_output_conf conf_for(char *address, int64_t timeout_ms)
{
    return (vg_output_conf){.name = "t",
                            .type = "syslog",
                            .address = address,
                            .timeout_ms = timeout_ms,
                            .app_name = "vigie"};
}

Test(syslog_tx, delivers_batches_and_counts_bytes, .init = setup)
{
    srv s;
    srv_start(&s);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);
    vg_output_conf c = conf_for(addr, 5000);
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_syslog.create(&c, st, &t, &eb), VG_OK, "%s", eb.msg);
    items it = make_items(100, "batch", 10);
    vg_send_status status[100];
    cr_assert_eq(vg_transport_syslog.send(t, it.v, it.n, status, &eb), VG_OK, "%s", eb.msg);
    for (size_t i = 0; i < it.n; i++)
        cr_assert_eq(status[i], VG_SEND_OK);
    cr_assert_eq(srv_wait_frames(&s, 100, 10000), 100);
    cr_assert(srv_contains(&s, "<131>1 2024-03-01T10:00:00.000001Z web1 vigie - alert "
                               "[vigie@32473 id=\"batch-99\" rule=\"r1\" name=\"Test rule\" "
                               "level=\"high\"] {\"@timestamp\""));
    /* a second batch on the same connection */
    cr_assert_eq(vg_transport_syslog.send(t, it.v, 10, status, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(srv_wait_frames(&s, 110, 10000), 110);
    cr_assert_eq(s.conns, 1);
    pthread_mutex_lock(&s.mu);
    uint64_t bytes = s.n;
    pthread_mutex_unlock(&s.mu);
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "output.bytes", "output", "t")), bytes);
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "output.connects", "output", "t")), 1);
    vg_transport_syslog.destroy(t);
    free_items(&it);
    srv_stop(&s);
    vg_stats_destroy(st);
}

Test(syslog_tx, reconnects_after_the_server_closes, .init = setup)
{
    srv s;
    srv_start(&s);
    char addr[64];
    snprintf(addr, sizeof addr, "localhost:%d", s.port);
    vg_output_conf c = conf_for(addr, 5000);
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_syslog.create(&c, st, &t, &eb), VG_OK, "%s", eb.msg);
    items a = make_items(10, "first", 0), b = make_items(10, "second", 0);
    vg_send_status status[10];
    cr_assert_eq(vg_transport_syslog.send(t, a.v, a.n, status, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(srv_wait_frames(&s, 10, 10000), 10);
    /* the server drops the connection */
    pthread_mutex_lock(&s.mu);
    shutdown(s.cfd, SHUT_RDWR);
    while (!s.closed)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    /* The next send notices (before writing, or from the reset the write
       provokes) and the one after reconnects at the latest: nothing is
       reported delivered that did not reach the new connection. */
    vg_err e = VG_EAGAIN;
    int tries = 0;
    while (e != VG_OK && tries++ < 3)
        e = vg_transport_syslog.send(t, b.v, b.n, status, &eb);
    cr_assert_eq(e, VG_OK, "%s", eb.msg);
    cr_assert_eq(srv_wait_frames(&s, 20, 10000), 20);
    cr_assert(srv_contains(&s, "second-9"));
    cr_assert_eq(s.conns, 2);
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "output.connects", "output", "t")), 2);
    vg_transport_syslog.destroy(t);
    free_items(&a);
    free_items(&b);
    srv_stop(&s);
    vg_stats_destroy(st);
}

typedef struct send_job {
    void *t;
    items *it;
    vg_send_status *status;
    vg_err rc;
    int64_t ms;
    vg_errbuf eb;
} send_job;

static void *send_thread(void *arg)
{
    send_job *j = arg;
    int64_t t0 = mono_ms();
    j->rc = vg_transport_syslog.send(j->t, j->it->v, j->it->n, j->status, &j->eb);
    j->ms = mono_ms() - t0;
    return NULL;
}

Test(syslog_tx, wake_interrupts_a_blocked_send, .init = setup, .timeout = 60)
{
    /* A server that never accepts: the connection completes in the backlog,
       the 24 MB batch fills the buffers and send() blocks (or waits for the
       TCP acknowledgement that cannot come). */
    int port, lfd = listen_any(&port);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    vg_output_conf c = conf_for(addr, 60000);
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_syslog.create(&c, st, &t, &eb), VG_OK, "%s", eb.msg);
    items it = make_items(24, "big", 1 << 20);
    vg_send_status status[24];
    send_job j = {.t = t, .it = &it, .status = status};
    pthread_t th;
    pthread_create(&th, NULL, send_thread, &j);
    vg_counter *bytes = vg_stats_counter(st, "output.bytes", "output", "t");
    int64_t end = mono_ms() + 10000;
    while (vg_counter_get(bytes) == 0 && mono_ms() < end) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL); /* polling a counter with a deadline */
    }
    cr_assert_gt(vg_counter_get(bytes), 0, "send() started writing");
    int64_t t0 = mono_ms();
    vg_transport_syslog.wake(t);
    pthread_join(th, NULL);
    int64_t waited = mono_ms() - t0;
    cr_assert_eq(j.rc, VG_EAGAIN, "rc %d: %s", j.rc, j.eb.msg);
    cr_assert_lt(waited, 2000, "send returned %lld ms after wake", (long long)waited);
    cr_assert(strstr(j.eb.msg, "stopping"), "%s", j.eb.msg);
    for (size_t i = 0; i < it.n; i++)
        cr_assert_eq(status[i], VG_SEND_RETRY);
    /* sticky: the next send returns at once without I/O */
    int64_t t1 = mono_ms();
    cr_assert_eq(vg_transport_syslog.send(t, it.v, 1, status, &eb), VG_EAGAIN);
    cr_assert_lt(mono_ms() - t1, 500);
    vg_transport_syslog.destroy(t);
    free_items(&it);
    close(lfd);
    vg_stats_destroy(st);
}

Test(syslog_tx, timeout_bounds_a_send, .init = setup, .timeout = 60)
{
    int port, lfd = listen_any(&port);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    vg_output_conf c = conf_for(addr, 400);
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_syslog.create(&c, st, &t, &eb), VG_OK, "%s", eb.msg);
    items it = make_items(24, "big", 1 << 20);
    vg_send_status status[24];
    int64_t t0 = mono_ms();
    cr_assert_eq(vg_transport_syslog.send(t, it.v, it.n, status, &eb), VG_EAGAIN);
    int64_t took = mono_ms() - t0;
    cr_assert(took >= 350 && took < 3000, "took %lld ms", (long long)took);
    cr_assert(strstr(eb.msg, "timed out"), "%s", eb.msg);
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "output.errors", "output", "t")), 1);
    vg_transport_syslog.destroy(t);
    free_items(&it);
    close(lfd);
    vg_stats_destroy(st);
}

Test(syslog_tx, connection_refused_is_eagain, .init = setup)
{
    int port, lfd = listen_any(&port);
    close(lfd); /* nobody listens there now */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    vg_output_conf c = conf_for(addr, 2000);
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_syslog.create(&c, st, &t, &eb), VG_OK, "%s", eb.msg);
    items it = make_items(1, "x", 0);
    vg_send_status status[1];
    cr_assert_eq(vg_transport_syslog.send(t, it.v, 1, status, &eb), VG_EAGAIN);
    cr_assert(strstr(eb.msg, "connect to 127.0.0.1:") && strstr(eb.msg, "refused"), "%s", eb.msg);
    cr_assert_eq(status[0], VG_SEND_RETRY);
    vg_transport_syslog.destroy(t);
    free_items(&it);
    vg_stats_destroy(st);
}

Test(syslog_tx, item_too_large_is_rejected_alone, .init = setup, .timeout = 60)
{
    srv s;
    srv_start(&s);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s.port);
    vg_output_conf c = conf_for(addr, 10000);
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_syslog.create(&c, st, &t, &eb), VG_OK, "%s", eb.msg);
    items it = make_items(3, "mix", 0);
    free(it.buf[1]);
    size_t big = 9u << 20;
    it.buf[1] = malloc(big);
    memset(it.buf[1], 'y', big);
    it.v[1] = (vg_send_item){it.buf[1], big};
    vg_send_status status[3];
    cr_assert_eq(vg_transport_syslog.send(t, it.v, 3, status, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(status[0], VG_SEND_OK);
    cr_assert_eq(status[1], VG_SEND_REJECT);
    cr_assert_eq(status[2], VG_SEND_OK);
    cr_assert_eq(srv_wait_frames(&s, 2, 10000), 2);
    cr_assert(srv_contains(&s, "mix-2"));
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "output.too_large", "output", "t")), 1);
    vg_transport_syslog.destroy(t);
    free_items(&it);
    srv_stop(&s);
    vg_stats_destroy(st);
}

typedef struct create_case {
    const char *name;
    const char *address;
    bool tls;
    const char *ca, *cert, *key;
    vg_err want;
    const char *msg;
} create_case;

Test(syslog_tx, create_errors_name_the_option)
{
    char dir[] = "/tmp/vg-syslog-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char openkey[128], junk[128];
    snprintf(openkey, sizeof openkey, "%s/open.key", dir);
    snprintf(junk, sizeof junk, "%s/junk.pem", dir);
    FILE *f = fopen(openkey, "w");
    fputs("not a key\n", f);
    fclose(f);
    chmod(openkey, 0644);
    f = fopen(junk, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    const create_case cases[] = {
        {"no address", NULL, false, NULL, NULL, NULL, VG_ECONFIG, "needs 'address'"},
        {"bad port", "h:99999", false, NULL, NULL, NULL, VG_ECONFIG, "port"},
        {"empty port", "h:", false, NULL, NULL, NULL, VG_ECONFIG, "port"},
        {"no host", ":514", false, NULL, NULL, NULL, VG_ECONFIG, "no host"},
        {"bad v6", "[::1", false, NULL, NULL, NULL, VG_ECONFIG, "[ipv6]:port"},
        {"v6 ok", "[::1]:6514", false, NULL, NULL, NULL, VG_OK, NULL},
        {"default port", "collector.example", true, NULL, NULL, NULL, VG_OK, NULL},
        {"missing ca_file", "h:6514", true, "/nonexistent/ca.pem", NULL, NULL, VG_ECONFIG,
         "ca_file /nonexistent/ca.pem"},
        {"junk ca_file", "h:6514", true, junk, NULL, NULL, VG_ECONFIG, "ca_file"},
        {"cert without key", "h:6514", true, NULL, junk, NULL, VG_ECONFIG, "go together"},
        {"key readable by others", "h:6514", true, NULL, junk, openkey, VG_EPERM, "chmod"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const create_case *k = &cases[i];
        vg_output_conf c = conf_for((char *)k->address, 1000);
        c.tls = k->tls;
        c.ca_file = (char *)k->ca;
        c.cert_file = (char *)k->cert;
        c.key_file = (char *)k->key;
        vg_stats *st = vg_stats_create();
        void *t = (void *)1;
        vg_errbuf eb = {0};
        vg_err e = vg_transport_syslog.create(&c, st, &t, &eb);
        cr_assert_eq(e, k->want, "%s: got %d (%s)", k->name, e, eb.msg);
        if (k->msg)
            cr_assert(strstr(eb.msg, k->msg) && strstr(eb.msg, "output 't'"), "%s: %s", k->name,
                      eb.msg);
        if (e)
            cr_assert_null(t, "%s", k->name);
        vg_transport_syslog.destroy(t);
        vg_stats_destroy(st);
    }
    unlink(openkey);
    unlink(junk);
    rmdir(dir);
}

/* ---------------------------------------------------------------- real rsyslog */

static const char *rs_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        cr_skip_test("%s not set: run tests/e2e/test_rsyslog_transport.sh for the rsyslog tests",
                     name);
    return v;
}

/* Lines of received.log holding `tag-<i>` for i < n, waited for (deadline). */
static size_t rs_count(const char *log, const char *tag, size_t n, int64_t ms)
{
    int64_t end = mono_ms() + ms;
    size_t found = 0;
    char needle[64];
    snprintf(needle, sizeof needle, "\"id\":\"%s-", tag);
    for (;;) {
        found = 0;
        FILE *f = fopen(log, "r");
        char *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) > 0)
            if (strstr(line, needle))
                found++;
        free(line);
        if (f)
            fclose(f);
        if (found >= n || mono_ms() >= end)
            return found;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts,
                  NULL); /* rsyslog writes the file on its own schedule: poll with a deadline */
    }
}

static vg_err rs_send(vg_output_conf *c, const char *tag, size_t n, vg_errbuf *eb)
{
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_err e = vg_transport_syslog.create(c, st, &t, eb);
    if (!e) {
        items it = make_items(n, tag, 100);
        vg_send_status *status = calloc(n, sizeof *status);
        e = vg_transport_syslog.send(t, it.v, n, status, eb);
        for (size_t i = 0; !e && i < n; i++)
            cr_assert_eq(status[i], VG_SEND_OK);
        free(status);
        free_items(&it);
    }
    vg_transport_syslog.destroy(t);
    vg_stats_destroy(st);
    return e;
}

Test(rsyslog, tcp_100_items, .init = setup, .timeout = 60)
{
    const char *port = rs_env("VG_RS_TCP_PORT"), *log = rs_env("VG_RS_LOG");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    vg_output_conf c = conf_for(addr, 10000);
    vg_errbuf eb = {0};
    cr_assert_eq(rs_send(&c, "tcp", 100, &eb), VG_OK, "%s", eb.msg);
    size_t got = rs_count(log, "tcp", 100, 20000);
    cr_assert_eq(got, 100, "%zu of 100 items in %s", got, log);
}

Test(rsyslog, tls_100_items, .init = setup, .timeout = 60)
{
    const char *port = rs_env("VG_RS_TLS_PORT"), *log = rs_env("VG_RS_LOG");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    vg_output_conf c = conf_for(addr, 10000);
    c.tls = true;
    c.ca_file = (char *)rs_env("VG_RS_CA");
    vg_errbuf eb = {0};
    cr_assert_eq(rs_send(&c, "tls", 100, &eb), VG_OK, "%s", eb.msg);
    size_t got = rs_count(log, "tls", 100, 20000);
    cr_assert_eq(got, 100, "%zu of 100 items in %s", got, log);
    /* by name: the certificate names localhost */
    snprintf(addr, sizeof addr, "localhost:%s", port);
    cr_assert_eq(rs_send(&c, "tlsname", 5, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(rs_count(log, "tlsname", 5, 20000), 5);
}

Test(rsyslog, tls_refuses_a_certificate_of_another_ca, .init = setup, .timeout = 60)
{
    const char *port = rs_env("VG_RS_TLS_PORT"), *log = rs_env("VG_RS_LOG");
    const char *other = rs_env("VG_RS_OTHER_CA");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    vg_output_conf c = conf_for(addr, 10000);
    c.tls = true;
    c.ca_file = (char *)other;
    vg_errbuf eb = {0};
    cr_assert_eq(rs_send(&c, "badca", 3, &eb), VG_EPERM, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "certificate verify failed") &&
                  strstr(eb.msg, "not signed by a CA of ca_file") && strstr(eb.msg, other),
              "%s", eb.msg);
    fprintf(stderr, "refused as expected: %s\n", eb.msg);
    cr_assert_eq(rs_count(log, "badca", 1, 0), 0);
}

Test(rsyslog, tls_insecure_skip_verify_accepts_any_certificate, .init = setup, .timeout = 60)
{
    const char *port = rs_env("VG_RS_TLS_PORT"), *log = rs_env("VG_RS_LOG");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    vg_output_conf c = conf_for(addr, 10000);
    c.tls = true;
    c.ca_file = (char *)rs_env("VG_RS_OTHER_CA");
    c.server_name = "collector.example";
    c.insecure_skip_verify = true;
    vg_errbuf eb = {0};
    cr_assert_eq(rs_send(&c, "insecure", 5, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(rs_count(log, "insecure", 5, 20000), 5);
}

Test(rsyslog, tls_refuses_a_wrong_server_name, .init = setup, .timeout = 60)
{
    const char *port = rs_env("VG_RS_TLS_PORT");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    vg_output_conf c = conf_for(addr, 10000);
    c.tls = true;
    c.ca_file = (char *)rs_env("VG_RS_CA");
    c.server_name = "collector.example";
    vg_errbuf eb = {0};
    cr_assert_eq(rs_send(&c, "badname", 3, &eb), VG_EPERM, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "does not name 'collector.example'"), "%s", eb.msg);
    fprintf(stderr, "refused as expected: %s\n", eb.msg);
}

Test(rsyslog, mutual_tls, .init = setup, .timeout = 60)
{
    const char *port = rs_env("VG_RS_MTLS_PORT"), *log = rs_env("VG_RS_LOG");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    vg_output_conf c = conf_for(addr, 10000);
    c.tls = true;
    c.ca_file = (char *)rs_env("VG_RS_CA");
    vg_errbuf eb = {0};
    /* without a client certificate the server refuses the handshake */
    cr_assert_eq(rs_send(&c, "nocert", 3, &eb), VG_EPERM, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "cert_file"), "%s", eb.msg);
    fprintf(stderr, "refused as expected: %s\n", eb.msg);
    c.cert_file = (char *)rs_env("VG_RS_CLIENT_CERT");
    c.key_file = (char *)rs_env("VG_RS_CLIENT_KEY");
    cr_assert_eq(rs_send(&c, "mtls", 20, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(rs_count(log, "mtls", 20, 20000), 20);
    cr_assert_eq(rs_count(log, "nocert", 1, 0), 0);
}

/* Figures for the README: items/s delivered (TCP-acknowledged by rsyslog). */
static void rs_throughput(vg_output_conf *c, const char *what)
{
    enum { BATCH = 500, ROUNDS = 40 };
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_errbuf eb = {0};
    cr_assert_eq(vg_transport_syslog.create(c, st, &t, &eb), VG_OK, "%s", eb.msg);
    items it = make_items(BATCH, what, 300);
    vg_send_status status[BATCH];
    cr_assert_eq(vg_transport_syslog.send(t, it.v, 1, status, &eb), VG_OK, "%s", eb.msg);
    int64_t t0 = mono_ms();
    for (int r = 0; r < ROUNDS; r++)
        cr_assert_eq(vg_transport_syslog.send(t, it.v, BATCH, status, &eb), VG_OK, "%s", eb.msg);
    int64_t ms = mono_ms() - t0;
    uint64_t bytes = vg_counter_get(vg_stats_counter(st, "output.bytes", "output", "t"));
    int64_t t1 = mono_ms();
    for (int r = 0; r < 200; r++) /* one alert per batch: the latency of one exchange */
        cr_assert_eq(vg_transport_syslog.send(t, it.v, 1, status, &eb), VG_OK, "%s", eb.msg);
    int64_t one_ms = mono_ms() - t1;
    fprintf(stderr, "latency %s: 200 single-alert batches in %lld ms (%.2f ms each)\n", what,
            (long long)one_ms, one_ms / 200.0);

    fprintf(stderr,
            "throughput %s: %d items (%zu bytes each) in %lld ms = %.0f items/s, %.1f MB/s\n", what,
            BATCH * ROUNDS, it.v[0].len, (long long)ms, BATCH * ROUNDS * 1000.0 / (ms ? ms : 1),
            bytes / 1e6 / ((ms ? ms : 1) / 1000.0));
    vg_transport_syslog.destroy(t);
    free_items(&it);
    vg_stats_destroy(st);
}

Test(rsyslog, throughput, .init = setup, .timeout = 120)
{
    const char *tcp = rs_env("VG_RS_TCP_PORT"), *tls = rs_env("VG_RS_TLS_PORT");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", tcp);
    vg_output_conf c = conf_for(addr, 30000);
    rs_throughput(&c, "bench-tcp");
    snprintf(addr, sizeof addr, "127.0.0.1:%s", tls);
    c.tls = true;
    c.ca_file = (char *)rs_env("VG_RS_CA");
    rs_throughput(&c, "bench-tls");
}

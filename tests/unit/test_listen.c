/*
 * test_listen.c - the syslog listener input over real sockets on loopback:
 * UDP, TCP with LF and octet-counting framing (split, oversized, malformed),
 * the unix datagram socket with the sender's credentials, a full queue that
 * drops instead of blocking the sender, per-sender rate limits, the
 * connection cap, hostile bytes, and util-linux `logger` as a real client.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "collectors/listen.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct got {
    char raw[512];
    size_t n;
    char addr[80];
    uint32_t flags;
    char stream[80];
} got;

typedef struct fx {
    vg_stats *st;
    void *l;
    vg_batch b;
    got g[256];
    size_t ng;
    char dir[64];
} fx;

static void setup(fx *f, vg_listen_conf *lc)
{
    signal(SIGPIPE, SIG_IGN);
    memset(f, 0, sizeof *f);
    f->st = vg_stats_create();
    vg_collector_env env = {.stats = f->st};
    lc->name = "t";
    vg_errbuf eb = {0};
    cr_assert_eq(vg_listen_create(lc, NULL, &env, &f->l, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(vg_collector_syslog.start(f->l, &eb), VG_OK, "%s", eb.msg);
    vg_batch_init(&f->b, 64, 1 << 20);
}

static void teardown(fx *f)
{
    vg_collector_syslog.destroy(f->l);
    vg_batch_destroy(&f->b);
    vg_stats_destroy(f->st);
}

static uint64_t counter(fx *f, const char *name)
{
    return vg_counter_get(vg_stats_counter(f->st, name, "input", "t"));
}

/* One read() into the batch; events are copied out (they die at the next read). */
static size_t read_once(fx *f)
{
    vg_batch_reset(&f->b);
    if (vg_collector_syslog.read(f->l, &f->b, f->b.cap) != VG_OK)
        return 0;
    for (size_t i = 0; i < f->b.n && f->ng < 256; i++) {
        const vg_event *ev = &f->b.ev[i];
        got *g = &f->g[f->ng++];
        g->n = ev->raw.n < sizeof g->raw - 1 ? ev->raw.n : sizeof g->raw - 1;
        memcpy(g->raw, ev->raw.p, g->n);
        g->raw[g->n] = '\0';
        const vg_str *a = vg_event_get(ev, VG_STR("log.source.address"));
        cr_assert_not_null(a);
        snprintf(g->addr, sizeof g->addr, "%.*s", (int)a->n, a->p);
        g->flags = ev->flags;
        snprintf(g->stream, sizeof g->stream, "%s", ev->stream->id);
        cr_assert_gt(ev->offset, 0);
        cr_assert_gt(ev->ts_ns, 0);
    }
    return f->b.n;
}

/* Read until `want` events in total were collected or the deadline passes. */
static size_t collect(fx *f, size_t want, int64_t ms)
{
    int64_t end = mono_ms() + ms;
    while (f->ng < want && mono_ms() < end) {
        struct pollfd p = {.fd = vg_collector_syslog.fd(f->l), .events = POLLIN};
        int64_t t = vg_collector_syslog.timeout_ms(f->l);
        poll(&p, 1, t == 0 ? 0 : 50);
        read_once(f);
    }
    return f->ng;
}

/* Wait until counter `name` reaches v (the listener thread counts asynchronously). */
static bool wait_counter(fx *f, const char *name, uint64_t v, int64_t ms)
{
    int64_t end = mono_ms() + ms;
    while (counter(f, name) < v && mono_ms() < end) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL); /* polling a counter with a deadline */
    }
    return counter(f, name) >= v;
}

static int tcp_connect(fx *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)vg_listen_port(f->l, "tcp"))};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    return fd;
}

static void tcp_send(int fd, const char *p, size_t n)
{
    cr_assert_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Send chunks on one connection, pausing until the listener read each (by bytes). */
static void tcp_chunks(fx *f, const char *const *chunks)
{
    int fd = tcp_connect(f);
    for (size_t i = 0; chunks[i]; i++) {
        tcp_send(fd, chunks[i], strlen(chunks[i]));
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL); /* let the reads be separate (either way the result is the same) */
    }
    close(fd);
}

typedef struct frame_case {
    const char *name;
    size_t max_message;
    const char *chunks[8];
    const char *want[8]; /* messages, in order */
    uint32_t trunc_mask; /* bit i: want[i] is truncated */
} frame_case;

static const frame_case frame_cases[] = {
    {"lf", 0, {"a\nb\r\nc", NULL}, {"a", "b", "c"}, 0},
    {"lf split", 0, {"hel", "lo\nwor", "ld\n", NULL}, {"hello", "world"}, 0},
    {"lf starting with digits", 0, {"2024-01-01 x\n12a b\n", NULL}, {"2024-01-01 x", "12a b"}, 0},
    {"lf empty lines skipped", 0, {"\n\nx\n\n", NULL}, {"x"}, 0},
    {"lf too long", 8, {"0123456789abc\nok\n", NULL}, {"01234567", "ok"}, 1},
    {"octet", 0, {"5 ab\ncd11 hello world", NULL}, {"ab\ncd", "hello world"}, 0},
    {"octet with LF between frames", 0, {"3 abc\n3 def\n", NULL}, {"abc", "def"}, 0},
    {"octet split everywhere",
     0,
     {"1", "1 hello", " world", "2", " x", "y", NULL},
     {"hello world", "xy"},
     0},
    {"octet too long", 8, {"20 aaaaaaaaaabbbbbbbbbb5 hello", NULL}, {"aaaaaaaa", "hello"}, 1},
    {"octet too long split",
     8,
     {"20 aaaaaaaaaa", "bbbbbbbbbb", "5 hello", NULL},
     {"aaaaaaaa", "hello"},
     1},
    {"octet zero length skipped", 0, {"0 3 abc", NULL}, {"abc"}, 0},
    {"only digits then EOF", 0, {"123", NULL}, {"123"}, 0},
};

Test(listen, tcp_framing_table, .timeout = 60)
{
    for (size_t k = 0; k < sizeof frame_cases / sizeof frame_cases[0]; k++) {
        const frame_case *c = &frame_cases[k];
        fx f;
        vg_listen_conf lc = {.tcp = "127.0.0.1:0", .max_message = c->max_message};
        setup(&f, &lc);
        tcp_chunks(&f, c->chunks);
        size_t want = 0;
        while (want < 8 && c->want[want])
            want++;
        collect(&f, want, 5000);
        read_once(&f); /* nothing more may come */
        cr_assert_eq(f.ng, want, "%s: %zu messages, want %zu (first: %s)", c->name, f.ng, want,
                     f.ng ? f.g[0].raw : "");
        for (size_t i = 0; i < want; i++) {
            cr_assert_str_eq(f.g[i].raw, c->want[i], "%s: message %zu", c->name, i);
            cr_assert_eq(!!(f.g[i].flags & VG_EV_TRUNCATED), !!(c->trunc_mask & (1u << i)),
                         "%s: truncated flag of message %zu", c->name, i);
            cr_assert(!strncmp(f.g[i].addr, "127.0.0.1:", 10), "%s", f.g[i].addr);
            cr_assert(!strncmp(f.g[i].stream, "l:tcp:", 6), "%s", f.g[i].stream);
        }
        cr_assert_eq(counter(&f, "input.truncated"), (uint64_t)__builtin_popcount(c->trunc_mask),
                     "%s", c->name);
        teardown(&f);
    }
}

/* The same frames, written in small random pieces: the messages do not depend on where
   the stream is cut (octet counting with newlines inside, oversized frames, LF mode). */
Test(listen, framing_does_not_depend_on_segmentation, .timeout = 60)
{
    enum { N = 150, MAX = 64 };
    for (int octet = 0; octet < 2; octet++) {
        fx f;
        vg_listen_conf lc = {.tcp = "127.0.0.1:0", .max_message = MAX};
        setup(&f, &lc);
        static char stream[N * 200], want[N][MAX + 1];
        size_t sn = 0;
        unsigned seed = 99 + (unsigned)octet;
        for (int i = 0; i < N; i++) {
            char m[160];
            seed = seed * 1103515245u + 12345u;
            size_t len = 1 + (seed >> 16) % 120; /* some longer than MAX */
            for (size_t k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                m[k] = (char)('a' + (seed >> 16) % 26);
                if (octet && (seed >> 20) % 9 == 0)
                    m[k] = '\n'; /* only octet counting can carry a newline */
            }
            m[0] = 'x'; /* a message never starts with a digit or a newline */
            m[len - 1] = 'z';
            if (octet)
                sn += (size_t)sprintf(stream + sn, "%zu ", len);
            memcpy(stream + sn, m, len);
            sn += len;
            if (!octet)
                stream[sn++] = '\n';
            size_t keep = len < MAX ? len : MAX;
            while (m[keep - 1] == '\n') /* a cut message loses trailing newlines, as any */
                keep--;
            memcpy(want[i], m, keep);
            want[i][keep] = '\0';
        }
        int fd = tcp_connect(&f);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (size_t off = 0; off < sn;) {
            seed = seed * 1103515245u + 12345u;
            size_t k = 1 + (seed >> 16) % 40;
            if (k > sn - off)
                k = sn - off;
            tcp_send(fd, stream + off, k);
            off += k;
        }
        close(fd);
        size_t nrecv = 0;
        int64_t end = mono_ms() + 20000;
        char(*all)[MAX + 1] = calloc(N, MAX + 1);
        while (nrecv < N && mono_ms() < end) {
            f.ng = 0;
            collect(&f, 1, 100);
            for (size_t i = 0; i < f.ng && nrecv < N; i++)
                memcpy(all[nrecv++], f.g[i].raw, MAX + 1);
        }
        cr_assert_eq(nrecv, N, "%s: %zu of %d messages", octet ? "octet" : "lf", nrecv, N);
        for (int i = 0; i < N; i++)
            cr_assert_str_eq(all[i], want[i], "%s: message %d", octet ? "octet" : "lf", i);
        free(all);
        teardown(&f);
    }
}

Test(listen, octet_malformed_closes_the_connection)
{
    fx f;
    vg_listen_conf lc = {.tcp = "127.0.0.1:0"};
    setup(&f, &lc);
    int fd = tcp_connect(&f);
    tcp_send(fd, "5 abcde12x34 more", 17);
    cr_assert_eq(collect(&f, 1, 5000), 1);
    cr_assert_str_eq(f.g[0].raw, "abcde");
    cr_assert(wait_counter(&f, "input.framing_errors", 1, 5000));
    char c;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1);
    cr_assert_leq(recv(fd, &c, 1, 0), 0, "the listener closed the connection");
    close(fd);
    teardown(&f);
}

Test(listen, udp_with_sender_address)
{
    fx f;
    vg_listen_conf lc = {.udp = "127.0.0.1:0"};
    setup(&f, &lc);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&me, sizeof me);
    socklen_t ml = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &ml);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)vg_listen_port(f.l, "udp"))};
    const char *msgs[] = {"<13>Mar  1 10:00:00 host app: hello udp\n", "second\0\0", "x"};
    size_t lens[] = {strlen(msgs[0]), 8, 1};
    for (int i = 0; i < 3; i++)
        sendto(fd, msgs[i], lens[i], 0, (struct sockaddr *)&a, sizeof a);
    cr_assert_eq(collect(&f, 3, 5000), 3);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", ntohs(me.sin_port));
    cr_assert_str_eq(f.g[0].raw, "<13>Mar  1 10:00:00 host app: hello udp");
    cr_assert_str_eq(f.g[1].raw, "second", "trailing NULs dropped");
    cr_assert_str_eq(f.g[2].raw, "x");
    cr_assert_str_eq(f.g[0].addr, want);
    cr_assert(!strncmp(f.g[0].stream, "l:udp:", 6), "%s", f.g[0].stream);
    close(fd);
    teardown(&f);
}

Test(listen, udp_oversized_datagram_is_cut)
{
    fx f;
    vg_listen_conf lc = {.udp = "127.0.0.1:0", .max_message = 100};
    setup(&f, &lc);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)vg_listen_port(f.l, "udp"))};
    char big[5000];
    memset(big, 'z', sizeof big);
    sendto(fd, big, sizeof big, 0, (struct sockaddr *)&a, sizeof a);
    cr_assert_eq(collect(&f, 1, 5000), 1);
    cr_assert_eq(f.g[0].n, 100);
    cr_assert(f.g[0].flags & VG_EV_TRUNCATED);
    close(fd);
    teardown(&f);
}

static int unix_sender(const char *path, struct sockaddr_un *a)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%.100s", path);
    return fd;
}

Test(listen, unix_datagram_with_credentials)
{
    char dir[] = "/tmp/vg-listen-XXXXXX", path[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/log.sock", dir);
    fx f;
    vg_listen_conf lc = {.unix_path = path};
    setup(&f, &lc);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0666);
    struct sockaddr_un a;
    int fd = unix_sender(path, &a);
    const char *m = "<86>Mar  1 10:00:00 sudo: local message";
    cr_assert_eq(sendto(fd, m, strlen(m), 0, (struct sockaddr *)&a, sizeof a), (ssize_t)strlen(m));
    cr_assert_eq(collect(&f, 1, 5000), 1);
    cr_assert_str_eq(f.g[0].raw, m);
    char want[64];
    snprintf(want, sizeof want, "unix:uid=%u,pid=%d", (unsigned)getuid(), (int)getpid());
    cr_assert_str_eq(f.g[0].addr, want);
    cr_assert(!strncmp(f.g[0].stream, "l:unix:", 7), "%s", f.g[0].stream);
    close(fd);
    teardown(&f);
    cr_assert_neq(stat(path, &st), 0, "the socket file is removed at destroy");
    rmdir(dir);
}

Test(listen, full_queue_drops_and_never_blocks_the_sender, .timeout = 60)
{
    char dir[] = "/tmp/vg-listen-XXXXXX", path[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/log.sock", dir);
    fx f;
    vg_listen_conf lc = {.unix_path = path, .queue_messages = 10};
    setup(&f, &lc);
    struct sockaddr_un a;
    int fd = unix_sender(path, &a); /* a blocking sender, like logger */
    int64_t t0 = mono_ms();
    for (int i = 0; i < 5000; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "message %d", i);
        cr_assert_eq(sendto(fd, m, (size_t)n, 0, (struct sockaddr *)&a, sizeof a), n);
    }
    int64_t took = mono_ms() - t0;
    cr_assert_lt(took, 10000, "5000 blocking sends took %lld ms", (long long)took);
    cr_assert(wait_counter(&f, "input.lines", 5000, 10000), "lines %llu",
              (unsigned long long)counter(&f, "input.lines"));
    collect(&f, 10, 5000);
    read_once(&f); /* nothing more */
    cr_assert_eq(f.ng, 10);
    cr_assert_str_eq(f.g[0].raw, "message 0");
    cr_assert_eq(counter(&f, "input.dropped_queue_full"), 4990);
    /* the queue has room again */
    sendto(fd, "after", 5, 0, (struct sockaddr *)&a, sizeof a);
    cr_assert_eq(collect(&f, 11, 5000), 11);
    cr_assert_str_eq(f.g[10].raw, "after");
    close(fd);
    teardown(&f);
    rmdir(dir);
}

Test(listen, per_sender_rate_limit)
{
    fx f;
    vg_listen_conf lc = {.udp = "127.0.0.1:0", .tcp = "127.0.0.1:0", .rate = 5, .burst = 5};
    setup(&f, &lc);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)vg_listen_port(f.l, "udp"))};
    int64_t t0 = mono_ms();
    for (int i = 0; i < 40; i++)
        sendto(fd, "flood", 5, 0, (struct sockaddr *)&a, sizeof a);
    cr_assert(wait_counter(&f, "input.lines", 40, 5000));
    int64_t spent = mono_ms() - t0;
    collect(&f, 5, 2000);
    read_once(&f);
    /* 5 from the burst, plus the tokens refilled (5/s) while the flood was read */
    size_t most = 5 + (size_t)(spent * 5 / 1000) + 1;
    cr_assert(f.ng >= 5 && f.ng <= most, "%zu passed (at most %zu after %lld ms)", f.ng, most,
              (long long)spent);
    cr_assert_eq(counter(&f, "input.dropped_rate_limited"), 40 - f.ng);
    close(fd);
    teardown(&f);
}

Test(listen, connection_cap)
{
    fx f;
    vg_listen_conf lc = {.tcp = "127.0.0.1:0", .max_connections = 2};
    setup(&f, &lc);
    int a = tcp_connect(&f), b = tcp_connect(&f);
    cr_assert(wait_counter(&f, "input.connections", 2, 5000));
    int c = tcp_connect(&f);
    cr_assert(wait_counter(&f, "input.connections_refused", 1, 5000));
    char x;
    struct pollfd p = {.fd = c, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1);
    cr_assert_leq(recv(c, &x, 1, 0), 0);
    tcp_send(a, "still served\n", 13);
    cr_assert_eq(collect(&f, 1, 5000), 1);
    cr_assert_str_eq(f.g[0].raw, "still served");
    close(a);
    close(b);
    close(c);
    teardown(&f);
}

Test(listen, idle_connection_is_closed)
{
    fx f;
    vg_listen_conf lc = {.tcp = "127.0.0.1:0", .idle_timeout_ms = 300};
    setup(&f, &lc);
    int fd = tcp_connect(&f);
    tcp_send(fd, "one\n", 4);
    cr_assert_eq(collect(&f, 1, 5000), 1);
    int64_t t0 = mono_ms();
    char x;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1, "closed by the listener");
    cr_assert_leq(recv(fd, &x, 1, 0), 0);
    int64_t took = mono_ms() - t0;
    cr_assert(took >= 200 && took < 3000, "closed after %lld ms", (long long)took);
    close(fd);
    teardown(&f);
}

Test(listen, hostile_bytes, .timeout = 60)
{
    fx f;
    vg_listen_conf lc = {.tcp = "127.0.0.1:0", .udp = "127.0.0.1:0", .max_message = 300};
    setup(&f, &lc);
    unsigned seed = 7;
    static const char alpha[] = "0123456789 \n\r\0<>[]\"\\\xff\xc3";
    for (int conn = 0; conn < 40; conn++) {
        int fd = tcp_connect(&f);
        char buf[4096];
        for (size_t i = 0; i < sizeof buf; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            buf[i] = (r & 3) ? alpha[r % (sizeof alpha - 1)] : (char)r;
        }
        send(fd, buf, sizeof buf, MSG_NOSIGNAL);
        close(fd);
        while (read_once(&f))
            f.ng = 0;
    }
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)vg_listen_port(f.l, "udp"))};
    sendto(u, "", 0, 0, (struct sockaddr *)&a, sizeof a);
    sendto(u, "\0\0\n", 3, 0, (struct sockaddr *)&a, sizeof a);
    sendto(u, "end", 3, 0, (struct sockaddr *)&a, sizeof a);
    int64_t end = mono_ms() + 5000;
    bool seen = false;
    while (!seen && mono_ms() < end) {
        f.ng = 0;
        collect(&f, 1, 100);
        for (size_t i = 0; i < f.ng; i++) {
            cr_assert_leq(f.g[i].n, 300);
            if (!strcmp(f.g[i].raw, "end"))
                seen = true;
        }
    }
    cr_assert(seen, "the listener still works after hostile input");
    close(u);
    teardown(&f);
}

Test(listen, logger_as_a_client, .timeout = 60)
{
    if (system("command -v logger >/dev/null 2>&1") != 0)
        cr_skip_test("no logger(1) (util-linux bsdutils)");
    char dir[] = "/tmp/vg-listen-XXXXXX", path[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/log.sock", dir);
    fx f;
    vg_listen_conf lc = {.udp = "127.0.0.1:0", .tcp = "127.0.0.1:0", .unix_path = path};
    setup(&f, &lc);
    int up = vg_listen_port(f.l, "udp"), tp = vg_listen_port(f.l, "tcp");
    char cmd[512];
    snprintf(
        cmd, sizeof cmd,
        "timeout 10 logger --server 127.0.0.1 --port %d --tcp -t vgtest 'via tcp lf' && "
        "timeout 10 logger --server 127.0.0.1 --port %d --tcp --octet-count -t vgtest "
        "'via tcp octet' && "
        "timeout 10 logger --server 127.0.0.1 --port %d --udp --rfc5424 -t vgtest 'via udp' && "
        "timeout 10 logger -u %s -t vgtest 'via unix'",
        tp, tp, up, path);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_eq(collect(&f, 4, 5000), 4);
    const char *want[] = {"via tcp lf", "via tcp octet", "via udp", "via unix"};
    for (size_t w = 0; w < 4; w++) {
        bool found = false;
        for (size_t i = 0; i < f.ng; i++)
            if (strstr(f.g[i].raw, want[w]) && strstr(f.g[i].raw, "vgtest"))
                found = true;
        cr_assert(found, "'%s' not received", want[w]);
    }
    teardown(&f);
    rmdir(dir);
}

Test(listen, create_and_start_errors)
{
    char dir[] = "/tmp/vg-listen-XXXXXX", file[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/regular", dir);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    vg_errbuf eb = {0};
    void *l = (void *)1;
    vg_listen_conf none = {.name = "t"};
    cr_assert_eq(vg_listen_create(&none, NULL, NULL, &l, &eb), VG_ECONFIG);
    cr_assert_null(l);
    cr_assert(strstr(eb.msg, "no udp, tcp, tls or unix"), "%s", eb.msg);

    /* the same TCP port twice */
    fx f;
    vg_listen_conf lc = {.tcp = "127.0.0.1:0"};
    setup(&f, &lc);
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", vg_listen_port(f.l, "tcp"));
    struct {
        vg_listen_conf c;
        vg_err want;
        const char *msg;
    } cases[] = {
        {{.name = "t", .tcp = spec}, VG_EIO, "cannot listen on 127.0.0.1:"},
        {{.name = "t", .udp = "nohostport"}, VG_ECONFIG, "expected host:port"},
        {{.name = "t", .udp = "[::1"}, VG_ECONFIG, "[ipv6]:port"},
        {{.name = "t", .tcp = "127.0.0.1:notaport"}, VG_ECONFIG, "tcp address"},
        {{.name = "t", .unix_path = file}, VG_ECONFIG, "not a socket"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *x = NULL;
        cr_assert_eq(vg_listen_create(&cases[i].c, NULL, NULL, &x, &eb), VG_OK);
        vg_err e = vg_collector_syslog.start(x, &eb);
        cr_assert_eq(e, cases[i].want, "case %zu: %d %s", i, e, eb.msg);
        cr_assert(strstr(eb.msg, cases[i].msg) && strstr(eb.msg, "syslog input t"), "case %zu: %s",
                  i, eb.msg);
        vg_collector_syslog.destroy(x);
    }
    teardown(&f);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0, "a regular file is never removed");
    unlink(file);
    rmdir(dir);
    vg_collector_syslog.destroy(NULL);
}

/*
 * rsyslog forwarding to the listener (tests/e2e/test_rsyslog_forward.sh sets
 * VG_RS_*): messages written into rsyslog come back to us over two TCP
 * connections, one octet-counted RFC 5424, one LF-framed traditional; the
 * framing of each is detected by itself.
 */
Test(rsyslog_forward, both_framings_from_rsyslog, .timeout = 120)
{
    const char *fwd = getenv("VG_RS_FORWARD_PORT"), *in = getenv("VG_RS_FWD_IN_PORT");
    if (!fwd || !*fwd || !in || !*in)
        cr_skip_test("VG_RS_FORWARD_PORT not set: run tests/e2e/test_rsyslog_forward.sh");
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%s", fwd);
    fx f;
    vg_listen_conf lc = {.tcp = spec};
    setup(&f, &lc);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)atoi(in))};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s", strerror(errno));
    enum { N = 50 };
    for (int i = 0; i < N; i++) {
        char m[256], fr[300];
        int n = snprintf(m, sizeof m,
                         "<38>1 2024-03-01T10:00:00Z appliance sshd 42 - - Failed password for "
                         "root from 10.0.0.%d port 22 ssh2 fwd-%d",
                         i, i);
        int k = snprintf(fr, sizeof fr, "%d %s", n, m);
        tcp_send(fd, fr, (size_t)k);
    }
    close(fd);
    /* 2N messages: each one once per forwarding action */
    int64_t end = mono_ms() + 60000;
    while (f.ng < 2 * N && mono_ms() < end)
        collect(&f, 2 * N, 1000);
    cr_assert_eq(f.ng, 2 * N, "%zu of %d forwarded messages", f.ng, 2 * N);
    int rfc5424 = 0, traditional = 0;
    for (size_t i = 0; i < f.ng; i++) {
        cr_assert(strstr(f.g[i].raw, "Failed password for root") && strstr(f.g[i].raw, "fwd-"),
                  "%s", f.g[i].raw);
        cr_assert(!strncmp(f.g[i].addr, "127.0.0.1:", 10), "%s", f.g[i].addr);
        if (!strncmp(f.g[i].raw, "<38>1 ", 6))
            rfc5424++;
        else if (!strncmp(f.g[i].raw, "<38>", 4))
            traditional++;
    }
    fprintf(stderr,
            "forwarded by rsyslog: %d RFC 5424 (octet-counted), %d traditional (LF); "
            "first: %s\n",
            rfc5424, traditional, f.g[0].raw);
    cr_assert_eq(rfc5424, N);
    cr_assert_eq(traditional, N);
    cr_assert_eq(counter(&f, "input.connections"), 2);
    teardown(&f);
}

/* ---------------------------------------------------------------- TLS (RFC 5425) */

#include "agent/transport.h"

/* A test CA, a server certificate for 127.0.0.1 and a client certificate,
   made with the openssl CLI in dir; false when it is not available. */
static bool make_certs(const char *dir)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "command -v openssl >/dev/null && cd %s && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj /CN=listen-test-ca -addext basicConstraints=critical,CA:TRUE "
             "-addext keyUsage=critical,keyCertSign >/dev/null 2>&1 && "
             "openssl req -new -newkey rsa:2048 -nodes -keyout server.key -subj /CN=localhost "
             "-out server.csr >/dev/null 2>&1 && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >server.ext && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "-extfile server.ext -out server.pem >/dev/null 2>&1 && "
             "openssl req -new -newkey rsa:2048 -nodes -keyout client.key -subj /CN=client "
             "-out client.csr >/dev/null 2>&1 && "
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "-out client.pem >/dev/null 2>&1 && chmod 600 server.key client.key",
             dir);
    return system(cmd) == 0;
}

static void rm_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        cr_log_warn("cannot remove %s", dir);
}

/* Send n items with the syslog output (the agent's own transport) to port. */
static vg_err send_items(int port, const char *dir, bool client_cert, int n, vg_errbuf *eb)
{
    char addr[64], ca[128], cert[128], key[128];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/client.pem", dir);
    snprintf(key, sizeof key, "%s/client.key", dir);
    vg_output_conf oc = {.name = "out",
                         .type = "syslog",
                         .address = addr,
                         .tls = true,
                         .ca_file = ca,
                         .cert_file = client_cert ? cert : NULL,
                         .key_file = client_cert ? key : NULL,
                         .timeout_ms = 10000,
                         .app_name = "vigie"};
    vg_stats *st = vg_stats_create();
    void *t = NULL;
    vg_err e = vg_transport_syslog.create(&oc, st, &t, eb);
    for (int i = 0; !e && i < n; i++) {
        char item[128];
        int len =
            snprintf(item, sizeof item,
                     "{\"event\":{\"id\":\"tls-%d\",\"kind\":\"alert\"},\"message\":\"a\\nb\"}", i);
        vg_send_item it = {item, (size_t)len};
        vg_send_status status;
        e = vg_transport_syslog.send(t, &it, 1, &status, eb);
    }
    vg_transport_syslog.destroy(t);
    vg_stats_destroy(st);
    return e;
}

Test(listen_tls, from_the_syslog_output, .timeout = 60)
{
    char dir[] = "/tmp/vg-listen-tls-XXXXXX", cert[128], key[128];
    cr_assert_not_null(mkdtemp(dir));
    if (!make_certs(dir)) {
        rm_dir(dir);
        cr_skip_test("no openssl CLI to make test certificates");
    }
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    fx f;
    vg_listen_conf lc = {.tls = "127.0.0.1:0", .tls_cert_file = cert, .tls_key_file = key};
    setup(&f, &lc);
    vg_errbuf eb = {0};
    cr_assert_eq(send_items(vg_listen_port(f.l, "tls"), dir, false, 20, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(collect(&f, 20, 10000), 20);
    for (int i = 0; i < 20; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"id\":\"tls-%d\"", i);
        cr_assert(strstr(f.g[i].raw, want) && !strncmp(f.g[i].raw, "<133>1 ", 7), "%s", f.g[i].raw);
        cr_assert(!strncmp(f.g[i].stream, "l:tls:", 6), "%s", f.g[i].stream);
    }
    /* a plain-text client on the TLS port: a handshake failure, counted */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)vg_listen_port(f.l, "tls"))};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    tcp_send(fd, "<13>plain text\n", 15);
    cr_assert(wait_counter(&f, "input.tls_errors", 1, 5000));
    close(fd);
    teardown(&f);
    rm_dir(dir);
}

Test(listen_tls, client_certificates, .timeout = 60)
{
    char dir[] = "/tmp/vg-listen-tls-XXXXXX", cert[128], key[128], ca[128];
    cr_assert_not_null(mkdtemp(dir));
    if (!make_certs(dir)) {
        rm_dir(dir);
        cr_skip_test("no openssl CLI to make test certificates");
    }
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    fx f;
    vg_listen_conf lc = {.tls = "127.0.0.1:0",
                         .tls_cert_file = cert,
                         .tls_key_file = key,
                         .tls_ca_file = ca,
                         .tls_client_auth = true};
    setup(&f, &lc);
    int port = vg_listen_port(f.l, "tls");
    vg_errbuf eb = {0};
    /* without a client certificate: refused, and the output says it is a credential problem */
    cr_assert_eq(send_items(port, dir, false, 1, &eb), VG_EPERM, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "cert_file"), "%s", eb.msg);
    cr_assert(wait_counter(&f, "input.tls_errors", 1, 5000));
    /* with one */
    cr_assert_eq(send_items(port, dir, true, 5, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(collect(&f, 5, 10000), 5);
    teardown(&f);
    rm_dir(dir);
}

Test(listen_tls, configuration_errors)
{
    char dir[] = "/tmp/vg-listen-tls-XXXXXX", cert[128], key[128];
    cr_assert_not_null(mkdtemp(dir));
    if (!make_certs(dir)) {
        rm_dir(dir);
        cr_skip_test("no openssl CLI to make test certificates");
    }
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    struct {
        vg_listen_conf c;
        vg_err want;
        const char *msg;
    } cases[] = {
        {{.name = "t", .tls = "127.0.0.1:0"}, VG_ECONFIG, "needs tls_cert_file"},
        {{.name = "t",
          .tls = "127.0.0.1:0",
          .tls_cert_file = cert,
          .tls_key_file = key,
          .tls_client_auth = true},
         VG_ECONFIG,
         "needs tls_ca_file"},
        {{.name = "t", .tls = "127.0.0.1:0", .tls_cert_file = key, .tls_key_file = key},
         VG_ECONFIG,
         "tls_cert_file"},
        {{.name = "t", .tls = "127.0.0.1:0", .tls_cert_file = cert, .tls_key_file = cert},
         VG_EPERM,
         "chmod"}, /* server.pem is 0644: refused as a key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *x = (void *)1;
        vg_errbuf eb = {0};
        vg_err e = vg_listen_create(&cases[i].c, NULL, NULL, &x, &eb);
        cr_assert_eq(e, cases[i].want, "case %zu: %d %s", i, e, eb.msg);
        cr_assert(strstr(eb.msg, cases[i].msg), "case %zu: %s", i, eb.msg);
        cr_assert_null(x);
    }
    rm_dir(dir);
}

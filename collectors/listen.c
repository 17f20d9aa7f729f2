/*
 * listen.c - the syslog listener input; see listen.h for what it promises.
 *
 * Two threads meet at one bounded queue. The listener thread polls the
 * sockets (and a stop eventfd), reads everything readable, frames it, rate
 * limits it per sender and appends it to the queue, or drops it (counted)
 * when the queue is full: it never waits for the pipeline. The pipeline
 * thread pops messages in read(); the messages it handed out stay alive
 * (ev->raw points into them) until its next read().
 *
 * Memory is bounded by: the queue caps, max_connections x (max_message +
 * read size) for TCP buffers, one datagram buffer, and the rate table.
 */
#include "listen.h"
#include "../agent/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../agent/log.h"
#include "../agent/secret.h"
#include "framer.h"

#define READ_BUDGET 256 /* datagrams (or TCP reads) per socket per poll round */
#define TCP_READ 16384  /* bytes per recv() on a TCP connection */
#define RL_PROBE 8      /* rate-table slots looked at per sender */
#define OCTET_DIGITS 10 /* longest MSG-LEN accepted (RFC 6587 allows any; 10 = 9.9 GB) */
#define SOCK_RCVBUF (4 << 20)

enum { T_UDP, T_TCP, T_UNIX, T_TLS, T_COUNT };
static const char *const tname[T_COUNT] = {"udp", "tcp", "unix", "tls"};
#define HANDSHAKE_MS 10000 /* a TLS client has this long to finish its handshake */

typedef struct msg {
    struct msg *next;
    int64_t recv_ns;
    uint32_t flags;
    uint8_t transport;
    uint16_t alen;
    size_t n;
    char data[]; /* sender address (alen bytes), then the message (n bytes) */
} msg;

enum { M_UNKNOWN = 0, M_LF, M_OCTET };

typedef struct conn {
    int fd;
    int t;        /* T_TCP or T_TLS */
    SSL *ssl;     /* T_TLS */
    bool hs_done; /* the TLS handshake completed */
    short events; /* what to poll for (POLLOUT when TLS wants to write) */
    char addr[64];
    char key[64];
    int mode;
    vg_framer fr; /* M_LF */
    char *buf;    /* M_UNKNOWN and M_OCTET: buf[start, end) unconsumed */
    size_t start, end, cap;
    bool in_body; /* M_OCTET: inside a MSG */
    size_t want;  /* bytes of the MSG kept */
    bool trunc;   /* the MSG is longer than max_message */
    size_t skip;  /* bytes of the MSG past max_message still to discard */
    int64_t last_ms;
    /* fd < 0: a connection fed by vg_listen_inject instead of a socket */
    const char *inj;
    size_t inj_n;
    bool inj_eof;
} conn;

typedef struct rl_entry {
    uint64_t h;
    char key[64];
    double tokens;
    int64_t last_ms;
    bool used;
} rl_entry;

typedef struct vg_listener {
    vg_listen_conf c;
    char *name, *udp, *tcp, *unix_path;
    const vg_input_conf *ic;
    int fds[T_COUNT]; /* udp, tcp listener, unix, tls listener; -1 if not configured */
    char *tls, *tls_cert, *tls_key, *tls_ca;
    SSL_CTX *ctx;
    int ports[T_COUNT];
    bool unix_bound;
    int stop_fd, ready_fd;
    pthread_t th;
    bool running;
    conn *conns;
    size_t nconns;
    rl_entry *rl;
    size_t rl_mask;
    char *dgram; /* max_message + 1 */

    pthread_mutex_t mu; /* the queue */
    msg *head, *tail;
    size_t qn, qbytes;
    bool signalled;

    msg **held; /* handed to the pipeline by the last read() */
    size_t nheld, held_cap;

    vg_stream streams[T_COUNT];
    char stream_names[T_COUNT][128];
    uint64_t seq;

    vg_counter *c_lines, *c_bytes, *c_truncated, *c_queue_full, *c_rate_limited, *c_conns,
        *c_refused, *c_framing, *c_evicted, *c_errors, *c_tls_errors, dummy;
} vg_listener;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t fnv1a(const char *s)
{
    return vg_fnv1a(VG_FNV_BASIS, s, strlen(s));
}

/* ------------------------------------------------------------ rate limit */

/* Token bucket of the sender `key`; only the listener thread calls it. */
static bool rl_allow(vg_listener *L, const char *key, int64_t now)
{
    if (!L->c.rate)
        return true;
    uint64_t h = fnv1a(key);
    rl_entry *e = NULL, *freeslot = NULL, *oldest = NULL;
    for (size_t i = 0; i < RL_PROBE; i++) {
        rl_entry *s = &L->rl[(h + i) & L->rl_mask];
        if (!s->used) {
            if (!freeslot)
                freeslot = s;
        } else if (s->h == h && !strcmp(s->key, key)) {
            e = s;
            break;
        } else if (!oldest || s->last_ms < oldest->last_ms) {
            oldest = s;
        }
    }
    rl_entry *victim = freeslot ? freeslot : oldest;
    double burst = L->c.burst ? L->c.burst : L->c.rate;
    if (!e) {
        if (victim->used)
            vg_counter_add(L->c_evicted, 1);
        e = victim;
        e->used = true;
        e->h = h;
        snprintf(e->key, sizeof e->key, "%s", key);
        e->tokens = burst;
        e->last_ms = now;
    }
    e->tokens += (double)(now - e->last_ms) * L->c.rate / 1000.0;
    if (e->tokens > burst)
        e->tokens = burst;
    e->last_ms = now;
    if (e->tokens < 1.0)
        return false;
    e->tokens -= 1.0;
    return true;
}

/* ------------------------------------------------------------ the queue */

static void deliver(vg_listener *L, int transport, const char *addr, const char *key, const char *p,
                    size_t n, uint32_t flags)
{
    /* Trailing newlines and NULs some senders add are not part of the message. */
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == '\0'))
        n--;
    if (!n)
        return;
    vg_counter_add(L->c_lines, 1);
    vg_counter_add(L->c_bytes, n);
    if (flags & VG_EV_TRUNCATED)
        vg_counter_add(L->c_truncated, 1);
    if (!rl_allow(L, key, mono_ms())) {
        vg_counter_add(L->c_rate_limited, 1);
        char k[256];
        snprintf(k, sizeof k, "listen-rate:%s:%s", L->name, key);
        vg_log_once(k, VG_LOG_WARNING,
                    "syslog input %s: sender %s exceeds %u messages/s; the excess is dropped "
                    "(counted in input.dropped_rate_limited)",
                    L->name, key, L->c.rate);
        return;
    }
    size_t alen = strlen(addr);
    if (alen > UINT16_MAX)
        alen = UINT16_MAX;
    pthread_mutex_lock(&L->mu);
    bool full = L->qn >= L->c.queue_messages || L->qbytes + n > L->c.queue_bytes;
    msg *m = full ? NULL : malloc(sizeof *m + alen + n);
    if (!m) {
        pthread_mutex_unlock(&L->mu);
        vg_counter_add(L->c_queue_full, 1);
        char k[256];
        snprintf(k, sizeof k, "listen-full:%s", L->name);
        vg_log_once(k, VG_LOG_WARNING,
                    "syslog input %s: queue full (%zu messages): messages are dropped rather "
                    "than blocking their senders (counted in input.dropped_queue_full)",
                    L->name, L->c.queue_messages);
        return;
    }
    m->next = NULL;
    m->recv_ns = wall_ns();
    m->flags = flags;
    m->transport = (uint8_t)transport;
    m->alen = (uint16_t)alen;
    m->n = n;
    memcpy(m->data, addr, alen);
    memcpy(m->data + alen, p, n);
    if (L->tail)
        L->tail->next = m;
    else
        L->head = m;
    L->tail = m;
    L->qn++;
    L->qbytes += n;
    if (!L->signalled) {
        uint64_t one = 1;
        L->signalled = write(L->ready_fd, &one, sizeof one) == sizeof one;
    }
    pthread_mutex_unlock(&L->mu);
}

/* ------------------------------------------------------------ sockets */

static void fmt_addr(const struct sockaddr *sa, socklen_t sl, char *addr, size_t acap, char *key,
                     size_t kcap)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(sa, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV)) {
        snprintf(addr, acap, "?");
        snprintf(key, kcap, "?");
        return;
    }
    const char *h = host;
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): sa was filled by accept4/recvmsg, which the analyzer does not model
    if (sa->sa_family == AF_INET6 && !strncmp(host, "::ffff:", 7) && strchr(host, '.'))
        h = host + 7; /* a v4 sender on a dual-stack socket */
    /* numeric: at most 45 bytes of host (INET6_ADDRSTRLEN) and 5 of port */
    if (strchr(h, ':'))
        snprintf(addr, acap, "[%.46s]:%.6s", h, serv);
    else
        snprintf(addr, acap, "%.46s:%.6s", h, serv);
    snprintf(key, kcap, "%.46s", h);
}

/* Read up to READ_BUDGET datagrams from a UDP or unix socket. */
static void read_dgrams(vg_listener *L, int t)
{
    for (int i = 0; i < READ_BUDGET; i++) {
        struct sockaddr_storage ss;
        union {
            char buf[CMSG_SPACE(sizeof(struct ucred))];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {L->dgram, L->c.max_message};
        struct msghdr mh = {.msg_name = &ss,
                            .msg_namelen = sizeof ss,
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = cbuf.buf,
                            .msg_controllen = sizeof cbuf.buf};
        ssize_t r = recvmsg(L->fds[t], &mh, MSG_DONTWAIT | MSG_TRUNC);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                vg_counter_add(L->c_errors, 1);
            return;
        }
        uint32_t flags = 0;
        size_t n = (size_t)r;
        if (n > L->c.max_message || (mh.msg_flags & MSG_TRUNC)) {
            flags |= VG_EV_TRUNCATED;
            n = L->c.max_message;
        }
        char addr[64], key[64];
        if (t == T_UNIX) {
            snprintf(addr, sizeof addr, "unix");
            snprintf(key, sizeof key, "unix");
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
                    struct ucred uc;
                    memcpy(&uc, CMSG_DATA(cm), sizeof uc);
                    snprintf(addr, sizeof addr, "unix:uid=%u,pid=%d", (unsigned)uc.uid,
                             (int)uc.pid);
                    snprintf(key, sizeof key, "uid:%u", (unsigned)uc.uid);
                }
            }
        } else {
            fmt_addr((struct sockaddr *)&ss, mh.msg_namelen, addr, sizeof addr, key, sizeof key);
        }
        deliver(L, t, addr, key, L->dgram, n, flags);
    }
}

static void conn_close(vg_listener *L, size_t i)
{
    conn *c = &L->conns[i];
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    vg_framer_destroy(&c->fr);
    free(c->buf);
    L->conns[i] = L->conns[--L->nconns];
}

/* Emit the complete lines the framer holds. */
static void lf_drain(vg_listener *L, conn *c)
{
    vg_line ln;
    while (vg_framer_next(&c->fr, &ln))
        deliver(L, c->t, c->addr, c->key, ln.p, ln.n, ln.truncated ? VG_EV_TRUNCATED : 0);
}

/* Move bytes into the framer (at most its read size at a time). */
static bool lf_feed(vg_listener *L, conn *c, const char *p, size_t n)
{
    while (n) {
        size_t room;
        char *dst = vg_framer_space(&c->fr, &room);
        if (!dst)
            return false;
        size_t k = n < room ? n : room;
        memcpy(dst, p, k);
        vg_framer_commit(&c->fr, k);
        p += k;
        n -= k;
        lf_drain(L, c);
    }
    return true;
}

/*
 * Octet-counted frames in buf[start, end): "MSG-LEN SP MSG". A MSG longer
 * than max_message is kept up to it (flagged) and the rest is skipped as it
 * arrives. Returns false on a framing error (the connection is then closed).
 */
static bool octet_drain(vg_listener *L, conn *c)
{
    for (;;) {
        size_t avail = c->end - c->start;
        if (!c->in_body && c->skip) {
            size_t d = c->skip < avail ? c->skip : avail;
            c->start += d;
            c->skip -= d;
            if (c->skip)
                return true;
            continue;
        }
        if (!avail)
            return true;
        if (!c->in_body) {
            const char *p = c->buf + c->start;
            size_t i = 0, len = 0;
            while (i < avail && i < OCTET_DIGITS && p[i] >= '0' && p[i] <= '9')
                len = len * 10 + (size_t)(p[i++] - '0');
            /* Between frames, tolerate the LF some senders add after a frame. */
            if (i == 0 && (p[0] == '\n' || p[0] == '\r')) {
                c->start++;
                continue;
            }
            if (i == avail && i < OCTET_DIGITS)
                return true; /* the length is not complete yet */
            if (i == 0 || i == avail || p[i] != ' ')
                return false;
            c->start += i + 1;
            if (!len)
                continue;
            c->in_body = true;
            c->trunc = len > L->c.max_message;
            c->want = c->trunc ? L->c.max_message : len;
            c->skip = len - c->want; /* skipped once the kept part is delivered */
            avail = c->end - c->start;
        }
        if (avail < c->want)
            return true;
        deliver(L, c->t, c->addr, c->key, c->buf + c->start, c->want,
                c->trunc ? VG_EV_TRUNCATED : 0);
        c->start += c->want;
        c->in_body = false;
    }
}

/* Decide the framing from the first bytes: "DIGITS SP" = octet counting. */
static int detect(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && i <= OCTET_DIGITS && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i == 0 || i > OCTET_DIGITS)
        return M_LF;
    if (i == n)
        return M_UNKNOWN;
    return p[i] == ' ' ? M_OCTET : M_LF;
}

/* A TLS failure of one connection: counted, logged once per input. */
static void tls_fail(vg_listener *L, conn *c, const char *what)
{
    char es[256] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, es, sizeof es);
    ERR_clear_error();
    vg_counter_add(L->c_tls_errors, 1);
    char k[256];
    snprintf(k, sizeof k, "listen-tls:%s", L->name);
    vg_log_once(k, VG_LOG_WARNING,
                "syslog input %s: TLS %s with %s failed: %s (further failures are counted in "
                "input.tls_errors)",
                L->name, what, c->addr, es[0] ? es : "connection closed");
}

/*
 * recv() for plain and TLS connections: > 0 bytes, 0 at the end, -1 with
 * errno EAGAIN (nothing now; c->events says what to wait for) or another
 * errno (the connection is broken). Runs the TLS handshake first.
 */
static ssize_t conn_recv(vg_listener *L, conn *c, char *buf, size_t n)
{
    c->events = POLLIN;
    if (c->fd < 0) { /* injected bytes (vg_listen_inject) */
        if (!c->inj_n) {
            if (c->inj_eof)
                return 0;
            errno = EAGAIN;
            return -1;
        }
        size_t k = n < c->inj_n ? n : c->inj_n;
        memcpy(buf, c->inj, k);
        c->inj += k;
        c->inj_n -= k;
        return (ssize_t)k;
    }
    if (!c->ssl)
        return recv(c->fd, buf, n, MSG_DONTWAIT);
    ERR_clear_error();
    if (!c->hs_done) {
        int r = SSL_accept(c->ssl);
        if (r != 1) {
            int se = SSL_get_error(c->ssl, r);
            if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
                c->events = se == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
                errno = EAGAIN;
                return -1;
            }
            tls_fail(L, c, "handshake");
            errno = EPROTO;
            return -1;
        }
        c->hs_done = true;
    }
    int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    int se = SSL_get_error(c->ssl, r);
    if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
        c->events = se == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
        errno = EAGAIN;
        return -1;
    }
    if (se == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (se == SSL_ERROR_SYSCALL && !ERR_peek_error())
        return 0; /* closed without close_notify: the end of the stream all the same */
    tls_fail(L, c, "read");
    errno = EPROTO;
    return -1;
}

/* Read what one connection has; false when it is finished (EOF, error, framing). */
static bool conn_read(vg_listener *L, conn *c)
{
    for (int round = 0; round < READ_BUDGET; round++) {
        ssize_t r;
        if (c->mode == M_LF) {
            size_t room;
            char *dst = vg_framer_space(&c->fr, &room);
            if (!dst)
                return false;
            r = conn_recv(L, c, dst, room);
            if (r > 0) {
                vg_framer_commit(&c->fr, (size_t)r);
                lf_drain(L, c);
            }
        } else {
            if (c->start) {
                memmove(c->buf, c->buf + c->start, c->end - c->start);
                c->end -= c->start;
                c->start = 0;
            }
            size_t room = c->cap - c->end;
            if (room > TCP_READ)
                room = TCP_READ;
            if (!room)
                return false; /* cannot happen: a kept frame always fits */
            r = conn_recv(L, c, c->buf + c->end, room);
            if (r > 0) {
                c->end += (size_t)r;
                if (c->mode == M_UNKNOWN) {
                    c->mode = detect(c->buf, c->end);
                    if (c->mode == M_LF) {
                        bool ok = lf_feed(L, c, c->buf, c->end);
                        free(c->buf);
                        c->buf = NULL;
                        c->start = c->end = c->cap = 0;
                        if (!ok)
                            return false;
                        continue;
                    }
                }
                if (c->mode == M_OCTET && !octet_drain(L, c)) {
                    vg_counter_add(L->c_framing, 1);
                    char k[256];
                    snprintf(k, sizeof k, "listen-framing:%s", L->name);
                    vg_log_once(k, VG_LOG_WARNING,
                                "syslog input %s: %s sent a malformed octet-counted frame; "
                                "connection closed (counted in input.framing_errors)",
                                L->name, c->addr);
                    return false;
                }
            }
        }
        if (r == 0) {
            vg_line ln;
            if (c->mode == M_LF && vg_framer_flush(&c->fr, &ln))
                deliver(L, c->t, c->addr, c->key, ln.p, ln.n, ln.truncated ? VG_EV_TRUNCATED : 0);
            else if (c->mode == M_UNKNOWN && c->end)
                deliver(L, c->t, c->addr, c->key, c->buf, c->end, 0); /* "123" then EOF */
            return false;
        }
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c->last_ms = mono_ms();
    }
    return true;
}

/* A new connection's buffers: the octet-counting buffer and the LF framer. */
static bool conn_buffers(vg_listener *L, conn *c)
{
    c->cap = L->c.max_message + OCTET_DIGITS + 2;
    c->buf = malloc(c->cap);
    if (!c->buf || vg_framer_init(&c->fr, L->c.max_message, TCP_READ, 0) != 0) {
        free(c->buf);
        c->buf = NULL;
        return false;
    }
    return true;
}

static void accept_conns(vg_listener *L, int t)
{
    for (int i = 0; i < READ_BUDGET; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(L->fds[t], (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (L->nconns >= L->c.max_connections) {
            close(fd);
            vg_counter_add(L->c_refused, 1);
            char k[256];
            snprintf(k, sizeof k, "listen-conns:%s", L->name);
            vg_log_once(k, VG_LOG_WARNING,
                        "syslog input %s: %zu TCP connections already open; new ones are "
                        "closed (counted in input.connections_refused)",
                        L->name, L->c.max_connections);
            continue;
        }
        conn *c = &L->conns[L->nconns];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->t = t;
        c->events = POLLIN;
        if (t == T_TLS) {
            c->ssl = SSL_new(L->ctx);
            if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
                if (c->ssl)
                    SSL_free(c->ssl);
                close(fd);
                vg_counter_add(L->c_errors, 1);
                continue;
            }
        }
        if (!conn_buffers(L, c)) {
            if (c->ssl)
                SSL_free(c->ssl);
            close(fd);
            vg_counter_add(L->c_errors, 1);
            continue;
        }
        fmt_addr((struct sockaddr *)&ss, sl, c->addr, sizeof c->addr, c->key, sizeof c->key);
        c->last_ms = mono_ms();
        L->nconns++;
        vg_counter_add(L->c_conns, 1);
    }
}

/* When a connection is closed if nothing happens: idle, or a handshake too slow. */
static int64_t conn_deadline(const vg_listener *L, const conn *c)
{
    if (c->ssl && !c->hs_done)
        return c->last_ms + HANDSHAKE_MS;
    return c->last_ms + L->c.idle_timeout_ms;
}

static void *listen_main(void *arg)
{
    vg_listener *L = arg;
    size_t cap = 1 + T_COUNT + L->c.max_connections;
    struct pollfd *pf = calloc(cap, sizeof *pf);
    if (!pf) {
        vg_log(VG_LOG_ERROR, "syslog input %s: out of memory; the listener stops", L->name);
        return NULL;
    }
    for (;;) {
        size_t n = 0;
        pf[n++] = (struct pollfd){.fd = L->stop_fd, .events = POLLIN};
        for (int t = 0; t < T_COUNT; t++)
            pf[n++] = (struct pollfd){.fd = L->fds[t], .events = POLLIN};
        bool pending = false; /* TLS plaintext already buffered: read it without waiting */
        for (size_t i = 0; i < L->nconns; i++) {
            pf[n++] = (struct pollfd){.fd = L->conns[i].fd, .events = L->conns[i].events};
            if (L->conns[i].ssl && SSL_pending(L->conns[i].ssl) > 0)
                pending = true;
        }
        int64_t now = mono_ms(), next = pending ? now : -1;
        for (size_t i = 0; i < L->nconns; i++) {
            int64_t e = conn_deadline(L, &L->conns[i]);
            if (next < 0 || e < next)
                next = e;
        }
        int timeout =
            next < 0 ? -1 : (next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now));
        int r = poll(pf, n, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break;
        for (int t = 0; t < T_COUNT; t++) {
            if (!pf[1 + t].revents)
                continue;
            if (t == T_TCP || t == T_TLS)
                accept_conns(L, t);
            else
                read_dgrams(L, t);
        }
        /* Connections polled this round are pf[1 + T_COUNT ..]; the array may have
           grown or shrunk since, so match by descriptor. */
        now = mono_ms();
        for (size_t k = 1 + T_COUNT; k < n; k++) {
            for (size_t i = 0; i < L->nconns; i++) {
                conn *c = &L->conns[i];
                if (c->fd != pf[k].fd)
                    continue;
                bool keep = true;
                if (pf[k].revents || (c->ssl && SSL_pending(c->ssl) > 0))
                    keep = conn_read(L, c);
                else if (now >= conn_deadline(L, c))
                    keep = false;
                if (!keep && c->ssl && !c->hs_done && now >= conn_deadline(L, c))
                    tls_fail(L, c, "handshake (timed out)");
                if (!keep)
                    conn_close(L, i);
                break;
            }
        }
    }
    free(pf);
    return NULL;
}

/* Bind a UDP or TCP socket to "host:port" ("[v6]:port"; empty host or "*" = any). */
static vg_err bind_inet(vg_listener *L, int t, const char *spec, vg_errbuf *eb)
{
    char host[256];
    const char *port;
    if (spec[0] == '[') {
        const char *e = strchr(spec, ']');
        if (!e || e[1] != ':' || (size_t)(e - spec - 1) >= sizeof host)
            return vg_errf(eb, VG_ECONFIG, "%s address '%s': expected [ipv6]:port", tname[t], spec);
        snprintf(host, sizeof host, "%.*s", (int)(e - spec - 1), spec + 1);
        port = e + 2;
    } else {
        const char *e = strrchr(spec, ':');
        if (!e || (size_t)(e - spec) >= sizeof host)
            return vg_errf(eb, VG_ECONFIG, "%s address '%s': expected host:port", tname[t], spec);
        snprintf(host, sizeof host, "%.*s", (int)(e - spec), spec);
        port = e + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = t == T_UDP ? SOCK_DGRAM : SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    bool any = !host[0] || !strcmp(host, "*");
    int g = getaddrinfo(any ? NULL : host, port, &hints, &res);
    if (g)
        return vg_errf(eb, VG_ECONFIG, "%s address '%s': %s", tname[t], spec, gai_strerror(g));
    vg_err e = VG_OK;
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = vg_errno(eb, VG_EIO, "%s socket", tname[t]);
        goto out;
    }
    int one = 1, rcv = SOCK_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (t == T_UDP)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || (t != T_UDP && listen(fd, 128) < 0)) {
        e = vg_errno(eb, VG_EIO, "%s: cannot listen on %s", tname[t], spec);
        close(fd);
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[NI_MAXHOST], s[NI_MAXSERV];
    if (!getsockname(fd, (struct sockaddr *)&ss, &sl) &&
        !getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, s, sizeof s,
                     NI_NUMERICHOST | NI_NUMERICSERV))
        L->ports[t] = (int)strtol(s, NULL, 10); /* numeric service from getnameinfo */
    L->fds[t] = fd;
    snprintf(L->stream_names[t], sizeof L->stream_names[t], "%s:%s", tname[t], spec);
    snprintf(L->streams[t].id, sizeof L->streams[t].id, "l:%s:%d:%llx", tname[t], L->ports[t],
             (unsigned long long)wall_ns());
out:
    freeaddrinfo(res);
    return e;
}

static vg_err bind_unix(vg_listener *L, vg_errbuf *eb)
{
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    if (strlen(L->unix_path) >= sizeof su.sun_path)
        return vg_errf(eb, VG_ECONFIG, "unix socket path too long (%zu bytes max): %s",
                       sizeof su.sun_path - 1, L->unix_path);
    memcpy(su.sun_path, L->unix_path, strlen(L->unix_path) + 1);
    struct stat st;
    /* A socket left by a previous run is replaced; any other file is not touched. */
    if (lstat(L->unix_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return vg_errf(eb, VG_ECONFIG, "%s exists and is not a socket", L->unix_path);
        unlink(L->unix_path);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vg_errno(eb, VG_EIO, "unix socket");
    int one = 1, rcv = SOCK_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    if (bind(fd, (struct sockaddr *)&su, sizeof su) < 0) {
        vg_err e = vg_errno(eb, VG_EIO, "cannot bind %s", L->unix_path);
        close(fd);
        return e;
    }
    L->unix_bound = true;
    if (chmod(L->unix_path, L->c.unix_mode) < 0) {
        vg_err e = vg_errno(eb, VG_EIO, "chmod %s", L->unix_path);
        close(fd);
        return e;
    }
    L->fds[T_UNIX] = fd;
    snprintf(L->stream_names[T_UNIX], sizeof L->stream_names[T_UNIX], "unix:%s", L->unix_path);
    snprintf(L->streams[T_UNIX].id, sizeof L->streams[T_UNIX].id, "l:unix:%08llx:%llx",
             (unsigned long long)(fnv1a(L->unix_path) & 0xffffffffu),
             (unsigned long long)wall_ns());
    return VG_OK;
}

/* The server side of RFC 5425: certificate, key, optional client verification. */
static vg_err tls_setup(vg_listener *L, vg_errbuf *eb)
{
    char es[256] = "cannot load";
    if (!L->tls_cert || !L->tls_key)
        return vg_errf(eb, VG_ECONFIG, "syslog input %s: tls needs tls_cert_file and tls_key_file",
                       L->name);
    if (L->c.tls_client_auth && !L->tls_ca)
        return vg_errf(eb, VG_ECONFIG,
                       "syslog input %s: tls_client_auth needs tls_ca_file (the CA of the "
                       "clients' certificates)",
                       L->name);
    vg_err e = vg_secret_check_key(L->tls_key, eb);
    if (e) {
        vg_err_prefix(eb, "syslog input %s: tls_key_file", L->name);
        return e;
    }
    ERR_clear_error();
    L->ctx = SSL_CTX_new(TLS_server_method());
    if (!L->ctx)
        return vg_errf(eb, VG_ENOMEM, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(L->ctx, TLS1_2_VERSION);
    /* Senders often close without a close_notify; that is the end of their stream. */
    SSL_CTX_set_options(L->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    const char *what = NULL, *file = NULL;
    if (SSL_CTX_use_certificate_chain_file(L->ctx, L->tls_cert) != 1)
        what = "tls_cert_file", file = L->tls_cert;
    else if (SSL_CTX_use_PrivateKey_file(L->ctx, L->tls_key, SSL_FILETYPE_PEM) != 1)
        what = "tls_key_file", file = L->tls_key;
    else if (SSL_CTX_check_private_key(L->ctx) != 1)
        what = "tls_key_file (does not match tls_cert_file)", file = L->tls_key;
    else if (L->tls_ca && SSL_CTX_load_verify_locations(L->ctx, L->tls_ca, NULL) != 1)
        what = "tls_ca_file", file = L->tls_ca;
    if (what) {
        unsigned long err = ERR_peek_last_error();
        if (err)
            ERR_error_string_n(err, es, sizeof es);
        ERR_clear_error();
        return vg_errf(eb, VG_ECONFIG, "syslog input %s: %s %s: %s", L->name, what, file, es);
    }
    if (L->c.tls_client_auth)
        SSL_CTX_set_verify(L->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return VG_OK;
}

/* ------------------------------------------------------------ collector ops */

static void listen_destroy(void *self);

vg_err vg_listen_create(const vg_listen_conf *lc, const vg_input_conf *ic,
                        const vg_collector_env *env, void **self, vg_errbuf *eb)
{
    vg_err e = VG_OK;
    *self = NULL;
    vg_listener *L = calloc(1, sizeof *L);
    if (!L)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    L->c = *lc;
    L->ic = ic;
    L->stop_fd = L->ready_fd = -1;
    for (int t = 0; t < T_COUNT; t++)
        L->fds[t] = -1;
    pthread_mutex_init(&L->mu, NULL);
    if (!L->c.max_message)
        L->c.max_message = 65536;
    if (!L->c.queue_messages)
        L->c.queue_messages = 100000;
    if (!L->c.queue_bytes)
        L->c.queue_bytes = 64u << 20;
    if (!L->c.max_senders)
        L->c.max_senders = 4096;
    if (!L->c.max_connections)
        L->c.max_connections = 256;
    if (L->c.idle_timeout_ms <= 0)
        L->c.idle_timeout_ms = 3600000;
    if (!L->c.unix_mode)
        L->c.unix_mode = 0666;
    const char *name = lc->name ? lc->name : ic && ic->name ? ic->name : "syslog";
    L->name = strdup(name);
    L->udp = lc->udp ? strdup(lc->udp) : NULL;
    L->tcp = lc->tcp ? strdup(lc->tcp) : NULL;
    L->unix_path = lc->unix_path ? strdup(lc->unix_path) : NULL;
    L->tls = lc->tls ? strdup(lc->tls) : NULL;
    L->tls_cert = lc->tls_cert_file ? strdup(lc->tls_cert_file) : NULL;
    L->tls_key = lc->tls_key_file ? strdup(lc->tls_key_file) : NULL;
    L->tls_ca = lc->tls_ca_file ? strdup(lc->tls_ca_file) : NULL;
    size_t rl = 8;
    while (rl < L->c.max_senders)
        rl <<= 1;
    L->rl = calloc(rl, sizeof *L->rl);
    L->rl_mask = rl - 1;
    L->dgram = malloc(L->c.max_message + 1);
    L->conns = calloc(L->c.max_connections, sizeof *L->conns);
    if (!L->name || (lc->udp && !L->udp) || (lc->tcp && !L->tcp) ||
        (lc->unix_path && !L->unix_path) || (lc->tls && !L->tls) ||
        (lc->tls_cert_file && !L->tls_cert) || (lc->tls_key_file && !L->tls_key) ||
        (lc->tls_ca_file && !L->tls_ca) || !L->rl || !L->dgram || !L->conns) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    L->c.name = L->name;
    L->c.udp = L->udp;
    L->c.tcp = L->tcp;
    L->c.unix_path = L->unix_path;
    L->c.tls = L->tls;
    L->c.tls_cert_file = L->tls_cert;
    L->c.tls_key_file = L->tls_key;
    L->c.tls_ca_file = L->tls_ca;
    if (!L->udp && !L->tcp && !L->unix_path && !L->tls) {
        e = vg_errf(eb, VG_ECONFIG,
                    "syslog input %s: no udp, tcp, tls or unix address to listen on", L->name);
        goto out;
    }
    if (L->tls && (e = tls_setup(L, eb)))
        goto out;
    L->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    L->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (L->stop_fd < 0 || L->ready_fd < 0) {
        e = vg_errno(eb, VG_EIO, "eventfd");
        goto out;
    }
    for (int t = 0; t < T_COUNT; t++) {
        L->streams[t].name = L->stream_names[t];
        L->streams[t].input = L->name;
    }
    vg_stats *st = env ? env->stats : NULL;
    struct {
        vg_counter **c;
        const char *n;
    } cs[] = {
        {&L->c_lines, "input.lines"},
        {&L->c_bytes, "input.bytes"},
        {&L->c_truncated, "input.truncated"},
        {&L->c_queue_full, "input.dropped_queue_full"},
        {&L->c_rate_limited, "input.dropped_rate_limited"},
        {&L->c_conns, "input.connections"},
        {&L->c_refused, "input.connections_refused"},
        {&L->c_framing, "input.framing_errors"},
        {&L->c_evicted, "input.rate_senders_evicted"},
        {&L->c_errors, "input.errors"},
        {&L->c_tls_errors, "input.tls_errors"},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        *cs[i].c = st ? vg_stats_counter(st, cs[i].n, "input", L->name) : &L->dummy;
out:
    if (e) {
        listen_destroy(L);
        return e;
    }
    *self = L;
    return VG_OK;
}

static vg_err listen_start(void *self, vg_errbuf *eb)
{
    vg_listener *L = self;
    vg_err e = VG_OK;
    if (L->udp && (e = bind_inet(L, T_UDP, L->udp, eb)))
        goto out;
    if (L->tcp && (e = bind_inet(L, T_TCP, L->tcp, eb)))
        goto out;
    if (L->unix_path && (e = bind_unix(L, eb)))
        goto out;
    if (L->tls && (e = bind_inet(L, T_TLS, L->tls, eb)))
        goto out;
    if (pthread_create(&L->th, NULL, listen_main, L)) {
        e = vg_errf(eb, VG_EIO, "cannot start the listener thread");
        goto out;
    }
    L->running = true;
    vg_log(VG_LOG_INFO, "syslog input %s: listening on%s%s%s%s%s%s%s%s", L->name,
           L->udp ? " udp " : "", L->udp ? L->udp : "", L->tcp ? " tcp " : "", L->tcp ? L->tcp : "",
           L->tls ? " tls " : "", L->tls ? L->tls : "", L->unix_path ? " unix " : "",
           L->unix_path ? L->unix_path : "");
out:
    if (e)
        vg_err_prefix(eb, "syslog input %s", L->name);
    return e;
}

int vg_listen_port(void *self, const char *transport)
{
    vg_listener *L = self;
    for (int t = 0; t < T_COUNT; t++)
        if (!strcmp(transport, tname[t]))
            return L->ports[t];
    return 0;
}

bool vg_listen_inject(void *self, const char *transport, const char *p, size_t n)
{
    vg_listener *L = self;
    if (L->running)
        return false;
    if (!strcmp(transport, "udp") || !strcmp(transport, "unix")) {
        bool ux = transport[1] == 'n';
        uint32_t flags = 0;
        if (n > L->c.max_message) {
            n = L->c.max_message;
            flags = VG_EV_TRUNCATED;
        }
        if (p)
            deliver(L, ux ? T_UNIX : T_UDP, ux ? "unix" : "192.0.2.1:514",
                    ux ? "unix" : "192.0.2.1", p, n, flags);
        return true;
    }
    if (strcmp(transport, "tcp"))
        return false;
    size_t i = 0;
    while (i < L->nconns && L->conns[i].fd >= 0)
        i++;
    if (i == L->nconns) { /* open the injected connection */
        if (!p || L->nconns >= L->c.max_connections)
            return false;
        conn *c = &L->conns[L->nconns];
        memset(c, 0, sizeof *c);
        c->fd = -1;
        c->t = T_TCP;
        c->events = POLLIN;
        if (!conn_buffers(L, c))
            return false;
        snprintf(c->addr, sizeof c->addr, "192.0.2.1:50000");
        snprintf(c->key, sizeof c->key, "192.0.2.1");
        c->last_ms = mono_ms();
        L->nconns++;
    }
    conn *c = &L->conns[i];
    c->inj = p;
    c->inj_n = p ? n : 0;
    c->inj_eof = !p;
    bool keep = true;
    while (keep && (c->inj_n || c->inj_eof)) {
        keep = conn_read(L, c);
        if (c->inj_eof)
            break;
    }
    if (!keep || c->inj_eof) {
        conn_close(L, i);
        return false;
    }
    return true;
}

static int listen_fd(void *self)
{
    return ((vg_listener *)self)->ready_fd;
}

static int64_t listen_timeout_ms(void *self)
{
    vg_listener *L = self;
    pthread_mutex_lock(&L->mu);
    bool more = L->head != NULL;
    pthread_mutex_unlock(&L->mu);
    return more ? 0 : -1;
}

static void free_held(vg_listener *L)
{
    for (size_t i = 0; i < L->nheld; i++)
        free(L->held[i]);
    L->nheld = 0;
}

static vg_err listen_read(void *self, vg_batch *b, size_t max)
{
    vg_listener *L = self;
    free_held(L); /* the events of the previous read() are processed */
    if (max > L->held_cap) {
        msg **nh = realloc(L->held, max * sizeof *nh);
        if (!nh)
            return VG_EAGAIN;
        L->held = nh;
        L->held_cap = max;
    }
    pthread_mutex_lock(&L->mu);
    uint64_t v;
    if (read(L->ready_fd, &v, sizeof v) < 0) {
        /* EAGAIN: nothing was signalled; the queue may still hold messages */
    }
    L->signalled = false;
    while (L->head && L->nheld < max) {
        vg_event *ev = vg_batch_push(b);
        if (!ev)
            break;
        msg *m = L->head;
        L->head = m->next;
        if (!L->head)
            L->tail = NULL;
        L->qn--;
        L->qbytes -= m->n;
        L->held[L->nheld++] = m;
        ev->raw = (vg_str){m->data + m->alen, m->n};
        ev->stream = &L->streams[m->transport];
        ev->offset = ++L->seq;
        ev->flags = m->flags;
        ev->ts_ns = m->recv_ns; /* the parser replaces it with the message's own time */
        vg_event_append(ev, VG_STR("log.source.address"), (vg_str){m->data, m->alen});
    }
    bool got = L->nheld > 0;
    pthread_mutex_unlock(&L->mu);
    return got ? VG_OK : VG_EAGAIN;
}

static void listen_mark(void *self)
{
    (void)self; /* nothing to commit: a network sender cannot replay */
}

static json_t *listen_save(void *self)
{
    (void)self;
    return NULL;
}

static void listen_destroy(void *self)
{
    vg_listener *L = self;
    if (!L)
        return;
    if (L->running) {
        uint64_t one = 1;
        if (write(L->stop_fd, &one, sizeof one) < 0) {
            /* cannot fail on a fresh eventfd */
        }
        pthread_join(L->th, NULL);
    }
    while (L->nconns)
        conn_close(L, 0);
    for (int t = 0; t < T_COUNT; t++)
        if (L->fds[t] >= 0)
            close(L->fds[t]);
    if (L->unix_bound)
        unlink(L->unix_path);
    if (L->stop_fd >= 0)
        close(L->stop_fd);
    if (L->ready_fd >= 0)
        close(L->ready_fd);
    free_held(L);
    free(L->held);
    for (msg *m = L->head, *nx; m; m = nx) {
        nx = m->next;
        free(m);
    }
    pthread_mutex_destroy(&L->mu);
    free(L->conns);
    free(L->rl);
    free(L->dgram);
    free(L->name);
    free(L->udp);
    free(L->tcp);
    free(L->unix_path);
    free(L->tls);
    free(L->tls_cert);
    free(L->tls_key);
    free(L->tls_ca);
    if (L->ctx)
        SSL_CTX_free(L->ctx);
    free(L);
}

/*
 * The collector for `type: syslog` inputs: the input's options mapped into
 * a vg_listen_conf.
 */
static vg_err listen_create_from_input(const vg_input_conf *ic, const vg_collector_env *env,
                                       void **self, vg_errbuf *eb)
{
    vg_listen_conf lc = {
        .name = ic->name, .udp = ic->listen_udp, .tcp = ic->listen_tcp, .tls = ic->listen_tls,
        .unix_path = ic->listen_unix, .unix_mode = (unsigned)ic->socket_mode,
        .tls_cert_file = ic->tls_cert_file, .tls_key_file = ic->tls_key_file,
        .tls_ca_file = ic->tls_ca_file, .tls_client_auth = ic->tls_client_auth,
        .max_message = (size_t)ic->max_line, .queue_messages = (size_t)ic->queue_messages,
        .queue_bytes = (size_t)ic->queue_bytes, .rate = (uint32_t)ic->rate,
        .burst = (uint32_t)ic->burst, .max_senders = (size_t)ic->max_senders,
        .max_connections = (size_t)ic->max_connections, .idle_timeout_ms = ic->idle_timeout_ms,
    };
    return vg_listen_create(&lc, ic, env, self, eb);
}

const vg_collector_ops vg_collector_syslog = {
    .type = "syslog",
    .flags = 0,
    .create = listen_create_from_input,
    .start = listen_start,
    .fd = listen_fd,
    .timeout_ms = listen_timeout_ms,
    .read = listen_read,
    .mark = listen_mark,
    .save = listen_save,
    .destroy = listen_destroy,
};

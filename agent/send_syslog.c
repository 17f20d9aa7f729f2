/*
 * send_syslog.c - the `syslog` transport: RFC 5424 messages (syslog_fmt.c)
 * with octet-counting framing (RFC 6587) over TCP, or over TLS (RFC 5425,
 * OpenSSL), to a central rsyslog or syslog-ng.
 *
 * One connection, opened on the first send() and again on the send() after
 * an error. Everything is non-blocking and waits in poll() on the socket and
 * an eventfd, so the whole send() is bounded by the output's timeout and a
 * wake() from another thread ends it at once.
 *
 * What "delivered" means here. Syslog over TCP has no application-level
 * acknowledgement: a completed write() only means the bytes are in our
 * kernel's send buffer. So after writing a batch, send() waits until the
 * peer's TCP stack has acknowledged every byte (SIOCOUTQ == 0) before it
 * reports the batch delivered, and it checks that the peer has not closed
 * the connection before writing the next batch. What can still be lost at a
 * disconnect is what the receiving host had acknowledged at the TCP level
 * but not yet processed: its socket receive buffer and the receiver's
 * in-memory queue (rsyslog's main queue holds up to 100,000 messages by
 * default unless it is a disk-assisted queue). When the connection fails
 * in the middle of a batch, the whole batch is retried, so the receiver may
 * see some items twice (same event.id). For acknowledged delivery use RELP.
 *
 * A TLS server that asks for a client certificate may refuse it only after
 * the handshake, by closing the connection (rsyslog does); so on such a
 * connection nothing is written for PROBE_MS after the handshake, and a
 * close in that time is reported as VG_EPERM (a credential problem).
 *
 * wake() is sticky: it means the agent is stopping, and every send() after
 * it returns VG_EAGAIN without I/O.
 *
 * The process must ignore SIGPIPE (the pipeline does): OpenSSL writes to
 * the socket with write(2), which raises it when the peer has gone.
 */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "secret.h"
#include "syslog_fmt.h"

#define FRAME_MAX (8u << 20) /* one framed item; a larger item is rejected (dead-lettered) */
#define CHUNK (256u << 10)   /* frames are written in chunks of about this size */
#define DRAIN_STEP_MAX_MS 50 /* longest pause between two SIOCOUTQ looks */
#define PROBE_MS 500         /* wait for a post-handshake refusal (see probe_authorization) */

typedef struct syslog_tx {
    char *name;        /* output name, for messages */
    char *host, *port; /* from address */
    char *verify_name; /* server_name, else host */
    char *ca_file;     /* NULL = system store */
    bool tls;
    int64_t timeout_ms;
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;              /* -1 when not connected */
    int wake_fd;         /* eventfd, readable once wake() was called */
    bool has_cert;       /* cert_file configured */
    bool insecure;       /* insecure_skip_verify */
    bool cert_requested; /* the server asked for a client certificate (this handshake) */
    char peer_issuer[256], peer_subject[256]; /* of the certificate that failed verification */
    char hostname[256];
    char *app_name;
    vg_syslog_fmt_opts fmt;
    vg_buf out;
    vg_counter *c_bytes, *c_connects, *c_errors, *c_too_large;
} syslog_tx;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool woken(const syslog_tx *t)
{
    struct pollfd p = {.fd = t->wake_fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/*
 * Wait for `events` on the socket, the wake eventfd or the deadline (capped
 * at cap_ms when >= 0). Returns VG_OK when the socket is ready (or cap_ms
 * passed), VG_EAGAIN with a message on wake or deadline.
 */
static vg_err wait_fd(syslog_tx *t, short events, int64_t deadline, int cap_ms, const char *what,
                      vg_errbuf *eb)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return vg_errf(eb, VG_EAGAIN, "%s:%s: timed out %s", t->host, t->port, what);
        int ms = left > INT32_MAX ? INT32_MAX : (int)left;
        if (cap_ms >= 0 && ms > cap_ms)
            ms = cap_ms;
        struct pollfd p[2] = {{.fd = t->fd, .events = events},
                              {.fd = t->wake_fd, .events = POLLIN}};
        int r = poll(p, 2, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return vg_errno(eb, VG_EAGAIN, "poll");
        if (p[1].revents)
            return vg_errf(eb, VG_EAGAIN, "%s:%s: interrupted %s (stopping)", t->host, t->port,
                           what);
        if (r > 0 || cap_ms >= 0)
            return VG_OK;
    }
}

static void disconnect(syslog_tx *t)
{
    if (t->ssl) {
        SSL_free(t->ssl); /* no close_notify: the connection is dropped after an error or at exit */
        t->ssl = NULL;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}

/* The last OpenSSL error as text (the queue is cleared), or fallback. */
static const char *ssl_errstr(char *buf, size_t cap, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    if (!e) {
        snprintf(buf, cap, "%s", fallback);
        return buf;
    }
    ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

static bool is_ip(const char *s)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

/* Verification callback: remember which certificate failed, for the message. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    syslog_tx *t = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(xs);
    if (!ok && t && cert && !t->peer_issuer[0]) {
        X509_NAME_oneline(X509_get_issuer_name(cert), t->peer_issuer, sizeof t->peer_issuer);
        X509_NAME_oneline(X509_get_subject_name(cert), t->peer_subject, sizeof t->peer_subject);
    }
    return ok;
}

/* Called on the client when the server sends a CertificateRequest. */
static int cert_cb(SSL *ssl, void *arg)
{
    syslog_tx *t = SSL_get_app_data(ssl);
    if (t)
        t->cert_requested = true;
    return 1;
}

/* Why a certificate verification failed, in the sysadmin's terms. */
static vg_err verify_error(syslog_tx *t, long v, vg_errbuf *eb)
{
    char issuer[300];
    snprintf(issuer, sizeof issuer, "%s", t->peer_issuer[0] ? t->peer_issuer : "unknown");
    char hint[700];
    switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        if (t->ca_file)
            snprintf(hint, sizeof hint,
                     "the server's certificate (issuer %s) is not signed by a CA of ca_file %s",
                     issuer, t->ca_file);
        else
            snprintf(hint, sizeof hint,
                     "the server's certificate (issuer %s) is not signed by a CA of the system "
                     "store; set ca_file to the CA that signed it",
                     issuer);
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        snprintf(hint, sizeof hint,
                 "the server's certificate does not name '%s'; set server_name to a name it "
                 "carries",
                 t->verify_name);
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        snprintf(hint, sizeof hint, "the server's certificate has expired");
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        snprintf(hint, sizeof hint,
                 "the server's certificate is not valid yet (is this host's clock right?)");
        break;
    default:
        snprintf(hint, sizeof hint, "the server's certificate was refused (issuer %s)", issuer);
        break;
    }
    return vg_errf(eb, VG_EPERM, "%s:%s: TLS certificate verify failed: %s: %s", t->host, t->port,
                   X509_verify_cert_error_string(v), hint);
}

/* A handshake failure that is about credentials (ours refused by the server). */
static bool refused_by_peer(unsigned long e)
{
    if (ERR_GET_LIB(e) != ERR_LIB_SSL)
        return false;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

static vg_err check_peer(syslog_tx *t, vg_errbuf *eb);

/*
 * A server that asks for a client certificate may check it only after the
 * handshake and then just close the connection (rsyslog does: its
 * x509/certvalid and x509/name modes). Data written before that close would
 * be acknowledged by its TCP and lost. So on such a connection, give the
 * server a moment (PROBE_MS) to close before anything is written.
 */
static vg_err probe_authorization(syslog_tx *t, int64_t deadline, vg_errbuf *eb)
{
    int64_t end = now_ms() + PROBE_MS;
    if (end > deadline)
        end = deadline;
    for (int64_t left; (left = end - now_ms()) > 0;) {
        vg_err e =
            wait_fd(t, POLLIN | POLLRDHUP, deadline, (int)left, "after the TLS handshake", eb);
        if (e)
            return e;
        if (check_peer(t, eb)) {
            if (t->has_cert)
                return vg_errf(eb, VG_EPERM,
                               "%s:%s: the server closed the connection right after the TLS "
                               "handshake: it does not accept the client certificate of "
                               "cert_file (not signed by a CA it trusts, or a name it does not "
                               "permit)",
                               t->host, t->port);
            return vg_errf(eb, VG_EPERM,
                           "%s:%s: the server asks for a client certificate (mutual TLS) and "
                           "closed the connection: set cert_file and key_file",
                           t->host, t->port);
        }
    }
    return VG_OK;
}

static vg_err tls_handshake(syslog_tx *t, int64_t deadline, vg_errbuf *eb)
{
    ERR_clear_error();
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, t->fd) != 1)
        return vg_errf(eb, VG_ENOMEM, "SSL_new failed");
    SSL_set_app_data(t->ssl, t);
    t->cert_requested = false;
    t->peer_issuer[0] = t->peer_subject[0] = '\0';
    SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!is_ip(t->verify_name))
        SSL_set_tlsext_host_name(t->ssl, t->verify_name);
    X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
    int ok = is_ip(t->verify_name) ? X509_VERIFY_PARAM_set1_ip_asc(param, t->verify_name)
                                   : X509_VERIFY_PARAM_set1_host(param, t->verify_name, 0);
    if (ok != 1)
        return vg_errf(eb, VG_ECONFIG, "server_name '%s' cannot be checked", t->verify_name);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(t->ssl);
        if (r == 1)
            return t->cert_requested ? probe_authorization(t, deadline, eb) : VG_OK;
        int se = SSL_get_error(t->ssl, r);
        if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
            vg_err e = wait_fd(t, se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, -1,
                               "in the TLS handshake", eb);
            if (e)
                return e;
            continue;
        }
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK && !t->insecure)
            return verify_error(t, v, eb);
        unsigned long last = ERR_peek_last_error();
        char es[256];
        int saved = errno;
        ssl_errstr(es, sizeof es,
                   se == SSL_ERROR_SYSCALL
                       ? (saved ? strerror(saved) : "connection closed by the server")
                       : "handshake failed");
        if (refused_by_peer(last))
            return vg_errf(eb, VG_EPERM,
                           "%s:%s: the server refused the TLS handshake (%s): check cert_file "
                           "and key_file (the client certificate)",
                           t->host, t->port, es);
        return vg_errf(eb, VG_EAGAIN, "%s:%s: TLS handshake failed: %s", t->host, t->port, es);
    }
}

static vg_err tcp_connect(syslog_tx *t, int64_t deadline, vg_errbuf *eb)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    /* Name resolution blocks (glibc has no timeout knob here); a numeric
       address or /etc/hosts entry avoids it. */
    int g = getaddrinfo(t->host, t->port, &hints, &res);
    if (g)
        return vg_errf(eb, VG_EAGAIN, "%s:%s: cannot resolve: %s", t->host, t->port,
                       g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    vg_err e = vg_errf(eb, VG_EAGAIN, "%s:%s: no address", t->host, t->port);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        t->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (t->fd < 0) {
            e = vg_errno(eb, VG_EAGAIN, "socket");
            continue;
        }
        int one = 1;
        setsockopt(t->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        /* Batches are written in large chunks and then wait for the peer's ACK: Nagle
           would only hold the last segment back. */
        setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(t->fd, ai->ai_addr, ai->ai_addrlen) == 0)
            goto connected;
        if (errno == EINPROGRESS) {
            e = wait_fd(t, POLLOUT, deadline, -1, "connecting", eb);
            if (e) {
                disconnect(t);
                if (woken(t) || now_ms() >= deadline)
                    break;
                continue;
            }
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (!err)
                goto connected;
            errno = err;
        }
        e = vg_errno(eb, VG_EAGAIN, "connect to %s:%s", t->host, t->port);
        disconnect(t);
    }
    freeaddrinfo(res);
    return e;
connected:
    freeaddrinfo(res);
    return VG_OK;
}

static vg_err do_connect(syslog_tx *t, int64_t deadline, vg_errbuf *eb)
{
    vg_err e = tcp_connect(t, deadline, eb);
    if (!e && t->tls)
        e = tls_handshake(t, deadline, eb);
    if (e) {
        disconnect(t);
        return e;
    }
    vg_counter_add(t->c_connects, 1);
    vg_log(VG_LOG_INFO, "output '%s': connected to %s:%s%s%s", t->name, t->host, t->port,
           t->tls ? " with " : "", t->tls ? SSL_get_version(t->ssl) : "");
    return VG_OK;
}

/*
 * Between writes the peer should send nothing (a syslog receiver never
 * answers): read and discard what is there (TLS session tickets, alerts),
 * and report whether it closed the connection. VG_OK = still usable.
 */
static vg_err check_peer(syslog_tx *t, vg_errbuf *eb)
{
    char tmp[4096];
    for (int i = 0; i < 16; i++) {
        if (t->ssl) {
            ERR_clear_error();
            int r = SSL_read(t->ssl, tmp, sizeof tmp);
            if (r > 0)
                continue;
            int se = SSL_get_error(t->ssl, r);
            if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
                return VG_OK;
            char es[256];
            if (se == SSL_ERROR_ZERO_RETURN)
                return vg_errf(eb, VG_EAGAIN, "%s:%s: the server closed the connection", t->host,
                               t->port);
            ssl_errstr(es, sizeof es, "the server closed the connection");
            if (refused_by_peer(ERR_peek_last_error()))
                return vg_errf(eb, VG_EPERM, "%s:%s: the server refused our certificate (%s)",
                               t->host, t->port, es);
            return vg_errf(eb, VG_EAGAIN, "%s:%s: connection lost: %s", t->host, t->port, es);
        }
        ssize_t r = recv(t->fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (r > 0)
            continue;
        if (r == 0)
            return vg_errf(eb, VG_EAGAIN, "%s:%s: the server closed the connection", t->host,
                           t->port);
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return VG_OK;
        return vg_errno(eb, VG_EAGAIN, "%s:%s: connection lost", t->host, t->port);
    }
    return VG_OK; /* a chatty peer: keep going, it has not closed */
}

static vg_err write_all(syslog_tx *t, const char *p, size_t n, int64_t deadline, vg_errbuf *eb)
{
    while (n) {
        short want = POLLOUT;
        if (t->ssl) {
            ERR_clear_error();
            int r = SSL_write(t->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
                vg_counter_add(t->c_bytes, (uint64_t)r);
                continue;
            }
            int se = SSL_get_error(t->ssl, r);
            if (se == SSL_ERROR_WANT_READ)
                want = POLLIN;
            else if (se != SSL_ERROR_WANT_WRITE) {
                char es[256];
                int saved = errno;
                ssl_errstr(es, sizeof es, saved ? strerror(saved) : "connection closed");
                return vg_errf(eb, VG_EAGAIN, "%s:%s: TLS write failed: %s", t->host, t->port, es);
            }
        } else {
            ssize_t r = send(t->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
                vg_counter_add(t->c_bytes, (uint64_t)r);
                continue;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return vg_errno(eb, VG_EAGAIN, "%s:%s: write", t->host, t->port);
        }
        vg_err e = wait_fd(t, want, deadline, -1, "writing", eb);
        if (e)
            return e;
    }
    return VG_OK;
}

/* Wait until the peer's TCP has acknowledged every byte we wrote. */
static vg_err drain(syslog_tx *t, int64_t deadline, vg_errbuf *eb)
{
    int step = 1;
    for (;;) {
        int q = 0;
        if (ioctl(t->fd, SIOCOUTQ, &q) < 0)
            return VG_OK; /* cannot tell (not TCP?): a completed write is all we have */
        if (q == 0)
            return check_peer(t, eb); /* an alert or a close that came with the last ACK */
        vg_err e = wait_fd(t, POLLIN | POLLRDHUP, deadline, step,
                           "waiting for the server's TCP "
                           "acknowledgement",
                           eb);
        if (e)
            return e;
        if ((e = check_peer(t, eb)))
            return e;
        step = step * 2 > DRAIN_STEP_MAX_MS ? DRAIN_STEP_MAX_MS : step * 2;
    }
}

static vg_err syslog_send(void *self, const vg_send_item *items, size_t n, vg_send_status *status,
                          vg_errbuf *eb)
{
    syslog_tx *t = self;
    int64_t deadline = now_ms() + t->timeout_ms;
    vg_err e = VG_OK;
    for (size_t i = 0; i < n; i++)
        status[i] = VG_SEND_RETRY;
    if (woken(t))
        return vg_errf(eb, VG_EAGAIN, "%s:%s: not sent (stopping)", t->host, t->port);
    if (t->fd >= 0 && (e = check_peer(t, eb))) {
        if (e == VG_EPERM)
            goto out;
        vg_log(VG_LOG_INFO, "output '%s': %s; reconnecting", t->name, eb ? eb->msg : "");
        disconnect(t);
    }
    if (t->fd < 0 && (e = do_connect(t, deadline, eb)))
        goto out;

    vg_buf_reset(&t->out);
    for (size_t i = 0; i < n; i++) {
        if (!vg_syslog_frame(&t->out, &t->fmt, items[i].data, items[i].len)) {
            if (t->out.n) { /* the buffer is full: write it and try again */
                if ((e = write_all(t, t->out.p, t->out.n, deadline, eb)))
                    goto out;
                vg_buf_reset(&t->out);
            }
            if (!vg_syslog_frame(&t->out, &t->fmt, items[i].data, items[i].len)) {
                status[i] = VG_SEND_REJECT; /* alone larger than FRAME_MAX */
                vg_counter_add(t->c_too_large, 1);
                continue;
            }
        }
        status[i] = VG_SEND_OK;
        if (t->out.n >= CHUNK) {
            if ((e = write_all(t, t->out.p, t->out.n, deadline, eb)))
                goto out;
            vg_buf_reset(&t->out);
        }
    }
    if (t->out.n && (e = write_all(t, t->out.p, t->out.n, deadline, eb)))
        goto out;
    e = drain(t, deadline, eb);
out:
    vg_buf_reset(&t->out);
    if (t->out.cap > 4 * CHUNK) { /* one huge item: give the memory back */
        vg_buf_free(&t->out);
        vg_buf_init(&t->out, FRAME_MAX);
    }
    if (e) {
        /* A frame may be half written: the stream is unusable. */
        disconnect(t);
        vg_counter_add(t->c_errors, 1);
        for (size_t i = 0; i < n; i++)
            status[i] = VG_SEND_RETRY;
    }
    return e;
}

static void syslog_wake(void *self)
{
    syslog_tx *t = self;
    uint64_t one = 1;
    if (write(t->wake_fd, &one, sizeof one) < 0) {
        /* only EAGAIN (counter saturated): it is readable already */
    }
}

static void syslog_destroy(void *self)
{
    syslog_tx *t = self;
    if (!t)
        return;
    if (t->ssl)
        SSL_shutdown(t->ssl); /* a close_notify, best effort (non-blocking socket) */
    disconnect(t);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    vg_buf_free(&t->out);
    free(t->name);
    free(t->host);
    free(t->port);
    free(t->verify_name);
    free(t->ca_file);
    free(t->app_name);
    free(t);
}


static vg_err tls_setup(syslog_tx *t, const vg_output_conf *c, vg_errbuf *eb)
{
    char es[256];
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx)
        return vg_errf(eb, VG_ENOMEM, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_cert_cb(t->ctx, cert_cb, NULL);
    /* rsyslog closes without a close_notify: report it as a close, not as an error */
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    t->insecure = c->insecure_skip_verify;
    if (c->insecure_skip_verify) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
        vg_log(VG_LOG_WARNING,
               "output '%s': insecure_skip_verify is on: the certificate of %s:%s is NOT "
               "checked, anyone on the path can read and change what is sent",
               t->name, t->host, t->port);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, verify_cb);
    }
    if (c->ca_file) {
        if (SSL_CTX_load_verify_locations(t->ctx, c->ca_file, NULL) != 1)
            return vg_errf(eb, VG_ECONFIG, "ca_file %s: %s", c->ca_file,
                           ssl_errstr(es, sizeof es, "cannot load"));
    } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        return vg_errf(eb, VG_ECONFIG, "the system CA store cannot be loaded: %s",
                       ssl_errstr(es, sizeof es, "?"));
    }
    if (!c->cert_file != !c->key_file)
        return vg_errf(eb, VG_ECONFIG, "cert_file and key_file go together (mutual TLS)");
    t->has_cert = c->cert_file != NULL;
    if (c->cert_file) {
        vg_err e = vg_secret_check_key(c->key_file, eb);
        if (e)
            return e;
        if (SSL_CTX_use_certificate_chain_file(t->ctx, c->cert_file) != 1)
            return vg_errf(eb, VG_ECONFIG, "cert_file %s: %s", c->cert_file,
                           ssl_errstr(es, sizeof es, "cannot load"));
        if (SSL_CTX_use_PrivateKey_file(t->ctx, c->key_file, SSL_FILETYPE_PEM) != 1)
            return vg_errf(eb, VG_ECONFIG, "key_file %s: %s", c->key_file,
                           ssl_errstr(es, sizeof es, "cannot load"));
        if (SSL_CTX_check_private_key(t->ctx) != 1)
            return vg_errf(eb, VG_ECONFIG, "key_file %s does not match cert_file %s", c->key_file,
                           c->cert_file);
    }
    return VG_OK;
}

static vg_err syslog_create(const vg_output_conf *c, vg_stats *st, void **self, vg_errbuf *eb)
{
    vg_err e = VG_OK;
    *self = NULL;
    syslog_tx *t = calloc(1, sizeof *t);
    if (!t)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    t->fd = t->wake_fd = -1;
    vg_buf_init(&t->out, FRAME_MAX);
    t->tls = c->tls;
    t->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000;
    t->name = strdup(c->name ? c->name : "syslog");
    t->app_name = strdup(c->app_name && *c->app_name ? c->app_name : "vigie");
    if (!t->name || !t->app_name) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    if (!c->address || !*c->address) {
        e = vg_errf(eb, VG_ECONFIG, "a syslog output needs 'address' (host:port)");
        goto out;
    }
    if ((e = vg_addr_parse(c->address, t->tls ? 6514 : 514, &t->host, &t->port, eb)))
        goto out;
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): vg_addr_parse set t->host (it returned VG_OK)
    t->verify_name = strdup(c->server_name && *c->server_name ? c->server_name : t->host);
    t->ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
    if (!t->verify_name || (c->ca_file && !t->ca_file)) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    if (t->tls) {
        if ((e = tls_setup(t, c, eb)))
            goto out;
    } else if (c->ca_file || c->cert_file || c->key_file || c->server_name) {
        vg_log(VG_LOG_WARNING,
               "output '%s': ca_file, cert_file, key_file and server_name apply to TLS only; "
               "set tls: true (they are ignored, and messages go in clear text)",
               t->name);
    }
    t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->wake_fd < 0) {
        e = vg_errno(eb, VG_EIO, "eventfd");
        goto out;
    }
    if (gethostname(t->hostname, sizeof t->hostname - 1) < 0)
        t->hostname[0] = '\0';
    t->fmt = (vg_syslog_fmt_opts){.facility = VG_SYSLOG_FACILITY_DEFAULT,
                                  .app_name = t->app_name,
                                  .hostname = t->hostname[0] ? t->hostname : NULL};
    t->c_bytes = vg_stats_counter(st, "output.bytes", "output", t->name);
    t->c_connects = vg_stats_counter(st, "output.connects", "output", t->name);
    t->c_errors = vg_stats_counter(st, "output.errors", "output", t->name);
    t->c_too_large = vg_stats_counter(st, "output.too_large", "output", t->name);
out:
    if (e) {
        vg_err_prefix(eb, "output '%s'", c->name ? c->name : "syslog");
        syslog_destroy(t);
        return e;
    }
    *self = t;
    return VG_OK;
}

const vg_transport_ops vg_transport_syslog = {
    .type = "syslog",
    .create = syslog_create,
    .send = syslog_send,
    .wake = syslog_wake,
    .destroy = syslog_destroy,
};

/*
 * send_relp.c - the `relp` transport: RFC 5424 messages (syslog_fmt.c) over
 * RELP (librelp), plain or TLS, to rsyslog's imrelp; acknowledged delivery.
 *
 * What "delivered" means here. RELP acknowledges every message with an
 * "rsp 200", but librelp 1.11 does not tell its client which ones: a
 * relpCltSendSyslog() that returns OK has only put the frame on the wire
 * (and in librelp's list of unacknowledged frames). The one point where
 * librelp waits for the acknowledgements is the session close: the server
 * answers the "close" command only after it has answered every command
 * before it (one session is processed in order), and the client waits for
 * that answer. So one send() is one RELP session:
 *
 *   connect + open (+ TLS) -> one "syslog" command per item -> close, wait
 *   for the close answer -> every item of the batch is acknowledged.
 *
 * librelp reports every failure on the way (a refused or broken
 * connection, a timeout, an answer other than 200 to any frame, a TLS
 * authentication failure) through its error callbacks, also during the
 * close; any of them makes the whole batch VG_EAGAIN (or VG_EPERM for a
 * certificate problem), and the sender sends it again in a new session. So
 * the receiver may see a message twice (same event.id), never miss one that
 * was reported delivered. A connection per batch costs a TCP (and TLS)
 * handshake per batch_max_events items; cheap next to the batch.
 *
 * Timeouts and wake(). librelp blocks in poll() with timeouts in whole
 * seconds and checks a "shutdown" flag (relpEngineSetShutdownImmdtPtr)
 * after each poll returns. A POSIX timer aimed at the sender thread
 * (SIGEV_THREAD_ID) makes those polls return: it fires when the output's
 * timeout is over, and at once when wake() is called, then every
 * ABORT_TICK_MS until send() returns; its handler sets the flag. The
 * handler is not SA_RESTART: librelp's TLS handshake (GnuTLS) reads from a
 * blocking socket without a timeout, and only EINTR ends that read. The
 * signal is unblocked in the sender thread only and fires only while a
 * send() is being aborted, so it never reaches the pipeline's signalfd nor
 * breaks another system call.
 *
 * Nothing of librelp goes to stdout: its debug printer is a no-op, and its
 * error callbacks write to the batch's error buffer (first error wins) and
 * to the agent's log at debug level.
 */
#include "transport.h"

#ifdef VG_HAVE_RELP

#include <ctype.h>
#include <errno.h>
#include <librelp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "syslog_fmt.h"

#define FRAME_MAX (8u << 20) /* one message; a larger item is rejected (dead-lettered) */
#define ABORT_TICK_MS 20     /* the abort timer fires again this often until send() returns */
#define WINDOW_MAX 100000    /* RELP window: frames in flight */
#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#define SIG_ABORT (SIGRTMIN + 4)

typedef struct relp_tx {
    char *name;
    char *host, *port;
    char *verify_name; /* server_name, else host */
    char *fingerprint; /* accept this certificate fingerprint instead of a name */
    char *ca_file, *cert_file, *key_file;
    bool tls, insecure;
    int64_t timeout_ms;
    relpEngine_t *eng;
    int abort_flag;     /* librelp's shutdown flag: wake() or the timeout (set by the handler) */
    pthread_mutex_t mu; /* stop, in_send, timer */
    bool stop;          /* wake() was called: sticky */
    bool in_send;
    bool timer_ok, timer_tried;
    timer_t timer; /* aimed at the sender thread, created on its first send() */
    /* Errors librelp reported during the current send() (callbacks, sender thread). */
    bool failed, auth_failed;
    relpRetVal auth_code;
    char err[512];
    char hostname[256];
    char *app_name;
    vg_syslog_fmt_opts fmt;
    vg_buf out;
    vg_counter *c_bytes, *c_connects, *c_errors, *c_too_large;
} relp_tx;

/* The transport of the send() running on this thread, for librelp's callbacks. */
static __thread relp_tx *cur_tx;

static void on_abort_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int *flag = si ? si->si_value.sival_ptr : NULL;
    if (flag)
        __atomic_store_n(flag, 1, __ATOMIC_RELAXED);
}

static pthread_once_t sig_once = PTHREAD_ONCE_INIT;
static int sig_install_errno;

static void install_handler(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_abort_signal;
    sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: GnuTLS's blocking handshake recv() must end */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIG_ABORT, &sa, NULL) < 0)
        sig_install_errno = errno;
}

static void record_error(relp_tx *t, bool auth, const char *what, const char *msg, relpRetVal code)
{
    if (!t)
        return;
    if (!t->failed)
        snprintf(t->err, sizeof t->err, "%s: %s (librelp error %d)", what ? what : "relp",
                 msg ? msg : "?", (int)code);
    t->failed = true;
    if (auth || (code >= RELP_RET_AUTH_ERR_FP && code <= RELP_RET_AUTH_CERT_INVL)) {
        if (!t->auth_failed)
            t->auth_code = code;
        t->auth_failed = true;
    }
    vg_log(VG_LOG_DEBUG, "output '%s': librelp: %s: %s (%d)", t->name, what ? what : "",
           msg ? msg : "", (int)code);
}

static void on_err(void *usr, char *objinfo, char *errmsg, relpRetVal code)
{
    (void)usr;
    record_error(cur_tx, false, objinfo, errmsg, code);
}

static void on_auth_err(void *usr, char *authinfo, char *errmsg, relpRetVal code)
{
    (void)usr;
    relp_tx *t = cur_tx;
    if (!t)
        return;
    char what[300];
    snprintf(what, sizeof what, "server certificate%s%s", authinfo && *authinfo ? " " : "",
             authinfo ? authinfo : "");
    record_error(t, true, what, errmsg, code);
}

static void on_generic_err(char *objinfo, char *errmsg, relpRetVal code)
{
    record_error(cur_tx, false, objinfo, errmsg, code);
}

static void dbg_none(char *fmt, ...)
{
    (void)fmt;
}

#ifdef __SANITIZE_ADDRESS__
/*
 * librelp 1.11 leaks, and LeakSanitizer would fail every test run that
 * uses this output: the permitted-peer array of every TLS client (two
 * pointers per batch), and the GnuTLS session of every failed TLS
 * handshake (about 17 KB). They are librelp's, counted in the docs; only
 * allocations made inside librelp and GnuTLS (which only librelp uses) are
 * left out of the report.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    /* GnuTLS is librelp's only: Vigie itself uses OpenSSL */
    return "leak:librelp.so\nleak:libgnutls.so\n";
}

/* And no "Suppressions used" table at exit: a test run counts any output of
   the sanitizers as a report. ASAN_OPTIONS/LSAN_OPTIONS still override it. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}
#endif

static void arm(relp_tx *t, int64_t first_ms)
{
    if (!t->timer_ok)
        return;
    if (first_ms < 1)
        first_ms = 1;
    struct itimerspec its = {
        .it_value = {.tv_sec = first_ms / 1000, .tv_nsec = (first_ms % 1000) * 1000000},
        .it_interval = {.tv_sec = 0, .tv_nsec = ABORT_TICK_MS * 1000000L},
    };
    timer_settime(t->timer, 0, &its, NULL);
}

static void disarm(relp_tx *t)
{
    if (!t->timer_ok)
        return;
    struct itimerspec its = {0};
    timer_settime(t->timer, 0, &its, NULL);
}

/*
 * On the sender thread, once: unblock SIG_ABORT here and aim a timer at this
 * thread. Should that fail (a sandbox that forbids it), sends still work,
 * but a stop or the timeout only takes effect when librelp's own wait ends:
 * said once in the log.
 */
static void timer_setup(relp_tx *t)
{
    if (t->timer_ok || t->timer_tried)
        return;
    t->timer_tried = true;
    pthread_once(&sig_once, install_handler);
    if (sig_install_errno) {
        vg_log(VG_LOG_WARNING,
               "output '%s': sigaction: %s; a stop or a timeout may wait for librelp's own "
               "timeout",
               t->name, strerror(sig_install_errno));
        return;
    }
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIG_ABORT);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIG_ABORT;
    sev.sigev_value.sival_ptr = &t->abort_flag;
#ifdef sigev_notify_thread_id
    sev.sigev_notify_thread_id = gettid();
#else
    sev._sigev_un._tid = gettid();
#endif
    pthread_mutex_lock(&t->mu);
    if (timer_create(CLOCK_MONOTONIC, &sev, &t->timer) == 0)
        t->timer_ok = true;
    int err = errno;
    pthread_mutex_unlock(&t->mu);
    if (!t->timer_ok)
        vg_log(VG_LOG_WARNING,
               "output '%s': timer_create: %s; a stop or a timeout may wait for librelp's own "
               "timeout",
               t->name, strerror(err));
}

/* librelp's error of a failed call, with what the callbacks said. */
static vg_err relp_fail(relp_tx *t, relpRetVal r, const char *doing, vg_errbuf *eb)
{
    bool auth = t->auth_failed || (r >= RELP_RET_AUTH_ERR_FP && r <= RELP_RET_AUTH_CERT_INVL);
    bool woke = __atomic_load_n(&t->abort_flag, __ATOMIC_RELAXED);
    pthread_mutex_lock(&t->mu);
    bool stopping = t->stop;
    pthread_mutex_unlock(&t->mu);
    if (stopping)
        return vg_errf(eb, VG_EAGAIN, "%s:%s: interrupted %s (stopping)", t->host, t->port, doing);
    if (woke)
        return vg_errf(eb, VG_EAGAIN, "%s:%s: timed out %s (timeout %lld ms)", t->host, t->port,
                       doing, (long long)t->timeout_ms);
    if (auth) {
        relpRetVal code = t->auth_failed ? t->auth_code : r;
        char hint[600];
        if (code == RELP_RET_AUTH_ERR_NAME)
            snprintf(hint, sizeof hint,
                     "the server's certificate does not name '%s'; set server_name to a name it "
                     "carries",
                     t->verify_name);
        else if (code == RELP_RET_AUTH_ERR_FP)
            snprintf(hint, sizeof hint, "the server's certificate fingerprint is not %s",
                     t->fingerprint ? t->fingerprint : "the configured one");
        else if (code == RELP_RET_AUTH_NO_CERT)
            snprintf(hint, sizeof hint, "the server sent no certificate");
        else if (t->ca_file)
            snprintf(hint, sizeof hint,
                     "the server's certificate is not signed by a CA of ca_file %s", t->ca_file);
        else
            snprintf(hint, sizeof hint,
                     "the server's certificate is not signed by a CA of the system store; set "
                     "ca_file to the CA that signed it");
        return vg_errf(eb, VG_EPERM, "%s:%s: TLS certificate verify failed: %s (%s)", t->host,
                       t->port, hint, t->err[0] ? t->err : "no detail");
    }
    if (r == RELP_RET_ERR_TLS_HANDS || r == RELP_RET_ERR_TLS_SETUP || r == RELP_RET_ERR_TLS)
        return vg_errf(eb, VG_EPERM, "%s:%s: TLS handshake failed%s (%s)", t->host, t->port,
                       t->cert_file ? ": the server may not accept the client certificate of "
                                      "cert_file, or not speak TLS"
                                    : ": the server may require a client certificate (rsyslog "
                                      "imrelp with tls.authMode): set cert_file and key_file",
                       t->err[0] ? t->err : "no detail");
    return vg_errf(eb, VG_EAGAIN, "%s:%s: %s failed (librelp error %d%s%s)", t->host, t->port,
                   doing, (int)r, t->err[0] ? ": " : "", t->err);
}

static vg_err configure(relp_tx *t, relpClt_t *c, size_t n, vg_errbuf *eb)
{
    unsigned secs = (unsigned)((t->timeout_ms + 999) / 1000);
    int win = n + 2 > WINDOW_MAX ? WINDOW_MAX : (int)n + 2;
    relpRetVal r = relpCltSetTimeout(c, secs);
    if (!r)
        r = relpCltSetConnTimeout(c, (int)secs);
    if (!r)
        r = relpCltSetWindowSize(c, win);
    if (!r && t->tls) {
        r = relpCltEnableTLS(c);
        if (!r)
            r = relpCltSetCACert(c, t->ca_file ? t->ca_file : SYSTEM_CA);
        if (!r && t->cert_file)
            r = relpCltSetOwnCert(c, t->cert_file);
        if (!r && t->key_file)
            r = relpCltSetPrivKey(c, t->key_file);
        if (!r && !t->insecure) {
            r = relpCltSetAuthMode(c, t->fingerprint ? "fingerprint" : "name");
            if (!r)
                r = relpCltAddPermittedPeer(c, t->fingerprint ? t->fingerprint : t->verify_name);
        }
    }
    if (r)
        return relp_fail(t, r, "setting up the session", eb);
    return VG_OK;
}

static vg_err relp_send(void *self, const vg_send_item *items, size_t n, vg_send_status *status,
                        vg_errbuf *eb)
{
    relp_tx *t = self;
    relpClt_t *clt = NULL;
    vg_err e = VG_OK;
    relpRetVal r;
    for (size_t i = 0; i < n; i++)
        status[i] = VG_SEND_RETRY;
    timer_setup(t);
    pthread_mutex_lock(&t->mu);
    bool stopping = t->stop;
    t->in_send = !stopping;
    t->abort_flag = 0;
    if (!stopping)
        arm(t, t->timeout_ms);
    pthread_mutex_unlock(&t->mu);
    if (stopping)
        return vg_errf(eb, VG_EAGAIN, "%s:%s: not sent (stopping)", t->host, t->port);
    cur_tx = t;
    t->failed = t->auth_failed = false;
    t->err[0] = '\0';

    if ((r = relpEngineCltConstruct(t->eng, &clt))) {
        e = vg_errf(eb, VG_ENOMEM, "relpEngineCltConstruct failed (librelp error %d)", (int)r);
        goto out;
    }
    if ((e = configure(t, clt, n, eb)))
        goto out;
    if ((r = relpCltConnect(clt, AF_UNSPEC, (unsigned char *)t->port, (unsigned char *)t->host)) ||
        t->failed) {
        e = relp_fail(t, r, "connecting", eb);
        goto out;
    }
    vg_counter_add(t->c_connects, 1);

    for (size_t i = 0; i < n; i++) {
        vg_buf_reset(&t->out);
        if (!vg_syslog_frame(&t->out, &t->fmt, items[i].data, items[i].len)) {
            status[i] = VG_SEND_REJECT; /* alone larger than FRAME_MAX */
            vg_counter_add(t->c_too_large, 1);
            continue;
        }
        /* The frame is "LEN SP MSG": RELP counts octets itself. */
        const char *sp = memchr(t->out.p, ' ', t->out.n);
        size_t off = sp ? (size_t)(sp - t->out.p) + 1 : 0;
        r = relpCltSendSyslog(clt, (unsigned char *)t->out.p + off, t->out.n - off);
        if (r || t->failed) {
            e = relp_fail(t, r, "sending", eb);
            goto out;
        }
        vg_counter_add(t->c_bytes, t->out.n - off);
    }
    /* The close waits for the answer to every frame sent (see the top). */
    r = relpEngineCltDestruct(t->eng, &clt);
    clt = NULL;
    if (r || t->failed || __atomic_load_n(&t->abort_flag, __ATOMIC_RELAXED)) {
        e = relp_fail(t, r, "waiting for the acknowledgements", eb);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (status[i] == VG_SEND_RETRY)
            status[i] = VG_SEND_OK;
out:
    if (clt)
        relpEngineCltDestruct(t->eng, &clt); /* the abort flag or a broken session keeps it short */
    pthread_mutex_lock(&t->mu);
    t->in_send = false;
    disarm(t);
    pthread_mutex_unlock(&t->mu);
    cur_tx = NULL;
    vg_buf_reset(&t->out);
    if (t->out.cap > 2 * 65536) { /* one huge item: give the memory back */
        vg_buf_free(&t->out);
        vg_buf_init(&t->out, FRAME_MAX);
    }
    if (e) {
        vg_counter_add(t->c_errors, 1);
        for (size_t i = 0; i < n; i++)
            status[i] = VG_SEND_RETRY;
    }
    return e;
}

static void relp_wake(void *self)
{
    relp_tx *t = self;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    __atomic_store_n(&t->abort_flag, 1, __ATOMIC_RELAXED);
    if (t->in_send)
        arm(t, 1);
    pthread_mutex_unlock(&t->mu);
}

static void relp_destroy(void *self)
{
    relp_tx *t = self;
    if (!t)
        return;
    if (t->timer_ok)
        timer_delete(t->timer);
    if (t->eng)
        relpEngineDestruct(&t->eng);
    pthread_mutex_destroy(&t->mu);
    vg_buf_free(&t->out);
    free(t->name);
    free(t->host);
    free(t->port);
    free(t->verify_name);
    free(t->fingerprint);
    free(t->ca_file);
    free(t->cert_file);
    free(t->key_file);
    free(t->app_name);
    free(t);
}


static vg_err readable(const char *opt, const char *path, vg_errbuf *eb)
{
    if (access(path, R_OK) < 0)
        return vg_errno(eb, VG_ECONFIG, "%s %s", opt, path);
    return VG_OK;
}

/* "SHA1:" then 20 hex pairs separated by ':', what librelp's GnuTLS
   backend compares (`openssl x509 -noout -fingerprint -sha1`, with "SHA1:"
   for "SHA1 Fingerprint="). */
static bool valid_fingerprint(const char *f)
{
    if (strncasecmp(f, "SHA1:", 5) || strlen(f + 5) != 20 * 3 - 1)
        return false;
    for (size_t i = 0; f[5 + i]; i++)
        if (i % 3 == 2 ? f[5 + i] != ':' : !strchr("0123456789abcdefABCDEF", f[5 + i]))
            return false;
    return true;
}

static vg_err tls_check(relp_tx *t, const vg_output_conf *c, vg_errbuf *eb)
{
    vg_err e;
    if (!c->cert_file != !c->key_file)
        return vg_errf(eb, VG_ECONFIG, "cert_file and key_file go together (mutual TLS)");
    if (c->ca_file && (e = readable("ca_file", c->ca_file, eb)))
        return e;
    if (!c->ca_file && access(SYSTEM_CA, R_OK) < 0 && !c->insecure_skip_verify)
        return vg_errf(eb, VG_ECONFIG, "no ca_file and no system CA bundle (%s): set ca_file",
                       SYSTEM_CA);
    if (c->cert_file) {
        if ((e = readable("cert_file", c->cert_file, eb)) ||
            (e = readable("key_file", c->key_file, eb)) ||
            (e = vg_secret_check_key(c->key_file, eb)))
            return e;
    }
    if (c->fingerprint && !valid_fingerprint(c->fingerprint))
        return vg_errf(eb, VG_ECONFIG,
                       "fingerprint '%s': expected SHA1: and 20 hex pairs separated by ':' "
                       "(openssl x509 -noout -fingerprint -sha1)",
                       c->fingerprint);
    for (char *p = t->fingerprint; p && *p; p++) /* librelp compares upper case */
        *p = (char)toupper((unsigned char)*p);
    t->insecure = c->insecure_skip_verify;
    if (t->insecure)
        vg_log(VG_LOG_WARNING,
               "output '%s': insecure_skip_verify is on: the certificate of %s:%s is NOT "
               "checked, anyone on the path can read and change what is sent",
               t->name, t->host, t->port);
    return VG_OK;
}

static char *dup_opt(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static vg_err relp_create(const vg_output_conf *c, vg_stats *st, void **self, vg_errbuf *eb)
{
    vg_err e = VG_OK;
    *self = NULL;
    relp_tx *t = calloc(1, sizeof *t);
    if (!t)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    pthread_mutex_init(&t->mu, NULL);
    vg_buf_init(&t->out, FRAME_MAX);
    t->tls = c->tls;
    t->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000;
    bool oom = false;
    t->name = dup_opt(c->name ? c->name : "relp", &oom);
    t->app_name = dup_opt(c->app_name && *c->app_name ? c->app_name : "vigie", &oom);
    if (oom) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    if (!c->address || !*c->address) {
        e = vg_errf(eb, VG_ECONFIG, "a relp output needs 'address' (host:port)");
        goto out;
    }
    if ((e = vg_addr_parse(c->address, 20514, &t->host, &t->port, eb)))
        goto out;
    t->verify_name = dup_opt(c->server_name && *c->server_name ? c->server_name : t->host, &oom);
    if (t->tls) {
        t->ca_file = dup_opt(c->ca_file, &oom);
        t->cert_file = dup_opt(c->cert_file, &oom);
        t->key_file = dup_opt(c->key_file, &oom);
        t->fingerprint = dup_opt(c->fingerprint, &oom);
        if (!oom && (e = tls_check(t, c, eb)))
            goto out;
    } else if (c->ca_file || c->cert_file || c->key_file || c->server_name || c->fingerprint) {
        vg_log(VG_LOG_WARNING,
               "output '%s': ca_file, cert_file, key_file, server_name and fingerprint apply "
               "to TLS only; set tls: true (they are ignored, and messages go in clear text)",
               t->name);
    }
    if (oom) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    relpRetVal r = relpEngineConstruct(&t->eng);
    if (!r)
        r = relpEngineSetDbgprint(t->eng, dbg_none);
    if (!r)
        r = relpEngineSetOnErr(t->eng, on_err);
    if (!r)
        r = relpEngineSetOnAuthErr(t->eng, on_auth_err);
    if (!r)
        r = relpEngineSetOnGenericErr(t->eng, on_generic_err);
    if (!r)
        r = relpEngineSetEnableCmd(t->eng, (unsigned char *)"syslog", eRelpCmdState_Required);
    if (r) {
        e = vg_errf(eb, VG_EIO, "librelp engine setup failed (librelp error %d)", (int)r);
        goto out;
    }
    relpEngineSetShutdownImmdtPtr(t->eng, &t->abort_flag);
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
        vg_err_prefix(eb, "output '%s'", c->name ? c->name : "relp");
        relp_destroy(t);
        return e;
    }
    *self = t;
    return VG_OK;
}

#else /* !VG_HAVE_RELP */

static vg_err relp_create(const vg_output_conf *c, vg_stats *st, void **self, vg_errbuf *eb)
{
    *self = NULL;
    return vg_errf(eb, VG_ECONFIG,
                   "output '%s': this vigie was built without librelp, so the relp output is "
                   "not available (rebuild with librelp-dev installed, or use type: syslog)",
                   c->name ? c->name : "relp");
}

static vg_err relp_send(void *self, const vg_send_item *items, size_t n, vg_send_status *status,
                        vg_errbuf *eb)
{
    for (size_t i = 0; i < n; i++)
        status[i] = VG_SEND_RETRY;
    return vg_errf(eb, VG_EAGAIN, "relp output not built");
}

static void relp_wake(void *self) {}
static void relp_destroy(void *self) {}

#endif

const vg_transport_ops vg_transport_relp = {
    .type = "relp",
    .create = relp_create,
    .send = relp_send,
    .wake = relp_wake,
    .destroy = relp_destroy,
};

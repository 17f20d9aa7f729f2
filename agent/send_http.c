/*
 * send_http.c - the `http` transport: batches POSTed with libcurl, formatted
 * by a preset (http_format.c).
 *
 * One output = one CURLM multi handle and one easy handle, reused for every
 * request, so the connection stays open between batches (keep-alive, and
 * HTTP/2 when the server offers it over TLS). send() drives the transfer
 * with curl_multi_poll, which wake() can interrupt from another thread with
 * curl_multi_wakeup: a stopping agent never waits for a slow collector.
 *
 * Secrets (token, password, client key) are read from files at create, the
 * files refused if other users can read them (secret.c). The token lives in
 * a request header list that is wiped at destroy; nothing secret is logged.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http_format.h"
#include "reckeys.h"
#include "log.h"
#include "secret.h"
#include "transport.h"

#ifndef VG_VERSION
#define VG_VERSION "0"
#endif

#define ANSWER_MAX ((size_t)64 << 20) /* an ES _bulk answer for a big batch */
#define SECRET_MAX 4096
#define GZIP_LEVEL 1 /* ~3x less CPU than 6 for ~10% more bytes on the wire */
#define GZIP_LEVEL_EVENTS 9 /* raw-event batches: bytes on the wire matter more */

typedef struct http_out {
    vg_http_preset preset;
    char name[64];   /* output name, for messages */
    char where[300]; /* scheme://host:port, for messages (no credentials) */
    char *post_url, *ack_url, *index;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdr;       /* for batches (Content-Encoding when compressing) */
    struct curl_slist *hdr_plain; /* for Splunk /ack polls */
    char curl_err[CURL_ERROR_SIZE];
    vg_buf body, gz, answer;
    vg_gzip gzip; /* its compressor, kept */
    bool compress;
    long timeout_ms;
    char channel[37]; /* X-Splunk-Request-Channel */
    _Atomic bool woken;
    vg_counter local[4];
    vg_counter *c_requests, *c_wire, *c_body, *c_failures;
} http_out;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wipe_slist(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static size_t on_answer(char *p, size_t size, size_t nmemb, void *ud)
{
    http_out *h = ud;
    size_t n = size * nmemb;
    return vg_buf_append(&h->answer, p, n) ? n : 0; /* 0 aborts: answer too large */
}

/* A random UUID v4 for the Splunk channel. */
static void make_uuid(char out[37])
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t k = getrandom(r + got, sizeof r - got, 0);
        if (k <= 0) { /* no entropy source: time and pid are enough for a channel id */
            uint64_t x = (uint64_t)realtime_ns() ^ ((uint64_t)getpid() << 32);
            for (size_t i = got; i < sizeof r; i++, x = x * 6364136223846793005ULL + 1)
                r[i] = (unsigned char)(x >> 56);
            break;
        }
        got += (size_t)k;
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static bool header_ok(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

/* Build one header list; gzip adds Content-Encoding. */
static vg_err build_headers(http_out *h, const vg_output_conf *c, const char *token, bool gzip,
                            struct curl_slist **out, vg_errbuf *eb)
{
    static const char *const ctype[] = {[VG_HTTP_WEBHOOK] = "application/x-ndjson",
                                        [VG_HTTP_CLICKHOUSE] = "text/plain",
                                        [VG_HTTP_ELASTICSEARCH] = "application/x-ndjson",
                                        [VG_HTTP_SPLUNK_HEC] = "application/json",
                                        [VG_HTTP_LOKI] = "application/json"};
    struct curl_slist *l = NULL, *t;
    char line[SECRET_MAX + 64];
    vg_err e = VG_OK;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        snprintf(line, sizeof line, __VA_ARGS__);                                                  \
        if (!(t = curl_slist_append(l, line))) {                                                   \
            e = vg_errf(eb, VG_ENOMEM, "out of memory");                                           \
            goto out;                                                                              \
        }                                                                                          \
        l = t;                                                                                     \
    } while (0)
    ADD("Content-Type: %s", ctype[h->preset]);
    ADD("Expect:"); /* no 100-continue round trip */
    ADD("User-Agent: vigie/%s", VG_VERSION);
    if (gzip)
        ADD("Content-Encoding: gzip");
    if (token)
        ADD("Authorization: %s %s", h->preset == VG_HTTP_SPLUNK_HEC ? "Splunk" : "Bearer", token);
    if (h->preset == VG_HTTP_SPLUNK_HEC)
        ADD("X-Splunk-Request-Channel: %s", h->channel);
    for (size_t i = 0; i < c->nheaders; i++) {
        const vg_kv *kv = &c->headers[i];
        const char *v = kv->values.n ? kv->values.v[0] : "";
        if (!header_ok(kv->key) || !*kv->key || strchr(kv->key, ':') || !header_ok(v)) {
            e = vg_errf(eb, VG_ECONFIG,
                        "headers: \"%s\": a header name or value holds a line "
                        "break or ':'",
                        kv->key ? kv->key : "");
            goto out;
        }
        ADD("%s: %s", kv->key, v);
    }
#undef ADD
out:
    explicit_bzero(line, sizeof line);
    if (e) {
        wipe_slist(l);
        l = NULL;
    }
    *out = l;
    return e;
}

/* The file of an option must exist and be readable. */
static vg_err check_readable(const char *opt, const char *path, vg_errbuf *eb)
{
    if (access(path, R_OK) < 0)
        return vg_errno(eb, VG_ECONFIG, "%s: %s", opt, path);
    return VG_OK;
}

static void http_destroy(void *self);

static vg_err http_create(const vg_output_conf *c, vg_stats *st, void **selfp, vg_errbuf *eb)
{
    vg_err e = VG_OK;
    char token[SECRET_MAX], password[SECRET_MAX];
    token[0] = password[0] = '\0';
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    *selfp = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return vg_errf(eb, VG_EIO, "libcurl initialisation failed: %s",
                       curl_easy_strerror(curl_init_rc));
    http_out *h = calloc(1, sizeof *h);
    if (!h)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    snprintf(h->name, sizeof h->name, "%s", c->name ? c->name : "http");
    vg_buf_init(&h->body, (size_t)(c->batch_max_bytes > 0 ? c->batch_max_bytes : 4 << 20) * 8 +
                              ((size_t)1 << 20));
    vg_buf_init(&h->gz, h->body.max + 4096);
    vg_buf_init(&h->answer, ANSWER_MAX);
    h->compress = c->compress;
    h->timeout_ms = c->timeout_ms > 0 ? (long)c->timeout_ms : 30000;
    atomic_init(&h->woken, false);

    if ((e = vg_http_preset_parse(c->preset, &h->preset, eb)))
        goto out;
    if (!c->url || !*c->url) {
        e = vg_errf(eb, VG_ECONFIG, "url: required for http outputs");
        goto out;
    }
    u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        e = vg_errf(eb, VG_ECONFIG, "url: \"%s\" is not a valid URL", c->url);
        goto out;
    }
    if (strcmp(scheme, "https") && strcmp(scheme, "http")) {
        e = vg_errf(eb, VG_ECONFIG, "url: scheme \"%s\" (expected https:// or http://)", scheme);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    snprintf(h->where, sizeof h->where, "%s://%s:%s", scheme, host, port ? port : "?");
    if ((e = vg_http_post_url(h->preset, c->url, c->table, &h->post_url, eb)))
        goto out;
    if (h->preset == VG_HTTP_SPLUNK_HEC &&
        !(h->ack_url = vg_http_url_join(c->url, "services/collector/ack"))) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    if (!(h->index = strdup(c->index ? c->index : "vigie-alerts"))) {
        e = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    make_uuid(h->channel);

    /* Files and secrets. */
    if (c->token_file && (e = vg_secret_read(c->token_file, token, sizeof token, eb))) {
        vg_err_prefix(eb, "token_file");
        goto out;
    }
    if (c->password_file && (e = vg_secret_read(c->password_file, password, sizeof password, eb))) {
        vg_err_prefix(eb, "password_file");
        goto out;
    }
    if (c->ca_file && (e = check_readable("ca_file", c->ca_file, eb)))
        goto out;
    if (c->cert_file && (e = check_readable("cert_file", c->cert_file, eb)))
        goto out;
    if (c->key_file && !c->cert_file) {
        e = vg_errf(eb, VG_ECONFIG, "key_file: set without cert_file");
        goto out;
    }
    /* Without key_file the key is inside cert_file: same rule for it. */
    const char *key = c->key_file ? c->key_file : c->cert_file;
    if (key && (e = vg_secret_check_key(key, eb))) {
        vg_err_prefix(eb, "%s", c->key_file ? "key_file" : "cert_file (holds the key)");
        goto out;
    }
    if (!header_ok(token) || !header_ok(password)) {
        e = vg_errf(eb, VG_ECONFIG, "token_file: the token holds a line break");
        goto out;
    }

    if ((e = build_headers(h, c, token[0] ? token : NULL, h->compress, &h->hdr, eb)) ||
        (e = build_headers(h, c, token[0] ? token : NULL, false, &h->hdr_plain, eb)))
        goto out;

    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    if (!h->multi || !h->easy) {
        e = vg_errf(eb, VG_ENOMEM, "libcurl: cannot create handles");
        goto out;
    }
    CURL *x = h->easy;
    curl_easy_setopt(x, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x, CURLOPT_ERRORBUFFER, h->curl_err);
    curl_easy_setopt(x, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(x, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(x, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(x, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(x, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(x, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(x, CURLOPT_SSL_VERIFYPEER, c->insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(x, CURLOPT_SSL_VERIFYHOST, c->insecure_skip_verify ? 0L : 2L);
    if (c->ca_file)
        curl_easy_setopt(x, CURLOPT_CAINFO, c->ca_file);
    if (c->cert_file)
        curl_easy_setopt(x, CURLOPT_SSLCERT, c->cert_file);
    if (c->key_file)
        curl_easy_setopt(x, CURLOPT_SSLKEY, c->key_file);
    /* proxy: "" disables the environment's proxies; unset leaves libcurl's
       default (http_proxy/https_proxy/no_proxy of the environment). */
    if (c->proxy)
        curl_easy_setopt(x, CURLOPT_PROXY, c->proxy);
    if (c->user) {
        curl_easy_setopt(x, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(x, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(x, CURLOPT_PASSWORD, password); /* libcurl keeps its own copy */
    }
    curl_easy_setopt(x, CURLOPT_POST, 1L);

    if (c->insecure_skip_verify)
        vg_log(VG_LOG_WARNING,
               "output %s: insecure_skip_verify is on: the certificate of %s is NOT verified, "
               "anyone on the path can read and change what is sent",
               h->name, h->where);
    if (st) {
        h->c_requests = vg_stats_counter(st, "http.requests", "output", h->name);
        h->c_wire = vg_stats_counter(st, "http.wire_bytes", "output", h->name);
        h->c_body = vg_stats_counter(st, "http.body_bytes", "output", h->name);
        h->c_failures = vg_stats_counter(st, "http.failures", "output", h->name);
    } else {
        h->c_requests = &h->local[0];
        h->c_wire = &h->local[1];
        h->c_body = &h->local[2];
        h->c_failures = &h->local[3];
    }
out:
    explicit_bzero(token, sizeof token);
    explicit_bzero(password, sizeof password);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    if (e) {
        vg_err_prefix(eb, "output %s", h->name);
        http_destroy(h);
    } else {
        *selfp = h;
    }
    return e;
}

/* libcurl failures that are about trust, not about the network. */
static bool tls_trust_error(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
           rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_ISSUER_ERROR ||
           rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_SSL_CRL_BADFILE;
}

/* Wait up to ms for a wake(); true when woken. */
static bool wait_woken(http_out *h, int ms)
{
    int64_t end = now_ms() + ms;
    for (;;) {
        if (atomic_exchange(&h->woken, false))
            return true;
        int64_t left = end - now_ms();
        if (left <= 0)
            return false;
        curl_multi_poll(h->multi, NULL, 0, (int)left, NULL);
    }
}

/*
 * One POST of body[0..len) to url; *code = the HTTP status. VG_EAGAIN on a
 * network failure or wake(), VG_EPERM when TLS trust fails.
 */
static vg_err perform(http_out *h, const char *url, struct curl_slist *hdr, const char *body,
                      size_t len, long *code, vg_errbuf *eb)
{
    vg_err e = VG_OK;
    CURL *x = h->easy;
    *code = 0;
    vg_buf_reset(&h->answer);
    h->curl_err[0] = '\0';
    curl_easy_setopt(x, CURLOPT_URL, url);
    curl_easy_setopt(x, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(x, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(x, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (curl_multi_add_handle(h->multi, x) != CURLM_OK)
        return vg_errf(eb, VG_EAGAIN, "%s: libcurl refused the transfer", h->where);
    vg_counter_add(h->c_requests, 1);
    CURLcode rc = CURLE_OK;
    bool done = false;
    while (!done) {
        if (atomic_exchange(&h->woken, false)) {
            e = vg_errf(eb, VG_EAGAIN, "%s: interrupted (stopping)", h->where);
            goto out;
        }
        int running = 0;
        CURLMcode mc = curl_multi_perform(h->multi, &running);
        if (mc != CURLM_OK) {
            e = vg_errf(eb, VG_EAGAIN, "%s: %s", h->where, curl_multi_strerror(mc));
            goto out;
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(h->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == x) {
                rc = m->data.result;
                done = true;
            }
        if (!done)
            curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
    }
    if (rc == CURLE_OK) {
        curl_easy_getinfo(x, CURLINFO_RESPONSE_CODE, code);
        vg_counter_add(h->c_wire, len);
    } else if (tls_trust_error(rc) ||
               (strstr(h->curl_err, "alert") && strstr(h->curl_err, "certificate"))) {
        /* The second case: the server's TLS alert refusing our certificate
           (TLS 1.3 reports it on the first read, not in the handshake). */
        e = vg_errf(eb, VG_EPERM,
                    "%s: TLS: the collector's certificate is not trusted or ours is refused "
                    "(check ca_file, cert_file, key_file): %s",
                    h->where, h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc));
    } else if (rc == CURLE_WRITE_ERROR && h->answer.overflow) {
        e = vg_errf(eb, VG_EAGAIN, "%s: answer larger than %zu bytes", h->where, h->answer.max);
    } else {
        e = vg_errf(eb, VG_EAGAIN, "%s: %s", h->where,
                    h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc));
    }
out:
    curl_multi_remove_handle(h->multi, x);
    return e;
}

/* Splunk indexer acknowledgement: poll /ack until acked or the timeout. */
static vg_err hec_wait_ack(http_out *h, long long id, vg_errbuf *eb)
{
    char body[64];
    int n = snprintf(body, sizeof body, "{\"acks\":[%lld]}", id);
    int64_t deadline = now_ms() + h->timeout_ms;
    int interval = 100;
    for (;;) {
        long code;
        bool reject;
        vg_err e = perform(h, h->ack_url, h->hdr_plain, body, (size_t)n, &code, eb);
        if (!e)
            e = vg_http_classify(h->preset, code, h->answer.p, h->answer.n, 1, &reject, eb);
        if (e)
            return e;
        if (vg_http_hec_acked(h->answer.p, h->answer.n, id))
            return VG_OK;
        if (now_ms() + interval > deadline)
            return vg_errf(eb, VG_EAGAIN, "%s: splunk did not acknowledge ackId %lld within %ld ms",
                           h->where, id, h->timeout_ms);
        if (wait_woken(h, interval))
            return vg_errf(eb, VG_EAGAIN, "%s: interrupted (stopping)", h->where);
        if (interval < 1000)
            interval *= 2;
    }
}

static vg_err http_send(void *self, const vg_send_item *items, size_t n, vg_send_status *status,
                        vg_errbuf *eb)
{
    http_out *h = self;
    size_t nsent = 0;
    if (!n)
        return VG_OK;
    vg_http_fmt f = {.preset = h->preset, .index = h->index, .now_ns = realtime_ns()};
    vg_err e = vg_http_body(&f, items, n, status, &nsent, &h->body, eb);
    if (e == VG_ELIMIT && n == 1) {
        status[0] = VG_SEND_REJECT; /* one item larger than any request may be */
        vg_errf(eb, VG_OK, "item of %zu bytes: request body over the limit", items[0].len);
        return VG_OK;
    }
    if (e || !nsent)
        return e;
    const char *payload = h->body.p;
    size_t len = h->body.n;
    vg_counter_add(h->c_body, len);
    if (h->compress) {
        /* Alerts: level 1 (CPU first; they are few and already small).
           A batch of forwarded raw events only: level 9, because bandwidth
           is what raw-event forwarding costs (5.5x -> 8x+ on the loghub
           samples, tests/bench/delivery.sh). */
        bool events_only = true;
        for (size_t i = 0; i < n && events_only; i++)
            events_only = items[i].keys && items[i].keys->len[VG_RK_KIND] == 7 &&
                          !memcmp(items[i].data + items[i].keys->off[VG_RK_KIND], "\"event\"", 7);
        if ((e = vg_http_gzip(&h->gzip, h->body.p, h->body.n, events_only ? GZIP_LEVEL_EVENTS : GZIP_LEVEL,
                              &h->gz, eb)))
            return e;
        payload = h->gz.p;
        len = h->gz.n;
    }
    long code;
    bool reject_all;
    if ((e = perform(h, h->post_url, h->hdr, payload, len, &code, eb)) ||
        (e = vg_http_classify(h->preset, code, h->answer.p, h->answer.n, nsent, &reject_all, eb)))
        goto out;
    if (reject_all) {
        for (size_t i = 0; i < n; i++)
            status[i] = VG_SEND_REJECT;
        goto out;
    }
    if (h->preset == VG_HTTP_ELASTICSEARCH) {
        vg_errbuf es = {0};
        if (vg_http_es_items(h->answer.p, h->answer.n, status, n, &es)) {
            e = vg_errf(eb, VG_EAGAIN, "%s: %s", h->where, es.msg);
            goto out;
        }
        if (es.msg[0])
            vg_errf(eb, VG_OK, "%s: %s", h->where, es.msg);
    }
    long long ack;
    if (h->preset == VG_HTTP_SPLUNK_HEC && !vg_http_hec_ackid(h->answer.p, h->answer.n, &ack))
        e = hec_wait_ack(h, ack, eb);
out:
    if (e)
        vg_counter_add(h->c_failures, 1);
    return e;
}

static void http_wake(void *self)
{
    http_out *h = self;
    if (!h)
        return;
    atomic_store(&h->woken, true);
    if (h->multi)
        curl_multi_wakeup(h->multi);
}

static void http_destroy(void *self)
{
    http_out *h = self;
    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    wipe_slist(h->hdr);
    wipe_slist(h->hdr_plain);
    vg_buf_free(&h->body);
    vg_buf_free(&h->gz);
    vg_gzip_free(&h->gzip);
    vg_buf_free(&h->answer);
    free(h->post_url);
    free(h->ack_url);
    free(h->index);
    free(h);
}

const vg_transport_ops vg_transport_http = {
    .type = "http",
    .create = http_create,
    .send = http_send,
    .wake = http_wake,
    .destroy = http_destroy,
};

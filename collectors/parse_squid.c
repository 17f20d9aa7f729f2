/*
 * parse_squid.c - squid's access.log into the SigmaHQ proxy field names
 * (taxonomy `category: proxy`, W3C extended names), plus the webserver names
 * parse_access.c uses, so both rule families see the same request.
 *
 * Native format (logformat squid, the default):
 *   time elapsed remotehost code/status bytes method URL rfc931 peerstatus/peerhost type
 *   ["referer" "user-agent"]   (the common "squid + headers" custom format)
 * e.g. "1700000000.123    145 10.1.2.3 TCP_MISS/200 5120 GET http://h/a?b=1 -
 *        HIER_DIRECT/1.2.3.4 text/html"
 *
 *   time        ts_ns (epoch seconds, fraction to ns)
 *   elapsed     time-taken (ms, as the webserver taxonomy says)
 *   remotehost  c-ip and src_ip (proxy taxonomy)
 *   code        x-squid-code (TCP_MISS, TCP_DENIED...; no Sigma name)
 *   status      sc-status
 *   bytes       sc-bytes (bytes sent to the client: W3C and the webserver
 *               taxonomy; the proxy appendix swaps cs-/sc-bytes by mistake)
 *   method      cs-method
 *   URL         c-uri and cs-uri: the URL as logged (absolute for a forward
 *               proxy, host:port for CONNECT). SigmaHQ proxy rules match hosts
 *               in them (`c-uri|contains: '.pastebin.com/raw/'`,
 *               `cs-uri|re: 'ipfs\.io/...'`), so they stay whole.
 *     host      cs-host and r-dns (without userinfo, port or [ ])
 *     path      cs-uri-stem and c-uri-stem (before '?')
 *     path?q    cs-uri-query: origin-form target, as parse_access.c sets it
 *               (webserver rules match paths in it)
 *     q         c-uri-query (after '?', like parse_access.c)
 *     .ext      c-uri-extension (last path segment's extension, no dot)
 *   rfc931      cs-username unless "-"
 *   peerstatus  x-squid-hierarchy (HIER_DIRECT, ...)
 *   peerhost    x-squid-peer; also dst_ip when it is an IP literal
 *   type        sc-content-type unless "-" (the reply's Content-Type)
 *   referer     cs-referer and cs-referrer (proxy spelling) unless "-"
 *   user-agent  cs-user-agent and c-useragent unless "-"; "" stays an empty
 *               value (proxy_ua_empty looks for it)
 *
 * Native squid lines carry no user agent: the UA rules need the header
 * format above or `logformat combined`. A line that does not start with an
 * epoch time is handed to the access parser (squid's "combined" is Apache
 * combined plus " TCP_MISS:HIER_DIRECT"), then given the proxy names above.
 * All values point into raw: no allocation. Fields are separated by one or
 * more spaces; the URL is one token (squid strips or encodes whitespace by
 * default). A line without time, elapsed, client, code/status, bytes,
 * method and URL keeps message = raw and gets VG_EV_PARSE_FAILED.
 */
#include "parser.h"

#include <string.h>

#define TOKEN_MAX 256 /* bound of every token but the URL and the quoted headers */

static inline bool dig(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(vg_str t)
{
    if (!t.n)
        return false;
    for (size_t i = 0; i < t.n; i++)
        if (!dig(t.p[i]))
            return false;
    return true;
}

/* Skip spaces, then the next token up to a space or the end; NULL at the end. */
static const char *token(const char *p, const char *e, vg_str *out)
{
    while (p < e && *p == ' ')
        p++;
    const char *s = p;
    while (p < e && *p != ' ')
        p++;
    if (p == s)
        return NULL;
    *out = (vg_str){s, (size_t)(p - s)};
    return p;
}

static void set(vg_event *ev, const char *name, size_t nlen, const char *p, const char *e)
{
    vg_event_set(ev, (vg_str){name, nlen}, (vg_str){p, (size_t)(e - p)});
}
#define SET(ev, lit, p, e) set((ev), (lit), sizeof(lit) - 1, (p), (e))

static bool is_dash(vg_str t)
{
    return t.n == 1 && t.p[0] == '-';
}

/* "1700000000.123" -> ns; false unless digits[.digits] within int64 range. */
static bool parse_epoch(vg_str t, int64_t *ts)
{
    size_t i = 0;
    int64_t sec = 0, frac = 0, scale = 1000000000LL;
    for (; i < t.n && dig(t.p[i]); i++) {
        if (i >= 10)
            return false;
        sec = sec * 10 + (t.p[i] - '0');
    }
    if (i == 0 || sec > 9223372035LL)
        return false;
    if (i < t.n) {
        if (t.p[i++] != '.')
            return false;
        for (; i < t.n; i++) {
            if (!dig(t.p[i]))
                return false;
            if (scale > 1) {
                scale /= 10;
                frac += (t.p[i] - '0') * scale;
            }
        }
    }
    *ts = sec * 1000000000LL + frac;
    return true;
}

/* Digits, dots, hex and colons only, with a dot or a colon: an IPv4/IPv6 literal. */
static bool ip_literal(vg_str t)
{
    bool sep = false;
    if (!t.n || t.n > 45)
        return false;
    for (size_t i = 0; i < t.n; i++) {
        char c = t.p[i];
        if (c == '.' || c == ':')
            sep = true;
        else if (!dig(c) && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return sep;
}

/* Host of an authority "user@host:port" / "[v6]:port" into cs-host and r-dns. */
static void set_host(vg_event *ev, const char *a, const char *ae)
{
    for (const char *q = ae; q > a; q--)
        if (q[-1] == '@') {
            a = q;
            break;
        }
    const char *he;
    if (a < ae && *a == '[') {
        a++;
        he = memchr(a, ']', (size_t)(ae - a));
        if (!he)
            he = ae;
    } else {
        he = memchr(a, ':', (size_t)(ae - a));
        if (!he)
            he = ae;
    }
    if (he > a) {
        SET(ev, "cs-host", a, he);
        SET(ev, "r-dns", a, he);
    }
}

/* Path and query of an origin-form target t[0..te) (starts with '/'). */
static void set_target(vg_event *ev, const char *t, const char *te)
{
    if (te <= t)
        return;
    const char *qm = memchr(t, '?', (size_t)(te - t));
    const char *se = qm ? qm : te;
    SET(ev, "cs-uri-query", t, te);
    SET(ev, "cs-uri-stem", t, se);
    SET(ev, "c-uri-stem", t, se);
    if (qm && te > qm + 1)
        SET(ev, "c-uri-query", qm + 1, te);
    /* Extension of the last segment: "a/b.tar.gz" -> "gz"; none for "a/b" or "a/b.". */
    const char *seg = se;
    while (seg > t && seg[-1] != '/')
        seg--;
    for (const char *q = se; q > seg; q--)
        if (q[-1] == '.') {
            if (q < se && se - q <= 16)
                SET(ev, "c-uri-extension", q, se);
            break;
        }
}

/* c-uri, cs-uri and the URL's parts. */
static void set_url(vg_event *ev, vg_str u)
{
    const char *p = u.p, *e = u.p + u.n;
    SET(ev, "c-uri", p, e);
    SET(ev, "cs-uri", p, e);
    if (p < e && *p == '/') { /* origin-form (accelerator / intercept logs) */
        set_target(ev, p, e);
        return;
    }
    /* scheme "://" */
    const char *q = p;
    while (q < e && q - p < 32 &&
           ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || dig(*q) || *q == '+' ||
            *q == '-' || *q == '.'))
        q++;
    if (q > p && e - q >= 3 && memcmp(q, "://", 3) == 0) {
        const char *a = q + 3, *ae = a;
        while (ae < e && *ae != '/' && *ae != '?' && *ae != '#')
            ae++;
        set_host(ev, a, ae);
        if (ae < e && *ae == '/')
            set_target(ev, ae, e);
        else if (ae < e && *ae == '?') { /* "http://h?q": the target is "/?q" for a server */
            SET(ev, "c-uri-query", ae + 1, e);
        }
        return;
    }
    /* authority-form "host:port" (CONNECT); not "error:invalid-request" */
    const char *c = e;
    while (c > p && dig(c[-1]) && e - c <= 5)
        c--;
    if (c < e && c > p + 1 && c[-1] == ':' && !memchr(p, '/', u.n))
        set_host(ev, p, e);
}

/* ` "referer" "user-agent"` after p, as in parse_access.c (escape-aware closing quote). */
static const char *quoted(const char *p, const char *e, vg_str *out)
{
    if (e - p < 2 || p[0] != ' ' || p[1] != '"')
        return NULL;
    const char *s = p + 2;
    for (const char *q = s; q < e; q++) {
        if (*q == '\\') {
            q++;
            continue;
        }
        if (*q == '"' && (q + 1 == e || q[1] == ' ')) {
            *out = (vg_str){s, (size_t)(q - s)};
            return q + 1;
        }
    }
    return NULL;
}

static void set_headers(vg_event *ev, const char *p, const char *e)
{
    vg_str ref, ua;
    if (!(p = quoted(p, e, &ref)))
        return;
    if (ref.n && !is_dash(ref)) {
        SET(ev, "cs-referer", ref.p, ref.p + ref.n);
        SET(ev, "cs-referrer", ref.p, ref.p + ref.n);
    }
    if (!quoted(p, e, &ua))
        return;
    if (!is_dash(ua)) {
        SET(ev, "cs-user-agent", ua.p, ua.p + ua.n);
        SET(ev, "c-useragent", ua.p, ua.p + ua.n);
    }
}

/* The "code/status" or "peerstatus/peerhost" pair split at '/'. */
static bool split(vg_str t, char sep, vg_str *a, vg_str *b)
{
    const char *s = memchr(t.p, sep, t.n);
    if (!s || s == t.p)
        return false;
    *a = (vg_str){t.p, (size_t)(s - t.p)};
    *b = (vg_str){s + 1, (size_t)(t.p + t.n - (s + 1))};
    return true;
}

/* Squid's "combined": the access parser, then the proxy names. */
static void parse_combined(const vg_parse_ctx *ctx, vg_event *ev, const char *e)
{
    vg_parser_access.parse(ctx, ev);
    const vg_str *v;
    if ((v = vg_event_get(ev, VG_STR("c-ip"))) != NULL)
        vg_event_set(ev, VG_STR("src_ip"), *v);
    if ((v = vg_event_get(ev, VG_STR("cs-user-agent"))) != NULL)
        vg_event_set(ev, VG_STR("c-useragent"), *v);
    if ((v = vg_event_get(ev, VG_STR("cs-referer"))) != NULL)
        vg_event_set(ev, VG_STR("cs-referrer"), *v);
    if ((v = vg_event_get(ev, VG_STR("c-uri"))) != NULL) {
        vg_str u = *v;
        set_url(ev, u);
    }
    /* Trailing "TCP_MISS:HIER_DIRECT" after the user agent's closing quote. */
    const char *s = ev->raw.p;
    const char *sp = e;
    while (sp > s && sp[-1] != ' ' && e - sp < TOKEN_MAX)
        sp--;
    vg_str code, hier;
    if (sp > s && sp[-1] == ' ' && sp > s + 1 && sp[-2] == '"' && sp < e &&
        split((vg_str){sp, (size_t)(e - sp)}, ':', &code, &hier) && code.p[0] >= 'A' &&
        code.p[0] <= 'Z') {
        vg_event_set(ev, VG_STR("x-squid-code"), code);
        if (hier.n)
            vg_event_set(ev, VG_STR("x-squid-hierarchy"), hier);
    }
}

static void parse_squid(const vg_parse_ctx *ctx, vg_event *ev)
{
    const char *s = ev->raw.p ? ev->raw.p : "";
    const char *e = s + (ev->raw.p ? ev->raw.n : 0);
    while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
        e--;
    ev->message = ev->raw.p ? ev->raw : (vg_str){s, 0};
    bool ok = false;
    const char *p = s;
    vg_str t, code, status, peer, host;

    if (!(p = token(p, e, &t)))
        goto out;
    if (t.n > 32 || !parse_epoch(t, &ev->ts_ns)) {
        parse_combined(ctx, ev, e);
        return;
    }
    if (!(p = token(p, e, &t)) || t.n > 20 || !all_digits(t))
        goto out;
    SET(ev, "time-taken", t.p, t.p + t.n);
    if (!(p = token(p, e, &t)) || t.n > TOKEN_MAX)
        goto out;
    SET(ev, "c-ip", t.p, t.p + t.n);
    SET(ev, "src_ip", t.p, t.p + t.n);
    if (!(p = token(p, e, &t)) || t.n > TOKEN_MAX || !split(t, '/', &code, &status) ||
        status.n != 3 || !all_digits(status))
        goto out;
    vg_event_set(ev, VG_STR("x-squid-code"), code);
    vg_event_set(ev, VG_STR("sc-status"), status);
    if (!(p = token(p, e, &t)) || t.n > 20 || !all_digits(t))
        goto out;
    SET(ev, "sc-bytes", t.p, t.p + t.n);
    if (!(p = token(p, e, &t)) || t.n > 32)
        goto out;
    SET(ev, "cs-method", t.p, t.p + t.n);
    if (!(p = token(p, e, &t)))
        goto out;
    set_url(ev, t);
    ok = true;
    /* The tail is optional (a truncated line keeps the head). */
    if (!(p = token(p, e, &t)) || t.n > TOKEN_MAX)
        goto out;
    if (!is_dash(t))
        SET(ev, "cs-username", t.p, t.p + t.n);
    if (!(p = token(p, e, &t)) || t.n > TOKEN_MAX)
        goto out;
    if (split(t, '/', &peer, &host)) {
        vg_event_set(ev, VG_STR("x-squid-hierarchy"), peer);
        if (host.n && !is_dash(host)) {
            vg_event_set(ev, VG_STR("x-squid-peer"), host);
            if (ip_literal(host))
                vg_event_set(ev, VG_STR("dst_ip"), host);
        }
    }
    if (!(p = token(p, e, &t)) || t.n > TOKEN_MAX)
        goto out;
    if (!is_dash(t))
        SET(ev, "sc-content-type", t.p, t.p + t.n);
    set_headers(ev, p, e);
out:
    if (!ok)
        ev->flags |= VG_EV_PARSE_FAILED;
    vg_event_set(ev, VG_STR("message"), ev->message);
}

/* Every name parse_squid can set (with the access parser's, for combined lines). */
// clang-format off
static const char *const fields_squid[] = {
    "c-ip", "c-uri", "c-uri-extension", "c-uri-query", "c-uri-stem", "c-useragent", "cs-host",
    "cs-method", "cs-referer", "cs-referrer", "cs-uri", "cs-uri-query", "cs-uri-stem",
    "cs-user-agent", "cs-username", "cs-version", "date", "dst_ip", "message", "r-dns", "sc-bytes",
    "sc-content-type", "sc-status", "src_ip", "time-taken", "x-squid-code", "x-squid-hierarchy",
    "x-squid-peer", NULL};
// clang-format on

const vg_parser vg_parser_squid = {
    .name = "squid",
    .help = "squid access.log (native, or combined) into SigmaHQ proxy and webserver fields",
    .parse = parse_squid,
    .fields = fields_squid,
};

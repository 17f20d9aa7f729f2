/*
 * parse_access.c - web server access logs: Apache/nginx "common" and
 * "combined" (nginx's default), into the SigmaHQ webserver field names.
 *
 *   c-ip ident cs-username [date] "cs-method c-uri cs-version" sc-status sc-bytes
 *   ["cs-referer" "cs-user-agent"] [anything nginx/apache appended]
 *
 * c-uri is the request target as sent; cs-uri-stem its path (before '?').
 * cs-uri-query is ALSO the whole target (path and query): the taxonomy calls
 * it "the query", but SigmaHQ's webserver rules match paths in it
 * (`cs-uri-query|endswith: '/mgmt/tm/util/bash'`, path traversal), so the
 * full target is what makes those rules fire; the bare query (after '?') is
 * in c-uri-query. "-" means absent (no field), so `cs-referer: null` matches.
 * Quoted values keep Apache's escaping (\" \\ \xhh) and point into raw: no
 * allocation. The request line is attacker-controlled: quotes inside it,
 * binary probes ("\x16\x03\x01"), no method or version; the closing quote is
 * the one followed by a 3-digit status, so c-ip, date and sc-status survive
 * any of that. A line without c-ip, date and status gets VG_EV_PARSE_FAILED.
 */
#include "parser.h"

#include <string.h>

#define TOKEN_MAX 256

static inline bool dig(char c)
{
    return c >= '0' && c <= '9';
}

static inline int d2(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static int month3(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (memcmp(p, names + 3 * i, 3) == 0)
            return i + 1;
    return 0;
}

/* "10/Oct/2000:13:55:36 -0700" (exactly 26 bytes) -> Unix ns; false if malformed. */
static bool parse_clf_date(const char *p, size_t n, int64_t *ts)
{
    if (n != 26 || !dig(p[0]) || !dig(p[1]) || p[2] != '/' || p[6] != '/' || !dig(p[7]) ||
        !dig(p[8]) || !dig(p[9]) || !dig(p[10]) || p[11] != ':' || !dig(p[12]) || !dig(p[13]) ||
        p[14] != ':' || !dig(p[15]) || !dig(p[16]) || p[17] != ':' || !dig(p[18]) || !dig(p[19]) ||
        p[20] != ' ' || (p[21] != '+' && p[21] != '-') || !dig(p[22]) || !dig(p[23]) ||
        !dig(p[24]) || !dig(p[25]))
        return false;
    int mon = month3(p + 3);
    int day = d2(p), year = d2(p + 7) * 100 + d2(p + 9);
    int hour = d2(p + 12), min = d2(p + 15), sec = d2(p + 18);
    int oh = d2(p + 22), om = d2(p + 24);
    if (!mon || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || oh > 23 || om > 59)
        return false;
    int64_t off = (int64_t)(oh * 3600 + om * 60) * (p[21] == '-' ? -1 : 1);
    int64_t secs = vg_timegm(year, mon, day, hour, min, sec) - off;
    /* int64 nanoseconds cover 1678..2262: a year outside (e.g. "1000", found
       by fuzz_access) overflowed the multiplication; refuse it like
       vg_parse_iso8601 does. */
    if (secs > 9200000000LL || secs < -9200000000LL)
        return false;
    *ts = secs * 1000000000LL;
    return true;
}

/* A token up to the next space (bounded); NULL if none. */
static const char *word(const char *p, const char *e, vg_str *out)
{
    const char *s = p;
    while (p < e && *p != ' ' && p - s < TOKEN_MAX)
        p++;
    if (p == s || (p < e && *p != ' '))
        return NULL;
    *out = (vg_str){s, (size_t)(p - s)};
    return p;
}

/* " ddd" then a space or the end, at q. */
static bool status_follows(const char *q, const char *e)
{
    return e - q >= 4 && q[0] == ' ' && dig(q[1]) && dig(q[2]) && dig(q[3]) &&
           (q + 4 == e || q[4] == ' ');
}

/*
 * The closing quote of the request that starts at p: the first '"' followed
 * by a status, honouring backslash escapes; failing that, ignoring them
 * (Apache 1.3 did not escape quotes). NULL if none.
 */
static const char *request_end(const char *p, const char *e)
{
    for (const char *q = p; q < e; q++) {
        if (*q == '\\') {
            q++;
            continue;
        }
        if (*q == '"' && status_follows(q + 1, e))
            return q;
    }
    for (const char *q = p; q < e; q++)
        if (*q == '"' && status_follows(q + 1, e))
            return q;
    return NULL;
}

/* The closing quote of a quoted value at p (escape-aware), followed by ' ' or end. */
static const char *quoted_end(const char *p, const char *e)
{
    for (const char *q = p; q < e; q++) {
        if (*q == '\\') {
            q++;
            continue;
        }
        if (*q == '"' && (q + 1 == e || q[1] == ' '))
            return q;
    }
    return NULL;
}

static void set_unless_dash(vg_event *ev, vg_str name, const char *p, const char *e)
{
    if (e > p && !(e - p == 1 && *p == '-'))
        vg_event_set(ev, name, (vg_str){p, (size_t)(e - p)});
}

/* An HTTP token character (RFC 9110 tchar): what a method may be made of. */
static inline bool method_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "METHOD target HTTP/x.y" (version optional; the target may hold spaces). */
static void parse_request(vg_event *ev, const char *p, const char *e)
{
    const char *m = p;
    while (p < e && method_char(*p) && p - m < 32)
        p++;
    if (p == m || p >= e || *p != ' ')
        return; /* "-", binary probe, garbage: no request fields */
    vg_event_set(ev, VG_STR("cs-method"), (vg_str){m, (size_t)(p - m)});
    const char *t = p + 1, *te = e;
    const char *sp = NULL;
    for (const char *q = e; q > t; q--)
        if (q[-1] == ' ') {
            sp = q - 1;
            break;
        }
    if (sp && e - (sp + 1) >= 5 && memcmp(sp + 1, "HTTP/", 5) == 0) {
        vg_event_set(ev, VG_STR("cs-version"), (vg_str){sp + 1, (size_t)(e - (sp + 1))});
        te = sp;
    }
    if (te <= t)
        return;
    vg_str target = {t, (size_t)(te - t)};
    vg_event_set(ev, VG_STR("c-uri"), target);
    vg_event_set(ev, VG_STR("cs-uri-query"), target);
    const char *qm = memchr(t, '?', (size_t)(te - t));
    vg_event_set(ev, VG_STR("cs-uri-stem"), (vg_str){t, (size_t)((qm ? qm : te) - t)});
    if (qm && te > qm + 1)
        vg_event_set(ev, VG_STR("c-uri-query"), (vg_str){qm + 1, (size_t)(te - (qm + 1))});
}

static void parse_access(const vg_parse_ctx *ctx, vg_event *ev)
{
    const char *s = ev->raw.p ? ev->raw.p : "";
    const char *e = s + (ev->raw.p ? ev->raw.n : 0);
    while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
        e--;
    ev->message = ev->raw.p ? ev->raw : (vg_str){s, 0};
    bool have_ip = false, have_date = false, have_status = false;
    const char *p = s;
    vg_str ip, ident;

    if (!(p = word(p, e, &ip)))
        goto out;
    have_ip = true;
    vg_event_set(ev, VG_STR("c-ip"), ip);
    if (!(p = word(p + 1, e, &ident)))
        goto out;
    /* authuser runs to " [" (it may hold spaces when a client sent them). */
    const char *u = p + 1;
    const char *br = u < e ? memchr(u, '[', (size_t)(e - u)) : NULL;
    if (!br || br == u || br[-1] != ' ' || br - u > TOKEN_MAX)
        goto out;
    set_unless_dash(ev, VG_STR("cs-username"), u, br - 1);
    const char *de = memchr(br, ']', (size_t)(e - br));
    if (!de)
        goto out;
    vg_event_set(ev, VG_STR("date"), (vg_str){br + 1, (size_t)(de - br - 1)});
    have_date = parse_clf_date(br + 1, (size_t)(de - br - 1), &ev->ts_ns);
    p = de + 1;
    if (e - p < 2 || p[0] != ' ' || p[1] != '"')
        goto out;
    const char *r = p + 2;
    const char *re = request_end(r, e);
    if (!re)
        goto out;
    parse_request(ev, r, re);
    /* Status and bytes. */
    vg_event_set(ev, VG_STR("sc-status"), (vg_str){re + 2, 3});
    have_status = true;
    p = re + 5;
    vg_str bytes;
    if (p < e && (p = word(p + 1, e, &bytes)) != NULL) {
        set_unless_dash(ev, VG_STR("sc-bytes"), bytes.p, bytes.p + bytes.n);
        /* Combined: "referer" "user-agent". */
        if (e - p >= 2 && p[0] == ' ' && p[1] == '"') {
            const char *ref = p + 2, *refe = quoted_end(ref, e);
            if (refe) {
                set_unless_dash(ev, VG_STR("cs-referer"), ref, refe);
                p = refe + 1;
                if (e - p >= 2 && p[0] == ' ' && p[1] == '"') {
                    const char *ua = p + 2, *uae = quoted_end(ua, e);
                    if (!uae && e[-1] == '"' && e - 1 >= ua)
                        uae = e - 1;
                    if (uae)
                        set_unless_dash(ev, VG_STR("cs-user-agent"), ua, uae);
                }
            }
        }
    }
out:
    if (!(have_ip && have_date && have_status))
        ev->flags |= VG_EV_PARSE_FAILED;
    vg_event_set(ev, VG_STR("message"), ev->message);
}

static const char *const fields_access[] = {"c-ip", "c-uri", "c-uri-query", "cs-method", "cs-referer", "cs-uri-query", "cs-uri-stem", "cs-user-agent", "cs-username", "cs-version", "date", "message", "sc-bytes", "sc-status", NULL};

const vg_parser vg_parser_access = {
    .name = "access",
    .help = "web access logs (Apache/nginx common and combined) into SigmaHQ webserver fields",
    .parse = parse_access,
    .fields = fields_access,
};

/*
 * parse_syslog.c - syslog lines as files and sockets carry them.
 *
 * Recognised, after an optional "<PRI>":
 *   RFC 5424      1 TIMESTAMP HOST APP PROCID MSGID [SD...] MSG   ("-" = nil)
 *   ISO (rsyslog) 2024-03-01T10:00:00.123456+01:00 host tag: msg
 *   RFC 3164/BSD  Mmm dd hh:mm:ss host tag: msg    (day space-padded or not)
 * where tag is "prog", "prog[pid]" or "prog(module)[pid]", and host may be
 * absent (a token ending in ':' or holding '[' is the tag). A line without a
 * timestamp that starts with a tag ("kernel: ...") is still split; anything
 * else keeps message = raw and gets VG_EV_PARSE_FAILED. sysklogd's
 * "syslogd 1.4.1: restart." gives program syslogd.
 *
 * Fields: hostname, program, pid, message (as ev->*), module ("sshd(pam_unix)"
 * -> program sshd, module pam_unix; "/usr/sbin/cron" -> cron, case kept),
 * and for RFC 5424 msgid and sd.<id>.<param> (at most SD_FIELDS_MAX).
 * ev->service2 = vg_program_service(program). A trailing CR is not part of
 * the message. Timestamps without a zone are in ctx->tz (NULL = UTC).
 *
 * This runs on every line: it never allocates on the common path (all values
 * point into ev->raw), reads digits by hand, and only touches the arena for
 * RFC 5424 structured data (field names, unescaped values). The year of a BSD
 * timestamp comes from ctx->now_ns: a month more than one month ahead of now
 * is last year's, January seen in December is next year's (now_ns <= 0:
 * the current clock).
 */
#include "parser.h"

#include <string.h>

#define TAG_MAX 128      /* longest program tag considered */
#define PID_MAX 32       /* longest "[pid]" content */
#define HOST_MAX 255     /* longest hostname */
#define SD_FIELDS_MAX 16 /* RFC 5424 SD params kept as fields */

static inline bool dig(char c)
{
    return c >= '0' && c <= '9';
}

static inline int d2(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* Month number 1-12 of a three-letter English abbreviation, 0 if none. */
static int month3(const char *p)
{
    /* Case-sensitive like every syslog writer; packed compare of the 3 bytes. */
    uint32_t k = ((uint32_t)(unsigned char)p[0] << 16) | ((uint32_t)(unsigned char)p[1] << 8) |
                 (uint32_t)(unsigned char)p[2];
#define M(a, b, c) (((uint32_t)(a) << 16) | ((uint32_t)(b) << 8) | (uint32_t)(c))
    // clang-format off
    switch (k) {
    case M('J', 'a', 'n'): return 1;
    case M('F', 'e', 'b'): return 2;
    case M('M', 'a', 'r'): return 3;
    case M('A', 'p', 'r'): return 4;
    case M('M', 'a', 'y'): return 5;
    case M('J', 'u', 'n'): return 6;
    case M('J', 'u', 'l'): return 7;
    case M('A', 'u', 'g'): return 8;
    case M('S', 'e', 'p'): return 9;
    case M('O', 'c', 't'): return 10;
    case M('N', 'o', 'v'): return 11;
    case M('D', 'e', 'c'): return 12;
    default: return 0;
    }
    // clang-format on
#undef M
}

static int64_t now_ns(const vg_parse_ctx *ctx)
{
    if (ctx && ctx->now_ns > 0)
        return ctx->now_ns;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * "Mmm dd hh:mm:ss[.frac]" at p, followed by a space or the end. Stores the
 * UTC time in *ts and returns the end of the timestamp, or NULL.
 */
static const char *parse_bsd_ts(const vg_parse_ctx *ctx, const char *p, const char *e, int64_t *ts)
{
    if (e - p < 14)
        return NULL;
    int mon = month3(p);
    if (!mon || p[3] != ' ')
        return NULL;
    const char *q = p + 4;
    int day;
    if (q[0] == ' ' && dig(q[1])) { /* "Jun  4" */
        day = q[1] - '0';
        q += 2;
    } else if (dig(q[0]) && dig(q[1])) { /* "Jun 14" */
        day = d2(q);
        q += 2;
    } else if (dig(q[0]) && q[1] == ' ') { /* "Jun 4", unpadded */
        day = q[0] - '0';
        q += 1;
    } else {
        return NULL;
    }
    if (e - q < 9 || q[0] != ' ' || !dig(q[1]) || !dig(q[2]) || q[3] != ':' || !dig(q[4]) ||
        !dig(q[5]) || q[6] != ':' || !dig(q[7]) || !dig(q[8]))
        return NULL;
    int hour = d2(q + 1), min = d2(q + 4), sec = d2(q + 7);
    q += 9;
    if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return NULL;
    int64_t frac = 0;
    if (q + 1 < e && q[0] == '.' && dig(q[1])) {
        int digits = 0;
        for (q++; q < e && dig(*q); q++)
            if (digits < 9) {
                frac = frac * 10 + (*q - '0');
                digits++;
            }
        for (; digits < 9; digits++)
            frac *= 10;
    }
    if (q < e && *q != ' ')
        return NULL;

    int64_t now = now_ns(ctx) / 1000000000LL;
    int ny, nm, nd;
    vg_civil_from_days(now >= 0 ? now / 86400 : -((-now + 86399) / 86400), &ny, &nm, &nd);
    int year = ny;
    if (mon - nm > 1)
        year--; /* "Dec 31" read in January */
    else if (nm == 12 && mon == 1)
        year++; /* "Jan  1" read on Dec 31 (clock skew around new year) */

    int64_t secs;
    secs = vg_tz_civil_to_utc(ctx ? ctx->tz : NULL, year, mon, day, hour, min, sec);
    *ts = secs * 1000000000LL + frac;
    return q;
}

/* Printable, non-space ASCII or any high byte (UTF-8 names). */
static inline bool tag_char(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u != 0x7f && c != ':' && c != '[' && c != ']';
}

/* Set program (and module) from a tag "prog", "prog(module)" or "/path/prog". */
static void set_program(vg_event *ev, const char *p, const char *e)
{
    const char *lp = memchr(p, '(', (size_t)(e - p));
    if (lp && lp > p && e[-1] == ')') {
        vg_event_set(ev, VG_STR("module"), (vg_str){lp + 1, (size_t)(e - 1 - (lp + 1))});
        e = lp;
    }
    if (*p == '/') {
        const char *b = p;
        for (const char *q = p; q < e; q++)
            if (*q == '/')
                b = q + 1;
        if (b < e)
            p = b;
    }
    ev->program = (vg_str){p, (size_t)(e - p)};
}

/*
 * A tag at p: "prog: ", "prog[pid]: " (the colon may be missing after
 * "[pid]"). On success sets program/pid and returns where the message starts;
 * NULL when p does not start with a tag.
 */
static const char *parse_tag(vg_event *ev, const char *p, const char *e)
{
    const char *q = p;
    const char *lim = e - p > TAG_MAX ? p + TAG_MAX : e;
    while (q < lim && tag_char(*q)) {
        if (*q == '(') { /* "sshd(pam_unix:auth)": ':' allowed inside parentheses */
            const char *r = q + 1;
            while (r < lim && *r != ')' && *r != ' ')
                r++;
            if (r < lim && *r == ')')
                q = r;
        }
        q++;
    }
    if (q == p || q >= e)
        return NULL;
    const char *pid = NULL, *pid_e = NULL;
    const char *m;
    if (*q == '[') {
        const char *r = q + 1;
        const char *rlim = e - r > PID_MAX ? r + PID_MAX : e;
        while (r < rlim && *r != ']' && *r != ' ')
            r++;
        if (r >= rlim || *r != ']')
            return NULL;
        pid = q + 1;
        pid_e = r;
        m = r + 1;
        if (m < e && *m == ':')
            m++;
        else if (m < e && *m != ' ')
            return NULL;
    } else if (*q == ':') {
        m = q + 1;
    } else if (*q == ' ' && q + 1 < e && dig(q[1])) {
        /* sysklogd's "syslogd 1.4.1: restart.": a version between tag and colon. */
        const char *r = q + 1;
        while (r < e && r - q <= 16 && (tag_char(*r) || *r == '#'))
            r++;
        if (r >= e || *r != ':')
            return NULL;
        m = r + 1;
    } else {
        return NULL;
    }
    set_program(ev, p, q);
    if (pid && pid_e > pid)
        ev->pid = (vg_str){pid, (size_t)(pid_e - pid)};
    if (m < e && *m == ' ')
        m++;
    return m;
}

/* A host token at p is really a tag when it ends in ':' or holds '['. */
static bool looks_like_tag(const char *p, const char *e)
{
    const char *sp = memchr(p, ' ', (size_t)(e - p));
    const char *te = sp ? sp : e;
    if (te > p && te[-1] == ':')
        return true;
    return memchr(p, '[', (size_t)(te - p)) != NULL;
}

static const char *skip_spaces(const char *p, const char *e)
{
    while (p < e && *p == ' ')
        p++;
    return p;
}

/* Hostname then tag then message, after a timestamp. */
static void parse_host_tag_msg(vg_event *ev, const char *p, const char *e)
{
    p = skip_spaces(p, e);
    if (p < e && !looks_like_tag(p, e)) {
        const char *h = p;
        while (p < e && *p != ' ' && p - h < HOST_MAX)
            p++;
        if (p < e && *p != ' ') { /* absurd hostname: keep it all as message */
            ev->message = (vg_str){h, (size_t)(e - h)};
            return;
        }
        ev->hostname = (vg_str){h, (size_t)(p - h)};
        p = skip_spaces(p, e);
    }
    const char *m = parse_tag(ev, p, e);
    ev->message = m ? (vg_str){m, (size_t)(e - m)} : (vg_str){p, (size_t)(e - p)};
}

/* ---- RFC 5424 ---- */

/* A header token (up to the next space); "-" gives an empty token. */
static const char *token(const char *p, const char *e, size_t max, vg_str *out)
{
    const char *s = p;
    while (p < e && *p != ' ') {
        if ((size_t)(p - s) >= max)
            return NULL;
        p++;
    }
    if (p >= e || p == s)
        return NULL;
    *out = (p - s == 1 && *s == '-') ? VG_STR_NULL : (vg_str){s, (size_t)(p - s)};
    return p + 1;
}

static inline bool sd_name_char(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u < 0x7f && c != '=' && c != ']' && c != '"';
}

/* Add "sd.<id>.<param>" = value (unescaped if needed), into the arena. */
static void sd_field(const vg_parse_ctx *ctx, vg_event *ev, vg_str id, vg_str name, const char *v,
                     const char *ve, bool escaped)
{
    size_t nn = 3 + id.n + 1 + name.n;
    char *fn = ctx && ctx->arena ? vg_arena_alloc(ctx->arena, nn) : NULL;
    if (!fn) {
        ev->flags |= VG_EV_FIELDS_DROPPED;
        return;
    }
    memcpy(fn, "sd.", 3);
    memcpy(fn + 3, id.p, id.n);
    fn[3 + id.n] = '.';
    memcpy(fn + 4 + id.n, name.p, name.n);
    vg_str value = {v, (size_t)(ve - v)};
    if (escaped) {
        char *d = vg_arena_alloc(ctx->arena, value.n ? value.n : 1);
        if (!d) {
            ev->flags |= VG_EV_FIELDS_DROPPED;
            return;
        }
        size_t k = 0;
        for (const char *q = v; q < ve; q++) {
            if (*q == '\\' && q + 1 < ve && (q[1] == '"' || q[1] == '\\' || q[1] == ']'))
                q++;
            d[k++] = *q;
        }
        value = (vg_str){d, k};
    }
    vg_event_set(ev, (vg_str){fn, nn}, value);
}

/*
 * Structured data at p ("-" or "[id k="v" ...][...]"). Returns the end of it,
 * or NULL if malformed (then no more SD fields are added).
 */
static const char *parse_sd(const vg_parse_ctx *ctx, vg_event *ev, const char *p, const char *e)
{
    if (p < e && *p == '-')
        return p + 1;
    int kept = 0;
    while (p < e && *p == '[') {
        const char *id = ++p;
        while (p < e && sd_name_char(*p))
            p++;
        vg_str sid = {id, (size_t)(p - id)};
        if (sid.n == 0 || sid.n > 32)
            return NULL;
        while (p < e && *p == ' ') {
            const char *nm = ++p;
            while (p < e && sd_name_char(*p))
                p++;
            vg_str pname = {nm, (size_t)(p - nm)};
            if (pname.n == 0 || pname.n > 32 || e - p < 2 || p[0] != '=' || p[1] != '"')
                return NULL;
            p += 2;
            const char *v = p;
            bool escaped = false;
            while (p < e && *p != '"') {
                if (*p == '\\' && p + 1 < e) {
                    escaped = true;
                    p++;
                }
                p++;
            }
            if (p >= e)
                return NULL;
            if (kept < SD_FIELDS_MAX) {
                sd_field(ctx, ev, sid, pname, v, p, escaped);
                kept++;
            } else {
                ev->flags |= VG_EV_FIELDS_DROPPED;
            }
            p++; /* closing quote */
        }
        if (p >= e || *p != ']')
            return NULL;
        p++;
    }
    return p;
}

/* p is just after "<PRI>1 ". Returns false (nothing set) if the header is malformed. */
static bool parse_5424(const vg_parse_ctx *ctx, vg_event *ev, const char *p, const char *e)
{
    int64_t ts = 0;
    if (p < e && *p == '-') {
        p++;
    } else {
        size_t n = vg_parse_iso8601(p, (size_t)(e - p), ctx ? ctx->tz : NULL, &ts);
        if (!n)
            return false;
        p += n;
    }
    if (p >= e || *p != ' ')
        return false;
    p++;
    vg_str host, app, procid, msgid;
    if (!(p = token(p, e, HOST_MAX, &host)) || !(p = token(p, e, 48, &app)) ||
        !(p = token(p, e, 128, &procid)))
        return false;
    /* MSGID may end the line ("... - -" without SD is invalid but seen). */
    const char *s = p;
    while (p < e && *p != ' ' && p - s <= 32)
        p++;
    if (p == s || (p < e && *p != ' '))
        return false;
    msgid = (p - s == 1 && *s == '-') ? VG_STR_NULL : (vg_str){s, (size_t)(p - s)};

    ev->ts_ns = ts;
    ev->hostname = host;
    if (app.p)
        set_program(ev, app.p, app.p + app.n);
    ev->pid = procid;
    if (msgid.p)
        vg_event_set(ev, VG_STR("msgid"), msgid);
    if (p < e)
        p++;
    const char *sd_end = parse_sd(ctx, ev, p, e);
    if (sd_end) {
        p = sd_end;
        if (p < e && *p == ' ')
            p++;
    } else {
        ev->flags |= VG_EV_PARSE_FAILED; /* bad SD: the rest is kept as message */
    }
    if (e - p >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 BOM */
    ev->message = (vg_str){p, (size_t)(e - p)};
    return true;
}

/* ---- entry point ---- */

static void parse_syslog(const vg_parse_ctx *ctx, vg_event *ev)
{
    const char *s = ev->raw.p ? ev->raw.p : "";
    const char *e = s + (ev->raw.p ? ev->raw.n : 0);
    while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
        e--;
    const char *p = s;

    bool pri = false;
    if (p < e && *p == '<') {
        const char *q = p + 1;
        int v = 0;
        while (q < e && dig(*q) && q - p <= 3)
            v = v * 10 + (*q++ - '0');
        if (q < e && *q == '>' && q > p + 1 && v <= 191) {
            pri = true;
            p = q + 1;
        }
    }
    bool ok = false;
    if (pri && e - p >= 2 && p[0] == '1' && p[1] == ' ' && parse_5424(ctx, ev, p + 2, e)) {
        ok = true;
    } else if (e - p >= 16 && dig(p[0]) && p[4] == '-') {
        int64_t ts;
        size_t n = vg_parse_iso8601(p, (size_t)(e - p), ctx ? ctx->tz : NULL, &ts);
        if (n && (p + n == e || p[n] == ' ')) {
            ev->ts_ns = ts;
            parse_host_tag_msg(ev, p + n, e);
            ok = true;
        }
    } else {
        int64_t ts;
        const char *q = parse_bsd_ts(ctx, p, e, &ts);
        if (q) {
            ev->ts_ns = ts;
            parse_host_tag_msg(ev, q, e);
            ok = true;
        }
    }
    if (!ok) {
        /* No timestamp: "kernel: ..." and "prog[1]: ..." are still worth splitting. */
        const char *m = parse_tag(ev, p, e);
        if (m) {
            ev->message = (vg_str){m, (size_t)(e - m)};
        } else {
            ev->message = ev->raw.p ? ev->raw : (vg_str){s, 0};
            ev->flags |= VG_EV_PARSE_FAILED;
        }
    }

    if (ev->hostname.p)
        vg_event_set(ev, VG_STR("hostname"), ev->hostname);
    if (ev->program.p && ev->program.n) {
        vg_event_set(ev, VG_STR("program"), ev->program);
        ev->service2 = vg_program_service(ev->program);
    }
    if (ev->pid.p)
        vg_event_set(ev, VG_STR("pid"), ev->pid);
    vg_event_set(ev, VG_STR("message"), ev->message);
}

static const char *const fields_syslog[] = {"hostname", "message", "module", "msgid", "pid", "program", NULL};

const vg_parser vg_parser_syslog = {
    .name = "syslog",
    .help = "syslog lines: RFC 3164 (BSD), RFC 5424, rsyslog ISO 8601 file format",
    .parse = parse_syslog,
    .fields = fields_syslog,
};

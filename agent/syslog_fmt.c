/*
 * syslog_fmt.c - RFC 5424 formatting of spooled items; see syslog_fmt.h.
 *
 * The header is built in a small bounded buffer first (its fields are all
 * capped), so the frame length is known before anything is appended to the
 * caller's buffer and a failed append leaves that buffer as it was.
 */
#include "syslog_fmt.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_MAX 4096 /* PRI..SD: 255 + 48 + 32 + 4 params of <= 2*256 bytes + names */

int vg_syslog_severity(const char *level)
{
    static const struct {
        const char *name;
        int sev;
    } map[] = {
        {"critical", 2}, {"high", 3}, {"medium", 4}, {"low", 5}, {"informational", 6},
    };
    if (!level)
        return -1;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(level, map[i].name))
            return map[i].sev;
    return -1;
}

/* Object member by dotted path of nested objects ("rule.level"); a string, or NULL. */
static const char *jstr(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(root, a);
    if (b)
        v = json_is_object(v) ? json_object_get(v, b) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A header field: PRINTUSASCII (33..126) only, at most max bytes, "-" if empty. */
static void put_field(vg_buf *b, const char *s, size_t max)
{
    size_t n = 0;
    if (s)
        for (; n < max && s[n]; n++)
            vg_buf_putc(b, (s[n] >= 33 && s[n] <= 126) ? s[n] : '_');
    if (!n)
        vg_buf_putc(b, '-');
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/*
 * RFC 5424 TIMESTAMP: FULL-DATE "T" HH:MM:SS [.1*6DIGIT] ("Z" / +HH:MM / -HH:MM).
 * Shape only (and plausible ranges), so a hostile "@timestamp" cannot put
 * spaces or junk in the header.
 */
static bool valid_timestamp(const char *s)
{
    size_t n = strlen(s);
    if (n < 20 || n > 32)
        return false;
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
        s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
        !digits(s + 17, 2))
        return false;
    int mon = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
    int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0');
    int ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        size_t f = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            f++;
        if (f < 1 || f > 6)
            return false;
    }
    if (p[0] == 'Z' && p[1] == '\0')
        return true;
    return (p[0] == '+' || p[0] == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
           p[6] == '\0';
}

/* Length of the longest prefix of s[0..n) that does not cut a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* One SD-PARAM ` name="value"` with RFC 5424 6.3.3 escaping. */
static void put_param(vg_buf *b, const char *name, const char *v)
{
    size_t n = utf8_cut(v, strlen(v), VG_SYSLOG_SD_VALUE_MAX);
    vg_buf_putc(b, ' ');
    vg_buf_puts(b, name);
    vg_buf_puts(b, "=\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\' || c == ']') {
            vg_buf_putc(b, '\\');
            vg_buf_putc(b, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            vg_buf_putc(b, '?');
        } else {
            vg_buf_putc(b, (char)c);
        }
    }
    vg_buf_putc(b, '"');
}

bool vg_syslog_frame(vg_buf *b, const vg_syslog_fmt_opts *o, const char *item, size_t len)
{
    json_t *root = json_loadb(item, len, 0, NULL);
    if (root && !json_is_object(root)) {
        json_decref(root);
        root = NULL;
    }
    const char *kind = root ? jstr(root, "event", "kind") : NULL;
    const char *level = root ? jstr(root, "rule", "level") : NULL;
    const char *ts = root ? jstr(root, "@timestamp", NULL) : NULL;
    const char *host = root ? jstr(root, "host", "name") : NULL;
    if (!host || !*host)
        host = o->hostname;

    int fac = o->facility >= 0 && o->facility <= 23 ? o->facility : VG_SYSLOG_FACILITY_DEFAULT;
    int sev = vg_syslog_severity(level);
    if (sev < 0)
        sev = kind && !strcmp(kind, "alert") ? 5 : 6;
    const char *msgid = NULL;
    if (kind && (!strcmp(kind, "alert") || !strcmp(kind, "event") || !strcmp(kind, "state")))
        msgid = kind;

    char hbuf_mem[HDR_MAX];
    vg_buf h = {.p = hbuf_mem, .n = 0, .cap = sizeof hbuf_mem, .max = sizeof hbuf_mem};
    vg_buf_printf(&h, "<%d>1 ", fac * 8 + sev);
    vg_buf_puts(&h, ts && valid_timestamp(ts) ? ts : "-");
    vg_buf_putc(&h, ' ');
    put_field(&h, host, 255);
    vg_buf_putc(&h, ' ');
    put_field(&h, o->app_name && *o->app_name ? o->app_name : "vigie", 48);
    vg_buf_puts(&h, " - ");
    put_field(&h, msgid, 32);
    vg_buf_putc(&h, ' ');

    static const struct {
        const char *param, *a, *b;
    } sd[] = {
        {"id", "event", "id"},
        {"rule", "rule", "id"},
        {"name", "rule", "name"},
        {"level", "rule", "level"},
    };
    bool any = false;
    for (size_t i = 0; root && i < sizeof sd / sizeof sd[0]; i++) {
        const char *v = jstr(root, sd[i].a, sd[i].b);
        if (!v)
            continue;
        if (!any)
            vg_buf_puts(&h, "[vigie@32473");
        any = true;
        put_param(&h, sd[i].param, v);
    }
    vg_buf_puts(&h, any ? "] " : "- ");
    json_decref(root);
    /* h cannot overflow: every part above is capped well under HDR_MAX. */

    size_t before = b->n;
    bool ok = vg_buf_printf(b, "%zu ", h.n + len) && vg_buf_append(b, h.p, h.n) &&
              vg_buf_append(b, item, len);
    if (!ok) {
        b->n = before;
        b->overflow = false;
    }
    return ok;
}

vg_err vg_addr_parse(const char *addr, long default_port, char **hostp, char **portp,
                     vg_errbuf *eb)
{
    const char *host = addr, *port = NULL;
    size_t hlen;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || (end[1] && end[1] != ':'))
            return vg_errf(eb, VG_ECONFIG, "address '%s': expected [ipv6]:port", addr);
        host = addr + 1;
        hlen = (size_t)(end - host);
        if (end[1] == ':')
            port = end + 2;
    } else {
        const char *c = strrchr(addr, ':');
        if (c && strchr(addr, ':') == c) {
            hlen = (size_t)(c - addr);
            port = c + 1;
        } else {
            hlen = strlen(addr); /* no port, or a bare IPv6 address */
        }
    }
    if (!hlen)
        return vg_errf(eb, VG_ECONFIG, "address '%s': no host", addr);
    char *end = NULL;
    long pn = port ? strtol(port, &end, 10) : default_port;
    if (port && (!*port || *end || pn < 1 || pn > 65535))
        return vg_errf(eb, VG_ECONFIG, "address '%s': the port must be 1-65535", addr);
    *hostp = strndup(host, hlen);
    if (!*hostp || asprintf(portp, "%ld", pn) < 0) {
        free(*hostp);
        *hostp = *portp = NULL;
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    }
    return VG_OK;
}

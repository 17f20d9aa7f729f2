/*
 * parser.c - the registry of format parsers, the program -> Sigma service
 * table and the ISO 8601 timestamp reader the parsers share; see parser.h.
 *
 * Adding a format: define its const vg_parser in collectors/parse_<name>.c
 * and add one line to `parsers` below.
 */
#include "parser.h"

#include <string.h>

static const vg_parser *const parsers[] = {
    &vg_parser_syslog, &vg_parser_json, &vg_parser_raw, &vg_parser_access, &vg_parser_auditd, &vg_parser_squid, NULL,
};

const vg_parser *vg_parser_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; parsers[i]; i++)
        if (strcmp(parsers[i]->name, name) == 0)
            return parsers[i];
    return NULL;
}

const vg_parser *const *vg_parser_all(void)
{
    return parsers;
}

/* ---- program -> service ---- */

/*
 * Programs whose syslog lines feed the Sigma `service:` of the same logsource
 * (SigmaHQ taxonomy, product linux: sshd, sudo, cron, clamav, guacamole,
 * vsftpd). "su" is not a SigmaHQ service but is kept so rules written for it
 * can be routed. Account tools (useradd, passwd, ...) have no service of their
 * own in SigmaHQ (their rules use `service: auth` or auditd), so they map to
 * nothing. Compared case-insensitively ("CRON", "CROND").
 */
/* One object per service, so equal services are equal pointers (det_sigma caches by pointer). */
static const char svc_sshd[] = "sshd", svc_sudo[] = "sudo", svc_su[] = "su", svc_cron[] = "cron",
                  svc_clamav[] = "clamav", svc_guacamole[] = "guacamole", svc_vsftpd[] = "vsftpd";

static const struct {
    const char *program;
    const char *service;
} services[] = {
    // clang-format off
    {"sshd", svc_sshd},          {"sshd-session", svc_sshd},  {"sshd-auth", svc_sshd},
    {"sudo", svc_sudo},          {"su", svc_su},              {"cron", svc_cron},
    {"crond", svc_cron},         {"anacron", svc_cron},       {"clamd", svc_clamav},
    {"freshclam", svc_clamav},   {"clamscan", svc_clamav},    {"clamdscan", svc_clamav},
    {"clamav-milter", svc_clamav}, {"clamonacc", svc_clamav}, {"guacd", svc_guacamole},
    {"guacamole", svc_guacamole}, {"vsftpd", svc_vsftpd},
    // clang-format on
};

const char *const *vg_program_services(void)
{
    static const char *const all[] = {svc_sshd,   svc_sudo,      svc_su,     svc_cron,
                                      svc_clamav, svc_guacamole, svc_vsftpd, NULL};
    return all;
}

static bool eq_nocase(const char *a, size_t n, const char *lower)
{
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (lower[i] == '\0' || (unsigned char)lower[i] != c)
            return false;
    }
    return lower[i] == '\0';
}

const char *vg_program_service(vg_str program)
{
    const char *p = program.p, *e = program.p + program.n;
    if (!p || program.n == 0)
        return NULL;
    /* Accept an unnormalised tag too: "/usr/sbin/cron", "sshd(pam_unix)", "sshd[12]". */
    if (*p == '/') {
        const char *slash = p;
        for (const char *q = p; q < e; q++)
            if (*q == '/')
                slash = q;
        p = slash + 1;
    }
    for (const char *q = p; q < e; q++)
        if (*q == '(' || *q == '[') {
            e = q;
            break;
        }
    size_t n = (size_t)(e - p);
    if (n == 0 || n > 16)
        return NULL;
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (eq_nocase(p, n, services[i].program))
            return services[i].service;
    return NULL;
}

/* ---- ISO 8601 ---- */

static inline bool dig(char c)
{
    return c >= '0' && c <= '9';
}

static inline int d2(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* int64 nanoseconds cover 1678..2262; refuse what does not fit. */
#define TS_SECS_MAX 9200000000LL

size_t vg_parse_iso8601(const char *p, size_t n, const vg_tz *tz, int64_t *ts_ns)
{
    /* YYYY-MM-DDThh:mm is the shortest accepted form (16 bytes). */
    if (!p || n < 16)
        return 0;
    if (!(dig(p[0]) && dig(p[1]) && dig(p[2]) && dig(p[3]) && p[4] == '-' && dig(p[5]) &&
          dig(p[6]) && p[7] == '-' && dig(p[8]) && dig(p[9]) &&
          (p[10] == 'T' || p[10] == 't' || p[10] == ' ') && dig(p[11]) && dig(p[12]) &&
          p[13] == ':' && dig(p[14]) && dig(p[15])))
        return 0;
    int year = d2(p) * 100 + d2(p + 2), mon = d2(p + 5), day = d2(p + 8);
    int hour = d2(p + 11), min = d2(p + 14), sec = 0;
    size_t i = 16;
    if (i + 3 <= n && p[i] == ':' && dig(p[i + 1]) && dig(p[i + 2])) {
        sec = d2(p + i + 1);
        i += 3;
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 24 || min > 59 || sec > 60)
        return 0;
    int64_t frac = 0;
    if (i < n && (p[i] == '.' || p[i] == ',') && i + 1 < n && dig(p[i + 1])) {
        i++;
        int digits = 0;
        for (; i < n && dig(p[i]); i++)
            if (digits < 9) {
                frac = frac * 10 + (p[i] - '0');
                digits++;
            }
        for (; digits < 9; digits++)
            frac *= 10;
    }
    int64_t secs;
    if (i < n && (p[i] == 'Z' || p[i] == 'z')) {
        i++;
        secs = vg_timegm(year, mon, day, hour, min, sec);
    } else if (i + 3 <= n && (p[i] == '+' || p[i] == '-') && dig(p[i + 1]) && dig(p[i + 2])) {
        int sign = p[i] == '-' ? -1 : 1;
        int oh = d2(p + i + 1), om = 0;
        size_t j = i + 3;
        if (j + 3 <= n && p[j] == ':' && dig(p[j + 1]) && dig(p[j + 2])) {
            om = d2(p + j + 1);
            j += 3;
        } else if (j + 2 <= n && dig(p[j]) && dig(p[j + 1])) {
            om = d2(p + j);
            j += 2;
        }
        if (oh > 23 || om > 59)
            return 0;
        i = j;
        secs = vg_timegm(year, mon, day, hour, min, sec) - sign * (oh * 3600 + om * 60);
    } else {
        secs = vg_tz_civil_to_utc(tz, year, mon, day, hour, min, sec);
    }
    if (secs > TS_SECS_MAX || secs < -TS_SECS_MAX)
        return 0;
    *ts_ns = secs * 1000000000LL + frac;
    return i;
}

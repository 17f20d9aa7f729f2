/*
 * tz.c - time zones for timestamps that carry none; see tz.h.
 *
 * UTC is pure arithmetic (vg_timegm, days-from-civil). For "local" and IANA
 * zones the UTC offset of a local hour is asked from glibc (mktime with TZ set
 * to the zone, under one process-wide mutex, TZ restored afterwards) and kept
 * in a small lock-free direct-mapped cache keyed by the local hour, so glibc
 * is asked roughly once per hour of log time. DST transitions fall on hour
 * boundaries in every zone that matters here; within an ambiguous hour (fall
 * back) glibc's choice for mktime(tm_isdst = -1) is used.
 */
#include "tz.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_CACHE 256              /* entries, one per local hour (direct-mapped) */
#define TZ_OFFSET_BIAS (1u << 30) /* keeps a valid packed entry non-zero */
#define TZ_NAME_MAX 200

enum tz_kind { TZ_UTC, TZ_LOCAL, TZ_NAMED };

struct vg_tz {
    enum tz_kind kind;
    char tzval[TZ_NAME_MAX + 2]; /* ":Europe/Paris", the value given to TZ */
    /* (uint32 local hour << 32) | (offset + bias); 0 = empty. */
    _Atomic uint64_t cache[TZ_CACHE];
};

/* Guards the process-wide TZ variable while a zone is switched in. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

int64_t vg_timegm(int year, int mon, int day, int hour, int min, int sec)
{
    /* Howard Hinnant's days_from_civil; months out of 1..12 are normalised. */
    int64_t y = year, m = mon - 1;
    y += m >= 0 ? m / 12 : (m - 11) / 12;
    m = m - (m >= 0 ? m / 12 : (m - 11) / 12) * 12 + 1;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + (int64_t)hour * 3600 + (int64_t)min * 60 + sec;
}

void vg_civil_from_days(int64_t z, int *year, int *mon, int *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(y + (m <= 2));
    *mon = (int)m;
    *day = (int)d;
}

static bool zone_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '-' || c == '+' || c == '.';
        if (!ok)
            return false;
        if (c == '.' && i + 1 < n && name[i + 1] == '.')
            return false;
    }
    return true;
}

/* True when dir/name is a regular file starting with the TZif magic. */
static bool zone_file_ok(const char *dir, const char *name)
{
    char path[512];
    int len = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof path)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        /* Zone files are often symlinks (Etc/UTC -> ../UTC): retry following them. */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return false;
    }
    struct stat st;
    char magic[4];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

vg_err vg_tz_create(const char *name, vg_tz **out, vg_errbuf *eb)
{
    vg_err err = VG_OK;
    vg_tz *tz = NULL;
    *out = NULL;

    tz = calloc(1, sizeof *tz);
    if (!tz) {
        err = vg_errf(eb, VG_ENOMEM, "time zone: out of memory");
        goto out;
    }
    if (!name || strcasecmp(name, "UTC") == 0) {
        tz->kind = TZ_UTC;
    } else if (strcmp(name, "local") == 0) {
        tz->kind = TZ_LOCAL;
    } else {
        const char *dir = getenv("TZDIR");
        if (!dir || !*dir)
            dir = "/usr/share/zoneinfo";
        if (!zone_name_ok(name) || !zone_file_ok(dir, name)) {
            err = vg_errf(eb, VG_ECONFIG,
                          "unknown time zone '%.*s' (expected UTC, local or a zone of %s, "
                          "e.g. Europe/Paris)",
                          TZ_NAME_MAX, name, dir);
            goto out;
        }
        tz->kind = TZ_NAMED;
        snprintf(tz->tzval, sizeof tz->tzval, ":%s", name);
    }
    *out = tz;
    tz = NULL;
out:
    free(tz);
    return err;
}

void vg_tz_destroy(vg_tz *tz)
{
    free(tz);
}

/* Offset (local - UTC, seconds) in force at the start of local hour `hour`. */
static int64_t compute_offset(const vg_tz *tz, int64_t hour)
{
    int64_t local = hour * 3600;
    struct tm t = {0};
    int y, m, d;
    vg_civil_from_days(local >= 0 ? local / 86400 : -((-local + 86399) / 86400), &y, &m, &d);
    int64_t sod = local - vg_timegm(y, m, d, 0, 0, 0);
    t.tm_year = y - 1900;
    t.tm_mon = m - 1;
    t.tm_mday = d;
    t.tm_hour = (int)(sod / 3600);
    t.tm_isdst = -1;

    char saved[256];
    char *saved_heap = NULL;
    const char *old = NULL;
    bool had_old = false;

    pthread_mutex_lock(&tz_lock);
    if (tz->kind == TZ_NAMED) {
        const char *cur = getenv("TZ");
        if (cur) {
            had_old = true;
            if (strlen(cur) < sizeof saved) {
                strcpy(saved, cur);
                old = saved;
            } else {
                saved_heap = strdup(cur);
                old = saved_heap;
            }
        }
        setenv("TZ", tz->tzval, 1); // static-allow(setenv): under tz_lock; mktime reads TZ only
        tzset();
    }
    time_t u = mktime(&t);
    if (tz->kind == TZ_NAMED) {
        if (had_old && old)
            setenv("TZ", old, 1); // static-allow(setenv): under tz_lock; mktime reads TZ only
        else
            unsetenv("TZ"); // static-allow(setenv): under tz_lock; mktime reads TZ only
        tzset();
    }
    pthread_mutex_unlock(&tz_lock);
    free(saved_heap);

    if (u == (time_t)-1)
        return 0;
    return local - (int64_t)u;
}

int64_t vg_tz_to_utc(const vg_tz *tz, const struct tm *tm)
{
    int64_t local = vg_timegm(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
                              tm->tm_min, tm->tm_sec);
    if (!tz || tz->kind == TZ_UTC)
        return local;
    int64_t hour = local >= 0 ? local / 3600 : -((-local + 3599) / 3600);
    /* Out of the cacheable range (years beyond +-200000): ask every time. */
    if (hour < INT32_MIN || hour > INT32_MAX)
        return local - compute_offset(tz, hour);

    uint32_t key = (uint32_t)(int32_t)hour;
    _Atomic uint64_t *slot = (_Atomic uint64_t *)&tz->cache[key % TZ_CACHE];
    uint64_t e = atomic_load_explicit(slot, memory_order_relaxed);
    if (e && (uint32_t)(e >> 32) == key)
        return local - ((int64_t)(uint32_t)e - TZ_OFFSET_BIAS);

    int64_t off = compute_offset(tz, hour);
    if (off > -86400 * 2 && off < 86400 * 2) {
        e = ((uint64_t)key << 32) | (uint32_t)(off + TZ_OFFSET_BIAS);
        atomic_store_explicit(slot, e, memory_order_relaxed);
    }
    return local - off;
}

int64_t vg_tz_civil_to_utc(const vg_tz *tz, int year, int mon, int day, int hour, int min, int sec)
{
    if (!tz)
        return vg_timegm(year, mon, day, hour, min, sec);
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    return vg_tz_to_utc(tz, &tm);
}

/*
 * tz.h - time zones for timestamps that carry none (RFC 3164 syslog).
 *
 * A vg_tz is created once from a zone name ("UTC", "local", "Europe/Paris")
 * at configuration time (this may read the tz database); conversions after
 * that do no I/O beyond what glibc caches and are thread-safe (a mutex guards
 * the process-wide TZ while a conversion is computed; results are cached per
 * hour, so that happens rarely).
 */
#ifndef VG_TZ_H
#define VG_TZ_H

#include <stdint.h>
#include <time.h>

#include "err.h"

typedef struct vg_tz vg_tz;

/* name: "UTC", "local" or an IANA zone name. Unknown zone -> VG_ECONFIG. */
vg_err vg_tz_create(const char *name, vg_tz **out, vg_errbuf *eb);
void vg_tz_destroy(vg_tz *tz);

/* Broken-down local time in zone tz (NULL = UTC) -> Unix seconds. */
int64_t vg_tz_to_utc(const vg_tz *tz, const struct tm *tm);

/* Local civil time in zone tz (NULL = UTC) -> Unix seconds. */
int64_t vg_tz_civil_to_utc(const vg_tz *tz, int year, int mon /*1-12*/, int day, int hour,
                           int min, int sec);

/* Days-from-civil helper: UTC broken-down time -> Unix seconds (no TZ, no I/O). */
int64_t vg_timegm(int year, int mon /*1-12*/, int day, int hour, int min, int sec);

/* Inverse: days since 1970-01-01 (may be negative) -> civil UTC date (mon 1-12). */
void vg_civil_from_days(int64_t days, int *year, int *mon, int *day);

#endif

/*
 * log.h - the agent's own messages (not the logs it reads).
 *
 * Written to stderr as "vigie[level]: message" (journald picks stderr up
 * under systemd, with the level as a <N> prefix when VG_LOG_JOURNAL_PREFIX is
 * set by the unit). Rate-limited: at most VG_LOG_BURST messages per second
 * per call site class; the rest are counted and a summary line says how many
 * were suppressed. Never pass secrets or whole log lines at info level.
 * Thread-safe.
 */
#ifndef VG_LOG_H
#define VG_LOG_H

#include <stdbool.h>

typedef enum vg_log_level {
    VG_LOG_ERROR = 3,
    VG_LOG_WARNING = 4,
    VG_LOG_NOTICE = 5,
    VG_LOG_INFO = 6,
    VG_LOG_DEBUG = 7,
} vg_log_level;

#define VG_LOG_BURST 20

void vg_log_set_level(vg_log_level max);
void vg_log_set_quiet(bool quiet); /* scan: only errors */
void vg_log(vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Log once per distinct `key` (e.g. "missing:/var/log/x.log") for the life of
 * the process (bounded set; past its size messages are simply rate-limited).
 * Use for conditions that persist: a missing path, a full table.
 */
void vg_log_once(const char *key, vg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Forget a once-key, so the condition is reported again when it recurs. */
void vg_log_once_reset(const char *key);

#endif

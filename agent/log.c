/* log.c - rate-limited agent messages on stderr; see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ONCE_MAX 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static vg_log_level max_level = VG_LOG_INFO;
static bool quiet;
static time_t window;
static unsigned in_window, suppressed;
static char *once_keys[ONCE_MAX];
static size_t nonce;

static const char *level_name(vg_log_level l)
{
    switch (l) {
    case VG_LOG_ERROR: return "error";
    case VG_LOG_WARNING: return "warning";
    case VG_LOG_NOTICE: return "notice";
    case VG_LOG_INFO: return "info";
    case VG_LOG_DEBUG: return "debug";
    }
    return "?";
}

void vg_log_set_level(vg_log_level l)
{
    max_level = l;
}

void vg_log_set_quiet(bool q)
{
    quiet = q;
}

/* Called with lock held. */
static void vlog(vg_log_level level, const char *fmt, va_list ap)
{
    if (level > max_level || (quiet && level > VG_LOG_ERROR))
        return;
    time_t now = time(NULL);
    if (now != window) {
        if (suppressed)
            fprintf(stderr, "vigie[warning]: %u messages suppressed by rate limit\n", suppressed);
        window = now;
        in_window = 0;
        suppressed = 0;
    }
    if (++in_window > VG_LOG_BURST && level > VG_LOG_ERROR) {
        suppressed++;
        return;
    }
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    /* Our own messages may quote hostile bytes (a path): keep the terminal safe. */
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (getenv("VG_LOG_JOURNAL_PREFIX"))
        fprintf(stderr, "<%d>%s\n", (int)level, buf);
    else
        fprintf(stderr, "vigie[%s]: %s\n", level_name(level), buf);
}

void vg_log(vg_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&lock);
    vlog(level, fmt, ap);
    pthread_mutex_unlock(&lock);
    va_end(ap);
}

void vg_log_once(const char *key, vg_log_level level, const char *fmt, ...)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nonce; i++)
        if (strcmp(once_keys[i], key) == 0) {
            pthread_mutex_unlock(&lock);
            return;
        }
    if (nonce < ONCE_MAX) {
        char *k = strdup(key);
        if (k)
            once_keys[nonce++] = k;
    }
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&lock);
}

void vg_log_once_reset(const char *key)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nonce; i++)
        if (strcmp(once_keys[i], key) == 0) {
            free(once_keys[i]);
            once_keys[i] = once_keys[--nonce];
            break;
        }
    pthread_mutex_unlock(&lock);
}

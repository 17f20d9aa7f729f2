/* err.c - vg_errbuf formatting. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

vg_err vg_errf(vg_errbuf *eb, vg_err code, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
        eb->code = code;
    }
    return code;
}

vg_err vg_errno(vg_errbuf *eb, vg_err code, const char *fmt, ...)
{
    int saved = errno;
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof eb->msg)
            snprintf(eb->msg + n, sizeof eb->msg - (size_t)n, ": %s", strerror(saved));
        eb->code = code;
    }
    errno = saved;
    return code;
}

void vg_err_prefix(vg_errbuf *eb, const char *fmt, ...)
{
    if (!eb)
        return;
    char pre[512], old[VG_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, eb->msg, sizeof old);
    size_t np = strlen(pre);
    if (np > sizeof eb->msg - 3)
        np = sizeof eb->msg - 3;
    memcpy(eb->msg, pre, np);
    memcpy(eb->msg + np, ": ", 2);
    size_t room = sizeof eb->msg - np - 3, no = strnlen(old, sizeof old);
    if (no > room)
        no = room;
    memcpy(eb->msg + np + 2, old, no);
    eb->msg[np + 2 + no] = '\0';
}

const char *vg_err_name(vg_err code)
{
    switch (code) {
    case VG_OK: return "ok";
    case VG_ENOMEM: return "out of memory";
    case VG_EIO: return "I/O error";
    case VG_EPARSE: return "parse error";
    case VG_ECONFIG: return "configuration error";
    case VG_ERULE: return "rule error";
    case VG_EUNSUPPORTED: return "unsupported";
    case VG_ELIMIT: return "limit reached";
    case VG_EAGAIN: return "try again";
    case VG_ENOTFOUND: return "not found";
    case VG_EINVAL: return "invalid argument";
    case VG_EVERSION: return "unknown format version";
    case VG_EPERM: return "permission refused";
    }
    return "unknown error";
}

/*
 * err.h - the one error type of Vigie.
 *
 * Every fallible function returns a vg_err (VG_OK == 0 on success) and, where
 * the caller needs to know why, fills a caller-owned vg_errbuf with a one-line
 * message. Messages about configuration and rules start with "file:line:col: ".
 * A vg_errbuf may be NULL: the code is still returned, the message dropped.
 */
#ifndef VG_ERR_H
#define VG_ERR_H

#include <stddef.h>

typedef enum vg_err {
    VG_OK = 0,
    VG_ENOMEM,       /* allocation failed */
    VG_EIO,          /* a system call failed (errno in the message) */
    VG_EPARSE,       /* malformed input (config, rule, line) */
    VG_ECONFIG,      /* configuration is invalid */
    VG_ERULE,        /* a rule cannot be compiled */
    VG_EUNSUPPORTED, /* valid input using a feature Vigie does not implement */
    VG_ELIMIT,       /* a configured limit was hit */
    VG_EAGAIN,       /* nothing available now; try later */
    VG_ENOTFOUND,    /* a named thing does not exist */
    VG_EINVAL,       /* invalid argument from the caller */
    VG_EVERSION,     /* an on-disk format version this build does not know */
    VG_EPERM,        /* refused by a peer or the system: credentials, certificate, permissions */
} vg_err;

#define VG_ERRMSG_MAX 1024

typedef struct vg_errbuf {
    vg_err code;
    char msg[VG_ERRMSG_MAX];
} vg_errbuf;

/* Set eb (if not NULL) to code and a printf-formatted message; return code. */
vg_err vg_errf(vg_errbuf *eb, vg_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same, appending ": strerror(errno)" for the current errno. */
vg_err vg_errno(vg_errbuf *eb, vg_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with "prefix: " (used to add file names). */
void vg_err_prefix(vg_errbuf *eb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short name of the code ("out of memory", "parse error", ...). */
const char *vg_err_name(vg_err code);

#endif

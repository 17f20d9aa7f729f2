/*
 * secret.h - reading tokens, passwords and checking private keys on disk.
 *
 * Secrets live in files (never in the YAML), and a file that other users can
 * read or write is refused at start-up: the error names the file, its mode
 * and the chmod that fixes it. Secrets are never logged; callers should wipe
 * their copy (explicit_bzero) when done.
 */
#ifndef VG_SECRET_H
#define VG_SECRET_H

#include <stddef.h>

#include "err.h"

/*
 * Read the first line of `path` (without its "\r\n") into out[cap] as a
 * NUL-terminated string. Errors: VG_ENOTFOUND (missing), VG_EIO (unreadable),
 * VG_EPERM (not a regular file, or mode & 007: readable/writable by others),
 * VG_ECONFIG (empty first line), VG_ELIMIT (longer than cap - 1 bytes).
 * On error out is an empty string (wiped). Messages name the file.
 */
vg_err vg_secret_read(const char *path, char *out, size_t cap, vg_errbuf *eb);

/* Same permission rule for a private key (content not read). */
vg_err vg_secret_check_key(const char *path, vg_errbuf *eb);

#endif

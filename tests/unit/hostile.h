/*
 * hostile.h - deterministic hostile lines for parser tests: a plausible
 * prefix followed by random bytes drawn mostly from a format's own
 * metacharacters (quotes, brackets, separators, digits, NUL, invalid UTF-8),
 * sometimes from any byte.
 */
#ifndef VG_TEST_HOSTILE_H
#define VG_TEST_HOSTILE_H

#include <stdlib.h>
#include <string.h>

/*
 * Write into buf (at least strlen(prefix) + max_extra bytes) the prefix and
 * up to max_extra - 1 random bytes from alphabet (alen bytes, may hold NUL)
 * or any value; *seed advances (a fixed LCG, so runs repeat). Returns the
 * length. The caller copies it to an exact-size allocation so ASan catches
 * a read past the end.
 */
static inline size_t vg_test_hostile_line(char *buf, const char *prefix, const char *alphabet,
                                          size_t alen, size_t max_extra, unsigned *seed)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    *seed = *seed * 1103515245u + 12345u;
    size_t extra = (*seed >> 16) % max_extra;
    for (size_t k = 0; k < extra; k++) {
        *seed = *seed * 1103515245u + 12345u;
        unsigned r = *seed >> 16;
        buf[n++] = (r & 3) ? alphabet[r % alen] : (char)(r >> 4);
    }
    return n;
}

#endif

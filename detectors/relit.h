/*
 * relit.h - literals every match of a regular expression must contain.
 *
 * Used to gate a regex behind a memmem (parser definitions) and to give
 * `|re` Sigma values required literals for the prefilter. Conservative: when
 * the pattern has a top-level alternation or a construct the scan does not
 * model, it finds nothing (which only costs speed, never a match).
 */
#ifndef VG_RELIT_H
#define VG_RELIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vg_relit {
    char *cur, *best, *prefix; /* caller's buffers, n + 1 bytes each */
    size_t ncur, nbest, nprefix;
    bool first; /* internal: the current run starts right after a leading '^' */
} vg_relit;

/*
 * Scan pattern re (n bytes). On return s->prefix holds the literal right
 * after a leading '^' (s->nprefix bytes, 0 = none) and s->best the longest
 * other mandatory literal run (s->nbest bytes). Case is kept as written.
 */
void vg_relit_scan(const char *re, size_t n, vg_relit *s);

#endif

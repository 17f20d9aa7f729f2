/*
 * prefilter.h - one pass over a line for the literals of every rule.
 *
 * An Aho-Corasick automaton over ASCII-case-folded literals, compiled to a
 * DFA over byte classes (only the bytes that occur in some literal get a
 * class of their own; all others share one), so a line costs one table
 * lookup per byte however many rules and literals there are. Immutable once
 * built; vg_prefilter_scan is thread-safe.
 *
 * Memory is bounded: states x classes x 4 bytes, with at most
 * VG_PREFILTER_MAX_STATES states; literals past that are refused (the
 * caller then evaluates their rules unconditionally).
 */
#ifndef VG_PREFILTER_H
#define VG_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_PREFILTER_MAX_STATES 200000

typedef struct vg_prefilter vg_prefilter;

vg_prefilter *vg_prefilter_create(void);
void vg_prefilter_destroy(vg_prefilter *pf);

/* Add a literal (bytes, folded to lowercase here) reported as `id`. Returns
   false when the state limit or memory is exhausted (nothing added). */
bool vg_prefilter_add(vg_prefilter *pf, const char *lit, size_t n, uint32_t id);

/* Compile the DFA; no add() after this. Returns false on memory exhaustion. */
bool vg_prefilter_build(vg_prefilter *pf);

/* Report the id of every literal occurring in text (an id may be reported
   more than once). */
typedef void (*vg_prefilter_hit_fn)(void *ud, uint32_t id);
void vg_prefilter_scan(const vg_prefilter *pf, const char *text, size_t n, vg_prefilter_hit_fn fn,
                       void *ud);

/*
 * Scan up to VG_PREFILTER_LANES texts at once. Each automaton walk is a chain
 * of dependent table loads; interleaving independent walks lets their loads
 * overlap, which is what makes a batch of short lines cheap. Reports
 * (lane, id) for every literal occurring in texts[lane].
 */
#define VG_PREFILTER_LANES 4
typedef void (*vg_prefilter_lane_fn)(void *ud, unsigned lane, uint32_t id);
void vg_prefilter_scan_lanes(const vg_prefilter *pf, const char *const *texts, const size_t *lens,
                             unsigned nlanes, vg_prefilter_lane_fn fn, void *ud);

/* Sizes, for statistics and `rules check`. */
size_t vg_prefilter_states(const vg_prefilter *pf);
size_t vg_prefilter_bytes(const vg_prefilter *pf);

#endif

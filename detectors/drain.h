/*
 * drain.h - online log template mining (the Drain family).
 *
 * A line is cut into whitespace-separated tokens; inside each token the
 * variable parts are masked to "<*>" (any run holding a digit: numbers, IPs,
 * hex, ids, UUIDs, timestamps, ports; absolute paths whole). The masked
 * tokens go down a fixed-depth prefix tree: first the token count, then the
 * first (depth - 2) tokens; the leaf holds templates of that shape. The line
 * joins the most similar template of its leaf when the share of equal
 * constant tokens reaches the similarity threshold (positions that differ
 * become "<*>"); otherwise it starts a new template.
 *
 * Bounds: at most max_templates templates (least recently matched evicted,
 * counted), max_children children per tree node (the rest share a "<*>"
 * child), lines cut at VG_DRAIN_MAX_LINE bytes and VG_DRAIN_MAX_TOKENS
 * tokens (counted). One vg_drain per log source; not thread-safe.
 */
#ifndef VG_DRAIN_H
#define VG_DRAIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/err.h"

#define VG_DRAIN_MAX_LINE 4096
#define VG_DRAIN_MAX_TOKENS 128
#define VG_DRAIN_STATE_VERSION 1

typedef struct vg_drain_opts {
    unsigned depth; /* tree depth incl. root and length layers; default 4, min 3, max 16 */
    double sim;     /* share of a template's constant tokens a line must equal; default 0.75 */
    unsigned max_children; /* per node; default 100 */
    size_t max_templates;  /* default 5000 */
} vg_drain_opts;

typedef struct vg_drain_stats {
    size_t templates;   /* live templates */
    uint64_t lines;     /* lines added */
    uint64_t created;   /* templates ever created */
    uint64_t evicted;   /* templates dropped by max_templates */
    uint64_t truncated; /* lines cut at VG_DRAIN_MAX_LINE / VG_DRAIN_MAX_TOKENS */
} vg_drain_stats;

/* What vg_drain_add found. tmpl points into the miner: valid until the next
 * vg_drain_add/load/destroy. id is stable for the template's life (and across
 * save/load); ids are never reused. */
typedef struct vg_drain_match {
    uint64_t id;
    bool is_new;    /* this line created the template */
    bool changed;   /* the template gained a "<*>" */
    uint64_t count; /* lines matched by the template, this one included */
    const char *tmpl;
} vg_drain_match;

typedef struct vg_drain vg_drain;

/* opts may be NULL (defaults); zero fields take their default. NULL on ENOMEM
 * or out-of-range options. */
vg_drain *vg_drain_create(const vg_drain_opts *opts);
void vg_drain_destroy(vg_drain *d);

/* Mine one line (any bytes; NULs and invalid UTF-8 are ordinary bytes).
 * VG_ENOMEM leaves the miner consistent (the line is not counted). */
vg_err vg_drain_add(vg_drain *d, const char *line, size_t n, vg_drain_match *out);

/* Match without learning: the template a line would join, or id 0 when none. */
uint64_t vg_drain_match_only(const vg_drain *d, const char *line, size_t n);

/* The template text of id, or NULL when unknown (evicted). */
const char *vg_drain_template(const vg_drain *d, uint64_t id);

void vg_drain_get_stats(const vg_drain *d, vg_drain_stats *st);

/* Mask one line into out (NUL-terminated, cut to cap), tokens joined by one
 * space. Returns the length written. Pure; exposed for tests and `explain`. */
size_t vg_drain_mask(const char *line, size_t n, char *out, size_t cap);

/* State as a JSON object {"version":1, ...}; NULL on ENOMEM. */
json_t *vg_drain_save(const vg_drain *d);
/* Replace the miner's content by a saved state. On any error (VG_EPARSE,
 * VG_EVERSION, VG_ENOMEM) the miner is left empty and eb says why. */
vg_err vg_drain_load(vg_drain *d, const json_t *state, vg_errbuf *eb);

#endif

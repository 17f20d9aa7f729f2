/*
 * ruleset.h - all compiled rules of all detectors: the immutable object the
 * pipeline matches against. Built once at start and again on reload
 * (SIGHUP), where the new one replaces the old only if it compiled cleanly.
 */
#ifndef VG_RULESET_H
#define VG_RULESET_H

#include "detector.h"

typedef struct vg_ruleset vg_ruleset;
typedef struct vg_ruleset_scratch vg_ruleset_scratch;

typedef struct vg_ruleset_report {
    size_t files, loaded, rejected, warnings;
} vg_ruleset_report;

/*
 * Load every rule file under `paths` (files, or directories walked
 * recursively, in name order), with cfg's overrides and limits. Each
 * rejection and warning goes to diag. A path that does not exist is a
 * rejection (diag), not a failure. Fails only on memory exhaustion.
 */
vg_err vg_ruleset_load(vg_config *cfg, const vg_strlist *paths, vg_stats *stats, vg_diag_fn diag,
                       void *ud, vg_ruleset **out, vg_ruleset_report *rep, vg_errbuf *eb);
void vg_ruleset_destroy(vg_ruleset *rs);

size_t vg_ruleset_count(const vg_ruleset *rs);
/* The detector instance of a given engine (e.g. &vg_detector_sigma), or NULL. */
const void *vg_ruleset_detector(const vg_ruleset *rs, const vg_detector_ops *ops);

vg_ruleset_scratch *vg_ruleset_scratch_create(const vg_ruleset *rs);
void vg_ruleset_scratch_destroy(vg_ruleset_scratch *s);

/* Run every detector over the batch. */
void vg_ruleset_match(const vg_ruleset *rs, vg_ruleset_scratch *s, vg_batch *b,
                      const vg_match_sink *sink);

/* Emit what detectors produced asynchronously (file scans); never blocks.
   Returns the work still in progress. */
size_t vg_ruleset_drain(const vg_ruleset *rs, vg_ruleset_scratch *s, const vg_match_sink *sink);

#endif

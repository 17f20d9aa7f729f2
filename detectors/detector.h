/*
 * detector.h - the seam every detection engine implements (Sigma now; YARA,
 * correlations and baselines later).
 *
 * A detector loads the rule files it recognises (by extension), is then
 * finished (overrides applied, indexes built) and becomes immutable: match()
 * may run on any thread with that thread's scratch. It takes a whole batch,
 * so engines that gain from seeing many events at once (a prefilter, a YARA
 * block scan) can.
 */
#ifndef VG_DETECTOR_H
#define VG_DETECTOR_H

#include "../agent/config.h"
#include "../agent/event.h"
#include "../agent/stats.h"
#include "rule.h"

/* Receives each (rule, event) match, in event order within a batch. */
typedef struct vg_match_sink {
    void (*emit)(void *ud, const vg_rule_meta *rule, vg_event *ev);
    void *ud;
} vg_match_sink;

typedef struct vg_detector_ops {
    const char *name;               /* "sigma" */
    const char *const *extensions;  /* rule files it loads: {".yml", ".yaml", NULL} */
    void *(*create)(const vg_config *cfg, vg_stats *stats);
    /* Compile the rules of one file; rejections go to diag. */
    void (*load_file)(void *self, const char *path, vg_diag_fn diag, void *ud);
    /* Apply the config's overrides, register counters, build indexes. */
    void (*finish)(void *self, vg_config *cfg, vg_diag_fn diag, void *ud);
    size_t (*count)(const void *self);
    void *(*scratch_create)(const void *self);
    void (*scratch_destroy)(void *scratch);
    void (*match)(const void *self, void *scratch, vg_batch *b, const vg_match_sink *sink);
    void (*destroy)(void *self);
    /* Optional (NULL = none): emit the results produced asynchronously
       (file scans) since the last call; called on the pipeline thread
       once per round, never blocks. Returns the work still in progress
       (the caller polls again soon while it is not 0). */
    size_t (*drain)(void *self, void *scratch, const vg_match_sink *sink);
} vg_detector_ops;

extern const vg_detector_ops vg_detector_sigma;
extern const vg_detector_ops vg_detector_yara;

/* Sigma detector internals used by `vigie rules test|explain`. */
struct vg_sigma_rule;
struct vg_sigma_rule *const *vg_detector_sigma_rules(const void *self, size_t *n);
/* Its correlation rules (detectors/correlation.h), resolved. */
struct vg_corr_rule;
struct vg_corr_rule *const *vg_detector_sigma_correlations(const void *self, size_t *n);

#endif

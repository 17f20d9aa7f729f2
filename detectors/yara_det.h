/*
 * yara_det.h - what the YARA detector (det_yara.c) offers besides the
 * detector seam: for `vigie rules`, the tests and the benchmark.
 */
#ifndef VG_YARA_DET_H
#define VG_YARA_DET_H

#include <stdbool.h>
#include <stddef.h>

#include "rule.h"

/* Were the compiled rules taken from the cache in the state directory? */
bool vg_detector_yara_from_cache(const void *self);
/* Wait until no file scan is queued or running (tests). True when idle. */
bool vg_detector_yara_wait_files(const void *self, int timeout_ms);
/* Number of compiled rules (private ones included, counted in *nprivate). */
size_t vg_detector_yara_rules(const void *self, vg_rule_meta **unused, size_t *nprivate);
/* Rule i's metadata (rules table order), or NULL. */
const vg_rule_meta *vg_detector_yara_rule(const void *self, size_t i);
/* Loaded source files; NULL for a file that did not compile. */
size_t vg_detector_yara_nfiles(const void *self);
const char *vg_detector_yara_file(const void *self, size_t i);
/* Does `rule` (ns:name or name) match `line` scanned alone, with empty
   externals? 1 yes, 0 no, -1 no such rule. scratch from scratch_create. */
int vg_detector_yara_test_line(const void *self, void *scratch, const char *rule,
                               const char *line);

#endif

/*
 * yara_tests.h - test cases of YARA rules, from sidecar files
 * `<rule file>.tests` (see yara_tests.c), for `vigie rules test`.
 */
#ifndef VG_YARA_TESTS_H
#define VG_YARA_TESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct vg_yara_test_opts {
    FILE *out;
    bool verbose; /* also print passing cases */
    bool json;    /* one JSON object per case */
} vg_yara_test_opts;

typedef struct vg_yara_test_report {
    size_t files, passed, failed;
} vg_yara_test_report;

/* Run the cases of every loaded rule file's sidecar; det is the YARA
   detector instance (vg_ruleset_detector(rs, &vg_detector_yara)). */
void vg_yara_run_tests(const void *det, const vg_yara_test_opts *o, vg_yara_test_report *r);

#endif

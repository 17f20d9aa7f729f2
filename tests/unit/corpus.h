/*
 * corpus.h - where the unit tests find ../shared/corpus (real data nobody
 * here wrote; never copied into the repo). Tests that need it skip visibly
 * when this returns false.
 */
#ifndef VG_TEST_CORPUS_H
#define VG_TEST_CORPUS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Path of `rel` inside the corpus, tried in order: $VG_SOURCE_ROOT/../shared
 * (set by meson test and tests/run_all.sh), relative to this source file
 * (tests/unit/, absolute or relative to the build directory), then relative
 * to the working directory (run by hand from the source root or a build
 * directory). False when none is readable.
 */
static inline bool vg_test_corpus_path(char *out, size_t size, const char *rel)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    if (root) {
        snprintf(out, size, "%s/../shared/corpus/%s", root, rel);
        if (access(out, R_OK) == 0)
            return true;
    }
    const char *slash = strrchr(__FILE__, '/');
    int dl = slash ? (int)(slash - __FILE__) : 1;
    snprintf(out, size, "%.*s/../../../shared/corpus/%s", dl, slash ? __FILE__ : ".", rel);
    if (access(out, R_OK) == 0)
        return true;
    static const char *const up[] = {"../shared/corpus", "../../shared/corpus"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(out, size, "%s/%s", up[i], rel);
        if (access(out, R_OK) == 0)
            return true;
    }
    return false;
}

#endif

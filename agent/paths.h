/*
 * paths.h - where the shipped files are: installed under /usr/share/vigie,
 * or, when the binary runs from a build directory of the source tree
 * (<repo>/build/vigie), in the source tree itself, so `vigie scan` and
 * `vigie run` work before installation.
 */
#ifndef VG_PATHS_H
#define VG_PATHS_H

/*
 * `<dir of the executable>/../<rel>` if it exists, else `installed`. The
 * result is a static buffer per call site's `buf` (the caller's).
 */
const char *vg_shipped_path(const char *rel, const char *installed, char *buf, unsigned size);

#endif

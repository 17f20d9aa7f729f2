/* paths.c - locating shipped files; see paths.h. */
#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *vg_shipped_path(const char *rel, const char *installed, char *buf, unsigned size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *sl = strrchr(exe, '/');
        if (sl) {
            *sl = '\0';
            int k = snprintf(buf, size, "%s/../%s", exe, rel);
            if (k > 0 && (unsigned)k < size && access(buf, R_OK) == 0)
                return buf;
        }
    }
    return installed;
}

/*
 * fuzz_lines.h - split a fuzz input into lines for the targets that feed a
 * parser line after line (auditd grouping, the parser definitions). Each
 * line is copied to an exact-size allocation, so ASan catches a read past
 * its end, and handed to fn; the input's last line needs no newline.
 */
#ifndef VG_FUZZ_LINES_H
#define VG_FUZZ_LINES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void (*fuzz_line_fn)(void *ud, const char *line, size_t n);

static void fuzz_each_line(const uint8_t *data, size_t size, fuzz_line_fn fn, void *ud)
{
    size_t i = 0;
    while (i <= size) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t n = nl ? (size_t)(nl - (data + i)) : size - i;
        char *line = malloc(n ? n : 1);
        if (!line)
            abort();
        memcpy(line, data + i, n);
        fn(ud, line, n);
        free(line);
        i += n + 1;
        if (!nl)
            break;
    }
}

#endif

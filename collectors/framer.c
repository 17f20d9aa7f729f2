/*
 * framer.c - cut a byte stream into lines with bounded memory; see framer.h.
 *
 * The buffer holds at most one unfinished line (<= max_line + 1 bytes once
 * next() has returned false) plus one read. A line whose newline is not found
 * within max_line (+1 for a '\r') bytes is returned cut, and its tail is
 * skipped as it arrives, so a 10 MB line never costs more than the bound.
 */
#include "framer.h"

#include <stdlib.h>
#include <string.h>

int vg_framer_init(vg_framer *f, size_t max_line, size_t read_size, uint64_t start_offset)
{
    memset(f, 0, sizeof *f);
    if (!max_line || !read_size || max_line > SIZE_MAX / 4 || read_size > SIZE_MAX / 4)
        return -1;
    f->max_line = max_line;
    f->read_size = read_size;
    f->base = start_offset;
    return 0;
}

void vg_framer_destroy(vg_framer *f)
{
    if (!f)
        return;
    free(f->buf);
    f->buf = NULL;
    f->cap = f->start = f->end = 0;
}

void vg_framer_reset(vg_framer *f, uint64_t offset)
{
    f->start = f->end = 0;
    f->base = offset;
    f->skipping = false;
    f->skip_from = 0;
}

static void compact(vg_framer *f)
{
    if (f->start == 0)
        return;
    size_t n = f->end - f->start;
    if (n)
        memmove(f->buf, f->buf + f->start, n);
    f->base += f->start;
    f->start = 0;
    f->end = n;
}

char *vg_framer_space(vg_framer *f, size_t *room)
{
    compact(f);
    size_t limit = f->max_line + 2 + f->read_size;
    size_t need = f->end + f->read_size;
    if (need > limit)
        need = limit;
    if (f->cap < need) {
        size_t ncap = f->cap ? f->cap * 2 : need;
        if (ncap < need)
            ncap = need;
        if (ncap > limit)
            ncap = limit;
        char *nb = realloc(f->buf, ncap);
        if (!nb) {
            *room = 0;
            return NULL;
        }
        f->buf = nb;
        f->cap = ncap;
    }
    size_t r = f->cap - f->end;
    *room = r < f->read_size ? r : f->read_size;
    return f->buf + f->end;
}

void vg_framer_commit(vg_framer *f, size_t n)
{
    if (n > f->cap - f->end) /* caller bug: never run past the buffer */
        n = f->cap - f->end;
    f->end += n;
}

/* Drop the tail of a truncated line up to and including its newline. */
static void skip_tail(vg_framer *f)
{
    const char *p = f->buf + f->start;
    size_t avail = f->end - f->start;
    const char *nl = avail ? memchr(p, '\n', avail) : NULL;
    if (!nl) {
        f->skipped_bytes += avail;
        f->start = f->end;
        return;
    }
    size_t k = (size_t)(nl - p) + 1;
    f->skipped_bytes += k;
    f->start += k;
    f->skipping = false;
}

static void cut(vg_framer *f, vg_line *line, size_t n, bool no_newline)
{
    line->p = f->buf + f->start;
    line->n = f->max_line < n ? f->max_line : n;
    line->offset = f->base + f->start;
    line->truncated = true;
    line->no_newline = no_newline;
    f->truncated_lines++;
    f->skip_from = line->offset;
    f->start += line->n;
    f->skipping = true;
    skip_tail(f);
    line->next = f->skipping ? line->offset : f->base + f->start;
}

bool vg_framer_next(vg_framer *f, vg_line *line)
{
    if (f->skipping) {
        skip_tail(f);
        if (f->skipping)
            return false;
    }
    size_t avail = f->end - f->start;
    if (!avail)
        return false;
    const char *p = f->buf + f->start;
    /* A newline at index max_line + 1 still ends a full line if a '\r' precedes it. */
    size_t scan = avail < f->max_line + 2 ? avail : f->max_line + 2;
    const char *nl = memchr(p, '\n', scan);
    if (nl) {
        size_t len = (size_t)(nl - p), n = len;
        if (n && p[n - 1] == '\r')
            n--;
        if (n <= f->max_line) {
            line->p = p;
            line->n = n;
            line->offset = f->base + f->start;
            line->next = line->offset + len + 1;
            line->truncated = false;
            line->no_newline = false;
            f->start += len + 1;
            return true;
        }
    } else if (avail < f->max_line + 2) {
        return false; /* incomplete: wait for more bytes */
    }
    cut(f, line, avail, false);
    return true;
}

bool vg_framer_flush(vg_framer *f, vg_line *line)
{
    if (f->skipping) {
        /* The rest of an already returned truncated line: it ends here. */
        f->skipped_bytes += f->end - f->start;
        f->start = f->end;
        f->skipping = false;
        return false;
    }
    size_t avail = f->end - f->start;
    if (!avail)
        return false;
    if (avail > f->max_line) {
        cut(f, line, avail, true);
        f->skipped_bytes += f->end - f->start;
        f->start = f->end;
        f->skipping = false;
        line->next = f->base + f->start;
        return true;
    }
    line->p = f->buf + f->start;
    line->n = avail;
    line->offset = f->base + f->start;
    line->next = line->offset + avail;
    line->truncated = false;
    line->no_newline = true;
    f->start = f->end;
    return true;
}

size_t vg_framer_pending(const vg_framer *f)
{
    return f->end - f->start;
}

uint64_t vg_framer_offset(const vg_framer *f)
{
    return f->skipping ? f->skip_from : f->base + f->start;
}

void vg_framer_trim(vg_framer *f)
{
    compact(f);
    if (f->end == 0) {
        free(f->buf);
        f->buf = NULL;
        f->cap = 0;
        return;
    }
    if (f->cap > f->end) {
        char *nb = realloc(f->buf, f->end);
        if (nb) {
            f->buf = nb;
            f->cap = f->end;
        }
    }
}

/*
 * framer.h - the one line framer shared by every byte-stream reader
 * (file tail, `scan` over plain and .gz files).
 *
 * The caller appends bytes read from a stream with vg_framer_feed() and takes
 * complete lines out with vg_framer_next(). A line longer than max_line is cut
 * at max_line bytes, returned with `truncated` set, and the rest of it up to
 * the newline is skipped (counted in skipped_bytes) without ever being held in
 * memory: memory is bounded by max_line + the read size.
 *
 * Offsets: each line carries the stream offset of its first byte and the
 * offset just past its newline (`next`): `next` is what a position commit
 * stores. A final line without newline stays pending until more bytes arrive
 * or vg_framer_flush() is called (idle timeout, end of a rotated file, end of
 * a scanned file).
 *
 * Lifetime: the returned line points into the framer's buffer and stays valid
 * until the next vg_framer_feed() / vg_framer_compact() call.
 */
#ifndef VG_FRAMER_H
#define VG_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_framer {
    char *buf;
    size_t cap, start, end; /* unconsumed bytes are buf[start, end) */
    size_t max_line;
    uint64_t base;          /* stream offset of buf[0] */
    bool skipping;          /* inside the tail of a truncated line */
    uint64_t skipped_bytes; /* bytes dropped from truncated lines (cumulative) */
    uint64_t truncated_lines;
} vg_framer;

typedef struct vg_line {
    const char *p;
    size_t n;           /* without the newline (and without a trailing '\r') */
    uint64_t offset;    /* stream offset of the first byte */
    uint64_t next;      /* stream offset just past the newline */
    bool truncated;
    bool no_newline;    /* produced by vg_framer_flush */
} vg_line;

/* read_size: the largest single feed; the buffer is max_line + read_size. */
int vg_framer_init(vg_framer *f, size_t max_line, size_t read_size, uint64_t start_offset);
void vg_framer_destroy(vg_framer *f);
/* Reset to an empty buffer at a new stream offset (truncation, new file). */
void vg_framer_reset(vg_framer *f, uint64_t offset);

/* Space to read into: returns a pointer and sets *room (> 0, <= read_size).
   Compacts the buffer first, invalidating lines returned before. */
char *vg_framer_space(vg_framer *f, size_t *room);
/* Declare that n bytes were written at the pointer vg_framer_space returned. */
void vg_framer_commit(vg_framer *f, size_t n);

/* Next complete line; false when none is complete yet. */
bool vg_framer_next(vg_framer *f, vg_line *line);
/* Emit the pending partial line, if any (no_newline set). */
bool vg_framer_flush(vg_framer *f, vg_line *line);
/* Bytes buffered but not yet returned as lines. */
size_t vg_framer_pending(const vg_framer *f);
/* Stream offset of the first byte not yet returned (a safe resume point). */
uint64_t vg_framer_offset(const vg_framer *f);

#endif

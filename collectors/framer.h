/*
 * framer.h - the one line framer shared by every byte-stream reader
 * (file tail, `scan` over plain and .gz files).
 *
 * The caller reads bytes straight into the framer: vg_framer_space() gives a
 * pointer and a room, the caller read(2)s into it and declares what it got
 * with vg_framer_commit(); complete lines come out of vg_framer_next(). A
 * line longer than max_line is cut at max_line bytes, returned with
 * `truncated` set, and the rest of it up to the newline is skipped (counted
 * in skipped_bytes) without ever being held in memory: memory is bounded by
 * max_line + 2 + read_size, allocated lazily (vg_framer_trim gives it back).
 *
 * Offsets: each line carries the stream offset of its first byte and the
 * offset just past its newline (`next`): `next` is what a position commit
 * stores. A final line without newline stays pending until more bytes arrive
 * or vg_framer_flush() is called (idle timeout, end of a rotated file, end of
 * a scanned file). vg_framer_offset() is the safe resume point: the first
 * byte not yet returned, or the start of a truncated line whose tail is still
 * being skipped (resuming there repeats that one line, it never emits a
 * fragment of it as a line of its own).
 *
 * Lifetime: the returned line points into the framer's buffer and stays valid
 * until the next vg_framer_space() / vg_framer_trim() / vg_framer_reset().
 */
#ifndef VG_FRAMER_H
#define VG_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_framer {
    char *buf;
    size_t cap, start, end; /* allocated size; unconsumed bytes are buf[start, end) */
    size_t max_line;
    size_t read_size;       /* largest room handed out by vg_framer_space */
    uint64_t base;          /* stream offset of buf[0] */
    bool skipping;          /* inside the tail of a truncated line */
    uint64_t skip_from;     /* stream offset of the truncated line being skipped */
    uint64_t skipped_bytes; /* bytes dropped from truncated lines (cumulative) */
    uint64_t truncated_lines;
} vg_framer;

typedef struct vg_line {
    const char *p;
    size_t n;           /* without the newline (and without a trailing '\r') */
    uint64_t offset;    /* stream offset of the first byte */
    uint64_t next;      /* stream offset just past the newline (truncated line whose
                           newline is not seen yet: its own offset) */
    bool truncated;
    bool no_newline;    /* produced by vg_framer_flush */
} vg_line;

/* read_size: the largest single read. Allocates nothing yet; returns 0, or -1
   when max_line or read_size is 0. */
int vg_framer_init(vg_framer *f, size_t max_line, size_t read_size, uint64_t start_offset);
void vg_framer_destroy(vg_framer *f);
/* Reset to an empty buffer at a new stream offset (truncation, new file). */
void vg_framer_reset(vg_framer *f, uint64_t offset);

/* Space to read into: returns a pointer and sets *room (<= read_size).
   Compacts the buffer first, invalidating lines returned before. Call
   vg_framer_next() until it returns false first: then *room == read_size.
   Returns NULL with *room == 0 when the buffer cannot be allocated. */
char *vg_framer_space(vg_framer *f, size_t *room);
/* Declare that n bytes (<= room) were written at the pointer vg_framer_space returned. */
void vg_framer_commit(vg_framer *f, size_t n);

/* Next complete line; false when none is complete yet. */
bool vg_framer_next(vg_framer *f, vg_line *line);
/* Emit the pending partial line, if any (no_newline set). */
bool vg_framer_flush(vg_framer *f, vg_line *line);
/* Bytes buffered but not yet returned as lines. */
size_t vg_framer_pending(const vg_framer *f);
/* Stream offset of the first byte not yet returned (a safe resume point). */
uint64_t vg_framer_offset(const vg_framer *f);
/* Give memory back: free the buffer when nothing is pending, else shrink it
   to the pending bytes. Invalidates returned lines. */
void vg_framer_trim(vg_framer *f);

#endif

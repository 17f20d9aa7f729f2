/*
 * json.h - a bounded output buffer and a JSON writer.
 *
 * Writing only: JSON parsing is jansson's job. The writer exists because
 * alerts carry attacker-controlled bytes and must be valid JSON whatever they
 * hold: strings are written as UTF-8 with invalid sequences (overlong forms,
 * surrogates, stray continuation bytes, truncated sequences) replaced by
 * U+FFFD, every control character escaped (\n, \t, \u001b, ...), DEL and the
 * JavaScript line separators U+2028/U+2029 escaped too. The result never
 * contains a raw byte < 0x20, so it is safe to print on a terminal.
 *
 * vg_buf grows up to `max` bytes; an append past it is dropped whole and sets
 * `overflow` (the caller counts it and discards the record).
 */
#ifndef VG_JSON_H
#define VG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_buf {
    char *p;
    size_t n, cap, max;
    bool overflow;
} vg_buf;

void vg_buf_init(vg_buf *b, size_t max);
void vg_buf_free(vg_buf *b);
void vg_buf_reset(vg_buf *b); /* n = 0, overflow = false; keeps memory */
bool vg_buf_append(vg_buf *b, const void *p, size_t n);
bool vg_buf_puts(vg_buf *b, const char *s);
bool vg_buf_printf(vg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append the decimal digits of v (the hot paths: no printf). */
bool vg_buf_i64(vg_buf *b, int64_t v);
bool vg_buf_putc(vg_buf *b, char c);

/* A JSON string literal (with quotes) of n arbitrary bytes. */
void vg_json_str(vg_buf *b, const char *p, size_t n);
static inline void vg_json_cstr(vg_buf *b, const char *s)
{
    vg_json_str(b, s ? s : "", s ? __builtin_strlen(s) : 0);
}

/*
 * The same bytes made safe for a terminal line without quoting: invalid
 * UTF-8 -> U+FFFD, control characters -> \xNN (so ESC sequences are inert).
 */
void vg_text_safe(vg_buf *b, const char *p, size_t n);

/* RFC 3339 UTC timestamp with microseconds: 2024-03-01T10:00:00.123456Z */
void vg_json_time(vg_buf *b, int64_t ts_ns);

#endif

/* json.c - bounded buffer and safe JSON/terminal string writer; see json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void vg_buf_init(vg_buf *b, size_t max)
{
    b->p = NULL;
    b->n = b->cap = 0;
    b->max = max;
    b->overflow = false;
}

void vg_buf_free(vg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void vg_buf_reset(vg_buf *b)
{
    b->n = 0;
    b->overflow = false;
}

static bool grow(vg_buf *b, size_t need)
{
    if (b->overflow)
        return false;
    if (need > b->max || need < b->n) {
        b->overflow = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->overflow = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

bool vg_buf_append(vg_buf *b, const void *p, size_t n)
{
    if (!grow(b, b->n + n))
        return false;
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    return true;
}

bool vg_buf_puts(vg_buf *b, const char *s)
{
    return vg_buf_append(b, s, strlen(s));
}

bool vg_buf_putc(vg_buf *b, char c)
{
    return vg_buf_append(b, &c, 1);
}

bool vg_buf_printf(vg_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    if ((size_t)n < sizeof tmp)
        return vg_buf_append(b, tmp, (size_t)n);
    if (!grow(b, b->n + (size_t)n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
    return true;
}

bool vg_buf_i64(vg_buf *b, int64_t v)
{
    char tmp[24], *e = tmp + sizeof tmp, *q = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    return vg_buf_append(b, q, (size_t)(e - q));
}

/* Two decimal digits of v (0..99) at o. */
static void dig2(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
 */
static size_t utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC2 || c > 0xF4)
        return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len)
        return 0;
    uint32_t v = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static const char hexd[] = "0123456789abcdef";

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL
/* Some byte of w is zero / below n (n <= 128, bytes < 0x80) / equal to c. */
#define HAS_ZERO(w) (((w) - ONES) & ~(w) & HIGH)
#define HAS_LESS(w, n) (((w) - ONES * (n)) & ~(w) & HIGH)
#define HAS_BYTE(w, c) HAS_ZERO((w) ^ (ONES * (c)))

/* Printable ASCII other than '"' and '\\': copied as is. */
static const bool plain_byte[256] = {
    [0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

/* Flags (bit 7 of a byte) where w's bytes are not plain: exact for the
   first such byte; zero when every byte is printable ASCII but '"', '\\'. */
static inline uint64_t special_bytes(uint64_t w)
{
    return (w & HIGH) | HAS_LESS(w, 0x20) | HAS_BYTE(w, 0x22) | HAS_BYTE(w, 0x5c) |
           HAS_BYTE(w, 0x7f);
}

void vg_json_str(vg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case: every byte becomes 6 bytes (\u00XX) or 3 (U+FFFD). */
    if (!grow(b, b->n + n * 6 + 2))
        return;
    char *o = b->p + b->n;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        /* Eight bytes at a time (SWAR): copy the word, advance to its first
           byte that needs work (>= 0x7f, < 0x20, '"' or '\\'). The lowest
           flag of each test is exact (a false flag can only sit above a
           true one), so the first special byte is found exactly. The
           output has room for 8 bytes more (6 per input byte reserved). */
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            uint64_t m = special_bytes(w);
            memcpy(o, p + i, 8);
            if (!m) {
                o += 8;
                i += 8;
                continue;
            }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            size_t k = (size_t)__builtin_ctzll(m) >> 3;
#else
            size_t k = (size_t)__builtin_clzll(m) >> 3;
#endif
            o += k;
            i += k;
        }
        unsigned char c = p[i];
        if (plain_byte[c]) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hexd[c >> 4];
                *o++ = hexd[c & 15];
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = utf8_len(p + i, n - i, &cp);
        if (!len) {
            *o++ = (char)0xEF; /* U+FFFD */
            *o++ = (char)0xBF;
            *o++ = (char)0xBD;
            i++;
        } else if (cp == 0x2028 || cp == 0x2029) {
            memcpy(o, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            o += 6;
            i += len;
        } else if (cp >= 0x80 && cp < 0xA0) { /* C1 controls: escape too */
            memcpy(o, "\\u00", 4);
            o[4] = hexd[cp >> 4];
            o[5] = hexd[cp & 15];
            o += 6;
            i += len;
        } else {
            memcpy(o, p + i, len);
            o += len;
            i += len;
        }
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
}

void vg_text_safe(vg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!grow(b, b->n + n * 4))
        return;
    char *o = b->p + b->n;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f) {
            *o++ = (char)c;
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t len = c < 0x80 ? 0 : utf8_len(p + i, n - i, &cp);
        if (c < 0x80 || (len && cp < 0xA0)) {
            /* Control characters (C0, DEL, C1) shown as \xNN. */
            unsigned v = c < 0x80 ? c : cp;
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hexd[(v >> 4) & 15];
            *o++ = hexd[v & 15];
            i += len ? len : 1;
        } else if (!len) {
            *o++ = (char)0xEF;
            *o++ = (char)0xBF;
            *o++ = (char)0xBD;
            i++;
        } else if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
                   cp == 0x200E || cp == 0x200F || cp == 0x061C) {
            /* Bidirectional controls reorder what a terminal shows ("Trojan
               Source"): shown as \uXXXX (len <= 3 here, 6 bytes <= 4 * len). */
            *o++ = '\\';
            *o++ = 'u';
            for (int sh = 12; sh >= 0; sh -= 4)
                *o++ = hexd[(cp >> sh) & 15];
            i += len;
        } else {
            memcpy(o, p + i, len);
            o += len;
            i += len;
        }
    }
    b->n = (size_t)(o - b->p);
}

void vg_json_time(vg_buf *b, int64_t ts_ns)
{
    time_t s = (time_t)(ts_ns / 1000000000);
    long us = (long)((ts_ns % 1000000000) / 1000);
    if (us < 0) {
        us += 1000000;
        s -= 1;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) {
        vg_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\"", year, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
        return;
    }
    /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" without printf (two per alert) */
    char t[29];
    t[0] = '"';
    dig2(t + 1, year / 100);
    dig2(t + 3, year % 100);
    t[5] = '-';
    dig2(t + 6, tm.tm_mon + 1);
    t[8] = '-';
    dig2(t + 9, tm.tm_mday);
    t[11] = 'T';
    dig2(t + 12, tm.tm_hour);
    t[14] = ':';
    dig2(t + 15, tm.tm_min);
    t[17] = ':';
    dig2(t + 18, tm.tm_sec);
    t[20] = '.';
    dig2(t + 21, (int)(us / 10000));
    dig2(t + 23, (int)(us / 100 % 100));
    dig2(t + 25, (int)(us % 100));
    t[27] = 'Z';
    t[28] = '"';
    vg_buf_append(b, t, sizeof t);
}

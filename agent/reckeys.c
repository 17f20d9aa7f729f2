/* reckeys.c - the key index of a spool record; see reckeys.h. */
#include "reckeys.h"

#include <stdio.h>
#include <string.h>

void vg_reckeys_clear(vg_reckeys *k)
{
    memset(k, 0, sizeof *k);
}

size_t vg_reckeys_encode(const vg_reckeys *k, char *out)
{
    int n = snprintf(out, VG_RECKEYS_MAX, "#%lld,%d", (long long)k->ts_ns, k->severity);
    for (int i = 0; i < VG_RK_COUNT && n > 0 && n < VG_RECKEYS_MAX; i++)
        n += snprintf(out + n, (size_t)(VG_RECKEYS_MAX - n), ",%u:%u", k->off[i], k->len[i]);
    if (n <= 0 || n >= VG_RECKEYS_MAX - 1)
        return 0; /* cannot happen with 32-bit numbers; no index then */
    out[n++] = '|';
    return (size_t)n;
}

/* An unsigned or signed decimal at *p (advanced); false when none. */
static bool num(const char **p, const char *end, long long *v, bool sign)
{
    const char *s = *p;
    bool neg = false;
    if (sign && s < end && *s == '-') {
        neg = true;
        s++;
    }
    if (s >= end || *s < '0' || *s > '9')
        return false;
    unsigned long long x = 0;
    for (int d = 0; s < end && *s >= '0' && *s <= '9'; s++, d++) {
        if (d >= 19) /* 19 digits fit; more could wrap */
            return false;
        x = x * 10 + (unsigned)(*s - '0');
    }
    if (x > (unsigned long long)INT64_MAX)
        return false;
    *v = neg ? -(long long)x : (long long)x;
    *p = s;
    return true;
}

/* t[0..n) is exactly one JSON string: every inner '"' escaped, no raw
   control byte, the closing quote not escaped. The transports copy these
   tokens into request bodies as they are: a tampered spool record must not
   inject JSON through them. */
static bool one_string(const char *t, size_t n)
{
    size_t j = 1;
    while (j < n - 1) {
        unsigned char c = (unsigned char)t[j];
        if (c == '"' || c < 0x20)
            return false;
        j += c == '\\' ? 2 : 1;
    }
    return j == n - 1;
}

size_t vg_reckeys_decode(const char *p, size_t n, vg_reckeys *k)
{
    vg_reckeys_clear(k);
    if (n < 2 || p[0] != '#')
        return 0;
    const char *s = p + 1, *end = p + (n < VG_RECKEYS_MAX ? n : VG_RECKEYS_MAX);
    const char *bar = memchr(s, '|', (size_t)(end - s));
    if (!bar)
        return 0;
    long long ts, sev;
    if (!num(&s, bar, &ts, true) || s >= bar || *s++ != ',' || !num(&s, bar, &sev, false) ||
        sev > 255)
        return 0;
    vg_reckeys t = {0};
    t.ts_ns = ts;
    t.severity = (int)sev;
    size_t used = (size_t)(bar - p) + 1;
    const char *json = p + used;
    size_t jn = n - used;
    for (int i = 0; i < VG_RK_COUNT; i++) {
        long long off, len;
        if (s >= bar || *s++ != ',' || !num(&s, bar, &off, false) || s >= bar || *s++ != ':' ||
            !num(&s, bar, &len, false))
            return 0;
        if (len) {
            if (len < 2 || (unsigned long long)off + (unsigned long long)len > jn ||
                json[off] != '"' || json[off + len - 1] != '"' ||
                !one_string(json + off, (size_t)len))
                return 0;
        }
        t.off[i] = (uint32_t)off;
        t.len[i] = (uint32_t)len;
    }
    if (s != bar)
        return 0;
    *k = t;
    return used;
}

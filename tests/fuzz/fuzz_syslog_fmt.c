/*
 * fuzz_syslog_fmt.c - libFuzzer target: vg_syslog_frame (RFC 5424 with
 * octet counting) on an arbitrary item, usually alert-like JSON.
 *
 * The first input byte gives the facility (may be out of range), whether
 * opts carry a hostname and an app name, and whether the output buffer is
 * small (the overflow path). Checks: a frame is "LEN SP MSG" with LEN the
 * exact length of MSG; MSG ends with the item unchanged; the header before
 * it has no control byte (< 0x20, 0x7f); a failed append leaves the buffer
 * byte for byte as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/syslog_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    size_t n = size - 1;
    char *item = malloc(n ? n : 1);
    if (!item)
        return 0;
    memcpy(item, data + 1, n);
    vg_syslog_fmt_opts o = {
        .facility = (int)(mode & 31) - 2,
        .app_name =
            (mode & 32) ? "vigie-\x01\xc3\xa9-app-name-longer-than-forty-eight-bytes-......" : NULL,
        .hostname = (mode & 64) ? "h\xffst name" : NULL,
    };
    vg_buf b;
    vg_buf_init(&b, (mode & 128) ? 512 : 1u << 22);
    vg_buf_puts(&b, "PREVIOUS"); /* a frame already in the buffer */
    bool ok = vg_syslog_frame(&b, &o, item, n);
    if (b.n < 8 || memcmp(b.p, "PREVIOUS", 8))
        abort();
    if (!ok) {
        if (b.n != 8 || b.overflow)
            abort();
    } else {
        const char *f = b.p + 8, *end = b.p + b.n;
        size_t len = 0, i = 0;
        while (f + i < end && f[i] >= '0' && f[i] <= '9' && i < 20)
            len = len * 10 + (size_t)(f[i++] - '0');
        if (!i || f + i >= end || f[i] != ' ' || len != (size_t)(end - (f + i + 1)))
            abort();
        const char *msg = f + i + 1;
        if (len < n || memcmp(end - n, item, n) || len - n < 10 || msg[0] != '<')
            abort();
        for (const char *h = msg; h < end - n; h++)
            if ((unsigned char)*h < 0x20 || *h == 0x7f)
                abort();
    }
    vg_buf_free(&b);
    free(item);
    return 0;
}

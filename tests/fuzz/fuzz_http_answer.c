/*
 * fuzz_http_answer.c - libFuzzer target: what the http transport reads from
 * a peer (agent/http_format.c) and the request bodies it builds from
 * spooled items.
 *
 * The first input byte picks the function and its parameters; the rest is
 * the answer body (or the items, one per line):
 *   0  vg_http_classify(preset, status, body, nsent): a verdict among the
 *      documented ones; reject_all only with VG_OK and nsent <= 1.
 *   1  vg_http_es_items (Elasticsearch _bulk answer) for n items, some
 *      already VG_SEND_REJECT: those stay rejected, every status stays in
 *      the enum, and on VG_EPARSE the others are untouched.
 *   2  Splunk HEC vg_http_hec_ackid / vg_http_hec_acked.
 *   3  vg_http_parse_time on the body, then vg_http_body for the preset
 *      with one item per line; an item may carry a key index (reckeys.h)
 *      decoded from its line, as the spool gives it. Without indexes, every
 *      line of the body (the whole body for Loki) must be JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http_format.h"
#include "agent/reckeys.h"

#define MAX_ITEMS 64

static void check_json(const char *p, size_t n)
{
    json_error_t err;
    json_t *j = json_loadb(p, n, JSON_ALLOW_NUL, &err);
    if (!json_is_object(j)) {
        fprintf(stderr, "not a JSON object (%s): %.*s\n", err.text, (int)n, p);
        abort();
    }
    json_decref(j);
}

static void bodies(unsigned mode, const char *in, size_t n)
{
    int64_t ns;
    (void)vg_http_parse_time(in, n, &ns);
    vg_send_item items[MAX_ITEMS];
    vg_reckeys keys[MAX_ITEMS];
    vg_send_status st[MAX_ITEMS];
    size_t ni = 0, off = 0;
    bool indexed = false;
    while (off < n && ni < MAX_ITEMS) {
        const char *nl = memchr(in + off, '\n', n - off);
        size_t len = nl ? (size_t)(nl - (in + off)) : n - off;
        const char *line = in + off;
        size_t used = (mode & 8) ? vg_reckeys_decode(line, len, &keys[ni]) : 0;
        items[ni] = (vg_send_item){line + used, len - used, used ? &keys[ni] : NULL};
        indexed |= used != 0;
        ni++;
        off += len + 1;
    }
    vg_http_fmt f = {.preset = (vg_http_preset)((mode >> 4) % 5),
                     .index = (mode & 128) ? "vigie-\"idx\"" : NULL,
                     .now_ns = 1700000000123456789LL};
    vg_buf b;
    vg_buf_init(&b, (mode & 4) ? 256 : 1u << 22);
    size_t nsent = 0;
    vg_errbuf eb;
    vg_err e = vg_http_body(&f, items, ni, st, &nsent, &b, &eb);
    if (nsent > ni || (e && e != VG_ELIMIT && e != VG_ENOMEM))
        abort();
    size_t ok = 0;
    for (size_t i = 0; i < ni; i++) {
        if (st[i] != VG_SEND_OK && st[i] != VG_SEND_REJECT)
            abort();
        ok += st[i] == VG_SEND_OK;
    }
    if (ok != nsent)
        abort();
    if (!e && nsent && !indexed) {
        if (f.preset == VG_HTTP_LOKI) {
            check_json(b.p, b.n);
        } else {
            size_t o = 0;
            while (o < b.n) {
                const char *nl = memchr(b.p + o, '\n', b.n - o);
                if (!nl)
                    abort(); /* every row ends with a newline */
                check_json(b.p + o, (size_t)(nl - (b.p + o)));
                o = (size_t)(nl - b.p) + 1;
            }
        }
    }
    if (!nsent && b.n)
        abort();
    vg_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    unsigned mode = data[0], a = data[1], c = data[2];
    size_t n = size - 3;
    char *body = malloc(n ? n : 1);
    if (!body)
        return 0;
    memcpy(body, data + 3, n);
    vg_errbuf eb = {0};
    switch (mode & 3) {
    case 0: {
        static const long codes[] = {200, 201, 299, 300, 400, 401, 403, 404, 408, 413,
                                     422, 429, 500, 502, 503, 0,   -1,  99,  600, 1000};
        long status = codes[a % 20];
        bool rej = true;
        vg_err e = vg_http_classify((vg_http_preset)((mode >> 2) % 5), status,
                                    (mode & 64) ? NULL : body, n, c % 4, &rej, &eb);
        if (e != VG_OK && e != VG_EPERM && e != VG_ELIMIT && e != VG_EAGAIN)
            abort();
        if (rej && (e != VG_OK || c % 4 > 1))
            abort();
        if (strlen(eb.msg) >= sizeof eb.msg)
            abort();
        for (const char *p = eb.msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                abort(); /* the answer excerpt is terminal-safe */
        break;
    }
    case 1: {
        size_t ni = a % MAX_ITEMS;
        vg_send_status st[MAX_ITEMS], before[MAX_ITEMS];
        for (size_t i = 0; i < ni; i++)
            st[i] = before[i] = ((c >> (i % 8)) & 1) ? VG_SEND_REJECT : VG_SEND_OK;
        vg_err e = vg_http_es_items(body, n, st, ni, &eb);
        if (e != VG_OK && e != VG_EPARSE)
            abort();
        for (size_t i = 0; i < ni; i++) {
            if (st[i] != VG_SEND_OK && st[i] != VG_SEND_RETRY && st[i] != VG_SEND_REJECT)
                abort();
            if (before[i] == VG_SEND_REJECT && st[i] != VG_SEND_REJECT)
                abort();
            if (e && st[i] != before[i])
                abort();
        }
        break;
    }
    case 2: {
        long long id = -7;
        vg_err e = vg_http_hec_ackid(body, n, &id);
        if (e != VG_OK && e != VG_ENOTFOUND)
            abort();
        (void)vg_http_hec_acked(body, n, e ? (long long)a - 100 : id);
        break;
    }
    case 3:
        bodies(mode, body, n);
        break;
    }
    free(body);
    return 0;
}

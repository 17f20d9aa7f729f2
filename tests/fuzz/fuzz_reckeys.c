/*
 * fuzz_reckeys.c - libFuzzer target: vg_reckeys_decode on a hostile spool
 * record ("#<index>|<json>"). The input is copied to an exact-size buffer
 * (ASan catches a read past it). When an index is accepted, every key's
 * range must lie inside the JSON that follows it and be a '"'...'"' token
 * (what the transports rely on without parsing), and encoding the keys
 * again must give an index that decodes to the same keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/reckeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    vg_reckeys k;
    size_t used = vg_reckeys_decode(p, size, &k);
    if (used > size || used > VG_RECKEYS_MAX)
        abort();
    if (!used) {
        for (int i = 0; i < VG_RK_COUNT; i++)
            if (k.len[i] || k.off[i])
                abort(); /* no index: every key absent */
        free(p);
        return 0;
    }
    const char *json = p + used;
    size_t jn = size - used;
    for (int i = 0; i < VG_RK_COUNT; i++) {
        size_t n;
        const char *t = vg_reckeys_tok(&k, json, (vg_rk)i, &n);
        if (!t)
            continue;
        if (n < 2 || t < json || (size_t)(t - json) + n > jn || t[0] != '"' || t[n - 1] != '"')
            abort();
    }
    /* Round trip: the same keys, encoded then decoded against the same JSON. */
    char *again = malloc(VG_RECKEYS_MAX + jn);
    if (!again)
        abort();
    size_t en = vg_reckeys_encode(&k, again);
    if (!en || en > VG_RECKEYS_MAX)
        abort();
    memcpy(again + en, json, jn);
    vg_reckeys k2;
    if (vg_reckeys_decode(again, en + jn, &k2) != en || memcmp(&k, &k2, sizeof k))
        abort();
    free(again);
    free(p);
    return 0;
}

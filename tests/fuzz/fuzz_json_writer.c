/*
 * fuzz_json_writer.c - libFuzzer target: vg_json_str and vg_text_safe on
 * arbitrary bytes. The JSON string must parse with jansson (JSON_ALLOW_NUL)
 * and neither output may hold a byte < 0x20 (terminal safety).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/json.h"

static void no_controls(const vg_buf *b)
{
    for (size_t i = 0; i < b->n; i++)
        if ((unsigned char)b->p[i] < 0x20)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vg_buf b;
    vg_buf_init(&b, 1u << 22);
    vg_json_str(&b, (const char *)data, size);
    if (b.overflow)
        abort();
    no_controls(&b);
    json_error_t err;
    json_t *j = json_loadb(b.p, b.n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (!j || !json_is_string(j)) {
        fprintf(stderr, "invalid JSON: %s\n", err.text);
        abort();
    }
    json_decref(j);

    vg_buf_reset(&b);
    vg_text_safe(&b, (const char *)data, size);
    if (b.overflow)
        abort();
    no_controls(&b);
    vg_buf_free(&b);
    return 0;
}

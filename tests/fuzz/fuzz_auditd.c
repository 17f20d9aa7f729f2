/*
 * fuzz_auditd.c - libFuzzer target: the auditd parser over a whole stream.
 * The input is split into lines that all go through ONE parser state
 * (state_create / state_destroy), exercising the grouping of records into
 * process_creation events. Each line is its own heap copy, freed right after
 * its parse, and the arena is reset per line: the state must copy what it
 * keeps (ASan reports a use after free otherwise). Every event's fields are
 * serialized and read back with jansson.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/json.h"
#include "collectors/parser.h"

static void check_event(const vg_event *ev)
{
    if (ev->nfields > VG_EVENT_MAX_FIELDS)
        abort();
    vg_buf b;
    vg_buf_init(&b, 1u << 22);
    vg_buf_putc(&b, '{');
    for (uint16_t i = 0; i < ev->nfields; i++) {
        const vg_field *f = &ev->fields[i];
        if (!f->name.p || (f->value.n && !f->value.p))
            abort();
        if (i)
            vg_buf_putc(&b, ',');
        vg_json_str(&b, f->name.p, f->name.n);
        vg_buf_putc(&b, ':');
        vg_json_str(&b, f->value.p, f->value.n);
    }
    vg_buf_putc(&b, '}');
    if (!b.overflow) {
        json_error_t err;
        json_t *j = json_loadb(b.p, b.n, JSON_ALLOW_NUL, &err);
        if (!j) {
            fprintf(stderr, "invalid JSON: %s\n%.*s\n", err.text, (int)b.n, b.p);
            abort();
        }
        json_decref(j);
    }
    vg_buf_reset(&b);
    vg_json_str(&b, ev->message.p, ev->message.n); /* reads the message (ASan) */
    vg_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const vg_parser *p = vg_parser_find("auditd");
    if (!p || !p->state_create)
        abort();
    vg_arena arena;
    vg_arena_init(&arena, 64 * 1024);
    vg_parse_ctx ctx = {.arena = &arena, .now_ns = 1700000000LL * 1000000000LL};
    ctx.state = p->state_create();
    if (!ctx.state)
        return 0;
    vg_event *ev = malloc(sizeof *ev);
    if (!ev)
        abort();
    size_t i = 0;
    while (i <= size) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t n = nl ? (size_t)(nl - (data + i)) : size - i;
        char *line = malloc(n ? n : 1);
        if (!line)
            abort();
        memcpy(line, data + i, n);
        vg_event_clear(ev);
        ev->raw = (vg_str){line, n};
        p->parse(&ctx, ev);
        check_event(ev);
        free(line);
        vg_arena_reset(&arena);
        i += n + 1;
        if (!nl)
            break;
    }
    if (p->state_counters) {
        vg_parser_counter c[16];
        p->state_counters(ctx.state, c, 16);
    }
    p->state_destroy(ctx.state);
    free(ev);
    vg_arena_destroy(&arena);
    return 0;
}

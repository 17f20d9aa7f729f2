/*
 * fuzz_parser_common.h - the body shared by the per-format parser targets
 * (fuzz_syslog.c, fuzz_json.c, ...): each defines FUZZ_PARSER and includes
 * this file. One input = one record: the parser runs on it as ev->raw with a
 * small arena, then the event's invariants are checked and its fields are
 * serialized with vg_json_str, which jansson must read back (alerts stay
 * valid JSON whatever the line holds).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/json.h"
#include "collectors/parser.h"

#ifndef FUZZ_PARSER
#error "define FUZZ_PARSER"
#endif

#define FUZZ_ARENA_CAP (64 * 1024)

/* ASan poisons nothing here: a wild pointer is caught by reading it. */
static void touch(vg_str s)
{
    volatile unsigned char sink = 0;
    if (s.n && !s.p)
        abort();
    for (size_t i = 0; i < s.n; i++)
        sink ^= (unsigned char)s.p[i];
    (void)sink;
}

static void check_json(const vg_buf *b)
{
    if (b->overflow)
        return;
    json_error_t err;
    json_t *j = json_loadb(b->p, b->n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (!j) {
        fprintf(stderr, "invalid JSON from vg_json_str: %s\n%.*s\n", err.text, (int)b->n, b->p);
        abort();
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const vg_parser *p = vg_parser_find(FUZZ_PARSER);
    if (!p)
        abort();
    /* A copy of exactly `size` bytes: ASan catches a read past raw. */
    char *raw = malloc(size ? size : 1);
    if (!raw)
        return 0;
    memcpy(raw, data, size);

    vg_arena arena;
    vg_arena_init(&arena, FUZZ_ARENA_CAP);
    vg_parse_ctx ctx = {.arena = &arena, .tz = NULL, .now_ns = 1700000000LL * 1000000000LL};
    if (p->state_create)
        ctx.state = p->state_create();
    vg_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        abort();
    vg_event_clear(ev);
    ev->raw = (vg_str){raw, size};
    p->parse(&ctx, ev);

    if (ev->nfields > VG_EVENT_MAX_FIELDS)
        abort();
    touch(ev->hostname);
    touch(ev->program);
    touch(ev->pid);
    touch(ev->message);
    vg_buf b;
    vg_buf_init(&b, 1u << 22);
    vg_buf_putc(&b, '{');
    for (uint16_t i = 0; i < ev->nfields; i++) {
        const vg_field *f = &ev->fields[i];
        if (!f->name.p) /* an empty name is possible: JSON key "" */
            abort();
        touch(f->name);
        touch(f->value);
        if (!vg_event_get(ev, f->name))
            abort();
        if (i)
            vg_buf_putc(&b, ',');
        vg_json_str(&b, f->name.p, f->name.n);
        vg_buf_putc(&b, ':');
        vg_json_str(&b, f->value.p, f->value.n);
    }
    vg_buf_putc(&b, '}');
    check_json(&b);
    vg_buf_free(&b);

    if (p->state_destroy && ctx.state)
        p->state_destroy(ctx.state);
    free(ev);
    vg_arena_destroy(&arena);
    free(raw);
    return 0;
}

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
#include "fuzz_lines.h"

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

typedef struct one_line {
    const vg_parser *p;
    vg_parse_ctx *ctx;
    vg_event *ev;
    vg_arena *arena;
} one_line;

/* One record through the shared parser state. */
static void parse_line(void *ud, const char *line, size_t n)
{
    one_line *l = ud;
    vg_event_clear(l->ev);
    l->ev->raw = (vg_str){line, n};
    l->p->parse(l->ctx, l->ev);
    check_event(l->ev);
    vg_arena_reset(l->arena);
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
    one_line l = {p, &ctx, ev, &arena};
    fuzz_each_line(data, size, parse_line, &l);
    if (p->state_counters) {
        vg_parser_counter c[16];
        p->state_counters(ctx.state, c, 16);
    }
    p->state_destroy(ctx.state);
    free(ev);
    vg_arena_destroy(&arena);
    return 0;
}

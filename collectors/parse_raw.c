/*
 * parse_raw.c - the format of last resort: the whole line is the message.
 * Nothing is trimmed or decoded; no timestamp is read (the pipeline uses the
 * time of reading when ts_ns is 0).
 */
#include "parser.h"

static void parse_raw(const vg_parse_ctx *ctx, vg_event *ev)
{
    ev->message = ev->raw.p ? ev->raw : (vg_str){"", 0};
    vg_event_set(ev, VG_STR("message"), ev->message);
}

static const char *const fields_raw[] = {"message", NULL};

const vg_parser vg_parser_raw = {
    .name = "raw",
    .help = "any text: the whole line is the message, no fields",
    .parse = parse_raw,
    .fields = fields_raw,
};

/*
 * parse_json.c - JSON lines (one object per line), flattened with dots.
 *
 * {"a":{"b":1},"c":[true,"x"]} gives fields a.b=1, c.0=true, c.1=x. Keys are
 * kept byte for byte. Values become text in the arena: strings as decoded
 * (may hold NUL), integers in decimal, reals in the shortest form that reads
 * back exactly ("1.0" gives "1"), true/false as words. null, {} and [] add no
 * field (Sigma's `field: null` then matches, as it matches a missing field).
 * Bounds: depth FLAT_DEPTH, ARRAY_MAX elements per array, names of FLAT_NAME
 * bytes, VG_EVENT_MAX_FIELDS fields; whatever is cut sets VG_EV_FIELDS_DROPPED.
 *
 * Well-known keys at the top level are read first so the field cap never
 * hides them: time from @timestamp / timestamp / time (ISO 8601, or epoch
 * seconds, ms, us or ns as a number or digit string) or __REALTIME_TIMESTAMP
 * (journald, us); message from message / msg / MESSAGE (else the raw line);
 * hostname from host / hostname / host.name / _HOSTNAME; program from
 * program / SYSLOG_IDENTIFIER; pid from pid / _PID / SYSLOG_PID. Each is also
 * set under its Sigma name (message, hostname, program, pid) unless the
 * object has a key of that name. Anything that is not a JSON object keeps
 * message = raw and gets VG_EV_PARSE_FAILED.
 */
#include "parser.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAT_DEPTH 16
#define FLAT_NAME 256
#define ARRAY_MAX 32

typedef struct flat {
    const vg_parse_ctx *ctx;
    vg_event *ev;
    char name[FLAT_NAME];
    size_t nlen;
} flat;

static vg_str arena_copy(flat *f, const char *p, size_t n)
{
    char *d = f->ctx && f->ctx->arena ? vg_arena_alloc(f->ctx->arena, n ? n : 1) : NULL;
    if (!d)
        return VG_STR_NULL;
    if (n)
        memcpy(d, p, n);
    return (vg_str){d, n};
}

/* Text of a scalar into buf (or *out pointing at the string); false for null/containers. */
static bool scalar_text(json_t *v, char *buf, size_t size, const char **out, size_t *outn)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        *out = json_string_value(v);
        *outn = json_string_length(v);
        return true;
    case JSON_INTEGER: {
        int k = snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = buf;
        *outn = k > 0 ? (size_t)k : 0;
        return true;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        int k = 0;
        for (int prec = 15; prec <= 17; prec++) {
            k = snprintf(buf, size, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        *out = buf;
        *outn = k > 0 ? (size_t)k : 0;
        return true;
    }
    case JSON_TRUE:
        *out = "true";
        *outn = 4;
        return true;
    case JSON_FALSE:
        *out = "false";
        *outn = 5;
        return true;
    default:
        return false;
    }
}

static void emit(flat *f, json_t *v)
{
    vg_event *ev = f->ev;
    char num[64];
    const char *t;
    size_t tn;
    if (!scalar_text(v, num, sizeof num, &t, &tn))
        return;
    if (ev->nfields >= VG_EVENT_MAX_FIELDS) {
        ev->flags |= VG_EV_FIELDS_DROPPED;
        return;
    }
    vg_str name = arena_copy(f, f->name, f->nlen);
    /* Literal words need no copy; everything else is copied (jansson's memory goes away). */
    vg_str value = (t == num || json_is_string(v)) ? arena_copy(f, t, tn) : (vg_str){t, tn};
    if (!name.p || !value.p) {
        ev->flags |= VG_EV_FIELDS_DROPPED;
        return;
    }
    vg_event_set(ev, name, value);
}

/* Append ".seg" (or "seg" at the top) to the name; false if it does not fit. */
static bool push(flat *f, const char *seg, size_t n)
{
    size_t dot = f->nlen ? 1 : 0;
    if (f->nlen + dot + n > sizeof f->name)
        return false;
    if (dot)
        f->name[f->nlen] = '.';
    memcpy(f->name + f->nlen + dot, seg, n);
    f->nlen += dot + n;
    return true;
}

// NOLINTNEXTLINE(misc-no-recursion): bounded by FLAT_DEPTH
static void flatten(flat *f, json_t *v, int depth)
{
    size_t saved = f->nlen;
    if (json_is_object(v)) {
        if (depth >= FLAT_DEPTH) {
            f->ev->flags |= VG_EV_FIELDS_DROPPED;
            return;
        }
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            if (!push(f, json_object_iter_key(it), json_object_iter_key_len(it))) {
                f->ev->flags |= VG_EV_FIELDS_DROPPED;
                continue;
            }
            flatten(f, json_object_iter_value(it), depth + 1);
            f->nlen = saved;
        }
    } else if (json_is_array(v)) {
        if (depth >= FLAT_DEPTH) {
            f->ev->flags |= VG_EV_FIELDS_DROPPED;
            return;
        }
        size_t n = json_array_size(v);
        if (n > ARRAY_MAX) {
            f->ev->flags |= VG_EV_FIELDS_DROPPED;
            n = ARRAY_MAX;
        }
        for (size_t i = 0; i < n; i++) {
            char idx[24];
            int k = snprintf(idx, sizeof idx, "%zu", i);
            if (!push(f, idx, (size_t)k)) {
                f->ev->flags |= VG_EV_FIELDS_DROPPED;
                break;
            }
            flatten(f, json_array_get(v, i), depth + 1);
            f->nlen = saved;
        }
    } else {
        emit(f, v);
    }
}

/* Keys read before the others, in this order (first match wins per role). */
static const char *const first_keys[] = {
    "@timestamp", "timestamp", "time",       "__REALTIME_TIMESTAMP",
    "message",    "msg",       "MESSAGE",    "host",
    "hostname",   "_HOSTNAME", "program",    "SYSLOG_IDENTIFIER",
    "pid",        "_PID",      "SYSLOG_PID",
};

static bool is_first_key(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof first_keys / sizeof first_keys[0]; i++)
        if (strlen(first_keys[i]) == n && memcmp(first_keys[i], k, n) == 0)
            return true;
    return false;
}

/* Epoch number -> ns, unit guessed from magnitude (s, ms, us, ns). */
static bool epoch_ns(double x, int64_t *ts)
{
    double a = x < 0 ? -x : x;
    double ns;
    if (a < 1e11)
        ns = x * 1e9;
    else if (a < 1e14)
        ns = x * 1e6;
    else if (a < 1e17)
        ns = x * 1e3;
    else
        ns = x;
    if (!(ns > -9.2e18 && ns < 9.2e18))
        return false;
    *ts = (int64_t)ns;
    return true;
}

/* Integer epoch -> ns: microseconds if `micros`, else the unit guessed from magnitude. */
static bool epoch_int_ns(int64_t x, bool micros, int64_t *ts)
{
    if (x == INT64_MIN)
        return false;
    int64_t a = x < 0 ? -x : x, mul;
    if (micros)
        mul = 1000; // NOLINT(bugprone-branch-clone): same factor as the 1e14..1e17 guess, kept apart for clarity
    else if (a < 100000000000LL) /* < 1e11: seconds */
        mul = 1000000000;
    else if (a < 100000000000000LL) /* < 1e14: milliseconds */
        mul = 1000000;
    else if (a < 100000000000000000LL) /* < 1e17: microseconds */
        mul = 1000;
    else
        mul = 1;
    return !__builtin_mul_overflow(x, mul, ts);
}

static bool time_of(const vg_parse_ctx *ctx, json_t *v, bool micros, int64_t *ts)
{
    if (json_is_integer(v))
        return epoch_int_ns(json_integer_value(v), micros, ts);
    if (json_is_real(v))
        return epoch_ns(json_real_value(v), ts);
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (vg_parse_iso8601(s, n, ctx ? ctx->tz : NULL, ts))
        return true;
    /* A digit string: epoch (journald's __REALTIME_TIMESTAMP is in microseconds). */
    if (n == 0 || n > 18)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    return epoch_int_ns(x, micros, ts);
}

/* First present field among names (already flattened), or NULL. */
static const vg_str *first_field(const vg_event *ev, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const vg_str *v = vg_event_get(ev, (vg_str){names[i], strlen(names[i])});
        if (v)
            return v;
    }
    return NULL;
}

static void set_alias(vg_event *ev, const char *name, vg_str value)
{
    vg_str n = {name, strlen(name)};
    if (!vg_event_get(ev, n))
        vg_event_set(ev, n, value);
}

static void parse_json(const vg_parse_ctx *ctx, vg_event *ev)
{
    json_error_t jerr;
    json_t *root = NULL;
    if (ev->raw.p && ev->raw.n)
        root = json_loadb(ev->raw.p, ev->raw.n, JSON_ALLOW_NUL, &jerr);
    if (!root || !json_is_object(root)) {
        ev->message = ev->raw.p ? ev->raw : (vg_str){"", 0};
        ev->flags |= VG_EV_PARSE_FAILED;
        vg_event_set(ev, VG_STR("message"), ev->message);
        json_decref(root);
        return;
    }

    flat f = {.ctx = ctx, .ev = ev, .nlen = 0};
    /* Well-known keys first, leaving room for the four Sigma-named aliases. */
    for (size_t i = 0; i < sizeof first_keys / sizeof first_keys[0]; i++) {
        json_t *v = json_object_get(root, first_keys[i]);
        if (!v)
            continue;
        f.nlen = 0;
        push(&f, first_keys[i], strlen(first_keys[i]));
        flatten(&f, v, 1);
    }
    static const char *const tkeys[] = {"@timestamp", "timestamp", "time"};
    bool have_ts = false;
    for (size_t i = 0; i < 3 && !have_ts; i++) {
        json_t *v = json_object_get(root, tkeys[i]);
        have_ts = v && time_of(ctx, v, false, &ev->ts_ns);
    }
    if (!have_ts) {
        json_t *v = json_object_get(root, "__REALTIME_TIMESTAMP");
        if (v)
            time_of(ctx, v, true, &ev->ts_ns);
    }
    /* The rest, capped so the aliases below still fit. */
    size_t room = VG_EVENT_MAX_FIELDS - 4;
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *k = json_object_iter_key(it);
        size_t kn = json_object_iter_key_len(it);
        if (is_first_key(k, kn))
            continue;
        f.nlen = 0;
        if (!push(&f, k, kn)) {
            ev->flags |= VG_EV_FIELDS_DROPPED;
            continue;
        }
        if (ev->nfields >= room) {
            ev->flags |= VG_EV_FIELDS_DROPPED;
            break;
        }
        flatten(&f, json_object_iter_value(it), 1);
        if (ev->nfields > room) { /* a nested value overflowed the room: undo the excess */
            ev->nfields = (uint16_t)room;
            ev->flags |= VG_EV_FIELDS_DROPPED;
        }
    }
    json_decref(root);

    static const char *const mk[] = {"message", "msg", "MESSAGE"};
    static const char *const hk[] = {"host", "hostname", "host.name", "_HOSTNAME"};
    static const char *const pk[] = {"program", "SYSLOG_IDENTIFIER"};
    static const char *const ik[] = {"pid", "_PID", "SYSLOG_PID"};
    const vg_str *v;
    if ((v = first_field(ev, mk, 3)))
        ev->message = *v;
    else
        ev->message = ev->raw;
    if ((v = first_field(ev, hk, 4)))
        ev->hostname = *v;
    if ((v = first_field(ev, pk, 2)))
        ev->program = *v;
    if ((v = first_field(ev, ik, 3)))
        ev->pid = *v;

    if (ev->hostname.p)
        set_alias(ev, "hostname", ev->hostname);
    if (ev->program.p) {
        set_alias(ev, "program", ev->program);
        ev->service2 = vg_program_service(ev->program);
    }
    if (ev->pid.p)
        set_alias(ev, "pid", ev->pid);
    set_alias(ev, "message", ev->message);
}

const vg_parser vg_parser_json = {
    .name = "json",
    .help = "JSON lines: one object per line, nested keys flattened with dots (a.b.c, list.0)",
    .parse = parse_json,
};

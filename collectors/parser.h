/*
 * parser.h - format parsers: pure functions from a record's bytes to fields.
 *
 * A parser reads ev->raw (set by the collector) and fills ev->ts_ns,
 * ev->hostname/program/pid/message, ev->service2 and ev->fields. It does no
 * I/O and keeps no state between calls; decoded values go to ctx->arena.
 * It never fails hard: a line it does not recognise keeps message = raw, gets
 * VG_EV_PARSE_FAILED, and the caller counts it. Parsers must be safe on any
 * bytes (NUL, invalid UTF-8, any length).
 *
 * Adding a format: one file collectors/parse_<name>.c defining a const
 * vg_parser and one line in the registry (parser.c).
 */
#ifndef VG_PARSER_H
#define VG_PARSER_H

#include "../agent/event.h"
#include "../agent/tz.h"

typedef struct vg_parse_ctx {
    vg_arena *arena;       /* for decoded values; may run out (then fields are dropped) */
    const vg_tz *tz;       /* zone of timestamps that carry none (RFC 3164); NULL = UTC */
    int64_t now_ns;        /* reference time to infer a missing year */
    void *state;           /* the parser's state for this stream (state_create), or NULL */
} vg_parse_ctx;

/* A named counter of a parser's state; name is static. */
typedef struct vg_parser_counter {
    const char *name;
    uint64_t value;
} vg_parser_counter;

typedef struct vg_parser {
    const char *name; /* "syslog", "json", "raw", ... as written in the config */
    const char *help; /* one line for the configuration reference */
    void (*parse)(const vg_parse_ctx *ctx, vg_event *ev);
    /* For formats whose records span lines (auditd): the explicit state,
       one per input (per file in `scan`), created and destroyed by the
       caller. NULL for stateless parsers. */
    void *(*state_create)(void);
    void (*state_destroy)(void *state);
    /* The state's counters (what its bounds dropped, ...), for metrics:
       fills at most max entries of out and returns how many. NULL if none. */
    size_t (*state_counters)(const void *state, vg_parser_counter *out, size_t max);
    /* The field names this parser can set (NULL-terminated), for `vigie rules
       check -c` to name rule fields no input produces. NULL = open-ended
       (JSON keys, auditd record keys). */
    const char *const *fields;
} vg_parser;

/* Registry lookup by name; NULL when unknown. */
const vg_parser *vg_parser_find(const char *name);
/* NULL-terminated list of all parsers (for help texts and validation). */
const vg_parser *const *vg_parser_all(void);

/*
 * Normalise a syslog program name: "sshd(pam_unix)" -> program "sshd" and
 * module "pam_unix"; "/usr/sbin/cron" -> "cron". Also returns the service
 * name Sigma rules use for that program (e.g. "sshd", "sudo", "cron",
 * "su"), or NULL. Exposed for the journald collector.
 */
const char *vg_program_service(vg_str program);

/* Every service vg_program_service can return (NULL-terminated). */
const char *const *vg_program_services(void);

/*
 * Shared by the parsers: an ISO 8601 / RFC 3339 timestamp at the start of
 * p[0..n): "YYYY-MM-DD(T|t| )hh:mm[:ss][(.|,)frac][Z|+hh[:]mm|-hh[:]mm]".
 * Without a zone the time is local to tz (NULL = UTC). On success stores Unix
 * ns in *ts_ns and returns the bytes consumed; returns 0 (and leaves *ts_ns)
 * when p does not start with such a timestamp or it is out of range.
 */
size_t vg_parse_iso8601(const char *p, size_t n, const vg_tz *tz, int64_t *ts_ns);

extern const vg_parser vg_parser_syslog; /* RFC 3164, RFC 5424, ISO 8601 (rsyslog) */
extern const vg_parser vg_parser_json;   /* JSON lines, flattened with dots */
extern const vg_parser vg_parser_raw;    /* message = whole line */
extern const vg_parser vg_parser_access; /* web access logs: combined / common / nginx */
extern const vg_parser vg_parser_squid;  /* squid access.log (native or combined), proxy fields */
extern const vg_parser vg_parser_auditd;  /* audit.log records, process_creation merge */

#endif

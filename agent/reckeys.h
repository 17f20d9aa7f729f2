/*
 * reckeys.h - where the key values of a record are, recorded by the builder
 * that wrote the record, so the network transports need not parse it.
 *
 * Alerts, raw-event records and heartbeats are JSON built by Vigie itself
 * (alert.c, pipeline.c). Transports need a dozen of their values (event.id,
 * host.name, rule.level, the message, ...) to build ClickHouse rows, _bulk
 * actions or RFC 5424 headers; parsing each ~1 KB record with jansson cost
 * more than everything else on the delivery path. So the builder notes the
 * byte range of each value's JSON token (a string with its quotes, already
 * escaped) as it writes it, the pipeline stores that index in the spool
 * record before the JSON, and the sender hands it to the transport with the
 * item. A record without an index (or one whose index does not check out
 * against the JSON: ranges inside it, tokens that start and end with '"')
 * is parsed the slow way: the index is an optimisation, never trusted blindly.
 *
 * Spool record layout: kind, level, then "#<index>|" then the JSON. The
 * index is ASCII (never '\n'): "<ts_ns>,<severity>" then for each key
 * ",<off>:<len>" (len 0 = absent).
 */
#ifndef VG_RECKEYS_H
#define VG_RECKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum vg_rk {
    VG_RK_ID = 0,    /* event.id */
    VG_RK_KIND,      /* event.kind */
    VG_RK_HOST,      /* host.name */
    VG_RK_AGENT,     /* agent.id */
    VG_RK_RULE_ID,   /* rule.id */
    VG_RK_RULE_NAME, /* rule.name */
    VG_RK_LEVEL,     /* rule.level */
    VG_RK_SOURCE_IP, /* source.ip */
    VG_RK_USER,      /* user.name */
    VG_RK_MESSAGE,   /* message */
    VG_RK_PATH,      /* log.file.path, log.journald_unit or log.source.address */
    VG_RK_COUNT
} vg_rk;

typedef struct vg_reckeys {
    int64_t ts_ns;   /* @timestamp, ns since the epoch */
    int severity;    /* event.severity (0 = none) */
    uint32_t off[VG_RK_COUNT], len[VG_RK_COUNT]; /* JSON string token, quotes included */
} vg_reckeys;

#define VG_RECKEYS_MAX 256 /* bytes of an encoded index, at most */

/* Forget every key (all absent). */
void vg_reckeys_clear(vg_reckeys *k);

/* Encode as "#...|" into out (at least VG_RECKEYS_MAX bytes); returns its length. */
size_t vg_reckeys_encode(const vg_reckeys *k, char *out);

/*
 * Decode the index at the start of p[0..n) (starting with '#') and check it
 * against the JSON that follows: every range inside the JSON and a string
 * token ('"' at both ends). Returns the bytes the index took (the JSON starts
 * there), or 0 when there is no valid index (then k is cleared and the
 * record is used whole, as JSON).
 */
size_t vg_reckeys_decode(const char *p, size_t n, vg_reckeys *k);

/* The token of key i within json, or NULL (absent). *len gets its length. */
static inline const char *vg_reckeys_tok(const vg_reckeys *k, const char *json, vg_rk i,
                                         size_t *len)
{
    *len = k->len[i];
    return k->len[i] ? json + k->off[i] : NULL;
}

#endif

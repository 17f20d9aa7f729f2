/*
 * syslog_fmt.h - one spooled item (alert, raw event, heartbeat JSON) as an
 * RFC 5424 message, framed with octet counting (RFC 6587 section 3.4.1).
 *
 *   LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [vigie@32473 ...] JSON
 *
 * - PRI: facility * 8 + severity; severity from rule.level (critical 2,
 *   high 3, medium 4, low 5, informational 6); an alert without a known
 *   level is notice (5), raw events and heartbeats are info (6).
 * - TIMESTAMP: the item's "@timestamp" when it is an RFC 3339 time RFC 5424
 *   accepts (at most 6 fraction digits), else the NILVALUE "-".
 * - HOSTNAME: host.name, else opts->hostname, else "-"; APP-NAME: opts;
 *   PROCID "-"; MSGID: event.kind ("alert", "event", "state") or "-".
 *   Header fields are PRINTUSASCII only (RFC 5424 section 6): any other byte
 *   becomes '_', and they are cut at the RFC's lengths (255, 48, 32).
 * - STRUCTURED-DATA: one element with the SD-ID vigie@32473 (32473 is the
 *   enterprise number RFC 5612 reserves for documentation: there is no
 *   registered one for Vigie) and the params id (event.id), rule (rule.id),
 *   name (rule.name), level (rule.level), each only when present, values cut
 *   at 256 bytes on a UTF-8 boundary, '"' '\' ']' escaped with '\' (section
 *   6.3.3), control characters replaced by '?'. "-" when none is present.
 * - MSG: the item bytes unchanged (BOM-less; an item is one JSON object
 *   without raw newline). The frame is counted, so even a hostile item
 *   (newlines, NULs) stays one frame.
 *
 * Pure: no I/O, no globals; the item is parsed with jansson. An item that is
 * not a JSON object is still sent, with "-" in the fields it would give.
 */
#ifndef VG_SYSLOG_FMT_H
#define VG_SYSLOG_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "json.h"

#define VG_SYSLOG_FACILITY_LOCAL0 16
#define VG_SYSLOG_FACILITY_DEFAULT VG_SYSLOG_FACILITY_LOCAL0
#define VG_SYSLOG_SD_VALUE_MAX 256 /* bytes of one SD-PARAM value before escaping */

typedef struct vg_syslog_fmt_opts {
    int facility;         /* 0..23 (out of range: VG_SYSLOG_FACILITY_DEFAULT) */
    const char *app_name; /* NULL or "": "vigie" */
    const char *hostname; /* when the item has no host.name; NULL: "-" */
} vg_syslog_fmt_opts;

/* RFC 5424 severity (2..6) of a Sigma level name; -1 when unknown. */
int vg_syslog_severity(const char *level);

/*
 * Append one frame "LEN SP MSG" for item[0..len) to b. Returns false when b
 * overflowed (its max is reached): b is then restored to its length before
 * the call, so the frames already in it stay whole; the caller counts the
 * item as too large.
 */
bool vg_syslog_frame(vg_buf *b, const vg_syslog_fmt_opts *o, const char *item, size_t len);

/* Split an output's `address` ("host:port", "[v6]:port", "host", a bare v6
   address) into *host and *port (decimal text; default_port when absent),
   both malloc'ed. VG_ECONFIG names what is wrong. Shared by syslog and relp. */
vg_err vg_addr_parse(const char *addr, long default_port, char **host, char **port,
                     vg_errbuf *eb);

#endif

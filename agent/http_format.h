/*
 * http_format.h - what the http transport puts on the wire, and how it reads
 * the answers: pure functions over bytes (no I/O), one per preset, so each
 * is a unit-tested table of (items -> body) and (answer -> verdict).
 *
 * Presets:
 *   webhook        NDJSON, one item per line.
 *   clickhouse     `INSERT INTO <table> FORMAT JSONEachRow`, one flat row per
 *                  item (see packaging/clickhouse.sql for the columns).
 *   elasticsearch  `_bulk` with a `create` action per item, `_id` = event.id.
 *   splunk_hec     HEC event envelopes {"time","host","sourcetype","event"}.
 *   loki           push API JSON, streams labelled {host, kind, level}.
 */
#ifndef VG_HTTP_FORMAT_H
#define VG_HTTP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "json.h"
#include "transport.h"

typedef enum vg_http_preset {
    VG_HTTP_WEBHOOK = 0,
    VG_HTTP_CLICKHOUSE,
    VG_HTTP_ELASTICSEARCH,
    VG_HTTP_SPLUNK_HEC,
    VG_HTTP_LOKI,
} vg_http_preset;

/* "clickhouse" -> VG_HTTP_CLICKHOUSE; NULL means webhook. VG_ECONFIG if unknown. */
vg_err vg_http_preset_parse(const char *name, vg_http_preset *out, vg_errbuf *eb);
const char *vg_http_preset_name(vg_http_preset p);

/*
 * The URL a batch is POSTed to, from the configured base URL:
 *   clickhouse     base?query=INSERT%20INTO%20<table>%20FORMAT%20JSONEachRow&...
 *                  ('&' instead of '?' when base already has a query)
 *   elasticsearch  base/_bulk          splunk_hec  base/services/collector/event
 *   loki           base/loki/api/v1/push         webhook     base unchanged
 * (a trailing '/' of base is not doubled). The table name must be
 * [A-Za-z0-9_.] (VG_ECONFIG otherwise: it goes into SQL). Returns a heap
 * string in *out (free()).
 */
vg_err vg_http_post_url(vg_http_preset p, const char *base, const char *table, char **out,
                        vg_errbuf *eb);

/* base + path without a doubled '/' (heap string, NULL on allocation failure). */
char *vg_http_url_join(const char *base, const char *path);

typedef struct vg_http_fmt {
    vg_http_preset preset;
    const char *index; /* elasticsearch */
    int64_t now_ns;    /* time of items without a readable @timestamp */
} vg_http_fmt;

/*
 * Build the body for items[0..n) into b (reset first). An item that is not a
 * JSON object gets status[i] = VG_SEND_REJECT and is left out; the others get
 * VG_SEND_OK and are in the body, in order; *nsent counts them.
 * Returns VG_ELIMIT when b's maximum was reached (the caller splits), VG_OK
 * otherwise (also when nothing is left to send: *nsent == 0).
 */
vg_err vg_http_body(const vg_http_fmt *f, const vg_send_item *items, size_t n,
                    vg_send_status *status, size_t *nsent, vg_buf *b, vg_errbuf *eb);

/*
 * Verdict on a whole-request answer (HTTP status, response body) for a
 * request that carried nsent items:
 *   2xx                    VG_OK
 *   401, 403               VG_EPERM ("check the token / certificate")
 *   413                    VG_ELIMIT
 *   400 (and ClickHouse's data errors, which 18.16 answers with 500 and a
 *   "Code: N" of a parse error), 422: the data is refused:
 *       nsent > 1          VG_ELIMIT (the sender halves down to single items)
 *       nsent == 1         VG_OK with *reject_all = true (dead-letter it)
 *   anything else (404, 408, 429, 5xx, ...) VG_EAGAIN
 * eb gets the status and a terminal-safe excerpt of the body.
 */
vg_err vg_http_classify(vg_http_preset p, long status, const char *body, size_t blen, size_t nsent,
                        bool *reject_all, vg_errbuf *eb);

/*
 * Elasticsearch _bulk answer -> per-item status. The answer's items map, in
 * order, to the entries of status[0..n) that are not already VG_SEND_REJECT.
 * Per item: 2xx or 409 (already created) -> OK, 429 or 5xx -> RETRY, other
 * 4xx -> REJECT. VG_EPARSE when the answer is not JSON or has the wrong
 * number of items (the caller retries the whole batch; creates are
 * idempotent).
 */
vg_err vg_http_es_items(const char *body, size_t blen, vg_send_status *status, size_t n,
                        vg_errbuf *eb);

/* Splunk HEC: the "ackId" of an event answer (VG_ENOTFOUND when indexer
   acknowledgement is off), and whether an /ack answer says id is acked. */
vg_err vg_http_hec_ackid(const char *body, size_t blen, long long *ack_id);
bool vg_http_hec_acked(const char *body, size_t blen, long long ack_id);

/* RFC 3339 time ("2024-03-01T10:00:00.123456Z", "+01:00" offsets) -> ns since the epoch. */
bool vg_http_parse_time(const char *s, size_t n, int64_t *ns);

/* A gzip compressor kept between calls (its tables cost up to ~1 MB;
   allocating them per batch costs page faults). Zero-initialise. */
typedef struct vg_gzip {
    struct libdeflate_compressor *c;
    int level;
} vg_gzip;

/* gzip (RFC 1952) of p[0..n) at level into out (reset first), with z's
   compressor (made or remade for level); VG_ELIMIT if out's maximum is hit. */
vg_err vg_http_gzip(vg_gzip *z, const char *p, size_t n, int level, vg_buf *out, vg_errbuf *eb);
void vg_gzip_free(vg_gzip *z);

#endif

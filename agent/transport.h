/*
 * transport.h - the seam every network destination implements (http with
 * its presets, syslog over TCP/TLS, relp).
 *
 * A transport does not own any queue. The sender (sender.c) runs one thread
 * per spooled output: it reads records from the spool at that output's own
 * cursor, hands a batch to send(), acknowledges what the transport says was
 * delivered, retries the rest with exponential back-off and jitter, writes
 * rejected items to the dead-letter file, and halves a batch on VG_ELIMIT.
 * So a transport is one synchronous exchange at a time, on the sender's
 * thread; only wake() is called from another thread.
 *
 * Items are single JSON objects without newline: alerts (ECS JSON, as the
 * alert module builds them), raw events (`"event":{"kind":"event"}`) and
 * heartbeats (`"event":{"kind":"state"}`), each with "@timestamp" and
 * "event.id" where it has one. A transport formats them for its peer
 * (JSONEachRow rows, _bulk actions, RFC 5424 lines, ...).
 *
 * Adding a transport: one file agent/send_<type>.c with a const
 * vg_transport_ops, and one line in the registry (sender.c).
 */
#ifndef VG_TRANSPORT_H
#define VG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "stats.h"

struct vg_reckeys;

typedef struct vg_send_item {
    const char *data; /* one JSON object, not NUL-terminated */
    size_t len;
    /* Where its key values are (reckeys.h), checked against data; NULL when
       unknown: the transport parses data itself. */
    const struct vg_reckeys *keys;
} vg_send_item;

typedef enum vg_send_status {
    VG_SEND_OK = 0,  /* delivered (or already there: a 409 on a create of the same _id) */
    VG_SEND_RETRY,   /* not delivered; send again later */
    VG_SEND_REJECT,  /* the peer refused this item as malformed: dead-letter, never resend */
} vg_send_status;

typedef struct vg_transport_ops {
    const char *type; /* the output's `type:` ("http", "syslog", "relp") */
    /* Check the configuration (certificates and token files exist and are
       not readable by others, the URL parses, ...) and prepare; no network
       I/O yet. Errors name the option. */
    vg_err (*create)(const vg_output_conf *conf, vg_stats *st, void **self, vg_errbuf *eb);
    /*
     * Deliver items[0..n). Blocks at most the output's timeout. Returns
     *   VG_OK      the exchange completed; status[i] says what became of each item;
     *   VG_EAGAIN  transport failure (connect, TLS, timeout, 429, 5xx): nothing
     *              delivered, eb says why (the sender logs it rate-limited);
     *   VG_EPERM   401/403 or a refused certificate: like EAGAIN, but the sender
     *              logs it as an error at every retry (not the batch's fault);
     *   VG_ELIMIT  the peer says the batch is too large (413): the sender splits it.
     * A wake() during send() makes it return VG_EAGAIN promptly.
     */
    vg_err (*send)(void *self, const vg_send_item *items, size_t n, vg_send_status *status,
                   vg_errbuf *eb);
    /* From any thread: interrupt a blocking send() (the agent is stopping). */
    void (*wake)(void *self);
    void (*destroy)(void *self);
} vg_transport_ops;

extern const vg_transport_ops vg_transport_http;
extern const vg_transport_ops vg_transport_syslog;
/* Built without librelp, its create() fails with a message saying so. */
extern const vg_transport_ops vg_transport_relp;

const vg_transport_ops *vg_transport_find(const char *type);

#endif

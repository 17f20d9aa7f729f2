/*
 * listen.h - the syslog listener input (type "syslog"): messages sent to the
 * agent over UDP, TCP or a local unix datagram socket, for appliances,
 * biomedical devices and hosts that can only send syslog.
 *
 * A listener thread owns the sockets and never stops reading them: each
 * message is cut at max_message bytes (flagged truncated), checked against
 * its sender's rate limit, and put on a bounded in-memory queue; when the
 * queue is full the message is dropped and counted. So a slow pipeline (or
 * an alert spool in `block` mode) never stalls a local `logger` or an
 * appliance: what cannot be kept is counted, not waited for. The pipeline
 * thread takes messages from the queue in read(); fd() is an eventfd that
 * becomes readable when the queue has messages.
 *
 * TLS (RFC 5425) is TCP with a TLS layer on its own port: the same framing,
 * the listener's certificate and key from files (the key must not be
 * readable by others), optional client certificates checked against a CA.
 * A handshake must finish within 10 s.
 *
 * TCP framing is detected per connection from its first bytes (RFC 6587):
 * "DIGITS SP" is octet counting (a message may then hold newlines), anything
 * else is one message per line (LF, with an optional CR before it). A
 * malformed octet count closes the connection (counted).
 *
 * Each event carries the sender as the field `log.source.address`
 * ("ip:port" for UDP and TCP, "unix" or "unix:uid=U,pid=P" for the local
 * socket, from SCM_CREDENTIALS); its raw bytes go through the input's format
 * parser (syslog: RFC 3164 and RFC 5424). There is no replay: a network
 * sender cannot be asked again, so save() has nothing to store; what is in
 * the queue at a crash is lost (bounded by queue_messages/queue_bytes).
 *
 * Stream ids are "l:<transport>:<port or path hash>:<start time>", so event
 * ids of a new run never collide with an old run's.
 */
#ifndef VG_LISTEN_H
#define VG_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* The listener's own options (until the config tables carry them). */
typedef struct vg_listen_conf {
    const char *name; /* input name, for messages and counters */
    const char *udp;  /* "host:port" ("0.0.0.0:514", "[::]:514", "127.0.0.1:0"), or NULL */
    const char *tcp;  /* same, or NULL */
    const char *tls;  /* same, TCP with TLS (RFC 5425, port 6514), or NULL */
    const char *tls_cert_file, *tls_key_file; /* the listener's certificate and key (tls) */
    const char *tls_ca_file; /* CA that client certificates must chain to (tls_client_auth) */
    bool tls_client_auth;    /* refuse clients without a certificate signed by tls_ca_file */
    const char *unix_path;   /* unix datagram socket path (e.g. /run/vigie/log.sock), or NULL */
    unsigned unix_mode;      /* permissions of the socket file; 0 = 0666 (any local program) */
    size_t max_message;      /* bytes kept of one message (longer: cut, flagged); 0 = 65536 */
    size_t queue_messages;   /* messages waiting for the pipeline; 0 = 100000 */
    size_t queue_bytes;      /* bytes waiting for the pipeline; 0 = 64 MiB */
    uint32_t rate;           /* messages per second per sender (token bucket); 0 = unlimited */
    uint32_t burst;          /* bucket size; 0 = rate */
    size_t max_senders;      /* senders tracked by the rate limiter; 0 = 4096 (oldest evicted) */
    size_t max_connections;  /* TCP connections at once; more are refused; 0 = 256 */
    int64_t idle_timeout_ms; /* a TCP connection silent this long is closed; 0 = 1 hour */
} vg_listen_conf;

/*
 * Create a listener from lc (copied) and the input's configuration (kept:
 * it must outlive the listener, as with every collector). Nothing is opened
 * yet: start() binds the sockets (errors name the address) and starts the
 * thread.
 */
vg_err vg_listen_create(const vg_listen_conf *lc, const vg_input_conf *ic,
                        const vg_collector_env *env, void **self, vg_errbuf *eb);

/* The port the "udp", "tcp" or "tls" socket got (after start(); for tests
   binding port 0); 0 when that socket is not open. */
int vg_listen_port(void *self, const char *transport);

/*
 * For tests and the fuzz target, without socket or thread, on a listener
 * that was created but not started: bytes arrive as if from a sender, go
 * through the same framing, limits and queue, and read() hands them out.
 * transport "udp" or "unix": p[0..n) is one datagram (cut at max_message,
 * flagged, like a received one). "tcp": the next bytes of one connection,
 * opened by the first call (framing detected from its first bytes); p ==
 * NULL closes it as the peer would (what is pending is delivered). Returns
 * false when the connection is closed (by NULL or a framing error, counted)
 * or the transport is unknown; the next "tcp" call opens a new one.
 */
bool vg_listen_inject(void *self, const char *transport, const char *p, size_t n);

/* The collector (create() maps vg_input_conf to vg_listen_conf). */
extern const vg_collector_ops vg_collector_syslog;

#endif

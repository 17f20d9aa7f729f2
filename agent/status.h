/*
 * status.h - the running agent's statistics, for `vigie status` and
 * Prometheus.
 *
 * The agent runs one status thread that listens on the unix socket
 * <state_dir>/status.sock (mode 0660, owned by the agent's user and group:
 * root and members of the agent's group may read it; the state directory
 * itself is 0750). One request per connection: the client writes a line,
 * "json" or "metrics", and reads the answer until the server closes:
 *   metrics - the registry in Prometheus text format (vg_stats_print_prometheus)
 *             plus process gauges read at request time (RSS, CPU seconds,
 *             uptime, build info);
 *   json    - the same entries as {"version":1, "pid", "uptime_seconds",
 *             "rss_bytes", "cpu_seconds", "window": {"seconds", "drops",
 *             "output_errors"}, "counters": [{"name","label","value","v",
 *             "gauge"}]}.
 * The window is the growth of drops and output errors over the last five
 * minutes (or since start), sampled by the thread every 30 s: it is what
 * `vigie status --check` judges.
 *
 * Optional: with agent.metrics_listen (host:port, port 0 = any, logged), the
 * same metrics text is served over HTTP (libmicrohttpd, GET /metrics).
 *
 * Threads: vg_status_start spawns the thread(s) with every signal blocked
 * (the pipeline takes its signals through a signalfd). The registry must
 * outlive the status server.
 */
#ifndef VG_STATUS_H
#define VG_STATUS_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "err.h"
#include "stats.h"

#define VG_STATUS_SOCKET "status.sock"
#define VG_STATUS_WINDOW_S 300
#define VG_STATUS_SAMPLE_S 30

typedef struct vg_status vg_status;

/*
 * Start serving st. Copies what it needs from cfg (cfg may be freed or
 * replaced by a reload afterwards). A socket file left by a dead agent is
 * replaced; one that answers is another agent using this state directory:
 * VG_EPERM. A metrics_listen that cannot be bound is an error too.
 */
vg_err vg_status_start(const vg_config *cfg, vg_stats *st, vg_status **out, vg_errbuf *eb);

/*
 * A function called before each answer (socket or HTTP) to refresh gauges
 * that are cheaper to read on demand than to keep current, e.g. the age of
 * the oldest unacknowledged batch of each output:
 *   vg_gauge_set(vg_stats_gauge(st, "spool.oldest_age_seconds", "output", name), age);
 * It runs on the status thread or the HTTP thread (never both at once).
 */
typedef void (*vg_status_probe_fn)(void *ud);
void vg_status_set_probe(vg_status *s, vg_status_probe_fn fn, void *ud);

/* Stop the threads, remove the socket. NULL is a no-op. */
void vg_status_stop(vg_status *s);

/* The metrics text (registry + process gauges), as served. */
void vg_status_print_metrics(vg_stats *st, FILE *out);

/* Which counters count as drops / output errors for the window. */
int vg_status_is_drop(const char *name);
int vg_status_is_output_error(const char *name);

/*
 * Client: connect to <state_dir>/status.sock, send `request`, read the whole
 * answer (at most 64 MiB) into *text (malloc'd, NUL-terminated). Gives up
 * after timeout_ms overall.
 */
vg_err vg_status_fetch(const char *state_dir, const char *request, int timeout_ms, char **text,
                       size_t *n, vg_errbuf *eb);

#endif

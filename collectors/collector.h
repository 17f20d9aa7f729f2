/*
 * collector.h - the seam every input implements.
 *
 * A collector turns a source (files, the journal, later a syslog socket) into
 * events: it sets ev->raw, ev->stream, ev->offset, ev->flags and, when the
 * source is already structured (journald), the fields; the pipeline then runs
 * the input's format parser on the others (ev->nfields == 0 and no
 * VG_COLLECTOR_PARSED flag in ops->flags).
 *
 * Threading: all callbacks are called from the pipeline thread only.
 *
 * Acknowledgement (at-least-once): the pipeline calls read() to fill a batch,
 * processes the batch entirely (detection, alerts handed to outputs), then
 * calls mark(): everything read() has handed out so far is now processed.
 * At commit time the pipeline first makes the outputs durable, then calls
 * save() which returns the positions as of the last mark() (never further),
 * and writes them atomically. After a crash, reading resumes from the last
 * saved positions; so a line is never lost and re-read lines are bounded by
 * the commit interval.
 *
 * Lifetime: bytes behind ev->raw stay valid until the next read() call.
 */
#ifndef VG_COLLECTOR_H
#define VG_COLLECTOR_H

#include <jansson.h>
#include <stdint.h>

#include "../agent/config.h"
#include "../agent/err.h"
#include "../agent/event.h"
#include "../agent/stats.h"

enum {
    VG_COLLECTOR_PARSED = 1u << 0, /* events come out with fields set: skip the format parser */
};

typedef struct vg_collector_env {
    vg_stats *stats;
    int64_t now_ns;          /* wall clock at start (for tests the caller may fix it) */
    const json_t *saved;     /* this input's saved positions (from save()), or NULL on first run */
    int first_run;           /* no state file at all: apply start_at to existing files */
} vg_collector_env;

typedef struct vg_collector_ops {
    const char *type;  /* as written in the config: "file", "journald" */
    uint32_t flags;    /* VG_COLLECTOR_* */

    /* Create from the input's configuration; opens nothing that may be absent. */
    vg_err (*create)(const vg_input_conf *conf, const vg_collector_env *env, void **self,
                     vg_errbuf *eb);

    /* Open sources, restore positions, set watches. A missing path or journal
       is not an error: the collector says so once (via eb message with VG_OK
       semantics is not possible, so it logs through vg_log) and waits. */
    vg_err (*start)(void *self, vg_errbuf *eb);

    /* File descriptor that becomes readable when there may be new data, or -1. */
    int (*fd)(void *self);

    /* Milliseconds until the collector wants read() called even without fd
       activity (stat polling, idle flush of a partial line), or -1 = never. */
    int64_t (*timeout_ms)(void *self);

    /* Append up to `max` events to b without blocking. Returns VG_OK when it
       appended at least one, VG_EAGAIN when it has nothing now. A collector
       stops appending when vg_batch_push returns NULL (batch full). */
    vg_err (*read)(void *self, vg_batch *b, size_t max);

    /* Everything handed out by read() so far has been processed. */
    void (*mark)(void *self);

    /* Positions as of the last mark(), as a new JSON value the caller owns
       (NULL when there is nothing to save). The collector defines the layout;
       the agent stores it under the input's name in a versioned state file. */
    json_t *(*save)(void *self);

    /* Release everything (safe on a half-built object and on NULL). */
    void (*destroy)(void *self);

    /* Optional (NULL = unknown): bytes written to the source and not yet
       read (files: size minus read position, summed), for statistics and
       heartbeats. Called from the pipeline thread. */
    uint64_t (*lag)(void *self);
} vg_collector_ops;

/* Registry: ops by type name, NULL when unknown. */
const vg_collector_ops *vg_collector_find(const char *type);

extern const vg_collector_ops vg_collector_file;
extern const vg_collector_ops vg_collector_journald;

#endif

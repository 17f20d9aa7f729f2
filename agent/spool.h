/*
 * spool.h - the durable, compressed spool between the pipeline and the
 * network senders.
 *
 * Directory <state_dir>/spool/. Two lanes (alerts+heartbeats, raw events),
 * each a sequence of segment files "alerts-<16-digit seq>.seg". A segment is
 * a 16-byte header (magic "VGSPOOL\0", u32 format version, u32 lane) and then
 * frames: a 24-byte header (u32 compressed length, u32 uncompressed length,
 * u32 CRC32 of the next fields and the payload, u32 record count, i64 wall
 * time in ms of the first record; little endian) followed by ONE gzip member
 * holding the records, each terminated by '\n'.
 *
 * One writer thread (the pipeline) appends records and flushes; flush is the
 * durability point (VG_OK = on disk per the fsync policy; the pipeline
 * commits input positions only after it). N reader threads (one sender per
 * network output) read at their own cursor, persisted in
 * spool/cursor-<name>.json, and acknowledge. Readers see only flushed frames.
 * A closed segment is deleted once every reader of its lane is past it (so
 * at once when the lane has no reader: open with the full list of readers).
 * Caps per lane: `block` makes vg_spool_blocked() true (the pipeline stops
 * reading inputs), `drop_oldest` deletes the lane's oldest segments (counted).
 * Raw events never push alerts out. On open, a torn or corrupt tail is
 * truncated, counted and logged (never a refusal to start); a segment of an
 * unknown format version is left in place, reported and skipped.
 *
 * Thread safety: one mutex + one condition variable inside vg_spool. Every
 * function is safe from any thread unless its contract says "writer" (the
 * one pipeline thread) or "reader's thread" (the thread owning that reader).
 *
 * Stats counters (label lane="alerts"|"events"): spool.records,
 * spool.bytes_written, spool.frames, spool.refused_records,
 * spool.dropped_records, spool.dropped_bytes, spool.recovered_bytes,
 * spool.corrupt_frames, spool.skipped_segments, spool.write_errors.
 */
#ifndef VG_SPOOL_H
#define VG_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "stats.h"
#include "transport.h" /* vg_send_item */

#define VG_SPOOL_VERSION 1              /* segment format version */
#define VG_SPOOL_CURSOR_VERSION 1       /* cursor-<name>.json version */
#define VG_SPOOL_RECORD_MAX (16u << 20) /* larger records are refused (counted) */
#define VG_SPOOL_FRAME_MAX (64u << 20)  /* uncompressed bytes of one frame, hard limit */
#define VG_SPOOL_NAME_MAX 64            /* bytes of a reader (output) name */

typedef enum vg_lane {
    VG_LANE_ALERTS = 0, /* alerts and heartbeats: read by every reader */
    VG_LANE_EVENTS = 1, /* raw events: read only by readers registered with events */
    VG_LANE_COUNT
} vg_lane;

typedef enum vg_spool_policy {
    VG_SPOOL_BLOCK = 0,       /* over the cap: vg_spool_blocked() is true */
    VG_SPOOL_DROP_OLDEST = 1, /* over the cap: the oldest segments are deleted (counted) */
} vg_spool_policy;

/* A registered reader: one per spooled (network) output. */
typedef struct vg_spool_reader_conf {
    const char *name; /* output name; any bytes, at most VG_SPOOL_NAME_MAX */
    bool events;      /* also reads the raw-event lane */
} vg_spool_reader_conf;

/*
 * Free space probe (test hook): store the bytes available to the agent on the
 * filesystem holding `path` in *avail; return 0, or -1 (errno set) on error
 * (then the min_free_disk guard is skipped, logged once). Called on the
 * writer's thread without the spool's lock held (it may call vg_spool_depth).
 */
typedef int (*vg_spool_statfs_fn)(const char *path, uint64_t *avail, void *ud);

typedef struct vg_spool_conf {
    const char *state_dir; /* the spool lives in state_dir/spool/ (created) */
    bool fsync_interval;   /* false: fsync at every flush; true: at most every fsync_interval_ms */
    int64_t fsync_interval_ms;
    int64_t segment_size;       /* a segment past this size is closed (bytes) */
    int64_t max[VG_LANE_COUNT]; /* bytes on disk per lane (0 = no cap) */
    vg_spool_policy policy[VG_LANE_COUNT];
    int64_t min_free_disk; /* bytes (0 = no guard) */
    size_t frame_target;   /* uncompressed bytes per frame before sealing it (0 = 1 MiB) */
    const vg_spool_reader_conf *readers; /* the current readers; others' cursors are deleted */
    size_t nreaders;
    vg_spool_statfs_fn statfs; /* NULL = statvfs(3) */
    void *statfs_ud;
} vg_spool_conf;

typedef struct vg_spool vg_spool;
typedef struct vg_spool_reader vg_spool_reader;

/* A position in one lane (opaque to callers). */
typedef struct vg_spool_pos {
    uint64_t seq; /* segment */
    uint64_t off; /* byte offset of a frame in it */
    uint32_t rec; /* records of that frame already consumed */
} vg_spool_pos;

/*
 * What vg_spool_read returns. Zero-initialise once ({0}), reuse across reads,
 * release with vg_spool_batch_release. items[0..n) point into memory owned by
 * the batch, valid until the next vg_spool_read into it or its release.
 * Alerts-lane items come first (nalerts of them), then raw events.
 */
typedef struct vg_spool_batch {
    vg_send_item *items;
    size_t n;
    size_t nalerts;    /* items[0..nalerts) are from VG_LANE_ALERTS */
    size_t bytes;      /* sum of items' lengths */
    int64_t oldest_ms; /* wall time of the oldest frame the batch draws from */
    /* internal */
    vg_spool_pos start[VG_LANE_COUNT], end[VG_LANE_COUNT];
    size_t cap;
    char *data;
    size_t data_len, data_cap;
    void *owner;
} vg_spool_batch;

/* Fill conf's numbers (state_dir, fsync, sizes, caps, policies, min_free_disk)
   from the agent configuration; readers/statfs are left as they were. */
void vg_spool_conf_from_config(vg_spool_conf *sc, const vg_config *c);

/*
 * Open (create) the spool: take an exclusive lock on spool/lock (a second
 * agent on the same state directory gets VG_EIO "in use"), recover every
 * segment (torn/corrupt tails truncated and counted, unknown versions
 * skipped and reported: nothing here refuses to start except I/O errors on
 * the directory itself), load the cursors of conf->readers (a new name
 * starts at the oldest data present; a corrupt or unknown-version cursor is
 * quarantined and restarts at the oldest data: duplicates, never loss), and
 * delete cursor files of names not in conf->readers. conf is copied.
 * stats may be NULL (counters then go to a private registry).
 * Writes are not started until the first flush (a new segment per open).
 */
vg_err vg_spool_open(const vg_spool_conf *conf, vg_stats *stats, vg_spool **out, vg_errbuf *eb);

/*
 * Writer. Flush what is pending (errors logged), persist nothing else (close
 * every reader first: their cursors are written by vg_spool_reader_close),
 * free. NULL is fine.
 */
void vg_spool_close(vg_spool *s);

/*
 * Writer. Buffer one record (one JSON object, no '\n' inside) in lane.
 * Nothing is visible to readers or durable before vg_spool_flush.
 * VG_ELIMIT: larger than VG_SPOOL_RECORD_MAX; VG_EINVAL: empty or contains
 * '\n' (both counted in spool.refused_records, nothing buffered). Never
 * refused because of caps or a blocked spool: the caller checks
 * vg_spool_blocked() between batches (a batch may overshoot a cap).
 */
vg_err vg_spool_append(vg_spool *s, vg_lane lane, const char *rec, size_t len);

/*
 * Writer. Compress what is pending (one gzip member per frame), write it,
 * fsync per policy, then publish it to readers and wake them; rotate
 * segments past segment_size (a closed segment is always fsync'ed), apply
 * caps and min_free_disk (drop_oldest deletes here). VG_OK means durable per
 * the policy: fsync'ed (per-batch mode) or written (interval mode: an agent
 * crash loses nothing, a power loss up to fsync_interval). Also fsyncs
 * written data whose interval has elapsed even when nothing is pending, so
 * call it at least every fsync_interval when idle. On error (VG_EIO:
 * disk full, ...) the file is cut back to its last good frame, the pending
 * records are kept for the next flush, and eb says why.
 */
vg_err vg_spool_flush(vg_spool *s, vg_errbuf *eb);

/*
 * Writer. Like vg_spool_flush, but without fsync (except for a segment it
 * closes): what is pending is written and shown to readers at once, and
 * fsync'ed by the next vg_spool_flush, whatever the policy. The pipeline
 * publishes after every batch (readers send without waiting for a commit)
 * and calls vg_spool_flush before it commits input positions, so the
 * guarantee is unchanged: no position moves before its records are on disk.
 * A reader may send a record a power loss then takes from the spool; it is
 * produced again from the uncommitted input (a duplicate, never a loss).
 */
vg_err vg_spool_publish(vg_spool *s, vg_errbuf *eb);

/*
 * Writer. True when the pipeline must stop reading inputs: the last
 * vg_spool_flush failed (until one succeeds), a lane with
 * policy block is over its cap, or free disk is under min_free_disk after
 * the drop_oldest lanes gave up what they could (events first; alerts only
 * when no raw events are left to drop). Re-evaluated at each call (one
 * statfs), so it turns false once readers have freed space.
 */
bool vg_spool_blocked(vg_spool *s);

/* Writer. Wait until vg_spool_blocked() is false, at most timeout_ms
   (re-checked at each deletion and at least every 100 ms); returns !blocked. */
bool vg_spool_wait_unblocked(vg_spool *s, int64_t timeout_ms);

/* Any thread. Bytes on disk and records in the lane's segments (flushed
   records not yet deleted, acknowledged or not). Either pointer may be NULL. */
void vg_spool_depth(vg_spool *s, vg_lane lane, uint64_t *bytes, uint64_t *records);

/*
 * Any thread. Wall time (ms since the epoch) of the oldest frame reader
 * `name` has not acknowledged, over the lanes it reads; 0 when it is up to
 * date (or unknown name). For heartbeats and `vigie status`.
 */
int64_t vg_spool_oldest_unacked(vg_spool *s, const char *name);

/*
 * Any thread. Make every blocked vg_spool_read return now, and every later
 * one return without waiting (sticky: the agent is stopping).
 */
void vg_spool_wake(vg_spool *s);

/*
 * Open the reader of output `name`, which must be one of conf->readers
 * (VG_ENOTFOUND otherwise; VG_EINVAL if it is already open). Its read
 * position starts at its acknowledged cursor. The reader belongs to one
 * thread; close it before vg_spool_close.
 */
vg_err vg_spool_reader_open(vg_spool *s, const char *name, vg_spool_reader **out, vg_errbuf *eb);

/* Reader's thread. Persist the cursor if it changed, free. NULL is fine. */
void vg_spool_reader_close(vg_spool_reader *r);

/*
 * Reader's thread. Fill out (replacing its previous content) with the next
 * records after the reader's read position: alerts first, then raw events
 * (if registered) up to the same limits, so alerts are never starved. At
 * most max_records items and max_bytes bytes, but always at least one
 * record when any is available (a record larger than max_bytes comes alone).
 * If nothing is available, waits up to wait_ms for a flush; once something
 * is, waits up to linger_ms more while the batch is not full (batching by
 * delay). Advances the read position (not the cursor: see vg_spool_ack).
 * Returns VG_OK with out->n > 0, VG_EAGAIN when nothing came (timeout or
 * vg_spool_wake), VG_ENOMEM. A frame that fails its CRC or gzip check is
 * skipped, counted (spool.corrupt_frames) and logged, never returned.
 * Also persists an acknowledged cursor that has waited 1 s.
 */
vg_err vg_spool_read(vg_spool_reader *r, size_t max_records, size_t max_bytes, int64_t wait_ms,
                     int64_t linger_ms, vg_spool_batch *out, vg_errbuf *eb);

/*
 * Reader's thread. The whole batch (the last one read into it) was delivered:
 * move the reader's cursor to its end; delete segments every reader of the
 * lane is now past. The cursor file is written at most once a second (and at
 * vg_spool_reader_close), so a crash re-sends at most ~1 s of acknowledged
 * batches. Batches are acknowledged in the order they were read; acking an
 * older batch than the cursor is a no-op.
 */
void vg_spool_ack(vg_spool_reader *r, const vg_spool_batch *b);

/*
 * Reader's thread. Forget what was read but not acknowledged: the next read
 * starts again at the cursor (a sender that dropped its in-memory batch).
 */
void vg_spool_rewind(vg_spool_reader *r);

/* Free the batch's memory; it may be reused (as zero-initialised). */
void vg_spool_batch_release(vg_spool_batch *b);

/*
 * Read-only scan (for `vigie alerts`, works while the agent runs, needs no
 * lock and writes nothing): call cb for every record of `lane` still on disk,
 * oldest first, with the wall time of its frame. Stops early when cb returns
 * non-zero. A corrupt frame ends that segment's scan (counted in *corrupt if
 * not NULL; the frame being written at that moment may look torn); a segment
 * of unknown version is skipped with a message in eb and VG_EVERSION
 * returned at the end (records of the others were still delivered).
 * VG_ENOTFOUND when there is no spool directory.
 */
typedef int (*vg_spool_scan_fn)(void *ud, const char *rec, size_t len, int64_t frame_ms);
vg_err vg_spool_scan(const char *state_dir, vg_lane lane, vg_spool_scan_fn cb, void *ud,
                     uint64_t *corrupt, vg_errbuf *eb);

/* "alerts" or "events". */
const char *vg_lane_name(vg_lane lane);

#endif

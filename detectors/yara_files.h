/*
 * yara_files.h - scanning the files events name, in a worker thread.
 *
 * The pipeline thread submits (path, triggering event) requests; the worker
 * opens each file with the agent's own privileges (O_NOFOLLOW, regular files
 * only), refuses those over the size limit, hashes it (SHA-256, OpenSSL EVP)
 * and scans it with its own YR_SCANNER; results wait in a queue that the
 * pipeline thread takes with vg_yfiles_take. Nothing here blocks the
 * pipeline: a full queue or the per-minute rate drops the request (counted),
 * and the same file (device, inode, size, mtime) is not scanned twice in a row.
 */
#ifndef VG_YARA_FILES_H
#define VG_YARA_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <yara.h>

#include "../agent/event.h"
#include "../agent/stats.h"

#define VG_YFILES_QUEUE 64   /* requests waiting; more are dropped (counted) */
#define VG_YFILES_MATCHES 32 /* matched rules kept per file */

typedef struct vg_yfiles vg_yfiles;

/* One matched rule of a scanned file: its index in the rules table and its
   strings as JSON members ("strings":[...]). */
typedef struct vg_yfile_match {
    uint32_t rule;
    char *strings_json;
} vg_yfile_match;

/* A finished scan; freed by vg_yfiles_result_free. */
typedef struct vg_yfile_result {
    char *path;
    int64_t size;
    char sha256[65];
    uint32_t trigger_rule;    /* the rule that requested the scan */
    /* The triggering event, copied (its batch is gone by now). */
    char *raw;
    size_t raw_n;
    vg_stream stream;
    char *stream_name, *stream_input;
    uint64_t offset;
    int64_t ts_ns;
    vg_yfile_match m[VG_YFILES_MATCHES];
    size_t nm;
    struct vg_yfile_result *next;
} vg_yfile_result;

/* Which rules of a file scan count (scope file or both); per rule index. */
typedef bool (*vg_yfiles_rule_ok)(void *ud, uint32_t rule);
/* A timeout or too-many-matches while scanning a file, for rule (or -1). */
typedef void (*vg_yfiles_limit)(void *ud, int64_t rule, const char *what);

typedef struct vg_yfiles_opts {
    int64_t max_size;
    int64_t per_minute;
    int timeout_s;
    vg_yfiles_rule_ok rule_ok;
    vg_yfiles_limit limit;
    void *ud;
} vg_yfiles_opts;

/* Starts the worker; NULL on failure (no file scans then). rules outlives it. */
/*
 * The matched strings of `rule` in a scan's callback context, appended to b
 * as the JSON member "strings":[{"id","offset","length"},...]: at most
 * VG_YARA_STRINGS_PER_RULE, private strings left out. Alerts of event scans
 * and of file scans carry the same shape (vigie.yara.strings).
 */
#define VG_YARA_STRINGS_PER_RULE 16
struct vg_buf;
void vg_yara_strings_json(struct vg_buf *b, YR_SCAN_CONTEXT *ctx, YR_RULE *rule);

vg_yfiles *vg_yfiles_create(YR_RULES *rules, const vg_yfiles_opts *o, vg_stats *st);
/* Stops the worker (waits for the scan in progress) and frees everything. */
void vg_yfiles_destroy(vg_yfiles *f);

/* Queue a scan of path (absolute) for the event ev that rule trigger matched.
   Returns false when dropped (counted: queue full, rate, bad path). */
bool vg_yfiles_submit(vg_yfiles *f, const char *path, size_t n, const vg_event *ev,
                      uint32_t trigger);
/* The finished scans (a list, oldest first), or NULL; *pending = requests
   queued or being scanned. Never blocks for a scan. */
vg_yfile_result *vg_yfiles_take(vg_yfiles *f, size_t *pending);
void vg_yfiles_result_free(vg_yfile_result *r);

/* Wait until nothing is queued or being scanned, at most timeout_ms (tests,
   `vigie scan`). Returns true when idle. */
bool vg_yfiles_wait_idle(vg_yfiles *f, int timeout_ms);

#endif

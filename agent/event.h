/*
 * event.h - the event model: one log record flowing through the pipeline.
 *
 * An event does not own its bytes. `raw` points into the collector's read
 * buffer and field values point either into `raw` or into the batch's arena
 * (for decoded values: JSON unescapes, lowercased copies, joined strings).
 * Both stay valid until the batch is reset, i.e. until the pipeline asks the
 * collector for the next batch. Whatever must outlive the batch (an alert) is
 * copied by whoever keeps it.
 *
 * Field names are compared byte for byte (Sigma field names are case
 * sensitive); values are arbitrary bytes (not NUL-terminated, may hold NUL).
 */
#ifndef VG_EVENT_H
#define VG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct vg_str {
    const char *p;
    size_t n;
} vg_str;

#define VG_STR(lit) ((vg_str){(lit), sizeof(lit) - 1})
#define VG_STR_NULL ((vg_str){NULL, 0})

bool vg_str_eq(vg_str a, vg_str b);

/* Against a NUL-terminated string. Inline so that, with a literal, the
   length and the comparison fold at compile time (parsers call it a lot). */
static inline bool vg_str_eqc(vg_str a, const char *c)
{
    size_t n = __builtin_strlen(c);
    return a.n == n && (n == 0 || __builtin_memcmp(a.p, c, n) == 0);
}

/*
 * A bump allocator with a hard cap. vg_arena_alloc returns NULL once the cap
 * would be exceeded (the caller counts the drop); reset frees everything at
 * once but keeps the first block.
 */
typedef struct vg_arena_block vg_arena_block;
typedef struct vg_arena {
    vg_arena_block *head;
    size_t used_total; /* bytes handed out since the last reset */
    size_t cap;        /* maximum of used_total */
} vg_arena;

void vg_arena_init(vg_arena *a, size_t cap);
void *vg_arena_alloc(vg_arena *a, size_t n);
char *vg_arena_strndup(vg_arena *a, const char *p, size_t n); /* NUL-terminated copy */
void vg_arena_reset(vg_arena *a);
void vg_arena_destroy(vg_arena *a);

/*
 * The identity of a stream, the thing an offset is an offset into: a file
 * (device, inode, fingerprint of its first bytes) or a journal (its seqnum id).
 * `id` is a stable printable identity used in event.id; `name` is what a
 * human calls it (path or unit) and may change (rotation). Owned by the
 * collector, valid while the collector lives.
 */
typedef struct vg_stream {
    char id[80];       /* e.g. "f:803:1234567:9f86d081884c7d65" or "j:<seqnum_id>" */
    const char *name;  /* path at the time of reading, or journald unit/identifier */
    const char *input; /* name of the configured input */
} vg_stream;

/* Event flags. */
enum {
    VG_EV_TRUNCATED = 1u << 0,   /* the line was longer than the limit and was cut */
    VG_EV_NO_NEWLINE = 1u << 1,  /* a final line flushed without its newline */
    VG_EV_PARSE_FAILED = 1u << 2, /* the format parser did not recognise the line */
    VG_EV_FIELDS_DROPPED = 1u << 3, /* some fields did not fit (count or arena) */
};

/* Where the rule routing (Sigma logsource) of an event comes from. */
typedef struct vg_logsource {
    const char *product;  /* "linux", NULL = any */
    const char *category; /* "webserver", "process_creation", NULL = none */
    const char *service;  /* configured service of the input, e.g. "auth", NULL = none */
} vg_logsource;

#define VG_EVENT_MAX_FIELDS 64

typedef struct vg_field {
    vg_str name;
    vg_str value;
} vg_field;

typedef struct vg_event {
    int64_t ts_ns;            /* event time, Unix epoch ns, UTC; 0 = unknown */
    vg_str raw;               /* the record as read (line without its newline) */
    const vg_stream *stream;  /* owned by the collector */
    uint64_t offset;          /* byte offset of the line in the stream (journal: seqnum) */
    uint64_t line;            /* files: number of the line in the stream, counted since the
                                 agent first read it (restored with positions); 0 = unknown */
    uint32_t flags;           /* VG_EV_* */
    const vg_logsource *logsource; /* routing of the input; owned by the config */
    const char *service2;     /* service derived from the program name ("sshd"), NULL = none */

    /* Well-known fields, also present in fields[] under their Sigma names. */
    vg_str hostname, program, pid, message;

    uint16_t nfields;
    uint64_t name_bloom; /* one bit per field name present (vg_field_bit): a clear
                            bit proves a name absent without scanning fields[] */
    const char *vigie_extra; /* JSON members appended to the alert's `vigie` object
                                (e.g. "\"yara\":{...}"), set by a detector around
                                its emit call; NULL = none */
    vg_field fields[VG_EVENT_MAX_FIELDS];
} vg_event;

/* The bloom bit of a field name (its length and first and last bytes). */
static inline uint64_t vg_field_bit(vg_str name)
{
    if (!name.n)
        return 1;
    unsigned h = (unsigned)name.n * 31u + (unsigned char)name.p[0] * 7u +
                 (unsigned char)name.p[name.n - 1];
    return 1ull << (h & 63);
}

/* Look a field up by name; returns NULL if absent. */
const vg_str *vg_event_get(const vg_event *ev, vg_str name);

/*
 * Add a field (name and value must outlive the batch: static, in raw, or in
 * the arena). Returns false and sets VG_EV_FIELDS_DROPPED when full. An
 * existing field of the same name is replaced.
 */
bool vg_event_set(vg_event *ev, vg_str name, vg_str value);

/* Append a field known to be absent (no duplicate scan). Same limits. */
bool vg_event_append(vg_event *ev, vg_str name, vg_str value);

/* Remove every field (keeps raw, stream, offset, flags). */
void vg_event_clear_fields(vg_event *ev);

/* Reset an event to empty (keeps nothing). Fields must only ever be
   added through vg_event_set/append, so the name bloom stays right. */
void vg_event_clear(vg_event *ev);

/*
 * A batch of events: the unit of work between collectors, detectors and
 * outputs. The arena holds decoded values of all events of the batch.
 */
typedef struct vg_batch {
    vg_event *ev;
    size_t n, cap;
    vg_arena arena;
} vg_batch;

/* cap = maximum number of events; arena_cap = bytes of decoded values. */
int vg_batch_init(vg_batch *b, size_t cap, size_t arena_cap);
/* Next free event (cleared), or NULL when the batch is full. */
vg_event *vg_batch_push(vg_batch *b);
/* Remove the last pushed event (e.g. it was filtered out). */
void vg_batch_pop(vg_batch *b);
void vg_batch_reset(vg_batch *b);
void vg_batch_destroy(vg_batch *b);

#endif

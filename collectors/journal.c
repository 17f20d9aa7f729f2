/*
 * journal.c - the journald collector: entries of the systemd journal as events.
 *
 * The journal is read through sd-journal (libsystemd). The position is the
 * journal cursor: read() remembers the cursor of the last entry it consumed,
 * mark() makes it the committed cursor, save() returns {"cursor": ...}. On
 * restart we seek to the saved cursor and resume right after that entry.
 * Without a saved cursor the input's start_at applies: the tail (only new
 * entries) by default, the head with start_at: beginning.
 *
 * Entries come out already structured (VG_COLLECTOR_PARSED): the well-known
 * fields (hostname, program, pid, message, unit, priority) plus the raw
 * journal names rules may use (_SYSTEMD_UNIT, SYSLOG_IDENTIFIER, _COMM, ...).
 * ev->raw is a syslog-shaped line "Mmm dd hh:mm:ss host ident[pid]: message"
 * so that keyword rules see the familiar shape; message, hostname, program
 * and pid are slices of it. Everything lives in the batch arena, because
 * pointers from sd_journal_get_data die at the next call.
 *
 * Values are attacker-controlled bytes (MESSAGE may be binary, with NULs):
 * each is copied with its length and capped (message: max_line; others:
 * FIELD_MAX); a cut message is flagged VG_EV_TRUNCATED and counted.
 *
 * Streams: a journal's offsets are sequence numbers within a seqnum id, so a
 * stream's id is "j:<seqnum_id>"; its name is the unit (or identifier) of the
 * entry, so the collector keeps a small owned table of (seqnum id, name).
 *
 * A host without a journal (container, CI) is not an error: the input logs
 * once and stays idle (fd -1, read() returns VG_EAGAIN).
 */
#include "collector.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "../agent/log.h"
#include "parser.h"

#define MESSAGE_MAX_DEFAULT 65536 /* when the input has no max_line */
#define FIELD_MAX 4096            /* any other value (a _CMDLINE can be long) */
#define SKIP_BUDGET 4096          /* excluded entries stepped over per read() */
#define STREAMS_MAX 256           /* (seqnum id, name) pairs */
#define STREAMS_NAMED 224         /* past this, new names share a per-seqnum-id stream */
#define NO_FD_POLL_MS 1000        /* when inotify is unavailable */

/* The journal fields copied out of each entry, in this order. */
enum {
    JF_MESSAGE,
    JF_HOSTNAME,
    JF_IDENTIFIER,
    JF_COMM,
    JF_PID,
    JF_SYSLOG_PID,
    JF_UNIT,
    JF_PRIORITY,
    JF_EXE,
    JF_CMDLINE,
    JF_UID,
    JF_COUNT
};

static const char *const jf_names[JF_COUNT] = {
    [JF_MESSAGE] = "MESSAGE",    [JF_HOSTNAME] = "_HOSTNAME", [JF_IDENTIFIER] = "SYSLOG_IDENTIFIER",
    [JF_COMM] = "_COMM",         [JF_PID] = "_PID",           [JF_SYSLOG_PID] = "SYSLOG_PID",
    [JF_UNIT] = "_SYSTEMD_UNIT", [JF_PRIORITY] = "PRIORITY",  [JF_EXE] = "_EXE",
    [JF_CMDLINE] = "_CMDLINE",   [JF_UID] = "_UID",
};

/* One copied value: owned scratch storage reused from entry to entry. */
typedef struct jvalue {
    char *buf;
    size_t n, size;
    bool present, truncated;
} jvalue;

typedef struct jstream {
    char seqid[33];
    char *name;     /* owned, NUL-terminated copy */
    size_t namelen; /* bytes compared (a name may hold a NUL) */
    vg_stream st;
} jstream;

typedef struct vg_journal {
    const vg_input_conf *conf; /* owned by the configuration, outlives us */
    sd_journal *j;
    int fd;       /* inotify fd from sd-journal, or -1 */
    bool idle;    /* no journal: never reads */
    bool pending; /* positioned on an entry not consumed yet */
    bool more;    /* read() stopped early: call it again soon */
    size_t message_max;

    char *resume_cursor; /* from env->saved, used by start() */
    char *last;          /* cursor of the last entry consumed (handed out or skipped) */
    char *committed;     /* cursor as of the last mark() */

    jvalue val[JF_COUNT];
    jstream streams[STREAMS_MAX];
    size_t nstreams;
    vg_stream overflow; /* when the table cannot take one more */

    vg_counter *lines, *bytes, *skipped, *truncated, *dropped, *errors;
    vg_counter dummy; /* when the environment has no stats */
} vg_journal;

/* ---- small helpers ---- */

static void journal_idle(vg_journal *jr, const char *why)
{
    char key[256];
    snprintf(key, sizeof key, "journald-idle:%s", jr->conf->name);
    vg_log_once(key, VG_LOG_NOTICE, "no journal on this host; journald input %s idle (%s)",
                jr->conf->name, why);
    if (jr->j)
        sd_journal_close(jr->j);
    jr->j = NULL;
    jr->fd = -1;
    jr->idle = true;
}

/*
 * Parse "s=<seqnum_id>;i=<seqnum hex>;..." (the cursor format of sd-journal;
 * systemd 252 has no sd_journal_get_seqnum). Returns false when the cursor
 * lacks either part; seqid gets 32 hex digits at most.
 */
static bool cursor_seqnum(const char *cursor, char seqid[33], uint64_t *seqnum)
{
    bool have_s = false, have_i = false;
    const char *p = cursor;
    while (*p) {
        const char *end = strchrnul(p, ';');
        if (p[0] == 's' && p[1] == '=') {
            size_t n = (size_t)(end - p - 2);
            if (n == 0 || n > 32)
                return false;
            memcpy(seqid, p + 2, n);
            seqid[n] = '\0';
            have_s = true;
        } else if (p[0] == 'i' && p[1] == '=') {
            char *e;
            errno = 0;
            unsigned long long v = strtoull(p + 2, &e, 16);
            if (errno || e != end || e == p + 2)
                return false;
            *seqnum = v;
            have_i = true;
        }
        p = *end ? end + 1 : end;
    }
    return have_s && have_i;
}

/* The stream for (seqid, name); never NULL. name may be NULL (no unit, no identifier). */
static const vg_stream *journal_stream(vg_journal *jr, const char *seqid, const vg_str *name)
{
    static const char fallback_name[] = "journal";
    const char *nm = fallback_name;
    size_t nn = sizeof fallback_name - 1;
    if (name && name->n) {
        nm = name->p;
        nn = name->n;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < jr->nstreams; i++) {
            jstream *s = &jr->streams[i];
            if (strcmp(s->seqid, seqid) == 0 && s->namelen == nn && memcmp(s->name, nm, nn) == 0)
                return &s->st;
        }
        /* Table (nearly) full: names share the per-seqnum-id "journal" stream. */
        if (jr->nstreams < STREAMS_NAMED || (nm == fallback_name && jr->nstreams < STREAMS_MAX)) {
            char *copy = malloc(nn + 1);
            if (copy) {
                memcpy(copy, nm, nn);
                copy[nn] = '\0';
                jstream *s = &jr->streams[jr->nstreams++];
                snprintf(s->seqid, sizeof s->seqid, "%s", seqid);
                s->name = copy;
                s->namelen = nn;
                snprintf(s->st.id, sizeof s->st.id, "j:%s", seqid);
                s->st.name = s->name;
                s->st.input = jr->conf->name;
                return &s->st;
            }
        }
        if (nm == fallback_name)
            break;
        nm = fallback_name;
        nn = sizeof fallback_name - 1;
    }
    /* Out of memory or more seqnum ids than slots (hundreds of journals from
       other hosts): a shared stream whose id names no journal; logged once. */
    char key[256];
    snprintf(key, sizeof key, "journald-streams:%s", jr->conf->name);
    vg_log_once(key, VG_LOG_WARNING, "journald input %s: stream table full (%d)", jr->conf->name,
                STREAMS_MAX);
    return &jr->overflow;
}

/* Copy the entry's field `i` into its scratch value, at most cap bytes. */
static void journal_fetch(vg_journal *jr, int i, size_t cap)
{
    jvalue *v = &jr->val[i];
    const void *data;
    size_t len;
    v->present = v->truncated = false;
    v->n = 0;
    if (sd_journal_get_data(jr->j, jf_names[i], &data, &len) < 0)
        return;
    size_t prefix = strlen(jf_names[i]) + 1; /* "NAME=" */
    if (len < prefix)
        return;
    const char *p = (const char *)data + prefix;
    len -= prefix;
    if (len > cap) {
        len = cap;
        v->truncated = true;
    }
    if (len > v->size) {
        char *nb = realloc(v->buf, len);
        if (!nb) {
            v->truncated = true;
            len = v->size;
        } else {
            v->buf = nb;
            v->size = len;
        }
    }
    if (len)
        memcpy(v->buf, p, len);
    v->n = len;
    v->present = true;
}

static bool excluded(const vg_journal *jr, const jvalue *ident)
{
    const vg_strlist *ex = &jr->conf->exclude_identifiers;
    if (!ident->present)
        return false;
    for (size_t i = 0; i < ex->n; i++)
        if (strlen(ex->v[i]) == ident->n && memcmp(ex->v[i], ident->buf, ident->n) == 0)
            return true;
    return false;
}

/* Consume the current entry: its cursor becomes the last one read. */
static void consume(vg_journal *jr)
{
    char *cur = NULL;
    jr->pending = false;
    if (sd_journal_get_cursor(jr->j, &cur) < 0) {
        vg_counter_add(jr->errors, 1);
        return;
    }
    free(jr->last);
    jr->last = cur;
}

/* Copy a value into the arena; a present value that does not fit sets *dropped. */
static vg_str arena_copy(vg_arena *a, const jvalue *v, bool *dropped)
{
    if (!v->present)
        return VG_STR_NULL;
    char *d = vg_arena_alloc(a, v->n ? v->n : 1);
    if (!d) {
        *dropped = true;
        return VG_STR_NULL;
    }
    if (v->n)
        memcpy(d, v->buf, v->n);
    return (vg_str){d, v->n};
}

typedef enum build_result { BUILT, RETRY, UNFIT } build_result;

/*
 * Build the event of the current entry into b. RETRY, having pushed nothing:
 * the batch arena cannot hold it while other events are in the batch (the
 * caller stops and hands the entry out first in the next batch). With an
 * empty batch the message is cut to fit; UNFIT when even the head of the line
 * does not fit an empty arena (a tiny batch_arena: the caller drops the entry,
 * counted, so that reading never stalls).
 */
static build_result build_event(vg_journal *jr, vg_batch *b, const char *cursor)
{
    const jvalue *msg = &jr->val[JF_MESSAGE], *host = &jr->val[JF_HOSTNAME];
    const jvalue *ident = jr->val[JF_IDENTIFIER].present ? &jr->val[JF_IDENTIFIER]
                          : jr->val[JF_COMM].present     ? &jr->val[JF_COMM]
                                                         : NULL;
    const jvalue *pid = jr->val[JF_PID].present          ? &jr->val[JF_PID]
                        : jr->val[JF_SYSLOG_PID].present ? &jr->val[JF_SYSLOG_PID]
                                                         : NULL;

    /* "Mmm dd hh:mm:ss " */
    uint64_t usec = 0;
    int64_t ts_ns = 0;
    char tsbuf[32];
    if (sd_journal_get_realtime_usec(jr->j, &usec) >= 0 && usec / 1000000 < INT64_MAX / 1000000000)
        ts_ns = (int64_t)usec * 1000;
    time_t secs = ts_ns ? (time_t)(usec / 1000000) : time(NULL);
    struct tm tm;
    size_t tslen = 0;
    if (localtime_r(&secs, &tm))
        tslen = strftime(tsbuf, sizeof tsbuf, "%b %d %H:%M:%S ", &tm);
    if (!tslen)
        tslen = (size_t)snprintf(tsbuf, sizeof tsbuf, "- ");

    /* Layout of raw: ts host' 'ident'['pid']: 'message */
    size_t hostn = host->present ? host->n : 1;
    size_t head = tslen + hostn + 1;
    if (ident)
        head += ident->n + (pid ? pid->n + 2 : 0) + 2;
    size_t extras = 0;
    for (int i = JF_UNIT; i < JF_COUNT; i++)
        if (jr->val[i].present)
            extras += (jr->val[i].n + 16) & ~(size_t)15;
    if (ident != &jr->val[JF_COMM] && jr->val[JF_COMM].present)
        extras += (jr->val[JF_COMM].n + 16) & ~(size_t)15;

    vg_arena *a = &b->arena;
    size_t room = a->cap > a->used_total ? a->cap - a->used_total : 0;
    size_t need = head + msg->n + 32 + extras;
    size_t msgn = msg->n;
    bool cut = msg->truncated;
    if (need > room) {
        if (b->n > 0)
            return RETRY;
        /* Alone in the batch and still too big: cut the message. */
        size_t fixed = head + 32 + extras;
        msgn = room > fixed ? room - fixed : 0;
        cut = true;
    }

    vg_event *ev = vg_batch_push(b);
    if (!ev)
        return RETRY;
    char *raw = vg_arena_alloc(a, head + msgn + 1);
    if (!raw) {
        vg_batch_pop(b);
        return b->n > 0 ? RETRY : UNFIT;
    }

    size_t o = 0;
    memcpy(raw + o, tsbuf, tslen);
    o += tslen;
    vg_str s_host = {raw + o, hostn};
    if (host->present)
        memcpy(raw + o, host->buf, host->n);
    else
        raw[o] = '-';
    o += hostn;
    raw[o++] = ' ';
    vg_str s_prog = VG_STR_NULL, s_pid = VG_STR_NULL;
    if (ident) {
        s_prog = (vg_str){raw + o, ident->n};
        memcpy(raw + o, ident->buf, ident->n);
        o += ident->n;
        if (pid) {
            raw[o++] = '[';
            s_pid = (vg_str){raw + o, pid->n};
            memcpy(raw + o, pid->buf, pid->n);
            o += pid->n;
            raw[o++] = ']';
        }
        raw[o++] = ':';
        raw[o++] = ' ';
    }
    vg_str s_msg = {raw + o, msgn};
    if (msgn)
        memcpy(raw + o, msg->buf, msgn);
    o += msgn;
    raw[o] = '\0';

    char seqid[33] = "";
    uint64_t seqnum = 0;
    if (!cursor_seqnum(cursor, seqid, &seqnum))
        snprintf(seqid, sizeof seqid, "unknown");

    ev->ts_ns = ts_ns;
    ev->raw = (vg_str){raw, o};
    ev->offset = seqnum;
    ev->logsource = &jr->conf->logsource;
    ev->hostname = host->present ? s_host : VG_STR_NULL;
    ev->program = s_prog;
    ev->pid = s_pid;
    ev->message = s_msg;
    if (cut) {
        ev->flags |= VG_EV_TRUNCATED;
        vg_counter_add(jr->truncated, 1);
    }

    /* Values not already in raw go to the arena; a failed copy drops the field. */
    bool dropped = false;
    vg_str unit = arena_copy(a, &jr->val[JF_UNIT], &dropped);
    vg_str prio = arena_copy(a, &jr->val[JF_PRIORITY], &dropped);
    vg_str exe = arena_copy(a, &jr->val[JF_EXE], &dropped);
    vg_str cmdline = arena_copy(a, &jr->val[JF_CMDLINE], &dropped);
    vg_str uid = arena_copy(a, &jr->val[JF_UID], &dropped);
    vg_str ident_raw = ident == &jr->val[JF_IDENTIFIER] ? s_prog : VG_STR_NULL;
    vg_str comm = ident == &jr->val[JF_COMM] ? s_prog : arena_copy(a, &jr->val[JF_COMM], &dropped);
    vg_str pid_raw = pid == &jr->val[JF_PID] ? s_pid : VG_STR_NULL;
    if (dropped)
        ev->flags |= VG_EV_FIELDS_DROPPED;

    ev->stream = journal_stream(jr, seqid, unit.p ? &unit : &s_prog);
    ev->service2 = s_prog.p ? vg_program_service(s_prog) : NULL;

    /* Well-known names first, then the journal's own (same bytes, no copy). */
    struct {
        const char *name;
        vg_str v;
    } set[] = {
        {"hostname", ev->hostname},
        {"program", s_prog},
        {"pid", s_pid},
        {"message", s_msg},
        {"unit", unit},
        {"priority", prio},
        {"MESSAGE", s_msg},
        {"_HOSTNAME", ev->hostname},
        {"SYSLOG_IDENTIFIER", ident_raw},
        {"_COMM", comm},
        {"_PID", pid_raw},
        {"_SYSTEMD_UNIT", unit},
        {"PRIORITY", prio},
        {"_EXE", exe},
        {"_CMDLINE", cmdline},
        {"_UID", uid},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if (set[i].v.p)
            vg_event_set(ev, (vg_str){set[i].name, strlen(set[i].name)}, set[i].v);
    for (int i = JF_HOSTNAME; i < JF_COUNT; i++)
        if (jr->val[i].present && jr->val[i].truncated)
            ev->flags |= VG_EV_FIELDS_DROPPED;

    vg_counter_add(jr->lines, 1);
    vg_counter_add(jr->bytes, o);
    return BUILT;
}

/* ---- the collector ---- */

static void journal_destroy(void *self)
{
    vg_journal *jr = self;
    if (!jr)
        return;
    if (jr->j)
        sd_journal_close(jr->j);
    free(jr->resume_cursor);
    free(jr->last);
    free(jr->committed);
    for (int i = 0; i < JF_COUNT; i++)
        free(jr->val[i].buf);
    for (size_t i = 0; i < jr->nstreams; i++)
        free(jr->streams[i].name);
    free(jr);
}

/*
 * Create: keeps a pointer to conf (the configuration outlives the collector).
 * env->saved is {"cursor": "..."} from save(); anything else is ignored with
 * a warning (the input then starts as on a first run).
 */
static vg_err journal_create(const vg_input_conf *conf, const vg_collector_env *env, void **self,
                             vg_errbuf *eb)
{
    vg_err err = VG_OK;
    *self = NULL;
    vg_journal *jr = calloc(1, sizeof *jr);
    if (!jr)
        return vg_errf(eb, VG_ENOMEM, "journald input %s: out of memory", conf->name);
    jr->conf = conf;
    jr->fd = -1;
    snprintf(jr->overflow.id, sizeof jr->overflow.id, "j:overflow");
    jr->overflow.name = "journal";
    jr->overflow.input = conf->name;
    jr->message_max = conf->max_line > 0 ? (size_t)conf->max_line : MESSAGE_MAX_DEFAULT;

    vg_stats *st = env ? env->stats : NULL;
    jr->lines = st ? vg_stats_counter(st, "input.lines", "input", conf->name) : &jr->dummy;
    jr->bytes = st ? vg_stats_counter(st, "input.bytes", "input", conf->name) : &jr->dummy;
    jr->skipped = st ? vg_stats_counter(st, "input.skipped", "input", conf->name) : &jr->dummy;
    jr->truncated = st ? vg_stats_counter(st, "input.truncated", "input", conf->name) : &jr->dummy;
    jr->dropped = st ? vg_stats_counter(st, "input.dropped", "input", conf->name) : &jr->dummy;
    jr->errors = st ? vg_stats_counter(st, "input.errors", "input", conf->name) : &jr->dummy;

    if (env && env->saved) {
        const json_t *c = json_is_object(env->saved) ? json_object_get(env->saved, "cursor") : NULL;
        if (json_is_string(c) && json_string_length(c) > 0) {
            jr->resume_cursor = strdup(json_string_value(c));
            jr->committed = strdup(json_string_value(c));
            if (!jr->resume_cursor || !jr->committed) {
                err = vg_errf(eb, VG_ENOMEM, "journald input %s: out of memory", conf->name);
                goto out;
            }
        } else {
            vg_log(VG_LOG_WARNING,
                   "journald input %s: saved state has no cursor; starting as on a "
                   "first run",
                   conf->name);
        }
    }
    *self = jr;
    jr = NULL;
out:
    journal_destroy(jr);
    return err;
}

static int journal_open(vg_journal *jr)
{
    const vg_input_conf *c = jr->conf;
    if (c->journal_files.n) {
        const char **paths = calloc(c->journal_files.n + 1, sizeof *paths);
        if (!paths)
            return -ENOMEM;
        for (size_t i = 0; i < c->journal_files.n; i++)
            paths[i] = c->journal_files.v[i];
        int r = sd_journal_open_files(&jr->j, paths, 0);
        free(paths);
        return r;
    }
    if (c->journal_directory)
        return sd_journal_open_directory(&jr->j, c->journal_directory, 0);
    int r = sd_journal_open(&jr->j, SD_JOURNAL_LOCAL_ONLY);
    if (r < 0)
        return r;
    /* The system journal with no file at all: no journald on this host. */
    uint64_t usage = 0;
    if (sd_journal_get_usage(jr->j, &usage) >= 0 && usage == 0 &&
        !sd_journal_has_runtime_files(jr->j) && !sd_journal_has_persistent_files(jr->j))
        return -ENOENT;
    return 0;
}

/* Matches: same-field matches are OR-ed, different fields AND-ed by sd-journal. */
static int journal_filters(vg_journal *jr)
{
    const vg_strlist *lists[2] = {&jr->conf->units, &jr->conf->identifiers};
    const char *fields[2] = {"_SYSTEMD_UNIT=", "SYSLOG_IDENTIFIER="};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            char *m;
            if (asprintf(&m, "%s%s", fields[l], lists[l]->v[i]) < 0)
                return -ENOMEM;
            int r = sd_journal_add_match(jr->j, m, 0);
            free(m);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/*
 * Position: after the saved cursor (the entry itself was processed), else per
 * start_at. `pending` marks a current entry that read() must hand out before
 * moving on, so no sd_journal_previous dance is needed.
 */
static int journal_seek(vg_journal *jr)
{
    int r;
    if (jr->resume_cursor) {
        r = sd_journal_seek_cursor(jr->j, jr->resume_cursor);
        if (r >= 0) {
            r = sd_journal_next(jr->j);
            if (r > 0)
                jr->pending = sd_journal_test_cursor(jr->j, jr->resume_cursor) <= 0;
            return r < 0 ? r : 0;
        }
        vg_log(VG_LOG_WARNING,
               "journald input %s: saved cursor is invalid (%s); starting as on a "
               "first run",
               jr->conf->name, strerror(-r));
        free(jr->committed); /* never save it back */
        jr->committed = NULL;
    }
    if (jr->conf->start_at == VG_START_BEGINNING)
        return sd_journal_seek_head(jr->j);
    r = sd_journal_seek_tail(jr->j);
    if (r < 0)
        return r;
    r = sd_journal_previous(jr->j);
    if (r < 0)
        return r;
    if (r == 0) {
        /* No (matching) entry yet: whatever appears is new. Left at the tail,
           sd-journal would jump to the newest entry of a file that appears,
           skipping the ones written before it; the head reads them all. */
        return sd_journal_seek_head(jr->j);
    }
    /* Start after the newest existing entry: it is the committed position, so
       a crash before the first mark() does not skip what came since. */
    char *cur = NULL;
    if (!jr->committed && sd_journal_get_cursor(jr->j, &cur) >= 0)
        jr->committed = cur;
    return 0;
}

static vg_err journal_start(void *self, vg_errbuf *eb)
{
    vg_journal *jr = self;
    int r = journal_open(jr);
    if (r < 0) {
        journal_idle(jr, strerror(-r));
        return VG_OK;
    }
    r = journal_filters(jr);
    if (r < 0)
        return vg_errf(eb, r == -ENOMEM ? VG_ENOMEM : VG_ECONFIG,
                       "journald input %s: cannot add a match: %s", jr->conf->name, strerror(-r));
    sd_journal_set_data_threshold(jr->j,
                                  (jr->message_max > FIELD_MAX ? jr->message_max : FIELD_MAX) + 64);
    r = journal_seek(jr);
    if (r < 0) {
        journal_idle(jr, strerror(-r));
        return VG_OK;
    }
    jr->more = true; /* entries may already be there: no fd event will say so */
    jr->fd = sd_journal_get_fd(jr->j);
    if (jr->fd < 0) {
        vg_log(VG_LOG_WARNING,
               "journald input %s: no change notification (%s); polling every %d ms",
               jr->conf->name, strerror(-jr->fd), NO_FD_POLL_MS);
        jr->fd = -1;
    }
    return VG_OK;
}

static int journal_fd(void *self)
{
    const vg_journal *jr = self;
    return jr->idle ? -1 : jr->fd;
}

static int64_t journal_timeout_ms(void *self)
{
    vg_journal *jr = self;
    if (jr->idle || !jr->j)
        return -1;
    if (jr->more || jr->pending)
        return 0;
    if (jr->fd < 0)
        return NO_FD_POLL_MS;
    uint64_t t;
    if (sd_journal_get_timeout(jr->j, &t) < 0 || t == UINT64_MAX)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
    if (t <= now_us)
        return 0;
    uint64_t ms = (t - now_us + 999) / 1000;
    return ms > INT32_MAX ? INT32_MAX : (int64_t)ms;
}

static vg_err journal_read(void *self, vg_batch *b, size_t max)
{
    vg_journal *jr = self;
    if (jr->idle || !jr->j)
        return VG_EAGAIN;
    jr->more = false;
    if (jr->fd >= 0)
        (void)sd_journal_process(jr->j); /* drain inotify; new files are picked up */

    size_t added = 0, skipped = 0;
    while (added < max) {
        if (b->n >= b->cap) {
            jr->more = true;
            break;
        }
        if (skipped >= SKIP_BUDGET) {
            jr->more = true;
            break;
        }
        if (!jr->pending) {
            int r = sd_journal_next(jr->j);
            if (r < 0) {
                char key[256];
                snprintf(key, sizeof key, "journald-next:%s", jr->conf->name);
                vg_log_once(key, VG_LOG_WARNING, "journald input %s: cannot read the journal: %s",
                            jr->conf->name, strerror(-r));
                vg_counter_add(jr->errors, 1);
                break;
            }
            if (r == 0)
                break;
            jr->pending = true;
        }

        /* The identifier first: an excluded entry costs no more than that. */
        journal_fetch(jr, JF_IDENTIFIER, FIELD_MAX);
        journal_fetch(jr, JF_COMM, FIELD_MAX);
        if (excluded(jr, jr->val[JF_IDENTIFIER].present ? &jr->val[JF_IDENTIFIER]
                                                        : &jr->val[JF_COMM])) {
            consume(jr);
            vg_counter_add(jr->skipped, 1);
            skipped++;
            continue;
        }
        journal_fetch(jr, JF_MESSAGE, jr->message_max);
        for (int i = JF_HOSTNAME; i < JF_COUNT; i++)
            if (i != JF_IDENTIFIER && i != JF_COMM)
                journal_fetch(jr, i, FIELD_MAX);

        char *cur = NULL;
        if (sd_journal_get_cursor(jr->j, &cur) < 0) {
            /* An entry without a cursor cannot be resumed from; skip it. */
            jr->pending = false;
            vg_counter_add(jr->errors, 1);
            continue;
        }
        build_result br = build_event(jr, b, cur);
        if (br == RETRY) {
            free(cur); /* stays pending: first entry of the next batch */
            jr->more = true;
            break;
        }
        if (br == UNFIT) {
            char key[256];
            snprintf(key, sizeof key, "journald-unfit:%s", jr->conf->name);
            vg_log_once(key, VG_LOG_WARNING,
                        "journald input %s: an entry does not fit the batch "
                        "arena; dropped (raise limits.batch_arena)",
                        jr->conf->name);
            vg_counter_add(jr->dropped, 1);
            jr->pending = false;
            free(jr->last);
            jr->last = cur;
            skipped++;
            continue;
        }
        jr->pending = false;
        free(jr->last);
        jr->last = cur;
        added++;
    }
    if (added && added == max)
        jr->more = true;
    return added ? VG_OK : VG_EAGAIN;
}

static void journal_mark(void *self)
{
    vg_journal *jr = self;
    if (!jr->last)
        return;
    free(jr->committed);
    jr->committed = jr->last;
    jr->last = NULL;
}

static json_t *journal_save(void *self)
{
    const vg_journal *jr = self;
    if (!jr->committed)
        return NULL;
    return json_pack("{s:s}", "cursor", jr->committed);
}

const vg_collector_ops vg_collector_journald = {
    .type = "journald",
    .flags = VG_COLLECTOR_PARSED,
    .create = journal_create,
    .start = journal_start,
    .fd = journal_fd,
    .timeout_ms = journal_timeout_ms,
    .read = journal_read,
    .mark = journal_mark,
    .save = journal_save,
    .destroy = journal_destroy,
};

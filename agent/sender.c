/*
 * sender.c - the thread of one network output; see sender.h.
 *
 * Loop: read a batch from the spool (waiting for the writer's next flush,
 * then lingering up to batch_delay to fill it); mark items below min_level as
 * done; send the pending items in chunks (the whole batch, halved on
 * VG_ELIMIT down to single items, a single item the peer still finds too
 * large is dead-lettered); on a transport failure sleep the back-off
 * (interruptible) and send the still-pending items again; when nothing is
 * pending, acknowledge the batch.
 *
 * An http output may run `parallel` such loops (workers), each with its own
 * transport (connection): while one waits for the collector's answer the
 * next formats and compresses its batch, and the collector works on two
 * inserts at once. The workers share the output's spool reader under rd_mu
 * and take batches in order (a sequence number each); a batch is
 * acknowledged only after every batch before it, so the spool cursor never
 * passes an undelivered record. vg_sender_stop wakes every worker.
 */
#include "sender.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "reckeys.h"

static const vg_transport_ops *const transports[] = {&vg_transport_http, &vg_transport_syslog,
                                                     &vg_transport_relp, NULL};

const vg_transport_ops *vg_transport_find(const char *type)
{
    for (size_t i = 0; transports[i]; i++)
        if (!strcmp(transports[i]->type, type))
            return transports[i];
    return NULL;
}

bool vg_output_is_spooled(const char *type)
{
    return type && vg_transport_find(type) != NULL;
}

int64_t vg_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt, double rnd)
{
    if (min_ms < 1)
        min_ms = 1;
    if (max_ms < min_ms)
        max_ms = min_ms;
    int64_t d = min_ms;
    for (unsigned i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    /* Full jitter over the upper half: never zero, never in lock step. */
    int64_t lo = d / 2;
    return lo + (int64_t)((double)(d - lo) * rnd) + (d == lo);
}

#define MAX_WORKERS 4

typedef struct worker {
    struct vg_sender *s;
    void *tr; /* its own transport: one exchange at a time each */
    pthread_t th;
    bool started;
    unsigned seed;
} worker;

struct vg_sender {
    const vg_transport_ops *ops;
    worker wk[MAX_WORKERS];
    int nwk;
    pthread_mutex_t rd_mu; /* the reader: read and ack */
    uint64_t next_seq;     /* under rd_mu: sequence number of the next batch read */
    uint64_t acked_seq;    /* under mu: batches [1, acked_seq] are acknowledged */
    vg_spool *sp;
    vg_spool_reader *rd;
    char *name;
    int min_rank;
    size_t max_events, max_bytes;
    int64_t delay_ms, retry_min, retry_max;
    char *dl_path; /* dead-letter file */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* stop, kick and acked_seq changes */
    bool stop, kick;
    vg_counter *c_sent, *c_bytes, *c_batches, *c_retries, *c_errors, *c_auth, *c_split,
        *c_dead, *c_dead_dropped, *c_filtered, *c_latency_ns, *c_exchanges;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep ms unless stopped or kicked; returns false when stopping. */
static bool nap(vg_sender *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop && !s->kick)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
            break;
    s->kick = false;
    bool go = !s->stop;
    pthread_mutex_unlock(&s->mu);
    return go;
}

static bool stopping(vg_sender *s)
{
    pthread_mutex_lock(&s->mu);
    bool st = s->stop;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* The key of a warn-once message of this output: each output warns for
   itself (one failing collector must not silence another's warning). */
static const char *okey(const vg_sender *s, const char *what, char kb[160])
{
    snprintf(kb, 160, "%s:%s", what, s->name);
    return kb;
}

/* Append an item the collector refused to the dead-letter file (capped). */
static void dead_letter(vg_sender *s, const vg_send_item *it, const char *why)
{
    char kb[160];
    vg_counter_add(s->c_dead, 1);
    int fd = open(s->dl_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || st.st_size + (off_t)it->len + 1 > VG_DEADLETTER_MAX) {
        vg_counter_add(s->c_dead_dropped, 1);
        vg_log_once(okey(s, "deadletter_full", kb), VG_LOG_ERROR,
                    "output '%s': dead-letter file %s is full or cannot be written; rejected "
                    "items are dropped (counted in output.deadletter_dropped)", s->name,
                    s->dl_path);
        if (fd >= 0)
            close(fd);
        return;
    }
    /* one write: O_APPEND keeps the lines of parallel workers whole */
    struct iovec iov[2] = {{(void *)it->data, it->len}, {"\n", 1}};
    ssize_t w = writev(fd, iov, 2);
    close(fd);
    if (w != (ssize_t)it->len + 1)
        vg_counter_add(s->c_dead_dropped, 1);
    vg_log_once(okey(s, "deadletter", kb), VG_LOG_WARNING,
                "output '%s': the collector rejected an item (%s); kept in %s, not resent",
                s->name, why, s->dl_path);
}

typedef struct work {
    vg_send_item *items;   /* without the 2-byte header */
    vg_send_status *st;
    size_t n, cap;
    vg_send_item *chunk;   /* pending items of one exchange */
    vg_send_status *cst;
    size_t *idx;
    vg_reckeys *keys;      /* decoded indexes of items */
} work;

static bool work_fit(work *w, size_t n)
{
    if (n <= w->cap)
        return true;
    size_t c = n + n / 2;
    vg_send_item *a = realloc(w->items, c * sizeof *a);
    if (a)
        w->items = a;
    vg_send_status *b = realloc(w->st, c * sizeof *b);
    if (b)
        w->st = b;
    vg_send_item *d = realloc(w->chunk, c * sizeof *d);
    if (d)
        w->chunk = d;
    vg_send_status *e = realloc(w->cst, c * sizeof *e);
    if (e)
        w->cst = e;
    size_t *f = realloc(w->idx, c * sizeof *f);
    if (f)
        w->idx = f;
    vg_reckeys *g = realloc(w->keys, c * sizeof *g);
    if (g)
        w->keys = g;
    if (!a || !b || !d || !e || !f || !g)
        return false;
    w->cap = c;
    return true;
}

static void work_free(work *w)
{
    free(w->items);
    free(w->st);
    free(w->chunk);
    free(w->cst);
    free(w->idx);
    free(w->keys);
}

/* Strip headers, apply min_level. Returns the items still to send. */
static size_t prepare(vg_sender *s, const vg_spool_batch *b, work *w)
{
    size_t pending = 0;
    for (size_t i = 0; i < b->n; i++) {
        const vg_send_item *it = &b->items[i];
        vg_send_item x = *it;
        x.keys = NULL;
        int rank = 4;
        if (x.len >= 2 && (x.data[0] == 'a' || x.data[0] == 'e' || x.data[0] == 's')) {
            rank = x.data[1] - '0';
            x.data += 2;
            x.len -= 2;
            /* The key index the pipeline wrote (checked against the JSON). */
            size_t used = vg_reckeys_decode(x.data, x.len, &w->keys[i]);
            if (used) {
                x.data += used;
                x.len -= used;
                x.keys = &w->keys[i];
            } else if (x.len && x.data[0] == '#') {
                /* An index that does not check out: drop it, parse the JSON. */
                size_t lim = x.len < VG_RECKEYS_MAX ? x.len : VG_RECKEYS_MAX;
                const char *bar = memchr(x.data, '|', lim);
                if (bar) {
                    x.len -= (size_t)(bar + 1 - x.data);
                    x.data = bar + 1;
                }
            }
        }
        w->items[i] = x;
        /* min_level filters alerts; raw events and agent state always go. */
        if (it->len >= 2 && it->data[0] == 'a' && rank < s->min_rank) {
            w->st[i] = VG_SEND_OK;
            vg_counter_add(s->c_filtered, 1);
        } else {
            w->st[i] = VG_SEND_RETRY;
            pending++;
        }
    }
    w->n = b->n;
    return pending;
}

/*
 * Send every pending item of w once, in chunks of at most *chunk items.
 * Returns VG_OK when every item is done (delivered or dead-lettered), else
 * the transport's failure (the caller backs off and calls again).
 */
static vg_err exchange(vg_sender *s, void *tr, work *w, size_t *chunk, vg_errbuf *eb)
{
    for (;;) {
        size_t np = 0;
        for (size_t i = 0; i < w->n && np < *chunk; i++)
            if (w->st[i] == VG_SEND_RETRY) {
                w->idx[np] = i;
                w->chunk[np] = w->items[i];
                w->cst[np] = VG_SEND_RETRY;
                np++;
            }
        if (!np)
            return VG_OK;
        if (stopping(s))
            return vg_errf(eb, VG_EAGAIN, "stopping");
        int64_t t0 = mono_ns();
        vg_err r = s->ops->send(tr, w->chunk, np, w->cst, eb);
        vg_counter_add(s->c_latency_ns, (uint64_t)(mono_ns() - t0));
        vg_counter_add(s->c_exchanges, 1);
        if (r == VG_ELIMIT) {
            vg_counter_add(s->c_split, 1);
            if (np == 1) {
                dead_letter(s, &w->chunk[0], "too large for the collector");
                w->st[w->idx[0]] = VG_SEND_REJECT;
                continue;
            }
            *chunk = np / 2;
            continue;
        }
        if (r)
            return r;
        size_t bytes = 0, ok = 0;
        for (size_t k = 0; k < np; k++) {
            size_t i = w->idx[k];
            if (w->cst[k] == VG_SEND_OK) {
                ok++;
                bytes += w->chunk[k].len;
                w->st[i] = VG_SEND_OK;
            } else if (w->cst[k] == VG_SEND_REJECT) {
                dead_letter(s, &w->chunk[k], "malformed");
                w->st[i] = VG_SEND_REJECT;
            }
        }
        vg_counter_add(s->c_sent, ok);
        vg_counter_add(s->c_bytes, bytes);
        bool progress = false;
        for (size_t k = 0; k < np; k++)
            if (w->cst[k] != VG_SEND_RETRY)
                progress = true;
        if (!progress)
            return vg_errf(eb, VG_EAGAIN, "the collector asked to retry every item");
    }
}

/* Wait until every batch before seq is acknowledged, then acknowledge b.
   False when stopping first (b stays unacknowledged: sent again next run). */
static bool ack_in_order(vg_sender *s, uint64_t seq, const vg_spool_batch *b)
{
    pthread_mutex_lock(&s->mu);
    while (!s->stop && s->acked_seq + 1 != seq)
        pthread_cond_wait(&s->cv, &s->mu);
    bool go = !s->stop;
    pthread_mutex_unlock(&s->mu);
    if (!go)
        return false;
    pthread_mutex_lock(&s->rd_mu);
    vg_spool_ack(s->rd, b);
    pthread_mutex_unlock(&s->rd_mu);
    pthread_mutex_lock(&s->mu);
    s->acked_seq = seq;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return true;
}

static void *run(void *arg)
{
    worker *wk = arg;
    vg_sender *s = wk->s;
    vg_spool_batch b = {0};
    work w = {0};
    unsigned attempt = 0;
    bool have = false, prepared = false;
    uint64_t seq = 0;
    size_t chunk = s->max_events;
    char kb[160];
    while (!stopping(s)) {
        vg_errbuf eb;
        if (!have) {
            pthread_mutex_lock(&s->rd_mu);
            vg_err r = vg_spool_read(s->rd, s->max_events, s->max_bytes, 1000, s->delay_ms, &b,
                                     &eb);
            if (r == VG_OK)
                seq = ++s->next_seq;
            pthread_mutex_unlock(&s->rd_mu);
            if (r == VG_EAGAIN)
                continue;
            if (r) {
                vg_log_once(okey(s, "sender_read", kb), VG_LOG_ERROR,
                            "output '%s': spool read: %s", s->name, eb.msg);
                if (!nap(s, 1000))
                    break;
                continue;
            }
            have = true;
            prepared = false;
        }
        if (!prepared) {
            /* Out of memory: keep the batch (its place in the order is
               taken) and try again after a pause. */
            if (!work_fit(&w, b.n)) {
                vg_log_once(okey(s, "sender_oom", kb), VG_LOG_ERROR, "output '%s': out of memory",
                            s->name);
                if (!nap(s, 1000))
                    break;
                continue;
            }
            prepare(s, &b, &w);
            prepared = true;
            chunk = s->max_events;
        }
        vg_err r = exchange(s, wk->tr, &w, &chunk, &eb);
        if (r == VG_OK) {
            if (!ack_in_order(s, seq, &b))
                break;
            vg_counter_add(s->c_batches, 1);
            have = false;
            if (attempt)
                vg_log(VG_LOG_NOTICE, "output '%s': delivering again", s->name);
            attempt = 0;
            vg_log_once_reset(okey(s, "sender_fail", kb));
            continue;
        }
        if (stopping(s))
            break;
        vg_counter_add(s->c_retries, 1);
        if (r == VG_EPERM) {
            /* Credentials or certificate: loud at every retry, not the batch's fault. */
            vg_counter_add(s->c_auth, 1);
            vg_log(VG_LOG_ERROR, "output '%s': refused: %s (check the token, the password or "
                   "the certificates; retrying)", s->name, eb.msg);
        } else {
            vg_counter_add(s->c_errors, 1);
            vg_log_once(okey(s, "sender_fail", kb), VG_LOG_WARNING,
                        "output '%s': cannot deliver: %s; retrying with back-off, alerts stay "
                        "in the spool", s->name, eb.msg);
        }
        double rnd = (double)rand_r(&wk->seed) / ((double)RAND_MAX + 1.0);
        int64_t d = vg_backoff_ms(s->retry_min, s->retry_max, attempt, rnd);
        if (attempt < 40)
            attempt++;
        if (!nap(s, d))
            break;
    }
    /* Not acknowledged: the spool sends it again at the next start. */
    vg_spool_batch_release(&b);
    work_free(&w);
    return NULL;
}

vg_err vg_sender_start(const vg_output_conf *oc, vg_spool *sp, vg_stats *st,
                       const char *state_dir, vg_sender **out, vg_errbuf *eb)
{
    return vg_sender_start_ops(oc, vg_transport_find(oc->type), sp, st, state_dir, out, eb);
}

vg_err vg_sender_start_ops(const vg_output_conf *oc, const vg_transport_ops *ops, vg_spool *sp,
                           vg_stats *st, const char *state_dir, vg_sender **out, vg_errbuf *eb)
{
    *out = NULL;
    if (!ops)
        return vg_errf(eb, VG_ECONFIG, "output '%s': type '%s' is not a network output",
                       oc->name, oc->type);
    vg_sender *s = calloc(1, sizeof *s);
    if (!s)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rd_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->ops = ops;
    s->sp = sp;
    s->min_rank = oc->min_level_rank;
    s->max_events = oc->batch_max_events > 0 ? (size_t)oc->batch_max_events : 5000;
    s->max_bytes = oc->batch_max_bytes > 0 ? (size_t)oc->batch_max_bytes : (4u << 20);
    s->delay_ms = oc->batch_delay_ms;
    s->retry_min = oc->retry_min_ms;
    s->retry_max = oc->retry_max_ms;
    /* Workers: http only (a syslog or relp stream is one ordered connection). */
    s->nwk = 1;
    if (!strcmp(ops->type, "http") && oc->parallel > 1)
        s->nwk = oc->parallel > MAX_WORKERS ? MAX_WORKERS : (int)oc->parallel;
    vg_err r = VG_OK;
    if (!(s->name = strdup(oc->name)) ||
        asprintf(&s->dl_path, "%s/deadletter-%s.jsonl", state_dir, oc->name) < 0) {
        s->dl_path = NULL;
        r = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    for (char *p = s->dl_path + strlen(state_dir) + 1; *p; p++)
        if (*p == '/')
            *p = '_';
    for (int i = 0; i < s->nwk; i++) {
        s->wk[i].s = s;
        s->wk[i].seed = (unsigned)(mono_ns() ^ (uintptr_t)&s->wk[i]);
        if ((r = ops->create(oc, st, &s->wk[i].tr, eb))) {
            vg_err_prefix(eb, "output '%s'", oc->name);
            goto out;
        }
    }
    if ((r = vg_spool_reader_open(sp, oc->name, &s->rd, eb)))
        goto out;
#define C(n) vg_stats_counter(st, n, "output", oc->name)
    s->c_sent = C("output.sent");
    s->c_bytes = C("output.bytes");
    s->c_batches = C("output.batches");
    s->c_retries = C("output.retries");
    s->c_errors = C("output.errors");
    s->c_auth = C("output.auth_errors");
    s->c_split = C("output.splits");
    s->c_dead = C("output.deadletter");
    s->c_dead_dropped = C("output.deadletter_dropped");
    s->c_filtered = C("output.below_min_level");
    s->c_latency_ns = C("output.send_ns");
    s->c_exchanges = C("output.exchanges");
#undef C
    /* Signals are the pipeline thread's business (signalfd): the sender
       thread blocks them all, or a SIGTERM could be delivered to it and
       kill the process before the pipeline commits. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < s->nwk && !r; i++) {
        if (pthread_create(&s->wk[i].th, NULL, run, &s->wk[i]))
            r = vg_errf(eb, VG_EIO, "output '%s': cannot start its thread", oc->name);
        else
            s->wk[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
    if (r) {
        vg_sender_stop(s);
        return r;
    }
    *out = s;
    return VG_OK;
}

void vg_sender_kick(vg_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->kick = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void vg_sender_stop(vg_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nwk; i++)
        if (s->wk[i].started && s->wk[i].tr)
            s->ops->wake(s->wk[i].tr);
    /* The spool wake is sticky and for all readers: the pipeline calls
       vg_spool_wake once before stopping its senders. */
    for (int i = 0; i < s->nwk; i++)
        if (s->wk[i].started)
            pthread_join(s->wk[i].th, NULL);
    vg_spool_reader_close(s->rd);
    for (int i = 0; i < s->nwk; i++)
        if (s->wk[i].tr)
            s->ops->destroy(s->wk[i].tr);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->rd_mu);
    pthread_mutex_destroy(&s->mu);
    free(s->dl_path);
    free(s->name);
    free(s);
}

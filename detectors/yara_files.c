/*
 * yara_files.c - the file-scan worker; see yara_files.h.
 *
 * One thread, one mutex, two lists (requests, results). The worker takes a
 * request, reads the file into memory outside the lock (bounded by
 * max_size), hashes and scans it, and appends the result. The rate limit is
 * a one-minute window counted at submission, so a flood of events costs the
 * pipeline one comparison each.
 */
#include "yara_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../agent/json.h"

#define RECENT 64 /* files remembered as just scanned */

void vg_yara_strings_json(vg_buf *b, YR_SCAN_CONTEXT *ctx, YR_RULE *rule)
{
    vg_buf_puts(b, "\"strings\":[");
    YR_STRING *s;
    size_t k = 0;
    yr_rule_strings_foreach(rule, s)
    {
        /* libyara's notebook may hand out YR_MATCHes at unaligned addresses:
           read each through a copy */
        YR_MATCH mc;
        for (const YR_MATCH *mp = ctx->matches[s->idx].head; mp; mp = mc.next) {
            memcpy(&mc, mp, sizeof mc);
            if (mc.is_private)
                continue;
            if (k >= VG_YARA_STRINGS_PER_RULE)
                break;
            if (k++)
                vg_buf_putc(b, ',');
            vg_buf_puts(b, "{\"id\":");
            vg_json_cstr(b, s->identifier);
            vg_buf_printf(b, ",\"offset\":%lld,\"length\":%d}", (long long)mc.base + mc.offset,
                          mc.match_length);
        }
    }
    vg_buf_putc(b, ']');
}

typedef struct req {
    vg_yfile_result *r; /* filled in by the worker */
    struct req *next;
} req;

typedef struct recent {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} recent;

struct vg_yfiles {
    YR_RULES *rules;
    vg_yfiles_opts o;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv, idle_cv;
    bool stop, started;
    req *head, *tail;
    size_t nq, busy;
    vg_yfile_result *done, *done_tail;
    int64_t win_start;
    int64_t win_count;
    recent rec[RECENT];
    size_t nrec;
    vg_counter *c_scanned, *c_matched, *c_rate, *c_queue, *c_big, *c_open, *c_bad, *c_same,
        *c_err;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vg_yfiles_result_free(vg_yfile_result *r)
{
    while (r) {
        vg_yfile_result *next = r->next;
        for (size_t i = 0; i < r->nm; i++)
            free(r->m[i].strings_json);
        free(r->path);
        free(r->raw);
        free(r->stream_name);
        free(r->stream_input);
        free(r);
        r = next;
    }
}

typedef struct scan_ctx {
    vg_yfiles *f;
    vg_yfile_result *r;
    const uint8_t *data;
    vg_buf b;
} scan_ctx;

static int on_scan(YR_SCAN_CONTEXT *ctx, int msg, void *data, void *ud)
{
    scan_ctx *c = ud;
    if (msg == CALLBACK_MSG_TOO_MANY_MATCHES) {
        YR_STRING *s = data;
        if (c->f->o.limit)
            c->f->o.limit(c->f->o.ud, s->rule_idx, "too many matches");
        return CALLBACK_CONTINUE;
    }
    if (msg != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    YR_RULE *rule = data;
    uint32_t idx = (uint32_t)(rule - c->f->rules->rules_table);
    if (c->r->nm >= VG_YFILES_MATCHES || (c->f->o.rule_ok && !c->f->o.rule_ok(c->f->o.ud, idx)))
        return CALLBACK_CONTINUE;
    vg_buf_reset(&c->b);
    vg_yara_strings_json(&c->b, ctx, rule);
    if (c->b.overflow)
        return CALLBACK_CONTINUE;
    char *js = strndup(c->b.p, c->b.n);
    if (!js)
        return CALLBACK_CONTINUE;
    c->r->m[c->r->nm].rule = idx;
    c->r->m[c->r->nm++].strings_json = js;
    return CALLBACK_CONTINUE;
}

static void hex(char *out, const unsigned char *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool seen_recently(vg_yfiles *f, const struct stat *st)
{
    for (size_t i = 0; i < f->nrec && i < RECENT; i++) {
        recent *e = &f->rec[i];
        if (e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
            e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec)
            return true;
    }
    f->rec[f->nrec++ % RECENT] = (recent){st->st_dev, st->st_ino, st->st_size, st->st_mtim};
    return false;
}

/* Read, hash and scan r->path. Returns false when the file was not scanned. */
static bool scan_one(vg_yfiles *f, YR_SCANNER *sc, vg_yfile_result *r)
{
    int fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        vg_counter_add(f->c_open, 1);
        return false;
    }
    struct stat st;
    bool ok = false;
    uint8_t *data = NULL;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        vg_counter_add(f->c_bad, 1);
        goto out;
    }
    if (st.st_size > f->o.max_size) {
        vg_counter_add(f->c_big, 1);
        goto out;
    }
    pthread_mutex_lock(&f->mu);
    bool same = seen_recently(f, &st);
    pthread_mutex_unlock(&f->mu);
    if (same) {
        vg_counter_add(f->c_same, 1);
        goto out;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    data = malloc(cap ? cap : 1);
    if (!data)
        goto out;
    while (n < cap) { /* a file that grows meanwhile is read up to its stat size */
        ssize_t k = read(fd, data + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    r->size = (int64_t)n;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (!EVP_Digest(data, n, md, &mdn, EVP_sha256(), NULL) || mdn != 32) {
        vg_counter_add(f->c_err, 1);
        goto out;
    }
    hex(r->sha256, md, 32);
    /* File externals for the community rules that use them. */
    const char *base = strrchr(r->path, '/');
    base = base ? base + 1 : r->path;
    const char *ext = strrchr(base, '.');
    yr_scanner_define_string_variable(sc, "filepath", r->path);
    yr_scanner_define_string_variable(sc, "filename", base);
    yr_scanner_define_string_variable(sc, "extension", ext ? ext : "");
    scan_ctx c = {f, r, data, {0}};
    vg_buf_init(&c.b, 64 << 10);
    yr_scanner_set_callback(sc, on_scan, &c);
    int e = yr_scanner_scan_mem(sc, data, n);
    if (e == ERROR_SCAN_TIMEOUT && f->o.limit) {
        YR_RULE *lr = yr_scanner_last_error_rule(sc);
        f->o.limit(f->o.ud, lr ? (int64_t)(lr - f->rules->rules_table) : -1, "scan timeout");
    } else if (e != ERROR_SUCCESS) {
        vg_counter_add(f->c_err, 1);
    }
    vg_buf_free(&c.b);
    vg_counter_add(f->c_scanned, 1);
    if (r->nm)
        vg_counter_add(f->c_matched, 1);
    ok = true;
out:
    free(data);
    close(fd);
    return ok;
}

static void *worker(void *arg)
{
    vg_yfiles *f = arg;
    YR_SCANNER *sc = NULL;
    if (yr_scanner_create(f->rules, &sc) != ERROR_SUCCESS)
        sc = NULL;
    else
        yr_scanner_set_timeout(sc, f->o.timeout_s > 0 ? f->o.timeout_s : 1);
    if (sc) /* the file is read into memory first: no SIGBUS guard needed */
        yr_scanner_set_flags(sc, SCAN_FLAGS_NO_TRYCATCH | SCAN_FLAGS_REPORT_RULES_MATCHING);
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stop && !f->head)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->stop)
            break;
        req *q = f->head;
        f->head = q->next;
        if (!f->head)
            f->tail = NULL;
        f->nq--;
        f->busy++;
        pthread_mutex_unlock(&f->mu);
        vg_yfile_result *r = q->r;
        free(q);
        bool ok = sc && scan_one(f, sc, r);
        pthread_mutex_lock(&f->mu);
        f->busy--;
        if (ok && r->nm) {
            if (f->done_tail)
                f->done_tail->next = r;
            else
                f->done = r;
            f->done_tail = r;
        } else {
            r->next = NULL;
            pthread_mutex_unlock(&f->mu);
            vg_yfiles_result_free(r);
            pthread_mutex_lock(&f->mu);
        }
        pthread_cond_broadcast(&f->idle_cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (sc)
        yr_scanner_destroy(sc);
    return NULL;
}

vg_yfiles *vg_yfiles_create(YR_RULES *rules, const vg_yfiles_opts *o, vg_stats *st)
{
    vg_yfiles *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->rules = rules;
    f->o = *o;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_cond_init(&f->idle_cv, NULL);
    f->c_scanned = vg_stats_counter(st, "yara.file_scans", NULL, NULL);
    f->c_matched = vg_stats_counter(st, "yara.file_matches", NULL, NULL);
    f->c_rate = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "rate");
    f->c_queue = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "queue_full");
    f->c_big = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "too_large");
    f->c_open = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "cannot_open");
    f->c_bad = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "not_regular");
    f->c_same = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "unchanged");
    f->c_err = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "error");
    /* The worker takes no signal: the agent reads them with a signalfd on
       its main thread (and blocks them only later). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&f->th, NULL, worker, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        vg_yfiles_destroy(f);
        return NULL;
    }
    f->started = true;
    return f;
}

void vg_yfiles_destroy(vg_yfiles *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->started)
        pthread_join(f->th, NULL);
    while (f->head) {
        req *q = f->head;
        f->head = q->next;
        vg_yfiles_result_free(q->r);
        free(q);
    }
    vg_yfiles_result_free(f->done);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    pthread_cond_destroy(&f->idle_cv);
    free(f);
}

static char *dupn(const char *p, size_t n)
{
    return p ? strndup(p, n) : strdup("");
}

bool vg_yfiles_submit(vg_yfiles *f, const char *path, size_t n, const vg_event *ev,
                      uint32_t trigger)
{
    if (!n || n >= PATH_MAX || path[0] != '/' || memchr(path, '\0', n)) {
        vg_counter_add(f->c_bad, 1);
        return false;
    }
    int64_t now = mono_ms();
    pthread_mutex_lock(&f->mu);
    if (now - f->win_start >= 60000) {
        f->win_start = now;
        f->win_count = 0;
    }
    bool rate = f->win_count >= f->o.per_minute, full = f->nq >= VG_YFILES_QUEUE;
    if (!rate && !full)
        f->win_count++;
    pthread_mutex_unlock(&f->mu);
    if (rate || full) {
        vg_counter_add(rate ? f->c_rate : f->c_queue, 1);
        return false;
    }
    req *q = calloc(1, sizeof *q);
    vg_yfile_result *r = calloc(1, sizeof *r);
    size_t rn = ev->raw.n > (64 << 10) ? (64 << 10) : ev->raw.n;
    if (q && r) {
        r->path = strndup(path, n);
        r->raw = dupn(ev->raw.p, rn);
        r->raw_n = ev->raw.p ? rn : 0;
        r->trigger_rule = trigger;
        r->offset = ev->offset;
        r->ts_ns = ev->ts_ns;
        if (ev->stream) {
            r->stream = *ev->stream;
            const char *nm = ev->stream->name;
            r->stream_name = dupn(nm, nm ? strlen(nm) : 0);
            r->stream_input =
                dupn(ev->stream->input, ev->stream->input ? strlen(ev->stream->input) : 0);
        } else {
            snprintf(r->stream.id, sizeof r->stream.id, "none");
            r->stream_name = strdup("");
            r->stream_input = strdup("");
        }
        r->stream.name = r->stream_name;
        r->stream.input = r->stream_input;
    }
    if (!q || !r || !r->path || !r->raw || !r->stream_name || !r->stream_input) {
        free(q);
        vg_yfiles_result_free(r);
        vg_counter_add(f->c_err, 1);
        return false;
    }
    pthread_mutex_lock(&f->mu);
    q->r = r;
    if (f->tail)
        f->tail->next = q;
    else
        f->head = q;
    f->tail = q;
    f->nq++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return true;
}

vg_yfile_result *vg_yfiles_take(vg_yfiles *f, size_t *pending)
{
    pthread_mutex_lock(&f->mu);
    vg_yfile_result *r = f->done;
    f->done = f->done_tail = NULL;
    *pending = f->nq + f->busy;
    pthread_mutex_unlock(&f->mu);
    return r;
}

bool vg_yfiles_wait_idle(vg_yfiles *f, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    int e = 0;
    while ((f->nq || f->busy) && e != ETIMEDOUT)
        e = pthread_cond_timedwait(&f->idle_cv, &f->mu, &dl);
    bool idle = !f->nq && !f->busy;
    pthread_mutex_unlock(&f->mu);
    return idle;
}

/*
 * test_tail.c - the file collector against real files in a temp directory.
 *
 * Each test drives the collector's ops directly (create/start/read/mark/
 * save/destroy) the way the pipeline does: read a batch, record it, mark,
 * and when there is nothing, poll() on ops->fd with ops->timeout_ms. Waits
 * are conditions with a deadline; "nothing more arrives" is checked by
 * pumping for a bounded window after the expected lines came.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectors/collector.h"

typedef struct rec {
    char *text;
    size_t n;
    char path[PATH_MAX];
    char sid[80];
    uint64_t offset;
    uint64_t line;
    uint32_t flags;
} rec;

typedef struct harness {
    char dir[64];
    char pattern[4][PATH_MAX];
    char *pv[4];
    char excl[2][PATH_MAX];
    char *ev[2];
    vg_input_conf conf;
    vg_stats *st;
    void *c;
    vg_batch b;
    rec *got;
    size_t ngot, cap;
    json_t *saved; /* from the last stop() */
    size_t npump;  /* read() calls so far */
} harness;

static const vg_collector_ops *ops = &vg_collector_file;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Paths: "@/x" is the temp dir + "/x". */
static const char *P(harness *h, const char *name)
{
    static char buf[4][PATH_MAX];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", h->dir, name);
    return buf[k];
}

static void h_init(harness *h, vg_watch_mode mode, const char *const *patterns)
{
    memset(h, 0, sizeof *h);
    strcpy(h->dir, "/tmp/vg-tail-XXXXXX");
    cr_assert_not_null(mkdtemp(h->dir));
    size_t n = 0;
    for (; patterns && patterns[n] && n < 4; n++) {
        char dir[sizeof h->dir];
        memcpy(dir, h->dir, sizeof dir);
        snprintf(h->pattern[n], PATH_MAX, "%s/%s", dir, patterns[n]);
        h->pv[n] = h->pattern[n];
    }
    h->conf.name = "t";
    h->conf.type = "file";
    h->conf.paths.v = h->pv;
    h->conf.paths.n = n;
    h->conf.start_at = VG_START_BEGINNING;
    h->conf.watch = mode;
    h->conf.poll_interval_ms = 40;
    h->conf.idle_flush_ms = 100;
    h->conf.rotate_wait_ms = 200;
    h->conf.max_line = 65536;
    h->conf.read_buffer = 4096;
    h->st = vg_stats_create();
    cr_assert_not_null(h->st);
    cr_assert_eq(vg_batch_init(&h->b, 64, 1 << 16), 0);
}

static void h_exclude(harness *h, const char *glob)
{
    size_t n = h->conf.exclude.n;
    char dir[sizeof h->dir];
    memcpy(dir, h->dir, sizeof dir);
    snprintf(h->excl[n], PATH_MAX, "%s/%s", dir, glob);
    h->ev[n] = h->excl[n];
    h->conf.exclude.v = h->ev;
    h->conf.exclude.n = n + 1;
}

static void h_start(harness *h, int first_run, const json_t *saved)
{
    vg_collector_env env = {.stats = h->st, .now_ns = 0, .saved = saved, .first_run = first_run};
    vg_errbuf eb = {0};
    cr_assert_eq(ops->create(&h->conf, &env, &h->c, &eb), VG_OK, "create: %s", eb.msg);
    cr_assert_eq(ops->start(h->c, &eb), VG_OK, "start: %s", eb.msg);
}

/* Stop as the agent does: save the committed positions, then destroy. */
static void h_stop(harness *h)
{
    json_decref(h->saved);
    h->saved = ops->save(h->c);
    cr_assert_not_null(h->saved);
    ops->destroy(h->c);
    h->c = NULL;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void h_fini(harness *h)
{
    ops->destroy(h->c);
    json_decref(h->saved);
    for (size_t i = 0; i < h->ngot; i++)
        free(h->got[i].text);
    free(h->got);
    vg_batch_destroy(&h->b);
    vg_stats_destroy(h->st);
    nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One pipeline turn: read a batch, record it, mark; or wait for the fd/timer. */
static void pump(harness *h, int64_t max_wait)
{
    vg_err e = ops->read(h->c, &h->b, 16);
    h->npump++;
    cr_assert(e == VG_OK || e == VG_EAGAIN);
    for (size_t i = 0; i < h->b.n; i++) {
        const vg_event *ev = &h->b.ev[i];
        if (h->ngot == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 64;
            h->got = realloc(h->got, h->cap * sizeof *h->got);
            cr_assert_not_null(h->got);
        }
        rec *r = &h->got[h->ngot++];
        r->text = malloc(ev->raw.n + 1);
        memcpy(r->text, ev->raw.p, ev->raw.n);
        r->text[ev->raw.n] = '\0';
        r->n = ev->raw.n;
        snprintf(r->path, sizeof r->path, "%s", ev->stream->name);
        snprintf(r->sid, sizeof r->sid, "%s", ev->stream->id);
        r->offset = ev->offset;
        r->line = ev->line;
        r->flags = ev->flags;
        cr_assert_str_eq(ev->stream->input, "t");
    }
    vg_batch_reset(&h->b);
    ops->mark(h->c);
    if (e == VG_OK)
        return;
    int64_t t = ops->timeout_ms(h->c);
    if (t < 0 || t > max_wait)
        t = max_wait;
    struct pollfd pfd = {.fd = ops->fd(h->c), .events = POLLIN};
    poll(&pfd, pfd.fd >= 0 ? 1 : 0, (int)t);
}

#define WAIT_FOR(h, cond, ms)                                                   \
    do {                                                                        \
        int64_t dl_ = now_ms() + (ms);                                          \
        while (!(cond)) {                                                       \
            cr_assert_lt(now_ms(), dl_, "timed out waiting for %s", #cond);     \
            pump((h), 50);                                                      \
        }                                                                       \
    } while (0)

/* Keep the pipeline running for a bounded window: whatever should not
   arrive would arrive here. */
static void quiet(harness *h, int64_t ms)
{
    int64_t dl = now_ms() + ms;
    while (now_ms() < dl)
        pump(h, dl - now_ms());
}

static void append(const char *path, const char *s, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    if (!n)
        n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        cr_assert_gt(w, 0);
        s += w;
        n -= (size_t)w;
    }
    close(fd);
}

static size_t saved_files(harness *h)
{
    json_t *j = ops->save(h->c);
    size_t n = json_array_size(json_object_get(j, "files"));
    json_decref(j);
    return n;
}

static uint64_t counter(harness *h, const char *name)
{
    return vg_stats_sum(h->st, name);
}

static void dump(harness *h)
{
    for (size_t i = 0; i < h->ngot; i++)
        fprintf(stderr, "  got[%zu] %s @%" PRIu64 " flags %u: %s\n", i, h->got[i].path,
                h->got[i].offset, h->got[i].flags, h->got[i].text);
}

/* Exactly these lines, in this order. */
static void expect_lines(harness *h, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    bool ok = h->ngot == n;
    for (size_t i = 0; i < h->ngot && i < n; i++)
        ok = ok && strcmp(h->got[i].text, want[i]) == 0;
    if (!ok)
        dump(h);
    for (size_t i = 0; i < h->ngot && i < n; i++)
        cr_expect_str_eq(h->got[i].text, want[i], "line %zu", i);
    cr_expect_eq(h->ngot, n, "got %zu lines, want %zu", h->ngot, n);
}

/* Exactly these lines, each once; order kept within each file. */
static void expect_set(harness *h, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    cr_expect_eq(h->ngot, n, "got %zu lines, want %zu", h->ngot, n);
    if (h->ngot != n)
        dump(h);
    for (size_t k = 0; k < n; k++) {
        size_t seen = 0;
        for (size_t i = 0; i < h->ngot; i++)
            seen += strcmp(h->got[i].text, want[k]) == 0;
        cr_expect_eq(seen, 1, "line '%s' seen %zu times", want[k], seen);
    }
    for (size_t i = 0; i < h->ngot; i++)
        for (size_t j = i + 1; j < h->ngot; j++)
            if (strcmp(h->got[i].sid, h->got[j].sid) == 0)
                cr_expect_lt(h->got[i].offset, h->got[j].offset, "order in %s", h->got[i].path);
}

static void clear_got(harness *h)
{
    for (size_t i = 0; i < h->ngot; i++)
        free(h->got[i].text);
    h->ngot = 0;
}

/* ---- tests ---- */

Test(tail, append_offsets_and_stream)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "l1\nl2\n", 0);
    h_start(&h, 0, NULL);
    cr_expect_geq(ops->fd(h.c), 0, "inotify fd");
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    append(P(&h, "a.log"), "l3\nl4\n", 0);
    WAIT_FOR(&h, h.ngot >= 4, 5000);
    quiet(&h, 200);
    expect_lines(&h, (const char *[]){"l1", "l2", "l3", "l4", NULL});
    for (size_t i = 0; i < h.ngot; i++) {
        cr_expect_eq(h.got[i].offset, 3 * i);
        cr_expect_str_eq(h.got[i].path, P(&h, "a.log"));
        cr_expect_eq(h.got[i].flags, 0);
    }
    struct stat st;
    stat(P(&h, "a.log"), &st);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "f:%" PRIx64 ":%" PRIu64 ":", (uint64_t)st.st_dev,
             (uint64_t)st.st_ino);
    cr_expect_eq(strncmp(h.got[3].sid, prefix, strlen(prefix)), 0, "sid %s", h.got[3].sid);
    cr_expect_eq(strlen(h.got[3].sid), strlen(prefix) + 16);
    cr_expect_eq(counter(&h, "input.lines"), 4);
    cr_expect_eq(counter(&h, "input.bytes"), 12);
    cr_expect_eq(counter(&h, "input.files_opened"), 1);
    json_t *s = ops->save(h.c);
    json_t *f0 = json_array_get(json_object_get(s, "files"), 0);
    cr_expect_eq(json_integer_value(json_object_get(f0, "offset")), 12);
    cr_expect_eq(json_integer_value(json_object_get(f0, "ino")), (json_int_t)st.st_ino);
    cr_expect_eq(json_integer_value(json_object_get(f0, "fplen")), 12);
    cr_expect_str_eq(json_string_value(json_object_get(f0, "path")), P(&h, "a.log"));
    json_decref(s);
    h_fini(&h);
}

static void rotate_rename_create(vg_watch_mode mode)
{
    harness h;
    h_init(&h, mode, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "l1\nl2\n", 0);
    h_start(&h, 0, NULL);
    if (mode == VG_WATCH_POLL)
        cr_expect_eq(ops->fd(h.c), -1);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    append(P(&h, "a.log"), "l3\n", 0);
    cr_assert_eq(rename(P(&h, "a.log"), P(&h, "a.log.1")), 0);
    append(P(&h, "a.log.1"), "l4\nl5-no-newline", 0); /* the writer still has the old file */
    append(P(&h, "a.log"), "n1\nn2\n", 0);
    WAIT_FOR(&h, h.ngot >= 7, 5000);
    WAIT_FOR(&h, saved_files(&h) == 1, 5000); /* the old file was released */
    append(P(&h, "a.log"), "n3\n", 0);
    WAIT_FOR(&h, h.ngot >= 8, 5000);
    quiet(&h, 200);
    expect_set(&h, (const char *[]){"l1", "l2", "l3", "l4", "l5-no-newline", "n1", "n2", "n3",
                                    NULL});
    for (size_t i = 0; i < h.ngot; i++)
        cr_expect_eq(h.got[i].flags, strcmp(h.got[i].text, "l5-no-newline") ? 0u
                                                                             : VG_EV_NO_NEWLINE);
    cr_expect_eq(counter(&h, "input.rotations"), 1);
    cr_expect_eq(counter(&h, "input.files_opened"), 2);
    h_fini(&h);
}

Test(tail, rotate_rename_create_inotify)
{
    rotate_rename_create(VG_WATCH_INOTIFY);
}

Test(tail, rotate_rename_create_poll)
{
    rotate_rename_create(VG_WATCH_POLL);
}

Test(tail, rotated_name_matching_the_glob_is_not_read_twice)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log*", NULL});
    append(P(&h, "a.log"), "l1\n", 0);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    cr_assert_eq(rename(P(&h, "a.log"), P(&h, "a.log.1")), 0);
    append(P(&h, "a.log"), "n1\n", 0);
    append(P(&h, "a.log.1"), "l2\n", 0);
    WAIT_FOR(&h, h.ngot >= 3, 5000);
    quiet(&h, 400); /* longer than idle_flush: a release would have happened */
    expect_set(&h, (const char *[]){"l1", "l2", "n1", NULL});
    cr_expect_eq(saved_files(&h), 2, "both files followed");
    h_fini(&h);
}

static void copytruncate(bool longer)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "l1\nl2\n", 0);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    /* logrotate copytruncate: copy, then truncate in place; the writer goes on */
    append(P(&h, "a.log.1"), "l1\nl2\n", 0);
    cr_assert_eq(truncate(P(&h, "a.log"), 0), 0);
    if (longer) /* more than was read before: only the fingerprint tells */
        append(P(&h, "a.log"), "after-truncation-1\nafter-truncation-2\n", 0);
    else
        append(P(&h, "a.log"), "n\n", 0);
    WAIT_FOR(&h, h.ngot >= (longer ? 4u : 3u), 5000);
    quiet(&h, 200);
    if (longer)
        expect_lines(&h, (const char *[]){"l1", "l2", "after-truncation-1",
                                          "after-truncation-2", NULL});
    else
        expect_lines(&h, (const char *[]){"l1", "l2", "n", NULL});
    cr_expect_eq(h.got[2].offset, 0);
    cr_expect_eq(counter(&h, "input.truncations"), 1);
    h_fini(&h);
}

Test(tail, copytruncate_shorter)
{
    copytruncate(false);
}

Test(tail, copytruncate_longer_detected_by_fingerprint)
{
    copytruncate(true);
}

Test(tail, truncate_then_append_poll)
{
    harness h;
    h_init(&h, VG_WATCH_POLL, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "aaaa\nbbbb\n", 0);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    int fd = open(P(&h, "a.log"), O_WRONLY | O_TRUNC);
    cr_assert_geq(fd, 0);
    close(fd);
    WAIT_FOR(&h, counter(&h, "input.truncations") == 1, 5000);
    append(P(&h, "a.log"), "c\n", 0);
    WAIT_FOR(&h, h.ngot >= 3, 5000);
    quiet(&h, 150);
    expect_lines(&h, (const char *[]){"aaaa", "bbbb", "c", NULL});
    h_fini(&h);
}

Test(tail, delete_while_open)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "l1\n", 0);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    append(P(&h, "a.log"), "l2\nl3\n", 0);
    cr_assert_eq(unlink(P(&h, "a.log")), 0);
    WAIT_FOR(&h, h.ngot >= 3, 5000);
    WAIT_FOR(&h, saved_files(&h) == 0, 5000);
    quiet(&h, 150);
    expect_lines(&h, (const char *[]){"l1", "l2", "l3", NULL});
    h_fini(&h);
}

Test(tail, glob_new_files_missing_dir_exclude_fifo)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"*.log", "sub/*.log", NULL});
    h_exclude(&h, "*skip*");
    append(P(&h, "a.log"), "a1\n", 0);
    cr_assert_eq(mkfifo(P(&h, "fifo.log"), 0644), 0);
    h_start(&h, 1, NULL); /* first run, start_at beginning */
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    append(P(&h, "b.log"), "b1\n", 0);
    append(P(&h, "skip.log"), "s1\n", 0);
    append(P(&h, "b.txt"), "t1\n", 0);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    cr_assert_eq(mkdir(P(&h, "sub"), 0755), 0);
    append(P(&h, "sub/c.log"), "c1\n", 0);
    WAIT_FOR(&h, h.ngot >= 3, 5000);
    append(P(&h, "sub/c.log"), "c2\n", 0); /* the new directory is watched now */
    WAIT_FOR(&h, h.ngot >= 4, 5000);
    quiet(&h, 200);
    expect_lines(&h, (const char *[]){"a1", "b1", "c1", "c2", NULL});
    cr_expect_str_eq(h.got[1].path, P(&h, "b.log"));
    cr_expect_str_eq(h.got[2].path, P(&h, "sub/c.log"));
    h_fini(&h);
}

static void start_at(int first_run, vg_start_at where, const char *const *want)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    h.conf.start_at = where;
    append(P(&h, "a.log"), "old1\nold2\n", 0);
    h_start(&h, first_run, NULL);
    quiet(&h, 100);
    append(P(&h, "a.log"), "new\n", 0);
    append(P(&h, "b.log"), "ignored\n", 0);
    WAIT_FOR(&h, h.ngot >= 1 && strcmp(h.got[h.ngot - 1].text, "new") == 0, 5000);
    quiet(&h, 150);
    expect_lines(&h, want);
    h_fini(&h);
}

Test(tail, start_at_end_on_first_run)
{
    start_at(1, VG_START_END, (const char *[]){"new", NULL});
}

Test(tail, start_at_beginning_on_first_run)
{
    start_at(1, VG_START_BEGINNING, (const char *[]){"old1", "old2", "new", NULL});
}

Test(tail, start_at_end_ignored_after_first_run)
{
    start_at(0, VG_START_END, (const char *[]){"old1", "old2", "new", NULL});
}

Test(tail, file_appearing_later_starts_at_zero_even_with_start_at_end)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"*.log", NULL});
    h.conf.start_at = VG_START_END;
    append(P(&h, "a.log"), "old\n", 0);
    h_start(&h, 1, NULL);
    append(P(&h, "b.log"), "b1\nb2\n", 0);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    quiet(&h, 150);
    expect_lines(&h, (const char *[]){"b1", "b2", NULL});
    h_fini(&h);
}

Test(tail, save_restore_resumes_exactly)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "l1\nl2\npart", 0);
    h_start(&h, 1, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    h_stop(&h); /* before the idle flush: "part" is not committed */
    append(P(&h, "a.log"), "ial\nl3\n", 0);
    h_start(&h, 0, h.saved);
    WAIT_FOR(&h, h.ngot >= 4, 5000);
    quiet(&h, 200);
    expect_lines(&h, (const char *[]){"l1", "l2", "partial", "l3", NULL});
    cr_expect_eq(h.got[2].offset, 6);
    /* Line numbers continue across the restart (they come back with the
       positions): the ids of forwarded raw events stay deterministic. */
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(h.got[i].line, i + 1, "line %zu numbered %llu", i,
                     (unsigned long long)h.got[i].line);
    h_fini(&h);
}

Test(tail, stop_append_rotate_append_restart)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"auth.log", NULL});
    append(P(&h, "auth.log"), "l1\nl2\n", 0);
    h_start(&h, 1, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    h_stop(&h);
    append(P(&h, "auth.log"), "l3\n", 0);
    cr_assert_eq(rename(P(&h, "auth.log"), P(&h, "auth.log.1")), 0);
    append(P(&h, "auth.log.1"), "l4\n", 0);
    append(P(&h, "auth.log"), "n1\n", 0);
    h_start(&h, 0, h.saved);
    WAIT_FOR(&h, h.ngot >= 5, 5000);
    WAIT_FOR(&h, saved_files(&h) == 1, 5000); /* auth.log.1 finished and released */
    quiet(&h, 200);
    expect_set(&h, (const char *[]){"l1", "l2", "l3", "l4", "n1", NULL});
    /* and once more: nothing is read twice after a clean restart */
    h_stop(&h);
    clear_got(&h);
    append(P(&h, "auth.log"), "n2\n", 0);
    h_start(&h, 0, h.saved);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    quiet(&h, 200);
    expect_lines(&h, (const char *[]){"n2", NULL});
    h_fini(&h);
}

Test(tail, inode_reuse_is_a_new_file)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "new1\nnew2\n", 0);
    struct stat st;
    cr_assert_eq(stat(P(&h, "a.log"), &st), 0);
    /* A saved position for the same dev/inode but another head. */
    json_t *saved = json_pack("{s:[{s:s, s:I, s:I, s:s, s:i, s:i}]}", "files", "path",
                              P(&h, "a.log"), "dev", (json_int_t)st.st_dev, "ino",
                              (json_int_t)st.st_ino, "fp", "0123456789abcdef", "fplen", 5,
                              "offset", 5);
    h_start(&h, 0, saved);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    quiet(&h, 150);
    expect_lines(&h, (const char *[]){"new1", "new2", NULL});
    json_decref(saved);
    h_stop(&h);
    /* Real recycling: delete and recreate (ext4 often hands the inode back). */
    clear_got(&h);
    cr_assert_eq(unlink(P(&h, "a.log")), 0);
    append(P(&h, "a.log"), "other\n", 0);
    h_start(&h, 0, h.saved);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    quiet(&h, 150);
    expect_lines(&h, (const char *[]){"other", NULL});
    h_fini(&h);
}

Test(tail, ten_megabyte_line_is_truncated)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    h.conf.read_buffer = 256 * 1024;
    size_t big = 10u << 20;
    char *s = malloc(big + 16);
    memset(s, 'x', big);
    memcpy(s + big, "\nafter\n", 7);
    append(P(&h, "a.log"), s, big + 7);
    free(s);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 10000);
    quiet(&h, 150);
    cr_assert_eq(h.ngot, 2);
    cr_expect_eq(h.got[0].n, 65536);
    cr_expect_eq(h.got[0].flags, VG_EV_TRUNCATED);
    cr_expect_str_eq(h.got[1].text, "after");
    cr_expect_eq(h.got[1].offset, big + 1);
    cr_expect_eq(counter(&h, "input.truncated_lines"), 1);
    h_fini(&h);
}

Test(tail, nul_bytes_and_crlf)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "a\0b\r\nc\n", 7);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    quiet(&h, 150);
    cr_assert_eq(h.ngot, 2);
    cr_expect_eq(h.got[0].n, 3);
    cr_expect_eq(memcmp(h.got[0].text, "a\0b", 3), 0);
    cr_expect_str_eq(h.got[1].text, "c");
    cr_expect_eq(h.got[1].offset, 5);
    h_fini(&h);
}

Test(tail, idle_flush_of_a_partial_line)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "l1\npartial", 0);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    append(P(&h, "a.log"), "next\n", 0);
    WAIT_FOR(&h, h.ngot >= 3, 5000);
    quiet(&h, 150);
    expect_lines(&h, (const char *[]){"l1", "partial", "next", NULL});
    cr_expect_eq(h.got[1].flags, VG_EV_NO_NEWLINE);
    cr_expect_eq(h.got[2].offset, 10);
    h_fini(&h);
}

Test(tail, fairness_round_robin)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"*.log", NULL});
    char buf[64 * 8];
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        n += (size_t)sprintf(buf + n, "a%02d\n", i);
    append(P(&h, "a.log"), buf, n);
    append(P(&h, "b.log"), "b1\n", 0);
    h_start(&h, 0, NULL);
    /* one read of at most 16: both files get a turn within the first two */
    vg_err e1 = ops->read(h.c, &h.b, 16);
    cr_assert_eq(e1, VG_OK);
    cr_expect_leq(h.b.n, 16);
    bool seen_b = false;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < h.b.n; i++)
            seen_b |= h.b.ev[i].raw.n == 2 && memcmp(h.b.ev[i].raw.p, "b1", 2) == 0;
        vg_batch_reset(&h.b);
        ops->mark(h.c);
        ops->read(h.c, &h.b, 16);
    }
    cr_expect(seen_b, "b.log starved");
    vg_batch_reset(&h.b);
    h_fini(&h);
}

Test(tail, timeouts_do_not_busy_loop)
{
    harness h;
    h_init(&h, VG_WATCH_INOTIFY, (const char *[]){"*.log", NULL});
    h_start(&h, 0, NULL);
    quiet(&h, 50);
    cr_expect_eq(ops->timeout_ms(h.c), -1, "idle inotify with no files: sleep until an event");
    append(P(&h, "a.log"), "x\n", 0);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    quiet(&h, 50);
    int64_t t = ops->timeout_ms(h.c);
    cr_expect(t > 1000 && t <= 15000, "safety net only, got %" PRId64, t);
    size_t before = h.npump;
    quiet(&h, 300);
    cr_expect_leq(h.npump - before, 2, "%zu wake-ups in 300 ms while idle", h.npump - before);
    h_fini(&h);

    harness p;
    h_init(&p, VG_WATCH_POLL, (const char *[]){"*.log", NULL});
    h_start(&p, 0, NULL);
    t = ops->timeout_ms(p.c);
    cr_expect(t >= 0 && t <= 40, "poll interval, got %" PRId64, t);
    cr_expect_eq(ops->read(p.c, &p.b, 16), VG_EAGAIN);
    h_fini(&p);
}

Test(tail, bad_saved_state_is_ignored)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    append(P(&h, "a.log"), "l1\n", 0);
    json_t *saved = json_loads("{\"files\":[{\"path\":1},{\"path\":\"x\",\"dev\":-1},"
                               "{\"path\":\"x\",\"dev\":1,\"ino\":2,\"fp\":\"zz\",\"fplen\":1,"
                               "\"offset\":1}, 7]}",
                               0, NULL);
    cr_assert_not_null(saved);
    h_start(&h, 0, saved);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    quiet(&h, 100);
    expect_lines(&h, (const char *[]){"l1", NULL});
    json_decref(saved);
    h_fini(&h);
}

Test(tail, late_writer_to_a_rotated_file_is_still_read)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    h.conf.rotate_wait_ms = 1500;
    append(P(&h, "a.log"), "l1\n", 0);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    cr_assert_eq(rename(P(&h, "a.log"), P(&h, "a.log.1")), 0);
    append(P(&h, "a.log"), "n1\n", 0);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    quiet(&h, 300); /* well past idle_flush, well before rotate_wait */
    cr_expect_eq(saved_files(&h), 2, "the rotated file is still open");
    append(P(&h, "a.log.1"), "l2-late\n", 0); /* the daemon had not reopened yet */
    WAIT_FOR(&h, h.ngot >= 3, 5000);
    WAIT_FOR(&h, saved_files(&h) == 1, 5000);
    quiet(&h, 100);
    expect_set(&h, (const char *[]){"l1", "n1", "l2-late", NULL});
    h_fini(&h);
}

Test(tail, saved_offset_past_the_end_restarts_at_zero)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"a.log", NULL});
    char head[301];
    memset(head, 'h', 299);
    head[299] = '\n';
    head[300] = '\0';
    append(P(&h, "a.log"), head, 0);
    append(P(&h, "a.log"), "l2\n", 0);
    h_start(&h, 0, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    h_stop(&h);
    clear_got(&h);
    /* truncated while we were stopped; the 256-byte head still matches */
    cr_assert_eq(truncate(P(&h, "a.log"), 300), 0);
    h_start(&h, 0, h.saved);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    quiet(&h, 150);
    cr_assert_eq(h.ngot, 1);
    cr_expect_eq(h.got[0].n, 299);
    cr_expect_eq(counter(&h, "input.truncations"), 1);
    h_fini(&h);
}

Test(tail, positions_survive_a_directory_that_comes_back_later)
{
    harness h;
    h_init(&h, VG_WATCH_AUTO, (const char *[]){"sub/a.log", NULL});
    cr_assert_eq(mkdir(P(&h, "sub"), 0755), 0);
    append(P(&h, "sub/a.log"), "l1\nl2\n", 0);
    h_start(&h, 1, NULL);
    WAIT_FOR(&h, h.ngot >= 2, 5000);
    h_stop(&h);
    clear_got(&h);
    cr_assert_eq(rename(P(&h, "sub"), P(&h, "away")), 0); /* "not mounted yet" */
    h_start(&h, 0, h.saved);
    quiet(&h, 100);
    h_stop(&h); /* a commit while the directory is missing keeps the position */
    cr_expect_eq(json_array_size(json_object_get(h.saved, "files")), 1);
    h_start(&h, 0, h.saved);
    quiet(&h, 60);
    cr_assert_eq(rename(P(&h, "away"), P(&h, "sub")), 0);
    append(P(&h, "sub/a.log"), "l3\n", 0);
    WAIT_FOR(&h, h.ngot >= 1, 5000);
    quiet(&h, 150);
    expect_lines(&h, (const char *[]){"l3", NULL});
    h_fini(&h);
}

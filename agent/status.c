/*
 * status.c - the status socket, the metrics listener and the client side of
 * `vigie status`; see status.h.
 *
 * One thread, one poll loop: the listening socket, a pipe that says stop, and
 * the 30 s sampling timer of the drops/errors window. Each connection is
 * served to completion with deadlines (1 s to send the request, 5 s to read
 * the answer), so a stuck client delays the next one by at most that and can
 * never stall the agent: nothing here takes a lock the pipeline holds for
 * long (the registry's mutex only while its list is copied).
 */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef VG_HAVE_MHD
#include <microhttpd.h>
#endif

#include "log.h"

#define NSAMPLES (VG_STATUS_WINDOW_S / VG_STATUS_SAMPLE_S + 1)
#define REQ_TIMEOUT_MS 1000
#define ANSWER_TIMEOUT_MS 5000
#define FETCH_MAX (64u << 20)

typedef struct sample {
    int64_t t_ms;
    uint64_t drops, out_errors;
} sample;

struct vg_status {
    vg_stats *st;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int lfd;
    int wake[2];
    pthread_t th;
    int started;
    pthread_mutex_t probe_lock; /* one probe call at a time */
    vg_status_probe_fn probe;
    void *probe_ud;
    sample ring[NSAMPLES];
    size_t nsamp, head; /* head: next slot */
#ifdef VG_HAVE_MHD
    struct MHD_Daemon *mhd;
#endif
};

static int64_t started_ms; /* process start as seen by the status server */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- what counts ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int vg_status_is_drop(const char *name)
{
    /* Records, lines, files: never bytes, which would count one drop twice. */
    return !strcmp(name, "drops") || !strncmp(name, "drops.", 6) || ends_with(name, ".drops") ||
           (strstr(name, "dropped") && !ends_with(name, "_bytes")) ||
           !strcmp(name, "stats.overflow");
}

int vg_status_is_output_error(const char *name)
{
    return !strcmp(name, "output_errors") ||
           (!strncmp(name, "output.", 7) && ends_with(name, "errors"));
}

typedef struct sums {
    uint64_t drops, out_errors;
} sums;

static void sum_item(void *ud, const vg_stat_item *it)
{
    sums *s = ud;
    if (it->gauge)
        return;
    if (vg_status_is_drop(it->name))
        s->drops += it->v;
    if (vg_status_is_output_error(it->name))
        s->out_errors += it->v;
}

static void take_sample(vg_status *s)
{
    sums x = {0, 0};
    vg_stats_foreach(s->st, sum_item, &x);
    s->ring[s->head] = (sample){mono_ms(), x.drops, x.out_errors};
    s->head = (s->head + 1) % NSAMPLES;
    if (s->nsamp < NSAMPLES)
        s->nsamp++;
}

/* ---- process gauges ---- */

static uint64_t rss_bytes(void)
{
    /* statm: "size resident shared ..." in pages */
    FILE *f = fopen("/proc/self/statm", "re");
    char line[256];
    unsigned long long res = 0;
    if (!f)
        return 0;
    if (fgets(line, sizeof line, f)) {
        char *p = strchr(line, ' ');
        if (p)
            res = strtoull(p + 1, NULL, 10);
    }
    (void)fclose(f); /* read only: nothing to lose */
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double uptime_s(void)
{
    return started_ms ? (double)(mono_ms() - started_ms) / 1000.0 : 0;
}

void vg_status_print_metrics(vg_stats *st, FILE *out)
{
    vg_stats_print_prometheus(st, out);
    fprintf(out,
            "# HELP vigie_process_resident_memory_bytes Resident memory of the agent\n"
            "# TYPE vigie_process_resident_memory_bytes gauge\n"
            "vigie_process_resident_memory_bytes %llu\n"
            "# HELP vigie_process_cpu_seconds_total CPU time of the agent (user + system)\n"
            "# TYPE vigie_process_cpu_seconds_total counter\n"
            "vigie_process_cpu_seconds_total %.3f\n"
            "# HELP vigie_uptime_seconds Time since the agent started\n"
            "# TYPE vigie_uptime_seconds gauge\n"
            "vigie_uptime_seconds %.3f\n"
            "# HELP vigie_build_info Version of the agent\n"
            "# TYPE vigie_build_info gauge\n"
            "vigie_build_info{version=\"%s\"} 1\n",
            (unsigned long long)rss_bytes(), cpu_seconds(), uptime_s(), VG_VERSION);
}

void vg_status_set_probe(vg_status *s, vg_status_probe_fn fn, void *ud)
{
    pthread_mutex_lock(&s->probe_lock);
    s->probe = fn;
    s->probe_ud = ud;
    pthread_mutex_unlock(&s->probe_lock);
}

static void run_probe(vg_status *s)
{
    pthread_mutex_lock(&s->probe_lock);
    if (s->probe)
        s->probe(s->probe_ud);
    pthread_mutex_unlock(&s->probe_lock);
}

/* ---- JSON answer ---- */

/* jansson wants UTF-8: anything else is shown with '?' for the bad bytes. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    char *c = strdup(s);
    if (!c)
        return json_null();
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p >= 0x80 || *p < 0x20)
            *p = '?';
    j = json_string(c);
    free(c);
    return j ? j : json_null();
}

static void json_item(void *ud, const vg_stat_item *it)
{
    json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "name", jstr(it->name));
    if (it->label) {
        json_object_set_new(o, "label", jstr(it->label));
        json_object_set_new(o, "value", jstr(it->value));
    }
    json_object_set_new(o, "v", json_integer((json_int_t)it->v));
    if (it->gauge)
        json_object_set_new(o, "gauge", json_true());
    json_array_append_new(ud, o);
}

static char *json_answer(vg_status *s, size_t *n)
{
    json_t *root = json_object(), *arr = json_array(), *win = json_object();
    char *text = NULL;
    if (!root || !arr || !win) {
        json_decref(root);
        json_decref(arr);
        json_decref(win);
        return NULL;
    }
    vg_stats_foreach(s->st, json_item, arr);
    sums now = {0, 0};
    vg_stats_foreach(s->st, sum_item, &now);
    /* The oldest sample of the ring is the start of the window. */
    const sample *old = s->nsamp ? &s->ring[s->nsamp < NSAMPLES ? 0 : s->head] : NULL;
    double wsec = old ? (double)(mono_ms() - old->t_ms) / 1000.0 : 0;
    json_object_set_new(win, "seconds", json_real(wsec));
    json_object_set_new(win, "drops", json_integer(old ? (json_int_t)(now.drops - old->drops) : 0));
    json_object_set_new(win, "output_errors",
                        json_integer(old ? (json_int_t)(now.out_errors - old->out_errors) : 0));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "agent_version", json_string(VG_VERSION));
    json_object_set_new(root, "pid", json_integer(getpid()));
    json_object_set_new(root, "uptime_seconds", json_real(uptime_s()));
    json_object_set_new(root, "rss_bytes", json_integer((json_int_t)rss_bytes()));
    json_object_set_new(root, "cpu_seconds", json_real(cpu_seconds()));
    json_object_set_new(root, "window", win);
    json_object_set_new(root, "counters", arr);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text)
        *n = strlen(text);
    return text;
}

/* ---- serving ---- */

static void serve(vg_status *s, int c)
{
    char req[64] = "";
    size_t n = 0;
    int64_t deadline = mono_ms() + REQ_TIMEOUT_MS;
    while (n < sizeof req - 1 && !memchr(req, '\n', n)) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = {c, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    req[n] = 0;
    run_probe(s);
    char *answer = NULL;
    size_t alen = 0;
    if (!strncmp(req, "json", 4)) {
        answer = json_answer(s, &alen);
    } else {
        FILE *f = open_memstream(&answer, &alen);
        if (f) {
            vg_status_print_metrics(s->st, f);
            if (fclose(f)) { /* out of memory: no truncated answer */
                free(answer);
                answer = NULL;
            }
        }
    }
    if (!answer)
        return;
    size_t off = 0;
    deadline = mono_ms() + ANSWER_TIMEOUT_MS;
    while (off < alen) {
        ssize_t k = send(c, answer + off, alen - off, MSG_NOSIGNAL);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EINTR)
            break;
        int64_t left = deadline - mono_ms();
        struct pollfd p = {c, POLLOUT, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
    }
    free(answer);
}

static void *status_thread(void *arg)
{
    vg_status *s = arg;
    int64_t next_sample = mono_ms() + (int64_t)VG_STATUS_SAMPLE_S * 1000;
    for (;;) {
        int64_t wait = next_sample - mono_ms();
        struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        int r = poll(p, 2, wait > 0 ? (int)wait : 0);
        if (r < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (mono_ms() >= next_sample) {
            take_sample(s);
            next_sample += (int64_t)VG_STATUS_SAMPLE_S * 1000;
        }
        if (p[0].revents & POLLIN) {
            int c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c >= 0) {
                serve(s, c);
                close(c);
            }
        }
    }
    return NULL;
}

/* ---- metrics over HTTP ---- */

#ifdef VG_HAVE_MHD
static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **con_cls)
{
    vg_status *s = cls;
    (void)version;
    (void)upload;
    (void)con_cls;
    struct MHD_Response *resp;
    unsigned code = MHD_HTTP_OK;
    if (*upload_size) {
        *upload_size = 0; /* request bodies are ignored */
        return MHD_YES;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        static const char msg[] = "only GET\n";
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
        resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/metrics") && strcmp(url, "/")) {
        static const char msg[] = "not found: try /metrics\n";
        code = MHD_HTTP_NOT_FOUND;
        resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    } else {
        char *text = NULL;
        size_t n = 0;
        run_probe(s);
        FILE *f = open_memstream(&text, &n);
        if (!f)
            return MHD_NO;
        vg_status_print_metrics(s->st, f);
        if (fclose(f)) { /* out of memory: no truncated answer */
            free(text);
            return MHD_NO;
        }
        resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(text);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result r = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return r;
}

static vg_err start_http(vg_status *s, const char *listen, vg_errbuf *eb)
{
    char host[256], port[16];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || strlen(colon + 1) >= sizeof port || !colon[1])
        return vg_errf(eb, VG_ECONFIG, "agent.metrics_listen '%s': expected host:port", listen);
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return vg_errf(eb, VG_ECONFIG, "agent.metrics_listen '%s': host too long", listen);
    memcpy(host, listen, hl);
    host[hl] = 0;
    snprintf(port, sizeof port, "%s", colon + 1);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int e = getaddrinfo(host, port, &hints, &ai);
    if (e)
        return vg_errf(eb, VG_ECONFIG, "agent.metrics_listen '%s:%s': %s", host, port,
                       gai_strerror(e));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_handler, s, MHD_OPTION_SOCK_ADDR,
                              ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd)
        return vg_errno(eb, VG_EIO, "agent.metrics_listen %s:%s: cannot listen", host, port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    vg_log(VG_LOG_INFO, "metrics: listening on http://%s%s%s:%u/metrics",
           strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
           di ? (unsigned)di->port : 0);
    return VG_OK;
}
#else
static vg_err start_http(vg_status *s, const char *listen, vg_errbuf *eb)
{
    (void)s;
    return vg_errf(eb, VG_EUNSUPPORTED,
                   "agent.metrics_listen %s: this build has no "
                   "libmicrohttpd",
                   listen);
}
#endif

/* ---- start / stop ---- */

static vg_err open_socket(vg_status *s, const vg_config *cfg, vg_errbuf *eb)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", cfg->state_dir, VG_STATUS_SOCKET) >=
        (int)sizeof sa.sun_path)
        return vg_errf(eb, VG_EINVAL, "state directory path too long for %s (max %zu bytes)",
                       VG_STATUS_SOCKET, sizeof sa.sun_path - sizeof VG_STATUS_SOCKET - 1);
    memcpy(s->path, sa.sun_path, sizeof s->path);
    struct stat sb;
    if (lstat(sa.sun_path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode))
            return vg_errf(eb, VG_EPERM, "%s exists and is not a socket; remove it", s->path);
        int t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (t >= 0 && connect(t, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(t);
            return vg_errf(eb, VG_EPERM,
                           "another agent answers on %s: one agent per state "
                           "directory",
                           s->path);
        }
        if (t >= 0)
            close(t);
        unlink(sa.sun_path); /* left by an agent that died */
    }
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->lfd < 0)
        return vg_errno(eb, VG_EIO, "socket");
    mode_t old = umask(0117); /* born 0660: no window where others may connect */
    int r = bind(s->lfd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (r < 0)
        return vg_errno(eb, VG_EIO, "bind %s", s->path);
    if (chmod(s->path, 0660) < 0)
        return vg_errno(eb, VG_EIO, "chmod %s", s->path);
    if (geteuid() == 0 && cfg->group && *cfg->group) {
        // cppcheck-suppress getgrnamCalled // start-up, before any thread
        struct group *g = getgrnam(cfg->group); // static-allow(getgrnam): start-up, before any thread
        if (g && chown(s->path, (uid_t)-1, g->gr_gid) < 0)
            vg_log(VG_LOG_WARNING, "status: chown %s to group %s: %s", s->path, cfg->group,
                   strerror(errno));
    }
    if (listen(s->lfd, 16) < 0)
        return vg_errno(eb, VG_EIO, "listen %s", s->path);
    return VG_OK;
}

vg_err vg_status_start(const vg_config *cfg, vg_stats *st, vg_status **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_status *s = calloc(1, sizeof *s);
    if (!s)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    s->st = st;
    pthread_mutex_init(&s->probe_lock, NULL);
    s->lfd = -1;
    s->wake[0] = s->wake[1] = -1;
    if (!started_ms)
        started_ms = mono_ms();
    vg_err rc;
    sigset_t all, prev;
    sigfillset(&all);
    if ((rc = open_socket(s, cfg, eb)))
        goto out;
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        rc = vg_errno(eb, VG_EIO, "pipe");
        goto out;
    }
    take_sample(s);
    /* Threads inherit the mask: they never take the pipeline's signals. */
    pthread_sigmask(SIG_BLOCK, &all, &prev);
    int e = pthread_create(&s->th, NULL, status_thread, s);
    if (!e && cfg->metrics_listen && *cfg->metrics_listen)
        rc = start_http(s, cfg->metrics_listen, eb);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (e) {
        errno = e;
        rc = vg_errno(eb, VG_EIO, "status thread");
        goto out;
    }
    s->started = 1;
    if (rc)
        goto out;
    vg_log(VG_LOG_INFO, "status: serving on %s", s->path);
out:
    if (rc) {
        vg_status_stop(s);
        return rc;
    }
    *out = s;
    return VG_OK;
}

void vg_status_stop(vg_status *s)
{
    if (!s)
        return;
#ifdef VG_HAVE_MHD
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
#endif
    if (s->started) {
        char c = 1;
        if (write(s->wake[1], &c, 1) < 0)
            vg_log(VG_LOG_WARNING, "status: cannot wake the status thread");
        pthread_join(s->th, NULL);
    }
    if (s->lfd >= 0) {
        close(s->lfd);
        unlink(s->path);
    }
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    pthread_mutex_destroy(&s->probe_lock);
    free(s);
}

/* ---- client ---- */

vg_err vg_status_fetch(const char *state_dir, const char *request, int timeout_ms, char **text,
                       size_t *n, vg_errbuf *eb)
{
    *text = NULL;
    *n = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", state_dir, VG_STATUS_SOCKET) >=
        (int)sizeof sa.sun_path)
        return vg_errf(eb, VG_EINVAL, "state directory path too long");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vg_errno(eb, VG_EIO, "socket");
    vg_err rc = VG_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        rc = vg_errno(eb, errno == EACCES ? VG_EPERM : VG_ENOTFOUND, "cannot reach the agent at %s",
                      sa.sun_path);
        goto out;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    char req[64] = "";
    int rl = snprintf(req, sizeof req, "%s\n", request);
    if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
        rc = vg_errno(eb, VG_EIO, "send to %s", sa.sun_path);
        goto out;
    }
    shutdown(fd, SHUT_WR);
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        if (cap - len < 65536) {
            if (cap >= FETCH_MAX) {
                rc = vg_errf(eb, VG_ELIMIT, "answer of %s larger than %u bytes", sa.sun_path,
                             FETCH_MAX);
                goto out;
            }
            char *p = realloc(buf, cap ? cap * 2 : 131072);
            if (!p) {
                rc = vg_errf(eb, VG_ENOMEM, "out of memory");
                goto out;
            }
            buf = p;
            cap = cap ? cap * 2 : 131072;
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k > 0) {
            len += (size_t)k;
            continue;
        }
        if (k == 0)
            break;
        if (errno != EAGAIN && errno != EINTR) {
            rc = vg_errno(eb, VG_EIO, "read from %s", sa.sun_path);
            goto out;
        }
        int64_t left = deadline - mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            rc = vg_errf(eb, VG_EAGAIN, "the agent did not answer on %s within %d ms", sa.sun_path,
                         timeout_ms);
            goto out;
        }
    }
    buf[len] = 0;
    *text = buf;
    *n = len;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

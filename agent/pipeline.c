/*
 * pipeline.c - parse, detect, emit; and the agent loop. See pipeline.h.
 *
 * The commit protocol (at-least-once): after a batch is fully processed the
 * collectors are marked; every commit_interval (when anything was read) the
 * outputs are flushed to durable storage and only then are the collectors'
 * marked positions written to positions.json (atomically). A flush that
 * fails leaves the old positions in place and is retried next interval.
 */
#include "pipeline.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "../collectors/msgfields.h"
#include "log.h"
#include "paths.h"
#include "state.h"

typedef struct out_rt {
    const vg_output_ops *ops;
    void *self;
} out_rt;

typedef struct in_rt {
    const vg_input_conf *conf;
    const vg_collector_ops *ops;
    void *self;
    bool touched; /* handed out events since the last mark */
    void *pstate; /* the parser's state (multi-line formats) */
    uint64_t pcount[16]; /* its counters as last published to the registry */
    vg_counter *events, *parse_failed;
} in_rt;

struct vg_pipeline {
    vg_config *cfg;
    vg_stats *st;
    vg_agent_info info;
    vg_ruleset *rs;
    vg_ruleset_scratch *scratch;
    vg_batch batch;
    vg_alert alert;
    out_rt *outs;
    size_t nouts;
    in_rt *ins;
    size_t nins;
    vg_msgfields *mf;              /* message field extractors */
    vg_msgfields_scratch *mfs;
    vg_counter *c_mf_fields, *c_mf_limit;
    uint64_t mf_limit_last;
    vg_alert_fn alert_fn;
    void *alert_ud;
    json_t *saved; /* positions as last committed: {"inputs": {name: ...}} */
    bool dirty;    /* something read since the last commit */
    int64_t ref_ns; /* reference time for year inference, 0 = clock */
    vg_counter *c_events, *c_alerts, *c_alert_overflow, *c_commits, *c_commit_errors,
        *c_out_errors, *c_batches;
};

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void outputs_close(vg_pipeline *p)
{
    for (size_t i = 0; i < p->nouts; i++)
        if (p->outs[i].self)
            p->outs[i].ops->destroy(p->outs[i].self);
    free(p->outs);
    p->outs = NULL;
    p->nouts = 0;
}

static vg_err outputs_open(vg_pipeline *p, vg_errbuf *eb)
{
    p->outs = calloc(p->cfg->noutputs ? p->cfg->noutputs : 1, sizeof *p->outs);
    if (!p->outs)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->cfg->noutputs; i++) {
        const vg_output_conf *oc = &p->cfg->outputs[i];
        const vg_output_ops *ops = vg_output_find(oc->type);
        if (!ops)
            return vg_errf(eb, VG_ECONFIG, "output '%s': unknown type '%s'", oc->name, oc->type);
        vg_err r = ops->create(oc, p->st, &p->outs[i].self, eb);
        if (r) {
            vg_err_prefix(eb, "output '%s'", oc->name);
            return r;
        }
        p->outs[i].ops = ops;
        p->nouts = i + 1;
    }
    return VG_OK;
}

static void mf_diag(void *ud, const vg_diag *d)
{
    vg_log(d->is_warning ? VG_LOG_WARNING : VG_LOG_ERROR, "%s:%d:%d: %s", d->file ? d->file : "?",
           d->line, d->col, d->msg);
}

vg_err vg_pipeline_load_msgfields(const vg_config *cfg, vg_msgfields **out, vg_errbuf *eb)
{
    static const char inst[] = "/usr/share/vigie/parsers";
    const vg_strlist *paths = &cfg->parser_definitions;
    char **v = calloc(paths->n ? paths->n : 1, sizeof *v);
    char buf[4200];
    if (!v)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    for (size_t i = 0; i < paths->n; i++)
        v[i] = (!strcmp(paths->v[i], inst) && access(inst, F_OK))
                   ? (char *)vg_shipped_path("packaging/parsers", inst, buf, sizeof buf)
                   : paths->v[i];
    vg_strlist use = {v, paths->n};
    vg_err r = vg_msgfields_load(&use, (uint32_t)cfg->regex_match_limit, mf_diag, NULL, out, eb);
    free(v);
    return r;
}

static vg_err msgfields_open(vg_pipeline *p, vg_errbuf *eb)
{
    vg_msgfields_scratch_destroy(p->mfs);
    vg_msgfields_destroy(p->mf);
    p->mfs = NULL;
    p->mf = NULL;
    p->mf_limit_last = 0;
    vg_err r = vg_pipeline_load_msgfields(p->cfg, &p->mf, eb);
    if (r)
        return r;
    if (!(p->mfs = vg_msgfields_scratch_create(p->mf)))
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    return VG_OK;
}

vg_err vg_pipeline_create(vg_config *cfg, vg_stats *st, const vg_agent_info *info,
                          vg_ruleset *rs, vg_pipeline **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        vg_config_destroy(cfg);
        vg_ruleset_destroy(rs);
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    }
    p->cfg = cfg;
    p->rs = rs;
    p->st = st;
    p->info = *info;
    vg_alert_init(&p->alert);
    vg_err r = VG_OK;
    if (vg_batch_init(&p->batch, (size_t)cfg->batch_events, (size_t)cfg->batch_arena) ||
        !(p->scratch = vg_ruleset_scratch_create(rs))) {
        r = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    if ((r = outputs_open(p, eb)) || (r = msgfields_open(p, eb)))
        goto out;
    p->c_mf_fields = vg_stats_counter(st, "parser.message_fields", NULL, NULL);
    p->c_mf_limit = vg_stats_counter(st, "parser.message_fields_regex_limit_hits", NULL, NULL);
    p->c_events = vg_stats_counter(st, "events", NULL, NULL);
    p->c_alerts = vg_stats_counter(st, "alerts", NULL, NULL);
    p->c_alert_overflow = vg_stats_counter(st, "drops", "reason", "alert_too_large");
    p->c_commits = vg_stats_counter(st, "commits", NULL, NULL);
    p->c_commit_errors = vg_stats_counter(st, "commit_errors", NULL, NULL);
    p->c_out_errors = vg_stats_counter(st, "output_errors", NULL, NULL);
    p->c_batches = vg_stats_counter(st, "batches", NULL, NULL);
out:
    if (r) {
        vg_pipeline_destroy(p);
        return r;
    }
    *out = p;
    return VG_OK;
}

static void inputs_close(vg_pipeline *p)
{
    for (size_t i = 0; i < p->nins; i++) {
        if (p->ins[i].self && p->ins[i].ops)
            p->ins[i].ops->destroy(p->ins[i].self);
        if (p->ins[i].pstate)
            p->ins[i].conf->parser->state_destroy(p->ins[i].pstate);
    }
    free(p->ins);
    p->ins = NULL;
    p->nins = 0;
}

void vg_pipeline_destroy(vg_pipeline *p)
{
    if (!p)
        return;
    inputs_close(p);
    outputs_close(p);
    vg_ruleset_scratch_destroy(p->scratch);
    vg_ruleset_destroy(p->rs);
    vg_msgfields_scratch_destroy(p->mfs);
    vg_msgfields_destroy(p->mf);
    vg_batch_destroy(&p->batch);
    vg_alert_free(&p->alert);
    if (p->saved)
        json_decref(p->saved);
    vg_config_destroy(p->cfg);
    free(p);
}

vg_batch *vg_pipeline_batch(vg_pipeline *p)
{
    return &p->batch;
}

void vg_pipeline_set_alert_fn(vg_pipeline *p, vg_alert_fn fn, void *ud)
{
    p->alert_fn = fn;
    p->alert_ud = ud;
}

void vg_pipeline_parse(vg_pipeline *p, vg_batch *b, size_t from, const vg_parser *parser,
                       const vg_logsource *ls, const vg_tz *tz, void *pstate)
{
    vg_parse_ctx pc = {&b->arena, tz, p->ref_ns ? p->ref_ns : wall_ns(), pstate};
    size_t added = 0;
    for (size_t i = from; i < b->n; i++) {
        vg_event *ev = &b->ev[i];
        ev->logsource = ls;
        if (parser)
            parser->parse(&pc, ev);
        if (ev->program.n)
            added += vg_msgfields_apply(p->mf, p->mfs, ev);
    }
    if (added)
        vg_counter_add(p->c_mf_fields, added);
    vg_counter_add(p->c_events, b->n - from);
}

void vg_pipeline_set_reference_time(vg_pipeline *p, int64_t ns)
{
    p->ref_ns = ns;
}

static void emit(void *ud, const vg_rule_meta *rule, vg_event *ev)
{
    vg_pipeline *p = ud;
    if (!vg_alert_build(&p->alert, &p->info, rule, ev, wall_ns())) {
        vg_counter_add(p->c_alert_overflow, 1);
        vg_log_once("alert_too_large", VG_LOG_WARNING,
                    "an alert of rule %s exceeded the alert size cap and was dropped (counted in "
                    "drops{reason=\"alert_too_large\"})", rule->id ? rule->id : "?");
        return;
    }
    vg_counter_add(p->c_alerts, 1);
    if (p->alert_fn) {
        p->alert_fn(p->alert_ud, &p->alert);
        return;
    }
    for (size_t i = 0; i < p->nouts; i++)
        if (p->outs[i].ops->write(p->outs[i].self, &p->alert))
            vg_counter_add(p->c_out_errors, 1);
}

size_t vg_pipeline_detect(vg_pipeline *p, vg_batch *b)
{
    uint64_t before = vg_counter_get(p->c_alerts);
    vg_match_sink sink = {emit, p};
    vg_ruleset_match(p->rs, p->scratch, b, &sink);
    vg_counter_add(p->c_batches, 1);
    return (size_t)(vg_counter_get(p->c_alerts) - before);
}

vg_err vg_pipeline_flush(vg_pipeline *p, vg_errbuf *eb)
{
    vg_err first = VG_OK;
    for (size_t i = 0; i < p->nouts; i++) {
        vg_errbuf e;
        vg_err r = p->outs[i].ops->flush(p->outs[i].self, &e);
        if (r && !first) {
            first = r;
            vg_errf(eb, r, "%s", e.msg);
        }
    }
    return first;
}

/* ---- the agent loop ---- */

static vg_err load_positions(vg_pipeline *p, bool *first_run)
{
    vg_errbuf eb;
    json_t *root = NULL;
    vg_err r = vg_state_read_json(p->cfg->state_dir, VG_POSITIONS_FILE, VG_POSITIONS_VERSION,
                                  &root, &eb);
    *first_run = false;
    if (r == VG_ENOTFOUND) {
        *first_run = true;
        root = json_object();
    } else if (r == VG_EPARSE) {
        vg_log(VG_LOG_ERROR, "%s; moved aside, inputs restart from the beginning of their "
               "files (alerts may repeat, with the same event.id)", eb.msg);
        vg_state_quarantine(p->cfg->state_dir, VG_POSITIONS_FILE);
        root = json_object();
    } else if (r) {
        vg_log(VG_LOG_ERROR, "%s", eb.msg);
        return r;
    }
    if (!json_is_object(json_object_get(root, "inputs")))
        json_object_set_new(root, "inputs", json_object());
    p->saved = root;
    return VG_OK;
}

/* Journald runs here (its socket exists): the file copies rsyslog makes are redundant. */
static bool host_has_journal(void)
{
    const char *probe = getenv("VIGIE_JOURNAL_PROBE"); /* tests */
    return access(probe ? probe : "/run/systemd/journal/socket", F_OK) == 0;
}

/* An input that is configured but not opened (skip_if_journal). */
static int idle_fd(void *s)
{
    return -1;
}
static int64_t idle_timeout(void *s)
{
    return -1;
}
static vg_err idle_read(void *s, vg_batch *b, size_t max)
{
    return VG_EAGAIN;
}
static void idle_mark(void *s)
{
}
static json_t *idle_save(void *s)
{
    return NULL;
}
static void idle_destroy(void *s)
{
}
static const vg_collector_ops idle_ops = {"idle", 0, NULL, NULL, idle_fd, idle_timeout,
                                          idle_read, idle_mark, idle_save, idle_destroy};

static vg_err inputs_open(vg_pipeline *p, bool first_run, vg_errbuf *eb)
{
    p->ins = calloc(p->cfg->ninputs ? p->cfg->ninputs : 1, sizeof *p->ins);
    if (!p->ins)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    json_t *saved = json_object_get(p->saved, "inputs");
    for (size_t i = 0; i < p->cfg->ninputs; i++) {
        const vg_input_conf *ic = &p->cfg->inputs[i];
        in_rt *in = &p->ins[i];
        in->conf = ic;
        in->ops = &idle_ops;
        p->nins = i + 1;
        if (ic->skip_if_journal && host_has_journal()) {
            vg_log(VG_LOG_INFO, "input '%s' not opened: this host has a systemd journal, read by "
                   "the journald input", ic->name);
            continue;
        }
        in->ops = vg_collector_find(ic->type);
        if (!in->ops)
            return vg_errf(eb, VG_ECONFIG, "input '%s': unknown type '%s'", ic->name, ic->type);
        /* An input with no saved state (first run, or newly configured) starts
           where its start_at says; the others resume from their positions. */
        const json_t *mine = json_object_get(saved, ic->name);
        vg_collector_env env = {p->st, wall_ns(), mine, first_run || !mine};
        vg_err r = in->ops->create(ic, &env, &in->self, eb);
        if (!r)
            r = in->ops->start(in->self, eb);
        if (r) {
            vg_err_prefix(eb, "input '%s'", ic->name);
            return r;
        }
        in->events = vg_stats_counter(p->st, "input.events", "input", ic->name);
        if (ic->parser && ic->parser->state_create &&
            !(in->pstate = ic->parser->state_create()))
            return vg_errf(eb, VG_ENOMEM, "input '%s': out of memory", ic->name);
    }
    return VG_OK;
}

/* Publish the parsers' own counters (auditd groups dropped, ...) as
   parser.<name>{input=...}: the registry only adds, so add the growth. */
static void publish_parser_counters(vg_pipeline *p)
{
    if (p->mfs) {
        uint64_t h = vg_msgfields_scratch_limit_hits(p->mfs);
        if (h > p->mf_limit_last)
            vg_counter_add(p->c_mf_limit, h - p->mf_limit_last);
        p->mf_limit_last = h;
    }
    for (size_t i = 0; i < p->nins; i++) {
        in_rt *in = &p->ins[i];
        if (!in->pstate || !in->conf->parser->state_counters)
            continue;
        vg_parser_counter c[16];
        size_t n = in->conf->parser->state_counters(in->pstate, c, 16);
        for (size_t k = 0; k < n && k < 16; k++) {
            if (c[k].value <= in->pcount[k])
                continue;
            char name[96];
            snprintf(name, sizeof name, "parser.%s", c[k].name);
            vg_counter_add(vg_stats_counter(p->st, name, "input", in->conf->name),
                           c[k].value - in->pcount[k]);
            in->pcount[k] = c[k].value;
        }
    }
}

/* Flush outputs, then write the marked positions. */
static void commit(vg_pipeline *p)
{
    publish_parser_counters(p);
    vg_errbuf eb;
    if (vg_pipeline_flush(p, &eb)) {
        vg_counter_add(p->c_commit_errors, 1);
        vg_log(VG_LOG_ERROR, "outputs not durable, positions not committed: %s", eb.msg);
        return;
    }
    json_t *inputs = json_object_get(p->saved, "inputs");
    for (size_t i = 0; i < p->nins; i++) {
        if (!p->ins[i].self)
            continue;
        json_t *pos = p->ins[i].ops->save(p->ins[i].self);
        if (pos)
            json_object_set_new(inputs, p->ins[i].conf->name, pos);
    }
    if (vg_state_write_json(p->cfg->state_dir, VG_POSITIONS_FILE, VG_POSITIONS_VERSION,
                            p->saved, &eb)) {
        vg_counter_add(p->c_commit_errors, 1);
        vg_log_once("commit_failed", VG_LOG_ERROR, "positions not committed: %s", eb.msg);
        return;
    }
    vg_log_once_reset("commit_failed");
    vg_counter_add(p->c_commits, 1);
    p->dirty = false;
}

/* One round: fill the batch from the inputs, process it. Returns events read. */
static size_t round_once(vg_pipeline *p)
{
    vg_batch *b = &p->batch;
    vg_batch_reset(b);
    /* One read() per input and round: what a read() handed out is valid
       only until that collector's next read(), i.e. until the next round. */
    for (size_t i = 0; i < p->nins && b->n < b->cap; i++) {
        in_rt *in = &p->ins[i];
        if (!in->self)
            continue;
        size_t from = b->n;
        vg_err r = in->ops->read(in->self, b, b->cap - b->n);
        if (r == VG_OK && b->n > from) {
            in->touched = true;
            vg_counter_add(in->events, b->n - from);
            const vg_parser *parser =
                (in->ops->flags & VG_COLLECTOR_PARSED) ? NULL : in->conf->parser;
            vg_pipeline_parse(p, b, from, parser, &in->conf->logsource, in->conf->tz, in->pstate);
        }
    }
    size_t n = b->n;
    if (n) {
        vg_pipeline_detect(p, b);
        for (size_t i = 0; i < p->nins; i++)
            if (p->ins[i].touched) {
                p->ins[i].ops->mark(p->ins[i].self);
                p->ins[i].touched = false;
            }
        p->dirty = true;
    }
    return n;
}

static void print_stats(vg_pipeline *p)
{
    publish_parser_counters(p);
    fprintf(stderr, "--- vigie statistics ---\n");
    vg_stats_print(p->st, stderr);
    fflush(stderr);
}

vg_err vg_pipeline_run(vg_pipeline *p, vg_reload_fn reload, void *ud, vg_errbuf *eb)
{
    vg_err r;
    bool first_run;
    if ((r = vg_state_prepare(p->cfg->state_dir, eb)))
        return r;
    if ((r = load_positions(p, &first_run)))
        return vg_errf(eb, r, "cannot read positions; fix or remove %s/%s", p->cfg->state_dir,
                       VG_POSITIONS_FILE);
    if ((r = inputs_open(p, first_run, eb)))
        return r;
    /* Record the start positions at once: a restart is not a first run
       again, and a newly configured input keeps its start point. */
    commit(p);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        return vg_errno(eb, VG_EIO, "signalfd");

    uint64_t wd_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
    int64_t wd_every = watchdog ? (int64_t)(wd_usec / 2000) : -1;
    sd_notify(0, "READY=1\nSTATUS=running");
    vg_log(VG_LOG_INFO, "running: %zu inputs, %zu rules, %zu outputs, state in %s", p->nins,
           vg_ruleset_count(p->rs), p->nouts, p->cfg->state_dir);

    int64_t next_commit = mono_ms() + p->cfg->commit_interval_ms;
    int64_t next_stats = p->cfg->stats_interval_ms ? mono_ms() + p->cfg->stats_interval_ms : -1;
    int64_t next_wd = watchdog ? mono_ms() + wd_every : -1;
    bool stop = false;
    struct pollfd *pfd = NULL;
    size_t npfd = 0;
    while (!stop) {
        size_t got = round_once(p);
        int64_t now = mono_ms();
        if (p->dirty && now >= next_commit) {
            commit(p);
            next_commit = now + p->cfg->commit_interval_ms;
        } else if (!p->dirty) {
            next_commit = now + p->cfg->commit_interval_ms;
        }
        if (watchdog && now >= next_wd) {
            sd_notify(0, "WATCHDOG=1");
            next_wd = now + wd_every;
        }
        if (next_stats >= 0 && now >= next_stats) {
            print_stats(p);
            next_stats = now + p->cfg->stats_interval_ms;
        }
        bool wait = got == 0; /* block only when a round found nothing */
        /* Wait for input, a signal or the next timer. */
        if (npfd < p->nins + 1) {
            struct pollfd *np = realloc(pfd, (p->nins + 1) * sizeof *np);
            if (!np) {
                r = vg_errf(eb, VG_ENOMEM, "out of memory");
                break;
            }
            pfd = np;
            npfd = p->nins + 1;
        }
        size_t n = 0;
        pfd[n++] = (struct pollfd){sfd, POLLIN, 0};
        int64_t timeout = -1;
        for (size_t i = 0; i < p->nins; i++) {
            if (!p->ins[i].self)
                continue;
            int fd = p->ins[i].ops->fd(p->ins[i].self);
            if (fd >= 0)
                pfd[n++] = (struct pollfd){fd, POLLIN, 0};
            int64_t t = p->ins[i].ops->timeout_ms(p->ins[i].self);
            if (t >= 0 && (timeout < 0 || t < timeout))
                timeout = t;
        }
        int64_t timers[] = {p->dirty ? next_commit : -1, next_stats, next_wd};
        for (size_t i = 0; i < 3; i++)
            if (timers[i] >= 0) {
                int64_t t = timers[i] - now;
                if (t < 0)
                    t = 0;
                if (timeout < 0 || t < timeout)
                    timeout = t;
            }
        if (!wait)
            timeout = 0;
        int pr = poll(pfd, n, timeout > 86400000 ? 86400000 : (int)timeout);
        if (pr < 0 && errno != EINTR) {
            r = vg_errno(eb, VG_EIO, "poll");
            break;
        }
        if (pr > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    vg_log(VG_LOG_INFO, "signal %s: stopping",
                           si.ssi_signo == SIGTERM ? "TERM" : "INT");
                    stop = true;
                } else if (si.ssi_signo == SIGUSR1) {
                    print_stats(p);
                } else if (si.ssi_signo == SIGHUP && reload) {
                    sd_notify(0, "RELOADING=1");
                    vg_config *ncfg = NULL;
                    vg_ruleset *nrs = NULL;
                    if (reload(ud, &ncfg, &nrs) == VG_OK) {
                        vg_ruleset_scratch *ns = vg_ruleset_scratch_create(nrs);
                        if (!ns) {
                            vg_log(VG_LOG_ERROR, "reload: out of memory; keeping the old rules");
                            vg_ruleset_destroy(nrs);
                            vg_config_destroy(ncfg);
                        } else {
                            /* Commit under the old config, reopen under the new one. */
                            commit(p);
                            inputs_close(p);
                            outputs_close(p);
                            vg_ruleset_scratch_destroy(p->scratch);
                            vg_ruleset_destroy(p->rs);
                            vg_config_destroy(p->cfg);
                            p->cfg = ncfg;
                            p->rs = nrs;
                            p->scratch = ns;
                            vg_errbuf e2;
                            if (outputs_open(p, &e2) || msgfields_open(p, &e2) ||
                                inputs_open(p, false, &e2)) {
                                r = vg_errf(eb, VG_ECONFIG, "reload: %s", e2.msg);
                                stop = true;
                            } else {
                                commit(p);
                                vg_log(VG_LOG_INFO, "reloaded: %zu inputs, %zu rules, %zu "
                                       "outputs", p->nins, vg_ruleset_count(p->rs), p->nouts);
                            }
                        }
                    }
                    sd_notify(0, "READY=1");
                }
            }
        }
    }
    sd_notify(0, "STOPPING=1");
    /* Drain: the batch in flight is processed; commit what it produced. */
    commit(p);
    close(sfd);
    free(pfd);
    return r;
}

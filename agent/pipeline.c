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
#include "redact.h"
#include "sender.h"
#include "spool.h"
#include "paths.h"
#include "../detectors/stateful.h"
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
    vg_counter *lag; /* gauge input.lag_bytes, when the collector knows it */
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
    vg_spool *spool;       /* network outputs read it; NULL when none is configured */
    vg_sender **senders;
    size_t nsenders;
    bool spool_events;     /* some network output takes raw events */
    bool spool_pending;    /* appended since the last spool flush */
    bool spool_blocked;    /* inputs paused: the spool is full */
    int64_t publish_retry_ms; /* a failed spool write is retried from then (mono) */
    vg_buf rec;            /* a raw-event or state record being built */
    vg_buf spbuf;          /* header + JSON of the record being appended */
    vg_redactor *red;      /* redaction of what leaves the host (NULL = off) */
    vg_redact_scratch *reds;
    vg_buf redbuf;         /* redacted message and field values */
    vg_event red_ev;       /* the event as it leaves the host */
    vg_alert red_alert;
    vg_counter *c_redact_failed;
    int64_t started_ns;
    in_rt *ins;
    size_t nins;
    vg_msgfields *mf;              /* message field extractors */
    vg_msgfields_scratch *mfs;
    vg_counter *c_mf_fields, *c_mf_limit;
    uint64_t mf_limit_last;
    vg_alert_fn alert_fn;
    void *alert_ud;
    json_t *saved; /* positions as last committed: {"inputs": {name: ...}} */
    vg_stateful *stateful; /* detectors' memory (correlations, suppression), checkpointed */
    uint64_t state_seq;    /* checkpoint number recorded in positions.json */
    bool dirty;    /* something read since the last commit */
    size_t async_pending; /* detector work in progress (file scans): poll again soon */
    int64_t ref_ns; /* reference time for year inference, 0 = clock */
    vg_counter *c_events, *c_alerts, *c_alert_overflow, *c_commits, *c_commit_errors,
        *c_out_errors, *c_batches, *c_spool_paused, *c_forwarded, *c_record_overflow,
        *c_heartbeats;
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
    if (p->spool) {
        vg_errbuf eb;
        if (vg_spool_flush(p->spool, &eb))
            vg_log(VG_LOG_ERROR, "spool: %s", eb.msg);
        vg_spool_wake(p->spool);
    }
    for (size_t i = 0; i < p->nsenders; i++)
        vg_sender_stop(p->senders[i]);
    free(p->senders);
    p->senders = NULL;
    p->nsenders = 0;
    vg_spool_close(p->spool);
    p->spool = NULL;
    vg_redact_scratch_destroy(p->reds);
    vg_redactor_destroy(p->red);
    p->reds = NULL;
    p->red = NULL;
    p->spool_events = false;
    for (size_t i = 0; i < p->nouts; i++)
        if (p->outs[i].self)
            p->outs[i].ops->destroy(p->outs[i].self);
    free(p->outs);
    p->outs = NULL;
    p->nouts = 0;
}

/* Network outputs: one spool in the state directory, one sender thread each. */
static vg_err spool_open(vg_pipeline *p, vg_errbuf *eb)
{
    size_t n = 0;
    for (size_t i = 0; i < p->cfg->noutputs; i++)
        n += vg_output_is_spooled(p->cfg->outputs[i].type);
    if (!n)
        return VG_OK;
    vg_spool_reader_conf *rc = calloc(n, sizeof *rc);
    p->senders = calloc(n, sizeof *p->senders);
    if (!rc || !p->senders) {
        free(rc);
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < p->cfg->noutputs; i++) {
        const vg_output_conf *oc = &p->cfg->outputs[i];
        if (!vg_output_is_spooled(oc->type))
            continue;
        rc[k++] = (vg_spool_reader_conf){oc->name, oc->events};
        p->spool_events |= oc->events;
    }
    vg_spool_conf sc = {0};
    vg_spool_conf_from_config(&sc, p->cfg);
    sc.readers = rc;
    sc.nreaders = n;
    vg_err r = vg_state_prepare(p->cfg->state_dir, eb);
    if (!r)
        r = vg_spool_open(&sc, p->st, &p->spool, eb);
    free(rc);
    if (r)
        return r;
    if (p->cfg->redact) {
        if ((r = vg_redactor_create(p->cfg, p->st, &p->red, eb))) {
            vg_err_prefix(eb, "redaction");
            return r;
        }
        if (!(p->reds = vg_redact_scratch_create(p->red)))
            return vg_errf(eb, VG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->cfg->noutputs; i++) {
        const vg_output_conf *oc = &p->cfg->outputs[i];
        if (!vg_output_is_spooled(oc->type))
            continue;
        if ((r = vg_sender_start(oc, p->spool, p->st, p->cfg->state_dir,
                                 &p->senders[p->nsenders], eb)))
            return r;
        p->nsenders++;
    }
    return VG_OK;
}

static vg_err outputs_open(vg_pipeline *p, vg_errbuf *eb)
{
    p->outs = calloc(p->cfg->noutputs ? p->cfg->noutputs : 1, sizeof *p->outs);
    if (!p->outs)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    vg_err sr = spool_open(p, eb);
    if (sr)
        return sr;
    for (size_t i = 0; i < p->cfg->noutputs; i++) {
        const vg_output_conf *oc = &p->cfg->outputs[i];
        if (vg_output_is_spooled(oc->type))
            continue;
        const vg_output_ops *ops = vg_output_find(oc->type);
        if (!ops)
            return vg_errf(eb, VG_ECONFIG, "output '%s': unknown type '%s'", oc->name, oc->type);
        vg_err r = ops->create(oc, p->st, &p->outs[p->nouts].self, eb);
        if (r) {
            vg_err_prefix(eb, "output '%s'", oc->name);
            return r;
        }
        p->outs[p->nouts].ops = ops;
        p->nouts++;
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
    vg_buf_init(&p->rec, VG_SPOOL_RECORD_MAX - 2);
    vg_buf_init(&p->spbuf, VG_SPOOL_RECORD_MAX);
    vg_buf_init(&p->redbuf, 4 << 20);
    vg_alert_init(&p->red_alert);
    p->started_ns = wall_ns();
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
    p->c_spool_paused = vg_stats_counter(st, "spool.inputs_paused", NULL, NULL);
    p->c_forwarded = vg_stats_counter(st, "events_forwarded", NULL, NULL);
    p->c_record_overflow = vg_stats_counter(st, "drops", "reason", "event_record_too_large");
    p->c_heartbeats = vg_stats_counter(st, "heartbeats", NULL, NULL);
    p->c_redact_failed = vg_stats_counter(st, "drops", "reason", "redaction");
    vg_stateful_opts so;
    vg_stateful_opts_from_config(&so, cfg);
    if ((r = vg_stateful_create(&so, st, &p->stateful, eb)))
        goto out;
    vg_stateful_bind(p->stateful, rs);
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
    vg_stateful_destroy(p->stateful);
    vg_ruleset_destroy(p->rs);
    vg_msgfields_scratch_destroy(p->mfs);
    vg_msgfields_destroy(p->mf);
    vg_batch_destroy(&p->batch);
    vg_alert_free(&p->alert);
    vg_buf_free(&p->rec);
    vg_buf_free(&p->spbuf);
    vg_buf_free(&p->redbuf);
    vg_alert_free(&p->red_alert);
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

/* The event as it may leave the host: its message (and, with
   redaction.rule_fields, its field values) redacted. NULL when redaction
   failed to produce a complete text (then nothing is sent: counted). */
static const vg_event *redacted(vg_pipeline *p, const vg_event *ev)
{
    if (!p->red)
        return ev;
    vg_buf *b = &p->redbuf;
    vg_buf_reset(b);
    size_t offs[VG_EVENT_MAX_FIELDS + 1], lens[VG_EVENT_MAX_FIELDS + 1];
    vg_redact(p->red, p->reds, ev->raw.p ? ev->raw.p : "", ev->raw.n, b);
    offs[0] = 0;
    lens[0] = b->n;
    bool fields = p->cfg->redact_rule_fields;
    for (unsigned i = 0; fields && i < ev->nfields; i++) {
        offs[i + 1] = b->n;
        vg_redact(p->red, p->reds, ev->fields[i].value.p ? ev->fields[i].value.p : "",
                  ev->fields[i].value.n, b);
        lens[i + 1] = b->n - offs[i + 1];
    }
    if (b->overflow) {
        vg_counter_add(p->c_redact_failed, 1);
        vg_log_once("redact_overflow", VG_LOG_ERROR, "redaction: a record did not fit the "
                    "redaction buffer and was not sent (counted in drops{reason=redaction})");
        return NULL;
    }
    p->red_ev = *ev;
    p->red_ev.raw = (vg_str){b->p, lens[0]};
    for (unsigned i = 0; fields && i < ev->nfields; i++)
        p->red_ev.fields[i].value = (vg_str){b->p + offs[i + 1], lens[i + 1]};
    return &p->red_ev;
}

/* One record into the spool: the sender's 2-byte header, then the JSON. */
static void spool_put(vg_pipeline *p, vg_lane lane, char kind, int rank, const char *json,
                      size_t n, const vg_reckeys *k)
{
    char hdr[2 + VG_RECKEYS_MAX];
    vg_sender_record_header(hdr, kind, rank);
    size_t hn = 2 + (k ? vg_reckeys_encode(k, hdr + 2) : 0);
    vg_buf_reset(&p->spbuf);
    vg_buf_append(&p->spbuf, hdr, hn);
    vg_buf_append(&p->spbuf, json, n);
    if (p->spbuf.overflow || vg_spool_append(p->spool, lane, p->spbuf.p, p->spbuf.n))
        vg_counter_add(p->c_out_errors, 1);
    else
        p->spool_pending = true;
}

/* Raw events of an input with forward_events, to the events lane. */
static void forward_events(vg_pipeline *p, const vg_batch *b, size_t from)
{
    int64_t now = wall_ns();
    for (size_t i = from; i < b->n; i++) {
        const vg_event *ev = redacted(p, &b->ev[i]);
        vg_reckeys k;
        if (!ev || !vg_event_record_build(&p->rec, &p->info, ev, now, &k)) {
            vg_counter_add(p->c_record_overflow, 1);
            continue;
        }
        spool_put(p, VG_LANE_EVENTS, 'e', 0, p->rec.p, p->rec.n, &k);
    }
    vg_counter_add(p->c_forwarded, b->n - from);
}

/* An alert decided by the stateful engine (possibly with vigie.count...). */
static void write_alert(void *ud, const vg_stateful_alert *sa)
{
    vg_pipeline *p = ud;
    const vg_rule_meta *rule = sa->rule;
    const vg_event *ev = sa->ev;
    vg_alert_extra x = {sa->vigie_json, sa->id_key, sa->summary};
    if (!vg_alert_build_ex(&p->alert, &p->info, rule, ev, wall_ns(), &x)) {
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
    if (!p->spool)
        return;
    if (!p->red) {
        spool_put(p, VG_LANE_ALERTS, 'a', rule->level_rank, p->alert.json.p, p->alert.json.n,
                  &p->alert.keys);
        return;
    }
    const vg_event *rev = redacted(p, ev);
    if (rev && vg_alert_build_ex(&p->red_alert, &p->info, rule, rev, p->alert.created_ns, &x))
        spool_put(p, VG_LANE_ALERTS, 'a', rule->level_rank, p->red_alert.json.p,
                  p->red_alert.json.n, &p->red_alert.keys);
}

/* Every match goes through the stateful engine, which decides what alerts. */
static void emit(void *ud, const vg_rule_meta *rule, vg_event *ev)
{
    vg_pipeline *p = ud;
    vg_stateful_feed(p->stateful, rule, ev, write_alert, p);
}

void vg_pipeline_stateful_close(vg_pipeline *p)
{
    vg_stateful_close_all(p->stateful, write_alert, p);
}

bool vg_pipeline_tick(vg_pipeline *p)
{
    uint64_t before = vg_counter_get(p->c_alerts);
    vg_stateful_tick(p->stateful, wall_ns(), write_alert, p);
    return vg_counter_get(p->c_alerts) != before || vg_stateful_dirty(p->stateful);
}

size_t vg_pipeline_detect(vg_pipeline *p, vg_batch *b)
{
    uint64_t before = vg_counter_get(p->c_alerts);
    vg_match_sink sink = {emit, p};
    vg_ruleset_match(p->rs, p->scratch, b, &sink);
    vg_stateful_observe(p->stateful, b, write_alert, p);
    vg_counter_add(p->c_batches, 1);
    return (size_t)(vg_counter_get(p->c_alerts) - before);
}

vg_err vg_pipeline_flush(vg_pipeline *p, vg_errbuf *eb)
{
    vg_err first = VG_OK;
    if (p->spool) {
        vg_errbuf e;
        vg_err r = vg_spool_flush(p->spool, &e);
        if (r) {
            first = r;
            vg_errf(eb, r, "spool: %s", e.msg);
        } else {
            p->spool_pending = false;
        }
    }
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
    /* The detectors' state of the same commit (see commit()). */
    json_t *seq = json_object_get(root, "state_seq");
    if (json_is_integer(seq)) {
        p->state_seq = (uint64_t)json_integer_value(seq);
        r = vg_stateful_restore(p->stateful, p->cfg->state_dir, p->state_seq, &eb);
        if (r && r != VG_ENOTFOUND)
            vg_log(VG_LOG_ERROR, "%s; moved aside, detectors start with a fresh state "
                   "(correlation windows and suppression restart)", eb.msg);
    }
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
        if (in->ops->lag)
            in->lag = vg_stats_gauge(p->st, "input.lag_bytes", "input", ic->name);
        if (ic->parser && ic->parser->state_create &&
            !(in->pstate = ic->parser->state_create()))
            return vg_errf(eb, VG_ENOMEM, "input '%s': out of memory", ic->name);
    }
    return VG_OK;
}

/* Publish the parsers' own counters (auditd groups dropped, ...) as
   parser.<name>{input=...}: the registry only adds, so add the growth. */
/* Spool gauges per network output (for `vigie status`, --check and
   metrics): bytes waiting in the lanes it reads, age of its oldest
   unacknowledged batch. */
static void spool_gauges(vg_pipeline *p)
{
    if (!p->spool)
        return;
    uint64_t lane_bytes[VG_LANE_COUNT] = {0};
    for (int l = 0; l < VG_LANE_COUNT; l++)
        vg_spool_depth(p->spool, (vg_lane)l, &lane_bytes[l], NULL);
    int64_t now_ms = wall_ns() / 1000000;
    for (size_t i = 0; i < p->cfg->noutputs; i++) {
        const vg_output_conf *oc = &p->cfg->outputs[i];
        if (!vg_output_is_spooled(oc->type))
            continue;
        int64_t old = vg_spool_oldest_unacked(p->spool, oc->name);
        vg_gauge_set(vg_stats_gauge(p->st, "spool.bytes", "output", oc->name),
                     lane_bytes[VG_LANE_ALERTS] + (oc->events ? lane_bytes[VG_LANE_EVENTS] : 0));
        vg_gauge_set(vg_stats_gauge(p->st, "spool.oldest_age_seconds", "output", oc->name),
                     old && now_ms > old ? (uint64_t)((now_ms - old) / 1000) : 0);
    }
}

static void publish_parser_counters(vg_pipeline *p)
{
    spool_gauges(p);
    for (size_t i = 0; i < p->nins; i++)
        if (p->ins[i].lag && p->ins[i].self)
            vg_gauge_set(p->ins[i].lag, p->ins[i].ops->lag(p->ins[i].self));
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
        /* once per outage (a full disk would repeat it at every commit) */
        vg_log_once("commit_flush", VG_LOG_ERROR, "outputs not durable, positions not committed "
                    "(retried at every commit, counted in commit_errors): %s", eb.msg);
        return;
    }
    vg_log_once_reset("commit_flush");
    /* The detectors' state goes with the positions: written first, in the
       slot of the next sequence number, which positions.json then records;
       a crash between the two leaves the previous slot, matching the old
       positions. */
    if (vg_stateful_dirty(p->stateful)) {
        if (vg_stateful_save(p->stateful, p->cfg->state_dir, p->state_seq + 1, &eb)) {
            vg_counter_add(p->c_commit_errors, 1);
            vg_log_once("state_save", VG_LOG_ERROR, "detector state not saved, positions not "
                        "committed: %s", eb.msg);
            return;
        }
        vg_log_once_reset("state_save");
        p->state_seq++;
        json_object_set_new(p->saved, "state_seq", json_integer((json_int_t)p->state_seq));
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
/* Make what this round appended visible to the senders (and durable per the
   spool's fsync policy). A failure keeps the records pending in the spool
   and pauses the inputs until a flush succeeds. */
static void spool_publish(vg_pipeline *p)
{
    if (!p->spool || !p->spool_pending)
        return;
    vg_errbuf eb;
    /* Written and shown to the senders now; fsync'ed at commit (vg_pipeline_flush). */
    if (vg_spool_publish(p->spool, &eb)) {
        vg_counter_add(p->c_commit_errors, 1);
        vg_log_once("spool_flush", VG_LOG_ERROR, "%s; inputs paused until it can be written "
                    "(retried every second; nothing is lost)", eb.msg);
        p->spool_blocked = true;
        p->publish_retry_ms = mono_ms() + 1000;
        return;
    }
    vg_log_once_reset("spool_flush");
    p->spool_pending = false;
}

/* Back-pressure: true when inputs must not be read this round. */
static bool spool_full(vg_pipeline *p)
{
    if (!p->spool)
        return false;
    bool was = p->spool_blocked;
    if (p->spool_pending && mono_ms() >= p->publish_retry_ms)
        spool_publish(p);
    p->spool_blocked = p->spool_pending || vg_spool_blocked(p->spool);
    if (p->spool_blocked && !was) {
        vg_counter_add(p->c_spool_paused, 1);
        vg_log(VG_LOG_WARNING, "spool full (or disk under spool.min_free_disk): inputs paused "
               "until the outputs catch up; their positions do not advance, nothing is lost");
    } else if (!p->spool_blocked && was) {
        vg_log(VG_LOG_NOTICE, "spool has room again: inputs resumed");
    }
    return p->spool_blocked;
}

/* The agent-state record every network output receives (heartbeat). */
static void heartbeat(vg_pipeline *p)
{
    if (!p->spool)
        return;
    int64_t now = wall_ns();
    char id[33];
    vg_alert_id(id, p->info.agent_id ? p->info.agent_id : "", (uint64_t)now, "heartbeat");
    vg_buf *b = &p->rec;
    vg_buf_reset(b);
    vg_buf_puts(b, "{\"@timestamp\":");
    vg_json_time(b, now);
    vg_buf_printf(b, ",\"event\":{\"id\":\"%s\",\"kind\":\"state\",\"module\":\"vigie\","
                  "\"dataset\":\"vigie.heartbeat\"},\"host\":{\"name\":", id);
    vg_json_cstr(b, p->info.hostname);
    vg_buf_puts(b, "},\"agent\":{\"type\":\"vigie\",\"id\":");
    vg_json_cstr(b, p->info.agent_id);
    vg_buf_puts(b, ",\"version\":");
    vg_json_cstr(b, p->info.version);
    vg_buf_printf(b, "},\"vigie\":{\"uptime_s\":%lld,\"events\":%llu,\"alerts\":%llu,"
                  "\"drops\":%llu,\"inputs_paused\":%s,\"spool\":{",
                  (long long)((now - p->started_ns) / 1000000000),
                  (unsigned long long)vg_counter_get(p->c_events),
                  (unsigned long long)vg_counter_get(p->c_alerts),
                  (unsigned long long)vg_stats_sum(p->st, "drops"),
                  p->spool_blocked ? "true" : "false");
    for (int l = 0; l < VG_LANE_COUNT; l++) {
        uint64_t bytes = 0, recs = 0;
        vg_spool_depth(p->spool, (vg_lane)l, &bytes, &recs);
        vg_buf_printf(b, "%s\"%s\":{\"bytes\":%llu,\"records\":%llu}", l ? "," : "",
                      vg_lane_name((vg_lane)l), (unsigned long long)bytes,
                      (unsigned long long)recs);
    }
    vg_buf_puts(b, "},\"outputs\":{");
    size_t k = 0;
    for (size_t i = 0; i < p->cfg->noutputs; i++) {
        const vg_output_conf *oc = &p->cfg->outputs[i];
        if (!vg_output_is_spooled(oc->type))
            continue;
        int64_t old = vg_spool_oldest_unacked(p->spool, oc->name);
        if (k++)
            vg_buf_putc(b, ',');
        vg_json_cstr(b, oc->name);
        vg_buf_printf(b, ":{\"oldest_unacked_s\":%lld}",
                      old ? (long long)((now / 1000000 - old) / 1000) : 0LL);
    }
    vg_buf_puts(b, "},\"inputs\":{");
    k = 0;
    for (size_t i = 0; i < p->nins; i++) {
        if (k++)
            vg_buf_putc(b, ',');
        vg_json_cstr(b, p->ins[i].conf->name);
        vg_buf_printf(b, ":{\"events\":%llu,\"open\":%s",
                      (unsigned long long)(p->ins[i].events ? vg_counter_get(p->ins[i].events) : 0),
                      p->ins[i].ops && p->ins[i].ops != &idle_ops ? "true" : "false");
        if (p->ins[i].lag && p->ins[i].self)
            vg_buf_printf(b, ",\"lag_bytes\":%llu",
                          (unsigned long long)p->ins[i].ops->lag(p->ins[i].self));
        vg_buf_putc(b, '}');
    }
    vg_buf_puts(b, "}}}");
    if (b->overflow)
        return;
    spool_put(p, VG_LANE_ALERTS, 's', 0, b->p, b->n, NULL);
    vg_counter_add(p->c_heartbeats, 1);
    spool_publish(p);
}

static size_t round_once(vg_pipeline *p)
{
    vg_batch *b = &p->batch;
    vg_batch_reset(b);
    if (spool_full(p)) {
        vg_match_sink async_sink = {emit, p};
        p->async_pending = vg_ruleset_drain(p->rs, p->scratch, &async_sink);
        spool_publish(p);
        return 0;
    }
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
            if (in->conf->forward_events && p->spool_events)
                forward_events(p, b, from);
        }
    }
    size_t n = b->n;
    vg_match_sink async_sink = {emit, p};
    p->async_pending = vg_ruleset_drain(p->rs, p->scratch, &async_sink);
    if (n) {
        vg_pipeline_detect(p, b);
        for (size_t i = 0; i < p->nins; i++)
            if (p->ins[i].touched) {
                p->ins[i].ops->mark(p->ins[i].self);
                p->ins[i].touched = false;
            }
        p->dirty = true;
    }
    spool_publish(p);
    return n;
}

static void print_stats(vg_pipeline *p)
{
    publish_parser_counters(p);
    fprintf(stderr, "--- vigie statistics ---\n");
    vg_stats_print(p->st, stderr);
    (void)fflush(stderr); /* nowhere to report */
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
    (void)signal(SIGPIPE, SIG_IGN); /* cannot fail for a valid signal */
    /* Past a file-size limit (RLIMIT_FSIZE) a write fails with EFBIG, which
       the outputs and the spool handle, instead of the signal killing us. */
    (void)signal(SIGXFSZ, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        return vg_errno(eb, VG_EIO, "signalfd");

    uint64_t wd_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
    int64_t wd_every = watchdog ? (int64_t)(wd_usec / 2000) : -1;
    sd_notify(0, "READY=1\nSTATUS=running");
    vg_log(VG_LOG_INFO, "running: %zu inputs, %zu rules, %zu outputs, state in %s", p->nins,
           vg_ruleset_count(p->rs), p->nouts + p->nsenders, p->cfg->state_dir);

    int64_t next_commit = mono_ms() + p->cfg->commit_interval_ms;
    int64_t next_stats = p->cfg->stats_interval_ms ? mono_ms() + p->cfg->stats_interval_ms : -1;
    int64_t next_wd = watchdog ? mono_ms() + wd_every : -1;
    int64_t hb_every = p->cfg->heartbeat_interval_ms;
    int64_t next_hb = hb_every > 0 ? mono_ms() : -1; /* one at start: the agent is up */
    int64_t fsync_every = p->cfg->spool_fsync ? p->cfg->spool_fsync_interval_ms : -1;
    int64_t next_fsync = fsync_every > 0 ? mono_ms() + fsync_every : -1;
    int64_t next_gauges = mono_ms();
    /* Windows and baselines close on time even when every input is quiet
       (a silenced logger is exactly what a silence baseline must see). */
    int64_t next_tick = mono_ms() + 30000;
    bool stop = false;
    struct pollfd *pfd = NULL;
    size_t npfd = 0;
    while (!stop) {
        size_t got = round_once(p);
        int64_t now = mono_ms();
        if ((!got || now >= next_tick) && vg_pipeline_tick(p)) /* windows due to close */
            p->dirty = true;
        if (now >= next_tick)
            next_tick = now + 30000;
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
        if (p->spool && now >= next_gauges) {
            spool_gauges(p); /* live figures for `vigie status` between commits */
            for (size_t i = 0; i < p->nins; i++)
                if (p->ins[i].lag && p->ins[i].self)
                    vg_gauge_set(p->ins[i].lag, p->ins[i].ops->lag(p->ins[i].self));
            next_gauges = now + 2000;
        }
        if (next_hb >= 0 && now >= next_hb) {
            if (p->spool)
                heartbeat(p);
            next_hb = now + hb_every;
        }
        if (next_fsync >= 0 && now >= next_fsync) {
            /* Interval mode: written data gets its fsync even when idle. */
            if (p->spool) {
                vg_errbuf fe;
                if (vg_spool_flush(p->spool, &fe))
                    vg_log_once("spool_flush", VG_LOG_ERROR, "%s", fe.msg);
                else
                    p->spool_pending = false;
            }
            next_fsync = now + fsync_every;
        }
        bool wait = got == 0; /* block only when a round found nothing */
        /* Wait for input, a signal or the next timer. */
        if (!pfd || npfd < p->nins + 1) {
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
        int64_t timers[] = {p->dirty ? next_commit : -1, next_stats, next_wd, next_tick,
                            p->spool ? next_hb : -1, p->spool ? next_fsync : -1,
                            p->spool_blocked ? now + 100 : -1 /* re-check the spool's room */};
        for (size_t i = 0; i < sizeof timers / sizeof *timers; i++)
            if (timers[i] >= 0) {
                int64_t t = timers[i] - now;
                if (t < 0)
                    t = 0;
                if (timeout < 0 || t < timeout)
                    timeout = t;
            }
        if (p->async_pending && (timeout < 0 || timeout > 100))
            timeout = 100; /* collect file-scan results soon */
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
                            vg_stateful_bind(p->stateful, nrs); /* keeps unchanged rules' state */
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
                                       "outputs", p->nins, vg_ruleset_count(p->rs),
                                       p->nouts + p->nsenders);
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

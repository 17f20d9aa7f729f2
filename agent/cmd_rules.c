/*
 * cmd_rules.c - `vigie rules check|test|explain`: the rule author's tools.
 *
 * check:   compile, print each rejection with file:line:col, then
 *          "N loaded, M rejected"; exit 0 only when none was rejected.
 * test:    run the x_vigie.tests cases of every rule: the line is parsed with
 *          the case's format, routed with its log source (default: the
 *          rule's), matched; a failing case prints the rule, the line and
 *          which selections matched. Exit 1 on any failure.
 * explain: parse one line as a rule would see it, print the fields and each
 *          selection's result.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../collectors/msgfields.h"
#include "../collectors/parser.h"
#include "../detectors/detector.h"
#include "../detectors/ruleset.h"
#include "../detectors/correlation.h"
#include "../detectors/sigma.h"
#include "../detectors/yara_tests.h"
#include "../detectors/stateful.h"
#include "cmd.h"
#include "json.h"
#include "log.h"
#include "pipeline.h"

static vg_err load(int argc, char **argv, vg_stats *st, vg_config **cfg, vg_ruleset **rs,
                   vg_ruleset_report *rep, size_t *rejected)
{
    vg_errbuf eb;
    if (vg_config_defaults(cfg, &eb)) {
        fprintf(stderr, "vigie rules: %s\n", eb.msg);
        return VG_ENOMEM;
    }
    vg_strlist paths = {argv, (size_t)argc};
    if (vg_ruleset_load(*cfg, &paths, st, vg_cmd_print_diag, rejected, rs, rep, &eb)) {
        fprintf(stderr, "vigie rules: %s\n", eb.msg);
        vg_config_destroy(*cfg);
        return VG_ENOMEM;
    }
    return VG_OK;
}

typedef struct explain_out {
    vg_buf *b;
} explain_out;

static void on_sel(void *ud, const char *sel, bool m)
{
    explain_out *o = ud;
    vg_buf_printf(o->b, "%s%s=%s", o->b->n ? ", " : "", sel, m ? "true" : "false");
}

/* Parse `line` as event ev (with its own arena), as the agent would. */
static void build_event(vg_event *ev, vg_arena *arena, const char *line, const vg_parser *pr,
                        const vg_logsource *ls, vg_stream *stream, const vg_msgfields *mf,
                        vg_msgfields_scratch *mfs)
{
    vg_event_clear(ev);
    ev->raw = (vg_str){line, strlen(line)};
    ev->stream = stream;
    ev->logsource = ls;
    void *state = pr->state_create ? pr->state_create() : NULL;
    vg_parse_ctx pc = {arena, NULL, 0, state};
    pr->parse(&pc, ev);
    if (state)
        pr->state_destroy(state);
    if (mf && ev->program.n)
        vg_msgfields_apply(mf, mfs, ev);
}

static void print_fields(const vg_event *ev)
{
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    for (unsigned i = 0; i < ev->nfields; i++) {
        vg_buf_reset(&b);
        vg_text_safe(&b, ev->fields[i].name.p, ev->fields[i].name.n);
        vg_buf_puts(&b, ": ");
        vg_json_str(&b, ev->fields[i].value.p, ev->fields[i].value.n);
        printf("    %.*s\n", (int)b.n, b.p);
    }
    if (ev->service2)
        printf("    (service from program: %s)\n", ev->service2);
    if (ev->flags & VG_EV_PARSE_FAILED)
        printf("    (the parser did not recognise the line)\n");
    vg_buf_free(&b);
}

/* What test and explain both need: the rules of the given paths, loaded,
   plus an event, an arena and a scratch to evaluate them with. */
typedef struct rules_env {
    vg_stats *st;
    vg_config *cfg;
    vg_ruleset *rs;
    vg_ruleset_report rep;
    size_t rejected;
    vg_sigma_rule *const *rules;
    size_t n;
    vg_sigma_scratch *scr;
    vg_event *ev;
    vg_arena arena;
    vg_buf sel; /* "sel=true, filter=false" of the last explain */
    vg_msgfields *mf;
    vg_msgfields_scratch *mfs;
} rules_env;

static void env_close(rules_env *e)
{
    vg_msgfields_scratch_destroy(e->mfs);
    vg_msgfields_destroy(e->mf);
    vg_buf_free(&e->sel);
    vg_arena_destroy(&e->arena);
    free(e->ev);
    vg_sigma_scratch_destroy(e->scr);
    vg_ruleset_destroy(e->rs);
    vg_config_destroy(e->cfg);
    vg_stats_destroy(e->st);
}

static int env_open(rules_env *e, int argc, char **argv)
{
    memset(e, 0, sizeof *e);
    vg_arena_init(&e->arena, 8 << 20);
    vg_buf_init(&e->sel, 1 << 16);
    if (!(e->st = vg_stats_create()) ||
        load(argc, argv, e->st, &e->cfg, &e->rs, &e->rep, &e->rejected)) {
        vg_stats_destroy(e->st);
        e->st = NULL;
        return -1;
    }
    e->rules = vg_detector_sigma_rules(vg_ruleset_detector(e->rs, &vg_detector_sigma), &e->n);
    e->scr = vg_sigma_scratch_create();
    e->ev = calloc(1, sizeof *e->ev);
    vg_errbuf eb;
    if (vg_pipeline_load_msgfields(e->cfg, &e->mf, &eb) == VG_OK)
        e->mfs = vg_msgfields_scratch_create(e->mf);
    if (!e->scr || !e->ev || !e->mfs) {
        fprintf(stderr, "vigie rules: out of memory\n");
        env_close(e);
        return -1;
    }
    return 0;
}

/* Selections of rule r on e->ev into e->sel; returns the condition's result. */
static bool env_explain(rules_env *e, const vg_sigma_rule *r)
{
    vg_buf_reset(&e->sel);
    explain_out eo = {&e->sel};
    vg_sigma_scratch_next_event(e->scr);
    return vg_sigma_explain(r, e->ev, e->scr, &e->arena, on_sel, &eo);
}

/* ---- correlation tests: timestamped lines through a fresh stateful engine ---- */

typedef struct corr_seen {
    const vg_rule_meta *rule;
    int64_t alerts;
    json_t *last; /* the last alert's vigie fragment */
} corr_seen;

static void corr_collect(void *ud, const vg_stateful_alert *a)
{
    corr_seen *c = ud;
    if (a->rule != c->rule)
        return;
    c->alerts++;
    char *js = NULL;
    if (a->vigie_json && asprintf(&js, "{%s}", a->vigie_json) > 0) {
        if (c->last)
            json_decref(c->last);
        c->last = json_loads(js, 0, NULL);
    }
    free(js);
}

/* The log source of a correlation's first base rule (through chains). */
static const vg_logsource *corr_logsource(const vg_corr_rule *c, vg_corr_rule *const *all, size_t n)
{
    for (int depth = 0; depth < 32; depth++) {
        const vg_rule_meta *m = c->refs[0];
        if (!m->is_correlation)
            return &m->logsource;
        const vg_corr_rule *next = NULL;
        for (size_t i = 0; i < n; i++)
            if (&all[i]->meta == m)
                next = all[i];
        if (!next)
            break;
        c = next;
    }
    return NULL;
}

/* Run one sequence test case for rule `target` (a correlation, or a
   single-event rule with suppression); NULL = passed, else why. */
static const char *corr_run(rules_env *E, const vg_rule_meta *target, const vg_logsource *dls,
                            const vg_corr_test *t, char *why, size_t nwhy)
{
    vg_stateful *sf = NULL;
    vg_errbuf eb;
    if (vg_stateful_create(NULL, E->st, &sf, &eb))
        return "out of memory";
    vg_stateful_bind(sf, E->rs);
    const vg_parser *pr = vg_parser_find(t->format ? t->format : "syslog");
    if (!pr) {
        vg_stateful_destroy(sf);
        return "unknown format";
    }
    char lsbuf[256];
    vg_logsource ls = dls ? *dls : (vg_logsource){0};
    if (t->logsource)
        vg_logsource_parse(t->logsource, lsbuf, sizeof lsbuf, &ls);
    vg_stream stream = {"test:0", "test", "test"};
    corr_seen seen = {target, 0, NULL};
    int64_t clock = 0;
    uint64_t off = 0;
    for (size_t i = 0; i < t->nlines; i++) {
        const vg_corr_test_line *tl = &t->lines[i];
        for (unsigned r = 0; r < tl->repeat; r++) {
            build_event(E->ev, &E->arena, tl->line, pr, &ls, &stream, E->mf, E->mfs);
            if (r == 0 && tl->at_ns)
                clock = tl->at_ns;
            else if ((r > 0 || tl->after_ns) && clock) {
                if (__builtin_add_overflow(clock, tl->after_ns, &clock))
                    clock = INT64_MAX; /* a hostile `after:` saturates, never wraps */
            }
            else if (E->ev->ts_ns)
                clock = E->ev->ts_ns;
            E->ev->ts_ns = clock;
            E->ev->offset = off++;
            vg_sigma_scratch_next_event(E->scr);
            for (size_t k = 0; k < E->n; k++) {
                vg_rule_meta *m = vg_sigma_meta(E->rules[k]);
                if (vg_logsource_accepts(&m->logsource, E->ev) &&
                    vg_sigma_match(E->rules[k], E->ev, E->scr, &E->arena))
                    vg_stateful_feed(sf, m, E->ev, corr_collect, &seen);
            }
            vg_arena_reset(&E->arena);
        }
    }
    vg_stateful_close_all(sf, corr_collect, &seen);
    vg_stateful_destroy(sf);
    const char *ret = NULL;
    const json_t *last = seen.last;
    if (seen.alerts != t->alerts) {
        snprintf(why, nwhy, "expected %lld alerts, got %lld", (long long)t->alerts,
                 (long long)seen.alerts);
        ret = why;
    } else if (t->count >= 0 &&
               (!last || json_integer_value(json_object_get(last, "count")) != t->count)) {
        snprintf(why, nwhy, "expected vigie.count %lld in the last alert, got %lld",
                 (long long)t->count,
                 last ? (long long)json_integer_value(json_object_get(last, "count")) : -1LL);
        ret = why;
    }
    for (size_t g = 0; !ret && g < t->ngroup; g++) {
        const char *want = t->group[g].values.n ? t->group[g].values.v[0] : "";
        const char *got = json_string_value(
            json_object_get(json_object_get(last, "group"), t->group[g].key));
        if (!got || strcmp(got, want)) {
            snprintf(why, nwhy, "expected vigie.group.%s '%s', got '%s'", t->group[g].key, want,
                     got ? got : "(none)");
            ret = why;
        }
    }
    if (seen.last)
        json_decref(seen.last);
    return ret;
}

/* One sequence case's verdict, as text or a JSON line. */
static void seq_report(const vg_rule_meta *m, int line_no, const char *w, bool json, bool verbose)
{
    if (json) {
        vg_buf b;
        vg_buf_init(&b, 1 << 16);
        vg_buf_puts(&b, "{\"file\":");
        vg_json_cstr(&b, m->file);
        vg_buf_printf(&b, ",\"line\":%d,\"rule\":", line_no);
        vg_json_cstr(&b, m->title);
        vg_buf_puts(&b, ",\"id\":");
        vg_json_cstr(&b, m->id);
        vg_buf_printf(&b, ",\"ok\":%s", w ? "false" : "true");
        if (w) {
            vg_buf_puts(&b, ",\"reason\":");
            vg_json_cstr(&b, w);
        }
        vg_buf_puts(&b, "}\n");
        (void)fwrite(b.p, 1, b.n, stdout); /* checked at exit (main.c) */
        vg_buf_free(&b);
    } else if (w) {
        printf("FAIL %s:%d: %s: %s\n", m->file, line_no, m->title, w);
    } else if (verbose) {
        printf("ok   %s:%d: %s (sequence)\n", m->file, line_no, m->title);
    }
}

static void corr_tests(rules_env *E, bool verbose, bool json, size_t *passed, size_t *failed)
{
    size_t n;
    vg_corr_rule *const *all =
        vg_detector_sigma_correlations(vg_ruleset_detector(E->rs, &vg_detector_sigma), &n);
    for (size_t i = 0; i < n; i++) {
        const vg_corr_rule *c = all[i];
        for (size_t k = 0; k < c->ntests; k++) {
            char why[600];
            const char *w =
                corr_run(E, &c->meta, corr_logsource(c, all, n), &c->tests[k], why, sizeof why);
            w ? (*failed)++ : (*passed)++;
            seq_report(&c->meta, c->tests[k].line_no, w, json, verbose);
        }
    }
}

static int cmd_test(int argc, char **argv)
{
    bool verbose = false, json = false;
    for (;;) {
        if (argc > 0 && (!strcmp(argv[0], "-v") || !strcmp(argv[0], "--verbose"))) {
            verbose = true;
            argc--;
            argv++;
        } else if (argc > 1 && !strcmp(argv[0], "--format") &&
                   (!strcmp(argv[1], "json") || !strcmp(argv[1], "text"))) {
            json = !strcmp(argv[1], "json");
            argc -= 2;
            argv += 2;
        } else {
            break;
        }
    }
    if (argc < 1) {
        fprintf(stderr, "usage: vigie rules test [-v] [--format text|json] PATH...\n");
        return 2;
    }
    rules_env E;
    if (env_open(&E, argc, argv))
        return 2;
    vg_buf jl; /* one JSON line per case with --format json */
    vg_buf_init(&jl, 1 << 20);
    vg_sigma_rule *const *rules = E.rules;
    vg_sigma_scratch *scr = E.scr;
    vg_event *ev = E.ev;
    vg_stream stream = {"test:0", "test", "test"};
    size_t passed = 0, failed = 0, untested = 0, n = E.n;
    for (size_t i = 0; i < n; i++) {
        vg_rule_meta *m = vg_sigma_meta(rules[i]);
        size_t nt;
        const vg_sigma_test *t = vg_sigma_tests(rules[i], &nt);
        if (!nt) {
            untested++;
            if (verbose)
                printf("NOTE %s: %s has no test case\n", m->file, m->title);
        }
        for (size_t k = 0; k < nt; k++) {
            if (t[k].sequence) { /* timestamped lines through the stateful engine */
                char why[VG_ERRMSG_MAX + 64];
                vg_corr_test ct;
                vg_errbuf eb;
                const char *w = why;
                if (vg_corr_test_from_json(t[k].sequence, &ct, &eb))
                    snprintf(why, sizeof why, "x_vigie.tests: %s", eb.msg);
                else
                    w = corr_run(&E, m, &m->logsource, &ct, why, sizeof why);
                vg_corr_test_free(&ct);
                w ? failed++ : passed++;
                seq_report(m, t[k].line_no, w, json, verbose);
                continue;
            }
            const vg_parser *pr = vg_parser_find(t[k].format ? t[k].format : "syslog");
            char lsbuf[256];
            vg_logsource ls = m->logsource;
            if (t[k].logsource)
                vg_logsource_parse(t[k].logsource, lsbuf, sizeof lsbuf, &ls);
            const char *why = NULL;
            bool got = false;
            if (!pr) {
                why = "unknown format";
            } else {
                build_event(ev, &E.arena, t[k].line, pr, &ls, &stream, E.mf, E.mfs);
                vg_sigma_scratch_next_event(scr);
                got = vg_logsource_accepts(&m->logsource, ev) &&
                      vg_sigma_match(rules[i], ev, scr, &E.arena);
                if (got != t[k].match)
                    why = t[k].match ? "expected a match, got none" : "expected no match, got one";
                for (size_t f = 0; !why && got && f < t[k].nfields; f++) {
                    const vg_kv *kv = &t[k].fields[f];
                    const vg_str *v = vg_event_get(ev, (vg_str){kv->key, strlen(kv->key)});
                    const char *want = kv->values.n ? kv->values.v[0] : "";
                    if (!v || !vg_str_eqc(*v, want)) {
                        static char msg[512];
                        snprintf(msg, sizeof msg, "field '%s': expected '%s', got %s%.*s%s",
                                 kv->key, want, v ? "'" : "", v ? (int)(v->n > 200 ? 200 : v->n) : 6,
                                 v ? v->p : "absent", v ? "'" : "");
                        why = msg;
                    }
                }
            }
            if (json) {
                if (why && pr)
                    env_explain(&E, rules[i]);
                vg_buf_reset(&jl);
                vg_buf_puts(&jl, "{\"file\":");
                vg_json_cstr(&jl, m->file);
                vg_buf_printf(&jl, ",\"line\":%d,\"rule\":", t[k].line_no);
                vg_json_cstr(&jl, m->title);
                vg_buf_puts(&jl, ",\"id\":");
                vg_json_cstr(&jl, m->id);
                vg_buf_printf(&jl, ",\"ok\":%s,\"expected_match\":%s,\"input\":",
                              why ? "false" : "true", t[k].match ? "true" : "false");
                vg_json_cstr(&jl, t[k].line);
                if (why) {
                    vg_buf_puts(&jl, ",\"reason\":");
                    vg_json_cstr(&jl, why);
                    vg_buf_puts(&jl, ",\"selections\":");
                    vg_json_str(&jl, E.sel.p ? E.sel.p : "", E.sel.n);
                }
                vg_buf_puts(&jl, "}\n");
                (void)fwrite(jl.p, 1, jl.n, stdout); /* checked at exit (main.c) */
                why ? failed++ : passed++;
            } else if (!why) {
                passed++;
                if (verbose)
                    printf("ok   %s:%d: %s\n", m->file, t[k].line_no, m->title);
            } else {
                failed++;
                vg_buf_reset(&E.sel);
                if (pr)
                    env_explain(&E, rules[i]);
                printf("FAIL %s:%d: %s: %s\n  line: %s\n  routed: %s\n  selections: %.*s\n",
                       m->file, t[k].line_no, m->title, why, t[k].line,
                       pr && vg_logsource_accepts(&m->logsource, ev) ? "yes" : "no (logsource)",
                       (int)E.sel.n, E.sel.p ? E.sel.p : "");
                if (pr)
                    print_fields(ev);
            }
            vg_arena_reset(&E.arena);
        }
    }
    corr_tests(&E, verbose, json, &passed, &failed);
    /* YARA rules: the cases of their sidecar files (<file>.yar.tests) */
    vg_yara_test_opts yo = {stdout, verbose, json};
    vg_yara_test_report yr;
    vg_yara_run_tests(vg_ruleset_detector(E.rs, &vg_detector_yara), &yo, &yr);
    passed += yr.passed;
    failed += yr.failed;
    if (json)
        printf("{\"summary\":{\"rules\":%zu,\"without_tests\":%zu,\"passed\":%zu,"
               "\"failed\":%zu,\"rejected\":%zu}}\n", n, untested, passed, failed, E.rejected);
    else
        printf("%zu rules, %zu without tests; %zu passed, %zu failed\n", n, untested, passed,
               failed);
    vg_buf_free(&jl);
    size_t rejected = E.rejected;
    env_close(&E);
    return failed || rejected ? 1 : 0;
}

static int cmd_explain(int argc, char **argv)
{
    const char *format = "syslog", *lsarg = NULL, *line_file = NULL;
    static const struct option lo[] = {{"format", required_argument, 0, 'f'},
                                       {"logsource", required_argument, 0, 'l'},
                                       {"line-file", required_argument, 0, 'L'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:l:L:", lo, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else if (c == 'l')
            lsarg = optarg;
        else if (c == 'L')
            line_file = optarg;
        else
            return 2;
    }
    if (argc - optind < (line_file ? 1 : 2)) {
        fprintf(stderr, "usage: vigie rules explain [--format F] [--logsource LS] RULE_FILE "
                        "LINE | --line-file FILE\n");
        return 2;
    }
    char *line = NULL;
    if (line_file) {
        FILE *f = fopen(line_file, "r");
        size_t cap = 0;
        if (!f || getline(&line, &cap, f) < 0) {
            fprintf(stderr, "vigie rules explain: cannot read a line from %s\n", line_file);
            if (f)
                (void)fclose(f); /* read only */
            free(line);
            return 2;
        }
        (void)fclose(f); /* read only */
        line[strcspn(line, "\n")] = '\0';
    } else {
        line = strdup(argv[optind + 1]);
    }
    const vg_parser *pr = vg_parser_find(format);
    if (!pr || !line) {
        fprintf(stderr, "vigie rules explain: unknown format '%s'\n", format);
        free(line);
        return 2;
    }
    rules_env E;
    if (env_open(&E, 1, &argv[optind])) {
        free(line);
        return 2;
    }
    vg_stream stream = {"explain:0", "explain", "explain"};
    int rc = 0;
    for (size_t i = 0; i < E.n; i++) {
        vg_rule_meta *m = vg_sigma_meta(E.rules[i]);
        char lsbuf[256];
        vg_logsource ls = m->logsource;
        if (lsarg)
            vg_logsource_parse(lsarg, lsbuf, sizeof lsbuf, &ls);
        build_event(E.ev, &E.arena, line, pr, &ls, &stream, E.mf, E.mfs);
        bool routed = vg_logsource_accepts(&m->logsource, E.ev);
        bool matched = env_explain(&E, E.rules[i]);
        printf("rule: %s (%s)\nparsed with %s (with the captures of a match):\n", m->title,
               m->id ? m->id : "-", pr->name);
        print_fields(E.ev);
        printf("routed to the rule: %s\nselections: %.*s\nresult: %s\n\n",
               routed ? "yes" : "no (logsource differs)", (int)E.sel.n, E.sel.p ? E.sel.p : "",
               routed && matched ? "MATCH" : "no match");
        if (routed && matched)
            rc = 1;
        vg_arena_reset(&E.arena);
    }
    free(line);
    size_t rejected = E.rejected;
    env_close(&E);
    return rejected ? 2 : rc ? 0 : 1;
}

/* Field names the journald input sets (collectors/journal.c). */
static const char *const journald_fields[] = {
    "hostname", "program", "pid",  "message", "unit", "priority", "MESSAGE", "_HOSTNAME",
    "SYSLOG_IDENTIFIER", "_COMM", "_PID", "_SYSTEMD_UNIT", "PRIORITY", "_EXE", "_CMDLINE", "_UID",
    NULL};

typedef struct nameset {
    char **v;
    size_t n, cap;
} nameset;

static void names_add(void *ud, const char *name, size_t n)
{
    nameset *s = ud;
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == n && !memcmp(s->v[i], name, n))
            return;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return;
        s->v = nv;
        s->cap = nc;
    }
    if ((s->v[s->n] = strndup(name, n)))
        s->n++;
}

static bool in_list(const char *const *l, const char *f)
{
    for (size_t i = 0; l && l[i]; i++)
        if (!strcmp(l[i], f))
            return true;
    return false;
}

/* Can input `in` produce field f? (open-ended parsers: always yes) */
static bool input_produces(const vg_input_conf *in, const nameset *msg, const char *f)
{
    bool journald = !strcmp(in->type, "journald");
    if (!journald && (!in->parser || !in->parser->fields))
        return true; /* JSON keys, auditd record keys: anything */
    if (journald ? in_list(journald_fields, f) : in_list(in->parser->fields, f))
        return true;
    if (!journald && !strcmp(in->parser->name, "syslog") && !strncmp(f, "sd.", 3))
        return true; /* RFC 5424 structured data */
    bool programs = journald || !strcmp(in->parser->name, "syslog");
    for (size_t i = 0; programs && i < msg->n; i++)
        if (!strcmp(msg->v[i], f))
            return true;
    return false;
}

typedef struct field_check {
    const vg_config *site;
    const bool *feeds; /* per input: feeds the rule */
    const nameset *msg;
    char missing[512];
} field_check;

static void check_field(void *ud, const char *field, const char *const *alts, size_t nalts)
{
    field_check *c = ud;
    for (size_t k = 0; k < c->site->ninputs; k++) {
        if (!c->feeds[k])
            continue;
        if (input_produces(&c->site->inputs[k], c->msg, field))
            return;
        for (size_t a = 0; a < nalts; a++)
            if (input_produces(&c->site->inputs[k], c->msg, alts[a]))
                return;
    }
    if (strstr(c->missing, field))
        return;
    size_t n = strlen(c->missing);
    snprintf(c->missing + n, sizeof c->missing - n, "%s%s", n ? ", " : "", field);
}

/*
 * Which rules can any input of `site` feed? An input feeds a rule when the
 * rule accepts the input's log source, alone or with one of the services
 * that syslog program names add (syslog-format files and journald). Prints
 * the rules no input feeds, and for the others the fields they read that no
 * feeding input produces (its parser's fields, the journald fields, the
 * parser definitions' captures), then a summary.
 */
static void report_routing(const vg_config *site, vg_ruleset *rs)
{
    size_t n;
    vg_sigma_rule *const *rules =
        vg_detector_sigma_rules(vg_ruleset_detector(rs, &vg_detector_sigma), &n);
    vg_event *ev = calloc(1, sizeof *ev);
    bool *feeds = calloc(site->ninputs ? site->ninputs : 1, sizeof *feeds);
    nameset msg = {0};
    vg_msgfields *mf = NULL;
    vg_errbuf eb;
    if (!ev || !feeds)
        goto out;
    if (vg_pipeline_load_msgfields(site, &mf, &eb) == VG_OK)
        vg_msgfields_names(mf, names_add, &msg);
    const char *const *svcs = vg_program_services();
    size_t live = 0, partial = 0;
    for (size_t i = 0; i < n; i++) {
        vg_rule_meta *m = vg_sigma_meta(rules[i]);
        bool fed = false;
        for (size_t k = 0; k < site->ninputs; k++) {
            const vg_input_conf *in = &site->inputs[k];
            bool programs = !strcmp(in->type, "journald") ||
                            (in->format && !strcmp(in->format, "syslog"));
            vg_event_clear(ev);
            ev->logsource = &in->logsource;
            feeds[k] = vg_logsource_accepts(&m->logsource, ev);
            for (size_t s = 0; programs && !feeds[k] && svcs[s]; s++) {
                ev->service2 = svcs[s];
                feeds[k] = vg_logsource_accepts(&m->logsource, ev);
            }
            if (in->parser && !strcmp(in->parser->name, "auditd") && !feeds[k]) {
                /* auditd records carry service auditd; groups become process_creation */
                static const vg_logsource pc = {"linux", "process_creation", NULL};
                ev->service2 = "auditd";
                feeds[k] = vg_logsource_accepts(&m->logsource, ev);
                ev->service2 = NULL;
                ev->logsource = &pc;
                feeds[k] = feeds[k] || vg_logsource_accepts(&m->logsource, ev);
            }
            fed = fed || feeds[k];
        }
        if (!fed) {
            printf("not fed: %s:%d: %s (logsource%s%s%s%s%s%s)\n", m->file, m->line, m->title,
                   m->logsource.product ? " product=" : "",
                   m->logsource.product ? m->logsource.product : "",
                   m->logsource.category ? " category=" : "",
                   m->logsource.category ? m->logsource.category : "",
                   m->logsource.service ? " service=" : "",
                   m->logsource.service ? m->logsource.service : "");
            continue;
        }
        live++;
        field_check fc = {site, feeds, &msg, ""};
        vg_sigma_fields(rules[i], check_field, &fc);
        if (fc.missing[0]) {
            partial++;
            printf("fields no input produces: %s:%d: %s: %s\n", m->file, m->line, m->title,
                   fc.missing);
        }
    }
    printf("%zu of %zu rules are fed by an input of %s (%zu of them read fields no input "
           "produces); %zu are not fed (no input has their log source)\n",
           live, n, site->path, partial, n - live);
out:
    for (size_t i = 0; i < msg.n; i++)
        free(msg.v[i]);
    free(msg.v);
    vg_msgfields_destroy(mf);
    free(feeds);
    free(ev);
}

int vg_cmd_rules(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: vigie rules check [-c CONFIG] PATH...   (-c: also report which rules\n"
                "                                               no configured input can feed)\n"
                "       vigie rules test [-v] PATH...\n"
                "       vigie rules explain [--format F] [--logsource LS] RULE_FILE LINE\n"
                "explain exits 0 when the line matches, 1 when not, 2 on error\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "test"))
        return argc < 3 ? 2 : cmd_test(argc - 2, argv + 2);
    if (!strcmp(argv[1], "explain"))
        return cmd_explain(argc - 1, argv + 1);
    if (strcmp(argv[1], "check")) {
        fprintf(stderr, "vigie rules: unknown subcommand '%s'\n", argv[1]);
        return 2;
    }
    const char *cfgpath = NULL;
    int first = 2;
    if (argc > 3 && (!strcmp(argv[2], "-c") || !strcmp(argv[2], "--config"))) {
        cfgpath = argv[3];
        first = 4;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: vigie rules check [-c CONFIG] PATH...\n");
        return 2;
    }
    vg_stats *st = vg_stats_create();
    vg_config *cfg;
    vg_ruleset *rs;
    vg_ruleset_report rep;
    size_t rejected = 0;
    if (!st || load(argc - first, argv + first, st, &cfg, &rs, &rep, &rejected)) {
        vg_stats_destroy(st);
        return 2;
    }
    printf("%zu loaded, %zu rejected (%zu files, %zu warnings)\n", rep.loaded, rep.rejected,
           rep.files, rep.warnings);
    printf("prefilter: %llu of %zu rules behind it (the others are always evaluated), %llu "
           "states, %.1f KiB\n", (unsigned long long)vg_stats_sum(st, "prefilter.rules"),
           rep.loaded, (unsigned long long)vg_stats_sum(st, "prefilter.states"),
           (double)vg_stats_sum(st, "prefilter.bytes") / 1024.0);
    if (vg_stats_sum(st, "yara.rules"))
        printf("yara: %llu rules, %llu behind needles, %llu on files only (they match without "
               "their strings)\n", (unsigned long long)vg_stats_sum(st, "yara.rules"),
               (unsigned long long)vg_stats_sum(st, "yara.needle_rules"),
               (unsigned long long)vg_stats_sum(st, "yara.rules_files_only"));
    int rc = rep.rejected ? 1 : 0;
    if (cfgpath) {
        vg_config *site;
        vg_errbuf eb;
        if (vg_config_load(cfgpath, &site, &eb)) {
            fprintf(stderr, "%s\n", eb.msg);
            rc = 2;
        } else {
            report_routing(site, rs);
            vg_config_destroy(site);
        }
    }
    vg_ruleset_destroy(rs);
    vg_config_destroy(cfg);
    vg_stats_destroy(st);
    return rc;
}

/*
 * test_stateful.c - Sigma correlations and suppression with a fake clock:
 * every window type and its edges (boundary, out-of-order, clock jumps),
 * chains, aliases, generate, suppression updates, eviction, HyperLogLog,
 * checkpoints, and the specification's examples.
 *
 * Events are built directly (fields, time): the rules match fields, so no
 * parser is involved. The ruleset is the Sigma detector alone;
 * vg_ruleset_detector is provided here so the test does not link every
 * engine.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/config.h"
#include "../../agent/state.h"
#include "../../detectors/correlation.h"
#include "../../detectors/detector.h"
#include "../../detectors/ruleset.h"
#include "../../detectors/sigma.h"
#include "../../detectors/stateful.h"

/* The engine without the other stateful engines' hooks (baselines are
   tested in test_baseline), compiled into this test. */
#define VG_STATEFUL_NO_HOOKS
#include "../../detectors/stateful.c"

/* The ruleset handle of this test is the Sigma detector itself. */
const void *vg_ruleset_detector(const vg_ruleset *rs, const vg_detector_ops *ops)
{
    return ops == &vg_detector_sigma ? (const void *)rs : NULL;
}

#define SEC 1000000000LL
#define MAX_GOT 4096
#define T0 (1800000000LL * SEC)

typedef struct got {
    char rule[128];
    char kind[16];
    long long count;
    char json[4096];
} got;

typedef struct env {
    vg_stats *st;
    vg_config *cfg;
    void *det;
    vg_stateful *sf;
    vg_sigma_scratch *scr;
    vg_arena arena;
    vg_event ev;
    got *alerts; /* MAX_GOT */
    size_t n;
    size_t errors;
    char lastdiag[1024];
    char dir[64];
} env;

static vg_logsource test_ls = {"test", NULL, NULL};

static void on_diag(void *ud, const vg_diag *d)
{
    env *e = ud;
    if (!d->is_warning) {
        e->errors++;
        snprintf(e->lastdiag, sizeof e->lastdiag, "%d:%d: %s", d->line, d->col, d->msg);
    }
}

static void collect(void *ud, const vg_stateful_alert *a)
{
    env *e = ud;
    if (e->n >= MAX_GOT)
        return;
    got *g = &e->alerts[e->n++];
    snprintf(g->rule, sizeof g->rule, "%s", a->rule->title);
    snprintf(g->kind, sizeof g->kind, "plain");
    g->count = -1;
    g->json[0] = '\0';
    if (a->vigie_json) {
        snprintf(g->json, sizeof g->json, "{%s}", a->vigie_json);
        json_t *j = json_loads(g->json, 0, NULL);
        cr_assert(j, "invalid JSON fragment: %s", g->json);
        snprintf(g->kind, sizeof g->kind, "%s", json_string_value(json_object_get(j, "alert")));
        g->count = json_integer_value(json_object_get(j, "count"));
        json_decref(j);
    }
}

static void env_load(env *e, const char *yaml, const vg_stateful_opts *o)
{
    memset(e, 0, sizeof *e);
    e->alerts = calloc(MAX_GOT, sizeof *e->alerts);
    vg_errbuf eb;
    e->st = vg_stats_create();
    cr_assert(vg_config_defaults(&e->cfg, &eb) == VG_OK);
    snprintf(e->dir, sizeof e->dir, "/tmp/vg_test_stateful.XXXXXX");
    cr_assert(mkdtemp(e->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/rules.yml", e->dir);
    FILE *f = fopen(path, "w");
    fputs(yaml, f);
    fclose(f);
    e->det = vg_detector_sigma.create(e->cfg, e->st);
    vg_detector_sigma.load_file(e->det, path, on_diag, e);
    vg_detector_sigma.finish(e->det, e->cfg, on_diag, e);
    cr_assert(vg_stateful_create(o, e->st, &e->sf, &eb) == VG_OK);
    vg_stateful_bind(e->sf, (const vg_ruleset *)e->det);
    e->scr = vg_sigma_scratch_create();
    vg_arena_init(&e->arena, 1 << 20);
}

static void env_free(env *e)
{
    vg_stateful_destroy(e->sf);
    vg_sigma_scratch_destroy(e->scr);
    vg_arena_destroy(&e->arena);
    vg_detector_sigma.destroy(e->det);
    vg_config_destroy(e->cfg);
    vg_stats_destroy(e->st);
    free(e->alerts);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    cr_assert(system(cmd) == 0);
}

/* An event at T0 + sec with "k=v k=v" fields, through every rule. */
static void feed(env *e, double sec, const char *kv)
{
    static char buf[8][1024];
    static int slot;
    char *b = buf[slot++ % 8];
    snprintf(b, 1024, "%s", kv);
    vg_event *ev = &e->ev;
    vg_event_clear(ev);
    ev->logsource = &test_ls;
    ev->ts_ns = T0 + (int64_t)(sec * SEC);
    ev->raw = (vg_str){b, strlen(b)};
    char *copy = vg_arena_strndup(&e->arena, b, strlen(b));
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        vg_event_set(ev, (vg_str){tok, strlen(tok)}, (vg_str){eq + 1, strlen(eq + 1)});
    }
    size_t n;
    vg_sigma_rule *const *rules = vg_detector_sigma_rules(e->det, &n);
    vg_sigma_scratch_next_event(e->scr);
    for (size_t i = 0; i < n; i++)
        if (vg_sigma_match(rules[i], ev, e->scr, &e->arena))
            vg_stateful_feed(e->sf, vg_sigma_meta(rules[i]), ev, collect, e);
    vg_arena_reset(&e->arena);
}

static size_t count_rule(env *e, const char *title, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->alerts[i].rule, title) && (!kind || !strcmp(e->alerts[i].kind, kind)))
            n++;
    return n;
}

static const got *last_of(env *e, const char *title)
{
    for (size_t i = e->n; i-- > 0;)
        if (!strcmp(e->alerts[i].rule, title))
            return &e->alerts[i];
    return NULL;
}

#define BASE_FAIL                                                                                  \
    "title: fail\nid: r-fail\nname: fail\nlogsource: {product: test}\n"                            \
    "detection: {sel: {action: fail}, condition: sel}\n---\n"
#define BASE_OK                                                                                    \
    "title: ok\nid: r-ok\nname: ok\nlogsource: {product: test}\n"                                  \
    "detection: {sel: {action: ok}, condition: sel}\n---\n"

static const char *COUNT3 = BASE_FAIL "title: c3\nid: c-3\ncorrelation:\n  type: event_count\n"
                                      "  rules: [fail]\n  group-by: [ip]\n  timespan: 60s\n"
                                      "  condition: {gte: 3}\n";

Test(event_count, fires_once_then_final)
{
    env e;
    env_load(&e, COUNT3, NULL);
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 10, "action=fail ip=1.1.1.1");
    feed(&e, 11, "action=fail ip=2.2.2.2");
    cr_assert_eq(count_rule(&e, "c3", NULL), 0);
    feed(&e, 20, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "c3", "first"), 1);
    cr_assert_eq(last_of(&e, "c3")->count, 3);
    cr_assert(strstr(last_of(&e, "c3")->json, "\"group\":{\"ip\":\"1.1.1.1\"}"));
    cr_assert(strstr(last_of(&e, "c3")->json, "\"samples\":[\"action=fail ip=1.1.1.1\""));
    feed(&e, 30, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "c3", NULL), 1, "suppressed in the window");
    /* generate defaults to false: the base rule does not alert on its own */
    cr_assert_eq(count_rule(&e, "fail", NULL), 0);
    vg_stateful_close_all(e.sf, collect, &e);
    cr_assert_eq(count_rule(&e, "c3", "final"), 1);
    cr_assert_eq(last_of(&e, "c3")->count, 4);
    env_free(&e);
}

/* (event times, expected first alerts) for gte 3 within 60s. */
static const struct {
    double t[4];
    int n;
    size_t alerts;
    const char *why;
} windows[] = {
    {{0, 30, 60}, 3, 0, "exactly timespan after the first: the next window"},
    {{0, 30, 59.999}, 3, 1, "just inside"},
    {{100, 90, 95}, 3, 1, "out of order within the tolerance"},
    {{100, 30, 35}, 3, 0, "70 s back: a clock jump, the window restarts"},
    {{1000, 10, 20, 30}, 4, 1, "clock jumped back: the new window counts"},
    {{0, 10, 100000}, 3, 0, "clock jumped forward: a new window"},
};

Test(event_count, window_edges)
{
    for (size_t k = 0; k < sizeof windows / sizeof windows[0]; k++) {
        env e;
        env_load(&e, COUNT3, NULL);
        for (int i = 0; i < windows[k].n; i++)
            feed(&e, windows[k].t[i], "action=fail ip=9.9.9.9");
        cr_assert_eq(count_rule(&e, "c3", "first"), windows[k].alerts, "%s", windows[k].why);
        env_free(&e);
    }
}

Test(event_count, one_forged_future_line_does_not_close_windows)
{
    env e;
    env_load(&e, COUNT3, NULL);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=1.1.1.1");
    feed(&e, 10 * 86400, "action=fail ip=6.6.6.6"); /* ten days ahead, alone */
    feed(&e, 2, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "c3", "first"), 1, "1.1.1.1's window survived");
    env_free(&e);
}

Test(event_count, window_start_is_the_earliest_event)
{
    env e;
    env_load(&e, COUNT3, NULL);
    feed(&e, 100, "action=fail ip=9.9.9.9");
    feed(&e, 90, "action=fail ip=9.9.9.9");
    feed(&e, 95, "action=fail ip=9.9.9.9");
    cr_assert(strstr(last_of(&e, "c3")->json, "\"start\":\"2027-01-15T08:01:30"), "%s",
              last_of(&e, "c3")->json);
    env_free(&e);
}

Test(event_count, upper_bound_judged_at_close)
{
    env e;
    env_load(&e,
             BASE_FAIL "title: few\nid: c-few\ncorrelation:\n  type: event_count\n"
                       "  rules: [fail]\n  group-by: [ip]\n  timespan: 60s\n"
                       "  condition: {gt: 1, lte: 3}\n",
             NULL);
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=1.1.1.1");
    feed(&e, 0, "action=fail ip=2.2.2.2");
    for (int i = 0; i < 5; i++)
        feed(&e, 2 + i, "action=fail ip=3.3.3.3");
    cr_assert_eq(count_rule(&e, "few", NULL), 0);
    /* time passes (another group's events): the windows close */
    feed(&e, 500, "action=fail ip=4.4.4.4");
    cr_assert_eq(count_rule(&e, "few", NULL), 1, "only 1.1.1.1 (2 events) is in (1, 3]");
    cr_assert(strstr(last_of(&e, "few")->json, "1.1.1.1"));
    env_free(&e);
}

Test(value_count, distinct_values)
{
    env e;
    env_load(&e,
             BASE_FAIL "title: spray\nid: c-spray\ncorrelation:\n  type: value_count\n"
                       "  rules: [r-fail]\n  group-by: [ip]\n  timespan: 5m\n"
                       "  condition: {field: user, gte: 3}\n",
             NULL);
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    feed(&e, 0, "action=fail ip=1.1.1.1 user=a");
    feed(&e, 1, "action=fail ip=1.1.1.1 user=a");
    feed(&e, 2, "action=fail ip=1.1.1.1 user=b");
    feed(&e, 3, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "spray", NULL), 0);
    feed(&e, 4, "action=fail ip=1.1.1.1 user=c");
    cr_assert_eq(count_rule(&e, "spray", "first"), 1);
    cr_assert_eq(last_of(&e, "spray")->count, 3);
    env_free(&e);
}

Test(value_count, field_list_counts_tuples)
{
    env e;
    env_load(&e,
             BASE_FAIL "title: pairs\nid: c-pairs\ncorrelation:\n  type: value_count\n"
                       "  rules: [fail]\n  group-by: [host]\n  timespan: 5m\n"
                       "  condition: {field: [user, ip], gte: 3}\n",
             NULL);
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    feed(&e, 0, "action=fail host=h user=a ip=1");
    feed(&e, 1, "action=fail host=h user=a ip=2");
    feed(&e, 2, "action=fail host=h user=a ip=1");
    feed(&e, 3, "action=fail host=h user=b");
    cr_assert_eq(count_rule(&e, "pairs", NULL), 0, "two distinct pairs, one event without ip");
    feed(&e, 4, "action=fail host=h user=b ip=1");
    cr_assert_eq(count_rule(&e, "pairs", "first"), 1);
    env_free(&e);
}

Test(value_count, hyperloglog_accuracy)
{
    static const unsigned sizes[] = {50, 1000, 20000, 200000};
    for (size_t k = 0; k < 4; k++) {
        env e;
        env_load(&e,
                 BASE_FAIL "title: many\nid: c-many\ncorrelation:\n  type: value_count\n"
                           "  rules: [fail]\n  group-by: [host]\n  timespan: 1d\n"
                           "  condition: {field: ip, lt: 100000000}\n",
                 NULL);
        char kv[128];
        for (unsigned i = 0; i < sizes[k]; i++) {
            snprintf(kv, sizeof kv, "action=fail host=h ip=10.%u.%u.%u", i >> 16, (i >> 8) & 255,
                     i & 255);
            feed(&e, 1, kv);
        }
        vg_stateful_close_all(e.sf, collect, &e);
        const got *g = last_of(&e, "many");
        cr_assert(g);
        double err = (double)g->count / sizes[k] - 1;
        if (sizes[k] <= 64)
            cr_assert_eq(g->count, sizes[k], "exact below the threshold");
        else
            cr_assert(err < 0.06 && err > -0.06, "%u distinct: estimated %lld (%.1f%%)", sizes[k],
                      g->count, err * 100);
        env_free(&e);
    }
}

static const char *TEMPORAL =
    BASE_FAIL BASE_OK "title: tmp\nid: c-t\ncorrelation:\n  type: temporal\n  rules: [fail, ok]\n"
                      "  group-by: [user]\n  timespan: 60s\n---\n"
                      "title: ord\nid: c-o\ncorrelation:\n  type: temporal_ordered\n"
                      "  rules: [fail, ok]\n  group-by: [user]\n  timespan: 60s\n";

Test(temporal, both_orders_and_span)
{
    static const struct {
        double t1, t2;
        bool fail_first;
        size_t tmp, ord;
    } cases[] = {
        {0, 30, true, 1, 1}, {0, 30, false, 1, 0}, {0, 60, true, 1, 1},
        {0, 61, true, 0, 0}, {0, 61, false, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        env e;
        env_load(&e, TEMPORAL, NULL);
        cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
        feed(&e, cases[k].t1, cases[k].fail_first ? "action=fail user=bob" : "action=ok user=bob");
        feed(&e, cases[k].t2, cases[k].fail_first ? "action=ok user=bob" : "action=fail user=bob");
        feed(&e, cases[k].t2, "action=ok user=alice");
        cr_assert_eq(count_rule(&e, "tmp", "first"), cases[k].tmp, "case %zu", k);
        cr_assert_eq(count_rule(&e, "ord", "first"), cases[k].ord, "case %zu", k);
        env_free(&e);
    }
}

/* The specification's complete example: failed logins (event_count, a
   correlation) followed by a success (temporal_ordered), by name. */
static const char *CHAIN =
    "title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
    "id: b180ead8-d58f-40b2-ae54-c8940995b9b6\nstatus: experimental\n"
    "correlation:\n    type: temporal_ordered\n    rules:\n        - multiple_failed_login\n"
    "        - successful_login\n    group-by:\n        - User\n    timespan: 10m\nlevel: high\n"
    "---\ntitle: Multiple failed logons\nid: a8418a5a-5fc4-46b5-b23b-6c73beb19d41\n"
    "name: multiple_failed_login\ncorrelation:\n    type: event_count\n    rules:\n"
    "        - failed_login\n    group-by:\n        - User\n    timespan: 10m\n"
    "    condition:\n        gte: 10\n---\ntitle: Single failed login\n"
    "id: 53ba33fd-3a50-4468-a5ef-c583635cfa92\nname: failed_login\n"
    "logsource:\n    product: test\ndetection:\n    selection:\n        EventID:\n"
    "            - 529\n            - 4625\n    condition: selection\n---\n"
    "title: Successful login\nid: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8\n"
    "name: successful_login\nlogsource:\n    product: test\ndetection:\n    selection:\n"
    "        EventID:\n            - 528\n            - 4624\n    condition: selection\n";

Test(chain, spec_failed_then_success)
{
    env e;
    env_load(&e, CHAIN, NULL);
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    const char *outer = "Correlation - Multiple Failed Logins Followed by Successful Login";
    feed(&e, 0, "EventID=4624 User=eve"); /* a success before: not the order */
    for (int i = 0; i < 9; i++)
        feed(&e, 1 + i, "EventID=4625 User=eve");
    feed(&e, 20, "EventID=4624 User=eve");
    cr_assert_eq(count_rule(&e, outer, NULL), 0, "nine failures are not enough");
    feed(&e, 30, "EventID=4625 User=eve"); /* the tenth: the inner one fires */
    cr_assert_eq(count_rule(&e, outer, NULL), 0);
    cr_assert_eq(count_rule(&e, "Multiple failed logons", NULL), 0,
                 "referenced by the outer one, generate false: silent");
    feed(&e, 40, "EventID=4624 User=mallory");
    cr_assert_eq(count_rule(&e, outer, NULL), 0, "another user");
    feed(&e, 50, "EventID=4624 User=eve");
    cr_assert_eq(count_rule(&e, outer, "first"), 1);
    cr_assert(strstr(last_of(&e, outer)->json, "\"User\":\"eve\""));
    cr_assert_eq(count_rule(&e, "Single failed login", NULL), 0);
    env_free(&e);
}

/* The specification's alias example. */
Test(aliases, spec_example)
{
    env e;
    env_load(
        &e,
        "title: internal error\nname: internal_error\nlogsource: {product: test}\n"
        "detection:\n  selection:\n    http.response.status_code: 500\n  condition: selection\n"
        "---\ntitle: new connection\nname: new_network_connection\n"
        "logsource: {product: test}\ndetection:\n  selection:\n"
        "    event.category: network\n    event.type: connection\n"
        "    event.outcome: success\n  condition: selection\n---\n"
        "title: alias\nid: c-alias\ncorrelation:\n    type: temporal\n    rules:\n"
        "        - internal_error\n        - new_network_connection\n    group-by:\n"
        "        - internal_ip\n        - remote_ip\n    timespan: 10s\n    aliases:\n"
        "        internal_ip:\n            internal_error: destination.ip\n"
        "            new_network_connection: source.ip\n        remote_ip:\n"
        "            internal_error: source.ip\n"
        "            new_network_connection: destination.ip\n",
        NULL);
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    feed(&e, 0, "http.response.status_code=500 destination.ip=10.0.0.5 source.ip=203.0.113.9");
    feed(&e, 3,
         "event.category=network event.type=connection event.outcome=success "
         "source.ip=10.0.0.6 destination.ip=203.0.113.9");
    cr_assert_eq(count_rule(&e, "alias", NULL), 0, "another internal address");
    feed(&e, 4,
         "event.category=network event.type=connection event.outcome=success "
         "source.ip=10.0.0.5 destination.ip=203.0.113.9");
    cr_assert_eq(count_rule(&e, "alias", "first"), 1);
    cr_assert(strstr(last_of(&e, "alias")->json,
                     "\"group\":{\"internal_ip\":\"10.0.0.5\",\"remote_ip\":\"203.0.113.9\"}"),
              "%s", last_of(&e, "alias")->json);
    env_free(&e);
}

Test(generate, true_keeps_the_base_alerts)
{
    env e;
    env_load(&e,
             BASE_FAIL "title: g\nid: c-g\ncorrelation:\n  type: event_count\n"
                       "  rules: [fail]\n  group-by: [ip]\n  timespan: 60s\n"
                       "  condition: {gte: 2}\n  generate: true\n",
             NULL);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "fail", "plain"), 2);
    cr_assert_eq(count_rule(&e, "g", "first"), 1);
    env_free(&e);
}

Test(suppression, powers_of_ten_and_final)
{
    env e;
    env_load(&e,
             "title: noisy\nid: r-noisy\nlogsource: {product: test}\n"
             "detection: {sel: {action: fail}, condition: sel}\n"
             "x_vigie:\n  suppress:\n    by: [ip]\n    window: 10m\n",
             NULL);
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    for (int i = 0; i < 150; i++)
        feed(&e, i, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=2.2.2.2");
    cr_assert_eq(count_rule(&e, "noisy", "first"), 2);
    cr_assert_eq(count_rule(&e, "noisy", "update"), 2, "at 10 and 100");
    vg_stateful_close_all(e.sf, collect, &e);
    cr_assert_eq(count_rule(&e, "noisy", "final"), 0, "finals are for correlations");
    cr_assert_eq(count_rule(&e, "noisy", NULL), 4);
    cr_assert_eq(last_of(&e, "noisy")->count, 1, "2.2.2.2");
    cr_assert_eq(vg_counter_get(vg_stats_counter(e.st, "stateful.suppressed", "rule", "r-noisy")),
                 147);
    env_free(&e);
}

Test(suppression, new_window_alerts_again)
{
    env e;
    env_load(&e,
             "title: noisy\nid: r-noisy\nlogsource: {product: test}\n"
             "detection: {sel: {action: fail}, condition: sel}\n"
             "x_vigie: {suppress: 1m}\n",
             NULL);
    feed(&e, 0, "action=fail");
    feed(&e, 30, "action=fail");
    feed(&e, 60, "action=fail");
    cr_assert_eq(count_rule(&e, "noisy", "first"), 2);
    cr_assert_eq(count_rule(&e, "noisy", NULL), 2, "the second event was suppressed");
    env_free(&e);
}

Test(bounds, eviction_counted_per_rule)
{
    vg_stateful_opts o;
    vg_stateful_opts_default(&o);
    o.max_groups = 2;
    env e;
    env_load(&e, COUNT3, &o);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=2.2.2.2");
    feed(&e, 2, "action=fail ip=1.1.1.1"); /* 1.1.1.1 most recent */
    feed(&e, 3, "action=fail ip=3.3.3.3"); /* evicts 2.2.2.2 */
    feed(&e, 4, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "c3", "first"), 1, "1.1.1.1 kept its count");
    feed(&e, 5, "action=fail ip=2.2.2.2");
    feed(&e, 6, "action=fail ip=2.2.2.2");
    cr_assert_eq(count_rule(&e, "c3", "first"), 1, "2.2.2.2 restarted at 1");
    cr_assert_geq(vg_counter_get(vg_stats_counter(e.st, "stateful.evictions", "rule", "c-3")), 2);
    env_free(&e);
}

Test(bounds, memory_budget)
{
    vg_stateful_opts o;
    vg_stateful_opts_default(&o);
    o.max_bytes = 256 << 10;
    env e;
    env_load(&e, COUNT3, &o);
    char kv[600];
    for (int i = 0; i < 20000; i++) {
        snprintf(kv, sizeof kv, "action=fail ip=10.0.%d.%d pad=%0400d", i / 256, i % 256, i);
        feed(&e, 1, kv);
        cr_assert_leq(vg_stateful_bytes(e.sf), o.max_bytes, "at event %d", i);
    }
    cr_assert_gt(vg_counter_get(vg_stats_counter(e.st, "stateful.evictions_memory", NULL, NULL)),
                 10000);
    /* an attack in the same stream is still seen */
    for (int i = 0; i < 3; i++)
        feed(&e, 2, "action=fail ip=203.0.113.1");
    cr_assert_eq(count_rule(&e, "c3", "first"), 1);
    vg_stateful_close_all(e.sf, collect, &e);
    cr_assert_eq(vg_stateful_bytes(e.sf), 0, "everything accounted is released");
    env_free(&e);
}

Test(checkpoint, round_trip_keeps_the_count)
{
    env e;
    env_load(&e, COUNT3, NULL);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=1.1.1.1");
    cr_assert(vg_stateful_dirty(e.sf));
    vg_errbuf eb;
    cr_assert_eq(vg_stateful_save(e.sf, e.dir, 7, &eb), VG_OK, "%s", eb.msg);
    /* a new engine (a restart) restores the slot of sequence 7 */
    vg_stateful_destroy(e.sf);
    cr_assert(vg_stateful_create(NULL, e.st, &e.sf, &eb) == VG_OK);
    vg_stateful_bind(e.sf, (const vg_ruleset *)e.det);
    cr_assert_eq(vg_stateful_restore(e.sf, e.dir, 7, &eb), VG_OK, "%s", eb.msg);
    feed(&e, 2, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "c3", "first"), 1);
    cr_assert_eq(last_of(&e, "c3")->count, 3);
    /* the other slot (sequence 8) does not exist yet */
    cr_assert_eq(vg_stateful_restore(e.sf, e.dir, 8, &eb), VG_ENOTFOUND);
    env_free(&e);
}

Test(checkpoint, corrupt_or_mismatched_gives_a_fresh_state)
{
    env e;
    env_load(&e, COUNT3, NULL);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=1.1.1.1");
    vg_errbuf eb;
    cr_assert_eq(vg_stateful_save(e.sf, e.dir, 2, &eb), VG_OK);
    cr_assert_neq(vg_stateful_restore(e.sf, e.dir, 4, &eb), VG_OK, "sequence mismatch");
    cr_assert(strstr(eb.msg, "does not match"), "%s", eb.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/stateful.0.json", e.dir);
    FILE *f = fopen(path, "w");
    fputs("{\"version\":1,\"tables\":{\"c-3\":[[[", f);
    fclose(f);
    cr_assert_eq(vg_stateful_restore(e.sf, e.dir, 2, &eb), VG_EPARSE);
    cr_assert_neq(access(path, F_OK), 0, "moved aside");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s/stateful.0.json.corrupt-* >/dev/null 2>&1", e.dir);
    cr_assert_eq(system(cmd), 0, "kept as .corrupt-TIME");
    feed(&e, 2, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "c3", NULL), 0, "fresh: the old count is gone");
    env_free(&e);
}

Test(checkpoint, reload_keeps_unchanged_rules)
{
    env e;
    env_load(&e, COUNT3, NULL);
    feed(&e, 0, "action=fail ip=1.1.1.1");
    feed(&e, 1, "action=fail ip=1.1.1.1");
    /* the same rules compiled again (a SIGHUP) */
    void *det2 = vg_detector_sigma.create(e.cfg, e.st);
    char path[128];
    snprintf(path, sizeof path, "%s/rules.yml", e.dir);
    vg_detector_sigma.load_file(det2, path, on_diag, &e);
    vg_detector_sigma.finish(det2, e.cfg, on_diag, &e);
    vg_stateful_bind(e.sf, (const vg_ruleset *)det2);
    vg_detector_sigma.destroy(e.det);
    e.det = det2;
    feed(&e, 2, "action=fail ip=1.1.1.1");
    cr_assert_eq(count_rule(&e, "c3", "first"), 1);
    env_free(&e);
}

/* ---- the specification's schema examples ---- */

static const char *spec_dir(void)
{
    static char buf[512];
    const char *root = getenv("VG_SOURCE_ROOT");
    snprintf(buf, sizeof buf, "%s/../shared/corpus/sigma-specification/tests/schema/correlation",
             root ? root : "..");
    return buf;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *b = calloc(1, 65536);
    size_t n = fread(b, 1, 65535, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* Base rules the examples name. */
#define SPEC_BASES                                                                                 \
    "title: failed\nid: 5638f7c0-ac70-491d-8465-2a65075e0d86\nlogsource: {product: test}\n"        \
    "detection: {sel: {EventID: 4625}, condition: sel}\n---\n"                                     \
    "title: a\nname: recon_cmd_a\nlogsource: {product: test}\n"                                    \
    "detection: {sel: {cmd: whoami}, condition: sel}\n---\n"                                       \
    "title: b\nname: recon_cmd_b\nlogsource: {product: test}\n"                                    \
    "detection: {sel: {cmd: id}, condition: sel}\n---\n"                                           \
    "title: c\nname: recon_cmd_c\nlogsource: {product: test}\n"                                    \
    "detection: {sel: {cmd: hostname}, condition: sel}\n---\n"

static void spec_load(env *e, const char *file)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", spec_dir(), file);
    char *y = slurp(path);
    if (!y)
        cr_skip("sigma-specification corpus absent (%s)", path);
    char *all = malloc(strlen(y) + 4096);
    snprintf(all, strlen(y) + 4096, "%s%s\n", SPEC_BASES, y);
    env_load(e, all, NULL);
    free(all);
    free(y);
}

Test(spec, event_count_example)
{
    env e;
    spec_load(&e, "event_count.yml");
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    for (int i = 0; i < 99; i++)
        feed(&e, i, "EventID=4625 ComputerName=ws1");
    feed(&e, 50, "EventID=4625 ComputerName=ws2");
    cr_assert_eq(count_rule(&e, "Many failed logins", NULL), 0);
    feed(&e, 3599, "EventID=4625 ComputerName=ws1");
    cr_assert_eq(count_rule(&e, "Many failed logins", "first"), 1, "100 within 1h");
    env_free(&e);
}

Test(spec, value_count_example)
{
    env e;
    spec_load(&e, "value_count.yml");
    cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
    char kv[128];
    for (int i = 0; i < 100; i++) {
        snprintf(kv, sizeof kv, "EventID=4625 ComputerName=dc WorkstationName=w1 User=u%d", i);
        feed(&e, i, kv);
        feed(&e, i, "EventID=4625 ComputerName=dc WorkstationName=w2 User=same");
    }
    cr_assert_eq(count_rule(&e, "Failed login", "first"), 1, "100 users from (dc, w1)");
    cr_assert(strstr(last_of(&e, "Failed login")->json, "\"WorkstationName\":\"w1\""));
    env_free(&e);
}

Test(spec, temporal_examples)
{
    static const char *const files[] = {"temporal.yml", "temporal_ordered.yml"};
    static const char *const titles[] = {"Recon", "Recon ordered"};
    for (int k = 0; k < 2; k++) {
        env e;
        spec_load(&e, files[k]);
        cr_assert_eq(e.errors, 0, "%s", e.lastdiag);
        feed(&e, 0, "cmd=hostname ComputerName=ws User=x");
        feed(&e, 10, "cmd=whoami ComputerName=ws User=x");
        feed(&e, 20, "cmd=id ComputerName=ws User=x");
        cr_assert_eq(count_rule(&e, titles[k], "first"), k == 0 ? 1 : 0, "%s", files[k]);
        feed(&e, 30, "cmd=hostname ComputerName=ws User=x");
        cr_assert_eq(count_rule(&e, titles[k], "first"), 1, "%s: a, b then c", files[k]);
        env_free(&e);
    }
}

Test(spec, metric_types_rejected_with_the_reason)
{
    static const char *const files[] = {"value_sum.yml", "value_avg.yml", "value_percentile.yml"};
    for (int k = 0; k < 3; k++) {
        env e;
        spec_load(&e, files[k]);
        cr_assert_eq(e.errors, 1, "%s", files[k]);
        cr_assert(strstr(e.lastdiag, "is not supported"), "%s", e.lastdiag);
        env_free(&e);
    }
}

static const struct {
    const char *yaml;
    const char *msg;
} bad[] = {
    {BASE_FAIL "title: x\ncorrelation: {type: event_count, rules: [fail], group-by: [ip], "
               "condition: {gte: 1}}\n",
     "missing correlation 'timespan'"},
    {BASE_FAIL "title: x\ncorrelation: {type: event_count, rules: [fail], timespan: 1w, "
               "condition: {gte: 1}}\n",
     "'timespan' must be"},
    {BASE_FAIL "title: x\ncorrelation: {type: event_count, rules: [nope], timespan: 1m, "
               "condition: {gte: 1}}\n",
     "names rule 'nope', which is not loaded"},
    {BASE_FAIL "title: x\ncorrelation: {type: value_count, rules: [fail], timespan: 1m, "
               "condition: {gte: 1}}\n",
     "value_count needs 'field'"},
    {BASE_FAIL "title: x\ncorrelation: {type: event_count, rules: [fail], timespan: 1m, "
               "condition: {about: 1}}\n",
     "unknown condition operator 'about'"},
    {BASE_FAIL "title: x\ncorrelation: {type: bogus, rules: [fail], timespan: 1m}\n",
     "unknown correlation type 'bogus'"},
    {"title: x\nname: x\ncorrelation: {type: event_count, rules: [y], timespan: 1m, "
     "condition: {gte: 1}}\n---\ntitle: y\nname: y\ncorrelation: {type: event_count, "
     "rules: [x], timespan: 1m, condition: {gte: 1}}\n",
     "cyclic"},
    {"title: n\nlogsource: {product: test}\ndetection: {sel: {a: b}, condition: sel}\n"
     "x_vigie: {suppress: {by: [ip]}}\n",
     "needs a window"},
};

Test(rejections, named)
{
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        env e;
        env_load(&e, bad[k].yaml, NULL);
        cr_assert_geq(e.errors, 1, "case %zu", k);
        cr_assert(strstr(e.lastdiag, bad[k].msg), "case %zu: %s", k, e.lastdiag);
        env_free(&e);
    }
}

/*
 * fuzz_stateful.h - the body shared by fuzz_correlation.c and
 * fuzz_baseline.c: hostile Sigma YAML (base rules, correlation documents,
 * x_vigie.baseline and x_vigie.suppress sections) loaded as the agent loads
 * rules, then run.
 *
 * Per input: the YAML is written to fuzz.yml in a directory made once per
 * process (under /dev/shm when it exists) and loaded with vg_ruleset_load
 * (Sigma compiler, correlation compiler and resolution, baseline specs
 * through the stateful engine's bind). A fixed sequence of events (sshd
 * failures and successes, web requests, with times that cross minutes,
 * hours and a month) goes through vg_ruleset_match, the stateful engine
 * (feed, observe, tick, close_all), and every alert is built as the
 * pipeline builds it: the alert must be a JSON object and its key index
 * must check out against it. The engine's state is also saved to JSON and
 * restored into a fresh engine. FUZZ_STATEFUL_DIRECT adds a direct call of
 * the parsers (vg_baseline_spec_parse, vg_suppress_parse) on each rule's
 * x_vigie.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/alert.h"
#include "agent/config.h"
#include "agent/log.h"
#include "agent/reckeys.h"
#include "detectors/baseline_rules.h"
#include "detectors/correlation.h"
#include "detectors/ruleset.h"
#include "detectors/sigma.h"
#include "detectors/stateful.h"

#define SEC 1000000000LL
#define T0 (1800000000LL * SEC)

static char dir[128], path[192];
static vg_config *cfg;
static vg_stats *st;
static vg_alert alert;
static const vg_agent_info info = {"fuzz-host", "fuzz-agent", "fuzz", 4096};

/* FUZZ_VERBOSE=1 prints the diagnostics (to check what a seed exercises). */
static void on_diag(void *ud, const vg_diag *d)
{
    (void)ud;
    if (d->msg && getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%s:%d:%d: %s\n", d->file ? d->file : "?", d->line, d->col, d->msg);
}

static void on_alert(void *ud, const vg_stateful_alert *a)
{
    (void)ud;
    vg_alert_extra x = {a->vigie_json, a->id_key, a->summary};
    if (!vg_alert_build_ex(&alert, &info, a->rule, a->ev, T0, &x))
        return; /* too large: counted by the pipeline */
    json_error_t err;
    json_t *j = json_loadb(alert.json.p, alert.json.n, 0, &err);
    if (!json_is_object(j)) {
        fprintf(stderr, "alert is not a JSON object (%s): %.*s\n", err.text, (int)alert.json.n,
                alert.json.p);
        abort();
    }
    json_decref(j);
    for (int i = 0; i < VG_RK_COUNT; i++) {
        size_t n;
        const char *t = vg_reckeys_tok(&alert.keys, alert.json.p, (vg_rk)i, &n);
        if (t && (n < 2 || (size_t)(t - alert.json.p) + n > alert.json.n || t[0] != '"' ||
                  t[n - 1] != '"'))
            abort();
    }
}

typedef struct fx {
    vg_stateful *sf;
} fx;

static void on_match(void *ud, const vg_rule_meta *rule, vg_event *ev)
{
    fx *f = ud;
    vg_stateful_feed(f->sf, rule, ev, on_alert, NULL);
}

static void setup(void)
{
    vg_log_set_quiet(true);
    vg_log_set_level(VG_LOG_ERROR);
    snprintf(dir, sizeof dir, "%s/vg-fuzz-stateful-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/fuzz.yml", dir);
    vg_errbuf eb;
    if (vg_config_defaults(&cfg, &eb))
        abort();
    free(cfg->state_dir);
    cfg->state_dir = strdup(dir);
    cfg->yara_cache = false;
    st = vg_stats_create();
    vg_alert_init(&alert);
}

/* The fixed events: (seconds after T0, logsource, program, "k=v" fields). */
static const struct {
    double sec;
    int ls;
    const char *program, *kv;
} events[] = {
    {0, 0, "sshd", "action=fail user=root ip=10.0.0.1 message=Failed"},
    {1, 0, "sshd", "action=fail user=root ip=10.0.0.1 message=Failed"},
    {2, 0, "sshd", "action=fail user=admin ip=10.0.0.2 message=Failed"},
    {3, 1, "", "c-ip=10.0.0.1 cs-method=GET cs-uri-query=/etc/passwd sc-status=404"},
    {59.999999999, 0, "sshd", "action=ok user=root ip=10.0.0.1 message=Accepted"},
    {60, 0, "sudo", "action=exec user=alice command=/bin/sh"},
    {61, 2, "app", "action=fail ip=10.0.0.1 block=blk_1 message=open"},
    {62, 2, "app", "action=fail ip=10.0.0.1 block=blk_1 message=close"},
    {3600, 0, "sshd", "action=fail user=root ip=10.0.0.1"},
    {3599, 0, "sshd", "action=fail user=root ip=10.0.0.3"}, /* out of order */
    {7200, 1, "", "c-ip=10.0.0.9 cs-method=POST sc-status=500"},
    {86400 * 31.0, 0, "sshd", "action=ok user=bob ip=192.168.1.1 message=Accepted"},
    {86400 * 31.0 + 1, 2, "app", "action=fail block=blk_2 message=open"},
};

static const vg_logsource lss[3] = {
    {"linux", NULL, "auth"}, {NULL, "webserver", NULL}, {"test", NULL, NULL}};

#ifdef FUZZ_STATEFUL_DIRECT
static void on_rule_direct(void *ud, vg_sigma_rule *r)
{
    (void)ud;
    const vg_rule_meta *m = vg_sigma_meta(r);
    if (m->x_vigie) {
        bool has = false;
        vg_baseline_spec sp;
        vg_errbuf eb;
        if (vg_baseline_spec_parse(m->x_vigie, &has, &sp, &eb) == VG_OK && has)
            vg_baseline_spec_free(&sp);
        vg_suppress su;
        has = false;
        if (vg_suppress_parse(m->x_vigie, &has, &su, &eb) == VG_OK && has)
            vg_suppress_free(&su);
    }
    vg_sigma_rule_destroy(r);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg)
        setup();
#ifdef FUZZ_STATEFUL_DIRECT
    vg_sigma_opts so = {.regex_match_limit = 100000, .regex_depth_limit = 1000};
    vg_sigma_load_buffer((const char *)data, size, "fuzz.yml", &so, on_rule_direct, on_diag, NULL);
#endif
    FILE *fp = fopen(path, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size))
        abort();
    fclose(fp);
    char *pv[1] = {path};
    vg_strlist paths = {pv, 1};
    vg_ruleset *rs = NULL;
    vg_ruleset_report rep;
    vg_errbuf eb;
    if (vg_ruleset_load(cfg, &paths, st, on_diag, NULL, &rs, &rep, &eb))
        return 0;
    vg_stateful_opts o;
    vg_stateful_opts_from_config(&o, cfg);
    o.max_groups = 64;
    o.max_bytes = 1 << 20;
    fx f = {NULL};
    if (vg_stateful_create(&o, st, &f.sf, &eb))
        abort();
    vg_stateful_bind(f.sf, rs);
    vg_ruleset_scratch *scr = vg_ruleset_scratch_create(rs);
    vg_batch b;
    if (!scr || vg_batch_init(&b, 4, 1 << 16))
        abort();
    static vg_stream stream = {.id = "fuzz:1", .name = "/var/log/fuzz.log", .input = "fuzz"};
    vg_match_sink sink = {on_match, &f};
    size_t nev = sizeof events / sizeof events[0];
    for (size_t i = 0; i < nev; i++) {
        vg_event *ev = vg_batch_push(&b);
        if (!ev)
            abort();
        char *kv = vg_arena_strndup(&b.arena, events[i].kv, strlen(events[i].kv));
        ev->raw = (vg_str){events[i].kv, strlen(events[i].kv)};
        ev->message = ev->raw;
        ev->stream = &stream;
        ev->offset = i;
        ev->logsource = &lss[events[i].ls];
        ev->ts_ns = T0 + (int64_t)(events[i].sec * SEC);
        ev->program = (vg_str){events[i].program, strlen(events[i].program)};
        ev->hostname = (vg_str){"web-01", 6};
        for (char *save = NULL, *tok = strtok_r(kv, " ", &save); tok;
             tok = strtok_r(NULL, " ", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq)
                continue;
            *eq = '\0';
            vg_event_set(ev, (vg_str){tok, strlen(tok)}, (vg_str){eq + 1, strlen(eq + 1)});
        }
        if (b.n == b.cap || i + 1 == nev) {
            vg_ruleset_match(rs, scr, &b, &sink);
            vg_stateful_observe(f.sf, &b, on_alert, NULL);
            vg_stateful_tick(f.sf, ev->ts_ns, on_alert, NULL);
            vg_batch_reset(&b);
        }
    }
    /* Save and restore into a fresh engine bound to the same rules. */
    json_t *j = vg_stateful_to_json(f.sf);
    if (j) {
        vg_stateful *sf2 = NULL;
        if (vg_stateful_create(&o, st, &sf2, &eb))
            abort();
        vg_stateful_bind(sf2, rs);
        (void)vg_stateful_from_json(sf2, j, &eb);
        vg_stateful_tick(sf2, T0 + 40 * 86400 * SEC, on_alert, NULL);
        vg_stateful_destroy(sf2);
        json_decref(j);
    }
    vg_stateful_tick(f.sf, T0 + 40 * 86400 * SEC, on_alert, NULL);
    vg_stateful_close_all(f.sf, on_alert, NULL);
    vg_batch_destroy(&b);
    vg_ruleset_scratch_destroy(scr);
    vg_stateful_destroy(f.sf);
    vg_ruleset_destroy(rs);
    return 0;
}

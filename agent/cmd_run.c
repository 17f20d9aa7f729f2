/*
 * cmd_run.c - `vigie run`: load the configuration and rules, run the agent.
 *
 * Fatal only at start-up (bad config, unreadable state). At run time a
 * reload that fails (bad config, any rule rejected) keeps the running
 * configuration and rules, and says why.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "privs.h"
#include "sandbox.h"
#include "state.h"
#include "status.h"

typedef struct run_opts {
    const char *config;
    vg_strlist rules;    /* --rules: replace the configured rule paths */
    const char *state_dir;
    size_t diags;        /* rejections seen while loading */
    bool allow_root;     /* --allow-root: may keep running as root without agent.user */
} run_opts;

void vg_cmd_print_diag(void *ud, const vg_diag *d)
{
    size_t *count = ud;
    if (count && !d->is_warning)
        (*count)++;
    if (d->line)
        fprintf(stderr, "%s:%d:%d: %s: %s\n", d->file ? d->file : "?", d->line, d->col,
                d->is_warning ? "warning" : "error", d->msg);
    else
        fprintf(stderr, "%s: %s: %s\n", d->file ? d->file : "?",
                d->is_warning ? "warning" : "error", d->msg);
}

/* The configuration with the command line's overrides. */
static vg_err load_config(run_opts *o, vg_config **cfg_out, vg_errbuf *eb)
{
    vg_config *cfg = NULL;
    vg_err r = vg_config_load(o->config, &cfg, eb);
    if (r)
        return r;
    if (o->rules.n) {
        for (size_t i = 0; i < cfg->rule_paths.n; i++)
            free(cfg->rule_paths.v[i]);
        free(cfg->rule_paths.v);
        cfg->rule_paths.v = calloc(o->rules.n, sizeof(char *));
        cfg->rule_paths.n = 0;
        for (size_t i = 0; cfg->rule_paths.v && i < o->rules.n; i++)
            if ((cfg->rule_paths.v[i] = strdup(o->rules.v[i])))
                cfg->rule_paths.n++;
    }
    if (o->state_dir) {
        free(cfg->state_dir);
        cfg->state_dir = strdup(o->state_dir);
    }
    vg_log_set_level((vg_log_level)(VG_LOG_ERROR + cfg->log_level));
    *cfg_out = cfg;
    return VG_OK;
}

/* The rules of cfg (which stays the caller's, also on error). */
static vg_err load_rules(run_opts *o, vg_config *cfg, vg_ruleset **rs_out, vg_stats *st,
                         vg_errbuf *eb)
{
    o->diags = 0;
    vg_ruleset_report rep;
    vg_err r = vg_ruleset_load(cfg, &cfg->rule_paths, st, vg_cmd_print_diag, &o->diags, rs_out,
                               &rep, eb);
    if (r)
        return r;
    for (size_t i = 0; i < cfg->noverrides; i++)
        if (!cfg->overrides[i].used)
            vg_log(VG_LOG_WARNING, "%s:%d:%d: override for '%s' matches no loaded rule",
                   cfg->overrides[i].file, cfg->overrides[i].line, cfg->overrides[i].col,
                   cfg->overrides[i].id);
    vg_log(VG_LOG_INFO, "rules: %zu loaded, %zu rejected, from %zu files", rep.loaded,
           rep.rejected, rep.files);
    return VG_OK;
}

static vg_err load_all(run_opts *o, vg_config **cfg_out, vg_ruleset **rs_out, vg_stats *st,
                       vg_errbuf *eb)
{
    vg_err r = load_config(o, cfg_out, eb);
    if (r)
        return r;
    if ((r = load_rules(o, *cfg_out, rs_out, st, eb))) {
        vg_config_destroy(*cfg_out);
        *cfg_out = NULL;
    }
    return r;
}

typedef struct reload_ctx {
    run_opts *o;
    vg_stats *st;
    const vg_sandbox *sandbox; /* a reload cannot write outside it */
} reload_ctx;

static vg_err do_reload(void *ud, vg_config **cfg, vg_ruleset **rs)
{
    reload_ctx *rc = ud;
    vg_errbuf eb;
    vg_log(VG_LOG_INFO, "SIGHUP: reloading %s", rc->o->config);
    vg_err r = load_all(rc->o, cfg, rs, rc->st, &eb);
    if (r) {
        vg_log(VG_LOG_ERROR, "reload failed, keeping the running configuration: %s", eb.msg);
        return r;
    }
    if (rc->o->diags) {
        vg_log(VG_LOG_ERROR, "reload: %zu rule(s) rejected (see above); keeping the running "
               "rules and configuration", rc->o->diags);
        vg_ruleset_destroy(*rs);
        vg_config_destroy(*cfg);
        *rs = NULL;
        *cfg = NULL;
        return VG_ERULE;
    }
    if ((r = vg_sandbox_check(rc->sandbox, *cfg, &eb))) {
        vg_log(VG_LOG_ERROR, "reload refused, keeping the running configuration: %s", eb.msg);
        vg_ruleset_destroy(*rs);
        vg_config_destroy(*cfg);
        *rs = NULL;
        *cfg = NULL;
        return r;
    }
    return VG_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vigie run [-c FILE] [--rules PATH]... [--state-dir DIR]\n"
               "  -c, --config FILE   configuration (default " VG_DEFAULT_CONFIG ")\n"
               "  -r, --rules PATH    rule file or directory, replaces rules.paths (repeatable)\n"
               "  -s, --state-dir DIR replaces agent.state_dir\n"
               "      --allow-root    keep running as root when agent.user is not set\n"
               "signals: TERM/INT stop cleanly, HUP reloads, USR1 prints statistics\n");
}

int vg_cmd_run(int argc, char **argv)
{
    /* The pipeline thread takes these through a signalfd. Blocked here,
       before any thread exists (senders, status, file-scan workers), so every
       thread inherits the mask and none can be killed by a SIGTERM meant for
       a clean stop. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    run_opts o = {VG_DEFAULT_CONFIG, {NULL, 0}, NULL, 0};
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                       {"rules", required_argument, 0, 'r'},
                                       {"state-dir", required_argument, 0, 's'},
                                       {"help", no_argument, 0, 'h'},
                                       {"allow-root", no_argument, 0, 'R'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:r:s:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config = optarg;
            break;
        case 'r': {
            char **v = realloc(o.rules.v, (o.rules.n + 1) * sizeof *v);
            if (!v) {
                free(o.rules.v);
                return 2;
            }
            o.rules.v = v;
            v[o.rules.n++] = optarg;
            break;
        }
        case 's':
            o.state_dir = optarg;
            break;
        case 'R':
            o.allow_root = true;
            break;
        case 'h':
            usage(stdout);
            free(o.rules.v);
            return 0;
        default:
            usage(stderr);
            free(o.rules.v);
            return 2;
        }
    }
    int rc = 1;
    vg_stats *st = vg_stats_create();
    vg_config *cfg = NULL;
    vg_ruleset *rs = NULL;
    vg_pipeline *p = NULL;
    vg_status *status = NULL;
    vg_sandbox *sandbox = NULL;
    vg_errbuf eb;
    char agent_id[37];
    if (!st) {
        fprintf(stderr, "vigie: out of memory\n");
        goto out;
    }
    /* Landlock (vg_sandbox_begin) once the state directory exists and before
       the rules: it confines the calling thread and those started later, and
       the ruleset starts the YARA file-scan worker. */
    if (load_config(&o, &cfg, &eb) || vg_state_prepare(cfg->state_dir, &eb) ||
        vg_state_agent_id(cfg->state_dir, agent_id, &eb) ||
        vg_sandbox_begin(cfg, &sandbox, &eb) || load_rules(&o, cfg, &rs, st, &eb)) {
        fprintf(stderr, "vigie: %s\n", eb.msg);
        vg_config_destroy(cfg);
        goto out;
    }
    /* Privileges: before other threads start (capabilities are per thread);
       the inputs are opened later, with the kept capabilities. The seccomp
       filter right after (it denies setuid & co), on every thread. */
    if (vg_privs_drop(cfg, o.allow_root, &eb)) {
        fprintf(stderr, "vigie: %s\n", eb.msg);
        vg_config_destroy(cfg);
        vg_ruleset_destroy(rs);
        goto out;
    }
    vg_sandbox_finish(sandbox);
    if (vg_status_start(cfg, st, &status, &eb)) {
        fprintf(stderr, "vigie: %s\n", eb.msg);
        vg_config_destroy(cfg);
        vg_ruleset_destroy(rs);
        goto out;
    }
    static char host[256];
    snprintf(host, sizeof host, "%s", cfg->hostname);
    vg_agent_info info = {host, agent_id, VG_VERSION, (size_t)cfg->max_alert_message};
    if (vg_pipeline_create(cfg, st, &info, rs, &p, &eb)) {
        fprintf(stderr, "vigie: %s\n", eb.msg);
        goto out;
    }
    reload_ctx rctx = {&o, st, sandbox};
    if (vg_pipeline_run(p, do_reload, &rctx, &eb)) {
        fprintf(stderr, "vigie: %s\n", eb.msg);
        goto out;
    }
    rc = 0;
out:
    vg_pipeline_destroy(p);
    vg_status_stop(status);
    vg_sandbox_destroy(sandbox);
    if (st) {
        fprintf(stderr, "--- vigie statistics at exit ---\n");
        vg_stats_print(st, stderr);
    }
    vg_stats_destroy(st);
    free(o.rules.v);
    return rc;
}

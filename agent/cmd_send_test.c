/*
 * cmd_send_test.c - `vigie send-test-alert`: one harmless alert through every
 * configured output, now, so an installer sees the whole path work.
 *
 * Local outputs (stdout, file) get it written and flushed; network outputs
 * get it sent directly through their transport (the same code the sender
 * threads use, with the same TLS, credentials and proxy settings), not
 * through the spool, so the answer is immediate: "delivered" or the
 * collector's refusal. Nothing is left in the spool, no position moves.
 *
 * Exit status: 0 every output took it, 1 one or more did not, 2 usage or
 * configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "cmd.h"
#include "config.h"
#include "output.h"
#include "sender.h"
#include "state.h"
#include "transport.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: vigie send-test-alert [-c FILE] [--output NAME]\n"
                 "  send one harmless alert (rule 'Vigie test alert', level informational) through\n"
                 "  every configured output, or only NAME, and say what each answered\n");
}

int vg_cmd_send_test(int argc, char **argv)
{
    const char *cfgpath = VG_DEFAULT_CONFIG, *only = NULL;
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                       {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 'o': only = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    vg_errbuf eb;
    vg_config *cfg = NULL;
    if (vg_config_load(cfgpath, &cfg, &eb)) {
        fprintf(stderr, "vigie send-test-alert: %s\n", eb.msg);
        return 2;
    }
    char agent_id[37] = "unknown";
    if (vg_state_agent_id(cfg->state_dir, agent_id, &eb))
        snprintf(agent_id, sizeof agent_id, "unknown");
    char host[256] = "localhost";
    if (cfg->hostname)
        snprintf(host, sizeof host, "%s", cfg->hostname);
    else
        gethostname(host, sizeof host - 1);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    static const char msg[] = "vigie test alert: this host can reach its alert outputs";
    char sid[80];
    snprintf(sid, sizeof sid, "test:%lld", (long long)now); /* a fresh event.id each time */
    vg_stream stream = {{0}, "vigie send-test-alert", "test"};
    snprintf(stream.id, sizeof stream.id, "%s", sid);
    vg_event *ev = calloc(1, sizeof *ev);
    if (!ev) {
        vg_config_destroy(cfg);
        return 2;
    }
    ev->raw = (vg_str){msg, sizeof msg - 1};
    ev->stream = &stream;
    ev->ts_ns = now;
    vg_rule_meta rule = {0};
    rule.id = "vigie-test-alert";
    rule.title = "Vigie test alert";
    rule.description = "A harmless alert sent by `vigie send-test-alert` to check the path from "
                       "this host to its outputs. No action needed.";
    rule.level = "informational";
    rule.level_rank = 0;
    rule.ruleset = "vigie";
    vg_agent_info info = {host, agent_id, VG_VERSION, 16384};
    vg_alert al;
    vg_alert_init(&al);
    int failed = 0, tried = 0;
    if (!vg_alert_build(&al, &info, &rule, ev, now)) {
        fprintf(stderr, "vigie send-test-alert: cannot build the alert\n");
        failed = 1;
        goto out;
    }
    vg_stats *st = vg_stats_create();
    for (size_t i = 0; st && i < cfg->noutputs; i++) {
        vg_output_conf *oc = &cfg->outputs[i];
        if (only && strcmp(only, oc->name))
            continue;
        tried++;
        oc->min_level_rank = 0; /* the test alert goes everywhere */
        const vg_transport_ops *tr = vg_transport_find(oc->type);
        vg_err r;
        if (tr) {
            void *self = NULL;
            vg_send_status status = VG_SEND_RETRY;
            vg_send_item item = {al.json.p, al.json.n, &al.keys};
            if (!(r = tr->create(oc, st, &self, &eb)))
                r = tr->send(self, &item, 1, &status, &eb);
            if (self)
                tr->destroy(self);
            if (!r && status != VG_SEND_OK)
                r = vg_errf(&eb, VG_EPARSE, "the collector refused the alert%s%s",
                            eb.msg[0] ? ": " : "", eb.msg[0] ? eb.msg : "");
        } else {
            const vg_output_ops *ops = vg_output_find(oc->type);
            void *self = NULL;
            r = ops ? ops->create(oc, st, &self, &eb)
                    : vg_errf(&eb, VG_ECONFIG, "unknown output type '%s'", oc->type);
            if (!r && ops && !(r = ops->write(self, &al))) /* ops: r is set when NULL */
                r = ops->flush(self, &eb);
            if (self)
                ops->destroy(self);
        }
        if (r) {
            failed++;
            printf("output %-16s %-8s FAILED: %s\n", oc->name, oc->type, eb.msg);
        } else {
            printf("output %-16s %-8s %s (event.id %s)\n", oc->name, oc->type,
                   tr ? "delivered" : "written", al.id);
        }
        (void)fflush(stdout); /* checked at exit (main.c) */
    }
    vg_stats_destroy(st);
    if (only && !tried) {
        fprintf(stderr, "vigie send-test-alert: no output named '%s'\n", only);
        failed = 1;
    }
out:
    vg_alert_free(&al);
    free(ev);
    vg_config_destroy(cfg);
    return failed ? 1 : 0;
}

/*
 * pipeline.h - what happens to a batch of events, and the agent's loop.
 *
 * Threads: the agent runs one pipeline thread (the caller of vg_pipeline_run):
 * it waits on the collectors' descriptors, a signalfd and its own timers with
 * poll(2), reads a batch, parses it, runs the detectors, hands alerts to the
 * outputs and commits positions. Nothing else runs while a batch is in
 * flight, so back-pressure is implicit: a slow detector or output simply
 * means the next read() happens later; no queue grows. The delivery issue's
 * network senders will be the only other threads, reading the spool.
 *
 * `vigie scan` uses the same parse/detect/emit stages without collectors.
 */
#ifndef VG_PIPELINE_H
#define VG_PIPELINE_H

#include "../collectors/collector.h"
#include "../collectors/parser.h"
#include "../detectors/ruleset.h"
#include "alert.h"
#include "config.h"
#include "output.h"
#include "stats.h"

typedef struct vg_pipeline vg_pipeline;
struct vg_msgfields;

/* The configuration's parser definitions (message field extractors), with
   the installed default replaced by the source tree's when vigie runs from
   a build directory. Problems in the files are logged and skipped. */
vg_err vg_pipeline_load_msgfields(const vg_config *cfg, struct vg_msgfields **out, vg_errbuf *eb);

/*
 * Takes ownership of cfg and rs (also on error). Outputs are created from
 * cfg->outputs. info is copied; its strings must outlive the pipeline.
 */
vg_err vg_pipeline_create(vg_config *cfg, vg_stats *st, const vg_agent_info *info,
                          vg_ruleset *rs, vg_pipeline **out, vg_errbuf *eb);
void vg_pipeline_destroy(vg_pipeline *p);

/* Parse events [from, b->n) with the input's parser and routing. A NULL
   parser leaves the events as the collector built them. pstate: the
   parser's state for this stream (parser->state_create), or NULL. */
void vg_pipeline_parse(vg_pipeline *p, vg_batch *b, size_t from, const vg_parser *parser,
                       const vg_logsource *ls, const vg_tz *tz, void *pstate);

/* Reference time for timestamps without a year (RFC 3164): 0 = the clock.
   `scan` sets it to each file's modification time, so an archive's lines
   get the year they were written in. */
void vg_pipeline_set_reference_time(vg_pipeline *p, int64_t ns);

/* Run the detectors over the batch and write the alerts to the outputs.
   Returns the number of alerts. */
size_t vg_pipeline_detect(vg_pipeline *p, vg_batch *b);

/* Stateful detection (detectors/stateful.h): close every open window now,
   raising what they owe (end of `vigie scan`); and let time pass while the
   inputs are idle (returns true when the state changed). */
void vg_pipeline_stateful_close(vg_pipeline *p);
bool vg_pipeline_tick(vg_pipeline *p);

/* Make all outputs durable (the acknowledgement before a commit). */
vg_err vg_pipeline_flush(vg_pipeline *p, vg_errbuf *eb);

/* The batch the pipeline owns (sized from the config's limits). */
vg_batch *vg_pipeline_batch(vg_pipeline *p);

/* An alert sink replacing the outputs (scan to stdout with its own format). */
typedef void (*vg_alert_fn)(void *ud, const vg_alert *a);
void vg_pipeline_set_alert_fn(vg_pipeline *p, vg_alert_fn fn, void *ud);

/*
 * The agent loop: run the configured inputs until SIGTERM/SIGINT.
 * Restores positions from the state directory, commits them every
 * commit_interval (after flushing the outputs) and at exit. SIGUSR1 prints
 * statistics. SIGHUP calls reload: it returns a new configuration and
 * ruleset (both owned by the pipeline from then on) or VG_ERR to keep
 * running the old ones (it has said why). On a new configuration the
 * pipeline commits, closes its inputs and outputs, and reopens them from the
 * new one: positions carry over by input name, nothing is lost.
 */
typedef vg_err (*vg_reload_fn)(void *ud, vg_config **cfg, vg_ruleset **rs);
vg_err vg_pipeline_run(vg_pipeline *p, vg_reload_fn reload, void *ud, vg_errbuf *eb);

#endif

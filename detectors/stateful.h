/*
 * stateful.h - the detectors' memory: correlation windows, alert
 * suppression, and the hooks of the other stateful engines (baselines,
 * first-seen values, log templates), with bounded tables and checkpoints.
 *
 * The immutable ruleset says what to look for; this engine, owned by the
 * pipeline, remembers what it has seen. Every (rule, event) match goes
 * through vg_stateful_feed() in event order. Time is the EVENT's time
 * (ev->ts_ns), never the wall clock, so `vigie scan` of an archive behaves
 * like the live agent. Per group, an event older than the open window by
 * more than the out-of-order tolerance is a clock jump: the window closes
 * and a new one opens at that event.
 *
 * What feed() does with a match of rule R:
 *   - R is referenced by correlations (by id or `name`): each one's group
 *     (group-by values, aliases applied) is updated and may raise a
 *     correlation alert, which is itself fed again (chains);
 *   - R alerts on its own unless every correlation naming it has
 *     `generate: false` (the default of the specification) - then only the
 *     correlations speak;
 *   - R (single-event or correlation) with suppression (x_vigie.suppress,
 *     always on for correlations): one alert per rule, group key and window
 *     with a running count, an update alert when the count crosses a power
 *     of `update_base`, and (correlations only) a final alert at the
 *     window's close when the count grew since the last one.
 * Alerts leave through the emit callback with vigie.* members as a JSON
 * fragment (vigie.count, vigie.group, vigie.window, vigie.samples).
 *
 * Bounds: every table (groups of a rule) is capped at max_groups; the
 * least-recently-updated group is evicted, counted per rule in
 * stateful.evictions{rule=...}. All groups together are capped at max_bytes:
 * past it the largest tables lose their least-recently-updated groups
 * (also counted in stateful.evictions_memory). Distinct counts (value_count) are exact up
 * to exact_distinct values, then HyperLogLog (2^hll_bits registers).
 *
 * Checkpoint: vg_stateful_save() writes the whole state as versioned JSON
 * into one of two slots (stateful.0.json / stateful.1.json, by the parity of
 * the commit sequence number) through vg_state_write (atomic). The pipeline
 * saves after flushing its outputs and before writing positions.json, which
 * records the sequence number: at start, vg_stateful_restore() loads the
 * slot of that number, so state and positions always match even after a
 * crash between the two writes. A corrupt or unknown-version checkpoint is
 * reported, moved aside, and replaced by a fresh state.
 *
 * Rule reloads: vg_stateful_bind() with the new ruleset keeps the state of
 * every rule whose id (and, for correlations, definition) is unchanged.
 *
 * ---- Hook for the other stateful engines (helper "base") ----
 * A Sigma rule's x_vigie mapping is kept as JSON in vg_rule_meta.x_vigie
 * (every key except `tests`), e.g. x_vigie: {baseline: {...}}. An engine
 * registers a vg_stateful_hook in the `hooks[]` table at the top of
 * stateful.c (one line): the engine calls
 *   bind(new ruleset)            on every (re)load, to pick its rules;
 *   feed(rule, ev)               for every match (return true to consume it:
 *                                no single-event alert for that match; the
 *                                checkpoint is then marked dirty);
 *   observe(batch)               for every batch, all events (template mining);
 *   tick(now_ns)                 periodically with the event-time watermark
 *                                (and the wall clock when idle);
 *   save() / restore(json)       inside the checkpoint, under hook->name.
 * Alerts go through the same emit callback (vg_stateful_alert).
 *
 * Thread: one pipeline thread; not thread-safe.
 */
#ifndef VG_STATEFUL_H
#define VG_STATEFUL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../agent/err.h"
#include "../agent/event.h"
#include "../agent/stats.h"
#include "rule.h"

struct vg_ruleset;
struct vg_config;

typedef struct vg_stateful vg_stateful;

typedef struct vg_stateful_opts {
    size_t max_groups;       /* per rule: groups (windows, suppression keys) kept */
    size_t max_bytes;        /* all tables' groups together (approximate accounting) */
    int64_t out_of_order_ns; /* tolerance for events older than their window */
    unsigned samples;        /* contributing events kept per group (vigie.samples) */
    size_t sample_bytes;     /* bytes of each sample line kept */
    unsigned update_base;    /* update alert at count base^k (0 = no updates) */
    bool final_alert;        /* correlations: alert at a window's close when the count grew */
    unsigned exact_distinct; /* value_count: exact up to this many values, then HLL */
    unsigned hll_bits;       /* HyperLogLog precision (registers = 2^bits) */
} vg_stateful_opts;

/* Defaults (documented in the configuration reference). */
void vg_stateful_opts_default(vg_stateful_opts *o);
/* From the configuration's `state` section. */
void vg_stateful_opts_from_config(vg_stateful_opts *o, const struct vg_config *cfg);

/* One alert produced by the engine. ev is the event that triggered it, or
   for an alert raised on a tick (a window closing) a synthetic event built
   from the group (its first sample line, the group-by values as fields).
   vigie_json: members to add inside the alert's "vigie" object, without
   braces (may be NULL); id_key: mixed into event.id so that each
   window/update has its own stable id (may be NULL). Valid during the call. */
typedef struct vg_stateful_alert {
    const vg_rule_meta *rule;
    const vg_event *ev;
    const char *vigie_json;
    const char *id_key;
    const char *summary; /* one line for text output: "count 279 (final) ip=..." or NULL */
} vg_stateful_alert;

typedef void (*vg_stateful_emit_fn)(void *ud, const vg_stateful_alert *a);

vg_err vg_stateful_create(const vg_stateful_opts *o, vg_stats *st, vg_stateful **out,
                          vg_errbuf *eb);
void vg_stateful_destroy(vg_stateful *s);

/* Use the correlations and settings of ruleset rs (which must outlive the
   binding, i.e. until the next bind or destroy). Keeps the state of rules
   still present (by id); drops the others. rs may be NULL (nothing bound). */
void vg_stateful_bind(vg_stateful *s, const struct vg_ruleset *rs);

/* A match of `rule` on ev (event time ev->ts_ns; 0 = the last time seen). */
void vg_stateful_feed(vg_stateful *s, const vg_rule_meta *rule, vg_event *ev,
                      vg_stateful_emit_fn emit, void *ud);

/* Every event of a batch, after matching (hooks that look at all events). */
void vg_stateful_observe(vg_stateful *s, vg_batch *b, vg_stateful_emit_fn emit, void *ud);

/* Close the windows that ended before now_ns (event-time domain; pass the
   wall clock when inputs are idle). Cheap when nothing is due. */
void vg_stateful_tick(vg_stateful *s, int64_t now_ns, vg_stateful_emit_fn emit, void *ud);

/* Close every open window now (end of `vigie scan`, end of a rule test). */
void vg_stateful_close_all(vg_stateful *s, vg_stateful_emit_fn emit, void *ud);

/* Memory accounted for all groups (bytes, approximate). */
size_t vg_stateful_bytes(const vg_stateful *s);

/* Was anything changed since the last save? */
bool vg_stateful_dirty(const vg_stateful *s);

/* Checkpoint into dir (slot seq % 2), atomically; see the top comment. */
vg_err vg_stateful_save(vg_stateful *s, const char *dir, uint64_t seq, vg_errbuf *eb);

/*
 * Restore the checkpoint of sequence number seq from dir. VG_ENOTFOUND when
 * there is none (a fresh state); any other error (corrupt, unknown version,
 * wrong sequence) leaves a fresh state, moves the file aside (NAME.corrupt)
 * and returns the reason in eb: the caller logs it and goes on.
 */
vg_err vg_stateful_restore(vg_stateful *s, const char *dir, uint64_t seq, vg_errbuf *eb);

/* The same into/from memory (tests, `rules test`). */
json_t *vg_stateful_to_json(vg_stateful *s);
vg_err vg_stateful_from_json(vg_stateful *s, const json_t *j, vg_errbuf *eb);

/* Hooks of other stateful engines; see the top comment. */
typedef struct vg_stateful_hook {
    const char *name;
    void *(*create)(const vg_stateful_opts *o, vg_stats *st);
    void (*bind)(void *self, const struct vg_ruleset *rs);
    bool (*feed)(void *self, const vg_rule_meta *rule, vg_event *ev, vg_stateful_emit_fn emit,
                 void *ud);
    void (*observe)(void *self, vg_batch *b, vg_stateful_emit_fn emit, void *ud);
    void (*tick)(void *self, int64_t now_ns, vg_stateful_emit_fn emit, void *ud);
    json_t *(*save)(void *self);
    vg_err (*restore)(void *self, const json_t *j, vg_errbuf *eb);
    void (*destroy)(void *self);
    /* End of input (vg_stateful_close_all, after tick): close what is open,
       e.g. sessions that would otherwise wait for their idle gap. May be NULL. */
    void (*close_all)(void *self, vg_stateful_emit_fn emit, void *ud);
} vg_stateful_hook;

#endif

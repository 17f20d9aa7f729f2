/*
 * baseline_rules.h - baseline rules: a Sigma rule whose matches feed a
 * baseline instead of alerting one by one.
 *
 *   detection: ...            # selects the events the baseline watches
 *   x_vigie:
 *     baseline:
 *       type: rate            # rate | first_seen | new_template | rare_sequence
 *       group-by: [host]      # rate: one baseline per value tuple
 *                             # first_seen: the value tuple that must be new
 *                             # new_template: one template miner per tuple
 *                             #   (default [program])
 *                             # rare_sequence: the session key (e.g. [block])
 *       # rate
 *       bucket: 1m            # bucket width (>= 1s)
 *       k: 4                  # alert beyond k standard deviations
 *       warmup: 1h            # history per slot before alerting
 *       alert: [spike, silence]
 *       seasonal: false       # hour-of-week slots
 *       min_expected: 10      # silence only when at least this many are expected
 *       # first_seen / new_template
 *       learn: 1d             # learning period from the first event
 *       history: 30d          # first_seen: a value unseen this long is new again
 *       max_groups: 10000     # cap of the rule's table (groups, values, miners)
 *       max_templates: 5000   # new_template: per miner
 *       # rare_sequence: the messages of a session become template ids (one
 *       # miner per rule); a session ends after `gap` without an event; the
 *       # sessions that end during `learn` teach which 1..n-grams of template
 *       # ids are usual; afterwards a session holding a gram seen fewer than
 *       # min_count times alerts (see vg_seqdet in baseline.h)
 *       gap: 5m
 *       n: 3
 *       min_count: 2
 *       max_alerts: 100       # per hour of event time; more are counted
 *                             # (baseline.held) and the next alert says
 *                             # how many (vigie.baseline.held_before)
 *
 * The rule never alerts on a single match: its alerts are a spike or a
 * silence (expected and observed counts), a new value (the tuple), a new
 * template (the template and the line). Silence is found by the stateful
 * engine's tick, in event time.
 */
#ifndef VG_BASELINE_RULES_H
#define VG_BASELINE_RULES_H

#include <jansson.h>
#include <stdbool.h>

#include "agent/err.h"
#include "detectors/baseline.h"
#include "detectors/stateful.h"

typedef enum vg_baseline_type {
    VG_BASELINE_RATE = 1,
    VG_BASELINE_FIRST_SEEN,
    VG_BASELINE_NEW_TEMPLATE,
    VG_BASELINE_RARE_SEQUENCE,
} vg_baseline_type;

#define VG_BASELINE_MAX_FIELDS 8

typedef struct vg_baseline_spec {
    vg_baseline_type type;
    char *fields[VG_BASELINE_MAX_FIELDS]; /* group-by, owned */
    size_t nfields;
    bool spike, silence;
    vg_rate_opts rate;
    vg_seen_opts seen;
    int64_t learn_ns;     /* new_template */
    size_t max_groups;    /* new_template: miners */
    size_t max_templates; /* new_template: per miner */
    uint32_t max_alerts;  /* per hour of event time; the rest held back and counted */
    vg_seqdet_opts seq;   /* rare_sequence */
    vg_sessions_opts sess;
    uint64_t sig; /* a hash of the whole spec: state is kept across reloads when equal */
} vg_baseline_spec;

/*
 * Parse x_vigie.baseline (absent: *has = false, VG_OK). Errors name the key
 * ("x_vigie.baseline.bucket: ..."). On success the caller frees with
 * vg_baseline_spec_free. For `vigie rules check` and the hook's bind.
 */
vg_err vg_baseline_spec_parse(const json_t *x_vigie, bool *has, vg_baseline_spec *out,
                              vg_errbuf *eb);
void vg_baseline_spec_free(vg_baseline_spec *s);

/* The hook for detectors/stateful.c's hooks[] table (name "baseline"). */
extern const vg_stateful_hook vg_baseline_hook;

#endif

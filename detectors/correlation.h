/*
 * correlation.h - Sigma correlation rules (specification v2.1), compiled.
 *
 * A correlation is a YAML document with a `correlation:` section, in a file
 * of its own or next to the base rules it names (multi-document files mix
 * both). Supported: types event_count, value_count, temporal,
 * temporal_ordered; `rules` by id or `name` (base rules or other
 * correlations: chains); `group-by`; `timespan` (Ns, Nm, Nh, Nd); condition
 * gt/gte/lt/lte/eq/neq (AND-ed) with `field` for value_count; `aliases`;
 * `generate`. The v2.1 metric types value_sum, value_avg, value_percentile
 * are rejected as unsupported (named in the message).
 *
 * Vigie's choices where the specification leaves room:
 *   - windows are per group, opened by the group's first event and
 *     half-open: [first, first + timespan) (an event exactly `timespan`
 *     after the first opens the next window); temporal types look at the
 *     last time each rule was seen within timespan;
 *   - conditions with only lower bounds (gt, gte) fire as soon as they
 *     hold; a condition with an upper bound (lt, lte, eq, neq) is judged
 *     when the window closes;
 *   - temporal/temporal_ordered without a condition need all their rules;
 *     with one, the condition counts the distinct rules seen;
 *   - a chained correlation counts the moments its inner correlations fire
 *     (not their update alerts).
 *
 * Compiled rules are immutable once resolved; their state lives in
 * stateful.c.
 */
#ifndef VG_CORRELATION_H
#define VG_CORRELATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../agent/err.h"
#include "rule.h"

struct yaml_document_s;
struct yaml_node_s;

typedef enum vg_corr_type {
    VG_CORR_EVENT_COUNT,
    VG_CORR_VALUE_COUNT,
    VG_CORR_TEMPORAL,
    VG_CORR_TEMPORAL_ORDERED,
} vg_corr_type;

typedef enum vg_corr_op {
    VG_CORR_GT,
    VG_CORR_GTE,
    VG_CORR_LT,
    VG_CORR_LTE,
    VG_CORR_EQ,
    VG_CORR_NEQ
} vg_corr_op;

typedef struct vg_corr_cond {
    vg_corr_op op;
    int64_t value;
} vg_corr_cond;

/* One alias: for events of rule `rule[i]` (a name or id), the group-by name
   `alias` reads field `field[i]`. */
typedef struct vg_corr_alias {
    char *alias;
    char **rule, **field;
    size_t n;
} vg_corr_alias;

/* A timestamped test line: at_ns (0 = the line's own timestamp) or
   after_ns after the previous line; repeated `repeat` times. */
typedef struct vg_corr_test_line {
    char *line;
    int64_t at_ns, after_ns;
    unsigned repeat;
} vg_corr_test_line;

/* One x_vigie.tests case of a correlation (a simulated clock). */
typedef struct vg_corr_test {
    vg_corr_test_line *lines;
    size_t nlines;
    char *format;    /* NULL = syslog */
    char *logsource; /* NULL = the first base rule's */
    int64_t alerts;  /* expected alerts of this rule, -1 = not checked */
    int64_t count;   /* expected vigie.count of the last one, -1 = not checked */
    vg_kv *group;    /* expected vigie.group of the last one */
    size_t ngroup;
    int line_no;
} vg_corr_test;

/* A test case written as JSON (a single-event rule's `lines:` case, kept by
   sigma.c as vg_sigma_test.sequence) -> t; free with vg_corr_test_free. */
vg_err vg_corr_test_from_json(const json_t *j, vg_corr_test *t, vg_errbuf *eb);
void vg_corr_test_free(vg_corr_test *t);

typedef struct vg_corr_rule {
    vg_rule_meta meta; /* meta.is_correlation is true */
    vg_corr_type type;
    vg_strlist rules; /* as written: ids or names */
    vg_strlist group_by;
    int64_t timespan_ns;
    vg_corr_cond cond[6];
    size_t ncond;       /* 0: temporal types, all rules */
    bool cond_at_close; /* an upper bound: judged when the window closes */
    char *field;        /* value_count: the first field... */
    vg_strlist fields;  /* ...and all of them (a list counts distinct tuples) */
    vg_corr_alias *aliases;
    size_t naliases;
    bool generate; /* the referenced rules also alert on their own */
    vg_corr_test *tests;
    size_t ntests;
    /* Set by vg_corr_resolve: */
    const vg_rule_meta **refs; /* per rules[i] */
    const char **gfield;       /* [i * group_by.n + g]: field of group-by g in events of refs[i] */
    const char **vfield;       /* [i * fields.n + f]: value_count field f in events of refs[i] */
} vg_corr_rule;

/*
 * Compile one correlation document (called through vg_sigma_opts
 * on_correlation). Errors go to diag with file:line:col; returns the rule or
 * NULL (rejected).
 */
vg_corr_rule *vg_corr_compile(struct yaml_document_s *doc, struct yaml_node_s *root,
                              const char *origin, vg_diag_fn diag, void *ud);
void vg_corr_destroy(vg_corr_rule *c);

/*
 * Resolve the `rules` of every correlation against the base rules (metas,
 * nbase of them) and the correlations themselves (by id or name). A
 * correlation naming an unknown rule, or part of a cycle, is rejected (diag)
 * and set to NULL in corrs[]; the caller compacts the array.
 */
void vg_corr_resolve(vg_corr_rule **corrs, size_t ncorr, vg_rule_meta *const *base, size_t nbase,
                     vg_diag_fn diag, void *ud);

/* Does count satisfy the condition (the temporal default: all rules)? */
bool vg_corr_holds(const vg_corr_rule *c, uint64_t count);

const char *vg_corr_type_name(vg_corr_type t);

/* "10s", "5m", "1h", "2d" -> ns. VG_EPARSE on anything else. */
vg_err vg_corr_duration(const char *s, int64_t *ns);

/* x_vigie.suppress of a single-event rule:
     suppress: {by: [ip], window: 10m}   (or `suppress: 10m`: the rule as one group). */
typedef struct vg_suppress {
    vg_strlist by;
    int64_t window_ns;
} vg_suppress;

/* Parse meta->x_vigie's `suppress` (absent: *has = false, VG_OK). */
vg_err vg_suppress_parse(const json_t *x_vigie, bool *has, vg_suppress *out, vg_errbuf *eb);
void vg_suppress_free(vg_suppress *s);

#endif

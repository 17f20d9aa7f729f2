/*
 * sigma.h - Sigma rules: compilation of one rule (YAML document) into an
 * immutable matcher, and its evaluation on an event.
 *
 * Supported (specification v2): title, id, status, level, tags, logsource,
 * description, author, references, falsepositives, date, modified; detection
 * with named selections (maps AND-ed, lists of maps OR-ed, value lists OR-ed),
 * keyword lists (matched against the whole record, ev->raw), null values,
 * modifiers contains, startswith, endswith, all, re (PCRE2 + JIT, named
 * captures become event fields on a match), wildcards * and ? with the
 * specification's escaping, case-insensitive plain values; the full condition
 * grammar (and, or, not, parentheses, `1 of sel*`, `all of sel*`, `1 of them`,
 * `all of them`, `_`-prefixed selections excluded from `them`). A construct
 * outside this set rejects the rule with VG_EUNSUPPORTED naming it and its
 * position; the other rules still load.
 *
 * `name` (the specification's per-file unique name, by which correlations
 * refer to rules) is kept in meta.name.
 *
 * Vigie's extension, the custom top-level key `x_vigie` (keys other than
 * `tests` - suppress, baseline... - are kept as JSON in meta.x_vigie for the
 * stateful engines, detectors/stateful.h):
 *   x_vigie:
 *     tests:
 *       - line: "Dec 10 06:55:46 host sshd[1]: Failed password for root ..."
 *         format: syslog            # parser, default "syslog"
 *         logsource: linux/sshd     # product/service or category, default: the rule's
 *         match: true
 *         fields: {user: root}      # fields the matched event must carry (optional)
 *
 * Thread-safety: a compiled rule is immutable and may be evaluated from any
 * number of threads, each with its own vg_sigma_scratch.
 */
#ifndef VG_SIGMA_H
#define VG_SIGMA_H

#include <stdbool.h>
#include <stdint.h>

#include "../agent/config.h"
#include "../agent/err.h"
#include "../agent/event.h"
#include "rule.h"

typedef struct vg_sigma_rule vg_sigma_rule;
struct yaml_document_s;
struct yaml_node_s;

typedef struct vg_sigma_opts {
    uint32_t regex_match_limit; /* PCRE2 match limit (0 = PCRE2 default) */
    uint32_t regex_depth_limit; /* PCRE2 depth limit (0 = PCRE2 default) */
    /* Field mappings (config rules.field_mappings): a rule's field `key` is
       looked up as `key` and as each of `values` (the first that holds). */
    const vg_kv *field_map;
    size_t nfield_map;
    /* Placeholders (config rules.placeholders): `field|expand: '%name%'`
       becomes the list of values of `name`; an undefined one rejects the rule. */
    const vg_kv *placeholders;
    size_t nplaceholders;
    /* Correlation documents (a top-level `correlation` key): when set, each
       is handed to this callback (the libyaml document and its root node,
       valid during the call; diag/diag_ud report its errors) instead of
       being rejected as unsupported. See detectors/correlation.h. */
    void (*on_correlation)(void *corr_ud, struct yaml_document_s *doc, struct yaml_node_s *root,
                           const char *origin, vg_diag_fn diag, void *diag_ud);
    void *corr_ud;
} vg_sigma_opts;

/* One test case from x_vigie.tests. Strings owned by the rule. */
typedef struct vg_sigma_test {
    char *line;
    char *format;          /* NULL = "syslog" */
    char *logsource;       /* NULL = the rule's own */
    bool match;
    vg_kv *fields;         /* expected fields (values[0] only) */
    size_t nfields;
    int line_no;           /* where the case is written */
    /* A timestamped sequence instead (`lines:`, for suppression): the case
       as JSON, run by `vigie rules test` (correlation.h vg_corr_test_from_json). */
    struct json_t *sequence;
} vg_sigma_test;

/*
 * Compile every YAML document of the file at `path` (SigmaHQ files hold one
 * rule; `---`-separated documents are each a rule). For each rule compiled,
 * `on_rule(ud, rule)` is called and takes ownership; for each rejected one,
 * `on_diag` is called with file:line:col and the reason. Warnings (e.g. a
 * deprecated form) go to on_diag with is_warning set. Returns VG_OK unless the
 * file itself cannot be read or is not YAML at all (then also reported via
 * on_diag).
 */
typedef void (*vg_sigma_rule_fn)(void *ud, vg_sigma_rule *rule);
vg_err vg_sigma_load_file(const char *path, const vg_sigma_opts *opts, vg_sigma_rule_fn on_rule,
                          vg_diag_fn on_diag, void *ud);

/* The same from memory (unit tests); origin names the text in messages. */
vg_err vg_sigma_load_buffer(const char *yaml, size_t n, const char *origin,
                            const vg_sigma_opts *opts, vg_sigma_rule_fn on_rule,
                            vg_diag_fn on_diag, void *ud);

void vg_sigma_rule_destroy(vg_sigma_rule *r);

/* Metadata (alert fields, routing); owned by the rule, and mutable by the
   ruleset only while it is being built (level overrides, counters). */
vg_rule_meta *vg_sigma_meta(vg_sigma_rule *r);

/* Every field name the rule's selections read (keywords excluded), with
   the names a field mapping adds as `alts` (n_alts of them). */
typedef void (*vg_sigma_field_fn)(void *ud, const char *field, const char *const *alts,
                                  size_t n_alts);
void vg_sigma_fields(const vg_sigma_rule *r, vg_sigma_field_fn fn, void *ud);

/* Test cases written in the rule. */
const vg_sigma_test *vg_sigma_tests(const vg_sigma_rule *r, size_t *n);

/*
 * Add an exception (config override): the rule no longer matches an event
 * for which the selection `ex` matches. Errors name the key.
 */
vg_err vg_sigma_add_exception(vg_sigma_rule *r, const vg_exception *ex, vg_errbuf *eb);

/*
 * Sigma filter documents (`filter:` with `rules:`, `selection`s and a
 * `condition`) load as rules marked as filters; attached to a rule, an event
 * for which the filter's condition holds no longer matches the rule. The
 * filter must outlive the rules it is attached to.
 */
bool vg_sigma_is_filter(const vg_sigma_rule *r);
const vg_strlist *vg_sigma_filter_targets(const vg_sigma_rule *r);
vg_err vg_sigma_attach_filter(vg_sigma_rule *r, const vg_sigma_rule *filter);

/*
 * Per-thread scratch space for evaluation (PCRE2 match data, lowercase
 * copies of field values cached per event). Reset per event with
 * vg_sigma_scratch_next_event().
 */
typedef struct vg_sigma_scratch vg_sigma_scratch;
vg_sigma_scratch *vg_sigma_scratch_create(void);
void vg_sigma_scratch_destroy(vg_sigma_scratch *s);
void vg_sigma_scratch_next_event(vg_sigma_scratch *s);

/*
 * Evaluate the rule on ev (the caller has checked the logsource). On a
 * match, named regex captures of the matching selections are added to ev
 * (values copied into `arena`). A regex hitting its match/depth limit counts
 * as no match for that value and bumps meta->limit_hits.
 */
bool vg_sigma_match(const vg_sigma_rule *r, vg_event *ev, vg_sigma_scratch *s, vg_arena *arena);

/*
 * The rule's required literals, for the prefilter: a set of byte strings such
 * that whenever the rule matches an event whose field values are all
 * substrings of ev->raw, at least one of them occurs in ev->raw (compared
 * ASCII case-insensitively). Calls fn for each literal (lowercase them before
 * use; pointers are valid while the rule lives) and returns true; returns
 * false when no such set can be derived (the rule must always be
 * evaluated: a `not` at the top, a regex-only selection, literals shorter
 * than `min_len`...).
 */
typedef void (*vg_sigma_literal_fn)(void *ud, const char *lit, size_t n);
bool vg_sigma_required_literals(const vg_sigma_rule *r, size_t min_len, vg_sigma_literal_fn fn,
                                void *ud);

/*
 * Explain an evaluation: calls fn for each selection with its name and
 * whether it matched, then for the condition as a whole ("condition").
 */
typedef void (*vg_sigma_explain_fn)(void *ud, const char *selection, bool matched);
bool vg_sigma_explain(const vg_sigma_rule *r, vg_event *ev, vg_sigma_scratch *s, vg_arena *arena,
                      vg_sigma_explain_fn fn, void *ud);

#endif

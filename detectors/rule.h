/*
 * rule.h - what every detection rule has, whatever its language: the
 * metadata an alert carries (`rule.*` in the alert) and its routing.
 *
 * Owned by the rule (and so by the ruleset); immutable after compilation.
 */
#ifndef VG_RULE_H
#define VG_RULE_H

#include "../agent/config.h"
#include "../agent/event.h"
#include "../agent/stats.h"

typedef struct vg_rule_meta {
    char *id;          /* Sigma id (UUID) or the YARA rule's namespace:name */
    char *title;
    char *description;
    char *level;       /* informational, low, medium, high, critical */
    int level_rank;    /* 0..4 (vg_level_rank) */
    char *status;      /* stable, test, experimental, ... */
    char *author;
    vg_strlist tags;   /* "attack.t1110", "attack.credential_access", ... */
    vg_strlist references;
    vg_strlist falsepositives;
    const char *ruleset;  /* "sigma", "yara" */
    char *ruleset_version; /* e.g. the rule's `modified` or `date` */
    vg_logsource logsource; /* product/category/service the rule reads */
    char *file;        /* where the rule was loaded from */
    int line;          /* line of the rule's first key */

    /* Stateful detection (detectors/stateful.h); all optional. */
    char *name;        /* Sigma `name`: correlations may refer to the rule by it */
    struct json_t *x_vigie; /* x_vigie keys other than `tests` (suppress, baseline...), owned */
    bool is_correlation; /* a Sigma correlation rule (detectors/correlation.h) */

    /* Per-rule statistics, registered when the ruleset is built. */
    vg_counter *alerts;
    vg_counter *evals;
    vg_counter *eval_ns;
    vg_counter *limit_hits; /* regex match/depth limit reached */
} vg_rule_meta;

/* Free what m owns (strings, lists, logsource strings, x_vigie); the
   counters belong to the statistics registry. Every rule language's
   destructor calls it. */
void vg_rule_meta_free(vg_rule_meta *m);

/* A diagnostic from loading rules: error (rule rejected) or warning. */
typedef struct vg_diag {
    const char *file;
    int line, col;     /* 0 = unknown */
    int is_warning;
    vg_err code;
    const char *msg;   /* without the file:line:col prefix */
} vg_diag;

typedef void (*vg_diag_fn)(void *ud, const vg_diag *d);

/* Does a rule's logsource accept an event? Every field the rule sets must be
   equal (service against the input's service or the program's service). */
bool vg_logsource_accepts(const vg_logsource *rule, const vg_event *ev);

/*
 * A log source written on a command line: "linux/auth" -> product and
 * service, "linux" (or windows, macos) -> product, anything else ->
 * category ("webserver", "proxy"). The strings point into buf (n bytes),
 * which the caller keeps alive as long as ls.
 */
void vg_logsource_parse(const char *arg, char *buf, size_t n, vg_logsource *ls);

#endif

/*
 * config.h - the agent's configuration: option declarations and the loaded
 * configuration.
 *
 * Each option is declared once in a vg_option table (config.c): its name,
 * type, default, limits and help. That one declaration drives the YAML
 * loader, the validation, the error messages (file:line:col) and the
 * configuration reference printed by `vigie config reference` (and copied
 * into the README). Inputs and outputs are lists of sections whose options
 * may be restricted to a type (`only`), e.g. `paths` exists for file inputs.
 *
 * Lifetime: vg_config_load returns a heap object freed by vg_config_destroy;
 * every string in it is owned by it. Read-only after load, so it can be
 * shared by threads.
 */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "event.h"
#include "tz.h"

struct vg_parser;

typedef enum vg_start_at { VG_START_END = 0, VG_START_BEGINNING } vg_start_at;
typedef enum vg_watch_mode { VG_WATCH_AUTO = 0, VG_WATCH_INOTIFY, VG_WATCH_POLL } vg_watch_mode;

typedef struct vg_strlist {
    char **v;
    size_t n;
} vg_strlist;

/* One configured input (`inputs:` list entry). */
typedef struct vg_input_conf {
    char *name;             /* unique; defaults to "<type><index>" */
    char *type;             /* "file", "journald" */
    vg_logsource logsource; /* routing to rules */
    char *format;           /* parser name: "syslog", "json", "raw", "access" */
    const struct vg_parser *parser;
    char *timezone;         /* for timestamps without zone */
    vg_tz *tz;
    bool forward_events;    /* raw events to outputs (delivery issue) */
    bool skip_if_journal;   /* not opened on hosts with a systemd journal */

    /* file */
    vg_strlist paths;       /* globs */
    vg_strlist exclude;     /* globs matched against the full path */
    vg_start_at start_at;   /* for files present at the very first run */
    vg_watch_mode watch;
    int64_t poll_interval_ms;
    int64_t idle_flush_ms;  /* a final line without newline is emitted after this idle time */
    int64_t max_line;       /* bytes; longer lines are truncated and flagged */
    int64_t read_buffer;    /* bytes per read() */
    int64_t rotate_wait_ms; /* a rotated/deleted file stays open this long after its last
                               byte, for writers that have not reopened yet (0 = 5000) */

    /* journald */
    vg_strlist units;       /* _SYSTEMD_UNIT filter, empty = all */
    vg_strlist identifiers; /* SYSLOG_IDENTIFIER filter, empty = all */
    vg_strlist exclude_identifiers; /* skipped identifiers (e.g. those another input reads) */
    char *journal_directory;/* open this directory instead of the system journal (tests) */
    vg_strlist journal_files; /* open these files instead of the system journal (tests) */
} vg_input_conf;

typedef enum vg_output_format { VG_OUTFMT_AUTO = 0, VG_OUTFMT_JSON, VG_OUTFMT_TEXT } vg_output_format;

/* One configured output (`outputs:` list entry). */
typedef struct vg_output_conf {
    char *name;
    char *type;   /* "stdout", "file" */
    vg_output_format format;
    bool color;   /* stdout text: colour when on a terminal */
    char *path;   /* file */
    char *min_level; /* "informational".."critical" */
    int min_level_rank;
} vg_output_conf;

/* One item of an exception: a Sigma selection key ("field|mod|mod") and its
   values (OR-ed, as in Sigma). */
typedef struct vg_kv {
    char *key;
    vg_strlist values;
} vg_kv;

/* An exception: a Sigma selection (items AND-ed). */
typedef struct vg_exception {
    vg_kv *items;
    size_t n;
} vg_exception;

/* Per-rule override (`rules.overrides:`), kept in the local config so it
   survives upgrades of the shipped rules. */
typedef struct vg_rule_override {
    char *id;       /* rule id or title it applies to */
    int enabled;    /* -1 = unchanged, 0 = disabled, 1 = enabled */
    char *level;    /* NULL = unchanged */
    vg_exception *exceptions; /* the rule does not fire when one matches */
    size_t nexceptions;
    char *file;     /* where it was declared, for error messages */
    int line, col;
    bool used;      /* set by the ruleset when a rule matched this override */
} vg_rule_override;

typedef struct vg_config {
    char *path;          /* main file */
    /* agent: */
    char *hostname;      /* default: gethostname() */
    char *state_dir;
    int64_t commit_interval_ms;
    int64_t stats_interval_ms; /* 0 = only on SIGUSR1 and exit */
    int log_level;       /* 0 error .. 4 debug */
    /* limits: */
    int64_t batch_events;
    int64_t batch_arena;
    int64_t regex_match_limit;
    int64_t regex_depth_limit;
    int64_t max_alert_message; /* bytes of the original line kept in an alert */
    /* parsers: */
    vg_strlist parser_definitions; /* YAML files of message field extractors */
    /* rules: */
    vg_strlist rule_paths;
    vg_rule_override *overrides;
    size_t noverrides;
    vg_kv *field_map;    /* rules.field_mappings: rule field -> event fields */
    size_t nfield_map;
    vg_kv *placeholders; /* rules.placeholders: name -> values (Sigma `expand`) */
    size_t nplaceholders;
    /* inputs / outputs: */
    vg_input_conf *inputs;
    size_t ninputs;
    vg_output_conf *outputs;
    size_t noutputs;
} vg_config;

/*
 * Load `path` and then every *.yml / *.yaml of `<dir of path>/conf.d/` in
 * name order. Scalars of later files override earlier ones; lists (inputs,
 * outputs, rules.paths, rules.overrides) are appended. On error, *out is NULL
 * and eb says "file:line:col: what was expected". Missing paths of inputs are
 * not errors (they may appear later).
 */
vg_err vg_config_load(const char *path, vg_config **out, vg_errbuf *eb);

/* A configuration with defaults only (used by `scan` and tests). */
vg_err vg_config_defaults(vg_config **out, vg_errbuf *eb);

void vg_config_destroy(vg_config *c);

/* Print the configuration reference (Markdown) from the option tables. */
void vg_config_reference(FILE *out);

/* Sigma level name -> rank 0 (informational) .. 4 (critical); -1 unknown. */
int vg_level_rank(const char *level);

#endif

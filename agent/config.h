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
#include <stdlib.h>

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

/* Free the strings and the array; l is left empty (freeing it again is fine).
   Inline: the rule compilers use it without linking the configuration. */
static inline void vg_strlist_free(vg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* One item of an exception: a Sigma selection key ("field|mod|mod") and its
   values (OR-ed, as in Sigma). */
typedef struct vg_kv {
    char *key;
    vg_strlist values;
} vg_kv;

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

    /* syslog (listener) */
    char *listen_udp;          /* "host:port" */
    char *listen_tcp;
    char *listen_tls;          /* RFC 5425 */
    char *listen_unix;         /* unix datagram socket path */
    int64_t socket_mode;       /* permissions of the unix socket file (octal 0666) */
    char *tls_cert_file, *tls_key_file, *tls_ca_file;
    bool tls_client_auth;
    int64_t queue_messages;
    int64_t queue_bytes;
    int64_t rate;              /* messages/s per sender, 0 = unlimited */
    int64_t burst;
    int64_t max_senders;
    int64_t max_connections;
    int64_t idle_timeout_ms;
} vg_input_conf;

typedef enum vg_output_format { VG_OUTFMT_AUTO = 0, VG_OUTFMT_JSON, VG_OUTFMT_TEXT } vg_output_format;

/* One configured output (`outputs:` list entry). */
typedef struct vg_output_conf {
    char *name;
    char *type;   /* "stdout", "file", "http", "syslog", "relp" */
    vg_output_format format;
    bool color;   /* stdout text: colour when on a terminal */
    char *path;   /* file */
    int64_t rotate_size; /* file: rotate past this size (0 = never) */
    int64_t rotate_keep; /* file: rotated files kept */
    char *min_level; /* "informational".."critical" */
    int min_level_rank;

    /* Spooled (network) outputs: http, syslog, relp. */
    bool events;            /* also receive raw events of inputs with forward_events */
    int64_t batch_max_events;
    int64_t batch_max_bytes;
    int64_t batch_delay_ms; /* wait at most this long to fill a batch */
    int64_t parallel;       /* http: requests in flight, each on its own connection */
    int64_t timeout_ms;     /* one exchange (connect + send + answer) */
    int64_t retry_min_ms, retry_max_ms; /* exponential back-off bounds (with jitter) */
    char *ca_file;          /* CA bundle verifying the server (default: the system's) */
    char *cert_file, *key_file; /* client certificate (mutual TLS) */
    bool insecure_skip_verify;  /* logs a warning at every start */
    /* http */
    char *preset;           /* clickhouse, elasticsearch, splunk_hec, loki, webhook */
    char *url;
    char *table;            /* clickhouse */
    char *index;            /* elasticsearch */
    char *token_file;       /* bearer (or Splunk) token, first line of the file */
    char *user;             /* basic auth user (clickhouse) */
    char *password_file;    /* basic auth password, first line */
    vg_kv *headers;         /* extra headers: name -> value */
    size_t nheaders;
    char *proxy;            /* http://host:port; systemd does not pass https_proxy */
    bool compress;          /* gzip request bodies */
    /* syslog */
    char *address;          /* host:port */
    bool tls;               /* RFC 5425 */
    char *server_name;      /* name checked in the server certificate (default: address host) */
    char *app_name;         /* RFC 5424 APP-NAME (default "vigie") */
    /* relp (also address, tls, server_name, app_name) */
    char *fingerprint;      /* server certificate fingerprint, instead of its name */
} vg_output_conf;

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
    char *user;          /* run: drop to this user when started as root */
    char *group;         /* default: the user's primary group */
    vg_strlist capabilities; /* kept after the drop, e.g. cap_dac_read_search */
    char *metrics_listen;    /* Prometheus HTTP listener host:port (NULL = off) */
    bool sandbox;            /* run: seccomp filter + Landlock (agent/sandbox.h) */
    /* limits: */
    int64_t batch_events;
    int64_t batch_arena;
    int64_t regex_match_limit;
    int64_t regex_depth_limit;
    int64_t max_alert_message; /* bytes of the original line kept in an alert */
    /* state (stateful detection, detectors/stateful.h): */
    int64_t state_max_groups;     /* per rule: windows / suppression keys kept */
    int64_t state_max_memory;     /* bytes of all stateful groups */
    int64_t state_out_of_order_ms;
    int64_t state_samples;        /* contributing lines kept per alert (vigie.samples) */
    int64_t state_sample_bytes;
    int64_t state_update_base;    /* update alert at count base^k; 0 = none */
    bool state_final_alert;
    int64_t state_exact_distinct; /* value_count exact up to this, then HyperLogLog */
    int64_t state_hll_bits;
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
    /* spool (delivery): */
    int spool_fsync;          /* 0 = every batch, 1 = every spool_fsync_interval */
    int64_t spool_fsync_interval_ms;
    int64_t spool_segment_size;
    int64_t spool_alerts_max;  /* bytes on disk */
    int spool_alerts_policy;   /* 0 = block, 1 = drop_oldest */
    int64_t spool_events_max;
    int spool_events_policy;
    int64_t spool_min_free_disk;
    int64_t heartbeat_interval_ms; /* agent-state records to every spooled output (0 = off) */
    /* redaction (before anything leaves the host): */
    bool redact;               /* apply to the message of alerts and events */
    bool redact_nir, redact_email, redact_iban;
    vg_strlist redact_patterns; /* extra PCRE2 patterns */
    int redact_method;         /* 0 = hash (keyed, same value -> same token), 1 = mask */
    char *redact_key_file;     /* key of the hash (default: generated in the state directory) */
    bool redact_rule_fields;   /* also the rule's matched fields (off by default) */
    /* yara: */
    int64_t yara_timeout_ms;   /* per scan (libyara counts whole seconds, at least 1) */
    int64_t yara_file_max_size; /* files larger than this are not scanned (counted) */
    int64_t yara_file_rate;    /* file scans per minute; more are dropped (counted) */
    bool yara_cache;           /* compiled rules cached in the state directory */
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

/* The same reference as a complete vigie.yml(5) manual page (roff). */
void vg_config_reference_man(FILE *out);

/* A duration like the configuration's ("500ms", "30s", "5m", "1h", "2d")
   in milliseconds; 0 on success, -1 when malformed. */
int vg_parse_duration_ms(const char *s, int64_t *ms);

/* Sigma level name -> rank 0 (informational) .. 4 (critical); -1 unknown. */
int vg_level_rank(const char *level);

#endif

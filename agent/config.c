/*
 * config.c - option declarations and the YAML configuration loader.
 *
 * The tables below are the single declaration of every option: the loader
 * walks a libyaml document against them, the defaults are strings parsed by
 * the same code as the user's values, and vg_config_reference() prints them.
 * Files are applied in order onto one vg_config: the main file, then
 * conf.d/NAME.yml. A scalar set twice keeps the last value; a list (inputs,
 * outputs, rules.paths, rules.overrides) is appended to.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "../collectors/parser.h"

typedef enum opt_type {
    OPT_BOOL,
    OPT_TRIBOOL, /* int: -1 unset, 0, 1 */
    OPT_INT,
    OPT_SIZE,     /* bytes: 64KiB, 4MiB, 512 */
    OPT_DURATION, /* ms: 200ms, 5s, 1m, 1h */
    OPT_STR,
    OPT_ENUM,     /* stored as an int index into enums */
    OPT_ENUMSTR,  /* stored as a string, checked against enums */
    OPT_STRLIST,
    OPT_SECTION,  /* nested map, same struct */
    OPT_LIST,     /* sequence of maps, each an item struct */
    OPT_EXCEPTIONS,
    OPT_STRMAP, /* map of name -> string or list of strings, into vg_kv[] at off, count at count_off */
} opt_type;

typedef struct vg_option vg_option;
struct vg_option {
    const char *name;
    opt_type type;
    size_t off;
    const char *def; /* default, parsed like a user value; NULL = none */
    int64_t min, max;
    const char *const *enums;
    const vg_option *sub; /* SECTION / LIST */
    size_t item_size;     /* LIST */
    size_t count_off;     /* LIST: offset of the size_t count */
    const char *only;     /* inputs: option valid only for this type */
    const char *help;
};

#define OFF(type, field) offsetof(type, field)
#define END {NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL}

static const char *const levels[] = {"informational", "low", "medium", "high", "critical", NULL};
static const char *const start_ats[] = {"end", "beginning", NULL};
static const char *const watches[] = {"auto", "inotify", "poll", NULL};
static const char *const input_types[] = {"file", "journald", "syslog", NULL};
static const char *const output_types[] = {"stdout", "file", "http", "syslog", "relp",
                                           NULL};
static const char *const presets[] = {"clickhouse", "elasticsearch", "splunk_hec", "loki", "webhook",
                                      NULL};
static const char *const fsyncs[] = {"batch", "interval", NULL};
static const char *const policies[] = {"block", "drop_oldest", NULL};
static const char *const redact_methods[] = {"hash", "mask", NULL};
static const char *const out_formats[] = {"auto", "json", "text", NULL};
static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug", NULL};

static const vg_option logsource_opts[] = {
    {"product", OPT_STR, OFF(vg_logsource, product), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "Sigma product of the events (linux, ...)"},
    {"category", OPT_STR, OFF(vg_logsource, category), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "Sigma category (webserver, process_creation, ...)"},
    {"service", OPT_STR, OFF(vg_logsource, service), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "Sigma service (auth, syslog, ...); syslog program names add their own (sshd, sudo, cron)"},
    END,
};

#define IN(f) OFF(vg_input_conf, f)
static const vg_option input_opts[] = {
    {"type", OPT_ENUMSTR, IN(type), NULL, 0, 0, input_types, NULL, 0, 0, NULL,
     "kind of input (required)"},
    {"name", OPT_STR, IN(name), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "unique name; keys the saved positions, so keep it stable (default: type and index)"},
    {"logsource", OPT_SECTION, IN(logsource), NULL, 0, 0, NULL, logsource_opts, 0, 0, NULL,
     "Sigma log source of the events, routes rules to them"},
    {"format", OPT_STR, IN(format), "syslog", 0, 0, NULL, NULL, 0, 0, "file,syslog",
     "parser: syslog, json, raw, access"},
    {"timezone", OPT_STR, IN(timezone), "local", 0, 0, NULL, NULL, 0, 0, NULL,
     "zone of timestamps that carry none (UTC, local, Europe/Paris)"},
    {"forward_events", OPT_BOOL, IN(forward_events), "false", 0, 0, NULL, NULL, 0, 0, NULL,
     "also forward the raw events (delivery outputs)"},
    {"skip_if_journal", OPT_BOOL, IN(skip_if_journal), "false", 0, 0, NULL, NULL, 0, 0, NULL,
     "do not open this input on a host with a systemd journal (its messages are read from "
     "journald there: never the same message twice)"},
    {"paths", OPT_STRLIST, IN(paths), NULL, 0, 0, NULL, NULL, 0, 0, "file",
     "glob patterns of files to follow (required)"},
    {"exclude", OPT_STRLIST, IN(exclude), NULL, 0, 0, NULL, NULL, 0, 0, "file",
     "glob patterns of paths to skip"},
    {"start_at", OPT_ENUM, IN(start_at), "end", 0, 0, start_ats, NULL, 0, 0, NULL,
     "where to start in sources present at the very first run"},
    {"watch", OPT_ENUM, IN(watch), "auto", 0, 0, watches, NULL, 0, 0, "file",
     "change detection: inotify, stat polling (network filesystems), or auto"},
    {"poll_interval", OPT_DURATION, IN(poll_interval_ms), "2s", 100, 3600000, NULL, NULL, 0, 0,
     "file", "stat polling period"},
    {"idle_flush", OPT_DURATION, IN(idle_flush_ms), "5s", 0, 3600000, NULL, NULL, 0, 0, "file",
     "a final line without newline is emitted after this much idle time"},
    {"rotate_wait", OPT_DURATION, IN(rotate_wait_ms), "5s", 100, 3600000, NULL, NULL, 0, 0, "file",
     "a rotated or deleted file stays open this long after its last byte, for writers that "
     "have not reopened yet"},
    {"max_line", OPT_SIZE, IN(max_line), "64KiB", 256, 64 << 20, NULL, NULL, 0, 0, "file,syslog",
     "longer lines are truncated, flagged and counted"},
    {"read_buffer", OPT_SIZE, IN(read_buffer), "256KiB", 4096, 16 << 20, NULL, NULL, 0, 0, "file",
     "bytes per read"},
    {"units", OPT_STRLIST, IN(units), NULL, 0, 0, NULL, NULL, 0, 0, "journald",
     "only entries of these systemd units"},
    {"identifiers", OPT_STRLIST, IN(identifiers), NULL, 0, 0, NULL, NULL, 0, 0, "journald",
     "only entries with these syslog identifiers"},
    {"exclude_identifiers", OPT_STRLIST, IN(exclude_identifiers), NULL, 0, 0, NULL, NULL, 0, 0,
     "journald", "skip entries with these syslog identifiers"},
    {"directory", OPT_STR, IN(journal_directory), NULL, 0, 0, NULL, NULL, 0, 0, "journald",
     "read the journal files of this directory instead of the system journal"},
    {"files", OPT_STRLIST, IN(journal_files), NULL, 0, 0, NULL, NULL, 0, 0, "journald",
     "read these journal files instead of the system journal"},

    {"udp", OPT_STR, IN(listen_udp), NULL, 0, 0, NULL, NULL, 0, 0, "syslog",
     "listen for UDP syslog on host:port (0.0.0.0:514, [::]:514)"},
    {"tcp", OPT_STR, IN(listen_tcp), NULL, 0, 0, NULL, NULL, 0, 0, "syslog",
     "listen for TCP syslog on host:port; LF or octet-counted framing, detected per connection"},
    {"tls", OPT_STR, IN(listen_tls), NULL, 0, 0, NULL, NULL, 0, 0, "syslog",
     "listen for syslog over TLS (RFC 5425) on host:port (usually 6514)"},
    {"unix", OPT_STR, IN(listen_unix), NULL, 0, 0, NULL, NULL, 0, 0, "syslog",
     "listen on a unix datagram socket at this path (local programs, logger -u)"},
    {"socket_mode", OPT_INT, IN(socket_mode), "438", 0, 0777, NULL, NULL, 0, 0, "syslog",
     "permissions of the unix socket file (438 = 0666)"},
    {"tls_cert_file", OPT_STR, IN(tls_cert_file), NULL, 0, 0, NULL, NULL, 0, 0, "syslog",
     "certificate of the TLS listener (PEM, with its chain)"},
    {"tls_key_file", OPT_STR, IN(tls_key_file), NULL, 0, 0, NULL, NULL, 0, 0, "syslog",
     "its private key (must not be readable by others)"},
    {"tls_ca_file", OPT_STR, IN(tls_ca_file), NULL, 0, 0, NULL, NULL, 0, 0, "syslog",
     "CA that clients' certificates must chain to (with tls_client_auth)"},
    {"tls_client_auth", OPT_BOOL, IN(tls_client_auth), "false", 0, 0, NULL, NULL, 0, 0, "syslog",
     "refuse TLS clients without a certificate signed by tls_ca_file"},
    {"queue_messages", OPT_INT, IN(queue_messages), "100000", 10, 10000000, NULL, NULL, 0, 0,
     "syslog", "messages waiting for the pipeline; past this new ones are dropped and counted "
     "(senders are never blocked)"},
    {"queue_bytes", OPT_SIZE, IN(queue_bytes), "64MiB", 65536, 4LL << 30, NULL, NULL, 0, 0,
     "syslog", "bytes waiting for the pipeline (same policy)"},
    {"rate", OPT_INT, IN(rate), "0", 0, 10000000, NULL, NULL, 0, 0, "syslog",
     "messages per second per sender (IP address; uid on the unix socket); 0 = unlimited"},
    {"burst", OPT_INT, IN(burst), "0", 0, 10000000, NULL, NULL, 0, 0, "syslog",
     "messages a sender may send at once above its rate (0 = rate)"},
    {"max_senders", OPT_INT, IN(max_senders), "4096", 8, 1000000, NULL, NULL, 0, 0, "syslog",
     "senders tracked by the rate limit (the least recent is evicted, counted)"},
    {"max_connections", OPT_INT, IN(max_connections), "256", 1, 65536, NULL, NULL, 0, 0,
     "syslog", "TCP and TLS connections at once; more are closed at once (counted)"},
    {"idle_timeout", OPT_DURATION, IN(idle_timeout_ms), "1h", 1000, 86400000, NULL, NULL, 0, 0,
     "syslog", "a TCP/TLS connection silent this long is closed"},
    END,
};

#define OUT(f) OFF(vg_output_conf, f)
static const vg_option output_opts[] = {
    {"type", OPT_ENUMSTR, OUT(type), NULL, 0, 0, output_types, NULL, 0, 0, NULL,
     "kind of output (required)"},
    {"name", OPT_STR, OUT(name), NULL, 0, 0, NULL, NULL, 0, 0, NULL, "name in statistics"},
    {"format", OPT_ENUM, OUT(format), "auto", 0, 0, out_formats, NULL, 0, 0, NULL,
     "json lines, or readable text; auto = text on a terminal, json otherwise"},
    {"color", OPT_BOOL, OUT(color), "true", 0, 0, NULL, NULL, 0, 0, NULL,
     "colour the text format on a terminal"},
    {"path", OPT_STR, OUT(path), NULL, 0, 0, NULL, NULL, 0, 0, "file",
     "where to append alerts (JSON lines)"},
    {"rotate_size", OPT_SIZE, OUT(rotate_size), "100MiB", 0, (int64_t)1 << 40, NULL, NULL, 0, 0,
     "file", "rotate the file past this size (0 = never)"},
    {"rotate_keep", OPT_INT, OUT(rotate_keep), "5", 1, 1000, NULL, NULL, 0, 0, "file",
     "rotated files kept (path.1 .. path.N)"},
    {"min_level", OPT_ENUMSTR, OUT(min_level), "informational", 0, 0, levels, NULL, 0, 0, NULL,
     "alerts below this level are not written here"},
    {"events", OPT_BOOL, OUT(events), "true", 0, 0, NULL, NULL, 0, 0, "http,syslog,relp",
     "also send the raw events of inputs with forward_events: true"},
    {"batch_max_events", OPT_INT, OUT(batch_max_events), "5000", 1, 1000000, NULL, NULL, 0, 0,
     "http,syslog,relp", "records per request"},
    {"batch_max_bytes", OPT_SIZE, OUT(batch_max_bytes), "4MiB", 1024, 256 << 20, NULL, NULL, 0, 0,
     "http,syslog,relp", "uncompressed bytes per request"},
    {"batch_delay", OPT_DURATION, OUT(batch_delay_ms), "1s", 0, 600000, NULL, NULL, 0, 0,
     "http,syslog,relp", "wait at most this long for a batch to fill"},
    {"parallel", OPT_INT, OUT(parallel), "1", 1, 4, NULL, NULL, 0, 0, "http",
     "requests in flight at once, each on its own connection, acknowledged in order (2 for "
     "high volumes: more throughput, more duplicates after a crash; not for loki)"},
    {"timeout", OPT_DURATION, OUT(timeout_ms), "30s", 100, 3600000, NULL, NULL, 0, 0,
     "http,syslog,relp", "one exchange with the collector (connect, send, answer)"},
    {"retry_min", OPT_DURATION, OUT(retry_min_ms), "1s", 10, 3600000, NULL, NULL, 0, 0,
     "http,syslog,relp", "first retry delay (doubles, with jitter)"},
    {"retry_max", OPT_DURATION, OUT(retry_max_ms), "5m", 10, 86400000, NULL, NULL, 0, 0,
     "http,syslog,relp", "longest retry delay"},
    {"ca_file", OPT_STR, OUT(ca_file), NULL, 0, 0, NULL, NULL, 0, 0, "http,syslog,relp",
     "PEM CA bundle that verifies the collector (default: the system's)"},
    {"cert_file", OPT_STR, OUT(cert_file), NULL, 0, 0, NULL, NULL, 0, 0, "http,syslog,relp",
     "client certificate, PEM (mutual TLS)"},
    {"key_file", OPT_STR, OUT(key_file), NULL, 0, 0, NULL, NULL, 0, 0, "http,syslog,relp",
     "client key, PEM; refused when readable by others"},
    {"insecure_skip_verify", OPT_BOOL, OUT(insecure_skip_verify), "false", 0, 0, NULL, NULL, 0,
     0, "http,syslog,relp", "do not verify the collector's certificate (warned at every start)"},
    {"preset", OPT_ENUMSTR, OUT(preset), "webhook", 0, 0, presets, NULL, 0, 0, "http",
     "request format: clickhouse, elasticsearch, splunk_hec, loki, webhook (NDJSON)"},
    {"url", OPT_STR, OUT(url), NULL, 0, 0, NULL, NULL, 0, 0, "http",
     "collector URL (required), e.g. https://ch.example:8443/"},
    {"table", OPT_STR, OUT(table), "vigie_alerts", 0, 0, NULL, NULL, 0, 0, "http",
     "clickhouse: table of the INSERT"},
    {"index", OPT_STR, OUT(index), "vigie-alerts", 0, 0, NULL, NULL, 0, 0, "http",
     "elasticsearch: index (or data stream) of the _bulk creates"},
    {"token_file", OPT_STR, OUT(token_file), NULL, 0, 0, NULL, NULL, 0, 0, "http",
     "file whose first line is the bearer token (Splunk: the HEC token); refused when readable "
     "by others"},
    {"user", OPT_STR, OUT(user), NULL, 0, 0, NULL, NULL, 0, 0, "http", "basic auth user"},
    {"password_file", OPT_STR, OUT(password_file), NULL, 0, 0, NULL, NULL, 0, 0, "http",
     "file whose first line is the basic auth password; refused when readable by others"},
    {"headers", OPT_STRMAP, OUT(headers), NULL, 0, 0, NULL, NULL, 0, OUT(nheaders), "http",
     "extra request headers, name: value"},
    {"proxy", OPT_STR, OUT(proxy), NULL, 0, 0, NULL, NULL, 0, 0, "http",
     "HTTP(S) proxy URL for this output (systemd units do not pass https_proxy)"},
    {"compress", OPT_BOOL, OUT(compress), "true", 0, 0, NULL, NULL, 0, 0, "http",
     "gzip request bodies"},
    {"address", OPT_STR, OUT(address), NULL, 0, 0, NULL, NULL, 0, 0, "syslog,relp",
     "host:port of the syslog (RELP) server (required)"},
    {"tls", OPT_BOOL, OUT(tls), "false", 0, 0, NULL, NULL, 0, 0, "syslog,relp",
     "syslog over TLS, RFC 5425 (verification on; ca_file to name the CA)"},
    {"server_name", OPT_STR, OUT(server_name), NULL, 0, 0, NULL, NULL, 0, 0, "syslog,relp",
     "name expected in the server certificate (default: the host of address)"},
    {"app_name", OPT_STR, OUT(app_name), "vigie", 0, 0, NULL, NULL, 0, 0, "syslog,relp",
     "RFC 5424 APP-NAME"},
    {"fingerprint", OPT_STR, OUT(fingerprint), NULL, 0, 0, NULL, NULL, 0, 0, "relp",
     "TLS: accept the server certificate by its SHA1 fingerprint (SHA1:XX:...:XX) instead of "
     "by CA and name"},
    END,
};

#define OV(f) OFF(vg_rule_override, f)
static const vg_option override_opts[] = {
    {"id", OPT_STR, OV(id), NULL, 0, 0, NULL, NULL, 0, 0, NULL, "rule id or title (required)"},
    {"enabled", OPT_TRIBOOL, OV(enabled), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "false disables the rule"},
    {"level", OPT_ENUMSTR, OV(level), NULL, 0, 0, levels, NULL, 0, 0, NULL, "new level"},
    {"exceptions", OPT_EXCEPTIONS, OV(exceptions), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "list of Sigma selections (maps of field|modifier: values); an event matching one does not "
     "raise the rule"},
    END,
};

#define CF(f) OFF(vg_config, f)
static const vg_option agent_opts[] = {
    {"hostname", OPT_STR, CF(hostname), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "host.name of alerts (default: the system's host name)"},
    {"state_dir", OPT_STR, CF(state_dir), "/var/lib/vigie", 0, 0, NULL, NULL, 0, 0, NULL,
     "positions, agent id, detector state"},
    {"commit_interval", OPT_DURATION, CF(commit_interval_ms), "5s", 100, 3600000, NULL, NULL, 0,
     0, NULL, "how often positions are committed; bounds what is re-read after a crash"},
    {"stats_interval", OPT_DURATION, CF(stats_interval_ms), "0s", 0, 86400000, NULL, NULL, 0, 0,
     NULL, "print statistics periodically (0 = only on SIGUSR1 and at exit)"},
    {"log_level", OPT_ENUM, CF(log_level), "info", 0, 0, log_levels, NULL, 0, 0, NULL,
     "verbosity of the agent's own messages"},
    {"heartbeat_interval", OPT_DURATION, CF(heartbeat_interval_ms), "60s", 0, 86400000, NULL,
     NULL, 0, 0, NULL, "agent-state record sent to every network output (0 = never)"},
    {"user", OPT_STR, CF(user), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "started as root, `vigie run` drops to this user (required as root unless --allow-root)"},
    {"group", OPT_STR, CF(group), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "group to run as (default: the user's primary group); also owns status.sock"},
    {"capabilities", OPT_STRLIST, CF(capabilities), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "capabilities kept after dropping root, e.g. [cap_dac_read_search] to read any log"},
    {"metrics_listen", OPT_STR, CF(metrics_listen), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "Prometheus metrics over HTTP on this address, e.g. 127.0.0.1:9465 (default: off)"},
    {"sandbox", OPT_BOOL, CF(sandbox), "true", 0, 0, NULL, NULL, 0, 0, NULL,
     "confine `vigie run` after the privilege drop: a seccomp filter denies system calls a log "
     "agent never makes (execve, ptrace, mount, bpf, modules, namespaces...) with EPERM, and "
     "Landlock limits writing to the state directory and the directories of file outputs and "
     "unix listeners (reading stays open); each where the kernel supports it"},
    END,
};

static const vg_option limits_opts[] = {
    {"batch_events", OPT_INT, CF(batch_events), "512", 1, 65536, NULL, NULL, 0, 0, NULL,
     "events per batch between collectors, detectors and outputs"},
    {"batch_arena", OPT_SIZE, CF(batch_arena), "4MiB", 64 << 10, 1 << 30, NULL, NULL, 0, 0, NULL,
     "memory for decoded field values per batch; past it fields are dropped (counted)"},
    {"regex_match_limit", OPT_INT, CF(regex_match_limit), "100000", 100, 100000000, NULL, NULL, 0,
     0, NULL, "PCRE2 match limit per regex and line; a hit is counted and the value does not match"},
    {"regex_depth_limit", OPT_INT, CF(regex_depth_limit), "10000", 10, 10000000, NULL, NULL, 0, 0,
     NULL, "PCRE2 depth limit"},
    {"max_alert_message", OPT_SIZE, CF(max_alert_message), "16KiB", 256, 16 << 20, NULL, NULL, 0,
     0, NULL, "bytes of the original line kept in an alert (the rest is cut, flagged)"},
    END,
};

static const vg_option rules_opts[] = {
    {"paths", OPT_STRLIST, CF(rule_paths), "/usr/share/vigie/rules,/etc/vigie/rules.d", 0, 0, NULL,
     NULL, 0, 0, NULL, "files or directories of Sigma rules (.yml, .yaml)"},
    {"overrides", OPT_LIST, CF(overrides), NULL, 0, 0, NULL, override_opts,
     sizeof(vg_rule_override), CF(noverrides), NULL, "local changes to rules"},
    {"field_mappings", OPT_STRMAP, CF(field_map), NULL, 0, 0, NULL, NULL, 0, CF(nfield_map), NULL,
     "field name a rule uses -> the event field(s) that hold it at this site, e.g. "
     "{src_ip: [c-ip, client_ip]}; the rule's own name is tried first"},
    {"placeholders", OPT_STRMAP, CF(placeholders), NULL, 0, 0, NULL, NULL, 0, CF(nplaceholders),
     NULL, "values of Sigma placeholders: `field|expand: '%admins%'` matches any of "
     "placeholders.admins, e.g. {admins: [root, adm_backup]}"},
    END,
};

static const vg_option spool_opts[] = {
    {"fsync", OPT_ENUM, CF(spool_fsync), "batch", 0, 0, fsyncs, NULL, 0, 0, NULL,
     "batch: fsync what was appended before every commit of input positions (a power loss "
     "loses nothing); interval: at most every fsync_interval (a power loss can lose that much; "
     "a crash of the agent alone loses nothing)"},
    {"fsync_interval", OPT_DURATION, CF(spool_fsync_interval_ms), "1s", 10, 60000, NULL, NULL, 0,
     0, NULL, "fsync period when fsync is interval"},
    {"segment_size", OPT_SIZE, CF(spool_segment_size), "8MiB", 64 << 10, 1 << 30, NULL, NULL, 0,
     0, NULL, "a segment file is closed past this size; segments are deleted once every output "
     "has acknowledged them"},
    {"alerts_max", OPT_SIZE, CF(spool_alerts_max), "1GiB", 1 << 20, (int64_t)1 << 42, NULL, NULL,
     0, 0, NULL, "disk used by unacknowledged alerts"},
    {"alerts_policy", OPT_ENUM, CF(spool_alerts_policy), "block", 0, 0, policies, NULL, 0, 0,
     NULL, "when alerts_max is reached: block (inputs stop reading, nothing lost) or "
     "drop_oldest (counted)"},
    {"events_max", OPT_SIZE, CF(spool_events_max), "1GiB", 1 << 20, (int64_t)1 << 42, NULL, NULL,
     0, 0, NULL, "disk used by unacknowledged raw events"},
    {"events_policy", OPT_ENUM, CF(spool_events_policy), "drop_oldest", 0, 0, policies, NULL, 0,
     0, NULL, "when events_max is reached (raw events never push alerts out)"},
    {"min_free_disk", OPT_SIZE, CF(spool_min_free_disk), "256MiB", 0, (int64_t)1 << 42, NULL,
     NULL, 0, 0, NULL, "the lanes' policies apply when the filesystem has less free space"},
    END,
};

static const vg_option redaction_opts[] = {
    {"enabled", OPT_BOOL, CF(redact), "false", 0, 0, NULL, NULL, 0, 0, NULL,
     "redact the message of alerts and events before they leave the host"},
    {"nir", OPT_BOOL, CF(redact_nir), "true", 0, 0, NULL, NULL, 0, 0, NULL,
     "French social-security numbers (NIR), validated by their key"},
    {"email", OPT_BOOL, CF(redact_email), "true", 0, 0, NULL, NULL, 0, 0, NULL, "e-mail addresses"},
    {"iban", OPT_BOOL, CF(redact_iban), "true", 0, 0, NULL, NULL, 0, 0, NULL,
     "IBANs, validated by their check digits"},
    {"patterns", OPT_STRLIST, CF(redact_patterns), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "extra PCRE2 patterns to redact"},
    {"method", OPT_ENUM, CF(redact_method), "hash", 0, 0, redact_methods, NULL, 0, 0, NULL,
     "hash: a keyed hash token (same value, same token: analysts can still correlate); mask"},
    {"key_file", OPT_STR, CF(redact_key_file), NULL, 0, 0, NULL, NULL, 0, 0, NULL,
     "key of the hash (default: generated once in the state directory)"},
    {"rule_fields", OPT_BOOL, CF(redact_rule_fields), "false", 0, 0, NULL, NULL, 0, 0, NULL,
     "also redact the event fields an alert carries"},
    END,
};

static const vg_option yara_opts[] = {
    {"scan_timeout", OPT_DURATION, CF(yara_timeout_ms), "1s", 1000, 600000, NULL, NULL, 0, 0,
     NULL, "time limit of one libyara scan (whole seconds); a timeout is counted per rule "
     "(rule.yara_limit_hits) and logged once"},
    {"file_max_size", OPT_SIZE, CF(yara_file_max_size), "16MiB", 1, (int64_t)1 << 32, NULL, NULL,
     0, 0, NULL, "files an event names that are larger are not scanned (counted)"},
    {"file_scans_per_minute", OPT_INT, CF(yara_file_rate), "60", 0, 100000, NULL, NULL, 0, 0,
     NULL, "file scans requested by rules; past it requests are dropped (counted); 0 = none"},
    {"cache", OPT_BOOL, CF(yara_cache), "true", 0, 0, NULL, NULL, 0, 0, NULL,
     "keep the compiled YARA rules in the state directory (keyed by the sources and the "
     "libyara version)"},
    END,
};

static const vg_option state_opts[] = {
    {"max_groups", OPT_INT, CF(state_max_groups), "10000", 1, 10000000, NULL, NULL, 0, 0, NULL,
     "per stateful rule (correlation, suppression): groups (group-by values) kept; past it the "
     "least recently updated is evicted (stateful.evictions{rule})"},
    {"max_memory", OPT_SIZE, CF(state_max_memory), "32MiB", 1 << 20, (int64_t)1 << 40, NULL,
     NULL, 0, 0, NULL, "memory of all correlation and suppression groups together; past it the "
     "largest tables lose their least recently updated groups (stateful.evictions_memory)"},
    {"out_of_order", OPT_DURATION, CF(state_out_of_order_ms), "60s", 0, 86400000, NULL, NULL, 0,
     0, NULL, "an event this much older than its group's window still counts in it; older is "
     "a clock jump (the window restarts)"},
    {"samples", OPT_INT, CF(state_samples), "5", 0, 100, NULL, NULL, 0, 0, NULL,
     "first contributing lines kept per window (vigie.samples)"},
    {"sample_bytes", OPT_SIZE, CF(state_sample_bytes), "512", 16, 65536, NULL, NULL, 0, 0, NULL,
     "bytes of each sample line kept"},
    {"update_base", OPT_INT, CF(state_update_base), "10", 0, 1000000, NULL, NULL, 0, 0, NULL,
     "a suppressed window alerts again when its count reaches a power of this (10, 100, ...); "
     "0 = no update alerts"},
    {"final_alert", OPT_BOOL, CF(state_final_alert), "true", 0, 0, NULL, NULL, 0, 0, NULL,
     "a correlation alerts once more when its window closes with a count above the last "
     "alerted one (the window's total)"},
    {"exact_distinct", OPT_INT, CF(state_exact_distinct), "64", 0, 4096, NULL, NULL, 0, 0, NULL,
     "value_count: distinct values counted exactly up to this many, then by HyperLogLog"},
    {"hll_bits", OPT_INT, CF(state_hll_bits), "10", 4, 16, NULL, NULL, 0, 0, NULL,
     "HyperLogLog precision: 2^bits one-byte registers per group (10: 1 KiB, ~3% error)"},
    END,
};

static const vg_option parsers_opts[] = {
    {"definitions", OPT_STRLIST, CF(parser_definitions),
     "/usr/share/vigie/parsers,/etc/vigie/parsers.d", 0, 0, NULL, NULL, 0, 0, NULL,
     "YAML files of message field extractors (PCRE2 named captures per program), applied after "
     "the format parser (files or directories; missing ones are skipped)"},
    END,
};

static const vg_option top_opts[] = {
    {"agent", OPT_SECTION, 0, NULL, 0, 0, NULL, agent_opts, 0, 0, NULL, "the agent itself"},
    {"limits", OPT_SECTION, 0, NULL, 0, 0, NULL, limits_opts, 0, 0, NULL, "resource limits"},
    {"rules", OPT_SECTION, 0, NULL, 0, 0, NULL, rules_opts, 0, 0, NULL, "detection rules"},
    {"state", OPT_SECTION, 0, NULL, 0, 0, NULL, state_opts, 0, 0, NULL,
     "stateful detection: correlation windows, suppression, their caps"},
    {"parsers", OPT_SECTION, 0, NULL, 0, 0, NULL, parsers_opts, 0, 0, NULL,
     "field extraction from messages"},
    {"spool", OPT_SECTION, 0, NULL, 0, 0, NULL, spool_opts, 0, 0, NULL,
     "the on-disk queue of network outputs"},
    {"redaction", OPT_SECTION, 0, NULL, 0, 0, NULL, redaction_opts, 0, 0, NULL,
     "personal data removed before anything leaves the host"},
    {"yara", OPT_SECTION, 0, NULL, 0, 0, NULL, yara_opts, 0, 0, NULL,
     "YARA rules on events and on the files events name"},
    {"inputs", OPT_LIST, CF(inputs), NULL, 0, 0, NULL, input_opts, sizeof(vg_input_conf),
     CF(ninputs), NULL, "log sources"},
    {"outputs", OPT_LIST, CF(outputs), NULL, 0, 0, NULL, output_opts, sizeof(vg_output_conf),
     CF(noutputs), NULL, "where alerts go"},
    END,
};

/* ---- value parsing ---- */

/* Does an option restricted to `only` ("http" or "http,syslog") apply to
   an entry of type `type`? */
static bool only_applies(const char *only, const char *type)
{
    if (!only || !type)
        return true;
    size_t n = strlen(type);
    for (const char *p = only; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, type, n))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

typedef struct ctx {
    const char *file;
    yaml_document_t *doc;
    vg_errbuf *eb;
    const char *only; /* type of the input being loaded */
} ctx;

static vg_err errat(ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static vg_err errat(ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vg_errf(c->eb, VG_ECONFIG, "%s:%zu:%zu: %s", c->file,
                   n ? n->start_mark.line + 1 : 0, n ? n->start_mark.column + 1 : 0, msg);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

typedef struct unit {
    const char *u;
    double m;
} unit;

/* A non-negative number followed by one of `units` (spaces allowed between),
   scaled and at most `max`; a bare 0 is accepted without a unit. */
static int parse_scaled(const char *s, const unit *units, size_t nunits, double max,
                        int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < nunits; i++)
        if (strcmp(end, units[i].u) == 0) {
            double r = v * units[i].m;
            if (r > max)
                return -1;
            *out = (int64_t)r;
            return 0;
        }
    if (*end == '\0' && v == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_size(const char *s, int64_t *out)
{
    static const unit units[] = {
        {"", 1}, {"B", 1}, {"K", 1e3}, {"KB", 1e3}, {"KiB", 1024}, {"M", 1e6}, {"MB", 1e6},
        {"MiB", 1048576}, {"G", 1e9}, {"GB", 1e9}, {"GiB", 1073741824.0}};
    return parse_scaled(s, units, sizeof units / sizeof units[0], 9e18, out);
}

static int parse_duration(const char *s, int64_t *out)
{
    static const unit units[] = {{"ms", 1},     {"s", 1000},       {"m", 60000},
                                 {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
    return parse_scaled(s, units, sizeof units / sizeof units[0], 9e15, out);
}

static char *enum_list(const char *const *e, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; e[i]; i++) {
        if (i)
            strncat(buf, ", ", n - strlen(buf) - 1);
        strncat(buf, e[i], n - strlen(buf) - 1);
    }
    return buf;
}

static vg_err strlist_push(vg_strlist *l, const char *s, vg_errbuf *eb)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    l->v = v;
    if (!(v[l->n] = strdup(s)))
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    l->n++;
    return VG_OK;
}

static void fmt_human(const vg_option *o, int64_t v, char *buf, size_t n)
{
    if (o->type == OPT_DURATION) {
        if (v % 3600000 == 0 && v)
            snprintf(buf, n, "%" PRId64 "h", v / 3600000);
        else if (v % 1000 == 0)
            snprintf(buf, n, "%" PRId64 "s", v / 1000);
        else
            snprintf(buf, n, "%" PRId64 "ms", v);
    } else if (o->type == OPT_SIZE) {
        if (v % ((int64_t)1 << 30) == 0 && v)
            snprintf(buf, n, "%" PRId64 "GiB", v >> 30);
        else if (v % 1048576 == 0 && v)
            snprintf(buf, n, "%" PRId64 "MiB", v / 1048576);
        else if (v % 1024 == 0 && v)
            snprintf(buf, n, "%" PRId64 "KiB", v / 1024);
        else
            snprintf(buf, n, "%" PRId64, v);
    } else {
        snprintf(buf, n, "%" PRId64, v);
    }
}

/* Set one scalar option from text s (user value or default). n: for positions. */
static vg_err set_scalar(ctx *c, const vg_option *o, char *base, const char *s,
                         const yaml_node_t *n)
{
    void *dst = base + o->off;
    char tmp[256];
    int64_t v = 0;
    switch (o->type) {
    case OPT_BOOL:
    case OPT_TRIBOOL: {
        int b;
        if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
            b = 1;
        else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
            b = 0;
        else
            return errat(c, n, "'%s' expects true or false, got '%s'", o->name, s);
        if (o->type == OPT_BOOL)
            *(bool *)dst = b;
        else
            *(int *)dst = b;
        return VG_OK;
    }
    case OPT_INT:
    case OPT_SIZE:
    case OPT_DURATION: {
        int r = o->type == OPT_INT    ? parse_int(s, &v)
                : o->type == OPT_SIZE ? parse_size(s, &v)
                                      : parse_duration(s, &v);
        if (r)
            return errat(c, n, "'%s' expects %s, got '%s'", o->name,
                         o->type == OPT_INT    ? "an integer"
                         : o->type == OPT_SIZE ? "a size like 512, 64KiB, 4MiB"
                                               : "a duration like 200ms, 5s, 1m, 1h",
                         s);
        if ((o->min || o->max) && (v < o->min || v > o->max)) {
            char lo[32], hi[32];
            fmt_human(o, o->min, lo, sizeof lo);
            fmt_human(o, o->max, hi, sizeof hi);
            return errat(c, n, "'%s' must be between %s and %s, got '%s'", o->name, lo, hi, s);
        }
        *(int64_t *)dst = v;
        return VG_OK;
    }
    case OPT_STR:
    case OPT_ENUMSTR: {
        if (o->type == OPT_ENUMSTR) {
            size_t i;
            for (i = 0; o->enums[i] && strcmp(o->enums[i], s); i++)
                ;
            if (!o->enums[i])
                return errat(c, n, "'%s' expects one of: %s; got '%s'", o->name,
                             enum_list(o->enums, tmp, sizeof tmp), s);
        }
        char *d = strdup(s);
        if (!d)
            return vg_errf(c->eb, VG_ENOMEM, "out of memory");
        free(*(char **)dst);
        *(char **)dst = d;
        return VG_OK;
    }
    case OPT_ENUM: {
        for (int i = 0; o->enums[i]; i++)
            if (!strcmp(o->enums[i], s)) {
                *(int *)dst = i;
                return VG_OK;
            }
        return errat(c, n, "'%s' expects one of: %s; got '%s'", o->name,
                     enum_list(o->enums, tmp, sizeof tmp), s);
    }
    case OPT_STRLIST: { /* default: comma-separated */
        vg_strlist *l = dst;
        vg_strlist_free(l);
        const char *p = s;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char item[PATH_MAX];
            if (len >= sizeof item)
                len = sizeof item - 1;
            memcpy(item, p, len);
            item[len] = '\0';
            vg_err r = strlist_push(l, item, c->eb);
            if (r)
                return r;
            p += len + (e ? 1 : 0);
        }
        return VG_OK;
    }
    default:
        return errat(c, n, "'%s' is not a scalar option", o->name);
    }
}

// NOLINTNEXTLINE(misc-no-recursion): follows o->sub of the static option tables (bounded by the schema, not the input)
static void apply_defaults(ctx *c, const vg_option *opts, char *base)
{
    for (const vg_option *o = opts; o->name; o++) {
        if (o->type == OPT_SECTION && o->sub)
            apply_defaults(c, o->sub, base + o->off);
        else if (o->type == OPT_TRIBOOL)
            *(int *)(base + o->off) = -1;
        else if (o->def)
            (void)set_scalar(c, o, base, o->def, NULL);
    }
}

static vg_err load_map(ctx *c, const vg_option *opts, char *base, yaml_node_t *map,
                       const char *what);

/* A string, or a list of strings, appended to l; `what` names the values in
   the error ("exception values", ...). */
static vg_err load_strings(ctx *c, yaml_node_t *v, vg_strlist *l, const char *what)
{
    if (scalar(v))
        return strlist_push(l, scalar(v), c->eb);
    if (!v || v->type != YAML_SEQUENCE_NODE)
        return errat(c, v, "%s: expected a string or a list of strings", what);
    for (yaml_node_item_t *j = v->data.sequence.items.start; j < v->data.sequence.items.top; j++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, *j);
        if (!scalar(e))
            return errat(c, e, "%s: expected a string", what);
        vg_err r = strlist_push(l, scalar(e), c->eb);
        if (r)
            return r;
    }
    return VG_OK;
}

static vg_err load_exceptions(ctx *c, const vg_option *o, char *base, yaml_node_t *n)
{
    vg_rule_override *ov = (vg_rule_override *)base;
    if (n->type != YAML_SEQUENCE_NODE)
        return errat(c, n, "'exceptions' expects a list of maps (Sigma selections)");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *m = yaml_document_get_node(c->doc, *it);
        if (!m || m->type != YAML_MAPPING_NODE)
            return errat(c, m, "an exception is a map of field|modifier: value(s)");
        vg_exception *ex = realloc(ov->exceptions, (ov->nexceptions + 1) * sizeof *ex);
        if (!ex)
            return vg_errf(c->eb, VG_ENOMEM, "out of memory");
        ov->exceptions = ex;
        ex = &ov->exceptions[ov->nexceptions++];
        memset(ex, 0, sizeof *ex);
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
            if (!scalar(k))
                return errat(c, k, "an exception key is a field name");
            vg_kv *items = realloc(ex->items, (ex->n + 1) * sizeof *items);
            if (!items)
                return vg_errf(c->eb, VG_ENOMEM, "out of memory");
            ex->items = items;
            vg_kv *kv = &ex->items[ex->n++];
            memset(kv, 0, sizeof *kv);
            if (!(kv->key = strdup(scalar(k))))
                return vg_errf(c->eb, VG_ENOMEM, "out of memory");
            vg_err r = load_strings(c, v, &kv->values, "an exception value");
            if (r)
                return r;
        }
    }
    (void)o;
    return VG_OK;
}

// NOLINTNEXTLINE(misc-no-recursion): follows o->sub of the static option tables (bounded by the schema, not the input)
static vg_err load_value(ctx *c, const vg_option *o, char *base, yaml_node_t *v)
{
    switch (o->type) {
    case OPT_SECTION:
        if (v->type != YAML_MAPPING_NODE)
            return errat(c, v, "'%s' expects a map", o->name);
        return load_map(c, o->sub, base + o->off, v, o->name);
    case OPT_STRLIST: {
        vg_strlist *l = (vg_strlist *)(base + o->off);
        if (scalar(v)) { /* a single string is a list of one */
            vg_strlist_free(l);
            return strlist_push(l, scalar(v), c->eb);
        }
        if (v->type != YAML_SEQUENCE_NODE)
            return errat(c, v, "'%s' expects a list of strings", o->name);
        /* A list in a later file appends only for top-level rule paths; for
           an input's own list, this is its one declaration. */
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *s = yaml_document_get_node(c->doc, *it);
            if (!scalar(s))
                return errat(c, s, "'%s' expects a list of strings", o->name);
            vg_err r = strlist_push(l, scalar(s), c->eb);
            if (r)
                return r;
        }
        return VG_OK;
    }
    case OPT_LIST: {
        if (v->type != YAML_SEQUENCE_NODE)
            return errat(c, v, "'%s' expects a list of maps", o->name);
        char **arr = (char **)(base + o->off);
        size_t *cnt = (size_t *)(base + o->count_off);
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *m = yaml_document_get_node(c->doc, *it);
            if (!m || m->type != YAML_MAPPING_NODE)
                return errat(c, m, "each entry of '%s' is a map", o->name);
            if (*cnt >= 4096)
                return errat(c, m, "too many entries in '%s' (at most 4096)", o->name);
            char *na = realloc(*arr, (*cnt + 1) * o->item_size);
            if (!na)
                return vg_errf(c->eb, VG_ENOMEM, "out of memory");
            *arr = na;
            char *item = na + *cnt * o->item_size;
            memset(item, 0, o->item_size);
            (*cnt)++;
            const char *saved_only = c->only;
            c->only = NULL;
            if (o->sub == input_opts || o->sub == output_opts) {
                /* The type decides which options exist: read it first. */
                for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
                     p < m->data.mapping.pairs.top; p++) {
                    const char *k = scalar(yaml_document_get_node(c->doc, p->key));
                    if (k && !strcmp(k, "type"))
                        c->only = scalar(yaml_document_get_node(c->doc, p->value));
                }
                if (!c->only)
                    return errat(c, m, "an entry of '%s' needs a 'type' (one of: %s)", o->name,
                                 o->sub == input_opts ? "file, journald, syslog"
                                                      : "stdout, file, http, syslog, relp");
            }
            apply_defaults(c, o->sub, item);
            if (o->sub == override_opts) {
                vg_rule_override *ov = (vg_rule_override *)item;
                ov->file = strdup(c->file);
                ov->line = (int)m->start_mark.line + 1;
                ov->col = (int)m->start_mark.column + 1;
            }
            vg_err r = load_map(c, o->sub, item, m, o->name);
            c->only = saved_only;
            if (r)
                return r;
            if (o->sub == override_opts && !((vg_rule_override *)item)->id)
                return errat(c, m, "an override needs the 'id' of the rule it changes");
        }
        return VG_OK;
    }
    case OPT_EXCEPTIONS:
        return load_exceptions(c, o, base, v);
    case OPT_STRMAP: {
        if (v->type != YAML_MAPPING_NODE)
            return errat(c, v, "'%s' expects a map of field: field or list of fields", o->name);
        vg_kv **arr = (vg_kv **)(base + o->off);
        size_t *cnt = (size_t *)(base + o->count_off);
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
            if (!scalar(k))
                return errat(c, k, "'%s': a key is a field name", o->name);
            if (*cnt >= 4096)
                return errat(c, k, "'%s': too many entries (at most 4096)", o->name);
            vg_kv *na = realloc(*arr, (*cnt + 1) * sizeof *na);
            if (!na)
                return vg_errf(c->eb, VG_ENOMEM, "out of memory");
            *arr = na;
            vg_kv *kv = &na[*cnt];
            memset(kv, 0, sizeof *kv);
            (*cnt)++;
            if (!(kv->key = strdup(scalar(k))))
                return vg_errf(c->eb, VG_ENOMEM, "out of memory");
            char what[96];
            snprintf(what, sizeof what, "'%s'", o->name);
            vg_err r = load_strings(c, val ? val : k, &kv->values, what);
            if (r)
                return r;
        }
        return VG_OK;
    }
    default:
        if (!scalar(v))
            return errat(c, v, "'%s' expects a single value, not a %s", o->name,
                         v->type == YAML_MAPPING_NODE ? "map" : "list");
        return set_scalar(c, o, base, scalar(v), v);
    }
}

// NOLINTNEXTLINE(misc-no-recursion): follows o->sub of the static option tables (bounded by the schema, not the input)
static vg_err load_map(ctx *c, const vg_option *opts, char *base, yaml_node_t *map,
                       const char *what)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(k);
        if (!key)
            return errat(c, k, "expected a key name in '%s'", what);
        const vg_option *o;
        for (o = opts; o->name && strcmp(o->name, key); o++)
            ;
        if (!o->name || !only_applies(o->only, c->only)) {
            char names[1200] = "";
            for (const vg_option *x = opts; x->name; x++) {
                if (!only_applies(x->only, c->only))
                    continue;
                if (names[0])
                    strncat(names, ", ", sizeof names - strlen(names) - 1);
                strncat(names, x->name, sizeof names - strlen(names) - 1);
            }
            if (o->name)
                return errat(c, k, "'%s' does not apply to %s of type %s (expected one of: %s)",
                             key, what, c->only, names);
            return errat(c, k, "unknown key '%s' in '%s' (expected one of: %s)", key, what,
                         names);
        }
        if (!v || (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0 &&
                   v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && o->type != OPT_STR))
            return errat(c, v ? v : k, "'%s' has no value", key);
        vg_err r = load_value(c, o, base, v);
        if (r)
            return r;
    }
    return VG_OK;
}

/* ---- files ---- */

static vg_err load_file(vg_config *cfg, const char *path, vg_errbuf *eb)
{
    vg_err r = VG_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vg_errno(eb, VG_ECONFIG, "%s: cannot open", path);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        r = vg_errf(eb, VG_ECONFIG, "%s:%zu:%zu: invalid YAML: %s", path,
                    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                    parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        (void)fclose(f); /* read only: nothing to lose */
        return r;
    }
    ctx c = {path, &doc, eb, NULL};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        /* An empty file is a valid (empty) configuration. */
    } else if (root->type != YAML_MAPPING_NODE) {
        r = errat(&c, root, "expected a map of sections (agent, limits, rules, inputs, outputs)");
    } else {
        r = load_map(&c, top_opts, (char *)cfg, root, "configuration");
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    (void)fclose(f); /* read only: nothing to lose */
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_ext(const char *n, const char *ext)
{
    size_t a = strlen(n), b = strlen(ext);
    return a > b && !strcmp(n + a - b, ext);
}

/* Checks that need the whole configuration, and derived fields. */
static vg_err finish(vg_config *cfg, vg_errbuf *eb)
{
    if (!cfg->hostname) {
        char h[256] = "";
        if (gethostname(h, sizeof h - 1))
            strcpy(h, "localhost");
        if (!(cfg->hostname = strdup(h)))
            return vg_errf(eb, VG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cfg->ninputs; i++) {
        vg_input_conf *in = &cfg->inputs[i];
        if (!in->name) {
            char n[64];
            snprintf(n, sizeof n, "%s%zu", in->type, i);
            if (!(in->name = strdup(n)))
                return vg_errf(eb, VG_ENOMEM, "out of memory");
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->inputs[j].name, in->name))
                return vg_errf(eb, VG_ECONFIG, "%s: two inputs are named '%s'; names must be "
                               "unique (they key the saved positions)", cfg->path, in->name);
        if (!strcmp(in->type, "file") && in->paths.n == 0)
            return vg_errf(eb, VG_ECONFIG, "%s: input '%s': a file input needs 'paths'",
                           cfg->path, in->name);
        if (!strcmp(in->type, "syslog")) {
            if (!in->listen_udp && !in->listen_tcp && !in->listen_tls && !in->listen_unix)
                return vg_errf(eb, VG_ECONFIG, "%s: input '%s': a syslog input needs at least "
                               "one of udp, tcp, tls, unix (where to listen)", cfg->path, in->name);
            if (in->listen_tls && (!in->tls_cert_file || !in->tls_key_file))
                return vg_errf(eb, VG_ECONFIG, "%s: input '%s': tls needs tls_cert_file and "
                               "tls_key_file", cfg->path, in->name);
            if (in->tls_client_auth && !in->tls_ca_file)
                return vg_errf(eb, VG_ECONFIG, "%s: input '%s': tls_client_auth needs tls_ca_file",
                               cfg->path, in->name);
        }
        if (!strcmp(in->type, "journald")) {
            free(in->format);
            in->format = NULL; /* journald entries come structured */
        }
        if (in->format && !(in->parser = vg_parser_find(in->format))) {
            char names[256] = "";
            size_t l = 0;
            for (const vg_parser *const *p = vg_parser_all(); *p && l < sizeof names - 1; p++) {
                int w = snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", (*p)->name);
                l = w < 0 ? sizeof names - 1 : l + (size_t)w;
            }
            return vg_errf(eb, VG_ECONFIG, "%s: input '%s': unknown format '%s' (expected one "
                           "of: %s)", cfg->path, in->name, in->format, names);
        }
        if (in->timezone) {
            vg_err r = vg_tz_create(in->timezone, &in->tz, eb);
            if (r) {
                vg_err_prefix(eb, "%s: input '%s'", cfg->path, in->name);
                return r;
            }
        }
    }
    for (size_t i = 0; i < cfg->noutputs; i++) {
        vg_output_conf *o = &cfg->outputs[i];
        if (!o->name) {
            char n[64];
            snprintf(n, sizeof n, "%s%zu", o->type, i);
            if (!(o->name = strdup(n)))
                return vg_errf(eb, VG_ENOMEM, "out of memory");
        }
        if (!strcmp(o->type, "file") && !o->path)
            return vg_errf(eb, VG_ECONFIG, "%s: output '%s': a file output needs 'path'",
                           cfg->path, o->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->outputs[j].name, o->name))
                return vg_errf(eb, VG_ECONFIG, "%s: two outputs are named '%s'; names must be "
                               "unique (they key the spool's cursors and the statistics)",
                               cfg->path, o->name);
        if (!strcmp(o->type, "http") && !o->url)
            return vg_errf(eb, VG_ECONFIG, "%s: output '%s': an http output needs 'url'",
                           cfg->path, o->name);
        if (!strcmp(o->type, "syslog") && !o->address)
            return vg_errf(eb, VG_ECONFIG, "%s: output '%s': a syslog output needs 'address' "
                           "(host:port)", cfg->path, o->name);
        if (!strcmp(o->type, "relp") && !o->address)
            return vg_errf(eb, VG_ECONFIG, "%s: output '%s': a relp output needs 'address' "
                           "(host:port)", cfg->path, o->name);
#ifndef VG_HAVE_RELP
        if (!strcmp(o->type, "relp"))
            return vg_errf(eb, VG_ECONFIG, "%s: output '%s': this vigie was built without "
                           "librelp, so the relp output is not available (rebuild with "
                           "librelp-dev installed, or use type: syslog)", cfg->path, o->name);
#endif
        if (o->retry_max_ms < o->retry_min_ms)
            o->retry_max_ms = o->retry_min_ms;
        o->min_level_rank = vg_level_rank(o->min_level ? o->min_level : "informational");
    }
    return VG_OK;
}

static vg_config *config_new(void)
{
    vg_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    ctx c = {"(defaults)", NULL, NULL, NULL};
    apply_defaults(&c, top_opts, (char *)cfg);
    return cfg;
}

vg_err vg_config_defaults(vg_config **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_config *cfg = config_new();
    if (!cfg)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    cfg->path = strdup("(defaults)");
    vg_err r = finish(cfg, eb);
    if (r) {
        vg_config_destroy(cfg);
        return r;
    }
    *out = cfg;
    return VG_OK;
}

vg_err vg_config_load(const char *path, vg_config **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_config *cfg = config_new();
    char **names = NULL;
    size_t nnames = 0;
    vg_err r = VG_OK;
    if (!cfg)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    if (!(cfg->path = strdup(path))) {
        r = vg_errf(eb, VG_ENOMEM, "out of memory");
        goto out;
    }
    /* rules.paths given in a file replace the default list, then append. */
    bool user_paths = false;
    vg_strlist defaults = cfg->rule_paths;
    cfg->rule_paths = (vg_strlist){NULL, 0};
    if ((r = load_file(cfg, path, eb)))
        goto out_paths;

    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        strcpy(dir, "./");
    strncat(dir, "conf.d", sizeof dir - strlen(dir) - 1);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' ||
                !(has_ext(de->d_name, ".yml") || has_ext(de->d_name, ".yaml")))
                continue;
            char **nn = realloc(names, (nnames + 1) * sizeof *nn);
            if (!nn || !(nn[nnames] = strdup(de->d_name))) {
                if (nn)
                    names = nn;
                closedir(d);
                r = vg_errf(eb, VG_ENOMEM, "out of memory");
                goto out_paths;
            }
            names = nn;
            nnames++;
        }
        closedir(d);
        if (nnames) /* qsort(NULL, 0) is undefined */
            qsort(names, nnames, sizeof *names, cmp_str);
        for (size_t i = 0; i < nnames; i++) {
            char p[PATH_MAX + 256];
            snprintf(p, sizeof p, "%s/%s", dir, names[i]);
            if ((r = load_file(cfg, p, eb)))
                goto out_paths;
        }
    }
    user_paths = cfg->rule_paths.n > 0;
out_paths:
    if (user_paths) {
        vg_strlist_free(&defaults);
    } else {
        vg_strlist_free(&cfg->rule_paths);
        cfg->rule_paths = defaults;
    }
    if (!r)
        r = finish(cfg, eb);
out:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    if (r) {
        vg_config_destroy(cfg);
        return r;
    }
    *out = cfg;
    return VG_OK;
}

// NOLINTNEXTLINE(misc-no-recursion): follows o->sub of the static option tables (bounded by the schema, not the input)
static void free_opts(const vg_option *opts, char *base)
{
    for (const vg_option *o = opts; o->name; o++) {
        char *dst = base + o->off;
        switch (o->type) {
        case OPT_STR:
        case OPT_ENUMSTR:
            free(*(char **)dst);
            *(char **)dst = NULL;
            break;
        case OPT_STRLIST:
            vg_strlist_free((vg_strlist *)dst);
            break;
        case OPT_SECTION:
            free_opts(o->sub, dst);
            break;
        case OPT_LIST: {
            char *arr = *(char **)dst;
            size_t n = *(size_t *)(base + o->count_off);
            for (size_t i = 0; i < n; i++) {
                char *item = arr + i * o->item_size;
                free_opts(o->sub, item);
                if (o->sub == input_opts)
                    vg_tz_destroy(((vg_input_conf *)item)->tz);
                if (o->sub == override_opts)
                    free(((vg_rule_override *)item)->file);
            }
            free(arr);
            *(char **)dst = NULL;
            break;
        }
        case OPT_STRMAP: {
            vg_kv *arr = *(vg_kv **)dst;
            size_t n = *(size_t *)(base + o->count_off);
            for (size_t i = 0; i < n; i++) {
                free(arr[i].key);
                vg_strlist_free(&arr[i].values);
            }
            free(arr);
            *(vg_kv **)dst = NULL;
            break;
        }
        case OPT_EXCEPTIONS: {
            vg_rule_override *ov = (vg_rule_override *)base;
            for (size_t i = 0; i < ov->nexceptions; i++) {
                for (size_t j = 0; j < ov->exceptions[i].n; j++) {
                    free(ov->exceptions[i].items[j].key);
                    vg_strlist_free(&ov->exceptions[i].items[j].values);
                }
                free(ov->exceptions[i].items);
            }
            free(ov->exceptions);
            ov->exceptions = NULL;
            ov->nexceptions = 0;
            break;
        }
        default:
            break;
        }
    }
}

void vg_config_destroy(vg_config *c)
{
    if (!c)
        return;
    free_opts(top_opts, (char *)c);
    free(c->path);
    free(c);
}

int vg_level_rank(const char *level)
{
    if (!level)
        return -1;
    for (int i = 0; levels[i]; i++)
        if (!strcmp(levels[i], level))
            return i;
    return -1;
}

/* ---- reference ---- */

static const char *type_name(const vg_option *o)
{
    switch (o->type) {
    case OPT_BOOL:
    case OPT_TRIBOOL: return "bool";
    case OPT_INT: return "integer";
    case OPT_SIZE: return "size";
    case OPT_DURATION: return "duration";
    case OPT_STR: return "string";
    case OPT_ENUM:
    case OPT_ENUMSTR: return "enum";
    case OPT_STRLIST: return "list of strings";
    case OPT_SECTION: return "map";
    case OPT_LIST: return "list of maps";
    case OPT_EXCEPTIONS: return "list of selections";
    case OPT_STRMAP: return "map";
    }
    return "?";
}

// NOLINTNEXTLINE(misc-no-recursion): follows o->sub of the static option tables (bounded by the schema, not the input)
static void ref(FILE *out, const vg_option *opts, const char *prefix)
{
    for (const vg_option *o = opts; o->name; o++) {
        char key[128];
        snprintf(key, sizeof key, "%s%s", prefix, o->name);
        if (o->type == OPT_SECTION && o->off == 0 && opts == top_opts) {
            fprintf(out, "\n**`%s`** — %s\n\n| key | type | default | limits | help |\n"
                         "|---|---|---|---|---|\n", o->name, o->help);
            char p[128];
            snprintf(p, sizeof p, "%s.", o->name);
            ref(out, o->sub, p);
            continue;
        }
        if (o->type == OPT_LIST && opts == top_opts) {
            fprintf(out, "\n**`%s`** — %s (each entry:)\n\n| key | type | default | limits | "
                         "help |\n|---|---|---|---|---|\n", o->name, o->help);
            ref(out, o->sub, "");
            continue;
        }
        char lim[160] = "";
        if (o->enums) {
            char e[140];
            snprintf(lim, sizeof lim, "%s", enum_list(o->enums, e, sizeof e));
        } else if (o->min || o->max) {
            char lo[32], hi[32];
            fmt_human(o, o->min, lo, sizeof lo);
            fmt_human(o, o->max, hi, sizeof hi);
            snprintf(lim, sizeof lim, "%s – %s", lo, hi);
        }
        char help[400];
        snprintf(help, sizeof help, "%s%s%s%s", o->only ? "(" : "", o->only ? o->only : "",
                 o->only ? " only) " : "", o->help);
        fprintf(out, "| `%s` | %s | %s | %s | %s |\n", key, type_name(o), o->def ? o->def : "",
                lim, help);
        if (o->type == OPT_SECTION || o->type == OPT_LIST) {
            char p[160];
            snprintf(p, sizeof p, "%s.", key);
            ref(out, o->sub, p);
        }
    }
}

void vg_config_reference(FILE *out)
{
    ref(out, top_opts, "");
}

/* ---- reference as a manual page: vigie.yml(5) ----
   The same walk over the option tables as ref(), written as roff so the
   installed page cannot drift from the loader. Text is escaped for roff
   (backslashes, leading dots and quotes, non-ASCII as \[uXXXX]). */

static void man_text(FILE *out, const char *s, bool code)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '\\') {
            fputs("\\e", out);
        } else if (c == '-' && code) {
            fputs("\\-", out);
        } else if (c == '`') {
            fputs("\\(ga", out);
        } else if (c == '"') {
            fputs("\\(dq", out);
        } else if (c == '\n') {
            fputc(' ', out);
        } else if (c < 0x80) {
            fputc((int)c, out);
        } else {
            /* Decode one UTF-8 sequence; an invalid byte is printed as '?'. */
            int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
            uint32_t cp = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;
            int i = 1;
            for (; i < len && (p[i] & 0xc0) == 0x80; i++)
                cp = cp << 6 | (p[i] & 63);
            if (!len || i < len) {
                fputc('?', out);
            } else {
                fprintf(out, "\\[u%04" PRIX32 "]", cp);
                p += len - 1;
            }
        }
        p++;
    }
}

// NOLINTNEXTLINE(misc-no-recursion): follows o->sub of the static option tables (bounded by the schema, not the input)
static void man_opts(FILE *out, const vg_option *opts, const char *prefix)
{
    for (const vg_option *o = opts; o->name; o++) {
        char key[160];
        snprintf(key, sizeof key, "%s%s", prefix, o->name);
        if (opts == top_opts && (o->type == OPT_SECTION || o->type == OPT_LIST)) {
            fputs(".SS \"", out);
            man_text(out, o->name, true);
            fputs(": ", out);
            man_text(out, o->help, false);
            fputs(o->type == OPT_LIST ? " (a list; keys of each entry)\"\n" : "\"\n", out);
            char p[160];
            snprintf(p, sizeof p, "%s%s", o->type == OPT_LIST ? "" : o->name,
                     o->type == OPT_LIST ? "" : ".");
            man_opts(out, o->sub, p);
            continue;
        }
        fputs(".TP\n.B \"", out);
        man_text(out, key, true);
        fputs("\"\n\\&(", out);
        man_text(out, type_name(o), false);
        if (o->def && *o->def) {
            fputs("; default \\fB", out);
            man_text(out, o->def, true);
            fputs("\\fR", out);
        }
        if (o->enums) {
            char e[200];
            fputs("; one of \\fB", out);
            man_text(out, enum_list(o->enums, e, sizeof e), true);
            fputs("\\fR", out);
        } else if (o->min || o->max) {
            char lo[32], hi[32];
            fmt_human(o, o->min, lo, sizeof lo);
            fmt_human(o, o->max, hi, sizeof hi);
            fputs("; from \\fB", out);
            man_text(out, lo, true);
            fputs("\\fR to \\fB", out);
            man_text(out, hi, true);
            fputs("\\fR", out);
        }
        if (o->only) {
            fputs("; ", out);
            man_text(out, o->only, false);
            fputs(" only", out);
        }
        fputs(")\n\\&", out);
        man_text(out, o->help, false);
        fputs(".\n", out);
        if (o->type == OPT_SECTION || o->type == OPT_LIST) {
            char p[170];
            snprintf(p, sizeof p, "%s.", key);
            man_opts(out, o->sub, p);
        }
    }
}

void vg_config_reference_man(FILE *out)
{
    fputs(".\\\" Generated by `vigie config reference --format man` from the option\n"
          ".\\\" tables of agent/config.c: edit those, not this page.\n"
          ".TH VIGIE.YML 5 \"\" \"vigie " VG_VERSION "\" \"Vigie manual\"\n"
          ".SH NAME\nvigie.yml \\- configuration of the Vigie log detection agent\n"
          ".SH SYNOPSIS\n.B /etc/vigie/vigie.yml\n.br\n.B /etc/vigie/conf.d/*.yml\n"
          ".SH DESCRIPTION\n"
          ".BR vigie (8)\n"
          "reads its configuration from a YAML file (default \\fI/etc/vigie/vigie.yml\\fR,\n"
          "another with \\fB\\-c\\fR), then every \\fI*.yml\\fR and \\fI*.yaml\\fR file of the\n"
          "\\fIconf.d/\\fR directory beside it, in name order.\n"
          "A scalar set again by a later file replaces the earlier value; the lists\n"
          "\\fBinputs\\fR, \\fBoutputs\\fR, \\fBrules.paths\\fR and \\fBrules.overrides\\fR are\n"
          "appended to.\n"
          "Keep local changes in \\fIconf.d/\\fR: package upgrades of the main file then\n"
          "never conflict with them.\n"
          ".PP\n"
          "Unknown keys, wrong types and values out of range are errors that name the\n"
          "file, line and column and what was expected;\n"
          "\\fBvigie config check\\fR prints them without starting the agent.\n"
          ".SS Types\n"
          ".TP\n.B duration\n"
          "A number and a unit: \\fB200ms\\fR, \\fB5s\\fR, \\fB1m\\fR, \\fB1h\\fR.\n"
          ".TP\n.B size\n"
          "Bytes, optionally with a unit: \\fB512\\fR, \\fB64KiB\\fR, \\fB4MiB\\fR, \\fB1GiB\\fR.\n"
          ".TP\n.B list of strings\n"
          "A YAML sequence; a single string is accepted where the key says so.\n"
          ".TP\n.B list of selections\n"
          "Sigma selections (maps of \\fIfield\\fR|\\fImodifier\\fR: \\fIvalues\\fR), see\n"
          ".BR vigie\\-rules (7).\n"
          ".SH OPTIONS\n"
          "Each key is shown with its type, default, limits and, for list entries, the\n"
          "kinds of entry it applies to.\n",
          out);
    man_opts(out, top_opts, "");
    fputs(".SH EXAMPLE\n"
          ".EX\n"
          "inputs:\n"
          "  \\- name: nginx\n"
          "    type: file\n"
          "    paths: [/var/log/nginx/*access*.log]\n"
          "    format: access\n"
          "    logsource: {category: webserver}\n"
          "rules:\n"
          "  overrides:\n"
          "    \\- id: SSH Failed Password\n"
          "      level: medium\n"
          "      exceptions:\n"
          "        \\- src_ip: [10.20.0.5]\n"
          "outputs:\n"
          "  \\- name: local\n"
          "    type: file\n"
          "    path: /var/lib/vigie/alerts.json\n"
          ".EE\n"
          ".SH FILES\n"
          ".TP\n.I /etc/vigie/vigie.yml\nThe main configuration (a conffile of the package).\n"
          ".TP\n.I /etc/vigie/conf.d/\nLocal additions, applied in name order.\n"
          ".TP\n.I /etc/vigie/rules.d/\nLocal rules (in \\fBrules.paths\\fR by default).\n"
          ".TP\n.I /var/lib/vigie/\nState: positions, agent id, detector state, spool.\n"
          ".SH SEE ALSO\n"
          ".BR vigie (8),\n"
          ".BR vigie\\-rules (7)\n",
          out);
}

int vg_parse_duration_ms(const char *s, int64_t *ms)
{
    return parse_duration(s, ms);
}

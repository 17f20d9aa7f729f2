/*
 * alert.h - turning (rule, event) into an ECS-shaped JSON alert.
 *
 * The builder is per thread (it owns its buffer). vg_alert_build writes one
 * JSON object (no newline) into a->json; the vg_alert points to the rule and
 * event it was built from, which stay valid only until the batch is reset:
 * outputs that keep an alert copy a->json.
 *
 * event.id is deterministic: a 128-bit hash of the stream identity, the
 * line's offset in that stream and the rule id, so a re-read line gives the
 * same id and a collector can drop duplicates; it never depends on the path.
 */
#ifndef VG_ALERT_H
#define VG_ALERT_H

#include "../detectors/rule.h"
#include "event.h"
#include "json.h"
#include "reckeys.h"

typedef struct vg_agent_info {
    const char *hostname;
    const char *agent_id;
    const char *version;
    size_t max_message; /* bytes of the original line kept */
} vg_agent_info;

typedef struct vg_alert {
    const vg_rule_meta *rule;
    const vg_event *ev;
    int64_t created_ns;
    char id[33];     /* event.id, hex */
    const char *summary; /* stateful alerts: "count 279 (final) ip=...", else NULL; valid
                            while the alert is being written */
    vg_buf json;     /* the alert, one JSON object without newline */
    vg_reckeys keys; /* where its key values are in json (for the transports) */
} vg_alert;

void vg_alert_init(vg_alert *a);
void vg_alert_free(vg_alert *a);

/* Build the alert for rule r on event ev. Returns false when the alert did not
   fit the buffer cap (counted by the caller). */
bool vg_alert_build(vg_alert *a, const vg_agent_info *info, const vg_rule_meta *r,
                    const vg_event *ev, int64_t now_ns);

/* A forwarded raw event (event.kind "event"), compact: @timestamp, event.id
   ("<12 hex of the stream's hash>:<line number>" for files, "...-<offset>"
   otherwise: deterministic, unique per line), host.name, agent.id, log.file.path (or log.journald_unit),
   log.offset, message. k (may be NULL) gets where the key values are.
   Returns false when it did not fit b's cap. */
bool vg_event_record_build(vg_buf *b, const vg_agent_info *info, const vg_event *ev,
                           int64_t now_ns, vg_reckeys *k);

/* Optional parts of a stateful alert (detectors/stateful.h): members added
   inside "vigie" (a JSON fragment without braces: "count":12,"group":{...}),
   and a key (a correlation window's) that replaces the stream identity and
   offset in event.id, so each window and update has its own stable id. */
typedef struct vg_alert_extra {
    const char *vigie_json;
    const char *id_key;
    const char *summary; /* for text output (vg_alert.summary) */
} vg_alert_extra;

/* vg_alert_build with extra parts (x may be NULL). */
bool vg_alert_build_ex(vg_alert *a, const vg_agent_info *info, const vg_rule_meta *r,
                       const vg_event *ev, int64_t now_ns, const vg_alert_extra *x);

/* ECS event.severity of a Sigma level rank (documented mapping). */
int vg_alert_severity(int level_rank);

/* The deterministic event.id (32 hex chars + NUL). */
void vg_alert_id(char out[33], const char *stream_id, uint64_t offset, const char *rule_id);

/* Field names the alert reads source.ip / user.name from, in order. */
extern const char *const vg_alert_ip_fields[];
extern const char *const vg_alert_user_fields[];

#endif

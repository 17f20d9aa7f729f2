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
    vg_buf json;     /* the alert, one JSON object without newline */
} vg_alert;

void vg_alert_init(vg_alert *a);
void vg_alert_free(vg_alert *a);

/* Build the alert for rule r on event ev. Returns false when the alert did not
   fit the buffer cap (counted by the caller). */
bool vg_alert_build(vg_alert *a, const vg_agent_info *info, const vg_rule_meta *r,
                    const vg_event *ev, int64_t now_ns);

/* A forwarded raw event (event.kind "event"): the alert's document without
   rule and threat; event.id is the hash of stream and offset. Returns
   false when it did not fit b's cap. */
bool vg_event_record_build(vg_buf *b, const vg_agent_info *info, const vg_event *ev,
                           int64_t now_ns);

/* ECS event.severity of a Sigma level rank (documented mapping). */
int vg_alert_severity(int level_rank);

/* The deterministic event.id (32 hex chars + NUL). */
void vg_alert_id(char out[33], const char *stream_id, uint64_t offset, const char *rule_id);

/* Field names the alert reads source.ip / user.name from, in order. */
extern const char *const vg_alert_ip_fields[];
extern const char *const vg_alert_user_fields[];

#endif

/*
 * logsource.c - routing of events to rules: a rule's logsource accepts an
 * event when every field the rule sets (product, category, service) equals
 * the event's (ASCII case-insensitive). The service matches either the
 * input's configured service or the service derived from the program name
 * (ev->service2, e.g. "sshd"). A field the rule sets but the event lacks
 * rejects; a field the rule leaves out accepts anything.
 */
#include "rule.h"

#include <strings.h>

static bool same(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

bool vg_logsource_accepts(const vg_logsource *rule, const vg_event *ev)
{
    const vg_logsource *e = ev->logsource;
    if (rule->product && !(e && same(rule->product, e->product)))
        return false;
    if (rule->category && !(e && same(rule->category, e->category)))
        return false;
    if (rule->service &&
        !((e && same(rule->service, e->service)) || same(rule->service, ev->service2)))
        return false;
    return true;
}

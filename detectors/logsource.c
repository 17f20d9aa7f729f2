/*
 * logsource.c - routing of events to rules: a rule's logsource accepts an
 * event when every field the rule sets (product, category, service) equals
 * the event's (ASCII case-insensitive). The service matches either the
 * input's configured service or the service derived from the program name
 * (ev->service2, e.g. "sshd"). A field the rule sets but the event lacks
 * rejects; a field the rule leaves out accepts anything. Also the release
 * of a rule's metadata (rule.h), shared by the rule languages.
 */
#include "rule.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void vg_logsource_parse(const char *arg, char *buf, size_t n, vg_logsource *ls)
{
    snprintf(buf, n, "%s", arg);
    memset(ls, 0, sizeof *ls);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        ls->product = buf;
        ls->service = slash[1] ? slash + 1 : NULL;
    } else if (!strcmp(buf, "linux") || !strcmp(buf, "windows") || !strcmp(buf, "macos")) {
        ls->product = buf;
    } else {
        ls->category = buf;
    }
}

void vg_rule_meta_free(vg_rule_meta *m)
{
    free(m->id);
    free(m->title);
    free(m->description);
    free(m->level);
    free(m->status);
    free(m->author);
    vg_strlist_free(&m->tags);
    vg_strlist_free(&m->references);
    vg_strlist_free(&m->falsepositives);
    free(m->ruleset_version);
    free((char *)m->logsource.product);
    free((char *)m->logsource.category);
    free((char *)m->logsource.service);
    free(m->file);
    free(m->name);
    if (m->x_vigie)
        json_decref(m->x_vigie);
}

/* collector.c - the registry of collectors by config type name; see collector.h. */
#include "collector.h"
#include "listen.h"

#include <string.h>

static const vg_collector_ops *const collectors[] = {
    &vg_collector_file,
    &vg_collector_journald,
    &vg_collector_syslog,
};

const vg_collector_ops *vg_collector_find(const char *type)
{
    if (!type)
        return NULL;
    for (size_t i = 0; i < sizeof collectors / sizeof collectors[0]; i++)
        if (strcmp(collectors[i]->type, type) == 0)
            return collectors[i];
    return NULL;
}

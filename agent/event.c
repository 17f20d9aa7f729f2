/* event.c - strings, the batch arena, events and batches; see event.h. */
#include "event.h"

#include <stdlib.h>
#include <string.h>

bool vg_str_eq(vg_str a, vg_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}


/* ---- arena ---- */

struct vg_arena_block {
    vg_arena_block *next;
    size_t size, used;
    _Alignas(16) char data[];
};

#define ARENA_BLOCK 65536

void vg_arena_init(vg_arena *a, size_t cap)
{
    a->head = NULL;
    a->used_total = 0;
    a->cap = cap;
}

void *vg_arena_alloc(vg_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n || a->used_total + need > a->cap)
        return NULL;
    vg_arena_block *b = a->head;
    if (!b || b->size - b->used < need) {
        size_t size = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used_total += need;
    return p;
}

char *vg_arena_strndup(vg_arena *a, const char *p, size_t n)
{
    char *d = vg_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void vg_arena_reset(vg_arena *a)
{
    /* Keep the oldest block (the usual steady-state need), free the rest. */
    vg_arena_block *b = a->head, *keep = NULL;
    while (b) {
        vg_arena_block *next = b->next;
        if (!next) {
            keep = b;
        } else {
            free(b);
        }
        b = next;
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->used_total = 0;
}

void vg_arena_destroy(vg_arena *a)
{
    vg_arena_block *b = a->head;
    while (b) {
        vg_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

/* ---- events ---- */

const vg_str *vg_event_get(const vg_event *ev, vg_str name)
{
    if (!(ev->name_bloom & vg_field_bit(name)))
        return NULL;
    for (unsigned i = 0; i < ev->nfields; i++)
        if (ev->fields[i].name.n == name.n &&
            memcmp(ev->fields[i].name.p, name.p, name.n) == 0)
            return &ev->fields[i].value;
    return NULL;
}

bool vg_event_set(vg_event *ev, vg_str name, vg_str value)
{
    uint64_t bit = vg_field_bit(name);
    if (ev->name_bloom & bit)
        for (unsigned i = 0; i < ev->nfields; i++)
            if (vg_str_eq(ev->fields[i].name, name)) {
                ev->fields[i].value = value;
                return true;
            }
    return vg_event_append(ev, name, value);
}

bool vg_event_append(vg_event *ev, vg_str name, vg_str value)
{
    if (ev->nfields >= VG_EVENT_MAX_FIELDS) {
        ev->flags |= VG_EV_FIELDS_DROPPED;
        return false;
    }
    ev->fields[ev->nfields].name = name;
    ev->fields[ev->nfields].value = value;
    ev->nfields++;
    ev->name_bloom |= vg_field_bit(name);
    return true;
}

void vg_event_clear_fields(vg_event *ev)
{
    ev->nfields = 0;
    ev->name_bloom = 0;
}

void vg_event_clear(vg_event *ev)
{
    /* The fields array is not cleared: nfields bounds what is read. */
    ev->ts_ns = 0;
    ev->raw = VG_STR_NULL;
    ev->stream = NULL;
    ev->offset = 0;
    ev->line = 0;
    ev->flags = 0;
    ev->logsource = NULL;
    ev->service2 = NULL;
    ev->vigie_extra = NULL;
    ev->hostname = ev->program = ev->pid = ev->message = VG_STR_NULL;
    ev->nfields = 0;
    ev->name_bloom = 0;
}

int vg_batch_init(vg_batch *b, size_t cap, size_t arena_cap)
{
    b->ev = calloc(cap, sizeof *b->ev);
    if (!b->ev)
        return -1;
    b->n = 0;
    b->cap = cap;
    vg_arena_init(&b->arena, arena_cap);
    return 0;
}

vg_event *vg_batch_push(vg_batch *b)
{
    if (b->n >= b->cap)
        return NULL;
    vg_event *ev = &b->ev[b->n++];
    vg_event_clear(ev);
    return ev;
}

void vg_batch_pop(vg_batch *b)
{
    if (b->n)
        b->n--;
}

void vg_batch_reset(vg_batch *b)
{
    b->n = 0;
    vg_arena_reset(&b->arena);
}

void vg_batch_destroy(vg_batch *b)
{
    if (!b)
        return;
    free(b->ev);
    b->ev = NULL;
    b->n = b->cap = 0;
    vg_arena_destroy(&b->arena);
}

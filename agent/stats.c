/*
 * stats.c - the statistics registry; see stats.h.
 *
 * Counters are allocated in fixed chunks that never move, so a pointer handed
 * out stays valid for the registry's life. Registration takes a mutex and
 * finds existing counters through a hash index (thousands of rules register
 * four counters each); bumping is a relaxed atomic add.
 */
#include "stats.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *name, *label, *value;
    vg_counter c;
    int gauge; /* set under the lock by vg_stats_gauge */
} entry;

#define CHUNK 1024
#define NCHUNKS (VG_STATS_MAX / CHUNK)
#define HASH_SIZE (VG_STATS_MAX * 2) /* open addressing, power of two */

struct vg_stats {
    pthread_mutex_t lock;
    entry *chunk[NCHUNKS]; /* allocated on demand; entries never move */
    size_t n;
    uint32_t *index;       /* HASH_SIZE slots: entry number + 1, 0 = empty */
    vg_counter overflow;   /* handed out when full */
};

static entry *at(vg_stats *st, size_t i)
{
    return &st->chunk[i / CHUNK][i % CHUNK];
}

static uint32_t hash3(const char *a, const char *b, const char *c)
{
    uint32_t h = 2166136261u;
    const char *parts[3] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        for (const char *p = parts[k] ? parts[k] : ""; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        h = (h ^ 0xff) * 16777619u;
    }
    return h;
}

vg_stats *vg_stats_create(void)
{
    vg_stats *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->index = calloc(HASH_SIZE, sizeof *st->index);
    if (!st->index) {
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->lock, NULL);
    return st;
}

void vg_stats_destroy(vg_stats *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(at(st, i)->name);
        free(at(st, i)->label);
        free(at(st, i)->value);
    }
    for (size_t c = 0; c < NCHUNKS; c++)
        free(st->chunk[c]);
    free(st->index);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static int streq0(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

vg_counter *vg_stats_counter(vg_stats *st, const char *name, const char *label, const char *value)
{
    if (!label)
        value = NULL;
    pthread_mutex_lock(&st->lock);
    uint32_t slot = hash3(name, label, value) & (HASH_SIZE - 1);
    for (; st->index[slot]; slot = (slot + 1) & (HASH_SIZE - 1)) {
        entry *e = at(st, st->index[slot] - 1);
        if (strcmp(e->name, name) == 0 && streq0(e->label, label) && streq0(e->value, value)) {
            pthread_mutex_unlock(&st->lock);
            return &e->c;
        }
    }
    vg_counter *c = &st->overflow;
    if (st->n < VG_STATS_MAX) {
        size_t ci = st->n / CHUNK;
        if (!st->chunk[ci])
            st->chunk[ci] = calloc(CHUNK, sizeof(entry));
        if (st->chunk[ci]) {
            entry *e = at(st, st->n);
            e->name = strdup(name);
            e->label = label ? strdup(label) : NULL;
            e->value = value ? strdup(value) : NULL;
            if (e->name && (!label || (e->label && e->value))) {
                st->n++;
                st->index[slot] = (uint32_t)st->n;
                c = &e->c;
            } else {
                free(e->name);
                free(e->label);
                free(e->value);
                memset(e, 0, sizeof *e);
            }
        }
    }
    pthread_mutex_unlock(&st->lock);
    return c;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    r = strcmp(x->label ? x->label : "", y->label ? y->label : "");
    if (r)
        return r;
    return strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

void vg_stats_print(vg_stats *st, FILE *out)
{
    pthread_mutex_lock(&st->lock);
    size_t n = st->n;
    entry **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&st->lock);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = at(st, i);
    pthread_mutex_unlock(&st->lock);
    qsort(v, n, sizeof *v, cmp_entry);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = vg_counter_get(&v[i]->c);
        if (!x)
            continue;
        if (v[i]->label) {
            /* Label values may come from file names: print them escaped. */
            fprintf(out, "%s{%s=\"", v[i]->name, v[i]->label);
            for (const unsigned char *p = (const unsigned char *)v[i]->value; *p; p++) {
                if (*p == '"' || *p == '\\')
                    fprintf(out, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                    fprintf(out, "\\x%02x", *p);
                else
                    fputc(*p, out);
            }
            fprintf(out, "\"} %llu\n", (unsigned long long)x);
        } else {
            fprintf(out, "%s %llu\n", v[i]->name, (unsigned long long)x);
        }
    }
    uint64_t ov = vg_counter_get(&st->overflow);
    if (ov)
        fprintf(out, "stats.overflow %llu\n", (unsigned long long)ov);
    free(v);
}

uint64_t vg_stats_sum(vg_stats *st, const char *name)
{
    uint64_t s = 0;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(at(st, i)->name, name) == 0)
            s += vg_counter_get(&at(st, i)->c);
    pthread_mutex_unlock(&st->lock);
    return s;
}

static int cmp_value_desc(const void *a, const void *b)
{
    uint64_t x = vg_counter_get(&(*(entry *const *)a)->c);
    uint64_t y = vg_counter_get(&(*(entry *const *)b)->c);
    return x < y ? 1 : x > y ? -1 : 0;
}

void vg_stats_print_matching(vg_stats *st, FILE *out, const char *name)
{
    pthread_mutex_lock(&st->lock);
    entry **v = malloc((st->n ? st->n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; v && i < st->n; i++)
        if (!strcmp(at(st, i)->name, name) && vg_counter_get(&at(st, i)->c))
            v[k++] = at(st, i);
    pthread_mutex_unlock(&st->lock);
    if (!v)
        return;
    qsort(v, k, sizeof *v, cmp_value_desc);
    for (size_t i = 0; i < k; i++)
        fprintf(out, "  %10llu  %s\n", (unsigned long long)vg_counter_get(&v[i]->c),
                v[i]->value ? v[i]->value : "");
    free(v);
}

vg_counter *vg_stats_gauge(vg_stats *st, const char *name, const char *label, const char *value)
{
    vg_counter *c = vg_stats_counter(st, name, label, value);
    if (c != &st->overflow) {
        pthread_mutex_lock(&st->lock);
        ((entry *)(void *)((char *)c - offsetof(entry, c)))->gauge = 1;
        pthread_mutex_unlock(&st->lock);
    }
    return c;
}

void vg_stats_foreach(vg_stats *st, void (*fn)(void *ud, const vg_stat_item *it), void *ud)
{
    pthread_mutex_lock(&st->lock);
    size_t n = st->n;
    entry **v = malloc((n ? n : 1) * sizeof *v);
    int *g = malloc((n ? n : 1) * sizeof *g);
    if (!v || !g) {
        pthread_mutex_unlock(&st->lock);
        free(v);
        free(g);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = at(st, i);
    pthread_mutex_unlock(&st->lock);
    /* Entries never move and their strings never change once counted in n. */
    qsort(v, n, sizeof *v, cmp_entry);
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < n; i++)
        g[i] = v[i]->gauge;
    pthread_mutex_unlock(&st->lock);
    for (size_t i = 0; i < n; i++) {
        vg_stat_item it = {v[i]->name, v[i]->label, v[i]->value, vg_counter_get(&v[i]->c), g[i]};
        fn(ud, &it);
    }
    uint64_t ov = vg_counter_get(&st->overflow);
    if (ov) {
        vg_stat_item it = {"stats.overflow", NULL, NULL, ov, 0};
        fn(ud, &it);
    }
    free(v);
    free(g);
}

/* Length of the valid UTF-8 sequence at p (2..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p)
{
    size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (p[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* "vigie_" + name with bytes outside [a-zA-Z0-9_] as '_' + suffix. */
static char *prom_name(const char *name, const char *suffix)
{
    size_t n = strlen(name);
    char *m = malloc(6 + n + strlen(suffix) + 1);
    if (!m)
        return NULL;
    memcpy(m, "vigie_", 6);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        m[6 + i] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') ? c : '_');
    }
    strcpy(m + 6 + n, suffix);
    return m;
}

typedef struct prom_item {
    vg_stat_item it;
    char *pname;
} prom_item;

typedef struct prom_ctx {
    prom_item *v;
    size_t n, cap;
} prom_ctx;

static void prom_collect(void *ud, const vg_stat_item *it)
{
    prom_ctx *pc = ud;
    if (pc->n == pc->cap) {
        size_t cap = pc->cap ? pc->cap * 2 : 256;
        prom_item *v = realloc(pc->v, cap * sizeof *v);
        if (!v)
            return;
        pc->v = v;
        pc->cap = cap;
    }
    char *pn = prom_name(it->name, it->gauge ? "" : "_total");
    if (!pn)
        return;
    pc->v[pc->n].it = *it;
    pc->v[pc->n++].pname = pn;
}

/* By exposed name: two registry names that map to one (output.errors and
   output_errors) form one family, with one TYPE line, as the format wants. */
static int cmp_prom(const void *a, const void *b)
{
    const prom_item *x = a, *y = b;
    int r = strcmp(x->pname, y->pname);
    if (r)
        return r;
    r = strcmp(x->it.label ? x->it.label : "", y->it.label ? y->it.label : "");
    if (r)
        return r;
    return strcmp(x->it.value ? x->it.value : "", y->it.value ? y->it.value : "");
}

static void prom_print(FILE *out, const prom_item *p, const char *family)
{
    const vg_stat_item *it = &p->it;
    if (!family || strcmp(family, p->pname))
        fprintf(out, "# HELP %s Vigie %s %s\n# TYPE %s %s\n", p->pname,
                it->gauge ? "gauge" : "counter", it->name, p->pname,
                it->gauge ? "gauge" : "counter");
    fputs(p->pname, out);
    if (it->label) {
        fputc('{', out);
        for (const unsigned char *q = (const unsigned char *)it->label; *q; q++)
            fputc((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                      (*q >= '0' && *q <= '9' && q != (const unsigned char *)it->label)
                      ? *q : '_', out);
        fputs("=\"", out);
        for (const unsigned char *q = (const unsigned char *)it->value; *q; q++) {
            size_t k;
            if (*q == '\\' || *q == '"')
                fprintf(out, "\\%c", *q);
            else if (*q == '\n')
                fputs("\\n", out);
            else if (*q < 0x20 || *q == 0x7f)
                fputc('?', out); // NOLINT(bugprone-branch-clone): controls and bad UTF-8 both print '?'
            else if (*q < 0x80)
                fputc(*q, out);
            else if ((k = utf8_seq(q))) {
                (void)fwrite(q, 1, k, out); /* the caller checks the stream */
                q += k - 1;
            } else
                fputc('?', out);
        }
        fputs("\"}", out);
    }
    fprintf(out, " %llu\n", (unsigned long long)it->v);
}

void vg_stats_print_prometheus(vg_stats *st, FILE *out)
{
    prom_ctx pc = {NULL, 0, 0};
    vg_stats_foreach(st, prom_collect, &pc);
    if (pc.n)
        qsort(pc.v, pc.n, sizeof *pc.v, cmp_prom);
    for (size_t i = 0; i < pc.n; i++)
        prom_print(out, &pc.v[i], i ? pc.v[i - 1].pname : NULL);
    for (size_t i = 0; i < pc.n; i++)
        free(pc.v[i].pname);
    free(pc.v);
}

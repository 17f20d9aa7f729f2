/*
 * stats.h - the statistics registry.
 *
 * Every part registers its counters once (at start-up or when a new stream
 * or rule appears) under a dotted name and labels, e.g.
 *   vg_counter *c = vg_stats_counter(st, "input.lines", "input", "auth");
 * and then bumps them with vg_counter_add(c, n), lock-free (relaxed atomics),
 * from any thread. Counters live as long as the registry. The registry is
 * printed as a summary at exit and on SIGUSR1, and later exported as metrics.
 *
 * Limits: at most VG_STATS_MAX counters (allocated 1,024 at a time); past that vg_stats_counter returns
 * a shared "overflow" counter and the registry counts how often that
 * happened (stats.overflow), so a caller never gets NULL.
 */
#ifndef VG_STATS_H
#define VG_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define VG_STATS_MAX 65536 /* counters; four per rule, so 16,000 rules */

typedef struct vg_counter {
    _Atomic uint64_t v;
} vg_counter;

typedef struct vg_stats vg_stats;

vg_stats *vg_stats_create(void);
void vg_stats_destroy(vg_stats *st);

/* Find or create the counter `name{label=value}`; label may be NULL. */
vg_counter *vg_stats_counter(vg_stats *st, const char *name, const char *label, const char *value);

static inline void vg_counter_add(vg_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}
static inline uint64_t vg_counter_get(const vg_counter *c)
{
    return atomic_load_explicit(&((vg_counter *)c)->v, memory_order_relaxed);
}

/* Print all non-zero counters, one per line "name{label="value"} N", sorted. */
void vg_stats_print(vg_stats *st, FILE *out);

/* Print the non-zero counters of one name, largest first, "  value  N". */
void vg_stats_print_matching(vg_stats *st, FILE *out, const char *name);

/* Sum of a counter over all its labels (e.g. total "alerts"). */
uint64_t vg_stats_sum(vg_stats *st, const char *name);

/*
 * Gauges: values that go up and down (spool bytes, age of the oldest batch,
 * lag). Same registry and limits as counters; vg_stats_gauge marks the entry
 * as a gauge (TYPE gauge in Prometheus output) and vg_gauge_set stores.
 * Name units in the name: spool.oldest_age_seconds, input.lag_bytes.
 */
vg_counter *vg_stats_gauge(vg_stats *st, const char *name, const char *label, const char *value);
static inline void vg_gauge_set(vg_counter *c, uint64_t v)
{
    atomic_store_explicit(&c->v, v, memory_order_relaxed);
}

/* One entry of a snapshot: strings valid for the registry's life. */
typedef struct vg_stat_item {
    const char *name, *label, *value; /* label, value NULL when unlabelled */
    uint64_t v;
    int gauge;
} vg_stat_item;

/* Call fn for every registered entry (zeros included), sorted by name,
   label, value. Safe against concurrent registration and bumps (a mutex
   while the list is copied; values read atomically). */
void vg_stats_foreach(vg_stats *st, void (*fn)(void *ud, const vg_stat_item *it), void *ud);

/*
 * Print every entry in the Prometheus text exposition format (0.0.4):
 * "vigie_" + name with non [a-zA-Z0-9_] bytes as '_' (+ "_total" for
 * counters), one HELP and TYPE line per name. Label values are escaped as
 * the format says (backslash, double quote, newline); other control bytes and
 * invalid UTF-8 become '?', so a hostile file name cannot break a scrape.
 */
void vg_stats_print_prometheus(vg_stats *st, FILE *out);

#endif

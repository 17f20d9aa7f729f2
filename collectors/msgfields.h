/*
 * msgfields.h - fields from the text of syslog-style messages, by parser
 * definitions: YAML files of PCRE2 named-capture patterns per program, that
 * users extend without writing C (e.g. sshd "Failed password for root from
 * 1.2.3.4 port 22" -> user, src_ip, src_port).
 *
 * Applied after the format parser (and to journald entries), on ev->message,
 * selected by ev->program. Captured values point into ev->message (no copy),
 * so they stay substrings of ev->raw (the prefilter relies on that).
 * Field names point into the vg_msgfields: keep it alive (e.g. across a
 * reload) until the events it filled are done with.
 * Immutable after load; apply() is thread-safe with one scratch per thread;
 * a scratch is sized for the vg_msgfields it was created from.
 */
#ifndef VG_MSGFIELDS_H
#define VG_MSGFIELDS_H

#include <stddef.h>

#include "../agent/config.h"
#include "../agent/err.h"
#include "../agent/event.h"
#include "../detectors/rule.h"

typedef struct vg_msgfields vg_msgfields;
typedef struct vg_msgfields_scratch vg_msgfields_scratch;

/*
 * Load every definitions file in `paths` (files, or directories whose *.yml
 * / *.yaml files are read in name order; a path that does not exist is
 * skipped). A bad pattern or key is reported through diag with
 * file:line:col and skipped; the others load. Fails only on memory
 * exhaustion. *out is never NULL on VG_OK (possibly empty).
 */
vg_err vg_msgfields_load(const vg_strlist *paths, uint32_t match_limit, vg_diag_fn diag, void *ud,
                         vg_msgfields **out, vg_errbuf *eb);
void vg_msgfields_destroy(vg_msgfields *m);

/* Every field name a pattern can set, for any program (duplicates possible). */
void vg_msgfields_names(const vg_msgfields *m, void (*fn)(void *ud, const char *name, size_t n),
                        void *ud);

/* Number of patterns loaded (for logs and `config check`). */
size_t vg_msgfields_count(const vg_msgfields *m);

vg_msgfields_scratch *vg_msgfields_scratch_create(const vg_msgfields *m);
void vg_msgfields_scratch_destroy(vg_msgfields_scratch *s);
/* Regex limit hits (match limit, JIT stack) of apply() calls with this scratch;
   each counted as no match. For the statistics. */
uint64_t vg_msgfields_scratch_limit_hits(const vg_msgfields_scratch *s);

/* Add the fields of the first matching pattern of ev's program to ev.
   Returns the number of fields added. Existing fields are not replaced. */
size_t vg_msgfields_apply(const vg_msgfields *m, vg_msgfields_scratch *s, vg_event *ev);

#endif

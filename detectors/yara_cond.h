/*
 * yara_cond.h - the strings a YARA rule cannot match without, from the top
 * level of its condition (see yara_cond.c for what is read). Used to pick
 * the needles of a rule: any one necessary group is enough.
 */
#ifndef VG_YARA_COND_H
#define VG_YARA_COND_H

#include <stdbool.h>
#include <stddef.h>

/* A necessary group: patterns "$a", "$a*", "$*" (them), comma-separated
   when several (one of them must match). `all`: from `all of`. */
typedef void (*vg_yara_group_fn)(void *ud, const char *patterns, size_t n, bool all);

/* Report the necessary groups of `rule` in src. False when the condition
   was not read (nothing is known; some groups may have been reported:
   the caller must then ignore them). */
bool vg_yara_cond_groups(const char *src, size_t n, const char *rule, vg_yara_group_fn fn,
                         void *ud);

#endif

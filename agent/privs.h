/*
 * privs.h - dropping root: `vigie run` started as root keeps only what the
 * configuration asks for.
 *
 * Started as root with agent.user set, the agent gives its state directory to
 * that user, then calls setgroups (the user's groups, e.g. adm), setgid and
 * setuid, in that order, each checked, and keeps only the capabilities of
 * agent.capabilities (PR_SET_KEEPCAPS across setuid, then cap_set_proc; every
 * other capability also leaves the bounding set). The result is verified
 * (getresuid/getresgid, setuid(0) must fail, CapEff of /proc/self/status
 * equals the list) and said in one log line. Privileges only move toward
 * less: nothing is ever raised again.
 *
 * Without agent.user, a root agent refuses to go on unless --allow-root.
 * Not started as root: nothing to drop (the systemd unit starts it as vigie).
 */
#ifndef VG_PRIVS_H
#define VG_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/*
 * Drop privileges as described above. Call from the main thread before
 * other threads start (capabilities are per thread: threads that exist at
 * the drop end with none). VG_EPERM when root without agent.user and
 * !allow_root, or when a step fails (the process must then exit);
 * VG_ECONFIG for an unknown user, group or capability.
 */
vg_err vg_privs_drop(const vg_config *cfg, bool allow_root, vg_errbuf *eb);

/* The capability set (bit i = capability i) of names such as
   "cap_dac_read_search" or "CAP_NET_BIND_SERVICE". */
vg_err vg_privs_cap_mask(const vg_strlist *names, uint64_t *mask, vg_errbuf *eb);

/* The value of field ("CapEff", "Uid", ...) in /proc/self/status text:
   hexadecimal for Cap*, else the first decimal number. -1 if absent. */
int vg_privs_status_field(const char *status_text, const char *field, uint64_t *value);

#endif

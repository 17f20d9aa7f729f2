/*
 * sandbox.h - confining the running agent (`vigie run`, agent.sandbox).
 *
 * After the privilege drop and before any thread starts, the agent gives
 * up, for good, what a log agent never needs:
 *
 *  - a seccomp filter (libseccomp) denies system calls such as execve,
 *    ptrace, mount, bpf, module loading, kexec, keyrings, namespaces
 *    (unshare, setns, clone with CLONE_NEW*), clock setting, setuid & co.
 *    A denied call fails with EPERM (the agent stays alive if a library
 *    tries one; the kernel logs it) rather than killing the process: the
 *    agent must never go blind because of its own sandbox. Calls of a
 *    foreign architecture (int 0x80, x32) kill the process: native code
 *    never makes them. Default action: allow (a deny list), because an
 *    allow list would have to follow glibc, libcurl, OpenSSL, libsystemd
 *    and libyara from version to version.
 *  - Landlock (when the kernel has it) limits where the agent may write,
 *    create, rename, delete, and executes nothing: writes go only beneath
 *    the state directory (spool, positions, status socket), the
 *    directories of file outputs, the directories of unix-socket
 *    listeners, and /dev/null. Reading is not restricted: inputs are
 *    globs, a reload may add some, and YARA file scans open paths named in
 *    log lines; reading stays bounded by the user's rights (agent.user,
 *    agent.capabilities). A compromised agent thus cannot rewrite the logs
 *    it watches, plant files or run programs.
 *
 * Both are applied to the calling thread and inherited by threads it starts
 * later (seccomp also synchronises threads that already exist). A kernel
 * without a feature: the agent runs without it and says so once.
 *
 * A reload cannot widen the sandbox: vg_sandbox_check refuses a new
 * configuration that would write outside it, naming the path and saying a
 * restart is needed, and the running configuration stays.
 */
#ifndef VG_SANDBOX_H
#define VG_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

/* Rights on one directory (or file) of a plan. */
enum {
    VG_SANDBOX_TREE = 1,   /* everything beneath (the state directory) */
    VG_SANDBOX_FILES = 2,  /* create, write, truncate, rename, delete regular files beneath */
    VG_SANDBOX_SOCKET = 4, /* create and delete unix sockets beneath */
    VG_SANDBOX_WRITE = 8,  /* write this one existing file (a device, a FIFO) */
};

typedef struct vg_sandbox_dir {
    char *path;      /* absolute; resolved (realpath) when it exists */
    unsigned access; /* VG_SANDBOX_* */
    bool missing;    /* does not exist: no rule can be added for it */
    char *why;       /* "state_dir", "output 'alerts'", ... */
} vg_sandbox_dir;

/* Where a configuration needs to write. */
typedef struct vg_sandbox_plan {
    vg_sandbox_dir *dirs;
    size_t n;
} vg_sandbox_plan;

/*
 * The plan of cfg: the state directory (TREE), the directory of each file
 * output (FILES; WRITE on the path itself when it is a device or FIFO), the
 * directory of each unix listener (SOCKET), /dev/null (WRITE), and in
 * sanitizer builds the directories of ASAN_OPTIONS/UBSAN_OPTIONS log_path.
 * Entries with the same path are merged. Pure apart from realpath/stat.
 * On error (VG_ENOMEM) the plan is empty.
 */
vg_err vg_sandbox_plan_build(const vg_config *cfg, vg_sandbox_plan *plan, vg_errbuf *eb);

void vg_sandbox_plan_free(vg_sandbox_plan *plan);

/*
 * VG_OK when every entry of need lies beneath an entry of have with at
 * least its rights (TREE covers everything); else VG_EPERM with a message
 * naming the first uncovered entry.
 */
vg_err vg_sandbox_plan_covers(const vg_sandbox_plan *have, const vg_sandbox_plan *need,
                              vg_errbuf *eb);

typedef struct vg_sandbox vg_sandbox;

/*
 * Apply the sandbox for cfg to the calling process, in two steps:
 *
 * vg_sandbox_begin: PR_SET_NO_NEW_PRIVS and Landlock. Landlock confines the
 * calling thread and the threads it starts later (no thread sync before
 * Landlock ABI 8): call it from the main thread once the state directory
 * exists and before any thread starts (the YARA file-scan worker starts
 * with the ruleset). It does not hinder the privilege drop.
 * vg_sandbox_finish: the seccomp filter, synchronised to every thread
 * (TSYNC); it denies setuid & co, so call it after vg_privs_drop. Then one
 * log line says what is active.
 *
 * cfg->sandbox false: nothing, one log line. A feature the kernel lacks is
 * skipped with one info line; one that fails to load is skipped with a
 * warning (hardening, never a reason not to run). *out (freed by
 * vg_sandbox_destroy) remembers the plan for reloads; it is set even when
 * nothing was applied. VG_ENOMEM only.
 */
vg_err vg_sandbox_begin(const vg_config *cfg, vg_sandbox **out, vg_errbuf *eb);
void vg_sandbox_finish(vg_sandbox *sb);

/* Both steps at once (a process that drops no privileges, tests). */
vg_err vg_sandbox_apply(const vg_config *cfg, vg_sandbox **out, vg_errbuf *eb);

/*
 * Whether a configuration loaded by a reload can run inside the sandbox
 * applied at start: VG_OK (also when Landlock is not active), or VG_EPERM
 * with "output 'x' writes to DIR, outside the sandbox fixed at start; restart
 * vigie to apply this change". sb may be NULL (no sandbox).
 */
vg_err vg_sandbox_check(const vg_sandbox *sb, const vg_config *cfg, vg_errbuf *eb);

/* "seccomp+landlock", "seccomp", "landlock", "off": what is active. */
const char *vg_sandbox_active(const vg_sandbox *sb);

void vg_sandbox_destroy(vg_sandbox *sb);

#endif

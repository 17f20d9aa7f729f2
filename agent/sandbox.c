/*
 * sandbox.c - seccomp deny list and Landlock write confinement of `vigie
 * run`; see sandbox.h for what is denied and why.
 *
 * Order: PR_SET_NO_NEW_PRIVS (both need it without CAP_SYS_ADMIN), then
 * Landlock (per thread: the caller's domain is inherited by the threads it
 * starts later), then the seccomp filter with TSYNC (every existing thread).
 * Landlock rights this build does not know are never handled, so a newer
 * kernel never restricts more than this code planned for.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* Sanitizer builds: LeakSanitizer stops the world with ptrace at exit, and
   reports go to log_path files that must stay writable. */
#if defined(__SANITIZE_ADDRESS__)
#define VG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define VG_SANITIZED 1
#endif
#endif
#ifndef VG_SANITIZED
#define VG_SANITIZED 0
#endif

#define MAX_PLAN 256 /* directories in a plan; more outputs than this are not plausible */

/* ---- plans ---- */

static vg_err plan_add(vg_sandbox_plan *p, const char *path, unsigned access, bool missing,
                       const char *why, vg_errbuf *eb)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->dirs[i].path, path)) {
            p->dirs[i].access |= access;
            return VG_OK;
        }
    if (p->n >= MAX_PLAN)
        return vg_errf(eb, VG_ELIMIT, "sandbox: more than %d writable paths", MAX_PLAN);
    vg_sandbox_dir *v = realloc(p->dirs, (p->n + 1) * sizeof *v);
    if (!v)
        return vg_errf(eb, VG_ENOMEM, "sandbox: out of memory");
    p->dirs = v;
    vg_sandbox_dir *d = &v[p->n];
    d->path = strdup(path);
    d->why = strdup(why);
    d->access = access;
    d->missing = missing;
    if (!d->path || !d->why) {
        free(d->path);
        free(d->why);
        return vg_errf(eb, VG_ENOMEM, "sandbox: out of memory");
    }
    p->n++;
    return VG_OK;
}

/* Absolute and, when it exists, resolved form of path into out (PATH_MAX).
   Returns true when the path exists. */
static bool resolve(const char *path, char *out)
{
    if (realpath(path, out))
        return true;
    if (path[0] == '/' || !getcwd(out, PATH_MAX))
        snprintf(out, PATH_MAX, "%s", path);
    else {
        size_t n = strlen(out);
        snprintf(out + n, PATH_MAX - n, "/%s", path);
    }
    return false;
}

/* The directory part of path ("." for a bare name) into out (PATH_MAX). */
static void dir_of(const char *path, char *out)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, PATH_MAX, ".");
    else if (slash == path)
        snprintf(out, PATH_MAX, "/");
    else
        snprintf(out, PATH_MAX, "%.*s", (int)(slash - path), path);
}

static vg_err add_dir(vg_sandbox_plan *p, const char *dir, unsigned access, const char *why,
                      vg_errbuf *eb)
{
    char abs[PATH_MAX];
    bool ok = resolve(dir, abs);
    return plan_add(p, abs, access, !ok, why, eb);
}

static vg_err add_file_output(vg_sandbox_plan *p, const char *path, const char *why,
                              vg_errbuf *eb)
{
    struct stat sb;
    char abs[PATH_MAX], dir[PATH_MAX];
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode) &&
        resolve(path, abs))
        return plan_add(p, abs, VG_SANDBOX_WRITE, false, why, eb);
    dir_of(path, dir);
    return add_dir(p, dir, VG_SANDBOX_FILES, why, eb);
}

#if VG_SANITIZED
/* The directory of "log_path=..." in a sanitizer options variable. */
static vg_err add_sanitizer_log(vg_sandbox_plan *p, const char *var, vg_errbuf *eb)
{
    const char *o = getenv(var);
    const char *lp = NULL;
    for (const char *s = o; s && (s = strstr(s, "log_path=")); s++)
        if (s == o || s[-1] == ':' || s[-1] == ' ' || s[-1] == ',')
            lp = s + strlen("log_path=");
    if (!lp)
        return VG_OK;
    char path[PATH_MAX], dir[PATH_MAX];
    size_t n = strcspn(lp, ": ,");
    snprintf(path, sizeof path, "%.*s", (int)n, lp);
    if (!strcmp(path, "stderr") || !strcmp(path, "stdout") || !*path)
        return VG_OK;
    dir_of(path, dir);
    return add_dir(p, dir, VG_SANDBOX_FILES, var, eb);
}
#endif

vg_err vg_sandbox_plan_build(const vg_config *cfg, vg_sandbox_plan *plan, vg_errbuf *eb)
{
    vg_err r = VG_OK;
    char why[256];
    plan->dirs = NULL;
    plan->n = 0;
    if (cfg->state_dir && *cfg->state_dir &&
        (r = add_dir(plan, cfg->state_dir, VG_SANDBOX_TREE, "state_dir", eb)))
        goto out;
    for (size_t i = 0; i < cfg->noutputs; i++) {
        const vg_output_conf *o = &cfg->outputs[i];
        if (!o->type || strcmp(o->type, "file") || !o->path || !*o->path)
            continue;
        snprintf(why, sizeof why, "output '%s'", o->name ? o->name : o->type);
        if ((r = add_file_output(plan, o->path, why, eb)))
            goto out;
    }
    for (size_t i = 0; i < cfg->ninputs; i++) {
        const vg_input_conf *in = &cfg->inputs[i];
        if (!in->listen_unix || !*in->listen_unix)
            continue;
        char dir[PATH_MAX];
        dir_of(in->listen_unix, dir);
        snprintf(why, sizeof why, "input '%s' (unix socket)", in->name ? in->name : "?");
        if ((r = add_dir(plan, dir, VG_SANDBOX_SOCKET, why, eb)))
            goto out;
    }
    if ((r = plan_add(plan, "/dev/null", VG_SANDBOX_WRITE, access("/dev/null", F_OK) != 0,
                      "/dev/null", eb)))
        goto out;
#if VG_SANITIZED
    if ((r = add_sanitizer_log(plan, "ASAN_OPTIONS", eb)) ||
        (r = add_sanitizer_log(plan, "UBSAN_OPTIONS", eb)))
        goto out;
#endif
out:
    if (r)
        vg_sandbox_plan_free(plan);
    return r;
}

void vg_sandbox_plan_free(vg_sandbox_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n; i++) {
        free(plan->dirs[i].path);
        free(plan->dirs[i].why);
    }
    free(plan->dirs);
    plan->dirs = NULL;
    plan->n = 0;
}

static bool beneath(const char *path, const char *top)
{
    size_t n = strlen(top);
    if (n == 1 && top[0] == '/')
        return path[0] == '/';
    return !strncmp(path, top, n) && (path[n] == 0 || path[n] == '/');
}

static const char *access_name(unsigned a)
{
    if (a & VG_SANDBOX_TREE)
        return "any change";
    if (a & VG_SANDBOX_FILES)
        return "file creation";
    if (a & VG_SANDBOX_SOCKET)
        return "socket creation";
    return "writing";
}

vg_err vg_sandbox_plan_covers(const vg_sandbox_plan *have, const vg_sandbox_plan *need,
                              vg_errbuf *eb)
{
    for (size_t i = 0; i < need->n; i++) {
        const vg_sandbox_dir *d = &need->dirs[i];
        unsigned got = 0;
        for (size_t j = 0; j < have->n; j++) {
            const vg_sandbox_dir *h = &have->dirs[j];
            if (h->missing || !beneath(d->path, h->path))
                continue;
            /* Rights beneath a directory cover a file in it; a file right
               covers only that file. */
            if ((h->access & VG_SANDBOX_WRITE) && strcmp(d->path, h->path))
                continue;
            got |= h->access;
        }
        if (got & VG_SANDBOX_TREE)
            continue;
        unsigned miss = d->access & ~got;
        /* FILES rights include writing a file beneath. */
        if ((got & VG_SANDBOX_FILES) && (miss & VG_SANDBOX_WRITE))
            miss &= ~(unsigned)VG_SANDBOX_WRITE;
        if (miss)
            return vg_errf(eb, VG_EPERM,
                           "%s needs %s in %s, outside the sandbox fixed at start "
                           "(agent.sandbox); restart vigie to apply this change",
                           d->why, access_name(miss), d->path);
    }
    return VG_OK;
}

/* ---- Landlock (raw system calls: glibc has no wrappers) ---- */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

/* The rights of ABI 1, without reading (never handled: reads stay open). */
#define LL_WRITE_V1                                                                              \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                                \
     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |                            \
     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |  \
     LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |                               \
     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

static uint64_t ll_handled(int abi)
{
    uint64_t h = LL_WRITE_V1;
    if (abi >= 2)
        h |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        h |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return h;
}

static uint64_t ll_rights(unsigned access, uint64_t handled)
{
    uint64_t r = 0;
    if (access & VG_SANDBOX_TREE)
        r |= handled & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE;
    if (access & VG_SANDBOX_FILES)
        r |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
             LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
    if (access & VG_SANDBOX_SOCKET)
        r |= LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REMOVE_FILE;
    if (access & VG_SANDBOX_WRITE)
        r |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
    return r & handled;
}

/* The ABI version, or -errno (ENOSYS: not built in; EOPNOTSUPP: disabled at
   boot; EPERM: denied by an outer seccomp filter). */
static int ll_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? -errno : (int)v;
}

/* Apply the plan; returns 0, or -1 with a message in msg. */
static int ll_apply(const vg_sandbox_plan *plan, int abi, char *msg, size_t mcap)
{
    int rfd = -1, rc = -1;
    uint64_t handled = ll_handled(abi);
    struct landlock_ruleset_attr ra = {.handled_access_fs = handled};
    rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
    if (rfd < 0) {
        snprintf(msg, mcap, "landlock_create_ruleset: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < plan->n; i++) {
        const vg_sandbox_dir *d = &plan->dirs[i];
        if (d->missing) {
            vg_log(VG_LOG_WARNING, "sandbox: %s: %s does not exist; nothing can be written there "
                   "until a restart", d->why, d->path);
            continue;
        }
        int fd = open(d->path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
            vg_log(VG_LOG_WARNING, "sandbox: %s: %s: %s; nothing can be written there", d->why,
                   d->path, strerror(errno));
            continue;
        }
        struct stat sb;
        uint64_t rights = ll_rights(d->access, handled);
        if (fstat(fd, &sb) == 0 && !S_ISDIR(sb.st_mode))
            rights &= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                      LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
        struct landlock_path_beneath_attr pb = {.allowed_access = rights, .parent_fd = fd};
        long r = rights ? syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0)
                        : 0;
        int e = errno;
        close(fd);
        if (r < 0) {
            snprintf(msg, mcap, "landlock_add_rule %s: %s", d->path, strerror(e));
            goto out;
        }
    }
    if (syscall(SYS_landlock_restrict_self, rfd, 0) < 0) {
        snprintf(msg, mcap, "landlock_restrict_self: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    close(rfd);
    return rc;
}

/* ---- seccomp ---- */

/* Denied with EPERM: what a log agent never does. */
static const char *const denied[] = {
    /* running other programs, inspecting or writing other processes */
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise",
    "pidfd_getfd", "kcmp",
    /* file systems and the root */
    "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr", "swapon", "swapoff", "quotactl",
    "quotactl_fd", "acct", "mknod", "mknodat", "open_by_handle_at", "name_to_handle_at",
    /* the kernel itself */
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "bpf", "perf_event_open", "reboot", "syslog", "iopl", "ioperm",
    "modify_ldt", "uselib", "lookup_dcookie", "nfsservctl", "_sysctl", "ustat", "vhangup",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init",
    /* keyrings */
    "keyctl", "add_key", "request_key",
    /* time and identity of the host */
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime", "sethostname",
    "setdomainname",
    /* namespaces */
    "unshare", "setns",
    /* privileges only move toward less (done by vg_privs_drop before) */
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset",
};

static const unsigned long clone_ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,
                                               CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                                               CLONE_NEWCGROUP};

static bool sc_allowed_here(const char *name)
{
#if VG_SANITIZED
    if (!strcmp(name, "ptrace"))
        return true; /* LeakSanitizer's StopTheWorld */
#endif
    (void)name;
    return false;
}

/* Build and load the filter; returns the number of denied calls, or -1 with
   a message in msg. */
static int sc_apply(char *msg, size_t mcap)
{
    int n = 0, rc;
    const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW), ctx3 = NULL;
    if (!ctx) {
        snprintf(msg, mcap, "seccomp_init failed: this kernel (or an emulator such as valgrind) "
                 "does not offer seccomp filters");
        return -1;
    }
    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1); /* denials in the audit/kernel log */
    for (size_t i = 0; i < sizeof denied / sizeof *denied; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR || sc_allowed_here(denied[i]))
            continue; /* not a system call of this architecture */
        if ((rc = seccomp_rule_add(ctx, deny, nr, 0)) < 0 && rc != -EDOM) {
            snprintf(msg, mcap, "seccomp_rule_add %s: %s", denied[i], strerror(-rc));
            n = -1;
            goto out;
        }
        n += rc == 0;
    }
    /* personality(): only the query (0xffffffff) of the current one. */
    if ((rc = seccomp_rule_add(ctx, deny, SCMP_SYS(personality), 1,
                               SCMP_A0(SCMP_CMP_NE, 0xffffffffUL))) < 0)
        goto fail;
    n++;
    /* clone() creating a namespace; clone3() passes its flags in memory a
       filter cannot read, so it says ENOSYS (below) and glibc falls back to
       clone(). */
    for (size_t i = 0; i < sizeof clone_ns_flags / sizeof *clone_ns_flags; i++)
        if ((rc = seccomp_rule_add(ctx, deny, SCMP_SYS(clone), 1,
                                   SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i],
                                           clone_ns_flags[i]))) < 0)
            goto fail;
    n++;
    /* Typing into a terminal (TIOCSTI) or the console (TIOCLINUX). */
    if ((rc = seccomp_rule_add(ctx, deny, SCMP_SYS(ioctl), 1,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCSTI))) < 0 ||
        (rc = seccomp_rule_add(ctx, deny, SCMP_SYS(ioctl), 1,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCLINUX))) < 0)
        goto fail;
    n++;
    /* clone3 in a second, silent filter: every thread start meets it, and
       the kernel logs per filter (SECCOMP_FILTER_FLAG_LOG). */
    if (!(ctx3 = seccomp_init(SCMP_ACT_ALLOW)) ||
        seccomp_attr_set(ctx3, SCMP_FLTATR_CTL_TSYNC, 1) < 0) {
        snprintf(msg, mcap, "seccomp_init failed");
        n = -1;
        goto out;
    }
    seccomp_attr_set(ctx3, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if ((rc = seccomp_rule_add(ctx3, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0 &&
        rc != -EDOM)
        goto fail;
    n++;
    if ((rc = seccomp_load(ctx)) < 0 || (rc = seccomp_load(ctx3)) < 0) {
        snprintf(msg, mcap, "seccomp_load: %s", strerror(-rc));
        n = -1;
    }
    goto out;
fail:
    snprintf(msg, mcap, "seccomp_rule_add: %s", strerror(-rc));
    n = -1;
out:
    seccomp_release(ctx);
    if (ctx3)
        seccomp_release(ctx3);
    return n;
}

/* ---- the whole ---- */

struct vg_sandbox {
    vg_sandbox_plan plan;
    bool enabled, seccomp, landlock;
    char ll_desc[1024];
};

static size_t thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    size_t n = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8)) {
            n = (size_t)strtoul(line + 8, NULL, 10);
            break;
        }
    if (f)
        (void)fclose(f);
    return n;
}

vg_err vg_sandbox_begin(const vg_config *cfg, vg_sandbox **out, vg_errbuf *eb)
{
    vg_err r;
    *out = NULL;
    vg_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return vg_errf(eb, VG_ENOMEM, "sandbox: out of memory");
    if (!cfg->sandbox) {
        *out = sb;
        return VG_OK;
    }
    if ((r = vg_sandbox_plan_build(cfg, &sb->plan, eb))) {
        free(sb);
        return r;
    }
    sb->enabled = true;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        vg_log(VG_LOG_WARNING, "sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    size_t threads = thread_count();
    if (threads > 1)
        vg_log(VG_LOG_WARNING, "sandbox: %zu threads exist already; Landlock confines only "
               "this one and those it starts", threads);

    char msg[512];
    char *d = sb->ll_desc;
    size_t cap = sizeof sb->ll_desc;
    int abi = ll_abi();
    if (abi < 0) {
        /* Not strerror: EPERM here is an outer filter, not this agent's lack of rights. */
        const char *why = abi == -ENOSYS       ? "not built into this kernel"
                          : abi == -EOPNOTSUPP ? "disabled at boot (lsm= kernel parameter)"
                          : abi == -EPERM      ? "its system calls are refused by a filter around "
                                                 "the agent (systemd SystemCallFilter= must allow "
                                                 "landlock_create_ruleset, landlock_add_rule, "
                                                 "landlock_restrict_self)"
                                               : "unexpected error";
        snprintf(d, cap, "landlock not available");
        vg_log(VG_LOG_INFO, "sandbox: Landlock is not available (%s, errno %d): writes are not "
               "confined", why, -abi);
    } else if (ll_apply(&sb->plan, abi, msg, sizeof msg) < 0) {
        snprintf(d, cap, "landlock failed");
        vg_log(VG_LOG_WARNING, "sandbox: Landlock not applied: %s", msg);
    } else {
        sb->landlock = true;
        size_t k = (size_t)snprintf(d, cap, "landlock ABI %d (writes only beneath", abi);
        for (size_t i = 0; i < sb->plan.n && k < cap; i++)
            if (!sb->plan.dirs[i].missing)
                k += (size_t)snprintf(d + k, cap - k, " %s", sb->plan.dirs[i].path);
        if (k < cap)
            snprintf(d + k, cap - k, "; no execution)");
    }
    *out = sb;
    return VG_OK;
}

void vg_sandbox_finish(vg_sandbox *sb)
{
    if (!sb)
        return;
    if (!sb->enabled) {
        vg_log(VG_LOG_NOTICE, "sandbox: off (agent.sandbox: false)");
        return;
    }
    char msg[512], sc_desc[256];
    int n = sc_apply(msg, sizeof msg);
    if (n < 0) {
        snprintf(sc_desc, sizeof sc_desc, "seccomp failed");
        vg_log(VG_LOG_WARNING, "sandbox: seccomp filter not applied: %s", msg);
    } else {
        sb->seccomp = true;
        snprintf(sc_desc, sizeof sc_desc,
                 "seccomp (%d deny rules; a denied call fails, the kernel logs it%s)", n,
                 VG_SANITIZED ? "; ASan build: ptrace allowed for leak checks" : "");
    }
    vg_log(VG_LOG_NOTICE, "sandbox: %s; %s", sc_desc, sb->ll_desc);
}

vg_err vg_sandbox_apply(const vg_config *cfg, vg_sandbox **out, vg_errbuf *eb)
{
    vg_err r = vg_sandbox_begin(cfg, out, eb);
    if (!r)
        vg_sandbox_finish(*out);
    return r;
}

vg_err vg_sandbox_check(const vg_sandbox *sb, const vg_config *cfg, vg_errbuf *eb)
{
    if (sb && sb->enabled != cfg->sandbox)
        vg_log(VG_LOG_WARNING, "reload: agent.sandbox: %s applies at the next restart; the "
               "sandbox stays %s until then", cfg->sandbox ? "true" : "false",
               sb->enabled ? "on" : "off");
    if (!sb || !sb->landlock)
        return VG_OK;
    vg_sandbox_plan need;
    vg_err r = vg_sandbox_plan_build(cfg, &need, eb);
    if (r)
        return r;
    r = vg_sandbox_plan_covers(&sb->plan, &need, eb);
    vg_sandbox_plan_free(&need);
    return r;
}

const char *vg_sandbox_active(const vg_sandbox *sb)
{
    if (!sb || (!sb->seccomp && !sb->landlock))
        return "off";
    return sb->seccomp && sb->landlock ? "seccomp+landlock" : sb->seccomp ? "seccomp" : "landlock";
}

void vg_sandbox_destroy(vg_sandbox *sb)
{
    if (!sb)
        return;
    vg_sandbox_plan_free(&sb->plan);
    free(sb);
}

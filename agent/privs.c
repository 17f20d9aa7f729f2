/*
 * privs.c - dropping root; see privs.h.
 *
 * The order matters: the state directory is chowned while we are still
 * root; the bounding set is trimmed while CAP_SETPCAP is still ours;
 * supplementary groups and the gid change before the uid (after setuid we
 * could no longer change them); PR_SET_KEEPCAPS lets the permitted set
 * survive setuid, and cap_set_proc then reduces it to the list.
 */
#include "privs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MAX_GROUPS 256

vg_err vg_privs_cap_mask(const vg_strlist *names, uint64_t *mask, vg_errbuf *eb)
{
    *mask = 0;
    for (size_t i = 0; names && i < names->n; i++) {
        cap_value_t v;
        char low[64];
        size_t k = 0;
        for (const char *p = names->v[i]; *p && k + 1 < sizeof low; p++)
            low[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        low[k] = 0;
        if (cap_from_name(low, &v) < 0 || v < 0 || v > 63 || !CAP_IS_SUPPORTED(v))
            return vg_errf(eb, VG_ECONFIG,
                           "agent.capabilities: unknown capability '%s' (e.g. cap_dac_read_search)",
                           names->v[i]);
        *mask |= (uint64_t)1 << v;
    }
    return VG_OK;
}

int vg_privs_status_field(const char *text, const char *field, uint64_t *value)
{
    size_t fl = strlen(field);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, field, fl) || p[fl] != ':')
            continue;
        const char *v = p + fl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, strncmp(field, "Cap", 3) ? 10 : 16);
        if (end == v || errno)
            return -1;
        *value = x;
        return 0;
    }
    return -1;
}

static int read_status(char *buf, size_t cap)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = 0;
    return 0;
}

/* ---- state directory ownership (nftw has no user pointer) ---- */

static uid_t chown_uid;
static gid_t chown_gid;
static int chown_errno;
static char chown_path[512];

static int chown_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    if (lchown(path, chown_uid, chown_gid) < 0) {
        chown_errno = errno;
        snprintf(chown_path, sizeof chown_path, "%s", path);
        return 1;
    }
    return 0;
}

static vg_err give_state_dir(const char *dir, uid_t uid, gid_t gid, vg_errbuf *eb)
{
    chown_uid = uid;
    chown_gid = gid;
    chown_errno = 0;
    /* FTW_PHYS: symbolic links are chowned themselves, never followed. */
    int r = nftw(dir, chown_one, 16, FTW_PHYS | FTW_MOUNT);
    if (r == 1)
        return vg_errf(eb, VG_EPERM,
                       "cannot give the state directory to the agent's user: "
                       "chown %s: %s; fix its ownership or choose another agent.state_dir",
                       chown_path, strerror(chown_errno));
    if (r < 0)
        return vg_errno(eb, VG_EIO, "state directory %s", dir);
    return VG_OK;
}

/* ---- the drop ---- */

static vg_err resolve(const vg_config *cfg, struct passwd *pw, char *pwbuf, size_t pwcap,
                      gid_t *gid, char *gname, size_t gncap, vg_errbuf *eb)
{
    struct passwd *res = NULL;
    int e = getpwnam_r(cfg->user, pw, pwbuf, pwcap, &res);
    if (!res) {
        char *end;
        unsigned long id = strtoul(cfg->user, &end, 10);
        if (*cfg->user && !*end)
            e = getpwuid_r((uid_t)id, pw, pwbuf, pwcap, &res);
    }
    if (!res)
        return vg_errf(eb, VG_ECONFIG, "agent.user '%s': %s", cfg->user,
                       e ? strerror(e) : "no such user");
    *gid = pw->pw_gid;
    if (cfg->group && *cfg->group) {
        struct group gr, *gres = NULL;
        char grbuf[16384];
        e = getgrnam_r(cfg->group, &gr, grbuf, sizeof grbuf, &gres);
        if (!gres) {
            char *end;
            unsigned long id = strtoul(cfg->group, &end, 10);
            if (*cfg->group && !*end)
                e = getgrgid_r((gid_t)id, &gr, grbuf, sizeof grbuf, &gres);
        }
        if (!gres)
            return vg_errf(eb, VG_ECONFIG, "agent.group '%s': %s", cfg->group,
                           e ? strerror(e) : "no such group");
        *gid = gres->gr_gid;
        snprintf(gname, gncap, "%s", gres->gr_name);
    } else {
        struct group gr, *gres = NULL;
        char grbuf[16384];
        if (getgrgid_r(*gid, &gr, grbuf, sizeof grbuf, &gres) == 0 && gres)
            snprintf(gname, gncap, "%s", gres->gr_name);
        else
            snprintf(gname, gncap, "%lu", (unsigned long)*gid);
    }
    return VG_OK;
}

vg_err vg_privs_drop(const vg_config *cfg, bool allow_root, vg_errbuf *eb)
{
    vg_err rc = VG_OK;
    cap_t caps = NULL;
    uint64_t want = 0;
    if (geteuid() != 0) {
        if (cfg->user && *cfg->user)
            vg_log(VG_LOG_DEBUG, "privileges: not started as root (uid %lu), agent.user unused",
                   (unsigned long)geteuid());
        return VG_OK;
    }
    if (!cfg->user || !*cfg->user) {
        if (!allow_root)
            return vg_errf(eb, VG_EPERM,
                           "refusing to run as root: set agent.user (e.g. vigie) to drop to, or "
                           "pass --allow-root to run as root anyway");
        vg_log(VG_LOG_WARNING, "privileges: running as root (--allow-root, no agent.user)");
        return VG_OK;
    }
    if ((rc = vg_privs_cap_mask(&cfg->capabilities, &want, eb)))
        return rc;
    struct passwd pw;
    char pwbuf[16384], gname[256];
    gid_t gid = 0;
    if ((rc = resolve(cfg, &pw, pwbuf, sizeof pwbuf, &gid, gname, sizeof gname, eb)))
        return rc;
    uid_t uid = pw.pw_uid;
    if (uid == 0) {
        if (!allow_root)
            return vg_errf(eb, VG_EPERM,
                           "agent.user '%s' is root; choose an unprivileged user "
                           "or pass --allow-root",
                           cfg->user);
        vg_log(VG_LOG_WARNING, "privileges: agent.user is root (--allow-root)");
        return VG_OK;
    }

    if (cfg->state_dir && *cfg->state_dir && (rc = give_state_dir(cfg->state_dir, uid, gid, eb)))
        return rc;

    /* Bounding set: while CAP_SETPCAP is ours. */
    for (cap_value_t v = 0; v <= 63 && CAP_IS_SUPPORTED(v); v++)
        if (!(want & ((uint64_t)1 << v)) && cap_drop_bound(v) < 0 && errno != EINVAL) {
            rc = vg_errno(eb, VG_EPERM, "cannot drop capability %d from the bounding set", v);
            goto out;
        }

    gid_t groups[MAX_GROUPS];
    int ng = MAX_GROUPS;
    if (getgrouplist(pw.pw_name, gid, groups, &ng) < 0) {
        vg_log(VG_LOG_WARNING, "privileges: user %s is in more than %d groups; keeping %d",
               pw.pw_name, MAX_GROUPS, MAX_GROUPS);
        ng = MAX_GROUPS;
    }
    if (setgroups((size_t)ng, groups) < 0) {
        rc = vg_errno(eb, VG_EPERM, "setgroups");
        goto out;
    }
    if (setresgid(gid, gid, gid) < 0) {
        rc = vg_errno(eb, VG_EPERM, "setgid(%lu)", (unsigned long)gid);
        goto out;
    }
    if (want && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
        rc = vg_errno(eb, VG_EPERM, "prctl(PR_SET_KEEPCAPS)");
        goto out;
    }
    if (setresuid(uid, uid, uid) < 0) {
        rc = vg_errno(eb, VG_EPERM, "setuid(%lu)", (unsigned long)uid);
        goto out;
    }
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);

    /* Exactly the listed capabilities, permitted and effective. */
    if (!(caps = cap_init())) {
        rc = vg_errno(eb, VG_ENOMEM, "cap_init");
        goto out;
    }
    cap_value_t list[64];
    int nl = 0;
    for (cap_value_t v = 0; v <= 63; v++)
        if (want & ((uint64_t)1 << v))
            list[nl++] = v;
    if (nl && (cap_set_flag(caps, CAP_PERMITTED, nl, list, CAP_SET) < 0 ||
               cap_set_flag(caps, CAP_EFFECTIVE, nl, list, CAP_SET) < 0)) {
        rc = vg_errno(eb, VG_EPERM, "cap_set_flag");
        goto out;
    }
    if (cap_set_proc(caps) < 0) {
        rc = vg_errno(eb, VG_EPERM, "cap_set_proc");
        goto out;
    }

    /* Verify, from the kernel's point of view. */
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid ||
        getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid) {
        rc = vg_errf(eb, VG_EPERM, "privilege drop did not take: ids are not %lu:%lu",
                     (unsigned long)uid, (unsigned long)gid);
        goto out;
    }
    if (setuid(0) == 0) {
        rc = vg_errf(eb, VG_EPERM, "privilege drop did not take: setuid(0) still works");
        goto out;
    }
    char st[8192];
    uint64_t eff = ~(uint64_t)0;
    if (read_status(st, sizeof st) < 0 || vg_privs_status_field(st, "CapEff", &eff) < 0 ||
        eff != want) {
        rc = vg_errf(eb, VG_EPERM, "privilege drop did not take: CapEff %016llx, expected %016llx",
                     (unsigned long long)eff, (unsigned long long)want);
        goto out;
    }

    char capnames[512] = "none";
    size_t cn = 0;
    for (int i = 0; i < nl; i++) {
        char *nm = cap_to_name(list[i]);
        cn += (size_t)snprintf(capnames + cn, cn < sizeof capnames ? sizeof capnames - cn : 0,
                               "%s%s", i ? "," : "", nm ? nm : "?");
        cap_free(nm);
        if (cn >= sizeof capnames)
            break;
    }
    vg_log(VG_LOG_NOTICE,
           "privileges: dropped root, now user %s (uid %lu) group %s (gid %lu), %d groups, "
           "capabilities %s (CapEff %016llx); state directory %s given to %s",
           pw.pw_name, (unsigned long)uid, gname, (unsigned long)gid, ng, capnames,
           (unsigned long long)eff, cfg->state_dir ? cfg->state_dir : "-", pw.pw_name);
out:
    if (caps)
        cap_free(caps);
    return rc;
}

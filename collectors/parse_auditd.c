/*
 * parse_auditd.c - the Linux audit log (/var/log/audit/audit.log), raw and
 * ENRICHED, one event per record, plus one Sigma process_creation event per
 * execve(2) built from the records of the same audit event.
 *
 *   [node=NODE ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): k=v k="v" ...[\x1dK="v" ...]
 *
 * Record events (logsource of the input; ev->service2 = "auditd", so
 * SigmaHQ `service: auditd` rules apply even when the input sets no service):
 *
 *   | field         | from                                                       |
 *   |---------------|------------------------------------------------------------|
 *   | type          | TYPE (SYSCALL, EXECVE, PATH, USER_LOGIN, ...)              |
 *   | audit_serial  | SERIAL (the audit event id shared by its records)          |
 *   | message       | the text after "msg=audit(...): " up to the GS, also in    |
 *   |               | ev->message                                                |
 *   | node          | NODE, also ev->hostname (the record's own `hostname=` is a |
 *   |               | remote host in USER_* records, so it stays a plain field)  |
 *   | every k=v     | unquoted ("v" -> v, 'v' -> v), hex-decoded (below); a key  |
 *   |               | type/audit_serial/message/node cannot replace the above    |
 *   | msg='...'     | user-space records: the inner k=v are fields themselves    |
 *   | K=v after GS  | ENRICHED interpretations (UID="root", SYSCALL=execve, ...) |
 *   | SYSCALL       | syscall name from `syscall` for arch=c000003e (x86_64) and |
 *   |               | 40000003 (i386), unless the record has an enriched         |
 *   |               | SYSCALL= (rules test names; other arches: no name)         |
 *   ts_ns = SECONDS.MILLIS; ev->pid = pid.
 *
 * Hex: auditd writes an untrusted string as "text" when it is plain and as
 * bare uppercase hex when it holds spaces, quotes or control bytes. An
 * unquoted, even-length, all-hex value of a hex-able key is decoded: EXECVE
 * aN and aN[i]; proctitle (NUL separators become spaces), name, cwd, exe,
 * comm, cmd, data, key, path, ocomm, acct, dir, file, watch. Only the decoded
 * value is kept as the field (the hex stays in the raw line); odd-length or
 * non-hex values stay as written. SYSCALL a0..a3 are numbers, never decoded.
 *
 * Process creation (needs the per-stream state): a SYSCALL record opens a
 * group keyed by SERIAL; EXECVE, CWD and PROCTITLE records of that serial add
 * to it (PATH and the others only count toward its record cap); the EOE
 * record closes it. When the group had an EXECVE, the EOE record's event
 * becomes the merged event: logsource {product linux, category
 * process_creation} (no service, so auditd rules do not see it twice),
 * service2 NULL, its fields replaced by (all values copied to the arena):
 *
 *   | Sigma field        | auditd                                                |
 *   |--------------------|-------------------------------------------------------|
 *   | Image              | SYSCALL exe                                           |
 *   | CommandLine        | EXECVE a0 a1 ... (decoded, joined by one space; aN[i] |
 *   |                    | chunks concatenated), also ev->message                |
 *   | CurrentDirectory   | CWD cwd                                               |
 *   | User               | enriched UID= name, else SYSCALL uid (number)         |
 *   | LogonId            | SYSCALL auid (number; 4294967295 = unset)             |
 *   | ProcessId          | SYSCALL pid                                           |
 *   | ParentProcessId    | SYSCALL ppid                                          |
 *   | ParentImage        | Image of ppid's last successful execve seen (or exe   |
 *   |                    | of another syscall event of ppid, see below)          |
 *   | ParentCommandLine  | CommandLine of the same (or that event's PROCTITLE)   |
 *   | audit_serial       | SERIAL                                                |
 *   | message            | CommandLine                                           |
 *   | (SYSCALL fields)   | every field of the SYSCALL record but `type`: syscall,|
 *   |                    | SYSCALL, exe, comm, uid, euid, auid, key, UID, ...    |
 *
 * A group without EXECVE leaves the EOE a plain record event.
 *
 * Bounds (each drop counted, see au_state_counters): 4 groups (AU_SLOTS)
 * may be open at once, since records of concurrent events interleave; a
 * SYSCALL that finds every slot busy evicts the oldest group, which never saw
 * its EOE (groups_dropped). A group keeps at most 64 records
 * (groups_overflow: later records of it are ignored, the EOE still merges),
 * 8 KiB of CommandLine and 8 KiB of other values (values_truncated). The
 * parent table maps 4096 pids, at most 1 MiB of strings, each cut to 2 KiB;
 * the least recently exec'd pid goes first (parents_evicted). Successful
 * execves (success != no) feed it; so do other syscall events (exe and
 * PROCTITLE) of a pid not in it yet, which is how forked workers that never
 * exec (apache2, sshd) become known parents. The state is one per stream
 * (file), used by one thread at a time.
 *
 * Without a state (ctx->state NULL) records are parsed alone, no grouping.
 * A line without "type=" and "msg=audit(S.M:N):" keeps message = raw and gets
 * VG_EV_PARSE_FAILED. Keyword (no-field) Sigma rules search the raw line, so
 * they do not see hex-encoded arguments decoded.
 */
#include "parser.h"

#include <stdlib.h>
#include <string.h>

#define AU_SLOTS 4                 /* audit events open at once per stream */
#define AU_GROUP_RECORDS 64        /* records kept per group */
#define AU_CMD_MAX 8192            /* CommandLine bytes per group */
#define AU_VALS_MAX 8192           /* other copied bytes per group (SYSCALL fields, cwd) */
#define AU_SC_FIELDS 48            /* SYSCALL fields kept per group */
#define AU_PARENTS 4096            /* pid -> (Image, CommandLine) entries */
#define AU_PARENT_BUCKETS 8192     /* hash buckets (power of two) */
#define AU_PARENT_STR 2048         /* each parent string cut to this */
#define AU_PARENT_BYTES (1u << 20) /* all parent strings together */
#define AU_KEY_MAX 64              /* longest key considered */

static const char svc_auditd[] = "auditd";
static const vg_logsource ls_proc_creation = {"linux", "process_creation", NULL};

/* ---- the per-stream state ---- */

typedef struct au_span {
    uint16_t off, len;
} au_span;

typedef struct au_group {
    bool used;
    bool have_execve, have_cwd, have_title, over, cut;
    uint64_t serial;
    uint64_t age; /* opening order, to evict the oldest */
    unsigned nrec;
    unsigned nargs; /* EXECVE arguments appended so far */
    unsigned nsc;
    au_span sc_name[AU_SC_FIELDS], sc_val[AU_SC_FIELDS];
    au_span cwd, title;
    size_t ncmd, nvals;
    char cmd[AU_CMD_MAX];
    char vals[AU_VALS_MAX];
} au_group;

typedef struct au_parent {
    uint32_t pid;
    int32_t next; /* bucket chain, -1 = end */
    char *image, *cmd;
    uint32_t nimage, ncmd;
    bool dead; /* replaced: its slot waits in the ring to be reused */
} au_parent;

enum {
    AU_C_MERGED,
    AU_C_PLAIN,
    AU_C_DROPPED,
    AU_C_OVERFLOW,
    AU_C_TRUNCATED,
    AU_C_ORPHANS,
    AU_C_PARENT_EVICTED,
    AU_C_PARENT_FOUND,
    AU_C_PARENT_MISSING,
    AU_C_N
};

static const char *const counter_names[AU_C_N] = {
    "groups_merged",  "groups_plain",    "groups_dropped", "groups_overflow", "values_truncated",
    "records_orphan", "parents_evicted", "parents_found",  "parents_missing",
};

typedef struct au_state {
    au_group g[AU_SLOTS];
    uint64_t next_age;
    uint64_t c[AU_C_N];
    /* parent table: a FIFO ring of entries plus a hash index by pid */
    au_parent p[AU_PARENTS];
    int32_t bucket[AU_PARENT_BUCKETS];
    size_t phead, pcount, pbytes;
} au_state;

static void *au_state_create(void)
{
    au_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (size_t i = 0; i < AU_PARENT_BUCKETS; i++)
        s->bucket[i] = -1;
    return s;
}

static void au_state_destroy(void *state)
{
    au_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < AU_PARENTS; i++) {
        free(s->p[i].image);
        free(s->p[i].cmd);
    }
    free(s);
}

/*
 * Counters of a state: groups_merged (process_creation events made),
 * groups_plain (closed without EXECVE), groups_dropped (evicted or destroyed
 * before their EOE), groups_overflow, values_truncated, records_orphan
 * (EXECVE/CWD/PATH/PROCTITLE whose SYSCALL was not seen), parents_evicted,
 * parents_found, parents_missing; and the gauge groups_pending (open
 * groups waiting for their EOE: at the end of a file, those never closed).
 */
static size_t au_state_counters(const void *state, vg_parser_counter *out, size_t max)
{
    const au_state *s = state;
    size_t n = 0;
    if (!s)
        return 0;
    for (size_t i = 0; i < AU_C_N && n < max; i++, n++) {
        out[n].name = counter_names[i];
        out[n].value = s->c[i];
    }
    if (n < max) {
        uint64_t pending = 0;
        for (size_t i = 0; i < AU_SLOTS; i++)
            pending += s->g[i].used;
        out[n].name = "groups_pending";
        out[n++].value = pending;
    }
    return n;
}

static au_group *group_find(au_state *s, uint64_t serial)
{
    for (size_t i = 0; i < AU_SLOTS; i++)
        if (s->g[i].used && s->g[i].serial == serial)
            return &s->g[i];
    return NULL;
}

static void group_free(au_group *g)
{
    g->used = false;
}

/* A fresh group for serial: a free slot, else the oldest (dropped, counted). */
static au_group *group_open(au_state *s, uint64_t serial)
{
    au_group *g = group_find(s, serial), *old = NULL;
    if (g) {
        s->c[AU_C_DROPPED]++; /* a second SYSCALL for one serial: restart it */
    } else {
        for (size_t i = 0; i < AU_SLOTS && !g; i++) {
            if (!s->g[i].used)
                g = &s->g[i];
            else if (!old || s->g[i].age < old->age)
                old = &s->g[i];
        }
        if (!g) {
            g = old;
            s->c[AU_C_DROPPED]++;
        }
    }
    g->used = true;
    g->have_execve = g->have_cwd = g->have_title = g->over = g->cut = false;
    g->serial = serial;
    g->age = s->next_age++;
    g->nrec = g->nargs = g->nsc = 0;
    g->ncmd = g->nvals = 0;
    return g;
}

static void group_cut(au_state *s, au_group *g)
{
    if (!g->cut)
        s->c[AU_C_TRUNCATED]++;
    g->cut = true;
}

/* ---- parent table ---- */

static uint32_t pid_hash(uint32_t pid)
{
    return ((pid * 2654435761u) >> 19) & (AU_PARENT_BUCKETS - 1);
}

static int32_t parent_find(const au_state *s, uint32_t pid)
{
    for (int32_t i = s->bucket[pid_hash(pid)]; i >= 0; i = s->p[i].next)
        if (s->p[i].pid == pid)
            return i;
    return -1;
}

/* Unlink entry i from its chain and free its strings; its ring slot stays, dead. */
static void parent_kill(au_state *s, int32_t i)
{
    au_parent *e = &s->p[i];
    int32_t *link = &s->bucket[pid_hash(e->pid)];
    while (*link >= 0 && *link != i)
        link = &s->p[*link].next;
    if (*link == i)
        *link = e->next;
    s->pbytes -= e->nimage + e->ncmd;
    free(e->image);
    free(e->cmd);
    e->image = e->cmd = NULL;
    e->nimage = e->ncmd = 0;
    e->dead = true;
}

static void parent_evict_oldest(au_state *s)
{
    int32_t i = (int32_t)s->phead;
    if (!s->p[i].dead) {
        parent_kill(s, i);
        s->c[AU_C_PARENT_EVICTED]++;
    }
    s->phead = (s->phead + 1) % AU_PARENTS;
    s->pcount--;
}

static char *dup_cut(const char *p, size_t n, uint32_t *outn)
{
    if (n > AU_PARENT_STR)
        n = AU_PARENT_STR;
    char *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    *outn = d ? (uint32_t)n : 0;
    return d;
}

/*
 * Remember pid's image and command line. A pid seen again moves to the tail
 * of the ring (its old slot dies), so eviction drops the least recently
 * exec'd pid and the byte cap holds exactly.
 */
static void parent_put(au_state *s, uint32_t pid, vg_str image, vg_str cmd)
{
    uint32_t ni, nc;
    char *di = dup_cut(image.p, image.n, &ni), *dc = dup_cut(cmd.p, cmd.n, &nc);
    if (!di || !dc) {
        free(di);
        free(dc);
        return;
    }
    int32_t old = parent_find(s, pid);
    if (old >= 0)
        parent_kill(s, old);
    while (s->pcount > 0 && (s->pcount == AU_PARENTS || s->pbytes + ni + nc > AU_PARENT_BYTES))
        parent_evict_oldest(s);
    int32_t i = (int32_t)((s->phead + s->pcount) % AU_PARENTS);
    s->pcount++;
    uint32_t h = pid_hash(pid);
    au_parent *e = &s->p[i];
    e->pid = pid;
    e->dead = false;
    e->next = s->bucket[h];
    s->bucket[h] = i;
    e->image = di;
    e->cmd = dc;
    e->nimage = ni;
    e->ncmd = nc;
    s->pbytes += ni + nc;
}
/* ---- x86_64 syscall names (from <asm/unistd_64.h>, Linux 6.x) ---- */

// clang-format off
static const char *const x86_64_syscalls[] = {
    [0] = "read", [1] = "write", [2] = "open", [3] = "close", [4] = "stat", [5] = "fstat",
    [6] = "lstat", [7] = "poll", [8] = "lseek", [9] = "mmap", [10] = "mprotect", [11] = "munmap",
    [12] = "brk", [13] = "rt_sigaction", [14] = "rt_sigprocmask", [15] = "rt_sigreturn",
    [16] = "ioctl", [17] = "pread64", [18] = "pwrite64", [19] = "readv", [20] = "writev",
    [21] = "access", [22] = "pipe", [23] = "select", [24] = "sched_yield", [25] = "mremap",
    [26] = "msync", [27] = "mincore", [28] = "madvise", [29] = "shmget", [30] = "shmat",
    [31] = "shmctl", [32] = "dup", [33] = "dup2", [34] = "pause", [35] = "nanosleep",
    [36] = "getitimer", [37] = "alarm", [38] = "setitimer", [39] = "getpid", [40] = "sendfile",
    [41] = "socket", [42] = "connect", [43] = "accept", [44] = "sendto", [45] = "recvfrom",
    [46] = "sendmsg", [47] = "recvmsg", [48] = "shutdown", [49] = "bind", [50] = "listen",
    [51] = "getsockname", [52] = "getpeername", [53] = "socketpair", [54] = "setsockopt",
    [55] = "getsockopt", [56] = "clone", [57] = "fork", [58] = "vfork", [59] = "execve",
    [60] = "exit", [61] = "wait4", [62] = "kill", [63] = "uname", [64] = "semget", [65] = "semop",
    [66] = "semctl", [67] = "shmdt", [68] = "msgget", [69] = "msgsnd", [70] = "msgrcv",
    [71] = "msgctl", [72] = "fcntl", [73] = "flock", [74] = "fsync", [75] = "fdatasync",
    [76] = "truncate", [77] = "ftruncate", [78] = "getdents", [79] = "getcwd", [80] = "chdir",
    [81] = "fchdir", [82] = "rename", [83] = "mkdir", [84] = "rmdir", [85] = "creat", [86] = "link",
    [87] = "unlink", [88] = "symlink", [89] = "readlink", [90] = "chmod", [91] = "fchmod",
    [92] = "chown", [93] = "fchown", [94] = "lchown", [95] = "umask", [96] = "gettimeofday",
    [97] = "getrlimit", [98] = "getrusage", [99] = "sysinfo", [100] = "times", [101] = "ptrace",
    [102] = "getuid", [103] = "syslog", [104] = "getgid", [105] = "setuid", [106] = "setgid",
    [107] = "geteuid", [108] = "getegid", [109] = "setpgid", [110] = "getppid", [111] = "getpgrp",
    [112] = "setsid", [113] = "setreuid", [114] = "setregid", [115] = "getgroups",
    [116] = "setgroups", [117] = "setresuid", [118] = "getresuid", [119] = "setresgid",
    [120] = "getresgid", [121] = "getpgid", [122] = "setfsuid", [123] = "setfsgid",
    [124] = "getsid", [125] = "capget", [126] = "capset", [127] = "rt_sigpending",
    [128] = "rt_sigtimedwait", [129] = "rt_sigqueueinfo", [130] = "rt_sigsuspend",
    [131] = "sigaltstack", [132] = "utime", [133] = "mknod", [134] = "uselib",
    [135] = "personality", [136] = "ustat", [137] = "statfs", [138] = "fstatfs", [139] = "sysfs",
    [140] = "getpriority", [141] = "setpriority", [142] = "sched_setparam",
    [143] = "sched_getparam", [144] = "sched_setscheduler", [145] = "sched_getscheduler",
    [146] = "sched_get_priority_max", [147] = "sched_get_priority_min",
    [148] = "sched_rr_get_interval", [149] = "mlock", [150] = "munlock", [151] = "mlockall",
    [152] = "munlockall", [153] = "vhangup", [154] = "modify_ldt", [155] = "pivot_root",
    [156] = "_sysctl", [157] = "prctl", [158] = "arch_prctl", [159] = "adjtimex",
    [160] = "setrlimit", [161] = "chroot", [162] = "sync", [163] = "acct", [164] = "settimeofday",
    [165] = "mount", [166] = "umount2", [167] = "swapon", [168] = "swapoff", [169] = "reboot",
    [170] = "sethostname", [171] = "setdomainname", [172] = "iopl", [173] = "ioperm",
    [174] = "create_module", [175] = "init_module", [176] = "delete_module",
    [177] = "get_kernel_syms", [178] = "query_module", [179] = "quotactl", [180] = "nfsservctl",
    [181] = "getpmsg", [182] = "putpmsg", [183] = "afs_syscall", [184] = "tuxcall",
    [185] = "security", [186] = "gettid", [187] = "readahead", [188] = "setxattr",
    [189] = "lsetxattr", [190] = "fsetxattr", [191] = "getxattr", [192] = "lgetxattr",
    [193] = "fgetxattr", [194] = "listxattr", [195] = "llistxattr", [196] = "flistxattr",
    [197] = "removexattr", [198] = "lremovexattr", [199] = "fremovexattr", [200] = "tkill",
    [201] = "time", [202] = "futex", [203] = "sched_setaffinity", [204] = "sched_getaffinity",
    [205] = "set_thread_area", [206] = "io_setup", [207] = "io_destroy", [208] = "io_getevents",
    [209] = "io_submit", [210] = "io_cancel", [211] = "get_thread_area", [212] = "lookup_dcookie",
    [213] = "epoll_create", [214] = "epoll_ctl_old", [215] = "epoll_wait_old",
    [216] = "remap_file_pages", [217] = "getdents64", [218] = "set_tid_address",
    [219] = "restart_syscall", [220] = "semtimedop", [221] = "fadvise64", [222] = "timer_create",
    [223] = "timer_settime", [224] = "timer_gettime", [225] = "timer_getoverrun",
    [226] = "timer_delete", [227] = "clock_settime", [228] = "clock_gettime",
    [229] = "clock_getres", [230] = "clock_nanosleep", [231] = "exit_group", [232] = "epoll_wait",
    [233] = "epoll_ctl", [234] = "tgkill", [235] = "utimes", [236] = "vserver", [237] = "mbind",
    [238] = "set_mempolicy", [239] = "get_mempolicy", [240] = "mq_open", [241] = "mq_unlink",
    [242] = "mq_timedsend", [243] = "mq_timedreceive", [244] = "mq_notify", [245] = "mq_getsetattr",
    [246] = "kexec_load", [247] = "waitid", [248] = "add_key", [249] = "request_key",
    [250] = "keyctl", [251] = "ioprio_set", [252] = "ioprio_get", [253] = "inotify_init",
    [254] = "inotify_add_watch", [255] = "inotify_rm_watch", [256] = "migrate_pages",
    [257] = "openat", [258] = "mkdirat", [259] = "mknodat", [260] = "fchownat", [261] = "futimesat",
    [262] = "newfstatat", [263] = "unlinkat", [264] = "renameat", [265] = "linkat",
    [266] = "symlinkat", [267] = "readlinkat", [268] = "fchmodat", [269] = "faccessat",
    [270] = "pselect6", [271] = "ppoll", [272] = "unshare", [273] = "set_robust_list",
    [274] = "get_robust_list", [275] = "splice", [276] = "tee", [277] = "sync_file_range",
    [278] = "vmsplice", [279] = "move_pages", [280] = "utimensat", [281] = "epoll_pwait",
    [282] = "signalfd", [283] = "timerfd_create", [284] = "eventfd", [285] = "fallocate",
    [286] = "timerfd_settime", [287] = "timerfd_gettime", [288] = "accept4", [289] = "signalfd4",
    [290] = "eventfd2", [291] = "epoll_create1", [292] = "dup3", [293] = "pipe2",
    [294] = "inotify_init1", [295] = "preadv", [296] = "pwritev", [297] = "rt_tgsigqueueinfo",
    [298] = "perf_event_open", [299] = "recvmmsg", [300] = "fanotify_init", [301] = "fanotify_mark",
    [302] = "prlimit64", [303] = "name_to_handle_at", [304] = "open_by_handle_at",
    [305] = "clock_adjtime", [306] = "syncfs", [307] = "sendmmsg", [308] = "setns",
    [309] = "getcpu", [310] = "process_vm_readv", [311] = "process_vm_writev", [312] = "kcmp",
    [313] = "finit_module", [314] = "sched_setattr", [315] = "sched_getattr", [316] = "renameat2",
    [317] = "seccomp", [318] = "getrandom", [319] = "memfd_create", [320] = "kexec_file_load",
    [321] = "bpf", [322] = "execveat", [323] = "userfaultfd", [324] = "membarrier",
    [325] = "mlock2", [326] = "copy_file_range", [327] = "preadv2", [328] = "pwritev2",
    [329] = "pkey_mprotect", [330] = "pkey_alloc", [331] = "pkey_free", [332] = "statx",
    [333] = "io_pgetevents", [334] = "rseq", [424] = "pidfd_send_signal", [425] = "io_uring_setup",
    [426] = "io_uring_enter", [427] = "io_uring_register", [428] = "open_tree",
    [429] = "move_mount", [430] = "fsopen", [431] = "fsconfig", [432] = "fsmount", [433] = "fspick",
    [434] = "pidfd_open", [435] = "clone3", [436] = "close_range", [437] = "openat2",
    [438] = "pidfd_getfd", [439] = "faccessat2", [440] = "process_madvise", [441] = "epoll_pwait2",
    [442] = "mount_setattr", [443] = "quotactl_fd", [444] = "landlock_create_ruleset",
    [445] = "landlock_add_rule", [446] = "landlock_restrict_self", [447] = "memfd_secret",
    [448] = "process_mrelease", [449] = "futex_waitv", [450] = "set_mempolicy_home_node",
};
// clang-format on

/* i386 (from <asm/unistd_32.h>): 32-bit calls on an x86_64 host (arch=40000003),
   which audit rules must name separately (-F arch=b32) and attackers use for that. */
// clang-format off
static const char *const i386_syscalls[] = {
    [0] = "restart_syscall", [1] = "exit", [2] = "fork", [3] = "read", [4] = "write", [5] = "open",
    [6] = "close", [7] = "waitpid", [8] = "creat", [9] = "link", [10] = "unlink", [11] = "execve",
    [12] = "chdir", [13] = "time", [14] = "mknod", [15] = "chmod", [16] = "lchown", [17] = "break",
    [18] = "oldstat", [19] = "lseek", [20] = "getpid", [21] = "mount", [22] = "umount",
    [23] = "setuid", [24] = "getuid", [25] = "stime", [26] = "ptrace", [27] = "alarm",
    [28] = "oldfstat", [29] = "pause", [30] = "utime", [31] = "stty", [32] = "gtty",
    [33] = "access", [34] = "nice", [35] = "ftime", [36] = "sync", [37] = "kill", [38] = "rename",
    [39] = "mkdir", [40] = "rmdir", [41] = "dup", [42] = "pipe", [43] = "times", [44] = "prof",
    [45] = "brk", [46] = "setgid", [47] = "getgid", [48] = "signal", [49] = "geteuid",
    [50] = "getegid", [51] = "acct", [52] = "umount2", [53] = "lock", [54] = "ioctl",
    [55] = "fcntl", [56] = "mpx", [57] = "setpgid", [58] = "ulimit", [59] = "oldolduname",
    [60] = "umask", [61] = "chroot", [62] = "ustat", [63] = "dup2", [64] = "getppid",
    [65] = "getpgrp", [66] = "setsid", [67] = "sigaction", [68] = "sgetmask", [69] = "ssetmask",
    [70] = "setreuid", [71] = "setregid", [72] = "sigsuspend", [73] = "sigpending",
    [74] = "sethostname", [75] = "setrlimit", [76] = "getrlimit", [77] = "getrusage",
    [78] = "gettimeofday", [79] = "settimeofday", [80] = "getgroups", [81] = "setgroups",
    [82] = "select", [83] = "symlink", [84] = "oldlstat", [85] = "readlink", [86] = "uselib",
    [87] = "swapon", [88] = "reboot", [89] = "readdir", [90] = "mmap", [91] = "munmap",
    [92] = "truncate", [93] = "ftruncate", [94] = "fchmod", [95] = "fchown", [96] = "getpriority",
    [97] = "setpriority", [98] = "profil", [99] = "statfs", [100] = "fstatfs", [101] = "ioperm",
    [102] = "socketcall", [103] = "syslog", [104] = "setitimer", [105] = "getitimer",
    [106] = "stat", [107] = "lstat", [108] = "fstat", [109] = "olduname", [110] = "iopl",
    [111] = "vhangup", [112] = "idle", [113] = "vm86old", [114] = "wait4", [115] = "swapoff",
    [116] = "sysinfo", [117] = "ipc", [118] = "fsync", [119] = "sigreturn", [120] = "clone",
    [121] = "setdomainname", [122] = "uname", [123] = "modify_ldt", [124] = "adjtimex",
    [125] = "mprotect", [126] = "sigprocmask", [127] = "create_module", [128] = "init_module",
    [129] = "delete_module", [130] = "get_kernel_syms", [131] = "quotactl", [132] = "getpgid",
    [133] = "fchdir", [134] = "bdflush", [135] = "sysfs", [136] = "personality",
    [137] = "afs_syscall", [138] = "setfsuid", [139] = "setfsgid", [140] = "_llseek",
    [141] = "getdents", [142] = "_newselect", [143] = "flock", [144] = "msync", [145] = "readv",
    [146] = "writev", [147] = "getsid", [148] = "fdatasync", [149] = "_sysctl", [150] = "mlock",
    [151] = "munlock", [152] = "mlockall", [153] = "munlockall", [154] = "sched_setparam",
    [155] = "sched_getparam", [156] = "sched_setscheduler", [157] = "sched_getscheduler",
    [158] = "sched_yield", [159] = "sched_get_priority_max", [160] = "sched_get_priority_min",
    [161] = "sched_rr_get_interval", [162] = "nanosleep", [163] = "mremap", [164] = "setresuid",
    [165] = "getresuid", [166] = "vm86", [167] = "query_module", [168] = "poll",
    [169] = "nfsservctl", [170] = "setresgid", [171] = "getresgid", [172] = "prctl",
    [173] = "rt_sigreturn", [174] = "rt_sigaction", [175] = "rt_sigprocmask",
    [176] = "rt_sigpending", [177] = "rt_sigtimedwait", [178] = "rt_sigqueueinfo",
    [179] = "rt_sigsuspend", [180] = "pread64", [181] = "pwrite64", [182] = "chown",
    [183] = "getcwd", [184] = "capget", [185] = "capset", [186] = "sigaltstack", [187] = "sendfile",
    [188] = "getpmsg", [189] = "putpmsg", [190] = "vfork", [191] = "ugetrlimit", [192] = "mmap2",
    [193] = "truncate64", [194] = "ftruncate64", [195] = "stat64", [196] = "lstat64",
    [197] = "fstat64", [198] = "lchown32", [199] = "getuid32", [200] = "getgid32",
    [201] = "geteuid32", [202] = "getegid32", [203] = "setreuid32", [204] = "setregid32",
    [205] = "getgroups32", [206] = "setgroups32", [207] = "fchown32", [208] = "setresuid32",
    [209] = "getresuid32", [210] = "setresgid32", [211] = "getresgid32", [212] = "chown32",
    [213] = "setuid32", [214] = "setgid32", [215] = "setfsuid32", [216] = "setfsgid32",
    [217] = "pivot_root", [218] = "mincore", [219] = "madvise", [220] = "getdents64",
    [221] = "fcntl64", [224] = "gettid", [225] = "readahead", [226] = "setxattr",
    [227] = "lsetxattr", [228] = "fsetxattr", [229] = "getxattr", [230] = "lgetxattr",
    [231] = "fgetxattr", [232] = "listxattr", [233] = "llistxattr", [234] = "flistxattr",
    [235] = "removexattr", [236] = "lremovexattr", [237] = "fremovexattr", [238] = "tkill",
    [239] = "sendfile64", [240] = "futex", [241] = "sched_setaffinity", [242] = "sched_getaffinity",
    [243] = "set_thread_area", [244] = "get_thread_area", [245] = "io_setup", [246] = "io_destroy",
    [247] = "io_getevents", [248] = "io_submit", [249] = "io_cancel", [250] = "fadvise64",
    [252] = "exit_group", [253] = "lookup_dcookie", [254] = "epoll_create", [255] = "epoll_ctl",
    [256] = "epoll_wait", [257] = "remap_file_pages", [258] = "set_tid_address",
    [259] = "timer_create", [260] = "timer_settime", [261] = "timer_gettime",
    [262] = "timer_getoverrun", [263] = "timer_delete", [264] = "clock_settime",
    [265] = "clock_gettime", [266] = "clock_getres", [267] = "clock_nanosleep", [268] = "statfs64",
    [269] = "fstatfs64", [270] = "tgkill", [271] = "utimes", [272] = "fadvise64_64",
    [273] = "vserver", [274] = "mbind", [275] = "get_mempolicy", [276] = "set_mempolicy",
    [277] = "mq_open", [278] = "mq_unlink", [279] = "mq_timedsend", [280] = "mq_timedreceive",
    [281] = "mq_notify", [282] = "mq_getsetattr", [283] = "kexec_load", [284] = "waitid",
    [286] = "add_key", [287] = "request_key", [288] = "keyctl", [289] = "ioprio_set",
    [290] = "ioprio_get", [291] = "inotify_init", [292] = "inotify_add_watch",
    [293] = "inotify_rm_watch", [294] = "migrate_pages", [295] = "openat", [296] = "mkdirat",
    [297] = "mknodat", [298] = "fchownat", [299] = "futimesat", [300] = "fstatat64",
    [301] = "unlinkat", [302] = "renameat", [303] = "linkat", [304] = "symlinkat",
    [305] = "readlinkat", [306] = "fchmodat", [307] = "faccessat", [308] = "pselect6",
    [309] = "ppoll", [310] = "unshare", [311] = "set_robust_list", [312] = "get_robust_list",
    [313] = "splice", [314] = "sync_file_range", [315] = "tee", [316] = "vmsplice",
    [317] = "move_pages", [318] = "getcpu", [319] = "epoll_pwait", [320] = "utimensat",
    [321] = "signalfd", [322] = "timerfd_create", [323] = "eventfd", [324] = "fallocate",
    [325] = "timerfd_settime", [326] = "timerfd_gettime", [327] = "signalfd4", [328] = "eventfd2",
    [329] = "epoll_create1", [330] = "dup3", [331] = "pipe2", [332] = "inotify_init1",
    [333] = "preadv", [334] = "pwritev", [335] = "rt_tgsigqueueinfo", [336] = "perf_event_open",
    [337] = "recvmmsg", [338] = "fanotify_init", [339] = "fanotify_mark", [340] = "prlimit64",
    [341] = "name_to_handle_at", [342] = "open_by_handle_at", [343] = "clock_adjtime",
    [344] = "syncfs", [345] = "sendmmsg", [346] = "setns", [347] = "process_vm_readv",
    [348] = "process_vm_writev", [349] = "kcmp", [350] = "finit_module", [351] = "sched_setattr",
    [352] = "sched_getattr", [353] = "renameat2", [354] = "seccomp", [355] = "getrandom",
    [356] = "memfd_create", [357] = "bpf", [358] = "execveat", [359] = "socket",
    [360] = "socketpair", [361] = "bind", [362] = "connect", [363] = "listen", [364] = "accept4",
    [365] = "getsockopt", [366] = "setsockopt", [367] = "getsockname", [368] = "getpeername",
    [369] = "sendto", [370] = "sendmsg", [371] = "recvfrom", [372] = "recvmsg", [373] = "shutdown",
    [374] = "userfaultfd", [375] = "membarrier", [376] = "mlock2", [377] = "copy_file_range",
    [378] = "preadv2", [379] = "pwritev2", [380] = "pkey_mprotect", [381] = "pkey_alloc",
    [382] = "pkey_free", [383] = "statx", [384] = "arch_prctl", [385] = "io_pgetevents",
    [386] = "rseq", [393] = "semget", [394] = "semctl", [395] = "shmget", [396] = "shmctl",
    [397] = "shmat", [398] = "shmdt", [399] = "msgget", [400] = "msgsnd", [401] = "msgrcv",
    [402] = "msgctl", [403] = "clock_gettime64", [404] = "clock_settime64",
    [405] = "clock_adjtime64", [406] = "clock_getres_time64", [407] = "clock_nanosleep_time64",
    [408] = "timer_gettime64", [409] = "timer_settime64", [410] = "timerfd_gettime64",
    [411] = "timerfd_settime64", [412] = "utimensat_time64", [413] = "pselect6_time64",
    [414] = "ppoll_time64", [416] = "io_pgetevents_time64", [417] = "recvmmsg_time64",
    [418] = "mq_timedsend_time64", [419] = "mq_timedreceive_time64", [420] = "semtimedop_time64",
    [421] = "rt_sigtimedwait_time64", [422] = "futex_time64",
    [423] = "sched_rr_get_interval_time64", [424] = "pidfd_send_signal", [425] = "io_uring_setup",
    [426] = "io_uring_enter", [427] = "io_uring_register", [428] = "open_tree",
    [429] = "move_mount", [430] = "fsopen", [431] = "fsconfig", [432] = "fsmount", [433] = "fspick",
    [434] = "pidfd_open", [435] = "clone3", [436] = "close_range", [437] = "openat2",
    [438] = "pidfd_getfd", [439] = "faccessat2", [440] = "process_madvise", [441] = "epoll_pwait2",
    [442] = "mount_setattr", [443] = "quotactl_fd", [444] = "landlock_create_ruleset",
    [445] = "landlock_add_rule", [446] = "landlock_restrict_self", [447] = "memfd_secret",
    [448] = "process_mrelease", [449] = "futex_waitv", [450] = "set_mempolicy_home_node",
};
// clang-format on

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *syscall_name(vg_str arch, vg_str num)
{
    const char *const *table;
    size_t size, n = 0;
    if (vg_str_eqc(arch, "c000003e")) {
        table = x86_64_syscalls;
        size = NELEM(x86_64_syscalls);
    } else if (vg_str_eqc(arch, "40000003")) {
        table = i386_syscalls;
        size = NELEM(i386_syscalls);
    } else {
        return NULL;
    }
    if (num.n == 0 || num.n > 4)
        return NULL;
    for (size_t i = 0; i < num.n; i++) {
        if (num.p[i] < '0' || num.p[i] > '9')
            return NULL;
        n = n * 10 + (size_t)(num.p[i] - '0');
    }
    return n < size ? table[n] : NULL;
}

/* ---- values ---- */

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool is_hex(vg_str v)
{
    if (v.n < 2 || v.n % 2)
        return false;
    for (size_t i = 0; i < v.n; i++)
        if (hexval(v.p[i]) < 0)
            return false;
    return true;
}

/* Decode at most cap bytes of hex v into d; NUL -> ' ' when nul_space. */
static size_t hex_decode(char *d, size_t cap, vg_str v, bool nul_space)
{
    size_t n = v.n / 2;
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++) {
        /* unsigned: no UB even if a caller skipped is_hex() (hexval -1) */
        char c = (char)(((unsigned)hexval(v.p[2 * i]) << 4) | (unsigned)hexval(v.p[2 * i + 1]));
        d[i] = (c == '\0' && nul_space) ? ' ' : c;
    }
    /* proctitle ends with its last argument's NUL on some kernels */
    if (nul_space)
        while (n > 0 && d[n - 1] == ' ' && v.p[2 * n - 2] == '0' && v.p[2 * n - 1] == '0')
            n--;
    return n;
}

/* "aN" or "aN[i]" (an EXECVE argument or a chunk of one); *chunk = i. */
static bool exec_arg_key(vg_str k, size_t *chunk)
{
    size_t i = 1;
    *chunk = 0;
    if (k.n < 2 || k.p[0] != 'a')
        return false;
    while (i < k.n && k.p[i] >= '0' && k.p[i] <= '9' && i < 8)
        i++;
    if (i == 1)
        return false;
    if (i == k.n)
        return true;
    if (k.p[i] != '[' || k.p[k.n - 1] != ']' || k.n - i < 3)
        return false;
    size_t c = 0;
    for (size_t j = i + 1; j < k.n - 1; j++) {
        if (k.p[j] < '0' || k.p[j] > '9' || j - i > 8)
            return false;
        c = c * 10 + (size_t)(k.p[j] - '0');
    }
    *chunk = c;
    return true;
}

/* Keys whose untrusted values auditd may write as bare hex. */
static bool hexable(vg_str k, bool execve)
{
#define K(s) {s, sizeof(s) - 1}
    static const struct {
        const char *s;
        size_t n;
    } keys[] = {K("proctitle"), K("name"), K("cwd"),   K("exe"), K("comm"), K("cmd"),  K("data"),
                K("key"),       K("path"), K("ocomm"), K("acct"), K("dir"), K("file"), K("watch")};
#undef K
    size_t chunk;
    if (execve && exec_arg_key(k, &chunk))
        return true;
    /* Length first: this runs for every key of every record. */
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (k.n == keys[i].n && memcmp(k.p, keys[i].s, k.n) == 0)
            return true;
    return false;
}

static bool parse_u32(vg_str v, uint32_t *out)
{
    uint64_t n = 0;
    if (v.n == 0 || v.n > 10)
        return false;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    if (n > UINT32_MAX)
        return false;
    *out = (uint32_t)n;
    return true;
}

/* ---- one record ---- */

typedef enum { KIND_OTHER, KIND_SYSCALL, KIND_EXECVE, KIND_CWD, KIND_PROCTITLE, KIND_EOE } au_kind;

typedef struct au_rec {
    const vg_parse_ctx *ctx;
    vg_event *ev;
    au_state *s;
    au_group *g; /* the group this record feeds (not over), or NULL */
    au_kind kind;
    vg_str serial;
    vg_str arch, sysno;
    bool have_sysname;
} au_rec;

/* Append v (hex-decoded if hex) to buf[*n..cap); false if it was cut. */
static bool put(char *buf, size_t cap, size_t *n, vg_str v, bool hex, bool nul_space)
{
    size_t room = cap - *n;
    if (hex) {
        *n += hex_decode(buf + *n, room, v, nul_space);
        return v.n / 2 <= room;
    }
    size_t k = v.n < room ? v.n : room;
    if (k)
        memcpy(buf + *n, v.p, k);
    *n += k;
    return k == v.n;
}

static bool put_span(au_group *g, au_span *sp, vg_str v, bool hex, bool nul_space)
{
    size_t start = g->nvals;
    bool whole = put(g->vals, AU_VALS_MAX, &g->nvals, v, hex, nul_space);
    sp->off = (uint16_t)start;
    sp->len = (uint16_t)(g->nvals - start);
    return whole;
}

static void group_add(au_rec *r, vg_str key, vg_str val, bool hex, bool nul_space)
{
    au_group *g = r->g;
    size_t chunk;
    switch (r->kind) {
    case KIND_SYSCALL:
        if (g->nsc >= AU_SC_FIELDS) {
            group_cut(r->s, g);
            return;
        }
        if (!put_span(g, &g->sc_name[g->nsc], key, false, false) ||
            !put_span(g, &g->sc_val[g->nsc], val, hex, nul_space)) {
            group_cut(r->s, g);
            return;
        }
        g->nsc++;
        return;
    case KIND_EXECVE:
        if (!exec_arg_key(key, &chunk))
            return;
        if (chunk == 0 && g->nargs++ > 0 &&
            !put(g->cmd, AU_CMD_MAX, &g->ncmd, VG_STR(" "), false, false)) {
            group_cut(r->s, g);
            return;
        }
        if (!put(g->cmd, AU_CMD_MAX, &g->ncmd, val, hex, false))
            group_cut(r->s, g);
        return;
    case KIND_CWD:
        if (vg_str_eqc(key, "cwd")) {
            if (!put_span(g, &g->cwd, val, hex, false))
                group_cut(r->s, g);
            g->have_cwd = true;
        }
        return;
    case KIND_PROCTITLE:
        if (vg_str_eqc(key, "proctitle")) {
            if (!put_span(g, &g->title, val, hex, nul_space))
                group_cut(r->s, g);
            g->have_title = true;
        }
        return;
    default:
        return;
    }
}

static void on_kv(au_rec *r, vg_str key, vg_str val, bool quoted)
{
    vg_event *ev = r->ev;
    bool hex = !quoted && hexable(key, r->kind == KIND_EXECVE) && is_hex(val);
    bool nul_space = vg_str_eqc(key, "proctitle");
    if (r->kind == KIND_SYSCALL) {
        if (vg_str_eqc(key, "arch"))
            r->arch = val;
        else if (vg_str_eqc(key, "syscall"))
            r->sysno = val;
        else if (vg_str_eqc(key, "SYSCALL"))
            r->have_sysname = true;
    }
    if (r->g)
        group_add(r, key, val, hex, nul_space);
    /* The header's fields are not for the body to replace (msg='type=EXECVE ...'). */
    if (vg_str_eqc(key, "type") || vg_str_eqc(key, "audit_serial") || vg_str_eqc(key, "message") ||
        vg_str_eqc(key, "node"))
        return;
    if (ev->nfields >= VG_EVENT_MAX_FIELDS) {
        ev->flags |= VG_EV_FIELDS_DROPPED; /* spare the arena the decoding */
        return;
    }
    vg_str v = val;
    if (hex) {
        vg_arena *a = r->ctx ? r->ctx->arena : NULL;
        char *d = a ? vg_arena_alloc(a, val.n / 2) : NULL;
        if (d)
            v = (vg_str){d, hex_decode(d, val.n / 2, val, nul_space)};
        else
            ev->flags |= VG_EV_FIELDS_DROPPED; /* the hex stays */
    }
    if (vg_event_set(ev, key, v) && vg_str_eqc(key, "pid"))
        ev->pid = v;
}

/*
 * The k=v pairs of p[0..e). Tokens without '=' ("avc:", "denied", "{") are
 * skipped. A quote runs to the next same quote (auditd hex-encodes values
 * holding quotes) or, unterminated, to the end. msg='...' of user-space
 * records is parsed as pairs itself (one level).
 */
// NOLINTNEXTLINE(misc-no-recursion): one level: msg='...' is parsed once, nested pairs are not (nested)
static void parse_pairs(au_rec *r, const char *p, const char *e, bool nested)
{
    while (p < e) {
        while (p < e && *p == ' ')
            p++;
        const char *k = p;
        /* A key is printable ASCII: a token holding a control or non-ASCII
           byte is not a pair (found by fuzz_auditd: a key with a NUL became
           an alert JSON object key "\u0000", which jansson and many
           consumers refuse). */
        bool key_ok = true;
        while (p < e && *p != '=' && *p != ' ') {
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                key_ok = false;
            p++;
        }
        if (p >= e || *p != '=' || p == k || p - k > AU_KEY_MAX || !key_ok) {
            while (p < e && *p != ' ')
                p++;
            continue;
        }
        vg_str key = {k, (size_t)(p - k)};
        p++;
        vg_str val;
        bool quoted = false;
        if (p < e && (*p == '"' || *p == '\'')) {
            char q = *p++;
            const char *ve = memchr(p, q, (size_t)(e - p));
            if (!ve)
                ve = e;
            val = (vg_str){p, (size_t)(ve - p)};
            quoted = true;
            p = ve < e ? ve + 1 : e;
            if (q == '\'' && !nested && vg_str_eqc(key, "msg")) {
                parse_pairs(r, val.p, val.p + val.n, true);
                continue;
            }
        } else {
            const char *vs = p;
            while (p < e && *p != ' ')
                p++;
            val = (vg_str){vs, (size_t)(p - vs)};
        }
        on_kv(r, key, val, quoted);
    }
}

/* ---- the merged process_creation event ---- */

static vg_str sc_get(const au_group *g, const char *name)
{
    for (unsigned i = 0; i < g->nsc; i++) {
        vg_str n = {g->vals + g->sc_name[i].off, g->sc_name[i].len};
        if (vg_str_eqc(n, name))
            return (vg_str){g->vals + g->sc_val[i].off, g->sc_val[i].len};
    }
    return VG_STR_NULL;
}

/* Copy v to the arena (an empty value needs no copy); NULL p on failure. */
static vg_str copy(const vg_parse_ctx *ctx, vg_event *ev, vg_str v)
{
    if (v.n == 0)
        return (vg_str){"", 0};
    char *d = ctx && ctx->arena ? vg_arena_alloc(ctx->arena, v.n) : NULL;
    if (!d) {
        ev->flags |= VG_EV_FIELDS_DROPPED;
        return VG_STR_NULL;
    }
    memcpy(d, v.p, v.n);
    return (vg_str){d, v.n};
}

static void set_copy(const vg_parse_ctx *ctx, vg_event *ev, vg_str name, vg_str v)
{
    if (!v.p)
        return;
    v = copy(ctx, ev, v);
    if (v.p)
        vg_event_set(ev, name, v);
}

/* Turn ev (the EOE record of g) into g's process_creation event. */
static void merge(au_rec *r, au_group *g)
{
    const vg_parse_ctx *ctx = r->ctx;
    vg_event *ev = r->ev;
    au_state *s = r->s;
    vg_str image = sc_get(g, "exe"), pid = sc_get(g, "pid"), ppid = sc_get(g, "ppid");
    vg_str user = sc_get(g, "UID");
    if (!user.p)
        user = sc_get(g, "uid");
    vg_str cmd = {g->cmd, g->ncmd};

    vg_event_clear_fields(ev);
    ev->logsource = &ls_proc_creation;
    ev->service2 = NULL;
    ev->program = ev->pid = VG_STR_NULL;
    ev->message = copy(ctx, ev, cmd);
    if (ev->message.p) {
        vg_event_set(ev, VG_STR("CommandLine"), ev->message);
        vg_event_set(ev, VG_STR("message"), ev->message);
    }
    set_copy(ctx, ev, VG_STR("Image"), image);
    if (g->have_cwd)
        set_copy(ctx, ev, VG_STR("CurrentDirectory"), (vg_str){g->vals + g->cwd.off, g->cwd.len});
    set_copy(ctx, ev, VG_STR("User"), user);
    set_copy(ctx, ev, VG_STR("LogonId"), sc_get(g, "auid"));
    set_copy(ctx, ev, VG_STR("ProcessId"), pid);
    set_copy(ctx, ev, VG_STR("ParentProcessId"), ppid);
    const vg_str *pv = vg_event_get(ev, VG_STR("ProcessId"));
    if (pv)
        ev->pid = *pv;
    vg_event_set(ev, VG_STR("audit_serial"), r->serial); /* in this record's raw */

    uint32_t ppid_n, pid_n;
    int32_t pi = parse_u32(ppid, &ppid_n) ? parent_find(s, ppid_n) : -1;
    if (pi >= 0) {
        set_copy(ctx, ev, VG_STR("ParentImage"), (vg_str){s->p[pi].image, s->p[pi].nimage});
        set_copy(ctx, ev, VG_STR("ParentCommandLine"), (vg_str){s->p[pi].cmd, s->p[pi].ncmd});
        s->c[AU_C_PARENT_FOUND]++;
    } else {
        s->c[AU_C_PARENT_MISSING]++;
    }

    /* The SYSCALL record's own fields, after the Sigma ones (those win a slot). */
    for (unsigned i = 0; i < g->nsc && ev->nfields < VG_EVENT_MAX_FIELDS; i++) {
        vg_str n = copy(ctx, ev, (vg_str){g->vals + g->sc_name[i].off, g->sc_name[i].len});
        vg_str v = copy(ctx, ev, (vg_str){g->vals + g->sc_val[i].off, g->sc_val[i].len});
        if (n.p && v.p && n.n && !vg_event_get(ev, n))
            vg_event_set(ev, n, v);
    }

    vg_str success = sc_get(g, "success");
    if (!vg_str_eqc(success, "no") && parse_u32(pid, &pid_n) && image.p)
        parent_put(s, pid_n, image, cmd);
    s->c[AU_C_MERGED]++;
}

/*
 * Any other syscall event still shows a process: pid, its exe and (in
 * PROCTITLE) its argv. Worker processes forked without an exec (apache2,
 * sshd, php-fpm children) get into the parent table that way, when audit
 * rules catch one of their syscalls. An execve's entry is never replaced.
 */
static void remember_process(au_state *s, const au_group *g)
{
    uint32_t pid;
    vg_str image = sc_get(g, "exe");
    if (!g->have_title || !image.p || vg_str_eqc(sc_get(g, "success"), "no") ||
        !parse_u32(sc_get(g, "pid"), &pid) || parent_find(s, pid) >= 0)
        return;
    parent_put(s, pid, image, (vg_str){g->vals + g->title.off, g->title.len});
}

/* ---- the parser ---- */

static inline bool dig(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits at p (1..max of them); returns the end, or NULL. */
static const char *digits(const char *p, const char *e, size_t max)
{
    const char *s = p;
    while (p < e && dig(*p) && (size_t)(p - s) < max)
        p++;
    return p > s && !(p < e && dig(*p)) ? p : NULL;
}

static bool lit(const char *p, const char *e, const char *l)
{
    size_t n = strlen(l);
    return (size_t)(e - p) >= n && memcmp(p, l, n) == 0;
}

/* int64 nanoseconds cover 1678..2262 */
#define TS_SECS_MAX 9200000000LL

static void parse_auditd(const vg_parse_ctx *ctx, vg_event *ev)
{
    const char *s = ev->raw.p ? ev->raw.p : "";
    const char *e = s + (ev->raw.p ? ev->raw.n : 0);
    while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
        e--;
    ev->message = (vg_str){s, (size_t)(e - s)};
    au_rec r = {.ctx = ctx, .ev = ev, .s = ctx ? ctx->state : NULL};
    const char *p = s, *q;
    bool ok = false;

    if (lit(p, e, "node=")) {
        const char *n = p + 5;
        for (p = n; p < e && *p != ' ';)
            p++;
        if (p >= e)
            goto out;
        ev->hostname = (vg_str){n, (size_t)(p - n)};
        vg_event_set(ev, VG_STR("node"), ev->hostname);
        p++;
    }
    if (!lit(p, e, "type="))
        goto out;
    const char *t = p + 5;
    for (p = t; p < e && *p != ' ';)
        p++;
    vg_str type = {t, (size_t)(p - t)};
    if (type.n == 0 || !lit(p, e, " msg=audit("))
        goto out;
    p += 11;
    /* SECONDS.MILLIS:SERIAL */
    if (!(q = digits(p, e, 12)) || q >= e || *q != '.')
        goto out;
    int64_t secs = 0, frac = 0;
    for (; p < q; p++)
        secs = secs * 10 + (*p - '0');
    const char *f = q + 1;
    if (!(q = digits(f, e, 9)) || q >= e || *q != ':')
        goto out;
    int fd = 0;
    for (p = f; p < q; p++, fd++)
        frac = frac * 10 + (*p - '0');
    for (; fd < 9; fd++)
        frac *= 10;
    const char *sn = q + 1;
    if (!(q = digits(sn, e, 20)) || !lit(q, e, "):"))
        goto out;
    r.serial = (vg_str){sn, (size_t)(q - sn)};
    uint64_t serial = 0;
    for (p = sn; p < q; p++)
        serial = serial * 10 + (uint64_t)(*p - '0'); /* wraps past 20 digits: only a key */
    p = q + 2;
    if (p < e && *p == ' ')
        p++;
    if (secs <= TS_SECS_MAX)
        ev->ts_ns = secs * 1000000000LL + frac;
    ok = true;

    const char *gs = memchr(p, 0x1d, (size_t)(e - p));
    const char *body_end = gs ? gs : e;
    ev->message = (vg_str){p, (size_t)(body_end - p)};
    vg_event_set(ev, VG_STR("type"), type);
    vg_event_set(ev, VG_STR("audit_serial"), r.serial);
    vg_event_set(ev, VG_STR("message"), ev->message);
    ev->service2 = svc_auditd;

    if (vg_str_eqc(type, "SYSCALL"))
        r.kind = KIND_SYSCALL;
    else if (vg_str_eqc(type, "EXECVE"))
        r.kind = KIND_EXECVE;
    else if (vg_str_eqc(type, "CWD"))
        r.kind = KIND_CWD;
    else if (vg_str_eqc(type, "PROCTITLE"))
        r.kind = KIND_PROCTITLE;
    else if (vg_str_eqc(type, "EOE"))
        r.kind = KIND_EOE;

    au_group *g = NULL;
    if (r.s) {
        if (r.kind == KIND_SYSCALL) {
            g = group_open(r.s, serial);
        } else if (!(g = group_find(r.s, serial)) &&
                   (r.kind == KIND_EXECVE || r.kind == KIND_CWD || r.kind == KIND_PROCTITLE ||
                    vg_str_eqc(type, "PATH"))) {
            r.s->c[AU_C_ORPHANS]++;
        }
        if (g && r.kind != KIND_EOE && !g->over && ++g->nrec > AU_GROUP_RECORDS) {
            g->over = true;
            r.s->c[AU_C_OVERFLOW]++;
        }
        if (g && r.kind != KIND_EOE && !g->over) {
            r.g = g;
            if (r.kind == KIND_EXECVE)
                g->have_execve = true;
        }
    }

    parse_pairs(&r, p, body_end, false);
    if (gs)
        parse_pairs(&r, gs + 1, e, true); /* ENRICHED: K="v" interpretations */

    if (r.kind == KIND_SYSCALL && !r.have_sysname) {
        const char *name = syscall_name(r.arch, r.sysno);
        if (name)
            on_kv(&r, VG_STR("SYSCALL"), (vg_str){name, strlen(name)}, true);
    }
    if (r.kind == KIND_EOE && g) {
        if (g->have_execve) {
            merge(&r, g);
        } else {
            remember_process(r.s, g);
            r.s->c[AU_C_PLAIN]++;
        }
        group_free(g);
    }
out:
    if (!ok) {
        ev->flags |= VG_EV_PARSE_FAILED;
        vg_event_set(ev, VG_STR("message"), ev->message);
    }
}

const vg_parser vg_parser_auditd = {
    .name = "auditd",
    .help = "Linux audit log (raw or ENRICHED): one event per record, plus process_creation "
            "events merged from SYSCALL+EXECVE+CWD at EOE",
    .parse = parse_auditd,
    .state_create = au_state_create,
    .state_destroy = au_state_destroy,
    .state_counters = au_state_counters,
};

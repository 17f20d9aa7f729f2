/* test_sandbox.c - the write plan of a configuration, reload coverage, and the
   applied sandbox in a forked child: denied calls fail, normal work goes on. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static char base[256];

static void mk(const char *sub)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", base, sub);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
}

static void setup_dirs(void)
{
    snprintf(base, sizeof base, "/tmp/vg-sandbox.XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    char *r = realpath(base, NULL); /* /tmp may be a symbolic link */
    snprintf(base, sizeof base, "%s", r);
    free(r);
    mk("state");
    mk("out");
    mk("sock");
    mk("outside");
    mk("other");
}

static void rm_tree(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    cr_expect_eq(system(cmd), 0);
}

/* A configuration with a state directory, file outputs and listeners. */
typedef struct test_conf {
    vg_config c;
    vg_output_conf outs[4];
    vg_input_conf ins[2];
    char paths[8][512];
} test_conf;

static void conf_init(test_conf *t, const char *state)
{
    memset(t, 0, sizeof *t);
    t->c.sandbox = true;
    snprintf(t->paths[0], sizeof t->paths[0], "%s/%s", base, state);
    t->c.state_dir = t->paths[0];
    t->c.outputs = t->outs;
    t->c.inputs = t->ins;
}

static void conf_output(test_conf *t, const char *name, const char *type, const char *rel)
{
    vg_output_conf *o = &t->outs[t->c.noutputs];
    char *p = t->paths[1 + t->c.noutputs];
    if (rel[0] == '/')
        snprintf(p, 512, "%s", rel);
    else
        snprintf(p, 512, "%s/%s", base, rel);
    o->name = (char *)name;
    o->type = (char *)type;
    o->path = p;
    t->c.noutputs++;
}

static void conf_unix(test_conf *t, const char *name, const char *rel)
{
    vg_input_conf *in = &t->ins[t->c.ninputs];
    char *p = t->paths[6 + t->c.ninputs];
    snprintf(p, 512, "%s/%s", base, rel);
    in->name = (char *)name;
    in->type = (char *)"syslog";
    in->listen_unix = p;
    t->c.ninputs++;
}

static const vg_sandbox_dir *find(const vg_sandbox_plan *p, const char *rel)
{
    char want[512];
    if (rel[0] == '/')
        snprintf(want, sizeof want, "%s", rel);
    else
        snprintf(want, sizeof want, "%s/%s", base, rel);
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->dirs[i].path, want))
            return &p->dirs[i];
    return NULL;
}

Test(sandbox, plan_of_a_configuration, .init = setup_dirs, .fini = rm_tree)
{
    test_conf t;
    conf_init(&t, "state");
    conf_output(&t, "alerts", "file", "out/alerts.json");
    conf_output(&t, "second", "file", "out/second.json");    /* same directory: merged */
    conf_output(&t, "web", "http", "ignored/x");             /* network output: nothing */
    conf_output(&t, "gone", "file", "missing/dir/a.json");   /* directory absent */
    conf_unix(&t, "sock", "sock/log.sock");
    vg_sandbox_plan p;
    vg_errbuf eb;
    cr_assert_eq(vg_sandbox_plan_build(&t.c, &p, &eb), VG_OK, "%s", eb.msg);
    static const struct {
        const char *path;
        unsigned access;
        bool missing;
        const char *why;
    } want[] = {
        {"state", VG_SANDBOX_TREE, false, "state_dir"},
        {"out", VG_SANDBOX_FILES, false, "output 'alerts'"},
        {"missing/dir", VG_SANDBOX_FILES, true, "output 'gone'"},
        {"sock", VG_SANDBOX_SOCKET, false, "input 'sock' (unix socket)"},
        {"/dev/null", VG_SANDBOX_WRITE, false, "/dev/null"},
    };
    size_t expect_n = sizeof want / sizeof want[0];
    for (size_t i = 0; i < expect_n; i++) {
        const vg_sandbox_dir *d = find(&p, want[i].path);
        cr_assert_not_null(d, "no entry for %s", want[i].path);
        cr_expect_eq(d->access, want[i].access, "%s: access %u", want[i].path, d->access);
        cr_expect_eq(d->missing, want[i].missing, "%s: missing", want[i].path);
        cr_expect_str_eq(d->why, want[i].why);
    }
    cr_expect(find(&p, "ignored") == NULL);
    /* Sanitizer builds add the log_path directories of the run. */
    if (!SANITIZED || (!getenv("ASAN_OPTIONS") && !getenv("UBSAN_OPTIONS")))
        cr_expect_eq(p.n, expect_n, "%zu entries", p.n);
    vg_sandbox_plan_free(&p);
    vg_sandbox_plan_free(&p); /* twice is safe */
}

Test(sandbox, output_to_a_device_is_one_file, .init = setup_dirs, .fini = rm_tree)
{
    test_conf t;
    conf_init(&t, "state");
    conf_output(&t, "console", "file", "/dev/null");
    vg_sandbox_plan p;
    cr_assert_eq(vg_sandbox_plan_build(&t.c, &p, NULL), VG_OK);
    const vg_sandbox_dir *d = find(&p, "/dev/null");
    cr_assert_not_null(d);
    cr_expect_eq(d->access, VG_SANDBOX_WRITE);
    cr_expect(find(&p, "/dev") == NULL, "never the whole of /dev");
    vg_sandbox_plan_free(&p);
}

Test(sandbox, reload_coverage, .init = setup_dirs, .fini = rm_tree)
{
    test_conf start;
    conf_init(&start, "state");
    conf_output(&start, "alerts", "file", "out/alerts.json");
    conf_unix(&start, "sock", "sock/log.sock");
    vg_sandbox_plan have;
    cr_assert_eq(vg_sandbox_plan_build(&start.c, &have, NULL), VG_OK);
    static const struct {
        const char *state;
        const char *out;      /* file output, or NULL */
        const char *sock;     /* unix listener, or NULL */
        vg_err rc;
        const char *msg;      /* part of the refusal */
    } t[] = {
        {"state", "out/alerts.json", "sock/log.sock", VG_OK, NULL},
        {"state", "out/renamed.json", NULL, VG_OK, NULL},          /* same directory */
        {"state", "state/sub/alerts.json", NULL, VG_OK, NULL},     /* beneath the state dir */
        {"state", NULL, "state/in.sock", VG_OK, NULL},
        {"state", "other/alerts.json", NULL, VG_EPERM, "output 'o' needs file creation in "},
        {"state", "outside/new/a.json", NULL, VG_EPERM, "restart vigie"},
        {"state", NULL, "other/log.sock", VG_EPERM, "input 'u' (unix socket) needs socket"},
        {"state", NULL, "out/log.sock", VG_EPERM, "socket creation"}, /* FILES is not SOCKET */
        {"other", NULL, NULL, VG_EPERM, "state_dir needs any change in "},
        {"state/sub", NULL, NULL, VG_OK, NULL},
        {"stateful", NULL, NULL, VG_EPERM, "state_dir"},           /* a prefix, not beneath */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        test_conf n;
        conf_init(&n, t[i].state);
        if (t[i].out)
            conf_output(&n, "o", "file", t[i].out);
        if (t[i].sock)
            conf_unix(&n, "u", t[i].sock);
        vg_sandbox_plan need;
        vg_errbuf eb = {0};
        cr_assert_eq(vg_sandbox_plan_build(&n.c, &need, NULL), VG_OK);
        vg_err rc = vg_sandbox_plan_covers(&have, &need, &eb);
        cr_expect_eq(rc, t[i].rc, "case %zu: rc %d (%s)", i, rc, eb.msg);
        if (t[i].msg)
            cr_expect(strstr(eb.msg, t[i].msg) != NULL, "case %zu: %s", i, eb.msg);
        vg_sandbox_plan_free(&need);
    }
    vg_sandbox_plan_free(&have);
}

/* ---- the applied sandbox, in a forked child ---- */

typedef struct check {
    const char *what;
    int (*fn)(void); /* 0 = as expected, else errno seen (or -1) */
} check;

static int try_execve(void)
{
    char *argv[] = {(char *)"/bin/true", NULL};
    char *envp[] = {NULL};
    execve("/bin/true", argv, envp);
    return errno == EPERM ? 0 : errno ? errno : -1;
}

static int try_ptrace(void)
{
    if (SANITIZED)
        return 0; /* allowed for LeakSanitizer in sanitizer builds */
    long r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    return r < 0 && errno == EPERM ? 0 : r < 0 ? errno : -1;
}

static int try_unshare(void)
{
    return unshare(CLONE_NEWUSER) < 0 && errno == EPERM ? 0 : errno ? errno : -1;
}

static int try_mount(void)
{
    long r = syscall(SYS_mount, "none", "/mnt", "tmpfs", 0UL, NULL);
    return r < 0 && errno == EPERM ? 0 : r < 0 ? errno : -1;
}

static int try_setuid(void)
{
    long r = syscall(SYS_setuid, (long)getuid());
    return r < 0 && errno == EPERM ? 0 : r < 0 ? errno : -1;
}

static int try_personality(void)
{
    /* query allowed, change denied */
    if (syscall(SYS_personality, 0xffffffffUL) < 0)
        return errno;
    long r = syscall(SYS_personality, 0x0040000UL /* ADDR_NO_RANDOMIZE */);
    return r < 0 && errno == EPERM ? 0 : r < 0 ? errno : -1;
}

static int try_write(const char *rel, int expect_errno)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int e = errno;
    if (fd >= 0) {
        ssize_t w = write(fd, "x\n", 2);
        close(fd);
        if (w != 2)
            return -1;
    }
    if (expect_errno == 0)
        return fd >= 0 ? 0 : e;
    return fd < 0 && e == expect_errno ? 0 : fd >= 0 ? -1 : e;
}

static int write_outside(void) { return try_write("outside/x", EACCES); }
static int write_state(void) { return try_write("state/positions", 0); }
static int write_output(void) { return try_write("out/alerts.json", 0); }
static int mkdir_in_state(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/state/spool", base);
    return mkdir(p, 0750) == 0 ? 0 : errno;
}

static int rename_in_output(void)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/out/alerts.json", base);
    snprintf(b, sizeof b, "%s/out/alerts.json.1", base);
    if (try_write("out/alerts.json", 0))
        return -1;
    return rename(a, b) == 0 ? 0 : errno;
}

static int unlink_outside(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/other/keep", base);
    return unlink(p) < 0 && errno == EACCES ? 0 : errno ? errno : -1;
}

static int read_outside(void)
{
    char p[512], buf[16];
    snprintf(p, sizeof p, "%s/other/keep", base);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n == 5 ? 0 : -1;
}

static int unix_socket_in_sock_dir(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(base) + sizeof "/sock/s" > sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, base, strlen(base));
    memcpy(sa.sun_path + strlen(base), "/sock/s", sizeof "/sock/s");
    int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    return r == 0 ? 0 : e;
}

static int dev_null_writable(void)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static void *thread_fn(void *arg) { return arg; }

static int threads_start(void)
{
    /* glibc's clone3 gets ENOSYS and falls back to clone */
    pthread_t th;
    void *res = NULL;
    if (pthread_create(&th, NULL, thread_fn, (void *)0x1) != 0)
        return -1;
    pthread_join(th, &res);
    return res == (void *)0x1 ? 0 : -1;
}

static int fork_works(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(7);
    int st;
    return p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : -1;
}

static int tcp_loopback(void)
{
    /* What outputs and listeners do: socket, bind, listen, connect. */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sl) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&sa, &sl))
        return errno;
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = connect(c, (struct sockaddr *)&sa, sl);
    int e = errno;
    close(c);
    close(l);
    return r == 0 ? 0 : e;
}

static int seccomp_in_status(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    int mode = -1;
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "Seccomp: %d", &mode);
    if (f)
        fclose(f);
    return mode == 2 ? 0 : -1;
}

static int sanitizer_log_writable(void)
{
    /* Sanitizer builds: reports must still reach ASAN_OPTIONS' log_path. */
    const char *o = SANITIZED ? getenv("ASAN_OPTIONS") : NULL;
    const char *lp = o ? strstr(o, "log_path=") : NULL;
    if (!lp)
        return 0;
    char p[512];
    snprintf(p, sizeof p, "%.*s.sandbox-test", (int)strcspn(lp + 9, ":"), lp + 9);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    close(fd);
    unlink(p);
    return 0;
}

static const check applied_checks[] = {
    {"execve fails with EPERM", try_execve},
    {"ptrace fails with EPERM", try_ptrace},
    {"unshare(CLONE_NEWUSER) fails with EPERM", try_unshare},
    {"mount fails with EPERM", try_mount},
    {"setuid fails with EPERM", try_setuid},
    {"personality: query allowed, change denied", try_personality},
    {"creating a file outside the allowed directories fails with EACCES", write_outside},
    {"deleting a file outside fails with EACCES", unlink_outside},
    {"reading outside still works", read_outside},
    {"writing in the state directory works", write_state},
    {"creating a directory in the state directory works", mkdir_in_state},
    {"writing in an output directory works", write_output},
    {"rotating (rename) in an output directory works", rename_in_output},
    {"binding a unix socket in a listener directory works", unix_socket_in_sock_dir},
    {"/dev/null opens for writing", dev_null_writable},
    {"threads start", threads_start},
    {"fork works", fork_works},
    {"TCP on loopback works", tcp_loopback},
    {"/proc/self/status says Seccomp: 2", seccomp_in_status},
    {"sanitizer builds: the log_path directory stays writable", sanitizer_log_writable},
};
#define NCHECKS (sizeof applied_checks / sizeof applied_checks[0])

static int landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U /* VERSION */);
    return v < 0 ? 0 : (int)v;
}

Test(sandbox, applied_denies_and_allows, .init = setup_dirs, .fini = rm_tree)
{
    int ll = landlock_abi();
    char keep[512];
    snprintf(keep, sizeof keep, "%s/other/keep", base);
    FILE *f = fopen(keep, "w");
    cr_assert_not_null(f);
    fputs("keep\n", f);
    fclose(f);
    int *res = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(res, MAP_FAILED);
    for (size_t i = 0; i < NCHECKS; i++)
        res[i] = -2;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        test_conf t;
        conf_init(&t, "state");
        conf_output(&t, "alerts", "file", "out/alerts.json");
        conf_unix(&t, "sock", "sock/log.sock");
        vg_sandbox *sb = NULL;
        if (vg_sandbox_apply(&t.c, &sb, NULL))
            _exit(3);
        res[NCHECKS] = !strcmp(vg_sandbox_active(sb), ll ? "seccomp+landlock" : "seccomp");
        /* a reload writing elsewhere is refused, the same one is accepted */
        test_conf n;
        conf_init(&n, "state");
        conf_output(&n, "moved", "file", "other/alerts.json");
        vg_errbuf eb;
        res[NCHECKS + 1] = vg_sandbox_check(sb, &t.c, NULL) == VG_OK &&
                           (!ll || (vg_sandbox_check(sb, &n.c, &eb) == VG_EPERM &&
                                    strstr(eb.msg, "restart vigie")));
        for (size_t i = 0; i < NCHECKS; i++)
            res[i] = applied_checks[i].fn();
        vg_sandbox_destroy(sb);
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    for (size_t i = 0; i < NCHECKS; i++) {
        const char *w = applied_checks[i].what;
        bool fs = strstr(w, "outside") && !strstr(w, "reading");
        if (fs && !ll) {
            cr_log_warn("Landlock not available: skipped '%s'", w);
            continue;
        }
        cr_expect_eq(res[i], 0, "%s: got %d (%s)", w, res[i], res[i] > 0 ? strerror(res[i]) : "");
    }
    cr_expect_eq(res[NCHECKS], 1, "vg_sandbox_active names what is active");
    cr_expect_eq(res[NCHECKS + 1], 1, "reload check: same config ok, new directory refused");
    munmap(res, 4096);
}

Test(sandbox, off_applies_nothing, .init = setup_dirs, .fini = rm_tree)
{
    int *res = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(res, MAP_FAILED);
    res[0] = res[1] = -2;
    pid_t pid = fork();
    if (pid == 0) {
        test_conf t;
        conf_init(&t, "state");
        t.c.sandbox = false;
        vg_sandbox *sb = NULL;
        if (vg_sandbox_apply(&t.c, &sb, NULL))
            _exit(3);
        res[0] = !strcmp(vg_sandbox_active(sb), "off");
        res[1] = seccomp_in_status() == -1 && try_write("outside/x", 0) == 0;
        vg_sandbox_destroy(sb);
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_expect_eq(res[0], 1, "active: off");
    cr_expect_eq(res[1], 1, "no filter, writes anywhere");
    munmap(res, 4096);
}

/*
 * cmd_scan.c - `vigie scan`: one pass of the rules over files, plain or
 * gzip (zlib's gzread reads both), for incident response, rule authors and
 * the benchmark. Same parsers, detectors and alert JSON as the agent.
 *
 * Exit status: 0 nothing matched, 1 at least one alert, 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../collectors/framer.h"
#include "hash.h"
#include "cmd.h"
#include "log.h"
#include "paths.h"
#include "pipeline.h"

#define SCAN_READ (1 << 20)
#define SCAN_MAX_LINE (64 << 10)

typedef struct rule_count {
    const vg_rule_meta *rule;
    uint64_t n;
} rule_count;

typedef struct scan {
    vg_pipeline *p;
    bool text, color, verbose, progress;
    const char *format;    /* --format, or NULL = guess */
    vg_logsource ls;       /* --logsource, or guessed */
    bool ls_given;
    uint64_t lines, bytes, alerts, truncated;
    vg_buf out;
    rule_count per_rule[256]; /* summary; rules past 256 are counted in `others` */
    size_t nrules;
    uint64_t others;
    int64_t t0;
    int64_t last_progress;
} scan;

/*
 * One stable object per distinct log source: events point at their
 * logsource, and the detectors cache routing by that pointer, so two files
 * with the same log source share one, and files with different ones never
 * do (a stack variable reused across files would mix their routes).
 */
#define SCAN_MAX_LOGSOURCES 64
static const vg_logsource *intern_logsource(const vg_logsource *ls)
{
    static vg_logsource tab[SCAN_MAX_LOGSOURCES];
    static size_t n;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tab[i].product ? tab[i].product : "", ls->product ? ls->product : "") &&
            !strcmp(tab[i].category ? tab[i].category : "", ls->category ? ls->category : "") &&
            !strcmp(tab[i].service ? tab[i].service : "", ls->service ? ls->service : ""))
            return &tab[i];
    if (n == SCAN_MAX_LOGSOURCES)
        return &tab[n - 1]; /* unreachable in practice: a handful of formats exist */
    tab[n].product = ls->product ? strdup(ls->product) : NULL;
    tab[n].category = ls->category ? strdup(ls->category) : NULL;
    tab[n].service = ls->service ? strdup(ls->service) : NULL;
    return &tab[n++];
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_alert(void *ud, const vg_alert *a)
{
    scan *s = ud;
    s->alerts++;
    size_t i = 0;
    while (i < s->nrules && s->per_rule[i].rule != a->rule)
        i++;
    if (i < s->nrules)
        s->per_rule[i].n++;
    else if (s->nrules < sizeof s->per_rule / sizeof s->per_rule[0])
        s->per_rule[s->nrules++] = (rule_count){a->rule, 1};
    else
        s->others++;
    vg_buf_reset(&s->out);
    if (s->text) {
        vg_alert_text(&s->out, a, s->color);
    } else {
        vg_buf_append(&s->out, a->json.p, a->json.n);
        vg_buf_putc(&s->out, '\n');
    }
    (void)fwrite(s->out.p, 1, s->out.n, stdout); /* checked at exit (main.c) */
}

/* Guess format and log source from a file name (basename, before .gz/.N). */
static bool guess_by_name(const char *path, const char **fmt, vg_logsource *ls)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    static const struct {
        const char *pat, *fmt, *product, *category, *service;
    } t[] = {
        {"auth.log*", "syslog", "linux", NULL, "auth"},
        {"secure*", "syslog", "linux", NULL, "auth"},
        {"syslog*", "syslog", "linux", NULL, "syslog"},
        {"messages*", "syslog", "linux", NULL, "syslog"},
        {"kern.log*", "syslog", "linux", NULL, "syslog"},
        {"daemon.log*", "syslog", "linux", NULL, "syslog"},
        {"user.log*", "syslog", "linux", NULL, "syslog"},
        {"cron*", "syslog", "linux", NULL, "cron"},
        {"*access.log*", "access", NULL, "webserver", NULL},
        {"*access_log*", "access", NULL, "webserver", NULL},
        {"audit.log*", "auditd", "linux", NULL, "auditd"},
        {"*.ndjson*", "json", NULL, NULL, NULL},
        {"*.json*", "json", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (fnmatch(t[i].pat, b, 0) == 0) {
            *fmt = t[i].fmt;
            ls->product = t[i].product;
            ls->category = t[i].category;
            ls->service = t[i].service;
            return true;
        }
    return false;
}

/* Guess from the first lines: the parser that recognises most of them. */
static void guess_by_content(scan *s, const char *p, size_t n, const char **fmt,
                             vg_logsource *ls)
{
    static const char *const cands[] = {"access", "squid", "syslog", "json"};
    size_t best = 0;
    const char *bestf = "raw";
    vg_arena arena;
    vg_arena_init(&arena, 1 << 20);
    vg_event *ev = calloc(1, sizeof *ev);
    for (size_t c = 0; ev && c < sizeof cands / sizeof cands[0]; c++) {
        const vg_parser *pr = vg_parser_find(cands[c]);
        if (!pr)
            continue;
        size_t ok = 0, total = 0, off = 0;
        while (off < n && total < 50) {
            const char *nl = memchr(p + off, '\n', n - off);
            size_t len = nl ? (size_t)(nl - (p + off)) : n - off;
            vg_event_clear(ev);
            ev->raw = (vg_str){p + off, len};
            vg_parse_ctx pc = {&arena, NULL, 0};
            pr->parse(&pc, ev);
            total++;
            if (!(ev->flags & VG_EV_PARSE_FAILED) && (strcmp(cands[c], "syslog") || ev->program.n))
                ok++;
            vg_arena_reset(&arena);
            off += len + 1;
        }
        if (total && ok * 10 >= total * 8 && ok > best) {
            best = ok;
            bestf = cands[c];
        }
    }
    free(ev);
    vg_arena_destroy(&arena);
    *fmt = bestf;
    memset(ls, 0, sizeof *ls);
    if (!strcmp(bestf, "access"))
        ls->category = "webserver";
    else if (!strcmp(bestf, "squid"))
        ls->category = "proxy";
    else if (!strcmp(bestf, "syslog") || !strcmp(bestf, "raw"))
        ls->product = "linux";
    (void)s;
}

static void progress(scan *s, const char *path, gzFile gz, off_t size, bool final)
{
    if (!s->progress || size < (8 << 20))
        return;
    int64_t now = mono_ns();
    if (!final && now - s->last_progress < 200000000)
        return;
    s->last_progress = now;
    off_t at = final ? size : (off_t)gzoffset(gz);
    int pct = size ? (int)(100.0 * (double)at / (double)size) : 100;
    if (pct > 100)
        pct = 100;
    double secs = (double)(now - s->t0) / 1e9;
    char bar[31];
    memset(bar, ' ', 30);
    memset(bar, '#', (size_t)(pct * 30 / 100));
    bar[30] = '\0';
    const char *b = strrchr(path, '/');
    fprintf(stderr, "\r%-24.24s [%s] %3d%% %10llu lines %8.0f lines/s  ", b ? b + 1 : path, bar,
            pct, (unsigned long long)s->lines, secs > 0 ? (double)s->lines / secs : 0.0);
    if (final)
        fputc('\n', stderr);
}

static uint64_t fnv1a(const void *p, size_t n)
{
    return vg_fnv1a(VG_FNV_BASIS, p, n);
}

static int scan_file(scan *s, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "vigie scan: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "vigie scan: %s: not a regular file\n", path);
        close(fd);
        return -1;
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        fprintf(stderr, "vigie scan: %s: cannot open\n", path);
        return -1;
    }
    gzbuffer(gz, 256 << 10);
    vg_framer fr;
    if (vg_framer_init(&fr, SCAN_MAX_LINE, SCAN_READ, 0)) {
        gzclose(gz);
        return -1;
    }
    vg_stream stream = {.name = path, .input = "scan"};
    /* A rotated archive's last line is no later than its modification time. */
    vg_pipeline_set_reference_time(s->p, (int64_t)st.st_mtim.tv_sec * 1000000000 +
                                             st.st_mtim.tv_nsec);
    const char *fmt = s->format;
    vg_logsource ls = s->ls;
    const vg_logsource *lsp = NULL; /* interned, once the log source is known */
    bool guessed = false;
    vg_batch *b = vg_pipeline_batch(s->p);
    vg_batch_reset(b);
    const vg_parser *parser = NULL;
    void *pstate = NULL; /* per file: a multi-line format's state */
    int rc = 0;
    for (;;) {
        size_t room;
        char *dst = vg_framer_space(&fr, &room);
        if (!dst || !room) {
            fprintf(stderr, "vigie scan: %s: out of memory (scan stopped at this point)\n", path);
            rc = -1;
            break;
        }
        int n = gzread(gz, dst, (unsigned)room);
        if (n < 0) {
            int ze;
            fprintf(stderr, "vigie scan: %s: %s (scan stopped at this point)\n", path,
                    gzerror(gz, &ze));
            rc = -1;
            break;
        }
        if (n == 0 && !guessed && !vg_framer_pending(&fr))
            break;
        vg_framer_commit(&fr, (size_t)n);
        if (!guessed) {
            guessed = true;
            /* The stream identity, as the agent computes it for files. */
            snprintf(stream.id, sizeof stream.id, "f:%llx:%llu:%016llx",
                     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                     (unsigned long long)fnv1a(dst, (size_t)n < 256 ? (size_t)n : 256));
            vg_logsource byname = {0};
            const char *f2 = NULL;
            if (!fmt || !s->ls_given) {
                if (!guess_by_name(path, &f2, &byname)) {
                    guess_by_content(s, dst, (size_t)n, &f2, &byname);
                } else if (!strcmp(f2, "access")) {
                    /* squid also calls its log access.log: let the lines decide */
                    const char *f3 = NULL;
                    vg_logsource l3 = {0};
                    guess_by_content(s, dst, (size_t)n, &f3, &l3);
                    if (!strcmp(f3, "squid")) {
                        f2 = f3;
                        byname = l3;
                    }
                }
                if (!fmt)
                    fmt = f2;
                if (!s->ls_given)
                    ls = byname;
            }
            lsp = intern_logsource(&ls);
            parser = vg_parser_find(fmt);
            if (!parser) {
                fprintf(stderr, "vigie scan: unknown format '%s'\n", fmt);
                rc = -1;
                break;
            }
            if (parser->state_create && !(pstate = parser->state_create())) {
                fprintf(stderr, "vigie scan: out of memory\n");
                rc = -1;
                break;
            }
            if (s->verbose)
                fprintf(stderr, "vigie scan: %s: format %s, logsource product=%s category=%s "
                        "service=%s\n", path, fmt, ls.product ? ls.product : "-",
                        ls.category ? ls.category : "-", ls.service ? ls.service : "-");
        }
        vg_line line;
        bool eof = n == 0;
        for (;;) {
            bool got = vg_framer_next(&fr, &line) || (eof && vg_framer_flush(&fr, &line));
            if (!got)
                break;
            vg_event *ev = vg_batch_push(b);
            if (!ev) {
                vg_pipeline_parse(s->p, b, 0, parser, lsp, NULL, pstate);
                vg_pipeline_detect(s->p, b);
                vg_batch_reset(b);
                ev = vg_batch_push(b);
            }
            ev->raw = (vg_str){line.p, line.n};
            ev->stream = &stream;
            ev->offset = line.offset;
            if (line.truncated) {
                ev->flags |= VG_EV_TRUNCATED;
                s->truncated++;
            }
            if (line.no_newline)
                ev->flags |= VG_EV_NO_NEWLINE;
            s->lines++;
            s->bytes += line.n + 1;
        }
        /* Lines point into the framer: process before the next read. */
        if (b->n) {
            vg_pipeline_parse(s->p, b, 0, parser, lsp, NULL, pstate);
            vg_pipeline_detect(s->p, b);
            vg_batch_reset(b);
        }
        progress(s, path, gz, st.st_size, false);
        if (eof)
            break;
    }
    progress(s, path, gz, st.st_size, true);
    if (pstate)
        parser->state_destroy(pstate);
    vg_framer_destroy(&fr);
    gzclose(gz);
    return rc;
}

static const char *shipped_rules(void)
{
    static char buf[PATH_MAX + 16];
    return vg_shipped_path("rules", "/usr/share/vigie/rules", buf, sizeof buf);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigie scan [options] FILE...\n"
            "  -r, --rules PATH        rule file or directory (repeatable; default: shipped rules)\n"
            "  -l, --logsource LS      PRODUCT/SERVICE (linux/auth) or CATEGORY (webserver)\n"
            "  -f, --format FMT        syslog, json, access, squid, auditd, raw (default: from\n"
            "                          the file name or the lines)\n"
            "  -o, --output FMT        json or text (default: text on a terminal, json otherwise)\n"
            "  -q, --quiet             no summary, no progress\n"
            "  -v, --verbose           say which format and log source were chosen per file\n"
            "exit status: 0 no alert, 1 alerts, 2 error\n");
}

int vg_cmd_scan(int argc, char **argv)
{
    scan s = {0};
    vg_strlist rules = {NULL, 0};
    const char *outfmt = NULL;
    char lsbuf[256]; /* --logsource's strings, alive for the whole scan */
    bool quiet = false;
    static const struct option lo[] = {
        {"rules", required_argument, 0, 'r'},  {"logsource", required_argument, 0, 'l'},
        {"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "r:l:f:o:qvh", lo, NULL)) != -1) {
        switch (c) {
        case 'r': {
            char **v = realloc(rules.v, (rules.n + 1) * sizeof *v);
            if (!v) {
                free(rules.v);
                return 2;
            }
            rules.v = v;
            v[rules.n++] = optarg;
            break;
        }
        case 'l':
            vg_logsource_parse(optarg, lsbuf, sizeof lsbuf, &s.ls);
            s.ls_given = true;
            break;
        case 'f':
            s.format = optarg;
            if (!vg_parser_find(optarg)) {
                fprintf(stderr, "vigie scan: unknown format '%s'\n", optarg);
                free(rules.v);
                return 2;
            }
            break;
        case 'o':
            outfmt = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'v':
            s.verbose = true;
            break;
        case 'h':
            usage(stdout);
            free(rules.v);
            return 0;
        default:
            usage(stderr);
            free(rules.v);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        free(rules.v);
        return 2;
    }
    bool tty = isatty(STDOUT_FILENO);
    s.text = outfmt ? !strcmp(outfmt, "text") : tty;
    s.color = s.text && tty && !getenv("NO_COLOR");
    s.progress = !quiet && isatty(STDERR_FILENO);
    vg_log_set_quiet(quiet);

    int rc = 2;
    vg_stats *st = vg_stats_create();
    vg_config *cfg = NULL;
    vg_ruleset *rs = NULL;
    vg_errbuf eb;
    size_t rejected = 0;
    vg_buf_init(&s.out, 8 << 20);
    if (!st || vg_config_defaults(&cfg, &eb)) {
        fprintf(stderr, "vigie scan: %s\n", st ? eb.msg : "out of memory");
        goto out;
    }
    vg_strlist paths = rules;
    const char *def = NULL;
    if (!paths.n) {
        def = shipped_rules();
        paths.v = (char **)&def;
        paths.n = 1;
    }
    vg_ruleset_report rep;
    if (vg_ruleset_load(cfg, &paths, st, vg_cmd_print_diag, &rejected, &rs, &rep, &eb)) {
        fprintf(stderr, "vigie scan: %s\n", eb.msg);
        vg_config_destroy(cfg);
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "vigie scan: %zu rules loaded, %zu rejected\n", rep.loaded,
                rep.rejected);
    vg_agent_info info = {cfg->hostname, "scan", VG_VERSION, (size_t)cfg->max_alert_message};
    if (vg_pipeline_create(cfg, st, &info, rs, &s.p, &eb)) {
        fprintf(stderr, "vigie scan: %s\n", eb.msg);
        goto out;
    }
    vg_pipeline_set_alert_fn(s.p, on_alert, &s);
    s.t0 = mono_ns();
    int errors = 0;
    for (int i = optind; i < argc; i++)
        if (scan_file(&s, argv[i]))
            errors++;
    vg_pipeline_stateful_close(s.p); /* open correlation windows say what they owe */
    (void)fflush(stdout); /* checked at exit (main.c) */
    double secs = (double)(mono_ns() - s.t0) / 1e9;
    if (!quiet) {
        fprintf(stderr, "vigie scan: %d files, %llu lines, %.1f MB, %llu alerts, %llu truncated "
                "lines, %.2f s (%.0f lines/s)\n", argc - optind, (unsigned long long)s.lines,
                (double)s.bytes / 1e6, (unsigned long long)s.alerts,
                (unsigned long long)s.truncated, secs, secs > 0 ? (double)s.lines / secs : 0.0);
        for (size_t i = 0; i < s.nrules; i++) /* by count, largest first */
            for (size_t j = i + 1; j < s.nrules; j++)
                if (s.per_rule[j].n > s.per_rule[i].n) {
                    rule_count t = s.per_rule[i];
                    s.per_rule[i] = s.per_rule[j];
                    s.per_rule[j] = t;
                }
        for (size_t i = 0; i < s.nrules; i++)
            fprintf(stderr, "  %10llu  %-8s %s\n", (unsigned long long)s.per_rule[i].n,
                    s.per_rule[i].rule->level ? s.per_rule[i].rule->level : "",
                    s.per_rule[i].rule->title ? s.per_rule[i].rule->title : "?");
        if (s.others)
            fprintf(stderr, "  %10llu  (other rules)\n", (unsigned long long)s.others);
    }
    rc = errors ? 2 : s.alerts ? 1 : 0;
out:
    vg_pipeline_destroy(s.p);
    vg_stats_destroy(st);
    vg_buf_free(&s.out);
    free(rules.v);
    return rc;
}

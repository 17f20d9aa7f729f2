/*
 * cmd_alerts.c - `vigie alerts`: the alerts this host raised, read locally.
 *
 * For the hours when the network is cut and the collector is out of reach:
 * reads the configuration's file outputs (and their rotated copies
 * path.1..path.N) and the spool's alert lane (what has not been delivered
 * yet, or not deleted), keeps each event.id once, filters by time, level and
 * rule, and prints them oldest first as readable lines or JSON lines. Works
 * while the agent runs (the spool scan is read-only and takes no lock).
 *
 * Exit status: 0 alerts printed, 1 none matched, 2 usage or read error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "hash.h"
#include "config.h"
#include "json.h"
#include "reckeys.h"
#include "spool.h"

typedef struct found {
    int64_t ts_ms;
    char *json;
} found;

typedef struct q {
    int64_t since_ms; /* 0 = all */
    int min_rank;
    const char *rule;
    bool json_out;
    bool color;
    found *v;
    size_t n, cap;
    char **ids; /* open-addressing set of event.id */
    size_t ids_cap, nids;
    size_t max;  /* at most this many kept (the newest) */
    uint64_t bad; /* unparsable lines */
} q;

static uint64_t hash(const char *s)
{
    return vg_fnv1a(VG_FNV_BASIS, s, strlen(s));
}

/* Insert id; false when already present (or out of memory). */
static bool seen_add(q *s, const char *id)
{
    if ((s->nids + 1) * 2 > s->ids_cap) {
        size_t nc = s->ids_cap ? s->ids_cap * 2 : 1024;
        char **nv = calloc(nc, sizeof *nv);
        if (!nv)
            return false;
        for (size_t i = 0; i < s->ids_cap; i++)
            if (s->ids[i]) {
                size_t j = hash(s->ids[i]) & (nc - 1);
                while (nv[j])
                    j = (j + 1) & (nc - 1);
                nv[j] = s->ids[i];
            }
        free(s->ids);
        s->ids = nv;
        s->ids_cap = nc;
    }
    size_t j = hash(id) & (s->ids_cap - 1);
    while (s->ids[j]) {
        if (!strcmp(s->ids[j], id))
            return false;
        j = (j + 1) & (s->ids_cap - 1);
    }
    s->ids[j] = strdup(id);
    if (!s->ids[j])
        return false;
    s->nids++;
    return true;
}

static int64_t iso_ms(const char *t)
{
    struct tm tm = {0};
    const char *e = t ? strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!e)
        return 0;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    if (*e == '.') {
        int64_t f = 0, d = 100;
        for (e++; *e >= '0' && *e <= '9'; e++, d /= 10)
            f += (*e - '0') * d;
        ms += f;
    }
    return ms;
}

static void consider(q *s, const char *line, size_t len)
{
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        s->bad++;
        return;
    }
    json_t *ev = json_object_get(o, "event"), *rule = json_object_get(o, "rule");
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    const char *id = json_string_value(json_object_get(ev, "id"));
    int64_t ts = iso_ms(json_string_value(json_object_get(o, "@timestamp")));
    const char *lvl = json_string_value(json_object_get(rule, "level"));
    const char *rid = json_string_value(json_object_get(rule, "id"));
    const char *rname = json_string_value(json_object_get(rule, "name"));
    bool keep = kind && !strcmp(kind, "alert") && id && (!s->since_ms || ts >= s->since_ms) &&
                vg_level_rank(lvl ? lvl : "informational") >= s->min_rank &&
                (!s->rule || (rid && !strcmp(rid, s->rule)) || (rname && !strcmp(rname, s->rule)));
    if (keep && seen_add(s, id)) {
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 256;
            found *nv = realloc(s->v, nc * sizeof *nv);
            if (!nv)
                goto out;
            s->v = nv;
            s->cap = nc;
        }
        char *copy = strndup(line, len);
        if (copy)
            s->v[s->n++] = (found){ts, copy};
    }
out:
    json_decref(o);
}

static int scan_cb(void *ud, const char *rec, size_t len, int64_t frame_ms)
{
    /* Spool records carry the sender's header: kind, level, key index. */
    if (len <= 2 || rec[0] != 'a')
        return 0;
    vg_reckeys k;
    size_t used = vg_reckeys_decode(rec + 2, len - 2, &k);
    consider(ud, rec + 2 + used, len - 2 - used);
    return 0;
}

static int read_file(q *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n)
            consider(s, line, (size_t)n);
    }
    free(line);
    (void)fclose(f); /* read only: nothing to lose */
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const found *x = a, *y = b;
    return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
}

static void print_text(const q *s, const char *js)
{
    static const char *const name[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    static const char *const col[] = {"\033[37m", "\033[36m", "\033[33m", "\033[1;31m",
                                      "\033[1;35m"};
    json_t *o = json_loads(js, 0, NULL);
    if (!o)
        return;
    json_t *rule = json_object_get(o, "rule");
    const char *lvl = json_string_value(json_object_get(rule, "level"));
    int rank = vg_level_rank(lvl ? lvl : "medium");
    if (rank < 0)
        rank = 2;
    const char *fields[] = {json_string_value(json_object_get(o, "@timestamp")),
                            json_string_value(json_object_get(rule, "name")),
                            json_string_value(json_object_get(json_object_get(o, "host"), "name")),
                            json_string_value(json_object_get(o, "message"))};
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    for (int i = 0; i < 4; i++) {
        const char *v = fields[i] ? fields[i] : "-";
        size_t n = strlen(v);
        if (i == 1) {
            if (s->color)
                vg_buf_puts(&b, col[rank]);
            vg_buf_printf(&b, " %-8s ", name[rank]);
            if (s->color)
                vg_buf_puts(&b, "\033[0m");
        } else if (i) {
            vg_buf_puts(&b, i == 3 ? "\n    " : "  ");
        }
        vg_text_safe(&b, v, n > 400 ? 400 : n); /* attacker bytes: no escapes reach the terminal */
    }
    vg_buf_putc(&b, '\n');
    (void)fwrite(b.p, 1, b.n, stdout); /* checked at exit (main.c) */
    vg_buf_free(&b);
    json_decref(o);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: vigie alerts [-c FILE] [--since DURATION] [--min-level LEVEL] "
                 "[--rule ID|TITLE] [--format text|json] [--limit N]\n"
                 "  the alerts of this host from the local alert files and the spool, oldest "
                 "first\n");
}

int vg_cmd_alerts(int argc, char **argv)
{
    const char *cfgpath = VG_DEFAULT_CONFIG;
    q s = {0};
    s.max = 1000;
    const char *fmt = NULL;
    static const struct option lo[] = {
        {"config", required_argument, 0, 'c'}, {"since", required_argument, 0, 's'},
        {"min-level", required_argument, 0, 'l'}, {"rule", required_argument, 0, 'r'},
        {"format", required_argument, 0, 'f'}, {"limit", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:l:r:f:n:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 's': {
            int64_t ms;
            if (vg_parse_duration_ms(optarg, &ms)) {
                fprintf(stderr, "vigie alerts: --since: expected a duration like 30m, 1h, 2d "
                        "(got '%s')\n", optarg);
                return 2;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            s.since_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - ms;
            break;
        }
        case 'l':
            if ((s.min_rank = vg_level_rank(optarg)) < 0) {
                fprintf(stderr, "vigie alerts: --min-level: expected informational, low, medium, "
                        "high or critical (got '%s')\n", optarg);
                return 2;
            }
            break;
        case 'r': s.rule = optarg; break;
        case 'f':
            if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
                fprintf(stderr, "vigie alerts: --format: text or json\n");
                return 2;
            }
            fmt = optarg;
            break;
        case 'n': s.max = (size_t)strtoull(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    vg_errbuf eb;
    vg_config *cfg = NULL;
    if (vg_config_load(cfgpath, &cfg, &eb)) {
        fprintf(stderr, "vigie alerts: %s\n", eb.msg);
        return 2;
    }
    s.json_out = fmt ? !strcmp(fmt, "json") : !isatty(1);
    s.color = !s.json_out && isatty(1) && !getenv("NO_COLOR");
    size_t sources = 0;
    for (size_t i = 0; i < cfg->noutputs; i++) {
        const vg_output_conf *o = &cfg->outputs[i];
        if (strcmp(o->type, "file") || !o->path)
            continue;
        if (!read_file(&s, o->path))
            sources++;
        for (int64_t k = 1; k <= o->rotate_keep; k++) {
            char p[4200];
            snprintf(p, sizeof p, "%s.%lld", o->path, (long long)k);
            if (!read_file(&s, p))
                sources++;
        }
    }
    uint64_t corrupt = 0;
    vg_err r = vg_spool_scan(cfg->state_dir, VG_LANE_ALERTS, scan_cb, &s, &corrupt, &eb);
    if (r == VG_OK || r == VG_EVERSION)
        sources++;
    if (r && r != VG_ENOTFOUND)
        fprintf(stderr, "vigie alerts: spool: %s\n", eb.msg);
    if (!sources)
        fprintf(stderr, "vigie alerts: no alert file and no spool found (configuration %s)\n",
                cfgpath);
    if (s.bad)
        fprintf(stderr, "vigie alerts: %llu unreadable lines skipped\n",
                (unsigned long long)s.bad);
    if (s.n)
        qsort(s.v, s.n, sizeof *s.v, by_time);
    size_t from = s.n > s.max ? s.n - s.max : 0;
    for (size_t i = from; i < s.n; i++) {
        if (s.json_out)
            printf("%s\n", s.v[i].json);
        else
            print_text(&s, s.v[i].json);
    }
    int rc = s.n ? 0 : 1;
    for (size_t i = 0; i < s.n; i++)
        free(s.v[i].json);
    free(s.v);
    for (size_t i = 0; i < s.ids_cap; i++)
        free(s.ids[i]);
    free(s.ids);
    vg_config_destroy(cfg);
    return rc;
}

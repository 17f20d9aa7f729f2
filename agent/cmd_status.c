/*
 * cmd_status.c - `vigie status`: the running agent's statistics as a table,
 * or (--check) a monitoring-plugin verdict.
 *
 * Reads the agent's JSON answer on <state_dir>/status.sock (status.h).
 * --check exits 0 OK, 1 WARNING, 2 CRITICAL (agent unreachable included),
 * 3 UNKNOWN (bad usage), with one line "VIGIE <STATE> - summary | perfdata"
 * as Nagios/Icinga/Centreon plugins do. It judges what grew over the agent's
 * window (last five minutes): drops and output errors; and what stands now:
 * age of the oldest unacknowledged spooled batch, input lag, when the agent
 * exposes them (spool.*age_seconds / spool.*age_ms, input.lag_bytes gauges).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "status.h"

typedef struct thresholds {
    long long warn_drops, crit_drops;
    long long warn_errors, crit_errors;
    long long warn_age, crit_age; /* seconds */
    long long warn_lag, crit_lag; /* bytes */
} thresholds;

static void usage(FILE *f)
{
    fprintf(
        f, "usage: vigie status [-c FILE] [--state-dir DIR] [--check] [--json | --metrics]\n"
           "  -c, --config FILE      configuration, for agent.state_dir (default " VG_DEFAULT_CONFIG
           ")\n"
           "  -s, --state-dir DIR    the agent's state directory (overrides the config)\n"
           "      --json             the raw JSON answer\n"
           "      --metrics          the Prometheus text\n"
           "      --check            monitoring verdict: exit 0 OK, 1 WARNING, 2 CRITICAL, "
           "3 UNKNOWN\n"
           "  thresholds of --check (growth over the agent's 5-minute window, or now):\n"
           "      --warn-drops N (1)   --crit-drops N (1000)\n"
           "      --warn-errors N (1)  --crit-errors N (100)     output errors\n"
           "      --warn-spool-age S (300)  --crit-spool-age S (3600)\n"
           "      --warn-lag BYTES (10485760)  --crit-lag BYTES (104857600)\n");
}

/* ---- reading the answer ---- */

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : NULL;
}

static unsigned long long nget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (unsigned long long)json_integer_value(v) : 0;
}

/* Sum of name{label=value} (label NULL: every label); *found set if present. */
static unsigned long long sum(json_t *arr, const char *name, const char *label, const char *value,
                              int *found)
{
    unsigned long long s = 0;
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const char *n = sget(c, "name"), *l = sget(c, "label"), *v = sget(c, "value");
        if (!n || strcmp(n, name))
            continue;
        if (label && (!l || strcmp(l, label) || !v || strcmp(v, value)))
            continue;
        s += nget(c, "v");
        if (found)
            *found = 1;
    }
    return s;
}

/* Distinct values of `label` (in order of first appearance), at most max. */
static size_t values_of(json_t *arr, const char *label, const char **out, size_t max)
{
    size_t k = 0, i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const char *l = sget(c, "label"), *v = sget(c, "value");
        if (!l || !v || strcmp(l, label))
            continue;
        size_t j;
        for (j = 0; j < k && strcmp(out[j], v); j++)
            ;
        if (j == k && k < max)
            out[k++] = v;
    }
    return k;
}

/* A label value from a file name may hold escape sequences: not on a terminal. */
static void safe(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < cap; s++)
        dst[k++] = (char)(((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s);
    dst[k] = 0;
}

static void human_bytes(char *dst, size_t cap, unsigned long long b)
{
    static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)b;
    int i = 0;
    while (x >= 1024 && i < 4) {
        x /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(dst, cap, "%llu B", b);
    else
        snprintf(dst, cap, "%.1f %s", x, u[i]);
}

static void human_dur(char *dst, size_t cap, double s)
{
    long long t = (long long)s;
    if (t < 120)
        snprintf(dst, cap, "%llds", t);
    else if (t < 7200)
        snprintf(dst, cap, "%lldm%02llds", t / 60, t % 60);
    else if (t < 172800)
        snprintf(dst, cap, "%lldh%02lldm", t / 3600, t % 3600 / 60);
    else
        snprintf(dst, cap, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
}

/* Oldest spooled batch (seconds) and input lag (bytes): the largest values
   of those gauges; -1 when the agent exposes none. */
static void standing(json_t *arr, double *age, long long *lag)
{
    size_t i;
    json_t *c;
    *age = -1;
    *lag = -1;
    json_array_foreach(arr, i, c)
    {
        const char *n = sget(c, "name");
        if (!n)
            continue;
        double v = (double)nget(c, "v");
        if (!strncmp(n, "spool.", 6) && strstr(n, "age")) {
            size_t l = strlen(n);
            if (l > 3 && !strcmp(n + l - 3, "_ms"))
                v /= 1000;
            if (v > *age)
                *age = v;
        }
        if (!strcmp(n, "input.lag_bytes") && (long long)v > *lag)
            *lag = (long long)v;
    }
}

/* ---- table ---- */

typedef struct ranked {
    const char *v;
    unsigned long long n;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->v, y->v);
}

static void print_table(json_t *root)
{
    json_t *arr = json_object_get(root, "counters");
    json_t *win = json_object_get(root, "window");
    char b1[64], b2[64], b3[64], name[64];
    human_bytes(b1, sizeof b1, nget(root, "rss_bytes"));
    human_dur(b2, sizeof b2, json_number_value(json_object_get(root, "uptime_seconds")));
    printf("vigie %s, pid %llu, up %s, RSS %s, CPU %.2f s\n",
           sget(root, "agent_version") ? sget(root, "agent_version") : "?", nget(root, "pid"), b2,
           b1, json_number_value(json_object_get(root, "cpu_seconds")));
    human_dur(b2, sizeof b2, json_number_value(json_object_get(win, "seconds")));
    printf("last %s: drops +%llu, output errors +%llu\n", b2, nget(win, "drops"),
           nget(win, "output_errors"));

    const char *names[256];
    size_t n = values_of(arr, "input", names, 256);
    printf("\n%-24s %12s %11s %10s %8s %8s %8s\n", "INPUT", "LINES", "BYTES", "LAG", "TRUNC",
           "DROPPED", "ERRORS");
    if (!n)
        printf("(none)\n");
    for (size_t i = 0; i < n; i++) {
        int has_lag = 0;
        unsigned long long lag = sum(arr, "input.lag_bytes", "input", names[i], &has_lag);
        human_bytes(b1, sizeof b1, sum(arr, "input.bytes", "input", names[i], NULL));
        if (has_lag)
            human_bytes(b3, sizeof b3, lag);
        else
            snprintf(b3, sizeof b3, "-");
        safe(name, sizeof name, names[i]);
        printf("%-24s %12llu %11s %10s %8llu %8llu %8llu\n", name,
               sum(arr, "input.lines", "input", names[i], NULL) +
                   sum(arr, "input.events", "input", names[i], NULL) *
                       !sum(arr, "input.lines", "input", names[i], NULL),
               b1, b3,
               sum(arr, "input.truncated_lines", "input", names[i], NULL) +
                   sum(arr, "input.truncated", "input", names[i], NULL),
               sum(arr, "input.dropped", "input", names[i], NULL) +
                   sum(arr, "input.files_dropped", "input", names[i], NULL),
               sum(arr, "input.errors", "input", names[i], NULL));
    }

    /* Rules: top 10 by alerts. */
    size_t i, k = 0, cap = json_array_size(arr);
    ranked *r = calloc(cap ? cap : 1, sizeof *r);
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const char *nm = sget(c, "name");
        if (r && nm && !strcmp(nm, "rule.alerts") && sget(c, "value") && nget(c, "v"))
            r[k++] = (ranked){sget(c, "value"), nget(c, "v")};
    }
    printf("\n%-62s %10s\n", "RULE (top 10 by alerts)", "ALERTS");
    if (r)
        qsort(r, k, sizeof *r, cmp_ranked);
    for (i = 0; i < k && i < 10; i++) {
        safe(name, sizeof name, r[i].v);
        printf("%-62s %10llu\n", name, r[i].n);
    }
    printf("%-62s %10llu\n", k > 10 ? "(all rules)" : "(total)",
           sum(arr, "alerts", NULL, NULL, NULL));

    /* Rules: top 5 by evaluation time (sampled: rule.eval_ns). */
    k = 0;
    json_array_foreach(arr, i, c)
    {
        const char *nm = sget(c, "name");
        if (r && nm && !strcmp(nm, "rule.eval_ns") && sget(c, "value") && nget(c, "v"))
            r[k++] = (ranked){sget(c, "value"), nget(c, "v")};
    }
    if (k) {
        printf("\n%-62s %10s\n", "RULE (top 5 by evaluation time, sampled)", "MS");
        qsort(r, k, sizeof *r, cmp_ranked);
        for (i = 0; i < k && i < 5; i++) {
            safe(name, sizeof name, r[i].v);
            printf("%-62s %10.1f\n", name, (double)r[i].n / 1e6);
        }
    }
    free(r);

    /* Drops, truncations and limit hits, whatever part counted them. */
    printf("\n%-62s %10s\n", "DROPS, TRUNCATIONS, LIMIT HITS", "COUNT");
    size_t shown = 0;
    json_array_foreach(arr, i, c)
    {
        const char *nm = sget(c, "name");
        if (!nm || !nget(c, "v") || json_is_true(json_object_get(c, "gauge")))
            continue;
        if (!vg_status_is_drop(nm) && !strstr(nm, "truncat") && !strstr(nm, "limit_hits"))
            continue;
        char full[160], lv[64];
        safe(lv, sizeof lv, sget(c, "value"));
        if (sget(c, "label"))
            snprintf(full, sizeof full, "%s{%s=%s}", nm, sget(c, "label"), lv);
        else
            snprintf(full, sizeof full, "%s", nm);
        printf("%-62s %10llu\n", full, nget(c, "v"));
        shown++;
    }
    if (!shown)
        printf("(none)\n");

    n = values_of(arr, "output", names, 256);
    printf("\n%-24s %10s %11s %8s %11s %8s\n", "OUTPUT", "SENT", "BYTES", "ERRORS", "SPOOL",
           "OLDEST");
    if (!n)
        printf("(none)\n");
    for (i = 0; i < n; i++) {
        int has_spool = 0, has_age = 0;
        unsigned long long sp = sum(arr, "spool.bytes", "output", names[i], &has_spool);
        unsigned long long age = sum(arr, "spool.oldest_age_seconds", "output", names[i], &has_age);
        human_bytes(b1, sizeof b1, sum(arr, "output.bytes", "output", names[i], NULL));
        if (has_spool)
            human_bytes(b2, sizeof b2, sp);
        else
            snprintf(b2, sizeof b2, "-");
        if (has_age)
            human_dur(b3, sizeof b3, (double)age);
        else
            snprintf(b3, sizeof b3, "-");
        safe(name, sizeof name, names[i]);
        printf("%-24s %10llu %11s %8llu %11s %8s\n", name,
               sum(arr, "output.alerts", "output", names[i], NULL) +
                   sum(arr, "output.sent", "output", names[i], NULL),
               b1, sum(arr, "output.errors", "output", names[i], NULL), b2, b3);
    }
}

/* ---- check ---- */

static int check(json_t *root, const thresholds *t)
{
    json_t *arr = json_object_get(root, "counters");
    json_t *win = json_object_get(root, "window");
    long long drops = (long long)nget(win, "drops"), errs = (long long)nget(win, "output_errors");
    double wsec = json_number_value(json_object_get(win, "seconds"));
    double age;
    long long lag;
    standing(arr, &age, &lag);
    int state = 0;
    char why[512] = "";
    size_t wl = 0;
#define JUDGE(val, w, c, fmt, ...)                                                                 \
    do {                                                                                           \
        int s_ = (val) >= (c) ? 2 : (val) >= (w) ? 1 : 0;                                          \
        if (s_) {                                                                                  \
            wl += (size_t)snprintf(why + wl, wl < sizeof why ? sizeof why - wl : 0, "%s" fmt,      \
                                   wl ? ", " : "", __VA_ARGS__);                                   \
            if (s_ > state)                                                                        \
                state = s_;                                                                        \
        }                                                                                          \
    } while (0)
    JUDGE(drops, t->warn_drops, t->crit_drops, "%lld drops in %.0fs", drops, wsec);
    JUDGE(errs, t->warn_errors, t->crit_errors, "%lld output errors in %.0fs", errs, wsec);
    if (age >= 0)
        JUDGE((long long)age, t->warn_age, t->crit_age, "oldest spooled batch %.0fs old", age);
    if (lag >= 0)
        JUDGE(lag, t->warn_lag, t->crit_lag, "input lag %lld bytes", lag);
#undef JUDGE
    static const char *names[] = {"OK", "WARNING", "CRITICAL"};
    json_t *arrc = arr;
    unsigned long long lines = sum(arrc, "input.lines", NULL, NULL, NULL);
    unsigned long long alerts = sum(arrc, "alerts", NULL, NULL, NULL);
    const char *ins[256];
    size_t nin = values_of(arrc, "input", ins, 256);
    if (!state)
        snprintf(why, sizeof why,
                 "%zu inputs, %llu lines, %llu alerts, no drops or output "
                 "errors in %.0fs",
                 nin, lines, alerts, wsec);
    printf("VIGIE %s - %s | drops=%lld;%lld;%lld output_errors=%lld;%lld;%lld", names[state], why,
           drops, t->warn_drops, t->crit_drops, errs, t->warn_errors, t->crit_errors);
    if (age >= 0)
        printf(" spool_age=%.0fs;%lld;%lld", age, t->warn_age, t->crit_age);
    if (lag >= 0)
        printf(" lag=%lldB;%lld;%lld", lag, t->warn_lag, t->crit_lag);
    printf(" lines=%lluc alerts=%lluc rss=%lluB\n", lines, alerts, nget(root, "rss_bytes"));
    return state;
}

int vg_cmd_status(int argc, char **argv)
{
    const char *config = NULL, *state_dir = NULL;
    int do_check = 0, raw_json = 0, metrics = 0;
    thresholds t = {1, 1000, 1, 100, 300, 3600, 10LL << 20, 100LL << 20};
    enum { O_WD = 256, O_CD, O_WE, O_CE, O_WA, O_CA, O_WL, O_CL, O_JSON, O_METRICS, O_CHECK };
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                       {"state-dir", required_argument, 0, 's'},
                                       {"check", no_argument, 0, O_CHECK},
                                       {"json", no_argument, 0, O_JSON},
                                       {"metrics", no_argument, 0, O_METRICS},
                                       {"warn-drops", required_argument, 0, O_WD},
                                       {"crit-drops", required_argument, 0, O_CD},
                                       {"warn-errors", required_argument, 0, O_WE},
                                       {"crit-errors", required_argument, 0, O_CE},
                                       {"warn-spool-age", required_argument, 0, O_WA},
                                       {"crit-spool-age", required_argument, 0, O_CA},
                                       {"warn-lag", required_argument, 0, O_WL},
                                       {"crit-lag", required_argument, 0, O_CL},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:s:h", lo, NULL)) != -1) {
        long long *dst = NULL;
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 's':
            state_dir = optarg;
            break;
        case O_CHECK:
            do_check = 1;
            break;
        case O_JSON:
            raw_json = 1;
            break;
        case O_METRICS:
            metrics = 1;
            break;
        case O_WD:
            dst = &t.warn_drops;
            break;
        case O_CD:
            dst = &t.crit_drops;
            break;
        case O_WE:
            dst = &t.warn_errors;
            break;
        case O_CE:
            dst = &t.crit_errors;
            break;
        case O_WA:
            dst = &t.warn_age;
            break;
        case O_CA:
            dst = &t.crit_age;
            break;
        case O_WL:
            dst = &t.warn_lag;
            break;
        case O_CL:
            dst = &t.crit_lag;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 3;
        }
        if (dst) {
            char *end;
            *dst = strtoll(optarg, &end, 10);
            if (end == optarg || *end || *dst < 0) {
                fprintf(stderr, "vigie status: %s: expected a number >= 0\n", optarg);
                return 3;
            }
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 3;
    }
    vg_config *cfg = NULL;
    vg_errbuf eb;
    char *dir = NULL;
    if (!state_dir) {
        vg_err r = config || access(VG_DEFAULT_CONFIG, F_OK) == 0
                       ? vg_config_load(config ? config : VG_DEFAULT_CONFIG, &cfg, &eb)
                       : vg_config_defaults(&cfg, &eb);
        if (r) {
            if (do_check)
                printf("VIGIE UNKNOWN - configuration: %s\n", eb.msg);
            else
                fprintf(stderr, "vigie status: %s\n", eb.msg);
            return 3;
        }
        dir = strdup(cfg->state_dir);
        vg_config_destroy(cfg);
        state_dir = dir;
    }
    char *text = NULL;
    size_t n = 0;
    int rc = 0;
    json_t *root = NULL;
    if (vg_status_fetch(state_dir, metrics ? "metrics" : "json", 5000, &text, &n, &eb)) {
        if (do_check)
            printf("VIGIE CRITICAL - agent not answering: %s\n", eb.msg);
        else
            fprintf(stderr, "vigie status: %s (is the agent running? are you in its group?)\n",
                    eb.msg);
        rc = 2;
        goto out;
    }
    if (metrics || raw_json) {
        (void)fwrite(text, 1, n, stdout); /* checked at exit (main.c) */
        if (raw_json)
            putchar('\n');
        goto out;
    }
    json_error_t je;
    root = json_loadb(text, n, 0, &je);
    if (!root || !json_is_array(json_object_get(root, "counters"))) {
        if (do_check)
            printf("VIGIE UNKNOWN - unreadable answer from the agent: %s\n", je.text);
        else
            fprintf(stderr, "vigie status: unreadable answer from the agent: %s\n", je.text);
        rc = 3;
        goto out;
    }
    if (do_check)
        rc = check(root, &t);
    else
        print_table(root);
out:
    json_decref(root);
    free(text);
    free(dir);
    return rc;
}

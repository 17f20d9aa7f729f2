/* test_status.c - Prometheus text of the registry, the status socket. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/status.h"

static char *prom(vg_stats *st)
{
    char *buf = malloc(1 << 16);
    FILE *f = fmemopen(buf, 1 << 16, "w");
    cr_assert_not_null(f);
    vg_stats_print_prometheus(st, f);
    fclose(f);
    return buf;
}

Test(status, prometheus_text)
{
    vg_stats *st = vg_stats_create();
    vg_counter_add(vg_stats_counter(st, "input.lines", "input", "auth"), 12);
    vg_counter_add(vg_stats_counter(st, "input.lines", "input", "we\"ird\\\n\x1b[31m\xc3\xa9\xff"),
                   3);
    vg_stats_counter(st, "input.lines", "input", "zero");
    vg_counter_add(vg_stats_counter(st, "output.errors", "output", "ch"), 2);
    vg_counter_add(vg_stats_counter(st, "output_errors", NULL, NULL), 2);
    vg_counter_add(vg_stats_counter(st, "rule.eval_ns", "rule", "r1"), 5);
    vg_gauge_set(vg_stats_gauge(st, "spool.oldest_age_seconds", "output", "ch"), 42);
    vg_gauge_set(vg_stats_gauge(st, "spool.oldest_age_seconds", "output", "ch"), 7);
    char *t = prom(st);
    static const char *want[] = {
        "# TYPE vigie_input_lines_total counter\n",
        "vigie_input_lines_total{input=\"auth\"} 12\n",
        /* quote, backslash, newline escaped; ESC -> '?'; valid UTF-8 kept; bad byte -> '?' */
        "vigie_input_lines_total{input=\"we\\\"ird\\\\\\n?[31m\xc3\xa9?\"} 3\n",
        "vigie_input_lines_total{input=\"zero\"} 0\n", /* zeros are exported */
        "# TYPE vigie_spool_oldest_age_seconds gauge\n",
        "vigie_spool_oldest_age_seconds{output=\"ch\"} 7\n",
        "vigie_rule_eval_ns_total{rule=\"r1\"} 5\n",
        "vigie_output_errors_total{output=\"ch\"} 2\n",
        "vigie_output_errors_total 2\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(t, want[i]) != NULL, "missing: %s\nin:\n%s", want[i], t);
    /* one family per exposed name, even when two registry names map to it */
    const char *fam = strstr(t, "# TYPE vigie_output_errors_total");
    int twice = fam && strstr(fam + 1, "# TYPE vigie_output_errors_total") != NULL;
    cr_expect(fam && !twice, "%s", t);
    cr_expect_null(strchr(t, '\x1b'));
    free(t);
    vg_stats_destroy(st);
}

Test(status, what_counts_as_drops_and_errors)
{
    static const struct {
        const char *name;
        int drop, err;
    } t[] = {
        {"drops", 1, 0},
        {"input.dropped", 1, 0},
        {"input.files_dropped", 1, 0},
        {"spool.dropped_records", 1, 0},
        {"spool.dropped_bytes", 0, 0},
        {"output.deadletter_dropped", 1, 0},
        {"stats.overflow", 1, 0},
        {"input.lines", 0, 0},
        {"output.errors", 0, 1},
        {"output.auth_errors", 0, 1},
        {"output_errors", 0, 1},
        {"input.errors", 0, 0},
        {"output.sent", 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cr_expect_eq(!!vg_status_is_drop(t[i].name), t[i].drop, "%s", t[i].name);
        cr_expect_eq(!!vg_status_is_output_error(t[i].name), t[i].err, "%s", t[i].name);
    }
}

static char dir[64];
static void mk(void)
{
    strcpy(dir, "/tmp/vg-status.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}
static void rm(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static int probes;
static void probe(void *ud)
{
    vg_gauge_set(vg_stats_gauge(ud, "spool.oldest_age_seconds", "output", "o"), 99);
    probes++;
}

Test(status, socket_round_trip, .init = mk, .fini = rm)
{
    vg_stats *st = vg_stats_create();
    vg_counter_add(vg_stats_counter(st, "input.lines", "input", "a"), 5);
    vg_counter_add(vg_stats_counter(st, "drops", "reason", "x"), 1);
    vg_config c;
    memset(&c, 0, sizeof c);
    c.state_dir = dir;
    vg_status *s = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_status_start(&c, st, &s, &eb), VG_OK, "%s", eb.msg);
    vg_status_set_probe(s, probe, st);
    char path[100];
    snprintf(path, sizeof path, "%s/%s", dir, VG_STATUS_SOCKET);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert(S_ISSOCK(sb.st_mode));
    cr_assert_eq(sb.st_mode & 0777, 0660);

    /* A second server on the same directory is refused. */
    vg_status *s2 = NULL;
    cr_assert_eq(vg_status_start(&c, st, &s2, &eb), VG_EPERM);
    cr_assert(strstr(eb.msg, "another agent") != NULL, "%s", eb.msg);

    char *text;
    size_t n;
    cr_assert_eq(vg_status_fetch(dir, "json", 5000, &text, &n, &eb), VG_OK, "%s", eb.msg);
    json_error_t je;
    json_t *root = json_loadb(text, n, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    cr_assert_eq(json_integer_value(json_object_get(root, "version")), 1);
    cr_assert_gt(json_integer_value(json_object_get(root, "rss_bytes")), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(root, "window"), "drops")), 0,
                 "the window starts at start-up");
    json_t *arr = json_object_get(root, "counters");
    int saw_gauge = 0;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (!strcmp(json_string_value(json_object_get(e, "name")),
                                              "spool.oldest_age_seconds")) saw_gauge =
        json_is_true(json_object_get(e, "gauge")) &&
        json_integer_value(json_object_get(e, "v")) == 99;
    cr_assert(saw_gauge, "the probe ran before the answer");
    json_decref(root);
    free(text);

    vg_counter_add(vg_stats_counter(st, "drops", "reason", "x"), 4);
    cr_assert_eq(vg_status_fetch(dir, "json", 5000, &text, &n, &eb), VG_OK, "%s", eb.msg);
    root = json_loadb(text, n, 0, &je);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(root, "window"), "drops")), 4);
    json_decref(root);
    free(text);

    cr_assert_eq(vg_status_fetch(dir, "metrics", 5000, &text, &n, &eb), VG_OK, "%s", eb.msg);
    cr_assert(strstr(text, "vigie_input_lines_total{input=\"a\"} 5\n"), "%s", text);
    cr_assert(strstr(text, "vigie_process_cpu_seconds_total "), "%s", text);
    free(text);

    /* A client that connects and says nothing does not block the next. */
    int idle = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    cr_assert_eq(connect(idle, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(vg_status_fetch(dir, "json", 5000, &text, &n, &eb), VG_OK, "%s", eb.msg);
    free(text);
    close(idle);
    cr_assert_geq(probes, 3);

    vg_status_stop(s);
    cr_assert_neq(stat(path, &sb), 0, "socket removed at stop");
    cr_assert_eq(vg_status_fetch(dir, "json", 1000, &text, &n, &eb), VG_ENOTFOUND);

    /* A socket file left by a dead agent is replaced. */
    int dead = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(dead, (struct sockaddr *)&sa, sizeof sa), 0);
    close(dead);
    cr_assert_eq(vg_status_start(&c, st, &s, &eb), VG_OK, "%s", eb.msg);
    vg_status_stop(s);
    vg_status_stop(NULL);
    vg_stats_destroy(st);
}

Test(status, bad_metrics_listen, .init = mk, .fini = rm)
{
    vg_stats *st = vg_stats_create();
    vg_config c;
    memset(&c, 0, sizeof c);
    c.state_dir = dir;
    c.metrics_listen = "no-port";
    vg_status *s = NULL;
    vg_errbuf eb;
    cr_assert_neq(vg_status_start(&c, st, &s, &eb), VG_OK);
    cr_assert(strstr(eb.msg, "metrics_listen") != NULL, "%s", eb.msg);
    cr_assert_null(s);
    char path[128];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, VG_STATUS_SOCKET);
    cr_assert_neq(stat(path, &sb), 0, "nothing left behind");
    vg_stats_destroy(st);
}

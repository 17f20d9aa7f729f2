/*
 * fuzz_redact.c - libFuzzer target: vg_redact over arbitrary bytes (NULs,
 * invalid UTF-8, digits runs that look like NIRs and IBANs, '@' runs).
 *
 * Three redactors are built once: NIR + IBAN + e-mail with method hash (key
 * generated in a temporary state directory), the same with method mask plus
 * a backtracking-prone extra pattern (so the fail-closed path is reached),
 * and an empty one. The first input byte picks the redactor and the output
 * buffer's maximum (bit 2: a small one, so the overflow path runs). Checks:
 * no replacement means an exact copy; an output without overflow is never
 * empty for a non-empty input; the validators run on the whole input too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/log.h"
#include "agent/redact.h"

static vg_redactor *red[3];
static vg_redact_scratch *scr[3];

static void setup(void)
{
    vg_log_set_quiet(true);
    vg_log_set_level(VG_LOG_ERROR);
    static char dir[128];
    snprintf(dir, sizeof dir, "%s/vg-fuzz-redact-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        abort();
    static char *pats[] = {"(a|aa)+$", "secret=[^ ]+"};
    for (int i = 0; i < 3; i++) {
        vg_config *cfg = NULL;
        vg_errbuf eb;
        if (vg_config_defaults(&cfg, &eb))
            abort();
        free(cfg->state_dir);
        cfg->state_dir = strdup(dir);
        cfg->redact = true;
        cfg->redact_nir = cfg->redact_email = cfg->redact_iban = i < 2;
        cfg->redact_method = i == 0 ? 0 : 1;
        cfg->regex_match_limit = 1000;
        if (i == 1) {
            cfg->redact_patterns.v = pats;
            cfg->redact_patterns.n = 2;
        }
        if (vg_redactor_create(cfg, NULL, &red[i], &eb)) {
            fprintf(stderr, "redactor %d: %s\n", i, eb.msg);
            abort();
        }
        if (i == 1)
            cfg->redact_patterns = (vg_strlist){NULL, 0}; /* not the config's to free */
        vg_config_destroy(cfg);
        if (!(scr[i] = vg_redact_scratch_create(red[i])))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!red[0])
        setup();
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    char *in = malloc(size - 1 ? size - 1 : 1);
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    size_t n = size - 1;
    int w = (int)(mode % 3);
    vg_buf out;
    vg_buf_init(&out, (mode & 4) ? 64 : 1u << 22);
    size_t cnt = vg_redact(red[w], scr[w], in, n, &out);
    if (!out.overflow) {
        if (!cnt && (out.n != n || (n && memcmp(out.p, in, n))))
            abort(); /* nothing found: an exact copy */
        if (n && !out.n)
            abort();
    }
    vg_buf_free(&out);
    (void)vg_redact_nir_valid(in, n);
    (void)vg_redact_iban_valid(in, n);
    free(in);
    return 0;
}

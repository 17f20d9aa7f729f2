/* test_redact.c - redaction of NIRs, e-mails, IBANs and configured patterns. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/redact.h"
#include "hostile.h"

/* A configuration with only the redaction fields set. */
static vg_config conf(int method, const char *key_file, const char *state_dir)
{
    vg_config c;
    memset(&c, 0, sizeof c);
    c.redact = true;
    c.redact_nir = c.redact_email = c.redact_iban = true;
    c.redact_method = method;
    c.redact_key_file = (char *)key_file;
    c.state_dir = (char *)state_dir;
    return c;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/vg-redact.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* A key file with a fixed key, mode 0600. */
static const char *fixed_key(void)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/fixed.key", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    const char *k = "0123456789abcdef0123456789abcdef\n";
    cr_assert_eq(write(fd, k, strlen(k)), (ssize_t)strlen(k));
    close(fd);
    return path;
}

/* Redact s with a mask redactor; return a static copy of the result. */
static char *redact_with(vg_redactor *r, const char *s, size_t n, size_t *count)
{
    static char res[4096];
    vg_redact_scratch *sc = vg_redact_scratch_create(r);
    cr_assert_not_null(sc);
    vg_buf b;
    vg_buf_init(&b, 1 << 20);
    size_t k = vg_redact(r, sc, s, n, &b);
    if (count)
        *count = k;
    cr_assert(!b.overflow);
    cr_assert_lt(b.n, sizeof res);
    memcpy(res, b.p ? b.p : "", b.n);
    res[b.n] = 0;
    vg_buf_free(&b);
    vg_redact_scratch_destroy(sc);
    return res;
}

static vg_redactor *mask_redactor(void)
{
    vg_config c = conf(1, NULL, NULL);
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_OK, "%s", eb.msg);
    return r;
}

typedef struct vcase {
    const char *s;
    int valid;
} vcase;

Test(redact, nir_validator_table)
{
    static const vcase t[] = {
        {"185057800608491", 1},       /* key 91 */
        {"1 85 05 78 006 084 91", 1}, /* spaces between groups */
        {"1 85 05 78 006 084 36", 0}, /* wrong key */
        {"185057800608490", 0},       {"269029934173285", 1},
        {"172079935109517", 1},       {"255027512345687", 1},
        {"164052A12345692", 1}, /* Corsica 2A counts as 19 */
        {"164052a12345692", 1},       {"1 64 05 2A 123 456 92", 1},
        {"164052A12345665", 0},                               /* key computed with 2A = 20: wrong */
        {"285112B05000135", 1},                               /* 2B counts as 18 */
        {"285112B05000178", 0},       {"185059712345661", 1}, /* overseas department 971 */
        {"1 85 05 971 23 456 61", 1}, {"18505780060849", 0},  /* 14 characters */
        {"1850578006084911", 0},                              /* 16 */
        {"1850578X0608491", 0},       {"", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_eq(vg_redact_nir_valid(t[i].s, strlen(t[i].s)), t[i].valid, "%s", t[i].s);
}

Test(redact, iban_validator_table)
{
    static const vcase t[] = {
        {"FR7630006000011234567890189", 1},
        {"FR76 3000 6000 0112 3456 7890 189", 1},
        {"DE89370400440532013000", 1},
        {"DE89 3704 0044 0532 0130 00", 1},
        {"GB82WEST12345698765432", 1},
        {"NO9386011117947", 1},
        {"BE68539007547034", 1},
        {"FR7630006000011234567890188", 0}, /* check digits wrong */
        {"DE89370400440532013001", 0},
        {"DE8937040044053201300", 0}, /* valid-looking but wrong length for DE */
        {"FR76300060000112", 0},
        {"XX00", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_eq(vg_redact_iban_valid(t[i].s, strlen(t[i].s)), t[i].valid, "%s", t[i].s);
}

typedef struct rcase {
    const char *in, *out;
} rcase;

Test(redact, mask_table)
{
    static const rcase t[] = {
        {"patient 185057800608491 admitted", "patient [NIR] admitted"},
        {"nir=1 85 05 78 006 084 91.", "nir=[NIR]."},
        {"nir 1.85.05.78.006.084.91 / 1-85-05-78-006-084-91", "nir [NIR] / [NIR]"},
        {"nir 1  85 05 78 006 084 91", "nir 1  85 05 78 006 084 91"}, /* two spaces: no */
        {"NIR:164052A12345692", "NIR:[NIR]"},
        {"2 85 11 2B 050 001 35 end", "[NIR] end"},
        {"invalid 185057800608490 kept", "invalid 185057800608490 kept"},
        {"invalid 1 85 05 78 006 084 36 kept", "invalid 1 85 05 78 006 084 36 kept"},
        /* glued to other digits or letters: not a NIR */
        {"id 9185057800608491", "id 9185057800608491"},
        {"id 1850578006084910", "id 1850578006084910"},
        {"idA185057800608491", "idA185057800608491"},
        {"185057800608491185057800608491", "185057800608491185057800608491"},
        {"two 185057800608491,269029934173285", "two [NIR],[NIR]"},
        {"mail Jean.Dupont+x@chu-exemple.fr now", "mail [EMAIL] now"},
        {"<a@b.co>", "<[EMAIL]>"},
        {"user@localhost no tld", "user@localhost no tld"},
        {"not@an email", "not@an email"},
        {"iban FR7630006000011234567890189 ok", "iban [IBAN] ok"},
        {"iban FR76 3000 6000 0112 3456 7890 189 ok", "iban [IBAN] ok"},
        {"DE89 3704 0044 0532 0130 00", "[IBAN]"},
        {"bad FR7630006000011234567890188", "bad FR7630006000011234567890188"},
        {"lower fr7630006000011234567890189", "lower fr7630006000011234567890189"},
        {"all: 185057800608491 x@y.org DE89370400440532013000", "all: [NIR] [EMAIL] [IBAN]"},
        {"", ""},
        {"nothing to see", "nothing to see"},
    };
    vg_redactor *r = mask_redactor();
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_str_eq(redact_with(r, t[i].in, strlen(t[i].in), NULL), t[i].out, "in: %s",
                         t[i].in);
    vg_redactor_destroy(r);
}

Test(redact, counts_replacements_and_stats)
{
    vg_stats *st = vg_stats_create();
    vg_config c = conf(1, NULL, NULL);
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, st, &r, &eb), VG_OK, "%s", eb.msg);
    size_t k;
    redact_with(r, "a@b.fr c@d.fr 185057800608491", 29, &k);
    cr_assert_eq(k, 3);
    redact_with(r, "none", 4, &k);
    cr_assert_eq(k, 0);
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "redact.replacements", "kind", "email")), 2);
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "redact.replacements", "kind", "nir")), 1);
    vg_redactor_destroy(r);
    vg_stats_destroy(st);
}

Test(redact, builtins_can_be_disabled)
{
    vg_config c = conf(1, NULL, NULL);
    c.redact_email = false;
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_OK, "%s", eb.msg);
    cr_assert_str_eq(redact_with(r, "x@y.org 185057800608491", 23, NULL), "x@y.org [NIR]");
    vg_redactor_destroy(r);
}

Test(redact, custom_patterns)
{
    char *pats[] = {"\\bIPP[0-9]{6,10}\\b", "(?i)secret-[a-z]+", "x*"};
    vg_config c = conf(1, NULL, NULL);
    c.redact_patterns.v = pats;
    c.redact_patterns.n = 3;
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_OK, "%s", eb.msg);
    static const rcase t[] = {
        {"patient IPP0012345 room 4", "patient [REDACTED] room 4"},
        {"SECRET-abc and secret-Def", "[REDACTED] and [REDACTED]"},
        {"xx", "[REDACTED]"}, /* x* matches non-empty only */
        {"IPP12 short", "IPP12 short"},
        {"IPP123456 185057800608491", "[REDACTED] [NIR]"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_str_eq(redact_with(r, t[i].in, strlen(t[i].in), NULL), t[i].out, "in: %s",
                         t[i].in);
    vg_redactor_destroy(r);
}

Test(redact, bad_pattern_is_a_config_error)
{
    char *pats[] = {"ok", "(unclosed"};
    vg_config c = conf(1, NULL, NULL);
    c.redact_patterns.v = pats;
    c.redact_patterns.n = 2;
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_ECONFIG);
    cr_assert_null(r);
    cr_assert(strstr(eb.msg, "redaction.patterns[1]"), "%s", eb.msg);
    cr_assert(strstr(eb.msg, "offset"), "%s", eb.msg);
}

Test(redact, hash_is_stable_with_a_fixed_key, .init = make_tmpdir, .fini = rm_tmpdir)
{
    vg_config c = conf(0, fixed_key(), NULL);
    vg_redactor *r = NULL, *r2 = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_OK, "%s", eb.msg);
    cr_assert_eq(vg_redactor_create(&c, NULL, &r2, &eb), VG_OK, "%s", eb.msg);
    char a[256], b[256], d[256], e[256];
    strcpy(a, redact_with(r, "x 185057800608491 y", 19, NULL));
    strcpy(b, redact_with(r2, "x 1 85 05 78 006 084 91 y", 25, NULL));
    cr_assert_str_eq(a, redact_with(r2, "x 1.85.05.78.006.084.91 y", 25, NULL));
    cr_assert_str_eq(a, b, "same NIR written two ways, same token");
    cr_assert_eq(strlen(a), strlen("x [NIR:12345678] y"), "%s", a);
    cr_assert(!strncmp(a, "x [NIR:", 7), "%s", a);
    strcpy(d, redact_with(r, "269029934173285", 15, NULL));
    cr_assert_str_neq(d, a + 2);
    strcpy(d, redact_with(r, "Jean@CHU.fr", 11, NULL));
    strcpy(e, redact_with(r, "jean@chu.fr", 11, NULL));
    cr_assert_str_eq(d, e, "e-mail case does not change the token");
    /* Known answer: HMAC-SHA256(key, "NIR\0185057800608491"), first 4 bytes. */
    FILE *p = popen("printf 'NIR\\000185057800608491' | openssl dgst -sha256 -hmac "
                    "0123456789abcdef0123456789abcdef -r 2>/dev/null | cut -c1-8",
                    "r");
    char want[32] = "";
    if (p && fgets(want, sizeof want, p) && strlen(want) >= 8) {
        want[8] = 0;
        char tok[64];
        snprintf(tok, sizeof tok, "x [NIR:%s] y", want);
        cr_expect_str_eq(a, tok);
    }
    if (p)
        pclose(p);
    vg_redactor_destroy(r);
    vg_redactor_destroy(r2);
}

Test(redact, key_file_generated_0600_and_reused, .init = make_tmpdir, .fini = rm_tmpdir)
{
    vg_config c = conf(0, NULL, tmpdir);
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_OK, "%s", eb.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, VG_REDACT_KEY_FILE);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 07777, 0600);
    cr_assert_eq(sb.st_size, 65);
    char first[64];
    strcpy(first, redact_with(r, "a@b.fr", 6, NULL));
    vg_redactor_destroy(r);
    /* A second start reads the same key: same token. */
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_OK, "%s", eb.msg);
    cr_assert_str_eq(redact_with(r, "a@b.fr", 6, NULL), first);
    vg_redactor_destroy(r);
    /* A key others can read is refused. */
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_EPERM);
    cr_assert(strstr(eb.msg, "0644"), "%s", eb.msg);
}

Test(redact, short_or_missing_key_file_refused, .init = make_tmpdir, .fini = rm_tmpdir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/short.key", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    cr_assert_eq(write(fd, "abc\n", 4), 4);
    close(fd);
    vg_config c = conf(0, path, NULL);
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_ECONFIG);
    cr_assert(strstr(eb.msg, "at least"), "%s", eb.msg);
    c.redact_key_file = "/nonexistent/vigie.key";
    cr_assert_eq(vg_redactor_create(&c, NULL, &r, &eb), VG_EIO);
}

Test(redact, hostile_input)
{
    vg_redactor *r = mask_redactor();
    vg_redact_scratch *sc = vg_redact_scratch_create(r);
    vg_buf b;
    vg_buf_init(&b, 64 << 20);
    /* 4 MiB of digits (every byte a candidate start), of e-mail local-part
       characters ending in '@', of "a." domain labels: linear, no failure. */
    size_t n = 4 << 20;
    char *big = malloc(n);
    const char *fills[] = {"1", "a", "a.", "@a", "FR76", "1 "};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        size_t fl = strlen(fills[f]);
        for (size_t i = 0; i < n; i++)
            big[i] = fills[f][i % fl];
        big[n - 1] = '@';
        vg_buf_reset(&b);
        size_t k = vg_redact(r, sc, big, n, &b);
        cr_assert_eq(k, 0, "fill '%s'", fills[f]);
        cr_assert_eq(b.n, n);
        cr_assert(!memcmp(b.p, big, n));
    }
    /* A NIR after a NUL and invalid UTF-8, in an exact-size allocation. */
    static const char line[] = "\xff\xfe\0\xc3(185057800608491\0x@y.org\x80";
    char *h = malloc(sizeof line - 1);
    memcpy(h, line, sizeof line - 1);
    vg_buf_reset(&b);
    cr_assert_eq(vg_redact(r, sc, h, sizeof line - 1, &b), 2);
    static const char want[] = "\xff\xfe\0\xc3([NIR]\0[EMAIL]\x80";
    cr_assert_eq(b.n, sizeof want - 1);
    cr_assert(!memcmp(b.p, want, b.n));
    free(h);
    /* Random hostile lines: never crash, output never longer than needed. */
    unsigned seed = 7;
    char buf[600];
    static const char alpha[] = "0123456789 @.AZaz2AB\0\xff-+_";
    for (int i = 0; i < 5000; i++) {
        size_t len = vg_test_hostile_line(buf, "1 85 ", alpha, sizeof alpha - 1, 500, &seed);
        char *x = malloc(len);
        memcpy(x, buf, len);
        vg_buf_reset(&b);
        vg_redact(r, sc, x, len, &b);
        cr_assert(!b.overflow);
        free(x);
    }
    /* A too small output buffer overflows (the caller discards it). */
    vg_buf small;
    vg_buf_init(&small, 8);
    vg_redact(r, sc, "0123456789 185057800608491", 26, &small);
    cr_assert(small.overflow);
    vg_buf_free(&small);
    /* NULL / empty input */
    vg_buf_reset(&b);
    cr_assert_eq(vg_redact(r, sc, NULL, 5, &b), 0);
    cr_assert_eq(b.n, 0);
    free(big);
    vg_buf_free(&b);
    vg_redact_scratch_destroy(sc);
    vg_redactor_destroy(r);
}

Test(redact, failing_custom_pattern_fails_closed)
{
    /* Catastrophic backtracking hits the match limit: the rest is withheld. */
    char *pats[] = {"(a+)+b"};
    vg_config c = conf(1, NULL, NULL);
    c.redact_nir = c.redact_email = c.redact_iban = false;
    c.redact_patterns.v = pats;
    c.redact_patterns.n = 1;
    c.regex_match_limit = 1000;
    vg_stats *st = vg_stats_create();
    vg_redactor *r = NULL;
    vg_errbuf eb;
    cr_assert_eq(vg_redactor_create(&c, st, &r, &eb), VG_OK, "%s", eb.msg);
    char in[64];
    memset(in, 'a', 40);
    memcpy(in + 40, "c 185057800608491 b", 19);
    char *out = redact_with(r, in, 59, NULL);
    cr_assert(strstr(out, "[REDACTION-FAILED]"), "%s", out);
    cr_assert_null(strstr(out, "185057800608491"));
    cr_assert_eq(vg_counter_get(vg_stats_counter(st, "redact.failures", NULL, NULL)), 1);
    vg_redactor_destroy(r);
    vg_stats_destroy(st);
}

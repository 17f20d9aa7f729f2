/*
 * redact.c - personal data removed from text; see redact.h.
 *
 * Every pattern (built-in or configured) is a PCRE2 regex compiled once with
 * JIT. The built-in NIR and IBAN patterns end with a callout that runs the
 * checksum on the candidate, so an invalid number makes the regex backtrack
 * and try the other groupings or a later start, as if the checksum were part
 * of the pattern. Redacting a text is a merge of the patterns' next matches:
 * the leftmost finding wins (the longest on a tie); patterns whose next match
 * overlaps it search again after it. State per pattern is one match, so there
 * is no table of findings to bound.
 */
#include "redact.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum { K_NIR, K_EMAIL, K_IBAN, K_CUSTOM, K_COUNT };
static const char *const kind_names[K_COUNT] = {"NIR", "EMAIL", "IBAN", "REDACTED"};
static const char *const kind_labels[K_COUNT] = {"nir", "email", "iban", "pattern"};

#define KEY_MAX 4096
#define KEY_MIN 16
#define FAILED_TOKEN "[REDACTION-FAILED]"

/* Built-in patterns. The look-behinds make a run of digits/letters be tried
   only from its first byte (linear time), and keep a number glued to other
   digits from matching. (?C1)/(?C2): checksum callouts. */
static const char NIR_RE[] =
    "(?<![0-9A-Za-z])[1-478][ .-]?[0-9]{2}[ .-]?[0-9]{2}[ .-]?"
    "(?:(?:[0-9]{2}|2[ABab])[ .-]?[0-9]{3}|[0-9]{3}[ .-]?[0-9]{2})[ .-]?[0-9]{3}[ .-]?[0-9]{2}"
    "(?![0-9A-Za-z])(?C1)";
static const char IBAN_RE[] =
    "(?<![0-9A-Za-z])[A-Z]{2}[0-9]{2}(?: ?[0-9A-Z]{4}){2,7}(?: ?[0-9A-Z]{1,4})?"
    "(?![0-9A-Za-z])(?C2)";
static const char EMAIL_RE[] =
    "(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@(?:[A-Za-z0-9-]++\\.)+[A-Za-z]{2,63}"
    "(?![A-Za-z0-9-])";

typedef struct pattern {
    pcre2_code *re;
    int kind;
    int builtin; /* linear by construction: limit scaled to the text */
} pattern;

struct vg_redactor {
    pattern pat[3 + VG_REDACT_MAX_PATTERNS];
    size_t npat;
    int method; /* 0 hash, 1 mask */
    unsigned char key[KEY_MAX];
    size_t keylen;
    uint32_t match_limit, depth_limit;
    vg_counter *c_kind[K_COUNT];
    vg_counter *c_fail;
    vg_counter dummy;
};

typedef struct next_match {
    size_t start, end;
    int state; /* 0 none (pattern exhausted), 1 match, 2 error at start */
} next_match;

struct vg_redact_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    next_match *next;
    size_t npat;
    char *norm; /* normalised value being hashed */
    size_t normcap;
};

/* ---- validators ---- */

int vg_redact_nir_valid(const char *s, size_t n)
{
    char c[15];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '.' || s[i] == '-')
            continue;
        if (k == 15)
            return 0;
        c[k++] = (char)toupper((unsigned char)s[i]);
    }
    if (k != 15)
        return 0;
    uint64_t num = 0;
    for (size_t i = 0; i < 13; i++) {
        int d;
        if (i == 5 && c[5] == '2' && (c[6] == 'A' || c[6] == 'B')) {
            /* Corsica: 2A counts as 19, 2B as 18. */
            num = num * 100 + (c[6] == 'A' ? 19 : 18);
            i++;
            continue;
        }
        if (c[i] < '0' || c[i] > '9')
            return 0;
        d = c[i] - '0';
        num = num * 10 + (uint64_t)d;
    }
    if (c[13] < '0' || c[13] > '9' || c[14] < '0' || c[14] > '9')
        return 0;
    int key = (c[13] - '0') * 10 + (c[14] - '0');
    return key == (int)(97 - num % 97);
}

/* Lengths of the IBANs of the registry's countries (ISO 13616). A country
   not listed is accepted with any length from 15 to 34 (fail safe: better a
   redacted false positive than a leaked number). */
static const struct {
    char cc[3];
    unsigned char len;
} iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20},
    {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27},
    {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15},
    {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
    {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

int vg_redact_iban_valid(const char *s, size_t n)
{
    char c[34];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        if (k == sizeof c)
            return 0;
        c[k++] = (char)toupper((unsigned char)s[i]);
    }
    if (k < 15)
        return 0;
    if (!isupper((unsigned char)c[0]) || !isupper((unsigned char)c[1]) ||
        !isdigit((unsigned char)c[2]) || !isdigit((unsigned char)c[3]))
        return 0;
    for (size_t i = 0; i < sizeof iban_lengths / sizeof iban_lengths[0]; i++)
        if (c[0] == iban_lengths[i].cc[0] && c[1] == iban_lengths[i].cc[1] &&
            k != iban_lengths[i].len)
            return 0;
    /* Move the first four characters to the end, letters -> 10..35, mod 97
       digit by digit (the number has up to 68 digits). */
    unsigned rem = 0;
    for (size_t j = 0; j < k; j++) {
        char ch = c[(j + 4) % k];
        if (isdigit((unsigned char)ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else if (isupper((unsigned char)ch))
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
        else
            return 0;
    }
    return rem == 1;
}

static int callout(pcre2_callout_block *cb, void *ud)
{
    (void)ud;
    const char *s = (const char *)cb->subject + cb->start_match;
    size_t n = cb->current_position - cb->start_match;
    int ok = cb->callout_number == 1   ? vg_redact_nir_valid(s, n)
             : cb->callout_number == 2 ? vg_redact_iban_valid(s, n)
                                       : 1;
    return ok ? 0 : 1; /* > 0: fail here and backtrack */
}

/* ---- key ---- */

static vg_err read_key_file(const char *path, bool must_exist, vg_redactor *r, vg_errbuf *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && !must_exist)
            return VG_ENOTFOUND;
        return vg_errno(eb, VG_EIO, "redaction key %s", path);
    }
    struct stat sb;
    vg_err rc = VG_OK;
    if (fstat(fd, &sb) < 0) {
        rc = vg_errno(eb, VG_EIO, "redaction key %s", path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = vg_errf(eb, VG_ECONFIG, "redaction key %s: not a regular file", path);
        goto out;
    }
    if (sb.st_mode & (S_IRWXO | S_IWGRP)) {
        rc = vg_errf(eb, VG_EPERM,
                     "redaction key %s: mode %04o lets other users read or change it; "
                     "chmod 0600 (or 0640) it",
                     path, (unsigned)(sb.st_mode & 07777));
        goto out;
    }
    ssize_t got = 0;
    size_t n = 0;
    while (n < sizeof r->key && (got = read(fd, r->key + n, sizeof r->key - n)) > 0)
        n += (size_t)got;
    if (got < 0) {
        rc = vg_errno(eb, VG_EIO, "redaction key %s", path);
        goto out;
    }
    while (n && isspace(r->key[n - 1]))
        n--;
    if (n < KEY_MIN) {
        rc = vg_errf(eb, VG_ECONFIG, "redaction key %s: %zu bytes, at least %d needed", path, n,
                     KEY_MIN);
        goto out;
    }
    r->keylen = n;
out:
    close(fd);
    return rc;
}

/* Create dir/redact.key once: written under a temporary name, then linked
   into place, so two agents starting together agree on one key. */
static vg_err create_key_file(const char *dir, const char *path, vg_errbuf *eb)
{
    char tmp[4096];
    unsigned char raw[32];
    char hex[65];
    vg_err rc = VG_OK;
    if (snprintf(tmp, sizeof tmp, "%s/.%s.%ld", dir, VG_REDACT_KEY_FILE, (long)getpid()) >=
        (int)sizeof tmp)
        return vg_errf(eb, VG_EINVAL, "state directory path too long");
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t k = getrandom(raw + got, sizeof raw - got, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return vg_errno(eb, VG_EIO, "getrandom");
        }
        got += (size_t)k;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    hex[64] = '\n';
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return vg_errno(eb, VG_EIO, "cannot create %s", tmp);
    if (fchmod(fd, 0600) < 0 || write(fd, hex, sizeof hex) != (ssize_t)sizeof hex ||
        fsync(fd) < 0) {
        rc = vg_errno(eb, VG_EIO, "cannot write %s", tmp);
        close(fd);
        goto out;
    }
    close(fd);
    if (link(tmp, path) < 0 && errno != EEXIST) {
        rc = vg_errno(eb, VG_EIO, "cannot create %s", path);
        goto out;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
out:
    unlink(tmp);
    explicit_bzero(raw, sizeof raw);
    explicit_bzero(hex, sizeof hex);
    return rc;
}

static vg_err load_key(const vg_config *cfg, vg_redactor *r, vg_errbuf *eb)
{
    if (cfg->redact_key_file && *cfg->redact_key_file)
        return read_key_file(cfg->redact_key_file, true, r, eb);
    if (!cfg->state_dir || !*cfg->state_dir)
        return vg_errf(eb, VG_ECONFIG, "redaction: no key_file and no state directory");
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", cfg->state_dir, VG_REDACT_KEY_FILE) >=
        (int)sizeof path)
        return vg_errf(eb, VG_EINVAL, "state directory path too long");
    vg_err rc = read_key_file(path, false, r, eb);
    if (rc != VG_ENOTFOUND)
        return rc;
    rc = create_key_file(cfg->state_dir, path, eb);
    if (rc)
        return rc;
    return read_key_file(path, true, r, eb);
}

/* ---- creation ---- */

static vg_err add_pattern(vg_redactor *r, const char *src, int kind, int builtin, size_t index,
                          vg_errbuf *eb)
{
    int err;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_NEVER_UTF | PCRE2_NEVER_BACKSLASH_C;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return vg_errf(eb, VG_ECONFIG, "redaction.patterns[%zu]: %s at offset %zu", index,
                       (const char *)msg, (size_t)off);
    }
    if (!getenv("VIGIE_PCRE2_NO_JIT")) /* set: interpreter only (for valgrind) */
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter if JIT is unavailable */
    r->pat[r->npat].re = re;
    r->pat[r->npat].kind = kind;
    r->pat[r->npat].builtin = builtin;
    r->npat++;
    return VG_OK;
}

vg_err vg_redactor_create(const vg_config *cfg, vg_stats *st, vg_redactor **out, vg_errbuf *eb)
{
    *out = NULL;
    vg_redactor *r = calloc(1, sizeof *r);
    if (!r)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    vg_err rc = VG_OK;
    r->method = cfg->redact_method;
    r->match_limit = cfg->regex_match_limit > 0 ? (uint32_t)cfg->regex_match_limit : 100000;
    r->depth_limit = cfg->regex_depth_limit > 0 ? (uint32_t)cfg->regex_depth_limit : 10000;
    if (cfg->redact_patterns.n > VG_REDACT_MAX_PATTERNS) {
        rc = vg_errf(eb, VG_ELIMIT, "redaction.patterns: %zu patterns, at most %d",
                     cfg->redact_patterns.n, VG_REDACT_MAX_PATTERNS);
        goto out;
    }
    if ((cfg->redact_nir && (rc = add_pattern(r, NIR_RE, K_NIR, 1, 0, eb))) ||
        (cfg->redact_iban && (rc = add_pattern(r, IBAN_RE, K_IBAN, 1, 0, eb))) ||
        (cfg->redact_email && (rc = add_pattern(r, EMAIL_RE, K_EMAIL, 1, 0, eb))))
        goto out;
    for (size_t i = 0; i < cfg->redact_patterns.n; i++)
        if ((rc = add_pattern(r, cfg->redact_patterns.v[i], K_CUSTOM, 0, i, eb)))
            goto out;
    if (r->method == 0 && (rc = load_key(cfg, r, eb)))
        goto out;
    for (int k = 0; k < K_COUNT; k++)
        r->c_kind[k] =
            st ? vg_stats_counter(st, "redact.replacements", "kind", kind_labels[k]) : &r->dummy;
    r->c_fail = st ? vg_stats_counter(st, "redact.failures", NULL, NULL) : &r->dummy;
out:
    if (rc) {
        vg_redactor_destroy(r);
        return rc;
    }
    *out = r;
    return VG_OK;
}

void vg_redactor_destroy(vg_redactor *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->npat; i++)
        pcre2_code_free(r->pat[i].re);
    explicit_bzero(r->key, sizeof r->key);
    free(r);
}

vg_redact_scratch *vg_redact_scratch_create(const vg_redactor *r)
{
    vg_redact_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->npat = r->npat;
    s->md = pcre2_match_data_create(1, NULL);
    s->mc = pcre2_match_context_create(NULL);
    s->next = calloc(r->npat ? r->npat : 1, sizeof *s->next);
    if (!s->md || !s->mc || !s->next) {
        vg_redact_scratch_destroy(s);
        return NULL;
    }
    pcre2_set_callout(s->mc, callout, NULL);
    pcre2_set_depth_limit(s->mc, r->depth_limit);
    return s;
}

void vg_redact_scratch_destroy(vg_redact_scratch *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    free(s->next);
    free(s->norm);
    free(s);
}

/* ---- redaction ---- */

/* Next match of pattern i in in[from..n). */
static void find(const vg_redactor *r, vg_redact_scratch *s, size_t i, const char *in, size_t n,
                 size_t from)
{
    next_match *m = &s->next[i];
    const pattern *p = &r->pat[i];
    if (from > n) {
        m->state = 0;
        return;
    }
    /* The limit bounds one call, which covers every start position from
       `from`: scale it with the text left so a long text is not a failure. */
    uint64_t lim = (uint64_t)r->match_limit + (uint64_t)(n - from) * (p->builtin ? 64 : 16);
    pcre2_set_match_limit(s->mc, lim > UINT32_MAX ? UINT32_MAX : (uint32_t)lim);
    int rc = pcre2_match(p->re, (PCRE2_SPTR)in, n, from, PCRE2_NOTEMPTY, s->md, s->mc);
    if (rc == PCRE2_ERROR_NOMATCH) {
        m->state = 0;
    } else if (rc < 0) {
        m->state = 2;
        m->start = m->end = from;
    } else {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        m->state = 1;
        m->start = ov[0];
        m->end = ov[1] > ov[0] ? ov[1] : ov[0] + 1; /* NOTEMPTY: never equal */
    }
}

static bool token(const vg_redactor *r, vg_redact_scratch *s, int kind, const char *v, size_t n,
                  vg_buf *out)
{
    if (r->method == 1)
        return vg_buf_printf(out, "[%s]", kind_names[kind]);
    /* Normalise so one value written two ways gives one token. */
    if (n + 16 > s->normcap) {
        char *p = realloc(s->norm, n + 16);
        if (!p)
            return vg_buf_printf(out, "[%s]", kind_names[kind]);
        s->norm = p;
        s->normcap = n + 16;
    }
    size_t k = 0;
    size_t kl = strlen(kind_names[kind]);
    memcpy(s->norm, kind_names[kind], kl + 1); /* kind, NUL, value */
    k = kl + 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((kind == K_NIR || kind == K_IBAN) &&
            (c == ' ' || (kind == K_NIR && (c == '.' || c == '-'))))
            continue;
        if (kind == K_NIR || kind == K_IBAN)
            c = (unsigned char)toupper(c);
        else if (kind == K_EMAIL)
            c = (unsigned char)tolower(c);
        s->norm[k++] = (char)c;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), r->key, (int)r->keylen, (const unsigned char *)s->norm, k, md,
              &mdlen) ||
        mdlen < 4)
        return vg_buf_printf(out, "[%s]", kind_names[kind]);
    return vg_buf_printf(out, "[%s:%02x%02x%02x%02x]", kind_names[kind], md[0], md[1], md[2],
                         md[3]);
}

size_t vg_redact(const vg_redactor *r, vg_redact_scratch *s, const char *in, size_t n, vg_buf *out)
{
    size_t count = 0, pos = 0;
    if (!in)
        n = 0;
    if (!r->npat || !n) {
        vg_buf_append(out, in ? in : "", n);
        return 0;
    }
    for (size_t i = 0; i < r->npat; i++)
        find(r, s, i, in, n, 0);
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < r->npat; i++) {
            const next_match *m = &s->next[i];
            if (!m->state)
                continue;
            if (best == SIZE_MAX || m->start < s->next[best].start ||
                (m->start == s->next[best].start &&
                 (m->state == 2 || (s->next[best].state == 1 && m->end > s->next[best].end))))
                best = i;
        }
        if (best == SIZE_MAX)
            break;
        next_match *b = &s->next[best];
        vg_buf_append(out, in + pos, b->start - pos);
        if (b->state == 2) {
            /* Fail closed: nothing after an unfinished search leaves the host. */
            vg_buf_puts(out, FAILED_TOKEN);
            vg_counter_add(r->c_fail, 1);
            return count + 1;
        }
        int kind = r->pat[best].kind;
        token(r, s, kind, in + b->start, b->end - b->start, out);
        vg_counter_add(r->c_kind[kind], 1);
        count++;
        pos = b->end;
        for (size_t i = 0; i < r->npat; i++)
            if (s->next[i].state && s->next[i].start < pos)
                find(r, s, i, in, n, pos);
    }
    vg_buf_append(out, in + pos, n - pos);
    return count;
}

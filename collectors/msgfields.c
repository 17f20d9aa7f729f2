/*
 * msgfields.c - parser definitions: named fields out of the free text of
 * syslog messages, by per-program PCRE2 patterns loaded from YAML.
 *
 * Definitions format (packaging/parsers/linux.yml is the reference):
 *
 *   version: 1
 *   programs:
 *     sshd:                      # program as parsed, ASCII case-insensitive
 *       aliases: [sshd-session]  # optional other program names
 *       patterns:                # tried in order, the first match wins
 *         - match: '^(?<outcome>Failed|Accepted) (?<auth_method>\S+) for ...'
 *           when: ' from '       # optional literal every matching line holds
 *
 * Each named group is a field (name = group name, value = the captured bytes
 * of ev->message, no copy); unset or empty groups add nothing, and a field
 * the event already has is kept. Duplicate group names are allowed (the
 * first group that captured wins), so alternatives can share a field name.
 * Patterns are byte-oriented (no UTF mode: messages may be invalid UTF-8).
 * A program named in several files (or documents) gets their patterns in
 * load order; an alias that already names another program is ignored.
 *
 * Loading never fails on bad input: an unknown key, a pattern that does not
 * compile, has no named group or breaks a limit (64 patterns per program,
 * 256 programs, 4096 bytes per pattern, 16 aliases) is reported through the
 * diag callback with file:line:col and skipped.
 *
 * Cost: this runs on every message of a program with definitions, so each
 * pattern carries cheap gates tried before the regex: the minimum length
 * PCRE2 computes, the possible first bytes of an anchored pattern, the
 * literal right after a leading '^' (memcmp) and one literal that every match
 * contains (memmem; `when:` or the longest literal of the pattern's top
 * level, found by a conservative scan). Patterns are JIT-compiled; the match
 * limit bounds the work on hostile lines, and a limit hit counts as no match.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "msgfields.h"

#include "../detectors/relit.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define MF_MAX_PATTERNS 64 /* per program */
#define MF_MAX_PROGRAMS 256
#define MF_MAX_PATTERN_LEN 4096
#define MF_MAX_ALIASES 16 /* per program */
#define MF_MAX_NAME 128   /* program name (the syslog parser's TAG_MAX) */
#define MF_MAX_FILE (4u << 20)
#define MF_MAX_DIR_FILES 1024
#define MF_MIN_GATE 3 /* shorter derived literals are not worth a memmem */

typedef struct mf_group {
    uint32_t num; /* capture group number */
    vg_str name;  /* points into mf_pattern.names */
    uint64_t bit; /* name_bit(name) */
} mf_group;

typedef struct mf_pattern {
    pcre2_code *re;
    bool jit;
    bool anchored;
    int first_type; /* 1: first byte is first_unit (ASCII case-folded), 2: bitmap */
    uint8_t first_unit;
    uint8_t bitmap[32];
    uint32_t minlen;
    char *prefix; /* literal at offset 0 (after a leading '^'), or NULL */
    size_t nprefix;
    char *gate; /* literal somewhere in every match, or NULL */
    size_t ngate;
    mf_group *groups; /* named groups, in name-table order */
    size_t ngroups;
    char *names; /* storage of the group names */
} mf_pattern;

typedef struct mf_program {
    mf_pattern *pats;
    size_t n;
    size_t naliases;
} mf_program;

typedef struct mf_name {
    char *name; /* lowercased */
    size_t n;
    uint32_t prog;
} mf_name;

struct vg_msgfields {
    mf_program *progs;
    size_t nprogs;
    mf_name *names; /* program names and aliases */
    size_t nnames;
    uint32_t *hash; /* open addressing over names (index + 1, 0 = empty) */
    size_t hmask;
    size_t npatterns;
    uint32_t max_ovec;
    pcre2_match_context *mctx;
};

struct vg_msgfields_scratch {
    pcre2_match_data *md;
    uint64_t limit_hits;
};

/* ---- small helpers ---- */

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static uint64_t hash_lower(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= lower((unsigned char)p[i]);
        h *= 1099511628211ull;
    }
    return h;
}

/* One bit of a 64-bit filter of field names: apply() scans the event's
   fields for a name only when its bit is set (most names are absent). */
static inline uint64_t name_bit(vg_str n)
{
    if (n.n == 0)
        return 1;
    unsigned h = (unsigned)n.n * 7u + (unsigned char)n.p[0] * 3u + (unsigned char)n.p[n.n - 1];
    return 1ull << (h & 63);
}

static bool eq_lower(const char *lowered, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)lowered[i] != lower((unsigned char)p[i]))
            return false;
    return true;
}

static void pattern_free(mf_pattern *p)
{
    pcre2_code_free(p->re);
    free(p->prefix);
    free(p->gate);
    free(p->groups);
    free(p->names);
}

void vg_msgfields_destroy(vg_msgfields *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nprogs; i++) {
        for (size_t k = 0; k < m->progs[i].n; k++)
            pattern_free(&m->progs[i].pats[k]);
        free(m->progs[i].pats);
    }
    free(m->progs);
    for (size_t i = 0; i < m->nnames; i++)
        free(m->names[i].name);
    free(m->names);
    free(m->hash);
    pcre2_match_context_free(m->mctx);
    free(m);
}

size_t vg_msgfields_count(const vg_msgfields *m)
{
    return m ? m->npatterns : 0;
}

/* Program record of a name (case-insensitive), or -1. Load time: linear. */
static long find_name(const vg_msgfields *m, const char *p, size_t n)
{
    for (size_t i = 0; i < m->nnames; i++)
        if (m->names[i].n == n && eq_lower(m->names[i].name, p, n))
            return (long)m->names[i].prog;
    return -1;
}

static const mf_program *lookup(const vg_msgfields *m, vg_str prog)
{
    if (!m->hash || prog.n == 0 || prog.n > MF_MAX_NAME)
        return NULL;
    for (size_t h = (size_t)hash_lower(prog.p, prog.n) & m->hmask;; h = (h + 1) & m->hmask) {
        uint32_t e = m->hash[h];
        if (!e)
            return NULL;
        const mf_name *nm = &m->names[e - 1];
        if (nm->n == prog.n && eq_lower(nm->name, prog.p, prog.n))
            return &m->progs[nm->prog];
    }
}

static vg_err build_hash(vg_msgfields *m)
{
    size_t size = 16;
    while (size < m->nnames * 2)
        size *= 2;
    m->hash = calloc(size, sizeof *m->hash);
    if (!m->hash)
        return VG_ENOMEM;
    m->hmask = size - 1;
    for (size_t i = 0; i < m->nnames; i++) {
        size_t h = (size_t)hash_lower(m->names[i].name, m->names[i].n) & m->hmask;
        while (m->hash[h])
            h = (h + 1) & m->hmask;
        m->hash[h] = (uint32_t)(i + 1);
    }
    return VG_OK;
}

/* ---- literal gates: see detectors/relit.c ---- */

/* ---- loading ---- */

typedef struct mf_pos {
    int line, col;
} mf_pos;

typedef struct loadctx {
    vg_msgfields *m;
    const char *file;
    const char *src; /* the file's bytes, to place regex errors */
    size_t nsrc;
    yaml_document_t *doc;
    vg_diag_fn diag;
    void *ud;
} loadctx;

__attribute__((format(printf, 5, 6))) static void diag(loadctx *lc, mf_pos pos, vg_err code,
                                                       int warning, const char *fmt, ...)
{
    char msg[VG_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lc->diag) {
        vg_diag d = {lc->file, pos.line, pos.col, warning, code, msg};
        lc->diag(lc->ud, &d);
    }
}

static mf_pos pos_of(const yaml_node_t *n)
{
    if (!n)
        return (mf_pos){0, 0};
    return (mf_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static yaml_node_t *node(loadctx *lc, int id)
{
    return yaml_document_get_node(lc->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/*
 * Source position of byte `off` of a scalar's value: walks the source from
 * the scalar's text, undoing '' in single-quoted and \-escapes in
 * double-quoted scalars. Columns count characters like libyaml's; folded
 * multi-line scalars are placed approximately.
 */
static mf_pos value_pos(loadctx *lc, const yaml_node_t *n, size_t off)
{
    mf_pos pos = pos_of(n);
    /* libyaml's index counts characters: find the byte where the scalar starts */
    size_t i = 0;
    for (size_t chars = 0; i < lc->nsrc; i++)
        if (((unsigned char)lc->src[i] & 0xC0) != 0x80 && chars++ == n->start_mark.index)
            break;
    yaml_scalar_style_t st = n->data.scalar.style;
    if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
        i++;
        pos.col++;
    }
    if (st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE)
        return pos; /* block scalars: the key's position is the best we know */
    for (size_t v = 0; v < off && i < lc->nsrc; v++) {
        size_t step = 1;
        const char *s = lc->src + i;
        if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE && s[0] == '\'' && i + 1 < lc->nsrc &&
            s[1] == '\'')
            step = 2;
        else if (st == YAML_DOUBLE_QUOTED_SCALAR_STYLE && s[0] == '\\' && i + 1 < lc->nsrc)
            step = s[1] == 'x' ? 4 : s[1] == 'u' ? 6 : s[1] == 'U' ? 10 : 2;
        if (s[0] == '\n') {
            pos.line++;
            pos.col = 1;
            i++;
            while (i < lc->nsrc && (lc->src[i] == ' ' || lc->src[i] == '\t')) {
                i++;
                pos.col++;
            }
            continue;
        }
        for (size_t k = 0; k < step && i < lc->nsrc; k++, i++)
            if (((unsigned char)lc->src[i] & 0xC0) != 0x80)
                pos.col++;
    }
    return pos;
}

static vg_err add_name(vg_msgfields *m, const char *p, size_t n, uint32_t prog)
{
    mf_name *nn = realloc(m->names, (m->nnames + 1) * sizeof *nn);
    if (!nn)
        return VG_ENOMEM;
    m->names = nn;
    char *s = malloc(n + 1);
    if (!s)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        s[i] = (char)lower((unsigned char)p[i]);
    s[n] = '\0';
    m->names[m->nnames++] = (mf_name){s, n, prog};
    return VG_OK;
}

/* Compile one `- match: ... when: ...` entry into *p. VG_OK with p->re NULL
   means skipped (diagnosed); only VG_ENOMEM is returned as an error. */
static vg_err compile_pattern(loadctx *lc, yaml_node_t *e, mf_pattern *p)
{
    vg_err err = VG_OK;
    yaml_node_t *mn = NULL, *wn = NULL;
    vg_relit s = {0};
    memset(p, 0, sizeof *p);
    if (e->type != YAML_MAPPING_NODE) {
        diag(lc, pos_of(e), VG_EPARSE, 0, "a pattern must be a mapping with 'match' (skipped)");
        return VG_OK;
    }
    for (yaml_node_pair_t *q = e->data.mapping.pairs.start; q < e->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(lc, q->key), *v = node(lc, q->value);
        const char *ks = scalar(k);
        if (ks && strcmp(ks, "match") == 0)
            mn = v;
        else if (ks && strcmp(ks, "when") == 0)
            wn = v;
        else {
            diag(lc, pos_of(k), VG_EPARSE, 0, "unknown key '%s' in pattern (pattern skipped)",
                 ks ? ks : "?");
            return VG_OK;
        }
    }
    if (!scalar(mn)) {
        diag(lc, pos_of(mn ? mn : e), VG_EPARSE, 0, "%s (pattern skipped)",
             mn ? "'match' must be a string" : "pattern without 'match'");
        return VG_OK;
    }
    if (wn && !scalar(wn)) {
        diag(lc, pos_of(wn), VG_EPARSE, 0, "'when' must be a string (pattern skipped)");
        return VG_OK;
    }
    const char *re = scalar(mn);
    size_t n = mn->data.scalar.length;
    if (n > MF_MAX_PATTERN_LEN) {
        diag(lc, pos_of(mn), VG_ELIMIT, 0, "pattern longer than %d bytes (skipped)",
             MF_MAX_PATTERN_LEN);
        return VG_OK;
    }
    int ecode;
    PCRE2_SIZE eoff;
    p->re = pcre2_compile((PCRE2_SPTR)re, n, PCRE2_DUPNAMES, &ecode, &eoff, NULL);
    if (!p->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        if (ecode == PCRE2_ERROR_HEAPLIMIT || ecode == PCRE2_ERROR_NOMEMORY)
            return VG_ENOMEM;
        diag(lc, value_pos(lc, mn, eoff), VG_EPARSE, 0,
             "invalid regular expression: %s at offset %zu (pattern skipped)", (char *)msg,
             (size_t)eoff);
        return VG_OK;
    }
    uint32_t count = 0, esize = 0, ncap = 0, allopt = 0, ftype = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(p->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(p->re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(p->re, PCRE2_INFO_NAMETABLE, &table);
    pcre2_pattern_info(p->re, PCRE2_INFO_CAPTURECOUNT, &ncap);
    if (count == 0) {
        diag(lc, pos_of(mn), VG_EPARSE, 0,
             "pattern has no named group (?<name>...), it would add no field (skipped)");
        goto skip;
    }
    p->groups = calloc(count, sizeof *p->groups);
    p->names = malloc((size_t)count * esize);
    if (!p->groups || !p->names) {
        err = VG_ENOMEM;
        goto skip;
    }
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR ent = table + (size_t)i * esize;
        char *dst = p->names + (size_t)i * esize;
        size_t len = strnlen((const char *)ent + 2, esize - 2);
        memcpy(dst, ent + 2, len);
        dst[len] = '\0';
        p->groups[i] = (mf_group){((uint32_t)ent[0] << 8) | ent[1], {dst, len}, 0};
        p->groups[i].bit = name_bit(p->groups[i].name);
    }
    p->ngroups = count;
    if (ncap + 1 > lc->m->max_ovec)
        lc->m->max_ovec = ncap + 1;

    /* gates */
    pcre2_pattern_info(p->re, PCRE2_INFO_MINLENGTH, &p->minlen);
    pcre2_pattern_info(p->re, PCRE2_INFO_ALLOPTIONS, &allopt);
    p->anchored = (allopt & PCRE2_ANCHORED) != 0;
    if (p->anchored) {
        const uint8_t *bm = NULL;
        pcre2_pattern_info(p->re, PCRE2_INFO_FIRSTCODETYPE, &ftype);
        pcre2_pattern_info(p->re, PCRE2_INFO_FIRSTBITMAP, &bm);
        if (ftype == 1) {
            uint32_t u = 0;
            pcre2_pattern_info(p->re, PCRE2_INFO_FIRSTCODEUNIT, &u);
            p->first_type = 1;
            p->first_unit = lower((unsigned char)u);
        } else if (bm) {
            p->first_type = 2;
            memcpy(p->bitmap, bm, sizeof p->bitmap);
        }
    }
    s.cur = malloc(n + 1);
    s.best = malloc(n + 1);
    s.prefix = malloc(n + 1);
    if (!s.cur || !s.best || !s.prefix) {
        err = VG_ENOMEM;
        goto skip;
    }
    vg_relit_scan(re, n, &s);
    if (s.nprefix) {
        if (!(p->prefix = malloc(s.nprefix))) {
            err = VG_ENOMEM;
            goto skip;
        }
        memcpy(p->prefix, s.prefix, s.nprefix);
        p->nprefix = s.nprefix;
    }
    const char *g = NULL;
    size_t ng = 0;
    if (wn) { /* explicit, trusted; '' = no gate */
        g = scalar(wn);
        ng = wn->data.scalar.length;
    } else if (s.nbest >= MF_MIN_GATE) {
        g = s.best;
        ng = s.nbest;
    }
    if (ng) {
        if (!(p->gate = malloc(ng))) {
            err = VG_ENOMEM;
            goto skip;
        }
        memcpy(p->gate, g, ng);
        p->ngate = ng;
    }
    /* VIGIE_PCRE2_NO_JIT: the interpreter only (valgrind cannot follow JIT code). */
    p->jit = !getenv("VIGIE_PCRE2_NO_JIT") && pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE) == 0;
    free(s.cur);
    free(s.best);
    free(s.prefix);
    return VG_OK;
skip:
    free(s.cur);
    free(s.best);
    free(s.prefix);
    pattern_free(p);
    memset(p, 0, sizeof *p);
    return err;
}

static vg_err take_program(loadctx *lc, yaml_node_t *k, yaml_node_t *v)
{
    vg_msgfields *m = lc->m;
    const char *name = scalar(k);
    size_t nlen = name ? k->data.scalar.length : 0;
    yaml_node_t *aliases = NULL, *patterns = NULL;
    vg_err err = VG_OK;
    if (!name || nlen == 0 || nlen > MF_MAX_NAME) {
        diag(lc, pos_of(k), VG_EPARSE, 0,
             "a program name must be a string of 1 to %d bytes "
             "(program skipped)",
             MF_MAX_NAME);
        return VG_OK;
    }
    if (!v || v->type != YAML_MAPPING_NODE) {
        diag(lc, pos_of(v ? v : k), VG_EPARSE, 0,
             "program '%s' must be a mapping with 'patterns' (skipped)", name);
        return VG_OK;
    }
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
        yaml_node_t *pk = node(lc, q->key), *pv = node(lc, q->value);
        const char *ks = scalar(pk);
        if (ks && strcmp(ks, "aliases") == 0)
            aliases = pv;
        else if (ks && strcmp(ks, "patterns") == 0)
            patterns = pv;
        else
            diag(lc, pos_of(pk), VG_EPARSE, 1, "unknown key '%s' in program '%s' (ignored)",
                 ks ? ks : "?", name);
    }
    if (!patterns || patterns->type != YAML_SEQUENCE_NODE) {
        diag(lc, pos_of(patterns ? patterns : k), VG_EPARSE, 0,
             "program '%s' needs 'patterns', a list (skipped)", name);
        return VG_OK;
    }
    if (aliases && aliases->type != YAML_SEQUENCE_NODE) {
        diag(lc, pos_of(aliases), VG_EPARSE, 0, "'aliases' must be a list (ignored)");
        aliases = NULL;
    }

    long idx = find_name(m, name, nlen);
    if (idx < 0) {
        if (m->nprogs >= MF_MAX_PROGRAMS) {
            diag(lc, pos_of(k), VG_ELIMIT, 0, "more than %d programs (program '%s' skipped)",
                 MF_MAX_PROGRAMS, name);
            return VG_OK;
        }
        mf_program *np = realloc(m->progs, (m->nprogs + 1) * sizeof *np);
        if (!np)
            return VG_ENOMEM;
        m->progs = np;
        m->progs[m->nprogs] = (mf_program){0};
        idx = (long)m->nprogs++;
        if ((err = add_name(m, name, nlen, (uint32_t)idx)))
            return err;
    }
    mf_program *pr = &m->progs[idx];

    if (aliases) {
        for (yaml_node_item_t *it = aliases->data.sequence.items.start;
             it < aliases->data.sequence.items.top; it++) {
            yaml_node_t *an = node(lc, *it);
            const char *a = scalar(an);
            size_t alen = a ? an->data.scalar.length : 0;
            if (!a || alen == 0 || alen > MF_MAX_NAME) {
                diag(lc, pos_of(an), VG_EPARSE, 0,
                     "an alias must be a string of 1 to %d bytes "
                     "(ignored)",
                     MF_MAX_NAME);
                continue;
            }
            long other = find_name(m, a, alen);
            if (other == idx)
                continue;
            if (other >= 0) {
                diag(lc, pos_of(an), VG_EPARSE, 1,
                     "alias '%s' already names another program "
                     "(ignored)",
                     a);
                continue;
            }
            if (pr->naliases >= MF_MAX_ALIASES) {
                diag(lc, pos_of(an), VG_ELIMIT, 0, "more than %d aliases (alias '%s' ignored)",
                     MF_MAX_ALIASES, a);
                continue;
            }
            if ((err = add_name(m, a, alen, (uint32_t)idx)))
                return err;
            pr->naliases++;
        }
    }

    for (yaml_node_item_t *it = patterns->data.sequence.items.start;
         it < patterns->data.sequence.items.top; it++) {
        yaml_node_t *e = node(lc, *it);
        if (pr->n >= MF_MAX_PATTERNS) {
            diag(lc, pos_of(e), VG_ELIMIT, 0,
                 "more than %d patterns for program '%s' (pattern skipped)", MF_MAX_PATTERNS, name);
            continue;
        }
        mf_pattern p;
        if ((err = compile_pattern(lc, e, &p)))
            return err;
        if (!p.re)
            continue;
        mf_pattern *np = realloc(pr->pats, (pr->n + 1) * sizeof *np);
        if (!np) {
            pattern_free(&p);
            return VG_ENOMEM;
        }
        pr->pats = np;
        pr->pats[pr->n++] = p;
        m->npatterns++;
    }
    return VG_OK;
}

static vg_err take_doc(loadctx *lc, yaml_node_t *root)
{
    yaml_node_t *programs = NULL, *version = NULL;
    vg_err err = VG_OK;
    if (root->type != YAML_MAPPING_NODE) {
        diag(lc, pos_of(root), VG_EPARSE, 0,
             "a definitions document must be a mapping with 'version' and 'programs' (skipped)");
        return VG_OK;
    }
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top;
         q++) {
        yaml_node_t *k = node(lc, q->key), *v = node(lc, q->value);
        const char *ks = scalar(k);
        if (ks && strcmp(ks, "version") == 0)
            version = v;
        else if (ks && strcmp(ks, "programs") == 0)
            programs = v;
        else
            diag(lc, pos_of(k), VG_EPARSE, 1, "unknown key '%s' (ignored)", ks ? ks : "?");
    }
    if (!version) {
        diag(lc, pos_of(root), VG_EPARSE, 1, "no 'version' (read as version 1)");
    } else if (!scalar(version) || strcmp(scalar(version), "1") != 0) {
        diag(lc, pos_of(version), VG_EVERSION, 0,
             "unsupported definitions version '%s' (document skipped; this build reads 1)",
             scalar(version) ? scalar(version) : "?");
        return VG_OK;
    }
    if (!programs)
        return VG_OK;
    if (programs->type != YAML_MAPPING_NODE) {
        diag(lc, pos_of(programs), VG_EPARSE, 0, "'programs' must be a mapping (skipped)");
        return VG_OK;
    }
    for (yaml_node_pair_t *q = programs->data.mapping.pairs.start;
         q < programs->data.mapping.pairs.top; q++)
        if ((err = take_program(lc, node(lc, q->key), node(lc, q->value))))
            return err;
    return VG_OK;
}

static vg_err load_buffer(vg_msgfields *m, const char *buf, size_t n, const char *file,
                          vg_diag_fn dfn, void *ud)
{
    loadctx lc = {m, file, buf, n, NULL, dfn, ud};
    yaml_parser_t p;
    vg_err err = VG_OK;
    if (!yaml_parser_initialize(&p))
        return VG_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, n);
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&p, &doc)) {
            if (p.error == YAML_MEMORY_ERROR) {
                err = VG_ENOMEM;
                break;
            }
            diag(&lc, (mf_pos){(int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1},
                 VG_EPARSE, 0, "invalid YAML: %s%s%s (rest of the file skipped)",
                 p.problem ? p.problem : "error", p.context ? " " : "", p.context ? p.context : "");
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            yaml_document_delete(&doc);
            break;
        }
        lc.doc = &doc;
        if (!(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
            err = take_doc(&lc, root);
        yaml_document_delete(&doc);
        if (err)
            break;
    }
    yaml_parser_delete(&p);
    return err;
}

static vg_err load_file(vg_msgfields *m, const char *path, vg_diag_fn dfn, void *ud)
{
    loadctx lc = {m, path, NULL, 0, NULL, dfn, ud};
    vg_err err = VG_OK;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag(&lc, (mf_pos){0, 0}, VG_EIO, 0, "cannot open: %s", strerror(errno));
        return VG_OK;
    }
    if (!(buf = malloc(MF_MAX_FILE + 1))) {
        err = VG_ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, MF_MAX_FILE + 1, f);
    if (ferror(f))
        diag(&lc, (mf_pos){0, 0}, VG_EIO, 0, "cannot read: %s", strerror(errno));
    else if (n > MF_MAX_FILE)
        diag(&lc, (mf_pos){0, 0}, VG_ELIMIT, 0, "file larger than %u bytes (skipped)", MF_MAX_FILE);
    else
        err = load_buffer(m, buf, n, path, dfn, ud);
out:
    free(buf);
    (void)fclose(f); /* read only: nothing to lose */
    return err;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *s)
{
    size_t n = strlen(s);
    return s[0] != '.' && ((n > 4 && strcmp(s + n - 4, ".yml") == 0) ||
                           (n > 5 && strcmp(s + n - 5, ".yaml") == 0));
}

static vg_err load_dir(vg_msgfields *m, const char *dir, vg_diag_fn dfn, void *ud)
{
    loadctx lc = {m, dir, NULL, 0, NULL, dfn, ud};
    vg_err err = VG_OK;
    char **names = NULL;
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        diag(&lc, (mf_pos){0, 0}, VG_EIO, 0, "cannot open directory: %s", strerror(errno));
        return VG_OK;
    }
    if (!(names = calloc(MF_MAX_DIR_FILES, sizeof *names))) {
        closedir(d);
        return VG_ENOMEM;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!yaml_name(de->d_name))
            continue;
        if (n == MF_MAX_DIR_FILES) {
            diag(&lc, (mf_pos){0, 0}, VG_ELIMIT, 0, "more than %d definition files (rest skipped)",
                 MF_MAX_DIR_FILES);
            break;
        }
        if (!(names[n] = strdup(de->d_name))) {
            err = VG_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (!err)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !err; i++) {
        char p[PATH_MAX];
        struct stat st;
        if (snprintf(p, sizeof p, "%s/%s", dir, names[i]) >= (int)sizeof p)
            continue;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            err = load_file(m, p, dfn, ud);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return err;
}

vg_err vg_msgfields_load(const vg_strlist *paths, uint32_t match_limit, vg_diag_fn diag_fn,
                         void *ud, vg_msgfields **out, vg_errbuf *eb)
{
    vg_err err = VG_OK;
    vg_msgfields *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    m->max_ovec = 1;
    if (!(m->mctx = pcre2_match_context_create(NULL))) {
        err = VG_ENOMEM;
        goto out;
    }
    if (match_limit)
        pcre2_set_match_limit(m->mctx, match_limit);
    for (size_t i = 0; paths && i < paths->n && !err; i++) {
        struct stat st;
        const char *path = paths->v[i];
        if (stat(path, &st) != 0) {
            if (errno != ENOENT) {
                loadctx lc = {m, path, NULL, 0, NULL, diag_fn, ud};
                diag(&lc, (mf_pos){0, 0}, VG_EIO, 0, "cannot stat: %s", strerror(errno));
            }
            continue;
        }
        err =
            S_ISDIR(st.st_mode) ? load_dir(m, path, diag_fn, ud) : load_file(m, path, diag_fn, ud);
    }
    if (!err)
        err = build_hash(m);
out:
    if (err) {
        vg_msgfields_destroy(m);
        return vg_errf(eb, err, "loading parser definitions: out of memory");
    }
    *out = m;
    return VG_OK;
}

/* ---- matching ---- */

vg_msgfields_scratch *vg_msgfields_scratch_create(const vg_msgfields *m)
{
    vg_msgfields_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->md = pcre2_match_data_create(m ? m->max_ovec : 1, NULL);
    if (!s->md) {
        free(s);
        return NULL;
    }
    return s;
}

void vg_msgfields_scratch_destroy(vg_msgfields_scratch *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    free(s);
}

uint64_t vg_msgfields_scratch_limit_hits(const vg_msgfields_scratch *s)
{
    return s ? s->limit_hits : 0;
}

static inline bool gates_pass(const mf_pattern *p, const char *msg, size_t n)
{
    if (n < p->minlen)
        return false;
    if (n) {
        unsigned char c = (unsigned char)msg[0];
        if (p->first_type == 1 && lower(c) != p->first_unit)
            return false;
        if (p->first_type == 2 && !(p->bitmap[c >> 3] & (1u << (c & 7))))
            return false;
    }
    if (p->nprefix && (n < p->nprefix || memcmp(msg, p->prefix, p->nprefix) != 0))
        return false;
    if (p->ngate && !memmem(msg, n, p->gate, p->ngate))
        return false;
    return true;
}

size_t vg_msgfields_apply(const vg_msgfields *m, vg_msgfields_scratch *s, vg_event *ev)
{
    if (!m || !s || !ev)
        return 0;
    const mf_program *pr = lookup(m, ev->program);
    if (!pr)
        return 0;
    const char *msg = ev->message.p ? ev->message.p : "";
    size_t n = ev->message.p ? ev->message.n : 0;
    for (size_t i = 0; i < pr->n; i++) {
        const mf_pattern *p = &pr->pats[i];
        if (!gates_pass(p, msg, n))
            continue;
        int rc = p->jit ? pcre2_jit_match(p->re, (PCRE2_SPTR)msg, n, 0, 0, s->md, m->mctx)
                        : pcre2_match(p->re, (PCRE2_SPTR)msg, n, 0, 0, s->md, m->mctx);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH)
                s->limit_hits++; /* match/depth/JIT stack limit: no match */
            continue;
        }
        uint32_t pairs = pcre2_get_ovector_count(s->md);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t added = 0;
        uint64_t present = 0;
        for (size_t f = 0; f < ev->nfields; f++)
            present |= name_bit(ev->fields[f].name);
        for (size_t g = 0; g < p->ngroups; g++) {
            uint32_t num = p->groups[g].num;
            if (num >= pairs || num >= (uint32_t)rc)
                continue;
            PCRE2_SIZE a = ov[2 * num], b = ov[2 * num + 1];
            if (a == PCRE2_UNSET || b <= a || b > n)
                continue;
            if ((present & p->groups[g].bit) && vg_event_get(ev, p->groups[g].name))
                continue; /* existing fields are kept; a repeated name: first set wins */
            /* vg_event_set without its second scan: the name is known absent */
            if (!vg_event_append(ev, p->groups[g].name, (vg_str){msg + a, b - a}))
                continue;
            present |= p->groups[g].bit;
            added++;
        }
        return added;
    }
    return 0;
}

void vg_msgfields_names(const vg_msgfields *m, void (*fn)(void *ud, const char *name, size_t n),
                        void *ud)
{
    for (size_t i = 0; m && i < m->nprogs; i++)
        for (size_t k = 0; k < m->progs[i].n; k++) {
            const mf_pattern *pt = &m->progs[i].pats[k];
            for (size_t g = 0; g < pt->ngroups; g++)
                fn(ud, pt->groups[g].name.p, pt->groups[g].name.n);
        }
}

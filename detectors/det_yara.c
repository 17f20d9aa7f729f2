/*
 * det_yara.c - YARA rules (libyara) as a detector: on log events, and on the
 * files that events name.
 *
 * Loading: load_file only reads a .yar/.yara file; finish compiles them all
 * with one compiler, one namespace per file (its base name, made unique), so
 * two community sets with the same rule names coexist. A file that does not
 * compile is reported (file:line) and left out; the others are compiled
 * again without it (a libyara compiler cannot go on after an error). The
 * compiled rules are cached in the state directory under a name derived
 * from SHA-256(libyara version, externals, every path and content); the
 * cache file carries the SHA-256 of its payload, so a corrupt or truncated
 * cache is detected, removed and rebuilt; a stale one (other key) is removed
 * when a new one is written. A set with a rejected file is not cached (its
 * errors are reported at every load).
 *
 * Externals: program, service, hostname, source (events) and filename,
 * filepath, extension, filetype, owner (files), all strings, empty where
 * they do not apply.
 *
 * Rule metadata: description, author, reference/url, date/modified,
 * score (0-100)/level/severity -> level, mitre_att/attack/tags + the rule's
 * tags -> tags (T1059 -> attack.t1059). Vigie's own meta keys: `scope`
 * ("event", "file", default both) and `vigie_scan_file` (the event field
 * that holds a path to scan when the rule matches).
 *
 * Event scanning (per-event semantics, batch speed). A libyara scan costs
 * about a microsecond even for a tiny rule set, and more with many strings
 * (every scan clears the match lists of all strings and runs all
 * conditions), so most events must not be scanned at all:
 *   1. needles: for every rule, literals one of which any match of it
 *      contains - from its literal strings, and for regex and hex strings
 *      from the compiler's regex ASTs (runs of literals, alternations
 *      multiplied out); when the rule's condition (its source, yara_cond.c)
 *      says at top level that one group of strings is necessary (`$a and
 *      ...`, `all of ($s*)`, `1 of ($x*) and ...`), only that group's
 *      needles. All needles go into one Aho-Corasick DFA (prefilter.c),
 *      which scans the raw lines of a batch four at a time;
 *   2. an event where a needle occurred is scanned ALONE, with the rules of
 *      the files whose needles occurred (each file is also compiled on its
 *      own, so the scan pays for that file's strings only), with its own
 *      externals: the conditions see that event only, so `not $a`,
 *      `#a > 3`, `@a[1] < 10`, `filesize` keep their meaning and strings of
 *      two events never satisfy one condition.
 * Rules without needles (xor or base64wide strings, a regex with no
 * literal): the files that hold them are compiled together, and the
 * batch's lines, joined with '\n', are scanned ONCE with that compilation,
 * using only the string matches (never a condition): an event with a match
 * starting inside it is a candidate for the file of the matched string.
 * (VIGIE_YARA_NO_NEEDLES=1: the same with all the rules, and candidates are
 * scanned with all the rules.) A block scan that times out or has too many
 * matches makes every event of the batch a candidate.
 * Rules that can match without any of their strings (no strings, a
 * condition true without them - found by scanning probe inputs -, ^ or $
 * anchors, `at` offsets, which neither needles nor a joined block can
 * see) would need every event scanned: they run on files only, unless
 * their meta says scope = "event"/"both" (then every event is scanned
 * with a compilation holding only them). VIGIE_YARA_EXACT=1 scans every
 * event alone with all the rules (equivalence tests); VIGIE_YARA_NO_NEEDLES=1
 * uses the libyara block scan.
 *
 * Results: a matching rule that is not private raises an alert with
 * `vigie.yara` (namespace, rule, matched string identifiers and offsets);
 * every matching rule, private ones included, is listed in the event field
 * `yara` as "|ns:rule|rule|..." so that Sigma selections can test it (YARA
 * runs first); a matching rule with `vigie_scan_file` queues a file scan
 * (yara_files.c) whose matches are emitted by drain() on the pipeline thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>

#include "../agent/json.h"
#include "../agent/log.h"
#include "../agent/state.h"
#include "detector.h"
#include "prefilter.h"
#include "yara_cond.h"
#include "yara_det.h"
#include "yara_files.h"

#define CACHE_MAGIC "VIGIE-YARA-CACHE1\n"
#define MAX_SOURCE (64 << 20)
#define MAX_FILES 100000
#define SEP '\n'

static const char *const externals[] = {"program",  "service",   "hostname", "source", "filename",
                                        "filepath", "extension", "filetype", "owner",  NULL};

typedef struct src {
    char *path;
    char *data;
    size_t n;
    char *ns;
    bool bad;
} src;

typedef struct yrule {
    vg_rule_meta meta;
    bool is_private, ev_scope, file_scope, always, scope_set;
    uint32_t file; /* index of its source file */
    char *scan_field;
    char *names; /* "|ns:name|name" for the Sigma field */
    int logged;
} yrule;

/* Rules compiled again from some of the files (one file; or the files of
   the rules that need no string, only those enabled), for scanning one
   event: libyara's cost per scan grows with the number of strings. */
typedef struct subset {
    YR_RULES *rules;
    uint32_t *map;  /* subset index -> rule index */
    uint32_t *priv; /* its private rules (subset indexes) */
    size_t npriv;
} subset;

struct det_yara {
    vg_stats *stats;
    char *state_dir;
    bool cache;
    int timeout_s;
    int64_t file_max, file_rate;
    src *files;
    size_t nfiles;
    YR_RULES *rules;
    yrule *r;
    size_t n;
    bool any_always, exact;
    subset asub;      /* the files of the `always` rules, only those enabled */
    subset bsub;      /* the files of rules without needles (block-scanned) */
    subset *fsub;     /* per source file (rules NULL: none), for candidate events */
    vg_prefilter *pf; /* needles of every event rule; NULL: libyara block scan */
    size_t nfilt;
    uint32_t *priv;   /* private rules (indexes) */
    size_t npriv;
    vg_strlist anchored; /* "ns:rule" of rules with a ^ or $ in a regex (from the
                            compiler's regex ASTs; kept in the cache) */
    bool from_cache;
    vg_yfiles *fw;
    vg_counter *c_always, *c_needle;
    vg_counter *c_block, *c_event, *c_cand, *c_fallback, *c_scan_req, *c_err;
};
typedef struct det_yara det_yara;

typedef struct hit {
    uint32_t rule;
    size_t js, jn; /* its strings JSON in the scratch's json buffer */
} hit;

#define EV_FILES 8 /* files to rescan an event with; more: all the rules at once */

/* A scanner and the externals it was last given. */
typedef struct yscan {
    YR_SCANNER *sc;
    char ext[4][256];
} yscan;

typedef struct scratch {
    YR_SCANNER *sc;
    yscan asc;            /* over d->asub, for events no needle matched */
    yscan bsc;            /* over d->bsub, block scans */
    yscan *fsc;           /* per file, over d->fsub[f] */
    const YR_RULES *cur;  /* the rules of the scan in progress */
    const subset *csub;   /* and their subset (NULL: all the rules) */
    uint32_t (*evf)[EV_FILES]; /* per event of the batch: files its needles name */
    uint8_t *nevf;        /* how many; EV_FILES + 1 = too many */
    char *block;
    size_t bcap;
    size_t *start; /* per event: offset in the block */
    size_t scap;
    uint8_t *cand;
    bool all;
    hit *hits;
    size_t nhits;
    vg_buf json, extra, names;
    char ext_val[4][256]; /* externals as last set, to skip redundant defines */
    const det_yara *d;
    vg_buf fstr;
    size_t lane_base;
} scratch;

/* ---- small helpers ---- */

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool push(vg_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    if (!nv)
        return false;
    l->v = nv;
    if (!(l->v[l->n] = strdup(s)))
        return false;
    l->n++;
    return true;
}

static const char *const level_names[] = {"informational", "low", "medium", "high", "critical"};

static int level_of(const char *s)
{
    static const struct {
        const char *k;
        int v;
    } t[] = {{"informational", 0}, {"info", 0}, {"low", 1},  {"medium", 2}, {"moderate", 2},
             {"high", 3},          {"critical", 4}, {"crit", 4}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcasecmp(s, t[i].k))
            return t[i].v;
    return -1;
}

/* score 0-100 (signature-base's convention) -> level */
static int level_of_score(int64_t s)
{
    return s >= 90 ? 4 : s >= 70 ? 3 : s >= 50 ? 2 : s >= 20 ? 1 : 0;
}

/* "T1059.004, attack.execution" -> tags */
static void add_tags(vg_strlist *l, const char *v)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, " ,;", &save); t; t = strtok_r(NULL, " ,;", &save)) {
        char tag[128];
        if ((t[0] == 'T' || t[0] == 't') && t[1] >= '0' && t[1] <= '9') {
            snprintf(tag, sizeof tag, "attack.%s", t);
            for (char *p = tag; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        } else {
            snprintf(tag, sizeof tag, "%s", t);
        }
        push(l, tag);
    }
}

/* ---- detector ---- */

static void *dy_create(const vg_config *cfg, vg_stats *stats)
{
    det_yara *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (yr_initialize() != ERROR_SUCCESS) {
        free(d);
        return NULL;
    }
    d->stats = stats;
    d->state_dir = xstrdup(cfg->state_dir);
    d->cache = cfg->yara_cache;
    d->timeout_s = (int)((cfg->yara_timeout_ms + 999) / 1000);
    if (d->timeout_s < 1)
        d->timeout_s = 1;
    d->file_max = cfg->yara_file_max_size > 0 ? cfg->yara_file_max_size : 16 << 20;
    d->file_rate = cfg->yara_file_rate;
    const char *ex = getenv("VIGIE_YARA_EXACT");
    d->exact = ex && *ex && strcmp(ex, "0");
    return d;
}

static void diag_at(vg_diag_fn diag, void *ud, const char *file, int line, int warn,
                    const char *msg)
{
    vg_diag dg = {file, line, 0, warn, warn ? VG_OK : VG_EPARSE, msg};
    diag(ud, &dg);
}

static void dy_load_file(void *self, const char *path, vg_diag_fn diag, void *ud)
{
    det_yara *d = self;
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot read: %s", strerror(errno));
        diag_at(diag, ud, path, 0, 0, msg);
        return;
    }
    char *data = NULL;
    size_t n = 0, cap = 0;
    bool big = false;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            if (nc > MAX_SOURCE + 1) {
                big = true;
                break;
            }
            char *nd = realloc(data, nc + 1);
            if (!nd)
                break;
            data = nd;
            cap = nc;
        }
        size_t k = fread(data + n, 1, cap - n, f);
        if (!k)
            break;
        n += k;
    }
    (void)fclose(f); /* read only: nothing to lose */
    src *nf = d->nfiles < MAX_FILES ? realloc(d->files, (d->nfiles + 1) * sizeof *nf) : NULL;
    if (big || !data || !nf) {
        diag_at(diag, ud, path, 0, 0, big ? "file too large (64 MiB)" : "out of memory");
        free(data);
        if (nf)
            d->files = nf;
        return;
    }
    d->files = nf;
    data[n] = '\0';
    /* Namespace: the base name without extension, made unique. */
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char ns[256];
    snprintf(ns, sizeof ns, "%.*s", (int)strcspn(b, "."), b);
    char uniq[300];
    snprintf(uniq, sizeof uniq, "%s", ns);
    for (int k = 2;; k++) {
        bool dup = false;
        for (size_t i = 0; i < d->nfiles && !dup; i++)
            dup = !strcmp(d->files[i].ns, uniq);
        if (!dup)
            break;
        snprintf(uniq, sizeof uniq, "%s_%d", ns, k);
    }
    d->files[d->nfiles++] = (src){strdup(path), data, n, strdup(uniq), false};
}

/* ---- compiling ---- */

typedef struct comp_ctx {
    det_yara *d;
    vg_diag_fn diag;
    void *ud;
    bool report;
    int errors;
    const char *ns; /* of the file being added */
} comp_ctx;

// NOLINTNEXTLINE(misc-no-recursion): stops at depth 2000 (libyara's regexp trees are shallower)
static bool node_anchored(const RE_NODE *n, int depth)
{
    if (!n || depth > 2000)
        return n != NULL;
    if (n->type == RE_NODE_ANCHOR_START || n->type == RE_NODE_ANCHOR_END)
        return true;
    for (const RE_NODE *c = n->children_head; c; c = c->next_sibling)
        if (node_anchored(c, depth + 1))
            return true;
    return false;
}

/* ---- needles: literals one of which every match of a string contains ---- */

#define NEEDLE_ALTS 16
#define NEEDLE_MAX 64

typedef struct lset {
    bool none;  /* no literal is required */
    bool exact; /* the node matches exactly one of these strings */
    size_t k;
    uint8_t v[NEEDLE_ALTS][NEEDLE_MAX];
    size_t n[NEEDLE_ALTS];
} lset;

static size_t lset_min(const lset *l)
{
    size_t m = SIZE_MAX;
    for (size_t i = 0; i < l->k; i++)
        m = l->n[i] < m ? l->n[i] : m;
    return l->none || !l->k ? 0 : m;
}

/* The better of two sets: longer shortest literal, then fewer literals. */
static void lset_pick(lset *best, const lset *c)
{
    size_t a = lset_min(best), b = lset_min(c);
    if (b > a || (b == a && b && c->k < best->k)) {
        *best = *c;
        best->none = false;
    }
}

/* run := run x c (both exact); false when too large. */
static bool lset_cross(lset *run, const lset *c)
{
    if (run->k * c->k > NEEDLE_ALTS)
        return false;
    lset out = {false, true, 0, {{0}}, {0}};
    for (size_t i = 0; i < run->k; i++)
        for (size_t j = 0; j < c->k; j++) {
            if (run->n[i] + c->n[j] > NEEDLE_MAX)
                return false;
            memcpy(out.v[out.k], run->v[i], run->n[i]);
            memcpy(out.v[out.k] + run->n[i], c->v[j], c->n[j]);
            out.n[out.k++] = run->n[i] + c->n[j];
        }
    *run = out;
    return true;
}

// NOLINTNEXTLINE(misc-no-recursion): stops at depth 200
static void need_node(const RE_NODE *n, int depth, lset *out)
{
    memset(out, 0, sizeof *out);
    out->none = true;
    if (!n || depth > 200)
        return;
    switch (n->type) {
    case RE_NODE_LITERAL:
        out->none = false;
        out->exact = true;
        out->k = 1;
        out->v[0][0] = (uint8_t)n->value;
        out->n[0] = 1;
        return;
    case RE_NODE_EMPTY:
        out->none = false;
        out->exact = true;
        out->k = 1;
        out->n[0] = 0;
        return;
    case RE_NODE_PLUS:
        need_node(n->children_head, depth + 1, out);
        out->exact = false;
        return;
    case RE_NODE_RANGE:
        if (n->start >= 1) {
            need_node(n->children_head, depth + 1, out);
            out->exact = out->exact && n->start == 1 && n->end == 1;
        }
        return;
    case RE_NODE_ALT: {
        lset a, b;
        need_node(n->children_head, depth + 1, &a);
        need_node(n->children_tail, depth + 1, &b);
        if (a.none || b.none || a.k + b.k > NEEDLE_ALTS)
            return;
        *out = a;
        out->exact = a.exact && b.exact;
        for (size_t i = 0; i < b.k; i++) {
            memcpy(out->v[out->k], b.v[i], b.n[i]);
            out->n[out->k++] = b.n[i];
        }
        return;
    }
    case RE_NODE_CONCAT: {
        /* runs of exact children, multiplied out; the best run or child */
        lset best, run = {false, true, 1, {{0}}, {0}}, sub;
        memset(&best, 0, sizeof best);
        best.none = true;
        bool all_exact = true;
        for (const RE_NODE *c = n->children_head;; c = c->next_sibling) {
            if (c)
                need_node(c, depth + 1, &sub);
            if (c && !sub.none && sub.exact && lset_cross(&run, &sub))
                continue;
            if (c)
                all_exact = false;
            if (lset_min(&run))
                lset_pick(&best, &run);
            run = (lset){false, true, 1, {{0}}, {0}};
            if (!c)
                break;
            if (!sub.none)
                lset_pick(&best, &sub);
            /* an exact child too big to multiply starts the next run */
            if (!sub.none && sub.exact)
                run = sub;
        }
        *out = best;
        out->exact = all_exact && !best.none;
        return;
    }
    default:
        return;
    }
}

static void on_re_ast(const YR_RULE *rule, const char *sid, const RE_AST *ast, void *ud)
{
    comp_ctx *c = ud;
    if (!ast || !rule)
        return;
    char id[600];
    snprintf(id, sizeof id, "%s:%s", c->ns ? c->ns : "default", rule->identifier);
    if (node_anchored(ast->root_node, 0))
        push(&c->d->anchored, id);
    /* "N\x1f<rule id>\x1f<string id>\x1f<hex>,<hex>..." or "...\x1f-" (none) */
    lset l;
    need_node(ast->root_node, 0, &l);
    char e[2400];
    int w = snprintf(e, sizeof e, "N\x1f%s\x1f%s\x1f", id, sid ? sid : "$");
    if (w < 0 || (size_t)w >= sizeof e)
        return;
    size_t o = (size_t)w;
    if (l.none || lset_min(&l) < 2) {
        snprintf(e + o, sizeof e - o, "-");
    } else {
        for (size_t i = 0; i < l.k && o + 2 * l.n[i] + 2 < sizeof e; i++) {
            if (i)
                e[o++] = ',';
            for (size_t j = 0; j < l.n[i]; j++)
                o += (size_t)snprintf(e + o, sizeof e - o, "%02x", l.v[i][j]);
        }
        e[o] = '\0';
    }
    push(&c->d->anchored, e);
}

static void on_compile(int level, const char *file, int line, const YR_RULE *rule,
                       const char *msg, void *ud)
{
    comp_ctx *c = ud;
    if (level == YARA_ERROR_LEVEL_ERROR)
        c->errors++;
    if (c->report && c->diag)
        diag_at(c->diag, c->ud, file ? file : "?", line, level != YARA_ERROR_LEVEL_ERROR, msg);
}

static YR_COMPILER *new_compiler(comp_ctx *c)
{
    YR_COMPILER *cp;
    if (yr_compiler_create(&cp) != ERROR_SUCCESS)
        return NULL;
    yr_compiler_set_callback(cp, on_compile, c);
    yr_compiler_set_re_ast_callback(cp, on_re_ast, c);
    for (size_t i = 0; externals[i]; i++)
        yr_compiler_define_string_variable(cp, externals[i], "");
    return cp;
}

static int add_src(YR_COMPILER *cp, comp_ctx *c, const src *s)
{
    c->ns = s->ns;
    FILE *f = fmemopen(s->data, s->n ? s->n : 1, "r");
    if (!f)
        return 1;
    if (!s->n) { /* fmemopen refuses size 0; an empty file has no rules */
        (void)fclose(f); /* fmemopen, read only */
        return 0;
    }
    int e = yr_compiler_add_file(cp, f, s->ns, s->path);
    (void)fclose(f); /* fmemopen, read only */
    return e;
}

/* Compile every good file; a failing one is marked bad and the compiler is
   rebuilt with the good ones so far. */
static void compact_rules(YR_RULES **r);

static YR_RULES *compile_all(det_yara *d, vg_diag_fn diag, void *ud)
{
    comp_ctx c = {d, diag, ud, true, 0};
    YR_COMPILER *cp = new_compiler(&c);
    if (!cp)
        return NULL;
    for (size_t i = 0; i < d->nfiles; i++) {
        c.report = true;
        c.errors = 0;
        if (!add_src(cp, &c, &d->files[i]) && !c.errors)
            continue;
        d->files[i].bad = true;
        yr_compiler_destroy(cp);
        c.report = false; /* already reported once */
        if (!(cp = new_compiler(&c)))
            return NULL;
        for (size_t k = 0; k < i; k++)
            if (!d->files[k].bad)
                add_src(cp, &c, &d->files[k]);
    }
    YR_RULES *rules = NULL;
    if (yr_compiler_get_rules(cp, &rules) != ERROR_SUCCESS)
        rules = NULL;
    yr_compiler_destroy(cp);
    compact_rules(&rules);
    return rules;
}

/* ---- the cache ---- */

typedef struct mstream {
    char *p;
    size_t n, cap, pos;
    bool oom;
} mstream;

static size_t ms_write(const void *p, size_t size, size_t count, void *ud)
{
    mstream *m = ud;
    size_t k = size * count;
    if (m->n + k > m->cap) {
        size_t nc = m->cap ? m->cap : 65536;
        while (nc < m->n + k)
            nc *= 2;
        char *np = realloc(m->p, nc);
        if (!np) {
            m->oom = true;
            return 0;
        }
        m->p = np;
        m->cap = nc;
    }
    memcpy(m->p + m->n, p, k);
    m->n += k;
    return count;
}

static size_t ms_read(void *p, size_t size, size_t count, void *ud)
{
    mstream *m = ud;
    if (!size)
        return 0;
    size_t avail = (m->n - m->pos) / size;
    if (count > avail)
        count = avail;
    memcpy(p, m->p + m->pos, count * size);
    m->pos += count * size;
    return count;
}

/*
 * libyara's compiler hands over its arena with every buffer at its grown
 * size (megabytes per rule set, mostly empty); a saved-and-reloaded rule set
 * is allocated at its exact size. Measured on the shipped rules: 66 MB of
 * RSS before, a few MB after. On failure *r is left as it was.
 */
static void compact_rules(YR_RULES **r)
{
    mstream m = {0};
    YR_STREAM ws = {&m, NULL, ms_write};
    YR_RULES *fresh = NULL;
    if (*r && yr_rules_save_stream(*r, &ws) == ERROR_SUCCESS && !m.oom) {
        YR_STREAM rs = {&m, ms_read, NULL};
        if (yr_rules_load_stream(&rs, &fresh) == ERROR_SUCCESS) {
            yr_rules_destroy(*r);
            *r = fresh;
        }
    }
    free(m.p);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    static const char hx[] = "0123456789abcdef";
    EVP_Digest(p, n, md, &mdn, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = '\0';
}

/* The cache key: every input of the compilation. */
static void cache_key(const det_yara *d, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    static const char hx[] = "0123456789abcdef";
    memset(out, '0', 64);
    out[64] = '\0';
    if (!ctx)
        return;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, YR_VERSION, sizeof YR_VERSION);
    EVP_DigestUpdate(ctx, CACHE_MAGIC, sizeof CACHE_MAGIC);
    for (size_t i = 0; externals[i]; i++)
        EVP_DigestUpdate(ctx, externals[i], strlen(externals[i]) + 1);
    for (size_t i = 0; i < d->nfiles; i++) {
        char len[32];
        snprintf(len, sizeof len, "%zu", d->files[i].n);
        EVP_DigestUpdate(ctx, d->files[i].path, strlen(d->files[i].path) + 1);
        EVP_DigestUpdate(ctx, d->files[i].ns, strlen(d->files[i].ns) + 1);
        EVP_DigestUpdate(ctx, len, strlen(len) + 1);
        EVP_DigestUpdate(ctx, d->files[i].data, d->files[i].n);
    }
    EVP_DigestFinal_ex(ctx, md, &mdn);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
}

/* Load <state_dir>/<name>: magic, SHA-256 of the payload, payload. A bad
   file is removed (and rebuilt by the caller). */
static YR_RULES *cache_load(const det_yara *d, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d->state_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    mstream m = {0};
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        if (ms_write(buf, 1, k, &m) != k)
            break;
    (void)fclose(f); /* read only: nothing to lose */
    YR_RULES *rules = NULL;
    size_t hl = sizeof CACHE_MAGIC - 1 + 65;
    char sum[65];
    if (!m.oom && m.n > hl && !memcmp(m.p, CACHE_MAGIC, sizeof CACHE_MAGIC - 1)) {
        sha256_hex(m.p + hl, m.n - hl, sum);
        if (!memcmp(sum, m.p + sizeof CACHE_MAGIC - 1, 64) && m.p[hl - 1] == '\n') {
            /* payload: "<n>\n" then n bytes of NUL-terminated anchored ids, then libyara's */
            char *nl = memchr(m.p + hl, '\n', m.n - hl < 32 ? m.n - hl : 32);
            size_t an = nl ? strtoull(m.p + hl, NULL, 10) : 0;
            size_t at = nl ? (size_t)(nl + 1 - m.p) : 0;
            if (nl && an <= m.n - at) {
                for (size_t q = at; q < at + an;) {
                    const char *z = memchr(m.p + q, '\0', at + an - q);
                    if (!z)
                        break;
                    push((vg_strlist *)&d->anchored, m.p + q);
                    q = (size_t)(z - m.p) + 1;
                }
                m.pos = at + an;
                YR_STREAM st = {&m, ms_read, NULL};
                if (yr_rules_load_stream(&st, &rules) != ERROR_SUCCESS)
                    rules = NULL;
            }
        }
    }
    if (!rules) {
        vg_strlist_free((vg_strlist *)&d->anchored);
        vg_log(VG_LOG_WARNING, "YARA rule cache %s is corrupt or unreadable: removed, rebuilt",
               path);
        unlink(path);
    }
    free(m.p);
    return rules;
}

static void cache_save(const det_yara *d, YR_RULES *rules, const char *name)
{
    mstream m = {0};
    char hdr[sizeof CACHE_MAGIC - 1 + 65];
    memset(hdr, 0, sizeof hdr);
    ms_write(hdr, 1, sizeof hdr, &m);
    size_t an = 0;
    for (size_t i = 0; i < d->anchored.n; i++)
        an += strlen(d->anchored.v[i]) + 1;
    char len[32];
    snprintf(len, sizeof len, "%zu\n", an);
    ms_write(len, 1, strlen(len), &m);
    for (size_t i = 0; i < d->anchored.n; i++)
        ms_write(d->anchored.v[i], 1, strlen(d->anchored.v[i]) + 1, &m);
    YR_STREAM st = {&m, NULL, ms_write};
    if (m.oom || yr_rules_save_stream(rules, &st) != ERROR_SUCCESS || m.oom) {
        free(m.p);
        return;
    }
    memcpy(m.p, CACHE_MAGIC, sizeof CACHE_MAGIC - 1);
    char sum[65];
    sha256_hex(m.p + sizeof hdr, m.n - sizeof hdr, sum);
    memcpy(m.p + sizeof CACHE_MAGIC - 1, sum, 64);
    m.p[sizeof hdr - 1] = '\n';
    vg_errbuf eb;
    if (vg_state_write(d->state_dir, name, m.p, m.n, &eb) == VG_OK) {
        DIR *dir = opendir(d->state_dir); /* remove the stale caches (other keys) */
        struct dirent *de;
        while (dir && (de = readdir(dir)))
            if (!strncmp(de->d_name, "yara-", 5) && strstr(de->d_name, ".cache") &&
                strcmp(de->d_name, name)) {
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", d->state_dir, de->d_name);
                unlink(p);
            }
        if (dir)
            closedir(dir);
    } else {
        vg_log(VG_LOG_DEBUG, "YARA rule cache not written: %s", eb.msg);
    }
    free(m.p);
}

/* ---- rule table ---- */

static const src *file_of_ns(const det_yara *d, const char *ns)
{
    for (size_t i = 0; i < d->nfiles; i++)
        if (!strcmp(d->files[i].ns, ns))
            return &d->files[i];
    return NULL;
}

static bool fill_rule(det_yara *d, yrule *y, YR_RULE *rule)
{
    vg_rule_meta *m = &y->meta;
    const char *ns = rule->ns && rule->ns->name ? rule->ns->name : "default";
    char id[512];
    snprintf(id, sizeof id, "%s:%s", ns, rule->identifier);
    const src *s = file_of_ns(d, ns);
    m->id = strdup(id);
    m->title = strdup(rule->identifier);
    m->ruleset = "yara";
    m->file = strdup(s ? s->path : ns);
    y->file = s ? (uint32_t)(s - d->files) : UINT32_MAX;
    m->status = NULL;
    y->is_private = RULE_IS_PRIVATE(rule) != 0;
    y->ev_scope = y->file_scope = true;
    int level = -1;
    const char *tag;
    yr_rule_tags_foreach(rule, tag) add_tags(&m->tags, tag);
    YR_META *meta;
    yr_rule_metas_foreach(rule, meta)
    {
        const char *k = meta->identifier;
        const char *v = meta->type == META_TYPE_STRING ? meta->string : NULL;
        if (!k)
            continue;
        if (!strcmp(k, "description") && v && !m->description)
            m->description = strdup(v);
        else if (!strcmp(k, "author") && v && !m->author)
            m->author = strdup(v);
        else if ((!strcmp(k, "reference") || !strcmp(k, "references") || !strcmp(k, "url")) && v)
            push(&m->references, v);
        else if ((!strcmp(k, "date") || !strcmp(k, "modified")) && v) {
            free(m->ruleset_version);
            m->ruleset_version = strdup(v);
        } else if (!strcmp(k, "score")) {
            int64_t sc = meta->type == META_TYPE_INTEGER ? meta->integer : v ? strtoll(v, NULL, 10) : -1;
            if (sc >= 0 && level < 0)
                level = level_of_score(sc);
        } else if (!strcmp(k, "level") || !strcmp(k, "severity")) {
            int lv = v ? level_of(v) : -1;
            if (!v && meta->type == META_TYPE_INTEGER)
                lv = meta->integer >= 0 && meta->integer <= 4 ? (int)meta->integer
                                                                : level_of_score(meta->integer);
            if (lv >= 0)
                level = lv;
        } else if ((!strcmp(k, "mitre_att") || !strcmp(k, "attack") || !strcmp(k, "tags") ||
                    !strcmp(k, "mitre_attack")) && v)
            add_tags(&m->tags, v);
        else if (!strcmp(k, "status") && v && !m->status)
            m->status = strdup(v);
        else if (!strcmp(k, "scope") && v) {
            y->scope_set = true;
            y->ev_scope = !strcmp(v, "event") || !strcmp(v, "both");
            y->file_scope = !strcmp(v, "file") || !strcmp(v, "both");
        } else if (!strcmp(k, "vigie_scan_file") && v && !y->scan_field)
            y->scan_field = strdup(v);
    }
    if (level < 0)
        level = 2;
    m->level = strdup(level_names[level]);
    m->level_rank = level;
    size_t nl = strlen(id) + strlen(rule->identifier) + 4;
    y->names = malloc(nl);
    if (y->names)
        snprintf(y->names, nl, "|%s|%s", id, rule->identifier);
    m->alerts = vg_stats_counter(d->stats, "rule.alerts", "rule", id);
    m->evals = vg_stats_counter(d->stats, "rule.evaluations", "rule", id);
    m->eval_ns = vg_stats_counter(d->stats, "rule.eval_ns", "rule", id);
    m->limit_hits = vg_stats_counter(d->stats, "rule.yara_limit_hits", "rule", id);
    return m->id && m->title && m->file && m->level && y->names;
}

/* Strings a joined block cannot reproduce: fixed offsets (`$a at 0`); the
   anchored regexes are known from their ASTs (d->anchored). */
static bool block_unsafe(YR_RULE *rule, bool *nostrings)
{
    YR_STRING *s;
    *nostrings = true;
    yr_rule_strings_foreach(rule, s)
    {
        *nostrings = false;
        if (STRING_IS_FIXED_OFFSET(s) || (uint64_t)s->fixed_offset != (uint64_t)YR_UNDEFINED)
            return true;
    }
    return false;
}

typedef struct probe_ctx {
    det_yara *d;
} probe_ctx;

static int on_probe(YR_SCAN_CONTEXT *ctx, int msg, void *data, void *ud)
{
    det_yara *d = ud;
    if (msg != CALLBACK_MSG_SCAN_FINISHED)
        return CALLBACK_CONTINUE;
    YR_RULE *rule;
    yr_rules_foreach(d->rules, rule)
    {
        size_t i = (size_t)(rule - d->rules->rules_table);
        if (yr_bitmask_is_set(ctx->rule_matches_flags, i))
            d->r[i].always = true;
    }
    return CALLBACK_CONTINUE;
}

/* Rules that match inputs none of their strings match make every event a
   candidate. Probes: empty, a few bytes, long filler. */
static void find_always(det_yara *d)
{
    YR_SCANNER *sc;
    if (yr_scanner_create(d->rules, &sc) != ERROR_SUCCESS) {
        d->any_always = true;
        return;
    }
    yr_scanner_set_callback(sc, on_probe, d);
    yr_scanner_set_timeout(sc, 5);
    static const size_t lens[] = {0, 1, 7, 100, 1000, 70000};
    uint8_t *buf = calloc(70000, 1);
    for (size_t k = 0; buf && k < sizeof lens / sizeof lens[0]; k++) {
        memset(buf, k & 1 ? 0x01 : 0x7f, lens[k]);
        yr_scanner_scan_mem(sc, buf, lens[k]);
    }
    free(buf);
    yr_scanner_destroy(sc);
    YR_RULE *rule;
    yr_rules_foreach(d->rules, rule)
    {
        size_t i = (size_t)(rule - d->rules->rules_table);
        bool nostr;
        if (block_unsafe(rule, &nostr) || nostr)
            d->r[i].always = true;
        for (size_t k = 0; k < d->anchored.n && !d->r[i].always; k++)
            if (!strcmp(d->anchored.v[k], d->r[i].meta.id))
                d->r[i].always = true;
    }
    /* Such a rule costs a libyara scan of every event (about a microsecond
       each, whatever the rule): on events only when it asks for it. */
    char names[600] = "";
    size_t na = 0, nf = 0;
    for (size_t i = 0; i < d->n; i++) {
        yrule *y = &d->r[i];
        if (!y->always || !y->ev_scope)
            continue;
        if (!y->scope_set) {
            y->ev_scope = false;
            y->file_scope = true;
            if (nf++ < 5) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", y->meta.id);
            }
            continue;
        }
        na++;
        d->any_always = true;
    }
    vg_counter_add(vg_stats_counter(d->stats, "yara.rules_on_every_event", NULL, NULL), na);
    vg_counter_add(vg_stats_counter(d->stats, "yara.rules_files_only", NULL, NULL), nf);
    if (nf)
        vg_log(VG_LOG_INFO, "YARA: %zu rule(s) can match without any of their strings (no "
               "strings, ^/$ anchors, `at` offsets, or a condition true without them): they would "
               "need every event scanned alone, so they run on files only unless their meta says "
               "scope = \"event\" or \"both\": %s%s", nf, names, nf > 5 ? ", ..." : "");
}

static void subset_free(subset *u)
{
    if (u->rules)
        yr_rules_destroy(u->rules);
    free(u->map);
    free(u->priv);
    memset(u, 0, sizeof *u);
}

/* Compile the files with use[f] into u; with only_always, only the rules
   that need no string stay enabled (and global rules, which must keep
   vetoing their namespace). False on failure (u empty). */
static bool build_subset(det_yara *d, const bool *use, bool only_always, subset *u)
{
    memset(u, 0, sizeof *u);
    comp_ctx c = {d, NULL, NULL, false, 0, NULL};
    YR_COMPILER *cp = new_compiler(&c);
    bool ok = cp != NULL;
    for (size_t f = 0; ok && f < d->nfiles; f++)
        if (use[f] && !d->files[f].bad)
            ok = !add_src(cp, &c, &d->files[f]) && !c.errors;
    if (ok && yr_compiler_get_rules(cp, &u->rules) != ERROR_SUCCESS)
        u->rules = NULL;
    if (cp)
        yr_compiler_destroy(cp);
    if (u->rules)
        compact_rules(&u->rules);
    if (!ok || !u->rules) {
        subset_free(u);
        return false;
    }
    uint32_t na = u->rules->num_rules;
    u->map = calloc(na ? na : 1, sizeof *u->map);
    u->priv = calloc(na ? na : 1, sizeof *u->priv);
    if (!u->map || !u->priv) {
        subset_free(u);
        return false;
    }
    YR_RULE *rule;
    yr_rules_foreach(u->rules, rule)
    {
        size_t ai = (size_t)(rule - u->rules->rules_table), mi = d->n;
        char id[600];
        snprintf(id, sizeof id, "%s:%s", rule->ns->name, rule->identifier);
        /* the rules of a file are consecutive in the full table */
        for (size_t i = 0; i < d->n && mi == d->n; i++)
            if (!strcmp(d->r[i].meta.id, id))
                mi = i;
        if (mi == d->n) { /* cannot happen: same sources */
            subset_free(u);
            return false;
        }
        u->map[ai] = (uint32_t)mi;
        bool keep = !only_always || (d->r[mi].always && d->r[mi].ev_scope);
        if (!keep && !RULE_IS_GLOBAL(rule))
            yr_rule_disable(rule);
        else if (keep && d->r[mi].is_private)
            u->priv[u->npriv++] = (uint32_t)ai;
    }
    return true;
}

static void build_always_copy(det_yara *d)
{
    bool *use = calloc(d->nfiles ? d->nfiles : 1, sizeof *use);
    if (!use)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (d->r[i].always && d->r[i].ev_scope && d->r[i].file < d->nfiles)
            use[d->r[i].file] = true;
    build_subset(d, use, true, &d->asub);
    free(use);
}

/* One subset per file: a candidate event is scanned with the files whose
   needles it holds only. */
static void build_file_subsets(det_yara *d)
{
    bool *use = calloc(d->nfiles ? d->nfiles : 1, sizeof *use);
    d->fsub = calloc(d->nfiles ? d->nfiles : 1, sizeof *d->fsub);
    bool ok = use && d->fsub;
    for (size_t f = 0; ok && f < d->nfiles; f++) {
        if (d->files[f].bad)
            continue;
        use[f] = true;
        ok = build_subset(d, use, false, &d->fsub[f]);
        use[f] = false;
    }
    free(use);
    if (!ok && d->fsub) {
        for (size_t f = 0; f < d->nfiles; f++)
            subset_free(&d->fsub[f]);
        free(d->fsub);
        d->fsub = NULL;
    }
}

/* The needles of one string of a rule. */
typedef struct sneedle {
    const char *sid;
    bool ok, ascii, wide;
    size_t first, n; /* in the rule's needle list */
} sneedle;

typedef struct nlist {
    uint8_t (*b)[32];
    size_t *len;
    size_t n, cap;
    sneedle *st;
    size_t nst;
    /* the best necessary group so far */
    bool *pick, *cur;
    size_t best; /* its shortest needle; 0 = none */
} nlist;

static bool nl_add(nlist *l, const uint8_t *p, size_t n)
{
    if (n > 32) /* any part of a literal is as necessary as the whole */
        n = 32;
    if (n < 2)
        return false;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        uint8_t(*nb)[32] = realloc(l->b, nc * sizeof *nb);
        if (nb)
            l->b = nb;
        size_t *nn = nb ? realloc(l->len, nc * sizeof *nn) : NULL;
        if (!nn)
            return false;
        l->len = nn;
        l->cap = nc;
    }
    memcpy(l->b[l->n], p, n);
    l->len[l->n++] = n;
    return true;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Needles of one string into l (st->ok false: it has none). */
static void string_needles(det_yara *d, const char *id, YR_STRING *str, bool *used, nlist *l,
                           sneedle *st, const src *file)
{
    uint32_t f = str->flags;
    st->ascii = f & STRING_FLAGS_ASCII;
    st->wide = f & STRING_FLAGS_WIDE;
    st->first = l->n;
    st->ok = false;
    /* base64 strings are compiled to a regex whose AST we get (all three
       alignments, whatever the alphabet); base64wide: not read */
    if (f & (STRING_FLAGS_XOR | STRING_FLAGS_CHAIN_PART | STRING_FLAGS_CHAIN_TAIL |
             STRING_FLAGS_BASE64_WIDE))
        return;
    (void)file;
    if (!(f & (STRING_FLAGS_REGEXP | STRING_FLAGS_HEXADECIMAL | STRING_FLAGS_BASE64)) &&
        str->length > 0 && str->string) {
        st->ok = nl_add(l, str->string, (size_t)str->length);
        st->n = l->n - st->first;
        return;
    }
    /* regex or hex: the entry the compiler's AST gave, in order */
    size_t idn = strlen(id), sn = strlen(st->sid);
    const char *lits = NULL;
    for (size_t k = 0; k < d->anchored.n && !lits; k++) {
        const char *e = d->anchored.v[k];
        if (used[k] || e[0] != 'N' || e[1] != '\x1f' || strncmp(e + 2, id, idn) ||
            e[2 + idn] != '\x1f' || strncmp(e + 3 + idn, st->sid, sn) ||
            e[3 + idn + sn] != '\x1f')
            continue;
        used[k] = true;
        lits = e + 4 + idn + sn;
    }
    if (!lits || *lits == '-' || !*lits)
        return;
    while (*lits) {
        uint8_t b[NEEDLE_MAX];
        size_t n = 0;
        while (lits[0] && lits[0] != ',' && lits[1] && n < NEEDLE_MAX) {
            int h = hexval(lits[0]), lo = hexval(lits[1]);
            if (h < 0 || lo < 0)
                return;
            b[n++] = (uint8_t)(h * 16 + lo);
            lits += 2;
        }
        if (!nl_add(l, b, n))
            return;
        if (*lits == ',')
            lits++;
        else if (*lits)
            return;
    }
    st->n = l->n - st->first;
    st->ok = st->n > 0;
}

static bool pat_match(const char *pat, size_t pn, const char *sid)
{
    if (pn && pat[pn - 1] == '*')
        return !strncmp(sid, pat, pn - 1);
    return strlen(sid) == pn && !memcmp(sid, pat, pn);
}

/* Score the group in l->cur; keep it in l->pick if better. */
static void consider(nlist *l)
{
    size_t shortest = SIZE_MAX, members = 0;
    for (size_t k = 0; k < l->nst; k++) {
        if (!l->cur[k])
            continue;
        members++;
        if (!l->st[k].ok)
            return;
        for (size_t j = 0; j < l->st[k].n; j++)
            if (l->len[l->st[k].first + j] < shortest)
                shortest = l->len[l->st[k].first + j];
    }
    if (members && shortest != SIZE_MAX && shortest > l->best) {
        l->best = shortest;
        memcpy(l->pick, l->cur, l->nst * sizeof *l->pick);
    }
}

static void on_group(void *ud, const char *pats, size_t n, bool all)
{
    nlist *l = ud;
    memset(l->cur, 0, l->nst * sizeof *l->cur);
    for (const char *p = pats, *end = pats + n; p < end;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t pn = (size_t)((c ? c : end) - p);
        for (size_t k = 0; k < l->nst; k++)
            if (pat_match(p, pn, l->st[k].sid)) {
                if (all) { /* each one is necessary by itself */
                    memset(l->cur, 0, l->nst * sizeof *l->cur);
                    l->cur[k] = true;
                    consider(l);
                } else {
                    l->cur[k] = true;
                }
            }
        p = c ? c + 1 : end;
    }
    if (!all)
        consider(l);
}

static bool add_needle(det_yara *d, const uint8_t *p, size_t n, bool ascii, bool wide, uint32_t i)
{
    if ((ascii || !wide) && !vg_prefilter_add(d->pf, (const char *)p, n, i))
        return false;
    if (wide) {
        char w[64];
        for (size_t k = 0; k < n && k < 32; k++) {
            w[2 * k] = (char)p[k];
            w[2 * k + 1] = '\0';
        }
        if (!vg_prefilter_add(d->pf, w, 2 * (n < 32 ? n : 32), i))
            return false;
    }
    return true;
}

/* The needles of rule i into d->pf: those of its best necessary group of
   strings (from the condition), else of all its strings; false when a
   string it needs has none. */
static bool rule_needles(det_yara *d, size_t i, YR_RULE *rule, bool *used)
{
    nlist l = {0};
    YR_STRING *str;
    size_t ns = 0;
    yr_rule_strings_foreach(rule, str) ns++;
    l.st = calloc(ns ? ns : 1, sizeof *l.st);
    l.pick = calloc(ns ? ns : 1, sizeof *l.pick);
    l.cur = calloc(ns ? ns : 1, sizeof *l.cur);
    bool ok = l.st && l.pick && l.cur;
    yr_rule_strings_foreach(rule, str)
    {
        if (!ok)
            break;
        sneedle *st = &l.st[l.nst++];
        st->sid = str->identifier ? str->identifier : "$";
        string_needles(d, d->r[i].meta.id, str, used, &l, st,
                       d->r[i].file < d->nfiles ? &d->files[d->r[i].file] : NULL);
    }
    const src *f = d->r[i].file < d->nfiles ? &d->files[d->r[i].file] : NULL;
    if (ok && f && !vg_yara_cond_groups(f->data, f->n, rule->identifier, on_group, &l))
        l.best = 0; /* condition not read: all strings */
    if (ok && !l.best)
        for (size_t k = 0; k < l.nst; k++) {
            l.pick[k] = true;
            ok = ok && l.st[k].ok;
        }
    for (size_t k = 0; ok && k < l.nst; k++)
        for (size_t j = 0; l.pick[k] && ok && j < l.st[k].n; j++)
            ok = add_needle(d, l.b[l.st[k].first + j], l.len[l.st[k].first + j], l.st[k].ascii,
                            l.st[k].wide, (uint32_t)i);
    free(l.b);
    free(l.len);
    free(l.st);
    free(l.pick);
    free(l.cur);
    return ok && l.nst;
}

/* Our own automaton over the needles of every event rule: when every such
   rule has needles, a batch is prefiltered with it instead of a libyara
   block scan (which runs every string's automaton and verifiers: several
   times slower on log text). */
static void build_needles(det_yara *d)
{
    const char *off = getenv("VIGIE_YARA_NO_NEEDLES");
    if ((off && *off && strcmp(off, "0")) || d->exact || !d->n)
        return;
    bool *used = calloc(d->anchored.n ? d->anchored.n : 1, 1);
    bool *unf = calloc(d->nfiles ? d->nfiles : 1, 1); /* files of rules without needles */
    d->pf = vg_prefilter_create();
    bool ok = used && unf && d->pf, any_unf = false;
    YR_RULE *rule;
    yr_rules_foreach(d->rules, rule)
    {
        size_t i = (size_t)(rule - d->rules->rules_table);
        if (i >= d->n || !d->r[i].ev_scope || d->r[i].always)
            continue;
        /* a private rule only matters through others or Sigma: filtered too */
        if (ok && rule_needles(d, i, rule, used)) {
            d->nfilt++;
        } else if (ok && d->r[i].file < d->nfiles) {
            unf[d->r[i].file] = any_unf = true;
        } else {
            ok = false;
        }
    }
    free(used);
    /* the rules without needles: a libyara block scan of their files only */
    if (ok && any_unf && !build_subset(d, unf, false, &d->bsub))
        ok = false;
    free(unf);
    if (!ok || !d->nfilt || !vg_prefilter_build(d->pf)) {
        vg_prefilter_destroy(d->pf);
        subset_free(&d->bsub);
        d->pf = NULL;
        d->nfilt = 0;
    }
    vg_counter_add(vg_stats_counter(d->stats, "yara.needle_rules", NULL, NULL), d->nfilt);
}

static bool rule_ok_file(void *ud, uint32_t i)
{
    det_yara *d = ud;
    return i < d->n && d->r[i].file_scope && !d->r[i].is_private;
}

static void note_limit(det_yara *d, int64_t i, const char *what)
{
    vg_counter_add(d->c_err, 1);
    if (i < 0 || (size_t)i >= d->n) {
        vg_log_once("yara_limit", VG_LOG_WARNING, "YARA: %s (rule unknown)", what);
        return;
    }
    yrule *y = &d->r[i];
    vg_counter_add(y->meta.limit_hits, 1);
    if (!__atomic_exchange_n(&y->logged, 1, __ATOMIC_RELAXED))
        vg_log(VG_LOG_WARNING, "YARA rule %s: %s (counted in rule.yara_limit_hits; logged once)",
               y->meta.id, what);
}

static void limit_cb(void *ud, int64_t i, const char *what)
{
    note_limit(ud, i, what);
}

static void dy_finish(void *self, vg_config *cfg, vg_diag_fn diag, void *ud)
{
    det_yara *d = self;
    d->c_block = vg_stats_counter(d->stats, "yara.block_scans", NULL, NULL);
    d->c_event = vg_stats_counter(d->stats, "yara.event_scans", NULL, NULL);
    d->c_cand = vg_stats_counter(d->stats, "yara.events_skipped", NULL, NULL);
    d->c_fallback = vg_stats_counter(d->stats, "yara.block_fallbacks", NULL, NULL);
    d->c_scan_req = vg_stats_counter(d->stats, "yara.file_scan_requests", NULL, NULL);
    d->c_err = vg_stats_counter(d->stats, "yara.limit_hits", NULL, NULL);
    d->c_needle = vg_stats_counter(d->stats, "yara.needle_scans", NULL, NULL);
    d->c_always = vg_stats_counter(d->stats, "yara.event_scans_no_string_rules", NULL, NULL);
    if (!d->nfiles)
        return;
    char key[65], name[100];
    cache_key(d, key);
    snprintf(name, sizeof name, "yara-%.32s.cache", key);
    bool use_cache = d->cache && d->state_dir && *d->state_dir && !access(d->state_dir, W_OK);
    if (use_cache && (d->rules = cache_load(d, name)))
        d->from_cache = true;
    if (!d->rules) {
        d->rules = compile_all(d, diag, ud);
        bool bad = false;
        for (size_t i = 0; i < d->nfiles; i++)
            bad = bad || d->files[i].bad;
        if (d->rules && use_cache && !bad)
            cache_save(d, d->rules, name);
    }
    if (!d->rules)
        return;
    d->n = d->rules->num_rules;
    d->r = calloc(d->n ? d->n : 1, sizeof *d->r);
    if (!d->r) {
        yr_rules_destroy(d->rules);
        d->rules = NULL;
        d->n = 0;
        return;
    }
    YR_RULE *rule;
    yr_rules_foreach(d->rules, rule)
    {
        size_t i = (size_t)(rule - d->rules->rules_table);
        if (i < d->n)
            fill_rule(d, &d->r[i], rule);
    }
    /* Overrides: level and enabled, by id (ns:name) or name. */
    for (size_t o = 0; o < cfg->noverrides; o++) {
        vg_rule_override *ov = &cfg->overrides[o];
        for (size_t i = 0; i < d->n; i++) {
            vg_rule_meta *m = &d->r[i].meta;
            if (!m->id || (strcmp(m->id, ov->id) && strcmp(m->title, ov->id)))
                continue;
            ov->used = true;
            int lv = ov->level ? level_of(ov->level) : -1;
            if (lv >= 0) {
                free(m->level);
                m->level = strdup(level_names[lv]);
                m->level_rank = lv;
            }
            if (ov->enabled == 0) {
                d->r[i].ev_scope = d->r[i].file_scope = false;
                d->r[i].scan_field = (free(d->r[i].scan_field), NULL);
            }
        }
    }
    d->priv = calloc(d->n ? d->n : 1, sizeof *d->priv);
    for (size_t i = 0; d->priv && i < d->n; i++)
        if (d->r[i].is_private)
            d->priv[d->npriv++] = (uint32_t)i;
    vg_counter_add(vg_stats_counter(d->stats, "yara.rules", NULL, NULL), d->n);
    find_always(d);
    build_needles(d);
    if (d->any_always && !d->exact)
        build_always_copy(d);
    if (d->pf)
        build_file_subsets(d);
    bool files = false;
    for (size_t i = 0; i < d->n; i++)
        files = files || (d->r[i].scan_field && d->r[i].ev_scope);
    if (files && d->file_rate > 0) {
        vg_yfiles_opts o = {d->file_max, d->file_rate, d->timeout_s, rule_ok_file, limit_cb, d};
        d->fw = vg_yfiles_create(d->rules, &o, d->stats);
    }
}

static size_t dy_count(const void *self)
{
    return ((const det_yara *)self)->n;
}

/* ---- scanning events ---- */

static void dy_scratch_destroy(void *p)
{
    scratch *s = p;
    if (!s)
        return;
    if (s->sc)
        yr_scanner_destroy(s->sc);
    if (s->asc.sc)
        yr_scanner_destroy(s->asc.sc);
    if (s->bsc.sc)
        yr_scanner_destroy(s->bsc.sc);
    for (size_t f = 0; s->fsc && f < s->d->nfiles; f++)
        if (s->fsc[f].sc)
            yr_scanner_destroy(s->fsc[f].sc);
    free(s->fsc);
    free(s->evf);
    free(s->nevf);
    free(s->block);
    free(s->start);
    free(s->cand);
    free(s->hits);
    vg_buf_free(&s->json);
    vg_buf_free(&s->extra);
    vg_buf_free(&s->names);
    free(s);
}

static void *dy_scratch_create(const void *self)
{
    const det_yara *d = self;
    scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->d = d;
    vg_buf_init(&s->json, 1 << 20);
    vg_buf_init(&s->extra, 1 << 20);
    vg_buf_init(&s->names, 64 << 10);
    s->hits = calloc(d->n ? d->n : 1, sizeof *s->hits);
    if (!s->hits || (d->rules && yr_scanner_create(d->rules, &s->sc) != ERROR_SUCCESS)) {
        dy_scratch_destroy(s);
        return NULL;
    }
    if (d->asub.rules && yr_scanner_create(d->asub.rules, &s->asc.sc) != ERROR_SUCCESS) {
        dy_scratch_destroy(s);
        return NULL;
    }
    if (d->bsub.rules) {
        if (yr_scanner_create(d->bsub.rules, &s->bsc.sc) != ERROR_SUCCESS) {
            dy_scratch_destroy(s);
            return NULL;
        }
        yr_scanner_set_timeout(s->bsc.sc, d->timeout_s);
        yr_scanner_set_flags(s->bsc.sc, SCAN_FLAGS_NO_TRYCATCH | SCAN_FLAGS_REPORT_RULES_MATCHING);
    }
    if (d->fsub && !(s->fsc = calloc(d->nfiles, sizeof *s->fsc))) {
        dy_scratch_destroy(s);
        return NULL;
    }
    for (size_t f = 0; d->fsub && f < d->nfiles; f++)
        if (d->fsub[f].rules &&
            yr_scanner_create(d->fsub[f].rules, &s->fsc[f].sc) != ERROR_SUCCESS) {
            dy_scratch_destroy(s);
            return NULL;
        }
    for (size_t f = 0; f <= (d->fsub ? d->nfiles : 0); f++) {
        YR_SCANNER *x = f < d->nfiles && d->fsub ? s->fsc[f].sc : s->asc.sc;
        if (!x)
            continue;
        yr_scanner_set_timeout(x, d->timeout_s);
        yr_scanner_set_flags(x, SCAN_FLAGS_NO_TRYCATCH | SCAN_FLAGS_REPORT_RULES_MATCHING);
    }
    if (!d->fsub && s->asc.sc) {
        yr_scanner_set_timeout(s->asc.sc, d->timeout_s);
        yr_scanner_set_flags(s->asc.sc, SCAN_FLAGS_NO_TRYCATCH | SCAN_FLAGS_REPORT_RULES_MATCHING);
    }
    if (s->sc) {
        yr_scanner_set_timeout(s->sc, d->timeout_s);
        /* Our own heap buffers: no SIGSEGV/SIGBUS guard (4 syscalls a scan). */
        yr_scanner_set_flags(s->sc, SCAN_FLAGS_NO_TRYCATCH | SCAN_FLAGS_REPORT_RULES_MATCHING);
    }
    return s;
}

/* Event e must be scanned with the rules of file f (f = UINT32_MAX: with
   all the rules at once). */
static void add_evfile(scratch *s, size_t e, uint32_t f)
{
    s->cand[e] = 1;
    if (s->nevf[e] > EV_FILES)
        return;
    if (!s->d->fsub || f == UINT32_MAX) {
        s->nevf[e] = EV_FILES + 1;
        return;
    }
    for (unsigned k = 0; k < s->nevf[e]; k++)
        if (s->evf[e][k] == f)
            return;
    if (s->nevf[e] == EV_FILES || f >= s->d->nfiles || !s->d->fsub[f].rules)
        s->nevf[e] = EV_FILES + 1; /* all the rules at once */
    else
        s->evf[e][s->nevf[e]++] = f;
}

static void on_needle(void *ud, unsigned lane, uint32_t id)
{
    scratch *s = ud;
    add_evfile(s, s->lane_base + lane, id < s->d->n ? s->d->r[id].file : UINT32_MAX);
}

static size_t event_of(const scratch *s, size_t n, size_t off)
{
    size_t lo = 0, hi = n; /* last start <= off */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

typedef struct block_ctx {
    scratch *s;
    size_t n;
    const subset *u; /* the rules scanned (NULL: all) */
} block_ctx;

static int on_block(YR_SCAN_CONTEXT *ctx, int msg, void *data, void *ud)
{
    block_ctx *c = ud;
    if (msg == CALLBACK_MSG_TOO_MANY_MATCHES) {
        c->s->all = true;
        return CALLBACK_CONTINUE;
    }
    if (msg != CALLBACK_MSG_SCAN_FINISHED)
        return CALLBACK_CONTINUE;
    uint32_t ns = ctx->rules->num_strings;
    for (uint32_t i = 0; i < ns; i++)
        for (const YR_MATCH *mp = ctx->matches[i].head; mp;) {
            YR_MATCH m; /* a copy: notebook addresses may be unaligned */
            memcpy(&m, mp, sizeof m);
            mp = m.next;
            int64_t off = m.base + m.offset;
            if (off < 0)
                continue;
            uint32_t ri = ctx->rules->strings_table[i].rule_idx, f = UINT32_MAX;
            if (c->u && ri < c->u->rules->num_rules && c->u->map[ri] < c->s->d->n)
                f = c->s->d->r[c->u->map[ri]].file;
            add_evfile(c->s, event_of(c->s, c->n, (size_t)off), f);
        }
    return CALLBACK_CONTINUE;
}

static int on_event(YR_SCAN_CONTEXT *ctx, int msg, void *data, void *ud)
{
    scratch *s = ud;
    const det_yara *d = s->d;
    if (msg == CALLBACK_MSG_TOO_MANY_MATCHES) {
        YR_STRING *str = data;
        uint32_t ri = str->rule_idx;
        note_limit((det_yara *)d, s->csub ? s->csub->map[ri] : ri, "too many matches");
        return CALLBACK_CONTINUE;
    }
    if (msg == CALLBACK_MSG_SCAN_FINISHED) {
        /* Private rules get no RULE_MATCHING message: read the bitmap. */
        const subset *u = s->csub;
        const uint32_t *pl = u ? u->priv : d->priv;
        size_t np = u ? u->npriv : d->npriv;
        for (size_t k = 0; k < np; k++) {
            uint32_t ci = pl[k];
            YR_RULE *rule = &s->cur->rules_table[ci];
            if (!yr_bitmask_is_set(ctx->rule_matches_flags, ci) ||
                yr_bitmask_is_set(ctx->ns_unsatisfied_flags, rule->ns->idx))
                continue;
            if (s->nhits < d->n)
                s->hits[s->nhits++] = (hit){u ? u->map[ci] : ci, 0, 0};
        }
        return CALLBACK_CONTINUE;
    }
    if (msg != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    YR_RULE *rule = data;
    uint32_t i = (uint32_t)(rule - s->cur->rules_table);
    if (s->csub)
        i = s->csub->map[i];
    if (s->nhits >= d->n)
        return CALLBACK_CONTINUE;
    size_t js = s->json.n;
    vg_yara_strings_json(&s->json, ctx, rule);
    s->hits[s->nhits++] = (hit){i, js, s->json.n - js};
    return CALLBACK_CONTINUE;
}

/* Set external `name` (slot k) to v, when it changed. */
static void set_ext_on(YR_SCANNER *sc, char (*cache)[256], int k, const char *name, const char *p,
                       size_t n)
{
    char v[256];
    if (n >= sizeof v)
        n = sizeof v - 1;
    if (n && p)
        memcpy(v, p, n);
    v[n] = '\0';
    if (memchr(v, '\0', n)) /* a NUL inside: cut there */
        n = strlen(v);
    if (!strcmp(cache[k], v))
        return;
    memcpy(cache[k], v, n + 1);
    yr_scanner_define_string_variable(sc, name, v);
}

static void set_event_externals(YR_SCANNER *sc, char (*cache)[256], const vg_event *ev)
{
    const char *svc = ev->service2 ? ev->service2
                      : ev->logsource && ev->logsource->service ? ev->logsource->service : "";
    const char *sname = ev->stream && ev->stream->name ? ev->stream->name : "";
    set_ext_on(sc, cache, 0, "program", ev->program.p, ev->program.n);
    set_ext_on(sc, cache, 1, "service", svc, strlen(svc));
    set_ext_on(sc, cache, 2, "hostname", ev->hostname.p, ev->hostname.n);
    set_ext_on(sc, cache, 3, "source", sname, strlen(sname));
}

/* The rule (index into d->r) a scan over `rules` (the compilation of subset
   u, or all the rules when u is NULL) timed out in, or -1. libyara 4.2 does
   not name the rule on a timeout (yr_scanner_last_error_rule is NULL then):
   when the compilation holds a single rule, it is that one. */
static int64_t timeout_rule(YR_SCANNER *sc, const YR_RULES *rules, const subset *u)
{
    YR_RULE *lr = yr_scanner_last_error_rule(sc);
    int64_t li = lr ? (int64_t)(lr - rules->rules_table) : rules->num_rules == 1 ? 0 : -1;
    return li >= 0 && u ? (int64_t)u->map[li] : li;
}

/* Scan one event alone with sc over u (NULL: all the rules); its matches
   are added to s->hits. */
static void scan_with(const det_yara *d, scratch *s, YR_SCANNER *sc, char (*ext)[256],
                      const subset *u, vg_event *ev)
{
    s->csub = u;
    s->cur = u ? u->rules : d->rules;
    set_event_externals(sc, ext, ev);
    yr_scanner_set_callback(sc, on_event, s);
    int e = yr_scanner_scan_mem(sc, (const uint8_t *)(ev->raw.p ? ev->raw.p : ""), ev->raw.n);
    if (e == ERROR_SCAN_TIMEOUT)
        note_limit((det_yara *)d, timeout_rule(sc, s->cur, u), "scan timeout");
}

/* Scan event i of the batch alone (how: see dy_match) and act on its matches. */
static void scan_event(const det_yara *d, scratch *s, vg_batch *b, size_t i,
                       const vg_match_sink *sink, int how)
{
    vg_event *ev = &b->ev[i];
    s->nhits = 0;
    vg_buf_reset(&s->json);
    if (how == 1) { /* the rules that need no string */
        vg_counter_add(d->c_always, 1);
        scan_with(d, s, s->asc.sc, s->asc.ext, &d->asub, ev);
    } else if (how == 2) { /* the files its needles name */
        vg_counter_add(d->c_event, 1);
        for (unsigned k = 0; k < s->nevf[i]; k++) {
            uint32_t f = s->evf[i][k];
            scan_with(d, s, s->fsc[f].sc, s->fsc[f].ext, &d->fsub[f], ev);
        }
        if (d->asub.rules) /* and those, which no needle stands for */
            scan_with(d, s, s->asc.sc, s->asc.ext, &d->asub, ev);
    } else {
        vg_counter_add(d->c_event, 1);
        scan_with(d, s, s->sc, s->ext_val, NULL, ev);
    }
    if (!s->nhits)
        return;
    vg_buf_reset(&s->names);
    for (size_t h = 0; h < s->nhits; h++) {
        const yrule *y = &d->r[s->hits[h].rule];
        if (y->ev_scope)
            vg_buf_puts(&s->names, y->names);
    }
    if (s->names.n && !s->names.overflow) {
        vg_buf_putc(&s->names, '|');
        char *v = vg_arena_strndup(&b->arena, s->names.p, s->names.n);
        if (v)
            vg_event_set(ev, VG_STR("yara"), (vg_str){v, s->names.n});
    }
    for (size_t h = 0; h < s->nhits; h++) {
        const hit *ht = &s->hits[h];
        yrule *y = &d->r[ht->rule];
        if (!y->ev_scope)
            continue;
        if (y->scan_field && d->fw) {
            const vg_str *p =
                vg_event_get(ev, (vg_str){y->scan_field, strlen(y->scan_field)});
            if (p && p->n) {
                vg_counter_add(d->c_scan_req, 1);
                vg_yfiles_submit(d->fw, p->p, p->n, ev, ht->rule);
            }
        }
        if (y->is_private)
            continue;
        vg_buf_reset(&s->extra);
        vg_buf_puts(&s->extra, "\"yara\":{\"rule\":");
        vg_json_cstr(&s->extra, y->meta.title);
        vg_buf_puts(&s->extra, ",\"namespace\":");
        const char *colon = strchr(y->meta.id, ':');
        vg_json_str(&s->extra, y->meta.id, colon ? (size_t)(colon - y->meta.id) : 0);
        vg_buf_puts(&s->extra, ",\"target\":\"event\",");
        vg_buf_append(&s->extra, s->json.p + ht->js, ht->jn);
        vg_buf_putc(&s->extra, '}');
        vg_buf_putc(&s->extra, '\0');
        if (s->extra.overflow)
            continue;
        vg_counter_add(y->meta.alerts, 1);
        ev->vigie_extra = s->extra.p;
        sink->emit(sink->ud, &y->meta, ev);
        ev->vigie_extra = NULL;
    }
}

/* Room for n events and total bytes of joined lines. */
static bool ensure_cap(scratch *s, size_t n, size_t total)
{
    if (n > s->scap) {
        uint8_t *nc = realloc(s->cand, n);
        if (nc)
            s->cand = nc;
        size_t *ns = nc ? realloc(s->start, n * sizeof *ns) : NULL;
        if (ns)
            s->start = ns;
        uint8_t *nn = ns ? realloc(s->nevf, n) : NULL;
        if (nn)
            s->nevf = nn;
        uint32_t(*nf)[EV_FILES] = nn ? realloc(s->evf, n * sizeof *nf) : NULL;
        if (!nf)
            return false;
        s->evf = nf;
        s->scap = n;
    }
    if (total > s->bcap) {
        char *nb = realloc(s->block, total);
        if (!nb)
            return false;
        s->block = nb;
        s->bcap = total;
    }
    return true;
}

/* The batch's lines joined with SEP, scanned once by libyara (sc over u, or
   all the rules); the events where a string match starts become
   candidates. False when the scan failed (timeout, too many matches). */
static bool block_scan(const det_yara *d, scratch *s, vg_batch *b, YR_SCANNER *sc, const subset *u,
                       char (*ext)[256])
{
    size_t off = 0, n = b->n;
    for (size_t i = 0; i < n; i++) {
        const vg_event *ev = &b->ev[i];
        s->start[i] = off;
        if (ev->raw.n) // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): raw.p is set when raw.n > 0 (vg_event)
            memcpy(s->block + off, ev->raw.p, ev->raw.n);
        off += ev->raw.n;
        s->block[off++] = SEP;
    }
    s->all = false;
    for (int k = 0; k < 4; k++)
        set_ext_on(sc, ext, k, externals[k], "", 0);
    block_ctx c = {s, n, u};
    yr_scanner_set_callback(sc, on_block, &c);
    vg_counter_add(d->c_block, 1);
    int e = yr_scanner_scan_mem(sc, (const uint8_t *)s->block, off);
    if (e == ERROR_SUCCESS && !s->all)
        return true;
    if (e == ERROR_SCAN_TIMEOUT)
        note_limit((det_yara *)d, timeout_rule(sc, u ? u->rules : d->rules, u),
                   "scan timeout (batch)");
    vg_counter_add(d->c_fallback, 1);
    return false;
}

static void dy_match(const void *self, void *sp, vg_batch *b, const vg_match_sink *sink)
{
    const det_yara *d = self;
    scratch *s = sp;
    if (!d->rules || !s->sc || !b->n)
        return;
    size_t n = b->n, total = 0;
    for (size_t i = 0; i < n; i++)
        total += b->ev[i].raw.n + 1;
    bool all = d->exact || (d->any_always && !d->asub.rules) || !ensure_cap(s, n, total);
    if (!all) {
        memset(s->cand, 0, n);
        memset(s->nevf, 0, n);
        if (d->pf) { /* needles */
            for (size_t i = 0; i < n; i += VG_PREFILTER_LANES) {
                const char *texts[VG_PREFILTER_LANES];
                size_t lens[VG_PREFILTER_LANES];
                unsigned k = 0;
                for (; k < VG_PREFILTER_LANES && i + k < n; k++) {
                    texts[k] = b->ev[i + k].raw.p ? b->ev[i + k].raw.p : "";
                    lens[k] = b->ev[i + k].raw.p ? b->ev[i + k].raw.n : 0;
                }
                s->lane_base = i;
                vg_prefilter_scan_lanes(d->pf, texts, lens, k, on_needle, s);
            }
            vg_counter_add(d->c_needle, 1);
        }
        if (d->pf && d->bsub.rules && s->bsc.sc) /* plus the files of rules without needles */
            all = !block_scan(d, s, b, s->bsc.sc, &d->bsub, s->bsc.ext);
        else if (!d->pf) /* no needles: all the rules */
            all = !block_scan(d, s, b, s->sc, NULL, s->ext_val);
    }
    uint64_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (!all && !s->cand[i]) {
            if (d->asub.rules && s->asc.sc) /* only the rules that need no string */
                scan_event(d, s, b, i, sink, 1);
            else
                skipped++;
            continue;
        }
        scan_event(d, s, b, i, sink, !all && d->fsub && s->nevf[i] <= EV_FILES ? 2 : 0);
    }
    vg_counter_add(d->c_cand, skipped);
}

/* ---- file-scan results ---- */

static size_t dy_drain(void *self, void *sp, const vg_match_sink *sink)
{
    det_yara *d = self;
    scratch *s = sp;
    if (!d->fw)
        return 0;
    size_t pending = 0;
    vg_yfile_result *list = vg_yfiles_take(d->fw, &pending);
    if (!list)
        return pending;
    vg_event *ev = calloc(1, sizeof *ev);
    vg_arena ar;
    vg_arena_init(&ar, 1 << 20);
    for (vg_yfile_result *r = list; ev && r; r = r->next) {
        for (size_t k = 0; k < r->nm; k++) {
            yrule *y = &d->r[r->m[k].rule];
            const yrule *t = &d->r[r->trigger_rule];
            vg_event_clear(ev);
            ev->raw = (vg_str){r->raw, r->raw_n};
            ev->stream = &r->stream;
            ev->offset = r->offset;
            ev->ts_ns = r->ts_ns;
            char size[32];
            snprintf(size, sizeof size, "%lld", (long long)r->size);
            char *sz = vg_arena_strndup(&ar, size, strlen(size));
            vg_event_set(ev, VG_STR("file.path"), (vg_str){r->path, strlen(r->path)});
            if (sz)
                vg_event_set(ev, VG_STR("file.size"), (vg_str){sz, strlen(sz)});
            vg_event_set(ev, VG_STR("file.hash.sha256"), (vg_str){r->sha256, 64});
            vg_event_set(ev, VG_STR("trigger.rule"), (vg_str){t->meta.id, strlen(t->meta.id)});
            vg_buf_reset(&s->extra);
            vg_buf_puts(&s->extra, "\"yara\":{\"rule\":");
            vg_json_cstr(&s->extra, y->meta.title);
            vg_buf_puts(&s->extra, ",\"namespace\":");
            const char *colon = strchr(y->meta.id, ':');
            vg_json_str(&s->extra, y->meta.id, colon ? (size_t)(colon - y->meta.id) : 0);
            vg_buf_puts(&s->extra, ",\"target\":\"file\",\"file\":{\"path\":");
            vg_json_cstr(&s->extra, r->path);
            vg_buf_printf(&s->extra, ",\"size\":%lld,\"sha256\":\"%s\"},\"trigger\":{\"rule\":",
                          (long long)r->size, r->sha256);
            vg_json_cstr(&s->extra, t->meta.id);
            vg_buf_puts(&s->extra, ",\"stream\":");
            vg_json_cstr(&s->extra, r->stream.id);
            vg_buf_printf(&s->extra, ",\"offset\":%llu},", (unsigned long long)r->offset);
            vg_buf_puts(&s->extra, r->m[k].strings_json);
            vg_buf_putc(&s->extra, '}');
            vg_buf_putc(&s->extra, '\0');
            if (s->extra.overflow)
                continue;
            vg_counter_add(y->meta.alerts, 1);
            ev->vigie_extra = s->extra.p;
            sink->emit(sink->ud, &y->meta, ev);
            ev->vigie_extra = NULL;
            vg_arena_reset(&ar);
        }
    }
    vg_arena_destroy(&ar);
    free(ev);
    vg_yfiles_result_free(list);
    return pending;
}

static void dy_destroy(void *self)
{
    det_yara *d = self;
    if (!d)
        return;
    if (getenv("VIGIE_YARA_STATS") && d->c_block) /* the benchmark's figures */
        fprintf(stderr, "yara: %zu rules (%zu behind needles), %llu batches prefiltered, "
                "%llu block scans, %llu events scanned alone (with the files their needles "
                "name), %llu with the %zu rules that need no string, %llu skipped\n", d->n,
                d->nfilt, (unsigned long long)vg_counter_get(d->c_needle),
                (unsigned long long)vg_counter_get(d->c_block),
                (unsigned long long)vg_counter_get(d->c_event),
                (unsigned long long)vg_counter_get(d->c_always),
                d->asub.rules ? (size_t)vg_stats_sum(d->stats, "yara.rules_on_every_event") : 0,
                (unsigned long long)vg_counter_get(d->c_cand));
    vg_yfiles_destroy(d->fw);
    for (size_t i = 0; i < d->n; i++) {
        vg_rule_meta_free(&d->r[i].meta);
        free(d->r[i].scan_field);
        free(d->r[i].names);
    }
    free(d->r);
    if (d->rules)
        yr_rules_destroy(d->rules);
    subset_free(&d->asub);
    subset_free(&d->bsub);
    for (size_t f = 0; d->fsub && f < d->nfiles; f++)
        subset_free(&d->fsub[f]);
    free(d->fsub);
    vg_prefilter_destroy(d->pf);
    free(d->priv);
    for (size_t i = 0; i < d->nfiles; i++) {
        free(d->files[i].path);
        free(d->files[i].data);
        free(d->files[i].ns);
    }
    free(d->files);
    vg_strlist_free(&d->anchored);
    free(d->state_dir);
    free(d);
    yr_finalize();
}

/* ---- for tests and `vigie rules` ---- */

bool vg_detector_yara_from_cache(const void *self)
{
    return ((const det_yara *)self)->from_cache;
}

bool vg_detector_yara_wait_files(const void *self, int timeout_ms)
{
    const det_yara *d = self;
    return !d->fw || vg_yfiles_wait_idle(d->fw, timeout_ms);
}

size_t vg_detector_yara_rules(const void *self, vg_rule_meta **out, size_t *nprivate)
{
    const det_yara *d = self;
    size_t np = 0;
    for (size_t i = 0; i < d->n; i++)
        np += d->r[i].is_private;
    if (nprivate)
        *nprivate = np;
    if (out)
        *out = d->n ? &d->r[0].meta : NULL;
    return d->n;
}

const vg_rule_meta *vg_detector_yara_rule(const void *self, size_t i)
{
    const det_yara *d = self;
    return i < d->n ? &d->r[i].meta : NULL;
}

const char *vg_detector_yara_file(const void *self, size_t i)
{
    const det_yara *d = self;
    return i < d->nfiles && !d->files[i].bad ? d->files[i].path : NULL;
}

size_t vg_detector_yara_nfiles(const void *self)
{
    return ((const det_yara *)self)->nfiles;
}

int vg_detector_yara_test_line(const void *self, void *scratch_p, const char *rule,
                               const char *line)
{
    const det_yara *d = self;
    scratch *s = scratch_p;
    if (!d->rules || !s->sc)
        return -1;
    long found = -1;
    for (size_t i = 0; i < d->n && found < 0; i++)
        if (!strcmp(d->r[i].meta.id, rule) || !strcmp(d->r[i].meta.title, rule))
            found = (long)i;
    if (found < 0)
        return -1;
    s->nhits = 0;
    s->cur = d->rules;
    vg_buf_reset(&s->json);
    yr_scanner_set_callback(s->sc, on_event, s);
    yr_scanner_scan_mem(s->sc, (const uint8_t *)line, strlen(line));
    for (size_t h = 0; h < s->nhits; h++)
        if (s->hits[h].rule == (uint32_t)found)
            return 1;
    return 0;
}

static const char *const yara_ext[] = {".yar", ".yara", NULL};

const vg_detector_ops vg_detector_yara = {
    "yara",          yara_ext,           dy_create, dy_load_file, dy_finish, dy_count,
    dy_scratch_create, dy_scratch_destroy, dy_match, dy_destroy, dy_drain,
};

/*
 * sigma_int.h - private types shared by sigma.c (loading), sigma_cond.c
 * (condition grammar) and sigma_value.c (value matchers). Not a public
 * contract: only these three files include it.
 *
 * A rule is: selections (OR of groups, a group = AND of items, an item = one
 * `field|mods: values` entry, values OR-ed or AND-ed with |all) plus a
 * condition AST over the selections, plus exceptions (extra groups that veto
 * a match).
 */
#ifndef VG_SIGMA_INT_H
#define VG_SIGMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "sigma.h"

/* Limits of one rule (a hostile or broken rule is rejected, never truncated). */
#define SG_MAX_SELECTIONS 256
#define SG_MAX_VALUES 4096 /* compiled values in one rule, after expansion */
#define SG_MAX_COND_NODES 4096
#define SG_MAX_COND_DEPTH 64
#define SG_MAX_CAPTURES 32            /* pending named captures per evaluation */
#define SG_LOWER_CACHE_MAX (4u << 20) /* bytes of lowercased field copies per event */

typedef struct sg_pos {
    int line, col; /* 1-based; 0 = unknown */
} sg_pos;

/* ---- values (sigma_value.c) ---- */

typedef enum sg_vkind {
    SG_V_ANY,   /* '*': any value of a present field */
    SG_V_EXACT, /* literal equality */
    SG_V_PREFIX,
    SG_V_SUFFIX,
    SG_V_CONTAINS,
    SG_V_GLOB, /* wildcards inside the value */
    SG_V_RE,   /* PCRE2 */
    SG_V_CIDR,
    SG_V_NUM,      /* lt/lte/gt/gte */
    SG_V_FIELDREF, /* equality with another field */
} sg_vkind;

typedef struct sg_value {
    sg_vkind kind;
    bool cased;
    uint32_t orig; /* index of the written value it comes from (windash, base64offset
                      expand one value into several alternatives) */
    char *lit;     /* literal bytes (lowercased unless cased); glob pattern; fieldref name */
    size_t n;
    uint8_t *wild; /* glob: per byte of lit, 0 = literal, '*' or '?' */
    pcre2_code *re;
    uint32_t nnamed; /* named groups of re */
    int numop;       /* SG_V_NUM: 0 lt, 1 lte, 2 gt, 3 gte */
    double num;
    int family; /* SG_V_CIDR: AF_INET / AF_INET6 */
    unsigned bits;
    unsigned char addr[16];
} sg_value;

typedef enum sg_ikind {
    SG_I_VALUES, /* match the values */
    SG_I_NULL,   /* field: null -> absent or empty */
    SG_I_EXISTS, /* field|exists: true/false */
} sg_ikind;

typedef struct sg_item {
    char *field; /* NULL = keyword: matched against ev->raw */
    size_t field_n;
    char **alt;  /* field mapping: further event fields tried (OR) when `field` does not match */
    size_t nalt;
    sg_ikind kind;
    bool all;  /* values AND-ed */
    bool neq;  /* each value negated, values AND-ed */
    bool want; /* SG_I_EXISTS */
    sg_value *v;
    size_t nv;
} sg_item;

/* A raw value from YAML or from a config exception. */
typedef struct sg_raw {
    const char *s;
    size_t n;
    bool is_null;
    sg_pos pos;
} sg_raw;

/*
 * Compile one `key: values` entry. `key` is "field|mod|mod" ("" or "|mod"
 * for keywords; keyword = true forces a keyword item). On error returns the
 * code, fills eb with the reason and *epos with where (a modifier's column
 * inside the key, or the value's position). *nvalues_total is the rule's
 * running count of compiled values (limit SG_MAX_VALUES).
 */
vg_err sg_item_compile(sg_item *it, const char *key, sg_pos keypos, bool keyword,
                       const sg_raw *vals, size_t nvals, size_t *nvalues_total, sg_pos *epos,
                       vg_errbuf *eb);
void sg_item_free(sg_item *it);

typedef struct sg_eval {
    const vg_event *ev;
    vg_sigma_scratch *s;
    pcre2_match_context *mctx;
    vg_counter *limit_hits;
    bool *limit_hit_flag; /* set when a regex limit was reached (may be NULL) */
} sg_eval;

bool sg_item_match(const sg_item *it, sg_eval *e);

/* Scratch internals used by sigma.c. */
typedef struct sg_capture {
    const char *name;
    size_t name_n;
    const char *p;
    size_t n;
} sg_capture;

struct vg_sigma_scratch {
    pcre2_match_data *md;
    struct {
        const char *p;
        size_t n, off;
    } cache[VG_EVENT_MAX_FIELDS + 1];
    size_t ncache;
    char *buf;
    size_t buf_len, buf_cap;
    sg_capture caps[SG_MAX_CAPTURES];
    size_t ncaps;
    uint64_t caps_dropped;
    int8_t selres[SG_MAX_SELECTIONS]; /* -1 unknown, 0 false, 1 true, 2 true without captures */
};

/* ---- condition (sigma_cond.c) ---- */

typedef enum sg_nkind { SG_N_SEL, SG_N_NOT, SG_N_AND, SG_N_OR, SG_N_ONE_OF, SG_N_ALL_OF } sg_nkind;

typedef struct sg_node {
    sg_nkind kind;
    uint32_t sel;   /* SG_N_SEL */
    uint32_t *kids; /* NOT: 1 node; AND/OR: nodes; ONE_OF/ALL_OF: selection indexes */
    uint32_t nkids;
} sg_node;

typedef struct sg_cond {
    sg_node *nodes;
    size_t n, cap;
    uint32_t *roots; /* a condition list: OR of the roots */
    size_t nroots;
} sg_cond;

/*
 * Parse `text` and add it as one more root of c. names[] are the selection
 * names (nsel of them); used[i] is set for each selection referenced. On
 * error, *eoff is the byte offset in text of the offending token.
 */
vg_err sg_cond_parse(sg_cond *c, const char *text, char *const *names, size_t nsel, bool *used,
                     size_t *eoff, vg_errbuf *eb);
void sg_cond_free(sg_cond *c);

/* Evaluate selection `sel`; `positive` is false under an odd number of `not`. */
typedef bool (*sg_sel_fn)(void *ud, uint32_t sel, bool positive);
bool sg_cond_eval(const sg_cond *c, sg_sel_fn sel, void *ud);

#endif

/*
 * ruleset.c - walking rule paths and dispatching files to detectors; see
 * ruleset.h.
 */
#include "ruleset.h"

#include <malloc.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* YARA first: it records on each event the YARA rules that matched it
   (field `yara`), which Sigma selections can then test. */
static const vg_detector_ops *const detectors[] = {&vg_detector_yara, &vg_detector_sigma, NULL};
#define NDET (sizeof detectors / sizeof detectors[0] - 1)

struct vg_ruleset {
    void *det[NDET];
};

struct vg_ruleset_scratch {
    const vg_ruleset *rs;
    void *s[NDET];
};

typedef struct walk {
    vg_ruleset *rs;
    vg_diag_fn diag;
    void *ud;
    vg_ruleset_report *rep;
    int depth;
} walk;

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static void diag_simple(walk *w, const char *file, const char *msg, int err)
{
    vg_diag d = {file, 0, 0, 0, VG_EIO, msg};
    (void)err;
    w->diag(w->ud, &d);
}

static void load_one(walk *w, const char *path)
{
    for (size_t i = 0; i < NDET; i++)
        for (const char *const *e = detectors[i]->extensions; *e; e++)
            if (ends_with(path, *e)) {
                w->rep->files++;
                detectors[i]->load_file(w->rs->det[i], path, w->diag, w->ud);
                return;
            }
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// NOLINTNEXTLINE(misc-no-recursion): one level per directory, at most 16 (w->depth)
static void walk_path(walk *w, const char *path, int explicit)
{
    struct stat st;
    if (stat(path, &st)) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot read rule path: %s", strerror(errno));
        diag_simple(w, path, msg, errno);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        if (explicit) {
            size_t before = w->rep->files;
            load_one(w, path);
            if (w->rep->files == before)
                diag_simple(w, path, "not a rule file (expected .yml, .yaml, .yar or .yara)", 0);
        } else {
            load_one(w, path);
        }
        return;
    }
    if (!S_ISDIR(st.st_mode) || w->depth > 16)
        return;
    DIR *d = opendir(path);
    if (!d) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot open rule directory: %s", strerror(errno));
        diag_simple(w, path, msg, errno);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n) /* names is NULL for an empty directory */
        qsort(names, n, sizeof *names, cmp_name);
    w->depth++;
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", path, names[i]) < (int)sizeof p)
            walk_path(w, p, 0);
        free(names[i]);
    }
    w->depth--;
    free(names);
}

/* Counts the rejections on their way to the caller's diag callback. */
typedef struct counting {
    vg_diag_fn diag;
    void *ud;
    vg_ruleset_report *rep;
} counting;

static void count_diag(void *ud, const vg_diag *d)
{
    counting *c = ud;
    if (d->is_warning)
        c->rep->warnings++;
    else
        c->rep->rejected++;
    if (c->diag)
        c->diag(c->ud, d);
}

vg_err vg_ruleset_load(vg_config *cfg, const vg_strlist *paths, vg_stats *stats, vg_diag_fn diag,
                       void *ud, vg_ruleset **out, vg_ruleset_report *rep, vg_errbuf *eb)
{
    vg_ruleset_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    *out = NULL;
    vg_ruleset *rs = calloc(1, sizeof *rs);
    if (!rs)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    for (size_t i = 0; i < NDET; i++)
        if (!(rs->det[i] = detectors[i]->create(cfg, stats))) {
            vg_ruleset_destroy(rs);
            return vg_errf(eb, VG_ENOMEM, "out of memory");
        }
    counting c = {diag, ud, rep};
    walk w = {rs, count_diag, &c, rep, 0};
    for (size_t i = 0; i < paths->n; i++)
        walk_path(&w, paths->v[i], 1);
    for (size_t i = 0; i < NDET; i++)
        detectors[i]->finish(rs->det[i], cfg, count_diag, &c);
    rep->loaded = vg_ruleset_count(rs);
    /* Compiling (YARA, Sigma, automata) leaves megabytes of freed heap
       behind; give it back to the system so the agent's RSS is what it
       keeps, not what it once needed. */
    malloc_trim(0);
    *out = rs;
    return VG_OK;
}

void vg_ruleset_destroy(vg_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < NDET; i++)
        if (rs->det[i])
            detectors[i]->destroy(rs->det[i]);
    free(rs);
}

size_t vg_ruleset_count(const vg_ruleset *rs)
{
    size_t n = 0;
    for (size_t i = 0; i < NDET; i++)
        n += detectors[i]->count(rs->det[i]);
    return n;
}

const void *vg_ruleset_detector(const vg_ruleset *rs, const vg_detector_ops *ops)
{
    for (size_t i = 0; i < NDET; i++)
        if (detectors[i] == ops)
            return rs->det[i];
    return NULL;
}

vg_ruleset_scratch *vg_ruleset_scratch_create(const vg_ruleset *rs)
{
    vg_ruleset_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->rs = rs;
    for (size_t i = 0; i < NDET; i++)
        if (!(s->s[i] = detectors[i]->scratch_create(rs->det[i]))) {
            vg_ruleset_scratch_destroy(s);
            return NULL;
        }
    return s;
}

void vg_ruleset_scratch_destroy(vg_ruleset_scratch *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < NDET; i++)
        if (s->s[i])
            detectors[i]->scratch_destroy(s->s[i]);
    free(s);
}

void vg_ruleset_match(const vg_ruleset *rs, vg_ruleset_scratch *s, vg_batch *b,
                      const vg_match_sink *sink)
{
    for (size_t i = 0; i < NDET; i++)
        detectors[i]->match(rs->det[i], s->s[i], b, sink);
}

size_t vg_ruleset_drain(const vg_ruleset *rs, vg_ruleset_scratch *s, const vg_match_sink *sink)
{
    size_t pending = 0;
    for (size_t i = 0; i < NDET; i++)
        if (detectors[i]->drain)
            pending += detectors[i]->drain(rs->det[i], s->s[i], sink);
    return pending;
}

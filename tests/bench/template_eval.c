/*
 * template_eval.c - grouping accuracy of the template miner (detectors/drain.c)
 * on a loghub *_structured.csv, and the HDFS session detector evaluation.
 *
 *   template_eval groups FILE.csv...   one row per file: lines, truth groups,
 *                                      mined templates, grouping accuracy
 *   template_eval hdfs TRAIN ABNORMAL  learn on the first 80% of TRAIN (normal
 *                                      sessions), FPR on the rest, recall on ABNORMAL
 *   template_eval speed FILE           mining throughput: the file's lines (up
 *                                      to 10,000) mined 100 times over, one core
 *
 * Grouping accuracy (Zhu et al., "Tools and Benchmarks for Automated Log
 * Parsing", ICSE-SEIP 2019): a line is correct when the set of lines of its
 * mined template equals the set of lines of its true event. The miner sees the
 * Content column (the message without the header, as in that benchmark), with
 * the default options: one configuration for every dataset.
 *
 * Exploration only (the published table uses none): EVAL_SIM / EVAL_DEPTH
 * override the similarity and depth; EVAL_VERBOSE=1 prints every mined group
 * with the true events it holds (EventId=in-group/total) on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detectors/baseline.h"
#include "detectors/drain.h"

#define MAXF 16

/* Split one CSV record (RFC 4180 quotes) in place; returns field count. */
static int csv_split(char *s, char **f, int maxf)
{
    int n = 0;
    char *w = s;
    while (n < maxf) {
        f[n++] = w;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '\0')
                    break;
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *w++ = *s++;
                }
            }
        }
        while (*s && *s != ',')
            *w++ = *s++;
        if (*s == ',') {
            *w++ = '\0';
            s++;
            continue;
        }
        *w = '\0';
        break;
    }
    return n;
}

typedef struct row {
    uint64_t pred;
    char *truth;
} row;

static int cmp_u64(const void *a, const void *b)
{
    const row *x = *(row *const *)a, *y = *(row *const *)b;
    return x->pred < y->pred ? -1 : x->pred > y->pred;
}

static int cmp_truth(const void *a, const void *b)
{
    return strcmp((*(row *const *)a)->truth, (*(row *const *)b)->truth);
}

static int groups(const char *path, double *acc_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    char *fv[MAXF];
    int ccontent = -1, cevent = -1;
    if ((len = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\r\n")] = '\0';
        int nf = csv_split(line, fv, MAXF);
        for (int i = 0; i < nf; i++) {
            if (!strcmp(fv[i], "Content"))
                ccontent = i;
            if (!strcmp(fv[i], "EventId"))
                cevent = i;
        }
    }
    if (ccontent < 0 || cevent < 0) {
        fprintf(stderr, "%s: no Content/EventId header\n", path);
        fclose(f);
        free(line);
        return 1;
    }
    vg_drain_opts eo = {.sim = getenv("EVAL_SIM") ? atof(getenv("EVAL_SIM")) : 0,
                        .depth = getenv("EVAL_DEPTH") ? (unsigned)atoi(getenv("EVAL_DEPTH")) : 0};
    vg_drain *d = vg_drain_create(&eo);
    row *rows = NULL;
    size_t n = 0, rcap = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\r\n")] = '\0';
        int nf = csv_split(line, fv, MAXF);
        if (nf <= ccontent || nf <= cevent)
            continue;
        vg_drain_match m;
        if (vg_drain_add(d, fv[ccontent], strlen(fv[ccontent]), &m) != VG_OK)
            continue;
        if (n == rcap) {
            rcap = rcap ? 2 * rcap : 1024;
            rows = realloc(rows, rcap * sizeof *rows);
        }
        rows[n].pred = m.id;
        rows[n].truth = strdup(fv[cevent]);
        n++;
    }
    fclose(f);
    free(line);
    /* final template of each line: templates only generalize, ids are stable */
    row **bp = malloc(n * sizeof *bp), **bt = malloc(n * sizeof *bt);
    for (size_t i = 0; i < n; i++)
        bp[i] = bt[i] = &rows[i];
    qsort(bp, n, sizeof *bp, cmp_u64);
    qsort(bt, n, sizeof *bt, cmp_truth);
    size_t correct = 0, ntruth = 0;
    for (size_t i = 0; i < n; i++)
        ntruth += i == 0 || strcmp(bt[i]->truth, bt[i - 1]->truth) != 0;
    if (getenv("EVAL_VERBOSE"))
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && bp[j]->pred == bp[i]->pred)
                j++;
            {
                fprintf(stderr, "%4zu %s :", j - i, vg_drain_template(d, bp[i]->pred));
                for (size_t k = i; k < j; k++) {
                    size_t c = 0;
                    bool dup = false;
                    for (size_t q = i; q < k; q++)
                        dup |= !strcmp(bp[q]->truth, bp[k]->truth);
                    if (dup)
                        continue;
                    for (size_t q = i; q < j; q++)
                        c += !strcmp(bp[q]->truth, bp[k]->truth);
                    size_t tot = 0;
                    for (size_t q = 0; q < n; q++)
                        tot += !strcmp(rows[q].truth, bp[k]->truth);
                    fprintf(stderr, " %s=%zu/%zu", bp[k]->truth, c, tot);
                }
                fprintf(stderr, "\n");
            }
            i = j;
        }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        bool same = true;
        while (j < n && bp[j]->pred == bp[i]->pred) {
            same &= strcmp(bp[j]->truth, bp[i]->truth) == 0;
            j++;
        }
        if (same) {
            size_t tsize = 0;
            for (size_t k = 0; k < n; k++)
                tsize += strcmp(rows[k].truth, bp[i]->truth) == 0;
            if (tsize == j - i)
                correct += j - i;
        }
        i = j;
    }
    vg_drain_stats st;
    vg_drain_get_stats(d, &st);
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    char ds[64];
    snprintf(ds, sizeof ds, "%.*s", (int)strcspn(name, "_"), name);
    *acc_out = n ? (double)correct / n : 0;
    printf("| %-10s | %5zu | %5zu | %5zu | %.3f |\n", ds, n, ntruth, st.templates, *acc_out);
    for (size_t i = 0; i < n; i++)
        free(rows[i].truth);
    free(rows);
    free(bp);
    free(bt);
    vg_drain_destroy(d);
    return 0;
}

/* Read sessions: one per line, event ids separated by spaces. */
static size_t read_sessions(const char *path, uint32_t ***seq, size_t **lens)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0, n = 0, scap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (n == scap) {
            scap = scap ? 2 * scap : 1024;
            *seq = realloc(*seq, scap * sizeof **seq);
            *lens = realloc(*lens, scap * sizeof **lens);
        }
        uint32_t *v = NULL;
        size_t k = 0, vc = 0;
        for (char *p = line, *e; *p; p = e) {
            long x = strtol(p, &e, 10);
            if (e == p) {
                if (!*p)
                    break;
                e = p + 1;
                continue;
            }
            if (k == vc) {
                vc = vc ? 2 * vc : 32;
                v = realloc(v, vc * sizeof *v);
            }
            v[k++] = (uint32_t)x;
        }
        (*seq)[n] = v;
        (*lens)[n] = k;
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static int hdfs(const char *train, const char *abnormal)
{
    uint32_t **tr = NULL, **ab = NULL;
    size_t *tl = NULL, *al = NULL;
    size_t nt = read_sessions(train, &tr, &tl), na = read_sessions(abnormal, &ab, &al);
    size_t nlearn = nt * 8 / 10;
    vg_seqdet *sd = vg_seqdet_create(NULL);
    for (size_t i = 0; i < nlearn; i++)
        vg_seqdet_learn(sd, tr[i], tl[i]);
    size_t fp = 0, tp = 0;
    for (size_t i = nlearn; i < nt; i++)
        fp += vg_seqdet_check(sd, tr[i], tl[i], NULL) != 0;
    for (size_t i = 0; i < na; i++)
        tp += vg_seqdet_check(sd, ab[i], al[i], NULL) != 0;
    double fpr = (double)fp / (double)(nt - nlearn), rec = (double)tp / (double)na;
    printf("| learn (first 80%% of normal) | %zu sessions |\n", nlearn);
    printf("| false positives on the other 20%% | %zu / %zu = %.2f%% |\n", fp, nt - nlearn,
           100 * fpr);
    printf("| recall on abnormal | %zu / %zu = %.2f%% |\n", tp, na, 100 * rec);
    vg_seqdet_destroy(sd);
    for (size_t i = 0; i < nt; i++)
        free(tr[i]);
    for (size_t i = 0; i < na; i++)
        free(ab[i]);
    free(tr);
    free(ab);
    free(tl);
    free(al);
    return fpr <= 0.05 && rec >= 0.90 ? 0 : 2;
}

static int speed(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    enum { MAXL = 10000 };
    char **lines = calloc(MAXL, sizeof *lines), *line = NULL;
    size_t cap = 0, n = 0, bytes = 0;
    ssize_t len;
    while (n < MAXL && (len = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\r\n")] = '\0';
        bytes += strlen(line) + 1;
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    vg_drain *d = vg_drain_create(NULL);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    vg_drain_match m;
    for (int r = 0; r < 100; r++)
        for (size_t i = 0; i < n; i++)
            vg_drain_add(d, lines[i], strlen(lines[i]), &m);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    vg_drain_stats st;
    vg_drain_get_stats(d, &st);
    const char *name = strrchr(path, '/');
    printf("| %-20s | %7zu | %3zu | %9.0f | %6.1f |\n", name ? name + 1 : path, 100 * n,
           st.templates, (double)(100 * n) / s, (double)(100 * bytes) / s / 1e6);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    vg_drain_destroy(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "speed")) {
        printf("| file (whole lines)   |   lines | tpl |   lines/s |   MB/s |\n");
        printf("|----------------------|--------:|----:|----------:|-------:|\n");
        for (int i = 2; i < argc; i++)
            if (speed(argv[i]))
                return 1;
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "groups")) {
        double sum = 0, min = 1, a;
        printf("| dataset    | lines | truth | mined | accuracy |\n");
        printf("|------------|------:|------:|------:|---------:|\n");
        for (int i = 2; i < argc; i++) {
            if (groups(argv[i], &a))
                return 1;
            sum += a;
            min = a < min ? a : min;
        }
        printf("| **mean**   |       |       |       | **%.3f** |\n", sum / (argc - 2));
        return sum / (argc - 2) >= 0.93 && min >= 0.85 ? 0 : 2;
    }
    if (argc == 4 && !strcmp(argv[1], "hdfs"))
        return hdfs(argv[2], argv[3]);
    fprintf(stderr, "usage: %s groups FILE.csv... | hdfs TRAIN ABNORMAL | speed FILE...\n",
            argv[0]);
    return 1;
}

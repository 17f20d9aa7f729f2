/* test_prefilter.c - the Aho-Corasick prefilter, checked against a naive search. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "detectors/prefilter.h"

typedef struct hits {
    uint32_t seen[64];
} hits;

static void on_hit(void *ud, uint32_t id)
{
    ((hits *)ud)->seen[id]++;
}

static void on_hit_big(void *ud, uint32_t id)
{
    ((uint32_t *)ud)[id]++;
}

static bool naive_contains(const char *t, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && (t[i + k] | (t[i + k] >= 'A' && t[i + k] <= 'Z' ? 32 : 0)) ==
                            (lit[k] | (lit[k] >= 'A' && lit[k] <= 'Z' ? 32 : 0)))
            k++;
        if (k == m)
            return true;
    }
    return false;
}

static const char *const lits[] = {"he", "she", "his", "hers", "failed password", "UNION SELECT",
                                   "../", "/etc/passwd", "a", "aaa", "\xff\x00z"};
#define NL (sizeof lits / sizeof lits[0])

Test(prefilter, classic_and_case_folding)
{
    vg_prefilter *pf = vg_prefilter_create();
    for (uint32_t i = 0; i < NL; i++)
        cr_assert(vg_prefilter_add(pf, lits[i], i == 10 ? 3 : strlen(lits[i]), i));
    cr_assert(vg_prefilter_build(pf));
    static const char *const texts[] = {
        "ushers", "Failed Password for root", "GET /x?q=1%20union select", "/../../ETC/PASSWD",
        "", "bbbb", "ahishers", "union selec"};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        hits h = {0};
        vg_prefilter_scan(pf, texts[t], strlen(texts[t]), on_hit, &h);
        for (uint32_t i = 0; i < NL - 1; i++)
            cr_assert_eq(h.seen[i] > 0, naive_contains(texts[t], strlen(texts[t]), lits[i]),
                         "text '%s' literal '%s': got %u", texts[t], lits[i], h.seen[i]);
    }
    hits h = {0};
    vg_prefilter_scan(pf, "x\xff\x00zy", 5, on_hit, &h);
    cr_assert(h.seen[10] > 0, "binary literal with NUL");
    vg_prefilter_destroy(pf);
}

Test(prefilter, random_against_naive)
{
    srand(7);
    for (int round = 0; round < 200; round++) {
        vg_prefilter *pf = vg_prefilter_create();
        char lit[16][8];
        int nl = 1 + rand() % 16;
        for (int i = 0; i < nl; i++) {
            int len = 1 + rand() % 5;
            for (int k = 0; k < len; k++)
                lit[i][k] = "abAB."[rand() % 5];
            lit[i][len] = '\0';
            cr_assert(vg_prefilter_add(pf, lit[i], (size_t)len, (uint32_t)i));
        }
        cr_assert(vg_prefilter_build(pf));
        char text[64];
        int tn = rand() % 63;
        for (int k = 0; k < tn; k++)
            text[k] = "abABc."[rand() % 6];
        text[tn] = '\0';
        hits h = {0};
        vg_prefilter_scan(pf, text, (size_t)tn, on_hit, &h);
        for (int i = 0; i < nl; i++)
            cr_assert_eq(h.seen[i] > 0, naive_contains(text, (size_t)tn, lit[i]),
                         "round %d text '%s' lit '%s'", round, text, lit[i]);
        vg_prefilter_destroy(pf);
    }
}

Test(prefilter, limits)
{
    vg_prefilter *pf = vg_prefilter_create();
    cr_assert_not(vg_prefilter_add(pf, "", 0, 1), "empty literal refused");
    char big[5000];
    memset(big, 'x', sizeof big);
    cr_assert_not(vg_prefilter_add(pf, big, sizeof big, 1), "over-long literal refused");
    cr_assert_eq(vg_prefilter_states(pf), 1, "a refused literal adds no state");
    cr_assert(vg_prefilter_build(pf));
    hits h = {0};
    vg_prefilter_scan(pf, "xxxx", 4, on_hit, &h);
    vg_prefilter_destroy(pf);
}

/* A large automaton (past the full-table budget) uses sparse deep states:
   same answers as a naive search. */
Test(prefilter, large_automaton_sparse_states)
{
    enum { NLIT = 6000, LEN = 9 };
    static char lit[NLIT][LEN + 1];
    srand(11);
    vg_prefilter *pf = vg_prefilter_create();
    for (int i = 0; i < NLIT; i++) {
        for (int k = 0; k < LEN; k++)
            lit[i][k] = "abcdefghijklmnopqrstuvwxyz0123456789./"[rand() % 38];
        lit[i][LEN] = '\0';
        cr_assert(vg_prefilter_add(pf, lit[i], LEN, (uint32_t)i));
    }
    /* a few short ones, and one that is a suffix of long ones */
    cr_assert(vg_prefilter_add(pf, "abc", 3, NLIT));
    cr_assert(vg_prefilter_build(pf));
    cr_assert_gt(vg_prefilter_states(pf) * 40 * 4, 2u << 20, "the test must exercise sparse states");
    static uint32_t seen[NLIT + 1];
    for (int round = 0; round < 300; round++) {
        char text[200];
        int tn = 0;
        while (tn < 180) {
            if (rand() % 4 == 0) { /* plant a literal, sometimes cut short */
                int i = rand() % NLIT, len = rand() % 3 ? LEN : rand() % LEN;
                memcpy(text + tn, lit[i], (size_t)len);
                tn += len;
            } else {
                text[tn++] = "abcdefghijklmnopqrstuvwxyz0123456789./ "[rand() % 39];
            }
        }
        text[tn] = '\0';
        memset(seen, 0, sizeof seen);
        vg_prefilter_scan(pf, text, (size_t)tn, on_hit_big, seen);
        for (int i = 0; i < NLIT; i++)
            cr_assert_eq(seen[i] > 0, strstr(text, lit[i]) != NULL, "round %d literal %s", round,
                         lit[i]);
        cr_assert_eq(seen[NLIT] > 0, strstr(text, "abc") != NULL);
    }
    vg_prefilter_destroy(pf);
}

/* Lanes of different lengths give each text exactly its own literals. */
static void on_lane(void *ud, unsigned lane, uint32_t id)
{
    ((uint32_t(*)[16])ud)[lane][id]++;
}

Test(prefilter, lanes_match_single_scans)
{
    vg_prefilter *pf = vg_prefilter_create();
    static const char *const l[] = {"root", "password", "union select", "../", "cmd.exe"};
    for (uint32_t i = 0; i < 5; i++)
        cr_assert(vg_prefilter_add(pf, l[i], strlen(l[i]), i));
    cr_assert(vg_prefilter_build(pf));
    const char *texts[VG_PREFILTER_LANES] = {"Failed password for root", "", "GET /../../x",
                                             "q=1 UNION SELECT cmd.exe"};
    size_t lens[VG_PREFILTER_LANES];
    for (unsigned k = 0; k < VG_PREFILTER_LANES; k++)
        lens[k] = strlen(texts[k]);
    uint32_t got[VG_PREFILTER_LANES][16];
    memset(got, 0, sizeof got);
    vg_prefilter_scan_lanes(pf, texts, lens, VG_PREFILTER_LANES, on_lane, got);
    for (unsigned k = 0; k < VG_PREFILTER_LANES; k++)
        for (uint32_t i = 0; i < 5; i++)
            cr_assert_eq(got[k][i] > 0, naive_contains(texts[k], lens[k], l[i]),
                         "lane %u literal %s", k, l[i]);
    vg_prefilter_destroy(pf);
}

/* test_framer.c - the line framer: tables of (chunks, limits) -> lines. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/framer.h"

#define MAXOUT 16

/* A line as the test records it: text (may hold NUL), offset, flags. */
typedef struct got {
    char text[64];
    size_t n;
    unsigned long long offset, next;
    int truncated, no_newline;
} got;

typedef struct chunk {
    const char *p;
    size_t n; /* 0 = strlen */
} chunk;

typedef struct fcase {
    const char *name;
    size_t max_line, read_size;
    uint64_t start;
    chunk chunks[8];
    int flush;
    /* expected lines: "text" with flags suffix "|T" (truncated), "|N" (no newline) and "@offset" */
    const char *want[MAXOUT];
    size_t want_nul_len[MAXOUT]; /* for lines holding NUL: explicit length */
} fcase;

static void record(got *out, size_t *nout, const vg_line *l)
{
    cr_assert_lt(*nout, MAXOUT, "too many lines");
    got *g = &out[(*nout)++];
    cr_assert_leq(l->n, sizeof g->text);
    memcpy(g->text, l->p, l->n);
    g->n = l->n;
    g->offset = l->offset;
    g->next = l->next;
    g->truncated = l->truncated;
    g->no_newline = l->no_newline;
}

/* Feed one chunk through space/commit in pieces of at most the room given,
   draining complete lines after each piece. */
static void feed(vg_framer *f, const char *p, size_t n, got *out, size_t *nout)
{
    while (n) {
        size_t room;
        char *dst = vg_framer_space(f, &room);
        cr_assert_not_null(dst);
        cr_assert_eq(room, f->read_size, "room %zu after draining", room);
        size_t k = n < room ? n : room;
        memcpy(dst, p, k);
        vg_framer_commit(f, k);
        p += k;
        n -= k;
        vg_line l;
        while (vg_framer_next(f, &l))
            record(out, nout, &l);
    }
}

static void format_got(const got *g, char *buf, size_t size)
{
    char text[sizeof g->text + 1];
    memcpy(text, g->text, g->n);
    text[g->n] = '\0';
    snprintf(buf, size, "%s%s%s@%llu", text, g->truncated ? "|T" : "", g->no_newline ? "|N" : "",
             g->offset);
}

static const fcase cases[] = {
    {"two lines", 64, 16, 0, {{"a\nb\n"}}, 0, {"a@0", "b@2"}},
    {"split across feeds", 64, 16, 0, {{"ab"}, {"c\nd"}, {"e\n"}}, 0, {"abc@0", "de@4"}},
    {"crlf", 64, 16, 0, {{"x\r\ny\r"}, {"\n"}}, 0, {"x@0", "y@3"}},
    {"lone cr kept inside", 64, 16, 0, {{"a\rb\n"}}, 0, {"a\rb@0"}},
    {"empty lines", 64, 16, 0, {{"\n\n"}}, 0, {"@0", "@1"}},
    {"start offset", 64, 16, 100, {{"a\nbc\n"}}, 0, {"a@100", "bc@102"}},
    {"partial held", 64, 16, 0, {{"abc\ndef"}}, 0, {"abc@0"}},
    {"partial flushed", 64, 16, 0, {{"abc\ndef"}}, 1, {"abc@0", "def|N@4"}},
    {"flush nothing", 64, 16, 0, {{"abc\n"}}, 1, {"abc@0"}},
    {"truncated", 4, 16, 0, {{"abcdefgh\nij\n"}}, 0, {"abcd|T@0", "ij@9"}},
    {"exactly max_line", 4, 16, 0, {{"abcd\nx\n"}}, 0, {"abcd@0", "x@5"}},
    {"exactly max_line crlf", 4, 16, 0, {{"abcd\r\nx\n"}}, 0, {"abcd@0", "x@6"}},
    {"max_line plus one", 4, 16, 0, {{"abcde\nx\n"}}, 0, {"abcd|T@0", "x@6"}},
    {"truncated across tiny reads", 4, 3, 0, {{"abcdefghijklmnop\nqr\n"}}, 0,
     {"abcd|T@0", "qr@17"}},
    {"truncated then newline in a later feed", 4, 16, 0, {{"abcdefg"}, {"hij"}, {"\nk\n"}}, 0,
     {"abcd|T@0", "k@11"}},
    {"truncated partial flushed", 4, 16, 0, {{"abcdefg"}}, 1, {"abcd|T@0"}},
    {"long partial flushed is cut", 4, 3, 0, {{"abcde"}}, 1, {"abcd|T|N@0"}},
    {"nul bytes", 64, 16, 0, {{"a\0b\nc\n", 6}}, 0, {"a?b@0", "c@4"}, {3}},
    {"invalid utf8 and escapes", 64, 16, 0, {{"\xff\xfe\x1b[31m\n"}}, 0, {"\xff\xfe\x1b[31m@0"}},
};

Test(framer, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fcase *c = &cases[i];
        vg_framer f;
        cr_assert_eq(vg_framer_init(&f, c->max_line, c->read_size, c->start), 0);
        got out[MAXOUT];
        size_t nout = 0;
        for (size_t k = 0; k < 8 && c->chunks[k].p; k++) {
            size_t n = c->chunks[k].n ? c->chunks[k].n : strlen(c->chunks[k].p);
            feed(&f, c->chunks[k].p, n, out, &nout);
        }
        vg_line l;
        if (c->flush)
            while (vg_framer_flush(&f, &l))
                record(out, &nout, &l);
        size_t nwant = 0;
        while (nwant < MAXOUT && c->want[nwant])
            nwant++;
        cr_expect_eq(nout, nwant, "%s: %zu lines, want %zu", c->name, nout, nwant);
        for (size_t k = 0; k < nout && k < nwant; k++) {
            char buf[160];
            if (c->want_nul_len[k]) {
                /* compare raw bytes: the table writes NUL as '?' */
                for (size_t j = 0; j < out[k].n; j++)
                    if (out[k].text[j] == '\0')
                        out[k].text[j] = '?';
                cr_expect_eq(out[k].n, c->want_nul_len[k], "%s: line %zu length", c->name, k);
            }
            format_got(&out[k], buf, sizeof buf);
            cr_expect_str_eq(buf, c->want[k], "%s: line %zu", c->name, k);
        }
        vg_framer_destroy(&f);
    }
}

Test(framer, next_offsets_are_resume_points)
{
    vg_framer f;
    cr_assert_eq(vg_framer_init(&f, 8, 64, 10), 0);
    got out[MAXOUT];
    size_t nout = 0;
    feed(&f, "one\ntwo\nthr", 11, out, &nout);
    cr_assert_eq(nout, 2);
    cr_expect_eq(out[0].next, 14);
    cr_expect_eq(out[1].next, 18);
    cr_expect_eq(vg_framer_offset(&f), 18);
    cr_expect_eq(vg_framer_pending(&f), 3);
    vg_framer_destroy(&f);
}

Test(framer, resume_point_stays_on_a_truncated_line_until_its_newline)
{
    vg_framer f;
    cr_assert_eq(vg_framer_init(&f, 4, 64, 0), 0);
    got out[MAXOUT];
    size_t nout = 0;
    feed(&f, "ok\nabcdefghij", 13, out, &nout);
    cr_assert_eq(nout, 2);
    cr_expect(out[1].truncated);
    cr_expect_eq(out[1].next, 3, "newline not seen: next is the line's own offset");
    cr_expect_eq(vg_framer_offset(&f), 3);
    feed(&f, "klm\nz\n", 6, out, &nout);
    cr_assert_eq(nout, 3);
    cr_expect_eq(vg_framer_offset(&f), 19);
    cr_expect_eq(f.truncated_lines, 1);
    cr_expect_eq(f.skipped_bytes, 3 + 6 + 1); /* "efghij" + "klm\n" */
    vg_framer_destroy(&f);
}

Test(framer, ten_megabyte_line_bounded_memory)
{
    const size_t max_line = 1024, rs = 4096, big = 10u << 20;
    vg_framer f;
    cr_assert_eq(vg_framer_init(&f, max_line, rs, 0), 0);
    size_t nlines = 0, fed = 0;
    const char tail[] = "\nafter\n";
    size_t total = big + sizeof tail - 1;
    while (fed < total) {
        size_t room;
        char *dst = vg_framer_space(&f, &room);
        cr_assert_not_null(dst);
        cr_assert_leq(f.cap, max_line + 2 + rs, "buffer grew to %zu", f.cap);
        size_t k = 0;
        for (; k < room && fed + k < total; k++) {
            size_t pos = fed + k;
            dst[k] = pos < big ? 'x' : tail[pos - big];
        }
        vg_framer_commit(&f, k);
        fed += k;
        vg_line l;
        while (vg_framer_next(&f, &l)) {
            if (nlines == 0) {
                cr_expect(l.truncated);
                cr_expect_eq(l.n, max_line);
                cr_expect_eq(l.offset, 0);
            } else {
                cr_expect_eq(l.n, 5);
                cr_expect_eq(memcmp(l.p, "after", 5), 0);
                cr_expect_eq(l.offset, big + 1);
                cr_expect_not(l.truncated);
            }
            nlines++;
        }
    }
    cr_expect_eq(nlines, 2);
    cr_expect_eq(f.truncated_lines, 1);
    cr_expect_eq(f.skipped_bytes, big - max_line + 1);
    cr_expect_eq(vg_framer_offset(&f), total);
    vg_framer_trim(&f);
    cr_expect_null(f.buf, "trim frees an empty buffer");
    vg_framer_destroy(&f);
}

Test(framer, reset_and_trim_keep_pending)
{
    vg_framer f;
    cr_assert_eq(vg_framer_init(&f, 16, 32, 0), 0);
    got out[MAXOUT];
    size_t nout = 0;
    feed(&f, "a\npart", 6, out, &nout);
    vg_framer_trim(&f);
    cr_expect_eq(f.cap, 4);
    feed(&f, "ial\n", 4, out, &nout);
    cr_assert_eq(nout, 2);
    char buf[160];
    format_got(&out[1], buf, sizeof buf);
    cr_expect_str_eq(buf, "partial@2");
    vg_framer_reset(&f, 0);
    cr_expect_eq(vg_framer_pending(&f), 0);
    cr_expect_eq(vg_framer_offset(&f), 0);
    vg_framer_destroy(&f);
    vg_framer_destroy(NULL);
    cr_expect_eq(vg_framer_init(&f, 0, 10, 0), -1);
}

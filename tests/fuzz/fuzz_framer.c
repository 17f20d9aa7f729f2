/*
 * fuzz_framer.c - libFuzzer target: the line framer fed in chunks. The first
 * bytes choose max_line, read_size and the chunk sizes; the rest is the
 * stream. Invariants: every line has n <= max_line, lies inside the buffer,
 * offsets are monotonic (offset <= next, each line starts at or after the
 * previous `next`), and no byte is returned that was not fed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/framer.h"

static uint64_t last_next;
static size_t max_line;

static void check(const vg_line *l, uint64_t fed)
{
    if (l->n > max_line || (l->n && !l->p))
        abort();
    if (l->offset < last_next || l->next < l->offset || l->next > fed)
        abort();
    if (!l->truncated && !l->no_newline && l->next < l->offset + l->n + 1)
        abort();
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < l->n; i++)
        sink ^= (unsigned char)l->p[i];
    (void)sink;
    last_next = l->next > l->offset ? l->next : l->offset;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    max_line = 1 + data[0] % 64;
    size_t read_size = 1 + data[1] % 32;
    uint8_t seed_a = data[2], seed_b = data[3];
    data += 4;
    size -= 4;

    vg_framer f;
    if (vg_framer_init(&f, max_line, read_size, 0) != 0)
        abort();
    last_next = 0;
    uint64_t fed = 0;
    size_t i = 0, k = 0;
    vg_line l;
    while (i < size) {
        size_t room = 0;
        char *p = vg_framer_space(&f, &room);
        if (!p || room == 0 || room > read_size)
            abort();
        size_t want = 1 + (size_t)((seed_a + k * seed_b) % read_size);
        k++;
        if (want > room)
            want = room;
        if (want > size - i)
            want = size - i;
        memcpy(p, data + i, want);
        vg_framer_commit(&f, want);
        i += want;
        fed += want;
        while (vg_framer_next(&f, &l))
            check(&l, fed);
        if (vg_framer_offset(&f) > fed)
            abort();
        if ((seed_a & 1) && (k % 7) == 0)
            vg_framer_trim(&f);
    }
    if (vg_framer_flush(&f, &l))
        check(&l, fed);
    if (vg_framer_offset(&f) > fed)
        abort();
    vg_framer_destroy(&f);
    return 0;
}

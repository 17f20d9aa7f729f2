/*
 * fuzz_listen.c - libFuzzer target: the syslog listener's framing and
 * per-message path (collectors/listen.c) without sockets, through
 * vg_listen_inject, then the syslog parser on every event read().
 *
 * The first input byte: bits 0-1 the transport (tcp, tcp, udp, unix), bits
 * 2-3 max_message (64, 200, 2048, 65536), bit 4 a small queue (16
 * messages: the queue-full path), bit 5 a rate limit (burst 3), bits 6-7
 * read() after every chunk or only at the end. The next 4 bytes are chunk
 * sizes (TCP reads or datagrams), used in turn; the rest is the stream.
 * TCP ends with a close (NULL), and a second connection then sends the
 * same bytes in one piece. Checks per event: 0 < raw.n <= max_message, no
 * trailing '\n', '\r' or NUL (stripped), the sender address field set;
 * every parsed field readable (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "collectors/listen.h"
#include "collectors/parser.h"

static size_t drain(void *L, vg_batch *b, const vg_parser *p, vg_arena *arena, size_t max_message)
{
    size_t got = 0;
    for (;;) {
        vg_batch_reset(b);
        if (vg_collector_syslog.read(L, b, b->cap) != VG_OK)
            return got;
        for (size_t i = 0; i < b->n; i++) {
            vg_event *ev = &b->ev[i];
            const char *r = ev->raw.p;
            size_t n = ev->raw.n;
            if (!n || n > max_message || r[n - 1] == '\n' || r[n - 1] == '\r' || r[n - 1] == '\0')
                abort();
            if (!vg_event_get(ev, VG_STR("log.source.address")))
                abort();
            vg_parse_ctx ctx = {.arena = arena, .tz = NULL, .now_ns = 1700000000LL * 1000000000LL};
            p->parse(&ctx, ev);
            volatile unsigned char sink = 0;
            for (uint16_t k = 0; k < ev->nfields; k++) {
                for (size_t j = 0; j < ev->fields[k].value.n; j++)
                    sink ^= (unsigned char)ev->fields[k].value.p[j];
            }
            (void)sink;
            vg_arena_reset(arena);
            got++;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        vg_log_set_quiet(true);
        vg_log_set_level(VG_LOG_ERROR);
        once = true;
    }
    if (size < 5)
        return 0;
    unsigned mode = data[0];
    size_t chunk[4];
    for (int i = 0; i < 4; i++)
        chunk[i] = (size_t)data[1 + i] * ((i & 1) ? 1 : 97) + 1;
    data += 5;
    size -= 5;
    static const size_t maxes[4] = {64, 200, 2048, 65536};
    static const char *const tr[4] = {"tcp", "tcp", "udp", "unix"};
    const char *t = tr[mode & 3];
    vg_listen_conf lc = {
        .name = "fuzz",
        .tcp = "127.0.0.1:0",
        .max_message = maxes[(mode >> 2) & 3],
        .queue_messages = (mode & 16) ? 16 : 0,
        .rate = (mode & 32) ? 1 : 0,
        .burst = (mode & 32) ? 3 : 0,
    };
    void *L = NULL;
    vg_errbuf eb;
    if (vg_listen_create(&lc, NULL, NULL, &L, &eb))
        abort();
    const vg_parser *p = vg_parser_find("syslog");
    vg_batch b;
    vg_arena arena;
    if (!p || vg_batch_init(&b, 64, 1 << 16))
        abort();
    vg_arena_init(&arena, 1 << 16);
    /* The copy: ASan sees a read past the input. */
    char *in = malloc(size ? size : 1);
    if (!in)
        abort();
    memcpy(in, data, size);
    bool each = (mode >> 6) != 0;
    size_t off = 0;
    for (int k = 0; off < size; k++) {
        size_t c = chunk[k & 3];
        if (c > size - off)
            c = size - off;
        char *piece = malloc(c); /* exact size per chunk */
        if (!piece)
            abort();
        memcpy(piece, in + off, c);
        bool open = vg_listen_inject(L, t, piece, c);
        free(piece);
        off += c;
        if (each)
            drain(L, &b, p, &arena, lc.max_message);
        if (!open && !strcmp(t, "tcp"))
            break; /* a framing error closed the connection */
    }
    if (!strcmp(t, "tcp")) {
        vg_listen_inject(L, "tcp", NULL, 0);
        drain(L, &b, p, &arena, lc.max_message);
        if (vg_listen_inject(L, "tcp", in, size))
            vg_listen_inject(L, "tcp", NULL, 0);
    }
    drain(L, &b, p, &arena, lc.max_message);
    free(in);
    vg_arena_destroy(&arena);
    vg_batch_destroy(&b);
    vg_collector_syslog.destroy(L);
    return 0;
}

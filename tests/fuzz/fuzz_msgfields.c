/*
 * fuzz_msgfields.c - libFuzzer target: the shipped parser definitions
 * (packaging/parsers/linux.yml, loaded once in LLVMFuzzerInitialize from
 * $VG_SOURCE_ROOT or relative to the executable) applied to each line of the
 * input after the syslog parser. Invariant: every field apply() adds is a
 * substring of ev->message (the prefilter relies on captured values staying
 * inside the record).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/msgfields.h"
#include "collectors/parser.h"
#include "fuzz_lines.h"

static vg_msgfields *defs;
static vg_msgfields_scratch *scratch;

static void diag(void *ud, const vg_diag *d)
{
    (void)ud;
    fprintf(stderr, "fuzz_msgfields: %s:%d:%d: %s\n", d->file, d->line, d->col, d->msg);
}

static int try_path(char *out, size_t cap, const char *root)
{
    snprintf(out, cap, "%s/packaging/parsers/linux.yml", root);
    return access(out, R_OK) == 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char path[PATH_MAX + 64];
    const char *root = getenv("VG_SOURCE_ROOT");
    int found = root && try_path(path, sizeof path, root);
    if (!found && *argc > 0) {
        /* build-fuzz/fuzz_msgfields -> the source root is the parent of build-fuzz */
        char exe[PATH_MAX];
        if (realpath((*argv)[0], exe)) {
            for (int up = 0; up < 3 && !found; up++) {
                char *slash = strrchr(exe, '/');
                if (!slash)
                    break;
                *slash = '\0';
                found = try_path(path, sizeof path, exe);
            }
        }
    }
    if (!found) {
        fprintf(stderr, "fuzz_msgfields: linux.yml not found (set VG_SOURCE_ROOT)\n");
        exit(1);
    }
    char *paths[1] = {path};
    vg_strlist l = {paths, 1};
    vg_errbuf eb = {0};
    if (vg_msgfields_load(&l, 0, diag, NULL, &defs, &eb) != VG_OK ||
        vg_msgfields_count(defs) == 0) {
        fprintf(stderr, "fuzz_msgfields: cannot load %s: %s\n", path, eb.msg);
        exit(1);
    }
    scratch = vg_msgfields_scratch_create(defs);
    if (!scratch)
        exit(1);
    return 0;
}

typedef struct one_line {
    const vg_parser *syslog;
    vg_parse_ctx *ctx;
    vg_event *ev;
    vg_arena *arena;
} one_line;

/* One line: syslog, then the parser definitions; check what they added. */
static void parse_line(void *ud, const char *line, size_t n)
{
    one_line *l = ud;
    vg_event_clear(l->ev);
    l->ev->raw = (vg_str){line, n};
    l->syslog->parse(l->ctx, l->ev);
    uint16_t before = l->ev->nfields;
    size_t added = vg_msgfields_apply(defs, scratch, l->ev);
    if (l->ev->nfields > VG_EVENT_MAX_FIELDS || added > VG_EVENT_MAX_FIELDS)
        abort();
    for (uint16_t k = before; k < l->ev->nfields; k++) {
        const vg_field *f = &l->ev->fields[k];
        if (!f->name.p || !f->name.n)
            abort();
        if (f->value.n && (f->value.p < l->ev->message.p ||
                           f->value.p + f->value.n > l->ev->message.p + l->ev->message.n)) {
            fprintf(stderr, "field %.*s not inside the message\n", (int)f->name.n, f->name.p);
            abort();
        }
    }
    vg_arena_reset(l->arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const vg_parser *syslog = vg_parser_find("syslog");
    vg_arena arena;
    vg_arena_init(&arena, 64 * 1024);
    vg_parse_ctx ctx = {.arena = &arena, .now_ns = 1700000000LL * 1000000000LL};
    vg_event *ev = malloc(sizeof *ev);
    if (!ev)
        abort();
    one_line l = {syslog, &ctx, ev, &arena};
    fuzz_each_line(data, size, parse_line, &l);
    free(ev);
    vg_arena_destroy(&arena);
    return 0;
}

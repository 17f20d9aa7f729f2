/*
 * output_stdout.c - alerts on standard output: a readable (coloured) line on
 * a terminal, JSON lines otherwise (or as configured).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "output.h"

typedef struct out_stdout {
    bool text, color;
    int min_rank;
    vg_buf line;
    vg_counter *written, *errors;
} out_stdout;

static vg_err so_create(const vg_output_conf *c, vg_stats *st, void **self, vg_errbuf *eb)
{
    out_stdout *o = calloc(1, sizeof *o);
    if (!o)
        return vg_errf(eb, VG_ENOMEM, "out of memory");
    bool tty = isatty(STDOUT_FILENO);
    o->text = c->format == VG_OUTFMT_TEXT || (c->format == VG_OUTFMT_AUTO && tty);
    o->color = o->text && c->color && tty && !getenv("NO_COLOR");
    o->min_rank = c->min_level_rank;
    vg_buf_init(&o->line, 8 << 20);
    o->written = vg_stats_counter(st, "output.alerts", "output", c->name);
    o->errors = vg_stats_counter(st, "output.errors", "output", c->name);
    *self = o;
    return VG_OK;
}

static vg_err so_write(void *self, const vg_alert *a)
{
    out_stdout *o = self;
    if (a->rule->level_rank < o->min_rank)
        return VG_OK;
    vg_buf_reset(&o->line);
    if (o->text) {
        vg_alert_text(&o->line, a, o->color);
    } else {
        vg_buf_append(&o->line, a->json.p, a->json.n);
        vg_buf_putc(&o->line, '\n');
    }
    if (o->line.overflow || fwrite(o->line.p, 1, o->line.n, stdout) != o->line.n) {
        vg_counter_add(o->errors, 1);
        return VG_EIO;
    }
    vg_counter_add(o->written, 1);
    return VG_OK;
}

static vg_err so_flush(void *self, vg_errbuf *eb)
{
    if (fflush(stdout))
        return vg_errno(eb, VG_EIO, "stdout");
    return VG_OK;
}

static void so_destroy(void *self)
{
    out_stdout *o = self;
    if (!o)
        return;
    (void)fflush(stdout); /* errors were counted by so_flush */
    vg_buf_free(&o->line);
    free(o);
}

const vg_output_ops vg_output_stdout = {"stdout", so_create, so_write, so_flush, so_destroy};

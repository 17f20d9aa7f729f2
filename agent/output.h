/*
 * output.h - the seam every alert destination implements.
 *
 * An output receives built alerts (vg_alert: JSON plus the rule and event it
 * came from) from the pipeline thread, in order. write() may buffer; flush()
 * makes everything written so far durable at the destination (for a file:
 * written and fsync'ed) and is what the pipeline calls before committing
 * input positions — the acknowledgement path. The spool of the delivery
 * issue is an output whose flush() means "in the spool, on disk"; network
 * senders then read the spool on their own threads.
 *
 * Adding an output: one file agent/output_<type>.c with a const
 * vg_output_ops, and one line in the registry (output.c).
 */
#ifndef VG_OUTPUT_H
#define VG_OUTPUT_H

#include "alert.h"
#include "config.h"
#include "err.h"
#include "stats.h"

typedef struct vg_output_ops {
    const char *type;
    vg_err (*create)(const vg_output_conf *conf, vg_stats *stats, void **self, vg_errbuf *eb);
    /* Errors are counted by the output and returned; the pipeline retries
       at flush (a failed flush keeps positions from advancing). */
    vg_err (*write)(void *self, const vg_alert *a);
    vg_err (*flush)(void *self, vg_errbuf *eb);
    void (*destroy)(void *self);
} vg_output_ops;

const vg_output_ops *vg_output_find(const char *type);

extern const vg_output_ops vg_output_stdout;
extern const vg_output_ops vg_output_file;

/* The readable one-line form of an alert (shared by stdout and scan).
   Colour with ANSI codes when color is true; the event's bytes are made
   terminal-safe (escape sequences cannot reach the terminal). */
void vg_alert_text(vg_buf *b, const vg_alert *a, bool color);

#endif

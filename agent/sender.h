/*
 * sender.h - one thread per network output: spool -> transport -> ack.
 *
 * A sender reads its output's records from the spool at its own cursor
 * (a dead collector holds up nobody else), drops those below the output's
 * min_level, sends the rest in batches (count, bytes, delay), retries what was
 * not delivered with exponential back-off and full jitter, halves a batch the
 * peer finds too large, writes items the peer rejects as malformed to a
 * size-capped dead-letter file (state_dir/deadletter-<output>.jsonl), and
 * acknowledges a batch to the spool only when every item in it is delivered
 * or dead-lettered. Batches are acknowledged in order, so the spool's cursor
 * never passes an undelivered record.
 *
 * Spool records start with a two-byte header written by the pipeline:
 * kind ('a' alert, 'e' raw event, 's' agent state) and the level rank
 * ('0'..'4'), then optionally the key index of reckeys.h ("#...|"); the
 * JSON follows. vg_sender_record_header() builds the first two bytes.
 */
#ifndef VG_SENDER_H
#define VG_SENDER_H

#include "config.h"
#include "spool.h"
#include "stats.h"
#include "transport.h"

typedef struct vg_sender vg_sender;

#define VG_DEADLETTER_MAX (16 << 20) /* bytes per output; past it items are dropped, counted */

/* Create the output's transport (checks its configuration) and start its
   thread reading `sp`. The output must be a reader registered in the spool. */
vg_err vg_sender_start(const vg_output_conf *oc, vg_spool *sp, vg_stats *st,
                       const char *state_dir, vg_sender **out, vg_errbuf *eb);

/* The same with a given transport (tests use a scripted one). */
vg_err vg_sender_start_ops(const vg_output_conf *oc, const vg_transport_ops *ops, vg_spool *sp,
                           vg_stats *st, const char *state_dir, vg_sender **out, vg_errbuf *eb);

/* Interrupt (spool wake, transport wake), join, free. What was read and not
   acknowledged is sent again by the next run. NULL is fine. Call it for all
   senders before vg_spool_close. */
void vg_sender_stop(vg_sender *s);

/* Wake every sender's back-off wait (a configuration reload, a test). */
void vg_sender_kick(vg_sender *s);

/* Is `type` a spooled output type (has a transport)? */
bool vg_output_is_spooled(const char *type);

/* The spool record prefix: kind and level rank. */
static inline void vg_sender_record_header(char hdr[2], char kind, int level_rank)
{
    hdr[0] = kind;
    hdr[1] = (char)('0' + (level_rank < 0 ? 0 : level_rank > 4 ? 4 : level_rank));
}

/* Exponential back-off with full jitter: attempt 0 -> [min/2, min], doubling,
   capped at max. rnd is a uniform value in [0, 1). Pure, for tests. */
int64_t vg_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt, double rnd);

#endif

/*
 * redact.h - personal data removed from text before it leaves the host.
 *
 * A vg_redactor is built once from the configuration (`redaction:`): the
 * built-in detectors and the extra PCRE2 patterns. Built-in: the French NIR
 * (15 characters, Corsica 2A/2B, one optional space, dot or dash between
 * groups), redacted only when its key is right (97 - number mod 97, 2A -> 19,
 * 2B -> 18); e-mail addresses (ASCII local@domain.tld); IBANs (upper case,
 * optional single spaces, the registry's length for the country, ISO 13616
 * mod-97). A number glued to other letters or digits is not a match. Each
 * finding is replaced by a token: with method hash, `[NIR:3f9a1c2b]`, the
 * first 4 bytes of HMAC-SHA256(key, kind, normalised value) in hex, so the
 * same value always gives the same token and analysts can still correlate;
 * with method mask, `[NIR]`. Kinds: NIR, EMAIL, IBAN, REDACTED (patterns).
 *
 * The key is the content of redaction.key_file (refused when readable or
 * writable by others) or, by default, `<state_dir>/redact.key`: 32 random
 * bytes written once in hex with mode 0600 and reused from then on.
 *
 * Text is bytes: NULs and invalid UTF-8 are matched as bytes (PCRE2 without
 * UTF). Matching is linear for the built-in patterns (look-behinds keep a run
 * of digits or letters from being retried at each of its bytes). When a
 * pattern cannot finish (PCRE2 match or depth limit), redaction fails closed:
 * the rest of the text from that point is replaced by `[REDACTION-FAILED]`
 * and counted (redact.failures).
 *
 * Threads: a redactor is immutable after creation and can be shared; each
 * thread uses its own vg_redact_scratch.
 */
#ifndef VG_REDACT_H
#define VG_REDACT_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "json.h"
#include "stats.h"

#define VG_REDACT_KEY_FILE "redact.key"
#define VG_REDACT_MAX_PATTERNS 64

typedef struct vg_redactor vg_redactor;
typedef struct vg_redact_scratch vg_redact_scratch;

/*
 * Build a redactor from cfg's redact* fields (cfg->redact itself is not
 * looked at: the caller decides whether to redact). With method hash the key
 * is loaded or created now (state_dir must exist). st may be NULL; otherwise
 * the counters redact.replacements{kind} and redact.failures are registered.
 * On error *out is NULL and eb says why (a bad pattern names its index and
 * PCRE2's message with the offset).
 */
vg_err vg_redactor_create(const vg_config *cfg, vg_stats *st, vg_redactor **out, vg_errbuf *eb);
void vg_redactor_destroy(vg_redactor *r);

/* Per-thread match state for one redactor; NULL when out of memory. */
vg_redact_scratch *vg_redact_scratch_create(const vg_redactor *r);
void vg_redact_scratch_destroy(vg_redact_scratch *s);

/*
 * Append to `out` the text in[0..n) with every finding replaced by its token;
 * return the number of replacements (0: out received an exact copy). `out` is
 * appended to, not reset. If out->overflow is set afterwards, out is
 * incomplete and must be discarded (never sent as is).
 */
size_t vg_redact(const vg_redactor *r, vg_redact_scratch *s, const char *in, size_t n, vg_buf *out);

/* Validators, exposed for tests: the text holds exactly one candidate
   (spaces between groups allowed). */
int vg_redact_nir_valid(const char *s, size_t n);
int vg_redact_iban_valid(const char *s, size_t n);

#endif

/*
 * fuzz_baseline.c - libFuzzer target: baseline rules (x_vigie.baseline) and
 * suppression (x_vigie.suppress) parsed directly and through the stateful
 * engine, then run; see fuzz_stateful.h.
 */
#define FUZZ_STATEFUL_DIRECT
#include "fuzz_stateful.h"

/*
 * fuzz_correlation.c - libFuzzer target: Sigma correlation rules (with the
 * base rules they name) compiled, resolved and run; see fuzz_stateful.h.
 */
#include "fuzz_stateful.h"

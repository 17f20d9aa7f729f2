/*
 * fuzz_raw.c - libFuzzer target: the raw format parser on one record
 * (invariants and JSON round trip in fuzz_parser_common.h).
 */
#define FUZZ_PARSER "raw"
#include "fuzz_parser_common.h"

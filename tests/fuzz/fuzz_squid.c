/*
 * fuzz_squid.c - libFuzzer target: the squid format parser on one record
 * (invariants and JSON round trip in fuzz_parser_common.h).
 */
#define FUZZ_PARSER "squid"
#include "fuzz_parser_common.h"

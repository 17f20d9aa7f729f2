/*
 * fuzz_access.c - libFuzzer target: the access format parser on one record
 * (invariants and JSON round trip in fuzz_parser_common.h).
 */
#define FUZZ_PARSER "access"
#include "fuzz_parser_common.h"

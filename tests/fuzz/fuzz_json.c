/*
 * fuzz_json.c - libFuzzer target: the json format parser on one record
 * (invariants and JSON round trip in fuzz_parser_common.h).
 */
#define FUZZ_PARSER "json"
#include "fuzz_parser_common.h"

/*
 * fuzz_syslog.c - libFuzzer target: the syslog format parser on one record
 * (invariants and JSON round trip in fuzz_parser_common.h).
 */
#define FUZZ_PARSER "syslog"
#include "fuzz_parser_common.h"

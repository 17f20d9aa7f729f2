#!/bin/bash
# test_rsyslog_forward.sh - the syslog listener input fed by a real rsyslog
# (lib_rsyslog.sh with RS_FORWARD_PORT): rsyslog forwards what it receives
# to the listener over TCP, octet-counted RFC 5424 on one connection and
# LF-framed traditional syslog on another. Runs the "rsyslog_forward" suite
# of the test_listen unit executable with the VG_RS_* variables set.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rsyslog.sh"

BUILD=${VG_BUILD_ROOT:-$(dirname "$VIGIE")}
EXE=$BUILD/tests/test_listen
[ -x "$EXE" ] || skip "no $EXE (criterion tests not built)"

RS_FORWARD_PORT=$(rs_free_port)
rs_start "$T/rsyslog"
rc=$?
[ $rc = 77 ] && skip "rsyslog unavailable"
[ $rc = 0 ] || { fail "rsyslog started"; finish; }
trap 'rs_stop; cleanup' EXIT

export VG_RS_FORWARD_PORT=$RS_FORWARD_PORT VG_RS_FWD_IN_PORT=$RS_FWD_IN_PORT
out=$("$EXE" --jobs 1 --filter 'rsyslog_forward/*' --verbose 2>&1)
syn=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -1)
echo "  $syn"
check "the rsyslog forwarding test passes" \
    grep -q 'Tested: 1 | Passing: 1 | Failing: 0 | Crashing: 0' <<<"$syn"
check "it was not skipped" bash -c '! grep -q "^\[SKIP\] rsyslog_forward" <<<"$1"' _ "$out"
printf '%s\n' "$out" | grep -E '^\[(FAIL|SKIP)\] rsyslog|forwarded by|Assertion' | sed 's/^/    /'
finish

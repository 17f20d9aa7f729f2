#!/bin/bash
# test_rsyslog_transport.sh - the syslog output against a real rsyslog
# (lib_rsyslog.sh): 100 items over TCP, over TLS, over mutual TLS; a server
# certificate of another CA and a wrong server name are refused with
# VG_EPERM and a message that says why. Runs the "rsyslog" suite of the
# test_syslog unit executable with the VG_RS_* variables set.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rsyslog.sh"

BUILD=${VG_BUILD_ROOT:-$(dirname "$VIGIE")}
EXE=$BUILD/tests/test_syslog
[ -x "$EXE" ] || skip "no $EXE (criterion tests not built)"

rs_start "$T/rsyslog"
rc=$?
[ $rc = 77 ] && skip "rsyslog unavailable"
[ $rc = 0 ] || { fail "rsyslog started"; finish; }
trap 'rs_stop; cleanup' EXIT

export VG_RS_TCP_PORT=$RS_TCP_PORT VG_RS_TLS_PORT=$RS_TLS_PORT VG_RS_MTLS_PORT=$RS_MTLS_PORT \
    VG_RS_CA=$RS_CA VG_RS_OTHER_CA=$RS_OTHER_CA VG_RS_CLIENT_CERT=$RS_CLIENT_CERT \
    VG_RS_CLIENT_KEY=$RS_CLIENT_KEY VG_RS_LOG=$RS_LOG

out=$("$EXE" --jobs 1 --filter 'rsyslog/*' --verbose 2>&1)
syn=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -1)
echo "  $syn"
check "7 rsyslog tests pass" grep -q 'Tested: 7 | Passing: 7 | Failing: 0 | Crashing: 0' <<<"$syn"
check "no rsyslog test skipped" bash -c '! grep -q "^\[SKIP\] rsyslog" <<<"$1"' _ "$out"
printf '%s\n' "$out" | grep -E '^\[(FAIL|SKIP)\] rsyslog|refused as expected|throughput|latency|Assertion' | sed 's/^/    /'

# What rsyslog wrote: "PRI HOSTNAME APP-NAME MSGID SD MSG", the MSG being the item JSON.
line=$(grep -m1 '"id":"tcp-0"' "$RS_LOG")
check "rsyslog parsed PRI, host, app, msgid and structured data" \
    grep -q '^131 web1 vigie alert \[vigie@32473 id="tcp-0" rule="r1" name="Test rule" level="high"\] {"@timestamp"' <<<"$line"
# 100 tcp + 100 tls + 5 by name + 5 insecure + 20 mutual TLS + 2 x (1 + 20,000 + 200) throughput items, all
# reported delivered: every one must reach the file (rsyslog writes asynchronously).
want=40632
check "all $want delivered items reach rsyslog's file" wait_for 60 bash -c '[ "$(wc -l <"$1")" -ge "$2" ]' _ "$RS_LOG" "$want"
echo "  rsyslog wrote $(count_lines "$RS_LOG") messages"
check "every received message is a whole JSON item" \
    python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1], encoding="utf-8"):
    j = l[l.index(" {") + 1:]
    json.loads(j); n += 1
sys.exit(0 if n >= 40632 else 1)' "$RS_LOG"

# The real agent: file input -> rule -> spool -> syslog output over TLS -> rsyslog; a second
# output with the wrong CA says why it cannot deliver; an rsyslog outage loses nothing.
if [ "$(basename "$VIGIE")" != vigie ] || [ ! -x "$VIGIE" ]; then
    echo "  (no vigie binary: agent checks skipped)"
    finish
fi
mkdir -p "$T/logs" "$T/rules" "$T/state"
cat >"$T/rules/r.yml" <<'RULE'
title: Syslog delivery marker
id: 0d7a1c52-3f7e-4b7e-9d38-6a1c9f3e2b10
status: test
level: high
logsource: {product: linux}
detection:
    keywords: ['SYSLOGME']
    condition: keywords
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 300ms}
rules: {paths: [$T/rules]}
inputs:
  - {name: app, type: file, paths: [$T/logs/app.log], start_at: beginning,
     logsource: {product: linux}}
outputs:
  - {type: syslog, name: rs, address: "localhost:$RS_TLS_PORT", tls: true, ca_file: $RS_CA,
     batch_delay: 50ms, retry_min: 100ms, retry_max: 500ms, timeout: 5s}
  - {type: syslog, name: wrongca, address: "127.0.0.1:$RS_TLS_PORT", tls: true,
     ca_file: $RS_OTHER_CA, retry_min: 100ms, retry_max: 500ms, timeout: 5s}
CONF
if ! "$VIGIE" config check -c "$T/vigie.yml" >"$T/check.out" 2>&1; then
    fail "config check"; sed 's/^/    /' "$T/check.out"; finish
fi
line() { printf 'Mar  3 10:00:00 host app[1]: %s n=%d\n' "$1" "$2" >>"$T/logs/app.log"; }
# distinct event ids of the marker rule's alerts in rsyslog's file
alert_ids() {
    python3 - "$RS_LOG" <<'PY'
import json, sys
ids = set()
for l in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if "Syslog delivery marker" not in l:
        continue
    ids.add(json.loads(l[l.index(" {") + 1:])["event"]["id"])
print(len(ids))
PY
}
have_alerts() { [ "$(alert_ids)" -ge "$1" ]; }

for i in $(seq 1 20); do line SYSLOGME "$i"; done
start_agent "$T/vigie.yml"
check "20 alerts reach rsyslog over TLS" wait_for 30 have_alerts 20
check "the output with the wrong CA says why" \
    wait_for 20 grep -q "not signed by a CA of ca_file $RS_OTHER_CA" "$T/agent.log"
grep -m1 "not signed by" "$T/agent.log" | sed 's/^/    /'

rs_stop
for i in $(seq 21 40); do line SYSLOGME "$i"; done
check "the agent reports the outage" \
    wait_for 20 grep -Eq "output 'rs'.*(closed the connection|connection lost|cannot deliver|refused)" "$T/agent.log"
rs_launch || fail "rsyslog restarts"
check "all 40 alerts arrive after the outage (at least once)" wait_for 60 have_alerts 40
echo "  distinct marker alerts in rsyslog: $(alert_ids); lines: $(grep -c 'Syslog delivery marker' "$RS_LOG")"
check "the agent stops cleanly" stop_agent
finish

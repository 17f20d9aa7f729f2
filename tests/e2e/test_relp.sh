#!/bin/bash
# test_relp.sh - the relp output against a real rsyslog with imrelp
# (lib_rsyslog.sh + rsyslog-relp): the agent sends alerts over plain RELP and
# RELP over TLS (the test CA of lib_rsyslog.sh; imrelp with
# tls.authMode=certvalid, so the client shows a certificate too); an rsyslog
# outage in the middle loses nothing; a server certificate of another CA is
# refused with a message that says why; the output's timeout ends a send to
# a frozen server; a stop during a blocked send is prompt; librelp writes
# nothing on stdout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rsyslog.sh"

[ -x "$VIGIE" ] || skip "no vigie binary at $VIGIE"

# rsyslog's RELP input (rsyslog-relp); rsyslog itself comes with rs_start.
imrelp_installed() { ls /usr/lib/*/rsyslog/imrelp.so >/dev/null 2>&1; }
if ! imrelp_installed; then
    echo "  installing rsyslog rsyslog-relp"
    mkdir -p "$T/rsyslog"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
          rsyslog rsyslog-relp >"$T/apt.log" 2>&1 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=300 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
            rsyslog rsyslog-relp >>"$T/apt.log" 2>&1; }; } ||
        skip "rsyslog-relp cannot be installed ($(tail -1 "$T/apt.log"))"
fi

RS=$T/rsyslog
RELP_PORT=$(rs_free_port)
RELP_TLS_PORT=$(rs_free_port)
RS_EXTRA_CONF="module(load=\"imrelp\")
input(type=\"imrelp\" address=\"127.0.0.1\" port=\"$RELP_PORT\" ruleset=\"vg_received\")
input(type=\"imrelp\" address=\"127.0.0.1\" port=\"$RELP_TLS_PORT\" ruleset=\"vg_received\"
      tls=\"on\" tls.cacert=\"$RS/ca.pem\" tls.mycert=\"$RS/server.pem\"
      tls.myprivkey=\"$RS/server.key\" tls.authmode=\"certvalid\")"
RS_EXTRA_PORTS="$RELP_PORT $RELP_TLS_PORT"
export RS_EXTRA_CONF RS_EXTRA_PORTS
rs_start "$RS"
rc=$?
[ $rc = 77 ] && skip "rsyslog unavailable"
[ $rc = 0 ] || { fail "rsyslog with imrelp started"; finish; }
trap 'kill -CONT "$RS_BG" 2>/dev/null; rs_stop; cleanup' EXIT

mkdir -p "$T/logs" "$T/rules" "$T/state"
cat >"$T/rules/r.yml" <<'RULE'
title: RELP delivery marker
id: 5b0e7f7c-61d2-4a55-9d0e-2f3c8a1b7e21
status: test
level: high
logsource: {product: linux}
detection:
    keywords: ['RELPME']
    condition: keywords
RULE
write_conf() { # $1 = timeout of the plain output
    cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 300ms}
rules: {paths: [$T/rules]}
inputs:
  - {name: app, type: file, paths: [$T/logs/app.log], start_at: beginning,
     logsource: {product: linux}}
outputs:
  - {type: relp, name: plain, address: "127.0.0.1:$RELP_PORT", app_name: vigie-plain,
     batch_delay: 50ms, retry_min: 100ms, retry_max: 500ms, timeout: $1}
  - {type: relp, name: tls, address: "localhost:$RELP_TLS_PORT", tls: true, ca_file: $RS_CA,
     cert_file: $RS_CLIENT_CERT, key_file: $RS_CLIENT_KEY,
     app_name: vigie-tls, batch_delay: 50ms, retry_min: 100ms, retry_max: 500ms, timeout: 60s}
  - {type: relp, name: wrongca, address: "localhost:$RELP_TLS_PORT", tls: true,
     ca_file: $RS_OTHER_CA, cert_file: $RS_CLIENT_CERT, key_file: $RS_CLIENT_KEY,
     app_name: vigie-wrong, retry_min: 100ms, retry_max: 500ms,
     timeout: 5s}
CONF
}
write_conf 5s
if ! "$VIGIE" config check -c "$T/vigie.yml" >"$T/check.out" 2>&1; then
    fail "config check of relp outputs"; sed 's/^/    /' "$T/check.out"; finish
fi
pass "config check of relp outputs"

# send-test-alert: the same transport, synchronous, with its answer.
check "send-test-alert over plain RELP is acknowledged" \
    "$VIGIE" send-test-alert -c "$T/vigie.yml" --output plain
cat >"$T/nocert.yml" <<CONF
agent: {state_dir: $T/state-nocert}
outputs:
  - {type: relp, name: nocert, address: "localhost:$RELP_TLS_PORT", tls: true, ca_file: $RS_CA,
     timeout: 5s}
CONF
"$VIGIE" send-test-alert -c "$T/nocert.yml" >"$T/nocert.out" 2>&1
check "without a client certificate, imrelp (certvalid) refuses: exit 1" test $? = 1
sed 's/^/    /' "$T/nocert.out" | head -3
cat >"$T/badname.yml" <<CONF
agent: {state_dir: $T/state-badname}
outputs:
  - {type: relp, name: badname, address: "localhost:$RELP_TLS_PORT", tls: true, ca_file: $RS_CA,
     cert_file: $RS_CLIENT_CERT, key_file: $RS_CLIENT_KEY, server_name: wrong.example,
     timeout: 5s}
CONF
"$VIGIE" send-test-alert -c "$T/badname.yml" >"$T/badname.out" 2>&1
check "a server certificate without server_name is refused: exit 1" test $? = 1
check "... and the message says so" grep -q "does not name 'wrong.example'" "$T/badname.out"
sed 's/^/    /' "$T/badname.out" | head -3

# Pinning the server certificate by fingerprint (SHA1, librelp's GnuTLS notation).
fp() { openssl x509 -noout -fingerprint "-$1" -in "$2" | sed "s/^.*Fingerprint=/$(tr a-z A-Z <<<"$1"):/"; }
fp_conf() { # $1 = fingerprint
    cat >"$T/fp.yml" <<CONF
agent: {state_dir: $T/state-fp}
outputs:
  - {type: relp, name: fp, address: "127.0.0.1:$RELP_TLS_PORT", tls: true, fingerprint: "$1",
     cert_file: $RS_CLIENT_CERT, key_file: $RS_CLIENT_KEY, timeout: 5s}
CONF
}
fp_conf "$(fp sha1 "$RS/server.pem")"
check "fingerprint (SHA1) of the server certificate: delivered" \
    "$VIGIE" send-test-alert -c "$T/fp.yml"
fp_conf "$(fp sha1 "$RS_CA")"
"$VIGIE" send-test-alert -c "$T/fp.yml" >"$T/fp.out" 2>&1
check "another fingerprint is refused: exit 1" test $? = 1
check "... and the message says so" grep -q "fingerprint is not SHA1:" "$T/fp.out"
sed 's/^/    /' "$T/fp.out" | head -2
fp_conf "SHA1:zz"
"$VIGIE" send-test-alert -c "$T/fp.yml" >"$T/fp.out" 2>&1
check "a malformed fingerprint is a configuration error" grep -q "fingerprint 'SHA1:zz': expected" "$T/fp.out"

line() { printf 'Mar  3 10:00:00 host app[1]: %s n=%d\n' "$1" "$2" >>"$T/logs/app.log"; }
# distinct event ids of the marker rule's alerts that rsyslog wrote for one app name
alert_ids() {
    python3 - "$RS_LOG" "$1" <<'PY'
import json, sys
ids = set()
try:
    f = open(sys.argv[1], encoding="utf-8", errors="replace")
except FileNotFoundError:
    print(0); sys.exit(0)
for l in f:
    parts = l.split(" ", 3)
    if len(parts) < 4 or parts[2] != sys.argv[2] or "RELP delivery marker" not in l:
        continue
    ids.add(json.loads(l[l.index(" {") + 1:])["event"]["id"])
print(len(ids))
PY
}
have_alerts() { [ "$(alert_ids "$1")" -ge "$2" ]; }

for i in $(seq 1 20); do line RELPME "$i"; done
start_agent "$T/vigie.yml"
check "20 alerts reach rsyslog over plain RELP" wait_for 30 have_alerts vigie-plain 20
check "20 alerts reach rsyslog over RELP with TLS" wait_for 30 have_alerts vigie-tls 20
check "the output with the wrong CA says why" \
    wait_for 20 grep -q "output 'wrongca'.*TLS certificate verify failed.*not signed by a CA of ca_file $RS_OTHER_CA" "$T/agent.log"
grep -m1 "output 'wrongca'" "$T/agent.log" | sed 's/^/    /'
check "nothing reaches rsyslog through the wrong CA" test "$(alert_ids vigie-wrong)" = 0
check "librelp prints nothing on stdout" test ! -s "$T/agent.out"

# Outage: rsyslog stops, 20 more alerts, rsyslog starts again: all 40 arrive.
rs_stop
for i in $(seq 21 40); do line RELPME "$i"; done
check "the agent reports the outage" \
    wait_for 20 grep -Eq "output '(plain|tls)'.*(connect|failed|broken|refused)" "$T/agent.log"
rs_launch || fail "rsyslog restarts"
check "all 40 alerts arrive over plain RELP after the outage" wait_for 60 have_alerts vigie-plain 40
check "all 40 alerts arrive over TLS after the outage" wait_for 60 have_alerts vigie-tls 40
echo "  distinct alerts: plain $(alert_ids vigie-plain), tls $(alert_ids vigie-tls);" \
    "lines: $(grep -c 'RELP delivery marker' "$RS_LOG")"
check "the agent stops cleanly" stop_agent

# A frozen rsyslog (SIGSTOP: the kernel still accepts connections, nothing
# answers): the plain output (timeout 1s) gives up at its timeout and says
# so; the TLS output (timeout 60s) is blocked in its send when the agent is
# asked to stop, and the stop is still prompt.
write_conf 1s
kill -STOP "$RS_BG"
for i in $(seq 41 50); do line RELPME "$i"; done
start_agent "$T/vigie.yml"
check "a send to a frozen server ends at the output's timeout" \
    wait_for 20 grep -q "output 'plain'.*timed out" "$T/agent.log"
grep -m1 "output 'plain'.*timed out" "$T/agent.log" | sed 's/^/    /'
tls_connected() { ss -Htn state established "( dport = :$RELP_TLS_PORT )" | grep -q .; }
check "the TLS output has a connection to the frozen server" wait_for 20 tls_connected
t0=$(date +%s%N)
check "the agent stops cleanly during a blocked send" stop_agent
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "  stop took $ms ms (output timeout 60 s)"
check "the stop is prompt (< 3 s)" test "$ms" -lt 3000
kill -CONT "$RS_BG"
start_agent "$T/vigie.yml"
check "the 10 alerts of the frozen time arrive (plain)" wait_for 60 have_alerts vigie-plain 50
check "the 10 alerts of the frozen time arrive (TLS)" wait_for 60 have_alerts vigie-tls 50
check "the agent stops cleanly at the end" stop_agent
check "librelp printed nothing on stdout" test ! -s "$T/agent.out"
finish

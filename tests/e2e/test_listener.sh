#!/bin/bash
# The syslog listener input end to end (real binary): `logger` over TCP and
# UDP, and a real rsyslog forwarding to the agent's TCP port, feed the same
# parsers and rules as a file; alerts name the sender as host.* and the agent
# as observer.*; the unix datagram socket too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rsyslog.sh"
command -v logger >/dev/null || skip "no logger (bsdutils)"

read -r TCP UDP < <(python3 -c 'import socket
a=socket.socket(); a.bind(("127.0.0.1",0)); b=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1",0))
print(a.getsockname()[1], b.getsockname()[1])')
mkdir -p "$T/rules" "$T/state"
cat >"$T/rules/r.yml" <<'RULE'
title: Listener marker
id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a98
status: test
level: high
logsource: {product: linux}
detection:
    keywords: ['LISTENME']
    condition: keywords
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$T/rules]}
inputs:
  - {name: net, type: syslog, tcp: "127.0.0.1:$TCP", udp: "127.0.0.1:$UDP", unix: "$T/log.sock",
     logsource: {product: linux}, rate: 1000}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
"$VIGIE" config check -c "$T/vigie.yml" >/dev/null 2>&1 || { fail "config check"; "$VIGIE" config check -c "$T/vigie.yml"; finish; }
printf 'inputs:\n  - {type: syslog, name: x}\n' >"$T/bad.yml"
refused() { "$VIGIE" config check -c "$T/bad.yml" 2>&1 | grep -q 'needs at least one of udp, tcp, tls, unix'; }
check "a syslog input without an address is refused" refused
start_agent "$T/vigie.yml"
listening() { grep -q "running:" "$T/agent.log"; }
check "agent running" wait_for 10 listening
have() { [ "$(count_lines "$T/alerts.json")" -ge "$1" ]; }

logger --server 127.0.0.1 --port "$TCP" --tcp --rfc5424 -t app "LISTENME tcp octet"
check "logger --tcp arrives" wait_for 10 have 1
logger --server 127.0.0.1 --port "$UDP" --udp --rfc3164 -t app "LISTENME udp"
check "logger --udp arrives" wait_for 10 have 2
logger -u "$T/log.sock" --socket-errors=on -t app "LISTENME unix"
check "logger -u (unix socket) arrives" wait_for 10 have 3
json_lines_valid "$T/alerts.json" || fail "alerts are JSON"
check "host.name is the sender's HOSTNAME, the agent is observer.*" grep -q "\"host\":{\"name\":\"$(hostname)\"},\"observer\":{\"hostname\"" "$T/alerts.json"
check "log.source.address is the sender" grep -q '"log":{"source":{"address":"127.0.0.1' "$T/alerts.json"

# A real rsyslog forwarding to the agent (omfwd over TCP).
RS_FORWARD_PORT=$TCP
rs_start "$T/rsyslog"
rc=$?
if [ $rc = 0 ]; then
    logger --server 127.0.0.1 --port "$RS_FWD_IN_PORT" --tcp -t dicom "LISTENME via rsyslog"
    check "a message forwarded by rsyslog arrives (twice: two forwarding actions)" wait_for 20 have 5
    rs_stop
else
    echo "  (rsyslog unavailable: forwarding case skipped)"
fi
check "agent alive" agent_alive
stop_agent
finish

#!/bin/bash
# sd_notify: `vigie run` talks to systemd through $NOTIFY_SOCKET. The test is
# systemd: it listens on a unix datagram socket of its own and checks that
# the agent sends READY=1 once running, WATCHDOG=1 every half WATCHDOG_USEC
# (only when the watchdog is meant for its pid), RELOADING=1 then READY=1
# around a SIGHUP reload, and STOPPING=1 on SIGTERM.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is needed for the notify socket"
mkdir -p "$T/logs" "$T/rules" "$T/state"
cat >"$T/rules/r.yml" <<'RULE'
title: Notify marker
id: 33333333-3333-4333-8333-333333333333
status: test
level: low
logsource: {product: linux}
detection:
    keywords: ['NOTIFYMARK']
    condition: keywords
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$T/rules]}
inputs:
  - {name: l, type: file, paths: [$T/logs/*.log], start_at: beginning, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/alerts.json}
CONF

# As root the agent wants a user to drop to, or --allow-root.
ALLOW_ROOT=()
[ "$(id -u)" = 0 ] && "$VIGIE" run --help 2>&1 | grep -q -- --allow-root && ALLOW_ROOT=(--allow-root)

# listen SOCKET OUT: every datagram received becomes one line of OUT
# (newlines inside a datagram become '|'), until killed.
LISTENER=
listen() {
    python3 - "$1" "$2" <<'PY' &
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".tmp")
os.rename(path + ".tmp", path)  # the socket appears only once bound
with open(out, "a") as f:
    while True:
        data = s.recv(4096)
        f.write(data.decode("utf-8", "replace").replace("\n", "|") + "\n")
        f.flush()
PY
    LISTENER=$!
}
stop_listener() { [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null; LISTENER=; }
trap 'stop_listener; cleanup' EXIT

count() { grep -c -- "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }
# Messages in order: "first line matching $2 comes after a line matching $3".
after() { awk -v a="$2" -v b="$3" 'index($0, b) { seen = 1 } seen && index($0, a) { ok = 1 } END { exit !ok }' "$1"; }

# 1. Watchdog meant for this process (systemd sets WATCHDOG_PID to the main pid).
N=$T/n1
listen "$T/notify1.sock" "$N"
check "notify socket listening" wait_for 10 test -S "$T/notify1.sock"
NOTIFY_SOCKET=$T/notify1.sock WATCHDOG_USEC=200000 \
    bash -c 'export WATCHDOG_PID=$$; exec "$0" run -c "$@"' "$VIGIE" "$T/vigie.yml" "${ALLOW_ROOT[@]}" \
    >>"$T/agent.out" 2>>"$T/agent.log" &
AGENT_PID=$!
check "READY=1 sent" wait_for 10 at_least "$N" "READY=1" 1
check "READY=1 comes with a STATUS" grep -q "READY=1|STATUS=" "$N"
check "WATCHDOG=1 pings while idle (every WATCHDOG_USEC/2)" wait_for 10 at_least "$N" "WATCHDOG=1" 4
echo "Mar  3 10:00:00 host app[1]: NOTIFYMARK" >>"$T/logs/a.log"
check "agent detects while notifying" wait_for 10 test -s "$T/alerts.json"
kill -HUP "$AGENT_PID"
check "RELOADING=1 on SIGHUP" wait_for 10 at_least "$N" "RELOADING=1" 1
check "READY=1 again after the reload" wait_for 10 after "$N" "READY=1" "RELOADING=1"
check "reload logged" wait_for 10 grep -q "reloaded:" "$T/agent.log"
w=$(count "$N" "WATCHDOG=1")
check "watchdog pings go on after the reload" wait_for 10 at_least "$N" "WATCHDOG=1" $((w + 2))
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"; rc=$?; AGENT_PID=
check "clean exit on SIGTERM (rc=$rc)" test "$rc" = 0
check "STOPPING=1 on SIGTERM" at_least "$N" "STOPPING=1" 1
check "STOPPING=1 comes after the reload" after "$N" "STOPPING=1" "RELOADING=1"
stop_listener

# 2. A watchdog meant for another process (WATCHDOG_PID is not ours): no pings.
N=$T/n2
listen "$T/notify2.sock" "$N"
check "second notify socket listening" wait_for 10 test -S "$T/notify2.sock"
NOTIFY_SOCKET=$T/notify2.sock WATCHDOG_USEC=100000 WATCHDOG_PID=1 \
    "$VIGIE" run -c "$T/vigie.yml" "${ALLOW_ROOT[@]}" >>"$T/agent.out" 2>>"$T/agent2.log" &
AGENT_PID=$!
check "READY=1 without a watchdog" wait_for 10 at_least "$N" "READY=1" 1
kill -USR1 "$AGENT_PID"
check "agent alive and answering" wait_for 10 grep -q -- "--- vigie statistics ---" "$T/agent2.log"
# An absence can only be seen over a period: 1 s is 10 watchdog periods.
t_end=$(( $(date +%s%N) / 1000000 + 1000 ))
idle_done() { [ $(( $(date +%s%N) / 1000000 )) -ge $t_end ]; }
wait_for 5 idle_done
check "no WATCHDOG=1 when WATCHDOG_PID is another process" test "$(count "$N" "WATCHDOG=1")" = 0
stop_agent
check "STOPPING=1 without a watchdog too" at_least "$N" "STOPPING=1" 1
stop_listener
finish

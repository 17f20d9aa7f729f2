#!/bin/bash
# Privilege drop: `vigie run` started as root becomes agent.user, keeps only
# agent.capabilities (checked in /proc/PID/status), gives it the state
# directory, and refuses to stay root without agent.user or --allow-root.
# Root only (skipped otherwise); creates a system user vigie-e2e if missing.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (it tests dropping root)"
U=vigie-e2e
if ! id "$U" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
        skip "cannot create the test user $U"
fi
UID_U=$(id -u "$U")

mkdir -p "$T/logs" "$T/rules"
chmod 0711 "$T" # as /var/lib is: the agent's user can reach its state directory
cat >"$T/rules/marker.yml" <<'RULE'
title: E2E privs marker
id: 5b0c3a7e-1f6e-4c52-9d7e-e2e0000000a1
status: test
level: low
logsource: {product: linux}
detection:
    keywords: ['VGPRIV-']
    condition: keywords
RULE
# A log only root can read: the kept CAP_DAC_READ_SEARCH must be what reads it.
printf 'Mar  3 10:00:00 host app[1]: VGPRIV-1 payload\n' >"$T/logs/secret.log"
chmod 0600 "$T/logs/secret.log"

conf() { # conf NAME AGENT-EXTRA
    cat >"$T/$1.yml" <<CONF
agent: {state_dir: $T/state-$1, commit_interval: 200ms $2}
rules: {paths: [$T/rules]}
inputs:
  - {name: logs, type: file, paths: [$T/logs/*.log], start_at: beginning, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/state-$1/alerts.json}
CONF
}
field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# Up = the status socket answers and the pipeline runs (handles TERM).
sock_up() { [ -S "$1/status.sock" ] && [ "$(grep -c 'vigie\[info\]: running:' "$T/agent.log")" -ge "$2" ]; }

echo "-- user + capabilities [cap_dac_read_search]"
conf caps ", user: $U, capabilities: [cap_dac_read_search]"
"$VIGIE" run -c "$T/caps.yml" >>"$T/agent.out" 2>>"$T/agent.log" &
AGENT_PID=$!
check "agent comes up" wait_for 15 sock_up "$T/state-caps" 1
check "real/effective/saved uid are $U ($UID_U)" \
    test "$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' /proc/$AGENT_PID/status)" = \
    "$UID_U $UID_U $UID_U $UID_U"
check "CapEff is only cap_dac_read_search (0000000000000004)" \
    test "$(field $AGENT_PID CapEff)" = 0000000000000004
check "CapPrm is only cap_dac_read_search" test "$(field $AGENT_PID CapPrm)" = 0000000000000004
check "bounding set trimmed too" test "$(field $AGENT_PID CapBnd)" = 0000000000000004
check "every thread runs as $U" \
    bash -c "for t in /proc/$AGENT_PID/task/*; do awk '\$1 == \"Uid:\" { exit \$3 != $UID_U }' \$t/status || exit 1; done"
check "one log line says what it did" grep -q "privileges: dropped root, now user $U" "$T/agent.log"
check "the state directory belongs to $U" test "$(stat -c %U "$T/state-caps")" = "$U"
check "its files too" test -z "$(find "$T/state-caps" ! -user "$U")"
alerts_seen() { [ "$(count_lines "$T/state-caps/alerts.json")" -ge 1 ]; }
check "reads a root-only 0600 log with the kept capability" wait_for 10 alerts_seen
check "status.sock is 0660" test "$(stat -c %a "$T/state-caps/status.sock")" = 660
check "vigie status works for root" "$VIGIE" status -s "$T/state-caps" --check
check "vigie status works for the agent's user" \
    runuser -u "$U" -- "$VIGIE" status -s "$T/state-caps" --check
check "vigie status refused to others (nobody)" \
    bash -c "! runuser -u nobody -- '$VIGIE' status -s '$T/state-caps' >/dev/null 2>&1"
check "clean stop" stop_agent

echo "-- user, no capabilities"
conf nocaps ", user: $U"
"$VIGIE" run -c "$T/nocaps.yml" >>"$T/agent.out" 2>>"$T/agent.log" &
AGENT_PID=$!
check "agent comes up" wait_for 15 sock_up "$T/state-nocaps" 2
check "CapEff is empty" test "$(field $AGENT_PID CapEff)" = 0000000000000000
check "CapPrm is empty" test "$(field $AGENT_PID CapPrm)" = 0000000000000000
check "clean stop" stop_agent

echo "-- no user"
conf root ""
"$VIGIE" run -c "$T/root.yml" >"$T/refuse.out" 2>"$T/refuse.log"
rc=$?
check "refuses to run as root without agent.user (rc=$rc)" test "$rc" != 0
check "and says how to fix it" grep -q "refusing to run as root: set agent.user" "$T/refuse.log"
check "--allow-root runs as root" bash -c "
    '$VIGIE' run --allow-root -c '$T/root.yml' 2>'$T/allow.log' & p=\$!
    for i in \$(seq 1 300); do grep -q 'running:' '$T/allow.log' && break; sleep 0.05; done
    grep -q 'running as root (--allow-root' '$T/allow.log'; ok=\$?
    kill -TERM \$p; wait \$p; exit \$ok"

echo "-- bad settings"
conf baduser ", user: no-such-user-vg"
check "unknown user refused" bash -c "'$VIGIE' run -c '$T/baduser.yml' 2>&1 | grep -q \"agent.user 'no-such-user-vg'\""
conf badcap ", user: $U, capabilities: [cap_flying]"
check "unknown capability refused" bash -c "'$VIGIE' run -c '$T/badcap.yml' 2>&1 | grep -q \"unknown capability 'cap_flying'\""
finish

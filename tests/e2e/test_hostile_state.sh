#!/bin/bash
# 1,000,000 distinct keys (100,000 under sanitizers) through the running agent
# against two stateful rules: a Sigma event_count correlation grouped by the
# source address, and a first_seen baseline on (user, address). Their tables
# stay at their caps (state.max_groups, baseline max_groups), evictions are
# counted and reported (vigie status), the agent's peak RSS stays under
# state.max_memory + the agent's own footprint (bound below), and the attack
# written after the flood (one address failing 5 times, a never seen
# user+address after learning) is detected; no flood key alerts.
. "$(dirname "$0")/lib.sh"

KEYS=1000000
[ -n "${VG_SANITIZE:-}" ] && KEYS=100000
RSS_BOUND_KB=$((64 * 1024)) # state.max_memory 16 MiB + ~20 MB agent + file buffers
[ -n "${VG_SANITIZE:-}${VG_VALGRIND:-}" ] && RSS_BOUND_KB=$((1024 * 1024)) # shadow memory of ASan / valgrind

mkdir -p "$T/logs" "$T/state" "$T/rules"
cat >"$T/rules/flood.yml" <<'RULE'
title: Hostile Login Failure
id: 0e1c5a52-0000-4000-8000-h0stile00001
status: test
logsource: {product: linux}
detection:
    sel:
        message|re: 'LOGIN FAIL user=(?<user>\S+) ip=(?<ip>[0-9.]+)'
    condition: sel
level: low
---
title: Hostile Repeated Failures From One Address
id: 0e1c5a52-0000-4000-8000-h0stile00002
correlation:
    type: event_count
    rules: [0e1c5a52-0000-4000-8000-h0stile00001]
    group-by: [ip]
    timespan: 10m
    condition: {gte: 5}
level: high
RULE
cat >"$T/rules/first.yml" <<'RULE'
title: Hostile First Seen User And Address
id: 0e1c5a52-0000-4000-8000-h0stile00003
status: test
logsource: {product: linux}
detection:
    sel:
        message|re: 'LOGIN FAIL user=(?<user>\S+) ip=(?<ip>[0-9.]+)'
    condition: sel
level: medium
x_vigie:
    baseline:
        type: first_seen
        group-by: [user, ip]
        learn: 2h
        history: 30d
        max_groups: 10000
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 500ms}
rules: {paths: [$T/rules]}
state: {max_groups: 10000, max_memory: 16MiB}
inputs:
  - {name: f, type: file, paths: [$T/logs/*.log], start_at: beginning, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
# KEYS distinct addresses and users between 06:00 and 07:40 (learning), then
# the attack at 09:00: 5 failures of mallory from 203.0.113.66.
awk -v n=$KEYS 'BEGIN {
  for (i = 0; i < n; i++) {
    s = int(i * 6000 / n)
    printf "Dec 10 %02d:%02d:%02d h app[1]: LOGIN FAIL user=u%d ip=10.%d.%d.%d\n", 6 + int(s / 3600), int(s / 60) % 60, s % 60, i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
  }
  for (k = 0; k < 5; k++) printf "Dec 10 09:00:0%d h app[1]: LOGIN FAIL user=mallory ip=203.0.113.66\n", k
}' >"$T/flood.tmp"
mv "$T/flood.tmp" "$T/logs/flood.log"
size=$(stat -c %s "$T/logs/flood.log")
t0=$(date +%s)
start_agent "$T/vigie.yml"
done_reading() { grep -qs "\"offset\": *$size\b\|\"offset\":$size\b" "$T/state/positions.json"; }
check "agent read the whole flood" wait_for 240 done_reading
echo "    ($((KEYS + 5)) lines in $(( $(date +%s) - t0 )) s)"
check "agent still running" agent_alive
hwm=$(awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status)
echo "    VmHWM ${hwm} kB (bound ${RSS_BOUND_KB} kB)"
check "peak RSS under the bound" [ "${hwm:-999999999}" -lt "$RSS_BOUND_KB" ]
"$VIGIE" status -s "$T/state" --metrics >"$T/metrics"
ev=$(sed -nE 's/^vigie_stateful_evictions(_total)?\{rule="0e1c5a52-0000-4000-8000-h0stile00002"\} ([0-9]+)$/\2/p' "$T/metrics")
bl=$(sed -nE 's/^vigie_baseline_evictions(_total)?\{rule="[^"]*h0stile00003[^"]*"\} ([0-9]+)$/\2/p' "$T/metrics")
echo "    stateful.evictions ${ev:-none}, baseline.evictions ${bl:-none}"
check "correlation evictions counted (>= keys - cap)" [ "${ev:-0}" -ge $((KEYS - 10000)) ]
check "first-seen evictions counted (>= keys - cap)" [ "${bl:-0}" -ge $((KEYS - 10000)) ]
check "clean stop" stop_agent
check "the correlation attack detected" grep -q '"Hostile Repeated Failures From One Address".*203.0.113.66\|203.0.113.66.*"Hostile Repeated Failures From One Address"' "$T/alerts.json"
check "the first-seen attack detected" grep -q '"Hostile First Seen User And Address".*mallory\|mallory.*"Hostile First Seen User And Address"' "$T/alerts.json"
check "no flood key alerted" bash -c "! grep -q '\"10\\.[0-9]*\\.[0-9]*\\.[0-9]*\"' '$T/alerts.json'"
echo "    $(count_lines "$T/alerts.json") alerts"
ls -la "$T/state" | awk '/stateful/ {print "    checkpoint " $NF " " $5 " bytes"}'
check "alerts are valid JSON objects" json_lines_valid "$T/alerts.json"
finish

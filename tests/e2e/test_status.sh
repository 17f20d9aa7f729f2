#!/bin/bash
# `vigie status`: the running agent's statistics over <state_dir>/status.sock
# as a table, the monitoring verdict of --check (exit 0/1/2), and the
# Prometheus text on the socket and on the optional HTTP listener (bound to
# 127.0.0.1 port 0; the port is read from the agent's log line).
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || apt-get install -y -q curl >/dev/null 2>&1 || skip "no curl"
mkdir -p "$T/logs" "$T/rules"
cat >"$T/rules/marker.yml" <<'RULE'
title: E2E status marker
id: 5b0c3a7e-1f6e-4c52-9d7e-e2e0000000b1
status: test
level: low
logsource: {product: linux}
detection:
    keywords: ['VGSTAT-']
    condition: keywords
RULE
# A hostile input name: quotes, backslash, a newline-free escape sequence.
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms, metrics_listen: "127.0.0.1:0"}
rules: {paths: [$T/rules]}
inputs:
  - {name: app, type: file, paths: [$T/logs/app.log], start_at: beginning, logsource: {product: linux}}
  - {name: 'we"ird\\x', type: file, paths: [$T/logs/other.log], start_at: beginning}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
for i in $(seq 1 50); do printf 'Mar  3 10:00:00 host app[1]: VGSTAT-%d payload\n' "$i"; done >"$T/logs/app.log"
printf 'Mar  3 10:00:00 host x[1]: other\n' >"$T/logs/other.log"

S=(-s "$T/state")
check "no agent: --check is CRITICAL (exit 2)" bash -c "'$VIGIE' status ${S[*]} --check >'$T/c0' 2>&1; [ \$? = 2 ]"
check "  with a one-line verdict" grep -q "^VIGIE CRITICAL - agent not answering" "$T/c0"

start_agent "$T/vigie.yml"
alerts_in() { [ "$(count_lines "$T/alerts.json")" -ge 50 ]; }
check "agent raises the 50 alerts" wait_for 15 alerts_in
up() { "$VIGIE" status "${S[@]}" >"$T/table" 2>&1; }
check "vigie status answers" wait_for 10 up
cat "$T/table" | sed 's/^/    | /'
check "table: the input with its lines" grep -Eq '^app +50 ' "$T/table"
check "table: bytes of the input" grep -Eq '^app +50 +[0-9.]+ (B|KiB)' "$T/table"
check "table: the rule with its alerts" grep -Eq '^E2E status marker|5b0c3a7e-1f6e-4c52-9d7e-e2e0000000b1 +50$' "$T/table"
check "table: RSS and CPU" grep -Eq 'RSS [0-9.]+ [KMG]iB, CPU [0-9.]+ s' "$T/table"
check "table: the output" grep -Eq '^file0 ' "$T/table"
check "table: the odd input name is printed" grep -q 'we"ird' "$T/table"

"$VIGIE" status "${S[@]}" --check >"$T/c1"; rc=$?
cat "$T/c1" | sed 's/^/    | /'
check "--check OK (exit 0, rc=$rc)" test "$rc" = 0
check "  one line: VIGIE OK - ... | perfdata" grep -Eq '^VIGIE OK - .* \| drops=0;' "$T/c1"
"$VIGIE" status "${S[@]}" --check --warn-drops 0 >"$T/c2"; rc=$?
check "--check WARNING on drops over the threshold (exit 1, rc=$rc)" test "$rc" = 1
check "  says why" grep -q '^VIGIE WARNING - 0 drops in' "$T/c2"
"$VIGIE" status "${S[@]}" --check --warn-drops 0 --crit-drops 0 >"$T/c3"; rc=$?
check "--check CRITICAL past the critical threshold (exit 2, rc=$rc)" test "$rc" = 2
"$VIGIE" status "${S[@]}" --check --bogus >/dev/null 2>&1; rc=$?
check "--check bad usage is UNKNOWN (exit 3, rc=$rc)" test "$rc" = 3

"$VIGIE" status "${S[@]}" --metrics >"$T/m1"
check "socket metrics: Prometheus counter of the input" \
    grep -q '^vigie_input_lines_total{input="app"} 50$' "$T/m1"
check "socket metrics: label escaped" grep -qF 'vigie_input_lines_total{input="we\"ird\\x"} 1' "$T/m1"
check "socket metrics: RSS gauge" grep -Eq '^vigie_process_resident_memory_bytes [1-9][0-9]*$' "$T/m1"
check "socket metrics: CPU counter" grep -Eq '^vigie_process_cpu_seconds_total [0-9.]+$' "$T/m1"
"$VIGIE" status "${S[@]}" --json >"$T/j1"
check "--json is JSON with counters" python3 -c "
import json,sys; d=json.load(open('$T/j1')); assert d['version']==1 and d['counters'] and d['pid']"

port_known() { grep -q 'metrics: listening on http://127.0.0.1:[1-9]' "$T/agent.log"; }
check "metrics listener logs its port" wait_for 5 port_known
PORT=$(sed -n 's|.*metrics: listening on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$T/agent.log" | tail -1)
curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$T/m2" -D "$T/h2"
check "HTTP /metrics: 200 with the Prometheus content type" grep -qi '^content-type: text/plain; version=0.0.4' "$T/h2"
check "HTTP /metrics: same counters" grep -q '^vigie_input_lines_total{input="app"} 50$' "$T/m2"
check "HTTP /metrics: every line is valid exposition format" python3 - "$T/m2" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
lab = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
samp = re.compile(rf'^{name}(?:\{{{lab}(?:,{lab})*\}})? [0-9.eE+-]+$')
seen_type = set()
for i, l in enumerate(open(sys.argv[1], encoding='utf-8'), 1):
    l = l.rstrip('\n')
    if l.startswith('# TYPE '):
        n = l.split()[2]
        assert n not in seen_type, f'line {i}: TYPE twice for {n}'
        seen_type.add(n)
        continue
    if l.startswith('# HELP '):
        continue
    assert samp.match(l), f'line {i}: {l!r}'
PY
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nothing")
check "HTTP: other paths are 404 ($code)" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/metrics")
check "HTTP: POST is 405 ($code)" test "$code" = 405

check "a second agent on the same state directory is refused" bash -c \
    "'$VIGIE' run --allow-root -c '$T/vigie.yml' 2>&1 | grep -q 'another agent answers'"
check "clean stop" stop_agent
check "the socket is removed at exit" test ! -e "$T/state/status.sock"
finish

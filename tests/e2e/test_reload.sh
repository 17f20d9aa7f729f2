#!/bin/bash
# SIGHUP: a valid change is applied without losing a line; a broken rule
# file keeps the old ruleset running and says why. Per-rule overrides from
# the local config (disable, level, exception) apply.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs" "$T/rules" "$T/state"
rule() { # rule FILE ID MARKER
    cat >"$1" <<RULE
title: Marker $3
id: $2
status: test
level: low
logsource: {product: linux}
detection:
    keywords: ['$3']
    condition: keywords
RULE
}
rule "$T/rules/a.yml" 11111111-1111-4111-8111-111111111111 MARKA
conf() {
    cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules:
  paths: [$T/rules]
$1
inputs:
  - {name: l, type: file, paths: [$T/logs/*.log], start_at: beginning, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
}
conf ""
line() { printf 'Mar  3 10:00:00 host app[1]: %s from 10.0.0.%d user svc_%s\n' "$1" "$2" "$3" >>"$T/logs/x.log"; }
nalerts() { count_lines "$T/alerts.json"; }
have() { [ "$(nalerts)" -ge "$1" ]; }

line MARKA 1 a
start_agent "$T/vigie.yml"
check "first rule fires" wait_for 10 have 1

# A new rule file and reload.
rule "$T/rules/b.yml" 22222222-2222-4222-8222-222222222222 MARKB
kill -HUP "$AGENT_PID"
check "reload logged" wait_for 10 grep -q "reloaded:" "$T/agent.log"
line MARKB 2 b
check "new rule fires after SIGHUP" wait_for 10 have 2

# A broken rule: the old ruleset keeps running.
printf 'title: broken\ndetection:\n    sel: {a: b}\n    condition: sel and nosuch\n' >"$T/rules/c.yml"
kill -HUP "$AGENT_PID"
check "broken rule reported with its file" wait_for 10 grep -q "c.yml" "$T/agent.log"
check "reload refused" wait_for 10 grep -q "keeping the running rules" "$T/agent.log"
line MARKB 3 c
check "old ruleset still detects" wait_for 10 have 3
check "agent alive" agent_alive
rm "$T/rules/c.yml"

# Overrides: disable A, raise B's level, except one source address.
conf "  overrides:
    - {id: 11111111-1111-4111-8111-111111111111, enabled: false}
    - id: 22222222-2222-4222-8222-222222222222
      level: critical
      exceptions:
        - {message|contains: 10.0.0.9}"
kill -HUP "$AGENT_PID"
check "reload with overrides" wait_for 10 sh -c "[ \$(grep -c 'reloaded:' '$T/agent.log') -ge 2 ]"
line MARKA 4 d
line MARKB 9 e
line MARKB 5 f
check "overridden rule fires" wait_for 10 have 4
check "clean stop" stop_agent
check "disabled rule silent, exception honoured, level raised" python3 - "$T/alerts.json" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
last = a[3:]
assert len(a) == 4, len(a)
assert a[3]['rule']['level'] == 'critical', a[3]['rule']
assert '10.0.0.5' in a[3]['message'], a[3]['message']
PY
finish

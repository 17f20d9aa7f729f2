#!/bin/bash
# The agent on live files: append, rotation by rename and by copytruncate,
# truncation, a file deleted while open, a new file matching the glob, a
# clean stop across a rotation, and SIGKILL. Every numbered line raises one
# alert; at the end each number must appear exactly once (after SIGKILL:
# at least once, duplicates bounded and sharing event.id).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs" "$T/rules" "$T/state"
cat >"$T/rules/marker.yml" <<'RULE'
title: E2E marker line
id: 5b0c3a7e-1f6e-4c52-9d7e-e2e000000001
status: test
level: low
logsource: {product: linux}
detection:
    keywords: ['VGTEST-']
    condition: keywords
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$T/rules]}
inputs:
  - name: logs
    type: file
    paths: [$T/logs/*.log]
    format: syslog
    logsource: {product: linux, service: auth}
    start_at: beginning
    idle_flush: 500ms
outputs:
  - {type: file, path: $T/alerts.json}
CONF

N=0
# emit FILE COUNT: append COUNT numbered lines to FILE.
emit() {
    local f=$1 k
    for ((k = 0; k < $2; k++)); do
        N=$((N + 1))
        printf 'Mar  3 10:00:00 host app[1]: VGTEST-%d payload\n' "$N"
    done >>"$f"
}
alerts() { count_lines "$T/alerts.json"; }
have() { [ "$(alerts)" -ge "$1" ]; }
distinct() {
    python3 - "$T/alerts.json" <<'PY'
import json, re, sys
s = set()
for l in open(sys.argv[1]):
    m = re.search(r'VGTEST-(\d+)', json.loads(l)['message'])
    s.add(int(m.group(1)))
print(len(s))
PY
}

emit "$T/logs/a.log" 100
start_agent "$T/vigie.yml"
check "reads an existing file from the beginning" wait_for 10 have 100
emit "$T/logs/a.log" 100
check "appended lines" wait_for 10 have 200

# Rotation by rename + create, with a late write to the renamed file.
mv "$T/logs/a.log" "$T/logs/a.log.1"
emit "$T/logs/a.log.1" 10
emit "$T/logs/a.log" 100
check "rotation by rename: old file finished, new file read" wait_for 10 have 310

# Rotation by copytruncate.
cp "$T/logs/a.log" "$T/logs/a.log.2"
: >"$T/logs/a.log"
emit "$T/logs/a.log" 90
check "rotation by copytruncate" wait_for 10 have 400

# Truncation then new content shorter than before.
: >"$T/logs/a.log"
emit "$T/logs/a.log" 5
check "truncation" wait_for 10 have 405

# A file deleted while open is read to its end.
emit "$T/logs/b.log" 50
check "new file matching the glob" wait_for 10 have 455
emit "$T/logs/b.log" 10
rm "$T/logs/b.log"
check "file deleted while open read to its end" wait_for 10 have 465

# A final line without newline waits for idle_flush.
printf 'Mar  3 10:00:00 host app[1]: VGTEST-%d no newline' $((N + 1)) >>"$T/logs/c.log"
N=$((N + 1))
check "final line without newline flushed after idle time" wait_for 10 have 466
printf '\n' >>"$T/logs/c.log"

# Clean stop, append, rotate, append, restart: nothing lost, nothing twice.
check "clean stop (exit 0)" stop_agent
emit "$T/logs/a.log" 20
mv "$T/logs/a.log" "$T/logs/a.log.3"
emit "$T/logs/a.log" 30
start_agent "$T/vigie.yml"
check "stop/append/rotate/append/restart: every line read" wait_for 10 have 516
check "no line read twice so far" [ "$(distinct)" = "$(alerts)" ]
check "the newline completing the flushed line did not make a duplicate" [ "$(alerts)" = 516 ]

# SIGKILL: only lines after the last commit may repeat.
emit "$T/logs/a.log" 100
wait_for 10 have 616
kill_agent
emit "$T/logs/a.log" 50
start_agent "$T/vigie.yml"
check "after SIGKILL every line is read" wait_for 10 sh -c "[ \$(python3 - '$T/alerts.json' <<'PY'
import json, re, sys
print(len({re.search(r'VGTEST-(\d+)', json.loads(l)['message']).group(1) for l in open(sys.argv[1])}))
PY
) -ge $N ]"
check "clean stop (exit 0)" stop_agent
total=$(alerts); uniq=$(distinct)
echo "    lines: $N, alerts: $total, distinct: $uniq, duplicates after SIGKILL: $((total - uniq)) (bound: the 100 lines written within one commit interval)"
check "every line exactly once or, after SIGKILL, bounded duplicates" [ "$uniq" = "$N" ] && [ $((total - uniq)) -le 100 ]
check "duplicates share event.id" python3 - "$T/alerts.json" <<'PY'
import json, re, sys, collections
ids = collections.defaultdict(set)
for l in open(sys.argv[1]):
    a = json.loads(l)
    ids[re.search(r'VGTEST-(\d+)', a['message']).group(1)].add(a['event']['id'])
sys.exit(0 if all(len(v) == 1 for v in ids.values()) else 1)
PY
check "alerts are valid JSON" json_lines_valid "$T/alerts.json"
check "positions file is versioned" grep -q '"version": *1' "$T/state/positions.json"
finish

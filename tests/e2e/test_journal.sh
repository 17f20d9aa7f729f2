#!/bin/bash
# The journald input through the real binary: journal files made from an
# export-format fixture by systemd-journal-remote (CI runs no journald),
# routing by program (sshd -> linux/sshd), resume after the saved cursor.
. "$(dirname "$0")/lib.sh"

JR=
for c in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
    [ -x "$c" ] && JR=$c
done
[ -n "$JR" ] || skip "systemd-journal-remote not installed"

mkdir -p "$T/j" "$T/state"
# Entries: n numbered failed logins from sshd, as journald stores them.
export_entries() { # export_entries FIRST COUNT
    local i
    for ((i = $1; i < $1 + $2; i++)); do
        printf '__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=5a8c1e0f3b2d4c6e8f0a1b2c3d4e5f60\n' \
            $((1700000000000000 + i * 1000000)) $((1000 + i))
        printf '_HOSTNAME=web01\nSYSLOG_IDENTIFIER=sshd\n_PID=%d\n_SYSTEMD_UNIT=ssh.service\n' $((100 + i))
        printf 'MESSAGE=Failed password for root from 198.51.100.%d port %d ssh2\n\n' $((i % 250)) $((40000 + i))
    done
}
export_entries 1 30 >"$T/a.export"
"$JR" --output="$T/j/a.journal" "$T/a.export" 2>"$T/jr.err" || { cat "$T/jr.err"; fail "journal-remote"; finish; }

cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$ROOT/rules]}
inputs:
  - name: journal
    type: journald
    files: [$T/j/a.journal]
    start_at: beginning
    logsource: {product: linux}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
n() { count_lines "$T/alerts.json"; }
have() { [ "$(n)" -ge "$1" ]; }
start_agent "$T/vigie.yml"
check "journal entries routed to the sshd rules" wait_for 10 have 30
check "clean stop" stop_agent
check "alerts name the unit and carry the journal stream" python3 - "$T/alerts.json" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
assert all(x['rule']['name'] == 'SSH Failed Password' for x in a), set(x['rule']['name'] for x in a)
assert all(x['vigie']['stream'].startswith('j:') for x in a)
assert len({x['event']['id'] for x in a}) == 30
PY
check "cursor saved" grep -q cursor "$T/state/positions.json"

# A second journal file with later entries; restart: only the new ones.
export_entries 31 20 >"$T/b.export"
"$JR" --output="$T/j/b.journal" "$T/b.export" 2>>"$T/jr.err"
sed -i "s#files: \[$T/j/a.journal\]#files: [$T/j/a.journal, $T/j/b.journal]#" "$T/vigie.yml"
start_agent "$T/vigie.yml"
check "resumes after the saved cursor" wait_for 10 have 50
check "clean stop" stop_agent
check "no entry read twice" [ "$(n)" = 50 ]
finish

#!/bin/bash
# auditd through the real binary: records become events for SigmaHQ's
# `service: auditd` rules, groups become `process_creation` events; the
# agent follows an audit.log (format auditd) and `scan` recognises it by name.
. "$(dirname "$0")/lib.sh"

FIX=$ROOT/tests/fixtures/audit
[ -f "$FIX/attack.log" ] || skip "fixtures missing"
[ -d "$CORPUS/sigma/rules/linux" ] || skip "SigmaHQ rules not found at $CORPUS/sigma"

for f in attack.log attack-raw.log; do
    "$VIGIE" scan -q -o json -r "$CORPUS/sigma/rules/linux" --format auditd --logsource linux/auditd \
        "$FIX/$f" >"$T/$f.json"
    check "$f: JSON valid" json_lines_valid "$T/$f.json"
    for rule in "Creation Of An User Account" "Loading of Kernel Module via Insmod" \
                "Bash Interactive Shell" "Local System Accounts Discovery - Linux" \
                "Linux Webshell Indicators" "Chmod Targeting Sensitive Directories"; do
        check "$f raises '$rule'" [ "$(rule_count "$T/$f.json" "$rule")" -ge 1 ]
    done
done
check "the merged event carries process_creation fields" python3 - "$T/attack.log.json" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
shell = [x for x in a if x['rule']['name'] == 'Bash Interactive Shell'][0]
f = shell['vigie']['fields']
assert 'bash -i' in f['CommandLine'], f
assert f['Image'].endswith('bash'), f
PY

# The agent on a live audit log, recognised by `scan` from its name too.
mkdir -p "$T/audit" "$T/state"
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: ["$CORPUS/sigma/rules/linux"]}
inputs:
  - {name: audit, type: file, paths: [$T/audit/audit.log], format: auditd,
     logsource: {product: linux, service: auditd}, start_at: beginning}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
: >"$T/audit/audit.log"
start_agent "$T/vigie.yml"
cat "$FIX/attack-raw.log" >>"$T/audit/audit.log"
n_expected=$(wc -l <"$T/attack-raw.log.json")
have() { [ "$(count_lines "$T/alerts.json")" -ge "$n_expected" ]; }
check "live agent raises the same $n_expected alerts" wait_for 10 have
check "clean stop" stop_agent
cp "$FIX/attack-raw.log" "$T/audit.log"
"$VIGIE" scan -q -o json -r "$CORPUS/sigma/rules/linux" "$T/audit.log" >"$T/byname.json"
check "scan recognises audit.log by its name" [ "$(wc -l <"$T/byname.json")" = "$n_expected" ]
finish

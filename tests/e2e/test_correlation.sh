#!/bin/bash
# Sigma correlations and suppression with the real binary:
#  - `vigie scan` of loghub's OpenSSH_2k.log with the shipped brute-force
#    correlation gives, per attacking address and 10-minute window, one first
#    alert and a last alert whose vigie.count equals the number of failures
#    (computed here independently with awk);
#  - `vigie run` stopped in the middle of a window keeps the count;
#  - a flood of 1,000,000 distinct source addresses on a value_count rule
#    keeps the RSS under 64 MB and still finds the real attack in the stream.
. "$(dirname "$0")/lib.sh"

# A sanitizer build's shadow memory makes RSS meaningless: the RSS checks are skipped then.
SANITIZED=; ldd "$VIGIE" 2>/dev/null | grep -q 'libasan' && SANITIZED=1
rss_under() { [ -n "$SANITIZED" ] && { echo "    (sanitizer build: RSS not checked)"; return 0; }; [ "$1" -lt "$2" ]; }

LOG=$CORPUS/loghub/OpenSSH/OpenSSH_2k.log
[ -f "$LOG" ] || skip "loghub OpenSSH corpus absent ($LOG)"

# ---- 1. scan: one suppressed correlation alert per attacking address ----
"$VIGIE" scan -q -o json -r "$ROOT/rules" "$LOG" >"$T/scan.json"
check "scan output is JSON lines" json_lines_valid "$T/scan.json"
python3 - "$T/scan.json" >"$T/got.txt" <<'PY'
import json, sys, collections
last, firsts = {}, collections.Counter()
for line in open(sys.argv[1]):
    a = json.loads(line)
    if a['rule']['name'] != 'SSH Password Brute Force From One Address':
        continue
    v = a['vigie']
    key = (v['group']['ip'], v['window']['start'])
    firsts[key] += v['alert'] == 'first'
    last[key] = max(last.get(key, 0), v['count'])
for key in sorted(last):
    print(key[0], last[key], firsts[key])
PY
# Expected: windows opened by an address's first failure, 600 s long,
# half-open; a window alerts when it holds 10 or more failures.
grep 'Failed password for' "$LOG" | awk -v span=600 '
{ split($3, a, ":"); t = a[1] * 3600 + a[2] * 60 + a[3]
  match($0, / from [0-9.]+ port/); ip = substr($0, RSTART + 6, RLENGTH - 11)
  if (!(ip in st) || t >= st[ip] + span) { if ((ip in st) && c[ip] >= 10) print ip, c[ip], 1; st[ip] = t; c[ip] = 0 }
  c[ip]++ }
END { for (ip in st) if (c[ip] >= 10) print ip, c[ip], 1 }' | sort >"$T/want.txt"
sort -o "$T/got.txt" "$T/got.txt"
check "brute-force windows and counts equal awk's ($(wc -l <"$T/want.txt") windows)" \
    diff "$T/want.txt" "$T/got.txt"
check "183.62.140.253 has 279 failures in one window" grep -q '^183.62.140.253 279 1$' "$T/got.txt"
nfail=$(python3 -c '
import json,sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["rule"]["name"]=="SSH Failed Password"))' "$T/scan.json")
check "single failures suppressed ($nfail alerts for 520 lines)" [ "$nfail" -lt 100 ]

# ---- 2. restart in the middle of a window keeps the count ----
mkdir -p "$T/rules" "$T/logs" "$T/state"
cat >"$T/rules/knock.yml" <<'RULE'
title: knock
id: 3f0c9a64-6a43-4c4e-9d1c-knock0000001
logsource: {product: linux}
detection:
    sel:
        message|re: 'KNOCK from (?<ip>[0-9.]+)'
    condition: sel
---
title: Five knocks
id: 3f0c9a64-6a43-4c4e-9d1c-knock0000005
correlation:
    type: event_count
    rules: [3f0c9a64-6a43-4c4e-9d1c-knock0000001]
    group-by: [ip]
    timespan: 1h
    condition: {gte: 5}
level: high
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$T/rules]}
inputs:
  - {name: l, type: file, paths: [$T/logs/*.log], start_at: beginning, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
knock() { printf '%s host app[1]: KNOCK from 192.0.2.7\n' "$(date '+%b %e %H:%M:%S')" >>"$T/logs/k.log"; }
for i in 1 2 3; do knock; done
start_agent "$T/vigie.yml"
saved3() { grep -qs '"e":3' "$T"/state/stateful.*.json; }
check "three knocks checkpointed" wait_for 10 saved3
stop_agent
check "no alert yet" [ "$(rule_count "$T/alerts.json" 'Five knocks' 2>/dev/null || echo 0)" = 0 ]
knock
knock
start_agent "$T/vigie.yml"
fired() { [ -f "$T/alerts.json" ] && [ "$(rule_count "$T/alerts.json" 'Five knocks')" -ge 1 ]; }
check "the fifth knock after the restart fires" wait_for 10 fired
stop_agent
check "with vigie.count 5" grep -q '"count":5,"alert":"first"' "$T/alerts.json"
check "the knocks were not counted twice" [ "$(rule_count "$T/alerts.json" 'Five knocks')" = 1 ]

# A corrupt checkpoint: reported, fresh state, the agent still starts.
for f in "$T"/state/stateful.*.json; do echo '{"version":1,"tables":[' >"$f"; done
start_agent "$T/vigie.yml"
check "corrupt checkpoint reported" wait_for 10 grep -q "corrupt checkpoint\|fresh state" "$T/agent.log"
check "agent still running" agent_alive
stop_agent

# ---- 3. flood: 1,000,000 distinct addresses, RSS under 64 MB, attack found ----
mkdir -p "$T/frules"
cat >"$T/frules/spray.yml" <<'RULE'
title: login failure
id: 7a1e0b7c-0000-4000-8000-spray0000001
logsource: {product: linux}
detection:
    sel:
        message|re: 'LOGIN FAIL user=(?<user>\S+) ip=(?<ip>[0-9.]+)'
    condition: sel
---
title: Password spraying
id: 7a1e0b7c-0000-4000-8000-spray0000002
correlation:
    type: value_count
    rules: [7a1e0b7c-0000-4000-8000-spray0000001]
    group-by: [ip]
    timespan: 10m
    condition: {field: user, gte: 6}
level: high
RULE
awk 'BEGIN {
  for (i = 0; i < 1000000; i++) {
    printf "Dec 10 06:%02d:%02d h app[1]: LOGIN FAIL user=u%d ip=10.%d.%d.%d\n", int(i / 100000) + 10, (i / 2000) % 60, i % 7, int(i / 65536) % 256, int(i / 256) % 256, i % 256
    if (i % 1000 == 500 && n < 8) { printf "Dec 10 06:%02d:%02d h app[1]: LOGIN FAIL user=admin%d ip=203.0.113.66\n", int(i / 100000) + 10, (i / 2000) % 60, n; n++ }
  } }' >"$T/flood.log"
/usr/bin/time -f '%M' -o "$T/rss" "$VIGIE" scan -q -o json -r "$T/frules" --logsource linux \
    "$T/flood.log" >"$T/flood.json"
rss=$(tail -1 "$T/rss")
check "flood RSS ${rss} KiB < 64 MiB" rss_under "$rss" 65536
check "the spraying address is found" grep -q '"ip":"203.0.113.66"' "$T/flood.json"
check "no flood address alerts" [ "$(grep -c '"alert":"first"' "$T/flood.json")" = 1 ]

# The same flood through the agent (vigie run): its peak RSS stays under the cap.
mkdir -p "$T/flogs" "$T/fstate"
mv "$T/flood.log" "$T/flogs/flood.log"
cat >"$T/flood.yml" <<CONF
agent: {state_dir: $T/fstate, commit_interval: 500ms}
rules: {paths: [$T/frules]}
state: {max_memory: 16MiB}
inputs:
  - {name: f, type: file, paths: [$T/flogs/*.log], start_at: beginning, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/falerts.json}
CONF
size=$(stat -c %s "$T/flogs/flood.log")
start_agent "$T/flood.yml"
done_reading() { grep -qs "\"offset\": *$size\b\|\"offset\":$size\b" "$T/fstate/positions.json"; }
check "agent read the whole flood" wait_for 300 done_reading
hwm=$(awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status 2>/dev/null || echo 999999)
stop_agent
check "agent peak RSS ${hwm} KiB < 64 MiB" rss_under "$hwm" 65536
check "agent found the spraying address" grep -q '"ip":"203.0.113.66"' "$T/falerts.json"

finish

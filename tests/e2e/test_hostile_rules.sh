#!/bin/bash
# Hostile rules meet hostile lines in the running agent: a Sigma regex that
# backtracks catastrophically ((a+)+$ on a long run of a's) hits the PCRE2
# match limit, and a YARA rule whose nested loops run for ever on a long line
# hits the scan timeout. Each is counted (rule.regex_limit_hits,
# rule.yara_limit_hits / yara.limit_hits), logged, and the agent goes on: an
# attack line written after them is detected within seconds, and its memory
# stays under the bound below.
. "$(dirname "$0")/lib.sh"

RSS_BOUND_KB=$((96 * 1024)) # VmHWM bound (shipped rules + libyara + PCRE2 JIT; ~30 MB measured)
[ -n "${VG_SANITIZE:-}${VG_VALGRIND:-}" ] && RSS_BOUND_KB=$((1024 * 1024)) # shadow memory of ASan / valgrind

mkdir -p "$T/logs" "$T/state" "$T/rules"
cat >"$T/rules/backtrack.yml" <<'YML'
title: Hostile Catastrophic Regex
id: 6c1f0b6e-6a43-4c36-9a57-1b7f3e2d9a01
status: test
level: low
logsource: {product: linux}
detection:
  sel:
    message|re: '^(a+)+$'
  condition: sel
YML
cat >"$T/rules/slow.yar" <<'YAR'
rule hostile_slow_loop
{
    meta:
        scope = "event"
        description = "never true; quadratic in the length of lines over 20 KB"
    condition:
        filesize > 20000 and for any i in (0..filesize) : (for any j in (0..filesize) : (uint8(i) + uint8(j) == 0x1ff))
}
YAR
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$ROOT/rules/linux, $T/rules]}
limits: {regex_match_limit: 100000}
yara: {scan_timeout: 1s, file_scans_per_minute: 0}
inputs:
  - name: auth
    type: file
    paths: [$T/logs/*.log]
    format: syslog
    logsource: {product: linux, service: auth}
    start_at: beginning
outputs:
  - {type: file, path: $T/alerts.json}
CONF
start_agent "$T/vigie.yml"
check "agent started" wait_for 10 test -S "$T/state/status.sock"
check "the risky regex is flagged at load" grep -q 'backtrack catastrophically' "$T/agent.log"

# 1. Catastrophic backtracking: 5,000 a's and a '!' (2^5000 ways to split the run).
python3 - "$T/logs/app.log" <<'PY'
import sys
with open(sys.argv[1], 'ab') as f:
    for k in range(3):
        f.write(b'Mar  3 10:00:0%d web01 app[1]: ' % k + b'a' * 5000 + b'!\n')
    f.write(b'Mar  3 10:00:05 web01 sshd[6]: Failed password for root from 203.0.113.91 port 6 ssh2\n')
PY
t0=$(date +%s%N)
check "attack line after the backtracking lines detected" wait_for 20 grep -qs '203.0.113.91' "$T/alerts.json"
echo "    (detected after $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
check "agent still running after the regex" agent_alive
check "regex limit logged once, with the line's file and offset" \
    [ "$(grep -c "regex reached the PCRE2 match limit on $T/logs/app.log offset 0:" "$T/agent.log")" = 1 ]

# 2. YARA timeout: one 60 KB line makes the loops run 3.6e9 times (1 s timeout).
python3 - "$T/logs/app.log" <<'PY'
import sys
with open(sys.argv[1], 'ab') as f:
    f.write(b'Mar  3 10:01:00 web01 app[1]: ' + b'z' * 60000 + b'\n')
    f.write(b'Mar  3 10:01:05 web01 sshd[7]: Failed password for root from 203.0.113.92 port 7 ssh2\n')
PY
t0=$(date +%s%N)
check "attack line after the YARA-timeout line detected" wait_for 30 grep -qs '203.0.113.92' "$T/alerts.json"
echo "    (detected after $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
check "agent still running after the YARA timeout" agent_alive
check "YARA timeout logged once with its rule" grep -q 'YARA rule .*hostile_slow_loop.*scan timeout' "$T/agent.log"
"$VIGIE" status -s "$T/state" --metrics >"$T/metrics" 2>&1
check "vigie status: regex limit hits counted" grep -Eq '^vigie_rule_regex_limit_hits(_total)?\{.*\} [1-9]' "$T/metrics"
check "vigie status: YARA limit hits counted" grep -Eq '^vigie_rule_yara_limit_hits(_total)?\{.*hostile_slow_loop.*\} [1-9]' "$T/metrics"
hwm=$(awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status)
echo "    VmHWM ${hwm} kB (bound ${RSS_BOUND_KB} kB)"
check "peak RSS under the bound" [ "${hwm:-999999999}" -lt "$RSS_BOUND_KB" ]
check "clean stop" stop_agent
check "exit stats: regex limit hits of the rule" \
    grep -q 'rule.regex_limit_hits{rule="6c1f0b6e-6a43-4c36-9a57-1b7f3e2d9a01"} [1-9]' "$T/agent.log"
check "exit stats: yara.limit_hits" grep -q '^yara.limit_hits [1-9]' "$T/agent.log"
check "no alert from the hostile rules" [ "$(grep -c 'Hostile Catastrophic\|hostile_slow_loop' "$T/alerts.json")" = 0 ]
check "alerts are valid JSON objects" json_lines_valid "$T/alerts.json"
finish

#!/bin/bash
# A single 100 MB line (VG_HUGE_MB to change; 2-3 s under ASan as well)
# written into a watched file while the agent runs, generated as a stream
# (never held in memory by the test), followed by an attack line. The agent
# must not buffer it: it cuts it at max_line, skips the rest as it arrives
# (counted: input.truncated_lines, input.truncated_bytes), detects the attack
# line after it, and its peak RSS grows by less than the bound below while
# reading it (framer memory is max_line + read_buffer).
. "$(dirname "$0")/lib.sh"

MB=${VG_HUGE_MB:-100}
GROWTH_BOUND_KB=$((8 * 1024)) # VmHWM growth allowed while reading the line
# Sanitizers and valgrind add their own allocations (ASan: +0.5 MB measured).
[ -n "${VG_SANITIZE:-}${VG_VALGRIND:-}" ] && GROWTH_BOUND_KB=$((16 * 1024))

mkdir -p "$T/logs" "$T/state"
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$ROOT/rules/linux]}
inputs:
  - name: auth
    type: file
    paths: [$T/logs/*.log]
    format: syslog
    logsource: {product: linux, service: auth}
    start_at: beginning
    max_line: 64KiB
    read_buffer: 256KiB
outputs:
  - {type: file, path: $T/alerts.json}
CONF
printf 'Mar  3 09:59:59 web01 sshd[1]: Failed password for root from 203.0.113.50 port 1 ssh2\n' >"$T/logs/auth.log"
start_agent "$T/vigie.yml"
check "agent started, first line detected" wait_for 15 grep -qs '"203.0.113.50"' "$T/alerts.json"
base=$(awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status)

t0=$(date +%s%N)
{
    printf 'Mar  3 10:00:00 web01 sshd[2]: Failed password for '
    head -c $((MB << 20)) /dev/zero | tr '\0' 'A'
    printf ' from 203.0.113.51 port 2 ssh2\n'
    printf 'Mar  3 10:00:01 web01 sshd[3]: Failed password for root from 203.0.113.52 port 3 ssh2\n'
} >>"$T/logs/auth.log"
size=$(stat -c %s "$T/logs/auth.log")
check "attack line after the ${MB} MB line detected" wait_for 60 grep -qs '"203.0.113.52"' "$T/alerts.json"
echo "    (${MB} MB line + attack read and detected $(( ($(date +%s%N) - t0) / 1000000 )) ms after the write ended)"
check "agent still running" agent_alive
hwm=$(awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status)
echo "    VmHWM ${base} kB before, ${hwm} kB after (growth bound ${GROWTH_BOUND_KB} kB)"
check "peak RSS grew by less than the bound" [ $(( ${hwm:-999999999} - ${base:-0} )) -lt "$GROWTH_BOUND_KB" ]
check "the cut line did not alert (its address is past the cut)" bash -c "! grep -q '\"203.0.113.51\"' '$T/alerts.json'"
committed() { grep -qs "\"offset\": *$size\b\|\"offset\":$size\b" "$T/state/positions.json"; }
check "position committed past the line" wait_for 10 committed
"$VIGIE" status -s "$T/state" --metrics >"$T/metrics"
check "vigie status: one truncated line" grep -Eq '^vigie_input_truncated_lines(_total)?\{input="auth"\} 1$' "$T/metrics"
dropped=$(sed -nE 's/^vigie_input_truncated_bytes(_total)?\{input="auth"\} ([0-9]+)$/\2/p' "$T/metrics")
echo "    input.truncated_bytes ${dropped:-none}"
check "vigie status: the dropped bytes counted (~${MB} MB - 64 KiB)" \
    [ "${dropped:-0}" -ge $(( (MB << 20) - (64 << 10) )) ] && [ "${dropped:-0}" -le $(( (MB << 20) + 200 )) ]
check "clean stop" stop_agent
check "exit stats: truncated bytes" grep -q 'input.truncated_bytes{input="auth"} [1-9]' "$T/agent.log"
check "alerts are valid JSON objects" json_lines_valid "$T/alerts.json"
finish

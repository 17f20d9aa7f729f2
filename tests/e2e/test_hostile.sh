#!/bin/bash
# Hostile input through the running agent: a 10 MB line, NUL bytes, invalid
# UTF-8 and overlong encodings, terminal escape sequences (C0 and C1, OSC 8,
# a bidi override), JSON metacharacters, a binary file in the watched glob.
# (A 100 MB line: test_hostile_huge.sh.) The agent keeps running, counts what it truncated, detects an
# attack line placed after the junk, and every alert it writes is valid JSON
# with no raw control byte.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/logs" "$T/state"
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$ROOT/rules]}
inputs:
  - name: auth
    type: file
    paths: [$T/logs/*]
    format: syslog
    logsource: {product: linux, service: auth}
    start_at: beginning
    max_line: 64KiB
outputs:
  - {type: file, path: $T/alerts.json}
  - {type: stdout, format: text}
CONF
start_agent "$T/vigie.yml"
check "agent started" wait_for 5 test -f "$T/state/positions.json"

python3 - "$T/logs/auth.log" <<'PY'
import sys
with open(sys.argv[1], 'wb') as f:
    # a 10 MB line that would match if it were not cut
    f.write(b'Mar  3 10:00:00 web01 sshd[1]: Failed password for ' + b'A' * (10 << 20) + b' from 1.2.3.4 port 1 ssh2\n')
    f.write(b'Mar  3 10:00:01 web01 sshd[2]: Failed password for ro\x00ot from 203.0.113.7 port 2 ssh2\n')
    f.write(b'Mar  3 10:00:02 web01 sshd[3]: Failed password for \xff\xfe\xc0\xaf\xed\xa0\x80 from 203.0.113.8 port 3 ssh2\n')
    f.write(b'Mar  3 10:00:03 web01 sshd[4]: Failed password for \x1b[31mred\x1b]0;title\x07\x1b[2J from 203.0.113.9 port 4 ssh2\n')
    f.write(b'Mar  3 10:00:04 web01 sshd[5]: Failed password for "},"rule":{"id":"x"},"a":"\\\\ from 203.0.113.10 port 5 ssh2\n')
    # overlong encodings (NUL, '/', '.'), 5- and 6-byte forms, a lone continuation byte
    f.write(b'Mar  3 10:00:06 web01 sshd[7]: Failed password for \xc0\x80\xe0\x80\xaf\xf0\x80\x80\xae\xf8\x88\x80\x80\x80\xfc\x84\x80\x80\x80\x80\x80 from 203.0.113.11 port 7 ssh2\n')
    # C1 CSI raw and UTF-8-encoded, OSC 8 hyperlink, DEL, a bidi override (U+202E)
    f.write(b'Mar  3 10:00:07 web01 sshd[8]: Failed password for \x9b31m\xc2\x9b2J\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\x7f\xe2\x80\xaeroot from 203.0.113.12 port 8 ssh2\n')
    f.write(b'\x00\x01\x02\x03 binary junk \xde\xad\xbe\xef\n' * 100)
    f.write(b'Mar  3 10:00:05 web01 sshd[6]: Failed password for root from 203.0.113.99 port 6 ssh2\n')
PY
head -c 2000000 /dev/urandom >"$T/logs/random.bin"
check "attack line after the junk detected" wait_for 20 grep -q '203.0.113.99' "$T/alerts.json"
check "agent still running" agent_alive
check "alerts are valid JSON objects" json_lines_valid "$T/alerts.json"
check "no raw control byte in the alert file" python3 -c '
import sys; d = open(sys.argv[1], "rb").read()
sys.exit(1 if any(b < 0x20 and b != 0x0a for b in d) else 0)' "$T/alerts.json"
check "injected JSON stayed inside the message" python3 -c '
import json, sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    assert a["rule"]["name"] != "x" and a["rule"]["id"] != "x", a["rule"]
' "$T/alerts.json"
check "no raw escape sequence on the terminal output" python3 -c '
import sys; d = open(sys.argv[1], "rb").read()
sys.exit(1 if b"\x1b" in d or b"\x07" in d else 0)' "$T/agent.out"
check "no C1 control (raw or UTF-8), DEL or bidi override on the terminal output" python3 -c '
import sys; d = open(sys.argv[1], "rb").read()
bad = [x for x in (b"\x9b", b"\xc2\x9b", b"\x7f", b"\xe2\x80\xae") if x in d]
print("    found:", bad) if bad else None
sys.exit(1 if bad else 0)' "$T/agent.out"
check "overlong and C1 lines alerted too" grep -q '203.0.113.12' "$T/alerts.json"
hwm=$(awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status)
bound=$((64 * 1024)); [ -n "${VG_SANITIZE:-}${VG_VALGRIND:-}" ] && bound=$((1024 * 1024))
echo "    VmHWM ${hwm} kB (bound ${bound} kB)"
check "peak RSS under the bound" [ "${hwm:-999999999}" -lt "$bound" ]
check "clean stop" stop_agent
check "truncated line counted" grep -q 'input.truncated_lines{input="auth"} [1-9]' "$T/agent.log"
check "its dropped bytes counted" grep -q 'input.truncated_bytes{input="auth"} [1-9]' "$T/agent.log"
finish

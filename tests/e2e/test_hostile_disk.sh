#!/bin/bash
# The state directory's filesystem full (a 2 MiB tmpfs mounted by the test,
# holding positions, detector state and the local alert file, as
# /var/lib/vigie does), while attack lines keep arriving. The agent keeps
# running, reports the error (log, output.errors, commit_errors), does not
# advance its positions while full, and once space returns writes every
# alert (each numbered attack line found, no torn JSON line) and commits.
# Needs root for mount(8); without it the test is skipped (the fallback,
# RLIMIT_FSIZE, kills the agent with SIGXFSZ: see the report line below).
. "$(dirname "$0")/lib.sh"

RSS_BOUND_KB=$((64 * 1024))
[ -n "${VG_SANITIZE:-}${VG_VALGRIND:-}" ] && RSS_BOUND_KB=$((1024 * 1024)) # shadow memory of ASan / valgrind

FS=$T/statefs
mkdir -p "$FS" "$T/logs"
mount -t tmpfs -o size=2m,mode=0755 vigie-e2e-full "$FS" 2>/dev/null ||
    skip "cannot mount a tmpfs (needs root); RLIMIT_FSIZE is no substitute: the agent does not ignore SIGXFSZ"
trap 'if agent_alive; then kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; fi; umount -l "$FS" 2>/dev/null; cleanup' EXIT

cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $FS, commit_interval: 200ms}
rules: {paths: [$ROOT/rules/linux]}
inputs:
  - name: auth
    type: file
    paths: [$T/logs/*.log]
    format: syslog
    logsource: {product: linux, service: auth}
    start_at: beginning
outputs:
  - {type: file, path: $FS/alerts.json}
CONF
LOG=$T/logs/auth.log
N=0
attack() { N=$((N + 1)); printf 'Mar  3 10:%02d:%02d web01 sshd[%d]: Failed password for root from 198.51.100.%d port %d ssh2\n' $((N / 60)) $((N % 60)) $N $N $N >>"$LOG"; }
seen() { grep -qs "\"198\.51\.100\.$1\"" "$FS/alerts.json"; }
all_seen() { for i in $(seq 1 $N); do seen $i || return 1; done; }
committed_at() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(f["offset"]==int(sys.argv[2]) for i in d["inputs"].values() for f in i["files"]) else 1)' "$FS/positions.json" "$1" 2>/dev/null; }
metric() { "$VIGIE" status -s "$FS" --metrics 2>/dev/null | sed -nE "s/^vigie_$1(_total)?(\{[^}]*\})? ([0-9]+)$/\3/p" | awk '{ s += $1 } END { print s + 0 }'; }

for i in 1 2 3; do attack; done
start_agent "$T/vigie.yml"
check "agent started, first attacks detected" wait_for 15 all_seen
check "positions committed" wait_for 10 committed_at "$(stat -c %s "$LOG")"

echo "-- filesystem full"
dd if=/dev/zero of="$FS/filler" bs=16k 2>/dev/null # stops at ENOSPC
check "the state filesystem is full" [ "$(df --output=avail -B1 "$FS" | tail -1)" -lt 16384 ]
cp "$FS/positions.json" "$T/positions.before"
for i in $(seq 1 20); do attack; done
reported() { grep -q 'not committed\|not durable\|write failed' "$T/agent.log"; }
check "the write error is reported in the log" wait_for 15 reported
errs_grow() { [ "$(metric commit_errors)" -ge 3 ]; }
check "commits keep failing while full (commit_errors >= 3)" wait_for 15 errs_grow
check "output.errors counted" [ "$(metric output_errors)" -ge 1 ]
check "agent still running" agent_alive
check "positions did not advance while full" cmp -s "$FS/positions.json" "$T/positions.before"
grep -E 'vigie\[(error|warning)\]' "$T/agent.log" | sort | uniq -c | sed 's/^/    /' | head -5

echo "-- space returns"
rm -f "$FS/filler"
check "every numbered attack line alerted after recovery ($N)" wait_for 20 all_seen
check "positions committed to the end of the log" wait_for 10 committed_at "$(stat -c %s "$LOG")"
check "alert file: valid JSON lines (no torn write)" json_lines_valid "$FS/alerts.json"
dups=$(python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["message"] for l in open(sys.argv[1]))
print(sum(v - 1 for v in c.values()))' "$FS/alerts.json")
echo "    duplicate alerts: $dups"
check "no duplicate alert" [ "$dups" = 0 ]
attack
check "a new attack after recovery detected" wait_for 10 seen $N
hwm=$(awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status)
echo "    VmHWM ${hwm} kB (bound ${RSS_BOUND_KB} kB)"
check "peak RSS under the bound" [ "${hwm:-999999999}" -lt "$RSS_BOUND_KB" ]
check "clean stop" stop_agent

echo "-- full again, alerts written elsewhere: only positions and detector state fail"
sed "s|path: $FS/alerts.json|path: $T/alerts2.json|" "$T/vigie.yml" >"$T/vigie2.yml"
start_agent "$T/vigie2.yml"
check "agent restarted" wait_for 15 test -S "$FS/status.sock"
dd if=/dev/zero of="$FS/filler" bs=4k 2>/dev/null
cp "$FS/positions.json" "$T/positions.before"
first2=$((N + 1))
for i in $(seq 1 20); do attack; done
seen2() { grep -qs "\"198\.51\.100\.$1\"" "$T/alerts2.json"; }
all_seen2() { for i in $(seq $first2 $N); do seen2 $i || return 1; done; }
check "alerts still written to the other filesystem" wait_for 15 all_seen2
reported2() { grep -q 'detector state not saved\|positions not committed: .*positions' "$T/agent.log"; }
check "the state/positions write error is reported" wait_for 15 reported2
check "agent still running" agent_alive
check "positions did not advance while full" cmp -s "$FS/positions.json" "$T/positions.before"
rm -f "$FS/filler"
check "positions committed to the end of the log after recovery" wait_for 15 committed_at "$(stat -c %s "$LOG")"
check "clean stop" stop_agent
check "alert file 2: valid JSON lines" json_lines_valid "$T/alerts2.json"

echo "-- full again, alerts sent over HTTP through the spool (in the state directory)"
cat >"$T/recv.py" <<'PY'
import gzip, http.server, sys
out = open(sys.argv[1], 'ab', buffering=0)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        if self.headers.get('Content-Encoding') == 'gzip':
            body = gzip.decompress(body)
        out.write(body if body.endswith(b'\n') else body + b'\n')
        self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
open(sys.argv[2], 'w').write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$T/recv.py" "$T/received.ndjson" "$T/port" &
RECV=$!
trap 'kill $RECV 2>/dev/null; if agent_alive; then kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; fi; umount -l "$FS" 2>/dev/null; cleanup' EXIT
wait_for 10 test -s "$T/port"
cat >"$T/vigie3.yml" <<CONF
agent: {state_dir: $FS, commit_interval: 200ms}
rules: {paths: [$ROOT/rules/linux]}
spool: {min_free_disk: 0}
inputs:
  - {name: auth, type: file, paths: [$T/logs/*.log], format: syslog,
     logsource: {product: linux, service: auth}, start_at: beginning}
outputs:
  - {type: http, name: hook, preset: webhook, url: "http://127.0.0.1:$(cat "$T/port")/",
     batch_delay: 50ms, retry_min: 100ms, retry_max: 500ms, timeout: 5s}
CONF
if ! "$VIGIE" config check -c "$T/vigie3.yml" >"$T/check3" 2>&1; then
    fail "config check of the spool case"; cat "$T/check3"
else
    first3=$((N + 1))
    attack
    start_agent "$T/vigie3.yml"
    seen3() { grep -qs "\"198\.51\.100\.$1\"" "$T/received.ndjson"; }
    check "agent restarted, an attack delivered over HTTP" wait_for 15 seen3 $N
    dd if=/dev/zero of="$FS/filler" bs=4k 2>/dev/null
    cp "$FS/positions.json" "$T/positions.before"
    for i in $(seq 1 20); do attack; done
    reported3() { grep -q 'spool: .*inputs paused\|not committed\|not durable' "$T/agent.log"; }
    check "the spool write error is reported" wait_for 15 reported3
    check "agent still running" agent_alive
    check "positions did not advance while full" cmp -s "$FS/positions.json" "$T/positions.before"
    rm -f "$FS/filler"
    all_seen3() { for i in $(seq $first3 $N); do seen3 $i || return 1; done; }
    check "every attack delivered after recovery" wait_for 20 all_seen3
    check "positions committed to the end of the log" wait_for 15 committed_at "$(stat -c %s "$LOG")"
    check "clean stop" stop_agent
    dups3=$(python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["event"]["id"] for l in open(sys.argv[1]) if l.strip())
print(sum(v - 1 for v in c.values()))' "$T/received.ndjson")
    echo "    alerts delivered more than once: $dups3"
    check "no alert delivered twice" [ "$dups3" = 0 ]
fi
finish

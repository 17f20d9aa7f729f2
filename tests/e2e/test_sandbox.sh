#!/bin/bash
# agent.sandbox (default on): the running agent is under its own seccomp
# filter (every thread: Seccomp 2 in /proc/PID/task/*/status) and, where the
# kernel has Landlock, may write only beneath its state directory and the
# directories of its file outputs and unix listeners. Normal operation goes
# on end to end: tailing with rotation, detection, file and HTTP outputs, a
# UDP and a unix-socket listener, `vigie status`, SIGHUP reload, clean stop.
# A reload that would write outside the sandbox is refused, explicitly, and
# the agent keeps running. agent.sandbox: false applies nothing.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is not installed"
mkdir -p "$T/logs" "$T/rules" "$T/state" "$T/out" "$T/sock" "$T/elsewhere"
cat >"$T/rules/marker.yml" <<'RULE'
title: E2E sandbox marker
id: 6a0c3a7e-1f6e-4c52-9d7e-e2e0000000b1
status: test
level: high
logsource: {product: linux}
detection:
    keywords: ['VGSBX-']
    condition: keywords
RULE

# ---- a tiny HTTP collector: port 0, publishes its port, 200 to every POST.
cat >"$T/recv.py" <<'PY'
import http.server, sys
out, portfile = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        if self.headers.get('Content-Encoding') == 'gzip':
            body = __import__('gzip').decompress(body)
        with open(out, 'ab') as f:
            f.write(body if body.endswith(b'\n') else body + b'\n')
        self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
open(portfile + '.tmp', 'w').write(str(s.server_address[1])); __import__('os').rename(portfile + '.tmp', portfile)
s.serve_forever()
PY
python3 "$T/recv.py" "$T/http.ndjson" "$T/http.port" &
RECV_PID=$!
trap 'kill $RECV_PID 2>/dev/null; wait $RECV_PID 2>/dev/null; cleanup' EXIT
wait_for 10 test -s "$T/http.port" || { fail "HTTP receiver did not start"; finish; }
HPORT=$(cat "$T/http.port")
UDP=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

conf() { # conf FILE-OUTPUT-PATH SANDBOX [EXTRA-INPUT]
    cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms, sandbox: $2}
rules: {paths: [$T/rules]}
inputs:
  - {name: logs, type: file, paths: [$T/logs/*.log], start_at: beginning, logsource: {product: linux}}
  - {name: net, type: syslog, udp: "127.0.0.1:$UDP", unix: "$T/sock/log.sock", logsource: {product: linux}}
${3:-}
outputs:
  - {type: file, path: $1}
  - {type: http, name: hook, preset: webhook, url: "http://127.0.0.1:$HPORT/in", batch_delay: 50ms,
     retry_min: 100ms, retry_max: 500ms}
CONF
}
line() { printf 'Mar  3 10:00:00 host app[1]: VGSBX-%s payload\n' "$1" >>"$T/logs/app.log"; }
has() { grep -q "VGSBX-$2" "$1" 2>/dev/null; }
field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
running() { grep -q 'vigie\[info\]: running:' "$T/agent.log"; }

conf "$T/out/alerts.json" true
line 1
start_agent "$T/vigie.yml"
check "agent comes up with the sandbox on" wait_for 15 running
grep 'sandbox:' "$T/agent.log" | sed 's/^/    /'
LANDLOCK=0
grep -q 'landlock ABI' "$T/agent.log" && LANDLOCK=1

echo "-- the filter is on"
if [ -n "${VG_VALGRIND:-}" ] && grep -q 'sandbox: seccomp failed' "$T/agent.log"; then
    # valgrind emulates neither seccomp() nor Landlock: the agent runs without them.
    echo "  SKIP under valgrind, which has no seccomp: the agent ran without its filter, as it should"
else
check "the start log says what the sandbox does" grep -q 'sandbox: seccomp (' "$T/agent.log"
check "Seccomp: 2 (filter mode)" test "$(field "$AGENT_PID" Seccomp)" = 2
check "Seccomp_filters >= 1" test "$(field "$AGENT_PID" Seccomp_filters)" -ge 1
check "every thread is filtered" bash -c "
    n=0; for t in /proc/$AGENT_PID/task/*; do
        [ \"\$(awk '\$1 == \"Seccomp:\" { print \$2 }' \$t/status)\" = 2 ] || exit 1; n=\$((n+1)); done
    [ \$n -ge 2 ]"
fi
check "NoNewPrivs: 1" test "$(field "$AGENT_PID" NoNewPrivs)" = 1

echo "-- normal operation"
check "file input -> file output" wait_for 10 has "$T/out/alerts.json" 1
check "file input -> HTTP output" wait_for 10 has "$T/http.ndjson" 1
mv "$T/logs/app.log" "$T/logs/app.log.1" # rotation: rename, then a new file
line 2
check "after rotation, the new file is read" wait_for 10 has "$T/out/alerts.json" 2
printf '<13>Mar  3 10:00:00 host app[1]: VGSBX-udp over udp\n' |
    python3 -c "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.stdin.buffer.read(), ('127.0.0.1', $UDP))"
check "UDP listener" wait_for 10 has "$T/out/alerts.json" udp
check "the unix listener socket was created in its directory" test -S "$T/sock/log.sock"
printf '<13>Mar  3 10:00:00 host app[1]: VGSBX-unix over unix\n' |
    python3 -c "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.stdin.buffer.read(), '$T/sock/log.sock')"
check "unix listener" wait_for 10 has "$T/out/alerts.json" unix
check "vigie status answers" "$VIGIE" status -s "$T/state" --check
# The reload also adds an input in a directory created after the start:
# reading is not confined, so it is read (the agent never goes blind).
mkdir -p "$T/newlogs"
printf 'Mar  3 10:00:01 host app[1]: VGSBX-new in a new directory\n' >"$T/newlogs/n.log"
conf "$T/out/alerts.json" true "  - {name: new, type: file, paths: [$T/newlogs/*.log], start_at: beginning, logsource: {product: linux}}"
cp "$T/rules/marker.yml" "$T/rules/marker2.yml"
sed -i 's/6a0c3a7e-1f6e-4c52-9d7e-e2e0000000b1/6a0c3a7e-1f6e-4c52-9d7e-e2e0000000b2/; s/VGSBX-/VGSBY-/; s/E2E sandbox marker/E2E sandbox second/' "$T/rules/marker2.yml"
kill -HUP "$AGENT_PID"
check "SIGHUP reloads" wait_for 10 grep -q "reloaded:" "$T/agent.log"
printf 'Mar  3 10:00:01 host app[1]: VGSBY-3 after reload\n' >>"$T/logs/app.log"
check "the new rule fires after the reload" wait_for 10 grep -q "VGSBY-3" "$T/out/alerts.json"
check "an input added by the reload, in a new directory, is read" wait_for 10 has "$T/out/alerts.json" new
printf '<13>Mar  3 10:00:00 host app[1]: VGSBX-unix2 over unix\n' |
    python3 -c "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.stdin.buffer.read(), '$T/sock/log.sock')"
check "the unix listener, recreated by the reload, works" wait_for 10 has "$T/out/alerts.json" unix2

echo "-- a reload cannot widen the sandbox"
if [ "$LANDLOCK" = 1 ]; then
    conf "$T/elsewhere/alerts.json" true
    kill -HUP "$AGENT_PID"
    check "reload to a new output directory is refused, saying a restart is needed" \
        wait_for 10 grep -q "reload refused, keeping the running configuration: output .* needs file creation in $T/elsewhere, outside the sandbox fixed at start (agent.sandbox); restart vigie" "$T/agent.log"
    line 4
    check "the running configuration goes on detecting" wait_for 10 has "$T/out/alerts.json" 4
    check "nothing was written elsewhere" test ! -e "$T/elsewhere/alerts.json"
    check "agent alive" agent_alive
else
    echo "  SKIP Landlock not active on this kernel: no write confinement to check"
fi
check "no sender errors" bash -c "! grep -Eq 'Operation not permitted|Permission denied' '$T/agent.log'"
check "clean stop" stop_agent
check "the agent's own files are in place (positions, spool)" test -n "$(ls "$T/state")"

echo "-- agent.sandbox: false"
conf "$T/out/alerts.json" false
line 5
start_agent "$T/vigie.yml"
check "agent comes up" wait_for 15 bash -c "[ \$(grep -c 'vigie\[info\]: running:' '$T/agent.log') -ge 2 ]"
check "it says the sandbox is off" grep -q 'sandbox: off (agent.sandbox: false)' "$T/agent.log"
check "Seccomp: 0" test "$(field "$AGENT_PID" Seccomp)" = 0
check "still detects" wait_for 10 has "$T/out/alerts.json" 5
check "clean stop" stop_agent
finish

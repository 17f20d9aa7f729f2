# lib.sh - helpers for the end-to-end tests (sourced).
#
# Each test script runs the real vigie binary ($VIGIE) in its own temporary
# directory, waits on conditions with deadlines (never a bare sleep), and
# exits 0 (pass), 77 (skipped, with a message) or 1 (failed). `check` records
# a failure and goes on, so one run reports every broken expectation.

set -u
VIGIE=${VIGIE:?set VIGIE to the vigie binary}
ROOT=${VG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CORPUS=$ROOT/../shared/corpus
T=$(mktemp -d /tmp/vigie-e2e.XXXXXX)
FAILS=0
AGENT_PID=
trap 'cleanup' EXIT

cleanup() {
    if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -9 "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
    fi
    if [ "$FAILS" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T"; else echo "  (kept $T)"; fi
}

pass() { echo "  ok   $*"; }
fail() { echo "  FAIL $*"; FAILS=$((FAILS + 1)); }

# check "description" command...: pass when the command succeeds.
check() {
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_for SECONDS command...: poll the condition every 50 ms until the deadline.
# VG_WAIT_SCALE=N multiplies every deadline (tests/valgrind.sh: the agent runs
# ~20-50x slower under valgrind).
wait_for() {
    local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 * ${VG_WAIT_SCALE:-1} )); shift
    while ! "$@"; do
        if [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ]; then return 1; fi
        sleep 0.05
    done
    return 0
}

skip() { echo "  SKIP $*"; exit 77; }

finish() {
    if [ "$FAILS" = 0 ]; then exit 0; fi
    echo "  $FAILS check(s) failed"
    exit 1
}

# start_agent CONFIG [args...]: vigie run in the background, stderr to $T/agent.log.
# As root, with --allow-root (a root agent without agent.user refuses to run).
ALLOW_ROOT=(); [ "$(id -u)" = 0 ] && ALLOW_ROOT=(--allow-root)
start_agent() {
    "$VIGIE" run "${ALLOW_ROOT[@]}" -c "$@" >>"$T/agent.out" 2>>"$T/agent.log" &
    AGENT_PID=$!
}

stop_agent() { # SIGTERM and wait for a clean exit
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID"
    local rc=$?
    AGENT_PID=
    return $rc
}

kill_agent() { # SIGKILL: no clean shutdown
    kill -9 "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}

agent_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# json_lines_valid FILE: every line is a JSON object.
json_lines_valid() {
    python3 - "$1" <<'PY'
import json, sys
n = 0
for i, line in enumerate(open(sys.argv[1], 'rb'), 1):
    try:
        obj = json.loads(line.decode('utf-8'))
        assert isinstance(obj, dict)
        n += 1
    except Exception as e:
        print(f"    line {i}: not a JSON object: {e}")
        sys.exit(1)
PY
}

# count_lines FILE: number of lines (0 if absent).
count_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# alerts_by_rule FILE: "COUNT<TAB>rule name" per rule, from JSON alert lines.
alerts_by_rule() {
    python3 - "$1" <<'PY'
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1], 'rb'):
    c[json.loads(line)['rule']['name']] += 1
for name, n in c.most_common():
    print(f"{n}\t{name}")
PY
}

# rule_count FILE "rule name": how many alerts of that rule.
rule_count() {
    alerts_by_rule "$1" | awk -F'\t' -v n="$2" '$2 == n { c = $1 } END { print c + 0 }'
}

#!/bin/bash
# Chaos: nothing lost. A writer appends N numbered lines that each raise an
# alert (N=200000 by default, VG_CHAOS_LINES to change), rotating its file
# both ways (rename, and copytruncate once the agent has committed what the
# file holds: copytruncate loses whatever nobody read before the truncate, for
# every tailer); ClickHouse is stopped and restarted 3 times; the agent is
# killed with SIGKILL and restarted 5 times, and stopped cleanly twice. At
# the end every number is in ClickHouse: zero lost. Duplicates are printed
# beside their bound: none from clean restarts; after a SIGKILL at most the
# lines of one commit interval plus one second of acknowledged batches whose
# cursor was not yet persisted; they share event.id, so uniqExact(event_id) == N.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_clickhouse.sh"

N=${VG_CHAOS_LINES:-200000}
RATE=${VG_CHAOS_RATE:-4000} # lines per second
COMMIT_MS=500

ch_start "$T/ch" || { rc=$?; [ $rc = 77 ] && skip "ClickHouse not available"; fail "ClickHouse start"; finish; }
WRITER=
trap '[ -n "$WRITER" ] && kill $WRITER 2>/dev/null; ch_kill; cleanup' EXIT
ch_query "$(cat "$ROOT/packaging/clickhouse.sql")" >/dev/null || { fail "create table"; finish; }

mkdir -p "$T/logs" "$T/rules" "$T/state"
cat >"$T/rules/r.yml" <<'RULE'
title: Chaos line
id: 0f5e2d8c-3b7a-4c1e-9d2f-6a8b4c0e1f23
status: test
level: medium
logsource: {product: linux}
detection:
    keywords: ['CHAOS seq=']
    condition: keywords
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: ${COMMIT_MS}ms, heartbeat_interval: 5s}
rules: {paths: [$T/rules]}
inputs:
  - {name: chaos, type: file, paths: [$T/logs/chaos.log], start_at: beginning,
     logsource: {product: linux}, rotate_wait: 30s}
outputs:
  - {type: http, name: ch, preset: clickhouse, url: "$CH_URL", batch_delay: 100ms,
     retry_min: 100ms, retry_max: 1s, timeout: 10s}
CONF

# The writer: numbered lines at RATE/s; every 25,000 lines a rotation,
# alternating rename and copytruncate. Before a copytruncate it waits (up to
# 120 s) until positions.json shows the agent committed the whole file.
cat >"$T/writer.py" <<'PY'
import json, os, shutil, sys, time
logs, state, n, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
path = os.path.join(logs, 'chaos.log')
def committed(ino):
    try:
        d = json.load(open(os.path.join(state, 'positions.json')))
    except Exception:
        return -1
    def walk(o):
        if isinstance(o, dict):
            if o.get('ino') == ino and 'offset' in o:
                yield o['offset']
            for v in o.values():
                yield from walk(v)
        elif isinstance(o, list):
            for v in o:
                yield from walk(v)
    return max(walk(d), default=-1)
f = open(path, 'a')
t0 = time.time()
rot = 0
for i in range(1, n + 1):
    f.write(f'Mar  3 10:00:00 host app[7]: CHAOS seq={i} payload abcdefghijklmnopqrstuvwxyz\n')
    if i % 500 == 0:
        f.flush()
        if i % 5000 == 0:
            print(f'at {i}', flush=True)
        ahead = t0 + i / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
    if i % 25000 == 0 and i < n:
        f.flush()
        rot += 1
        # Like logrotate: older copies shift first (.1 -> .2), so a rotated
        # file still being finished is never overwritten.
        for k in (2, 1):
            if os.path.exists(f'{path}.{k}'):
                os.replace(f'{path}.{k}', f'{path}.{k + 1}')
        if rot % 2:
            f.close()
            os.replace(path, path + '.1')
            f = open(path, 'a')
        else:
            st = os.stat(path)
            deadline = time.time() + 120
            while committed(st.st_ino) < st.st_size and time.time() < deadline:
                time.sleep(0.05)
            shutil.copyfile(path, path + '.1')
            f.truncate(0)
            f.seek(0)
        print(f'rotation {rot} at line {i} ({"rename" if rot % 2 else "copytruncate"})', flush=True)
f.close()
print('writer done', flush=True)
PY
python3 "$T/writer.py" "$T/logs" "$T/state" "$N" "$RATE" >"$T/writer.log" 2>&1 &
WRITER=$!

start_agent "$T/vigie.yml"
rows() { ch_query "SELECT count() FROM vigie_alerts WHERE kind='alert'" 2>/dev/null || echo 0; }
# distinct line numbers arrived (duplicates must not end the wait early)
distinct_at_least() {
    [ "$(ch_query "SELECT uniqExact(extract(message, 'seq=([0-9]+)')) FROM vigie_alerts WHERE kind='alert'" 2>/dev/null || echo 0)" -ge "$1" ] 2>/dev/null
}
starts=0
running_count() { [ "$(grep -c 'running:' "$T/agent.log")" -ge "$1" ]; }
writer_at() { awk '/^at / { n = $2 } END { print n + 0 }' "$T/writer.log"; }
writer_past() { [ "$(writer_at)" -ge "$1" ] || grep -q "writer done" "$T/writer.log"; }

# The script of the chaos, scheduled on the writer's progress (not the clock).
dur=$(( N / RATE ))
kills=0 ch_cycles=0 clean=0
for phase in 1 2 3 4 5 6 7 8 9 10; do
    wait_for $((dur + 60)) writer_past $(( phase * N / 11 )) || true
    case $phase in
        1|3|5|7|9)
            kill_agent; kills=$((kills + 1))
            starts=$(grep -c 'running:' "$T/agent.log"); start_agent "$T/vigie.yml" ;;
        2|6|8)
            ch_stop; ch_cycles=$((ch_cycles + 1))
            # Down while the writer adds 4% of the lines (alerts pile up in the spool).
            wait_for $((dur + 60)) writer_past $(( phase * N / 11 + N / 25 )) || true
            ch_launch || { fail "ClickHouse restart $ch_cycles"; finish; } ;;
        4|10)
            # A clean stop of a running agent (not one still starting up).
            wait_for 30 running_count $((starts + 1)) || fail "agent start before clean stop $clean"
            stop_agent || fail "clean stop $clean"; clean=$((clean + 1))
            starts=$(grep -c 'running:' "$T/agent.log"); start_agent "$T/vigie.yml" ;;
    esac
done
check "writer finished" wait_for $((dur + 120)) grep -q "writer done" "$T/writer.log"
WRITER=
if wait_for 180 distinct_at_least "$N"; then
    pass "every line arrives in ClickHouse"
else
    fail "every line arrives in ClickHouse"
    # What the agent was doing: its status, and its threads when gdb is here.
    echo "  rows: $(rows)"
    "$VIGIE" status -c "$T/vigie.yml" 2>&1 | sed 's/^/  status: /' | head -40
    command -v gdb >/dev/null && [ -n "$AGENT_PID" ] &&
        gdb -batch -p "$AGENT_PID" -ex "thread apply all bt" 2>/dev/null | grep -E '^(Thread|#)' |
        sed 's/^/  gdb: /' | head -80
fi
stop_agent
distinct_n=$(ch_query "SELECT uniqExact(extract(message, 'seq=([0-9]+)')) FROM vigie_alerts WHERE kind='alert'")
distinct_id=$(ch_query "SELECT uniqExact(event_id) FROM vigie_alerts WHERE kind='alert'")
total=$(rows)
dups=$((total - distinct_id))
bound=$(( kills * (RATE * COMMIT_MS / 1000 + RATE) ))
echo "  lines $N, rows $total, distinct numbers $distinct_n, distinct event.id $distinct_id"
echo "  duplicates $dups (bound: $kills SIGKILLs x (one commit interval ${COMMIT_MS}ms + 1 s of unpersisted acks) at $RATE lines/s = $bound)"
echo "  chaos: $kills SIGKILL, $clean clean restarts, $ch_cycles ClickHouse restarts, $(grep -c rotation "$T/writer.log") rotations"
check "zero lost: $distinct_n distinct numbers of $N" test "$distinct_n" = "$N"
check "uniqExact(event_id) = $N" test "$distinct_id" = "$N"
check "duplicates within the bound ($dups <= $bound)" test "$dups" -le "$bound"
check "agent never crashed" bash -c "! grep -qiE 'ERROR: [a-z]+sanitizer|runtime error:|segmentation fault' '$T/agent.log'"
ch_stop
finish

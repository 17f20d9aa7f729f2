#!/bin/bash
# tests/bench/delivery.sh - delivery to ClickHouse on loopback (issue 6).
#
#   tests/bench/delivery.sh [ALERTS] [RUNS]    (defaults: 300000 alerts, 3 runs)
#
# 1. Alerts per second delivered: ALERTS lines that each raise an alert are
#    read from the beginning of a file by `vigie run` with one clickhouse
#    http output; the clock runs from the agent's start until every row is
#    acknowledged. Twice: to a collector that only acknowledges
#    (null_collector.py: the agent alone) and to ClickHouse (the two share
#    the machine's cores). Also: CPU seconds of the agent (and of ClickHouse)
#    per 100k alerts, bytes on the wire per alert (gzip bodies, the
#    transport's http.wire_bytes). Medians of RUNS runs, each on a fresh
#    table and state directory. References in the same run: ClickHouse
#    alone, inserting the agent's own request bodies replayed by curl (its
#    ceiling on this machine), and the time `gzip -1` takes on the same
#    alert JSON.
# 2. Raw-event forwarding, compression ratio per loghub sample
#    (../shared/corpus/loghub/*/*_2k.log): bytes of the raw log lines ÷ bytes
#    on the wire, each file forwarded as events (forward_events: true).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VIGIE=${VIGIE:-$ROOT/build/vigie}
N=${1:-300000}
RUNS=${2:-3}
T=$(mktemp -d /tmp/vigie-bench-delivery.XXXXXX)
export T
. "$ROOT/tests/e2e/lib_clickhouse.sh"
AGENT= NULLPID=
trap '[ -n "$AGENT" ] && kill -9 $AGENT 2>/dev/null; [ -n "$NULLPID" ] && kill $NULLPID 2>/dev/null; ch_kill; rm -rf "$T"' EXIT
ch_start "$T/ch" >/dev/null || { echo "ClickHouse not available"; exit 1; }
ALLOW=(); [ "$(id -u)" = 0 ] && ALLOW=(--allow-root)

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
stat_of() { awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }' "$2"; }

mkdir -p "$T/rules"
cat >"$T/rules/r.yml" <<'RULE'
title: Bench SSH failure
id: 7d3f4c2a-1b5e-4a6f-8c9d-0e1f2a3b4c5d
status: test
level: medium
logsource: {product: linux}
detection:
    keywords: ['Failed password']
    condition: keywords
RULE
python3 - "$T/alerts.log" "$N" <<'PY'
import sys, random
random.seed(1)
with open(sys.argv[1], 'w') as f:
    for i in range(int(sys.argv[2])):
        ip = f'{random.randint(1,223)}.{random.randint(0,255)}.{random.randint(0,255)}.{random.randint(1,254)}'
        f.write(f'Mar  3 10:{i // 60 % 60:02d}:{i % 60:02d} web01 sshd[{1000 + i % 5000}]: Failed password for '
                f'invalid user u{i % 977} from {ip} port {1024 + i % 60000} ssh2\n')
PY

# The null collector (tests/bench/null_collector.py): acknowledges at once;
# keeps the agent's first 12 request bodies for the ClickHouse replay below.
mkdir -p "$T/bodies"
python3 "$ROOT/tests/bench/null_collector.py" "$T/null.port" "$T/bodies" 12 &
NULLPID=$!
for _ in $(seq 1 200); do [ -s "$T/null.port" ] && break; sleep 0.05; done
NULL_URL="http://127.0.0.1:$(cat "$T/null.port")/"

ticks_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
sent_of() { # rows the agent's output has had acknowledged (its status socket)
    "$VIGIE" status -s "$T/state" --metrics 2>/dev/null |
        awk '/^vigie_output_sent_total\{output="ch"\}/ { print $2; f = 1 } END { if (!f) print 0 }'
}

run_once() { # run_once INPUT FORWARD KIND WANT URL -> "ms agent_ticks wire_bytes ch_ticks"
    local input=$1 fwd=$2 kind=$3 want=$4 url=$5
    rm -rf "$T/state"; mkdir -p "$T/state"
    if [ "$url" = "$CH_URL" ]; then
        ch_query "DROP TABLE IF EXISTS vigie_alerts" >/dev/null
        ch_query "$(cat "$ROOT/packaging/clickhouse.sql")" >/dev/null
    fi
    cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 1s, heartbeat_interval: 0s}
rules: {paths: [$RULES]}
inputs:
  - {name: in, type: file, paths: [$input], start_at: beginning, logsource: {product: linux},
     forward_events: $fwd}
outputs:
  - {type: http, name: ch, preset: clickhouse, url: "$url", batch_delay: 200ms,
     batch_max_events: 20000, batch_max_bytes: 16MiB, parallel: 2}
CONF
    local t0 t1 c0
    c0=$(ticks_of "$CH_PID")
    t0=$(date +%s%N)
    "$VIGIE" run "${ALLOW[@]}" -c "$T/vigie.yml" 2>"$T/agent.log" &
    AGENT=$!
    for (( ; ; )); do
        if [ "$url" = "$CH_URL" ]; then
            [ "$(ch_query "SELECT count() FROM vigie_alerts WHERE kind='$kind'" 2>/dev/null || echo 0)" -ge "$want" ] && break
        else
            [ "$(sent_of)" -ge "$want" ] && break
        fi
        kill -0 $AGENT 2>/dev/null || { echo "agent died" >&2; return 1; }
        [ $(( ($(date +%s%N) - t0) / 1000000000 )) -gt 600 ] && { echo "timeout" >&2; return 1; }
        sleep 0.05
    done
    t1=$(date +%s%N)
    local ticks
    ticks=$(ticks_of $AGENT)
    local cticks=$(( $(ticks_of "$CH_PID") - c0 ))
    kill -TERM $AGENT; wait $AGENT; AGENT=
    echo "$(( (t1 - t0) / 1000000 )) $ticks $(stat_of 'http.wire_bytes{output="ch"}' "$T/agent.log") $cticks"
}

hz=$(getconf CLK_TCK)
report() { # report RUNSFILE TITLE
    local ms cpu wire chcpu
    ms=$(awk '{ print $1 }' "$1" | median)
    cpu=$(awk -v hz="$hz" '{ print $2 / hz }' "$1" | median)
    wire=$(awk '{ print $3 }' "$1" | median)
    chcpu=$(awk -v hz="$hz" '{ print $4 / hz }' "$1" | median)
    awk -v n="$N" -v ms="$ms" -v cpu="$cpu" -v wire="$wire" -v ch="$chcpu" -v t="$2" 'BEGIN {
    printf "  %s\n", t
    printf "    alerts/s delivered      %.0f   (%d alerts in %.2f s, from agent start to the last acknowledgement)\n", n / (ms / 1000), n, ms / 1000
    printf "    CPU s per 100k alerts   %.2f   (agent user+sys)\n", cpu * 100000 / n
    if (ch > 0) printf "    ClickHouse CPU s/100k   %.2f   (clickhouse-server user+sys over the same run, same 2 cores)\n", ch * 100000 / n
    printf "    wire bytes per alert    %.0f   (gzip bodies)\n", wire / n
}'
}

RULES=$T/rules
echo "== delivery of $N alerts on loopback (median of $RUNS runs each; $(nproc) CPUs shared by everything)"
: >"$T/runs.null"
: >"$T/runs.ch"
for r in $(seq 1 "$RUNS"); do
    run_once "$T/alerts.log" false alert "$N" "$NULL_URL" >>"$T/runs.null" || exit 1
    run_once "$T/alerts.log" false alert "$N" "$CH_URL" >>"$T/runs.ch" || exit 1
done
report "$T/runs.null" "the agent alone: to a collector that only acknowledges (null_collector.py)"
report "$T/runs.ch" "to ClickHouse $(ch_query 'SELECT version()')"

# References in the same run. (1) ClickHouse alone: the agent's own first
# request bodies (saved by the null collector) posted by curl, two at a time
# as the agent does: the ceiling of this ClickHouse on this machine.
ch_query "DROP TABLE IF EXISTS vigie_alerts" >/dev/null
ch_query "$(cat "$ROOT/packaging/clickhouse.sql")" >/dev/null
nb=$(ls "$T/bodies"/*.body 2>/dev/null | wc -l)
if [ "$nb" -ge 2 ]; then
    c0=$(ticks_of "$CH_PID"); r0=$(date +%s%N)
    for k in $(seq 0 2 $((nb - 2))); do
        pids=
        for j in $k $((k + 1)); do
            curl -sS --noproxy '*' -o /dev/null -H 'Content-Encoding: gzip' --data-binary "@$T/bodies/$j.body" \
                "http://127.0.0.1:$CH_HTTP_PORT$(cat "$T/bodies/$j.query")" & pids="$pids $!"
        done
        wait $pids
    done
    r1=$(date +%s%N); c1=$(ticks_of "$CH_PID")
    rows=$(ch_query "SELECT count() FROM vigie_alerts")
    awk -v rows="$rows" -v ms=$(( (r1 - r0) / 1000000 )) -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN {
    printf "  reference: ClickHouse alone, the agent'"'"'s %d rows replayed by curl (2 requests at a time)\n", rows
    printf "    rows/s inserted         %.0f   (ClickHouse CPU s/100k rows %.2f)\n", rows / (ms / 1000), c / hz * 100000 / rows }'
fi
# (2) gzip of the same alerts as JSON lines.
"$VIGIE" scan --rules "$T/rules" -o json "$T/alerts.log" >"$T/alerts.json" 2>/dev/null
g0=$(date +%s%N); gzip -1 -c "$T/alerts.json" >"$T/alerts.json.gz"; g1=$(date +%s%N)
json_bytes=$(stat -c %s "$T/alerts.json")
awk -v gms=$(( (g1 - g0) / 1000000 )) -v jb="$json_bytes" -v n="$N" 'BEGIN {
    printf "  reference: gzip -1 of the same %d MB of alert JSON (%.0f bytes/alert) takes %.2f s here\n", jb / 1e6, jb / n, gms / 1000
}'

echo
echo "== raw-event forwarding: bytes of the log lines / bytes on the wire (loghub samples)"
CORPUS=$ROOT/../shared/corpus/loghub
if [ ! -d "$CORPUS" ]; then echo "  (corpus absent: skipped)"; exit 0; fi
RULES=$T/norules # events only: no alert mixed into the wire bytes
mkdir -p "$RULES"
printf '  %-12s %10s %10s %8s\n' dataset raw_bytes wire_bytes ratio
tot_raw=0 tot_wire=0
for f in "$CORPUS"/*/*_2k.log; do
    name=$(basename "$(dirname "$f")")
    lines=$(wc -l <"$f")
    out=$(run_once "$f" true event "$lines" "$CH_URL") || { echo "  $name: failed"; continue; }
    wire=$(echo "$out" | awk '{ print $3 }')
    raw=$(stat -c %s "$f")
    tot_raw=$((tot_raw + raw)); tot_wire=$((tot_wire + wire))
    awk -v n="$name" -v r="$raw" -v w="$wire" 'BEGIN { printf "  %-12s %10d %10d %7.1fx\n", n, r, w, r / w }'
done
awk -v r="$tot_raw" -v w="$tot_wire" 'BEGIN { printf "  %-12s %10d %10d %7.1fx\n", "all", r, w, r / w }'

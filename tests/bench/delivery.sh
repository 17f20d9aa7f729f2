#!/bin/bash
# tests/bench/delivery.sh - delivery to ClickHouse on loopback (issue 6).
#
#   tests/bench/delivery.sh [ALERTS] [RUNS]    (defaults: 300000 alerts, 3 runs)
#
# 1. Alerts per second delivered: ALERTS lines that each raise an alert are
#    read from the beginning of a file by `vigie run` with one clickhouse
#    http output; the clock runs from the agent's start until ClickHouse
#    counts every row. Also: CPU seconds of the agent per 100k alerts, bytes
#    on the wire per alert (gzip bodies, the transport's http.wire_bytes).
#    Medians of RUNS runs, each on a fresh table and state directory. The
#    reference in the same run: the time `gzip -c` takes on the same JSON
#    (what compressing the alerts alone costs).
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
AGENT=
trap '[ -n "$AGENT" ] && kill -9 $AGENT 2>/dev/null; ch_kill; rm -rf "$T"' EXIT
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

run_once() { # run_once INPUT FORWARD -> "seconds cpu_s wire_bytes rows"
    local input=$1 fwd=$2 kind=$3 want=$4
    rm -rf "$T/state"; mkdir -p "$T/state"
    ch_query "DROP TABLE IF EXISTS vigie_alerts" >/dev/null
    ch_query "$(cat "$ROOT/packaging/clickhouse.sql")" >/dev/null
    cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 1s, heartbeat_interval: 0s}
rules: {paths: [$RULES]}
inputs:
  - {name: in, type: file, paths: [$input], start_at: beginning, logsource: {product: linux},
     forward_events: $fwd}
outputs:
  - {type: http, name: ch, preset: clickhouse, url: "$CH_URL", batch_delay: 200ms,
     batch_max_events: 20000, batch_max_bytes: 16MiB}
CONF
    local t0 t1
    t0=$(date +%s%N)
    "$VIGIE" run "${ALLOW[@]}" -c "$T/vigie.yml" 2>"$T/agent.log" &
    AGENT=$!
    while [ "$(ch_query "SELECT count() FROM vigie_alerts WHERE kind='$kind'" 2>/dev/null || echo 0)" -lt "$want" ]; do
        kill -0 $AGENT 2>/dev/null || { echo "agent died" >&2; return 1; }
        [ $(( ($(date +%s%N) - t0) / 1000000000 )) -gt 600 ] && { echo "timeout" >&2; return 1; }
        sleep 0.05
    done
    t1=$(date +%s%N)
    local ticks
    ticks=$(awk '{ print $14 + $15 }' /proc/$AGENT/stat)
    kill -TERM $AGENT; wait $AGENT; AGENT=
    echo "$(( (t1 - t0) / 1000000 )) $ticks $(stat_of 'http.wire_bytes{output="ch"}' "$T/agent.log")"
}

RULES=$T/rules
echo "== delivery of $N alerts to ClickHouse $(ch_query 'SELECT version()') on loopback (median of $RUNS)"
: >"$T/runs"
for r in $(seq 1 "$RUNS"); do
    run_once "$T/alerts.log" false alert "$N" >>"$T/runs" || exit 1
done
hz=$(getconf CLK_TCK)
ms=$(awk '{ print $1 }' "$T/runs" | median)
cpu=$(awk -v hz="$hz" '{ print $2 / hz }' "$T/runs" | median)
wire=$(awk '{ print $3 }' "$T/runs" | median)
# Reference in the same run: gzip of the same alerts as JSON lines.
"$VIGIE" scan --rules "$T/rules" -o json "$T/alerts.log" >"$T/alerts.json" 2>/dev/null
g0=$(date +%s%N); gzip -1 -c "$T/alerts.json" >"$T/alerts.json.gz"; g1=$(date +%s%N)
json_bytes=$(stat -c %s "$T/alerts.json")
awk -v n="$N" -v ms="$ms" -v cpu="$cpu" -v wire="$wire" -v gms=$(( (g1 - g0) / 1000000 )) \
    -v jb="$json_bytes" 'BEGIN {
    printf "  alerts/s delivered      %.0f   (%d alerts in %.2f s, from agent start to the last row)\n", n / (ms / 1000), n, ms / 1000
    printf "  CPU s per 100k alerts   %.2f   (agent user+sys)\n", cpu * 100000 / n
    printf "  wire bytes per alert    %.0f   (gzip bodies; the alert JSON is %.0f bytes: %.1fx)\n", wire / n, jb / n, jb / wire
    printf "  reference: gzip -1 of the same %d MB of alert JSON takes %.2f s on this machine\n", jb / 1e6, gms / 1000
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
    out=$(run_once "$f" true event "$lines") || { echo "  $name: failed"; continue; }
    wire=$(echo "$out" | awk '{ print $3 }')
    raw=$(stat -c %s "$f")
    tot_raw=$((tot_raw + raw)); tot_wire=$((tot_wire + wire))
    awk -v n="$name" -v r="$raw" -v w="$wire" 'BEGIN { printf "  %-12s %10d %10d %7.1fx\n", n, r, w, r / w }'
done
awk -v r="$tot_raw" -v w="$tot_wire" 'BEGIN { printf "  %-12s %10d %10d %7.1fx\n", "all", r, w, r / w }'

#!/bin/bash
# test_clickhouse_transport.sh - the http transport's clickhouse preset
# against a real ClickHouse (Debian's clickhouse-server, started here on
# free ports in the test directory): the table of packaging/clickhouse.sql is
# created, the `clickhouse` suite of test_http inserts alerts, raw events,
# heartbeats and a hostile record, plain and gzip, and reads them back; the
# documented "agents silent for five minutes" query is checked; rows survive
# a ClickHouse restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_clickhouse.sh"

BUILD=${VG_BUILD_ROOT:-$(dirname "$VIGIE")}
TH=$BUILD/tests/test_http
[ -x "$TH" ] || skip "$TH not built"
ch_start "$T/ch"
rc=$?
[ $rc = 77 ] && skip "ClickHouse is not available here"
if [ $rc != 0 ]; then fail "clickhouse-server starts"; finish; fi
trap 'ch_stop; cleanup' EXIT
echo "  clickhouse $(ch_query 'SELECT version()') on port $CH_HTTP_PORT, RSS $(ch_rss_kb) KiB"

check "packaging/clickhouse.sql creates the table" \
    ch_query "$(sed 's/--.*$//' "$ROOT/packaging/clickhouse.sql")"

out=$(VG_CH_URL=$CH_URL "$TH" --jobs 1 --filter 'clickhouse/*' --verbose 2>&1)
synth=$(printf '%s\n' "$out" | grep Synthesis)
check "transport rows arrive with their fields, plain and gzip ($synth)" \
    grep -q 'Passing: 1 | Failing: 0 | Crashing: 0' <<<"$synth"
grep -q 'Passing: 1 |' <<<"$synth" || printf '%s\n' "$out" | grep -v '\[SKIP\]\|\[====\]' | tail -20

# The README's query: agents silent for five minutes.
ch_query "INSERT INTO vigie_alerts (timestamp, event_id, kind, host, agent_id) VALUES
    (now() - 600, 'hb-old', 'state', 'silent-host', 'a-old'),
    (now() - 30, 'hb-new', 'state', 'live-host', 'a-new'),
    (now() - 900, 'hb-new0', 'state', 'live-host', 'a-new')" >/dev/null
silent=$(ch_query "SELECT host, agent_id, max(timestamp) AS last_seen,
    dateDiff('second', max(timestamp), now()) AS silent_s
    FROM vigie_alerts WHERE kind = 'state' AND timestamp > now() - INTERVAL 1 DAY
    GROUP BY host, agent_id HAVING last_seen < now() - INTERVAL 5 MINUTE
    ORDER BY last_seen FORMAT TSV")
check "silent-agents query lists only the silent host" \
    test "$(cut -f1,2 <<<"$silent")" = "$(printf 'silent-host\ta-old')"

before=$(ch_query "SELECT count() FROM vigie_alerts")
ch_restart || fail "clickhouse restarts"
check "rows survive a restart ($before)" test "$(ch_query 'SELECT count() FROM vigie_alerts')" = "$before"
finish

#!/bin/bash
# Delivery to a real ClickHouse through the spool: alerts arrive with their
# fields; during an outage they stay in the spool (on disk, compressed) and
# arrive once ClickHouse is back; heartbeats arrive as kind='state'; raw
# events of a forward_events input arrive redacted; `vigie alerts` shows what
# this host raised without any network; a SIGTERM restart re-sends nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_clickhouse.sh"

ch_start "$T/ch" || { rc=$?; [ $rc = 77 ] && skip "ClickHouse not available"; fail "ClickHouse start"; finish; }
trap 'ch_kill; cleanup' EXIT
ch_query "$(cat "$ROOT/packaging/clickhouse.sql")" >/dev/null || { fail "create table"; finish; }

mkdir -p "$T/logs" "$T/rules" "$T/state"
cat >"$T/rules/r.yml" <<'RULE'
title: Delivery marker
id: 5b0c6a39-0d4e-4f57-9a57-5d1c2e7c0d11
status: test
level: high
logsource: {product: linux}
detection:
    keywords: ['DELIVERME']
    condition: keywords
RULE
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 300ms, heartbeat_interval: 1s}
rules: {paths: [$T/rules]}
redaction: {enabled: true}
inputs:
  - {name: app, type: file, paths: [$T/logs/app.log], start_at: beginning,
     logsource: {product: linux}, forward_events: true}
outputs:
  - {type: file, path: $T/alerts.json}
  - {type: http, name: ch, preset: clickhouse, url: "$CH_URL", batch_delay: 50ms,
     retry_min: 100ms, retry_max: 500ms, timeout: 5s}
CONF
"$VIGIE" config check -c "$T/vigie.yml" >/dev/null 2>&1 || { fail "config check"; "$VIGIE" config check -c "$T/vigie.yml"; finish; }

line() { printf 'Mar  3 10:00:00 host app[1]: %s n=%d contact jean.dupont@example.org\n' "$1" "$2" >>"$T/logs/app.log"; }
rows() { ch_query "SELECT count() FROM vigie_alerts WHERE kind = '$1'" 2>/dev/null; }
have_rows() { [ "$(rows "$1")" -ge "$2" ] 2>/dev/null; }

for i in $(seq 1 20); do line DELIVERME "$i"; done
for i in $(seq 1 10); do line quiet "$i"; done
start_agent "$T/vigie.yml"
check "20 alerts in ClickHouse" wait_for 20 have_rows alert 20
check "30 raw events in ClickHouse" wait_for 20 have_rows event 30
check "heartbeats in ClickHouse" wait_for 20 have_rows state 1
got=$(ch_query "SELECT level, severity, rule_title, host FROM vigie_alerts WHERE kind='alert' LIMIT 1 FORMAT TSV")
check "alert row has its fields (got: $got)" test "$(printf '%s' "$got" | cut -f1-3)" = "$(printf 'high\t73\tDelivery marker')"
check "no e-mail address left the host" test "$(ch_query "SELECT count() FROM vigie_alerts WHERE position(raw, 'jean.dupont@') > 0")" = 0
check "the address is replaced by a token" test "$(ch_query "SELECT count() FROM vigie_alerts WHERE position(message, '[EMAIL') > 0")" -ge 50
check "the local alert file keeps the original" wait_for 10 grep -q 'jean.dupont@example.org' "$T/alerts.json"
hb=$(ch_query "SELECT raw FROM vigie_alerts WHERE kind='state' ORDER BY timestamp DESC LIMIT 1 FORMAT TSVRaw")
check "heartbeat carries uptime and spool depth" python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert 'uptime_s' in d['vigie'] and 'alerts' in d['vigie']['spool']" "$hb"

# Outage: ClickHouse stops; alerts wait in the spool, inputs keep going.
ch_stop
for i in $(seq 21 60); do line DELIVERME "$i"; done
local_alerts() { [ "$(count_lines "$T/alerts.json")" -ge "$1" ]; }
offline_alerts() { [ "$("$VIGIE" alerts -c "$T/vigie.yml" --format json --min-level high | wc -l)" = "$1" ]; }
check "alerts written locally during the outage" wait_for 20 local_alerts 60
check "spool holds data during the outage" test -n "$(ls "$T/state/spool"/alerts-*.seg 2>/dev/null)"
check "agent logs the delivery failure" wait_for 20 grep -q "output 'ch': cannot deliver" "$T/agent.log"
check "vigie alerts shows the host's alerts offline" wait_for 10 offline_alerts 60
"$VIGIE" alerts -c "$T/vigie.yml" --format json --rule nosuch >"$T/none.out" 2>"$T/none.err"; rc=$?
check "vigie alerts --rule filters (nothing printed, exit 1: none matched)" bash -c "[ $rc = 1 ] && [ ! -s '$T/none.out' ]"
ch_launch || { fail "ClickHouse restart"; finish; }
check "every alert arrives after the outage" wait_for 30 have_rows alert 60
check "agent says delivery resumed" wait_for 10 grep -q "output 'ch': delivering again" "$T/agent.log"

# A clean restart sends nothing twice.
check "clean stop" stop_agent
before=$(rows alert)
start_agent "$T/vigie.yml"
line DELIVERME 61
check "new alert after restart" wait_for 20 have_rows alert 61
stop_agent
check "no duplicate after a clean restart" test "$(ch_query "SELECT count() - uniqExact(event_id) FROM vigie_alerts WHERE kind='alert'")" = 0
check "exactly 61 alerts (before restart: $before)" test "$(rows alert)" = 61

# send-test-alert: one harmless alert through every output, with each one's answer.
"$VIGIE" send-test-alert -c "$T/vigie.yml" >"$T/sta.out" 2>&1; rc=$?
check "send-test-alert succeeds (exit 0)" test $rc = 0
check "  ... says the file output wrote it and ClickHouse took it" bash -c "grep -q 'file0 .*written' '$T/sta.out' && grep -q 'ch .*delivered' '$T/sta.out'"
check "  ... and it is in ClickHouse" test "$(ch_query "SELECT count() FROM vigie_alerts WHERE rule_title = 'Vigie test alert'")" = 1
ch_stop
"$VIGIE" send-test-alert -c "$T/vigie.yml" --output ch >"$T/sta2.out" 2>&1; rc=$?
check "with ClickHouse down it fails (exit 1) and says why" bash -c "[ $rc = 1 ] && grep -q 'ch .*FAILED' '$T/sta2.out'"
finish

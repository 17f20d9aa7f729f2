-- clickhouse.sql - the table of Vigie's `clickhouse` http preset.
--
-- One row per record the agent forwards: alerts (kind = 'alert'), raw events
-- of inputs with forward_events (kind = 'event') and agent heartbeats
-- (kind = 'state'). The key fields are columns; `raw` holds the whole ECS
-- JSON record of alerts and heartbeats, for JSONExtract* when a field is not
-- a column. Raw events are only their columns (time, event_id, host,
-- agent_id, log_path, message): they come in volume, and a second copy of
-- each line would halve the compression on the wire.
-- Works on ClickHouse 18.16 (Debian 12) and later: no DateTime64 there, so
-- the sub-second part of the time is its own column (nanoseconds).
--
--   clickhouse-client --multiquery < packaging/clickhouse.sql
--   (or: curl --data-binary @packaging/clickhouse.sql 'http://ch:8123/')
--
-- Retention: ALTER TABLE vigie_alerts DROP PARTITION 202401 (monthly
-- partitions; ClickHouse 19.6+ may add `TTL timestamp + INTERVAL 1 YEAR`).
-- The agent sends `input_format_skip_unknown_fields=1`: a column may be
-- dropped from this table and the inserts keep working.
CREATE TABLE IF NOT EXISTS vigie_alerts
(
    timestamp    DateTime,            -- @timestamp, seconds (UTC)
    timestamp_ns UInt32,              -- sub-second part of @timestamp, ns
    event_id     String,              -- event.id: deterministic, shared by retried copies
    kind         String,              -- event.kind: alert, event, state (heartbeat)
    host         String,              -- host.name
    agent_id     String,              -- agent.id
    rule_id      String,              -- rule.id
    rule_title   String,              -- rule.name
    level        String,              -- rule.level: informational .. critical
    severity     UInt8,               -- event.severity: 1, 21, 47, 73, 99
    source_ip    String,              -- source.ip
    user_name    String,              -- user.name
    log_path     String,              -- log.file.path, log.journald_unit or the syslog sender
    message      String,              -- the log line (possibly redacted)
    raw          String               -- the whole record, ECS JSON
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (host, timestamp);

-- Agents silent for five minutes (heartbeats are kind = 'state', sent every
-- agent.heartbeat_interval, 60 s by default), among those seen in the last day:
--
-- SELECT host, agent_id, max(timestamp) AS last_seen,
--        dateDiff('second', max(timestamp), now()) AS silent_s
-- FROM vigie_alerts
-- WHERE kind = 'state' AND timestamp > now() - INTERVAL 1 DAY
-- GROUP BY host, agent_id
-- HAVING last_seen < now() - INTERVAL 5 MINUTE
-- ORDER BY last_seen;
--
-- Duplicates (at-least-once delivery): count() - uniqExact(event_id).

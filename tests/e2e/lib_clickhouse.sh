# lib_clickhouse.sh - a throw-away ClickHouse for the end-to-end tests (sourced).
#
#   ch_start DIR    install clickhouse-server if missing (apt-get, idempotent),
#                   write a minimal config in DIR (data, logs, free ports on
#                   127.0.0.1), start it in the background and wait for
#                   GET /ping; exports CH_HTTP_PORT, CH_URL, CH_PID.
#                   Returns 77 (skip) when ClickHouse cannot be installed or run.
#   ch_query SQL    run SQL over HTTP, print the answer; fails on an HTTP error.
#   ch_insert SQL   POST stdin as the data of SQL (INSERT ... FORMAT ...).
#   ch_stop         SIGTERM and wait; ch_kill: SIGKILL; ch_restart: stop + start
#                   on the same ports and data.
#
# Debian 12's package is ClickHouse 18.16 (binary /usr/sbin/clickhouse-server).
# No bare sleeps: every wait is a poll with a deadline.

CH_DIR=
CH_PID=
CH_HTTP_PORT=
CH_TCP_PORT=

ch_bin() {
    if command -v clickhouse-server >/dev/null 2>&1; then command -v clickhouse-server
    elif [ -x /usr/sbin/clickhouse-server ]; then echo /usr/sbin/clickhouse-server
    elif command -v clickhouse >/dev/null 2>&1; then echo "$(command -v clickhouse) server"
    else return 1; fi
}

ch_install() {
    ch_bin >/dev/null 2>&1 && return 0
    echo "  installing clickhouse-server (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q clickhouse-server >/dev/null 2>&1; }
    ch_bin >/dev/null 2>&1
}

# ch_free_ports N: N distinct free TCP ports on 127.0.0.1 (bound to 0, then released).
ch_free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); socks.append(s)
print(' '.join(str(s.getsockname()[1]) for s in socks))
PY
}

ch_write_config() {
    local d=$CH_DIR
    mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas" "$d/log"
    cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$d/log/clickhouse-server.log</log>
        <errorlog>$d/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>32</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <format_schema_path>$d/format_schemas/</format_schema_path>
    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
XML
    cat >"$d/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>1000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

ch_ping() { curl -fsS --noproxy '*' -m 2 "http://127.0.0.1:$CH_HTTP_PORT/ping" >/dev/null 2>&1; }

# ch_launch: start the server on the current CH_DIR/ports and wait for /ping (60 s).
ch_launch() {
    local bin
    bin=$(ch_bin) || return 77
    # shellcheck disable=SC2086
    $bin --config-file="$CH_DIR/config.xml" >>"$CH_DIR/log/stdout.log" 2>&1 &
    CH_PID=$!
    local deadline=$(( $(date +%s) + 60 ))
    while ! ch_ping; do
        if ! kill -0 "$CH_PID" 2>/dev/null; then
            echo "  clickhouse-server exited during start-up; last log lines:"
            tail -5 "$CH_DIR/log/clickhouse-server.err.log" "$CH_DIR/log/stdout.log" 2>/dev/null
            CH_PID=
            return 1
        fi
        if [ "$(date +%s)" -ge $deadline ]; then
            echo "  clickhouse-server did not answer /ping within 60 s"
            return 1
        fi
        sleep 0.05
    done
    export CH_HTTP_PORT CH_PID CH_URL="http://127.0.0.1:$CH_HTTP_PORT/"
}

ch_start() {
    CH_DIR=${1:?ch_start DIR}
    ch_install || { echo "  clickhouse-server cannot be installed here"; return 77; }
    read -r CH_HTTP_PORT CH_TCP_PORT < <(ch_free_ports 2)
    ch_write_config
    ch_launch
}

ch_query() {
    local out code
    out=$(curl -sS --noproxy '*' -m 30 -w '\n%{http_code}' --data-binary "$1" \
          "http://127.0.0.1:$CH_HTTP_PORT/") || return 1
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    printf '%s' "$out"
    [ "$code" = 200 ] || { echo "  ch_query: HTTP $code" >&2; return 1; }
}

ch_insert() {
    curl -fsS --noproxy '*' -m 60 --data-binary @- \
        "http://127.0.0.1:$CH_HTTP_PORT/?query=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$1")"
}

ch_stop() {
    [ -n "$CH_PID" ] || return 0
    kill -TERM "$CH_PID" 2>/dev/null
    local deadline=$(( $(date +%s) + 30 ))
    while kill -0 "$CH_PID" 2>/dev/null; do
        if [ "$(date +%s)" -ge $deadline ]; then kill -9 "$CH_PID" 2>/dev/null; break; fi
        sleep 0.05
    done
    wait "$CH_PID" 2>/dev/null
    CH_PID=
}

ch_kill() {
    [ -n "$CH_PID" ] || return 0
    kill -9 "$CH_PID" 2>/dev/null
    wait "$CH_PID" 2>/dev/null
    CH_PID=
}

# ch_restart: same data, same ports (an agent keeps its URL across the outage).
ch_restart() {
    ch_stop
    ch_launch
}

# ch_rss_kb: resident memory of the running server, in KiB.
ch_rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$CH_PID/status" 2>/dev/null; }

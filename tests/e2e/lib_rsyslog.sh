# lib_rsyslog.sh - a real rsyslog for the tests (sourced).
#
#   rs_start DIR   installs rsyslog + rsyslog-gnutls if missing (apt-get,
#                  idempotent), makes a test CA, a server certificate
#                  (localhost, 127.0.0.1), a client certificate and an
#                  unrelated second CA in DIR with the openssl CLI, writes an
#                  rsyslog configuration that does no system logging (no
#                  imuxsock/imklog) and only listens on 127.0.0.1:
#                    RS_TCP_PORT   imtcp, plain
#                    RS_TLS_PORT   imtcp with the gtls driver, server auth only
#                    RS_MTLS_PORT  imtcp with gtls, client certificate required
#                                  (signed by RS_CA)
#                  and writes every message it receives to DIR/received.log,
#                  one line each: "PRI HOSTNAME APP-NAME MSGID SD MSG".
#                  Runs `rsyslogd -n` in the background and waits (deadline)
#                  until the three ports accept connections.
#                  With RS_FORWARD_PORT set (a port on 127.0.0.1 where the
#                  test listens), also RS_FWD_IN_PORT: imtcp whose messages
#                  rsyslog forwards to RS_FORWARD_PORT over two TCP
#                  connections, one octet-counted RFC 5424
#                  (RSYSLOG_SyslogProtocol23Format), one LF-framed
#                  traditional (RSYSLOG_ForwardFormat).
#                  Exports RS_DIR RS_TCP_PORT RS_TLS_PORT RS_MTLS_PORT RS_CA
#                  RS_OTHER_CA RS_CLIENT_CERT RS_CLIENT_KEY RS_LOG RS_PID.
#                  Returns 77 (skip) when rsyslog cannot be installed, 1 when
#                  it does not start (its output is in DIR/rsyslogd.out).
#   rs_stop        stops it (SIGTERM, then waits for the process to go).
#   rs_launch      starts it again after rs_stop (same ports, same files).
#
#   Extra listeners: RS_EXTRA_CONF (set before rs_start) is appended to the
#   configuration as is (it may use the ruleset vg_received, and the files
#   rs_start makes: $RS_DIR/{ca,server}.pem, server.key); rs_launch also
#   waits for every port of RS_EXTRA_PORTS (space-separated).

rs_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rs_port_open() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
s.close()
PY
}

rs_install() {
    [ -x /usr/sbin/rsyslogd ] && ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 && return 0
    echo "  installing rsyslog rsyslog-gnutls"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
        rsyslog rsyslog-gnutls >"${RS_DIR:-/tmp}/apt.log" 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=300 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
              rsyslog rsyslog-gnutls >"${RS_DIR:-/tmp}/apt.log" 2>&1; }
}

# rs_cert NAME CA_NAME SUBJECT EXT: key + certificate signed by CA_NAME.
rs_cert() {
    local d=$RS_DIR
    openssl req -new -newkey rsa:2048 -nodes -keyout "$d/$1.key" -subj "$3" \
        -out "$d/$1.csr" 2>/dev/null || return 1
    printf '%s\n' "$4" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2.key" -CAcreateserial \
        -days 2 -sha256 -extfile "$d/$1.ext" -out "$d/$1.pem" 2>/dev/null || return 1
    chmod 600 "$d/$1.key"
}

rs_ca() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$RS_DIR/$1.key" -out "$RS_DIR/$1.pem" \
        -days 2 -sha256 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}

rs_start() {
    RS_DIR=$1
    mkdir -p "$RS_DIR/work"
    rs_install || { echo "  rsyslog cannot be installed (see $RS_DIR/apt.log)"; return 77; }
    command -v openssl >/dev/null || { echo "  no openssl CLI"; return 77; }
    rs_ca ca "Vigie test CA" && rs_ca other-ca "Unrelated test CA" || return 1
    rs_cert server ca "/CN=localhost" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth" || return 1
    rs_cert client ca "/CN=vigie-test-client" "extendedKeyUsage=clientAuth" || return 1
    RS_CA=$RS_DIR/ca.pem RS_OTHER_CA=$RS_DIR/other-ca.pem
    RS_CLIENT_CERT=$RS_DIR/client.pem RS_CLIENT_KEY=$RS_DIR/client.key
    RS_LOG=$RS_DIR/received.log RS_PID=$RS_DIR/rsyslogd.pid
    RS_TCP_PORT=$(rs_free_port) RS_TLS_PORT=$(rs_free_port) RS_MTLS_PORT=$(rs_free_port)
    RS_FWD_IN_PORT=
    local fwd=
    if [ -n "${RS_FORWARD_PORT:-}" ]; then
        RS_FWD_IN_PORT=$(rs_free_port)
        fwd="ruleset(name=\"vg_forward\") {
    action(type=\"omfwd\" target=\"127.0.0.1\" port=\"$RS_FORWARD_PORT\" protocol=\"tcp\"
           TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\"
           action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\")
    action(type=\"omfwd\" target=\"127.0.0.1\" port=\"$RS_FORWARD_PORT\" protocol=\"tcp\"
           template=\"RSYSLOG_ForwardFormat\"
           action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\")
}
input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$RS_FWD_IN_PORT\" ruleset=\"vg_forward\")"
    fi
    cat >"$RS_DIR/rsyslog.conf" <<EOF
# Vigie test receiver: no system logging, only the test listeners.
global(workDirectory="$RS_DIR/work" maxMessageSize="1m"
       defaultNetstreamDriverCAFile="$RS_DIR/ca.pem"
       defaultNetstreamDriverCertFile="$RS_DIR/server.pem"
       defaultNetstreamDriverKeyFile="$RS_DIR/server.key")
module(load="imtcp" maxSessions="100")
template(name="vg_keep" type="string"
         string="%pri% %hostname% %app-name% %msgid% %structured-data% %msg%\n")
ruleset(name="vg_received") {
    action(type="omfile" file="$RS_LOG" template="vg_keep")
}
input(type="imtcp" address="127.0.0.1" port="$RS_TCP_PORT" ruleset="vg_received")
input(type="imtcp" address="127.0.0.1" port="$RS_TLS_PORT" ruleset="vg_received"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="$RS_MTLS_PORT" ruleset="vg_received"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
$fwd
${RS_EXTRA_CONF:-}
EOF
    export RS_DIR RS_TCP_PORT RS_TLS_PORT RS_MTLS_PORT RS_FWD_IN_PORT RS_CA RS_OTHER_CA \
        RS_CLIENT_CERT RS_CLIENT_KEY RS_LOG RS_PID
    rs_launch
}

# rs_launch: run rsyslogd on the configuration rs_start wrote and wait for its ports.
rs_launch() {
    /usr/sbin/rsyslogd -n -f "$RS_DIR/rsyslog.conf" -i "$RS_PID" >>"$RS_DIR/rsyslogd.out" 2>&1 &
    RS_BG=$!
    local deadline=$(( $(date +%s) + 20 ))
    while ! { rs_port_open "$RS_TCP_PORT" && rs_port_open "$RS_TLS_PORT" &&
              rs_port_open "$RS_MTLS_PORT" &&
              { [ -z "$RS_FWD_IN_PORT" ] || rs_port_open "$RS_FWD_IN_PORT"; } &&
              rs_extra_ports_open; }; do
        if ! kill -0 "$RS_BG" 2>/dev/null || [ "$(date +%s)" -ge $deadline ]; then
            echo "  rsyslogd did not start:"; sed 's/^/    /' "$RS_DIR/rsyslogd.out" | tail -20
            rs_stop
            return 1
        fi
        sleep 0.05
    done
    return 0
}

rs_extra_ports_open() {
    local p
    for p in ${RS_EXTRA_PORTS:-}; do rs_port_open "$p" || return 1; done
}

rs_stop() {
    [ -n "${RS_BG:-}" ] || return 0
    kill -TERM "$RS_BG" 2>/dev/null
    wait "$RS_BG" 2>/dev/null
    RS_BG=
}

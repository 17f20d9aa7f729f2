#!/bin/bash
# vigie scan: exit codes, .gz input, format/logsource recognition, JSON
# output, and the shipped rules on real logs from ../shared/corpus.
. "$(dirname "$0")/lib.sh"

# A small auth log of our own.
cat >"$T/auth.log" <<'LOG'
Mar  3 10:00:01 web01 sshd[100]: Failed password for root from 203.0.113.5 port 40000 ssh2
Mar  3 10:00:02 web01 sshd[100]: Failed password for invalid user admin from 203.0.113.5 port 40001 ssh2
Mar  3 10:00:03 web01 sshd[101]: Accepted publickey for bob from 10.0.0.8 port 50000 ssh2: RSA SHA256:x
Mar  3 10:00:04 web01 CRON[200]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
LOG
printf 'Mar  3 10:00:03 web01 sshd[101]: Accepted publickey for bob from 10.0.0.8 port 50000 ssh2\n' >"$T/clean.log"

"$VIGIE" scan -q "$T/auth.log" >"$T/a.json"; rc=$?
check "exit status 1 when something matched" [ $rc = 1 ]
check "alerts are JSON lines" json_lines_valid "$T/a.json"
# Two failures from one address: one alert (the shipped rule suppresses repeats per source).
check "failed password detected, repeats suppressed per source" [ "$(rule_count "$T/a.json" 'SSH Failed Password')" = 1 ]
"$VIGIE" scan -q "$T/clean.log" >"$T/c.json"; rc=$?
check "exit status 0 when nothing matched" [ $rc = 0 ]
check "no alert on a clean log" [ ! -s "$T/c.json" ]
"$VIGIE" scan -q "$T/missing.log" >/dev/null 2>"$T/err"; rc=$?
check "exit status 2 on a missing file" [ $rc = 2 ]
check "the error names the file" grep -q "missing.log" "$T/err"

gzip -c "$T/auth.log" >"$T/auth.log.2.gz"
"$VIGIE" scan -q "$T/auth.log.2.gz" >"$T/gz.json"
check ".gz input gives the same alerts" [ "$(wc -l <"$T/gz.json")" = "$(wc -l <"$T/a.json")" ]
check "event.id is stable across two scans of one file" \
    cmp -s <(python3 -c 'import json,sys;[print(json.loads(l)["event"]["id"]) for l in open(sys.argv[1])]' "$T/a.json") \
           <("$VIGIE" scan -q "$T/auth.log" | python3 -c 'import json,sys;[print(json.loads(l)["event"]["id"]) for l in sys.stdin]')

# Several files of different kinds in one scan: each keeps its own format and
# log source (the routing caches must not mix them).
printf '203.0.113.7 - - [03/Mar/2024:10:00:00 +0000] "GET /../../etc/passwd HTTP/1.1" 404 0 "-" "curl"\n' >"$T/access.log"
printf 'Mar  3 10:00:00 web01 kernel: [1.0] eth0: link up\n' >"$T/syslog"
"$VIGIE" scan -q -o json "$T/auth.log" "$T/syslog" "$T/access.log" >"$T/both.json"
"$VIGIE" scan -q -o json "$T/access.log" >"$T/web1.json"
check "a multi-file scan gives each file its own rules" \
    [ "$(wc -l <"$T/both.json")" = "$(( $(wc -l <"$T/a.json") + $(wc -l <"$T/web1.json") ))" ]
check "  ... the web rule fired on the access log" [ "$(rule_count "$T/both.json" 'Path Traversal Attempt In Request URI')" = 1 ]

# Recognition from content when the name says nothing.
cp "$T/auth.log" "$T/noname.txt"
"$VIGIE" scan -v -q "$T/noname.txt" >/dev/null 2>"$T/v"
"$VIGIE" scan -v "$T/noname.txt" >/dev/null 2>"$T/v"
check "format recognised from the lines (--verbose says syslog)" grep -q "format syslog" "$T/v"

# Explicit options.
"$VIGIE" scan -q --format syslog --logsource linux/auth "$T/noname.txt" >"$T/o.json"
check "--format/--logsource accepted" [ "$(rule_count "$T/o.json" 'SSH Failed Password')" = 1 ]
"$VIGIE" scan -q --format nosuch "$T/auth.log" >/dev/null 2>&1; rc=$?
check "unknown --format is an error (2)" [ $rc = 2 ]

# Real data.
if [ -d "$CORPUS/loghub" ]; then
    "$VIGIE" scan -q "$CORPUS/loghub/OpenSSH/OpenSSH_2k.log" >"$T/ssh.json"
    check "OpenSSH_2k: JSON valid" json_lines_valid "$T/ssh.json"
        # 520 matches; suppressed per source and window (updates at 10, 100, ...): 40 and 30 alerts.
    check "OpenSSH_2k raises SSH Failed Password" [ "$(rule_count "$T/ssh.json" 'SSH Failed Password')" -ge 30 ]
    check "OpenSSH_2k raises SSH invalid user" [ "$(rule_count "$T/ssh.json" 'SSH Login Attempt With Invalid User')" -ge 20 ]
    "$VIGIE" scan -q "$CORPUS/loghub/Linux/Linux_2k.log" >"$T/linux.json"
    check "Linux_2k raises the authentication-failure rule" [ "$(rule_count "$T/linux.json" 'PAM Authentication Failure')" -gt 50 ]
    "$VIGIE" scan -q --format access --logsource webserver "$CORPUS"/first-step-for-log-analysis/dataset/httpd/access_log* >"$T/web.json"
    check "honeypot logs: JSON valid" json_lines_valid "$T/web.json"
    check "honeypot logs raise path traversal" [ "$(rule_count "$T/web.json" 'Path Traversal Attempt In Request URI')" -gt 10 ]
    check "honeypot logs raise cmd.exe probes" [ "$(rule_count "$T/web.json" 'Windows Command Shell Probe Against Web Server (cmd.exe, root.exe)')" -gt 10 ]
    alerts_by_rule "$T/web.json" | sed 's/^/    /'
    if [ -d "$CORPUS/sigma/rules/web" ]; then
        "$VIGIE" scan -q -o json -r "$CORPUS/sigma/rules/web" --format access --logsource webserver \
            "$CORPUS"/first-step-for-log-analysis/dataset/httpd/access_log* >"$T/sigmaweb.json"
        check "honeypot logs raise SigmaHQ's path traversal rule" \
            [ "$(rule_count "$T/sigmaweb.json" 'Path Traversal Exploitation Attempts')" -gt 10 ]
        check "honeypot logs raise SigmaHQ's recon-tool user agents (probes)" \
            [ "$(rule_count "$T/sigmaweb.json" 'Suspicious User-Agents Related To Recon Tools')" -gt 10 ]
    fi
else
    echo "  SKIP corpus checks: $CORPUS not found"
fi
finish

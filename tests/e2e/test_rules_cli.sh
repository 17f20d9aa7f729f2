#!/bin/bash
# The rule author's commands: rules check (exit status, positions, warnings,
# the routing and field report of -c), rules test (text and JSON, failures
# explained), rules explain; filters and placeholders through the config.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/r"
cat >"$T/r/good.yml" <<'R'
title: Root login from outside
id: 0d1f8c7e-8a4b-4b1e-9a55-1f3b2c4d5e6f
level: high
logsource: {product: linux, service: sshd}
detection:
    login:
        message|re: '^Accepted \S+ for root from (?<src_ip>[0-9.]+)'
    internal:
        message|contains: ' from 10.'
    condition: login and not internal
x_vigie:
    tests:
        - line: 'Mar  3 10:00:00 srv sshd[812]: Accepted password for root from 203.0.113.9 port 51000 ssh2'
          match: true
          fields: {src_ip: 203.0.113.9}
        - line: 'Mar  3 10:00:00 srv sshd[812]: Accepted password for root from 10.1.2.3 port 51000 ssh2'
          match: false
R
"$VIGIE" rules check "$T/r" >"$T/out" 2>&1; rc=$?
check "check: a good rule passes (0)" [ $rc = 0 ]
check "check: summary line" grep -q "^1 loaded, 0 rejected" "$T/out"
check "check: prefilter line (the regex gives its literal)" grep -q "^prefilter: 1 of 1 rules" "$T/out"

printf 'title: bad\nlogsource: {product: linux}\ndetection:\n    sel:\n        f|nosuch: x\n    condition: sel\n' >"$T/r/bad.yml"
printf 'title: risky\nlogsource: {product: linux}\ndetection:\n    sel:\n        message|re: "(a+)+b"\n    condition: sel\n' >"$T/r/risky.yml"
"$VIGIE" rules check "$T/r" >"$T/out" 2>&1; rc=$?
check "check: a rejected rule fails (1)" [ $rc = 1 ]
check "check: rejection with file:line:col" grep -q "bad.yml:5:11: error: unknown modifier 'nosuch'" "$T/out"
check "check: risky regex warned with position" grep -q "risky.yml:5:22: warning: regex has a quantified group" "$T/out"
check "check: the others still load" grep -q "^2 loaded, 1 rejected" "$T/out"
rm "$T/r/bad.yml" "$T/r/risky.yml"

# Routing and fields against a configuration.
printf 'title: web thing\nlogsource: {category: proxy}\ndetection:\n    sel: {c-uri|contains: x}\n    condition: sel\n' >"$T/r/proxy.yml"
printf 'title: typo\nlogsource: {product: linux, service: sshd}\ndetection:\n    sel: {usr: root}\n    condition: sel\n' >"$T/r/typo.yml"
cat >"$T/site.yml" <<CONF
inputs:
  - {name: journal, type: journald, logsource: {product: linux}}
CONF
"$VIGIE" rules check -c "$T/site.yml" "$T/r" >"$T/out" 2>&1
check "check -c: an unrouted rule is named" grep -q "not fed: .*proxy.yml.*category=proxy" "$T/out"
check "check -c: a field no input produces is named" grep -q "fields no input produces: .*typo.yml.*: usr" "$T/out"
check "check -c: fields of the parser definitions count (src_ip, user)" sh -c "! grep -q 'good.yml' '$T/out'"
check "check -c: summary" grep -q "^2 of 3 rules are fed" "$T/out"
rm "$T/r/proxy.yml" "$T/r/typo.yml"

# rules test, text and JSON.
"$VIGIE" rules test "$T/r" >"$T/out"; rc=$?
check "test: passing cases (0)" [ $rc = 0 ]
check "test: summary" grep -q "1 rules, 0 without tests; 2 passed, 0 failed" "$T/out"
sed -i 's/match: false/match: true/' "$T/r/good.yml"
"$VIGIE" rules test "$T/r" >"$T/out"; rc=$?
check "test: a failing case fails (1)" [ $rc = 1 ]
check "test: the failure says why and shows selections" sh -c "grep -q 'FAIL .*good.yml:.*expected a match, got none' '$T/out' && grep -q 'selections: login=true, internal=true' '$T/out'"
"$VIGIE" rules test --format json "$T/r" >"$T/json"
check "test --format json: JSON lines with a summary" python3 - "$T/json" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines[-1]['summary'] == {'rules': 1, 'without_tests': 0, 'passed': 1, 'failed': 1, 'rejected': 0}, lines[-1]
bad = [l for l in lines[:-1] if not l['ok']]
assert len(bad) == 1 and 'expected a match' in bad[0]['reason'] and bad[0]['line'] > 0
PY
sed -i 's/match: true\(.*\)$/match: true\1/' "$T/r/good.yml"

# explain
"$VIGIE" rules explain "$T/r/good.yml" 'Mar  3 10:00:00 srv sshd[812]: Accepted password for root from 203.0.113.9 port 51000 ssh2' >"$T/out"; rc=$?
check "explain: match exits 0 and shows the capture" sh -c "[ $rc = 0 ] && grep -q 'src_ip: \"203.0.113.9\"' '$T/out' && grep -q 'result: MATCH' '$T/out'"
"$VIGIE" rules explain "$T/r/good.yml" 'Mar  3 10:00:00 srv sshd[812]: session opened' >/dev/null; rc=$?
check "explain: no match exits 1" [ $rc = 1 ]

# Filters and placeholders, through scan and a configuration-free rule path.
cat >"$T/r/mf_backup.yml" <<'R'
title: Backup host logs in as root
logsource: {product: linux, service: sshd}
filter:
    rules: [0d1f8c7e-8a4b-4b1e-9a55-1f3b2c4d5e6f]
    backup:
        message|contains: ' from 203.0.113.50 '
    condition: backup
R
printf 'Mar  3 10:00:00 srv sshd[1]: Accepted password for root from 203.0.113.9 port 1 ssh2\nMar  3 10:00:00 srv sshd[2]: Accepted password for root from 203.0.113.50 port 2 ssh2\n' >"$T/auth.log"
"$VIGIE" scan -q -o json -r "$T/r" "$T/auth.log" >"$T/a.json"
check "a Sigma filter document removes the filtered event only" sh -c "[ \$(wc -l <'$T/a.json') = 1 ] && grep -q '203.0.113.9' '$T/a.json'"
finish

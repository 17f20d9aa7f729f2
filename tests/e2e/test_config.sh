#!/bin/bash
# Configuration errors name file:line:column and what was expected; the
# shipped configuration is valid; conf.d drop-ins apply.
. "$(dirname "$0")/lib.sh"

check "shipped configuration is valid" "$VIGIE" config check -c "$ROOT/packaging/vigie.yml"

expect_error() { # expect_error "what" "yaml" "expected message part"
    printf '%s\n' "$2" >"$T/c.yml"
    "$VIGIE" config check -c "$T/c.yml" >/dev/null 2>"$T/err"
    local rc=$?
    if [ $rc = 1 ] && grep -qF -- "$3" "$T/err"; then pass "$1"; else
        fail "$1: rc=$rc, got: $(cat "$T/err")"; fi
}
expect_error "unknown key" $'agent:\n  stat_dir: /x' "c.yml:2:3: unknown key 'stat_dir' in 'agent' (expected one of: hostname, state_dir"
expect_error "wrong type" $'agent:\n  commit_interval: soon' "c.yml:2:20: 'commit_interval' expects a duration"
expect_error "out of range" $'limits:\n  batch_events: 0' "c.yml:2:17: 'batch_events' must be between 1 and 65536"
expect_error "bad enum" $'inputs:\n  - type: file\n    paths: [/x]\n    start_at: middle' "c.yml:4:15: 'start_at' expects one of: end, beginning"
expect_error "option of another input type" $'inputs:\n  - type: file\n    paths: [/x]\n    units: [ssh.service]' "c.yml:4:5: 'units' does not apply to inputs of type file"
expect_error "missing type" $'inputs:\n  - paths: [/x]' "c.yml:2:5: an entry of 'inputs' needs a 'type'"
expect_error "invalid YAML" $'agent: [' "c.yml:2:1: invalid YAML"
expect_error "unknown format" $'inputs:\n  - type: file\n    paths: [/x]\n    format: xml' "unknown format 'xml'"
expect_error "unknown time zone" $'inputs:\n  - type: file\n    paths: [/x]\n    timezone: Mars/Olympus' "Mars/Olympus"
expect_error "a list where a scalar is expected" $'agent:\n  hostname: [a, b]' "c.yml:2:13: 'hostname' expects a single value"

# conf.d: lists appended, scalars overridden.
mkdir -p "$T/d/conf.d"
printf 'agent: {hostname: one}\ninputs:\n  - {type: file, name: a, paths: [/x]}\n' >"$T/d/vigie.yml"
printf 'agent: {hostname: two}\ninputs:\n  - {type: file, name: b, paths: [/y]}\n' >"$T/d/conf.d/10-local.yml"
check "conf.d drop-in appends inputs" sh -c "'$VIGIE' config check -c '$T/d/vigie.yml' | grep -q '2 inputs'"
printf 'inputs:\n  - {type: file, name: a, paths: [/z]}\n' >"$T/d/conf.d/20-dup.yml"
"$VIGIE" config check -c "$T/d/vigie.yml" >/dev/null 2>"$T/err"
check "duplicate input names rejected" grep -q "two inputs are named 'a'" "$T/err"
check "config reference lists every section" sh -c "'$VIGIE' config reference | grep -q 'limits.max_alert_message'"
finish

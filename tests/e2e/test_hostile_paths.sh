#!/bin/bash
# Hostile paths in a watched glob, through the running agent: a FIFO, a
# directory, a symlink loop; a file truncated and rewritten in place (same
# inode, new content); a file deleted and created again with the same inode
# number while the agent is stopped; and, with the agent running as an
# unprivileged agent.user, a file whose permissions are removed while it is
# read, a rotated file it may not open, and its directory closed for a while.
# Each case: the agent keeps running, says what it skipped, detects a
# numbered attack line written after the hostile one (each exactly once), and
# its peak RSS stays under the bound below.
. "$(dirname "$0")/lib.sh"

RSS_BOUND_KB=$((64 * 1024)) # VmHWM bound (shipped Linux rules, a few small files; ~20 MB measured)
[ -n "${VG_SANITIZE:-}${VG_VALGRIND:-}" ] && RSS_BOUND_KB=$((1024 * 1024)) # shadow memory of ASan / valgrind

U=vigie-e2e
PRIV=
if [ "$(id -u)" = 0 ]; then
    if id "$U" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$U"; then
        PRIV=", user: $U"
    fi
fi
[ -n "$PRIV" ] || echo "  NOTE not root (or no user $U): the permission cases run without agent.user and are skipped"
chmod 0711 "$T"
mkdir -p "$T/logs" "$T/state"
chmod 0755 "$T/logs"
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms $PRIV}
rules: {paths: [$ROOT/rules/linux]}
inputs:
  - name: auth
    type: file
    paths: [$T/logs/*.log]
    format: syslog
    logsource: {product: linux, service: auth}
    start_at: beginning
    rotate_wait: 500ms
outputs:
  - {type: file, path: $T/state/alerts.json}
CONF

N=0
# attack FILE: append attack line number N+1 (a distinct source address each).
attack() { N=$((N + 1)); printf 'Mar  3 10:00:%02d web01 sshd[%d]: Failed password for root from 198.51.100.%d port %d ssh2\n' $((N % 60)) $N $N $N >>"$1"; }
seen() { grep -qs "\"198\.51\.100\.$1\"" "$T/state/alerts.json"; }
seen_count() { grep -c "\"198\.51\.100\.$1\"" "$T/state/alerts.json"; } # alerts naming it
hwm() { awk '/VmHWM/ {print $2}' /proc/$AGENT_PID/status; }

# The hostile entries exist before the start: the initial scan meets them.
mkfifo "$T/logs/fifo.log"
mkdir "$T/logs/dir.log"
ln -s loop2.log "$T/logs/loop1.log"
ln -s loop1.log "$T/logs/loop2.log"
attack "$T/logs/auth.log"
start_agent "$T/vigie.yml"
check "agent started, first attack line detected" wait_for 15 seen 1
check "FIFO skipped and said so" grep -q "fifo.log is not a regular file, skipped" "$T/agent.log"
check "directory skipped and said so" grep -q "dir.log is not a regular file, skipped" "$T/agent.log"
check "symlink loop skipped and said so" grep -q "loop1.log skipped: Too many levels of symbolic links" "$T/agent.log"
# A writer on the FIFO must not be blocked by the agent (it never opens it).
check "a writer on the FIFO is not served by the agent (no reader: ENXIO)" \
    bash -c "! (exec 3<>/dev/null; python3 -c 'import os,sys; os.open(sys.argv[1], os.O_WRONLY|os.O_NONBLOCK)' '$T/logs/fifo.log') 2>/dev/null"
attack "$T/logs/auth.log"
check "attack after the FIFO/dir/loop detected" wait_for 10 seen 2
check "agent alive" agent_alive

echo "-- truncated and rewritten in place (same inode, new content)"
ino=$(stat -c %i "$T/logs/auth.log")
python3 - "$T/logs/auth.log" <<'PY'
import sys
# longer than before, so only the head fingerprint tells it is new
with open(sys.argv[1], 'r+b') as f:
    f.truncate(0)
    f.write(b'Mar  3 10:01:00 web01 app[9]: rewritten head, a new file in the same inode\n' * 40)
PY
attack "$T/logs/auth.log"
check "inode unchanged by the rewrite" [ "$(stat -c %i "$T/logs/auth.log")" = "$ino" ]
check "attack in the rewritten file detected" wait_for 10 seen $N
check "the rewrite counted as a truncation" bash -c "'$VIGIE' status -s '$T/state' --metrics | grep -Eq '^vigie_input_truncations(_total)?\{input=\"auth\"\} [1-9]'"

if [ -n "$PRIV" ]; then
    echo "-- permissions (agent runs as $U)"
    check "agent dropped to $U" bash -c "awk '\$1 == \"Uid:\" { exit \$3 != $(id -u $U) }' /proc/$AGENT_PID/status"
    attack "$T/logs/perm.log"
    check "perm.log read" wait_for 10 seen $N
    chmod 000 "$T/logs/perm.log"
    attack "$T/logs/perm.log"
    check "file made unreadable while open: still read through the open fd" wait_for 10 seen $N
    # Rotation to a file the agent may not open.
    mv "$T/logs/perm.log" "$T/logs/perm.log.1"
    install -m 000 /dev/null "$T/logs/perm.log" # unreadable from its creation
    attack "$T/logs/perm.log"; hidden=$N
    check "unreadable new file: reported" wait_for 10 grep -q "cannot open $T/logs/perm.log: Permission denied" "$T/agent.log"
    attack "$T/logs/auth.log"
    check "other files still read meanwhile" wait_for 10 seen $N
    chmod 644 "$T/logs/perm.log"
    check "readable again: picked up at once (no 15 s wait)" wait_for 5 seen $hidden
    # The directory closed for a while: lines written meanwhile, then reopened.
    chmod 0700 "$T/logs"
    attack "$T/logs/auth.log"; closed=$N
    check "directory closed: lines of the open file still read" wait_for 10 seen $closed
    attack "$T/logs/auth.log"
    # Past rotate_wait: a lost stat must not be taken for a rotation (and the file released).
    sleep_until() { [ "$(date +%s%N)" -ge "$1" ]; }
    wait_for 3 sleep_until $(( $(date +%s%N) + 1500000000 ))
    chmod 0755 "$T/logs"
    attack "$T/logs/auth.log"
    check "directory reopened: later lines detected" wait_for 10 seen $N
    check "agent alive" agent_alive
else
    echo "  SKIP permission cases: need root to run the agent as an unprivileged agent.user"
fi

echo "-- deleted and created again with the same inode number (agent stopped)"
check "clean stop" stop_agent
reused=
for i in $(seq 1 50); do
    old=$(stat -c %i "$T/logs/auth.log")
    rm -f "$T/logs/auth.log"
    printf 'Mar  3 10:02:00 web01 app[9]: a different file %d\n' "$i" >"$T/logs/auth.log"
    if [ "$(stat -c %i "$T/logs/auth.log")" = "$old" ]; then reused=$i; break; fi
done
if [ -n "$reused" ]; then
    echo "    inode $old reused after $reused attempt(s)"
    attack "$T/logs/auth.log"
    start_agent "$T/vigie.yml"
    check "same inode, different head: read from the start, attack detected" wait_for 15 seen $N
else
    echo "  SKIP same-inode case: the filesystem of $T did not reuse the inode in 50 tries"
    start_agent "$T/vigie.yml"
fi
check "agent alive" agent_alive
h=$(hwm)
echo "    VmHWM ${h} kB (bound ${RSS_BOUND_KB} kB)"
check "peak RSS under the bound" [ "${h:-999999999}" -lt "$RSS_BOUND_KB" ]
check "clean stop" stop_agent
dups=0 lost=0
for i in $(seq 1 $N); do
    c=$(seen_count $i)
    [ "$c" = 0 ] && { lost=$((lost + 1)); echo "    attack $i lost"; }
    [ "$c" -gt 1 ] && { dups=$((dups + 1)); echo "    attack $i alerted $c times"; }
done
check "every numbered attack line alerted ($N)" [ $lost = 0 ]
check "none twice" [ $dups = 0 ]
check "alerts are valid JSON objects" json_lines_valid "$T/state/alerts.json"
finish

#!/bin/bash
# Baseline rules (x_vigie.baseline) through `vigie scan`, in event time: a program that goes silent
# raises one silence alert; a login from a new user+address after the learning period raises one
# first-seen alert (none while learning); a message of a new kind after the learning period raises
# one new-template alert carrying the template.
. "$(dirname "$0")/lib.sh"

scan() { "$VIGIE" scan -q -o json "$@" 2>"$T/err" | grep . || true; }
count() { grep -c "$1" "$2" || true; }

# 1. silence: myapp logs every 10 s for 8 h, then stops; rsyslogd goes on for one more hour
python3 - "$T/silent.log" <<'PY'
import datetime, sys
t0 = datetime.datetime(2026, 11, 22)
with open(sys.argv[1], 'w') as f:
    for s in range(0, 9 * 3600, 10):
        ts = (t0 + datetime.timedelta(seconds=s)).strftime('%b %d %H:%M:%S')
        if s < 8 * 3600:
            f.write(f"{ts} web01 myapp[100]: request {s} served in {s % 97} ms\n")
        f.write(f"{ts} web01 rsyslogd[1]: heartbeat {s}\n")
PY
scan -r "$ROOT/rules/linux/baseline" --logsource linux --format syslog "$T/silent.log" >"$T/a1"
check "silence: one alert" [ "$(wc -l <"$T/a1")" -eq 1 ]
check "  ... for myapp, at 08:00, observed 0, expected ~60" \
    grep -q '"kind":"silence","group":{"host":"web01","program":"myapp"},"bucket":{"start":"2026-11-22T08:00:00.000000Z","width":"10m"},"observed":0,"expected":60' "$T/a1"
check "  ... valid JSON" json_lines_valid "$T/a1"

# 2. first seen: 8 days of alice from her workstation (bob appears on day 1: still learning),
#    then alice from a new address once, twice
python3 - "$T/auth.log" <<'PY'
import datetime, sys
t0 = datetime.datetime(2026, 11, 1, 8)
with open(sys.argv[1], 'w') as f:
    def w(t, who, ip):
        f.write(f"{t.strftime('%b %d %H:%M:%S')} web01 sshd[42]: Accepted publickey for {who} from {ip} port 50000 ssh2\n")
    for d in range(9):
        w(t0 + datetime.timedelta(days=d), 'alice', '10.0.3.17')
        if d == 1:
            w(t0 + datetime.timedelta(days=d, hours=1), 'bob', '10.0.3.18')
    w(t0 + datetime.timedelta(days=9), 'alice', '198.51.100.7')
    w(t0 + datetime.timedelta(days=9, hours=1), 'alice', '198.51.100.7')
    w(t0 + datetime.timedelta(days=9, hours=2), 'bob', '10.0.3.18')
PY
scan -r "$ROOT/rules/linux/baseline" --logsource linux/sshd --format syslog "$T/auth.log" >"$T/a2"
check "first seen: one alert" [ "$(wc -l <"$T/a2")" -eq 1 ]
check "  ... alice from 198.51.100.7" grep -q '"type":"first_seen","group":{"user":"alice","ip":"198.51.100.7"}' "$T/a2"
# a flood of 250 new addresses in four minutes: 100 alerts (max_alerts per hour), the rest held
# back and announced by the next alert
python3 - "$T/auth.log" <<'PY'
import datetime, sys
t0 = datetime.datetime(2026, 11, 10, 11)
with open(sys.argv[1], 'a') as f:
    for i in range(250):
        t = t0 + datetime.timedelta(seconds=i)
        f.write(f"{t.strftime('%b %d %H:%M:%S')} web01 sshd[42]: Accepted password for alice from 203.0.113.{i} port 1 ssh2\n")
    t = t0 + datetime.timedelta(hours=2)
    f.write(f"{t.strftime('%b %d %H:%M:%S')} web01 sshd[42]: Accepted password for alice from 192.0.2.1 port 1 ssh2\n")
PY
scan -r "$ROOT/rules/linux/baseline" --logsource linux/sshd --format syslog "$T/auth.log" >"$T/a2"
check "first seen flood: 1 + 100 + 1 alerts" [ "$(wc -l <"$T/a2")" -eq 102 ]
check "  ... the last one says 150 were held back" grep -q '"ip":"192.0.2.1"},"history":"90d","held_before":150' "$T/a2"

# 3. new template: a rule of our own over a generated application log
cat >"$T/tpl.yml" <<'YML'
title: New Message Kind
id: 0d0c3c1e-7d35-4d2b-9d59-3f0f8a0e5e01
status: experimental
logsource:
    product: linux
detection:
    selection:
        program: myapp
    condition: selection
level: low
x_vigie:
    baseline:
        type: new_template
        learn: 1h
YML
python3 - "$T/app.log" <<'PY'
import datetime, sys
t0 = datetime.datetime(2026, 11, 22)
with open(sys.argv[1], 'w') as f:
    for s in range(0, 2 * 3600, 30):
        ts = (t0 + datetime.timedelta(seconds=s)).strftime('%b %d %H:%M:%S')
        f.write(f"{ts} web01 myapp[7]: request {s} from 10.1.{s % 200}.{s % 7} served in {s % 97} ms\n")
        if s % 600 == 0:
            f.write(f"{ts} web01 myapp[7]: cache flushed: {s % 13} entries\n")
        if s == 3 * 600:  # new during learning: no alert
            f.write(f"{ts} web01 myapp[7]: config reloaded by admin\n")
    ts = (t0 + datetime.timedelta(hours=2)).strftime('%b %d %H:%M:%S')
    f.write(f"{ts} web01 myapp[7]: loading module /tmp/.x/evil.so as root\n")
    f.write(f"{ts} web01 myapp[7]: loading module /tmp/.y/other.so as root\n")
PY
scan -r "$T/tpl.yml" --logsource linux --format syslog "$T/app.log" >"$T/a3"
check "new template: one alert" [ "$(wc -l <"$T/a3")" -eq 1 ]
check "  ... with its template" grep -q '"template":"loading module <\*> as root"' "$T/a3"

# 3b. rare sequences: sessions (one per block) of four messages learned for two hours; then a
#     normal session, one with a step missing, one with an unknown message
cat >"$T/seq.yml" <<'YML'
title: Unusual Block Life Cycle
id: 6f1c2a9e-54b3-4c7e-a1d2-3b4c5d6e7f80
status: experimental
logsource:
    product: linux
detection:
    selection:
        message|re: '(?<block>blk_-?\d+)'
    condition: selection
level: low
x_vigie:
    baseline: {type: rare_sequence, group-by: [block], gap: 5m, learn: 2h}
YML
python3 - "$T/seq.log" <<'PY'
import datetime, sys
t0 = datetime.datetime(2026, 11, 22)
steps = ["Receiving block blk_{b} src: /10.0.{i}.1:50010 dest: /10.0.{i}.2:50010",
         "PacketResponder {i} for block blk_{b} terminating",
         "Received block blk_{b} of size {size} from /10.0.{i}.1",
         "BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.0.{i}.2:50010 is added to blk_{b} size {size}"]
lines = []
def session(b, start, seq):
    for k, st in enumerate(seq):
        t = start + datetime.timedelta(seconds=10 * k)
        lines.append((t, f"{t.strftime('%b %d %H:%M:%S')} dn{b % 5} hdfs[9]: " + st.format(b=b, i=b % 7, size=1000 + b)))
for b in range(240):  # one session every 30 s for two hours
    session(1000 + b, t0 + datetime.timedelta(seconds=30 * b), steps)
t = t0 + datetime.timedelta(hours=2, minutes=10)
session(5001, t, steps)
session(5002, t + datetime.timedelta(minutes=1), [steps[0], steps[1], steps[3]])
session(5003, t + datetime.timedelta(minutes=2), steps[:2] + ["Exception in receiveBlock for block blk_{b} java.io.IOException: Connection reset by peer"] + steps[2:])
with open(sys.argv[1], 'w') as f:
    for _, l in sorted(lines):
        f.write(l + "\n")
PY
scan -r "$T/seq.yml" --logsource linux --format syslog "$T/seq.log" >"$T/a3b"
check "rare sequence: two alerts" [ "$(wc -l <"$T/a3b")" -eq 2 ]
check "  ... the session with a missing step" grep -q '"group":{"block":"blk_5002"}' "$T/a3b"
check "  ... the session with an unknown message, pointing at it" \
    grep -q '"group":{"block":"blk_5003"}.*"first_unusual":{"index":2,"template":"Exception in receiveBlock' "$T/a3b"

# 4. a broken spec is reported with its file and the rule ignored
sed 's/learn: 1h/bucket: 10x/; s/type: new_template/type: rate/' "$T/tpl.yml" >"$T/bad.yml"
scan -r "$T/bad.yml" --logsource linux --format syslog "$T/app.log" >"$T/a4"
check "bad spec: no alert" [ ! -s "$T/a4" ]
check "  ... and a warning naming the key" grep -q 'bad.yml.*x_vigie.baseline.bucket' "$T/err"

# 5. the agent keeps first-seen state across a restart (checkpoint in the state directory)
mkdir -p "$T/logs" "$T/rules" "$T/state"
cat >"$T/rules/fs.yml" <<'YML'
title: New Login Source
id: 5b0f5d1e-3c55-4c1e-9d0a-1f2e3d4c5b6a
status: experimental
logsource: {product: linux}
detection:
    selection:
        message|re: '^Accepted \S+ for (?<user>\S+) from (?<ip>\S+)'
    condition: selection
level: low
x_vigie:
    baseline: {type: first_seen, group-by: [user, ip], learn: 5m}
YML
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules:
  paths: [$T/rules]
inputs:
  - {name: l, type: file, paths: [$T/logs/*.log], start_at: beginning, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/alerts.json}
CONF
login() { printf 'Mar  3 %s web01 sshd[1]: Accepted publickey for alice from %s port 1 ssh2\n' "$1" "$2" >>"$T/logs/auth.log"; }
nalerts() { count_lines "$T/alerts.json"; }
have() { [ "$(nalerts)" -ge "$1" ]; }
login 10:00:00 10.0.0.1
login 10:06:00 10.0.0.2
start_agent "$T/vigie.yml"
check "agent: new address after learning alerts" wait_for 10 have 1
check "agent: clean stop" stop_agent
login 10:07:00 10.0.0.2 # known: no alert
login 10:08:00 10.0.0.3 # new: an alert only if the learning period survived the restart
start_agent "$T/vigie.yml"
check "agent: restored state, the new address alerts" wait_for 10 have 2
check "  ... it is 10.0.0.3" grep -q '"ip":"10.0.0.3"' "$T/alerts.json"
check "  ... and the known one did not" [ "$(grep -c '"ip":"10.0.0.2"' "$T/alerts.json")" -eq 1 ]
stop_agent

# 6. ... and the learned sequences, the template miner and the open sessions
mkdir -p "$T/logs6" "$T/rules6" "$T/state6"
cp "$T/seq.yml" "$T/rules6/"
sed "s|$T/logs/|$T/logs6/|; s|$T/state|$T/state6|; s|$T/rules\]|$T/rules6]|; s|$T/alerts.json|$T/alerts6.json|" \
    "$T/vigie.yml" >"$T/vigie6.yml"
awk '$3 < "02:05:00"' "$T/seq.log" >"$T/logs6/hdfs.log"
start_agent "$T/vigie6.yml"
committed6() { grep -q "\"offset\":$(stat -c %s "$T/logs6/hdfs.log")," "$T/state6/positions.json" 2>/dev/null; }
check "agent: learning sessions read and committed" wait_for 10 committed6
have6() { [ "$(count_lines "$T/alerts6.json")" -ge "$1" ]; }
check "agent: clean stop (sequences learned)" stop_agent
check "  ... nothing alerted while learning" [ "$(count_lines "$T/alerts6.json")" -eq 0 ]
awk '$3 >= "02:05:00"' "$T/seq.log" >>"$T/logs6/hdfs.log"
echo "Nov 22 02:30:00 dn1 hdfs[9]: Receiving block blk_9999 src: /10.0.1.1:50010 dest: /10.0.1.2:50010" >>"$T/logs6/hdfs.log"
start_agent "$T/vigie6.yml"
check "agent: after a restart, the two unusual sessions alert" wait_for 10 have6 2
check "  ... blk_5002 and blk_5003" [ "$(grep -c '"block":"blk_500[23]"' "$T/alerts6.json")" -eq 2 ]
stop_agent
finish

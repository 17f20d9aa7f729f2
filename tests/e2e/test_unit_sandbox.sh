#!/bin/bash
# The confinement of packaging/systemd/vigie.service, without systemd: the
# agent runs under the unit's own SystemCallFilter= (expanded from the unit
# file by `systemd-analyze syscall-filter`, everything else EPERM, as
# SystemCallErrorNumber=EPERM says), NoNewPrivileges=yes and
# MemoryDenyWriteExecute=yes (the kernel's PR_SET_MDWE, which refuses
# writable+executable memory as systemd's filter does; PCRE2's JIT is then
# refused and its interpreter used). It must start, detect, answer `vigie
# status`, reload on SIGHUP, print statistics on SIGUSR1 and stop cleanly on
# SIGTERM, with no "Operation not permitted" anywhere. A unit change that
# forbids a system call the agent needs fails here, not on a hospital server.
. "$(dirname "$0")/lib.sh"

UNIT=$ROOT/packaging/systemd/vigie.service
command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
command -v gcc >/dev/null || skip "gcc is not installed"
if [ ! -f /usr/include/seccomp.h ]; then
    [ "$(id -u)" = 0 ] || skip "libseccomp-dev is not installed (and not root to install it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libseccomp-dev >"$T/apt.log" 2>&1 ||
        skip "libseccomp-dev cannot be installed (see $T/apt.log)"
fi

# ---- the launcher: seccomp allow-list + no_new_privs + MDWE, then exec.
cat >"$T/sbx.c" <<'C'
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    FILE *f = fopen(argv[1], "r");
    scmp_filter_ctx c = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!f || !c)
        return 2;
    char name[128];
    int n = 0;
    while (fscanf(f, "%127s", name) == 1) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr != __NR_SCMP_ERROR && seccomp_rule_add(c, SCMP_ACT_ALLOW, nr, 0) == 0)
            n++;
    }
    fclose(f);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return perror("sbx: no_new_privs"), 2;
    if (prctl(65 /* PR_SET_MDWE */, 1 /* REFUSE_EXEC_GAIN */, 0, 0, 0) != 0)
        fprintf(stderr, "sbx: PR_SET_MDWE unavailable (kernel < 6.3): W^X not enforced\n");
    if (seccomp_load(c) != 0)
        return perror("sbx: seccomp_load"), 2;
    fprintf(stderr, "sbx: %d system calls allowed\n", n);
    execv(argv[2], argv + 2);
    perror("sbx: exec");
    return 127;
}
C
gcc -O2 -o "$T/sbx" "$T/sbx.c" -lseccomp 2>"$T/gcc.log" || { cat "$T/gcc.log"; skip "cannot build the seccomp launcher"; }

# ---- the unit's filter, expanded: union of the allow lines minus the ~ lines.
systemd-analyze syscall-filter >"$T/groups.txt" 2>/dev/null
python3 - "$UNIT" "$T/groups.txt" "$T/allow.txt" <<'PY'
import sys
unit, groups_txt, out = sys.argv[1:]
groups, cur = {}, None
for line in open(groups_txt):
    s = line.strip()
    if not s or s.startswith('#'):
        continue
    if line.startswith('@'):
        cur = s; groups[cur] = []
    elif cur:
        groups[cur].append(s)
def expand(items):
    out = set()
    for x in items:
        out |= expand(groups[x]) if x.startswith('@') else {x}
    return out
allow, deny = set(), set()
for line in open(unit):
    if line.startswith('SystemCallFilter='):
        v = line.split('=', 1)[1].split()
        if v and v[0].startswith('~'):
            deny |= expand([v[0][1:]] + v[1:])
        else:
            allow |= expand(v)
if not allow:
    sys.exit("no SystemCallFilter allow-list in the unit")
open(out, 'w').write('\n'.join(sorted(allow - deny)) + '\n')
print(f"  unit filter: {len(allow - deny)} system calls allowed ({len(deny & allow)} denied by ~ lines)")
PY
check "the unit's SystemCallFilter expands" test -s "$T/allow.txt"
check "the unit denies chown (from ~@privileged)" bash -c "! grep -qx chown '$T/allow.txt'"
check "the unit asks for NoNewPrivileges and MemoryDenyWriteExecute" \
    bash -c "grep -qx 'NoNewPrivileges=yes' '$UNIT' && grep -qx 'MemoryDenyWriteExecute=yes' '$UNIT'"
check "the unit's errors are EPERM" grep -qx 'SystemCallErrorNumber=EPERM' "$UNIT"
# The launcher really confines: chown is refused.
touch "$T/f"
check "sandbox is effective (chown refused)" bash -c "! '$T/sbx' '$T/allow.txt' /bin/chown 0:0 '$T/f' 2>/dev/null"

# ---- the agent under it
ALLOW_ROOT=()
[ "$(id -u)" = 0 ] && "$VIGIE" run --help 2>&1 | grep -q -- --allow-root && ALLOW_ROOT=(--allow-root)
mkdir -p "$T/logs" "$T/state"
cat >"$T/vigie.yml" <<CONF
agent: {state_dir: $T/state, commit_interval: 200ms}
rules: {paths: [$ROOT/rules]}
inputs:
  - {name: auth, type: file, paths: [$T/logs/auth.log], start_at: beginning, logsource: {product: linux, service: auth}}
  - {name: web, type: file, paths: [$T/logs/access.log], format: access, start_at: beginning, logsource: {category: webserver}}
  - {name: journal, type: journald, logsource: {product: linux}}
outputs:
  - {type: file, path: $T/state/alerts.json}
CONF
ssh() { printf 'Mar  3 10:00:0%d srv sshd[812]: Failed password for root from 203.0.113.%d port 4242 ssh2\n' "$1" "$1" >>"$T/logs/auth.log"; }
ssh 1
printf '203.0.113.5 - - [03/Mar/2024:10:00:00 +0000] "GET /index.php?id=1%%27%%20UNION%%20SELECT%%20password%%20FROM%%20users-- HTTP/1.1" 200 512 "-" "sqlmap/1.7"\n' >"$T/logs/access.log"
# Under AddressSanitizer, LeakSanitizer needs ptrace, which the filter
# refuses (as systemd would): leaks are checked by the other tests.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    "$T/sbx" "$T/allow.txt" "$VIGIE" run -c "$T/vigie.yml" "${ALLOW_ROOT[@]}" >"$T/agent.out" 2>"$T/agent.log" &
AGENT_PID=$!
nalerts() { count_lines "$T/state/alerts.json"; }
have() { [ "$(nalerts)" -ge "$1" ]; }
check "agent starts under the unit's filter" wait_for 20 grep -q "running:" "$T/agent.log"
check "it detects (sshd and web alerts)" wait_for 10 have 2
if "$VIGIE" --help 2>&1 | grep -q '^  status'; then
    check "vigie status answers over its socket" bash -c "'$VIGIE' status --state-dir '$T/state' >/dev/null"
fi
kill -HUP "$AGENT_PID"
check "SIGHUP reloads" wait_for 10 grep -q "reloaded:" "$T/agent.log"
ssh 2
check "it detects after the reload" wait_for 10 have 3
kill -USR1 "$AGENT_PID"
check "SIGUSR1 prints statistics" wait_for 10 grep -q -- "--- vigie statistics ---" "$T/agent.log"
check "agent alive" agent_alive
stop_agent
rc=$?
check "clean stop on SIGTERM (rc=$rc)" test $rc = 0
check "no 'Operation not permitted' from the agent" bash -c "! grep -qi 'not permitted\|EPERM' '$T/agent.log'"
grep -i 'not permitted\|EPERM\|error' "$T/agent.log" | head -5 | sed 's/^/    /'
finish

#!/bin/bash
# Packaging: build the .deb from this tree (packaging/debian, dpkg-buildpackage
# -b -us -uc, debhelper + meson), lintian without errors, install it on this
# machine with dpkg -i, check what it installed (configuration, rules, user,
# state directory, man pages, unit: `systemd-analyze verify` and `security
# --offline`, which need no running systemd), run the installed agent as the
# vigie user, reinstall over a locally changed conffile, purge and check
# that nothing is left. Then build the RPM from packaging/rpm/vigie.spec with
# rpmbuild (Debian's rpm package; --nodeps, as the BuildRequires are RPM names).
#
# Needs root (dpkg -i, adduser). Installs debhelper, lintian and rpm with
# apt-get when missing. Never touches a vigie package it did not install.
#   VG_PACKAGE_NO_RPM=1   skip the RPM build
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, adduser): run tests/run_all.sh as root to test the package"
command -v dpkg-buildpackage >/dev/null || skip "not a Debian system (no dpkg-buildpackage)"
MARK=/var/lib/vigie/.installed-by-vigie-e2e
if dpkg-query -W -f='${Status}' vigie 2>/dev/null | grep -q 'ok installed'; then
    if [ -e "$MARK" ]; then
        echo "  (purging the vigie package a previous run of this test left installed)"
        dpkg --purge vigie >/dev/null 2>&1
    else
        skip "a vigie package is installed on this machine and not by this test: not touching it"
    fi
fi

export DEBIAN_FRONTEND=noninteractive
need() { # need COMMAND PACKAGE: apt-get install PACKAGE unless COMMAND exists
    command -v "$1" >/dev/null && return 0
    echo "  installing $2"
    apt-get install -y -q "$2" >"$T/apt-$2.log" 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$2" >"$T/apt-$2.log" 2>&1; }
}
need dh debhelper || skip "debhelper cannot be installed (apt-get failed, see $T/apt-debhelper.log)"
need lintian lintian
need rpmbuild rpm
need groff groff-base
need man man-db

VERSION=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$ROOT/meson.build" | head -1)
check "meson.build has a version ($VERSION)" test -n "$VERSION"
deb_version=$(dpkg-parsechangelog -l "$ROOT/packaging/debian/changelog" -S Version)
check "debian/changelog version ($deb_version) is the project's" test "$deb_version" = "$VERSION"
rpm_version=$(sed -n 's/^Version: *//p' "$ROOT/packaging/rpm/vigie.spec")
check "vigie.spec version ($rpm_version) is the project's" test "$rpm_version" = "$VERSION"

# ---- stage the source tree: what git would see (tracked and new files, not
# build directories or ignored output), with packaging/debian as debian/.
SRC=$T/vigie-$VERSION
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -co --exclude-standard -z |
        tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$SRC" -xf -
else
    tar -C "$ROOT" --exclude=./.git --exclude='./build*' --exclude=./tests/bench/out -cf - . |
        tar -C "$SRC" -xf -
fi
rm -rf "$SRC/debian"
cp -r "$ROOT/packaging/debian" "$SRC/debian"
check "source staged" test -f "$SRC/meson.build" -a -x "$SRC/debian/rules"

# ---- build dependencies (the build profile nocheck: the unit tests run elsewhere)
if ! (cd "$SRC" && dpkg-checkbuilddeps -Pnocheck) 2>"$T/builddeps"; then
    missing=$(sed -n 's/.*Unmet build dependencies: //p' "$T/builddeps" |
        sed 's/([^)]*)//g; s/<[^>]*>//g; s/|[^ ]*//g')
    echo "  installing build dependencies: $missing"
    apt-get install -y -q $missing >"$T/apt-builddeps.log" 2>&1
fi

# ---- build
t0=$(date +%s)
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -us -uc) \
    >"$T/build.log" 2>&1
rc=$?
echo "  dpkg-buildpackage took $(( $(date +%s) - t0 )) s"
check "dpkg-buildpackage -b -us -uc succeeds (rc=$rc)" test $rc = 0
DEB=$T/vigie_${VERSION}_$(dpkg --print-architecture).deb
if [ $rc != 0 ] || [ ! -f "$DEB" ]; then
    tail -30 "$T/build.log" | sed 's/^/    /'
    finish
fi
for f in /usr/bin/vigie /etc/vigie/vigie.yml /etc/vigie/rules.d/ /etc/vigie/conf.d/ \
         /usr/share/vigie/rules/ /usr/share/vigie/parsers/linux.yml /lib/systemd/system/vigie.service \
         /usr/share/vigie/systemd/vigie-audit-read.conf /usr/share/man/man8/vigie.8.gz \
         /usr/share/man/man5/vigie.yml.5.gz /usr/share/man/man7/vigie-rules.7.gz; do
    check "the .deb holds $f" bash -c "dpkg-deb -c '$DEB' | awk '{ print \$6 }' | sed 's|^\./|/|' | grep -qxF '$f'"
done
check "the audit drop-in is not shipped active" \
    bash -c "! dpkg-deb -c '$DEB' | grep -q 'vigie.service.d'"

# ---- lintian: no errors (warnings are shown)
if command -v lintian >/dev/null; then
    lintian --fail-on error "$T"/vigie_*.changes >"$T/lintian.log" 2>&1
    rc=$?
    check "lintian: no errors (rc=$rc)" test $rc = 0
    grep -E '^[EW]: ' "$T/lintian.log" | sed 's/^/    /'
else
    echo "  (lintian could not be installed: not run)"
fi

# ---- install
dpkg -i "$DEB" >"$T/install.log" 2>&1
rc=$?
check "dpkg -i succeeds (rc=$rc)" test $rc = 0
[ $rc = 0 ] || { sed 's/^/    /' "$T/install.log" | tail -20; finish; }
touch "$MARK" 2>/dev/null
check "vigie version is $VERSION" bash -c "vigie version | grep -qxF 'vigie $VERSION'"
check "vigie config check on the installed /etc/vigie/vigie.yml" bash -c "vigie config check -c /etc/vigie/vigie.yml >/dev/null"
vigie rules check /usr/share/vigie/rules >"$T/rules-check.out" 2>&1
rc=$?
check "vigie rules check /usr/share/vigie/rules (rc=$rc): $(head -1 "$T/rules-check.out")" test $rc = 0
check "the shipped rules' own tests pass" bash -c 'vigie rules test /usr/share/vigie/rules >/dev/null 2>&1'
check "routing report of the installed configuration" \
    bash -c 'vigie rules check -c /etc/vigie/vigie.yml /usr/share/vigie/rules >/dev/null 2>&1'
check "/etc/vigie/vigie.yml is a conffile" \
    bash -c "dpkg-query -W -f='\${Conffiles}\n' vigie | grep -q '^ /etc/vigie/vigie.yml '"

pw=$(getent passwd vigie)
check "system user vigie exists" test -n "$pw"
check "vigie has no login shell ($(echo "$pw" | cut -d: -f7))" \
    bash -c "getent passwd vigie | cut -d: -f7 | grep -Eqx '/usr/sbin/nologin|/bin/false'"
check "vigie has no home ($(echo "$pw" | cut -d: -f6))" \
    bash -c 'h=$(getent passwd vigie | cut -d: -f6); [ "$h" = /nonexistent ] && [ ! -e /nonexistent ]'
check "vigie is a system user (uid < 1000)" test "$(id -u vigie)" -lt 1000
for g in adm systemd-journal; do
    getent group "$g" >/dev/null || continue
    check "vigie is in group $g" bash -c "id -nG vigie | tr ' ' '\n' | grep -qx $g"
done
check "/var/lib/vigie is vigie:vigie 0750 ($(stat -c '%U:%G %a' /var/lib/vigie 2>/dev/null))" \
    test "$(stat -c '%U:%G %a' /var/lib/vigie 2>/dev/null)" = "vigie:vigie 750"

for p in "8 vigie" "5 vigie.yml" "7 vigie-rules"; do
    check "man $p is installed" bash -c "man -w $p >/dev/null 2>&1"
done
check "vigie.yml(5) lists the options" bash -c "MANWIDTH=100 man 5 vigie.yml 2>/dev/null | grep -q 'agent.state_dir'"

# ---- the unit, offline (no running systemd needed)
UNIT=/lib/systemd/system/vigie.service
systemd-analyze verify "$UNIT" >"$T/verify.out" 2>&1
rc=$?
check "systemd-analyze verify $UNIT (rc=$rc)" test $rc = 0
check "systemd-analyze verify says nothing" test ! -s "$T/verify.out"
sed 's/^/    /' "$T/verify.out" | head -10
systemd-analyze security --offline=true --threshold=20 "$UNIT" >"$T/security.out" 2>&1
rc=$?
score=$(sed -n 's/.*Overall exposure level for vigie.service: *\([0-9.]*\).*/\1/p' "$T/security.out")
check "systemd-analyze security --offline=true: exposure $score <= 2.0 (rc=$rc)" test $rc = 0 -a -n "$score"
check "the unit is enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/vigie.service
# The shipped drop-in, once copied next to a unit, is valid and widens the
# capability set (and only that).
mkdir -p "$T/units/vigie.service.d"
cp "$UNIT" "$T/units/"
cp /usr/share/vigie/systemd/vigie-audit-read.conf "$T/units/vigie.service.d/audit-read.conf"
systemd-analyze verify "$T/units/vigie.service" >"$T/verify-dropin.out" 2>&1
check "the audit-read drop-in verifies" test $? = 0 -a ! -s "$T/verify-dropin.out"
systemd-analyze security --offline=true "$T/units/vigie.service" >"$T/security-dropin.out" 2>&1
check "with the drop-in the unit may bypass read permissions (CAP_DAC_READ_SEARCH)" \
    grep -q 'CAP_(DAC_.*may override UNIX file' "$T/security-dropin.out"
check "without it, it may not" grep -q 'CAP_(DAC_.*cannot override UNIX file' "$T/security.out"

# ---- the installed agent runs as user vigie, as the unit runs it, with
# writable+executable memory refused (MemoryDenyWriteExecute=yes: PCRE2's JIT
# is refused and its interpreter is used) when the kernel has PR_SET_MDWE.
cat >"$T/mdwe.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    print("vigie-e2e: PR_SET_MDWE unavailable, running without it", file=sys.stderr)
os.execv(sys.argv[1], sys.argv[1:])
PY
chmod 644 "$T/mdwe.py"
chmod 755 "$T"
# setpriv execs (runuser would stay in between and turn TERM into rc 143).
# The system python: the user vigie cannot run one under /root (pyenv).
wrap=()
[ -x /usr/bin/python3 ] && wrap=(/usr/bin/python3 "$T/mdwe.py")
VG_LOG_JOURNAL_PREFIX=1 setpriv --reuid=vigie --regid=vigie --init-groups \
    "${wrap[@]}" /usr/bin/vigie run -c /etc/vigie/vigie.yml >"$T/agent.out" 2>"$T/agent.log" &
AGENT_PID=$!
check "installed agent starts as vigie" wait_for 20 grep -q "running:" "$T/agent.log"
check "it writes its state in /var/lib/vigie" wait_for 10 test -s /var/lib/vigie/positions.json
check "state files belong to vigie" test "$(stat -c %U /var/lib/vigie/positions.json 2>/dev/null)" = vigie
if vigie --help 2>&1 | grep -q '^  status'; then
    check "vigie status reaches the installed agent" bash -c 'vigie status >/dev/null 2>&1'
fi
stop_agent
rc=$?
check "it stops cleanly on SIGTERM (rc=$rc)" test $rc = 0
grep -E '^<[0-4]>' "$T/agent.log" | head -5 | sed 's/^/    agent: /'

# ---- reinstall (the upgrade path): the postinst is idempotent, a local
# change to the conffile is kept.
echo "# local change by the e2e test" >>/etc/vigie/vigie.yml
dpkg -i "$DEB" >"$T/reinstall.log" 2>&1
rc=$?
check "dpkg -i again (reinstall) succeeds (rc=$rc)" test $rc = 0
check "the local change to /etc/vigie/vigie.yml is kept" grep -q "local change by the e2e test" /etc/vigie/vigie.yml
check "state kept across the reinstall" test -s /var/lib/vigie/positions.json

# ---- purge
dpkg --purge vigie >"$T/purge.log" 2>&1
rc=$?
check "dpkg --purge succeeds (rc=$rc)" test $rc = 0
check "package gone" bash -c "! dpkg-query -W -f='\${Status}' vigie 2>/dev/null | grep -q 'ok installed'"
for p in /usr/bin/vigie /etc/vigie /var/lib/vigie /usr/share/vigie "$UNIT" \
         /etc/systemd/system/multi-user.target.wants/vigie.service /usr/share/man/man8/vigie.8.gz \
         /usr/share/doc/vigie; do
    check "purge removed $p" test ! -e "$p" -a ! -L "$p"
done
getent passwd vigie >/dev/null && echo "  (the system user vigie is kept after purge, as Debian does)"

# ---- RPM
if [ -n "${VG_PACKAGE_NO_RPM:-}" ]; then
    echo "  (VG_PACKAGE_NO_RPM set: RPM not built)"
elif ! command -v rpmbuild >/dev/null; then
    echo "  (rpmbuild could not be installed: RPM not built)"
else
    R=$T/rpm
    mkdir -p "$R/SOURCES"
    rm -rf "$SRC/debian" "$SRC/obj-"*  # what the .deb build left
    tar -C "$T" -czf "$R/SOURCES/vigie-$VERSION.tar.gz" "vigie-$VERSION"
    t0=$(date +%s)
    rpmbuild -bb --nodeps --define "_topdir $R" --define "debug_package %{nil}" \
        "$ROOT/packaging/rpm/vigie.spec" >"$T/rpmbuild.log" 2>&1
    rc=$?
    echo "  rpmbuild took $(( $(date +%s) - t0 )) s"
    check "rpmbuild -bb vigie.spec succeeds (rc=$rc)" test $rc = 0
    RPM=$(ls "$R"/RPMS/*/vigie-"$VERSION"-*.rpm 2>/dev/null | head -1)
    if [ $rc != 0 ] || [ -z "$RPM" ]; then
        tail -20 "$T/rpmbuild.log" | sed 's/^/    /'
    else
        rpm -qlp "$RPM" 2>/dev/null >"$T/rpm.files"
        for f in /usr/bin/vigie /etc/vigie/vigie.yml /usr/lib/systemd/system/vigie.service \
                 /usr/share/vigie/rules /usr/share/man/man5/vigie.yml.5 /var/lib/vigie; do
            check "the .rpm holds $f" grep -q "^$f" "$T/rpm.files"
        done
        check "the .rpm marks vigie.yml as config" \
            bash -c "rpm -qp --configfiles '$RPM' 2>/dev/null | grep -qx /etc/vigie/vigie.yml"
        check "the .rpm creates the vigie user before install" \
            bash -c "rpm -qp --scripts '$RPM' 2>/dev/null | grep -q 'useradd -r'"
    fi
fi
finish

#!/bin/bash
# tests/run_all.sh - the README's test command: installs what the build and
# the tests need (apt-get, idempotent), builds, runs every unit test
# (criterion), every end-to-end test (tests/e2e/test_*.sh, real binary, real
# files) and the test cases written inside the shipped rules. Ends with the
# line "N passed, N failed".
#
#   VG_BUILD=DIR       build directory (default: build)
#   VG_SANITIZE=1      build with -fsanitize=address,undefined
#   VG_ONLY=REGEX      run only the test executables / scripts matching REGEX
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VG_BUILD:-$ROOT/build}
cd "$ROOT"

DEPS="meson ninja-build pkg-config gcc libpcre2-dev zlib1g-dev libyaml-dev libjansson-dev
      libsystemd-dev libyara-dev libcurl4-openssl-dev libssl-dev libcriterion-dev libdeflate-dev
      systemd-journal-remote python3 gzip procps libcap-dev libmicrohttpd-dev curl rsyslog rsyslog-gnutls
      debhelper lintian rpm libseccomp-dev librelp-dev rsyslog-relp"
missing=
for p in $DEPS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null || { echo "apt-get failed"; exit 1; }
fi

if [ ! -f "$BUILD/build.ninja" ]; then
    opts=()
    [ -n "${VG_SANITIZE:-}" ] && opts+=(-Db_sanitize=address,undefined -Db_lundef=false)
    meson setup "$BUILD" "${opts[@]}" >/dev/null || { echo "meson setup failed"; exit 1; }
fi
ninja -C "$BUILD" >"$BUILD/ninja.log" 2>&1 || { tail -30 "$BUILD/ninja.log"; echo "0 passed, 1 failed"; exit 1; }

export VG_SOURCE_ROOT=$ROOT VG_BUILD_ROOT=$BUILD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
PASSED=0 FAILED=0 SKIPPED=0
only=${VG_ONLY:-.}

echo "== unit tests (criterion)"
for exe in "$BUILD"/tests/test_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=$(basename "$exe")
    echo "$name" | grep -Eq "$only" || continue
    out=$("$exe" --jobs 1 2>&1); rc=$?
    syn=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -1)
    p=$(printf '%s' "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(printf '%s' "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(printf '%s' "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    p=${p:-0}; f=${f:-0}; c=${c:-0}
    if [ -z "$syn" ] || { [ $rc != 0 ] && [ $((f + c)) = 0 ]; }; then f=$((f + 1)); fi
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f + c))
    printf '  %-16s %s\n' "$name" "${syn:-no summary (rc=$rc)}"
    if [ $((f + c)) != 0 ] || [ -z "$syn" ]; then printf '%s\n' "$out" | grep -v '^\[----\]' | tail -40; fi
    printf '%s\n' "$out" | grep -i 'skip' | sed 's/^/    /' | head -5
done

echo "== rule test cases (vigie rules test rules/)"
if echo rules | grep -Eq "$only"; then
    out=$("$BUILD/vigie" rules test "$ROOT/rules" 2>&1); rc=$?
    last=$(printf '%s\n' "$out" | tail -1)
    echo "  $last"
    p=$(printf '%s' "$last" | sed -n 's/.* \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
    f=$(printf '%s' "$last" | sed -n 's/.* \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
    PASSED=$((PASSED + ${p:-0})); FAILED=$((FAILED + ${f:-0}))
    if [ $rc != 0 ]; then printf '%s\n' "$out" | tail -30; [ "${f:-0}" = 0 ] && FAILED=$((FAILED + 1)); fi
fi

echo "== end-to-end tests (real binary)"
SANLOG=
if [ -n "${VG_SANITIZE:-}" ]; then SANLOG=$BUILD/sanitizer-reports; mkdir -p "$SANLOG"; fi
for t in "$ROOT"/tests/e2e/test_*.sh; do
    name=$(basename "$t" .sh)
    echo "$name" | grep -Eq "$only" || continue
    echo "-- $name"
    start=$(date +%s)
    if [ -n "$SANLOG" ]; then
        # Sanitizer reports of every instrumented process the script starts go
        # to files: a report fails the test even where the script does not
        # look at that process's exit status or stderr.
        rm -f "$SANLOG"/*
        ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$SANLOG/asan" UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$SANLOG/ubsan" \
            VIGIE="$BUILD/vigie" timeout 600 bash "$t"; rc=$?
        if [ "$rc" != 77 ] && ls "$SANLOG"/* >/dev/null 2>&1; then
            echo "   sanitizer reports:"; head -20 "$SANLOG"/* | sed 's/^/     /'
            rc=1
        fi
    else
        VIGIE="$BUILD/vigie" timeout 600 bash "$t"; rc=$?
    fi
    case $rc in
        0) PASSED=$((PASSED + 1)); echo "   $name passed ($(( $(date +%s) - start )) s)";;
        77) SKIPPED=$((SKIPPED + 1)); echo "   $name skipped";;
        *) FAILED=$((FAILED + 1)); echo "   $name FAILED (rc=$rc)";;
    esac
done

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]

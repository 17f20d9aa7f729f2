#!/bin/bash
# tests/valgrind.sh - the end-to-end rotation test (tests/e2e/test_tail.sh:
# append, rename and copytruncate rotation, truncation, deletion, clean stop,
# SIGKILL, restart) with every vigie process under
#   valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
# Builds build-valgrind (debug, no sanitizer). PCRE2 JIT is turned off
# (VIGIE_PCRE2_NO_JIT=1): valgrind reports false errors in JIT-compiled code.
# Deadlines of the test are multiplied by VG_WAIT_SCALE (default 10).
# A valgrind error in any vigie process fails, even where the test does not
# look at that process's exit status (the logs are searched afterwards).
# Ends with the line "N passed, N failed".
#
#   VG_BUILD=DIR     build directory (default: build-valgrind)
#   VG_TESTS="..."   e2e scripts to run (default: test_tail)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VG_BUILD:-$ROOT/build-valgrind}
cd "$ROOT"
command -v valgrind >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null ||
    { echo "valgrind missing"; echo "0 passed, 1 failed"; exit 1; }; }
if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" --buildtype=debug -Dtests=disabled >/dev/null ||
        { echo "meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C "$BUILD" vigie >"$BUILD/ninja.log" 2>&1 ||
    { tail -30 "$BUILD/ninja.log"; echo "0 passed, 1 failed"; exit 1; }

VGLOG=$BUILD/valgrind-logs
rm -rf "$VGLOG"; mkdir -p "$VGLOG"
WRAP=$BUILD/vigie-valgrind
cat >"$WRAP" <<W
#!/bin/sh
exec valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \\
    --show-leak-kinds=definite,indirect --track-fds=no --log-file=$VGLOG/vg.%p "$BUILD/vigie" "\$@"
W
chmod +x "$WRAP"

export VG_SOURCE_ROOT=$ROOT VG_BUILD_ROOT=$BUILD VIGIE_PCRE2_NO_JIT=1 VG_VALGRIND=1 VG_WAIT_SCALE=${VG_WAIT_SCALE:-10}
PASSED=0 FAILED=0
for name in ${VG_TESTS:-test_tail}; do
    echo "-- $name (valgrind)"
    rm -f "$VGLOG"/*
    start=$(date +%s)
    VIGIE=$WRAP timeout 1800 bash "tests/e2e/$name.sh"; rc=$?
    # Any report (an error, a definite/indirect leak) of any process fails the test.
    bad=$(grep -l -E 'ERROR SUMMARY: [1-9]|definitely lost|indirectly lost|Invalid (read|write)|uninitialised|Mismatched free' "$VGLOG"/* 2>/dev/null)
    if [ -n "$bad" ]; then
        echo "   valgrind reports:"; head -40 $bad | sed 's/^/     /'
        rc=1
    fi
    if [ $rc = 0 ]; then
        PASSED=$((PASSED + 1)); echo "   $name passed under valgrind ($(( $(date +%s) - start )) s, $(ls "$VGLOG" | wc -l) processes)"
    else
        FAILED=$((FAILED + 1)); echo "   $name FAILED under valgrind (rc=$rc)"
    fi
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

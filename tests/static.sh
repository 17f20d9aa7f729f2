#!/bin/bash
# tests/static.sh - static checks of the agent's C (agent/ collectors/
# detectors/, not tests/): clang-tidy with the checked-in .clang-tidy,
# cppcheck, and a grep for functions banned in a threaded agent. Installs
# clang-tidy and cppcheck if missing (apt-get, idempotent), builds the compile
# database itself (meson, no compilation), prints every finding and exits
# non-zero on any. Ends with the line "N passed, N failed" (one per tool).
#
#   VG_STATIC_BUILD=DIR   meson build directory (default: build-static)
#   VG_STATIC_JOBS=N      parallel clang-tidy/cppcheck jobs (default: 2)
# A finding is fixed, or silenced on its line with a reason:
#   // NOLINT(check-name): reason        (clang-tidy)
#   // cppcheck-suppress id // reason    (cppcheck, on the line above)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VG_STATIC_BUILD:-$ROOT/build-static}
JOBS=${VG_STATIC_JOBS:-2}
cd "$ROOT"
t0=$(date +%s)

missing=
for p in clang-tidy cppcheck meson ninja-build; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq $missing >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq $missing >/dev/null; } ||
        { echo "apt-get failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The compile database: meson writes it at setup; only the library's and the
# binary's own translation units are checked (the tests compile the same
# files again with other flags).
if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" >"$BUILD.setup.log" 2>&1 ||
        { cat "$BUILD.setup.log"; echo "0 passed, 1 failed"; exit 1; }
    rm -f "$BUILD.setup.log"
fi
# An existing directory: re-run meson if a meson.build changed (new sources).
ninja -C "$BUILD" build.ninja >/dev/null || { echo "meson reconfigure failed"; echo "0 passed, 1 failed"; exit 1; }
DB=$BUILD/static-db
mkdir -p "$DB"
python3 - "$BUILD/compile_commands.json" "$DB/compile_commands.json" <<'EOF' || { echo "0 passed, 1 failed"; exit 1; }
import json, sys
db = json.load(open(sys.argv[1]))
keep = [e for e in db if e['output'].startswith(('libvigie.a.p/', 'vigie.p/'))]
if not keep:
    sys.exit('static.sh: no library sources in ' + sys.argv[1])
json.dump(keep, open(sys.argv[2], 'w'), indent=1)
print('static.sh: %d translation units' % len(keep))
EOF
files=$(python3 -c 'import json,sys,os; d=json.load(open(sys.argv[1])); print("\n".join(sorted(os.path.normpath(os.path.join(e["directory"], e["file"])) for e in d)))' "$DB/compile_commands.json")

PASSED=0 FAILED=0
result() { # name, number of findings, seconds
    if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); echo "  $1: ok ($3 s)"
    else FAILED=$((FAILED + 1)); echo "  $1: $2 finding(s) ($3 s)"; fi
}

echo "== clang-tidy ($(clang-tidy --version | sed -n 's/.*LLVM version \([0-9.]*\).*/\1/p'), .clang-tidy)"
s=$(date +%s)
printf '%s\n' $files | xargs -P "$JOBS" -n 4 clang-tidy -p "$DB" --quiet --use-color=false \
    >"$DB/clang-tidy.log" 2>&1
rc=$?
# Warnings are errors (.clang-tidy); one line per finding is printed, the
# analyzer's path notes are in $DB/clang-tidy.log.
# (paths come absolute or relative to the build directory: ../agent/x.c)
findings=$(grep -E '^[^ ]+\.[ch]:[0-9]+:[0-9]+: (warning|error): ' "$DB/clang-tidy.log" |
           sed -e "s#$ROOT/##" -e 's#^\([^ ]*/\)*\.\./##' -e 's/,-warnings-as-errors\]$/]/' | sort -u)
[ -n "$findings" ] && printf '%s\n' "$findings"
n=$(printf '%s' "$findings" | grep -c . || true)
[ "$rc" != 0 ] && [ "$n" = 0 ] && { tail -20 "$DB/clang-tidy.log"; n=1; }
result clang-tidy "$n" $(( $(date +%s) - s ))

echo "== cppcheck ($(cppcheck --version))"
s=$(date +%s)
out=$(cppcheck --enable=warning,portability,performance --std=c11 -D_GNU_SOURCE \
      --inline-suppr --suppressions-list=tests/static/cppcheck.supp \
      --library=posix --library=tests/static/cppcheck.cfg \
      --project="$DB/compile_commands.json" -j "$JOBS" -q --error-exitcode=1 \
      --template='{file}:{line}:{column}: {severity}: {message} [{id}]' 2>&1)
rc=$?
printf '%s\n' "$out" | sed "s#$ROOT/##g" | grep .
n=$(printf '%s' "$out" | grep -cE ':[0-9]+:[0-9]+: [a-z]+: ' || true)
[ "$rc" != 0 ] && [ "$n" = 0 ] && n=1
result cppcheck "$n" $(( $(date +%s) - s ))

# Functions with hidden static state or process-wide effects, unsafe once
# the agent's threads run (the reentrant form is named after the arrow).
# A line may keep one with "// static-allow(name): reason".
echo "== banned functions (thread safety)"
s=$(date +%s)
banned='localtime|gmtime|ctime|asctime|strtok|rand|srand|getpwnam|getpwuid|getgrnam|getgrgid|gethostbyname|gethostbyaddr|inet_ntoa|strsignal|ttyname|setenv|unsetenv|putenv|tmpnam|mktemp'
out=$(printf '%s\n' $files | sed "s#^$ROOT/##" | xargs grep -nE "(^|[^a-zA-Z0-9_>.])($banned)[[:space:]]*\(" |
      grep -vE 'static-allow\(' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
n=$(printf '%s' "$out" | grep -c . || true)
[ "$n" != 0 ] && printf '%s\n' "$out" | sed 's/$/  [banned: use the _r form or read it once at start-up]/'
result banned-functions "$n" $(( $(date +%s) - s ))

echo "static checks: $(( $(date +%s) - t0 )) s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

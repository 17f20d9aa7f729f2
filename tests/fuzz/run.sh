#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang under
# ASan+UBSan into build-fuzz/, then runs each for SECONDS_PER_TARGET seconds
# (default 60), at most FUZZ_JOBS (default 2) at once. The corpus is kept in
# build-fuzz/corpus/<target>/ between runs and seeded from tests/fuzz/seeds/
# and, when present, from ../shared/corpus (copied into the build dir only).
# Exits non-zero when a target crashed, leaked or timed out, printing the
# artifact path. Not part of CI or tests/run_all.sh.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECS=${1:-60}
[ $# -gt 0 ] && shift
ALL="syslog json access squid raw auditd msgfields sigma config framer json_writer spool
     scan_gz listen http_answer yara correlation baseline reckeys redact syslog_fmt"
TARGETS=${*:-$ALL}
OUT=${FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=${FUZZ_JOBS:-2}
CC=${CC:-clang}
SHARED=$ROOT/../shared/corpus

mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/artifacts" "$OUT/logs"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 $SAN -D_GNU_SOURCE -DVG_VERSION=\"fuzz\" -std=c11 -I$ROOT -Wall -Wno-unused-parameter"
PKG=$(pkg-config --cflags --libs libpcre2-8 yaml-0.1 jansson zlib libdeflate libsystemd yara libssl libcrypto libcurl libcap libseccomp) || exit 1

# The library once, instrumented for coverage (everything but main.c).
SRCS=$(ls agent/*.c collectors/*.c detectors/*.c | grep -v '^agent/main\.c$')
objs=()
for s in $SRCS; do
    o=$OUT/obj/$(echo "$s" | tr / _).o
    if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$(find agent collectors detectors -name '*.h' -newer "$o" | head -1)" ]; then
        $CC $CFLAGS -fsanitize=fuzzer-no-link $(pkg-config --cflags libpcre2-8 yaml-0.1 jansson libsystemd) \
            -c "$s" -o "$o" || {
            # A file being edited by someone else must not stop every target:
            # keep its previous object (a target that needs it fails to link).
            echo "warning: build failed: $s" >&2
            [ -f "$o" ] || continue
        }
    fi
    objs+=("$o")
done
rm -f "$OUT/libvigie-fuzz.a"
ar rcs "$OUT/libvigie-fuzz.a" "${objs[@]}"

for t in $TARGETS; do
    $CC $CFLAGS -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "$OUT/libvigie-fuzz.a" $PKG -lm -pthread \
        -o "$OUT/fuzz_$t" || { echo "build failed: fuzz_$t" >&2; exit 1; }
done

# Seeds from the shared corpus (never copied into the repository).
shared_seeds() {
    local t=$1 dir=$2
    [ -d "$SHARED" ] || return 0
    case $t in
        syslog|msgfields|raw) find "$SHARED/loghub/Linux" "$SHARED/loghub/OpenSSH" -type f -name '*.log' 2>/dev/null ;;
        access|squid) find "$SHARED/loghub/Apache" -type f -name '*.log' 2>/dev/null ;;
        sigma) find "$SHARED/sigma/rules/linux" -type f -name '*.yml' 2>/dev/null | head -400 ;;
        scan_gz|listen|redact) find "$SHARED/loghub/Linux" "$SHARED/loghub/OpenSSH" "$SHARED/loghub/Apache" -type f -name '*.log' 2>/dev/null ;;
        correlation) find "$ROOT/rules" "$SHARED/sigma-specification/tests/schema/correlation" -type f -name '*.yml' 2>/dev/null ;;
        baseline) find "$ROOT/rules" -type f -name '*.yml' 2>/dev/null ;;
        yara) find "$ROOT/rules/yara" "$SHARED/signature-base/yara" -type f -name '*.yar' -size -4k 2>/dev/null | head -200 ;;
        *) ;;
    esac | while read -r f; do
        case $t in
            sigma|correlation|baseline|yara) cp "$f" "$dir/shared_$(basename "$f")" ;;
            # one sample of 40 lines per log file (a whole log is one input too big to be useful)
            *) head -c 65536 "$f" | head -40 > "$dir/shared_$(basename "$f")" ;;
        esac
    done
}

run_one() {
    local t=$1 corpus=$OUT/corpus/$1 seeds=$OUT/seeds/$1
    mkdir -p "$corpus" "$seeds" "$OUT/artifacts/$t"
    rm -rf "${seeds:?}"/*
    [ -d "$ROOT/tests/fuzz/seeds/$t" ] && cp "$ROOT/tests/fuzz/seeds/$t"/* "$seeds"/ 2>/dev/null
    shared_seeds "$t" "$seeds"
    local maxlen=65536
    case $t in yara) maxlen=8192 ;; esac # libyara's compile time grows with the text
    VG_SOURCE_ROOT=$ROOT "$OUT/fuzz_$t" -max_total_time="$SECS" -max_len=$maxlen -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" \
        "$corpus" "$seeds" > "$OUT/logs/$t.log" 2>&1
    echo $? > "$OUT/logs/$t.rc"
}

for t in $TARGETS; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    echo "fuzz_$t: ${SECS}s"
    run_one "$t" &
done
wait

fail=0
for t in $TARGETS; do
    rc=$(cat "$OUT/logs/$t.rc" 2>/dev/null || echo 1)
    stats=$(grep -E '^#[0-9]+.*(DONE|pulse)' "$OUT/logs/$t.log" | tail -1)
    execs=$(grep -E 'stat::average_exec_per_sec' "$OUT/logs/$t.log" | awk '{print $2}')
    echo "fuzz_$t: rc=$rc exec/s=${execs:-?} ${stats}"
    if [ "$rc" != 0 ]; then
        fail=1
        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$OUT/logs/$t.log" | head -5
        grep -E 'Test unit written to' "$OUT/logs/$t.log" | sed 's/^/  artifact: /'
        echo "  log: $OUT/logs/$t.log"
    fi
done
exit $fail

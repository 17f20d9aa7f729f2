#!/usr/bin/env bash
# run.sh [LINES] - Vigie's throughput benchmark against the grep yardstick.
#
# Generates the inputs once into tests/bench/out/ (kept between runs, gitignored):
#   auth-N.log    ../shared/bench/gen_authlog.py (sshd auth log, the reference workload)
#   mixed-N.log   gen_mixed.py syslog  (a hospital server's /var/log/syslog)
#   access-N.log  gen_mixed.py access  (nginx combined log of the patient portal)
# then, per input, runs A and B alternately (A B A B ...) RUNS times, pinned to one core:
#   A  LC_ALL=C grep -E -c -f ../shared/bench/attack_patterns.ere FILE
#   B  vigie scan --rules rules/ --logsource LS --format FMT FILE
# Output goes to a file, never /dev/null (GNU grep stops at the first match when its stdout is
# /dev/null). Wall time and peak RSS come from /usr/bin/time; medians are reported, then a
# Markdown table to paste into the README.
# (Wall time is taken around /usr/bin/time + taskset, which adds about a millisecond per run.)
#
# Environment: VIGIE (default build/vigie), RUNS (default 5), BENCH_CORE (default 1, or 0 on a
# single-CPU machine).
set -euo pipefail

LINES=${1:-1000000}
RUNS=${RUNS:-5}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=$(cd "$ROOT/../shared" && pwd)
VIGIE=${VIGIE:-$ROOT/build/vigie}
OUT=$HERE/out
PATTERNS=$SHARED/bench/attack_patterns.ere
RULES=$ROOT/rules

case $LINES in
    '' | *[!0-9]*) echo "usage: $0 [LINES]" >&2; exit 2 ;;
esac
if [ ! -x "$VIGIE" ]; then
    echo "vigie binary not found at $VIGIE (build it, or set VIGIE=path)" >&2
    exit 2
fi
if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (/usr/bin/time)..." >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq time >&2; else sudo apt-get install -y -qq time >&2; fi
fi
CORE=${BENCH_CORE:-1}
if [ "$(nproc --all)" -le "$CORE" ]; then CORE=0; fi

mkdir -p "$OUT"

# ---- inputs (generated once per size) ---------------------------------------------
gen() { # gen FILE COMMAND...
    local f=$1; shift
    if [ ! -s "$f" ]; then
        echo "generating $(basename "$f")..." >&2
        "$@" >/dev/null
    fi
}
AUTH=$OUT/auth-$LINES.log
MIXED=$OUT/mixed-$LINES.log
ACCESS=$OUT/access-$LINES.log
gen "$AUTH" python3 "$SHARED/bench/gen_authlog.py" "$AUTH" "$LINES"
gen "$MIXED" python3 "$HERE/gen_mixed.py" syslog "$MIXED" "$LINES"
gen "$ACCESS" python3 "$HERE/gen_mixed.py" access "$ACCESS" "$LINES"

# ---- one timed run -----------------------------------------------------------------
# timed NAME FILE COMMAND... : appends "seconds maxrss_kb" to $OUT/NAME.times; stdout to $OUT/NAME.out
timed() {
    local name=$1; shift
    local rc=0 t0 t1
    # wall time from the shell's nanosecond clock (/usr/bin/time's %e has 10 ms steps), RSS from time
    t0=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$OUT/$name.time1" taskset -c "$CORE" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
    t1=$(date +%s%N)
    # grep: 1 = no line matched; vigie scan: 1 = alerts found. Both are successes here.
    if [ "$rc" -gt 1 ]; then
        echo "$name failed (exit $rc):" >&2
        head -5 "$OUT/$name.err" >&2
        exit 1
    fi
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}') $(tail -n 1 "$OUT/$name.time1")" >>"$OUT/$name.times"
}

median() { # median COLUMN FILE
    awk -v c="$1" '{print $c}' "$2" | sort -g | awk '{v[NR]=$1} END {m=int((NR+1)/2); if (NR%2) print v[m]; else print (v[m]+v[m+1])/2}'
}

declare -a TABLE
bench_one() { # bench_one SLUG LABEL FILE LOGSOURCE FORMAT
    local slug=$1 label=$2 file=$3 ls=$4 fmt=$5
    local a=grep-$slug b=vigie-$slug
    rm -f "$OUT/$a.times" "$OUT/$b.times"
    cat "$file" >/dev/null # warm the page cache
    for ((i = 1; i <= RUNS; i++)); do
        timed "$a" env LC_ALL=C grep -E -c -f "$PATTERNS" "$file"
        timed "$b" "$VIGIE" scan --rules "$RULES" --logsource "$ls" --format "$fmt" --output json --quiet "$file"
    done
    local lines bytes ta tb ra rb
    lines=$(wc -l <"$file")
    bytes=$(stat -c %s "$file")
    ta=$(median 1 "$OUT/$a.times"); ra=$(median 2 "$OUT/$a.times")
    tb=$(median 1 "$OUT/$b.times"); rb=$(median 2 "$OUT/$b.times")
    local hits alerts
    hits=$(cat "$OUT/$a.out")
    alerts=$(wc -l <"$OUT/$b.out")
    # keep a sample of the alerts, not hundreds of MB of them
    head -n 100 "$OUT/$b.out" >"$OUT/$b.sample.json" && rm -f "$OUT/$b.out"
    awk -v L="$label" -v n="$lines" -v sz="$bytes" -v ta="$ta" -v tb="$tb" -v ra="$ra" -v rb="$rb" \
        -v h="$hits" -v al="$alerts" 'function rate(x, t) { return t > 0 ? x / t : 0 }
        BEGIN {
            printf "%s: %d lines, %.1f MB\n", L, n, sz / 1e6
            printf "  grep -E (C locale)  %7.3f s  %7.3f M lines/s  %7.1f MB/s  %6.1f MB RSS  %d matching lines\n",
                   ta, rate(n, ta) / 1e6, rate(sz, ta) / 1e6, ra / 1024, h
            printf "  vigie scan          %7.3f s  %7.3f M lines/s  %7.1f MB/s  %6.1f MB RSS  %d alerts\n",
                   tb, rate(n, tb) / 1e6, rate(sz, tb) / 1e6, rb / 1024, al
            ratio = (ta > 0) ? tb / ta : 0
            pct = (tb > 0) ? 100 * ta / tb : 0
            printf "  vigie/grep time ratio %.2f (vigie runs at %.0f%% of grep'\''s speed)\n", ratio, pct
        }'
    TABLE+=("$(awk -v L="$label" -v n="$lines" -v sz="$bytes" -v ta="$ta" -v tb="$tb" -v ra="$ra" -v rb="$rb" \
        -v al="$alerts" 'function rate(x, t) { return t > 0 ? x / t : 0 }
        BEGIN {
            ratio = (ta > 0) ? tb / ta : 0
            printf "| %s | %.2f M | %.1f | %.1f MB | %.2f M | %.1f | %.1f MB | %.2f | %d |",
                   L, rate(n, ta) / 1e6, rate(sz, ta) / 1e6, ra / 1024,
                   rate(n, tb) / 1e6, rate(sz, tb) / 1e6, rb / 1024, ratio, al
        }')")
}

echo "vigie: $VIGIE ($("$VIGIE" --version 2>/dev/null | head -1 || echo '?'))"
echo "rules: $RULES ($(find "$RULES" -name '*.yml' | wc -l) files); $RUNS runs each, alternating, core $CORE; medians"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(nproc --all) CPUs"
echo
bench_one auth "auth.log ($LINES lines)" "$AUTH" linux/auth syslog
bench_one mixed "mixed syslog ($LINES lines)" "$MIXED" linux/syslog syslog
bench_one access "nginx access ($LINES lines)" "$ACCESS" webserver access

echo
echo "| input | grep lines/s | grep MB/s | grep RSS | vigie lines/s | vigie MB/s | vigie RSS | vigie/grep time | vigie alerts |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
echo
echo "grep = \`LC_ALL=C grep -E -c -f attack_patterns.ere\` (21 regexes); vigie = \`vigie scan\` with the $(find "$RULES" -name '*.yml' | wc -l) shipped rules;"
echo "both pinned with \`taskset -c $CORE\`, page cache warm, median of $RUNS alternating runs."

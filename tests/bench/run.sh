#!/usr/bin/env bash
# run.sh [LINES] - Vigie's throughput benchmark against the grep yardstick, with three rule sets.
#
# Generates the inputs once into tests/bench/out/ (kept between runs, gitignored; regenerated when
# their generator changes):
#   auth-N.log    ../shared/bench/gen_authlog.py (sshd auth log, the reference workload)
#   mixed-N.log   gen_mixed.py syslog  (a hospital server's /var/log/syslog)
#   access-N.log  gen_mixed.py access  (nginx combined log of the patient portal)
#   host-N/       "realistic host": one day of the same hospital server, N lines in four files
#                 named as in /var/log so that vigie scan guesses format and log source by name:
#                 syslog 45% (gen_mixed.py syslog), auth.log 15% (gen_mixed.py auth, a calm one),
#                 audit.log 20% (gen_mixed.py audit), access.log 20% (gen_mixed.py access)
#   rules2500/    gen_mutated_rules.py: the SigmaHQ linux+web rules replicated to 2,500 rules with
#                 fresh ids and every literal mutated (regenerated when the generator changes)
# then, per input, runs these alternately (G a b c G a b c ...) RUNS times, pinned to one core:
#   G    LC_ALL=C grep -E -h -c -f ../shared/bench/attack_patterns.ere FILE...
#   (a)  vigie scan -r rules/                                       (the shipped rules)
#   (b)  vigie scan -r rules/ -r ../shared/corpus/sigma/rules       (+ all SigmaHQ linux+web)
#   (c)  vigie scan -r rules/ -r out/rules2500                      (+ 2,500 mutated SigmaHQ copies)
# each vigie run with --logsource LS --format FMT --output json --quiet FILE; on the realistic host
# one grep and one vigie scan over the four files, vigie without --logsource/--format.
# Output goes to a file, never /dev/null (GNU grep stops at the first match when its stdout is
# /dev/null). Wall time and peak RSS come from /usr/bin/time; medians are reported. The rule-loading
# cost of each set is measured too (the same scan over an empty file). Last, Markdown tables to paste
# into the README.
# (Wall time is taken around /usr/bin/time + taskset, which adds about a millisecond per run.)
#
# Environment: VIGIE (default build/vigie), RUNS (default 5), BENCH_CORE (default 1, or 0 on a
# single-CPU machine), MUTATED (default 2500 rules in set c).
set -euo pipefail

LINES=${1:-1000000}
RUNS=${RUNS:-5}
MUTATED=${MUTATED:-2500}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=$(cd "$ROOT/../shared" && pwd)
VIGIE=${VIGIE:-$ROOT/build/vigie}
OUT=$HERE/out
PATTERNS=$SHARED/bench/attack_patterns.ere
RULES=$ROOT/rules
SIGMA=$SHARED/corpus/sigma/rules
RMUT=$OUT/rules$MUTATED
TARGET_LPS=1000000 # (b) lines/s target
TARGET_RSS_MB=16   # (b) peak RSS target

case $LINES in
    '' | *[!0-9]*) echo "usage: $0 [LINES]" >&2; exit 2 ;;
esac
case $MUTATED in
    '' | *[!0-9]*) echo "MUTATED must be a number" >&2; exit 2 ;;
esac
if [ ! -x "$VIGIE" ]; then
    echo "vigie binary not found at $VIGIE (build it, or set VIGIE=path)" >&2
    exit 2
fi
if [ ! -d "$SIGMA" ]; then
    echo "SigmaHQ rules not found at $SIGMA" >&2
    exit 2
fi
apt_install() { # apt_install PACKAGE
    echo "installing $1 (Debian package)..." >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq "$1" >&2; else sudo apt-get install -y -qq "$1" >&2; fi
}
if [ ! -x /usr/bin/time ]; then apt_install time; fi
# PyYAML for gen_mutated_rules.py: the python3 on PATH if it has it, else Debian's python3-yaml.
PY=python3
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    PY=/usr/bin/python3
    if ! "$PY" -c 'import yaml' 2>/dev/null; then apt_install python3-yaml; fi
fi
CORE=${BENCH_CORE:-1}
if [ "$(nproc --all)" -le "$CORE" ]; then CORE=0; fi

mkdir -p "$OUT"

# ---- inputs (generated once per size) ---------------------------------------------
gen() { # gen FILE python3 SCRIPT ARGS... : (re)generated when missing or older than SCRIPT
    local f=$1; shift
    if [ ! -s "$f" ] || [ "$2" -nt "$f" ]; then
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
HOST=$OUT/host-$LINES
mkdir -p "$HOST"
HOST_FILES=("$HOST/syslog" "$HOST/auth.log" "$HOST/audit.log" "$HOST/access.log")
# shares of LINES (per mille): syslog 450, auth 150, audit 200, access the rest
HOST_SYSLOG=$((LINES * 450 / 1000)); HOST_AUTH=$((LINES * 150 / 1000)); HOST_AUDIT=$((LINES * 200 / 1000))
HOST_ACCESS=$((LINES - HOST_SYSLOG - HOST_AUTH - HOST_AUDIT))
gen "$HOST/syslog" python3 "$HERE/gen_mixed.py" syslog "$HOST/syslog" "$HOST_SYSLOG"
gen "$HOST/auth.log" python3 "$HERE/gen_mixed.py" auth "$HOST/auth.log" "$HOST_AUTH"
gen "$HOST/audit.log" python3 "$HERE/gen_mixed.py" audit "$HOST/audit.log" "$HOST_AUDIT"
gen "$HOST/access.log" python3 "$HERE/gen_mixed.py" access "$HOST/access.log" "$HOST_ACCESS"
if [ ! -e "$RMUT/.done" ] || [ "$HERE/gen_mutated_rules.py" -nt "$RMUT/.done" ]; then
    echo "generating $(basename "$RMUT")/..." >&2
    "$PY" "$HERE/gen_mutated_rules.py" "$SIGMA" "$RMUT" "$MUTATED" >&2
    touch "$RMUT/.done"
fi

# ---- rule sets ---------------------------------------------------------------------
SETS=(a b c)
declare -A SET_ARGS SET_NAME SET_N
SET_ARGS[a]="-r $RULES"
SET_ARGS[b]="-r $RULES -r $SIGMA"
SET_ARGS[c]="-r $RULES -r $RMUT"
SET_NAME[a]="(a) shipped"
SET_NAME[b]="(b) shipped + SigmaHQ"
SET_NAME[c]="(c) shipped + $MUTATED mutated"
loaded() { # loaded PATH... : "N loaded, M rejected ..." from vigie rules check
    "$VIGIE" rules check "$@" 2>&1 | grep -E "^[0-9]+ loaded" | tail -n 1
}
CHECK_MUT=$(loaded "$RMUT")
for s in "${SETS[@]}"; do
    # shellcheck disable=SC2046,SC2086 # word splitting of the -r list is intended (paths have no spaces)
    SET_N[$s]=$(loaded ${SET_ARGS[$s]//-r /} | awk '{print $1}')
done

# ---- one timed run -----------------------------------------------------------------
# timed NAME COMMAND... : appends "seconds maxrss_kb" to $OUT/NAME.times; stdout to $OUT/NAME.out
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

vigie_cmd() { # vigie_cmd SET LOGSOURCE FORMAT FILE... (LOGSOURCE and FORMAT "-": guessed by name)
    local s=$1 ls=$2 fmt=$3
    shift 3
    if [ "$ls" = - ]; then
        # shellcheck disable=SC2086
        echo "$VIGIE" scan ${SET_ARGS[$s]} --output json --quiet "$@"
    else
        # shellcheck disable=SC2086
        echo "$VIGIE" scan ${SET_ARGS[$s]} --logsource "$ls" --format "$fmt" --output json --quiet "$@"
    fi
}

# ---- rule loading: each set over an empty input ------------------------------------
EMPTY=$OUT/empty.log
: >"$EMPTY"
declare -A LOAD_T LOAD_RSS
for s in "${SETS[@]}"; do rm -f "$OUT/load-$s.times"; done
for ((i = 1; i <= RUNS; i++)); do
    for s in "${SETS[@]}"; do
        # shellcheck disable=SC2046
        timed "load-$s" $(vigie_cmd "$s" linux/auth syslog "$EMPTY")
    done
done
for s in "${SETS[@]}"; do
    LOAD_T[$s]=$(median 1 "$OUT/load-$s.times")
    LOAD_RSS[$s]=$(median 2 "$OUT/load-$s.times")
done

# ---- per input ---------------------------------------------------------------------
declare -a TABLE SUMMARY
bench_one() { # bench_one SLUG LABEL LOGSOURCE FORMAT FILE... (LOGSOURCE/FORMAT "-": by file name)
    local slug=$1 label=$2 ls=$3 fmt=$4
    shift 4
    local files=("$@")
    local g=grep-$slug s
    rm -f "$OUT/$g.times"
    for s in "${SETS[@]}"; do rm -f "$OUT/vigie-$slug-$s.times"; done
    cat "${files[@]}" >/dev/null # warm the page cache
    for ((i = 1; i <= RUNS; i++)); do
        timed "$g" env LC_ALL=C grep -E -h -c -f "$PATTERNS" "${files[@]}"
        for s in "${SETS[@]}"; do
            # shellcheck disable=SC2046
            timed "vigie-$slug-$s" $(vigie_cmd "$s" "$ls" "$fmt" "${files[@]}")
        done
    done
    local lines bytes tg rg hits f how=""
    lines=$(cat "${files[@]}" | wc -l)
    bytes=$(stat -c %s "${files[@]}" | awk '{t += $1} END {print t}')
    tg=$(median 1 "$OUT/$g.times"); rg=$(median 2 "$OUT/$g.times")
    hits=$(awk '{t += $1} END {print t}' "$OUT/$g.out") # grep -h -c: one count per file
    if [ "$ls" = - ]; then
        for f in "${files[@]}"; do how+="$(basename "$f") $(wc -l <"$f"), "; done
        how="${how%, } lines; format and log source guessed from the file names"
    else
        how="--logsource $ls --format $fmt"
    fi
    printf '%s: %d lines, %.1f MB, %s\n' "$label" "$lines" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$how"
    row() { # row NAME SECONDS RSS_KB COUNT UNIT
        awk -v L="$1" -v t="$2" -v r="$3" -v c="$4" -v u="$5" -v n="$lines" -v sz="$bytes" -v tg="$tg" \
            'BEGIN { printf "  %-34s %7.3f s  %6.3f M lines/s  %7.1f MB/s  %6.1f MB RSS  %8d %s  (%.2fx grep time)\n",
                     L, t, n / t / 1e6, sz / t / 1e6, r / 1024, c, u, t / tg }'
        TABLE+=("$(awk -v I="$label" -v L="$1" -v k="$6" -v t="$2" -v r="$3" -v c="$4" -v u="$5" -v n="$lines" \
            -v sz="$bytes" -v tg="$tg" \
            'BEGIN { printf "| %s | %s | %s | %.3f M | %.1f | %.1f MB | %d %s | %.2f |",
                     I, L, k, n / t / 1e6, sz / t / 1e6, r / 1024, c, u, t / tg }')")
    }
    row "grep -E (C locale)" "$tg" "$rg" "$hits" "matching lines" "21 regexes"
    declare -A T R
    for s in "${SETS[@]}"; do
        local b=vigie-$slug-$s alerts
        T[$s]=$(median 1 "$OUT/$b.times"); R[$s]=$(median 2 "$OUT/$b.times")
        alerts=$(wc -l <"$OUT/$b.out")
        # keep a sample of the alerts, not hundreds of MB of them
        head -n 100 "$OUT/$b.out" >"$OUT/$b.sample.json" && rm -f "$OUT/$b.out"
        row "vigie ${SET_NAME[$s]}" "${T[$s]}" "${R[$s]}" "$alerts" alerts "${SET_N[$s]}"
    done
    local sum
    sum=$(awk -v n="$lines" -v ta="${T[a]}" -v tb="${T[b]}" -v tc="${T[c]}" -v rb="${R[b]}" \
        -v la="${LOAD_T[a]}" -v lc="${LOAD_T[c]}" -v tl="$TARGET_LPS" -v tr="$TARGET_RSS_MB" \
        'BEGIN {
            cx = ta / tc; sx = (tc - lc > 0 && ta - la > 0) ? (ta - la) / (tc - lc) : 0
            lps = n / tb; mb = rb / 1024
            printf "%.2f|%.2f|%.3f M (%.0f%%, %s)|%.1f MB (%s)",
                   cx, sx, lps / 1e6, 100 * lps / tl, (lps >= tl ? "met" : "missed"),
                   mb, (mb <= tr ? "met" : "over")
        }')
    IFS='|' read -r cx sx blps brss <<<"$sum"
    echo "  (c)/(a) throughput $cx ($sx without rule loading); (b) $blps of the $TARGET_LPS lines/s target; (b) peak RSS $brss vs $TARGET_RSS_MB MB"
    SUMMARY+=("| $label | $cx | $sx | $blps | $brss |")
    echo
}

echo "vigie: $VIGIE ($("$VIGIE" version 2>/dev/null | head -1 || echo '?'))"
echo "rule sets: (a) ${SET_N[a]}, (b) ${SET_N[b]}, (c) ${SET_N[c]} rules loaded; $(basename "$RMUT"): $CHECK_MUT"
echo "$RUNS runs each, alternating, core $CORE; medians"
echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(nproc --all) CPUs"
for s in "${SETS[@]}"; do
    awk -v L="${SET_NAME[$s]}" -v t="${LOAD_T[$s]}" -v r="${LOAD_RSS[$s]}" \
        'BEGIN { printf "rule loading %-30s %6.3f s  %6.1f MB RSS (scan of an empty file)\n", L, t, r / 1024 }'
done
echo
bench_one auth "auth.log" linux/auth syslog "$AUTH"
bench_one mixed "mixed syslog" linux/syslog syslog "$MIXED"
bench_one access "nginx access" webserver access "$ACCESS"
bench_one host "realistic host" - - "${HOST_FILES[@]}"

echo "| input ($LINES lines) | run | rules | lines/s | MB/s | peak RSS | alerts | time vs grep |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
echo
echo "| input | (c)/(a) throughput | same, without rule loading | (b) lines/s vs 1 M target | (b) peak RSS vs $TARGET_RSS_MB MB |"
echo "|---|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
echo
LOADS=$(for s in "${SETS[@]}"; do
    awk -v L="${s}" -v t="${LOAD_T[$s]}" -v r="${LOAD_RSS[$s]}" 'BEGIN { printf "(%s) %.2f s, %.1f MB; ", L, t, r / 1024 }'
done)
echo "Rule loading (scan of an empty file, included in the times above): ${LOADS%; }."
echo "grep = \`LC_ALL=C grep -E -h -c -f attack_patterns.ere\` (21 regexes; one run over the four files of the realistic host); vigie = \`vigie scan\` with (a) the shipped rules,"
echo "(b) plus ../shared/corpus/sigma/rules, (c) plus $(basename "$RMUT")/ from gen_mutated_rules.py;"
echo "all pinned with \`taskset -c $CORE\`, page cache warm, median of $RUNS alternating runs."

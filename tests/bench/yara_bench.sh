#!/usr/bin/env bash
# yara_bench.sh [LINES] - the cost of YARA on log events: `vigie scan` over LINES mixed lines
# (the realistic host of run.sh: gen_mixed.py syslog 45%, auth 15%, audit 20%, access 20%, four
# files scanned by one vigie scan that picks format and log source by name), alternately
#   (n) without YARA:  -r rules/linux -r rules/web                  (the shipped Sigma rules)
#   (y) with YARA:     the same + the 50 corpus YARA files below    (text-oriented rules)
# RUNS times each (default 3), pinned to one core, output to a file; prints the medians
# (lines/s), the ratio y/n (target >= 50%), the YARA counters of one (y) run (block scans,
# events scanned alone, events skipped) and the rules loaded.
#
# Environment: VIGIE (default build/vigie), RUNS (default 3), BENCH_CORE (default 1).
set -euo pipefail

LINES=${1:-1000000}
RUNS=${RUNS:-3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CORPUS=$(cd "$ROOT/../shared/corpus" 2>/dev/null && pwd || true)
VIGIE=${VIGIE:-$ROOT/build/vigie}
OUT=$HERE/out
CORE=${BENCH_CORE:-1}
[ "$(nproc)" -gt "$CORE" ] || CORE=0

case $LINES in '' | *[!0-9]*) echo "usage: $0 [LINES]" >&2; exit 2 ;; esac
[ -x "$VIGIE" ] || { echo "vigie binary not found at $VIGIE (build it, or set VIGIE=path)" >&2; exit 2; }
[ -n "$CORPUS" ] && [ -d "$CORPUS/signature-base/yara" ] && [ -d "$CORPUS/yara-rules" ] ||
    { echo "YARA corpus not found at ../shared/corpus (signature-base, yara-rules): skipped" >&2; exit 77; }

# The 50 text-oriented rule files: exploitation strings found in web/application logs, reverse
# shells, miners, script obfuscation, web shells (their text), all scanned on every line.
SB=$CORPUS/signature-base/yara
YR=$CORPUS/yara-rules
YARA_FILES=(
    "$SB/expl_log4j_cve_2021_44228.yar"
    "$SB/expl_cve_2021_26084_confluence_log.yar"
    "$SB/exploit_f5_bigip_cve_2021_22986_log.yar"
    "$SB/expl_spring4shell.yar"
    "$SB/expl_proxyshell.yar"
    "$SB/expl_cve_2022_41040_proxynoshell.yar"
    "$SB/expl_proxynotshell_owassrf_dec22.yar"
    "$SB/expl_cve_2022_46169_cacti.yar"
    "$SB/expl_teamcity_2023_42793.yar"
    "$SB/exploit_gitlab_cve_2021_22205.yar"
    "$SB/exploit_cve_2022_22954_vmware_workspace_one.yar"
    "$SB/expl_citrix_netscaler_adc_exploitation_cve_2023_3519.yar"
    "$SB/expl_ivanti_epmm_mobileiron_cve_2023_35078.yar"
    "$SB/expl_adselfservice_cve_2021_40539.yar"
    "$SB/exploit_cve_2021_33766_proxytoken.yar"
    "$SB/expl_cups_sep24.yar"
    "$SB/expl_sap_netweaver_apr25.yar"
    "$SB/expl_manageengine_jan23.yar"
    "$SB/vul_cve_2021_386471_omi.yar"
    "$SB/gen_exploit_cve_2017_10271_weblogic.yar"
    "$SB/gen_python_pty_shell.yar"
    "$SB/gen_python_reverse_shell.yara"
    "$SB/crime_crypto_miner.yar"
    "$SB/pua_cryptocoin_miner.yar"
    "$SB/pua_xmrig_monero_miner.yar"
    "$SB/crime_h2miner_kinsing.yar"
    "$SB/gen_powershell_invocation.yar"
    "$SB/gen_powershell_susp.yar"
    "$SB/gen_powershell_obfuscation.yar"
    "$SB/gen_cmd_script_obfuscated.yar"
    "$SB/gen_susp_obfuscation.yar"
    "$SB/gen_mal_scripts.yar"
    "$SB/gen_susp_bat_aux.yar"
    "$SB/gen_invoke_mimikatz.yar"
    "$SB/gen_javascript_powershell.yar"
    "$SB/apt_webshell_chinachopper.yar"
    "$SB/webshell_regeorg.yar"
    "$SB/gen_webshell_csharp.yar"
    "$SB/vul_php_zlib_backdoor.yar"
    "$SB/apt_laudanum_webshells.yar"
    "$SB/webshell_xsl_transform.yar"
    "$SB/gen_p0wnshell.yar"
    "$YR/webshells/WShell_ChinaChopper.yar"
    "$YR/webshells/WShell_PHP_Anuna.yar"
    "$YR/webshells/WShell_Drupalgeddon2_icos.yar"
    "$YR/webshells/WShell_PHP_in_images.yar"
    "$YR/webshells/Wshell_fire2013.yar"
    "$YR/webshells/WShell_ASPXSpy.yar"
    "$YR/webshells/Wshell_ChineseSpam.yar"
    "$YR/email/Email_PHP_Mailer.yar"
)
[ "${#YARA_FILES[@]}" = 50 ] || { echo "expected 50 rule files, have ${#YARA_FILES[@]}" >&2; exit 2; }
for f in "${YARA_FILES[@]}"; do [ -f "$f" ] || { echo "missing $f" >&2; exit 2; }; done

# Input: the realistic host of run.sh (generated here if run.sh has not made it yet).
HOST=$OUT/host-$LINES
mkdir -p "$OUT"
if [ ! -s "$HOST/syslog" ] || [ ! -s "$HOST/access.log" ]; then
    mkdir -p "$HOST"
    python3 "$HERE/gen_mixed.py" syslog "$HOST/syslog" $((LINES * 45 / 100)) >/dev/null
    python3 "$HERE/gen_mixed.py" auth "$HOST/auth.log" $((LINES * 15 / 100)) >/dev/null
    python3 "$HERE/gen_mixed.py" audit "$HOST/audit.log" $((LINES * 20 / 100)) >/dev/null
    python3 "$HERE/gen_mixed.py" access "$HOST/access.log" \
        $((LINES - LINES * 45 / 100 - LINES * 15 / 100 - LINES * 20 / 100)) >/dev/null
fi
FILES=("$HOST/syslog" "$HOST/auth.log" "$HOST/audit.log" "$HOST/access.log")
NLINES=$(cat "${FILES[@]}" | wc -l)

SIGMA=(-r "$ROOT/rules/linux" -r "$ROOT/rules/web")
YARGS=()
for f in "${YARA_FILES[@]}"; do YARGS+=(-r "$f"); done
YSTATE=$(mktemp -d /tmp/vigie-yara-bench.XXXXXX)
trap 'rm -rf "$YSTATE"' EXIT

"$VIGIE" rules check "${YARA_FILES[@]}" >"$OUT/yara-check.out" 2>&1 || true
echo "YARA: $(grep -m1 " loaded, " "$OUT/yara-check.out") from 50 files"

one() { # one: n|y -> "wall cpu" seconds (cpu = user + system: robust on a busy machine)
    local args=("${SIGMA[@]}")
    [ "$1" = y ] && args+=("${YARGS[@]}")
    /usr/bin/time -f "%e %U %S" -o "$OUT/yara-$1.time" taskset -c "$CORE" "$VIGIE" scan -q -o json \
        "${args[@]}" "${FILES[@]}" >"$OUT/yara-$1.json" 2>"$OUT/yara-$1.err" || true
    tail -1 "$OUT/yara-$1.time" | awk '{printf "%s %.2f\n", $1, $2 + $3}'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

TN=(); TY=(); CN=(); CY=()
for ((r = 1; r <= RUNS; r++)); do
    read -r w c <<<"$(one n)"; TN+=("$w"); CN+=("$c")
    read -r w c <<<"$(one y)"; TY+=("$w"); CY+=("$c")
    echo "run $r: without YARA ${TN[-1]}s (cpu ${CN[-1]}s), with YARA ${TY[-1]}s (cpu ${CY[-1]}s)"
done
MN=$(median "${TN[@]}"); MY=$(median "${TY[@]}")
MCN=$(median "${CN[@]}"); MCY=$(median "${CY[@]}")
AN=$(wc -l <"$OUT/yara-n.json"); AY=$(wc -l <"$OUT/yara-y.json")
python3 - "$NLINES" "$MN" "$MY" "$AN" "$AY" "$MCN" "$MCY" <<'PY'
import sys
n, tn, ty, an, ay = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
cn, cy = max(float(sys.argv[6]), 0.01), max(float(sys.argv[7]), 0.01)
ln, ly = n / tn, n / ty
print(f"lines: {n:,}")
print(f"without YARA: {ln:,.0f} lines/s wall, {n / cn:,.0f} lines/cpu-s (median {tn:.2f}s, {an} alerts)")
print(f"with YARA:    {ly:,.0f} lines/s wall, {n / cy:,.0f} lines/cpu-s (median {ty:.2f}s, {ay} alerts)")
print(f"ratio: {100 * ly / ln:.0f}% of the throughput without YARA (wall; cpu: {100 * cn / cy:.0f}%) "
      f"(target >= 50%): {'OK' if ly >= 0.5 * ln else 'BELOW TARGET'}")
PY
echo "YARA alerts (with YARA run):"
python3 - "$OUT/yara-y.json" <<'PY'
import collections, json, sys
c = collections.Counter(json.loads(l)['rule']['id'] for l in open(sys.argv[1], 'rb'))
for k, v in sorted(c.items()):
    if ':' in k:
        print(f"  {v:6d}  {k}")
PY

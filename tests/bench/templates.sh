#!/usr/bin/env bash
# templates.sh - quality of the template miner and of the session detector on public labelled logs.
#
#   1. Grouping accuracy (Zhu et al., ICSE-SEIP 2019) of detectors/drain.c with its DEFAULT options
#      (one configuration for every dataset) on the loghub 2k samples that are present under
#      ../shared/corpus/loghub/*/*_2k.log_structured.csv (the miner reads the Content column).
#   2. The rare-sequence detector of detectors/baseline.c (vg_seqdet, default options) on the HDFS
#      sessions of ../shared/corpus/logdeep/data/hdfs: learn on the first 80% of hdfs_train (normal
#      sessions, file order), false-positive rate on its last 20%, recall on hdfs_test_abnormal.
#   3. Mining throughput on one core: the whole lines (header included) of the same loghub logs,
#      mined 100 times over.
# Prints Markdown tables. Exit 0 when the targets hold (mean accuracy >= 0.93, none < 0.85;
# FPR <= 5%, recall >= 90%), 2 when a target is missed, 77 when the corpus is absent.
#
# Environment: BUILD (default build), CORPUS (default ../shared/corpus relative to the source root).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
corpus=${CORPUS:-$root/../shared/corpus}
eval_bin=$build/tests/template_eval
[ -x "$eval_bin" ] || ninja -C "$build" tests/template_eval >/dev/null
shopt -s nullglob
csvs=("$corpus"/loghub/*/*_2k.log_structured.csv)
if [ ${#csvs[@]} -eq 0 ]; then
    echo "SKIP: no loghub structured CSVs under $corpus/loghub" >&2
    exit 77
fi
rc=0
echo "### Template grouping accuracy (default options)"
echo
"$eval_bin" groups "${csvs[@]}" || rc=$?
hdfs=$corpus/logdeep/data/hdfs
if [ -r "$hdfs/hdfs_train" ] && [ -r "$hdfs/hdfs_test_abnormal" ]; then
    echo
    echo "### HDFS sessions: rare-sequence detector (default options)"
    echo
    echo "| | |"
    echo "|---|---|"
    "$eval_bin" hdfs "$hdfs/hdfs_train" "$hdfs/hdfs_test_abnormal" || rc=$?
else
    echo "SKIP: no HDFS sessions under $hdfs" >&2
fi
logs=("$corpus"/loghub/*/*_2k.log)
if [ ${#logs[@]} -gt 0 ]; then
    echo
    echo "### Mining throughput (one core, default options)"
    echo
    "$eval_bin" speed "${logs[@]}"
fi
exit $rc

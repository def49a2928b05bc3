#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its seed corpus (ctest's
# "fuzz: <target>" in a SITELEDGER_FUZZ build). New inputs go to a scratch
# corpus in the build tree, never into the repository's seeds. A crash
# leaves its input in the build tree (crashes/<target>-*) and fails the
# test: copy it into tests/fuzz/regressions/<target>/ with the fix, so the
# replay test in every build keeps it fixed.
#
# Usage: run_fuzzer.sh BINARY TARGET SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
binary=$1 target=$2 src=$3 work=$4 seconds=$5
mkdir -p "$work/corpus/$target" "$work/crashes"
seeds=("$src/corpus/$target")
[ -d "$src/regressions/$target" ] && seeds+=("$src/regressions/$target")
# Symbolized reports (Debian names the tool without its version too).
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-19 || command -v llvm-symbolizer || true)}
# -rss_limit_mb: a target that grows without bound is a finding too.
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$work/crashes/$target-" \
  "$work/corpus/$target" "${seeds[@]}"

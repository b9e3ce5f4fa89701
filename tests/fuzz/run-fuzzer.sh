#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-fuzzer.sh FUZZER CORPUS SECONDS: fuzzes for SECONDS from CORPUS (read-only: new inputs go
# to a scratch directory). A crash leaves its input in crash-* under the scratch directory and
# fails; add such an input to CORPUS once it is fixed.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ctrlog-fuzz.XXXXXX")
# Kept only when it holds a crash input.
trap 'rm -rf "$scratch/new"; rmdir "$scratch" 2>/dev/null || true' EXIT
mkdir -p "$scratch/new"
echo "fuzzing $(basename "$fuzzer") for ${seconds}s from $corpus; crashes go to $scratch"
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024 \
	-artifact_prefix="$scratch/" -print_final_stats=1 "$scratch/new" "$corpus" 2>&1 | tail -n 15

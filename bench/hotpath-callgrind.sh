#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# hotpath-callgrind.sh: instructions per line of the hot path (framing + k8s-file formatting +
# the staged write), counted by valgrind's callgrind, which is repeatable on a noisy machine.
# Each line size runs twice (4 and 8 MiB); the difference in instructions divided by the
# difference in lines removes the fixed costs (start-up, building the input).
#
#   bench/hotpath-callgrind.sh [HOTPATH]     (default build/bench/hotpath)
set -euo pipefail
cd "$(dirname "$0")/.."
hotpath=${1:-build/bench/hotpath}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

count() { # MODE SIZE MIB -> "instructions lines"
	valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$hotpath" --mode "$1" \
		--line-size "$2" --total-mib "$3" --dir "$work" > "$work/out" 2> "$work/err"
	echo "$(sed -n 's/.*refs: *//p' "$work/err" | tr -d ,) $(sed -n 's/.*lines=\([0-9]*\).*/\1/p' "$work/out")"
}

echo "| line size | mode | instructions per line |"
echo "|---:|---|---:|"
for size in 20 100 1000 4096; do
	for mode in framer feed; do
		read -r i1 l1 < <(count "$mode" "$size" 4)
		read -r i2 l2 < <(count "$mode" "$size" 8)
		echo "| $size | $mode | $(awk -v a="$i1" -v b="$i2" -v c="$l1" -v d="$l2" 'BEGIN { printf "%.1f", (b - a) / (d - c) }') |"
	done
done

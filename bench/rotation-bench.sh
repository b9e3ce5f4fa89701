#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# rotation-bench.sh: issue 4's rotation workload. 1 GiB of 100-byte lines through
# `ctrlog run --stats` three ways, interleaved, RUNS times each:
#   none  --log-max-size 0                                  (no rotation: the hot-path baseline)
#   plain --log-max-size 10m --log-max-files 5 --log-compress none
#   zstd  --log-max-size 10m --log-max-files 5 --log-compress zstd:1
# and reports, as medians (min-max):
#   - the monitor's hot-path CPU per GiB: its process CPU minus the compressor thread's
#     (ctrlog counts that thread's CPU itself: compress_cpu_s), and the ratio to `none`;
#   - the container's wall time (producer start to exit) with zstd vs with plain files;
#   - the compressor's CPU per GiB of plain input vs the zstd CLI (-1, one thread) compressing
#     the same kind of bytes (a 256 MiB slice of the `none` log) in the same run.
# Each zstd run is checked: every .zst passes `zstd -t`, the files hold whole records, and the
# newest record is the producer's last line.
#
#   bench/rotation-bench.sh [--total SIZE] [--runs N] [--quick]
#
# The producer runs on CPU 0 and the monitor may use both CPUs, so that the compressor thread
# can run beside the hot path, as it would on a real host.
set -euo pipefail
cd "$(dirname "$0")/.."
total=1g runs=3
while (($#)); do
	case $1 in
	--total) total=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--quick) total=64m runs=1; shift ;;
	*) echo "rotation-bench: unknown option '$1'" >&2; exit 2 ;;
	esac
done
ctrlog=${CTRLOG:-build/cli/ctrlog}
mkdir -p bench/.build
[[ -x bench/.build/loadgen ]] || gcc -O2 -static -o bench/.build/loadgen bench/loadgen.c
[[ -x bench/.build/ownstat ]] || gcc -O2 -o bench/.build/ownstat bench/ownstat.c
loadgen=$PWD/bench/.build/loadgen
work=$(mktemp -d /var/tmp/ctrlog-rotbench.XXXXXX)
trap 'rm -rf "$work"' EXIT

stat_of() { sed -n "s/^$1=//p" "$2"; }
gib() { awk -v b="$1" 'BEGIN { printf "%.6f", b / 1073741824 }'; }

# run_one MODE I: one ctrlog run; appends "mode hot_cpu wall compress_cpu compress_in" to rows
run_one() {
	local mode=$1 i=$2 root=$work/$1-$2 args=() t0 t1
	case $mode in
	none) args=(--log-max-size 0) ;;
	plain) args=(--log-max-size 10m --log-max-files 5 --log-compress none) ;;
	zstd) args=(--log-max-size 10m --log-max-files 5 --log-compress zstd:1) ;;
	esac
	t0=$(date +%s.%N)
	taskset -c 0,1 "$ctrlog" run --root "$root" --id r --stats "${args[@]}" -- \
		taskset -c 0 "$loadgen" --line-size 100 --total "$total" 2> "$work/stats"
	t1=$(date +%s.%N)
	local cpu comp_cpu comp_in in
	cpu=$(awk '/^cpu_(user|sys)_s=/ { split($0, a, "="); s += a[2] } END { print s }' "$work/stats")
	comp_cpu=$(stat_of compress_cpu_s "$work/stats")
	comp_in=$(stat_of compress_bytes_in "$work/stats")
	in=$(stat_of stdout_bytes_in "$work/stats")
	[[ $(stat_of dropped_bytes "$work/stats") == 0 ]] || { echo "rotation-bench: $mode lost data" >&2; exit 1; }
	if [[ $mode == zstd ]]; then
		local f
		for f in "$root"/r/ctr.log.*.zst; do zstd -q -t "$f" || { echo "rotation-bench: $f is corrupt" >&2; exit 1; }; done
		tail -n 1 "$root/r/ctr.log" | grep -c "seq=0*$(( $(stat_of stdout_records "$work/stats") ))" >/dev/null ||
			{ echo "rotation-bench: the last line is missing" >&2; exit 1; }
	fi
	if [[ $mode == none && $i == 1 ]]; then
		head -c 256m "$root/r/ctr.log" > "$work/sample.log"
	fi
	echo "$mode $(awk -v c="$cpu" -v k="$comp_cpu" -v b="$in" 'BEGIN { printf "%.4f", (c - k) / (b / 1073741824) }') $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $comp_cpu $comp_in" >> "$work/rows"
	rm -rf "$root"
}

for i in $(seq 1 "$runs"); do
	for mode in none plain zstd; do
		echo "rotation-bench: $mode run $i" >&2
		run_one "$mode" "$i"
	done
done
# The zstd CLI at the same level, one thread, on the same kind of bytes.
zstd_cpus=()
for i in $(seq 1 "$runs"); do
	bench/.build/ownstat -o "$work/zstd.stat" -- zstd -1 -T1 -q -c "$work/sample.log" > /dev/null
	zstd_cpus+=("$(awk -F= '/^cpu_(user|sys)_s=/ { s += $2 } END { print s }' "$work/zstd.stat")")
done

median() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; printf "%s (%s-%s)", m, v[1], v[NR] }'; }
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$work/rows"; }

hot_none=$(col none 2 | med)
hot_zstd=$(col zstd 2 | med)
wall_plain=$(col plain 3 | med)
wall_zstd=$(col zstd 3 | med)
comp_per_gib=$(awk '$1 == "zstd" && $5 > 0 { printf "%.4f\n", $4 / ($5 / 1073741824) }' "$work/rows" | med)
zstd_cli=$(printf '%s\n' "${zstd_cpus[@]}" | awk -v s="$(stat -c %s "$work/sample.log")" '{ printf "%.4f\n", $1 / (s / 1073741824) }' | med)

cat <<EOT
| measure | value |
|---|---|
| hot-path CPU s/GiB, no rotation | $(col none 2 | median) |
| hot-path CPU s/GiB, 10m × 5, plain | $(col plain 2 | median) |
| hot-path CPU s/GiB, 10m × 5, zstd:1 | $(col zstd 2 | median) |
| hot path zstd ÷ no rotation | $(awk -v a="$hot_zstd" -v b="$hot_none" 'BEGIN { printf "%.2f×", a / b }') |
| container wall s, plain files | $(col plain 3 | median) |
| container wall s, zstd:1 | $(col zstd 3 | median) |
| wall zstd ÷ plain | $(awk -v a="$wall_zstd" -v b="$wall_plain" 'BEGIN { printf "%.2f×", a / b }') |
| compressor CPU s/GiB of plain input | $comp_per_gib |
| zstd CLI -1 -T1 CPU s/GiB, same bytes | $zstd_cli |
| compressor ÷ zstd CLI | $(awk -v a="$comp_per_gib" -v b="$zstd_cli" 'BEGIN { printf "%.2f×", a / b }') |
EOT

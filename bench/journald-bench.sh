#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# journald-bench.sh: issue 5's journald workload.  200,000 lines of 100 bytes
# go through `ctrlog run --stats --log-driver journald` into a private
# systemd-journald (and, when conmon + crun can run here, through
# `conmon -l journald:` in the same run), and it reports
#   - the monitor's own CPU per line: (cpu_user_s + cpu_sys_s) / lines, from
#     ctrlog's --stats (getrusage(RUSAGE_SELF): never the container's CPU) and,
#     for conmon, from ownstat (its utime+stime from /proc before it is reaped);
#   - journald's ingest rate: lines / wall seconds from the logger's start until
#     `journalctl --sync` returns (journald has stored every datagram sent),
#     and journald's own CPU per entry;
#   - whether every line was stored: the journal's messages, pieces joined,
#     must equal the producer's output byte for byte.
#
#   bench/journald-bench.sh [--lines N] [--runs R] [--cpu C] [--no-conmon]
#
# Runs as root (a private journald needs it) in a private mount namespace
# (tests/e2e/journald-env.sh), so the host's journal never sees an entry.
# The logger and the producer share CPU C (default 0, see ../shared/PEERS.md:
# placement dominates on a 2-vCPU VM); journald gets the other CPU when there
# is one.  Runs are interleaved (ctrlog, conmon, ctrlog, ...); medians are
# reported, with min-max.  Exit status: 0, or 1 if a run lost or changed a line.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")
LINES=200000
RUNS=3
CPU=0
CONMON=1

usage() { sed -n '2,25s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
	case $1 in
	--lines) LINES=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--cpu) CPU=${2:?}; shift ;;
	--no-conmon) CONMON=0 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "journald-bench.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

. "$REPO/tests/e2e/journald-env.sh"
if [ -z "${CTRLOG_JOURNALD_NS:-}" ]; then
	for p in gcc jq taskset unshare journalctl; do
		command -v "$p" >/dev/null || { echo "journald-bench.sh: $p not installed" >&2; exit 1; }
	done
fi
journald_reexec "$0" --lines "$LINES" --runs "$RUNS" --cpu "$CPU" \
	$([ "$CONMON" = 1 ] || echo --no-conmon)

CTRLOG=${CTRLOG:-$REPO/build/cli/ctrlog}
[ -x "$CTRLOG" ] || { echo "journald-bench.sh: $CTRLOG not built (ninja -C build)" >&2; exit 1; }
LINE_SIZE=100
TOTAL=$((LINES * LINE_SIZE))
W=$(mktemp -d "${TMPDIR:-/tmp}/ctrlog-jbench.XXXXXX")
trap 'set +e; journald_teardown; journald_reap_all "$W"; rm -rf "$W"' EXIT
say() { echo "journald-bench: $*" >&2; }

# Helpers built privately (bench/run builds the same sources into bench/.build).
for t in loadgen ownstat; do
	extra=()
	[ "$t" = loadgen ] && extra=(-static)
	gcc -std=c11 -O2 -Wall -D_GNU_SOURCE "${extra[@]}" -o "$W/$t" "$BENCH/$t.c"
done
LG_ARGS=(--line-size "$LINE_SIZE" --total "$TOTAL" --write-size 1m)
"$W/loadgen" "${LG_ARGS[@]}" >"$W/expected"
[ "$(wc -l <"$W/expected")" = "$LINES" ] || { say "loadgen did not write $LINES lines"; exit 1; }

JCPU=$CPU
[ "$(nproc)" -gt 1 ] && JCPU=$(((CPU + 1) % $(nproc)))

proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# The raw stream rebuilt from the journal: pieces of a split line joined, and
# one '\n' after each complete message (conmon keeps the line's '\n' in
# MESSAGE, ctrlog does not: DESIGN.md).
rebuild() {
	jctl _TRANSPORT=journal -o json --all --output-fields=MESSAGE,CONTAINER_PARTIAL_MESSAGE |
		jq -j 'if .CONTAINER_PARTIAL_MESSAGE == "true" then .MESSAGE
			elif (.MESSAGE | endswith("\n")) then .MESSAGE else .MESSAGE + "\n" end'
}

# run_one KIND N : one run; prints "kind cpu_per_line_us ingest_per_s journald_us_per_entry entries ok"
run_one() {
	local kind=$1 n=$2 t0 t1 tick0 tick1 cpu entries ok=ok rc=0 hz
	hz=$(getconf CLK_TCK)
	journald_start "$W" >&2 || { say "cannot start a private systemd-journald"; return 1; }
	taskset -cp "$JCPU" "$JOURNALD_PID" >/dev/null
	tick0=$(proc_cpu_ticks "$JOURNALD_PID")
	t0=$EPOCHREALTIME
	case $kind in
	ctrlog)
		taskset -c "$CPU" "$CTRLOG" run --root "$W/root" --id "bench$n" --stats \
			--log-driver journald -- "$W/loadgen" "${LG_ARGS[@]}" \
			>"$W/ctrlog.out" 2>"$W/stats" || rc=$?
		;;
	conmon)
		CONMON_SH_INSIDE=1 "$BENCH/conmon.sh" run "$W/bundle" "$W/ownstat" "$CPU" \
			journald: "$W/stats" -- "${LG_ARGS[@]}" >"$W/conmon.log" 2>&1 || rc=$?
		;;
	esac
	journald_sync
	t1=$EPOCHREALTIME
	tick1=$(proc_cpu_ticks "$JOURNALD_PID")
	if [ "$rc" != 0 ]; then
		say "$kind run $n failed ($rc): $(tail -n 2 "$W/stats" "$W/conmon.log" 2>/dev/null | tr '\n' ' ')"
		journald_teardown
		return 1
	fi
	cpu=$(awk -F= '$1 == "cpu_user_s" || $1 == "cpu_sys_s" { s += $2 } END { printf "%.9f", s }' "$W/stats")
	entries=$(jctl _TRANSPORT=journal -o json --output-fields=PRIORITY | wc -l)
	rebuild >"$W/got"
	if ! cmp -s "$W/expected" "$W/got"; then
		ok=LOST
		say "$kind run $n: the journal does not hold every line exactly ($(wc -l <"$W/got") of $LINES lines rebuilt)"
	fi
	journald_teardown
	awk -v k="$kind" -v c="$cpu" -v l="$LINES" -v a="$t0" -v b="$t1" -v j="$((tick1 - tick0))" \
		-v hz="$hz" -v e="$entries" -v ok="$ok" \
		'BEGIN { printf "%s %.3f %.0f %.2f %d %s\n", k, c / l * 1e6, l / (b - a), j / hz / e * 1e6, e, ok }'
}

KINDS=(ctrlog)
CONMON_NOTE=""
if [ "$CONMON" = 1 ]; then
	if ! command -v conmon >/dev/null || ! command -v crun >/dev/null; then
		CONMON_NOTE="conmon comparison skipped: conmon or crun not installed (apt-get install conmon crun busybox-static)"
	elif ! out=$("$BENCH/conmon.sh" bundle "$W/bundle" "$W/loadgen" 2>&1); then
		CONMON_NOTE="conmon comparison skipped: no OCI bundle: $out"
	elif ! out=$(CONMON_SH_INSIDE=1 "$BENCH/conmon.sh" check "$W/bundle" "$W/ownstat" 2>&1); then
		CONMON_NOTE="conmon comparison skipped: a container cannot run here: $(echo "$out" | tail -n 1)"
	else
		KINDS+=(conmon)
	fi
else
	CONMON_NOTE="conmon comparison skipped: --no-conmon"
fi
[ -z "$CONMON_NOTE" ] || say "$CONMON_NOTE"

: >"$W/rows"
failed=0
for r in $(seq "$RUNS"); do
	for k in "${KINDS[@]}"; do
		say "run $r/$RUNS: $k, $LINES lines of $LINE_SIZE bytes"
		if row=$(run_one "$k" "$r"); then
			echo "$row" >>"$W/rows"
			say "  $row"
			case $row in *LOST) failed=1 ;; esac
		else
			failed=1
		fi
	done
done

# median (min-max) of column COL for KIND
stat_col() {
	awk -v k="$1" '$1 == k { print $'"$2"' }' "$W/rows" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%g (%g-%g)", m, v[1], v[NR] }'
}
median_col() {
	awk -v k="$1" '$1 == k { print $'"$2"' }' "$W/rows" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) exit; print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "## journald: $LINES lines of $LINE_SIZE bytes, $RUNS runs, logger on CPU $CPU, journald on CPU $JCPU"
echo
echo "| logger | monitor CPU µs/line | journald ingest lines/s | journald CPU µs/entry | entries | all lines stored |"
echo "|---|---|---|---|---|---|"
for k in "${KINDS[@]}"; do
	okruns=$(awk -v k="$k" '$1 == k && $6 == "ok"' "$W/rows" | wc -l)
	allruns=$(awk -v k="$k" '$1 == k' "$W/rows" | wc -l)
	echo "| $k | $(stat_col "$k" 2) | $(stat_col "$k" 3) | $(stat_col "$k" 4) | $(stat_col "$k" 5) | $okruns/$RUNS runs${allruns:+} |"
done
echo
if [ -n "$CONMON_NOTE" ]; then
	echo "$CONMON_NOTE"
else
	c=$(median_col ctrlog 2) m=$(median_col conmon 2)
	if [ -n "$c" ] && [ -n "$m" ]; then
		awk -v c="$c" -v m="$m" 'BEGIN {
			printf "ctrlog / conmon monitor CPU per line: %.3f (goal <= 0.25: %s)\n", c / m, c / m <= 0.25 ? "met" : "NOT met" }'
	fi
fi
exit "$failed"

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# journald.sh: runs a logger against a private systemd-journald and exports
# what arrived, so the journald setups never touch the host's journal.
#
#   journald.sh run DIR CPU OUT STATS -- COMMAND...
#       COMMAND (ctrlog run ... --log-driver journald) runs pinned to CPU,
#       its stderr (--stats) going to STATS.
#   journald.sh conmon DIR CPU OUT STATS BUNDLE OWNSTAT -- LOADGEN_ARGS...
#       the same with conmon -l journald: (see conmon.sh).
#
# Afterwards the entries are written to OUT as raw lines (pieces of a split
# line joined), ready for `verify --raw`, and STATS gets bench_wall_s,
# journal_entries, journal_partial and journal_bytes.
#
# Exit status: 0 ok, 3 the logger refused the journald driver (status 125),
# 4 no private journald here, else a failure.
#
# Why private: inside `unshare -m`, tmpfs mounts on /run/systemd and
# /run/log give journald a socket and storage that only this namespace sees
# (../shared/PEERS.md).  journald itself is not pinned or measured: its cost
# is the same whichever logger sends to it.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JOURNALD=${JOURNALD:-/lib/systemd/systemd-journald}

die() { echo "journald.sh: $*" >&2; exit 1; }

start_journald() {
	mount -t tmpfs tmpfs /run/systemd
	mount -t tmpfs tmpfs /run/log
	"$JOURNALD" >"$DIR/journald.out" 2>&1 &
	JPID=$!
	for _ in $(seq 100); do
		[ -S /run/systemd/journal/socket ] && return 0
		kill -0 "$JPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "journald.sh: systemd-journald did not start: $(tail -1 "$DIR/journald.out")" >&2
	exit 4
}

stop_journald() {
	kill "$JPID" 2>/dev/null || true
	wait "$JPID" 2>/dev/null || true
}

# Waits until journald has stored every datagram already sent: the entry
# count stops changing (journalctl --sync needs journald's varlink socket,
# which may be missing; the count is the fallback).
drain() {
	journalctl --sync >/dev/null 2>&1 || true
	local prev=-1 now
	for _ in $(seq 200); do
		now=$(journalctl _TRANSPORT=journal -q -o cat 2>/dev/null | wc -l)
		[ "$now" = "$prev" ] && return 0
		prev=$now
		sleep 0.2
	done
}

# Joins partial messages (CONTAINER_PARTIAL_MESSAGE=true) and ends each
# complete one with '\n', which rebuilds the container's raw stream.
# conmon 2.1.6 keeps the line's '\n' in MESSAGE; ctrlog must not (DESIGN.md),
# so a '\n' is tolerated only in conmon mode.
export_entries() {
	local filter='if .CONTAINER_PARTIAL_MESSAGE == "true" then .MESSAGE else .MESSAGE + "\n" end'
	if [ "$mode" = conmon ]; then
		filter='if .CONTAINER_PARTIAL_MESSAGE == "true" or (.MESSAGE | endswith("\n"))
			then .MESSAGE else .MESSAGE + "\n" end'
	fi
	# --all: without it journalctl prints fields over 4096 bytes as null.
	journalctl _TRANSPORT=journal -q --all -o json \
		--output-fields=MESSAGE,CONTAINER_PARTIAL_MESSAGE | jq -j "$filter" >"$OUT"
	{
		echo "journal_entries=$(journalctl _TRANSPORT=journal -q -o cat | wc -l)"
		echo "journal_partial=$(journalctl _TRANSPORT=journal -q CONTAINER_PARTIAL_MESSAGE=true -o cat | wc -l)"
		echo "journal_bytes=$(du -sb /run/log/journal | cut -f1)"
	} >>"$STATS"
}

[ "$(id -u)" = 0 ] || { echo "journald.sh: not root" >&2; exit 4; }
[ -x "$JOURNALD" ] || { echo "journald.sh: $JOURNALD not found" >&2; exit 4; }
command -v jq >/dev/null || { echo "journald.sh: jq not installed" >&2; exit 4; }
if [ -z "${JOURNALD_SH_INSIDE:-}" ]; then
	JOURNALD_SH_INSIDE=1 exec unshare -m --propagation private "$0" "$@"
fi

mode=${1:-}
[ $# -ge 6 ] || die "usage: journald.sh run|conmon DIR CPU OUT STATS ... -- ..."
DIR=$2 CPU=$3 OUT=$4 STATS=$5
shift 5
rm -rf "$DIR"
mkdir -p "$DIR"
start_journald
trap stop_journald EXIT
rc=0
t0=$EPOCHREALTIME
case $mode in
run)
	[ "${1:-}" = "--" ] && shift
	taskset -c "$CPU" "$@" 2>"$STATS" || rc=$?
	if [ "$rc" = 125 ]; then
		exit 3
	fi
	;;
conmon)
	bundle=$1 ownstat=$2
	shift 2
	# Already in a private mount namespace: conmon.sh only adjusts cgroups.
	CONMON_SH_INSIDE=1 "$BENCH/conmon.sh" run "$bundle" "$ownstat" "$CPU" \
		journald: "$STATS" "$@" || rc=$?
	;;
*)
	die "unknown mode '$mode'"
	;;
esac
t1=$EPOCHREALTIME
[ "$rc" = 0 ] || die "logger failed with status $rc"
if [ "$mode" = run ]; then
	echo "bench_wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" >>"$STATS"
fi
drain
export_entries

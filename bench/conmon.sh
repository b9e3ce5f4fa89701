#!/bin/bash
# SPDX-License-Identifier: MIT
#
# conmon.sh: runs loadgen in a real OCI container under conmon + crun and
# reports conmon's own CPU, the way ../shared/PEERS.md found works here.
#
#   conmon.sh bundle DIR LOADGEN     make an OCI bundle (busybox rootfs + loadgen)
#   conmon.sh check DIR OWNSTAT      can a container run here? (one clear line if not)
#   conmon.sh run DIR OWNSTAT CPU LOG_SPEC STATS -- LOADGEN_ARGS...
#
# "run" and "check" re-execute themselves in a private mount namespace:
# there crun's "hybrid cgroups" refusal is avoided by unmounting
# /sys/fs/cgroup/unified, and an empty tmpfs over /sys/fs/cgroup/memory
# keeps conmon's OOM watcher away from the host's memory cgroup.  Nothing on
# the host's cgroup tree is created or moved.
#
# conmon is the container's subreaper, so timing it with time(1) would add
# the container's CPU.  ownstat reads conmon's own utime+stime from /proc
# after it exited but before it is reaped.  conmon --sync stays in the
# foreground, so it is ownstat's direct child; -P names it otherwise.
set -euo pipefail

CRUN=${CRUN:-/usr/bin/crun}
CRUN_ARGS=(--cgroup-manager=disabled)

die() { echo "conmon.sh: $*" >&2; exit 1; }

# Builds DIR/rootfs with a static busybox and loadgen, and DIR/config.json.
make_bundle() {
	local dir=$1 loadgen=$2 busybox
	busybox=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
	# The dynamic busybox cannot run in an empty rootfs; insist on static.
	if ldd "$busybox" >/dev/null 2>&1; then
		die "$busybox is dynamically linked (apt-get install busybox-static)"
	fi
	rm -rf "$dir"
	mkdir -p "$dir/rootfs/bin"
	cp "$busybox" "$dir/rootfs/bin/busybox"
	ln -s busybox "$dir/rootfs/bin/sh"
	cp "$loadgen" "$dir/rootfs/bin/loadgen"
	(cd "$dir" && "$CRUN" spec) || die "crun spec failed"
	mv "$dir/config.json" "$dir/config.template.json"
}

# Sets the container's command in config.json (no terminal: conmon must
# see pipes, as for every real logging setup).
set_args() {
	local dir=$1 args; shift
	# jq 1.6 would take "--total" for its own option, so pass a JSON array.
	args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
	jq --argjson a "$args" \
		'.process.terminal = false | .process.args = ["/bin/loadgen"] + $a' \
		<"$dir/config.template.json" >"$dir/config.json"
}

# The namespace preparation; runs as the first thing inside unshare.
enter_private_cgroups() {
	if mountpoint -q /sys/fs/cgroup/unified; then
		umount /sys/fs/cgroup/unified
	fi
	if [ -d /sys/fs/cgroup/memory ]; then
		mount -t tmpfs none /sys/fs/cgroup/memory
	fi
}

# Runs one container; writes cpu_user_s, cpu_sys_s, max_rss_kb, wall_s,
# exit to STATS.  Prints conmon's and crun's complaints on failure.
run_one() {
	local dir=$1 ownstat=$2 cpu=$3 logspec=$4 stats=$5; shift 5
	[ "${1:-}" = "--" ] && shift
	local id="ctrlogbench-$$-$RANDOM" rt="$dir/run.$$" t0 t1 rc=0
	set_args "$dir" "$@"
	rm -rf "$rt"
	mkdir -p "$rt"
	taskset -c "$cpu" "$ownstat" -o "$rt/own.stat" -- \
		conmon --api-version 1 --sync -c "$id" -u "$id" -n "$id" \
		-r "$CRUN" --runtime-arg=--cgroup-manager=disabled -b "$dir" \
		-p "$rt/ctr.pid" -P "$rt/conmon.pid" --exit-dir "$rt" \
		--socket-dir-path "$rt" -l "$logspec" \
		>"$rt/conmon.out" 2>&1 &
	local ownpid=$!
	# The container exists (created, not started) once crun wrote its pid.
	for _ in $(seq 200); do
		[ -s "$rt/ctr.pid" ] && break
		kill -0 "$ownpid" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$rt/ctr.pid" ]; then
		wait "$ownpid" || true
		echo "conmon.sh: container was not created: $(tr '\n' ' ' <"$rt/conmon.out")" >&2
		"$CRUN" "${CRUN_ARGS[@]}" delete -f "$id" >/dev/null 2>&1 || true
		return 1
	fi
	t0=$EPOCHREALTIME
	taskset -c "$cpu" "$CRUN" "${CRUN_ARGS[@]}" start "$id" || rc=$?
	wait "$ownpid" || true   # conmon's own status is not the container's
	t1=$EPOCHREALTIME
	"$CRUN" "${CRUN_ARGS[@]}" delete -f "$id" >/dev/null 2>&1 || true
	if [ "$rc" != 0 ]; then
		echo "conmon.sh: crun start failed ($rc)" >&2
		return 1
	fi
	if [ ! -s "$rt/$id" ]; then
		echo "conmon.sh: no exit file: $(tr '\n' ' ' <"$rt/conmon.out")" >&2
		return 1
	fi
	{
		cat "$rt/own.stat"
		echo "wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')"
		echo "exit=$(cat "$rt/$id")"
	} >"$stats"
	rm -rf "$rt"
}

cmd=${1:-}
case $cmd in
bundle)
	[ $# = 3 ] || die "usage: conmon.sh bundle DIR LOADGEN"
	make_bundle "$2" "$3"
	;;
check|run)
	[ "$(id -u)" = 0 ] || { echo "not root" >&2; exit 1; }
	for p in conmon "$CRUN" jq unshare taskset; do
		command -v "$p" >/dev/null || { echo "$p not installed" >&2; exit 1; }
	done
	if [ -z "${CONMON_SH_INSIDE:-}" ]; then
		CONMON_SH_INSIDE=1 exec unshare -m --propagation private "$0" "$@"
	fi
	enter_private_cgroups
	if [ "$cmd" = check ]; then
		[ $# = 3 ] || die "usage: conmon.sh check DIR OWNSTAT"
		st="$2/check.stat"
		run_one "$2" "$3" 0 "k8s-file:$2/check.log" "$st" -- --total 4k
		grep -q '^exit=0$' "$st" || { echo "test container failed" >&2; exit 1; }
		rm -f "$st" "$2/check.log"
	else
		[ $# -ge 6 ] || die "usage: conmon.sh run DIR OWNSTAT CPU LOG_SPEC STATS -- ARGS"
		shift
		run_one "$@"
	fi
	;;
*)
	die "usage: conmon.sh bundle|check|run ..."
	;;
esac

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 11: library defects seen through the real binary: a detached monitor that never
# compressed, passthrough that left the caller's stdout O_NONBLOCK, a rotation failure nobody
# heard of.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

record() { printf '2026-11-27T09:43:42.000000000Z stdout F %s\n' "$1"; }

# A detached monitor takes over a log with leftover plain rotated files and rotates more
# while it runs: every rotated file but the newest ends up compressed. Before the fix the
# compressor thread started in the caller (before the fork), never ran in the monitor, and
# every file stayed plain.
detach_compresses() {
	local d=$ROOT/D n
	mkdir -p "$d"
	for n in 1 2 3; do record "left-over $n" >"$d/ctr.log.$n"; done
	"$CTRLOG" run --detach --root "$ROOT" --id D --log-max-size 4k --log-max-files 100 \
		--log-compress zstd:1 -- sh -c 'i=0; while [ $i -lt 200 ]; do
			echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			i=$((i+1)); done' >/dev/null 2>"$T/err" </dev/null
	wait_for 20 test -e "$d/exit" || fail "exit file never appeared: $(ls "$d")"
	[ ! -s "$T/err" ] || fail "stderr: $(head -c 300 "$T/err")"
	local newest plain
	newest=$(ls "$d" | sed -nE 's/^ctr\.log\.([0-9]+)(\.zst)?$/\1/p' | sort -n | tail -n 1)
	[ "$newest" -ge 6 ] || fail "only $newest rotated files: $(ls "$d")"
	plain=$(ls "$d" | grep -E '^ctr\.log\.[0-9]+$' | grep -vx "ctr.log.$newest" || true)
	[ -z "$plain" ] || fail "left plain: $(echo $plain)"
	[ -e "$d/ctr.log.$newest" ] || fail "the newest rotated file is not plain"
	for n in $(seq 1 $((newest - 1))); do
		zstd -q -t "$d/ctr.log.$n.zst" || fail "ctr.log.$n.zst is not valid zstd"
	done
	[ "$(zstd -q -dc "$d/ctr.log.1.zst")" = "$(record 'left-over 1')" ] ||
		fail "ctr.log.1.zst does not hold the left-over record"
}

# fdinfo_nonblock PID FD : "yes" when the file description behind PID's fd FD is O_NONBLOCK
fdinfo_nonblock() {
	local flags
	flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$1/fdinfo/$2")
	if (( 8#$flags & 8#4000 )); then echo yes; else echo no; fi
}

# The caller's stdout is a pipe it shares with another process (here a `sleep` holding the
# same file description, as a shell and its pipeline do). Non-blocking passthrough must not
# leave O_NONBLOCK on it; before the fix it stayed set after ctrlog had exited.
passthrough_leaves_caller_fd() {
	local holder
	mkfifo "$T/fifo"
	cat "$T/fifo" >"$T/passed" &
	exec 3>"$T/fifo"
	sleep 60 >&3 &
	holder=$!
	track_pid "$holder"
	assert_eq no "$(fdinfo_nonblock "$holder" 1)" "O_NONBLOCK before ctrlog ran"
	RC=0
	"$CTRLOG" run --root "$ROOT" --id P --log-driver passthrough --log-mode non-blocking \
		-- sh -c 'echo hi; echo err >&2' >&3 2>&3 </dev/null || RC=$?
	assert_eq 0 "$RC" "exit status"
	assert_eq no "$(fdinfo_nonblock "$holder" 1)" "O_NONBLOCK after ctrlog ran"
	kill "$holder"
	exec 3>&-
	wait_for test -s "$T/passed" || fail "nothing came through"
	wait_for eval '[ "$(sort "$T/passed" | tr "\n" " ")" = "err hi " ]' ||
		fail "passed through: '$(cat "$T/passed")'"
}

# A rotation that fails (the next rotated name is taken by a directory: EISDIR) is reported
# once on stderr however many records retry it, and counted in --stats. Before the fix it
# was neither.
rotation_failure_reported() {
	local d=$ROOT/R pid
	mkfifo "$T/go"
	RC=0
	"$CTRLOG" run --root "$ROOT" --id R --log-max-size 2k --log-compress none --stats \
		-- sh -c 'read x <"$0"; i=0; while [ $i -lt 100 ]; do
			echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			i=$((i+1)); done' "$T/go" >"$T/out" 2>"$T/err" </dev/null &
	pid=$!
	wait_for test -e "$d/ctr.log" || fail "no live file"
	mkdir -p "$d/ctr.log.1/in-the-way"
	echo go >"$T/go"
	wait "$pid" || RC=$?
	assert_eq 0 "$RC" "exit status"
	assert_eq 1 "$(grep -c "^ctrlog: run: rotating '$d/ctr.log' failed: Is a directory" "$T/err")" \
		"rotation failure lines on stderr ($(cat "$T/err"))"
	grep -qx 'rotation_errors=1' "$T/err" || fail "--stats: $(grep errors "$T/err")"
	grep -qx 'rotations=0' "$T/err" || fail "--stats: $(grep rotations "$T/err")"
	# the limit holds while rotation fails (issue 12.3): what does not fit is dropped, counted
	[ "$(stat -c %s "$d/ctr.log")" -le 2048 ] || fail "the live file grew past 2k: $(stat -c %s "$d/ctr.log")"
	grep -Eqx 'dropped_bytes=[1-9][0-9]*' "$T/err" || fail "--stats: $(grep dropped "$T/err")"
}

check "--detach taking over plain rotated files: all but the newest are compressed" detach_compresses
check "non-blocking passthrough leaves the caller's pipe blocking" passthrough_leaves_caller_fd
check "a failed rotation: one line on stderr, counted in --stats" rotation_failure_reported
finish

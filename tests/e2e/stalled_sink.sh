#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 12.11: in blocking mode a stalled sink (a passthrough reader that stopped reading, a
# frozen journald) holds the container back, never the monitor: SIGTERM reaches the command at
# once, SIGUSR1 still rotates, and after the stop the final drain gives up on the sink within a
# bound, says what it dropped, and writes the exit file.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/stalled_sink.sh (the journald check needs root)
set -euo pipefail
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/journald-env.sh"
# The journald check runs in a private mount namespace with its own journald; without root
# only the passthrough checks run.
if [[ -z ${CTRLOG_JOURNALD_NS:-} && $(id -u) -eq 0 && -x $JOURNALD ]] &&
	unshare -m --propagation private true 2>/dev/null; then
	journald_reexec "$0" "$@"
fi
. "$E2E/lib.sh"
trap 'set +e; [ -z "${JOURNALD_PID:-}" ] || kill -CONT "$JOURNALD_PID"; journald_reap_all "$T"; _e2e_cleanup' EXIT

# Writes far more than any pipe holds, so it waits on its stdout; on SIGTERM it notes the time
# in $0, ends its writer and exits 7.
PRODUCER='trap '\''touch "$0"; kill $! 2>/dev/null; exit 7'\'' TERM
yes | head -c 50000000 &
wait'

stat_of() { sed -n "s/^$1=//p" "$T/err"; }

# start_stalled ID RUN-OPTIONS... : the monitor in the background (MON), stdout to $OUT, and
# once the command is held back by the sink that does not take its output
start_stalled() {
	local id=$1
	shift
	"$CTRLOG" run --root "$ROOT" --id "$id" --stats "$@" -- sh -c "$PRODUCER" "$T/term.$id" \
		>"$OUT" 2>"$T/err" </dev/null &
	MON=$!
	track_pid "$MON"
	sleep 1
	assert_not_spinning "$MON" "the monitor, with its sink stalled"
	[ ! -e "$ROOT/$id/exit" ] || fail "the container finished although its output was not taken"
}

# stop_and_check ID : SIGTERM to the monitor reaches the command within seconds; the monitor
# exits with the command's status after a bounded drain, says what it dropped, and writes the
# exit file
stop_and_check() {
	local id=$1 rc=0
	kill -TERM "$MON"
	wait_for 3 test -e "$T/term.$id" || fail "SIGTERM did not reach the command within 3 s"
	# the final drain waits 5 s for the stalled sink, then gives up
	wait_for 15 eval '! kill -0 '"$MON"' 2>/dev/null' || fail "the monitor did not exit within 15 s of SIGTERM"
	wait "$MON" || rc=$?
	assert_eq 7 "$rc" "the monitor's exit status (the command's)"
	assert_eq 7 "$(cat "$ROOT/$id/exit" 2>/dev/null)" "the exit file"
	grep -E '^ctrlog: run: the log output still stalled after the stop request: stopped waiting for it, [0-9]+ bytes dropped$' \
		"$T/err" >/dev/null || fail "no line about giving up: $(grep -v = "$T/err" | head -c 400)"
	[ "$(stat_of dropped_bytes)" -gt 0 ] || fail "nothing counted as dropped"
}

passthrough_fifo() {
	local fifo=$T/fifo
	mkfifo "$fifo"
	exec 7<>"$fifo" # held open, never read
	OUT=$fifo
	start_stalled pt --log-driver passthrough
	stop_and_check pt
	exec 7>&-
}

# With k8s-file the raw bytes are kept by the passthrough sink, not spliced; SIGUSR1 rotates
# (ctr.log.1, compressed or not; no rotation happens otherwise).
passthrough_fifo_with_k8s() {
	local fifo=$T/fifo2
	mkfifo "$fifo"
	exec 7<>"$fifo"
	OUT=$fifo
	start_stalled ptk --log-driver passthrough --log-driver k8s-file --log-max-size 0
	[ -z "$(ls "$ROOT/ptk" | grep '^ctr\.log\.1')" ] || fail "rotated although --log-max-size 0"
	kill -USR1 "$MON"
	wait_for 3 eval 'ls "$ROOT/ptk" | grep -c "^ctr\.log\.1" >/dev/null' ||
		fail "SIGUSR1 did not rotate while the sink stalled"
	stop_and_check ptk
	exec 7>&-
}

journald_frozen() {
	trap 'set +e; [ -z "${JOURNALD_PID:-}" ] || kill -CONT "$JOURNALD_PID"; journald_kill' EXIT
	journald_start "$T" || fail "cannot start systemd-journald"
	kill -STOP "$JOURNALD_PID"
	OUT=/dev/null
	start_stalled jd --log-driver journald
	stop_and_check jd
	kill -CONT "$JOURNALD_PID"
}

check "passthrough to a FIFO nobody reads: SIGTERM forwarded, bounded drain, exit file" passthrough_fifo
check "passthrough and k8s-file, FIFO nobody reads: SIGUSR1 rotates, SIGTERM forwarded" passthrough_fifo_with_k8s
if [[ -n ${CTRLOG_JOURNALD_NS:-} ]]; then
	check "journald frozen: SIGTERM forwarded, bounded drain, exit file" journald_frozen
else
	echo "# SKIP: journald frozen (needs root and a private mount namespace)"
fi
finish

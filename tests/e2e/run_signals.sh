#!/usr/bin/env bash
# End-to-end: SIGTERM and SIGINT sent to `ctrlog run` are forwarded to the command.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/run_signals.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A non-interactive shell starts `cmd &` with SIGINT and SIGQUIT ignored. To
# model a monitor started normally (by systemd, a runtime, a terminal), reset
# SIGINT to its default before exec'ing ctrlog.
# (exec: so that $! of `with_default_sigint ... &` is ctrlog's PID)
with_default_sigint() { exec perl -e '$SIG{INT} = "DEFAULT"; exec { $ARGV[0] } @ARGV or die "exec: $!\n"' "$@"; }

# start_bg ID CMD... : start `ctrlog run --root $ROOT --id ID -- CMD...` in
# the background with default SIGINT; sets PID
start_bg() {
	local id=$1
	shift
	with_default_sigint "$CTRLOG" run --root "$ROOT" --id "$id" -- "$@" \
		>"$T/out.$id" 2>"$T/err.$id" </dev/null &
	PID=$!
	track_pid "$PID"
}

# wait_rc PID : wait (bounded) for our child PID; sets RC
wait_rc() {
	local pid=$1
	wait_for eval "! pid_alive $pid" || fail "ctrlog $pid did not exit"
	RC=0
	wait "$pid" || RC=$?
}

# logged ID LINE : the log of ID has a record whose content is exactly LINE
logged() { [ -f "$ROOT/$1/ctr.log" ] && cut -c41- "$ROOT/$1/ctr.log" | grep -cxF -- "$2" >/dev/null; }

TRAPPER='trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done'

sigterm_forwarded() {
	start_bg term sh -c "$TRAPPER"
	wait_for logged term ready || fail "the command never logged 'ready'"
	kill -TERM "$PID"
	wait_rc "$PID"
	assert_eq 7 "$RC" "ctrlog exit status"
	cut -c41- "$ROOT/term/ctr.log" | grep -cx got-term >/dev/null || fail "log lacks got-term"
	printf '7\n' | cmp -s - "$ROOT/term/exit" || fail "exit file does not hold 7"
}

sigterm_untrapped() {
	start_bg term2 sh -c 'echo ready; exec sleep 30'
	wait_for logged term2 ready || fail "the command never logged 'ready'"
	kill -TERM "$PID"
	wait_rc "$PID"
	assert_eq 143 "$RC" "ctrlog exit status"
	printf '143\n' | cmp -s - "$ROOT/term2/exit" || fail "exit file does not hold 143"
}

sigint_forwarded() {
	start_bg int sh -c 'echo ready; exec sleep 30'
	wait_for logged int ready || fail "the command never logged 'ready'"
	kill -INT "$PID"
	wait_rc "$PID"
	assert_eq 130 "$RC" "ctrlog exit status"
	printf '130\n' | cmp -s - "$ROOT/int/exit" || fail "exit file does not hold 130"
}

sigint_trapped() {
	start_bg int2 sh -c 'trap "echo got-int; exit 9" INT; echo ready; while :; do sleep 0.05; done'
	wait_for logged int2 ready || fail "the command never logged 'ready'"
	kill -INT "$PID"
	wait_rc "$PID"
	assert_eq 9 "$RC" "ctrlog exit status"
	cut -c41- "$ROOT/int2/ctr.log" | grep -cx got-int >/dev/null || fail "log lacks got-int"
}

sigint_when_started_in_background() {
	# plain `&` from a script: ctrlog inherits SIGINT ignored. It installs its
	# own handling, so a SIGINT sent to it must still reach the command.
	"$CTRLOG" run --root "$ROOT" --id int3 -- sh -c 'echo ready; exec sleep 30' \
		>"$T/out.int3" 2>"$T/err.int3" </dev/null &
	PID=$!
	track_pid "$PID"
	wait_for logged int3 ready || fail "the command never logged 'ready'"
	kill -INT "$PID"
	if ! wait_for 5 eval "! pid_alive $PID"; then
		local mpid=$PID
		kill -TERM "$mpid" 2>/dev/null || true
		wait_rc "$mpid"
		fail "SIGINT was not forwarded (ctrlog started with SIGINT ignored); stopped it with SIGTERM -> $RC"
	fi
	wait_rc "$PID"
	assert_eq 130 "$RC" "ctrlog exit status"
}

sigchld_ignored_at_start() {
	# started by a parent that set SIGCHLD to SIG_IGN (inherited across exec):
	# ctrlog must still see its child exit and report its status
	exec_with_sigchld_ignored() { exec perl -e '$SIG{CHLD} = "IGNORE"; exec { $ARGV[0] } @ARGV or die "exec: $!\n"' "$@"; }
	exec_with_sigchld_ignored "$CTRLOG" run --root "$ROOT" --id chld -- sh -c 'echo hi; exit 3' \
		>"$T/out.chld" 2>"$T/err.chld" </dev/null &
	PID=$!
	track_pid "$PID"
	if ! wait_for 5 eval "! pid_alive $PID"; then
		kill -KILL "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
		fail "ctrlog started with SIGCHLD ignored never returned after its command exited (killed it)"
	fi
	RC=0
	wait "$PID" || RC=$?
	assert_eq 3 "$RC" "ctrlog exit status"
	printf '3\n' | cmp -s - "$ROOT/chld/exit" || fail "exit file does not hold 3"
}

check "SIGTERM to ctrlog is forwarded: trapping command exits 7, log has got-term" sigterm_forwarded
check "SIGTERM to ctrlog, command does not trap it -> 143" sigterm_untrapped
check "SIGINT to ctrlog, command does not trap it (sleep 30) -> 130" sigint_forwarded
check "SIGINT to ctrlog, trapping command exits 9, log has got-int" sigint_trapped
check "SIGINT forwarded even when ctrlog was started with SIGINT ignored (cmd &)" sigint_when_started_in_background
check "started with SIGCHLD ignored: still returns the command's status (3)" sigchld_ignored_at_start
finish

#!/usr/bin/env bash
# End-to-end: `ctrlog follow` across rotation and compression (issue 6).
# Guards: every line exactly once while the writer rotates hundreds of times at full speed;
# a follower stopped (SIGSTOP) through many rotations still catches up exactly; a follower whose
# files retention removed says how much was lost, on one line, and goes on; follow returns by
# itself (status 0) once the container has exited and its log is drained.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/logs_follow.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# start_ctr ID RUN-ARGS... -- CMD... : starts `ctrlog run` in the background; returns once its
# config exists (so that follow can find it).
start_ctr() {
	local id=$1
	shift
	"$CTRLOG" run --root "$ROOT" --id "$id" "$@" >"$T/$id.run.out" 2>"$T/$id.run.err" </dev/null &
	track_pid $!
	wait_for 10 test -f "$ROOT/$id/config" || fail "container $id did not start"
}

# follow_bg ID OUT ERR : starts `ctrlog follow` in the background; its PID in $FPID.
follow_bg() {
	"$CTRLOG" follow --root "$ROOT" "$1" >"$2" 2>"$3" </dev/null &
	FPID=$!
	track_pid "$FPID"
}

# wait_exit PID SECS : waits for a background process to end by itself; its status in $FRC.
wait_exit() {
	local pid=$1 secs=$2
	wait_for "$secs" eval '! kill -0 '"$pid"' 2>/dev/null' || fail "follow did not exit by itself"
	FRC=0
	wait "$pid" || FRC=$?
}

rotations() { cat "$ROOT/$1/.ctr.log.last-rotation" 2>/dev/null || echo 0; }

follow_full_speed() {
	# ~95 MB of records through a 256 KiB live file: ~370 rotations, compressed as they go.
	start_ctr fast --log-max-size 256k --log-max-files 2000 -- sh -c 'sleep 0.5; seq 1 2000000'
	follow_bg fast "$T/out" "$T/err"
	wait_exit "$FPID" 120
	assert_eq 0 "$FRC" "follow status"
	local rot
	rot=$(rotations fast)
	[ "$rot" -ge 200 ] || fail "only $rot rotations: the test needs hundreds"
	ls "$ROOT/fast" | grep -c '\.zst$' >/dev/null || fail "no compressed file: compression did not run"
	seq 1 2000000 >"$T/expect"
	cmp -s "$T/expect" "$T/out" || fail "output differs from 1..2000000 ($(wc -l <"$T/out") lines, first difference: $(cmp "$T/expect" "$T/out" 2>&1 | head -c 200))"
	[ ! -s "$T/err" ] || fail "unexpected stderr: $(head -c 300 "$T/err")"
	echo "$rot rotations"
}

follow_stopped() {
	# Bursts of 10000 lines (~2 rotations each) every 50 ms, for about 5 s.
	start_ctr slow --log-max-size 256k --log-max-files 100 -- sh -c \
		'sleep 0.3; i=0; while [ $i -lt 100 ]; do seq $((i*10000+1)) $((i*10000+10000)); i=$((i+1)); sleep 0.05; done'
	follow_bg slow "$T/out" "$T/err"
	wait_for 10 test -s "$T/out" || fail "follow printed nothing"
	kill -STOP "$FPID"
	local before after
	before=$(rotations slow)
	wait_for 20 eval '[ $(rotations slow) -ge $((before + 8)) ]' || { kill -CONT "$FPID"; fail "the writer did not rotate 8 times"; }
	# Make sure compression ran on files the follower has not read yet.
	wait_for 20 eval 'ls "$ROOT/slow" | grep -c "\.zst$" >/dev/null' || true
	after=$(rotations slow)
	kill -CONT "$FPID"
	wait_exit "$FPID" 120
	assert_eq 0 "$FRC" "follow status"
	seq 1 1000000 >"$T/expect"
	cmp -s "$T/expect" "$T/out" || fail "output differs from 1..1000000 ($(wc -l <"$T/out") lines)"
	[ ! -s "$T/err" ] || fail "unexpected stderr: $(head -c 300 "$T/err")"
	echo "stopped through rotations $before..$after"
}

follow_lost_history() {
	# Retention keeps 2 rotated files; the follower is stopped while ~40 rotations happen.
	start_ctr lossy --log-max-size 256k --log-max-files 2 -- sh -c \
		'sleep 0.3; seq 1 10000; sleep 1; seq 10001 1000000; sleep 1; seq 1000001 1000100'
	follow_bg lossy "$T/out" "$T/err"
	wait_for 10 eval '[ $(wc -l <"$T/out") -ge 10000 ]' || fail "follow did not catch up with the first part"
	kill -STOP "$FPID"
	# Resume once the second part is all written (the third comes a second later), so that
	# the follower, even a slow one, falls behind retention exactly once.
	wait_for 30 eval 'grep -q " 1000000\$" "$ROOT/lossy/ctr.log" 2>/dev/null' || { kill -CONT "$FPID"; fail "part 2 not written"; }
	[ "$(rotations lossy)" -ge 30 ] || { kill -CONT "$FPID"; fail "too few rotations"; }
	kill -CONT "$FPID"
	wait_exit "$FPID" 60
	assert_eq 0 "$FRC" "follow status"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines ($(head -n 3 "$T/err"))"
	assert_match 'history lost: rotated files? [0-9]+' "$(cat "$T/err")" "loss report"
	# What was printed is increasing (no duplicate, no disorder), starts at 1, ends with the
	# last line written.
	awk 'NR == 1 && $0 != 1 { print "starts at " $0; exit 1 }
	     NR > 1 && $0 <= prev { print "not increasing at line " NR ": " prev " then " $0; exit 1 }
	     { prev = $0 }' "$T/out" || fail "output is not an increasing sequence"
	assert_eq 1000100 "$(tail -n 1 "$T/out")" "last line"
	echo "lost: $(cat "$T/err")"
}

follow_waits_for_exit() {
	# A container that writes, pauses, and writes again: follow must not stop in the pause.
	start_ctr pause -- sh -c 'echo one; sleep 1.5; echo two >&2; echo three'
	follow_bg pause "$T/out" "$T/err"
	wait_exit "$FPID" 20
	assert_eq 0 "$FRC" "follow status"
	assert_eq "one
three" "$(cat "$T/out")" "stdout"
	assert_eq "two" "$(cat "$T/err")" "stderr"
}

check "follow at full speed through hundreds of rotations: exact, exits by itself" follow_full_speed
check "follow SIGSTOPped through >= 5 rotations, then resumed: exact" follow_stopped
check "follow behind retention: one loss line, then continues" follow_lost_history
check "follow waits through a quiet container until exit" follow_waits_for_exit
finish

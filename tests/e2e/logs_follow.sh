#!/usr/bin/env bash
# End-to-end: `ctrlog follow` across rotation and compression (issue 6).
# Guards: every line exactly once while the writer rotates hundreds of times at full speed;
# a follower stopped (SIGSTOP) through many rotations still catches up exactly; a follower whose
# files retention removed says how much was lost, on one line, and goes on (issue 11: stopped
# while holding the live file, or at a file boundary, with and without compression; the file it
# held is read to its end, the loss line names exactly the files missing from its output, and
# the rest is a contiguous run of whole lines); follow returns by itself (status 0) once the
# container has exited and its log is drained.
#
# Stops and resumes are driven by what is on disk, not by time: the container waits for a
# go-file between its parts, the follower is stopped once its output shows it has caught up
# (it flushes before it waits), and resumed once the files in question are there or gone.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/logs_follow.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

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

# wait_go ID: a shell loop for the container script that waits for `go ID` (the file $T/ID.go).
wait_go() { echo "until [ -e '$T/$1.go' ]; do sleep 0.02; done; rm '$T/$1.go'"; }
go() { touch "$T/$1.go"; wait_for 20 eval '[ ! -e "$T/$1.go" ]' || fail "container $1 did not go on"; }

# caught_up OUT LINE: the follower's output ends with LINE (it flushes only before it waits, so
# it has read everything written and is idle).
caught_up() { [ "$(tail -n 1 "$1")" = "$2" ]; }

# rotated_gone ID N: rotated file N of ID's log is gone, plain and compressed.
rotated_gone() { [ ! -e "$ROOT/$1/ctr.log.$2" ] && [ ! -e "$ROOT/$1/ctr.log.$2.zst" ]; }

# held_file PID ID: /proc/PID/fd/<fd> for the file of ID's log the follower reads (live,
# rotated or already deleted).
held_file() {
	local f
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in */"$2"/ctr.log*) echo "$f"; return 0 ;; esac
	done
	return 1
}

# first_line ID N: the content of the first line of rotated file N.
first_line() {
	local f=$ROOT/$1/ctr.log.$2
	if [ -e "$f" ]; then sed -n 1p "$f"; else zstd -dcq "$f.zst" | sed -n 1p; fi | cut -c41-
}

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
	# Part 1 fits in live file 1. Part 2: 40 bursts of 10000 lines (~2 rotations each) every
	# 50 ms, ~70 rotations, fewer than retention keeps: whenever the follower resumes, nothing
	# is lost.
	start_ctr slow --log-max-size 256k --log-max-files 100 -- sh -c "
		seq 1 3000; $(wait_go slow)
		i=0; while [ \$i -lt 40 ]; do seq \$((i*10000+3001)) \$((i*10000+13000)); i=\$((i+1)); sleep 0.05; done"
	follow_bg slow "$T/out" "$T/err"
	wait_for 20 caught_up "$T/out" 3000 || fail "follow did not catch up with part 1"
	kill -STOP "$FPID"
	local before after held
	before=$(rotations slow)
	held=$((before + 1))
	go slow
	wait_for 20 eval '[ $(rotations slow) -ge $((before + 8)) ]' || { kill -CONT "$FPID"; fail "the writer did not rotate 8 times"; }
	# The follower will have to read a compressed file: the one after the live file it holds.
	wait_for 20 test -e "$ROOT/slow/ctr.log.$((held + 1)).zst" ||
		{ kill -CONT "$FPID"; fail "file $((held + 1)) was not compressed while the follower was stopped ($(ls "$ROOT/slow" | tr '\n' ' '))"; }
	after=$(rotations slow)
	kill -CONT "$FPID"
	wait_exit "$FPID" 120
	assert_eq 0 "$FRC" "follow status"
	seq 1 403000 >"$T/expect"
	cmp -s "$T/expect" "$T/out" || fail "output differs from 1..403000 ($(wc -l <"$T/out") lines)"
	[ ! -s "$T/err" ] || fail "unexpected stderr: $(head -c 300 "$T/err")"
	echo "stopped through rotations $before..$after"
}

# check_contiguous OUT LAST: OUT holds whole lines 1..LAST in order, each once, with exactly one
# jump; prints "A B" for the jump from A to B.
check_contiguous() {
	[ -z "$(tail -c 1 "$1")" ] || { echo "it ends in a torn line: $(tail -c 40 "$1")"; return 1; }
	awk -v last="$2" '
		!/^[0-9]+$/ { print "line " NR " is not a whole number: " $0; bad = 1; exit }
		NR == 1 && $0 != 1 { print "starts at " $0; bad = 1; exit }
		NR > 1 && $0 <= prev { print "not increasing at line " NR ": " prev " then " $0; bad = 1; exit }
		NR > 1 && $0 != prev + 1 { jumps++; from = prev; to = $0 }
		{ prev = $0 }
		END {
			if (bad) exit 1
			if (jumps != 1) { print jumps + 0 " jumps instead of one"; exit 1 }
			if (prev != last) { print "ends at " prev ", not " last; exit 1 }
			print from, to
		}' "$1"
}

# behind_retention ID HOW COMPRESS: the follower is stopped after part 1, idle, holding
#   live:  live file 1, which part 2 then fills, and rotation and retention remove;
#   end:   live file 1 read to its end, which is rotated right after the stop (a boundary);
#   start: live file 2, new and empty: file 1 was rotated before the stop (a boundary);
# and resumed once retention has removed the file it holds and the one after it, and part 2 is
# written.
behind_retention() {
	local id=$1 how=$2 compress=$3 held fd held_last newest jump first_lost last_lost
	# Part 2: ~35 rotations; retention keeps 2 files. Part 3: a few lines, no rotation.
	start_ctr "$id" --log-max-size 256k --log-max-files 2 --log-compress "$compress" -- sh -c "
		seq 1 3000; $(wait_go "$id"); seq 3001 200000; $(wait_go "$id"); seq 200001 200100"
	follow_bg "$id" "$T/$id.out" "$T/$id.err"
	wait_for 20 caught_up "$T/$id.out" 3000 || fail "follow did not catch up with part 1"
	held=1
	if [ "$how" = start ]; then
		"$CTRLOG" rotate --root "$ROOT" "$id"
		wait_for 20 eval '[ $(rotations "$id") -eq 1 ]' || fail "no rotation"
		held=2
		# It has moved on when its fd names the live file again, not ctr.log.1.
		wait_for 20 eval 'case $(readlink "$(held_file "$FPID" "$id")") in */ctr.log) true ;; *) false ;; esac' ||
			fail "follow did not move on to the new live file"
	fi
	kill -STOP "$FPID"
	fd=$(held_file "$FPID" "$id") || { kill -CONT "$FPID"; fail "the follower holds no file of the log"; }
	if [ "$how" = end ]; then
		"$CTRLOG" rotate --root "$ROOT" "$id"
		wait_for 20 eval '[ $(rotations "$id") -eq 1 ]' || { kill -CONT "$FPID"; fail "no rotation"; }
	fi
	go "$id"
	wait_for 30 eval 'rotated_gone "$id" $held && rotated_gone "$id" $((held + 1)) &&
		grep -c " 200000\$" "$ROOT/$id/ctr.log" >/dev/null 2>&1' ||
		{ kill -CONT "$FPID"; fail "retention did not remove files $held and $((held + 1)), or part 2 was not written"; }
	newest=$(rotations "$id")
	if [ "$compress" = none ]; then
		! ls "$ROOT/$id" | grep -c '\.zst' >/dev/null || { kill -CONT "$FPID"; fail "compressed files with --log-compress none"; }
	else
		# After the gap the follower reads a compressed file.
		wait_for 20 test -e "$ROOT/$id/ctr.log.$((newest - 1)).zst" ||
			{ kill -CONT "$FPID"; fail "file $((newest - 1)) was never compressed"; }
	fi
	# The deleted file it holds: its last line is the last one before the jump.
	held_last=$(tail -n 1 "$fd" | cut -c41-)
	kill -CONT "$FPID"
	go "$id"
	wait_exit "$FPID" 60
	assert_eq 0 "$FRC" "follow status"
	wait "$RPID" || fail "ctrlog run failed"
	assert_eq 1 "$(wc -l <"$T/$id.err")" "stderr lines ($(head -n 3 "$T/$id.err"))"
	local re='^ctrlog: follow: history lost: rotated (file ([0-9]+) was|files ([0-9]+) to ([0-9]+) \([0-9]+ files\) were) removed by retention before'
	[[ $(cat "$T/$id.err") =~ $re ]] || fail "loss report: $(cat "$T/$id.err")"
	first_lost=${BASH_REMATCH[2]}${BASH_REMATCH[3]}
	last_lost=${BASH_REMATCH[2]}${BASH_REMATCH[4]}
	jump=$(check_contiguous "$T/$id.out" 200100) || fail "output: $jump"
	# The held file was read to its end...
	assert_eq "$held_last" "${jump% *}" "last line before the gap (the end of file $held)"
	# ...and the loss line names exactly the files that are missing.
	assert_eq $((held + 1)) "$first_lost" "first lost file"
	assert_eq "$(first_line "$id" $((last_lost + 1)))" "${jump#* }" "first line after the gap (file $((last_lost + 1)))"
	echo "held $held, $(cat "$T/$id.err"), output jumps from $jump"
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
check "follow stopped holding the live file, behind retention: one exact loss line (zstd)" behind_retention live-zst live zstd
check "follow stopped holding the live file, behind retention: one exact loss line (no compression)" behind_retention live-plain live none
check "follow stopped at the end of a file, behind retention: one exact loss line (zstd)" behind_retention end-zst end zstd
check "follow stopped at the start of a file, behind retention: one exact loss line (no compression)" behind_retention start-plain start none
check "follow waits through a quiet container until exit" follow_waits_for_exit
finish

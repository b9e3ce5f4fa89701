#!/usr/bin/env bash
# End-to-end: the reader when the file set is not what ctrlog left (issue 12).
# Guards: `follow` stays complete through every way an external rotator works (mv + SIGHUP,
# mv alone, copytruncate: said on stderr, status 1) (2); `logs` derives the file set from the
# directory, so a missing or stale .ctr.log.last-rotation hides nothing (7); a rotated file that
# cannot be opened is named on stderr, skipped, and makes the status 1, with and without --tail,
# and `--tail N` prints exactly N lines while the writer rotates (9); a FIFO in place of a rotated
# file, the live file or the rotation record never hangs `logs` (10); a missing live file of an
# exited container, and a relative log path stored in an old config, are errors naming the
# path (13).
#
# The follow checks are driven by what is on disk: the container waits for a go-file between
# its parts, and the rotator acts once the follower's output shows it has caught up.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/reader_failures.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# stop_ctr ID : SIGTERM to its monitor (forwarded to the command), then waits for its exit.
stop_ctr() {
	kill -TERM "$(cat "$ROOT/$1/monitor.pid")" 2>/dev/null || true
	wait_for 20 test -f "$ROOT/$1/exit" || echo "# container $1 did not exit on SIGTERM"
}

# follow_bg ID OUT ERR : `ctrlog follow` in the background; its PID in $FPID.
follow_bg() {
	"$CTRLOG" follow --root "$ROOT" "$1" >"$2" 2>"$3" </dev/null &
	FPID=$!
	track_pid "$FPID"
}

# wait_exit PID SECS : waits for a background process to end by itself; its status in $FRC.
wait_exit() {
	local pid=$1 secs=$2
	wait_for "$secs" eval '! kill -0 '"$pid"' 2>/dev/null' || fail "process $pid did not exit by itself"
	FRC=0
	wait "$pid" || FRC=$?
}

# wait_go NAME: a shell loop for the container script that waits for `go NAME`.
wait_go() { echo "until [ -e '$T/$1.go' ]; do sleep 0.02; done; rm '$T/$1.go'"; }
go() { touch "$T/$1.go"; wait_for 20 eval '[ ! -e "$T/$1.go" ]' || fail "container did not go on after $1"; }

caught_up() { [ "$(tail -n 1 "$1")" = "$2" ]; }
lines_in() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }

# run_done ID RUN-ARGS... -- CMD... : runs a container to its end.
run_done() {
	local id=$1
	shift
	run_ctrlog "$T/$id.run.out" "$T/$id.run.err" run --root "$ROOT" --id "$id" "$@"
	assert_eq 0 "$RC" "run status of $id"
}

# on_disk ID [SKIP-N] : the content of every line of ID's log as the files on disk hold it,
# rotated files in N order then the live file; rotated file SKIP-N left out.
on_disk() {
	local d=$ROOT/$1 skip=${2:-0} n
	for n in $(ls "$d" | sed -n 's/^ctr\.log\.\([0-9][0-9]*\)\(\.zst\)\{0,1\}$/\1/p' | sort -n -u); do
		[ "$n" = "$skip" ] && continue
		if [ -f "$d/ctr.log.$n" ]; then cat "$d/ctr.log.$n"; else zstd -dcq "$d/ctr.log.$n.zst"; fi
	done | cut -c41-
	[ ! -f "$d/ctr.log" ] || cut -c41- "$d/ctr.log"
}

rotations() { cat "$ROOT/$1/.ctr.log.last-rotation" 2>/dev/null || echo 0; }

# rotated_numbers ID : the N of every rotated file, ascending.
rotated_numbers() { ls "$ROOT/$1" | sed -n 's/^ctr\.log\.\([0-9][0-9]*\)\(\.zst\)\{0,1\}$/\1/p' | sort -n -u; }

# logs_cmp ID EXPECTED ARGS... : `ctrlog logs ARGS ID` (never allowed to hang) prints EXPECTED;
# its status in $RC, its stderr in $T/e.
logs_cmp() {
	local id=$1 expect=$2
	shift 2
	RC=0
	timeout 30 "$CTRLOG" logs --root "$ROOT" "$@" "$id" >"$T/o" 2>"$T/e" </dev/null || RC=$?
	[ "$RC" != 124 ] || fail "logs $* $id hung"
	cmp -s "$expect" "$T/o" ||
		fail "logs $* $id: output differs ($(wc -l <"$T/o") lines, expected $(wc -l <"$expect"); stderr: $(head -c 300 "$T/e"))"
}

# ---- 2: external rotators ----

follow_mv_hup() {
	# mv, a part written into the renamed file, SIGHUP, a part into the new live file.
	start_ctr hup -- sh -c "seq 1 100; $(wait_go hup1); seq 101 200; $(wait_go hup2); seq 201 300"
	follow_bg hup "$T/out" "$T/err"
	wait_for 20 caught_up "$T/out" 100 || fail "follow did not catch up with part 1"
	mv "$ROOT/hup/ctr.log" "$ROOT/hup/ctr.log.old"
	go hup1
	wait_for 20 lines_in "$ROOT/hup/ctr.log.old" 200 || fail "part 2 did not reach the renamed file"
	kill -HUP "$(cat "$ROOT/hup/monitor.pid")"
	wait_for 20 test -f "$ROOT/hup/ctr.log" || fail "the monitor did not reopen its live file"
	go hup2
	wait_exit "$FPID" 60
	seq 1 300 >"$T/expect"
	cmp -s "$T/expect" "$T/out" || fail "follow printed $(wc -l <"$T/out") of 300 lines (stderr: $(head -c 300 "$T/err"))"
	assert_eq 0 "$FRC" "follow status"
	[ ! -s "$T/err" ] || fail "unexpected stderr: $(head -c 300 "$T/err")"
}

follow_mv_only() {
	# mv to a name outside the set, no SIGHUP: the monitor goes on writing to the renamed file.
	start_ctr mvo -- sh -c "seq 1 100; $(wait_go mvo); seq 101 200"
	follow_bg mvo "$T/out" "$T/err"
	wait_for 20 caught_up "$T/out" 100 || fail "follow did not catch up with part 1"
	mv "$ROOT/mvo/ctr.log" "$ROOT/mvo/moved-away.log"
	go mvo
	wait_exit "$FPID" 60
	seq 1 200 >"$T/expect"
	cmp -s "$T/expect" "$T/out" || fail "follow printed $(wc -l <"$T/out") of 200 lines (stderr: $(head -c 300 "$T/err"))"
	assert_eq 0 "$FRC" "follow status"
	[ ! -s "$T/err" ] || fail "unexpected stderr: $(head -c 300 "$T/err")"
}

follow_copytruncate() {
	# cp + truncate: the follower has read everything before the truncation, so nothing is
	# missing, but it cannot know that: it says lines may be lost, and its status is 1.
	start_ctr ct -- sh -c "seq 1 100; $(wait_go ct); seq 101 200"
	follow_bg ct "$T/out" "$T/err"
	wait_for 20 caught_up "$T/out" 100 || fail "follow did not catch up with part 1"
	cp "$ROOT/ct/ctr.log" "$T/copy"
	truncate -s 0 "$ROOT/ct/ctr.log"
	go ct
	wait_exit "$FPID" 60
	seq 1 200 >"$T/expect"
	cmp -s "$T/expect" "$T/out" || fail "follow printed $(wc -l <"$T/out") lines, not 1..200 (stderr: $(head -c 300 "$T/err"))"
	assert_eq "ctrlog: follow: $ROOT/ct/ctr.log: the live log was truncated (copytruncate?): lines may be lost" \
		"$(cat "$T/err")" "stderr"
	assert_eq 1 "$FRC" "follow status"
}

# ---- 7: the rotation record is only a floor ----

logs_without_record() {
	# 2000 lines through 4 KiB files, 5 kept: the oldest are gone, so the files present do
	# not start at 1.
	run_done rec --log-max-size 4k --log-max-files 5 -- seq 1 2000
	local first
	first=$(rotated_numbers rec | head -n 1)
	[ "${first:-0}" -gt 1 ] || fail "retention removed nothing (oldest file ${first:-none})"
	on_disk rec >"$T/expect"
	[ "$(wc -l <"$T/expect")" -gt "$(wc -l <"$ROOT/rec/ctr.log")" ] || fail "no rotated lines to read"
	logs_cmp rec "$T/expect"
	assert_eq 0 "$RC" "status with the record"
	rm "$ROOT/rec/.ctr.log.last-rotation"
	logs_cmp rec "$T/expect"
	assert_eq 0 "$RC" "status without the record"
	logs_cmp rec "$T/expect" -n 100000
	echo 1 >"$ROOT/rec/.ctr.log.last-rotation"
	logs_cmp rec "$T/expect"
	assert_eq 0 "$RC" "status with a stale record"
	logs_cmp rec "$T/expect" -n 100000
	assert_eq 0 "$RC" "--tail status with a stale record"
	[ ! -s "$T/e" ] || fail "unexpected stderr: $(head -c 300 "$T/e")"
}

# ---- 9 and 10: files that cannot be opened; --tail exact ----

# replaced_by ID N KIND : replaces rotated file N by a dangling symlink, a directory or a FIFO.
replaced_by() {
	local d=$ROOT/$1 n=$2
	rm -rf "$d/ctr.log.$n" "$d/ctr.log.$n.zst"
	case $3 in
	symlink) ln -s "$T/nonexistent" "$d/ctr.log.$n" ;;
	directory) mkdir "$d/ctr.log.$n" ;;
	fifo) mkfifo "$d/ctr.log.$n" ;;
	esac
}

unopenable_rotated() {
	run_done bad --log-max-size 64k --log-max-files 100 -- seq 1 20000
	local n kind
	n=$(rotated_numbers bad | sed -n 3p)
	[ -n "$n" ] || fail "too few rotated files"
	on_disk bad "$n" >"$T/expect"
	for kind in symlink directory fifo; do
		replaced_by bad "$n" "$kind"
		for args in "" "-n 20000"; do
			# shellcheck disable=SC2086
			logs_cmp bad "$T/expect" $args
			assert_eq 1 "$RC" "status ($kind, logs $args)"
			assert_eq "ctrlog: logs: $ROOT/bad/ctr.log.$n: not a regular file, skipped" "$(cat "$T/e")" "stderr ($kind, logs $args)"
		done
	done
}

tail_exact_while_rotating() {
	# A writer rotating every few tens of milliseconds; retention keeps enough that
	# no file a reader positions in goes away under it.
	start_ctr busy --log-max-size 16k --log-max-files 1000 -- sh -c 'while :; do seq 1 300; sleep 0.01; done'
	# The container never ends by itself: stop it however this check ends.
	trap 'stop_ctr busy' EXIT
	wait_for 20 eval '[ "$(rotations busy)" -ge 3 ]' || fail "the writer did not rotate"
	local i before after count
	before=$(rotations busy)
	for i in $(seq 1 200); do
		RC=0
		timeout 30 "$CTRLOG" logs --root "$ROOT" -n 1 busy >"$T/o" 2>"$T/e" </dev/null || RC=$?
		assert_eq 0 "$RC" "status of logs -n 1 (run $i; stderr: $(head -c 200 "$T/e"))"
		count=$(wc -l <"$T/o")
		assert_eq 1 "$count" "lines printed by logs -n 1 (run $i)"
		[ ! -s "$T/e" ] || fail "unexpected stderr (run $i): $(head -c 300 "$T/e")"
	done
	after=$(rotations busy)
	[ $((after - before)) -ge 20 ] || fail "only $((after - before)) rotations during the reads"
	echo "$((after - before)) rotations during 200 reads"
	trap - EXIT
	stop_ctr busy
}

fifo_live_and_record() {
	run_done ff --log-max-size 4k --log-max-files 100 -- seq 1 500
	on_disk ff >"$T/all"
	# The rotation record a FIFO: it is not trusted, the files are.
	rm "$ROOT/ff/.ctr.log.last-rotation"
	mkfifo "$ROOT/ff/.ctr.log.last-rotation"
	logs_cmp ff "$T/all"
	assert_eq 0 "$RC" "status with a FIFO record"
	[ ! -s "$T/e" ] || fail "unexpected stderr: $(head -c 300 "$T/e")"
	# The live file a FIFO: the history is printed, the FIFO named.
	rm "$ROOT/ff/ctr.log"
	mkfifo "$ROOT/ff/ctr.log"
	on_disk ff >"$T/expect"
	logs_cmp ff "$T/expect"
	assert_eq 1 "$RC" "status with a FIFO live file"
	assert_eq "ctrlog: logs: $ROOT/ff/ctr.log: not a regular file, skipped" "$(cat "$T/e")" "stderr"
	tail -n 5 "$T/expect" >"$T/expect5"
	logs_cmp ff "$T/expect5" -n 5
	assert_eq 1 "$RC" "--tail status with a FIFO live file"
	assert_eq "ctrlog: logs: $ROOT/ff/ctr.log: not a regular file, skipped" "$(cat "$T/e")" "--tail stderr"
}

# ---- 13: a live file that is not there, a relative stored path ----

missing_live() {
	run_done nolive -- sh -c 'echo one'
	rm "$ROOT/nolive/ctr.log"
	: >"$T/empty"
	logs_cmp nolive "$T/empty"
	assert_eq 1 "$RC" "status without any file"
	assert_eq "ctrlog: logs: $ROOT/nolive/ctr.log: No such file or directory" "$(cat "$T/e")" "stderr"
	# With history: printed, then the error.
	run_done nolive2 --log-max-size 4k -- seq 1 500
	rm "$ROOT/nolive2/ctr.log"
	on_disk nolive2 >"$T/expect"
	[ -s "$T/expect" ] || fail "no history"
	logs_cmp nolive2 "$T/expect"
	assert_eq 1 "$RC" "status with history but no live file"
	assert_eq "ctrlog: logs: $ROOT/nolive2/ctr.log: No such file or directory" "$(cat "$T/e")" "stderr"
}

relative_stored_path() {
	run_done rel -- sh -c 'echo mine'
	# What an older ctrlog stored for --log-path app.log; and a file of that name where
	# `logs` runs, which is not this container's.
	sed -i 's|^LOG_PATH=.*|LOG_PATH=app.log|' "$ROOT/rel/config"
	grep -c '^LOG_PATH=app.log$' "$ROOT/rel/config" >/dev/null || fail "config has no LOG_PATH line"
	mkdir "$T/elsewhere"
	echo "2026-11-27T09:43:42.000000000Z stdout F not this container's" >"$T/elsewhere/app.log"
	RC=0
	(cd "$T/elsewhere" && "$CTRLOG" logs --root "$ROOT" rel) >"$T/o" 2>"$T/e" </dev/null || RC=$?
	assert_eq 1 "$RC" "status"
	[ ! -s "$T/o" ] || fail "printed another file: $(head -c 200 "$T/o")"
	assert_eq "ctrlog: logs: app.log: the log path stored in $ROOT/rel/config is relative, so it cannot be found" \
		"$(cat "$T/e")" "stderr"
}

check "follow: mv + SIGHUP loses nothing" follow_mv_hup
check "follow: mv without SIGHUP loses nothing" follow_mv_only
check "follow: copytruncate is said, status 1" follow_copytruncate
check "logs: a missing or stale rotation record hides no file" logs_without_record
check "logs: a rotated file that cannot be opened is named and skipped, status 1" unopenable_rotated
check "logs -n 1: exactly one line while the writer rotates" tail_exact_while_rotating
check "logs: a FIFO as live file or record never hangs" fifo_live_and_record
check "logs: a missing live file of an exited container is an error" missing_live
check "logs: a relative stored log path is refused" relative_stored_path
finish

#!/usr/bin/env bash
# End-to-end: `ctrlog run --detach` (double fork; the monitor lives on).
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/run_detach.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# 30 lines, one every 0.1 s: ~3 s in all
LOOP='i=0; while [ $i -lt 30 ]; do echo line $i; i=$((i+1)); sleep 0.1; done'

now_ms() { date +%s%3N; }
count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

detach_lifecycle() {
	local d=$ROOT/X t0 t1 id
	t0=$(now_ms)
	# $(...) also waits for every holder of ctrlog's stdout: the monitor must
	# not keep it open
	id=$("$CTRLOG" run --detach --root "$ROOT" --id X -- sh -c "$LOOP" 2>"$T/err" </dev/null)
	t1=$(now_ms)
	[ ! -e "$d/exit" ] || fail "exit file exists right after --detach returned (after $((t1 - t0)) ms)"
	assert_eq X "$id" "printed ID"
	[ ! -s "$T/err" ] || fail "stderr not empty: $(head -c 200 "$T/err")"
	echo "--detach returned after $((t1 - t0)) ms"
	[ $((t1 - t0)) -lt 2500 ] || fail "--detach took $((t1 - t0)) ms (the command runs ~3 s)"

	# the monitor: alive, not our child, its own session leader
	[ -f "$d/monitor.pid" ] || fail "no monitor.pid"
	local mpid ppid sid
	mpid=$(cat "$d/monitor.pid")
	assert_match '^[0-9]+$' "$mpid" "monitor.pid"
	pid_alive "$mpid" || fail "monitor $mpid not running while the command runs"
	ppid=$(ps -o ppid= -p "$mpid" | tr -d ' ')
	[ "$ppid" != "$BASHPID" ] && [ "$ppid" != "$$" ] || fail "monitor $mpid is the caller's child"
	sid=$(ps -o sid= -p "$mpid" | tr -d ' ')
	assert_eq "$mpid" "$sid" "session ID of the monitor (own session leader)"

	# the log keeps growing
	local n1 n2
	wait_for count_at_least 1 "$d/ctr.log" || fail "no record within the wait"
	n1=$(count "$d/ctr.log")
	wait_for count_at_least $((n1 + 1)) "$d/ctr.log" || fail "log stopped growing at $n1 records"
	n2=$(count "$d/ctr.log")
	echo "log grew from $n1 to $n2 records"
	[ "$n2" -lt 30 ] || fail "the log already holds $n2 records: did not observe it grow while running"

	# the end
	wait_for 20 test -e "$d/exit" || fail "exit file never appeared"
	printf '0\n' | cmp -s - "$d/exit" || fail "exit file: '$(od -An -c "$d/exit")', expected '0\\n'"
	assert_eq 30 "$(count "$d/ctr.log")" "records at the end"
	seq 0 29 | sed 's/^/line /' >"$T/expect"
	cut -c41- "$d/ctr.log" | cmp -s - "$T/expect" || fail "contents are not 'line 0'..'line 29'"
	grep -Evq -- "$REC_RE" "$d/ctr.log" && fail "a record does not match the k8s-file prefix"
	wait_for eval "! pid_alive $mpid" || fail "monitor $mpid still running after the exit file appeared"
}

count_at_least() { [ "$(count "$2")" -ge "$1" ]; }

detach_generated_id() {
	local id
	id=$("$CTRLOG" run --detach --root "$ROOT" -- true 2>"$T/err" </dev/null)
	assert_match '^[0-9a-f]{64}$' "$id" "generated ID"
	[ -d "$ROOT/$id" ] || fail "no directory $ROOT/$id"
	wait_for test -e "$ROOT/$id/exit" || fail "exit file never appeared"
	printf '0\n' | cmp -s - "$ROOT/$id/exit" || fail "exit file does not hold 0"
}

detach_missing_command() {
	RC=0
	"$CTRLOG" run --detach --root "$ROOT" --id Y -- /nonexistent/ctrlog-e2e-cmd \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_eq 127 "$RC" "exit status"
	[ -s "$T/err" ] || fail "nothing on stderr"
	grep -q 'ctrlog-e2e-cmd' "$T/err" || fail "stderr does not name the command: $(cat "$T/err")"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines"
	[ ! -s "$T/out" ] || fail "stdout not empty (the command never ran): $(cat "$T/out")"
}

check "--detach: returns at once with the ID, log grows, exit file 0, 30 lines, monitor detached and gone" detach_lifecycle
check "--detach without --id prints a generated 64-hex ID" detach_generated_id
check "--detach with a missing command: 127, error on stderr" detach_missing_command
finish

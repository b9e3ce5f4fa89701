#!/usr/bin/env bash
# End-to-end: `ctrlog run` in the foreground with the k8s-file driver.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/run_basic.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Every record of LOG matches the k8s-file prefix.
assert_all_records_match() {
	local log=$1 bad
	bad=$(grep -Evc -- "$REC_RE" "$log" || true)
	if [ "$bad" != 0 ]; then
		grep -Ev -- "$REC_RE" "$log" | head -n 3 | cut -c1-120
		fail "$bad record(s) of $log do not match the k8s-file prefix"
	fi
}

assert_no_partial() {
	local n
	n=$(awk '$3 == "P"' "$1" | wc -l)
	assert_eq 0 "$n" "number of P records"
}

# The exit file holds exactly "STATUS\n".
assert_exit_file() {
	local f=$1 status=$2
	[ -f "$f" ] || fail "$f does not exist"
	if ! printf '%s\n' "$status" | cmp -s - "$f"; then
		fail "$f: expected '$status\\n', got '$(od -An -c "$f" | tr -s ' ')'"
	fi
}

seq_100k() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id seq -- seq 1 100000
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/seq/ctr.log
	assert_eq 100000 "$(wc -l <"$log")" "record count"
	assert_all_records_match "$log"
	assert_no_partial "$log"
	assert_eq 0 "$(awk '$2 != "stdout"' "$log" | wc -l)" "non-stdout records"
	seq 1 100000 >"$T/expect"
	content_of "$log" | cmp -s - "$T/expect" || fail "contents are not exactly 1..100000 in order"
	[ ! -s "$T/out" ] || fail "ctrlog wrote to its stdout: $(head -c 200 "$T/out")"
}

sh_loop_100k() {
	# a shell loop: many small writes, mixing echo and printf
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id loop -- sh -c '
		i=1
		while [ $i -le 100000 ]; do
			echo $i
			i=$((i + 1))
			printf "%d\n" $i
			i=$((i + 1))
		done'
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/loop/ctr.log
	assert_eq 100000 "$(wc -l <"$log")" "record count"
	assert_all_records_match "$log"
	assert_no_partial "$log"
	seq 1 100000 >"$T/expect"
	content_of "$log" | cmp -s - "$T/expect" || fail "contents are not exactly 1..100000 in order"
}

streams_interleaved() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id mix -- sh -c '
		i=1
		while [ $i -le 2000 ]; do
			echo "out $i"
			echo "err $i" >&2
			i=$((i + 1))
		done'
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/mix/ctr.log
	assert_eq 4000 "$(wc -l <"$log")" "record count"
	assert_all_records_match "$log"
	assert_no_partial "$log"
	seq 1 2000 | sed 's/^/out /' >"$T/exp_out"
	seq 1 2000 | sed 's/^/err /' >"$T/exp_err"
	awk '$2 == "stdout"' "$log" | cut -c41- >"$T/got_out"
	awk '$2 == "stderr"' "$log" | cut -c41- >"$T/got_err"
	cmp -s "$T/exp_out" "$T/got_out" || fail "stdout records are not 'out 1'..'out 2000' in order"
	cmp -s "$T/exp_err" "$T/got_err" || fail "stderr records are not 'err 1'..'err 2000' in order"
	# fixed-width timestamps: string order is time order
	local s
	for s in stdout stderr; do
		awk -v s="$s" '$2 == s { if (prev != "" && $1 < prev) { print "record " NR ": " $1 " < " prev; bad = 1; exit } prev = $1 }
			END { exit bad }' "$log" || fail "$s timestamps decrease"
	done
}

exit_status_one() {
	local id=$1 want=$2
	shift 2
	run_ctrlog "$T/out.$id" "$T/err.$id" run --root "$ROOT" --id "$id" -- "$@"
	assert_eq "$want" "$RC" "exit status of '$*'"
	assert_exit_file "$ROOT/$id/exit" "$want"
}

exit_status_0() { exit_status_one st0 0 true; }
exit_status_3() { exit_status_one st3 3 sh -c 'exit 3'; }
exit_status_sigkill() { exit_status_one st137 137 sh -c 'kill -9 $$'; }
exit_status_sigterm() { exit_status_one st143 143 sh -c 'kill -TERM $$'; }

exit_after_last_record() {
	# foreground: when ctrlog returns, everything is in the log
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id fin -- seq 1 50000
	assert_eq 0 "$RC" "exit status"
	assert_eq 50000 "$(wc -l <"$ROOT/fin/ctr.log")" "records when ctrlog returned"
	assert_exit_file "$ROOT/fin/exit" 0
	# detached: the moment the exit file appears, every record is there
	# (the exit file is the "done" signal readers rely on)
	local id
	id=$("$CTRLOG" run --detach --root "$ROOT" --id fin2 -- sh -c 'sleep 0.2; seq 1 50000' 2>"$T/err2" </dev/null)
	assert_eq fin2 "$id" "printed ID"
	wait_for 20 test -e "$ROOT/fin2/exit" || fail "exit file never appeared"
	assert_eq 50000 "$(wc -l <"$ROOT/fin2/ctr.log")" "records when the exit file appeared"
	assert_exit_file "$ROOT/fin2/exit" 0
}

no_trailing_newline() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id nonl -- sh -c 'printf "first\nlast line"'
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/nonl/ctr.log
	assert_eq 2 "$(wc -l <"$log")" "record count"
	assert_all_records_match "$log"
	assert_eq "stdout F first" "$(sed -n 1p "$log" | cut -d' ' -f2-)" "record 1"
	assert_eq "stdout F last line" "$(sed -n 2p "$log" | cut -d' ' -f2-)" "record 2"
	[ "$(tail -c 1 "$log" | od -An -c | tr -d ' ')" = '\n' ] || fail "log does not end with a newline"
	# same on stderr
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id nonl2 -- sh -c 'printf "tail" >&2'
	assert_eq 0 "$RC" "exit status"
	assert_eq 1 "$(wc -l <"$ROOT/nonl2/ctr.log")" "record count (stderr)"
	assert_eq "stderr F tail" "$(cut -d' ' -f2- "$ROOT/nonl2/ctr.log")" "stderr record"
}

bytes_exact() {
	printf '\xff\xfe a\r\0b\n' >"$T/raw"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id bytes -- cat "$T/raw"
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/bytes/ctr.log
	assert_eq 1 "$(wc -l <"$log")" "record count"
	head -c 40 "$log" >"$T/prefix"
	assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z stdout F $' \
		"$(cat "$T/prefix")" "40-byte prefix"
	tail -c +41 "$log" >"$T/got"
	if ! cmp -s "$T/raw" "$T/got"; then
		echo "expected: $(od -An -tx1 "$T/raw")"
		echo "got:      $(od -An -tx1 "$T/got")"
		fail "content is not byte-exact"
	fi
}

# piece_summary LOG : "TAG LEN" per record (content length, without the \n)
piece_summary() { awk '{ print $3, length($0) - 40 }' "$1"; }

long_line() {
	# 40,000 bytes then a newline, written in several chunks by the pipeline
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id long -- \
		sh -c 'head -c 40000 /dev/zero | tr "\0" a; echo'
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/long/ctr.log
	assert_all_records_match "$log"
	assert_eq "P 16384|P 16384|F 7232" "$(piece_summary "$log" | paste -sd'|')" "pieces (default max line)"
	# the pieces join back to the line
	cut -c41- "$log" | tr -d '\n' | wc -c | { read -r n; assert_eq 40000 "$n" "joined length"; }
	[ -z "$(cut -c41- "$log" | tr -d 'a\n')" ] || fail "content bytes other than 'a'"
}

long_line_max_1000() {
	# 40,500 bytes with --log-max-line 1000: 40 P of 1000, F 500
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id long1k --log-max-line 1000 -- \
		sh -c 'head -c 40500 /dev/zero | tr "\0" b; echo'
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/long1k/ctr.log exp
	assert_all_records_match "$log"
	exp=$( (for _ in $(seq 40); do echo "P 1000"; done; echo "F 500") | paste -sd'|')
	assert_eq "$exp" "$(piece_summary "$log" | paste -sd'|')" "pieces (--log-max-line 1000)"
	grep -q '^LOG_MAX_LINE=1000$' "$ROOT/long1k/config" || fail "config lacks LOG_MAX_LINE=1000"
}

line_of_exactly_max() {
	# a line of exactly the max line size is one F record, not P + empty F
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id exact --log-max-line 1000 -- \
		sh -c 'head -c 40000 /dev/zero | tr "\0" c | fold -w 1000'
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/exact/ctr.log exp
	exp=$( (for _ in $(seq 40); do echo "F 1000"; done) | paste -sd'|')
	assert_eq "$exp" "$(piece_summary "$log" | paste -sd'|')" "pieces of 40 lines of 1000 bytes"
}

state_files() {
	local old
	old=$(umask)
	umask 000 # the modes must not depend on a permissive umask
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id state -- echo hello
	umask "$old"
	assert_eq 0 "$RC" "exit status"
	local d=$ROOT/state
	[ -f "$d/config" ] || fail "no config file"
	grep -qx 'ID=state' "$d/config" || fail "config lacks ID=state: $(tr '\n' ' ' <"$d/config")"
	grep -qx "LOG_PATH=$d/ctr.log" "$d/config" || fail "config lacks LOG_PATH=$d/ctr.log: $(tr '\n' ' ' <"$d/config")"
	[ -f "$d/monitor.pid" ] || fail "no monitor.pid"
	assert_match '^[0-9]+$' "$(cat "$d/monitor.pid")" "monitor.pid"
	assert_eq 640 "$(stat -c %a "$d/ctr.log")" "mode of ctr.log"
	assert_eq 700 "$(stat -c %a "$d")" "mode of the container directory"
	[ ! -L "$d/ctr.log" ] || fail "ctr.log is a symlink"
	assert_eq "stdout F hello" "$(cut -d' ' -f2- "$d/ctr.log")" "record"
}

check "seq 1 100000: in order, k8s-file prefix, no P, exact contents" seq_100k
check "sh loop 100000 lines: in order, no P, exact contents" sh_loop_100k
check "stdout/stderr interleaved: per-stream order, tags, non-decreasing times" streams_interleaved
check "exit status and exit file: true -> 0" exit_status_0
check "exit status and exit file: exit 3 -> 3" exit_status_3
check "exit status and exit file: SIGKILL -> 137" exit_status_sigkill
check "exit status and exit file: SIGTERM -> 143" exit_status_sigterm
check "exit file written only after the last record (50,000 lines)" exit_after_last_record
check "line without trailing newline at exit -> final F record" no_trailing_newline
check "CR, NUL and invalid UTF-8 written byte-exact" bytes_exact
check "40,000-byte line -> P 16384, P 16384, F 7232" long_line
check "--log-max-line 1000: 40,500-byte line -> 40 x P 1000, F 500" long_line_max_1000
check "line of exactly --log-max-line bytes -> one F record" line_of_exactly_max
check "config, monitor.pid, log mode 0640, dir mode 0700" state_files
finish

#!/usr/bin/env bash
# End-to-end: `ctrlog run --tty` (the command runs on a pty, logged as stdout).
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/run_tty.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# contents of LOG with a trailing \r (from the pty's ONLCR) removed
tty_content() { cut -c41- "$1" | sed 's/\r$//'; }

tty_logged_as_stdout() {
	run_ctrlog "$T/out" "$T/err" run --tty --root "$ROOT" --id t1 -- sh -c 'echo hi; echo there >&2'
	assert_eq 0 "$RC" "exit status"
	local log=$ROOT/t1/ctr.log bad
	bad=$(grep -Evc -- "$REC_RE" "$log" || true)
	assert_eq 0 "$bad" "records not matching the k8s-file prefix"
	assert_eq 0 "$(awk '$2 != "stdout"' "$log" | wc -l)" "records not tagged stdout"
	assert_eq 0 "$(awk '$3 != "F"' "$log" | wc -l)" "records not tagged F"
	assert_eq "hi|there" "$(tty_content "$log" | paste -sd'|')" "contents"
}

tty_command_sees_tty() {
	run_ctrlog "$T/out" "$T/err" run --tty --root "$ROOT" --id t2 -- \
		sh -c '[ -t 1 ] && echo tty1; [ -t 2 ] && echo tty2; exit 0'
	assert_eq 0 "$RC" "exit status"
	assert_eq "tty1|tty2" "$(tty_content "$ROOT/t2/ctr.log" | paste -sd'|')" "what the command saw"
}

tty_no_tty_without_flag() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id t3 -- \
		sh -c 'if [ -t 1 ]; then echo tty; else echo pipe; fi'
	assert_eq 0 "$RC" "exit status"
	assert_eq "pipe" "$(tty_content "$ROOT/t3/ctr.log")" "without --tty"
}

tty_exit_status() {
	run_ctrlog "$T/out" "$T/err" run --tty --root "$ROOT" --id t4 -- sh -c 'echo bye; exit 5'
	assert_eq 5 "$RC" "exit status"
	printf '5\n' | cmp -s - "$ROOT/t4/exit" || fail "exit file does not hold 5"
	assert_eq "bye" "$(tty_content "$ROOT/t4/ctr.log")" "contents"
}

tty_all_output_drained() {
	# the pty hangs up when the command exits; nothing may be lost. Output
	# still in the pty's buffers when the command exits is the risk, so try
	# a few times.
	seq 1 20000 >"$T/expect"
	local i n
	for i in 1 2 3 4 5; do
		run_ctrlog "$T/out" "$T/err" run --tty --root "$ROOT" --id "t5-$i" -- seq 1 20000
		assert_eq 0 "$RC" "exit status (run $i)"
		if ! tty_content "$ROOT/t5-$i/ctr.log" | cmp -s - "$T/expect"; then
			n=$(wc -l <"$ROOT/t5-$i/ctr.log")
			fail "run $i: log does not hold exactly 1..20000: $n records, the last: '$(tail -n 1 "$ROOT/t5-$i/ctr.log" | cut -c41- | od -An -c | tr -s ' ')'"
		fi
	done
}

check "--tty: stdout and stderr both logged as stdout F records" tty_logged_as_stdout
check "--tty: the command sees a tty on stdout and stderr" tty_command_sees_tty
check "without --tty the command sees a pipe" tty_no_tty_without_flag
check "--tty: exit status and exit file" tty_exit_status
check "--tty: 20,000 lines all logged before exit (5 runs)" tty_all_output_drained
finish

#!/usr/bin/env bash
# End-to-end: `ctrlog logs` and `ctrlog ps` (issue 6).
# Guards: --tail 10 on a big history returns exactly the last 10 lines; --since between two
# rotated (compressed) files starts at the right line and --until stops at the right line;
# streams go to their own fd; ID prefix, name, ambiguous prefix and bad arguments; ps columns.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/logs_read.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

logs() { "$CTRLOG" logs --root "$ROOT" "$@"; }
rotations() { cat "$ROOT/$1/.ctr.log.last-rotation" 2>/dev/null || echo 0; }

tail_big_history() {
	# ~200 MB of records: 1.4M numbered 100-byte lines, 10 MiB files, all compressed but the
	# newest rotated one.
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id big --log-max-size 10m --log-max-files 100 -- \
		awk 'BEGIN { pad = sprintf("%090d", 0); for (i = 1; i <= 1400000; i++) printf "%09d %s\n", i, pad }'
	assert_eq 0 "$RC" "run status"
	local size
	size=$(du -b --apparent-size -c "$ROOT/big"/ctr.log* | tail -n 1 | cut -f1)
	echo "history on disk: $size bytes, $(rotations big) rotations"
	ls "$ROOT/big" | grep -c '\.zst$' >/dev/null || fail "no compressed file"
	logs --tail 10 big >"$T/tail" 2>"$T/tail.err"
	awk 'BEGIN { pad = sprintf("%090d", 0); for (i = 1399991; i <= 1400000; i++) printf "%09d %s\n", i, pad }' >"$T/expect"
	cmp -s "$T/expect" "$T/tail" || fail "--tail 10: got $(wc -l <"$T/tail") lines: $(head -c 200 "$T/tail")"
	[ ! -s "$T/tail.err" ] || fail "stderr: $(cat "$T/tail.err")"
	# Lines across file boundaries: the last 300000 span several files.
	logs -n 300000 big | cut -c1-9 >"$T/tail2"
	awk 'BEGIN { for (i = 1100001; i <= 1400000; i++) printf "%09d\n", i }' >"$T/expect2"
	cmp -s "$T/expect2" "$T/tail2" || fail "--tail 300000 differs"
	# Empty live file: the tail comes from the rotated (plain, then compressed) files.
	logs -n 0 big | wc -l | grep -cx 0 >/dev/null || fail "--tail 0 printed lines"
}

since_until_compressed() {
	# Part A, a pause with a rotation at the boundary, part B: each part spans many 256 KiB
	# files, and the files on both sides of the boundary are compressed by the end.
	# Part B waits for the test: the rotation asked for must happen between the parts, however
	# slow the monitor is (valgrind).
	"$CTRLOG" run --root "$ROOT" --id su --log-max-size 256k --log-max-files 1000 -- sh -c \
		'seq 1 100000; while [ ! -e "$0" ]; do sleep 0.05; done; sleep 1; seq 100001 200000' \
		"$T/su.go" >/dev/null 2>&1 </dev/null &
	track_pid $!
	wait_for 10 eval 'grep -q " 100000\$" "$ROOT/su/ctr.log" 2>/dev/null' || fail "part A not written"
	local boundary before
	before=$(rotations su)
	"$CTRLOG" rotate --root "$ROOT" su || fail "ctrlog rotate failed"
	# ctrlog rotate only signals the monitor: wait until it has rotated.
	wait_for 10 eval '[ "$(rotations su)" -gt "$before" ]' || fail "ctrlog rotate did not rotate"
	boundary=$(rotations su)
	touch "$T/su.go"
	wait_for 20 test -f "$ROOT/su/exit" || fail "container did not exit"
	[ -f "$ROOT/su/ctr.log.$boundary.zst" ] || fail "file $boundary (end of part A) is not compressed"
	[ -f "$ROOT/su/ctr.log.$((boundary + 1)).zst" ] || fail "file $((boundary + 1)) (start of part B) is not compressed"
	# The times of the last line of A and the first line of B, from the log itself.
	local ta tb
	ta=$(logs -t su | awk '$2 == "100000" { print $1 }')
	tb=$(logs -t su | awk '$2 == "100001" { print $1 }')
	[ -n "$ta" ] && [ -n "$tb" ] || fail "no timestamps found"
	echo "A ends $ta, B starts $tb, boundary after file $boundary"
	logs --since "$tb" su >"$T/since"
	seq 100001 200000 >"$T/expect"
	cmp -s "$T/expect" "$T/since" || fail "--since $tb: $(head -n 1 "$T/since")... $(wc -l <"$T/since") lines"
	logs --until "$ta" su >"$T/until"
	seq 1 100000 >"$T/expect"
	cmp -s "$T/expect" "$T/until" || fail "--until $ta: ...$(tail -n 1 "$T/until"), $(wc -l <"$T/until") lines"
	logs --since "$tb" --until "$tb" su >"$T/both"
	assert_eq 100001 "$(head -n 1 "$T/both")" "--since/--until first line"
	# Unix seconds and durations: a minute ago covers everything; the future nothing.
	assert_eq 200000 "$(logs --since 1m su | wc -l)" "--since 1m"
	assert_eq 0 "$(logs --since "$(( $(date +%s) + 100 ))" su | wc -l)" "--since in the future"
	assert_eq 200000 "$(logs --since 0 --until "$(( $(date +%s) + 100 )).5" su | wc -l)" "Unix seconds"
}

streams_and_names() {
	run_ctrlog "$T/o" "$T/e" run --root "$ROOT" --id abc123def --name web -- sh -c \
		'echo out1; echo err1 >&2; printf "no newline"; sleep 0.1; echo " end"; echo err2 >&2'
	run_ctrlog "$T/o" "$T/e" run --root "$ROOT" --id abc999 -- true
	logs web >"$T/out" 2>"$T/err"
	assert_eq "out1
no newline end" "$(cat "$T/out")" "stdout"
	assert_eq "err1
err2" "$(cat "$T/err")" "stderr"
	assert_eq "err1
err2" "$(logs --stream stderr abc123 2>&1)" "--stream stderr by prefix"
	assert_eq "out1
no newline end" "$(logs --stream stdout abc123def 2>&1)" "--stream stdout by ID"
	assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z out1$' "$(logs -t web 2>/dev/null | head -n 1)" "--timestamps"
	# Ambiguous prefix: one line naming both, status 1.
	RC=0
	logs abc >"$T/out" 2>"$T/err" || RC=$?
	assert_eq 1 "$RC" "ambiguous status"
	assert_eq 1 "$(wc -l <"$T/err")" "ambiguous: stderr lines"
	assert_match 'ambiguous.*abc123def.*abc999' "$(cat "$T/err")" "ambiguous message"
	local bad
	for bad in "--tail x" "--since yesterday" "--until 10q" "--stream both" "--bogus" ""; do
		RC=0
		# shellcheck disable=SC2086
		"$CTRLOG" logs --root "$ROOT" $bad ${bad:+web} >"$T/out" 2>"$T/err" || RC=$?
		assert_eq 1 "$RC" "status for '$bad'"
		assert_eq 1 "$(wc -l <"$T/err")" "stderr lines for '$bad'"
	done
	RC=0
	logs nosuch >"$T/out" 2>"$T/err" || RC=$?
	assert_eq 1 "$RC" "unknown container status"
	assert_match "no container 'nosuch'" "$(cat "$T/err")" "unknown container message"
}

ps_columns() {
	"$CTRLOG" run --root "$ROOT" --id running1 --name svc --detach -- sleep 30 >/dev/null
	run_ctrlog "$T/o" "$T/e" run --root "$ROOT" --id done1 -- sh -c 'echo hi; exit 3'
	"$CTRLOG" ps --root "$ROOT" >"$T/ps"
	"$CTRLOG" ps --root "$ROOT" -a >"$T/psa"
	cat "$T/psa"
	assert_match '^ID +NAME +STATUS +DRIVERS +LOG-SIZE$' "$(head -n 1 "$T/ps")" "header"
	grep -q '^running1 .* svc .* running .* k8s-file ' "$T/ps" || fail "running container missing from ps"
	if grep -q '^done1 ' "$T/ps"; then fail "exited container listed without -a"; fi
	grep -Eq '^done1 +- +exited \(3\) +k8s-file +[0-9.]+[BKMG]$' "$T/psa" || fail "ps -a line for done1"
	kill -TERM "$(cat "$ROOT/running1/monitor.pid")"
	wait_for 10 test -f "$ROOT/running1/exit" || true
}

check "--tail 10 on ~200 MB of history" tail_big_history
check "--since / --until at a boundary between compressed files" since_until_compressed
check "streams, names, prefixes, timestamps, bad arguments" streams_and_names
check "ps and ps -a" ps_columns
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 4: rotation, retention, zstd compression, triggers and recovery, end to end with the
# real binary and the real zstd tool.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# all_records DIR : every record of the file set, rotated files in N order then the live file
all_records() {
	local d=$1 n f
	for n in $(ls "$d" | sed -nE 's/^ctr\.log\.([0-9]+)(\.zst)?$/\1/p' | sort -n | uniq); do
		if [ -e "$d/ctr.log.$n.zst" ]; then zstd -q -dc "$d/ctr.log.$n.zst"; else cat "$d/ctr.log.$n"; fi
	done
	cat "$d/ctr.log"
}

# check_whole FILE... : every line of every file is a whole record
check_whole() {
	local f
	for f in "$@"; do
		if [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
			fail "$f does not end with a newline"
		fi
		if [ "$(LC_ALL=C grep -acvE "$REC_RE" "$f" || true)" != 0 ]; then
			fail "$f holds a line that is not a whole record"
		fi
	done
}

# check_contiguous LAST : stdin holds records whose contents are seq=N for consecutive N
# ending at LAST
check_contiguous() {
	cut -c41- | awk -v last="$1" '
		{ n = substr($1, 5) + 0
		  if (NR > 1 && n != prev + 1) { print "gap or duplicate after " prev ": " n; bad = 1; exit 1 }
		  prev = n }
		END { if (!bad && prev != last) { print "ends at " prev ", expected " last; exit 1 } }'
}

t_fifty_megabytes() {
	local d=$ROOT/big
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id big --log-max-size 1m \
		--log-max-files 3 --log-compress zstd:1 -- "$NUMBERED" 500000
	assert_eq 0 "$RC" "exit status"
	local rotated plain zst
	rotated=$(ls "$d" | grep -cE '^ctr\.log\.[0-9]+(\.zst)?$')
	[ "$rotated" -le 3 ] && [ "$rotated" -ge 1 ] || fail "$rotated rotated files, expected 1 to 3"
	[ -z "$(ls "$d" | grep -E '\.tmp$')" ] || fail "temporary files left: $(ls "$d")"
	# The newest rotated file is plain, the older ones compressed.
	local newest
	newest=$(ls "$d" | sed -nE 's/^ctr\.log\.([0-9]+)(\.zst)?$/\1/p' | sort -n | tail -n 1)
	[ -f "$d/ctr.log.$newest" ] || fail "newest rotated file ctr.log.$newest is not plain"
	for zst in "$d"/ctr.log.*.zst; do
		zstd -q -t "$zst" || fail "zstd -t failed on $zst"
		[ "$(zstd -q -dc "$zst" | wc -c)" -le 1048576 ] || fail "$zst holds more than 1 MiB"
	done
	for plain in "$d"/ctr.log "$d"/ctr.log.[0-9]*; do
		case $plain in *.zst) continue ;; esac
		[ "$(stat -c %s "$plain")" -le 1048576 ] || fail "$plain is over 1 MiB"
		check_whole "$plain"
	done
	all_records "$d" > "$T/all"
	check_whole "$T/all"
	check_contiguous 500000 < "$T/all"
}

t_three_mib_line() {
	local d=$ROOT/line
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id line --log-max-size 1m \
		--log-max-files 10 -- sh -c 'head -c 3145728 /dev/zero | tr "\0" y; echo; echo after'
	assert_eq 0 "$RC" "exit status"
	for f in "$d"/ctr.log "$d"/ctr.log.[0-9]*; do
		case $f in *.zst) zstd -q -dc "$f" > "$T/plain"; check_whole "$T/plain" ;; *) check_whole "$f" ;; esac
	done
	all_records "$d" > "$T/all"
	# The pieces (P... F) join back into the exact line.
	local joined
	joined=$(head -n -1 "$T/all" | cut -c41- | tr -d '\n' | wc -c)
	assert_eq 3145728 "$joined" "bytes of the joined line"
	assert_eq "after" "$(tail -n 1 "$T/all" | cut -c41-)" "the line after"
}

# With a max line above the file size, the single record goes alone into a file.
t_oversized_record_alone() {
	local d=$ROOT/alone
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id alone --log-max-size 1m \
		--log-max-line 4m --log-compress none -- \
		sh -c 'echo before; head -c 3145728 /dev/zero | tr "\0" z; echo; echo after'
	assert_eq 0 "$RC" "exit status"
	assert_eq 1 "$(wc -l < "$d/ctr.log.1")" "records in ctr.log.1"
	assert_eq 1 "$(wc -l < "$d/ctr.log.2")" "records in ctr.log.2"
	assert_eq $((40 + 3145728 + 1)) "$(stat -c %s "$d/ctr.log.2")" "size of the lone record"
	assert_eq "after" "$(cut -c41- "$d/ctr.log")" "the live file"
}

# kill -9 of the monitor while writing and compressing, then a restart on the same ID.
t_kill_and_restart() {
	local d=$ROOT/crash pid i
	"$CTRLOG" run --root "$ROOT" --id crash --log-max-size 256k --log-max-files 50 \
		-- "$NUMBERED" 2000000 > /dev/null 2>&1 &
	pid=$!
	track_pid $pid
	wait_for 20 eval "ls $d 2>/dev/null | grep -c 'ctr\.log\.[0-9]*\.zst' >/dev/null" ||
		fail "no compressed file appeared"
	kill -KILL $pid
	wait $pid 2>/dev/null || true
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id crash --log-max-size 256k \
		--log-max-files 50 -- "$NUMBERED" 20000 5000000
	assert_eq 0 "$RC" "restart exit status ($(cat "$T/err"))"
	[ -z "$(ls "$d" | grep -E '\.tmp$')" ] || fail "temporary files left after restart"
	local nums
	nums=$(ls "$d" | sed -nE 's/^ctr\.log\.([0-9]+)(\.zst)?$/\1/p' | sort -n | uniq)
	# Numbers are consecutive: the restart continued the numbering.
	echo "$nums" | awk 'NR > 1 && $1 != prev + 1 { exit 1 } { prev = $1 }' ||
		fail "rotation numbers are not consecutive: $(echo $nums)"
	for f in "$d"/ctr.log.*.zst; do zstd -q -t "$f" || fail "$f does not decompress"; done
	all_records "$d" > "$T/all"
	check_whole "$T/all"
	# Records of the first run are consecutive up to the kill, those of the second follow.
	grep -a 'seq=0[0-4]' "$T/all" | check_contiguous "$(grep -a 'seq=0[0-4]' "$T/all" | tail -n 1 | cut -c45-52 | sed 's/^0*//')"
	grep -a 'seq=050' "$T/all" | check_contiguous 5019999
}

t_sigusr1_rotates() {
	local d=$ROOT/usr1 pid
	"$CTRLOG" run --root "$ROOT" --id usr1 --log-compress none -- \
		sh -c 'echo one; sleep 1; echo two; exec sleep 30' > /dev/null 2>&1 &
	pid=$!
	track_pid $pid
	wait_for grep -q one "$d/ctr.log" || fail "first line not logged"
	kill -USR1 $pid
	wait_for test -f "$d/ctr.log.1" || fail "SIGUSR1 did not rotate"
	wait_for grep -q two "$d/ctr.log" || fail "second line not in the new live file"
	assert_eq "one" "$(cut -c41- "$d/ctr.log.1")" "rotated content"
	"$CTRLOG" rotate --root "$ROOT" usr1 || fail "ctrlog rotate failed"
	wait_for test -f "$d/ctr.log.2" || fail "ctrlog rotate did not rotate"
	kill -TERM $pid
	wait $pid || true
}

t_sighup_reopens() {
	local d=$ROOT/hup pid
	"$CTRLOG" run --root "$ROOT" --id hup -- \
		sh -c 'echo one; sleep 1; echo two; exec sleep 30' > /dev/null 2>&1 &
	pid=$!
	track_pid $pid
	wait_for grep -q one "$d/ctr.log" || fail "first line not logged"
	mv "$d/ctr.log" "$d/external.1"
	kill -HUP $pid
	wait_for grep -q two "$d/ctr.log" || fail "SIGHUP did not reopen the live path"
	assert_eq "one" "$(cut -c41- "$d/external.1")" "the renamed file"
	kill -TERM $pid
	wait $pid || true
}

# Disk use stays within (max-files + 1) x max-size at every moment of a run, not just at its
# end (plain files, so that the bound is tight; compression only makes files smaller).
t_disk_bound() {
	local d=$ROOT/bound pid max=0 now f
	"$CTRLOG" run --root "$ROOT" --id bound --log-max-size 256k --log-max-files 3 \
		--log-compress none -- "$NUMBERED" 600000 > /dev/null 2>&1 &
	pid=$!
	track_pid $pid
	while kill -0 $pid 2>/dev/null; do
		now=0
		for f in "$d"/ctr.log*; do
			[ -f "$f" ] && now=$((now + $(stat -c %s "$f" 2>/dev/null || echo 0)))
		done
		[ $now -gt $max ] && max=$now
		sleep 0.01
	done
	wait $pid || fail "the run failed"
	echo "largest total seen: $max bytes"
	[ $max -le $(((3 + 1) * 262144)) ] || fail "disk use reached $max bytes"
}

t_rotate_gone_monitor() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id gone -- true
	run_ctrlog "$T/out" "$T/err" rotate --root "$ROOT" gone
	assert_eq 1 "$RC" "status"
	assert_eq 1 "$(wc -l < "$T/err")" "error lines"
	grep -q "no running monitor" "$T/err" || fail "unclear message: $(cat "$T/err")"
	run_ctrlog "$T/out" "$T/err" rotate --root "$ROOT" nosuch
	assert_eq 1 "$RC" "status for an unknown ID"
}

check "50 MB with max-size 1m, max-files 3, zstd:1: bounded, compressed, contiguous" t_fifty_megabytes
check "a 3 MiB line with max-size 1m: records never span files, nothing lost" t_three_mib_line
check "a record larger than max-size goes alone into a file" t_oversized_record_alone
check "kill -9 during writing and compression, then restart: whole, consecutive, decompressible" t_kill_and_restart
check "SIGUSR1 and ctrlog rotate rotate at once" t_sigusr1_rotates
check "SIGHUP after an external mv reopens the path" t_sighup_reopens
check "ctrlog rotate on a gone monitor says so" t_rotate_gone_monitor
check "disk use stays within (max-files + 1) x max-size while writing" t_disk_bound
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 7: bounded memory for endless lines, a disk that fills up, a sink that stalls, and
# crashes at random points of rotation and compression.
set -euo pipefail
# The disk-full check mounts a small tmpfs: do it in a private mount namespace.
if [ -z "${CTRLOG_E2E_NS:-}" ] && [ "$(id -u)" = 0 ]; then
	exec unshare -m --propagation private env CTRLOG_E2E_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

stat_of() { sed -n "s/^$1=//p" "$2"; }

t_gigabyte_line() {
	local d=$ROOT/gig
	"$CTRLOG" run --root "$ROOT" --id gig --log-max-size 0 --stats -- \
		sh -c 'head -c 1073741824 /dev/zero | tr "\0" a' > /dev/null 2> "$T/stats"
	local rss
	rss=$(stat_of max_rss_kb "$T/stats")
	[ "$rss" -lt $((32 * 1024)) ] || fail "peak RSS ${rss} KiB, over 32 MiB"
	awk -v want=1073741824 '
		{ tag = $3; len = length($0) - 40
		  if (tag == "P") { p++; sum += len; if (len != 16384) { print "P of " len; exit 1 } }
		  else if (tag == "F") { f++; sum += len } }
		END { if (f != 1 || sum != want) { print "F=" f " bytes=" sum; exit 1 }
		      if (p != 65535) { print "P=" p; exit 1 } }' "$d/ctr.log" ||
		fail "the log does not hold the line as P records and one F"
}

# The writer: 2000 lines, then it waits while the test fills the disk, writes 2000 lines
# that cannot be stored, waits while the test frees the disk, writes 2000 more, exits 5.
writer() {
	cat > "$T/writer" <<'SH'
#!/bin/sh
lines() { awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++) printf "line=%06d %0100d\n", i, 0 }'; }
sync_at() { touch "$T/at.$1"; while [ ! -e "$T/go.$1" ]; do sleep 0.02; done; }
lines 1 2000; sync_at 1
lines 2001 4000; sync_at 2
lines 4001 6000
exit 5
SH
	chmod +x "$T/writer"
}

t_disk_full() {
	local disk=$T/disk pid
	mkdir -p "$disk"
	mount -t tmpfs -o size=32m tmpfs "$disk"
	writer
	T=$T "$CTRLOG" run --root "$disk/root" --id full --log-max-size 0 --stats -- \
		env T="$T" "$T/writer" > /dev/null 2> "$T/stderr" &
	pid=$!
	track_pid $pid
	wait_for test -e "$T/at.1" || fail "writer did not start"
	# Fill every free byte.
	dd if=/dev/zero of="$disk/filler" bs=64k status=none 2>/dev/null || true
	touch "$T/go.1"
	wait_for test -e "$T/at.2" || fail "writer stuck while the disk was full"
	sleep 0.3
	rm -f "$disk/filler"
	touch "$T/go.2"
	local rc=0
	wait $pid || rc=$?
	assert_eq 5 "$rc" "exit status"
	assert_eq 5 "$(cat "$disk/root/full/exit")" "exit file"
	local log=$disk/root/full/ctr.log
	[ "$(grep -acvE "$REC_RE" "$log" || true)" = 0 ] || fail "a torn record is in the log"
	grep -aq '\[ctrlog\] [0-9]* bytes in [0-9]* lines were lost' "$log" || fail "no marker record"
	grep -a 'line=' "$log" | cut -c41- | awk '{ print substr($1, 6) + 0 }' > "$T/nums"
	# Everything before the disk filled and after it was freed is there, in order.
	awk '$1 <= 2000 { if ($1 != ++a) exit 1 } END { if (a != 2000) exit 1 }' "$T/nums" ||
		fail "lines before the disk filled are missing"
	awk '$1 > 4000 { if (!b) b = $1; else if ($1 != b + 1) exit 1; else b = $1 } END { if (b != 6000) exit 1 }' "$T/nums" ||
		fail "lines after the disk was freed are missing"
	[ "$(grep -c 'writing .* failed' "$T/stderr")" = 1 ] || fail "expected one error line: $(cat "$T/stderr")"
	[ "$(stat_of write_errors "$T/stderr")" -ge 1 ] || fail "write_errors not counted"
	umount "$disk"
}

t_stalled_reader_blocking() {
	local fifo=$T/fifo pid
	mkfifo "$fifo"
	exec 7<>"$fifo" # held open, never read
	"$CTRLOG" run --root "$ROOT" --id slow --log-driver passthrough -- \
		sh -c 'head -c 20000000 /dev/zero | tr "\0" "s"; exit 4' > "$fifo" 2>&1 &
	pid=$!
	track_pid $pid
	sleep 0.5
	# While the reader stalls, the monitor waits for it: no CPU burnt in a retry loop.
	assert_not_spinning "$(cat "$ROOT/slow/monitor.pid")" "blocked on a stalled reader"
	[ ! -e "$ROOT/slow/exit" ] || fail "the container finished although nobody read its output"
	cat "$fifo" > "$T/got" 7>&- &
	local cat_pid=$! rc=0
	wait $pid || rc=$?
	exec 7>&-
	wait $cat_pid
	assert_eq 4 "$rc" "exit status"
	assert_eq 20000000 "$(stat -c %s "$T/got")" "bytes passed through"
}

t_stalled_reader_nonblocking() {
	local fifo=$T/fifo2 pid
	mkfifo "$fifo"
	exec 8<>"$fifo"
	"$CTRLOG" run --root "$ROOT" --id fast --log-driver passthrough --log-mode non-blocking \
		--log-buffer-size 64k --stats -- \
		sh -c 'head -c 20000000 /dev/zero | tr "\0" "f"; exit 6' > "$fifo" 2> "$T/nb.stats" &
	pid=$!
	track_pid $pid
	wait_for 20 test -e "$ROOT/fast/exit" || fail "the container was slowed by a stalled reader"
	local rc=0
	wait $pid || rc=$?
	exec 8>&-
	assert_eq 6 "$rc" "exit status"
	[ "$(stat_of dropped_bytes "$T/nb.stats")" -gt 0 ] || fail "drops not counted"
}

# kill -9 at random moments of rotation and compression; after each restart every file is
# whole and decompresses, and no record appears twice. The writer never ends by itself, so
# that every run is a crash (no exit file), whose log the next run on the ID continues.
t_random_kills() {
	local d=$ROOT/kills run pid
	cat > "$T/gen" <<'SH'
#!/bin/sh
exec awk -v base="$1" 'BEGIN { for (i = 0; ; i++) printf "r=%02d-%08d %060d\n", base, i, 0 }'
SH
	chmod +x "$T/gen"
	for run in $(seq 1 20); do
		"$CTRLOG" run --root "$ROOT" --id kills --log-max-size 128k --log-max-files 1000 \
			-- "$T/gen" "$run" > /dev/null 2>&1 &
		pid=$!
		sleep "0.$((RANDOM % 6 + 1))"
		kill -KILL $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
	done
	"$CTRLOG" run --root "$ROOT" --id kills --log-max-size 128k --log-max-files 1000 -- true
	[ -z "$(ls "$d" | grep -E '\.tmp$')" ] || fail "temporary files left"
	local f
	: > "$T/all"
	for f in $(ls "$d" | sed -nE 's/^ctr\.log\.([0-9]+)(\.zst)?$/\1/p' | sort -n | uniq); do
		if [ -e "$d/ctr.log.$f.zst" ]; then
			zstd -q -t "$d/ctr.log.$f.zst" || fail "ctr.log.$f.zst does not decompress"
			zstd -q -dc "$d/ctr.log.$f.zst" >> "$T/all"
		else
			cat "$d/ctr.log.$f" >> "$T/all"
		fi
	done
	cat "$d/ctr.log" >> "$T/all"
	[ "$(grep -acvE "$REC_RE" "$T/all" || true)" = 0 ] || fail "a torn record survived"
	[ -z "$(cut -c41- "$T/all" | sort | uniq -d | head -n 1)" ] || fail "a record appears twice"
}

check "a 1 GiB line without newline: bounded memory, P records and one F" t_gigabyte_line
if [ -n "${CTRLOG_E2E_NS:-}" ]; then
	check "a 32 MiB tmpfs filled mid-run: no torn record, a marker, the rest kept" t_disk_full
fi
check "blocking mode: a stalled reader slows the container, nothing lost" t_stalled_reader_blocking
check "non-blocking mode: a stalled reader does not slow the container, drops counted" t_stalled_reader_nonblocking
check "kill -9 at random points of rotation and compression (20 runs)" t_random_kills
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 12: the k8s-file writer when things go wrong around it. A rotation that fails keeps
# the size limit, is retried and resumes in a proper live file (12.3); a line left open by a
# crash does not join the next run's first line (12.4); rotating an idle container keeps its
# history (12.5); a second monitor on the same log is refused (12.6); a disk filled by the
# log's own history recovers (12.8); a FIFO where a log is expected never hangs the monitor
# (12.10). The disk and directory cases run in a private mount namespace on a small tmpfs
# (root only; skipped otherwise).
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/writer_failures.sh
set -euo pipefail
if [[ -z ${CTRLOG_WRITER_NS:-} && $(id -u) -eq 0 ]] &&
	unshare -m --propagation private true 2>/dev/null; then
	CTRLOG_WRITER_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

# $PACED STOPFILE : numbered lines, 20 every 20 ms, until STOPFILE exists
PACED=$T/paced
cat >"$PACED" <<'SH'
#!/bin/sh
i=1
while [ ! -e "$1" ]; do
	"${0%/*}/lines" 20 "$i"
	i=$((i + 20))
	sleep 0.02
done
SH
chmod +x "$PACED"

# contiguous_tail LAST : stdin (ctrlog logs output) holds seq=N for consecutive N ending at
# LAST, apart from [ctrlog] loss markers; prints the first N
contiguous_tail() {
	awk -v last="$1" '
		/^\[ctrlog\]/ { next }
		{ n = substr($1, 5) + 0
		  if (NR > 1 && seen && n != prev + 1) { print "gap or duplicate after " prev ": " n; bad = 1; exit 1 }
		  if (!seen) first = n
		  seen = 1; prev = n }
		END { if (bad) exit 1
		      if (prev != last) { print "ends at " prev ", expected " last; exit 1 }
		      print first }'
}

# start_monitor ID ARGS... : ctrlog run in the background; sets MON (its PID), output in
# $T/ID.out and $T/ID.err
start_monitor() {
	local id=$1
	shift
	"$CTRLOG" run --root "$ROOT" --id "$id" "$@" >"$T/$id.out" 2>"$T/$id.err" </dev/null &
	MON=$!
	track_pid "$MON"
}

# wait_monitor PID : its exit status into RC, within a bounded time
wait_monitor() {
	wait_for 30 eval '! pid_alive '"$1" || fail "monitor $1 did not exit"
	RC=0
	wait "$1" || RC=$?
}

# no_file_over LIMIT DIR : every log file in DIR within LIMIT bytes
no_file_over() {
	local biggest
	biggest=$(stat -c %s "$2"/ctr.log* | sort -n | tail -n 1)
	[ "$biggest" -le "$1" ] || fail "a file of $biggest bytes, over the limit $1: $(ls -l "$2" | tr '\n' ' ')"
}

# at_check_end CMD : runs CMD when the check ends, also when it fails
_AT_END=
at_check_end() {
	_AT_END="$1; $_AT_END"
	trap "$_AT_END" EXIT
}

# private_tmpfs DIR SIZE : a tmpfs at DIR, unmounted when the check ends
private_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1"
	at_check_end "chattr -R -i '$1' 2>/dev/null; umount -l '$1'"
}

# --- 12.4: a crash leaves a line open ---------------------------------------------------------

t_crash_open_line() {
	local d=$ROOT/crash cmd
	start_monitor crash -- sh -c 'printf abc; exec sleep 30'
	# the idle flush (1 s) writes the unfinished line as a P record
	wait_for grep -sc ' stdout P abc$' "$d/ctr.log" >/dev/null || fail "no P record: $(cat "$d/ctr.log" 2>&1)"
	cmd=$(ps -o pid= --ppid "$MON" | tr -d ' ')
	kill -KILL "$MON"
	[ -z "$cmd" ] || kill -KILL "$cmd"
	wait "$MON" 2>/dev/null || true
	[ ! -e "$d/exit" ] || fail "a crashed monitor left an exit file"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id crash -- echo next
	assert_eq 0 "$RC" "second run: $(cat "$T/err")"
	assert_eq "abc|next" "$("$CTRLOG" logs --root "$ROOT" crash | paste -sd '|')" "logs"
	assert_eq "next" "$("$CTRLOG" logs --root "$ROOT" -n 1 crash)" "logs -n 1"
}

# --- 12.5: rotating an idle container -------------------------------------------------------------

t_rotate_idle() {
	local d=$ROOT/idle i
	start_monitor idle --log-max-files 5 -- sh -c 'echo one; exec sleep 30'
	wait_for grep -sc ' stdout F one$' "$d/ctr.log" >/dev/null || fail "no record"
	for i in 1 2 3 4 5 6 7 8; do
		run_ctrlog "$T/out" "$T/err" rotate --root "$ROOT" idle
		assert_eq "0||" "$RC|$(cat "$T/out")|$(cat "$T/err")" "ctrlog rotate: status|stdout|stderr"
		sleep 0.2 # signals sent faster would merge into one
	done
	kill -TERM "$MON"
	wait_monitor "$MON"
	assert_eq "one" "$("$CTRLOG" logs --root "$ROOT" idle)" "logs after 8 rotations"
	[ -e "$d/ctr.log.1" ] && [ ! -e "$d/ctr.log.2" ] || fail "rotated files: $(ls -a "$d" | tr '\n' ' ')"
}

# --- 12.6: two monitors, one log ------------------------------------------------------------------

t_shared_log_path() {
	local log=$T/shared/ctr.log
	mkdir -p "$T/shared"
	at_check_end "touch '$T/go-first'"
	start_monitor first --log-path "$log" -- sh -c "echo a1; while [ ! -e '$T/go-first' ]; do sleep 0.02; done; echo a2"
	wait_for grep -sc ' stdout F a1$' "$log" >/dev/null || fail "no record from the first"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id second --log-path "$log" -- echo b1
	assert_eq 125 "$RC" "second monitor's status"
	assert_eq "ctrlog: run: the log '$log' is in use by another monitor" "$(cat "$T/err")" "message"
	touch "$T/go-first"
	wait_monitor "$MON"
	assert_eq 0 "$RC" "first monitor's status"
	assert_eq "a1|a2" "$("$CTRLOG" logs --root "$ROOT" first | paste -sd '|')" "the first's log"
	assert_eq "" "$(ls "$T/shared" | grep -v '^ctr\.log$' || true)" "files next to the log"
}

# --- 12.10: FIFOs where logs are expected ---------------------------------------------------------

t_fifo_live_log() {
	mkfifo "$T/fifo.log"
	RC=0
	timeout -s KILL 30 "$CTRLOG" run --root "$ROOT" --id fifo --log-path "$T/fifo.log" -- echo x \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_eq 125 "$RC" "status"
	assert_eq "ctrlog: run: --log-path: '$T/fifo.log' is not a regular file" "$(cat "$T/err")" "message"
}

t_fifo_last_rotation_record() {
	mkdir -p "$ROOT/rec"
	mkfifo "$ROOT/rec/.ctr.log.last-rotation"
	RC=0
	timeout -s KILL 30 "$CTRLOG" run --root "$ROOT" --id rec -- echo x \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_eq 125 "$RC" "status (137: hung opening the FIFO)"
}

# A FIFO at the name the compressor writes to: before the fix it blocked in open() and the
# monitor, waiting for it at exit, never wrote its exit file.
t_fifo_compressor() {
	local d=$ROOT/zfifo
	at_check_end "touch '$T/go-z'"
	start_monitor zfifo --log-max-size 10k -- sh -c "'$NUMBERED' 100; while [ ! -e '$T/go-z' ]; do sleep 0.02; done; '$NUMBERED' 100 101"
	wait_for test -e "$d/ctr.log.1" || fail "no rotation"
	mkfifo "$d/ctr.log.1.zst.tmp"
	touch "$T/go-z"
	wait_for 30 test -e "$d/exit" || { kill -KILL "$MON"; fail "no exit file: the monitor hangs"; }
	wait_monitor "$MON"
	assert_eq 0 "$RC" "status"
	[ -e "$d/ctr.log.1.zst" ] || fail "ctr.log.1 was not compressed: $(ls -a "$d")"
	"$CTRLOG" logs --root "$ROOT" zfifo | contiguous_tail 200 >/dev/null || fail "logs: not the 200 lines"
}

# --- 12.3: failed rotations -----------------------------------------------------------------------

# The new live file cannot be opened: the monitor runs out of fds (its limit lowered under it).
t_rotation_emfile() {
	local d=$ROOT/emfile soft hard
	at_check_end "touch '$T/stop-emfile'"
	start_monitor emfile --log-max-size 10k --log-max-files 50 --log-compress none -- "$PACED" "$T/stop-emfile"
	wait_for test -e "$d/ctr.log.1" || fail "no rotation"
	soft=$(prlimit --pid "$MON" --nofile --raw --noheadings --output=SOFT)
	hard=$(prlimit --pid "$MON" --nofile --raw --noheadings --output=HARD)
	prlimit --pid "$MON" --nofile=3:"$hard" # fds above stay usable, no new one can be opened
	wait_for grep -sc 'rotating' "$T/emfile.err" >/dev/null || fail "no message: $(cat "$T/emfile.err")"
	sleep 1
	no_file_over 10240 "$d"
	prlimit --pid "$MON" --nofile="$soft:$hard"
	wait_for grep -sc 'rotating the log failed: Too many open files' "$d/ctr.log" >/dev/null ||
		fail "no loss marker in a new live file: $(ls -l "$d")"
	touch "$T/stop-emfile"
	wait_monitor "$MON"
	assert_eq 0 "$RC" "status"
	assert_eq 1 "$(grep -c 'rotating' "$T/emfile.err")" "messages about the failed rotation"
	no_file_over 10240 "$d"
	"$CTRLOG" logs --root "$ROOT" emfile 2>&1 | grep -c '^\[ctrlog\] .* lost: rotating the log failed' >/dev/null ||
		fail "logs: no loss marker"
}

# The rename fails: the log's directory is made immutable for a while.
t_rotation_immutable_dir() {
	local mnt=$T/mnt-imm d=$T/mnt-imm/logs
	private_tmpfs "$mnt" 16m
	mkdir "$d"
	at_check_end "touch '$T/stop-imm'"
	start_monitor imm --log-path "$d/ctr.log" --log-max-size 10k --log-max-files 50 --log-compress none \
		-- "$PACED" "$T/stop-imm"
	wait_for test -e "$d/ctr.log.1" || fail "no rotation"
	chattr +i "$d"
	wait_for grep -sc 'rotating' "$T/imm.err" >/dev/null || fail "no message: $(cat "$T/imm.err")"
	sleep 1
	no_file_over 10240 "$d"
	chattr -i "$d"
	wait_for grep -sc 'rotating the log failed: Operation not permitted' "$d/ctr.log" >/dev/null ||
		fail "no loss marker in a new live file: $(ls -l "$d")"
	touch "$T/stop-imm"
	wait_monitor "$MON"
	assert_eq 0 "$RC" "status"
	assert_eq 1 "$(grep -c 'rotating' "$T/imm.err")" "messages about the failed rotation"
	no_file_over 10240 "$d"
}

# --- 12.8: a disk full of the log's own history ---------------------------------------------------

t_full_disk() {
	local mnt=$T/mnt-full first
	private_tmpfs "$mnt" 8m
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id full --log-path "$mnt/ctr.log" \
		--log-max-size 1m --log-max-files 20 --log-compress none -- "$NUMBERED" 300000
	assert_eq 0 "$RC" "status ($(cat "$T/err"))"
	first=$("$CTRLOG" logs --root "$ROOT" full | contiguous_tail 300000) || fail "logs: $first"
	[ "$first" -lt 260000 ] || fail "only the lines from $first on were kept"
	[ ! -e "$mnt/ctr.log.1" ] || fail "the oldest files were not freed: $(ls "$mnt")"
}

check "a line left open by a crash does not join the next run's first line" t_crash_open_line
check "ctrlog rotate on an idle container keeps its history" t_rotate_idle
check "a second monitor on the same log is refused" t_shared_log_path
check "a FIFO as the live log is refused by name" t_fifo_live_log
check "a FIFO as the rotation record does not hang the monitor" t_fifo_last_rotation_record
check "a FIFO at the compressor's file does not hang the monitor" t_fifo_compressor
check "a rotation failing for lack of fds keeps the limit and resumes" t_rotation_emfile
if [[ -n ${CTRLOG_WRITER_NS:-} ]]; then
	check "a rotation failing in an immutable directory keeps the limit and resumes" t_rotation_immutable_dir
	check "a disk full of the log's history recovers" t_full_disk
else
	echo "# SKIP: the tmpfs checks need root and a private mount namespace"
fi
finish

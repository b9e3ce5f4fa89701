#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 12 (points 6, 12, 13, 14): two runs of one ID started at once, values that would inject
# keys into a container's config, inputs that were misread or misreported (a relative log path,
# an empty --root, a bad journald tag or label), and --stats counters that must be final.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/cli_input.sh
set -euo pipefail
# The disk-full check mounts a small tmpfs: do it in a private mount namespace.
if [ -z "${CTRLOG_E2E_NS:-}" ] && [ "$(id -u)" = 0 ]; then
	exec unshare -m --propagation private env CTRLOG_E2E_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

stat_of() { sed -n "s/^$1=//p" "$2"; }

# Races per mode; under valgrind each run takes seconds, so fewer.
RACES=50
[ -z "${CTRLOG_REAL:-}" ] || RACES=6
BATCH=10
RUNNING_RE="^ctrlog: run: container '[^']*' is already running \(monitor PID [0-9]+\)$"

# The two contenders differ in argv[0] (COMMAND= in the config) and in what they log, so that
# the config and the log tell which run wrote them. The winner's command runs until a
# contender has returned refused (or a minute has passed), so that however slowly the other
# one starts (valgrind), it meets a running container.
contender() { # ID WHICH [--detach]
	local id=$1 which=$2 cmd=sh
	shift 2
	[ "$which" = a ] || cmd=/bin/sh
	RC=0
	"$CTRLOG" run "$@" --root "$ROOT" --id "$id" -- "$cmd" -c "echo run-$which; i=0
		while [ ! -e '$T/$id.done' ] && [ \$i -lt 1200 ]; do sleep 0.05; i=\$((i + 1)); done" \
		>"$T/$id.$which.out" 2>"$T/$id.$which.err" </dev/null || RC=$?
	echo "$RC" >"$T/$id.$which.rc"
	[ "$RC" = 0 ] || touch "$T/$id.done"
}

# The outcome of one race: one winner (0), one loser (125, one line, the message), and the
# winner's config and log.
judge_race() { # ID
	local id=$1 d=$ROOT/$1 winner loser cmd
	local rca rcb
	rca=$(cat "$T/$id.a.rc") rcb=$(cat "$T/$id.b.rc")
	if [ "$rca" = 0 ] && [ "$rcb" = 125 ]; then
		winner=a loser=b cmd=sh
	elif [ "$rca" = 125 ] && [ "$rcb" = 0 ]; then
		winner=b loser=a cmd=/bin/sh
	else
		fail "$id: statuses $rca and $rcb (stderr: $(cat "$T/$id.a.err" "$T/$id.b.err" | head -c 300))"
	fi
	assert_eq 1 "$(wc -l <"$T/$id.$loser.err")" "$id: lines from the loser"
	assert_match "$RUNNING_RE" "$(cat "$T/$id.$loser.err")" "$id: the loser's message"
	[ ! -s "$T/$id.$loser.out" ] || fail "$id: the loser printed $(cat "$T/$id.$loser.out")"
	wait_for test -e "$d/exit" || fail "$id: the winner wrote no exit file"
	assert_eq 0 "$(cat "$d/exit")" "$id: exit file"
	[ -f "$d/config" ] || fail "$id: the winner's config is gone"
	assert_eq "COMMAND=$cmd" "$(grep '^COMMAND=' "$d/config")" "$id: config written by"
	assert_eq 1 "$(grep -c '^LOG_PATH=' "$d/config")" "$id: LOG_PATH lines"
	assert_eq "run-$winner" "$(content_of "$d/ctr.log")" "$id: log"
	assert_eq "run-$winner" "$("$CTRLOG" logs --root "$ROOT" "$id")" "$id: ctrlog logs"
}

races() { # PREFIX [--detach]
	local prefix=$1 i j
	shift
	for ((i = 0; i < RACES; i += BATCH)); do
		for ((j = i; j < i + BATCH && j < RACES; j++)); do
			contender "$prefix$j" a "$@" &
			contender "$prefix$j" b "$@" &
		done
		wait
		for ((j = i; j < i + BATCH && j < RACES; j++)); do
			judge_race "$prefix$j"
		done
	done
}

race_foreground() { races fg; }
race_detach() { races dt --detach; }

# --- values in the config ----------------------------------------------------------------------

no_container() { # ID
	[ ! -e "$ROOT/$1" ] || fail "a refused run left $ROOT/$1: $(ls -A "$ROOT/$1")"
}

tag_injection() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id tag1 --log-tag $'x\nLOG_PATH=/etc/passwd' -- echo hi
	assert_eq 125 "$RC" "exit status"
	assert_eq "ctrlog: run: --log-tag: invalid tag 'x\\nLOG_PATH=/etc/passwd' (no newline or other control character)" \
		"$(cat "$T/err")" "stderr"
	no_container tag1
}

log_path_newline() {
	mkdir -p "$T/lp"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id lp1 --log-path "$T/lp/a"$'\n'"NAME=x" -- echo hi
	assert_eq 125 "$RC" "exit status"
	assert_eq "ctrlog: run: --log-path: invalid path '$T/lp/a\\nNAME=x' (no newline or other control character)" \
		"$(cat "$T/err")" "stderr"
	no_container lp1
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id lp2 --log-path '' -- echo hi
	assert_eq 125 "$RC" "exit status (empty)"
	assert_eq "ctrlog: run: --log-path: empty path" "$(cat "$T/err")" "stderr (empty)"
	no_container lp2
}

label_newline() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id lb1 --log-label $'K=a\nLOG_PATH=/etc/passwd' -- echo hi
	assert_eq 125 "$RC" "exit status"
	assert_eq "ctrlog: run: --log-label: invalid label 'K=a\\nLOG_PATH=/etc/passwd' (its value holds a newline)" \
		"$(cat "$T/err")" "stderr"
	no_container lb1
}

# A refused value is shown escaped: the error stays one line.
refused_values_one_line() {
	local opt
	for opt in --id --name --log-label; do
		run_ctrlog "$T/out" "$T/err" run --root "$ROOT" "$opt" $'a\nID=b' -- echo hi
		assert_eq 125 "$RC" "$opt: exit status"
		assert_eq 1 "$(wc -l <"$T/err")" "$opt: lines on stderr"
		grep -cF "'a\\nID=b'" "$T/err" >/dev/null || fail "$opt: the value is not shown escaped: $(cat "$T/err")"
	done
}

# A command whose path holds a newline and a would-be key: stored escaped, read back exactly,
# and `logs` reads the container's own log, not the file the path names.
command_path_newline() {
	local cmd=$T/bin/cmd$'\\'x$'\n'"LOG_PATH=$T/other"
	mkdir -p "$(dirname "$cmd")"
	printf '#!/bin/sh\necho "hello $1"\n' >"$cmd"
	chmod +x "$cmd"
	echo "2024-01-01T00:00:00.000000000Z stdout F injected" >"$T/other"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id cmd1 -- "$cmd" $'two\nlines'
	assert_eq 0 "$RC" "exit status ($(cat "$T/err"))"
	local cfg=$ROOT/cmd1/config
	assert_eq 1 "$(grep -c '^LOG_PATH=' "$cfg")" "LOG_PATH lines in the config"
	assert_eq "LOG_PATH=$ROOT/cmd1/ctr.log" "$(grep '^LOG_PATH=' "$cfg")" "LOG_PATH"
	# The escapes are \\, \n and \xHH: what printf %b decodes.
	local stored
	stored=$(sed -n 's/^COMMAND=//p' "$cfg")
	assert_eq "$(printf '%s' "$cmd" | od -c)" "$(printf '%b' "$stored" | od -c)" "COMMAND read back"
	assert_eq "hello two|lines" "$("$CTRLOG" logs --root "$ROOT" cmd1 | paste -sd'|')" "ctrlog logs"
	"$CTRLOG" ps -a --root "$ROOT" | grep -c '^cmd1 ' >/dev/null || fail "ps -a does not list cmd1"
}

# A backslash in a log path is escaped in the config and read back as it was.
log_path_backslash() {
	local dir=$T/back\\slash
	mkdir -p "$dir"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id bs1 --log-path "$dir/app.log" -- echo hi
	assert_eq 0 "$RC" "exit status ($(cat "$T/err"))"
	assert_eq "LOG_PATH=$T/back\\\\slash/app.log" "$(grep '^LOG_PATH=' "$ROOT/bs1/config")" "LOG_PATH"
	assert_eq hi "$("$CTRLOG" logs --root "$ROOT" bs1)" "ctrlog logs"
}

# --- misread inputs ------------------------------------------------------------------------------

relative_log_path() {
	mkdir -p "$T/work/rel"
	RC=0
	(cd "$T/work" && "$CTRLOG" run --root "$ROOT" --id rel1 --log-path rel/app.log -- echo hi) \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_eq 0 "$RC" "exit status ($(cat "$T/err"))"
	assert_eq "LOG_PATH=$T/work/rel/app.log" "$(grep '^LOG_PATH=' "$ROOT/rel1/config")" "LOG_PATH"
	local out rc=0
	out=$(cd / && "$CTRLOG" logs --root "$ROOT" rel1) || rc=$?
	assert_eq 0 "$rc" "logs status"
	assert_eq hi "$out" "logs from another directory"
}

# A relative --root: the default log path in the config is absolute too.
relative_root() {
	mkdir -p "$T/work2"
	RC=0
	(cd "$T/work2" && "$CTRLOG" run --root relroot --id rr1 -- echo hi) \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_eq 0 "$RC" "exit status ($(cat "$T/err"))"
	assert_eq "LOG_PATH=$T/work2/relroot/rr1/ctr.log" \
		"$(grep '^LOG_PATH=' "$T/work2/relroot/rr1/config")" "LOG_PATH"
	assert_eq hi "$(cd / && "$CTRLOG" logs --root "$T/work2/relroot" rr1)" "logs from another directory"
}

# --root '' is refused by every command, rather than meaning the default root ($CTRLOG_ROOT
# here, so that a broken build cannot touch the real default).
empty_root() {
	local cmd expect
	export CTRLOG_ROOT=$T/envroot
	for cmd in run logs follow ps rotate; do
		case $cmd in
		run) run_ctrlog "$T/out" "$T/err" run --root '' --id er1 -- echo hi; expect=125 ;;
		ps) run_ctrlog "$T/out" "$T/err" ps --root ''; expect=1 ;;
		*) run_ctrlog "$T/out" "$T/err" "$cmd" --root '' er1; expect=1 ;;
		esac
		assert_eq "$expect" "$RC" "$cmd: exit status"
		assert_eq "ctrlog: $cmd: --root: empty path" "$(cat "$T/err")" "$cmd: stderr"
		[ ! -s "$T/out" ] || fail "$cmd: printed $(cat "$T/out")"
	done
	[ ! -e "$T/envroot" ] || fail "a container was created under \$CTRLOG_ROOT"
}

# Bad journald values are reported as such, not as "cannot open the log" (checked before
# journald is needed, so no journald has to run here).
journald_values() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id jd1 --log-driver journald --log-tag $'a\nb' -- echo hi
	assert_eq 125 "$RC" "exit status (tag)"
	assert_eq "ctrlog: run: --log-tag: invalid tag 'a\\nb' (no newline or other control character)" \
		"$(cat "$T/err")" "stderr (tag)"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id jd1 --log-driver journald --log-tag '' -- echo hi
	assert_eq 125 "$RC" "exit status (empty tag)"
	assert_eq "ctrlog: run: --log-tag: empty tag" "$(cat "$T/err")" "stderr (empty tag)"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id jd1 --log-driver journald \
		--log-label $'K=a\nb' -- echo hi
	assert_eq 125 "$RC" "exit status (label)"
	assert_eq "ctrlog: run: --log-label: invalid label 'K=a\\nb' (its value holds a newline)" \
		"$(cat "$T/err")" "stderr (label)"
	no_container jd1
}

# --- final counters ------------------------------------------------------------------------------

# Rotations just before the command exits leave files for the compressor: --stats, printed
# once it is done, counts every .zst there is.
stats_compressed() {
	local d=$ROOT/zs
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id zs --stats --log-max-size 256k \
		--log-max-files 1000 --log-compress zstd:19 -- sh -c 'head -c 4000000 /dev/urandom | base64'
	assert_eq 0 "$RC" "exit status"
	local zst
	zst=$(find "$d" -name 'ctr.log.*.zst' | wc -l)
	[ "$zst" -ge 5 ] || fail "only $zst compressed files: $(ls "$d")"
	assert_eq "$zst" "$(stat_of compressed_files "$T/err")" "compressed_files"
	assert_eq 0 "$(stat_of compress_errors "$T/err")" "compress_errors"
	assert_eq "$(cat "$d"/ctr.log.*.zst | wc -c)" "$(stat_of compress_bytes_out "$T/err")" "compress_bytes_out"
}

# The writer: lines while the disk has room, then bursts while the test holds the disk full
# (each burst a chance for the marker to be tried and fail), then one line every 50 ms once
# the disk is free, until the test has seen the marker. Its last line number goes to $T/last.
disk_writer() {
	cat >"$T/writer" <<'SH'
#!/bin/sh
n=0
lines() { awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++) printf "line=%06d %0100d\n", i, 0 }'; n=$2; }
lines 1 500
touch "$T/at.1"; while [ ! -e "$T/go.1" ]; do sleep 0.02; done
i=0
while [ $i -lt 30 ]; do lines $((n + 1)) $((n + 20)); sleep 0.05; i=$((i + 1)); done
touch "$T/at.2"; while [ ! -e "$T/go.2" ]; do sleep 0.02; done
while [ ! -e "$T/seen" ]; do lines $((n + 1)) $((n + 1)); sleep 0.05; done
lines $((n + 1)) $((n + 10))
echo $n >"$T/last"
SH
	chmod +x "$T/writer"
}

marker_count() {
	[ "$(id -u)" = 0 ] || { echo "# skipped: needs root for a tmpfs"; return 0; }
	local disk=$T/disk pid log
	mkdir -p "$disk"
	mount -t tmpfs -o size=4m tmpfs "$disk"
	disk_writer
	"$CTRLOG" run --root "$disk/root" --id mk --log-max-size 0 --stats -- \
		env T="$T" "$T/writer" >/dev/null 2>"$T/stderr" &
	pid=$!
	track_pid $pid
	log=$disk/root/mk/ctr.log
	wait_for test -e "$T/at.1" || fail "writer did not start"
	dd if=/dev/zero of="$disk/filler" bs=4k status=none 2>/dev/null || true
	touch "$T/go.1"
	wait_for test -e "$T/at.2" || fail "writer stuck while the disk was full"
	rm -f "$disk/filler"
	touch "$T/go.2"
	local marker=ok rc=0
	wait_for 60 grep -qa '\[ctrlog\] [0-9]* bytes in [0-9]* lines were lost' "$log" || marker=
	touch "$T/seen"
	wait $pid || rc=$?
	[ -n "$marker" ] || { umount "$disk"; fail "no marker record"; }
	assert_eq 0 "$rc" "exit status ($(cat "$T/stderr"))"
	local last present missing claimed_lines claimed_bytes
	last=$(cat "$T/last")
	present=$(grep -a ' line=' "$log" | cut -c41- | sort -u | wc -l)
	missing=$((last - present))
	claimed_lines=$(sed -n 's/.*\[ctrlog\] [0-9]* bytes in \([0-9]*\) lines were lost.*/\1/p' "$log" |
		awk '{ s += $1 } END { print s + 0 }')
	claimed_bytes=$(sed -n 's/.*\[ctrlog\] \([0-9]*\) bytes in [0-9]* lines were lost.*/\1/p' "$log" |
		awk '{ s += $1 } END { print s + 0 }')
	umount "$disk"
	echo "written $last, in the log $present, lost $missing, markers claim $claimed_lines lines, $claimed_bytes bytes"
	[ "$missing" -gt 0 ] || fail "no line was lost: the disk never filled"
	assert_eq "$missing" "$claimed_lines" "lines the markers claim lost"
	assert_eq $((missing * 112)) "$claimed_bytes" "bytes the markers claim lost"
	assert_eq $((missing * 112)) "$(stat_of dropped_bytes "$T/stderr")" "--stats dropped_bytes"
}

check "50 x two foreground runs of one ID at once: one runs, the other is refused and changes nothing" race_foreground
check "50 x two --detach runs of one ID at once: one runs, the other is refused and changes nothing" race_detach
check "--log-tag with a newline and a key: refused, naming the tag" tag_injection
check "--log-path with a newline, or empty: refused" log_path_newline
check "--log-label whose value holds a newline: refused" label_newline
check "a refused --id, --name or --log-label holding a newline: one line naming it" refused_values_one_line
check "a command path with a newline and a key: stored escaped, read back exactly, logs reads the right file" command_path_newline
check "a backslash in --log-path round-trips through the config" log_path_backslash
check "a relative --log-path is made absolute: logs from another directory reads it" relative_log_path
check "a relative --root gives an absolute log path" relative_root
check "--root '' is refused by run, logs, follow, ps and rotate" empty_root
check "bad journald tag or label: reported as --log-tag / --log-label" journald_values
check "--stats compressed_files equals the .zst files at exit" stats_compressed
check "disk full: the markers' lost lines and bytes equal what is missing, failed markers not counted" marker_count
finish

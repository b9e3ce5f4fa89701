#!/usr/bin/env bash
# End-to-end: the command line's surface (issue 11): the fds the command inherits, one error
# style for every command, --version and per-command --help, rotate by name, reusing the ID of
# an exited container (--replace), and the messages for --id twice, a missing --root and a
# missing command path. Every message is checked by its exact text and status.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/cli_ux.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# expect STATUS MESSAGE ARGS... : `ctrlog ARGS...` exits STATUS, prints nothing on stdout and
# exactly MESSAGE (one line) on stderr.
expect() {
	local status=$1 msg=$2
	shift 2
	run_ctrlog "$T/out" "$T/err" "$@"
	assert_eq "$msg" "$(cat "$T/err")" "stderr of 'ctrlog $*'"
	assert_eq "$status" "$RC" "status of 'ctrlog $*'"
	[ ! -s "$T/out" ] || fail "stdout of 'ctrlog $*' not empty: $(head -c 200 "$T/out")"
}

# fds_of LOG : the lines the command logged (ls -1 of its fds: one record each), on one line
fds_of() { cut -c41- "$1" | tr -d '\r' | paste -sd' '; }

# --- A: file descriptors ---

fds_pipes() {
	exec 10</etc/passwd
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id fd1 -- sh -c 'ls -1 /proc/$$/fd'
	assert_eq 0 "$RC" "status ($(cat "$T/err"))"
	assert_eq "0 1 2" "$(fds_of "$ROOT/fd1/ctr.log")" "fds of the command"
}

fds_tty() {
	exec 10</etc/passwd
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id fd2 --tty -- sh -c 'ls -1 /proc/$$/fd'
	assert_eq 0 "$RC" "status ($(cat "$T/err"))"
	assert_eq "0 1 2" "$(fds_of "$ROOT/fd2/ctr.log")" "fds of the command"
}

fds_detach() {
	exec 10</etc/passwd
	"$CTRLOG" run --root "$ROOT" --id fd3 --detach -- sh -c 'ls -1 /proc/$$/fd' >/dev/null
	wait_for test -e "$ROOT/fd3/exit" || fail "the container did not finish"
	assert_eq "0 1 2" "$(fds_of "$ROOT/fd3/ctr.log")" "fds of the command"
}

fds_preserved() {
	echo preserved-content >"$T/three"
	exec 3<"$T/three" 4</etc/passwd 10</etc/passwd
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id fd4 --preserve-fds 1 -- \
		sh -c 'ls -1 /proc/$$/fd; read -r line <&3; echo "$line"'
	assert_eq 0 "$RC" "status ($(cat "$T/err"))"
	assert_eq "0 1 2 3 preserved-content" "$(fds_of "$ROOT/fd4/ctr.log")" "fds of the command, then what fd 3 read"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id fd5 --preserve-fds 2 --tty -- \
		sh -c 'ls -1 /proc/$$/fd'
	assert_eq "0 1 2 3 4" "$(fds_of "$ROOT/fd5/ctr.log")" "fds with --preserve-fds 2 --tty"
}

fds_bad_count() {
	local bad
	for bad in x -1 '' 1.5 1000001; do
		expect 125 "ctrlog: run: --preserve-fds: invalid count '$bad' (expected 0 to 1000000: how many descriptors from 3 on to pass)" \
			run --root "$ROOT" --preserve-fds "$bad" -- true
	done
}

# --- B: one error style ---

errors_options() {
	expect 125 "ctrlog: run: unknown option '--bogus'" run --bogus -- true
	expect 1 "ctrlog: logs: unknown option '--bogus'" logs --bogus x
	expect 1 "ctrlog: follow: unknown option '--bogus'" follow --bogus x
	expect 1 "ctrlog: ps: unknown option '--bogus'" ps --bogus
	expect 1 "ctrlog: rotate: unknown option '--bogus'" rotate --bogus x
	expect 1 "ctrlog: logs: unknown option '--bogus'" logs --bogus=1 x
	expect 1 "ctrlog: logs: unknown option '-x'" logs -x web
	expect 1 "ctrlog: ps: unknown option '-z'" ps -az
	expect 125 "ctrlog: run: option '--root' needs a value" run --root
	expect 125 "ctrlog: run: option '--preserve-fds' needs a value" run --preserve-fds
	expect 1 "ctrlog: logs: option '--tail' needs a value" logs --tail
	expect 1 "ctrlog: logs: option '-n' needs a value" logs -fn
	expect 1 "ctrlog: follow: option '--since' needs a value" follow x --since
	expect 1 "ctrlog: ps: option '--root' needs a value" ps --root
	expect 1 "ctrlog: rotate: option '--root' needs a value" rotate --root
	expect 125 "ctrlog: run: option '--tty' takes no value" run --tty=yes -- true
	expect 1 "ctrlog: logs: option '--follow' takes no value" logs --follow=yes x
	expect 1 "ctrlog: ps: option '--all' takes no value" ps --all=1
	expect 1 "ctrlog: logs: option '--s' is ambiguous" logs --s x web
}

errors_arguments() {
	expect 1 "ctrlog: logs: missing container ID or name" logs --root "$ROOT"
	expect 1 "ctrlog: rotate: missing container ID or name" rotate --root "$ROOT"
	expect 1 "ctrlog: rotate: unexpected argument 'b' (one container ID or name)" rotate a b
	expect 1 "ctrlog: logs: unexpected argument 'b' (one container ID or name)" logs a b
	expect 1 "ctrlog: ps: unexpected argument 'x' (ps takes no arguments)" ps x
	expect 1 "ctrlog: unknown command 'x' (expected run, logs, follow, ps, rotate or version)" x
	expect 1 "ctrlog: unknown option '--bogus'" --bogus
	expect 1 "ctrlog: help: unknown command 'x'" help x
	expect 1 "ctrlog: version: unexpected argument 'x'" version x
}

# --- C: version and help ---

version() {
	local want
	want=$(sed -nE "s/^  version: '([^']+)',$/\1/p" "$E2E_DIR/../../meson.build")
	[ -n "$want" ] || fail "no version in meson.build"
	run_ctrlog "$T/out" "$T/err" --version
	assert_eq "0|ctrlog $want|" "$RC|$(cat "$T/out")|$(cat "$T/err")" "--version: status|stdout|stderr"
	run_ctrlog "$T/out" "$T/err" version
	assert_eq "0|ctrlog $want|" "$RC|$(cat "$T/out")|$(cat "$T/err")" "version: status|stdout|stderr"
}

# help_has CMD WORD... : `ctrlog CMD --help` (status 0, nothing on stderr) mentions every WORD
help_has() {
	local cmd=$1 w
	shift
	run_ctrlog "$T/help" "$T/err" "$cmd" --help
	assert_eq "0|" "$RC|$(cat "$T/err")" "ctrlog $cmd --help: status|stderr"
	assert_eq "usage: ctrlog $cmd " "$(head -n 1 "$T/help" | cut -c1-$((15 + ${#cmd})))" "first line"
	for w in "$@"; do
		grep -qF -- "$w" "$T/help" || fail "ctrlog $cmd --help does not mention '$w'"
	done
	run_ctrlog "$T/out" "$T/err" help "$cmd"
	cmp -s "$T/help" "$T/out" || fail "ctrlog help $cmd differs from ctrlog $cmd --help"
	run_ctrlog "$T/out" "$T/err" "$cmd" -h
	cmp -s "$T/help" "$T/out" || fail "ctrlog $cmd -h differs from ctrlog $cmd --help"
}

ROOT_WORDS=(--root '$CTRLOG_ROOT' /var/lib/ctrlog '$XDG_STATE_HOME/ctrlog' '~/.local/state/ctrlog')

help_commands() {
	help_has run --id --name --root --replace --tty --detach --preserve-fds --cgroups --stats \
		--log-driver k8s-file journald passthrough none --log-path --log-max-size \
		'(default 10m)' --log-max-files '(default 5)' --log-compress '(default zstd:1)' \
		--log-max-line '(default 16k)' --log-mode non-blocking --log-buffer-size '(default 1m)' \
		--log-tag --log-label 125 126 127 "${ROOT_WORDS[@]}"
	help_has logs --follow --tail --since --until --timestamps --stream stdout\|stderr\|all \
		'RFC 3339' 'Unix seconds' 10m 1h30m "${ROOT_WORDS[@]}"
	help_has follow --tail --since --until --timestamps --stream "${ROOT_WORDS[@]}"
	help_has ps --all ID NAME STATUS DRIVERS LOG-SIZE running exited unknown "${ROOT_WORDS[@]}"
	help_has rotate SIGUSR1 PREFIX NAME "${ROOT_WORDS[@]}"
	run_ctrlog "$T/global" "$T/err" --help
	assert_eq "0|" "$RC|$(cat "$T/err")" "ctrlog --help: status|stderr"
	local c
	for c in run logs follow ps rotate version --version 'COMMAND --help'; do
		grep -qF -- "$c" "$T/global" || fail "ctrlog --help does not mention '$c'"
	done
	run_ctrlog "$T/out" "$T/err" logs --help
	! cmp -s "$T/global" "$T/out" || fail "ctrlog logs --help printed the global help"
	# After the command, --help is the command's argument.
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id h1 -- printf '%s\n' --help
	assert_eq "0|--help" "$RC|$(cut -c41- "$ROOT/h1/ctr.log")" "run -- printf '%s\n' --help"
}

# --- D: rotate by name or prefix ---

rotate_by_name() {
	"$CTRLOG" run --root "$ROOT" --id rot-abc123 --name rotsvc --detach -- \
		sh -c "echo one; until [ -e '$T/rot-two' ]; do sleep 0.05; done; echo two; while :; do sleep 0.05; done" >/dev/null
	"$CTRLOG" run --root "$ROOT" --id rot-abd456 --detach -- sh -c 'exec sleep 30' >/dev/null
	wait_for grep -q one "$ROOT/rot-abc123/ctr.log" || fail "first line not logged"
	run_ctrlog "$T/out" "$T/err" rotate --root "$ROOT" rotsvc
	assert_eq "0|" "$RC|$(cat "$T/err")" "rotate by name: status|stderr"
	wait_for test -f "$ROOT/rot-abc123/ctr.log.1" || fail "rotate by name did not rotate"
	# an empty live file is not rotated (issue 12.5): a line first
	touch "$T/rot-two"
	wait_for grep -q two "$ROOT/rot-abc123/ctr.log" || fail "second line not logged"
	run_ctrlog "$T/out" "$T/err" rotate --root "$ROOT" rot-abc
	assert_eq "0|" "$RC|$(cat "$T/err")" "rotate by prefix: status|stderr"
	wait_for test -f "$ROOT/rot-abc123/ctr.log.2" || fail "rotate by prefix did not rotate"
	expect 1 "ctrlog: rotate: 'rot-ab' is ambiguous: it matches 2 containers: rot-abc123, rot-abd456" \
		rotate --root "$ROOT" rot-ab
	expect 1 "ctrlog: rotate: no container 'nosuch' under $ROOT" rotate --root "$ROOT" nosuch
	kill -TERM "$(cat "$ROOT/rot-abc123/monitor.pid")" "$(cat "$ROOT/rot-abd456/monitor.pid")"
	wait_for test -e "$ROOT/rot-abc123/exit" || fail "rotsvc did not stop"
	wait_for test -e "$ROOT/rot-abd456/exit" || fail "rot-abd456 did not stop"
	expect 1 "ctrlog: rotate: container 'rot-abc123' has no running monitor (it has exited)" \
		rotate --root "$ROOT" rotsvc
}

# --- E: reusing an ID ---

# the content of every file of the set under dir (rotated oldest first, then the live file)
set_content() {
	local d=$1 f
	for f in $(ls "$d" | sed -nE 's/^ctr\.log\.([0-9]+)$/\1/p' | sort -n); do
		cut -c41- "$d/ctr.log.$f"
	done
	cut -c41- "$d/ctr.log"
}

replace_exited() {
	local d=$ROOT/rep
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id rep --log-max-size 1k --log-compress none \
		--log-max-files 100 -- sh -c 'i=0; while [ $i -lt 100 ]; do echo "old line $i"; i=$((i + 1)); done; exit 3'
	assert_eq 3 "$RC" "first run"
	[ -f "$d/ctr.log.2" ] || fail "the first run did not rotate: $(ls -A "$d")"
	expect 125 "ctrlog: run: container 'rep' already exists (exited); use --replace to start a fresh log, or choose another --id" \
		run --root "$ROOT" --id rep --log-max-size 1k -- echo new
	grep -q 'old line 99' "$d/ctr.log" || fail "the refused run changed the log"
	printf '3\n' | cmp -s - "$d/exit" || fail "the refused run changed the exit file: $(cat "$d/exit")"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id rep --replace --log-max-size 1k -- echo new
	assert_eq "0|" "$RC|$(cat "$T/err")" "--replace: status|stderr"
	assert_eq "new" "$(set_content "$d")" "the log after --replace"
	assert_eq "config ctr.log exit monitor.pid" "$(ls -A "$d" | paste -sd' ')" "files after --replace"
	printf '0\n' | cmp -s - "$d/exit" || fail "exit file after --replace: $(cat "$d/exit")"
	# numbering starts again at 1
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id rep --replace --log-max-size 1k \
		--log-compress none -- sh -c 'i=0; while [ $i -lt 40 ]; do echo "third $i"; i=$((i + 1)); done'
	assert_eq "ctr.log ctr.log.1" "$(ls "$d" | grep ctr.log | paste -sd' ')" "log files of the third run"
}

replace_external_log_path() {
	mkdir -p "$T/ext"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id repx --log-path "$T/ext/app.log" \
		--log-max-size 1k -- sh -c 'i=0; while [ $i -lt 60 ]; do echo "old $i"; i=$((i + 1)); done'
	echo keep >"$T/ext/app.log.notes"
	[ -f "$T/ext/app.log.2" ] || fail "no rotation: $(ls -A "$T/ext")"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id repx --replace --log-path "$T/ext/app.log" -- echo new
	assert_eq "0|" "$RC|$(cat "$T/err")" "--replace: status|stderr"
	assert_eq "app.log app.log.notes" "$(ls -A "$T/ext" | paste -sd' ')" "files next to the log"
	assert_eq "new" "$(cut -c41- "$T/ext/app.log")" "the log after --replace"
}

replace_running_refused() {
	"$CTRLOG" run --root "$ROOT" --id reprun --detach -- sh -c 'echo first; exec sleep 30' >/dev/null
	wait_for grep -q first "$ROOT/reprun/ctr.log" || fail "first line not logged"
	local pid
	pid=$(cat "$ROOT/reprun/monitor.pid")
	expect 125 "ctrlog: run: container 'reprun' is already running (monitor PID $pid)" \
		run --root "$ROOT" --id reprun --replace -- echo second
	assert_eq first "$(cut -c41- "$ROOT/reprun/ctr.log")" "the running container's log"
	kill -TERM "$pid"
	wait_for test -e "$ROOT/reprun/exit" || fail "the container did not stop"
}

crash_continued() {
	"$CTRLOG" run --root "$ROOT" --id crashed -- sh -c 'echo before; echo $$ >"$0"; exec sleep 30' \
		"$T/cpid" >/dev/null 2>&1 </dev/null &
	local pid=$!
	track_pid $pid
	wait_for grep -qs before "$ROOT/crashed/ctr.log" || fail "first line not logged"
	wait_for test -s "$T/cpid" || fail "no PID of the command"
	track_pid "$(cat "$T/cpid")"
	kill -KILL $pid
	wait $pid 2>/dev/null || true
	kill -KILL "$(cat "$T/cpid")"
	[ ! -e "$ROOT/crashed/exit" ] || fail "an exit file after kill -9 of the monitor"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id crashed -- echo after
	assert_eq "0|" "$RC|$(cat "$T/err")" "restart: status|stderr"
	assert_eq "before|after" "$(cut -c41- "$ROOT/crashed/ctr.log" | paste -sd'|')" "the continued log"
}

# --- F: the remaining messages ---

id_twice() {
	expect 125 "ctrlog: run: --id: given twice ('a', then 'b'); a container has one ID" \
		run --root "$ROOT" --id a --id b -- true
	expect 125 "ctrlog: run: --name: given twice ('a', then 'a'); a container has one name" \
		run --root "$ROOT" --name a --name a -- true
	[ ! -e "$ROOT/a" ] && [ ! -e "$ROOT/b" ] || fail "a refused run left a container"
}

ps_missing_root() {
	expect 1 "ctrlog: ps: cannot read $T/nonexistent: No such file or directory" ps --root "$T/nonexistent"
	RC=0
	CTRLOG_ROOT=$T/nonexistent2 "$CTRLOG" ps >"$T/out" 2>"$T/err" || RC=$?
	assert_eq "1|ctrlog: ps: cannot read $T/nonexistent2: No such file or directory" \
		"$RC|$(cat "$T/err")" "ps with \$CTRLOG_ROOT: status|stderr"
	# The default root of a user who never ran anything: an empty list. (root's default,
	# /var/lib/ctrlog, may exist: as root, ask as nobody.)
	local as=()
	if [ "$(id -u)" = 0 ]; then
		as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		"${as[@]}" test -x "$CTRLOG" || { echo "nobody cannot run $CTRLOG: not checked"; return 0; }
	fi
	RC=0
	env -u CTRLOG_ROOT XDG_STATE_HOME=/nonexistent-ctrlog-e2e-state "${as[@]}" \
		"$CTRLOG" ps >"$T/out" 2>"$T/err" || RC=$?
	assert_eq "0|" "$RC|$(cat "$T/err")" "ps with a default root that does not exist yet: status|stderr"
	assert_match '^ID +NAME +STATUS +DRIVERS +LOG-SIZE$' "$(cat "$T/out")" "the empty list"
}

command_missing() {
	expect 127 "ctrlog: run: /nonexistent/ctrlog-e2e-cmd: no such file" \
		run --root "$ROOT" -- /nonexistent/ctrlog-e2e-cmd
	expect 127 "ctrlog: run: ctrlog-e2e-no-such-command: command not found" \
		run --root "$ROOT" -- ctrlog-e2e-no-such-command
	printf '#!/nonexistent/interpreter\n' >"$T/script"
	# (valgrind cannot survive an execve that fails after its own checks passed)
	if [ -z "${CTRLOG_REAL:-}" ]; then
		chmod +x "$T/script"
		expect 127 "ctrlog: run: $T/script: its interpreter was not found" run --root "$ROOT" -- "$T/script"
	fi
	chmod -x "$T/script"
	expect 126 "ctrlog: run: $T/script: Permission denied" run --root "$ROOT" -- "$T/script"
}

check "an inherited fd 10 does not reach the command (pipes): fds 0 1 2" fds_pipes
check "an inherited fd 10 does not reach the command (--tty): fds 0 1 2" fds_tty
check "an inherited fd 10 does not reach the command (--detach): fds 0 1 2" fds_detach
check "--preserve-fds N passes fds 3..3+N-1, and only those" fds_preserved
check "bad --preserve-fds -> 125, exact message" fds_bad_count
check "unknown options, missing values, values of flags: one style for every command" errors_options
check "missing and extra arguments, unknown commands: exact messages" errors_arguments
check "ctrlog --version and ctrlog version print the meson project version" version
check "ctrlog COMMAND --help: that command's options, defaults and formats" help_commands
check "ctrlog rotate takes a name or a unique prefix" rotate_by_name
check "exited ID refused (125, exact message); --replace starts a fresh log set" replace_exited
check "--replace removes the old set at an external --log-path, nothing else" replace_external_log_path
check "--replace of a running container is refused" replace_running_refused
check "after a crashed monitor the same ID continues its log without a flag" crash_continued
check "--id or --name twice -> 125, exact message" id_twice
check "ps with a --root or \$CTRLOG_ROOT that does not exist -> 1, names it" ps_missing_root
check "a command path that does not exist -> 127 'no such file'; a bare name 'command not found'" command_missing
finish

#!/usr/bin/env bash
# End-to-end: `ctrlog run` argument errors, exec failures and refusals.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/run_args.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# bad_arg NEEDLE ARGS... : `ctrlog ARGS...` with a fresh root must give
# status 125, nothing on stdout, exactly one line on stderr containing NEEDLE
# (case-insensitive), and create nothing under the root nor next to it.
bad_arg() {
	local needle=$1
	shift
	local r=$T/w/root
	rm -rf "$T/w"
	mkdir -p "$T/w"
	RC=0
	(cd "$T/w" && "$CTRLOG" "$@" >"$T/out" 2>"$T/err" </dev/null) || RC=$?
	echo "stderr: $(head -c 300 "$T/err")"
	assert_eq 125 "$RC" "exit status"
	[ ! -s "$T/out" ] || fail "stdout not empty: $(head -c 200 "$T/out")"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines"
	grep -qiF -- "$needle" "$T/err" || fail "stderr does not name '$needle'"
	if [ -d "$r" ]; then
		local left
		left=$(find "$r" -mindepth 1 | head -n 5)
		[ -z "$left" ] || fail "created under the root: $left"
	fi
	local extra
	extra=$(find "$T/w" -mindepth 1 ! -path "$r" | head -n 5)
	[ -z "$extra" ] || fail "created next to the root: $extra"
}

R() { echo "$T/w/root"; }

a_driver() { bad_arg --log-driver run --root "$(R)" --id c --log-driver foo -- true; }
a_size_suffix() { bad_arg --log-max-size run --root "$(R)" --id c --log-max-size 10x -- true; }
a_size_empty() { bad_arg --log-max-size run --root "$(R)" --id c --log-max-size '' -- true; }
a_id_slash() { bad_arg --id run --root "$(R)" --id a/b -- true; }
a_id_dotdot() { bad_arg --id run --root "$(R)" --id .. -- true; }
a_id_dotdot_x() { bad_arg --id run --root "$(R)" --id ../x -- true; }
a_id_hidden() { bad_arg --id run --root "$(R)" --id .hidden -- true; }
a_id_long() { bad_arg --id run --root "$(R)" --id "$(printf 'a%.0s' $(seq 200))" -- true; }
a_no_command() { bad_arg command run --root "$(R)"; }
a_unknown_opt() { bad_arg --bogus run --root "$(R)" --bogus -- true; }
a_compress() { bad_arg --log-compress run --root "$(R)" --id c --log-compress zstd:99 -- true; }
a_label() { bad_arg --log-label run --root "$(R)" --id c --log-label bad=1 -- true; }
a_mode() { bad_arg --log-mode run --root "$(R)" --id c --log-mode sometimes -- true; }
a_max_files() { bad_arg --log-max-files run --root "$(R)" --id c --log-max-files abc -- true; }
a_max_line_zero() { bad_arg --log-max-line run --root "$(R)" --id c --log-max-line 0 -- true; }
a_missing_value() { bad_arg --id run --root "$(R)" --id; }
a_id_dash() { bad_arg --id run --root "$(R)" --id -x -- true; }
a_id_empty() { bad_arg --id run --root "$(R)" --id '' -- true; }

not_found() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id nf -- /nonexistent/ctrlog-e2e-nope
	echo "stderr: $(head -c 300 "$T/err")"
	assert_eq 127 "$RC" "exit status"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines"
	grep -q ctrlog-e2e-nope "$T/err" || fail "stderr does not name the command"
	# also through PATH lookup
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id nf2 -- ctrlog-e2e-no-such-command
	assert_eq 127 "$RC" "exit status (PATH lookup)"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines (PATH lookup)"
}

not_executable() {
	printf '#!/bin/sh\necho should-not-run\n' >"$T/noexec.sh"
	chmod 0644 "$T/noexec.sh"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id nx -- "$T/noexec.sh"
	echo "stderr: $(head -c 300 "$T/err")"
	assert_eq 126 "$RC" "exit status"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines"
	grep -q noexec.sh "$T/err" || fail "stderr does not name the command"
}

already_running() {
	local id
	id=$("$CTRLOG" run --detach --root "$ROOT" --id dup -- sh -c 'echo first; exec sleep 30' 2>"$T/err0" </dev/null)
	assert_eq dup "$id" "printed ID"
	wait_for grep -q first "$ROOT/dup/ctr.log" || fail "first container never logged"
	cp "$ROOT/dup/ctr.log" "$T/log.before"
	cp "$ROOT/dup/config" "$T/config.before"
	local mpid
	mpid=$(cat "$ROOT/dup/monitor.pid")
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id dup -- sh -c 'echo second'
	echo "stderr: $(head -c 300 "$T/err")"
	assert_eq 125 "$RC" "exit status"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines"
	grep -qi 'already running' "$T/err" || fail "stderr does not say 'already running'"
	# the running container is untouched
	cmp -s "$T/log.before" "$ROOT/dup/ctr.log" || fail "the first container's log changed"
	cmp -s "$T/config.before" "$ROOT/dup/config" || fail "the first container's config changed"
	assert_eq "$mpid" "$(cat "$ROOT/dup/monitor.pid")" "monitor.pid"
	[ ! -e "$ROOT/dup/exit" ] || fail "an exit file appeared"
	# same with --detach
	RC=0
	"$CTRLOG" run --detach --root "$ROOT" --id dup -- true >"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_eq 125 "$RC" "exit status (--detach)"
	grep -qi 'already running' "$T/err" || fail "stderr does not say 'already running' (--detach)"
	# stop the first one: SIGTERM is forwarded to sleep -> 143
	kill -TERM "$mpid"
	wait_for test -e "$ROOT/dup/exit" || fail "first container did not stop on SIGTERM"
	printf '143\n' | cmp -s - "$ROOT/dup/exit" || fail "exit file of the first: $(cat "$ROOT/dup/exit")"
}

rerun_after_exit() {
	# an exited container's ID is refused: its log would otherwise mix two runs
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id again -- echo one
	assert_eq 0 "$RC" "first run"
	cp "$ROOT/again/ctr.log" "$T/log.before"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id again -- sh -c 'echo two; exit 4'
	assert_eq 125 "$RC" "second run"
	assert_eq "ctrlog: run: container 'again' already exists (exited); use --replace to start a fresh log, or choose another --id" \
		"$(cat "$T/err")" "stderr"
	[ ! -s "$T/out" ] || fail "stdout not empty: $(head -c 200 "$T/out")"
	cmp -s "$T/log.before" "$ROOT/again/ctr.log" || fail "the log changed: $(cat "$ROOT/again/ctr.log")"
	printf '0\n' | cmp -s - "$ROOT/again/exit" || fail "exit file: $(cat "$ROOT/again/exit")"
}

symlink_log_refused() {
	mkdir -p "$ROOT/sym"
	chmod 0700 "$ROOT/sym"
	printf 'precious\n' >"$T/outside"
	chmod 0600 "$T/outside"
	cp -p "$T/outside" "$T/outside.orig"
	ln -s "$T/outside" "$ROOT/sym/ctr.log"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id sym -- sh -c "echo evil; touch '$T/ran'"
	echo "stderr: $(head -c 300 "$T/err")"
	assert_eq 125 "$RC" "exit status"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines"
	cmp -s "$T/outside" "$T/outside.orig" || fail "the symlink target changed: $(head -c 100 "$T/outside")"
	assert_eq 600 "$(stat -c %a "$T/outside")" "mode of the symlink target"
	[ -L "$ROOT/sym/ctr.log" ] || fail "the symlink was replaced"
	[ ! -e "$T/ran" ] || fail "the command ran although ctrlog failed with 125"
}

symlink_dir_refused() {
	mkdir -p "$ROOT" "$T/outdir"
	ln -s "$T/outdir" "$ROOT/symdir"
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id symdir -- echo evil
	echo "stderr: $(head -c 300 "$T/err")"
	assert_eq 125 "$RC" "exit status"
	assert_eq 1 "$(wc -l <"$T/err")" "stderr lines"
	local left
	left=$(find "$T/outdir" -mindepth 1 | head -n 5)
	[ -z "$left" ] || fail "wrote into the symlinked directory: $left"
}

check "unknown driver --log-driver foo -> 125, one line" a_driver
check "bad size --log-max-size 10x -> 125, one line" a_size_suffix
check "empty size --log-max-size '' -> 125, one line" a_size_empty
check "ID with / (a/b) -> 125, one line" a_id_slash
check "ID .. -> 125, one line" a_id_dotdot
check "ID ../x -> 125, one line" a_id_dotdot_x
check "ID .hidden -> 125, one line" a_id_hidden
check "ID of 200 characters -> 125, one line" a_id_long
check "ID starting with - -> 125, one line" a_id_dash
check "empty ID -> 125, one line" a_id_empty
check "missing command -> 125, one line" a_no_command
check "--log-mode sometimes -> 125, one line" a_mode
check "--log-max-files abc -> 125, one line" a_max_files
check "--log-max-line 0 -> 125, one line" a_max_line_zero
check "option without its value (--id at the end) -> 125, one line" a_missing_value
check "unknown option --bogus -> 125, one line" a_unknown_opt
check "--log-compress zstd:99 -> 125, one line" a_compress
check "--log-label bad=1 (lower-case key) -> 125, one line" a_label
check "command not found -> 127, one line" not_found
check "command not executable -> 126, one line" not_executable
check "same --id while running -> 125 'already running', first untouched" already_running
check "same --id after exit -> 125 'already exists (exited)', old log and exit status kept" rerun_after_exit
check "symlink at <root>/<id>/ctr.log refused with 125, target unchanged" symlink_log_refused
check "symlink at <root>/<id> refused with 125, nothing written through it" symlink_dir_refused
finish

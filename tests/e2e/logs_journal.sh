#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end: `ctrlog logs` and `ctrlog follow` on journald-only containers
# (issue 6, item 5), read back through sd-journal from a private journald.
# Usage (as root): CTRLOG=build/cli/ctrlog tests/e2e/logs_journal.sh
set -euo pipefail
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/journald-env.sh"
journald_reexec "$0" "$@" # from here on: in a private mount namespace
. "$E2E/lib.sh"

journald_start "$T" || { echo "Bail out! cannot start a private systemd-journald"; exit 1; }
trap 'set +e; journald_stop; journald_reap_all "$T"; _e2e_cleanup' EXIT


# run_jd ID ARGS... : a journald-only container, run to its end
run_jd() {
	local id=$1
	shift
	run_ctrlog "$T/run.out" "$T/run.err" run --root "$ROOT" --log-driver journald --id "$id" "$@"
	[ "$RC" = 0 ] || fail "ctrlog run exited $RC: $(head -c 300 "$T/run.err")"
}

# logs ARGS... : ctrlog logs, stdout to $T/out, stderr to $T/err, status in $RC
# (no journald_sync first: ctrlog logs asks journald to store what it has queued)
logs() { run_ctrlog "$T/out" "$T/err" logs --root "$ROOT" "$@"; }

logs_ok() {
	logs "$@"
	[ "$RC" = 0 ] || fail "ctrlog logs $* exited $RC: $(head -c 300 "$T/err")"
}

all_lines() {
	local id
	id=$(new_id)
	run_jd "$id" --name jweb -- sh -c '
		i=1
		while [ $i -le 3000 ]; do
			echo "out $i"
			if [ $((i % 30)) -eq 0 ]; then echo "err $((i / 30))" >&2; fi
			i=$((i + 1))
		done'
	seq 1 3000 | sed 's/^/out /' >"$T/out.exp"
	seq 1 100 | sed 's/^/err /' >"$T/err.exp"
	logs_ok "$id"
	cmp -s "$T/out.exp" "$T/out" ||
		fail "stdout is not 'out 1'..'out 3000' in order: $(diff "$T/out.exp" "$T/out" | head -n 4 | tr '\n' ' ')"
	cmp -s "$T/err.exp" "$T/err" ||
		fail "stderr is not 'err 1'..'err 100' in order: $(diff "$T/err.exp" "$T/err" | head -n 4 | tr '\n' ' ')"
	# by name and by prefix, and both streams into one file: the journal's order
	"$CTRLOG" logs --root "$ROOT" jweb >"$T/both" 2>&1 || fail "ctrlog logs jweb failed"
	jctl CONTAINER_ID_FULL="$id" -o cat >"$T/both.exp"
	cmp -s "$T/both.exp" "$T/both" || fail "stdout+stderr into one file differ from the journal's order"
	logs_ok "${id:0:16}" --stream stderr
	cmp -s "$T/err.exp" "$T/err" || fail "--stream stderr: stderr differs"
	[ ! -s "$T/out" ] || fail "--stream stderr printed on stdout"
	logs_ok --stream stdout "$id"
	cmp -s "$T/out.exp" "$T/out" || fail "--stream stdout: stdout differs"
	[ ! -s "$T/err" ] || fail "--stream stdout printed on stderr: $(head -n 2 "$T/err")"
}

long_lines() {
	local id
	id=$(new_id)
	head -c 90000 /dev/urandom | base64 -w0 >"$T/rand"
	head -c 40000 "$T/rand" >"$T/a"
	tail -c 20000 "$T/rand" >"$T/b"
	{ echo before; cat "$T/a"; echo; echo after; } >"$T/in.out"
	{ echo e-before; cat "$T/b"; echo; echo e-after; } >"$T/in.err"
	run_jd "$id" -- sh -c "cat '$T/in.out' & cat '$T/in.err' >&2; wait"
	# the journal holds pieces: 40,000 bytes = 3, 20,000 bytes = 2
	journald_sync
	assert_eq 9 "$(jctl CONTAINER_ID_FULL="$id" -o cat | wc -l)" "journal entries"
	logs_ok "$id"
	cmp -s "$T/in.out" "$T/out" || fail "stdout differs from the input (sizes $(wc -c <"$T/in.out") / $(wc -c <"$T/out"))"
	cmp -s "$T/in.err" "$T/err" || fail "stderr differs from the input (sizes $(wc -c <"$T/in.err") / $(wc -c <"$T/err"))"
	# --max-line 1k: the same 40,000 bytes in 40 pieces
	id=$(new_id)
	run_jd "$id" --log-max-line 1k -- cat "$T/in.out"
	logs_ok "$id"
	cmp -s "$T/in.out" "$T/out" || fail "--log-max-line 1k: stdout differs from the input"
}

binary_content() {
	local id
	id=$(new_id)
	{
		printf '\000'
		for i in $(seq 1 255); do [ "$i" = 10 ] || printf "\\$(printf %03o "$i")"; done
		printf '\n'
		printf 'bad \377\376 utf-8 \303\050 end\n'
		printf 'caf\303\251 ok\n'
		printf 'carriage\r\n'
		printf '\n'
		printf 'nul\000inside\n'
	} >"$T/bin"
	run_jd "$id" -- cat "$T/bin"
	logs_ok "$id"
	cmp -s "$T/bin" "$T/out" || fail "output differs from the input bytes: $(cmp "$T/bin" "$T/out" 2>&1 | head -n 1)"
}

tail_lines() {
	local id
	id=$(new_id)
	# 200 lines; line 195 is 40,000 bytes long (3 pieces); stderr lines in between
	run_jd "$id" -- sh -c "
		i=1
		while [ \$i -le 200 ]; do
			if [ \$i -eq 195 ]; then cat '$T/a'; echo; else echo \"line \$i\"; fi
			if [ \$((i % 7)) -eq 0 ]; then echo \"err \$i\" >&2; fi
			i=\$((i + 1))
		done"
	"$CTRLOG" logs --root "$ROOT" "$id" >"$T/all" 2>&1 || fail "ctrlog logs failed"
	assert_eq 228 "$(wc -l <"$T/all")" "lines in all"
	"$CTRLOG" logs --root "$ROOT" --tail 10 "$id" >"$T/t10" 2>&1 || fail "ctrlog logs --tail 10 failed"
	tail -n 10 "$T/all" | cmp -s - "$T/t10" ||
		fail "--tail 10 is not the last 10 lines: $(cut -c1-30 "$T/t10" | tr '\n' '|')"
	# Which stream's lines come last depends on how the monitor's reads interleaved them; on
	# stdout alone the last 10 lines are 191..200, the 40,000-byte line 195 among them.
	"$CTRLOG" logs --root "$ROOT" --tail 10 --stream stdout "$id" >"$T/t10" 2>&1 ||
		fail "ctrlog logs --tail 10 --stream stdout failed"
	grep -c "^$(head -c 100 "$T/a")" "$T/t10" >/dev/null || fail "--tail 10 lacks the long line"
	assert_eq 10 "$(wc -l <"$T/t10")" "--tail 10 --stream stdout: lines"
	logs_ok --tail 3 --stream stderr "$id"
	printf 'err %s\n' 182 189 196 | cmp -s - "$T/err" || fail "--tail 3 --stream stderr: $(tr '\n' '|' <"$T/err")"
	[ ! -s "$T/out" ] || fail "--tail 3 --stream stderr printed on stdout"
	logs_ok -n 0 "$id"
	[ ! -s "$T/out" ] && [ ! -s "$T/err" ] || fail "--tail 0 printed something"
	logs_ok -n 100000 "$id"
	assert_eq 200 "$(wc -l <"$T/out")" "--tail 100000: stdout lines"
	logs_ok -n all "$id"
	assert_eq 200 "$(wc -l <"$T/out")" "--tail all: stdout lines"
}

since_until() {
	local id mid
	id=$(new_id)
	run_jd "$id" -- sh -c "
		for i in 1 2 3 4 5; do echo \"first \$i\"; done
		sleep 1
		date +%s.%N >'$T/mid'
		sleep 1
		for i in 1 2 3 4 5; do echo \"second \$i\"; done"
	mid=$(cat "$T/mid")
	logs_ok --since "$mid" "$id"
	printf 'second %s\n' 1 2 3 4 5 | cmp -s - "$T/out" || fail "--since: $(tr '\n' '|' <"$T/out")"
	logs_ok --until "$mid" "$id"
	printf 'first %s\n' 1 2 3 4 5 | cmp -s - "$T/out" || fail "--until: $(tr '\n' '|' <"$T/out")"
	logs_ok --until "$mid" --tail 2 "$id"
	printf 'first %s\n' 4 5 | cmp -s - "$T/out" || fail "--until --tail 2: $(tr '\n' '|' <"$T/out")"
	logs_ok --since "$mid" --tail 2 "$id"
	printf 'second %s\n' 4 5 | cmp -s - "$T/out" || fail "--since --tail 2: $(tr '\n' '|' <"$T/out")"
	logs_ok --since "$mid" --tail 20 "$id"
	assert_eq 5 "$(wc -l <"$T/out")" "--since --tail 20: lines"
	logs_ok -t "$id"
	assert_eq 10 "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z (first|second) [1-5]$' "$T/out")" \
		"--timestamps lines in the k8s-file time format"
	# the printed times agree with the journal's __REALTIME_TIMESTAMP
	assert_eq "$(jctl CONTAINER_ID_FULL="$id" -o json | jq -r '.__REALTIME_TIMESTAMP' | head -n 1)" \
		"$(head -n 1 "$T/out" | cut -d' ' -f1 | xargs -I{} date -d {} +%s%6N)" "first timestamp (µs)"
}

follow_writer() {
	local id pid i
	id=$(new_id)
	# 20,000 numbered lines with short sleeps, so that follow really waits
	run_ctrlog "$T/run.out" "$T/run.err" run --detach --root "$ROOT" --log-driver journald \
		--id "$id" -- sh -c '
		i=1
		while [ $i -le 20000 ]; do
			echo $i
			if [ $((i % 500)) -eq 0 ]; then sleep 0.05; fi
			i=$((i + 1))
		done'
	[ "$RC" = 0 ] || fail "ctrlog run --detach exited $RC: $(head -c 300 "$T/run.err")"
	"$CTRLOG" follow --root "$ROOT" "$id" >"$T/fout" 2>"$T/ferr" &
	pid=$!
	track_pid "$pid"
	wait_for 60 eval '! pid_alive '"$pid" || fail "follow still runs 60 s later ($(wc -l <"$T/fout") lines printed)"
	RC=0
	wait "$pid" || RC=$?
	assert_eq 0 "$RC" "follow's exit status (stderr: $(head -c 200 "$T/ferr"))"
	[ -e "$ROOT/$id/exit" ] || fail "follow returned before the container exited"
	seq 1 20000 | cmp -s - "$T/fout" ||
		fail "follow output is not 1..20000: $(wc -l <"$T/fout") lines; $(seq 1 20000 | diff - "$T/fout" | head -n 4 | tr '\n' ' ')"
	[ ! -s "$T/ferr" ] || fail "follow wrote on stderr: $(head -n 2 "$T/ferr")"
	# follow on an exited container: prints everything, returns at once
	run_ctrlog "$T/out" "$T/err" follow --root "$ROOT" --tail 5 "$id"
	assert_eq 0 "$RC" "follow --tail 5 on an exited container"
	seq 19996 20000 | cmp -s - "$T/out" || fail "follow --tail 5: $(tr '\n' '|' <"$T/out")"
	# ... and logs -f waiting for a long line still being written
	id=$(new_id)
	run_ctrlog "$T/run.out" "$T/run.err" run --detach --root "$ROOT" --log-driver journald \
		--id "$id" -- sh -c "sleep 0.5; cat '$T/a'; sleep 0.5; echo; echo end"
	[ "$RC" = 0 ] || fail "ctrlog run --detach exited $RC"
	run_ctrlog "$T/out" "$T/err" logs -f --root "$ROOT" "$id"
	assert_eq 0 "$RC" "logs -f exit status"
	{ cat "$T/a"; echo; echo end; } | cmp -s - "$T/out" || fail "logs -f: output differs"
}

k8s_file_still_read() {
	# journald and k8s-file: still read from the file (no journal involved)
	local id
	id=$(new_id)
	run_ctrlog "$T/run.out" "$T/run.err" run --root "$ROOT" --log-driver journald \
		--log-driver k8s-file --id "$id" -- sh -c 'echo x; echo y >&2'
	logs_ok "$id"
	assert_eq "x|y" "$(cat "$T/out")|$(cat "$T/err")" "stdout|stderr"
}

check "logs on a journald-only container: every line, in order, stdout and stderr apart" all_lines
check "a 40,000-byte line (and a 20,000-byte one on stderr) comes back joined exactly" long_lines
check "binary and invalid UTF-8 content comes back byte-exact" binary_content
check "--tail N: the last N joined lines (long line, --stream, 0, more than there are)" tail_lines
check "--since / --until between two batches, --timestamps from the journal" since_until
check "follow from the start while 20,000 lines are written: exactly 1..20000, returns 0 after exit" follow_writer
check "journald + k8s-file containers are still read from the file" k8s_file_still_read
finish

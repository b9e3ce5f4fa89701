#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end: the README's two quick-start commands, each run in a copy of the source tree.
#   scripts/demo.sh  exits 0, shows the rotated and compressed log, prints the next commands
#                    (which work), replaces its previous run, leaves nothing in $TMPDIR
#   scripts/test.sh  ends with its "N passed, N failed" line even when the build fails
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/scripts.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

# copy_tree DIR : the source tree without builds or git metadata
copy_tree() {
	mkdir -p "$1"
	tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$1" -xf -
}

demo_runs() {
	copy_tree "$T/src"
	mkdir "$T/tmp"
	local i
	for i in 1 2; do
		RC=0
		CTRLOG_DEMO_ROOT=$T/demo TMPDIR=$T/tmp bash "$T/src/scripts/demo.sh" \
			>"$T/demo$i.out" 2>"$T/demo$i.err" </dev/null || RC=$?
		assert_eq 0 "$RC" "demo.sh exit status (run $i; stderr: $(tail -n 3 "$T/demo$i.err"))"
	done
	local out
	out=$(cat "$T/demo2.out")
	assert_match 'the command exited with status 3' "$out" "demo output"
	assert_match 'ctrlog follow printed 399600 stdout and 400 stderr lines' "$out" "demo output"
	assert_match '== first records of the oldest compressed file, ctr\.log\.[0-9]+\.zst' "$out" "demo output"
	assert_match 'seq=0' "$(grep -A2 'oldest compressed file' "$T/demo2.out")" "zstd -dc output"
	assert_match 'rotations=[1-9]' "$out" "demo statistics"
	[ -z "$(ls -A "$T/tmp")" ] || fail "demo.sh left files in TMPDIR: $(ls "$T/tmp")"
	# The second run replaced the first: one history of 400,000 lines, not two.
	assert_eq 400000 "$("$T/src/build/cli/ctrlog" logs --root "$T/demo" demo 2>&1 | wc -l)" \
		"lines in the demo's history after two runs"
	# Every command it suggests runs as printed.
	local cmd n=0
	while read -r cmd; do
		n=$((n + 1))
		bash -c "$cmd" >"$T/next.out" 2>&1 </dev/null || fail "suggested command failed: $cmd: $(tail -n 2 "$T/next.out")"
	done < <(sed -n '/Try next:/,$p' "$T/demo2.out" | sed 1d)
	[ "$n" -ge 3 ] || fail "demo.sh suggested $n commands"
}

test_sh_closing_line_on_build_failure() {
	copy_tree "$T/broken"
	echo '#error broken on purpose by tests/e2e/scripts.sh' >>"$T/broken/logger/framer.c"
	RC=0
	bash "$T/broken/scripts/test.sh" --suite unit >"$T/test.out" 2>&1 </dev/null || RC=$?
	[ "$RC" -ne 0 ] || fail "test.sh exited 0 on a broken build"
	assert_match '^[0-9]+ passed, [1-9][0-9]* failed' "$(tail -n 1 "$T/test.out")" "test.sh's last line"
	grep -c 'building build-asan failed' "$T/test.out" >/dev/null || fail "the failed step is not named"
}

check "demo.sh: exits 0, shows the log, its next commands work, replaces itself, no litter" demo_runs
check "test.sh: closing line and non-zero status when the build fails" test_sh_closing_line_on_build_failure
finish

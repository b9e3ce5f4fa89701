#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it, in three builds (all -Werror):
#   build-asan      unit (cmocka), end-to-end, install and bench-smoke tests under ASan + UBSan
#   build-valgrind  most end-to-end tests once more with ctrlog under valgrind memcheck
#   build-fuzz      the libFuzzer targets (clang), each for $CTRLOG_FUZZ_SECONDS (default 60)
# About 10 minutes on 2 cores (plus the package installation on a fresh machine).
# Extra arguments go to the ASan build's `meson test` (e.g. --suite unit) and skip the others.
# Always ends with one line "N passed, N failed, N skipped": a build step that fails counts
# as a failure, and so does any process the suite leaves running.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
source tests/procs.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Every process of this run inherits the tag; whatever still has it at the end was left behind.
export CTRLOG_TEST_RUN=$$.$(date +%s%N)

status=0
failed_steps=0
logs=()

# step WHAT CMD... : one step that is not a meson test; a failure is counted and named.
step() {
	local what=$1
	shift
	"$@" && return 0
	echo "ctrlog: test.sh: $what failed" >&2
	failed_steps=$((failed_steps + 1))
	status=1
	return 1
}

# setup DIR MESON-OPTIONS...: configures DIR once, then builds it.
setup() {
	local dir=$1
	shift
	if [[ ! -f $dir/build.ninja ]]; then
		meson setup "$dir" -Dwerror=true "$@" >/dev/null || return 1
	fi
	ninja -C "$dir"
}

# suite DIR MESON-TEST-ARGS... : runs the tests of one build; its log is counted afterwards.
suite() {
	local dir=$1
	shift
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || status=1
	[[ -f $dir/meson-logs/testlog.json ]] && logs+=("$dir/meson-logs/testlog.json")
}

# The suite's run is over: stop what it left running, then print the closing line.
finish() {
	local left
	left=$(procs_tagged CTRLOG_TEST_RUN="$CTRLOG_TEST_RUN")
	if [[ -n $left ]]; then
		echo "ctrlog: test.sh: processes left running: $(procs_describe $left)" >&2
		kill -KILL $left 2>/dev/null
		failed_steps=$((failed_steps + 1))
		status=1
	fi
	python3 - "$failed_steps" "${logs[@]}" <<'PY' || echo "0 passed, $((failed_steps + 1)) failed"
import json, sys
passed = skipped = 0
failed = int(sys.argv[1])
for path in sys.argv[2:]:
    for line in open(path):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
	exit $status
}

step "installing the Debian packages" ctrlog_install_deps clang libclang-rt-14-dev valgrind || finish
# Logs of an earlier run must not be counted again.
rm -f build-asan/meson-logs/testlog.json build-valgrind/meson-logs/testlog.json \
	build-fuzz/meson-logs/testlog.json

if step "building build-asan" setup build-asan -Dbuildtype=debug \
	-Db_sanitize=address,undefined -Db_lundef=false; then
	suite build-asan --no-suite valgrind "$@"
fi
if (($# == 0)); then
	if step "building build-valgrind" setup build-valgrind -Dbuildtype=debug; then
		suite build-valgrind --suite valgrind
	fi
	if CC=clang step "building build-fuzz" setup build-fuzz -Dbuildtype=debug -Dfuzz=true \
		-Dtests=false -Dbench=false -Db_sanitize=address,undefined -Db_lundef=false &&
		step "configuring the fuzz time" meson configure build-fuzz \
			-Dfuzz_seconds="${CTRLOG_FUZZ_SECONDS:-60}"; then
		suite build-fuzz --suite fuzz
	fi
fi
finish

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it, in three builds (all -Werror):
#   build-asan      unit (cmocka), end-to-end and bench-smoke tests under ASan + UBSan
#   build-valgrind  the ctrlog run end-to-end tests once more under valgrind memcheck
#   build-fuzz      the libFuzzer targets (clang), each for $CTRLOG_FUZZ_SECONDS (default 60)
# Extra arguments go to the ASan build's `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ctrlog_install_deps clang valgrind

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# setup DIR MESON-OPTIONS...: configures DIR once, then builds it.
setup() {
	local dir=$1
	shift
	[[ -f $dir/build.ninja ]] || meson setup "$dir" -Dwerror=true "$@" >/dev/null
	ninja -C "$dir"
}

status=0
setup build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite valgrind "$@" || status=1
logs=(build-asan/meson-logs/testlog.json)
if (($# == 0)); then
	setup build-valgrind -Dbuildtype=debug
	meson test -C build-valgrind --print-errorlogs --num-processes 2 --suite valgrind || status=1
	CC=clang setup build-fuzz -Dbuildtype=debug -Dfuzz=true -Dtests=false -Dbench=false \
		-Db_sanitize=address,undefined -Db_lundef=false
	meson configure build-fuzz -Dfuzz_seconds="${CTRLOG_FUZZ_SECONDS:-60}"
	meson test -C build-fuzz --print-errorlogs --num-processes 2 --suite fuzz || status=1
	logs+=(build-valgrind/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json)
fi

# One closing line in the form CI reads, counted from meson's own logs.
python3 - "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it: unit tests (cmocka), end-to-end tests of the real binary
# (against a private systemd-journald and the real zstd/journalctl tools) and the benchmark
# smoke run, all built with -Werror under AddressSanitizer and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ctrlog_install_deps

build=${CTRLOG_TEST_BUILD:-build-asan}
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
		-Dwerror=true >/dev/null
fi
ninja -C "$build"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?

# One closing line in the form CI reads, counted from meson's own log.
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status

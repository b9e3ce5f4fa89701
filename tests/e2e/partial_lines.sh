#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end: a stream that ends mid-line ends with an F record, whatever cut the line before
# (an idle flush, max_line) and however the monitor ended, so that no reader ever joins a
# line with the next one, or with the next run's first line.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/partial_lines.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# flags LOG : "stream flag content" per record
flags() { cut -d' ' -f2- "$1"; }

idle_flushed_then_eof() {
	run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --id idle -- sh -c 'printf abc; sleep 1.5'
	assert_eq 0 "$RC" "exit status"
	assert_eq "stdout P abc|stdout F " "$(flags "$ROOT/idle/ctr.log" | paste -sd '|')" "records"
	assert_eq "abc" "$("$CTRLOG" logs --root "$ROOT" idle)" "logs"
}

check "an idle-flushed line gets its F when the stream ends" idle_flushed_then_eof
finish

# SPDX-License-Identifier: MIT
# Finding the processes a test run started, by an environment variable they all inherit.
# Sourced by tests/e2e/lib.sh (per test) and scripts/test.sh (per suite run).
#
#     procs_tagged NAME=VALUE   PIDs (space-separated) of live processes whose environment
#                               holds NAME=VALUE, leaving out this shell
#     procs_describe PID...     "PID (comm) PID (comm) ..." for a message

procs_tagged() {
	local want=$1 dir pid kv found=()
	for dir in /proc/[0-9]*; do
		pid=${dir#/proc/}
		[ "$pid" != $$ ] && [ "$pid" != "${BASHPID:-$$}" ] || continue
		# A redirected loop runs in this shell: no helper process shows up in the scan.
		while IFS= read -r -d '' kv; do
			if [ "$kv" = "$want" ]; then
				found+=("$pid")
				break
			fi
		done 2>/dev/null <"$dir/environ" || true
	done
	echo "${found[*]-}"
}

procs_describe() {
	local pid out=()
	for pid in "$@"; do
		out+=("$pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo gone))")
	done
	echo "${out[*]-}"
}

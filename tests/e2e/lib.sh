# Shared helpers for ctrlog end-to-end tests. Source it from a test script:
#
#     #!/usr/bin/env bash
#     set -euo pipefail
#     . "$(dirname "$0")/lib.sh"
#
# It provides:
#   $CTRLOG       the binary under test (default: <repo>/build/cli/ctrlog)
#   $T            a private temp dir, removed on exit (along with any process
#                 registered with track_pid)
#   $ROOT         $T/root, to pass as --root
#   fail MSG      print "not ok" for the current check and exit 1
#   check NAME CMD...   run CMD as one named check; prints "ok - NAME" or
#                 "not ok - NAME: reason" and counts it
#   assert_eq EXPECTED ACTUAL [WHAT]
#   assert_match REGEX STRING [WHAT]  (bash ERE)
#   wait_for [SECS] CMD...   poll CMD every 20 ms until it succeeds (default
#                 budget 10 s, scaled by $E2E_TIMEOUT_SCALE for slow builds
#                 such as ASan); returns 1 on timeout
#   finish        print "N passed, M failed" and exit accordingly
#
# Under pipefail never end a pipeline with `grep -q`: it exits at the first match, the writer
# gets SIGPIPE, and the pipeline fails (or, negated, passes) for the wrong reason. Use
# `grep -c PATTERN >/dev/null`, which reads everything.
#
# Checks run in a subshell, so a failure (fail, assert_*, or set -e) ends that
# check only; the script continues with the next one.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CTRLOG:=$E2E_DIR/../../build/cli/ctrlog}"
: "${E2E_TIMEOUT_SCALE:=1}"
export LC_ALL=C

case $CTRLOG in
*/*) ;;
*) CTRLOG=$(command -v "$CTRLOG" || echo "$CTRLOG") ;;
esac
if [ ! -x "$CTRLOG" ]; then
	echo "Bail out! CTRLOG=$CTRLOG is not an executable" >&2
	exit 2
fi
CTRLOG=$(cd "$(dirname "$CTRLOG")" && pwd)/$(basename "$CTRLOG")

T=$(mktemp -d "${TMPDIR:-/tmp}/ctrlog-e2e.XXXXXX")
ROOT=$T/root
_E2E_PIDS=()
_E2E_PASS=0
_E2E_FAIL=0
_E2E_CHECK=""

# PIDs go to a file too: checks run in subshells, whose array the EXIT trap never sees.
track_pid() {
	_E2E_PIDS+=("$1")
	echo "$1" >>"$T/.pids"
}

# Every process a test starts inherits this tag; whatever still carries it when the test
# ends was left behind (tests/procs.sh finds it).
export CTRLOG_E2E_TAG=$T
. "$E2E_DIR/../procs.sh"

_e2e_cleanup() {
	local p
	for p in "${_E2E_PIDS[@]+"${_E2E_PIDS[@]}"}" $(cat "$T/.pids" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null || true
	done
	# monitors started with --detach record their PID in monitor.pid; kill any
	# that are still alive (only our own, found under our private root)
	if [ -d "$ROOT" ]; then
		local f pid
		for f in "$ROOT"/*/monitor.pid; do
			[ -f "$f" ] || continue
			pid=$(cat "$f" 2>/dev/null || true)
			case $pid in ''|*[!0-9]*) continue ;; esac
			if [ ! -e "$(dirname "$f")/exit" ] && pid_alive "$pid"; then
				# TERM is forwarded to the command; KILL if that is not enough
				kill -TERM "$pid" 2>/dev/null || true
				wait_for 2 eval '! pid_alive '"$pid" || kill -KILL "$pid" 2>/dev/null || true
			fi
		done
	fi
	_e2e_no_leftovers
	rm -rf "$T"
	[ -z "$_E2E_LEFT" ] || exit 1
}

# A test must leave no process behind: any still tagged after the cleanup above fails the
# test by name, and is killed.
_E2E_LEFT=
_e2e_no_leftovers() {
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do # tracked processes killed above may take a moment
		_E2E_LEFT=$(procs_tagged CTRLOG_E2E_TAG="$T")
		[ -n "$_E2E_LEFT" ] || return 0
		sleep 0.1
	done
	echo "not ok - no process left behind: $(procs_describe $_E2E_LEFT)"
	kill -KILL $_E2E_LEFT 2>/dev/null || true
}
trap _e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	echo "not ok - ${_E2E_CHECK:-?}: $*"
	exit 1
}

assert_eq() {
	local exp=$1 act=$2 what=${3:-value}
	if [ "$exp" != "$act" ]; then
		fail "$what: expected '$exp', got '$act'"
	fi
}

assert_match() {
	local re=$1 s=$2 what=${3:-value}
	if ! [[ $s =~ $re ]]; then
		fail "$what: '$s' does not match /$re/"
	fi
}

# wait_for [SECS] CMD... : poll every 20 ms
wait_for() {
	local secs=10
	case ${1-} in ''|*[!0-9.]*) ;; *) secs=$1; shift ;; esac
	local deadline
	deadline=$(awk -v s="$secs" -v k="$E2E_TIMEOUT_SCALE" 'BEGIN { printf "%d", s * k * 50 }')
	local i=0
	while ! "$@"; do
		i=$((i + 1))
		if [ "$i" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.02
	done
	return 0
}

# check NAME CMD... : run one named check in a subshell
check() {
	local name=$1
	shift
	local rc out=$T/.check.out
	# Not in a conditional context, so that `set -e` works inside the check.
	set +e
	( _E2E_CHECK=$name; set -euo pipefail; "$@" ) >"$out" 2>&1 </dev/null
	rc=$?
	set -e
	if [ "$rc" -eq 0 ]; then
		sed 's/^/# /' "$out"
		echo "ok - $name"
		_E2E_PASS=$((_E2E_PASS + 1))
	else
		grep -v '^not ok - ' "$out" | sed 's/^/# /' || true
		if grep -q '^not ok - ' "$out"; then
			grep '^not ok - ' "$out" | tail -n 1
		else
			echo "not ok - $name: exited with status $rc (a command failed under set -e)"
		fi
		_E2E_FAIL=$((_E2E_FAIL + 1))
	fi
}

finish() {
	echo "$_E2E_PASS passed, $_E2E_FAIL failed"
	[ "$_E2E_FAIL" -eq 0 ]
	exit $?
}

# ---- ctrlog-specific helpers ----------------------------------------------

# Regex every k8s-file record must match (prefix only).
REC_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z (stdout|stderr) [FP] '

# run_ctrlog OUT ERR ARGS... : run ctrlog, stdout to OUT, stderr to ERR;
# sets $RC to its exit status (never fails the script)
run_ctrlog() {
	local out=$1 err=$2
	shift 2
	RC=0
	"$CTRLOG" "$@" >"$out" 2>"$err" </dev/null || RC=$?
}

# content_of LOG : the content field of every record (after the 40-byte
# "<time> stdout F " prefix for stdout, 40 bytes for stderr too)
content_of() { cut -c41- "$1"; }

# pid_alive PID : true if PID exists and is not a zombie
pid_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in Z*) return 1 ;; esac
	return 0
}

# cpu_ticks PID : user+system clock ticks PID has used so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# assert_not_spinning PID WHAT : PID, waiting on something, must settle at < 20 % of a CPU.
# One-second windows, up to 5 x $E2E_TIMEOUT_SCALE of them: a slow start (valgrind, a loaded
# machine) may use its first windows, but a process that spins never has a quiet one.
assert_not_spinning() {
	local pid=$1 what=$2 hz windows i t0 t1 least=
	hz=$(getconf CLK_TCK)
	windows=$(awk -v k="$E2E_TIMEOUT_SCALE" 'BEGIN { printf "%d", 5 * k }')
	for ((i = 0; i < windows; i++)); do
		t0=$(cpu_ticks "$pid") || fail "$what: process $pid is gone"
		sleep 1
		t1=$(cpu_ticks "$pid") || fail "$what: process $pid is gone"
		[ $((t1 - t0)) -lt $((hz / 5)) ] && return 0
		[ -n "$least" ] && [ "$least" -le $((t1 - t0)) ] || least=$((t1 - t0))
	done
	fail "$what: the monitor spun (at least $least of $hz ticks in each of $windows 1-s windows)"
}

# ctrlog_for_anyone DIR : sets ANYONE_CTRLOG to a copy of $CTRLOG in DIR that any user can run
# (the checkout may sit under /root, mode 0700); valgrind's real binary is copied along.
# $T's own mode must let the user through (chmod 711 "$T").
ctrlog_for_anyone() {
	local dir=$1
	mkdir -p "$dir"
	cp "$CTRLOG" "$dir/ctrlog"
	if [ -n "${CTRLOG_REAL:-}" ]; then
		cp "$CTRLOG_REAL" "$dir/ctrlog-real"
		export CTRLOG_REAL=$dir/ctrlog-real
	fi
	chmod 755 "$dir" "$dir"/*
	ANYONE_CTRLOG=$dir/ctrlog
}

# start_ctr ID RUN-ARGS... -- CMD... : `ctrlog run` in the background (its PID in $RPID, its
# output in $T/ID.run.out and .run.err); returns once its config exists (so that logs and
# follow can find it).
start_ctr() {
	local id=$1
	shift
	"$CTRLOG" run --root "$ROOT" --id "$id" "$@" >"$T/$id.run.out" 2>"$T/$id.run.err" </dev/null &
	RPID=$!
	track_pid "$RPID"
	wait_for 10 test -f "$ROOT/$id/config" || fail "container $id did not start"
}

# $NUMBERED N [FIRST] : a program printing N lines of 100 bytes "seq=%08d xxx...", from FIRST (default 1)
NUMBERED=$T/numbered
cat > "$NUMBERED" <<'SH'
#!/bin/sh
exec awk -v n="$1" -v first="${2:-1}" 'BEGIN {
	pad = sprintf("%87s", ""); gsub(/ /, "x", pad)
	for (i = first; i < first + n; i++) printf "seq=%08d %s\n", i, pad
}'
SH
chmod +x "$NUMBERED"

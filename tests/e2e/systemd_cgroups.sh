#!/usr/bin/env bash
# End-to-end: `ctrlog run --cgroups split`. Each check plays a delegated systemd unit: it
# creates a cgroup ctrlog-test-<random>.service under its own cgroup on the machine's cgroup2
# mount, moves its shell into it and runs ctrlog there. The monitor must end up in
# <unit>/supervisor, the command and its children in <unit>/container (so nothing escapes the
# unit, the failure podman had before its own --cgroups split), and after the exit only the unit's
# cgroup is left. Without cgroup v2 the command must not start at all.
# Needs root (it writes cgroup.procs and uses a private mount namespace); skipped otherwise.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/systemd_cgroups.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root to create cgroups"
	exit 77
fi

# Our cgroup v2 path ("0::/path") and the directory of a cgroup2 mount showing the whole
# hierarchy (/sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one).
OWN=$(sed -n 's/^0:://p' /proc/self/cgroup)
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") print $5; break } }' \
	/proc/self/mountinfo | head -n 1)
HAVE_CG2=0
if [ -n "$CG2" ] && [ -n "$OWN" ] && [ -w "$CG2${OWN%/}/cgroup.procs" ]; then
	HAVE_CG2=1
fi
PARENT=$CG2${OWN%/}

# Unit cgroups made by the checks, removed at exit even when a check failed half-way.
: >"$T/cgroups"
_cg_cleanup() {
	local u d
	while read -r u; do
		[ -d "$u" ] || continue
		# children first (depth-first), killing whatever is left in them
		find "$u" -depth -mindepth 1 -type d | while read -r d; do
			echo 1 >"$d/cgroup.kill" 2>/dev/null || xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
			wait_for 2 rmdir "$d" 2>/dev/null || true
		done
		echo 1 >"$u/cgroup.kill" 2>/dev/null || true
		wait_for 2 rmdir "$u" 2>/dev/null || echo "# could not remove $u" >&2
	done <"$T/cgroups"
}
trap '_cg_cleanup; _e2e_cleanup' EXIT

# enter_unit : creates the unit cgroup and moves this check's shell into it; sets UNIT (the
# directory) and REL (its path as /proc/PID/cgroup shows it)
enter_unit() {
	local name=ctrlog-test-$$-$RANDOM$RANDOM.service
	UNIT=$PARENT/$name
	REL=${OWN%/}/$name
	mkdir "$UNIT"
	echo "$UNIT" >>"$T/cgroups"
	echo "$BASHPID" >"$UNIT/cgroup.procs"
	assert_eq "0::$REL" "$(grep '^0::' /proc/$BASHPID/cgroup)" "the test shell's cgroup"
}

# leave_unit : moves this check's shell back out and removes the unit cgroup, which must have
# no children left
leave_unit() {
	local left
	left=$(cd "$UNIT" && find . -mindepth 1 -type d)
	assert_eq "" "$left" "cgroups left under the unit"
	echo "$BASHPID" >"$PARENT/cgroup.procs"
	rmdir "$UNIT"
}

# cg_of PID : the 0:: line of PID
cg_of() { grep '^0::' "/proc/$1/cgroup"; }

# A command that starts a child and waits until the test kills that child.
CMD='sleep 300 & echo $! >"$0/gc"; echo $$ >"$0/cmd"; wait'

split_places_processes() {
	enter_unit
	local pid rc=0
	mkdir -p "$T/s1"
	"$CTRLOG" run --root "$ROOT" --id s1 --cgroups split -- sh -c "$CMD" "$T/s1" \
		>"$T/out1" 2>"$T/err1" &
	pid=$!
	wait_for test -s "$T/s1/gc" || fail "the command did not start: $(cat "$T/err1")"
	wait_for test -s "$T/s1/cmd" || fail "the command did not record its PID"
	assert_eq "$pid" "$(cat "$ROOT/s1/monitor.pid")" "monitor PID"
	assert_eq "0::$REL/supervisor" "$(cg_of "$pid")" "the monitor's cgroup"
	assert_eq "0::$REL/container" "$(cg_of "$(cat "$T/s1/cmd")")" "the command's cgroup"
	assert_eq "0::$REL/container" "$(cg_of "$(cat "$T/s1/gc")")" "the command's child's cgroup"
	assert_eq "0::$REL" "$(cg_of $BASHPID)" "the test shell's cgroup (untouched)"
	kill "$(cat "$T/s1/gc")"
	wait_for eval "! pid_alive $pid" || fail "ctrlog did not exit"
	wait "$pid" || rc=$?
	assert_eq 0 "$rc" "ctrlog exit status"
	assert_eq "" "$(cat "$T/err1")" "ctrlog stderr"
	assert_eq 0 "$(cat "$ROOT/s1/exit")" "exit file"
	leave_unit
}

split_detached() {
	enter_unit
	local id mpid
	mkdir -p "$T/s2"
	id=$("$CTRLOG" run --root "$ROOT" --id s2 --detach --cgroups split -- sh -c "$CMD" "$T/s2" \
		2>"$T/err2")
	assert_eq s2 "$id" "printed ID"
	mpid=$(cat "$ROOT/s2/monitor.pid")
	wait_for test -s "$T/s2/gc" || fail "the command did not start"
	wait_for test -s "$T/s2/cmd" || fail "the command did not record its PID"
	assert_eq "0::$REL/supervisor" "$(cg_of "$mpid")" "the detached monitor's cgroup"
	assert_eq "0::$REL/container" "$(cg_of "$(cat "$T/s2/cmd")")" "the command's cgroup"
	assert_eq "0::$REL/container" "$(cg_of "$(cat "$T/s2/gc")")" "the command's child's cgroup"
	kill "$(cat "$T/s2/gc")"
	wait_for eval "! pid_alive $mpid" || fail "the monitor did not exit"
	assert_eq 0 "$(cat "$ROOT/s2/exit")" "exit file"
	leave_unit
}

# What the command leaves running stays in container/ (a service manager stops it with the
# unit); ctrlog removes only what is empty and says what it left.
split_leftover() {
	enter_unit
	mkdir -p "$T/s3"
	run_ctrlog "$T/out3" "$T/err3" run --root "$ROOT" --id s3 --cgroups split -- \
		sh -c 'sleep 300 & echo $! >"$0/gc"' "$T/s3"
	assert_eq 0 "$RC" "ctrlog exit status"
	assert_match "leaving '.*/container' in place: processes the command started still run in it" \
		"$(cat "$T/err3")" "ctrlog stderr"
	assert_eq "0::$REL/container" "$(cg_of "$(cat "$T/s3/gc")")" "the leftover's cgroup"
	[ -d "$UNIT/supervisor" ] && fail "supervisor/ was not removed"
	kill "$(cat "$T/s3/gc")"
	wait_for rmdir "$UNIT/container" || fail "cannot remove container/"
	leave_unit
}

split_exec_fails() {
	enter_unit
	run_ctrlog "$T/out4" "$T/err4" run --root "$ROOT" --id s4 --cgroups split -- /nonexistent/cmd
	assert_eq 127 "$RC" "ctrlog exit status"
	leave_unit
}

disabled_stays() {
	enter_unit
	run_ctrlog "$T/out5" "$T/err5" run --root "$ROOT" --id s5 --cgroups disabled -- \
		sh -c 'grep ^0:: /proc/$$/cgroup'
	assert_eq 0 "$RC" "ctrlog exit status"
	assert_eq "0::$REL" "$(content_of "$ROOT/s5/ctr.log")" "the command's cgroup"
	run_ctrlog "$T/out5" "$T/err5" run --root "$ROOT" --id s5b -- sh -c 'grep ^0:: /proc/$$/cgroup'
	assert_eq "0::$REL" "$(content_of "$ROOT/s5b/ctr.log")" "the command's cgroup (default)"
	leave_unit
}

# A service that is not root and whose cgroup was not delegated (no Delegate=yes) cannot create
# supervisor/: 125, one line with the hint, command not started.
not_delegated() {
	enter_unit
	local r=$T/nobody
	chmod 711 "$T"
	mkdir -p "$r"
	chown 65534:65534 "$r"
	ctrlog_for_anyone "$T/bin"
	RC=0
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$ANYONE_CTRLOG" run --root "$r/root" --cgroups split -- touch "$r/started" \
		>"$T/out8" 2>"$T/err8" </dev/null || RC=$?
	assert_eq 125 "$RC" "ctrlog exit status"
	assert_eq "ctrlog: run: --cgroups split: cannot create '$UNIT/supervisor': Permission denied (under systemd the unit needs Delegate=yes)" \
		"$(cat "$T/err8")" "ctrlog stderr"
	[ ! -e "$r/started" ] || fail "the command was started"
	leave_unit
}

bad_value() {
	run_ctrlog "$T/out6" "$T/err6" run --root "$ROOT" --cgroups yes -- true
	assert_eq 125 "$RC" "ctrlog exit status"
	assert_eq "ctrlog: run: --cgroups: invalid value 'yes' (expected split or disabled)" \
		"$(cat "$T/err6")" "ctrlog stderr"
}

# no_cgroup2 HOW : in a private mount namespace without cgroup2 (HOW: umount every cgroup2
# mount, or hide them under a tmpfs), --cgroups split fails with one line and status 125 and
# never starts the command.
no_cgroup2() {
	local how=$1 hide
	if [ "$how" = umount ]; then
		hide='for m in $(awk '\''{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }'\'' /proc/self/mountinfo | sort -r); do umount -l "$m" || exit 99; done'
	else
		hide='for m in $(awk '\''{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }'\'' /proc/self/mountinfo | sort -r); do mount -t tmpfs none "$m" || exit 99; done'
	fi
	RC=0
	unshare -m --propagation private sh -c "$hide"'; exec "$@"' sh \
		"$CTRLOG" run --root "$ROOT" --cgroups split -- touch "$T/started.$how" \
		>"$T/out7" 2>"$T/err7" </dev/null || RC=$?
	[ "$RC" -ne 99 ] || fail "could not hide cgroup2 in a private mount namespace"
	assert_eq 125 "$RC" "ctrlog exit status"
	assert_eq "ctrlog: run: --cgroups split: no cgroup v2 (unified) hierarchy is mounted, or this process is not in it" \
		"$(cat "$T/err7")" "ctrlog stderr"
	[ ! -e "$T/started.$how" ] || fail "the command was started"
}

if [ "$HAVE_CG2" -eq 1 ]; then
	check "split: monitor in supervisor/, command and its children in container/" split_places_processes
	check "split with --detach: the detached monitor in supervisor/" split_detached
	check "split: a leftover process keeps container/, supervisor/ removed" split_leftover
	check "split: exec failure cleans up" split_exec_fails
	check "--cgroups disabled (the default) stays in the unit's cgroup" disabled_stays
	if command -v setpriv >/dev/null; then
		check "split without delegation (unprivileged): 125, one line, command not started" not_delegated
	fi
else
	echo "# no writable cgroup2 hierarchy here: only the checks without one run"
fi
check "--cgroups with a bad value" bad_value
if unshare -m --propagation private true 2>/dev/null; then
	check "no cgroup2 mounted (unmounted): 125, one line, command not started" no_cgroup2 umount
	check "no cgroup2 mounted (tmpfs over it): 125, one line, command not started" no_cgroup2 tmpfs
else
	echo "# unshare -m is not permitted here: the no-cgroup2 checks are skipped"
fi
finish

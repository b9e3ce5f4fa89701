#!/usr/bin/env bash
# End-to-end: the sd_notify protocol as a Type=notify unit sees it. A python3 listener on a Unix
# datagram socket plays systemd: READY=1 once the command runs, MAINPID= (sent by the monitor
# itself) with --detach, STOPPING=1 when SIGTERM is forwarded, and $NOTIFY_SOCKET kept from the
# command.
# Usage: CTRLOG=build/cli/ctrlog bash tests/e2e/systemd_notify.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP python3 is needed for the notify listener"
	exit 77
fi

# listen ADDR OUT : a listener on ADDR (a path, or @name for the abstract namespace) that
# appends one line per datagram to OUT: "<sender pid> <message, newlines as |>"; sets LPID.
listen() {
	python3 - "$1" "$2" <<'EOF' &
import os, socket, struct, sys
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".bound", "w").close()
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = 0
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    with open(out, "a") as f:
        f.write("%d %s\n" % (pid, msg.decode().replace("\n", "|")))
EOF
	LPID=$!
	track_pid "$LPID"
	wait_for test -e "$2.bound" || fail "the listener did not start"
}

# got OUT REGEX : OUT has a message line matching REGEX
got() { [ -f "$1" ] && grep -Eq -- "$2" "$1"; }

ready_once_running() {
	listen "$T/n1.sock" "$T/n1"
	NOTIFY_SOCKET=$T/n1.sock "$CTRLOG" run --root "$ROOT" --id n1 -- \
		sh -c "while [ ! -e '$T/go1' ]; do sleep 0.02; done" >/dev/null 2>"$T/err1" &
	local pid=$!
	track_pid "$pid"
	# READY=1 arrives while the command is still blocked: it was sent once the command ran,
	# not when it exited.
	wait_for got "$T/n1" ' READY=1$' || fail "no READY=1 while the command runs"
	pid_alive "$pid" || fail "ctrlog exited before the command was released"
	assert_eq "$pid" "$(cut -d' ' -f1 "$T/n1")" "sender of READY=1 (the monitor)"
	got "$T/n1" MAINPID && fail "MAINPID= without --detach"
	touch "$T/go1"
	local rc=0
	wait "$pid" || rc=$?
	assert_eq 0 "$rc" "ctrlog exit status"
	assert_eq 1 "$(wc -l <"$T/n1")" "number of messages"
}

no_ready_when_exec_fails() {
	listen "$T/n2.sock" "$T/n2"
	RC=0
	NOTIFY_SOCKET=$T/n2.sock "$CTRLOG" run --root "$ROOT" --id n2 -- /nonexistent/cmd \
		>/dev/null 2>"$T/err2" || RC=$?
	assert_eq 127 "$RC" "ctrlog exit status"
	sleep 0.2
	got "$T/n2" READY && fail "READY=1 sent for a command that never ran"
	return 0
}

mainpid_when_detached() {
	listen "$T/n3.sock" "$T/n3"
	local id mpid
	id=$(NOTIFY_SOCKET=$T/n3.sock "$CTRLOG" run --root "$ROOT" --id n3 --detach -- \
		sh -c "while [ ! -e '$T/go3' ]; do sleep 0.02; done")
	assert_eq n3 "$id" "printed ID"
	mpid=$(cat "$ROOT/n3/monitor.pid")
	wait_for got "$T/n3" "^$mpid MAINPID=$mpid\\|READY=1\$" ||
		fail "expected 'MAINPID=$mpid|READY=1' from the monitor $mpid, got: $(cat "$T/n3" 2>/dev/null)"
	touch "$T/go3"
	wait_for test -e "$ROOT/n3/exit" || fail "the container did not finish"
	assert_eq 0 "$(cat "$ROOT/n3/exit")" "exit file"
}

stopping_on_sigterm() {
	listen "$T/n4.sock" "$T/n4"
	NOTIFY_SOCKET=$T/n4.sock "$CTRLOG" run --root "$ROOT" --id n4 -- \
		sh -c 'echo ready; exec sleep 60' >/dev/null 2>"$T/err4" &
	local pid=$! rc=0
	track_pid "$pid"
	wait_for got "$T/n4" ' READY=1$' || fail "no READY=1"
	kill -TERM "$pid"
	wait_for eval "! pid_alive $pid" || fail "ctrlog did not stop"
	wait "$pid" || rc=$?
	assert_eq 143 "$rc" "ctrlog exit status (the command's, killed by SIGTERM)"
	got "$T/n4" "^$pid STOPPING=1\$" || fail "no STOPPING=1 from $pid: $(cat "$T/n4")"
	cut -c41- "$ROOT/n4/ctr.log" | grep -cx ready >/dev/null || fail "the log was not kept"
}

abstract_socket() {
	local name=@ctrlog-e2e-$$-$RANDOM
	listen "$name" "$T/n5"
	RC=0
	NOTIFY_SOCKET=$name "$CTRLOG" run --root "$ROOT" --id n5 -- true >/dev/null 2>&1 || RC=$?
	assert_eq 0 "$RC" "ctrlog exit status"
	wait_for got "$T/n5" ' READY=1$' || fail "no READY=1 on the abstract socket"
}

not_inherited() {
	RC=0
	NOTIFY_SOCKET=$T/nobody.sock "$CTRLOG" run --root "$ROOT" --id n6 -- \
		sh -c 'echo "NOTIFY_SOCKET=${NOTIFY_SOCKET-unset}"' >/dev/null 2>"$T/err6" || RC=$?
	# Nobody listens there: that is no reason to fail.
	assert_eq 0 "$RC" "ctrlog exit status"
	assert_eq "NOTIFY_SOCKET=unset" "$(content_of "$ROOT/n6/ctr.log")" "the command's environment"
	assert_eq "" "$(cat "$T/err6")" "ctrlog stderr"
}

check "READY=1 once the command runs, from the monitor" ready_once_running
check "no READY=1 when the command cannot be executed" no_ready_when_exec_fails
check "--detach: MAINPID=<monitor> and READY=1 in one message" mainpid_when_detached
check "SIGTERM: STOPPING=1, the command's status returned" stopping_on_sigterm
check "abstract-namespace NOTIFY_SOCKET (@name)" abstract_socket
check "NOTIFY_SOCKET is not passed to the command" not_inherited
finish

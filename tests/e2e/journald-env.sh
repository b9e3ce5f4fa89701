# SPDX-License-Identifier: MIT
# A private systemd-journald for tests and benchmarks (see ../shared/PEERS.md).
# Source it; nothing here touches the host's journal, sockets or files.
#
#     journald_reexec "$0" "$@"   first thing in a script: re-executes it as root
#                                 inside `unshare -m --propagation private`
#                                 (exits 77 = skip when that is impossible)
#     journald_start DIR          tmpfs on /run/systemd, /run/log (and
#                                 /var/log/journal when it exists), a drop-in
#                                 config on that tmpfs, then systemd-journald in
#                                 the background; waits (bounded) for its socket.
#                                 Sets JOURNALD_PID.  Returns 1 if it won't start.
#     journald_stop               SIGTERM, wait for it (SIGKILL after 10 s)
#     journald_teardown           journald_stop, then unmount what
#                                 journald_start mounted (frees the tmpfs
#                                 memory before the next start)
#     journald_kill               SIGKILL, wait: "journald went away" (its
#                                 socket file stays, as after a crash)
#     journald_restart DIR        a new journald on the same tmpfs (after
#                                 journald_kill); waits until it has re-bound
#     journald_reap_all DIR       safety net for an EXIT trap: SIGKILL every
#                                 journald started with DIR that still runs
#                                 (one started in a subshell that failed)
#     jctl ARGS...                journalctl on the private journal only
#     journald_sync               every datagram already sent is stored
#     journald_wait_count N ARGS  until `jctl ARGS -o cat` shows >= N entries
#                                 (bounded; 0 on success)
#
# The namespace's mounts vanish with its last process, so no stale socket is
# ever left behind on the host.
#
# Never run systemd-journald with any argument (not even --help or --version):
# it takes the argument as a journal namespace name and creates
# /run/systemd/journal.<arg> and /var/log/journal/<machine-id>.<arg>.

: "${JOURNALD:=/lib/systemd/systemd-journald}"
JOURNAL_DIR=/run/log/journal

journald_reexec() {
	local self=$1
	shift
	[[ -n ${CTRLOG_JOURNALD_NS:-} ]] && return 0
	if [[ $(id -u) -ne 0 ]]; then
		echo "# SKIP: a private systemd-journald needs root" >&2
		exit 77
	fi
	if [[ ! -x $JOURNALD ]]; then
		echo "# SKIP: $JOURNALD not found (Debian package systemd)" >&2
		exit 77
	fi
	command -v unshare >/dev/null || { echo "# SKIP: unshare not found" >&2; exit 77; }
	# A real probe: a container or a restricted sandbox may forbid mount namespaces.
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "# SKIP: unshare -m --propagation private is not permitted here" >&2
		exit 77
	fi
	CTRLOG_JOURNALD_NS=1 exec unshare -m --propagation private "$self" "$@"
}

# The queue of journald's socket holds net.unix.max_dgram_qlen datagrams, a per-network-
# namespace setting: 10 by the kernel's default, 512 on a host where systemd set it. With
# JOURNALD_QLEN set, journald runs in a network namespace of its own with that queue (its
# socket is still reached by path from ours).
_journald_exec() {
	if [[ -n ${JOURNALD_QLEN:-} ]]; then
		exec unshare -n sh -c 'echo "$1" >/proc/sys/net/unix/max_dgram_qlen && exec "$2"' sh \
			"$JOURNALD_QLEN" "$JOURNALD"
	fi
	exec "$JOURNALD"
}

# journald_start DIR : DIR receives journald's own output (journald.out)
journald_start() {
	local dir=$1 i
	[[ -n ${CTRLOG_JOURNALD_NS:-} ]] || { echo "journald_start outside the namespace" >&2; return 1; }
	mkdir -p /run/systemd /run/log
	mount -t tmpfs -o mode=0755 tmpfs /run/systemd || return 1
	mount -t tmpfs -o mode=0755 tmpfs /run/log || { umount -l /run/systemd; return 1; }
	JOURNALD_MOUNTED=1
	# The host may keep a persistent journal; hide it so nothing can land there.
	JOURNALD_VAR_MOUNTED=
	if [[ -d /var/log/journal ]]; then
		mount -t tmpfs -o mode=0755 tmpfs /var/log/journal || return 1
		JOURNALD_VAR_MOUNTED=1
	fi
	# A clean machine (or container) may lack a machine ID; journald needs one.
	if [[ ! -s /etc/machine-id && -e /etc/machine-id ]]; then
		tr -d '-' </proc/sys/kernel/random/uuid >"$dir/machine-id"
		mount --bind "$dir/machine-id" /etc/machine-id || return 1
	fi
	# Drop-in on the private tmpfs: volatile storage only, no rate limit (a CI
	# job running inside a systemd unit would otherwise be limited to 10,000
	# entries per 30 s), no kernel log, no forwarding, room for big runs.
	mkdir -p /run/systemd/journald.conf.d
	cat >/run/systemd/journald.conf.d/ctrlog-test.conf <<-'EOF'
		[Journal]
		Storage=volatile
		RateLimitIntervalSec=0
		RateLimitBurst=0
		ReadKMsg=no
		ForwardToSyslog=no
		ForwardToKMsg=no
		ForwardToConsole=no
		ForwardToWall=no
		RuntimeMaxUse=4G
		RuntimeKeepFree=0
		RuntimeMaxFileSize=512M
		MaxLevelStore=debug
		Audit=no
	EOF
	_journald_exec >"$dir/journald.out" 2>&1 </dev/null &
	JOURNALD_PID=$!
	echo "$JOURNALD_PID" >>"$dir/journald.pids"
	for i in $(seq 250); do # 10 s
		[[ -S /run/systemd/journal/socket ]] && return 0
		kill -0 "$JOURNALD_PID" 2>/dev/null || break
		sleep 0.04
	done
	echo "systemd-journald did not start: $(tail -n 3 "$dir/journald.out" | tr '\n' ' ')" >&2
	journald_kill
	return 1
}

_journald_wait_exit() {
	local i
	for i in $(seq 500); do # 10 s
		kill -0 "$JOURNALD_PID" 2>/dev/null || break
		sleep 0.02
	done
	kill -KILL "$JOURNALD_PID" 2>/dev/null || true
	wait "$JOURNALD_PID" 2>/dev/null || true
}

journald_stop() {
	[[ -n ${JOURNALD_PID:-} ]] || return 0
	kill -TERM "$JOURNALD_PID" 2>/dev/null || true
	_journald_wait_exit
	JOURNALD_PID=
}

journald_teardown() {
	journald_stop
	[[ -n ${JOURNALD_MOUNTED:-} ]] || return 0
	[[ -z ${JOURNALD_VAR_MOUNTED:-} ]] || umount -l /var/log/journal || true
	umount -l /run/log || true
	umount -l /run/systemd || true
	JOURNALD_MOUNTED= JOURNALD_VAR_MOUNTED=
}

journald_kill() {
	[[ -n ${JOURNALD_PID:-} ]] || return 0
	kill -KILL "$JOURNALD_PID" 2>/dev/null || true
	_journald_wait_exit
	JOURNALD_PID=
}

journald_restart() {
	local dir=$1 old i
	old=$(stat -c %i /run/systemd/journal/socket 2>/dev/null || echo none)
	_journald_exec >>"$dir/journald.out" 2>&1 </dev/null &
	JOURNALD_PID=$!
	echo "$JOURNALD_PID" >>"$dir/journald.pids"
	for i in $(seq 250); do # 10 s: journald unlinks the stale socket and binds anew
		[[ -S /run/systemd/journal/socket &&
			$(stat -c %i /run/systemd/journal/socket 2>/dev/null) != "$old" ]] && return 0
		kill -0 "$JOURNALD_PID" 2>/dev/null || break
		sleep 0.04
	done
	echo "systemd-journald did not restart: $(tail -n 3 "$dir/journald.out" | tr '\n' ' ')" >&2
	journald_kill
	return 1
}

journald_reap_all() {
	local f=$1/journald.pids pid
	[[ -f $f ]] || return 0
	while read -r pid; do
		[[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd-journal* ]] || continue
		kill -KILL "$pid" 2>/dev/null || true
	done <"$f"
	rm -f "$f"
}

jctl() { journalctl -D "$JOURNAL_DIR" -q "$@"; }

# journalctl --sync asks journald (varlink) to store everything queued; when
# that is unavailable the entry count must simply stop changing.
journald_sync() {
	local prev=-1 now i
	timeout 20 journalctl --sync >/dev/null 2>&1 && return 0
	for i in $(seq 100); do
		now=$(jctl -o cat | wc -l)
		[[ $now == "$prev" ]] && return 0
		prev=$now
		sleep 0.2
	done
}

# journald_wait_count N [SECS] -- MATCHES... : returns 0 once >= N entries match
journald_wait_count() {
	local n=$1 secs=${2:-60} i now
	shift 2
	[[ ${1:-} == -- ]] && shift
	for ((i = 0; i < secs * 10; i++)); do
		now=$(jctl "$@" -o cat 2>/dev/null | wc -l)
		[[ $now -ge $n ]] && return 0
		sleep 0.1
	done
	return 1
}

# new_id : a random 64-hex container ID (its first 12 characters are CONTAINER_ID)
new_id() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

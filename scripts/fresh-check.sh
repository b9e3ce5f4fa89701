#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the README's quick start the way a newcomer meets it: on a fresh Debian 12 minbase root
# (debootstrap --variant=minbase bookworm, plus git only), the repository cloned to
# /root/ctrlog, /root mode 0700, as root. The root is a chroot inside a private mount namespace
# (unshare -m) with /proc, /sys (cgroups included), /dev, /dev/pts and a tmpfs /run, so the
# mount-namespace, cgroup and journald tests can run and no mount leaks onto the host.
#
# Usage (as root, on a Debian 12 host whose apt can reach the Debian archive):
#   bash scripts/fresh-check.sh [OPTIONS] demo|test|both
#     demo   cd /root/ctrlog && bash scripts/demo.sh
#     test   cd /root/ctrlog && bash scripts/test.sh
#     both   demo, then test, in the same root (the README's order)
#   --repo PATH     repository to clone (default: the one this script lives in)
#   --rev REV       commit to check out (default: the repository's committed HEAD; uncommitted
#                   changes are never included)
#   --logs DIR      where logs and the summary go (default /var/tmp/ctrlog-fresh/STAMP-COMMIT)
#   --timeout SECS  limit for each command (default 5400, CI's limit for a run)
#   --refresh       rebuild the cached base tarball
#   --keep          keep the root (under /var/tmp) for inspection instead of removing it
# and, to look into a kept root with the same mounts (what is left running is killed after):
#   bash scripts/fresh-check.sh enter ROOT [SHELL-COMMAND]   (default: an interactive bash)
# The base root is cached as $CTRLOG_FRESH_CACHE/bookworm-minbase.tar
# (default /var/cache/ctrlog-fresh), built once with the mirror the host's apt uses.
# Exit status: 0 if every command exited 0 and nothing was left running, 1 otherwise, 2 on a
# usage or setup error.
set -euo pipefail

die() {
	echo "fresh-check: $*" >&2
	exit 2
}

usage() {
	sed -n '/^# Usage/,/^# usage or setup/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# --- inside the private mount namespace -------------------------------------------------------

# mount_root ROOT : what a booted Debian 12 machine has mounted, seen from ROOT.
mount_root() {
	local r=$1
	# A machine's / is a mount point (unshare --propagation needs one); a plain chroot's isn't.
	mount --bind "$r" "$r"
	mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
	mount --rbind /sys "$r/sys"
	mount --rbind /dev "$r/dev"
	mountpoint -q "$r/dev/pts" ||
		mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$r/dev/pts"
	mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$r/run"
	mkdir -p "$r/run/lock"
}

# The environment of a root login, nothing of the caller's.
login_env=(/usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

# run_one ROOT LOGDIR NAME TIMEOUT : runs the quick-start command NAME in ROOT as a root login
# would (clean environment, no stdin); records NAME.log, NAME.status and NAME.seconds.
run_one() {
	local r=$1 logs=$2 name=$3 limit=$4 start end status=0
	echo "fresh-check: running scripts/$name.sh (log: $logs/$name.log)" >&2
	start=$(date +%s.%N)
	timeout --kill-after=30 "$limit" chroot "$r" "${login_env[@]}" \
		/bin/bash -c "cd /root/ctrlog && bash scripts/$name.sh" \
		</dev/null >"$logs/$name.log" 2>&1 || status=$?
	end=$(date +%s.%N)
	echo "$status" >"$logs/$name.status"
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' >"$logs/$name.seconds"
}

inner() {
	local r=$1 logs=$2 limit=$3 name
	shift 3
	mount_root "$r"
	for name in "$@"; do
		run_one "$r" "$logs" "$name" "$limit"
	done
}

if [[ ${1:-} == __inner ]]; then
	shift
	inner "$@"
	exit 0
fi
if [[ ${1:-} == __enter ]]; then
	mount_root "$2"
	if (($# > 2)); then
		chroot "$2" "${login_env[@]}" /bin/bash -c "cd /root/ctrlog && $3"
	else
		chroot "$2" "${login_env[@]}" /bin/bash -i
	fi
	exit
fi

# --- on the host ---------------------------------------------------------------------------

# host_mirror : the Debian archive URI the host's apt uses for bookworm itself.
host_mirror() {
	# shellcheck disable=SC2016 # apt's own $(FIELD) placeholders, not the shell's
	apt-get indextargets --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' 2>/dev/null |
		awk '$1 == "deb" && $2 == "bookworm" { print $3; exit }'
}

# ensure_base TARBALL : builds the cached minbase root (plus git) unless it exists.
ensure_base() {
	local tarball=$1 mirror dir
	[[ -s $tarball ]] && return 0
	if ! command -v debootstrap >/dev/null; then
		echo "fresh-check: installing debootstrap on the host" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			debootstrap >/dev/null ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends debootstrap >/dev/null; } || die "cannot install debootstrap"
	fi
	mirror=$(host_mirror)
	[[ -n $mirror ]] || die "no bookworm source in the host's apt sources"
	mkdir -p "$(dirname "$tarball")"
	dir=$(mktemp -d "$(dirname "$tarball")/build.XXXXXX")
	echo "fresh-check: debootstrap --variant=minbase --include=git bookworm from $mirror" >&2
	debootstrap --variant=minbase --include=git bookworm "$dir" "$mirror" \
		>"$dir.debootstrap.log" 2>&1 || die "debootstrap failed, see $dir.debootstrap.log"
	# What debootstrap downloaded is not part of a fresh machine's state.
	rm -f "$dir"/var/cache/apt/archives/*.deb
	chmod 0755 "$dir"
	tar --numeric-owner --xattrs -C "$dir" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	echo "mirror=$mirror built=$(date -u +%FT%TZ)" >"$tarball.info"
	rm -rf --one-file-system "$dir" "$dir.debootstrap.log"
}

# host_apt_config ROOT : the host's apt sources and its Acquire settings (proxy, validity of
# the archive's Release files), so apt reaches the same archive from ROOT; resolv.conf too.
host_apt_config() {
	local r=$1 f
	rm -f "$r/etc/apt/sources.list" "$r"/etc/apt/sources.list.d/*
	[[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$r/etc/apt/"
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] && cp "$f" "$r/etc/apt/sources.list.d/"
	done
	for f in /etc/apt/apt.conf.d/*; do
		[[ -f $f ]] && grep -q '^[[:space:]]*Acquire' "$f" && cp "$f" "$r/etc/apt/apt.conf.d/"
	done
	rm -f "$r/etc/resolv.conf"
	cp -L /etc/resolv.conf "$r/etc/resolv.conf"
	# Every installed machine or container has these; debootstrap writes neither.
	[[ -e $r/etc/hosts ]] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
	[[ -s $r/etc/hostname ]] || echo ctrlog-fresh >"$r/etc/hostname"
}

# processes_in ROOT : PIDs of processes whose root directory is ROOT (or below it).
processes_in() {
	local r=$1 p link id want
	want=$(stat -c %d:%i "$r")
	for p in /proc/[0-9]*; do
		link=$(readlink "$p/root" 2>/dev/null) || continue
		id=$(stat -L -c %d:%i "$p/root" 2>/dev/null) || continue
		if [[ $id == "$want" || $link == "$r" || $link == "$r"/* ]]; then
			echo "${p#/proc/}"
		fi
	done
}

# reap_leftovers ROOT LOGDIR : reports and SIGKILLs what still runs in ROOT; waits for it.
reap_leftovers() {
	local r=$1 logs=$2 pids pid i
	pids=$(processes_in "$r")
	: >"$logs/leftovers.txt"
	[[ -z $pids ]] && return 0
	for pid in $pids; do
		ps -o pid=,ppid=,etimes=,args= -p "$pid" >>"$logs/leftovers.txt" 2>/dev/null || true
	done
	for pid in $pids; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 100; i++)); do
		[[ -z $(processes_in "$r") ]] && return 0
		sleep 0.1
	done
	echo "fresh-check: still running in $r after SIGKILL: $(processes_in "$r" | tr '\n' ' ')" >&2
}

# remove_root ROOT : deletes ROOT unless a mount is still visible under it (it would be the
# host's /dev or /sys, which must not be deleted).
remove_root() {
	local r=$1
	if awk -v r="$r" '$5 == r || index($5, r "/") == 1 { found = 1 } END { exit !found }' \
		/proc/self/mountinfo; then
		echo "fresh-check: mounts left under $r, not removing it" >&2
		return 1
	fi
	rm -rf --one-file-system "$r"
}

# save_build_logs ROOT LOGDIR : meson's logs of every build the commands made.
save_build_logs() {
	local r=$1 logs=$2 d
	for d in "$r"/root/ctrlog/build*/meson-logs; do
		[[ -d $d ]] || continue
		mkdir -p "$logs/$(basename "$(dirname "$d")")"
		cp -r "$d" "$logs/$(basename "$(dirname "$d")")/"
	done
}

# failed_tests LOGDIR : one line per test meson did not count as passed or skipped.
failed_tests() {
	local f
	command -v python3 >/dev/null || return 0
	for f in "$1"/build*/meson-logs/testlog.json; do
		[[ -f $f ]] || continue
		python3 - "$f" <<-'PY'
			import json, sys, os
			build = os.path.basename(os.path.dirname(os.path.dirname(sys.argv[1])))
			for line in open(sys.argv[1]):
			    t = json.loads(line)
			    if t.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP"):
			        print(f"    {build}: {t['name']}: {t['result']} (rc {t.get('returncode')})")
		PY
	done
}

# summary LOGDIR COMMIT COMMANDS... : prints and saves the result of the run.
summary() {
	local logs=$1 commit=$2 name
	shift 2
	{
		echo "fresh-check of $commit ($(date -u +%FT%TZ))"
		for name in "$@"; do
			if [[ -f $logs/$name.status ]]; then
				printf '  %-5s exit %-4s %8ss   %s\n' "$name" "$(cat "$logs/$name.status")" \
					"$(cat "$logs/$name.seconds")" "$logs/$name.log"
			else
				printf '  %-5s did not run\n' "$name"
			fi
		done
		if [[ -f $logs/test.log ]]; then
			grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$logs/test.log" |
				sed 's/^/  test.sh: /' || echo "  test.sh: no closing count line"
		fi
		if [[ -n $(failed_tests "$logs") ]]; then
			echo "  failed tests:"
			failed_tests "$logs"
		fi
		if [[ -s $logs/leftovers.txt ]]; then
			echo "  left running in the root (killed):"
			sed 's/^/    /' "$logs/leftovers.txt"
		else
			echo "  nothing left running in the root"
		fi
	} | tee "$logs/summary.txt"
}

# enter ROOT [COMMAND] : COMMAND (or a shell) in a root kept by --keep, mounted as for a run.
enter() {
	local r=${1:?} status=0 logs
	[[ -d $r/root/ctrlog ]] || die "$r: not a root kept by fresh-check --keep"
	r=$(cd "$r" && pwd)
	shift
	unshare -m --propagation private -- bash "$0" __enter "$r" "$@" || status=$?
	logs=$(mktemp -d)
	reap_leftovers "$r" "$logs"
	if [[ -s $logs/leftovers.txt ]]; then
		echo "fresh-check: left running in the root (killed):" >&2
		cat "$logs/leftovers.txt" >&2
	fi
	rm -rf "$logs"
	return "$status"
}

main() {
	if [[ ${1:-} == enter ]]; then
		shift
		enter "$@"
		return
	fi
	local repo rev="" logs="" limit=5400 refresh=0 keep=0 cmds=() cache tarball commit
	local root status=0 name
	repo=$(cd "$(dirname "$0")/.." && pwd)
	while (($#)); do
		case $1 in
		--repo) repo=${2:?}; shift ;;
		--rev) rev=${2:?}; shift ;;
		--logs) logs=${2:?}; shift ;;
		--timeout) limit=${2:?}; shift ;;
		--refresh) refresh=1 ;;
		--keep) keep=1 ;;
		demo | test) cmds=("$1") ;;
		both) cmds=(demo test) ;;
		*) usage ;;
		esac
		shift
	done
	((${#cmds[@]})) || usage
	[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot, mounts)"
	commit=$(git -C "$repo" rev-parse --verify "${rev:-HEAD}^{commit}") || die "no commit ${rev:-HEAD} in $repo"

	cache=${CTRLOG_FRESH_CACHE:-/var/cache/ctrlog-fresh}
	tarball=$cache/bookworm-minbase.tar
	((refresh)) && rm -f "$tarball"
	ensure_base "$tarball"

	logs=${logs:-/var/tmp/ctrlog-fresh/$(date +%Y%m%d-%H%M%S)-${commit:0:12}}
	mkdir -p "$logs"
	logs=$(cd "$logs" && pwd)
	root=$(mktemp -d /var/tmp/ctrlog-fresh.root.XXXXXX)
	echo "fresh-check: root $root, logs $logs, commit $commit" >&2
	tar --numeric-owner --xattrs -C "$root" -xf "$tarball"
	chmod 0755 "$root" # as a machine's /; mktemp's 0700 would lock out every user but root
	host_apt_config "$root"
	git clone -q --no-hardlinks "$repo" "$root/root/ctrlog"
	git -C "$root/root/ctrlog" -c advice.detachedHead=false checkout -q --detach "$commit"
	chown -R 0:0 "$root/root/ctrlog"
	chmod 0700 "$root/root"

	unshare -m --propagation private -- bash "$0" __inner "$root" "$logs" "$limit" "${cmds[@]}" ||
		status=1
	reap_leftovers "$root" "$logs"
	save_build_logs "$root" "$logs"
	summary "$logs" "$commit" "${cmds[@]}"
	for name in "${cmds[@]}"; do
		[[ $(cat "$logs/$name.status" 2>/dev/null) == 0 ]] || status=1
	done
	[[ -s $logs/leftovers.txt ]] && status=1
	if ((keep)); then
		echo "fresh-check: root kept in $root" >&2
	else
		remove_root "$root" || status=1
	fi
	return "$status"
}

# On one line: bash has read it whole before running it, so an edit of this file during a run
# cannot make bash go on reading the edited text.
main "$@"; exit

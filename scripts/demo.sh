#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job, end to end with the default settings: build ctrlog if needed, run a demo
# "container" command under `ctrlog run` (k8s-file log, 10m rotation, 5 files, zstd:1) while
# `ctrlog follow` reads it live, then show what it logged, rotated and compressed, and the
# commands to try next.
# The container is `demo` in ctrlog's default root (/var/lib/ctrlog as root), or under
# $CTRLOG_DEMO_ROOT; each run replaces the previous demo (--replace), so nothing piles up.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ctrlog_install_deps

# quiet CMD... : runs a build step without its chatter, which is shown only when it fails.
quiet() {
	local out
	out=$("$@" 2>&1) && return 0
	printf '%s\n' "$out" >&2
	echo "ctrlog: demo: '$*' failed" >&2
	exit 1
}
if [[ ! -f build/build.ninja ]]; then
	quiet meson setup build -Dbuildtype=release -Dtests=false -Dbench=false
fi
quiet ninja -C build
ctrlog=$PWD/build/cli/ctrlog
id=demo
root=${CTRLOG_DEMO_ROOT:-/var/lib/ctrlog}
dir=$root/$id
# The commands shown at the end name --root only when it is not ctrlog's default.
show_root=
[[ $root == /var/lib/ctrlog && $(id -u) == 0 && -z ${CTRLOG_ROOT:-} ]] || show_root=" --root $root"
work=$(mktemp -d "${TMPDIR:-/tmp}/ctrlog-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== ctrlog run --id $id -- <about 40 MB of numbered lines, some on stderr>"
echo "   while ctrlog follow $id reads it live, across every rotation"
# The command writes 400,000 lines of 100 bytes (every 1000th on stderr) and exits 3.
"$ctrlog" run --root "$root" --id "$id" --replace --stats -- sh -c '
	touch "$0" # started: the previous demo is gone, this one has its log
	sleep 0.5
	awk "BEGIN {
		pad = sprintf(\"%80s\", \"\"); gsub(/ /, \"x\", pad)
		for (i = 1; i <= 400000; i++) {
			if (i % 1000 == 0) printf \"err=%08d %s\\n\", i, pad > \"/dev/stderr\"
			else printf \"seq=%08d %s\\n\", i, pad
		}
	}"
	exit 3' "$work/started" 2>"$work/stats" &
run_pid=$!
# follow needs the container to exist; a run that fails says why and ends the demo.
while [[ ! -e $work/started ]]; do
	kill -0 "$run_pid" 2>/dev/null || { wait "$run_pid" || true; cat "$work/stats" >&2; exit 1; }
	sleep 0.05
done
"$ctrlog" follow --root "$root" "$id" >"$work/followed.stdout" 2>"$work/followed.stderr"
status=0
wait "$run_pid" || status=$?
echo "   the command exited with status $status, as ctrlog run reports it"
echo "   ctrlog follow printed $(wc -l <"$work/followed.stdout") stdout and" \
	"$(wc -l <"$work/followed.stderr") stderr lines, then returned by itself"
echo
echo "== the container's directory: live log, rotated files (older ones zstd-compressed)"
ls -l "$dir"
echo
echo "== exit file: $(cat "$dir/exit")"
echo "== last records of the live log"
tail -n 3 "$dir/ctr.log"
echo
oldest=
for f in "$dir"/ctr.log.*.zst; do
	[[ -e $f ]] || continue
	n=${f##*/ctr.log.}
	n=${n%.zst}
	[[ -n $oldest ]] && ((n >= oldest)) || oldest=$n
done
if [[ -n $oldest ]]; then
	echo "== first records of the oldest compressed file, ctr.log.$oldest.zst (zstd -dc)"
	# sed reads to the end: under pipefail, head would kill zstd with SIGPIPE.
	zstd -dc "$dir/ctr.log.$oldest.zst" | sed -n '1,2p'
	echo
fi
echo "== monitor statistics (ctrlog run --stats)"
grep -E '^(stdout_records|stderr_records|stdout_partial_records|rotations|compressed_files|cpu_user_s|cpu_sys_s|max_rss_kb)=' "$work/stats"
echo
cat <<-MSG
	The demo's logs stay in $dir until the next demo replaces them.
	ctrlog is not installed: it is $ctrlog
	('meson install -C build' puts it in /usr/local/bin). Try next:
	  $ctrlog logs$show_root --tail 5 --timestamps $id
	  $ctrlog logs$show_root --since 1h $id | wc -l
	  $ctrlog ps$show_root -a
	  $ctrlog run$show_root --id hello -- sh -c 'echo hello; echo oops >&2'
	  $ctrlog --help
MSG

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job, end to end with the default settings: build ctrlog if needed, run a demo
# "container" command under `ctrlog run` (k8s-file log, 10m rotation, 5 files, zstd:1), and
# show what it logged, rotated and compressed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ctrlog_install_deps

if [[ ! -x build/cli/ctrlog ]]; then
	meson setup build -Dbuildtype=release >/dev/null
fi
ninja -C build >/dev/null
ctrlog=$PWD/build/cli/ctrlog

root=${CTRLOG_DEMO_ROOT:-$(mktemp -d /tmp/ctrlog-demo.XXXXXX)}
id=demo$(date +%s)
echo "== ctrlog run --root $root --id $id -- <about 40 MB of numbered lines, some on stderr>"
echo "   while ctrlog follow $id reads it live, across every rotation"
# The command writes 400,000 lines of 100 bytes (every 1000th on stderr) and exits 3.
"$ctrlog" run --root "$root" --id "$id" --stats -- sh -c '
	sleep 0.5
	awk "BEGIN {
		pad = sprintf(\"%80s\", \"\"); gsub(/ /, \"x\", pad)
		for (i = 1; i <= 400000; i++) {
			if (i % 1000 == 0) printf \"err=%08d %s\\n\", i, pad > \"/dev/stderr\"
			else printf \"seq=%08d %s\\n\", i, pad
		}
	}"
	exit 3' 2> "$root/stats" &
run_pid=$!
while [[ ! -e $root/$id/ctr.log ]]; do sleep 0.05; done
"$ctrlog" follow --root "$root" "$id" > "$root/followed.stdout" 2> "$root/followed.stderr"
status=0
wait "$run_pid" || status=$?
echo "   the command exited with status $status, as ctrlog run reports it"
echo "   ctrlog follow printed $(wc -l < "$root/followed.stdout") stdout and $(wc -l < "$root/followed.stderr") stderr lines, then returned by itself"
echo
echo "== the container's directory: live log, rotated files (older ones zstd-compressed)"
ls -l "$root/$id"
echo
echo "== exit file: $(cat "$root/$id/exit")"
echo "== last records of the live log"
tail -n 3 "$root/$id/ctr.log"
echo
oldest=$(ls "$root/$id" | grep -E '^ctr\.log\.[0-9]+\.zst$' | sort -t. -k3 -n | head -n 1 || true)
if [[ -n $oldest ]]; then
	echo "== first records of the oldest compressed file, $oldest (zstd -dc)"
	zstd -dc "$root/$id/$oldest" | head -n 2
	echo
fi
echo "== monitor statistics (ctrlog run --stats)"
grep -E '^(stdout_records|stderr_records|stdout_partial_records|rotations|compressed_files|cpu_user_s|cpu_sys_s|max_rss_kb)=' "$root/stats"
echo
echo "Logs are in $root/$id (remove the directory when done)."

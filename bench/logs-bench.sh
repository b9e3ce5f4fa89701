#!/usr/bin/env bash
# Benchmarks for the read side (issue 6):
#  1. follow latency, a line written -> printed, p50/p99, `ctrlog follow` (inotify) against a
#     reader that polls the live file every 250 ms (podman's approach);
#  2. `ctrlog logs` throughput on ~1 GiB of history, plain and zstd, in MB/s of output;
#  3. `ctrlog logs --tail 10` time on that history.
# Usage: CTRLOG=build/cli/ctrlog bench/logs-bench.sh [--quick]
# --quick (used as a smoke test) shrinks every size so that it runs in a few seconds.
# Needs python3 for the latency probes (timestamps in ns on both sides).
set -euo pipefail

CTRLOG=${CTRLOG:-$(dirname "$0")/../build/cli/ctrlog}
CTRLOG=$(cd "$(dirname "$CTRLOG")" && pwd)/$(basename "$CTRLOG")
QUICK=0
[ "${1-}" = --quick ] && QUICK=1
T=$(mktemp -d "${TMPDIR:-/tmp}/ctrlog-logs-bench.XXXXXX")
ROOT=$T/root
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

if [ "$QUICK" = 1 ]; then
	SAMPLES=50; LINES=700000; TAILRUNS=3
else
	SAMPLES=1000; LINES=7400000; TAILRUNS=20
fi

# ---- 1. follow latency ----

# The container: one line every 5 ms carrying its own write time.
cat >"$T/writer.py" <<'EOF'
import sys, time
n = int(sys.argv[1])
time.sleep(0.5)
for i in range(n):
    sys.stdout.write("%d %d\n" % (i, time.time_ns()))
    sys.stdout.flush()
    time.sleep(0.005)
EOF
# The consumer: latency of each line it receives, then p50/p99.
cat >"$T/probe.py" <<'EOF'
import sys, time
lat = []
for line in sys.stdin:
    now = time.time_ns()
    parts = line.split()
    if len(parts) == 2:
        lat.append((now - int(parts[1])) / 1e6)
lat.sort()
if not lat:
    print("no samples"); sys.exit(1)
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("samples=%d p50=%.3fms p99=%.3fms max=%.3fms" % (len(lat), p(0.5), p(0.99), lat[-1]))
EOF
# The baseline: read new bytes of the live file every 250 ms (rotation is not needed here).
cat >"$T/poller.py" <<'EOF'
import sys, time, os
path, stop = sys.argv[1], sys.argv[2]
while not os.path.exists(path):
    time.sleep(0.01)
f = open(path, "rb")
buf = b""
while True:
    data = f.read()
    if data:
        buf += data
        *lines, buf = buf.split(b"\n")
        for l in lines:
            sys.stdout.write(l.split(b" ", 3)[3].decode() + "\n")
        sys.stdout.flush()
    elif os.path.exists(stop):
        break
    time.sleep(0.25)
EOF

echo "== follow latency ($SAMPLES lines, one every 5 ms)"
"$CTRLOG" run --root "$ROOT" --id lat --detach -- python3 "$T/writer.py" "$SAMPLES" >/dev/null
printf 'ctrlog follow (inotify): '
"$CTRLOG" follow --root "$ROOT" lat | python3 "$T/probe.py"
"$CTRLOG" run --root "$ROOT" --id poll --detach -- python3 "$T/writer.py" "$SAMPLES" >/dev/null
printf 'poll every 250 ms:       '
python3 "$T/poller.py" "$ROOT/poll/ctr.log" "$ROOT/poll/exit" | python3 "$T/probe.py"

# ---- 2. and 3. reading 1 GiB of history ----

gen() {
	awk -v n="$LINES" 'BEGIN { pad = sprintf("%0100d", 0); for (i = 1; i <= n; i++) printf "%09d %s\n", i, pad }'
}
# Content bytes printed by `logs`: 111 per line.
OUT_BYTES=$((LINES * 111))

for comp in none zstd:1; do
	id=hist-${comp%%:*}
	"$CTRLOG" run --root "$ROOT" --id "$id" --log-max-size 64m --log-max-files 1000 \
		--log-compress "$comp" -- awk -v n="$LINES" \
		'BEGIN { pad = sprintf("%0100d", 0); for (i = 1; i <= n; i++) printf "%09d %s\n", i, pad }' \
		>/dev/null
	# Records are 151 bytes: the 40-byte prefix and 111 bytes of content with its newline.
	hist=$((LINES * 151))
	disk=$(du -b -c "$ROOT/$id"/ctr.log* | tail -n 1 | cut -f1)
	echo "== history $id: $((hist / 1048576)) MiB of records, $((disk / 1048576)) MiB on disk ($(ls "$ROOT/$id" | grep -c 'ctr.log\.') rotated files)"
	# Warm the page cache, then measure.
	"$CTRLOG" logs --root "$ROOT" "$id" >/dev/null
	best=
	for run in 1 2 3; do
		s=$(date +%s%N)
		"$CTRLOG" logs --root "$ROOT" "$id" >/dev/null
		e=$(date +%s%N)
		ms=$(( (e - s) / 1000000 ))
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
	done
	echo "logs ($comp): best of 3 ${best} ms, $(awk -v b="$OUT_BYTES" -v ms="$best" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }') MB/s of output"
	[ "$("$CTRLOG" logs --root "$ROOT" "$id" | tail -n 1 | cut -c1-9)" = "$(printf '%09d' "$LINES")" ] || echo "WARNING: last line mismatch"
	# --tail 10
	times=()
	for run in $(seq "$TAILRUNS"); do
		s=$(date +%s%N)
		"$CTRLOG" logs --root "$ROOT" --tail 10 "$id" >"$T/tail"
		e=$(date +%s%N)
		times+=($(( (e - s) / 1000 )))
	done
	[ "$(wc -l <"$T/tail")" = 10 ] || echo "WARNING: --tail 10 printed $(wc -l <"$T/tail") lines"
	sorted=$(printf '%s\n' "${times[@]}" | sort -n)
	echo "logs --tail 10 ($comp): median $(echo "$sorted" | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] / 1000 }') ms, max $(echo "$sorted" | tail -n 1 | awk '{ printf "%.2f", $1 / 1000 }') ms (process start included)"
	rm -rf "${ROOT:?}/$id"
done

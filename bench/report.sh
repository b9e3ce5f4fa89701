#!/bin/bash
# SPDX-License-Identifier: MIT
#
# report.sh ROWS RESULTS SMOKE TOTAL RUNS CPU CTRLOG
#
# Turns the per-run rows of bench/run into the Markdown table (medians and
# min-max over runs, ratios to cat and conmon of the same run) written to
# RESULTS/latest.md plus a timestamped copy, the raw rows (latest.tsv) and
# the chart RESULTS/cpu-per-gib.png.  Prints the table on stdout.
set -euo pipefail

ROWS=$1 RESULTS=$2 SMOKE=$3 TOTAL=$4 RUNS=$5 CPU=$6 CTRLOG=${7:-}
STAMP=$(date -u +%Y%m%d-%H%M%S)

# The table body.  Row columns: setup line run status cpu_s wall_s rss_kb
# out_bytes partial steal_pct in_bytes note.
table() {
	awk -F'\t' '
	function sort(a, n,    i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
	}
	function med(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	# "median (min-max)" of the values stored under key k of array v.
	function stat(v, k, n, fmt,    a, i) {
		for (i = 1; i <= n; i++) a[i] = v[k, i]
		sort(a, n)
		if (n == 1) return sprintf(fmt, a[1])
		return sprintf(fmt " (" fmt "–" fmt ")", med(a, n), a[1], a[n])
	}
	function median_of(v, k, n,    a, i) {
		for (i = 1; i <= n; i++) a[i] = v[k, i]
		sort(a, n)
		return med(a, n)
	}
	function human(x) {
		if (x >= 1e9) return sprintf("%.2f G", x / 1e9)
		if (x >= 1e6) return sprintf("%.2f M", x / 1e6)
		if (x >= 1e3) return sprintf("%.1f k", x / 1e3)
		return sprintf("%d", x)
	}
	# Which cat a setup is compared with (same file system) and which conmon
	# (same kind of sink).
	function cat_ref(s) { return s ~ /tmpfs/ ? "cat-tmpfs" : "cat-ext4" }
	function conmon_ref(s) { return s ~ /journald/ ? "conmon-journald" : "conmon-ext4" }
	{
		k = $1 SUBSEP $2
		if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
		total[k]++
		if ($4 == "skipped") { skipped[k] = $12; next }
		if ($4 != "ok") { failed[k]++; why[k] = $12; next }
		n = ++ok[k]
		gib = $11 / 1073741824
		cpu[k, n] = $5 / gib
		usl[k, n] = $5 / ($11 / $2) * 1e6
		w = $6 > 0 ? $6 : 1e-9
		mbps[k, n] = $11 / w / 1e6
		lps[k, n] = $11 / $2 / w
		rss[k, n] = $7 / 1024
		out[k, n] = $8
		part[k, n] = $9
		steal[k, n] = $10
	}
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]
			if (ok[k]) cpumed[k] = median_of(cpu, k, ok[k])
		}
		for (i = 1; i <= nk; i++) {
			k = order[i]
			split(k, sl, SUBSEP)
			s = sl[1]; l = sl[2]
			if (k in skipped) {
				printf "| %s | %s | skipped: %s ||||||||||\n", s, l, skipped[k]
				continue
			}
			if (!ok[k]) {
				printf "| %s | %s | **FAIL** (%d of %d runs): %s ||||||||||\n", s, l, failed[k], total[k], why[k]
				continue
			}
			c = cat_ref(s) SUBSEP l; m = conmon_ref(s) SUBSEP l
			rc = (c in cpumed) && cpumed[c] > 0 ? sprintf("%.2f×", cpumed[k] / cpumed[c]) : "–"
			rm = (m in cpumed) && cpumed[m] > 0 ? sprintf("%.3f×", cpumed[k] / cpumed[m]) : "–"
			note = failed[k] ? sprintf(" **FAIL %d**", failed[k]) : ""
			printf "| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", s, note, l,
				stat(cpu, k, ok[k], "%.3f"), sprintf("%.3f", median_of(usl, k, ok[k])),
				stat(mbps, k, ok[k], "%.0f"),
				human(median_of(lps, k, ok[k])), stat(rss, k, ok[k], "%.1f"),
				human(median_of(out, k, ok[k])), stat(part, k, ok[k], "%d"),
				rc, rm, stat(steal, k, ok[k], "%.1f"), ok[k]
		}
	}' <(sort -s -t "$(printf '\t')" -k2,2n "$ROWS")
}

# Medians of CPU s/GiB per line size for the chart: line cat ctrlog conmon splice.
chart_data() {
	awk -F'\t' '$4 == "ok" { k = $1 SUBSEP $2; n = ++cnt[k]; v[k, n] = $5 / ($11 / 1073741824); lines[$2] = 1 }
	function med(k,    a, i, j, t, n) {
		n = cnt[k]; if (!n) return "NaN"
		for (i = 1; i <= n; i++) a[i] = v[k, i]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		for (l in lines)
			printf "%s %s %s %s %s\n", l, med("cat-ext4" SUBSEP l), med("ctrlog-ext4" SUBSEP l),
				med("conmon-ext4" SUBSEP l), med("splice-ext4" SUBSEP l)
	}' "$ROWS" | sort -n
}

make_chart() {
	local dat=$1 png=$2
	if ! command -v gnuplot >/dev/null; then
		echo "(no chart: gnuplot is not installed)"
		return
	fi
	gnuplot <<EOF
set terminal pngcairo size 800,500 noenhanced font ",10"
set output "$png"
set title "CPU seconds per GiB of input (median of runs; lower is better)"
set xlabel "line size (bytes)"
set ylabel "CPU s/GiB"
set logscale x 2
set logscale y
set xrange [12:8192]
set key top right
set grid
plot "$dat" using 1:4 with linespoints lw 2 pt 7 title "conmon k8s-file", \
     "$dat" using 1:3 with linespoints lw 2 pt 5 title "ctrlog k8s-file", \
     "$dat" using 1:2 with linespoints lw 2 pt 9 title "cat > file", \
     "$dat" using 1:5 with linespoints lw 1 pt 3 dt 2 title "splice → file"
EOF
	echo "![CPU s/GiB per line size](cpu-per-gib.png)"
}

header() {
	local ctrlog_rev
	ctrlog_rev=$(git -C "$(dirname "$0")/.." describe --always --dirty 2>/dev/null || echo unknown)
	echo "# ctrlog end-to-end benchmark"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); repo: $ctrlog_rev; ctrlog: ${CTRLOG:-not run}"
	echo "- machine: $(nproc) CPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)"
	echo "- input: ${TOTAL} per run (journald setups: fewer lines, see README), ${RUNS} run(s) per setup; producer and consumer pinned to CPU ${CPU}$([ "$SMOKE" = 1 ] && echo '; **smoke run: figures are meaningless**')"
	echo "- cells: median (min–max) over runs; CPU = the consumer's own user+sys; ratios compare medians of the same run"
	echo
	echo "| setup | line B | CPU s/GiB | CPU µs/line | wall MB/s | lines/s | peak RSS MB | output bytes | P records | × cat | × conmon | steal % | runs ok |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
}

mkdir -p "$RESULTS"
md="$RESULTS/latest.md"
{
	header
	table
	echo
	chart_data >"$RESULTS/cpu-per-gib.dat"
	make_chart "$RESULTS/cpu-per-gib.dat" "$RESULTS/cpu-per-gib.png"
} >"$md"
cp "$md" "$RESULTS/$STAMP.md"
cp "$ROWS" "$RESULTS/latest.tsv"
cat "$md"
echo "bench: report in $md" >&2

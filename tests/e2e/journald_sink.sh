#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end: `ctrlog run --log-driver journald` against a real, private
# systemd-journald (issue 5's acceptance points; failure cases are in
# journald_failures.sh).
# Usage (as root): CTRLOG=build/cli/ctrlog tests/e2e/journald_sink.sh
set -euo pipefail
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/journald-env.sh"
journald_reexec "$0" "$@" # from here on: in a private mount namespace
. "$E2E/lib.sh"
command -v jq >/dev/null || { echo "Bail out! jq is required (apt-get install jq)"; exit 1; }

journald_start "$T" || { echo "Bail out! cannot start a private systemd-journald"; exit 1; }
trap 'set +e; journald_stop; journald_reap_all "$T"; _e2e_cleanup' EXIT


# entries CID [extra journalctl args] : the container's entries as JSON lines
entries() {
	local cid=$1
	shift
	jctl CONTAINER_ID="$cid" -o json --all "$@"
}

# hex_messages : reads JSON entries, prints each MESSAGE as hex bytes (one
# line per entry), whether journalctl gave it as a string or a byte array
hex_messages() {
	jq -r '.MESSAGE | if type == "array" then "A " + (map(tostring) | join(" "))
		elif type == "string" then "S " + @base64 else "N" end' |
		while read -r kind rest; do
			case $kind in
			A) printf '%s\n' "$rest" | tr ' ' '\n' | awk '{ printf "%02x", $1 } END { print "" }' ;;
			S) printf '%s' "$rest" | base64 -d | od -An -v -tx1 | tr -d ' \n'; echo ;;
			*) echo "null" ;;
			esac
		done
}

# hex_lines FILE : each '\n'-terminated line of FILE as hex (without the '\n')
hex_lines() {
	od -An -v -tx1 "$1" | tr -s ' \n' '\n\n' | grep . |
		awk '$1 == "0a" { print line; line = ""; next } { line = line $1 }'
}

run_ok() { # run_ctrlog + exit status 0 + nothing unexpected on stderr
	run_ctrlog "$T/out" "$T/err" "$@"
	[ "$RC" = 0 ] || fail "ctrlog exited $RC: $(head -c 300 "$T/err")"
	journald_sync
}

ten_thousand_lines() {
	local id cid n
	id=$(new_id)
	cid=${id:0:12}
	run_ok run --root "$ROOT" --log-driver journald --name web --id "$id" -- sh -c '
		i=1
		while [ $i -le 10000 ]; do
			echo "out $i"
			if [ $((i % 100)) -eq 0 ]; then echo "err $((i / 100))" >&2; fi
			i=$((i + 1))
		done'
	journald_wait_count 10100 30 -- CONTAINER_ID="$cid" || true
	entries "$cid" >"$T/j.json"
	n=$(wc -l <"$T/j.json")
	assert_eq 10100 "$n" "number of entries for CONTAINER_ID=$cid"
	jq -r 'select(.PRIORITY == "6") | .MESSAGE' "$T/j.json" >"$T/stdout.got"
	jq -r 'select(.PRIORITY == "3") | .MESSAGE' "$T/j.json" >"$T/stderr.got"
	seq 1 10000 | sed 's/^/out /' >"$T/stdout.exp"
	seq 1 100 | sed 's/^/err /' >"$T/stderr.exp"
	cmp -s "$T/stdout.exp" "$T/stdout.got" ||
		fail "PRIORITY=6 messages are not 'out 1'..'out 10000' in order: $(diff "$T/stdout.exp" "$T/stdout.got" | head -n 4 | tr '\n' ' ')"
	cmp -s "$T/stderr.exp" "$T/stderr.got" ||
		fail "PRIORITY=3 messages are not 'err 1'..'err 100' in order"
	# every entry: the fixed fields of DESIGN.md, no trailing newline, nothing else of ours
	n=$(jq -c --arg id "$id" 'select(
		.CONTAINER_ID_FULL != $id or .CONTAINER_NAME != "web" or
		.SYSLOG_IDENTIFIER != "web" or .CONTAINER_TAG != "web" or
		(.MESSAGE | type) != "string" or (.MESSAGE | endswith("\n")) or
		has("CONTAINER_PARTIAL_MESSAGE") or has("CONTAINER_PARTIAL_ID") or
		has("CODE_FILE") or has("CODE_LINE") or has("CODE_FUNC"))' "$T/j.json" | wc -l)
	if [ "$n" != 0 ]; then
		jq -c --arg id "$id" 'select(.CONTAINER_ID_FULL != $id or .CONTAINER_NAME != "web" or .SYSLOG_IDENTIFIER != "web" or has("CODE_FILE"))' "$T/j.json" | head -n 2
		fail "$n entries with wrong or extra fields"
	fi
}

identifier_fallbacks() {
	local id cid
	# no name, no tag: the short ID; no CONTAINER_NAME field
	id=$(new_id)
	cid=${id:0:12}
	run_ok run --root "$ROOT" --log-driver journald --id "$id" -- echo hello
	journald_wait_count 1 10 -- CONTAINER_ID="$cid" || true
	assert_eq "$cid $cid hello false" \
		"$(entries "$cid" | jq -r '"\(.SYSLOG_IDENTIFIER) \(.CONTAINER_TAG) \(.MESSAGE) \(has("CONTAINER_NAME"))"')" \
		"SYSLOG_IDENTIFIER, CONTAINER_TAG, MESSAGE, has CONTAINER_NAME (no name)"
	# --log-tag wins over --name
	id=$(new_id)
	cid=${id:0:12}
	run_ok run --root "$ROOT" --log-driver journald --id "$id" --name db --log-tag my-tag \
		-- echo tagged
	journald_wait_count 1 10 -- CONTAINER_ID="$cid" || true
	assert_eq "my-tag my-tag db tagged" \
		"$(entries "$cid" | jq -r '"\(.SYSLOG_IDENTIFIER) \(.CONTAINER_TAG) \(.CONTAINER_NAME) \(.MESSAGE)"')" \
		"SYSLOG_IDENTIFIER, CONTAINER_TAG, CONTAINER_NAME, MESSAGE (--log-tag)"
	# a short --id: CONTAINER_ID is the whole of it
	run_ok run --root "$ROOT" --log-driver journald --id short1 -- echo s
	journald_wait_count 1 10 -- CONTAINER_ID=short1 || true
	assert_eq "short1 short1 s" \
		"$(entries short1 | jq -r '"\(.CONTAINER_ID_FULL) \(.SYSLOG_IDENTIFIER) \(.MESSAGE)"')" \
		"CONTAINER_ID_FULL, SYSLOG_IDENTIFIER, MESSAGE (short --id)"
}

long_lines() {
	local id cid n ids
	id=$(new_id)
	cid=${id:0:12}
	# two long lines (40,000 and 20,000 bytes), then a short one
	head -c 90000 /dev/urandom | base64 -w0 >"$T/rand"
	head -c 40000 "$T/rand" >"$T/a"
	tail -c 20000 "$T/rand" >"$T/b"
	{ cat "$T/a"; echo; cat "$T/b"; echo; echo after; } >"$T/in"
	run_ok run --root "$ROOT" --log-driver journald --id "$id" -- cat "$T/in"
	journald_wait_count 6 10 -- CONTAINER_ID="$cid" || true
	entries "$cid" >"$T/j.json"
	assert_eq 6 "$(wc -l <"$T/j.json")" "number of entries (3 + 2 pieces + 1 line)"
	# lengths and partial fields, in order
	jq -r '"\(.MESSAGE | length) \(.CONTAINER_PARTIAL_MESSAGE // "-") \(.CONTAINER_PARTIAL_ORDINAL // "-") \(.CONTAINER_PARTIAL_LAST // "-")"' \
		"$T/j.json" >"$T/fields"
	printf '%s\n' "16384 true 1 false" "16384 true 2 false" "7232 - 3 true" \
		"16384 true 1 false" "3616 - 2 true" "5 - - -" >"$T/fields.exp"
	cmp -s "$T/fields.exp" "$T/fields" ||
		fail "length, PARTIAL_MESSAGE, ORDINAL, LAST per entry: got $(tr '\n' '|' <"$T/fields"), expected $(tr '\n' '|' <"$T/fields.exp")"
	# one 64-hex CONTAINER_PARTIAL_ID per split line, distinct between lines
	ids=$(jq -r '.CONTAINER_PARTIAL_ID // "-"' "$T/j.json" | tr '\n' ' ')
	assert_match '^([0-9a-f]{64}) \1 \1 ([0-9a-f]{64}) \2 - $' "$ids" "CONTAINER_PARTIAL_ID per entry"
	[ "$(echo "$ids" | cut -d' ' -f1)" != "$(echo "$ids" | cut -d' ' -f4)" ] ||
		fail "two split lines share CONTAINER_PARTIAL_ID"
	# a reader rebuilds each line: group by ID, order by ordinal, join
	jq -rs 'map(select(.CONTAINER_PARTIAL_ID)) | group_by(.CONTAINER_PARTIAL_ID)
		| sort_by(.[0].__REALTIME_TIMESTAMP | tonumber)
		| .[] | sort_by(.CONTAINER_PARTIAL_ORDINAL | tonumber)
		| select(.[-1].CONTAINER_PARTIAL_LAST == "true")
		| map(.MESSAGE) | join("")' "$T/j.json" >"$T/rebuilt"
	{ cat "$T/a"; echo; cat "$T/b"; echo; } >"$T/rebuilt.exp"
	cmp -s "$T/rebuilt.exp" "$T/rebuilt" || fail "the rebuilt lines differ from the input"
}

binary_content() {
	local id cid
	id=$(new_id)
	cid=${id:0:12}
	{
		# every byte but '\n', NUL first
		printf '\000'
		for i in $(seq 1 255); do [ "$i" = 10 ] || printf "\\$(printf %03o "$i")"; done
		printf '\n'
		printf 'bad \377\376 utf-8 \303\050 end\n'
		printf 'caf\303\251 ok\n'
		printf 'carriage\r\n'
		printf '\n'
		printf 'nul\000inside\n'
		printf '\t tab and trailing space \n'
	} >"$T/bin"
	run_ok run --root "$ROOT" --log-driver journald --id "$id" -- cat "$T/bin"
	journald_wait_count 7 10 -- CONTAINER_ID="$cid" || true
	entries "$cid" >"$T/j.json"
	assert_eq 7 "$(wc -l <"$T/j.json")" "number of entries"
	hex_lines "$T/bin" >"$T/hex.exp"
	hex_messages <"$T/j.json" >"$T/hex.got"
	if ! cmp -s "$T/hex.exp" "$T/hex.got"; then
		diff "$T/hex.exp" "$T/hex.got" | cut -c1-120 | head -n 6
		fail "MESSAGE bytes differ from the input lines"
	fi
	# journalctl's JSON uses the byte-array form exactly for the non-text ones
	assert_eq "array array string array string array string" \
		"$(jq -r '.MESSAGE | type' "$T/j.json" | tr '\n' ' ' | sed 's/ $//')" "MESSAGE JSON types"
}

labels() {
	local id cid n
	id=$(new_id)
	cid=${id:0:12}
	run_ok run --root "$ROOT" --log-driver journald --id "$id" --log-label TEAM=core \
		--log-label ENV_2=prod --log-label 'NOTE=a b=c' -- sh -c 'echo one; echo two >&2'
	journald_wait_count 2 10 -- CONTAINER_ID="$cid" || true
	entries "$cid" >"$T/j.json"
	assert_eq 2 "$(wc -l <"$T/j.json")" "number of entries"
	n=$(jq -c 'select(.TEAM == "core" and .ENV_2 == "prod" and .NOTE == "a b=c")' "$T/j.json" | wc -l)
	assert_eq 2 "$n" "entries carrying TEAM=core, ENV_2=prod and NOTE='a b=c'"
	# and journalctl can select by the label
	assert_eq 2 "$(jctl CONTAINER_ID="$cid" TEAM=core -o cat | wc -l)" "entries matching TEAM=core"
}

bad_labels() {
	local l
	for l in team=x _X=1 X '=v' 'A-B=1' 'ÄB=1'; do
		rm -f "$T/marker"
		run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --log-driver journald \
			--log-label "$l" -- touch "$T/marker"
		assert_eq 125 "$RC" "exit status for --log-label '$l'"
		assert_eq 1 "$(wc -l <"$T/err")" "stderr lines for --log-label '$l'"
		assert_match 'log-label' "$(cat "$T/err")" "message for '$l'"
		[ ! -e "$T/marker" ] || fail "the command ran despite --log-label '$l'"
	done
}

# journald silently drops a field whose name starts with a digit or is longer
# than 64 characters, so such keys must be refused up front
labels_journald_would_drop() {
	local l
	for l in 1ABC=x "$(printf 'K%.0s' $(seq 65))=v"; do
		rm -f "$T/marker"
		run_ctrlog "$T/out" "$T/err" run --root "$ROOT" --log-driver journald \
			--log-label "$l" -- touch "$T/marker"
		assert_eq 125 "$RC" "exit status for --log-label '${l:0:20}...'"
		assert_eq 1 "$(wc -l <"$T/err")" "stderr lines for --log-label '${l:0:20}...'"
		[ ! -e "$T/marker" ] || fail "the command ran despite --log-label '${l:0:20}...'"
	done
	# the longest valid key works
	run_ok run --root "$ROOT" --log-driver journald --id maxkey \
		--log-label "$(printf 'K%.0s' $(seq 64))=v" -- echo x
	journald_wait_count 1 10 -- CONTAINER_ID=maxkey || true
	assert_eq v "$(entries maxkey | jq -r --arg k "$(printf 'K%.0s' $(seq 64))" '.[$k]')" "64-character key"
}

journald_and_k8s_file() {
	local id cid log
	id=$(new_id)
	cid=${id:0:12}
	run_ok run --root "$ROOT" --log-driver journald --log-driver k8s-file --id "$id" --name both \
		-- sh -c 'i=1; while [ $i -le 5000 ]; do echo "o $i"; [ $((i % 100)) -ne 0 ] || echo "e $i" >&2; i=$((i + 1)); done'
	journald_wait_count 5050 20 -- CONTAINER_ID="$cid" || true
	log=$ROOT/$id/ctr.log
	assert_eq 5050 "$(wc -l <"$log")" "k8s-file records"
	awk '$2 == "stdout" { print substr($0, 41) }' "$log" >"$T/k8s.out"
	awk '$2 == "stderr" { print substr($0, 41) }' "$log" >"$T/k8s.err"
	seq 1 5000 | sed 's/^/o /' | cmp -s - "$T/k8s.out" || fail "k8s-file stdout records incomplete or out of order"
	seq 100 100 5000 | sed 's/^/e /' | cmp -s - "$T/k8s.err" || fail "k8s-file stderr records incomplete"
	entries "$cid" >"$T/j.json"
	assert_eq 5050 "$(wc -l <"$T/j.json")" "journal entries"
	jq -r 'select(.PRIORITY == "6") | .MESSAGE' "$T/j.json" | cmp -s "$T/k8s.out" - ||
		fail "journal stdout entries differ from the k8s-file records"
	jq -r 'select(.PRIORITY == "3") | .MESSAGE' "$T/j.json" | cmp -s "$T/k8s.err" - ||
		fail "journal stderr entries differ from the k8s-file records"
}

unfinished_last_line() {
	# output without a final newline: one entry, no partial fields
	local id cid
	id=$(new_id)
	cid=${id:0:12}
	run_ok run --root "$ROOT" --log-driver journald --id "$id" -- printf 'first\nno newline'
	journald_wait_count 2 10 -- CONTAINER_ID="$cid" || true
	assert_eq "first|-,no newline|-," \
		"$(entries "$cid" | jq -r '"\(.MESSAGE)|\(.CONTAINER_PARTIAL_ID // "-")"' | tr '\n' ',')" \
		"messages and partial IDs"
}

check "10,000 stdout + 100 stderr lines: all entries, in order, with DESIGN.md's fields" ten_thousand_lines
check "SYSLOG_IDENTIFIER: tag, else name, else short ID" identifier_fallbacks
check "40,000- and 20,000-byte lines: partial fields rebuild them exactly" long_lines
check "binary and invalid UTF-8 content arrives byte-exact" binary_content
check "--log-label KEY=VALUE adds the field" labels
check "a bad --log-label key: one line, status 125, nothing started" bad_labels
check "label keys journald would drop (leading digit, > 64 characters) are refused" labels_journald_would_drop
check "journald and k8s-file at once: both complete and equal" journald_and_k8s_file
check "a last line without newline is one entry" unfinished_last_line
finish

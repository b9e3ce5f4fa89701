#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's install-and-link path, exactly as written: `meson install -C build && ldconfig`
# (default prefix and libdir), then `cc minimal-monitor.c $(pkg-config --cflags --libs ctrlog)`
# with no PKG_CONFIG_PATH, rpath or LD_LIBRARY_PATH, and the program runs; static linking with
# `pkg-config --static`; ctrlog lands on PATH. It installs into /usr/local and /etc as seen
# from a private mount namespace (overlays whose upper layers are in $T): the host's own
# /usr/local and /etc are never written.
set -euo pipefail
: "${CTRLOG_BUILD_DIR:?the meson build directory}"
if [[ -z ${CTRLOG_INSTALL_NS:-} ]]; then
	[[ $(id -u) -eq 0 ]] || { echo "1..0 # SKIP installing needs root"; exit 77; }
	unshare -m --propagation private true 2>/dev/null ||
		{ echo "1..0 # SKIP unshare -m is not permitted here"; exit 77; }
	CTRLOG_INSTALL_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

# overlay DIR : DIR is writable here, its changes kept in $T
overlay() {
	local name=${1//\//_}
	mkdir -p "$T/ov/$name.up" "$T/ov/$name.work"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$T/ov/$name.up,workdir=$T/ov/$name.work" "$1"
}

option() {
	meson introspect --buildoptions "$CTRLOG_BUILD_DIR" |
		python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]][0])' "$1"
}

t_install_and_link() {
	overlay /etc || fail "cannot mount an overlay on /etc"
	mkdir -p /usr/local
	overlay /usr/local || fail "cannot mount an overlay on /usr/local"
	meson install -C "$CTRLOG_BUILD_DIR" --no-rebuild >"$T/install.log" 2>&1 ||
		fail "meson install failed: $(tail -n 3 "$T/install.log")"
	ldconfig || fail "ldconfig failed"
	assert_eq /usr/local/bin/ctrlog "$(command -v ctrlog)" "ctrlog on PATH"
	# pkg-config finds ctrlog.pc where meson put it, with its default search path.
	pkg-config --exists ctrlog ||
		fail "pkg-config finds no ctrlog.pc (installed: $(find /usr/local -name ctrlog.pc))"
	[ -f "$(pkg-config --variable=includedir ctrlog)/ctrlog/ctrlog.h" ] || fail "header not installed"
	# A library built with sanitizers needs a program built with them too; otherwise the
	# README's command is used as it is.
	local san libdir cflags=()
	san=$(option b_sanitize)
	[ "$san" = none ] || cflags=("-fsanitize=$san")
	cc "${cflags[@]}" "$SRC/examples/minimal-monitor.c" $(pkg-config --cflags --libs ctrlog) \
		-o "$T/monitor-shared" 2>"$T/cc.err" || fail "cc failed: $(head -n 3 "$T/cc.err")"
	"$T/monitor-shared" "$T/shared.log" sh -c 'echo hello; echo oops >&2; printf tail' ||
		fail "the monitor linked against the installed library did not run"
	assert_eq "stdout F hello|stderr F oops|stdout F tail" \
		"$(cut -c32- "$T/shared.log" | paste -sd '|')" "log written through the shared library"
	# Static: every library libctrlog.a needs comes from `pkg-config --static`.
	libdir=$(pkg-config --variable=libdir ctrlog)
	cc "${cflags[@]}" "$SRC/examples/minimal-monitor.c" $(pkg-config --cflags ctrlog) \
		"$libdir/libctrlog.a" $(pkg-config --libs --static ctrlog | sed 's/-lctrlog//') \
		-o "$T/monitor-static" 2>"$T/cc.err" || fail "static link failed: $(head -n 3 "$T/cc.err")"
	"$T/monitor-static" "$T/static.log" sh -c 'exit 3' || [ $? = 3 ] || fail "exit status not passed"
	# Only the public API is exported from the shared library.
	local lib
	lib=$(readlink -f "$libdir/libctrlog.so")
	[ -z "$(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 !~ /^ctrlog_/' | head -n 1)" ] ||
		fail "symbols outside the ctrlog_ prefix are exported"
	[ -z "$(nm -D --defined-only "$lib" | awk '$3 ~ /^ctrlog_(framer|fileset|zst|k8s|setreader)/' | head -n 1)" ] ||
		fail "internal symbols are exported"
}

check "meson install && ldconfig; cc \$(pkg-config --cflags --libs ctrlog) links and runs; --static too" t_install_and_link
finish

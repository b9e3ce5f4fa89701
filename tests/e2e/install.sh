#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meson install` works and the installed library is usable as a monitor would use it: the
# example monitor builds against the installed header and ctrlog.pc (shared, then static) and
# logs a real command.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${CTRLOG_BUILD_DIR:?the meson build directory}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

t_install_and_link() {
	local dest=$T/dest prefix pcdir
	meson install -C "$CTRLOG_BUILD_DIR" --destdir "$dest" --no-rebuild > "$T/install.log" 2>&1 ||
		fail "meson install failed: $(tail -n 3 "$T/install.log")"
	meson introspect --buildoptions "$CTRLOG_BUILD_DIR" > "$T/options.json"
	option() { python3 -c 'import json,sys; print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == sys.argv[2]][0])' "$T/options.json" "$1"; }
	prefix=$(option prefix)
	# A library built with sanitizers needs a program built with them too.
	local san
	san=$(option b_sanitize)
	CFLAGS=""
	[ "$san" = none ] || CFLAGS="-fsanitize=$san"
	pcdir=$(dirname "$(find "$dest" -name ctrlog.pc | head -n 1)")
	[ -f "$pcdir/ctrlog.pc" ] || fail "ctrlog.pc not installed"
	[ -f "$dest$prefix/include/ctrlog/ctrlog.h" ] || fail "header not installed"
	[ -x "$dest$prefix/bin/ctrlog" ] || fail "ctrlog not installed"
	# pkg-config's sysroot makes the installed .pc point into the destdir.
	export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
	cc $CFLAGS "$SRC/examples/minimal-monitor.c" $(pkg-config --cflags --libs ctrlog) \
		-Wl,-rpath,"$(pkg-config --variable=libdir ctrlog)" -o "$T/monitor-shared"
	"$T/monitor-shared" "$T/shared.log" sh -c 'echo hello; echo oops >&2; printf tail'
	assert_eq "stdout F hello|stderr F oops|stdout F tail" \
		"$(cut -c32- "$T/shared.log" | paste -sd '|')" "log written through the shared library"
	cc $CFLAGS "$SRC/examples/minimal-monitor.c" $(pkg-config --cflags ctrlog) \
		"$(pkg-config --variable=libdir ctrlog)/libctrlog.a" $(pkg-config --libs --static ctrlog | sed 's/-lctrlog//') \
		-lpthread -o "$T/monitor-static"
	"$T/monitor-static" "$T/static.log" sh -c 'exit 3' || [ $? = 3 ] || fail "exit status not passed"
	# Only the public API is exported from the shared library.
	local lib
	lib=$(find "$dest" -name 'libctrlog.so.*.*' | head -n 1)
	[ -z "$(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 !~ /^ctrlog_/' | head -n 1)" ] ||
		fail "symbols outside the ctrlog_ prefix are exported"
	[ -z "$(nm -D --defined-only "$lib" | awk '$3 ~ /^ctrlog_(framer|fileset|zst|k8s|setreader)/' | head -n 1)" ] ||
		fail "internal symbols are exported"
}

check "meson install; a monitor builds against ctrlog.pc (shared and static) and logs" t_install_and_link
finish

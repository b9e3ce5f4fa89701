#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages ctrlog needs to build, test and benchmark, if missing.
# Sourced by demo.sh and test.sh; safe to run on its own.
set -euo pipefail

# dpkg-dev: without dpkg-architecture meson installs into lib64, where neither pkg-config nor
# the dynamic linker looks on Debian.
ctrlog_packages=(
	gcc libc6-dev dpkg-dev pkg-config meson ninja-build
	libzstd-dev libsystemd-dev libcmocka-dev
	zstd systemd util-linux procps jq python3
)

ctrlog_install_deps() {
	local missing=() p
	for p in "${ctrlog_packages[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	if [[ $(id -u) -ne 0 ]]; then
		echo "ctrlog: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	echo "ctrlog: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	ctrlog_install_deps "$@"
fi

# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the quick-start scripts: install what the build needs (Debian 12),
# and configure and build uccid out of tree in $BUILD (default ./build).

# Debian packages the build and the test suite need.
UCCID_BUILD_DEPS="build-essential autoconf automake libtool pkg-config check libsubunit-dev libpcsclite-dev \
libusb-1.0-0-dev python3 usbip tshark pcscd pcsc-tools opensc"

# Install the packages that are missing; as root directly, otherwise with sudo.
uccid_install_deps() {
	missing=""
	for p in $UCCID_BUILD_DEPS "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
			|| missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	echo "uccid: installing Debian packages:$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	# tshark asks whether non-root users may capture: no (we only read files)
	echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

# Configure (once) and build in $BUILD with extra configure arguments "$@".
uccid_build() {
	top=$(cd "$(dirname "$0")/.." && pwd)
	BUILD=${BUILD:-$top/build}
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
		(cd "$top" && autoreconf -fi)
	fi
	mkdir -p "$BUILD"
	if [ ! -f "$BUILD/Makefile" ]; then
		(cd "$BUILD" && "$top/configure" "$@")
	fi
	make -C "$BUILD" -j"$(nproc)"
}

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The libusb transport under a real kernel USB stack: boots Debian's kernel
# under QEMU with QEMU's usb-ccid reader and emulated card on an xHCI bus
# (tests/hil/run-ccid.sh) and runs guest/transport-libusb.sh, which drives
# uccid-vreader through vhci-hcd and then QEMU's reader with
# transport-libusb-check.  Skips (exit 77) only where QEMU or the Debian
# kernel is missing, and fails instead when HIL_REQUIRED=1 (CI, which
# installs them).  VREADER and TRANSPORT_CHECK override the binaries;
# HIL_HC=uhci or ehci puts QEMU's reader behind another host controller.
set -u
skip() {
	echo "SKIP: $*"
	[ "${HIL_REQUIRED:-0}" = 1 ] && { echo "FAIL: HIL_REQUIRED=1 and the QEMU tier cannot run"; exit 1; }
	exit 77
}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=$(cd "${top_builddir:-.}" && pwd)
export HIL_WORK=${HIL_WORK:-$top_builddir/hil-work}

for tool in qemu-system-x86_64 usbip lsusb busybox cpio certutil; do
	command -v $tool >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	if ! command -v $tool >/dev/null 2>&1; then
		skip "$tool is not installed (see tests/hil/README.md)"
	fi
done
if ! ls /boot/vmlinuz-* >/dev/null 2>&1; then
	skip "no Debian kernel in /boot (see tests/hil/README.md)"
fi
VREADER=${VREADER:-$top_builddir/vreader/uccid-vreader}
CHECK=${TRANSPORT_CHECK:-$top_builddir/tests/hil/transport-libusb-check}
for b in "$VREADER" "$CHECK"; do
	[ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }
done
mkdir -p "$HIL_WORK/out"
rm -f "$HIL_WORK"/out/*
cat > "$HIL_WORK/out/config.sh" <<EOC
VREADER='$VREADER'
CHECK='$CHECK'
VREADER_ARGS='${VREADER_ARGS:-}'
EOC
start=$(date +%s)
HIL_TIMEOUT=${HIL_TIMEOUT:-600} "$top_srcdir/tests/hil/run-ccid.sh" "${HIL_HC:-xhci}" "$top_srcdir/tests/hil/guest/transport-libusb.sh" \
	> "$HIL_WORK/out/console.log" 2>&1
rc=$?
echo "== guest finished in $(( $(date +%s) - start ))s, exit $rc; logs in $HIL_WORK/out"
cat "$HIL_WORK/out/summary.txt" 2>/dev/null || tail -50 "$HIL_WORK/out/console.log"
[ $rc -eq 0 ] || tail -40 "$HIL_WORK/out/console.log"
exit $rc

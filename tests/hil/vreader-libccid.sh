#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The virtual reader under a real kernel USB stack: boots Debian's kernel
# under QEMU (tests/hil/run-guest.sh) and runs guest/vreader-libccid.sh for
# every profile: usbip attach through vhci-hcd, lsusb -v, pcscd + libccid,
# opensc-tool, pcsc-session.  Skips (exit 77) only where QEMU or the
# Debian kernel is missing, and fails instead when HIL_REQUIRED=1 (CI, which
# installs them).
set -u
skip() {
	echo "SKIP: $*"
	[ "${HIL_REQUIRED:-0}" = 1 ] && { echo "FAIL: HIL_REQUIRED=1 and the QEMU tier cannot run"; exit 1; }
	exit 77
}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=$(cd "${top_builddir:-.}" && pwd)
PROFILES=${PROFILES:-"tpdu-t0 tpdu-t1 short-apdu extended-apdu multi-slot mechanical"}
export HIL_WORK=${HIL_WORK:-$top_builddir/hil-work}

for tool in qemu-system-x86_64 usbip pcscd opensc-tool lsusb busybox cpio; do
	command -v $tool >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	if ! command -v $tool >/dev/null 2>&1; then
		skip "$tool is not installed (see tests/hil/README.md)"
	fi
done
if ! ls /boot/vmlinuz-* >/dev/null 2>&1 || [ ! -d /usr/lib/pcsc/drivers/ifd-ccid.bundle ]; then
	skip "no Debian kernel in /boot or no libccid (see tests/hil/README.md)"
fi
VREADER=$top_builddir/vreader/uccid-vreader
PCSC_SESSION=$top_builddir/tests/hil/pcsc-session
for b in "$VREADER" "$PCSC_SESSION"; do
	[ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }
done
mkdir -p "$HIL_WORK/out"
rm -f "$HIL_WORK"/out/*
cat > "$HIL_WORK/out/config.sh" <<EOC
VREADER='$VREADER'
PCSC_SESSION='$PCSC_SESSION'
PROFILES='$PROFILES'
EOC
start=$(date +%s)
HIL_TIMEOUT=${HIL_TIMEOUT:-600} "$top_srcdir/tests/hil/run-guest.sh" "$top_srcdir/tests/hil/guest/vreader-libccid.sh" \
	> "$HIL_WORK/out/console.log" 2>&1
rc=$?
echo "== guest finished in $(( $(date +%s) - start ))s, exit $rc; logs in $HIL_WORK/out"
cat "$HIL_WORK/out/summary.txt" 2>/dev/null || tail -50 "$HIL_WORK/out/console.log"
[ $rc -eq 0 ] || tail -40 "$HIL_WORK/out/console.log"
exit $rc

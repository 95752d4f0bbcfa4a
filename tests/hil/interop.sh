#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The interop matrix and the side by side with libccid, in one guest boot:
# installs the build into $HIL_WORK/inst (make install DESTDIR=...), boots
# Debian's kernel under QEMU with QEMU's usb-ccid reader and emulated CAC
# card (tests/hil/run-ccid.sh), runs guest/interop.sh there, and writes the
# filled table, the benchmark and the fault comparison to $INTEROP_MD
# (default: docs/interop.md in the source tree when it is writable, else
# $HIL_WORK/interop.md).  Skips (exit 77) only where QEMU, the Debian kernel,
# pcscd or libccid is missing, and fails instead when HIL_REQUIRED=1 (CI).
# PHASES (libccid bundle direct idle bench faults hotplug usbipd) limits what runs.
set -u
skip() {
	echo "SKIP: $*"
	[ "${HIL_REQUIRED:-0}" = 1 ] && { echo "FAIL: HIL_REQUIRED=1 and the QEMU tier cannot run"; exit 1; }
	exit 77
}
top_srcdir=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
export HIL_WORK=${HIL_WORK:-$top_builddir/hil-work}

for tool in qemu-system-x86_64 usbip pcscd opensc-tool lsusb busybox cpio certutil python3 bc; do
	command -v $tool >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v $tool >/dev/null 2>&1 || skip "$tool is not installed (see tests/hil/README.md)"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no Debian kernel in /boot (see tests/hil/README.md)"
[ -d /usr/lib/pcsc/drivers/ifd-ccid.bundle ] || skip "no libccid in /usr/lib/pcsc/drivers (see tests/hil/README.md)"
VREADER=$top_builddir/vreader/uccid-vreader
PCSC_SESSION=$top_builddir/tests/hil/pcsc-session
PCSC_CLIENT=$top_builddir/tests/ifd/pcsc-client
UCCID=$top_builddir/tool/uccid
for b in "$VREADER" "$PCSC_SESSION" "$PCSC_CLIENT" "$UCCID"; do
	[ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }
done

# The bundle as make install lays it out, found where pkg-config says pcscd looks.
inst=$HIL_WORK/inst
rm -rf "$inst"
mkdir -p "$HIL_WORK"
make -C "$top_builddir" install DESTDIR="$inst" > "$HIL_WORK/install.log" 2>&1 \
	|| { echo "FAIL: make install DESTDIR=$inst"; tail -20 "$HIL_WORK/install.log"; exit 1; }
BUNDLE=$(find "$inst" -type d -name ifd-uccid.bundle | head -1)
[ -n "$BUNDLE" ] && [ -f "$BUNDLE/Contents/Info.plist" ] || { echo "FAIL: make install put no ifd-uccid.bundle in $inst"; exit 1; }

mkdir -p "$HIL_WORK/out"
rm -f "$HIL_WORK"/out/*
cat > "$HIL_WORK/out/config.sh" <<EOC
VREADER='$VREADER'
PCSC_SESSION='$PCSC_SESSION'
PCSC_CLIENT='$PCSC_CLIENT'
UCCID='$UCCID'
VRCTL='$top_srcdir/vreader/vrctl.py'
BUNDLE='$BUNDLE'
HIL_SRC='$top_srcdir/tests/hil'
PHASES='${PHASES:-libccid bundle direct idle bench faults hotplug usbipd}'
BENCH_COUNT='${BENCH_COUNT:-300}'
EOC
start=$(date +%s)
HIL_MEM=${HIL_MEM:-1024} HIL_TIMEOUT=${HIL_TIMEOUT:-2400} "$top_srcdir/tests/hil/run-ccid.sh" "${HIL_HC:-xhci}" \
	"$top_srcdir/tests/hil/guest/interop.sh" > "$HIL_WORK/out/console.log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
echo "== guest finished in ${secs}s, exit $rc; logs in $HIL_WORK/out"
if [ ! -s "$HIL_WORK/out/results.txt" ]; then
	tail -40 "$HIL_WORK/out/console.log"
	exit 1
fi

md=${INTEROP_MD:-}
if [ -z "$md" ]; then
	md=$HIL_WORK/interop.md
	[ -w "$top_srcdir/docs/interop.md" ] || [ -w "$top_srcdir/docs" ] && md=$top_srcdir/docs/interop.md
fi
python3 "$top_srcdir/tests/hil/interop-report.py" "$HIL_WORK/out" "$secs" > "$md.tmp" && mv "$md.tmp" "$md"
echo "== $md"
sed -n '/^## The matrix/,/^## Details/p' "$md" | head -20
# uccid's rows decide; libccid's failures are documented in the table
grep -v '^libccid' "$HIL_WORK/out/results.txt" | grep -P '\tFAIL\t' && rc=1
grep '^libccid' "$HIL_WORK/out/results.txt" | grep -P '\tFAIL\t' | sed 's/^/reference driver, documented: /' 
[ $rc -eq 0 ] || tail -30 "$HIL_WORK/out/console.log"
exit $rc

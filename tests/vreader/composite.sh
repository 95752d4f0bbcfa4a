#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Composite readers over USB/IP, as a client sees them: uccid-vreader
# --descriptor with dumps whose CCID interface is not interface 0 (Kobil
# IDToken: interface 4 only; Broadcom 5880: interfaces 1 and 2), and
# MySmartPad (a vendor-class interface 1 whose descriptor offers no
# protocol).  Debian's usbip lists every interface, the inert HID ones in the
# gaps included; uccid finds the CCID interface and its endpoints over
# USB/IP, exchanges an APDU on it, and refuses MySmartPad naming the field.
# ACS ACR1251 Dual has two CCID interfaces, its PIN pad on the second: a
# name reaches the first, usbip://HOST/BUSID/1 the second.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
data=$top_srcdir/tests/data/readers
tmp=$(mktemp -d "${TMPDIR:-/tmp}/composite.XXXXXX")
pid= passes=0 fails=0
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tool/lib.sh"

${VALGRIND:-} "$top_builddir/vreader/uccid-vreader" --port 0 -d "$data/Kobil_IDToken.txt" \
	-d "$data/Broadcom_5880v4.txt" -d "$data/MySmartPad.txt" -d "$data/ACS_ACR1251_Dual_Reader.txt" \
	> "$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || { cat "$tmp/vr.out"; exit 1; }
url=usbip://127.0.0.1:$port

# the CCID interface at 4, behind four HID interfaces; at 1 behind one
for bus in 1-1 1-2; do
	run 0 -r "$url/$bus" --trace apdu 80100000 && has out "9000" && has err "PC_to_RDR_XfrBlock"
done
# the descriptor's fault, named with its value, at open
run 1 -r "$url/1-3" atr && has err "dwProtocols 00000300 offers neither T=0 nor T=1 (CCID §5.1)"
# the interface by its number: the PICC interface has no PIN pad, the contact one has
run 0 -r "$url/1-4" info && has out "no PIN pad"
run 0 -r "$url/1-4/1" info && has out "PIN verification" && has out "PIN modification"
run 0 -r "$url/1-4/1" apdu 80100000 && has out "9000"
run 1 -r "$url/1-4/2" atr && has err "interface 2 of 1-4 is not a CCID interface"
# the listing says where a name reaches only the first of several
run 0 list "$url" && has out "072f:221a  CCID reader, 2 CCID interfaces (1-4/INTERFACE: the one of that number)"

usbip=$(command -v usbip 2>/dev/null || { [ -x /usr/sbin/usbip ] && echo /usr/sbin/usbip; } || true)
if [ -n "$usbip" ]; then
	timeout 30 "$usbip" --tcp-port "$port" list -r 127.0.0.1 > "$tmp/list" 2>&1
	for i in 0 1 2 3; do has list ":  $i - Human Interface Device / No Subclass / None (03/00/00)"; done
	has list ":  4 - Chip/SmartCard"
	has list ":  1 - Vendor Specific Class"
else
	echo "usbip is not installed: the listing is not checked"
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]

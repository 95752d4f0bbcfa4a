#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The uccid tool against character-level virtual readers over USB/IP: the
# char-t0 profile (T=0 procedure bytes and PPS done by the host), the
# Winbond reader's descriptor (T=1 blocks framed by the host, 138-byte
# messages) and char-t0 with a card that sends NULL bytes and ACKs each data
# byte: info, atr, and APDUs of every case, a 256-byte read included.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/../..}
UCCID=${UCCID:-$top_builddir/tool/uccid}
VREADER=$top_builddir/vreader/uccid-vreader
DATA=${UCCID_TEST_DATA:-$top_srcdir/tests/data}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/uccid-charlevel.XXXXXX")
pid=
passes=0
fails=0
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tool/lib.sh"

"$VREADER" --port 0 --profile char-t0 --descriptor "$DATA/readers/Winbond.txt" \
	--t0-nulls 2 --t0-ack-each --profile char-t0 >"$tmp/vr.out" 2>&1 &
pid=$!
vreader_wait "$pid" "$tmp/vr.out" || exit 1

for R in "usbip://127.0.0.1:$port/1-1" "usbip://127.0.0.1:$port/1-2" "usbip://127.0.0.1:$port/1-3"; do
	run 0 -r "$R" info && has out "character level"
	run 0 -r "$R" atr && has out "3B"
	# case 3, case 1, case 3 with the PIN, case 2, case 4 (61xx and GET RESPONSE), 256 bytes
	run 0 -r "$R" apdu 00A4040C07F0756363696401 00200080 "00 20 00 80 06 31 32 33 34 35 36" 0084000008 \
		00A4040007F075636369640100 00A4020C020101 00B0010000 &&
		has out "9000  success" && has out "63C3" && has out "> 00 B0 01 00 00"
	n=$(grep -c "9000  success" "$tmp/out")
	if [ "$n" = 6 ]; then passes=$((passes + 1)); else
		echo "FAIL: $R: $n APDUs of 6 answered 9000"; sed 's/^/  | /' "$tmp/out" | head -30; fails=$((fails + 1)); fi
done

echo "charlevel.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Quick start, part one: install what is missing, build everything, start
# the bundled virtual reader (uccid-vreader, over USB/IP on 127.0.0.1) and
# run a whole uccid session against it: list, info, atr, APDUs with a
# VERIFY, and a reset that loses the PIN state.  Ends with the codec's
# explanation of a real card's ATR.
set -eu
. "$(dirname "$0")/common.sh"
uccid_install_deps
uccid_build
uccid="$BUILD/tool/uccid"
vreader="$BUILD/vreader/uccid-vreader"
tmp=$(mktemp -d)
"$vreader" --port 0 --profile tpdu-t1 >"$tmp/vreader.out" 2>&1 &
vr=$!
trap 'kill $vr 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
until port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/vreader.out") && [ -n "$port" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/vreader.out"; exit 1; }
	sleep 0.1
done
reader="usbip://127.0.0.1:$port/1-1"
cat > "$tmp/session.apdu" <<'EOS'
# select the virtual card's application, verify the PIN, read the EF
00 A4 04 0C 07 F0 75 63 63 69 64 01
00 20 00 80 06 31 32 33 34 35 36
00 20 00 80
00 A4 02 0C 02 01 01
00 B0 00 00 10
# an ECHO of 255 bytes through T=1 chaining
80 10 00 00 FF
# a warm reset clears the security state: VERIFY without data now says 63C3
reset
00 20 00 80
EOS
set -x
"$uccid" list "usbip://127.0.0.1:$port"
"$uccid" -r "$reader" info
"$uccid" -r "$reader" atr
"$uccid" -r "$reader" apdu -f "$tmp/session.apdu"
"$uccid" -r "$reader" status
# The ATR of QEMU's emulated CAC card, explained by the same codec.
"$uccid" decode atr 3B 7A 18 00 00 73 66 74 65 20 63 64 31 34 34

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# SCardTransmit round trips per second through pcscd + uccid's IFD handler
# against uccid-vreader over USB/IP, next to uccid's direct API (uccid
# bench) on the same reader, printed as a ratio.  pcscd runs in a private
# mount namespace as in tests/ifd/pcscd.sh.  Usage: ifd-bench.sh [ROUNDS]
set -eu
rounds=${1:-2000}
top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd)
so=$top_builddir/.libs/libifd-uccid.so
[ -f "$so" ] || { echo "ifd-bench: no shared libifd-uccid.so, skipped"; exit 0; }
command -v pcscd >/dev/null || { echo "ifd-bench: no pcscd, skipped"; exit 0; }
if [ -z "${UCCID_IFD_NS:-}" ]; then
	unshare -m --propagation private true 2>/dev/null || { echo "ifd-bench: no mount namespace, skipped"; exit 0; }
	UCCID_IFD_NS=1 exec unshare -m --propagation private "$SHELL" "$0" "$@"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ifd-bench.XXXXXX")
vr= pc=
trap '[ -n "$pc" ] && kill $pc; [ -n "$vr" ] && kill $vr; wait; rm -rf "$tmp"' EXIT
mkdir -p /run/pcscd "$tmp/b/ifd-uccid.bundle/Contents/Linux" "$tmp/conf" "$tmp/drop"
mount -t tmpfs tmpfs /run/pcscd
[ -d /usr/lib/pcsc/drivers ] && mount --bind "$tmp/drop" /usr/lib/pcsc/drivers
cp "$so" "$tmp/b/ifd-uccid.bundle/Contents/Linux/"
cp "$top_builddir/ifd/Info.plist" "$tmp/b/ifd-uccid.bundle/Contents/"
"$top_builddir/vreader/uccid-vreader" --port 0 --profile short-apdu > "$tmp/vr.out" 2>&1 &
vr=$!
until grep -q '^listening' "$tmp/vr.out"; do sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/vr.out")
url=usbip://127.0.0.1:$port/1-1
# the direct API first, while nobody else has the reader open
"$top_builddir/tool/uccid" -r "$url" bench --rounds "$rounds" --apdu 801000000401020304 > "$tmp/direct" 2>&1
printf 'FRIENDLYNAME "uccid bench"\nDEVICENAME %s\nLIBPATH %s\n' "$url" \
	"$tmp/b/ifd-uccid.bundle/Contents/Linux/libifd-uccid.so" > "$tmp/conf/uccid"
pcscd -f -c "$tmp/conf" > "$tmp/pcscd.log" 2>&1 &
pc=$!
i=0
until timeout 5 opensc-tool -l 2>/dev/null | grep -q 'uccid bench'; do
	i=$((i + 1)); [ $i -gt 50 ] && { echo "ifd-bench: pcscd did not list the reader"; exit 1; }
	sleep 0.2
done
"$top_builddir/tests/ifd/pcsc-client" bench "uccid bench" "$rounds" > "$tmp/pcsc"
cat "$tmp/direct"
grep round "$tmp/pcsc"
direct=$(awk '$2 == "uccid" { print $3; exit }' "$tmp/direct")
viapcsc=$(sed -n 's/.*: \([0-9.]*\) round trips\/s/\1/p' "$tmp/pcsc")
if [ -n "$direct" ] && [ -n "$viapcsc" ]; then
	awk -v d="$direct" -v p="$viapcsc" 'BEGIN { printf "ifd-bench: pcscd+uccid / uccid direct = %.2f (%.0f vs %.0f round trips/s)\n", p / d, p, d }'
fi
